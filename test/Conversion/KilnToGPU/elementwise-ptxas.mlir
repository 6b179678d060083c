// REQUIRES: ptxas
// Every pointwise op, element type and kernel shape (linear with vectors, strided, rotary)
// goes through NVVM to PTX that ptxas assembles for sm_90 and sm_80, with every storage
// precision; no kernel calls libdevice.

// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.f16.ptx
// RUN: %ptxas -arch=sm_90 %t.f16.ptx -o %t.f16.cubin
// RUN: FileCheck %s < %t.f16.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=bf16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.bf16.ptx
// RUN: %ptxas -arch=sm_90 %t.bf16.ptx -o %t.bf16.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp32 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.f32.ptx
// RUN: %ptxas -arch=sm_90 %t.f32.ptx -o %t.f32.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=bf16 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80.ptx -o %t.sm80.cubin
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=fp16 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80f16.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80f16.ptx -o %t.sm80f16.cubin

// CHECK-NOT: call
// CHECK-DAG: .entry ew_sin_f32_a0_
// CHECK-DAG: .entry ew_fmod_f64_a0_a0_sqrt_f64_n0_
// CHECK-DAG: .entry ew_mod_i32_a0_a1_pow_i32_i64_n0_a2_abs_i32_n1_
// CHECK-DAG: .entry rotary_half_bhsd_batchseq_
// CHECK-DAG: .entry rotary_interleaved_bshd_posi32_
// CHECK-DAG: ld.global.v4.b32
// CHECK-DAG: st.global.v4.b32
// CHECK-DAG: cvt.rzi.s64.f32

