//===- ArtifactTest.cpp - the .kiln artifact format ----------------------------------------===//
//
// Round trips, and every kind of damage a file can have: truncation at every length, every
// single-bit flip, wrong magic and version, out-of-range indices and malformed expressions in
// an otherwise well-formed file. Each must be reported in words, never crash.
//
//===----------------------------------------------------------------------------------------===//

#include "kilnrt/Artifact.h"

#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

using namespace kilnrt;
using namespace kilnrt::test;

namespace {

uint64_t get64(const std::vector<uint8_t> &b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | b[at + i];
  return v;
}
uint32_t get32(const std::vector<uint8_t> &b, size_t at) {
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 |
         uint32_t(b[at + 3]) << 24;
}
void set64(std::vector<uint8_t> &b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
void set32(std::vector<uint8_t> &b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

struct SectionInfo {
  uint32_t id;
  uint64_t offset, size;
  size_t entry; // byte offset of the table entry
};

std::vector<SectionInfo> sectionsOf(const std::vector<uint8_t> &b) {
  std::vector<SectionInfo> out;
  uint32_t n = get32(b, 24);
  for (uint32_t i = 0; i < n; ++i) {
    size_t e = 64 + 32 * i;
    out.push_back({get32(b, e), get64(b, e + 8), get64(b, e + 16), e});
  }
  return out;
}

const char *nameOf(uint32_t id) {
  switch (id) {
  case 1: return "meta";
  case 2: return "ptx";
  case 3: return "cubin";
  case 4: return "weights";
  }
  return "?";
}

/// Recomputes every section checksum and the header checksum (after a deliberate edit).
void rechecksum(std::vector<uint8_t> &b) {
  for (const SectionInfo &s : sectionsOf(b))
    if (s.offset <= b.size() && s.size <= b.size() - s.offset)
      set64(b, s.entry + 24, artifactChecksum(b.data() + s.offset, s.size));
  std::vector<uint8_t> covered(b.begin(), b.begin() + 56);
  covered.insert(covered.end(), b.begin() + 64, b.begin() + 64 + 32 * get32(b, 24));
  set64(b, 56, artifactChecksum(covered.data(), covered.size()));
}

/// Replaces the meta section with `meta` (re-laying out the file) and fixes the checksums.
std::vector<uint8_t> withMeta(const std::vector<uint8_t> &original, const std::vector<uint8_t> &meta) {
  // Rebuild through the serializer's own layout rules: meta first, then the other sections.
  std::vector<SectionInfo> sections = sectionsOf(original);
  std::vector<uint8_t> out(original.begin(), original.begin() + 64 + 32 * sections.size());
  for (SectionInfo &s : sections) {
    uint64_t align = s.id == 4 ? 256 : 8;
    out.resize((out.size() + align - 1) / align * align, 0);
    uint64_t offset = out.size();
    if (s.id == 1)
      out.insert(out.end(), meta.begin(), meta.end());
    else
      out.insert(out.end(), original.begin() + s.offset, original.begin() + s.offset + s.size);
    set64(out, s.entry + 8, offset);
    set64(out, s.entry + 16, out.size() - offset);
  }
  set64(out, 16, out.size());
  rechecksum(out);
  return out;
}

std::vector<uint8_t> metaOf(const std::vector<uint8_t> &b) {
  for (const SectionInfo &s : sectionsOf(b))
    if (s.id == 1)
      return std::vector<uint8_t>(b.begin() + s.offset, b.begin() + s.offset + s.size);
  return {};
}

std::string deserializeError(const std::vector<uint8_t> &bytes, ArtifactErrorKind *kind = nullptr) {
  Artifact out;
  std::string error;
  ArtifactErrorKind k = ArtifactErrorKind::None;
  bool ok = deserializeArtifact(bytes.data(), bytes.size(), out, error, "x.kiln", &k);
  if (kind)
    *kind = k;
  if (ok) {
    ADD_FAILURE() << "expected deserialization to fail";
    return "";
  }
  EXPECT_NE(k, ArtifactErrorKind::None);
  EXPECT_FALSE(error.empty());
  return error;
}

std::string errorOfArtifact(const Artifact &a) {
  std::vector<uint8_t> bytes = serializeArtifact(a);
  return deserializeError(bytes);
}

void expectSameEntry(const Entry &a, const Entry &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.cudaGraphs, b.cudaGraphs);
  ASSERT_EQ(a.symbols.size(), b.symbols.size());
  for (size_t i = 0; i < a.symbols.size(); ++i) {
    EXPECT_EQ(a.symbols[i].name, b.symbols[i].name);
    EXPECT_EQ(a.symbols[i].input, b.symbols[i].input);
    EXPECT_EQ(a.symbols[i].dim, b.symbols[i].dim);
    EXPECT_EQ(a.symbols[i].maxValue, b.symbols[i].maxValue);
  }
  auto sameBindings = [](const std::vector<TensorBinding> &x, const std::vector<TensorBinding> &y) {
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].name, y[i].name);
      EXPECT_EQ(x[i].dtype, y[i].dtype);
      EXPECT_EQ(x[i].dims, y[i].dims);
      EXPECT_EQ(x[i].buffer, y[i].buffer);
    }
  };
  sameBindings(a.inputs, b.inputs);
  sameBindings(a.outputs, b.outputs);
  ASSERT_EQ(a.launches.size(), b.launches.size());
  for (size_t i = 0; i < a.launches.size(); ++i) {
    const Launch &x = a.launches[i], &y = b.launches[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.kernel, y.kernel);
    for (int d = 0; d < 3; ++d) {
      EXPECT_EQ(x.grid[d], y.grid[d]);
      EXPECT_EQ(x.block[d], y.block[d]);
    }
    EXPECT_EQ(x.sharedBytes, y.sharedBytes);
    ASSERT_EQ(x.args.size(), y.args.size());
    for (size_t j = 0; j < x.args.size(); ++j) {
      EXPECT_EQ(x.args[j].kind, y.args[j].kind);
      if (x.args[j].kind == KernelArg::Kind::Buffer) {
        EXPECT_EQ(x.args[j].buffer, y.args[j].buffer);
        EXPECT_EQ(x.args[j].dtype, y.args[j].dtype);
      } else {
        EXPECT_EQ(x.args[j].scalar, y.args[j].scalar);
      }
    }
  }
}

