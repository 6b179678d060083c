// REQUIRES: ptxas
// Every KV cache kernel variant assembles with ptxas for sm_90 and sm_80 in f32, f16 and bf16:
// the write (head dims 32, 64, 80, 256), decode (split + combine; GQA groups of 4 and 8, MHA,
// MQA beyond one block of heads, head dims 32 .. 256 and 72/80) and prefill (tensor cores for
// f16/bf16 with head dims 32, 64, 80, 128; SIMT for f32 and head dims 72, 256).

// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp32 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.f32.ptx
// RUN: %ptxas -arch=sm_90 %t.f32.ptx -o %t.f32.cubin
// RUN: FileCheck %s --check-prefix=F32 < %t.f32.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.f16.ptx
// RUN: %ptxas -arch=sm_90 %t.f16.ptx -o %t.f16.cubin
// RUN: FileCheck %s --check-prefix=F16 < %t.f16.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=bf16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.bf16.ptx
// RUN: %ptxas -arch=sm_90 %t.bf16.ptx -o %t.bf16.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=fp16 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80.ptx -o %t.sm80.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=bf16 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80bf16.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80bf16.ptx -o %t.sm80bf16.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=fp32 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80f32.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80f32.ptx -o %t.sm80f32.cubin

// F32-DAG: .entry kv_cache_write_f32_to_f32_l4_kv2_s2048_d32(
// F32-DAG: .entry kv_cache_decode_f32_l4_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4(
// F32-DAG: .entry kv_cache_decode_combine_f32_h8_d32_sp128_kb16_mk64(
// F32-DAG: .entry kv_cache_prefill_simt_f32_d32_dv32_g4_causal_scale3e3504f4(
// F32-DAG: ld.global.v4.b32
// F32-NOT: mma.sync

// F16-DAG: .entry kv_cache_write_f16_to_f16_l4_kv2_s2048_d32(
// F16-DAG: .entry kv_cache_decode_f16_l4_kv2_s2048_d32_g4_gh4_mk64_scale3e3504f4(
// F16-DAG: .entry kv_cache_prefill_mma_f16_d32_dv32_g4_causal_scale3e3504f4(
// F16-DAG: .entry kv_cache_prefill_mma_f16_d128_dv128_g8_causal_scale3db504f3(
// F16-DAG: .entry kv_cache_prefill_simt_f16_d72_dv72_g2_causal_scale3df15bef(
// F16-DAG: ld.global.v4.b32
// F16-DAG: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32

