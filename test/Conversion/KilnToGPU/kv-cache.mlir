// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=F16
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=bf16 | FileCheck %s --check-prefix=BF16
// KILN_DECODE_SPLIT_KEYS overrides the 64-key minimum of a decode split.
// RUN: env KILN_DECODE_SPLIT_KEYS=200 kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu | FileCheck %s --check-prefix=SPLITKEYS
// RUN: env KILN_KV_ATTENTION=decode kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=FORCED

// The KV cache ops (lib/Conversion/KilnToGPU/KVCacheKernels.cpp). The cache argument is one
// flat tensor in the storage type; kiln.kv_cache.write updates it in place (`tied [0]`), and
// kiln.kv_cache.attention reads it in place with positions/slots read on the device, so the
// grids depend only on the token count T and constants.

// Decode, the byte-level Llama's shape (8 heads on 2 KV heads, head_dim 32). Write: one
// thread per 16-byte chunk of K and V rows: ceil(T * 2 * 32 / 4 / 256) blocks in f32.
// Attention: the split kernel runs on grid (splits, kv_heads, T) with the constant splits =
// min(max_seq / 16 (f32) = 128, ceil(528 / 2)) = 128 at every T (batch-invariant split
// boundaries); each block serves the 4 query heads of its KV head (gh4) and writes f32
// partials [T, 8, 128, 32] and [T, 8, 128, 2]; the combine kernel (one warp per token and
// head) writes the output.

// CHECK-LABEL: func.func @decode
// CHECK-SAME:  %[[CACHE:arg5]]: tensor<67108864xf32> {kiln.kv_cache = !kiln.kv_cache<layers = 4, max_batch = 64, kv_heads = 2, max_seq = 2048, head_dim = 32, f32>
// CHECK:       %[[T:.*]] = tensor.dim %arg0
// CHECK:       %[[CHUNKS:.*]] = arith.muli %[[T]], %c16
// CHECK:       %[[WBLOCKS:.*]] = arith.ceildivui %[[CHUNKS]], %c256
// CHECK:       %[[C1:.*]] = kiln.launch @kiln_kernels::@kv_cache_write_f32_to_f32_l4_kv2_s2048_d32(%[[CACHE]], %arg1, %arg2, %arg3, %arg4)
// CHECK-SAME:    scalars(%[[T]], %c3) grid(%[[WBLOCKS]], %{{.*}}, %{{.*}}) block [256, 1, 1] tied [0]
// CHECK-SAME:    -> tensor<67108864xf32>
// CHECK:       %[[P:.*]]:2 = kiln.launch @kiln_kernels::@kv_cache_decode_f32_l4_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4(%arg0, %[[C1]], %arg3, %arg4)
// CHECK-SAME:    scalars(%[[T]], %{{.*}}, %[[SPLITS:c128(_[0-9]+)?]]) grid(%[[SPLITS]], %c2{{(_[0-9]+)?}}, %[[T]]) block [128, 1, 1]
// CHECK-SAME:    -> (tensor<?x8x128x32xf32>, tensor<?x8x128x2xf32>)
// CHECK:       %[[ROWS:.*]] = arith.muli %[[T]], %c8
// CHECK:       %[[CBLOCKS:.*]] = arith.ceildivui %[[ROWS]], %c4
// CHECK:       %[[O:.*]] = kiln.launch @kiln_kernels::@kv_cache_decode_combine_f32_h8_d32_sp128_kb16_mk64(%[[P]]#0, %[[P]]#1, %arg3)
// CHECK-SAME:    scalars(%[[T]], %[[SPLITS]]) grid(%[[CBLOCKS]], %{{.*}}, %{{.*}}) block [128, 1, 1] dims(%[[T]])
// CHECK:       return %[[O]] : tensor<1x8x?x32xf32>
// The write kernel: vector<4xf32> moves into the result (the cache buffer).
// CHECK:       gpu.func @kv_cache_write_f32_to_f32_l4_kv2_s2048_d32(
// CHECK:         scf.for
// CHECK:           memref.load %arg3
// CHECK:           memref.load %arg4
// CHECK:           vector.load %arg1[{{.*}}] {alignment = 16 : i64} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK:           vector.store %{{.*}}, %arg5[{{.*}}] {alignment = 16 : i64}
// CHECK:           vector.load %arg2
// CHECK:           vector.store %{{.*}}, %arg5
// 200 keys rounded up to the block's 16: 208.
// SPLITKEYS: gpu.func @kv_cache_decode_f32_l4_kv2_s2048_d32_g4_gh4_mk208_scale3e3504f4(
// SPLITKEYS:   arith.maxui %{{.*}}, %c208
// SPLITKEYS: gpu.func @kv_cache_decode_combine_f32_h8_d32_sp128_kb16_mk208(
// The split kernel: per warp and head max, sum and acc[32] in shared memory.
// CHECK:       gpu.func @kv_cache_decode_f32_l4_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4(
// CHECK-SAME:    workgroup(%{{.*}} : memref<16xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<16xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<512xf32, #gpu.address_space<workgroup>>)
// CHECK-SAME:    known_block_size = array<i32: 128, 1, 1>
// CHECK:         gpu.block_id  z
// CHECK:         memref.load %arg2
// CHECK:         memref.load %arg3
// A split's keys: ceil(n / splits) rounded up to the block's 16 keys, at least 64; the split
// starts at split * chunk.
// CHECK:         %[[CHUNK:.*]] = arith.maxui %{{.*}}, %c64
// CHECK:         arith.muli %block_id_x, %[[CHUNK]]
// CHECK:         scf.if
// CHECK:           scf.for
// CHECK:             vector.load %arg1{{.*}} vector<4xf32>
// CHECK:             math.fma
// CHECK:             gpu.shuffle  xor
// CHECK:             llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK:           gpu.barrier
// CHECK:           memref.store {{.*}} : memref<?xf32, #gpu.address_space<global>>
// CHECK:       gpu.func @kv_cache_decode_combine_f32_h8_d32_sp128_kb16_mk64(
// CHECK:         gpu.shuffle  xor
// CHECK:         scf.for
// CHECK:           gpu.shuffle  idx
// CHECK:         vector.store {{.*}} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>