void expectSameArtifact(const Artifact &a, const Artifact &b) {
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.precision, b.precision);
  EXPECT_EQ(a.producer, b.producer);
  EXPECT_EQ(a.ptx, b.ptx);
  EXPECT_EQ(a.cubin, b.cubin);
  EXPECT_EQ(a.kernels, b.kernels);
  ASSERT_EQ(a.buffers.size(), b.buffers.size());
  for (size_t i = 0; i < a.buffers.size(); ++i) {
    EXPECT_EQ(a.buffers[i].kind, b.buffers[i].kind);
    EXPECT_EQ(a.buffers[i].offset, b.buffers[i].offset);
    EXPECT_EQ(a.buffers[i].capacityBytes, b.buffers[i].capacityBytes);
  }
  EXPECT_EQ(a.arenaBytes, b.arenaBytes);
  EXPECT_EQ(a.weights, b.weights);
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i)
    expectSameEntry(a.entries[i], b.entries[i]);
  ASSERT_EQ(a.generation.has_value(), b.generation.has_value());
  if (a.generation) {
    const Generation &x = *a.generation, &y = *b.generation;
    EXPECT_EQ(x.cache.layers, y.cache.layers);
    EXPECT_EQ(x.cache.maxBatch, y.cache.maxBatch);
    EXPECT_EQ(x.cache.kvHeads, y.cache.kvHeads);
    EXPECT_EQ(x.cache.maxSeq, y.cache.maxSeq);
    EXPECT_EQ(x.cache.headDim, y.cache.headDim);
    EXPECT_EQ(x.cache.dtype, y.cache.dtype);
    EXPECT_EQ(x.cacheBuffer, y.cacheBuffer);
    EXPECT_EQ(x.prefillEntry, y.prefillEntry);
    EXPECT_EQ(x.decodeEntry, y.decodeEntry);
    EXPECT_EQ(x.vocabSize, y.vocabSize);
  }
}

//===-- dtypes and checksums ----------------------------------------------------------------===//

TEST(ArtifactDType, NamesAndSizes) {
  for (uint8_t v = 1; v <= 13; ++v) {
    DType t = static_cast<DType>(v), back;
    ASSERT_TRUE(dtypeFromName(dtypeName(t), back)) << dtypeName(t);
    EXPECT_EQ(back, t);
    EXPECT_GT(dtypeSize(t), 0u);
  }
  EXPECT_STREQ(dtypeName(DType::F32), "float32");
  EXPECT_STREQ(dtypeName(DType::BF16), "bfloat16");
  EXPECT_STREQ(dtypeName(DType::Bool), "bool");
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  DType t;
  EXPECT_FALSE(dtypeFromName("float8", t));
  EXPECT_FALSE(isValidDType(0));
  EXPECT_FALSE(isValidDType(14));
  EXPECT_EQ(dtypeSize(static_cast<DType>(99)), 0u);
  EXPECT_STREQ(dtypeName(static_cast<DType>(99)), "invalid");
}

TEST(ArtifactChecksum, KnownXxh64Values) {
  // Reference values from xxhsum -H1 (xxHash 0.8.1).
  EXPECT_EQ(artifactChecksum(nullptr, 0), 0xef46db3751d8e999ULL);
  EXPECT_EQ(artifactChecksum(reinterpret_cast<const uint8_t *>("abc"), 3), 0x44bc2cf5ad770999ULL);
  std::string s = "0123456789abcdefghijklmnopqrstuvwxyz0";
  EXPECT_EQ(artifactChecksum(reinterpret_cast<const uint8_t *>(s.data()), s.size()),
            0x38d93cca53eee0f0ULL);
  std::vector<uint8_t> big;
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 256; ++i)
      big.push_back(static_cast<uint8_t>(i));
  for (char c : std::string("kiln"))
    big.push_back(static_cast<uint8_t>(c));
  EXPECT_EQ(artifactChecksum(big.data(), big.size()), 0xc6dd8ed408004a18ULL);
}

TEST(ArtifactFormat, FormatBytes) {
  EXPECT_EQ(formatBytes(37), "37 bytes");
  EXPECT_EQ(formatBytes(512ull << 20), "512 MiB");
  EXPECT_EQ(formatBytes(1288490189ull), "1.20 GiB");
}

//===-- expressions ---------------------------------------------------------------------------===//

int64_t eval(const Expr &e, std::vector<int64_t> symbols = {}) {
  int64_t r = 0;
  std::string error;
  EXPECT_TRUE(e.evaluate(symbols, r, error)) << error;
  return r;
}

std::string evalError(const Expr &e, std::vector<int64_t> symbols = {}) {
  int64_t r = 0;
  std::string error;
  EXPECT_FALSE(e.evaluate(symbols, r, error)) << "evaluated to " << r;
  return error;
}

Expr bin(Expr::Op op, int64_t a, int64_t b) {
  Expr e;
  e.steps = {{Expr::Op::Const, a}, {Expr::Op::Const, b}, {op, 0}};
  return e;
}

