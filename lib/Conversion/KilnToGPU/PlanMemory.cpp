//===- PlanMemory.cpp - kiln-plan-memory ----------------------------------===//
//
// Every tensor of the launch plan gets a range of one device arena. Sizes are taken at the
// largest values of the dynamic dims; two tensors may share bytes when their live ranges do
// not overlap. Placement is greedy, largest first, at the lowest offset that fits between the
// already placed buffers that are live at the same time (the classic offset-assignment
// heuristic of TFLite's and XLA's memory planners).
//
//===----------------------------------------------------------------------===//

#include "kiln/Conversion/KilnToGPU/HostPlan.h"
#include "kiln/Conversion/Passes.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace kiln {
#define GEN_PASS_DEF_KILNPLANMEMORYPASS
#include "kiln/Conversion/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;
using namespace kiln::gpu_codegen;

namespace {

constexpr int64_t kAlignment = 256;

struct PlannedBuffer {
  Value root;
  int64_t bytes = 0;
  int64_t firstUse = 0; // op position of the definition
  int64_t lastUse = 0;  // op position of the last reader
  int64_t offset = -1;
};

struct KilnPlanMemoryPass : public kiln::impl::KilnPlanMemoryPassBase<KilnPlanMemoryPass> {
  void runOnOperation() override {
    for (auto function : getOperation().getOps<func::FuncOp>())
      if (function->hasAttr("kiln.dim_bounds") && failed(plan(function)))
        return signalPassFailure();
  }

  LogicalResult plan(func::FuncOp function) {
    FailureOr<PlanSymbols> symbols = collectPlanSymbols(function);
    if (failed(symbols))
      return failure();
    std::vector<int64_t> maxima = symbols->maxValues();

    Block &body = function.getBody().front();
    llvm::DenseMap<Operation *, int64_t> position;
    int64_t end = 0;
    for (Operation &op : body)
      position[&op] = ++end;

    std::vector<PlannedBuffer> buffers;
    llvm::DenseMap<Value, size_t> bufferOf;
    // The symbol values a buffer is sized over: sizes need not grow with the symbols (a Slice
    // of the last 3 of `s` elements is empty at the bound), so with one symbol every value up
    // to its bound is tried; otherwise each symbol at 1 and at its bound, the others at theirs.
    std::vector<std::vector<int64_t>> samples;
    if (maxima.size() == 1 && maxima[0] <= (1 << 16)) {
      for (int64_t value = 1; value <= maxima[0]; ++value)
        samples.push_back({value});
    } else {
      samples.push_back(maxima);
      for (size_t i = 0; i < maxima.size(); ++i) {
        std::vector<int64_t> low = maxima;
        low[i] = 1;
        samples.push_back(low);
      }
    }
    auto addBuffer = [&](Value root, int64_t first) -> LogicalResult {
      FailureOr<std::vector<kilnrt::Expr>> dims = buildTensorDims(root, *symbols);
      if (failed(dims))
        return failure();
      auto type = cast<RankedTensorType>(root.getType());
      int64_t bytes = 0;
      for (const std::vector<int64_t> &sample : samples) {
        int64_t size = getStorageElementBytes(type.getElementType());
        for (const kilnrt::Expr &dim : *dims) {
          int64_t value;
          std::string error;
          if (!dim.evaluate(sample, value, error))
            return emitError(root.getLoc()) << "cannot size a buffer at the dims' bounds: "
                                            << error;
          if (__builtin_mul_overflow(size, std::max<int64_t>(value, 0), &size))
            return emitError(root.getLoc())
                   << "a buffer of type " << type << " overflows 64 bits at the dims' bounds "
                   << "(lower --max-dim / --dim-max)";
        }
        bytes = std::max(bytes, size);
      }
      bufferOf[root] = buffers.size();
      buffers.push_back({root, std::max<int64_t>(bytes, 1), first, first, -1});
      return success();
    };
    // A KV cache argument is the runtime's own allocation, not arena; a result computed in
    // place of an input (`tied`) shares that input's buffer.
    auto isCache = [&](BlockArgument argument) {
      return function.getArgAttr(argument.getArgNumber(), "kiln.kv_cache") != nullptr;
    };
    for (BlockArgument argument : function.getArguments())
      if (!isCache(argument) && failed(addBuffer(argument, 0)))
        return failure();
    for (Operation &op : body)
      if (auto launch = dyn_cast<LaunchOp>(op))
        for (auto [i, result] : llvm::enumerate(launch.getResults()))
          if (!launch.getTiedInput(i) && failed(addBuffer(result, position[&op])))
            return failure();

    // Live ranges: a buffer lives until the last op reading it or any view of it.
    for (Operation &op : body) {
      bool isReturn = op.hasTrait<OpTrait::ReturnLike>();
      for (Value operand : op.getOperands()) {
        if (!isa<RankedTensorType>(operand.getType()))
          continue;
        auto it = bufferOf.find(getBufferRoot(operand));
        if (it == bufferOf.end())
          continue; // a constant: weights, not arena
        PlannedBuffer &buffer = buffers[it->second];
        buffer.lastUse = std::max(buffer.lastUse, isReturn ? end + 1 : position[&op]);
      }
    }
    // Inputs are written before the first launch and may be read again by any later run's
    // plan step; keep them for the whole run.
    for (BlockArgument argument : function.getArguments())
      if (!isCache(argument))
        buffers[bufferOf[argument]].lastUse = end + 1;

    std::vector<size_t> order(buffers.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return buffers[a].bytes > buffers[b].bytes;
    });
    int64_t arenaSize = 0;
    std::vector<size_t> placed;
    for (size_t index : order) {
      PlannedBuffer &buffer = buffers[index];
      std::vector<std::pair<int64_t, int64_t>> taken;
      for (size_t other : placed) {
        const PlannedBuffer &o = buffers[other];
        if (o.firstUse <= buffer.lastUse && buffer.firstUse <= o.lastUse)
          taken.push_back({o.offset, o.offset + o.bytes});
      }
      llvm::sort(taken);
      int64_t offset = 0;
      for (auto [begin, finish] : taken) {
        if (offset + buffer.bytes <= begin)
          break;
        offset = std::max<int64_t>(offset, llvm::alignTo(finish, kAlignment));
      }
      buffer.offset = offset;
      arenaSize = std::max(arenaSize, offset + buffer.bytes);
      placed.push_back(index);
    }

