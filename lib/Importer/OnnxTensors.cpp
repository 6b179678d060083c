//===- OnnxTensors.cpp - ONNX tensors and types to MLIR --------------------===//

#include "OnnxTensors.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <fstream>
#include <unistd.h>

using namespace mlir;

namespace kiln::importer {

Type getElementType(int32_t onnxDataType, MLIRContext *context) {
  Builder b(context);
  switch (onnxDataType) {
  case onnx::TensorProto::FLOAT:
    return b.getF32Type();
  case onnx::TensorProto::UINT8:
    return b.getIntegerType(8, /*isSigned=*/false);
  case onnx::TensorProto::INT8:
    return b.getIntegerType(8);
  case onnx::TensorProto::UINT16:
    return b.getIntegerType(16, /*isSigned=*/false);
  case onnx::TensorProto::INT16:
    return b.getIntegerType(16);
  case onnx::TensorProto::INT32:
    return b.getIntegerType(32);
  case onnx::TensorProto::INT64:
    return b.getIntegerType(64);
  case onnx::TensorProto::BOOL:
    return b.getI1Type();
  case onnx::TensorProto::FLOAT16:
    return b.getF16Type();
  case onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto::UINT32:
    return b.getIntegerType(32, /*isSigned=*/false);
  case onnx::TensorProto::UINT64:
    return b.getIntegerType(64, /*isSigned=*/false);
  case onnx::TensorProto::BFLOAT16:
    return b.getBF16Type();
  default:
    return nullptr;
  }
}

std::string getDataTypeName(int32_t onnxDataType) {
  if (onnx::TensorProto::DataType_IsValid(onnxDataType))
    return onnx::TensorProto::DataType_Name(onnxDataType);
  return "<invalid data type " + std::to_string(onnxDataType) + ">";
}

bool ImportedType::hasSymbolicDims() const {
  return llvm::any_of(dimParams, [](const std::string &name) { return !name.empty(); });
}

/// Bytes per element as stored in raw_data (bool: one byte).
static int64_t getStorageBytes(Type elementType) {
  return std::max<int64_t>(1, elementType.getIntOrFloatBitWidth() / 8);
}

bool checkFitsInMemory(ArrayRef<int64_t> shape, Type elementType, std::string &error) {
  int64_t bytes = getStorageBytes(elementType);
  for (int64_t dim : shape) {
    if (ShapedType::isDynamic(dim))
      continue;
    if (llvm::MulOverflow(bytes, dim, bytes)) {
      error = "its dims need more than 2^63 bytes";
      return false;
    }
  }
  // The host's physical memory bounds what the CPU executor (and the GPU's host staging) can
  // ever allocate; a larger static tensor is a malformed or hostile model.
  int64_t pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && pageSize > 0 && bytes / pageSize > pages) {
    error = "its dims need " + std::to_string(bytes) + " bytes, more than this machine's " +
            std::to_string(pages * pageSize) + " bytes of memory";
    return false;
  }
  return true;
}

std::optional<ImportedType> convertType(const onnx::TypeProto &typeProto, MLIRContext *context,
                                        std::string &error) {
  if (!typeProto.has_tensor_type()) {
    error = typeProto.has_sequence_type()   ? "sequence types are not supported"
            : typeProto.has_optional_type() ? "optional types are not supported"
            : typeProto.has_map_type()      ? "map types are not supported"
            : typeProto.has_sparse_tensor_type()
                ? "sparse tensor types are not supported"
                : "the value has no tensor type";
    return std::nullopt;
  }
  const onnx::TypeProto::Tensor &tensorType = typeProto.tensor_type();
  Type elementType = getElementType(tensorType.elem_type(), context);
  if (!elementType) {
    error = "element type " + getDataTypeName(tensorType.elem_type()) +
            " is not supported";
    return std::nullopt;
  }
  ImportedType result;
  if (!tensorType.has_shape()) {
    result.type = UnrankedTensorType::get(elementType);
    return result;
  }
  SmallVector<int64_t> shape;
  for (const onnx::TensorShapeProto::Dimension &dim : tensorType.shape().dim()) {
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0) {
        error = "dim " + std::to_string(dim.dim_value()) + " is negative";
        return std::nullopt;
      }
      shape.push_back(dim.dim_value());
      result.dimParams.emplace_back();
    } else {
      shape.push_back(ShapedType::kDynamic);
      result.dimParams.push_back(dim.has_dim_param() ? dim.dim_param() : std::string());
    }
  }
  if (!checkFitsInMemory(shape, elementType, error))
    return std::nullopt;
  result.type = RankedTensorType::get(shape, elementType);
  return result;
}