TEST(ArtifactExpr, Arithmetic) {
  using Op = Expr::Op;
  EXPECT_EQ(eval(bin(Op::Add, 3, 4)), 7);
  EXPECT_EQ(eval(bin(Op::Sub, 3, 4)), -1);
  EXPECT_EQ(eval(bin(Op::Mul, -3, 4)), -12);
  EXPECT_EQ(eval(bin(Op::FloorDiv, 7, 2)), 3);
  EXPECT_EQ(eval(bin(Op::FloorDiv, -7, 2)), -4);
  EXPECT_EQ(eval(bin(Op::FloorDiv, 7, -2)), -4);
  EXPECT_EQ(eval(bin(Op::FloorDiv, -8, 2)), -4);
  EXPECT_EQ(eval(bin(Op::CeilDiv, 7, 2)), 4);
  EXPECT_EQ(eval(bin(Op::CeilDiv, -7, 2)), -3);
  EXPECT_EQ(eval(bin(Op::CeilDiv, 8, 2)), 4);
  EXPECT_EQ(eval(bin(Op::CeilDiv, 0, 64)), 0);
  EXPECT_EQ(eval(bin(Op::Rem, 7, 3)), 1);
  EXPECT_EQ(eval(bin(Op::Rem, -7, 3)), 2);
  EXPECT_EQ(eval(bin(Op::Rem, 7, -3)), -2);
  EXPECT_EQ(eval(bin(Op::Rem, INT64_MIN, -1)), 0);
  EXPECT_EQ(eval(bin(Op::Min, 3, -4)), -4);
  EXPECT_EQ(eval(bin(Op::Max, 3, -4)), 3);
  // ceildiv(seq, 32) * 32 + max(seq - 64, 0) over symbols.
  Expr seq = Expr::symbol(0);
  Expr e = Expr::binary(
      Op::Add,
      Expr::binary(Op::Mul, Expr::binary(Op::CeilDiv, seq, Expr::constant(32)), Expr::constant(32)),
      Expr::binary(Op::Max, Expr::binary(Op::Sub, seq, Expr::constant(64)), Expr::constant(0)));
  EXPECT_EQ(eval(e, {1}), 32);
  EXPECT_EQ(eval(e, {33}), 64);
  EXPECT_EQ(eval(e, {100}), 128 + 36);
  EXPECT_EQ(e.toString({"seq"}), "(ceildiv(seq, 32) * 32) + max((seq - 64), 0)");
  EXPECT_EQ(Expr::symbol(1).toString(), "s1");
  EXPECT_EQ(Expr::binary(Op::Add, Expr::symbol(0), Expr::constant(1)).toString({"seq"}),
            "seq + 1");
}

TEST(ArtifactExpr, ConstantsAndSymbols) {
  int64_t v = 0;
  uint32_t s = 0;
  EXPECT_TRUE(Expr::constant(-5).isConstant(&v));
  EXPECT_EQ(v, -5);
  EXPECT_FALSE(Expr::constant(-5).isSymbol());
  EXPECT_TRUE(Expr::symbol(3).isSymbol(&s));
  EXPECT_EQ(s, 3u);
  EXPECT_FALSE(Expr::symbol(3).isConstant());
  // binary() folds constants, but not an undefined result.
  EXPECT_TRUE(Expr::binary(Expr::Op::Mul, Expr::constant(6), Expr::constant(7)).isConstant(&v));
  EXPECT_EQ(v, 42);
  Expr undefined = Expr::binary(Expr::Op::FloorDiv, Expr::constant(1), Expr::constant(0));
  EXPECT_FALSE(undefined.isConstant());
  EXPECT_NE(evalError(undefined).find("division by zero"), std::string::npos);
}

TEST(ArtifactExpr, Errors) {
  using Op = Expr::Op;
  EXPECT_NE(evalError(bin(Op::FloorDiv, 1, 0)).find("division by zero"), std::string::npos);
  EXPECT_NE(evalError(bin(Op::CeilDiv, 1, 0)).find("division by zero"), std::string::npos);
  EXPECT_NE(evalError(bin(Op::Rem, 1, 0)).find("division by zero"), std::string::npos);
  EXPECT_NE(evalError(bin(Op::Add, INT64_MAX, 1)).find("overflow"), std::string::npos);
  EXPECT_NE(evalError(bin(Op::Sub, INT64_MIN, 1)).find("overflow"), std::string::npos);
  EXPECT_NE(evalError(bin(Op::Mul, INT64_MAX / 2, 3)).find("overflow"), std::string::npos);
  EXPECT_NE(evalError(bin(Op::FloorDiv, INT64_MIN, -1)).find("overflow"), std::string::npos);
  Expr empty;
  EXPECT_NE(evalError(empty).find("empty expression"), std::string::npos);
  Expr underflow;
  underflow.steps = {{Op::Const, 1}, {Op::Add, 0}};
  EXPECT_NE(evalError(underflow).find("needs two operands"), std::string::npos);
  Expr leftover;
  leftover.steps = {{Op::Const, 1}, {Op::Const, 2}};
  EXPECT_NE(evalError(leftover).find("leaves 2 values"), std::string::npos);
  Expr unknown;
  unknown.steps = {{Op::Const, 1}, {Op::Const, 2}, {static_cast<Op>(42), 0}};
  EXPECT_NE(evalError(unknown).find("unknown op 42"), std::string::npos);
  EXPECT_NE(evalError(Expr::symbol(2), {1, 2}).find("refers to symbol 2, but there are 2"),
            std::string::npos);
  Expr negative;
  negative.steps = {{Op::Symbol, -1}};
  std::string negativeError;
  EXPECT_FALSE(negative.validate(4, negativeError));
  EXPECT_EQ(unknown.toString(), "<malformed expression>");
  // A long program (beyond the evaluator's fixed stack).
  Expr sum = Expr::constant(0);
  for (int i = 1; i <= 40; ++i)
    sum = Expr::binary(Op::Add, Expr::symbol(0), sum);
  EXPECT_EQ(eval(sum, {3}), 120);
}

//===-- round trip -----------------------------------------------------------------------------===//

