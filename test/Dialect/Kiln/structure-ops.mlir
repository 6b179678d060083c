// RUN: kiln-opt %s -split-input-file | kiln-opt -split-input-file | FileCheck %s
// RUN: kiln-opt %s -split-input-file -mlir-print-op-generic | kiln-opt -split-input-file | FileCheck %s

// Round trip of the structure ops (kiln.layer, kiln.layer_group, kiln.yield, kiln.kv_cache.*)
// and of the !kiln.kv_cache type.

//===----------------------------------------------------------------------===//
// kiln.layer
//===----------------------------------------------------------------------===//

// A layer with several inputs (hidden state, weights) and several results: its body sees
// only its block arguments, bound to the operands in order, and yields the results in order.
// CHECK-LABEL: func.func @layer_multi
// CHECK-SAME: (%[[H:[a-z0-9]+]]: tensor<1x32x128xf32>, %[[G:[a-z0-9]+]]: tensor<128xf32>, %[[W:[a-z0-9]+]]: tensor<128x128xf32>)
// CHECK: %[[L:[a-z0-9_]+]]:2 = kiln.layer 7(%[[H]], %[[G]], %[[W]]) : (tensor<1x32x128xf32>, tensor<128xf32>, tensor<128x128xf32>) -> (tensor<1x32x128xf32>, tensor<1x32x128xf32>) {
// CHECK-NEXT: ^bb0(%[[X:[a-z0-9]+]]: tensor<1x32x128xf32>, %[[S:[a-z0-9]+]]: tensor<128xf32>, %[[WQ:[a-z0-9]+]]: tensor<128x128xf32>):
// CHECK-NEXT: %[[N:[a-z0-9_]+]] = kiln.rms_norm %[[X]], %[[S]] eps
// CHECK-NEXT: %[[Y:[a-z0-9_]+]] = kiln.linear %[[N]], %[[WQ]] residual(%[[X]] : tensor<1x32x128xf32>)
// CHECK-NEXT: kiln.yield %[[Y]], %[[N]] : tensor<1x32x128xf32>, tensor<1x32x128xf32>
// CHECK-NEXT: }
// CHECK-NEXT: return %[[L]]#0, %[[L]]#1
func.func @layer_multi(%h: tensor<1x32x128xf32>, %g: tensor<128xf32>, %w: tensor<128x128xf32>)
    -> (tensor<1x32x128xf32>, tensor<1x32x128xf32>) {
  %out:2 = kiln.layer 7 (%h, %g, %w)
      : (tensor<1x32x128xf32>, tensor<128xf32>, tensor<128x128xf32>)
      -> (tensor<1x32x128xf32>, tensor<1x32x128xf32>) {
  ^bb0(%x: tensor<1x32x128xf32>, %scale: tensor<128xf32>, %wq: tensor<128x128xf32>):
    %n = kiln.rms_norm %x, %scale eps 1.0e-06 : tensor<1x32x128xf32>, tensor<128xf32>
    %y = kiln.linear %n, %wq residual(%x : tensor<1x32x128xf32>)
        : tensor<1x32x128xf32>, tensor<128x128xf32> -> tensor<1x32x128xf32>
    kiln.yield %y, %n : tensor<1x32x128xf32>, tensor<1x32x128xf32>
  }
  return %out#0, %out#1 : tensor<1x32x128xf32>, tensor<1x32x128xf32>
}

// -----

// A layer with neither inputs nor results: the body has no arguments, the yield no values.
// CHECK-LABEL: func.func @layer_empty
// CHECK: kiln.layer 0() : () -> () {
// CHECK-NEXT: kiln.yield{{$}}
// CHECK-NEXT: }
func.func @layer_empty() {
  kiln.layer 0 () : () -> () {
    kiln.yield
  }
  return
}

// -----

