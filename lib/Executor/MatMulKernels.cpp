//===- MatMulKernels.cpp - MatMul, Gemm, Einsum ---------------------------===//
//
// Contractions. Float tensors accumulate in float (f64 in double), integers in int64 with
// wrap-around. MatMul runs its inner loops in i-k-j order so that the innermost loop streams
// rows of B and the output and vectorizes: the reference models push a few hundred tokens
// through d=256 layers, which a naive i-j-k loop would make slow.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/CpuExecutor.h"

#include "ShapeUtils.h"

#include "kiln/Dialect/Kiln/IR/KilnOps.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <map>
#include <tuple>

using namespace mlir;
using namespace kiln;
using namespace kiln::exec;

/// Contractions take numeric operands of one element type.
static LogicalResult checkNumericOperands(Operation *op, ArrayRef<const Tensor *> operands) {
  for (const Tensor *operand : operands)
    if (failed(checkOperandKind(op, *operand, OperandKind::Numeric)))
      return failure();
  return checkSameDType(op, operands);
}

/// c[M, N] += a[M, K] * b[K, N], all row-major and contiguous.
template <typename T>
static void multiplyAccumulate(const T *a, const T *b, T *c, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    T *cRow = c + i * n;
    for (int64_t p = 0; p < k; ++p) {
      const T aValue = a[i * k + p];
      const T *bRow = b + p * n;
      for (int64_t j = 0; j < n; ++j)
        cRow[j] = wrappingAdd(cRow[j], wrappingMul(aValue, bRow[j]));
    }
  }
}

//===----------------------------------------------------------------------===//
// MatMul
//===----------------------------------------------------------------------===//

static LogicalResult runMatMul(Operation *op, ExecutionContext &ctx) {
  const Tensor &a = ctx.get(op->getOperand(0));
  const Tensor &b = ctx.get(op->getOperand(1));
  if (failed(checkNumericOperands(op, {&a, &b})))
    return failure();
  if (a.getRank() == 0 || b.getRank() == 0)
    return op->emitOpError() << "operands must have rank >= 1, got " << a.describe() << " and "
                             << b.describe();
  // numpy: a 1-D A is a row [1, K] and a 1-D B a column [K, 1]; the added dim is dropped again.
  SmallVector<int64_t, 6> aShape(a.getShape()), bShape(b.getShape());
  bool aIsVector = aShape.size() == 1, bIsVector = bShape.size() == 1;
  if (aIsVector)
    aShape.insert(aShape.begin(), 1);
  if (bIsVector)
    bShape.push_back(1);
  int64_t m = aShape[aShape.size() - 2], k = aShape.back();
  int64_t n = bShape.back();
  if (bShape[bShape.size() - 2] != k)
    return op->emitOpError() << "contraction dims differ: " << a.describe() << " times "
                             << b.describe();
  ArrayRef<int64_t> aBatch = ArrayRef<int64_t>(aShape).drop_back(2);
  ArrayRef<int64_t> bBatch = ArrayRef<int64_t>(bShape).drop_back(2);
  std::optional<SmallVector<int64_t, 6>> batch = broadcastShapes(aBatch, bBatch);
  if (!batch)
    return op->emitOpError() << "batch dims are not broadcastable: " << a.describe() << " times "
                             << b.describe();

  SmallVector<int64_t, 6> fullShape(*batch);
  fullShape.append({m, n});
  Tensor result = Tensor::zeros(a.getDType(), fullShape);
  visitStorageType(a.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *aData = getStored<T>(a).data();
    const T *bData = getStored<T>(b).data();
    T *out = getMutableStored<T>(result).data();
    forEachBroadcastIndex<2>(*batch, {aBatch, bBatch},
                             [&](int64_t index, const std::array<int64_t, 2> &from) {
                               multiplyAccumulate(aData + from[0] * m * k, bData + from[1] * k * n,
                                                  out + index * m * n, m, k, n);
                             });
  });
  result.normalize();

  SmallVector<int64_t, 6> resultShape(*batch);
  if (!aIsVector)
    resultShape.push_back(m);
  if (!bIsVector)
    resultShape.push_back(n);
  ctx.set(op->getResult(0), result.reshaped(resultShape));
  return success();
}

//===----------------------------------------------------------------------===//
// Gemm
//===----------------------------------------------------------------------===//

/// A 2-D tensor as a row-major matrix, transposed when `transpose` (else the tensor itself: the
/// buffer is shared, not copied).
static Tensor asMatrix(const Tensor &tensor, bool transpose) {
  if (!transpose)
    return tensor;
  int64_t rows = tensor.getShape()[0], cols = tensor.getShape()[1];
  return copyStrided(tensor, 0, {1, cols}, {cols, rows});
}