TEST(ArtifactFormat, RoundTrip) {
  Artifact a = makeSampleArtifact();
  a.cubin = {1, 2, 3, 4, 5};
  a.weights.resize(1000);
  for (size_t i = 0; i < a.weights.size(); ++i)
    a.weights[i] = static_cast<uint8_t>(i * 7);
  a.buffers[2].capacityBytes = 1000;
  std::string error;
  ASSERT_TRUE(validateArtifact(a, error)) << error;
  std::vector<uint8_t> bytes = serializeArtifact(a);
  Artifact b;
  ASSERT_TRUE(deserializeArtifact(bytes.data(), bytes.size(), b, error)) << error;
  expectSameArtifact(a, b);
  // Serialization is deterministic.
  EXPECT_EQ(serializeArtifact(b), bytes);
  // The weights section is 256-byte aligned, and the file ends with it.
  bool sawWeights = false;
  for (const SectionInfo &s : sectionsOf(bytes)) {
    if (s.id == 4) {
      sawWeights = true;
      EXPECT_EQ(s.offset % 256, 0u);
      EXPECT_EQ(s.offset + s.size, bytes.size());
    }
  }
  EXPECT_TRUE(sawWeights);
}

TEST(ArtifactFormat, EmptyArtifactRoundTrips) {
  Artifact a;
  a.target = "sm_90";
  a.entries.resize(1);
  a.entries[0].name = "main";
  std::vector<uint8_t> bytes = serializeArtifact(a);
  Artifact b;
  std::string error;
  ASSERT_TRUE(deserializeArtifact(bytes.data(), bytes.size(), b, error)) << error;
  expectSameArtifact(a, b);
}

TEST(ArtifactFormat, FileRoundTripAndMessagesNameTheFile) {
  TempDir dir;
  Artifact a = makeSampleArtifact();
  std::string path = dir.path("model.kiln"), error;
  ASSERT_TRUE(writeArtifactFile(path, a, error)) << error;
  Artifact b;
  ASSERT_TRUE(readArtifactFile(path, b, error)) << error;
  expectSameArtifact(a, b);

  std::vector<uint8_t> bytes;
  ASSERT_TRUE(readFileBytes(path, bytes, error)) << error;
  std::string truncated = dir.path("truncated.kiln");
  ASSERT_TRUE(writeFileAtomically(truncated, bytes.data(), bytes.size() - 100, 0644, error));
  ArtifactErrorKind kind;
  EXPECT_FALSE(readArtifactFile(truncated, b, error, &kind));
  EXPECT_EQ(kind, ArtifactErrorKind::Truncated);
  EXPECT_EQ(error, "artifact '" + truncated + "' is truncated: " +
                       std::to_string(bytes.size() - 100) + " of " +
                       std::to_string(bytes.size()) + " bytes");

  EXPECT_FALSE(readArtifactFile(dir.path("missing.kiln"), b, error, &kind));
  EXPECT_EQ(kind, ArtifactErrorKind::Io);
  EXPECT_NE(error.find("cannot read '" + dir.path("missing.kiln") + "'"), std::string::npos);
  EXPECT_FALSE(readArtifactFile(dir.str(), b, error, &kind));
  EXPECT_NE(error.find("is a directory"), std::string::npos);
}

TEST(ArtifactFormat, WriteRefusesAnInvalidArtifact) {
  TempDir dir;
  Artifact a = makeSampleArtifact();
  a.entries[0].launches[0].kernel = 9;
  std::string error;
  EXPECT_FALSE(writeArtifactFile(dir.path("bad.kiln"), a, error));
  EXPECT_NE(error.find("uses kernel 9, but there are 2 kernels"), std::string::npos) << error;
  struct stat st;
  EXPECT_NE(stat(dir.path("bad.kiln").c_str(), &st), 0);
}

//===-- damage ---------------------------------------------------------------------------------===//

void checkTruncationAtEveryLength(const Artifact &artifact) {
  std::vector<uint8_t> bytes = serializeArtifact(artifact);
  std::string total = std::to_string(bytes.size());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    ArtifactErrorKind kind;
    std::string error = deserializeError(cut, &kind);
    if (n == 0) {
      EXPECT_EQ(error, "artifact 'x.kiln' is empty");
      continue;
    }
    EXPECT_EQ(kind, ArtifactErrorKind::Truncated) << n << ": " << error;
    if (n < 24)
      EXPECT_EQ(error, "artifact 'x.kiln' is truncated: " + std::to_string(n) +
                           " bytes, less than its 64-byte header");
    else
      EXPECT_EQ(error, "artifact 'x.kiln' is truncated: " + std::to_string(n) + " of " + total +
                           " bytes");
  }
}

TEST(ArtifactCorruption, TruncationAtEveryLength) {
  checkTruncationAtEveryLength(makeSampleArtifact());
  checkTruncationAtEveryLength(makeGenerationArtifact());
}

void checkEveryBitFlipIsDetected(Artifact a) {
  a.cubin = {9, 8, 7};
  std::vector<uint8_t> bytes = serializeArtifact(a);
  std::vector<SectionInfo> sections = sectionsOf(bytes);
  size_t tableEnd = 64 + 32 * sections.size();
  for (size_t at = 0; at < bytes.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> flipped = bytes;
      flipped[at] ^= static_cast<uint8_t>(1u << bit);
      ArtifactErrorKind kind;
      std::string error = deserializeError(flipped, &kind);
      std::string where = "byte " + std::to_string(at) + " bit " + std::to_string(bit) + ": ";
      if (at < 8) {
        EXPECT_EQ(kind, ArtifactErrorKind::NotKiln) << where << error;
        EXPECT_NE(error.find("is not a Kiln artifact"), std::string::npos) << where << error;
      } else if (at < 12) {
        EXPECT_EQ(kind, ArtifactErrorKind::Version) << where << error;
      } else if (at < tableEnd) {
        // Header and table: the header checksum, or a header field too damaged to locate it.
        EXPECT_TRUE(kind == ArtifactErrorKind::Corrupt || kind == ArtifactErrorKind::Truncated)
            << where << error;
      } else {
        const SectionInfo *in = nullptr;
        for (const SectionInfo &s : sections)
          if (at >= s.offset && at < s.offset + s.size)
            in = &s;
        if (in)
          EXPECT_EQ(error, std::string("artifact 'x.kiln': checksum mismatch in section '") +
                               nameOf(in->id) + "'")
              << where;
        else
          EXPECT_EQ(error, "artifact 'x.kiln' is corrupt: nonzero padding byte at offset " +
                               std::to_string(at))
              << where;
      }
    }
  }
}

