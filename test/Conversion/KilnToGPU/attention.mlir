// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=F16
// RUN: env KILN_ATTENTION=simt kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=FORCED
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=bf16 --kiln-gpu-to-ptx | FileCheck %s --check-prefix=PTX

// kiln.attention and ONNX Attention lower to FlashAttention kernels: SIMT (f32 storage, and
// head dims the tensor cores do not take) or mma.sync m16n8k16 (f16/bf16 storage). One block
// serves every query head of a KV head (GQA-native); grid x = ceil(group * q_len / BLOCK_M),
// y = batch * kv_heads.

// The byte-level Llama: GQA 8/2, head_dim 32, dynamic seq, causal. Scalars: q_len, kv_len,
// kv_heads, the causal offset kv_len - q_len, then (batch, head, seq) strides of Q, K, V, O,
// the mask strides and the keys the mask covers.

// CHECK-LABEL: func.func @gqa_causal
// CHECK-DAG:   %[[KV:.*]] = tensor.dim %arg1, %{{.*}} : tensor<1x2x?x32xf32>
// CHECK-DAG:   %[[SQ:.*]] = tensor.dim %arg0, %{{.*}} : tensor<1x8x?x32xf32>
// CHECK:       %[[OFFSET:.*]] = arith.subi %[[KV]], %[[SQ]] : index
// CHECK:       %[[ROWS:.*]] = arith.muli %[[SQ]], %c4 : index
// CHECK:       %[[TILES:.*]] = arith.ceildivui %[[ROWS]], %c16 : index
// CHECK:       kiln.launch @kiln_kernels::@attention_simt_f32_d32_dv32_g4_causal_scale3e3504f4(%arg0, %arg1, %arg2)
// CHECK-SAME:    scalars(%[[SQ]], %[[KV]], %{{.*}}, %[[OFFSET]],
// CHECK-SAME:    grid(%[[TILES]], %c2{{.*}}, %c1{{.*}}) block [128, 1, 1] shared 10368 dims(%[[SQ]])
// CHECK:       gpu.func @attention_simt_f32_d32_dv32_g4_causal_scale3e3504f4(
// CHECK-SAME:    memref<?xf32, #gpu.address_space<global>>
// CHECK-SAME:    known_block_size = array<i32: 128, 1, 1>
// CHECK:         gpu.dynamic_shared_memory
// CHECK-COUNT-3: memref.view
// CHECK:         scf.for
// CHECK:           gpu.barrier
// CHECK:           gpu.barrier
// CHECK:           math.fma
// CHECK:           gpu.shuffle  xor
// CHECK:           llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK:           gpu.shuffle  idx
// CHECK:         scf.if
// CHECK:           memref.store {{.*}} : memref<?xf32, #gpu.address_space<global>>

// Tensor cores: 2 stages x (K [64][32 + 8] + V [64][32 + 8]) f16 = 20480 bytes of shared
// memory; K/V tiles arrive through cp.async (16 bytes a copy), one tile ahead.
// F16-LABEL: func.func @gqa_causal
// F16:       kiln.launch @kiln_kernels::@attention_mma_f16_d32_dv32_g4_causal_scale3e3504f4
// F16-SAME:    block [128, 1, 1] shared 20480
// F16:       gpu.func @attention_mma_f16_d32_dv32_g4_causal_scale3e3504f4(
// F16:         vector.load {{.*}} {alignment = 16 : i64}
// F16:         nvgpu.device_async_copy {{.*}}, 8, %{{.*}} {bypassL1}
// F16:         nvgpu.device_async_create_group
// F16:         scf.for
// F16:           gpu.barrier
// F16:           nvgpu.device_async_copy
// F16:           nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// F16:           gpu.barrier
// F16:           nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// F16:           nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// F16:           scf.if
// F16:           nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}

// KILN_ATTENTION=simt keeps f16 storage on the SIMT kernel.
// FORCED-LABEL: func.func @gqa_causal
// FORCED:       kiln.launch @kiln_kernels::@attention_simt_f16_d32_dv32_g4_causal_scale3e3504f4

