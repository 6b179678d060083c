//===- CoreKernelsTest.cpp - interpreter loop and core CPU kernels --------===//
//
// Small kiln functions parsed from text and run through runFunction: the checks of the
// interpreter (input binding, symbolic dims, result types, unsupported ops, structure ops) and
// the constant, elementwise, reduction and contraction kernels, against hand-computed values.
//
//===----------------------------------------------------------------------===//

#include "ExecutorTestSupport.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace mlir;
using namespace kiln::exec;
using namespace kiln::exec::test;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

class CoreKernelsTest : public ExecutorTest {};

//===----------------------------------------------------------------------===//
// Interpreter
//===----------------------------------------------------------------------===//

TEST_F(CoreKernelsTest, ResultTypeMismatchIsReported) {
  // The verifier cannot see the mismatch through the dynamic operand dims; the executor does.
  std::string message = runFailing(R"mlir(
    func.func @f(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> tensor<2x4xf32> {
      %0 = kiln.onnx.MatMul %a, %b : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<2x4xf32>
      return %0 : tensor<2x4xf32>
    })mlir",
                                   {iota({2, 3}), iota({3, 3})});
  EXPECT_TRUE(contains(message, "CPU executor computed float32[2, 3] but the result type is "
                                "tensor<2x4xf32>"))
      << message;
}

TEST_F(CoreKernelsTest, InputsAreCheckedAgainstArguments) {
  const char *source = R"mlir(
    func.func @f(%a: tensor<?x3xf32> {kiln.name = "hidden"}) -> tensor<?x3xf32> {
      return %a : tensor<?x3xf32>
    })mlir";
  EXPECT_EQ(valuesOf(runOne(source, {iota({1, 3})})), (std::vector<double>{0, 1, 2}));
  std::string message = runFailing(source, {i64({1, 3}, {1, 2, 3})});
  EXPECT_TRUE(contains(message, "input #0 ('hidden') is int64[1, 3]")) << message;
  message = runFailing(source, {iota({1, 4})});
  EXPECT_TRUE(contains(message, "float32[1, 4] but the argument type is tensor<?x3xf32>"))
      << message;
  message = runFailing(source, {iota({3})});
  EXPECT_TRUE(contains(message, "float32[3] but the argument type")) << message;
  message = runFailing(source, {});
  EXPECT_TRUE(contains(message, "expects 1 inputs, got 0")) << message;
}

TEST_F(CoreKernelsTest, SymbolicDimsMustAgree) {
  const char *source = R"mlir(
    func.func @f(%ids: tensor<?x?xi64> {kiln.name = "input_ids",
                                        kiln.dim_params = ["batch", "seq"]},
                 %mask: tensor<?x?xi64> {kiln.name = "attention_mask",
                                         kiln.dim_params = ["batch", "seq"]})
        -> (tensor<?x?xi64> {kiln.dim_params = ["batch", "seq"]}) {
      %0 = kiln.onnx.Add %ids, %mask : (tensor<?x?xi64>, tensor<?x?xi64>) -> tensor<?x?xi64>
      return %0 : tensor<?x?xi64>
    })mlir";
  Tensor ok = runOne(source, {i64({1, 2}, {1, 2}), i64({1, 2}, {10, 20})});
  EXPECT_EQ(valuesOf(ok), (std::vector<double>{11, 22}));
  // Add would broadcast [1, 5] with [1, 1]; the symbolic dims forbid it.
  std::string message = runFailing(source, {i64({1, 5}, {1, 2, 3, 4, 5}), i64({1, 1}, {1})});
  EXPECT_TRUE(contains(message, "symbolic dim 'seq' is 5 in input #0 ('input_ids') dim 1 but "
                                "1 in input #1 ('attention_mask') dim 1"))
      << message;
}

TEST_F(CoreKernelsTest, ResultSymbolicDimsAreChecked) {
  const char *source = R"mlir(
    func.func @f(%x: tensor<?xf32> {kiln.dim_params = ["seq"]}, %y: tensor<?xf32>)
        -> (tensor<?xf32> {kiln.name = "out", kiln.dim_params = ["seq"]}) {
      %0 = kiln.onnx.Add %x, %y : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
      return %0 : tensor<?xf32>
    })mlir";
  std::string message = runFailing(source, {iota({1}), iota({3})});
  EXPECT_TRUE(contains(message, "symbolic dim 'seq' is 1 in input #0 dim 0 but 3 in result #0 "
                                "('out') dim 0"))
      << message;
}

TEST_F(CoreKernelsTest, UnsupportedOpIsReported) {
  std::string message = runFailing(R"mlir(
    func.func private @g(tensor<2xf32>) -> tensor<2xf32>
    func.func @f(%a: tensor<2xf32>) -> tensor<2xf32> {
      %0 = func.call @g(%a) : (tensor<2xf32>) -> tensor<2xf32>
      return %0 : tensor<2xf32>
    })mlir",
                                   {iota({2})});
  EXPECT_TRUE(contains(message, "'func.call' op is not supported by the CPU executor")) << message;
  EXPECT_TRUE(hasKernel("kiln.onnx.Add"));
  EXPECT_TRUE(hasKernel("kiln.layer"));
  EXPECT_FALSE(hasKernel("func.call"));
}

