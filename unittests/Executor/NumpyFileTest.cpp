//===- NumpyFileTest.cpp - numpy .npy / .npz reader and writer ------------===//
//
// Round trips through Kiln's own writer, interoperability with files that numpy writes and reads
// (numpy is run through /usr/bin/python3 at test time; those tests are skipped without it), and
// malformed input: every corruption must give an error that names the file, never a crash.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/NumpyFile.h"

#include "ExecutorTestSupport.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>

using namespace llvm;
using namespace kiln::exec;
using namespace kiln::exec::test;

namespace {

constexpr StringLiteral kPython = "/usr/bin/python3";

const DType kNumpyDTypes[] = {DType::F32, DType::F16, DType::F64, DType::I8,
                              DType::I16, DType::I32, DType::I64, DType::U8,
                              DType::U16, DType::U32, DType::U64, DType::Bool};

/// The message of a failed Expected, or "" (and a test failure) when it succeeded.
template <typename T> std::string errorOf(Expected<T> value) {
  if (value) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return toString(value.takeError());
}

std::string errorOf(Error error) {
  if (!error) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return toString(std::move(error));
}

/// "" on success, else the error's message (so that a failure shows it).
std::string messageOf(Error error) { return error ? toString(std::move(error)) : ""; }

/// start, start + 1, ... (`count` values).
std::vector<double> sequence(size_t count, double start = 0) {
  std::vector<double> values(count);
  for (size_t i = 0; i < count; ++i)
    values[i] = start + static_cast<double>(i);
  return values;
}

ArrayRef<char> asBytes(StringRef text) { return ArrayRef<char>(text.data(), text.size()); }

/// A .npy file with the given header dict (padded as numpy does) and data.
std::string makeNpy(StringRef dict, StringRef data, uint8_t major = 1) {
  std::string header = dict.str();
  size_t prefixSize = major == 1 ? 10 : 12;
  while ((prefixSize + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string file = "\x93NUMPY";
  file += static_cast<char>(major);
  file += '\0';
  char length[4];
  support::endian::write32le(length, static_cast<uint32_t>(header.size()));
  file.append(length, major == 1 ? 2 : 4);
  return file + header + data.str();
}

std::string encode(const Tensor &tensor) {
  Expected<std::vector<char>> bytes = encodeNpy(tensor);
  if (!bytes) {
    ADD_FAILURE() << toString(bytes.takeError());
    return "";
  }
  return std::string(bytes->begin(), bytes->end());
}

//===----------------------------------------------------------------------===//
// A minimal ZIP writer, to build archives with the layouts the reader must handle
//===----------------------------------------------------------------------===//

struct ZipMember {
  std::string name;
  std::string data;
  /// Store the member as method 8, in a deflate stream of one uncompressed block.
  bool deflate = false;
  /// The bytes to store instead of the (deflated) data, to corrupt a member.
  std::optional<std::string> storedBytes = std::nullopt;
};

struct ZipLayout {
  /// Sizes and offsets in the central directory are 0xFFFFFFFF, the values in a zip64 extra.
  bool zip64Extra = false;
  /// The classic end record holds placeholders; the values are in a zip64 end record.
  bool zip64End = false;
  std::string comment;
};

void put16(std::string &out, uint16_t value) {
  char bytes[2];
  support::endian::write16le(bytes, value);
  out.append(bytes, 2);
}
void put32(std::string &out, uint32_t value) {
  char bytes[4];
  support::endian::write32le(bytes, value);
  out.append(bytes, 4);
}
void put64(std::string &out, uint64_t value) {
  char bytes[8];
  support::endian::write64le(bytes, value);
  out.append(bytes, 8);
}

/// A deflate stream of one final stored block (valid deflate without a compressor).
std::string deflateStored(StringRef data) {
  std::string out;
  out += '\x01'; // BFINAL = 1, BTYPE = 00 (stored).
  put16(out, static_cast<uint16_t>(data.size()));
  put16(out, static_cast<uint16_t>(~data.size()));
  return out + data.str();
}

uint32_t crcOf(StringRef data) {
  return crc32(ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(data.data()), data.size()));
}

std::string buildZip(ArrayRef<ZipMember> members, const ZipLayout &layout = {}) {
  std::string archive, directory;
  for (const ZipMember &member : members) {
    std::string stored = member.storedBytes ? *member.storedBytes
                         : member.deflate   ? deflateStored(member.data)
                                            : member.data;
    uint32_t crc = crcOf(member.data);
    uint64_t localOffset = archive.size();
    put32(archive, 0x04034b50);
    put16(archive, 20);
    put16(archive, 0);
    put16(archive, member.deflate ? 8 : 0);
    put32(archive, 0); // Time and date.
    put32(archive, crc);
    put32(archive, stored.size());
    put32(archive, member.data.size());
    put16(archive, member.name.size());
    put16(archive, 0);
    archive += member.name + stored;

    std::string extra;
    if (layout.zip64Extra) {
      put16(extra, 0x0001);
      put16(extra, 24);
      put64(extra, member.data.size());
      put64(extra, stored.size());
      put64(extra, localOffset);
    }
    uint32_t placeholder = 0xFFFFFFFF;
    put32(directory, 0x02014b50);
    put16(directory, 45);
    put16(directory, 45);
    put16(directory, 0);
    put16(directory, member.deflate ? 8 : 0);
    put32(directory, 0);
    put32(directory, crc);
    put32(directory, layout.zip64Extra ? placeholder : stored.size());
    put32(directory, layout.zip64Extra ? placeholder : member.data.size());
    put16(directory, member.name.size());
    put16(directory, extra.size());
    put16(directory, 0); // Comment.
    put16(directory, 0); // Disk.
    put16(directory, 0); // Internal attributes.
    put32(directory, 0); // External attributes.
    put32(directory, layout.zip64Extra ? placeholder : localOffset);
    directory += member.name + extra;
  }
  uint64_t directoryOffset = archive.size();
  archive += directory;
  if (layout.zip64End) {
    uint64_t zip64EndOffset = archive.size();
    put32(archive, 0x06064b50);
    put64(archive, 44);
    put16(archive, 45);
    put16(archive, 45);
    put32(archive, 0);
    put32(archive, 0);
    put64(archive, members.size());
    put64(archive, members.size());
    put64(archive, directory.size());
    put64(archive, directoryOffset);
    put32(archive, 0x07064b50);
    put32(archive, 0);
    put64(archive, zip64EndOffset);
    put32(archive, 1);
  }
  put32(archive, 0x06054b50);
  put16(archive, 0);
  put16(archive, 0);
  put16(archive, layout.zip64End ? 0xFFFF : members.size());
  put16(archive, layout.zip64End ? 0xFFFF : members.size());
  put32(archive, layout.zip64End ? 0xFFFFFFFF : directory.size());
  put32(archive, layout.zip64End ? 0xFFFFFFFF : directoryOffset);
  put16(archive, layout.comment.size());
  return archive + layout.comment;
}

//===----------------------------------------------------------------------===//
// Fixture: a temporary directory
//===----------------------------------------------------------------------===//

class NumpyFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::error_code error = sys::fs::createUniqueDirectory("kiln-numpy-test", directory);
    ASSERT_FALSE(error) << error.message();
  }
  void TearDown() override { sys::fs::remove_directories(directory); }

