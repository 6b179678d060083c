//===- HostPlan.cpp - reading the host launch plan ------------------------===//

#include "kiln/Conversion/KilnToGPU/HostPlan.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using kilnrt::Expr;

namespace kiln::gpu_codegen {

std::vector<int64_t> PlanSymbols::maxValues() const {
  std::vector<int64_t> values;
  for (const PlanSymbol &symbol : symbols)
    values.push_back(symbol.maxValue);
  return values;
}

std::vector<std::string> PlanSymbols::names() const {
  std::vector<std::string> result;
  for (const PlanSymbol &symbol : symbols)
    result.push_back(symbol.name);
  return result;
}

FailureOr<PlanSymbols> collectPlanSymbols(func::FuncOp function) {
  PlanSymbols result;
  auto bounds = function->getAttrOfType<DictionaryAttr>("kiln.dim_bounds");
  llvm::StringMap<unsigned> byName;
  for (BlockArgument argument : function.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(argument.getType());
    if (!type)
      return function.emitError() << "argument " << argument.getArgNumber()
                                  << " of the launch plan is not a ranked tensor";
    auto names = function.getArgAttrOfType<ArrayAttr>(argument.getArgNumber(),
                                                      "kiln.dim_params");
    for (auto [dim, size] : llvm::enumerate(type.getShape())) {
      if (!ShapedType::isDynamic(size))
        continue;
      StringAttr name;
      if (names && dim < names.size())
        name = dyn_cast<StringAttr>(names[dim]);
      if (!name || name.getValue().empty())
        return function.emitError() << "dynamic dim " << dim << " of argument "
                                    << argument.getArgNumber()
                                    << " has no name in kiln.dim_params (run kiln-lower-to-gpu)";
      auto [it, inserted] = byName.try_emplace(name.getValue(), result.symbols.size());
      if (inserted) {
        auto bound = bounds ? bounds.getAs<IntegerAttr>(name.getValue()) : IntegerAttr();
        if (!bound)
          return function.emitError() << "dynamic dim '" << name.getValue()
                                      << "' has no bound in kiln.dim_bounds";
        result.symbols.push_back(
            {name.str(), argument.getArgNumber(), static_cast<unsigned>(dim), bound.getInt()});
      }
      result.byArgumentDim[{argument.getArgNumber(), static_cast<unsigned>(dim)}] = it->second;
    }
  }
  return result;
}

FailureOr<Expr> buildHostExpr(Value value, const PlanSymbols &symbols, Operation *user) {
  if (auto constant = value.getDefiningOp<arith::ConstantOp>())
    if (auto integer = dyn_cast<IntegerAttr>(constant.getValue()))
      return Expr::constant(integer.getInt());
  if (auto dim = value.getDefiningOp<tensor::DimOp>()) {
    std::optional<int64_t> index = dim.getConstantIndex();
    auto argument = dyn_cast<BlockArgument>(dim.getSource());
    if (index && argument) {
      auto type = cast<RankedTensorType>(argument.getType());
      if (*index < 0 || *index >= type.getRank()) {
        dim.emitError() << "dim " << *index << " of a rank-" << type.getRank() << " argument";
        return failure();
      }
      if (!type.isDynamicDim(*index))
        return Expr::constant(type.getDimSize(*index));
      auto it = symbols.byArgumentDim.find(
          {argument.getArgNumber(), static_cast<unsigned>(*index)});
      if (it != symbols.byArgumentDim.end())
        return Expr::symbol(it->second);
    }
  }
  if (auto cast = value.getDefiningOp<arith::IndexCastOp>())
    return buildHostExpr(cast.getIn(), symbols, user);
  Operation *op = value.getDefiningOp();
  std::optional<Expr::Op> binary;
  if (op) {
    binary = llvm::TypeSwitch<Operation *, std::optional<Expr::Op>>(op)
                 .Case<arith::AddIOp>([](auto) { return Expr::Op::Add; })
                 .Case<arith::SubIOp>([](auto) { return Expr::Op::Sub; })
                 .Case<arith::MulIOp>([](auto) { return Expr::Op::Mul; })
                 .Case<arith::DivUIOp, arith::FloorDivSIOp>([](auto) { return Expr::Op::FloorDiv; })
                 .Case<arith::CeilDivUIOp, arith::CeilDivSIOp>([](auto) { return Expr::Op::CeilDiv; })
                 .Case<arith::RemUIOp>([](auto) { return Expr::Op::Rem; })
                 .Case<arith::MinUIOp, arith::MinSIOp>([](auto) { return Expr::Op::Min; })
                 .Case<arith::MaxUIOp, arith::MaxSIOp>([](auto) { return Expr::Op::Max; })
                 .Default([](Operation *) { return std::nullopt; });
  }
  if (!binary) {
    user->emitError() << "the launch plan computes an index with "
                      << (op ? op->getName().getStringRef() : StringRef("a block argument"))
                      << ", which the runtime cannot evaluate";
    return failure();
  }
  FailureOr<Expr> lhs = buildHostExpr(op->getOperand(0), symbols, user);
  if (failed(lhs))
    return failure();
  FailureOr<Expr> rhs = buildHostExpr(op->getOperand(1), symbols, user);
  if (failed(rhs))
    return failure();
  return Expr::binary(*binary, *lhs, *rhs);
}

FailureOr<std::vector<Expr>> buildTensorDims(Value value, const PlanSymbols &symbols) {
  auto type = cast<RankedTensorType>(value.getType());
  std::vector<Expr> result;
  ValueRange dynamic;
  Operation *user = value.getDefiningOp();
  if (auto launch = value.getDefiningOp<LaunchOp>())
    dynamic = launch.getDynamicDims(cast<OpResult>(value).getResultNumber());
  else if (auto view = value.getDefiningOp<ViewOp>())
    dynamic = view.getDims();
  else if (auto castOp = value.getDefiningOp<tensor::CastOp>()) {
    FailureOr<std::vector<Expr>> source = buildTensorDims(castOp.getSource(), symbols);
    if (failed(source))
      return failure();
    return source;
  }
  unsigned next = 0;
  for (auto [dim, size] : llvm::enumerate(type.getShape())) {
    if (!ShapedType::isDynamic(size)) {
      result.push_back(Expr::constant(size));
      continue;
    }
    if (auto argument = dyn_cast<BlockArgument>(value)) {
      auto it = symbols.byArgumentDim.find(
          {argument.getArgNumber(), static_cast<unsigned>(dim)});
      if (it == symbols.byArgumentDim.end()) {
        emitError(value.getLoc()) << "argument dim " << dim << " is not a plan symbol";
        return failure();
      }
      result.push_back(Expr::symbol(it->second));
      continue;
    }
    if (!user || next >= dynamic.size()) {
      emitError(value.getLoc()) << "cannot tell the dynamic dims of a tensor of the plan";
      return failure();
    }
    FailureOr<Expr> expr = buildHostExpr(dynamic[next++], symbols, user);
    if (failed(expr))
      return failure();
    result.push_back(*expr);
  }
  return result;
}

Value getBufferRoot(Value value) {
  while (true) {
    if (auto view = value.getDefiningOp<ViewOp>())
      value = view.getSource();
    else if (auto castOp = value.getDefiningOp<tensor::CastOp>())
      value = castOp.getSource();
    else if (auto launch = value.getDefiningOp<LaunchOp>();
             launch && launch.getTiedInput(cast<OpResult>(value).getResultNumber()))
      value = launch.getTiedInput(cast<OpResult>(value).getResultNumber());
    else
      return value;
  }
}

int64_t getStorageElementBytes(Type elementType) {
  // kiln-lower-to-gpu only admits int and float element types; be safe for any other.
  if (!elementType.isIntOrFloat())
    return 8;
  return std::max<int64_t>(1, (elementType.getIntOrFloatBitWidth() + 7) / 8);
}

} // namespace kiln::gpu_codegen
