//===- KernelEmitter.cpp - the driver of kiln-lower-to-gpu ----------------===//

#include "kiln/Conversion/KilnToGPU/KernelEmitter.h"

#include "kiln/Conversion/KilnToGPU/KernelBuilders.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/TensorAttr.h"

#include "../../Dialect/Kiln/Transforms/SymbolicShapes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/STLExtras.h"


using namespace mlir;

namespace kiln::gpu_codegen {

KernelEmitter::KernelEmitter(func::FuncOp function, gpu::GPUModuleOp kernels,
                             const SymbolicShapes &shapes, const KernelLowerings &lowerings,
                             Precision precision, Target target)
    : function(function), kernels(kernels), shapes(shapes), lowerings(lowerings),
      storagePrecision(precision), gpuTarget(target), hostBuilder(function.getContext()),
      currentLoc(function.getLoc()) {
  hostBuilder.setInsertionPoint(function.getBody().front().getTerminator());
  collectFloat32Values();
  for (BlockArgument argument : function.getArguments()) {
    const DimList *argDims = shapes.getDims(argument);
    if (!argDims)
      continue;
    for (auto [dim, expr] : llvm::enumerate(*argDims))
      if (!expr.isConstant() && expr.offset == 0)
        symbolArguments.try_emplace(expr.symbol, argument.getArgNumber(), dim);
  }
}

// ---- types --------------------------------------------------------------------------------

/// Rotary angles grow with the position (up to max-dim radians): stored in f16 they would
/// be off by up to 0.25 rad at position 300. So the cos/sin tables and everything they are
/// computed from (positions, inverse frequencies, their product) stay f32 under fp16/bf16.
void KernelEmitter::collectFloat32Values() {
  if (storagePrecision == Precision::FP32)
    return;
  SmallVector<Value> worklist;
  function.walk([&](Operation *op) {
    if (auto rotary = dyn_cast<RotaryOp>(op)) {
      worklist.push_back(rotary.getCos());
      worklist.push_back(rotary.getSin());
    }
    StringRef name = op->getName().getStringRef();
    if (name == "kiln.onnx.Sin" || name == "kiln.onnx.Cos")
      for (Value operand : op->getOperands())
        worklist.push_back(operand);
    // RotaryEmbedding's operand 0 is the activation; the rest are tables and positions.
    if (name == "kiln.onnx.RotaryEmbedding")
      for (Value operand : op->getOperands().drop_front())
        worklist.push_back(operand);
    if (name == "kiln.onnx.Sin" || name == "kiln.onnx.Cos")
      worklist.push_back(op->getResult(0));
  });
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !isa<FloatType>(type.getElementType()) || !float32Values.insert(value).second)
      continue;
    if (Operation *producer = value.getDefiningOp())
      for (Value operand : producer->getOperands())
        worklist.push_back(operand);
  }
}

Type KernelEmitter::storageType(Type elementType) const {
  MLIRContext *context = elementType.getContext();
  if (elementType.isInteger(1))
    return IntegerType::get(context, 8);
  if (!isa<FloatType>(elementType) || elementType.isF64())
    return elementType;
  switch (storagePrecision) {
  case Precision::FP32:
    return Float32Type::get(context);
  case Precision::FP16:
    return Float16Type::get(context);
  case Precision::BF16:
    return BFloat16Type::get(context);
  }
  llvm_unreachable("unknown precision");
}

RankedTensorType KernelEmitter::storageTensorType(Value value) const {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> shape(type.getShape());
  if (const DimList *known = shapes.getDims(value))
    for (auto [i, dim] : llvm::enumerate(*known))
      if (dim.isConstant() && i < shape.size())
        shape[i] = dim.offset;
  Type element = float32Values.contains(value) && type.getElementType().isF32()
                     ? type.getElementType()
                     : storageType(type.getElementType());
  return RankedTensorType::get(shape, element);
}

// ---- host arithmetic ----------------------------------------------------------------------

Value KernelEmitter::index(int64_t value) {
  return arith::ConstantIndexOp::create(hostBuilder, currentLoc, value);
}

static std::optional<int64_t> constantIndex(Value value) {
  if (auto constant = value.getDefiningOp<arith::ConstantIndexOp>())
    return constant.value();
  return std::nullopt;
}

Value KernelEmitter::add(Value a, Value b) {
  auto ca = constantIndex(a), cb = constantIndex(b);
  if (ca && cb)
    return index(*ca + *cb);
  if (ca == 0)
    return b;
  if (cb == 0)
    return a;
  return arith::AddIOp::create(hostBuilder, currentLoc, a, b);
}

