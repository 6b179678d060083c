//===- RaiseNorms.cpp - kiln.layer_norm and kiln.rms_norm from graph ops ---===//
//
// The norm family of kiln-raise. It raises ONNX's LayerNormalization and RMSNormalization ops
// and the decomposed forms exporters emit: every decomposed norm ends in
// `... / Sqrt(variance + eps)` (or `... * Reciprocal(Sqrt(...))`), so one pattern anchored at
// that Sqrt tells the forms apart by what the variance is:
//
//   RMSNorm:    ReduceMean(x^2)                            numerator x
//   LayerNorm:  ReduceMean((x - mean)^2)                   numerator x - mean
//   LayerNorm:  ReduceMean(x^2) - mean^2   (ONNX's body)   numerator x - mean
//
// and then absorbs an optional cast back from f32, gamma and (LayerNorm) beta below it.
//
// Duplication policy: the full-size intermediates (the square, x - mean, the normalized value,
// the scaled value) must have no user outside the chain, so that the whole decomposition dies.
// The per-row statistics (mean, variance, standard deviation) may have other users: ONNX's
// LayerNormalization body returns Mean and InvStdDev as outputs. The raised norm then computes
// the main output and the decomposed statistics stay for those users; they cost reductions over
// x (which the norm reads anyway), never a second full-size output.
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

constexpr StringLiteral kLayerNorm = "LayerNorm";
constexpr StringLiteral kRMSNorm = "RMSNorm";

} // namespace

//===----------------------------------------------------------------------===//
// Shapes, reductions and parameters
//===----------------------------------------------------------------------===//

static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, dim] : llvm::enumerate(shape)) {
    if (i)
      text += ", ";
    text += ShapedType::isDynamic(dim) ? "?" : std::to_string(dim);
  }
  return text + "]";
}

static std::string formatType(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  return ranked ? formatShape(ranked.getShape()) : std::string("unranked");
}

/// Why `reduce` is not a mean over the last axis of its input that keeps the reduced dim, or
/// the empty string when it is.
static std::string checkLastAxisMean(OnnxReduceMeanOp reduce) {
  auto dataType = dyn_cast<RankedTensorType>(reduce.getData().getType());
  if (!dataType || dataType.getRank() == 0)
    return "the reduced value has no ranked type of rank >= 1";
  int64_t rank = dataType.getRank();
  SmallVector<int64_t> axes;
  if (Value axesValue = reduce.getAxes()) {
    std::optional<SmallVector<int64_t>> constantAxes = getConstantInts(axesValue);
    if (!constantAxes)
      return "the reduction axes are not a constant";
    axes = *constantAxes;
  }
  if (axes.empty()) {
    if (reduce.getNoopWithEmptyAxes())
      return "the reduction is a no-op (empty axes)";
    for (int64_t axis = 0; axis < rank; ++axis)
      axes.push_back(axis);
  }
  for (int64_t &axis : axes)
    if (axis < 0)
      axis += rank;
  if (axes.size() != 1 || axes.front() != rank - 1) {
    std::string list;
    for (auto [i, axis] : llvm::enumerate(axes))
      list += (i ? ", " : "") + std::to_string(axis);
    return llvm::formatv("reduction is over {0} {1}, not the last axis",
                         axes.size() == 1 ? "axis" : "axes", list)
        .str();
  }
  if (!reduce.getKeepdims())
    return "the reduction does not keep the reduced dim (keepdims = 0)";
  return "";
}

/// Whether `type` is a norm parameter of `features` elements along the last dim: `[D]`, or
/// `[1, ..., 1, D]` of at most `maxRank` dims (more would broadcast the result to a higher rank).
static bool isParameterShape(Type type, int64_t features, int64_t maxRank) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked || ranked.getRank() < 1 || ranked.getRank() > maxRank ||
      ShapedType::isDynamic(features) || ranked.getShape().back() != features)
    return false;
  return llvm::all_of(ranked.getShape().drop_back(), [](int64_t dim) { return dim == 1; });
}

