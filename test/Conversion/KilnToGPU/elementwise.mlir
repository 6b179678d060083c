// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 | FileCheck %s --check-prefix=F16
// RUN: kiln-opt %s -split-input-file -verify-diagnostics --kiln-lower-to-gpu=precision=fp16 --kiln-gpu-to-ptx | FileCheck %s --check-prefix=PTX

// Pointwise ops lower to one N-ary broadcasting kernel per fused expression (256 threads a
// block, grid-stride loops). Result dims with static 1s dropped are merged into groups where
// every leaf spans both or broadcasts along both; one group gives the linear kernel (vector
// accesses when aligned), several the strided kernel (odometer over the groups). Kernel names
// spell the expression (op, operand types, arguments a<leaf>/n<node>/k<immediate>), the
// result and leaf types, the group sizes (d: dynamic) and each leaf's span per group
// (s: spans, b: broadcasts).

// A bias broadcast over [3, 4, 5]: groups [12][5], x spans both, y broadcasts along the first.
// Static sizes: no scalars, one block.

// CHECK-LABEL: func.func @add_broadcast
// CHECK:       kiln.launch @kiln_kernels::@ew_add_f32_a0_a1__o_f32_f32_g12x5_l_f32_f32_ss_l_f32_f32_bs(%arg0, %arg1) grid(%c1{{.*}}, %c1{{.*}}, %c1{{.*}}) block [256, 1, 1]
// CHECK-SAME:    : (tensor<3x4x5xf32>, tensor<5xf32>) -> tensor<3x4x5xf32>
// CHECK:       gpu.func @ew_add_f32_a0_a1__o_f32_f32_g12x5_l_f32_f32_ss_l_f32_f32_bs(
// CHECK-SAME:    %arg0: memref<?xf32, #gpu.address_space<global>>, %arg1: memref<?xf32, #gpu.address_space<global>>, %arg2: memref<?xf32, #gpu.address_space<global>>)
// CHECK:         %[[TID:.*]] = arith.addi
// CHECK:         %[[STEP:.*]] = arith.muli %grid_dim_x
// CHECK:         scf.if
// CHECK-DAG:       %[[I1:.*]] = arith.remui %[[TID]], %c5
// CHECK-DAG:       %[[I0:.*]] = arith.divui %[[TID]], %c5
// CHECK-DAG:       %[[S1:.*]] = arith.remui %[[STEP]], %c5
// CHECK:           scf.for %[[I:.*]] = %{{.*}} to %c60 step %{{.*}} iter_args(%[[A0:.*]] = %[[I0]], %[[A1:.*]] = %[[I1]]) -> (index, index)
// CHECK:             %[[X:.*]] = memref.load %arg0[%[[I]]]
// CHECK:             %[[Y:.*]] = memref.load %arg1[%[[A1]]]
// CHECK:             %[[SUM:.*]] = arith.addf %[[X]], %[[Y]] : f32
// CHECK:             memref.store %[[SUM]], %arg2[%[[I]]]
// CHECK:             %[[NEXT:.*]] = arith.addi %[[A1]], %[[S1]] : index
// CHECK:             %[[OVER:.*]] = arith.cmpi uge, %[[NEXT]], %c5 : index
// CHECK:             arith.select %[[OVER]]
// CHECK:             scf.yield

// F16-LABEL: func.func @add_broadcast
// F16:       %[[X16:.*]] = kiln.launch @kiln_kernels::@convert_f32_to_f16(%arg0)
// F16:       %[[Y16:.*]] = kiln.launch @kiln_kernels::@convert_f32_to_f16(%arg1)
// F16:       kiln.launch @kiln_kernels::@ew_add_f32_a0_a1__o_f32_f16_g12x5_l_f32_f16_ss_l_f32_f16_bs(%[[X16]], %[[Y16]])
// F16-SAME:    : (tensor<3x4x5xf16>, tensor<5xf16>) -> tensor<3x4x5xf16>
// F16:       gpu.func @ew_add_f32_a0_a1__o_f32_f16_g12x5_l_f32_f16_ss_l_f32_f16_bs(
// F16:         arith.extf {{.*}} : f16 to f32
// F16:         arith.addf {{.*}} : f32
// F16:         arith.truncf {{.*}} : f32 to f16