/// Blob keys must be printable as bare identifiers; ONNX names may hold '/', ':', ...
static std::string sanitizeBlobName(StringRef name) {
  std::string key;
  for (char c : name)
    key.push_back(llvm::isAlnum(c) || c == '_' || c == '.' ? c : '_');
  if (key.empty() || llvm::isDigit(key.front()) || key.front() == '.')
    key.insert(key.begin(), '_');
  return key;
}

/// Resolves an external data location against the model folder, refusing anything that could
/// read outside it.
static std::optional<std::string> resolveExternalPath(StringRef location,
                                                      StringRef modelDir, std::string &error) {
  if (modelDir.empty()) {
    error = "its data is stored externally in '" + location.str() +
            "', but the model was not loaded from a file";
    return std::nullopt;
  }
  if (location.empty() || llvm::sys::path::is_absolute(location) ||
      llvm::any_of(llvm::make_range(llvm::sys::path::begin(location),
                                    llvm::sys::path::end(location)),
                   [](StringRef part) { return part == ".."; })) {
    error = "its external data location '" + location.str() +
            "' is not a relative path inside the model's folder";
    return std::nullopt;
  }
  SmallString<256> path(modelDir);
  llvm::sys::path::append(path, location);
  SmallString<256> realPath, realDir;
  if (llvm::sys::fs::real_path(path, realPath) || llvm::sys::fs::real_path(modelDir, realDir)) {
    error = "its external data file '" + std::string(path) + "' does not exist";
    return std::nullopt;
  }
  // A symlink inside the folder may still point out of it.
  if (!StringRef(realPath).starts_with(std::string(realDir) + "/")) {
    error = "its external data file '" + std::string(path) + "' resolves outside the model's folder";
    return std::nullopt;
  }
  return std::string(realPath);
}

static std::optional<AsmResourceBlob> readExternalData(const onnx::TensorProto &tensor,
                                                       int64_t byteCount,
                                                       const ExternalDataContext &external,
                                                       std::string &error) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
    StringRef value = entry.value();
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset" || entry.key() == "length") {
      int64_t parsed;
      if (value.getAsInteger(10, parsed) || parsed < 0) {
        error = "its external data " + entry.key() + " '" + entry.value() + "' is not valid";
        return std::nullopt;
      }
      (entry.key() == "offset" ? offset : length) = parsed;
    }
  }
  std::optional<std::string> path = resolveExternalPath(location, external.modelDir, error);
  if (!path)
    return std::nullopt;
  if (length >= 0 && length != byteCount) {
    error = "its external data length " + std::to_string(length) + " does not match the " +
            std::to_string(byteCount) + " bytes its dims need";
    return std::nullopt;
  }
  std::ifstream file(*path, std::ios::binary);
  if (!file) {
    error = "its external data file '" + *path + "' cannot be opened";
    return std::nullopt;
  }
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(byteCount, alignof(std::max_align_t));
  file.seekg(offset);
  file.read(blob.getMutableData().data(), byteCount);
  if (!file || file.gcount() != byteCount) {
    error = "its external data file '" + *path + "' is too short: it needs " +
            std::to_string(byteCount) + " bytes at offset " + std::to_string(offset);
    return std::nullopt;
  }
  return blob;
}

/// Packs one of TensorProto's typed repeated fields into a little-endian buffer.
template <typename FieldT, typename StoreT>
static AsmResourceBlob packField(const FieldT &field, int64_t byteWidth) {
  AsmResourceBlob blob =
      HeapAsmResourceBlob::allocate(field.size() * byteWidth, alignof(std::max_align_t));
  char *out = blob.getMutableData().data();
  for (auto value : field) {
    StoreT stored = static_cast<StoreT>(value);
    std::memcpy(out, &stored, byteWidth);
    out += byteWidth;
  }
  return blob;
}

