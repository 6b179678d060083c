//===- RaiseRotary.cpp - kiln.rotary from rotary embedding graphs ---------===//
//
// Rotary embeddings as exporters emit them: x * cos + rotate(x) * sin, where rotate is
// rotate_half (Concat(-x2, x1) of the two halves: GPT-NeoX, Llama in HF) or rotate_every_two
// (stack(-x_odd, x_even).flatten: GPT-J), possibly on a prefix of the head dims (partial
// rotary), and ONNX's RotaryEmbedding op. cos/sin in the graph have one entry per head dim,
// i.e. each angle twice; kiln.rotary takes one per rotated pair. Raise proves the duplication
// (constant tables are compared element by element; computed tables must be Concat(f, f) or
// the interleaved stack of f, under ops that act on every element alike) and takes one copy.
//
//===----------------------------------------------------------------------===//

#include "ConstantValues.h"
#include "RaisePatterns.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

using namespace mlir;
using namespace kiln;

namespace {


/// Whether `axis` (ONNX, possibly negative) is the last axis of a rank-`rank` tensor.
bool isLastAxis(int64_t axis, int64_t rank) { return axis == rank - 1 || axis == -1; }

/// A Slice of the last axis with constant bounds, normalized against the static last dim.
struct LastAxisSlice {
  Value data;
  int64_t start, end, step;
};

std::optional<LastAxisSlice> matchLastAxisSlice(Value value) {
  auto slice = value.getDefiningOp<OnnxSliceOp>();
  if (!slice)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(slice.getData().getType());
  if (!type || type.getRank() < 1 || type.isDynamicDim(type.getRank() - 1))
    return std::nullopt;
  int64_t rank = type.getRank(), size = type.getShape().back();
  std::optional<SmallVector<int64_t>> starts = getConstantInts(slice.getStarts());
  std::optional<SmallVector<int64_t>> ends = getConstantInts(slice.getEnds());
  std::optional<SmallVector<int64_t>> axes =
      slice.getAxes() ? getConstantInts(slice.getAxes()) : SmallVector<int64_t>{0};
  std::optional<SmallVector<int64_t>> steps =
      slice.getSteps() ? getConstantInts(slice.getSteps()) : SmallVector<int64_t>{1};
  if (!starts || !ends || !axes || !steps || starts->size() != 1 || ends->size() != 1 ||
      axes->size() != 1 || steps->size() != 1 || !isLastAxis(axes->front(), rank) ||
      steps->front() <= 0)
    return std::nullopt;
  // ONNX clamps both bounds to [0, size] after adding size to negative ones.
  auto clamp = [size](int64_t bound) {
    if (bound < 0)
      bound += size;
    return std::clamp<int64_t>(bound, 0, size);
  };
  return LastAxisSlice{slice.getData(), clamp(starts->front()), clamp(ends->front()),
                       steps->front()};
}

/// Whether `slice` is data[start:end:step] of the last axis.
bool isSliceOf(const std::optional<LastAxisSlice> &slice, Value data, int64_t start, int64_t end,
               int64_t step) {
  return slice && slice->data == data && slice->start == start && slice->end == end &&
         slice->step == step;
}

/// Whether Unsqueeze `op` inserts exactly one dim, after the last dim of its input.
bool unsqueezesNewLastDim(OnnxUnsqueezeOp op) {
  auto type = dyn_cast<RankedTensorType>(op.getData().getType());
  std::optional<SmallVector<int64_t>> axes = getConstantInts(op.getAxes());
  return type && axes && axes->size() == 1 && isLastAxis(axes->front(), type.getRank() + 1);
}

/// Whether Reshape `op` merges the last two dims of its input and keeps the others. A leading
/// dim is kept when the types say so (static and equal) or, when dynamic, when the constant
/// target copies it (0) or infers it (a single -1, every other dim being known equal).
bool reshapeMergesLastTwoDims(OnnxReshapeOp op) {
  auto input = dyn_cast<RankedTensorType>(op.getData().getType());
  auto result = dyn_cast<RankedTensorType>(op.getReshaped().getType());
  if (!input || !result || input.getRank() < 2 || result.getRank() != input.getRank() - 1)
    return false;
  int64_t rank = result.getRank();
  ArrayRef<int64_t> in = input.getShape(), out = result.getShape();
  if (ShapedType::isDynamic(in[rank - 1]) || ShapedType::isDynamic(in[rank]) ||
      out[rank - 1] != in[rank - 1] * in[rank])
    return false;
  std::optional<SmallVector<int64_t>> target = getConstantInts(op.getShape());
  if (target && static_cast<int64_t>(target->size()) != rank)
    return false;
  bool copiesZeros = op.getAllowzero() == 0;
  int64_t inferred = 0;
  for (int64_t i = 0; i + 1 < rank; ++i) {
    if (!ShapedType::isDynamic(in[i]) && in[i] == out[i])
      continue;
    if (target && (*target)[i] == 0 && copiesZeros)
      continue;
    if (target && (*target)[i] == -1) {
      ++inferred;
      continue;
    }
    return false;
  }
  return inferred == 0 || (inferred == 1 && target->back() == out[rank - 1]);
}

/// The value rotate_half(x) = Concat(-x[h:R], x[0:h]) is computed from: x, with R = 2h its last
/// dim. `nearMissReason` is set when the Concat(Neg(..), ..) is there but the halves are wrong.
Value matchRotateHalf(Value value, std::string &nearMissReason) {
  auto concat = value.getDefiningOp<OnnxConcatOp>();
  if (!concat || concat.getInputs().size() != 2)
    return {};
  auto type = dyn_cast<RankedTensorType>(concat.getConcatResult().getType());
  if (!type || !isLastAxis(concat.getAxis(), type.getRank()))
    return {};
  auto neg = concat.getInputs()[0].getDefiningOp<OnnxNegOp>();
  if (!neg) {
    if (concat.getInputs()[1].getDefiningOp<OnnxNegOp>())
      nearMissReason = "rotate_half negates the first half instead of the second";
    return {};
  }
  std::optional<LastAxisSlice> second = matchLastAxisSlice(neg.getInput());
  std::optional<LastAxisSlice> first = matchLastAxisSlice(concat.getInputs()[1]);
  if (!second || !first || second->data != first->data) {
    nearMissReason = "rotate_half's operands are not slices of one tensor's last axis";
    return {};
  }
  Value x = first->data;
  int64_t dim = cast<RankedTensorType>(x.getType()).getShape().back();
  if (dim % 2 != 0 || !isSliceOf(second, x, dim / 2, dim, 1) ||
      !isSliceOf(first, x, 0, dim / 2, 1)) {
    nearMissReason = "rotate_half's slices are not x[R/2:R] (negated) and x[0:R/2]";
    return {};
  }
  return x;
}

/// The value rotate_every_two(x) = stack(-x[1::2], x[0::2], -1).flatten(-2) is computed from,
/// as exporters emit it: Reshape(Concat(Unsqueeze(Neg(x_odd), -1), Unsqueeze(x_even, -1))).
Value matchRotateEveryTwo(Value value, std::string &nearMissReason) {
  auto reshape = value.getDefiningOp<OnnxReshapeOp>();
  if (!reshape)
    return {};
  auto concat = reshape.getData().getDefiningOp<OnnxConcatOp>();
  if (!concat || concat.getInputs().size() != 2)
    return {};
  auto stackedType = dyn_cast<RankedTensorType>(concat.getConcatResult().getType());
  if (!stackedType || !isLastAxis(concat.getAxis(), stackedType.getRank()) ||
      stackedType.getShape().back() != 2)
    return {};
  // Each operand is Unsqueeze(v, -1); the Neg may sit on either side of the Unsqueeze.
  auto unstack = [](Value operand, bool &negated) -> Value {
    negated = false;
    if (auto neg = operand.getDefiningOp<OnnxNegOp>()) {
      negated = true;
      operand = neg.getInput();
    }
    auto unsqueeze = operand.getDefiningOp<OnnxUnsqueezeOp>();
    if (!unsqueeze || !unsqueezesNewLastDim(unsqueeze))
      return {};
    Value inner = unsqueeze.getData();
    if (auto neg = inner.getDefiningOp<OnnxNegOp>(); neg && !negated) {
      negated = true;
      inner = neg.getInput();
    }
    return inner;
  };
  bool firstNegated, secondNegated;
  Value odd = unstack(concat.getInputs()[0], firstNegated);
  Value even = unstack(concat.getInputs()[1], secondNegated);
  if (!odd || !even)
    return {};
  if (!firstNegated || secondNegated) {
    nearMissReason = "rotate_every_two must negate the odd elements only";
    return {};
  }
  std::optional<LastAxisSlice> oddSlice = matchLastAxisSlice(odd);
  std::optional<LastAxisSlice> evenSlice = matchLastAxisSlice(even);
  if (!oddSlice || !evenSlice || oddSlice->data != evenSlice->data) {
    nearMissReason = "rotate_every_two's operands are not slices of one tensor's last axis";
    return {};
  }
  Value x = evenSlice->data;
  int64_t dim = cast<RankedTensorType>(x.getType()).getShape().back();
  if (dim % 2 != 0 || !isSliceOf(oddSlice, x, 1, dim, 2) || !isSliceOf(evenSlice, x, 0, dim, 2)) {
    nearMissReason = "rotate_every_two's slices are not x[1::2] (negated) and x[0::2]";
    return {};
  }
  if (!reshapeMergesLastTwoDims(reshape) || reshape.getReshaped().getType() != x.getType()) {
    nearMissReason = "the Reshape after the stack does not flatten it back to x's shape";
    return {};
  }
  return x;
}

/// Whether `op` acts on every element of its operand #`index` alike and keeps its type: then
/// it maps a table whose entries come in equal pairs to one that does too, and applied to one
/// copy it gives the other copy's values. Cos, Sin, Neg, and Mul/Div/Add/Sub by a constant that
/// is the same along the last axis (HF's attention_scaling).
bool isUniformElementwise(Operation *op, unsigned index) {
  if (op->getNumResults() != 1 || index >= op->getNumOperands())
    return false;
  Value chainOperand = op->getOperand(index);
  if (op->getResult(0).getType() != chainOperand.getType())
    return false;
  if (isa<OnnxCosOp, OnnxSinOp, OnnxNegOp>(op))
    return true;
  if (!isa<OnnxMulOp, OnnxDivOp, OnnxAddOp, OnnxSubOp>(op))
    return false;
  Value other = op->getOperand(1 - index);
  auto type = dyn_cast<RankedTensorType>(other.getType());
  auto chainType = cast<RankedTensorType>(chainOperand.getType());
  return other.getDefiningOp<ConstantOp>() && type && type.getRank() <= chainType.getRank() &&
         (type.getRank() == 0 || type.getShape().back() == 1);
}

/// The pairing of dims that a cos/sin table must repeat: (i, i + R/2) or (2i, 2i + 1).
bool isDuplicated(const exec::Tensor &table, int64_t rotaryDim, RotaryStyle style) {
  int64_t half = rotaryDim / 2, rows = table.getNumElements() / rotaryDim;
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t p = 0; p < half; ++p) {
      int64_t first = style == RotaryStyle::half ? p : 2 * p;
      int64_t second = style == RotaryStyle::half ? p + half : 2 * p + 1;
      if (table.getDouble(row * rotaryDim + first) != table.getDouble(row * rotaryDim + second))
        return false;
    }
  return true;
}

