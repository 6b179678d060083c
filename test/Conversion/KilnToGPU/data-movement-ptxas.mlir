// REQUIRES: ptxas
// Every data-movement kernel kind, at fp16 storage, assembles with ptxas for sm_90 and sm_80.

// RUN: kiln-opt %s --kiln-lower-to-gpu=precision=fp16 --kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm90.ptx
// RUN: %ptxas -arch=sm_90 %t.sm90.ptx -o %t.sm90.cubin
// RUN: FileCheck %s --input-file=%t.sm90.ptx
// RUN: kiln-opt %s --kiln-lower-to-gpu="precision=fp16 target=sm_80" --kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.sm80.ptx
// RUN: %ptxas -arch=sm_80 %t.sm80.ptx -o %t.sm80.cubin

// CHECK-DAG: .visible .entry gather_i16_i64_v8_
// CHECK-DAG: .visible .entry split_i16_n3_v8_
// CHECK-DAG: .visible .entry strided_copy_i16_v8_
// CHECK-DAG: .visible .entry transpose_tile_i16_
// CHECK-DAG: .visible .entry concat_i16_n2_v8_
// CHECK-DAG: .visible .entry gather_elements_i16_i64_
// CHECK-DAG: .visible .entry gather_nd_i16_
// CHECK-DAG: .visible .entry scatter_nd_none_i16_
// CHECK-DAG: .visible .entry scatter_nd_max_f16_
// CHECK-DAG: .visible .entry trilu_upper_i16_
// CHECK-DAG: .visible .entry cumsum_f16_
// CHECK-DAG: .visible .entry cumsum_i32_
// CHECK-DAG: .visible .entry range_i64
// CHECK-DAG: .visible .entry range_f16
// CHECK-DAG: .visible .entry host_values_1
// CHECK-DAG: .visible .entry fill_i8_0x1
// CHECK-DAG: ld.global.v4.b32
// CHECK-DAG: st.global.v4.b32