/// Whether an operand of `type` is broadcast against `resultType` (has fewer dims, or a 1 where
/// the result does not): a per-channel parameter rather than a full-size tensor.
static bool broadcastsAgainst(Type type, RankedTensorType resultType) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked || !ranked.hasStaticShape())
    return false;
  if (ranked.getRank() < resultType.getRank())
    return true;
  for (auto [dim, resultDim] :
       llvm::zip(llvm::reverse(ranked.getShape()), llvm::reverse(resultType.getShape())))
    if (dim == 1 && resultDim != 1)
      return true;
  return false;
}

/// `param`, a tensor of `features` elements, as the `[features]` operand a kiln norm takes: the
/// value itself when it is 1-D, the 1-D value a Flatten/Reshape/Unsqueeze made it from, a
/// constant reshaped at compile time, or else a new Reshape.
static Value reshapeParameterTo1D(PatternRewriter &rewriter, Location loc, Value param,
                                  int64_t features) {
  auto type = cast<RankedTensorType>(param.getType());
  auto vectorType = RankedTensorType::get({features}, type.getElementType());
  if (type == vectorType)
    return param;
  Operation *producer = param.getDefiningOp();
  if (isa_and_present<OnnxFlattenOp, OnnxReshapeOp, OnnxUnsqueezeOp>(producer) &&
      producer->getOperand(0).getType() == vectorType)
    return producer->getOperand(0);
  if (std::optional<exec::Tensor> constant = getConstantTensor(param))
    return createConstant(rewriter, loc, constant->reshaped({features}), "raised_norm_parameter");
  return OnnxReshapeOp::create(rewriter, loc, vectorType, param,
                               createI64Constant(rewriter, loc, {features}));
}

/// A `[features]` constant of ones: the scale of a norm that has no gamma.
static Value createOnes(PatternRewriter &rewriter, Location loc, Type elementType,
                        int64_t features) {
  auto type = RankedTensorType::get({features}, elementType);
  return ConstantOp::create(
      rewriter, loc,
      DenseElementsAttr::get(type, ArrayRef<Attribute>{FloatAttr::get(elementType, 1.0)}));
}

/// A kiln norm of `input` over its last dim, with `scale` and `bias` already `[D]`.
static Value createNorm(PatternRewriter &rewriter, Location loc, bool isLayerNorm, Value input,
                        Value scale, Value bias, double epsilon) {
  FloatAttr epsilonAttr = rewriter.getF32FloatAttr(static_cast<float>(epsilon));
  if (isLayerNorm)
    return LayerNormOp::create(rewriter, loc, input.getType(), input, scale, bias, epsilonAttr);
  return RMSNormOp::create(rewriter, loc, input.getType(), input, scale, epsilonAttr);
}

/// Why a norm of epsilon `epsilon` cannot be a kiln norm (its verifier wants eps > 0), or "".
static std::string checkEpsilon(double epsilon) {
  if (!(epsilon > 0.0) || !std::isfinite(epsilon) || !(static_cast<float>(epsilon) > 0.0f))
    return llvm::formatv("epsilon {0} is not positive and finite in f32", formatNumber(epsilon))
        .str();
  return "";
}

//===----------------------------------------------------------------------===//
// ONNX LayerNormalization and RMSNormalization ops
//===----------------------------------------------------------------------===//

/// Why the parameter `name` (scale or bias) of an ONNX norm over dims [axis, rank) of `input`
/// cannot be flattened to the `[prod(dims)]` a kiln norm takes, or "". It must have exactly the
/// normalized dims (leading 1s aside): a parameter that broadcasts is not a per-feature vector.
static std::string checkOnnxNormParameter(StringRef name, Value param, RankedTensorType inputType,
                                          int64_t axis) {
  auto type = dyn_cast<RankedTensorType>(param.getType());
  ArrayRef<int64_t> normalized = inputType.getShape().drop_front(axis);
  if (!type || !type.hasStaticShape())
    return (name + " has no static shape").str();
  ArrayRef<int64_t> shape = type.getShape();
  while (!shape.empty() && shape.front() == 1 && shape.size() > normalized.size())
    shape = shape.drop_front();
  // Right-aligned: the extra leading dims of the normalized shape must then be 1s.
  bool matches =
      shape.size() <= normalized.size() && llvm::equal(shape, normalized.take_back(shape.size())) &&
      llvm::all_of(normalized.drop_back(shape.size()), [](int64_t dim) { return dim == 1; });
  if (!matches)
    return llvm::formatv("{0} has shape {1}, not the normalized shape {2}", name,
                         formatShape(type.getShape()), formatShape(normalized))
        .str();
  return "";
}

