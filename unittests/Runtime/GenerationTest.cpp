//===- GenerationTest.cpp - entries, the KV cache and generators, without a GPU ------------===//
//
// Multi-entry sessions and the generator's C API against FakeCudaDriver.c, whose `fake_lm`
// kernel is a toy language model over a real slot-major KV cache (see RuntimeTestSupport.h):
// prefill, batched decode steps at mixed positions replayed from CUDA graphs, and every error
// of the contract. The sampler is tested on logits in SamplingTest.cpp.
//
//===----------------------------------------------------------------------------------------===//

#include "Generator.h"
#include "kilnrt/kilnrt.h"

#include "FakeDriverSupport.h"
#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

using namespace kilnrt;
using namespace kilnrt::test;

extern "C" int kilnrt_c_header_generate(const void *data, size_t size, int32_t n);

namespace {

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

kiln_model *loadModel(const Artifact &a, const char *name = "gen.kiln") {
  std::vector<uint8_t> bytes = serializeArtifact(a);
  kiln_model *model = nullptr;
  EXPECT_EQ(kiln_model_load_memory(bytes.data(), bytes.size(), name, &model), KILN_OK)
      << kiln_last_error();
  return model;
}

/// The greedy continuation of `prompt` by the toy model, `n` tokens.
std::vector<int64_t> reference(std::vector<int64_t> context, size_t n, int64_t vocab = 16) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(fakeLmNext(context, vocab));
    context.push_back(out.back());
  }
  return out;
}

class GeneratorTest : public FakeDriverTest {
protected:
  void load(const Artifact &a) { model = loadModel(a); }
  kiln_status create(int32_t maxSequences = 0, bool graphs = true) {
    kiln_generator_options options;
    kiln_generator_options_init(&options);
    options.max_sequences = maxSequences;
    options.disable_cuda_graphs = !graphs;
    return kiln_generator_create(model, &options, &gen);
  }
  std::vector<int64_t> tokens(int64_t id) {
    const int64_t *data = nullptr;
    size_t n = 0;
    EXPECT_EQ(kiln_generator_tokens(gen, id, &data, &n), KILN_OK) << kiln_last_error();
    return std::vector<int64_t>(data, data + n);
  }
  kiln_sequence_info info(int64_t id) {
    kiln_sequence_info i{};
    EXPECT_EQ(kiln_generator_sequence_info(gen, id, &i), KILN_OK) << kiln_last_error();
    return i;
  }
  int64_t add(const std::vector<int64_t> &prompt, int32_t maxNew, uint64_t seed = 0,
              float temperature = 0) {
    kiln_sampling s;
    kiln_sampling_init(&s);
    s.max_new_tokens = maxNew;
    s.seed = seed;
    s.temperature = temperature;
    int64_t id = -1;
    EXPECT_EQ(kiln_generator_add(gen, prompt.data(), prompt.size(), &s, &id), KILN_OK)
        << kiln_last_error();
    return id;
  }
  void TearDown() override {
    kiln_generator_destroy(gen);
    gen = nullptr;
    kiln_model_destroy(model);
    model = nullptr;
    EXPECT_EQ(live(), 0) << "driver objects leaked";
    FakeDriverTest::TearDown();
  }
  kiln_model *model = nullptr;
  kiln_generator *gen = nullptr;
};

/// Records every (sequence, token) a callback sees; optionally stops a sequence.
struct Recorder {
  std::vector<std::pair<int64_t, int64_t>> seen;
  int64_t stopSequence = -1;
  size_t stopAfter = 0;
  static int callback(void *user, int64_t sequence, int64_t token) {
    Recorder &r = *static_cast<Recorder *>(user);
    r.seen.emplace_back(sequence, token);
    size_t count = 0;
    for (const auto &p : r.seen)
      count += p.first == sequence;
    return sequence == r.stopSequence && count >= r.stopAfter;
  }
  std::vector<int64_t> of(int64_t sequence) const {
    std::vector<int64_t> out;
    for (const auto &p : seen)
      if (p.first == sequence)
        out.push_back(p.second);
    return out;
  }
};

//===-- models with several entries -------------------------------------------------------===//

