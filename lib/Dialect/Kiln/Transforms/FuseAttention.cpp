//===- FuseAttention.cpp - attention blocks into kiln.attention -----------===//
//
// Two anchors: every Softmax (the decomposed form exporters emit) and every ONNX Attention op.
// Matching is read-only: it walks from the anchor to Q, K, V and the masks, re-checking each
// assumption (axis, layouts, dims via SymbolicShapes, scale, head counts, mask broadcast,
// causality via MaskAnalysis), and returns either a complete description or the first failed
// check. Only a complete match rewrites anything, so a near-miss leaves the IR as it was and
// records why on the anchor (`kiln.fusion_failure`, and a remark when asked).
//
//===----------------------------------------------------------------------===//

#include "ConstantValues.h"
#include "MaskAnalysis.h"
#include "SymbolicShapes.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <functional>

namespace kiln {
#define GEN_PASS_DEF_KILNFUSEATTENTIONPASS
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// The attribute on an anchor that was not fused, naming the failed check.
constexpr llvm::StringLiteral kFusionFailureAttr = "kiln.fusion_failure";

/// A tensor as the fused op will read it: `source`, transposed by `perm` when non-empty.
struct LayoutValue {
  Value source;
  SmallVector<int64_t> perm;
};

/// A mask the fused op keeps (one that is not causal and not all-zero).
struct KeptMask {
  Value value;
  bool negate = false; // a boolean mask whose false elements keep the score
};

/// Everything the rewrite needs; filled only by a complete match.
struct AttentionMatch {
  LayoutValue query, key, value;
  int64_t numHeads = 0, numKvHeads = 0, headDim = 0;
  double scale = 1.0;
  double softcap = 0.0;
  bool causal = false;
  std::optional<KeptMask> mask;
  /// The op whose result the fused op replaces (the P.V MatMul or the ONNX Attention op).
  Operation *root = nullptr;
  Value result;
  /// For 3-D ONNX Attention: reshape [b, s, h*d] -> [b, h, s, d] around the fused op.
  bool packedHeads = false;
};

using MatchResult = FailureOr<AttentionMatch>;

class AttentionMatcher {
public:
  explicit AttentionMatcher(const SymbolicShapes &shapes) : shapes(shapes), masks(shapes) {}

  /// The first failed check, when matching fails.
  std::string failure;

  MatchResult matchSoftmax(OnnxSoftmaxOp softmax);
  MatchResult matchOnnxAttention(OnnxAttentionOp attention);

private:
  LogicalResult fail(const Twine &why) {
    failure = why.str();
    return mlir::failure();
  }
  const DimList *dims(Value v) const { return shapes.getDims(v); }
  std::string formatDims(Value v) const;

  /// Peels Mul/Div by a positive splat constant (single use); multiplies them into `scale`.
  Value peelScale(Value v, double &scale);
  /// Finds the source and the transpose that give [b, h, s, d] from `transposed`, which holds
  /// K^T ([b, h, d, s]), looking through transposes, unit-dim reshapes and scales.
  FailureOr<LayoutValue> findKeyFromTransposed(Value transposed, double &scale);
  /// repeat_kv (Unsqueeze + Expand + Reshape of [b, hkv, s, d] to [b, hkv * g, s, d]):
  /// returns the un-repeated value, or `v` itself.
  Value peelRepeatKv(Value v);
  /// The repeat_kv expansion under `reshape` (Unsqueeze + Expand to [b, hkv, g, s, d]),
  /// whatever the reshape makes of it: the un-repeated K/V and the dims [b, hkv * g, s, d].
  std::optional<std::pair<Value, DimList>> mergedRepeatKv(OnnxReshapeOp reshape);
  /// Checks one mask against the scores' dims and files it as causal, zero or kept.
  LogicalResult addMask(Value mask, bool additive, bool negate, const DimList &scoreDims,
                        AttentionMatch &match);
  /// Shared checks of Q/K/V dims; sets heads and head_dim.
  LogicalResult checkHeads(AttentionMatch &match, Value query, Value key, Value value);

