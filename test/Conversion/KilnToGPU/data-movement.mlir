// RUN: kiln-opt %s --kiln-lower-to-gpu -split-input-file -verify-diagnostics | FileCheck %s
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp16 -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=F16
// RUN: kiln-opt %s --kiln-lower-to-gpu --kiln-gpu-to-ptx -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=PTX

// Data-movement templates (lib/Conversion/KilnToGPU/DataMovementKernels.cpp): views, strided
// copies (Transpose, Slice, Expand), the tiled transpose, Concat/Split, the gathers, ScatterND,
// Trilu, CumSum, Range, Shape, Size, ConstantOfShape; and the ops they refuse.

// Reshape, Unsqueeze, Squeeze and Flatten are views of the same buffer: no kernel. Their dims
// come from the operand's (seq * 256 / 256 folds to seq).
// CHECK-LABEL: func.func @views
// CHECK-SAME: (%[[X:.*]]: tensor<1x?x256xf32>
// CHECK: %[[SEQ:.*]] = tensor.dim %[[X]], %c1
// CHECK: %[[R:.*]] = kiln.view %[[X]] dims(%[[SEQ]]) : tensor<1x?x256xf32> to tensor<1x?x8x32xf32>
// CHECK: %[[U:.*]] = kiln.view %[[R]] dims(%[[SEQ]]) : tensor<1x?x8x32xf32> to tensor<1x1x?x8x32xf32>
// CHECK: %[[Q:.*]] = kiln.view %[[U]] dims(%[[SEQ]]) : tensor<1x1x?x8x32xf32> to tensor<1x?x8x32xf32>
// CHECK: %[[F:.*]] = kiln.view %[[Q]] dims(%[[SEQ]]) : tensor<1x?x8x32xf32> to tensor<?x256xf32>
// CHECK-NOT: kiln.launch
// CHECK: return %[[F]]
// PTX-LABEL: func.func @views
// PTX-NOT: kiln.launch
func.func @views(%x: tensor<1x?x256xf32> {kiln.dim_params = ["", "seq", ""]}) -> tensor<?x256xf32> {
  %s = kiln.constant dense<[1, -1, 8, 32]> : tensor<4xi64>
  %r = kiln.onnx.Reshape %x, %s : (tensor<1x?x256xf32>, tensor<4xi64>) -> tensor<1x?x8x32xf32>
  %a = kiln.constant dense<[0]> : tensor<1xi64>
  %u = kiln.onnx.Unsqueeze %r, %a : (tensor<1x?x8x32xf32>, tensor<1xi64>) -> tensor<1x1x?x8x32xf32>
  %q = kiln.onnx.Squeeze %u, %a : (tensor<1x1x?x8x32xf32>, tensor<1xi64>) -> tensor<1x?x8x32xf32>
  %f = kiln.onnx.Flatten %q {axis = 2 : i64} : (tensor<1x?x8x32xf32>) -> tensor<?x256xf32>
  return %f : tensor<?x256xf32>
}

// -----

// Flatten of a dynamic dim: seq * 4 is no shape-analysis expression; the host plan computes it.
// CHECK-LABEL: func.func @flatten_product
// CHECK: %[[N:.*]] = arith.muli %{{.*}}, %c4
// CHECK: kiln.view %{{.*}} dims(%[[N]]) : tensor<2x?x4xi32> to tensor<2x?xi32>
func.func @flatten_product(%x: tensor<2x?x4xi32> {kiln.dim_params = ["", "seq", ""]}) -> tensor<2x?xi32> {
  %f = kiln.onnx.Flatten %x {axis = 1 : i64} : (tensor<2x?x4xi32>) -> tensor<2x?xi32>
  return %f : tensor<2x?xi32>
}

// -----

