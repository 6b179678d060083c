//===- NpzTest.cpp - the runtime's .npy / .npz reader and writer ---------------------------===//
//
// Round trips, the repository's real reference files, files numpy writes (compressed ones
// too, through /usr/bin/python3 when it has numpy), damaged files, and the float16/bfloat16
// conversions.
//
//===----------------------------------------------------------------------------------------===//

#include "Npz.h"

#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <dirent.h>
#include <sys/stat.h>

using namespace kilnrt;
using namespace kilnrt::test;

namespace {

NpyArray iota(DType dtype, std::vector<int64_t> shape) {
  NpyArray a;
  a.dtype = DType::F64;
  a.shape = shape;
  size_t n = a.numElements();
  a.data.resize(n * 8);
  for (size_t i = 0; i < n; ++i) {
    double v = static_cast<double>(i % 7) - 2.5 * (i % 2);
    std::memcpy(a.data.data() + 8 * i, &v, 8);
  }
  return a.castTo(dtype);
}

bool haveNumpy() {
  return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

TEST(RuntimeNpy, RoundTripEveryDType) {
  TempDir dir;
  for (uint8_t v = 1; v <= 13; ++v) {
    DType t = static_cast<DType>(v);
    if (t == DType::BF16)
      continue;
    for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {5}, {2, 3}, {1, 0, 4}}) {
      NpyArray a = iota(t, shape);
      std::string path = dir.path("a.npy"), error;
      ASSERT_TRUE(writeNpyFile(path, a, error)) << error;
      NpyArray b;
      ASSERT_TRUE(readNpyFile(path, b, error)) << error;
      EXPECT_EQ(b.dtype, t);
      EXPECT_EQ(b.shape, shape);
      EXPECT_EQ(b.data, a.data) << dtypeName(t);
    }
  }
  NpyArray bf = iota(DType::BF16, {3});
  std::string error;
  EXPECT_FALSE(writeNpyFile(dir.path("bf.npy"), bf, error));
  EXPECT_NE(error.find("numpy has no bfloat16 dtype"), std::string::npos) << error;
}

TEST(RuntimeNpy, DamagedFiles) {
  NpyArray a = iota(DType::F32, {2, 3});
  std::vector<uint8_t> bytes;
  std::string error;
  ASSERT_TRUE(encodeNpy(a, bytes, error));
  EXPECT_EQ(bytes.size() % 64, 24u % 64); // 64-aligned header, then 24 data bytes
  NpyArray out;
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(parseNpy(bytes.data(), n, "t.npy", out, error)) << n;
  EXPECT_NE(error.find("'t.npy': truncated: the data needs 24 bytes, the file has 23"),
            std::string::npos)
      << error;
  auto withHeader = [&](const std::string &header) {
    std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              static_cast<uint8_t>(header.size()), 0};
    b.insert(b.end(), header.begin(), header.end());
    b.resize(b.size() + 64, 0);
    std::string e;
    EXPECT_FALSE(parseNpy(b.data(), b.size(), "h.npy", out, e)) << header;
    return e;
  };
  EXPECT_NE(withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }")
                .find("big-endian dtype '>f4' is not supported"),
            std::string::npos);
  EXPECT_NE(withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }")
                .find("Fortran-ordered arrays are not supported"),
            std::string::npos);
  EXPECT_NE(withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }")
                .find("unsupported dtype '<c8'"),
            std::string::npos);
  EXPECT_NE(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }")
                .find("too large"),
            std::string::npos);
  EXPECT_NE(withHeader("{'fortran_order': False, 'shape': (2,), }").find("no descr"),
            std::string::npos);
  EXPECT_NE(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }")
                .find("malformed .npy shape"),
            std::string::npos);
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  EXPECT_FALSE(parseNpy(text.data(), text.size(), "t.txt", out, error));
  EXPECT_EQ(error, "'t.txt': not a .npy file (bad magic)");
  // A Fortran-ordered vector is just a vector.
  std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }";
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                            static_cast<uint8_t>(header.size()), 0};
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + 8, 0);
  EXPECT_TRUE(parseNpy(b.data(), b.size(), "v.npy", out, error)) << error;
}

