//===- Generator.h - autoregressive generation over a KV cache (internal) ---------*- C++ -*-===//
//
// The C++ object behind kiln_generator (kilnrt.h): a session of a model with a generation
// section, the KV cache it allocates, and the sequences living in the cache's slots. A prompt is
// prefilled alone (entry `prefill`, one launch sequence for all its tokens); decode steps run
// every unfinished sequence at once (entry `decode`, one token per sequence at its own position,
// no padding), replayed from a CUDA graph per batch size: positions and slots are input tensors
// copied into the arena each step, so the graph stays valid as the contexts grow. Sampling is
// on the host (kilnrt/Sampling.h, the CPU generation's sampler too), deterministic per
// (seed, sequence id).
//
//===----------------------------------------------------------------------------------------===//

#ifndef KILNRT_LIB_GENERATOR_H
#define KILNRT_LIB_GENERATOR_H

#include "Session.h"
#include "kilnrt/Sampling.h"

#include <map>

namespace kilnrt {

struct GeneratorOptions {
  int device = 0;
  int maxSequences = 0; // 0: the artifact's maximum batch
  bool disableCudaGraphs = false;
};

using TokenCallback = int (*)(void *user, int64_t sequence, int64_t token);

class Generator {
public:
  static Status create(std::shared_ptr<const ModelData> model, const GeneratorOptions &options,
                       std::unique_ptr<Generator> &out);
  Generator(const Generator &) = delete;
  Generator &operator=(const Generator &) = delete;

  /// Validates the prompt and parameters (before any launch), takes a free slot, prefills the
  /// prompt and samples the first new token. On failure no slot is taken.
  Status add(const int64_t *prompt, size_t n, const SamplingParams &params, int64_t &id);
  /// Reports tokens not reported yet (the one add sampled) through `callback`, then runs one
  /// decode step for the sequences still unfinished among `ids` (every sequence when `all`),
  /// samples and reports their tokens. `active` = unfinished sequences afterwards (all of them).
  /// An unknown id, a repeated id, or a finished sequence with nothing to report is an error
  /// before anything happens.
  Status step(const int64_t *ids, size_t numIds, bool all, TokenCallback callback, void *user,
              int32_t &active);
  /// Steps until no sequence is active.
  Status run(TokenCallback callback, void *user);
  Status tokens(int64_t id, const int64_t *&tokens, size_t &n) const;
  Status info(int64_t id, kiln_sequence_info &info,
              const char *fn = "kiln_generator_sequence_info") const;
  /// Forgets the sequence and frees its slot (also cancels an unfinished one).
  Status remove(int64_t id);
  /// Prefills `tokens` into a free slot, released afterwards, and copies the logits of every
  /// position ([n, vocab] float32) to `logits` (for evaluation: perplexity, bits per byte).
  Status logits(const int64_t *tokens, size_t n, float *logits, size_t capacityFloats);
  kiln_generator_stats stats() const;
  kiln_device_info deviceInfo() const { return session->deviceInfo(); }
  int32_t maxSequences() const { return static_cast<int32_t>(slotUsed.size()); }

  std::mutex mutex;      // held by the C API around every call
  std::string lastError; // the last failure's message, for kiln_generator_last_error

private:
  Generator() = default;
  struct Sequence {
    int64_t id = 0;
    uint32_t slot = 0;
    size_t promptGiven = 0, promptLength = 0;
    int64_t context = 0;           // tokens in the cache (the next position to write)
    std::vector<int64_t> generated;
    size_t reported = 0;           // tokens passed to a callback
    bool finished = false;
    kiln_finish_reason reason = KILN_FINISH_NONE;
    double prefillMs = 0;
    SamplingParams params;
    SamplingRng rng;
  };
  Status checkTokens(const int64_t *tokens, size_t n, const char *fn) const;
  /// Runs the prefill entry over `tokens` at positions 0..n-1 of `slot`.
  Status prefill(const int64_t *tokens, size_t n, uint32_t slot);
  /// Binds (input_ids [1, n] = tokens, and the `positions` and `slots` members) and runs
  /// `entry` (prefill or decode).
  Status runEntry(size_t entry, const int64_t *tokens, size_t n);
  int32_t freeSlot() const;
  Status unknownSequence(int64_t id, const char *fn) const;
  /// After a new token: eos and max_new_tokens finish the sequence.
  void accept(Sequence &s, int64_t token);
  /// Reports s.generated[s.reported..]; a nonzero return stops the sequence.
  void report(Sequence &s, TokenCallback callback, void *user);
  int32_t countActive() const;

  std::shared_ptr<const ModelData> modelData;
  const Generation *gen = nullptr;
  std::unique_ptr<Session> session;
  size_t prefillEntry = 0, decodeEntry = 0;
  int64_t maxPrefill = 0; // tokens one prefill may take (symbol 0 of the prefill entry)
  std::vector<bool> slotUsed;
  std::map<int64_t, Sequence> sequences; // by id: steps and callbacks go in id order
  int64_t nextId = 0;

  // Scratch reused by every step (no allocation per token once warm).
  std::vector<int64_t> ids, positions, slots;
  std::vector<float> logitRows;

  std::vector<double> decodeMs;
  uint64_t decodeTokens = 0, prefills = 0, prefillTokens = 0;
  double prefillMsTotal = 0;
};

} // namespace kilnrt

#endif // KILNRT_LIB_GENERATOR_H
