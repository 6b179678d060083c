//===- ArtifactRunTest.cpp - kiln-run's artifact mode and the --emit=exe|lib stubs ---------===//
//
// kilnRunArtifactMain is called in-process (stdout/stderr captured); the stubs are run as the
// user would: an executable with an appended artifact (a child process), a shared library with
// one (dlopen). GPU work runs on FakeCudaDriver.c.
//
//===----------------------------------------------------------------------------------------===//

#include "ArtifactRun.h"
#include "Npz.h"
#include "kilnrt/kilnrt.h"

#include "FakeDriverSupport.h"
#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <dlfcn.h>
#include <sys/wait.h>

using namespace kilnrt;
using namespace kilnrt::test;

namespace {

struct Result {
  int code;
  std::string out, err;
};

Result runTool(std::vector<std::string> args) {
  args.insert(args.begin(), "kiln-run");
  std::vector<char *> argv;
  for (std::string &a : args)
    argv.push_back(&a[0]);
  argv.push_back(nullptr);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int code = kilnRunArtifactMain(static_cast<int>(args.size()), argv.data());
  Result r{code, testing::internal::GetCapturedStdout(), testing::internal::GetCapturedStderr()};
  return r;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

NpyArray floats(std::vector<int64_t> shape, float start) {
  NpyArray a;
  a.dtype = DType::F32;
  a.shape = shape;
  size_t n = a.numElements();
  a.data.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float v = start + static_cast<float>(i);
    std::memcpy(a.data.data() + 4 * i, &v, 4);
  }
  return a;
}

class ArtifactRunTest : public FakeDriverTest {
protected:
  void SetUp() override {
    FakeDriverTest::SetUp();
    std::string error;
    model = dir.path("sample.kiln");
    ASSERT_TRUE(writeArtifactFile(model, makeSampleArtifact(), error)) << error;
    // y = x + 1 with x = 0.5, 1.5, ... (seq 6); ref keeps inputs as in<i>, outputs as ort_out<i>.
    ASSERT_TRUE(writeNpyFile(dir.path("x.npy"), floats({1, 6}, 0.5f), error));
    ASSERT_TRUE(writeNpzFile(dir.path("ref.npz"),
                             {{"in0", floats({1, 6}, 0.5f)}, {"ort_out0", floats({1, 6}, 1.5f)}},
                             error));
    NpyArray wrong = floats({1, 6}, 1.5f);
    float bad = 100.0f;
    std::memcpy(wrong.data.data() + 8, &bad, 4);
    ASSERT_TRUE(writeNpzFile(dir.path("wrong.npz"), {{"y", wrong}}, error));
  }
  TempDir dir;
  std::string model;
};

TEST_F(ArtifactRunTest, CorruptArtifactExitsOneWithTheMessage) {
  std::vector<uint8_t> bytes;
  std::string error;
  ASSERT_TRUE(readFileBytes(model, bytes, error));
  bytes[bytes.size() / 2] ^= 0x20;
  std::string corrupt = dir.path("corrupt.kiln");
  ASSERT_TRUE(writeFileAtomically(corrupt, bytes.data(), bytes.size(), 0644, error));
  Result r = runTool({corrupt});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "kiln-run: artifact '" + corrupt + "': checksum mismatch in section"))
      << r.err;
  bytes.resize(bytes.size() - 7);
  ASSERT_TRUE(writeFileAtomically(corrupt, bytes.data(), bytes.size(), 0644, error));
  r = runTool({corrupt, "--expect", dir.path("ref.npz")});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: artifact '" + corrupt + "' is truncated: " +
                       std::to_string(bytes.size()) + " of " + std::to_string(bytes.size() + 7) +
                       " bytes\n");
  r = runTool({dir.path("none.kiln")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cannot read '" + dir.path("none.kiln") + "'")) << r.err;
}

TEST_F(ArtifactRunTest, PrintSignatureNeedsNoDriver) {
  setEnv("KILN_CUDA_DRIVER", "/nonexistent/libcuda.so.1");
  Result r = runTool({model, "--print-signature"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "target sm_80, precision fp32")) << r.out;
  EXPECT_TRUE(contains(r.out, "symbol seq: 1..64 (dim 1 of input 'x')")) << r.out;
  EXPECT_TRUE(contains(r.out, "input x: float32 [1, seq]")) << r.out;
  EXPECT_TRUE(contains(r.out, "output y: float32 [1, seq]")) << r.out;
}

TEST_F(ArtifactRunTest, NoDriverIsOneClearMessage) {
  setEnv("KILN_CUDA_DRIVER", "/nonexistent/libcuda.so.1");
  Result r = runTool({model, "--input", "x=" + dir.path("x.npy")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "kiln-run: no CUDA driver: cannot load '/nonexistent/libcuda.so.1'"))
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(ArtifactRunTest, RunsAndComparesWithTheReference) {
  std::string out = dir.path("out/nested");
  Result r = runTool({model, "--device=cuda:0", "--inputs-from", dir.path("ref.npz"), "--expect",
                      dir.path("ref.npz"), "--repeat", "3", "--warmup=1", "--output-dir", out});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "device 0: Kiln Fake GPU (sm_90")) << r.out;
  EXPECT_TRUE(contains(r.out, "y: float32 [1, 6] vs ort_out0 float32 [1, 6]: max|err| 0, max|ref| "
                              "6.5, max rel err 0, 0 of 6 outside atol 0.0001 + rtol 0.001 * "
                              "|ref|, argmax agreement 1/1 (1.0000): PASS"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "GPU time per run: median ")) << r.out;
  EXPECT_TRUE(contains(r.out, "(3 runs after 1 warmup; 1 kernel launches per run; CUDA graphs on)"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "host wall time per run: median ")) << r.out;
  EXPECT_EQ(counter("captures"), 1);
  EXPECT_EQ(counter("graph_launches"), 4);
  NpyArray y;
  std::string error;
  ASSERT_TRUE(readNpyFile(out + "/y.npy", y, error)) << error;
  EXPECT_EQ(y.data, floats({1, 6}, 1.5f).data);
}

