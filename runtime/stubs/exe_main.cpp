//===- exe_main.cpp - the stub of kiln-compile --emit=exe ----------------------------------===//
//
// kiln-compile copies this executable and appends the artifact and a KILNEXE1 trailer
// (kilnrt::appendArtifactToStub). At run time it reads the artifact back from /proc/self/exe
// and behaves like `kiln-run MODEL.kiln`:
//
//   ./model [--device N] --input NAME=x.npy ... [--inputs-from f.npz] [--expect ref.npz]
//           [--output-dir out/] [--repeat N] [--warmup N] [--print-signature]
//
// libkilnrt is linked statically: the binary needs only libc, libstdc++ and, at run time, the
// CUDA driver (dlopened).
//
//===----------------------------------------------------------------------------------------===//

#include "ArtifactRun.h"
#include "kilnrt/Artifact.h"

#include <cstdio>
#include <limits.h>
#include <string>
#include <unistd.h>
#include <vector>

int main(int argc, char **argv) {
  std::string self = "/proc/self/exe";
  char resolved[PATH_MAX];
  ssize_t n = readlink(self.c_str(), resolved, sizeof resolved - 1);
  std::string name = n > 0 ? std::string(resolved, static_cast<size_t>(n)) : std::string(argv[0]);
  std::vector<uint8_t> artifact;
  std::string error;
  if (!kilnrt::findEmbeddedArtifact(self, artifact, error)) {
    if (n > 0 && error.find(self) != std::string::npos)
      error.replace(error.find(self), self.size(), name);
    std::fprintf(stderr, "%s: %s\n", argv[0], error.c_str());
    return 1;
  }
  std::string base = name.substr(name.find_last_of('/') + 1);
  return kilnRunEmbeddedArtifactMain(argc, argv, artifact.data(), artifact.size(), base);
}