func.func @main(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"]},
                %w: tensor<512x256xf16>,
                %qkv: tensor<1x?x384xf16> {kiln.dim_params = ["", "seq", ""]},
                %past: tensor<1x2x?x64xf16> {kiln.dim_params = ["", "", "past", ""]},
                %data: tensor<6x4xf16>, %idx: tensor<6x3xi64>, %tuples: tensor<2x1xi64>,
                %updates: tensor<2x4xf16>, %counts: tensor<3x?xi32> {kiln.dim_params = ["", "n"]},
                %a: tensor<f16>, %d: tensor<f16>)
    -> (tensor<1x?x256xf16>, tensor<1x2x?x64xf16>, tensor<1x2x64x?xf16>, tensor<1x2x?x64xf16>,
        tensor<6x3xf16>, tensor<2x1x4xf16>, tensor<6x4xf16>, tensor<6x4xf16>, tensor<1x?x?xf16>,
        tensor<1x?x256xf16>, tensor<3x?xi32>, tensor<?xi64>, tensor<7xf16>, tensor<i64>, tensor<2x3xi1>) {
  // Embedding lookup.
  %emb = kiln.onnx.Gather %w, %ids : (tensor<512x256xf16>, tensor<1x?xi64>) -> tensor<1x?x256xf16>
  // QKV split, heads transpose, K^T.
  %sizes = kiln.constant dense<[256, 64, 64]> : tensor<3xi64>
  %s:3 = kiln.onnx.Split %qkv, %sizes {axis = 2 : i64} : (tensor<1x?x384xf16>, tensor<3xi64>) -> (tensor<1x?x256xf16>, tensor<1x?x64xf16>, tensor<1x?x64xf16>)
  %shape = kiln.constant dense<[1, -1, 2, 32]> : tensor<4xi64>
  %k = kiln.onnx.Reshape %s#1, %shape : (tensor<1x?x64xf16>, tensor<4xi64>) -> tensor<1x?x2x32xf16>
  %kh = kiln.onnx.Transpose %k {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf16>) -> tensor<1x2x?x32xf16>
  %shape2 = kiln.constant dense<[1, 2, -1, 64]> : tensor<4xi64>
  %kh2 = kiln.onnx.Reshape %kh, %shape2 : (tensor<1x2x?x32xf16>, tensor<4xi64>) -> tensor<1x2x?x64xf16>
  %kt = kiln.onnx.Transpose %past {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x64xf16>) -> tensor<1x2x64x?xf16>
  // Cache concat.
  %cat = kiln.onnx.Concat %past, %past {axis = 2 : i64} : (tensor<1x2x?x64xf16>, tensor<1x2x?x64xf16>) -> tensor<1x2x?x64xf16>
  // Gathers and scatters.
  %ge = kiln.onnx.GatherElements %data, %idx {axis = 1 : i64} : (tensor<6x4xf16>, tensor<6x3xi64>) -> tensor<6x3xf16>
  %gnd = kiln.onnx.GatherND %data, %tuples : (tensor<6x4xf16>, tensor<2x1xi64>) -> tensor<2x4xf16>
  %one = kiln.constant dense<[2, 1, 4]> : tensor<3xi64>
  %gnd3 = kiln.onnx.Reshape %gnd, %one : (tensor<2x4xf16>, tensor<3xi64>) -> tensor<2x1x4xf16>
  %sc = kiln.onnx.ScatterND %data, %tuples, %updates : (tensor<6x4xf16>, tensor<2x1xi64>, tensor<2x4xf16>) -> tensor<6x4xf16>
  %scm = kiln.onnx.ScatterND %data, %tuples, %updates {reduction = "max"} : (tensor<6x4xf16>, tensor<2x1xi64>, tensor<2x4xf16>) -> tensor<6x4xf16>
  // Trilu, CumSum.
  %kz = kiln.constant dense<1> : tensor<i64>
  %flat = kiln.constant dense<[1, -1, 2]> : tensor<3xi64>
  %tri = kiln.onnx.Trilu %kt, %kz {upper = 1 : i64} : (tensor<1x2x64x?xf16>, tensor<i64>) -> tensor<1x2x64x?xf16>
  %tri3 = kiln.onnx.Reshape %tri, %flat : (tensor<1x2x64x?xf16>, tensor<3xi64>) -> tensor<1x?x?xf16>
  %axis1 = kiln.constant dense<1> : tensor<i64>
  %cs = kiln.onnx.CumSum %emb, %axis1 : (tensor<1x?x256xf16>, tensor<i64>) -> tensor<1x?x256xf16>
  %ci = kiln.onnx.CumSum %counts, %axis1 {exclusive = 1 : i64} : (tensor<3x?xi32>, tensor<i64>) -> tensor<3x?xi32>
  // Shape values, Range, ConstantOfShape.
  %sh = kiln.onnx.Shape %ids {start = 1 : i64} : (tensor<1x?xi64>) -> tensor<1xi64>
  %lim = kiln.onnx.Squeeze %sh : (tensor<1xi64>) -> tensor<i64>
  %z = kiln.constant dense<0> : tensor<i64>
  %pos = kiln.onnx.Range %z, %lim, %axis1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %lim7 = kiln.constant dense<3.5> : tensor<f16>
  %fr = kiln.onnx.Range %a, %lim7, %d : (tensor<f16>, tensor<f16>, tensor<f16>) -> tensor<7xf16>
  %n = kiln.onnx.Size %ids : (tensor<1x?xi64>) -> tensor<i64>
  %cs2 = kiln.constant dense<[2, 3]> : tensor<2xi64>
  %mask = kiln.onnx.ConstantOfShape %cs2 {value = dense<true> : tensor<1xi1>} : (tensor<2xi64>) -> tensor<2x3xi1>
  return %emb, %kh2, %kt, %cat, %ge, %gnd3, %sc, %scm, %tri3, %cs, %ci, %pos, %fr, %n, %mask
      : tensor<1x?x256xf16>, tensor<1x2x?x64xf16>, tensor<1x2x64x?xf16>, tensor<1x2x?x64xf16>,
        tensor<6x3xf16>, tensor<2x1x4xf16>, tensor<6x4xf16>, tensor<6x4xf16>, tensor<1x?x?xf16>,
        tensor<1x?x256xf16>, tensor<3x?xi32>, tensor<?xi64>, tensor<7xf16>, tensor<i64>, tensor<2x3xi1>
}
