//===- ShapeKernelsTest.cpp - CPU kernels of shape, indexing, norm and attention ops ---===//
//
// Runs small kiln functions through the CPU reference executor and compares the results with
// values worked out by hand (or with numpy, noted where so). The cases favour the corners that
// are easy to get wrong: negative steps and clamping of Slice, Reshape's 0 and -1, GQA head
// mapping, the alignment of causal masks, and diagnostics for out-of-range indices.
//
//===----------------------------------------------------------------------===//

#include "ExecutorTestSupport.h"

#include <cmath>

using namespace mlir;
using namespace kiln::exec;
using namespace kiln::exec::test;

namespace {

class ShapeKernelsTest : public ExecutorTest {};

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

TEST_F(ShapeKernelsTest, ReshapeCopiesZeroAndInfersMinusOne) {
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<2x3x4xf32>) -> tensor<2x4x3xf32> {
      %s = kiln.constant dense<[0, -1, 3]> : tensor<3xi64>
      %y = kiln.onnx.Reshape %x, %s : (tensor<2x3x4xf32>, tensor<3xi64>) -> tensor<2x4x3xf32>
      return %y : tensor<2x4x3xf32>
    })mlir",
                         {iota({2, 3, 4})});
  std::vector<double> expected(24);
  for (int i = 0; i < 24; ++i)
    expected[i] = i;
  expectTensor(result, {2, 4, 3}, expected);
}

TEST_F(ShapeKernelsTest, ReshapeAllowZeroKeepsAZeroDim) {
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<0x3xf32>) -> tensor<3x0xf32> {
      %s = kiln.constant dense<[3, 0]> : tensor<2xi64>
      %y = kiln.onnx.Reshape %x, %s {allowzero = 1 : i64}
          : (tensor<0x3xf32>, tensor<2xi64>) -> tensor<3x0xf32>
      return %y : tensor<3x0xf32>
    })mlir",
                         {Tensor::zeros(DType::F32, {0, 3})});
  expectTensor(result, {3, 0}, {});
}

TEST_F(ShapeKernelsTest, ReshapeReportsAnImpossibleShape) {
  std::string message = runFailing(R"mlir(
    func.func @main(%x: tensor<2x3xf32>) -> tensor<?x?xf32> {
      %s = kiln.constant dense<[4, -1]> : tensor<2xi64>
      %y = kiln.onnx.Reshape %x, %s : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<?x?xf32>
      return %y : tensor<?x?xf32>
    })mlir",
                                   {iota({2, 3})});
  EXPECT_TRUE(contains(message, "cannot infer the -1 of [4, -1]")) << message;
}

TEST_F(ShapeKernelsTest, TransposeDefaultAndExplicitPermutations) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%x: tensor<2x3xf32>, %z: tensor<2x3x2xf32>)
        -> (tensor<3x2xf32>, tensor<3x2x2xf32>) {
      %a = kiln.onnx.Transpose %x : (tensor<2x3xf32>) -> tensor<3x2xf32>
      %b = kiln.onnx.Transpose %z {perm = array<i64: 1, 0, 2>}
          : (tensor<2x3x2xf32>) -> tensor<3x2x2xf32>
      return %a, %b : tensor<3x2xf32>, tensor<3x2x2xf32>
    })mlir",
                                               {iota({2, 3}), iota({2, 3, 2})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {3, 2}, {0, 3, 1, 4, 2, 5});
  expectTensor((*results)[1], {3, 2, 2}, {0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11});
}

TEST_F(ShapeKernelsTest, UnsqueezeAndSqueezeWithNegativeAxes) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%x: tensor<3x1x2xf32>)
        -> (tensor<1x3x1x2x1xf32>, tensor<3x2xf32>, tensor<3x2xf32>) {
      %ua = kiln.constant dense<[0, -1]> : tensor<2xi64>
      %u = kiln.onnx.Unsqueeze %x, %ua : (tensor<3x1x2xf32>, tensor<2xi64>) -> tensor<1x3x1x2x1xf32>
      %sa = kiln.constant dense<[-2]> : tensor<1xi64>
      %s = kiln.onnx.Squeeze %x, %sa : (tensor<3x1x2xf32>, tensor<1xi64>) -> tensor<3x2xf32>
      %all = kiln.onnx.Squeeze %x : (tensor<3x1x2xf32>) -> tensor<3x2xf32>
      return %u, %s, %all : tensor<1x3x1x2x1xf32>, tensor<3x2xf32>, tensor<3x2xf32>
    })mlir",
                                               {iota({3, 1, 2})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ((*results)[0].getShape(), ArrayRef<int64_t>({1, 3, 1, 2, 1}));
  expectTensor((*results)[1], {3, 2}, {0, 1, 2, 3, 4, 5});
  expectTensor((*results)[2], {3, 2}, {0, 1, 2, 3, 4, 5});
}

TEST_F(ShapeKernelsTest, SqueezeRejectsADimThatIsNotOne) {
  std::string message = runFailing(R"mlir(
    func.func @main(%x: tensor<3x2xf32>) -> tensor<?xf32> {
      %a = kiln.constant dense<[1]> : tensor<1xi64>
      %s = kiln.onnx.Squeeze %x, %a : (tensor<3x2xf32>, tensor<1xi64>) -> tensor<?xf32>
      return %s : tensor<?xf32>
    })mlir",
                                   {iota({3, 2})});
  EXPECT_TRUE(contains(message, "cannot squeeze dim 1 of size 2")) << message;
}

