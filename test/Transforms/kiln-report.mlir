// RUN: kiln-opt %s -split-input-file -kiln-report -verify-diagnostics -o /dev/null | FileCheck %s

// A decomposed graph: only graph ops and constants are counted.

// CHECK-LABEL: kiln-report @decomposed
// CHECK-NEXT:   graph ops: 3 (MatMul 2, Softmax 1)
// CHECK-NEXT:   constants: 1
// CHECK-NEXT:   attention: 0
// CHECK-NEXT:   linear: 0
func.func @decomposed(%q: tensor<4x32x32xf32>, %kt: tensor<4x32x32xf32>) -> tensor<4x32x32xf32> {
  %s = kiln.onnx.MatMul %q, %kt : (tensor<4x32x32xf32>, tensor<4x32x32xf32>) -> tensor<4x32x32xf32>
  %p = kiln.onnx.Softmax %s {axis = -1 : i64} : (tensor<4x32x32xf32>) -> tensor<4x32x32xf32>
  %c = kiln.constant dense<1.0> : tensor<4x32x32xf32>
  %o = kiln.onnx.MatMul %p, %c : (tensor<4x32x32xf32>, tensor<4x32x32xf32>) -> tensor<4x32x32xf32>
  return %o : tensor<4x32x32xf32>
}

// -----

// Fused ops inside layers and a layer group; attention configurations are grouped.

// CHECK-LABEL: kiln-report @fused
// CHECK-NEXT:   graph ops: 0
// CHECK-NEXT:   constants: 0
// CHECK-NEXT:   attention: 2 (heads 4, kv_heads 2, head_dim 32 x2; causal 2, masked 0)
// CHECK-NEXT:   linear: 2 (gelu_tanh 1, none 1)
// CHECK-NEXT:   norms: layer_norm 0, rms_norm 2
// CHECK-NEXT:   rotary: 0, activations: 0
// CHECK-NEXT:   layers: 2, layer groups: 1 ([0, 2))
// CHECK-NEXT:   kv caches: 1 (!kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 1024, head_dim = 32, f32>, 1048576 bytes)
func.func @fused(%x: tensor<1x4x32x32xf32>, %kv: tensor<1x2x32x32xf32>, %h: tensor<1x32x128xf32>,
                 %w: tensor<128x128xf32>, %g: tensor<128xf32>) -> tensor<1x32x128xf32> {
  %cache = kiln.kv_cache.create : !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 1024, head_dim = 32, f32>
  %r = kiln.layer_group (%x, %kv, %h, %w, %g) : (tensor<1x4x32x32xf32>, tensor<1x2x32x32xf32>, tensor<1x32x128xf32>, tensor<128x128xf32>, tensor<128xf32>) -> tensor<1x32x128xf32> {
  ^bb0(%q: tensor<1x4x32x32xf32>, %k: tensor<1x2x32x32xf32>, %h0: tensor<1x32x128xf32>, %w0: tensor<128x128xf32>, %g0: tensor<128xf32>):
    %l0 = kiln.layer 0 (%q, %k, %h0, %w0, %g0) : (tensor<1x4x32x32xf32>, tensor<1x2x32x32xf32>, tensor<1x32x128xf32>, tensor<128x128xf32>, tensor<128xf32>) -> tensor<1x32x128xf32> {
    ^bb0(%a: tensor<1x4x32x32xf32>, %b: tensor<1x2x32x32xf32>, %c: tensor<1x32x128xf32>, %d: tensor<128x128xf32>, %e: tensor<128xf32>):
      %att = kiln.attention %a, %b, %b heads 4 kv_heads 2 head_dim 32 scale 0.17677669 causal : tensor<1x4x32x32xf32>, tensor<1x2x32x32xf32>, tensor<1x2x32x32xf32> -> tensor<1x4x32x32xf32>
      %n = kiln.rms_norm %c, %e eps 1.0e-06 : tensor<1x32x128xf32>, tensor<128xf32>
      %y = kiln.linear %n, %d act gelu_tanh : tensor<1x32x128xf32>, tensor<128x128xf32> -> tensor<1x32x128xf32>
      kiln.yield %y : tensor<1x32x128xf32>
    }
    %l1 = kiln.layer 1 (%q, %k, %l0, %w0, %g0) : (tensor<1x4x32x32xf32>, tensor<1x2x32x32xf32>, tensor<1x32x128xf32>, tensor<128x128xf32>, tensor<128xf32>) -> tensor<1x32x128xf32> {
    ^bb0(%a: tensor<1x4x32x32xf32>, %b: tensor<1x2x32x32xf32>, %c: tensor<1x32x128xf32>, %d: tensor<128x128xf32>, %e: tensor<128xf32>):
      %att = kiln.attention %a, %b, %b heads 4 kv_heads 2 head_dim 32 scale 0.17677669 causal : tensor<1x4x32x32xf32>, tensor<1x2x32x32xf32>, tensor<1x2x32x32xf32> -> tensor<1x4x32x32xf32>
      %n = kiln.rms_norm %c, %e eps 1.0e-06 : tensor<1x32x128xf32>, tensor<128xf32>
      %y = kiln.linear %n, %d : tensor<1x32x128xf32>, tensor<128x128xf32> -> tensor<1x32x128xf32>
      kiln.yield %y : tensor<1x32x128xf32>
    }
    kiln.yield %l1 : tensor<1x32x128xf32>
  }
  return %r : tensor<1x32x128xf32>
}

// -----

// Negative case: two layers claim index 0 in one function.

func.func @duplicate_layer_index(%h: tensor<4xf32>) -> tensor<4xf32> {
  // expected-note @+1 {{previous layer is here}}
  %a = kiln.layer 0 (%h) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    kiln.yield %x : tensor<4xf32>
  }
  // expected-error @+1 {{layer index 0 does not follow layer 0 (indices must be unique and increasing)}}
  %b = kiln.layer 0 (%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    kiln.yield %x : tensor<4xf32>
  }
  return %b : tensor<4xf32>
}

// -----

// Negative case: layers out of order.

func.func @decreasing_layer_index(%h: tensor<4xf32>) -> tensor<4xf32> {
  // expected-note @+1 {{previous layer is here}}
  %a = kiln.layer 3 (%h) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    kiln.yield %x : tensor<4xf32>
  }
  // expected-error @+1 {{layer index 2 does not follow layer 3}}
  %b = kiln.layer 2 (%a) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<4xf32>):
    kiln.yield %x : tensor<4xf32>
  }
  return %b : tensor<4xf32>
}
