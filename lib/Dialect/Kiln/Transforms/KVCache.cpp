//===- KVCache.cpp - kiln-kv-cache: prefill and decode entry points -------===//
//
// A causal decoder computes every token's hidden state from the tokens before it only through
// attention (and through the position index of rotary tables or position embeddings). With
// tokens packed along `seq`, everything else acts per token, so the same graph serves a prompt
// (prefill) and one new token per sequence (decode) once attention reads earlier keys and
// values from a cache and positions come from an argument. This pass checks those conditions
// on @main and clones it into @prefill and @decode with that change.
//
//===----------------------------------------------------------------------===//

#include "ConstantValues.h"
#include "SymbolicShapes.h"
#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace kiln {
#define GEN_PASS_DEF_KILNKVCACHEPASS
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// What the entries are built from: @main's attention layers and position ranges, all
/// checked.
struct DecoderPlan {
  func::FuncOp main;
  int64_t seqSymbol = -1;
  std::string seqName;
  SmallVector<AttentionOp> attentions; // in program order: layer i is attentions[i]
  SmallVector<OnnxRangeOp> positionRanges;
  int64_t kvHeads = 0, headDim = 0;
  Type elementType;
};

/// A diagnostic that the pass either reports (as an error) or swallows (`if-applicable`).
struct Refusal {
  Operation *at;
  std::string reason;
};

bool isSeq(const SymbolicShapes &shapes, Value value, unsigned dim, int64_t seqSymbol) {
  const DimList *dims = shapes.getDims(value);
  return dims && dim < dims->size() && (*dims)[dim] == DimExpr::symbolic(seqSymbol);
}

bool involvesSeq(const SymbolicShapes &shapes, Value value, int64_t seqSymbol) {
  const DimList *dims = shapes.getDims(value);
  if (!dims)
    return true; // unknown rank: assume the worst
  return llvm::any_of(*dims, [&](const DimExpr &dim) { return dim.symbol == seqSymbol; });
}