TEST_F(CoreKernelsTest, HostMemoryExhaustionIsADiagnostic) {
  // The broadcast result would hold 4e11 floats.
  std::string message =
      runFailing(R"mlir(
    func.func @f(%a: tensor<?x1xf32>, %b: tensor<1x?xf32>) -> tensor<?x?xf32> {
      %0 = kiln.onnx.Add %a, %b : (tensor<?x1xf32>, tensor<1x?xf32>) -> tensor<?x?xf32>
      return %0 : tensor<?x?xf32>
    })mlir",
                 {Tensor::zeros(DType::F32, {200000, 1}), Tensor::zeros(DType::F32, {1, 2000000})});
  EXPECT_TRUE(contains(message, "ran out of host memory")) << message;
}

TEST_F(CoreKernelsTest, LayersAndLayerGroupsRunTheirBodies) {
  Tensor result = runOne(R"mlir(
    func.func @f(%x: tensor<2xf32>, %w0: tensor<2xf32>, %w1: tensor<2xf32>) -> tensor<2xf32> {
      %0 = kiln.layer_group (%x, %w0, %w1)
          : (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> {
      ^bb0(%h: tensor<2xf32>, %a: tensor<2xf32>, %b: tensor<2xf32>):
        %1 = kiln.layer 0 (%h, %a) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> {
        ^bb0(%in: tensor<2xf32>, %w: tensor<2xf32>):
          %y = kiln.onnx.Mul %in, %w : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
          kiln.yield %y : tensor<2xf32>
        }
        %2 = kiln.layer 1 (%1, %b) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> {
        ^bb0(%in: tensor<2xf32>, %w: tensor<2xf32>):
          %y = kiln.onnx.Add %in, %w : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
          kiln.yield %y : tensor<2xf32>
        }
        kiln.yield %2 : tensor<2xf32>
      }
      return %0 : tensor<2xf32>
    })mlir",
                         {f32({2}, {1, 2}), f32({2}, {3, 4}), f32({2}, {10, 20})});
  EXPECT_EQ(valuesOf(result), (std::vector<double>{13, 28}));
}

TEST_F(CoreKernelsTest, ContextRegistryAndRunBlockByHand) {
  // The pieces runFunction is built from: values bound in an ExecutionContext, kernels looked up
  // by op name, and runBlock interpreting a block in a context.
  module = parseSourceString<ModuleOp>(R"mlir(
    func.func @f(%a: tensor<2xf32>, %b: tensor<2xf32>) -> tensor<2xf32> {
      %0 = kiln.onnx.Add %a, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
      return %0 : tensor<2xf32>
    })mlir",
                                       &context);
  ASSERT_TRUE(module);
  auto function = module->lookupSymbol<func::FuncOp>("f");
  Block &body = function.front();
  Value a = body.getArgument(0), b = body.getArgument(1);
  Value sum = body.getTerminator()->getOperand(0);

  ExecutionContext ctx;
  EXPECT_FALSE(ctx.contains(a));
  EXPECT_EQ(ctx.getOptional(Value()), nullptr); // an absent optional operand
  ctx.set(a, f32({2}, {1, 2}));
  ctx.set(b, f32({2}, {10, 20}));
  ctx.set(b, f32({2}, {30, 40})); // a second set replaces the first
  EXPECT_TRUE(ctx.contains(a));
  EXPECT_EQ(ctx.getOptional(a), &ctx.get(a));
  ASSERT_TRUE(succeeded(runBlock(body, ctx)));
  EXPECT_EQ(valuesOf(ctx.get(sum)), (std::vector<double>{31, 42}));

  // An operand without a value is a diagnostic, not a crash.
  ExecutionContext partial;
  partial.set(a, f32({2}, {1, 2}));
  diagnostics.clear();
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diagnostic) {
      diagnostics += diagnostic.str() + "\n";
      return success();
    });
    EXPECT_TRUE(failed(runBlock(body, partial)));
  }
  EXPECT_TRUE(contains(diagnostics, "operand #1 has no value in the interpreted region"))
      << diagnostics;
  EXPECT_FALSE(partial.contains(sum));

  KernelRegistry registry;
  EXPECT_FALSE(registry.contains("test.op"));
  EXPECT_EQ(registry.lookup("test.op"), nullptr);
  int calls = 0;
  registry.add("test.op", [&](Operation *, ExecutionContext &) {
    ++calls;
    return success();
  });
  ASSERT_NE(registry.lookup("test.op"), nullptr);
  EXPECT_TRUE(succeeded((*registry.lookup("test.op"))(function, ctx)));
  EXPECT_EQ(calls, 1);
  registry.add("test.op", [](Operation *, ExecutionContext &) { return failure(); });
  EXPECT_TRUE(failed((*registry.lookup("test.op"))(function, ctx))); // replaced
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(getDefaultKernelRegistry().contains("kiln.onnx.Add"));
  EXPECT_FALSE(getDefaultKernelRegistry().contains("test.op"));
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

