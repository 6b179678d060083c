//===- FuseAttention.cpp ----------------------------------------------------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace kiln {
#define GEN_PASS_DEF_KILNFUSEATTENTIONPASS
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {
struct KilnFuseAttentionPass : public kiln::impl::KilnFuseAttentionPassBase<KilnFuseAttentionPass> {
  using Base::Base;
  void runOnOperation() override {}
};
} // namespace
