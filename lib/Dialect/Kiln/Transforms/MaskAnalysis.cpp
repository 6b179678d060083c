//===- MaskAnalysis.cpp - what a mask computes, as a function of indices --===//

#include "MaskAnalysis.h"

#include "ConstantValues.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/TensorAttr.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace kiln;

namespace {

/// Chains longer than this are not followed (masks are built in a few dozen ops).
constexpr unsigned kMaxDepth = 64;
/// Constants larger than this are not examined element by element.
constexpr int64_t kMaxConstantElements = int64_t(1) << 20;

using Kind = IndexValue::Kind;

IndexValue affine(AffineIndex expr) {
  IndexValue v;
  v.kind = Kind::Affine;
  v.affine = std::move(expr);
  return v;
}

IndexValue constantAffine(int64_t c, size_t rank) {
  AffineIndex expr;
  expr.constant = c;
  expr.coeffs.assign(rank, 0);
  return affine(expr);
}

IndexValue boolean(IndexPredicate predicate) {
  IndexValue v;
  v.kind = Kind::Bool;
  v.predicate = std::move(predicate);
  return v;
}

IndexValue constantBool(bool value) {
  IndexPredicate p;
  p.alwaysFalse = !value;
  return boolean(p);
}

IndexValue rawSelect(IndexPredicate cond, double whenTrue, double whenFalse) {
  IndexValue v;
  v.kind = Kind::Select;
  v.predicate = std::move(cond);
  v.whenTrue = whenTrue;
  v.whenFalse = whenFalse;
  return v;
}

std::optional<int64_t> asInteger(double v);

/// A constant of a value of rank `rank`: affine when integer-valued, else a select whose arms
/// are equal.
IndexValue constantNumber(double value, size_t rank) {
  if (std::optional<int64_t> integer = asInteger(value))
    return constantAffine(*integer, rank);
  return rawSelect(IndexPredicate{}, value, value);
}

/// `cond ? whenTrue : whenFalse`, folded when the condition or the arms make it constant.
IndexValue select(IndexPredicate cond, double whenTrue, double whenFalse, size_t rank) {
  if (cond.alwaysFalse)
    return constantNumber(whenFalse, rank);
  if (cond.isTrue() || whenTrue == whenFalse)
    return constantNumber(whenTrue, rank);
  return rawSelect(std::move(cond), whenTrue, whenFalse);
}

/// A predicate's conditions with their coefficients re-indexed by `map` (old axis -> new
/// axis, -1 when the old axis is dropped: its coefficient must then be 0).
template <typename MapFn>
std::optional<AffineIndex> remapAffine(const AffineIndex &expr, size_t newRank, MapFn map) {
  AffineIndex result;
  result.constant = expr.constant;
  result.coeffs.assign(newRank, 0);
  for (auto [axis, coeff] : llvm::enumerate(expr.coeffs)) {
    if (coeff == 0)
      continue;
    int64_t target = map(axis);
    if (target < 0)
      return std::nullopt;
    result.coeffs[target] += coeff;
  }
  return result;
}

template <typename MapFn>
IndexValue remap(const IndexValue &value, size_t newRank, MapFn map) {
  switch (value.kind) {
  case Kind::Unknown:
    return value;
  case Kind::Affine: {
    std::optional<AffineIndex> expr = remapAffine(value.affine, newRank, map);
    return expr ? affine(*expr) : IndexValue::unknown();
  }
  case Kind::Bool:
  case Kind::Select: {
    IndexValue result = value;
    for (IndexCondition &cond : result.predicate.conjuncts) {
      std::optional<AffineIndex> expr = remapAffine(cond.expr, newRank, map);
      if (!expr)
        return IndexValue::unknown();
      cond.expr = *expr;
    }
    return result;
  }
  }
  return IndexValue::unknown();
}

/// Zeroes the coefficients of dims of constant size 1 and resolves conditions that became
/// constant.
IndexValue normalize(IndexValue value, const DimList &dims) {
  auto clean = [&](AffineIndex &expr) {
    if (expr.coeffs.size() != dims.size())
      return false;
    for (auto [coeff, dim] : llvm::zip_equal(expr.coeffs, dims))
      if (dim.isConstant(1))
        coeff = 0;
    return true;
  };
  switch (value.kind) {
  case Kind::Unknown:
    return value;
  case Kind::Affine:
    return clean(value.affine) ? value : IndexValue::unknown();
  case Kind::Bool:
  case Kind::Select: {
    IndexPredicate &p = value.predicate;
    SmallVector<IndexCondition, 2> kept;
    for (IndexCondition &cond : p.conjuncts) {
      if (!clean(cond.expr))
        return IndexValue::unknown();
      if (!cond.expr.isConstant()) {
        kept.push_back(cond);
        continue;
      }
      int64_t c = cond.expr.constant;
      bool holds = cond.kind == IndexCondition::Kind::GreaterEqualZero ? c >= 0 : c == 0;
      if (!holds)
        p.alwaysFalse = true;
    }
    p.conjuncts = kept;
    if (p.alwaysFalse)
      p.conjuncts.clear();
    // A select whose condition became constant is a constant.
    if (value.kind == Kind::Select && (p.alwaysFalse || p.conjuncts.empty()))
      return select(p, value.whenTrue, value.whenFalse, dims.size());
    return value;
  }
  }
  return value;
}

std::optional<AffineIndex> addAffine(const AffineIndex &a, const AffineIndex &b, int64_t sign) {
  if (a.coeffs.size() != b.coeffs.size())
    return std::nullopt;
  AffineIndex result = a;
  result.constant += sign * b.constant;
  for (auto [r, x] : llvm::zip_equal(result.coeffs, b.coeffs))
    r += sign * x;
  return result;
}

AffineIndex scaleAffine(AffineIndex a, int64_t factor) {
  a.constant *= factor;
  for (int64_t &c : a.coeffs)
    c *= factor;
  return a;
}

/// not P for a predicate of one `e >= 0` condition: `-e - 1 >= 0`. Other predicates (an
/// equality, a conjunction) have no single-condition negation.
std::optional<IndexPredicate> negatePredicate(const IndexPredicate &p) {
  if (p.alwaysFalse || p.conjuncts.empty()) {
    IndexPredicate constant;
    constant.alwaysFalse = !p.alwaysFalse;
    return constant;
  }
  if (p.conjuncts.size() != 1 ||
      p.conjuncts[0].kind != IndexCondition::Kind::GreaterEqualZero)
    return std::nullopt;
  IndexPredicate negated;
  negated.conjuncts.push_back(
      {IndexCondition::Kind::GreaterEqualZero, scaleAffine(p.conjuncts[0].expr, -1)});
  negated.conjuncts[0].expr.constant -= 1;
  return negated;
}

/// A number that is an exact integer, as int64.
std::optional<int64_t> asInteger(double v) {
  if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9.0e15)
    return std::nullopt;
  return int64_t(v);
}

} // namespace

