//===- RaiseLinear.cpp ---------------------------------------------------------===//

#include "RaisePatterns.h"

using namespace mlir;
using namespace kiln;

void kiln::populateRaiseLinearPatterns(RewritePatternSet &patterns, const RaiseOptions &options) {}
void kiln::mergeSiblingLinears(func::FuncOp function, const RaiseOptions &options) {}
