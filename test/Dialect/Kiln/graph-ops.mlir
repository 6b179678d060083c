// RUN: kiln-opt %s -split-input-file | kiln-opt -split-input-file | FileCheck %s
// RUN: kiln-opt %s -split-input-file -mlir-print-op-generic | kiln-opt -split-input-file | FileCheck %s

// Round trip of the graph ops (`kiln.onnx.*` and `kiln.constant`): every op, with its optional
// operands, results and attributes, on transformer shapes with dynamic batch/sequence dims.

// CHECK-LABEL: func.func @constant
func.func @constant() -> (tensor<4xi64>, tensor<50257x768xf32>, tensor<f32>, tensor<2xi1>) {
  // CHECK: kiln.constant dense<[1, -1, 12, 64]> : tensor<4xi64>
  %0 = kiln.constant dense<[1, -1, 12, 64]> : tensor<4xi64>
  // CHECK: kiln.constant dense_resource<wte> : tensor<50257x768xf32>
  %1 = kiln.constant dense_resource<wte> : tensor<50257x768xf32>
  // CHECK: kiln.constant dense<9.99999974E-6> : tensor<f32>
  %2 = kiln.constant dense<1.0e-05> : tensor<f32>
  // CHECK: kiln.constant dense<[true, false]> : tensor<2xi1>
  %3 = kiln.constant dense<[true, false]> : tensor<2xi1>
  return %0, %1, %2, %3 : tensor<4xi64>, tensor<50257x768xf32>, tensor<f32>, tensor<2xi1>
}

// -----

// CHECK-LABEL: func.func @unary_float
func.func @unary_float(%x: tensor<1x?x3072xf32>, %h: tensor<?x64xf16>, %b: tensor<1x?x768xbf16>)
    -> (tensor<1x?x3072xf32>, tensor<?x64xf16>, tensor<1x?x768xbf16>) {
  // CHECK: %[[SQRT:.*]] = kiln.onnx.Sqrt %arg0 : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %0 = kiln.onnx.Sqrt %x : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  // CHECK: %[[RECIP:.*]] = kiln.onnx.Reciprocal %[[SQRT]] : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %1 = kiln.onnx.Reciprocal %0 : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  // CHECK: %[[TANH:.*]] = kiln.onnx.Tanh %[[RECIP]] : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %2 = kiln.onnx.Tanh %1 : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  // CHECK: %[[ERF:.*]] = kiln.onnx.Erf %[[TANH]] : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %3 = kiln.onnx.Erf %2 : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  // CHECK: %[[SIG:.*]] = kiln.onnx.Sigmoid %[[ERF]] : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %4 = kiln.onnx.Sigmoid %3 : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  // CHECK: %[[COS:.*]] = kiln.onnx.Cos %arg1 : (tensor<?x64xf16>) -> tensor<?x64xf16>
  %5 = kiln.onnx.Cos %h : (tensor<?x64xf16>) -> tensor<?x64xf16>
  // CHECK: kiln.onnx.Sin %[[COS]] : (tensor<?x64xf16>) -> tensor<?x64xf16>
  %6 = kiln.onnx.Sin %5 : (tensor<?x64xf16>) -> tensor<?x64xf16>
  // CHECK: %[[EXP:.*]] = kiln.onnx.Exp %arg2 : (tensor<1x?x768xbf16>) -> tensor<1x?x768xbf16>
  %7 = kiln.onnx.Exp %b : (tensor<1x?x768xbf16>) -> tensor<1x?x768xbf16>
  // CHECK: kiln.onnx.Log %[[EXP]] : (tensor<1x?x768xbf16>) -> tensor<1x?x768xbf16>
  %8 = kiln.onnx.Log %7 : (tensor<1x?x768xbf16>) -> tensor<1x?x768xbf16>
  return %4, %6, %8 : tensor<1x?x3072xf32>, tensor<?x64xf16>, tensor<1x?x768xbf16>
}

// -----

// CHECK-LABEL: func.func @unary_numeric
func.func @unary_numeric(%x: tensor<1x?x3072xf32>, %i: tensor<?x4xi64>, %m: tensor<1x1x?x?xi1>)
    -> (tensor<1x?x3072xf32>, tensor<?x4xi64>, tensor<?x4xi64>, tensor<1x1x?x?xi1>) {
  // CHECK: %[[RELU:.*]] = kiln.onnx.Relu %arg0 : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %0 = kiln.onnx.Relu %x : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  // CHECK: kiln.onnx.Neg %[[RELU]] : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %1 = kiln.onnx.Neg %0 : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  // CHECK: kiln.onnx.Abs %arg1 : (tensor<?x4xi64>) -> tensor<?x4xi64>
  %2 = kiln.onnx.Abs %i : (tensor<?x4xi64>) -> tensor<?x4xi64>
  // CHECK: kiln.onnx.Neg %arg1 : (tensor<?x4xi64>) -> tensor<?x4xi64>
  %3 = kiln.onnx.Neg %i : (tensor<?x4xi64>) -> tensor<?x4xi64>
  // CHECK: kiln.onnx.Not %arg2 : (tensor<1x1x?x?xi1>) -> tensor<1x1x?x?xi1>
  %4 = kiln.onnx.Not %m : (tensor<1x1x?x?xi1>) -> tensor<1x1x?x?xi1>
  return %1, %2, %3, %4 : tensor<1x?x3072xf32>, tensor<?x4xi64>, tensor<?x4xi64>, tensor<1x1x?x?xi1>
}

// -----