/// Checks that @main is a causal decoder the entries can be derived from.
FailureOr<DecoderPlan> analyse(func::FuncOp main, Refusal &refusal) {
  auto refuse = [&](Operation *at, const Twine &reason) -> LogicalResult {
    refusal = {at, reason.str()};
    return failure();
  };
  // Inside the walk: record the reason and stop.
  auto stop = [&](Operation *at, const Twine &reason) {
    refusal = {at, reason.str()};
    return WalkResult::interrupt();
  };
  DecoderPlan plan;
  plan.main = main;
  if (main.getNumArguments() != 1)
    return refuse(main, "@main must take exactly one input (token ids [1, seq]), it takes " +
                            Twine(main.getNumArguments()));
  auto input = dyn_cast<RankedTensorType>(main.getArgumentTypes()[0]);
  if (!input || input.getRank() != 2 || !isa<IntegerType>(input.getElementType()) ||
      input.getShape()[0] != 1)
    return refuse(main, "the input must be integer token ids of shape [1, seq]");
  if (!ShapedType::isDynamic(input.getShape()[1]))
    return refuse(main, "the input's sequence dim is static (" + Twine(input.getShape()[1]) +
                            "): a decoder needs a dynamic `seq` (export with a dynamic axis)");
  if (main.getNumResults() != 1)
    return refuse(main, "@main must return exactly one result (logits [1, seq, vocab])");
  auto logits = dyn_cast<RankedTensorType>(main.getResultTypes()[0]);
  if (!logits || logits.getRank() != 3 || !isa<FloatType>(logits.getElementType()) ||
      ShapedType::isDynamic(logits.getShape()[2]))
    return refuse(main, "the result must be float logits [1, seq, vocab] with a static vocab");

  plan.seqName = "seq";
  if (auto params = main.getArgAttrOfType<ArrayAttr>(0, "kiln.dim_params"))
    if (params.size() == 2)
      if (auto name = dyn_cast<StringAttr>(params[1]); name && !name.getValue().empty())
        plan.seqName = name.str();
  SymbolicShapes shapes(main);
  const DimList *inputDims = shapes.getDims(main.getArgument(0));
  if (!inputDims || (*inputDims)[1].isConstant() || (*inputDims)[1].offset != 0)
    return refuse(main, "cannot name the input's sequence dim");
  plan.seqSymbol = (*inputDims)[1].symbol;
  Value returned = main.getBody().front().getTerminator()->getOperand(0);
  if (!isSeq(shapes, returned, 1, plan.seqSymbol))
    return refuse(main, "the logits' dim 1 is not the input's sequence dim");

  WalkResult walk = main.walk([&](Operation *op) -> WalkResult {
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      if (!attention.getCausal() || attention.getMask())
        return stop(op, "attention is not causal without a mask: the cache serves causal "
                          "self-attention only");
      if (attention.getSoftcap().convertToFloat() != 0.0f)
        return stop(op, "attention with a softcap is not supported with a KV cache");
      auto query = cast<RankedTensorType>(attention.getQuery().getType());
      auto key = cast<RankedTensorType>(attention.getKey().getType());
      auto value = cast<RankedTensorType>(attention.getValue().getType());
      if (query.getShape()[0] != 1 || !isSeq(shapes, attention.getQuery(), 2, plan.seqSymbol) ||
          !isSeq(shapes, attention.getKey(), 2, plan.seqSymbol) ||
          !isSeq(shapes, attention.getValue(), 2, plan.seqSymbol))
        return stop(op, "attention is not over the input's tokens (batch 1, q_len = kv_len "
                          "= seq)");
      if (key.getShape()[3] != value.getShape()[3] || ShapedType::isDynamic(key.getShape()[1]))
        return stop(op, "keys and values must have one static head layout");
      if (plan.attentions.empty()) {
        plan.kvHeads = key.getShape()[1];
        plan.headDim = key.getShape()[3];
        plan.elementType = key.getElementType();
      } else if (key.getShape()[1] != plan.kvHeads || key.getShape()[3] != plan.headDim ||
                 key.getElementType() != plan.elementType) {
        return stop(op, "attention layers differ in K/V heads, head dim or type; one cache "
                          "layout serves all layers");
      }
      plan.attentions.push_back(attention);
      return WalkResult::advance();
    }
    if (auto range = dyn_cast<OnnxRangeOp>(op)) {
      if (!involvesSeq(shapes, range.getOutput(), plan.seqSymbol))
        return WalkResult::advance();
      std::optional<double> start = getScalarConstant(range.getStart());
      std::optional<double> delta = getScalarConstant(range.getDelta());
      const ShapeValue *limit = shapes.getShapeValue(range.getLimit());
      bool isPositions = start && *start == 0 && delta && *delta == 1 && limit &&
                         limit->size() == 1 && (*limit)[0] &&
                         *(*limit)[0] == DimExpr::symbolic(plan.seqSymbol);
      if (!isPositions)
        return stop(op, "a range over the sequence other than Range(0, seq, 1): it would "
                          "mix tokens");
      plan.positionRanges.push_back(range);
      return WalkResult::advance();
    }
    if (isa<OnnxCumSumOp, OnnxTriluOp>(op) &&
        llvm::any_of(op->getOperands(),
                     [&](Value v) { return involvesSeq(shapes, v, plan.seqSymbol); }))
      return stop(op, "'" + op->getName().getStringRef() +
                            "' over the sequence mixes tokens outside attention");
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (plan.attentions.empty())
    return refuse(main, "no causal attention: not a decoder");
  return plan;
}

/// A table indexed by token positions (a learned position embedding, a precomputed rotary
/// table) must have a row for every position the cache holds: a position past its end would
/// read outside it. Follows each position range through index-preserving ops (Cast,
/// Unsqueeze, Reshape, Squeeze, Expand, Identity) to the Gathers it indexes and returns the
/// first one whose table is shorter than `maxSeqLen` along the gathered axis.
std::optional<std::pair<OnnxGatherOp, int64_t>> shortPositionTable(const DecoderPlan &plan,
                                                                   int64_t maxSeqLen) {
  SmallVector<Value> worklist;
  for (OnnxRangeOp range : plan.positionRanges)
    worklist.push_back(range.getOutput());
  llvm::SmallPtrSet<Operation *, 16> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (!seen.insert(user).second)
        continue;
      if (auto gather = dyn_cast<OnnxGatherOp>(user)) {
        if (use.getOperandNumber() != 1)
          continue;
        auto table = dyn_cast<RankedTensorType>(gather.getData().getType());
        if (!table)
          continue;
        int64_t axis = gather.getAxis();
        if (axis < 0)
          axis += table.getRank();
        if (axis >= 0 && axis < table.getRank() && !table.isDynamicDim(axis) &&
            table.getDimSize(axis) < maxSeqLen)
          return std::make_pair(gather, table.getDimSize(axis));
        continue;
      }
      if (isa<OnnxCastOp, OnnxUnsqueezeOp, OnnxReshapeOp, OnnxSqueezeOp, OnnxExpandOp,
              OnnxIdentityOp>(user) &&
          use.getOperandNumber() == 0)
        llvm::append_range(worklist, user->getResults());
    }
  }
  return std::nullopt;
}