func.func @main(%x: tensor<2x?x64xf32> {kiln.dim_params = ["", "s", ""]},
                %y: tensor<2x?x64xf32> {kiln.dim_params = ["", "s", ""]},
                %bias: tensor<64xf32>, %mask: tensor<2x1x?xi1> {kiln.dim_params = ["", "", "s"]},
                %i: tensor<?x16xi32> {kiln.dim_params = ["s", ""]},
                %e: tensor<?x16xi64> {kiln.dim_params = ["s", ""]},
                %u: tensor<?x16xui8> {kiln.dim_params = ["s", ""]},
                %h: tensor<?x16xf16> {kiln.dim_params = ["s", ""]},
                %d: tensor<?x16xf64> {kiln.dim_params = ["s", ""]},
                %q: tensor<2x4x?x64xf32> {kiln.dim_params = ["", "", "s", ""]},
                %cos: tensor<2x?x16xf32> {kiln.dim_params = ["", "s", ""]},
                %sin: tensor<2x?x16xf32> {kiln.dim_params = ["", "s", ""]},
                %x3: tensor<2x?x64xf32> {kiln.dim_params = ["", "s", ""]},
                %cache: tensor<128x16xf32>, %pos: tensor<2x?xi32> {kiln.dim_params = ["", "s"]})
    -> (tensor<2x?x64xf32>, tensor<2x?x64xf32>, tensor<2x?x64xf32>, tensor<2x?x64xi1>,
        tensor<?x16xi32>, tensor<?x16xui8>, tensor<?x16xf16>, tensor<?x16xf64>,
        tensor<2x4x?x64xf32>, tensor<2x?x64xf32>, tensor<?x16xi1>, tensor<?x16xf32>) {
  // Floats: activations, transcendental functions, fused chains with broadcasts.
  %g = kiln.gelu %x : tensor<2x?x64xf32>
  %gt = kiln.gelu %y approximate tanh : tensor<2x?x64xf32>
  %sw = kiln.swiglu %g, %gt : tensor<2x?x64xf32>
  %sin0 = kiln.onnx.Sin %x : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %cos0 = kiln.onnx.Cos %y : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %t = kiln.onnx.Tanh %sin0 : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %ex = kiln.onnx.Exp %cos0 : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %lg = kiln.onnx.Log %ex : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %ef = kiln.onnx.Erf %lg : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %sg = kiln.onnx.Sigmoid %t : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %sq = kiln.onnx.Sqrt %sg : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %rc = kiln.onnx.Reciprocal %sq : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %ab = kiln.onnx.Abs %ef : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %ng = kiln.onnx.Neg %ab : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %rl = kiln.onnx.Relu %ng : (tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %pw = kiln.onnx.Pow %rc, %rl : (tensor<2x?x64xf32>, tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %md = kiln.onnx.Mod %pw, %x {fmod = 1 : i64} : (tensor<2x?x64xf32>, tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %ad = kiln.onnx.Add %md, %bias : (tensor<2x?x64xf32>, tensor<64xf32>) -> tensor<2x?x64xf32>
  %lo = kiln.constant dense<-1.0> : tensor<f32>
  %hi = kiln.constant dense<1.0> : tensor<f32>
  %cl = kiln.onnx.Clip %ad, %lo, %hi {operandSegmentSizes = array<i32: 1, 1, 1>} : (tensor<2x?x64xf32>, tensor<f32>, tensor<f32>) -> tensor<2x?x64xf32>
  %mx = kiln.onnx.Max %cl, %x, %y : (tensor<2x?x64xf32>, tensor<2x?x64xf32>, tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %mn = kiln.onnx.Min %mx, %sw : (tensor<2x?x64xf32>, tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %dv = kiln.onnx.Div %mn, %y : (tensor<2x?x64xf32>, tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %w = kiln.onnx.Where %mask, %ninf, %dv : (tensor<2x1x?xi1>, tensor<f32>, tensor<2x?x64xf32>) -> tensor<2x?x64xf32>
  %silu = kiln.silu %w : tensor<2x?x64xf32>
  // Comparisons and bool logic.
  %lt = kiln.onnx.Less %x, %y : (tensor<2x?x64xf32>, tensor<2x?x64xf32>) -> tensor<2x?x64xi1>
  %ge = kiln.onnx.GreaterOrEqual %x, %bias : (tensor<2x?x64xf32>, tensor<64xf32>) -> tensor<2x?x64xi1>
  %an = kiln.onnx.And %lt, %ge : (tensor<2x?x64xi1>, tensor<2x?x64xi1>) -> tensor<2x?x64xi1>
  %nan = kiln.onnx.IsNaN %y : (tensor<2x?x64xf32>) -> tensor<2x?x64xi1>
  %or = kiln.onnx.Or %an, %nan : (tensor<2x?x64xi1>, tensor<2x?x64xi1>) -> tensor<2x?x64xi1>
  %nt = kiln.onnx.Not %or : (tensor<2x?x64xi1>) -> tensor<2x?x64xi1>
  // Integers, unsigned, f16 and f64 operands.
  %id = kiln.onnx.Div %i, %i : (tensor<?x16xi32>, tensor<?x16xi32>) -> tensor<?x16xi32>
  %im = kiln.onnx.Mod %id, %i : (tensor<?x16xi32>, tensor<?x16xi32>) -> tensor<?x16xi32>
  %ip = kiln.onnx.Pow %im, %e : (tensor<?x16xi32>, tensor<?x16xi64>) -> tensor<?x16xi32>
  %ia = kiln.onnx.Abs %ip : (tensor<?x16xi32>) -> tensor<?x16xi32>
  %ud = kiln.onnx.Div %u, %u : (tensor<?x16xui8>, tensor<?x16xui8>) -> tensor<?x16xui8>
  %um = kiln.onnx.Mod %ud, %u : (tensor<?x16xui8>, tensor<?x16xui8>) -> tensor<?x16xui8>
  %hs = kiln.onnx.Sub %h, %h : (tensor<?x16xf16>, tensor<?x16xf16>) -> tensor<?x16xf16>
  %hm = kiln.onnx.Mul %hs, %h : (tensor<?x16xf16>, tensor<?x16xf16>) -> tensor<?x16xf16>
  %dm = kiln.onnx.Mod %d, %d {fmod = 1 : i64} : (tensor<?x16xf64>, tensor<?x16xf64>) -> tensor<?x16xf64>
  %ds = kiln.onnx.Sqrt %dm : (tensor<?x16xf64>) -> tensor<?x16xf64>
  %eq = kiln.onnx.Equal %i, %id : (tensor<?x16xi32>, tensor<?x16xi32>) -> tensor<?x16xi1>
  %cf = kiln.onnx.Cast %d {to = f32} : (tensor<?x16xf64>) -> tensor<?x16xf32>
  %ci = kiln.onnx.Cast %cf {to = i64} : (tensor<?x16xf32>) -> tensor<?x16xi64>
  %pf = kiln.onnx.Pow %cf, %ci : (tensor<?x16xf32>, tensor<?x16xi64>) -> tensor<?x16xf32>
  // Rotary embeddings.
  %rq = kiln.rotary %q, %cos, %sin half dim 32 : tensor<2x4x?x64xf32>, tensor<2x?x16xf32>
  %rx = kiln.onnx.RotaryEmbedding %x3, %cache, %cache, %pos {interleaved = 1 : i64, num_heads = 2 : i64} : (tensor<2x?x64xf32>, tensor<128x16xf32>, tensor<128x16xf32>, tensor<2x?xi32>) -> tensor<2x?x64xf32>
  return %silu, %mx, %sw, %nt, %ia, %um, %hm, %ds, %rq, %rx, %eq, %pf
      : tensor<2x?x64xf32>, tensor<2x?x64xf32>, tensor<2x?x64xf32>, tensor<2x?x64xi1>,
        tensor<?x16xi32>, tensor<?x16xui8>, tensor<?x16xf16>, tensor<?x16xf64>,
        tensor<2x4x?x64xf32>, tensor<2x?x64xf32>, tensor<?x16xi1>, tensor<?x16xf32>
}