TEST_F(CoreKernelsTest, DenseConstants) {
  const char *source = R"mlir(
    func.func @f() -> (tensor<2x2xf32>, tensor<3xi64>, tensor<3xi1>, tensor<2xf16>,
                       tensor<2xui8>) {
      %0 = kiln.constant dense<1.5> : tensor<2x2xf32>
      %1 = kiln.constant dense<[1, -2, 3]> : tensor<3xi64>
      %2 = kiln.constant dense<[true, false, true]> : tensor<3xi1>
      %3 = kiln.constant dense<[0.1, 65504.0]> : tensor<2xf16>
      %4 = kiln.constant dense<[255, 7]> : tensor<2xui8>
      return %0, %1, %2, %3, %4 : tensor<2x2xf32>, tensor<3xi64>, tensor<3xi1>, tensor<2xf16>,
                                  tensor<2xui8>
    })mlir";
  FailureOr<SmallVector<Tensor>> results = run(source, {});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{1.5, 1.5, 1.5, 1.5}));
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{1, -2, 3}));
  EXPECT_EQ(valuesOf((*results)[2]), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(valuesOf((*results)[3]), (std::vector<double>{roundToDType(DType::F16, 0.1), 65504}));
  EXPECT_EQ(valuesOf((*results)[4]), (std::vector<double>{255, 7}));
}

TEST_F(CoreKernelsTest, DenseResourceConstants) {
  // `count` floats from blob `name`, which holds its 4-byte alignment, then 1.0f and -2.0f
  // (little-endian): enough for 2 elements, too few for 3. (Blob names are unique per context.)
  auto source = [](int count, StringRef name) {
    std::string type = "tensor<" + std::to_string(count) + "xf32>";
    return "func.func @f() -> " + type + " {\n" + "  %0 = kiln.constant dense_resource<" +
           name.str() + "> : " + type + "\n" + "  return %0 : " + type + "\n}\n" +
           "{-# dialect_resources: { builtin: { " + name.str() +
           ": \"0x040000000000803F000000C0\" } } #-}";
  };
  EXPECT_EQ(valuesOf(runOne(source(2, "weights"), {})), (std::vector<double>{1.0, -2.0}));
  std::string message = runFailing(source(3, "short"), {});
  EXPECT_TRUE(contains(message, "blob 'short' holds 8 bytes")) << message;
}

TEST_F(CoreKernelsTest, MissingResourceBlobIsReported) {
  std::string message = runFailing(R"mlir(
    func.func @f() -> tensor<2xf32> {
      %0 = kiln.constant dense_resource<nowhere> : tensor<2xf32>
      return %0 : tensor<2xf32>
    })mlir",
                                   {});
  EXPECT_TRUE(contains(message, "blob 'nowhere' has no data")) << message;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

TEST_F(CoreKernelsTest, BinaryOpsBroadcast) {
  const char *source = R"mlir(
    func.func @f(%a: tensor<?x?xf32>, %b: tensor<?xf32>) -> tensor<?x?xf32> {
      %0 = kiln.onnx.Sub %a, %b : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
      return %0 : tensor<?x?xf32>
    })mlir";
  Tensor result = runOne(source, {iota({2, 3}), f32({3}, {1, 10, 100})});
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(valuesOf(result), (std::vector<double>{-1, -9, -98, 2, -6, -95}));
  // [2, 1] against [3] gives [2, 3].
  result = runOne(source, {f32({2, 1}, {1, 2}), f32({3}, {1, 10, 100})});
  EXPECT_EQ(valuesOf(result), (std::vector<double>{0, -9, -99, 1, -8, -98}));
  std::string message = runFailing(source, {iota({2, 3}), iota({2})});
  EXPECT_TRUE(contains(message, "operands are not broadcastable: float32[2, 3] float32[2]"))
      << message;
}

TEST_F(CoreKernelsTest, Float16ArithmeticRounds) {
  Tensor result = runOne(R"mlir(
    func.func @f(%a: tensor<3xf16>, %b: tensor<3xf16>) -> tensor<3xf16> {
      %0 = kiln.onnx.Add %a, %b : (tensor<3xf16>, tensor<3xf16>) -> tensor<3xf16>
      return %0 : tensor<3xf16>
    })mlir",
                         {makeTensor(DType::F16, {3}, {2048, 1, 60000}),
                          makeTensor(DType::F16, {3}, {1, std::ldexp(1.0, -11), 10000})});
  // 2049 ties to 2048; 1 + 2^-11 ties to 1; 70000 overflows.
  EXPECT_EQ(valuesOf(result), (std::vector<double>{2048, 1, kInf}));
}