TEST_F(ShapeKernelsTest, FlattenAndExpandBidirectionally) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%x: tensor<2x3x2xf32>, %c: tensor<3x1xf32>)
        -> (tensor<2x6xf32>, tensor<2x3x2xf32>) {
      %f = kiln.onnx.Flatten %x {axis = -2 : i64} : (tensor<2x3x2xf32>) -> tensor<2x6xf32>
      %s = kiln.constant dense<[2, 1, 2]> : tensor<3xi64>
      %e = kiln.onnx.Expand %c, %s : (tensor<3x1xf32>, tensor<3xi64>) -> tensor<2x3x2xf32>
      return %f, %e : tensor<2x6xf32>, tensor<2x3x2xf32>
    })mlir",
                                               {iota({2, 3, 2}), f32({3, 1}, {7, 8, 9})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ((*results)[0].getShape(), ArrayRef<int64_t>({2, 6}));
  expectTensor((*results)[1], {2, 3, 2}, {7, 7, 8, 8, 9, 9, 7, 7, 8, 8, 9, 9});
}

TEST_F(ShapeKernelsTest, ConcatAlongANegativeAxis) {
  Tensor result = runOne(R"mlir(
    func.func @main(%a: tensor<2x1xf32>, %b: tensor<2x2xf32>) -> tensor<2x3xf32> {
      %c = kiln.onnx.Concat %a, %b {axis = -1 : i64}
          : (tensor<2x1xf32>, tensor<2x2xf32>) -> tensor<2x3xf32>
      return %c : tensor<2x3xf32>
    })mlir",
                         {f32({2, 1}, {10, 20}), iota({2, 2})});
  expectTensor(result, {2, 3}, {10, 0, 1, 20, 2, 3});
}

TEST_F(ShapeKernelsTest, SplitEvenlyWithASmallerLastChunkAndBySizes) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%x: tensor<2x5xf32>)
        -> (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<2x4xf32>) {
      %a, %b, %c = kiln.onnx.Split %x {axis = 1 : i64, num_outputs = 3 : i64}
          : (tensor<2x5xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x1xf32>)
      %sizes = kiln.constant dense<[1, 4]> : tensor<2xi64>
      %d, %e = kiln.onnx.Split %x, %sizes {axis = -1 : i64}
          : (tensor<2x5xf32>, tensor<2xi64>) -> (tensor<2x1xf32>, tensor<2x4xf32>)
      return %a, %b, %c, %d, %e
          : tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<2x4xf32>
    })mlir",
                                               {iota({2, 5})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {2, 2}, {0, 1, 5, 6});
  expectTensor((*results)[1], {2, 2}, {2, 3, 7, 8});
  expectTensor((*results)[2], {2, 1}, {4, 9});
  expectTensor((*results)[3], {2, 1}, {0, 5});
  expectTensor((*results)[4], {2, 4}, {1, 2, 3, 4, 6, 7, 8, 9});
}

TEST_F(ShapeKernelsTest, ShapeWithNegativeAndClampedBounds) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%x: tensor<2x3x4x5xf32>) -> (tensor<2xi64>, tensor<2xi64>, tensor<0xi64>) {
      %a = kiln.onnx.Shape %x {start = -3 : i64, end = -1 : i64}
          : (tensor<2x3x4x5xf32>) -> tensor<2xi64>
      %b = kiln.onnx.Shape %x {start = 2 : i64, end = 10 : i64}
          : (tensor<2x3x4x5xf32>) -> tensor<2xi64>
      %c = kiln.onnx.Shape %x {start = 3 : i64, end = 1 : i64}
          : (tensor<2x3x4x5xf32>) -> tensor<0xi64>
      return %a, %b, %c : tensor<2xi64>, tensor<2xi64>, tensor<0xi64>
    })mlir",
                                               {Tensor::zeros(DType::F32, {2, 3, 4, 5})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {2}, {3, 4});
  expectTensor((*results)[1], {2}, {4, 5});
  expectTensor((*results)[2], {0}, {});
}

TEST_F(ShapeKernelsTest, ConstantOfShapeTakesTheValueType) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%s: tensor<2xi64>) -> (tensor<2x3xi64>, tensor<2x3xf32>) {
      %a = kiln.onnx.ConstantOfShape %s {value = dense<7> : tensor<1xi64>}
          : (tensor<2xi64>) -> tensor<2x3xi64>
      %b = kiln.onnx.ConstantOfShape %s : (tensor<2xi64>) -> tensor<2x3xf32>
      return %a, %b : tensor<2x3xi64>, tensor<2x3xf32>
    })mlir",
                                               {makeTensor(DType::I64, {2}, {2, 3})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ((*results)[0].getDType(), DType::I64);
  expectTensor((*results)[0], {2, 3}, {7, 7, 7, 7, 7, 7});
  expectTensor((*results)[1], {2, 3}, {0, 0, 0, 0, 0, 0});
}

