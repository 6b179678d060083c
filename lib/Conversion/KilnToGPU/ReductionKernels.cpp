//===- ReductionKernels.cpp - reductions, ArgMax, TopK, Softmax -----------===//
//
// Kernel templates of the ops that reduce or rank along axes, with the CPU executor's
// semantics (lib/Executor/ReductionKernels.cpp): floats accumulate in f32 (f64 for f64 data),
// integers in i64 with wrap-around; ReduceMax and ArgMax let NaN win; TopK ranks NaN above
// every number (below with largest = 0) and breaks ties by the lower index; Softmax subtracts
// the row maximum, so a row of -inf gives NaN as on the CPU.
//
// Two shapes of kernel:
//  - row kernels (RowKernels.h) when the reduced elements of one output are contiguous (the
//    innermost axes): one warp or one block per row, vector loads, warp shuffles and a shared
//    memory step across warps;
//  - strided kernels otherwise: one thread per output element walks the reduced elements
//    sequentially (neighbouring threads read neighbouring addresses when the kept axes are
//    inner).
// The row helpers that Softmax and the norms share are defined here too.
//
//===----------------------------------------------------------------------===//

#include "RowKernels.h"

#include "../../Dialect/Kiln/Transforms/ConstantValues.h"
#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/TensorAttr.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/APInt.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;

namespace kiln::gpu_codegen {

//===----------------------------------------------------------------------===//
// Row kernels (shared with NormalizationKernels.cpp through RowKernels.h)
//===----------------------------------------------------------------------===//

/// Largest number of values a thread keeps in registers for a cached row.
static constexpr int64_t kMaxCachedValues = 32;
/// Most threads of a row (one block).
static constexpr int64_t kMaxRowThreads = 512;

std::string RowLayout::name() const {
  std::string text = "L" + (length ? std::to_string(*length) : std::string("dyn"));
  text += "_t" + std::to_string(threads);
  if (rowsPerBlock > 1)
    text += "x" + std::to_string(rowsPerBlock);
  text += "_v" + std::to_string(vector);
  if (cached)
    text += "_c";
  return text;
}

Value RowLayout::gridSize(KernelEmitter &emitter, Value rows) const {
  return emitter.ceilDiv(rows, rowsPerBlock);
}

RowLayout chooseRowLayout(std::optional<int64_t> length, Type storage, bool cache) {
  RowLayout layout;
  layout.length = length;
  if (!length)
    return layout; // one block of 256 threads per row, scalar accesses
  int64_t bytes = std::max<int64_t>(1, storage.getIntOrFloatBitWidth() / 8);
  int64_t vector = std::max<int64_t>(1, 16 / bytes);
  while (vector > 1 && *length % vector != 0)
    vector /= 2;
  layout.vector = vector;
  int64_t chunks = *length / vector;
  // About four accesses per thread, in whole warps.
  int64_t threads = llvm::alignTo(std::max<int64_t>(llvm::divideCeil(chunks, 4), 1), 32);
  layout.threads = std::clamp<int64_t>(threads, 32, kMaxRowThreads);
  layout.rowsPerBlock = layout.threads == 32 ? 4 : 1;
  layout.rounds = llvm::divideCeil(chunks, layout.threads);
  layout.cached = cache && layout.rounds * vector <= kMaxCachedValues;
  return layout;
}

RowPosition rowPosition(OpBuilder &b, Location loc, const RowLayout &layout, Value rows) {
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  RowPosition position;
  if (layout.rowsPerBlock == 1) {
    position.row = block;
    position.lane = thread;
  } else {
    Value threads = indexConstant(b, loc, layout.threads);
    Value first = arith::MulIOp::create(b, loc, block, indexConstant(b, loc, layout.rowsPerBlock));
    position.row = arith::AddIOp::create(b, loc, first,
                                         arith::DivUIOp::create(b, loc, thread, threads));
    position.lane = arith::RemUIOp::create(b, loc, thread, threads);
  }
  position.inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, position.row, rows);
  return position;
}

void ifRowInRange(OpBuilder &b, Location loc, const RowPosition &position,
                  function_ref<void(OpBuilder &, Location)> body) {
  scf::IfOp::create(b, loc, position.inRange, [&](OpBuilder &then, Location thenLoc) {
    body(then, thenLoc);
    scf::YieldOp::create(then, thenLoc);
  });
}

SmallVector<Value> rowScratch(gpu::GPUFuncOp kernel, const RowLayout &layout, TypeRange types) {
  SmallVector<Value> buffers;
  if (layout.threads <= 32)
    return buffers;
  for (Type type : types)
    buffers.push_back(addSharedBuffer(kernel, type, layout.threads / 32));
  return buffers;
}

SmallVector<Value> rowAllReduce(OpBuilder &b, Location loc, const RowLayout &layout,
                                ValueRange values, CombineFn combine, ValueRange scratch) {
  if (layout.threads <= 32)
    return warpAllReduce(b, loc, values, combine, layout.threads);
  return blockAllReduce(b, loc, values, combine, scratch, layout.threads);
}

SmallVector<Value> foldRowChunks(OpBuilder &b, Location loc, const RowLayout &layout, Value lane,
                                 Value length, ValueRange init, ChunkStep step) {
  Value vector = indexConstant(b, loc, layout.vector);
  Value start = arith::MulIOp::create(b, loc, lane, vector);
  Value stride = indexConstant(b, loc, layout.threads * layout.vector);
  auto loop = scf::ForOp::create(
      b, loc, start, length, stride, init,
      [&](OpBuilder &nested, Location nestedLoc, Value column, ValueRange acc) {
        scf::YieldOp::create(nested, nestedLoc, step(nested, nestedLoc, column, acc));
      });
  return SmallVector<Value>(loop.getResults());
}

SmallVector<Value> foldRowElements(OpBuilder &b, Location loc, const RowLayout &layout,
                                   Value buffer, Value base, Value lane, Value length, Type type,
                                   ValueRange init, ElementStep step) {
  return foldRowChunks(
      b, loc, layout, lane, length, init,
      [&](OpBuilder &b, Location loc, Value column, ValueRange acc) {
        Value index = arith::AddIOp::create(b, loc, base, column);
        SmallVector<Value> values = loadElements(b, loc, buffer, index, layout.vector, type);
        SmallVector<Value> current(acc);
        for (auto [i, value] : llvm::enumerate(values)) {
          Value at = i == 0 ? column
                            : arith::AddIOp::create(b, loc, column,
                                                    indexConstant(b, loc, i))
                                  .getResult();
          current = step(b, loc, value, at, current);
        }
        return current;
      });
}

