//===- DataMovementKernels.cpp - layout, indexing and shape-value kernels -===//
//
// Templates of the ops that move data rather than compute on it, with the CPU executor's ONNX
// semantics (lib/Executor/ShapeKernels.cpp, IndexingKernels.cpp, ReductionKernels.cpp):
//
// - views, no kernel: Reshape, Flatten, Squeeze, Unsqueeze (their shape/axes operands are not
//   lowered), and the Transposes, Expands, Concats and Splits that turn out not to move
//   anything;
// - a strided copy (`out[i] = in[base + sum_d idx_d * stride_d]`): Transpose that keeps the
//   innermost dim (and, at 1 element per thread, any other), Slice, Expand. Adjacent dims that
//   stay contiguous are merged first, static unit dims dropped; where the innermost run is
//   contiguous each thread moves 16 bytes (vector loads/stores) when a uniform run-time check
//   (buffer alignment, dynamic strides and sizes divisible by the vector) holds, element by
//   element otherwise;
// - a shared-memory tiled transpose (32x32 tiles, 32x8 threads) for permutations that move the
//   innermost dim;
// - Concat (N inputs) and Split (N outputs) in one kernel each, 16 bytes per thread where the
//   pieces allow it; Gather (vectorised rows: embedding lookup), GatherElements, GatherND,
//   ScatterND, Trilu, CumSum (one thread per scan line), Range, Shape, Size, ConstantOfShape.
//
// Result dims are computed on the host from the operands' dims and constant operands wherever
// the op allows it (Flatten's `seq * 4`, Concat's `past + seq`, Split's `ceil(seq / 2)` are no
// expressions of the symbolic shape analysis); the analysis gives the rest (Slice with ends from
// a Shape, Range, ConstantOfShape).
//
// Kernels that only move elements take their buffers as signless integers of the element's
// width (`memref<?xi16>` for f16 and bf16 alike), so one kernel serves every type of a width.
// Out-of-range gather indices read zeros and out-of-range scatter indices are skipped (the CPU
// executor reports an error instead).
//
//===----------------------------------------------------------------------===//

#include "../../Dialect/Kiln/Transforms/ConstantValues.h"
#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/TensorAttr.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/STLExtras.h"

#include <numeric>

using namespace mlir;

namespace kiln::gpu_codegen {
namespace {

constexpr int32_t kThreads = 256;
/// Bytes one thread moves at once on the vector paths (ld/st.global.v4.b32).
constexpr int64_t kVectorBytes = 16;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

std::optional<int64_t> constantOf(Value value) {
  if (!value)
    return std::nullopt;
  return getConstantIntValue(value);
}

bool isConstant(Value value, int64_t expected) { return constantOf(value) == expected; }

/// Whether two host dims are known equal (the same value, or equal constants).
bool sameDim(Value a, Value b) {
  if (a == b)
    return true;
  auto ca = constantOf(a), cb = constantOf(b);
  return ca && cb && *ca == *cb;
}

/// The signless integer type a kernel moves storage elements of `storage` as.
Type bitsType(Type storage) {
  return IntegerType::get(storage.getContext(), storage.getIntOrFloatBitWidth());
}

/// The element type of a buffer a kernel computes on: float storage stays, integers (signed or
/// not) become signless of the same width.
Type arithmeticBufferType(Type storage) {
  if (isa<FloatType>(storage))
    return storage;
  return bitsType(storage);
}

int64_t elementBytes(Type type) { return std::max<int64_t>(1, type.getIntOrFloatBitWidth() / 8); }

/// memref.load/store with the element's natural alignment (without it, i64 and f64 accesses
/// are split in two: the gpu.module has no data layout, and LLVM's default aligns i64 to 4).
Value loadNatural(OpBuilder &b, Location loc, Value buffer, Value index) {
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  return memref::LoadOp::create(b, loc, buffer, ValueRange{index}, /*nontemporal=*/false,
                                llvm::MaybeAlign(elementBytes(element)));
}
void storeNatural(OpBuilder &b, Location loc, Value value, Value buffer, Value index) {
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  memref::StoreOp::create(b, loc, value, buffer, ValueRange{index}, /*nontemporal=*/false,
                          llvm::MaybeAlign(elementBytes(element)));
}
/// loadElement/storeElement (storage <-> compute conversion) with natural alignment.
Value loadAs(OpBuilder &b, Location loc, Value buffer, Value index, Type type) {
  return convertScalar(b, loc, loadNatural(b, loc, buffer, index), type);
}
void storeAs(OpBuilder &b, Location loc, Value value, Value buffer, Value index) {
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  storeNatural(b, loc, convertScalar(b, loc, value, element), buffer, index);
}

LogicalResult unsupported(Operation *op, const Twine &what) {
  return op->emitError() << "GPU lowering of " << op->getName() << ": " << what
                         << " is not supported";
}

/// Every value must have a ranked tensor type (storageTensorType needs one).
LogicalResult checkRanked(Operation *op, ValueRange values) {
  for (Value value : values)
    if (value && !isa<RankedTensorType>(value.getType()))
      return unsupported(op, "an unranked operand or result");
  return success();
}

/// The host tensor of `value` with element type `element`: converted when its storage type
/// differs (a value kept in f32, e.g. rotary angles, feeding an f16 result, or the reverse).
Value tensorAs(KernelEmitter &emitter, Value value, Type element, Operation *user) {
  Value hostTensor = emitter.tensor(value);
  if (!hostTensor || cast<RankedTensorType>(hostTensor.getType()).getElementType() == element)
    return hostTensor;
  FailureOr<SmallVector<Value>> dims = emitter.dims(value, user);
  if (failed(dims))
    return {};
  return emitter.convert(hostTensor, *dims, element);
}

std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

std::string numberName(int64_t value) {
  return value < 0 ? "m" + std::to_string(-static_cast<uint64_t>(value)) : std::to_string(value);
}

// ---- host index arithmetic (constant-folded; ops the host plan can evaluate) ------------

struct Host {
  KernelEmitter &emitter;

  Value c(int64_t value) { return emitter.index(value); }
  Value add(Value a, Value b) { return emitter.add(a, b); }
  Value mul(Value a, Value b) { return emitter.mul(a, b); }
  Value sub(Value a, Value b) {
    auto ca = constantOf(a), cb = constantOf(b);
    if (ca && cb)
      return c(*ca - *cb);
    if (cb == 0)
      return a;
    return arith::SubIOp::create(emitter.host(), emitter.loc(), a, b);
  }
  Value min(Value a, Value b) {
    auto ca = constantOf(a), cb = constantOf(b);
    if (ca && cb)
      return c(std::min(*ca, *cb));
    return arith::MinSIOp::create(emitter.host(), emitter.loc(), a, b);
  }
  Value max(Value a, Value b) {
    auto ca = constantOf(a), cb = constantOf(b);
    if (ca && cb)
      return c(std::max(*ca, *cb));
    return arith::MaxSIOp::create(emitter.host(), emitter.loc(), a, b);
  }
  Value clamp(Value v, Value lo, Value hi) { return max(min(v, hi), lo); }
  /// ceil(a / divisor) for a signed `a` and a positive divisor.
  Value ceilDivSigned(Value a, int64_t divisor) {
    if (auto ca = constantOf(a))
      return c(*ca > 0 ? (*ca - 1) / divisor + 1 : -(-*ca / divisor));
    if (divisor == 1)
      return a;
    return arith::CeilDivSIOp::create(emitter.host(), emitter.loc(), a, c(divisor));
  }
  /// Row-major strides of `dims`.
  SmallVector<Value> strides(ArrayRef<Value> dims) {
    SmallVector<Value> result(dims.size());
    Value stride = c(1);
    for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      result[d] = stride;
      stride = mul(stride, dims[d]);
    }
    return result;
  }
};

// ---- kernel parameters ------------------------------------------------------------------

/// The host index values a kernel depends on: constants are baked into the kernel (and its
/// name), the others are passed as i64 scalars in order.
class KernelParams {
public:
  unsigned add(Value hostValue) {
    values.push_back(hostValue);
    constants.push_back(constantOf(hostValue));
    return values.size() - 1;
  }
  /// Adds a value that is always passed as a scalar (its constant is not baked in).
  unsigned addDynamic(Value hostValue) {
    values.push_back(hostValue);
    constants.push_back(std::nullopt);
    return values.size() - 1;
  }
  unsigned addAll(ArrayRef<Value> hostValues) {
    unsigned first = values.size();
    for (Value value : hostValues)
      add(value);
    return first;
  }
  std::optional<int64_t> constant(unsigned i) const { return constants[i]; }
  /// `_4_d_32`: the constants, `d` for each scalar.
  std::string signature() const {
    std::string result;
    for (const std::optional<int64_t> &value : constants)
      result += "_" + (value ? numberName(*value) : std::string("d"));
    return result;
  }
  SmallVector<Value> scalars() const {
    SmallVector<Value> result;
    for (auto [value, constant] : llvm::zip_equal(values, constants))
      if (!constant)
        result.push_back(value);
    return result;
  }
  unsigned numScalars() const { return llvm::count(constants, std::nullopt); }
  /// Inside the kernel: every parameter as an index value.
  SmallVector<Value> materialize(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel,
                                 unsigned numBuffers) const {
    SmallVector<Value> result;
    unsigned scalar = 0;
    for (const std::optional<int64_t> &value : constants)
      result.push_back(value ? indexConstant(b, loc, *value)
                             : scalarArgument(b, loc, kernel, numBuffers, scalar++));
    return result;
  }

private:
  SmallVector<Value> values;
  SmallVector<std::optional<int64_t>> constants;
};

// ---- device-side helpers ----------------------------------------------------------------

/// Index arithmetic inside a kernel, folded where the operands are constants.
struct Dev {
  OpBuilder &b;
  Location loc;

  Value c(int64_t value) { return indexConstant(b, loc, value); }
  Value add(Value x, Value y) { return b.createOrFold<arith::AddIOp>(loc, x, y); }
  Value sub(Value x, Value y) { return b.createOrFold<arith::SubIOp>(loc, x, y); }
  Value mul(Value x, Value y) { return b.createOrFold<arith::MulIOp>(loc, x, y); }
  Value div(Value x, Value y) { return b.createOrFold<arith::DivUIOp>(loc, x, y); }
  Value rem(Value x, Value y) { return b.createOrFold<arith::RemUIOp>(loc, x, y); }
  Value cmp(arith::CmpIPredicate predicate, Value x, Value y) {
    return b.createOrFold<arith::CmpIOp>(loc, predicate, x, y);
  }
  Value lt(Value x, Value y) { return cmp(arith::CmpIPredicate::slt, x, y); }
  Value ge(Value x, Value y) { return cmp(arith::CmpIPredicate::sge, x, y); }
  Value eq(Value x, Value y) { return cmp(arith::CmpIPredicate::eq, x, y); }
  Value andI(Value x, Value y) { return b.createOrFold<arith::AndIOp>(loc, x, y); }
  Value select(Value condition, Value x, Value y) {
    return b.createOrFold<arith::SelectOp>(loc, condition, x, y);
  }
  Value trueValue() { return arith::ConstantIntOp::create(b, loc, 1, 1); }
  /// Whether `buffer`'s first element lies on a `bytes` boundary.
  Value aligned(Value buffer, int64_t bytes) {
    Value pointer = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
    return eq(rem(pointer, c(bytes)), c(0));
  }
  /// Whether `value` (an index) is a multiple of `divisor` (also for negative values).
  Value divisible(Value value, int64_t divisor) {
    Value remainder = b.createOrFold<arith::RemSIOp>(loc, value, c(divisor));
    return eq(remainder, c(0));
  }
  /// Loads an integer index element (i32 or i64) of `buffer` as an index (sign-extended).
  Value loadIndex(Value buffer, Value i) {
    Value loaded = loadNatural(b, loc, buffer, i);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), loaded);
  }
  /// Copies `width` elements from `source[sourceIndex]` to `target[targetIndex]`: one vector
  /// load/store (aligned to its size) when width > 1.
  void copy(Value source, Value sourceIndex, Value target, Value targetIndex, int64_t width) {
    Type element = cast<MemRefType>(source.getType()).getElementType();
    if (width == 1) {
      Value value = loadNatural(b, loc, source, sourceIndex);
      storeNatural(b, loc, value, target, targetIndex);
      return;
    }
    auto type = VectorType::get({width}, element);
    llvm::MaybeAlign alignment(width * elementBytes(element));
    Value value = vector::LoadOp::create(b, loc, type, source, ValueRange{sourceIndex},
                                         /*nontemporal=*/false, alignment);
    vector::StoreOp::create(b, loc, value, target, ValueRange{targetIndex},
                            /*nontemporal=*/false, alignment);
  }
  /// Stores `width` zero elements at `target[targetIndex]`.
  void zero(Value target, Value targetIndex, int64_t width) {
    Type element = cast<MemRefType>(target.getType()).getElementType();
    Value zeroValue = arith::ConstantOp::create(b, loc, element, b.getZeroAttr(element));
    if (width == 1) {
      storeNatural(b, loc, zeroValue, target, targetIndex);
      return;
    }
    auto type = VectorType::get({width}, element);
    Value splat = vector::BroadcastOp::create(b, loc, type, zeroValue);
    vector::StoreOp::create(b, loc, splat, target, ValueRange{targetIndex},
                            /*nontemporal=*/false, llvm::MaybeAlign(width * elementBytes(element)));
  }
  void ifThen(Value condition, function_ref<void(OpBuilder &, Location)> then) {
    scf::IfOp::create(b, loc, condition, [&](OpBuilder &nested, Location nestedLoc) {
      then(nested, nestedLoc);
      scf::YieldOp::create(nested, nestedLoc);
    });
  }
  void ifThenElse(Value condition, function_ref<void(OpBuilder &, Location)> then,
                  function_ref<void(OpBuilder &, Location)> otherwise) {
    scf::IfOp::create(
        b, loc, condition,
        [&](OpBuilder &nested, Location nestedLoc) {
          then(nested, nestedLoc);
          scf::YieldOp::create(nested, nestedLoc);
        },
        [&](OpBuilder &nested, Location nestedLoc) {
          otherwise(nested, nestedLoc);
          scf::YieldOp::create(nested, nestedLoc);
        });
  }
};

