// RUN: kiln-opt %s -split-input-file -kiln-kv-cache="max-seq-len=128 max-batch=4" -verify-diagnostics | FileCheck %s
// With if-applicable, modules that are no decoder are left unchanged (a name clash and a
// position table shorter than the context are still errors: hence `not`).
// RUN: not kiln-opt %s -split-input-file -kiln-kv-cache="if-applicable max-seq-len=128" 2>/dev/null | FileCheck %s --check-prefix=SKIP
// With fit-position-tables (kiln-compile without --max-seq-len), a short position table sets
// the context instead (the other failing cases still fail: hence `not`).
// RUN: not kiln-opt %s -split-input-file -kiln-kv-cache="max-seq-len=128 max-batch=4 fit-position-tables" 2>/dev/null | FileCheck %s --check-prefix=FIT
// RUN: not kiln-opt %s -split-input-file -kiln-kv-cache="max-seq-len=128 max-batch=4 fit-position-tables" 2>&1 >/dev/null | FileCheck %s --check-prefix=FIT-WARN

// A two-layer decoder with learned position embeddings (Gather of Range(0, seq, 1)) and GQA:
// @main stays, @decode and @prefill are added; each attention becomes a cache write and a
// cached attention of the same layer, and the position range becomes the positions argument.
// CHECK-LABEL: func.func @main(
// CHECK: kiln.onnx.Range
// CHECK-COUNT-2: kiln.attention
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<1x?xi64> {kiln.dim_params = ["", "seq"], kiln.name = "input_ids"}
// CHECK-SAME: %[[POS:[a-z0-9]+]]: tensor<?xi64> {kiln.dim_params = ["seq"], kiln.name = "kiln.positions"}
// CHECK-SAME: %[[SLOTS:[a-z0-9]+]]: tensor<?xi64> {kiln.dim_params = ["seq"], kiln.name = "kiln.slots"}
// CHECK-SAME: %[[C0:[a-z0-9]+]]: !kiln.kv_cache<layers = 2, max_batch = 4, kv_heads = 1, max_seq = 128, head_dim = 4, f32> {kiln.name = "kiln.kv_cache"}
// CHECK-SAME: -> (tensor<1x?x16xf32> {kiln.name = "logits"}, !kiln.kv_cache<layers = 2, max_batch = 4, kv_heads = 1, max_seq = 128, head_dim = 4, f32> {kiln.name = "kiln.kv_cache"})
// CHECK-SAME: attributes {kiln.dim_max = {seq = 128 : i64}, kiln.entry = "prefill"}
// CHECK-NOT: kiln.onnx.Range
// CHECK: kiln.onnx.Gather %{{.*}}, %[[POS]]
// CHECK: %[[C1:.*]] = kiln.kv_cache.write %[[C0]] layer 0, %{{.*}}, %{{.*}} at %[[POS]] slots %[[SLOTS]]
// CHECK: kiln.kv_cache.attention %{{.*}}, %[[C1]] layer 0 at %[[POS]] slots %[[SLOTS]] heads 2 scale 5.000000e-01 prefill
// CHECK: %[[C2:.*]] = kiln.kv_cache.write %[[C1]] layer 1,
// CHECK: kiln.kv_cache.attention %{{.*}}, %[[C2]] layer 1 at %[[POS]] slots %[[SLOTS]] heads 2 scale 5.000000e-01 prefill
// CHECK-NOT: kiln.attention
// CHECK: return %{{.*}}, %[[C2]]
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: attributes {kiln.dim_max = {seq = 4 : i64}, kiln.entry = "decode"}
// CHECK: kiln.kv_cache.write
// CHECK: kiln.kv_cache.attention %{{.*}} heads 2 scale 5.000000e-01 :
// CHECK: kiln.kv_cache.write
// CHECK: kiln.kv_cache.attention %{{.*}} heads 2 scale 5.000000e-01 :
// SKIP-LABEL: func.func @main(
// SKIP-LABEL: func.func @prefill(
// SKIP-LABEL: func.func @decode(
func.func @main(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"], kiln.name = "input_ids"})
    -> (tensor<1x?x16xf32> {kiln.name = "logits"}) {
  %wte = kiln.constant dense<0.25> : tensor<16x8xf32>
  %wpe = kiln.constant dense<0.125> : tensor<128x8xf32>
  %wq = kiln.constant dense<0.01> : tensor<8x8xf32>
  %wkv = kiln.constant dense<0.02> : tensor<4x8xf32>
  %wout = kiln.constant dense<0.03> : tensor<16x8xf32>
  %zero = kiln.constant dense<0> : tensor<i64>
  %one = kiln.constant dense<1> : tensor<i64>
  %qshape = kiln.constant dense<[1, -1, 2, 4]> : tensor<4xi64>
  %kvshape = kiln.constant dense<[1, -1, 1, 4]> : tensor<4xi64>
  %oshape = kiln.constant dense<[1, -1, 8]> : tensor<3xi64>
  %shape = kiln.onnx.Shape %ids {end = 2 : i64, start = 1 : i64} : (tensor<1x?xi64>) -> tensor<1xi64>
  %len = kiln.onnx.Squeeze %shape : (tensor<1xi64>) -> tensor<i64>
  %pos = kiln.onnx.Range %zero, %len, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %tok = kiln.onnx.Gather %wte, %ids : (tensor<16x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %pe = kiln.onnx.Gather %wpe, %pos : (tensor<128x8xf32>, tensor<?xi64>) -> tensor<?x8xf32>
  %x0 = kiln.onnx.Add %tok, %pe : (tensor<1x?x8xf32>, tensor<?x8xf32>) -> tensor<1x?x8xf32>
  // layer 0
  %q0 = kiln.linear %x0, %wq : tensor<1x?x8xf32>, tensor<8x8xf32> -> tensor<1x?x8xf32>
  %k0 = kiln.linear %x0, %wkv : tensor<1x?x8xf32>, tensor<4x8xf32> -> tensor<1x?x4xf32>
  %q0r = kiln.onnx.Reshape %q0, %qshape : (tensor<1x?x8xf32>, tensor<4xi64>) -> tensor<1x?x2x4xf32>
  %k0r = kiln.onnx.Reshape %k0, %kvshape : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x?x1x4xf32>
  %q0t = kiln.onnx.Transpose %q0r {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x4xf32>) -> tensor<1x2x?x4xf32>
  %k0t = kiln.onnx.Transpose %k0r {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x1x4xf32>) -> tensor<1x1x?x4xf32>
  %a0 = kiln.attention %q0t, %k0t, %k0t heads 2 kv_heads 1 head_dim 4 scale 0.5 causal : tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32> -> tensor<1x2x?x4xf32>
  %a0t = kiln.onnx.Transpose %a0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x?x4xf32>) -> tensor<1x?x2x4xf32>
  %x1 = kiln.onnx.Reshape %a0t, %oshape : (tensor<1x?x2x4xf32>, tensor<3xi64>) -> tensor<1x?x8xf32>
  // layer 1
  %q1 = kiln.linear %x1, %wq : tensor<1x?x8xf32>, tensor<8x8xf32> -> tensor<1x?x8xf32>
  %k1 = kiln.linear %x1, %wkv : tensor<1x?x8xf32>, tensor<4x8xf32> -> tensor<1x?x4xf32>
  %q1r = kiln.onnx.Reshape %q1, %qshape : (tensor<1x?x8xf32>, tensor<4xi64>) -> tensor<1x?x2x4xf32>
  %k1r = kiln.onnx.Reshape %k1, %kvshape : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x?x1x4xf32>
  %q1t = kiln.onnx.Transpose %q1r {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x4xf32>) -> tensor<1x2x?x4xf32>
  %k1t = kiln.onnx.Transpose %k1r {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x1x4xf32>) -> tensor<1x1x?x4xf32>
  %a1 = kiln.attention %q1t, %k1t, %k1t heads 2 kv_heads 1 head_dim 4 scale 0.5 causal : tensor<1x2x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32> -> tensor<1x2x?x4xf32>
  %a1t = kiln.onnx.Transpose %a1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x?x4xf32>) -> tensor<1x?x2x4xf32>
  %x2 = kiln.onnx.Reshape %a1t, %oshape : (tensor<1x?x2x4xf32>, tensor<3xi64>) -> tensor<1x?x8xf32>
  %logits = kiln.linear %x2, %wout : tensor<1x?x8xf32>, tensor<16x8xf32> -> tensor<1x?x16xf32>
  return %logits : tensor<1x?x16xf32>
}

