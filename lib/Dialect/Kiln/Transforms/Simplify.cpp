//===- Simplify.cpp - shape inference, shape folding, canonicalization ----===//
//
// Rounds of: infer shapes (SymbolicShapes), refine result types, replace known shape vectors
// and all-constant ops with constants, canonicalize. A round that changes nothing ends the pass.
// All-constant ops are evaluated by the CPU reference executor's kernels, so every op's
// semantics are written once, and what the folder computes is what the oracle computes.
//
//===----------------------------------------------------------------------===//

#include "ConstantValues.h"
#include "SymbolicShapes.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"
#include "kiln/Executor/CpuExecutor.h"
#include "kiln/Executor/TensorAttr.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln {
#define GEN_PASS_DEF_KILNSIMPLIFYPASS
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// Operands larger than this (in elements, all operands together) are not folded: evaluating a
/// product of two weights at compile time is not shape arithmetic.
constexpr int64_t kMaxFoldOperandElements = int64_t(1) << 24;
/// Rounds before the pass gives up converging (each round folds at least one op).
constexpr int kMaxRounds = 16;

std::optional<int64_t> staticElementCount(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked || !ranked.hasStaticShape())
    return std::nullopt;
  return ranked.getNumElements();
}

/// Whether `refined` keeps everything `current` says and knows more.
bool isRefinement(Type current, Type refined) {
  if (current == refined)
    return false;
  auto refinedTensor = dyn_cast<RankedTensorType>(refined);
  auto currentTensor = dyn_cast<TensorType>(current);
  if (!refinedTensor || !currentTensor ||
      refinedTensor.getElementType() != currentTensor.getElementType())
    return false;
  auto currentRanked = dyn_cast<RankedTensorType>(current);
  if (!currentRanked)
    return true;
  if (currentRanked.getRank() != refinedTensor.getRank())
    return false;
  for (auto [c, r] : llvm::zip_equal(currentRanked.getShape(), refinedTensor.getShape()))
    if (!ShapedType::isDynamic(c) && c != r)
      return false;
  return true;
}

/// A name for a folded constant's blob: the folded op's ONNX node name when it has one.
std::string blobNameFor(Operation *op) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str() + ".folded";
  return "folded";
}

class Simplifier {
public:
  Simplifier(func::FuncOp function, int64_t foldLimit)
      : function(function), foldLimit(foldLimit) {}

  /// One round; returns whether anything changed.
  bool runRound() {
    SymbolicShapes shapes(function);
    bool changed = refineTypes(shapes);
    changed |= foldConstants(shapes);
    return changed;
  }

private:
  bool refineTypes(const SymbolicShapes &shapes) {
    SmallVector<std::pair<OpResult, Type>> refinedResults; // and their previous types
    function.walk([&](Operation *op) {
      if (op->getNumRegions() != 0 || !isa<KilnDialect>(op->getDialect()))
        return;
      for (OpResult result : op->getResults()) {
        Type refined = shapes.getRefinedType(result);
        if (isRefinement(result.getType(), refined)) {
          refinedResults.push_back({result, result.getType()});
          result.setType(refined);
        }
      }
    });
    // A known type can expose an op that only its unranked operand kept past the verifier (an
    // out-of-range axis): such a value keeps its old type, and the op fails at run time, where
    // the executor reports it, instead of here.
    {
      ScopedDiagnosticHandler silence(function.getContext(), [](Diagnostic &) { return success(); });
      for (auto &[result, previous] : refinedResults) {
        bool usersVerify = llvm::all_of(result.getUsers(), [](Operation *user) {
          return isa<func::ReturnOp>(user) || succeeded(verify(user, /*verifyRecursively=*/false));
        });
        if (!usersVerify || failed(verify(result.getOwner(), /*verifyRecursively=*/false)))
          result.setType(previous);
      }
    }
    bool changed = llvm::any_of(refinedResults, [](const auto &entry) {
      return entry.first.getType() != entry.second;
    });
    // The signature follows its return values (the dims stay named by kiln.dim_params).
    auto returnOp = cast<func::ReturnOp>(function.getBody().front().getTerminator());
    SmallVector<Type> resultTypes(returnOp.getOperandTypes());
    if (resultTypes != SmallVector<Type>(function.getResultTypes())) {
      function.setType(FunctionType::get(function.getContext(),
                                         function.getArgumentTypes(), resultTypes));
      changed = true;
    }
    return changed;
  }