TEST(ArtifactCorruption, EveryBitFlipIsDetected) {
  checkEveryBitFlipIsDetected(makeSampleArtifact());
  checkEveryBitFlipIsDetected(makeGenerationArtifact());
}

TEST(ArtifactCorruption, HeaderFlipsNameTheHeader) {
  std::vector<uint8_t> bytes = serializeArtifact(makeSampleArtifact());
  for (size_t at : {16u, 17u, 40u, 56u, 64u, 72u, 100u}) {
    std::vector<uint8_t> flipped = bytes;
    flipped[at] ^= 0x10;
    EXPECT_EQ(deserializeError(flipped), "artifact 'x.kiln': checksum mismatch in the header")
        << "byte " << at;
  }
}

TEST(ArtifactCorruption, WrongMagicAndVersion) {
  std::vector<uint8_t> bytes = serializeArtifact(makeSampleArtifact());
  std::vector<uint8_t> text(bytes.size(), 'a');
  ArtifactErrorKind kind;
  EXPECT_EQ(deserializeError(text, &kind),
            "artifact 'x.kiln' is not a Kiln artifact (it does not start with the artifact magic)");
  EXPECT_EQ(kind, ArtifactErrorKind::NotKiln);
  std::vector<uint8_t> v7 = bytes;
  set32(v7, 8, 7);
  EXPECT_EQ(deserializeError(v7, &kind),
            "artifact 'x.kiln' has artifact format version 7, this runtime reads 2");
  EXPECT_EQ(kind, ArtifactErrorKind::Version);
  // Even a v7 file cut short says "version" first: its layout is unknown.
  std::vector<uint8_t> v7short(v7.begin(), v7.begin() + 20);
  EXPECT_NE(deserializeError(v7short).find("format version 7"), std::string::npos);
}

TEST(ArtifactCorruption, TrailingBytesAndBadHeaderFields) {
  std::vector<uint8_t> bytes = serializeArtifact(makeSampleArtifact());
  std::vector<uint8_t> longer = bytes;
  longer.resize(bytes.size() + 3, 0);
  EXPECT_EQ(deserializeError(longer), "artifact 'x.kiln' is corrupt: " +
                                          std::to_string(bytes.size() + 3) +
                                          " bytes, but its header says " +
                                          std::to_string(bytes.size()));
  std::vector<uint8_t> many = bytes;
  set32(many, 24, 1000);
  EXPECT_NE(deserializeError(many).find("malformed header"), std::string::npos);
  // A section pointing outside the file, with valid checksums.
  std::vector<uint8_t> outside = bytes;
  set64(outside, 64 + 8, bytes.size() + 10);
  rechecksum(outside);
  EXPECT_NE(deserializeError(outside).find("section 'meta' (offset"), std::string::npos);
  EXPECT_NE(deserializeError(outside).find("lies outside the file"), std::string::npos);
  // A duplicated section id.
  std::vector<uint8_t> twice = bytes;
  set32(twice, 64 + 32, 1);
  rechecksum(twice);
  EXPECT_NE(deserializeError(twice).find("section 'meta' appears twice"), std::string::npos);
  std::vector<uint8_t> unknownId = bytes;
  set32(unknownId, 64 + 32, 77);
  rechecksum(unknownId);
  EXPECT_NE(deserializeError(unknownId).find("unknown section id 77"), std::string::npos);
  // A missing required section.
  std::vector<uint8_t> fewer = bytes;
  set32(fewer, 24, 3); // drops the weights entry from the table
  std::fill(fewer.begin() + 64 + 96, fewer.begin() + 64 + 128, 0);
  rechecksum(fewer);
  EXPECT_FALSE(deserializeError(fewer).empty());
}

void checkMalformedMeta(const Artifact &artifact) {
  std::vector<uint8_t> bytes = serializeArtifact(artifact);
  std::vector<uint8_t> meta = metaOf(bytes);
  // A target string claiming 4 GB.
  std::vector<uint8_t> hugeString = meta;
  set32(hugeString, 0, 0xffffffffu);
  EXPECT_NE(deserializeError(withMeta(bytes, hugeString))
                .find("section 'meta' is malformed: length of target (4294967295) at byte 0 "
                      "exceeds the section"),
            std::string::npos);
  // Extra bytes at the end.
  std::vector<uint8_t> longer = meta;
  longer.push_back(0);
  EXPECT_NE(deserializeError(withMeta(bytes, longer)).find("1 unexpected bytes at the end"),
            std::string::npos);
  // Every truncation of the meta section (with valid checksums) fails cleanly.
  for (size_t n = 0; n < meta.size(); ++n) {
    std::vector<uint8_t> cut(meta.begin(), meta.begin() + n);
    std::string error = deserializeError(withMeta(bytes, cut));
    EXPECT_NE(error.find("section 'meta' is malformed"), std::string::npos) << n << ": " << error;
  }
  // Arbitrary byte values in the meta section (checksums fixed up) never crash.
  for (size_t at = 0; at < meta.size(); ++at) {
    for (uint8_t v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::vector<uint8_t> m = meta;
      if (m[at] == v)
        continue;
      m[at] = v;
      Artifact out;
      std::string error;
      std::vector<uint8_t> file = withMeta(bytes, m);
      if (!deserializeArtifact(file.data(), file.size(), out, error)) {
        EXPECT_FALSE(error.empty());
      }
    }
  }
}

TEST(ArtifactCorruption, MalformedMeta) {
  checkMalformedMeta(makeSampleArtifact());
  checkMalformedMeta(makeGenerationArtifact());
}