const IndexValue &MaskAnalysis::describe(Value value) {
  auto it = cache.find(value);
  if (it != cache.end())
    return it->second;
  IndexValue result = compute(value, 0);
  return cache[value] = result;
}

IndexValue MaskAnalysis::compute(Value value, unsigned depth) {
  if (depth > kMaxDepth)
    return IndexValue::unknown();
  auto it = cache.find(value);
  if (it != cache.end())
    return it->second;
  const DimList *resultDims = dimsOf(value);
  Operation *op = value.getDefiningOp();
  if (!resultDims || !op)
    return IndexValue::unknown();
  size_t rank = resultDims->size();

  auto get = [&](Value operand) {
    IndexValue v = compute(operand, depth + 1);
    cache[operand] = v;
    return v;
  };
  /// An operand's value seen at the result's indices (numpy broadcasting), provided each of
  /// its dims equals the result's or is 1.
  auto broadcast = [&](Value operand) -> IndexValue {
    const DimList *dims = dimsOf(operand);
    if (!dims || dims->size() > rank)
      return IndexValue::unknown();
    size_t shift = rank - dims->size();
    for (auto [i, dim] : llvm::enumerate(*dims))
      if (!dim.isConstant(1) && dim != (*resultDims)[i + shift])
        return IndexValue::unknown();
    return remap(get(operand), rank, [&](size_t axis) { return int64_t(axis + shift); });
  };
  auto finish = [&](IndexValue v) { return normalize(std::move(v), *resultDims); };

  /// A comparison of two affine values, as a condition on the result's indices.
  auto compare = [&](Value lhs, Value rhs, bool swap, int64_t bias,
                     IndexCondition::Kind kind) -> IndexValue {
    IndexValue a = broadcast(lhs), b = broadcast(rhs);
    if (a.kind == Kind::Select && b.kind == Kind::Affine && b.affine.isConstant() &&
        kind == IndexCondition::Kind::EqualZero) {
      // Equal(cond ? x : y, k)
      double k = double(b.affine.constant);
      bool t = a.whenTrue == k, f = a.whenFalse == k;
      if (t && f)
        return constantBool(true);
      if (!t && !f)
        return constantBool(false);
      if (t)
        return finish(boolean(a.predicate));
      if (std::optional<IndexPredicate> negated = negatePredicate(a.predicate))
        return finish(boolean(*negated));
      return IndexValue::unknown();
    }
    if (a.kind != Kind::Affine || b.kind != Kind::Affine)
      return IndexValue::unknown();
    std::optional<AffineIndex> diff = swap ? addAffine(b.affine, a.affine, -1)
                                           : addAffine(a.affine, b.affine, -1);
    if (!diff)
      return IndexValue::unknown();
    diff->constant += bias;
    IndexPredicate p;
    p.conjuncts.push_back({kind, *diff});
    return finish(boolean(p));
  };

  using CK = IndexCondition::Kind;
  IndexValue result =
      llvm::TypeSwitch<Operation *, IndexValue>(op)
          .Case([&](ConstantOp) -> IndexValue {
            auto type = dyn_cast<RankedTensorType>(value.getType());
            if (!type || !type.hasStaticShape() || type.getNumElements() > kMaxConstantElements)
              return IndexValue::unknown();
            std::optional<exec::Tensor> tensor = getConstantTensor(value);
            if (!tensor || tensor->getNumElements() == 0)
              return IndexValue::unknown();
            bool isBool = type.getElementType().isInteger(1);
            double first = tensor->getDouble(0);
            if (std::optional<double> splat = getSplatConstant(value)) {
              if (isBool)
                return constantBool(*splat != 0.0);
              std::optional<int64_t> integer = asInteger(*splat);
              if (integer)
                return constantAffine(*integer, rank);
              // A non-integer splat (a -inf fill, a scale): a select with both arms equal.
              return select(IndexPredicate{}, *splat, *splat, rank);
            }
            if (isBool)
              return IndexValue::unknown();
            // An integer progression along the axes (a folded Range, positions).
            std::optional<int64_t> c0 = asInteger(first);
            if (!c0)
              return IndexValue::unknown();
            AffineIndex expr;
            expr.constant = *c0;
            SmallVector<int64_t> strides = exec::getStrides(type.getShape());
            for (auto [axis, size] : llvm::enumerate(type.getShape())) {
              std::optional<int64_t> next =
                  size > 1 ? asInteger(tensor->getDouble(strides[axis])) : std::optional<int64_t>(*c0);
              if (!next)
                return IndexValue::unknown();
              expr.coeffs.push_back(*next - *c0);
            }
            for (int64_t i = 0, e = tensor->getNumElements(); i < e; ++i) {
              int64_t expected = expr.constant, rest = i;
              for (auto [axis, stride] : llvm::enumerate(strides)) {
                expected += expr.coeffs[axis] * (rest / stride);
                rest %= stride;
              }
              if (tensor->getDouble(i) != double(expected))
                return IndexValue::unknown();
            }
            return finish(affine(expr));
          })
          .Case([&](OnnxRangeOp range) -> IndexValue {
            std::optional<double> start = getSplatConstant(range.getStart());
            std::optional<double> delta = getSplatConstant(range.getDelta());
            std::optional<int64_t> s = start ? asInteger(*start) : std::nullopt;
            std::optional<int64_t> d = delta ? asInteger(*delta) : std::nullopt;
            Type element = getElementTypeOrSelf(range.getResult().getType());
            if (!s || !d || rank != 1 ||
                !(element.isInteger(32) || element.isInteger(64) || element.isF32() ||
                  element.isF64()))
              return IndexValue::unknown();
            AffineIndex expr;
            expr.constant = *s;
            expr.coeffs = {*d};
            return finish(affine(expr));
          })
          .Case<OnnxIdentityOp>([&](Operation *) { return finish(get(op->getOperand(0))); })
          .Case([&](OnnxCastOp cast) -> IndexValue {
            IndexValue in = get(cast.getInput());
            Type to = getElementTypeOrSelf(cast.getResult().getType());
            Type from = getElementTypeOrSelf(cast.getInput().getType());
            bool toBool = to.isInteger(1), fromBool = from.isInteger(1);
            if (fromBool && toBool)
              return in;
            if (fromBool) // bool -> number: cond ? 1 : 0
              return in.kind == Kind::Bool ? select(in.predicate, 1.0, 0.0, rank)
                                           : IndexValue::unknown();
            if (toBool) {
              if (in.kind == Kind::Affine && in.affine.isConstant())
                return constantBool(in.affine.constant != 0);
              if (in.kind == Kind::Select && in.whenFalse == 0.0 && in.whenTrue != 0.0)
                return boolean(in.predicate);
              return IndexValue::unknown();
            }
            // number -> number: an index expression stays exact only in types that hold every
            // index (i32/i64, f32 up to 2^24, f64); f16, bf16 and narrow integers round or wrap.
            if (in.kind == Kind::Affine && !in.affine.isConstant() &&
                !(to.isInteger(32) || to.isInteger(64) || to.isF32() || to.isF64()))
              return IndexValue::unknown();
            // Float to int truncates, so only integers and selects of integers pass.
            if (in.kind == Kind::Select &&
                (!asInteger(in.whenTrue) || !asInteger(in.whenFalse)) && isa<IntegerType>(to))
              return IndexValue::unknown();
            return in;
          })
          .Case([&](OnnxUnsqueezeOp unsqueeze) -> IndexValue {
            const DimList *in = dimsOf(unsqueeze.getData());
            std::optional<SmallVector<int64_t>> axes = getConstantInts(unsqueeze.getAxes());
            if (!in || !axes)
              return IndexValue::unknown();
            SmallVector<bool> inserted(rank, false);
            for (int64_t axis : *axes) {
              axis = axis < 0 ? axis + int64_t(rank) : axis;
              if (axis < 0 || axis >= int64_t(rank) || inserted[axis])
                return IndexValue::unknown();
              inserted[axis] = true;
            }
            if (in->size() + axes->size() != rank)
              return IndexValue::unknown();
            SmallVector<int64_t> map;
            for (size_t i = 0; i < rank; ++i)
              if (!inserted[i])
                map.push_back(i);
            return finish(
                remap(get(unsqueeze.getData()), rank, [&](size_t axis) { return map[axis]; }));
          })
          .Case([&](OnnxSqueezeOp squeeze) -> IndexValue {
            const DimList *in = dimsOf(squeeze.getData());
            if (!in)
              return IndexValue::unknown();
            // Kept dims in order; squeezed ones are 1 and carry no index.
            SmallVector<int64_t> map(in->size(), -1);
            size_t next = 0;
            std::optional<SmallVector<int64_t>> axes;
            if (Value axesValue = squeeze.getAxes()) {
              axes = getConstantInts(axesValue);
              if (!axes) // which dims go is decided at run time
                return IndexValue::unknown();
            }
            for (size_t i = 0; i < in->size(); ++i) {
              bool removed = axes ? llvm::is_contained(*axes, int64_t(i)) ||
                                        llvm::is_contained(*axes, int64_t(i) - int64_t(in->size()))
                                  : (*in)[i].isConstant(1);
              if (!removed)
                map[i] = next++;
            }
            if (next != rank)
              return IndexValue::unknown();
            return finish(
                remap(get(squeeze.getData()), rank, [&](size_t axis) { return map[axis]; }));
          })
          .Case([&](OnnxReshapeOp reshape) -> IndexValue {
            // Only reshapes that insert or drop dims of size 1: the other dims keep their order.
            const DimList *in = dimsOf(reshape.getData());
            if (!in)
              return IndexValue::unknown();
            std::optional<SmallVector<int64_t>> map = mapUnitDimReshape(*in, *resultDims);
            if (!map)
              return IndexValue::unknown();
            return finish(
                remap(get(reshape.getData()), rank, [&](size_t axis) { return (*map)[axis]; }));
          })
          .Case([&](OnnxExpandOp expand) { return finish(broadcast(expand.getInput())); })
          .Case([&](OnnxTransposeOp transpose) -> IndexValue {
            SmallVector<int64_t> perm = transpose.getPermutation();
            if (perm.size() != rank)
              return IndexValue::unknown();
            SmallVector<int64_t> inverse(rank, -1);
            for (int64_t p : perm)
              if (p < 0 || p >= int64_t(rank) || inverse[p] != -1)
                return IndexValue::unknown();
              else
                inverse[p] = 0;
            for (auto [i, p] : llvm::enumerate(perm))
              inverse[p] = i;
            return finish(remap(get(transpose.getData()), rank,
                                [&](size_t axis) { return inverse[axis]; }));
          })
          .Case([&](OnnxSliceOp slice) -> IndexValue {
            // result index i along a sliced axis reads input index start + step * i.
            const DimList *in = dimsOf(slice.getData());
            std::optional<SmallVector<int64_t>> starts = getConstantInts(slice.getStarts());
            if (!in || !starts || in->size() != rank)
              return IndexValue::unknown();
            SmallVector<int64_t> axes, steps(starts->size(), 1);
            if (Value axesValue = slice.getAxes()) {
              std::optional<SmallVector<int64_t>> a = getConstantInts(axesValue);
              if (!a)
                return IndexValue::unknown();
              axes = *a;
            } else {
              for (size_t i = 0; i < starts->size(); ++i)
                axes.push_back(i);
            }
            if (Value stepsValue = slice.getSteps()) {
              std::optional<SmallVector<int64_t>> s = getConstantInts(stepsValue);
              if (!s)
                return IndexValue::unknown();
              steps = *s;
            }
            IndexValue v = get(slice.getData());
            auto shift = [&](AffineIndex &expr) {
              if (axes.size() != starts->size() || steps.size() != starts->size())
                return false;
              for (size_t i = 0; i < axes.size(); ++i) {
                int64_t axis = axes[i] < 0 ? axes[i] + int64_t(rank) : axes[i];
                if (axis < 0 || axis >= int64_t(rank))
                  return false;
                int64_t start = (*starts)[i];
                if (start < 0 || steps[i] <= 0)
                  return false; // negative starts depend on the (possibly symbolic) dim
                if ((*in)[axis].isConstant() && start >= (*in)[axis].offset)
                  return false;
                expr.constant += expr.coeffs[axis] * start;
                expr.coeffs[axis] *= steps[i];
              }
              return true;
            };
            if (v.kind == Kind::Affine) {
              if (!shift(v.affine))
                return IndexValue::unknown();
            } else if (v.kind == Kind::Bool || v.kind == Kind::Select) {
              for (IndexCondition &cond : v.predicate.conjuncts)
                if (!shift(cond.expr))
                  return IndexValue::unknown();
            }
            return finish(v);
          })
          .Case([&](OnnxConcatOp concat) -> IndexValue {
            // Affine pieces that continue one another along the axis.
            int64_t axis = int64_t(concat.getAxis());
            axis = axis < 0 ? axis + int64_t(rank) : axis;
            if (axis < 0 || axis >= int64_t(rank))
              return IndexValue::unknown();
            std::optional<AffineIndex> combined;
            int64_t offset = 0;
            std::vector<std::pair<int64_t, IndexValue>> pieces;
            size_t numInputs = concat.getInputs().size();
            for (auto [position, input] : llvm::enumerate(concat.getInputs())) {
              const DimList *d = dimsOf(input);
              IndexValue v = get(input);
              if (!d || d->size() != rank || v.kind != Kind::Affine)
                return IndexValue::unknown();
              pieces.push_back({offset, v});
              const DimExpr &length = (*d)[axis];
              if (position + 1 < numInputs) { // the last piece's length is not needed
                if (!length.isConstant())
                  return IndexValue::unknown();
                offset += length.offset;
              }
            }
            // The candidate: the piece that varies along the axis (else the first), shifted.
            for (auto &[pieceOffset, v] : pieces) {
              if (v.affine.coeffs[axis] != 0 || !combined) {
                AffineIndex candidate = v.affine;
                candidate.constant -= candidate.coeffs[axis] * pieceOffset;
                combined = candidate;
                if (v.affine.coeffs[axis] != 0)
                  break;
              }
            }
            for (auto [input, piece] : llvm::zip_equal(concat.getInputs(), pieces)) {
              auto &[pieceOffset, v] = piece;
              AffineIndex expected = *combined;
              expected.constant += expected.coeffs[axis] * pieceOffset;
              bool unitPiece = (*dimsOf(input))[axis].isConstant(1);
              AffineIndex actual = v.affine;
              if (unitPiece) // index 0 only: compare values, not slopes, along the axis
                actual.coeffs[axis] = expected.coeffs[axis];
              if (!(actual == expected))
                return IndexValue::unknown();
            }
            return finish(affine(*combined));
          })
          .Case<OnnxAddOp, OnnxSubOp>([&](Operation *) -> IndexValue {
            IndexValue a = broadcast(op->getOperand(0)), b = broadcast(op->getOperand(1));
            int64_t sign = isa<OnnxSubOp>(op) ? -1 : 1;
            if (a.kind == Kind::Affine && b.kind == Kind::Affine) {
              std::optional<AffineIndex> sum = addAffine(a.affine, b.affine, sign);
              return sum ? finish(affine(*sum)) : IndexValue::unknown();
            }
            // A select plus a constant: both arms move.
            auto constantOf = [](const IndexValue &v) -> std::optional<double> {
              if (v.kind == Kind::Affine && v.affine.isConstant())
                return double(v.affine.constant);
              if (v.kind == Kind::Select && v.whenTrue == v.whenFalse)
                return v.whenTrue;
              return std::nullopt;
            };
            if (a.kind == Kind::Select && constantOf(b))
              return select(a.predicate, a.whenTrue + sign * *constantOf(b),
                            a.whenFalse + sign * *constantOf(b), rank);
            if (b.kind == Kind::Select && constantOf(a))
              return select(b.predicate, *constantOf(a) + sign * b.whenTrue,
                            *constantOf(a) + sign * b.whenFalse, rank);
            return IndexValue::unknown();
          })
          .Case([&](OnnxNegOp neg) -> IndexValue {
            IndexValue v = get(neg.getInput());
            if (v.kind == Kind::Affine)
              return affine(scaleAffine(v.affine, -1));
            if (v.kind == Kind::Select)
              return select(v.predicate, -v.whenTrue, -v.whenFalse, rank);
            return IndexValue::unknown();
          })
          .Case([&](OnnxMulOp) -> IndexValue {
            IndexValue a = broadcast(op->getOperand(0)), b = broadcast(op->getOperand(1));
            if (b.kind == Kind::Affine && b.affine.isConstant())
              std::swap(a, b);
            if (a.kind == Kind::Affine && a.affine.isConstant()) {
              int64_t c = a.affine.constant;
              if (b.kind == Kind::Affine)
                return finish(affine(scaleAffine(b.affine, c)));
              if (b.kind == Kind::Select)
                return select(b.predicate, c * b.whenTrue, c * b.whenFalse, rank);
            }
            if (a.kind == Kind::Select && a.whenTrue == a.whenFalse && b.kind == Kind::Select)
              return select(b.predicate, a.whenTrue * b.whenTrue, a.whenTrue * b.whenFalse, rank);
            if (b.kind == Kind::Select && b.whenTrue == b.whenFalse && a.kind == Kind::Select)
              return select(a.predicate, b.whenTrue * a.whenTrue, b.whenTrue * a.whenFalse, rank);
            return IndexValue::unknown();
          })
          .Case([&](OnnxLessOrEqualOp) {
            return compare(op->getOperand(0), op->getOperand(1), true, 0, CK::GreaterEqualZero);
          })
          .Case([&](OnnxLessOp) {
            return compare(op->getOperand(0), op->getOperand(1), true, -1, CK::GreaterEqualZero);
          })
          .Case([&](OnnxGreaterOrEqualOp) {
            return compare(op->getOperand(0), op->getOperand(1), false, 0, CK::GreaterEqualZero);
          })
          .Case([&](OnnxGreaterOp) {
            return compare(op->getOperand(0), op->getOperand(1), false, -1,
                           CK::GreaterEqualZero);
          })
          .Case([&](OnnxEqualOp) {
            return compare(op->getOperand(0), op->getOperand(1), false, 0, CK::EqualZero);
          })
          .Case([&](OnnxAndOp) -> IndexValue {
            IndexValue a = broadcast(op->getOperand(0)), b = broadcast(op->getOperand(1));
            if (a.kind != Kind::Bool || b.kind != Kind::Bool)
              return IndexValue::unknown();
            if (a.predicate.alwaysFalse || b.predicate.alwaysFalse)
              return constantBool(false);
            IndexPredicate p = a.predicate;
            p.conjuncts.append(b.predicate.conjuncts);
            return finish(boolean(p));
          })
          .Case([&](OnnxOrOp) -> IndexValue {
            IndexValue a = broadcast(op->getOperand(0)), b = broadcast(op->getOperand(1));
            if (a.kind != Kind::Bool || b.kind != Kind::Bool)
              return IndexValue::unknown();
            if (a.predicate.isTrue() || b.predicate.isTrue())
              return constantBool(true);
            if (a.predicate.alwaysFalse)
              return b;
            if (b.predicate.alwaysFalse)
              return a;
            return IndexValue::unknown();
          })
          .Case([&](OnnxNotOp notOp) -> IndexValue {
            IndexValue v = get(notOp.getInput());
            if (v.kind != Kind::Bool)
              return IndexValue::unknown();
            if (std::optional<IndexPredicate> negated = negatePredicate(v.predicate))
              return finish(boolean(*negated));
            return IndexValue::unknown();
          })
          .Case([&](OnnxWhereOp where) -> IndexValue {
            IndexValue c = broadcast(where.getCondition());
            if (c.kind != Kind::Bool)
              return IndexValue::unknown();
            if (c.predicate.isTrue())
              return finish(broadcast(where.getX()));
            if (c.predicate.alwaysFalse)
              return finish(broadcast(where.getY()));
            std::optional<double> x = getSplatConstant(where.getX());
            std::optional<double> y = getSplatConstant(where.getY());
            if (!x || !y)
              return IndexValue::unknown();
            return select(c.predicate, *x, *y, rank);
          })
          .Case([&](OnnxCumSumOp cumsum) -> IndexValue {
            // The running sum of a constant c along an axis: c * (i + 1), or c * i exclusive.
            IndexValue v = get(cumsum.getX());
            std::optional<double> axisValue = getSplatConstant(cumsum.getAxis());
            if (v.kind != Kind::Affine || !v.affine.isConstant() || !axisValue ||
                cumsum.getReverse())
              return IndexValue::unknown();
            int64_t axis = int64_t(*axisValue) < 0 ? int64_t(*axisValue) + rank : int64_t(*axisValue);
            if (axis < 0 || axis >= int64_t(rank))
              return IndexValue::unknown();
            AffineIndex expr = v.affine;
            int64_t c = expr.constant;
            expr.coeffs[axis] = c;
            expr.constant = cumsum.getExclusive() ? 0 : c;
            return finish(affine(expr));
          })
          .Case<OnnxGatherNDOp, OnnxGatherOp, OnnxGatherElementsOp>(
              [&](Operation *) -> IndexValue {
                // Gathering from a constant gives the constant (indices must be valid at run
                // time either way).
                IndexValue data = get(op->getOperand(0));
                if (data.kind == Kind::Affine && data.affine.isConstant())
                  return constantAffine(data.affine.constant, rank);
                if (data.kind == Kind::Bool &&
                    (data.predicate.isTrue() || data.predicate.alwaysFalse))
                  return constantBool(data.predicate.isTrue());
                return IndexValue::unknown();
              })
          .Case<OnnxMaxOp, OnnxMinOp>([&](Operation *) -> IndexValue {
            std::optional<int64_t> result;
            for (Value input : op->getOperands()) {
              IndexValue v = get(input);
              if (v.kind != Kind::Affine || !v.affine.isConstant())
                return IndexValue::unknown();
              int64_t c = v.affine.constant;
              result = !result ? c : isa<OnnxMaxOp>(op) ? std::max(*result, c)
                                                         : std::min(*result, c);
            }
            return result ? constantAffine(*result, rank) : IndexValue::unknown();
          })
          .Case([&](OnnxConstantOfShapeOp fill) -> IndexValue {
            if (!fill.getValue())
              return constantAffine(0, rank);
            // The fill value: `dense`, or `dense_resource` as the importer writes it (decoded
            // like every constant the patterns read).
            llvm::Expected<exec::Tensor> value = exec::tensorFromElements(*fill.getValue());
            if (!value) {
              llvm::consumeError(value.takeError());
              return IndexValue::unknown();
            }
            if (value->getNumElements() != 1)
              return IndexValue::unknown();
            Type element = fill.getValue()->getElementType();
            double v = value->getDouble(0);
            if (element.isInteger(1))
              return constantBool(v != 0.0);
            if (isa<IntegerType>(element))
              return constantAffine(static_cast<int64_t>(v), rank);
            if (std::optional<int64_t> integer = asInteger(v))
              return constantAffine(*integer, rank);
            return select(IndexPredicate{}, v, v, rank);
          })
          .Case([&](OnnxTriluOp trilu) -> IndexValue {
            // Trilu of a constant c: c where the diagonal condition holds, 0 elsewhere.
            IndexValue in = get(trilu.getInput());
            std::optional<double> fill;
            if (in.kind == Kind::Affine && in.affine.isConstant())
              fill = double(in.affine.constant);
            else if (in.kind == Kind::Select && in.whenTrue == in.whenFalse)
              fill = in.whenTrue; // a -inf fill (triu(full(-inf), 1))
            if (rank < 2 || !fill)
              return IndexValue::unknown();
            int64_t k = 0;
            if (Value kValue = trilu.getK()) {
              std::optional<double> kConst = getSplatConstant(kValue);
              if (!kConst)
                return IndexValue::unknown();
              k = int64_t(*kConst);
            }
            // lower: j <= i + k  <=>  i - j + k >= 0;  upper: j >= i + k  <=>  j - i - k >= 0
            AffineIndex e;
            e.coeffs.assign(rank, 0);
            int64_t sign = trilu.getUpper() ? -1 : 1;
            e.coeffs[rank - 2] = sign;
            e.coeffs[rank - 1] = -sign;
            e.constant = sign * k;
            IndexPredicate p;
            p.conjuncts.push_back({CK::GreaterEqualZero, e});
            return finish(select(p, *fill, 0.0, rank));
          })
          .Default([](Operation *) { return IndexValue::unknown(); });
  return result;
}

