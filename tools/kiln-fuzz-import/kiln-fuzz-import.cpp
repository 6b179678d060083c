//===- kiln-fuzz-import.cpp - Fuzz target of the ONNX importer -------------===//
//
// `LLVMFuzzerTestOneInput` feeds arbitrary bytes to `kiln::importOnnxBuffer` (no model folder,
// so external data is rejected) and verifies whatever module comes back. The importer must
// never crash, hang or leak, whatever the bytes.
//
// Built two ways from this one file:
//  - kiln-fuzz-import (KILN_LIBFUZZER defined, clang with -fsanitize=fuzzer; CMake option
//    KILN_BUILD_FUZZERS): the libFuzzer binary, driven by scripts/fuzz-importer.sh.
//  - kiln-import-corpus (always built): `kiln-import-corpus FILE|DIR...` runs the same target
//    on every file given, or every file of every directory given, and exits 0 unless one of
//    them crashes. The lit suite replays test/Importer/fuzz-corpus with it.
//
//===----------------------------------------------------------------------===//

#include "kiln/Importer/OnnxImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringRef.h"

#include <cstddef>
#include <cstdint>

/// One import of `size` bytes. A fresh context per input: the importer's weight blobs live in
/// the context, so a shared one would grow with every input.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler swallow(&context,
                                        [](mlir::Diagnostic &) { return mlir::success(); });
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      kiln::importOnnxBuffer(bytes, "fuzz-input.onnx", /*modelDir=*/"", &context);
  if (module)
    (void)mlir::verify(*module);
  return 0;
}

#ifndef KILN_LIBFUZZER

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <string>
#include <vector>

/// Replays one file; false when it cannot be read.
static bool replayFile(const std::string &path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer) {
    llvm::errs() << "kiln-import-corpus: cannot read '" << path
                 << "': " << buffer.getError().message() << "\n";
    return false;
  }
  llvm::StringRef bytes = (*buffer)->getBuffer();
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
  return true;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  if (argc < 2) {
    llvm::errs() << "usage: kiln-import-corpus FILE|DIR...\n"
                    "Imports every file given (every file of every folder given) as an ONNX "
                    "model; exits 0 unless one of them crashes.\n";
    return 2;
  }
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (!llvm::sys::fs::is_directory(arg)) {
      files.push_back(arg.str());
      continue;
    }
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(arg, ec), end; it != end && !ec;
         it.increment(ec))
      if (llvm::sys::fs::is_regular_file(it->path()))
        files.push_back(it->path());
    if (ec) {
      llvm::errs() << "kiln-import-corpus: cannot list '" << arg << "': " << ec.message()
                   << "\n";
      return 1;
    }
  }
  std::sort(files.begin(), files.end());
  bool allRead = true;
  for (const std::string &file : files)
    allRead &= replayFile(file);
  llvm::outs() << "kiln-import-corpus: replayed " << files.size() << " file(s)\n";
  return allRead ? 0 : 1;
}

#endif // KILN_LIBFUZZER
