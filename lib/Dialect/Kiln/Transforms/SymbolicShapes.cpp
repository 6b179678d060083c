//===- SymbolicShapes.cpp - shape inference with symbolic dims ------------===//
//
// One rule per op family. A rule computes result dims from operand dims and, where the op reads
// a shape vector (Reshape, Expand, ConstantOfShape, Slice bounds, Range limits), from the tracked
// elements of that vector. Whatever a rule cannot express becomes a fresh symbol; the declared
// type still wins wherever it is static.
//
//===----------------------------------------------------------------------===//

#include "SymbolicShapes.h"

#include "ConstantValues.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <map>

using namespace mlir;
using namespace kiln;

namespace {

/// Shape vectors longer than this are not tracked element by element.
constexpr int64_t kMaxShapeValueLength = 16;
/// ONNX Slice's "to the end" ends are INT64_MAX or a value that large.
constexpr int64_t kSliceToEnd = int64_t(1) << 60;

/// A product of dims: coeff * prod(symbol^power). Used for Reshape's -1 and Flatten, where
/// element counts are divided.
struct Monomial {
  int64_t coeff = 1;
  std::map<int64_t, int> powers;
  bool valid = true;

  void multiply(const DimExpr &dim) {
    if (!valid)
      return;
    if (dim.isConstant()) {
      if (__builtin_mul_overflow(coeff, dim.offset, &coeff))
        valid = false;
    } else if (dim.offset == 0) {
      ++powers[dim.symbol];
    } else {
      valid = false; // (seq + 1) * x has no monomial form
    }
  }
  /// this / other as one dim, when it is a constant or a single symbol.
  std::optional<DimExpr> divide(const Monomial &other) const {
    if (!valid || !other.valid || other.coeff == 0 || coeff % other.coeff != 0)
      return std::nullopt;
    std::map<int64_t, int> rest = powers;
    for (auto [symbol, power] : other.powers) {
      rest[symbol] -= power;
      if (rest[symbol] < 0)
        return std::nullopt;
    }
    int64_t quotient = coeff / other.coeff;
    SmallVector<int64_t> symbols;
    for (auto [symbol, power] : rest)
      for (int i = 0; i < power; ++i)
        symbols.push_back(symbol);
    if (symbols.empty())
      return DimExpr::constant(quotient);
    if (symbols.size() == 1 && quotient == 1)
      return DimExpr::symbolic(symbols[0]);
    return std::nullopt;
  }
};

std::optional<DimExpr> addDims(const DimExpr &a, const DimExpr &b) {
  if (a.isConstant())
    return DimExpr{b.symbol, b.offset + a.offset};
  if (b.isConstant())
    return DimExpr{a.symbol, a.offset + b.offset};
  return std::nullopt;
}

std::optional<DimExpr> subDims(const DimExpr &a, const DimExpr &b) {
  if (b.isConstant())
    return DimExpr{a.symbol, a.offset - b.offset};
  if (a.symbol == b.symbol)
    return DimExpr::constant(a.offset - b.offset);
  return std::nullopt;
}

int64_t normalizeAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

/// The axis in [0, rank), or std::nullopt: verifiers check axes only on ranked types, and this
/// analysis also gives unranked values a rank.
std::optional<int64_t> axisIn(int64_t axis, int64_t rank) {
  axis = normalizeAxis(axis, rank);
  if (axis < 0 || axis >= rank)
    return std::nullopt;
  return axis;
}

/// Whether `perm` is a permutation of [0, rank).
bool isPermutation(ArrayRef<int64_t> perm, size_t rank) {
  if (perm.size() != rank)
    return false;
  SmallVector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(rank) || seen[p])
      return false;
    seen[p] = true;
  }
  return true;
}

} // namespace

//===----------------------------------------------------------------------===//
// Construction
//===----------------------------------------------------------------------===//

SymbolicShapes::SymbolicShapes(func::FuncOp function) {
  if (function.isExternal())
    return;
  Block &body = function.getBody().front();
  for (BlockArgument argument : body.getArguments())
    bindArgument(argument, function);
  for (Operation &op : body)
    inferOp(&op);
}

DimExpr SymbolicShapes::fresh() {
  // '?' keeps fresh symbols apart from every dim_param name (torch names dims s0, s1, ...).
  symbolNames.push_back("?" + std::to_string(symbolNames.size()));
  return DimExpr::symbolic(symbolNames.size() - 1);
}

std::optional<DimList> SymbolicShapes::dimsFromType(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked)
    return std::nullopt;
  DimList result;
  for (int64_t dim : ranked.getShape())
    result.push_back(ShapedType::isDynamic(dim) ? fresh() : DimExpr::constant(dim));
  return result;
}