/// `anchor` with `operand` in place of its operand #`index` and the last dim of the result halved;
/// an identical op already computed before `anchor` (by the rewrite of a sibling rotary:
/// Q and K share cos/sin) is reused. Created right before `anchor`, the original op.
Value cloneOnHalf(PatternRewriter &rewriter, Operation *anchor, unsigned index, Value operand) {
  SmallVector<Value> operands = llvm::to_vector(anchor->getOperands());
  operands[index] = operand;
  Type resultType = withLastDim(cast<RankedTensorType>(anchor->getResult(0).getType()),
                                cast<RankedTensorType>(operand.getType()).getShape().back());
  for (Operation *user : operand.getUsers())
    if (user->getName() == anchor->getName() && user->getOperands() == ValueRange(operands) &&
        user->getResultTypes() == TypeRange(resultType) &&
        user->getAttrDictionary() == anchor->getAttrDictionary() &&
        user->getBlock() == anchor->getBlock() && user->isBeforeInBlock(anchor))
      return user->getResult(0);
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(anchor);
  OperationState state(anchor->getLoc(), anchor->getName(), operands, resultType,
                       anchor->getAttrs());
  return rewriter.create(state)->getResult(0);
}

/// The table of one angle per rotated pair for kiln.rotary ([S, R/2] or [B, S, R/2]) from
/// `table`, the per-dim cos or sin the graph multiplies x [B, H, S, R] by (broadcast, so
/// [S, R], [1, S, R] or [B|1, 1, S, R]). Fails with a reason when the entries cannot be proved
/// to come in equal pairs.
FailureOr<Value> getPairTable(PatternRewriter &rewriter, Value table, RankedTensorType xType,
                              int64_t rotaryDim, RotaryStyle style, std::string &reason,
                              bool build) {
  auto type = getRankedFloatType(table);
  if (!type || type.getRank() < 2 || type.getRank() > 4 || type.getShape().back() != rotaryDim ||
      type.getElementType() != xType.getElementType()) {
    reason = "cos/sin is not a float table [.., seq, rotary_dim] of the input's type";
    return failure();
  }
  // Align the table's dims with x's [B, H, S, R], as the Mul broadcasts them.
  SmallVector<int64_t> dims(4 - type.getRank(), 1);
  llvm::append_range(dims, type.getShape());
  // Equal dims, or both dynamic (both are the sequence length in the exports seen; a static
  // table against a dynamic x, or the reverse, would broadcast one row over all positions).
  auto compatible = [](int64_t a, int64_t b) { return a == b; };
  if (dims[1] != 1 || !compatible(dims[2], xType.getShape()[2]) ||
      (dims[0] != 1 && !compatible(dims[0], xType.getShape()[0]))) {
    reason = "cos/sin does not broadcast as [batch or 1, 1, seq, rotary_dim]";
    return failure();
  }
  int64_t half = rotaryDim / 2;
  SmallVector<int64_t> pairShape;
  if (dims[0] != 1)
    pairShape.push_back(dims[0]);
  pairShape.append({dims[2], half});

  // A constant table: compare the copies and keep the first of each pair.
  if (auto constant = table.getDefiningOp<ConstantOp>()) {
    std::optional<exec::Tensor> tensor =
        type.hasStaticShape() ? getConstantTensor(table) : std::nullopt;
    if (!tensor) {
      reason = "the cos/sin constant cannot be read";
      return failure();
    }
    if (!isDuplicated(*tensor, rotaryDim, style)) {
      reason = style == RotaryStyle::half ? "the cos/sin constant's two halves differ"
                                          : "the cos/sin constant does not repeat each angle twice";
      return failure();
    }
    if (!build)
      return Value();
    exec::Tensor pairs =
        sliceLastDim(*tensor, 0, half, style == RotaryStyle::half ? 1 : 2).reshaped(pairShape);
    // Q and K share the table: reuse the pair table a sibling's rewrite put after it.
    if (auto next = dyn_cast_or_null<ConstantOp>(constant->getNextNode())) {
      std::optional<exec::Tensor> existing = getConstantTensor(next);
      if (existing && existing->getShape() == pairs.getShape() &&
          existing->getDType() == pairs.getDType() &&
          llvm::all_of(llvm::seq<int64_t>(0, pairs.getNumElements()),
                       [&](int64_t i) { return existing->getDouble(i) == pairs.getDouble(i); }))
        return next.getResult();
    }
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointAfter(constant);
    return createConstant(rewriter, constant.getLoc(), pairs,
                          getConstantName(table, "rotary_table") + ".pairs")
        .getResult();
  }

  // A computed table: [B, 1, S, R] is Unsqueeze(t [B, S, R], 1), which kiln.rotary takes as is.
  Value value = table;
  if (type.getRank() == 4) {
    auto unsqueeze = table.getDefiningOp<OnnxUnsqueezeOp>();
    std::optional<SmallVector<int64_t>> axes =
        unsqueeze ? getConstantInts(unsqueeze.getAxes()) : std::nullopt;
    if (!axes || axes->size() != 1 || ((*axes)[0] != 1 && (*axes)[0] != -3)) {
      reason = "the 4-D cos/sin is not Unsqueeze(table, 1)";
      return failure();
    }
    value = unsqueeze.getData();
  }
  // Ops that act on every element alike, down to the duplication: Concat(f, f) for the half
  // pairing, Reshape(Concat(Unsqueeze(f, -1), Unsqueeze(f, -1))) for the interleaved one.
  SmallVector<std::pair<Operation *, unsigned>> chain; // op, index of the table operand
  Value pairSource;
  while (!pairSource) {
    Operation *def = value.getDefiningOp();
    if (!def)
      break;
    if (auto concat = dyn_cast<OnnxConcatOp>(def); concat && style == RotaryStyle::half) {
      if (concat.getInputs().size() == 2 && concat.getInputs()[0] == concat.getInputs()[1] &&
          isLastAxis(concat.getAxis(), cast<RankedTensorType>(value.getType()).getRank()))
        pairSource = concat.getInputs()[0];
      else
        break;
    } else if (auto reshape = dyn_cast<OnnxReshapeOp>(def);
               reshape && style == RotaryStyle::interleaved) {
      auto stack = reshape.getData().getDefiningOp<OnnxConcatOp>();
      if (!stack || stack.getInputs().size() != 2 || !reshapeMergesLastTwoDims(reshape) ||
          !isLastAxis(stack.getAxis(), cast<RankedTensorType>(stack.getType()).getRank()))
        break;
      auto first = stack.getInputs()[0].getDefiningOp<OnnxUnsqueezeOp>();
      auto second = stack.getInputs()[1].getDefiningOp<OnnxUnsqueezeOp>();
      if (!first || !second || first.getData() != second.getData() ||
          !unsqueezesNewLastDim(first) || !unsqueezesNewLastDim(second))
        break;
      pairSource = first.getData();
    } else if (isUniformElementwise(def, 0) || isUniformElementwise(def, 1)) {
      unsigned index = isUniformElementwise(def, 0) ? 0 : 1;
      chain.push_back({def, index});
      value = def->getOperand(index);
    } else {
      break;
    }
  }
  auto sourceType = pairSource ? dyn_cast<RankedTensorType>(pairSource.getType()) : nullptr;
  if (!sourceType || sourceType != withLastDim(cast<RankedTensorType>(value.getType()), half)) {
    reason = style == RotaryStyle::half
                 ? "cos/sin is neither a constant nor computed from Concat(f, f) on the last axis"
                 : "cos/sin is neither a constant nor computed from an interleaved stack(f, f)";
    return failure();
  }
  if (!build)
    return Value();
  // Rebuild the chain on f: each op gives one copy of what it gave on the duplicated table.
  Value pairs = pairSource;
  for (auto [op, index] : llvm::reverse(chain))
    pairs = cloneOnHalf(rewriter, op, index, pairs);
  return pairs;
}