// PTX-LABEL: gpu.binary @kiln_kernels
// PTX-SAME:  .visible .entry attention_mma_bf16_d32_dv32_g4_causal_scale3e3504f4(
// PTX-DAG:   ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-DAG:   mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-DAG:   ex2.approx.ftz.f32
// PTX-DAG:   ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX-DAG:   cvt.rn.bf16x2.f32
// PTX-DAG:   cp.async.cg.shared.global
func.func @gqa_causal(%q: tensor<1x8x?x32xf32>, %k: tensor<1x2x?x32xf32>,
                      %v: tensor<1x2x?x32xf32>) -> tensor<1x8x?x32xf32> {
  %o = kiln.attention %q, %k, %v heads 8 kv_heads 2 head_dim 32 scale 0.1767767 causal
      : tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32> -> tensor<1x8x?x32xf32>
  return %o : tensor<1x8x?x32xf32>
}

// -----

// BERT's padding mask [batch, 1, 1, seq]: broadcast dims get stride 0; the key dim's stride is
// computed at run time as clamp(keys - 1, 0, 1) (0 if the mask has a single key), with the
// min/max the runtime's plan evaluates.

// CHECK-LABEL: func.func @bert_padding_mask
// CHECK:       %[[MASKKEYS:.*]] = tensor.dim %arg3, %{{.*}} : tensor<2x1x1x?xf32>
// CHECK:       %[[M1:.*]] = arith.subi %[[MASKKEYS]], %c1{{.*}} : index
// CHECK:       %[[MIN:.*]] = arith.minsi %[[M1]], %c1{{.*}} : index
// CHECK:       %[[KEYSTRIDE:.*]] = arith.maxsi %[[MIN]], %c0{{.*}} : index
// CHECK:       kiln.launch @kiln_kernels::@attention_simt_f32_d32_dv32_g1_mask_f32_scale3e3504f4(%arg0, %arg1, %arg2, %arg3)
// CHECK-SAME:    %[[MASKKEYS]], %c0{{.*}}, %c0{{.*}}, %[[KEYSTRIDE]], %{{.*}}) grid(
// CHECK:       gpu.func @attention_simt_f32_d32_dv32_g1_mask_f32_scale3e3504f4(
// CHECK:         scf.if
// CHECK:           memref.load %arg3

// F16-LABEL: func.func @bert_padding_mask
// F16:       kiln.launch @kiln_kernels::@attention_mma_f16_d32_dv32_g1_mask_f16_scale3e3504f4
func.func @bert_padding_mask(%q: tensor<2x4x?x32xf32>, %k: tensor<2x4x?x32xf32>,
                             %v: tensor<2x4x?x32xf32>, %m: tensor<2x1x1x?xf32>) -> tensor<2x4x?x32xf32> {
  %o = kiln.attention %q, %k, %v mask(%m : tensor<2x1x1x?xf32>) heads 4 kv_heads 4 head_dim 32
      scale 0.1767767
      : tensor<2x4x?x32xf32>, tensor<2x4x?x32xf32>, tensor<2x4x?x32xf32> -> tensor<2x4x?x32xf32>
  return %o : tensor<2x4x?x32xf32>
}

// -----

// A boolean mask (stored as i8) right-aligned to [q_len, kv_len]; static shapes fold every
// scalar: causal offset 24 - 16 = 8, mask strides (0, 0, 24, 1), 24 keys.

// CHECK-LABEL: func.func @bool_mask
// CHECK:       %[[MASK:.*]] = kiln.launch @kiln_kernels::@convert_i1_to_i8(%arg3)
// CHECK:       kiln.launch @kiln_kernels::@attention_simt_f32_d64_dv64_g2_causal_boolmask_scale3e000000(%arg0, %arg1, %arg2, %[[MASK]])
// CHECK-SAME:    scalars(%c16, %c24, %c1{{.*}}, %c8,
// CHECK-SAME:    %c0{{.*}}, %c0{{.*}}, %c24{{.*}}, %c1{{.*}}, %c24{{.*}}) grid(%c2{{.*}}, %c1{{.*}}, %c1{{.*}}) block [128, 1, 1] shared 20608 :
// CHECK:       gpu.func @attention_simt_f32_d64_dv64_g2_causal_boolmask_scale3e000000(
// CHECK-SAME:    %arg3: memref<?xi8, #gpu.address_space<global>>
// CHECK:         arith.cmpi ne, %{{.*}}, %c0_i8 : i8

