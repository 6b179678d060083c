// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=F16

// ReduceSum/Mean/Max, ArgMax, TopK and Softmax. Reductions over the innermost elements use
// row kernels: one warp per row (4 rows a block) when the row is static and short, else one
// block of up to 512 threads per row; each thread folds its slice with V-wide vector loads
// (V divides a static row), then gpu.shuffle xor combines the lanes and a shared-memory step
// the warps. Other axes use a strided kernel: one thread per output element. Kernel names
// spell the op, the storage type and the row layout (L<length|dyn>_t<threads>[x<rows>]_v<V>,
// _c when the row stays in registers) or the dim pattern of the strided kernel (K kept,
// R reduced).

// A static row of 512 f32: a warp per row, 4 rows a block, vector<4xf32> loads, five
// shuffles, no shared memory.

// CHECK-LABEL: func.func @main
// CHECK:       %[[ROWS:.*]] = tensor.dim %arg0, %c0
// CHECK:       %[[GRID:.*]] = arith.ceildivui %[[ROWS]], %c4
// CHECK:       kiln.launch @kiln_kernels::@reduce_sum_f32_L512_t32x4_v4(%arg0) scalars(%[[ROWS]], %c512) grid(%[[GRID]], %c1{{.*}}, %c1{{.*}}) block [128, 1, 1] dims(%[[ROWS]]) : (tensor<?x512xf32>) -> tensor<?x1xf32>
// CHECK:       gpu.func @reduce_sum_f32_L512_t32x4_v4(
// CHECK-SAME:    kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK:         scf.for
// CHECK:           vector.load %arg0[%{{.*}}] {alignment = 16 : i64} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK-NOT:     gpu.barrier
// CHECK:         memref.store %{{.*}}, %arg1[