TEST_F(CoreKernelsTest, IntegerModFollowsTheDivisorOrTheDividend) {
  const char *floorMod = R"mlir(
    func.func @f(%a: tensor<4xi32>, %b: tensor<4xi32>) -> tensor<4xi32> {
      %0 = kiln.onnx.Mod %a, %b : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
      return %0 : tensor<4xi32>
    })mlir";
  const char *fmod = R"mlir(
    func.func @f(%a: tensor<4xi32>, %b: tensor<4xi32>) -> tensor<4xi32> {
      %0 = kiln.onnx.Mod %a, %b {fmod = 1 : i64} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
      return %0 : tensor<4xi32>
    })mlir";
  Tensor a = makeTensor(DType::I32, {4}, {-4, 7, 5, -5});
  Tensor b = makeTensor(DType::I32, {4}, {3, -3, -3, 3});
  EXPECT_EQ(valuesOf(runOne(floorMod, {a, b})), (std::vector<double>{2, -2, -1, 1}));
  EXPECT_EQ(valuesOf(runOne(fmod, {a, b})), (std::vector<double>{-1, 1, 2, -2}));
  Tensor zero = makeTensor(DType::I32, {4}, {3, 0, 1, 1});
  std::string message = runFailing(floorMod, {a, zero});
  EXPECT_TRUE(contains(message, "integer division by zero")) << message;
}

TEST_F(CoreKernelsTest, FloatModWithFmod) {
  Tensor result = runOne(R"mlir(
    func.func @f(%a: tensor<3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
      %0 = kiln.onnx.Mod %a, %b {fmod = 1 : i64} : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
      return %0 : tensor<3xf32>
    })mlir",
                         {f32({3}, {-4.5, 7, 5.25}), f32({3}, {2, -3, -2})});
  EXPECT_EQ(valuesOf(result), (std::vector<double>{-0.5, 1, 1.25}));
}

TEST_F(CoreKernelsTest, IntegerDivisionTruncatesAndRejectsZero) {
  const char *source = R"mlir(
    func.func @f(%a: tensor<4xi8>, %b: tensor<4xi8>) -> tensor<4xi8> {
      %0 = kiln.onnx.Div %a, %b : (tensor<4xi8>, tensor<4xi8>) -> tensor<4xi8>
      return %0 : tensor<4xi8>
    })mlir";
  Tensor a = makeTensor(DType::I8, {4}, {-7, 7, -128, 100});
  EXPECT_EQ(valuesOf(runOne(source, {a, makeTensor(DType::I8, {4}, {2, -2, -1, 3})})),
            (std::vector<double>{-3, -3, -128, 33})); // -128 / -1 wraps
  std::string message = runFailing(source, {a, makeTensor(DType::I8, {4}, {1, 1, 0, 1})});
  EXPECT_TRUE(contains(message, "'kiln.onnx.Div' op integer division by zero")) << message;
}

TEST_F(CoreKernelsTest, IntegerArithmeticWraps) {
  Tensor result =
      runOne(R"mlir(
    func.func @f(%a: tensor<3xui8>, %b: tensor<3xui8>) -> tensor<3xui8> {
      %0 = kiln.onnx.Mul %a, %b : (tensor<3xui8>, tensor<3xui8>) -> tensor<3xui8>
      %1 = kiln.onnx.Sub %0, %b : (tensor<3xui8>, tensor<3xui8>) -> tensor<3xui8>
      return %1 : tensor<3xui8>
    })mlir",
             {makeTensor(DType::U8, {3}, {16, 0, 3}), makeTensor(DType::U8, {3}, {17, 1, 4})});
  // 16*17 = 272 -> 16, 16 - 17 -> 255; 0 - 1 -> 255; 12 - 4 = 8.
  EXPECT_EQ(valuesOf(result), (std::vector<double>{255, 255, 8}));
}

TEST_F(CoreKernelsTest, UnaryOps) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @f(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>,
                                        tensor<4xi1>) {
      %0 = kiln.onnx.Sigmoid %x : (tensor<4xf32>) -> tensor<4xf32>
      %1 = kiln.onnx.Relu %x : (tensor<4xf32>) -> tensor<4xf32>
      %2 = kiln.onnx.Sqrt %x : (tensor<4xf32>) -> tensor<4xf32>
      %3 = kiln.onnx.IsNaN %2 : (tensor<4xf32>) -> tensor<4xi1>
      %4 = kiln.onnx.Not %3 : (tensor<4xi1>) -> tensor<4xi1>
      return %0, %1, %2, %4 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xi1>
    })mlir",
                                               {f32({4}, {-1000, -1, 0, 4})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectValuesNear((*results)[0], {0, 1 / (1 + std::exp(1.0)), 0.5, 1 / (1 + std::exp(-4.0))});
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{0, 0, 0, 4}));
  expectValuesNear((*results)[2], {NAN, NAN, 0, 2});
  EXPECT_EQ(valuesOf((*results)[3]), (std::vector<double>{0, 0, 1, 1}));
}

