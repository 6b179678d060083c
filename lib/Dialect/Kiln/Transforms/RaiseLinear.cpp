//===- RaiseLinear.cpp - kiln.linear from MatMul and Gemm -----------------===//
//
// A MatMul or Gemm whose weight is a constant becomes a kiln.linear; its transposes are folded
// into a new [out, in] weight constant at compile time. The epilogue is absorbed afterwards by
// separate patterns, so that they compose in whatever order the greedy driver applies them:
// the bias Add (a constant [N]), the activation (kiln.gelu, kiln.silu, Relu) and the residual
// Add (a tensor of the result's type). Exporters that flatten the input to 2-D around a Gemm
// get the reshapes folded away. mergeSiblingLinears then concatenates the weights of linears
// that read the same input (Q/K/V, gate/up) into one linear followed by a Split.
//
//===----------------------------------------------------------------------===//

#include "ConstantValues.h"
#include "RaisePatterns.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace kiln;

namespace {


/// A kiln.linear like `linear` with other operands; the caller replaces the op it roots at.
LinearOp createLinear(PatternRewriter &rewriter, Location loc, Type resultType, LinearOp linear,
                      Value input, Value bias, Value residual, Activation activation) {
  return LinearOp::create(rewriter, loc, resultType, input, linear.getWeight(), bias, residual,
                          activation);
}

/// MatMul(x, W) with W a constant [K, N] (or Transpose(W') with W' a constant [N, K]):
/// kiln.linear(x, W^T) with W^T a new constant. MatMuls of two activations (attention's QK^T
/// and PV) and MatMuls with the constant on the left are not linears and are left alone.
struct RaiseMatMulToLinear : OpRewritePattern<OnnxMatMulOp> {
  RaiseMatMulToLinear(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), options(options) {}

  LogicalResult matchAndRewrite(OnnxMatMulOp op, PatternRewriter &rewriter) const override {
    Value input = op.getA(), weight = op.getB();
    // An exported Transpose of a [N, K] constant is already the linear layout.
    bool weightIsTransposed = false;
    if (auto transpose = weight.getDefiningOp<OnnxTransposeOp>()) {
      if (transpose.getData().getDefiningOp<ConstantOp>() &&
          transpose.getPermutation() == SmallVector<int64_t>{1, 0}) {
        weight = transpose.getData();
        weightIsTransposed = true;
      }
    }
    if (!weight.getDefiningOp<ConstantOp>() || input.getDefiningOp<ConstantOp>())
      return failure();
    RankedTensorType inputType = getRankedFloatType(input);
    RankedTensorType resultType = getRankedFloatType(op.getOutput());
    auto weightType = dyn_cast<RankedTensorType>(weight.getType());
    if (!inputType || !resultType || !weightType) // unranked until kiln-simplify refines it
      return failure();
    if (weightType.getRank() != 2)
      return nearMiss(rewriter, op, options, "linear", "the constant weight is not 2-D");
    int64_t inFeatures = weightType.getShape()[weightIsTransposed ? 1 : 0];
    int64_t outFeatures = weightType.getShape()[weightIsTransposed ? 0 : 1];
    if (inputType.getRank() < 1 || inputType.getShape().back() != inFeatures ||
        ShapedType::isDynamic(inFeatures))
      return nearMiss(rewriter, op, options, "linear",
                      "the weight's in_features do not match the input's last dim");
    if (resultType.getRank() != inputType.getRank() || resultType.getShape().back() != outFeatures)
      return nearMiss(rewriter, op, options, "linear", "the result type is not [..., out_features]");
    Value linearWeight = weight;
    if (!weightIsTransposed) {
      std::optional<exec::Tensor> tensor = getConstantTensor(weight);
      if (!tensor)
        return nearMiss(rewriter, op, options, "linear", "the weight's elements cannot be read");
      linearWeight = createConstant(rewriter, weight.getLoc(), transposeMatrix(*tensor),
                                    getConstantName(weight, "weight") + ".T");
    }
    rewriter.replaceOpWithNewOp<LinearOp>(op, resultType, input, linearWeight, Value(), Value(),
                                          Activation::none);
    return success();
  }

  RaiseOptions options;
};

/// Gemm(a, b, c) with a 2-D, transA = 0 and b a constant: kiln.linear(a, b or b^T) with alpha
/// folded into the weight; c becomes the bias (a constant [N], [1, N] or scalar, beta folded
/// in) or the residual (a tensor of the result's type, beta = 1).
struct RaiseGemmToLinear : OpRewritePattern<OnnxGemmOp> {
  RaiseGemmToLinear(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), options(options) {}

