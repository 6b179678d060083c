//===- OnnxResultTypes.cpp - Result types of imported ONNX nodes ----------===//

#include "OnnxResultTypes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace kiln::importer {

static bool isOneOf(StringRef opType, std::initializer_list<StringRef> names) {
  return llvm::is_contained(names, opType);
}

bool resultTypeIsOperandType(StringRef opType) {
  return isOneOf(opType, {"Trilu", "ScatterND", "RotaryEmbedding"});
}

/// Ops whose (first) result has the shape and element type of their first operand.
static bool keepsOperandType(StringRef opType) {
  return isOneOf(opType, {"Sqrt", "Reciprocal", "Tanh", "Erf", "Sigmoid", "Cos", "Sin", "Exp",
                          "Log", "Relu", "Abs", "Neg", "Not", "Identity", "Softmax", "Clip",
                          "CumSum", "Dropout", "LayerNormalization", "RMSNormalization",
                          "Trilu", "ScatterND", "RotaryEmbedding"});
}

static bool isBroadcastingOp(StringRef opType) {
  return isOneOf(opType, {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "And", "Or", "Max", "Min",
                          "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Where"});
}

static bool producesBool(StringRef opType) {
  return isOneOf(opType, {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And",
                          "Or", "Not", "IsNaN"});
}

