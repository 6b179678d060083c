//===- Generator.cpp - prefill, batched decode steps and sampling over a KV cache ---------===//
//
// Every call validates everything it can before touching the device, and changes its state
// only after the device work succeeded: a failed add takes no slot, a failed step leaves every
// sequence as it was (tokens already reported stay reported).
//
//===----------------------------------------------------------------------------------------===//

#include "Generator.h"

#include <algorithm>

namespace kilnrt {

Status Generator::create(std::shared_ptr<const ModelData> model, const GeneratorOptions &options,
                         std::unique_ptr<Generator> &out) {
  const Artifact &a = *model->artifact;
  if (!a.generation)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         "'" + model->name +
                             "' was compiled without prefill/decode entries; recompile a causal "
                             "decoder with kiln-compile");
  const Generation &g = *a.generation;
  const Entry &decode = a.entries[g.decodeEntry];
  // A decode step runs every active sequence: the batch is bounded by the cache's slots and by
  // the decode entry's T.
  int64_t limit = std::min<int64_t>(g.cache.maxBatch, decode.symbols[0].maxValue);
  if (options.maxSequences < 0 || options.maxSequences > limit)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         "kiln_generator_create: max_sequences " +
                             std::to_string(options.maxSequences) + " is outside 0.." +
                             std::to_string(limit) + " ('" + model->name +
                             "' was compiled for at most " + std::to_string(limit) +
                             " sequences; 0 = all)");
  uint32_t numSlots = options.maxSequences ? static_cast<uint32_t>(options.maxSequences)
                                           : static_cast<uint32_t>(limit);

  std::unique_ptr<Generator> generator(new Generator());
  generator->modelData = model;
  generator->gen = &g;
  generator->prefillEntry = g.prefillEntry;
  generator->decodeEntry = g.decodeEntry;
  generator->maxPrefill = a.entries[g.prefillEntry].symbols[0].maxValue;
  SessionOptions sessionOptions;
  sessionOptions.device = options.device;
  sessionOptions.disableCudaGraphs = options.disableCudaGraphs;
  // One decode graph per batch size, plus room for the other entries.
  sessionOptions.maxCachedGraphs = static_cast<int>(std::max<uint32_t>(8, numSlots + 4));
  Status status = Session::create(model, sessionOptions, generator->session);
  if (!status.ok())
    return status;
  uint64_t perSlot = g.cache.bytesPerSlot();
  status = generator->session->allocateCache(
      perSlot * numSlots, "for " + std::to_string(numSlots) + " sequence" +
                              (numSlots == 1 ? "" : "s") + " x " + std::to_string(g.cache.maxSeq) +
                              " tokens (" + formatBytes(perSlot) + " per sequence)");
  if (status.code == KILN_ERROR_OUT_OF_MEMORY)
    status.message += "; create the generator with fewer max_sequences";
  if (!status.ok())
    return status;
  generator->slotUsed.assign(numSlots, false);
  out = std::move(generator);
  return Status::success();
}

Status Generator::checkTokens(const int64_t *tokens, size_t n, const char *fn) const {
  if (n == 0)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": the prompt is empty");
  if (!tokens)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": the prompt is null");
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= gen->vocabSize)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                           std::string(fn) + ": prompt token " + std::to_string(i) + " is " +
                               std::to_string(tokens[i]) + ", outside the vocabulary [0, " +
                               std::to_string(gen->vocabSize) + ")");
  return Status::success();
}

int32_t Generator::freeSlot() const {
  for (size_t i = 0; i < slotUsed.size(); ++i)
    if (!slotUsed[i])
      return static_cast<int32_t>(i);
  return -1;
}

Status Generator::prefill(const int64_t *tokens, size_t n, uint32_t slot) {
  positions.resize(n);
  slots.assign(n, slot);
  for (size_t i = 0; i < n; ++i)
    positions[i] = static_cast<int64_t>(i);
  return runEntry(prefillEntry, tokens, n);
}

