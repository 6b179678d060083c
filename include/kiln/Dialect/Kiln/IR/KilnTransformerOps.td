//===- KilnTransformerOps.td - fused transformer ops -------*- tablegen -*-===//
//
// The units a fused kernel template implements. Raise and fuse-attention produce them from
// graph ops; kernel formation consumes them. Layouts are fixed here so that templates do not
// have to handle transposes: attention works on [batch, heads, seq, head_dim], linear weights
// are [out_features, in_features].
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DIALECT_KILN_IR_KILNTRANSFORMEROPS_TD
#define KILN_DIALECT_KILN_IR_KILNTRANSFORMEROPS_TD

include "kiln/Dialect/Kiln/IR/KilnBase.td"
include "kiln/Dialect/Kiln/IR/KilnAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kiln_AttentionOp : Kiln_Op<"attention",
    [Pure, AllElementTypesMatch<["query", "key", "value", "output"]>]> {
  let summary = "scaled dot-product attention with native GQA/MQA";
  let description = [{
    `softmax(scale * Q K^T [+ mask] [causal]) V` for every query head, where query head `h`
    reads K/V head `h / (num_heads / num_kv_heads)`. K/V are never repeated per query head.

    * `query`: `[batch, num_heads, q_len, head_dim]`
    * `key`: `[batch, num_kv_heads, kv_len, head_dim]`
    * `value`: `[batch, num_kv_heads, kv_len, v_head_dim]`
    * `mask` (optional): additive (float) or boolean (`i1`, true = attend), broadcastable to
      `[batch, num_heads, q_len, kv_len]`.
    * `causal`: query `i` sees keys `j <= i + (kv_len - q_len)` (the bottom-right alignment of
      a decoder with a cache); it requires `q_len <= kv_len`, else the first rows would see
      no key.
    * `softcap`: if > 0, scores become `softcap * tanh(scores / softcap)` before masking.
    * A query row whose every key is masked gives 0 (FlashAttention's convention, and what
      exporters' `Where(IsNaN(p), 0, p)` guard computes), not the NaN of a plain softmax.
    * result: `[batch, num_heads, q_len, v_head_dim]`.

    ```mlir
    %o = kiln.attention %q, %k, %v heads 4 kv_heads 2 head_dim 32 scale 0.1767767 causal
        : tensor<1x4x32x32xf32>, tensor<1x2x32x32xf32>, tensor<1x2x32x32xf32>
        -> tensor<1x4x32x32xf32>
    ```
  }];
  let arguments = (ins Kiln_RankedFloatTensor:$query, Kiln_RankedFloatTensor:$key,
                       Kiln_RankedFloatTensor:$value, Optional<Kiln_RankedMaskTensor>:$mask,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim,
                       F32Attr:$scale, UnitAttr:$causal,
                       DefaultValuedAttr<F32Attr, "0.0f">:$softcap);
  let results = (outs Kiln_RankedFloatTensor:$output);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    `heads` $num_heads `kv_heads` $num_kv_heads `head_dim` $head_dim `scale` $scale
    (`causal` $causal^)? (`softcap` $softcap^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `->` type($output)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Query heads served by one K/V head (1 for MHA, num_heads for MQA).
    int64_t getGroupSize() { return getNumHeads() / getNumKvHeads(); }
  }];
}

def Kiln_LinearOp : Kiln_Op<"linear", [Pure, AttrSizedOperandSegments,
    AllElementTypesMatch<["input", "output"]>]> {
  let summary = "y = act(x W^T + bias) + residual";
  let description = [{
    A linear layer with its epilogue. `weight` is `[out_features, in_features]` (PyTorch's
    `nn.Linear` layout): raise folds any transpose of the exported graph into the weight at
    compile time. `input` is `[..., in_features]`, the result `[..., out_features]`; `bias` is
    `[out_features]`; `residual`, added after the activation, has the result's shape.

    ```mlir
    %y = kiln.linear %x, %w bias(%b : tensor<512xf32>) act gelu_tanh
        : tensor<1x32x128xf32>, tensor<512x128xf32> -> tensor<1x32x512xf32>
    ```
  }];
  let arguments = (ins Kiln_RankedFloatTensor:$input, Kiln_RankedFloatTensor:$weight,
                       Optional<Kiln_RankedFloatTensor>:$bias, Optional<Kiln_RankedFloatTensor>:$residual,
                       DefaultValuedAttr<Kiln_ActivationAttr, "::kiln::Activation::none">:$activation);
  let results = (outs Kiln_RankedFloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`residual` `(` $residual^ `:` type($residual) `)`)? (`act` $activation^)? attr-dict
    `:` type($input) `,` type($weight) `->` type($output)
  }];
  let hasVerifier = 1;
}

class Kiln_NormOp<string mnemonic, string what> : Kiln_Op<mnemonic,
    [Pure, AllTypesMatch<["input", "output"]>, AllElementTypesMatch<["input", "scale"]>]> {
  let summary = what # " over the last dimension";
  let results = (outs Kiln_RankedFloatTensor:$output);
  let hasVerifier = 1;
}