static std::string formatShape(ShapedType type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

/// numpy multidirectional broadcasting of ranked shapes; dynamic dims broadcast to dynamic
/// unless the other side pins them.
static bool broadcastShapes(ArrayRef<ShapedType> types, SmallVectorImpl<int64_t> &shape,
                            std::string &error) {
  size_t rank = 0;
  for (ShapedType type : types)
    rank = std::max<size_t>(rank, type.getRank());
  shape.assign(rank, 1);
  SmallVector<bool> anyDynamic(rank, false);
  for (ShapedType type : types) {
    size_t offset = rank - type.getRank();
    for (auto [i, dim] : llvm::enumerate(type.getShape())) {
      int64_t &out = shape[offset + i];
      if (ShapedType::isDynamic(dim)) {
        anyDynamic[offset + i] = true;
        continue;
      }
      if (dim == 1)
        continue;
      if (out != 1 && out != dim) {
        error = "inconsistent shapes: the inputs";
        for (ShapedType t : types)
          error += " " + formatShape(t);
        error += " do not broadcast (dim " + std::to_string(offset + i) + ": " +
                 std::to_string(out) + " vs " + std::to_string(dim) + ")";
        return false;
      }
      out = dim;
    }
  }
  for (size_t i = 0; i < rank; ++i)
    if (anyDynamic[i] && shape[i] == 1)
      shape[i] = ShapedType::kDynamic;
  return true;
}

static Type withShapeOf(Type shapeSource, Type elementType) {
  if (auto ranked = dyn_cast_or_null<RankedTensorType>(shapeSource))
    return RankedTensorType::get(ranked.getShape(), elementType);
  return UnrankedTensorType::get(elementType);
}

static Type unranked(Type elementType) { return UnrankedTensorType::get(elementType); }

static int64_t getIntAttr(const NamedAttrList &attributes, StringRef name, int64_t fallback) {
  if (auto attr = dyn_cast_or_null<IntegerAttr>(attributes.get(name)))
    return attr.getInt();
  return fallback;
}

static Type inferMatMul(RankedTensorType a, RankedTensorType b, std::string &error) {
  if (a.getRank() < 1 || b.getRank() < 1)
    return nullptr;
  SmallVector<int64_t> aShape(a.getShape()), bShape(b.getShape());
  bool vectorA = aShape.size() == 1, vectorB = bShape.size() == 1;
  if (vectorA)
    aShape.insert(aShape.begin(), 1);
  if (vectorB)
    bShape.push_back(1);
  auto batchA = RankedTensorType::get(ArrayRef(aShape).drop_back(2), a.getElementType());
  auto batchB = RankedTensorType::get(ArrayRef(bShape).drop_back(2), b.getElementType());
  SmallVector<int64_t> shape;
  if (!broadcastShapes({batchA, batchB}, shape, error))
    return nullptr;
  if (!vectorA)
    shape.push_back(aShape[aShape.size() - 2]);
  if (!vectorB)
    shape.push_back(bShape.back());
  return RankedTensorType::get(shape, a.getElementType());
}

bool inferResultTypes(MLIRContext *context, StringRef opType, ArrayRef<Value> operands,
                      const NamedAttrList &attributes, unsigned numResults,
                      SmallVectorImpl<Type> &resultTypes, std::string &error) {
  Builder b(context);
  auto operandType = [&](unsigned i) -> Type {
    return i < operands.size() && operands[i] ? operands[i].getType() : Type();
  };
  auto elementTypeOf = [&](unsigned i) -> Type {
    Type type = operandType(i);
    return type ? cast<ShapedType>(type).getElementType() : Type();
  };
  Type first = operandType(0);
  Type elementType = first ? elementTypeOf(0) : b.getF32Type();
  // Missing operands and attributes (a Where with one input, a Cast without `to`) keep the
  // defaults here; the op's verifier reports them.
  if (opType == "Where" && operandType(1))
    elementType = elementTypeOf(1);
  else if (opType == "Cast" && isa_and_present<TypeAttr>(attributes.get("to")))
    elementType = cast<TypeAttr>(attributes.get("to")).getValue();
  else if (opType == "ConstantOfShape") {
    auto value = dyn_cast_or_null<ElementsAttr>(attributes.get("value"));
    elementType = value ? value.getElementType() : b.getF32Type();
  } else if (producesBool(opType))
    elementType = b.getI1Type();
  else if (isOneOf(opType, {"Shape", "Size", "ArgMax"}))
    elementType = b.getI64Type();

  // Default: the element type, unranked; refined below.
  resultTypes.assign(numResults, unranked(elementType));
  if (numResults == 0)
    return true;

  if (keepsOperandType(opType) && first) {
    resultTypes[0] = withShapeOf(first, elementType);
  } else if (opType == "IsNaN" || opType == "Cast") {
    resultTypes[0] = withShapeOf(first, elementType);
  } else if (isBroadcastingOp(opType)) {
    SmallVector<ShapedType> types;
    for (Value operand : operands)
      if (operand)
        types.push_back(cast<ShapedType>(operand.getType()));
    bool allRanked = llvm::all_of(types, [](ShapedType t) { return t.hasRank(); });
    if (allRanked && !types.empty()) {
      SmallVector<int64_t> shape;
      if (!broadcastShapes(types, shape, error))
        return false;
      resultTypes[0] = RankedTensorType::get(shape, elementType);
    }
  } else if (opType == "MatMul") {
    auto a = dyn_cast_or_null<RankedTensorType>(operandType(0));
    auto bType = dyn_cast_or_null<RankedTensorType>(operandType(1));
    if (a && bType) {
      Type type = inferMatMul(a, bType, error);
      if (!error.empty())
        return false;
      if (type)
        resultTypes[0] = type;
    }
  } else if (opType == "Gemm") {
    auto a = dyn_cast_or_null<RankedTensorType>(operandType(0));
    auto bType = dyn_cast_or_null<RankedTensorType>(operandType(1));
    if (a && bType && a.getRank() == 2 && bType.getRank() == 2) {
      int64_t m = a.getDimSize(getIntAttr(attributes, "transA", 0) ? 1 : 0);
      int64_t n = bType.getDimSize(getIntAttr(attributes, "transB", 0) ? 0 : 1);
      resultTypes[0] = RankedTensorType::get({m, n}, elementType);
    }
  } else if (opType == "Transpose") {
    if (auto ranked = dyn_cast_or_null<RankedTensorType>(first)) {
      SmallVector<int64_t> perm;
      if (auto permAttr = dyn_cast_or_null<DenseI64ArrayAttr>(attributes.get("perm")))
        perm.assign(permAttr.asArrayRef().begin(), permAttr.asArrayRef().end());
      else
        for (int64_t i = ranked.getRank() - 1; i >= 0; --i)
          perm.push_back(i);
      // A bad perm is reported by the op's verifier; keep the type unranked then.
      SmallVector<int64_t> shape;
      for (int64_t p : perm)
        if (p >= 0 && p < ranked.getRank())
          shape.push_back(ranked.getDimSize(p));
      if (shape.size() == static_cast<size_t>(ranked.getRank()))
        resultTypes[0] = RankedTensorType::get(shape, elementType);
    }
  } else if (opType == "Size") {
    resultTypes[0] = RankedTensorType::get({}, elementType);
  } else if (opType == "Shape") {
    if (auto ranked = dyn_cast_or_null<RankedTensorType>(first)) {
      int64_t rank = ranked.getRank();
      int64_t start = getIntAttr(attributes, "start", 0), end = getIntAttr(attributes, "end", rank);
      if (start < 0)
        start += rank;
      if (end < 0)
        end += rank;
      start = std::clamp<int64_t>(start, 0, rank);
      end = std::clamp<int64_t>(end, 0, rank);
      resultTypes[0] = RankedTensorType::get({std::max<int64_t>(end - start, 0)}, elementType);
    }
  } else if (opType == "Gather") {
    auto data = dyn_cast_or_null<RankedTensorType>(first);
    auto indices = dyn_cast_or_null<RankedTensorType>(operandType(1));
    int64_t axis = getIntAttr(attributes, "axis", 0);
    if (data && indices && data.getRank() > 0) {
      if (axis < 0)
        axis += data.getRank();
      if (axis >= 0 && axis < data.getRank()) {
        SmallVector<int64_t> shape(data.getShape().take_front(axis));
        llvm::append_range(shape, indices.getShape());
        llvm::append_range(shape, data.getShape().drop_front(axis + 1));
        resultTypes[0] = RankedTensorType::get(shape, elementType);
      }
    }
  } else if (opType == "Concat") {
    SmallVector<RankedTensorType> inputs;
    for (Value operand : operands)
      if (auto ranked = dyn_cast<RankedTensorType>(operand.getType()))
        inputs.push_back(ranked);
    if (!inputs.empty() && inputs.size() == operands.size()) {
      int64_t rank = inputs.front().getRank();
      int64_t axis = getIntAttr(attributes, "axis", 0);
      if (axis < 0)
        axis += rank;
      bool sameRank = llvm::all_of(inputs, [&](auto t) { return t.getRank() == rank; });
      if (sameRank && axis >= 0 && axis < rank) {
        SmallVector<int64_t> shape(inputs.front().getShape());
        shape[axis] = 0;
        for (RankedTensorType input : inputs) {
          int64_t dim = input.getDimSize(axis);
          if (ShapedType::isDynamic(dim) || ShapedType::isDynamic(shape[axis])) {
            shape[axis] = ShapedType::kDynamic;
          } else if (llvm::AddOverflow(shape[axis], dim, shape[axis])) {
            error = "inconsistent shapes: the concatenated dim " + std::to_string(axis) +
                    " has more than 2^63 elements";
            return false;
          }
          for (int64_t d = 0; d < rank; ++d)
            if (d != axis && ShapedType::isDynamic(shape[d]))
              shape[d] = input.getDimSize(d);
        }
        resultTypes[0] = RankedTensorType::get(shape, elementType);
      }
    }
  } else if (opType == "Flatten") {
    if (auto ranked = dyn_cast_or_null<RankedTensorType>(first)) {
      int64_t axis = getIntAttr(attributes, "axis", 1);
      if (axis < 0)
        axis += ranked.getRank();
      if (axis >= 0 && axis <= ranked.getRank()) {
        // Dims with a 0 elsewhere can multiply past int64 (checkFitsInMemory only bounds the
        // product of all dims).
        bool overflow = false;
        auto product = [&](ArrayRef<int64_t> dims) {
          int64_t total = 1;
          for (int64_t dim : dims) {
            if (ShapedType::isDynamic(dim))
              return ShapedType::kDynamic;
            overflow |= llvm::MulOverflow(total, dim, total);
          }
          return total;
        };
        int64_t outer = product(ranked.getShape().take_front(axis));
        int64_t inner = product(ranked.getShape().drop_front(axis));
        if (overflow) {
          error = "inconsistent shapes: a flattened dim has more than 2^63 elements";
          return false;
        }
        resultTypes[0] = RankedTensorType::get({outer, inner}, elementType);
      }
    }
  }

  // Secondary results.
  if (opType == "TopK" && numResults > 1)
    resultTypes[1] = withShapeOf(resultTypes[0], b.getI64Type());
  if (opType == "LayerNormalization") {
    // Mean and InvStdDev: float32 (stash_type 1), the normalised dims set to 1.
    Type statsType = unranked(b.getF32Type());
    auto ranked = dyn_cast_or_null<RankedTensorType>(first);
    int64_t axis = getIntAttr(attributes, "axis", -1);
    if (ranked && axis < 0)
      axis += ranked.getRank();
    if (ranked && axis >= 0 && axis < ranked.getRank()) {
      SmallVector<int64_t> shape(ranked.getShape());
      std::fill(shape.begin() + axis, shape.end(), 1);
      statsType = RankedTensorType::get(shape, b.getF32Type());
    }
    for (unsigned i = 1; i < numResults; ++i)
      resultTypes[i] = statsType;
  }
  if (opType == "Dropout" && numResults > 1)
    resultTypes[1] = withShapeOf(resultTypes[0], b.getI1Type());
  if (opType == "Attention") {
    for (unsigned i = 1; i < numResults; ++i)
      resultTypes[i] = unranked(i <= 2 && operandType(i) ? elementTypeOf(i) : elementType);
  }
  return true;
}

} // namespace kiln::importer