CachedRow loadCachedRow(OpBuilder &b, Location loc, const RowLayout &layout, Value buffer,
                        Value base, Value lane, Type type, Value fill) {
  assert(layout.cached && layout.length && "only static rows are cached");
  CachedRow row;
  int64_t length = *layout.length;
  for (int64_t round = 0; round < layout.rounds; ++round) {
    // column = (lane + round * threads) * vector
    Value chunk = arith::AddIOp::create(b, loc, lane,
                                        indexConstant(b, loc, round * layout.threads));
    Value column = arith::MulIOp::create(b, loc, chunk, indexConstant(b, loc, layout.vector));
    Value index = arith::AddIOp::create(b, loc, base, column);
    row.columns.push_back(column);
    if ((round + 1) * layout.threads * layout.vector <= length) {
      row.valid.push_back(Value());
      row.chunks.push_back(loadElements(b, loc, buffer, index, layout.vector, type));
      continue;
    }
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, column,
                                        indexConstant(b, loc, length));
    auto guarded = scf::IfOp::create(
        b, loc, valid,
        [&](OpBuilder &then, Location thenLoc) {
          scf::YieldOp::create(then, thenLoc,
                               loadElements(then, thenLoc, buffer, index, layout.vector, type));
        },
        [&](OpBuilder &otherwise, Location otherwiseLoc) {
          SmallVector<Value> fills(layout.vector, fill);
          scf::YieldOp::create(otherwise, otherwiseLoc, fills);
        });
    row.valid.push_back(valid);
    row.chunks.push_back(SmallVector<Value>(guarded.getResults()));
  }
  return row;
}

void forEachCachedChunk(OpBuilder &b, Location loc, const CachedRow &row,
                        function_ref<void(OpBuilder &, Location, size_t, Value)> body) {
  for (size_t chunk = 0; chunk < row.chunks.size(); ++chunk) {
    if (!row.valid[chunk]) {
      body(b, loc, chunk, row.columns[chunk]);
      continue;
    }
    scf::IfOp::create(b, loc, row.valid[chunk], [&](OpBuilder &then, Location thenLoc) {
      body(then, thenLoc, chunk, row.columns[chunk]);
      scf::YieldOp::create(then, thenLoc);
    });
  }
}

Value maskCached(OpBuilder &b, Location loc, const CachedRow &row, size_t chunk, Value value,
                 Value otherwise) {
  if (!row.valid[chunk])
    return value;
  return arith::SelectOp::create(b, loc, row.valid[chunk], value, otherwise);
}

Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

Value intConstant(OpBuilder &b, Location loc, Type type, int64_t value) {
  return arith::ConstantOp::create(b, loc, type, b.getIntegerAttr(type, value));
}

Value rowBase(OpBuilder &b, Location loc, Value row, Value length) {
  return arith::MulIOp::create(b, loc, row, length);
}

//===----------------------------------------------------------------------===//
// Shared pieces of the templates
//===----------------------------------------------------------------------===//

namespace {

/// The op's name for diagnostics: "kiln.onnx.ReduceSum".
std::string opName(Operation *op) { return op->getName().getStringRef().str(); }

/// Fails with a clear error for element types the templates do not handle: unsigned integers
/// (arith has no unsigned types; the storage keeps them) and booleans.
LogicalResult checkElementType(Operation *op, Type elementType) {
  if (auto integer = dyn_cast<IntegerType>(elementType)) {
    if (integer.isUnsigned())
      return op->emitError() << "GPU lowering of " << opName(op) << ": unsigned element type "
                             << elementType << " is not supported";
    if (integer.getWidth() == 1)
      return op->emitError() << "GPU lowering of " << opName(op)
                             << ": boolean data is not supported";
  }
  return success();
}

/// The type values are accumulated in: f32 (f64 for f64 storage) for floats, i64 for ints.
Type accumulatorType(Type storage) {
  if (isa<FloatType>(storage))
    return computeType(storage);
  return IntegerType::get(storage.getContext(), 64);
}

/// ReduceMax's identity: -inf for floats, the minimum of the model's integer type.
Value lowestValue(OpBuilder &b, Location loc, Type accumulator, Type modelElement) {
  if (isa<FloatType>(accumulator))
    return floatConstant(b, loc, accumulator, -std::numeric_limits<double>::infinity());
  unsigned width = modelElement.getIntOrFloatBitWidth();
  return intConstant(b, loc, accumulator, llvm::APInt::getSignedMinValue(width).getSExtValue());
}

/// `value` (index) as a scalar of compute type `type`.
Value indexTo(OpBuilder &b, Location loc, Value value, Type type) {
  Value wide = arith::IndexCastOp::create(b, loc, b.getI64Type(), value);
  if (isa<FloatType>(type))
    return arith::SIToFPOp::create(b, loc, type, wide);
  return wide;
}

/// Splits `dims` around `axis`: host index values of the outer count, the axis size and
/// the inner count; `innerIsOne` when every dim after the axis is statically 1.
struct AxisSplit {
  Value outer, size, inner;
  std::optional<int64_t> staticSize;
  bool innerIsOne = true;
};
AxisSplit splitAtAxis(KernelEmitter &emitter, ArrayRef<Value> dims, RankedTensorType type,
                      int64_t axis) {
  AxisSplit split;
  int64_t rank = type.getRank();
  split.outer = emitter.product(dims, 0, axis);
  split.size = dims[axis];
  split.inner = emitter.product(dims, axis + 1, rank);
  if (!type.isDynamicDim(axis))
    split.staticSize = type.getDimSize(axis);
  for (int64_t d = axis + 1; d < rank; ++d)
    if (type.isDynamicDim(d) || type.getDimSize(d) != 1)
      split.innerIsOne = false;
  return split;
}

/// `axis` in [0, rank), or an error on `op`.
FailureOr<int64_t> resolveAxis(Operation *op, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return op->emitError() << "GPU lowering of " << opName(op) << ": axis " << axis
                           << " is out of range for rank " << rank;
  return axis < 0 ? axis + rank : axis;
}

/// The ranked type of `value` with the static dims the shape analysis knows, or an error.
FailureOr<RankedTensorType> rankedOperand(Operation *op, KernelEmitter &emitter, Value value) {
  if (!isa<RankedTensorType>(value.getType()))
    return op->emitError() << "GPU lowering of " << opName(op)
                           << ": unranked operands are not supported";
  return emitter.storageTensorType(value);
}

/// One thread per (outer, inner) position of an [outer, size, inner] view, over a grid-stride
/// loop: `body(o, i, base)` where base = (o * size) * inner + i is the first element of the
/// position's line along the axis (stride `inner`).
void forEachAxisLine(OpBuilder &b, Location loc, Value outer, Value size, Value inner,
                     function_ref<void(OpBuilder &, Location, Value, Value, Value)> body) {
  Value count = arith::MulIOp::create(b, loc, outer, inner);
  gridStrideLoop(b, loc, count, [&](OpBuilder &b, Location loc, Value position) {
    Value o = arith::DivUIOp::create(b, loc, position, inner);
    Value i = arith::RemUIOp::create(b, loc, position, inner);
    Value lineStart = arith::MulIOp::create(b, loc, arith::MulIOp::create(b, loc, o, size), inner);
    body(b, loc, o, i, arith::AddIOp::create(b, loc, lineStart, i));
  });
}

/// A loop over j in [0, size) carrying `init`.
SmallVector<Value> foldRange(OpBuilder &b, Location loc, Value size, ValueRange init,
                             function_ref<SmallVector<Value>(OpBuilder &, Location, Value,
                                                             ValueRange)>
                                 step) {
  auto loop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), size, indexConstant(b, loc, 1), init,
      [&](OpBuilder &nested, Location nestedLoc, Value j, ValueRange acc) {
        scf::YieldOp::create(nested, nestedLoc, step(nested, nestedLoc, j, acc));
      });
  return SmallVector<Value>(loop.getResults());
}

