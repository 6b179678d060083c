// RUN: kiln-opt %s -split-input-file -kiln-raise | FileCheck %s
// RUN: kiln-opt %s -split-input-file -kiln-raise=remarks=true -verify-diagnostics -o /dev/null

// The linear and rotary families of kiln-raise: one case per accepted form, then near-misses
// that must stay as they are (with a remark where the form was recognised but a check failed).

// MatMul with a constant [K, N] weight: the weight is transposed at compile time to [N, K];
// the bias Add of a constant [N] becomes the bias operand.

// CHECK-LABEL: func.func @matmul_bias
// CHECK-DAG: %[[B:.*]] = kiln.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK-DAG: %[[WT:.*]] = kiln.constant dense<{{\[\[}}1.000000e+00, 3.000000e+00, 5.000000e+00, 7.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00, 8.000000e+00]]> : tensor<2x4xf32>
// CHECK: %[[Y:.*]] = kiln.linear %arg0, %[[WT]] bias(%[[B]] : tensor<2xf32>) : tensor<1x3x4xf32>, tensor<2x4xf32> -> tensor<1x3x2xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @matmul_bias(%x: tensor<1x3x4xf32>) -> tensor<1x3x2xf32> {
  %w = kiln.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %b = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %mm = kiln.onnx.MatMul %x, %w : (tensor<1x3x4xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  %y = kiln.onnx.Add %b, %mm : (tensor<2xf32>, tensor<1x3x2xf32>) -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// A bias [1, 1, N] is reshaped to [N] at compile time.

// CHECK-LABEL: func.func @matmul_bias_broadcast
// CHECK: %[[B:.*]] = kiln.constant dense<[5.000000e-01, -5.000000e-01]> : tensor<2xf32>
// CHECK: kiln.linear %arg0, %{{.*}} bias(%[[B]] : tensor<2xf32>) : tensor<1x3x4xf32>, tensor<2x4xf32> -> tensor<1x3x2xf32>
func.func @matmul_bias_broadcast(%x: tensor<1x3x4xf32>) -> tensor<1x3x2xf32> {
  %w = kiln.constant dense<1.0> : tensor<4x2xf32>
  %b = kiln.constant dense<[[[0.5, -0.5]]]> : tensor<1x1x2xf32>
  %mm = kiln.onnx.MatMul %x, %w : (tensor<1x3x4xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  %y = kiln.onnx.Add %mm, %b : (tensor<1x3x2xf32>, tensor<1x1x2xf32>) -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// MatMul(x, Transpose(W)) with W a constant [N, K] is already the linear layout.

// CHECK-LABEL: func.func @matmul_transposed_weight
// CHECK: %[[W:.*]] = kiln.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00], [5.000000e+00, 6.000000e+00, 7.000000e+00, 8.000000e+00]]> : tensor<2x4xf32>
// CHECK: kiln.linear %arg0, %[[W]] : tensor<1x3x4xf32>, tensor<2x4xf32> -> tensor<1x3x2xf32>
func.func @matmul_transposed_weight(%x: tensor<1x3x4xf32>) -> tensor<1x3x2xf32> {
  %w = kiln.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %wt = kiln.onnx.Transpose %w {perm = array<i64: 1, 0>} : (tensor<2x4xf32>) -> tensor<4x2xf32>
  %y = kiln.onnx.MatMul %x, %wt : (tensor<1x3x4xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// Gemm with transB = 0: the weight is transposed; alpha scales it, beta the bias C.

// CHECK-LABEL: func.func @gemm_transb0
// CHECK-DAG: %[[WT:.*]] = kiln.constant dense<{{\[\[}}2.000000e+00, 6.000000e+00], [4.000000e+00, 8.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: %[[B:.*]] = kiln.constant dense<[3.000000e+00, 6.000000e+00]> : tensor<2xf32>
// CHECK: kiln.linear %arg0, %[[WT]] bias(%[[B]] : tensor<2xf32>) : tensor<3x2xf32>, tensor<2x2xf32> -> tensor<3x2xf32>
// CHECK-NOT: kiln.onnx.Gemm
func.func @gemm_transb0(%a: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = kiln.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %c = kiln.constant dense<[[1.0, 2.0]]> : tensor<1x2xf32>
  %y = kiln.onnx.Gemm %a, %w, %c {alpha = 2.0 : f32, beta = 3.0 : f32} : (tensor<3x2xf32>, tensor<2x2xf32>, tensor<1x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// Gemm with transB = 1: the weight is already [N, K] and C [N] is the bias as it is.

// CHECK-LABEL: func.func @gemm_transb1
// CHECK-DAG: %[[W:.*]] = kiln.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00], [5.000000e+00, 6.000000e+00]]> : tensor<3x2xf32>
// CHECK-DAG: %[[C:.*]] = kiln.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>
// CHECK: kiln.linear %arg0, %[[W]] bias(%[[C]] : tensor<3xf32>) : tensor<4x2xf32>, tensor<3x2xf32> -> tensor<4x3xf32>
func.func @gemm_transb1(%a: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %w = kiln.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %c = kiln.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %y = kiln.onnx.Gemm %a, %w, %c {transB = 1 : i64} : (tensor<4x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// Reshape to 2-D, Gemm, Reshape back (dynamo's nn.Linear on a 3-D input): one linear on the
// 3-D input; the residual Add after it becomes its residual.

// CHECK-LABEL: func.func @gemm_reshape_wrapped
// CHECK: %[[Y:.*]] = kiln.linear %arg0, %{{.*}} bias(%{{.*}} : tensor<2xf32>) residual(%arg1 : tensor<1x?x2xf32>) : tensor<1x?x4xf32>, tensor<2x4xf32> -> tensor<1x?x2xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @gemm_reshape_wrapped(%x: tensor<1x?x4xf32>, %r: tensor<1x?x2xf32>) -> tensor<1x?x2xf32> {
  %w = kiln.constant dense<0.25> : tensor<4x2xf32>
  %c = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %flat = kiln.constant dense<[-1, 4]> : tensor<2xi64>
  %unflat = kiln.constant dense<[1, -1, 2]> : tensor<3xi64>
  %x2 = kiln.onnx.Reshape %x, %flat {allowzero = 1 : i64} : (tensor<1x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %g = kiln.onnx.Gemm %x2, %w, %c : (tensor<?x4xf32>, tensor<4x2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %y3 = kiln.onnx.Reshape %g, %unflat {allowzero = 1 : i64} : (tensor<?x2xf32>, tensor<3xi64>) -> tensor<1x?x2xf32>
  %y = kiln.onnx.Add %y3, %r : (tensor<1x?x2xf32>, tensor<1x?x2xf32>) -> tensor<1x?x2xf32>
  return %y : tensor<1x?x2xf32>
}

// -----

// The flatten also merged the heads ([1, 3, 2, 2] to [3, 4]): the linear reads a Reshape of
// the input to [1, 3, 4] and keeps the 3-D result.

// CHECK-LABEL: func.func @gemm_reshape_heads
// CHECK: %[[S:.*]] = kiln.constant dense<[1, 3, 4]> : tensor<3xi64>
// CHECK: %[[X:.*]] = kiln.onnx.Reshape %arg0, %[[S]] : (tensor<1x3x2x2xf32>, tensor<3xi64>) -> tensor<1x3x4xf32>
// CHECK: kiln.linear %[[X]], %{{.*}} : tensor<1x3x4xf32>, tensor<2x4xf32> -> tensor<1x3x2xf32>
func.func @gemm_reshape_heads(%x: tensor<1x3x2x2xf32>) -> tensor<1x3x2xf32> {
  %w = kiln.constant dense<0.25> : tensor<4x2xf32>
  %flat = kiln.constant dense<[3, 4]> : tensor<2xi64>
  %unflat = kiln.constant dense<[1, 3, 2]> : tensor<3xi64>
  %x2 = kiln.onnx.Reshape %x, %flat : (tensor<1x3x2x2xf32>, tensor<2xi64>) -> tensor<3x4xf32>
  %g = kiln.onnx.Gemm %x2, %w : (tensor<3x4xf32>, tensor<4x2xf32>) -> tensor<3x2xf32>
  %y = kiln.onnx.Reshape %g, %unflat : (tensor<3x2xf32>, tensor<3xi64>) -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// Activation epilogues: kiln.gelu (tanh and erf), kiln.silu and Relu after the bias.

// CHECK-LABEL: func.func @activation_epilogue
// CHECK: kiln.linear %arg0, %{{.*}} bias(%{{.*}} : tensor<2xf32>) act gelu_tanh
// CHECK: kiln.linear %arg0, %{{.*}} act gelu_erf
// CHECK: kiln.linear %arg0, %{{.*}} act silu
// CHECK: kiln.linear %arg0, %{{.*}} act relu
// CHECK-NOT: kiln.gelu
// CHECK-NOT: kiln.silu
// CHECK-NOT: kiln.onnx
func.func @activation_epilogue(%x: tensor<1x3x4xf32>) -> (tensor<1x3x2xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) {
  %w = kiln.constant dense<0.5> : tensor<4x2xf32>
  %b = kiln.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %mm0 = kiln.onnx.MatMul %x, %w : (tensor<1x3x4xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  %a0 = kiln.onnx.Add %mm0, %b : (tensor<1x3x2xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  %y0 = kiln.gelu %a0 approximate tanh : tensor<1x3x2xf32>
  %mm1 = kiln.onnx.MatMul %x, %w : (tensor<1x3x4xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  %y1 = kiln.gelu %mm1 : tensor<1x3x2xf32>
  %mm2 = kiln.onnx.MatMul %x, %w : (tensor<1x3x4xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  %y2 = kiln.silu %mm2 : tensor<1x3x2xf32>
  %mm3 = kiln.onnx.MatMul %x, %w : (tensor<1x3x4xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  %y3 = kiln.onnx.Relu %mm3 : (tensor<1x3x2xf32>) -> tensor<1x3x2xf32>
  return %y0, %y1, %y2, %y3 : tensor<1x3x2xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>
}

// -----

// Residual Add (either operand order) of a tensor with the result's type, after the bias.

// CHECK-LABEL: func.func @residual
// CHECK: %[[Y:.*]] = kiln.linear %arg0, %{{.*}} bias(%{{.*}} : tensor<4xf32>) residual(%arg0 : tensor<1x3x4xf32>) : tensor<1x3x4xf32>, tensor<4x4xf32> -> tensor<1x3x4xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @residual(%x: tensor<1x3x4xf32>) -> tensor<1x3x4xf32> {
  %w = kiln.constant dense<0.5> : tensor<4x4xf32>
  %b = kiln.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %mm = kiln.onnx.MatMul %x, %w : (tensor<1x3x4xf32>, tensor<4x4xf32>) -> tensor<1x3x4xf32>
  %h = kiln.onnx.Add %mm, %b : (tensor<1x3x4xf32>, tensor<4xf32>) -> tensor<1x3x4xf32>
  %y = kiln.onnx.Add %x, %h : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  return %y : tensor<1x3x4xf32>
}

// -----

// Q, K and V of one input (GQA: 4, 2 and 2 out features) become one linear and a Split.

// CHECK-LABEL: func.func @qkv_merge
// CHECK: %[[W:.*]] = kiln.constant dense<{{\[\[}}1.000000e+00, 1.000000e+00], {{.*}}, [3.000000e+00, 3.000000e+00]]> : tensor<8x2xf32>
// CHECK: %[[QKV:.*]] = kiln.linear %arg0, %[[W]] : tensor<1x3x2xf32>, tensor<8x2xf32> -> tensor<1x3x8xf32>
// CHECK: %[[SIZES:.*]] = kiln.constant dense<[4, 2, 2]> : tensor<3xi64>
// CHECK: %[[S:.*]]:3 = kiln.onnx.Split %[[QKV]], %[[SIZES]] {axis = 2 : i64} : (tensor<1x3x8xf32>, tensor<3xi64>) -> (tensor<1x3x4xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>)
// CHECK-NOT: kiln.linear
// CHECK: return %[[S]]#0, %[[S]]#1, %[[S]]#2
func.func @qkv_merge(%x: tensor<1x3x2xf32>) -> (tensor<1x3x4xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) {
  %wq = kiln.constant dense<1.0> : tensor<2x4xf32>
  %wk = kiln.constant dense<2.0> : tensor<2x2xf32>
  %wv = kiln.constant dense<3.0> : tensor<2x2xf32>
  %q = kiln.onnx.MatMul %x, %wq : (tensor<1x3x2xf32>, tensor<2x4xf32>) -> tensor<1x3x4xf32>
  %k = kiln.onnx.MatMul %x, %wk : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  %v = kiln.onnx.MatMul %x, %wv : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  return %q, %k, %v : tensor<1x3x4xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>
}

// -----

// Gate and up projections of a SwiGLU MLP; their biases are concatenated too. The user of the
// first (the swiglu) comes after the second linear: the Split dominates it.

// CHECK-LABEL: func.func @gate_up_merge
// CHECK: %[[B:.*]] = kiln.constant dense<[1.000000e+00, 1.000000e+00, 2.000000e+00, 2.000000e+00]> : tensor<4xf32>
// CHECK: %[[GU:.*]] = kiln.linear %arg0, %{{.*}} bias(%[[B]] : tensor<4xf32>) : tensor<1x3x2xf32>, tensor<4x2xf32> -> tensor<1x3x4xf32>
// CHECK: %[[S:.*]]:2 = kiln.onnx.Split %[[GU]], %{{.*}} {axis = 2 : i64}
// CHECK: %[[H:.*]] = kiln.swiglu %[[S]]#0, %[[S]]#1 : tensor<1x3x2xf32>
// CHECK: kiln.linear %[[H]]
func.func @gate_up_merge(%x: tensor<1x3x2xf32>) -> tensor<1x3x2xf32> {
  %wg = kiln.constant dense<1.0> : tensor<2x2xf32>
  %wu = kiln.constant dense<2.0> : tensor<2x2xf32>
  %wd = kiln.constant dense<3.0> : tensor<2x2xf32>
  %bg = kiln.constant dense<1.0> : tensor<2xf32>
  %bu = kiln.constant dense<2.0> : tensor<2xf32>
  %g0 = kiln.onnx.MatMul %x, %wg : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  %g = kiln.onnx.Add %g0, %bg : (tensor<1x3x2xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  %u0 = kiln.onnx.MatMul %x, %wu : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  %u = kiln.onnx.Add %u0, %bu : (tensor<1x3x2xf32>, tensor<2xf32>) -> tensor<1x3x2xf32>
  %h = kiln.swiglu %g, %u : tensor<1x3x2xf32>
  %y = kiln.onnx.MatMul %h, %wd : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// Rotate-half with constant cos/sin [1, 1, S, R] whose halves are equal (cat(freqs, freqs)):
// sliced at compile time to [S, R/2].

// CHECK-LABEL: func.func @rotary_half_constant
// CHECK-DAG: %[[COS:.*]] = kiln.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: %[[SIN:.*]] = kiln.constant dense<{{\[\[}}5.000000e+00, 6.000000e+00], [7.000000e+00, 8.000000e+00]]> : tensor<2x2xf32>
// CHECK: %[[Y:.*]] = kiln.rotary %arg0, %[[COS]], %[[SIN]] half dim 4 : tensor<1x2x2x4xf32>, tensor<2x2xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @rotary_half_constant(%x: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %cos = kiln.constant dense<[[[[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]]]]> : tensor<1x1x2x4xf32>
  %sin = kiln.constant dense<[[[[5.0, 6.0, 5.0, 6.0], [7.0, 8.0, 7.0, 8.0]]]]> : tensor<1x1x2x4xf32>
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %end = kiln.constant dense<9223372036854775807> : tensor<1xi64>
  %axis = kiln.constant dense<3> : tensor<1xi64>
  %step = kiln.constant dense<1> : tensor<1xi64>
  %xc = kiln.onnx.Mul %x, %cos : (tensor<1x2x2x4xf32>, tensor<1x1x2x4xf32>) -> tensor<1x2x2x4xf32>
  %x1 = kiln.onnx.Slice %x, %zero, %two, %axis, %step {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %x2 = kiln.onnx.Slice %x, %two, %end, %axis, %step {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %n = kiln.onnx.Neg %x2 : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rot = kiln.onnx.Concat %n, %x1 {axis = -1 : i64} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %xs = kiln.onnx.Mul %rot, %sin : (tensor<1x2x2x4xf32>, tensor<1x1x2x4xf32>) -> tensor<1x2x2x4xf32>
  %y = kiln.onnx.Add %xc, %xs : (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  return %y : tensor<1x2x2x4xf32>
}

// -----

// Dynamic seq: cos = Unsqueeze(Cos(Concat(f, f)), 1) with f [1, seq, R/2] gives cos' = Cos(f)
// in the [B, S, R/2] form; Q and K share it.

// CHECK-LABEL: func.func @rotary_half_dynamic
// CHECK-DAG: %[[COS:.*]] = kiln.onnx.Cos %arg2 : (tensor<1x?x2xf32>) -> tensor<1x?x2xf32>
// CHECK-DAG: %[[SIN:.*]] = kiln.onnx.Sin %arg2 : (tensor<1x?x2xf32>) -> tensor<1x?x2xf32>
// CHECK-DAG: kiln.rotary %arg0, %[[COS]], %[[SIN]] half dim 4 : tensor<1x2x?x4xf32>, tensor<1x?x2xf32>
// CHECK-DAG: kiln.rotary %arg1, %[[COS]], %[[SIN]] half dim 4 : tensor<1x1x?x4xf32>, tensor<1x?x2xf32>
// CHECK-NOT: kiln.onnx.Concat
func.func @rotary_half_dynamic(%q: tensor<1x2x?x4xf32>, %k: tensor<1x1x?x4xf32>, %f: tensor<1x?x2xf32>) -> (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) {
  %one = kiln.constant dense<1> : tensor<1xi64>
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %end = kiln.constant dense<9223372036854775807> : tensor<1xi64>
  %axis = kiln.constant dense<-1> : tensor<1xi64>
  %ff = kiln.onnx.Concat %f, %f {axis = -1 : i64} : (tensor<1x?x2xf32>, tensor<1x?x2xf32>) -> tensor<1x?x4xf32>
  %c = kiln.onnx.Cos %ff : (tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  %s = kiln.onnx.Sin %ff : (tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  %cos = kiln.onnx.Unsqueeze %c, %one : (tensor<1x?x4xf32>, tensor<1xi64>) -> tensor<1x1x?x4xf32>
  %sin = kiln.onnx.Unsqueeze %s, %one : (tensor<1x?x4xf32>, tensor<1xi64>) -> tensor<1x1x?x4xf32>
  %qc = kiln.onnx.Mul %q, %cos : (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x2x?x4xf32>
  %q1 = kiln.onnx.Slice %q, %zero, %two, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x?x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x?x2xf32>
  %q2 = kiln.onnx.Slice %q, %two, %end, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x?x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x?x2xf32>
  %qn = kiln.onnx.Neg %q2 : (tensor<1x2x?x2xf32>) -> tensor<1x2x?x2xf32>
  %qr = kiln.onnx.Concat %qn, %q1 {axis = 3 : i64} : (tensor<1x2x?x2xf32>, tensor<1x2x?x2xf32>) -> tensor<1x2x?x4xf32>
  %qs = kiln.onnx.Mul %sin, %qr : (tensor<1x1x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  %qy = kiln.onnx.Add %qs, %qc : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  %kc = kiln.onnx.Mul %k, %cos : (tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  %k1 = kiln.onnx.Slice %k, %zero, %two, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x1x?x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x2xf32>
  %k2 = kiln.onnx.Slice %k, %two, %end, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x1x?x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x2xf32>
  %kn = kiln.onnx.Neg %k2 : (tensor<1x1x?x2xf32>) -> tensor<1x1x?x2xf32>
  %kr = kiln.onnx.Concat %kn, %k1 {axis = -1 : i64} : (tensor<1x1x?x2xf32>, tensor<1x1x?x2xf32>) -> tensor<1x1x?x4xf32>
  %ks = kiln.onnx.Mul %kr, %sin : (tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  %ky = kiln.onnx.Add %kc, %ks : (tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x1x?x4xf32>
  return %qy, %ky : tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>
}

// -----

// Partial rotary: rotate-half on x[..., 0:4], x[..., 4:8] passed through, concatenated.

// CHECK-LABEL: func.func @rotary_partial
// CHECK: %[[Y:.*]] = kiln.rotary %arg0, %{{.*}}, %{{.*}} half dim 4 : tensor<1x2x2x8xf32>, tensor<2x2xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @rotary_partial(%x: tensor<1x2x2x8xf32>) -> tensor<1x2x2x8xf32> {
  %cos = kiln.constant dense<[[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]]> : tensor<2x4xf32>
  %sin = kiln.constant dense<[[5.0, 6.0, 5.0, 6.0], [7.0, 8.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %four = kiln.constant dense<4> : tensor<1xi64>
  %end = kiln.constant dense<9223372036854775807> : tensor<1xi64>
  %axis = kiln.constant dense<-1> : tensor<1xi64>
  %xr = kiln.onnx.Slice %x, %zero, %four, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x4xf32>
  %xp = kiln.onnx.Slice %x, %four, %end, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x4xf32>
  %xc = kiln.onnx.Mul %xr, %cos : (tensor<1x2x2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
  %x1 = kiln.onnx.Slice %xr, %zero, %two, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %x2 = kiln.onnx.Slice %xr, %two, %end, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %n = kiln.onnx.Neg %x2 : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rot = kiln.onnx.Concat %n, %x1 {axis = -1 : i64} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %xs = kiln.onnx.Mul %rot, %sin : (tensor<1x2x2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
  %emb = kiln.onnx.Add %xc, %xs : (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  %y = kiln.onnx.Concat %emb, %xp {axis = -1 : i64} : (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x2x2x8xf32>
  return %y : tensor<1x2x2x8xf32>
}

// -----

// Interleaved (GPT-J's rotate_every_two as exporters emit stack((-x_odd, x_even), -1)
// .flatten(-2)): Slice step 2, Neg, Unsqueeze -1, Concat -1, Reshape. cos/sin repeat each
// angle twice; every other entry is kept.

// CHECK-LABEL: func.func @rotary_interleaved
// CHECK-DAG: %[[COS:.*]] = kiln.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: %[[SIN:.*]] = kiln.constant dense<{{\[\[}}5.000000e+00, 6.000000e+00], [7.000000e+00, 8.000000e+00]]> : tensor<2x2xf32>
// CHECK: %[[Y:.*]] = kiln.rotary %arg0, %[[COS]], %[[SIN]] interleaved dim 4 : tensor<1x2x2x4xf32>, tensor<2x2xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @rotary_interleaved(%x: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %cos = kiln.constant dense<[[[[1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0]]]]> : tensor<1x1x2x4xf32>
  %sin = kiln.constant dense<[[[[5.0, 5.0, 6.0, 6.0], [7.0, 7.0, 8.0, 8.0]]]]> : tensor<1x1x2x4xf32>
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %one = kiln.constant dense<1> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %end = kiln.constant dense<9223372036854775807> : tensor<1xi64>
  %axis = kiln.constant dense<-1> : tensor<1xi64>
  %shape = kiln.constant dense<[1, 2, 2, 4]> : tensor<4xi64>
  %xc = kiln.onnx.Mul %x, %cos : (tensor<1x2x2x4xf32>, tensor<1x1x2x4xf32>) -> tensor<1x2x2x4xf32>
  %even = kiln.onnx.Slice %x, %zero, %end, %axis, %two {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %odd = kiln.onnx.Slice %x, %one, %end, %axis, %two {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %n = kiln.onnx.Neg %odd : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %nu = kiln.onnx.Unsqueeze %n, %axis : (tensor<1x2x2x2xf32>, tensor<1xi64>) -> tensor<1x2x2x2x1xf32>
  %eu = kiln.onnx.Unsqueeze %even, %axis : (tensor<1x2x2x2xf32>, tensor<1xi64>) -> tensor<1x2x2x2x1xf32>
  %st = kiln.onnx.Concat %nu, %eu {axis = -1 : i64} : (tensor<1x2x2x2x1xf32>, tensor<1x2x2x2x1xf32>) -> tensor<1x2x2x2x2xf32>
  %rot = kiln.onnx.Reshape %st, %shape : (tensor<1x2x2x2x2xf32>, tensor<4xi64>) -> tensor<1x2x2x4xf32>
  %xs = kiln.onnx.Mul %rot, %sin : (tensor<1x2x2x4xf32>, tensor<1x1x2x4xf32>) -> tensor<1x2x2x4xf32>
  %y = kiln.onnx.Add %xc, %xs : (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  return %y : tensor<1x2x2x4xf32>
}

// -----

// Interleaved with dynamic seq: cos = Unsqueeze(Cos(stack(f, f, -1).flatten(-2)), 1) gives
// cos' = Cos(f).

// CHECK-LABEL: func.func @rotary_interleaved_dynamic
// CHECK-DAG: %[[COS:.*]] = kiln.onnx.Cos %arg1 : (tensor<1x?x2xf32>) -> tensor<1x?x2xf32>
// CHECK-DAG: %[[SIN:.*]] = kiln.onnx.Sin %arg1 : (tensor<1x?x2xf32>) -> tensor<1x?x2xf32>
// CHECK: %[[Y:.*]] = kiln.rotary %arg0, %[[COS]], %[[SIN]] interleaved dim 4 : tensor<1x2x?x4xf32>, tensor<1x?x2xf32>
// CHECK: return %[[Y]]
func.func @rotary_interleaved_dynamic(%x: tensor<1x2x?x4xf32>, %f: tensor<1x?x2xf32>) -> tensor<1x2x?x4xf32> {
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %one = kiln.constant dense<1> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %end = kiln.constant dense<9223372036854775807> : tensor<1xi64>
  %axis = kiln.constant dense<-1> : tensor<1xi64>
  %tshape = kiln.constant dense<[1, -1, 4]> : tensor<3xi64>
  %xshape = kiln.constant dense<[1, 2, -1, 4]> : tensor<4xi64>
  %fu = kiln.onnx.Unsqueeze %f, %axis : (tensor<1x?x2xf32>, tensor<1xi64>) -> tensor<1x?x2x1xf32>
  %ff = kiln.onnx.Concat %fu, %fu {axis = -1 : i64} : (tensor<1x?x2x1xf32>, tensor<1x?x2x1xf32>) -> tensor<1x?x2x2xf32>
  %rep = kiln.onnx.Reshape %ff, %tshape : (tensor<1x?x2x2xf32>, tensor<3xi64>) -> tensor<1x?x4xf32>
  %c = kiln.onnx.Cos %rep : (tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  %s = kiln.onnx.Sin %rep : (tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  %cos = kiln.onnx.Unsqueeze %c, %one : (tensor<1x?x4xf32>, tensor<1xi64>) -> tensor<1x1x?x4xf32>
  %sin = kiln.onnx.Unsqueeze %s, %one : (tensor<1x?x4xf32>, tensor<1xi64>) -> tensor<1x1x?x4xf32>
  %xc = kiln.onnx.Mul %x, %cos : (tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>) -> tensor<1x2x?x4xf32>
  %even = kiln.onnx.Slice %x, %zero, %end, %axis, %two {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<1x2x?x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x?x2xf32>
  %odd = kiln.onnx.Slice %x, %one, %end, %axis, %two {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<1x2x?x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x?x2xf32>
  %ou = kiln.onnx.Unsqueeze %odd, %axis : (tensor<1x2x?x2xf32>, tensor<1xi64>) -> tensor<1x2x?x2x1xf32>
  %nu = kiln.onnx.Neg %ou : (tensor<1x2x?x2x1xf32>) -> tensor<1x2x?x2x1xf32>
  %eu = kiln.onnx.Unsqueeze %even, %axis : (tensor<1x2x?x2xf32>, tensor<1xi64>) -> tensor<1x2x?x2x1xf32>
  %st = kiln.onnx.Concat %nu, %eu {axis = 4 : i64} : (tensor<1x2x?x2x1xf32>, tensor<1x2x?x2x1xf32>) -> tensor<1x2x?x2x2xf32>
  %rot = kiln.onnx.Reshape %st, %xshape : (tensor<1x2x?x2x2xf32>, tensor<4xi64>) -> tensor<1x2x?x4xf32>
  %xs = kiln.onnx.Mul %sin, %rot : (tensor<1x1x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  %y = kiln.onnx.Add %xs, %xc : (tensor<1x2x?x4xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %y : tensor<1x2x?x4xf32>
}

// -----

// ONNX RotaryEmbedding on [B, H, S, D] with position_ids: cos/sin gathered at the positions.

// CHECK-LABEL: func.func @rotary_embedding_op
// CHECK: %[[COS:.*]] = kiln.onnx.Gather %arg1, %arg3 : (tensor<16x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
// CHECK: %[[SIN:.*]] = kiln.onnx.Gather %arg2, %arg3 : (tensor<16x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
// CHECK: kiln.rotary %arg0, %[[COS]], %[[SIN]] interleaved dim 8 : tensor<1x2x?x8xf32>, tensor<1x?x4xf32>
// CHECK-NOT: kiln.onnx.RotaryEmbedding
func.func @rotary_embedding_op(%x: tensor<1x2x?x8xf32>, %cos: tensor<16x4xf32>, %sin: tensor<16x4xf32>, %pos: tensor<1x?xi64>) -> tensor<1x2x?x8xf32> {
  %y = kiln.onnx.RotaryEmbedding %x, %cos, %sin, %pos {interleaved = 1 : i64} : (tensor<1x2x?x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>, tensor<1x?xi64>) -> tensor<1x2x?x8xf32>
  return %y : tensor<1x2x?x8xf32>
}

// -----

// ONNX RotaryEmbedding on [B, S, H*D] with num_heads and a partial rotary_embedding_dim:
// reshaped and transposed to [B, H, S, D] around kiln.rotary.

// CHECK-LABEL: func.func @rotary_embedding_op_3d
// CHECK: %[[SPLIT:.*]] = kiln.onnx.Reshape %arg0, %{{.*}} : (tensor<1x?x16xf32>, tensor<4xi64>) -> tensor<1x?x2x8xf32>
// CHECK: %[[T:.*]] = kiln.onnx.Transpose %[[SPLIT]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x8xf32>) -> tensor<1x2x?x8xf32>
// CHECK: %[[R:.*]] = kiln.rotary %[[T]], %arg1, %arg2 half dim 4 : tensor<1x2x?x8xf32>, tensor<1x?x2xf32>
// CHECK: %[[B:.*]] = kiln.onnx.Transpose %[[R]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x?x8xf32>) -> tensor<1x?x2x8xf32>
// CHECK: kiln.onnx.Reshape %[[B]], %{{.*}} : (tensor<1x?x2x8xf32>, tensor<3xi64>) -> tensor<1x?x16xf32>
func.func @rotary_embedding_op_3d(%x: tensor<1x?x16xf32>, %cos: tensor<1x?x2xf32>, %sin: tensor<1x?x2xf32>) -> tensor<1x?x16xf32> {
  %y = kiln.onnx.RotaryEmbedding %x, %cos, %sin {num_heads = 2 : i64, rotary_embedding_dim = 4 : i64} : (tensor<1x?x16xf32>, tensor<1x?x2xf32>, tensor<1x?x2xf32>) -> tensor<1x?x16xf32>
  return %y : tensor<1x?x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// Near-misses: left as they are.
//===----------------------------------------------------------------------===//

// MatMuls of two activations (attention) and with the constant on the left are not linears;
// unranked operands (before kiln-simplify) are not matched.

// CHECK-LABEL: func.func @not_linear
// CHECK-COUNT-3: kiln.onnx.MatMul
// CHECK-NOT: kiln.linear
func.func @not_linear(%q: tensor<4x3x2xf32>, %k: tensor<4x2x3xf32>, %u: tensor<*xf32>) -> (tensor<4x3x3xf32>, tensor<4x5x2xf32>, tensor<*xf32>) {
  %s = kiln.onnx.MatMul %q, %k : (tensor<4x3x2xf32>, tensor<4x2x3xf32>) -> tensor<4x3x3xf32>
  %c = kiln.constant dense<1.0> : tensor<5x3xf32>
  %l = kiln.onnx.MatMul %c, %q : (tensor<5x3xf32>, tensor<4x3x2xf32>) -> tensor<4x5x2xf32>
  %w = kiln.constant dense<1.0> : tensor<2x3xf32>
  %n = kiln.onnx.MatMul %u, %w : (tensor<*xf32>, tensor<2x3xf32>) -> tensor<*xf32>
  return %s, %l, %n : tensor<4x3x3xf32>, tensor<4x5x2xf32>, tensor<*xf32>
}

// -----

// The input's last dim is not known to be the weight's K.

// CHECK-LABEL: func.func @unknown_in_features
// CHECK: kiln.onnx.MatMul
// CHECK-NOT: kiln.linear
func.func @unknown_in_features(%x: tensor<1x3x?xf32>) -> tensor<1x3x2xf32> {
  %w = kiln.constant dense<1.0> : tensor<4x2xf32>
  // expected-remark @below {{linear not raised: the weight's in_features do not match the input's last dim}}
  %y = kiln.onnx.MatMul %x, %w : (tensor<1x3x?xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// Gemm with transA = 1.

// CHECK-LABEL: func.func @gemm_trans_a
// CHECK: kiln.onnx.Gemm
// CHECK-NOT: kiln.linear
func.func @gemm_trans_a(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %w = kiln.constant dense<1.0> : tensor<2x2xf32>
  // expected-remark @below {{linear not raised: transA = 1 (the input would need a transpose)}}
  %y = kiln.onnx.Gemm %a, %w {transA = 1 : i64} : (tensor<2x3xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----

// A constant that broadcasts along the rows ([S, 1]) is not a bias [N], nor a residual: the
// linear is raised and the Add stays.

// CHECK-LABEL: func.func @bias_wrong_shape
// CHECK: %[[L:.*]] = kiln.linear %arg0, %{{.*}} : tensor<1x3x4xf32>, tensor<2x4xf32> -> tensor<1x3x2xf32>
// CHECK: kiln.onnx.Add %[[L]], %{{.*}} : (tensor<1x3x2xf32>, tensor<3x1xf32>) -> tensor<1x3x2xf32>
func.func @bias_wrong_shape(%x: tensor<1x3x4xf32>) -> tensor<1x3x2xf32> {
  %w = kiln.constant dense<1.0> : tensor<4x2xf32>
  %b = kiln.constant dense<[[1.0], [2.0], [3.0]]> : tensor<3x1xf32>
  %mm = kiln.onnx.MatMul %x, %w : (tensor<1x3x4xf32>, tensor<4x2xf32>) -> tensor<1x3x2xf32>
  %y = kiln.onnx.Add %mm, %b : (tensor<1x3x2xf32>, tensor<3x1xf32>) -> tensor<1x3x2xf32>
  return %y : tensor<1x3x2xf32>
}

// -----

// cos whose halves differ: not a rotary embedding of half pairs.

// CHECK-LABEL: func.func @rotary_cos_halves_differ
// CHECK-NOT: kiln.rotary
func.func @rotary_cos_halves_differ(%x: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %cos = kiln.constant dense<[[[[1.0, 2.0, 1.0, 2.5], [3.0, 4.0, 3.0, 4.0]]]]> : tensor<1x1x2x4xf32>
  %sin = kiln.constant dense<[[[[5.0, 6.0, 5.0, 6.0], [7.0, 8.0, 7.0, 8.0]]]]> : tensor<1x1x2x4xf32>
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %end = kiln.constant dense<4> : tensor<1xi64>
  %axis = kiln.constant dense<3> : tensor<1xi64>
  %xc = kiln.onnx.Mul %x, %cos : (tensor<1x2x2x4xf32>, tensor<1x1x2x4xf32>) -> tensor<1x2x2x4xf32>
  %x1 = kiln.onnx.Slice %x, %zero, %two, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %x2 = kiln.onnx.Slice %x, %two, %end, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %n = kiln.onnx.Neg %x2 : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rot = kiln.onnx.Concat %n, %x1 {axis = -1 : i64} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %xs = kiln.onnx.Mul %rot, %sin : (tensor<1x2x2x4xf32>, tensor<1x1x2x4xf32>) -> tensor<1x2x2x4xf32>
  // expected-remark @below {{rotary not raised: the cos/sin constant's two halves differ}}
  %y = kiln.onnx.Add %xc, %xs : (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  return %y : tensor<1x2x2x4xf32>
}

// -----

// A computed cos that is not Concat(f, f): its halves cannot be proved equal.

// CHECK-LABEL: func.func @rotary_cos_not_duplicated
// CHECK-NOT: kiln.rotary
func.func @rotary_cos_not_duplicated(%x: tensor<1x2x2x4xf32>, %f: tensor<2x4xf32>) -> tensor<1x2x2x4xf32> {
  %cos = kiln.onnx.Cos %f : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %sin = kiln.onnx.Sin %f : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %end = kiln.constant dense<4> : tensor<1xi64>
  %axis = kiln.constant dense<3> : tensor<1xi64>
  %xc = kiln.onnx.Mul %x, %cos : (tensor<1x2x2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
  %x1 = kiln.onnx.Slice %x, %zero, %two, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %x2 = kiln.onnx.Slice %x, %two, %end, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %n = kiln.onnx.Neg %x2 : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rot = kiln.onnx.Concat %n, %x1 {axis = -1 : i64} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %xs = kiln.onnx.Mul %rot, %sin : (tensor<1x2x2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
  // expected-remark @below {{rotary not raised: cos/sin is neither a constant nor computed from Concat(f, f) on the last axis}}
  %y = kiln.onnx.Add %xc, %xs : (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  return %y : tensor<1x2x2x4xf32>
}

// -----

// The negated slice starts at 1 instead of R/2.

// CHECK-LABEL: func.func @rotary_slice_wrong_offset
// CHECK-NOT: kiln.rotary
func.func @rotary_slice_wrong_offset(%x: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %cos = kiln.constant dense<[[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]]> : tensor<2x4xf32>
  %sin = kiln.constant dense<[[5.0, 6.0, 5.0, 6.0], [7.0, 8.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %one = kiln.constant dense<1> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %three = kiln.constant dense<3> : tensor<1xi64>
  %axis = kiln.constant dense<3> : tensor<1xi64>
  %xc = kiln.onnx.Mul %x, %cos : (tensor<1x2x2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
  %x1 = kiln.onnx.Slice %x, %zero, %two, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %x2 = kiln.onnx.Slice %x, %one, %three, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %n = kiln.onnx.Neg %x2 : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rot = kiln.onnx.Concat %n, %x1 {axis = -1 : i64} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %xs = kiln.onnx.Mul %rot, %sin : (tensor<1x2x2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
  // expected-remark @below {{rotary not raised: rotate_half's slices are not x[R/2:R] (negated) and x[0:R/2]}}
  %y = kiln.onnx.Add %xc, %xs : (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  return %y : tensor<1x2x2x4xf32>
}

// -----

// Neg on the first half: Concat(x2, -x1) is not rotate_half.

// CHECK-LABEL: func.func @rotary_neg_wrong_half
// CHECK-NOT: kiln.rotary
func.func @rotary_neg_wrong_half(%x: tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %cos = kiln.constant dense<[[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]]> : tensor<2x4xf32>
  %sin = kiln.constant dense<[[5.0, 6.0, 5.0, 6.0], [7.0, 8.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %zero = kiln.constant dense<0> : tensor<1xi64>
  %two = kiln.constant dense<2> : tensor<1xi64>
  %four = kiln.constant dense<4> : tensor<1xi64>
  %axis = kiln.constant dense<3> : tensor<1xi64>
  %xc = kiln.onnx.Mul %x, %cos : (tensor<1x2x2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
  %x1 = kiln.onnx.Slice %x, %zero, %two, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %x2 = kiln.onnx.Slice %x, %two, %four, %axis {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<1x2x2x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x2x2xf32>
  %n = kiln.onnx.Neg %x1 : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %rot = kiln.onnx.Concat %x2, %n {axis = -1 : i64} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %xs = kiln.onnx.Mul %rot, %sin : (tensor<1x2x2x4xf32>, tensor<2x4xf32>) -> tensor<1x2x2x4xf32>
  // expected-remark @below {{rotary not raised: rotate_half negates the first half instead of the second}}
  %y = kiln.onnx.Add %xc, %xs : (tensor<1x2x2x4xf32>, tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  return %y : tensor<1x2x2x4xf32>
}
