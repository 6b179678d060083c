//===- NormalizationKernels.cpp - LayerNorm and RMSNorm -------------------===//
//
// Kernel templates of kiln.layer_norm / kiln.rms_norm (over the last dim) and ONNX
// LayerNormalization / RMSNormalization (over the dims from `axis` on), with the CPU executor's
// semantics (lib/Executor/NormalizationKernels.cpp): statistics in f32 (f64 for f64 data),
// two passes (the mean, then the mean of the squared deviations, or of the squares for
// RMSNorm), LayerNorm multiplies by 1 / sqrt(var + eps) and RMSNorm divides by
// sqrt(mean(x^2) + eps); the ONNX ops round the normalised value to an f16/bf16 model type
// before the scale applies, as their function bodies do.
//
// One row kernel (RowKernels.h) per op: a warp per row for short rows, a block otherwise;
// a row of static length whose slice fits in registers is read once (vector loads), else the
// kernel reads it three times. Scale and bias are indexed by the column (or broadcast to
// the normalised dims for the ONNX ops).
//
//===----------------------------------------------------------------------===//

#include "RowKernels.h"

#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace kiln::gpu_codegen {
namespace {

enum class NormKind { Layer, RMS };

/// How a scale or bias parameter is indexed by the column c of the normalised dims.
struct ParamIndex {
  enum class Mode { Column, Scalar, Modulo, Strided } mode = Mode::Column;
  /// Modulo: c % modulo (the parameter spans the innermost normalised dims).
  int64_t modulo = 1;
  /// Strided: sum over normalised dims d of ((c / inner[d]) % size[d]) * stride[d].
  SmallVector<int64_t> inner, size, stride;

  std::string name() const {
    switch (mode) {
    case Mode::Column:
      return "c";
    case Mode::Scalar:
      return "s";
    case Mode::Modulo:
      return "m" + std::to_string(modulo);
    case Mode::Strided: {
      // g<size>s<stride> per normalised dim, x-separated: "g4s1x5s0".
      std::string text = "g";
      for (auto [d, n] : llvm::enumerate(size))
        text += (d ? "x" : "") + std::to_string(n) + "s" + std::to_string(stride[d]);
      return text;
    }
    }
    llvm_unreachable("unknown mode");
  }

