//===- OnnxImporter.cpp - ONNX protobuf to kiln graph ops ------------------===//
//
// One pass over the GraphProto: initializers become kiln.constant ops, then each node becomes the
// `kiln.onnx.<OpType>` op of the same name, built generically from the registered op's
// attribute names. The few places where an older opset spells an input as an attribute (the
// reductions' `axes` before opset 18) are rewritten to the opset-18 form the dialect uses.
//
//===----------------------------------------------------------------------===//

#include "kiln/Importer/OnnxImporter.h"

#include "OnnxResultTypes.h"
#include "OnnxTensors.h"

#include "kiln/Dialect/Kiln/IR/KilnDialect.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mlir;
using namespace kiln::importer;

namespace kiln {

static constexpr int64_t kMinOpset = 13, kMaxOpset = 23;
static constexpr int64_t kMinIrVersion = 7, kMaxIrVersion = 10;

static bool isDefaultDomain(StringRef domain) { return domain.empty() || domain == "ai.onnx"; }

/// The first opset of the default domain that defines each op Kiln imports with a later origin
/// than opset 13 (the rest exist in every supported opset).
static int64_t getIntroducingOpset(StringRef opType) {
  return llvm::StringSwitch<int64_t>(opType)
      .Case("Trilu", 14)
      .Case("LayerNormalization", 17)
      .Cases({"Attention", "RMSNormalization", "RotaryEmbedding"}, 23)
      .Default(kMinOpset);
}

/// Ops whose optional inputs are tracked with `operandSegmentSizes`: the number of ODS operand
/// groups (0 for ops without segments).
static unsigned getOperandSegmentCount(StringRef opType) {
  return llvm::StringSwitch<unsigned>(opType)
      .Case("Clip", 3)
      .Case("Dropout", 3)
      .Case("Slice", 5)
      .Case("Attention", 6)
      .Default(0);
}

/// The most results each op's ODS definition has (Split is variadic).
static unsigned getMaxResults(StringRef opType) {
  return llvm::StringSwitch<unsigned>(opType)
      .Case("Attention", 4)
      .Case("LayerNormalization", 3)
      .Cases({"Dropout", "TopK"}, 2)
      .Case("Split", std::numeric_limits<unsigned>::max())
      .Default(1);
}

/// Integer attributes that ONNX defines as flags.
static bool isFlagAttribute(StringRef name) {
  return llvm::is_contained({"keepdims", "noop_with_empty_axes", "transA", "transB", "is_causal",
                             "interleaved", "exclusive", "reverse", "largest", "sorted", "upper",
                             "allowzero", "select_last_index", "fmod", "saturate"},
                            name);
}

namespace {

class OnnxImporter {
public:
  OnnxImporter(MLIRContext *context, StringRef sourceName, StringRef modelDir)
      : context(context), builder(context), sourceName(sourceName.str()) {
    external.modelDir = modelDir.str();
  }

  OwningOpRef<ModuleOp> importModel(onnx::ModelProto &model);

private:
  Location getFileLoc() { return FileLineColLoc::get(context, sourceName, 0, 0); }
  /// "MatMul (domain ai.onnx, opset 18)"; the node's name is the diagnostic's location.
  std::string describe(const onnx::NodeProto &node) const {
    return node.op_type() + " (domain " +
           (node.domain().empty() ? std::string("ai.onnx") : node.domain()) + ", opset " +
           std::to_string(opset) + ")";
  }
  InFlightDiagnostic nodeError(const onnx::NodeProto &node, Location loc) {
    return emitError(loc) << describe(node) << ": ";
  }

  LogicalResult importGraph(onnx::GraphProto &graph, ModuleOp module);
  LogicalResult importNode(onnx::NodeProto &node, Location loc);
  LogicalResult importConstantNode(onnx::NodeProto &node, Location loc);
  LogicalResult convertAttribute(const onnx::NodeProto &node, onnx::AttributeProto &attribute,
                                 RegisteredOperationName opName, Location loc,
                                 NamedAttrList &attributes, SmallVectorImpl<Value> &operands);
  /// The inferred result type refined by the model's declared type for `outputName`; an error
  /// when the two contradict.
  FailureOr<Type> refineWithDeclaredType(const onnx::NodeProto &node, StringRef outputName,
                                         Type inferred, Location loc);
  Value createI64Constant(ArrayRef<int64_t> values, Location loc);