/// Runs `vectorBody` over `count / width` chunks when `vectorOk` holds at run time, else
/// `scalarBody` over `count` elements; both grid-stride. width == 1: only the scalar loop.
void vectorOrScalarLoops(OpBuilder &b, Location loc, int64_t width, Value vectorOk, Value count,
                         function_ref<void(OpBuilder &, Location, Value)> vectorBody,
                         function_ref<void(OpBuilder &, Location, Value)> scalarBody) {
  if (width == 1) {
    gridStrideLoop(b, loc, count, scalarBody);
    return;
  }
  Dev{b, loc}.ifThenElse(
      vectorOk,
      [&](OpBuilder &b, Location loc) {
        Value chunks = Dev{b, loc}.div(count, Dev{b, loc}.c(width));
        gridStrideLoop(b, loc, chunks, vectorBody);
      },
      [&](OpBuilder &b, Location loc) { gridStrideLoop(b, loc, count, scalarBody); });
}

/// Blocks of kThreads threads for `count` work items of `width` elements.
Grid linearGrid(KernelEmitter &emitter, Value count, int64_t width = 1) {
  return {emitter.ceilDiv(count, kThreads * width), emitter.index(1), emitter.index(1)};
}

/// The largest vector width (elements of `bytes` each, at most 16 bytes) dividing every known
/// value of `multiples` (the unknown ones are checked at run time).
int64_t chooseWidth(int64_t bytes, ArrayRef<std::optional<int64_t>> multiples) {
  for (int64_t width = kVectorBytes / bytes; width > 1; width /= 2) {
    bool fits = llvm::all_of(multiples, [&](const std::optional<int64_t> &value) {
      return !value || *value % width == 0;
    });
    if (fits)
      return width;
  }
  return 1;
}

//===----------------------------------------------------------------------===//
// Strided copy: Transpose (innermost kept, or generic), Slice, Expand
//===----------------------------------------------------------------------===//

/// One output dim of a strided copy: its size, the input stride it walks with, and whether
/// the next dim continues it contiguously (stride == next.size * next.stride), so that the
/// two merge into one.
struct StridedDim {
  Value size;
  Value stride;
  bool contiguousWithNext = false;
};

/// out[i] = in[base + sum_d idx_d * stride_d], idx the row-major multi-index of i in the
/// output dims: a fresh tensor of `resultType`/`resultDims` (same element count).
Value emitStridedCopy(KernelEmitter &emitter, Value source, ArrayRef<StridedDim> layout, Value base,
                      RankedTensorType resultType, ArrayRef<Value> resultDims) {
  Host host{emitter};
  // Drop unit dims (their stride is never used), then merge contiguous neighbours.
  SmallVector<StridedDim> kept;
  for (const StridedDim &dim : layout) {
    if (isConstant(dim.size, 1)) {
      if (!kept.empty())
        kept.back().contiguousWithNext &= dim.contiguousWithNext;
      continue;
    }
    kept.push_back(dim);
  }
  SmallVector<StridedDim> dims;
  for (const StridedDim &dim : kept) {
    if (!dims.empty()) {
      StridedDim &last = dims.back();
      auto stride = constantOf(last.stride), size = constantOf(dim.size),
           inner = constantOf(dim.stride);
      bool contiguous =
          last.contiguousWithNext || (stride && size && inner && *stride == *size * *inner);
      if (contiguous) {
        last = {host.mul(last.size, dim.size), dim.stride, dim.contiguousWithNext};
        continue;
      }
    }
    dims.push_back(dim);
  }
  if (dims.empty())
    dims.push_back({host.c(1), host.c(0), false});
  int64_t rank = dims.size();

  Type storage = resultType.getElementType();
  Type bits = bitsType(storage);
  int64_t bytes = elementBytes(bits);
  Value count = emitter.product(resultDims, 0, resultDims.size());

  KernelParams params;
  SmallVector<Value> sizes, strides;
  for (const StridedDim &dim : dims) {
    sizes.push_back(dim.size);
    strides.push_back(dim.stride);
  }
  unsigned sizeIndex = params.addAll(sizes);
  unsigned strideIndex = params.addAll(strides);
  unsigned baseIndex = params.add(base);
  unsigned countIndex = params.add(count);

  // A vector moves `width` consecutive elements of the innermost dim: that dim must be walked
  // with stride 1, and its size, the other strides and the base must be multiples of width.
  int64_t width = 1;
  if (isConstant(strides.back(), 1)) {
    SmallVector<std::optional<int64_t>> multiples = {params.constant(baseIndex),
                                                     params.constant(sizeIndex + rank - 1)};
    for (int64_t d = 0; d + 1 < rank; ++d)
      multiples.push_back(params.constant(strideIndex + d));
    width = chooseWidth(bytes, multiples);
  }

  std::string name =
      "strided_copy_" + typeName(bits) + "_v" + std::to_string(width) + params.signature();
  BlockSize block = {kThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {bits}, {bits}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        SmallVector<Value> p = params.materialize(b, loc, f, 2);
        ArrayRef<Value> dimValues = ArrayRef<Value>(p).slice(sizeIndex, rank);
        ArrayRef<Value> strideValues = ArrayRef<Value>(p).slice(strideIndex, rank);
        Value baseValue = p[baseIndex], countValue = p[countIndex];
        Value in = f.getArgument(0), out = f.getArgument(1);
        auto sourceOffset = [&](Dev &m, ArrayRef<Value> index) {
          Value offset = baseValue;
          for (auto [i, stride] : llvm::zip_equal(index, strideValues))
            offset = m.add(offset, m.mul(i, stride));
          return offset;
        };
        Value vectorOk;
        if (width > 1) {
          Dev m{b, loc};
          vectorOk = m.andI(m.aligned(in, width * bytes), m.aligned(out, width * bytes));
          if (!params.constant(baseIndex))
            vectorOk = m.andI(vectorOk, m.divisible(baseValue, width));
          if (!params.constant(sizeIndex + rank - 1))
            vectorOk = m.andI(vectorOk, m.divisible(dimValues.back(), width));
          for (int64_t d = 0; d + 1 < rank; ++d)
            if (!params.constant(strideIndex + d))
              vectorOk = m.andI(vectorOk, m.divisible(strideValues[d], width));
        }
        vectorOrScalarLoops(
            b, loc, width, vectorOk, countValue,
            [&](OpBuilder &b, Location loc, Value chunk) {
              Dev m{b, loc};
              SmallVector<Value> chunkDims(dimValues);
              chunkDims.back() = m.div(chunkDims.back(), m.c(width));
              SmallVector<Value> index = delinearize(b, loc, chunk, chunkDims);
              index.back() = m.mul(index.back(), m.c(width));
              m.copy(in, sourceOffset(m, index), out, m.mul(chunk, m.c(width)), width);
            },
            [&](OpBuilder &b, Location loc, Value i) {
              Dev m{b, loc};
              SmallVector<Value> index = delinearize(b, loc, i, dimValues);
              m.copy(in, sourceOffset(m, index), out, i, 1);
            });
      });
  return emitter
      .launch(kernel, {source}, {ResultSpec{resultType, SmallVector<Value>(resultDims)}},
              params.scalars(), linearGrid(emitter, count, width), block)
      .front();
}

//===----------------------------------------------------------------------===//
// Views
//===----------------------------------------------------------------------===//

/// The dims of a view's result computed from its operand's dims where the op's operands are
/// constants (Flatten always): a `seq * 4` is no expression of the shape analysis, but the
/// host plan computes it. std::nullopt: ask the shape analysis.
std::optional<SmallVector<Value>> viewDims(Operation *op, KernelEmitter &emitter,
                                           ArrayRef<Value> in) {
  Host host{emitter};
  int64_t rank = in.size();
  if (auto flatten = dyn_cast<OnnxFlattenOp>(op)) {
    int64_t axis = static_cast<int64_t>(flatten.getAxis());
    if (axis < 0)
      axis += rank;
    if (axis < 0 || axis > rank)
      return std::nullopt;
    return SmallVector<Value>{emitter.product(in, 0, axis), emitter.product(in, axis, rank)};
  }
  if (auto unsqueeze = dyn_cast<OnnxUnsqueezeOp>(op)) {
    std::optional<SmallVector<int64_t>> axes = getConstantInts(unsqueeze.getAxes());
    if (!axes)
      return std::nullopt;
    int64_t outRank = rank + axes->size();
    SmallVector<bool> inserted(outRank, false);
    for (int64_t axis : *axes) {
      std::optional<int64_t> normalized = normalizeAxis(axis, outRank);
      if (!normalized || inserted[*normalized])
        return std::nullopt;
      inserted[*normalized] = true;
    }
    SmallVector<Value> dims;
    size_t next = 0;
    for (int64_t d = 0; d < outRank; ++d)
      dims.push_back(inserted[d] ? host.c(1) : in[next++]);
    return dims;
  }
  if (auto squeeze = dyn_cast<OnnxSqueezeOp>(op)) {
    SmallVector<bool> removed(rank, false);
    if (Value axesValue = squeeze.getAxes()) {
      std::optional<SmallVector<int64_t>> axes = getConstantInts(axesValue);
      if (!axes)
        return std::nullopt;
      for (int64_t axis : *axes) {
        std::optional<int64_t> normalized = normalizeAxis(axis, rank);
        if (!normalized)
          return std::nullopt;
        removed[*normalized] = true;
      }
    } else {
      // Without axes every dim of size 1 goes: only known when all dims are.
      for (int64_t d = 0; d < rank; ++d) {
        std::optional<int64_t> size = constantOf(in[d]);
        if (!size)
          return std::nullopt;
        removed[d] = *size == 1;
      }
    }
    SmallVector<Value> dims;
    for (int64_t d = 0; d < rank; ++d)
      if (!removed[d])
        dims.push_back(in[d]);
    return dims;
  }
  if (auto reshape = dyn_cast<OnnxReshapeOp>(op)) {
    std::optional<SmallVector<int64_t>> shape = getConstantInts(reshape.getShape());
    if (!shape)
      return std::nullopt;
    bool allowZero = static_cast<int64_t>(reshape.getAllowzero()) != 0;
    SmallVector<Value> dims;
    std::optional<size_t> inferred;
    for (auto [i, size] : llvm::enumerate(*shape)) {
      if (size == -1) {
        if (inferred)
          return std::nullopt;
        inferred = i;
        dims.push_back(Value());
      } else if (size == 0 && !allowZero) {
        if (static_cast<int64_t>(i) >= rank)
          return std::nullopt;
        dims.push_back(in[i]);
      } else if (size < 0) {
        return std::nullopt;
      } else {
        dims.push_back(host.c(size));
      }
    }
    if (inferred) {
      // -1: the input's element count over the other dims'. Cancel the dynamic dims both
      // sides share (seq * 256 / 256 is seq), divide what is left.
      int64_t inConstant = 1, knownConstant = 1;
      SmallVector<Value> inDynamic, knownDynamic;
      for (Value dim : in) {
        if (auto c = constantOf(dim))
          inConstant *= *c;
        else
          inDynamic.push_back(dim);
      }
      for (Value dim : dims) {
        if (!dim)
          continue;
        if (auto c = constantOf(dim)) {
          knownConstant *= *c;
        } else if (auto it = llvm::find(inDynamic, dim); it != inDynamic.end()) {
          inDynamic.erase(it);
        } else {
          knownDynamic.push_back(dim);
        }
      }
      if (knownConstant == 0)
        return std::nullopt;
      if (knownDynamic.empty() && inConstant % knownConstant == 0) {
        inDynamic.push_back(host.c(inConstant / knownConstant));
        dims[*inferred] = emitter.product(inDynamic, 0, inDynamic.size());
      } else {
        Value total = emitter.product(in, 0, rank);
        SmallVector<Value> known;
        for (Value dim : dims)
          if (dim)
            known.push_back(dim);
        Value knownCount = emitter.product(known, 0, known.size());
        dims[*inferred] = arith::DivUIOp::create(emitter.host(), emitter.loc(), total, knownCount);
      }
    }
    return dims;
  }
  return std::nullopt;
}