/// Runs `body` in lane 0 of a row.
void ifFirstLane(OpBuilder &b, Location loc, Value lane,
                 function_ref<void(OpBuilder &, Location)> body) {
  Value first =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, indexConstant(b, loc, 0));
  scf::IfOp::create(b, loc, first, [&](OpBuilder &then, Location thenLoc) {
    body(then, thenLoc);
    scf::YieldOp::create(then, thenLoc);
  });
}

//===----------------------------------------------------------------------===//
// Ranking of (value, index) pairs: ArgMax and TopK
//===----------------------------------------------------------------------===//

/// The strict total order of TopK and ArgMax on (value, index) pairs: with `largest`, larger
/// values first and NaN before every number (numpy's order reversed); without, smaller first
/// and NaN last; equal values (and two NaNs) by index, the lower first unless `higherIndexFirst`.
struct PairOrder {
  bool largest = true;
  bool higherIndexFirst = false;

  /// Whether (av, ai) ranks strictly before (bv, bi).
  Value before(OpBuilder &b, Location loc, Value av, Value ai, Value bv, Value bi) const {
    Value tie = arith::CmpIOp::create(b, loc,
                                      higherIndexFirst ? arith::CmpIPredicate::sgt
                                                       : arith::CmpIPredicate::slt,
                                      ai, bi);
    if (!isa<FloatType>(av.getType())) {
      Value ordered = arith::CmpIOp::create(
          b, loc, largest ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::slt, av, bv);
      Value equal = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, av, bv);
      return arith::SelectOp::create(b, loc, equal, tie, ordered);
    }
    Value aNaN = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, av, av);
    Value bNaN = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, bv, bv);
    Value ordered = arith::CmpFOp::create(
        b, loc, largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT, av, bv);
    Value equal = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, av, bv);
    Value numbers = arith::SelectOp::create(b, loc, equal, tie, ordered);
    // Exactly one NaN: it ranks first with `largest`, last without.
    Value oneNaN = largest ? aNaN : bNaN;
    Value bothNaN = arith::AndIOp::create(b, loc, aNaN, bNaN);
    Value nanResult = arith::SelectOp::create(b, loc, bothNaN, tie, oneNaN);
    Value anyNaN = arith::OrIOp::create(b, loc, aNaN, bNaN);
    return arith::SelectOp::create(b, loc, anyNaN, nanResult, numbers);
  }

  /// The first of two candidates (value, index); index -1 marks "none", which ranks last.
  SmallVector<Value> pick(OpBuilder &b, Location loc, ValueRange a, ValueRange c) const {
    Value zero = intConstant(b, loc, b.getI64Type(), 0);
    Value aValid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, a[1], zero);
    Value cInvalid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, c[1], zero);
    Value aFirst = before(b, loc, a[0], a[1], c[0], c[1]);
    Value takeA = arith::AndIOp::create(b, loc, aValid,
                                        arith::OrIOp::create(b, loc, cInvalid, aFirst));
    return {arith::SelectOp::create(b, loc, takeA, a[0], c[0]),
            arith::SelectOp::create(b, loc, takeA, a[1], c[1])};
  }
};

/// "No candidate": value 0, index -1 (the same bits everywhere, so combining stays symmetric).
SmallVector<Value> noCandidate(OpBuilder &b, Location loc, Type valueType) {
  Value value = isa<FloatType>(valueType) ? floatConstant(b, loc, valueType, 0.0)
                                          : intConstant(b, loc, valueType, 0);
  return {value, intConstant(b, loc, b.getI64Type(), -1)};
}

//===----------------------------------------------------------------------===//
// ReduceSum, ReduceMean, ReduceMax
//===----------------------------------------------------------------------===//

enum class ReduceKind { Sum, Mean, Max };

StringRef kindName(ReduceKind kind) {
  switch (kind) {
  case ReduceKind::Sum:
    return "sum";
  case ReduceKind::Mean:
    return "mean";
  case ReduceKind::Max:
    return "max";
  }
  llvm_unreachable("unknown reduction");
}

/// Accumulation of one reduction kind in `accumulator` type.
struct Reducer {
  ReduceKind kind;
  Type accumulator;
  Type modelElement;

  Value identity(OpBuilder &b, Location loc) const {
    if (kind == ReduceKind::Max)
      return lowestValue(b, loc, accumulator, modelElement);
    return isa<FloatType>(accumulator) ? floatConstant(b, loc, accumulator, 0.0)
                                       : intConstant(b, loc, accumulator, 0);
  }
  Value combine(OpBuilder &b, Location loc, Value a, Value c) const {
    bool isFloat = isa<FloatType>(accumulator);
    if (kind == ReduceKind::Max)
      return isFloat ? arith::MaximumFOp::create(b, loc, a, c).getResult()
                     : arith::MaxSIOp::create(b, loc, a, c).getResult();
    return isFloat ? arith::AddFOp::create(b, loc, a, c).getResult()
                   : arith::AddIOp::create(b, loc, a, c).getResult();
  }
  /// The result from the combined value of `count` (index) elements: the mean divides (NaN
  /// for an empty float set, 0 for an empty integer set, as the executor).
  Value finish(OpBuilder &b, Location loc, Value total, Value count) const {
    if (kind != ReduceKind::Mean)
      return total;
    Value divisor = indexTo(b, loc, count, accumulator);
    if (isa<FloatType>(accumulator))
      return arith::DivFOp::create(b, loc, total, divisor);
    Value zero = intConstant(b, loc, accumulator, 0);
    Value empty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, divisor, zero);
    Value safe = arith::SelectOp::create(b, loc, empty, intConstant(b, loc, accumulator, 1),
                                         divisor);
    Value quotient = arith::DivSIOp::create(b, loc, total, safe);
    return arith::SelectOp::create(b, loc, empty, zero, quotient);
  }
};

/// A maximal run of adjacent dims that are all reduced or all kept (static 1s dropped).
struct DimGroup {
  bool reduced;
  Value size;
  std::optional<int64_t> staticSize;
};