// [B, S, H, D] -> [B, H, S, D]: the unit dim is dropped, D stays innermost: a strided copy of
// [H, S, D] rows, 16 bytes per thread (4 x i32; 8 x i16 at fp16) when the buffers are aligned.
// CHECK-LABEL: func.func @transpose_heads
// CHECK: kiln.launch @kiln_kernels::@strided_copy_i32_v4_8_d_32_32_256_1_0_d(%{{.*}}) scalars(%{{.*}}, %{{.*}}) grid(%{{.*}}, %{{.*}}, %{{.*}}) block [256, 1, 1] dims(%{{.*}}) : (tensor<1x?x8x32xf32>) -> tensor<1x8x?x32xf32>
// CHECK: gpu.func @strided_copy_i32_v4_8_d_32_32_256_1_0_d(%{{.*}}: memref<?xi32, #gpu.address_space<global>>, %{{.*}}: memref<?xi32, #gpu.address_space<global>>, %{{.*}}: i64, %{{.*}}: i64) kernel
// CHECK: memref.extract_aligned_pointer_as_index
// CHECK: scf.if
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<?xi32, #gpu.address_space<global>>, vector<4xi32>
// CHECK: vector.store %{{.*}} {alignment = 16 : i64} : memref<?xi32, #gpu.address_space<global>>, vector<4xi32>
// CHECK: } else {
// CHECK: memref.load
// F16-LABEL: func.func @transpose_heads
// F16: kiln.launch @kiln_kernels::@strided_copy_i16_v8_8_d_32_32_256_1_0_d
// F16: vector.load %{{.*}} {alignment = 16 : i64} : memref<?xi16, #gpu.address_space<global>>, vector<8xi16>
// PTX-LABEL: func.func @transpose_heads
// PTX: gpu.binary @kiln_kernels
// PTX-SAME: .visible .entry strided_copy_i32_v4_8_d_32_32_256_1_0_d(
// PTX-SAME: ld.global.v4.b32
// PTX-SAME: st.global.v4.b32
func.func @transpose_heads(%x: tensor<1x?x8x32xf32> {kiln.dim_params = ["", "seq", "", ""]}) -> tensor<1x8x?x32xf32> {
  %t = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x8x32xf32>) -> tensor<1x8x?x32xf32>
  return %t : tensor<1x8x?x32xf32>
}

// -----

// K^T: the innermost dim moves. 32x32 tiles through shared memory, 32x8 threads, one block
// per (tile, batch), [2 x 8] merged into a batch of 16.
// CHECK-LABEL: func.func @transpose_tile
// CHECK: %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c32
// CHECK: %[[T2:.*]] = arith.muli %c2{{.*}}, %[[TILES]]
// CHECK: %[[BLOCKS:.*]] = arith.muli %[[T2]], %c16
// CHECK: kiln.launch @kiln_kernels::@transpose_tile_i32_p021_16_d_64(%{{.*}}) scalars(%{{.*}}) grid(%[[BLOCKS]], %{{.*}}, %{{.*}}) block [32, 8, 1]
// CHECK: gpu.func @transpose_tile_i32_p021_16_d_64({{.*}}) workgroup(%[[TILE:.*]] : memref<32x33xi32, #gpu.address_space<workgroup>>) kernel
// CHECK: memref.store %{{.*}}, %[[TILE]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[TILE]]
// PTX-LABEL: func.func @transpose_tile
// PTX: gpu.binary @kiln_kernels
// PTX-SAME: .visible .entry transpose_tile_i32_p021_16_d_64(
// PTX-SAME: .shared
// PTX-SAME: bar.sync
func.func @transpose_tile(%x: tensor<2x8x?x64xf32> {kiln.dim_params = ["", "", "seq", ""]}) -> tensor<2x8x64x?xf32> {
  %t = kiln.onnx.Transpose %x {perm = array<i64: 0, 1, 3, 2>} : (tensor<2x8x?x64xf32>) -> tensor<2x8x64x?xf32>
  return %t : tensor<2x8x64x?xf32>
}

// -----

// Only a unit dim moves (MQA's single K/V head): a view.
// CHECK-LABEL: func.func @transpose_unit
// CHECK: kiln.view %{{.*}} : tensor<2x1x?x64xf32> to tensor<2x?x1x64xf32>
// CHECK-NOT: kiln.launch
func.func @transpose_unit(%x: tensor<2x1x?x64xf32> {kiln.dim_params = ["", "", "seq", ""]}) -> tensor<2x?x1x64xf32> {
  %t = kiln.onnx.Transpose %x {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x1x?x64xf32>) -> tensor<2x?x1x64xf32>
  return %t : tensor<2x?x1x64xf32>
}