  LogicalResult matchAndRewrite(OnnxGemmOp op, PatternRewriter &rewriter) const override {
    Value input = op.getA(), weight = op.getB(), addend = op.getC();
    if (!weight.getDefiningOp<ConstantOp>() || input.getDefiningOp<ConstantOp>())
      return failure();
    RankedTensorType inputType = getRankedFloatType(input);
    RankedTensorType resultType = getRankedFloatType(op.getOutput());
    auto weightType = dyn_cast<RankedTensorType>(weight.getType());
    if (!inputType || !resultType || !weightType)
      return failure();
    if (op.getTransA() != 0)
      return nearMiss(rewriter, op, options, "linear", "transA = 1 (the input would need a transpose)");
    if (inputType.getRank() != 2 || weightType.getRank() != 2 || resultType.getRank() != 2)
      return nearMiss(rewriter, op, options, "linear", "Gemm operands are not 2-D");
    bool transB = op.getTransB() != 0;
    int64_t inFeatures = weightType.getShape()[transB ? 1 : 0];
    int64_t outFeatures = weightType.getShape()[transB ? 0 : 1];
    if (ShapedType::isDynamic(inFeatures) || inputType.getShape()[1] != inFeatures ||
        resultType.getShape()[1] != outFeatures)
      return nearMiss(rewriter, op, options, "linear",
                      "the weight's in_features do not match the input's last dim");
    double alpha = op.getAlpha().convertToDouble(), beta = op.getBeta().convertToDouble();

    // The addend: a bias when it is a constant broadcast along the rows, else a residual.
    std::optional<exec::Tensor> bias;
    Value residual;
    if (addend) {
      auto addendType = dyn_cast<RankedTensorType>(addend.getType());
      bool rowBroadcast =
          addendType && addendType.hasStaticShape() && addendType.getRank() <= 2 &&
          (addendType.getRank() == 0 || addendType.getShape().back() == outFeatures ||
           addendType.getShape().back() == 1) &&
          (addendType.getRank() < 2 || addendType.getShape()[0] == 1);
      std::optional<exec::Tensor> constant =
          rowBroadcast ? getConstantTensor(addend) : std::nullopt;
      if (constant) {
        exec::Tensor row = exec::Tensor::zeros(constant->getDType(), {outFeatures});
        int64_t count = constant->getNumElements();
        for (int64_t o = 0; o < outFeatures; ++o)
          row.setDouble(o, beta * constant->getDouble(count == 1 ? 0 : o));
        bias = row;
      } else if (addend.getType() == resultType && beta == 1.0) {
        residual = addend;
      } else {
        return nearMiss(rewriter, op, options, "linear",
                        "C is neither a constant bias [N] nor a residual of the result's type "
                        "with beta = 1");
      }
    }

    Value linearWeight = weight;
    if (!transB || alpha != 1.0) {
      std::optional<exec::Tensor> tensor = getConstantTensor(weight);
      if (!tensor)
        return nearMiss(rewriter, op, options, "linear", "the weight's elements cannot be read");
      exec::Tensor layout = transB ? *tensor : transposeMatrix(*tensor);
      if (alpha != 1.0) {
        exec::Tensor scaled = exec::Tensor::zeros(layout.getDType(), layout.getShape());
        for (int64_t i = 0, e = layout.getNumElements(); i < e; ++i)
          scaled.setDouble(i, alpha * layout.getDouble(i));
        layout = scaled;
      }
      std::string name = getConstantName(weight, "weight");
      linearWeight =
          createConstant(rewriter, weight.getLoc(), layout, name + (transB ? ".scaled" : ".T"));
    }
    Value biasValue;
    if (bias) {
      // A [N] constant with beta = 1 is used as is; anything else gets a new [N] constant.
      auto addendType = cast<RankedTensorType>(addend.getType());
      if (beta == 1.0 && addendType.getRank() == 1 && addendType.getShape()[0] == outFeatures)
        biasValue = addend;
      else
        biasValue = createConstant(rewriter, addend.getLoc(), *bias,
                                   getConstantName(addend, "bias") + ".bias");
    }
    rewriter.replaceOpWithNewOp<LinearOp>(op, resultType, input, linearWeight, biasValue, residual,
                                          Activation::none);
    return success();
  }