TEST_F(ShapeKernelsTest, RangeCountsWithCeilingAndNegativeDelta) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main() -> (tensor<?xi64>, tensor<?xf32>, tensor<?xi64>) {
      %s = kiln.constant dense<10> : tensor<i64>
      %l = kiln.constant dense<1> : tensor<i64>
      %d = kiln.constant dense<-3> : tensor<i64>
      %a = kiln.onnx.Range %s, %l, %d : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
      %fs = kiln.constant dense<1.0> : tensor<f32>
      %fl = kiln.constant dense<2.0> : tensor<f32>
      %fd = kiln.constant dense<0.25> : tensor<f32>
      %b = kiln.onnx.Range %fs, %fl, %fd : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<?xf32>
      %c = kiln.onnx.Range %l, %s, %d : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
      return %a, %b, %c : tensor<?xi64>, tensor<?xf32>, tensor<?xi64>
    })mlir",
                                               {});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {3}, {10, 7, 4});
  expectTensor((*results)[1], {4}, {1, 1.25, 1.5, 1.75});
  expectTensor((*results)[2], {0}, {});
}

TEST_F(ShapeKernelsTest, DropoutIsTheIdentityWithAnAllTrueMask) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%x: tensor<2x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xi1>) {
      %y, %mask = kiln.onnx.Dropout %x {operandSegmentSizes = array<i32: 1, 0, 0>}
          : (tensor<2x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xi1>)
      return %y, %mask : tensor<2x2xf32>, tensor<2x2xi1>
    })mlir",
                                               {iota({2, 2})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {2, 2}, {0, 1, 2, 3});
  expectTensor((*results)[1], {2, 2}, {1, 1, 1, 1});
}

TEST_F(ShapeKernelsTest, TrainingModeDropoutIsRejected) {
  std::string message = runFailing(R"mlir(
    func.func @main(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
      %r = kiln.constant dense<0.5> : tensor<f32>
      %t = kiln.constant dense<true> : tensor<i1>
      %y = kiln.onnx.Dropout %x, %r, %t {operandSegmentSizes = array<i32: 1, 1, 1>}
          : (tensor<2x2xf32>, tensor<f32>, tensor<i1>) -> tensor<2x2xf32>
      return %y : tensor<2x2xf32>
    })mlir",
                                   {iota({2, 2})});
  EXPECT_TRUE(contains(message, "training-mode Dropout is not supported")) << message;
}

//===----------------------------------------------------------------------===//
// Indexing ops
//===----------------------------------------------------------------------===//

TEST_F(ShapeKernelsTest, SliceWithANegativeStepToTheBeginning) {
  // numpy: np.arange(10)[-1::-3] == [9, 6, 3, 0]; ends INT64_MIN means "through the start".
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<10xf32>) -> tensor<4xf32> {
      %s = kiln.constant dense<[-1]> : tensor<1xi64>
      %e = kiln.constant dense<[-9223372036854775808]> : tensor<1xi64>
      %a = kiln.constant dense<[0]> : tensor<1xi64>
      %st = kiln.constant dense<[-3]> : tensor<1xi64>
      %y = kiln.onnx.Slice %x, %s, %e, %a, %st {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}
          : (tensor<10xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>)
          -> tensor<4xf32>
      return %y : tensor<4xf32>
    })mlir",
                         {iota({10})});
  expectTensor(result, {4}, {9, 6, 3, 0});
}

TEST_F(ShapeKernelsTest, SliceClampsEndsAndReversesAnInnerAxis) {
  // numpy: x[0:INT64_MAX, 3:0:-2] for x = arange(12).reshape(3, 4), with int32 starts/ends and
  // axes given out of order.
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
      %s = kiln.constant dense<[3, 0]> : tensor<2xi32>
      %e = kiln.constant dense<[0, 2147483647]> : tensor<2xi32>
      %a = kiln.constant dense<[-1, 0]> : tensor<2xi32>
      %st = kiln.constant dense<[-2, 1]> : tensor<2xi32>
      %y = kiln.onnx.Slice %x, %s, %e, %a, %st {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}
          : (tensor<3x4xf32>, tensor<2xi32>, tensor<2xi32>, tensor<2xi32>, tensor<2xi32>)
          -> tensor<3x2xf32>
      return %y : tensor<3x2xf32>
    })mlir",
                         {iota({3, 4})});
  expectTensor(result, {3, 2}, {3, 1, 7, 5, 11, 9});
}

TEST_F(ShapeKernelsTest, SliceOutOfRangeStartGivesAnEmptyResult) {
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<5xf32>) -> tensor<0xf32> {
      %s = kiln.constant dense<[7]> : tensor<1xi64>
      %e = kiln.constant dense<[9223372036854775807]> : tensor<1xi64>
      %y = kiln.onnx.Slice %x, %s, %e {operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}
          : (tensor<5xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<0xf32>
      return %y : tensor<0xf32>
    })mlir",
                         {iota({5})});
  expectTensor(result, {0}, {});
}

TEST_F(ShapeKernelsTest, GatherWithNegativeIndicesOnAnInnerAxis) {
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<2x3xf32>) -> tensor<2x2x2xf32> {
      %i = kiln.constant dense<[[-1, 0], [1, -3]]> : tensor<2x2xi64>
      %y = kiln.onnx.Gather %x, %i {axis = 1 : i64}
          : (tensor<2x3xf32>, tensor<2x2xi64>) -> tensor<2x2x2xf32>
      return %y : tensor<2x2x2xf32>
    })mlir",
                         {iota({2, 3})});
  expectTensor(result, {2, 2, 2}, {2, 0, 1, 0, 5, 3, 4, 3});
}

TEST_F(ShapeKernelsTest, GatherReportsAnOutOfRangeIndex) {
  std::string message = runFailing(R"mlir(
    func.func @main(%x: tensor<3x2xf32>) -> tensor<2x2xf32> {
      %i = kiln.constant dense<[0, 3]> : tensor<2xi32>
      %y = kiln.onnx.Gather %x, %i : (tensor<3x2xf32>, tensor<2xi32>) -> tensor<2x2xf32>
      return %y : tensor<2x2xf32>
    })mlir",
                                   {iota({3, 2})});
  EXPECT_TRUE(contains(message, "index 3 is out of bounds for axis 0 with size 3")) << message;
}