  const SymbolicShapes &shapes;
  MaskAnalysis masks;
};

std::string AttentionMatcher::formatDims(Value v) const {
  const DimList *d = dims(v);
  if (!d)
    return "unranked";
  std::string text = "[";
  for (auto [i, dim] : llvm::enumerate(*d))
    text += (i ? ", " : "") + shapes.format(dim);
  return text + "]";
}

Value AttentionMatcher::peelScale(Value v, double &scale) {
  while (Operation *op = v.getDefiningOp()) {
    if (!isa<OnnxMulOp, OnnxDivOp>(op) || !op->hasOneUse())
      break;
    Value a = op->getOperand(0), b = op->getOperand(1);
    std::optional<double> c = getSplatConstant(b);
    if (!c && isa<OnnxMulOp>(op)) {
      c = getSplatConstant(a);
      std::swap(a, b);
    }
    // Only scalar-like constants that do not broadcast the tensor to a larger shape.
    const DimList *dv = dims(a), *dr = dims(op->getResult(0));
    if (!c || !(*c > 0.0) || !std::isfinite(*c) || !dv || !dr || *dv != *dr)
      break;
    scale = isa<OnnxMulOp>(op) ? scale * *c : scale / *c;
    v = a;
  }
  return v;
}

FailureOr<LayoutValue> AttentionMatcher::findKeyFromTransposed(Value transposed,
                                                               double &scale) {
  // Logical ids of the non-unit dims of K^T, followed back to a source value.
  const DimList *top = dims(transposed);
  if (!top || top->size() != 4)
    return fail("K^T operand of the score MatMul is " + formatDims(transposed) +
                ", not rank 4");
  Value current = transposed;
  std::optional<DimList> virtualDims; // set when `current` is K before repeat_kv
  SmallVector<int64_t> ids; // per dim of `current`: logical id, or -1 for a unit dim
  for (auto [i, dim] : llvm::enumerate(*top))
    ids.push_back(dim.isConstant(1) ? -1 : int64_t(i));
  while (true) {
    current = peelScale(current, scale);
    Operation *op = current.getDefiningOp();
    if (auto transpose = dyn_cast_or_null<OnnxTransposeOp>(op)) {
      SmallVector<int64_t> perm = transpose.getPermutation();
      SmallVector<int64_t> sourceIds(perm.size(), -1);
      for (auto [i, p] : llvm::enumerate(perm))
        sourceIds[p] = ids[i];
      ids = sourceIds;
      current = transpose.getData();
      continue;
    }
    if (auto reshape = dyn_cast_or_null<OnnxReshapeOp>(op)) {
      const DimList *in = dims(reshape.getData()), *out = dims(reshape.getResult());
      if (!in || !out)
        break;
      // The logical id of each source dim, through an output-axis map of the reshape.
      auto carryIds = [&](ArrayRef<int64_t> map) {
        SmallVector<int64_t> sourceIds(map.size(), -1);
        for (auto [a, b] : llvm::enumerate(map))
          if (b >= 0)
            sourceIds[a] = ids[b];
        ids = sourceIds;
      };
      std::optional<SmallVector<int64_t>> map = mapUnitDimReshape(*in, *out);
      if (!map) {
        // repeat_kv whose head merge also drops the batch dim ([b, hkv, g, s, d] -> [b*h, s,
        // d]): the source is the un-repeated K, seen as [b, hkv * g, s, d].
        std::optional<std::pair<Value, DimList>> repeat = mergedRepeatKv(reshape);
        std::optional<SmallVector<int64_t>> repeatMap =
            repeat ? mapUnitDimReshape(repeat->second, *out) : std::nullopt;
        if (repeatMap) {
          carryIds(*repeatMap);
          current = repeat->first;
          virtualDims = repeat->second;
        }
        break;
      }
      carryIds(*map);
      current = reshape.getData();
      continue;
    }
    break;
  }
  // K = K^T with its last two dims swapped; find the source axis of each K dim.
  const DimList *source = virtualDims ? &*virtualDims : dims(current);
  if (!source || source->size() != 4)
    return fail("K is built from " + formatDims(current) +
                " through reshapes that are not a transpose");
  const int64_t keyIds[4] = {0, 1, 3, 2}; // K axis -> K^T axis
  SmallVector<int64_t> perm(4, -1);
  SmallVector<bool> used(4, false);
  for (int64_t axis = 0; axis < 4; ++axis) {
    int64_t id = (*top)[keyIds[axis]].isConstant(1) ? -1 : keyIds[axis];
    for (int64_t s = 0; s < 4; ++s) {
      if (used[s] || ids[s] != id)
        continue;
      perm[axis] = s;
      used[s] = true;
      break;
    }
    if (perm[axis] < 0)
      return fail("K^T is not a transpose of a [batch, heads, seq, head_dim] value");
  }
  LayoutValue key{current, {}};
  if (perm != SmallVector<int64_t>{0, 1, 2, 3}) {
    if (virtualDims)
      return fail("K is repeated for GQA and transposed in a way that is not K^T");
    key.perm = perm;
  }
  return key;
}

std::optional<std::pair<Value, DimList>>
AttentionMatcher::mergedRepeatKv(OnnxReshapeOp reshape) {
  auto expand = reshape.getData().getDefiningOp<OnnxExpandOp>();
  auto unsqueeze = expand ? expand.getInput().getDefiningOp<OnnxUnsqueezeOp>() : nullptr;
  if (!unsqueeze)
    return std::nullopt;
  Value kv = unsqueeze.getData();
  const DimList *in = dims(kv), *u = dims(unsqueeze.getResult()), *e = dims(expand.getResult());
  if (!in || !u || !e || in->size() != 4 || u->size() != 5 || e->size() != 5)
    return std::nullopt;
  const DimList &x = *in, &y = *e;
  if (!(*u)[2].isConstant(1) || (*u)[0] != x[0] || (*u)[1] != x[1] || (*u)[3] != x[2] ||
      (*u)[4] != x[3] || y[0] != x[0] || y[1] != x[1] || y[3] != x[2] || y[4] != x[3] ||
      !y[2].isConstant() || !x[1].isConstant())
    return std::nullopt;
  DimList repeated = {x[0], DimExpr::constant(x[1].offset * y[2].offset), x[2], x[3]};
  return std::make_pair(kv, repeated);
}

Value AttentionMatcher::peelRepeatKv(Value v) {
  auto reshape = v.getDefiningOp<OnnxReshapeOp>();
  if (!reshape)
    return v;
  auto expand = reshape.getData().getDefiningOp<OnnxExpandOp>();
  if (!expand)
    return v;
  auto unsqueeze = expand.getInput().getDefiningOp<OnnxUnsqueezeOp>();
  if (!unsqueeze)
    return v;
  Value kv = unsqueeze.getData();
  const DimList *in = dims(kv), *u = dims(unsqueeze.getResult()), *e = dims(expand.getResult()),
                *out = dims(reshape.getResult());
  if (!in || !u || !e || !out || in->size() != 4 || u->size() != 5 || e->size() != 5 ||
      out->size() != 4)
    return v;
  // [b, hkv, s, d] -> [b, hkv, 1, s, d] -> [b, hkv, g, s, d] -> [b, hkv * g, s, d]
  const DimList &x = *in, &y = *e, &z = *out;
  if (!(*u)[2].isConstant(1) || (*u)[0] != x[0] || (*u)[1] != x[1] || (*u)[3] != x[2] ||
      (*u)[4] != x[3])
    return v;
  if (y[0] != x[0] || y[1] != x[1] || y[3] != x[2] || y[4] != x[3] || !y[2].isConstant() ||
      !x[1].isConstant())
    return v;
  if (z[0] != x[0] || z[2] != x[2] || z[3] != x[3] ||
      !z[1].isConstant(x[1].offset * y[2].offset))
    return v;
  return kv;
}

LogicalResult AttentionMatcher::checkHeads(AttentionMatch &match, Value query, Value key,
                                           Value value) {
  for (Value operand : {query, key, value})
    if (!isa<RankedTensorType>(operand.getType()))
      return fail("Q, K or V has an unranked type (run kiln-simplify first)");
  const DimList *q = dims(query), *k = dims(key), *v = dims(value);
  if (!q || q->size() != 4)
    return fail("Q is " + formatDims(query) + ", not [batch, heads, q_len, head_dim]");
  if (!k || k->size() != 4)
    return fail("K is " + formatDims(key) + ", not [batch, kv_heads, kv_len, head_dim]");
  if (!v || v->size() != 4)
    return fail("V is " + formatDims(value) + ", not [batch, kv_heads, kv_len, v_head_dim]");
  if (getElementTypeOrSelf(query.getType()) != getElementTypeOrSelf(key.getType()) ||
      getElementTypeOrSelf(key.getType()) != getElementTypeOrSelf(value.getType()))
    return fail("Q, K and V element types differ");
  if (!(*q)[1].isConstant() || !(*k)[1].isConstant() || !(*q)[3].isConstant())
    return fail("head counts and head_dim must be static (Q " + formatDims(query) + ", K " +
                formatDims(key) + ")");
  int64_t heads = (*q)[1].offset, kvHeads = (*k)[1].offset;
  if (kvHeads <= 0 || heads % kvHeads != 0)
    return fail(llvm::formatv("Q has {0} heads, not a multiple of K's {1}", heads, kvHeads));
  if ((*v)[1] != (*k)[1])
    return fail("K has " + shapes.format((*k)[1]) + " heads but V has " +
                shapes.format((*v)[1]));
  if ((*q)[3] != (*k)[3])
    return fail("Q and K head dims differ: " + formatDims(query) + " vs " + formatDims(key));
  if ((*k)[2] != (*v)[2])
    return fail("K and V lengths differ: " + formatDims(key) + " vs " + formatDims(value));
  if ((*q)[0] != (*k)[0] || (*k)[0] != (*v)[0])
    return fail("Q, K and V batch dims are not known to be equal");
  match.numHeads = heads;
  match.numKvHeads = kvHeads;
  match.headDim = (*q)[3].offset;
  return success();
}

LogicalResult AttentionMatcher::addMask(Value mask, bool additive, bool negate,
                                        const DimList &scoreDims, AttentionMatch &match) {
  if (additive && masks.isZero(mask))
    return success();
  if (masks.isCausal(mask, scoreDims, additive, /*hiddenWhereTrue=*/negate)) {
    match.causal = true;
    return success();
  }
  const DimList *m = dims(mask);
  if (!m || m->size() > 4)
    return fail("mask " + formatDims(mask) + " does not broadcast to the scores");
  size_t shift = 4 - m->size();
  for (auto [i, dim] : llvm::enumerate(*m))
    if (!dim.isConstant(1) && dim != scoreDims[i + shift])
      return fail("mask " + formatDims(mask) + " does not broadcast to the scores " +
                  "(dims not known to be equal or 1)");
  auto elementType = getElementTypeOrSelf(mask.getType());
  if (additive && !isa<FloatType>(elementType))
    return fail("additive mask is not a float tensor");
  if (!additive && !elementType.isInteger(1))
    return fail("Where mask is not boolean");
  if (match.mask)
    return fail("more than one mask that is neither causal nor zero");
  match.mask = KeptMask{mask, negate};
  return success();
}

MatchResult AttentionMatcher::matchSoftmax(OnnxSoftmaxOp softmax) {
  AttentionMatch match;
  const DimList *scoreDims = dims(softmax.getInput());
  if (!scoreDims)
    return fail("scores have unknown rank");
  if (scoreDims->size() != 4)
    return fail(llvm::formatv("scores have rank {0}; only [batch, heads, q_len, kv_len] is "
                              "fused",
                              scoreDims->size()));
  int64_t axis = int64_t(softmax.getAxis());
  axis = axis < 0 ? axis + 4 : axis;
  if (axis != 3)
    return fail(llvm::formatv("softmax axis is {0}, not the last (keys) axis", axis));

  // Downstream: [Cast] [Where(IsNaN(p), 0, p)] MatMul(p, V).
  Value probs = softmax.getResult();
  auto singleUser = [](Value v) -> Operation * {
    return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
  };
  if (auto cast = dyn_cast_or_null<OnnxCastOp>(singleUser(probs)))
    probs = cast.getResult();
  if (!probs.hasOneUse()) {
    // The guard for fully masked rows reads p twice.
    OnnxWhereOp guard;
    OnnxIsNaNOp isNan;
    for (Operation *user : probs.getUsers()) {
      if (auto w = dyn_cast<OnnxWhereOp>(user))
        guard = w;
      else if (auto n = dyn_cast<OnnxIsNaNOp>(user))
        isNan = n;
      else
        return fail("softmax result has users other than the P.V MatMul and a NaN guard");
    }
    if (!guard || !isNan || !isNan->hasOneUse() || guard.getCondition() != isNan.getResult() ||
        guard.getY() != probs || !isSplatConstant(guard.getX(), 0.0))
      return fail("softmax result is read by more than the P.V MatMul");
    probs = guard.getResult();
  }
  auto pv = dyn_cast_or_null<OnnxMatMulOp>(singleUser(probs));
  if (!pv || pv.getA() != probs)
    return fail("softmax result does not feed a MatMul as its left operand");
  match.root = pv;
  match.result = pv.getResult();
  if (auto resultType = dyn_cast<RankedTensorType>(pv.getResult().getType());
      !resultType || resultType.getRank() != 4)
    return fail("the P.V MatMul's result is not a ranked 4-D tensor");

  // Upstream: masks and scales down to MatMul(Q, K^T).
  Value scores = softmax.getInput();
  if (auto cast = scores.getDefiningOp<OnnxCastOp>(); cast && cast->hasOneUse())
    scores = cast.getInput();
  struct PendingMask {
    Value value;
    bool additive, negate, scaled;
    /// A Where's fill: a finite one (the lowest float) masks like -inf only where some key of
    /// the row is kept, so such a mask must prove causal to be fused.
    bool finiteFill = false;
  };
  SmallVector<PendingMask> pending;
  double scale = 1.0;
  bool scaleSeen = false;
  OnnxMatMulOp qk;
  // Whether a value leads back to the score MatMul through the ops this walk peels.
  std::function<bool(Value, int)> leadsToScores = [&](Value v, int depth) {
    Operation *op = v.getDefiningOp();
    if (!op || depth > 12)
      return false;
    if (auto matmul = dyn_cast<OnnxMatMulOp>(op))
      return !matmul.getA().getDefiningOp<ConstantOp>() &&
             !matmul.getB().getDefiningOp<ConstantOp>();
    if (!isa<OnnxAddOp, OnnxMulOp, OnnxDivOp, OnnxWhereOp, OnnxCastOp>(op))
      return false;
    return llvm::any_of(op->getOperands(),
                        [&](Value operand) { return leadsToScores(operand, depth + 1); });
  };
  for (int steps = 0; steps < 32 && !qk; ++steps) {
    Operation *op = scores.getDefiningOp();
    if (!op)
      return fail("scores are a function argument, not a MatMul");
    if (!op->hasOneUse())
      return fail("intermediate '" + op->getName().getStringRef().str() +
                  "' of the scores has other users");
    if (auto matmul = dyn_cast<OnnxMatMulOp>(op)) {
      qk = matmul;
      break;
    }
    if (auto add = dyn_cast<OnnxAddOp>(op)) {
      bool lhs = leadsToScores(add.getA(), 0);
      Value mask = lhs ? add.getB() : add.getA();
      if (!lhs && !leadsToScores(add.getB(), 0))
        return fail("neither operand of the mask Add leads to the score MatMul");
      pending.push_back({mask, /*additive=*/true, false, scaleSeen});
      scores = lhs ? add.getA() : add.getB();
      continue;
    }
    if (auto where = dyn_cast<OnnxWhereOp>(op)) {
      std::optional<double> x = getSplatConstant(where.getX());
      std::optional<double> y = getSplatConstant(where.getY());
      if (y && *y <= kMaskedAdditiveBound) {
        pending.push_back({where.getCondition(), false, false, scaleSeen, std::isfinite(*y)});
        scores = where.getX();
      } else if (x && *x <= kMaskedAdditiveBound) {
        pending.push_back({where.getCondition(), false, true, scaleSeen, std::isfinite(*x)});
        scores = where.getY();
      } else {
        return fail("Where on the scores does not fill with -inf or the lowest float");
      }
      continue;
    }
    if (isa<OnnxMulOp, OnnxDivOp>(op)) {
      Value inner = peelScale(scores, scale);
      if (inner == scores)
        return fail("scores are scaled by a value that is not a positive scalar constant");
      scaleSeen = true;
      scores = inner;
      continue;
    }
    if (auto cast = dyn_cast<OnnxCastOp>(op)) {
      scores = cast.getInput();
      continue;
    }
    return fail("scores come from '" + op->getName().getStringRef().str() +
                "', not MatMul(Q, K^T) with masks and scales");
  }
  if (!qk)
    return fail("no MatMul(Q, K^T) found under the softmax");

  // Q (with its scale) and K from K^T.
  Value query = peelScale(qk.getA(), scale);
  FailureOr<LayoutValue> key = findKeyFromTransposed(qk.getB(), scale);
  if (failed(key))
    return mlir::failure();
  match.query = {query, {}};
  match.key = *key;
  match.value = {pv.getB(), {}};
  // repeat_kv on K (only when K needs no transpose) and V.
  if (match.key.perm.empty())
    match.key.source = peelRepeatKv(match.key.source);
  match.value.source = peelRepeatKv(match.value.source);
  if (!match.key.perm.empty()) {
    for (Value operand : {query, match.key.source, match.value.source})
      if (!isa<RankedTensorType>(operand.getType()))
        return fail("Q, K or V has an unranked type (run kiln-simplify first)");
    // The transposed source's dims, for the head checks.
    const DimList *src = dims(match.key.source);
    DimList k;
    for (int64_t p : match.key.perm)
      k.push_back((*src)[p]);
    const DimList *q = dims(query), *v = dims(match.value.source);
    if (!q || !v || q->size() != 4 || v->size() != 4)
      return fail("Q or V is not rank 4");
    if (!k[1].isConstant() || !(*q)[1].isConstant() || !(*q)[3].isConstant() ||
        k[1] != (*v)[1] || k[3] != (*q)[3] || k[2] != (*v)[2] || k[0] != (*q)[0] ||
        (*v)[0] != (*q)[0] || (*q)[1].offset % k[1].offset != 0)
      return fail("Q, K and V dims do not form an attention: Q " + formatDims(query) +
                  ", V " + formatDims(match.value.source));
    if (getElementTypeOrSelf(query.getType()) !=
            getElementTypeOrSelf(match.key.source.getType()) ||
        getElementTypeOrSelf(query.getType()) != getElementTypeOrSelf(match.value.source.getType()))
      return fail("Q, K and V element types differ");
    match.numHeads = (*q)[1].offset;
    match.numKvHeads = k[1].offset;
    match.headDim = (*q)[3].offset;
  } else if (failed(checkHeads(match, query, match.key.source, match.value.source))) {
    return mlir::failure();
  }

  // The scores the masks apply to are [b, h, q_len, kv_len].
  const DimList *q = dims(query), *v = dims(match.value.source);
  DimList expectedScores = {(*q)[0], (*q)[1], (*q)[2], (*v)[2]};
  if (*scoreDims != expectedScores)
    return fail("scores " + formatDims(softmax.getInput()) +
                " are not [batch, heads, q_len, kv_len] of Q and K");
  for (const PendingMask &mask : pending) {
    if (failed(addMask(mask.value, mask.additive, mask.negate, *scoreDims, match)))
      return mlir::failure();
    bool kept = match.mask && match.mask->value == mask.value;
    // A kept additive mask inside a scale would be scaled too; kiln.attention adds it after.
    if (kept && mask.scaled && mask.additive)
      return fail("an additive mask is applied before the scale");
    // kiln.attention reads a boolean mask as -inf: a fully masked row would give 0 where the
    // graph's finite fill gives the mean of V.
    if (kept && mask.finiteFill)
      return fail("a Where mask that is not causal fills with a finite value, not -inf");
  }
  if (!(scale > 0.0) || !std::isfinite(scale))
    return fail("scale is not positive and finite");
  match.scale = scale;
  return match;
}

MatchResult AttentionMatcher::matchOnnxAttention(OnnxAttentionOp attention) {
  AttentionMatch match;
  if (attention.getPastKey() || attention.getPastValue())
    return fail("past_key/past_value inputs are not fused (the KV cache pass handles them)");
  for (Value extra : attention->getResults().drop_front())
    if (!extra.use_empty())
      return fail("present_key/present_value/qk_matmul_output results are used");
  const DimList *q = dims(attention.getQ());
  if (!q)
    return fail("Q has unknown rank");
  Value query = attention.getQ(), key = attention.getK(), value = attention.getV();
  if (q->size() == 3) {
    // [b, s, h * d]: split heads at rewrite time.
    for (Value operand : {query, key, value})
      if (!isa<RankedTensorType>(operand.getType()))
        return fail("Q, K or V has an unranked type (run kiln-simplify first)");
    std::optional<int64_t> qHeads, kvHeads;
    if (attention.getQNumHeads())
      qHeads = int64_t(*attention.getQNumHeads());
    if (attention.getKvNumHeads())
      kvHeads = int64_t(*attention.getKvNumHeads());
    const DimList *k = dims(key), *v = dims(value);
    if (!qHeads || !kvHeads || !k || !v || k->size() != 3 || v->size() != 3 ||
        !(*q)[2].isConstant() || !(*k)[2].isConstant() || !(*v)[2].isConstant())
      return fail("3-D Attention needs q_num_heads, kv_num_heads and static hidden sizes");
    if (*qHeads <= 0 || *kvHeads <= 0 || (*q)[2].offset % *qHeads != 0 ||
        (*k)[2].offset % *kvHeads != 0 || (*v)[2].offset % *kvHeads != 0 ||
        *qHeads % *kvHeads != 0)
      return fail("3-D Attention hidden sizes are not multiples of the head counts");
    if ((*q)[2].offset / *qHeads != (*k)[2].offset / *kvHeads)
      return fail("Q and K head dims differ");
    match.packedHeads = true;
    match.numHeads = *qHeads;
    match.numKvHeads = *kvHeads;
    match.headDim = (*q)[2].offset / *qHeads;
    match.query = {query, {}};
    match.key = {key, {}};
    match.value = {value, {}};
  } else {
    key = peelRepeatKv(key);
    value = peelRepeatKv(value);
    if (failed(checkHeads(match, query, key, value)))
      return mlir::failure();
    match.query = {query, {}};
    match.key = {key, {}};
    match.value = {value, {}};
  }
  const DimList *k = dims(key);
  size_t seqAxis = match.packedHeads ? 1 : 2;
  DimList scoreDims = {(*q)[0], DimExpr::constant(match.numHeads), (*q)[seqAxis],
                       (*k)[seqAxis]};
  if (attention.getIsCausal()) {
    // ONNX aligns the causal diagonal top-left, kiln.attention bottom-right: equal only when
    // q_len == kv_len.
    if (scoreDims[2] != scoreDims[3])
      return fail("is_causal with q_len " + shapes.format(scoreDims[2]) + " and kv_len " +
                  shapes.format(scoreDims[3]) + " not known to be equal");
    match.causal = true;
  }
  if (Value mask = attention.getAttnMask()) {
    bool additive = !getElementTypeOrSelf(mask.getType()).isInteger(1);
    const DimList *m = dims(mask);
    if (!m || m->empty() || (m->back() != scoreDims[3] && !m->back().isConstant(1)))
      return fail("attn_mask's last dim is not kv_len (ONNX would pad it with -inf)");
    if (failed(addMask(mask, additive, /*negate=*/false, scoreDims, match)))
      return mlir::failure();
  }
  std::optional<APFloat> scaleAttr = attention.getScale();
  match.scale = scaleAttr && !scaleAttr->isZero() ? scaleAttr->convertToDouble()
                                                  : 1.0 / std::sqrt(double(match.headDim));
  if (!(match.scale > 0.0) || !std::isfinite(match.scale))
    return fail("scale is not positive and finite");
  match.softcap = attention.getSoftcap().convertToDouble();
  if (auto resultType = dyn_cast<RankedTensorType>(attention.getOutput().getType());
      !resultType || resultType.getRank() != int64_t(q->size()))
    return fail("the output is not ranked like Q");
  if (match.packedHeads &&
      (getElementTypeOrSelf(query.getType()) != getElementTypeOrSelf(key.getType()) ||
       getElementTypeOrSelf(key.getType()) != getElementTypeOrSelf(value.getType())))
    return fail("Q, K and V element types differ");
  match.root = attention;
  match.result = attention.getOutput();
  return match;
}

//===----------------------------------------------------------------------===//
// Rewrite
//===----------------------------------------------------------------------===//

RankedTensorType transposedType(Value v, ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getShape()[p]);
  return RankedTensorType::get(shape, type.getElementType());
}