/// Reduce over the innermost elements of [rows, length]: one warp or block per row.
gpu::GPUFuncOp buildRowReduceKernel(KernelEmitter &emitter, const Reducer &reducer,
                                    Type storage, const RowLayout &layout) {
  std::string name = "reduce_" + kindName(reducer.kind).str() + "_" + typeName(storage);
  if (reducer.kind == ReduceKind::Max && !isa<FloatType>(storage))
    name += "_from_" + typeName(reducer.modelElement);
  name += "_" + layout.name();
  return emitter.getOrCreateKernel(
      name, {storage}, {storage}, 2, layout.block(),
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
        Value input = kernel.getArgument(0), output = kernel.getArgument(1);
        Value rows = scalarArgument(b, loc, kernel, 2, 0);
        Value length = layout.length ? indexConstant(b, loc, *layout.length)
                                     : scalarArgument(b, loc, kernel, 2, 1);
        SmallVector<Value> scratch = rowScratch(kernel, layout, {reducer.accumulator});
        RowPosition position = rowPosition(b, loc, layout, rows);
        ifRowInRange(b, loc, position, [&](OpBuilder &b, Location loc) {
          Value base = rowBase(b, loc, position.row, length);
          SmallVector<Value> partial = foldRowElements(
              b, loc, layout, input, base, position.lane, length, reducer.accumulator,
              {reducer.identity(b, loc)},
              [&](OpBuilder &b, Location loc, Value value, Value, ValueRange acc) {
                return SmallVector<Value>{reducer.combine(b, loc, acc[0], value)};
              });
          SmallVector<Value> total = rowAllReduce(
              b, loc, layout, partial,
              [&](OpBuilder &b, Location loc, ValueRange x, ValueRange y) {
                return SmallVector<Value>{reducer.combine(b, loc, x[0], y[0])};
              },
              scratch);
          Value result = reducer.finish(b, loc, total[0], length);
          ifFirstLane(b, loc, position.lane, [&](OpBuilder &b, Location loc) {
            storeElement(b, loc, result, output, position.row);
          });
        });
      });
}

/// Reduce over any set of axes: one thread per output element, nested loops over the reduced
/// groups. Scalars: the output count, then every group's size.
gpu::GPUFuncOp buildStridedReduceKernel(KernelEmitter &emitter, const Reducer &reducer,
                                        Type storage, ArrayRef<DimGroup> groups) {
  std::string pattern;
  for (const DimGroup &group : groups)
    pattern += group.reduced ? 'R' : 'K';
  std::string name = "reduce_" + kindName(reducer.kind).str() + "_" + typeName(storage);
  if (reducer.kind == ReduceKind::Max && !isa<FloatType>(storage))
    name += "_from_" + typeName(reducer.modelElement);
  name += "_" + pattern;
  unsigned numScalars = 1 + groups.size();
  return emitter.getOrCreateKernel(
      name, {storage}, {storage}, numScalars, {256, 1, 1},
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
        Value input = kernel.getArgument(0), output = kernel.getArgument(1);
        Value count = scalarArgument(b, loc, kernel, 2, 0);
        SmallVector<Value> sizes, strides(groups.size());
        for (size_t g = 0; g < groups.size(); ++g)
          sizes.push_back(scalarArgument(b, loc, kernel, 2, 1 + g));
        Value stride = indexConstant(b, loc, 1);
        for (size_t g = groups.size(); g-- > 0;) {
          strides[g] = stride;
          stride = arith::MulIOp::create(b, loc, stride, sizes[g]);
        }
        SmallVector<Value> keptSizes, keptStrides, reducedSizes, reducedStrides;
        for (auto [g, group] : llvm::enumerate(groups)) {
          (group.reduced ? reducedSizes : keptSizes).push_back(sizes[g]);
          (group.reduced ? reducedStrides : keptStrides).push_back(strides[g]);
        }
        Value reducedCount = indexConstant(b, loc, 1);
        for (Value size : reducedSizes)
          reducedCount = arith::MulIOp::create(b, loc, reducedCount, size);
        gridStrideLoop(b, loc, count, [&](OpBuilder &b, Location loc, Value out) {
          Value base = indexConstant(b, loc, 0);
          if (!keptSizes.empty()) {
            SmallVector<Value> kept = delinearize(b, loc, out, keptSizes);
            for (auto [index, keptStride] : llvm::zip_equal(kept, keptStrides))
              base = arith::AddIOp::create(b, loc, base,
                                           arith::MulIOp::create(b, loc, index, keptStride));
          }
          std::function<Value(OpBuilder &, Location, size_t, Value, Value)> walk =
              [&](OpBuilder &b, Location loc, size_t level, Value offset, Value acc) -> Value {
            if (level == reducedSizes.size()) {
              Value value = loadElement(b, loc, input, offset, reducer.accumulator);
              return reducer.combine(b, loc, acc, value);
            }
            return foldRange(b, loc, reducedSizes[level], {acc},
                             [&](OpBuilder &b, Location loc, Value j, ValueRange inner) {
                               Value step = arith::MulIOp::create(b, loc, j,
                                                                  reducedStrides[level]);
                               Value at = arith::AddIOp::create(b, loc, offset, step);
                               return SmallVector<Value>{walk(b, loc, level + 1, at, inner[0])};
                             })
                .front();
          };
          Value total = walk(b, loc, 0, base, reducer.identity(b, loc));
          storeElement(b, loc, reducer.finish(b, loc, total, reducedCount), output, out);
        });
      });
}