/// Clones @main into `name` with the cache: one write + cached attention per layer, positions
/// from the argument.
void buildEntry(const DecoderPlan &plan, StringRef name, bool prefill, int64_t seqBound,
                KVCacheType cacheType) {
  func::FuncOp main = plan.main;
  OpBuilder builder(main.getContext());
  builder.setInsertionPointAfter(main);
  auto entry = cast<func::FuncOp>(builder.clone(*main.getOperation()));
  entry.setSymName(name);

  MLIRContext *context = main.getContext();
  Location loc = main.getLoc();
  auto indexType = RankedTensorType::get({ShapedType::kDynamic}, builder.getI64Type());
  auto dimParams = builder.getArrayAttr({builder.getStringAttr(plan.seqName)});
  auto addArgument = [&](Type type, StringRef argName, ArrayAttr params) {
    SmallVector<NamedAttribute> attrs = {
        builder.getNamedAttr("kiln.name", builder.getStringAttr(argName))};
    if (params)
      attrs.push_back(builder.getNamedAttr("kiln.dim_params", params));
    unsigned index = entry.getNumArguments();
    (void)entry.insertArgument(index, type, builder.getDictionaryAttr(attrs), loc);
    return entry.getArgument(index);
  };
  // The token input's seq dim must carry the symbol's name so positions/slots share it.
  entry.setArgAttr(0, "kiln.dim_params",
                   builder.getArrayAttr({builder.getStringAttr(""),
                                         builder.getStringAttr(plan.seqName)}));
  Value positions = addArgument(indexType, "kiln.positions", dimParams);
  Value slots = addArgument(indexType, "kiln.slots", dimParams);
  Value cache = addArgument(cacheType, "kiln.kv_cache", {});

  // The clone's ops in the same order as @main's: map the planned ops by position.
  llvm::DenseMap<Operation *, Operation *> cloned;
  {
    auto originalOps = main.getBody().front().getOperations().begin();
    auto copyOps = entry.getBody().front().getOperations().begin();
    for (; originalOps != main.getBody().front().getOperations().end(); ++originalOps, ++copyOps)
      cloned[&*originalOps] = &*copyOps;
  }

  for (OnnxRangeOp original : plan.positionRanges) {
    auto range = cast<OnnxRangeOp>(cloned.at(original));
    builder.setInsertionPoint(range);
    Value replacement = positions;
    auto type = cast<RankedTensorType>(range.getOutput().getType());
    if (type.getElementType() != builder.getI64Type())
      replacement = OnnxCastOp::create(builder, range.getLoc(), type, positions,
                                       TypeAttr::get(type.getElementType()),
                                       builder.getI64IntegerAttr(1));
    range.getOutput().replaceAllUsesWith(replacement);
    range.erase();
  }

  for (auto [layer, original] : llvm::enumerate(plan.attentions)) {
    auto attention = cast<AttentionOp>(cloned.at(original));
    builder.setInsertionPoint(attention);
    Location at = attention.getLoc();
    cache = KVCacheWriteOp::create(builder, at, cacheType, cache,
                                   builder.getI64IntegerAttr(layer), attention.getKey(),
                                   attention.getValue(), positions, slots);
    auto output = KVCacheAttentionOp::create(
        builder, at, attention.getOutput().getType(), attention.getQuery(), cache,
        builder.getI64IntegerAttr(layer), positions, slots, attention.getNumHeadsAttr(),
        attention.getScaleAttr(), prefill ? builder.getUnitAttr() : UnitAttr());
    attention.getOutput().replaceAllUsesWith(output.getOutput());
    attention.erase();
  }

  Operation *terminator = entry.getBody().front().getTerminator();
  SmallVector<Value> results(terminator->getOperands());
  results.push_back(cache);
  builder.setInsertionPoint(terminator);
  func::ReturnOp::create(builder, terminator->getLoc(), results);
  terminator->erase();
  SmallVector<Type> resultTypes(entry.getResultTypes());
  resultTypes.push_back(cacheType);
  SmallVector<DictionaryAttr> resultAttrs;
  for (unsigned i = 0; i < entry.getNumResults(); ++i)
    resultAttrs.push_back(entry.getResultAttrDict(i));
  resultAttrs.push_back(builder.getDictionaryAttr(
      {builder.getNamedAttr("kiln.name", builder.getStringAttr("kiln.kv_cache"))}));
  entry.setType(FunctionType::get(context, entry.getArgumentTypes(), resultTypes));
  entry.setAllResultAttrs(resultAttrs);
  entry->setAttr("kiln.dim_max",
                 builder.getDictionaryAttr({builder.getNamedAttr(
                     plan.seqName, builder.getI64IntegerAttr(seqBound))}));
  entry->setAttr("kiln.entry", builder.getStringAttr(prefill ? "prefill" : "decode"));
}