  Value at(OpBuilder &b, Location loc, Value column) const {
    switch (mode) {
    case Mode::Column:
      return column;
    case Mode::Scalar:
      return indexConstant(b, loc, 0);
    case Mode::Modulo:
      return arith::RemUIOp::create(b, loc, column, indexConstant(b, loc, modulo));
    case Mode::Strided: {
      Value index = indexConstant(b, loc, 0);
      for (size_t d = 0; d < size.size(); ++d) {
        if (stride[d] == 0)
          continue;
        Value digit = arith::DivUIOp::create(b, loc, column, indexConstant(b, loc, inner[d]));
        digit = arith::RemUIOp::create(b, loc, digit, indexConstant(b, loc, size[d]));
        index = arith::AddIOp::create(
            b, loc, index, arith::MulIOp::create(b, loc, digit, indexConstant(b, loc, stride[d])));
      }
      return index;
    }
    }
    llvm_unreachable("unknown mode");
  }
};

/// How `param` (static shape) broadcasts to the normalised dims `normalized` (-1: dynamic),
/// or an error on `op`.
FailureOr<ParamIndex> indexParameter(Operation *op, StringRef what, RankedTensorType param,
                                     Type modelType, ArrayRef<int64_t> normalized) {
  if (!param.hasStaticShape())
    return op->emitError() << "GPU lowering of " << op->getName() << ": the " << what
                           << " must have a static shape, got " << modelType;
  ArrayRef<int64_t> shape = param.getShape();
  while (!shape.empty() && shape.front() == 1)
    shape = shape.drop_front();
  ParamIndex index;
  if (shape.empty()) {
    index.mode = ParamIndex::Mode::Scalar;
    return index;
  }
  if (shape.size() > normalized.size())
    return op->emitError() << "GPU lowering of " << op->getName() << ": the " << what << " "
                           << modelType << " does not broadcast to the normalized dims";
  ArrayRef<int64_t> tail = normalized.take_back(shape.size());
  // Equal to the innermost normalised dims (a dynamic one must equal the parameter's dim).
  bool suffix = llvm::all_of(llvm::zip_equal(shape, tail), [](auto pair) {
    auto [p, n] = pair;
    return p == n || (ShapedType::isDynamic(n) && p != 1);
  });
  if (suffix) {
    if (shape.size() == normalized.size()) {
      index.mode = ParamIndex::Mode::Column;
      return index;
    }
    index.mode = ParamIndex::Mode::Modulo;
    index.modulo = ShapedType::getNumElements(shape);
    return index;
  }
  if (llvm::any_of(normalized, ShapedType::isDynamic))
    return op->emitError() << "GPU lowering of " << op->getName() << ": broadcasting the "
                           << what << " " << modelType << " to dynamic normalized dims is not "
                           << "supported";
  index.mode = ParamIndex::Mode::Strided;
  int64_t inner = 1, stride = 1;
  size_t offset = normalized.size() - shape.size();
  index.inner.assign(normalized.size(), 1);
  index.size.assign(normalized.size(), 1);
  index.stride.assign(normalized.size(), 0);
  for (size_t d = normalized.size(); d-- > 0;) {
    index.inner[d] = inner;
    index.size[d] = normalized[d];
    int64_t paramDim = d >= offset ? shape[d - offset] : 1;
    if (paramDim != 1) {
      index.stride[d] = stride;
      stride *= paramDim;
    }
    inner *= normalized[d];
  }
  return index;
}

/// One normalisation op as the template sees it.
struct NormSpec {
  NormKind kind;
  /// Round the normalised value to the (f16/bf16) model type before scaling (ONNX ops).
  bool onnxRounding;
  Value input, scale, bias, output;
  /// ONNX LayerNormalization's optional Mean and InvStdDev results.
  Value mean, invStdDev;
  int64_t axis; // may be negative (ONNX)
  double epsilon;
  /// Scale and bias are [D], indexed by the column (the kiln ops); else they broadcast to
  /// the normalised dims (ONNX).
  bool columnParams;
};

std::string epsilonName(double epsilon) {
  float value = static_cast<float>(epsilon);
  if (static_cast<double>(value) == epsilon)
    return "eps" + llvm::utohexstr(llvm::bit_cast<uint32_t>(value));
  return "epsd" + llvm::utohexstr(llvm::bit_cast<uint64_t>(epsilon));
}

LogicalResult lowerNormalization(Operation *op, KernelEmitter &emitter, const NormSpec &spec) {
  StringRef opName = op->getName().getStringRef();
  auto inputModelType = dyn_cast<RankedTensorType>(spec.input.getType());
  if (!inputModelType)
    return op->emitError() << "GPU lowering of " << opName
                           << ": unranked operands are not supported";
  RankedTensorType inputType = emitter.storageTensorType(spec.input);
  int64_t rank = inputType.getRank();
  if (spec.axis < -rank || spec.axis >= rank)
    return op->emitError() << "GPU lowering of " << opName << ": axis " << spec.axis
                           << " is out of range for rank " << rank;
  int64_t axis = spec.axis < 0 ? spec.axis + rank : spec.axis;
  Type modelElement = inputModelType.getElementType();
  Type storage = inputType.getElementType();
  Type compute = computeType(storage);
  bool rounds = spec.onnxRounding && (modelElement.isF16() || modelElement.isBF16());

  ArrayRef<int64_t> normalized = inputType.getShape().drop_front(axis);
  std::optional<int64_t> staticCols;
  if (!llvm::any_of(normalized, ShapedType::isDynamic))
    staticCols = ShapedType::getNumElements(normalized);

  SmallVector<Value> params = {spec.scale};
  if (spec.bias)
    params.push_back(spec.bias);
  SmallVector<ParamIndex> paramIndex;
  SmallVector<Type> paramStorage;
  for (auto [i, param] : llvm::enumerate(params)) {
    if (!isa<RankedTensorType>(param.getType()))
      return op->emitError() << "GPU lowering of " << opName
                             << ": unranked operands are not supported";
    RankedTensorType type = emitter.storageTensorType(param);
    paramStorage.push_back(type.getElementType());
    if (spec.columnParams) {
      // The kiln ops' verifier holds scale and bias to [D].
      paramIndex.push_back(ParamIndex());
      continue;
    }
    FailureOr<ParamIndex> index =
        indexParameter(op, i == 0 ? "scale" : "bias", type, param.getType(), normalized);
    if (failed(index))
      return failure();
    paramIndex.push_back(*index);
  }

  Value source = emitter.tensor(spec.input);
  if (!source)
    return failure();
  SmallVector<Value> paramTensors;
  for (Value param : params) {
    paramTensors.push_back(emitter.tensor(param));
    if (!paramTensors.back())
      return failure();
  }
  FailureOr<SmallVector<Value>> dims = emitter.dims(spec.input, op);
  if (failed(dims))
    return failure();
  SmallVector<Value> statistics;
  for (Value result : {spec.mean, spec.invStdDev})
    if (result)
      statistics.push_back(result);
  SmallVector<ResultSpec> results = {{emitter.storageTensorType(spec.output), *dims}};
  for (Value result : statistics) {
    FailureOr<SmallVector<Value>> resultDims = emitter.dims(result, op);
    if (failed(resultDims))
      return failure();
    results.push_back({emitter.storageTensorType(result), *resultDims});
  }

  RowLayout layout = chooseRowLayout(staticCols, storage, /*cache=*/true);
  std::string name = spec.kind == NormKind::Layer ? "layer_norm_" : "rms_norm_";
  name += typeName(storage);
  if (rounds)
    name += "_round_" + typeName(modelElement);
  for (auto [type, index] : llvm::zip_equal(paramStorage, paramIndex))
    name += "_" + typeName(type) + index.name();
  name += "_" + layout.name() + "_" + epsilonName(spec.epsilon);
  SmallVector<Type> outputTypes = {storage};
  for (size_t i = 1; i < results.size(); ++i) {
    outputTypes.push_back(results[i].type.getElementType());
    name += (i == 1 ? "_mean_" : "_invstd_") + typeName(outputTypes.back());
  }
  SmallVector<Type> inputTypes = {storage};
  inputTypes.append(paramStorage);
  unsigned numBuffers = inputTypes.size() + outputTypes.size();

  gpu::GPUFuncOp kernel = emitter.getOrCreateKernel(
      name, inputTypes, outputTypes, 2, layout.block(),
      [&](OpBuilder &b, Location loc, gpu::GPUFuncOp kernel) {
        Value x = kernel.getArgument(0);
        SmallVector<Value> paramBuffers;
        for (size_t i = 0; i < params.size(); ++i)
          paramBuffers.push_back(kernel.getArgument(1 + i));
        Value y = kernel.getArgument(inputTypes.size());
        SmallVector<Value> statisticBuffers;
        for (size_t i = 1; i < outputTypes.size(); ++i)
          statisticBuffers.push_back(kernel.getArgument(inputTypes.size() + i));
        Value rows = scalarArgument(b, loc, kernel, numBuffers, 0);
        Value cols = staticCols ? indexConstant(b, loc, *staticCols)
                                : scalarArgument(b, loc, kernel, numBuffers, 1);
        SmallVector<Value> scratch = rowScratch(kernel, layout, {compute});
        RowPosition position = rowPosition(b, loc, layout, rows);

        auto rowSum = [&](OpBuilder &b, Location loc, Value partial) {
          return rowAllReduce(
                     b, loc, layout, {partial},
                     [](OpBuilder &b, Location loc, ValueRange p, ValueRange q) {
                       return SmallVector<Value>{arith::AddFOp::create(b, loc, p[0], q[0])};
                     },
                     scratch)
              .front();
        };
        auto square = [](OpBuilder &b, Location loc, Value value, Value mean) {
          Value deviation = mean ? arith::SubFOp::create(b, loc, value, mean).getResult() : value;
          return arith::MulFOp::create(b, loc, deviation, deviation).getResult();
        };
        // The parameters of `width` columns from `column`.
        auto loadParams = [&](OpBuilder &b, Location loc, Value column, int64_t width) {
          SmallVector<SmallVector<Value>> values;
          for (auto [buffer, index] : llvm::zip_equal(paramBuffers, paramIndex)) {
            if (index.mode == ParamIndex::Mode::Column) {
              values.push_back(loadElements(b, loc, buffer, column, width, compute));
              continue;
            }
            values.emplace_back();
            for (int64_t i = 0; i < width; ++i) {
              Value at = i == 0 ? column
                                : arith::AddIOp::create(b, loc, column, indexConstant(b, loc, i))
                                      .getResult();
              values.back().push_back(
                  loadElement(b, loc, buffer, index.at(b, loc, at), compute));
            }
          }
          return values;
        };
        // y = normalise(x) * scale + bias for `xs` at columns [column, column + width).
        auto normalise = [&](OpBuilder &b, Location loc, ArrayRef<Value> xs, Value column,
                             Value mean, Value root, Value inverse) {
          SmallVector<SmallVector<Value>> paramValues =
              loadParams(b, loc, column, static_cast<int64_t>(xs.size()));
          SmallVector<Value> ys;
          for (auto [i, value] : llvm::enumerate(xs)) {
            Value normal =
                spec.kind == NormKind::Layer
                    ? arith::MulFOp::create(b, loc, arith::SubFOp::create(b, loc, value, mean),
                                            inverse)
                          .getResult()
                    : arith::DivFOp::create(b, loc, value, root).getResult();
            if (rounds)
              normal = arith::ExtFOp::create(
                  b, loc, compute,
                  arith::TruncFOp::create(b, loc, modelElement, normal).getResult());
            Value result = arith::MulFOp::create(b, loc, normal, paramValues[0][i]);
            if (paramValues.size() > 1)
              result = arith::AddFOp::create(b, loc, result, paramValues[1][i]);
            ys.push_back(result);
          }
          return ys;
        };

        ifRowInRange(b, loc, position, [&](OpBuilder &b, Location loc) {
          Value base = rowBase(b, loc, position.row, cols);
          Value zero = floatConstant(b, loc, compute, 0.0);
          Value count = arith::SIToFPOp::create(
              b, loc, compute, arith::IndexCastOp::create(b, loc, b.getI64Type(), cols));
          Value epsilon = floatConstant(b, loc, compute, spec.epsilon);
          std::optional<CachedRow> cached;
          if (layout.cached)
            cached = loadCachedRow(b, loc, layout, x, base, position.lane, compute, zero);

          // Pass 1 (LayerNorm): the mean.
          Value mean;
          if (spec.kind == NormKind::Layer) {
            Value partial = zero;
            if (cached) {
              for (size_t c = 0; c < cached->chunks.size(); ++c)
                for (Value value : cached->chunks[c])
                  partial = arith::AddFOp::create(b, loc, partial, value); // fill is 0
            } else {
              partial = foldRowElements(
                            b, loc, layout, x, base, position.lane, cols, compute, {zero},
                            [](OpBuilder &b, Location loc, Value value, Value, ValueRange acc) {
                              return SmallVector<Value>{
                                  arith::AddFOp::create(b, loc, acc[0], value)};
                            })
                            .front();
            }
            mean = arith::DivFOp::create(b, loc, rowSum(b, loc, partial), count);
          }
          // Pass 2: the mean of the squared deviations (of the squares for RMSNorm).
          Value partial = zero;
          if (cached) {
            for (size_t c = 0; c < cached->chunks.size(); ++c)
              for (Value value : cached->chunks[c])
                partial = arith::AddFOp::create(
                    b, loc, partial,
                    maskCached(b, loc, *cached, c, square(b, loc, value, mean), zero));
          } else {
            partial = foldRowElements(
                          b, loc, layout, x, base, position.lane, cols, compute, {zero},
                          [&](OpBuilder &b, Location loc, Value value, Value, ValueRange acc) {
                            return SmallVector<Value>{arith::AddFOp::create(
                                b, loc, acc[0], square(b, loc, value, mean))};
                          })
                          .front();
          }
          Value meanSquare = arith::DivFOp::create(b, loc, rowSum(b, loc, partial), count);
          Value root =
              math::SqrtOp::create(b, loc, arith::AddFOp::create(b, loc, meanSquare, epsilon));
          Value inverse =
              arith::DivFOp::create(b, loc, floatConstant(b, loc, compute, 1.0), root);

          if (!statisticBuffers.empty()) {
            Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, position.lane,
                                                indexConstant(b, loc, 0));
            scf::IfOp::create(b, loc, first, [&](OpBuilder &b, Location loc) {
              Value values[] = {mean ? mean : zero, inverse};
              for (auto [buffer, value] : llvm::zip(statisticBuffers, values))
                storeElement(b, loc, value, buffer, position.row);
              scf::YieldOp::create(b, loc);
            });
          }

          // Pass 3: normalise and write.
          if (cached) {
            forEachCachedChunk(b, loc, *cached,
                               [&](OpBuilder &b, Location loc, size_t c, Value column) {
                                 SmallVector<Value> ys = normalise(
                                     b, loc, cached->chunks[c], column, mean, root, inverse);
                                 storeElements(b, loc, ys, y,
                                               arith::AddIOp::create(b, loc, base, column));
                               });
            return;
          }
          foldRowChunks(b, loc, layout, position.lane, cols, {},
                        [&](OpBuilder &b, Location loc, Value column, ValueRange) {
                          Value index = arith::AddIOp::create(b, loc, base, column);
                          SmallVector<Value> xs =
                              loadElements(b, loc, x, index, layout.vector, compute);
                          storeElements(b, loc, normalise(b, loc, xs, column, mean, root, inverse),
                                        y, index);
                          return SmallVector<Value>{};
                        });
        });
      });

