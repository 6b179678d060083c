// RUN: kiln-opt %s -split-input-file | kiln-opt -split-input-file | FileCheck %s
// RUN: kiln-opt %s -split-input-file -mlir-print-op-generic | kiln-opt -split-input-file | FileCheck %s

// Round trip of the fused transformer ops: every op and every optional part of its syntax,
// printed in the custom form and re-parsed, and printed generically and re-parsed.

//===----------------------------------------------------------------------===//
// kiln.attention
//===----------------------------------------------------------------------===//

// Multi-head attention: as many K/V heads as query heads, no mask, softcap elided.
// CHECK-LABEL: func.func @attention_mha
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} heads 8 kv_heads 8 head_dim 64 scale 1.250000e-01 : tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32> -> tensor<2x8x16x64xf32>
func.func @attention_mha(%q: tensor<2x8x16x64xf32>, %k: tensor<2x8x16x64xf32>,
                         %v: tensor<2x8x16x64xf32>) -> tensor<2x8x16x64xf32> {
  %o = kiln.attention %q, %k, %v heads 8 kv_heads 8 head_dim 64 scale 0.125
      : tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32>, tensor<2x8x16x64xf32>
      -> tensor<2x8x16x64xf32>
  return %o : tensor<2x8x16x64xf32>
}

// -----

// Grouped-query attention, 4 query heads over 2 K/V heads, with every optional part: an
// additive mask, causal and softcap.
// CHECK-LABEL: func.func @attention_gqa_all_options
// CHECK: kiln.attention %arg0, %arg1, %arg2 mask(%arg3 : tensor<1x1x32x32xf32>) heads 4 kv_heads 2 head_dim 32 scale 0.176776692 causal softcap 3.000000e+01 : tensor<1x4x32x32xf32>, tensor<1x2x32x32xf32>, tensor<1x2x32x32xf32> -> tensor<1x4x32x32xf32>
func.func @attention_gqa_all_options(%q: tensor<1x4x32x32xf32>, %k: tensor<1x2x32x32xf32>,
                                     %v: tensor<1x2x32x32xf32>, %m: tensor<1x1x32x32xf32>)
    -> tensor<1x4x32x32xf32> {
  %o = kiln.attention %q, %k, %v mask(%m : tensor<1x1x32x32xf32>) heads 4 kv_heads 2
      head_dim 32 scale 0.17677669 causal softcap 30.0
      : tensor<1x4x32x32xf32>, tensor<1x2x32x32xf32>, tensor<1x2x32x32xf32>
      -> tensor<1x4x32x32xf32>
  return %o : tensor<1x4x32x32xf32>
}

// -----

// Multi-query attention (one K/V head), causal only.
// CHECK-LABEL: func.func @attention_mqa_causal
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} heads 8 kv_heads 1 head_dim 64 scale 1.250000e-01 causal : tensor<1x8x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16> -> tensor<1x8x16x64xf16>
func.func @attention_mqa_causal(%q: tensor<1x8x16x64xf16>, %k: tensor<1x1x16x64xf16>,
                                %v: tensor<1x1x16x64xf16>) -> tensor<1x8x16x64xf16> {
  %o = kiln.attention %q, %k, %v heads 8 kv_heads 1 head_dim 64 scale 0.125 causal
      : tensor<1x8x16x64xf16>, tensor<1x1x16x64xf16>, tensor<1x1x16x64xf16>
      -> tensor<1x8x16x64xf16>
  return %o : tensor<1x8x16x64xf16>
}

// -----

// Softcap without causal; an explicit softcap of 0 (the default, "none") is elided.
// CHECK-LABEL: func.func @attention_softcap
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} heads 2 kv_heads 2 head_dim 16 scale 2.500000e-01 softcap 5.000000e+01 : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16> -> tensor<1x2x8x16xbf16>
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} heads 2 kv_heads 2 head_dim 16 scale 2.500000e-01 : tensor<1x2x8x16xbf16>
func.func @attention_softcap(%q: tensor<1x2x8x16xbf16>, %k: tensor<1x2x8x16xbf16>,
                             %v: tensor<1x2x8x16xbf16>)
    -> (tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>) {
  %o = kiln.attention %q, %k, %v heads 2 kv_heads 2 head_dim 16 scale 0.25 softcap 50.0
      : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>
      -> tensor<1x2x8x16xbf16>
  %p = kiln.attention %q, %k, %v heads 2 kv_heads 2 head_dim 16 scale 0.25 softcap 0.0
      : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>
      -> tensor<1x2x8x16xbf16>
  return %o, %p : tensor<1x2x8x16xbf16>, tensor<1x2x8x16xbf16>
}

