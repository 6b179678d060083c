//===- Passes.td - kiln dialect passes ---------------------*- tablegen -*-===//

#ifndef KILN_DIALECT_KILN_TRANSFORMS_PASSES_TD
#define KILN_DIALECT_KILN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def KilnReportPass : Pass<"kiln-report", "::mlir::ModuleOp"> {
  let summary = "Prints what the model contains: layers, attention blocks, linears, norms";
  let description = [{
    Writes one summary per function to standard output (or to `output-file`): graph ops by
    ONNX type, fused transformer ops with their parameters (attention heads, KV heads, head
    dim, causal/masked; linear activations), layers, layer groups and KV caches. The IR is not
    changed, so the pass can sit between any two stages of a pipeline to show what the stage
    did.

    It also checks what the verifiers cannot see from one op: layer indices must be unique
    within a function and appear in increasing order.

    ```
    $ kiln-opt --kiln-report -o /dev/null model.mlir
    kiln-report @main
      graph ops: 3 (MatMul 2, Softmax 1)
      attention: 2 (heads 4, kv_heads 2, head_dim 32, causal 2, masked 0)
      ...
    ```
  }];
  let options = [
    Option<"outputFile", "output-file", "std::string", /*default=*/"\"-\"",
           "Where to write the report ('-' for standard output)">
  ];
}

#endif // KILN_DIALECT_KILN_TRANSFORMS_PASSES_TD
