// RUN: kiln-opt %s -split-input-file --pass-pipeline='builtin.module(kiln-graph-to-transformer)' | FileCheck %s
// RUN: kiln-opt %s -split-input-file --pass-pipeline='builtin.module(kiln-graph-to-transformer{remarks=true merge-qkv=false})' -verify-diagnostics | FileCheck %s --check-prefix=NOMERGE

// The graph-level pipeline on one decoder attention block as exporters write it: RMSNorm,
// three projections, a shape subgraph for the head split, a causal mask built from Trilu of
// ones, scale, softmax. simplify folds the shape and mask subgraphs, raise turns the norm and
// projections into kiln ops (Q/K/V merged into one linear and a Split unless merge-qkv=false),
// fuse-attention proves the folded mask causal, and the last simplify removes what is dead.

// CHECK-LABEL: func.func @decoder_block
// CHECK: kiln.rms_norm %arg0
// CHECK: %[[QKV:.*]] = kiln.linear {{.*}} -> tensor<1x8x48xf32>
// CHECK: kiln.onnx.Split %[[QKV]]
// CHECK: kiln.attention {{.*}} heads 2 kv_heads 2 head_dim 8 scale 0.353553385 causal
// CHECK-NOT: kiln.onnx.Softmax
// CHECK-NOT: kiln.onnx.Shape
// CHECK-NOT: kiln.onnx.Trilu
// CHECK-NOT: kiln.onnx.ReduceMean
// NOMERGE-LABEL: func.func @decoder_block
// NOMERGE-COUNT-3: kiln.linear {{.*}} -> tensor<1x8x16xf32>
// NOMERGE-NOT: kiln.onnx.Split
// NOMERGE: kiln.attention {{.*}} causal
func.func @decoder_block(%x: tensor<1x8x16xf32>) -> tensor<1x2x8x8xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %last = kiln.constant dense<-1> : tensor<1xi64>
  %eps = kiln.constant dense<1.0e-06> : tensor<f32>
  %gamma = kiln.constant dense<1.5> : tensor<16xf32>
  %sq = kiln.onnx.Pow %x, %two : (tensor<1x8x16xf32>, tensor<f32>) -> tensor<1x8x16xf32>
  %ms = kiln.onnx.ReduceMean %sq, %last : (tensor<1x8x16xf32>, tensor<1xi64>) -> tensor<1x8x1xf32>
  %ve = kiln.onnx.Add %ms, %eps : (tensor<1x8x1xf32>, tensor<f32>) -> tensor<1x8x1xf32>
  %sd = kiln.onnx.Sqrt %ve : (tensor<1x8x1xf32>) -> tensor<1x8x1xf32>
  %inv = kiln.onnx.Reciprocal %sd : (tensor<1x8x1xf32>) -> tensor<1x8x1xf32>
  %nx = kiln.onnx.Mul %x, %inv : (tensor<1x8x16xf32>, tensor<1x8x1xf32>) -> tensor<1x8x16xf32>
  %h = kiln.onnx.Mul %gamma, %nx : (tensor<16xf32>, tensor<1x8x16xf32>) -> tensor<1x8x16xf32>
  %wq = kiln.constant dense<0.01> : tensor<16x16xf32>
  %wk = kiln.constant dense<0.02> : tensor<16x16xf32>
  %wv = kiln.constant dense<0.03> : tensor<16x16xf32>
  %q0 = kiln.onnx.MatMul %h, %wq : (tensor<1x8x16xf32>, tensor<16x16xf32>) -> tensor<1x8x16xf32>
  %k0 = kiln.onnx.MatMul %h, %wk : (tensor<1x8x16xf32>, tensor<16x16xf32>) -> tensor<1x8x16xf32>
  %v0 = kiln.onnx.MatMul %h, %wv : (tensor<1x8x16xf32>, tensor<16x16xf32>) -> tensor<1x8x16xf32>
  // [1, 8, 2, 8] from Shape: batch and seq read from x.
  %s = kiln.onnx.Shape %x {end = 2 : i64} : (tensor<1x8x16xf32>) -> tensor<2xi64>
  %heads = kiln.constant dense<[2, 8]> : tensor<2xi64>
  %hs = kiln.onnx.Concat %s, %heads {axis = 0 : i64} : (tensor<2xi64>, tensor<2xi64>) -> tensor<4xi64>
  %q1 = kiln.onnx.Reshape %q0, %hs : (tensor<1x8x16xf32>, tensor<4xi64>) -> tensor<*xf32>
  %k1 = kiln.onnx.Reshape %k0, %hs : (tensor<1x8x16xf32>, tensor<4xi64>) -> tensor<*xf32>
  %v1 = kiln.onnx.Reshape %v0, %hs : (tensor<1x8x16xf32>, tensor<4xi64>) -> tensor<*xf32>
  %q = kiln.onnx.Transpose %q1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<*xf32>) -> tensor<*xf32>
  %kt = kiln.onnx.Transpose %k1 {perm = array<i64: 0, 2, 3, 1>} : (tensor<*xf32>) -> tensor<*xf32>
  %v = kiln.onnx.Transpose %v1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<*xf32>) -> tensor<*xf32>
  // Causal mask: Trilu of ones, 0 where kept, -inf elsewhere.
  %ss = kiln.constant dense<[8, 8]> : tensor<2xi64>
  %ones = kiln.onnx.ConstantOfShape %ss {value = dense<1.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<8x8xf32>
  %tril = kiln.onnx.Trilu %ones {upper = 0 : i64} : (tensor<8x8xf32>) -> tensor<8x8xf32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %keep = kiln.onnx.Equal %tril, %one : (tensor<8x8xf32>, tensor<f32>) -> tensor<8x8xi1>
  %zero = kiln.constant dense<0.0> : tensor<f32>
  %ninf = kiln.constant dense<0xFF800000> : tensor<f32>
  %mask = kiln.onnx.Where %keep, %zero, %ninf : (tensor<8x8xi1>, tensor<f32>, tensor<f32>) -> tensor<8x8xf32>
  %scores = kiln.onnx.MatMul %q, %kt : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  %scale = kiln.constant dense<0.353553385> : tensor<f32>
  %scaled = kiln.onnx.Mul %scores, %scale : (tensor<*xf32>, tensor<f32>) -> tensor<*xf32>
  %masked = kiln.onnx.Add %scaled, %mask : (tensor<*xf32>, tensor<8x8xf32>) -> tensor<*xf32>
  %p = kiln.onnx.Softmax %masked {axis = -1 : i64} : (tensor<*xf32>) -> tensor<*xf32>
  %o = kiln.onnx.MatMul %p, %v : (tensor<*xf32>, tensor<*xf32>) -> tensor<1x2x8x8xf32>
  return %o : tensor<1x2x8x8xf32>
}