Value materialize(OpBuilder &builder, Location loc, const LayoutValue &layout) {
  if (layout.perm.empty())
    return layout.source;
  return OnnxTransposeOp::create(builder, loc, transposedType(layout.source, layout.perm),
                                 layout.source, builder.getDenseI64ArrayAttr(layout.perm))
      .getResult();
}

/// [b, s, h * d] -> [b, h, s, d] (Reshape with 0 = copy, then Transpose).
Value splitHeads(OpBuilder &builder, Location loc, Value packed, int64_t heads) {
  auto type = cast<RankedTensorType>(packed.getType());
  int64_t headDim = type.getShape()[2] / heads;
  auto reshapedType = RankedTensorType::get({type.getShape()[0], type.getShape()[1], heads,
                                             headDim},
                                            type.getElementType());
  Value reshaped = OnnxReshapeOp::create(builder, loc, reshapedType, packed,
                                         createI64Constant(builder, loc, {0, 0, heads, headDim}),
                                         /*allowzero=*/0)
                       .getResult();
  return OnnxTransposeOp::create(builder, loc, transposedType(reshaped, {0, 2, 1, 3}), reshaped,
                                 builder.getDenseI64ArrayAttr({0, 2, 1, 3}))
      .getResult();
}

void rewrite(const AttentionMatch &match) {
  OpBuilder builder(match.root);
  Location loc = match.root->getLoc();
  Value q, k, v;
  if (match.packedHeads) {
    q = splitHeads(builder, loc, match.query.source, match.numHeads);
    k = splitHeads(builder, loc, match.key.source, match.numKvHeads);
    v = splitHeads(builder, loc, match.value.source, match.numKvHeads);
  } else {
    q = materialize(builder, loc, match.query);
    k = materialize(builder, loc, match.key);
    v = materialize(builder, loc, match.value);
  }
  Value mask;
  if (match.mask) {
    mask = match.mask->value;
    if (match.mask->negate)
      mask = OnnxNotOp::create(builder, loc, mask).getResult();
  }
  auto qType = cast<RankedTensorType>(q.getType()), vType = cast<RankedTensorType>(v.getType());
  auto outType = RankedTensorType::get({qType.getShape()[0], qType.getShape()[1],
                                        qType.getShape()[2], vType.getShape()[3]},
                                       qType.getElementType());
  auto fused = AttentionOp::create(
      builder, loc, outType, q, k, v, mask, builder.getI64IntegerAttr(match.numHeads),
      builder.getI64IntegerAttr(match.numKvHeads), builder.getI64IntegerAttr(match.headDim),
      builder.getF32FloatAttr(float(match.scale)),
      match.causal ? builder.getUnitAttr() : UnitAttr(),
      builder.getF32FloatAttr(float(match.softcap)));
  Value result = fused.getResult();
  if (match.packedHeads) {
    // [b, h, s, dv] -> [b, s, h * dv]
    Value transposed = OnnxTransposeOp::create(builder, loc, transposedType(result, {0, 2, 1, 3}),
                                               result, builder.getDenseI64ArrayAttr({0, 2, 1, 3}))
                           .getResult();
    auto packedType = cast<RankedTensorType>(match.result.getType());
    result = OnnxReshapeOp::create(builder, loc, packedType, transposed,
                                   createI64Constant(builder, loc,
                                               {0, 0, outType.getShape()[1] * outType.getShape()[3]}),
                                   /*allowzero=*/0)
                 .getResult();
  }
  if (result.getType() != match.result.getType()) {
    // The fused op knows at least as much; keep the declared type for the users.
    result.setType(match.result.getType());
  }
  Value replaced = match.result;
  replaced.replaceAllUsesWith(result);
}