TEST_F(CoreKernelsTest, IntegerUnaryOps) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @f(%x: tensor<3xi8>) -> (tensor<3xi8>, tensor<3xi8>) {
      %0 = kiln.onnx.Abs %x : (tensor<3xi8>) -> tensor<3xi8>
      %1 = kiln.onnx.Neg %x : (tensor<3xi8>) -> tensor<3xi8>
      return %0, %1 : tensor<3xi8>, tensor<3xi8>
    })mlir",
                                               {makeTensor(DType::I8, {3}, {-128, -5, 7})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{-128, 5, 7})); // wraps like numpy
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{-128, 5, -7}));
}

TEST_F(CoreKernelsTest, CastClipWhere) {
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @f(%x: tensor<2x3xf32>, %lo: tensor<f32>, %c: tensor<3xi1>, %y: tensor<1xf32>)
        -> (tensor<2x3xi8>, tensor<2x3xf32>, tensor<2x3xf32>) {
      %0 = kiln.onnx.Cast %x {to = i8} : (tensor<2x3xf32>) -> tensor<2x3xi8>
      %1 = kiln.onnx.Clip %x, %lo {operandSegmentSizes = array<i32: 1, 1, 0>}
          : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
      %2 = kiln.onnx.Where %c, %x, %y : (tensor<3xi1>, tensor<2x3xf32>, tensor<1xf32>)
          -> tensor<2x3xf32>
      return %0, %1, %2 : tensor<2x3xi8>, tensor<2x3xf32>, tensor<2x3xf32>
    })mlir",
          {f32({2, 3}, {-1.5, 0.5, 2.9, -300, 127.9, 1e9}), f32({}, {0.25}),
           makeTensor(DType::Bool, {3}, {1, 0, 1}), f32({1}, {-7})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{-1, 0, 2, -44, 127, 0}));
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{0.25, 0.5, 2.9f, 0.25, 127.9f, 1e9}));
  EXPECT_EQ(valuesOf((*results)[2]), (std::vector<double>{-1.5, -7, 2.9f, -300, -7, 1e9}));
}

TEST_F(CoreKernelsTest, PowKeepsTheBaseType) {
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @f(%i: tensor<3xi32>, %e: tensor<3xf32>, %x: tensor<3xf32>, %n: tensor<3xi64>,
                 %u: tensor<1xui8>)
        -> (tensor<3xi32>, tensor<3xf32>, tensor<3xi32>, tensor<3xi64>) {
      %0 = kiln.onnx.Pow %i, %e : (tensor<3xi32>, tensor<3xf32>) -> tensor<3xi32>
      %1 = kiln.onnx.Pow %x, %n : (tensor<3xf32>, tensor<3xi64>) -> tensor<3xf32>
      %2 = kiln.onnx.Pow %i, %n : (tensor<3xi32>, tensor<3xi64>) -> tensor<3xi32>
      %3 = kiln.onnx.Pow %n, %u : (tensor<3xi64>, tensor<1xui8>) -> tensor<3xi64>
      return %0, %1, %2, %3 : tensor<3xi32>, tensor<3xf32>, tensor<3xi32>, tensor<3xi64>
    })mlir",
          {makeTensor(DType::I32, {3}, {2, 3, 4}), f32({3}, {3, 0.5, -1}), f32({3}, {2, -3, 0.5}),
           i64({3}, {10, 3, -2}), makeTensor(DType::U8, {1}, {3})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{8, 1, 0}));
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{1024, -27, 4}));
  // 2^10 = 1024 and 3^3 exactly in integers; 4^-2 = 0.0625 truncates to 0.
  EXPECT_EQ(valuesOf((*results)[2]), (std::vector<double>{1024, 27, 0}));
  EXPECT_EQ(valuesOf((*results)[3]), (std::vector<double>{1000, 27, -8}));
}

TEST_F(CoreKernelsTest, VariadicMaxMinBroadcast) {
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @f(%a: tensor<2x1xf32>, %b: tensor<3xf32>, %c: tensor<f32>)
        -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xf32>) {
      %0 = kiln.onnx.Max %a, %b, %c : (tensor<2x1xf32>, tensor<3xf32>, tensor<f32>)
          -> tensor<2x3xf32>
      %1 = kiln.onnx.Min %a, %b : (tensor<2x1xf32>, tensor<3xf32>) -> tensor<2x3xf32>
      %2 = kiln.onnx.Max %b : (tensor<3xf32>) -> tensor<3xf32>
      return %0, %1, %2 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xf32>
    })mlir",
          {f32({2, 1}, {1, 5}), f32({3}, {0, 3, NAN}), f32({}, {2})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectValuesNear((*results)[0], {2, 3, NAN, 5, 5, NAN});
  expectValuesNear((*results)[1], {0, 1, NAN, 0, 3, NAN});
  expectValuesNear((*results)[2], {0, 3, NAN});
}

