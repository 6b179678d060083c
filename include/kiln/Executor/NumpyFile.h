//===- NumpyFile.h - numpy .npy / .npz files of host tensors ----*- C++ -*-===//
//
// Reads and writes numpy's array files so that the executor's inputs and reference outputs can
// be produced and checked with numpy. Supported: .npy format versions 1.0, 2.0 and 3.0 with the
// little-endian numeric and bool dtypes that map onto a DType (no bfloat16: numpy has none), C or
// Fortran order, 0-d and empty arrays; .npz archives (ZIP, members stored or deflated, zip64
// sizes). The readers parse untrusted files: every malformed input gives an llvm::Error that
// names the file (and the archive member) and the cause.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_EXECUTOR_NUMPYFILE_H
#define KILN_EXECUTOR_NUMPYFILE_H

#include "kiln/Executor/Tensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <utility>
#include <vector>

namespace kiln::exec {

/// Decodes the contents of a .npy file. `sourceName` prefixes error messages (a path, or a path
/// and an archive member).
llvm::Expected<Tensor> parseNpy(llvm::ArrayRef<char> bytes, llvm::StringRef sourceName);

/// Reads and decodes the .npy file at `path`.
llvm::Expected<Tensor> readNpyFile(llvm::StringRef path);

/// Encodes `tensor` as a .npy file (format 1.0, or 2.0 for a header too long for 1.0) at `path`.
/// Writes a temporary file next to `path` and renames it, so that a failure never leaves a
/// half-written file behind. bfloat16 tensors are rejected (numpy has no such dtype).
llvm::Error writeNpyFile(llvm::StringRef path, const Tensor &tensor);

/// Encodes `tensor` as the bytes of a .npy file.
llvm::Expected<std::vector<char>> encodeNpy(const Tensor &tensor);

/// Reads every member of the .npz archive at `path`, in archive order, named without the ".npy"
/// suffix (as np.load names them).
llvm::Expected<std::vector<std::pair<std::string, Tensor>>> readNpzFile(llvm::StringRef path);

/// The members of a .npz archive given as bytes; `sourceName` prefixes error messages.
llvm::Expected<std::vector<std::pair<std::string, Tensor>>> parseNpz(llvm::ArrayRef<char> bytes,
                                                                     llvm::StringRef sourceName);

} // namespace kiln::exec

#endif // KILN_EXECUTOR_NUMPYFILE_H
