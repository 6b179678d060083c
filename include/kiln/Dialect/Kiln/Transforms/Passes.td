//===- Passes.td - kiln dialect passes ---------------------*- tablegen -*-===//

#ifndef KILN_DIALECT_KILN_TRANSFORMS_PASSES_TD
#define KILN_DIALECT_KILN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnReportPass : Pass<"kiln-report", "::mlir::ModuleOp"> {
  let summary = "Prints what the model contains: layers, attention blocks, linears, norms";
  let description = [{
    Writes one summary per function to standard output (or to `output-file`): graph ops by
    ONNX type, fused transformer ops with their parameters (attention heads, KV heads, head
    dim, causal/masked; linear activations), attention blocks kiln-fuse-attention did not fuse
    with the reason it recorded, layers, layer groups and KV caches. The IR is not
    changed, so the pass can sit between any two stages of a pipeline to show what the stage
    did.

    It also checks what the verifiers cannot see from one op: layer indices must be unique
    within a function and appear in increasing order.

    ```
    $ kiln-opt --kiln-report -o /dev/null model.mlir
    kiln-report @main
      graph ops: 3 (MatMul 2, Softmax 1)
      attention: 2 (heads 4, kv_heads 2, head_dim 32, causal 2, masked 0)
      attention not fused: 1
        'attn_3': softmax axis is 2, not the last (keys) axis
      ...
    ```
  }];
  let options = [
    Option<"outputFile", "output-file", "std::string", /*default=*/"\"-\"",
           "Where to write the report ('-' for standard output)">
  ];
}