// -----

// Boolean masks of every rank from 0 to 4, broadcast to [batch, heads, q_len, kv_len].
// CHECK-LABEL: func.func @attention_bool_masks
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<2x4x16x16xi1>) heads 4 kv_heads 2
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<4x1x16xi1>) heads 4 kv_heads 2
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<16x16xi1>) heads 4 kv_heads 2
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<16xi1>) heads 4 kv_heads 2
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<i1>) heads 4 kv_heads 2
func.func @attention_bool_masks(%q: tensor<2x4x16x32xf32>, %k: tensor<2x2x16x32xf32>,
                                %v: tensor<2x2x16x32xf32>, %m4: tensor<2x4x16x16xi1>,
                                %m3: tensor<4x1x16xi1>, %m2: tensor<16x16xi1>,
                                %m1: tensor<16xi1>, %m0: tensor<i1>) {
  %0 = kiln.attention %q, %k, %v mask(%m4 : tensor<2x4x16x16xi1>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<2x4x16x32xf32>, tensor<2x2x16x32xf32>, tensor<2x2x16x32xf32>
      -> tensor<2x4x16x32xf32>
  %1 = kiln.attention %q, %k, %v mask(%m3 : tensor<4x1x16xi1>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<2x4x16x32xf32>, tensor<2x2x16x32xf32>, tensor<2x2x16x32xf32>
      -> tensor<2x4x16x32xf32>
  %2 = kiln.attention %q, %k, %v mask(%m2 : tensor<16x16xi1>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<2x4x16x32xf32>, tensor<2x2x16x32xf32>, tensor<2x2x16x32xf32>
      -> tensor<2x4x16x32xf32>
  %3 = kiln.attention %q, %k, %v mask(%m1 : tensor<16xi1>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<2x4x16x32xf32>, tensor<2x2x16x32xf32>, tensor<2x2x16x32xf32>
      -> tensor<2x4x16x32xf32>
  %4 = kiln.attention %q, %k, %v mask(%m0 : tensor<i1>) heads 4 kv_heads 2
      head_dim 32 scale 0.125
      : tensor<2x4x16x32xf32>, tensor<2x2x16x32xf32>, tensor<2x2x16x32xf32>
      -> tensor<2x4x16x32xf32>
  return
}

// -----

// Additive masks: a per-batch padding mask [batch, 1, 1, kv_len], and an f16 mask of
// dynamic shape.
// CHECK-LABEL: func.func @attention_additive_masks
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<2x1x1x16xf32>) heads 4 kv_heads 4 head_dim 32 scale 1.250000e-01 causal : tensor<2x4x16x32xf32>
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<?x?xf16>) heads 4 kv_heads 4
func.func @attention_additive_masks(%q: tensor<2x4x16x32xf32>, %k: tensor<2x4x16x32xf32>,
                                    %v: tensor<2x4x16x32xf32>, %pad: tensor<2x1x1x16xf32>,
                                    %dyn: tensor<?x?xf16>) {
  %0 = kiln.attention %q, %k, %v mask(%pad : tensor<2x1x1x16xf32>) heads 4 kv_heads 4
      head_dim 32 scale 0.125 causal
      : tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>
      -> tensor<2x4x16x32xf32>
  %1 = kiln.attention %q, %k, %v mask(%dyn : tensor<?x?xf16>) heads 4 kv_heads 4
      head_dim 32 scale 0.125
      : tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>
      -> tensor<2x4x16x32xf32>
  return
}

// -----

// Dynamic batch and sequence dims, with a mask whose q_len and kv_len are dynamic too.
// CHECK-LABEL: func.func @attention_dynamic_seq
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<?x1x?x?xf32>) heads 4 kv_heads 2 head_dim 64 scale 1.250000e-01 causal : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32> -> tensor<?x4x?x64xf32>
func.func @attention_dynamic_seq(%q: tensor<?x4x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                                 %v: tensor<?x2x?x64xf32>, %m: tensor<?x1x?x?xf32>)
    -> tensor<?x4x?x64xf32> {
  %o = kiln.attention %q, %k, %v mask(%m : tensor<?x1x?x?xf32>) heads 4 kv_heads 2
      head_dim 64 scale 0.125 causal
      : tensor<?x4x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
      -> tensor<?x4x?x64xf32>
  return %o : tensor<?x4x?x64xf32>
}

// -----

// Decode step: one new query against a longer (dynamic) cached K/V, and a prefill chunk with
// q_len != kv_len; the value head dim differs from the query/key head dim.
// CHECK-LABEL: func.func @attention_decode
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} heads 4 kv_heads 2 head_dim 32 scale 0.176776692 causal : tensor<1x4x1x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16> -> tensor<1x4x1x32xf16>
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} mask(%{{[a-z0-9_]+}} : tensor<1x1x8x40xi1>) heads 4 kv_heads 2 head_dim 32 scale 0.176776692 : tensor<1x4x8x32xf16>, tensor<1x2x40x32xf16>, tensor<1x2x40x48xf16> -> tensor<1x4x8x48xf16>
func.func @attention_decode(%q: tensor<1x4x1x32xf16>, %k: tensor<1x2x?x32xf16>,
                            %v: tensor<1x2x?x32xf16>, %q8: tensor<1x4x8x32xf16>,
                            %k40: tensor<1x2x40x32xf16>, %v40: tensor<1x2x40x48xf16>,
                            %m: tensor<1x1x8x40xi1>) {
  %0 = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.17677669 causal
      : tensor<1x4x1x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>
      -> tensor<1x4x1x32xf16>
  %1 = kiln.attention %q8, %k40, %v40 mask(%m : tensor<1x1x8x40xi1>) heads 4 kv_heads 2
      head_dim 32 scale 0.17677669
      : tensor<1x4x8x32xf16>, tensor<1x2x40x32xf16>, tensor<1x2x40x48xf16>
      -> tensor<1x4x8x48xf16>
  return
}