/// Reshape, Flatten, Squeeze, Unsqueeze: the operand's buffer seen with the result's dims.
LogicalResult lowerView(Operation *op, KernelEmitter &emitter) {
  Value input = op->getOperand(0), result = op->getResult(0);
  if (failed(checkRanked(op, {input, result})))
    return failure();
  FailureOr<SmallVector<Value>> inDims = emitter.dims(input, op);
  if (failed(inDims))
    return failure();
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value source = tensorAs(emitter, input, resultType.getElementType(), op);
  if (!source)
    return failure();
  std::optional<SmallVector<Value>> dims = viewDims(op, emitter, *inDims);
  if (!dims || static_cast<int64_t>(dims->size()) != resultType.getRank()) {
    FailureOr<SmallVector<Value>> analysed = emitter.dims(result, op);
    if (failed(analysed))
      return failure();
    dims = std::move(*analysed);
  }
  emitter.setResult(result, emitter.view(source, resultType, *dims));
  return success();
}

//===----------------------------------------------------------------------===//
// Transpose
//===----------------------------------------------------------------------===//

/// A 32x32 tile of the plane (input dim `c` = the output's innermost, input innermost dim
/// `a`) per block of 32x8 threads, through shared memory: reads along a, writes along c, both
/// coalesced. The other dims are a batch walked by the block index.
Value emitTiledTranspose(KernelEmitter &emitter, Value source, ArrayRef<Value> inDims,
                         ArrayRef<int64_t> perm, RankedTensorType resultType,
                         ArrayRef<Value> resultDims) {
  constexpr int64_t kTile = 32, kRows = 8;
  int64_t rank = inDims.size();
  int64_t a = rank - 1, c = perm[rank - 1];
  int64_t q = llvm::find(perm, a) - perm.begin(); // output position of input dim a
  Type bits = bitsType(resultType.getElementType());

  KernelParams params;
  params.addAll(inDims);
  // Batch dims: the output positions other than q and rank - 1, in output order.
  SmallVector<int64_t> batchPositions;
  for (int64_t j = 0; j < rank; ++j)
    if (j != q && j != rank - 1)
      batchPositions.push_back(j);
  SmallVector<Value> batchDims;
  for (int64_t j : batchPositions)
    batchDims.push_back(inDims[perm[j]]);
  Value batch = emitter.product(batchDims, 0, batchDims.size());
  Value tilesA = emitter.ceilDiv(inDims[a], kTile), tilesC = emitter.ceilDiv(inDims[c], kTile);
  Value blocks = emitter.mul(emitter.mul(tilesA, tilesC), batch);

  std::string permName;
  for (int64_t p : perm)
    permName += std::to_string(p);
  std::string name = "transpose_tile_" + typeName(bits) + "_p" + permName + params.signature();
  BlockSize block = {kTile, kRows, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {bits}, {bits}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
        auto tileType =
            MemRefType::get({kTile, kTile + 1}, bits, MemRefLayoutAttrInterface(), workgroup);
        Value tile = f.addWorkgroupAttribution(tileType, loc);
        Dev m{b, loc};
        SmallVector<Value> dims = params.materialize(b, loc, f, 2);
        Value in = f.getArgument(0), out = f.getArgument(1);
        SmallVector<Value> inStrides(rank), outDims(rank), outStrides(rank);
        Value stride = m.c(1);
        for (int64_t d = rank - 1; d >= 0; --d) {
          inStrides[d] = stride;
          stride = m.mul(stride, dims[d]);
        }
        for (int64_t j = 0; j < rank; ++j)
          outDims[j] = dims[perm[j]];
        stride = m.c(1);
        for (int64_t j = rank - 1; j >= 0; --j) {
          outStrides[j] = stride;
          stride = m.mul(stride, outDims[j]);
        }
        Value sizeA = dims[a], sizeC = dims[c];
        Value numTilesA = m.div(m.add(sizeA, m.c(kTile - 1)), m.c(kTile));
        Value numTilesC = m.div(m.add(sizeC, m.c(kTile - 1)), m.c(kTile));
        Value blockId = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
        Value tileA = m.rem(blockId, numTilesA);
        Value rest = m.div(blockId, numTilesA);
        Value tileC = m.rem(rest, numTilesC);
        Value batchIndex = m.div(rest, numTilesC);
        SmallVector<Value> batchSizes;
        for (int64_t j : batchPositions)
          batchSizes.push_back(outDims[j]);
        Value inBase = m.c(0), outBase = m.c(0);
        if (!batchSizes.empty()) {
          SmallVector<Value> index = delinearize(b, loc, batchIndex, batchSizes);
          for (auto [i, j] : llvm::enumerate(batchPositions)) {
            inBase = m.add(inBase, m.mul(index[i], inStrides[perm[j]]));
            outBase = m.add(outBase, m.mul(index[i], outStrides[j]));
          }
        }
        Value tx = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
        Value ty = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::y);
        Value firstA = m.mul(tileA, m.c(kTile)), firstC = m.mul(tileC, m.c(kTile));
        // Read: row r of the tile is c = firstC + r, column tx is a = firstA + tx.
        for (int64_t row = 0; row < kTile; row += kRows) {
          Value r = m.add(ty, m.c(row));
          Value cIndex = m.add(firstC, r), aIndex = m.add(firstA, tx);
          m.ifThen(m.andI(m.lt(cIndex, sizeC), m.lt(aIndex, sizeA)),
                   [&](OpBuilder &b, Location loc) {
                     Dev n{b, loc};
                     Value offset = n.add(n.add(inBase, n.mul(cIndex, inStrides[c])), aIndex);
                     Value value = loadNatural(b, loc, in, offset);
                     memref::StoreOp::create(b, loc, value, tile, ValueRange{r, tx});
                   });
        }
        gpu::BarrierOp::create(b, loc);
        // Write: a = firstA + r, c = firstC + tx (contiguous in the output).
        for (int64_t row = 0; row < kTile; row += kRows) {
          Value r = m.add(ty, m.c(row));
          Value aIndex = m.add(firstA, r), cIndex = m.add(firstC, tx);
          m.ifThen(m.andI(m.lt(aIndex, sizeA), m.lt(cIndex, sizeC)),
                   [&](OpBuilder &b, Location loc) {
                     Dev n{b, loc};
                     Value offset = n.add(n.add(outBase, n.mul(aIndex, outStrides[q])), cIndex);
                     Value value = memref::LoadOp::create(b, loc, tile, ValueRange{tx, r});
                     storeNatural(b, loc, value, out, offset);
                   });
        }
      });
  return emitter
      .launch(kernel, {source}, {ResultSpec{resultType, SmallVector<Value>(resultDims)}},
              params.scalars(), {blocks, emitter.index(1), emitter.index(1)}, block)
      .front();
}

