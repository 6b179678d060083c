//===- KilnAttrs.td - kiln enums and attributes ------------*- tablegen -*-===//

#ifndef KILN_DIALECT_KILN_IR_KILNATTRS_TD
#define KILN_DIALECT_KILN_IR_KILNATTRS_TD

include "kiln/Dialect/Kiln/IR/KilnBase.td"

// The activation a `kiln.linear` applies in its epilogue. GELU has two forms because exporters
// emit both and they differ numerically (up to ~1e-3).
def Kiln_Activation : I32EnumAttr<"Activation", "activation applied after a linear layer", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"relu", 1>,
    I32EnumAttrCase<"gelu_tanh", 2>,
    I32EnumAttrCase<"gelu_erf", 3>,
    I32EnumAttrCase<"silu", 4>
  ]> {
  let cppNamespace = "::kiln";
  let genSpecializedAttr = 0;
}
def Kiln_ActivationAttr : EnumAttr<Kiln_Dialect, Kiln_Activation, "activation">;

// How `kiln.gelu` approximates the Gaussian CDF: exactly with erf, or with PyTorch's tanh form.
def Kiln_GeluApproximation : I32EnumAttr<"GeluApproximation", "GELU approximation", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"tanh", 1>
  ]> {
  let cppNamespace = "::kiln";
  let genSpecializedAttr = 0;
}
def Kiln_GeluApproximationAttr
    : EnumAttr<Kiln_Dialect, Kiln_GeluApproximation, "gelu_approximation">;

// Which pairs of head dims `kiln.rotary` rotates together: (i, i + R/2) for the rotate-half
// form (GPT-NeoX, Llama in HF), (2i, 2i + 1) for the interleaved form (GPT-J, Meta's Llama).
def Kiln_RotaryStyle : I32EnumAttr<"RotaryStyle", "pairing of dims in a rotary embedding", [
    I32EnumAttrCase<"half", 0>,
    I32EnumAttrCase<"interleaved", 1>
  ]> {
  let cppNamespace = "::kiln";
  let genSpecializedAttr = 0;
}
def Kiln_RotaryStyleAttr : EnumAttr<Kiln_Dialect, Kiln_RotaryStyle, "rotary_style">;

#endif // KILN_DIALECT_KILN_IR_KILNATTRS_TD
