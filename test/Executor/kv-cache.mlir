// The KV cache ops on the CPU executor (kiln-run --entry runs each function below):
//  - @prefill_vs_attention: 5 tokens written to a slot and attended through the cache with
//    `prefill` give exactly the floats of kiln.attention causal on the same Q, K, V (GQA 4/2);
//  - @step, called with the cache passed in and returned (.npy files between calls): two prompts
//    prefilled into slots 2 and 0 by separate calls, then one call with the next token of each
//    and the first token of a third sequence in slot 1, at positions 5, 3 and 0: each output row
//    equals the last row of kiln.attention causal (@causal) over that sequence alone, and a
//    NumPy reference; the untouched slot and positions of the returned cache stay zero;
//  - run-time errors: slot and position out of range, a broken `prefill` promise, a cache
//    argument with more slots than max_batch.

// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/kv-cache-check.py kiln-run %s %t | FileCheck %s
// CHECK: prefill_vs_attention: max abs diff 0.0{{$}}
// CHECK: step: cache written at slots/positions (2, 0..4), (0, 0..2), then (2, 5), (0, 3), (1, 0); zero elsewhere: OK
// CHECK: step: token 0 (slot 2, position 5) vs @causal last row: max abs diff 0.0{{$}}
// CHECK: step: token 1 (slot 0, position 3) vs @causal last row: max abs diff 0.0{{$}}
// CHECK: step: token 2 (slot 1, position 0) vs @causal last row: max abs diff 0.0{{$}}
// CHECK: step: vs numpy: OK

// RUN: not kiln-run %s --entry step %t/q1.npy %t/k1.npy %t/v1.npy %t/pos_bad.npy %t/slots1.npy %t/cache0.npy 2>&1 | FileCheck %s --check-prefix=POSITION
// POSITION: error: 'kiln.kv_cache.write' op token 0: position 8 is out of range for a cache of max_seq 8
// RUN: not kiln-run %s --entry step %t/q1.npy %t/k1.npy %t/v1.npy %t/pos1.npy %t/slots_bad.npy %t/cache0.npy 2>&1 | FileCheck %s --check-prefix=SLOT
// SLOT: error: 'kiln.kv_cache.write' op token 0: slot 3 is out of range for a cache of 3 slots
// RUN: not kiln-run %s --entry prefill_promise %t/q2.npy %t/pos_gap.npy %t/slots2.npy %t/cache0.npy 2>&1 | FileCheck %s --check-prefix=PROMISE
// PROMISE: error: 'kiln.kv_cache.attention' op is marked prefill (one sequence at consecutive positions), but token 1 is at slot 0 position 2 after token 0 at slot 0 position 0
// RUN: not kiln-run %s --entry step %t/q1.npy %t/k1.npy %t/v1.npy %t/pos1.npy %t/slots1.npy %t/cache_big.npy 2>&1 | FileCheck %s --check-prefix=TOO-MANY-SLOTS
// TOO-MANY-SLOTS: error: input #5 ('cache') is float32[4, 2, 2, 2, 8, 8] but the argument type is !kiln.kv_cache<layers = 2, max_batch = 3, kv_heads = 2, max_seq = 8, head_dim = 8, f32>

!cache = !kiln.kv_cache<layers = 2, max_batch = 3, kv_heads = 2, max_seq = 8, head_dim = 8, f32>

func.func @prefill_vs_attention(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x5x8xf32>,
                                %v: tensor<1x2x5x8xf32>)
    -> (tensor<1x4x5x8xf32> {kiln.name = "cached"}, tensor<1x4x5x8xf32> {kiln.name = "reference"}) {
  %pos = kiln.constant dense<[0, 1, 2, 3, 4]> : tensor<5xi64>
  %slots = kiln.constant dense<1> : tensor<5xi64>
  %c0 = kiln.kv_cache.create : !cache
  %c1 = kiln.kv_cache.write %c0 layer 1, %k, %v at %pos slots %slots
      : !cache, tensor<1x2x5x8xf32>, tensor<5xi64>
  %o = kiln.kv_cache.attention %q, %c1 layer 1 at %pos slots %slots heads 4 scale 0.35355339 prefill
      : tensor<1x4x5x8xf32>, !cache, tensor<5xi64>
  %r = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 8 scale 0.35355339 causal
      : tensor<1x4x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32> -> tensor<1x4x5x8xf32>
  return %o, %r : tensor<1x4x5x8xf32>, tensor<1x4x5x8xf32>
}

// One step of a decoder layer (layer 1 of the cache) over packed tokens.
func.func @step(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>,
                %pos: tensor<?xi64>, %slots: tensor<?xi64>, %c0: !cache {kiln.name = "cache"})
    -> (tensor<1x4x?x8xf32> {kiln.name = "out"}, !cache {kiln.name = "cache"}) {
  %c1 = kiln.kv_cache.write %c0 layer 1, %k, %v at %pos slots %slots
      : !cache, tensor<1x2x?x8xf32>, tensor<?xi64>
  %o = kiln.kv_cache.attention %q, %c1 layer 1 at %pos slots %slots heads 4 scale 0.35355339
      : tensor<1x4x?x8xf32>, !cache, tensor<?xi64>
  return %o, %c1 : tensor<1x4x?x8xf32>, !cache
}

func.func @causal(%q: tensor<1x4x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>)
    -> (tensor<1x4x?x8xf32> {kiln.name = "out"}) {
  %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 8 scale 0.35355339 causal
      : tensor<1x4x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32> -> tensor<1x4x?x8xf32>
  return %o : tensor<1x4x?x8xf32>
}

func.func @prefill_promise(%q: tensor<1x4x2x8xf32>, %pos: tensor<2xi64>, %slots: tensor<2xi64>,
                           %c: !cache) -> tensor<1x4x2x8xf32> {
  %o = kiln.kv_cache.attention %q, %c layer 0 at %pos slots %slots heads 4 scale 0.5 prefill
      : tensor<1x4x2x8xf32>, !cache, tensor<2xi64>
  return %o : tensor<1x4x2x8xf32>
}