Status Generator::runEntry(size_t entry, const int64_t *tokens, size_t n) {
  int64_t idsDims[2] = {1, static_cast<int64_t>(n)}, vecDims[1] = {static_cast<int64_t>(n)};
  Status status = session->bindInput(entry, 0, tokens, DType::I64, idsDims, 2);
  if (status.ok())
    status = session->bindInput(entry, 1, positions.data(), DType::I64, vecDims, 1);
  if (status.ok())
    status = session->bindInput(entry, 2, slots.data(), DType::I64, vecDims, 1);
  if (status.ok())
    status = session->run(entry);
  return status;
}

Status Generator::add(const int64_t *prompt, size_t n, const SamplingParams &params,
                      int64_t &id) {
  const char *fn = "kiln_generator_add";
  Status status = checkTokens(prompt, n, fn);
  if (!status.ok())
    return status;
  // The sampler's checks, shared with CPU generation (kilnrt/Sampling.h).
  if (std::string problem = checkSampling(params, gen->vocabSize); !problem.empty())
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": " + problem);
  const int64_t maxSeq = gen->cache.maxSeq;
  if (params.maxNewTokens >= maxSeq)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         std::string(fn) + ": max_new_tokens " +
                             std::to_string(params.maxNewTokens) +
                             " leaves no room for a prompt in the maximum context of " +
                             std::to_string(maxSeq) + " tokens");
  int64_t limit = std::min<int64_t>(maxSeq - params.maxNewTokens, maxPrefill);
  size_t skip = 0;
  if (static_cast<int64_t>(n) > limit) {
    if (!params.truncatePrompt)
      return Status::error(
          KILN_ERROR_INVALID_ARGUMENT,
          std::string(fn) + ": a prompt of " + std::to_string(n) + " tokens" +
              (limit == maxSeq - params.maxNewTokens
                   ? " + max_new_tokens " + std::to_string(params.maxNewTokens) + " = " +
                         std::to_string(static_cast<int64_t>(n) + params.maxNewTokens) +
                         " tokens exceeds the maximum context of " + std::to_string(maxSeq)
                   : " exceeds the " + std::to_string(maxPrefill) +
                         " tokens the prefill entry takes") +
              " (truncate_prompt keeps the last " + std::to_string(limit) + ")");
    skip = n - static_cast<size_t>(limit);
  }
  int32_t slot = freeSlot();
  if (slot < 0)
    return Status::error(KILN_ERROR_NO_FREE_SLOT,
                         std::string(fn) + ": no free sequence slot: all " +
                             std::to_string(slotUsed.size()) +
                             " are taken (remove finished sequences with kiln_generator_remove, "
                             "or create the generator with more max_sequences)");
  const size_t used = n - skip;
  status = prefill(prompt + skip, used, static_cast<uint32_t>(slot));
  if (!status.ok())
    return status;
  // Only the last row is needed to continue the prompt.
  const size_t vocab = static_cast<size_t>(gen->vocabSize);
  logitRows.resize(vocab);
  status = session->readOutputBytes(prefillEntry, 0, (used - 1) * vocab * sizeof(float),
                                    logitRows.data(), vocab * sizeof(float));
  if (!status.ok())
    return status;
  double ms = 0;
  session->lastGpuTimeMs(ms);

  Sequence s;
  s.id = nextId++;
  s.slot = static_cast<uint32_t>(slot);
  s.promptGiven = n;
  s.promptLength = used;
  s.context = static_cast<int64_t>(used);
  s.prefillMs = ms;
  s.params = params;
  s.rng = SamplingRng(params.seed, static_cast<uint64_t>(s.id));
  s.generated.reserve(static_cast<size_t>(params.maxNewTokens));
  accept(s, sampleToken(logitRows.data(), vocab, s.params, s.rng));
  slotUsed[static_cast<size_t>(slot)] = true;
  ++prefills;
  prefillTokens += used;
  prefillMsTotal += ms;
  id = s.id;
  sequences.emplace(s.id, std::move(s));
  return Status::success();
}

void Generator::accept(Sequence &s, int64_t token) {
  s.generated.push_back(token);
  if (s.params.eosId >= 0 && token == s.params.eosId) {
    s.finished = true;
    s.reason = KILN_FINISH_EOS;
  } else if (static_cast<int64_t>(s.generated.size()) >= s.params.maxNewTokens) {
    s.finished = true;
    s.reason = KILN_FINISH_MAX_TOKENS;
  }
}