  Value rows = emitter.product(*dims, 0, axis);
  Value cols = emitter.product(*dims, axis, rank);
  SmallVector<Value> inputs = {source};
  inputs.append(paramTensors);
  SmallVector<Value> launched =
      emitter.launch(kernel, inputs, results, {rows, cols},
                     {layout.gridSize(emitter, rows), emitter.index(1), emitter.index(1)},
                     layout.block());
  emitter.setResult(spec.output, launched[0]);
  for (auto [result, value] : llvm::zip(statistics, ArrayRef(launched).drop_front()))
    emitter.setResult(result, value);
  return success();
}

LogicalResult lowerLayerNorm(Operation *operation, KernelEmitter &emitter) {
  auto op = cast<LayerNormOp>(operation);
  NormSpec spec{NormKind::Layer, /*onnxRounding=*/false, op.getInput(), op.getScale(),
                op.getBias(), op.getOutput(), Value(), Value(), /*axis=*/-1,
                op.getEpsilon().convertToDouble(), /*columnParams=*/true};
  return lowerNormalization(operation, emitter, spec);
}

LogicalResult lowerRMSNorm(Operation *operation, KernelEmitter &emitter) {
  auto op = cast<RMSNormOp>(operation);
  NormSpec spec{NormKind::RMS, /*onnxRounding=*/false, op.getInput(), op.getScale(), Value(),
                op.getOutput(), Value(), Value(), /*axis=*/-1,
                op.getEpsilon().convertToDouble(), /*columnParams=*/true};
  return lowerNormalization(operation, emitter, spec);
}