void SymbolicShapes::bindArgument(BlockArgument argument, func::FuncOp function) {
  std::optional<DimList> argDims = dimsFromType(argument.getType());
  if (!argDims)
    return;
  // Dims named alike share one symbol across all arguments.
  if (auto names = function.getArgAttrOfType<ArrayAttr>(argument.getArgNumber(),
                                                        "kiln.dim_params")) {
    for (auto [i, nameAttr] : llvm::enumerate(names)) {
      auto name = dyn_cast<StringAttr>(nameAttr);
      if (!name || name.getValue().empty() || i >= argDims->size() ||
          (*argDims)[i].isConstant())
        continue;
      auto [it, inserted] = namedSymbols.try_emplace(name.getValue(), -1);
      if (inserted) {
        (*argDims)[i] = fresh();
        symbolNames.back() = name.getValue().str();
        it->second = (*argDims)[i].symbol;
      } else {
        (*argDims)[i] = DimExpr::symbolic(it->second);
      }
    }
  }
  setDims(argument, *argDims);
}

std::optional<SmallVector<int64_t>> kiln::mapUnitDimReshape(const DimList &in,
                                                             const DimList &out) {
  SmallVector<int64_t> inAxes, outAxes;
  for (auto [i, dim] : llvm::enumerate(in))
    if (!dim.isConstant(1))
      inAxes.push_back(i);
  for (auto [i, dim] : llvm::enumerate(out))
    if (!dim.isConstant(1))
      outAxes.push_back(i);
  if (inAxes.size() != outAxes.size())
    return std::nullopt;
  SmallVector<int64_t> map(in.size(), -1);
  for (auto [a, b] : llvm::zip_equal(inAxes, outAxes)) {
    if (in[a] != out[b])
      return std::nullopt;
    map[a] = b;
  }
  return map;
}

//===----------------------------------------------------------------------===//
// Queries
//===----------------------------------------------------------------------===//

const DimList *SymbolicShapes::getDims(Value value) const {
  auto it = dims.find(value);
  return it == dims.end() ? nullptr : &it->second;
}

const ShapeValue *SymbolicShapes::getShapeValue(Value value) const {
  auto it = shapeValues.find(value);
  return it == shapeValues.end() ? nullptr : &it->second;
}

Type SymbolicShapes::getRefinedType(Value value) const {
  auto tensor = dyn_cast<TensorType>(value.getType());
  const DimList *known = getDims(value);
  if (!tensor || !known)
    return value.getType();
  SmallVector<int64_t> shape;
  for (const DimExpr &dim : *known)
    shape.push_back(dim.isConstant() && dim.offset >= 0 ? dim.offset : ShapedType::kDynamic);
  return RankedTensorType::get(shape, tensor.getElementType());
}

std::string SymbolicShapes::format(const DimExpr &dim) const {
  if (dim.isConstant())
    return std::to_string(dim.offset);
  std::string name = symbolNames[dim.symbol];
  if (dim.offset > 0)
    return name + " + " + std::to_string(dim.offset);
  if (dim.offset < 0)
    return name + " - " + std::to_string(-dim.offset);
  return name;
}

//===----------------------------------------------------------------------===//
// Recording results
//===----------------------------------------------------------------------===//

void SymbolicShapes::setDims(Value value, DimList inferred) {
  // The declared type wins where it is static: it came from the model or an earlier pass.
  if (auto ranked = dyn_cast<RankedTensorType>(value.getType())) {
    if (ranked.getRank() != int64_t(inferred.size())) {
      std::optional<DimList> declared = dimsFromType(ranked);
      dims[value] = *declared;
      return;
    }
    for (auto [dim, declared] : llvm::zip_equal(inferred, ranked.getShape()))
      if (!ShapedType::isDynamic(declared))
        dim = DimExpr::constant(declared);
  }
  dims[value] = std::move(inferred);
}

void SymbolicShapes::setShapeValue(Value value, ShapeValue elements) {
  // Only for vectors (rank 1) and scalars whose element count is the number of elements given.
  const DimList *d = getDims(value);
  if (!d || d->size() > 1 || int64_t(elements.size()) > kMaxShapeValueLength)
    return;
  if (d->empty() ? elements.size() != 1 : !(*d)[0].isConstant(int64_t(elements.size())))
    return;
  shapeValues[value] = std::move(elements);
}

//===----------------------------------------------------------------------===//
// Rules
//===----------------------------------------------------------------------===//

