//===- main.cpp - kiln-run of the standalone runtime build (artifact mode only) ------------===//
//
// The main (MLIR) build's tools/kiln-run also runs .onnx and MLIR models on the CPU and calls
// kilnRunArtifactMain for .kiln files; this one, built where there is no LLVM, runs artifacts.
//
//===----------------------------------------------------------------------------------------===//

#include "ArtifactRun.h"

int main(int argc, char **argv) { return kilnRunArtifactMain(argc, argv); }