/// Raises an ONNX norm op of `input` over dims [axis, rank): directly when axis is the last dim,
/// else on a [prefix..., prod] view of the input that is reshaped back afterwards. The checks
/// (shared by both ONNX ops) come first; on a mismatch `whyNot` says why and nothing is built.
static FailureOr<Value> raiseOnnxNorm(PatternRewriter &rewriter, Operation *op, bool isLayerNorm,
                                      Value input, Value scale, Value bias, int64_t axis,
                                      double epsilon, uint64_t stashType, std::string &whyNot) {
  auto inputType = getRankedFloatType(input);
  if (!inputType) {
    whyNot = "the input has no ranked float type";
    return failure();
  }
  int64_t rank = inputType.getRank();
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank) {
    whyNot = llvm::formatv("axis {0} is out of range for rank {1}", axis, rank).str();
    return failure();
  }
  if (op->getResult(0).getType() != inputType) {
    whyNot =
        llvm::formatv("the result type {0} differs from the input type {1}",
                      formatType(op->getResult(0).getType()), formatShape(inputType.getShape()))
            .str();
    return failure();
  }
  if (stashType != 1) {
    whyNot = llvm::formatv("stash_type is {0}, not 1 (float32 statistics)", stashType).str();
    return failure();
  }
  if (std::string why = checkEpsilon(epsilon); !why.empty()) {
    whyNot = why;
    return failure();
  }
  ArrayRef<int64_t> normalized = inputType.getShape().drop_front(axis);
  if (llvm::any_of(normalized, ShapedType::isDynamic)) {
    whyNot = llvm::formatv("the normalized dims {0} are not static", formatShape(normalized)).str();
    return failure();
  }
  int64_t features = 1;
  for (int64_t dim : normalized)
    features *= dim;
  for (auto [name, param] : {std::pair<StringRef, Value>{"scale", scale}, {"bias", bias}}) {
    if (!param)
      continue;
    if (std::string why = checkOnnxNormParameter(name, param, inputType, axis); !why.empty()) {
      whyNot = why;
      return failure();
    }
  }

  Location loc = op->getLoc();
  Value scale1D = reshapeParameterTo1D(rewriter, loc, scale, features);
  Value bias1D = bias ? reshapeParameterTo1D(rewriter, loc, bias, features) : Value();
  if (axis == rank - 1)
    return createNorm(rewriter, loc, isLayerNorm, input, scale1D, bias1D, epsilon);

  // Normalizing several trailing dims is normalizing their flattened product; a 0 in the
  // Reshape's shape copies the (possibly dynamic) prefix dim.
  SmallVector<int64_t> flatShape(inputType.getShape().take_front(axis));
  flatShape.push_back(features);
  SmallVector<int64_t> flatShapeOperand(axis, 0);
  flatShapeOperand.push_back(features);
  auto flatType = RankedTensorType::get(flatShape, inputType.getElementType());
  Value flat = OnnxReshapeOp::create(rewriter, loc, flatType, input,
                                     createI64Constant(rewriter, loc, flatShapeOperand));
  Value norm = createNorm(rewriter, loc, isLayerNorm, flat, scale1D, bias1D, epsilon);
  Value shape;
  if (inputType.hasStaticShape())
    shape = createI64Constant(rewriter, loc, inputType.getShape());
  else
    shape = OnnxShapeOp::create(rewriter, loc, RankedTensorType::get({rank}, rewriter.getI64Type()),
                                input, IntegerAttr(), IntegerAttr());
  return OnnxReshapeOp::create(rewriter, loc, inputType, norm, shape).getResult();
}