// F16-LABEL: func.func @main
// F16:       kiln.launch @kiln_kernels::@reduce_sum_f16_L512_t32x4_v8(
// F16:       vector.load %arg0[%{{.*}}] {alignment = 16 : i64} : memref<?xf16, #gpu.address_space<global>>, vector<8xf16>
// F16:       arith.extf %{{.*}} : f16 to f32
func.func @main(%x: tensor<?x512xf32>) -> tensor<?x1xf32> {
  %axes = kiln.constant dense<[-1]> : tensor<1xi64>
  %y = kiln.onnx.ReduceSum %x, %axes : (tensor<?x512xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// -----

// A dynamic row: one block of 256 threads per row, scalar loads, the warps' partials through
// shared memory between two barriers; the mean divides by the row length.

// CHECK-LABEL: func.func @main
// CHECK-DAG:   %[[LEN:.*]] = tensor.dim %arg0, %c1
// CHECK-DAG:   %[[ROWS:.*]] = tensor.dim %arg0, %c0
// CHECK:       kiln.launch @kiln_kernels::@reduce_mean_f32_Ldyn_t256_v1(%arg0) scalars(%[[ROWS]], %[[LEN]]) grid(%[[ROWS]], %c1{{.*}}, %c1{{.*}}) block [256, 1, 1] dims(%[[ROWS]]) : (tensor<?x?xf32>) -> tensor<?xf32>
// CHECK:       gpu.func @reduce_mean_f32_Ldyn_t256_v1(
// CHECK-SAME:    workgroup(%[[SCRATCH:.*]] : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK:         memref.load %arg0
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK:         memref.store %{{.*}}, %[[SCRATCH]]
// CHECK:         gpu.barrier
// CHECK-COUNT-8: memref.load %[[SCRATCH]]
// CHECK:         gpu.barrier
// CHECK:         %[[COUNT:.*]] = arith.sitofp
// CHECK:         arith.divf %{{.*}}, %[[COUNT]] : f32
func.func @main(%x: tensor<?x?xf32>) -> tensor<?xf32> {
  %axes = kiln.constant dense<[1]> : tensor<1xi64>
  %y = kiln.onnx.ReduceMean %x, %axes {keepdims = 0 : i64} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?xf32>
  return %y : tensor<?xf32>
}

// -----

// A middle axis: the strided kernel, one thread per output element; scalars are the output
// count and the sizes of the groups [4][?][8].

// CHECK-LABEL: func.func @main
// CHECK:       %[[DIM:.*]] = tensor.dim %arg0, %c1
// CHECK:       kiln.launch @kiln_kernels::@reduce_max_f32_KRK(%arg0) scalars(%c32, %c4, %[[DIM]], %c8) grid(%c1{{.*}}, %c1{{.*}}, %c1{{.*}}) block [256, 1, 1] : (tensor<4x?x8xf32>) -> tensor<4x1x8xf32>
// CHECK:       gpu.func @reduce_max_f32_KRK(
// CHECK:         %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:         scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[NEGINF]]) -> (f32)
// CHECK:           %[[X:.*]] = memref.load %arg0
// CHECK:           arith.maximumf %[[ACC]], %[[X]] : f32
func.func @main(%x: tensor<4x?x8xf32>) -> tensor<4x1x8xf32> {
  %axes = kiln.constant dense<[1]> : tensor<1xi64>
  %y = kiln.onnx.ReduceMax %x, %axes : (tensor<4x?x8xf32>, tensor<1xi64>) -> tensor<4x1x8xf32>
  return %y : tensor<4x1x8xf32>
}

// -----

// Integers accumulate in i64; the integer mean of an empty set is 0 (no division by zero).
// Axes [0, 2] of [3, ?, 5]: the pattern RKR.

// CHECK-LABEL: func.func @main
// CHECK:       kiln.launch @kiln_kernels::@reduce_mean_i32_RKR(%arg0)
// CHECK:       gpu.func @reduce_mean_i32_RKR(
// CHECK:         arith.extsi %{{.*}} : i32 to i64
// CHECK:         arith.addi %{{.*}} : i64
// CHECK:         %[[EMPTY:.*]] = arith.cmpi eq, %[[COUNT:.*]], %c0_i64
// CHECK:         %[[SAFE:.*]] = arith.select %[[EMPTY]], %c1_i64, %[[COUNT]]
// CHECK:         arith.divsi %{{.*}}, %[[SAFE]] : i64
// CHECK:         arith.trunci %{{.*}} : i64 to i32
func.func @main(%x: tensor<3x?x5xi32>) -> tensor<?xi32> {
  %axes = kiln.constant dense<[0, 2]> : tensor<2xi64>
  %y = kiln.onnx.ReduceMean %x, %axes {keepdims = 0 : i64} : (tensor<3x?x5xi32>, tensor<2xi64>) -> tensor<?xi32>
  return %y : tensor<?xi32>
}

// -----

// ReduceMax of i8 starts from the type's minimum (ONNX's result for an empty set); no axes
// operand reduces every axis (rows of 60 = [1, 60]).

// CHECK-LABEL: func.func @main
// CHECK:       kiln.launch @kiln_kernels::@reduce_max_i8_from_i8_L60_t32x4_v4(%arg0) scalars(%c1{{.*}}, %c60)
// CHECK:       gpu.func @reduce_max_i8_from_i8_L60_t32x4_v4(
// CHECK:         arith.constant -128 : i64
// CHECK:         vector.load %arg0[%{{.*}}] {alignment = 4 : i64} : memref<?xi8, #gpu.address_space<global>>, vector<4xi8>
// CHECK:         arith.maxsi %{{.*}} : i64
func.func @main(%x: tensor<3x4x5xi8>) -> tensor<1x1x1xi8> {
  %y = kiln.onnx.ReduceMax %x : (tensor<3x4x5xi8>) -> tensor<1x1x1xi8>
  return %y : tensor<1x1x1xi8>
}

// -----

// noop_with_empty_axes with empty axes is the identity, and so is a reduction over 1-sized
// dims only: no kernel.

// CHECK-LABEL: func.func @main
// CHECK-NOT:   kiln.launch
// CHECK:       %[[VIEW:.*]] = kiln.view %arg1 : tensor<4x1xf32> to tensor<4xf32>
// CHECK:       return %arg0, %[[VIEW]] : tensor<2x3xf32>, tensor<4xf32>
func.func @main(%x: tensor<2x3xf32>, %z: tensor<4x1xf32>) -> (tensor<2x3xf32>, tensor<4xf32>) {
  %none = kiln.constant dense<> : tensor<0xi64>
  %y = kiln.onnx.ReduceSum %x, %none {noop_with_empty_axes = 1 : i64} : (tensor<2x3xf32>, tensor<0xi64>) -> tensor<2x3xf32>
  %axes = kiln.constant dense<[1]> : tensor<1xi64>
  %m = kiln.onnx.ReduceMean %z, %axes {keepdims = 0 : i64} : (tensor<4x1xf32>, tensor<1xi64>) -> tensor<4xf32>
  return %y, %m : tensor<2x3xf32>, tensor<4xf32>
}

// -----

// ArgMax over the last axis: a row kernel folding (value, index) pairs; NaN ranks first,
// ties go to the higher index with select_last_index. Over another axis: the strided kernel.

// CHECK-LABEL: func.func @main
// CHECK:       kiln.launch @kiln_kernels::@argmax_f32_last_L1000_t64_v4(%arg0) scalars(%{{.*}}, %c1000) grid(%{{.*}}) block [64, 1, 1] {{.*}} -> tensor<?x1xi64>
// CHECK:       kiln.launch @kiln_kernels::@argmax_f32_strided(%arg0) scalars(%c1{{.*}}, %{{.*}}, %c1000{{.*}}) grid(%c4{{.*}}, %c1{{.*}}, %c1{{.*}}) block [256, 1, 1] : (tensor<?x1000xf32>) -> tensor<1000xi64>
// CHECK:       gpu.func @argmax_f32_last_L1000_t64_v4(
// CHECK-SAME:    workgroup(%{{.*}} : memref<2xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<2xi64, #gpu.address_space<workgroup>>)
// CHECK:         arith.cmpf uno
// CHECK:         arith.cmpi sgt
// CHECK:         gpu.shuffle  xor %{{.*}} : f32
// CHECK:         gpu.shuffle  xor %{{.*}} : i64
// CHECK:         gpu.barrier
// CHECK:       gpu.func @argmax_f32_strided(
// CHECK:         arith.cmpi slt
func.func @main(%x: tensor<?x1000xf32>) -> (tensor<?x1xi64>, tensor<1000xi64>) {
  %y = kiln.onnx.ArgMax %x {axis = -1 : i64, select_last_index = 1 : i64} : (tensor<?x1000xf32>) -> tensor<?x1xi64>
  %z = kiln.onnx.ArgMax %x {axis = 0 : i64, keepdims = 0 : i64} : (tensor<?x1000xf32>) -> tensor<1000xi64>
  return %y, %z : tensor<?x1xi64>, tensor<1000xi64>
}

// -----

// TopK: K rounds of a row-wide arg-best over the elements ranking after the previous pick
// (NaN first when largest, ties by the lower index); lane 0 writes each round.

// CHECK-LABEL: func.func @main
// CHECK:       %{{.*}}:2 = kiln.launch @kiln_kernels::@topk_f32_k5_largest_L50000_t512_v4(%arg0) scalars(%{{.*}}, %c50000) {{.*}} block [512, 1, 1] dims(%{{.*}}, %{{.*}}) : (tensor<?x50000xf32>) -> (tensor<?x5xf32>, tensor<?x5xi64>)
// CHECK:       kiln.launch @kiln_kernels::@topk_i64_k2_smallest_strided(%arg1) scalars(%c3{{.*}}, %{{.*}}, %c4{{.*}}) {{.*}} -> (tensor<3x2x4xi64>, tensor<3x2x4xi64>)
// CHECK:       gpu.func @topk_f32_k5_largest_L50000_t512_v4(
// CHECK:         scf.for %{{.*}} = %c0 to %c5{{.*}} step %c1 iter_args(
// CHECK:           scf.for
// CHECK:           gpu.barrier
// CHECK:           gpu.barrier
// CHECK:           scf.if
// CHECK:             memref.store %{{.*}}, %arg1[
// CHECK:             memref.store %{{.*}}, %arg2[
// CHECK:       gpu.func @topk_i64_k2_smallest_strided(
func.func @main(%x: tensor<?x50000xf32>, %w: tensor<3x?x4xi64>) -> (tensor<?x5xf32>, tensor<?x5xi64>, tensor<3x2x4xi64>, tensor<3x2x4xi64>) {
  %k = kiln.constant dense<5> : tensor<1xi64>
  %v, %i = kiln.onnx.TopK %x, %k : (tensor<?x50000xf32>, tensor<1xi64>) -> (tensor<?x5xf32>, tensor<?x5xi64>)
  %k2 = kiln.constant dense<2> : tensor<1xi64>
  %v2, %i2 = kiln.onnx.TopK %w, %k2 {axis = 1 : i64, largest = 0 : i64} : (tensor<3x?x4xi64>, tensor<1xi64>) -> (tensor<3x2x4xi64>, tensor<3x2x4xi64>)
  return %v, %i, %v2, %i2 : tensor<?x5xf32>, tensor<?x5xi64>, tensor<3x2x4xi64>, tensor<3x2x4xi64>
}

// -----

// Softmax over a static row of 1000 held in registers (_c): max, sum of exp(x - max), then
// exp / sum; one read of the input. A dynamic row reads it three times. Along an outer axis:
// the strided kernel.

// CHECK-LABEL: func.func @main
// CHECK:       kiln.launch @kiln_kernels::@softmax_f32_L1000_t64_v4_c(%arg0)
// CHECK:       kiln.launch @kiln_kernels::@softmax_f32_Ldyn_t256_v1(%arg1)
// CHECK:       kiln.launch @kiln_kernels::@softmax_f32_strided(%arg2) scalars(%c3{{.*}}, %{{.*}}, %c5{{.*}})
// CHECK:       gpu.func @softmax_f32_L1000_t64_v4_c(
// CHECK-COUNT-4: vector.load %arg0
// CHECK-NOT:     memref.load %arg0
// CHECK:         arith.maximumf
// CHECK:         gpu.barrier
// CHECK:         math.exp
// CHECK:         gpu.barrier
// CHECK:         arith.divf
// CHECK:         vector.store
// CHECK:       gpu.func @softmax_f32_Ldyn_t256_v1(
// CHECK-COUNT-3: memref.load %arg0
// CHECK:       gpu.func @softmax_f32_strided(
func.func @main(%x: tensor<?x1000xf32>, %y: tensor<1x4x?x?xf32>, %z: tensor<3x?x5xf32>) -> (tensor<?x1000xf32>, tensor<1x4x?x?xf32>, tensor<3x?x5xf32>) {
  %a = kiln.onnx.Softmax %x : (tensor<?x1000xf32>) -> tensor<?x1000xf32>
  %b = kiln.onnx.Softmax %y {axis = -1 : i64} : (tensor<1x4x?x?xf32>) -> tensor<1x4x?x?xf32>
  %c = kiln.onnx.Softmax %z {axis = 1 : i64} : (tensor<3x?x5xf32>) -> tensor<3x?x5xf32>
  return %a, %b, %c : tensor<?x1000xf32>, tensor<1x4x?x?xf32>, tensor<3x?x5xf32>
}

// -----

func.func @main(%x: tensor<2x3xf32>, %axes: tensor<1xi64>) -> tensor<2x1xf32> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.ReduceSum: the axes operand must be a constant}}
  %y = kiln.onnx.ReduceSum %x, %axes : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<2x1xf32>
  return %y : tensor<2x1xf32>
}

