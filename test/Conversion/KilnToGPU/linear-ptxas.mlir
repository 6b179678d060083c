// REQUIRES: ptxas
// Every GEMM kernel variant assembles with ptxas for sm_90 and sm_80: tensor cores (f16, bf16;
// 64x64 and 128x128 tiles; NT weights, an NN operand checked at run time, Gemm's transA),
// SIMT (f32), GEMV (one static row), the decode GEMV, with the activations and epilogues of
// kiln.linear; on sm_90 without spilling registers to local memory.

// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.f16.ptx
// RUN: %ptxas -arch=sm_90 -warn-spills -Werror %t.f16.ptx -o %t.f16.cubin
// RUN: FileCheck %s --check-prefix=F16 < %t.f16.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=bf16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.bf16.ptx
// RUN: %ptxas -arch=sm_90 -warn-spills -Werror %t.bf16.ptx -o %t.bf16.cubin
// RUN: FileCheck %s --check-prefix=BF16 < %t.bf16.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp32 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.f32.ptx
// RUN: %ptxas -arch=sm_90 -warn-spills -Werror %t.f32.ptx -o %t.f32.cubin
// RUN: FileCheck %s --check-prefix=F32 < %t.f32.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=fp16 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80.ptx -o %t.sm80.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=bf16 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80bf16.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80bf16.ptx -o %t.sm80bf16.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=fp32 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80f32.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80f32.ptx -o %t.sm80f32.cubin

// F16-DAG: .entry gemm_tc_f16_kk_N384_K256_lda256_ldb256_v8x8_t64x64x32w2x2s4_add_gelu_tanh_res_gemv8c2v8(
// F16-DAG: .entry gemm_tc_f16_kk_N4096_K512_lda512_ldb512_v8x8_t128x128x32w2x4s4_silu_gemv8c4v8(
// F16-DAG: .entry gemm_tc_f16_kn_Nx_K64_lda64_ldbx_v8x8c_t128x128x32w2x4s4_b2(
// F16-DAG: .entry gemm_tc_f16_mk_N20_K24_lda37_ldb24_v1x8_t64x64x32w2x2s4_alpha3fe0000000000000_add_beta4000000000000000(
// F16-DAG: .entry gemv_f16_kk_M1_N384_K256_lda256_ldb256_v8x8_c2_add_gelu_erf(
// F16-DAG: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// F16-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// F16-DAG: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// F16-DAG: cp.async.cg.shared.global
// F16-DAG: cp.async.wait_group 2
// F16-DAG: shfl.sync.bfly.b32

// BF16-DAG: .entry gemm_tc_bf16_kk_N384_K256_lda256_ldb256_v8x8_t64x64x32w2x2s4_add_gelu_tanh_res_gemv8c2v8(
// BF16-DAG: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32

// F32-DAG: .entry gemm_simt_f32_kk_N384_K256_lda256_ldb256_v4x4_t64x64x16r4x4_add_gelu_tanh_res_gemv8c2v4(
// F32-DAG: .entry gemm_simt_f32_kk_N4096_K512_lda512_ldb512_v4x4_t128x128x8r8x8_silu_gemv8c4v4(
// F32-DAG: .entry gemv_f32_kk_M1_N384_K256_lda256_ldb256_v4x4_c2_add_gelu_erf(
// F32-DAG: fma.rn.f32
// F32-NOT: mma.sync

func.func @main(%x: tensor<1x?x256xf32>, %r: tensor<1x?x384xf32>, %wide: tensor<?x512xf32>,
                %one: tensor<1x1x256xf32>, %a: tensor<2x8x?x64xf32>, %b: tensor<1x8x64x?xf32>,
                %ga: tensor<24x37xf32>, %gb: tensor<20x24xf32>, %gc: tensor<37x1xf32>)
    -> (tensor<1x?x384xf32>, tensor<?x4096xf32>, tensor<1x1x384xf32>, tensor<2x8x?x?xf32>,
        tensor<37x20xf32>) {
  %w = kiln.constant dense<0.5> : tensor<384x256xf32>
  %bias = kiln.constant dense<0.25> : tensor<384xf32>
  %w2 = kiln.constant dense<0.5> : tensor<4096x512xf32>
  %0 = kiln.linear %x, %w bias(%bias : tensor<384xf32>) residual(%r : tensor<1x?x384xf32>) act gelu_tanh
      : tensor<1x?x256xf32>, tensor<384x256xf32> -> tensor<1x?x384xf32>
  %1 = kiln.linear %wide, %w2 act silu : tensor<?x512xf32>, tensor<4096x512xf32> -> tensor<?x4096xf32>
  %2 = kiln.linear %one, %w bias(%bias : tensor<384xf32>) act gelu_erf
      : tensor<1x1x256xf32>, tensor<384x256xf32> -> tensor<1x1x384xf32>
  %3 = kiln.onnx.MatMul %a, %b : (tensor<2x8x?x64xf32>, tensor<1x8x64x?xf32>) -> tensor<2x8x?x?xf32>
  %4 = kiln.onnx.Gemm %ga, %gb, %gc {transA = 1 : i64, transB = 1 : i64, alpha = 0.5 : f32, beta = 2.0 : f32}
      : (tensor<24x37xf32>, tensor<20x24xf32>, tensor<37x1xf32>) -> tensor<37x20xf32>
  return %0, %1, %2, %3, %4 : tensor<1x?x384xf32>, tensor<?x4096xf32>, tensor<1x1x384xf32>,
      tensor<2x8x?x?xf32>, tensor<37x20xf32>
}