//===----------------------------------------------------------------------===//
// kiln.linear
//===----------------------------------------------------------------------===//

// -----

// Bare linear: no bias, no residual, activation `none` elided, rank-2 input.
// CHECK-LABEL: func.func @linear_plain
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : tensor<32x128xf32>, tensor<512x128xf32> -> tensor<32x512xf32>
func.func @linear_plain(%x: tensor<32x128xf32>, %w: tensor<512x128xf32>) -> tensor<32x512xf32> {
  %y = kiln.linear %x, %w : tensor<32x128xf32>, tensor<512x128xf32> -> tensor<32x512xf32>
  return %y : tensor<32x512xf32>
}

// -----

// Every optional part: bias, residual and an activation, rank-3 input.
// CHECK-LABEL: func.func @linear_all_options
// CHECK: kiln.linear %arg0, %arg1 bias(%arg2 : tensor<512xf32>) residual(%arg3 : tensor<1x32x512xf32>) act gelu_tanh : tensor<1x32x128xf32>, tensor<512x128xf32> -> tensor<1x32x512xf32>
func.func @linear_all_options(%x: tensor<1x32x128xf32>, %w: tensor<512x128xf32>,
                              %b: tensor<512xf32>, %r: tensor<1x32x512xf32>)
    -> tensor<1x32x512xf32> {
  %y = kiln.linear %x, %w bias(%b : tensor<512xf32>) residual(%r : tensor<1x32x512xf32>)
      act gelu_tanh : tensor<1x32x128xf32>, tensor<512x128xf32> -> tensor<1x32x512xf32>
  return %y : tensor<1x32x512xf32>
}

// -----

// Each activation; an explicit `act none` is elided.
// CHECK-LABEL: func.func @linear_activations
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} act relu : tensor<4x16xf32>
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} act gelu_tanh : tensor<4x16xf32>
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} act gelu_erf : tensor<4x16xf32>
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} act silu : tensor<4x16xf32>
func.func @linear_activations(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  %0 = kiln.linear %x, %w act none : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  %1 = kiln.linear %x, %w act relu : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  %2 = kiln.linear %x, %w act gelu_tanh : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  %3 = kiln.linear %x, %w act gelu_erf : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  %4 = kiln.linear %x, %w act silu : tensor<4x16xf32>, tensor<8x16xf32> -> tensor<4x8xf32>
  return
}

// -----