Value KernelEmitter::mul(Value a, Value b) {
  auto ca = constantIndex(a), cb = constantIndex(b);
  if (ca && cb)
    return index(*ca * *cb);
  if (ca == 1)
    return b;
  if (cb == 1)
    return a;
  return arith::MulIOp::create(hostBuilder, currentLoc, a, b);
}

Value KernelEmitter::ceilDiv(Value a, int64_t divisor) {
  if (auto ca = constantIndex(a))
    return index((*ca + divisor - 1) / divisor);
  if (divisor == 1)
    return a;
  return arith::CeilDivUIOp::create(hostBuilder, currentLoc, a, index(divisor));
}

Value KernelEmitter::product(ValueRange values) {
  Value result = index(1);
  for (Value value : values)
    result = mul(result, value);
  return result;
}

Value KernelEmitter::product(ArrayRef<Value> dims, size_t begin, size_t end) {
  Value result = index(1);
  for (size_t i = begin; i < end && i < dims.size(); ++i)
    result = mul(result, dims[i]);
  return result;
}

// ---- values -------------------------------------------------------------------------------

Value KernelEmitter::hostDim(BlockArgument argument, unsigned dim) {
  auto key = std::make_pair(argument.getArgNumber(), dim);
  if (Value cached = argumentDims.lookup(key))
    return cached;
  OpBuilder::InsertionGuard guard(hostBuilder);
  hostBuilder.setInsertionPointToStart(&function.getBody().front());
  Value result = tensor::DimOp::create(hostBuilder, argument.getLoc(), argument, dim);
  argumentDims[key] = result;
  return result;
}

FailureOr<SmallVector<Value>> KernelEmitter::dims(Value value, Operation *user) {
  const DimList *known = shapes.getDims(value);
  if (!known) {
    user->emitError() << "cannot lower to GPU code: the shape of an operand is unknown";
    return failure();
  }
  SmallVector<Value> result;
  for (auto [i, dim] : llvm::enumerate(*known)) {
    if (dim.isConstant()) {
      result.push_back(index(dim.offset));
      continue;
    }
    auto it = symbolArguments.find(dim.symbol);
    if (it == symbolArguments.end()) {
      user->emitError() << "cannot lower to GPU code: dim " << i << " ("
                        << shapes.format(dim)
                        << ") is not a function of the model's input dims (data-dependent "
                           "shapes are not supported on the GPU)";
      return failure();
    }
    Value base = hostDim(function.getArgument(it->second.first), it->second.second);
    result.push_back(add(base, index(dim.offset)));
  }
  return result;
}

void KernelEmitter::setResult(Value value, Value hostTensor) { hostTensors[value] = hostTensor; }

Value KernelEmitter::tensor(Value value) {
  if (Value mapped = hostTensors.lookup(value))
    return mapped;
  if (failedLowering)
    return {};
  if (auto argument = dyn_cast<BlockArgument>(value)) {
    if (argument.getOwner()->getParentOp() != function) {
      emitError(value.getLoc()) << "cannot lower to GPU code: a value defined in a region";
      failedLowering = true;
      return {};
    }
    auto type = cast<RankedTensorType>(argument.getType());
    Type storage = storageTensorType(argument).getElementType();
    Value hostValue = argument;
    if (storage != type.getElementType()) {
      FailureOr<SmallVector<Value>> argDims = dims(argument, function);
      if (failed(argDims)) {
        failedLowering = true;
        return {};
      }
      hostValue = convert(argument, *argDims, storage);
    }
    hostTensors[value] = hostValue;
    return hostValue;
  }
  Operation *producer = value.getDefiningOp();
  if (isa<ConstantOp>(producer)) {
    Value constant = lowerConstant(producer);
    if (!constant) {
      failedLowering = true;
      return {};
    }
    hostTensors[value] = constant;
    return constant;
  }
  if (failed(lowerProducer(producer))) {
    failedLowering = true;
    return {};
  }
  Value mapped = hostTensors.lookup(value);
  if (!mapped) {
    producer->emitError() << "internal error: the GPU lowering of '"
                          << producer->getName() << "' did not produce result "
                          << cast<OpResult>(value).getResultNumber();
    failedLowering = true;
  }
  return mapped;
}