TEST(ArtifactCorruption, OutOfRangeIndices) {
  auto check = [](void (*edit)(Artifact &), const char *expected) {
    Artifact a = makeSampleArtifact();
    edit(a);
    std::string error = errorOfArtifact(a);
    EXPECT_NE(error.find(std::string("artifact 'x.kiln' is corrupt: ") + expected),
              std::string::npos)
        << error;
    std::string direct;
    EXPECT_FALSE(validateArtifact(a, direct));
  };
  check([](Artifact &a) { a.entries[0].launches[0].kernel = 2; },
        "launch 0 ('add') uses kernel 2, but there are 2 kernels");
  check([](Artifact &a) { a.entries[0].launches[0].args[1].buffer = 3; },
        "launch 0 ('add') argument 1 uses buffer 3, but there are 3 buffers");
  check([](Artifact &a) { a.entries[0].inputs[0].buffer = 7; },
        "input 0 ('x') uses buffer 7, but there are 3 buffers");
  check([](Artifact &a) { a.entries[0].outputs[0].buffer = 3; },
        "output 0 ('y') uses buffer 3, but there are 3 buffers");
  check([](Artifact &a) { a.entries[0].inputs[0].buffer = 2; },
        "input 0 ('x') is bound to buffer 2, which is not in the arena");
  check([](Artifact &a) { a.entries[0].symbols[0].input = 1; },
        "symbol 0 ('seq') refers to input 1, but there are 1 inputs");
  check([](Artifact &a) { a.entries[0].symbols[0].dim = 2; },
        "symbol 0 ('seq') refers to dim 2 of input 'x', which has 2 dims");
  check([](Artifact &a) { a.entries[0].symbols[0].dim = 0; },
        "symbol 0 ('seq') refers to dim 0 of input 'x', whose extent is not that symbol");
  check([](Artifact &a) { a.entries[0].symbols[0].maxValue = 0; },
        "symbol 0 ('seq') has maximum 0 (must be >= 1)");
  check([](Artifact &a) { a.buffers[1].capacityBytes = 1000; },
        "buffer 1 (offset 256, 1000 bytes) does not fit in the arena (512 bytes)");
  check([](Artifact &a) { a.buffers[1].offset = UINT64_MAX; },
        "buffer 1 (offset 18446744073709551615, 256 bytes) does not fit in the arena");
  check([](Artifact &a) { a.buffers[2].capacityBytes = 17; },
        "buffer 2 (offset 0, 17 bytes) does not fit in the weights (16 bytes)");
  check([](Artifact &a) { a.entries[0].launches[0].grid[1] = Expr::symbol(1); },
        "launch 0 ('add') grid y: expression step 0 refers to symbol 1, but there are 1 symbols");
  check([](Artifact &a) { a.entries[0].launches[0].grid[2].steps.push_back({Expr::Op::Mul, 0}); },
        "launch 0 ('add') grid z: expression step 1 (*) needs two operands, the stack has 1");
  check([](Artifact &a) { a.entries[0].launches[0].args[3].scalar.steps.clear(); },
        "launch 0 ('add') argument 3: empty expression");
  check([](Artifact &a) { a.entries[0].launches[0].args[3].scalar.steps.push_back({Expr::Op::Const, 1}); },
        "launch 0 ('add') argument 3: expression leaves 2 values on the stack instead of 1");
  check([](Artifact &a) { a.entries[0].outputs[0].dims[0] = Expr::constant(-1); },
        "output 0 ('y') dim 0 is negative (-1)");
  check([](Artifact &a) { a.entries[0].launches[0].block[1] = 0; }, "launch 0 ('add') has block y = 0");
  check([](Artifact &a) { a.entries[0].launches[0].block[1] = 64; },
        "launch 0 ('add') has 2048 threads per block (at most 1024)");
  check([](Artifact &a) { a.entries[0].outputs.push_back(a.entries[0].outputs[0]); },
        "outputs 0 and 1 are both named 'y'");
  check([](Artifact &a) { a.kernels[1].clear(); }, "kernel 1 has an empty name");
  check([](Artifact &a) { a.ptx.clear(); }, "the artifact has kernels but neither PTX nor a cubin");
}

TEST(ArtifactCorruption, HugeTablesStayLinear) {
  // A hostile file may hold many entries: checks must not be quadratic.
  Artifact a = makeSampleArtifact();
  for (int i = 0; i < 50000; ++i)
    a.entries[0].outputs.push_back({"o" + std::to_string(i), DType::F32, {Expr::constant(1)}, 1});
  a.entries[0].outputs.push_back({"o7", DType::F32, {Expr::constant(1)}, 1});
  std::string error = errorOfArtifact(a);
  EXPECT_NE(error.find("outputs 8 and 50001 are both named 'o7'"), std::string::npos) << error;
  Expr deep = Expr::symbol(0);
  for (int i = 0; i < 100000; ++i) {
    deep.steps.push_back({Expr::Op::Const, 1});
    deep.steps.push_back({Expr::Op::Add, 0});
  }
  EXPECT_EQ(deep.toString({"seq"}), "<expression of 200001 steps>");
  int64_t v = 0;
  EXPECT_TRUE(deep.evaluate({5}, v, error));
  EXPECT_EQ(v, 100005);
}

TEST(ArtifactCorruption, BadEnumsInMeta) {
  Artifact a = makeSampleArtifact();
  a.entries[0].inputs[0].dtype = static_cast<DType>(0);
  EXPECT_NE(errorOfArtifact(a).find("section 'meta' is malformed: unknown dtype 0 in input"),
            std::string::npos);
  a = makeSampleArtifact();
  a.entries[0].launches[0].grid[0].steps[1].op = static_cast<Expr::Op>(200);
  EXPECT_NE(errorOfArtifact(a).find("section 'meta' is malformed: unknown op 200 in launch grid"),
            std::string::npos);
  a = makeSampleArtifact();
  a.buffers[0].kind = static_cast<Buffer::Kind>(5);
  EXPECT_NE(errorOfArtifact(a).find("buffer 0 has unknown kind 5"), std::string::npos);
  a = makeSampleArtifact();
  a.entries[0].launches[0].args[0].kind = static_cast<KernelArg::Kind>(3);
  EXPECT_NE(errorOfArtifact(a).find("launch 0 argument 0 has unknown kind 3"), std::string::npos);
}