namespace {

/// numpy broadcasting of dim lists (right-aligned). A dim of constant 1 yields to the other;
/// equal dims stay; a constant other than 1 wins over a symbol (the program is valid only if
/// the symbol is 1 or equal); two different symbols give an unknown dim.
template <typename FreshFn>
DimList broadcastDims(ArrayRef<const DimList *> operands, FreshFn fresh) {
  size_t rank = 0;
  for (const DimList *dims : operands)
    rank = std::max(rank, dims->size());
  DimList result;
  for (size_t i = 0; i < rank; ++i) {
    std::optional<DimExpr> chosen;
    bool conflict = false;
    for (const DimList *dims : operands) {
      int64_t index = int64_t(i) - int64_t(rank - dims->size());
      if (index < 0)
        continue;
      const DimExpr &dim = (*dims)[index];
      if (dim.isConstant(1))
        continue;
      if (!chosen || *chosen == dim)
        chosen = dim;
      else if (dim.isConstant() && !chosen->isConstant())
        chosen = dim;
      else if (!(chosen->isConstant() && !dim.isConstant()))
        conflict = true;
    }
    result.push_back(conflict ? fresh() : chosen.value_or(DimExpr::constant(1)));
  }
  return result;
}

/// The integer elements of a constant (rank <= 1, at most kMaxShapeValueLength elements).
std::optional<ShapeValue> constantShapeValue(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type || type.getRank() > 1 || !type.hasStaticShape() ||
      type.getNumElements() > kMaxShapeValueLength || !isa<IntegerType>(type.getElementType()))
    return std::nullopt;
  std::optional<SmallVector<int64_t>> ints = getConstantInts(value);
  if (!ints)
    return std::nullopt;
  ShapeValue result;
  for (int64_t v : *ints)
    result.push_back(DimExpr::constant(v));
  return result;
}

} // namespace