TEST_F(ArtifactRunTest, MismatchFails) {
  Result r = runTool({model, "--input", "x=" + dir.path("x.npy"), "--expect", dir.path("wrong.npz"),
                      "--no-cuda-graph"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "y: float32 [1, 6] vs y float32 [1, 6]: max|err| 96.5, max|ref| 100,"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "1 of 6 outside")) << r.out;
  EXPECT_TRUE(contains(r.out, "argmax agreement 0/1 (0.0000): FAIL")) << r.out;
  EXPECT_TRUE(contains(r.out, "CUDA graphs off")) << r.out;
  EXPECT_TRUE(contains(r.err, "kiln-run: outputs do not match '" + dir.path("wrong.npz") + "'"));
  // Loose tolerances pass, unless the arg-max criterion is asked for.
  r = runTool({model, dir.path("x.npy"), "--expect", dir.path("wrong.npz"), "--atol", "100"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  r = runTool({model, dir.path("x.npy"), "--expect", dir.path("wrong.npz"), "--atol", "100",
               "--min-argmax-agreement", "0.99"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "(needs 0.9900): FAIL")) << r.out;
}

TEST_F(ArtifactRunTest, UsageErrors) {
  Result r = runTool({model, "--frobnicate"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: unknown option '--frobnicate' (see --help)\n");
  r = runTool({model, "--device=cpu"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "runs on CUDA devices only")) << r.err;
  r = runTool({model, "--repeat", "0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--repeat needs a count >= 1")) << r.err;
  r = runTool({model});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: input 'x' is not given; pass --input x=FILE.npy or --inputs-from "
                   "REF.npz\n");
  r = runTool({model, "--input", "ids=" + dir.path("x.npy")});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: the model has no input named 'ids' (its inputs: x)\n");
  r = runTool({model, "--input", "x=" + dir.path("missing.npy")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cannot read '" + dir.path("missing.npy") + "'")) << r.err;
  // A shape the model does not take: the runtime's message.
  std::string error;
  ASSERT_TRUE(writeNpyFile(dir.path("x3.npy"), floats({2, 6}, 0), error));
  r = runTool({model, "--input", "x=" + dir.path("x3.npy")});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln-run: input 'x': expected 2-D [1, seq<=64], got [2, 6]\n");
  r = runTool({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "usage: kiln-run MODEL.kiln")) << r.out;
  EXPECT_TRUE(kilnRunIsArtifactPath(model));
  EXPECT_FALSE(kilnRunIsArtifactPath(dir.path("x.npy")));
}

//===-- --generate and --eval-text ------------------------------------------------------===//

class GenerateRunTest : public ArtifactRunTest {
protected:
  void SetUp() override {
    ArtifactRunTest::SetUp();
    std::string error;
    bytes = dir.path("bytes.kiln");
    ASSERT_TRUE(writeArtifactFile(bytes, makeGenerationArtifact(4, 64, 256), error)) << error;
    ids = dir.path("ids.kiln");
    ASSERT_TRUE(writeArtifactFile(ids, makeGenerationArtifact(4, 32, 16), error)) << error;
    for (int i = 0; i < 300; ++i)
      textBytes.push_back(static_cast<char>('a' + (i * 7 + i / 13) % 26));
    text = dir.path("text.txt");
    ASSERT_TRUE(writeFileAtomically(text, textBytes.data(), textBytes.size(), 0644, error));
  }
  static std::string continuation(const std::string &prompt, size_t n) {
    std::vector<int64_t> context(prompt.begin(), prompt.end());
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      int64_t next = fakeLmNext(context, 256);
      out.push_back(static_cast<char>(next));
      context.push_back(next);
    }
    return out;
  }
  std::string readText(const std::string &path) {
    std::vector<uint8_t> data;
    std::string error;
    EXPECT_TRUE(readFileBytes(path, data, error)) << error;
    return std::string(data.begin(), data.end());
  }
  std::string bytes, ids, text, textBytes;
};

TEST_F(GenerateRunTest, OneSequenceIsStreamedAsText) {
  std::string json = dir.path("out.json");
  Result r = runTool({bytes, "--generate", "--prompt", "hello", "--max-new-tokens", "10",
                      "--output-json", json});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string expected = continuation("hello", 10);
  EXPECT_EQ(r.out, expected + "\n");
  EXPECT_TRUE(contains(r.err, "device 0: Kiln Fake GPU")) << r.err;
  EXPECT_TRUE(contains(r.err, "1 sequence, 10 new tokens in ")) << r.err;
  EXPECT_TRUE(contains(r.err, "prefill ")) << r.err;
  EXPECT_TRUE(contains(r.err, "for 5 tokens; decode 9 steps, ")) << r.err;
  EXPECT_TRUE(contains(r.err, "CUDA graphs on")) << r.err;
  std::string written = readText(json);
  std::string tokens;
  for (size_t i = 0; i < expected.size(); ++i)
    tokens += (i ? ", " : "") + std::to_string(static_cast<unsigned char>(expected[i]));
  EXPECT_TRUE(contains(written, "\"sequences\": [{\"prompt_length\": 5, \"prompt_given\": 5, "
                                "\"finish_reason\": \"max_new_tokens\", \"prefill_ms\": "))
      << written;
  EXPECT_TRUE(contains(written, "\"tokens\": [" + tokens + "]}]")) << written;
  EXPECT_TRUE(contains(written, "\"decode_steps\": 9, \"decode_tokens\": 9, "
                                "\"decode_ms_per_step\": {\"median\": "))
      << written;
  // --quiet: no text; a prompt from a file slice; eos stops early.
  r = runTool({bytes, "--generate", "--prompt-file", text, "--prompt-offset", "10",
               "--prompt-length", "20", "--max-new-tokens", "6", "--quiet", "--no-cuda-graph"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(contains(r.err, "CUDA graphs off")) << r.err;
  std::string sliceRef = continuation(textBytes.substr(10, 20), 6);
  r = runTool({bytes, "--generate", "--prompt-file", text, "--prompt-offset=10",
               "--prompt-length=20", "--max-new-tokens=6", "--eos",
               std::to_string(static_cast<unsigned char>(sliceRef[2]))});
  ASSERT_EQ(r.code, 0) << r.err;
  size_t eosAt = sliceRef.find(sliceRef[2]);
  EXPECT_EQ(r.out, sliceRef.substr(0, eosAt + 1) + "\n");
}

TEST_F(GenerateRunTest, SeveralPromptsShareTheSlots) {
  // Five prompts through two slots: finished sequences hand their slot to the next prompt.
  std::string json = dir.path("batch.json");
  Result r = runTool({bytes, "--generate", "--prompts-from", text, "--prompt-offsets",
                      "0,3,7,50,100", "--prompt-lengths", "4,9,2,30,1", "--max-batch", "2",
                      "--max-new-tokens", "5", "--output-json", json});
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t offsets[] = {0, 3, 7, 50, 100}, lengths[] = {4, 9, 2, 30, 1};
  for (size_t i = 0; i < 5; ++i) {
    std::string header = "--- sequence " + std::to_string(i) + ": prompt " +
                         std::to_string(lengths[i]) + " tokens, 5 new (max_new_tokens) ---\n";
    EXPECT_TRUE(contains(r.out, header + continuation(textBytes.substr(offsets[i], lengths[i]), 5) +
                                    "\n"))
        << i << ": " << r.out;
  }
  EXPECT_TRUE(contains(readText(json), "\"max_batch\": 2")) << readText(json);
  // Several --prompt options, and token ids for a model whose tokens are not bytes.
  r = runTool({ids, "--generate", "--prompt-ids", "1,2,3", "--max-new-tokens", "4"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<int64_t> context = {1, 2, 3};
  std::string expected;
  for (int i = 0; i < 4; ++i) {
    context.push_back(fakeLmNext(context, 16));
    expected += (i ? " " : "") + std::to_string(context.back());
  }
  EXPECT_EQ(r.out, expected + "\n");
  r = runTool({ids, "--generate", "--prompt-ids", "1,2,3", "--prompt-ids", "4", "--max-new-tokens",
               "4", "--temperature", "1.5", "--top-k", "5", "--top-p", "0.9", "--seed", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "--- sequence 1: prompt 1 tokens, 4 new (max_new_tokens) ---\n"))
      << r.out;
}

TEST_F(GenerateRunTest, UsageErrors) {
  auto error = [&](std::vector<std::string> args) {
    Result r = runTool(std::move(args));
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    return r.err;
  };
  EXPECT_EQ(error({model, "--generate", "--prompt", "x"}),
            "kiln-run: --generate: '" + model + "' was compiled without prefill/decode entries; "
            "recompile a causal decoder with kiln-compile\n");
  EXPECT_EQ(error({bytes, "--prompt", "x"}), "kiln-run: --prompt needs --generate\n");
  EXPECT_EQ(error({bytes, "--window", "8"}), "kiln-run: --window needs --eval-text\n");
  EXPECT_EQ(error({bytes, "--generate"}),
            "kiln-run: --generate needs a prompt: --prompt-file F, --prompt TEXT, --prompt-ids "
            "1,2,3 or --prompts-from F --prompt-offsets O1,O2,...\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompt", "x", "--eval-text", text, "--window", "8"}),
            "kiln-run: --generate and --eval-text are separate modes; give one\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompt", "x", "--expect", "ref.npz"}),
            "kiln-run: --expect is not used with --generate\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompt-offset", "3", "--prompt-file", text}),
            "kiln-run: --prompt-offset applies to the --prompt-file before it; give "
            "--prompt-file first\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompts-from", text}),
            "kiln-run: --prompts-from needs --prompt-offsets O1,O2,...\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompts-from", text, "--prompt-offsets", "1,2,3",
                   "--prompt-lengths", "4,5"}),
            "kiln-run: --prompt-lengths has 2 values for 3 --prompt-offsets (give one per "
            "offset, or one for all)\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompt-ids", "1,x"}),
            "kiln-run: --prompt-ids needs comma-separated token ids, not '1,x'\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompt", "x", "--top-p", "0"}),
            "kiln-run: --top-p needs a number in (0, 1], not '0'\n");
  EXPECT_EQ(error({ids, "--generate", "--prompt", "hi"}),
            "kiln-run: --prompt is text, but the model's vocabulary has 16 tokens, not 256 "
            "bytes; give token ids with --prompt-ids\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompt-file", text, "--prompt-offset", "290",
                   "--prompt-length", "20"}),
            "kiln-run: '" + text + "' has 300 bytes; a prompt at offset 290 of 20 bytes does not "
            "fit\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompt", "x", "--max-batch", "5"}),
            "kiln-run: --max-batch 5 is above the 4 sequences '" + bytes + "' was compiled for\n");
  EXPECT_EQ(error({bytes, "--generate", "--prompt-file", text, "--max-new-tokens", "8"}),
            "kiln-run: prompt 0: kiln_generator_add: a prompt of 300 tokens + max_new_tokens 8 = "
            "308 tokens exceeds the maximum context of 64 (truncate_prompt keeps the last 56)\n");
  EXPECT_EQ(error({ids, "--generate", "--prompt-ids", "1,99", "--max-new-tokens", "8"}),
            "kiln-run: prompt 0: kiln_generator_add: prompt token 1 is 99, outside the "
            "vocabulary [0, 16)\n");
  // --truncate-prompt keeps the end.
  Result r = runTool({bytes, "--generate", "--prompt-file", text, "--max-new-tokens", "8",
                      "--truncate-prompt"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, continuation(textBytes.substr(300 - 56), 8) + "\n");
}