TEST(RuntimeEntries, ModelDescribesItsEntries) {
  kiln_model *model = loadModel(makeGenerationArtifact());
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(kiln_model_num_entries(model), 3);
  EXPECT_STREQ(kiln_model_entry_name(model, 0), "main");
  EXPECT_STREQ(kiln_model_entry_name(model, 2), "decode");
  EXPECT_EQ(kiln_model_entry_name(model, 3), nullptr);
  EXPECT_EQ(kiln_model_find_entry(model, "prefill"), 1);
  EXPECT_EQ(kiln_model_find_entry(model, "nope"), -1);
  // The old calls describe the default entry.
  EXPECT_EQ(kiln_model_num_inputs(model), 1);
  kiln_tensor_info info;
  ASSERT_EQ(kiln_model_input_info(model, 0, &info), KILN_OK);
  EXPECT_STREQ(info.name, "x");
  EXPECT_EQ(kiln_model_entry_num_inputs(model, 1), 3);
  EXPECT_EQ(kiln_model_entry_num_outputs(model, 1), 1);
  ASSERT_EQ(kiln_model_entry_input_info(model, 1, 2, &info), KILN_OK);
  EXPECT_STREQ(info.name, "kiln.slots");
  ASSERT_EQ(kiln_model_entry_output_info(model, 2, 0, &info), KILN_OK);
  ASSERT_EQ(info.rank, 3);
  EXPECT_EQ(info.dims[2], 16);
  EXPECT_STREQ(info.dim_names[1], "seq");
  kiln_symbol_info symbol;
  ASSERT_EQ(kiln_model_entry_symbol_info(model, 2, 0, &symbol), KILN_OK);
  EXPECT_EQ(symbol.max_value, 4);
  EXPECT_EQ(kiln_model_entry_input_info(model, 5, 0, &info), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(),
               "kiln_model_entry_input_info: entry 5 is out of range ('gen.kiln' has 3 entries)");
  EXPECT_EQ(kiln_model_entry_output_info(model, 1, 1, &info), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_model_entry_output_info: index 1 is out of range "
                                  "('gen.kiln' entry 'prefill' has 1 outputs)");

  EXPECT_EQ(kiln_model_can_generate(model), 1);
  kiln_generation_info g;
  ASSERT_EQ(kiln_model_generation_info(model, &g), KILN_OK);
  EXPECT_EQ(g.vocab_size, 16);
  EXPECT_EQ(g.max_batch, 4);
  EXPECT_EQ(g.max_seq, 32);
  EXPECT_EQ(g.cache_dtype, KILN_DTYPE_F32);
  EXPECT_EQ(g.cache_bytes_per_sequence, 256u);
  EXPECT_STREQ(g.prefill_entry, "prefill");
  EXPECT_STREQ(g.decode_entry, "decode");
  kiln_model_destroy(model);

  model = loadModel(makeSampleArtifact(), "plain.kiln");
  EXPECT_EQ(kiln_model_num_entries(model), 1);
  EXPECT_EQ(kiln_model_can_generate(model), 0);
  EXPECT_EQ(kiln_model_generation_info(model, &g), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "'plain.kiln' was compiled without prefill/decode entries; "
                                  "recompile a causal decoder with kiln-compile");
  kiln_model_destroy(model);
}

