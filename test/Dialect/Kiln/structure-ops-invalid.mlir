// RUN: kiln-opt %s -split-input-file -verify-diagnostics

// One case per rule of the structure ops' verifiers (KilnStructureOps.cpp), of the
// !kiln.kv_cache type (KilnTypes.cpp), and of the structure ops' traits.

//===----------------------------------------------------------------------===//
// kiln.layer
//===----------------------------------------------------------------------===//

func.func @layer_negative_index(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer' op index must be non-negative, got -1}}
  %0 = kiln.layer -1 (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kiln.yield %a : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @layer_body_argument_count(%x: tensor<4xf32>, %w: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer' op body has 1 arguments for 2 operands}}
  %0 = kiln.layer 0 (%x, %w) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kiln.yield %a : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @layer_body_argument_type(%x: tensor<4xf32>, %w: tensor<4x4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer' op body argument 1 has type 'tensor<4xf32>' but operand 1 is 'tensor<4x4xf32>'}}
  %0 = kiln.layer 0 (%x, %w) : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
    kiln.yield %a : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// A terminator of another dialect that has no parent constraint of its own.
func.func @layer_body_terminator(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer' op body must end in kiln.yield}}
  %0 = kiln.layer 0 (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    llvm.unreachable
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @layer_body_without_terminator(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = kiln.layer 0 (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{block with no terminator}}
    %s = kiln.silu %a : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @layer_yield_types(%x: tensor<4xf32>, %y: tensor<4xf16>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer' op yields 'tensor<4xf16>' but the results are 'tensor<4xf32>'}}
  %0 = kiln.layer 0 (%x, %y) : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf16>):
    kiln.yield %b : tensor<4xf16>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @layer_yield_count(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'kiln.layer' op yields 'tensor<4xf32>' but the results are 'tensor<4xf32>', 'tensor<4xf32>'}}
  %0:2 = kiln.layer 0 (%x) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  ^bb0(%a: tensor<4xf32>):
    kiln.yield %a : tensor<4xf32>
  }
  return %0#0, %0#1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// The body is isolated from above: a weight must enter as an operand.
func.func @layer_uses_value_from_above(%x: tensor<4xf32>, %w: tensor<4xf32>) -> tensor<4xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %0 = kiln.layer 0 (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'kiln.swiglu' op using value defined outside the region}}
    %b = kiln.swiglu %a, %w : tensor<4xf32>
    kiln.yield %b : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @layer_empty_body(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer' op expects a non-empty block}}
  %0 = kiln.layer 0 (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @layer_two_blocks(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer' op expects region #0 to have 0 or 1 blocks}}
  %0 = kiln.layer 0 (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kiln.yield %a : tensor<4xf32>
  ^bb1:
    kiln.yield %x : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

//===----------------------------------------------------------------------===//
// kiln.yield
//===----------------------------------------------------------------------===//

// -----

func.func @yield_in_func(%x: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.yield' op expects parent op to be one of 'kiln.layer, kiln.layer_group'}}
  kiln.yield %x : tensor<4xf32>
}

// -----

func.func @yield_in_scf(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = scf.execute_region -> tensor<4xf32> {
    // expected-error @+1 {{'kiln.yield' op expects parent op to be one of 'kiln.layer, kiln.layer_group'}}
    kiln.yield %x : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

//===----------------------------------------------------------------------===//
// kiln.layer_group
//===----------------------------------------------------------------------===//

// -----

func.func @group_not_a_layer(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer_group' op may contain only kiln.layer ops, found kiln.silu}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %l = kiln.layer 0 (%a) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    %s = kiln.silu %l : tensor<4xf32>
    kiln.yield %s : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

// Groups do not nest.
func.func @group_nested_group(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer_group' op may contain only kiln.layer ops, found kiln.layer_group}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %g = kiln.layer_group (%a) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      %l = kiln.layer 0 (%b) : (tensor<4xf32>) -> tensor<4xf32> {
      ^bb0(%c: tensor<4xf32>):
        kiln.yield %c : tensor<4xf32>
      }
      kiln.yield %l : tensor<4xf32>
    }
    kiln.yield %g : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @group_index_gap(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer_group' op layers must have consecutive indices, got 0 then 2}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %l0 = kiln.layer 0 (%a) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    %l2 = kiln.layer 2 (%l0) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    kiln.yield %l2 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @group_index_decreasing(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer_group' op layers must have consecutive indices, got 5 then 4}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %l5 = kiln.layer 5 (%a) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    %l4 = kiln.layer 4 (%l5) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    kiln.yield %l4 : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @group_index_repeated(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer_group' op layers must have consecutive indices, got 1 then 1}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %l1 = kiln.layer 1 (%a) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    %l1b = kiln.layer 1 (%l1) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    kiln.yield %l1b : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @group_empty(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer_group' op must contain at least one kiln.layer}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kiln.yield %a : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @group_body_argument_count(%x: tensor<4xf32>) {
  // expected-error @+1 {{'kiln.layer_group' op body has 0 arguments for 1 operands}}
  kiln.layer_group (%x) : (tensor<4xf32>) -> () {
    kiln.layer 0 () : () -> () {
      kiln.yield
    }
    kiln.yield
  }
  return
}

// -----

func.func @group_body_argument_type(%x: tensor<4xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{'kiln.layer_group' op body argument 0 has type 'tensor<?xf32>' but operand 0 is 'tensor<4xf32>'}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<?xf32> {
  ^bb0(%a: tensor<?xf32>):
    %l = kiln.layer 0 (%a) : (tensor<?xf32>) -> tensor<?xf32> {
    ^bb0(%b: tensor<?xf32>):
      kiln.yield %b : tensor<?xf32>
    }
    kiln.yield %l : tensor<?xf32>
  }
  return %0 : tensor<?xf32>
}

// -----

func.func @group_yield_types(%x: tensor<4xf32>, %y: tensor<4xf16>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer_group' op yields 'tensor<4xf16>' but the results are 'tensor<4xf32>'}}
  %0 = kiln.layer_group (%x, %y) : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %h: tensor<4xf16>):
    %l = kiln.layer 0 (%a, %h) : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xf16> {
    ^bb0(%b: tensor<4xf32>, %c: tensor<4xf16>):
      kiln.yield %c : tensor<4xf16>
    }
    kiln.yield %l : tensor<4xf16>
  }
  return %0 : tensor<4xf32>
}

// -----

func.func @group_body_terminator(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kiln.layer_group' op body must end in kiln.yield}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %l = kiln.layer 0 (%a) : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    llvm.unreachable
  }
  return %0 : tensor<4xf32>
}

// -----

// The group is isolated from above too: its layers' weights enter as group operands.
func.func @group_uses_value_from_above(%x: tensor<4xf32>, %w: tensor<4xf32>) -> tensor<4xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %0 = kiln.layer_group (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'kiln.layer' op using value defined outside the region}}
    %l = kiln.layer 0 (%a, %w) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>, %c: tensor<4xf32>):
      kiln.yield %b : tensor<4xf32>
    }
    kiln.yield %l : tensor<4xf32>
  }
  return %0 : tensor<4xf32>
}

//===----------------------------------------------------------------------===//
// !kiln.kv_cache
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{kv_cache dimensions must be positive, got layers = 0, max_batch = 1, kv_heads = 2, max_seq = 16, head_dim = 8}}
func.func @kv_cache_zero_layers(%c: !kiln.kv_cache<layers = 0, max_batch = 1, kv_heads = 2, max_seq = 16, head_dim = 8, f16>) {
  return
}

// -----

// expected-error @+1 {{kv_cache dimensions must be positive, got layers = 2, max_batch = -1, kv_heads = 2, max_seq = 16, head_dim = 8}}
func.func @kv_cache_negative_batch(%c: !kiln.kv_cache<layers = 2, max_batch = -1, kv_heads = 2, max_seq = 16, head_dim = 8, f16>) {
  return
}

// -----

// expected-error @+1 {{kv_cache dimensions must be positive, got layers = 2, max_batch = 1, kv_heads = 0, max_seq = 16, head_dim = 8}}
func.func @kv_cache_zero_kv_heads(%c: !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 0, max_seq = 16, head_dim = 8, f16>) {
  return
}

// -----

func.func @kv_cache_zero_max_seq() {
  // expected-error @+1 {{kv_cache dimensions must be positive, got layers = 2, max_batch = 1, kv_heads = 2, max_seq = 0, head_dim = 8}}
  %c = kiln.kv_cache.create : !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 0, head_dim = 8, bf16>
  return
}

// -----

func.func @kv_cache_negative_head_dim() {
  // expected-error @+1 {{kv_cache dimensions must be positive, got layers = 2, max_batch = 1, kv_heads = 2, max_seq = 16, head_dim = -8}}
  %c = kiln.kv_cache.create : !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 16, head_dim = -8, f16>
  return
}

// -----

// expected-error @+1 {{kv_cache element type must be a float type, got 'i8'}}
func.func @kv_cache_integer_element(%c: !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 16, head_dim = 8, i8>) {
  return
}

// -----

// expected-error @+1 {{kv_cache element type must be a float type, got 'tensor<2xf16>'}}
func.func @kv_cache_tensor_element(%c: !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2, max_seq = 16, head_dim = 8, tensor<2xf16>>) {
  return
}

//===----------------------------------------------------------------------===//
// kiln.kv_cache.write
//===----------------------------------------------------------------------===//

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_layer_out_of_range(%c: !cache, %k: tensor<1x2x3x32xf16>, %pos: tensor<3xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op layer 2 is out of range for a cache of 2 layers}}
  %0 = kiln.kv_cache.write %c layer 2, %k, %k at %pos slots %pos : !cache, tensor<1x2x3x32xf16>, tensor<3xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_rank(%c: !cache, %k: tensor<2x3x32xf16>, %pos: tensor<3xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op key must be [1, heads, tokens, head_dim], got 'tensor<2x3x32xf16>'}}
  %0 = kiln.kv_cache.write %c layer 0, %k, %k at %pos slots %pos : !cache, tensor<2x3x32xf16>, tensor<3xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, bf16>