/// Bits per byte of the toy model over `text` in windows of `window` bytes.
double expectedBitsPerByte(const std::string &text, size_t window, size_t windows) {
  double bits = 0;
  for (size_t w = 0; w < windows; ++w) {
    std::vector<int64_t> context;
    for (size_t i = 0; i < window; ++i) {
      context.push_back(static_cast<unsigned char>(text[w * window + i]));
      int64_t h = fakeLmNext(context, 256);
      double sum = 0;
      for (int j = 0; j < 256; ++j)
        sum += std::exp(-0.25 * ((j - h + 256) % 256));
      int64_t target = static_cast<unsigned char>(text[w * window + i + 1]);
      bits += -(-0.25 * static_cast<double>((target - h + 256) % 256) - std::log(sum)) /
              std::log(2.0);
    }
  }
  return bits / static_cast<double>(window * windows);
}

TEST_F(GenerateRunTest, EvalTextReportsBitsPerByte) {
  std::string json = dir.path("eval.json");
  Result r = runTool({bytes, "--eval-text", text, "--window", "64", "--windows", "4",
                      "--output-json", json});
  ASSERT_EQ(r.code, 0) << r.err;
  double expected = expectedBitsPerByte(textBytes, 64, 4);
  char line[128];
  std::snprintf(line, sizeof line, "bits per byte %.4f, perplexity %.4f (per byte), 256 "
                                   "predictions in 4 windows of 64 bytes",
                expected, std::exp2(expected));
  EXPECT_TRUE(contains(r.out, line)) << r.out << "\nexpected: " << line;
  EXPECT_TRUE(contains(r.out, "(entry prefill)")) << r.out;
  std::string written = readText(json);
  char bpb[64];
  std::snprintf(bpb, sizeof bpb, "\"bits_per_byte\": %.6f", expected);
  EXPECT_TRUE(contains(written, bpb)) << written;
  EXPECT_TRUE(contains(written, "\"windows\": 4, \"window\": 64")) << written;
  // Every window that fits: (300 - 1) / 64 = 4.
  r = runTool({bytes, "--eval-text", text, "--window", "64"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, line)) << r.out;

  auto error = [&](std::vector<std::string> args) {
    Result e = runTool(std::move(args));
    EXPECT_EQ(e.code, 1) << e.out;
    return e.err;
  };
  EXPECT_EQ(error({bytes, "--eval-text", text}),
            "kiln-run: --eval-text needs --window W (bytes per window, e.g. 512)\n");
  EXPECT_EQ(error({bytes, "--eval-text", text, "--window", "65"}),
            "kiln-run: --window 65 exceeds the maximum context of '" + bytes + "' (64 tokens)\n");
  EXPECT_EQ(error({bytes, "--eval-text", text, "--window", "64", "--windows", "5"}),
            "kiln-run: '" + text + "' is too short: it has 300 bytes; 5 windows of 64 need 321\n");
  EXPECT_EQ(error({ids, "--eval-text", text, "--window", "8"}),
            "kiln-run: --eval-text needs a byte-level model (vocabulary 256); '" + ids +
                "' has a vocabulary of 16\n");
  EXPECT_EQ(error({model, "--eval-text", text, "--window", "8"}),
            "kiln-run: --eval-text: '" + model + "' has no prefill entry, and its entry 'main' "
            "is not a language model (one int64 [1, seq] input, [1, seq, vocab] logits)\n");
  EXPECT_TRUE(contains(error({bytes, "--eval-text", dir.path("none.txt"), "--window", "8"}),
                       "cannot read '" + dir.path("none.txt") + "'"));
}

