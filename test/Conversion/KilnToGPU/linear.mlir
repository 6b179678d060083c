// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=F16
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=bf16 | FileCheck %s --check-prefix=BF16
// RUN: env KILN_GEMM=simt,nogemv kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=FORCED
// RUN: env KILN_GEMM=tc=128x256x32w2x4s3 kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=TILE

// kiln.linear, MatMul, Gemm and Einsum lower to one GEMM launch each: mma.sync tensor cores
// for f16/bf16 storage, a SIMT tile kernel for f32 (and f64/integers), a GEMV kernel when M
// is static and small. Scalars: M, N, K, lda, ldb, [the addend's two strides], then size
// and A/B strides per batch dim. Grid: x = batch * ceil(M / BM) * ceil(N / BN) (GEMV:
// batch * ceil(N / columns per block)).

// A Llama-style projection with bias, GELU and residual; M = seq is dynamic, so the kernel
// has a GEMV path too ("gemv8c2v4": M <= 8 rows, 2 columns per block, 4-wide loads) and the
// grid is sized for the path that M takes (and empty when M = 0).

// CHECK-LABEL: func.func @linear
// CHECK:       %[[SEQ:.*]] = tensor.dim %arg0
// CHECK:       %[[W:.*]] = kiln.constant dense<5.000000e-01> : tensor<384x256xf32>
// CHECK:       %[[B:.*]] = kiln.constant dense<2.500000e-01> : tensor<384xf32>
// CHECK:       %[[ROWTILES:.*]] = arith.ceildivui %[[SEQ]], %c64
// CHECK:       %[[TILES:.*]] = arith.muli %c6, %[[ROWTILES]]
// CHECK:       %[[Q:.*]] = arith.divui %[[SEQ]], %c9
// CHECK:       %[[LARGE:.*]] = arith.minui %[[Q]], %c1
// CHECK:       %[[SMALL:.*]] = arith.subi %c1{{[_0-9]*}}, %[[LARGE]]
// CHECK:       %[[GEMM:.*]] = arith.muli %[[LARGE]], %[[TILES]]
// CHECK:       %[[GEMV:.*]] = arith.muli %[[SMALL]], %c192
// CHECK:       %[[EITHER:.*]] = arith.addi %[[GEMV]], %[[GEMM]]
// CHECK:       %[[NONEMPTY:.*]] = arith.minui %[[SEQ]], %c1
// CHECK:       %[[GRID:.*]] = arith.muli %[[EITHER]], %[[NONEMPTY]]
// CHECK:       kiln.launch @kiln_kernels::@gemm_simt_f32_kk_N384_K256_lda256_ldb256_v4x4_t64x64x16r4x4_add_gelu_tanh_res_gemv8c2v4(%arg0, %[[W]], %[[B]], %arg1)
// CHECK-SAME:    scalars(%[[SEQ]], %c384, %c256, %c256, %c256{{[_0-9]*}}, %c0, %c1{{[_0-9]*}})
// CHECK-SAME:    grid(%[[GRID]], %c1{{[_0-9]*}}, %c1{{[_0-9]*}}) block [256, 1, 1] shared 17408 dims(%[[SEQ]])
// CHECK:       gpu.func @gemm_simt_f32_kk_N384_K256_lda256_ldb256_v4x4_t64x64x16r4x4_add_gelu_tanh_res_gemv8c2v4(
// CHECK-SAME:    known_block_size = array<i32: 256, 1, 1>
// CHECK:         gpu.dynamic_shared_memory
// CHECK:         memref.view {{.*}} to memref<4352xf32, #gpu.address_space<workgroup>>
// CHECK:         %[[FEW:.*]] = arith.cmpi ult, %{{.*}}, %c9
// CHECK:         scf.if %[[FEW]] {
// CHECK:           gpu.shuffle  xor
// CHECK:         } else {
// CHECK:         vector.load %arg0{{.*}} {alignment = 16 : i64} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK:         gpu.barrier
// CHECK:         scf.for {{.*}} iter_args
// CHECK:           vector.load %arg1
// CHECK:           llvm.intr.fma
// CHECK:           gpu.barrier
// CHECK:           scf.yield
// CHECK:         math.tanh
// CHECK:         vector.store {{.*}} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>