LogicalResult lowerTranspose(Operation *op, KernelEmitter &emitter) {
  auto transpose = cast<OnnxTransposeOp>(op);
  Value input = transpose.getData(), result = transpose.getTransposed();
  if (failed(checkRanked(op, {input, result})))
    return failure();
  SmallVector<int64_t> perm = transpose.getPermutation();
  FailureOr<SmallVector<Value>> inDims = emitter.dims(input, op);
  if (failed(inDims))
    return failure();
  if (static_cast<int64_t>(perm.size()) != static_cast<int64_t>(inDims->size()))
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": 'perm' does not match the rank";
  SmallVector<Value> resultDims;
  for (int64_t p : perm)
    resultDims.push_back((*inDims)[p]);
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value source = tensorAs(emitter, input, resultType.getElementType(), op);
  if (!source)
    return failure();
  Host host{emitter};

  // Drop unit dims, then merge input dims that stay adjacent and in order in the output.
  int64_t rank = inDims->size();
  SmallVector<int64_t> newIndex(rank, -1);
  SmallVector<Value> keptDims;
  for (int64_t d = 0; d < rank; ++d) {
    if (isConstant((*inDims)[d], 1))
      continue;
    newIndex[d] = keptDims.size();
    keptDims.push_back((*inDims)[d]);
  }
  SmallVector<std::pair<int64_t, int64_t>> groups; // input dim ranges, in output order
  for (int64_t d : perm) {
    if (newIndex[d] < 0)
      continue;
    int64_t k = newIndex[d];
    if (!groups.empty() && groups.back().second + 1 == k)
      groups.back().second = k;
    else
      groups.push_back({k, k});
  }
  SmallVector<int64_t> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  llvm::sort(order, [&](int64_t x, int64_t y) { return groups[x].first < groups[y].first; });
  int64_t merged = groups.size();
  SmallVector<Value> mergedDims(merged);
  SmallVector<int64_t> mergedPerm(merged);
  for (int64_t k = 0; k < merged; ++k) {
    auto [first, last] = groups[order[k]];
    mergedDims[k] = emitter.product(keptDims, first, last + 1);
    mergedPerm[order[k]] = k;
  }
  bool identity = llvm::all_of(llvm::enumerate(mergedPerm),
                               [](auto entry) { return entry.value() == (int64_t)entry.index(); });
  if (identity) {
    // Only unit dims move: the same elements in the same order.
    emitter.setResult(result, emitter.view(source, resultType, resultDims));
    return success();
  }

  Value output;
  int64_t innermost = mergedPerm.back();
  auto small = [](Value dim) {
    auto c = constantOf(dim);
    return c && *c < 16;
  };
  if (innermost != merged - 1 && !small(mergedDims[merged - 1]) && !small(mergedDims[innermost])) {
    output = emitTiledTranspose(emitter, source, mergedDims, mergedPerm, resultType, resultDims);
  } else {
    // Rows of the innermost dim are contiguous in both (or, with a moved innermost dim of a
    // few elements, one element per thread).
    SmallVector<Value> inStrides = host.strides(mergedDims);
    SmallVector<StridedDim> layout;
    for (int64_t j = 0; j < merged; ++j)
      layout.push_back({mergedDims[mergedPerm[j]], inStrides[mergedPerm[j]], false});
    output = emitStridedCopy(emitter, source, layout, host.c(0), resultType, resultDims);
  }
  emitter.setResult(result, output);
  return success();
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

LogicalResult lowerSlice(Operation *op, KernelEmitter &emitter) {
  auto slice = cast<OnnxSliceOp>(op);
  Value input = slice.getData(), result = slice.getOutput();
  if (failed(checkRanked(op, {input, result})))
    return failure();
  std::optional<SmallVector<int64_t>> starts = getConstantInts(slice.getStarts());
  if (!starts)
    return unsupported(op, "non-constant 'starts'");
  size_t count = starts->size();
  SmallVector<int64_t> axes, steps(count, 1);
  if (Value axesValue = slice.getAxes()) {
    std::optional<SmallVector<int64_t>> constant = getConstantInts(axesValue);
    if (!constant)
      return unsupported(op, "non-constant 'axes'");
    axes = *constant;
  } else {
    for (size_t i = 0; i < count; ++i)
      axes.push_back(i);
  }
  if (Value stepsValue = slice.getSteps()) {
    std::optional<SmallVector<int64_t>> constant = getConstantInts(stepsValue);
    if (!constant)
      return unsupported(op, "non-constant 'steps'");
    steps = *constant;
  }
  // Constant ends give the sizes here; other ends (`seq` from a Shape) leave them to the shape
  // analysis.
  std::optional<SmallVector<int64_t>> ends = getConstantInts(slice.getEnds());
  if (axes.size() != count || steps.size() != count || (ends && ends->size() != count))
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": starts, ends, axes and steps have different lengths";

  FailureOr<SmallVector<Value>> inDims = emitter.dims(input, op);
  if (failed(inDims))
    return failure();
  int64_t rank = inDims->size();
  if (cast<RankedTensorType>(result.getType()).getRank() != rank)
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": the result rank differs from the data's";
  Host host{emitter};
  SmallVector<Value> outDims(*inDims);
  SmallVector<Value> begins(rank, host.c(0));
  SmallVector<int64_t> stepOf(rank, 1);
  SmallVector<bool> sliced(rank, false);
  for (size_t i = 0; i < count; ++i) {
    std::optional<int64_t> axis = normalizeAxis(axes[i], rank);
    if (!axis || sliced[*axis])
      return op->emitError() << "GPU lowering of " << op->getName()
                             << ": 'axes' are out of range or repeated";
    if (steps[i] == 0)
      return op->emitError() << "GPU lowering of " << op->getName()
                             << ": 'steps' must not contain 0";
    // A step of 2^31 or more takes one element of any dim this compiles for: bounding it
    // keeps the stride arithmetic from overflowing.
    constexpr int64_t kMaxStep = int64_t(1) << 31;
    int64_t step = std::clamp<int64_t>(steps[i], -kMaxStep, kMaxStep);
    sliced[*axis] = true;
    stepOf[*axis] = step;
    // As the executor: negative starts/ends count from the back, then both are clamped to
    // [0, dim] (forward) or [-1, dim - 1] (backward).
    Value dim = (*inDims)[*axis];
    auto resolve = [&](int64_t index) {
      Value position = index < 0 ? host.add(dim, host.c(index)) : host.c(index);
      return step > 0 ? host.clamp(position, host.c(0), dim)
                      : host.clamp(position, host.c(-1), host.sub(dim, host.c(1)));
    };
    Value begin = resolve((*starts)[i]);
    begins[*axis] = begin;
    if (ends) {
      Value end = resolve((*ends)[i]);
      Value span = step > 0 ? host.sub(end, begin) : host.sub(begin, end);
      outDims[*axis] = host.max(host.ceilDivSigned(span, step > 0 ? step : -step), host.c(0));
    }
  }
  if (!ends) {
    FailureOr<SmallVector<Value>> analysed = emitter.dims(result, op);
    if (failed(analysed))
      return failure();
    outDims = *analysed;
  }
  SmallVector<Value> inStrides = host.strides(*inDims);
  Value base = host.c(0);
  SmallVector<StridedDim> layout;
  for (int64_t d = 0; d < rank; ++d) {
    // A start past the end only happens with an empty result, where nothing is read.
    base = host.add(base, host.mul(begins[d], inStrides[d]));
    Value stride = host.mul(inStrides[d], host.c(stepOf[d]));
    // dim d + 1 untouched and d walked with step 1: the two are one contiguous run.
    bool contiguous = d + 1 < rank && !sliced[d + 1] && stepOf[d] == 1;
    layout.push_back({outDims[d], stride, contiguous});
  }
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value source = tensorAs(emitter, input, resultType.getElementType(), op);
  if (!source)
    return failure();
  emitter.setResult(result, emitStridedCopy(emitter, source, layout, base, resultType, outDims));
  return success();
}

//===----------------------------------------------------------------------===//
// Expand
//===----------------------------------------------------------------------===//

LogicalResult lowerExpand(Operation *op, KernelEmitter &emitter) {
  auto expand = cast<OnnxExpandOp>(op);
  Value input = expand.getInput(), result = expand.getOutput();
  if (failed(checkRanked(op, {input, result})))
    return failure();
  FailureOr<SmallVector<Value>> inDims = emitter.dims(input, op);
  if (failed(inDims))
    return failure();
  // The result dims: the bidirectional broadcast of the input's and a constant 'shape' (a 1
  // keeps the other side's dim); the shape analysis for a computed 'shape'.
  std::optional<SmallVector<Value>> outDims;
  if (std::optional<SmallVector<int64_t>> shape = getConstantInts(expand.getShape())) {
    int64_t inRank = inDims->size(), shapeRank = shape->size();
    int64_t outRank = std::max(inRank, shapeRank);
    outDims.emplace();
    for (int64_t d = 0; d < outRank; ++d) {
      int64_t i = d - (outRank - inRank), j = d - (outRank - shapeRank);
      Value inDim = i >= 0 ? (*inDims)[i] : Value();
      std::optional<int64_t> requested =
          j >= 0 ? std::optional<int64_t>((*shape)[j]) : std::nullopt;
      if (requested && *requested < 0)
        return op->emitError() << "GPU lowering of " << op->getName()
                               << ": 'shape' has a negative dim";
      if (!inDim || isConstant(inDim, 1))
        outDims->push_back(emitter.index(requested.value_or(1)));
      else if (!requested || *requested == 1)
        outDims->push_back(inDim);
      else
        outDims->push_back(emitter.index(*requested));
    }
  } else {
    FailureOr<SmallVector<Value>> analysed = emitter.dims(result, op);
    if (failed(analysed))
      return failure();
    outDims = std::move(*analysed);
  }
  int64_t inRank = inDims->size(), outRank = outDims->size();
  if (outRank < inRank)
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": the result has a lower rank than the input";
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value source = tensorAs(emitter, input, resultType.getElementType(), op);
  if (!source)
    return failure();
  int64_t lead = outRank - inRank;
  bool same = inRank == outRank;
  for (int64_t d = 0; same && d < inRank; ++d)
    same = sameDim((*inDims)[d], (*outDims)[d]);
  if (same) {
    emitter.setResult(result, emitter.view(source, resultType, *outDims));
    return success();
  }
  Host host{emitter};
  SmallVector<Value> inStrides = host.strides(*inDims);
  // Per output dim: 0 = broadcast (stride 0), 1 = walked like the input, 2 = decided at run
  // time (a dynamic input dim that may be 1).
  SmallVector<int> kind(outRank, 0);
  SmallVector<StridedDim> layout(outRank);
  for (int64_t d = 0; d < outRank; ++d) {
    layout[d].size = (*outDims)[d];
    layout[d].stride = host.c(0);
    int64_t i = d - lead;
    if (i < 0 || isConstant((*inDims)[i], 1))
      continue;
    Value inDim = (*inDims)[i];
    if (sameDim(inDim, (*outDims)[d]) || constantOf(inDim)) {
      kind[d] = 1;
      layout[d].stride = inStrides[i];
    } else {
      // stride * (inDim == 1 ? 0 : 1), as min(max(inDim - 1, 0), 1).
      kind[d] = 2;
      Value walks = host.clamp(host.sub(inDim, host.c(1)), host.c(0), host.c(1));
      layout[d].stride = host.mul(inStrides[i], walks);
    }
  }
  for (int64_t d = 0; d + 1 < outRank; ++d)
    layout[d].contiguousWithNext = (kind[d] == 0 && kind[d + 1] == 0) ||
                                   (kind[d] == 1 && kind[d + 1] == 1 && d + 1 - lead >= 0 &&
                                    sameDim((*inDims)[d + 1 - lead], (*outDims)[d + 1]));
  emitter.setResult(result,
                    emitStridedCopy(emitter, source, layout, host.c(0), resultType, *outDims));
  return success();
}

//===----------------------------------------------------------------------===//
// Concat and Split: [outer, pieces along axis * inner] in one kernel
//===----------------------------------------------------------------------===//

/// Builds the if-chain that finds the piece holding position `p` of a row (piece j covers
/// [starts[j], starts[j] + lengths[j])) and calls `body(j, offsetInPiece)`.
void selectPiece(OpBuilder &b, Location loc, Value p, ArrayRef<Value> starts,
                 ArrayRef<Value> lengths, size_t j,
                 function_ref<void(OpBuilder &, Location, size_t, Value)> body) {
  Dev m{b, loc};
  Value offset = m.sub(p, starts[j]);
  if (j + 1 == starts.size()) {
    body(b, loc, j, offset);
    return;
  }
  Value end = m.add(starts[j], lengths[j]);
  m.ifThenElse(
      m.lt(p, end), [&](OpBuilder &b, Location loc) { body(b, loc, j, offset); },
      [&](OpBuilder &b, Location loc) { selectPiece(b, loc, p, starts, lengths, j + 1, body); });
}

/// The concat/split kernel: pieces of `lengths` (elements per outer index) along a row of
/// their sum, `outer` rows. `gather` (Concat): pieces are inputs, the row is the output;
/// otherwise (Split) the row is the input and the pieces are outputs.
gpu::GPUFuncOp buildPiecesKernel(KernelEmitter &emitter, StringRef op, bool gather, Type bits,
                                 KernelParams &params, unsigned outerIndex, unsigned lengthIndex,
                                 size_t pieces, int64_t &width) {
  int64_t bytes = elementBytes(bits);
  SmallVector<std::optional<int64_t>> multiples;
  for (size_t j = 0; j < pieces; ++j)
    multiples.push_back(params.constant(lengthIndex + j));
  width = chooseWidth(bytes, multiples);
  SmallVector<Type> pieceTypes(pieces, bits);
  std::string name = (op + "_" + typeName(bits) + "_n" + std::to_string(pieces) + "_v" +
                      std::to_string(width) + params.signature())
                         .str();
  SmallVector<Type> inputs, outputs;
  if (gather) {
    inputs = pieceTypes;
    outputs = {bits};
  } else {
    inputs = {bits};
    outputs = pieceTypes;
  }
  BlockSize block = {kThreads, 1, 1};
  int64_t vectorWidth = width;
  return emitter.getOrCreateKernel(
      name, inputs, outputs, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        unsigned numBuffers = pieces + 1;
        SmallVector<Value> p = params.materialize(b, loc, f, numBuffers);
        Dev m{b, loc};
        Value outer = p[outerIndex];
        SmallVector<Value> lengths(ArrayRef<Value>(p).slice(lengthIndex, pieces));
        SmallVector<Value> starts;
        Value row = m.c(0);
        for (Value length : lengths) {
          starts.push_back(row);
          row = m.add(row, length);
        }
        Value total = m.mul(outer, row);
        SmallVector<Value> pieceBuffers;
        for (size_t j = 0; j < pieces; ++j)
          pieceBuffers.push_back(f.getArgument(gather ? j : 1 + j));
        Value rowBuffer = f.getArgument(gather ? pieces : 0);
        Value vectorOk;
        if (vectorWidth > 1) {
          int64_t alignment = vectorWidth * bytes;
          vectorOk = m.aligned(rowBuffer, alignment);
          for (size_t j = 0; j < pieces; ++j) {
            vectorOk = m.andI(vectorOk, m.aligned(pieceBuffers[j], alignment));
            if (!params.constant(lengthIndex + j))
              vectorOk = m.andI(vectorOk, m.divisible(lengths[j], vectorWidth));
          }
        }
        bool singleRow = params.constant(outerIndex) == 1;
        auto move = [&](OpBuilder &b, Location loc, Value element, int64_t n) {
          Dev m{b, loc};
          Value o = singleRow ? m.c(0) : m.div(element, row);
          Value position = singleRow ? element : m.rem(element, row);
          selectPiece(b, loc, position, starts, lengths, 0,
                      [&](OpBuilder &b, Location loc, size_t j, Value offset) {
                        Dev m{b, loc};
                        Value pieceIndex = m.add(m.mul(o, lengths[j]), offset);
                        if (gather)
                          m.copy(pieceBuffers[j], pieceIndex, rowBuffer, element, n);
                        else
                          m.copy(rowBuffer, element, pieceBuffers[j], pieceIndex, n);
                      });
        };
        vectorOrScalarLoops(
            b, loc, vectorWidth, vectorOk, total,
            [&](OpBuilder &b, Location loc, Value chunk) {
              move(b, loc, Dev{b, loc}.mul(chunk, Dev{b, loc}.c(vectorWidth)), vectorWidth);
            },
            [&](OpBuilder &b, Location loc, Value i) { move(b, loc, i, 1); });
      });
}