func.func @write_element_type(%c: !cache, %k: tensor<1x2x3x32xf16>, %pos: tensor<3xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op key element type 'f16' differs from the cache's 'bf16'}}
  %0 = kiln.kv_cache.write %c layer 0, %k, %k at %pos slots %pos : !cache, tensor<1x2x3x32xf16>, tensor<3xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

// Tokens are packed along dim 2 of batch 1: a batch dim is not the layout.
func.func @write_batched(%c: !cache, %k: tensor<2x2x1x32xf16>, %pos: tensor<2xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op key 'tensor<2x2x1x32xf16>' does not fit the cache layout '!kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>' (tokens are packed along dim 2 of batch 1)}}
  %0 = kiln.kv_cache.write %c layer 0, %k, %k at %pos slots %pos : !cache, tensor<2x2x1x32xf16>, tensor<2xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_kv_heads(%c: !cache, %k: tensor<1x8x3x32xf16>, %pos: tensor<3xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op key 'tensor<1x8x3x32xf16>' does not fit the cache layout}}
  %0 = kiln.kv_cache.write %c layer 0, %k, %k at %pos slots %pos : !cache, tensor<1x8x3x32xf16>, tensor<3xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_head_dim(%c: !cache, %k: tensor<1x2x?x16xf16>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op key 'tensor<1x2x?x16xf16>' does not fit the cache layout}}
  %0 = kiln.kv_cache.write %c layer 0, %k, %k at %pos slots %pos : !cache, tensor<1x2x?x16xf16>, tensor<?xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_positions_rank(%c: !cache, %k: tensor<1x2x3x32xf16>, %pos: tensor<i64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op positions and slots must be [tokens] (one per packed token), got 'tensor<i64>'}}
  %0 = kiln.kv_cache.write %c layer 0, %k, %k at %pos slots %pos : !cache, tensor<1x2x3x32xf16>, tensor<i64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_positions_count(%c: !cache, %k: tensor<1x2x3x32xf16>, %pos: tensor<2xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op positions and slots must be [tokens] (one per packed token), got 'tensor<2xi64>'}}
  %0 = kiln.kv_cache.write %c layer 0, %k, %k at %pos slots %pos : !cache, tensor<1x2x3x32xf16>, tensor<2xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_positions_type(%c: !cache, %k: tensor<1x2x3x32xf16>, %pos: tensor<3xi32>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op operand #3 must be ranked tensor of 64-bit signless integer values, but got 'tensor<3xi32>'}}
  %0 = kiln.kv_cache.write %c layer 0, %k, %k at %pos slots %pos : !cache, tensor<1x2x3x32xf16>, tensor<3xi32>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_key_value_differ(%c: !cache, %k: tensor<1x2x3x32xf16>, %v: tensor<1x2x4x32xf16>, %pos: tensor<3xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op failed to verify that all of {key, value} have same type}}
  %0 = "kiln.kv_cache.write"(%c, %k, %v, %pos, %pos) <{layer = 0 : i64}>
      : (!cache, tensor<1x2x3x32xf16>, tensor<1x2x4x32xf16>, tensor<3xi64>, tensor<3xi64>) -> !cache
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @write_not_a_cache(%c: tensor<2x2x64x32xf16>, %k: tensor<1x2x3x32xf16>, %pos: tensor<3xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.write' op operand #0 must be the key/value cache of a decoder model, but got 'tensor<2x2x64x32xf16>'}}
  %0 = "kiln.kv_cache.write"(%c, %k, %k, %pos, %pos) <{layer = 0 : i64}>
      : (tensor<2x2x64x32xf16>, tensor<1x2x3x32xf16>, tensor<1x2x3x32xf16>, tensor<3xi64>, tensor<3xi64>) -> !cache
  return
}

