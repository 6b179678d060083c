// RUN: kiln-opt %s -split-input-file -kiln-fuse-attention | FileCheck %s
// RUN: kiln-opt %s -split-input-file -kiln-fuse-attention=remarks=true -verify-diagnostics -o /dev/null

// kiln-fuse-attention: one case per accepted form of an attention block (decomposed around a
// Softmax, or ONNX's Attention op), then near-misses that must stay as they are, with the failed
// check recorded as `kiln.fusion_failure` (and a remark with `remarks=true`). Fused cases emit no
// remark: the second RUN line would reject one.

// MHA: the scores scaled by Mul of a scalar constant, a constant additive causal mask
// [1, 1, S, S] (0 on and below the diagonal, the lowest float above it).

// CHECK-LABEL: func.func @mha_mul_scale_constant_causal
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: %[[O:.*]] = kiln.attention %arg0, %arg1, %arg2 heads 2 kv_heads 2 head_dim 8 scale 0.353553385 causal : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[O]]
func.func @mha_mul_scale_constant_causal(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                                         %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %mask = kiln.constant dense<[[[[0.0, -3.4028e38, -3.4028e38, -3.4028e38],
                                 [0.0, 0.0, -3.4028e38, -3.4028e38],
                                 [0.0, 0.0, 0.0, -3.4028e38],
                                 [0.0, 0.0, 0.0, 0.0]]]]> : tensor<1x1x4x4xf32>
  %a = kiln.onnx.Add %m, %mask : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// The scale as Div by sqrt(head_dim); K^T taken straight from a [b, s, h, d] value by one
// Transpose [0, 2, 3, 1]: the fused op reads K through a new Transpose [0, 2, 1, 3].

// CHECK-LABEL: func.func @div_scale_pretransposed_key
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: %[[K:.*]] = kiln.onnx.Transpose %arg1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x2x8xf32>) -> tensor<1x2x4x8xf32>
// CHECK: %[[O:.*]] = kiln.attention %arg0, %[[K]], %arg2 heads 2 kv_heads 2 head_dim 8 scale 0.353553385 : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[O]]
func.func @div_scale_pretransposed_key(%q: tensor<1x2x4x8xf32>, %x: tensor<1x4x2x8xf32>,
                                       %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x4x2x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<2.82842708> : tensor<f32>
  %d = kiln.onnx.Div %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %d {axis = 3 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// The scale split between Q and K^T (Mul(Q, c), Mul(K^T, c)): the fused scale is c * c.

// CHECK-LABEL: func.func @scale_on_query_and_key
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: kiln.attention %arg0, %arg1, %arg2 heads 2 kv_heads 2 head_dim 8 scale 2.500000e-01 : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: kiln.onnx
func.func @scale_on_query_and_key(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                                  %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %c = kiln.constant dense<0.5> : tensor<f32>
  %qs = kiln.onnx.Mul %q, %c : (tensor<1x2x4x8xf32>, tensor<f32>) -> tensor<1x2x4x8xf32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %kts = kiln.onnx.Mul %kt, %c : (tensor<1x2x8x4xf32>, tensor<f32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %qs, %kts : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %s {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// GQA through repeat_kv on K and V (Unsqueeze axis 2, Expand to [b, hkv, g, s, d], Reshape to
// [b, hkv * g, s, d]): the fused op reads the 2 K/V heads as they are.

// CHECK-LABEL: func.func @gqa_repeat_kv
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: %[[O:.*]] = kiln.attention %arg0, %arg1, %arg2 heads 4 kv_heads 2 head_dim 8 scale 0.353553385 causal : tensor<1x4x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x4x4x8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[O]]
func.func @gqa_repeat_kv(%q: tensor<1x4x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                         %v: tensor<1x2x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %axis = kiln.constant dense<2> : tensor<1xi64>
  %expanded = kiln.constant dense<[1, 2, 2, 4, 8]> : tensor<5xi64>
  %merged = kiln.constant dense<[1, 4, 4, 8]> : tensor<4xi64>
  %ku = kiln.onnx.Unsqueeze %k, %axis : (tensor<1x2x4x8xf32>, tensor<1xi64>) -> tensor<1x2x1x4x8xf32>
  %ke = kiln.onnx.Expand %ku, %expanded : (tensor<1x2x1x4x8xf32>, tensor<5xi64>) -> tensor<1x2x2x4x8xf32>
  %kr = kiln.onnx.Reshape %ke, %merged : (tensor<1x2x2x4x8xf32>, tensor<4xi64>) -> tensor<1x4x4x8xf32>
  %vu = kiln.onnx.Unsqueeze %v, %axis : (tensor<1x2x4x8xf32>, tensor<1xi64>) -> tensor<1x2x1x4x8xf32>
  %ve = kiln.onnx.Expand %vu, %expanded : (tensor<1x2x1x4x8xf32>, tensor<5xi64>) -> tensor<1x2x2x4x8xf32>
  %vr = kiln.onnx.Reshape %ve, %merged : (tensor<1x2x2x4x8xf32>, tensor<4xi64>) -> tensor<1x4x4x8xf32>
  %kt = kiln.onnx.Transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x4x8xf32>) -> tensor<1x4x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x4x4x8xf32>, tensor<1x4x8x4xf32>) -> tensor<1x4x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x4x4x4xf32>, tensor<f32>) -> tensor<1x4x4x4xf32>
  %mask = kiln.constant dense<[[0.0, 0xFF800000, 0xFF800000, 0xFF800000],
                               [0.0, 0.0, 0xFF800000, 0xFF800000],
                               [0.0, 0.0, 0.0, 0xFF800000],
                               [0.0, 0.0, 0.0, 0.0]]> : tensor<4x4xf32>
  %a = kiln.onnx.Add %m, %mask : (tensor<1x4x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4x4xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %o = kiln.onnx.MatMul %p, %vr : (tensor<1x4x4x4xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// -----

// MQA through broadcasting: K and V have one head, which the two MatMuls broadcast to Q's 4.

// CHECK-LABEL: func.func @mqa_broadcast
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: kiln.attention %arg0, %arg1, %arg2 heads 4 kv_heads 1 head_dim 8 scale 0.353553385 : tensor<1x4x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32> -> tensor<1x4x4x8xf32>
// CHECK-NOT: kiln.onnx
func.func @mqa_broadcast(%q: tensor<1x4x4x8xf32>, %k: tensor<1x1x4x8xf32>,
                         %v: tensor<1x1x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x1x4x8xf32>) -> tensor<1x1x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x4x4x8xf32>, tensor<1x1x8x4xf32>) -> tensor<1x4x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %c, %s : (tensor<f32>, tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %p = kiln.onnx.Softmax %m {axis = -1 : i64} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x4x4x4xf32>, tensor<1x1x4x8xf32>) -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// -----

// Dynamic seq (one `seq` symbol for Q, K and V): the causal mask is built at run time from
// Range(0, seq, 1), key index <= query index (LessOrEqual of the two Unsqueezed ranges), and
// Where(mask, 0, -inf), added to the scaled scores. The index analysis proves it causal.

// CHECK-LABEL: func.func @dynamic_seq_range_causal
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: %[[O:.*]] = kiln.attention %arg0, %arg1, %arg2 heads 4 kv_heads 4 head_dim 32 scale 0.176776692 causal : tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32> -> tensor<1x4x?x32xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[O]]
func.func @dynamic_seq_range_causal(
    %q: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %k: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %v: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]}) -> tensor<1x4x?x32xf32> {
  %shape = kiln.onnx.Shape %q {end = 3 : i64, start = 2 : i64} : (tensor<1x4x?x32xf32>) -> tensor<1xi64>
  %len = kiln.onnx.Squeeze %shape : (tensor<1xi64>) -> tensor<i64>
  %zero = kiln.constant dense<0> : tensor<i64>
  %one = kiln.constant dense<1> : tensor<i64>
  %range = kiln.onnx.Range %zero, %len, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %kv_axes = kiln.constant dense<[0, 1, 2]> : tensor<3xi64>
  %q_axes = kiln.constant dense<[0, 1, 3]> : tensor<3xi64>
  %kv_index = kiln.onnx.Unsqueeze %range, %kv_axes : (tensor<?xi64>, tensor<3xi64>) -> tensor<1x1x1x?xi64>
  %q_index = kiln.onnx.Unsqueeze %range, %q_axes : (tensor<?xi64>, tensor<3xi64>) -> tensor<1x1x?x1xi64>
  %visible = kiln.onnx.LessOrEqual %kv_index, %q_index : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  %fzero = kiln.constant dense<0.0> : tensor<f32>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %mask = kiln.onnx.Where %visible, %fzero, %ninf : (tensor<1x1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x?x?xf32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x?x32xf32>) -> tensor<1x4x32x?xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x4x?x32xf32>, tensor<1x4x32x?xf32>) -> tensor<1x4x?x?xf32>
  %c = kiln.constant dense<0.176776695> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x4x?x?xf32>, tensor<f32>) -> tensor<1x4x?x?xf32>
  %a = kiln.onnx.Add %m, %mask : (tensor<1x4x?x?xf32>, tensor<1x1x?x?xf32>) -> tensor<1x4x?x?xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x4x?x?xf32>) -> tensor<1x4x?x?xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x4x?x?xf32>, tensor<1x4x?x32xf32>) -> tensor<1x4x?x32xf32>
  return %o : tensor<1x4x?x32xf32>
}