// A layer whose body holds an attention block, with dynamic dims and an attribute dictionary.
// CHECK-LABEL: func.func @layer_attention
// CHECK: kiln.layer 3(%{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}) {kiln.note = "attn"} : (tensor<?x4x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>) -> tensor<?x4x?x32xf16> {
// CHECK: kiln.attention %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} heads 4 kv_heads 2 head_dim 32 scale 0.176776692 causal
// CHECK: kiln.yield %{{[a-z0-9_]+}} : tensor<?x4x?x32xf16>
func.func @layer_attention(%q: tensor<?x4x?x32xf16>, %k: tensor<?x2x?x32xf16>,
                           %v: tensor<?x2x?x32xf16>) -> tensor<?x4x?x32xf16> {
  %o = kiln.layer 3 (%q, %k, %v) {kiln.note = "attn"}
      : (tensor<?x4x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>)
      -> tensor<?x4x?x32xf16> {
  ^bb0(%bq: tensor<?x4x?x32xf16>, %bk: tensor<?x2x?x32xf16>, %bv: tensor<?x2x?x32xf16>):
    %a = kiln.attention %bq, %bk, %bv heads 4 kv_heads 2 head_dim 32 scale 0.17677669 causal
        : tensor<?x4x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>
        -> tensor<?x4x?x32xf16>
    kiln.yield %a : tensor<?x4x?x32xf16>
  }
  return %o : tensor<?x4x?x32xf16>
}

//===----------------------------------------------------------------------===//
// kiln.layer_group
//===----------------------------------------------------------------------===//

// -----

// Three consecutive layers in one group; each layer's weight enters the group as an operand.
// CHECK-LABEL: func.func @layer_group
// CHECK: %[[R:[a-z0-9_]+]] = kiln.layer_group(%{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}}) : (tensor<1x32x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<1x32x128xf32> {
// CHECK-NEXT: ^bb0(%[[X:[a-z0-9]+]]: tensor<1x32x128xf32>, %[[A:[a-z0-9]+]]: tensor<128x128xf32>, %[[B:[a-z0-9]+]]: tensor<128x128xf32>, %[[C:[a-z0-9]+]]: tensor<128x128xf32>):
// CHECK-NEXT: %[[Y2:[a-z0-9_]+]] = kiln.layer 2(%[[X]], %[[A]]) : (tensor<1x32x128xf32>, tensor<128x128xf32>) -> tensor<1x32x128xf32> {
// CHECK: kiln.linear
// CHECK: kiln.yield
// CHECK: %[[Y3:[a-z0-9_]+]] = kiln.layer 3(%[[Y2]], %[[B]])
// CHECK: kiln.silu
// CHECK: kiln.yield
// CHECK: %[[Y4:[a-z0-9_]+]] = kiln.layer 4(%[[Y3]], %[[C]])
// CHECK: kiln.gelu %{{[a-z0-9_]+}} approximate tanh
// CHECK: kiln.yield
// CHECK: kiln.yield %[[Y4]] : tensor<1x32x128xf32>
// CHECK-NEXT: }
// CHECK-NEXT: return %[[R]]
func.func @layer_group(%h: tensor<1x32x128xf32>, %w2: tensor<128x128xf32>,
                       %w3: tensor<128x128xf32>, %w4: tensor<128x128xf32>)
    -> tensor<1x32x128xf32> {
  %r = kiln.layer_group (%h, %w2, %w3, %w4)
      : (tensor<1x32x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>)
      -> tensor<1x32x128xf32> {
  ^bb0(%x: tensor<1x32x128xf32>, %a: tensor<128x128xf32>, %b: tensor<128x128xf32>,
       %c: tensor<128x128xf32>):
    %y2 = kiln.layer 2 (%x, %a) : (tensor<1x32x128xf32>, tensor<128x128xf32>)
        -> tensor<1x32x128xf32> {
    ^bb0(%in: tensor<1x32x128xf32>, %w: tensor<128x128xf32>):
      %t = kiln.linear %in, %w : tensor<1x32x128xf32>, tensor<128x128xf32> -> tensor<1x32x128xf32>
      kiln.yield %t : tensor<1x32x128xf32>
    }
    %y3 = kiln.layer 3 (%y2, %b) : (tensor<1x32x128xf32>, tensor<128x128xf32>)
        -> tensor<1x32x128xf32> {
    ^bb0(%in: tensor<1x32x128xf32>, %w: tensor<128x128xf32>):
      %t = kiln.linear %in, %w : tensor<1x32x128xf32>, tensor<128x128xf32> -> tensor<1x32x128xf32>
      %s = kiln.silu %t : tensor<1x32x128xf32>
      kiln.yield %s : tensor<1x32x128xf32>
    }
    %y4 = kiln.layer 4 (%y3, %c) : (tensor<1x32x128xf32>, tensor<128x128xf32>)
        -> tensor<1x32x128xf32> {
    ^bb0(%in: tensor<1x32x128xf32>, %w: tensor<128x128xf32>):
      %t = kiln.linear %in, %w : tensor<1x32x128xf32>, tensor<128x128xf32> -> tensor<1x32x128xf32>
      %s = kiln.gelu %t approximate tanh : tensor<1x32x128xf32>
      kiln.yield %s : tensor<1x32x128xf32>
    }
    kiln.yield %y4 : tensor<1x32x128xf32>
  }
  return %r : tensor<1x32x128xf32>
}