// F16-LABEL: func.func @linear
// F16:       kiln.launch @kiln_kernels::@gemm_tc_f16_kk_N384_K256_lda256_ldb256_v8x8_t64x64x32w2x2s4_add_gelu_tanh_res_gemv8c2v8(
// F16-SAME:    block [128, 1, 1] shared 32768
// F16-SAME:    (tensor<1x?x256xf16>, tensor<384x256xf16>, tensor<384xf16>, tensor<1x?x384xf16>) -> tensor<1x?x384xf16>
// F16:       gpu.func @gemm_tc_f16_kk_N384_K256_lda256_ldb256_v8x8_t64x64x32w2x2s4_add_gelu_tanh_res_gemv8c2v8(
// F16:         gpu.dynamic_shared_memory
// F16:         memref.view {{.*}} to memref<16384xf16, #gpu.address_space<workgroup>>
// F16:         nvgpu.device_async_copy %arg0{{.*}}, 8, %{{.*}} {bypassL1}
// F16:         nvvm.cp.async.commit.group
// F16:         scf.for {{.*}} = %c0{{.*}} to %c8{{.*}} step %c1{{.*}} iter_args
// F16:           nvvm.cp.async.wait.group 2
// F16-NEXT:      gpu.barrier
// F16:           nvgpu.device_async_copy %arg1
// F16:           nvvm.cp.async.commit.group
// F16:           nvgpu.ldmatrix %view[%{{.*}}] {numTiles = 4 : i32, transpose = false}
// F16:           nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// F16:           scf.yield
// F16:         nvvm.cp.async.wait.group 0
// F16:         math.tanh
// F16:         vector.store {{.*}} {alignment = 4 : i64} : memref<?xf16, #gpu.address_space<global>>, vector<2xf16>

// BF16-LABEL: func.func @linear
// BF16:       kiln.launch @kiln_kernels::@gemm_tc_bf16_kk_N384_K256_lda256_ldb256_v8x8_t64x64x32w2x2s4_add_gelu_tanh_res_gemv8c2v8(
// BF16:       gpu.func @gemm_tc_bf16_kk
// BF16:         nvgpu.ldmatrix {{.*}} -> vector<4x2xbf16>
// BF16:         llvm.bitcast {{.*}} : vector<2xbf16> to i32
// BF16:         nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>{{.*}} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>

// FORCED-LABEL: func.func @linear
// FORCED:       kiln.launch @kiln_kernels::@gemm_simt_f16_kk_N384_K256_lda256_ldb256_v8x8_t64x64x16r4x4_add_gelu_tanh_res(
// FORCED-NOT:   nvvm.mma.sync

// TILE-LABEL: func.func @linear
// TILE:       kiln.launch @kiln_kernels::@gemm_tc_f16_kk_N384_K256_lda256_ldb256_v8x8_t128x256x32w2x4s3_add_gelu_tanh_res_gemv8c2v8(
// TILE-SAME:    block [256, 1, 1] shared 73728
func.func @linear(%x: tensor<1x?x256xf32>, %r: tensor<1x?x384xf32>) -> tensor<1x?x384xf32> {
  %w = kiln.constant dense<0.5> : tensor<384x256xf32>
  %b = kiln.constant dense<0.25> : tensor<384xf32>
  %y = kiln.linear %x, %w bias(%b : tensor<384xf32>) residual(%r : tensor<1x?x384xf32>) act gelu_tanh
      : tensor<1x?x256xf32>, tensor<384x256xf32> -> tensor<1x?x384xf32>
  return %y : tensor<1x?x384xf32>
}

// -----