void Generator::report(Sequence &s, TokenCallback callback, void *user) {
  while (s.reported < s.generated.size()) {
    int64_t token = s.generated[s.reported++];
    if (callback && callback(user, s.id, token) != 0 && !s.finished) {
      s.finished = true;
      s.reason = KILN_FINISH_STOPPED;
    }
  }
}

int32_t Generator::countActive() const {
  int32_t n = 0;
  for (const auto &entry : sequences)
    n += !entry.second.finished;
  return n;
}

Status Generator::unknownSequence(int64_t id, const char *fn) const {
  std::string known;
  size_t shown = 0;
  for (const auto &entry : sequences) {
    if (shown++ == 16) {
      known += ", ...";
      break;
    }
    known += (known.empty() ? "" : ", ") + std::to_string(entry.first);
  }
  return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                       std::string(fn) + ": unknown sequence " + std::to_string(id) + " (" +
                           (known.empty() ? "the generator has no sequences"
                                          : "its sequences: " + known) +
                           ")");
}

Status Generator::step(const int64_t *idList, size_t numIds, bool all, TokenCallback callback,
                       void *user, int32_t &active) {
  const char *fn = all ? "kiln_generator_step" : "kiln_generator_step_sequences";
  std::vector<Sequence *> scope;
  if (all) {
    for (auto &entry : sequences)
      scope.push_back(&entry.second);
  } else {
    if (numIds > 0 && !idList)
      return Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": sequences is null");
    for (size_t i = 0; i < numIds; ++i) {
      auto it = sequences.find(idList[i]);
      if (it == sequences.end())
        return unknownSequence(idList[i], fn);
      Sequence &s = it->second;
      if (std::find(scope.begin(), scope.end(), &s) != scope.end())
        return Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": sequence " +
                                                              std::to_string(s.id) +
                                                              " is listed twice");
      if (s.finished && s.reported == s.generated.size())
        return Status::error(
            KILN_ERROR_INVALID_ARGUMENT,
            std::string(fn) + ": sequence " + std::to_string(s.id) + " is finished (" +
                (s.reason == KILN_FINISH_EOS          ? "it generated eos_id"
                 : s.reason == KILN_FINISH_MAX_TOKENS ? "it generated max_new_tokens " +
                                                            std::to_string(s.params.maxNewTokens)
                                                      : "its callback stopped it") +
                "); remove it with kiln_generator_remove");
      scope.push_back(&s);
    }
    // The batch goes in id order, like a step over all sequences.
    std::sort(scope.begin(), scope.end(),
              [](const Sequence *x, const Sequence *y) { return x->id < y->id; });
  }
  for (Sequence *s : scope)
    report(*s, callback, user);
  std::vector<Sequence *> batch;
  for (Sequence *s : scope)
    if (!s->finished)
      batch.push_back(s);
  if (batch.empty()) {
    active = countActive();
    return Status::success();
  }

  const size_t t = batch.size();
  ids.resize(t);
  positions.resize(t);
  slots.resize(t);
  for (size_t i = 0; i < t; ++i) {
    ids[i] = batch[i]->generated.back();
    positions[i] = batch[i]->context;
    slots[i] = batch[i]->slot;
  }
  Status status = runEntry(decodeEntry, ids.data(), t);
  const size_t vocab = static_cast<size_t>(gen->vocabSize);
  if (status.ok()) {
    logitRows.resize(t * vocab);
    status = session->readOutputBytes(decodeEntry, 0, 0, logitRows.data(),
                                      t * vocab * sizeof(float));
  }
  if (!status.ok())
    return status;
  double ms = 0;
  session->lastGpuTimeMs(ms);
  decodeMs.push_back(ms);
  decodeTokens += t;

  for (size_t i = 0; i < t; ++i) {
    Sequence &s = *batch[i];
    ++s.context;
    accept(s, sampleToken(logitRows.data() + i * vocab, vocab, s.params, s.rng));
  }
  for (Sequence *s : batch)
    report(*s, callback, user);
  active = countActive();
  return Status::success();
}