  MLIRContext *context;
  OpBuilder builder;
  std::string sourceName;
  ExternalDataContext external;
  int64_t opset = 0;
  /// ONNX value name → its SSA value.
  llvm::StringMap<Value> values;
  /// Types the model declares for intermediate values and graph outputs.
  llvm::StringMap<const onnx::TypeProto *> declaredTypes;
};

} // namespace

Value OnnxImporter::createI64Constant(ArrayRef<int64_t> data, Location loc) {
  auto type = RankedTensorType::get({static_cast<int64_t>(data.size())}, builder.getI64Type());
  return ConstantOp::create(builder, loc, DenseElementsAttr::get(type, data)).getResult();
}

OwningOpRef<ModuleOp> OnnxImporter::importModel(onnx::ModelProto &model) {
  Location fileLoc = getFileLoc();
  if (!model.has_ir_version() || !model.has_graph()) {
    emitError(fileLoc) << "'" << sourceName << "' is not an ONNX model (no "
                       << (model.has_ir_version() ? "graph" : "ir_version") << ")";
    return nullptr;
  }
  if (model.ir_version() < kMinIrVersion || model.ir_version() > kMaxIrVersion) {
    emitError(fileLoc) << "'" << sourceName << "' has ONNX IR version " << model.ir_version()
                       << "; Kiln reads IR versions " << kMinIrVersion << " to " << kMaxIrVersion;
    return nullptr;
  }
  for (const onnx::OperatorSetIdProto &import : model.opset_import())
    if (isDefaultDomain(import.domain()))
      opset = import.version();
  if (opset < kMinOpset || opset > kMaxOpset) {
    emitError(fileLoc) << "'" << sourceName << "' imports opset " << opset
                       << " of the default domain; Kiln reads opsets " << kMinOpset << " to "
                       << kMaxOpset;
    return nullptr;
  }

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  module->getOperation()->setAttr("kiln.onnx_ir_version",
                                  builder.getI64IntegerAttr(model.ir_version()));
  module->getOperation()->setAttr("kiln.onnx_opset", builder.getI64IntegerAttr(opset));
  if (!model.producer_name().empty())
    module->getOperation()->setAttr(
        "kiln.onnx_producer",
        builder.getStringAttr(model.producer_name() +
                              (model.producer_version().empty()
                                   ? ""
                                   : " " + model.producer_version())));
  if (failed(importGraph(*model.mutable_graph(), *module)))
    return nullptr;
  return module;
}

/// `kiln.dim_params` for a type with symbolic dims, or null.
static ArrayAttr getDimParamsAttr(Builder &builder, const ImportedType &type) {
  if (!type.hasSymbolicDims())
    return nullptr;
  SmallVector<Attribute> names;
  for (const std::string &name : type.dimParams)
    names.push_back(builder.getStringAttr(name));
  return builder.getArrayAttr(names);
}

LogicalResult OnnxImporter::importGraph(onnx::GraphProto &graph, ModuleOp module) {
  Location fileLoc = getFileLoc();
  llvm::StringSet<> initializerNames;
  for (const onnx::TensorProto &initializer : graph.initializer())
    initializerNames.insert(initializer.name());

  // Arguments: graph inputs that no initializer provides (IR >= 4 lists initializers as inputs
  // only when they are overridable defaults; Kiln treats them as constants).
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  SmallVector<std::string> argNames;
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializerNames.contains(input.name()))
      continue;
    std::string error;
    std::optional<ImportedType> type = convertType(input.type(), context, error);
    if (!type)
      return emitError(fileLoc) << "graph input '" << input.name() << "': " << error;
    NamedAttrList attrs;
    attrs.set("kiln.name", builder.getStringAttr(input.name()));
    if (ArrayAttr dimParams = getDimParamsAttr(builder, *type))
      attrs.set("kiln.dim_params", dimParams);
    argTypes.push_back(type->type);
    argAttrs.push_back(attrs.getDictionary(context));
    argNames.push_back(input.name());
  }
  for (const onnx::ValueInfoProto &info : graph.value_info())
    declaredTypes[info.name()] = &info.type();
  for (const onnx::ValueInfoProto &output : graph.output())
    declaredTypes[output.name()] = &output.type();

  builder.setInsertionPointToEnd(module.getBody());
  auto function = func::FuncOp::create(builder, fileLoc, "main",
                                       builder.getFunctionType(argTypes, {}));
  if (!graph.name().empty())
    function->setAttr("kiln.onnx_graph_name", builder.getStringAttr(graph.name()));
  function.setAllArgAttrs(argAttrs);
  Block *body = function.addEntryBlock();
  builder.setInsertionPointToStart(body);
  for (auto [name, arg] : llvm::zip(argNames, body->getArguments())) {
    if (!values.try_emplace(name, arg).second)
      return emitError(fileLoc) << "graph input '" << name << "' is declared twice";
  }

  for (onnx::TensorProto &initializer : *graph.mutable_initializer()) {
    std::string name = initializer.name();
    Location loc = NameLoc::get(builder.getStringAttr(name));
    std::string error;
    ElementsAttr value = convertTensor(initializer, name, external, context, error);
    if (!value)
      return emitError(loc) << "initializer '" << name << "': " << error;
    if (!values.try_emplace(name, ConstantOp::create(builder, loc, value).getResult()).second)
      return emitError(loc) << "initializer '" << name << "' is defined twice";
  }

  for (auto [index, node] : llvm::enumerate(*graph.mutable_node())) {
    std::string locName =
        node.name().empty() ? node.op_type() + "#" + std::to_string(index) : node.name();
    if (node.name().empty())
      node.set_name(locName);
    if (failed(importNode(node, NameLoc::get(builder.getStringAttr(locName)))))
      return failure();
  }

  SmallVector<Value> results;
  SmallVector<DictionaryAttr> resultAttrs;
  for (const onnx::ValueInfoProto &output : graph.output()) {
    Value value = values.lookup(output.name());
    if (!value)
      return emitError(fileLoc) << "graph output '" << output.name()
                                << "' is not produced by any node, input or initializer";
    NamedAttrList attrs;
    attrs.set("kiln.name", builder.getStringAttr(output.name()));
    std::string error;
    if (std::optional<ImportedType> type = convertType(output.type(), context, error)) {
      auto ranked = dyn_cast<RankedTensorType>(value.getType());
      if (ArrayAttr dimParams = getDimParamsAttr(builder, *type);
          dimParams && ranked && ranked.getRank() == static_cast<int64_t>(dimParams.size()))
        attrs.set("kiln.dim_params", dimParams);
    }
    results.push_back(value);
    resultAttrs.push_back(attrs.getDictionary(context));
  }
  func::ReturnOp::create(builder, fileLoc, results);
  function.setFunctionType(builder.getFunctionType(argTypes, ValueRange(results).getTypes()));
  function.setAllResultAttrs(resultAttrs);
  return success();
}