// Decode: one static row takes the GEMV kernel (2 columns per block of 8 warps, warp
// shuffles, then a cross-warp sum in shared memory).

// CHECK-LABEL: func.func @decode
// CHECK:       kiln.launch @kiln_kernels::@gemv_f32_kk_M1_N384_K256_lda256_ldb256_v4x4_c2_silu(%arg0, %{{.*}}) scalars(%c1, %c384, %c256, %c256, %c256{{[_0-9]*}}) grid(%c192, %c1{{[_0-9]*}}, %c1{{[_0-9]*}}) block [256, 1, 1] shared 64
// CHECK:       gpu.func @gemv_f32_kk_M1_N384_K256_lda256_ldb256_v4x4_c2_silu(
// CHECK:         scf.for
// CHECK:           vector.load %arg1{{.*}} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK:           llvm.intr.fma
// CHECK:         gpu.shuffle  xor
// CHECK:         gpu.barrier
// CHECK:         math.exp
// CHECK:         memref.store

// F16-LABEL: func.func @decode
// F16:       kiln.launch @kiln_kernels::@gemv_f16_kk_M1_N384_K256_lda256_ldb256_v8x8_c2_silu(
// F16:       vector.load %arg1{{.*}} : memref<?xf16, #gpu.address_space<global>>, vector<8xf16>
// F16:       arith.extf {{.*}} : vector<8xf16> to vector<8xf32>

// FORCED-LABEL: func.func @decode
// FORCED:       kiln.launch @kiln_kernels::@gemm_simt_f16_kk_N384
func.func @decode(%x: tensor<1x1x256xf32>) -> tensor<1x1x384xf32> {
  %w = kiln.constant dense<0.5> : tensor<384x256xf32>
  %y = kiln.linear %x, %w act silu : tensor<1x1x256xf32>, tensor<384x256xf32> -> tensor<1x1x384xf32>
  return %y : tensor<1x1x384xf32>
}

// -----

// A decode entry's GEMM (M = the step's batch, known at run time) takes the decode GEMV for
// every M: 4 independent warps per block, 2 columns per warp, 4 rows per row group; no shared
// memory, no barrier, a butterfly of shuffles per output. The grid is (column blocks) x (row
// groups): ceil(2304 / 8) * ceil(M / 4).

// CHECK-LABEL: func.func @decode_entry
// CHECK:       %[[M:.*]] = tensor.dim %arg0, %c0
// CHECK:       kiln.launch @kiln_kernels::@gemv_decode_f32_kk_N2304_K768_lda768_ldb768_v4x4_c2w4r4u4x2_add(%arg0, %{{.*}}, %{{.*}}) scalars(%[[M]],
// CHECK-SAME:    block [128, 1, 1] dims(
// CHECK-NOT:     shared
// CHECK:       gpu.func @gemv_decode_f32_kk_N2304_K768_lda768_ldb768_v4x4_c2w4r4u4x2_add(
// CHECK-NOT:     gpu.barrier
// CHECK:         scf.if
// CHECK:           vector.load %arg1{{.*}} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK:           llvm.intr.fma
// CHECK:           gpu.shuffle  xor
// CHECK:           vector.store
// CHECK:         } else {
// CHECK:           vector.load %arg1{{.*}} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK:           gpu.shuffle  xor
// CHECK:           vector.store
// CHECK:         gpu.return

// F16-LABEL: func.func @decode_entry
// F16:       kiln.launch @kiln_kernels::@gemv_decode_f16_kk_N2304_K768_lda768_ldb768_v8x8_c2w4r4u3x2_add(
// F16:       vector.load %arg1{{.*}} : memref<?xf16, #gpu.address_space<global>>, vector<8xf16>