static LogicalResult runGemm(Operation *op, ExecutionContext &ctx) {
  auto gemm = cast<OnnxGemmOp>(op);
  const Tensor &a = ctx.get(gemm.getA());
  const Tensor &b = ctx.get(gemm.getB());
  const Tensor *c = ctx.getOptional(gemm.getC());
  SmallVector<const Tensor *> operands = {&a, &b};
  if (c)
    operands.push_back(c);
  if (failed(checkNumericOperands(op, operands)))
    return failure();
  if (a.getRank() != 2 || b.getRank() != 2)
    return op->emitOpError() << "A and B must be 2-D, got " << a.describe() << " and "
                             << b.describe();
  bool transA = gemm.getTransA() != 0, transB = gemm.getTransB() != 0;
  int64_t m = a.getShape()[transA ? 1 : 0], k = a.getShape()[transA ? 0 : 1];
  int64_t bK = b.getShape()[transB ? 1 : 0], n = b.getShape()[transB ? 0 : 1];
  if (k != bK)
    return op->emitOpError() << "contraction dims differ: " << a.describe()
                             << (transA ? " (transposed)" : "") << " times " << b.describe()
                             << (transB ? " (transposed)" : "");
  SmallVector<int64_t, 2> shape = {m, n};
  if (c) {
    std::optional<SmallVector<int64_t, 6>> broadcast = broadcastShapes(c->getShape(), shape);
    if (!broadcast || ArrayRef<int64_t>(*broadcast) != ArrayRef<int64_t>(shape))
      return op->emitOpError() << "C " << c->describe() << " does not broadcast to [" << m << ", "
                               << n << "]";
  }
  double alpha = gemm.getAlpha().convertToDouble(), beta = gemm.getBeta().convertToDouble();

  Tensor aMatrix = asMatrix(a, transA), bMatrix = asMatrix(b, transB);
  Tensor result = Tensor::zeros(a.getDType(), shape);
  visitStorageType(a.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    MutableArrayRef<T> out = getMutableStored<T>(result);
    multiplyAccumulate(getStored<T>(aMatrix).data(), getStored<T>(bMatrix).data(), out.data(), m, k,
                       n);
    if constexpr (std::is_floating_point_v<T>) {
      T alphaT = static_cast<T>(alpha), betaT = static_cast<T>(beta);
      for (T &value : out)
        value *= alphaT;
      if (c) {
        ArrayRef<T> cData = getStored<T>(*c);
        forEachBroadcastIndex<1>(shape, {c->getShape()},
                                 [&](int64_t index, const std::array<int64_t, 1> &from) {
                                   out[index] += betaT * cData[from[0]];
                                 });
      }
    } else {
      // Integer Gemm: integral alpha and beta keep exact wrapping arithmetic; others go through
      // double and truncate.
      bool integral = alpha == std::trunc(alpha) && beta == std::trunc(beta);
      Tensor cTensor = c ? broadcastTo(*c, shape) : Tensor::zeros(a.getDType(), shape);
      ArrayRef<int64_t> cBroadcast = cTensor.getInts();
      for (auto [index, value] : llvm::enumerate(out)) {
        if (integral)
          value = wrappingAdd(wrappingMul(value, static_cast<int64_t>(alpha)),
                              wrappingMul(cBroadcast[index], static_cast<int64_t>(beta)));
        else
          result.setDouble(index, alpha * static_cast<double>(value) +
                                      beta * static_cast<double>(cBroadcast[index]));
      }
    }
  });
  result.normalize();
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

//===----------------------------------------------------------------------===//
// Einsum
//===----------------------------------------------------------------------===//

namespace {

/// An einsum equation resolved against its operands' shapes. Labels are ids: a letter's
/// character code, or kEllipsisBase + i for the i-th dim covered by "..." (right-aligned across
/// operands, which broadcast there as numpy does).
struct EinsumPlan {
  static constexpr int kEllipsisBase = 256;

  SmallVector<SmallVector<int, 6>> operandLabels;
  SmallVector<int, 6> outputLabels;
  SmallVector<int, 6> summedLabels;
  std::map<int, int64_t> sizes;
};

/// One term of the equation: its letters, and where "..." sits among them (if present).
struct EinsumTerm {
  SmallVector<int, 6> letters;
  std::optional<size_t> ellipsisPosition;
};

} // namespace