namespace {

/// Matches `kiln.onnx.LayerNormalization` whose Mean/InvStdDev outputs are unused, with
/// stash_type 1; raises it to kiln.layer_norm (over the flattened trailing dims when `axis` is
/// not the last dim).
struct OnnxLayerNormalizationToLayerNorm : OpRewritePattern<OnnxLayerNormalizationOp> {
  OnnxLayerNormalizationToLayerNorm(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), remarks(options) {}

  LogicalResult matchAndRewrite(OnnxLayerNormalizationOp op,
                                PatternRewriter &rewriter) const override {
    for (Value statistic : op.getStatistics())
      if (!statistic.use_empty())
        return remarks.fail(op, kLayerNorm, "its Mean/InvStdDev outputs are used");
    std::string whyNot;
    FailureOr<Value> raised =
        raiseOnnxNorm(rewriter, op, /*isLayerNorm=*/true, op.getInput(), op.getScale(),
                      op.getBias(), static_cast<int64_t>(op.getAxis()),
                      op.getEpsilon().convertToDouble(), op.getStashType(), whyNot);
    if (failed(raised))
      return remarks.fail(op, kLayerNorm, whyNot);
    rewriter.replaceAllUsesWith(op.getOutput(), *raised);
    rewriter.eraseOp(op);
    return success();
  }

  NearMissRemarks remarks;
};

/// Matches `kiln.onnx.RMSNormalization` (opset 23) with stash_type 1; raises it to
/// kiln.rms_norm (over the flattened trailing dims when `axis` is not the last dim).
struct OnnxRMSNormalizationToRMSNorm : OpRewritePattern<OnnxRMSNormalizationOp> {
  OnnxRMSNormalizationToRMSNorm(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), remarks(options) {}

  LogicalResult matchAndRewrite(OnnxRMSNormalizationOp op,
                                PatternRewriter &rewriter) const override {
    std::string whyNot;
    FailureOr<Value> raised =
        raiseOnnxNorm(rewriter, op, /*isLayerNorm=*/false, op.getInput(), op.getScale(), Value(),
                      static_cast<int64_t>(op.getAxis()), op.getEpsilon().convertToDouble(),
                      op.getStashType(), whyNot);
    if (failed(raised))
      return remarks.fail(op, kRMSNorm, whyNot);
    rewriter.replaceOp(op, *raised);
    return success();
  }

  NearMissRemarks remarks;
};

} // namespace

//===----------------------------------------------------------------------===//
// Decomposed norms
//===----------------------------------------------------------------------===//

/// The value `square` squares: Pow(v, 2) or Mul(v, v). Sets `whyNot` when `square` is a Pow or
/// Mul that is not a square (a wrong exponent, two different factors).
static Value getSquaredValue(Value square, std::string &whyNot) {
  if (auto pow = square.getDefiningOp<OnnxPowOp>()) {
    std::optional<double> exponent = getScalarConstant(pow.getExponent());
    if (!exponent) {
      whyNot = "the Pow exponent is not a scalar constant";
      return Value();
    }
    if (*exponent != 2.0) {
      whyNot = llvm::formatv("the Pow exponent is {0}, not 2", formatNumber(*exponent)).str();
      return Value();
    }
    return pow.getBase();
  }
  if (auto mul = square.getDefiningOp<OnnxMulOp>()) {
    if (mul.getA() != mul.getB()) {
      whyNot = "the averaged Mul multiplies two different values, not x * x";
      return Value();
    }
    return mul.getA();
  }
  whyNot = "the averaged value is not a square (Pow 2 or Mul x x)";
  return Value();
}

/// The mean that `centred` subtracts when it is `Sub(x, ReduceMean(...))`.
static OnnxReduceMeanOp getSubtractedMean(Value centred) {
  auto sub = centred.getDefiningOp<OnnxSubOp>();
  return sub ? sub.getB().getDefiningOp<OnnxReduceMeanOp>() : OnnxReduceMeanOp();
}