// FORCED-LABEL: func.func @decode_entry
// FORCED:       kiln.launch @kiln_kernels::@gemm_simt_f16_kk_N2304
func.func @decode_entry(%x: tensor<?x1x768xf32>) -> tensor<?x1x2304xf32> attributes {kiln.entry = "decode"} {
  %w = kiln.constant dense<0.5> : tensor<2304x768xf32>
  %b = kiln.constant dense<0.25> : tensor<2304xf32>
  %y = kiln.linear %x, %w bias(%b : tensor<2304xf32>) : tensor<?x1x768xf32>, tensor<2304x768xf32> -> tensor<?x1x2304xf32>
  return %y : tensor<?x1x2304xf32>
}

// -----

// A wide layer takes the large tiles: 128x128 (8 warps of 64x32 on tensor cores, 8x8 per
// thread in SIMT).

// CHECK-LABEL: func.func @wide
// CHECK:       kiln.launch @kiln_kernels::@gemm_simt_f32_kk_N4096_K512_lda512_ldb512_v4x4_t128x128x8r8x8_gelu_erf_gemv8c4v4(
// CHECK-SAME:    block [256, 1, 1] shared 16896
// CHECK:       math.erf

// F16-LABEL: func.func @wide
// F16:       kiln.launch @kiln_kernels::@gemm_tc_f16_kk_N4096_K512_lda512_ldb512_v8x8_t128x128x32w2x4s4_gelu_erf_gemv8c4v8(
// F16-SAME:    block [256, 1, 1] shared 65536
func.func @wide(%x: tensor<?x512xf32>) -> tensor<?x4096xf32> {
  %w = kiln.constant dense<0.5> : tensor<4096x512xf32>
  %y = kiln.linear %x, %w act gelu_erf : tensor<?x512xf32>, tensor<4096x512xf32> -> tensor<?x4096xf32>
  return %y : tensor<?x4096xf32>
}

// -----

// Batched MatMul of two activations, B broadcast over dim 0 (stride 0), B read as [K, N]
// ("kn"; ldmatrix.trans on tensor cores). N is dynamic: the kernel checks at run time that
// N (and the strides) are multiples of 8 halves ("v8x8c") and otherwise runs its version
// with element loads.

// CHECK-LABEL: func.func @batched
// CHECK-DAG:   %[[N:.*]] = tensor.dim %arg1, %c3
// CHECK-DAG:   %[[M:.*]] = tensor.dim %arg0, %c2
// CHECK:       %[[MK:.*]] = arith.muli %[[M]], %c64
// CHECK:       %[[KN:.*]] = arith.muli %c64, %[[N]]
// CHECK:       %[[A0:.*]] = arith.muli %c8{{.*}}, %[[MK]]
// CHECK:       %[[TILESN:.*]] = arith.ceildivui %[[N]], %c128
// CHECK:       %[[TILESM:.*]] = arith.ceildivui %[[M]], %c128
// CHECK:       %[[TILES:.*]] = arith.muli %[[TILESN]], %[[TILESM]]
// CHECK:       %[[GRIDX:.*]] = arith.muli %[[TILES]], %c16
// CHECK:       kiln.launch @kiln_kernels::@gemm_simt_f32_kn_Nx_K64_lda64_ldbx_v4x4c_t128x128x8r8x8_b2(%arg0, %arg1)
// CHECK-SAME:    scalars(%[[M]], %[[N]], %c64, %c64, %[[N]], %c2{{[_0-9]*}}, %[[A0]], %c0, %c8, %[[MK]], %[[KN]])
// CHECK-SAME:    grid(%[[GRIDX]], %c1{{[_0-9]*}}, %c1{{[_0-9]*}})
// CHECK:       gpu.func @gemm_simt_f32_kn_Nx_K64_lda64_ldbx_v4x4c_t128x128x8r8x8_b2(
// CHECK:         arith.divui
// CHECK:         arith.remui
// CHECK:         scf.if
// CHECK:           vector.load %arg1{{.*}} vector<4xf32>
// CHECK:         } else {
// CHECK:           vector.from_elements