TEST(RuntimeNpz, RoundTripAndDamage) {
  TempDir dir;
  NamedArrays arrays = {{"in0", iota(DType::I64, {1, 8})}, {"ort_out0", iota(DType::F32, {1, 8, 3})}};
  std::string path = dir.path("r.npz"), error;
  ASSERT_TRUE(writeNpzFile(path, arrays, error)) << error;
  NamedArrays back;
  ASSERT_TRUE(readNpzFile(path, back, error)) << error;
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].first, "in0");
  EXPECT_EQ(back[1].first, "ort_out0");
  EXPECT_EQ(back[1].second.data, arrays[1].second.data);
  EXPECT_EQ(back[1].second.shape, arrays[1].second.shape);

  std::vector<uint8_t> bytes;
  ASSERT_TRUE(readFileBytes(path, bytes, error));
  // Every truncation and every byte flip fails cleanly or (flips in unchecked fields) reads.
  for (size_t n = 0; n < bytes.size(); ++n) {
    NamedArrays out;
    EXPECT_FALSE(parseNpz(bytes.data(), n, "r.npz", out, error)) << n;
  }
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::vector<uint8_t> b = bytes;
    b[at] ^= 0x5a;
    NamedArrays out;
    if (!parseNpz(b.data(), b.size(), "r.npz", out, error)) {
      EXPECT_EQ(error.rfind("'r.npz", 0), 0u) << error;
    }
  }
  // A flipped data byte is a CRC mismatch.
  std::vector<uint8_t> b = bytes;
  b[200] ^= 1;
  NamedArrays out;
  EXPECT_FALSE(parseNpz(b.data(), b.size(), "r.npz", out, error));
  EXPECT_EQ(error, "'r.npz': CRC mismatch in entry 'in0.npy'");
}

TEST(RuntimeNpz, ReadsTheRepositoryReferenceFiles) {
  std::string dirPath = std::string(KILN_SOURCE_DIR) + "/models";
  DIR *d = opendir(dirPath.c_str());
  ASSERT_NE(d, nullptr);
  int files = 0;
  while (dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".npz") != 0)
      continue;
    ++files;
    NamedArrays arrays;
    std::string error;
    ASSERT_TRUE(readNpzFile(dirPath + "/" + name, arrays, error)) << error;
    const NpyArray *in0 = nullptr, *out0 = nullptr;
    for (const auto &[key, array] : arrays) {
      if (key == "in0")
        in0 = &array;
      if (key == "ort_out0")
        out0 = &array;
    }
    ASSERT_TRUE(in0 && out0) << name;
    EXPECT_EQ(in0->dtype, DType::I64) << name;
    ASSERT_EQ(in0->shape.size(), 2u) << name;
    EXPECT_EQ(in0->shape[0], 1) << name;
    EXPECT_EQ(out0->dtype, DType::F32) << name;
    ASSERT_EQ(out0->shape.size(), 3u) << name;
    EXPECT_EQ(out0->shape[1], in0->shape[1]) << name;
    for (size_t i = 0; i < out0->numElements(); ++i)
      ASSERT_TRUE(std::isfinite(out0->getDouble(i))) << name << " element " << i;
    if (name.compare(0, 7, "bytelm_") == 0) {
      for (size_t i = 0; i < in0->numElements(); ++i)
        ASSERT_LT(static_cast<uint64_t>(in0->getDouble(i)), 256u) << name;
    }
  }
  closedir(d);
  EXPECT_GE(files, 5);
}