!llama = !kiln.kv_cache<layers = 4, max_batch = 64, kv_heads = 2, max_seq = 2048, head_dim = 32, f32>
!gpt2 = !kiln.kv_cache<layers = 12, max_batch = 64, kv_heads = 12, max_seq = 1024, head_dim = 64, f32>
!g8 = !kiln.kv_cache<layers = 2, max_batch = 8, kv_heads = 4, max_seq = 4096, head_dim = 128, f32>
!d80 = !kiln.kv_cache<layers = 1, max_batch = 2, kv_heads = 1, max_seq = 512, head_dim = 80, f32>
!d72 = !kiln.kv_cache<layers = 1, max_batch = 2, kv_heads = 2, max_seq = 512, head_dim = 72, f32>
!d256 = !kiln.kv_cache<layers = 1, max_batch = 2, kv_heads = 1, max_seq = 1024, head_dim = 256, f32>
func.func @main(
    %p: tensor<?xi64> {kiln.dim_params = ["seq"]}, %s: tensor<?xi64> {kiln.dim_params = ["seq"]},
    %q1: tensor<1x8x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %k1: tensor<1x2x?x32xf32> {kiln.dim_params = ["", "", "seq", ""]}, %c1: !llama,
    %q2: tensor<1x12x?x64xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %k2: tensor<1x12x?x64xf32> {kiln.dim_params = ["", "", "seq", ""]}, %c2: !gpt2,
    %q3: tensor<1x32x?x128xf32> {kiln.dim_params = ["", "", "seq", ""]}, %c3: !g8,
    %q4: tensor<1x4x?x80xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %k4: tensor<1x1x?x80xf32> {kiln.dim_params = ["", "", "seq", ""]}, %c4: !d80,
    %q5: tensor<1x4x?x72xf32> {kiln.dim_params = ["", "", "seq", ""]}, %c5: !d72,
    %q6: tensor<1x16x?x256xf32> {kiln.dim_params = ["", "", "seq", ""]},
    %k6: tensor<1x1x?x256xf32> {kiln.dim_params = ["", "", "seq", ""]}, %c6: !d256)
    -> (tensor<1x8x?x32xf32>, tensor<1x8x?x32xf32>, tensor<1x12x?x64xf32>, tensor<1x12x?x64xf32>,
        tensor<1x32x?x128xf32>, tensor<1x32x?x128xf32>, tensor<1x4x?x80xf32>, tensor<1x4x?x80xf32>,
        tensor<1x4x?x72xf32>, tensor<1x4x?x72xf32>, tensor<1x16x?x256xf32>, tensor<1x16x?x256xf32>) {
  %w1 = kiln.kv_cache.write %c1 layer 3, %k1, %k1 at %p slots %s : !llama, tensor<1x2x?x32xf32>, tensor<?xi64>
  %d1 = kiln.kv_cache.attention %q1, %w1 layer 3 at %p slots %s heads 8 scale 0.1767767 : tensor<1x8x?x32xf32>, !llama, tensor<?xi64>
  %f1 = kiln.kv_cache.attention %q1, %w1 layer 3 at %p slots %s heads 8 scale 0.1767767 prefill : tensor<1x8x?x32xf32>, !llama, tensor<?xi64>
  %w2 = kiln.kv_cache.write %c2 layer 11, %k2, %k2 at %p slots %s : !gpt2, tensor<1x12x?x64xf32>, tensor<?xi64>
  %d2 = kiln.kv_cache.attention %q2, %w2 layer 11 at %p slots %s heads 12 scale 0.125 : tensor<1x12x?x64xf32>, !gpt2, tensor<?xi64>
  %f2 = kiln.kv_cache.attention %q2, %w2 layer 11 at %p slots %s heads 12 scale 0.125 prefill : tensor<1x12x?x64xf32>, !gpt2, tensor<?xi64>
  %d3 = kiln.kv_cache.attention %q3, %c3 layer 1 at %p slots %s heads 32 scale 0.0883883461 : tensor<1x32x?x128xf32>, !g8, tensor<?xi64>
  %f3 = kiln.kv_cache.attention %q3, %c3 layer 1 at %p slots %s heads 32 scale 0.0883883461 prefill : tensor<1x32x?x128xf32>, !g8, tensor<?xi64>
  %w4 = kiln.kv_cache.write %c4 layer 0, %k4, %k4 at %p slots %s : !d80, tensor<1x1x?x80xf32>, tensor<?xi64>
  %d4 = kiln.kv_cache.attention %q4, %w4 layer 0 at %p slots %s heads 4 scale 0.111803398 : tensor<1x4x?x80xf32>, !d80, tensor<?xi64>
  %f4 = kiln.kv_cache.attention %q4, %w4 layer 0 at %p slots %s heads 4 scale 0.111803398 prefill : tensor<1x4x?x80xf32>, !d80, tensor<?xi64>
  %d5 = kiln.kv_cache.attention %q5, %c5 layer 0 at %p slots %s heads 4 scale 0.11785113 : tensor<1x4x?x72xf32>, !d72, tensor<?xi64>
  %f5 = kiln.kv_cache.attention %q5, %c5 layer 0 at %p slots %s heads 4 scale 0.11785113 prefill : tensor<1x4x?x72xf32>, !d72, tensor<?xi64>
  %w6 = kiln.kv_cache.write %c6 layer 0, %k6, %k6 at %p slots %s : !d256, tensor<1x1x?x256xf32>, tensor<?xi64>
  %d6 = kiln.kv_cache.attention %q6, %w6 layer 0 at %p slots %s heads 16 scale 0.0625 : tensor<1x16x?x256xf32>, !d256, tensor<?xi64>
  %f6 = kiln.kv_cache.attention %q6, %w6 layer 0 at %p slots %s heads 16 scale 0.0625 prefill : tensor<1x16x?x256xf32>, !d256, tensor<?xi64>
  return %d1, %f1, %d2, %f2, %d3, %f3, %d4, %f4, %d5, %f5, %d6, %f6
      : tensor<1x8x?x32xf32>, tensor<1x8x?x32xf32>, tensor<1x12x?x64xf32>, tensor<1x12x?x64xf32>,
        tensor<1x32x?x128xf32>, tensor<1x32x?x128xf32>, tensor<1x4x?x80xf32>, tensor<1x4x?x80xf32>,
        tensor<1x4x?x72xf32>, tensor<1x4x?x72xf32>, tensor<1x16x?x256xf32>, tensor<1x16x?x256xf32>
}