template <typename OpTy>
LogicalResult lowerReduce(Operation *operation, KernelEmitter &emitter, ReduceKind kind) {
  auto op = cast<OpTy>(operation);
  Value data = op.getData();
  Value result = op.getReduced();
  FailureOr<RankedTensorType> dataType = rankedOperand(operation, emitter, data);
  if (failed(dataType))
    return failure();
  Type modelElement = cast<RankedTensorType>(data.getType()).getElementType();
  if (failed(checkElementType(operation, modelElement)))
    return failure();
  int64_t rank = dataType->getRank();

  // Which axes: the constant operand's, or all when it is absent or empty, unless
  // noop_with_empty_axes makes that the identity.
  SmallVector<bool> reduced(rank, true);
  bool identity = false;
  std::optional<SmallVector<int64_t>> axes;
  if (Value axesOperand = op.getAxes()) {
    axes = getConstantInts(axesOperand);
    if (!axes)
      return operation->emitError() << "GPU lowering of " << opName(operation)
                                    << ": the axes operand must be a constant";
  }
  if (!axes || axes->empty()) {
    identity = op.getNoopWithEmptyAxes() != 0;
  } else {
    reduced.assign(rank, false);
    for (int64_t axis : *axes) {
      if (axis < -rank || axis >= rank || reduced[axis < 0 ? axis + rank : axis])
        return operation->emitError() << "GPU lowering of " << opName(operation) << ": axis "
                                      << axis << " is out of range or repeated for rank "
                                      << rank;
      reduced[axis < 0 ? axis + rank : axis] = true;
    }
  }

  Value source = emitter.tensor(data);
  if (!source)
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(data, operation);
  if (failed(dims))
    return failure();
  FailureOr<SmallVector<Value>> resultDims = emitter.dims(result, operation);
  if (failed(resultDims))
    return failure();
  RankedTensorType resultType = emitter.storageTensorType(result);

  // Adjacent dims of the same kind merge; static 1s change nothing.
  SmallVector<DimGroup> groups;
  for (int64_t d = 0; d < rank; ++d) {
    std::optional<int64_t> size;
    if (!dataType->isDynamicDim(d))
      size = dataType->getDimSize(d);
    if (size == 1)
      continue;
    if (!groups.empty() && groups.back().reduced == reduced[d]) {
      DimGroup &group = groups.back();
      group.size = emitter.mul(group.size, (*dims)[d]);
      group.staticSize = group.staticSize && size ? std::optional(*group.staticSize * *size)
                                                  : std::nullopt;
      continue;
    }
    groups.push_back({reduced[d], (*dims)[d], size});
  }
  bool reducesSomething = llvm::any_of(groups, [](const DimGroup &g) { return g.reduced; });
  if (identity || !reducesSomething) {
    // Nothing to reduce (or only 1-sized dims): every reduction of one element is itself.
    emitter.setResult(result, emitter.view(source, resultType, *resultDims));
    return success();
  }

  Type storage = dataType->getElementType();
  Reducer reducer{kind, accumulatorType(storage), modelElement};
  // Innermost contiguous reductions of rows that are not tiny: row kernels.
  bool innermost = groups.back().reduced && groups.size() <= 2;
  std::optional<int64_t> length = groups.back().staticSize;
  if (innermost && (!length || *length > 16)) {
    Value rows = groups.size() == 2 ? groups.front().size : emitter.index(1);
    RowLayout layout = chooseRowLayout(length, storage, /*cache=*/false);
    gpu::GPUFuncOp kernel = buildRowReduceKernel(emitter, reducer, storage, layout);
    Value launched =
        emitter
            .launch(kernel, {source}, {ResultSpec{resultType, *resultDims}},
                    {rows, groups.back().size}, {layout.gridSize(emitter, rows),
                                                 emitter.index(1), emitter.index(1)},
                    layout.block())
            .front();
    emitter.setResult(result, launched);
    return success();
  }

  gpu::GPUFuncOp kernel = buildStridedReduceKernel(emitter, reducer, storage, groups);
  SmallVector<Value> scalars;
  SmallVector<Value> kept;
  for (const DimGroup &group : groups)
    if (!group.reduced)
      kept.push_back(group.size);
  Value count = emitter.product(kept);
  scalars.push_back(count);
  for (const DimGroup &group : groups)
    scalars.push_back(group.size);
  Value launched = emitter
                       .launch(kernel, {source}, {ResultSpec{resultType, *resultDims}}, scalars,
                               {emitter.ceilDiv(count, 256), emitter.index(1), emitter.index(1)},
                               {256, 1, 1})
                       .front();
  emitter.setResult(result, launched);
  return success();
}

//===----------------------------------------------------------------------===//
// ArgMax
//===----------------------------------------------------------------------===//

LogicalResult lowerArgMax(Operation *operation, KernelEmitter &emitter) {
  auto op = cast<OnnxArgMaxOp>(operation);
  Value data = op.getData();
  FailureOr<RankedTensorType> dataType = rankedOperand(operation, emitter, data);
  if (failed(dataType))
    return failure();
  if (failed(checkElementType(operation, cast<ShapedType>(data.getType()).getElementType())))
    return failure();
  FailureOr<int64_t> axis =
      resolveAxis(operation, static_cast<int64_t>(op.getAxis()), dataType->getRank());
  if (failed(axis))
    return failure();
  Value source = emitter.tensor(data);
  if (!source)
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(data, operation);
  if (failed(dims))
    return failure();
  FailureOr<SmallVector<Value>> resultDims = emitter.dims(op.getReduced(), operation);
  if (failed(resultDims))
    return failure();
  AxisSplit split = splitAtAxis(emitter, *dims, *dataType, *axis);
  if (split.staticSize == 0)
    return operation->emitError() << "GPU lowering of " << opName(operation)
                                  << ": ArgMax of an empty axis";

  Type storage = dataType->getElementType();
  Type accumulator = accumulatorType(storage);
  PairOrder order{/*largest=*/true, /*higherIndexFirst=*/op.getSelectLastIndex() != 0};
  std::string prefix = "argmax_" + typeName(storage) +
                       (order.higherIndexFirst ? "_last" : "") + "_";
  Type i64 = IntegerType::get(emitter.getContext(), 64);
  RankedTensorType resultType = emitter.storageTensorType(op.getReduced());
  ResultSpec spec{resultType, *resultDims};

  if (split.innerIsOne && (!split.staticSize || *split.staticSize > 16)) {
    RowLayout layout = chooseRowLayout(split.staticSize, storage, /*cache=*/false);
    gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
        prefix + layout.name(), {storage}, {i64}, 2, layout.block(),
        [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
          Value input = kernel.getArgument(0), output = kernel.getArgument(1);
          Value rows = scalarArgument(b, loc, kernel, 2, 0);
          Value length = layout.length ? indexConstant(b, loc, *layout.length)
                                       : scalarArgument(b, loc, kernel, 2, 1);
          SmallVector<Value> scratch = rowScratch(kernel, layout, {accumulator, b.getI64Type()});
          RowPosition position = rowPosition(b, loc, layout, rows);
          ifRowInRange(b, loc, position, [&](OpBuilder &b, Location loc) {
            Value base = rowBase(b, loc, position.row, length);
            SmallVector<Value> partial = foldRowElements(
                b, loc, layout, input, base, position.lane, length, accumulator,
                noCandidate(b, loc, accumulator),
                [&](OpBuilder &b, Location loc, Value value, Value column, ValueRange acc) {
                  Value index = arith::IndexCastOp::create(b, loc, b.getI64Type(), column);
                  return order.pick(b, loc, acc, {value, index});
                });
            SmallVector<Value> best = rowAllReduce(
                b, loc, layout, partial,
                [&](OpBuilder &b, Location loc, ValueRange x, ValueRange y) {
                  return order.pick(b, loc, x, y);
                },
                scratch);
            ifFirstLane(b, loc, position.lane, [&](OpBuilder &b, Location loc) {
              storeElement(b, loc, best[1], output, position.row);
            });
          });
        });
    Value rows = split.outer;
    emitter.setResult(op.getReduced(),
                      emitter
                          .launch(kernel, {source}, {spec}, {rows, split.size},
                                  {layout.gridSize(emitter, rows), emitter.index(1),
                                   emitter.index(1)},
                                  layout.block())
                          .front());
    return success();
  }

  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      prefix + "strided", {storage}, {i64}, 3, {256, 1, 1},
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
        Value input = kernel.getArgument(0), output = kernel.getArgument(1);
        Value outer = scalarArgument(b, loc, kernel, 2, 0);
        Value size = scalarArgument(b, loc, kernel, 2, 1);
        Value inner = scalarArgument(b, loc, kernel, 2, 2);
        forEachAxisLine(b, loc, outer, size, inner,
                        [&](OpBuilder &b, Location loc, Value o, Value i, Value base) {
                          SmallVector<Value> best = foldRange(
                              b, loc, size, noCandidate(b, loc, accumulator),
                              [&](OpBuilder &b, Location loc, Value j, ValueRange acc) {
                                Value at = arith::AddIOp::create(
                                    b, loc, base, arith::MulIOp::create(b, loc, j, inner));
                                Value value = loadElement(b, loc, input, at, accumulator);
                                Value index =
                                    arith::IndexCastOp::create(b, loc, b.getI64Type(), j);
                                return order.pick(b, loc, acc, {value, index});
                              });
                          Value out = arith::AddIOp::create(
                              b, loc, arith::MulIOp::create(b, loc, o, inner), i);
                          storeElement(b, loc, best[1], output, out);
                        });
      });
  Value count = emitter.mul(split.outer, split.inner);
  emitter.setResult(op.getReduced(),
                    emitter
                        .launch(kernel, {source}, {spec}, {split.outer, split.size, split.inner},
                                {emitter.ceilDiv(count, 256), emitter.index(1), emitter.index(1)},
                                {256, 1, 1})
                        .front());
  return success();
}

