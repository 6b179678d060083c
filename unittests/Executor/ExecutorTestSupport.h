//===- ExecutorTestSupport.h - Executor unit test helpers -------*- C++ -*-===//
//
// What the CPU executor's unit tests share: building tensors from values, reading them back,
// comparing them with expected values, and a fixture that parses a kiln function from text and
// runs it through runFunction, collecting its diagnostics.
//
//===----------------------------------------------------------------------===//

#ifndef KILN_UNITTESTS_EXECUTOR_EXECUTORTESTSUPPORT_H
#define KILN_UNITTESTS_EXECUTOR_EXECUTORTESTSUPPORT_H

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Executor/CpuExecutor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/STLExtras.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace kiln::exec::test {

/// A tensor of `dtype` whose element i is values[i] (rounded to the dtype).
inline Tensor makeTensor(DType dtype, llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<double> values) {
  Tensor tensor = Tensor::zeros(dtype, shape);
  EXPECT_EQ(static_cast<int64_t>(values.size()), tensor.getNumElements());
  for (auto [index, value] : llvm::enumerate(values))
    tensor.setDouble(static_cast<int64_t>(index), value);
  return tensor;
}

inline Tensor f32(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<double> values) {
  return makeTensor(DType::F32, shape, values);
}

inline Tensor i64(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<double> values) {
  return makeTensor(DType::I64, shape, values);
}

/// 0, 1, 2, ... as a float32 tensor of `shape`.
inline Tensor iota(llvm::ArrayRef<int64_t> shape) {
  Tensor tensor = Tensor::zeros(DType::F32, shape);
  for (int64_t i = 0; i < tensor.getNumElements(); ++i)
    tensor.setDouble(i, static_cast<double>(i));
  return tensor;
}

inline std::vector<double> valuesOf(const Tensor &tensor) {
  std::vector<double> values;
  for (int64_t i = 0; i < tensor.getNumElements(); ++i)
    values.push_back(tensor.getDouble(i));
  return values;
}

inline std::vector<int64_t> shapeOf(const Tensor &tensor) {
  return std::vector<int64_t>(tensor.getShape().begin(), tensor.getShape().end());
}

inline bool contains(llvm::StringRef text, llvm::StringRef part) { return text.contains(part); }

/// Expects the elements of `tensor` to be `expected`, each within `tolerance` relative to
/// max(1, |expected|); a NaN expects NaN and an infinity the same infinity.
inline void expectValuesNear(const Tensor &tensor, llvm::ArrayRef<double> expected,
                             double tolerance = 1e-5) {
  ASSERT_EQ(tensor.getNumElements(), static_cast<int64_t>(expected.size())) << tensor.describe();
  for (auto [index, value] : llvm::enumerate(expected)) {
    double actual = tensor.getDouble(static_cast<int64_t>(index));
    if (std::isnan(value))
      EXPECT_TRUE(std::isnan(actual)) << "element " << index;
    else if (std::isinf(value))
      EXPECT_EQ(actual, value) << "element " << index;
    else
      EXPECT_NEAR(actual, value, tolerance * std::max(1.0, std::fabs(value)))
          << "element " << index;
  }
}

/// Expects `actual` to have `shape` and the `expected` elements (see expectValuesNear).
inline void expectTensor(const Tensor &actual, llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<double> expected, double tolerance = 1e-6) {
  ASSERT_EQ(actual.getShape(), shape) << actual.describe();
  expectValuesNear(actual, expected, tolerance);
}

/// Parses kiln functions from text and runs them on the CPU executor.
class ExecutorTest : public ::testing::Test {
protected:
  ExecutorTest() { context.loadDialect<kiln::KilnDialect, mlir::func::FuncDialect>(); }

  /// Parses `source` and runs its first function with a body on `inputs`. The diagnostics of
  /// this run (only) are in `diagnostics`; a source that does not parse fails the test.
  mlir::FailureOr<llvm::SmallVector<Tensor>> run(llvm::StringRef source,
                                                 llvm::ArrayRef<Tensor> inputs) {
    diagnostics.clear();
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diagnostic) {
      diagnostics += diagnostic.str() + "\n";
      return mlir::success();
    });
    module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
    if (!module) {
      ADD_FAILURE() << "cannot parse:\n" << source.str() << "\n" << diagnostics;
      return mlir::failure();
    }
    for (auto function : module->getOps<mlir::func::FuncOp>())
      if (!function.isExternal())
        return runFunction(function, inputs);
    ADD_FAILURE() << "no function with a body";
    return mlir::failure();
  }

  /// Runs a function expected to succeed with one result.
  Tensor runOne(llvm::StringRef source, llvm::ArrayRef<Tensor> inputs) {
    mlir::FailureOr<llvm::SmallVector<Tensor>> results = run(source, inputs);
    if (mlir::failed(results) || results->size() != 1) {
      ADD_FAILURE() << "run failed:\n" << diagnostics;
      return Tensor();
    }
    return results->front();
  }

  /// Runs a function expected to fail; returns its diagnostics.
  std::string runFailing(llvm::StringRef source, llvm::ArrayRef<Tensor> inputs) {
    EXPECT_TRUE(mlir::failed(run(source, inputs))) << "expected a failure";
    return diagnostics;
  }

  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string diagnostics;
};

} // namespace kiln::exec::test

#endif // KILN_UNITTESTS_EXECUTOR_EXECUTORTESTSUPPORT_H