namespace {

/// How a decomposed norm computes its variance (the operand of `Add eps`).
enum class VarianceForm {
  /// ReduceMean(v^2): RMSNorm of v, or LayerNorm when v is x - mean.
  MeanOfSquares,
  /// ReduceMean(x^2) - mean(x)^2: ONNX's LayerNormalization function body.
  MeanOfSquaresMinusSquaredMean,
};

/// Matches the decomposed norms at their `Sqrt(variance + eps)`:
///   RMSNorm:   x * Reciprocal(Sqrt(ReduceMean(Pow(x, 2)) + eps))   (or x / Sqrt(..), Mul(x, x))
///   LayerNorm: d / Sqrt(ReduceMean(Pow(d, 2)) + eps), d = x - ReduceMean(x)
///   LayerNorm: (x - m) / Sqrt(ReduceMean(x * x) - m * m + eps), m = ReduceMean(x)
/// each optionally followed by a Cast back from f32 (when x is a Cast to f32), `* gamma` and,
/// for LayerNorm, `+ beta` (either operand order); replaces the last of them with
/// kiln.layer_norm / kiln.rms_norm (scale ones when there is no gamma).
struct DecomposedNormToKilnNorm : OpRewritePattern<OnnxSqrtOp> {
  DecomposedNormToKilnNorm(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), remarks(options) {}

  LogicalResult matchAndRewrite(OnnxSqrtOp sqrt, PatternRewriter &rewriter) const override {
    auto addEpsilon = sqrt.getInput().getDefiningOp<OnnxAddOp>();
    if (!addEpsilon)
      return failure();
    // The anchor: Sqrt(variance + eps) where the variance is a mean or mean-minus-square.
    Value variance, epsilonValue;
    VarianceForm form = VarianceForm::MeanOfSquares;
    for (auto [candidate, other] : {std::pair(addEpsilon.getA(), addEpsilon.getB()),
                                    std::pair(addEpsilon.getB(), addEpsilon.getA())}) {
      if (candidate.getDefiningOp<OnnxReduceMeanOp>()) {
        form = VarianceForm::MeanOfSquares;
      } else if (auto sub = candidate.getDefiningOp<OnnxSubOp>();
                 sub && sub.getA().getDefiningOp<OnnxReduceMeanOp>() &&
                 isa_and_present<OnnxMulOp, OnnxPowOp>(sub.getB().getDefiningOp())) {
        form = VarianceForm::MeanOfSquaresMinusSquaredMean;
      } else {
        continue;
      }
      variance = candidate;
      epsilonValue = other;
      break;
    }
    if (!variance)
      return failure();

    // What the variance averages, and so which norm this is.
    std::string whyNot;
    auto meanOfSquares =
        form == VarianceForm::MeanOfSquares
            ? variance.getDefiningOp<OnnxReduceMeanOp>()
            : variance.getDefiningOp<OnnxSubOp>().getA().getDefiningOp<OnnxReduceMeanOp>();
    Value squared = getSquaredValue(meanOfSquares.getData(), whyNot);
    bool isLayerNorm = form == VarianceForm::MeanOfSquaresMinusSquaredMean ||
                       (squared && getSubtractedMean(squared));
    StringRef what = isLayerNorm ? kLayerNorm : kRMSNorm;
    if (!squared)
      return remarks.fail(sqrt, what, whyNot);
    if (!hasSingleUser(meanOfSquares.getData()))
      return remarks.fail(sqrt, what, "the squared value has other users");
    if (std::string why = checkLastAxisMean(meanOfSquares); !why.empty())
      return remarks.fail(sqrt, what, why);

    std::optional<double> epsilon = getScalarConstant(epsilonValue);
    if (!epsilon)
      return remarks.fail(sqrt, what,
                          llvm::formatv("epsilon is not a scalar constant (it has shape {0})",
                                        formatType(epsilonValue.getType())));
    if (std::string why = checkEpsilon(*epsilon); !why.empty())
      return remarks.fail(sqrt, what, why);

    // The ops that divide by the standard deviation: Div(n, std), Mul(n, Reciprocal(std)) or
    // Mul(n, Div(1, std)).
    // Other users of std (ONNX's InvStdDev output) stay.
    SmallVector<std::pair<Operation *, Value>> normalizers;
    for (Operation *user : sqrt->getUsers()) {
      // 1 / std, as Reciprocal or as Div(1, std) (the TorchScript exporter's rsqrt).
      Value inverse;
      if (auto div = dyn_cast<OnnxDivOp>(user); div && div.getB() == sqrt.getOutput()) {
        if (isSplatConstant(div.getA(), 1.0, 0.0))
          inverse = div.getResult();
        else
          normalizers.push_back({div, div.getA()});
      }
      if (auto reciprocal = dyn_cast<OnnxReciprocalOp>(user))
        inverse = reciprocal.getOutput();
      if (inverse)
        for (Operation *inverseUser : inverse.getUsers())
          if (auto mul = dyn_cast<OnnxMulOp>(inverseUser))
            normalizers.push_back({mul, mul.getA() == inverse ? mul.getB() : mul.getA()});
    }
    // Without a division the Sqrt is only a statistic (what is left of a raised norm that
    // returns its InvStdDev): no near-miss.
    if (normalizers.empty())
      return failure();
    std::string firstWhyNot;
    for (auto [normalizer, numerator] : normalizers) {
      whyNot.clear();
      if (succeeded(raise(rewriter, form, isLayerNorm, squared, variance, *epsilon, normalizer,
                          numerator, whyNot)))
        return success();
      if (firstWhyNot.empty())
        firstWhyNot = whyNot;
    }
    return remarks.fail(sqrt, what, firstWhyNot);
  }

