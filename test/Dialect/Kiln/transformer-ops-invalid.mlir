// RUN: kiln-opt %s -split-input-file -verify-diagnostics

// One case per rule of the transformer ops' verifiers (KilnTransformerOps.cpp) and of their
// ODS constraints and traits.

//===----------------------------------------------------------------------===//
// kiln.attention: attributes
//===----------------------------------------------------------------------===//

func.func @attention_heads_zero(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{heads, kv_heads and head_dim must be positive, got 0, 2, 32}}
  %o = kiln.attention %q, %k, %v heads 0 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_kv_heads_negative(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                       %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{heads, kv_heads and head_dim must be positive, got 4, -2, 32}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads -2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_head_dim_zero(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                   %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{heads, kv_heads and head_dim must be positive, got 4, 2, 0}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 0 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_heads_not_multiple(%q: tensor<1x4x8x32xf32>, %k: tensor<1x3x8x32xf32>,
                                        %v: tensor<1x3x8x32xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of kv_heads (3)}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 3 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x3x8x32xf32>, tensor<1x3x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_scale_negative(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                    %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{scale must be positive and finite, got -1.250000e-01}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale -0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_scale_nan(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                               %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{scale must be positive and finite, got nan}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0x7FC00000
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_scale_infinite(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                    %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{scale must be positive and finite, got INF}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0x7F800000
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_softcap_negative(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                      %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{softcap must be non-negative and finite (0 = none), got -3.000000e+01}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125 softcap -30.0
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_softcap_infinite(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                      %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{softcap must be non-negative and finite (0 = none), got INF}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125 softcap 0x7F800000
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// kiln.attention: ranks
//===----------------------------------------------------------------------===//

// -----

func.func @attention_query_rank(%q: tensor<4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{query must be [batch, heads, seq, head_dim], got 'tensor<4x8x32xf32>'}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_key_rank(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32x1xf32>,
                              %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{key must be [batch, heads, seq, head_dim], got 'tensor<1x2x8x32x1xf32>'}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32x1xf32>, tensor<1x2x8x32xf32>
      -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_value_rank(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                %v: tensor<16x32xf32>) {
  // expected-error @+1 {{value must be [batch, heads, seq, head_dim], got 'tensor<16x32xf32>'}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<16x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_result_rank(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                 %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{result must be [batch, heads, seq, head_dim], got 'tensor<1x8x128xf32>'}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x8x128xf32>
  return
}

//===----------------------------------------------------------------------===//
// kiln.attention: dims
//===----------------------------------------------------------------------===//

// -----

func.func @attention_query_heads(%q: tensor<1x8x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                 %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{query dim 1 (heads) is 8, expected 4}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x8x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_query_head_dim(%q: tensor<1x4x8x64xf32>, %k: tensor<1x2x8x32xf32>,
                                    %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{query dim 3 (head_dim) is 64, expected 32}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x64xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_key_batch(%q: tensor<2x4x8x32xf32>, %k: tensor<3x2x8x32xf32>,
                               %v: tensor<2x2x8x32xf32>) {
  // expected-error @+1 {{key dim 0 (batch) is 3, expected 2}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<2x4x8x32xf32>, tensor<3x2x8x32xf32>, tensor<2x2x8x32xf32> -> tensor<2x4x8x32xf32>
  return
}

// -----

// The K/V are not repeated per query head: key at the query's head count is wrong for GQA.
func.func @attention_key_kv_heads(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>,
                                  %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{key dim 1 (kv_heads) is 4, expected 2}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_key_head_dim(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x16xf32>,
                                  %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{key dim 3 (head_dim) is 16, expected 32}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_value_batch(%q: tensor<2x4x8x32xf32>, %k: tensor<2x2x8x32xf32>,
                                 %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{value dim 0 (batch) is 1, expected 2}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<2x4x8x32xf32>, tensor<2x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<2x4x8x32xf32>
  return
}

// -----

// With a dynamic query batch, the static batches of key and value must still agree.
func.func @attention_batch_dynamic_query(%q: tensor<?x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                         %v: tensor<2x2x8x32xf32>) {
  // expected-error @+1 {{value dim 0 (batch) is 2, expected 1}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<?x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<2x2x8x32xf32> -> tensor<?x4x8x32xf32>
  return
}

// -----

func.func @attention_value_kv_heads(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                    %v: tensor<1x1x8x32xf32>) {
  // expected-error @+1 {{value dim 1 (kv_heads) is 1, expected 2}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x1x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_value_kv_len(%q: tensor<1x4x1x32xf32>, %k: tensor<1x2x40x32xf32>,
                                  %v: tensor<1x2x41x32xf32>) {
  // expected-error @+1 {{value dim 2 (kv_len) is 41, expected 40}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x1x32xf32>, tensor<1x2x40x32xf32>, tensor<1x2x41x32xf32> -> tensor<1x4x1x32xf32>
  return
}

// -----

func.func @attention_result_batch(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                  %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{result dim 0 (batch) is 2, expected 1}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<2x4x8x32xf32>
  return
}

// -----

func.func @attention_result_heads(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                  %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{result dim 1 (heads) is 2, expected 4}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x2x8x32xf32>
  return
}

// -----

// Decode: the result has the query's length, not the cache's.
func.func @attention_result_q_len(%q: tensor<1x4x1x32xf32>, %k: tensor<1x2x40x32xf32>,
                                  %v: tensor<1x2x40x32xf32>) {
  // expected-error @+1 {{result dim 2 (q_len) is 40, expected 1}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x1x32xf32>, tensor<1x2x40x32xf32>, tensor<1x2x40x32xf32>
      -> tensor<1x4x40x32xf32>
  return
}

// -----

// The result's last dim is the value's head dim, not the query's.
func.func @attention_result_v_head_dim(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                       %v: tensor<1x2x8x48xf32>) {
  // expected-error @+1 {{result dim 3 (v_head_dim) is 32, expected 48}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x48xf32> -> tensor<1x4x8x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// kiln.attention: mask
//===----------------------------------------------------------------------===//

// -----

func.func @attention_mask_rank(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                               %v: tensor<1x2x8x32xf32>, %m: tensor<1x1x1x8x8xi1>) {
  // expected-error @+1 {{mask must have rank <= 4, got 'tensor<1x1x1x8x8xi1>'}}
  %o = kiln.attention %q, %k, %v mask(%m : tensor<1x1x1x8x8xi1>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

// A mask of [q_len, q_len] where kv_len differs (decode with a cache).
func.func @attention_mask_kv_len(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x40x32xf32>,
                                 %v: tensor<1x2x40x32xf32>, %m: tensor<8x8xf32>) {
  // expected-error @+1 {{mask 'tensor<8x8xf32>' does not broadcast to the scores [batch, heads, q_len, kv_len] = [1, 4, 8, 40]}}
  %o = kiln.attention %q, %k, %v mask(%m : tensor<8x8xf32>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x40x32xf32>, tensor<1x2x40x32xf32>
      -> tensor<1x4x8x32xf32>
  return
}

// -----

// A per-kv-head mask does not broadcast to the query heads; dynamic dims print as `?`.
func.func @attention_mask_heads(%q: tensor<?x4x?x32xf32>, %k: tensor<?x2x?x32xf32>,
                                %v: tensor<?x2x?x32xf32>, %m: tensor<1x2x1x1xi1>) {
  // expected-error @+1 {{mask 'tensor<1x2x1x1xi1>' does not broadcast to the scores [batch, heads, q_len, kv_len] = [?, 4, ?, ?]}}
  %o = kiln.attention %q, %k, %v mask(%m : tensor<1x2x1x1xi1>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<?x4x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
      -> tensor<?x4x?x32xf32>
  return
}

// -----

// An integer mask is neither additive nor boolean.
func.func @attention_mask_element_type(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                       %v: tensor<1x2x8x32xf32>, %m: tensor<8x8xi32>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float or 1-bit signless integer values, but got 'tensor<8x8xi32>'}}
  %o = kiln.attention %q, %k, %v mask(%m : tensor<8x8xi32>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_mask_unranked(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf32>,
                                   %v: tensor<1x2x8x32xf32>, %m: tensor<*xi1>) {
  // expected-error @+1 {{operand #3 must be ranked tensor of}}
  %o = "kiln.attention"(%q, %k, %v, %m) <{head_dim = 32 : i64, num_heads = 4 : i64,
      num_kv_heads = 2 : i64, scale = 1.250000e-01 : f32}>
      : (tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32>, tensor<*xi1>)
      -> tensor<1x4x8x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// kiln.attention: traits and type constraints
//===----------------------------------------------------------------------===//

// -----

func.func @attention_key_element_type(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x8x32xf16>,
                                      %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{failed to verify that all of {query, key, value, output} have same element type}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf16>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_value_element_type(%q: tensor<1x4x8x32xbf16>, %k: tensor<1x2x8x32xbf16>,
                                        %v: tensor<1x2x8x32xf16>) {
  // expected-error @+1 {{failed to verify that all of {query, key, value, output} have same element type}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xbf16>, tensor<1x2x8x32xbf16>, tensor<1x2x8x32xf16>
      -> tensor<1x4x8x32xbf16>
  return
}

// -----

func.func @attention_result_element_type(%q: tensor<1x4x8x32xf16>, %k: tensor<1x2x8x32xf16>,
                                         %v: tensor<1x2x8x32xf16>) {
  // expected-error @+1 {{failed to verify that all of {query, key, value, output} have same element type}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xf16>, tensor<1x2x8x32xf16>, tensor<1x2x8x32xf16> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_unranked_query(%q: tensor<*xf32>, %k: tensor<1x2x8x32xf32>,
                                    %v: tensor<1x2x8x32xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<*xf32>'}}
  %o = "kiln.attention"(%q, %k, %v) <{head_dim = 32 : i64, num_heads = 4 : i64,
      num_kv_heads = 2 : i64, scale = 1.250000e-01 : f32}>
      : (tensor<*xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32>) -> tensor<1x4x8x32xf32>
  return
}

// -----

// The custom form only parses ranked tensor types.
func.func @attention_unranked_custom(%q: tensor<*xf32>, %k: tensor<1x2x8x32xf32>,
                                     %v: tensor<1x2x8x32xf32>) {
  // expected-error @+2 {{invalid kind of type specified: expected builtin.tensor, but found 'tensor<*xf32>'}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<*xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return
}

// -----

func.func @attention_integer_query(%q: tensor<1x4x8x32xi8>, %k: tensor<1x2x8x32xi8>,
                                   %v: tensor<1x2x8x32xi8>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<1x4x8x32xi8>'}}
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.125
      : tensor<1x4x8x32xi8>, tensor<1x2x8x32xi8>, tensor<1x2x8x32xi8> -> tensor<1x4x8x32xi8>
  return
}

//===----------------------------------------------------------------------===//
// kiln.linear
//===----------------------------------------------------------------------===//

// -----

func.func @linear_weight_rank(%x: tensor<4x128xf32>, %w: tensor<512x128x1xf32>) {
  // expected-error @+1 {{weight must be [out_features, in_features], got 'tensor<512x128x1xf32>'}}
  %y = kiln.linear %x, %w : tensor<4x128xf32>, tensor<512x128x1xf32> -> tensor<4x512xf32>
  return
}

// -----

func.func @linear_input_rank_zero(%x: tensor<f32>, %w: tensor<512x128xf32>) {
  // expected-error @+1 {{input must have rank >= 1, got 'tensor<f32>'}}
  %y = kiln.linear %x, %w : tensor<f32>, tensor<512x128xf32> -> tensor<f32>
  return
}

// -----

func.func @linear_result_rank(%x: tensor<1x4x128xf32>, %w: tensor<512x128xf32>) {
  // expected-error @+1 {{result rank 2 must equal the input rank 3}}
  %y = kiln.linear %x, %w : tensor<1x4x128xf32>, tensor<512x128xf32> -> tensor<4x512xf32>
  return
}

// -----

func.func @linear_in_features(%x: tensor<4x64xf32>, %w: tensor<512x128xf32>) {
  // expected-error @+1 {{input dim 1 (in_features) is 64, expected 128}}
  %y = kiln.linear %x, %w : tensor<4x64xf32>, tensor<512x128xf32> -> tensor<4x512xf32>
  return
}

// -----

// A weight in [in_features, out_features] (transposed) layout.
func.func @linear_transposed_weight(%x: tensor<1x32x128xf32>, %w: tensor<128x512xf32>) {
  // expected-error @+1 {{input dim 2 (in_features) is 128, expected 512}}
  %y = kiln.linear %x, %w : tensor<1x32x128xf32>, tensor<128x512xf32> -> tensor<1x32x512xf32>
  return
}

// -----

func.func @linear_out_features(%x: tensor<1x32x128xf32>, %w: tensor<512x128xf32>) {
  // expected-error @+1 {{result dim 2 (out_features) is 256, expected 512}}
  %y = kiln.linear %x, %w : tensor<1x32x128xf32>, tensor<512x128xf32> -> tensor<1x32x256xf32>
  return
}

// -----

func.func @linear_leading_dim(%x: tensor<1x32x128xf32>, %w: tensor<512x128xf32>) {
  // expected-error @+1 {{result dim 1 (leading) is 16, expected 32}}
  %y = kiln.linear %x, %w : tensor<1x32x128xf32>, tensor<512x128xf32> -> tensor<1x16x512xf32>
  return
}

// -----

func.func @linear_bias_size(%x: tensor<4x128xf32>, %w: tensor<512x128xf32>,
                            %b: tensor<128xf32>) {
  // expected-error @+1 {{bias must be [512], got 'tensor<128xf32>'}}
  %y = kiln.linear %x, %w bias(%b : tensor<128xf32>)
      : tensor<4x128xf32>, tensor<512x128xf32> -> tensor<4x512xf32>
  return
}

// -----

// A bias of rank 2, against a dynamic out_features (printed `?`).
func.func @linear_bias_rank(%x: tensor<4x128xf32>, %w: tensor<?x128xf32>,
                            %b: tensor<1x512xf32>) {
  // expected-error @+1 {{bias must be [?], got 'tensor<1x512xf32>'}}
  %y = kiln.linear %x, %w bias(%b : tensor<1x512xf32>)
      : tensor<4x128xf32>, tensor<?x128xf32> -> tensor<4x?xf32>
  return
}

// -----

func.func @linear_bias_element_type(%x: tensor<4x128xf32>, %w: tensor<512x128xf32>,
                                    %b: tensor<512xf16>) {
  // expected-error @+1 {{bias element type must match the result's}}
  %y = kiln.linear %x, %w bias(%b : tensor<512xf16>)
      : tensor<4x128xf32>, tensor<512x128xf32> -> tensor<4x512xf32>
  return
}

// -----

func.func @linear_residual_shape(%x: tensor<4x128xf32>, %w: tensor<512x128xf32>,
                                 %r: tensor<4x128xf32>) {
  // expected-error @+1 {{residual 'tensor<4x128xf32>' must have the result type 'tensor<4x512xf32>'}}
  %y = kiln.linear %x, %w residual(%r : tensor<4x128xf32>)
      : tensor<4x128xf32>, tensor<512x128xf32> -> tensor<4x512xf32>
  return
}

// -----

// The residual is not broadcast: it has the result's shape, rank included.
func.func @linear_residual_rank(%x: tensor<1x4x128xf32>, %w: tensor<512x128xf32>,
                                %r: tensor<512xf32>) {
  // expected-error @+1 {{residual 'tensor<512xf32>' must have the result type 'tensor<1x4x512xf32>'}}
  %y = kiln.linear %x, %w residual(%r : tensor<512xf32>)
      : tensor<1x4x128xf32>, tensor<512x128xf32> -> tensor<1x4x512xf32>
  return
}

// -----

func.func @linear_residual_element_type(%x: tensor<4x128xbf16>, %w: tensor<512x128xbf16>,
                                        %r: tensor<4x512xf32>) {
  // expected-error @+1 {{residual 'tensor<4x512xf32>' must have the result type 'tensor<4x512xbf16>'}}
  %y = kiln.linear %x, %w residual(%r : tensor<4x512xf32>)
      : tensor<4x128xbf16>, tensor<512x128xbf16> -> tensor<4x512xbf16>
  return
}

// -----

func.func @linear_weight_element_type(%x: tensor<4x128xf32>, %w: tensor<512x128xf16>) {
  // expected-error @+1 {{weight element type 'f16' must match the input's 'f32'}}
  %y = kiln.linear %x, %w : tensor<4x128xf32>, tensor<512x128xf16> -> tensor<4x512xf32>
  return
}

// -----

func.func @linear_result_element_type(%x: tensor<4x128xf16>, %w: tensor<512x128xf16>) {
  // expected-error @+1 {{failed to verify that all of {input, output} have same element type}}
  %y = kiln.linear %x, %w : tensor<4x128xf16>, tensor<512x128xf16> -> tensor<4x512xf32>
  return
}

// -----

func.func @linear_unranked_input(%x: tensor<*xf32>, %w: tensor<512x128xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<*xf32>'}}
  %y = "kiln.linear"(%x, %w) <{operandSegmentSizes = array<i32: 1, 1, 0, 0>}>
      : (tensor<*xf32>, tensor<512x128xf32>) -> tensor<4x512xf32>
  return
}

// -----

func.func @linear_unknown_activation(%x: tensor<4x128xf32>, %w: tensor<512x128xf32>) {
  // expected-error @+2 {{expected ::kiln::Activation to be one of: none, relu, gelu_tanh, gelu_erf, silu}}
  // expected-error @+1 {{failed to parse Kiln_ActivationAttr parameter 'value'}}
  %y = kiln.linear %x, %w act gelu : tensor<4x128xf32>, tensor<512x128xf32> -> tensor<4x512xf32>
  return
}

//===----------------------------------------------------------------------===//
// kiln.layer_norm, kiln.rms_norm
//===----------------------------------------------------------------------===//

// -----

func.func @layer_norm_eps_zero(%x: tensor<4x128xf32>, %g: tensor<128xf32>,
                               %b: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op eps must be positive and finite, got 0}}
  %y = kiln.layer_norm %x, %g, %b eps 0.0 : tensor<4x128xf32>, tensor<128xf32>, tensor<128xf32>
  return
}

// -----

func.func @rms_norm_eps_negative(%x: tensor<4x128xf32>, %g: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.rms_norm' op eps must be positive and finite, got -1.000000e-07}}
  %y = kiln.rms_norm %x, %g eps -1.0e-07 : tensor<4x128xf32>, tensor<128xf32>
  return
}

// -----

func.func @rms_norm_eps_infinite(%x: tensor<4x128xf32>, %g: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.rms_norm' op eps must be positive and finite, got INF}}
  %y = kiln.rms_norm %x, %g eps 0x7F800000 : tensor<4x128xf32>, tensor<128xf32>
  return
}

// -----

func.func @rms_norm_input_rank_zero(%x: tensor<f32>, %g: tensor<1xf32>) {
  // expected-error @+1 {{'kiln.rms_norm' op input must have rank >= 1}}
  %y = kiln.rms_norm %x, %g eps 1.0e-06 : tensor<f32>, tensor<1xf32>
  return
}

// -----

func.func @layer_norm_scale_size(%x: tensor<4x128xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op scale must be [128], got 'tensor<4xf32>'}}
  %y = kiln.layer_norm %x, %g eps 1.0e-05 : tensor<4x128xf32>, tensor<4xf32>
  return
}

// -----

// A scale over the whole input is not a per-feature scale; dynamic features print as `?`.
func.func @rms_norm_scale_rank(%x: tensor<4x?xf32>, %g: tensor<4x128xf32>) {
  // expected-error @+1 {{'kiln.rms_norm' op scale must be [?], got 'tensor<4x128xf32>'}}
  %y = kiln.rms_norm %x, %g eps 1.0e-05 : tensor<4x?xf32>, tensor<4x128xf32>
  return
}

// -----

func.func @layer_norm_bias_size(%x: tensor<4x128xf32>, %g: tensor<128xf32>,
                                %b: tensor<64xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op bias must be [128], got 'tensor<64xf32>'}}
  %y = kiln.layer_norm %x, %g, %b eps 1.0e-05 : tensor<4x128xf32>, tensor<128xf32>, tensor<64xf32>
  return
}

// -----

func.func @layer_norm_bias_element_type(%x: tensor<4x128xf16>, %g: tensor<128xf16>,
                                        %b: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op bias element type must match the input's}}
  %y = kiln.layer_norm %x, %g, %b eps 1.0e-05 : tensor<4x128xf16>, tensor<128xf16>, tensor<128xf32>
  return
}

// -----

func.func @layer_norm_scale_element_type(%x: tensor<4x128xf16>, %g: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op failed to verify that all of {input, scale} have same element type}}
  %y = kiln.layer_norm %x, %g eps 1.0e-05 : tensor<4x128xf16>, tensor<128xf32>
  return
}

// -----

func.func @rms_norm_scale_element_type(%x: tensor<4x128xbf16>, %g: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.rms_norm' op failed to verify that all of {input, scale} have same element type}}
  %y = kiln.rms_norm %x, %g eps 1.0e-05 : tensor<4x128xbf16>, tensor<128xf32>
  return
}

// -----

func.func @layer_norm_result_type(%x: tensor<4x128xf32>, %g: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.layer_norm' op failed to verify that all of {input, output} have same type}}
  %y = "kiln.layer_norm"(%x, %g) <{epsilon = 1.0e-05 : f32}>
      : (tensor<4x128xf32>, tensor<128xf32>) -> tensor<4x?xf32>
  return
}

// -----

func.func @rms_norm_result_type(%x: tensor<4x128xf32>, %g: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.rms_norm' op failed to verify that all of {input, output} have same type}}
  %y = "kiln.rms_norm"(%x, %g) <{epsilon = 1.0e-05 : f32}>
      : (tensor<4x128xf32>, tensor<128xf32>) -> tensor<4x128xf16>
  return
}

// -----

func.func @rms_norm_unranked(%x: tensor<*xf32>, %g: tensor<128xf32>) {
  // expected-error @+1 {{'kiln.rms_norm' op operand #0 must be ranked tensor of}}
  %y = "kiln.rms_norm"(%x, %g) <{epsilon = 1.0e-05 : f32}>
      : (tensor<*xf32>, tensor<128xf32>) -> tensor<*xf32>
  return
}

//===----------------------------------------------------------------------===//
// kiln.rotary
//===----------------------------------------------------------------------===//

// -----

func.func @rotary_input_rank(%x: tensor<4x32x64xf32>, %cos: tensor<32x32xf32>) {
  // expected-error @+1 {{input must be [batch, heads, seq, head_dim], got 'tensor<4x32x64xf32>'}}
  %y = kiln.rotary %x, %cos, %cos half dim 64 : tensor<4x32x64xf32>, tensor<32x32xf32>
  return
}

// -----

func.func @rotary_dim_odd(%x: tensor<1x4x32x64xf32>, %cos: tensor<32x15xf32>) {
  // expected-error @+1 {{dim must be positive and even, got 31}}
  %y = kiln.rotary %x, %cos, %cos half dim 31 : tensor<1x4x32x64xf32>, tensor<32x15xf32>
  return
}

// -----

func.func @rotary_dim_zero(%x: tensor<1x4x32x64xf32>, %cos: tensor<32x0xf32>) {
  // expected-error @+1 {{dim must be positive and even, got 0}}
  %y = kiln.rotary %x, %cos, %cos interleaved dim 0 : tensor<1x4x32x64xf32>, tensor<32x0xf32>
  return
}

// -----

func.func @rotary_dim_exceeds_head_dim(%x: tensor<1x4x32x32xf32>, %cos: tensor<32x32xf32>) {
  // expected-error @+1 {{dim 64 exceeds head_dim 32}}
  %y = kiln.rotary %x, %cos, %cos half dim 64 : tensor<1x4x32x32xf32>, tensor<32x32xf32>
  return
}

// -----

func.func @rotary_cos_rank(%x: tensor<1x4x32x64xf32>, %cos: tensor<32xf32>) {
  // expected-error @+1 {{cos/sin must be [seq, dim/2] or [batch, seq, dim/2], got 'tensor<32xf32>'}}
  %y = kiln.rotary %x, %cos, %cos half dim 64 : tensor<1x4x32x64xf32>, tensor<32xf32>
  return
}

// -----

// cos/sin of one angle per dim rather than one per rotated pair.
func.func @rotary_cos_half_dim(%x: tensor<1x4x32x64xf32>, %cos: tensor<32x64xf32>) {
  // expected-error @+1 {{cos dim 1 (dim/2) is 64, expected 32}}
  %y = kiln.rotary %x, %cos, %cos half dim 64 : tensor<1x4x32x64xf32>, tensor<32x64xf32>
  return
}

// -----

func.func @rotary_cos_seq(%x: tensor<1x4x32x64xf32>, %cos: tensor<16x32xf32>) {
  // expected-error @+1 {{cos dim 0 (seq) is 16, expected 32}}
  %y = kiln.rotary %x, %cos, %cos half dim 64 : tensor<1x4x32x64xf32>, tensor<16x32xf32>
  return
}

// -----

func.func @rotary_cos_seq_rank3(%x: tensor<2x4x32x64xf32>, %cos: tensor<2x16x32xf32>) {
  // expected-error @+1 {{cos dim 1 (seq) is 16, expected 32}}
  %y = kiln.rotary %x, %cos, %cos half dim 64 : tensor<2x4x32x64xf32>, tensor<2x16x32xf32>
  return
}

// -----

func.func @rotary_cos_batch(%x: tensor<4x8x16x64xf32>, %cos: tensor<2x16x32xf32>) {
  // expected-error @+1 {{cos dim 0 (batch) is 2, expected 4}}
  %y = kiln.rotary %x, %cos, %cos interleaved dim 64 : tensor<4x8x16x64xf32>, tensor<2x16x32xf32>
  return
}

// -----

func.func @rotary_cos_element_type(%x: tensor<1x4x32x64xf32>, %cos: tensor<32x32xf16>) {
  // expected-error @+1 {{failed to verify that all of {input, cos} have same element type}}
  %y = kiln.rotary %x, %cos, %cos half dim 64 : tensor<1x4x32x64xf32>, tensor<32x32xf16>
  return
}

// -----

func.func @rotary_sin_type(%x: tensor<1x4x32x64xf32>, %cos: tensor<32x32xf32>,
                           %sin: tensor<1x32x32xf32>) {
  // expected-error @+1 {{failed to verify that all of {cos, sin} have same type}}
  %y = "kiln.rotary"(%x, %cos, %sin) <{rotary_dim = 64 : i64, style = #kiln<rotary_style half>}>
      : (tensor<1x4x32x64xf32>, tensor<32x32xf32>, tensor<1x32x32xf32>) -> tensor<1x4x32x64xf32>
  return
}

// -----

func.func @rotary_result_type(%x: tensor<1x4x32x64xf32>, %cos: tensor<32x32xf32>) {
  // expected-error @+1 {{failed to verify that all of {input, output} have same type}}
  %y = "kiln.rotary"(%x, %cos, %cos) <{rotary_dim = 64 : i64, style = #kiln<rotary_style half>}>
      : (tensor<1x4x32x64xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<1x32x4x64xf32>
  return
}

// -----

func.func @rotary_unknown_style(%x: tensor<1x4x32x64xf32>, %cos: tensor<32x32xf32>) {
  // expected-error @+2 {{expected ::kiln::RotaryStyle to be one of: half, interleaved}}
  // expected-error @+1 {{failed to parse Kiln_RotaryStyleAttr parameter 'value'}}
  %y = kiln.rotary %x, %cos, %cos neox dim 64 : tensor<1x4x32x64xf32>, tensor<32x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// kiln.gelu, kiln.silu, kiln.swiglu
//===----------------------------------------------------------------------===//

// -----

func.func @gelu_result_type(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.gelu' op requires the same type for all operands and results}}
  %y = "kiln.gelu"(%x) : (tensor<4x8xf32>) -> tensor<4x8xf16>
  return
}

// -----

func.func @gelu_unknown_approximation(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{expected ::kiln::GeluApproximation to be one of: none, tanh}}
  // expected-error @+1 {{failed to parse Kiln_GeluApproximationAttr parameter 'value'}}
  %y = kiln.gelu %x approximate erf : tensor<4x8xf32>
  return
}

// -----

func.func @silu_result_type(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'kiln.silu' op requires the same type for all operands and results}}
  %y = "kiln.silu"(%x) : (tensor<4x8xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @silu_integer(%x: tensor<4x8xi32>) {
  // expected-error @+1 {{'kiln.silu' op operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values, but got 'tensor<4x8xi32>'}}
  %y = kiln.silu %x : tensor<4x8xi32>
  return
}

// -----

func.func @swiglu_operand_types(%gate: tensor<4x344xf32>, %up: tensor<4x172xf32>) {
  // expected-error @+1 {{'kiln.swiglu' op requires the same type for all operands and results}}
  %h = "kiln.swiglu"(%gate, %up) : (tensor<4x344xf32>, tensor<4x172xf32>) -> tensor<4x344xf32>
  return
}

// -----

func.func @swiglu_unranked(%gate: tensor<*xf32>, %up: tensor<*xf32>) {
  // expected-error @+1 {{'kiln.swiglu' op operand #0 must be ranked tensor of}}
  %h = "kiln.swiglu"(%gate, %up) : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  return
}

// -----

func.func @attention_causal_more_queries_than_keys(%q: tensor<1x4x8x32xf32>, %kv: tensor<1x2x4x32xf32>) {
  // expected-error @+1 {{causal attention needs q_len <= kv_len, got q_len 8 and kv_len 4}}
  %o = kiln.attention %q, %kv, %kv heads 4 kv_heads 2 head_dim 32 scale 0.17677669 causal : tensor<1x4x8x32xf32>, tensor<1x2x4x32xf32>, tensor<1x2x4x32xf32> -> tensor<1x4x8x32xf32>
  return
}