Value KernelEmitter::lowerConstant(Operation *op) {
  auto constant = cast<ConstantOp>(op);
  auto type = cast<RankedTensorType>(constant.getType());
  Type storage = storageTensorType(constant.getResult()).getElementType();
  if (storage == type.getElementType())
    return constant.getResult();
  llvm::Expected<exec::Tensor> decoded = exec::tensorFromElements(constant.getValue());
  if (!decoded) {
    op->emitError() << "cannot convert the constant to " << storage << ": "
                    << llvm::toString(decoded.takeError());
    return {};
  }
  exec::DType target = storage.isF16()    ? exec::DType::F16
                       : storage.isBF16() ? exec::DType::BF16
                       : storage.isInteger(8) ? exec::DType::I8
                                              : exec::DType::F32;
  exec::Tensor converted = decoded->castTo(target);
  std::string name = "kiln_weight";
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(constant.getValue()))
    name = (resource.getRawHandle().getKey() + "." + typeName(storage)).str();
  ElementsAttr attr;
  if (converted.getNumElements() <= 16)
    attr = exec::denseFromTensor(converted, getContext());
  else
    attr = exec::resourceFromTensor(converted, name, getContext());
  OpBuilder::InsertionGuard guard(hostBuilder);
  hostBuilder.setInsertionPoint(op);
  return ConstantOp::create(hostBuilder, op->getLoc(), attr.getType(), attr).getResult();
}

LogicalResult KernelEmitter::lowerProducer(Operation *op) {
  if (inProgress.lookup(op))
    return op->emitError() << "internal error: cyclic dependency while lowering to GPU code";
  auto it = lowerings.find(op->getName().getStringRef());
  if (it == lowerings.end())
    return op->emitError() << "no GPU lowering for '" << op->getName()
                           << "' (supported ops: docs/Codegen.md)";
  inProgress[op] = true;
  Location saved = currentLoc;
  currentLoc = op->getLoc();
  LogicalResult result = it->second(op, *this);
  currentLoc = saved;
  inProgress[op] = false;
  if (failed(result) || failedLowering) {
    failedLowering = true;
    return failure();
  }
  return success();
}

// ---- kernels ------------------------------------------------------------------------------

gpu::GPUFuncOp KernelEmitter::getOrCreateKernel(
    StringRef name, TypeRange inputElementTypes, TypeRange outputElementTypes,
    unsigned numScalars, BlockSize block,
    function_ref<void(OpBuilder &, Location, gpu::GPUFuncOp)> buildBody) {
  if (auto existing = kernels.lookupSymbol<gpu::GPUFuncOp>(name))
    return existing;
  SmallVector<Type> parameters;
  for (Type type : inputElementTypes)
    parameters.push_back(bufferType(type));
  for (Type type : outputElementTypes)
    parameters.push_back(bufferType(type));
  IntegerType i64 = IntegerType::get(getContext(), 64);
  parameters.append(numScalars, i64);

  OpBuilder builder(getContext());
  builder.setInsertionPointToEnd(kernels.getBody());
  auto kernel = gpu::GPUFuncOp::create(builder, currentLoc, name,
                                       builder.getFunctionType(parameters, {}));
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), builder.getUnitAttr());
  kernel.setKnownBlockSizeAttr(builder.getDenseI32ArrayAttr({block[0], block[1], block[2]}));
  OpBuilder body(getContext());
  body.setInsertionPointToStart(&kernel.getBody().front());
  auto terminator = gpu::ReturnOp::create(body, currentLoc);
  body.setInsertionPoint(terminator);
  buildBody(body, currentLoc, kernel);
  return kernel;
}

SmallVector<Value> KernelEmitter::launch(gpu::GPUFuncOp kernel, ValueRange inputs,
                                         ArrayRef<ResultSpec> results, ValueRange scalars,
                                         Grid grid, BlockSize block, int64_t sharedBytes,
                                         ArrayRef<int64_t> tiedInputs) {
  SmallVector<Type> resultTypes;
  SmallVector<Value> resultDims;
  for (const ResultSpec &spec : results) {
    resultTypes.push_back(spec.type);
    for (auto [i, size] : llvm::enumerate(spec.type.getShape()))
      if (ShapedType::isDynamic(size))
        resultDims.push_back(spec.dims[i]);
  }
  auto symbol = SymbolRefAttr::get(kernels.getNameAttr(),
                                   {FlatSymbolRefAttr::get(kernel.getNameAttr())});
  auto launchOp = LaunchOp::create(
      hostBuilder, currentLoc, resultTypes, symbol, inputs, scalars, grid[0], grid[1], grid[2],
      hostBuilder.getDenseI32ArrayAttr({block[0], block[1], block[2]}),
      hostBuilder.getI64IntegerAttr(sharedBytes), resultDims,
      tiedInputs.empty() ? DenseI64ArrayAttr() : hostBuilder.getDenseI64ArrayAttr(tiedInputs));
  return SmallVector<Value>(launchOp.getResults());
}

