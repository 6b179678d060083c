//===- KilnLaunchOps.td - the host launch plan -------------*- tablegen -*-===//
//
// What kiln-lower-to-gpu leaves in the host function: every computing op has become a
// `kiln.launch` of a generated kernel in `gpu.module @kiln_kernels`, every reshape a
// `kiln.view`. Tensors stay values (one buffer each); kiln-plan-memory assigns them arena
// offsets and the artifact writer turns the function into the runtime's launch list.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DIALECT_KILN_IR_KILNLAUNCHOPS_TD
#define KILN_DIALECT_KILN_IR_KILNLAUNCHOPS_TD

include "kiln/Dialect/Kiln/IR/KilnBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kiln_LaunchOp : Kiln_Op<"launch", [Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "runs one generated GPU kernel: reads tensors, produces new ones";
  let description = [{
    Launches `kernel` (a `gpu.func` with the `kernel` attribute) over a grid of
    `grid_x * grid_y * grid_z` blocks of `block` threads with `shared` bytes of dynamic shared
    memory. The kernel's parameters are, in order: one `memref<?xT>` per input, one per
    result (each a fresh, contiguous row-major buffer), and one `i64` per scalar. Tensors are
    values here; kiln-plan-memory gives every result an arena offset.

    `tied` (optional, one entry per result) marks results computed in place: entry `i` is
    the index of the input whose buffer result `i` reuses, or -1 for a fresh buffer. A tied
    result is still passed as its own parameter (the same buffer as the input); the input must
    not be used after the launch. The KV cache is updated this way.

    `dims` holds one index per dynamic dim of the results, in result order; grid sizes and
    scalars are host index values computed from the function's argument dims (`tensor.dim`)
    with `arith` ops, which the runtime re-evaluates on each run.

    ```mlir
    %r = kiln.launch @kiln_kernels::@rms_norm_f32_256(%x, %w) scalars(%rows)
        grid(%nblocks, %c1, %c1) block [256, 1, 1] dims(%seq)
        : (tensor<1x?x256xf32>, tensor<256xf32>) -> tensor<1x?x256xf32>
    ```
  }];
  let arguments = (ins SymbolRefAttr:$kernel, Variadic<AnyRankedTensor>:$inputs,
                       Variadic<Index>:$scalars, Index:$grid_x, Index:$grid_y, Index:$grid_z,
                       DenseI32ArrayAttr:$block,
                       DefaultValuedAttr<I64Attr, "0">:$shared_memory,
                       Variadic<Index>:$result_dims,
                       OptionalAttr<DenseI64ArrayAttr>:$tied);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $kernel `(` $inputs `)` (`scalars` `(` $scalars^ `)`)?
    `grid` `(` $grid_x `,` $grid_y `,` $grid_z `)` `block` $block
    (`shared` $shared_memory^)? (`dims` `(` $result_dims^ `)`)? (`tied` $tied^)?
    attr-dict `:` functional-type($inputs, $results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The host index values of result `i`'s dims (constants are materialised by the caller:
    /// this returns only what `dims` holds, one per dynamic dim of that result).
    ::mlir::ValueRange getDynamicDims(unsigned resultIndex);
    /// The input result `i` is computed in place of, or null.
    ::mlir::Value getTiedInput(unsigned resultIndex);
  }];
}

def Kiln_ViewOp : Kiln_Op<"view", [Pure]> {
  let summary = "the same contiguous buffer seen with another shape";
  let description = [{
    Reinterprets a row-major tensor with another shape of the same number of elements: no
    data moves, the result aliases the source's buffer. Reshape, Flatten, Squeeze and
    Unsqueeze lower to it. `dims` holds the result's dynamic dims.

    ```mlir
    %v = kiln.view %x dims(%seq) : tensor<1x?x256xf32> to tensor<1x?x8x32xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$source, Variadic<Index>:$dims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $source (`dims` `(` $dims^ `)`)? attr-dict `:` type($source) `to` type($result)
  }];
  let hasVerifier = 1;
}

#endif // KILN_DIALECT_KILN_IR_KILNLAUNCHOPS_TD