TEST_F(FakeDriverTest, SessionsRunAnyEntry) {
  // Two entries with the same launches: graphs are cached per (entry, symbol values), and the
  // shared arena means only the last run's outputs can be read.
  Artifact a = makeSampleArtifact();
  a.entries.push_back(a.entries[0]);
  a.entries[1].name = "again";
  a.entries.push_back(a.entries[0]);
  a.entries[2].name = "eager";
  a.entries[2].cudaGraphs = false;
  kiln_model *model = loadModel(a, "two.kiln");
  kiln_session *session = nullptr;
  ASSERT_EQ(kiln_session_create(model, nullptr, &session), KILN_OK) << kiln_last_error();
  std::vector<float> x = {1, 2, 3}, y(3);
  int64_t dims[2] = {1, 3};
  ASSERT_EQ(kiln_session_bind_input(session, 0, x.data(), KILN_DTYPE_F32, dims, 2), KILN_OK);
  ASSERT_EQ(kiln_session_run(session), KILN_OK);
  EXPECT_EQ(counter("captures"), 1);
  EXPECT_EQ(kiln_session_select_entry(session, "missing"), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_session_last_error(session),
               "'two.kiln' has no entry named 'missing' (its entries: main, again, eager)");
  ASSERT_EQ(kiln_session_select_entry(session, "again"), KILN_OK);
  // Inputs are bound per entry.
  EXPECT_EQ(kiln_session_run(session), KILN_ERROR_NOT_READY);
  EXPECT_STREQ(kiln_session_last_error(session),
               "input 'x' of entry 'again' is not bound (2-D [1, seq<=64])");
  ASSERT_EQ(kiln_session_bind_input_by_name(session, "x", x.data(), KILN_DTYPE_F32, dims, 2),
            KILN_OK);
  ASSERT_EQ(kiln_session_run(session), KILN_OK);
  EXPECT_EQ(counter("captures"), 2); // same symbol values, another entry
  ASSERT_EQ(kiln_session_read_output(session, 0, y.data(), 12), KILN_OK);
  EXPECT_EQ(y, (std::vector<float>{2, 3, 4}));
  ASSERT_EQ(kiln_session_select_entry(session, nullptr), KILN_OK);
  EXPECT_EQ(kiln_session_read_output(session, 0, y.data(), 12), KILN_ERROR_NOT_READY);
  EXPECT_STREQ(kiln_session_last_error(session),
               "output 'y' has no value: entry 'again' ran last (the entries share the arena)");
  ASSERT_EQ(kiln_session_run(session), KILN_OK);
  EXPECT_EQ(counter("captures"), 2);
  EXPECT_EQ(counter("graph_launches"), 3);
  // An entry compiled without graphs launches eagerly even when graphs are on.
  ASSERT_EQ(kiln_session_select_entry(session, "eager"), KILN_OK);
  ASSERT_EQ(kiln_session_bind_input(session, 0, x.data(), KILN_DTYPE_F32, dims, 2), KILN_OK);
  ASSERT_EQ(kiln_session_run(session), KILN_OK);
  ASSERT_EQ(kiln_session_run(session), KILN_OK);
  EXPECT_EQ(counter("captures"), 2);
  EXPECT_EQ(counter("graph_launches"), 3);
  EXPECT_EQ(counter("kernel_runs"), 5);
  kiln_session_destroy(session);
  kiln_model_destroy(model);
  EXPECT_EQ(live(), 0);
}

TEST_F(FakeDriverTest, PlainSessionsDoNotAllocateTheCache) {
  kiln_model *model = loadModel(makeGenerationArtifact());
  kiln_session *session = nullptr;
  ASSERT_EQ(kiln_session_create(model, nullptr, &session), KILN_OK) << kiln_last_error();
  EXPECT_EQ(counter("allocs"), 2); // arena and weights only
  // The default entry runs as before.
  std::vector<float> x = {1, 2}, y(2);
  int64_t dims[2] = {1, 2};
  ASSERT_EQ(kiln_session_bind_input(session, 0, x.data(), KILN_DTYPE_F32, dims, 2), KILN_OK);
  ASSERT_EQ(kiln_session_run(session), KILN_OK);
  // The cache entries need a generator: a clear error before anything runs.
  ASSERT_EQ(kiln_session_select_entry(session, "decode"), KILN_OK);
  std::vector<int64_t> ids = {1}, zero = {0};
  int64_t two[2] = {1, 1}, one[1] = {1};
  ASSERT_EQ(kiln_session_bind_input(session, 0, ids.data(), KILN_DTYPE_I64, two, 2), KILN_OK);
  ASSERT_EQ(kiln_session_bind_input(session, 1, zero.data(), KILN_DTYPE_I64, one, 1), KILN_OK);
  ASSERT_EQ(kiln_session_bind_input(session, 2, zero.data(), KILN_DTYPE_I64, one, 1), KILN_OK);
  long runs = counter("kernel_runs");
  EXPECT_EQ(kiln_session_run(session), KILN_ERROR_NOT_READY);
  EXPECT_STREQ(kiln_session_last_error(session),
               "entry 'decode' of 'gen.kiln' uses the KV cache, which this session has not "
               "allocated; run it through a generator (kiln_generator_create)");
  EXPECT_EQ(counter("kernel_runs"), runs);
  kiln_session_destroy(session);
  kiln_model_destroy(model);
  EXPECT_EQ(live(), 0);
}