TEST_F(ShapeKernelsTest, GatherNDAndSliceReportBadIndicesAndSteps) {
  std::string message = runFailing(R"mlir(
    func.func @main(%x: tensor<2x3xf32>) -> tensor<1xf32> {
      %i = kiln.constant dense<[[1, -4]]> : tensor<1x2xi64>
      %y = kiln.onnx.GatherND %x, %i : (tensor<2x3xf32>, tensor<1x2xi64>) -> tensor<1xf32>
      return %y : tensor<1xf32>
    })mlir",
                                   {iota({2, 3})});
  EXPECT_TRUE(contains(message, "index -4 is out of bounds for axis 1 with size 3")) << message;

  message = runFailing(R"mlir(
    func.func @main(%x: tensor<5xf32>) -> tensor<?xf32> {
      %s = kiln.constant dense<[0]> : tensor<1xi64>
      %e = kiln.constant dense<[5]> : tensor<1xi64>
      %a = kiln.constant dense<[0]> : tensor<1xi64>
      %st = kiln.constant dense<[0]> : tensor<1xi64>
      %y = kiln.onnx.Slice %x, %s, %e, %a, %st {operandSegmentSizes = array<i32: 1, 1, 1, 1, 1>}
          : (tensor<5xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>)
          -> tensor<?xf32>
      return %y : tensor<?xf32>
    })mlir",
                       {iota({5})});
  EXPECT_TRUE(contains(message, "'steps' must not contain 0")) << message;
}

TEST_F(ShapeKernelsTest, GatherElementsAlongAxisOne) {
  // The ONNX spec's example: data [[1, 2], [3, 4]], indices [[0, 0], [1, 0]] -> [[1, 1], [4, 3]].
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
      %i = kiln.constant dense<[[0, 0], [-1, 0]]> : tensor<2x2xi64>
      %y = kiln.onnx.GatherElements %x, %i {axis = 1 : i64}
          : (tensor<2x2xf32>, tensor<2x2xi64>) -> tensor<2x2xf32>
      return %y : tensor<2x2xf32>
    })mlir",
                         {f32({2, 2}, {1, 2, 3, 4})});
  expectTensor(result, {2, 2}, {1, 1, 4, 3});
}

TEST_F(ShapeKernelsTest, GatherNDWithBatchDims) {
  // The ONNX spec's example 5: batch_dims = 1.
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<2x2x2xf32>) -> tensor<2x2xf32> {
      %i = kiln.constant dense<[[1], [0]]> : tensor<2x1xi64>
      %y = kiln.onnx.GatherND %x, %i {batch_dims = 1 : i64}
          : (tensor<2x2x2xf32>, tensor<2x1xi64>) -> tensor<2x2xf32>
      return %y : tensor<2x2xf32>
    })mlir",
                         {iota({2, 2, 2})});
  expectTensor(result, {2, 2}, {2, 3, 4, 5});
}

TEST_F(ShapeKernelsTest, ScatterNDAddsDuplicateIndices) {
  // The ONNX spec's reduction='add' example plus a second update of index 4, which accumulates.
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<8xf32>) -> tensor<8xf32> {
      %i = kiln.constant dense<[[4], [3], [1], [7], [4]]> : tensor<5x1xi64>
      %u = kiln.constant dense<[9.0, 10.0, 11.0, 12.0, 1.0]> : tensor<5xf32>
      %y = kiln.onnx.ScatterND %x, %i, %u {reduction = "add"}
          : (tensor<8xf32>, tensor<5x1xi64>, tensor<5xf32>) -> tensor<8xf32>
      return %y : tensor<8xf32>
    })mlir",
                         {f32({8}, {1, 2, 3, 4, 5, 6, 7, 8})});
  expectTensor(result, {8}, {1, 13, 3, 14, 15, 6, 7, 20});
}

TEST_F(ShapeKernelsTest, ScatterNDMaxComparesInTheElementType) {
  // 2^63 and above are uint64 values, not negative int64 ones; NaN wins, as in numpy's maximum.
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @main(%x: tensor<2xui64>, %u: tensor<2xui64>, %f: tensor<2xf32>, %v: tensor<2xf32>)
        -> (tensor<2xui64>, tensor<2xf32>) {
      %i = kiln.constant dense<[[0], [1]]> : tensor<2x1xi64>
      %a = kiln.onnx.ScatterND %x, %i, %u {reduction = "max"}
          : (tensor<2xui64>, tensor<2x1xi64>, tensor<2xui64>) -> tensor<2xui64>
      %b = kiln.onnx.ScatterND %f, %i, %v {reduction = "min"}
          : (tensor<2xf32>, tensor<2x1xi64>, tensor<2xf32>) -> tensor<2xf32>
      return %a, %b : tensor<2xui64>, tensor<2xf32>
    })mlir",
          {makeTensor(DType::U64, {2}, {1, 1e19}), makeTensor(DType::U64, {2}, {1e19, 5}),
           f32({2}, {1, 2}), f32({2}, {NAN, 0})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ(valuesOf((*results)[0]), (std::vector<double>{1e19, 1e19}));
  expectTensor((*results)[1], {2}, {NAN, 0});
}