bool MaskAnalysis::isZero(Value value) {
  const IndexValue &v = describe(value);
  if (v.kind == Kind::Affine)
    return v.affine.isConstant() && v.affine.constant == 0;
  if (v.kind == Kind::Select)
    return v.whenTrue == 0.0 && v.whenFalse == 0.0;
  return false;
}

/// A constant mask checked element by element (fixed-shape exports fold their masks).
static bool isCausalConstant(Value value, int64_t delta, bool additive, bool hiddenWhereTrue) {
  std::optional<exec::Tensor> tensor = getConstantTensor(value);
  if (!tensor || tensor->getNumElements() > kMaxConstantElements)
    return false;
  ArrayRef<int64_t> shape = tensor->getShape();
  int64_t rows = shape[shape.size() - 2], cols = shape.back();
  for (int64_t i = 0, e = tensor->getNumElements(); i < e; ++i) {
    int64_t col = i % cols, row = (i / cols) % rows;
    bool visible = col <= row + delta;
    double v = tensor->getDouble(i);
    bool keep = hiddenWhereTrue ? v == 0.0 : v != 0.0;
    bool ok = additive ? (visible ? v == 0.0 : v <= kMaskedAdditiveBound) : visible == keep;
    if (!ok)
      return false;
  }
  return true;
}

