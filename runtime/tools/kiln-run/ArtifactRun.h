//===- ArtifactRun.h - kiln-run's artifact mode -----------------------------------*- C++ -*-===//
//
//   kiln-run model.kiln [--device=cuda:0] [--input name=file.npy]... [--inputs-from ref.npz]
//            [--expect ref.npz] [--rtol 1e-3] [--atol 1e-4] [--min-argmax-agreement F]
//            [--repeat N] [--warmup N] [--output-dir dir] [--print-signature] [--no-cuda-graph]
//   kiln-run model.kiln --generate --prompt-file p.txt [--max-new-tokens N] [sampling options]
//   kiln-run model.kiln --eval-text text.bin --window W [--windows N]
//
// Runs a compiled artifact on a CUDA device through the runtime's C API, compares outputs with
// references and reports timing; generates text from prompts (models with prefill/decode
// entries) and measures bits per byte on a text. The main (MLIR) kiln-run calls it for .kiln
// inputs; the standalone runtime build's kiln-run is just this. No MLIR/LLVM dependency.
//
//===----------------------------------------------------------------------------------------===//

#ifndef KILNRT_TOOLS_KILN_RUN_ARTIFACTRUN_H
#define KILNRT_TOOLS_KILN_RUN_ARTIFACTRUN_H

#include <cstddef>
#include <string>

/// The whole tool: argv[0] is the program name, the rest its arguments. Returns the exit code
/// (0 success, 1 any error or mismatch); messages go to stdout (results) and stderr (errors).
int kilnRunArtifactMain(int argc, char **argv);

/// Whether `path` names an artifact: a ".kiln" extension, or a file that starts with the
/// artifact magic.
bool kilnRunIsArtifactPath(const std::string &path);

/// For executables built with kiln-compile --emit=exe: the same tool, with the model given as
/// the artifact embedded in the running binary (`artifactName` names it in messages). argv has
/// no model path.
int kilnRunEmbeddedArtifactMain(int argc, char **argv, const void *artifact, size_t size,
                                const std::string &artifactName);

#endif // KILNRT_TOOLS_KILN_RUN_ARTIFACTRUN_H