// -----

// A causal mask from Trilu of ones: ConstantOfShape(1.0), Trilu lower, Equal(tril, 1) as the
// visible positions, Where(visible, 0, -inf) added to the scores.

// CHECK-LABEL: func.func @trilu_additive_causal
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: %[[O:.*]] = kiln.attention %arg0, %arg1, %arg2 heads 2 kv_heads 2 head_dim 8 scale 0.353553385 causal : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[O]]
func.func @trilu_additive_causal(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                                 %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %shape = kiln.constant dense<[4, 4]> : tensor<2xi64>
  %ones = kiln.onnx.ConstantOfShape %shape {value = dense<1.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<4x4xf32>
  %tril = kiln.onnx.Trilu %ones {upper = 0 : i64} : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %fzero = kiln.constant dense<0.0> : tensor<f32>
  %fone = kiln.constant dense<1.0> : tensor<f32>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %visible = kiln.onnx.Equal %tril, %fone : (tensor<4x4xf32>, tensor<f32>) -> tensor<4x4xi1>
  %mask = kiln.onnx.Where %visible, %fzero, %ninf : (tensor<4x4xi1>, tensor<f32>, tensor<f32>) -> tensor<4x4xf32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %a = kiln.onnx.Add %m, %mask : (tensor<1x2x4x4xf32>, tensor<4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// The Trilu mask as a boolean: Cast(Trilu(ones i64), i1), applied as Where(mask, scores, -inf).

// CHECK-LABEL: func.func @trilu_bool_where_causal
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: %[[O:.*]] = kiln.attention %arg0, %arg1, %arg2 heads 2 kv_heads 2 head_dim 8 scale 0.353553385 causal : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[O]]
func.func @trilu_bool_where_causal(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                                   %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %shape = kiln.constant dense<[4, 4]> : tensor<2xi64>
  %ones = kiln.onnx.ConstantOfShape %shape {value = dense<1> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<4x4xi64>
  %tril = kiln.onnx.Trilu %ones {upper = 0 : i64} : (tensor<4x4xi64>) -> tensor<4x4xi64>
  %visible = kiln.onnx.Cast %tril {to = i1} : (tensor<4x4xi64>) -> tensor<4x4xi1>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %w = kiln.onnx.Where %visible, %m, %ninf : (tensor<4x4xi1>, tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %w {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// A boolean padding mask (true = attend) from an argument, applied as Where(mask, scores,
// -inf): kept as the fused op's i1 mask.

// CHECK-LABEL: func.func @bool_padding_mask
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: kiln.attention %arg0, %arg1, %arg2 mask(%arg3 : tensor<1x1x1x4xi1>) heads 2 kv_heads 2 head_dim 8 scale 0.353553385 : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: kiln.onnx
func.func @bool_padding_mask(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                             %v: tensor<1x2x4x8xf32>, %pad: tensor<1x1x1x4xi1>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %w = kiln.onnx.Where %pad, %m, %ninf : (tensor<1x1x1x4xi1>, tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %w {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// A float additive padding mask [1, 1, 1, S] from an argument, added after the scale.

// CHECK-LABEL: func.func @float_padding_mask
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: kiln.attention %arg0, %arg1, %arg2 mask(%arg3 : tensor<1x1x1x4xf32>) heads 2 kv_heads 2 head_dim 8 scale 0.353553385 : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: kiln.onnx
func.func @float_padding_mask(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                              %v: tensor<1x2x4x8xf32>, %pad: tensor<1x1x1x4xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %a = kiln.onnx.Add %m, %pad : (tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Half-precision scores cast to f32 for the Softmax and back to f16 for the P.V MatMul.

// CHECK-LABEL: func.func @cast_around_softmax
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: kiln.attention %arg0, %arg1, %arg2 heads 2 kv_heads 2 head_dim 16 scale 2.500000e-01 : tensor<1x2x4x16xf16>, tensor<1x2x4x16xf16>, tensor<1x2x4x16xf16> -> tensor<1x2x4x16xf16>
// CHECK-NOT: kiln.onnx
func.func @cast_around_softmax(%q: tensor<1x2x4x16xf16>, %k: tensor<1x2x4x16xf16>,
                               %v: tensor<1x2x4x16xf16>) -> tensor<1x2x4x16xf16> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x16xf16>) -> tensor<1x2x16x4xf16>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x16xf16>, tensor<1x2x16x4xf16>) -> tensor<1x2x4x4xf16>
  %c = kiln.constant dense<4.0> : tensor<f16>
  %d = kiln.onnx.Div %s, %c : (tensor<1x2x4x4xf16>, tensor<f16>) -> tensor<1x2x4x4xf16>
  %up = kiln.onnx.Cast %d {to = f32} : (tensor<1x2x4x4xf16>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %up {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %down = kiln.onnx.Cast %p {to = f16} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf16>
  %o = kiln.onnx.MatMul %down, %v : (tensor<1x2x4x4xf16>, tensor<1x2x4x16xf16>) -> tensor<1x2x4x16xf16>
  return %o : tensor<1x2x4x16xf16>
}

// -----

// The guard for fully masked rows after the Softmax: Where(IsNaN(p), 0, p).

// CHECK-LABEL: func.func @isnan_guard
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: kiln.attention %arg0, %arg1, %arg2 mask(%arg3 : tensor<1x1x1x4xf32>) heads 2 kv_heads 2 head_dim 8 scale 0.353553385 : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: kiln.onnx
func.func @isnan_guard(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                       %v: tensor<1x2x4x8xf32>, %pad: tensor<1x1x1x4xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %a = kiln.onnx.Add %m, %pad : (tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %nan = kiln.onnx.IsNaN %p : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xi1>
  %fzero = kiln.constant dense<0.0> : tensor<f32>
  %g = kiln.onnx.Where %nan, %fzero, %p : (tensor<1x2x4x4xi1>, tensor<f32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %g, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// ONNX Attention, 4-D, is_causal and no scale attribute: the scale is 1/sqrt(head_dim).

// CHECK-LABEL: func.func @onnx_attention_4d_causal
// CHECK-NOT: kiln.onnx.Attention
// CHECK: %[[O:.*]] = kiln.attention %arg0, %arg1, %arg2 heads 4 kv_heads 2 head_dim 8 scale 0.353553385 causal : tensor<1x4x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x4x4x8xf32>
// CHECK: return %[[O]]
func.func @onnx_attention_4d_causal(%q: tensor<1x4x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                                    %v: tensor<1x2x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %o = kiln.onnx.Attention %q, %k, %v {is_causal = 1 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x4x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// -----

// ONNX Attention, 3-D [b, s, h * d] with q_num_heads/kv_num_heads: heads are split by a
// Reshape + Transpose before the fused op and merged back after it.

// CHECK-LABEL: func.func @onnx_attention_3d
// CHECK-NOT: kiln.onnx.Attention
// CHECK: %[[QS:.*]] = kiln.constant dense<[0, 0, 4, 8]> : tensor<4xi64>
// CHECK: %[[QR:.*]] = kiln.onnx.Reshape %arg0, %[[QS]] : (tensor<1x3x32xf32>, tensor<4xi64>) -> tensor<1x3x4x8xf32>
// CHECK: %[[Q:.*]] = kiln.onnx.Transpose %[[QR]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x4x8xf32>) -> tensor<1x4x3x8xf32>
// CHECK: %[[KS:.*]] = kiln.constant dense<[0, 0, 2, 8]> : tensor<4xi64>
// CHECK: %[[KR:.*]] = kiln.onnx.Reshape %arg1, %[[KS]] : (tensor<1x3x16xf32>, tensor<4xi64>) -> tensor<1x3x2x8xf32>
// CHECK: %[[K:.*]] = kiln.onnx.Transpose %[[KR]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x8xf32>) -> tensor<1x2x3x8xf32>
// CHECK: %[[VS:.*]] = kiln.constant dense<[0, 0, 2, 8]> : tensor<4xi64>
// CHECK: %[[VR:.*]] = kiln.onnx.Reshape %arg2, %[[VS]] : (tensor<1x3x16xf32>, tensor<4xi64>) -> tensor<1x3x2x8xf32>
// CHECK: %[[V:.*]] = kiln.onnx.Transpose %[[VR]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x8xf32>) -> tensor<1x2x3x8xf32>
// CHECK: %[[A:.*]] = kiln.attention %[[Q]], %[[K]], %[[V]] heads 4 kv_heads 2 head_dim 8 scale 1.250000e-01 : tensor<1x4x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32> -> tensor<1x4x3x8xf32>
// CHECK: %[[T:.*]] = kiln.onnx.Transpose %[[A]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x3x8xf32>) -> tensor<1x3x4x8xf32>
// CHECK: %[[OS:.*]] = kiln.constant dense<[0, 0, 32]> : tensor<3xi64>
// CHECK: %[[O:.*]] = kiln.onnx.Reshape %[[T]], %[[OS]] : (tensor<1x3x4x8xf32>, tensor<3xi64>) -> tensor<1x3x32xf32>
// CHECK: return %[[O]]
func.func @onnx_attention_3d(%q: tensor<1x3x32xf32>, %k: tensor<1x3x16xf32>,
                             %v: tensor<1x3x16xf32>) -> tensor<1x3x32xf32> {
  %o = kiln.onnx.Attention %q, %k, %v {kv_num_heads = 2 : i64, q_num_heads = 4 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>, scale = 0.125 : f32}
      : (tensor<1x3x32xf32>, tensor<1x3x16xf32>, tensor<1x3x16xf32>) -> tensor<1x3x32xf32>
  return %o : tensor<1x3x32xf32>
}

// -----

// A decomposed block whose scale is not 1/sqrt(head_dim): the fused op carries the graph's
// scale (the pass never assumes 1/sqrt(d) for a decomposed graph).

// CHECK-LABEL: func.func @decomposed_scale_half
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: kiln.attention %arg0, %arg1, %arg2 heads 2 kv_heads 2 head_dim 8 scale 5.000000e-01 : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
func.func @decomposed_scale_half(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                                 %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.5> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %m {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Near-miss: the Softmax normalizes over the queries (axis 2), not the keys.

// CHECK-LABEL: func.func @softmax_axis_2
// CHECK-NOT: kiln.attention
// CHECK: kiln.onnx.Softmax %{{.*}} {axis = 2 : i64, kiln.fusion_failure = "softmax axis is 2, not the last (keys) axis"}
// CHECK-NOT: kiln.attention
func.func @softmax_axis_2(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                          %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  // expected-remark @+1 {{attention not fused: softmax axis is 2, not the last (keys) axis}}
  %p = kiln.onnx.Softmax %s {axis = 2 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Near-miss: Q has 4 heads, K and V 3 (not a divisor of 4).

// CHECK-LABEL: func.func @heads_not_a_multiple
// CHECK-NOT: kiln.attention
// CHECK: kiln.onnx.Softmax %{{.*}} {kiln.fusion_failure = "Q has 4 heads, not a multiple of K's 3"}
// CHECK-NOT: kiln.attention
func.func @heads_not_a_multiple(%q: tensor<1x4x4x8xf32>, %k: tensor<1x3x4x8xf32>,
                                %v: tensor<1x3x4x8xf32>) -> tensor<1x4x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x3x4x8xf32>) -> tensor<1x3x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x4x4x8xf32>, tensor<1x3x8x4xf32>) -> tensor<1x4x4x4xf32>
  // expected-remark @+1 {{attention not fused: Q has 4 heads, not a multiple of K's 3}}
  %p = kiln.onnx.Softmax %s {axis = -1 : i64} : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x4x4x4xf32>, tensor<1x3x4x8xf32>) -> tensor<1x4x4x8xf32>
  return %o : tensor<1x4x4x8xf32>
}

// -----

// Near-miss: a negative scale.

// CHECK-LABEL: func.func @negative_scale
// CHECK-NOT: kiln.attention
// CHECK: kiln.onnx.Softmax %{{.*}} {kiln.fusion_failure = "scores are scaled by a value that is not a positive scalar constant"}
// CHECK-NOT: kiln.attention
func.func @negative_scale(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                          %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<-0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  // expected-remark @+1 {{attention not fused: scores are scaled by a value that is not a positive scalar constant}}
  %p = kiln.onnx.Softmax %m {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Near-miss: the probabilities are also returned (a second user of the Softmax).

// CHECK-LABEL: func.func @softmax_second_user
// CHECK-NOT: kiln.attention
// CHECK: %[[P:.*]] = kiln.onnx.Softmax %{{.*}} {kiln.fusion_failure = "softmax result has users other than the P.V MatMul and a NaN guard"}
// CHECK: %[[O:.*]] = kiln.onnx.MatMul %[[P]], %arg2
// CHECK: return %[[O]], %[[P]]
func.func @softmax_second_user(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                               %v: tensor<1x2x4x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>) {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  // expected-remark @+1 {{attention not fused: softmax result has users other than the P.V MatMul and a NaN guard}}
  %p = kiln.onnx.Softmax %s {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o, %p : tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>
}

// -----

// Near-miss: a (non-causal) additive mask added before the scale, which scales it too;
// kiln.attention adds its mask after the scale.

// CHECK-LABEL: func.func @mask_before_scale
// CHECK-NOT: kiln.attention
// CHECK: kiln.onnx.Softmax %{{.*}} {kiln.fusion_failure = "an additive mask is applied before the scale"}
// CHECK-NOT: kiln.attention
func.func @mask_before_scale(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                             %v: tensor<1x2x4x8xf32>, %pad: tensor<1x1x1x4xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %a = kiln.onnx.Add %s, %pad : (tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %a, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  // expected-remark @+1 {{attention not fused: an additive mask is applied before the scale}}
  %p = kiln.onnx.Softmax %m {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Near-miss: ONNX Attention with past_key/past_value (left to the KV cache pass).

// CHECK-LABEL: func.func @onnx_attention_past_key
// CHECK-NOT: kiln.attention
// CHECK: kiln.onnx.Attention %arg0, %arg1, %arg2, %arg3, %arg4 {kiln.fusion_failure = "past_key/past_value inputs are not fused (the KV cache pass handles them)"
// CHECK-NOT: kiln.attention
func.func @onnx_attention_past_key(%q: tensor<1x2x1x8xf32>, %k: tensor<1x2x1x8xf32>,
                                   %v: tensor<1x2x1x8xf32>, %pk: tensor<1x2x3x8xf32>,
                                   %pv: tensor<1x2x3x8xf32>) -> tensor<1x2x1x8xf32> {
  // expected-remark @+1 {{attention not fused: past_key/past_value inputs are not fused (the KV cache pass handles them)}}
  %o = kiln.onnx.Attention %q, %k, %v, %pk, %pv {
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 1>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x3x8xf32>,
         tensor<1x2x3x8xf32>) -> tensor<1x2x1x8xf32>
  return %o : tensor<1x2x1x8xf32>
}

// -----

// Near-miss: ONNX Attention is_causal with q_len 2 != kv_len 4 (ONNX aligns the diagonal
// top-left, kiln.attention bottom-right).

// CHECK-LABEL: func.func @onnx_attention_causal_lengths_differ
// CHECK-NOT: kiln.attention
// CHECK: kiln.onnx.Attention %arg0, %arg1, %arg2 {is_causal = 1 : i64, kiln.fusion_failure = "is_causal with q_len 2 and kv_len 4 not known to be equal"
// CHECK-NOT: kiln.attention
func.func @onnx_attention_causal_lengths_differ(%q: tensor<1x2x2x8xf32>, %k: tensor<1x2x4x8xf32>,
                                                %v: tensor<1x2x4x8xf32>) -> tensor<1x2x2x8xf32> {
  // expected-remark @+1 {{attention not fused: is_causal with q_len 2 and kv_len 4 not known to be equal}}
  %o = kiln.onnx.Attention %q, %k, %v {is_causal = 1 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x2x2x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x2x8xf32>
  return %o : tensor<1x2x2x8xf32>
}

// -----

// Not causal although it looks so: a constant mask that is causal except for one element
// (row 2 also hides key 0). It is fused as a kept mask, without `causal`.

// CHECK-LABEL: func.func @constant_mask_almost_causal
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: %[[M:.*]] = kiln.constant dense<{{.*}}> : tensor<1x1x4x4xf32>
// CHECK: kiln.attention %arg0, %arg1, %arg2 mask(%[[M]] : tensor<1x1x4x4xf32>) heads 2 kv_heads 2 head_dim 8 scale 0.353553385 : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
// CHECK-NOT: causal
func.func @constant_mask_almost_causal(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                                       %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %c = kiln.constant dense<0.353553391> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %mask = kiln.constant dense<[[[[0.0, -3.4028e38, -3.4028e38, -3.4028e38],
                                 [0.0, 0.0, -3.4028e38, -3.4028e38],
                                 [-3.4028e38, 0.0, 0.0, -3.4028e38],
                                 [0.0, 0.0, 0.0, 0.0]]]]> : tensor<1x1x4x4xf32>
  %a = kiln.onnx.Add %m, %mask : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Not causal although it looks so: the dynamic mask compares with Less (key < query), which
// also hides the diagonal. It is fused as a kept mask, without `causal`.

// CHECK-LABEL: func.func @dynamic_mask_less
// CHECK-NOT: kiln.onnx.Softmax
// CHECK: %[[M:.*]] = kiln.onnx.Where
// CHECK: kiln.attention %arg0, %arg1, %arg2 mask(%[[M]] : tensor<1x1x?x?xf32>) heads 4 kv_heads 4 head_dim 32 scale 0.176776692 : tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32> -> tensor<1x4x?x32xf32>
// CHECK-NOT: causal
func.func @dynamic_mask_less(
    %q: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %k: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %v: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]}) -> tensor<1x4x?x32xf32> {
  %shape = kiln.onnx.Shape %q {end = 3 : i64, start = 2 : i64} : (tensor<1x4x?x32xf32>) -> tensor<1xi64>
  %len = kiln.onnx.Squeeze %shape : (tensor<1xi64>) -> tensor<i64>
  %zero = kiln.constant dense<0> : tensor<i64>
  %one = kiln.constant dense<1> : tensor<i64>
  %range = kiln.onnx.Range %zero, %len, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %kv_axes = kiln.constant dense<[0, 1, 2]> : tensor<3xi64>
  %q_axes = kiln.constant dense<[0, 1, 3]> : tensor<3xi64>
  %kv_index = kiln.onnx.Unsqueeze %range, %kv_axes : (tensor<?xi64>, tensor<3xi64>) -> tensor<1x1x1x?xi64>
  %q_index = kiln.onnx.Unsqueeze %range, %q_axes : (tensor<?xi64>, tensor<3xi64>) -> tensor<1x1x?x1xi64>
  %visible = kiln.onnx.Less %kv_index, %q_index : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  %fzero = kiln.constant dense<0.0> : tensor<f32>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %mask = kiln.onnx.Where %visible, %fzero, %ninf : (tensor<1x1x?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x?x?xf32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x?x32xf32>) -> tensor<1x4x32x?xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x4x?x32xf32>, tensor<1x4x32x?xf32>) -> tensor<1x4x?x?xf32>
  %c = kiln.constant dense<0.176776695> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x4x?x?xf32>, tensor<f32>) -> tensor<1x4x?x?xf32>
  %a = kiln.onnx.Add %m, %mask : (tensor<1x4x?x?xf32>, tensor<1x1x?x?xf32>) -> tensor<1x4x?x?xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x4x?x?xf32>) -> tensor<1x4x?x?xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x4x?x?xf32>, tensor<1x4x?x32xf32>) -> tensor<1x4x?x32xf32>
  return %o : tensor<1x4x?x32xf32>
}

//===----------------------------------------------------------------------===//
// Causal masks written the other way round (they mark the hidden keys)
//===----------------------------------------------------------------------===//

// -----

// CHECK-LABEL: func.func @eq_one
// CHECK: kiln.attention {{.*}} causal :
// CHECK-NOT: kiln.onnx.Softmax
func.func @eq_one(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %shape = kiln.constant dense<[4, 4]> : tensor<2xi64>
  %ones = kiln.onnx.ConstantOfShape %shape {value = dense<1.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<4x4xf32>
  %tril = kiln.onnx.Trilu %ones {upper = 0 : i64} : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %fzero = kiln.constant dense<0.0> : tensor<f32>
  %fone = kiln.constant dense<1.0> : tensor<f32>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %vis = kiln.onnx.Equal %tril, %fone : (tensor<4x4xf32>, tensor<f32>) -> tensor<4x4xi1>
  %mask = kiln.onnx.Where %vis, %fzero, %ninf : (tensor<4x4xi1>, tensor<f32>, tensor<f32>) -> tensor<4x4xf32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %a = kiln.onnx.Add %s, %mask : (tensor<1x2x4x4xf32>, tensor<4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}
// -----

// -----

// CHECK-LABEL: func.func @cast_bool
// CHECK: kiln.attention {{.*}} causal :
// CHECK-NOT: kiln.onnx.Softmax
func.func @cast_bool(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %shape = kiln.constant dense<[4, 4]> : tensor<2xi64>
  %ones = kiln.onnx.ConstantOfShape %shape {value = dense<1> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<4x4xi64>
  %tril = kiln.onnx.Trilu %ones {upper = 0 : i64} : (tensor<4x4xi64>) -> tensor<4x4xi64>
  %vis = kiln.onnx.Cast %tril {to = i1} : (tensor<4x4xi64>) -> tensor<4x4xi1>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %w = kiln.onnx.Where %vis, %s, %ninf : (tensor<4x4xi1>, tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %w {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}
// -----

// -----

// CHECK-LABEL: func.func @upper_additive
// CHECK: kiln.attention {{.*}} causal :
// CHECK-NOT: kiln.onnx.Softmax
func.func @upper_additive(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %shape = kiln.constant dense<[4, 4]> : tensor<2xi64>
  %fill = kiln.onnx.ConstantOfShape %shape {value = dense<0xFF800000> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<4x4xf32>
  %one = kiln.constant dense<1> : tensor<i64>
  %mask = kiln.onnx.Trilu %fill, %one {upper = 1 : i64} : (tensor<4x4xf32>, tensor<i64>) -> tensor<4x4xf32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %a = kiln.onnx.Add %s, %mask : (tensor<1x2x4x4xf32>, tensor<4x4xf32>) -> tensor<1x2x4x4xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// The same mask over a dynamic seq, with the ConstantOfShape fill as the importer writes it
// (dense_resource): still proven causal (the fill is decoded like any constant; it used to be
// read only as `dense`, so from the sizes where folding stops it stayed an explicit mask).
// CHECK-LABEL: func.func @upper_additive_resource
// CHECK: kiln.attention {{.*}} causal :
// CHECK-NOT: kiln.onnx.Softmax
func.func @upper_additive_resource(
    %q: tensor<1x2x?x8xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %k: tensor<1x2x?x8xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %v: tensor<1x2x?x8xf32> {kiln.dim_params = ["", "", "seq", ""]}) -> tensor<1x2x?x8xf32> {
  %len = kiln.onnx.Shape %q {end = 3 : i64, start = 2 : i64} : (tensor<1x2x?x8xf32>) -> tensor<1xi64>
  %shape = kiln.onnx.Concat %len, %len {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %fill = kiln.onnx.ConstantOfShape %shape {value = dense_resource<neg_inf> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x?xf32>
  %one = kiln.constant dense<1> : tensor<i64>
  %mask = kiln.onnx.Trilu %fill, %one {upper = 1 : i64} : (tensor<?x?xf32>, tensor<i64>) -> tensor<?x?xf32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x8xf32>) -> tensor<1x2x8x?xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x?x8xf32>, tensor<1x2x8x?xf32>) -> tensor<1x2x?x?xf32>
  %a = kiln.onnx.Add %s, %mask : (tensor<1x2x?x?xf32>, tensor<?x?xf32>) -> tensor<1x2x?x?xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}
{-#
  dialect_resources: {
    builtin: {
      neg_inf: "0x04000000000080FF"
    }
  }
#-}

// -----

// CHECK-LABEL: func.func @masked_fill_greater
// CHECK: kiln.attention {{.*}} causal :
// CHECK-NOT: kiln.onnx.Softmax
func.func @masked_fill_greater(
    %q: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %k: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %v: tensor<1x4x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]}) -> tensor<1x4x?x32xf32> {
  %shape = kiln.onnx.Shape %q {end = 3 : i64, start = 2 : i64} : (tensor<1x4x?x32xf32>) -> tensor<1xi64>
  %len = kiln.onnx.Squeeze %shape : (tensor<1xi64>) -> tensor<i64>
  %zero = kiln.constant dense<0> : tensor<i64>
  %one = kiln.constant dense<1> : tensor<i64>
  %range = kiln.onnx.Range %zero, %len, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %kv_axes = kiln.constant dense<[0, 1, 2]> : tensor<3xi64>
  %q_axes = kiln.constant dense<[0, 1, 3]> : tensor<3xi64>
  %kv_index = kiln.onnx.Unsqueeze %range, %kv_axes : (tensor<?xi64>, tensor<3xi64>) -> tensor<1x1x1x?xi64>
  %q_index = kiln.onnx.Unsqueeze %range, %q_axes : (tensor<?xi64>, tensor<3xi64>) -> tensor<1x1x?x1xi64>
  %hidden = kiln.onnx.Greater %kv_index, %q_index : (tensor<1x1x1x?xi64>, tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi1>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
    %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x?x32xf32>) -> tensor<1x4x32x?xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x4x?x32xf32>, tensor<1x4x32x?xf32>) -> tensor<1x4x?x?xf32>
  %c = kiln.constant dense<0.176776695> : tensor<f32>
  %m = kiln.onnx.Mul %s, %c : (tensor<1x4x?x?xf32>, tensor<f32>) -> tensor<1x4x?x?xf32>
  %a = kiln.onnx.Where %hidden, %ninf, %m : (tensor<1x1x?x?xi1>, tensor<f32>, tensor<1x4x?x?xf32>) -> tensor<1x4x?x?xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x4x?x?xf32>) -> tensor<1x4x?x?xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x4x?x?xf32>, tensor<1x4x?x32xf32>) -> tensor<1x4x?x32xf32>
  return %o : tensor<1x4x?x32xf32>
}

// -----

// V in another element type than Q and K: kiln.attention has one element type.

// CHECK-LABEL: func.func @mixed
// CHECK: kiln.onnx.Softmax
// CHECK-NOT: kiln.attention
func.func @mixed(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf16>) -> tensor<1x2x4x8xf16> {
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x4x8xf32>) -> tensor<1x2x8x4xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  // expected-remark @below {{attention not fused: Q, K and V element types differ}}
  %p = kiln.onnx.Softmax %s {axis = -1 : i64} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %d = kiln.onnx.Cast %p {to = f16} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf16>
  %o = kiln.onnx.MatMul %d, %v : (tensor<1x2x4x4xf16>, tensor<1x2x4x8xf16>) -> tensor<1x2x4x8xf16>
  return %o : tensor<1x2x4x8xf16>
}

// -----

// Concat of a Range with itself is not one progression ([0, 1, 2, 0, 1, 2]): the mask built
// from it is not causal and must not be called so.

// CHECK-LABEL: func.func @dup_concat
// CHECK: kiln.attention {{.*}} mask({{.*}}) heads 1 kv_heads 1 head_dim 8 scale 1.000000e+00 :
// CHECK-NOT: causal
func.func @dup_concat(%q: tensor<1x1x6x8xf32>, %k: tensor<1x1x6x8xf32>, %v: tensor<1x1x6x8xf32>) -> tensor<1x1x6x8xf32> {
  %zero = kiln.constant dense<0> : tensor<i64>
  %three = kiln.constant dense<3> : tensor<i64>
  %one = kiln.constant dense<1> : tensor<i64>
  %r = kiln.onnx.Range %zero, %three, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
  %range = kiln.onnx.Concat %r, %r {axis = 0 : i64} : (tensor<3xi64>, tensor<3xi64>) -> tensor<6xi64>
  %kv_axes = kiln.constant dense<[0, 1, 2]> : tensor<3xi64>
  %q_axes = kiln.constant dense<[0, 1, 3]> : tensor<3xi64>
  %kv_index = kiln.onnx.Unsqueeze %range, %kv_axes : (tensor<6xi64>, tensor<3xi64>) -> tensor<1x1x1x6xi64>
  %q_index = kiln.onnx.Unsqueeze %range, %q_axes : (tensor<6xi64>, tensor<3xi64>) -> tensor<1x1x6x1xi64>
  %visible = kiln.onnx.LessOrEqual %kv_index, %q_index : (tensor<1x1x1x6xi64>, tensor<1x1x6x1xi64>) -> tensor<1x1x6x6xi1>
  %fzero = kiln.constant dense<0.0> : tensor<f32>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %mask = kiln.onnx.Where %visible, %fzero, %ninf : (tensor<1x1x6x6xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x6x6xf32>
  %kt = kiln.onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x1x6x8xf32>) -> tensor<1x1x8x6xf32>
  %s = kiln.onnx.MatMul %q, %kt : (tensor<1x1x6x8xf32>, tensor<1x1x8x6xf32>) -> tensor<1x1x6x6xf32>
  %a = kiln.onnx.Add %s, %mask : (tensor<1x1x6x6xf32>, tensor<1x1x6x6xf32>) -> tensor<1x1x6x6xf32>
  %p = kiln.onnx.Softmax %a {axis = -1 : i64} : (tensor<1x1x6x6xf32>) -> tensor<1x1x6x6xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<1x1x6x6xf32>, tensor<1x1x6x8xf32>) -> tensor<1x1x6x8xf32>
  return %o : tensor<1x1x6x8xf32>
}