LogicalResult OnnxImporter::importConstantNode(onnx::NodeProto &node, Location loc) {
  if (node.attribute_size() != 1 || node.output_size() != 1)
    return nodeError(node, loc) << "a Constant needs exactly one value attribute and one output";
  onnx::AttributeProto &attribute = *node.mutable_attribute(0);
  ElementsAttr value;
  std::string error;
  StringRef name = attribute.name();
  auto i64Tensor = [&](ArrayRef<int64_t> data, bool scalar) -> ElementsAttr {
    auto type = RankedTensorType::get(scalar ? ArrayRef<int64_t>{}
                                             : ArrayRef<int64_t>{(int64_t)data.size()},
                                      builder.getI64Type());
    return DenseElementsAttr::get(type, data);
  };
  auto f32Tensor = [&](ArrayRef<float> data, bool scalar) -> ElementsAttr {
    auto type = RankedTensorType::get(scalar ? ArrayRef<int64_t>{}
                                             : ArrayRef<int64_t>{(int64_t)data.size()},
                                      builder.getF32Type());
    return DenseElementsAttr::get(type, data);
  };
  if (name == "value") {
    value = convertTensor(*attribute.mutable_t(), node.output(0), external, context, error);
    if (!value)
      return nodeError(node, loc) << "its value: " << error;
  } else if (name == "value_int") {
    value = i64Tensor({attribute.i()}, /*scalar=*/true);
  } else if (name == "value_ints") {
    SmallVector<int64_t> data(attribute.ints().begin(), attribute.ints().end());
    value = i64Tensor(data, /*scalar=*/false);
  } else if (name == "value_float") {
    value = f32Tensor({attribute.f()}, /*scalar=*/true);
  } else if (name == "value_floats") {
    SmallVector<float> data(attribute.floats().begin(), attribute.floats().end());
    value = f32Tensor(data, /*scalar=*/false);
  } else {
    return nodeError(node, loc) << "attribute '" << name << "' is not supported";
  }
  if (!values.try_emplace(node.output(0), ConstantOp::create(builder, loc, value).getResult())
           .second)
    return nodeError(node, loc) << "output '" << node.output(0) << "' is already defined";
  return success();
}

