//===- IndexingKernels.cpp - CPU kernels of slicing, gathering and scattering ---===//
//
// Slice, Gather, GatherElements, GatherND, ScatterND and Trilu with ONNX semantics. Indices come
// from data at run time, so every index is checked against its dim: an out-of-range index is a
// diagnostic at the op, never an out-of-bounds read.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "llvm/ADT/StringSwitch.h"

#include <algorithm>
#include <climits>

using namespace mlir;

namespace kiln::exec {
namespace {

/// Maps a possibly negative index into [0, dim); emits a diagnostic when it is out of range.
FailureOr<int64_t> resolveIndex(Operation *op, int64_t index, int64_t dim, int64_t axis) {
  int64_t resolved = index < 0 ? index + dim : index;
  if (resolved < 0 || resolved >= dim)
    return op->emitOpError() << "index " << index << " is out of bounds for axis " << axis
                             << " with size " << dim;
  return resolved;
}

/// Every element of `indices` mapped into [0, dim) by resolveIndex.
FailureOr<SmallVector<int64_t>> resolveIndices(Operation *op, const Tensor &indices, int64_t dim,
                                               int64_t axis) {
  SmallVector<int64_t> positions;
  positions.reserve(indices.getNumElements());
  for (int64_t i = 0, e = indices.getNumElements(); i < e; ++i) {
    FailureOr<int64_t> position = resolveIndex(op, indices.getInt(i), dim, axis);
    if (failed(position))
      return failure();
    positions.push_back(*position);
  }
  return positions;
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

LogicalResult runSlice(Operation *op, ExecutionContext &ctx) {
  auto slice = cast<OnnxSliceOp>(op);
  const Tensor &data = ctx.get(slice.getData());
  int64_t rank = data.getRank();
  SmallVector<int64_t> starts = readInts(ctx.get(slice.getStarts()));
  SmallVector<int64_t> ends = readInts(ctx.get(slice.getEnds()));
  size_t count = starts.size();
  SmallVector<int64_t> axes, steps(count, 1);
  if (const Tensor *axesTensor = ctx.getOptional(slice.getAxes()))
    axes = readInts(*axesTensor);
  else
    for (size_t i = 0; i < count; ++i)
      axes.push_back(static_cast<int64_t>(i));
  if (const Tensor *stepsTensor = ctx.getOptional(slice.getSteps()))
    steps = readInts(*stepsTensor);
  if (ends.size() != count || axes.size() != count || steps.size() != count)
    return op->emitOpError() << "starts, ends, axes and steps must have the same length";

  SmallVector<int64_t> shape = llvm::to_vector(data.getShape());
  SmallVector<int64_t> strides = getStrides(shape);
  int64_t offset = 0;
  SmallVector<bool> sliced(rank, false);
  for (size_t i = 0; i < count; ++i) {
    std::optional<int64_t> axis = normalizeAxis(axes[i], rank);
    if (!axis || sliced[*axis])
      return op->emitOpError() << "'axes' " << formatShape(axes)
                               << " are out of range or repeated for " << data.describe();
    sliced[*axis] = true;
    int64_t step = steps[i];
    if (step == 0)
      return op->emitOpError() << "'steps' must not contain 0";
    int64_t dim = shape[*axis];
    // Negative starts/ends count from the back; then both are clamped so that a forward slice
    // stays in [0, dim] and a backward one in [-1, dim - 1] (-1: "before the first element").
    // INT64_MIN + dim cannot overflow, and INT64_MAX is only clamped.
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    int64_t size;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      size = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, -1, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      // INT64_MIN cannot be negated; such a step takes one element at most.
      int64_t stride = step == INT64_MIN ? INT64_MAX : -step;
      size = start > end ? (start - end - 1) / stride + 1 : 0;
    }
    shape[*axis] = size;
    if (size > 0)
      offset += start * strides[*axis];
    // With one element the stride is never used; zeroing it avoids overflowing stride * step.
    strides[*axis] = size > 1 ? strides[*axis] * step : 0;
  }
  ctx.set(slice.getOutput(), copyStrided(data, offset, strides, shape));
  return success();
}

//===----------------------------------------------------------------------===//
// Gathers
//===----------------------------------------------------------------------===//

LogicalResult runGather(Operation *op, ExecutionContext &ctx) {
  auto gather = cast<OnnxGatherOp>(op);
  const Tensor &data = ctx.get(gather.getData());
  const Tensor &indices = ctx.get(gather.getIndices());
  std::optional<int64_t> axis =
      normalizeAxis(static_cast<int64_t>(gather.getAxis()), data.getRank());
  if (!axis)
    return op->emitOpError() << "'axis' " << static_cast<int64_t>(gather.getAxis())
                             << " is out of range for " << data.describe();
  ArrayRef<int64_t> dims = data.getShape();
  int64_t dim = dims[*axis];
  FailureOr<SmallVector<int64_t>> positions = resolveIndices(op, indices, dim, *axis);
  if (failed(positions))
    return failure();
  // Result: data.shape[:axis] + indices.shape + data.shape[axis+1:]; each index selects one
  // contiguous block of `inner` elements per outer index.
  SmallVector<int64_t> shape(dims.take_front(*axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, dims.drop_front(*axis + 1));
  int64_t inner = getStrides(dims)[*axis];
  int64_t outer = 1;
  for (int64_t d = 0; d < *axis; ++d)
    outer *= dims[d];
  Tensor result = Tensor::zeros(data.getDType(), shape);
  int64_t count = static_cast<int64_t>(positions->size());
  withElements(data, result, [&](auto in, auto out) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < count; ++i)
        std::copy_n(in.begin() + (o * dim + (*positions)[i]) * inner, inner,
                    out.begin() + (o * count + i) * inner);
  });
  ctx.set(gather.getOutput(), result);
  return success();
}

LogicalResult runGatherElements(Operation *op, ExecutionContext &ctx) {
  auto gather = cast<OnnxGatherElementsOp>(op);
  const Tensor &data = ctx.get(gather.getData());
  const Tensor &indices = ctx.get(gather.getIndices());
  int64_t rank = data.getRank();
  std::optional<int64_t> axis = normalizeAxis(static_cast<int64_t>(gather.getAxis()), rank);
  if (!axis)
    return op->emitOpError() << "'axis' " << static_cast<int64_t>(gather.getAxis())
                             << " is out of range for " << data.describe();
  ArrayRef<int64_t> dims = data.getShape(), indexDims = indices.getShape();
  bool fits = indices.getRank() == rank;
  for (int64_t d = 0; fits && d < rank; ++d)
    fits = d == *axis || indexDims[d] <= dims[d];
  if (!fits)
    return op->emitOpError() << "indices " << indices.describe() << " do not fit data "
                             << data.describe() << " outside axis " << *axis;
  FailureOr<SmallVector<int64_t>> positions = resolveIndices(op, indices, dims[*axis], *axis);
  if (failed(positions))
    return failure();
  // The source of an element is its own position in data, with the axis coordinate replaced by
  // its index: walk data's strides without the axis, and add the index times the axis stride.
  SmallVector<int64_t> strides = getStrides(dims);
  int64_t axisStride = strides[*axis];
  strides[*axis] = 0;
  Tensor result = Tensor::zeros(data.getDType(), indexDims);
  withElements(data, result, [&](auto in, auto out) {
    forEachStridedIndex<1>(indexDims, {0}, {strides},
                           [&](int64_t index, const std::array<int64_t, 1> &from) {
                             out[index] = in[from[0] + (*positions)[index] * axisStride];
                           });
  });
  ctx.set(gather.getOutput(), result);
  return success();
}

/// What GatherND and ScatterND share: data [batch..., indexed..., slice...] addressed by index
/// tuples of length k in the last dim of `indices`.
struct IndexTuples {
  int64_t batchCount = 1; // product of the batch dims (GatherND's batch_dims)
  int64_t tuplesPerBatch = 1;
  int64_t sliceSize = 1;        // elements addressed by one tuple
  SmallVector<int64_t> offsets; // element offset in data of each tuple, batch included
};

/// Resolves the index tuples of `indices` against `data`, the first `batchDims` dims of both
/// being batch dims.
FailureOr<IndexTuples> resolveTuples(Operation *op, const Tensor &data, const Tensor &indices,
                                     int64_t batchDims) {
  int64_t r = data.getRank(), q = indices.getRank();
  if (q < 1)
    return op->emitOpError() << "indices must have rank >= 1, got " << indices.describe();
  int64_t k = indices.getShape().back();
  if (batchDims < 0 || batchDims >= std::min(r, q) || k < 1 || k > r - batchDims)
    return op->emitOpError() << "index tuples of length " << k << " in " << indices.describe()
                             << " do not fit data " << data.describe() << " with batch_dims "
                             << batchDims;
  ArrayRef<int64_t> dims = data.getShape();
  for (int64_t d = 0; d < batchDims; ++d)
    if (indices.getShape()[d] != dims[d])
      return op->emitOpError() << "batch dim " << d << " of indices " << indices.describe()
                               << " differs from data " << data.describe();
  IndexTuples tuples;
  SmallVector<int64_t> strides = getStrides(dims);
  for (int64_t d = 0; d < batchDims; ++d)
    tuples.batchCount *= dims[d];
  for (int64_t d = batchDims + k; d < r; ++d)
    tuples.sliceSize *= dims[d];
  for (int64_t d = batchDims; d < q - 1; ++d)
    tuples.tuplesPerBatch *= indices.getShape()[d];
  int64_t batchStride = batchDims > 0 ? strides[batchDims - 1] : 0;
  tuples.offsets.reserve(tuples.batchCount * tuples.tuplesPerBatch);
  for (int64_t b = 0; b < tuples.batchCount; ++b) {
    for (int64_t t = 0; t < tuples.tuplesPerBatch; ++t) {
      int64_t first = (b * tuples.tuplesPerBatch + t) * k;
      int64_t offset = b * batchStride;
      for (int64_t j = 0; j < k; ++j) {
        int64_t axis = batchDims + j;
        FailureOr<int64_t> index = resolveIndex(op, indices.getInt(first + j), dims[axis], axis);
        if (failed(index))
          return failure();
        offset += *index * strides[axis];
      }
      tuples.offsets.push_back(offset);
    }
  }
  return tuples;
}

LogicalResult runGatherND(Operation *op, ExecutionContext &ctx) {
  auto gather = cast<OnnxGatherNDOp>(op);
  const Tensor &data = ctx.get(gather.getData());
  const Tensor &indices = ctx.get(gather.getIndices());
  int64_t batchDims = static_cast<int64_t>(gather.getBatchDims());
  FailureOr<IndexTuples> tuples = resolveTuples(op, data, indices, batchDims);
  if (failed(tuples))
    return failure();
  // Result: indices.shape[:-1] + data.shape[batch_dims + k:].
  int64_t k = indices.getShape().back();
  SmallVector<int64_t> shape(indices.getShape().drop_back());
  llvm::append_range(shape, data.getShape().drop_front(batchDims + k));
  Tensor result = Tensor::zeros(data.getDType(), shape);
  int64_t slice = tuples->sliceSize;
  withElements(data, result, [&](auto in, auto out) {
    for (auto [i, offset] : llvm::enumerate(tuples->offsets))
      std::copy_n(in.begin() + offset, slice, out.begin() + static_cast<int64_t>(i) * slice);
  });
  ctx.set(gather.getOutput(), result);
  return success();
}

//===----------------------------------------------------------------------===//
// ScatterND
//===----------------------------------------------------------------------===//

enum class Reduction { None, Add, Mul, Max, Min };

template <typename T> T reduce(Reduction reduction, T current, T update) {
  switch (reduction) {
  case Reduction::None:
    return update;
  case Reduction::Add: // integers wrap like the element type instead of overflowing
    return wrappingAdd(current, update);
  case Reduction::Mul:
    return wrappingMul(current, update);
  case Reduction::Max:
    return maxPropagatingNaN(current, update);
  case Reduction::Min:
    return minPropagatingNaN(current, update);
  }
  return update;
}

LogicalResult runScatterND(Operation *op, ExecutionContext &ctx) {
  auto scatter = cast<OnnxScatterNDOp>(op);
  const Tensor &data = ctx.get(scatter.getData());
  const Tensor &indices = ctx.get(scatter.getIndices());
  const Tensor &updates = ctx.get(scatter.getUpdates());
  Reduction reduction = llvm::StringSwitch<Reduction>(scatter.getReduction())
                            .Case("add", Reduction::Add)
                            .Case("mul", Reduction::Mul)
                            .Case("max", Reduction::Max)
                            .Case("min", Reduction::Min)
                            .Default(Reduction::None);
  FailureOr<IndexTuples> tuples = resolveTuples(op, data, indices, /*batchDims=*/0);
  if (failed(tuples))
    return failure();
  // updates: indices.shape[:-1] + data.shape[k:].
  int64_t k = indices.getShape().back();
  SmallVector<int64_t> updatesShape(indices.getShape().drop_back());
  llvm::append_range(updatesShape, data.getShape().drop_front(k));
  if (updates.getShape() != ArrayRef<int64_t>(updatesShape) ||
      updates.getDType() != data.getDType())
    return op->emitOpError() << "updates " << updates.describe() << " must have shape "
                             << formatShape(updatesShape) << " and the data's element type";
  Tensor result = Tensor::zeros(data.getDType(), data.getShape());
  copyElements(data, 0, result, 0, data.getNumElements());
  int64_t slice = tuples->sliceSize;
  // In the compute type, so that max and min compare u64 values unsigned.
  visitComputeType(data.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto in = getStored<T>(updates);
    auto out = getMutableStored<T>(result);
    for (auto [t, offset] : llvm::enumerate(tuples->offsets))
      for (int64_t i = 0; i < slice; ++i)
        out[offset + i] = static_cast<StoredType<T>>(
            reduce(reduction, static_cast<T>(out[offset + i]), static_cast<T>(in[t * slice + i])));
  });
  // Sums and products may leave the element type's range (f16, int8, bool, ...).
  if (reduction == Reduction::Add || reduction == Reduction::Mul)
    result.normalize();
  ctx.set(scatter.getOutput(), result);
  return success();
}

