//===- OnnxTensors.h - ONNX tensors and types to MLIR ------------*- C++ -*-===//
//
// Private to the importer: element type codes, TypeProto → tensor types, and TensorProto →
// ElementsAttr (resource blobs that take over the protobuf's buffers, external data).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_LIB_IMPORTER_ONNXTENSORS_H
#define KILN_LIB_IMPORTER_ONNXTENSORS_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>

namespace kiln::importer {

/// The MLIR element type of an ONNX `TensorProto.DataType` code, or null when Kiln does not
/// support it (strings, complex, float8, int4, ...).
mlir::Type getElementType(int32_t onnxDataType, mlir::MLIRContext *context);
/// The ONNX name of a data type code ("FLOAT", "STRING", ...), for diagnostics.
std::string getDataTypeName(int32_t onnxDataType);

/// A tensor type from an ONNX TypeProto, plus the symbolic dim names ("" where a dim has none).
struct ImportedType {
  mlir::TensorType type;
  llvm::SmallVector<std::string> dimParams;
  bool hasSymbolicDims() const;
};

/// Converts a TypeProto. On failure returns std::nullopt and sets `error` to the cause.
std::optional<ImportedType> convertType(const onnx::TypeProto &typeProto,
                                        mlir::MLIRContext *context, std::string &error);

/// Checks that a static shape of `elementType` fits in host memory; sets `error` if not.
bool checkFitsInMemory(llvm::ArrayRef<int64_t> shape, mlir::Type elementType,
                       std::string &error);

/// Where a tensor's bytes come from when they are stored outside the model file.
struct ExternalDataContext {
  /// The model's folder; empty when the model came from memory (external data is rejected).
  std::string modelDir;
};

/// Converts a TensorProto (an initializer or a Constant's value) into an ElementsAttr. Data is
/// moved out of `tensor` (its raw_data string becomes the blob's storage) so no second copy of
/// a weight exists. `blobName` is the resource key hint. On failure returns null and sets
/// `error`.
mlir::ElementsAttr convertTensor(onnx::TensorProto &tensor, llvm::StringRef blobName,
                                 const ExternalDataContext &external,
                                 mlir::MLIRContext *context, std::string &error);

} // namespace kiln::importer

#endif // KILN_LIB_IMPORTER_ONNXTENSORS_H