TEST_F(CoreKernelsTest, ComparisonsGiveBool) {
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @f(%a: tensor<3xui64>, %b: tensor<1xui64>) -> (tensor<3xi1>, tensor<3xi1>) {
      %0 = kiln.onnx.Less %a, %b : (tensor<3xui64>, tensor<1xui64>) -> tensor<3xi1>
      %1 = kiln.onnx.Equal %a, %b : (tensor<3xui64>, tensor<1xui64>) -> tensor<3xi1>
      return %0, %1 : tensor<3xi1>, tensor<3xi1>
    })mlir",
          {makeTensor(DType::U64, {3}, {1, 2, 1e19}), makeTensor(DType::U64, {1}, {2})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ((*results)[0].getDType(), DType::Bool);
  // 1e19 exceeds INT64_MAX: unsigned comparison puts it above 2.
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{0, 1, 0}));
}

//===----------------------------------------------------------------------===//
// Reductions and scans
//===----------------------------------------------------------------------===//

TEST_F(CoreKernelsTest, ReductionsOverAxes) {
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @f(%x: tensor<2x3xf32>, %axes: tensor<1xi64>, %none: tensor<0xi64>)
        -> (tensor<2xf32>, tensor<1x1xf32>, tensor<2x1xf32>, tensor<2x3xf32>) {
      %0 = kiln.onnx.ReduceSum %x, %axes {keepdims = 0 : i64}
          : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<2xf32>
      %1 = kiln.onnx.ReduceMean %x : (tensor<2x3xf32>) -> tensor<1x1xf32>
      %2 = kiln.onnx.ReduceMax %x, %axes : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<2x1xf32>
      %3 = kiln.onnx.ReduceSum %x, %none {noop_with_empty_axes = 1 : i64}
          : (tensor<2x3xf32>, tensor<0xi64>) -> tensor<2x3xf32>
      return %0, %1, %2, %3 : tensor<2xf32>, tensor<1x1xf32>, tensor<2x1xf32>, tensor<2x3xf32>
    })mlir",
          {f32({2, 3}, {1, 5, 3, -4, -2, -6}), i64({1}, {-1}), i64({0}, {})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{9, -12}));
  expectValuesNear((*results)[1], {-0.5});
  EXPECT_EQ(valuesOf((*results)[2]), (std::vector<double>{5, -2}));
  EXPECT_EQ(valuesOf((*results)[3]), (std::vector<double>{1, 5, 3, -4, -2, -6}));
}

TEST_F(CoreKernelsTest, ReductionsOverEmptySets) {
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @f(%x: tensor<2x0xf32>, %axes: tensor<1xi64>, %i: tensor<0xi8>)
        -> (tensor<2x1xf32>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<1xi8>) {
      %0 = kiln.onnx.ReduceSum %x, %axes : (tensor<2x0xf32>, tensor<1xi64>) -> tensor<2x1xf32>
      %1 = kiln.onnx.ReduceMax %x, %axes : (tensor<2x0xf32>, tensor<1xi64>) -> tensor<2x1xf32>
      %2 = kiln.onnx.ReduceMean %x, %axes : (tensor<2x0xf32>, tensor<1xi64>) -> tensor<2x1xf32>
      %3 = kiln.onnx.ReduceMax %i : (tensor<0xi8>) -> tensor<1xi8>
      return %0, %1, %2, %3 : tensor<2x1xf32>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<1xi8>
    })mlir",
          {Tensor::zeros(DType::F32, {2, 0}), i64({1}, {1}), Tensor::zeros(DType::I8, {0})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{0, 0}));
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{-kInf, -kInf}));
  expectValuesNear((*results)[2], {NAN, NAN});
  EXPECT_EQ(valuesOf((*results)[3]), (std::vector<double>{-128}));
}

TEST_F(CoreKernelsTest, ArgMaxTopKCumSum) {
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @f(%x: tensor<2x4xf32>, %k: tensor<1xi64>, %axis: tensor<i32>)
        -> (tensor<2xi64>, tensor<2x1xi64>, tensor<2x3xf32>, tensor<2x3xi64>, tensor<2x2xf32>,
            tensor<2x2xi64>, tensor<2x4xf32>) {
      %0 = kiln.onnx.ArgMax %x {axis = 1 : i64, keepdims = 0 : i64}
          : (tensor<2x4xf32>) -> tensor<2xi64>
      %1 = kiln.onnx.ArgMax %x {axis = -1 : i64, select_last_index = 1 : i64}
          : (tensor<2x4xf32>) -> tensor<2x1xi64>
      %2, %3 = kiln.onnx.TopK %x, %k : (tensor<2x4xf32>, tensor<1xi64>)
          -> (tensor<2x3xf32>, tensor<2x3xi64>)
      %c2 = kiln.constant dense<2> : tensor<1xi64>
      %4, %5 = kiln.onnx.TopK %x, %c2 {largest = 0 : i64} : (tensor<2x4xf32>, tensor<1xi64>)
          -> (tensor<2x2xf32>, tensor<2x2xi64>)
      %6 = kiln.onnx.CumSum %x, %axis {exclusive = 1 : i64, reverse = 1 : i64}
          : (tensor<2x4xf32>, tensor<i32>) -> tensor<2x4xf32>
      return %0, %1, %2, %3, %4, %5, %6 : tensor<2xi64>, tensor<2x1xi64>, tensor<2x3xf32>,
          tensor<2x3xi64>, tensor<2x2xf32>, tensor<2x2xi64>, tensor<2x4xf32>
    })mlir",
          {f32({2, 4}, {3, 7, 7, 1, 2, 2, 9, 2}), i64({1}, {3}), makeTensor(DType::I32, {}, {1})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{1, 2}));
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{2, 2}));
  EXPECT_EQ(valuesOf((*results)[2]), (std::vector<double>{7, 7, 3, 9, 2, 2}));
  EXPECT_EQ(valuesOf((*results)[3]), (std::vector<double>{1, 2, 0, 2, 0, 1})); // ties: low first
  EXPECT_EQ(valuesOf((*results)[4]), (std::vector<double>{1, 3, 2, 2}));
  EXPECT_EQ(valuesOf((*results)[5]), (std::vector<double>{3, 0, 0, 1}));
  EXPECT_EQ(valuesOf((*results)[6]), (std::vector<double>{15, 8, 1, 0, 13, 11, 2, 0}));
}

