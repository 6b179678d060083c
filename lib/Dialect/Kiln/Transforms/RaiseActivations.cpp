//===- RaiseActivations.cpp - kiln.gelu, kiln.silu and kiln.swiglu ---------===//
//
// The activation family of kiln-raise. GELU is anchored at its Erf or Tanh (the one op that
// makes it GELU), SiLU at `x * Sigmoid(x)` and SwiGLU at `silu(gate) * up`. Constants are
// compared with a relative tolerance of 1e-4: exporters print them with 6 to 9 digits.
//
// Duplication policy: the intermediates of GELU (the scaled argument, erf/tanh, 1 + ..., the
// halves and products) must have no other users, so that the whole decomposition dies. A Sigmoid
// (SiLU) or kiln.silu (SwiGLU) with other users is kept for them: recomputing one elementwise
// function inside the fused op costs less than leaving the multiply unfused.
//
//===----------------------------------------------------------------------===//

#include "ConstantValues.h"
#include "RaisePatterns.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

using namespace mlir;
using namespace kiln;

namespace {

constexpr double kConstantTolerance = 1e-4;
constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kCubicCoefficient = 0.044715;

} // namespace

//===----------------------------------------------------------------------===//
// Matchers
//===----------------------------------------------------------------------===//

static bool isNear(double actual, double expected) {
  return std::fabs(actual - expected) <= kConstantTolerance * std::fabs(expected);
}

static Operation *getSingleUser(Value value) {
  return hasSingleUser(value) ? *value.getUsers().begin() : nullptr;
}

/// For a binary op with a one-element constant operand: the other operand and the constant.
/// With `constantOnRightOnly` (Div, Sub), only `op(x, c)` counts.
template <typename OpTy>
static std::optional<std::pair<Value, double>> matchScalarOperand(Operation *op,
                                                                  bool constantOnRightOnly) {
  auto binary = dyn_cast_or_null<OpTy>(op);
  if (!binary)
    return std::nullopt;
  if (std::optional<double> constant = getScalarConstant(binary.getB()))
    return std::pair(binary.getA(), *constant);
  if (!constantOnRightOnly)
    if (std::optional<double> constant = getScalarConstant(binary.getA()))
      return std::pair(binary.getB(), *constant);
  return std::nullopt;
}

/// The value `op` halves: Mul(v, 0.5), Mul(0.5, v) or Div(v, 2).
static Value getHalvedValue(Operation *op) {
  if (auto scaled = matchScalarOperand<OnnxMulOp>(op, false); scaled && isNear(scaled->second, 0.5))
    return scaled->first;
  if (auto divided = matchScalarOperand<OnnxDivOp>(op, true); divided && isNear(divided->second, 2))
    return divided->first;
  return Value();
}

/// The other operand of a Mul that reads `value`, or null when `op` is not such a Mul.
static Value getOtherFactor(Operation *op, Value value) {
  auto mul = dyn_cast_or_null<OnnxMulOp>(op);
  if (!mul)
    return Value();
  if (mul.getA() == value)
    return mul.getB();
  return mul.getB() == value ? mul.getA() : Value();
}