LogicalResult lowerLayerNormalization(Operation *operation, KernelEmitter &emitter) {
  auto op = cast<OnnxLayerNormalizationOp>(operation);
  ValueRange statistics = op.getStatistics();
  NormSpec spec{NormKind::Layer,
                /*onnxRounding=*/true,
                op.getInput(),
                op.getScale(),
                op.getBias(),
                op.getOutput(),
                statistics.size() > 0 ? statistics[0] : Value(),
                statistics.size() > 1 ? statistics[1] : Value(),
                static_cast<int64_t>(op.getAxis()),
                op.getEpsilon().convertToDouble(),
                /*columnParams=*/false};
  return lowerNormalization(operation, emitter, spec);
}

LogicalResult lowerRMSNormalization(Operation *operation, KernelEmitter &emitter) {
  auto op = cast<OnnxRMSNormalizationOp>(operation);
  NormSpec spec{NormKind::RMS, /*onnxRounding=*/true, op.getInput(), op.getScale(), Value(),
                op.getOutput(), Value(), Value(), static_cast<int64_t>(op.getAxis()),
                op.getEpsilon().convertToDouble(), /*columnParams=*/false};
  return lowerNormalization(operation, emitter, spec);
}

} // namespace

void populateNormalizationLowerings(KernelLowerings &lowerings) {
  lowerings[LayerNormOp::getOperationName()] = lowerLayerNorm;
  lowerings[RMSNormOp::getOperationName()] = lowerRMSNorm;
  lowerings[OnnxLayerNormalizationOp::getOperationName()] = lowerLayerNormalization;
  lowerings[OnnxRMSNormalizationOp::getOperationName()] = lowerRMSNormalization;
}

} // namespace kiln::gpu_codegen