LogicalResult lowerConcat(Operation *op, KernelEmitter &emitter) {
  auto concat = cast<OnnxConcatOp>(op);
  Value result = concat.getConcatResult();
  if (concat.getInputs().empty())
    return op->emitError() << "GPU lowering of " << op->getName() << ": no inputs";
  if (failed(checkRanked(op, concat.getInputs())) || failed(checkRanked(op, {result})))
    return failure();
  // The result dims: the first input's, with the sum of the axis dims (`past + seq` is no
  // expression of the shape analysis, but the host plan computes it).
  FailureOr<SmallVector<Value>> firstDims = emitter.dims(concat.getInputs().front(), op);
  if (failed(firstDims))
    return failure();
  SmallVector<Value> resultDims = *firstDims;
  int64_t rank = resultDims.size();
  std::optional<int64_t> axis = normalizeAxis(static_cast<int64_t>(concat.getAxis()), rank);
  if (!axis)
    return op->emitError() << "GPU lowering of " << op->getName() << ": 'axis' is out of range";
  if (cast<RankedTensorType>(result.getType()).getRank() != rank)
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": the result rank differs from the inputs'";
  Value inner = emitter.product(resultDims, *axis + 1, rank);
  Value outer = emitter.product(resultDims, 0, *axis);
  resultDims[*axis] = emitter.index(0);
  RankedTensorType resultType = emitter.storageTensorType(result);
  SmallVector<Value> sources, lengths;
  for (Value input : concat.getInputs()) {
    FailureOr<SmallVector<Value>> dims = emitter.dims(input, op);
    if (failed(dims))
      return failure();
    if (static_cast<int64_t>(dims->size()) != rank)
      return op->emitError() << "GPU lowering of " << op->getName()
                             << ": inputs of different ranks";
    resultDims[*axis] = emitter.add(resultDims[*axis], (*dims)[*axis]);
    Value length = emitter.mul((*dims)[*axis], inner);
    if (isConstant(length, 0))
      continue; // contributes nothing (and need not be computed)
    Value source = tensorAs(emitter, input, resultType.getElementType(), op);
    if (!source)
      return failure();
    sources.push_back(source);
    lengths.push_back(length);
  }
  if (sources.size() == 1) {
    emitter.setResult(result, emitter.view(sources.front(), resultType, resultDims));
    return success();
  }
  Type bits = bitsType(resultType.getElementType());
  Value count = emitter.product(resultDims, 0, rank);
  if (sources.empty()) {
    // An empty result: a launch of no blocks still gives it a buffer.
    sources.push_back(
        tensorAs(emitter, concat.getInputs().front(), resultType.getElementType(), op));
    if (!sources.back())
      return failure();
    lengths.push_back(emitter.index(0));
  }
  KernelParams params;
  unsigned outerIndex = params.add(outer);
  unsigned lengthIndex = params.addAll(lengths);
  int64_t width;
  gpu::GPUFuncOp kernel = buildPiecesKernel(emitter, "concat", /*gather=*/true, bits, params,
                                            outerIndex, lengthIndex, sources.size(), width);
  Value output = emitter
                     .launch(kernel, sources, {ResultSpec{resultType, resultDims}},
                             params.scalars(), linearGrid(emitter, count, width), {kThreads, 1, 1})
                     .front();
  emitter.setResult(result, output);
  return success();
}

LogicalResult lowerSplit(Operation *op, KernelEmitter &emitter) {
  auto split = cast<OnnxSplitOp>(op);
  Value input = split.getInput();
  if (failed(checkRanked(op, {input})) || failed(checkRanked(op, split.getOutputs())))
    return failure();
  FailureOr<SmallVector<Value>> inDims = emitter.dims(input, op);
  if (failed(inDims))
    return failure();
  int64_t rank = inDims->size();
  std::optional<int64_t> axis = normalizeAxis(static_cast<int64_t>(split.getAxis()), rank);
  if (!axis)
    return op->emitError() << "GPU lowering of " << op->getName() << ": 'axis' is out of range";
  Value source = emitter.tensor(input);
  if (!source)
    return failure();
  Type sourceElement = cast<RankedTensorType>(source.getType()).getElementType();
  Value inner = emitter.product(*inDims, *axis + 1, rank);
  Value outer = emitter.product(*inDims, 0, *axis);
  // The pieces' sizes along the axis: a constant 'split' operand, or equal chunks of
  // ceil(dim / n) with a smaller last one (computed on the host: ceil(seq / 2) is no
  // shape-analysis expression); the shape analysis for a non-constant 'split'.
  size_t pieces = split.getOutputs().size();
  if (pieces == 0)
    return op->emitError() << "GPU lowering of " << op->getName() << ": no results";
  Host host{emitter};
  SmallVector<Value> sizes;
  if (Value splitValue = split.getSplit()) {
    if (std::optional<SmallVector<int64_t>> constant = getConstantInts(splitValue)) {
      if (constant->size() != pieces)
        return op->emitError() << "GPU lowering of " << op->getName() << ": 'split' has "
                               << constant->size() << " sizes for " << pieces << " results";
      for (int64_t size : *constant)
        sizes.push_back(host.c(size));
    }
  } else {
    Value dim = (*inDims)[*axis];
    Value chunk = emitter.ceilDiv(dim, pieces);
    for (size_t j = 0; j + 1 < pieces; ++j)
      sizes.push_back(chunk);
    sizes.push_back(host.sub(dim, host.mul(chunk, host.c(pieces - 1))));
  }
  SmallVector<ResultSpec> specs;
  SmallVector<Value> lengths;
  for (auto [j, output] : llvm::enumerate(split.getOutputs())) {
    if (cast<RankedTensorType>(output.getType()).getRank() != rank)
      return op->emitError() << "GPU lowering of " << op->getName()
                             << ": results of different ranks";
    SmallVector<Value> dims(*inDims);
    if (!sizes.empty()) {
      dims[*axis] = sizes[j];
    } else {
      FailureOr<SmallVector<Value>> analysed = emitter.dims(output, op);
      if (failed(analysed))
        return failure();
      dims = *analysed;
    }
    lengths.push_back(emitter.mul(dims[*axis], inner));
    // The kernel writes the input's storage type; outputs stored otherwise (kept in f32 or
    // not) are converted after it.
    RankedTensorType type = emitter.storageTensorType(output);
    specs.push_back({RankedTensorType::get(type.getShape(), sourceElement), dims});
  }
  auto finish = [&](Value output, Value hostTensor, const ResultSpec &spec) {
    RankedTensorType type = emitter.storageTensorType(output);
    if (type.getElementType() != sourceElement)
      hostTensor = emitter.convert(hostTensor, spec.dims, type.getElementType());
    emitter.setResult(output, emitter.view(hostTensor, type, spec.dims));
  };
  if (specs.size() == 1) {
    finish(split.getOutputs()[0], emitter.view(source, specs[0].type, specs[0].dims), specs[0]);
    return success();
  }
  Type bits = bitsType(specs[0].type.getElementType());
  Value count = emitter.product(*inDims, 0, rank);
  KernelParams params;
  unsigned outerIndex = params.add(outer);
  unsigned lengthIndex = params.addAll(lengths);
  int64_t width;
  gpu::GPUFuncOp kernel = buildPiecesKernel(emitter, "split", /*gather=*/false, bits, params,
                                            outerIndex, lengthIndex, specs.size(), width);
  SmallVector<Value> outputs = emitter.launch(kernel, {source}, specs, params.scalars(),
                                              linearGrid(emitter, count, width), {kThreads, 1, 1});
  for (auto [result, output, spec] : llvm::zip_equal(split.getOutputs(), outputs, specs))
    finish(result, output, spec);
  return success();
}

//===----------------------------------------------------------------------===//
// Gather, GatherElements, GatherND
//===----------------------------------------------------------------------===//

/// `index` (sign-extended) wrapped when negative; `valid` when it then lies in [0, dim).
std::pair<Value, Value> wrapIndex(Dev &m, Value index, Value dim) {
  Value negative = m.lt(index, m.c(0));
  Value wrapped = m.select(negative, m.add(index, dim), index);
  Value valid = m.andI(m.ge(wrapped, m.c(0)), m.lt(wrapped, dim));
  return {wrapped, valid};
}

/// Gather along `axis`: data [outer, axisDim, inner], indices (K of them) -> [outer, K, inner].
/// One thread per 16 bytes of a row (vectorised when the rows allow it): an embedding lookup
/// reads and writes whole rows coalesced.
LogicalResult lowerGather(Operation *op, KernelEmitter &emitter) {
  auto gather = cast<OnnxGatherOp>(op);
  Value data = gather.getData(), indices = gather.getIndices(), result = gather.getOutput();
  if (failed(checkRanked(op, {data, indices, result})))
    return failure();
  FailureOr<SmallVector<Value>> dataDims = emitter.dims(data, op);
  if (failed(dataDims))
    return failure();
  FailureOr<SmallVector<Value>> indexDims = emitter.dims(indices, op);
  if (failed(indexDims))
    return failure();
  int64_t rank = dataDims->size();
  std::optional<int64_t> axis = normalizeAxis(static_cast<int64_t>(gather.getAxis()), rank);
  if (!axis)
    return op->emitError() << "GPU lowering of " << op->getName() << ": 'axis' is out of range";
  // data.shape[:axis] + indices.shape + data.shape[axis + 1:]
  SmallVector<Value> outDims(ArrayRef<Value>(*dataDims).take_front(*axis));
  llvm::append_range(outDims, *indexDims);
  llvm::append_range(outDims, ArrayRef<Value>(*dataDims).drop_front(*axis + 1));
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value dataTensor = tensorAs(emitter, data, resultType.getElementType(), op);
  if (!dataTensor)
    return failure();
  Value indexTensor = emitter.tensor(indices);
  if (!indexTensor)
    return failure();
  Type bits = bitsType(resultType.getElementType());
  Type indexType = cast<RankedTensorType>(indexTensor.getType()).getElementType();
  int64_t bytes = elementBytes(bits);

  KernelParams params;
  unsigned outerIndex = params.add(emitter.product(*dataDims, 0, *axis));
  unsigned axisIndex = params.add((*dataDims)[*axis]);
  unsigned countIndex = params.add(emitter.product(*indexDims, 0, indexDims->size()));
  unsigned innerIndex = params.add(emitter.product(*dataDims, *axis + 1, rank));
  Value total = emitter.product(outDims, 0, outDims.size());
  unsigned totalIndex = params.add(total);
  int64_t width = chooseWidth(bytes, {params.constant(innerIndex)});

  std::string name = "gather_" + typeName(bits) + "_" + typeName(indexType) + "_v" +
                     std::to_string(width) + params.signature();
  BlockSize block = {kThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {bits, indexType}, {bits}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        SmallVector<Value> p = params.materialize(b, loc, f, 3);
        Value table = f.getArgument(0), positions = f.getArgument(1), out = f.getArgument(2);
        Value axisDim = p[axisIndex], count = p[countIndex], inner = p[innerIndex];
        bool singleOuter = params.constant(outerIndex) == 1;
        Value vectorOk;
        if (width > 1) {
          Dev m{b, loc};
          vectorOk = m.andI(m.aligned(table, width * bytes), m.aligned(out, width * bytes));
          if (!params.constant(innerIndex))
            vectorOk = m.andI(vectorOk, m.divisible(inner, width));
        }
        auto move = [&](OpBuilder &b, Location loc, Value element, int64_t n) {
          Dev m{b, loc};
          Value row = m.div(element, inner), column = m.rem(element, inner);
          Value k = singleOuter ? row : m.rem(row, count);
          Value o = singleOuter ? m.c(0) : m.div(row, count);
          std::pair<Value, Value> wrapped = wrapIndex(m, m.loadIndex(positions, k), axisDim);
          Value position = wrapped.first, valid = wrapped.second;
          m.ifThenElse(
              valid,
              [&](OpBuilder &b, Location loc) {
                Dev m{b, loc};
                Value from = m.add(m.mul(m.add(m.mul(o, axisDim), position), inner), column);
                m.copy(table, from, out, element, n);
              },
              [&](OpBuilder &b, Location loc) {
                Dev{b, loc}.zero(out, element, n);
              });
        };
        vectorOrScalarLoops(
            b, loc, width, vectorOk, p[totalIndex],
            [&](OpBuilder &b, Location loc, Value chunk) {
              move(b, loc, Dev{b, loc}.mul(chunk, Dev{b, loc}.c(width)), width);
            },
            [&](OpBuilder &b, Location loc, Value i) { move(b, loc, i, 1); });
      });
  Value output = emitter
                     .launch(kernel, {dataTensor, indexTensor}, {ResultSpec{resultType, outDims}},
                             params.scalars(), linearGrid(emitter, total, width), block)
                     .front();
  emitter.setResult(result, output);
  return success();
}

