// REQUIRES: ptxas
// Every reduction kernel variant assembles with ptxas for sm_90 and sm_80: row kernels (a warp
// per row, a block per row with shared memory, vector loads of f32/f16/bf16/i8/f64, 64-bit
// shuffles), the strided kernels, ArgMax, TopK and Softmax (cached, dynamic, strided).

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

// F32-DAG: .entry reduce_sum_f32_L512_t32x4_v4(
// F32-DAG: .entry reduce_mean_f32_Ldyn_t256_v1(
// F32-DAG: .entry reduce_max_f32_KRK(
// F32-DAG: .entry reduce_mean_i32_RKR(
// F32-DAG: .entry reduce_max_i8_from_i8_L60_t32x4_v4(
// F32-DAG: .entry reduce_sum_f64_Ldyn_t256_v1(
// F32-DAG: .entry argmax_f32_last_L1000_t64_v4(
// F32-DAG: .entry argmax_f32_strided(
// F32-DAG: .entry argmax_f64_L40_t32x4_v2(
// F32-DAG: .entry topk_f32_k5_largest_L50000_t512_v4(
// F32-DAG: .entry topk_i64_k2_smallest_strided(
// F32-DAG: .entry softmax_f32_L1000_t64_v4_c(
// F32-DAG: .entry softmax_f32_Ldyn_t256_v1(
// F32-DAG: .entry softmax_f32_strided(
// F32-DAG: ld.global.v4.{{[bf]}}32
// F32-DAG: shfl.sync.bfly.b32
// F32-DAG: bar.sync

// F16-DAG: .entry reduce_sum_f16_L512_t32x4_v8(
// F16-DAG: .entry softmax_f16_L1000_t32x4_v8_c(
// F16-DAG: ld.global.v4.b32
// F16-DAG: st.global.v4.b32

func.func @main(%a: tensor<?x512xf32>, %b: tensor<?x?xf32>, %c: tensor<4x?x8xf32>,
                %d: tensor<3x?x5xi32>, %e: tensor<3x4x5xi8>, %f: tensor<?x?xf64>,
                %g: tensor<?x1000xf32>, %h: tensor<?x40xf64>, %i: tensor<?x50000xf32>,
                %j: tensor<3x?x4xi64>, %k: tensor<1x4x?x?xf32>, %l: tensor<3x?x5xf32>)
    -> (tensor<?x1xf32>, tensor<?xf32>, tensor<4x1x8xf32>, tensor<?xi32>, tensor<1x1x1xi8>,
        tensor<?x1xf64>, tensor<?x1xi64>, tensor<1000xi64>, tensor<?x1xi64>,
        tensor<?x5xf32>, tensor<?x5xi64>, tensor<3x2x4xi64>, tensor<3x2x4xi64>,
        tensor<?x1000xf32>, tensor<1x4x?x?xf32>, tensor<3x?x5xf32>) {
  %last = kiln.constant dense<[-1]> : tensor<1xi64>
  %one = kiln.constant dense<[1]> : tensor<1xi64>
  %outer = kiln.constant dense<[0, 2]> : tensor<2xi64>
  %r1 = kiln.onnx.ReduceSum %a, %last : (tensor<?x512xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %r2 = kiln.onnx.ReduceMean %b, %one {keepdims = 0 : i64} : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?xf32>
  %r3 = kiln.onnx.ReduceMax %c, %one : (tensor<4x?x8xf32>, tensor<1xi64>) -> tensor<4x1x8xf32>
  %r4 = kiln.onnx.ReduceMean %d, %outer {keepdims = 0 : i64} : (tensor<3x?x5xi32>, tensor<2xi64>) -> tensor<?xi32>
  %r5 = kiln.onnx.ReduceMax %e : (tensor<3x4x5xi8>) -> tensor<1x1x1xi8>
  %r6 = kiln.onnx.ReduceSum %f, %last : (tensor<?x?xf64>, tensor<1xi64>) -> tensor<?x1xf64>
  %r7 = kiln.onnx.ArgMax %g {axis = -1 : i64, select_last_index = 1 : i64} : (tensor<?x1000xf32>) -> tensor<?x1xi64>
  %r8 = kiln.onnx.ArgMax %g {axis = 0 : i64, keepdims = 0 : i64} : (tensor<?x1000xf32>) -> tensor<1000xi64>
  %r9 = kiln.onnx.ArgMax %h {axis = 1 : i64} : (tensor<?x40xf64>) -> tensor<?x1xi64>
  %k5 = kiln.constant dense<5> : tensor<1xi64>
  %v1, %i1 = kiln.onnx.TopK %i, %k5 : (tensor<?x50000xf32>, tensor<1xi64>) -> (tensor<?x5xf32>, tensor<?x5xi64>)
  %k2 = kiln.constant dense<2> : tensor<1xi64>
  %v2, %i2 = kiln.onnx.TopK %j, %k2 {axis = 1 : i64, largest = 0 : i64} : (tensor<3x?x4xi64>, tensor<1xi64>) -> (tensor<3x2x4xi64>, tensor<3x2x4xi64>)
  %s1 = kiln.onnx.Softmax %g : (tensor<?x1000xf32>) -> tensor<?x1000xf32>
  %s2 = kiln.onnx.Softmax %k {axis = -1 : i64} : (tensor<1x4x?x?xf32>) -> tensor<1x4x?x?xf32>
  %s3 = kiln.onnx.Softmax %l {axis = 1 : i64} : (tensor<3x?x5xf32>) -> tensor<3x?x5xf32>
  return %r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8, %r9, %v1, %i1, %v2, %i2, %s1, %s2, %s3
      : tensor<?x1xf32>, tensor<?xf32>, tensor<4x1x8xf32>, tensor<?xi32>, tensor<1x1x1xi8>,
        tensor<?x1xf64>, tensor<?x1xi64>, tensor<1000xi64>, tensor<?x1xi64>,
        tensor<?x5xf32>, tensor<?x5xi64>, tensor<3x2x4xi64>, tensor<3x2x4xi64>,
        tensor<?x1000xf32>, tensor<1x4x?x?xf32>, tensor<3x?x5xf32>
}