struct KilnKVCachePass : public kiln::impl::KilnKVCachePassBase<KilnKVCachePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (maxSeqLen < 1 || maxBatch < 1) {
      module.emitError() << "kiln-kv-cache: max-seq-len and max-batch must be positive, got "
                         << static_cast<int64_t>(maxSeqLen) << " and "
                         << static_cast<int64_t>(maxBatch);
      return signalPassFailure();
    }
    for (StringRef name : {"prefill", "decode"})
      if (module.lookupSymbol(name)) {
        module.emitError() << "kiln-kv-cache: the module already has a @" << name;
        return signalPassFailure();
      }
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main || main.isExternal()) {
      if (ifApplicable)
        return;
      module.emitError() << "kiln-kv-cache: no @main with a body";
      return signalPassFailure();
    }
    Refusal refusal;
    FailureOr<DecoderPlan> plan = analyse(main, refusal);
    if (failed(plan)) {
      if (ifApplicable)
        return;
      refusal.at->emitError() << "kiln-kv-cache: cannot derive prefill/decode entries: "
                              << refusal.reason;
      return signalPassFailure();
    }
    // Not a refusal (the model is a decoder): the context asked for is longer than the model's.
    int64_t context = maxSeqLen;
    while (auto shortTable = shortPositionTable(*plan, context)) {
      auto [gather, rows] = *shortTable;
      if (!fitPositionTables || rows < 1) {
        gather.emitError() << "kiln-kv-cache: this position table has " << rows
                           << " rows, fewer than max-seq-len " << context
                           << ": positions past " << rows - 1
                           << " would read outside it; compile with --max-seq-len " << rows
                           << " or less";
        return signalPassFailure();
      }
      gather.emitWarning() << "kiln-kv-cache: this position table has " << rows
                           << " rows: the context (max-seq-len) is " << rows << ", not "
                           << context;
      context = rows;
    }
    auto cacheType = KVCacheType::get(&getContext(), plan->attentions.size(), maxBatch,
                                      plan->kvHeads, context, plan->headDim,
                                      plan->elementType);
    // Decode first so that the module reads main, prefill, decode.
    buildEntry(*plan, "decode", /*prefill=*/false, maxBatch, cacheType);
    buildEntry(*plan, "prefill", /*prefill=*/true, context, cacheType);
  }
};

} // namespace
