// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=F16

// kiln.layer_norm / kiln.rms_norm and ONNX LayerNormalization / RMSNormalization: one row
// kernel per op (a warp per short row, 4 rows a block; a block of up to 512 threads per long
// row). A static row whose slice fits in registers is read once with vector loads (_c in the
// name); the statistics are f32 and two-pass (the mean, then the mean of the squared
// deviations), LayerNorm multiplies by 1 / sqrt(var + eps), RMSNorm divides by
// sqrt(mean(x^2) + eps). Kernel names spell the kind, the storage types, how scale and bias
// are indexed (c: by column, s: one value, m<n>: column % n, g<size>s<stride>...: broadcast
// over the normalised dims), the row layout, epsilon's bits and the statistics results.

// GPT-2's layer norm (D = 256): a warp per row, two vector<4xf32> loads of x per lane, the
// same for scale and bias when writing.

// CHECK-LABEL: func.func @main
// CHECK:       %[[ROWS:.*]] = tensor.dim %arg0, %c1
// CHECK:       %[[GRID:.*]] = arith.ceildivui %[[ROWS]], %c4
// CHECK:       kiln.launch @kiln_kernels::@layer_norm_f32_f32c_f32c_L256_t32x4_v4_c_eps3727C5AC(%arg0, %arg1, %arg2) scalars(%[[ROWS]], %c256) grid(%[[GRID]], %c1{{.*}}, %c1{{.*}}) block [128, 1, 1] dims(%[[ROWS]]) : (tensor<1x?x256xf32>, tensor<256xf32>, tensor<256xf32>) -> tensor<1x?x256xf32>
// CHECK:       gpu.func @layer_norm_f32_f32c_f32c_L256_t32x4_v4_c_eps3727C5AC(
// CHECK-COUNT-2: vector.load %arg0[%{{.*}}] {alignment = 16 : i64} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK:         %[[MEAN:.*]] = arith.divf %{{.*}}, %[[COUNT:.*]] : f32
// CHECK:         arith.subf %{{.*}}, %[[MEAN]] : f32
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK:         %[[VAR:.*]] = arith.divf %{{.*}}, %[[COUNT]] : f32
// CHECK:         %[[SUM:.*]] = arith.addf %[[VAR]], %cst{{.*}} : f32
// CHECK:         %[[ROOT:.*]] = math.sqrt %[[SUM]] : f32
// CHECK:         %[[INV:.*]] = arith.divf %cst{{.*}}, %[[ROOT]] : f32
// CHECK:         vector.load %arg1
// CHECK:         vector.load %arg2
// CHECK:         arith.mulf %{{.*}}, %[[INV]] : f32
// CHECK:         vector.store %{{.*}}, %arg3[%{{.*}}] {alignment = 16 : i64} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK-NOT:     gpu.barrier

// F16-LABEL: func.func @main
// F16:       kiln.launch @kiln_kernels::@layer_norm_f16_f16c_f16c_L256_t32x4_v8_c_eps3727C5AC(
// F16:       vector.load %arg0[%{{.*}}] {alignment = 16 : i64} : memref<?xf16, #gpu.address_space<global>>, vector<8xf16>
func.func @main(%x: tensor<1x?x256xf32>, %g: tensor<256xf32>, %b: tensor<256xf32>) -> tensor<1x?x256xf32> {
  %y = kiln.layer_norm %x, %g, %b eps 1.0e-05 : tensor<1x?x256xf32>, tensor<256xf32>, tensor<256xf32>
  return %y : tensor<1x?x256xf32>
}

// -----

// Llama's RMSNorm at D = 4096: a block of 256 threads per row (128 with f16 storage), four
// vector loads per thread, the sum of squares across warps through shared memory;
// x / sqrt(mean(x^2) + eps) * scale.

