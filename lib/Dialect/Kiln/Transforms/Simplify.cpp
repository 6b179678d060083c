//===- Simplify.cpp ----------------------------------------------------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace kiln {
#define GEN_PASS_DEF_KILNSIMPLIFYPASS
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
struct KilnSimplifyPass : public kiln::impl::KilnSimplifyPassBase<KilnSimplifyPass> {
  using Base::Base;
  void runOnOperation() override {}
};
} // namespace