TEST_F(GenerateRunTest, SignatureShowsEntriesAndGeneration) {
  Result r = runTool({bytes, "--print-signature"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "entry main (default):\nsymbol seq: 1..64 (dim 1 of input 'x')\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "entry decode:\n  symbol seq: 1..4 (dim 1 of input 'input_ids')\n"
                              "  input input_ids: int64 [1, seq]\n"
                              "  input kiln.positions: int64 [seq]\n"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "generation: entries prefill/decode, vocabulary 256, 4 sequences x "
                              "64 tokens, KV cache 1 layers x 1 KV heads x 1 head dim float32 "
                              "(512 bytes per sequence)"))
      << r.out;
}

//===-- stubs ---------------------------------------------------------------------------===//

Result runProcess(const std::string &command) {
  Result r{-1, "", ""};
  FILE *p = popen((command + " 2>&1").c_str(), "r");
  if (!p)
    return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST_F(ArtifactRunTest, ExecutableStub) {
  std::vector<uint8_t> artifact = serializeArtifact(makeSampleArtifact());
  std::string exe = dir.path("model"), error;
  ASSERT_TRUE(appendArtifactToStub(KILN_EXE_STUB, artifact, exe, error)) << error;
  Result r = runProcess(exe + " --print-signature");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "model: target sm_80")) << r.out;
  r = runProcess(exe + " --device 0 --input x=" + dir.path("x.npy") + " --output-dir " +
                 dir.path("out") + " --expect " + dir.path("ref.npz"));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, ": PASS")) << r.out;
  NpyArray y;
  ASSERT_TRUE(readNpyFile(dir.path("out/y.npy"), y, error)) << error;
  EXPECT_EQ(y.data, floats({1, 6}, 1.5f).data);
  // The bare stub says what it lacks.
  r = runProcess(std::string(KILN_EXE_STUB) + " --print-signature");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "has no embedded Kiln artifact")) << r.out;
  EXPECT_TRUE(contains(r.out, "'" + std::string(KILN_EXE_STUB) + "' has no")) << r.out;
}