//===-- generators --------------------------------------------------------------------------===//

TEST_F(GeneratorTest, NeedsAGenerationSection) {
  load(makeSampleArtifact());
  EXPECT_EQ(create(), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(gen, nullptr);
  EXPECT_STREQ(kiln_last_error(), "'gen.kiln' was compiled without prefill/decode entries; "
                                  "recompile a causal decoder with kiln-compile");
  EXPECT_EQ(counter("contexts"), 0); // refused before touching the device
}

TEST_F(GeneratorTest, CreationAllocatesTheCache) {
  load(makeGenerationArtifact());
  EXPECT_EQ(create(5), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_create: max_sequences 5 is outside 0..4 "
                                  "('gen.kiln' was compiled for at most 4 sequences; 0 = all)");
  EXPECT_EQ(create(-1), KILN_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(create(2), KILN_OK) << kiln_last_error();
  EXPECT_EQ(counter("allocs"), 3); // arena, weights, cache
  kiln_generator_stats stats;
  ASSERT_EQ(kiln_generator_decode_stats(gen, &stats), KILN_OK);
  EXPECT_EQ(stats.max_sequences, 2);
  EXPECT_EQ(stats.decode_steps, 0u);
  EXPECT_EQ(stats.cuda_graphs_enabled, 1);
  kiln_device_info device;
  ASSERT_EQ(kiln_generator_device_info(gen, &device), KILN_OK);
  EXPECT_STREQ(device.name, "Kiln Fake GPU");
}

TEST_F(GeneratorTest, CacheThatDoesNotFitNamesTheBytes) {
  load(makeGenerationArtifact(64, 1024));
  setEnv("KILN_FAKE_CUDA_ALLOC_LIMIT", "300000"); // the arena fits, 64 slots of 8 KiB do not
  setEnv("KILN_FAKE_CUDA_FREE_MB", "512");
  EXPECT_EQ(create(), KILN_ERROR_OUT_OF_MEMORY);
  EXPECT_STREQ(kiln_last_error(),
               "out of device memory for the KV cache of 'gen.kiln': it needs 512 KiB (524288 "
               "bytes) for 64 sequences x 1024 tokens (8.00 KiB per sequence); device 0 has 512 "
               "MiB free of 80.0 GiB (cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY: out of memory); "
               "create the generator with fewer max_sequences");
  EXPECT_EQ(gen, nullptr);
  EXPECT_EQ(live(), 0);
  ASSERT_EQ(create(16), KILN_OK) << kiln_last_error(); // 128 KiB fit
}

TEST_F(GeneratorTest, BadPromptsFailBeforeAnyLaunch) {
  load(makeGenerationArtifact());
  ASSERT_EQ(create(2), KILN_OK);
  kiln_sampling s;
  kiln_sampling_init(&s);
  s.max_new_tokens = 8;
  int64_t id = -1;
  std::vector<int64_t> prompt = {1, 2, 3, 16, 4};
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 0, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_generator_last_error(gen), "kiln_generator_add: the prompt is empty");
  EXPECT_EQ(kiln_generator_add(gen, nullptr, 3, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), prompt.size(), &s, &id),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_add: prompt token 3 is 16, outside the "
                                  "vocabulary [0, 16)");
  prompt[3] = -2;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), prompt.size(), &s, &id),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_add: prompt token 3 is -2, outside the "
                                  "vocabulary [0, 16)");
  // 30 + 8 > 32.
  std::vector<int64_t> longPrompt(30, 1);
  EXPECT_EQ(kiln_generator_add(gen, longPrompt.data(), longPrompt.size(), &s, &id),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_add: a prompt of 30 tokens + max_new_tokens "
                                  "8 = 38 tokens exceeds the maximum context of 32 "
                                  "(truncate_prompt keeps the last 24)");
  s.max_new_tokens = 32;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 2, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_add: max_new_tokens 32 leaves no room for a "
                                  "prompt in the maximum context of 32 tokens");
  s.max_new_tokens = 0;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 2, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_add: max_new_tokens 0 must be >= 1");
  s.max_new_tokens = 8;
  s.top_p = 1.5f;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 2, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_add: top_p 1.5 is outside (0, 1] (1 = off)");
  s.top_p = 1;
  s.temperature = -1;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 2, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  s.temperature = 0;
  s.top_k = -3;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 2, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  s.top_k = 0;
  s.eos_id = 16;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 2, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_add: eos_id 16 is outside the vocabulary [0, "
                                  "16) (-1 = none)");
  s.eos_id = -1;
  s.struct_size = 4;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 2, &s, &id), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(kiln_last_error(), "call kiln_sampling_init first")) << kiln_last_error();
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 2, nullptr, nullptr),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(counter("kernel_runs"), 0);
  // None of these took a slot: both are still free.
  EXPECT_EQ(id, -1);
  int64_t a = add({1, 2}, 4), b = add({3}, 4);
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
}