//===----------------------------------------------------------------------===//
// TopK
//===----------------------------------------------------------------------===//

/// Largest K the templates handle: K rounds of a block-wide arg-best over the row.
constexpr int64_t kMaxTopK = 64;

LogicalResult lowerTopK(Operation *operation, KernelEmitter &emitter) {
  auto op = cast<OnnxTopKOp>(operation);
  Value x = op.getX();
  FailureOr<RankedTensorType> xType = rankedOperand(operation, emitter, x);
  if (failed(xType))
    return failure();
  if (failed(checkElementType(operation, cast<ShapedType>(x.getType()).getElementType())))
    return failure();
  FailureOr<int64_t> axis =
      resolveAxis(operation, static_cast<int64_t>(op.getAxis()), xType->getRank());
  if (failed(axis))
    return failure();
  std::optional<SmallVector<int64_t>> kValues = getConstantInts(op.getK());
  if (!kValues || kValues->size() != 1)
    return operation->emitError() << "GPU lowering of " << opName(operation)
                                  << ": K must be a constant with one element";
  int64_t k = kValues->front();
  if (k < 0 || k > kMaxTopK)
    return operation->emitError() << "GPU lowering of " << opName(operation) << ": K = " << k
                                  << " is not supported (0 <= K <= " << kMaxTopK << ")";
  Value source = emitter.tensor(x);
  if (!source)
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(x, operation);
  if (failed(dims))
    return failure();
  FailureOr<SmallVector<Value>> valuesDims = emitter.dims(op.getValues(), operation);
  if (failed(valuesDims))
    return failure();
  FailureOr<SmallVector<Value>> indicesDims = emitter.dims(op.getIndices(), operation);
  if (failed(indicesDims))
    return failure();
  AxisSplit split = splitAtAxis(emitter, *dims, *xType, *axis);
  if (split.staticSize && k > *split.staticSize)
    return operation->emitError() << "GPU lowering of " << opName(operation) << ": K = " << k
                                  << " exceeds the axis size " << *split.staticSize;

  Type storage = xType->getElementType();
  Type accumulator = accumulatorType(storage);
  Type i64 = IntegerType::get(emitter.getContext(), 64);
  PairOrder order{/*largest=*/op.getLargest() != 0, /*higherIndexFirst=*/false};
  std::string prefix = "topk_" + typeName(storage) + "_k" + std::to_string(k) +
                       (order.largest ? "_largest_" : "_smallest_");
  SmallVector<ResultSpec> specs = {
      ResultSpec{emitter.storageTensorType(op.getValues()), *valuesDims},
      ResultSpec{emitter.storageTensorType(op.getIndices()), *indicesDims}};

  // One round: the best candidate (value, index) among the elements ranking after
  // `previous`, the previous round's pick (every element in the first round; none once a
  // round found nothing, which only a row shorter than K can cause).
  auto consider = [&](OpBuilder &b, Location loc, Value firstRound, ValueRange previous,
                      Value value, Value index, ValueRange acc) {
    Value zero = intConstant(b, loc, b.getI64Type(), 0);
    Value found = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, previous[1], zero);
    Value after = arith::AndIOp::create(
        b, loc, found, order.before(b, loc, previous[0], previous[1], value, index));
    Value eligible = arith::OrIOp::create(b, loc, firstRound, after);
    SmallVector<Value> better = order.pick(b, loc, {value, index}, acc);
    return SmallVector<Value>{arith::SelectOp::create(b, loc, eligible, better[0], acc[0]),
                              arith::SelectOp::create(b, loc, eligible, better[1], acc[1])};
  };

  if (split.innerIsOne) {
    RowLayout layout = chooseRowLayout(split.staticSize, storage, /*cache=*/false);
    gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
        prefix + layout.name(), {storage}, {storage, i64}, 2, layout.block(),
        [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
          Value input = kernel.getArgument(0);
          Value values = kernel.getArgument(1), indices = kernel.getArgument(2);
          Value rows = scalarArgument(b, loc, kernel, 3, 0);
          Value length = layout.length ? indexConstant(b, loc, *layout.length)
                                       : scalarArgument(b, loc, kernel, 3, 1);
          SmallVector<Value> scratch = rowScratch(kernel, layout, {accumulator, b.getI64Type()});
          RowPosition position = rowPosition(b, loc, layout, rows);
          ifRowInRange(b, loc, position, [&](OpBuilder &b, Location loc) {
            Value base = rowBase(b, loc, position.row, length);
            Value outBase = rowBase(b, loc, position.row, indexConstant(b, loc, k));
            foldRange(b, loc, indexConstant(b, loc, k), noCandidate(b, loc, accumulator),
                      [&](OpBuilder &b, Location loc, Value round, ValueRange previous) {
                        Value firstRound = arith::CmpIOp::create(
                            b, loc, arith::CmpIPredicate::eq, round, indexConstant(b, loc, 0));
                        SmallVector<Value> partial = foldRowElements(
                            b, loc, layout, input, base, position.lane, length, accumulator,
                            noCandidate(b, loc, accumulator),
                            [&](OpBuilder &b, Location loc, Value value, Value column,
                                ValueRange acc) {
                              Value index =
                                  arith::IndexCastOp::create(b, loc, b.getI64Type(), column);
                              return consider(b, loc, firstRound, previous, value, index,
                                              acc);
                            });
                        SmallVector<Value> best = rowAllReduce(
                            b, loc, layout, partial,
                            [&](OpBuilder &b, Location loc, ValueRange p, ValueRange q) {
                              return order.pick(b, loc, p, q);
                            },
                            scratch);
                        ifFirstLane(b, loc, position.lane, [&](OpBuilder &b, Location loc) {
                          Value out = arith::AddIOp::create(b, loc, outBase, round);
                          storeElement(b, loc, best[0], values, out);
                          storeElement(b, loc, best[1], indices, out);
                        });
                        return best;
                      });
          });
        });
    Value rows = split.outer;
    SmallVector<Value> results =
        emitter.launch(kernel, {source}, specs, {rows, split.size},
                       {layout.gridSize(emitter, rows), emitter.index(1), emitter.index(1)},
                       layout.block());
    emitter.setResult(op.getValues(), results[0]);
    emitter.setResult(op.getIndices(), results[1]);
    return success();
  }

  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      prefix + "strided", {storage}, {storage, i64}, 3, {256, 1, 1},
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
        Value input = kernel.getArgument(0);
        Value values = kernel.getArgument(1), indices = kernel.getArgument(2);
        Value outer = scalarArgument(b, loc, kernel, 3, 0);
        Value size = scalarArgument(b, loc, kernel, 3, 1);
        Value inner = scalarArgument(b, loc, kernel, 3, 2);
        Value kValue = indexConstant(b, loc, k);
        forEachAxisLine(
            b, loc, outer, size, inner,
            [&](OpBuilder &b, Location loc, Value o, Value i, Value base) {
              foldRange(b, loc, kValue, noCandidate(b, loc, accumulator),
                        [&](OpBuilder &b, Location loc, Value round, ValueRange previous) {
                          Value firstRound =
                              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, round,
                                                    indexConstant(b, loc, 0));
                          SmallVector<Value> best = foldRange(
                              b, loc, size, noCandidate(b, loc, accumulator),
                              [&](OpBuilder &b, Location loc, Value j, ValueRange acc) {
                                Value at = arith::AddIOp::create(
                                    b, loc, base, arith::MulIOp::create(b, loc, j, inner));
                                Value value = loadElement(b, loc, input, at, accumulator);
                                Value index =
                                    arith::IndexCastOp::create(b, loc, b.getI64Type(), j);
                                return consider(b, loc, firstRound, previous, value, index,
                                              acc);
                              });
                          // (o * K + round) * inner + i
                          Value line = arith::AddIOp::create(
                              b, loc, arith::MulIOp::create(b, loc, o, kValue), round);
                          Value out = arith::AddIOp::create(
                              b, loc, arith::MulIOp::create(b, loc, line, inner), i);
                          storeElement(b, loc, best[0], values, out);
                          storeElement(b, loc, best[1], indices, out);
                          return best;
                        });
            });
      });
  Value count = emitter.mul(split.outer, split.inner);
  SmallVector<Value> results =
      emitter.launch(kernel, {source}, specs, {split.outer, split.size, split.inner},
                     {emitter.ceilDiv(count, 256), emitter.index(1), emitter.index(1)},
                     {256, 1, 1});
  emitter.setResult(op.getValues(), results[0]);
  emitter.setResult(op.getIndices(), results[1]);
  return success();
}