  std::string pathOf(StringRef name) const {
    SmallString<128> path(directory);
    sys::path::append(path, name);
    return std::string(path);
  }

  void writeFile(StringRef name, StringRef contents) {
    std::error_code error;
    raw_fd_ostream os(pathOf(name), error);
    ASSERT_FALSE(error) << error.message();
    os << contents;
  }

  std::string readFile(StringRef name) {
    ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(pathOf(name));
    if (!buffer) {
      ADD_FAILURE() << "cannot read " << name.str();
      return "";
    }
    return (*buffer)->getBuffer().str();
  }

  /// The names of the files in the directory.
  std::vector<std::string> listDirectory() {
    std::vector<std::string> names;
    std::error_code error;
    for (sys::fs::directory_iterator it(directory, error), end; it != end && !error;
         it.increment(error))
      names.push_back(sys::path::filename(it->path()).str());
    std::sort(names.begin(), names.end());
    return names;
  }

  /// Whether python3 with numpy can be run.
  static bool hasNumpy() {
    static bool available = sys::fs::can_execute(kPython) &&
                            sys::ExecuteAndWait(kPython, {kPython, "-c", "import numpy"}) == 0;
    return available;
  }

  /// Runs a Python script with the directory as sys.argv[1]; true on exit status 0.
  bool runPython(StringRef script) {
    std::string outputPath = pathOf("python-output.txt");
    std::optional<StringRef> redirects[] = {std::nullopt, StringRef(outputPath),
                                            StringRef(outputPath)};
    std::string errorMessage;
    int status = sys::ExecuteAndWait(kPython, {kPython, "-c", script, directory.str()},
                                     std::nullopt, redirects, /*SecondsToWait=*/120,
                                     /*MemoryLimit=*/0, &errorMessage);
    std::string output = readFile("python-output.txt");
    sys::fs::remove(outputPath);
    if (status != 0)
      ADD_FAILURE() << "python failed (" << status << ") " << errorMessage << ":\n" << output;
    return status == 0;
  }