// F16-LABEL: func.func @batched
// F16:       kiln.launch @kiln_kernels::@gemm_tc_f16_kn_Nx_K64_lda64_ldbx_v8x8c_t128x128x32w2x4s4_b2(
// F16:       nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
func.func @batched(%a: tensor<2x8x?x64xf32>, %b: tensor<1x8x64x?xf32>) -> tensor<2x8x?x?xf32> {
  %0 = kiln.onnx.MatMul %a, %b : (tensor<2x8x?x64xf32>, tensor<1x8x64x?xf32>) -> tensor<2x8x?x?xf32>
  return %0 : tensor<2x8x?x?xf32>
}

// -----

// [3, seq, 64] x [64, 40]: A's batch folds into M (3 * seq rows), no batch loop.

// CHECK-LABEL: func.func @folded
// CHECK:       %[[SEQ:.*]] = tensor.dim %arg0, %c1
// CHECK:       %[[ROWS:.*]] = arith.muli %c3, %[[SEQ]]
// CHECK:       kiln.launch @kiln_kernels::@gemm_simt_f32_kn_N40_K64_lda64_ldb40_v4x4_t64x64x16r4x4(%arg0, %arg1) scalars(%[[ROWS]], %c40, %c64, %c64, %c40)
func.func @folded(%a: tensor<3x?x64xf32>, %b: tensor<64x40xf32>) -> tensor<3x?x40xf32> {
  %0 = kiln.onnx.MatMul %a, %b : (tensor<3x?x64xf32>, tensor<64x40xf32>) -> tensor<3x?x40xf32>
  return %0 : tensor<3x?x40xf32>
}

// -----

// Gemm with transA (A read as [K, M], "mk"; transposed through registers on tensor cores),
// transB ("k"), alpha and beta (bit patterns in the name), C [M, 1] broadcast along N
// (strides 1, 0).

// CHECK-LABEL: func.func @gemm
// CHECK:       kiln.launch @kiln_kernels::@gemm_simt_f32_mk_N20_K24_lda37_ldb24_v1x4_t64x64x16r4x4_alpha3fe0000000000000_add_beta4000000000000000(%arg0, %arg1, %arg2)
// CHECK-SAME:    scalars(%c37, %c20, %c24, %c37, %c24{{[_0-9]*}}, %c1, %c0)

// F16-LABEL: func.func @gemm
// F16:       kiln.launch @kiln_kernels::@gemm_tc_f16_mk_N20_K24_lda37_ldb24_v1x8_t64x64x32w2x2s4_alpha3fe0000000000000_add_beta4000000000000000(
func.func @gemm(%a: tensor<24x37xf32>, %b: tensor<20x24xf32>, %c: tensor<37x1xf32>) -> tensor<37x20xf32> {
  %0 = kiln.onnx.Gemm %a, %b, %c {transA = 1 : i64, transB = 1 : i64, alpha = 0.5 : f32, beta = 2.0 : f32}
      : (tensor<24x37xf32>, tensor<20x24xf32>, tensor<37x1xf32>) -> tensor<37x20xf32>
  return %0 : tensor<37x20xf32>
}

// -----

// Einsum Q K^T in [b, seq, h, d] layout: b and h are batch dims (strides 1152/336 and
// 16/16), q the rows (lda = h * d = 48), k the columns, d contracted.

// CHECK-LABEL: func.func @einsum
// CHECK:       kiln.launch @kiln_kernels::@gemm_simt_f32_kk_N7_K16_lda48_ldb48_v4x4_t64x64x16r4x4_b2(%arg0, %arg1)
// CHECK-SAME:    scalars(%c24, %c7, %c16{{[_0-9]*}}, %c48, %c48{{[_0-9]*}}, %c2, %c1152, %c336, %c3, %c16{{[_0-9]*}}, %c16{{[_0-9]*}})
// CHECK-SAME:    -> tensor<2x3x24x7xf32>
func.func @einsum(%q: tensor<2x24x3x16xf32>, %k: tensor<2x7x3x16xf32>) -> tensor<2x3x24x7xf32> {
  %0 = kiln.onnx.Einsum %q, %k {equation = "bqhd,bkhd->bhqk"}
      : (tensor<2x24x3x16xf32>, tensor<2x7x3x16xf32>) -> tensor<2x3x24x7xf32>
  return %0 : tensor<2x3x24x7xf32>
}