TEST_F(ShapeKernelsTest, TriluLowerWithNegativeK) {
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<3x3xf32>) -> tensor<3x3xf32> {
      %k = kiln.constant dense<-1> : tensor<i64>
      %y = kiln.onnx.Trilu %x, %k {upper = 0 : i64}
          : (tensor<3x3xf32>, tensor<i64>) -> tensor<3x3xf32>
      return %y : tensor<3x3xf32>
    })mlir",
                         {f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9})});
  expectTensor(result, {3, 3}, {0, 0, 0, 4, 0, 0, 7, 8, 0});
}

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

TEST_F(ShapeKernelsTest, LayerNormalizationOverTwoTrailingDims) {
  // Rows [0, 1, 2, 3] and [4, 5, 6, 7]: mean 1.5 / 5.5, variance 1.25; scale broadcasts [2, 1].
  Tensor result = runOne(R"mlir(
    func.func @main(%x: tensor<2x2x2xf32>, %g: tensor<2x1xf32>, %b: tensor<2xf32>)
        -> tensor<2x2x2xf32> {
      %y = kiln.onnx.LayerNormalization %x, %g, %b {axis = 1 : i64, epsilon = 0.0 : f32}
          : (tensor<2x2x2xf32>, tensor<2x1xf32>, tensor<2xf32>) -> tensor<2x2x2xf32>
      return %y : tensor<2x2x2xf32>
    })mlir",
                         {iota({2, 2, 2}), f32({2, 1}, {1, 2}), f32({2}, {0, 10})});
  double s = 1 / std::sqrt(1.25);
  expectTensor(result, {2, 2, 2},
               {-1.5 * s, -0.5 * s + 10, 2 * 0.5 * s, 2 * 1.5 * s + 10, -1.5 * s, -0.5 * s + 10,
                2 * 0.5 * s, 2 * 1.5 * s + 10},
               1e-5);
}

TEST_F(ShapeKernelsTest, LayerNormalizationStatistics) {
  // Mean and InvStdDev are float32 whatever the input type, with the input's shape and the
  // normalised dims set to 1. Rows [0, 1, 2, 3] and [4, 5, 6, 7] (f16 holds them exactly):
  // means 1.5 and 5.5, variance 1.25 + eps 0.25. With one statistic, only Mean is computed.
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @main(%x: tensor<2x2x2xf16>, %g: tensor<2x2xf16>)
        -> (tensor<2x2x2xf16>, tensor<2x1x1xf32>, tensor<2x1x1xf32>, tensor<2x2x1xf32>) {
      %y, %mean, %inv = kiln.onnx.LayerNormalization %x, %g {axis = 1 : i64, epsilon = 0.25 : f32}
          : (tensor<2x2x2xf16>, tensor<2x2xf16>)
          -> (tensor<2x2x2xf16>, tensor<2x1x1xf32>, tensor<2x1x1xf32>)
      %g1 = kiln.constant dense<1.0> : tensor<2xf16>
      %y1, %mean1 = kiln.onnx.LayerNormalization %x, %g1 {epsilon = 0.25 : f32}
          : (tensor<2x2x2xf16>, tensor<2xf16>) -> (tensor<2x2x2xf16>, tensor<2x2x1xf32>)
      return %y, %mean, %inv, %mean1
          : tensor<2x2x2xf16>, tensor<2x1x1xf32>, tensor<2x1x1xf32>, tensor<2x2x1xf32>
    })mlir",
          {makeTensor(DType::F16, {2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}),
           makeTensor(DType::F16, {2, 2}, {1, 1, 1, 1})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  ASSERT_EQ(results->size(), 4u);
  EXPECT_EQ((*results)[1].getDType(), DType::F32);
  expectTensor((*results)[1], {2, 1, 1}, {1.5, 5.5});
  expectTensor((*results)[2], {2, 1, 1}, {1 / std::sqrt(1.5), 1 / std::sqrt(1.5)});
  // The normalised output rounds to f16.
  double s = 1 / std::sqrt(1.5);
  expectTensor((*results)[0], {2, 2, 2},
               {-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s, -1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s}, 1e-3);
  // axis -1: one row per pair, variance 0.25 + eps 0.25.
  expectTensor((*results)[3], {2, 2, 1}, {0.5, 2.5, 4.5, 6.5});
}

