//===- RaiseActivations.cpp ---------------------------------------------------------===//

#include "RaisePatterns.h"

using namespace mlir;
using namespace kiln;

void kiln::populateRaiseActivationPatterns(RewritePatternSet &patterns, const RaiseOptions &options) {}