TEST_F(CoreKernelsTest, SoftmaxIsStableAlongItsAxis) {
  Tensor result = runOne(R"mlir(
    func.func @f(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
      %0 = kiln.onnx.Softmax %x {axis = 0 : i64} : (tensor<2x2xf32>) -> tensor<2x2xf32>
      return %0 : tensor<2x2xf32>
    })mlir",
                         {f32({2, 2}, {1000, 0, 1001, 0})});
  double low = 1 / (1 + std::exp(1.0));
  expectValuesNear(result, {low, 0.5, 1 - low, 0.5});
}

//===----------------------------------------------------------------------===//
// Contractions
//===----------------------------------------------------------------------===//

/// numpy matmul of [..., M, K] and [..., K, N] with batch broadcasting, naively.
std::vector<double> referenceBatchMatMul(const Tensor &a, const Tensor &b,
                                         ArrayRef<int64_t> batch) {
  int64_t m = a.getShape()[a.getRank() - 2], k = a.getShape().back(), n = b.getShape().back();
  std::vector<double> out;
  ArrayRef<int64_t> aBatch = a.getShape().drop_back(2), bBatch = b.getShape().drop_back(2);
  int64_t batchCount = 1;
  for (int64_t dim : batch)
    batchCount *= dim;
  for (int64_t index = 0; index < batchCount; ++index) {
    // Unravel, then map into each operand's batch dims (size 1 broadcasts).
    auto operandOffset = [&](ArrayRef<int64_t> operandBatch) {
      int64_t remaining = index, offset = 0, stride = 1;
      for (int64_t d = batch.size() - 1; d >= 0; --d) {
        int64_t coordinate = remaining % batch[d];
        remaining /= batch[d];
        int64_t od = d - (batch.size() - operandBatch.size());
        if (od >= 0) {
          if (operandBatch[od] != 1)
            offset += coordinate * stride;
          stride *= operandBatch[od];
        }
      }
      return offset;
    };
    int64_t aOffset = operandOffset(aBatch) * m * k, bOffset = operandOffset(bBatch) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += a.getDouble(aOffset + i * k + p) * b.getDouble(bOffset + p * n + j);
        out.push_back(sum);
      }
  }
  return out;
}

TEST_F(CoreKernelsTest, MatMulBroadcastsBatchesAndPromotesVectors) {
  const char *source = R"mlir(
    func.func @f(%a: tensor<*xf32>, %b: tensor<*xf32>) -> tensor<*xf32> {
      %0 = kiln.onnx.MatMul %a, %b : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
      return %0 : tensor<*xf32>
    })mlir";
  Tensor a = iota({2, 1, 2, 3}), b = iota({3, 3, 4});
  Tensor result = runOne(source, {a, b});
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{2, 3, 2, 4}));
  expectValuesNear(result, referenceBatchMatMul(a, b, {2, 3}));

  result = runOne(source, {f32({3}, {1, 2, 3}), iota({2, 3, 2})});
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(valuesOf(result), (std::vector<double>{16, 22, 52, 58}));
  result = runOne(source, {iota({2, 3}), f32({3}, {1, 2, 3})});
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{2}));
  EXPECT_EQ(valuesOf(result), (std::vector<double>{8, 26}));
  result = runOne(source, {f32({3}, {1, 2, 3}), f32({3}, {1, 2, 3})});
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{}));
  EXPECT_EQ(valuesOf(result), (std::vector<double>{14}));
  std::string message = runFailing(source, {iota({2, 3}), iota({2, 3})});
  EXPECT_TRUE(contains(message, "contraction dims differ")) << message;
}