// -----

// A learned position table (reached through Unsqueeze) with 64 rows cannot serve a 128-token
// context: positions 64..127 would read outside it. An error even with if-applicable: the
// model is a decoder, the context asked for is too long for it.
// FIT-WARN: warning: kiln-kv-cache: this position table has 64 rows: the context (max-seq-len) is 64, not 128
// FIT: func.func @prefill({{.*}}max_seq = 64
// FIT-SAME: attributes {kiln.dim_max = {seq = 64 : i64}, kiln.entry = "prefill"}
// FIT: func.func @decode({{.*}}max_seq = 64
func.func @main(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"], kiln.name = "input_ids"})
    -> (tensor<1x?x16xf32> {kiln.name = "logits"}) {
  %wte = kiln.constant dense<0.25> : tensor<16x4xf32>
  %wpe = kiln.constant dense<0.125> : tensor<64x4xf32>
  %wout = kiln.constant dense<0.03> : tensor<16x4xf32>
  %zero = kiln.constant dense<0> : tensor<i64>
  %one = kiln.constant dense<1> : tensor<i64>
  %axes = kiln.constant dense<0> : tensor<1xi64>
  %shape4 = kiln.constant dense<[1, 1, -1, 4]> : tensor<4xi64>
  %shape3 = kiln.constant dense<[1, -1, 4]> : tensor<3xi64>
  %shape = kiln.onnx.Shape %ids {end = 2 : i64, start = 1 : i64} : (tensor<1x?xi64>) -> tensor<1xi64>
  %len = kiln.onnx.Squeeze %shape : (tensor<1xi64>) -> tensor<i64>
  %pos = kiln.onnx.Range %zero, %len, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %pos2 = kiln.onnx.Unsqueeze %pos, %axes : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %tok = kiln.onnx.Gather %wte, %ids : (tensor<16x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  // expected-error @+1 {{kiln-kv-cache: this position table has 64 rows, fewer than max-seq-len 128: positions past 63 would read outside it; compile with --max-seq-len 64 or less}}
  %pe = kiln.onnx.Gather %wpe, %pos2 : (tensor<64x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %x = kiln.onnx.Add %tok, %pe : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  %q = kiln.onnx.Reshape %x, %shape4 : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x1x?x4xf32>
  %a = kiln.attention %q, %q, %q heads 1 kv_heads 1 head_dim 4 scale 0.5 causal : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32> -> tensor<1x1x?x4xf32>
  %y = kiln.onnx.Reshape %a, %shape3 : (tensor<1x1x?x4xf32>, tensor<3xi64>) -> tensor<1x?x4xf32>
  %logits = kiln.linear %y, %wout : tensor<1x?x4xf32>, tensor<16x4xf32> -> tensor<1x?x16xf32>
  return %logits : tensor<1x?x16xf32>
}

// -----

// An encoder (attention not causal) is refused, naming the attention op; with if-applicable
// the module is left as it was.
// SKIP-LABEL: func.func @main(
// SKIP-NOT: func.func @prefill
func.func @main(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"]}) -> tensor<1x?x4xf32> {
  %w = kiln.constant dense<0.25> : tensor<16x4xf32>
  %shape = kiln.constant dense<[1, 1, -1, 4]> : tensor<4xi64>
  %back = kiln.constant dense<[1, -1, 4]> : tensor<3xi64>
  %x = kiln.onnx.Gather %w, %ids : (tensor<16x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %q = kiln.onnx.Reshape %x, %shape : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x1x?x4xf32>
  // expected-error @+1 {{kiln-kv-cache: cannot derive prefill/decode entries: attention is not causal without a mask}}
  %a = kiln.attention %q, %q, %q heads 1 kv_heads 1 head_dim 4 scale 0.5 : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32> -> tensor<1x1x?x4xf32>
  %y = kiln.onnx.Reshape %a, %back : (tensor<1x1x?x4xf32>, tensor<3xi64>) -> tensor<1x?x4xf32>
  return %y : tensor<1x?x4xf32>
}

// -----

// A fixed-shape export has no dynamic sequence to decode along.
// expected-error @+1 {{kiln-kv-cache: cannot derive prefill/decode entries: the input's sequence dim is static (8)}}
func.func @main(%ids: tensor<1x8xi64>) -> tensor<1x8x4xf32> {
  %w = kiln.constant dense<0.25> : tensor<16x4xf32>
  %x = kiln.onnx.Gather %w, %ids : (tensor<16x4xf32>, tensor<1x8xi64>) -> tensor<1x8x4xf32>
  return %x : tensor<1x8x4xf32>
}

// -----

// A cumulative sum over the tokens mixes them outside attention.
func.func @main(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"]}) -> tensor<1x?x4xf32> {
  %w = kiln.constant dense<0.25> : tensor<16x4xf32>
  %axis = kiln.constant dense<1> : tensor<i64>
  %shape = kiln.constant dense<[1, 1, -1, 4]> : tensor<4xi64>
  %back = kiln.constant dense<[1, -1, 4]> : tensor<3xi64>
  %x = kiln.onnx.Gather %w, %ids : (tensor<16x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  // expected-error @+1 {{'kiln.onnx.CumSum' over the sequence mixes tokens outside attention}}
  %c = kiln.onnx.CumSum %x, %axis : (tensor<1x?x4xf32>, tensor<i64>) -> tensor<1x?x4xf32>
  %q = kiln.onnx.Reshape %c, %shape : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x1x?x4xf32>
  %a = kiln.attention %q, %q, %q heads 1 kv_heads 1 head_dim 4 scale 0.5 causal : tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32> -> tensor<1x1x?x4xf32>
  %y = kiln.onnx.Reshape %a, %back : (tensor<1x1x?x4xf32>, tensor<3xi64>) -> tensor<1x?x4xf32>
  return %y : tensor<1x?x4xf32>
}

// -----

// The entry names are taken.
// expected-error @+1 {{kiln-kv-cache: the module already has a @decode}}
module {
  func.func @main(%ids: tensor<1x?xi64>) -> tensor<1x?xi64> {
    return %ids : tensor<1x?xi64>
  }
  func.func @decode() {
    return
  }
}