bool MaskAnalysis::isCausal(Value value, const DimList &scoreDims, bool additive,
                            bool hiddenWhereTrue) {
  const DimList *dims = dimsOf(value);
  if (!dims || dims->size() > 4 || scoreDims.size() != 4 || dims->size() < 2)
    return false;
  // The mask's q and kv dims must be the scores' (not broadcast), so its indices are theirs.
  size_t shift = 4 - dims->size();
  if ((*dims)[2 - shift] != scoreDims[2] || (*dims)[3 - shift] != scoreDims[3])
    return false;
  // kv_len - q_len must be a known constant.
  std::optional<DimExpr> delta;
  if (scoreDims[3].symbol == scoreDims[2].symbol)
    delta = DimExpr::constant(scoreDims[3].offset - scoreDims[2].offset);
  if (!delta || delta->offset < 0)
    return false;

  if (value.getDefiningOp<ConstantOp>())
    return isCausalConstant(value, delta->offset, additive, hiddenWhereTrue);

  const IndexValue &v = describe(value);
  // The predicate, and whether it marks the visible keys or the hidden ones.
  const IndexPredicate *predicate = nullptr;
  bool marksHidden = hiddenWhereTrue;
  if (additive) {
    if (v.kind != Kind::Select)
      return false;
    if (v.whenTrue == 0.0 && v.whenFalse <= kMaskedAdditiveBound)
      marksHidden = false; // cond ? 0 : -inf
    else if (v.whenTrue <= kMaskedAdditiveBound && v.whenFalse == 0.0)
      marksHidden = true; // cond ? -inf : 0 (masked_fill, triu of -inf)
    else
      return false;
    predicate = &v.predicate;
  } else {
    if (v.kind != Kind::Bool)
      return false;
    predicate = &v.predicate;
  }
  if (predicate->alwaysFalse || predicate->conjuncts.size() != 1)
    return false;
  std::optional<IndexPredicate> visible =
      marksHidden ? negatePredicate(*predicate) : std::optional<IndexPredicate>(*predicate);
  if (!visible || visible->conjuncts.size() != 1)
    return false;
  const IndexCondition &cond = visible->conjuncts[0];
  // i_q - i_kv + delta >= 0, with i_q, i_kv the mask's last two axes.
  AffineIndex expected;
  expected.coeffs.assign(dims->size(), 0);
  expected.coeffs[dims->size() - 2] = 1;
  expected.coeffs[dims->size() - 1] = -1;
  expected.constant = delta->offset;
  return cond.kind == IndexCondition::Kind::GreaterEqualZero && cond.expr == expected;
}