//===-- format v2: entries and generation ----------------------------------------------------===//

TEST(ArtifactFormat, GenerationRoundTrip) {
  Artifact a = makeGenerationArtifact();
  std::string error;
  ASSERT_TRUE(validateArtifact(a, error)) << error;
  EXPECT_EQ(a.generation->cache.bytesPerSlot(), 1u * 2 * 1 * 32 * 1 * 4);
  std::vector<uint8_t> bytes = serializeArtifact(a);
  Artifact b;
  ASSERT_TRUE(deserializeArtifact(bytes.data(), bytes.size(), b, error)) << error;
  expectSameArtifact(a, b);
  ASSERT_EQ(b.entries.size(), 3u);
  EXPECT_EQ(b.entries[1].name, "prefill");
  EXPECT_FALSE(b.entries[1].cudaGraphs);
  EXPECT_TRUE(b.entries[2].cudaGraphs);
  EXPECT_EQ(b.buffers[b.generation->cacheBuffer].kind, Buffer::Kind::Cache);
  EXPECT_EQ(serializeArtifact(b), bytes);
  // Without the generation section (and its cache buffer) it is a plain multi-entry artifact.
  Artifact plain = makeSampleArtifact();
  plain.entries.push_back(plain.entries[0]);
  plain.entries[1].name = "other";
  plain.entries[1].cudaGraphs = false;
  bytes = serializeArtifact(plain);
  ASSERT_TRUE(deserializeArtifact(bytes.data(), bytes.size(), b, error)) << error;
  expectSameArtifact(plain, b);
  EXPECT_FALSE(b.generation.has_value());
}

TEST(ArtifactFormat, KVCacheLayoutBytes) {
  KVCacheLayout c;
  c.layers = 12;
  c.maxBatch = 64;
  c.kvHeads = 4;
  c.maxSeq = 2048;
  c.headDim = 64;
  c.dtype = DType::F16;
  EXPECT_EQ(c.bytesPerSlot(), 12ull * 2 * 4 * 2048 * 64 * 2);
  c.dtype = DType::BF16;
  EXPECT_EQ(c.bytesPerSlot(), 12ull * 2 * 4 * 2048 * 64 * 2);
  c.dtype = DType::F32;
  EXPECT_EQ(c.bytesPerSlot(), 12ull * 2 * 4 * 2048 * 64 * 4);
  c.layers = c.kvHeads = c.maxSeq = c.headDim = 0xffffffffu;
  EXPECT_EQ(c.bytesPerSlot(), 0u); // overflow
}

TEST(ArtifactCorruption, EntriesAndGenerationAreValidated) {
  auto check = [](void (*edit)(Artifact &), const std::string &expected) {
    Artifact a = makeGenerationArtifact();
    edit(a);
    std::string direct;
    EXPECT_FALSE(validateArtifact(a, direct)) << expected;
    EXPECT_EQ(direct, expected);
    std::string error = errorOfArtifact(a);
    EXPECT_EQ(error, "artifact 'x.kiln' is corrupt: " + expected);
  };
  // Entries.
  check([](Artifact &a) { a.entries.clear(); a.generation.reset(); a.buffers.pop_back(); },
        "the artifact has no entries");
  check([](Artifact &a) { a.entries[2].name = "prefill"; },
        "entries 1 and 2 are both named 'prefill'");
  check([](Artifact &a) { a.entries[1].name.clear(); }, "entry 1 has an empty name");
  // With several entries, messages about one name it.
  check([](Artifact &a) { a.entries[2].launches[0].kernel = 7; },
        "entry 2 ('decode'): launch 0 ('lm') uses kernel 7, but there are 3 kernels");
  check([](Artifact &a) { a.entries[1].symbols[0].maxValue = 0; },
        "entry 1 ('prefill'): symbol 0 ('seq') has maximum 0 (must be >= 1)");
  // Cache buffers.
  check([](Artifact &a) { a.entries[1].inputs[1].buffer = a.generation->cacheBuffer; },
        "entry 1 ('prefill'): input 1 ('kiln.positions') is bound to buffer 7, which is not in "
        "the arena");
  check([](Artifact &a) { a.entries[1].outputs[0].buffer = a.generation->cacheBuffer; },
        "entry 1 ('prefill'): output 0 ('logits') is bound to buffer 7, the KV cache");
  check([](Artifact &a) { a.generation.reset(); },
        "buffer 7 is a KV cache buffer, but the artifact has no generation section");
  check([](Artifact &a) { a.buffers.push_back(a.buffers[7]); },
        "buffer 8 is a KV cache buffer, but the cache is buffer 7");
  check([](Artifact &a) { a.generation->cacheBuffer = 3; },
        "buffer 7 is a KV cache buffer, but the cache is buffer 3");
  check([](Artifact &a) { a.buffers[7].capacityBytes = 1000; },
        "cache buffer 7 (offset 0, 1000 bytes) must have offset 0 and 1024 bytes (4 slots of 256 "
        "bytes)");
  check([](Artifact &a) { a.buffers[7].offset = 8; },
        "cache buffer 7 (offset 8, 1024 bytes) must have offset 0 and 1024 bytes (4 slots of 256 "
        "bytes)");
  check([](Artifact &a) {
          a.generation->cacheBuffer = 9;
          a.buffers[7].kind = Buffer::Kind::Arena;
        },
        "the generation section names cache buffer 9, but there are 8 buffers");
  check([](Artifact &a) { a.generation->cacheBuffer = 3; a.buffers[7].kind = Buffer::Kind::Arena; },
        "the generation section names cache buffer 3, which is a buffer of the arena");
  // The layout.
  check([](Artifact &a) { a.generation->cache.kvHeads = 0; },
        "the generation section has a KV cache with kv_heads = 0");
  check([](Artifact &a) { a.generation->cache.dtype = DType::I8; },
        "the generation section has a KV cache of int8 (must be float32, float16 or bfloat16)");
  check([](Artifact &a) { a.generation->vocabSize = 0; },
        "the generation section has vocabulary size 0 (must be >= 1)");
  // The entries it names.
  check([](Artifact &a) { a.generation->decodeEntry = 3; },
        "the generation section names decode entry 3, but there are 3 entries");
  check([](Artifact &a) { a.generation->decodeEntry = 1; },
        "the generation section names entry 1 both for prefill and for decode");
  check([](Artifact &a) { a.generation->prefillEntry = 0; },
        "the prefill entry (entry 0, 'main') has 1 inputs; it must take 3 (token ids int64 [1, "
        "T], 'kiln.positions' int64 [T], 'kiln.slots' int64 [T])");
  check([](Artifact &a) { a.entries[2].inputs[0].dtype = DType::I32; },
        "the decode entry (entry 2, 'decode') input 0 is 'input_ids' int32 [1, seq]; the inputs "
        "must be token ids int64 [1, T], 'kiln.positions' int64 [T], 'kiln.slots' int64 [T] "
        "with T symbol 0");
  check([](Artifact &a) { std::swap(a.entries[1].inputs[1].name, a.entries[1].inputs[2].name); },
        "the prefill entry (entry 1, 'prefill') input 1 is 'kiln.slots' int64 [seq]; the inputs "
        "must be token ids int64 [1, T], 'kiln.positions' int64 [T], 'kiln.slots' int64 [T] "
        "with T symbol 0");
  check([](Artifact &a) { a.entries[1].inputs[2].dims.push_back(Expr::constant(1)); },
        "the prefill entry (entry 1, 'prefill') input 2 is 'kiln.slots' int64 [seq, 1]; the "
        "inputs must be token ids int64 [1, T], 'kiln.positions' int64 [T], 'kiln.slots' int64 "
        "[T] with T symbol 0");
  check([](Artifact &a) { a.entries[2].outputs.push_back(a.entries[2].outputs[0]);
                          a.entries[2].outputs[1].name = "extra"; },
        "the decode entry (entry 2, 'decode') has 2 outputs; it must return only the logits "
        "(float32 [1, T, vocab])");
  check([](Artifact &a) { a.generation->vocabSize = 17; },
        "the prefill entry (entry 1, 'prefill') output 'logits' is float32 [1, seq, 16]; the "
        "logits must be float32 [1, T, 17]");
  check([](Artifact &a) { a.entries[2].outputs[0].dtype = DType::F16; },
        "the decode entry (entry 2, 'decode') output 'logits' is float16 [1, seq, 16]; the "
        "logits must be float32 [1, T, 16]");
}

