//===- KilnDialectTest.cpp - C++ API of the kiln dialect ------------------===//
//
// What passes and the importer rely on when they build kiln IR from C++: builders produce ops
// that verify, verifiers reject what they must, folders and helper methods compute the right
// values.
//
//===----------------------------------------------------------------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace kiln;

namespace {

class KilnDialectTest : public ::testing::Test {
protected:
  KilnDialectTest() : builder(&context) {
    context.loadDialect<KilnDialect, func::FuncDialect>();
    module = ModuleOp::create(builder.getUnknownLoc());
    builder.setInsertionPointToEnd(module->getBody());
  }

  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, builder.getF32Type());
  }

  /// A function whose arguments have `types`; the builder points into its body.
  Block *makeFunction(TypeRange types) {
    auto function = func::FuncOp::create(builder, builder.getUnknownLoc(), "f",
                                         builder.getFunctionType(types, {}));
    Block *body = function.addEntryBlock();
    builder.setInsertionPointToEnd(body);
    return body;
  }

  /// Verifies `op`, capturing the first diagnostic message.
  bool verifies(Operation *op, std::string *message = nullptr) {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      if (message && message->empty())
        *message = diag.str();
      return success();
    });
    return succeeded(verify(op));
  }

  MLIRContext context;
  OpBuilder builder;
  OwningOpRef<ModuleOp> module;
};

TEST_F(KilnDialectTest, GqaAttentionBuildsAndVerifies) {
  Block *body = makeFunction({f32({1, 8, 16, 64}), f32({1, 2, 16, 64})});
  auto attention = AttentionOp::create(
      builder, builder.getUnknownLoc(), f32({1, 8, 16, 64}), body->getArgument(0),
      body->getArgument(1), body->getArgument(1), /*mask=*/Value(), /*num_heads=*/8,
      /*num_kv_heads=*/2, /*head_dim=*/64, /*scale=*/llvm::APFloat(0.125f), /*causal=*/true,
      /*softcap=*/llvm::APFloat(0.0f));
  EXPECT_TRUE(verifies(attention));
  EXPECT_EQ(attention.getGroupSize(), 4);
  EXPECT_TRUE(attention.getCausal());
}

TEST_F(KilnDialectTest, AttentionRejectsHeadsNotDivisibleByKvHeads) {
  Block *body = makeFunction({f32({1, 6, 16, 64}), f32({1, 4, 16, 64})});
  auto attention = AttentionOp::create(
      builder, builder.getUnknownLoc(), f32({1, 6, 16, 64}), body->getArgument(0),
      body->getArgument(1), body->getArgument(1), Value(), 6, 4, 64, llvm::APFloat(0.125f),
      false, llvm::APFloat(0.0f));
  std::string message;
  EXPECT_FALSE(verifies(attention, &message));
  EXPECT_NE(message.find("must be a multiple of kv_heads"), std::string::npos) << message;
}

TEST_F(KilnDialectTest, KvCacheTypeSizeCountsKeysAndValues) {
  auto cache = KVCacheType::get(&context, /*layers=*/4, /*maxBatch=*/2, /*kvHeads=*/2,
                                /*maxSeq=*/1024, /*headDim=*/64, Type(builder.getF16Type()));
  // 2 (K and V) * 4 layers * 2 sequences * 2 heads * 1024 positions * 64 dims * 2 bytes.
  EXPECT_EQ(cache.getSizeInBytes(), 2ull * 4 * 2 * 2 * 1024 * 64 * 2);
}

TEST_F(KilnDialectTest, KvCacheTypeRejectsNonFloatElements) {
  std::string message;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  auto cache = KVCacheType::getChecked([&] { return emitError(builder.getUnknownLoc()); },
                                       &context, int64_t{1}, int64_t{1}, int64_t{1},
                                       int64_t{16}, int64_t{64}, Type(builder.getI32Type()));
  EXPECT_FALSE(cache);
  EXPECT_NE(message.find("must be a float type"), std::string::npos) << message;
}

TEST_F(KilnDialectTest, ShapeOfStaticTensorFoldsToItsDims) {
  Block *body = makeFunction({f32({2, 3, 5, 7})});
  auto i64Vector = RankedTensorType::get({2}, builder.getI64Type());
  auto shape = OnnxShapeOp::create(builder, builder.getUnknownLoc(), i64Vector,
                                   body->getArgument(0), builder.getI64IntegerAttr(1),
                                   builder.getI64IntegerAttr(-1));
  ASSERT_TRUE(verifies(shape));
  SmallVector<OpFoldResult> folded;
  ASSERT_TRUE(succeeded(shape->fold(folded)));
  ASSERT_EQ(folded.size(), 1u);
  auto dims = dyn_cast<DenseIntElementsAttr>(dyn_cast<Attribute>(folded[0]));
  ASSERT_TRUE(dims);
  EXPECT_EQ(llvm::to_vector(dims.getValues<int64_t>()), (SmallVector<int64_t>{3, 5}));
}

TEST_F(KilnDialectTest, TransposeDefaultPermutationReversesDims) {
  Block *body = makeFunction({f32({2, 3, 4})});
  auto transpose = OnnxTransposeOp::create(builder, builder.getUnknownLoc(), f32({4, 3, 2}),
                                           body->getArgument(0), DenseI64ArrayAttr());
  EXPECT_TRUE(verifies(transpose));
  EXPECT_EQ(transpose.getPermutation(), (SmallVector<int64_t>{2, 1, 0}));
}

TEST_F(KilnDialectTest, LayerGroupReportsItsLayerRange) {
  Type t = f32({4});
  Block *body = makeFunction({t});
  auto group = LayerGroupOp::create(builder, builder.getUnknownLoc(), TypeRange{t},
                                    ValueRange{body->getArgument(0)});
  Block *groupBody = builder.createBlock(&group.getBody(), {}, {t}, {builder.getUnknownLoc()});
  Value hidden = groupBody->getArgument(0);
  for (int64_t index : {3, 4, 5}) {
    auto layer = LayerOp::create(builder, builder.getUnknownLoc(), TypeRange{t}, index,
                                 ValueRange{hidden});
    OpBuilder::InsertionGuard guard(builder);
    Block *layerBody =
        builder.createBlock(&layer.getBody(), {}, {t}, {builder.getUnknownLoc()});
    YieldOp::create(builder, builder.getUnknownLoc(), layerBody->getArgument(0));
    hidden = layer.getResult(0);
  }
  YieldOp::create(builder, builder.getUnknownLoc(), hidden);
  EXPECT_TRUE(verifies(group));
  EXPECT_EQ(group.getLayerRange(), (std::pair<int64_t, int64_t>{3, 6}));
}

} // namespace