TEST_F(ShapeKernelsTest, RmsNormsOfOnnxAndKiln) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%x: tensor<1x2xf32>, %g: tensor<2xf32>)
        -> (tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>) {
      %a = kiln.onnx.RMSNormalization %x, %g {epsilon = 1.0 : f32}
          : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
      %b = kiln.rms_norm %x, %g eps 1.0 : tensor<1x2xf32>, tensor<2xf32>
      %c = kiln.layer_norm %x, %g, %g eps 1.0 : tensor<1x2xf32>, tensor<2xf32>, tensor<2xf32>
      return %a, %b, %c : tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x2xf32>
    })mlir",
                                               {f32({1, 2}, {3, 4}), f32({2}, {1, 2})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  // mean(x^2) = 12.5, + eps = 13.5.
  double r = std::sqrt(13.5);
  expectTensor((*results)[0], {1, 2}, {3 / r, 8 / r}, 1e-6);
  expectTensor((*results)[1], {1, 2}, {3 / r, 8 / r}, 1e-6);
  // mean 3.5, variance 0.25, + eps = 1.25.
  double s = std::sqrt(1.25);
  expectTensor((*results)[2], {1, 2}, {-0.5 / s + 1, 2 * 0.5 / s + 2}, 1e-6);
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

TEST_F(ShapeKernelsTest, GqaAttentionMapsTwoQueryHeadsToOneKvHead) {
  // head_dim 1, scale 1. Keys [0, 1], values [10, 20], both query heads read KV head 0.
  // Head 0 (q = 1): scores [0, 1]; head 1 (q = -1): scores [0, -1].
  const char *source = R"mlir(
    func.func @main(%q: tensor<1x2x1x1xf32>, %k: tensor<1x1x2x1xf32>, %v: tensor<1x1x2x1xf32>)
        -> (tensor<1x2x1x1xf32>, tensor<1x2x1x1xf32>) {
      %a = kiln.attention %q, %k, %v heads 2 kv_heads 1 head_dim 1 scale 1.0
          : tensor<1x2x1x1xf32>, tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32> -> tensor<1x2x1x1xf32>
      %b = kiln.onnx.Attention %q, %k, %v {scale = 1.0 : f32,
          operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>, resultSegmentSizes = array<i32: 1,
              0, 0, 0>}
          : (tensor<1x2x1x1xf32>, tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>) -> tensor<1x2x1x1xf32>
      return %a, %b : tensor<1x2x1x1xf32>, tensor<1x2x1x1xf32>
    })mlir";
  FailureOr<SmallVector<Tensor>> results = run(
      source, {f32({1, 2, 1, 1}, {1, -1}), f32({1, 1, 2, 1}, {0, 1}), f32({1, 1, 2, 1}, {10, 20})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  double e = std::exp(1.0);
  double head0 = (10 + 20 * e) / (1 + e), head1 = (10 * e + 20) / (1 + e);
  expectTensor((*results)[0], {1, 2, 1, 1}, {head0, head1}, 1e-5);
  expectTensor((*results)[1], {1, 2, 1, 1}, {head0, head1}, 1e-5);
}

TEST_F(ShapeKernelsTest, KilnCausalAttentionAlignsBottomRight) {
  // Q = 0 makes all scores equal, and V = identity makes the output the attention weights.
  // With q_len 2 and kv_len 3, row 0 sees keys 0..1 and row 1 sees all keys.
  Tensor result = runOne(R"mlir(
    func.func @main(%q: tensor<1x1x2x2xf32>, %k: tensor<1x1x3x2xf32>, %v: tensor<1x1x3x3xf32>)
        -> tensor<1x1x2x3xf32> {
      %a = kiln.attention %q, %k, %v heads 1 kv_heads 1 head_dim 2 scale 0.5 causal
          : tensor<1x1x2x2xf32>, tensor<1x1x3x2xf32>, tensor<1x1x3x3xf32> -> tensor<1x1x2x3xf32>
      return %a : tensor<1x1x2x3xf32>
    })mlir",
                         {Tensor::zeros(DType::F32, {1, 1, 2, 2}), iota({1, 1, 3, 2}),
                          f32({1, 1, 3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1})});
  expectTensor(result, {1, 1, 2, 3}, {0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3});
}

TEST_F(ShapeKernelsTest, OnnxCausalAttentionAlignsAfterThePastKeys) {
  // Without a cache ONNX aligns the causal mask top-left (row i sees keys 0..i, as in the ONNX
  // reference); with past_key of length 1 it shifts by the past length. present_key is the
  // concatenation of past and new keys.
  const char *source = R"mlir(
    func.func @main(%q: tensor<1x1x2x2xf32>, %k: tensor<1x1x3x2xf32>, %v: tensor<1x1x3x3xf32>,
                    %pk: tensor<1x1x1x2xf32>, %pv: tensor<1x1x1x3xf32>, %k2: tensor<1x1x2x2xf32>,
                    %v2: tensor<1x1x2x3xf32>)
        -> (tensor<1x1x2x3xf32>, tensor<1x1x2x3xf32>, tensor<1x1x3x2xf32>) {
      %a = kiln.onnx.Attention %q, %k, %v {is_causal = 1 : i64,
          operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>, resultSegmentSizes = array<i32: 1,
              0, 0, 0>}
          : (tensor<1x1x2x2xf32>, tensor<1x1x3x2xf32>, tensor<1x1x3x3xf32>) -> tensor<1x1x2x3xf32>
      %b, %pk2, %pv2 = kiln.onnx.Attention %q, %k2, %v2, %pk, %pv {is_causal = 1 : i64,
          operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 1>, resultSegmentSizes = array<i32: 1,
              1, 1, 0>}
          : (tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>, tensor<1x1x2x3xf32>, tensor<1x1x1x2xf32>,
             tensor<1x1x1x3xf32>) -> (tensor<1x1x2x3xf32>, tensor<1x1x3x2xf32>, tensor<1x1x3x3xf32>)
      return %a, %b, %pk2 : tensor<1x1x2x3xf32>, tensor<1x1x2x3xf32>, tensor<1x1x3x2xf32>
    })mlir";
  Tensor identity = f32({1, 1, 3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1});
  FailureOr<SmallVector<Tensor>> results =
      run(source, {Tensor::zeros(DType::F32, {1, 1, 2, 2}), iota({1, 1, 3, 2}), identity,
                   f32({1, 1, 1, 2}, {7, 8}), f32({1, 1, 1, 3}, {1, 0, 0}), iota({1, 1, 2, 2}),
                   f32({1, 1, 2, 3}, {0, 1, 0, 0, 0, 1})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {1, 1, 2, 3}, {1, 0, 0, 0.5, 0.5, 0});
  expectTensor((*results)[1], {1, 1, 2, 3}, {0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  expectTensor((*results)[2], {1, 1, 3, 2}, {7, 8, 0, 1, 2, 3});
}

TEST_F(ShapeKernelsTest, OnnxAttention3DWithBoolMaskAndScores) {
  // 3-D inputs, 2 query heads on 1 KV head of size 1; the mask hides key 1 for query row 0
  // (and is padded with "false" for key 2, which exists only in K). qk_matmul_output_mode 0
  // returns the raw scaled scores q * k.
  const char *source = R"mlir(
    func.func @main(%q: tensor<1x1x2xf32>, %k: tensor<1x3x1xf32>, %v: tensor<1x3x1xf32>,
        %m: tensor<1x2xi1>)
        -> (tensor<1x1x2xf32>, tensor<1x2x1x3xf32>) {
      %y, %qk = kiln.onnx.Attention %q, %k, %v, %m {q_num_heads = 2 : i64, kv_num_heads = 1 : i64,
          scale = 1.0 : f32, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>,
          resultSegmentSizes = array<i32: 1, 0, 0, 1>}
          : (tensor<1x1x2xf32>, tensor<1x3x1xf32>, tensor<1x3x1xf32>, tensor<1x2xi1>)
          -> (tensor<1x1x2xf32>, tensor<1x2x1x3xf32>)
      return %y, %qk : tensor<1x1x2xf32>, tensor<1x2x1x3xf32>
    })mlir";
  Tensor mask = makeTensor(DType::Bool, {1, 2}, {1, 0});
  FailureOr<SmallVector<Tensor>> results = run(
      source, {f32({1, 1, 2}, {1, 2}), f32({1, 3, 1}, {1, 2, 3}), f32({1, 3, 1}, {5, 6, 7}), mask});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {1, 1, 2}, {5, 5});
  expectTensor((*results)[1], {1, 2, 1, 3}, {1, 2, 3, 2, 4, 6});
}

TEST_F(ShapeKernelsTest, SoftcapAndAdditiveMask) {
  // Scores [0, 4] become [0, 2 tanh(2)] under softcap 2, then the mask adds [0, -1].
  Tensor result = runOne(R"mlir(
    func.func @main(%q: tensor<1x1x1x1xf32>, %k: tensor<1x1x2x1xf32>, %v: tensor<1x1x2x1xf32>,
        %m: tensor<2xf32>)
        -> tensor<1x1x1x1xf32> {
      %a = kiln.attention %q, %k, %v mask(%m
          : tensor<2xf32>) heads 1 kv_heads 1 head_dim 1 scale 1.0 softcap 2.0
          : tensor<1x1x1x1xf32>, tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32> -> tensor<1x1x1x1xf32>
      return %a : tensor<1x1x1x1xf32>
    })mlir",
                         {f32({1, 1, 1, 1}, {2}), f32({1, 1, 2, 1}, {0, 2}),
                          f32({1, 1, 2, 1}, {0, 1}), f32({2}, {0, -1})});
  double s1 = 2 * std::tanh(2.0) - 1;
  double p1 = std::exp(s1) / (1 + std::exp(s1));
  expectTensor(result, {1, 1, 1, 1}, {p1}, 1e-6);
}