  /// Checks the rest of one candidate (numerator, mean, x, gamma, beta) and rewrites it.
  LogicalResult raise(PatternRewriter &rewriter, VarianceForm form, bool isLayerNorm, Value squared,
                      Value variance, double epsilon, Operation *normalizer, Value numerator,
                      std::string &whyNot) const {
    // x, and the numerator that must be x (RMSNorm) or x - mean(x) (LayerNorm).
    Value input;
    OnnxReduceMeanOp mean;
    if (form == VarianceForm::MeanOfSquares && !isLayerNorm) {
      if (numerator != squared) {
        whyNot = "the normalized value is not the value whose squares are averaged";
        return failure();
      }
      input = squared;
    } else if (form == VarianceForm::MeanOfSquares) {
      if (numerator != squared) {
        whyNot = "the normalized value is not the centred value whose variance is taken";
        return failure();
      }
      auto centre = numerator.getDefiningOp<OnnxSubOp>();
      input = centre.getA();
      mean = centre.getB().getDefiningOp<OnnxReduceMeanOp>();
      if (mean.getData() != input) {
        whyNot = "the mean is taken of a different value than the one it is subtracted from";
        return failure();
      }
      // d feeds the square and the division only.
      if (llvm::any_of(numerator.getUsers(), [&](Operation *user) {
            return user != normalizer && !isSquareOf(user, numerator);
          })) {
        whyNot = "x - mean has other users";
        return failure();
      }
    } else {
      // var = ReduceMean(x * x) - m * m with m = ReduceMean(x); numerator x - m.
      input = squared;
      std::string ignored;
      Value squaredMean = getSquaredValue(variance.getDefiningOp<OnnxSubOp>().getB(), ignored);
      mean = squaredMean ? squaredMean.getDefiningOp<OnnxReduceMeanOp>() : OnnxReduceMeanOp();
      if (!mean || mean.getData() != input) {
        whyNot = "the subtracted term is not the square of the mean of x";
        return failure();
      }
      auto centre = numerator.getDefiningOp<OnnxSubOp>();
      if (!centre || centre.getA() != input || centre.getB() != mean.getReduced()) {
        whyNot = "the normalized value is not x - mean(x)";
        return failure();
      }
      if (!hasSingleUser(numerator)) {
        whyNot = "x - mean has other users";
        return failure();
      }
    }
    if (mean)
      if (std::string why = checkLastAxisMean(mean); !why.empty()) {
        whyNot = "the mean's " + why;
        return failure();
      }

    // Below the division: a Cast back from f32 when x was widened to f32 for the statistics,
    // then gamma, then (LayerNorm) beta. Each step needs the value's single user.
    Value result = normalizer->getResult(0);
    if (auto widen = input.getDefiningOp<OnnxCastOp>();
        widen && hasSingleUser(result) && getRankedFloatType(widen.getInput())) {
      Type narrowElement = getRankedFloatType(widen.getInput()).getElementType();
      auto narrow = dyn_cast<OnnxCastOp>(*result.getUsers().begin());
      if (narrow && narrow.getTo() == narrowElement &&
          narrowElement.getIntOrFloatBitWidth() <
              getElementTypeOrSelf(input.getType()).getIntOrFloatBitWidth()) {
        input = widen.getInput();
        result = narrow.getOutput();
      }
    }
    auto inputType = getRankedFloatType(input);
    if (!inputType) {
      whyNot = "x has no ranked float type";
      return failure();
    }
    int64_t features = inputType.getShape().back();
    if (ShapedType::isDynamic(features)) {
      whyNot = "the normalized (last) dim is dynamic";
      return failure();
    }
    Value gamma, beta;
    if (failed(absorbParameter<OnnxMulOp>(result, gamma, "gamma", inputType, whyNot)))
      return failure();
    if (isLayerNorm && failed(absorbParameter<OnnxAddOp>(result, beta, "beta", inputType, whyNot)))
      return failure();
    if (result.getType() != inputType) {
      whyNot = llvm::formatv("the result type {0} differs from the input type {1}",
                             formatType(result.getType()), formatShape(inputType.getShape()))
                   .str();
      return failure();
    }

    Operation *last = result.getDefiningOp();
    rewriter.setInsertionPoint(last);
    Location loc = last->getLoc();
    Value scale = gamma ? reshapeParameterTo1D(rewriter, loc, gamma, features)
                        : createOnes(rewriter, loc, inputType.getElementType(), features);
    Value bias = beta ? reshapeParameterTo1D(rewriter, loc, beta, features) : Value();
    rewriter.replaceOp(last, createNorm(rewriter, loc, isLayerNorm, input, scale, bias, epsilon));
    return success();
  }