// Bias only, and residual only, in f16.
// CHECK-LABEL: func.func @linear_f16_bias_or_residual
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} bias(%{{[a-z0-9_]+}} : tensor<256xf16>) act relu : tensor<2x8x64xf16>, tensor<256x64xf16> -> tensor<2x8x256xf16>
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} residual(%{{[a-z0-9_]+}} : tensor<2x8x256xf16>) : tensor<2x8x64xf16>, tensor<256x64xf16> -> tensor<2x8x256xf16>
func.func @linear_f16_bias_or_residual(%x: tensor<2x8x64xf16>, %w: tensor<256x64xf16>,
                                       %b: tensor<256xf16>, %r: tensor<2x8x256xf16>) {
  %0 = kiln.linear %x, %w bias(%b : tensor<256xf16>) act relu
      : tensor<2x8x64xf16>, tensor<256x64xf16> -> tensor<2x8x256xf16>
  %1 = kiln.linear %x, %w residual(%r : tensor<2x8x256xf16>)
      : tensor<2x8x64xf16>, tensor<256x64xf16> -> tensor<2x8x256xf16>
  return
}

// -----

// bf16 with dynamic batch and sequence dims.
// CHECK-LABEL: func.func @linear_bf16_dynamic
// CHECK: kiln.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} bias(%{{[a-z0-9_]+}} : tensor<344xbf16>) act silu : tensor<?x?x128xbf16>, tensor<344x128xbf16> -> tensor<?x?x344xbf16>
func.func @linear_bf16_dynamic(%x: tensor<?x?x128xbf16>, %w: tensor<344x128xbf16>,
                               %b: tensor<344xbf16>) -> tensor<?x?x344xbf16> {
  %y = kiln.linear %x, %w bias(%b : tensor<344xbf16>) act silu
      : tensor<?x?x128xbf16>, tensor<344x128xbf16> -> tensor<?x?x344xbf16>
  return %y : tensor<?x?x344xbf16>
}

//===----------------------------------------------------------------------===//
// kiln.layer_norm, kiln.rms_norm
//===----------------------------------------------------------------------===//

// -----

// CHECK-LABEL: func.func @layer_norm_with_bias
// CHECK: kiln.layer_norm %arg0, %arg1, %arg2 eps 9.99999974E-6 : tensor<1x32x128xf32>, tensor<128xf32>, tensor<128xf32>
func.func @layer_norm_with_bias(%x: tensor<1x32x128xf32>, %g: tensor<128xf32>,
                                %b: tensor<128xf32>) -> tensor<1x32x128xf32> {
  %y = kiln.layer_norm %x, %g, %b eps 1.0e-05
      : tensor<1x32x128xf32>, tensor<128xf32>, tensor<128xf32>
  return %y : tensor<1x32x128xf32>
}

// -----

// CHECK-LABEL: func.func @layer_norm_without_bias
// CHECK: kiln.layer_norm %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} eps 9.99999997E-7 : tensor<?x768xf16>, tensor<768xf16>{{$}}
func.func @layer_norm_without_bias(%x: tensor<?x768xf16>, %g: tensor<768xf16>)
    -> tensor<?x768xf16> {
  %y = kiln.layer_norm %x, %g eps 1.0e-06 : tensor<?x768xf16>, tensor<768xf16>
  return %y : tensor<?x768xf16>
}

// -----

// CHECK-LABEL: func.func @rms_norm
// CHECK: kiln.rms_norm %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} eps 9.99999997E-7 : tensor<1x32x128xf32>, tensor<128xf32>
// CHECK: kiln.rms_norm %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} eps 9.99999974E-6 : tensor<?x?x4096xbf16>, tensor<4096xbf16>
func.func @rms_norm(%x: tensor<1x32x128xf32>, %g: tensor<128xf32>, %xb: tensor<?x?x4096xbf16>,
                    %gb: tensor<4096xbf16>) {
  %0 = kiln.rms_norm %x, %g eps 1.0e-06 : tensor<1x32x128xf32>, tensor<128xf32>
  %1 = kiln.rms_norm %xb, %gb eps 1.0e-05 : tensor<?x?x4096xbf16>, tensor<4096xbf16>
  return
}

//===----------------------------------------------------------------------===//
// kiln.rotary
//===----------------------------------------------------------------------===//

// -----

// Rotate-half over the whole head, cos/sin [seq, dim/2].
// CHECK-LABEL: func.func @rotary_half
// CHECK: kiln.rotary %arg0, %arg1, %arg2 half dim 32 : tensor<1x4x32x32xf32>, tensor<32x16xf32>
func.func @rotary_half(%x: tensor<1x4x32x32xf32>, %cos: tensor<32x16xf32>,
                       %sin: tensor<32x16xf32>) -> tensor<1x4x32x32xf32> {
  %y = kiln.rotary %x, %cos, %sin half dim 32 : tensor<1x4x32x32xf32>, tensor<32x16xf32>
  return %y : tensor<1x4x32x32xf32>
}