// CHECK-LABEL: func.func @main
// CHECK:       kiln.launch @kiln_kernels::@rms_norm_f32_f32c_L4096_t256_v4_c_eps358637BD(%arg0, %arg1) scalars(%[[ROWS:.*]], %c4096) grid(%[[ROWS]], %c1{{.*}}, %c1{{.*}}) block [256, 1, 1]
// CHECK:       gpu.func @rms_norm_f32_f32c_L4096_t256_v4_c_eps358637BD(
// CHECK-SAME:    workgroup(%[[SCRATCH:.*]] : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK-COUNT-4: vector.load %arg0
// CHECK-NOT:     arith.subf
// CHECK:         gpu.barrier
// CHECK:         gpu.barrier
// CHECK:         %[[ROOT:.*]] = math.sqrt
// CHECK:         arith.divf %{{.*}}, %[[ROOT]] : f32
// CHECK:         vector.store

// F16-LABEL: func.func @main
// F16:       kiln.launch @kiln_kernels::@rms_norm_f16_f16c_L4096_t128_v8_c_eps358637BD(
func.func @main(%x: tensor<1x?x4096xf32>, %g: tensor<4096xf32>) -> tensor<1x?x4096xf32> {
  %y = kiln.rms_norm %x, %g eps 1.0e-06 : tensor<1x?x4096xf32>, tensor<4096xf32>
  return %y : tensor<1x?x4096xf32>
}

// -----

// A dynamic row length: 256 threads per row, scalar loads, three passes over the row.

// CHECK-LABEL: func.func @main
// CHECK-DAG:   %[[LEN:.*]] = tensor.dim %arg0, %c1
// CHECK-DAG:   %[[ROWS:.*]] = tensor.dim %arg0, %c0
// CHECK:       kiln.launch @kiln_kernels::@layer_norm_f32_f32c_Ldyn_t256_v1_eps3727C5AC(%arg0, %arg1) scalars(%[[ROWS]], %[[LEN]]) grid(%[[ROWS]], %c1{{.*}}, %c1{{.*}}) block [256, 1, 1]
// CHECK:       gpu.func @layer_norm_f32_f32c_Ldyn_t256_v1_eps3727C5AC(
// CHECK:         scf.for
// CHECK:           memref.load %arg0
// CHECK:         gpu.barrier
// CHECK:         scf.for
// CHECK:           memref.load %arg0
// CHECK:         gpu.barrier
// CHECK:         scf.for
// CHECK:           memref.load %arg0
// CHECK:           memref.load %arg1
// CHECK:           memref.store %{{.*}}, %arg2
func.func @main(%x: tensor<?x?xf32>, %g: tensor<?xf32>) -> tensor<?x?xf32> {
  %y = kiln.layer_norm %x, %g eps 1.0e-05 : tensor<?x?xf32>, tensor<?xf32>
  return %y : tensor<?x?xf32>
}

// -----

// ONNX LayerNormalization over the last two dims (axis 1) with both statistics: rows of 20;
// the [4, 1] scale broadcasts over the normalised [4, 5] (g4s1x5s0), the [5] bias repeats
// (m5); lane 0 writes Mean and InvStdDev.