// fp16/bf16: the cache and the kernels' storage are f16/bf16 (16-byte moves of 8 elements, so
// 32 keys a block at once and min(2048 / 32, 264) = 64 splits); partials stay f32.
// F16-LABEL: func.func @decode
// F16-SAME:  tensor<67108864xf16> {kiln.kv_cache = !kiln.kv_cache<layers = 4, max_batch = 64, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>
// F16:       kiln.launch @kiln_kernels::@kv_cache_write_f16_to_f16_l4_kv2_s2048_d32({{.*}}) {{.*}} tied [0] : {{.*}} -> tensor<67108864xf16>
// F16:       kiln.launch @kiln_kernels::@kv_cache_decode_f16_l4_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4({{.*}}) grid(%c64{{(_[0-9]+)?}}, {{.*}} -> (tensor<?x8x64x32xf32>, tensor<?x8x64x2xf32>)
// F16:       kiln.launch @kiln_kernels::@kv_cache_decode_combine_f16_h8_d32_sp64_kb32_mk64({{.*}}) -> tensor<1x8x?x32xf16>
// F16:       gpu.func @kv_cache_decode_f16_l4_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4(
// F16:         vector.load %arg1{{.*}} {alignment = 16 : i64} : memref<?xf16, #gpu.address_space<global>>, vector<8xf16>

// BF16-LABEL: func.func @decode
// BF16:       kiln.launch @kiln_kernels::@kv_cache_write_bf16_to_bf16_l4_kv2_s2048_d32({{.*}}) {{.*}} tied [0] : {{.*}} -> tensor<67108864xbf16>
// BF16:       kiln.launch @kiln_kernels::@kv_cache_decode_bf16_l4_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4
// BF16:       kiln.launch @kiln_kernels::@kv_cache_decode_combine_bf16_h8_d32_sp64_kb32_mk64

// FORCED-LABEL: func.func @decode
// FORCED:       kiln.launch @kiln_kernels::@kv_cache_decode_f16_l4_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4
!cache = !kiln.kv_cache<layers = 4, max_batch = 64, kv_heads = 2, max_seq = 2048, head_dim = 32, f32>
func.func @decode(%q: tensor<1x8x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
                  %k: tensor<1x2x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
                  %v: tensor<1x2x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
                  %pos: tensor<?xi64> {kiln.dim_params = ["seq"]},
                  %slots: tensor<?xi64> {kiln.dim_params = ["seq"]},
                  %c0: !cache) -> (tensor<1x8x?x32xf32>, !cache) {
  %c1 = kiln.kv_cache.write %c0 layer 3, %k, %v at %pos slots %slots
      : !cache, tensor<1x2x?x32xf32>, tensor<?xi64>
  %o = kiln.kv_cache.attention %q, %c1 layer 3 at %pos slots %slots heads 8 scale 0.1767767
      : tensor<1x8x?x32xf32>, !cache, tensor<?xi64>
  return %o, %c1 : tensor<1x8x?x32xf32>, !cache
}

