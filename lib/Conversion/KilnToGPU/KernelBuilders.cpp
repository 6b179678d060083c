//===- KernelBuilders.cpp - device-side IR helpers for kernel templates ---===//

#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace kiln::gpu_codegen {

MemRefType bufferType(Type elementType) {
  auto global = gpu::AddressSpaceAttr::get(elementType.getContext(), gpu::AddressSpace::Global);
  return MemRefType::get({ShapedType::kDynamic}, elementType, MemRefLayoutAttrInterface(),
                         global);
}

Type computeType(Type storageElementType) {
  if (storageElementType.isF16() || storageElementType.isBF16())
    return Float32Type::get(storageElementType.getContext());
  return storageElementType;
}

Value convertScalar(OpBuilder &b, Location loc, Value value, Type to) {
  Type from = value.getType();
  if (from == to)
    return value;
  auto fromFloat = dyn_cast<FloatType>(from);
  auto toFloat = dyn_cast<FloatType>(to);
  if (to.isInteger(1)) {
    if (fromFloat) {
      Value zero = arith::ConstantOp::create(b, loc, from, b.getFloatAttr(from, 0.0));
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, value, zero);
    }
    Value zero = arith::ConstantOp::create(b, loc, from, b.getIntegerAttr(from, 0));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, value, zero);
  }
  if (fromFloat && toFloat) {
    if (fromFloat.getWidth() < toFloat.getWidth())
      return arith::ExtFOp::create(b, loc, to, value);
    if (fromFloat.getWidth() > toFloat.getWidth())
      return arith::TruncFOp::create(b, loc, to, value);
    // f16 <-> bf16: through f32.
    Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), value);
    return arith::TruncFOp::create(b, loc, to, wide);
  }
  if (fromFloat)
    return arith::FPToSIOp::create(b, loc, to, value);
  if (toFloat) {
    if (from.isInteger(1))
      return arith::UIToFPOp::create(b, loc, to, value);
    return arith::SIToFPOp::create(b, loc, to, value);
  }
  if (from.isIndex() || to.isIndex())
    return arith::IndexCastOp::create(b, loc, to, value);
  unsigned fromWidth = from.getIntOrFloatBitWidth(), toWidth = to.getIntOrFloatBitWidth();
  if (fromWidth < toWidth)
    return from.isInteger(1) ? arith::ExtUIOp::create(b, loc, to, value).getResult()
                             : arith::ExtSIOp::create(b, loc, to, value).getResult();
  return arith::TruncIOp::create(b, loc, to, value);
}

Value loadElement(OpBuilder &b, Location loc, Value buffer, Value index, Type type) {
  Value loaded = memref::LoadOp::create(b, loc, buffer, ValueRange{index});
  return convertScalar(b, loc, loaded, type);
}

void storeElement(OpBuilder &b, Location loc, Value value, Value buffer, Value index) {
  Type storage = cast<MemRefType>(buffer.getType()).getElementType();
  Value converted = convertScalar(b, loc, value, storage);
  memref::StoreOp::create(b, loc, converted, buffer, ValueRange{index});
}

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value scalarArgument(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel, unsigned numBuffers,
                     unsigned scalarIndex) {
  Value argument = kernel.getArgument(numBuffers + scalarIndex);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), argument);
}

Value globalThreadIndex(OpBuilder &b, Location loc) {
  Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value size = gpu::BlockDimOp::create(b, loc, gpu::Dimension::x);
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value base = arith::MulIOp::create(b, loc, block, size);
  return arith::AddIOp::create(b, loc, base, thread);
}

void gridStrideLoop(OpBuilder &b, Location loc, Value count,
                    function_ref<void(OpBuilder &, Location, Value)> body) {
  Value start = globalThreadIndex(b, loc);
  Value grid = gpu::GridDimOp::create(b, loc, gpu::Dimension::x);
  Value size = gpu::BlockDimOp::create(b, loc, gpu::Dimension::x);
  Value step = arith::MulIOp::create(b, loc, grid, size);
  scf::ForOp::create(b, loc, start, count, step, ValueRange{},
                     [&](OpBuilder &nested, Location nestedLoc, Value i, ValueRange) {
                       body(nested, nestedLoc, i);
                       scf::YieldOp::create(nested, nestedLoc);
                     });
}

SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear, ArrayRef<Value> dims) {
  SmallVector<Value> indices(dims.size());
  Value rest = linear;
  for (int64_t i = static_cast<int64_t>(dims.size()) - 1; i >= 0; --i) {
    if (i == 0) {
      indices[i] = rest;
      break;
    }
    indices[i] = arith::RemUIOp::create(b, loc, rest, dims[i]);
    rest = arith::DivUIOp::create(b, loc, rest, dims[i]);
  }
  return indices;
}