/// x * cos + rotate(x) * sin (either operand order of the Add and of each Mul), with rotate
/// being rotate_half (style half) or rotate_every_two (style interleaved), x [B, H, S, R]:
/// kiln.rotary(x, cos', sin') with cos'/sin' one entry per rotated pair.
struct RaiseRotateForm : OpRewritePattern<OnnxAddOp> {
  RaiseRotateForm(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), options(options) {}

  LogicalResult matchAndRewrite(OnnxAddOp op, PatternRewriter &rewriter) const override {
    RankedTensorType resultType = getRankedFloatType(op.getOutput());
    if (!resultType || resultType.getRank() != 4)
      return failure();
    for (auto [cosTerm, sinTerm] : {std::pair{op.getA(), op.getB()}, {op.getB(), op.getA()}}) {
      auto cosMul = cosTerm.getDefiningOp<OnnxMulOp>();
      auto sinMul = sinTerm.getDefiningOp<OnnxMulOp>();
      if (!cosMul || !sinMul)
        continue;
      for (auto [rotated, sin] :
           {std::pair{sinMul.getA(), sinMul.getB()}, {sinMul.getB(), sinMul.getA()}}) {
        std::string reason;
        RotaryStyle style = RotaryStyle::half;
        Value x = matchRotateHalf(rotated, reason);
        if (!x && reason.empty()) {
          style = RotaryStyle::interleaved;
          x = matchRotateEveryTwo(rotated, reason);
        }
        if (!x) {
          if (!reason.empty())
            return nearMiss(rewriter, op, options, "rotary", reason);
          continue;
        }
        Value cos;
        if (cosMul.getA() == x)
          cos = cosMul.getB();
        else if (cosMul.getB() == x)
          cos = cosMul.getA();
        else
          return nearMiss(rewriter, op, options, "rotary", "the cos term does not multiply the rotated x");
        if (x.getType() != resultType)
          return nearMiss(rewriter, op, options, "rotary", "x is not [batch, heads, seq, rotary_dim]");
        int64_t rotaryDim = resultType.getShape().back();
        // Check both tables before building either: a pattern that fails must leave no ops.
        if (cos.getType() != sin.getType() ||
            bool(cos.getDefiningOp<ConstantOp>()) != bool(sin.getDefiningOp<ConstantOp>()))
          return nearMiss(rewriter, op, options, "rotary",
                          "cos and sin tables differ in type or in how they are made");
        for (Value table : std::initializer_list<Value>{cos, sin})
          if (failed(getPairTable(rewriter, table, resultType, rotaryDim, style, reason,
                                  /*build=*/false)))
            return nearMiss(rewriter, op, options, "rotary", reason);
        FailureOr<Value> cosPairs =
            getPairTable(rewriter, cos, resultType, rotaryDim, style, reason, /*build=*/true);
        FailureOr<Value> sinPairs =
            getPairTable(rewriter, sin, resultType, rotaryDim, style, reason, /*build=*/true);
        assert(succeeded(cosPairs) && succeeded(sinPairs) &&
               (*sinPairs).getType() == (*cosPairs).getType() && "checked above");
        rewriter.replaceOpWithNewOp<RotaryOp>(op, resultType, x, *cosPairs, *sinPairs,
                                              RotaryStyleAttr::get(rewriter.getContext(), style),
                                              rewriter.getI64IntegerAttr(rotaryDim));
        return success();
      }
    }
    return failure();
  }