TEST_F(CoreKernelsTest, GemmWithTransposesAndBias) {
  Tensor result = runOne(R"mlir(
    func.func @f(%a: tensor<3x2xf32>, %b: tensor<4x3xf32>, %c: tensor<4xf32>) -> tensor<2x4xf32> {
      %0 = kiln.onnx.Gemm %a, %b, %c {alpha = 0.5 : f32, beta = 2.0 : f32, transA = 1 : i64,
                                      transB = 1 : i64}
          : (tensor<3x2xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32>
      return %0 : tensor<2x4xf32>
    })mlir",
                         {iota({3, 2}), iota({4, 3}), f32({4}, {1, 2, 3, 4})});
  // A^T = [[0, 2, 4], [1, 3, 5]]; B^T columns are B's rows.
  std::vector<double> expected;
  double aT[2][3] = {{0, 2, 4}, {1, 3, 5}};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      double sum = 0;
      for (int p = 0; p < 3; ++p)
        sum += aT[i][p] * (j * 3 + p);
      expected.push_back(0.5 * sum + 2.0 * (j + 1));
    }
  EXPECT_EQ(valuesOf(result), expected);
}

TEST_F(CoreKernelsTest, IntegerGemmWithoutTransposes) {
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @f(%a: tensor<2x3xi64>, %b: tensor<3x2xi64>, %c: tensor<2x1xi64>)
        -> (tensor<2x2xi64>, tensor<2x2xi64>) {
      %0 = kiln.onnx.Gemm %a, %b, %c {alpha = 2.0 : f32, beta = -1.0 : f32}
          : (tensor<2x3xi64>, tensor<3x2xi64>, tensor<2x1xi64>) -> tensor<2x2xi64>
      %1 = kiln.onnx.Gemm %a, %b {alpha = 0.5 : f32}
          : (tensor<2x3xi64>, tensor<3x2xi64>) -> tensor<2x2xi64>
      return %0, %1 : tensor<2x2xi64>, tensor<2x2xi64>
    })mlir",
          {i64({2, 3}, {0, 1, 2, 3, 4, 5}), i64({3, 2}, {1, 2, 3, 4, 5, 6}), i64({2, 1}, {1, 2})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  // A B = [[13, 16], [40, 52]]; C [2, 1] broadcasts along the columns.
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{25, 31, 78, 102}));
  // A fractional alpha goes through double and truncates: 6.5 -> 6.
  EXPECT_EQ(valuesOf((*results)[1]), (std::vector<double>{6, 8, 20, 26}));
}

TEST_F(CoreKernelsTest, EinsumEquations) {
  auto einsum = [&](StringRef equation, ArrayRef<Tensor> inputs) {
    std::string args, argTypes, source;
    for (size_t i = 0; i < inputs.size(); ++i) {
      args += (i ? ", %a" : "%a") + std::to_string(i) + ": tensor<*xf32>";
      argTypes += std::string(i ? ", " : "") + "tensor<*xf32>";
    }
    std::string operands;
    for (size_t i = 0; i < inputs.size(); ++i)
      operands += (i ? ", %a" : "%a") + std::to_string(i);
    source = "func.func @f(" + args + ") -> tensor<*xf32> {\n  %0 = kiln.onnx.Einsum " + operands +
             " {equation = \"" + equation.str() + "\"} : (" + argTypes +
             ") -> tensor<*xf32>\n  return %0 : tensor<*xf32>\n}";
    return runOne(source, inputs);
  };
  Tensor a = iota({2, 2, 3}), b = iota({2, 3, 2});
  Tensor result = einsum("bij,bjk->bik", {a, b});
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{2, 2, 2}));
  expectValuesNear(result, referenceBatchMatMul(a, b, {2}));

  result = einsum("...ij,...jk", {a, b}); // implicit output, ellipsis
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{2, 2, 2}));
  expectValuesNear(result, referenceBatchMatMul(a, b, {2}));

  result = einsum("ii->i", {iota({3, 3})});
  EXPECT_EQ(valuesOf(result), (std::vector<double>{0, 4, 8}));
  result = einsum("ii", {iota({3, 3})}); // trace
  EXPECT_EQ(valuesOf(result), (std::vector<double>{12}));
  result = einsum("ij->", {iota({2, 3})});
  EXPECT_EQ(valuesOf(result), (std::vector<double>{15}));
  result = einsum("ji", {iota({2, 3})}); // implicit output sorts: transpose
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(valuesOf(result), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  result = einsum("i,i,i->", {f32({2}, {1, 2}), f32({2}, {3, 4}), f32({2}, {5, 6})});
  EXPECT_EQ(valuesOf(result), (std::vector<double>{1 * 3 * 5 + 2 * 4 * 6}));
  result = einsum("bhqd,bhkd->bhqk", {iota({1, 2, 2, 3}), iota({1, 2, 3, 3})});
  EXPECT_EQ(shapeOf(result), (std::vector<int64_t>{1, 2, 2, 3}));
  EXPECT_EQ(result.getDouble(0), 0 * 0 + 1 * 1 + 2 * 2);
  EXPECT_EQ(result.getDouble(11), 9 * 15 + 10 * 16 + 11 * 17);
}

} // namespace