//===----------------------------------------------------------------------===//
// kiln.kv_cache.attention
//===----------------------------------------------------------------------===//

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @attention_heads_not_multiple(%c: !cache, %q: tensor<1x3x?x32xf16>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.attention' op heads (3) must be a positive multiple of the cache's kv_heads (2)}}
  %0 = kiln.kv_cache.attention %q, %c layer 0 at %pos slots %pos heads 3 scale 0.5 : tensor<1x3x?x32xf16>, !cache, tensor<?xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @attention_query_heads(%c: !cache, %q: tensor<1x4x?x32xf16>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.attention' op query 'tensor<1x4x?x32xf16>' does not fit the cache layout}}
  %0 = kiln.kv_cache.attention %q, %c layer 0 at %pos slots %pos heads 8 scale 0.5 : tensor<1x4x?x32xf16>, !cache, tensor<?xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @attention_layer(%c: !cache, %q: tensor<1x4x?x32xf16>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.attention' op layer 5 is out of range for a cache of 2 layers}}
  %0 = kiln.kv_cache.attention %q, %c layer 5 at %pos slots %pos heads 4 scale 0.5 : tensor<1x4x?x32xf16>, !cache, tensor<?xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @attention_positions(%c: !cache, %q: tensor<1x4x5x32xf16>, %pos: tensor<4xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.attention' op positions and slots must be [tokens] (one per packed token), got 'tensor<4xi64>'}}
  %0 = kiln.kv_cache.attention %q, %c layer 0 at %pos slots %pos heads 4 scale 0.5 : tensor<1x4x5x32xf16>, !cache, tensor<4xi64>
  return
}

// -----

!cache = !kiln.kv_cache<layers = 2, max_batch = 2, kv_heads = 2, max_seq = 64, head_dim = 32, f16>

func.func @attention_element_type(%c: !cache, %q: tensor<1x4x?x32xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{'kiln.kv_cache.attention' op query element type 'f32' differs from the cache's 'f16'}}
  %0 = kiln.kv_cache.attention %q, %c layer 0 at %pos slots %pos heads 4 scale 0.5 : tensor<1x4x?x32xf32>, !cache, tensor<?xi64>
  return
}
