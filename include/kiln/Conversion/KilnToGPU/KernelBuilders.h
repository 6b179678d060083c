//===- KernelBuilders.h - device-side IR helpers for kernel templates -*- C++ -*-===//
//
// Small builders every kernel template uses inside a gpu.func: the buffer type of the kernel
// ABI, element loads/stores with the storage <-> compute conversions, thread indexing and
// index arithmetic. Templates build the rest (tiling, shared memory, tensor cores) themselves.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CONVERSION_KILNTOGPU_KERNELBUILDERS_H
#define KILN_CONVERSION_KILNTOGPU_KERNELBUILDERS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace kiln {
namespace gpu_codegen {

/// The type of a buffer parameter: `memref<?xT, #gpu.address_space<global>>`.
mlir::MemRefType bufferType(mlir::Type elementType);

/// The type a kernel computes a storage element in: f16/bf16 -> f32, i8 stays i8 (an i1 model
/// type is stored as i8; use `toBool`), everything else unchanged.
mlir::Type computeType(mlir::Type storageElementType);

/// Converts a scalar between element types with ONNX Cast semantics: floats extend or
/// truncate (round to nearest), float -> int truncates toward zero, int -> float rounds,
/// ints extend (sign-extend, zero-extend from i1) or truncate, anything -> i1 is `!= 0`.
mlir::Value convertScalar(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value,
                          mlir::Type to);

/// Loads element `index` of `buffer` and converts it to `type`.
mlir::Value loadElement(mlir::OpBuilder &b, mlir::Location loc, mlir::Value buffer,
                        mlir::Value index, mlir::Type type);
/// Converts `value` to `buffer`'s element type and stores it at `index`.
void storeElement(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value,
                  mlir::Value buffer, mlir::Value index);

mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc, int64_t value);

/// Scalar parameter `scalarIndex` (counting scalars only) of a kernel built by
/// KernelEmitter::getOrCreateKernel with `numBuffers` buffer parameters, as an index.
mlir::Value scalarArgument(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::gpu::GPUFuncOp kernel, unsigned numBuffers,
                           unsigned scalarIndex);

/// blockIdx.x * blockDim.x + threadIdx.x.
mlir::Value globalThreadIndex(mlir::OpBuilder &b, mlir::Location loc);

/// for (i = globalThreadIndex; i < count; i += gridDim.x * blockDim.x) body(i).
void gridStrideLoop(mlir::OpBuilder &b, mlir::Location loc, mlir::Value count,
                    llvm::function_ref<void(mlir::OpBuilder &, mlir::Location, mlir::Value)> body);

/// Row-major multi-index of `linear` in a tensor of dims `dims` (index values).
llvm::SmallVector<mlir::Value> delinearize(mlir::OpBuilder &b, mlir::Location loc,
                                           mlir::Value linear, llvm::ArrayRef<mlir::Value> dims);
/// Row-major linear index of `indices` in a tensor of dims `dims`.
mlir::Value linearize(mlir::OpBuilder &b, mlir::Location loc, llvm::ArrayRef<mlir::Value> indices,
                      llvm::ArrayRef<mlir::Value> dims);

/// A short name of an element type for kernel names: f32, f16, bf16, i64, ...
std::string typeName(mlir::Type type);

// ---- vector accesses and cross-thread reductions (row kernels: reductions, softmax, norms) --

/// Loads `width` consecutive elements of `buffer` starting at `index` with one vector access
/// (`width` a power of two, `index` a multiple of it: buffers are 256-byte aligned, so the
/// access is aligned to `width` elements) and converts each to `type`. `width` 1 is a scalar
/// load.
llvm::SmallVector<mlir::Value> loadElements(mlir::OpBuilder &b, mlir::Location loc,
                                            mlir::Value buffer, mlir::Value index,
                                            int64_t width, mlir::Type type);
/// Converts `values` to `buffer`'s element type and stores them at `index`, `index + 1`, ...
/// with one vector access (same alignment rule as loadElements).
void storeElements(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange values,
                   mlir::Value buffer, mlir::Value index);

/// Adds a static shared-memory buffer `memref<count x T, #gpu.address_space<workgroup>>` to
/// `kernel` (a workgroup attribution) and returns it.
mlir::Value addSharedBuffer(mlir::gpu::GPUFuncOp kernel, mlir::Type elementType, int64_t count);

/// Combines two tuples of partial results (same types as the reduced values) into one. Must be
/// associative and commutative, and bitwise symmetric (combine(a, b) == combine(b, a), as
/// float add/max are), so that every thread ends with the same bits.
using CombineFn = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange, mlir::ValueRange)>;

/// All-reduce of `values` (32- or 64-bit scalars) across each group of `width` consecutive
/// lanes of a warp (a power of two <= 32) with butterfly `gpu.shuffle xor`: every lane gets the
/// group's result. All 32 lanes of the warp must execute it.
llvm::SmallVector<mlir::Value> warpAllReduce(mlir::OpBuilder &b, mlir::Location loc,
                                             mlir::ValueRange values, CombineFn combine,
                                             int64_t width = 32);

/// All-reduce of `values` across a 1-D block of `blockSize` threads (a multiple of 32): a warp
/// all-reduce, one partial per warp in `scratch` (one shared buffer of >= blockSize / 32
/// elements per value, see addSharedBuffer), a barrier, then every thread combines the
/// partials in warp order and a second barrier lets the caller reuse `scratch`. Every thread
/// of the block must execute it (it has barriers). With blockSize 32 it is warpAllReduce.
llvm::SmallVector<mlir::Value> blockAllReduce(mlir::OpBuilder &b, mlir::Location loc,
                                              mlir::ValueRange values, CombineFn combine,
                                              mlir::ValueRange scratch, int64_t blockSize);

} // namespace gpu_codegen
} // namespace kiln

#endif // KILN_CONVERSION_KILNTOGPU_KERNELBUILDERS_H