// -----

// A group of one layer, with two results.
// CHECK-LABEL: func.func @layer_group_single
// CHECK: %{{[a-z0-9_]+}}:2 = kiln.layer_group(%{{[a-z0-9_]+}}) : (tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
// CHECK: %[[L:[a-z0-9_]+]]:2 = kiln.layer 0(%{{[a-z0-9_]+}}) : (tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
// CHECK: kiln.yield %[[L]]#0, %[[L]]#1 : tensor<8xf32>, tensor<8xf32>
func.func @layer_group_single(%h: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %r:2 = kiln.layer_group (%h) : (tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  ^bb0(%x: tensor<8xf32>):
    %l:2 = kiln.layer 0 (%x) : (tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
    ^bb0(%in: tensor<8xf32>):
      %s = kiln.silu %in : tensor<8xf32>
      kiln.yield %in, %s : tensor<8xf32>, tensor<8xf32>
    }
    kiln.yield %l#0, %l#1 : tensor<8xf32>, tensor<8xf32>
  }
  return %r#0, %r#1 : tensor<8xf32>, tensor<8xf32>
}

//===----------------------------------------------------------------------===//
// !kiln.kv_cache and kiln.kv_cache.*
//===----------------------------------------------------------------------===//

// -----

// The type alone, in f16 and bf16 (and f32), as function arguments and results.
// CHECK-LABEL: func.func @kv_cache_types
// CHECK-SAME: !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 2, max_seq = 2048, head_dim = 64, f16>
// CHECK-SAME: !kiln.kv_cache<layers = 32, max_batch = 1, kv_heads = 8, max_seq = 4096, head_dim = 128, bf16>
// CHECK-SAME: !kiln.kv_cache<layers = 1, max_batch = 1, kv_heads = 1, max_seq = 1, head_dim = 1, f32>
// CHECK-SAME: -> !kiln.kv_cache<layers = 32, max_batch = 1, kv_heads = 8, max_seq = 4096, head_dim = 128, bf16>
func.func @kv_cache_types(
    %a: !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 2, max_seq = 2048, head_dim = 64, f16>,
    %b: !kiln.kv_cache<layers = 32, max_batch = 1, kv_heads = 8, max_seq = 4096, head_dim = 128, bf16>,
    %c: !kiln.kv_cache<layers = 1, max_batch = 1, kv_heads = 1, max_seq = 1, head_dim = 1, f32>)
    -> !kiln.kv_cache<layers = 32, max_batch = 1, kv_heads = 8, max_seq = 4096, head_dim = 128, bf16> {
  return %b : !kiln.kv_cache<layers = 32, max_batch = 1, kv_heads = 8, max_seq = 4096, head_dim = 128, bf16>
}