/// GatherElements: out[idx] = data[idx with its axis coordinate replaced by indices[idx]].
LogicalResult lowerGatherElements(Operation *op, KernelEmitter &emitter) {
  auto gather = cast<OnnxGatherElementsOp>(op);
  Value data = gather.getData(), indices = gather.getIndices(), result = gather.getOutput();
  if (failed(checkRanked(op, {data, indices, result})))
    return failure();
  FailureOr<SmallVector<Value>> dataDims = emitter.dims(data, op);
  if (failed(dataDims))
    return failure();
  FailureOr<SmallVector<Value>> indexDims = emitter.dims(indices, op);
  if (failed(indexDims))
    return failure();
  int64_t rank = dataDims->size();
  if (static_cast<int64_t>(indexDims->size()) != rank)
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": indices and data have different ranks";
  std::optional<int64_t> axis = normalizeAxis(static_cast<int64_t>(gather.getAxis()), rank);
  if (!axis)
    return op->emitError() << "GPU lowering of " << op->getName() << ": 'axis' is out of range";
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value dataTensor = tensorAs(emitter, data, resultType.getElementType(), op);
  if (!dataTensor)
    return failure();
  Value indexTensor = emitter.tensor(indices);
  if (!indexTensor)
    return failure();
  Type bits = bitsType(resultType.getElementType());
  Type indexType = cast<RankedTensorType>(indexTensor.getType()).getElementType();
  KernelParams params;
  unsigned dataIndex = params.addAll(*dataDims);
  unsigned indexIndex = params.addAll(*indexDims);
  Value total = emitter.product(*indexDims, 0, rank);
  unsigned totalIndex = params.add(total);
  std::string name = "gather_elements_" + typeName(bits) + "_" + typeName(indexType) + "_a" +
                     std::to_string(*axis) + params.signature();
  BlockSize block = {kThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {bits, indexType}, {bits}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        SmallVector<Value> p = params.materialize(b, loc, f, 3);
        ArrayRef<Value> dimsOfData = ArrayRef<Value>(p).slice(dataIndex, rank);
        ArrayRef<Value> dimsOfIndices = ArrayRef<Value>(p).slice(indexIndex, rank);
        Value table = f.getArgument(0), positions = f.getArgument(1), out = f.getArgument(2);
        gridStrideLoop(b, loc, p[totalIndex], [&](OpBuilder &b, Location loc, Value i) {
          Dev m{b, loc};
          SmallVector<Value> index = delinearize(b, loc, i, dimsOfIndices);
          std::pair<Value, Value> wrapped =
              wrapIndex(m, m.loadIndex(positions, i), dimsOfData[*axis]);
          index[*axis] = wrapped.first;
          m.ifThenElse(
              wrapped.second,
              [&](OpBuilder &b, Location loc) {
                Dev m{b, loc};
                m.copy(table, linearize(b, loc, index, dimsOfData), out, i, 1);
              },
              [&](OpBuilder &b, Location loc) {
                Dev{b, loc}.zero(out, i, 1);
              });
        });
      });
  Value output =
      emitter
          .launch(kernel, {dataTensor, indexTensor}, {ResultSpec{resultType, *indexDims}},
                  params.scalars(), linearGrid(emitter, total), block)
          .front();
  emitter.setResult(result, output);
  return success();
}

/// The element offset in data [dims] of index tuple `t` (k indices from `indices[t * k]`),
/// batch `batch` (its first `batchDims` dims), and whether every index was in range.
std::pair<Value, Value> tupleOffset(OpBuilder &b, Location loc, Value indices, Value t, Value batch,
                                    ArrayRef<Value> dims, int64_t batchDims, int64_t k) {
  Dev m{b, loc};
  int64_t rank = dims.size();
  SmallVector<Value> strides(rank);
  Value stride = m.c(1);
  for (int64_t d = rank - 1; d >= 0; --d) {
    strides[d] = stride;
    stride = m.mul(stride, dims[d]);
  }
  Value offset = batchDims > 0 ? m.mul(batch, strides[batchDims - 1]) : m.c(0);
  Value valid = m.trueValue();
  for (int64_t j = 0; j < k; ++j) {
    int64_t axis = batchDims + j;
    Value raw = m.loadIndex(indices, m.add(m.mul(t, m.c(k)), m.c(j)));
    auto [position, inRange] = wrapIndex(m, raw, dims[axis]);
    offset = m.add(offset, m.mul(position, strides[axis]));
    valid = m.andI(valid, inRange);
  }
  return {offset, valid};
}

/// GatherND: one thread per 16 bytes of an addressed slice.
LogicalResult lowerGatherND(Operation *op, KernelEmitter &emitter) {
  auto gather = cast<OnnxGatherNDOp>(op);
  Value data = gather.getData(), indices = gather.getIndices(), result = gather.getOutput();
  auto indexType = dyn_cast<RankedTensorType>(indices.getType());
  if (indexType && (indexType.getRank() < 1 || indexType.isDynamicDim(indexType.getRank() - 1)))
    return unsupported(op, "a dynamic index tuple length (last dim of indices)");
  if (failed(checkRanked(op, {data, indices, result})))
    return failure();
  int64_t k = indexType.getShape().back();
  int64_t batchDims = static_cast<int64_t>(gather.getBatchDims());
  FailureOr<SmallVector<Value>> dataDims = emitter.dims(data, op);
  if (failed(dataDims))
    return failure();
  FailureOr<SmallVector<Value>> indexDims = emitter.dims(indices, op);
  if (failed(indexDims))
    return failure();
  int64_t rank = dataDims->size(), q = indexDims->size();
  if (batchDims < 0 || batchDims >= std::min(rank, q) || k < 1 || k > rank - batchDims)
    return op->emitError() << "GPU lowering of " << op->getName() << ": index tuples of length "
                           << k << " do not fit the data with batch_dims " << batchDims;
  // indices.shape[:-1] + data.shape[batch_dims + k:]
  SmallVector<Value> outDims(ArrayRef<Value>(*indexDims).drop_back());
  llvm::append_range(outDims, ArrayRef<Value>(*dataDims).drop_front(batchDims + k));
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value dataTensor = tensorAs(emitter, data, resultType.getElementType(), op);
  if (!dataTensor)
    return failure();
  Value indexTensor = emitter.tensor(indices);
  if (!indexTensor)
    return failure();
  Type bits = bitsType(resultType.getElementType());
  int64_t bytes = elementBytes(bits);
  KernelParams params;
  unsigned dataIndex = params.addAll(*dataDims);
  unsigned perBatchIndex = params.add(emitter.product(*indexDims, batchDims, q - 1));
  unsigned sliceIndex = params.add(emitter.product(*dataDims, batchDims + k, rank));
  Value total = emitter.product(outDims, 0, outDims.size());
  unsigned totalIndex = params.add(total);
  int64_t width = chooseWidth(bytes, {params.constant(sliceIndex)});
  std::string name = "gather_nd_" + typeName(bits) + "_k" + std::to_string(k) + "_b" +
                     std::to_string(batchDims) + "_v" + std::to_string(width) + params.signature();
  BlockSize block = {kThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {bits, indexType.getElementType()}, {bits}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        SmallVector<Value> p = params.materialize(b, loc, f, 3);
        ArrayRef<Value> dims = ArrayRef<Value>(p).slice(dataIndex, rank);
        Value table = f.getArgument(0), tuples = f.getArgument(1), out = f.getArgument(2);
        Value slice = p[sliceIndex], perBatch = p[perBatchIndex];
        Value vectorOk;
        if (width > 1) {
          Dev m{b, loc};
          vectorOk = m.andI(m.aligned(table, width * bytes), m.aligned(out, width * bytes));
          if (!params.constant(sliceIndex))
            vectorOk = m.andI(vectorOk, m.divisible(slice, width));
        }
        auto move = [&](OpBuilder &b, Location loc, Value element, int64_t n) {
          Dev m{b, loc};
          Value t = m.div(element, slice), within = m.rem(element, slice);
          Value batch = batchDims > 0 ? m.div(t, perBatch) : m.c(0);
          std::pair<Value, Value> tuple = tupleOffset(b, loc, tuples, t, batch, dims, batchDims, k);
          Value offset = tuple.first;
          m.ifThenElse(
              tuple.second,
              [&](OpBuilder &b, Location loc) {
                Dev m{b, loc};
                m.copy(table, m.add(offset, within), out, element, n);
              },
              [&](OpBuilder &b, Location loc) {
                Dev{b, loc}.zero(out, element, n);
              });
        };
        vectorOrScalarLoops(
            b, loc, width, vectorOk, p[totalIndex],
            [&](OpBuilder &b, Location loc, Value chunk) {
              move(b, loc, Dev{b, loc}.mul(chunk, Dev{b, loc}.c(width)), width);
            },
            [&](OpBuilder &b, Location loc, Value i) { move(b, loc, i, 1); });
      });
  Value output = emitter
                     .launch(kernel, {dataTensor, indexTensor}, {ResultSpec{resultType, outDims}},
                             params.scalars(), linearGrid(emitter, total, width), block)
                     .front();
  emitter.setResult(result, output);
  return success();
}

//===----------------------------------------------------------------------===//
// ScatterND
//===----------------------------------------------------------------------===//

enum class ScatterReduction { None, Add, Mul, Max, Min };