// CHECK-LABEL: func.func @main
// CHECK:       %{{.*}}:3 = kiln.launch @kiln_kernels::@layer_norm_f32_f32g4s1x5s0_f32m5_L20_t32x4_v4_c_eps3A83126F_mean_f32_invstd_f32(%arg0, %arg1, %arg2) scalars(%c3, %c20)
// CHECK-SAME:    -> (tensor<3x4x5xf32>, tensor<3x1x1xf32>, tensor<3x1x1xf32>)
// CHECK:       gpu.func @layer_norm_f32_f32g4s1x5s0_f32m5_L20_t32x4_v4_c_eps3A83126F_mean_f32_invstd_f32(
// CHECK:         %[[ROOT:.*]] = math.sqrt
// CHECK:         %[[INV:.*]] = arith.divf %{{.*}}, %[[ROOT]]
// CHECK:         scf.if
// CHECK:           memref.store %{{.*}}, %arg4[
// CHECK:           memref.store %[[INV]], %arg5[
// CHECK:         arith.divui %{{.*}}, %c5
// CHECK:         arith.remui %{{.*}}, %c4
// CHECK:         memref.load %arg1
// CHECK:         arith.remui %{{.*}}, %c5
// CHECK:         memref.load %arg2
func.func @main(%x: tensor<3x4x5xf32>, %g: tensor<4x1xf32>, %b: tensor<5xf32>) -> (tensor<3x4x5xf32>, tensor<3x1x1xf32>, tensor<3x1x1xf32>) {
  %y, %m, %s = kiln.onnx.LayerNormalization %x, %g, %b {axis = 1 : i64, epsilon = 1.0e-03 : f32} : (tensor<3x4x5xf32>, tensor<4x1xf32>, tensor<5xf32>) -> (tensor<3x4x5xf32>, tensor<3x1x1xf32>, tensor<3x1x1xf32>)
  return %y, %m, %s : tensor<3x4x5xf32>, tensor<3x1x1xf32>, tensor<3x1x1xf32>
}

// -----

// ONNX RMSNormalization of an f16 model: the normalised value is rounded to f16 before the
// scale applies (the ONNX function's Cast), whatever the storage type (f32 here).

// CHECK-LABEL: func.func @main
// CHECK:       kiln.launch @kiln_kernels::@rms_norm_f32_round_f16_f32c_L6_t32x4_v2_c_eps3727C5AC(
// CHECK:       gpu.func @rms_norm_f32_round_f16_f32c_L6_t32x4_v2_c_eps3727C5AC(
// CHECK:         %[[ROOT:.*]] = math.sqrt
// CHECK:         %[[N:.*]] = arith.divf %{{[0-9#]+}}, %[[ROOT]] : f32
// CHECK:         %[[R:.*]] = arith.truncf %[[N]] : f32 to f16
// CHECK:         %[[E:.*]] = arith.extf %[[R]] : f16 to f32
// CHECK:         arith.mulf %[[E]], %{{.*}} : f32
func.func @main(%x: tensor<?x6xf16>, %g: tensor<6xf16>) -> tensor<?x6xf16> {
  %y = kiln.onnx.RMSNormalization %x, %g : (tensor<?x6xf16>, tensor<6xf16>) -> tensor<?x6xf16>
  return %y : tensor<?x6xf16>
}

// -----

// f64 data computes in f64 (as the executor), two-element vectors.

// CHECK-LABEL: func.func @main
// CHECK:       kiln.launch @kiln_kernels::@layer_norm_f64_f64c_f64c_L64_t32x4_v2_c_eps3727C5AC(
// CHECK:       gpu.shuffle  xor %{{.*}} : f64
// CHECK:       math.sqrt %{{.*}} : f64
func.func @main(%x: tensor<?x64xf64>, %g: tensor<64xf64>, %b: tensor<64xf64>) -> tensor<?x64xf64> {
  %y = kiln.layer_norm %x, %g, %b eps 1.0e-05 : tensor<?x64xf64>, tensor<64xf64>, tensor<64xf64>
  return %y : tensor<?x64xf64>
}

// -----

func.func @main(%x: tensor<?x8xf32>, %g: tensor<?xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.LayerNormalization: the scale must have a static shape, got 'tensor<?xf32>'}}
  %y = kiln.onnx.LayerNormalization %x, %g : (tensor<?x8xf32>, tensor<?xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @main(%x: tensor<2x?x8xf32>, %g: tensor<1x8xf32>, %b: tensor<3x1xf32>) -> tensor<2x?x8xf32> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.LayerNormalization: broadcasting the bias 'tensor<3x1xf32>' to dynamic normalized dims is not supported}}
  %y = kiln.onnx.LayerNormalization %x, %g, %b {axis = 1 : i64} : (tensor<2x?x8xf32>, tensor<1x8xf32>, tensor<3x1xf32>) -> tensor<2x?x8xf32>
  return %y : tensor<2x?x8xf32>
}

