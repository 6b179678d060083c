//===- OnnxImporter.h - ONNX protobuf to kiln graph ops ---------*- C++ -*-===//
//
// Reads an ONNX model (opsets 13-23 of the default domain, IR versions 7-10) into a module with
// one `func.func @main` whose body has one kiln graph op per ONNX node, located at
// `loc("<node name>")`. Initializers and Constant nodes become `kiln.constant` ops holding
// `dense_resource` blobs; the blobs take over the protobuf's buffers, so the import holds at most
// one extra copy of the weights. Graph inputs and outputs keep their ONNX names
// (`kiln.name` argument/result attributes) and their symbolic dims (`kiln.dim_params`).
//
// Every failure is reported as an MLIR diagnostic that names the cause and, for node-level
// problems, the node, its op type, domain and opset; the importer then returns null.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_IMPORTER_ONNXIMPORTER_H
#define KILN_IMPORTER_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace kiln {

/// Imports the `.onnx` file at `path`. External data is read relative to the file's folder.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxFile(llvm::StringRef path,
                                                 mlir::MLIRContext *context);

/// Imports a model held in memory. `sourceName` is used in diagnostics; `modelDir` is the folder
/// external data is read from (empty: a model with external data is rejected).
mlir::OwningOpRef<mlir::ModuleOp> importOnnxBuffer(llvm::StringRef bytes,
                                                   llvm::StringRef sourceName,
                                                   llvm::StringRef modelDir,
                                                   mlir::MLIRContext *context);

/// The ONNX op types of the default domain the importer translates, sorted.
std::vector<std::string> getSupportedOnnxOps(mlir::MLIRContext *context);

/// Loads the dialects the importer's output uses (kiln, func).
void loadImporterDialects(mlir::MLIRContext *context);

} // namespace kiln

#endif // KILN_IMPORTER_ONNXIMPORTER_H