// PTX-LABEL: gpu.binary @kiln_kernels
// PTX-SAME:  .visible .entry ew_add_f32_a0_a1__o_f32_f16_g12x5_l_f32_f16_ss_l_f32_f16_bs(
func.func @add_broadcast(%x: tensor<3x4x5xf32>, %y: tensor<5xf32>) -> tensor<3x4x5xf32> {
  %0 = kiln.onnx.Add %x, %y : (tensor<3x4x5xf32>, tensor<5xf32>) -> tensor<3x4x5xf32>
  return %0 : tensor<3x4x5xf32>
}

// -----

// Same shapes with a dynamic dim: the linear kernel. The element count n * 8 is a scalar; the
// grid is ceil(count / (256 threads * 4 elements)), at most 8192 blocks. Threads first walk
// 16-byte vectors when every buffer is 16-byte aligned (checked at run time), then the tail.

// CHECK-LABEL: func.func @same_shape_dynamic
// CHECK:       %[[N:.*]] = tensor.dim %arg0, %c0
// CHECK:       %[[COUNT:.*]] = arith.muli %[[N]], %c8 : index
// CHECK:       %[[BLOCKS:.*]] = arith.ceildivui %[[COUNT]], %c1024 : index
// CHECK:       %[[GRID:.*]] = arith.minui %[[BLOCKS]], %c8192 : index
// CHECK:       kiln.launch @kiln_kernels::@ew_mul_f32_a0_a1__o_f32_f32_gd_l_f32_f32_s_l_f32_f32_s_v4(%arg0, %arg1) scalars(%[[COUNT]]) grid(%[[GRID]], %c1{{.*}}, %c1{{.*}}) block [256, 1, 1] dims(%[[N]])
// CHECK:       gpu.func @ew_mul_f32_a0_a1__o_f32_f32_gd_l_f32_f32_s_l_f32_f32_s_v4(
// CHECK-SAME:    %arg3: i64)
// CHECK:         %[[C:.*]] = arith.index_cast %arg3 : i64 to index
// CHECK:         memref.extract_aligned_pointer_as_index %arg2
// CHECK:         memref.extract_aligned_pointer_as_index %arg0
// CHECK:         memref.extract_aligned_pointer_as_index %arg1
// CHECK:         %[[START:.*]] = scf.if %{{.*}} -> (index) {
// CHECK:           scf.for
// CHECK:             vector.load %arg0[%{{.*}}] {alignment = 16 : i64} : memref<?xf32, #gpu.address_space<global>>, vector<4xf32>
// CHECK:             vector.load %arg1[%{{.*}}] {alignment = 16 : i64}
// CHECK-COUNT-4:     arith.mulf
// CHECK:             vector.from_elements
// CHECK:             vector.store {{.*}}, %arg2[%{{.*}}] {alignment = 16 : i64}
// CHECK:         } else {
// CHECK:         %[[FIRST:.*]] = arith.addi %[[START]], %{{.*}} : index
// CHECK:         scf.for %{{.*}} = %[[FIRST]] to %[[C]] step

// F16-LABEL: func.func @same_shape_dynamic
// F16:       kiln.launch @kiln_kernels::@ew_mul_f32_a0_a1__o_f32_f16_gd_l_f32_f16_s_l_f32_f16_s_v8(
// F16:         vector.load {{.*}} {alignment = 16 : i64} : memref<?xf16, #gpu.address_space<global>>, vector<8xf16>