TEST(RuntimeNpz, FilesNumpyWrites) {
  if (!haveNumpy())
    GTEST_SKIP() << "/usr/bin/python3 with numpy is needed";
  TempDir dir;
  std::string script =
      "import numpy as np\n"
      "a = np.arange(24, dtype=np.float16).reshape(2, 3, 4)\n"
      "b = np.array([[True, False], [False, True]])\n"
      "c = np.arange(-5, 5, dtype=np.int32)\n"
      "d = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))[:, ::1]\n"
      "np.savez('" + dir.path("plain.npz") + "', a=a, b=b, c=c)\n"
      "np.savez_compressed('" + dir.path("compressed.npz") + "', a=a, b=b, c=c)\n"
      "np.save('" + dir.path("u64.npy") + "', np.array([2**63 + 5], dtype=np.uint64))\n"
      "np.save('" + dir.path("f.npy") + "', d)\n";
  std::string scriptPath = dir.path("make.py");
  std::string error;
  ASSERT_TRUE(writeFileAtomically(scriptPath, script.data(), script.size(), 0644, error));
  ASSERT_EQ(std::system(("/usr/bin/python3 " + scriptPath).c_str()), 0);
  for (const char *file : {"plain.npz", "compressed.npz"}) {
    NamedArrays arrays;
    bool ok = readNpzFile(dir.path(file), arrays, error);
#if !KILNRT_TEST_HAVE_ZLIB
    if (std::string(file) == "compressed.npz") {
      EXPECT_FALSE(ok);
      EXPECT_NE(error.find("compressed .npz needs zlib"), std::string::npos) << error;
      continue;
    }
#endif
    ASSERT_TRUE(ok) << error;
    ASSERT_EQ(arrays.size(), 3u);
    EXPECT_EQ(arrays[0].second.describe(), "float16 [2, 3, 4]");
    EXPECT_EQ(arrays[0].second.getDouble(23), 23.0);
    EXPECT_EQ(arrays[1].second.describe(), "bool [2, 2]");
    EXPECT_EQ(arrays[1].second.getDouble(3), 1.0);
    EXPECT_EQ(arrays[2].second.describe(), "int32 [10]");
    EXPECT_EQ(arrays[2].second.getDouble(0), -5.0);
  }
  NpyArray u64;
  ASSERT_TRUE(readNpyFile(dir.path("u64.npy"), u64, error)) << error;
  uint64_t v;
  std::memcpy(&v, u64.data.data(), 8);
  EXPECT_EQ(v, (uint64_t(1) << 63) + 5);
  NpyArray f;
  EXPECT_FALSE(readNpyFile(dir.path("f.npy"), f, error));
  EXPECT_NE(error.find("Fortran-ordered"), std::string::npos) << error;

  // numpy reads what the runtime writes.
  NpyArray mine = iota(DType::F16, {3, 2});
  ASSERT_TRUE(writeNpyFile(dir.path("mine.npy"), mine, error));
  ASSERT_TRUE(writeNpzFile(dir.path("mine.npz"), {{"x", mine}}, error));
  std::string check = "/usr/bin/python3 -c \"import numpy as np; a = np.load('" +
                      dir.path("mine.npy") + "'); z = np.load('" + dir.path("mine.npz") +
                      "'); assert a.dtype == np.float16 and a.shape == (3, 2) and "
                      "(z['x'] == a).all() and a[2, 1] == 2.5, a\"";
  EXPECT_EQ(std::system(check.c_str()), 0);
}

TEST(RuntimeNpy, HalfAndBfloat16) {
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(halfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);         // rounds up to infinity
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00); // ties to even
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);        // tie to even (zero)
  EXPECT_EQ(floatToHalf(std::ldexp(1.5f, -25)), 0x0001);
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = halfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f))
      continue;
    ASSERT_EQ(floatToHalf(f), h) << std::hex << h;
  }
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(floatToBfloat16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBfloat16(1.00390625f), 0x3f80); // tie to even
  EXPECT_EQ(floatToBfloat16(1.01171875f), 0x3f82);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(floatToBfloat16(NAN))));
  NpyArray a = iota(DType::F32, {4});
  NpyArray b = a.castTo(DType::BF16).castTo(DType::F32);
  EXPECT_EQ(b.data, a.data); // small integers and halves are exact in bfloat16
  EXPECT_EQ(crc32(reinterpret_cast<const uint8_t *>("123456789"), 9), 0xcbf43926u);
}

} // namespace