//===----------------------------------------------------------------------===//
// Softmax
//===----------------------------------------------------------------------===//

Value maximum(OpBuilder &b, Location loc, Value a, Value c) {
  return arith::MaximumFOp::create(b, loc, a, c);
}
Value sum(OpBuilder &b, Location loc, Value a, Value c) {
  return arith::AddFOp::create(b, loc, a, c);
}
Value expOfDifference(OpBuilder &b, Location loc, Value value, Value maximumValue) {
  return math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, value, maximumValue));
}

/// Softmax along the innermost axis: one warp or block per row. Cached rows are read once;
/// others are read three times (max, sum of exp, normalise).
void buildSoftmaxRowBody(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel,
                         const RowLayout &layout, Type compute) {
  Value input = kernel.getArgument(0), output = kernel.getArgument(1);
  Value rows = scalarArgument(b, loc, kernel, 2, 0);
  Value length = layout.length ? indexConstant(b, loc, *layout.length)
                               : scalarArgument(b, loc, kernel, 2, 1);
  SmallVector<Value> scratch = rowScratch(kernel, layout, {compute});
  RowPosition position = rowPosition(b, loc, layout, rows);
  auto reduceWith = [&](OpBuilder &b, Location loc, Value partial,
                        Value (*combine)(OpBuilder &, Location, Value, Value)) {
    return rowAllReduce(
               b, loc, layout, {partial},
               [&](OpBuilder &b, Location loc, ValueRange x, ValueRange y) {
                 return SmallVector<Value>{combine(b, loc, x[0], y[0])};
               },
               scratch)
        .front();
  };
  ifRowInRange(b, loc, position, [&](OpBuilder &b, Location loc) {
    Value base = rowBase(b, loc, position.row, length);
    Value negInf = floatConstant(b, loc, compute, -std::numeric_limits<double>::infinity());
    Value zero = floatConstant(b, loc, compute, 0.0);
    if (layout.cached) {
      CachedRow row =
          loadCachedRow(b, loc, layout, input, base, position.lane, compute, zero);
      Value partialMax = negInf;
      for (size_t c = 0; c < row.chunks.size(); ++c)
        for (Value value : row.chunks[c])
          partialMax = maximum(b, loc, partialMax, maskCached(b, loc, row, c, value, negInf));
      Value rowMax = reduceWith(b, loc, partialMax, maximum);
      SmallVector<SmallVector<Value>> exps;
      Value partialSum = zero;
      for (size_t c = 0; c < row.chunks.size(); ++c) {
        exps.emplace_back();
        for (Value value : row.chunks[c]) {
          exps.back().push_back(expOfDifference(b, loc, value, rowMax));
          partialSum =
              sum(b, loc, partialSum, maskCached(b, loc, row, c, exps.back().back(), zero));
        }
      }
      Value rowSum = reduceWith(b, loc, partialSum, sum);
      forEachCachedChunk(b, loc, row, [&](OpBuilder &b, Location loc, size_t c, Value column) {
        SmallVector<Value> results;
        for (Value e : exps[c])
          results.push_back(arith::DivFOp::create(b, loc, e, rowSum));
        storeElements(b, loc, results, output, arith::AddIOp::create(b, loc, base, column));
      });
      return;
    }
    Value partialMax =
        foldRowElements(b, loc, layout, input, base, position.lane, length, compute, {negInf},
                        [&](OpBuilder &b, Location loc, Value value, Value, ValueRange acc) {
                          return SmallVector<Value>{maximum(b, loc, acc[0], value)};
                        })
            .front();
    Value rowMax = reduceWith(b, loc, partialMax, maximum);
    Value partialSum =
        foldRowElements(b, loc, layout, input, base, position.lane, length, compute, {zero},
                        [&](OpBuilder &b, Location loc, Value value, Value, ValueRange acc) {
                          return SmallVector<Value>{
                              sum(b, loc, acc[0], expOfDifference(b, loc, value, rowMax))};
                        })
            .front();
    Value rowSum = reduceWith(b, loc, partialSum, sum);
    foldRowChunks(b, loc, layout, position.lane, length, {},
                  [&](OpBuilder &b, Location loc, Value column, ValueRange) {
                    Value index = arith::AddIOp::create(b, loc, base, column);
                    SmallVector<Value> results;
                    for (Value value :
                         loadElements(b, loc, input, index, layout.vector, compute))
                      results.push_back(arith::DivFOp::create(
                          b, loc, expOfDifference(b, loc, value, rowMax), rowSum));
                    storeElements(b, loc, results, output, index);
                    return SmallVector<Value>{};
                  });
  });
}

