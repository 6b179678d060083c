// RUN: kiln-opt %s -split-input-file -kiln-raise | FileCheck %s
// RUN: kiln-opt %s -split-input-file -kiln-raise=remarks=true -verify-diagnostics -o /dev/null

// The norm and activation families of kiln-raise: one case per accepted form, then near-misses
// that must stay as they are, with a remark naming the failed check where the anchor of the
// form (a norm's Sqrt, GELU's Erf or Tanh, x * Sigmoid) was recognised.

//===----------------------------------------------------------------------===//
// ONNX norm ops
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @onnx_layer_norm
// CHECK: %[[Y:.*]] = kiln.layer_norm %arg0, %arg1, %arg2 eps 9.99999974E-6 : tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @onnx_layer_norm(%x: tensor<2x4x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %y = kiln.onnx.LayerNormalization %x, %g, %b {epsilon = 1.0e-05 : f32} : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// Unused statistics results do not stop the raise; no bias is fine.

// CHECK-LABEL: func.func @onnx_layer_norm_unused_statistics
// CHECK: %[[Y:.*]] = kiln.layer_norm %arg0, %arg1 eps 1.000000e-01 : tensor<4x8xf32>, tensor<8xf32>
// CHECK: return %[[Y]]
func.func @onnx_layer_norm_unused_statistics(%x: tensor<4x8xf32>, %g: tensor<8xf32>) -> tensor<4x8xf32> {
  %y, %mean, %inv = kiln.onnx.LayerNormalization %x, %g {epsilon = 0.1 : f32} : (tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xf32>)
  return %y : tensor<4x8xf32>
}

// -----

// axis -2 normalizes the last two dims: a norm over their product on a Reshape'd view (a 0
// copies the dynamic dim), the [3, 4] scale reshaped to [12], and a Reshape back to x's shape.

// CHECK-LABEL: func.func @onnx_layer_norm_trailing_dims
// CHECK-DAG: %[[FLAT_SHAPE:.*]] = kiln.constant dense<[0, 0, 12]> : tensor<3xi64>
// CHECK-DAG: %[[PARAM_SHAPE:.*]] = kiln.constant dense<12> : tensor<1xi64>
// CHECK: %[[G:.*]] = kiln.onnx.Reshape %arg1, %[[PARAM_SHAPE]] : (tensor<3x4xf32>, tensor<1xi64>) -> tensor<12xf32>
// CHECK: %[[FLAT:.*]] = kiln.onnx.Reshape %arg0, %[[FLAT_SHAPE]] : (tensor<2x?x3x4xf32>, tensor<3xi64>) -> tensor<2x?x12xf32>
// CHECK: %[[N:.*]] = kiln.layer_norm %[[FLAT]], %[[G]] eps 9.99999974E-6 : tensor<2x?x12xf32>, tensor<12xf32>
// CHECK: %[[SHAPE:.*]] = kiln.onnx.Shape %arg0
// CHECK: %[[Y:.*]] = kiln.onnx.Reshape %[[N]], %[[SHAPE]] : (tensor<2x?x12xf32>, tensor<4xi64>) -> tensor<2x?x3x4xf32>
// CHECK: return %[[Y]]
func.func @onnx_layer_norm_trailing_dims(%x: tensor<2x?x3x4xf32>, %g: tensor<3x4xf32>) -> tensor<2x?x3x4xf32> {
  %y = kiln.onnx.LayerNormalization %x, %g {axis = -2 : i64} : (tensor<2x?x3x4xf32>, tensor<3x4xf32>) -> tensor<2x?x3x4xf32>
  return %y : tensor<2x?x3x4xf32>
}

// -----

