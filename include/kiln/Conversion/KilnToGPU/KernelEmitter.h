//===- KernelEmitter.h - what a kernel template builds with -----*- C++ -*-===//
//
// kiln-lower-to-gpu lowers one kiln op at a time by calling the kernel template registered
// for its name. A template reads the op (operands and results are the op's own values),
// builds or reuses a specialised `gpu.func` in `gpu.module @kiln_kernels`, and emits the
// host side: `kiln.launch` ops on the host tensors that hold the operands, with grid sizes
// and scalars computed from dims at run time. The emitter maps the original values to host
// tensors and dims, and applies the storage precision.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_CONVERSION_KILNTOGPU_KERNELEMITTER_H
#define KILN_CONVERSION_KILNTOGPU_KERNELEMITTER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include <array>
#include <functional>

namespace kiln {
class SymbolicShapes;

namespace gpu_codegen {

/// How float tensors are stored on the device. Kernels compute in f32 in every case.
enum class Precision { FP32, FP16, BF16 };

/// GPU generation the kernels are specialised for (sm_80: mma.sync; sm_90 adds wgmma/TMA).
struct Target {
  int smVersion = 90;
};

/// One result of a launch: its type (storage element type) and all its dims as host index
/// values (static dims as constants).
struct ResultSpec {
  mlir::RankedTensorType type;
  llvm::SmallVector<mlir::Value> dims;
};

/// Host index values of a launch grid (blocks in x, y, z).
using Grid = std::array<mlir::Value, 3>;
/// Threads per block in x, y, z.
using BlockSize = std::array<int32_t, 3>;

class KernelEmitter;
/// A kernel template for one op kind: lowers `op` through `emitter`, mapping every result
/// the function needs (emitter.setResult). On failure it must have emitted an error on `op`
/// and created nothing (or only dead host ops).
using KernelLowering = std::function<mlir::LogicalResult(mlir::Operation *op,
                                                         KernelEmitter &emitter)>;
/// Op name ("kiln.linear", "kiln.onnx.Add") -> its template.
using KernelLowerings = llvm::StringMap<KernelLowering>;

class KernelEmitter {
public:
  KernelEmitter(mlir::func::FuncOp function, mlir::gpu::GPUModuleOp kernels,
                const SymbolicShapes &shapes, const KernelLowerings &lowerings,
                Precision precision, Target target);

  // ---- the function being lowered -------------------------------------------------------

  /// Host builder, positioned after the host ops built so far. Templates create host
  /// arithmetic (grid sizes, scalars) with it.
  mlir::OpBuilder &host() { return hostBuilder; }
  mlir::Location loc() const { return currentLoc; }
  Precision precision() const { return storagePrecision; }
  Target target() const { return gpuTarget; }
  mlir::MLIRContext *getContext() { return hostBuilder.getContext(); }

  /// The host tensor holding original value `value` (lowering its producer first if needed).
  /// Its element type is the storage type. Null after an error (already reported).
  mlir::Value tensor(mlir::Value value);
  /// The dims of original value `value` as host index values (constants where static).
  /// Fails (with an error on `user`) when a dim cannot be computed from argument dims.
  mlir::FailureOr<llvm::SmallVector<mlir::Value>> dims(mlir::Value value,
                                                       mlir::Operation *user);
  /// Maps original value `value` to the host tensor that now holds it.
  void setResult(mlir::Value value, mlir::Value hostTensor);

  /// Storage element type of a model element type: floats follow the precision (f64 stays),
  /// i1 is stored as i8, other integers unchanged.
  mlir::Type storageType(mlir::Type elementType) const;
  /// The tensor type original value `value` has on the device: its storage type, except for
  /// the values kept in f32 (rotary angles and tables). Use it for results and operands.
  mlir::RankedTensorType storageTensorType(mlir::Value value) const;

  // ---- host arithmetic on index values ---------------------------------------------------

  mlir::Value index(int64_t value);
  mlir::Value add(mlir::Value a, mlir::Value b);
  mlir::Value mul(mlir::Value a, mlir::Value b);
  mlir::Value ceilDiv(mlir::Value a, int64_t divisor);
  mlir::Value product(mlir::ValueRange values);
  /// Product of `dims[begin, end)`.
  mlir::Value product(llvm::ArrayRef<mlir::Value> dims, size_t begin, size_t end);