LogicalResult lowerSoftmax(Operation *operation, KernelEmitter &emitter) {
  auto op = cast<OnnxSoftmaxOp>(operation);
  Value input = op.getInput();
  FailureOr<RankedTensorType> inputType = rankedOperand(operation, emitter, input);
  if (failed(inputType))
    return failure();
  Type storage = inputType->getElementType();
  Type compute = computeType(storage);
  if (!compute.isF32())
    return operation->emitError() << "GPU lowering of " << opName(operation) << ": "
                                  << storage << " data is not supported (exp is f32 only)";
  FailureOr<int64_t> axis =
      resolveAxis(operation, static_cast<int64_t>(op.getAxis()), inputType->getRank());
  if (failed(axis))
    return failure();
  Value source = emitter.tensor(input);
  if (!source)
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(input, operation);
  if (failed(dims))
    return failure();
  AxisSplit split = splitAtAxis(emitter, *dims, *inputType, *axis);
  ResultSpec spec{emitter.storageTensorType(op.getOutput()), *dims};

  if (split.innerIsOne) {
    RowLayout layout = chooseRowLayout(split.staticSize, storage, /*cache=*/true);
    gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
        "softmax_" + typeName(storage) + "_" + layout.name(), {storage}, {storage}, 2,
        layout.block(), [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
          buildSoftmaxRowBody(b, loc, kernel, layout, compute);
        });
    Value rows = split.outer;
    emitter.setResult(op.getOutput(),
                      emitter
                          .launch(kernel, {source}, {spec}, {rows, split.size},
                                  {layout.gridSize(emitter, rows), emitter.index(1),
                                   emitter.index(1)},
                                  layout.block())
                          .front());
    return success();
  }

  // Along an outer axis: one thread per (outer, inner) position, three passes down the axis.
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      "softmax_" + typeName(storage) + "_strided", {storage}, {storage}, 3, {256, 1, 1},
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
        Value in = kernel.getArgument(0), out = kernel.getArgument(1);
        Value outer = scalarArgument(b, loc, kernel, 2, 0);
        Value size = scalarArgument(b, loc, kernel, 2, 1);
        Value inner = scalarArgument(b, loc, kernel, 2, 2);
        forEachAxisLine(b, loc, outer, size, inner,
                        [&](OpBuilder &b, Location loc, Value, Value, Value base) {
                          auto at = [&](OpBuilder &b, Location loc, Value j) -> Value {
                            return arith::AddIOp::create(
                                b, loc, base, arith::MulIOp::create(b, loc, j, inner));
                          };
                          Value negInf = floatConstant(
                              b, loc, compute, -std::numeric_limits<double>::infinity());
                          Value rowMax =
                              foldRange(b, loc, size, {negInf},
                                        [&](OpBuilder &b, Location loc, Value j, ValueRange acc) {
                                          Value value =
                                              loadElement(b, loc, in, at(b, loc, j), compute);
                                          return SmallVector<Value>{
                                              maximum(b, loc, acc[0], value)};
                                        })
                                  .front();
                          Value rowSum =
                              foldRange(b, loc, size, {floatConstant(b, loc, compute, 0.0)},
                                        [&](OpBuilder &b, Location loc, Value j, ValueRange acc) {
                                          Value value =
                                              loadElement(b, loc, in, at(b, loc, j), compute);
                                          return SmallVector<Value>{sum(
                                              b, loc, acc[0],
                                              expOfDifference(b, loc, value, rowMax))};
                                        })
                                  .front();
                          foldRange(b, loc, size, {},
                                    [&](OpBuilder &b, Location loc, Value j, ValueRange) {
                                      Value index = at(b, loc, j);
                                      Value value = loadElement(b, loc, in, index, compute);
                                      storeElement(
                                          b, loc,
                                          arith::DivFOp::create(
                                              b, loc, expOfDifference(b, loc, value, rowMax),
                                              rowSum),
                                          out, index);
                                      return SmallVector<Value>{};
                                    });
                        });
      });
  Value count = emitter.mul(split.outer, split.inner);
  emitter.setResult(op.getOutput(),
                    emitter
                        .launch(kernel, {source}, {spec}, {split.outer, split.size, split.inner},
                                {emitter.ceilDiv(count, 256), emitter.index(1), emitter.index(1)},
                                {256, 1, 1})
                        .front());
  return success();
}

} // namespace

void populateReductionLowerings(KernelLowerings &lowerings) {
  lowerings[OnnxReduceSumOp::getOperationName()] = [](Operation *op, KernelEmitter &emitter) {
    return lowerReduce<OnnxReduceSumOp>(op, emitter, ReduceKind::Sum);
  };
  lowerings[OnnxReduceMeanOp::getOperationName()] = [](Operation *op, KernelEmitter &emitter) {
    return lowerReduce<OnnxReduceMeanOp>(op, emitter, ReduceKind::Mean);
  };
  lowerings[OnnxReduceMaxOp::getOperationName()] = [](Operation *op, KernelEmitter &emitter) {
    return lowerReduce<OnnxReduceMaxOp>(op, emitter, ReduceKind::Max);
  };
  lowerings[OnnxArgMaxOp::getOperationName()] = lowerArgMax;
  lowerings[OnnxTopKOp::getOperationName()] = lowerTopK;
  lowerings[OnnxSoftmaxOp::getOperationName()] = lowerSoftmax;
}

} // namespace kiln::gpu_codegen