/// ScatterND in one launch without atomics or in-place updates: each thread owns one output
/// element, starts from data, and applies, in order, every update whose index tuple addresses
/// its slice (the block stages the tuples' offsets in shared memory, 256 at a time). Equal
/// tuples apply in order, as on the CPU. Work is O(elements * tuples): meant for the few-tuple
/// scatters of exported graphs (cache writes, masks).
LogicalResult lowerScatterND(Operation *op, KernelEmitter &emitter) {
  auto scatter = cast<OnnxScatterNDOp>(op);
  Value data = scatter.getData(), indices = scatter.getIndices(), updates = scatter.getUpdates(),
        result = scatter.getOutput();
  if (failed(checkRanked(op, {data, indices, updates, result})))
    return failure();
  StringRef reductionName = scatter.getReduction();
  ScatterReduction reduction;
  if (reductionName == "none")
    reduction = ScatterReduction::None;
  else if (reductionName == "add")
    reduction = ScatterReduction::Add;
  else if (reductionName == "mul")
    reduction = ScatterReduction::Mul;
  else if (reductionName == "max")
    reduction = ScatterReduction::Max;
  else if (reductionName == "min")
    reduction = ScatterReduction::Min;
  else
    return unsupported(op, "reduction '" + reductionName + "'");
  auto indexType = cast<RankedTensorType>(indices.getType());
  if (indexType.getRank() < 1 || indexType.isDynamicDim(indexType.getRank() - 1))
    return unsupported(op, "a dynamic index tuple length (last dim of indices)");
  int64_t k = indexType.getShape().back();
  Type modelType = cast<RankedTensorType>(data.getType()).getElementType();
  if (reduction != ScatterReduction::None && modelType.isInteger(1))
    return unsupported(op, "reduction '" + reductionName + "' on bool tensors");
  FailureOr<SmallVector<Value>> dataDims = emitter.dims(data, op);
  if (failed(dataDims))
    return failure();
  FailureOr<SmallVector<Value>> indexDims = emitter.dims(indices, op);
  if (failed(indexDims))
    return failure();
  int64_t rank = dataDims->size();
  if (k < 1 || k > rank)
    return op->emitError() << "GPU lowering of " << op->getName() << ": index tuples of length "
                           << k << " do not fit data of rank " << rank;
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value dataTensor = tensorAs(emitter, data, resultType.getElementType(), op);
  if (!dataTensor)
    return failure();
  Value indexTensor = emitter.tensor(indices);
  if (!indexTensor)
    return failure();
  Value updateTensor = tensorAs(emitter, updates, resultType.getElementType(), op);
  if (!updateTensor)
    return failure();
  Type storage = resultType.getElementType();
  Type element =
      reduction == ScatterReduction::None ? bitsType(storage) : arithmeticBufferType(storage);
  bool isUnsigned = modelType.isUnsignedInteger();
  KernelParams params;
  unsigned dataIndex = params.addAll(*dataDims);
  unsigned tupleIndex = params.add(emitter.product(*indexDims, 0, indexDims->size() - 1));
  Value total = emitter.product(*dataDims, 0, rank);
  unsigned totalIndex = params.add(total);
  std::string name = "scatter_nd_" + reductionName.str() + "_" + typeName(element) +
                     (isUnsigned ? "u" : "") + "_k" + std::to_string(k) + params.signature();
  BlockSize block = {kThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {element, indexType.getElementType(), element}, {element}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
        auto stageType =
            MemRefType::get({kThreads}, b.getIndexType(), MemRefLayoutAttrInterface(), workgroup);
        Value stage = f.addWorkgroupAttribution(stageType, loc);
        SmallVector<Value> p = params.materialize(b, loc, f, 4);
        ArrayRef<Value> dims = ArrayRef<Value>(p).slice(dataIndex, rank);
        Value input = f.getArgument(0), tuples = f.getArgument(1), values = f.getArgument(2),
              out = f.getArgument(3);
        Dev m{b, loc};
        Value tupleCount = p[tupleIndex], count = p[totalIndex];
        Value slice = m.c(1);
        for (int64_t d = k; d < rank; ++d)
          slice = m.mul(slice, dims[d]);
        // One element per thread, no early exit: every thread takes part in the barriers.
        Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
        Value i = globalThreadIndex(b, loc);
        Value inside = m.lt(i, count);
        Value safe = m.select(inside, i, m.c(0));
        Value within = m.rem(safe, slice);
        Value cell = m.sub(safe, within);
        Type compute = computeType(element);
        Value initial =
            m.select(inside, loadNatural(b, loc, input, safe),
                     arith::ConstantOp::create(b, loc, element, b.getZeroAttr(element)));
        initial = convertScalar(b, loc, initial, compute);
        auto combine = [&](OpBuilder &b, Location loc, Value current, Value update) -> Value {
          bool isFloat = isa<FloatType>(compute);
          switch (reduction) {
          case ScatterReduction::None:
            return update;
          case ScatterReduction::Add:
            return isFloat ? arith::AddFOp::create(b, loc, current, update).getResult()
                           : arith::AddIOp::create(b, loc, current, update).getResult();
          case ScatterReduction::Mul:
            return isFloat ? arith::MulFOp::create(b, loc, current, update).getResult()
                           : arith::MulIOp::create(b, loc, current, update).getResult();
          case ScatterReduction::Max:
            if (isFloat)
              return arith::MaximumFOp::create(b, loc, current, update);
            return isUnsigned ? arith::MaxUIOp::create(b, loc, current, update).getResult()
                              : arith::MaxSIOp::create(b, loc, current, update).getResult();
          case ScatterReduction::Min:
            if (isFloat)
              return arith::MinimumFOp::create(b, loc, current, update);
            return isUnsigned ? arith::MinUIOp::create(b, loc, current, update).getResult()
                              : arith::MinSIOp::create(b, loc, current, update).getResult();
          }
          return update;
        };
        Value step = m.c(kThreads);
        auto outerLoop = scf::ForOp::create(
            b, loc, m.c(0), tupleCount, step, ValueRange{initial},
            [&](OpBuilder &b, Location loc, Value first, ValueRange carried) {
              Dev m{b, loc};
              gpu::BarrierOp::create(b, loc);
              Value t = m.add(first, tid);
              Value staged = m.c(-1);
              auto ifOp = scf::IfOp::create(b, loc, TypeRange{b.getIndexType()},
                                            m.lt(t, tupleCount), true, true);
              {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPointToStart(ifOp.thenBlock());
                auto [offset, valid] = tupleOffset(b, loc, tuples, t, Value(), dims, 0, k);
                Dev n{b, loc};
                scf::YieldOp::create(b, loc, n.select(valid, offset, n.c(-1)));
                b.setInsertionPointToStart(ifOp.elseBlock());
                scf::YieldOp::create(b, loc, staged);
              }
              memref::StoreOp::create(b, loc, ifOp.getResult(0), stage, ValueRange{tid});
              gpu::BarrierOp::create(b, loc);
              Value inStage = b.createOrFold<arith::MinSIOp>(loc, step, m.sub(tupleCount, first));
              auto inner = scf::ForOp::create(
                  b, loc, m.c(0), inStage, m.c(1), ValueRange{carried[0]},
                  [&](OpBuilder &b, Location loc, Value j, ValueRange value) {
                    Dev m{b, loc};
                    Value offset = memref::LoadOp::create(b, loc, stage, ValueRange{j});
                    Value hit = m.andI(inside, m.eq(offset, cell));
                    auto apply = scf::IfOp::create(b, loc, TypeRange{compute}, hit, true, true);
                    {
                      OpBuilder::InsertionGuard guard(b);
                      b.setInsertionPointToStart(apply.thenBlock());
                      Dev n{b, loc};
                      Value from = n.add(n.mul(n.add(first, j), slice), within);
                      Value update = loadAs(b, loc, values, from, compute);
                      scf::YieldOp::create(b, loc, combine(b, loc, value[0], update));
                      b.setInsertionPointToStart(apply.elseBlock());
                      scf::YieldOp::create(b, loc, value[0]);
                    }
                    scf::YieldOp::create(b, loc, apply.getResult(0));
                  });
              scf::YieldOp::create(b, loc, inner.getResult(0));
            });
        m.ifThen(inside, [&](OpBuilder &b, Location loc) {
          storeAs(b, loc, outerLoop.getResult(0), out, i);
        });
      });
  Value output = emitter
                     .launch(kernel, {dataTensor, indexTensor, updateTensor},
                             {ResultSpec{resultType, *dataDims}}, params.scalars(),
                             linearGrid(emitter, total), block)
                     .front();
  emitter.setResult(result, output);
  return success();
}

//===----------------------------------------------------------------------===//
// Trilu
//===----------------------------------------------------------------------===//

LogicalResult lowerTrilu(Operation *op, KernelEmitter &emitter) {
  auto trilu = cast<OnnxTriluOp>(op);
  Value input = trilu.getInput(), result = trilu.getOutput();
  if (failed(checkRanked(op, {input, result})))
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(input, op);
  if (failed(dims))
    return failure();
  int64_t rank = dims->size();
  if (rank < 2)
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": the input must have rank >= 2";
  bool upper = static_cast<int64_t>(trilu.getUpper()) != 0;
  std::optional<int64_t> k = 0;
  Value kTensor;
  if (Value kValue = trilu.getK()) {
    std::optional<SmallVector<int64_t>> constant = getConstantInts(kValue);
    if (constant && constant->size() == 1) {
      k = constant->front();
    } else if (constant) {
      return op->emitError() << "GPU lowering of " << op->getName() << ": 'k' must be a scalar";
    } else {
      k = std::nullopt; // read on the device
      kTensor = emitter.tensor(kValue);
      if (!kTensor)
        return failure();
    }
  }
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value source = tensorAs(emitter, input, resultType.getElementType(), op);
  if (!source)
    return failure();
  Type bits = bitsType(resultType.getElementType());
  KernelParams params;
  unsigned rowsIndex = params.add((*dims)[rank - 2]);
  unsigned colsIndex = params.add((*dims)[rank - 1]);
  Value total = emitter.product(*dims, 0, rank);
  unsigned totalIndex = params.add(total);
  std::string name = std::string("trilu_") + (upper ? "upper_" : "lower_") + typeName(bits) + "_k" +
                     (k ? numberName(*k) : std::string("d")) + params.signature();
  SmallVector<Type> inputTypes = {bits};
  SmallVector<Value> inputs = {source};
  if (kTensor) {
    inputTypes.push_back(cast<RankedTensorType>(kTensor.getType()).getElementType());
    inputs.push_back(kTensor);
  }
  unsigned numBuffers = inputs.size() + 1;
  BlockSize block = {kThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, inputTypes, {bits}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        SmallVector<Value> p = params.materialize(b, loc, f, numBuffers);
        Value in = f.getArgument(0), out = f.getArgument(numBuffers - 1);
        Dev m{b, loc};
        Value diagonal = k ? m.c(*k) : m.loadIndex(f.getArgument(1), m.c(0));
        gridStrideLoop(b, loc, p[totalIndex], [&](OpBuilder &b, Location loc, Value i) {
          Dev m{b, loc};
          Value column = m.rem(i, p[colsIndex]);
          Value row = m.rem(m.div(i, p[colsIndex]), p[rowsIndex]);
          // Upper keeps j - i >= k, lower j - i <= k (no overflow of i + k for extreme k).
          Value offset = m.sub(column, row);
          Value keep =
              upper ? m.ge(offset, diagonal) : m.cmp(arith::CmpIPredicate::sle, offset, diagonal);
          m.ifThenElse(
              keep,
              [&](OpBuilder &b, Location loc) {
                Dev{b, loc}.copy(in, i, out, i, 1);
              },
              [&](OpBuilder &b, Location loc) {
                Dev{b, loc}.zero(out, i, 1);
              });
        });
      });
  Value output = emitter
                     .launch(kernel, inputs, {ResultSpec{resultType, *dims}}, params.scalars(),
                             linearGrid(emitter, total), block)
                     .front();
  emitter.setResult(result, output);
  return success();
}

//===----------------------------------------------------------------------===//
// CumSum
//===----------------------------------------------------------------------===//