TEST(ArtifactCorruption, BadFlagsInMeta) {
  // The entry's CUDA graph flag and the generation flag are 0 or 1.
  Artifact a = makeSampleArtifact();
  std::vector<uint8_t> bytes = serializeArtifact(a);
  std::vector<uint8_t> meta = metaOf(bytes);
  ASSERT_EQ(meta.back(), 0); // no generation section
  meta.back() = 2;
  EXPECT_NE(deserializeError(withMeta(bytes, meta))
                .find("section 'meta' is malformed: generation flag is 2 (must be 0 or 1)"),
            std::string::npos);
  meta.back() = 1; // a generation section that is not there
  EXPECT_NE(deserializeError(withMeta(bytes, meta)).find("section 'meta' is malformed: truncated"),
            std::string::npos);
}

//===-- embedded artifacts ----------------------------------------------------------------------===//

TEST(ArtifactEmbedding, AppendAndFind) {
  TempDir dir;
  std::string stub = dir.path("stub"), exe = dir.path("model"), error;
  std::string stubText = "#!/bin/sh\necho stub\n";
  ASSERT_TRUE(writeFileAtomically(stub, stubText.data(), stubText.size(), 0755, error)) << error;
  std::vector<uint8_t> artifact = serializeArtifact(makeSampleArtifact());
  mode_t old = umask(022);
  bool ok = appendArtifactToStub(stub, artifact, exe, error);
  umask(old);
  ASSERT_TRUE(ok) << error;
  struct stat st;
  ASSERT_EQ(stat(exe.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  std::vector<uint8_t> found;
  ASSERT_TRUE(findEmbeddedArtifact(exe, found, error)) << error;
  EXPECT_EQ(found, artifact);
  std::vector<uint8_t> whole;
  ASSERT_TRUE(readFileBytes(exe, whole, error));
  EXPECT_EQ(std::string(whole.begin(), whole.begin() + stubText.size()), stubText);
  EXPECT_EQ((whole.size() - kEmbeddedTrailerSize - artifact.size()) % 256, 0u);

  // The plain stub has no artifact; an executable with one is not a stub.
  EXPECT_FALSE(findEmbeddedArtifact(stub, found, error));
  EXPECT_NE(error.find("has no embedded Kiln artifact"), std::string::npos) << error;
  EXPECT_FALSE(appendArtifactToStub(exe, artifact, dir.path("again"), error));
  EXPECT_NE(error.find("already has an embedded artifact"), std::string::npos) << error;
  EXPECT_FALSE(findEmbeddedArtifact(dir.path("missing"), found, error));
  EXPECT_NE(error.find("cannot read"), std::string::npos);
  // A damaged trailer.
  std::vector<uint8_t> damaged = whole;
  set64(damaged, damaged.size() - 24, damaged.size());
  ASSERT_TRUE(writeFileAtomically(dir.path("damaged"), damaged.data(), damaged.size(), 0755, error));
  EXPECT_FALSE(findEmbeddedArtifact(dir.path("damaged"), found, error));
  EXPECT_NE(error.find("damaged KILNEXE1 trailer"), std::string::npos) << error;
}

} // namespace