// A decode entry's GEMMs take the decode GEMV (M known at run time): narrow and wide layers,
// an LM head with N not a multiple of the columns, and K not a multiple of a warp's step.

// F16-DAG: .entry gemv_decode_f16_kk_N2304_K768_lda768_ldb768_v8x8_c2w4r4u3x2_add(
// F16-DAG: .entry gemv_decode_f16_kk_N768_K3072_lda3072_ldb3072_v8x8_c1w4r4u8x2_res(
// F16-DAG: .entry gemv_decode_f16_kk_N50257_K768_lda768_ldb768_v8x8_c4w4r4u3x2(
// F16-DAG: .entry gemv_decode_f16_kk_N11008_K4096_lda4096_ldb4096_v8x8_c4w4r4u4x2_silu(
// F16-DAG: .entry gemv_decode_f16_kk_N96_K200_lda200_ldb200_v8x8_c1w4r4u1x1(
// BF16-DAG: .entry gemv_decode_bf16_kk_N2304_K768_lda768_ldb768_v8x8_c2w4r4u3x2_add(
// F32-DAG: .entry gemv_decode_f32_kk_N2304_K768_lda768_ldb768_v4x4_c2w4r4u4x2_add(
// F32-DAG: .entry gemv_decode_f32_kk_N96_K200_lda200_ldb200_v4x4_c1w4r4u1x1(
func.func @decode(%x: tensor<?x1x768xf32>, %h: tensor<?x1x3072xf32>, %r: tensor<?x1x768xf32>,
                  %g: tensor<?x1x4096xf32>, %s: tensor<?x1x200xf32>)
    -> (tensor<?x1x2304xf32>, tensor<?x1x768xf32>, tensor<?x1x50257xf32>, tensor<?x1x11008xf32>,
        tensor<?x1x96xf32>) attributes {kiln.entry = "decode"} {
  %wqkv = kiln.constant dense<0.5> : tensor<2304x768xf32>
  %bqkv = kiln.constant dense<0.25> : tensor<2304xf32>
  %wproj = kiln.constant dense<0.5> : tensor<768x3072xf32>
  %whead = kiln.constant dense<0.5> : tensor<50257x768xf32>
  %wup = kiln.constant dense<0.5> : tensor<11008x4096xf32>
  %wsmall = kiln.constant dense<0.5> : tensor<96x200xf32>
  %0 = kiln.linear %x, %wqkv bias(%bqkv : tensor<2304xf32>) : tensor<?x1x768xf32>, tensor<2304x768xf32> -> tensor<?x1x2304xf32>
  %1 = kiln.linear %h, %wproj residual(%r : tensor<?x1x768xf32>) : tensor<?x1x3072xf32>, tensor<768x3072xf32> -> tensor<?x1x768xf32>
  %2 = kiln.linear %x, %whead : tensor<?x1x768xf32>, tensor<50257x768xf32> -> tensor<?x1x50257xf32>
  %3 = kiln.linear %g, %wup act silu : tensor<?x1x4096xf32>, tensor<11008x4096xf32> -> tensor<?x1x11008xf32>
  %4 = kiln.linear %s, %wsmall : tensor<?x1x200xf32>, tensor<96x200xf32> -> tensor<?x1x96xf32>
  return %0, %1, %2, %3, %4 : tensor<?x1x2304xf32>, tensor<?x1x768xf32>, tensor<?x1x50257xf32>,
      tensor<?x1x11008xf32>, tensor<?x1x96xf32>
}