def KilnSimplifyPass : Pass<"kiln-simplify", "::mlir::func::FuncOp"> {
  let summary = "Shape inference with symbolic dims, constant folding of shape subgraphs, "
                "canonicalization and DCE";
  let description = [{
    Exporters leave shape arithmetic in the graph (`Shape -> Gather -> Unsqueeze -> Concat ->
    Reshape`, `Range`, `ConstantOfShape`, masks built from them). This pass

    * infers every result's shape, keeping symbolic dims (`seq`) as symbols so that two `?`
      dims known to be equal are treated as equal;
    * replaces every shape value (an integer vector read from `Shape`) whose elements are
      known with a constant, and folds every op whose operands are all constants and whose
      result has at most `fold-limit` elements, by running the CPU reference executor's kernel
      on it (one implementation of each op's semantics, not two);
    * refines result types to what was inferred (unranked and `?` dims become static where
      known);
    * canonicalizes (the kiln ops' folders and patterns) and removes dead ops.

    After it, a fixed-shape model has no shape arithmetic left, and a dynamic-`seq` model only
    what depends on `seq`.

    ```mlir
    // before
    %s = kiln.onnx.Shape %x : (tensor<1x32x128xf32>) -> tensor<3xi64>
    %i = kiln.constant dense<1> : tensor<1xi64>
    %d = kiln.onnx.Gather %s, %i : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
    // after
    %d = kiln.constant dense<32> : tensor<1xi64>
    ```
  }];
  let options = [
    Option<"foldLimit", "fold-limit", "int64_t", /*default=*/"65536",
           "Largest result (in elements) that constant folding materialises">
  ];
}

def KilnRaisePass : Pass<"kiln-raise", "::mlir::func::FuncOp"> {
  let summary = "Raises decomposed norms, activations, rotary embeddings and linear layers "
                "to kiln transformer ops";
  let description = [{
    Recognises what exporters emit and replaces it with the fused op, after re-checking every
    operand, axis, shape and constant the rewrite relies on:

    * `kiln.layer_norm`: the ONNX op (last axis, no statistics used) and the decomposed form
      (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta);
    * `kiln.rms_norm`: the ONNX op and the decomposed form (Pow 2 or Mul x x, ReduceMean,
      Add eps, Sqrt then Reciprocal or Div, Mul gamma);
    * `kiln.gelu` (erf and tanh forms), `kiln.silu` (x * Sigmoid(x)), `kiln.swiglu`
      (silu(gate) * up);
    * `kiln.rotary`: rotate-half (Slice, Neg, Concat), interleaved, partial (a prefix of the
      head dims) and ONNX's RotaryEmbedding op;
    * `kiln.linear`: MatMul or Gemm with a constant weight (any transpose folded into the
      `[out, in]` weight at compile time), with its bias Add, its activation and a residual Add
      as epilogue; linears of the same input (Q, K and V) are merged into one linear whose
      output is split, when `merge-qkv` is set.
  }];
  let options = [
    Option<"mergeQkv", "merge-qkv", "bool", /*default=*/"true",
           "Merge linears that read the same input into one wider linear">,
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Emit a remark for each near-miss naming the check that failed">
  ];
}

def KilnFuseAttentionPass : Pass<"kiln-fuse-attention", "::mlir::func::FuncOp"> {
  let summary = "Fuses every attention block (decomposed or ONNX Attention) into kiln.attention";
  let description = [{
    Starts at each `Softmax` and each ONNX `Attention` op and matches the block around it:
    `MatMul(softmax(scale * Q K^T + mask), V)` with the scale as Div, Mul or Mul(Sqrt) on the
    scores or on Q and K, masks as Add or Where (bool, integer or float), causal masks however
    they were built (constant, Trilu, Range/CumSum/comparison chains: proved causal by an index
    analysis, never guessed), Cast around Softmax, IsNaN/Where guards, K pre-transposed or not,
    and repeat_kv (Expand + Reshape) or `q_num_heads`/`kv_num_heads` for GQA/MQA, which become
    `num_kv_heads` without repeating K/V.

    Every assumption is re-checked (softmax axis, transposes, shapes, head counts, scale,
    mask broadcast); on any mismatch the IR is left untouched and the Softmax gets a
    `kiln.fusion_failure` attribute naming the failed check (shown by `-kiln-report`). With
    `remarks`, the reason is also emitted as an MLIR remark.

    ```mlir
    // before
    %s = kiln.onnx.MatMul %q, %kt ...
    %m = kiln.onnx.Mul %s, %c ...            // %c = 1/sqrt(32)
    %a = kiln.onnx.Add %m, %causal ...       // constant causal mask
    %p = kiln.onnx.Softmax %a ...
    %o = kiln.onnx.MatMul %p, %v ...
    // after
    %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.176776692 causal ...
    ```
  }];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "Emit a remark at each Softmax or Attention op that is not fused, with the reason">
  ];
}

def KilnKVCachePass : Pass<"kiln-kv-cache", "::mlir::ModuleOp"> {
  let summary = "Derives prefill and decode entry points with a managed KV cache from a causal decoder";
  let description = [{
    Takes a causal decoder `@main(input_ids: [1, seq] integer) -> logits [1, seq, vocab]`
    (after kiln-fuse-attention) and adds two entry points that own a KV cache:

    * `@prefill(input_ids, positions, slots, cache)`: the prompt of one sequence (tokens at
      consecutive positions in one cache slot) fills the cache and returns its logits;
    * `@decode(input_ids, positions, slots, cache)`: one new token for each of up to
      `max-batch` sequences, each at its own position (no padding to a common length).

    Tokens are packed along `seq` (batch 1): every op except attention acts per token, so the
    layers need no change. In each entry, every `kiln.attention ... causal` becomes a
    `kiln.kv_cache.write` of its K/V (layer = its order) and a `kiln.kv_cache.attention` over
    the cache; every position index `Range(0, seq, 1)` (rotary tables, position embeddings)
    becomes the `positions` argument. `@main` is kept. The entries carry
    `kiln.dim_max = {seq = ...}` (the context for prefill, the batch for decode).

    It refuses (with the reason) graphs it cannot prove are such a decoder: not one integer
    `[1, seq]` input with a dynamic `seq`, an attention that is not causal over `seq` or has a
    mask, attention layers with different K/V layouts, or an op that mixes tokens
    (CumSum/Trilu over `seq`, or a position range other than `Range(0, seq, 1)`). With
    `if-applicable`, such a module is left unchanged instead.

    A table the positions index (a learned position embedding, a precomputed rotary table)
    must hold `max-seq-len` rows: a shorter one is an error naming the Gather and the context
    that fits, or with `fit-position-tables` (kiln-compile without `--max-seq-len`) the
    context becomes the table's length, with a warning.

    ```mlir
    // before (@main, one layer)
    %o = kiln.attention %q, %k, %v heads 8 kv_heads 2 head_dim 32 scale 0.17677 causal ...
    // after (@decode)
    %c1 = kiln.kv_cache.write %c0 layer 0, %k, %v at %positions slots %slots ...
    %o = kiln.kv_cache.attention %q, %c1 layer 0 at %positions slots %slots heads 8 scale 0.17677 ...
    ```
  }];
  let options = [
    Option<"maxSeqLen", "max-seq-len", "int64_t", /*default=*/"2048",
           "Maximum context (prompt plus generated tokens) of a sequence: the cache's max_seq">,
    Option<"maxBatch", "max-batch", "int64_t", /*default=*/"64",
           "Maximum number of sequences in flight: cache slots and the decode batch">,
    Option<"ifApplicable", "if-applicable", "bool", /*default=*/"false",
           "Leave a module that is not a causal decoder unchanged instead of failing">,
    Option<"fitPositionTables", "fit-position-tables", "bool", /*default=*/"false",
           "When a table the positions index (a learned position embedding) is shorter than "
           "max-seq-len, shrink the context to it (with a warning) instead of failing">
  ];
}

#endif // KILN_DIALECT_KILN_TRANSFORMS_PASSES_TD