// CHECK-LABEL: func.func @onnx_rms_norm
// CHECK: %[[Y:.*]] = kiln.rms_norm %arg0, %arg1 eps 9.99999997E-7 : tensor<1x?x8xf32>, tensor<8xf32>
// CHECK: return %[[Y]]
func.func @onnx_rms_norm(%x: tensor<1x?x8xf32>, %g: tensor<8xf32>) -> tensor<1x?x8xf32> {
  %y = kiln.onnx.RMSNormalization %x, %g {epsilon = 1.0e-06 : f32} : (tensor<1x?x8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
  return %y : tensor<1x?x8xf32>
}

// -----

// Near-misses of the ONNX ops: statistics in use, another stash_type, no ranked type (bert
// before kiln-simplify), a scale that broadcasts.

// CHECK-LABEL: func.func @onnx_layer_norm_statistics_used
// CHECK-NOT: kiln.layer_norm
// CHECK: return
func.func @onnx_layer_norm_statistics_used(%x: tensor<4x8xf32>, %g: tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x1xf32>) {
  // expected-remark @below {{LayerNorm not raised: its Mean/InvStdDev outputs are used}}
  %y, %mean = kiln.onnx.LayerNormalization %x, %g : (tensor<4x8xf32>, tensor<8xf32>) -> (tensor<4x8xf32>, tensor<4x1xf32>)
  return %y, %mean : tensor<4x8xf32>, tensor<4x1xf32>
}

// -----

// CHECK-LABEL: func.func @onnx_layer_norm_stash_type
// CHECK-NOT: kiln.layer_norm
// CHECK: return
func.func @onnx_layer_norm_stash_type(%x: tensor<4x8xf32>, %g: tensor<8xf32>) -> tensor<4x8xf32> {
  // expected-remark @below {{LayerNorm not raised: stash_type is 0, not 1 (float32 statistics)}}
  %y = kiln.onnx.LayerNormalization %x, %g {stash_type = 0 : i64} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// CHECK-LABEL: func.func @onnx_layer_norm_unranked
// CHECK-NOT: kiln.layer_norm
// CHECK: return
func.func @onnx_layer_norm_unranked(%x: tensor<*xf32>, %g: tensor<8xf32>) -> tensor<*xf32> {
  // expected-remark @below {{LayerNorm not raised: the input has no ranked float type}}
  %y = kiln.onnx.LayerNormalization %x, %g : (tensor<*xf32>, tensor<8xf32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @onnx_rms_norm_broadcast_scale
// CHECK-NOT: kiln.rms_norm
// CHECK: return
func.func @onnx_rms_norm_broadcast_scale(%x: tensor<4x8xf32>, %g: tensor<1xf32>) -> tensor<4x8xf32> {
  // expected-remark @below {{RMSNorm not raised: scale has shape [1], not the normalized shape [8]}}
  %y = kiln.onnx.RMSNormalization %x, %g : (tensor<4x8xf32>, tensor<1xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

//===----------------------------------------------------------------------===//
// Decomposed LayerNorm
//===----------------------------------------------------------------------===//

// -----

// The textbook form: mean, x - mean, Pow 2, mean, + eps, Sqrt, Div, * gamma, + beta.

// CHECK-LABEL: func.func @layer_norm_decomposed
// CHECK: %[[Y:.*]] = kiln.layer_norm %arg0, %arg1, %arg2 eps 9.99999974E-6 : tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @layer_norm_decomposed(%x: tensor<2x4x8xf32>, %gamma: tensor<8xf32>, %beta: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-05> : tensor<f32>
  %mean = kiln.onnx.ReduceMean %x, %axes : (tensor<2x4x8xf32>, tensor<1xi64>) -> tensor<2x4x1xf32>
  %d = kiln.onnx.Sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %sq = kiln.onnx.Pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = kiln.onnx.ReduceMean %sq, %axes : (tensor<2x4x8xf32>, tensor<1xi64>) -> tensor<2x4x1xf32>
  %ve = kiln.onnx.Add %var, %eps : (tensor<2x4x1xf32>, tensor<f32>) -> tensor<2x4x1xf32>
  %std = kiln.onnx.Sqrt %ve : (tensor<2x4x1xf32>) -> tensor<2x4x1xf32>
  %n = kiln.onnx.Div %d, %std : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %s = kiln.onnx.Mul %n, %gamma : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %y = kiln.onnx.Add %s, %beta : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// Mul(d, d) for the square, Mul by Reciprocal for the division, the axis as 2 (= last), the
// parameters on the left, and constant gamma/beta of shape [1, 1, D] reshaped at compile time.

// CHECK-LABEL: func.func @layer_norm_decomposed_reciprocal
// CHECK-DAG: %[[G:.*]] = kiln.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>
// CHECK-DAG: %[[B:.*]] = kiln.constant dense<5.000000e-01> : tensor<4xf32>
// CHECK: %[[Y:.*]] = kiln.layer_norm %arg0, %[[G]], %[[B]] eps 9.99999996E-13 : tensor<1x?x4xf32>, tensor<4xf32>, tensor<4xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @layer_norm_decomposed_reciprocal(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> {
  %axes = kiln.constant dense<[2]> : tensor<1xi64>
  %eps = kiln.constant dense<1.0e-12> : tensor<1xf32>
  %gamma = kiln.constant dense<[[[1.0, 2.0, 3.0, 4.0]]]> : tensor<1x1x4xf32>
  %beta = kiln.constant dense<0.5> : tensor<1x1x4xf32>
  %mean = kiln.onnx.ReduceMean %x, %axes : (tensor<1x?x4xf32>, tensor<1xi64>) -> tensor<1x?x1xf32>
  %d = kiln.onnx.Sub %x, %mean : (tensor<1x?x4xf32>, tensor<1x?x1xf32>) -> tensor<1x?x4xf32>
  %sq = kiln.onnx.Mul %d, %d : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  %var = kiln.onnx.ReduceMean %sq, %axes : (tensor<1x?x4xf32>, tensor<1xi64>) -> tensor<1x?x1xf32>
  %ve = kiln.onnx.Add %eps, %var : (tensor<1xf32>, tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %std = kiln.onnx.Sqrt %ve : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %inv = kiln.onnx.Reciprocal %std : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %n = kiln.onnx.Mul %inv, %d : (tensor<1x?x1xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  %s = kiln.onnx.Mul %gamma, %n : (tensor<1x1x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  %y = kiln.onnx.Add %beta, %s : (tensor<1x1x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  return %y : tensor<1x?x4xf32>
}

// -----

// Without gamma and beta the scale is a ones constant. The Add of a full-size residual after
// the norm is not a beta and stays.

// CHECK-LABEL: func.func @layer_norm_decomposed_no_parameters
// CHECK: %[[ONES:.*]] = kiln.constant dense<1.000000e+00> : tensor<8xf32>
// CHECK: %[[N:.*]] = kiln.layer_norm %arg0, %[[ONES]] eps 9.99999974E-6 : tensor<4x8xf32>, tensor<8xf32>
// CHECK: %[[Y:.*]] = kiln.onnx.Add %[[N]], %arg1
// CHECK: return %[[Y]]
func.func @layer_norm_decomposed_no_parameters(%x: tensor<4x8xf32>, %residual: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-05> : tensor<f32>
  %mean = kiln.onnx.ReduceMean %x, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %d = kiln.onnx.Sub %x, %mean : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %sq = kiln.onnx.Pow %d, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %var = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %var, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %std = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Div %d, %std : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %y = kiln.onnx.Add %n, %residual : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// ONNX's LayerNormalization function body (the `_expanded` node tests, after kiln-simplify):
// var = E[x^2] - E[x]^2, Casts to f32 (same type, folded), Flatten(W) and Flatten(B) of shape
// [1, D] (the 1-D W and B are used directly), the Mean and InvStdDev outputs computed from the
// statistics, which stay for them.

// CHECK-LABEL: func.func @layer_norm_onnx_function_body
// CHECK: %[[X2D:.*]] = kiln.onnx.Flatten %arg0
// CHECK: %[[MEAN:.*]] = kiln.onnx.ReduceMean %[[X2D]]
// CHECK: %[[STD:.*]] = kiln.onnx.Sqrt
// CHECK: %[[N:.*]] = kiln.layer_norm %[[X2D]], %arg1, %arg2 eps 1.000000e-01 : tensor<6x5xf32>, tensor<5xf32>, tensor<5xf32>
// CHECK: %[[Y:.*]] = kiln.onnx.Reshape %[[N]]
// CHECK: %[[INV:.*]] = kiln.onnx.Reciprocal %[[STD]]
// CHECK: return %[[Y]], %[[MEAN]], %[[INV]]
func.func @layer_norm_onnx_function_body(%x: tensor<2x3x5xf32>, %w: tensor<5xf32>, %b: tensor<5xf32>) -> (tensor<2x3x5xf32>, tensor<6x1xf32>, tensor<6x1xf32>) {
  %axes = kiln.constant dense<[1]> : tensor<1xi64>
  %eps = kiln.constant dense<0.1> : tensor<f32>
  %shape = kiln.constant dense<[2, 3, 5]> : tensor<3xi64>
  %epsf = kiln.onnx.Cast %eps {to = f32} : (tensor<f32>) -> tensor<f32>
  %x2d = kiln.onnx.Flatten %x {axis = -1 : i64} : (tensor<2x3x5xf32>) -> tensor<6x5xf32>
  %xu = kiln.onnx.Cast %x2d {to = f32} : (tensor<6x5xf32>) -> tensor<6x5xf32>
  %mean = kiln.onnx.ReduceMean %xu, %axes : (tensor<6x5xf32>, tensor<1xi64>) -> tensor<6x1xf32>
  %square = kiln.onnx.Mul %xu, %xu : (tensor<6x5xf32>, tensor<6x5xf32>) -> tensor<6x5xf32>
  %meansq = kiln.onnx.ReduceMean %square, %axes : (tensor<6x5xf32>, tensor<1xi64>) -> tensor<6x1xf32>
  %sqmean = kiln.onnx.Mul %mean, %mean : (tensor<6x1xf32>, tensor<6x1xf32>) -> tensor<6x1xf32>
  %var = kiln.onnx.Sub %meansq, %sqmean : (tensor<6x1xf32>, tensor<6x1xf32>) -> tensor<6x1xf32>
  %ve = kiln.onnx.Add %var, %epsf : (tensor<6x1xf32>, tensor<f32>) -> tensor<6x1xf32>
  %std = kiln.onnx.Sqrt %ve : (tensor<6x1xf32>) -> tensor<6x1xf32>
  %dev = kiln.onnx.Sub %xu, %mean : (tensor<6x5xf32>, tensor<6x1xf32>) -> tensor<6x5xf32>
  %n = kiln.onnx.Div %dev, %std : (tensor<6x5xf32>, tensor<6x1xf32>) -> tensor<6x5xf32>
  %nt = kiln.onnx.Cast %n {to = f32} : (tensor<6x5xf32>) -> tensor<6x5xf32>
  %w2d = kiln.onnx.Flatten %w {axis = 0 : i64} : (tensor<5xf32>) -> tensor<1x5xf32>
  %scaled = kiln.onnx.Mul %nt, %w2d : (tensor<6x5xf32>, tensor<1x5xf32>) -> tensor<6x5xf32>
  %b2d = kiln.onnx.Flatten %b {axis = 0 : i64} : (tensor<5xf32>) -> tensor<1x5xf32>
  %biased = kiln.onnx.Add %scaled, %b2d : (tensor<6x5xf32>, tensor<1x5xf32>) -> tensor<6x5xf32>
  %y = kiln.onnx.Reshape %biased, %shape : (tensor<6x5xf32>, tensor<3xi64>) -> tensor<2x3x5xf32>
  %inv = kiln.onnx.Reciprocal %std : (tensor<6x1xf32>) -> tensor<6x1xf32>
  return %y, %mean, %inv : tensor<2x3x5xf32>, tensor<6x1xf32>, tensor<6x1xf32>
}

// -----

// Near-miss: the mean is subtracted from another value than the one it averages.

// CHECK-LABEL: func.func @layer_norm_mean_of_other_value
// CHECK-NOT: kiln.layer_norm
// CHECK-NOT: kiln.rms_norm
// CHECK: return
func.func @layer_norm_mean_of_other_value(%x: tensor<4x8xf32>, %z: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-05> : tensor<f32>
  %mean = kiln.onnx.ReduceMean %z, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %d = kiln.onnx.Sub %x, %mean : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %sq = kiln.onnx.Pow %d, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %var = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %var, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  // expected-remark @below {{LayerNorm not raised: the mean is taken of a different value than the one it is subtracted from}}
  %std = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Div %d, %std : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// -----

// Near-miss: gamma of shape [4, 1] scales rows, not features.

// CHECK-LABEL: func.func @layer_norm_gamma_wrong_shape
// CHECK-NOT: kiln.layer_norm
// CHECK: return
func.func @layer_norm_gamma_wrong_shape(%x: tensor<4x8xf32>, %gamma: tensor<4x1xf32>) -> tensor<4x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-05> : tensor<f32>
  %mean = kiln.onnx.ReduceMean %x, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %d = kiln.onnx.Sub %x, %mean : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %sq = kiln.onnx.Pow %d, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %var = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %var, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  // expected-remark @below {{LayerNorm not raised: gamma has shape [4, 1], not [8]}}
  %std = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Div %d, %std : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %y = kiln.onnx.Mul %n, %gamma : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// Near-miss: x - mean is also returned, so the decomposition would stay alive.

// CHECK-LABEL: func.func @layer_norm_centred_value_escapes
// CHECK-NOT: kiln.layer_norm
// CHECK: return
func.func @layer_norm_centred_value_escapes(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-05> : tensor<f32>
  %mean = kiln.onnx.ReduceMean %x, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %d = kiln.onnx.Sub %x, %mean : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %sq = kiln.onnx.Pow %d, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %var = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %var, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  // expected-remark @below {{LayerNorm not raised: x - mean has other users}}
  %std = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Div %d, %std : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n, %d : tensor<4x8xf32>, tensor<4x8xf32>
}

//===----------------------------------------------------------------------===//
// Decomposed RMSNorm
//===----------------------------------------------------------------------===//

// -----

// PyTorch's export (Llama): gamma * (x * Reciprocal(Sqrt(ReduceMean(Pow(x, 2)) + eps))).

// CHECK-LABEL: func.func @rms_norm_pytorch
// CHECK: %[[Y:.*]] = kiln.rms_norm %arg0, %arg1 eps 9.99999997E-7 : tensor<1x?x8xf32>, tensor<8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @rms_norm_pytorch(%x: tensor<1x?x8xf32>, %gamma: tensor<8xf32>) -> tensor<1x?x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<1x?x8xf32>, tensor<f32>) -> tensor<1x?x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<1x?x8xf32>, tensor<1xi64>) -> tensor<1x?x1xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %rms = kiln.onnx.Sqrt %ve : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %inv = kiln.onnx.Reciprocal %rms : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %n = kiln.onnx.Mul %x, %inv : (tensor<1x?x8xf32>, tensor<1x?x1xf32>) -> tensor<1x?x8xf32>
  %y = kiln.onnx.Mul %gamma, %n : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  return %y : tensor<1x?x8xf32>
}

// -----

// Div(x, Sqrt(..)), Mul(x, x) for the square, gamma on the right.

// CHECK-LABEL: func.func @rms_norm_div
// CHECK: %[[Y:.*]] = kiln.rms_norm %arg0, %arg1 eps 9.99999974E-6 : tensor<4x8xf32>, tensor<8xf32>
// CHECK: return %[[Y]]
func.func @rms_norm_div(%x: tensor<4x8xf32>, %gamma: tensor<8xf32>) -> tensor<4x8xf32> {
  %axes = kiln.constant dense<[1]> : tensor<1xi64>
  %eps = kiln.constant dense<1.0e-05> : tensor<f32>
  %sq = kiln.onnx.Mul %x, %x : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %rms = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Div %x, %rms : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  %y = kiln.onnx.Mul %n, %gamma : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// An fp16 export: x is cast to f32 for the statistics and the normalized value cast back
// before gamma; the norm reads the f16 x directly (its statistics are f32 anyway).

// CHECK-LABEL: func.func @rms_norm_f16_casts
// CHECK: %[[Y:.*]] = kiln.rms_norm %arg0, %arg1 eps 9.99999997E-7 : tensor<2x8xf16>, tensor<8xf16>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @rms_norm_f16_casts(%x: tensor<2x8xf16>, %gamma: tensor<8xf16>) -> tensor<2x8xf16> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %x32 = kiln.onnx.Cast %x {to = f32} : (tensor<2x8xf16>) -> tensor<2x8xf32>
  %sq = kiln.onnx.Pow %x32, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<2x8xf32>, tensor<1xi64>) -> tensor<2x1xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %rms = kiln.onnx.Sqrt %ve : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %inv = kiln.onnx.Reciprocal %rms : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = kiln.onnx.Mul %x32, %inv : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %n16 = kiln.onnx.Cast %n {to = f16} : (tensor<2x8xf32>) -> tensor<2x8xf16>
  %y = kiln.onnx.Mul %gamma, %n16 : (tensor<8xf16>, tensor<2x8xf16>) -> tensor<2x8xf16>
  return %y : tensor<2x8xf16>
}

// -----

// Without gamma the scale is a ones constant.

// CHECK-LABEL: func.func @rms_norm_no_gamma
// CHECK: %[[ONES:.*]] = kiln.constant dense<1.000000e+00> : tensor<8xf32>
// CHECK: %[[Y:.*]] = kiln.rms_norm %arg0, %[[ONES]] eps 9.99999997E-7 : tensor<4x8xf32>, tensor<8xf32>
// CHECK: return %[[Y]]
func.func @rms_norm_no_gamma(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %rms = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %inv = kiln.onnx.Reciprocal %rms : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Mul %x, %inv : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// -----

// Near-miss: the reduction is over axis 1 of [2, 4, 8], not the last axis.

// CHECK-LABEL: func.func @rms_norm_wrong_axis
// CHECK-NOT: kiln.rms_norm
// CHECK: return
func.func @rms_norm_wrong_axis(%x: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %axes = kiln.constant dense<[1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<2x4x8xf32>, tensor<1xi64>) -> tensor<2x1x8xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<2x1x8xf32>, tensor<f32>) -> tensor<2x1x8xf32>
  // expected-remark @below {{RMSNorm not raised: reduction is over axis 1, not the last axis}}
  %rms = kiln.onnx.Sqrt %ve : (tensor<2x1x8xf32>) -> tensor<2x1x8xf32>
  %n = kiln.onnx.Div %x, %rms : (tensor<2x4x8xf32>, tensor<2x1x8xf32>) -> tensor<2x4x8xf32>
  return %n : tensor<2x4x8xf32>
}

// -----

// Near-miss: keepdims = 0.

// CHECK-LABEL: func.func @rms_norm_no_keepdims
// CHECK-NOT: kiln.rms_norm
// CHECK: return
func.func @rms_norm_no_keepdims(%x: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<8x8xf32>, tensor<f32>) -> tensor<8x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes {keepdims = 0 : i64} : (tensor<8x8xf32>, tensor<1xi64>) -> tensor<8xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  // expected-remark @below {{RMSNorm not raised: the reduction does not keep the reduced dim (keepdims = 0)}}
  %rms = kiln.onnx.Sqrt %ve : (tensor<8xf32>) -> tensor<8xf32>
  %n = kiln.onnx.Div %x, %rms : (tensor<8x8xf32>, tensor<8xf32>) -> tensor<8x8xf32>
  return %n : tensor<8x8xf32>
}

// -----

// Near-miss: Pow(x, 3).

// CHECK-LABEL: func.func @rms_norm_exponent_3
// CHECK-NOT: kiln.rms_norm
// CHECK: return
func.func @rms_norm_exponent_3(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %three = kiln.constant dense<3.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %sq = kiln.onnx.Pow %x, %three : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  // expected-remark @below {{RMSNorm not raised: the Pow exponent is 3, not 2}}
  %rms = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Div %x, %rms : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// -----

// Near-miss: epsilon is a per-row constant, not a scalar.

// CHECK-LABEL: func.func @rms_norm_epsilon_not_scalar
// CHECK-NOT: kiln.rms_norm
// CHECK: return
func.func @rms_norm_epsilon_not_scalar(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<4x1xf32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x1xf32>
  // expected-remark @below {{RMSNorm not raised: epsilon is not a scalar constant (it has shape [4, 1])}}
  %rms = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Div %x, %rms : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// -----

// Near-miss: the squares of x are averaged but y is divided.

// CHECK-LABEL: func.func @rms_norm_different_x
// CHECK-NOT: kiln.rms_norm
// CHECK: return
func.func @rms_norm_different_x(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<4x8xf32>, tensor<1xi64>) -> tensor<4x1xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  // expected-remark @below {{RMSNorm not raised: the normalized value is not the value whose squares are averaged}}
  %rms = kiln.onnx.Sqrt %ve : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %inv = kiln.onnx.Reciprocal %rms : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %n = kiln.onnx.Mul %y, %inv : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %n : tensor<4x8xf32>
}

// -----

// Near-miss: no ranked types (before kiln-simplify); the pattern must fail, not crash.

// CHECK-LABEL: func.func @rms_norm_unranked
// CHECK-NOT: kiln.rms_norm
// CHECK: return
func.func @rms_norm_unranked(%x: tensor<*xf32>) -> tensor<*xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<*xf32>, tensor<1xi64>) -> tensor<*xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  // expected-remark @below {{RMSNorm not raised: the reduced value has no ranked type of rank >= 1}}
  %rms = kiln.onnx.Sqrt %ve : (tensor<*xf32>) -> tensor<*xf32>
  %n = kiln.onnx.Div %x, %rms : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  return %n : tensor<*xf32>
}

//===----------------------------------------------------------------------===//
// GELU
//===----------------------------------------------------------------------===//

// -----

// bert (torch.onnx, opset 17): Mul(Mul(x, Add(Erf(Div(x, 1.4142135)), 1)), 0.5).

// CHECK-LABEL: func.func @gelu_erf_bert
// CHECK: %[[Y:.*]] = kiln.gelu %arg0 : tensor<1x?x16xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @gelu_erf_bert(%x: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %a = kiln.onnx.Div %x, %sqrt2 : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  %e = kiln.onnx.Erf %a : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %p = kiln.onnx.Add %e, %one : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  %xp = kiln.onnx.Mul %x, %p : (tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %y = kiln.onnx.Mul %xp, %half : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  return %y : tensor<1x?x16xf32>
}

// -----

// Mul(Mul(x, 0.5), Add(1, Erf(Mul(x, 0.70710678)))), constants on the left.

// CHECK-LABEL: func.func @gelu_erf_half_x_first
// CHECK: %[[Y:.*]] = kiln.gelu %arg0 : tensor<4x16xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @gelu_erf_half_x_first(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %rsqrt2 = kiln.constant dense<0.707106769> : tensor<1xf32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %hx = kiln.onnx.Mul %half, %x : (tensor<f32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %a = kiln.onnx.Mul %rsqrt2, %x : (tensor<1xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %e = kiln.onnx.Erf %a : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %p = kiln.onnx.Add %one, %e : (tensor<f32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = kiln.onnx.Mul %hx, %p : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Mul(x, Mul(Add(Erf(..), 1), 0.5)).

// CHECK-LABEL: func.func @gelu_erf_half_inside
// CHECK: %[[Y:.*]] = kiln.gelu %arg0 : tensor<4x16xf32>
// CHECK: return %[[Y]]
func.func @gelu_erf_half_inside(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %sqrt2 = kiln.constant dense<1.4142> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %a = kiln.onnx.Div %x, %sqrt2 : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %e = kiln.onnx.Erf %a : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %p = kiln.onnx.Add %e, %one : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %hp = kiln.onnx.Mul %p, %half : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %y = kiln.onnx.Mul %x, %hp : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// gpt2 (dynamo, opset 18): Mul(x, 0.5), Pow(x, 3), Mul(., 0.044715), Add(x, .),
// Mul(., 0.7978846), Tanh, Add(., 1), Mul.

// CHECK-LABEL: func.func @gelu_tanh_gpt2
// CHECK: %[[Y:.*]] = kiln.gelu %arg0 approximate  tanh : tensor<1x32x64xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @gelu_tanh_gpt2(%x: tensor<1x32x64xf32>) -> tensor<1x32x64xf32> {
  %half = kiln.constant dense<0.5> : tensor<f32>
  %three = kiln.constant dense<3.0> : tensor<f32>
  %k = kiln.constant dense<0.044715> : tensor<f32>
  %c = kiln.constant dense<0.797884583> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %hx = kiln.onnx.Mul %x, %half : (tensor<1x32x64xf32>, tensor<f32>) -> tensor<1x32x64xf32>
  %cube = kiln.onnx.Pow %x, %three : (tensor<1x32x64xf32>, tensor<f32>) -> tensor<1x32x64xf32>
  %kc = kiln.onnx.Mul %cube, %k : (tensor<1x32x64xf32>, tensor<f32>) -> tensor<1x32x64xf32>
  %inner = kiln.onnx.Add %x, %kc : (tensor<1x32x64xf32>, tensor<1x32x64xf32>) -> tensor<1x32x64xf32>
  %s = kiln.onnx.Mul %inner, %c : (tensor<1x32x64xf32>, tensor<f32>) -> tensor<1x32x64xf32>
  %t = kiln.onnx.Tanh %s : (tensor<1x32x64xf32>) -> tensor<1x32x64xf32>
  %p = kiln.onnx.Add %t, %one : (tensor<1x32x64xf32>, tensor<f32>) -> tensor<1x32x64xf32>
  %y = kiln.onnx.Mul %hx, %p : (tensor<1x32x64xf32>, tensor<1x32x64xf32>) -> tensor<1x32x64xf32>
  return %y : tensor<1x32x64xf32>
}

// -----

// x * x * x instead of Pow, the Add and Muls with swapped operands, the half applied last.

// CHECK-LABEL: func.func @gelu_tanh_cube_by_muls
// CHECK: %[[Y:.*]] = kiln.gelu %arg0 approximate  tanh : tensor<4x16xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @gelu_tanh_cube_by_muls(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %half = kiln.constant dense<0.5> : tensor<f32>
  %k = kiln.constant dense<0.044715> : tensor<f32>
  %c = kiln.constant dense<0.7978846> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %xx = kiln.onnx.Mul %x, %x : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %cube = kiln.onnx.Mul %x, %xx : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %kc = kiln.onnx.Mul %k, %cube : (tensor<f32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %inner = kiln.onnx.Add %kc, %x : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %s = kiln.onnx.Mul %c, %inner : (tensor<f32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %t = kiln.onnx.Tanh %s : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %p = kiln.onnx.Add %one, %t : (tensor<f32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %xp = kiln.onnx.Mul %p, %x : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = kiln.onnx.Mul %half, %xp : (tensor<f32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Near-miss: x / 1.5 under the erf.

// CHECK-LABEL: func.func @gelu_erf_wrong_constant
// CHECK-NOT: kiln.gelu
// CHECK: return
func.func @gelu_erf_wrong_constant(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %wrong = kiln.constant dense<1.5> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %a = kiln.onnx.Div %x, %wrong : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  // expected-remark @below {{GELU not raised: the erf argument is x / 1.5, not x / sqrt(2)}}
  %e = kiln.onnx.Erf %a : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %p = kiln.onnx.Add %e, %one : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %xp = kiln.onnx.Mul %x, %p : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = kiln.onnx.Mul %xp, %half : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Near-miss: the product multiplies another value than the one under the erf.

// CHECK-LABEL: func.func @gelu_erf_different_x
// CHECK-NOT: kiln.gelu
// CHECK: return
func.func @gelu_erf_different_x(%x: tensor<4x16xf32>, %z: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %a = kiln.onnx.Div %x, %sqrt2 : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  // expected-remark @below {{GELU not raised: 1 + ... is multiplied by a value other than x, 0.5 * x or 0.5}}
  %e = kiln.onnx.Erf %a : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %p = kiln.onnx.Add %e, %one : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %zp = kiln.onnx.Mul %z, %p : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = kiln.onnx.Mul %zp, %half : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Near-miss: the cubic coefficient is 0.05.

// CHECK-LABEL: func.func @gelu_tanh_wrong_coefficient
// CHECK-NOT: kiln.gelu
// CHECK: return
func.func @gelu_tanh_wrong_coefficient(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %half = kiln.constant dense<0.5> : tensor<f32>
  %three = kiln.constant dense<3.0> : tensor<f32>
  %k = kiln.constant dense<0.05> : tensor<f32>
  %c = kiln.constant dense<0.797884583> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %hx = kiln.onnx.Mul %x, %half : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %cube = kiln.onnx.Pow %x, %three : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %kc = kiln.onnx.Mul %cube, %k : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %inner = kiln.onnx.Add %x, %kc : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %s = kiln.onnx.Mul %inner, %c : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  // expected-remark @below {{GELU (tanh) not raised: the cubic coefficient is 0.05, not 0.044715}}
  %t = kiln.onnx.Tanh %s : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %p = kiln.onnx.Add %t, %one : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %y = kiln.onnx.Mul %hx, %p : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Near-miss: no ranked type (bert before kiln-simplify).

// CHECK-LABEL: func.func @gelu_erf_unranked
// CHECK-NOT: kiln.gelu
// CHECK: return
func.func @gelu_erf_unranked(%x: tensor<*xf32>) -> tensor<*xf32> {
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %a = kiln.onnx.Div %x, %sqrt2 : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  // expected-remark @below {{GELU not raised: x has no ranked float type}}
  %e = kiln.onnx.Erf %a : (tensor<*xf32>) -> tensor<*xf32>
  %p = kiln.onnx.Add %e, %one : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %xp = kiln.onnx.Mul %x, %p : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %y = kiln.onnx.Mul %xp, %half : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}

//===----------------------------------------------------------------------===//
// SiLU and SwiGLU
//===----------------------------------------------------------------------===//

// -----

// CHECK-LABEL: func.func @silu
// CHECK: %[[Y:.*]] = kiln.silu %arg0 : tensor<4x16xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @silu(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %s = kiln.onnx.Sigmoid %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = kiln.onnx.Mul %s, %x : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Llama's MLP gate: Mul(Mul(gate, Sigmoid(gate)), up).

// CHECK-LABEL: func.func @swiglu
// CHECK: %[[Y:.*]] = kiln.swiglu %arg0, %arg1 : tensor<1x?x32xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @swiglu(%gate: tensor<1x?x32xf32>, %up: tensor<1x?x32xf32>) -> tensor<1x?x32xf32> {
  %s = kiln.onnx.Sigmoid %gate : (tensor<1x?x32xf32>) -> tensor<1x?x32xf32>
  %silu = kiln.onnx.Mul %gate, %s : (tensor<1x?x32xf32>, tensor<1x?x32xf32>) -> tensor<1x?x32xf32>
  %y = kiln.onnx.Mul %silu, %up : (tensor<1x?x32xf32>, tensor<1x?x32xf32>) -> tensor<1x?x32xf32>
  return %y : tensor<1x?x32xf32>
}

// -----

// An already raised kiln.silu times up, up on the left.

// CHECK-LABEL: func.func @swiglu_from_silu
// CHECK: %[[Y:.*]] = kiln.swiglu %arg0, %arg1 : tensor<4x16xf32>
// CHECK: return %[[Y]]
func.func @swiglu_from_silu(%gate: tensor<4x16xf32>, %up: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %silu = kiln.silu %gate : tensor<4x16xf32>
  %y = kiln.onnx.Mul %up, %silu : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// silu(gate) times an up that broadcasts is not a SwiGLU; the silu is still raised.

// CHECK-LABEL: func.func @swiglu_broadcast_up
// CHECK: %[[S:.*]] = kiln.silu %arg0 : tensor<4x16xf32>
// CHECK: %[[Y:.*]] = kiln.onnx.Mul %[[S]], %arg1
// CHECK: return %[[Y]]
func.func @swiglu_broadcast_up(%gate: tensor<4x16xf32>, %up: tensor<16xf32>) -> tensor<4x16xf32> {
  %s = kiln.onnx.Sigmoid %gate : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %silu = kiln.onnx.Mul %gate, %s : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  // expected-remark @below {{SwiGLU not raised: silu(gate) and up do not have the product's type (broadcasting)}}
  %y = kiln.onnx.Mul %silu, %up : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Near-miss: the Sigmoid reads another value than the one it multiplies (a gate, not SiLU).

// CHECK-LABEL: func.func @silu_sigmoid_of_other_value
// CHECK-NOT: kiln.silu
// CHECK-NOT: kiln.swiglu
// CHECK: return
func.func @silu_sigmoid_of_other_value(%x: tensor<4x16xf32>, %z: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %s = kiln.onnx.Sigmoid %z : (tensor<4x16xf32>) -> tensor<4x16xf32>
  // expected-remark @below {{SiLU not raised: the Sigmoid reads a different value than the one it multiplies}}
  %y = kiln.onnx.Mul %x, %s : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// The TorchScript exporter writes rsqrt as Div(1, Sqrt(..)) and multiplies by it.

// CHECK-LABEL: func.func @rms_norm_div_one_over_std
// CHECK: %[[Y:.*]] = kiln.rms_norm %arg0, %arg1 eps 9.99999997E-7 : tensor<2x8xf32>, tensor<8xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[Y]]
func.func @rms_norm_div_one_over_std(%x: tensor<2x8xf32>, %g: tensor<8xf32>) -> tensor<2x8xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %axes = kiln.constant dense<-1> : tensor<1xi64>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %ms = kiln.onnx.ReduceMean %sq, %axes : (tensor<2x8xf32>, tensor<1xi64>) -> tensor<2x1xf32>
  %v = kiln.onnx.Add %ms, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %std = kiln.onnx.Sqrt %v : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %inv = kiln.onnx.Div %one, %std : (tensor<f32>, tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = kiln.onnx.Mul %x, %inv : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y = kiln.onnx.Mul %n, %g : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
