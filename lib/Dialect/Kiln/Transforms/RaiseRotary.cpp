//===- RaiseRotary.cpp ---------------------------------------------------------===//

#include "RaisePatterns.h"

using namespace mlir;
using namespace kiln;

void kiln::populateRaiseRotaryPatterns(RewritePatternSet &patterns, const RaiseOptions &options) {}