  /// Whether `user` is Pow(value, 2) or Mul(value, value).
  static bool isSquareOf(Operation *user, Value value) {
    std::string ignored;
    return isa<OnnxPowOp, OnnxMulOp>(user) && getSquaredValue(user->getResult(0), ignored) == value;
  }

  /// Extends `result` by its single user `OpTy(result, param)` when `param` is a `[D]`-shaped
  /// parameter (gamma for Mul, beta for Add). A parameter of another broadcast shape is a
  /// near-miss; a full-size operand (a residual, a gate) is not a parameter and ends the chain.
  template <typename OpTy>
  static LogicalResult absorbParameter(Value &result, Value &param, StringRef name,
                                       RankedTensorType inputType, std::string &whyNot) {
    if (!hasSingleUser(result))
      return success();
    auto op = dyn_cast<OpTy>(*result.getUsers().begin());
    if (!op || op.getA() == op.getB())
      return success();
    Value other = op.getA() == result ? op.getB() : op.getA();
    int64_t features = inputType.getShape().back();
    if (isParameterShape(other.getType(), features, inputType.getRank())) {
      param = other;
      result = op.getOutput();
      return success();
    }
    if (broadcastsAgainst(other.getType(), inputType)) {
      whyNot =
          llvm::formatv("{0} has shape {1}, not [{2}]", name, formatType(other.getType()), features)
              .str();
      return failure();
    }
    return success();
  }

  NearMissRemarks remarks;
};

} // namespace

void kiln::populateRaiseNormPatterns(RewritePatternSet &patterns, const RaiseOptions &options) {
  patterns.add<OnnxLayerNormalizationToLayerNorm, OnnxRMSNormalizationToRMSNorm,
               DecomposedNormToKilnNorm>(patterns.getContext(), options);
}