// -----

// Interleaved pairs, cos/sin [batch, seq, dim/2].
// CHECK-LABEL: func.func @rotary_interleaved
// CHECK: kiln.rotary %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} interleaved dim 64 : tensor<2x8x16x64xf16>, tensor<2x16x32xf16>
func.func @rotary_interleaved(%x: tensor<2x8x16x64xf16>, %cos: tensor<2x16x32xf16>,
                              %sin: tensor<2x16x32xf16>) -> tensor<2x8x16x64xf16> {
  %y = kiln.rotary %x, %cos, %sin interleaved dim 64 : tensor<2x8x16x64xf16>, tensor<2x16x32xf16>
  return %y : tensor<2x8x16x64xf16>
}

// -----

// Partial rotary (dim 32 of head_dim 128), cos/sin shared across the batch ([1, seq, dim/2]).
// CHECK-LABEL: func.func @rotary_partial
// CHECK: kiln.rotary %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} half dim 32 : tensor<4x8x16x128xbf16>, tensor<1x16x16xbf16>
func.func @rotary_partial(%x: tensor<4x8x16x128xbf16>, %cos: tensor<1x16x16xbf16>,
                          %sin: tensor<1x16x16xbf16>) -> tensor<4x8x16x128xbf16> {
  %y = kiln.rotary %x, %cos, %sin half dim 32 : tensor<4x8x16x128xbf16>, tensor<1x16x16xbf16>
  return %y : tensor<4x8x16x128xbf16>
}

// -----

// Dynamic batch, seq and head_dim.
// CHECK-LABEL: func.func @rotary_dynamic
// CHECK: kiln.rotary %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} interleaved dim 16 : tensor<?x4x?x?xf32>, tensor<?x?x8xf32>
func.func @rotary_dynamic(%x: tensor<?x4x?x?xf32>, %cos: tensor<?x?x8xf32>,
                          %sin: tensor<?x?x8xf32>) -> tensor<?x4x?x?xf32> {
  %y = kiln.rotary %x, %cos, %sin interleaved dim 16 : tensor<?x4x?x?xf32>, tensor<?x?x8xf32>
  return %y : tensor<?x4x?x?xf32>
}

//===----------------------------------------------------------------------===//
// kiln.gelu, kiln.silu, kiln.swiglu
//===----------------------------------------------------------------------===//

// -----

// Exact GELU (the default, also when spelled out) and the tanh approximation.
// CHECK-LABEL: func.func @gelu
// CHECK: kiln.gelu %{{[a-z0-9_]+}} : tensor<1x32x512xf32>
// CHECK: kiln.gelu %{{[a-z0-9_]+}} : tensor<1x32x512xf32>
// CHECK: kiln.gelu %{{[a-z0-9_]+}} approximate tanh : tensor<1x32x512xf32>
// CHECK: kiln.gelu %{{[a-z0-9_]+}} approximate tanh : tensor<?x512xbf16>
func.func @gelu(%x: tensor<1x32x512xf32>, %xb: tensor<?x512xbf16>) {
  %0 = kiln.gelu %x : tensor<1x32x512xf32>
  %1 = kiln.gelu %x approximate none : tensor<1x32x512xf32>
  %2 = kiln.gelu %x approximate tanh : tensor<1x32x512xf32>
  %3 = kiln.gelu %xb approximate tanh : tensor<?x512xbf16>
  return
}

// -----

// CHECK-LABEL: func.func @silu
// CHECK: kiln.silu %{{[a-z0-9_]+}} : tensor<1x32x344xf32>
// CHECK: kiln.silu %{{[a-z0-9_]+}} : tensor<?x?x344xf16>
func.func @silu(%x: tensor<1x32x344xf32>, %xh: tensor<?x?x344xf16>) {
  %0 = kiln.silu %x : tensor<1x32x344xf32>
  %1 = kiln.silu %xh : tensor<?x?x344xf16>
  return
}

// -----

// CHECK-LABEL: func.func @swiglu
// CHECK: %[[H:[a-z0-9_]+]] = kiln.swiglu %arg0, %arg1 : tensor<1x32x344xf32>
// CHECK: return %[[H]]
func.func @swiglu(%gate: tensor<1x32x344xf32>, %up: tensor<1x32x344xf32>)
    -> tensor<1x32x344xf32> {
  %h = kiln.swiglu %gate, %up : tensor<1x32x344xf32>
  return %h : tensor<1x32x344xf32>
}