/// Given `onePlus` = 1 + erf(..) or 1 + tanh(..), finds the op that computes
/// 0.5 * x * onePlus in any association exporters use:
///   Mul(x, Mul(onePlus, 0.5))   Mul(Mul(x, 0.5), onePlus)   Mul(Mul(x, onePlus), 0.5)
/// (0.5 may be Div by 2; each Mul in either operand order). Null with `whyNot` otherwise.
static Operation *matchHalfXTimes(Value onePlus, Value x, std::string &whyNot) {
  Operation *user = getSingleUser(onePlus);
  if (!user) {
    whyNot = "1 + ... has other users";
    return nullptr;
  }
  // 0.5 * onePlus, then * x.
  if (getHalvedValue(user) == onePlus) {
    Operation *product = getSingleUser(user->getResult(0));
    if (product && getOtherFactor(product, user->getResult(0)) == x)
      return product;
    whyNot = "0.5 * (1 + ...) is not multiplied by x alone";
    return nullptr;
  }
  Value factor = getOtherFactor(user, onePlus);
  if (!factor) {
    whyNot = "1 + ... is not multiplied by x and 0.5";
    return nullptr;
  }
  // (x * onePlus) * 0.5.
  if (factor == x) {
    Operation *half = getSingleUser(user->getResult(0));
    if (half && getHalvedValue(half) == user->getResult(0))
      return half;
    whyNot = "x * (1 + ...) is not multiplied by 0.5 alone";
    return nullptr;
  }
  // (x * 0.5) * onePlus.
  if (Operation *halfX = factor.getDefiningOp(); halfX && getHalvedValue(halfX) == x) {
    if (hasSingleUser(factor))
      return user;
    whyNot = "x * 0.5 has other users";
    return nullptr;
  }
  whyNot = "1 + ... is multiplied by a value other than x, 0.5 * x or 0.5";
  return nullptr;
}

/// The value `cube` cubes: Pow(v, 3), Mul(Mul(v, v), v) or Mul(v, Mul(v, v)). Sets `whyNot`
/// for a Pow of another exponent.
static Value getCubedValue(Value cube, std::string &whyNot) {
  if (auto pow = cube.getDefiningOp<OnnxPowOp>()) {
    std::optional<double> exponent = getScalarConstant(pow.getExponent());
    if (!exponent || *exponent != 3.0) {
      whyNot = exponent
                   ? llvm::formatv("the Pow exponent is {0}, not 3", formatNumber(*exponent)).str()
                   : std::string("the Pow exponent is not a scalar constant");
      return Value();
    }
    return pow.getBase();
  }
  if (auto mul = cube.getDefiningOp<OnnxMulOp>()) {
    for (auto [square, base] :
         {std::pair(mul.getA(), mul.getB()), std::pair(mul.getB(), mul.getA())}) {
      auto squareMul = square.getDefiningOp<OnnxMulOp>();
      if (squareMul && squareMul.getA() == base && squareMul.getB() == base &&
          hasSingleUser(square))
        return base;
    }
  }
  whyNot = "the cubic term is not Pow(x, 3) or x * x * x";
  return Value();
}

/// Whether `result` (the value a GELU replaces) has x's ranked float type; sets `whyNot`.
static bool hasInputType(Value result, Value x, std::string &whyNot) {
  auto type = dyn_cast<RankedTensorType>(x.getType());
  if (!type || !isa<FloatType>(type.getElementType())) {
    whyNot = "x has no ranked float type";
    return false;
  }
  if (result.getType() != type) {
    whyNot = "the result type differs from x's (broadcasting)";
    return false;
  }
  return true;
}

namespace {

//===----------------------------------------------------------------------===//
// GELU
//===----------------------------------------------------------------------===//

/// Matches exact GELU at its Erf: 0.5 * x * (1 + Erf(x / sqrt(2))), the argument also as
/// x * (1/sqrt(2)), the product in any association (matchHalfXTimes); replaces the product with
/// `kiln.gelu x`.
struct ErfGeluToGelu : OpRewritePattern<OnnxErfOp> {
  ErfGeluToGelu(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), remarks(options) {}