// PTX-LABEL: gpu.binary @kiln_kernels
// PTX-SAME:  .visible .entry ew_mul_f32_a0_a1__o_f32_f16_gd_l_f32_f16_s_l_f32_f16_s_v8(
// PTX-SAME:  ld.global.v4.b32
// PTX-SAME:  st.global.v4.b32
func.func @same_shape_dynamic(%x: tensor<?x8xf32> {kiln.dim_params = ["n", ""]},
                              %y: tensor<?x8xf32> {kiln.dim_params = ["n", ""]}) -> tensor<?x8xf32> {
  %0 = kiln.onnx.Mul %x, %y : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// A chain fuses into one kernel: SiLU written as Mul(x, Sigmoid(x)), a masked fill with a
// one-element constant (an immediate of the body: kf32x<bits>), a bias add. The mask (bool)
// is stored as i8 and compared with 0; the Sigmoid is the executor's two-sided form.

// CHECK-LABEL: func.func @fused_chain
// CHECK-NOT:   kiln.constant
// CHECK:       %[[M8:.*]] = kiln.launch @kiln_kernels::@convert_i1_to_i8(%arg1)
// CHECK:       kiln.launch @kiln_kernels::@ew_sigmoid_f32_a1_mul_f32_a1_n0_where_f32_a0_kf32xff800000_n1_add_f32_n2_a2__o_f32_f32_gdx8_l_i1_i8_ss_l_f32_f32_ss_l_f32_f32_bs(%[[M8]], %arg0, %arg2)
// CHECK-NOT:   kiln.launch @kiln_kernels::@ew
// CHECK:       return
// CHECK:       gpu.func @ew_sigmoid_f32_a1_mul_f32_a1_n0_where_f32_a0_kf32xff800000_n1_add_f32_n2_a2__o_f32_f32_gdx8_l_i1_i8_ss_l_f32_f32_ss_l_f32_f32_bs(
// CHECK-SAME:    %arg0: memref<?xi8, #gpu.address_space<global>>
// CHECK:           %[[M8:.*]] = memref.load %arg0
// CHECK:           %[[M:.*]] = arith.cmpi ne, %[[M8]], %{{.*}} : i8
// CHECK:           %[[X:.*]] = memref.load %arg1
// CHECK:           %[[ABS:.*]] = math.absf %[[X]]
// CHECK:           %[[NEG:.*]] = arith.negf %[[ABS]]
// CHECK:           %[[E:.*]] = math.exp %[[NEG]]
// CHECK:           %[[SIG:.*]] = arith.select
// CHECK:           %[[SILU:.*]] = arith.mulf %[[X]], %[[SIG]]
// CHECK:           %[[FILL:.*]] = arith.select %[[M]], %cst{{.*}}, %[[SILU]] : f32
// CHECK:           arith.addf %[[FILL]]
func.func @fused_chain(%x: tensor<?x8xf32> {kiln.dim_params = ["n", ""]},
                       %m: tensor<?x8xi1> {kiln.dim_params = ["n", ""]},
                       %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %s = kiln.onnx.Sigmoid %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %silu = kiln.onnx.Mul %x, %s : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %inf = kiln.constant dense<0xFF800000> : tensor<f32>
  %w = kiln.onnx.Where %m, %inf, %silu : (tensor<?x8xi1>, tensor<f32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %a = kiln.onnx.Add %w, %b : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// A value with a second user outside the chain is computed once, by its own kernel: the
// Sigmoid result is also returned.

// CHECK-LABEL: func.func @shared_value_not_fused
// CHECK:       %[[S:.*]] = kiln.launch @kiln_kernels::@ew_sigmoid_f32_a0__o_f32_f32_g64_l_f32_f32_s_v4(%arg0)
// CHECK:       %[[M:.*]] = kiln.launch @kiln_kernels::@ew_mul_f32_a0_a1__o_f32_f32_g64_l_f32_f32_s_l_f32_f32_s_v4(%arg0, %[[S]])
// CHECK:       return %[[M]], %[[S]]
func.func @shared_value_not_fused(%x: tensor<64xf32>) -> (tensor<64xf32>, tensor<64xf32>) {
  %s = kiln.onnx.Sigmoid %x : (tensor<64xf32>) -> tensor<64xf32>
  %m = kiln.onnx.Mul %x, %s : (tensor<64xf32>, tensor<64xf32>) -> tensor<64xf32>
  return %m, %s : tensor<64xf32>, tensor<64xf32>
}

// -----

// Producers broadcast into a larger result are absorbed when cheap (Neg), recomputed for each
// element they reach; costly ones (Exp) keep their own kernel. Cast and Expand fuse too.

// CHECK-LABEL: func.func @broadcast_producers
// CHECK:       %[[E:.*]] = kiln.launch @kiln_kernels::@ew_exp_f32_a0__o_f32_f32_g8_l_f32_f32_s_v4(%arg1)
// CHECK:       kiln.launch @kiln_kernels::@ew_neg_f32_a1_add_f32_a0_n0_cast_ui8_f32_a2_id_f32_n2_mul_f32_n1_n3_add_f32_n4_a3__o_f32_f32_g4x8_l_f32_f32_ss_l_f32_f32_bs_l_ui8_i8_bs_l_f32_f32_bs(%arg0, %arg1, %arg2, %[[E]])
// CHECK:       gpu.func @ew_neg
// CHECK:         arith.negf
// CHECK:         arith.uitofp {{.*}} : i8 to f32
func.func @broadcast_producers(%x: tensor<4x8xf32>, %y: tensor<8xf32>, %u: tensor<8xui8>) -> tensor<4x8xf32> {
  %n = kiln.onnx.Neg %y : (tensor<8xf32>) -> tensor<8xf32>
  %a = kiln.onnx.Add %x, %n : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %c = kiln.onnx.Cast %u {to = f32} : (tensor<8xui8>) -> tensor<8xf32>
  %shape = kiln.constant dense<[4, 8]> : tensor<2xi64>
  %x4 = kiln.onnx.Expand %c, %shape : (tensor<8xf32>, tensor<2xi64>) -> tensor<4x8xf32>
  %m = kiln.onnx.Mul %a, %x4 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %e = kiln.onnx.Exp %y : (tensor<8xf32>) -> tensor<8xf32>
  %r = kiln.onnx.Add %m, %e : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// Integers compute in their own width: Div truncates (x / -1 as 0 - x, no undefined division),
// Mod (fmod=0) takes the divisor's sign, unsigned types use unsigned ops; comparisons store
// bools as bytes.

// CHECK-LABEL: func.func @integers
// CHECK:       kiln.launch @kiln_kernels::@ew_div_i32_a0_a1_mod_i32_n0_a1__o_i32_i32_g16_l_i32_i32_s_l_i32_i32_s_v4(
// CHECK:       kiln.launch @kiln_kernels::@ew_div_ui8_a0_a1_lt_ui8_n0_a1__o_i1_i8_g16_l_ui8_i8_s_l_ui8_i8_s_v8(
// CHECK-SAME:    -> tensor<16xi8>
// CHECK:       gpu.func @ew_div_i32_a0_a1_mod_i32_n0_a1
// CHECK:         arith.divsi
// CHECK:         arith.subi
// CHECK:         arith.remsi
// CHECK:         arith.xori
// CHECK:       gpu.func @ew_div_ui8_a0_a1_lt_ui8_n0_a1
// CHECK:         arith.divui {{.*}} : i8
// CHECK:         %[[LT:.*]] = arith.cmpi ult, {{.*}} : i8
// CHECK:         arith.extui %[[LT]] : i1 to i8
func.func @integers(%a: tensor<16xi32>, %b: tensor<16xi32>, %u: tensor<16xui8>, %v: tensor<16xui8>) -> (tensor<16xi32>, tensor<16xi1>) {
  %d = kiln.onnx.Div %a, %b : (tensor<16xi32>, tensor<16xi32>) -> tensor<16xi32>
  %m = kiln.onnx.Mod %d, %b : (tensor<16xi32>, tensor<16xi32>) -> tensor<16xi32>
  %q = kiln.onnx.Div %u, %v : (tensor<16xui8>, tensor<16xui8>) -> tensor<16xui8>
  %l = kiln.onnx.Less %q, %v : (tensor<16xui8>, tensor<16xui8>) -> tensor<16xi1>
  return %m, %l : tensor<16xi32>, tensor<16xi1>
}

// -----

// Pow with a constant integral exponent is a product (x^2 = x * x); float Mod is an exact
// integer long division (arith.remf would call libdevice); Max propagates NaN.

// CHECK-LABEL: func.func @pow_mod_max
// CHECK:       gpu.func @ew_pow_f32_f32_a0_kf32x40000000_fmod_f32_n0_a1_max2_f32_n1_a1__o_f32_f32_g32_l_f32_f32_s_l_f32_f32_s_v4(
// CHECK-NOT:     math.powf
// CHECK-NOT:     math.exp
// CHECK-NOT:     arith.remf
// CHECK:         %[[SQ:.*]] = arith.mulf %[[X:.*]], %[[X]] : f32
// CHECK:         math.ctlz
// CHECK:         scf.for
// CHECK:         arith.cmpf uno
func.func @pow_mod_max(%x: tensor<32xf32>, %y: tensor<32xf32>) -> tensor<32xf32> {
  %two = kiln.constant dense<2.0> : tensor<1xf32>
  %p = kiln.onnx.Pow %x, %two : (tensor<32xf32>, tensor<1xf32>) -> tensor<32xf32>
  %m = kiln.onnx.Mod %p, %y {fmod = 1 : i64} : (tensor<32xf32>, tensor<32xf32>) -> tensor<32xf32>
  %r = kiln.onnx.Max %m, %y : (tensor<32xf32>, tensor<32xf32>) -> tensor<32xf32>
  return %r : tensor<32xf32>
}

// -----

// Sin reduces its argument by multiples of pi/2 in f64 (accurate for rotary angles of
// thousands of radians), then evaluates its own polynomials in f32.

// CHECK-LABEL: func.func @sine
// CHECK:       gpu.func @ew_sin_f32_a0__o_f32_f32_gd_l_f32_f32_s_v4(
// CHECK-NOT:     math.sin
// CHECK:         %[[W:.*]] = arith.extf %{{.*}} : f32 to f64
// CHECK:         arith.mulf %[[W]], %cst{{.*}} : f64
// CHECK:         arith.bitcast {{.*}} : f64 to i64
// CHECK:         arith.truncf {{.*}} : f64 to f32
func.func @sine(%x: tensor<1x?x16xf32> {kiln.dim_params = ["", "s", ""]}) -> tensor<1x?x16xf32> {
  %0 = kiln.onnx.Sin %x : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  return %0 : tensor<1x?x16xf32>
}

// -----

// The transformer activations evaluate in the executor's order.

// CHECK-LABEL: func.func @activations
// CHECK:       kiln.launch @kiln_kernels::@ew_gelut_f32_a0__o_f32_f32_g64_l_f32_f32_s_v4(
// CHECK:       kiln.launch @kiln_kernels::@ew_gelu_f32_a0__o_f32_f32_g64_l_f32_f32_s_v4(
// CHECK:       kiln.launch @kiln_kernels::@ew_swiglu_f32_a0_a1__o_f32_f32_g64_l_f32_f32_s_l_f32_f32_s_v4(
// CHECK:       gpu.func @ew_gelut_f32_a0
// CHECK:         %[[XX:.*]] = arith.mulf %[[X:.*]], %[[X]] : f32
// CHECK:         %[[CUBE:.*]] = arith.mulf %[[XX]], %[[X]] : f32
// CHECK:         math.tanh
// CHECK:       gpu.func @ew_gelu_f32_a0
// CHECK:         math.erf
// CHECK:       gpu.func @ew_swiglu_f32_a0_a1
// CHECK:         math.exp
func.func @activations(%x: tensor<64xf32>, %y: tensor<64xf32>) -> (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) {
  %0 = kiln.gelu %x approximate tanh : tensor<64xf32>
  %1 = kiln.gelu %x : tensor<64xf32>
  %2 = kiln.swiglu %x, %y : tensor<64xf32>
  return %0, %1, %2 : tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
}

// -----

// Identity and inference Dropout are views of their operand; Dropout's mask is a fill kernel.

// CHECK-LABEL: func.func @views
// CHECK:       %[[MASK:.*]] = kiln.launch @kiln_kernels::@fill_out_ki1x1__o_i1_i8_g24_v8() grid
// CHECK-SAME:    -> tensor<2x3x4xi8>
// CHECK:       %[[B:.*]] = kiln.launch @kiln_kernels::@convert_i8_to_i1(%[[MASK]])
// CHECK:       return %arg0, %arg0, %[[B]]
// CHECK:       gpu.func @fill_out_ki1x1__o_i1_i8_g24_v8(%arg0: memref<?xi8, #gpu.address_space<global>>)
// CHECK-NOT:     memref.load
// CHECK:         arith.extui %true{{.*}} : i1 to i8
// CHECK:         vector.store {{.*}} : memref<?xi8, #gpu.address_space<global>>, vector<8xi8>
func.func @views(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xi1>) {
  %i = kiln.onnx.Identity %x : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %d, %mask = kiln.onnx.Dropout %x {operandSegmentSizes = array<i32: 1, 0, 0>, resultSegmentSizes = array<i32: 1, 1>} : (tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xi1>)
  return %i, %d, %mask : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xi1>
}

// -----

// kiln.rotary: one warp per (batch, head, position) row, 8 rows a block. Scalars: rows, seq,
// heads, the table's batch size (1 broadcasts) and its row count. The name spells the input's
// model and storage types, the tables' and the result's storage types: under fp16 the tables
// stay f32 (angles of thousands of radians).

// F16-LABEL: func.func @rotary
// F16:       kiln.launch @kiln_kernels::@rotary_half_bhsd_batchseq_f32_f16_f32_f16_d64_r32(
// F16-SAME:    : (tensor<1x8x?x64xf16>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x8x?x64xf16>

// CHECK-LABEL: func.func @rotary
// CHECK:       %[[S:.*]] = tensor.dim %arg0, %c2
// CHECK:       %[[ROWS:.*]] = arith.muli %c8{{.*}}, %[[S]] : index
// CHECK:       %[[BLOCKS:.*]] = arith.ceildivui %[[ROWS]], %c8{{.*}} : index
// CHECK:       %[[GRID:.*]] = arith.minui %[[BLOCKS]], %c65535 : index
// CHECK:       kiln.launch @kiln_kernels::@rotary_half_bhsd_batchseq_f32_f32_f32_f32_d64_r32(%arg0, %arg1, %arg2) scalars(%[[ROWS]], %[[S]], %c8{{.*}}, %c1{{.*}}, %c1{{.*}}) grid(%[[GRID]],
// CHECK:       kiln.launch @kiln_kernels::@rotary_interleaved_bhsd_seq_f32_f32_f32_f32_d64_r64(
// CHECK:       gpu.func @rotary_half_bhsd_batchseq_f32_f32_f32_f32_d64_r32(
// CHECK:         gpu.thread_id  x
// CHECK:         scf.for
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c48 step %c32
// CHECK:             %[[ROTATED:.*]] = arith.cmpi ult, %{{.*}}, %c16
// CHECK:             scf.if %[[ROTATED]] {
// CHECK-COUNT-4:       memref.load
// CHECK:               %[[A:.*]] = arith.mulf %[[C:.*]], %[[X1:.*]] : f32
// CHECK:               %[[B:.*]] = arith.mulf %[[SN:.*]], %[[X2:.*]] : f32
// CHECK:               arith.subf %[[A]], %[[B]] : f32
// CHECK:             } else {
func.func @rotary(%x: tensor<1x8x?x64xf32> {kiln.dim_params = ["", "", "s", ""]},
                  %c: tensor<1x?x16xf32> {kiln.dim_params = ["", "s", ""]},
                  %s: tensor<1x?x16xf32> {kiln.dim_params = ["", "s", ""]},
                  %c2: tensor<?x32xf32> {kiln.dim_params = ["s", ""]},
                  %s2: tensor<?x32xf32> {kiln.dim_params = ["s", ""]}) -> (tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>) {
  %0 = kiln.rotary %x, %c, %s half dim 32 : tensor<1x8x?x64xf32>, tensor<1x?x16xf32>
  %1 = kiln.rotary %x, %c2, %s2 interleaved dim 64 : tensor<1x8x?x64xf32>, tensor<?x32xf32>
  return %0, %1 : tensor<1x8x?x64xf32>, tensor<1x8x?x64xf32>
}

// -----

// ONNX RotaryEmbedding, 3-D input [batch, seq, heads * head_size] with position_ids into a
// [max_position, dim/2] cache.

// CHECK-LABEL: func.func @onnx_rotary_embedding
// CHECK:       kiln.launch @kiln_kernels::@rotary_half_bshd_posi64_f32_f32_f32_f32_d16_r8(%arg0, %arg1, %arg2, %arg3)
// CHECK:       gpu.func @rotary_half_bshd_posi64_f32_f32_f32_f32_d16_r8(
// CHECK-SAME:    %arg3: memref<?xi64, #gpu.address_space<global>>
// CHECK-DAG:     arith.cmpi sge, %{{.*}}, %c0_i64 : i64
// CHECK-DAG:     arith.cmpi slt, %{{.*}}, %{{.*}} : i64
func.func @onnx_rotary_embedding(%x: tensor<2x?x48xf32> {kiln.dim_params = ["", "s", ""]},
                                 %c: tensor<64x4xf32>, %s: tensor<64x4xf32>,
                                 %p: tensor<2x?xi64> {kiln.dim_params = ["", "s"]}) -> tensor<2x?x48xf32> {
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %s, %p {num_heads = 3 : i64, rotary_embedding_dim = 8 : i64} : (tensor<2x?x48xf32>, tensor<64x4xf32>, tensor<64x4xf32>, tensor<2x?xi64>) -> tensor<2x?x48xf32>
  return %0 : tensor<2x?x48xf32>
}

// -----

func.func @f64_transcendental(%x: tensor<8xf64>) -> tensor<8xf64> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.Exp: f64 is not supported (the kernels approximate transcendental functions in f32 only)}}
  %0 = kiln.onnx.Exp %x : (tensor<8xf64>) -> tensor<8xf64>
  return %0 : tensor<8xf64>
}

// -----

func.func @f64_pow(%x: tensor<8xf64>, %y: tensor<8xf64>) -> tensor<8xf64> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.Pow: f64 powers with a non-constant or fractional exponent are not supported (no f64 exp/log approximation)}}
  %0 = kiln.onnx.Pow %x, %y : (tensor<8xf64>, tensor<8xf64>) -> tensor<8xf64>
  return %0 : tensor<8xf64>
}