TEST_F(ArtifactRunTest, LibraryStub) {
  std::vector<uint8_t> artifact = serializeArtifact(makeSampleArtifact());
  std::string lib = dir.path("libmodel.so"), error;
  ASSERT_TRUE(appendArtifactToStub(KILN_LIB_STUB, artifact, lib, error)) << error;
  void *h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  auto open = reinterpret_cast<kiln_status (*)(int, kiln_session **)>(dlsym(h, "kiln_model_open"));
  auto openModel =
      reinterpret_cast<kiln_status (*)(kiln_model **)>(dlsym(h, "kiln_model_open_embedded"));
  auto path = reinterpret_cast<const char *(*)()>(dlsym(h, "kiln_model_embedded_path"));
  auto numInputs = reinterpret_cast<int32_t (*)(const kiln_model *)>(dlsym(h, "kiln_model_num_inputs"));
  auto destroyModel = reinterpret_cast<void (*)(kiln_model *)>(dlsym(h, "kiln_model_destroy"));
  auto bind = reinterpret_cast<decltype(&kiln_session_bind_input)>(dlsym(h, "kiln_session_bind_input"));
  auto run = reinterpret_cast<decltype(&kiln_session_run)>(dlsym(h, "kiln_session_run"));
  auto read = reinterpret_cast<decltype(&kiln_session_read_output)>(dlsym(h, "kiln_session_read_output"));
  auto destroy = reinterpret_cast<decltype(&kiln_session_destroy)>(dlsym(h, "kiln_session_destroy"));
  ASSERT_TRUE(open && openModel && path && numInputs && destroyModel && bind && run && read &&
              destroy);
  // Only the C API is exported.
  EXPECT_EQ(dlsym(h, "_ZN6kilnrt18serializeArtifactERKNS_8ArtifactE"), nullptr);
  EXPECT_EQ(std::string(path()), lib);
  kiln_model *model = nullptr;
  ASSERT_EQ(openModel(&model), KILN_OK);
  EXPECT_EQ(numInputs(model), 1);
  destroyModel(model);
  kiln_session *session = nullptr;
  ASSERT_EQ(open(0, &session), KILN_OK);
  std::vector<float> x = {1, 2, 3}, y(3);
  int64_t dims[2] = {1, 3};
  ASSERT_EQ(bind(session, 0, x.data(), KILN_DTYPE_F32, dims, 2), KILN_OK);
  ASSERT_EQ(run(session), KILN_OK);
  ASSERT_EQ(read(session, 0, y.data(), 12), KILN_OK);
  EXPECT_EQ(y, (std::vector<float>{2, 3, 4}));
  destroy(session);
  dlclose(h);
  // The bare stub has no model.
  void *bare = dlopen(KILN_LIB_STUB, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(bare, nullptr) << dlerror();
  auto bareOpen = reinterpret_cast<kiln_status (*)(int, kiln_session **)>(dlsym(bare, "kiln_model_open"));
  auto bareError = reinterpret_cast<const char *(*)()>(dlsym(bare, "kiln_last_error"));
  EXPECT_EQ(bareOpen(0, &session), KILN_ERROR_IO);
  EXPECT_TRUE(contains(bareError(), "has no embedded Kiln artifact")) << bareError();
  dlclose(bare);
}

} // namespace