  LogicalResult matchAndRewrite(OnnxErfOp erf, PatternRewriter &rewriter) const override {
    Operation *argument = erf.getInput().getDefiningOp();
    bool isDivision = isa_and_present<OnnxDivOp>(argument);
    auto scaled = isDivision ? matchScalarOperand<OnnxDivOp>(argument, true)
                             : matchScalarOperand<OnnxMulOp>(argument, false);
    if (!scaled)
      return failure();
    auto [x, constant] = *scaled;
    // The anchor matched: Erf of x scaled by a constant. The rest are near-misses.
    if (!isNear(isDivision ? constant : 1.0 / constant, kSqrt2))
      return remarks.fail(erf, "GELU",
                          llvm::formatv("the erf argument is x {0} {1}, not x / sqrt(2)",
                                        isDivision ? "/" : "*", formatNumber(constant)));
    if (!hasSingleUser(erf.getInput()) || !hasSingleUser(erf.getOutput()))
      return remarks.fail(erf, "GELU", "the erf or its argument has other users");
    Operation *addOne = getSingleUser(erf.getOutput());
    auto plusOne = matchScalarOperand<OnnxAddOp>(addOne, false);
    if (!plusOne || plusOne->first != erf.getOutput() || !isNear(plusOne->second, 1.0))
      return remarks.fail(erf, "GELU", "erf(...) is not followed by + 1");
    std::string whyNot;
    Operation *product = matchHalfXTimes(addOne->getResult(0), x, whyNot);
    if (!product || !hasInputType(product->getResult(0), x, whyNot))
      return remarks.fail(erf, "GELU", whyNot);
    rewriter.setInsertionPoint(product);
    rewriter.replaceOpWithNewOp<GeluOp>(product, x, GeluApproximation::none);
    return success();
  }

  NearMissRemarks remarks;
};

/// Matches tanh-approximated GELU at its Tanh:
///   0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
/// with x^3 as Pow(x, 3) or x * x * x, every Mul and Add in either operand order and the product
/// in any association (matchHalfXTimes); replaces the product with
/// `kiln.gelu x approximate tanh`.
struct TanhGeluToGelu : OpRewritePattern<OnnxTanhOp> {
  TanhGeluToGelu(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), remarks(options) {}

  LogicalResult matchAndRewrite(OnnxTanhOp tanh, PatternRewriter &rewriter) const override {
    // The anchor: Tanh(constant * Add(...)).
    auto scaled = matchScalarOperand<OnnxMulOp>(tanh.getInput().getDefiningOp(), false);
    if (!scaled)
      return failure();
    auto inner = scaled->first.getDefiningOp<OnnxAddOp>();
    if (!inner)
      return failure();
    if (!isNear(scaled->second, kSqrt2OverPi))
      return remarks.fail(
          tanh, "GELU (tanh)",
          llvm::formatv("the tanh scale is {0}, not sqrt(2/pi)", formatNumber(scaled->second)));
    // x + k * x^3 in either order.
    std::string whyNot = "the tanh argument is not sqrt(2/pi) * (x + 0.044715 * x^3)";
    Value x, cubic, cube;
    for (auto [candidateX, candidateCubic] :
         {std::pair(inner.getA(), inner.getB()), std::pair(inner.getB(), inner.getA())}) {
      auto term = matchScalarOperand<OnnxMulOp>(candidateCubic.getDefiningOp(), false);
      if (!term)
        continue;
      std::string cubeWhyNot;
      Value cubed = getCubedValue(term->first, cubeWhyNot);
      if (cubed != candidateX) {
        if (!cubeWhyNot.empty())
          whyNot = cubeWhyNot;
        continue;
      }
      if (!isNear(term->second, kCubicCoefficient)) {
        whyNot =
            llvm::formatv("the cubic coefficient is {0}, not 0.044715", formatNumber(term->second))
                .str();
        continue;
      }
      x = candidateX;
      cubic = candidateCubic;
      cube = term->first;
      break;
    }
    if (!x)
      return remarks.fail(tanh, "GELU (tanh)", whyNot);
    if (!llvm::all_of(ValueRange{cube, cubic, inner.getOutput(), tanh.getInput(), tanh.getOutput()},
                      hasSingleUser))
      return remarks.fail(tanh, "GELU (tanh)", "an intermediate value has other users");
    Operation *addOne = getSingleUser(tanh.getOutput());
    auto plusOne = matchScalarOperand<OnnxAddOp>(addOne, false);
    if (!plusOne || plusOne->first != tanh.getOutput() || !isNear(plusOne->second, 1.0))
      return remarks.fail(tanh, "GELU (tanh)", "tanh(...) is not followed by + 1");
    Operation *product = matchHalfXTimes(addOne->getResult(0), x, whyNot);
    if (!product || !hasInputType(product->getResult(0), x, whyNot))
      return remarks.fail(tanh, "GELU (tanh)", whyNot);
    rewriter.setInsertionPoint(product);
    rewriter.replaceOpWithNewOp<GeluOp>(product, x, GeluApproximation::tanh);
    return success();
  }