  // ---- kernels ---------------------------------------------------------------------------

  /// The kernel `name` in @kiln_kernels, built by `buildBody` the first time. The name must
  /// encode everything the body depends on (op parameters, element types, static sizes).
  /// Parameters: one `memref<?xT, global>` per input and output element type, then
  /// `numScalars` i64. `buildBody` gets a builder before the kernel's `gpu.return`.
  mlir::gpu::GPUFuncOp
  getOrCreateKernel(llvm::StringRef name, mlir::TypeRange inputElementTypes,
                    mlir::TypeRange outputElementTypes, unsigned numScalars, BlockSize block,
                    llvm::function_ref<void(mlir::OpBuilder &, mlir::Location,
                                            mlir::gpu::GPUFuncOp)> buildBody);

  /// Emits `kiln.launch` of `kernel` on host tensors `inputs`, producing `results`.
  /// `tiedInputs` (empty, or one per result): the input index whose buffer the result is
  /// computed in place of, or -1 (see kiln.launch's `tied`).
  llvm::SmallVector<mlir::Value> launch(mlir::gpu::GPUFuncOp kernel, mlir::ValueRange inputs,
                                        llvm::ArrayRef<ResultSpec> results,
                                        mlir::ValueRange scalars, Grid grid, BlockSize block,
                                        int64_t sharedBytes = 0,
                                        llvm::ArrayRef<int64_t> tiedInputs = {});

  /// `kiln.view` of host tensor `source` as `type` with dims `dims` (all of them).
  mlir::Value view(mlir::Value source, mlir::RankedTensorType type,
                   llvm::ArrayRef<mlir::Value> dims);

  /// Converts host tensor `source` (dims `dims`) to element type `elementType` with a
  /// generated conversion kernel (no-op when the types match). `toBool`: the target is a
  /// model bool stored as `elementType` (i8): values become `!= 0`.
  mlir::Value convert(mlir::Value source, llvm::ArrayRef<mlir::Value> dims,
                      mlir::Type elementType, bool toBool = false);

  // ---- driver ----------------------------------------------------------------------------

  /// Lowers everything the function's results depend on and rewrites the function into the
  /// host launch plan. Errors are reported on the op that could not be lowered.
  mlir::LogicalResult run();

private:
  mlir::LogicalResult lowerProducer(mlir::Operation *op);
  void collectFloat32Values();
  mlir::Value lowerConstant(mlir::Operation *op);
  mlir::Value hostDim(mlir::BlockArgument argument, unsigned dim);

  mlir::func::FuncOp function;
  mlir::gpu::GPUModuleOp kernels;
  const SymbolicShapes &shapes;
  const KernelLowerings &lowerings;
  Precision storagePrecision;
  Target gpuTarget;
  mlir::OpBuilder hostBuilder;
  mlir::Location currentLoc;
  llvm::DenseMap<mlir::Value, mlir::Value> hostTensors;
  llvm::DenseMap<mlir::Operation *, bool> inProgress;
  /// symbol of SymbolicShapes -> (argument, dim) that defines it.
  llvm::DenseMap<int64_t, std::pair<unsigned, unsigned>> symbolArguments;
  llvm::DenseMap<std::pair<unsigned, unsigned>, mlir::Value> argumentDims;
  bool failedLowering = false;
  /// Float values kept in f32 whatever the precision (rotary tables and their sources).
  llvm::DenseSet<mlir::Value> float32Values;
};

/// Registration of the kernel templates, one function per op family (each in its own file).
void populateConversionLowerings(KernelLowerings &lowerings);
void populateElementwiseLowerings(KernelLowerings &lowerings);
void populateDataMovementLowerings(KernelLowerings &lowerings);
void populateReductionLowerings(KernelLowerings &lowerings);
void populateNormalizationLowerings(KernelLowerings &lowerings);
void populateLinearLowerings(KernelLowerings &lowerings);
void populateAttentionLowerings(KernelLowerings &lowerings);
void populateKVCacheLowerings(KernelLowerings &lowerings);

/// Every template above.
KernelLowerings getAllKernelLowerings();

} // namespace gpu_codegen
} // namespace kiln

#endif // KILN_CONVERSION_KILNTOGPU_KERNELEMITTER_H
