// RUN: kiln-opt %s -kiln-lower-to-gpu='precision=fp16 dim-max=seq=512' -split-input-file -verify-diagnostics | FileCheck %s

// The driver: dynamic input dims become bounded symbols, float inputs are converted to the
// storage type at the boundary, and a Cast to bool is `!= 0`, not a truncation. A returned
// argument is returned as it is.
// CHECK-LABEL: func.func @main
// CHECK-SAME: kiln.dim_params = ["", "seq"]
// CHECK-SAME: kiln.dim_bounds = {seq = 512 : i64}, kiln.precision = "fp16", kiln.target = "sm_90"
// CHECK: %[[H:.*]] = kiln.launch @kiln_kernels::@convert_f32_to_f16(%arg0)
// CHECK: kiln.launch @kiln_kernels::@convert_f16_to_bool_i8(%[[H]])
// CHECK: return %{{.*}}, %arg0
// CHECK: gpu.func @convert_f16_to_bool_i8
// CHECK: arith.cmpf une
func.func @main(%x: tensor<1x?xf32> {kiln.dim_params = ["", "seq"], kiln.name = "x"})
    -> (tensor<1x?xi1>, tensor<1x?xf32>) {
  %0 = kiln.onnx.Cast %x {to = i1} : (tensor<1x?xf32>) -> tensor<1x?xi1>
  return %0, %x : tensor<1x?xi1>, tensor<1x?xf32>
}

// -----

// expected-error @+1 {{has several blocks; the launch plan needs straight-line code}}
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  cf.br ^bb1
^bb1:
  return %x : tensor<4xf32>
}

// -----

// expected-error @+1 {{argument 0 of @main has type 'tensor<4xindex>'; the GPU plan binds ranked tensors}}
func.func @main(%x: tensor<4xindex>) -> tensor<4xindex> {
  return %x : tensor<4xindex>
}

// -----

// expected-error @+1 {{no function with a body to lower}}
module {
  func.func private @main(tensor<4xf32>) -> tensor<4xf32>
}

// -----

// An op without a kernel template names itself (and a dim-max for no dim is a warning).
// expected-warning @+1 {{dim-max names 'seq', which is no dynamic input dim}}
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{no GPU lowering for 'kiln.layer'}}
  %0 = kiln.layer 0 (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kiln.yield %a : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}