// F16-LABEL: func.func @bool_mask
// F16:       kiln.launch @kiln_kernels::@attention_mma_f16_d64_dv64_g2_causal_boolmask_scale3e000000
func.func @bool_mask(%q: tensor<1x2x16x64xf32>, %k: tensor<1x1x24x64xf32>,
                     %v: tensor<1x1x24x64xf32>, %m: tensor<16x24xi1>) -> tensor<1x2x16x64xf32> {
  %o = kiln.attention %q, %k, %v mask(%m : tensor<16x24xi1>) heads 2 kv_heads 1 head_dim 64
      scale 0.125 causal
      : tensor<1x2x16x64xf32>, tensor<1x1x24x64xf32>, tensor<1x1x24x64xf32> -> tensor<1x2x16x64xf32>
  return %o : tensor<1x2x16x64xf32>
}

// -----

// head_dim 128 with softcap: the SIMT kernel for f32 (4 warps x 4 rows), the tensor-core
// kernel for f16; the softcap is part of the kernel name.

// CHECK-LABEL: func.func @softcap_d128
// CHECK:       kiln.launch @kiln_kernels::@attention_simt_f32_d128_dv128_g1_scale3db504ed_softcap41f00000
// CHECK-SAME:    shared 41088

// F16-LABEL: func.func @softcap_d128
// F16:       kiln.launch @kiln_kernels::@attention_mma_f16_d128_dv128_g1_scale3db504ed_softcap41f00000
// F16-SAME:    shared 69632
func.func @softcap_d128(%q: tensor<1x2x?x128xf32>, %k: tensor<1x2x?x128xf32>,
                        %v: tensor<1x2x?x128xf32>) -> tensor<1x2x?x128xf32> {
  %o = kiln.attention %q, %k, %v heads 2 kv_heads 2 head_dim 128 scale 0.0883883 softcap 30.0
      : tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32>, tensor<1x2x?x128xf32> -> tensor<1x2x?x128xf32>
  return %o : tensor<1x2x?x128xf32>
}

// -----

// head_dim 72 is not a multiple of 16: the SIMT kernel even for f16 storage.

// F16-LABEL: func.func @head_dim_72
// F16:       kiln.launch @kiln_kernels::@attention_simt_f16_d72_dv72_g1_scale3df15bef
func.func @head_dim_72(%q: tensor<1x2x?x72xf32>, %k: tensor<1x2x?x72xf32>,
                       %v: tensor<1x2x?x72xf32>) -> tensor<1x2x?x72xf32> {
  %o = kiln.attention %q, %k, %v heads 2 kv_heads 2 head_dim 72 scale 0.11785113
      : tensor<1x2x?x72xf32>, tensor<1x2x?x72xf32>, tensor<1x2x?x72xf32> -> tensor<1x2x?x72xf32>
  return %o : tensor<1x2x?x72xf32>
}

// -----

// ONNX Attention (4-D) the fusion left: default scale 1/sqrt(32), causal aligned top-left
// (offset 0), and a fully masked row is NaN ("nanrows").

// CHECK-LABEL: func.func @onnx_4d
// CHECK:       kiln.launch @kiln_kernels::@attention_simt_f32_d32_dv32_g2_causal_scale3e3504f3_nanrows(%arg0, %arg1, %arg2)
// CHECK-SAME:    scalars(%c3, %c5, %c2{{.*}}, %c0,
func.func @onnx_4d(%q: tensor<1x4x3x32xf32>, %k: tensor<1x2x5x32xf32>,
                   %v: tensor<1x2x5x32xf32>) -> tensor<1x4x3x32xf32> {
  %o = kiln.onnx.Attention %q, %k, %v {is_causal = 1 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x4x3x32xf32>, tensor<1x2x5x32xf32>, tensor<1x2x5x32xf32>) -> tensor<1x4x3x32xf32>
  return %o : tensor<1x4x3x32xf32>
}

// -----

// 3-D ONNX Attention [batch, seq, heads * size]: no transpose, the kernel reads Q, K, V and
// writes the result through (batch, head, seq) strides (seq * hidden, size, hidden).

// CHECK-LABEL: func.func @onnx_3d
// CHECK:       kiln.launch @kiln_kernels::@attention_simt_f32_d16_dv16_g2_scale3e800000_nanrows(%arg0, %arg1, %arg2)
// CHECK-SAME:    scalars(%c5, %c7, %c2{{.*}}, %c0{{.*}}, %c320, %c16{{.*}}, %c64{{.*}}, %c224, %c16{{.*}}, %c32{{.*}}, %c224{{.*}}, %c16{{.*}}, %c32{{.*}}, %c320{{.*}}, %c16{{.*}}, %c64{{.*}},
// CHECK-SAME:    -> tensor<1x5x64xf32>