  RaiseOptions options;
};

/// The dims of the Reshape target `shape` when they are all positive except at most one -1;
/// ONNX's 0 (copy a dim) is not accepted, so the target never depends on the data's shape.
std::optional<SmallVector<int64_t>> getExplicitReshapeTarget(Value shape) {
  std::optional<SmallVector<int64_t>> dims = getConstantInts(shape);
  if (!dims || llvm::count(*dims, -1) > 1 ||
      llvm::any_of(*dims, [](int64_t dim) { return dim == 0 || dim < -1; }))
    return std::nullopt;
  return dims;
}

/// Whether a tensor with the (possibly dynamic) dims `dims` has the dims `target` (a Reshape
/// target of the same element count: positive dims and at most one -1). A -1 is inferred from
/// the element count, so it equals the data's dim there when every other dim is equal.
bool hasReshapeTargetDims(ArrayRef<int64_t> dims, ArrayRef<int64_t> target) {
  if (dims.size() != target.size())
    return false;
  for (auto [dim, wanted] : llvm::zip_equal(dims, target))
    if (wanted != -1 && dim != wanted)
      return false;
  return true;
}

/// Reshape([L..., N]) of a 2-D kiln.linear [M, N] whose input is Reshape(x [L..., K]) to
/// [M, K] (what exporters put around Gemm): one kiln.linear on x with result [L..., N]. When
/// x is not [L..., K] (the input was flattened further, e.g. [b, s, h, d] to [b*s, h*d]), the
/// linear reads a Reshape of it to [L..., K], which keeps it a linear over the leading dims.
struct FoldReshapesAroundLinear : OpRewritePattern<OnnxReshapeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(OnnxReshapeOp op, PatternRewriter &rewriter) const override {
    auto linear = op.getData().getDefiningOp<LinearOp>();
    if (!linear || !linear->hasOneUse() || linear.getResidual())
      return failure();
    auto linearType = cast<RankedTensorType>(linear.getInput().getType());
    auto linearResultType = cast<RankedTensorType>(linear.getOutput().getType());
    RankedTensorType resultType = getRankedFloatType(op.getReshaped());
    if (linearType.getRank() != 2 || !resultType || resultType.getRank() < 3 ||
        resultType.getElementType() != linearResultType.getElementType())
      return failure();
    int64_t inFeatures = linearType.getShape()[1];
    int64_t outFeatures = linearResultType.getShape()[1];
    std::optional<SmallVector<int64_t>> target = getExplicitReshapeTarget(op.getShape());
    // Only the leading dims may be unflattened: the last stays out_features.
    if (!target || static_cast<int64_t>(target->size()) != resultType.getRank() ||
        ShapedType::isDynamic(outFeatures) || target->back() != outFeatures ||
        resultType.getShape().back() != outFeatures)
      return failure();
    SmallVector<int64_t> inputTarget = *target;
    inputTarget.back() = inFeatures;

    Value input = linear.getInput();
    Value source = input;
    if (auto flatten = input.getDefiningOp<OnnxReshapeOp>())
      source = flatten.getData();
    auto sourceType = dyn_cast<RankedTensorType>(source.getType());
    Value newInput;
    if (sourceType && sourceType.getElementType() == linearType.getElementType() &&
        hasReshapeTargetDims(sourceType.getShape(), inputTarget)) {
      newInput = source; // the flatten only merged the leading dims: read x itself
    } else {
      if (!sourceType)
        source = input;
      Value shape = createI64Constant(rewriter, op.getLoc(), inputTarget);
      newInput = OnnxReshapeOp::create(rewriter, op.getLoc(), withLastDim(resultType, inFeatures),
                                       source, shape, /*allowzero=*/0);
    }
    LinearOp merged = createLinear(rewriter, linear.getLoc(), resultType, linear, newInput,
                                   linear.getBias(), Value(), linear.getActivation());
    rewriter.replaceOp(op, merged.getOutput());
    rewriter.eraseOp(linear);
    return success();
  }
};

/// Whether `value` is a constant that broadcasts as a bias [N] over a result of rank `rank`:
/// [N] or [1, ..., 1, N].
bool isBiasConstant(Value value, int64_t rank, int64_t outFeatures, Type elementType) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || !value.getDefiningOp<ConstantOp>() || type.getElementType() != elementType ||
      type.getRank() < 1 || type.getRank() > rank || type.getShape().back() != outFeatures ||
      ShapedType::isDynamic(outFeatures))
    return false;
  return llvm::all_of(type.getShape().drop_back(), [](int64_t dim) { return dim == 1; });
}