Value KernelEmitter::view(Value source, RankedTensorType type, ArrayRef<Value> viewDims) {
  if (source.getType() == type)
    return source;
  SmallVector<Value> dynamic;
  for (auto [i, size] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(size))
      dynamic.push_back(viewDims[i]);
  return ViewOp::create(hostBuilder, currentLoc, type, source, dynamic);
}

Value KernelEmitter::convert(Value source, ArrayRef<Value> sourceDims, Type elementType,
                             bool toBool) {
  auto sourceType = cast<RankedTensorType>(source.getType());
  Type from = sourceType.getElementType();
  if (from == elementType && !toBool)
    return source;
  std::string name = "convert_" + typeName(from) + "_to_" + (toBool ? "bool_" : "") +
                     typeName(elementType);
  BlockSize block = {256, 1, 1};
  gpu::GPUFuncOp kernel = getOrCreateKernel(
      name, {from}, {elementType}, 1, block, [&](OpBuilder &b, Location loc, gpu::GPUFuncOp f) {
        Value count = scalarArgument(b, loc, f, 2, 0);
        gridStrideLoop(b, loc, count, [&](OpBuilder &b, Location loc, Value i) {
          // Through the compute type: f16 -> bf16 and bool <-> float keep ONNX semantics.
          // A bool target (stored as i8) is `value != 0`, not a truncation.
          Value value = loadElement(b, loc, f.getArgument(0), i, computeType(from));
          Type target = toBool ? b.getI1Type() : computeType(elementType);
          storeElement(b, loc, convertScalar(b, loc, value, target), f.getArgument(1), i);
        });
      });
  Value count = product(ValueRange(sourceDims));
  Value blocks = ceilDiv(count, block[0]);
  auto resultType = RankedTensorType::get(sourceType.getShape(), elementType);
  return launch(kernel, {source}, {ResultSpec{resultType, SmallVector<Value>(sourceDims)}},
                {count}, {blocks, index(1), index(1)}, block)
      .front();
}

// ---- driver -------------------------------------------------------------------------------

LogicalResult KernelEmitter::run() {
  Operation *terminator = function.getBody().front().getTerminator();
  SmallVector<Value> results;
  llvm::BitVector cacheResults(terminator->getNumOperands());
  for (OpOperand &operand : terminator->getOpOperands()) {
    Value value = operand.get();
    // A returned KV cache was updated in place of the cache argument: lower what updates it,
    // but it is no result of the plan.
    if (isa<KVCacheType>(value.getType())) {
      if (!tensor(value))
        return failure();
      cacheResults.set(operand.getOperandNumber());
      continue;
    }
    // A returned argument or constant is returned as it is: no round trip through the storage
    // type.
    auto argument = dyn_cast<BlockArgument>(value);
    if ((argument && argument.getOwner()->getParentOp() == function) ||
        value.getDefiningOp<ConstantOp>()) {
      results.push_back(value);
      continue;
    }
    Value hostValue = tensor(value);
    if (!hostValue)
      return failure();
    // Outputs keep the model's element type.
    Type declared = cast<RankedTensorType>(value.getType()).getElementType();
    if (cast<RankedTensorType>(hostValue.getType()).getElementType() != declared) {
      currentLoc = value.getLoc();
      FailureOr<SmallVector<Value>> outDims = dims(value, terminator);
      if (failed(outDims))
        return failure();
      hostValue = convert(hostValue, *outDims, declared);
    }
    if (hostValue.getType() != value.getType())
      hostValue = tensor::CastOp::create(hostBuilder, value.getLoc(), value.getType(), hostValue);
    results.push_back(hostValue);
  }
  if (cacheResults.any() && failed(function.eraseResults(cacheResults)))
    return failure();
  terminator->setOperands(results);

  // The original ops are dead now (constants the plan reads stay); erase them back to front.
  mlir::Block &body = function.getBody().front();
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (op->use_empty() && (isa_and_nonnull<KilnDialect>(op->getDialect()) || isPure(op)))
      op->erase();
  for (Operation &op : body.without_terminator())
    if (isa_and_nonnull<KilnDialect>(op.getDialect()) && !isa<LaunchOp, ViewOp, ConstantOp>(op))
      return op.emitError() << "internal error: '" << op.getName()
                            << "' is still used after lowering to GPU code";
  return success();
}

KernelLowerings getAllKernelLowerings() {
  KernelLowerings lowerings;
  populateConversionLowerings(lowerings);
  populateElementwiseLowerings(lowerings);
  populateDataMovementLowerings(lowerings);
  populateReductionLowerings(lowerings);
  populateNormalizationLowerings(lowerings);
  populateLinearLowerings(lowerings);
  populateAttentionLowerings(lowerings);
  populateKVCacheLowerings(lowerings);
  return lowerings;
}

} // namespace kiln::gpu_codegen