  RaiseOptions options;
};

/// Concat(kiln.rotary(x[..., 0:R]), x[..., R:D]) on the last axis (partial rotary: Phi,
/// StableLM, GPT-NeoX with rotary_pct < 1): kiln.rotary(x) with dim R, whose dims from R on
/// pass through.
struct RaisePartialRotary : OpRewritePattern<OnnxConcatOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(OnnxConcatOp op, PatternRewriter &rewriter) const override {
    RankedTensorType resultType = getRankedFloatType(op.getConcatResult());
    if (!resultType || resultType.getRank() != 4 || op.getInputs().size() != 2 ||
        !isLastAxis(op.getAxis(), 4))
      return failure();
    auto rotary = op.getInputs()[0].getDefiningOp<RotaryOp>();
    if (!rotary || !rotary->hasOneUse())
      return failure();
    std::optional<LastAxisSlice> rotated = matchLastAxisSlice(rotary.getInput());
    std::optional<LastAxisSlice> passed = matchLastAxisSlice(op.getInputs()[1]);
    if (!rotated || !passed || rotated->data != passed->data ||
        rotated->data.getType() != resultType)
      return failure();
    int64_t rotaryDim = static_cast<int64_t>(rotary.getRotaryDim());
    int64_t headDim = resultType.getShape().back();
    if (!isSliceOf(rotated, rotated->data, 0, rotaryDim, 1) ||
        !isSliceOf(passed, rotated->data, rotaryDim, headDim, 1) ||
        cast<RankedTensorType>(rotary.getInput().getType()).getShape().back() != rotaryDim)
      return failure();
    rewriter.replaceOpWithNewOp<RotaryOp>(op, resultType, rotated->data, rotary.getCos(),
                                          rotary.getSin(), rotary.getStyleAttr(),
                                          rotary.getRotaryDimAttr());
    rewriter.eraseOp(rotary);
    return success();
  }
};