/// Add(linear, b) or Add(b, linear) with the linear used once and no epilogue yet: b becomes
/// the bias when it is a constant [N] (or [1, .., N]), else the residual when it has exactly
/// the result's type (the residual is added after the activation, so it may follow one).
struct AbsorbAddIntoLinear : OpRewritePattern<OnnxAddOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(OnnxAddOp op, PatternRewriter &rewriter) const override {
    for (auto [linearValue, other] : {std::pair{op.getA(), op.getB()}, {op.getB(), op.getA()}}) {
      auto linear = linearValue.getDefiningOp<LinearOp>();
      if (!linear || !linearValue.hasOneUse() || linear.getResidual())
        continue;
      auto resultType = cast<RankedTensorType>(linear.getOutput().getType());
      if (op.getOutput().getType() != resultType) // the Add would broadcast the result
        continue;
      int64_t outFeatures = resultType.getShape().back();
      if (!linear.getBias() && linear.getActivation() == Activation::none &&
          isBiasConstant(other, resultType.getRank(), outFeatures, resultType.getElementType())) {
        Value bias = other;
        if (cast<RankedTensorType>(other.getType()).getRank() != 1) {
          std::optional<exec::Tensor> tensor = getConstantTensor(other);
          if (!tensor)
            continue;
          bias = createConstant(rewriter, other.getLoc(), tensor->reshaped({outFeatures}),
                                getConstantName(other, "bias") + ".bias");
        }
        LinearOp raised = createLinear(rewriter, op.getLoc(), resultType, linear, linear.getInput(),
                                       bias, Value(), Activation::none);
        rewriter.replaceOp(op, raised.getOutput());
        rewriter.eraseOp(linear);
        return success();
      }
      if (other.getType() == resultType) {
        // Created at the Add: the residual may be defined after the linear.
        LinearOp raised = createLinear(rewriter, op.getLoc(), resultType, linear, linear.getInput(),
                                       linear.getBias(), other, linear.getActivation());
        rewriter.replaceOp(op, raised.getOutput());
        rewriter.eraseOp(linear);
        return success();
      }
    }
    return failure();
  }
};

/// kiln.gelu, kiln.silu or ONNX Relu of a linear used once with no activation and no residual:
/// the activation becomes the linear's epilogue. A silu that feeds a Mul of its own type is
/// left to become kiln.swiglu (silu(gate) * up), whose gate/up linears are merged later.
template <typename ActivationOp>
struct AbsorbActivationIntoLinear : OpRewritePattern<ActivationOp> {
  using OpRewritePattern<ActivationOp>::OpRewritePattern;

  static std::optional<Activation> getActivation(ActivationOp op) {
    if constexpr (std::is_same_v<ActivationOp, GeluOp>)
      return op.getApproximation() == GeluApproximation::tanh ? Activation::gelu_tanh
                                                              : Activation::gelu_erf;
    if constexpr (std::is_same_v<ActivationOp, SiluOp>) {
      Value result = op.getOutput();
      if (result.hasOneUse())
        if (auto mul = dyn_cast<OnnxMulOp>(*result.getUsers().begin()))
          if (mul.getA().getType() == result.getType() && mul.getB().getType() == result.getType())
            return std::nullopt;
      return Activation::silu;
    }
    return Activation::relu;
  }

  LogicalResult matchAndRewrite(ActivationOp op, PatternRewriter &rewriter) const override {
    Value input = op->getOperand(0);
    auto linear = input.getDefiningOp<LinearOp>();
    if (!linear || !input.hasOneUse() || linear.getResidual() ||
        linear.getActivation() != Activation::none ||
        op->getResult(0).getType() != linear.getOutput().getType())
      return failure();
    std::optional<Activation> activation = getActivation(op);
    if (!activation)
      return failure();
    LinearOp raised = createLinear(rewriter, op.getLoc(), linear.getOutput().getType(), linear,
                                   linear.getInput(), linear.getBias(), Value(), *activation);
    rewriter.replaceOp(op, raised.getOutput());
    rewriter.eraseOp(linear);
    return success();
  }
};

} // namespace

void kiln::populateRaiseLinearPatterns(RewritePatternSet &patterns, const RaiseOptions &options) {
  MLIRContext *context = patterns.getContext();
  patterns.add<RaiseMatMulToLinear, RaiseGemmToLinear>(context, options);
  patterns.add<FoldReshapesAroundLinear, AbsorbAddIntoLinear, AbsorbActivationIntoLinear<GeluOp>,
               AbsorbActivationIntoLinear<SiluOp>, AbsorbActivationIntoLinear<OnnxReluOp>>(context);
}

//===----------------------------------------------------------------------===//
// Merging sibling linears
//===----------------------------------------------------------------------===//

