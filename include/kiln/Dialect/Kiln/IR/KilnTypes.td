//===- KilnTypes.td - kiln types ---------------------------*- tablegen -*-===//

#ifndef KILN_DIALECT_KILN_IR_KILNTYPES_TD
#define KILN_DIALECT_KILN_IR_KILNTYPES_TD

include "kiln/Dialect/Kiln/IR/KilnBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Kiln_KVCacheType : Kiln_Type<"KVCache", "kv_cache"> {
  let summary = "the key/value cache of a decoder model";
  let description = [{
    The cache every attention layer of a decoder reads past keys and values from. Its layout
    is fixed at compile time: `max_batch` slots (one per sequence in flight), each holding, for
    each of `layers` layers, K then V as `[kv_heads, max_seq, head_dim]` in `elementType`,
    row-major: element `(slot, layer, k_or_v, head, pos, d)` is at
    `((((slot * layers + layer) * 2 + k_or_v) * kv_heads + head) * max_seq + pos) * head_dim + d`.
    Slot-major, so a runtime may allocate fewer slots. The runtime owns the storage; in the IR
    the cache is a value threaded through `kiln.kv_cache.*` ops (an entry function's argument
    and result).

    ```mlir
    !kiln.kv_cache<layers = 4, max_batch = 8, kv_heads = 2, max_seq = 2048, head_dim = 64, f16>
    ```
  }];
  let parameters = (ins "int64_t":$layers, "int64_t":$maxBatch, "int64_t":$kvHeads,
                        "int64_t":$maxSeq, "int64_t":$headDim, "::mlir::Type":$elementType);
  let assemblyFormat = [{
    `<` `layers` `=` $layers `,` `max_batch` `=` $maxBatch `,` `kv_heads` `=` $kvHeads `,`
        `max_seq` `=` $maxSeq `,` `head_dim` `=` $headDim `,` $elementType `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Bytes of K plus V storage for all layers at the maximum batch and context.
    uint64_t getSizeInBytes() const;
  }];
}

#endif // KILN_DIALECT_KILN_IR_KILNTYPES_TD