  bool foldConstants(const SymbolicShapes &shapes) {
    bool changed = false;
    SmallVector<Operation *> ops;
    for (Operation &op : function.getBody().front())
      ops.push_back(&op);
    for (Operation *op : ops) {
      if (isa<ConstantOp>(op) || op->getNumRegions() != 0 || op->getNumResults() == 0 ||
          !isa<KilnDialect>(op->getDialect()) || op->use_empty())
        continue;
      if (foldShapeValue(op, shapes) || foldByEvaluation(op))
        changed = true;
    }
    return changed;
  }

  /// A shape vector whose elements are all known constants becomes a constant.
  bool foldShapeValue(Operation *op, const SymbolicShapes &shapes) {
    if (op->getNumResults() != 1)
      return false;
    Value result = op->getResult(0);
    auto type = dyn_cast<RankedTensorType>(result.getType());
    const ShapeValue *value = shapes.getShapeValue(result);
    if (!type || !type.hasStaticShape() || !value || type.getRank() > 1 ||
        type.getNumElements() != int64_t(value->size()))
      return false;
    std::optional<exec::DType> dtype = exec::getDTypeOf(type.getElementType());
    if (!dtype || !exec::isSignedInteger(*dtype))
      return false;
    exec::Tensor tensor = exec::Tensor::zeros(*dtype, type.getShape());
    for (auto [i, element] : llvm::enumerate(*value)) {
      if (!element || !element->isConstant())
        return false;
      tensor.setInt(i, element->offset);
    }
    replaceWithConstants(op, {tensor});
    return true;
  }

  /// An op whose operands are all constants is evaluated by its executor kernel.
  bool foldByEvaluation(Operation *op) {
    SmallVector<exec::Tensor> operands;
    int64_t operandElements = 0;
    for (Value operand : op->getOperands()) {
      std::optional<int64_t> count = staticElementCount(operand.getType());
      if (!count || !operand.getDefiningOp<ConstantOp>())
        return false;
      operandElements += *count;
      if (operandElements > kMaxFoldOperandElements)
        return false;
    }
    for (Value result : op->getResults()) {
      std::optional<int64_t> count = staticElementCount(result.getType());
      if (!count || *count > foldLimit)
        return false;
    }
    for (Value operand : op->getOperands()) {
      std::optional<exec::Tensor> tensor = getConstantTensor(operand);
      if (!tensor)
        return false;
      operands.push_back(std::move(*tensor));
    }
    // A kernel that rejects its operands (an out-of-range index, say) leaves the op for run
    // time, where the same error is reported with the real inputs; folding stays silent.
    FailureOr<SmallVector<exec::Tensor>> results = failure();
    {
      ScopedDiagnosticHandler silence(op->getContext(), [](Diagnostic &) { return success(); });
      results = exec::evaluateOp(op, operands);
    }
    if (failed(results))
      return false;
    replaceWithConstants(op, *results);
    return true;
  }

  void replaceWithConstants(Operation *op, ArrayRef<exec::Tensor> values) {
    OpBuilder builder(op);
    for (auto [result, tensor] : llvm::zip_equal(op->getResults(), values)) {
      ConstantOp constant = createConstant(builder, op->getLoc(), tensor, blobNameFor(op));
      result.replaceAllUsesWith(constant.getResult());
    }
    op->erase();
  }

  func::FuncOp function;
  int64_t foldLimit;
};

struct KilnSimplifyPass : public kiln::impl::KilnSimplifyPassBase<KilnSimplifyPass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *context) override {
    RewritePatternSet patterns(context);
    for (RegisteredOperationName name : context->getRegisteredOperations())
      if (name.getDialectNamespace() == KilnDialect::getDialectNamespace())
        name.getCanonicalizationPatterns(patterns, context);
    canonicalization = FrozenRewritePatternSet(std::move(patterns));
    return success();
  }

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    if (function.isExternal())
      return;
    Simplifier simplifier(function, foldLimit);
    for (int round = 0; round < kMaxRounds; ++round) {
      bool changed = simplifier.runRound();
      bool canonicalized = false;
      if (failed(applyPatternsGreedily(function, canonicalization,
                                       GreedyRewriteConfig(), &canonicalized)))
        return signalPassFailure();
      if (!changed && !canonicalized)
        break;
    }
  }

  FrozenRewritePatternSet canonicalization;
};

} // namespace
