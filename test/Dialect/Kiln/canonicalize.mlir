// RUN: kiln-opt %s -split-input-file -canonicalize | FileCheck %s

// Folders and canonicalization patterns of the graph ops, and the cases they must leave alone.

// CHECK-LABEL: func.func @identity_folds
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x768xf32>)
// CHECK-NOT: kiln.onnx.Identity
// CHECK: return %[[X]]
func.func @identity_folds(%x: tensor<1x?x768xf32>) -> tensor<1x?x768xf32> {
  %0 = kiln.onnx.Identity %x : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

// CHECK-LABEL: func.func @cast_same_type_folds
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x768xf16>)
// CHECK-NOT: kiln.onnx.Cast
// CHECK: return %[[X]]
func.func @cast_same_type_folds(%x: tensor<1x?x768xf16>) -> tensor<1x?x768xf16> {
  %0 = kiln.onnx.Cast %x {to = f16} : (tensor<1x?x768xf16>) -> tensor<1x?x768xf16>
  return %0 : tensor<1x?x768xf16>
}

// -----

// CHECK-LABEL: func.func @cast_other_type_stays
// CHECK: %[[C:.*]] = kiln.onnx.Cast %{{.*}} {to = f16} : (tensor<1x?x768xf32>) -> tensor<1x?x768xf16>
// CHECK: return %[[C]]
func.func @cast_other_type_stays(%x: tensor<1x?x768xf32>) -> tensor<1x?x768xf16> {
  %0 = kiln.onnx.Cast %x {to = f16} : (tensor<1x?x768xf32>) -> tensor<1x?x768xf16>
  return %0 : tensor<1x?x768xf16>
}

// -----

// CHECK-LABEL: func.func @reshape_same_static_type_folds
// CHECK-SAME: (%[[X:.*]]: tensor<1x16x768xf32>, %{{.*}}: tensor<3xi64>)
// CHECK-NOT: kiln.onnx.Reshape
// CHECK: return %[[X]]
func.func @reshape_same_static_type_folds(%x: tensor<1x16x768xf32>, %s: tensor<3xi64>)
    -> tensor<1x16x768xf32> {
  %0 = kiln.onnx.Reshape %x, %s : (tensor<1x16x768xf32>, tensor<3xi64>) -> tensor<1x16x768xf32>
  return %0 : tensor<1x16x768xf32>
}

// -----