Value linearize(OpBuilder &b, Location loc, ArrayRef<Value> indices, ArrayRef<Value> dims) {
  Value linear = indexConstant(b, loc, 0);
  for (auto [index, dim] : llvm::zip_equal(indices, dims)) {
    linear = arith::MulIOp::create(b, loc, linear, dim);
    linear = arith::AddIOp::create(b, loc, linear, index);
  }
  return linear;
}

std::string typeName(Type type) {
  std::string name;
  llvm::raw_string_ostream os(name);
  type.print(os);
  return name;
}

// ---- vector accesses and cross-thread reductions ------------------------------------------

SmallVector<Value> loadElements(OpBuilder &b, Location loc, Value buffer, Value index,
                                int64_t width, Type type) {
  if (width == 1)
    return {loadElement(b, loc, buffer, index, type)};
  Type storage = cast<MemRefType>(buffer.getType()).getElementType();
  auto vectorType = VectorType::get({width}, storage);
  int64_t bytes = width * ((storage.getIntOrFloatBitWidth() + 7) / 8);
  Value loaded = vector::LoadOp::create(b, loc, vectorType, buffer, ValueRange{index},
                                        /*nontemporal=*/false, llvm::MaybeAlign(bytes));
  SmallVector<Value> values;
  for (int64_t i = 0; i < width; ++i) {
    Value element = vector::ExtractOp::create(b, loc, loaded, ArrayRef<int64_t>{i});
    values.push_back(convertScalar(b, loc, element, type));
  }
  return values;
}

void storeElements(OpBuilder &b, Location loc, ValueRange values, Value buffer, Value index) {
  if (values.size() == 1)
    return storeElement(b, loc, values.front(), buffer, index);
  Type storage = cast<MemRefType>(buffer.getType()).getElementType();
  SmallVector<Value> converted;
  for (Value value : values)
    converted.push_back(convertScalar(b, loc, value, storage));
  int64_t width = static_cast<int64_t>(values.size());
  auto vectorType = VectorType::get({width}, storage);
  Value vector = vector::FromElementsOp::create(b, loc, vectorType, converted);
  int64_t bytes = width * ((storage.getIntOrFloatBitWidth() + 7) / 8);
  vector::StoreOp::create(b, loc, vector, buffer, ValueRange{index}, /*nontemporal=*/false,
                          llvm::MaybeAlign(bytes));
}

Value addSharedBuffer(gpu::GPUFuncOp kernel, Type elementType, int64_t count) {
  auto workgroup =
      gpu::AddressSpaceAttr::get(elementType.getContext(), gpu::AddressSpace::Workgroup);
  auto type = MemRefType::get({count}, elementType, MemRefLayoutAttrInterface(), workgroup);
  return kernel.addWorkgroupAttribution(type, kernel.getLoc());
}

SmallVector<Value> warpAllReduce(OpBuilder &b, Location loc, ValueRange values,
                                 CombineFn combine, int64_t width) {
  SmallVector<Value> current(values);
  Value shuffleWidth = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 32);
  for (int64_t offset = 1; offset < width; offset *= 2) {
    Value distance = arith::ConstantIntOp::create(b, loc, b.getI32Type(), offset);
    SmallVector<Value> other;
    for (Value value : current)
      other.push_back(gpu::ShuffleOp::create(b, loc, value, distance, shuffleWidth,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult());
    current = combine(b, loc, current, other);
  }
  return current;
}

SmallVector<Value> blockAllReduce(OpBuilder &b, Location loc, ValueRange values,
                                  CombineFn combine, ValueRange scratch, int64_t blockSize) {
  SmallVector<Value> warpResult = warpAllReduce(b, loc, values, combine);
  int64_t warps = blockSize / 32;
  if (warps <= 1)
    return warpResult;
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value c32 = indexConstant(b, loc, 32);
  Value warp = arith::DivUIOp::create(b, loc, thread, c32);
  Value lane = arith::RemUIOp::create(b, loc, thread, c32);
  Value isFirst = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane,
                                        indexConstant(b, loc, 0));
  scf::IfOp::create(b, loc, isFirst, [&](OpBuilder &then, Location thenLoc) {
    for (auto [value, buffer] : llvm::zip_equal(warpResult, scratch))
      memref::StoreOp::create(then, thenLoc, value, buffer, ValueRange{warp});
    scf::YieldOp::create(then, thenLoc);
  });
  gpu::BarrierOp::create(b, loc);
  // Every thread combines the partials in the same order: identical results everywhere.
  auto readPartials = [&](int64_t w) {
    SmallVector<Value> partial;
    Value position = indexConstant(b, loc, w);
    for (Value buffer : scratch)
      partial.push_back(memref::LoadOp::create(b, loc, buffer, ValueRange{position}));
    return partial;
  };
  SmallVector<Value> total = readPartials(0);
  for (int64_t w = 1; w < warps; ++w)
    total = combine(b, loc, total, readPartials(w));
  gpu::BarrierOp::create(b, loc);
  return total;
}

} // namespace kiln::gpu_codegen