TEST_F(ShapeKernelsTest, FullyMaskedRowIsZeroInKilnAttentionAndNaNInOnnxAttention) {
  // Row 0 masks both keys; row 1 keeps key 1. kiln.attention defines the masked row as 0 (what
  // the exporters' IsNaN guard computes); ONNX Attention's reference gives NaN there.
  const char *source = R"mlir(
    func.func @main(%q: tensor<1x1x2x1xf32>, %k: tensor<1x1x2x1xf32>, %v: tensor<1x1x2x1xf32>,
        %m: tensor<2x2xi1>) -> (tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>) {
      %a = kiln.attention %q, %k, %v mask(%m : tensor<2x2xi1>) heads 1 kv_heads 1 head_dim 1
          scale 1.0 : tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>
          -> tensor<1x1x2x1xf32>
      %b = kiln.onnx.Attention %q, %k, %v, %m
          {operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>,
           resultSegmentSizes = array<i32: 1, 0, 0, 0>}
          : (tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>, tensor<2x2xi1>)
          -> tensor<1x1x2x1xf32>
      return %a, %b : tensor<1x1x2x1xf32>, tensor<1x1x2x1xf32>
    })mlir";
  FailureOr<SmallVector<Tensor>> results =
      run(source, {f32({1, 1, 2, 1}, {1, 1}), f32({1, 1, 2, 1}, {0, 1}), f32({1, 1, 2, 1}, {3, 5}),
                   makeTensor(DType::Bool, {2, 2}, {0, 0, 0, 1})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {1, 1, 2, 1}, {0, 5});
  std::vector<double> onnx = valuesOf((*results)[1]);
  EXPECT_TRUE(std::isnan(onnx[0]));
  EXPECT_EQ(onnx[1], 5);
}

