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
    [Pure, AllTypesMatch<["cache", "updated"]>, AllTypesMatch<["key", "value"]>]> {
  let summary = "stores new keys and values of one layer at given positions";
  let description = [{
    `key` and `value` are `[batch, kv_heads, new_len, head_dim]`; `position` (`[batch]` i64)
    is where each sequence's new entries start. Returns the updated cache.

    ```mlir
    %c1 = kiln.kv_cache.write %c0 layer 0, %k, %v at %pos : !kiln.kv_cache<...>,
        tensor<1x2x1x32xf16>, tensor<1xi64>
    ```
  }];
  let arguments = (ins Kiln_KVCacheType:$cache, I64Attr:$layer, Kiln_RankedFloatTensor:$key,
                       Kiln_RankedFloatTensor:$value, Kiln_RankedI64Tensor:$position);
  let results = (outs Kiln_KVCacheType:$updated);
  let assemblyFormat = [{
    $cache `layer` $layer `,` $key `,` $value `at` $position attr-dict `:` type($cache) `,`
    type($key) `,` type($position)
  }];
  let hasVerifier = 1;
}

def Kiln_KVCacheReadOp : Kiln_Op<"kv_cache.read",
    [Pure, AllTypesMatch<["key", "value"]>]> {
  let summary = "the first `length` cached keys and values of one layer";
  let description = [{
    Results are `[batch, kv_heads, length, head_dim]` views of the cache (no copy once
    lowered); `length` is a 0-D i64 tensor.

    ```mlir
    %k, %v = kiln.kv_cache.read %c layer 0 length %n : !kiln.kv_cache<...>, tensor<i64>
        -> tensor<1x2x?x32xf16>
    ```
  }];
  let arguments = (ins Kiln_KVCacheType:$cache, I64Attr:$layer, Kiln_RankedI64Tensor:$length);
  let results = (outs Kiln_RankedFloatTensor:$key, Kiln_RankedFloatTensor:$value);
  let assemblyFormat = [{
    $cache `layer` $layer `length` $length attr-dict `:` type($cache) `,` type($length) `->`
    type($key)
  }];
  let hasVerifier = 1;
}

#endif // KILN_DIALECT_KILN_IR_KILNSTRUCTUREOPS_TD