// -----

// Create, write the K/V of a prompt's tokens, attend over the cache (f16, prefill).
// CHECK-LABEL: func.func @kv_cache_f16
// CHECK: %[[C0:[a-z0-9_]+]] = kiln.kv_cache.create : <layers = 2, max_batch = 1, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>
// CHECK: %[[C1:[a-z0-9_]+]] = kiln.kv_cache.write %[[C0]] layer 0, %arg1, %arg2 at %arg3 slots %arg4 : <layers = 2, max_batch = 1, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>, tensor<1x2x16x32xf16>, tensor<16xi64>
// CHECK: %[[O:[a-z0-9_]+]] = kiln.kv_cache.attention %arg0, %[[C1]] layer 0 at %arg3 slots %arg4 heads 8 scale 1.767800e-01 prefill : tensor<1x8x16x32xf16>, <layers = 2, max_batch = 1, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>, tensor<16xi64>
// CHECK: return %[[O]], %[[C1]]
func.func @kv_cache_f16(%q: tensor<1x8x16x32xf16>, %k: tensor<1x2x16x32xf16>,
                        %v: tensor<1x2x16x32xf16>, %pos: tensor<16xi64>, %slots: tensor<16xi64>)
    -> (tensor<1x8x16x32xf16>,
        !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>) {
  %c0 = kiln.kv_cache.create
      : !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>
  %c1 = kiln.kv_cache.write %c0 layer 0, %k, %v at %pos slots %slots
      : !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>,
        tensor<1x2x16x32xf16>, tensor<16xi64>
  %o = kiln.kv_cache.attention %q, %c1 layer 0 at %pos slots %slots heads 8 scale 0.17678 prefill
      : tensor<1x8x16x32xf16>,
        !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>,
        tensor<16xi64>
  return %o, %c1 : tensor<1x8x16x32xf16>,
      !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 2048, head_dim = 32, f16>
}

// -----

// A decode step in bf16 on the last layer: one new token for each of a dynamic number of
// sequences (MQA), and the cache threaded through a layer as an operand.
// CHECK-LABEL: func.func @kv_cache_bf16_decode
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>
// CHECK: %[[W:[a-z0-9_]+]] = kiln.kv_cache.write %[[CACHE]] layer 3, %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} at %{{[a-z0-9_]+}} slots %{{[a-z0-9_]+}} : <layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>, tensor<1x1x?x64xbf16>, tensor<?xi64>
// CHECK: kiln.kv_cache.attention %{{[a-z0-9_]+}}, %[[W]] layer 3 at %{{[a-z0-9_]+}} slots %{{[a-z0-9_]+}} heads 4 scale 1.250000e-01 : tensor<1x4x?x64xbf16>
// CHECK: kiln.layer 3(%[[W]]) : (!kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>) -> !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16> {
func.func @kv_cache_bf16_decode(
    %cache: !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>,
    %q: tensor<1x4x?x64xbf16>, %k: tensor<1x1x?x64xbf16>, %v: tensor<1x1x?x64xbf16>,
    %pos: tensor<?xi64>, %slots: tensor<?xi64>)
    -> (tensor<1x4x?x64xbf16>,
        !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>) {
  %w = kiln.kv_cache.write %cache layer 3, %k, %v at %pos slots %slots
      : !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>,
        tensor<1x1x?x64xbf16>, tensor<?xi64>
  %o = kiln.kv_cache.attention %q, %w layer 3 at %pos slots %slots heads 4 scale 0.125
      : tensor<1x4x?x64xbf16>,
        !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>,
        tensor<?xi64>
  %l = kiln.layer 3 (%w)
      : (!kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>)
      -> !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16> {
  ^bb0(%c: !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>):
    kiln.yield %c
        : !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>
  }
  return %o, %l
      : tensor<1x4x?x64xbf16>,
        !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 1, max_seq = 512, head_dim = 64, bf16>
}