// -----

// Prefill: the FlashAttention-2 kernels of kiln.attention with K/V read from the cache
// (SIMT in f32, mma.sync for f16/bf16), 5 buffers (q, cache, positions, slots, out). Scalars:
// q_len, 0 and 0 (kv_len and the causal offset come from positions[0] on the device), kv_heads,
// Q strides (0, T * 32, 32), K and V strides (slot 2^17 * 4 = 524288, head 2048 * 32 = 65536,
// position 32), O strides, no mask, then layer 1's K offset 1 * 2 * 2 * 65536 = 262144 and V
// offset 262144 + 2 * 65536 = 393216 within a slot. Grid (ceil(4 T / rows), kv_heads).

// CHECK-LABEL: func.func @prefill
// CHECK:       kiln.launch @kiln_kernels::@kv_cache_write_f32_to_f32_l2_kv2_s2048_d32
// CHECK:       %[[O:.*]] = kiln.launch @kiln_kernels::@kv_cache_prefill_simt_f32_d32_dv32_g4_causal_scale3e3504f4(%arg0, %{{.*}}, %arg3, %arg4)
// CHECK-SAME:    scalars(%[[T:[^,]*]], %c0{{(_[0-9]+)?}}, %c2{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %{{.*}}, %c32{{(_[0-9]+)?}}, %c524288{{(_[0-9]+)?}}, %c65536{{(_[0-9]+)?}}, %c32{{(_[0-9]+)?}}, %c524288{{(_[0-9]+)?}}, %c65536{{(_[0-9]+)?}}, %c32{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %{{.*}}, %c32{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %c262144{{(_[0-9]+)?}}, %c393216{{(_[0-9]+)?}})
// CHECK-SAME:    grid(%{{.*}}, %c2{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}}) block [128, 1, 1] shared 10368
// CHECK:       return %[[O]]
// CHECK:       gpu.func @kv_cache_prefill_simt_f32_d32_dv32_g4_causal_scale3e3504f4(%arg0: memref<?xf32, #gpu.address_space<global>>, %arg1: memref<?xf32, #gpu.address_space<global>>, %arg2: memref<?xi64, #gpu.address_space<global>>, %arg3: memref<?xi64, #gpu.address_space<global>>, %arg4: memref<?xf32, #gpu.address_space<global>>
// CHECK:         memref.load %arg2[%c0
// CHECK:         memref.load %arg3[%c0

// F16-LABEL: func.func @prefill
// F16:       kiln.launch @kiln_kernels::@kv_cache_prefill_mma_f16_d32_dv32_g4_causal_scale3e3504f4
// F16-SAME:    block [128, 1, 1] shared 20480
// F16:       gpu.func @kv_cache_prefill_mma_f16_d32_dv32_g4_causal_scale3e3504f4(
// F16:         nvgpu.device_async_copy
// F16:         nvvm.mma.sync

// BF16-LABEL: func.func @prefill
// BF16:       kiln.launch @kiln_kernels::@kv_cache_prefill_mma_bf16_d32_dv32_g4_causal_scale3e3504f4

// KILN_KV_ATTENTION=decode: prefill on the decode kernels.
// FORCED-LABEL: func.func @prefill
// FORCED:       kiln.launch @kiln_kernels::@kv_cache_decode_f16_l2_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4
// FORCED:       kiln.launch @kiln_kernels::@kv_cache_decode_combine_f16_h8_d32_sp64_kb32_mk64
!cache = !kiln.kv_cache<layers = 2, max_batch = 8, kv_heads = 2, max_seq = 2048, head_dim = 32, f32>
func.func @prefill(%q: tensor<1x8x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
                   %k: tensor<1x2x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
                   %v: tensor<1x2x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
                   %pos: tensor<?xi64> {kiln.dim_params = ["seq"]},
                   %slots: tensor<?xi64> {kiln.dim_params = ["seq"]},
                   %c0: !cache) -> (tensor<1x8x?x32xf32>, !cache) {
  %c1 = kiln.kv_cache.write %c0 layer 1, %k, %v at %pos slots %slots
      : !cache, tensor<1x2x?x32xf32>, tensor<?xi64>
  %o = kiln.kv_cache.attention %q, %c1 layer 1 at %pos slots %slots heads 8 scale 0.1767767 prefill
      : tensor<1x8x?x32xf32>, !cache, tensor<?xi64>
  return %o, %c1 : tensor<1x8x?x32xf32>, !cache
}