// -----

// Integer MatMul: SIMT kernel accumulating in the element type (wrap-around).

// CHECK-LABEL: func.func @integers
// CHECK:       kiln.launch @kiln_kernels::@gemm_simt_i32_kn_N6_K13_lda13_ldb6_v1x2_t64x64x16r4x4(
// CHECK:       gpu.func @gemm_simt_i32
// CHECK:         arith.muli {{.*}} : i32
// CHECK:         arith.addi {{.*}} : i32
func.func @integers(%a: tensor<9x13xi32>, %b: tensor<13x6xi32>) -> tensor<9x6xi32> {
  %0 = kiln.onnx.MatMul %a, %b : (tensor<9x13xi32>, tensor<13x6xi32>) -> tensor<9x6xi32>
  return %0 : tensor<9x6xi32>
}

// -----

func.func @f64_activation(%x: tensor<4x8xf64>) -> tensor<4x16xf64> {
  %w = kiln.constant dense<0.5> : tensor<16x8xf64>
  // expected-error @+1 {{GPU lowering of kiln.linear: activation gelu_tanh on f64 is not supported}}
  %y = kiln.linear %x, %w act gelu_tanh : tensor<4x8xf64>, tensor<16x8xf64> -> tensor<4x16xf64>
  return %y : tensor<4x16xf64>
}

// -----

func.func @gemm_fractional_alpha(%a: tensor<4x8xi64>, %b: tensor<8x3xi64>) -> tensor<4x3xi64> {
  // expected-error @+1 {{GPU lowering of Gemm: non-integral alpha or beta on integer tensors is not supported}}
  %0 = kiln.onnx.Gemm %a, %b {alpha = 0.5 : f32} : (tensor<4x8xi64>, tensor<8x3xi64>) -> tensor<4x3xi64>
  return %0 : tensor<4x3xi64>
}

// -----

func.func @einsum_diagonal(%a: tensor<4x4xf32>, %b: tensor<4x3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{GPU lowering of Einsum 'ii,ij->j': a repeated label ('i', a diagonal) is not supported}}
  %0 = kiln.onnx.Einsum %a, %b {equation = "ii,ij->j"} : (tensor<4x4xf32>, tensor<4x3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @einsum_one_sided_sum(%a: tensor<4x5x6xf32>, %b: tensor<5x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{GPU lowering of Einsum 'ijk,jl->il': a sum over a dim of one operand ('k') is not supported}}
  %0 = kiln.onnx.Einsum %a, %b {equation = "ijk,jl->il"} : (tensor<4x5x6xf32>, tensor<5x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @einsum_three_inputs(%a: tensor<4x5xf32>, %b: tensor<5x6xf32>, %c: tensor<6x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{GPU lowering of Einsum 'ij,jk,kl->il': an equation with 3 inputs (only two-operand contractions) is not supported}}
  %0 = kiln.onnx.Einsum %a, %b, %c {equation = "ij,jk,kl->il"} : (tensor<4x5xf32>, tensor<5x6xf32>, tensor<6x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @einsum_batch_inside(%a: tensor<4x5x2xf32>, %b: tensor<2x5x3xf32>) -> tensor<2x4x3xf32> {
  // expected-error @+1 {{GPU lowering of Einsum 'ijb,bjk->bik': an operand whose innermost dim is a batch dim is not supported}}
  %0 = kiln.onnx.Einsum %a, %b {equation = "ijb,bjk->bik"} : (tensor<4x5x2xf32>, tensor<2x5x3xf32>) -> tensor<2x4x3xf32>
  return %0 : tensor<2x4x3xf32>
}