TEST_F(GeneratorTest, TruncationKeepsTheEndOfThePrompt) {
  load(makeGenerationArtifact());
  ASSERT_EQ(create(1), KILN_OK);
  std::vector<int64_t> prompt(30);
  for (size_t i = 0; i < prompt.size(); ++i)
    prompt[i] = static_cast<int64_t>(i * 7 % 16);
  kiln_sampling s;
  kiln_sampling_init(&s);
  s.max_new_tokens = 8;
  s.truncate_prompt = 1;
  int64_t id = -1;
  ASSERT_EQ(kiln_generator_add(gen, prompt.data(), prompt.size(), &s, &id), KILN_OK)
      << kiln_last_error();
  ASSERT_EQ(kiln_generator_run(gen, nullptr, nullptr), KILN_OK) << kiln_last_error();
  kiln_sequence_info i = info(id);
  EXPECT_EQ(i.prompt_given, 30);
  EXPECT_EQ(i.prompt_length, 24);
  EXPECT_EQ(i.generated, 8);
  EXPECT_EQ(i.context, 24 + 7); // the last token is never fed back
  EXPECT_EQ(i.finish_reason, KILN_FINISH_MAX_TOKENS);
  EXPECT_EQ(tokens(id), reference(std::vector<int64_t>(prompt.begin() + 6, prompt.end()), 8));
}

TEST_F(GeneratorTest, NoFreeSlotAndRemove) {
  load(makeGenerationArtifact());
  ASSERT_EQ(create(2), KILN_OK);
  int64_t a = add({1}, 4), b = add({2}, 4);
  int64_t id = -1;
  std::vector<int64_t> prompt = {5};
  long runs = counter("kernel_runs");
  kiln_sampling s;
  kiln_sampling_init(&s);
  s.max_new_tokens = 4;
  EXPECT_EQ(kiln_generator_add(gen, prompt.data(), 1, &s, &id), KILN_ERROR_NO_FREE_SLOT);
  EXPECT_STREQ(kiln_last_error(),
               "kiln_generator_add: no free sequence slot: all 2 are taken (remove finished "
               "sequences with kiln_generator_remove, or create the generator with more "
               "max_sequences)");
  EXPECT_STREQ(kiln_status_string(KILN_ERROR_NO_FREE_SLOT), "KILN_ERROR_NO_FREE_SLOT");
  EXPECT_EQ(counter("kernel_runs"), runs);
  // Removing (even an unfinished sequence) frees its slot for the next prompt.
  ASSERT_EQ(kiln_generator_remove(gen, a), KILN_OK);
  int64_t c = add({5, 6, 7}, 4);
  EXPECT_EQ(info(c).slot, 0); // a's
  ASSERT_EQ(kiln_generator_run(gen, nullptr, nullptr), KILN_OK) << kiln_last_error();
  EXPECT_EQ(tokens(b), reference({2}, 4));
  EXPECT_EQ(tokens(c), reference({5, 6, 7}, 4)); // the reused slot holds nothing of `a`
}