// CHECK-LABEL: func.func @elementwise_misc
func.func @elementwise_misc(%x: tensor<1x?x768xf32>, %i: tensor<1x?xi64>, %lo: tensor<f32>,
                            %hi: tensor<f32>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xi1>, tensor<1x?x768xf16>, tensor<1x?xf32>,
        tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>) {
  // CHECK: kiln.onnx.Identity %arg0 : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  %0 = kiln.onnx.Identity %x : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.IsNaN %arg0 : (tensor<1x?x768xf32>) -> tensor<1x?x768xi1>
  %1 = kiln.onnx.IsNaN %x : (tensor<1x?x768xf32>) -> tensor<1x?x768xi1>
  // CHECK: kiln.onnx.Cast %arg0 {saturate = 0 : i64, to = f16} : (tensor<1x?x768xf32>) -> tensor<1x?x768xf16>
  %2 = kiln.onnx.Cast %x {to = f16, saturate = 0 : i64}
      : (tensor<1x?x768xf32>) -> tensor<1x?x768xf16>
  // CHECK: kiln.onnx.Cast %arg1 {to = f32} : (tensor<1x?xi64>) -> tensor<1x?xf32>
  %3 = kiln.onnx.Cast %i {to = f32} : (tensor<1x?xi64>) -> tensor<1x?xf32>
  // CHECK: kiln.onnx.Clip %arg0, %arg2, %arg3 {operandSegmentSizes = array<i32: 1, 1, 1>} : (tensor<1x?x768xf32>, tensor<f32>, tensor<f32>) -> tensor<1x?x768xf32>
  %4 = kiln.onnx.Clip %x, %lo, %hi {operandSegmentSizes = array<i32: 1, 1, 1>}
      : (tensor<1x?x768xf32>, tensor<f32>, tensor<f32>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.Clip %arg0, %arg3 {operandSegmentSizes = array<i32: 1, 0, 1>} : (tensor<1x?x768xf32>, tensor<f32>) -> tensor<1x?x768xf32>
  %5 = kiln.onnx.Clip %x, %hi {operandSegmentSizes = array<i32: 1, 0, 1>}
      : (tensor<1x?x768xf32>, tensor<f32>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.Clip %arg0 {operandSegmentSizes = array<i32: 1, 0, 0>} : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  %6 = kiln.onnx.Clip %x {operandSegmentSizes = array<i32: 1, 0, 0>}
      : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<1x?x768xf32>, tensor<1x?x768xi1>, tensor<1x?x768xf16>,
      tensor<1x?xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>
}

// -----

// CHECK-LABEL: func.func @binary
func.func @binary(%x: tensor<1x?x768xf32>, %bias: tensor<768xf32>, %s: tensor<f32>,
                  %i: tensor<?x1xi64>, %j: tensor<1x?xi64>, %m: tensor<1x1x?x?xi1>,
                  %n: tensor<?x?xi1>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>,
        tensor<?x?xi64>, tensor<1x1x?x?xi1>, tensor<1x1x?x?xi1>) {
  // CHECK: kiln.onnx.Add %arg0, %arg1 : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %0 = kiln.onnx.Add %x, %bias : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.Sub %arg0, %arg1 : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %1 = kiln.onnx.Sub %x, %bias : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.Mul %arg0, %arg2 : (tensor<1x?x768xf32>, tensor<f32>) -> tensor<1x?x768xf32>
  %2 = kiln.onnx.Mul %x, %s : (tensor<1x?x768xf32>, tensor<f32>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.Div %arg0, %arg2 : (tensor<1x?x768xf32>, tensor<f32>) -> tensor<1x?x768xf32>
  %3 = kiln.onnx.Div %x, %s : (tensor<1x?x768xf32>, tensor<f32>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.Add %arg3, %arg4 : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi64>
  %4 = kiln.onnx.Add %i, %j : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi64>
  // CHECK: kiln.onnx.And %arg5, %arg6 : (tensor<1x1x?x?xi1>, tensor<?x?xi1>) -> tensor<1x1x?x?xi1>
  %5 = kiln.onnx.And %m, %n : (tensor<1x1x?x?xi1>, tensor<?x?xi1>) -> tensor<1x1x?x?xi1>
  // CHECK: kiln.onnx.Or %arg5, %arg6 : (tensor<1x1x?x?xi1>, tensor<?x?xi1>) -> tensor<1x1x?x?xi1>
  %6 = kiln.onnx.Or %m, %n : (tensor<1x1x?x?xi1>, tensor<?x?xi1>) -> tensor<1x1x?x?xi1>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<1x?x768xf32>, tensor<1x?x768xf32>,
      tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<?x?xi64>, tensor<1x1x?x?xi1>,
      tensor<1x1x?x?xi1>
}

// -----

// CHECK-LABEL: func.func @mod_pow_max_min
func.func @mod_pow_max_min(%i: tensor<1x?xi64>, %n: tensor<i64>, %x: tensor<1x?x3072xf32>,
                           %y: tensor<1x?x3072xf32>, %e: tensor<f32>, %k: tensor<i64>)
    -> (tensor<1x?xi64>, tensor<1x?x3072xf32>, tensor<1x?x3072xf32>, tensor<1x?x3072xf32>,
        tensor<1x?x3072xf32>, tensor<1x?x3072xf32>, tensor<1x?x3072xf32>) {
  // CHECK: kiln.onnx.Mod %arg0, %arg1 : (tensor<1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
  %0 = kiln.onnx.Mod %i, %n : (tensor<1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
  // CHECK: kiln.onnx.Mod %arg2, %arg4 {fmod = 1 : i64} : (tensor<1x?x3072xf32>, tensor<f32>) -> tensor<1x?x3072xf32>
  %1 = kiln.onnx.Mod %x, %e {fmod = 1 : i64}
      : (tensor<1x?x3072xf32>, tensor<f32>) -> tensor<1x?x3072xf32>
  // CHECK: kiln.onnx.Pow %arg2, %arg4 : (tensor<1x?x3072xf32>, tensor<f32>) -> tensor<1x?x3072xf32>
  %2 = kiln.onnx.Pow %x, %e : (tensor<1x?x3072xf32>, tensor<f32>) -> tensor<1x?x3072xf32>
  // The exponent may have its own element type.
  // CHECK: kiln.onnx.Pow %arg2, %arg5 : (tensor<1x?x3072xf32>, tensor<i64>) -> tensor<1x?x3072xf32>
  %3 = kiln.onnx.Pow %x, %k : (tensor<1x?x3072xf32>, tensor<i64>) -> tensor<1x?x3072xf32>
  // CHECK: kiln.onnx.Max %arg2 : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %4 = kiln.onnx.Max %x : (tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  // CHECK: kiln.onnx.Max %arg2, %arg3, %arg4 : (tensor<1x?x3072xf32>, tensor<1x?x3072xf32>, tensor<f32>) -> tensor<1x?x3072xf32>
  %5 = kiln.onnx.Max %x, %y, %e
      : (tensor<1x?x3072xf32>, tensor<1x?x3072xf32>, tensor<f32>) -> tensor<1x?x3072xf32>
  // CHECK: kiln.onnx.Min %arg2, %arg3 : (tensor<1x?x3072xf32>, tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  %6 = kiln.onnx.Min %x, %y : (tensor<1x?x3072xf32>, tensor<1x?x3072xf32>) -> tensor<1x?x3072xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<1x?xi64>, tensor<1x?x3072xf32>,
      tensor<1x?x3072xf32>, tensor<1x?x3072xf32>, tensor<1x?x3072xf32>, tensor<1x?x3072xf32>,
      tensor<1x?x3072xf32>
}

// -----

// CHECK-LABEL: func.func @compare_where
func.func @compare_where(%pos: tensor<?x1xi64>, %key: tensor<1x?xi64>, %s: tensor<1x12x?x?xf32>,
                         %t: tensor<f32>)
    -> (tensor<?x?xi1>, tensor<?x?xi1>, tensor<?x?xi1>, tensor<1x12x?x?xi1>,
        tensor<1x12x?x?xi1>, tensor<1x12x?x?xf32>) {
  // CHECK: kiln.onnx.Equal %arg0, %arg1 : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi1>
  %0 = kiln.onnx.Equal %pos, %key : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi1>
  // CHECK: kiln.onnx.Less %arg0, %arg1 : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi1>
  %1 = kiln.onnx.Less %pos, %key : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi1>
  // CHECK: kiln.onnx.LessOrEqual %arg1, %arg0 : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %2 = kiln.onnx.LessOrEqual %key, %pos : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  // CHECK: kiln.onnx.Greater %arg2, %arg3 : (tensor<1x12x?x?xf32>, tensor<f32>) -> tensor<1x12x?x?xi1>
  %3 = kiln.onnx.Greater %s, %t : (tensor<1x12x?x?xf32>, tensor<f32>) -> tensor<1x12x?x?xi1>
  // CHECK: kiln.onnx.GreaterOrEqual %arg2, %arg3 : (tensor<1x12x?x?xf32>, tensor<f32>) -> tensor<1x12x?x?xi1>
  %4 = kiln.onnx.GreaterOrEqual %s, %t : (tensor<1x12x?x?xf32>, tensor<f32>) -> tensor<1x12x?x?xi1>
  // CHECK: kiln.onnx.Where %{{.*}}, %arg2, %arg3 : (tensor<?x?xi1>, tensor<1x12x?x?xf32>, tensor<f32>) -> tensor<1x12x?x?xf32>
  %5 = kiln.onnx.Where %2, %s, %t
      : (tensor<?x?xi1>, tensor<1x12x?x?xf32>, tensor<f32>) -> tensor<1x12x?x?xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<?x?xi1>, tensor<?x?xi1>, tensor<?x?xi1>,
      tensor<1x12x?x?xi1>, tensor<1x12x?x?xi1>, tensor<1x12x?x?xf32>
}

// -----

// CHECK-LABEL: func.func @contractions
func.func @contractions(%x: tensor<1x?x768xf32>, %w: tensor<768x2304xf32>,
                        %q: tensor<1x12x?x64xf32>, %kt: tensor<1x12x64x?xf32>,
                        %v: tensor<768xf32>, %w2: tensor<768x3072xf32>, %a: tensor<?x768xf32>,
                        %wt: tensor<3072x768xf32>, %c: tensor<3072xf32>, %k: tensor<1x12x?x64xf32>)
    -> (tensor<1x?x2304xf32>, tensor<1x12x?x?xf32>, tensor<3072xf32>, tensor<?x3072xf32>,
        tensor<?x3072xf32>, tensor<1x12x?x?xf32>, tensor<2304x768xf32>) {
  // CHECK: kiln.onnx.MatMul %arg0, %arg1 : (tensor<1x?x768xf32>, tensor<768x2304xf32>) -> tensor<1x?x2304xf32>
  %0 = kiln.onnx.MatMul %x, %w : (tensor<1x?x768xf32>, tensor<768x2304xf32>) -> tensor<1x?x2304xf32>
  // CHECK: kiln.onnx.MatMul %arg2, %arg3 : (tensor<1x12x?x64xf32>, tensor<1x12x64x?xf32>) -> tensor<1x12x?x?xf32>
  %1 = kiln.onnx.MatMul %q, %kt
      : (tensor<1x12x?x64xf32>, tensor<1x12x64x?xf32>) -> tensor<1x12x?x?xf32>
  // CHECK: kiln.onnx.MatMul %arg4, %arg5 : (tensor<768xf32>, tensor<768x3072xf32>) -> tensor<3072xf32>
  %2 = kiln.onnx.MatMul %v, %w2 : (tensor<768xf32>, tensor<768x3072xf32>) -> tensor<3072xf32>
  // CHECK: kiln.onnx.Gemm %arg6, %arg7, %arg8 {alpha = 5.000000e-01 : f32, transB = 1 : i64} : (tensor<?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x3072xf32>
  %3 = kiln.onnx.Gemm %a, %wt, %c {alpha = 0.5 : f32, transB = 1 : i64}
      : (tensor<?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>) -> tensor<?x3072xf32>
  // CHECK: kiln.onnx.Gemm %arg6, %arg5 {beta = 0.000000e+00 : f32} : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x3072xf32>
  %4 = kiln.onnx.Gemm %a, %w2 {beta = 0.0 : f32}
      : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x3072xf32>
  // CHECK: kiln.onnx.Einsum %arg2, %arg9 {equation = "bhqd,bhkd->bhqk"} : (tensor<1x12x?x64xf32>, tensor<1x12x?x64xf32>) -> tensor<1x12x?x?xf32>
  %5 = kiln.onnx.Einsum %q, %k {equation = "bhqd,bhkd->bhqk"}
      : (tensor<1x12x?x64xf32>, tensor<1x12x?x64xf32>) -> tensor<1x12x?x?xf32>
  // CHECK: kiln.onnx.Einsum %arg1 {equation = "...ij->...ji"} : (tensor<768x2304xf32>) -> tensor<2304x768xf32>
  %6 = kiln.onnx.Einsum %w {equation = "...ij->...ji"}
      : (tensor<768x2304xf32>) -> tensor<2304x768xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<1x?x2304xf32>, tensor<1x12x?x?xf32>, tensor<3072xf32>,
      tensor<?x3072xf32>, tensor<?x3072xf32>, tensor<1x12x?x?xf32>, tensor<2304x768xf32>
}

// -----

// CHECK-LABEL: func.func @normalization
func.func @normalization(%s: tensor<1x12x?x?xf32>, %x: tensor<1x?x768xf32>, %g: tensor<768xf32>,
                         %b: tensor<768xf32>, %h: tensor<?x?x2048xf16>, %gh: tensor<2048xf16>)
    -> (tensor<1x12x?x?xf32>, tensor<1x12x?x?xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>,
        tensor<?x?x2048xf16>) {
  // CHECK: kiln.onnx.Softmax %arg0 : (tensor<1x12x?x?xf32>) -> tensor<1x12x?x?xf32>
  %0 = kiln.onnx.Softmax %s : (tensor<1x12x?x?xf32>) -> tensor<1x12x?x?xf32>
  // CHECK: kiln.onnx.Softmax %arg0 {axis = 3 : i64} : (tensor<1x12x?x?xf32>) -> tensor<1x12x?x?xf32>
  %1 = kiln.onnx.Softmax %s {axis = 3 : i64} : (tensor<1x12x?x?xf32>) -> tensor<1x12x?x?xf32>
  // The default epsilon (1e-5) is elided.
  // CHECK: kiln.onnx.LayerNormalization %arg1, %arg2, %arg3 : (tensor<1x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %2 = kiln.onnx.LayerNormalization %x, %g, %b {epsilon = 1.0e-05 : f32}
      : (tensor<1x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.LayerNormalization %arg1, %arg2 {axis = 2 : i64, epsilon = 9.99999996E-13 : f32, stash_type = 0 : i64} : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %3 = kiln.onnx.LayerNormalization %x, %g
      {axis = 2 : i64, epsilon = 1.0e-12 : f32, stash_type = 0 : i64}
      : (tensor<1x?x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  // ONNX's optional Mean and InvStdDev outputs.
  // CHECK: kiln.onnx.LayerNormalization %arg1, %arg2 : (tensor<1x?x768xf32>, tensor<768xf32>) -> (tensor<1x?x768xf32>, tensor<1x?x1xf32>, tensor<1x?x1xf32>)
  %stats:3 = kiln.onnx.LayerNormalization %x, %g
      : (tensor<1x?x768xf32>, tensor<768xf32>) -> (tensor<1x?x768xf32>, tensor<1x?x1xf32>, tensor<1x?x1xf32>)
  // CHECK: kiln.onnx.RMSNormalization %arg4, %arg5 {epsilon = 9.99999997E-7 : f32} : (tensor<?x?x2048xf16>, tensor<2048xf16>) -> tensor<?x?x2048xf16>
  %4 = kiln.onnx.RMSNormalization %h, %gh {epsilon = 1.0e-06 : f32}
      : (tensor<?x?x2048xf16>, tensor<2048xf16>) -> tensor<?x?x2048xf16>
  return %0, %1, %2, %3, %4 : tensor<1x12x?x?xf32>, tensor<1x12x?x?xf32>, tensor<1x?x768xf32>,
      tensor<1x?x768xf32>, tensor<?x?x2048xf16>
}

// -----

// Opset-23 Attention, 4-D form: GQA (32 query heads on 8 KV heads) with a boolean mask and a
// KV cache in and out.
// CHECK-LABEL: func.func @attention_4d
func.func @attention_4d(%q: tensor<1x32x?x64xf16>, %k: tensor<1x8x?x64xf16>,
                        %v: tensor<1x8x?x64xf16>, %mask: tensor<1x1x?x?xi1>,
                        %pk: tensor<1x8x?x64xf16>, %pv: tensor<1x8x?x64xf16>)
    -> (tensor<1x32x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x32x?x64xf16>) {
  // CHECK: %output, %present_key, %present_value = kiln.onnx.Attention %arg0, %arg1, %arg2, %arg3, %arg4, %arg5
  // CHECK-SAME: operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>
  // CHECK-SAME: resultSegmentSizes = array<i32: 1, 1, 1, 0>
  // CHECK-SAME: scale = 1.250000e-01 : f32
  // CHECK-SAME: softmax_precision = 1 : i64
  // CHECK-SAME: : (tensor<1x32x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x1x?x?xi1>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>) -> (tensor<1x32x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>)
  %out, %present_key, %present_value = kiln.onnx.Attention %q, %k, %v, %mask, %pk, %pv {
      operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1>,
      resultSegmentSizes = array<i32: 1, 1, 1, 0>, scale = 0.125 : f32,
      softmax_precision = 1 : i64}
      : (tensor<1x32x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x1x?x?xi1>,
         tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>)
      -> (tensor<1x32x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>)
  // CHECK: %{{.*}} = kiln.onnx.Attention %arg0, %arg1, %arg2 {
  // CHECK-SAME: is_causal = 1 : i64
  // CHECK-SAME: operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>
  // CHECK-SAME: resultSegmentSizes = array<i32: 1, 0, 0, 0>
  // CHECK-SAME: : (tensor<1x32x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>) -> tensor<1x32x?x64xf16>
  %causal = kiln.onnx.Attention %q, %k, %v {is_causal = 1 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>,
      resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x32x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>) -> tensor<1x32x?x64xf16>
  return %out, %present_key, %present_value, %causal
      : tensor<1x32x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x8x?x64xf16>, tensor<1x32x?x64xf16>
}

// -----

// Opset-23 Attention, 3-D form: heads given by attributes, a float additive mask, softcap, and
// the QK matmul output requested (result segments skip present_key/present_value).
// CHECK-LABEL: func.func @attention_3d
func.func @attention_3d(%q: tensor<1x?x2048xf32>, %k: tensor<1x?x512xf32>,
                        %v: tensor<1x?x512xf32>, %mask: tensor<?x?xf32>)
    -> (tensor<1x?x2048xf32>, tensor<1x32x?x?xf32>) {
  // CHECK: %output, %qk_matmul_output = kiln.onnx.Attention %arg0, %arg1, %arg2, %arg3 {
  // CHECK-SAME: kv_num_heads = 8 : i64
  // CHECK-SAME: operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>
  // CHECK-SAME: q_num_heads = 32 : i64
  // CHECK-SAME: qk_matmul_output_mode = 1 : i64
  // CHECK-SAME: resultSegmentSizes = array<i32: 1, 0, 0, 1>
  // CHECK-SAME: softcap = 5.000000e+01 : f32
  // CHECK-SAME: : (tensor<1x?x2048xf32>, tensor<1x?x512xf32>, tensor<1x?x512xf32>, tensor<?x?xf32>) -> (tensor<1x?x2048xf32>, tensor<1x32x?x?xf32>)
  %out, %qk = kiln.onnx.Attention %q, %k, %v, %mask {kv_num_heads = 8 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>, q_num_heads = 32 : i64,
      qk_matmul_output_mode = 1 : i64, resultSegmentSizes = array<i32: 1, 0, 0, 1>,
      softcap = 50.0 : f32}
      : (tensor<1x?x2048xf32>, tensor<1x?x512xf32>, tensor<1x?x512xf32>, tensor<?x?xf32>)
      -> (tensor<1x?x2048xf32>, tensor<1x32x?x?xf32>)
  return %out, %qk : tensor<1x?x2048xf32>, tensor<1x32x?x?xf32>
}

// -----

// CHECK-LABEL: func.func @rotary_embedding
func.func @rotary_embedding(%x: tensor<1x32x?x64xf32>, %cos: tensor<4096x32xf32>,
                            %sin: tensor<4096x32xf32>, %pos: tensor<1x?xi64>,
                            %x3: tensor<1x?x2048xf16>, %cos3: tensor<1x?x32xf16>,
                            %sin3: tensor<1x?x32xf16>)
    -> (tensor<1x32x?x64xf32>, tensor<1x?x2048xf16>) {
  // CHECK: kiln.onnx.RotaryEmbedding %arg0, %arg1, %arg2, %arg3 : (tensor<1x32x?x64xf32>, tensor<4096x32xf32>, tensor<4096x32xf32>, tensor<1x?xi64>) -> tensor<1x32x?x64xf32>
  %0 = kiln.onnx.RotaryEmbedding %x, %cos, %sin, %pos
      : (tensor<1x32x?x64xf32>, tensor<4096x32xf32>, tensor<4096x32xf32>, tensor<1x?xi64>)
      -> tensor<1x32x?x64xf32>
  // CHECK: kiln.onnx.RotaryEmbedding %arg4, %arg5, %arg6 {interleaved = 1 : i64, num_heads = 32 : i64, rotary_embedding_dim = 64 : i64} : (tensor<1x?x2048xf16>, tensor<1x?x32xf16>, tensor<1x?x32xf16>) -> tensor<1x?x2048xf16>
  %1 = kiln.onnx.RotaryEmbedding %x3, %cos3, %sin3
      {interleaved = 1 : i64, num_heads = 32 : i64, rotary_embedding_dim = 64 : i64}
      : (tensor<1x?x2048xf16>, tensor<1x?x32xf16>, tensor<1x?x32xf16>) -> tensor<1x?x2048xf16>
  return %0, %1 : tensor<1x32x?x64xf32>, tensor<1x?x2048xf16>
}

// -----

// CHECK-LABEL: func.func @dropout
func.func @dropout(%x: tensor<1x?x768xf32>, %ratio: tensor<f32>, %training: tensor<i1>)
    -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xi1>) {
  // CHECK: kiln.onnx.Dropout %arg0 {operandSegmentSizes = array<i32: 1, 0, 0>} : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  %0 = kiln.onnx.Dropout %x {operandSegmentSizes = array<i32: 1, 0, 0>}
      : (tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  // CHECK: %{{.*}}, %mask = kiln.onnx.Dropout %arg0, %arg1, %arg2 {operandSegmentSizes = array<i32: 1, 1, 1>, seed = 42 : i64} : (tensor<1x?x768xf32>, tensor<f32>, tensor<i1>) -> (tensor<1x?x768xf32>, tensor<1x?x768xi1>)
  %1, %mask = kiln.onnx.Dropout %x, %ratio, %training
      {operandSegmentSizes = array<i32: 1, 1, 1>, seed = 42 : i64}
      : (tensor<1x?x768xf32>, tensor<f32>, tensor<i1>) -> (tensor<1x?x768xf32>, tensor<1x?x768xi1>)
  return %0, %1, %mask : tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xi1>
}

// -----

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<1x?x768xf32>, %axes: tensor<1xi64>, %logits: tensor<1x?x50257xf32>,
                      %k: tensor<1xi64>, %mask: tensor<1x?xi64>, %axis: tensor<i64>,
                      %axis32: tensor<1xi32>)
    -> (tensor<1x?x1xf32>, tensor<1x?xf32>, tensor<1x1x1xf32>, tensor<1x?xi64>,
        tensor<1x?x50xf32>, tensor<1x?x50xi64>, tensor<1x?xi64>, tensor<1x?xi64>) {
  // CHECK: kiln.onnx.ReduceMean %arg0, %arg1 : (tensor<1x?x768xf32>, tensor<1xi64>) -> tensor<1x?x1xf32>
  %0 = kiln.onnx.ReduceMean %x, %axes : (tensor<1x?x768xf32>, tensor<1xi64>) -> tensor<1x?x1xf32>
  // CHECK: kiln.onnx.ReduceSum %arg0, %arg1 {keepdims = 0 : i64} : (tensor<1x?x768xf32>, tensor<1xi64>) -> tensor<1x?xf32>
  %1 = kiln.onnx.ReduceSum %x, %axes {keepdims = 0 : i64}
      : (tensor<1x?x768xf32>, tensor<1xi64>) -> tensor<1x?xf32>
  // CHECK: kiln.onnx.ReduceMax %arg0 : (tensor<1x?x768xf32>) -> tensor<1x1x1xf32>
  %2 = kiln.onnx.ReduceMax %x : (tensor<1x?x768xf32>) -> tensor<1x1x1xf32>
  // CHECK: kiln.onnx.ArgMax %arg2 {axis = -1 : i64, keepdims = 0 : i64} : (tensor<1x?x50257xf32>) -> tensor<1x?xi64>
  %3 = kiln.onnx.ArgMax %logits {axis = -1 : i64, keepdims = 0 : i64}
      : (tensor<1x?x50257xf32>) -> tensor<1x?xi64>
  // CHECK: %values, %indices = kiln.onnx.TopK %arg2, %arg3 : (tensor<1x?x50257xf32>, tensor<1xi64>) -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>)
  %values, %indices = kiln.onnx.TopK %logits, %k
      : (tensor<1x?x50257xf32>, tensor<1xi64>) -> (tensor<1x?x50xf32>, tensor<1x?x50xi64>)
  // CHECK: kiln.onnx.CumSum %arg4, %arg5 : (tensor<1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
  %4 = kiln.onnx.CumSum %mask, %axis : (tensor<1x?xi64>, tensor<i64>) -> tensor<1x?xi64>
  // CHECK: kiln.onnx.CumSum %arg4, %arg6 {exclusive = 1 : i64, reverse = 1 : i64} : (tensor<1x?xi64>, tensor<1xi32>) -> tensor<1x?xi64>
  %5 = kiln.onnx.CumSum %mask, %axis32 {exclusive = 1 : i64, reverse = 1 : i64}
      : (tensor<1x?xi64>, tensor<1xi32>) -> tensor<1x?xi64>
  return %0, %1, %2, %3, %values, %indices, %4, %5 : tensor<1x?x1xf32>, tensor<1x?xf32>,
      tensor<1x1x1xf32>, tensor<1x?xi64>, tensor<1x?x50xf32>, tensor<1x?x50xi64>, tensor<1x?xi64>,
      tensor<1x?xi64>
}

// -----

// CHECK-LABEL: func.func @shape_arith
func.func @shape_arith(%x: tensor<1x?x768xf32>, %dims: tensor<2xi64>, %start: tensor<i64>,
                       %limit: tensor<i64>, %delta: tensor<i64>)
    -> (tensor<3xi64>, tensor<1xi64>, tensor<1xi64>, tensor<?x?xi64>, tensor<?x?xf32>,
        tensor<?xi64>) {
  // CHECK: kiln.onnx.Shape %arg0 : (tensor<1x?x768xf32>) -> tensor<3xi64>
  %0 = kiln.onnx.Shape %x : (tensor<1x?x768xf32>) -> tensor<3xi64>
  // CHECK: kiln.onnx.Shape %arg0 {end = 2 : i64, start = 1 : i64} : (tensor<1x?x768xf32>) -> tensor<1xi64>
  %1 = kiln.onnx.Shape %x {start = 1 : i64, end = 2 : i64} : (tensor<1x?x768xf32>) -> tensor<1xi64>
  // CHECK: kiln.onnx.Shape %arg0 {start = -1 : i64} : (tensor<1x?x768xf32>) -> tensor<1xi64>
  %2 = kiln.onnx.Shape %x {start = -1 : i64} : (tensor<1x?x768xf32>) -> tensor<1xi64>
  // CHECK: kiln.onnx.ConstantOfShape %arg1 {value = dense<1> : tensor<1xi64>} : (tensor<2xi64>) -> tensor<?x?xi64>
  %3 = kiln.onnx.ConstantOfShape %dims {value = dense<1> : tensor<1xi64>}
      : (tensor<2xi64>) -> tensor<?x?xi64>
  // CHECK: kiln.onnx.ConstantOfShape %arg1 : (tensor<2xi64>) -> tensor<?x?xf32>
  %4 = kiln.onnx.ConstantOfShape %dims : (tensor<2xi64>) -> tensor<?x?xf32>
  // CHECK: kiln.onnx.Range %arg2, %arg3, %arg4 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %5 = kiln.onnx.Range %start, %limit, %delta
      : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  return %0, %1, %2, %3, %4, %5 : tensor<3xi64>, tensor<1xi64>, tensor<1xi64>, tensor<?x?xi64>,
      tensor<?x?xf32>, tensor<?xi64>
}

// -----

// CHECK-LABEL: func.func @layout
func.func @layout(%x: tensor<1x?x768xf32>, %shape4: tensor<4xi64>, %w: tensor<768x3072xf32>,
                  %ids: tensor<?x?xi64>, %axes2: tensor<2xi64>, %y: tensor<1x?x1xf32>,
                  %axes1: tensor<1xi64>, %m: tensor<1x1x?x?xi1>)
    -> (tensor<1x?x12x64xf32>, tensor<1x12x?x64xf32>, tensor<3072x768xf32>, tensor<?x1x1x?xi64>,
        tensor<1x?xf32>, tensor<?xf32>,
        tensor<12x?xf32>, tensor<1x12x?x?xi1>, tensor<1x?x12x64xf32>) {
  // CHECK: %[[HEADS:.*]] = kiln.onnx.Reshape %arg0, %arg1 : (tensor<1x?x768xf32>, tensor<4xi64>) -> tensor<1x?x12x64xf32>
  %0 = kiln.onnx.Reshape %x, %shape4 : (tensor<1x?x768xf32>, tensor<4xi64>) -> tensor<1x?x12x64xf32>
  // CHECK: kiln.onnx.Reshape %arg0, %arg1 {allowzero = 1 : i64} : (tensor<1x?x768xf32>, tensor<4xi64>) -> tensor<1x?x12x64xf32>
  %1 = kiln.onnx.Reshape %x, %shape4 {allowzero = 1 : i64}
      : (tensor<1x?x768xf32>, tensor<4xi64>) -> tensor<1x?x12x64xf32>
  // CHECK: %[[T:.*]] = kiln.onnx.Transpose %[[HEADS]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
  %2 = kiln.onnx.Transpose %0 {perm = array<i64: 0, 2, 1, 3>}
      : (tensor<1x?x12x64xf32>) -> tensor<1x12x?x64xf32>
  // CHECK: kiln.onnx.Transpose %arg2 : (tensor<768x3072xf32>) -> tensor<3072x768xf32>
  %3 = kiln.onnx.Transpose %w : (tensor<768x3072xf32>) -> tensor<3072x768xf32>
  // CHECK: kiln.onnx.Unsqueeze %arg3, %arg4 : (tensor<?x?xi64>, tensor<2xi64>) -> tensor<?x1x1x?xi64>
  %4 = kiln.onnx.Unsqueeze %ids, %axes2 : (tensor<?x?xi64>, tensor<2xi64>) -> tensor<?x1x1x?xi64>
  // CHECK: kiln.onnx.Squeeze %arg5, %arg6 : (tensor<1x?x1xf32>, tensor<1xi64>) -> tensor<1x?xf32>
  %5 = kiln.onnx.Squeeze %y, %axes1 : (tensor<1x?x1xf32>, tensor<1xi64>) -> tensor<1x?xf32>
  // CHECK: kiln.onnx.Squeeze %arg5 : (tensor<1x?x1xf32>) -> tensor<?xf32>
  %6 = kiln.onnx.Squeeze %y : (tensor<1x?x1xf32>) -> tensor<?xf32>
  // CHECK: kiln.onnx.Flatten %[[T]] {axis = 2 : i64} : (tensor<1x12x?x64xf32>) -> tensor<12x?xf32>
  %7 = kiln.onnx.Flatten %2 {axis = 2 : i64} : (tensor<1x12x?x64xf32>) -> tensor<12x?xf32>
  // CHECK: kiln.onnx.Expand %arg7, %arg1 : (tensor<1x1x?x?xi1>, tensor<4xi64>) -> tensor<1x12x?x?xi1>
  %8 = kiln.onnx.Expand %m, %shape4 : (tensor<1x1x?x?xi1>, tensor<4xi64>) -> tensor<1x12x?x?xi1>
  return %0, %2, %3, %4, %5, %6, %7, %8, %1 : tensor<1x?x12x64xf32>, tensor<1x12x?x64xf32>,
      tensor<3072x768xf32>, tensor<?x1x1x?xi64>, tensor<1x?xf32>, tensor<?xf32>, tensor<12x?xf32>,
      tensor<1x12x?x?xi1>, tensor<1x?x12x64xf32>
}

// -----

// CHECK-LABEL: func.func @concat_split_slice
func.func @concat_split_slice(%past: tensor<1x12x?x64xf32>, %new: tensor<1x12x1x64xf32>,
                              %a: tensor<1xi64>, %b: tensor<2xi64>, %qkv: tensor<1x?x2304xf32>,
                              %sizes: tensor<3xi64>, %starts: tensor<1xi64>, %ends: tensor<1xi64>,
                              %axes: tensor<1xi64>, %steps: tensor<1xi64>, %s32: tensor<2xi32>,
                              %e32: tensor<2xi32>)
    -> (tensor<1x12x?x64xf32>, tensor<3xi64>, tensor<1x?x768xf32>, tensor<1x?x768xf32>,
        tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x?xf32>) {
  // CHECK: kiln.onnx.Concat %arg0, %arg1 {axis = 2 : i64} : (tensor<1x12x?x64xf32>, tensor<1x12x1x64xf32>) -> tensor<1x12x?x64xf32>
  %0 = kiln.onnx.Concat %past, %new {axis = 2 : i64}
      : (tensor<1x12x?x64xf32>, tensor<1x12x1x64xf32>) -> tensor<1x12x?x64xf32>
  // CHECK: kiln.onnx.Concat %arg2, %arg3 {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  %1 = kiln.onnx.Concat %a, %b {axis = 0 : i64} : (tensor<1xi64>, tensor<2xi64>) -> tensor<3xi64>
  // CHECK: %{{.*}}:3 = kiln.onnx.Split %arg4, %arg5 {axis = 2 : i64} : (tensor<1x?x2304xf32>, tensor<3xi64>) -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
  %q, %k, %v = kiln.onnx.Split %qkv, %sizes {axis = 2 : i64}
      : (tensor<1x?x2304xf32>, tensor<3xi64>)
      -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
  // CHECK: %{{.*}}:3 = kiln.onnx.Split %arg4 {axis = -1 : i64, num_outputs = 3 : i64} : (tensor<1x?x2304xf32>) -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
  %q2, %k2, %v2 = kiln.onnx.Split %qkv {axis = -1 : i64, num_outputs = 3 : i64}
      : (tensor<1x?x2304xf32>) -> (tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>)
  // CHECK: kiln.onnx.Slice %arg4, %arg6, %arg7, %arg8, %arg9 {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<1x?x2304xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x?x768xf32>
  %2 = kiln.onnx.Slice %qkv, %starts, %ends, %axes, %steps
      {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}
      : (tensor<1x?x2304xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>)
      -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.Slice %arg4, %arg10, %arg11 {operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>} : (tensor<1x?x2304xf32>, tensor<2xi32>, tensor<2xi32>) -> tensor<1x?x?xf32>
  %3 = kiln.onnx.Slice %qkv, %s32, %e32 {operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}
      : (tensor<1x?x2304xf32>, tensor<2xi32>, tensor<2xi32>) -> tensor<1x?x?xf32>
  return %0, %1, %q, %k2, %v, %v2, %2, %3 : tensor<1x12x?x64xf32>, tensor<3xi64>,
      tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>, tensor<1x?x768xf32>,
      tensor<1x?x768xf32>, tensor<1x?x?xf32>
}

// -----

// CHECK-LABEL: func.func @gather_scatter
func.func @gather_scatter(%wte: tensor<50257x768xf32>, %ids: tensor<1x?xi64>,
                          %h: tensor<1x?x768xf32>, %last: tensor<i64>,
                          %logits: tensor<1x?x50257xf32>, %labels: tensor<1x?x1xi32>,
                          %idx: tensor<1x4x1xi64>, %cache: tensor<4096x768xf32>,
                          %slots: tensor<?x1xi64>, %upd: tensor<?x768xf32>,
                          %scores: tensor<?x?xf32>, %diag: tensor<i64>)
    -> (tensor<1x?x768xf32>, tensor<1x768xf32>, tensor<1x?x1xf32>, tensor<1x4x768xf32>,
        tensor<4096x768xf32>, tensor<4096x768xf32>, tensor<?x?xf32>, tensor<?x?xf32>) {
  // CHECK: kiln.onnx.Gather %arg0, %arg1 : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
  %0 = kiln.onnx.Gather %wte, %ids : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
  // CHECK: kiln.onnx.Gather %arg2, %arg3 {axis = 1 : i64} : (tensor<1x?x768xf32>, tensor<i64>) -> tensor<1x768xf32>
  %1 = kiln.onnx.Gather %h, %last {axis = 1 : i64}
      : (tensor<1x?x768xf32>, tensor<i64>) -> tensor<1x768xf32>
  // CHECK: kiln.onnx.GatherElements %arg4, %arg5 {axis = 2 : i64} : (tensor<1x?x50257xf32>, tensor<1x?x1xi32>) -> tensor<1x?x1xf32>
  %2 = kiln.onnx.GatherElements %logits, %labels {axis = 2 : i64}
      : (tensor<1x?x50257xf32>, tensor<1x?x1xi32>) -> tensor<1x?x1xf32>
  // CHECK: kiln.onnx.GatherND %arg2, %arg6 {batch_dims = 1 : i64} : (tensor<1x?x768xf32>, tensor<1x4x1xi64>) -> tensor<1x4x768xf32>
  %3 = kiln.onnx.GatherND %h, %idx {batch_dims = 1 : i64}
      : (tensor<1x?x768xf32>, tensor<1x4x1xi64>) -> tensor<1x4x768xf32>
  // CHECK: kiln.onnx.ScatterND %arg7, %arg8, %arg9 : (tensor<4096x768xf32>, tensor<?x1xi64>, tensor<?x768xf32>) -> tensor<4096x768xf32>
  %4 = kiln.onnx.ScatterND %cache, %slots, %upd
      : (tensor<4096x768xf32>, tensor<?x1xi64>, tensor<?x768xf32>) -> tensor<4096x768xf32>
  // CHECK: kiln.onnx.ScatterND %arg7, %arg8, %arg9 {reduction = "add"} : (tensor<4096x768xf32>, tensor<?x1xi64>, tensor<?x768xf32>) -> tensor<4096x768xf32>
  %5 = kiln.onnx.ScatterND %cache, %slots, %upd {reduction = "add"}
      : (tensor<4096x768xf32>, tensor<?x1xi64>, tensor<?x768xf32>) -> tensor<4096x768xf32>
  // CHECK: kiln.onnx.Trilu %arg10 : (tensor<?x?xf32>) -> tensor<?x?xf32>
  %6 = kiln.onnx.Trilu %scores : (tensor<?x?xf32>) -> tensor<?x?xf32>
  // CHECK: kiln.onnx.Trilu %arg10, %arg11 {upper = 0 : i64} : (tensor<?x?xf32>, tensor<i64>) -> tensor<?x?xf32>
  %7 = kiln.onnx.Trilu %scores, %diag {upper = 0 : i64}
      : (tensor<?x?xf32>, tensor<i64>) -> tensor<?x?xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7 : tensor<1x?x768xf32>, tensor<1x768xf32>,
      tensor<1x?x1xf32>, tensor<1x4x768xf32>, tensor<4096x768xf32>, tensor<4096x768xf32>,
      tensor<?x?xf32>, tensor<?x?xf32>
}