def Kiln_LayerNormOp : Kiln_NormOp<"layer_norm", "LayerNorm"> {
  let description = [{
    `(x - mean(x)) / sqrt(var(x) + epsilon) * scale + bias`, statistics in float32 over the
    last dimension `D`; `scale` and `bias` are `[D]`.

    ```mlir
    %y = kiln.layer_norm %x, %g, %b eps 1.0e-05 : tensor<1x32x128xf32>, tensor<128xf32>,
        tensor<128xf32>
    ```
  }];
  let arguments = (ins Kiln_RankedFloatTensor:$input, Kiln_RankedFloatTensor:$scale,
                       Optional<Kiln_RankedFloatTensor>:$bias, F32Attr:$epsilon);
  let assemblyFormat = [{
    $input `,` $scale (`,` $bias^)? `eps` $epsilon attr-dict `:` type($input) `,` type($scale)
    (`,` type($bias)^)?
  }];
}

def Kiln_RMSNormOp : Kiln_NormOp<"rms_norm", "RMSNorm"> {
  let description = [{
    `x / sqrt(mean(x^2) + epsilon) * scale`, statistics in float32 over the last dimension
    `D`; `scale` is `[D]`.

    ```mlir
    %y = kiln.rms_norm %x, %g eps 1.0e-06 : tensor<1x32x128xf32>, tensor<128xf32>
    ```
  }];
  let arguments = (ins Kiln_RankedFloatTensor:$input, Kiln_RankedFloatTensor:$scale, F32Attr:$epsilon);
  let assemblyFormat = [{
    $input `,` $scale `eps` $epsilon attr-dict `:` type($input) `,` type($scale)
  }];
}

def Kiln_RotaryOp : Kiln_Op<"rotary", [Pure, AllTypesMatch<["input", "output"]>,
    AllElementTypesMatch<["input", "cos"]>, AllTypesMatch<["cos", "sin"]>]> {
  let summary = "rotary position embedding on the first rotary_dim dims of each head";
  let description = [{
    `input` is `[batch, heads, seq, head_dim]`; `cos` and `sin` are `[seq, rotary_dim / 2]` or
    `[batch, seq, rotary_dim / 2]` (one angle per rotated pair). Dims from `rotary_dim` on are
    passed through (partial rotary). `style` picks the pairing: `half` rotates `(i, i + R/2)`,
    `interleaved` rotates `(2i, 2i + 1)`.

    ```mlir
    %y = kiln.rotary %x, %cos, %sin half dim 32 : tensor<1x4x32x32xf32>, tensor<32x16xf32>
    ```
  }];
  let arguments = (ins Kiln_RankedFloatTensor:$input, Kiln_RankedFloatTensor:$cos, Kiln_RankedFloatTensor:$sin,
                       Kiln_RotaryStyleAttr:$style, I64Attr:$rotary_dim);
  let results = (outs Kiln_RankedFloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $cos `,` $sin $style `dim` $rotary_dim attr-dict `:` type($input) `,` type($cos)
  }];
  let hasVerifier = 1;
}

def Kiln_GeluOp : Kiln_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "GELU, exact (erf) or tanh-approximated";
  let description = [{
    The approximation is spelled as in PyTorch (`approximate='tanh'`); without it, GELU is
    exact. The keyword is needed: a bare enum after the operand would not parse back.

    ```mlir
    %y = kiln.gelu %x approximate tanh : tensor<1x32x512xf32>
    ```
  }];
  let arguments = (ins Kiln_RankedFloatTensor:$input,
                       DefaultValuedAttr<Kiln_GeluApproximationAttr,
                                         "::kiln::GeluApproximation::none">:$approximation);
  let results = (outs Kiln_RankedFloatTensor:$output);
  let assemblyFormat = "$input (`approximate` $approximation^)? attr-dict `:` type($input)";
}

def Kiln_SiluOp : Kiln_Op<"silu", [Pure, SameOperandsAndResultType]> {
  let summary = "SiLU (swish): x * sigmoid(x)";
  let arguments = (ins Kiln_RankedFloatTensor:$input);
  let results = (outs Kiln_RankedFloatTensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Kiln_SwigluOp : Kiln_Op<"swiglu", [Pure, SameOperandsAndResultType]> {
  let summary = "gated SiLU: silu(gate) * up";
  let description = [{
    The gate of a SwiGLU MLP (Llama's `down(silu(gate(x)) * up(x))`): both operands and the
    result have the same type.

    ```mlir
    %h = kiln.swiglu %gate, %up : tensor<1x32x344xf32>
    ```
  }];
  let arguments = (ins Kiln_RankedFloatTensor:$gate, Kiln_RankedFloatTensor:$up);
  let results = (outs Kiln_RankedFloatTensor:$output);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($output)";
}

#endif // KILN_DIALECT_KILN_IR_KILNTRANSFORMEROPS_TD