//===----------------------------------------------------------------------===//
// Trilu
//===----------------------------------------------------------------------===//

LogicalResult runTrilu(Operation *op, ExecutionContext &ctx) {
  auto trilu = cast<OnnxTriluOp>(op);
  const Tensor &input = ctx.get(trilu.getInput());
  if (input.getRank() < 2)
    return op->emitOpError() << "input must have rank >= 2, got " << input.describe();
  int64_t k = 0;
  if (const Tensor *kTensor = ctx.getOptional(trilu.getK())) {
    if (kTensor->getNumElements() != 1)
      return op->emitOpError() << "'k' must be a scalar, got " << kTensor->describe();
    k = kTensor->getInt(0);
  }
  bool upper = static_cast<int64_t>(trilu.getUpper()) != 0;
  int64_t rows = input.getShape()[input.getRank() - 2], cols = input.getShape().back();
  // Upper keeps j - i >= k, lower keeps j - i <= k; the rest stays zero. Comparing j - i with k
  // avoids overflowing i + k for extreme k.
  int64_t matrices = rows * cols == 0 ? 0 : input.getNumElements() / (rows * cols);
  Tensor result = Tensor::zeros(input.getDType(), input.getShape());
  withElements(input, result, [&](auto in, auto out) {
    for (int64_t m = 0; m < matrices; ++m)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
          if (upper ? j - i >= k : j - i <= k)
            out[(m * rows + i) * cols + j] = in[(m * rows + i) * cols + j];
  });
  ctx.set(trilu.getOutput(), result);
  return success();
}

} // namespace

void registerIndexingKernels(KernelRegistry &registry) {
  registry.add(OnnxSliceOp::getOperationName(), runSlice);
  registry.add(OnnxGatherOp::getOperationName(), runGather);
  registry.add(OnnxGatherElementsOp::getOperationName(), runGatherElements);
  registry.add(OnnxGatherNDOp::getOperationName(), runGatherND);
  registry.add(OnnxScatterNDOp::getOperationName(), runScatterND);
  registry.add(OnnxTriluOp::getOperationName(), runTrilu);
}

} // namespace kiln::exec