/// One thread per scan line ([outer, size, inner] around the axis; neighbouring threads walk
/// neighbouring inner positions, so the loads are coalesced unless inner == 1). Floats sum in
/// f32 (f64 for f64), integers in their own width (wrapping, as the CPU's int64 sum after
/// narrowing).
LogicalResult lowerCumSum(Operation *op, KernelEmitter &emitter) {
  auto cumSum = cast<OnnxCumSumOp>(op);
  Value input = cumSum.getX(), result = cumSum.getY();
  if (failed(checkRanked(op, {input, result})))
    return failure();
  std::optional<SmallVector<int64_t>> axisValue = getConstantInts(cumSum.getAxis());
  if (!axisValue)
    return unsupported(op, "a non-constant 'axis'");
  if (axisValue->size() != 1)
    return op->emitError() << "GPU lowering of " << op->getName()
                           << ": 'axis' must hold one element";
  FailureOr<SmallVector<Value>> dims = emitter.dims(input, op);
  if (failed(dims))
    return failure();
  int64_t rank = dims->size();
  std::optional<int64_t> axis = normalizeAxis(axisValue->front(), rank);
  if (!axis)
    return op->emitError() << "GPU lowering of " << op->getName() << ": 'axis' is out of range";
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value source = tensorAs(emitter, input, resultType.getElementType(), op);
  if (!source)
    return failure();
  Type element = arithmeticBufferType(resultType.getElementType());
  bool exclusive = cumSum.getExclusive() != 0, reverse = cumSum.getReverse() != 0;
  KernelParams params;
  unsigned outerIndex = params.add(emitter.product(*dims, 0, *axis));
  unsigned sizeIndex = params.add((*dims)[*axis]);
  unsigned innerIndex = params.add(emitter.product(*dims, *axis + 1, rank));
  Value lines =
      emitter.mul(emitter.product(*dims, 0, *axis), emitter.product(*dims, *axis + 1, rank));
  std::string name = "cumsum_" + typeName(element) + (exclusive ? "_exclusive" : "") +
                     (reverse ? "_reverse" : "") + params.signature();
  BlockSize block = {kThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {element}, {element}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        SmallVector<Value> p = params.materialize(b, loc, f, 2);
        Value in = f.getArgument(0), out = f.getArgument(1);
        Value size = p[sizeIndex], inner = p[innerIndex];
        Dev m{b, loc};
        Value lineCount = m.mul(p[outerIndex], inner);
        Type compute = computeType(element);
        gridStrideLoop(b, loc, lineCount, [&](OpBuilder &b, Location loc, Value line) {
          Dev m{b, loc};
          Value base = m.add(m.mul(m.mul(m.div(line, inner), size), inner), m.rem(line, inner));
          Value zero = arith::ConstantOp::create(b, loc, compute, b.getZeroAttr(compute));
          scf::ForOp::create(b, loc, m.c(0), size, m.c(1), ValueRange{zero},
                             [&](OpBuilder &b, Location loc, Value stepIndex, ValueRange sum) {
                               Dev m{b, loc};
                               Value j =
                                   reverse ? m.sub(m.sub(size, m.c(1)), stepIndex) : stepIndex;
                               Value index = m.add(base, m.mul(j, inner));
                               Value value = loadAs(b, loc, in, index, compute);
                               Value next =
                                   isa<FloatType>(compute)
                                       ? arith::AddFOp::create(b, loc, sum[0], value).getResult()
                                       : arith::AddIOp::create(b, loc, sum[0], value).getResult();
                               storeAs(b, loc, exclusive ? sum[0] : next, out, index);
                               scf::YieldOp::create(b, loc, next);
                             });
        });
      });
  Value output = emitter
                     .launch(kernel, {source}, {ResultSpec{resultType, *dims}}, params.scalars(),
                             linearGrid(emitter, lines), block)
                     .front();
  emitter.setResult(result, output);
  return success();
}

//===----------------------------------------------------------------------===//
// Range, Shape, Size, ConstantOfShape
//===----------------------------------------------------------------------===//

/// Range: the length comes from the shape analysis; start and delta are read on the device.
LogicalResult lowerRange(Operation *op, KernelEmitter &emitter) {
  auto range = cast<OnnxRangeOp>(op);
  Value result = range.getOutput();
  if (failed(checkRanked(op, {range.getStart(), range.getDelta(), result})))
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(result, op);
  if (failed(dims))
    return failure();
  RankedTensorType resultType = emitter.storageTensorType(result);
  Value start = tensorAs(emitter, range.getStart(), resultType.getElementType(), op);
  if (!start)
    return failure();
  Value delta = tensorAs(emitter, range.getDelta(), resultType.getElementType(), op);
  if (!delta)
    return failure();
  Type element = arithmeticBufferType(resultType.getElementType());
  Type compute = computeType(element);
  KernelParams params;
  Value count = dims->front();
  unsigned countIndex = params.addDynamic(count);
  std::string name = "range_" + typeName(element);
  BlockSize block = {kThreads, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {element, element}, {element}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        SmallVector<Value> p = params.materialize(b, loc, f, 3);
        Dev m{b, loc};
        Value first = loadAs(b, loc, f.getArgument(0), m.c(0), compute);
        Value step = loadAs(b, loc, f.getArgument(1), m.c(0), compute);
        Value out = f.getArgument(2);
        gridStrideLoop(b, loc, p[countIndex], [&](OpBuilder &b, Location loc, Value i) {
          // start + i * delta in the compute type (f32 for f32/f16/bf16, as the CPU).
          Value iValue =
              isa<FloatType>(compute)
                  ? arith::UIToFPOp::create(b, loc, compute,
                                            arith::IndexCastUIOp::create(b, loc, b.getI64Type(), i))
                        .getResult()
                  : arith::IndexCastOp::create(b, loc, compute, i).getResult();
          Value value = isa<FloatType>(compute)
                            ? arith::AddFOp::create(b, loc, first,
                                                    arith::MulFOp::create(b, loc, iValue, step))
                                  .getResult()
                            : arith::AddIOp::create(b, loc, first,
                                                    arith::MulIOp::create(b, loc, iValue, step))
                                  .getResult();
          storeAs(b, loc, value, out, i);
        });
      });
  Value output = emitter
                     .launch(kernel, {start, delta}, {ResultSpec{resultType, *dims}},
                             params.scalars(), linearGrid(emitter, count), block)
                     .front();
  emitter.setResult(result, output);
  return success();
}

/// A small int64 tensor of host index values (Shape, Size): one thread writes them all.
Value emitHostValues(KernelEmitter &emitter, ArrayRef<Value> values, RankedTensorType type) {
  IntegerType i64 = IntegerType::get(emitter.getContext(), 64);
  KernelParams params;
  for (Value value : values)
    params.addDynamic(value);
  std::string name = "host_values_" + std::to_string(values.size());
  BlockSize block = {32, 1, 1};
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {}, {i64}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        Dev m{b, loc};
        Value first = m.eq(globalThreadIndex(b, loc), m.c(0));
        m.ifThen(first, [&](OpBuilder &b, Location loc) {
          for (size_t j = 0; j < values.size(); ++j)
            storeNatural(b, loc, f.getArgument(1 + j), f.getArgument(0), indexConstant(b, loc, j));
        });
      });
  SmallVector<Value> dims;
  if (type.getRank() == 1)
    dims.push_back(emitter.index(values.size()));
  return emitter
      .launch(kernel, {}, {ResultSpec{type, dims}}, params.scalars(),
              {emitter.index(1), emitter.index(1), emitter.index(1)}, block)
      .front();
}

LogicalResult lowerShape(Operation *op, KernelEmitter &emitter) {
  auto shape = cast<OnnxShapeOp>(op);
  Value data = shape.getData(), result = shape.getShape();
  if (failed(checkRanked(op, {data, result})))
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(data, op);
  if (failed(dims))
    return failure();
  int64_t rank = dims->size();
  auto clampIndex = [rank](int64_t index) {
    return std::clamp<int64_t>(index < 0 ? index + rank : index, 0, rank);
  };
  int64_t start = shape.getStart() ? clampIndex(static_cast<int64_t>(*shape.getStart())) : 0;
  int64_t end = shape.getEnd() ? clampIndex(static_cast<int64_t>(*shape.getEnd())) : rank;
  SmallVector<Value> values;
  for (int64_t i = start; i < end; ++i)
    values.push_back((*dims)[i]);
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    IntegerType::get(emitter.getContext(), 64));
  Value output = emitHostValues(emitter, values, type);
  emitter.setResult(result, emitter.view(output, emitter.storageTensorType(result),
                                         {emitter.index(values.size())}));
  return success();
}

LogicalResult lowerSize(Operation *op, KernelEmitter &emitter) {
  auto size = cast<OnnxSizeOp>(op);
  Value data = size.getData(), result = size.getSize();
  if (failed(checkRanked(op, {data, result})))
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(data, op);
  if (failed(dims))
    return failure();
  Value count = emitter.product(*dims, 0, dims->size());
  emitter.setResult(result, emitHostValues(emitter, {count}, emitter.storageTensorType(result)));
  return success();
}

/// The bit pattern of `value` (one element) stored as `storage`.
FailureOr<APInt> fillBits(Operation *op, ElementsAttr value, Type modelType, Type storage) {
  unsigned width = storage.getIntOrFloatBitWidth();
  if (!value)
    return APInt(width, 0); // ONNX's default: a float32 zero
  llvm::Expected<exec::Tensor> decoded = exec::tensorFromElements(value);
  if (!decoded) {
    op->emitError() << "GPU lowering of " << op->getName()
                    << ": cannot read 'value': " << llvm::toString(decoded.takeError());
    return failure();
  }
  if (decoded->getNumElements() != 1) {
    op->emitError() << "GPU lowering of " << op->getName() << ": 'value' must hold one element";
    return failure();
  }
  Type valueType = value.getElementType();
  if (auto floatType = dyn_cast<FloatType>(storage)) {
    APFloat number(decoded->getDouble(0));
    bool lost;
    number.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
    return number.bitcastToAPInt();
  }
  int64_t integer =
      isa<FloatType>(valueType) ? static_cast<int64_t>(decoded->getDouble(0)) : decoded->getInt(0);
  if (modelType.isInteger(1))
    integer = integer != 0;
  return APInt(width, static_cast<uint64_t>(integer), /*isSigned=*/true, /*implicitTrunc=*/true);
}

LogicalResult lowerConstantOfShape(Operation *op, KernelEmitter &emitter) {
  auto constantOfShape = cast<OnnxConstantOfShapeOp>(op);
  Value result = constantOfShape.getOutput();
  if (failed(checkRanked(op, {result})))
    return failure();
  FailureOr<SmallVector<Value>> dims = emitter.dims(result, op);
  if (failed(dims))
    return failure();
  RankedTensorType resultType = emitter.storageTensorType(result);
  Type storage = resultType.getElementType();
  Type modelType = cast<RankedTensorType>(result.getType()).getElementType();
  FailureOr<APInt> bits = fillBits(op, constantOfShape.getValueAttr(), modelType, storage);
  if (failed(bits))
    return failure();
  Type bitsTy = bitsType(storage);
  SmallString<32> hex;
  bits->toStringUnsigned(hex, 16);
  KernelParams params;
  Value count = emitter.product(*dims, 0, dims->size());
  unsigned countIndex = params.addDynamic(count);
  std::string name = "fill_" + typeName(bitsTy) + "_0x" + std::string(hex);
  BlockSize block = {kThreads, 1, 1};
  APInt pattern = *bits;
  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, {}, {bitsTy}, params.numScalars(), block,
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        SmallVector<Value> p = params.materialize(b, loc, f, 1);
        Value constant =
            arith::ConstantOp::create(b, loc, bitsTy, b.getIntegerAttr(bitsTy, pattern));
        gridStrideLoop(b, loc, p[countIndex], [&](OpBuilder &b, Location loc, Value i) {
          storeNatural(b, loc, constant, f.getArgument(0), i);
        });
      });
  Value output = emitter
                     .launch(kernel, {}, {ResultSpec{resultType, *dims}}, params.scalars(),
                             linearGrid(emitter, count), block)
                     .front();
  emitter.setResult(result, output);
  return success();
}

} // namespace

void populateDataMovementLowerings(KernelLowerings &lowerings) {
  lowerings["kiln.onnx.Reshape"] = lowerView;
  lowerings["kiln.onnx.Flatten"] = lowerView;
  lowerings["kiln.onnx.Squeeze"] = lowerView;
  lowerings["kiln.onnx.Unsqueeze"] = lowerView;
  lowerings["kiln.onnx.Transpose"] = lowerTranspose;
  lowerings["kiln.onnx.Slice"] = lowerSlice;
  lowerings["kiln.onnx.Expand"] = lowerExpand;
  lowerings["kiln.onnx.Concat"] = lowerConcat;
  lowerings["kiln.onnx.Split"] = lowerSplit;
  lowerings["kiln.onnx.Gather"] = lowerGather;
  lowerings["kiln.onnx.GatherElements"] = lowerGatherElements;
  lowerings["kiln.onnx.GatherND"] = lowerGatherND;
  lowerings["kiln.onnx.ScatterND"] = lowerScatterND;
  lowerings["kiln.onnx.Trilu"] = lowerTrilu;
  lowerings["kiln.onnx.CumSum"] = lowerCumSum;
  lowerings["kiln.onnx.Range"] = lowerRange;
  lowerings["kiln.onnx.Shape"] = lowerShape;
  lowerings["kiln.onnx.Size"] = lowerSize;
  lowerings["kiln.onnx.ConstantOfShape"] = lowerConstantOfShape;
}

} // namespace kiln::gpu_codegen