/// ONNX RotaryEmbedding (opset 23) on X [B, H, S, D], or on X [B, S, H*D] with num_heads
/// (through a Reshape and Transpose to [B, H, S, D] and back): kiln.rotary, with cos/sin
/// gathered at position_ids when given ([max_pos, R/2] caches), else taken as [B, S, R/2].
struct RaiseRotaryEmbeddingOp : OpRewritePattern<OnnxRotaryEmbeddingOp> {
  RaiseRotaryEmbeddingOp(MLIRContext *context, const RaiseOptions &options)
      : OpRewritePattern(context), options(options) {}

  LogicalResult matchAndRewrite(OnnxRotaryEmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType inputType = getRankedFloatType(op.getInput());
    auto cosType = dyn_cast<RankedTensorType>(op.getCosCache().getType());
    if (!inputType || !cosType || op.getSinCache().getType() != cosType)
      return failure();
    if (cosType.getElementType() != inputType.getElementType())
      return nearMiss(rewriter, op, options, "rotary", "cos/sin caches differ from X in element type");
    int64_t rank = inputType.getRank();
    int64_t heads, headDim;
    if (rank == 4) {
      heads = inputType.getShape()[1];
      headDim = inputType.getShape()[3];
    } else {
      std::optional<uint64_t> numHeads = op.getNumHeads();
      int64_t hidden = inputType.getShape()[2];
      if (!numHeads || *numHeads == 0 || ShapedType::isDynamic(hidden) ||
          hidden % static_cast<int64_t>(*numHeads) != 0)
        return nearMiss(rewriter, op, options, "rotary",
                        "3-D X needs num_heads dividing a static hidden size");
      heads = static_cast<int64_t>(*numHeads);
      headDim = hidden / heads;
    }
    if (ShapedType::isDynamic(headDim))
      return nearMiss(rewriter, op, options, "rotary", "X's head size is dynamic");
    int64_t rotaryDim = static_cast<int64_t>(op.getRotaryEmbeddingDim());
    if (rotaryDim == 0)
      rotaryDim = headDim;
    if (rotaryDim > headDim || rotaryDim % 2 != 0 || cosType.getShape().back() != rotaryDim / 2)
      return nearMiss(rewriter, op, options, "rotary", "the caches are not [.., rotary_dim / 2]");
    Location loc = op.getLoc();

    Value cos = op.getCosCache(), sin = op.getSinCache();
    if (Value positions = op.getPositionIds()) {
      auto positionType = dyn_cast<RankedTensorType>(positions.getType());
      if (!positionType || positionType.getRank() != 2 || cosType.getRank() != 2)
        return nearMiss(rewriter, op, options, "rotary", "position_ids is not [batch, seq]");
      // cos[b, s] = cos_cache[position_ids[b, s]]: the [B, S, R/2] form of kiln.rotary.
      auto gatheredType = RankedTensorType::get(
          {positionType.getShape()[0], positionType.getShape()[1], rotaryDim / 2},
          cosType.getElementType());
      cos = OnnxGatherOp::create(rewriter, loc, gatheredType, cos, positions, /*axis=*/0);
      sin = OnnxGatherOp::create(rewriter, loc, gatheredType, sin, positions, /*axis=*/0);
    } else if (cosType.getRank() != 3) {
      return nearMiss(rewriter, op, options, "rotary", "without position_ids the caches must be 3-D");
    }

    auto style = RotaryStyleAttr::get(
        rewriter.getContext(), op.getInterleaved() ? RotaryStyle::interleaved : RotaryStyle::half);
    IntegerAttr dimAttr = rewriter.getI64IntegerAttr(rotaryDim);
    if (rank == 4) {
      rewriter.replaceOpWithNewOp<RotaryOp>(op, inputType, op.getInput(), cos, sin, style, dimAttr);
      return success();
    }
    // [B, S, H*D] -> [B, S, H, D] -> [B, H, S, D], rotate, and back. Reshape's 0 copies B and S.
    int64_t batch = inputType.getShape()[0], seq = inputType.getShape()[1];
    Type elementType = inputType.getElementType();
    auto splitType = RankedTensorType::get({batch, seq, heads, headDim}, elementType);
    auto headsFirstType = RankedTensorType::get({batch, heads, seq, headDim}, elementType);
    DenseI64ArrayAttr swap = rewriter.getDenseI64ArrayAttr({0, 2, 1, 3});
    Value split = OnnxReshapeOp::create(rewriter, loc, splitType, op.getInput(),
                                        createI64Constant(rewriter, loc, {0, 0, heads, headDim}), /*allowzero=*/0);
    Value headsFirst = OnnxTransposeOp::create(rewriter, loc, headsFirstType, split, swap);
    Value rotated =
        RotaryOp::create(rewriter, loc, headsFirstType, headsFirst, cos, sin, style, dimAttr);
    Value seqFirst = OnnxTransposeOp::create(rewriter, loc, splitType, rotated, swap);
    rewriter.replaceOpWithNewOp<OnnxReshapeOp>(op, inputType, seqFirst,
                                               createI64Constant(rewriter, loc, {0, 0, heads * headDim}),
                                               /*allowzero=*/0);
    return success();
  }

  RaiseOptions options;
};

} // namespace

void kiln::populateRaiseRotaryPatterns(RewritePatternSet &patterns, const RaiseOptions &options) {
  MLIRContext *context = patterns.getContext();
  patterns.add<RaiseRotateForm, RaiseRotaryEmbeddingOp>(context, options);
  patterns.add<RaisePartialRotary>(context);
}