Status Generator::run(TokenCallback callback, void *user) {
  int32_t active = 0;
  // At least one step: it reports the tokens add sampled even when nothing is left to decode.
  do {
    Status status = step(nullptr, 0, true, callback, user, active);
    if (!status.ok())
      return status;
  } while (active > 0);
  return Status::success();
}

Status Generator::tokens(int64_t id, const int64_t *&out, size_t &n) const {
  auto it = sequences.find(id);
  if (it == sequences.end())
    return unknownSequence(id, "kiln_generator_tokens");
  out = it->second.generated.data();
  n = it->second.generated.size();
  return Status::success();
}

Status Generator::info(int64_t id, kiln_sequence_info &info, const char *fn) const {
  auto it = sequences.find(id);
  if (it == sequences.end())
    return unknownSequence(id, fn);
  const Sequence &s = it->second;
  info.prompt_given = static_cast<int64_t>(s.promptGiven);
  info.prompt_length = static_cast<int64_t>(s.promptLength);
  info.generated = static_cast<int64_t>(s.generated.size());
  info.context = s.context;
  info.slot = static_cast<int32_t>(s.slot);
  info.finished = s.finished;
  info.finish_reason = s.reason;
  info.prefill_ms = s.prefillMs;
  return Status::success();
}

Status Generator::remove(int64_t id) {
  auto it = sequences.find(id);
  if (it == sequences.end())
    return unknownSequence(id, "kiln_generator_remove");
  slotUsed[it->second.slot] = false;
  sequences.erase(it);
  return Status::success();
}

Status Generator::logits(const int64_t *tokens, size_t n, float *out, size_t capacityFloats) {
  const char *fn = "kiln_generator_logits";
  Status status = checkTokens(tokens, n, fn);
  if (!status.ok())
    return status;
  int64_t limit = std::min<int64_t>(gen->cache.maxSeq, maxPrefill);
  if (static_cast<int64_t>(n) > limit)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         std::string(fn) + ": " + std::to_string(n) +
                             " tokens exceed the maximum context of " + std::to_string(limit));
  const size_t vocab = static_cast<size_t>(gen->vocabSize);
  if (capacityFloats / vocab < n)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT,
                         std::string(fn) + ": the logits of " + std::to_string(n) + " tokens are " +
                             std::to_string(n) + " x " + std::to_string(vocab) +
                             " floats; the destination holds " + std::to_string(capacityFloats));
  if (!out)
    return Status::error(KILN_ERROR_INVALID_ARGUMENT, std::string(fn) + ": logits is null");
  int32_t slot = freeSlot();
  if (slot < 0)
    return Status::error(KILN_ERROR_NO_FREE_SLOT,
                         std::string(fn) + ": no free sequence slot to prefill into: all " +
                             std::to_string(slotUsed.size()) + " are taken");
  status = prefill(tokens, n, static_cast<uint32_t>(slot));
  if (status.ok())
    status = session->readOutput(prefillEntry, 0, out, capacityFloats * sizeof(float));
  if (!status.ok())
    return status;
  double ms = 0;
  session->lastGpuTimeMs(ms);
  ++prefills;
  prefillTokens += n;
  prefillMsTotal += ms;
  return Status::success();
}

kiln_generator_stats Generator::stats() const {
  kiln_generator_stats s{};
  s.decode_steps = decodeMs.size();
  s.decode_tokens = decodeTokens;
  if (!decodeMs.empty()) {
    std::vector<double> sorted = decodeMs;
    std::sort(sorted.begin(), sorted.end());
    size_t m = sorted.size() / 2;
    s.decode_ms_median = sorted.size() % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    s.decode_ms_min = sorted.front();
    s.decode_ms_max = sorted.back();
    for (double v : sorted)
      s.decode_ms_total += v;
  }
  s.prefills = prefills;
  s.prefill_tokens = prefillTokens;
  s.prefill_ms_total = prefillMsTotal;
  kiln_session_stats session_stats = session->stats();
  s.graph_captures = session_stats.graph_captures;
  s.graph_replays = session_stats.graph_replays;
  s.cuda_graphs_enabled = session_stats.cuda_graphs_enabled;
  s.max_sequences = maxSequences();
  return s;
}

} // namespace kilnrt
