//===- RowKernels.h - kernels that work on the rows of a tensor --*- C++ -*-===//
//
// Private to lib/Conversion/KilnToGPU: the thread mapping that reductions over the innermost
// axis, Softmax and the norms share (defined in ReductionKernels.cpp). A contiguous
// [rows, length] view is cut into rows; short rows get one warp each (several rows per
// block), long rows one block each. A thread visits the columns `lane * V + k * threads * V`
// of its row with V-wide vector accesses (V divides a static length; 1 when dynamic), folds
// them into partial results, and the row's threads combine those with warp shuffles (and
// shared memory across warps). Rows whose length is static and small enough stay in
// registers between passes (`cached`), so norms and Softmax read the input once.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_CONVERSION_KILNTOGPU_ROWKERNELS_H
#define KILN_LIB_CONVERSION_KILNTOGPU_ROWKERNELS_H

#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"

#include <optional>
#include <string>

namespace kiln::gpu_codegen {

/// How the rows of a [rows, length] row-major view map onto threads.
struct RowLayout {
  /// Threads per row: 32 (one warp) or a multiple of 32 up to 1024 (one block).
  int64_t threads = 256;
  /// Rows per block: > 1 only with one warp per row.
  int64_t rowsPerBlock = 1;
  /// The row length when static.
  std::optional<int64_t> length;
  /// Elements per access: a power of two dividing the static length (16 bytes at most).
  int64_t vector = 1;
  /// Accesses per thread, ceil(length / vector / threads), when the length is static.
  int64_t rounds = 0;
  /// Whether the row is held in registers (loadCachedRow); static lengths only.
  bool cached = false;

  int64_t blockSize() const { return threads * rowsPerBlock; }
  BlockSize block() const { return {static_cast<int32_t>(blockSize()), 1, 1}; }
  /// Everything above, for kernel names: "L4096_t128_v8_c" or "Ldyn_t256_v1".
  std::string name() const;
  /// Host grid size (x) for `rows` rows.
  mlir::Value gridSize(KernelEmitter &emitter, mlir::Value rows) const;
};

/// The layout for rows of `length` elements of storage type `storage`; `cache` asks for the
/// row to be kept in registers where it fits.
RowLayout chooseRowLayout(std::optional<int64_t> length, mlir::Type storage, bool cache);

/// This thread's row, its lane within the row, and whether the row exists (`row < rows`,
/// uniform across the threads of a row).
struct RowPosition {
  mlir::Value row, lane, inRange;
};
RowPosition rowPosition(mlir::OpBuilder &b, mlir::Location loc, const RowLayout &layout,
                        mlir::Value rows);

/// Runs `body` when the row exists (an scf.if on `inRange`).
void ifRowInRange(mlir::OpBuilder &b, mlir::Location loc, const RowPosition &position,
                  llvm::function_ref<void(mlir::OpBuilder &, mlir::Location)> body);

/// Shared buffers for rowAllReduce, one per reduced value type (none with one warp per row).
llvm::SmallVector<mlir::Value> rowScratch(mlir::gpu::GPUFuncOp kernel, const RowLayout &layout,
                                          mlir::TypeRange types);

/// Combines the partial results of the threads of each row: every thread of the row gets the
/// result. All threads of the block must call it (barriers) when threads > 32.
llvm::SmallVector<mlir::Value> rowAllReduce(mlir::OpBuilder &b, mlir::Location loc,
                                            const RowLayout &layout, mlir::ValueRange values,
                                            CombineFn combine, mlir::ValueRange scratch);

/// Folds this thread's chunks of a row: `step(column, acc)` for column = lane * V,
/// lane * V + threads * V, ... < length (a loop), where the chunk is columns
/// [column, column + V). The caller loads the chunk (loadElements at row base + column).
using ChunkStep = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    mlir::OpBuilder &, mlir::Location, mlir::Value column, mlir::ValueRange acc)>;
llvm::SmallVector<mlir::Value> foldRowChunks(mlir::OpBuilder &b, mlir::Location loc,
                                             const RowLayout &layout, mlir::Value lane,
                                             mlir::Value length, mlir::ValueRange init,
                                             ChunkStep step);

/// Element-wise version: loads each chunk of `buffer` (row base `base`) converted to
/// `type` and calls `step(value, column, acc)` for each element in column order.
using ElementStep = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    mlir::OpBuilder &, mlir::Location, mlir::Value value, mlir::Value column,
    mlir::ValueRange acc)>;
llvm::SmallVector<mlir::Value> foldRowElements(mlir::OpBuilder &b, mlir::Location loc,
                                               const RowLayout &layout, mlir::Value buffer,
                                               mlir::Value base, mlir::Value lane,
                                               mlir::Value length, mlir::Type type,
                                               mlir::ValueRange init, ElementStep step);

/// A row held in registers (layout.cached): one chunk of V values per round, its first
/// column, and whether it lies inside the row (null: always).
struct CachedRow {
  llvm::SmallVector<llvm::SmallVector<mlir::Value>> chunks;
  llvm::SmallVector<mlir::Value> columns;
  llvm::SmallVector<mlir::Value> valid;
};
/// Loads this thread's chunks of the row at `base` of `buffer`, converted to `type`; chunks
/// outside the row hold `fill`.
CachedRow loadCachedRow(mlir::OpBuilder &b, mlir::Location loc, const RowLayout &layout,
                        mlir::Value buffer, mlir::Value base, mlir::Value lane, mlir::Type type,
                        mlir::Value fill);
/// Runs `body(chunk index, first column)` for each cached chunk inside the row.
void forEachCachedChunk(mlir::OpBuilder &b, mlir::Location loc, const CachedRow &row,
                        llvm::function_ref<void(mlir::OpBuilder &, mlir::Location, size_t,
                                                mlir::Value)>
                            body);
/// `value` where the chunk is inside the row, else `otherwise`.
mlir::Value maskCached(mlir::OpBuilder &b, mlir::Location loc, const CachedRow &row,
                       size_t chunk, mlir::Value value, mlir::Value otherwise);

/// Scalar constants of a compute type.
mlir::Value floatConstant(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type, double value);
mlir::Value intConstant(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type, int64_t value);

/// Row-major index of the first element of `row` in rows of `length` elements.
mlir::Value rowBase(mlir::OpBuilder &b, mlir::Location loc, mlir::Value row, mlir::Value length);

} // namespace kiln::gpu_codegen

#endif // KILN_LIB_CONVERSION_KILNTOGPU_ROWKERNELS_H