// With a dynamic dim the same type does not prove that the shape is kept: `shape` could move
// the unknown extent to another dim.
// CHECK-LABEL: func.func @reshape_dynamic_type_stays
// CHECK: %[[R:.*]] = kiln.onnx.Reshape %{{.*}}, %{{.*}} : (tensor<1x?x768xf32>, tensor<3xi64>) -> tensor<1x?x768xf32>
// CHECK: return %[[R]]
func.func @reshape_dynamic_type_stays(%x: tensor<1x?x768xf32>, %s: tensor<3xi64>)
    -> tensor<1x?x768xf32> {
  %0 = kiln.onnx.Reshape %x, %s : (tensor<1x?x768xf32>, tensor<3xi64>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

// CHECK-LABEL: func.func @reshape_other_type_stays
// CHECK: %[[R:.*]] = kiln.onnx.Reshape %{{.*}}, %{{.*}} : (tensor<1x16x768xf32>, tensor<4xi64>) -> tensor<1x16x12x64xf32>
// CHECK: return %[[R]]
func.func @reshape_other_type_stays(%x: tensor<1x16x768xf32>, %s: tensor<4xi64>)
    -> tensor<1x16x12x64xf32> {
  %0 = kiln.onnx.Reshape %x, %s : (tensor<1x16x768xf32>, tensor<4xi64>) -> tensor<1x16x12x64xf32>
  return %0 : tensor<1x16x12x64xf32>
}

// -----

// CHECK-LABEL: func.func @transpose_identity_perm_folds
// CHECK-SAME: (%[[X:.*]]: tensor<1x12x?x64xf32>)
// CHECK-NOT: kiln.onnx.Transpose
// CHECK: return %[[X]]
func.func @transpose_identity_perm_folds(%x: tensor<1x12x?x64xf32>) -> tensor<1x12x?x64xf32> {
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 1, 2, 3>}
      : (tensor<1x12x?x64xf32>) -> tensor<1x12x?x64xf32>
  return %0 : tensor<1x12x?x64xf32>
}

// -----

// A non-identity perm stays, even when the result type equals the input type.
// CHECK-LABEL: func.func @transpose_permutation_stays
// CHECK: %[[T0:.*]] = kiln.onnx.Transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
// CHECK: %[[T1:.*]] = kiln.onnx.Transpose %{{.*}} {perm = array<i64: 1, 0>} : (tensor<64x64xf32>) -> tensor<64x64xf32>
// CHECK: return %[[T0]], %[[T1]]
func.func @transpose_permutation_stays(%x: tensor<1x?x12x64xf32>, %w: tensor<64x64xf32>)
    -> (tensor<1x12x?x64xf32>, tensor<64x64xf32>) {
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1, 3>}
      : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
  %1 = kiln.onnx.Transpose %w {perm = array<i64: 1, 0>} : (tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0, %1 : tensor<1x12x?x64xf32>, tensor<64x64xf32>
}

// -----

// Without 'perm' a square matrix is transposed too: the default perm reverses the dims.
// CHECK-LABEL: func.func @transpose_default_perm_stays
// CHECK: %[[T:.*]] = kiln.onnx.Transpose %{{.*}} : (tensor<64x64xf32>) -> tensor<64x64xf32>
// CHECK: return %[[T]]
func.func @transpose_default_perm_stays(%w: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = kiln.onnx.Transpose %w : (tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

// Nor is an unranked input kept: its reversed dims are unknown.
// CHECK-LABEL: func.func @transpose_unranked_default_perm_stays
// CHECK: %[[T:.*]] = kiln.onnx.Transpose %{{.*}} : (tensor<*xf32>) -> tensor<*xf32>
// CHECK: return %[[T]]
func.func @transpose_unranked_default_perm_stays(%x: tensor<*xf32>) -> tensor<*xf32> {
  %0 = kiln.onnx.Transpose %x : (tensor<*xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// [batch, seq, heads, head] -> [batch, heads, seq, head] -> [batch, heads, head, seq]
// composes into one transpose with perm p1[p2] = [0, 2, 3, 1].
// CHECK-LABEL: func.func @transpose_transpose_composes
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x12x64xf32>)
// CHECK: %[[T:.*]] = kiln.onnx.Transpose %[[X]] {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x?x12x64xf32>) -> tensor<1x12x64x?xf32>
// CHECK-NOT: kiln.onnx.Transpose
// CHECK: return %[[T]]
func.func @transpose_transpose_composes(%x: tensor<1x?x12x64xf32>) -> tensor<1x12x64x?xf32> {
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1, 3>}
      : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
  %1 = kiln.onnx.Transpose %0 {perm = array<i64: 0, 1, 3, 2>}
      : (tensor<1x12x?x64xf32>) -> tensor<1x12x64x?xf32>
  return %1 : tensor<1x12x64x?xf32>
}

// -----

// A transpose and its inverse compose to the identity, which then folds away; so do two
// default (reversing) perms.
// CHECK-LABEL: func.func @transpose_inverse_cancels
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x12x64xf32>, %[[W:.*]]: tensor<768x3072xf32>)
// CHECK-NOT: kiln.onnx.Transpose
// CHECK: return %[[X]], %[[W]]
func.func @transpose_inverse_cancels(%x: tensor<1x?x12x64xf32>, %w: tensor<768x3072xf32>)
    -> (tensor<1x?x12x64xf32>, tensor<768x3072xf32>) {
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1, 3>}
      : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
  %1 = kiln.onnx.Transpose %0 {perm = array<i64: 0, 2, 1, 3>}
      : (tensor<1x12x?x64xf32>) -> tensor<1x?x12x64xf32>
  %2 = kiln.onnx.Transpose %w : (tensor<768x3072xf32>) -> tensor<3072x768xf32>
  %3 = kiln.onnx.Transpose %2 : (tensor<3072x768xf32>) -> tensor<768x3072xf32>
  return %1, %3 : tensor<1x?x12x64xf32>, tensor<768x3072xf32>
}

// -----

// An unranked intermediate hides the rank the outer perm applies to: no composition.
// CHECK-LABEL: func.func @transpose_unranked_intermediate_stays
// CHECK: %[[T0:.*]] = kiln.onnx.Transpose %{{.*}} {perm = array<i64: 1, 0>} : (tensor<16x64xf32>) -> tensor<*xf32>
// CHECK: %[[T1:.*]] = kiln.onnx.Transpose %[[T0]] : (tensor<*xf32>) -> tensor<*xf32>
// CHECK: return %[[T1]]
func.func @transpose_unranked_intermediate_stays(%x: tensor<16x64xf32>) -> tensor<*xf32> {
  %0 = kiln.onnx.Transpose %x {perm = array<i64: 1, 0>} : (tensor<16x64xf32>) -> tensor<*xf32>
  %1 = kiln.onnx.Transpose %0 : (tensor<*xf32>) -> tensor<*xf32>
  return %1 : tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @shape_of_static_tensor
// CHECK-DAG: %[[ALL:.*]] = kiln.constant dense<[1, 16, 768]> : tensor<3xi64>
// CHECK-DAG: %[[SEQ:.*]] = kiln.constant dense<16> : tensor<1xi64>
// CHECK-DAG: %[[LAST:.*]] = kiln.constant dense<768> : tensor<1xi64>
// CHECK-DAG: %[[TAIL:.*]] = kiln.constant dense<[16, 768]> : tensor<2xi64>
// CHECK-NOT: kiln.onnx.Shape
// CHECK: return %[[ALL]], %[[SEQ]], %[[LAST]], %[[TAIL]]
func.func @shape_of_static_tensor(%x: tensor<1x16x768xf32>)
    -> (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>, tensor<2xi64>) {
  %0 = kiln.onnx.Shape %x : (tensor<1x16x768xf32>) -> tensor<3xi64>
  %1 = kiln.onnx.Shape %x {start = 1 : i64, end = 2 : i64} : (tensor<1x16x768xf32>) -> tensor<1xi64>
  %2 = kiln.onnx.Shape %x {start = -1 : i64} : (tensor<1x16x768xf32>) -> tensor<1xi64>
  // An end past the rank is clamped.
  %3 = kiln.onnx.Shape %x {start = 1 : i64, end = 10 : i64}
      : (tensor<1x16x768xf32>) -> tensor<2xi64>
  return %0, %1, %2, %3 : tensor<3xi64>, tensor<1xi64>, tensor<1xi64>, tensor<2xi64>
}

// -----

// Only the selected dims need to be static.
// CHECK-LABEL: func.func @shape_of_static_dims
// CHECK: %[[C:.*]] = kiln.constant dense<768> : tensor<1xi64>
// CHECK-NOT: kiln.onnx.Shape
// CHECK: return %[[C]]
func.func @shape_of_static_dims(%x: tensor<1x?x768xf32>) -> tensor<1xi64> {
  %0 = kiln.onnx.Shape %x {start = 2 : i64} : (tensor<1x?x768xf32>) -> tensor<1xi64>
  return %0 : tensor<1xi64>
}

// -----

// CHECK-LABEL: func.func @shape_of_dynamic_dim_stays
// CHECK-NOT: kiln.constant
// CHECK: %[[S0:.*]] = kiln.onnx.Shape %{{.*}} : (tensor<1x?x768xf32>) -> tensor<3xi64>
// CHECK: %[[S1:.*]] = kiln.onnx.Shape %{{.*}} {end = 2 : i64} : (tensor<1x?x768xf32>) -> tensor<2xi64>
// CHECK: return %[[S0]], %[[S1]]
func.func @shape_of_dynamic_dim_stays(%x: tensor<1x?x768xf32>) -> (tensor<3xi64>, tensor<2xi64>) {
  %0 = kiln.onnx.Shape %x : (tensor<1x?x768xf32>) -> tensor<3xi64>
  %1 = kiln.onnx.Shape %x {end = 2 : i64} : (tensor<1x?x768xf32>) -> tensor<2xi64>
  return %0, %1 : tensor<3xi64>, tensor<2xi64>
}

// -----

// CHECK-LABEL: func.func @dropout_inference_folds
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x768xf32>, %{{.*}}: tensor<f32>)
// CHECK-NOT: kiln.onnx.Dropout
// CHECK: return %[[X]], %[[X]]
func.func @dropout_inference_folds(%x: tensor<1x?x768xf32>, %ratio: tensor<f32>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>) {
  %0 = kiln.onnx.Dropout %x {operandSegmentSizes = array<i32: 1, 0, 0>}
      : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  // A ratio without training_mode does not matter either.
  %1 = kiln.onnx.Dropout %x, %ratio {operandSegmentSizes = array<i32: 1, 1, 0>}
      : (tensor<1x?x768xf32>, tensor<f32>) -> tensor<1x?x768xf32>
  return %0, %1 : tensor<1x?x768xf32>, tensor<1x?x768xf32>
}

// -----

// CHECK-LABEL: func.func @dropout_training_mode_stays
// CHECK: %[[D:.*]] = kiln.onnx.Dropout %{{.*}}, %{{.*}}, %{{.*}} {operandSegmentSizes = array<i32: 1, 1, 1>} : (tensor<1x?x768xf32>, tensor<f32>, tensor<i1>) -> tensor<1x?x768xf32>
// CHECK: return %[[D]]
func.func @dropout_training_mode_stays(%x: tensor<1x?x768xf32>, %ratio: tensor<f32>,
                                       %training: tensor<i1>) -> tensor<1x?x768xf32> {
  %0 = kiln.onnx.Dropout %x, %ratio, %training {operandSegmentSizes = array<i32: 1, 1, 1>}
      : (tensor<1x?x768xf32>, tensor<f32>, tensor<i1>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// -----

// The mask result keeps the op.
// CHECK-LABEL: func.func @dropout_with_mask_stays
// CHECK: %[[D:.*]], %[[M:.*]] = kiln.onnx.Dropout %{{.*}} {operandSegmentSizes = array<i32: 1, 0, 0>} : (tensor<1x?x768xf32>) -> (tensor<1x?x768xf32>, tensor<1x?x768xi1>)
// CHECK: return %[[D]], %[[M]]
func.func @dropout_with_mask_stays(%x: tensor<1x?x768xf32>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xi1>) {
  %0, %mask = kiln.onnx.Dropout %x {operandSegmentSizes = array<i32: 1, 0, 0>}
      : (tensor<1x?x768xf32>) -> (tensor<1x?x768xf32>, tensor<1x?x768xi1>)
  return %0, %mask : tensor<1x?x768xf32>, tensor<1x?x768xi1>
}

// -----

// CHECK-LABEL: func.func @neg_neg_folds
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x768xf32>, %[[I:.*]]: tensor<?xi64>)
// CHECK-NOT: kiln.onnx.Neg
// CHECK: return %[[X]], %[[I]]
func.func @neg_neg_folds(%x: tensor<1x?x768xf32>, %i: tensor<?xi64>)
    -> (tensor<1x?x768xf32>, tensor<?xi64>) {
  %0 = kiln.onnx.Neg %x : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  %1 = kiln.onnx.Neg %0 : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  %2 = kiln.onnx.Neg %i : (tensor<?xi64>) -> tensor<?xi64>
  %3 = kiln.onnx.Neg %2 : (tensor<?xi64>) -> tensor<?xi64>
  return %1, %3 : tensor<1x?x768xf32>, tensor<?xi64>
}

// -----

// CHECK-LABEL: func.func @not_not_folds
// CHECK-SAME: (%[[M:.*]]: tensor<1x1x?x?xi1>)
// CHECK-NOT: kiln.onnx.Not
// CHECK: return %[[M]]
func.func @not_not_folds(%m: tensor<1x1x?x?xi1>) -> tensor<1x1x?x?xi1> {
  %0 = kiln.onnx.Not %m : (tensor<1x1x?x?xi1>) -> tensor<1x1x?x?xi1>
  %1 = kiln.onnx.Not %0 : (tensor<1x1x?x?xi1>) -> tensor<1x1x?x?xi1>
  return %1 : tensor<1x1x?x?xi1>
}

// -----

// A single Neg (or an odd count) keeps one op.
// CHECK-LABEL: func.func @neg_odd_count_stays
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x768xf32>)
// CHECK: %[[N:.*]] = kiln.onnx.Neg %[[X]] : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
// CHECK-NOT: kiln.onnx.Neg
// CHECK: return %[[N]]
func.func @neg_odd_count_stays(%x: tensor<1x?x768xf32>) -> tensor<1x?x768xf32> {
  %0 = kiln.onnx.Neg %x : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  %1 = kiln.onnx.Neg %0 : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  %2 = kiln.onnx.Neg %1 : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  return %2 : tensor<1x?x768xf32>
}

// -----

// Equal constants are uniqued; an unused graph op (they are all Pure) is erased.
// CHECK-LABEL: func.func @constants_unique
// CHECK: %[[C:.*]] = kiln.constant dense<[1, -1, 12, 64]> : tensor<4xi64>
// CHECK-NOT: kiln.
// CHECK: return %[[C]], %[[C]]
func.func @constants_unique(%x: tensor<1x?x768xf32>) -> (tensor<4xi64>, tensor<4xi64>) {
  %0 = kiln.constant dense<[1, -1, 12, 64]> : tensor<4xi64>
  %1 = kiln.constant dense<[1, -1, 12, 64]> : tensor<4xi64>
  %2 = kiln.onnx.Sqrt %x : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  return %0, %1 : tensor<4xi64>, tensor<4xi64>
}