// -----

// A moved innermost dim of 2 elements: one element per thread (no tile of mostly idle
// threads), default perm (reversed dims).
// CHECK-LABEL: func.func @transpose_generic
// CHECK: kiln.launch @kiln_kernels::@strided_copy_i32_v1_2_d_1_2_0_d
// CHECK-NOT: vector.load
// CHECK: gpu.return
func.func @transpose_generic(%x: tensor<?x2xf32> {kiln.dim_params = ["n", ""]}) -> tensor<2x?xf32> {
  %t = kiln.onnx.Transpose %x : (tensor<?x2xf32>) -> tensor<2x?xf32>
  return %t : tensor<2x?xf32>
}

// -----

// Constant starts/axes/steps: the slice is a strided copy from an offset (start 1 * 32); the
// untouched inner dim merges with the sliced one ([32 x 128] from a row stride of 192).
// CHECK-LABEL: func.func @slice
// CHECK: kiln.launch @kiln_kernels::@strided_copy_i32_v4_32_128_192_1_32_4096(%{{.*}}) grid(%c4, %{{.*}}, %{{.*}}) block [256, 1, 1] : (tensor<1x32x6x32xf32>) -> tensor<1x32x4x32xf32>
func.func @slice(%x: tensor<1x32x6x32xf32>) -> tensor<1x32x4x32xf32> {
  %starts = kiln.constant dense<[1]> : tensor<1xi64>
  %ends = kiln.constant dense<[5]> : tensor<1xi64>
  %axes = kiln.constant dense<[2]> : tensor<1xi64>
  %steps = kiln.constant dense<[1]> : tensor<1xi64>
  %s = kiln.onnx.Slice %x, %starts, %ends, %axes, %steps {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<1x32x6x32xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x32x4x32xf32>
  return %s : tensor<1x32x4x32xf32>
}

// -----

// Negative steps: starts clamped to [-1, dim - 1], negative strides (x[::-1, 15::-2]: offset
// 4 * 16 + 15 = 79, the two dims merge into 40 elements of stride -2).
// CHECK-LABEL: func.func @slice_reverse
// CHECK: kiln.launch @kiln_kernels::@strided_copy_i32_v1_40_m2_79_40
func.func @slice_reverse(%x: tensor<5x16xf32>) -> tensor<5x8xf32> {
  %starts = kiln.constant dense<[-1, 15]> : tensor<2xi64>
  %ends = kiln.constant dense<[-9223372036854775807, 0]> : tensor<2xi64>
  %axes = kiln.constant dense<[0, 1]> : tensor<2xi64>
  %steps = kiln.constant dense<[-1, -2]> : tensor<2xi64>
  %s = kiln.onnx.Slice %x, %starts, %ends, %axes, %steps {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<5x16xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<5x8xf32>
  return %s : tensor<5x8xf32>
}

// -----

// Ends from Shape (not a constant): the result dims come from the shape analysis; the start of
// a dynamic dim is clamped on the host (min(1, seq)).
// CHECK-LABEL: func.func @slice_dynamic_end
// CHECK: %[[SEQ:.*]] = tensor.dim
// CHECK: %[[START:.*]] = arith.minsi %c1{{.*}}, %[[SEQ]]
// CHECK: kiln.launch @kiln_kernels::@strided_copy_i32_v4_2_d_d_1_d_d(
func.func @slice_dynamic_end(%x: tensor<2x?x8xf32> {kiln.dim_params = ["", "seq", ""]}) -> tensor<2x?x8xf32> {
  %sh = kiln.onnx.Shape %x {start = 1 : i64, end = 2 : i64} : (tensor<2x?x8xf32>) -> tensor<1xi64>
  %s = kiln.constant dense<[1]> : tensor<1xi64>
  %a = kiln.constant dense<[1]> : tensor<1xi64>
  %r = kiln.onnx.Slice %x, %s, %sh, %a {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>} : (tensor<2x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x?x8xf32>
  return %r : tensor<2x?x8xf32>
}

// -----

// Concat along the last axis: one kernel reads every input; 16-byte chunks never straddle two
// inputs (64 and 32 elements per row).
// CHECK-LABEL: func.func @concat_last
// CHECK: kiln.launch @kiln_kernels::@concat_i32_n2_v4_d_64_32(%arg0, %arg1) scalars(%{{.*}}) grid({{.*}}) block [256, 1, 1] dims(%{{.*}}) : (tensor<1x?x64xf32>, tensor<1x?x32xf32>) -> tensor<1x?x96xf32>
// CHECK: gpu.func @concat_i32_n2_v4_d_64_32(%[[A:.*]]: memref<?xi32, #gpu.address_space<global>>, %[[B:.*]]: memref<?xi32, #gpu.address_space<global>>, %[[OUT:.*]]: memref<?xi32, #gpu.address_space<global>>, %{{.*}}: i64)
// CHECK: vector.load %[[A]]
// CHECK: vector.load %[[B]]
func.func @concat_last(%a: tensor<1x?x64xf32> {kiln.dim_params = ["", "seq", ""]}, %b: tensor<1x?x32xf32> {kiln.dim_params = ["", "seq", ""]}) -> tensor<1x?x96xf32> {
  %c = kiln.onnx.Concat %a, %b {axis = -1 : i64} : (tensor<1x?x64xf32>, tensor<1x?x32xf32>) -> tensor<1x?x96xf32>
  return %c : tensor<1x?x96xf32>
}

// -----

// KV-cache style concat along seq: the result dim past + seq (no shape-analysis expression) is
// computed on the host.
// CHECK-LABEL: func.func @concat_cache
// CHECK-DAG: %[[PAST:.*]] = tensor.dim %arg0, %c2
// CHECK-DAG: %[[NEW:.*]] = tensor.dim %arg1, %c2
// CHECK: %[[TOTAL:.*]] = arith.addi %[[PAST]], %[[NEW]]
// CHECK: kiln.launch @kiln_kernels::@concat_i32_n2_v4_8_d_d(%arg0, %arg1) {{.*}} dims(%[[TOTAL]])
func.func @concat_cache(%a: tensor<1x8x?x64xi32> {kiln.dim_params = ["", "", "past", ""]}, %b: tensor<1x8x?x64xi32> {kiln.dim_params = ["", "", "seq", ""]}) -> tensor<1x8x?x64xi32> {
  %c = kiln.onnx.Concat %a, %b {axis = 2 : i64} : (tensor<1x8x?x64xi32>, tensor<1x8x?x64xi32>) -> tensor<1x8x?x64xi32>
  return %c : tensor<1x8x?x64xi32>
}

// -----

// Split of a fused QKV projection: one launch, three results.
// CHECK-LABEL: func.func @split
// CHECK: %[[R:.*]]:3 = kiln.launch @kiln_kernels::@split_i32_n3_v4_d_256_64_64(%arg0) scalars(%[[SEQ:.*]]) grid({{.*}}) block [256, 1, 1] dims(%[[SEQ]], %[[SEQ]], %[[SEQ]]) : (tensor<1x?x384xf32>) -> (tensor<1x?x256xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>)
// CHECK: return %[[R]]#0, %[[R]]#1, %[[R]]#2
// CHECK: gpu.func @split_i32_n3_v4_d_256_64_64(%[[IN:.*]]: memref<?xi32, #gpu.address_space<global>>, %[[Q:.*]]: memref<?xi32, #gpu.address_space<global>>, %[[K:.*]]: memref<?xi32, #gpu.address_space<global>>, %[[V:.*]]: memref<?xi32, #gpu.address_space<global>>, %{{.*}}: i64)
// CHECK: vector.store %{{.*}}, %[[Q]]
// CHECK: vector.store %{{.*}}, %[[K]]
// CHECK: vector.store %{{.*}}, %[[V]]
// F16-LABEL: func.func @split
// F16: kiln.launch @kiln_kernels::@split_i16_n3_v8_d_256_64_64
// PTX-LABEL: func.func @split
// PTX: gpu.binary @kiln_kernels
// PTX-SAME: .visible .entry split_i32_n3_v4_d_256_64_64(
func.func @split(%x: tensor<1x?x384xf32> {kiln.dim_params = ["", "seq", ""]}) -> (tensor<1x?x256xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>) {
  %sizes = kiln.constant dense<[256, 64, 64]> : tensor<3xi64>
  %s:3 = kiln.onnx.Split %x, %sizes {axis = 2 : i64} : (tensor<1x?x384xf32>, tensor<3xi64>) -> (tensor<1x?x256xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>)
  return %s#0, %s#1, %s#2 : tensor<1x?x256xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>
}

// -----

// Embedding lookup: rows of 256 elements, 16 bytes per thread; indices wrap when negative and
// read zeros when out of range.
// CHECK-LABEL: func.func @embedding
// CHECK: %[[W:.*]] = kiln.constant
// CHECK: kiln.launch @kiln_kernels::@gather_i32_i64_v4_1_256_d_256_d(%[[W]], %arg0) {{.*}} : (tensor<256x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
// CHECK: gpu.func @gather_i32_i64_v4_1_256_d_256_d(%[[TABLE:.*]]: memref<?xi32, #gpu.address_space<global>>, %[[IDS:.*]]: memref<?xi64, #gpu.address_space<global>>, %[[OUT:.*]]: memref<?xi32, #gpu.address_space<global>>
// CHECK: %[[ID:.*]] = memref.load %[[IDS]]
// CHECK: arith.index_cast %[[ID]] : i64 to index
// CHECK: arith.cmpi slt
// CHECK: vector.load %[[TABLE]]
// CHECK: vector.store %{{.*}}, %[[OUT]]
// CHECK: } else {
// CHECK: vector.broadcast
// F16-LABEL: func.func @embedding
// F16: kiln.launch @kiln_kernels::@gather_i16_i64_v8_1_256_d_256_d(%{{.*}}, %arg0) {{.*}} : (tensor<256x256xf16>, tensor<1x?xi64>) -> tensor<1x?x256xf16>
func.func @embedding(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"]}) -> tensor<1x?x256xf32> {
  %w = kiln.constant dense<1.0> : tensor<256x256xf32>
  %g = kiln.onnx.Gather %w, %ids : (tensor<256x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  return %g : tensor<1x?x256xf32>
}

// -----

// CHECK-LABEL: func.func @gather_axis1
// CHECK: kiln.launch @kiln_kernels::@gather_i32_i32_v2_4_d_3_6_72(%arg0, %arg1)
func.func @gather_axis1(%x: tensor<4x?x6xf32> {kiln.dim_params = ["", "n", ""]}, %i: tensor<3xi32>) -> tensor<4x3x6xf32> {
  %g = kiln.onnx.Gather %x, %i {axis = 1 : i64} : (tensor<4x?x6xf32>, tensor<3xi32>) -> tensor<4x3x6xf32>
  return %g : tensor<4x3x6xf32>
}

// -----

// CHECK-LABEL: func.func @gather_elements
// CHECK: kiln.launch @kiln_kernels::@gather_elements_i32_i64_a1_3_4_3_2_6(%arg0, %arg1)
func.func @gather_elements(%x: tensor<3x4xf32>, %i: tensor<3x2xi64>) -> tensor<3x2xf32> {
  %g = kiln.onnx.GatherElements %x, %i {axis = 1 : i64} : (tensor<3x4xf32>, tensor<3x2xi64>) -> tensor<3x2xf32>
  return %g : tensor<3x2xf32>
}

// -----

// CHECK-LABEL: func.func @gather_nd
// GatherND with a batch dim: 80-element slices, 16 bytes per thread; the result dims are the
// indices' (n) and the data's.
// CHECK: kiln.launch @kiln_kernels::@gather_nd_i32_k1_b1_v4_2_3_5_4_4_d_80_d(%arg0, %arg1) scalars(%[[N:.*]], %{{.*}}) {{.*}} dims(%[[N]])
func.func @gather_nd(%x: tensor<2x3x5x4x4xi32>, %i: tensor<2x?x1xi64> {kiln.dim_params = ["", "n", ""]}) -> tensor<2x?x5x4x4xi32> {
  %g = kiln.onnx.GatherND %x, %i {batch_dims = 1 : i64} : (tensor<2x3x5x4x4xi32>, tensor<2x?x1xi64>) -> tensor<2x?x5x4x4xi32>
  return %g : tensor<2x?x5x4x4xi32>
}

// -----

// ScatterND: each thread owns one output element and applies the matching updates in order;
// the block stages the tuples' offsets in shared memory.
// CHECK-LABEL: func.func @scatter_nd
// CHECK: kiln.launch @kiln_kernels::@scatter_nd_add_f32_k1_4_8_2_32(%arg0, %arg1, %arg2)
// CHECK: gpu.func @scatter_nd_add_f32_k1_4_8_2_32({{.*}}) workgroup(%{{.*}} : memref<256xindex, #gpu.address_space<workgroup>>) kernel
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: gpu.barrier
// CHECK: arith.addf
// F16-LABEL: func.func @scatter_nd
// F16: gpu.func @scatter_nd_add_f16_k1_4_8_2_32
// F16: arith.extf
// F16: arith.addf %{{.*}} : f32
// PTX-LABEL: func.func @scatter_nd
// PTX: gpu.binary @kiln_kernels
// PTX-SAME: .visible .entry scatter_nd_add_f32_k1_4_8_2_32(
func.func @scatter_nd(%x: tensor<4x8xf32>, %i: tensor<2x1xi64>, %u: tensor<2x8xf32>) -> tensor<4x8xf32> {
  %s = kiln.onnx.ScatterND %x, %i, %u {reduction = "add"} : (tensor<4x8xf32>, tensor<2x1xi64>, tensor<2x8xf32>) -> tensor<4x8xf32>
  return %s : tensor<4x8xf32>
}

// -----

// A causal mask broadcast over batch and heads: the broadcast dims merge into one of stride 0,
// the [seq, seq] plane stays contiguous.
// CHECK-LABEL: func.func @expand
// CHECK: kiln.launch @kiln_kernels::@strided_copy_i32_v4_6_d_0_1_0_d
func.func @expand(%m: tensor<1x1x?x?xf32> {kiln.dim_params = ["", "", "seq", "seq"]}) -> tensor<2x3x?x?xf32> {
  %shape = kiln.constant dense<[2, 3, 1, 1]> : tensor<4xi64>
  %e = kiln.onnx.Expand %m, %shape : (tensor<1x1x?x?xf32>, tensor<4xi64>) -> tensor<2x3x?x?xf32>
  return %e : tensor<2x3x?x?xf32>
}

// -----

// A dynamic input dim may be 1 at run time (broadcast) or 5: its stride is
// stride * min(max(n - 1, 0), 1).
// CHECK-LABEL: func.func @expand_dynamic
// CHECK: %[[N:.*]] = tensor.dim %arg0, %c0
// CHECK: %[[M1:.*]] = arith.subi %[[N]], %c1
// CHECK: %[[LO:.*]] = arith.minsi %[[M1]], %c1
// CHECK: %[[WALK:.*]] = arith.maxsi %[[LO]], %c0
// CHECK: kiln.launch @kiln_kernels::@strided_copy_i32_v1_2_5_0_d_0_10(%arg0) scalars(%[[WALK]])
func.func @expand_dynamic(%m: tensor<?xf32> {kiln.dim_params = ["n"]}) -> tensor<2x5xf32> {
  %shape = kiln.constant dense<[2, 5]> : tensor<2xi64>
  %e = kiln.onnx.Expand %m, %shape : (tensor<?xf32>, tensor<2xi64>) -> tensor<2x5xf32>
  return %e : tensor<2x5xf32>
}

// -----

// Positions: Shape -> Squeeze -> Range. Shape writes the host's dims into an int64 tensor; Range
// takes its length from the shape analysis and reads start and delta on the device.
// CHECK-LABEL: func.func @positions
// CHECK: %[[SEQ:.*]] = tensor.dim %arg0, %c1
// CHECK: kiln.launch @kiln_kernels::@range_i64(%{{.*}}, %{{.*}}) scalars(%[[SEQ]]) {{.*}} dims(%[[SEQ]]) : (tensor<i64>, tensor<i64>) -> tensor<?xi64>
// CHECK: gpu.func @range_i64
// CHECK: arith.muli %{{.*}} : i64
// CHECK: arith.addi %{{.*}} : i64
func.func @positions(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"]}) -> tensor<?xi64> {
  %shape = kiln.onnx.Shape %ids {end = 2 : i64, start = 1 : i64} : (tensor<1x?xi64>) -> tensor<1xi64>
  %limit = kiln.onnx.Squeeze %shape : (tensor<1xi64>) -> tensor<i64>
  %start = kiln.constant dense<0> : tensor<i64>
  %delta = kiln.constant dense<1> : tensor<i64>
  %r = kiln.onnx.Range %start, %limit, %delta : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  return %r : tensor<?xi64>
}

// -----

// CHECK-LABEL: func.func @range_f32
// CHECK: gpu.func @range_f32
// CHECK: arith.uitofp %{{.*}} : i64 to f32
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @range_f32(%a: tensor<f32>, %b: tensor<f32>, %c: tensor<f32>) -> tensor<5xf32> {
  %r = kiln.onnx.Range %a, %b, %c : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<5xf32>
  return %r : tensor<5xf32>
}

// -----

// CHECK-LABEL: func.func @shape_size
// CHECK: %[[N:.*]] = tensor.dim %arg0, %c1
// CHECK: %[[SHAPE:.*]] = kiln.launch @kiln_kernels::@host_values_2() scalars(%c2{{.*}}, %[[N]]) grid(%c1{{.*}}, %c1{{.*}}, %c1{{.*}}) block [32, 1, 1] : () -> tensor<2xi64>
// CHECK: %[[COUNT:.*]] = arith.muli %c2{{.*}}, %[[N]]
// CHECK: %[[SIZE:.*]] = kiln.launch @kiln_kernels::@host_values_1() scalars(%[[COUNT]]) {{.*}} : () -> tensor<i64>
// CHECK: return %[[SHAPE]], %[[SIZE]]
func.func @shape_size(%x: tensor<2x?xf32> {kiln.dim_params = ["", "n"]}) -> (tensor<2xi64>, tensor<i64>) {
  %s = kiln.onnx.Shape %x : (tensor<2x?xf32>) -> tensor<2xi64>
  %n = kiln.onnx.Size %x : (tensor<2x?xf32>) -> tensor<i64>
  return %s, %n : tensor<2xi64>, tensor<i64>
}

// -----

// The fill value's bits in the storage type: -1.5 is 0xBFC00000 in f32, 0xBE00 in f16.
// CHECK-LABEL: func.func @constant_of_shape
// CHECK: kiln.launch @kiln_kernels::@fill_i32_0xBFC00000() scalars(%{{.*}}) {{.*}} dims(%{{.*}}) : () -> tensor<?x4xf32>
// F16-LABEL: func.func @constant_of_shape
// F16: kiln.launch @kiln_kernels::@fill_i16_0xBE00()
func.func @constant_of_shape(%x: tensor<?x4xf32> {kiln.dim_params = ["n", ""]}) -> tensor<?x4xf32> {
  %s = kiln.onnx.Shape %x : (tensor<?x4xf32>) -> tensor<2xi64>
  %c = kiln.onnx.ConstantOfShape %s {value = dense<-1.5> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x4xf32>
  return %c : tensor<?x4xf32>
}

// -----

// A constant k is part of the kernel; another is read on the device.
// CHECK-LABEL: func.func @trilu
// CHECK: kiln.launch @kiln_kernels::@trilu_upper_i32_k1_d_d_d(%arg0)
// CHECK: kiln.launch @kiln_kernels::@trilu_lower_i32_kd_d_d_d(%arg0, %arg1)
// CHECK: gpu.func @trilu_upper_i32_k1_d_d_d
// CHECK: arith.cmpi sge
// CHECK: gpu.func @trilu_lower_i32_kd_d_d_d
// CHECK: memref.load %arg1
// CHECK: arith.cmpi sle
func.func @trilu(%x: tensor<?x?xf32> {kiln.dim_params = ["seq", "seq"]}, %k: tensor<i64>) -> (tensor<?x?xf32>, tensor<?x?xf32>) {
  %one = kiln.constant dense<1> : tensor<i64>
  %u = kiln.onnx.Trilu %x, %one {upper = 1 : i64} : (tensor<?x?xf32>, tensor<i64>) -> tensor<?x?xf32>
  %l = kiln.onnx.Trilu %x, %k {upper = 0 : i64} : (tensor<?x?xf32>, tensor<i64>) -> tensor<?x?xf32>
  return %u, %l : tensor<?x?xf32>, tensor<?x?xf32>
}

// -----

// One thread per scan line; integers sum in their own width.
// CHECK-LABEL: func.func @cumsum
// CHECK: kiln.launch @kiln_kernels::@cumsum_i64_exclusive_reverse_2_d_1(%arg0)
// CHECK: gpu.func @cumsum_i64_exclusive_reverse_2_d_1
// CHECK: scf.for {{.*}} iter_args
// CHECK: arith.addi %{{.*}} : i64
// F16-LABEL: func.func @cumsum
// F16: gpu.func @cumsum_f16_3_d_1
// F16: arith.addf %{{.*}} : f32
func.func @cumsum(%x: tensor<2x?xi64> {kiln.dim_params = ["", "seq"]}, %y: tensor<3x?xf32> {kiln.dim_params = ["", "n"]}) -> (tensor<2x?xi64>, tensor<3x?xf32>) {
  %axis = kiln.constant dense<1> : tensor<i64>
  %c = kiln.onnx.CumSum %x, %axis {exclusive = 1 : i64, reverse = 1 : i64} : (tensor<2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
  %d = kiln.onnx.CumSum %y, %axis : (tensor<3x?xf32>, tensor<i64>) -> tensor<3x?xf32>
  return %c, %d : tensor<2x?xi64>, tensor<3x?xf32>
}

// -----

// Unsupported variants name what is missing.
func.func @slice_dynamic_starts(%x: tensor<8x4xf32>, %starts: tensor<1xi64>) -> tensor<?x4xf32> {
  %ends = kiln.constant dense<[8]> : tensor<1xi64>
  // expected-error @+1 {{GPU lowering of kiln.onnx.Slice: non-constant 'starts' is not supported}}
  %s = kiln.onnx.Slice %x, %starts, %ends {operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>} : (tensor<8x4xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4xf32>
  return %s : tensor<?x4xf32>
}

// -----

func.func @slice_dynamic_steps(%x: tensor<8x4xf32>, %steps: tensor<1xi64>) -> tensor<?x4xf32> {
  %starts = kiln.constant dense<[0]> : tensor<1xi64>
  %ends = kiln.constant dense<[8]> : tensor<1xi64>
  %axes = kiln.constant dense<[0]> : tensor<1xi64>
  // expected-error @+1 {{GPU lowering of kiln.onnx.Slice: non-constant 'steps' is not supported}}
  %s = kiln.onnx.Slice %x, %starts, %ends, %axes, %steps {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>} : (tensor<8x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4xf32>
  return %s : tensor<?x4xf32>
}

// -----

func.func @cumsum_dynamic_axis(%x: tensor<8x4xf32>, %axis: tensor<i64>) -> tensor<8x4xf32> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.CumSum: a non-constant 'axis' is not supported}}
  %c = kiln.onnx.CumSum %x, %axis : (tensor<8x4xf32>, tensor<i64>) -> tensor<8x4xf32>
  return %c : tensor<8x4xf32>
}

// -----

func.func @gather_nd_dynamic_tuple(%x: tensor<8x4xf32>, %i: tensor<3x?xi64>) -> tensor<*xf32> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.GatherND: a dynamic index tuple length (last dim of indices) is not supported}}
  %g = kiln.onnx.GatherND %x, %i : (tensor<8x4xf32>, tensor<3x?xi64>) -> tensor<*xf32>
  return %g : tensor<*xf32>
}

// -----

func.func @scatter_nd_bool_add(%x: tensor<8xi1>, %i: tensor<2x1xi64>, %u: tensor<2xi1>) -> tensor<8xi1> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.ScatterND: reduction 'add' on bool tensors is not supported}}
  %s = kiln.onnx.ScatterND %x, %i, %u {reduction = "add"} : (tensor<8xi1>, tensor<2x1xi64>, tensor<2xi1>) -> tensor<8xi1>
  return %s : tensor<8xi1>
}