  SmallString<128> directory;
};

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST_F(NumpyFileTest, RoundTripEveryDType) {
  std::vector<SmallVector<int64_t>> shapes = {{2, 3}, {}, {0, 4}, {5}, {1, 2, 1, 2}};
  for (DType dtype : kNumpyDTypes) {
    for (ArrayRef<int64_t> shape : shapes) {
      int64_t count = *getElementCount(shape);
      Tensor original = makeTensor(dtype, shape, sequence(count, -2));
      std::string path = pathOf("roundtrip.npy");
      ASSERT_EQ("", messageOf(writeNpyFile(path, original))) << "writing " << original.describe();
      Expected<Tensor> read = readNpyFile(path);
      ASSERT_TRUE(bool(read)) << toString(read.takeError());
      EXPECT_EQ(read->getDType(), dtype);
      EXPECT_EQ(read->getShape(), shape);
      EXPECT_EQ(read->toBytes(), original.toBytes()) << original.describe();
    }
  }
}

TEST_F(NumpyFileTest, WriterAlignsDataAndOverwrites) {
  std::string path = pathOf("aligned.npy");
  ASSERT_EQ("", messageOf(writeNpyFile(path, makeTensor(DType::I64, {3}, {1, 2, 3}))));
  ASSERT_EQ("", messageOf(writeNpyFile(path, makeTensor(DType::F32, {2}, {0.5, -1}))));
  std::string contents = readFile("aligned.npy");
  ASSERT_GE(contents.size(), 10u);
  EXPECT_EQ(contents.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  size_t headerLength = support::endian::read16le(contents.data() + 8);
  EXPECT_EQ((10 + headerLength) % 64, 0u);
  EXPECT_EQ(contents[10 + headerLength - 1], '\n');
  EXPECT_TRUE(StringRef(contents).contains("'descr': '<f4'"));
  EXPECT_TRUE(StringRef(contents).contains("'shape': (2,)"));
  EXPECT_EQ(contents.size(), 10 + headerLength + 8);
  // No temporary file is left behind.
  EXPECT_EQ(listDirectory(), std::vector<std::string>{"aligned.npy"});
}

TEST_F(NumpyFileTest, WriterFailuresLeaveNoFile) {
  // numpy has no bfloat16.
  std::string message =
      errorOf(writeNpyFile(pathOf("bf16.npy"), makeTensor(DType::BF16, {2}, {1, 2})));
  EXPECT_TRUE(contains(message, "bf16.npy")) << message;
  EXPECT_TRUE(contains(message, "bfloat16")) << message;
  // A null tensor.
  message = errorOf(writeNpyFile(pathOf("null.npy"), Tensor()));
  EXPECT_TRUE(contains(message, "null.npy")) << message;
  // A directory that does not exist.
  message = errorOf(writeNpyFile(pathOf("missing/a.npy"), makeTensor(DType::F32, {1}, {1})));
  EXPECT_TRUE(contains(message, "missing/a.npy")) << message;
  // The destination is a directory: the rename fails after the data were written.
  ASSERT_FALSE(sys::fs::create_directory(pathOf("taken.npy")));
  message = errorOf(writeNpyFile(pathOf("taken.npy"), makeTensor(DType::F32, {1}, {1})));
  EXPECT_TRUE(contains(message, "taken.npy")) << message;
  EXPECT_EQ(listDirectory(), std::vector<std::string>{"taken.npy"});
}

TEST_F(NumpyFileTest, ReadMissingFileNamesIt) {
  std::string message = errorOf(readNpyFile(pathOf("absent.npy")));
  EXPECT_TRUE(contains(message, "absent.npy")) << message;
  message = errorOf(readNpzFile(pathOf("absent.npz")));
  EXPECT_TRUE(contains(message, "absent.npz")) << message;
}

//===----------------------------------------------------------------------===//
// .npy parsing
//===----------------------------------------------------------------------===//

TEST(NpyParseTest, HeaderVariants) {
  std::string data(12, '\0');
  data[0] = 1; // int32 [1, 0, 0]
  // Double quotes, odd whitespace, no trailing comma, keys in another order, versions 2 and 3.
  for (StringRef dict : {"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                         "{\"shape\":(3,),\"descr\":\"<i4\",\"fortran_order\":False}",
                         "{ 'descr' : '=i4' ,\t'fortran_order' : False , 'shape' : ( 3 , ) }",
                         "{'descr': '<i4', 'fortran_order': False, 'shape': (3L,), }"}) {
    for (uint8_t major : {1, 2, 3}) {
      Expected<Tensor> tensor = parseNpy(asBytes(makeNpy(dict, data, major)), "x.npy");
      ASSERT_TRUE(bool(tensor)) << dict.str() << ": " << toString(tensor.takeError());
      EXPECT_EQ(tensor->getDType(), DType::I32);
      EXPECT_EQ(tensor->getShape(), ArrayRef<int64_t>{3});
      EXPECT_EQ(tensor->getInt(0), 1);
    }
  }
  // '|' on a multi-byte type, '>' on a single-byte type: byte order does not matter there.
  EXPECT_TRUE(bool(parseNpy(
      asBytes(makeNpy("{'descr': '>u1', 'fortran_order': False, 'shape': (2,)}", "ab")), "x")));
}

TEST(NpyParseTest, FortranOrder) {
  // A 2x3 array [[0, 1, 2], [3, 4, 5]] laid out column-major: 0 3 1 4 2 5.
  std::string data;
  for (int value : {0, 3, 1, 4, 2, 5})
    data += static_cast<char>(value);
  Expected<Tensor> tensor = parseNpy(
      asBytes(makeNpy("{'descr': '|i1', 'fortran_order': True, 'shape': (2, 3), }", data)), "f");
  ASSERT_TRUE(bool(tensor)) << toString(tensor.takeError());
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_EQ(tensor->getInt(i), i);

  // A 2x3x2 float32 array (element (i, j, k) = 100 i + 10 j + k) column-major: i varies fastest.
  std::string floats;
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) {
        char bytes[4];
        support::endian::write32le(bytes, llvm::bit_cast<uint32_t>(float(100 * i + 10 * j + k)));
        floats.append(bytes, 4);
      }
  tensor = parseNpy(
      asBytes(makeNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 2), }", floats)),
      "f");
  ASSERT_TRUE(bool(tensor)) << toString(tensor.takeError());
  EXPECT_EQ(tensor->getShape(), ArrayRef<int64_t>({2, 3, 2}));
  std::vector<double> expected;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k)
        expected.push_back(100 * i + 10 * j + k);
  EXPECT_EQ(valuesOf(*tensor), expected);
}