TEST_F(ShapeKernelsTest, RotaryEmbeddingMatchesKilnRotary) {
  // One pair per head (rotary dim 2 of head size 3: dim 2 passes through). Angle 90 degrees for
  // position 1: (x0, x1) -> (-x1, x0).
  const char *source = R"mlir(
    func.func @main(%x: tensor<1x1x2x3xf32>, %cache_cos: tensor<2x1xf32>,
        %cache_sin: tensor<2x1xf32>,
                    %pos: tensor<1x2xi64>) -> (tensor<1x1x2x3xf32>, tensor<1x1x2x3xf32>) {
      %a = kiln.onnx.RotaryEmbedding %x, %cache_cos, %cache_sin,
          %pos {rotary_embedding_dim = 2 : i64}
          : (tensor<1x1x2x3xf32>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<1x2xi64>)
          -> tensor<1x1x2x3xf32>
      %b = kiln.rotary %x, %cache_cos, %cache_sin half dim 2 : tensor<1x1x2x3xf32>, tensor<2x1xf32>
      return %a, %b : tensor<1x1x2x3xf32>, tensor<1x1x2x3xf32>
    })mlir";
  FailureOr<SmallVector<Tensor>> results =
      run(source, {f32({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6}), f32({2, 1}, {1, 0}), f32({2, 1}, {0, 1}),
                   makeTensor(DType::I64, {1, 2}, {0, 1})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  expectTensor((*results)[0], {1, 1, 2, 3}, {1, 2, 3, -5, 4, 6});
  expectTensor((*results)[1], {1, 1, 2, 3}, {1, 2, 3, -5, 4, 6});
}

//===----------------------------------------------------------------------===//
// Transformer ops
//===----------------------------------------------------------------------===//

TEST_F(ShapeKernelsTest, LinearAppliesBiasActivationThenResidual) {
  // x W^T + b = [1 - 2 + 0.5, 3 + 4 - 1] = [-0.5, 6]; relu -> [0, 6]; + residual [1, 1].
  Tensor result = runOne(
      R"mlir(
    func.func @main(%x: tensor<1x2xf32>, %w: tensor<2x2xf32>, %b: tensor<2xf32>,
        %r: tensor<1x2xf32>)
        -> tensor<1x2xf32> {
      %y = kiln.linear %x, %w bias(%b : tensor<2xf32>) residual(%r : tensor<1x2xf32>) act relu
          : tensor<1x2xf32>, tensor<2x2xf32> -> tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    })mlir",
      {f32({1, 2}, {1, 2}), f32({2, 2}, {1, -1, 3, 2}), f32({2}, {0.5, -1}), f32({1, 2}, {1, 1})});
  expectTensor(result, {1, 2}, {1, 7});
}

TEST_F(ShapeKernelsTest, GeluSiluAndSwiglu) {
  FailureOr<SmallVector<Tensor>> results = run(R"mlir(
    func.func @main(%x: tensor<2xf32>, %u: tensor<2xf32>)
        -> (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) {
      %a = kiln.gelu %x : tensor<2xf32>
      %b = kiln.gelu %x approximate tanh : tensor<2xf32>
      %c = kiln.silu %x : tensor<2xf32>
      %d = kiln.swiglu %x, %u : tensor<2xf32>
      return %a, %b, %c, %d : tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>
    })mlir",
                                               {f32({2}, {1, -2}), f32({2}, {3, 4})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  // torch.nn.functional.gelu([1, -2]) and gelu(..., approximate='tanh').
  expectTensor((*results)[0], {2}, {0.8413447, -0.0455003}, 1e-6);
  expectTensor((*results)[1], {2}, {0.8411920, -0.0454023}, 1e-6);
  double silu1 = 1 / (1 + std::exp(-1.0)), siluM2 = -2 / (1 + std::exp(2.0));
  expectTensor((*results)[2], {2}, {silu1, siluM2}, 1e-6);
  expectTensor((*results)[3], {2}, {3 * silu1, 4 * siluM2}, 1e-6);
}

TEST_F(ShapeKernelsTest, FusedOpsComputeWhatTheyReplace) {
  // kiln.silu is Mul(x, Sigmoid(x)) and kiln.linear's relu is Relu, to the bit: a fusion pass
  // checked against the executor must see no difference. Relu keeps NaN.
  FailureOr<SmallVector<Tensor>> results =
      run(R"mlir(
    func.func @main(%x: tensor<1x4xf32>, %w: tensor<1x4xf32>)
        -> (tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x1xf32>, tensor<1x1xf32>) {
      %s = kiln.onnx.Sigmoid %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
      %m = kiln.onnx.Mul %x, %s : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
      %f = kiln.silu %x : tensor<1x4xf32>
      %l = kiln.linear %x, %w act relu : tensor<1x4xf32>, tensor<1x4xf32> -> tensor<1x1xf32>
      %wt = kiln.onnx.Transpose %w : (tensor<1x4xf32>) -> tensor<4x1xf32>
      %p = kiln.onnx.MatMul %x, %wt : (tensor<1x4xf32>, tensor<4x1xf32>) -> tensor<1x1xf32>
      %r = kiln.onnx.Relu %p : (tensor<1x1xf32>) -> tensor<1x1xf32>
      return %m, %f, %l, %r : tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x1xf32>, tensor<1x1xf32>
    })mlir",
          {f32({1, 4}, {-3.7, -0.3, 0.9, 12.5}), f32({1, 4}, {NAN, 1, 1, 1})});
  ASSERT_TRUE(succeeded(results)) << diagnostics;
  EXPECT_EQ((*results)[0].toBytes(), (*results)[1].toBytes());
  expectTensor((*results)[2], {1, 1}, {NAN});
  expectTensor((*results)[3], {1, 1}, {NAN});
}

} // namespace