// -----

func.func @dropout_training(%x: tensor<8xf32>, %t: tensor<i1>) -> tensor<8xf32> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.Dropout: Dropout whose training_mode is not a constant is not supported}}
  %0 = kiln.onnx.Dropout %x, %t {operandSegmentSizes = array<i32: 1, 0, 1>, resultSegmentSizes = array<i32: 1, 0>} : (tensor<8xf32>, tensor<i1>) -> (tensor<8xf32>)
  return %0 : tensor<8xf32>
}

// -----

func.func @rotary_dynamic_head_dim(%x: tensor<1x8x16x?xf32>, %c: tensor<16x16xf32>, %s: tensor<16x16xf32>) -> tensor<1x8x16x?xf32> {
  // expected-error @+1 {{GPU lowering of kiln.rotary: a dynamic head_dim is not supported}}
  %0 = kiln.rotary %x, %c, %s half dim 32 : tensor<1x8x16x?xf32>, tensor<16x16xf32>
  return %0 : tensor<1x8x16x?xf32>
}

// -----

func.func @rotary_embedding_dynamic_hidden(%x: tensor<1x16x?xf32>, %c: tensor<1x16x8xf32>, %s: tensor<1x16x8xf32>) -> tensor<1x16x?xf32> {
  // expected-error @+1 {{GPU lowering of kiln.onnx.RotaryEmbedding: a 3-D input needs a static hidden size divisible by num_heads}}
  %0 = kiln.onnx.RotaryEmbedding %x, %c, %s {num_heads = 2 : i64} : (tensor<1x16x?xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>) -> tensor<1x16x?xf32>
  return %0 : tensor<1x16x?xf32>
}