/// The typed field that holds `dataType`'s values when raw_data is not used, as a blob.
static std::optional<AsmResourceBlob> packTypedData(const onnx::TensorProto &tensor,
                                                    int64_t numElements, std::string &error) {
  int64_t count = -1;
  std::optional<AsmResourceBlob> blob;
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT:
    count = tensor.float_data_size();
    blob = packField<decltype(tensor.float_data()), float>(tensor.float_data(), 4);
    break;
  case onnx::TensorProto::DOUBLE:
    count = tensor.double_data_size();
    blob = packField<decltype(tensor.double_data()), double>(tensor.double_data(), 8);
    break;
  case onnx::TensorProto::INT64:
    count = tensor.int64_data_size();
    blob = packField<decltype(tensor.int64_data()), int64_t>(tensor.int64_data(), 8);
    break;
  case onnx::TensorProto::UINT32:
    count = tensor.uint64_data_size();
    blob = packField<decltype(tensor.uint64_data()), uint32_t>(tensor.uint64_data(), 4);
    break;
  case onnx::TensorProto::UINT64:
    count = tensor.uint64_data_size();
    blob = packField<decltype(tensor.uint64_data()), uint64_t>(tensor.uint64_data(), 8);
    break;
  case onnx::TensorProto::INT32:
    count = tensor.int32_data_size();
    blob = packField<decltype(tensor.int32_data()), int32_t>(tensor.int32_data(), 4);
    break;
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    // 16-bit types (floats as their bit patterns) live in int32_data.
    count = tensor.int32_data_size();
    blob = packField<decltype(tensor.int32_data()), uint16_t>(tensor.int32_data(), 2);
    break;
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    count = tensor.int32_data_size();
    blob = packField<decltype(tensor.int32_data()), uint8_t>(tensor.int32_data(), 1);
    break;
  default:
    break;
  }
  if (count != numElements) {
    error = "it has " + std::to_string(count) + " values but its dims need " +
            std::to_string(numElements);
    return std::nullopt;
  }
  return blob;
}

ElementsAttr convertTensor(onnx::TensorProto &tensor, StringRef blobName,
                           const ExternalDataContext &external, MLIRContext *context,
                           std::string &error) {
  Type elementType = getElementType(tensor.data_type(), context);
  if (!elementType) {
    error = "element type " + getDataTypeName(tensor.data_type()) + " is not supported";
    return nullptr;
  }
  if (tensor.has_segment()) {
    error = "segmented tensors are not supported";
    return nullptr;
  }
  SmallVector<int64_t> shape;
  int64_t numElements = 1;
  for (int64_t dim : tensor.dims()) {
    if (dim < 0) {
      error = "dim " + std::to_string(dim) + " is negative";
      return nullptr;
    }
    shape.push_back(dim);
    if (llvm::MulOverflow(numElements, dim, numElements)) {
      error = "its dims need more than 2^63 elements";
      return nullptr;
    }
  }
  if (!checkFitsInMemory(shape, elementType, error))
    return nullptr;
  auto type = RankedTensorType::get(shape, elementType);
  int64_t byteCount = numElements * getStorageBytes(elementType);
  if (numElements == 0)
    return DenseElementsAttr::getFromRawBuffer(type, ArrayRef<char>());

  std::optional<AsmResourceBlob> blob;
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    blob = readExternalData(tensor, byteCount, external, error);
  } else if (tensor.has_raw_data()) {
    if (static_cast<int64_t>(tensor.raw_data().size()) != byteCount) {
      error = "it has " + std::to_string(tensor.raw_data().size()) +
              " bytes of raw_data but its dims need " + std::to_string(byteCount);
      return nullptr;
    }
    // Take over the protobuf's string: the blob owns it from here on, no copy.
    std::string *raw = tensor.release_raw_data();
    size_t alignment = getStorageBytes(elementType);
    if (reinterpret_cast<uintptr_t>(raw->data()) % alignment != 0) {
      blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(ArrayRef<char>(raw->data(),
                                                                          raw->size()),
                                                           alignof(std::max_align_t));
      delete raw;
    } else {
      blob = UnmanagedAsmResourceBlob::allocateWithAlign(
          ArrayRef<char>(raw->data(), raw->size()), alignment,
          [raw](void *, size_t, size_t) { delete raw; });
    }
  } else {
    blob = packTypedData(tensor, numElements, error);
    // The packed blob replaces the repeated fields; drop them so only one copy stays alive.
    tensor.clear_float_data();
    tensor.clear_double_data();
    tensor.clear_int32_data();
    tensor.clear_int64_data();
    tensor.clear_uint64_data();
  }
  if (!blob)
    return nullptr;
  return DenseResourceElementsAttr::get(type, sanitizeBlobName(blobName), std::move(*blob));
}

} // namespace kiln::importer