// -----

// Static token counts: GPT-2-small's shape (12 heads, head_dim 64, MHA) gets ceil(528 / 12)
// = 44 splits. MQA with 16 query heads of head_dim 256 in f32 keeps 8 heads a block (gh8: 64
// registers of q and of acc a lane), so a KV head's group takes 2 blocks (grid y = 2) and
// min(512 / 4, ceil(528 / 2)) = 128 splits.

// CHECK-LABEL: func.func @static_tokens
// CHECK:       kiln.launch @kiln_kernels::@kv_cache_decode_f32_l1_kv12_s1024_d64_g1_gh1_mk64_scale3e000000({{.*}}) scalars(%c4{{(_[0-9]+)?}}, %c0{{(_[0-9]+)?}}, %c44{{(_[0-9]+)?}}) grid(%c44{{(_[0-9]+)?}}, %c12{{(_[0-9]+)?}}, %c4{{(_[0-9]+)?}})
// CHECK-SAME:    -> (tensor<4x12x44x64xf32>, tensor<4x12x44x2xf32>)
// CHECK:       kiln.launch @kiln_kernels::@kv_cache_decode_combine_f32_h12_d64_sp128_kb8_mk64({{.*}}) scalars(%c4{{(_[0-9]+)?}}, %c44{{(_[0-9]+)?}}) grid(%c12{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}}, %c1{{(_[0-9]+)?}})
// CHECK:       kiln.launch @kiln_kernels::@kv_cache_decode_f32_l1_kv1_s512_d256_g16_gh8_mk64_scale3d800000({{.*}}) grid(%c128{{(_[0-9]+)?}}, %c2{{(_[0-9]+)?}}, %c4{{(_[0-9]+)?}})
!gpt2 = !kiln.kv_cache<layers = 1, max_batch = 4, kv_heads = 12, max_seq = 1024, head_dim = 64, f32>
!mqa = !kiln.kv_cache<layers = 1, max_batch = 4, kv_heads = 1, max_seq = 512, head_dim = 256, f32>
func.func @static_tokens(%q: tensor<1x12x4x64xf32>, %pos: tensor<4xi64>, %slots: tensor<4xi64>,
                         %c: !gpt2, %q2: tensor<1x16x4x256xf32>, %c2: !mqa)
    -> (tensor<1x12x4x64xf32>, tensor<1x16x4x256xf32>) {
  %o = kiln.kv_cache.attention %q, %c layer 0 at %pos slots %slots heads 12 scale 0.125
      : tensor<1x12x4x64xf32>, !gpt2, tensor<4xi64>
  %o2 = kiln.kv_cache.attention %q2, %c2 layer 0 at %pos slots %slots heads 16 scale 0.0625
      : tensor<1x16x4x256xf32>, !mqa, tensor<4xi64>
  return %o, %o2 : tensor<1x12x4x64xf32>, tensor<1x16x4x256xf32>
}

// -----

!cache = !kiln.kv_cache<layers = 1, max_batch = 1, kv_heads = 1, max_seq = 16, head_dim = 320, f32>
func.func @head_dim_320_write(%k: tensor<1x1x1x320xf32>, %pos: tensor<1xi64>, %slots: tensor<1xi64>,
                              %c0: !cache) -> !cache {
  // expected-error @+1 {{GPU lowering of kiln.kv_cache.write: head_dim 320 is not supported (at most 256)}}
  %c1 = kiln.kv_cache.write %c0 layer 0, %k, %k at %pos slots %slots
      : !cache, tensor<1x1x1x320xf32>, tensor<1xi64>
  return %c1 : !cache
}

// -----

!cache = !kiln.kv_cache<layers = 1, max_batch = 1, kv_heads = 1, max_seq = 16, head_dim = 320, f32>
func.func @head_dim_320_attention(%q: tensor<1x2x1x320xf32>, %pos: tensor<1xi64>,
                                  %slots: tensor<1xi64>, %c0: !cache) -> tensor<1x2x1x320xf32> {
  // expected-error @+1 {{GPU lowering of kiln.kv_cache.attention: head_dim 320 is not supported (at most 256)}}
  %o = kiln.kv_cache.attention %q, %c0 layer 0 at %pos slots %slots heads 2 scale 0.0559017 prefill
      : tensor<1x2x1x320xf32>, !cache, tensor<1xi64>
  return %o : tensor<1x2x1x320xf32>
}
