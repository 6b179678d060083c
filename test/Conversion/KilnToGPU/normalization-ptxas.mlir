// REQUIRES: ptxas
// Every normalisation kernel variant assembles with ptxas for sm_90 and sm_80: warp-per-row
// and block-per-row layouts, cached rows (vector loads) and dynamic rows (three passes), huge
// rows that do not fit in registers, ONNX broadcast parameters and statistics, f16 rounding
// and f64 statistics.

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

// F32-DAG: .entry layer_norm_f32_f32c_f32c_L256_t32x4_v4_c_eps3727C5AC(
// F32-DAG: .entry rms_norm_f32_f32c_L4096_t256_v4_c_eps358637BD(
// F32-DAG: .entry layer_norm_f32_f32c_Ldyn_t256_v1_eps3727C5AC(
// F32-DAG: .entry rms_norm_f32_f32c_L70000_t512_v4_eps358637BD(
// F32-DAG: .entry layer_norm_f32_f32g4s1x5s0_f32m5_L20_t32x4_v4_c_eps3A83126F_mean_f32_invstd_f32(
// F32-DAG: .entry rms_norm_f32_round_f16_f32c_L6_t32x4_v2_c_eps3727C5AC(
// F32-DAG: .entry layer_norm_f64_f64c_f64c_L64_t32x4_v2_c_eps3727C5AC(
// F32-DAG: sqrt.rn.f32
// F32-DAG: sqrt.rn.f64
// F32-DAG: ld.global.v4.{{[bf]}}32
// F32-DAG: st.global.v4.{{[bf]}}32
// F32-DAG: bar.sync

// F16-DAG: .entry rms_norm_f16_f16c_L4096_t128_v8_c_eps358637BD(
// F16-DAG: .entry layer_norm_f16_f16c_f16c_L256_t32x4_v8_c_eps3727C5AC(

func.func @main(%a: tensor<1x?x256xf32>, %ag: tensor<256xf32>, %ab: tensor<256xf32>,
                %b: tensor<1x?x4096xf32>, %bg: tensor<4096xf32>,
                %c: tensor<?x?xf32>, %cg: tensor<?xf32>,
                %d: tensor<2x70000xf32>, %dg: tensor<70000xf32>,
                %e: tensor<3x4x5xf32>, %eg: tensor<4x1xf32>, %eb: tensor<5xf32>,
                %f: tensor<?x6xf16>, %fg: tensor<6xf16>,
                %g: tensor<?x64xf64>, %gg: tensor<64xf64>, %gb: tensor<64xf64>)
    -> (tensor<1x?x256xf32>, tensor<1x?x4096xf32>, tensor<?x?xf32>, tensor<2x70000xf32>,
        tensor<3x4x5xf32>, tensor<3x1x1xf32>, tensor<3x1x1xf32>, tensor<?x6xf16>,
        tensor<?x64xf64>) {
  %ya = kiln.layer_norm %a, %ag, %ab eps 1.0e-05 : tensor<1x?x256xf32>, tensor<256xf32>, tensor<256xf32>
  %yb = kiln.rms_norm %b, %bg eps 1.0e-06 : tensor<1x?x4096xf32>, tensor<4096xf32>
  %yc = kiln.layer_norm %c, %cg eps 1.0e-05 : tensor<?x?xf32>, tensor<?xf32>
  %yd = kiln.rms_norm %d, %dg eps 1.0e-06 : tensor<2x70000xf32>, tensor<70000xf32>
  %ye, %me, %se = kiln.onnx.LayerNormalization %e, %eg, %eb {axis = 1 : i64, epsilon = 1.0e-03 : f32}
      : (tensor<3x4x5xf32>, tensor<4x1xf32>, tensor<5xf32>) -> (tensor<3x4x5xf32>, tensor<3x1x1xf32>, tensor<3x1x1xf32>)
  %yf = kiln.onnx.RMSNormalization %f, %fg : (tensor<?x6xf16>, tensor<6xf16>) -> tensor<?x6xf16>
  %yg = kiln.layer_norm %g, %gg, %gb eps 1.0e-05 : tensor<?x64xf64>, tensor<64xf64>, tensor<64xf64>
  return %ya, %yb, %yc, %yd, %ye, %me, %se, %yf, %yg
      : tensor<1x?x256xf32>, tensor<1x?x4096xf32>, tensor<?x?xf32>, tensor<2x70000xf32>,
        tensor<3x4x5xf32>, tensor<3x1x1xf32>, tensor<3x1x1xf32>, tensor<?x6xf16>,
        tensor<?x64xf64>
}
