//===- SymbolicShapesTest.cpp - symbolic shape inference ------------------===//
//
// Properties of the symbolic shape analysis (lib/Dialect/Kiln/Transforms/SymbolicShapes.h)
// that lit tests cannot pin down because they depend on the analysis's internal state.
//
//===----------------------------------------------------------------------===//

#include "SymbolicShapes.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;

namespace {

/// Every output of a Split keeps the input's symbolic dims, however many values the analysis
/// has seen before it. (A Split with unequal sizes used to read its input's dims through a
/// pointer into the analysis's map after storing its first output; when that store grew the
/// map, the other outputs got fresh symbols: in a 16-layer Llama export one layer's K and V
/// lost their `seq`, and attention fusion failed for that layer only.)
TEST(SymbolicShapes, SplitOutputsKeepSymbolsWhenTheMapGrows) {
  MLIRContext context;
  context.loadDialect<KilnDialect, func::FuncDialect>();
  OpBuilder builder(&context);
  Location loc = builder.getUnknownLoc();
  auto input = RankedTensorType::get({1, ShapedType::kDynamic, 384}, builder.getF32Type());
  auto sizesType = RankedTensorType::get({3}, builder.getI64Type());

  // The map grows at different insertions; sweep the number of values before the Split so that
  // some sweep step stores the first output exactly when it does.
  for (int preamble = 0; preamble < 300; ++preamble) {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    builder.setInsertionPointToEnd(module->getBody());
    auto function =
        func::FuncOp::create(builder, loc, "f", builder.getFunctionType({input}, {}));
    function.setArgAttr(0, "kiln.dim_params",
                        builder.getStrArrayAttr({"", "seq", ""}));
    Block *body = function.addEntryBlock();
    builder.setInsertionPointToEnd(body);
    Value x = body->getArgument(0);
    for (int i = 0; i < preamble; ++i)
      x = OnnxIdentityOp::create(builder, loc, x);
    Value sizes = ConstantOp::create(
        builder, loc, DenseIntElementsAttr::get(sizesType, ArrayRef<int64_t>{256, 64, 64}));
    SmallVector<Type> outputs;
    for (int64_t width : {256, 64, 64})
      outputs.push_back(
          RankedTensorType::get({1, ShapedType::kDynamic, width}, builder.getF32Type()));
    auto split = OnnxSplitOp::create(builder, loc, outputs, x, sizes,
                                     builder.getI64IntegerAttr(2), IntegerAttr());
    func::ReturnOp::create(builder, loc);

    SymbolicShapes shapes(function);
    const DimList *in = shapes.getDims(body->getArgument(0));
    ASSERT_TRUE(in && in->size() == 3);
    for (auto [i, output] : llvm::enumerate(split.getOutputs())) {
      const DimList *out = shapes.getDims(output);
      ASSERT_TRUE(out && out->size() == 3) << "preamble " << preamble << ", output " << i;
      EXPECT_EQ(shapes.format((*out)[1]), "seq") << "preamble " << preamble << ", output " << i;
      EXPECT_EQ((*out)[2], DimExpr::constant(i == 0 ? 256 : 64));
    }
  }
}

} // namespace