TEST_F(GeneratorTest, UnknownAndFinishedSequences) {
  load(makeGenerationArtifact());
  ASSERT_EQ(create(2), KILN_OK);
  const int64_t *data = nullptr;
  size_t n = 0;
  int32_t finished = -1;
  EXPECT_EQ(kiln_generator_tokens(gen, 7, &data, &n), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(),
               "kiln_generator_tokens: unknown sequence 7 (the generator has no sequences)");
  int64_t a = add({1, 2}, 1);
  EXPECT_EQ(kiln_generator_finished(gen, 9, &finished), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_finished: unknown sequence 9 (its sequences: 0)");
  EXPECT_EQ(kiln_generator_remove(gen, 9), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(kiln_generator_step_sequences(gen, &a, 1, nullptr, nullptr, nullptr), KILN_OK)
      << kiln_last_error();
  // max_new_tokens 1: finished by add; the step above reported its token.
  ASSERT_EQ(kiln_generator_finished(gen, a, &finished), KILN_OK);
  EXPECT_EQ(finished, 1);
  long runs = counter("kernel_runs");
  EXPECT_EQ(kiln_generator_step_sequences(gen, &a, 1, nullptr, nullptr, nullptr),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_step_sequences: sequence 0 is finished (it "
                                  "generated max_new_tokens 1); remove it with "
                                  "kiln_generator_remove");
  int64_t unknown[2] = {42, a};
  EXPECT_EQ(kiln_generator_step_sequences(gen, unknown, 2, nullptr, nullptr, nullptr),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(kiln_last_error(), "unknown sequence 42")) << kiln_last_error();
  int64_t b = add({3}, 3);
  int64_t twice[2] = {b, b};
  EXPECT_EQ(kiln_generator_step_sequences(gen, twice, 2, nullptr, nullptr, nullptr),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_step_sequences: sequence 1 is listed twice");
  EXPECT_EQ(counter("kernel_runs"), runs + 1); // only b's prefill ran
  // A step over all sequences skips finished ones; stepping nothing is fine.
  int32_t active = -1;
  ASSERT_EQ(kiln_generator_step(gen, nullptr, nullptr, &active), KILN_OK);
  EXPECT_EQ(active, 1);
  EXPECT_EQ(tokens(a), reference({1, 2}, 1));
  ASSERT_EQ(kiln_generator_run(gen, nullptr, nullptr), KILN_OK);
  ASSERT_EQ(kiln_generator_step(gen, nullptr, nullptr, &active), KILN_OK);
  EXPECT_EQ(active, 0);
  EXPECT_EQ(tokens(b), reference({3}, 3));
  EXPECT_EQ(kiln_generator_step(nullptr, nullptr, nullptr, &active), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_step: generator is null");
}

TEST_F(GeneratorTest, BatchedDecodeMatchesOneAtATime) {
  load(makeGenerationArtifact());
  const std::vector<std::vector<int64_t>> prompts = {
      {3}, {1, 4, 1, 5, 9, 2, 6}, {2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9}, {0, 0}};
  const int32_t maxNew[4] = {12, 9, 15, 4};
  // One at a time.
  ASSERT_EQ(create(1), KILN_OK);
  std::vector<std::vector<int64_t>> single;
  for (size_t i = 0; i < prompts.size(); ++i) {
    int64_t id = add(prompts[i], maxNew[i]);
    ASSERT_EQ(kiln_generator_run(gen, nullptr, nullptr), KILN_OK) << kiln_last_error();
    single.push_back(tokens(id));
    EXPECT_EQ(single.back(), reference(prompts[i], static_cast<size_t>(maxNew[i]))) << i;
    ASSERT_EQ(kiln_generator_remove(gen, id), KILN_OK);
  }
  kiln_generator_destroy(gen);
  gen = nullptr;
  FakeDriver::get().reset();

  // All four in one batch, each at its own position.
  ASSERT_EQ(create(), KILN_OK);
  std::vector<int64_t> ids;
  for (size_t i = 0; i < prompts.size(); ++i)
    ids.push_back(add(prompts[i], maxNew[i]));
  EXPECT_EQ(counter("kernel_runs"), 4); // the prefills
  EXPECT_EQ(counter("captures"), 0);    // prefill runs eagerly
  Recorder recorder;
  ASSERT_EQ(kiln_generator_run(gen, Recorder::callback, &recorder), KILN_OK) << kiln_last_error();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(tokens(ids[i]), single[i]) << i;
    EXPECT_EQ(recorder.of(ids[i]), single[i]) << i; // streamed in order, the first one too
    kiln_sequence_info s = info(ids[i]);
    EXPECT_EQ(s.finish_reason, KILN_FINISH_MAX_TOKENS);
    EXPECT_EQ(s.context, static_cast<int64_t>(prompts[i].size()) + maxNew[i] - 1);
  }
  // Decode steps: 3 with 4 sequences (the shortest has 4 tokens: 1 from prefill + 3), 5 with 3,
  // 3 with 2, 3 with 1: one capture per batch size, replays as the positions move.
  kiln_generator_stats stats;
  ASSERT_EQ(kiln_generator_decode_stats(gen, &stats), KILN_OK);
  EXPECT_EQ(stats.decode_steps, 14u);
  EXPECT_EQ(stats.decode_tokens, 3u * 4 + 5 * 3 + 3 * 2 + 3 * 1);
  EXPECT_EQ(stats.graph_captures, 4u);
  EXPECT_EQ(stats.graph_replays, 10u);
  EXPECT_EQ(counter("captures"), 4);
  EXPECT_EQ(stats.prefills, 4u);
  EXPECT_EQ(stats.prefill_tokens, 1u + 7 + 13 + 2);
  EXPECT_GE(stats.decode_ms_median, stats.decode_ms_min);
  EXPECT_LE(stats.decode_ms_median, stats.decode_ms_max);
}

TEST_F(GeneratorTest, GraphsOffLaunchEveryStep) {
  load(makeGenerationArtifact());
  ASSERT_EQ(create(0, /*graphs=*/false), KILN_OK);
  int64_t a = add({1, 2, 3}, 6), b = add({4}, 6);
  ASSERT_EQ(kiln_generator_run(gen, nullptr, nullptr), KILN_OK);
  EXPECT_EQ(counter("captures"), 0);
  EXPECT_EQ(counter("kernel_runs"), 2 + 5);
  EXPECT_EQ(tokens(a), reference({1, 2, 3}, 6));
  EXPECT_EQ(tokens(b), reference({4}, 6));
}

TEST_F(GeneratorTest, EosAndCallbacksFinishSequences) {
  load(makeGenerationArtifact());
  ASSERT_EQ(create(), KILN_OK);
  std::vector<int64_t> prompt = {1, 2, 3};
  std::vector<int64_t> expected = reference(prompt, 10);
  kiln_sampling s;
  kiln_sampling_init(&s);
  s.max_new_tokens = 10;
  s.eos_id = expected[4];
  // The eos token may come earlier too: the first occurrence finishes.
  size_t firstEos = std::find(expected.begin(), expected.end(), expected[4]) - expected.begin();
  int64_t withEos = -1;
  ASSERT_EQ(kiln_generator_add(gen, prompt.data(), prompt.size(), &s, &withEos), KILN_OK);
  int64_t stopped = add(prompt, 10);
  Recorder recorder;
  recorder.stopSequence = stopped;
  recorder.stopAfter = 3;
  ASSERT_EQ(kiln_generator_run(gen, Recorder::callback, &recorder), KILN_OK);
  EXPECT_EQ(tokens(withEos),
            std::vector<int64_t>(expected.begin(), expected.begin() + firstEos + 1));
  EXPECT_EQ(info(withEos).finish_reason, KILN_FINISH_EOS);
  EXPECT_EQ(tokens(stopped), std::vector<int64_t>(expected.begin(), expected.begin() + 3));
  EXPECT_EQ(info(stopped).finish_reason, KILN_FINISH_STOPPED);
  EXPECT_EQ(recorder.of(stopped).size(), 3u);
}

TEST_F(GeneratorTest, LogitsOfEveryPosition) {
  load(makeGenerationArtifact());
  ASSERT_EQ(create(1), KILN_OK);
  std::vector<int64_t> text = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
  std::vector<float> logits(text.size() * 16, 1.0f);
  ASSERT_EQ(kiln_generator_logits(gen, text.data(), text.size(), logits.data(), logits.size()),
            KILN_OK)
      << kiln_last_error();
  for (size_t t = 0; t < text.size(); ++t) {
    int64_t h = fakeLmNext(std::vector<int64_t>(text.begin(), text.begin() + t + 1), 16);
    EXPECT_EQ(logits[t * 16 + static_cast<size_t>(h)], 0.0f) << t;
    EXPECT_EQ(logits[t * 16 + static_cast<size_t>((h + 1) % 16)], -0.25f) << t;
  }
  // The slot was only borrowed.
  int64_t id = add({1}, 2);
  EXPECT_EQ(info(id).slot, 0);
  EXPECT_EQ(kiln_generator_logits(gen, text.data(), text.size(), logits.data(), logits.size()),
            KILN_ERROR_NO_FREE_SLOT);
  ASSERT_EQ(kiln_generator_remove(gen, id), KILN_OK);
  EXPECT_EQ(kiln_generator_logits(gen, text.data(), text.size(), logits.data(), 16),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(), "kiln_generator_logits: the logits of 10 tokens are 10 x 16 "
                                  "floats; the destination holds 16");
  std::vector<int64_t> tooLong(33, 1);
  std::vector<float> big(33 * 16);
  EXPECT_EQ(kiln_generator_logits(gen, tooLong.data(), tooLong.size(), big.data(), big.size()),
            KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(kiln_last_error(),
               "kiln_generator_logits: 33 tokens exceed the maximum context of 32");
}

TEST_F(GeneratorTest, SameSeedSameTokens) {
  load(makeGenerationArtifact());
  ASSERT_EQ(create(), KILN_OK);
  std::vector<int64_t> prompt = {1, 2, 3};
  int64_t a = add(prompt, 20, 7, 2.0f), b = add(prompt, 20, 7, 2.0f);
  ASSERT_EQ(kiln_generator_run(gen, nullptr, nullptr), KILN_OK);
  // Seeded from (seed, sequence id): the two sequences differ, a new generator repeats them.
  std::vector<int64_t> first = tokens(a), second = tokens(b);
  EXPECT_NE(first, second);
  kiln_generator_destroy(gen);
  gen = nullptr;
  ASSERT_EQ(create(), KILN_OK);
  int64_t again = add(prompt, 20, 7, 2.0f), againB = add(prompt, 20, 7, 2.0f);
  ASSERT_EQ(kiln_generator_run(gen, nullptr, nullptr), KILN_OK);
  EXPECT_EQ(tokens(again), first);
  EXPECT_EQ(tokens(againB), second);
}

TEST_F(GeneratorTest, KernelFaultsAreReported) {
  // A decode step whose kernel faults: the error comes back, later calls say why they fail.
  Artifact art = makeGenerationArtifact();
  art.ptx += ".visible .entry fake_fault()\n";
  art.kernels.push_back("fake_fault");
  Launch fault = art.entries[2].launches[0];
  fault.name = "fault";
  fault.kernel = static_cast<uint32_t>(art.kernels.size() - 1);
  art.entries[2].launches.push_back(fault);
  load(art);
  ASSERT_EQ(create(), KILN_OK);
  int64_t a = add({1}, 5);
  EXPECT_EQ(kiln_generator_step(gen, nullptr, nullptr, nullptr), KILN_ERROR_CUDA);
  EXPECT_TRUE(contains(kiln_generator_last_error(gen), "CUDA_ERROR_ILLEGAL_ADDRESS"))
      << kiln_generator_last_error(gen);
  EXPECT_EQ(tokens(a).size(), 1u); // nothing half-done
  EXPECT_EQ(kiln_generator_step(gen, nullptr, nullptr, nullptr), KILN_ERROR_CUDA);
  EXPECT_TRUE(contains(kiln_generator_last_error(gen), "cannot run after an earlier CUDA error"));
}

TEST_F(GeneratorTest, UsableFromC) {
  std::vector<uint8_t> bytes = serializeArtifact(makeGenerationArtifact());
  EXPECT_EQ(kilnrt_c_header_generate(bytes.data(), bytes.size(), 7), 7);
  bytes = serializeArtifact(makeSampleArtifact());
  EXPECT_EQ(kilnrt_c_header_generate(bytes.data(), bytes.size(), 7), -KILN_ERROR_INVALID_ARGUMENT);
}

} // namespace
