// RUN: kiln-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of the graph ops (lib/Dialect/Kiln/IR/KilnGraphOps.cpp), then one
// per trait or type constraint that KilnGraphOps.td puts on them.

//===----------------------------------------------------------------------===//
// Cast, Clip, Mod, Max/Min
//===----------------------------------------------------------------------===//

func.func @cast_to_mismatch(%x: tensor<1x?x768xf32>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{'to' 'f16' does not match the result element type 'f32'}}
  %0 = kiln.onnx.Cast %x {to = f16} : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @cast_saturate_flag(%x: tensor<1x?x768xf32>) -> tensor<1x?x768xf16> {
  // expected-error @+1 {{'saturate' must be 0 or 1, got 2}}
  %0 = kiln.onnx.Cast %x {to = f16, saturate = 2 : i64}
      : (tensor<1x?x768xf32>) -> tensor<1x?x768xf16>
  return %0 : tensor<1x?x768xf16>
}

// -----

func.func @clip_min_element_type(%x: tensor<1x?x768xf32>, %lo: tensor<f16>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{min must have the input's element type 'f32'}}
  %0 = kiln.onnx.Clip %x, %lo {operandSegmentSizes = array<i32: 1, 1, 0>}
      : (tensor<1x?x768xf32>, tensor<f16>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @clip_max_rank(%x: tensor<1x?x768xf32>, %hi: tensor<1xf32>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{max must have rank 0, got 'tensor<1xf32>'}}
  %0 = kiln.onnx.Clip %x, %hi {operandSegmentSizes = array<i32: 1, 0, 1>}
      : (tensor<1x?x768xf32>, tensor<1xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @clip_result_element_type(%x: tensor<1x?x768xf32>) -> tensor<1x?x768xf16> {
  // expected-error @+1 {{result must have the input's element type 'f32'}}
  %0 = kiln.onnx.Clip %x {operandSegmentSizes = array<i32: 1, 0, 0>}
      : (tensor<1x?x768xf32>) -> tensor<1x?x768xf16>
  return %0 : tensor<1x?x768xf16>
}

// -----

func.func @mod_fmod_flag(%a: tensor<?xi64>, %b: tensor<i64>) -> tensor<?xi64> {
  // expected-error @+1 {{'fmod' must be 0 or 1, got 3}}
  %0 = kiln.onnx.Mod %a, %b {fmod = 3 : i64} : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

func.func @mod_float_without_fmod(%a: tensor<?xf32>, %b: tensor<f32>) -> tensor<?xf32> {
  // expected-error @+1 {{floating-point operands require 'fmod' = 1}}
  %0 = kiln.onnx.Mod %a, %b : (tensor<?xf32>, tensor<f32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// Max/Min's own "requires at least one input" is preceded by the traits' operand count check.
func.func @min_no_inputs() -> tensor<f32> {
  // expected-error @+1 {{expected 1 or more operands, but found 0}}
  %0 = kiln.onnx.Min : () -> tensor<f32>
  return %0 : tensor<f32>
}

//===----------------------------------------------------------------------===//
// MatMul, Gemm, Einsum
//===----------------------------------------------------------------------===//

// -----

func.func @matmul_scalar_operand(%a: tensor<f32>, %b: tensor<768x2304xf32>) -> tensor<2304xf32> {
  // expected-error @+1 {{operands must have rank >= 1}}
  %0 = kiln.onnx.MatMul %a, %b : (tensor<f32>, tensor<768x2304xf32>) -> tensor<2304xf32>
  return %0 : tensor<2304xf32>
}

// -----

func.func @matmul_contraction(%a: tensor<1x?x768xf32>, %b: tensor<1024x2304xf32>)
    -> tensor<1x?x2304xf32> {
  // expected-error @+1 {{contraction dims differ: 768 (of 'tensor<1x?x768xf32>') vs 1024}}
  %0 = kiln.onnx.MatMul %a, %b
      : (tensor<1x?x768xf32>, tensor<1024x2304xf32>) -> tensor<1x?x2304xf32>
  return %0 : tensor<1x?x2304xf32>
}

// -----

func.func @matmul_result_rank(%a: tensor<1x?x768xf32>, %b: tensor<768xf32>) -> tensor<1x?x1xf32> {
  // expected-error @+1 {{result must have rank 2, got 'tensor<1x?x1xf32>'}}
  %0 = kiln.onnx.MatMul %a, %b : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x1xf32>
  return %0 : tensor<1x?x1xf32>
}

// -----

func.func @matmul_result_dims(%a: tensor<1x?x768xf32>, %b: tensor<768x2304xf32>)
    -> tensor<1x?x768xf32> {
  // expected-error @+1 {{result 'tensor<1x?x768xf32>' does not end in [?, 2304]}}
  %0 = kiln.onnx.MatMul %a, %b : (tensor<1x?x768xf32>, tensor<768x2304xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @gemm_transa_flag(%a: tensor<?x768xf32>, %b: tensor<768x3072xf32>) -> tensor<?x3072xf32> {
  // expected-error @+1 {{'transA' must be 0 or 1, got 2}}
  %0 = kiln.onnx.Gemm %a, %b {transA = 2 : i64}
      : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x3072xf32>
  return %0 : tensor<?x3072xf32>
}

// -----

func.func @gemm_transb_flag(%a: tensor<?x768xf32>, %b: tensor<768x3072xf32>) -> tensor<?x3072xf32> {
  // expected-error @+1 {{'transB' must be 0 or 1, got -1}}
  %0 = kiln.onnx.Gemm %a, %b {transB = -1 : i64}
      : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x3072xf32>
  return %0 : tensor<?x3072xf32>
}

// -----

func.func @gemm_a_rank(%a: tensor<1x?x768xf32>, %b: tensor<768x3072xf32>) -> tensor<?x3072xf32> {
  // expected-error @+1 {{A must have rank 2, got 'tensor<1x?x768xf32>'}}
  %0 = kiln.onnx.Gemm %a, %b : (tensor<1x?x768xf32>, tensor<768x3072xf32>) -> tensor<?x3072xf32>
  return %0 : tensor<?x3072xf32>
}

// -----

func.func @gemm_b_rank(%a: tensor<?x768xf32>, %b: tensor<768xf32>) -> tensor<?x3072xf32> {
  // expected-error @+1 {{B must have rank 2, got 'tensor<768xf32>'}}
  %0 = kiln.onnx.Gemm %a, %b : (tensor<?x768xf32>, tensor<768xf32>) -> tensor<?x3072xf32>
  return %0 : tensor<?x3072xf32>
}

// -----

func.func @gemm_result_rank(%a: tensor<?x768xf32>, %b: tensor<768x3072xf32>)
    -> tensor<1x?x3072xf32> {
  // expected-error @+1 {{result must have rank 2, got 'tensor<1x?x3072xf32>'}}
  %0 = kiln.onnx.Gemm %a, %b : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<1x?x3072xf32>
  return %0 : tensor<1x?x3072xf32>
}

// -----

// With transB = 1, B is [N, K]: K is 3072 here, not 768.
func.func @gemm_contraction(%a: tensor<?x768xf32>, %b: tensor<768x3072xf32>) -> tensor<?x768xf32> {
  // expected-error @+1 {{contraction dims differ: 768 vs 3072}}
  %0 = kiln.onnx.Gemm %a, %b {transB = 1 : i64}
      : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x768xf32>
  return %0 : tensor<?x768xf32>
}

// -----

func.func @gemm_result_dims(%a: tensor<?x768xf32>, %b: tensor<768x3072xf32>) -> tensor<?x768xf32> {
  // expected-error @+1 {{result 'tensor<?x768xf32>' is not [?, 3072]}}
  %0 = kiln.onnx.Gemm %a, %b : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x768xf32>
  return %0 : tensor<?x768xf32>
}

// -----

func.func @gemm_c_rank(%a: tensor<?x768xf32>, %b: tensor<768x3072xf32>, %c: tensor<1x1x3072xf32>)
    -> tensor<?x3072xf32> {
  // expected-error @+1 {{C must have rank <= 2, got 'tensor<1x1x3072xf32>'}}
  %0 = kiln.onnx.Gemm %a, %b, %c
      : (tensor<?x768xf32>, tensor<768x3072xf32>, tensor<1x1x3072xf32>) -> tensor<?x3072xf32>
  return %0 : tensor<?x3072xf32>
}

// -----

func.func @gemm_c_broadcast(%a: tensor<?x768xf32>, %b: tensor<768x3072xf32>, %c: tensor<768xf32>)
    -> tensor<?x3072xf32> {
  // expected-error @+1 {{C 'tensor<768xf32>' does not broadcast to [?, 3072]}}
  %0 = kiln.onnx.Gemm %a, %b, %c
      : (tensor<?x768xf32>, tensor<768x3072xf32>, tensor<768xf32>) -> tensor<?x3072xf32>
  return %0 : tensor<?x3072xf32>
}

// -----

func.func @einsum_term_count(%q: tensor<1x12x?x64xf32>, %k: tensor<1x12x?x64xf32>)
    -> tensor<1x12x?x?xf32> {
  // expected-error @+1 {{equation 'bhqd->bhq' has 1 input terms for 2 inputs}}
  %0 = kiln.onnx.Einsum %q, %k {equation = "bhqd->bhq"}
      : (tensor<1x12x?x64xf32>, tensor<1x12x?x64xf32>) -> tensor<1x12x?x?xf32>
  return %0 : tensor<1x12x?x?xf32>
}

// -----

func.func @einsum_invalid_label(%x: tensor<768x2304xf32>) -> tensor<2304x768xf32> {
  // expected-error @+1 {{has invalid label '1'}}
  %0 = kiln.onnx.Einsum %x {equation = "i1->1i"} : (tensor<768x2304xf32>) -> tensor<2304x768xf32>
  return %0 : tensor<2304x768xf32>
}

// -----

func.func @einsum_term_rank(%x: tensor<1x768x2304xf32>) -> tensor<2304x768xf32> {
  // expected-error @+1 {{term 'ij' does not match operand of rank 3}}
  %0 = kiln.onnx.Einsum %x {equation = "ij->ji"} : (tensor<1x768x2304xf32>) -> tensor<2304x768xf32>
  return %0 : tensor<2304x768xf32>
}

// -----

func.func @einsum_output_label(%x: tensor<768x2304xf32>) -> tensor<2304x768xf32> {
  // expected-error @+1 {{output label 'k' of 'ij->jk' appears in no input}}
  %0 = kiln.onnx.Einsum %x {equation = "ij->jk"} : (tensor<768x2304xf32>) -> tensor<2304x768xf32>
  return %0 : tensor<2304x768xf32>
}

//===----------------------------------------------------------------------===//
// Softmax, LayerNormalization, RMSNormalization
//===----------------------------------------------------------------------===//

// -----

func.func @softmax_axis(%x: tensor<1x12x?x?xf32>) -> tensor<1x12x?x?xf32> {
  // expected-error @+1 {{'axis' 4 is out of range for rank 4 (expected -4 to 3)}}
  %0 = kiln.onnx.Softmax %x {axis = 4 : i64} : (tensor<1x12x?x?xf32>) -> tensor<1x12x?x?xf32>
  return %0 : tensor<1x12x?x?xf32>
}

// -----

func.func @layernorm_epsilon(%x: tensor<1x?x768xf32>, %g: tensor<768xf32>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{'epsilon' must be non-negative, got -1}}
  %0 = kiln.onnx.LayerNormalization %x, %g {epsilon = -1.0 : f32}
      : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @layernorm_statistics_count(%x: tensor<2x8xf32>, %g: tensor<8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{has 3 statistics results; at most 2 (Mean, InvStdDev)}}
  %0:4 = kiln.onnx.LayerNormalization %x, %g
      : (tensor<2x8xf32>, tensor<8xf32>) -> (tensor<2x8xf32>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<2x1xf32>)
  return %0#0 : tensor<2x8xf32>
}

// -----

func.func @layernorm_statistics_type(%x: tensor<2x8xf16>, %g: tensor<8xf16>) -> tensor<2x8xf16> {
  // expected-error @+1 {{statistics must be float32 (stash_type 1), got 'tensor<2x1xf16>'}}
  %0:2 = kiln.onnx.LayerNormalization %x, %g
      : (tensor<2x8xf16>, tensor<8xf16>) -> (tensor<2x8xf16>, tensor<2x1xf16>)
  return %0#0 : tensor<2x8xf16>
}

// -----

func.func @layernorm_statistics_stash_type(%x: tensor<2x8xf32>, %g: tensor<8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'stash_type' 0 is not supported with statistics results (only 1: float32)}}
  %0:2 = kiln.onnx.LayerNormalization %x, %g {stash_type = 0 : i64}
      : (tensor<2x8xf32>, tensor<8xf32>) -> (tensor<2x8xf32>, tensor<2x1xf32>)
  return %0#0 : tensor<2x8xf32>
}

// -----

func.func @layernorm_result_shape(%x: tensor<1x?x768xf32>, %g: tensor<768xf32>)
    -> tensor<1x?x1024xf32> {
  // expected-error @+1 {{result 'tensor<1x?x1024xf32>' must have the shape of the input 'tensor<1x?x768xf32>'}}
  %0 = kiln.onnx.LayerNormalization %x, %g
      : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x1024xf32>
  return %0 : tensor<1x?x1024xf32>
}

// -----

func.func @layernorm_axis(%x: tensor<1x?x768xf32>, %g: tensor<768xf32>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{'axis' -4 is out of range for rank 3 (expected -3 to 2)}}
  %0 = kiln.onnx.LayerNormalization %x, %g {axis = -4 : i64}
      : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @layernorm_scale_rank(%x: tensor<1x?x768xf32>, %g: tensor<1x768xf32>)
    -> tensor<1x?x768xf32> {
  // expected-error @+1 {{scale of rank 2 does not broadcast to the 1 normalized dims}}
  %0 = kiln.onnx.LayerNormalization %x, %g
      : (tensor<1x?x768xf32>, tensor<1x768xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @layernorm_bias_shape(%x: tensor<1x?x768xf32>, %g: tensor<768xf32>, %b: tensor<1024xf32>)
    -> tensor<1x?x768xf32> {
  // expected-error @+1 {{bias shape 'tensor<1024xf32>' does not broadcast to the normalized dims of 'tensor<1x?x768xf32>'}}
  %0 = kiln.onnx.LayerNormalization %x, %g, %b
      : (tensor<1x?x768xf32>, tensor<768xf32>, tensor<1024xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @rmsnorm_scale_shape(%x: tensor<?x?x2048xf16>, %g: tensor<4096xf16>)
    -> tensor<?x?x2048xf16> {
  // expected-error @+1 {{scale shape 'tensor<4096xf16>' does not broadcast to the normalized dims}}
  %0 = kiln.onnx.RMSNormalization %x, %g
      : (tensor<?x?x2048xf16>, tensor<4096xf16>) -> tensor<?x?x2048xf16>
  return %0 : tensor<?x?x2048xf16>
}

// -----

func.func @rmsnorm_epsilon_nan(%x: tensor<?x?x2048xf16>, %g: tensor<2048xf16>)
    -> tensor<?x?x2048xf16> {
  // expected-error @+1 {{'epsilon' must be non-negative, got nan}}
  %0 = kiln.onnx.RMSNormalization %x, %g {epsilon = 0x7FC00000 : f32}
      : (tensor<?x?x2048xf16>, tensor<2048xf16>) -> tensor<?x?x2048xf16>
  return %0 : tensor<?x?x2048xf16>
}

// -----

func.func @rmsnorm_result_shape(%x: tensor<1x16x2048xf16>, %g: tensor<2048xf16>)
    -> tensor<1x32x2048xf16> {
  // expected-error @+1 {{must have the shape of the input 'tensor<1x16x2048xf16>'}}
  %0 = kiln.onnx.RMSNormalization %x, %g
      : (tensor<1x16x2048xf16>, tensor<2048xf16>) -> tensor<1x32x2048xf16>
  return %0 : tensor<1x32x2048xf16>
}

//===----------------------------------------------------------------------===//
// Attention, RotaryEmbedding, Dropout
//===----------------------------------------------------------------------===//

// -----

func.func @attention_is_causal_flag(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x8x?x64xf32>)
    -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{'is_causal' must be 0 or 1, got 2}}
  %0 = kiln.onnx.Attention %q, %kv, %kv {is_causal = 2 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @attention_qk_mode(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x8x?x64xf32>)
    -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{'qk_matmul_output_mode' must be 0..3, got 4}}
  %0 = kiln.onnx.Attention %q, %kv, %kv {qk_matmul_output_mode = 4 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @attention_softcap(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x8x?x64xf32>)
    -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{'softcap' must be non-negative, got -3}}
  %0 = kiln.onnx.Attention %q, %kv, %kv {softcap = -3.0 : f32,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @attention_past_key_alone(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x8x?x64xf32>,
                                    %pk: tensor<1x8x?x64xf32>) -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{past_key and past_value must be given together}}
  %0 = kiln.onnx.Attention %q, %kv, %kv, %pk {
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>)
      -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @attention_present_value_alone(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x8x?x64xf32>)
    -> (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>) {
  // expected-error @+1 {{present_key and present_value must be produced together}}
  %0, %1 = kiln.onnx.Attention %q, %kv, %kv {
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 1, 0>}
      : (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>)
      -> (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>)
  return %0, %1 : tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>
}

// -----

func.func @attention_mask_type(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x8x?x64xf32>,
                               %mask: tensor<?x?xi64>) -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{attn_mask must be boolean or floating-point, got 'i64'}}
  %0 = kiln.onnx.Attention %q, %kv, %kv, %mask {
      operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>, tensor<?x?xi64>)
      -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @attention_mixed_ranks(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x?x512xf32>)
    -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{Q, K and V must all be 3-D or all 4-D}}
  %0 = kiln.onnx.Attention %q, %kv, %kv {
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x32x?x64xf32>, tensor<1x?x512xf32>, tensor<1x?x512xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @attention_3d_without_heads(%q: tensor<1x?x2048xf32>, %kv: tensor<1x?x512xf32>)
    -> tensor<1x?x2048xf32> {
  // expected-error @+1 {{3-D inputs require 'q_num_heads' and 'kv_num_heads'}}
  %0 = kiln.onnx.Attention %q, %kv, %kv {q_num_heads = 32 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x?x2048xf32>, tensor<1x?x512xf32>, tensor<1x?x512xf32>) -> tensor<1x?x2048xf32>
  return %0 : tensor<1x?x2048xf32>
}

// -----

func.func @attention_zero_heads(%q: tensor<1x?x2048xf32>, %kv: tensor<1x?x512xf32>)
    -> tensor<1x?x2048xf32> {
  // expected-error @+1 {{head counts must be positive}}
  %0 = kiln.onnx.Attention %q, %kv, %kv {q_num_heads = 32 : i64, kv_num_heads = 0 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x?x2048xf32>, tensor<1x?x512xf32>, tensor<1x?x512xf32>) -> tensor<1x?x2048xf32>
  return %0 : tensor<1x?x2048xf32>
}

// -----

func.func @attention_gqa_heads(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x6x?x64xf32>)
    -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{query heads (32) must be a multiple of KV heads (6)}}
  %0 = kiln.onnx.Attention %q, %kv, %kv {
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x32x?x64xf32>, tensor<1x6x?x64xf32>, tensor<1x6x?x64xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @rotary_interleaved_flag(%x: tensor<1x32x?x64xf32>, %c: tensor<4096x32xf32>,
                                   %pos: tensor<1x?xi64>) -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{'interleaved' must be 0 or 1, got 5}}
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %c, %pos {interleaved = 5 : i64}
      : (tensor<1x32x?x64xf32>, tensor<4096x32xf32>, tensor<4096x32xf32>, tensor<1x?xi64>)
      -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @rotary_odd_dim(%x: tensor<1x32x?x64xf32>, %c: tensor<4096x32xf32>,
                          %pos: tensor<1x?xi64>) -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{'rotary_embedding_dim' must be even and non-negative, got 33}}
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %c, %pos {rotary_embedding_dim = 33 : i64}
      : (tensor<1x32x?x64xf32>, tensor<4096x32xf32>, tensor<4096x32xf32>, tensor<1x?xi64>)
      -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

// With position_ids the caches are [max_position, rotary_dim / 2].
func.func @rotary_cos_cache_rank(%x: tensor<1x32x?x64xf32>, %c: tensor<1x?x32xf32>,
                                 %pos: tensor<1x?xi64>) -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{cos_cache must have rank 2, got 'tensor<1x?x32xf32>'}}
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %c, %pos
      : (tensor<1x32x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x?xi64>)
      -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

// Without position_ids the caches are [batch, seq, rotary_dim / 2].
func.func @rotary_sin_cache_rank(%x: tensor<1x32x?x64xf32>, %c: tensor<1x?x32xf32>,
                                 %s: tensor<4096x32xf32>) -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{sin_cache must have rank 3, got 'tensor<4096x32xf32>'}}
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %s
      : (tensor<1x32x?x64xf32>, tensor<1x?x32xf32>, tensor<4096x32xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

func.func @rotary_input_rank(%x: tensor<?x64xf32>, %c: tensor<4096x32xf32>, %pos: tensor<1x?xi64>)
    -> tensor<?x64xf32> {
  // expected-error @+1 {{input must be 3-D or 4-D, got 'tensor<?x64xf32>'}}
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %c, %pos
      : (tensor<?x64xf32>, tensor<4096x32xf32>, tensor<4096x32xf32>, tensor<1x?xi64>)
      -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

func.func @rotary_3d_without_heads(%x: tensor<1x?x2048xf32>, %c: tensor<4096x32xf32>,
                                   %pos: tensor<1x?xi64>) -> tensor<1x?x2048xf32> {
  // expected-error @+1 {{3-D input requires 'num_heads'}}
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %c, %pos
      : (tensor<1x?x2048xf32>, tensor<4096x32xf32>, tensor<4096x32xf32>, tensor<1x?xi64>)
      -> tensor<1x?x2048xf32>
  return %0 : tensor<1x?x2048xf32>
}

// -----

func.func @dropout_ratio_rank(%x: tensor<1x?x768xf32>, %r: tensor<1xf32>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{ratio must have rank 0, got 'tensor<1xf32>'}}
  %0 = kiln.onnx.Dropout %x, %r {operandSegmentSizes = array<i32: 1, 1, 0>}
      : (tensor<1x?x768xf32>, tensor<1xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @dropout_training_mode_rank(%x: tensor<1x?x768xf32>, %t: tensor<1xi1>)
    -> tensor<1x?x768xf32> {
  // expected-error @+1 {{training_mode must have rank 0, got 'tensor<1xi1>'}}
  %0 = kiln.onnx.Dropout %x, %t {operandSegmentSizes = array<i32: 1, 0, 1>}
      : (tensor<1x?x768xf32>, tensor<1xi1>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @dropout_result_type(%x: tensor<1x?x768xf32>) -> tensor<1x?x768xf16> {
  // expected-error @+1 {{result type must equal the data type}}
  %0 = kiln.onnx.Dropout %x {operandSegmentSizes = array<i32: 1, 0, 0>}
      : (tensor<1x?x768xf32>) -> tensor<1x?x768xf16>
  return %0 : tensor<1x?x768xf16>
}

//===----------------------------------------------------------------------===//
// Reductions and scans
//===----------------------------------------------------------------------===//

// -----

func.func @reducemean_keepdims_flag(%x: tensor<1x?x768xf32>, %axes: tensor<1xi64>)
    -> tensor<1x?x1xf32> {
  // expected-error @+1 {{'keepdims' must be 0 or 1, got 2}}
  %0 = kiln.onnx.ReduceMean %x, %axes {keepdims = 2 : i64}
      : (tensor<1x?x768xf32>, tensor<1xi64>) -> tensor<1x?x1xf32>
  return %0 : tensor<1x?x1xf32>
}

// -----

func.func @reducesum_noop_flag(%x: tensor<1x?x768xf32>, %axes: tensor<1xi64>) -> tensor<1x?x1xf32> {
  // expected-error @+1 {{'noop_with_empty_axes' must be 0 or 1, got 7}}
  %0 = kiln.onnx.ReduceSum %x, %axes {noop_with_empty_axes = 7 : i64}
      : (tensor<1x?x768xf32>, tensor<1xi64>) -> tensor<1x?x1xf32>
  return %0 : tensor<1x?x1xf32>
}

// -----

func.func @reducemax_axes_rank(%x: tensor<1x?x768xf32>, %axes: tensor<i64>) -> tensor<1x?x1xf32> {
  // expected-error @+1 {{axes must have rank 1, got 'tensor<i64>'}}
  %0 = kiln.onnx.ReduceMax %x, %axes : (tensor<1x?x768xf32>, tensor<i64>) -> tensor<1x?x1xf32>
  return %0 : tensor<1x?x1xf32>
}

// -----

func.func @reducemean_keepdims_rank(%x: tensor<1x?x768xf32>, %axes: tensor<1xi64>)
    -> tensor<1x?xf32> {
  // expected-error @+1 {{with keepdims = 1 the result must have rank 3, got 'tensor<1x?xf32>'}}
  %0 = kiln.onnx.ReduceMean %x, %axes : (tensor<1x?x768xf32>, tensor<1xi64>) -> tensor<1x?xf32>
  return %0 : tensor<1x?xf32>
}

// -----

func.func @reducesum_result_rank(%x: tensor<1x?x768xf32>, %axes: tensor<1xi64>)
    -> tensor<1x?x768x1xf32> {
  // expected-error @+1 {{result rank 4 exceeds the input rank 3}}
  %0 = kiln.onnx.ReduceSum %x, %axes {keepdims = 0 : i64}
      : (tensor<1x?x768xf32>, tensor<1xi64>) -> tensor<1x?x768x1xf32>
  return %0 : tensor<1x?x768x1xf32>
}

// -----

func.func @argmax_keepdims_flag(%x: tensor<1x?x50257xf32>) -> tensor<1x?x1xi64> {
  // expected-error @+1 {{'keepdims' must be 0 or 1, got -1}}
  %0 = kiln.onnx.ArgMax %x {axis = -1 : i64, keepdims = -1 : i64}
      : (tensor<1x?x50257xf32>) -> tensor<1x?x1xi64>
  return %0 : tensor<1x?x1xi64>
}

// -----

func.func @argmax_select_last_index_flag(%x: tensor<1x?x50257xf32>) -> tensor<1x?x1xi64> {
  // expected-error @+1 {{'select_last_index' must be 0 or 1, got 2}}
  %0 = kiln.onnx.ArgMax %x {axis = -1 : i64, select_last_index = 2 : i64}
      : (tensor<1x?x50257xf32>) -> tensor<1x?x1xi64>
  return %0 : tensor<1x?x1xi64>
}

// -----

func.func @argmax_axis(%x: tensor<1x?x50257xf32>) -> tensor<1x?x1xi64> {
  // expected-error @+1 {{'axis' 3 is out of range for rank 3 (expected -3 to 2)}}
  %0 = kiln.onnx.ArgMax %x {axis = 3 : i64} : (tensor<1x?x50257xf32>) -> tensor<1x?x1xi64>
  return %0 : tensor<1x?x1xi64>
}

// -----

func.func @argmax_result_rank(%x: tensor<1x?x50257xf32>) -> tensor<1x?x1xi64> {
  // expected-error @+1 {{result must have rank 2, got 'tensor<1x?x1xi64>'}}
  %0 = kiln.onnx.ArgMax %x {axis = -1 : i64, keepdims = 0 : i64}
      : (tensor<1x?x50257xf32>) -> tensor<1x?x1xi64>
  return %0 : tensor<1x?x1xi64>
}

// -----

func.func @topk_largest_flag(%x: tensor<1x?x50257xf32>, %k: tensor<1xi64>)
    -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>) {
  // expected-error @+1 {{'largest' must be 0 or 1, got 2}}
  %v, %i = kiln.onnx.TopK %x, %k {largest = 2 : i64}
      : (tensor<1x?x50257xf32>, tensor<1xi64>) -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>)
  return %v, %i : tensor<1x?x50xf32>, tensor<1x?x50xi64>
}

// -----

func.func @topk_sorted_flag(%x: tensor<1x?x50257xf32>, %k: tensor<1xi64>)
    -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>) {
  // expected-error @+1 {{'sorted' must be 0 or 1, got 2}}
  %v, %i = kiln.onnx.TopK %x, %k {sorted = 2 : i64}
      : (tensor<1x?x50257xf32>, tensor<1xi64>) -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>)
  return %v, %i : tensor<1x?x50xf32>, tensor<1x?x50xi64>
}

// -----

func.func @topk_k_rank(%x: tensor<1x?x50257xf32>, %k: tensor<i64>)
    -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>) {
  // expected-error @+1 {{K must have rank 1, got 'tensor<i64>'}}
  %v, %i = kiln.onnx.TopK %x, %k
      : (tensor<1x?x50257xf32>, tensor<i64>) -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>)
  return %v, %i : tensor<1x?x50xf32>, tensor<1x?x50xi64>
}

// -----

func.func @topk_result_shapes(%x: tensor<1x?x50257xf32>, %k: tensor<1xi64>)
    -> (tensor<1x?x50xf32>, tensor<1x?x40xi64>) {
  // expected-error @+1 {{values and indices must have the same shape}}
  %v, %i = kiln.onnx.TopK %x, %k
      : (tensor<1x?x50257xf32>, tensor<1xi64>) -> (tensor<1x?x50xf32>, tensor<1x?x40xi64>)
  return %v, %i : tensor<1x?x50xf32>, tensor<1x?x40xi64>
}

// -----

func.func @topk_axis(%x: tensor<1x?x50257xf32>, %k: tensor<1xi64>)
    -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>) {
  // expected-error @+1 {{'axis' -5 is out of range for rank 3}}
  %v, %i = kiln.onnx.TopK %x, %k {axis = -5 : i64}
      : (tensor<1x?x50257xf32>, tensor<1xi64>) -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>)
  return %v, %i : tensor<1x?x50xf32>, tensor<1x?x50xi64>
}

// -----

func.func @topk_values_rank(%x: tensor<1x?x50257xf32>, %k: tensor<1xi64>)
    -> (tensor<?x50xf32>, tensor<?x50xi64>) {
  // expected-error @+1 {{values must have rank 3, got 'tensor<?x50xf32>'}}
  %v, %i = kiln.onnx.TopK %x, %k
      : (tensor<1x?x50257xf32>, tensor<1xi64>) -> (tensor<?x50xf32>, tensor<?x50xi64>)
  return %v, %i : tensor<?x50xf32>, tensor<?x50xi64>
}

// -----

func.func @cumsum_exclusive_flag(%x: tensor<1x?xi64>, %axis: tensor<i64>) -> tensor<1x?xi64> {
  // expected-error @+1 {{'exclusive' must be 0 or 1, got 2}}
  %0 = kiln.onnx.CumSum %x, %axis {exclusive = 2 : i64}
      : (tensor<1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
  return %0 : tensor<1x?xi64>
}

// -----

func.func @cumsum_reverse_flag(%x: tensor<1x?xi64>, %axis: tensor<i64>) -> tensor<1x?xi64> {
  // expected-error @+1 {{'reverse' must be 0 or 1, got 2}}
  %0 = kiln.onnx.CumSum %x, %axis {reverse = 2 : i64}
      : (tensor<1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
  return %0 : tensor<1x?xi64>
}

// -----

func.func @cumsum_axis_not_scalar(%x: tensor<1x?xi64>, %axis: tensor<2xi64>) -> tensor<1x?xi64> {
  // expected-error @+1 {{axis must be a scalar, got 'tensor<2xi64>'}}
  %0 = kiln.onnx.CumSum %x, %axis : (tensor<1x?xi64>, tensor<2xi64>) -> tensor<1x?xi64>
  return %0 : tensor<1x?xi64>
}

// -----

func.func @cumsum_result_shape(%x: tensor<1x16xi64>, %axis: tensor<i64>) -> tensor<1x32xi64> {
  // expected-error @+1 {{result 'tensor<1x32xi64>' must have the shape of the input 'tensor<1x16xi64>'}}
  %0 = kiln.onnx.CumSum %x, %axis : (tensor<1x16xi64>, tensor<i64>) -> tensor<1x32xi64>
  return %0 : tensor<1x32xi64>
}

//===----------------------------------------------------------------------===//
// Shape, ConstantOfShape, Range
//===----------------------------------------------------------------------===//

// -----

func.func @shape_result_rank(%x: tensor<1x?x768xf32>) -> tensor<3x1xi64> {
  // expected-error @+1 {{result must have rank 1, got 'tensor<3x1xi64>'}}
  %0 = kiln.onnx.Shape %x : (tensor<1x?x768xf32>) -> tensor<3x1xi64>
  return %0 : tensor<3x1xi64>
}

// -----

func.func @shape_result_length(%x: tensor<1x?x768xf32>) -> tensor<3xi64> {
  // expected-error @+1 {{result 'tensor<3xi64>' must have 1 elements}}
  %0 = kiln.onnx.Shape %x {start = -1 : i64} : (tensor<1x?x768xf32>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

func.func @constant_of_shape_shape_rank(%s: tensor<2x1xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{shape must have rank 1, got 'tensor<2x1xi64>'}}
  %0 = kiln.onnx.ConstantOfShape %s : (tensor<2x1xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @constant_of_shape_value_count(%s: tensor<2xi64>) -> tensor<?x?xi64> {
  // expected-error @+1 {{'value' must hold exactly one element, got 2}}
  %0 = kiln.onnx.ConstantOfShape %s {value = dense<[0, 1]> : tensor<2xi64>}
      : (tensor<2xi64>) -> tensor<?x?xi64>
  return %0 : tensor<?x?xi64>
}

// -----

func.func @constant_of_shape_value_type(%s: tensor<2xi64>) -> tensor<?x?xi64> {
  // expected-error @+1 {{'value' element type 'i32' does not match the result element type 'i64'}}
  %0 = kiln.onnx.ConstantOfShape %s {value = dense<0> : tensor<1xi32>}
      : (tensor<2xi64>) -> tensor<?x?xi64>
  return %0 : tensor<?x?xi64>
}

// -----

func.func @constant_of_shape_default_f32(%s: tensor<2xi64>) -> tensor<?x?xf16> {
  // expected-error @+1 {{without 'value' the result is f32 zeros, got 'f16'}}
  %0 = kiln.onnx.ConstantOfShape %s : (tensor<2xi64>) -> tensor<?x?xf16>
  return %0 : tensor<?x?xf16>
}

// -----

func.func @constant_of_shape_result_rank(%s: tensor<2xi64>) -> tensor<?x?x?xf32> {
  // expected-error @+1 {{result rank 3 does not match the 2 dims of 'shape'}}
  %0 = kiln.onnx.ConstantOfShape %s : (tensor<2xi64>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// -----

func.func @range_start_rank(%start: tensor<1xi64>, %limit: tensor<i64>, %delta: tensor<i64>)
    -> tensor<?xi64> {
  // expected-error @+1 {{start must have rank 0, got 'tensor<1xi64>'}}
  %0 = kiln.onnx.Range %start, %limit, %delta
      : (tensor<1xi64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

func.func @range_limit_rank(%start: tensor<i64>, %limit: tensor<1xi64>, %delta: tensor<i64>)
    -> tensor<?xi64> {
  // expected-error @+1 {{limit must have rank 0, got 'tensor<1xi64>'}}
  %0 = kiln.onnx.Range %start, %limit, %delta
      : (tensor<i64>, tensor<1xi64>, tensor<i64>) -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

func.func @range_delta_rank(%start: tensor<i64>, %limit: tensor<i64>, %delta: tensor<1xi64>)
    -> tensor<?xi64> {
  // expected-error @+1 {{delta must have rank 0, got 'tensor<1xi64>'}}
  %0 = kiln.onnx.Range %start, %limit, %delta
      : (tensor<i64>, tensor<i64>, tensor<1xi64>) -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

func.func @range_result_rank(%start: tensor<i64>, %limit: tensor<i64>, %delta: tensor<i64>)
    -> tensor<1x?xi64> {
  // expected-error @+1 {{result must have rank 1, got 'tensor<1x?xi64>'}}
  %0 = kiln.onnx.Range %start, %limit, %delta
      : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<1x?xi64>
  return %0 : tensor<1x?xi64>
}

//===----------------------------------------------------------------------===//
// Reshape, Transpose, Unsqueeze, Squeeze, Flatten, Expand
//===----------------------------------------------------------------------===//

// -----

func.func @reshape_allowzero_flag(%x: tensor<1x?x768xf32>, %s: tensor<4xi64>)
    -> tensor<1x?x12x64xf32> {
  // expected-error @+1 {{'allowzero' must be 0 or 1, got 2}}
  %0 = kiln.onnx.Reshape %x, %s {allowzero = 2 : i64}
      : (tensor<1x?x768xf32>, tensor<4xi64>) -> tensor<1x?x12x64xf32>
  return %0 : tensor<1x?x12x64xf32>
}

// -----

func.func @reshape_shape_rank(%x: tensor<1x?x768xf32>, %s: tensor<4x1xi64>)
    -> tensor<1x?x12x64xf32> {
  // expected-error @+1 {{shape must have rank 1, got 'tensor<4x1xi64>'}}
  %0 = kiln.onnx.Reshape %x, %s : (tensor<1x?x768xf32>, tensor<4x1xi64>) -> tensor<1x?x12x64xf32>
  return %0 : tensor<1x?x12x64xf32>
}

// -----

func.func @reshape_result_rank(%x: tensor<1x?x768xf32>, %s: tensor<3xi64>)
    -> tensor<1x?x12x64xf32> {
  // expected-error @+1 {{result rank 4 does not match the 3 entries of 'shape'}}
  %0 = kiln.onnx.Reshape %x, %s : (tensor<1x?x768xf32>, tensor<3xi64>) -> tensor<1x?x12x64xf32>
  return %0 : tensor<1x?x12x64xf32>
}

// -----

func.func @reshape_element_count(%x: tensor<1x16x768xf32>, %s: tensor<4xi64>)
    -> tensor<1x16x12x32xf32> {
  // expected-error @+1 {{cannot reshape 'tensor<1x16x768xf32>' (12288 elements) to 'tensor<1x16x12x32xf32>' (6144 elements)}}
  %0 = kiln.onnx.Reshape %x, %s : (tensor<1x16x768xf32>, tensor<4xi64>) -> tensor<1x16x12x32xf32>
  return %0 : tensor<1x16x12x32xf32>
}

// -----

func.func @transpose_perm_length(%x: tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32> {
  // expected-error @+1 {{'perm' has 3 entries for rank 4}}
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1>}
      : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
  return %0 : tensor<1x12x?x64xf32>
}

// -----

func.func @transpose_perm_duplicate(%x: tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32> {
  // expected-error @+1 {{'perm' is not a permutation of 0..3}}
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 2, 3>}
      : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
  return %0 : tensor<1x12x?x64xf32>
}

// -----

func.func @transpose_perm_out_of_range(%x: tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32> {
  // expected-error @+1 {{'perm' is not a permutation of 0..3}}
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1, 4>}
      : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
  return %0 : tensor<1x12x?x64xf32>
}

// -----

func.func @transpose_result_rank(%x: tensor<1x?x12x64xf32>) -> tensor<12x?x64xf32> {
  // expected-error @+1 {{result must have rank 4, got 'tensor<12x?x64xf32>'}}
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1, 3>}
      : (tensor<1x?x12x64xf32>) -> tensor<12x?x64xf32>
  return %0 : tensor<12x?x64xf32>
}

// -----

func.func @transpose_result_dims(%x: tensor<1x16x12x64xf32>) -> tensor<1x16x12x64xf32> {
  // expected-error @+1 {{result 'tensor<1x16x12x64xf32>' is not 'tensor<1x16x12x64xf32>' permuted by 'perm'}}
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1, 3>}
      : (tensor<1x16x12x64xf32>) -> tensor<1x16x12x64xf32>
  return %0 : tensor<1x16x12x64xf32>
}

// -----

// Without 'perm' the dims are reversed.
func.func @transpose_default_perm(%w: tensor<768x3072xf32>) -> tensor<768x3072xf32> {
  // expected-error @+1 {{is not 'tensor<768x3072xf32>' permuted by 'perm'}}
  %0 = kiln.onnx.Transpose %w : (tensor<768x3072xf32>) -> tensor<768x3072xf32>
  return %0 : tensor<768x3072xf32>
}

// -----

func.func @unsqueeze_axes_rank(%x: tensor<?x?xi64>, %axes: tensor<i64>) -> tensor<?x1x?xi64> {
  // expected-error @+1 {{axes must have rank 1, got 'tensor<i64>'}}
  %0 = kiln.onnx.Unsqueeze %x, %axes : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x1x?xi64>
  return %0 : tensor<?x1x?xi64>
}

// -----

func.func @unsqueeze_result_rank(%x: tensor<?x?xi64>, %axes: tensor<2xi64>) -> tensor<?x1x?xi64> {
  // expected-error @+1 {{inserting 2 dims into 'tensor<?x?xi64>' cannot give 'tensor<?x1x?xi64>'}}
  %0 = kiln.onnx.Unsqueeze %x, %axes : (tensor<?x?xi64>, tensor<2xi64>) -> tensor<?x1x?xi64>
  return %0 : tensor<?x1x?xi64>
}

// -----

func.func @squeeze_axes_rank(%x: tensor<1x?x1xf32>, %axes: tensor<1x1xi64>) -> tensor<1x?xf32> {
  // expected-error @+1 {{axes must have rank 1, got 'tensor<1x1xi64>'}}
  %0 = kiln.onnx.Squeeze %x, %axes : (tensor<1x?x1xf32>, tensor<1x1xi64>) -> tensor<1x?xf32>
  return %0 : tensor<1x?xf32>
}

// -----

func.func @squeeze_more_dims(%x: tensor<1x?x1xf32>) -> tensor<1x?x1x1xf32> {
  // expected-error @+1 {{result 'tensor<1x?x1x1xf32>' has more dims than 'tensor<1x?x1xf32>'}}
  %0 = kiln.onnx.Squeeze %x : (tensor<1x?x1xf32>) -> tensor<1x?x1x1xf32>
  return %0 : tensor<1x?x1x1xf32>
}

// -----

func.func @flatten_result_rank(%x: tensor<1x12x?x64xf32>) -> tensor<12x?x64xf32> {
  // expected-error @+1 {{result must have rank 2, got 'tensor<12x?x64xf32>'}}
  %0 = kiln.onnx.Flatten %x {axis = 2 : i64} : (tensor<1x12x?x64xf32>) -> tensor<12x?x64xf32>
  return %0 : tensor<12x?x64xf32>
}

// -----

// Flatten's axis may equal the rank (giving [N, 1]), but not exceed it.
func.func @flatten_axis(%x: tensor<1x12x?x64xf32>) -> tensor<?x1xf32> {
  // expected-error @+1 {{'axis' 5 is out of range for rank 4 (expected -4 to 4)}}
  %0 = kiln.onnx.Flatten %x {axis = 5 : i64} : (tensor<1x12x?x64xf32>) -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// -----

func.func @expand_shape_rank(%m: tensor<1x1x?x?xi1>, %s: tensor<4x1xi64>) -> tensor<1x12x?x?xi1> {
  // expected-error @+1 {{shape must have rank 1, got 'tensor<4x1xi64>'}}
  %0 = kiln.onnx.Expand %m, %s : (tensor<1x1x?x?xi1>, tensor<4x1xi64>) -> tensor<1x12x?x?xi1>
  return %0 : tensor<1x12x?x?xi1>
}

// -----

func.func @expand_fewer_dims(%m: tensor<1x1x?x?xi1>, %s: tensor<2xi64>) -> tensor<?x?xi1> {
  // expected-error @+1 {{result 'tensor<?x?xi1>' has fewer dims than 'tensor<1x1x?x?xi1>'}}
  %0 = kiln.onnx.Expand %m, %s : (tensor<1x1x?x?xi1>, tensor<2xi64>) -> tensor<?x?xi1>
  return %0 : tensor<?x?xi1>
}

// -----

func.func @expand_result_rank(%x: tensor<?x768xf32>, %s: tensor<4xi64>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{result rank 3 does not match the 4 entries of 'shape'}}
  %0 = kiln.onnx.Expand %x, %s : (tensor<?x768xf32>, tensor<4xi64>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

// A 'shape' shorter than the input keeps the input's rank.
func.func @expand_short_shape(%x: tensor<?x768xf32>, %s: tensor<1xi64>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{result rank 3 does not match the 1 entries of 'shape' broadcast with 'tensor<?x768xf32>'}}
  %0 = kiln.onnx.Expand %x, %s : (tensor<?x768xf32>, tensor<1xi64>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

//===----------------------------------------------------------------------===//
// Concat, Split, Slice
//===----------------------------------------------------------------------===//

// -----

// Concat's own "requires at least one input" is preceded by the traits' operand count check.
func.func @concat_no_inputs() -> tensor<0xi64> {
  // expected-error @+1 {{expected 1 or more operands, but found 0}}
  %0 = kiln.onnx.Concat {axis = 0 : i64} : () -> tensor<0xi64>
  return %0 : tensor<0xi64>
}

// -----

func.func @concat_axis(%a: tensor<1x12x?x64xf32>, %b: tensor<1x12x1x64xf32>)
    -> tensor<1x12x?x64xf32> {
  // expected-error @+1 {{'axis' 4 is out of range for rank 4 (expected -4 to 3)}}
  %0 = kiln.onnx.Concat %a, %b {axis = 4 : i64}
      : (tensor<1x12x?x64xf32>, tensor<1x12x1x64xf32>) -> tensor<1x12x?x64xf32>
  return %0 : tensor<1x12x?x64xf32>
}

// -----

func.func @concat_input_ranks(%a: tensor<1x12x?x64xf32>, %b: tensor<12x1x64xf32>)
    -> tensor<1x12x?x64xf32> {
  // expected-error @+1 {{inputs must have the same rank, got 'tensor<1x12x?x64xf32>' and 'tensor<12x1x64xf32>'}}
  %0 = kiln.onnx.Concat %a, %b {axis = 2 : i64}
      : (tensor<1x12x?x64xf32>, tensor<12x1x64xf32>) -> tensor<1x12x?x64xf32>
  return %0 : tensor<1x12x?x64xf32>
}

// -----

func.func @concat_input_dims(%a: tensor<1x12x?x64xf32>, %b: tensor<1x8x1x64xf32>)
    -> tensor<1x12x?x64xf32> {
  // expected-error @+1 {{inputs 'tensor<1x12x?x64xf32>' and 'tensor<1x8x1x64xf32>' differ in dim 1}}
  %0 = kiln.onnx.Concat %a, %b {axis = 2 : i64}
      : (tensor<1x12x?x64xf32>, tensor<1x8x1x64xf32>) -> tensor<1x12x?x64xf32>
  return %0 : tensor<1x12x?x64xf32>
}

// -----

func.func @concat_result_rank(%a: tensor<1xi64>, %b: tensor<2xi64>) -> tensor<1x3xi64> {
  // expected-error @+1 {{result must have rank 1, got 'tensor<1x3xi64>'}}
  %0 = kiln.onnx.Concat %a, %b {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<1x3xi64>
  return %0 : tensor<1x3xi64>
}

// -----

func.func @concat_result_axis_dim(%a: tensor<1x12x16x64xf32>, %b: tensor<1x12x1x64xf32>)
    -> tensor<1x12x16x64xf32> {
  // expected-error @+1 {{result dim 2 must be 17, got 16}}
  %0 = kiln.onnx.Concat %a, %b {axis = -2 : i64}
      : (tensor<1x12x16x64xf32>, tensor<1x12x1x64xf32>) -> tensor<1x12x16x64xf32>
  return %0 : tensor<1x12x16x64xf32>
}

// -----

func.func @split_no_outputs(%x: tensor<1x?x2304xf32>) {
  // expected-error @+1 {{requires at least one output}}
  kiln.onnx.Split %x {axis = 2 : i64} : (tensor<1x?x2304xf32>) -> ()
  return
}

// -----

func.func @split_num_outputs_and_split(%x: tensor<1x?x2304xf32>, %s: tensor<3xi64>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>) {
  // expected-error @+1 {{'num_outputs' and the 'split' input are mutually exclusive}}
  %0:3 = kiln.onnx.Split %x, %s {axis = 2 : i64, num_outputs = 3 : i64}
      : (tensor<1x?x2304xf32>, tensor<3xi64>)
      -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
  return %0#0, %0#1, %0#2 : tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>
}

// -----

func.func @split_num_outputs_count(%x: tensor<1x?x2304xf32>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>) {
  // expected-error @+1 {{'num_outputs' is 2 but the op has 3 results}}
  %0:3 = kiln.onnx.Split %x {axis = 2 : i64, num_outputs = 2 : i64}
      : (tensor<1x?x2304xf32>) -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
  return %0#0, %0#1, %0#2 : tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>
}

// -----

func.func @split_split_rank(%x: tensor<1x?x2304xf32>, %s: tensor<i64>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>) {
  // expected-error @+1 {{split must have rank 1, got 'tensor<i64>'}}
  %0:3 = kiln.onnx.Split %x, %s {axis = 2 : i64}
      : (tensor<1x?x2304xf32>, tensor<i64>)
      -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
  return %0#0, %0#1, %0#2 : tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>
}

// -----

func.func @split_split_length(%x: tensor<1x?x2304xf32>, %s: tensor<2xi64>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>) {
  // expected-error @+1 {{'split' has 2 sizes for 3 results}}
  %0:3 = kiln.onnx.Split %x, %s {axis = 2 : i64}
      : (tensor<1x?x2304xf32>, tensor<2xi64>)
      -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
  return %0#0, %0#1, %0#2 : tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>
}

// -----

func.func @split_result_element_type(%x: tensor<1x?x2304xf32>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xf16>, tensor<1x?x768xf32>) {
  // expected-error @+1 {{results must have the input's element type 'f32'}}
  %0:3 = kiln.onnx.Split %x {axis = 2 : i64}
      : (tensor<1x?x2304xf32>) -> (tensor<1x?x768xf32>, tensor<1x?x768xf16>, tensor<1x?x768xf32>)
  return %0#0, %0#1, %0#2 : tensor<1x?x768xf32>, tensor<1x?x768xf16>, tensor<1x?x768xf32>
}

// -----

func.func @split_result_rank(%x: tensor<1x?x2304xf32>) -> (tensor<?x768xf32>, tensor<?x768xf32>) {
  // expected-error @+1 {{each result must have rank 3, got 'tensor<?x768xf32>'}}
  %0:2 = kiln.onnx.Split %x {axis = 2 : i64}
      : (tensor<1x?x2304xf32>) -> (tensor<?x768xf32>, tensor<?x768xf32>)
  return %0#0, %0#1 : tensor<?x768xf32>, tensor<?x768xf32>
}

// -----

func.func @split_axis(%x: tensor<1x?x2304xf32>) -> (tensor<1x?x1152xf32>, tensor<1x?x1152xf32>) {
  // expected-error @+1 {{'axis' 3 is out of range for rank 3 (expected -3 to 2)}}
  %0:2 = kiln.onnx.Split %x {axis = 3 : i64}
      : (tensor<1x?x2304xf32>) -> (tensor<1x?x1152xf32>, tensor<1x?x1152xf32>)
  return %0#0, %0#1 : tensor<1x?x1152xf32>, tensor<1x?x1152xf32>
}

// -----

func.func @slice_starts_rank(%x: tensor<1x?x2304xf32>, %s: tensor<i64>, %e: tensor<1xi64>)
    -> tensor<1x?x768xf32> {
  // expected-error @+1 {{starts must have rank 1, got 'tensor<i64>'}}
  %0 = kiln.onnx.Slice %x, %s, %e {operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}
      : (tensor<1x?x2304xf32>, tensor<i64>, tensor<1xi64>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @slice_steps_rank(%x: tensor<1x?x2304xf32>, %s: tensor<1xi64>, %st: tensor<1x1xi64>)
    -> tensor<1x?x768xf32> {
  // expected-error @+1 {{steps must have rank 1, got 'tensor<1x1xi64>'}}
  %0 = kiln.onnx.Slice %x, %s, %s, %s, %st {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}
      : (tensor<1x?x2304xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1x1xi64>)
      -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @slice_lengths(%x: tensor<1x?x2304xf32>, %s: tensor<1xi64>, %e: tensor<?xi64>,
                         %axes: tensor<2xi64>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{starts, ends, axes and steps must have the same length}}
  %0 = kiln.onnx.Slice %x, %s, %e, %axes {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>}
      : (tensor<1x?x2304xf32>, tensor<1xi64>, tensor<?xi64>, tensor<2xi64>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @slice_result_rank(%x: tensor<1x?x2304xf32>, %s: tensor<1xi64>) -> tensor<?x768xf32> {
  // expected-error @+1 {{result must have rank 3, got 'tensor<?x768xf32>'}}
  %0 = kiln.onnx.Slice %x, %s, %s {operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}
      : (tensor<1x?x2304xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x768xf32>
  return %0 : tensor<?x768xf32>
}

//===----------------------------------------------------------------------===//
// Gather, GatherElements, GatherND, ScatterND, Trilu
//===----------------------------------------------------------------------===//

// -----

func.func @gather_axis(%wte: tensor<50257x768xf32>, %ids: tensor<1x?xi64>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{'axis' 2 is out of range for rank 2 (expected -2 to 1)}}
  %0 = kiln.onnx.Gather %wte, %ids {axis = 2 : i64}
      : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

func.func @gather_result_rank(%wte: tensor<50257x768xf32>, %ids: tensor<1x?xi64>)
    -> tensor<?x768xf32> {
  // expected-error @+1 {{result must have rank 3, got 'tensor<?x768xf32>'}}
  %0 = kiln.onnx.Gather %wte, %ids : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<?x768xf32>
  return %0 : tensor<?x768xf32>
}

// -----

func.func @gather_elements_ranks(%x: tensor<1x?x50257xf32>, %i: tensor<1x?xi64>)
    -> tensor<1x?xf32> {
  // expected-error @+1 {{data and indices must have the same rank, got 'tensor<1x?x50257xf32>' and 'tensor<1x?xi64>'}}
  %0 = kiln.onnx.GatherElements %x, %i {axis = 2 : i64}
      : (tensor<1x?x50257xf32>, tensor<1x?xi64>) -> tensor<1x?xf32>
  return %0 : tensor<1x?xf32>
}

// -----

func.func @gather_elements_axis(%x: tensor<1x?x50257xf32>, %i: tensor<1x?x1xi64>)
    -> tensor<1x?x1xf32> {
  // expected-error @+1 {{'axis' -4 is out of range for rank 3}}
  %0 = kiln.onnx.GatherElements %x, %i {axis = -4 : i64}
      : (tensor<1x?x50257xf32>, tensor<1x?x1xi64>) -> tensor<1x?x1xf32>
  return %0 : tensor<1x?x1xf32>
}

// -----

func.func @gather_elements_result_shape(%x: tensor<1x?x50257xf32>, %i: tensor<1x?x1xi64>)
    -> tensor<1x?x2xf32> {
  // expected-error @+1 {{result 'tensor<1x?x2xf32>' must have the shape of the indices 'tensor<1x?x1xi64>'}}
  %0 = kiln.onnx.GatherElements %x, %i {axis = 2 : i64}
      : (tensor<1x?x50257xf32>, tensor<1x?x1xi64>) -> tensor<1x?x2xf32>
  return %0 : tensor<1x?x2xf32>
}

// -----

func.func @gather_nd_negative_batch_dims(%x: tensor<1x?x768xf32>, %i: tensor<1x4x1xi64>)
    -> tensor<1x4x768xf32> {
  // expected-error @+1 {{'batch_dims' must be non-negative, got -1}}
  %0 = kiln.onnx.GatherND %x, %i {batch_dims = -1 : i64}
      : (tensor<1x?x768xf32>, tensor<1x4x1xi64>) -> tensor<1x4x768xf32>
  return %0 : tensor<1x4x768xf32>
}

// -----

func.func @gather_nd_batch_dims_rank(%x: tensor<1x?x768xf32>, %i: tensor<1x4xi64>)
    -> tensor<1xf32> {
  // expected-error @+1 {{'batch_dims' 2 must be below the ranks of data (3) and indices (2)}}
  %0 = kiln.onnx.GatherND %x, %i {batch_dims = 2 : i64}
      : (tensor<1x?x768xf32>, tensor<1x4xi64>) -> tensor<1xf32>
  return %0 : tensor<1xf32>
}

// -----

func.func @gather_nd_tuple_length(%x: tensor<1x?x768xf32>, %i: tensor<4x4xi64>) -> tensor<4xf32> {
  // expected-error @+1 {{index tuples of length 4 do not fit data of rank 3 with batch_dims 0}}
  %0 = kiln.onnx.GatherND %x, %i : (tensor<1x?x768xf32>, tensor<4x4xi64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @gather_nd_result_rank(%x: tensor<1x?x768xf32>, %i: tensor<1x4x1xi64>)
    -> tensor<1x4x1x768xf32> {
  // expected-error @+1 {{result must have rank 3, got 'tensor<1x4x1x768xf32>'}}
  %0 = kiln.onnx.GatherND %x, %i {batch_dims = 1 : i64}
      : (tensor<1x?x768xf32>, tensor<1x4x1xi64>) -> tensor<1x4x1x768xf32>
  return %0 : tensor<1x4x1x768xf32>
}

// -----

func.func @scatter_nd_reduction(%x: tensor<4096x768xf32>, %i: tensor<?x1xi64>,
                                %u: tensor<?x768xf32>)
    -> tensor<4096x768xf32> {
  // expected-error @+1 {{'reduction' must be none, add, mul, max or min, got 'sum'}}
  %0 = kiln.onnx.ScatterND %x, %i, %u {reduction = "sum"}
      : (tensor<4096x768xf32>, tensor<?x1xi64>, tensor<?x768xf32>) -> tensor<4096x768xf32>
  return %0 : tensor<4096x768xf32>
}

// -----

func.func @scatter_nd_scalar_indices(%x: tensor<4096x768xf32>, %i: tensor<i64>, %u: tensor<768xf32>)
    -> tensor<4096x768xf32> {
  // expected-error @+1 {{indices must have rank >= 1, got 'tensor<i64>'}}
  %0 = kiln.onnx.ScatterND %x, %i, %u
      : (tensor<4096x768xf32>, tensor<i64>, tensor<768xf32>) -> tensor<4096x768xf32>
  return %0 : tensor<4096x768xf32>
}

// -----

func.func @scatter_nd_tuple_length(%x: tensor<4096x768xf32>, %i: tensor<?x3xi64>, %u: tensor<?xf32>)
    -> tensor<4096x768xf32> {
  // expected-error @+1 {{index tuples of length 3 exceed the data rank 2}}
  %0 = kiln.onnx.ScatterND %x, %i, %u
      : (tensor<4096x768xf32>, tensor<?x3xi64>, tensor<?xf32>) -> tensor<4096x768xf32>
  return %0 : tensor<4096x768xf32>
}

// -----

func.func @scatter_nd_updates_rank(%x: tensor<4096x768xf32>, %i: tensor<?x1xi64>, %u: tensor<?xf32>)
    -> tensor<4096x768xf32> {
  // expected-error @+1 {{updates must have rank 2, got 'tensor<?xf32>'}}
  %0 = kiln.onnx.ScatterND %x, %i, %u
      : (tensor<4096x768xf32>, tensor<?x1xi64>, tensor<?xf32>) -> tensor<4096x768xf32>
  return %0 : tensor<4096x768xf32>
}

// -----

func.func @trilu_upper_flag(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'upper' must be 0 or 1, got 2}}
  %0 = kiln.onnx.Trilu %x {upper = 2 : i64} : (tensor<?x?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @trilu_k_rank(%x: tensor<?x?xf32>, %k: tensor<1xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{k must have rank 0, got 'tensor<1xi64>'}}
  %0 = kiln.onnx.Trilu %x, %k : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @trilu_input_rank(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{input must have rank >= 2, got 'tensor<?xf32>'}}
  %0 = kiln.onnx.Trilu %x : (tensor<?xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

//===----------------------------------------------------------------------===//
// Traits and type constraints from KilnGraphOps.td
//===----------------------------------------------------------------------===//

// -----

// ResultsBroadcastableShape: the operands must broadcast.
func.func @add_not_broadcastable(%a: tensor<1x?x768xf32>, %b: tensor<1024xf32>)
    -> tensor<1x?x768xf32> {
  // expected-error @+1 {{operands don't have broadcast-compatible shapes}}
  %0 = kiln.onnx.Add %a, %b : (tensor<1x?x768xf32>, tensor<1024xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

// ResultsBroadcastableShape: the result must have the broadcast shape.
func.func @where_result_not_broadcast(%c: tensor<1x1x?x?xi1>, %x: tensor<1x12x?x?xf32>,
                                      %y: tensor<f32>) -> tensor<1x8x?x?xf32> {
  // expected-error @+1 {{result type '1x8x?x?' not broadcast compatible with broadcasted operands's shapes '1x12x?x?'}}
  %0 = kiln.onnx.Where %c, %x, %y
      : (tensor<1x1x?x?xi1>, tensor<1x12x?x?xf32>, tensor<f32>) -> tensor<1x8x?x?xf32>
  return %0 : tensor<1x8x?x?xf32>
}

// -----

// SameOperandsAndResultElementType (binary ops).
func.func @mul_element_types(%a: tensor<1x?x768xf32>, %b: tensor<768xf16>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{requires the same element type for all operands and results}}
  %0 = kiln.onnx.Mul %a, %b : (tensor<1x?x768xf32>, tensor<768xf16>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

// SameOperandsAndResultElementType (variadic ops).
func.func @max_element_types(%a: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?xf16> {
  // expected-error @+1 {{requires the same element type for all operands and results}}
  %0 = kiln.onnx.Max %a, %b : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf16>
  return %0 : tensor<?xf16>
}

// -----

// SameOperandsAndResultElementType (Concat).
func.func @concat_element_types(%a: tensor<1xi64>, %b: tensor<2xi32>) -> tensor<3xi64> {
  // expected-error @+1 {{requires the same element type for all operands and results}}
  %0 = kiln.onnx.Concat %a, %b {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi32>) -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

// AllElementTypesMatch (contractions).
func.func @matmul_element_types(%a: tensor<1x?x768xf32>, %b: tensor<768x2304xf16>)
    -> tensor<1x?x2304xf32> {
  // expected-error @+1 {{failed to verify that all of {a, b, output} have same element type}}
  %0 = kiln.onnx.MatMul %a, %b : (tensor<1x?x768xf32>, tensor<768x2304xf16>) -> tensor<1x?x2304xf32>
  return %0 : tensor<1x?x2304xf32>
}

// -----

// AllElementTypesMatch (comparisons): a and b, not the i1 result.
func.func @less_element_types(%a: tensor<?x1xi64>, %b: tensor<1x?xi32>) -> tensor<?x?xi1> {
  // expected-error @+1 {{failed to verify that all of {a, b} have same element type}}
  %0 = kiln.onnx.Less %a, %b : (tensor<?x1xi64>, tensor<1x?xi32>) -> tensor<?x?xi1>
  return %0 : tensor<?x?xi1>
}

// -----

// AllElementTypesMatch (Pow): base and result; the exponent is free.
func.func @pow_element_types(%a: tensor<?xf32>, %e: tensor<f32>) -> tensor<?xf16> {
  // expected-error @+1 {{failed to verify that all of {base, output} have same element type}}
  %0 = kiln.onnx.Pow %a, %e : (tensor<?xf32>, tensor<f32>) -> tensor<?xf16>
  return %0 : tensor<?xf16>
}

// -----

// AllElementTypesMatch (layout ops).
func.func @reshape_element_types(%x: tensor<1x?x768xf32>, %s: tensor<4xi64>)
    -> tensor<1x?x12x64xf16> {
  // expected-error @+1 {{failed to verify that all of {data, reshaped} have same element type}}
  %0 = kiln.onnx.Reshape %x, %s : (tensor<1x?x768xf32>, tensor<4xi64>) -> tensor<1x?x12x64xf16>
  return %0 : tensor<1x?x12x64xf16>
}

// -----

// AllTypesMatch (ScatterND: data and result).
func.func @scatter_nd_result_type(%x: tensor<4096x768xf32>, %i: tensor<?x1xi64>,
                                  %u: tensor<?x768xf32>)
    -> tensor<?x768xf32> {
  // expected-error @+1 {{failed to verify that all of {data, output} have same type}}
  %0 = kiln.onnx.ScatterND %x, %i, %u
      : (tensor<4096x768xf32>, tensor<?x1xi64>, tensor<?x768xf32>) -> tensor<?x768xf32>
  return %0 : tensor<?x768xf32>
}

// -----

// AllTypesMatch (RotaryEmbedding: input and result).
func.func @rotary_result_type(%x: tensor<1x32x?x64xf32>, %c: tensor<4096x32xf32>,
                              %pos: tensor<1x?xi64>) -> tensor<1x32x?x64xf16> {
  // expected-error @+1 {{failed to verify that all of {input, output} have same type}}
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %c, %pos
      : (tensor<1x32x?x64xf32>, tensor<4096x32xf32>, tensor<4096x32xf32>, tensor<1x?xi64>)
      -> tensor<1x32x?x64xf16>
  return %0 : tensor<1x32x?x64xf16>
}

// -----

// AllTypesMatch (kiln.constant: value and result); only the generic form can state both.
func.func @constant_type_mismatch() -> tensor<3xi64> {
  // expected-error @+1 {{failed to verify that all of {value, result} have same type}}
  %0 = "kiln.constant"() <{value = dense<[1, 2]> : tensor<2xi64>}> : () -> tensor<3xi64>
  return %0 : tensor<3xi64>
}

// -----

// SameOperandsAndResultType (unary ops).
func.func @sqrt_result_type(%x: tensor<1x?x768xf32>) -> tensor<1x?x768xf16> {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = kiln.onnx.Sqrt %x : (tensor<1x?x768xf32>) -> tensor<1x?x768xf16>
  return %0 : tensor<1x?x768xf16>
}

// -----

// SameOperandsAndResultType (Softmax): the shape, too.
func.func @softmax_result_shape(%x: tensor<1x12x16x16xf32>) -> tensor<1x12x16x8xf32> {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = kiln.onnx.Softmax %x : (tensor<1x12x16x16xf32>) -> tensor<1x12x16x8xf32>
  return %0 : tensor<1x12x16x8xf32>
}

// -----

// SameOperandsAndResultShape (IsNaN, Cast).
func.func @cast_result_shape(%x: tensor<1x16x768xf32>) -> tensor<1x16x1024xf16> {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %0 = kiln.onnx.Cast %x {to = f16} : (tensor<1x16x768xf32>) -> tensor<1x16x1024xf16>
  return %0 : tensor<1x16x1024xf16>
}

// -----

// Element type constraints: Sqrt takes floats only.
func.func @sqrt_on_integers(%x: tensor<?xi64>) -> tensor<?xi64> {
  // expected-error @+1 {{operand #0 must be tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %0 = kiln.onnx.Sqrt %x : (tensor<?xi64>) -> tensor<?xi64>
  return %0 : tensor<?xi64>
}

// -----

// Element type constraints: Not takes booleans only.
func.func @not_on_floats(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{operand #0 must be tensor of 1-bit signless integer values}}
  %0 = kiln.onnx.Not %x : (tensor<?xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// Element type constraints: IsNaN produces booleans.
func.func @isnan_result_type(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{result #0 must be tensor of 1-bit signless integer values}}
  %0 = kiln.onnx.IsNaN %x : (tensor<?xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// Element type constraints: Gather indices are i32 or i64.
func.func @gather_float_indices(%wte: tensor<50257x768xf32>, %ids: tensor<1x?xf32>)
    -> tensor<1x?x768xf32> {
  // expected-error @+1 {{operand #1 must be tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = kiln.onnx.Gather %wte, %ids : (tensor<50257x768xf32>, tensor<1x?xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

// AttrSizedOperandSegments: the segment sizes must add up to the operands.
func.func @clip_segment_sizes(%x: tensor<1x?x768xf32>, %lo: tensor<f32>) -> tensor<1x?x768xf32> {
  // expected-error @+1 {{operand count (2) does not match with the total size (1) specified in attribute 'operandSegmentSizes'}}
  %0 = kiln.onnx.Clip %x, %lo {operandSegmentSizes = array<i32: 1, 0, 0>}
      : (tensor<1x?x768xf32>, tensor<f32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

// AttrSizedResultSegments: the segment sizes must add up to the results.
func.func @attention_result_segments(%q: tensor<1x32x?x64xf32>, %kv: tensor<1x8x?x64xf32>)
    -> tensor<1x32x?x64xf32> {
  // expected-error @+1 {{result count (1) does not match with the total size (2) specified in attribute 'resultSegmentSizes'}}
  %0 = kiln.onnx.Attention %q, %kv, %kv {
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 1>}
      : (tensor<1x32x?x64xf32>, tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}