LogicalResult OnnxImporter::convertAttribute(const onnx::NodeProto &node,
                                             onnx::AttributeProto &attribute,
                                             RegisteredOperationName opName, Location loc,
                                             NamedAttrList &attributes,
                                             SmallVectorImpl<Value> &operands) {
  StringRef name = attribute.name();
  StringRef opType = node.op_type();
  if (!attribute.ref_attr_name().empty())
    return nodeError(node, loc) << "attribute '" << name
                                << "' refers to a function attribute, which is not supported";

  // Before opset 18 the reductions (ReduceSum: before 13) took `axes` as an attribute; the
  // dialect has the opset-18 form, an optional operand.
  if (name == "axes" && opType.starts_with("Reduce") &&
      attribute.type() == onnx::AttributeProto::INTS) {
    if (operands.size() > 1)
      return nodeError(node, loc) << "has both an 'axes' attribute and an axes input";
    SmallVector<int64_t> axes(attribute.ints().begin(), attribute.ints().end());
    operands.resize(1);
    operands.push_back(createI64Constant(axes, loc));
    return success();
  }

  if (!llvm::is_contained(opName.getAttributeNames(), builder.getStringAttr(name)))
    return nodeError(node, loc) << "attribute '" << name << "' is not supported";

  Attribute converted;
  switch (attribute.type()) {
  case onnx::AttributeProto::INT:
    if (isFlagAttribute(name) && attribute.i() != 0 && attribute.i() != 1)
      return nodeError(node, loc) << "attribute '" << name << "' is " << attribute.i()
                                  << "; it must be 0 or 1";
    if (opType == "Cast" && name == "to") {
      Type elementType = getElementType(attribute.i(), context);
      if (!elementType)
        return nodeError(node, loc) << "Cast to " << getDataTypeName(attribute.i())
                                    << " is not supported";
      converted = TypeAttr::get(elementType);
    } else {
      converted = builder.getI64IntegerAttr(attribute.i());
    }
    break;
  case onnx::AttributeProto::FLOAT:
    converted = builder.getF32FloatAttr(attribute.f());
    break;
  case onnx::AttributeProto::STRING:
    converted = builder.getStringAttr(attribute.s());
    break;
  case onnx::AttributeProto::INTS:
    converted = builder.getDenseI64ArrayAttr(
        SmallVector<int64_t>(attribute.ints().begin(), attribute.ints().end()));
    break;
  case onnx::AttributeProto::FLOATS:
    converted = builder.getDenseF32ArrayAttr(
        SmallVector<float>(attribute.floats().begin(), attribute.floats().end()));
    break;
  case onnx::AttributeProto::TENSOR: {
    std::string error;
    converted = convertTensor(*attribute.mutable_t(), node.name() + "." + name.str(), external,
                              context, error);
    if (!converted)
      return nodeError(node, loc) << "attribute '" << name << "': " << error;
    break;
  }
  default:
    return nodeError(node, loc) << "attribute '" << name << "' has type "
                                << onnx::AttributeProto::AttributeType_Name(attribute.type())
                                << ", which is not supported";
  }
  if (name == "reduction" && opType == "ScatterND" &&
      !llvm::is_contained({"none", "add", "mul", "max", "min"}, attribute.s()))
    return nodeError(node, loc) << "reduction '" << attribute.s() << "' is not supported";
  attributes.set(name, converted);
  return success();
}

/// The more precise of two compatible types (static dims win); null when they conflict.
static Type joinTypes(Type declared, Type inferred) {
  auto declaredShaped = cast<ShapedType>(declared), inferredShaped = cast<ShapedType>(inferred);
  if (declaredShaped.getElementType() != inferredShaped.getElementType())
    return nullptr;
  if (!declaredShaped.hasRank())
    return inferred;
  if (!inferredShaped.hasRank())
    return declared;
  if (declaredShaped.getRank() != inferredShaped.getRank())
    return nullptr;
  SmallVector<int64_t> shape;
  for (auto [a, b] : llvm::zip(declaredShaped.getShape(), inferredShaped.getShape())) {
    if (!ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b)
      return nullptr;
    shape.push_back(ShapedType::isDynamic(a) ? b : a);
  }
  return RankedTensorType::get(shape, declaredShaped.getElementType());
}

