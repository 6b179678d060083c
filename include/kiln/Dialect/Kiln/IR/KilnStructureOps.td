//===- KilnStructureOps.td - layers, layer groups, KV cache -*- tablegen -*-===//
//
// The model's structure, made explicit for the model passes: which ops form a layer, which
// layers are grouped, and the KV cache the attention layers of a decoder share.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DIALECT_KILN_IR_KILNSTRUCTUREOPS_TD
#define KILN_DIALECT_KILN_IR_KILNSTRUCTUREOPS_TD

include "kiln/Dialect/Kiln/IR/KilnBase.td"
include "kiln/Dialect/Kiln/IR/KilnTypes.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kiln_YieldOp : Kiln_Op<"yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["LayerOp", "LayerGroupOp"]>]> {
  let summary = "returns the results of a layer or layer group";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

def Kiln_LayerOp : Kiln_Op<"layer", [IsolatedFromAbove, SingleBlock, RecursiveMemoryEffects]> {
  let summary = "one transformer layer (block) as an isolated region";
  let description = [{
    The ops of one layer of the model, in a region isolated from above: the hidden state,
    weights and any other value the layer reads are operands, bound to the entry block's
    arguments in order. Identical layers therefore differ only in their operands, which is what
    layer grouping and kernel reuse rely on. `index` is the layer's position in the model.

    ```mlir
    %h1 = kiln.layer 0 (%h0, %w) : (tensor<1x32x128xf32>, tensor<128x128xf32>)
        -> tensor<1x32x128xf32> {
    ^bb0(%x: tensor<1x32x128xf32>, %wq: tensor<128x128xf32>):
      %y = kiln.linear %x, %wq : tensor<1x32x128xf32>, tensor<128x128xf32> -> tensor<1x32x128xf32>
      kiln.yield %y : tensor<1x32x128xf32>
    }
    ```
  }];
  let arguments = (ins I64Attr:$index, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $index `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasRegionVerifier = 1;
}

def Kiln_LayerGroupOp : Kiln_Op<"layer_group",
    [IsolatedFromAbove, SingleBlock, RecursiveMemoryEffects]> {
  let summary = "consecutive layers scheduled, cached or shared as one unit";
  let description = [{
    A run of consecutive `kiln.layer` ops that the model passes treat together (for example,
    layers sharing one KV cache, or layers compiled to one kernel sequence). The body holds only
    `kiln.layer` ops with consecutive indices and the `kiln.yield`.

    ```mlir
    %h2 = kiln.layer_group (%h0, %w0, %w1) : (...) -> tensor<1x32x128xf32> {
    ^bb0(%x: ..., %a: ..., %b: ...):
      %y0 = kiln.layer 0 (%x, %a) : ... { ... }
      %y1 = kiln.layer 1 (%y0, %b) : ... { ... }
      kiln.yield %y1 : tensor<1x32x128xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// Index of the first and one past the last layer of the group.
    std::pair<int64_t, int64_t> getLayerRange();
  }];
}

def Kiln_KVCacheCreateOp : Kiln_Op<"kv_cache.create", [Pure]> {
  let summary = "a KV cache of the layout its type gives, empty";
  let description = [{
    ```mlir
    %c = kiln.kv_cache.create : !kiln.kv_cache<layers = 2, max_batch = 1, kv_heads = 2,
        max_seq = 2048, head_dim = 32, f16>
    ```
  }];
  let results = (outs Kiln_KVCacheType:$cache);
  let assemblyFormat = "attr-dict `:` type($cache)";
}

def Kiln_KVCacheWriteOp : Kiln_Op<"kv_cache.write",
    [Pure, AllTypesMatch<["cache", "updated"]>, AllTypesMatch<["key", "value"]>,
     AllTypesMatch<["positions", "slots"]>]> {
  let summary = "stores the keys and values of new tokens of one layer";
  let description = [{
    Tokens are packed: `key` and `value` are `[1, kv_heads, tokens, head_dim]`, and token `t`
    belongs to the sequence in cache slot `slots[t]` at position `positions[t]` (both
    `[tokens]` i64). Its K/V vectors are stored at that slot and position; the result is the
    updated cache. Tokens of several sequences, at different positions, can be written at once
    (no padding to a common length). Out-of-range slots or positions are undefined behaviour
    (the runtime checks them before a step).

    ```mlir
    %c1 = kiln.kv_cache.write %c0 layer 0, %k, %v at %pos slots %slots : !kiln.kv_cache<...>,
        tensor<1x2x?x32xf32>, tensor<?xi64>
    ```
  }];
  let arguments = (ins Kiln_KVCacheType:$cache, I64Attr:$layer, Kiln_RankedFloatTensor:$key,
                       Kiln_RankedFloatTensor:$value, Kiln_RankedI64Tensor:$positions,
                       Kiln_RankedI64Tensor:$slots);
  let results = (outs Kiln_KVCacheType:$updated);
  let assemblyFormat = [{
    $cache `layer` $layer `,` $key `,` $value `at` $positions `slots` $slots attr-dict `:`
    type($cache) `,` type($key) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Kiln_KVCacheAttentionOp : Kiln_Op<"kv_cache.attention",
    [Pure, AllElementTypesMatch<["query", "output"]>, AllTypesMatch<["positions", "slots"]>,
     AllTypesMatch<["query", "output"]>]> {
  let summary = "causal attention of new tokens over one layer of the KV cache";
  let description = [{
    `query` is `[1, num_heads, tokens, head_dim]`, packed like `kiln.kv_cache.write`'s keys:
    token `t` attends to the cached keys and values of slot `slots[t]` at positions
    `0 .. positions[t]` (its own included, so the cache must have been written first):

    `output[0, h, t] = softmax(scale * q[0, h, t] K[slot, g(h), 0:pos+1]^T) V[slot, g(h), 0:pos+1]`

    with `g(h) = h / (num_heads / kv_heads)` (GQA/MQA read each K/V head once per group).
    The result has the query's shape. This is `kiln.attention ... causal` of a decoder whose
    earlier keys and values come from the cache.

    `prefill` promises that all tokens belong to one sequence at consecutive positions (a
    prompt), which the GPU lowering turns into a tiled FlashAttention kernel over the cache;
    without it (decode: one token per sequence, any mix of lengths) the lowering splits each
    token's context across thread blocks (flash-decoding). The result is the same.

    ```mlir
    %o = kiln.kv_cache.attention %q, %c1 layer 0 at %pos slots %slots heads 8 scale 0.17677
        : tensor<1x8x?x32xf32>, !kiln.kv_cache<...>, tensor<?xi64>
    ```
  }];
  let arguments = (ins Kiln_RankedFloatTensor:$query, Kiln_KVCacheType:$cache, I64Attr:$layer,
                       Kiln_RankedI64Tensor:$positions, Kiln_RankedI64Tensor:$slots,
                       I64Attr:$num_heads, F32Attr:$scale, UnitAttr:$prefill);
  let results = (outs Kiln_RankedFloatTensor:$output);
  let assemblyFormat = [{
    $query `,` $cache `layer` $layer `at` $positions `slots` $slots `heads` $num_heads
    `scale` $scale (`prefill` $prefill^)? attr-dict `:` type($query) `,` type($cache) `,`
    type($positions)
  }];
  let hasVerifier = 1;
}

#endif // KILN_DIALECT_KILN_IR_KILNSTRUCTUREOPS_TD