// F16-LABEL: func.func @onnx_3d
// F16:       kiln.launch @kiln_kernels::@attention_mma_f16_d16_dv16_g2_scale3e800000_nanrows
func.func @onnx_3d(%q: tensor<1x5x64xf32>, %k: tensor<1x7x32xf32>, %v: tensor<1x7x32xf32>) -> tensor<1x5x64xf32> {
  %o = kiln.onnx.Attention %q, %k, %v {kv_num_heads = 2 : i64, q_num_heads = 4 : i64,
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x5x64xf32>, tensor<1x7x32xf32>, tensor<1x7x32xf32>) -> tensor<1x5x64xf32>
  return %o : tensor<1x5x64xf32>
}

// -----

func.func @f64_storage(%q: tensor<1x2x4x32xf64>, %k: tensor<1x2x4x32xf64>,
                       %v: tensor<1x2x4x32xf64>) -> tensor<1x2x4x32xf64> {
  // expected-error @+1 {{GPU lowering of attention: element type 'f64' is not supported (f32, f16 or bf16 storage)}}
  %o = kiln.attention %q, %k, %v heads 2 kv_heads 2 head_dim 32 scale 0.1767767
      : tensor<1x2x4x32xf64>, tensor<1x2x4x32xf64>, tensor<1x2x4x32xf64> -> tensor<1x2x4x32xf64>
  return %o : tensor<1x2x4x32xf64>
}

// -----

func.func @head_dim_320(%q: tensor<1x1x4x320xf32>, %k: tensor<1x1x4x320xf32>,
                        %v: tensor<1x1x4x320xf32>) -> tensor<1x1x4x320xf32> {
  // expected-error @+1 {{GPU lowering of attention: head_dim 320 / v_head_dim 320 is not supported (at most 256)}}
  %o = kiln.attention %q, %k, %v heads 1 kv_heads 1 head_dim 320 scale 0.0559017
      : tensor<1x1x4x320xf32>, tensor<1x1x4x320xf32>, tensor<1x1x4x320xf32> -> tensor<1x1x4x320xf32>
  return %o : tensor<1x1x4x320xf32>
}

// -----

func.func @dynamic_v_head_dim(%q: tensor<1x1x4x32xf32>, %k: tensor<1x1x4x32xf32>,
                              %v: tensor<1x1x4x?xf32>) -> tensor<1x1x4x?xf32> {
  // expected-error @+1 {{GPU lowering of kiln.attention: a dynamic v_head_dim is not supported}}
  %o = kiln.attention %q, %k, %v heads 1 kv_heads 1 head_dim 32 scale 0.1767767
      : tensor<1x1x4x32xf32>, tensor<1x1x4x32xf32>, tensor<1x1x4x?xf32> -> tensor<1x1x4x?xf32>
  return %o : tensor<1x1x4x?xf32>
}

// -----

func.func @onnx_past_key(%q: tensor<1x2x1x8xf32>, %k: tensor<1x2x1x8xf32>, %v: tensor<1x2x1x8xf32>,
                         %pk: tensor<1x2x3x8xf32>, %pv: tensor<1x2x3x8xf32>) -> tensor<1x2x1x8xf32> {
  // expected-error @+1 {{GPU lowering of ONNX Attention: past_key/past_value (a KV cache) is not supported}}
  %o = kiln.onnx.Attention %q, %k, %v, %pk, %pv {
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 1>, resultSegmentSizes = array<i32: 1, 0, 0, 0>}
      : (tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x1x8xf32>, tensor<1x2x3x8xf32>,
         tensor<1x2x3x8xf32>) -> tensor<1x2x1x8xf32>
  return %o : tensor<1x2x1x8xf32>
}

// -----

func.func @onnx_scores_output(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                              %v: tensor<1x2x4x8xf32>) -> (tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>) {
  // expected-error @+1 {{GPU lowering of ONNX Attention: the qk_matmul_output result is not supported}}
  %o, %s = kiln.onnx.Attention %q, %k, %v {
      operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0, 1>}
      : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>)
      -> (tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>)
  return %o, %s : tensor<1x2x4x8xf32>, tensor<1x2x4x4xf32>
}