FailureOr<Type> OnnxImporter::refineWithDeclaredType(const onnx::NodeProto &node,
                                                     StringRef outputName, Type inferred,
                                                     Location loc) {
  const onnx::TypeProto *declared = declaredTypes.lookup(outputName);
  // Without a declared element type there is nothing to compare: the op's own rules decide.
  if (!declared || !declared->has_tensor_type() || !declared->tensor_type().has_elem_type())
    return inferred;
  std::string error;
  std::optional<ImportedType> type = convertType(*declared, context, error);
  if (!type)
    return nodeError(node, loc) << "output '" << outputName << "': " << error;
  Type declaredElement = type->type.getElementType();
  if (declaredElement != cast<ShapedType>(inferred).getElementType())
    return nodeError(node, loc) << "inconsistent types: output '" << outputName
                                << "' is declared as " << type->type << " but the op gives "
                                << inferred;
  Type joined = joinTypes(type->type, inferred);
  if (!joined)
    return nodeError(node, loc) << "inconsistent shapes: output '" << outputName
                                << "' is declared as " << type->type << " but its inputs give "
                                << inferred;
  return resultTypeIsOperandType(node.op_type()) ? inferred : joined;
}

LogicalResult OnnxImporter::importNode(onnx::NodeProto &node, Location loc) {
  StringRef opType = node.op_type();
  if (!isDefaultDomain(node.domain()))
    return nodeError(node, loc) << "domain '" << node.domain() << "' is not supported";
  if (opType == "Constant")
    return importConstantNode(node, loc);
  std::optional<RegisteredOperationName> opName =
      RegisteredOperationName::lookup("kiln.onnx." + opType.str(), context);
  if (!opName)
    return nodeError(node, loc) << "op type '" << opType << "' is not supported";
  if (opset < getIntroducingOpset(opType))
    return nodeError(node, loc) << opType << " needs opset " << getIntroducingOpset(opType)
                                << " or later";

  // Operands, with null for absent optional inputs (empty names).
  SmallVector<Value> operands;
  for (const std::string &input : node.input()) {
    if (input.empty()) {
      operands.push_back(nullptr);
      continue;
    }
    Value value = values.lookup(input);
    if (!value)
      return nodeError(node, loc) << "input '" << input
                                  << "' is not defined before the node (the graph must be "
                                     "topologically sorted)";
    operands.push_back(value);
  }

  NamedAttrList attributes;
  for (onnx::AttributeProto &attribute : *node.mutable_attribute())
    if (failed(convertAttribute(node, attribute, *opName, loc, attributes, operands)))
      return failure();

  // Optional inputs: segment sizes where the op tracks them, otherwise only trailing ones may be
  // absent.
  unsigned segmentCount = getOperandSegmentCount(opType);
  if (segmentCount) {
    if (operands.size() > segmentCount)
      return nodeError(node, loc) << "has " << operands.size() << " inputs; at most "
                                  << segmentCount << " are supported";
    SmallVector<int32_t> segments(segmentCount, 0);
    for (auto [i, operand] : llvm::enumerate(operands))
      segments[i] = operand ? 1 : 0;
    attributes.set("operandSegmentSizes", builder.getDenseI32ArrayAttr(segments));
  } else {
    while (!operands.empty() && !operands.back())
      operands.pop_back();
    if (llvm::is_contained(operands, Value()))
      return nodeError(node, loc) << "an absent optional input followed by a present one is "
                                     "not supported for this op";
  }
  // An attribute of the wrong kind (an INTS `axis`, ...) would be dropped when the op stores its
  // properties; reject it before the result type rules or the op's verifier read it.
  if (failed(opName->verifyInherentAttrs(attributes, [&] { return nodeError(node, loc); })))
    return failure();

  // Results: absent optional outputs (empty names) are dropped from the end; Attention tracks
  // them with segments.
  unsigned numOutputs = node.output_size();
  while (numOutputs > 0 && node.output(numOutputs - 1).empty())
    --numOutputs;
  if (numOutputs > getMaxResults(opType))
    return nodeError(node, loc) << "has " << numOutputs << " outputs; Kiln supports "
                                << getMaxResults(opType);
  bool withResultSegments = opType == "Attention";
  unsigned numInferred = withResultSegments ? getMaxResults(opType) : numOutputs;
  SmallVector<Type> inferredTypes;
  std::string error;
  SmallVector<Value> presentOperands;
  for (Value operand : operands)
    if (operand)
      presentOperands.push_back(operand);
  if (!inferResultTypes(context, opType, segmentCount ? ArrayRef<Value>(operands) : presentOperands,
                        attributes, numInferred, inferredTypes, error))
    return nodeError(node, loc) << error;

  SmallVector<Type> resultTypes;
  SmallVector<int32_t> resultSegments;
  SmallVector<std::string> resultNames;
  for (unsigned i = 0; i < numOutputs; ++i) {
    const std::string &name = node.output(i);
    if (withResultSegments) {
      resultSegments.push_back(name.empty() ? 0 : 1);
      if (name.empty())
        continue;
    }
    FailureOr<Type> type = refineWithDeclaredType(node, name, inferredTypes[i], loc);
    if (failed(type))
      return failure();
    resultTypes.push_back(*type);
    resultNames.push_back(name);
  }
  if (withResultSegments) {
    resultSegments.resize(getMaxResults(opType), 0);
    attributes.set("resultSegmentSizes", builder.getDenseI32ArrayAttr(resultSegments));
  }

  OperationState state(loc, *opName);
  state.addOperands(presentOperands);
  state.addAttributes(attributes);
  state.addTypes(resultTypes);
  Operation *op = builder.create(state);

  {
    // The verifier's message names the op; add which ONNX node it came from.
    ScopedDiagnosticHandler addNodeNote(context, [&](Diagnostic &diag) {
      if (diag.getSeverity() == DiagnosticSeverity::Error)
        diag.attachNote() << "while importing " << describe(node);
      return failure();
    });
    if (failed(mlir::verify(op)))
      return failure();
  }

  unsigned resultIndex = 0;
  for (const std::string &name : resultNames) {
    Value result = op->getResult(resultIndex++);
    if (name.empty())
      continue;
    if (!values.try_emplace(name, result).second)
      return nodeError(node, loc) << "output '" << name << "' is already defined";
  }
  return success();
}

