// REQUIRES: ptxas
// Every attention kernel variant assembles with ptxas for sm_90 and sm_80: the tensor-core
// kernel (f16, bf16; head dims 64, 128, 80), the SIMT kernel (f32 storage; head dims 72, 256,
// f16 storage with head_dim 72), masks (additive, boolean), softcap, GQA and MQA.

// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.f16.ptx
// RUN: %ptxas -arch=sm_90 %t.f16.ptx -o %t.f16.cubin
// RUN: FileCheck %s --check-prefix=F16 < %t.f16.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=bf16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.bf16.ptx
// RUN: %ptxas -arch=sm_90 %t.bf16.ptx -o %t.bf16.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp32 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.f32.ptx
// RUN: %ptxas -arch=sm_90 %t.f32.ptx -o %t.f32.cubin
// RUN: FileCheck %s --check-prefix=F32 < %t.f32.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=fp16 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80.ptx -o %t.sm80.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=fp32 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80f32.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80f32.ptx -o %t.sm80f32.cubin

// F16-DAG: .entry attention_mma_f16_d64_dv64_g4_causal_scale3e000000(
// F16-DAG: .entry attention_mma_f16_d128_dv128_g1_boolmask_scale3db504f3_softcap42480000(
// F16-DAG: .entry attention_mma_f16_d80_dv80_g4_causal_mask_f16_scale3de4f92e(
// F16-DAG: .entry attention_simt_f16_d72_dv72_g1_scale3df15bef(
// F16-DAG: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32

// F32-DAG: .entry attention_simt_f32_d64_dv64_g4_causal_scale3e000000(
// F32-DAG: .entry attention_simt_f32_d256_dv256_g1_scale3d800000(
// F32-NOT: mma.sync

func.func @main(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>,
                %q2: tensor<2x4x?x128xf32>, %k2: tensor<2x4x?x128xf32>, %v2: tensor<2x4x?x128xf32>,
                %m2: tensor<2x1x?x?xi1>,
                %q3: tensor<1x4x?x80xf32>, %k3: tensor<1x1x?x80xf32>, %v3: tensor<1x1x?x80xf32>,
                %m3: tensor<1x1x1x?xf32>,
                %q4: tensor<1x2x?x72xf32>, %k4: tensor<1x2x?x72xf32>, %v4: tensor<1x2x?x72xf32>,
                %q5: tensor<1x2x?x256xf32>, %k5: tensor<1x2x?x256xf32>, %v5: tensor<1x2x?x256xf32>)
    -> (tensor<1x8x?x64xf32>, tensor<2x4x?x128xf32>, tensor<1x4x?x80xf32>, tensor<1x2x?x72xf32>,
        tensor<1x2x?x256xf32>) {
  %o1 = kiln.attention %q, %k, %v heads 8 kv_heads 2 head_dim 64 scale 0.125 causal
      : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32> -> tensor<1x8x?x64xf32>
  %o2 = kiln.attention %q2, %k2, %v2 mask(%m2 : tensor<2x1x?x?xi1>) heads 4 kv_heads 4
      head_dim 128 scale 0.0883883461 softcap 50.0
      : tensor<2x4x?x128xf32>, tensor<2x4x?x128xf32>, tensor<2x4x?x128xf32> -> tensor<2x4x?x128xf32>
  %o3 = kiln.attention %q3, %k3, %v3 mask(%m3 : tensor<1x1x1x?xf32>) heads 4 kv_heads 1
      head_dim 80 scale 0.111803398 causal
      : tensor<1x4x?x80xf32>, tensor<1x1x?x80xf32>, tensor<1x1x?x80xf32> -> tensor<1x4x?x80xf32>
  %o4 = kiln.attention %q4, %k4, %v4 heads 2 kv_heads 2 head_dim 72 scale 0.11785113
      : tensor<1x2x?x72xf32>, tensor<1x2x?x72xf32>, tensor<1x2x?x72xf32> -> tensor<1x2x?x72xf32>
  %o5 = kiln.attention %q5, %k5, %v5 heads 2 kv_heads 2 head_dim 256 scale 0.0625
      : tensor<1x2x?x256xf32>, tensor<1x2x?x256xf32>, tensor<1x2x?x256xf32> -> tensor<1x2x?x256xf32>
  return %o1, %o2, %o3, %o4, %o5 : tensor<1x8x?x64xf32>, tensor<2x4x?x128xf32>,
      tensor<1x4x?x80xf32>, tensor<1x2x?x72xf32>, tensor<1x2x?x256xf32>
}