TEST(NpyParseTest, MalformedInputsGiveErrors) {
  std::string valid = encode(makeTensor(DType::F32, {2, 3}, sequence(6)));
  auto errorFor = [](StringRef bytes) { return errorOf(parseNpy(asBytes(bytes), "bad.npy")); };
  auto withDict = [](StringRef dict, StringRef data = "") { return makeNpy(dict, data); };

  std::vector<std::pair<std::string, StringRef>> cases = {
      {"GARBAGE GARBAGE", "bad magic"},
      {"", "truncated"},
      {valid.substr(0, 7), "no format version"},
      {valid.substr(0, 9), "no header length"},
      {valid.substr(0, 20), "truncated .npy header"},
      {valid.substr(0, valid.size() - 1), "truncated array data"},
      {valid + "x", "unexpected bytes after"},
      {makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", "1234", 4), "version 4.0"},
      {withDict("{'descr': '<f4', 'fortran_order': False}"), "missing key 'shape'"},
      {withDict("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}"), "unexpected key"},
      {withDict("{'descr': '<f4', 'descr': '<f4'}"), "duplicate key"},
      {withDict("{'descr': '<f4', 'fortran_order': No, 'shape': ()}"), "True or False"},
      {withDict("{'descr': '<f4', 'fortran_order': False, 'shape': 3}"), "must be a tuple"},
      {withDict("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"), "negative"},
      {withDict("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}"), "expected ','"},
      {withDict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
       "must be a tuple of integers"},
      {withDict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}"), "structured"},
      {withDict("{'descr': '<c8', 'fortran_order': False, 'shape': ()}"), "unsupported dtype"},
      {withDict("{'descr': 'f4', 'fortran_order': False, 'shape': ()}"), "unsupported dtype"},
      {withDict("{'descr': '>f4', 'fortran_order': False, 'shape': ()}", "1234"), "big-endian"},
      {withDict("{'descr' '<f4', 'fortran_order': False, 'shape': ()}"), "expected ':'"},
      {withDict("{'descr': '<f4', 'fortran_order': False, 'shape': ()} junk"), "unexpected text"},
      {withDict("['descr']"), "dict literal"},
      {withDict("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, "
                "4294967296)}"),
       "overflows"},
      // A huge but representable array without its data must not be allocated.
      {withDict("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}"),
       "truncated array data"},
  };
  for (auto &[bytes, expected] : cases) {
    std::string message = errorFor(bytes);
    EXPECT_TRUE(contains(message, "bad.npy: ")) << message;
    EXPECT_TRUE(contains(message, expected))
        << "expected '" << expected.str() << "' in '" << message << "'";
  }
}

TEST(NpyParseTest, EveryTruncationAndByteFlipIsSafe) {
  std::string valid = encode(makeTensor(DType::I16, {2, 2}, {1, -2, 3, -4}));
  for (size_t length = 0; length < valid.size(); ++length)
    EXPECT_TRUE(contains(errorOf(parseNpy(asBytes(valid.substr(0, length)), "t")), "t: "))
        << length;
  // Corrupting any byte either still parses or gives an error; it never crashes.
  for (size_t index = 0; index < valid.size(); ++index) {
    for (char replacement : {'\0', '\xff', '(', ',', '\'', '9'}) {
      std::string corrupt = valid;
      corrupt[index] = replacement;
      Expected<Tensor> tensor = parseNpy(asBytes(corrupt), "t");
      if (!tensor)
        consumeError(tensor.takeError());
    }
  }
}

//===----------------------------------------------------------------------===//
// .npz parsing
//===----------------------------------------------------------------------===//

TEST(NpzParseTest, Layouts) {
  Tensor first = makeTensor(DType::F32, {2, 2}, {1, 2, 3, 4});
  Tensor second = makeTensor(DType::I64, {}, {-9});
  std::vector<ZipMember> members = {{"first.npy", encode(first)}, {"second.npy", encode(second)}};
  std::vector<ZipMember> deflated = members;
  for (ZipMember &member : deflated)
    member.deflate = true;
  std::vector<std::string> archives = {
      buildZip(members),
      buildZip(deflated),
      buildZip(members, {/*zip64Extra=*/true, /*zip64End=*/false, ""}),
      buildZip(deflated, {/*zip64Extra=*/true, /*zip64End=*/true, ""}),
      // A comment that holds an end record signature.
      buildZip(members, {/*zip64Extra=*/false, /*zip64End=*/false,
                         std::string("PK\x05\x06") + std::string(30, 'x')}),
  };
  for (auto [index, archive] : llvm::enumerate(archives)) {
    Expected<std::vector<std::pair<std::string, Tensor>>> arrays =
        parseNpz(asBytes(archive), "a.npz");
    ASSERT_TRUE(bool(arrays)) << index << ": " << toString(arrays.takeError());
    ASSERT_EQ(arrays->size(), 2u);
    EXPECT_EQ((*arrays)[0].first, "first");
    EXPECT_EQ((*arrays)[0].second.toBytes(), first.toBytes());
    EXPECT_EQ((*arrays)[1].first, "second");
    EXPECT_EQ((*arrays)[1].second.getShape(), ArrayRef<int64_t>{});
    EXPECT_EQ((*arrays)[1].second.getInt(0), -9);
  }
  // An empty archive has no arrays; a member without the .npy suffix keeps its name.
  Expected<std::vector<std::pair<std::string, Tensor>>> empty =
      parseNpz(asBytes(buildZip({})), "e");
  ASSERT_TRUE(bool(empty)) << toString(empty.takeError());
  EXPECT_TRUE(empty->empty());
  Expected<std::vector<std::pair<std::string, Tensor>>> plain =
      parseNpz(asBytes(buildZip({{"raw", encode(first)}})), "p");
  ASSERT_TRUE(bool(plain)) << toString(plain.takeError());
  EXPECT_EQ(plain->front().first, "raw");
}

TEST(NpzParseTest, CorruptArchivesGiveErrors) {
  std::string npy = encode(makeTensor(DType::U8, {4}, {1, 2, 3, 4}));
  std::string valid = buildZip({{"a.npy", "placeholder"}, {"b.npy", npy}});
  auto errorFor = [](StringRef bytes) { return errorOf(parseNpz(asBytes(bytes), "bad.npz")); };
  auto corrupt = [&](StringRef archive, StringRef find, StringRef replace) {
    std::string result = archive.str();
    size_t at = result.rfind(find.str());
    EXPECT_NE(at, std::string::npos);
    return result.replace(at, find.size(), replace.str());
  };
  std::string single = buildZip({{"b.npy", npy}});
  std::string deflated = buildZip({{"b.npy", npy, /*deflate=*/true}});
  // Offsets in `single`: the local header, then the name and data, then the directory entry.
  size_t directoryOffset = 30 + 5 + npy.size();
  auto patch32 = [](std::string archive, size_t offset, uint32_t value) {
    support::endian::write32le(&archive[offset], value);
    return archive;
  };
  auto deflateMember = [&](std::string stored) {
    return buildZip({{"b.npy", npy, /*deflate=*/true, std::move(stored)}});
  };

  std::vector<std::pair<std::string, StringRef>> cases = {
      {"", "too short"},
      {npy, "this is a .npy file"},
      {std::string(100, 'z'), "no end of central directory"},
      // The member 'a.npy' is not an array: the error names the member.
      {valid, "member 'a.npy': not a .npy file"},
      // Flipping a data byte of a stored member breaks its CRC.
      {corrupt(single, StringRef("\x01\x02\x03\x04", 4), StringRef("\x01\x02\x03\x05", 4)),
       "member 'b.npy': CRC-32 mismatch"},
      {corrupt(buildZip({{"a.npy", npy}, {"b.npy", npy}}), "PK\x01\x02", "PK\x01\x09"),
       "corrupt central directory (entry 1"},
      {corrupt(single, "PK\x03\x04", "PK\x03\x09"), "corrupt local file header"},
      {valid.substr(0, valid.size() - 1), "no end of central directory"},
      // The central directory offset or size points past the end.
      {patch32(single, single.size() - 6, 0x10000), "lies outside the file"},
      {patch32(single, single.size() - 10, 0x10000), "lies outside the file"},
      // The local header offset or the compressed size points past the end.
      {patch32(single, directoryOffset + 42, 0x10000), "corrupt local file header"},
      {patch32(single, directoryOffset + 20, 0x10000), "outside the file"},
      // Sizes say zip64 but there is no zip64 extra field.
      {patch32(single, directoryOffset + 24, 0xFFFFFFFF), "no zip64 extra field"},
      {patch32(single, directoryOffset + 10, 99), "unsupported compression method 99"},
      // The encryption flag.
      {patch32(single, directoryOffset + 8, 1), "encrypted"},
      {deflateMember("\x07"), "corrupt deflate data"}, // Block type 11 is reserved.
      {deflateMember(deflateStored(npy).substr(0, 20)), "truncated deflate data"},
      {deflateMember(deflateStored(npy + "more")), "more than the declared"},
      {deflateMember(deflateStored(npy.substr(0, 50))), "instead of the declared"},
      {patch32(deflated, deflated.size() - 22 - 46 - 5 + 24, 0x7FFFFFFF), "impossible"},
      {buildZip({{"b.npy", npy}, {"b.npy", npy}}), "duplicate"},
  };
  for (auto &[bytes, expected] : cases) {
    std::string message = errorFor(bytes);
    EXPECT_TRUE(contains(message, "bad.npz")) << message;
    EXPECT_TRUE(contains(message, expected))
        << "expected '" << expected.str() << "' in '" << message << "'";
  }

  // Every truncation and every byte flip of archives of each layout is an error or a valid
  // result, never a crash (the sanitizer builds catch out-of-bounds reads).
  std::vector<std::string> archives = {
      valid, deflated, buildZip({{"b.npy", npy}}, {/*zip64Extra=*/true, /*zip64End=*/true, ""})};
  for (const std::string &archive : archives) {
    for (size_t length = 0; length < archive.size(); ++length) {
      Expected<std::vector<std::pair<std::string, Tensor>>> arrays =
          parseNpz(asBytes(StringRef(archive).take_front(length)), "t");
      if (!arrays)
        consumeError(arrays.takeError());
    }
    for (size_t index = 0; index < archive.size(); ++index) {
      for (char replacement : {'\0', '\xff', '\x7f'}) {
        std::string flipped = archive;
        flipped[index] = replacement;
        Expected<std::vector<std::pair<std::string, Tensor>>> arrays =
            parseNpz(asBytes(flipped), "t");
        if (!arrays)
          consumeError(arrays.takeError());
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Interoperability with numpy
//===----------------------------------------------------------------------===//

constexpr StringLiteral kNumpyWriterScript = R"py(
import numpy as np, sys
d = sys.argv[1] + '/'
np.save(d + 'float32.npy', (np.arange(6, dtype=np.float32) / 4 - 1).reshape(2, 3))
np.save(d + 'float16.npy', np.array([1.5, -2.25, 65504, 0.1], dtype=np.float16))
np.save(d + 'float64.npy', np.array([[1e300], [-0.1]], dtype=np.float64))
for t in ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']:
    info = np.iinfo(t)
    np.save(d + t + '.npy', np.array([info.min, info.max, 0, 1], dtype=t))
np.save(d + 'bool.npy', np.array([[True, False], [False, True]]))
np.save(d + 'fortran.npy', np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)))
np.save(d + 'scalar.npy', np.array(3.5))
np.save(d + 'empty.npy', np.zeros((0, 3), np.float32))
np.save(d + 'bigendian.npy', np.arange(3, dtype='>i4'))
for major in (2, 3):
    with open(d + 'v%d.npy' % major, 'wb') as f:
        np.lib.format.write_array(f, np.arange(4, dtype=np.int16), version=(major, 0))
np.savez(d + 'plain.npz', x=np.arange(5, dtype=np.int64), y=np.array(2.5, np.float32))
np.savez(d + 'positional.npz', np.ones((2, 2), np.uint8), np.zeros(0, np.float64))
np.savez_compressed(d + 'compressed.npz',
                    big=np.arange(10000, dtype=np.float32).reshape(100, 100),
                    mask=np.arange(7) % 2 == 0, scalar=np.array(-7, np.int8))
)py";

TEST_F(NumpyFileTest, ReadsWhatNumpyWrites) {
  if (!hasNumpy())
    GTEST_SKIP() << "needs " << kPython.str() << " with numpy";
  ASSERT_TRUE(runPython(kNumpyWriterScript));

  auto read = [&](StringRef name) {
    Expected<Tensor> tensor = readNpyFile(pathOf(name));
    if (!tensor) {
      ADD_FAILURE() << toString(tensor.takeError());
      return Tensor();
    }
    return std::move(*tensor);
  };
  Tensor f32 = read("float32.npy");
  EXPECT_EQ(f32.getDType(), DType::F32);
  EXPECT_EQ(f32.getShape(), (ArrayRef<int64_t>{2, 3}));
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_EQ(f32.getDouble(i), i / 4.0 - 1);
  Tensor f16 = read("float16.npy");
  EXPECT_EQ(f16.getDType(), DType::F16);
  EXPECT_EQ(f16.getDouble(1), -2.25);
  EXPECT_EQ(f16.getDouble(2), 65504);
  EXPECT_NEAR(f16.getDouble(3), 0.1, 1e-4);
  Tensor f64 = read("float64.npy");
  EXPECT_EQ(f64.getDType(), DType::F64);
  EXPECT_EQ(f64.getDouble(0), 1e300);
  EXPECT_EQ(f64.getDouble(1), -0.1);

  // Integer extremes: compare the bytes numpy wrote with the bytes the tensor encodes.
  std::pair<StringRef, DType> integerTypes[] = {
      {"int8", DType::I8},  {"int16", DType::I16},  {"int32", DType::I32},  {"int64", DType::I64},
      {"uint8", DType::U8}, {"uint16", DType::U16}, {"uint32", DType::U32}, {"uint64", DType::U64}};
  for (auto [name, dtype] : integerTypes) {
    Tensor tensor = read((name + ".npy").str());
    EXPECT_EQ(tensor.getDType(), dtype) << name.str();
    std::vector<char> bytes = tensor.toBytes();
    std::string file = readFile((name + ".npy").str());
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), file.substr(file.size() - bytes.size()))
        << name.str();
    EXPECT_EQ(tensor.getInt(2), 0);
    EXPECT_EQ(tensor.getInt(3), 1);
  }
  EXPECT_EQ(read("int64.npy").getInt(0), INT64_MIN);
  EXPECT_EQ(read("int8.npy").getInt(0), -128);
  EXPECT_EQ(read("uint16.npy").getInt(1), 65535);

  Tensor boolean = read("bool.npy");
  EXPECT_EQ(boolean.getDType(), DType::Bool);
  EXPECT_EQ(boolean.getInt(0), 1);
  EXPECT_EQ(boolean.getInt(1), 0);
  EXPECT_EQ(boolean.getInt(3), 1);

  Tensor fortran = read("fortran.npy");
  EXPECT_EQ(fortran.getShape(), (ArrayRef<int64_t>{2, 3, 4}));
  for (int64_t i = 0; i < 24; ++i)
    EXPECT_EQ(fortran.getInt(i), i);

  Tensor scalar = read("scalar.npy");
  EXPECT_EQ(scalar.getRank(), 0);
  EXPECT_EQ(scalar.getNumElements(), 1);
  EXPECT_EQ(scalar.getDouble(0), 3.5);
  Tensor empty = read("empty.npy");
  EXPECT_EQ(empty.getShape(), (ArrayRef<int64_t>{0, 3}));
  EXPECT_EQ(empty.getNumElements(), 0);
  for (StringRef name : {"v2.npy", "v3.npy"}) {
    Tensor tensor = read(name);
    EXPECT_EQ(tensor.getDType(), DType::I16);
    EXPECT_EQ(tensor.getInt(3), 3);
  }
  std::string message = errorOf(readNpyFile(pathOf("bigendian.npy")));
  EXPECT_TRUE(contains(message, "bigendian.npy")) << message;
  EXPECT_TRUE(contains(message, "big-endian")) << message;

  auto readArchive = [&](StringRef name) {
    Expected<std::vector<std::pair<std::string, Tensor>>> arrays = readNpzFile(pathOf(name));
    if (!arrays) {
      ADD_FAILURE() << toString(arrays.takeError());
      return std::vector<std::pair<std::string, Tensor>>();
    }
    return std::move(*arrays);
  };
  auto plain = readArchive("plain.npz");
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[0].first, "x");
  EXPECT_EQ(plain[0].second.getInt(4), 4);
  EXPECT_EQ(plain[1].first, "y");
  EXPECT_EQ(plain[1].second.getDouble(0), 2.5);
  auto positional = readArchive("positional.npz");
  ASSERT_EQ(positional.size(), 2u);
  EXPECT_EQ(positional[0].first, "arr_0");
  EXPECT_EQ(positional[0].second.getDType(), DType::U8);
  EXPECT_EQ(positional[1].first, "arr_1");
  EXPECT_EQ(positional[1].second.getShape(), ArrayRef<int64_t>{0});
  auto compressed = readArchive("compressed.npz");
  ASSERT_EQ(compressed.size(), 3u);
  EXPECT_EQ(compressed[0].first, "big");
  EXPECT_EQ(compressed[0].second.getShape(), (ArrayRef<int64_t>{100, 100}));
  for (int64_t i = 0; i < 10000; i += 997)
    EXPECT_EQ(compressed[0].second.getDouble(i), i);
  EXPECT_EQ(compressed[1].first, "mask");
  EXPECT_EQ(compressed[1].second.getDType(), DType::Bool);
  EXPECT_EQ(compressed[1].second.getInt(2), 1);
  EXPECT_EQ(compressed[1].second.getInt(3), 0);
  EXPECT_EQ(compressed[2].first, "scalar");
  EXPECT_EQ(compressed[2].second.getInt(0), -7);

  // A corrupted compressed archive: damage the middle of the deflate data.
  std::string archive = readFile("compressed.npz");
  for (size_t i = archive.size() / 3; i < archive.size() / 3 + 64; ++i)
    archive[i] = static_cast<char>(~archive[i]);
  writeFile("damaged.npz", archive);
  message = errorOf(readNpzFile(pathOf("damaged.npz")));
  EXPECT_TRUE(contains(message, "damaged.npz, member 'big.npy'")) << message;
}