    OpBuilder builder(function.getContext());
    for (BlockArgument argument : function.getArguments()) {
      if (isCache(argument))
        continue;
      const PlannedBuffer &buffer = buffers[bufferOf[argument]];
      function.setArgAttr(argument.getArgNumber(), "kiln.arena_offset",
                          builder.getI64IntegerAttr(buffer.offset));
      function.setArgAttr(argument.getArgNumber(), "kiln.arena_bytes",
                          builder.getI64IntegerAttr(buffer.bytes));
    }
    for (Operation &op : body) {
      auto launch = dyn_cast<LaunchOp>(op);
      if (!launch)
        continue;
      SmallVector<int64_t> offsets, sizes;
      for (Value result : launch.getResults()) {
        // -1: in place of a buffer outside the arena (the KV cache).
        auto it = bufferOf.find(getBufferRoot(result));
        offsets.push_back(it == bufferOf.end() ? -1 : buffers[it->second].offset);
        sizes.push_back(it == bufferOf.end() ? -1 : buffers[it->second].bytes);
      }
      launch->setAttr("kiln.arena_offsets", builder.getDenseI64ArrayAttr(offsets));
      launch->setAttr("kiln.arena_bytes", builder.getDenseI64ArrayAttr(sizes));
    }
    function->setAttr("kiln.arena_size",
                      builder.getI64IntegerAttr(static_cast<int64_t>(llvm::alignTo(arenaSize, kAlignment))));
    return success();
  }
};

} // namespace