static FailureOr<EinsumTerm> parseEinsumTerm(Operation *op, StringRef text) {
  EinsumTerm term;
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i).starts_with("...")) {
      if (term.ellipsisPosition)
        return op->emitOpError() << "term '" << text << "' has more than one ellipsis";
      term.ellipsisPosition = term.letters.size();
      i += 3;
      continue;
    }
    if (!llvm::isAlpha(text[i]))
      return op->emitOpError() << "equation has invalid label '" << text[i] << "'";
    term.letters.push_back(static_cast<unsigned char>(text[i]));
    ++i;
  }
  return term;
}

/// Expands a term's "..." into `count` ellipsis ids ending at the last global ellipsis dim.
static SmallVector<int, 6> expandTerm(const EinsumTerm &term, int64_t count, int64_t total) {
  SmallVector<int, 6> labels(term.letters.begin(), term.letters.end());
  if (term.ellipsisPosition) {
    SmallVector<int, 6> ellipsis;
    for (int64_t i = 0; i < count; ++i)
      ellipsis.push_back(EinsumPlan::kEllipsisBase + static_cast<int>(total - count + i));
    labels.insert(labels.begin() + *term.ellipsisPosition, ellipsis.begin(), ellipsis.end());
  }
  return labels;
}

static FailureOr<EinsumPlan> planEinsum(Operation *op, StringRef equation,
                                        ArrayRef<const Tensor *> operands) {
  std::string compact;
  for (char ch : equation)
    if (ch != ' ')
      compact.push_back(ch);
  StringRef lhs = compact, rhs;
  bool explicitOutput = StringRef(compact).contains("->");
  if (explicitOutput)
    std::tie(lhs, rhs) = StringRef(compact).split("->");
  SmallVector<StringRef> termTexts;
  lhs.split(termTexts, ',');
  if (termTexts.size() != operands.size())
    return op->emitOpError() << "equation '" << equation << "' has " << termTexts.size()
                             << " input terms for " << operands.size() << " inputs";

  SmallVector<EinsumTerm> terms;
  SmallVector<int64_t> ellipsisCounts;
  int64_t ellipsisRank = 0;
  for (auto [text, operand] : llvm::zip_equal(termTexts, operands)) {
    FailureOr<EinsumTerm> term = parseEinsumTerm(op, text);
    if (failed(term))
      return failure();
    int64_t letters = term->letters.size();
    int64_t covered = operand->getRank() - letters;
    if (term->ellipsisPosition ? covered < 0 : covered != 0)
      return op->emitOpError() << "term '" << text << "' does not match operand "
                               << operand->describe();
    ellipsisCounts.push_back(term->ellipsisPosition ? covered : 0);
    ellipsisRank = std::max(ellipsisRank, ellipsisCounts.back());
    terms.push_back(std::move(*term));
  }

  EinsumPlan plan;
  std::map<int, int> occurrences;
  for (auto [term, operand, count] : llvm::zip_equal(terms, operands, ellipsisCounts)) {
    SmallVector<int, 6> labels = expandTerm(term, count, ellipsisRank);
    for (auto [label, dim] : llvm::zip_equal(labels, operand->getShape())) {
      ++occurrences[label];
      auto [it, inserted] = plan.sizes.try_emplace(label, dim);
      // Dims of size 1 broadcast (numpy allows it for letters too).
      if (!inserted && it->second != dim) {
        if (it->second != 1 && dim != 1)
          return op->emitOpError()
                 << "label sizes disagree in '" << equation << "': " << dim << " vs " << it->second;
        it->second = std::max(it->second, dim);
      }
    }
    plan.operandLabels.push_back(std::move(labels));
  }

  if (explicitOutput) {
    FailureOr<EinsumTerm> output = parseEinsumTerm(op, rhs);
    if (failed(output))
      return failure();
    if (!output->ellipsisPosition && ellipsisRank > 0)
      return op->emitOpError() << "output of '" << equation
                               << "' must keep the dims covered by '...'";
    plan.outputLabels = expandTerm(*output, ellipsisRank, ellipsisRank);
    for (int label : plan.outputLabels) {
      if (!plan.sizes.count(label))
        return op->emitOpError() << "output label '" << static_cast<char>(label)
                                 << "' appears in no input of '" << equation << "'";
      if (llvm::count(plan.outputLabels, label) > 1)
        return op->emitOpError() << "output label '" << static_cast<char>(label)
                                 << "' appears more than once in '" << equation << "'";
    }
  } else {
    // Implicit output: the "..." dims, then the letters used once, in ASCII order (numpy).
    for (int64_t i = 0; i < ellipsisRank; ++i)
      plan.outputLabels.push_back(EinsumPlan::kEllipsisBase + static_cast<int>(i));
    for (auto [label, count] : occurrences)
      if (label < EinsumPlan::kEllipsisBase && count == 1)
        plan.outputLabels.push_back(label);
  }
  for (auto [label, size] : plan.sizes)
    if (!llvm::is_contained(plan.outputLabels, label))
      plan.summedLabels.push_back(label);
  return plan;
}