constexpr StringLiteral kNumpyReaderScript = R"py(
import numpy as np, sys
d = sys.argv[1] + '/'
for name in ['float32', 'float16', 'float64', 'int8', 'int16', 'int32', 'int64',
             'uint8', 'uint16', 'uint32', 'uint64', 'bool']:
    a = np.load(d + name + '.npy')
    expected = np.arange(6).reshape(2, 3)
    expected = expected % 2 == 1 if name == 'bool' else expected.astype(name)
    assert a.dtype == np.dtype(name), (name, a.dtype)
    assert a.shape == (2, 3), (name, a.shape)
    assert (a == expected).all(), (name, a)
s = np.load(d + 'scalar.npy')
assert s.shape == () and s.dtype == np.float64 and s == 4.25, s
e = np.load(d + 'empty.npy')
assert e.shape == (3, 0) and e.dtype == np.int32, e.shape
)py";

TEST_F(NumpyFileTest, NumpyReadsWhatKilnWrites) {
  if (!hasNumpy())
    GTEST_SKIP() << "needs " << kPython.str() << " with numpy";
  for (DType dtype : kNumpyDTypes) {
    std::vector<double> values = sequence(6);
    if (dtype == DType::Bool)
      for (double &value : values)
        value = std::fmod(value, 2);
    std::string path = pathOf((getDTypeName(dtype) + ".npy").str());
    ASSERT_EQ("", messageOf(writeNpyFile(path, makeTensor(dtype, {2, 3}, values))));
  }
  ASSERT_EQ("", messageOf(writeNpyFile(pathOf("scalar.npy"), makeTensor(DType::F64, {}, {4.25}))));
  ASSERT_EQ("", messageOf(writeNpyFile(pathOf("empty.npy"), makeTensor(DType::I32, {3, 0}, {}))));
  EXPECT_TRUE(runPython(kNumpyReaderScript));
}

} // namespace