/// Erases ops left without users, users first.
void eraseDeadOps(func::FuncOp function) {
  bool erased = true;
  while (erased) {
    erased = false;
    SmallVector<Operation *> dead;
    function.walk([&](Operation *op) {
      if (op->getNumRegions() == 0 && isOpTriviallyDead(op))
        dead.push_back(op);
    });
    for (Operation *op : llvm::reverse(dead)) {
      op->erase();
      erased = true;
    }
  }
}

struct KilnFuseAttentionPass
    : public kiln::impl::KilnFuseAttentionPassBase<KilnFuseAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    if (function.isExternal())
      return;
    SymbolicShapes shapes(function);
    SmallVector<Operation *> anchors;
    function.walk([&](Operation *op) {
      if (isa<OnnxSoftmaxOp, OnnxAttentionOp>(op))
        anchors.push_back(op);
    });
    // Match everything first (the analyses describe the IR as it was), then rewrite.
    AttentionMatcher matcher(shapes);
    std::vector<AttentionMatch> matches;
    for (Operation *anchor : anchors) {
      MatchResult match = isa<OnnxSoftmaxOp>(anchor)
                              ? matcher.matchSoftmax(cast<OnnxSoftmaxOp>(anchor))
                              : matcher.matchOnnxAttention(cast<OnnxAttentionOp>(anchor));
      if (succeeded(match)) {
        anchor->removeAttr(kFusionFailureAttr);
        matches.push_back(std::move(*match));
        continue;
      }
      anchor->setAttr(kFusionFailureAttr, StringAttr::get(&getContext(), matcher.failure));
      if (remarks)
        anchor->emitRemark() << "attention not fused: " << matcher.failure;
    }
    for (const AttentionMatch &match : matches)
      rewrite(match);
    eraseDeadOps(function);
  }
};

} // namespace