void loadImporterDialects(MLIRContext *context) {
  context->getOrLoadDialect<KilnDialect>();
  context->getOrLoadDialect<func::FuncDialect>();
}

std::vector<std::string> getSupportedOnnxOps(MLIRContext *context) {
  loadImporterDialects(context);
  std::vector<std::string> ops = {"Constant"};
  for (RegisteredOperationName name : context->getRegisteredOperations()) {
    StringRef full = name.getStringRef();
    if (full.consume_front("kiln.onnx."))
      ops.push_back(full.str());
  }
  llvm::sort(ops);
  return ops;
}

OwningOpRef<ModuleOp> importOnnxBuffer(StringRef bytes, StringRef sourceName, StringRef modelDir,
                                       MLIRContext *context) {
  loadImporterDialects(context);
  Location loc = FileLineColLoc::get(context, sourceName, 0, 0);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    emitError(loc) << "'" << sourceName << "' is larger than 2 GiB; store its weights as "
                   << "external data";
    return nullptr;
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    emitError(loc) << "'" << sourceName
                   << "' is not a valid ONNX model: the protobuf cannot be parsed "
                      "(truncated or not an .onnx file)";
    return nullptr;
  }
  return OnnxImporter(context, sourceName, modelDir).importModel(model);
}

OwningOpRef<ModuleOp> importOnnxFile(StringRef path, MLIRContext *context) {
  loadImporterDialects(context);
  Location loc = FileLineColLoc::get(context, path, 0, 0);
  int fd = ::open(path.str().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    emitError(loc) << "cannot open '" << path << "': " << std::strerror(errno);
    return nullptr;
  }
  onnx::ModelProto model;
  bool parsed;
  {
    // Streamed from the file: the file's bytes are never held in memory next to the weights.
    // The byte limit lets protobuf reserve each string (raw_data) at its final size instead of
    // growing it by doubling. Protobuf caps that reservation at 50 MB, so a larger tensor still
    // grows and briefly needs twice its size while it is read.
    // Pipes and other non-regular files have no size: no limit then.
    struct stat info;
    int64_t fileSize = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)
                           ? info.st_size
                           : std::numeric_limits<int>::max();
    google::protobuf::io::FileInputStream stream(fd);
    stream.SetCloseOnDelete(true);
    google::protobuf::io::CodedInputStream coded(&stream);
    coded.SetTotalBytesLimit(
        static_cast<int>(std::min<int64_t>(fileSize, std::numeric_limits<int>::max())));
    parsed = model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  }
  if (!parsed) {
    emitError(loc) << "'" << path
                   << "' is not a valid ONNX model: the protobuf cannot be parsed "
                      "(truncated or not an .onnx file)";
    return nullptr;
  }
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  return OnnxImporter(context, path, dir).importModel(model);
}

} // namespace kiln
