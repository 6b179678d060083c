//===- RaiseNorms.cpp ---------------------------------------------------------===//

#include "RaisePatterns.h"

using namespace mlir;
using namespace kiln;

void kiln::populateRaiseNormPatterns(RewritePatternSet &patterns, const RaiseOptions &options) {}