// -----

func.func @main(%x: tensor<2x3xui8>) -> tensor<1x1xui8> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.ReduceMax: unsigned element type 'ui8' is not supported}}
  %y = kiln.onnx.ReduceMax %x : (tensor<2x3xui8>) -> tensor<1x1xui8>
  return %y : tensor<1x1xui8>
}

// -----

func.func @main(%x: tensor<2x100xf32>) -> (tensor<2x65xf32>, tensor<2x65xi64>) {
  %k = kiln.constant dense<65> : tensor<1xi64>
  // expected-error @+1 {{GPU lowering of kiln.onnx.TopK: K = 65 is not supported (0 <= K <= 64)}}
  %v, %i = kiln.onnx.TopK %x, %k : (tensor<2x100xf32>, tensor<1xi64>) -> (tensor<2x65xf32>, tensor<2x65xi64>)
  return %v, %i : tensor<2x65xf32>, tensor<2x65xi64>
}

// -----

func.func @main(%x: tensor<2x100xf32>, %k: tensor<1xi64>) -> (tensor<2x?xf32>, tensor<2x?xi64>) {
  // expected-error @+1 {{GPU lowering of kiln.onnx.TopK: K must be a constant with one element}}
  %v, %i = kiln.onnx.TopK %x, %k : (tensor<2x100xf32>, tensor<1xi64>) -> (tensor<2x?xf32>, tensor<2x?xi64>)
  return %v, %i : tensor<2x?xf32>, tensor<2x?xi64>
}

// -----

func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x4xf32>, tensor<2x4xi64>) {
  %k = kiln.constant dense<4> : tensor<1xi64>
  // expected-error @+1 {{GPU lowering of kiln.onnx.TopK: K = 4 exceeds the axis size 3}}
  %v, %i = kiln.onnx.TopK %x, %k : (tensor<2x3xf32>, tensor<1xi64>) -> (tensor<2x4xf32>, tensor<2x4xi64>)
  return %v, %i : tensor<2x4xf32>, tensor<2x4xi64>
}

// -----

func.func @main(%x: tensor<2x0xf32>) -> tensor<2x1xi64> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.ArgMax: ArgMax of an empty axis}}
  %y = kiln.onnx.ArgMax %x {axis = 1 : i64} : (tensor<2x0xf32>) -> tensor<2x1xi64>
  return %y : tensor<2x1xi64>
}

// -----

func.func @main(%x: tensor<2x8xf64>) -> tensor<2x8xf64> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.Softmax: 'f64' data is not supported (exp is f32 only)}}
  %y = kiln.onnx.Softmax %x : (tensor<2x8xf64>) -> tensor<2x8xf64>
  return %y : tensor<2x8xf64>
}
