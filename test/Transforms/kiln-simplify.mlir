// RUN: kiln-opt %s -split-input-file -kiln-simplify -verify-diagnostics | FileCheck %s
// RUN: kiln-opt %s -split-input-file -kiln-simplify=fold-limit=4 -verify-diagnostics | FileCheck %s --check-prefix=LIMIT

// kiln-simplify: shape inference with symbolic dims, folding of shape arithmetic and of
// all-constant ops (up to `fold-limit` result elements), type refinement, DCE. The second RUN
// line lowers the fold limit to 4 elements; only the LIMIT lines check its output.

// Shape -> Gather -> Unsqueeze -> Concat -> Reshape on a static input: the whole chain folds to
// one constant shape and the Reshape's result type becomes static, as does the signature.

// CHECK-LABEL: func.func @static_shape_chain
// CHECK-SAME: -> tensor<1x8x4x32xf32>
// CHECK: %[[S:.*]] = kiln.constant dense<[1, 8, 4, 32]> : tensor<4xi64>
// CHECK-NOT: kiln.onnx.Shape
// CHECK-NOT: kiln.onnx.Gather
// CHECK-NOT: kiln.onnx.Unsqueeze
// CHECK-NOT: kiln.onnx.Concat
// CHECK: %[[Y:.*]] = kiln.onnx.Reshape %arg0, %[[S]] : (tensor<1x8x128xf32>, tensor<4xi64>) -> tensor<1x8x4x32xf32>
// CHECK: return %[[Y]] : tensor<1x8x4x32xf32>
func.func @static_shape_chain(%x: tensor<1x8x128xf32>) -> tensor<?x?x4x32xf32> {
  %shape = kiln.onnx.Shape %x : (tensor<1x8x128xf32>) -> tensor<3xi64>
  %i0 = kiln.constant dense<0> : tensor<i64>
  %i1 = kiln.constant dense<1> : tensor<i64>
  %b = kiln.onnx.Gather %shape, %i0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %s = kiln.onnx.Gather %shape, %i1 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %axes = kiln.constant dense<0> : tensor<1xi64>
  %bu = kiln.onnx.Unsqueeze %b, %axes : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %su = kiln.onnx.Unsqueeze %s, %axes : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %heads = kiln.constant dense<4> : tensor<1xi64>
  %dim = kiln.constant dense<32> : tensor<1xi64>
  %target = kiln.onnx.Concat %bu, %su, %heads, %dim {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %y = kiln.onnx.Reshape %x, %target : (tensor<1x8x128xf32>, tensor<4xi64>) -> tensor<?x?x4x32xf32>
  return %y : tensor<?x?x4x32xf32>
}

// -----

// The same chain on a dynamic `seq` input: the batch element folds (Gather 0 and its Unsqueeze
// become the constant [1]); only the seq element's Shape -> Gather 1 -> Unsqueeze stays.

// CHECK-LABEL: func.func @dynamic_shape_chain
// CHECK-SAME: -> tensor<1x?x4x32xf32>
// CHECK-DAG: %[[D:.*]] = kiln.constant dense<32> : tensor<1xi64>
// CHECK-DAG: %[[H:.*]] = kiln.constant dense<4> : tensor<1xi64>
// CHECK-DAG: %[[B:.*]] = kiln.constant dense<1> : tensor<1xi64>
// CHECK-DAG: %[[I1:.*]] = kiln.constant dense<1> : tensor<i64>
// CHECK: %[[SHAPE:.*]] = kiln.onnx.Shape %arg0 : (tensor<1x?x128xf32>) -> tensor<3xi64>
// CHECK-NEXT: %[[SEQ:.*]] = kiln.onnx.Gather %[[SHAPE]], %[[I1]] : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
// CHECK-NEXT: %[[SEQ1:.*]] = kiln.onnx.Unsqueeze %[[SEQ]], %{{.*}} : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
// CHECK-NEXT: %[[T:.*]] = kiln.onnx.Concat %[[B]], %[[SEQ1]], %[[H]], %[[D]] {axis = 0 : i64}
// CHECK-NEXT: %[[Y:.*]] = kiln.onnx.Reshape %arg0, %[[T]] : (tensor<1x?x128xf32>, tensor<4xi64>) -> tensor<1x?x4x32xf32>
// CHECK-NEXT: return %[[Y]] : tensor<1x?x4x32xf32>
func.func @dynamic_shape_chain(%x: tensor<1x?x128xf32> {kiln.dim_params = ["", "seq", ""]}) -> tensor<?x?x4x32xf32> {
  %shape = kiln.onnx.Shape %x : (tensor<1x?x128xf32>) -> tensor<3xi64>
  %i0 = kiln.constant dense<0> : tensor<i64>
  %i1 = kiln.constant dense<1> : tensor<i64>
  %b = kiln.onnx.Gather %shape, %i0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %s = kiln.onnx.Gather %shape, %i1 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %axes = kiln.constant dense<0> : tensor<1xi64>
  %bu = kiln.onnx.Unsqueeze %b, %axes : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %su = kiln.onnx.Unsqueeze %s, %axes : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %heads = kiln.constant dense<4> : tensor<1xi64>
  %dim = kiln.constant dense<32> : tensor<1xi64>
  %target = kiln.onnx.Concat %bu, %su, %heads, %dim {axis = 0 : i64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %y = kiln.onnx.Reshape %x, %target : (tensor<1x?x128xf32>, tensor<4xi64>) -> tensor<?x?x4x32xf32>
  return %y : tensor<?x?x4x32xf32>
}

// -----

// Unranked results get ranked (and here static) types, through a chain of two ops.

// CHECK-LABEL: func.func @unranked_results
// CHECK-SAME: -> tensor<2x3xf32>
// CHECK: %[[A:.*]] = kiln.onnx.Add %arg0, %arg1 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK: %[[R:.*]] = kiln.onnx.Relu %[[A]] : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK: return %[[R]] : tensor<2x3xf32>
func.func @unranked_results(%x: tensor<2x3xf32>, %y: tensor<3xf32>) -> tensor<*xf32> {
  %a = kiln.onnx.Add %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<*xf32>
  %r = kiln.onnx.Relu %a : (tensor<*xf32>) -> tensor<*xf32>
  return %r : tensor<*xf32>
}

// -----

// Range(0, 8, 1) and ConstantOfShape of a constant shape fold to dense constants. Under
// fold-limit=4 neither is folded (8 and 6 elements), but their types are still refined.

// CHECK-LABEL: func.func @range_constant_of_shape
// CHECK-SAME: -> (tensor<8xi64>, tensor<2x3xf32>)
// CHECK-DAG: %[[R:.*]] = kiln.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : tensor<8xi64>
// CHECK-DAG: %[[C:.*]] = kiln.constant dense<1.500000e+00> : tensor<2x3xf32>
// CHECK-NOT: kiln.onnx
// CHECK: return %[[R]], %[[C]] : tensor<8xi64>, tensor<2x3xf32>

// LIMIT-LABEL: func.func @range_constant_of_shape
// LIMIT: kiln.onnx.Range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<8xi64>
// LIMIT: kiln.onnx.ConstantOfShape %{{.*}} {value = dense<1.500000e+00> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<2x3xf32>
func.func @range_constant_of_shape() -> (tensor<?xi64>, tensor<?x?xf32>) {
  %start = kiln.constant dense<0> : tensor<i64>
  %limit = kiln.constant dense<8> : tensor<i64>
  %delta = kiln.constant dense<1> : tensor<i64>
  %r = kiln.onnx.Range %start, %limit, %delta : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %shape = kiln.constant dense<[2, 3]> : tensor<2xi64>
  %c = kiln.onnx.ConstantOfShape %shape {value = dense<1.5> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x?xf32>
  return %r, %c : tensor<?xi64>, tensor<?x?xf32>
}

// -----

// Reshape with -1 next to a dynamic dim: the inferred dim is the input's `seq` symbol itself
// (seq * 128 / (4 * 32)), not a fresh unknown, so seq(y) - seq(x) folds to 0.

// CHECK-LABEL: func.func @reshape_infer_symbolic
// CHECK-SAME: -> (tensor<1x?x4x32xf32>, tensor<1xi64>)
// CHECK-DAG: %[[ZERO:.*]] = kiln.constant dense<0> : tensor<1xi64>
// CHECK-DAG: %[[T:.*]] = kiln.constant dense<[1, -1, 4, 32]> : tensor<4xi64>
// CHECK: %[[Y:.*]] = kiln.onnx.Reshape %arg0, %[[T]] : (tensor<1x?x128xf32>, tensor<4xi64>) -> tensor<1x?x4x32xf32>
// CHECK-NOT: kiln.onnx.Shape
// CHECK-NOT: kiln.onnx.Sub
// CHECK: return %[[Y]], %[[ZERO]] : tensor<1x?x4x32xf32>, tensor<1xi64>
func.func @reshape_infer_symbolic(%x: tensor<1x?x128xf32> {kiln.dim_params = ["", "seq", ""]})
    -> (tensor<?x?x?x?xf32>, tensor<1xi64>) {
  %target = kiln.constant dense<[1, -1, 4, 32]> : tensor<4xi64>
  %y = kiln.onnx.Reshape %x, %target : (tensor<1x?x128xf32>, tensor<4xi64>) -> tensor<?x?x?x?xf32>
  %sy = kiln.onnx.Shape %y {end = 2 : i64, start = 1 : i64} : (tensor<?x?x?x?xf32>) -> tensor<1xi64>
  %sx = kiln.onnx.Shape %x {end = 2 : i64, start = 1 : i64} : (tensor<1x?x128xf32>) -> tensor<1xi64>
  %d = kiln.onnx.Sub %sy, %sx : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  return %y, %d : tensor<?x?x?x?xf32>, tensor<1xi64>
}

// -----

// The fold limit: with the default, both ConstantOfShape fold; with fold-limit=4, the one of
// 4 elements folds and the one of 5 stays (with its type refined).

// CHECK-LABEL: func.func @fold_limit
// CHECK-DAG: kiln.constant dense<2.000000e+00> : tensor<2x2xf32>
// CHECK-DAG: kiln.constant dense<3.000000e+00> : tensor<5xf32>
// CHECK-NOT: kiln.onnx.ConstantOfShape

// LIMIT-LABEL: func.func @fold_limit
// LIMIT-DAG: %[[A:.*]] = kiln.constant dense<2.000000e+00> : tensor<2x2xf32>
// LIMIT-DAG: %[[B:.*]] = kiln.onnx.ConstantOfShape %{{.*}} {value = dense<3.000000e+00> : tensor<1xf32>} : (tensor<1xi64>) -> tensor<5xf32>
// LIMIT: return %[[A]], %[[B]] : tensor<2x2xf32>, tensor<5xf32>
func.func @fold_limit() -> (tensor<?x?xf32>, tensor<?xf32>) {
  %s4 = kiln.constant dense<[2, 2]> : tensor<2xi64>
  %s5 = kiln.constant dense<[5]> : tensor<1xi64>
  %a = kiln.onnx.ConstantOfShape %s4 {value = dense<2.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x?xf32>
  %b = kiln.onnx.ConstantOfShape %s5 {value = dense<3.0> : tensor<1xf32>} : (tensor<1xi64>) -> tensor<?xf32>
  return %a, %b : tensor<?x?xf32>, tensor<?xf32>
}

// -----

// A constant Gather with an out-of-range index is not folded and reports nothing at compile
// time (-verify-diagnostics rejects any diagnostic): the op stays for run time, where the
// executor reports the error with the real inputs.

// CHECK-LABEL: func.func @gather_index_out_of_range
// CHECK: %[[G:.*]] = kiln.onnx.Gather %{{.*}}, %{{.*}} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
// CHECK: return %[[G]]
func.func @gather_index_out_of_range() -> tensor<i64> {
  %data = kiln.constant dense<[1, 2, 3]> : tensor<3xi64>
  %index = kiln.constant dense<5> : tensor<i64>
  %g = kiln.onnx.Gather %data, %index : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  return %g : tensor<i64>
}

// -----

// The function's result type follows its returned value once that is refined (the broadcast
// of [2, ?] and [1, 3] is [2, 3]).

// CHECK-LABEL: func.func @function_result_type
// CHECK-SAME: (%arg0: tensor<2x?xf32>, %arg1: tensor<1x3xf32>) -> tensor<2x3xf32>
// CHECK: %[[A:.*]] = kiln.onnx.Add %arg0, %arg1 : (tensor<2x?xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
// CHECK: return %[[A]] : tensor<2x3xf32>
func.func @function_result_type(%x: tensor<2x?xf32>, %y: tensor<1x3xf32>) -> tensor<?x?xf32> {
  %a = kiln.onnx.Add %x, %y : (tensor<2x?xf32>, tensor<1x3xf32>) -> tensor<?x?xf32>
  return %a : tensor<?x?xf32>
}

// -----

// A 0 in Reshape's shape copies the input's dim: unknown when the input is unranked, so the
// result dim stays dynamic (it must not become a static 0).

// CHECK-LABEL: func.func @reshape_zero_unranked
// CHECK: kiln.onnx.Reshape {{.*}} -> tensor<?x?xf32>
// LIMIT-LABEL: func.func @reshape_zero_unranked
func.func @reshape_zero_unranked(%x: tensor<*xf32>) -> tensor<?x?xf32> {
  %t = kiln.constant dense<[0, -1]> : tensor<2xi64>
  %y = kiln.onnx.Reshape %x, %t : (tensor<*xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

// A 0 past the input's rank (invalid ONNX) is left for the executor to report: the type is not
// refined into one the verifier rejects.

// CHECK-LABEL: func.func @reshape_zero_past_rank
// CHECK: kiln.onnx.Reshape {{.*}} -> tensor<2x3x?xf32>
// LIMIT-LABEL: func.func @reshape_zero_past_rank
func.func @reshape_zero_past_rank(%x: tensor<2x3xf32>) -> tensor<?x?x?xf32> {
  %t = kiln.constant dense<[0, 3, 0]> : tensor<3xi64>
  %y = kiln.onnx.Reshape %x, %t : (tensor<2x3xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  return %y : tensor<?x?x?xf32>
}

// -----

// An unnamed dynamic dim is not the dim named "s0" (torch's name for its first symbol).

// CHECK-LABEL: func.func @unnamed_dim_is_not_s0
// CHECK: kiln.onnx.Sub
// CHECK-NOT: dense<0>
// LIMIT-LABEL: func.func @unnamed_dim_is_not_s0
func.func @unnamed_dim_is_not_s0(%x: tensor<?xf32>, %y: tensor<?xf32> {kiln.dim_params = ["s0"]}) -> tensor<1xi64> {
  %sx = kiln.onnx.Shape %x : (tensor<?xf32>) -> tensor<1xi64>
  %sy = kiln.onnx.Shape %y : (tensor<?xf32>) -> tensor<1xi64>
  %d = kiln.onnx.Sub %sx, %sy : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  return %d : tensor<1xi64>
}

// -----

// Shape elements are tracked in vectors only: after Unsqueeze to [3, 1] and a Concat along
// axis 1 the element order is interleaved, so nothing about %g is known and nothing folds.

// CHECK-LABEL: func.func @concat_axis1_not_tracked
// CHECK: %[[G:.*]] = kiln.onnx.Gather
// CHECK: return %[[G]]
// LIMIT-LABEL: func.func @concat_axis1_not_tracked
func.func @concat_axis1_not_tracked(%x: tensor<?x3x4xf32>) -> tensor<1xi64> {
  %s = kiln.onnx.Shape %x : (tensor<?x3x4xf32>) -> tensor<3xi64>
  %a1 = kiln.constant dense<1> : tensor<1xi64>
  %u = kiln.onnx.Unsqueeze %s, %a1 : (tensor<3xi64>, tensor<1xi64>) -> tensor<3x1xi64>
  %c = kiln.onnx.Concat %u, %u {axis = 1 : i64} : (tensor<3x1xi64>, tensor<3x1xi64>) -> tensor<3x2xi64>
  %six = kiln.constant dense<6> : tensor<1xi64>
  %r = kiln.onnx.Reshape %c, %six : (tensor<3x2xi64>, tensor<1xi64>) -> tensor<6xi64>
  %i = kiln.constant dense<2> : tensor<1xi64>
  %g = kiln.onnx.Gather %r, %i : (tensor<6xi64>, tensor<1xi64>) -> tensor<1xi64>
  return %g : tensor<1xi64>
}

// -----

// An axis out of range hides behind an unranked operand; refining the operand's type would make
// the op fail verification, so that type stays unranked (the executor reports the axis).

// CHECK-LABEL: func.func @bad_axis_keeps_unranked
// CHECK: kiln.onnx.Gather {{.*}} {axis = 7 : i64} : (tensor<*xf32>, tensor<i64>)
// LIMIT-LABEL: func.func @bad_axis_keeps_unranked
func.func @bad_axis_keeps_unranked(%x: tensor<6xf32>, %i: tensor<i64>) -> tensor<*xf32> {
  %shape = kiln.constant dense<[3, 2]> : tensor<2xi64>
  %r = kiln.onnx.Reshape %x, %shape : (tensor<6xf32>, tensor<2xi64>) -> tensor<*xf32>
  %g = kiln.onnx.Gather %r, %i {axis = 7 : i64} : (tensor<*xf32>, tensor<i64>) -> tensor<*xf32>
  return %g : tensor<*xf32>
}