  NearMissRemarks remarks;
};

//===----------------------------------------------------------------------===//
// SiLU and SwiGLU
//===----------------------------------------------------------------------===//

/// The x of `x * Sigmoid(x)` (either order) when `mul` computes it with x's type; sets
/// `whyNot` when `mul` multiplies a Sigmoid by something else.
static Value getSiluInput(OnnxMulOp mul, std::string &whyNot) {
  for (auto [maybeSigmoid, other] :
       {std::pair(mul.getA(), mul.getB()), std::pair(mul.getB(), mul.getA())}) {
    auto sigmoid = maybeSigmoid.getDefiningOp<OnnxSigmoidOp>();
    if (!sigmoid)
      continue;
    if (sigmoid.getInput() != other) {
      whyNot = "the Sigmoid reads a different value than the one it multiplies";
      continue;
    }
    if (!hasInputType(mul.getOutput(), other, whyNot))
      return Value();
    return other;
  }
  return Value();
}

/// Matches `Mul(x, Sigmoid(x))` (either order); replaces it with `kiln.silu x`.
struct SigmoidMulToSilu : OpRewritePattern<OnnxMulOp> {
  SigmoidMulToSilu(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), remarks(options) {}

  LogicalResult matchAndRewrite(OnnxMulOp mul, PatternRewriter &rewriter) const override {
    std::string whyNot;
    Value x = getSiluInput(mul, whyNot);
    if (!x)
      return whyNot.empty() ? failure() : remarks.fail(mul, "SiLU", whyNot);
    rewriter.replaceOpWithNewOp<SiluOp>(mul, x);
    return success();
  }

  NearMissRemarks remarks;
};

/// Matches `Mul(silu(gate), up)` (either order), silu being kiln.silu or `gate * Sigmoid(gate)`,
/// where gate, up and the product have one type; replaces it with `kiln.swiglu gate, up`.
struct SiluMulToSwiglu : OpRewritePattern<OnnxMulOp> {
  SiluMulToSwiglu(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context, /*benefit=*/2), remarks(options) {}

  LogicalResult matchAndRewrite(OnnxMulOp mul, PatternRewriter &rewriter) const override {
    for (auto [activated, up] :
         {std::pair(mul.getA(), mul.getB()), std::pair(mul.getB(), mul.getA())}) {
      Value gate;
      if (auto silu = activated.getDefiningOp<SiluOp>()) {
        gate = silu.getInput();
      } else if (auto siluMul = activated.getDefiningOp<OnnxMulOp>()) {
        std::string ignored;
        gate = getSiluInput(siluMul, ignored);
      }
      if (!gate)
        continue;
      if (gate.getType() != up.getType() || mul.getOutput().getType() != up.getType())
        return remarks.fail(mul, "SwiGLU",
                            "silu(gate) and up do not have the product's type (broadcasting)");
      rewriter.replaceOpWithNewOp<SwigluOp>(mul, gate, up);
      return success();
    }
    return failure();
  }

  NearMissRemarks remarks;
};

} // namespace

void kiln::populateRaiseActivationPatterns(RewritePatternSet &patterns,
                                           const RaiseOptions &options) {
  patterns.add<ErfGeluToGelu, TanhGeluToGelu, SigmoidMulToSilu, SiluMulToSwiglu>(
      patterns.getContext(), options);
}