/// An odometer over some labels, moving one offset per operand.
struct LabelCounter {
  SmallVector<int64_t, 6> sizes;
  // steps[l][k]: how far operand k's offset moves when label l advances by one.
  SmallVector<SmallVector<int64_t, 4>, 6> steps;
  SmallVector<int64_t, 6> position;

  /// Advances to the next position, updating `offsets`; false after the last one.
  bool next(SmallVectorImpl<int64_t> &offsets) {
    for (int64_t l = static_cast<int64_t>(sizes.size()) - 1; l >= 0; --l) {
      for (auto [offset, step] : llvm::zip_equal(offsets, steps[l]))
        offset += step;
      if (++position[l] < sizes[l])
        return true;
      for (auto [offset, step] : llvm::zip_equal(offsets, steps[l]))
        offset -= step * sizes[l];
      position[l] = 0;
    }
    return false;
  }
};

static LabelCounter makeCounter(const EinsumPlan &plan, ArrayRef<int> labels,
                                ArrayRef<const Tensor *> operands) {
  LabelCounter counter;
  for (int label : labels) {
    int64_t size = plan.sizes.at(label);
    counter.sizes.push_back(size);
    counter.position.push_back(0);
    SmallVector<int64_t, 4> steps;
    for (auto [operand, operandLabels] : llvm::zip_equal(operands, plan.operandLabels)) {
      // A label repeated within an operand walks its diagonal: the strides add up. A dim of
      // size 1 broadcast to a larger label size stays put.
      SmallVector<int64_t, 6> strides = getStrides(operand->getShape());
      int64_t step = 0;
      for (auto [dim, operandLabel] : llvm::enumerate(operandLabels))
        if (operandLabel == label && operand->getShape()[dim] == size)
          step += strides[dim];
      steps.push_back(step);
    }
    counter.steps.push_back(std::move(steps));
  }
  return counter;
}

static LogicalResult runEinsum(Operation *op, ExecutionContext &ctx) {
  auto einsum = cast<OnnxEinsumOp>(op);
  SmallVector<const Tensor *> operands;
  for (Value input : einsum.getInputs())
    operands.push_back(&ctx.get(input));
  if (operands.empty())
    return op->emitOpError() << "needs at least one input";
  if (failed(checkNumericOperands(op, operands)))
    return failure();
  FailureOr<EinsumPlan> plan = planEinsum(op, einsum.getEquation(), operands);
  if (failed(plan))
    return failure();

  SmallVector<int64_t, 6> resultShape;
  for (int label : plan->outputLabels)
    resultShape.push_back(plan->sizes.at(label));
  Tensor result = Tensor::zeros(operands.front()->getDType(), resultShape);
  LabelCounter outer = makeCounter(*plan, plan->outputLabels, operands);
  LabelCounter inner = makeCounter(*plan, plan->summedLabels, operands);
  bool emptySum = llvm::is_contained(inner.sizes, 0);
  visitStorageType(result.getDType(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    SmallVector<const T *, 4> data;
    for (const Tensor *operand : operands)
      data.push_back(getStored<T>(*operand).data());
    MutableArrayRef<T> out = getMutableStored<T>(result);
    if (out.empty() || emptySum)
      return; // no elements, or sums over nothing: zeros
    SmallVector<int64_t, 4> outerOffsets(operands.size(), 0);
    int64_t index = 0;
    do {
      SmallVector<int64_t, 4> offsets(outerOffsets);
      T sum = T(0);
      do {
        T product = data[0][offsets[0]];
        for (size_t k = 1; k < data.size(); ++k)
          product = wrappingMul(product, data[k][offsets[k]]);
        sum = wrappingAdd(sum, product);
      } while (inner.next(offsets));
      out[index++] = sum;
    } while (outer.next(outerOffsets));
  });
  result.normalize();
  ctx.set(op->getResult(0), std::move(result));
  return success();
}

void kiln::exec::registerMatMulKernels(KernelRegistry &registry) {
  registry.add(OnnxMatMulOp::getOperationName(), runMatMul);
  registry.add(OnnxGemmOp::getOperationName(), runGemm);
  registry.add(OnnxEinsumOp::getOperationName(), runEinsum);
}
