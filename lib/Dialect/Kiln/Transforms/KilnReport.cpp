//===- KilnReport.cpp - summary of a model's kiln IR ----------------------===//

#include "kiln/Dialect/Kiln/IR/KilnOps.h"
#include "kiln/Dialect/Kiln/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/ToolOutputFile.h"

#include <map>

namespace kiln {
#define GEN_PASS_DEF_KILNREPORTPASS
#include "kiln/Dialect/Kiln/Transforms/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;

namespace {

/// What one function contains, gathered in a single walk.
struct FunctionSummary {
  llvm::MapVector<StringRef, unsigned> graphOps;
  unsigned numGraphOps = 0;
  unsigned constants = 0;
  SmallVector<AttentionOp> attentions;
  llvm::MapVector<StringRef, unsigned> linearActivations;
  unsigned linears = 0;
  unsigned layerNorms = 0, rmsNorms = 0, rotaries = 0, activations = 0;
  SmallVector<LayerOp> layers;
  SmallVector<LayerGroupOp> layerGroups;
  SmallVector<KVCacheType> caches;
  int64_t cachedAttentions = 0;
  /// Softmax / ONNX Attention ops kiln-fuse-attention left alone, with its reason.
  SmallVector<std::pair<Location, std::string>> notFused;
};

FunctionSummary summarize(Operation *root) {
  FunctionSummary summary;
  // An entry point of kiln-kv-cache receives its cache as an argument.
  if (auto function = dyn_cast<func::FuncOp>(root))
    for (Type type : function.getArgumentTypes())
      if (auto cache = dyn_cast<KVCacheType>(type))
        summary.caches.push_back(cache);
  root->walk([&](Operation *op) {
    StringRef name = op->getName().getStringRef();
    if (auto reason = op->getAttrOfType<StringAttr>("kiln.fusion_failure"))
      summary.notFused.push_back({op->getLoc(), reason.getValue().str()});
    if (name.consume_front("kiln.onnx.")) {
      ++summary.graphOps[name];
      ++summary.numGraphOps;
      return;
    }
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](ConstantOp) { ++summary.constants; })
        .Case([&](AttentionOp attention) { summary.attentions.push_back(attention); })
        .Case([&](KVCacheAttentionOp) { ++summary.cachedAttentions; })
        .Case([&](LinearOp linear) {
          ++summary.linears;
          ++summary.linearActivations[stringifyActivation(linear.getActivation())];
        })
        .Case([&](LayerNormOp) { ++summary.layerNorms; })
        .Case([&](RMSNormOp) { ++summary.rmsNorms; })
        .Case([&](RotaryOp) { ++summary.rotaries; })
        .Case<GeluOp, SiluOp, SwigluOp>([&](Operation *) { ++summary.activations; })
        .Case([&](LayerOp layer) { summary.layers.push_back(layer); })
        .Case([&](LayerGroupOp group) { summary.layerGroups.push_back(group); })
        .Case([&](KVCacheCreateOp create) { summary.caches.push_back(create.getType()); });
  });
  return summary;
}

template <typename Map>
void printCounts(raw_ostream &os, const Map &counts) {
  os << " (";
  llvm::interleaveComma(counts, os, [&](const auto &entry) {
    os << entry.first << " " << entry.second;
  });
  os << ")";
}

void printSummary(raw_ostream &os, StringRef name, const FunctionSummary &s) {
  os << "kiln-report @" << name << "\n";
  os << "  graph ops: " << s.numGraphOps;
  if (!s.graphOps.empty())
    printCounts(os, s.graphOps);
  os << "\n  constants: " << s.constants << "\n";

  os << "  attention: " << s.attentions.size();
  if (!s.attentions.empty()) {
    // Report the distinct head configurations: a model normally has one.
    std::map<std::string, unsigned> configs;
    unsigned causal = 0, masked = 0;
    for (AttentionOp attention : s.attentions) {
      std::string config;
      llvm::raw_string_ostream cs(config);
      cs << "heads " << attention.getNumHeads() << ", kv_heads " << attention.getNumKvHeads()
         << ", head_dim " << attention.getHeadDim();
      ++configs[config];
      causal += attention.getCausal();
      masked += static_cast<bool>(attention.getMask());
    }
    os << " (";
    llvm::interleaveComma(configs, os, [&](const auto &entry) {
      os << entry.first << " x" << entry.second;
    });
    os << "; causal " << causal << ", masked " << masked << ")";
  }
  if (!s.notFused.empty()) {
    os << "\n  attention not fused: " << s.notFused.size();
    for (const auto &[loc, reason] : s.notFused) {
      os << "\n    ";
      if (auto named = dyn_cast<NameLoc>(loc))
        os << "'" << named.getName().getValue() << "': ";
      os << reason;
    }
  }
  os << "\n  linear: " << s.linears;
  if (s.linears)
    printCounts(os, s.linearActivations);
  os << "\n  norms: layer_norm " << s.layerNorms << ", rms_norm " << s.rmsNorms << "\n";
  os << "  rotary: " << s.rotaries << ", activations: " << s.activations << "\n";
  os << "  layers: " << s.layers.size() << ", layer groups: " << s.layerGroups.size();
  if (!s.layerGroups.empty()) {
    os << " (";
    llvm::interleaveComma(s.layerGroups, os, [&](LayerGroupOp group) {
      auto [first, end] = group.getLayerRange();
      os << "[" << first << ", " << end << ")";
    });
    os << ")";
  }
  os << "\n  kv caches: " << s.caches.size();
  for (KVCacheType cache : s.caches)
    os << " (" << cache << ", " << cache.getSizeInBytes() << " bytes)";
  if (s.cachedAttentions)
    os << "\n  attention over the kv cache: " << s.cachedAttentions;
  os << "\n";
}

/// Layer indices must be unique and increasing within one function; the verifier of a single
/// op cannot see this.
LogicalResult checkLayerOrder(const FunctionSummary &summary) {
  std::optional<int64_t> previous;
  LayerOp previousLayer;
  for (LayerOp layer : summary.layers) {
    int64_t index = static_cast<int64_t>(layer.getIndex());
    if (previous && index <= *previous) {
      InFlightDiagnostic diag = layer.emitError()
                                << "layer index " << index << " does not follow layer "
                                << *previous << " (indices must be unique and increasing)";
      diag.attachNote(previousLayer.getLoc()) << "previous layer is here";
      return failure();
    }
    previous = index;
    previousLayer = layer;
  }
  return success();
}

struct KilnReportPass : public kiln::impl::KilnReportPassBase<KilnReportPass> {
  using Base::Base;

  void runOnOperation() override {
    std::string errorMessage;
    std::unique_ptr<llvm::ToolOutputFile> output = openOutputFile(outputFile, &errorMessage);
    if (!output) {
      // openOutputFile's message names the file and the reason.
      getOperation().emitError() << "kiln-report: " << errorMessage;
      return signalPassFailure();
    }
    bool failed = false;
    for (Operation &op : getOperation().getBody()->getOperations()) {
      auto function = dyn_cast<FunctionOpInterface>(op);
      if (!function || function.isExternal())
        continue;
      FunctionSummary summary = summarize(function);
      printSummary(output->os(), function.getName(), summary);
      failed |= llvm::failed(checkLayerOrder(summary));
    }
    output->keep();
    if (failed)
      signalPassFailure();
    markAllAnalysesPreserved();
  }
};

} // namespace
