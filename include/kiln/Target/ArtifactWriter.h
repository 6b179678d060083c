//===- ArtifactWriter.h - launch plan + PTX -> runtime artifact -*- C++ -*-===//
//
// The last step of kiln-compile: the module after kiln-lower-to-gpu, kiln-plan-memory and
// kiln-gpu-to-ptx (a host launch plan in @main and the kernels' PTX in `gpu.binary
// @kiln_kernels`) becomes a `kilnrt::Artifact`: symbols, I/O bindings, buffers, the weights
// blob, the launch list with grids and scalars as expressions, and the code.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_TARGET_ARTIFACTWRITER_H
#define KILN_TARGET_ARTIFACTWRITER_H

#include "kilnrt/Artifact.h"

#include "mlir/IR/BuiltinOps.h"

namespace kiln {

/// The PTX text of `gpu.binary @kiln_kernels` (format isa). Fails with an error on the module.
mlir::FailureOr<std::string> getKernelPtx(mlir::ModuleOp module);

/// Builds the artifact from a fully lowered module; `ptx` and `cubin` (may be empty) are the
/// kernels' code. Errors are reported on the op that cannot be expressed.
mlir::FailureOr<kilnrt::Artifact> buildArtifact(mlir::ModuleOp module, std::string ptx,
                                                std::vector<uint8_t> cubin,
                                                llvm::StringRef producer);

} // namespace kiln

#endif // KILN_TARGET_ARTIFACTWRITER_H