namespace {

/// What sibling linears must share to be merged: the input, the block (so that program order
/// is dominance order), the activation and whether they have a bias.
using SiblingKey = std::tuple<Value, Block *, int, int>;

/// The weight and bias elements of a linear that can be merged: no residual, constant
/// operands, static out_features.
struct MergeableLinear {
  LinearOp op;
  exec::Tensor weight;
  std::optional<exec::Tensor> bias;
};

std::optional<MergeableLinear> getMergeable(LinearOp op) {
  auto resultType = cast<RankedTensorType>(op.getOutput().getType());
  auto weightType = cast<RankedTensorType>(op.getWeight().getType());
  if (op.getResidual() || !weightType.hasStaticShape() ||
      ShapedType::isDynamic(resultType.getShape().back()))
    return std::nullopt;
  std::optional<exec::Tensor> weight = getConstantTensor(op.getWeight());
  if (!weight)
    return std::nullopt;
  MergeableLinear mergeable{op, *weight, std::nullopt};
  if (Value bias = op.getBias()) {
    mergeable.bias = getConstantTensor(bias);
    if (!mergeable.bias)
      return std::nullopt;
  }
  return mergeable;
}

/// Replaces `siblings` (in program order, same input, two or more) with one linear on the
/// concatenated weights, at the first sibling, and a Split of its last axis.
void mergeLinears(MutableArrayRef<MergeableLinear> siblings) {
  LinearOp first = siblings.front().op;
  // At the first sibling: the shared input dominates it, and every user of a later sibling
  // comes after that sibling, hence after the Split.
  OpBuilder builder(first);
  SmallVector<exec::Tensor> weights, biases;
  SmallVector<std::string> names;
  SmallVector<Type> resultTypes;
  SmallVector<Location> locs;
  SmallVector<int64_t> sizes;
  int64_t outFeatures = 0;
  for (auto [i, sibling] : llvm::enumerate(siblings)) {
    weights.push_back(sibling.weight);
    if (sibling.bias)
      biases.push_back(*sibling.bias);
    names.push_back(getConstantName(sibling.op.getWeight(), "weight"));
    resultTypes.push_back(sibling.op.getOutput().getType());
    locs.push_back(sibling.op.getLoc());
    int64_t features = sibling.weight.getShape()[0];
    sizes.push_back(features);
    outFeatures += features;
  }
  Location loc = builder.getFusedLoc(locs);
  Value weight = createConstant(builder, loc, concatFirstDim(weights), llvm::join(names, "+"));
  Value bias;
  if (!biases.empty())
    bias = createConstant(builder, loc, concatFirstDim(biases), llvm::join(names, "+") + ".bias");
  auto firstType = cast<RankedTensorType>(first.getOutput().getType());
  auto merged = LinearOp::create(builder, loc, withLastDim(firstType, outFeatures),
                                 first.getInput(), weight, bias, Value(), first.getActivation());
  Value splitSizes = createI64Constant(builder, loc, sizes);
  auto split =
      OnnxSplitOp::create(builder, loc, resultTypes, merged.getOutput(), splitSizes,
                          builder.getI64IntegerAttr(firstType.getRank() - 1), IntegerAttr());
  for (auto [i, sibling] : llvm::enumerate(siblings)) {
    SmallVector<Operation *> operands;
    for (Value operand : sibling.op->getOperands())
      if (Operation *def = operand.getDefiningOp<ConstantOp>())
        operands.push_back(def);
    sibling.op.getOutput().replaceAllUsesWith(split.getResult(i));
    sibling.op->erase();
    // The old weights (usually the transposes raise made) are dead unless shared.
    for (Operation *def : operands)
      if (def->use_empty())
        def->erase();
  }
}

} // namespace

void kiln::mergeSiblingLinears(func::FuncOp function, const RaiseOptions &options) {
  llvm::MapVector<SiblingKey, SmallVector<LinearOp>> groups;
  function.walk([&](LinearOp op) {
    SiblingKey key{op.getInput(), op->getBlock(), static_cast<int>(op.getActivation()),
                   op.getBias() ? 1 : 0};
    groups[key].push_back(op);
  });
  for (auto &entry : groups) {
    SmallVector<LinearOp> &linears = entry.second;
    if (linears.size() < 2)
      continue;
    llvm::sort(linears, [](LinearOp a, LinearOp b) { return a->isBeforeInBlock(b); });
    SmallVector<MergeableLinear, 4> siblings;
    for (LinearOp op : linears) {
      if (std::optional<MergeableLinear> mergeable = getMergeable(op))
        siblings.push_back(std::move(*mergeable));
      else if (options.remarks)
        op->emitRemark() << "linear not merged with its siblings: it has a residual or its "
                            "weight or bias is not a readable constant";
    }
    if (siblings.size() >= 2)
      mergeLinears(siblings);
  }
}