void SymbolicShapes::inferOp(Operation *op) {
  auto dimsOf = [&](Value v) { return getDims(v); };
  auto valueOf = [&](Value v) -> const ShapeValue * {
    if (const ShapeValue *known = getShapeValue(v))
      return known;
    if (std::optional<ShapeValue> constant = constantShapeValue(v)) {
      shapeValues[v] = *constant;
      return &shapeValues[v];
    }
    return nullptr;
  };
  auto freshFn = [&]() { return fresh(); };
  auto declared = [&](Value v) {
    if (std::optional<DimList> d = dimsFromType(v.getType()))
      dims[v] = *d;
  };
  auto sameAsOperand = [&](unsigned index) {
    if (const DimList *d = dimsOf(op->getOperand(index)))
      setDims(op->getResult(0), *d);
    else
      declared(op->getResult(0));
  };
  auto broadcastOperands = [&](ValueRange operands) {
    SmallVector<const DimList *> lists;
    for (Value operand : operands) {
      const DimList *d = dimsOf(operand);
      if (!d)
        return declared(op->getResult(0));
      lists.push_back(d);
    }
    setDims(op->getResult(0), broadcastDims(lists, freshFn));
  };
  /// Elementwise arithmetic on shape values (size-1 operands broadcast).
  auto shapeArithmetic = [&](auto combine) {
    const ShapeValue *a = valueOf(op->getOperand(0)), *b = valueOf(op->getOperand(1));
    if (!a || !b || a->empty() || b->empty() || (a->size() != b->size() && a->size() != 1 &&
                                                 b->size() != 1))
      return;
    size_t n = std::max(a->size(), b->size());
    ShapeValue result;
    for (size_t i = 0; i < n; ++i) {
      const std::optional<DimExpr> &x = (*a)[a->size() == 1 ? 0 : i];
      const std::optional<DimExpr> &y = (*b)[b->size() == 1 ? 0 : i];
      result.push_back(x && y ? combine(*x, *y) : std::nullopt);
    }
    setShapeValue(op->getResult(0), result);
  };
  /// The dims a shape vector describes (unknown elements become fresh symbols).
  auto dimsFromShapeValue = [&](const ShapeValue &value) {
    DimList result;
    for (const std::optional<DimExpr> &element : value)
      result.push_back(element && (!element->isConstant() || element->offset >= 0) ? *element
                                                                                   : fresh());
    return result;
  };

  llvm::TypeSwitch<Operation *>(op)
      .Case([&](ConstantOp constant) {
        declared(constant.getResult());
        if (std::optional<ShapeValue> value = constantShapeValue(constant.getResult()))
          setShapeValue(constant.getResult(), *value);
      })
      // Same shape as the first operand.
      .Case<OnnxSqrtOp, OnnxReciprocalOp, OnnxTanhOp, OnnxErfOp, OnnxSigmoidOp, OnnxCosOp,
            OnnxSinOp, OnnxExpOp, OnnxLogOp, OnnxReluOp, OnnxAbsOp, OnnxNegOp, OnnxNotOp,
            OnnxIsNaNOp, OnnxSoftmaxOp, OnnxCumSumOp, OnnxTriluOp, OnnxClipOp,
            OnnxRMSNormalizationOp, OnnxRotaryEmbeddingOp>([&](Operation *) {
        sameAsOperand(0);
      })
      .Case<OnnxIdentityOp, OnnxCastOp>([&](Operation *) {
        sameAsOperand(0);
        auto type = dyn_cast<TensorType>(op->getResult(0).getType());
        if (const ShapeValue *value = valueOf(op->getOperand(0));
            value && type && type.getElementType().isInteger(64))
          setShapeValue(op->getResult(0), *value);
      })
      .Case([&](OnnxDropoutOp dropout) {
        sameAsOperand(0);
        if (Value mask = dropout.getMask())
          if (const DimList *d = dimsOf(dropout.getData()))
            setDims(mask, *d);
      })
      .Case([&](OnnxLayerNormalizationOp norm) {
        sameAsOperand(0);
        const DimList *d = dimsOf(norm.getInput());
        for (Value stat : norm.getStatistics()) {
          if (!d) {
            declared(stat);
            continue;
          }
          DimList reduced = *d;
          int64_t axis = normalizeAxis(norm.getAxis(), d->size());
          for (int64_t i = std::max<int64_t>(axis, 0); i < int64_t(d->size()); ++i)
            reduced[i] = DimExpr::constant(1);
          setDims(stat, reduced);
        }
      })
      .Case<OnnxAddOp, OnnxSubOp, OnnxMulOp, OnnxDivOp>([&](Operation *) {
        broadcastOperands(op->getOperands());
        if (isa<OnnxAddOp>(op))
          shapeArithmetic([](DimExpr a, DimExpr b) { return addDims(a, b); });
        else if (isa<OnnxSubOp>(op))
          shapeArithmetic([](DimExpr a, DimExpr b) { return subDims(a, b); });
        else if (isa<OnnxMulOp>(op))
          shapeArithmetic([](DimExpr a, DimExpr b) -> std::optional<DimExpr> {
            if (a.isConstant() && b.isConstant())
              return DimExpr::constant(a.offset * b.offset);
            if (a.isConstant(1))
              return b;
            if (b.isConstant(1))
              return a;
            return std::nullopt;
          });
        else
          shapeArithmetic([](DimExpr a, DimExpr b) -> std::optional<DimExpr> {
            if (b.isConstant(1))
              return a;
            if (a.isConstant() && b.isConstant() && b.offset > 0 && a.offset >= 0)
              return DimExpr::constant(a.offset / b.offset);
            return std::nullopt;
          });
      })
      .Case<OnnxAndOp, OnnxOrOp, OnnxModOp, OnnxPowOp, OnnxMaxOp, OnnxMinOp, OnnxEqualOp,
            OnnxLessOp, OnnxLessOrEqualOp, OnnxGreaterOp, OnnxGreaterOrEqualOp, OnnxWhereOp>(
          [&](Operation *) { broadcastOperands(op->getOperands()); })
      .Case([&](OnnxMatMulOp matmul) {
        const DimList *a = dimsOf(matmul.getA()), *b = dimsOf(matmul.getB());
        if (!a || !b || a->empty() || b->empty())
          return declared(matmul.getResult());
        DimList left = *a, right = *b;
        bool vectorA = left.size() == 1, vectorB = right.size() == 1;
        if (vectorA)
          left.insert(left.begin(), DimExpr::constant(1));
        if (vectorB)
          right.push_back(DimExpr::constant(1));
        DimList batchA(left.begin(), left.end() - 2), batchB(right.begin(), right.end() - 2);
        DimList result = broadcastDims({&batchA, &batchB}, freshFn);
        if (!vectorA)
          result.push_back(left[left.size() - 2]);
        if (!vectorB)
          result.push_back(right.back());
        setDims(matmul.getResult(), result);
      })
      .Case([&](OnnxGemmOp gemm) {
        const DimList *a = dimsOf(gemm.getA()), *b = dimsOf(gemm.getB());
        if (!a || !b || a->size() != 2 || b->size() != 2)
          return declared(gemm.getResult());
        setDims(gemm.getResult(), {(*a)[gemm.getTransA() ? 1 : 0], (*b)[gemm.getTransB() ? 0 : 1]});
      })
      .Case([&](OnnxTransposeOp transpose) {
        const DimList *d = dimsOf(transpose.getData());
        if (!d)
          return declared(transpose.getResult());
        SmallVector<int64_t> perm = transpose.getPermutation();
        if (!isPermutation(perm, d->size()))
          return declared(transpose.getResult());
        DimList result;
        for (int64_t p : perm)
          result.push_back((*d)[p]);
        setDims(transpose.getResult(), result);
      })
      .Case([&](OnnxShapeOp shape) {
        const DimList *d = dimsOf(shape.getData());
        if (!d)
          return declared(shape.getResult());
        int64_t rank = d->size();
        auto clampIndex = [&](int64_t i) {
          i = normalizeAxis(i, rank);
          return std::clamp<int64_t>(i, 0, rank);
        };
        int64_t start = clampIndex(shape.getStart().value_or(0));
        int64_t end = shape.getEnd() ? clampIndex(*shape.getEnd()) : rank;
        ShapeValue elements;
        for (int64_t i = start; i < end; ++i)
          elements.push_back((*d)[i]);
        setDims(shape.getResult(), {DimExpr::constant(elements.size())});
        setShapeValue(shape.getResult(), elements);
      })
      .Case([&](OnnxGatherOp gather) {
        const DimList *data = dimsOf(gather.getData()), *indices = dimsOf(gather.getIndices());
        if (!data || !indices || data->empty())
          return declared(gather.getResult());
        std::optional<int64_t> gatherAxis = axisIn(int64_t(gather.getAxis()), data->size());
        if (!gatherAxis)
          return declared(gather.getResult());
        int64_t axis = *gatherAxis;
        DimList result(data->begin(), data->begin() + axis);
        result.append(indices->begin(), indices->end());
        result.append(data->begin() + axis + 1, data->end());
        setDims(gather.getResult(), result);
        // Picking elements of a shape vector.
        const ShapeValue *value = valueOf(gather.getData());
        std::optional<SmallVector<int64_t>> picks = getConstantInts(gather.getIndices());
        if (value && picks && data->size() == 1) {
          ShapeValue picked;
          for (int64_t index : *picks) {
            index = normalizeAxis(index, value->size());
            if (index < 0 || index >= int64_t(value->size()))
              return;
            picked.push_back((*value)[index]);
          }
          setShapeValue(gather.getResult(), picked);
        }
      })
      .Case([&](OnnxGatherElementsOp gather) { sameAsOperand(1); })
      .Case([&](OnnxScatterNDOp scatter) { sameAsOperand(0); })
      .Case([&](OnnxGatherNDOp gather) {
        const DimList *data = dimsOf(gather.getData()), *indices = dimsOf(gather.getIndices());
        if (!data || !indices || indices->empty() || gather.getBatchDims() != 0 ||
            !indices->back().isConstant() || indices->back().offset > int64_t(data->size()))
          return declared(gather.getResult());
        DimList result(indices->begin(), indices->end() - 1);
        result.append(data->begin() + indices->back().offset, data->end());
        setDims(gather.getResult(), result);
      })
      .Case([&](OnnxUnsqueezeOp unsqueeze) {
        const DimList *d = dimsOf(unsqueeze.getData());
        std::optional<SmallVector<int64_t>> axes = getConstantInts(unsqueeze.getAxes());
        if (!d || !axes)
          return declared(unsqueeze.getResult());
        int64_t rank = d->size() + axes->size();
        SmallVector<bool> inserted(rank, false);
        for (int64_t axis : *axes) {
          axis = normalizeAxis(axis, rank);
          if (axis < 0 || axis >= rank || inserted[axis])
            return declared(unsqueeze.getResult());
          inserted[axis] = true;
        }
        DimList result;
        size_t next = 0;
        for (int64_t i = 0; i < rank; ++i)
          result.push_back(inserted[i] ? DimExpr::constant(1) : (*d)[next++]);
        setDims(unsqueeze.getResult(), result);
        if (const ShapeValue *value = valueOf(unsqueeze.getData()))
          setShapeValue(unsqueeze.getResult(), *value);
      })
      .Case([&](OnnxSqueezeOp squeeze) {
        const DimList *d = dimsOf(squeeze.getData());
        if (!d)
          return declared(squeeze.getResult());
        SmallVector<bool> removed(d->size(), false);
        if (Value axesValue = squeeze.getAxes()) {
          std::optional<SmallVector<int64_t>> axes = getConstantInts(axesValue);
          if (!axes)
            return declared(squeeze.getResult());
          for (int64_t axis : *axes) {
            axis = normalizeAxis(axis, d->size());
            if (axis < 0 || axis >= int64_t(d->size()))
              return declared(squeeze.getResult());
            removed[axis] = true;
          }
        } else {
          for (auto [i, dim] : llvm::enumerate(*d)) {
            if (!dim.isConstant())
              return declared(squeeze.getResult()); // might be 1 at run time
            removed[i] = dim.isConstant(1);
          }
        }
        DimList result;
        for (auto [i, dim] : llvm::enumerate(*d))
          if (!removed[i])
            result.push_back(dim);
        setDims(squeeze.getResult(), result);
        if (const ShapeValue *value = valueOf(squeeze.getData()))
          setShapeValue(squeeze.getResult(), *value);
      })
      .Case([&](OnnxFlattenOp flatten) {
        const DimList *d = dimsOf(flatten.getInput());
        if (!d)
          return declared(flatten.getResult());
        int64_t axis = normalizeAxis(int64_t(flatten.getAxis()), d->size());
        if (axis < 0 || axis > int64_t(d->size()))
          return declared(flatten.getResult());
        Monomial outer, inner;
        for (int64_t i = 0; i < int64_t(d->size()); ++i)
          (i < axis ? outer : inner).multiply((*d)[i]);
        DimList result;
        for (Monomial *part : {&outer, &inner}) {
          std::optional<DimExpr> dim = part->divide(Monomial());
          result.push_back(dim ? *dim : fresh());
        }
        setDims(flatten.getResult(), result);
      })
      .Case([&](OnnxReshapeOp reshape) {
        const ShapeValue *target = valueOf(reshape.getShape());
        const DimList *d = dimsOf(reshape.getData());
        if (!target)
          return declared(reshape.getResult());
        DimList result;
        int64_t inferIndex = -1;
        Monomial known;
        for (auto [i, element] : llvm::enumerate(*target)) {
          if (element && element->isConstant(0) && !reshape.getAllowzero()) {
            // 0 copies the input's dim (unknown when the input's rank is, or out of range).
            result.push_back(d && i < d->size() ? (*d)[i] : fresh());
          } else if (element && element->isConstant(-1)) {
            inferIndex = i;
            result.push_back(DimExpr::constant(-1));
            continue;
          } else {
            result.push_back(element && (!element->isConstant() || element->offset >= 0)
                                 ? *element
                                 : fresh());
          }
          known.multiply(result.back());
        }
        if (inferIndex >= 0) {
          std::optional<DimExpr> inferred;
          if (d) {
            Monomial total;
            for (const DimExpr &dim : *d)
              total.multiply(dim);
            inferred = total.divide(known);
          }
          result[inferIndex] = inferred ? *inferred : fresh();
        }
        // A reshape that cannot be (element counts known to differ) keeps its declared type;
        // the executor reports it at run time.
        if (d) {
          Monomial in, out;
          for (const DimExpr &dim : *d)
            in.multiply(dim);
          for (const DimExpr &dim : result)
            out.multiply(dim);
          if (in.valid && out.valid && (in.coeff != out.coeff || in.powers != out.powers) &&
              llvm::all_of(*d, [](const DimExpr &dim) { return dim.isConstant(); }) &&
              llvm::all_of(result, [](const DimExpr &dim) { return dim.isConstant(); }))
            return declared(reshape.getResult());
        }
        setDims(reshape.getResult(), result);
        if (const ShapeValue *value = valueOf(reshape.getData());
            value && result.size() <= 1)
          setShapeValue(reshape.getResult(), *value);
      })
      .Case([&](OnnxExpandOp expand) {
        const ShapeValue *target = valueOf(expand.getShape());
        const DimList *d = dimsOf(expand.getInput());
        if (!target || !d)
          return declared(expand.getResult());
        DimList targetDims;
        for (const std::optional<DimExpr> &element : *target)
          targetDims.push_back(element && (!element->isConstant() || element->offset >= 0)
                                   ? *element
                                   : fresh());
        setDims(expand.getResult(), broadcastDims({d, &targetDims}, freshFn));
      })
      .Case([&](OnnxConstantOfShapeOp constantOfShape) {
        const ShapeValue *target = valueOf(constantOfShape.getShape());
        if (!target)
          return declared(constantOfShape.getResult());
        setDims(constantOfShape.getResult(), dimsFromShapeValue(*target));
      })
      .Case([&](OnnxConcatOp concat) {
        SmallVector<const DimList *> inputs;
        for (Value input : concat.getInputs()) {
          const DimList *d = dimsOf(input);
          if (!d || (!inputs.empty() && d->size() != inputs.front()->size()) || d->empty())
            return declared(concat.getResult());
          inputs.push_back(d);
        }
        std::optional<int64_t> concatAxis =
            axisIn(int64_t(concat.getAxis()), inputs.front()->size());
        if (!concatAxis)
          return declared(concat.getResult());
        int64_t axis = *concatAxis;
        DimList result = *inputs.front();
        std::optional<DimExpr> sum = DimExpr::constant(0);
        for (const DimList *d : inputs)
          sum = sum ? addDims(*sum, (*d)[axis]) : std::nullopt;
        result[axis] = sum ? *sum : fresh();
        setDims(concat.getResult(), result);
        ShapeValue joined;
        for (Value input : concat.getInputs()) {
          const ShapeValue *value = valueOf(input);
          if (!value)
            return;
          joined.append(value->begin(), value->end());
        }
        setShapeValue(concat.getResult(), joined);
      })
      .Case([&](OnnxSplitOp split) {
        const DimList *d = dimsOf(split.getInput());
        if (!d || d->empty()) {
          for (Value result : split.getOutputs())
            declared(result);
          return;
        }
        std::optional<int64_t> splitAxis = axisIn(int64_t(split.getAxis()), d->size());
        if (!splitAxis) {
          for (Value result : split.getOutputs())
            declared(result);
          return;
        }
        int64_t axis = *splitAxis;
        int64_t n = split.getOutputs().size();
        std::optional<SmallVector<int64_t>> sizes;
        if (Value sizesValue = split.getSplit())
          sizes = getConstantInts(sizesValue);
        else if ((*d)[axis].isConstant() && (*d)[axis].offset % n == 0)
          sizes = SmallVector<int64_t>(n, (*d)[axis].offset / n);
        // A copy: setDims below may grow `dims` and move the entry `d` points to.
        const DimList input = *d;
        for (auto [i, result] : llvm::enumerate(split.getOutputs())) {
          DimList part = input;
          part[axis] = sizes && i < sizes->size() ? DimExpr::constant((*sizes)[i]) : fresh();
          setDims(result, part);
        }
      })
      .Case([&](OnnxSliceOp slice) {
        const DimList *d = dimsOf(slice.getData());
        std::optional<SmallVector<int64_t>> starts = getConstantInts(slice.getStarts());
        const ShapeValue *ends = valueOf(slice.getEnds());
        if (!d || !starts || !ends || ends->size() != starts->size())
          return declared(slice.getResult());
        SmallVector<int64_t> axes, steps(starts->size(), 1);
        if (Value axesValue = slice.getAxes()) {
          std::optional<SmallVector<int64_t>> constantAxes = getConstantInts(axesValue);
          if (!constantAxes)
            return declared(slice.getResult());
          axes = *constantAxes;
        } else {
          for (int64_t i = 0; i < int64_t(starts->size()); ++i)
            axes.push_back(i);
        }
        if (Value stepsValue = slice.getSteps()) {
          std::optional<SmallVector<int64_t>> constantSteps = getConstantInts(stepsValue);
          if (!constantSteps)
            return declared(slice.getResult());
          steps = *constantSteps;
        }
        DimList result = *d;
        ShapeValue sliced;
        const ShapeValue *value = d->size() == 1 ? valueOf(slice.getData()) : nullptr;
        for (size_t i = 0; i < axes.size(); ++i) {
          int64_t axis = normalizeAxis(axes[i], d->size());
          if (axis < 0 || axis >= int64_t(d->size()))
            return declared(slice.getResult());
          DimExpr dim = (*d)[axis];
          int64_t start = (*starts)[i], step = steps[i];
          std::optional<DimExpr> end = (*ends)[i];
          std::optional<DimExpr> length;
          if (dim.isConstant() && end && end->isConstant()) {
            // Fully static: ONNX's clamping rules.
            int64_t n = dim.offset, s = start, e = end->offset;
            if (step > 0) {
              s = s < 0 ? std::max<int64_t>(s + n, 0) : std::min(s, n);
              e = e < 0 ? std::max<int64_t>(e + n, 0) : std::min(e, n);
              length = DimExpr::constant(std::max<int64_t>(0, (e - s + step - 1) / step));
            } else if (step < 0) {
              s = s < 0 ? std::max<int64_t>(s + n, -1) : std::min(s, n - 1);
              e = e < 0 ? std::max<int64_t>(e + n, -1) : std::min(e, n - 1);
              length = DimExpr::constant(std::max<int64_t>(0, (s - e - step - 1) / -step));
            }
            if (value && step == 1 && length)
              for (int64_t k = s; k < s + length->offset; ++k)
                sliced.push_back((*value)[k]);
          } else if (step == 1 && start >= 0 && end) {
            // Symbolic: the end is the dim itself, the dim minus a constant, or a bound at or
            // past it (clamped to it).
            std::optional<DimExpr> clampedEnd;
            if (end->isConstant() && end->offset >= kSliceToEnd)
              clampedEnd = dim;
            else if (end->isConstant() && end->offset < 0)
              clampedEnd = DimExpr{dim.symbol, dim.offset + end->offset};
            else if (!end->isConstant() && end->symbol == dim.symbol)
              clampedEnd = DimExpr{dim.symbol, std::min(end->offset, dim.offset)};
            if (clampedEnd)
              length = subDims(*clampedEnd, DimExpr::constant(start));
          }
          result[axis] = length ? *length : fresh();
        }
        setDims(slice.getResult(), result);
        if (value && !sliced.empty())
          setShapeValue(slice.getResult(), sliced);
      })
      .Case([&](OnnxRangeOp range) {
        const ShapeValue *start = valueOf(range.getStart()), *limit = valueOf(range.getLimit()),
                         *delta = valueOf(range.getDelta());
        std::optional<DimExpr> length;
        if (start && limit && delta && start->size() == 1 && limit->size() == 1 &&
            delta->size() == 1 && (*start)[0] && (*limit)[0] && (*delta)[0] &&
            (*start)[0]->isConstant() && (*delta)[0]->isConstant(1)) {
          std::optional<DimExpr> diff = subDims(*(*limit)[0], *(*start)[0]);
          if (diff && (!diff->isConstant() || diff->offset >= 0))
            length = diff;
        }
        setDims(range.getResult(), {length ? *length : fresh()});
      })
      .Case<OnnxReduceMeanOp, OnnxReduceSumOp, OnnxReduceMaxOp>([&](Operation *) {
        const DimList *d = dimsOf(op->getOperand(0));
        bool keepdims = op->getAttrOfType<IntegerAttr>("keepdims").getInt() != 0;
        bool noop = op->getAttrOfType<IntegerAttr>("noop_with_empty_axes").getInt() != 0;
        if (!d)
          return declared(op->getResult(0));
        SmallVector<bool> reduced(d->size(), false);
        if (op->getNumOperands() > 1) {
          std::optional<SmallVector<int64_t>> axes = getConstantInts(op->getOperand(1));
          if (!axes)
            return declared(op->getResult(0));
          for (int64_t axis : *axes) {
            axis = normalizeAxis(axis, d->size());
            if (axis < 0 || axis >= int64_t(d->size()))
              return declared(op->getResult(0));
            reduced[axis] = true;
          }
          if (axes->empty() && !noop)
            reduced.assign(d->size(), true);
        } else if (!noop) {
          reduced.assign(d->size(), true);
        }
        DimList result;
        for (auto [i, dim] : llvm::enumerate(*d)) {
          if (!reduced[i])
            result.push_back(dim);
          else if (keepdims)
            result.push_back(DimExpr::constant(1));
        }
        setDims(op->getResult(0), result);
      })
      .Case([&](OnnxArgMaxOp argmax) {
        const DimList *d = dimsOf(argmax.getData());
        if (!d || d->empty())
          return declared(argmax.getResult());
        std::optional<int64_t> argAxis = axisIn(int64_t(argmax.getAxis()), d->size());
        if (!argAxis)
          return declared(argmax.getResult());
        int64_t axis = *argAxis;
        DimList result = *d;
        if (argmax.getKeepdims())
          result[axis] = DimExpr::constant(1);
        else
          result.erase(result.begin() + axis);
        setDims(argmax.getResult(), result);
      })
      .Case([&](OnnxTopKOp topk) {
        const DimList *d = dimsOf(topk.getX());
        const ShapeValue *k = valueOf(topk.getK());
        if (!d || d->empty() || !k || k->size() != 1 || !(*k)[0]) {
          declared(topk.getValues());
          declared(topk.getIndices());
          return;
        }
        std::optional<int64_t> topAxis = axisIn(int64_t(topk.getAxis()), d->size());
        if (!topAxis) {
          declared(topk.getValues());
          declared(topk.getIndices());
          return;
        }
        DimList result = *d;
        result[*topAxis] = *(*k)[0];
        setDims(topk.getValues(), result);
        setDims(topk.getIndices(), result);
      })
      .Case([&](OnnxAttentionOp attention) {
        const DimList *q = dimsOf(attention.getQ()), *v = dimsOf(attention.getV());
        if (q && v && q->size() == 4 && v->size() == 4) {
          DimList result = *q;
          result[3] = (*v)[3];
          setDims(op->getResult(0), result);
        } else {
          declared(op->getResult(0));
        }
        for (Value result : op->getResults().drop_front())
          declared(result);
      })
      // Transformer ops (after kiln-raise and kiln-fuse-attention).
      .Case<RotaryOp, LayerNormOp, RMSNormOp, GeluOp, SiluOp, SwigluOp>(
          [&](Operation *) { sameAsOperand(0); })
      .Case([&](LinearOp linear) {
        const DimList *in = dimsOf(linear.getInput()), *w = dimsOf(linear.getWeight());
        if (!in || !w || in->empty() || w->size() != 2)
          return declared(linear.getResult());
        DimList result = *in;
        result.back() = (*w)[0];
        setDims(linear.getResult(), result);
      })
      .Case([&](AttentionOp attention) {
        const DimList *q = dimsOf(attention.getQuery()), *v = dimsOf(attention.getValue());
        if (!q || !v || q->size() != 4 || v->size() != 4)
          return declared(attention.getResult());
        DimList result = *q;
        result[3] = (*v)[3];
        setDims(attention.getResult(), result);
      })
      .Case([&](KVCacheAttentionOp attention) {
        // The result has the query's shape (the cache holds head_dim-sized values).
        if (const DimList *q = dimsOf(attention.getQuery()))
          setDims(attention.getOutput(), *q);
        else
          declared(attention.getOutput());
      })
      .Default([&](Operation *) {
        for (Value result : op->getResults())
          declared(result);
      });
}
