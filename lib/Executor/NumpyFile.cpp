//===- NumpyFile.cpp - numpy .npy / .npz files of host tensors ------------===//
//
// The .npy format (numpy/lib/format.py): the magic "\x93NUMPY", a major and minor version byte, a
// little-endian header length (2 bytes in 1.0, 4 bytes in 2.0/3.0), and a header that is a Python
// dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and
// a newline; then the raw elements. A .npz file is a ZIP archive of .npy members.
//
// Both readers treat their input as hostile: every offset and length is checked against the
// buffer before use, sizes are checked for overflow, and allocations are bounded by the input:
// array data must be present before they are decoded, and the buffer of a deflated member grows
// with the data actually inflated rather than with the size its header claims.
//
//===----------------------------------------------------------------------===//

#include "kiln/Executor/NumpyFile.h"

#include "ShapeUtils.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SwapByteOrder.h"
#include "llvm/Support/raw_ostream.h"

#define ZLIB_CONST // next_in points to const input.
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <optional>

using namespace llvm;
using namespace kiln::exec;

namespace {

constexpr StringLiteral kNpyMagic("\x93NUMPY");
/// numpy caps the rank at 32 (64 since numpy 2); a larger one is a corrupt header.
constexpr size_t kMaxRank = 64;
/// numpy aligns the start of the array data to this many bytes (for memory mapping).
constexpr size_t kNpyAlignment = 64;

Error makeError(StringRef sourceName, const Twine &cause) {
  return createStringError(sourceName + ": " + cause);
}

//===----------------------------------------------------------------------===//
// .npy header
//===----------------------------------------------------------------------===//

struct NpyHeader {
  DType dtype = DType::F32;
  bool fortranOrder = false;
  SmallVector<int64_t, 6> shape;
};

/// numpy's type codes (the dtype string without its byte order) of the DTypes numpy has; it has
/// no bfloat16.
constexpr std::pair<DType, StringLiteral> kNpyTypeCodes[] = {
    {DType::F16, "f2"}, {DType::F32, "f4"}, {DType::F64, "f8"}, {DType::I8, "i1"},
    {DType::I16, "i2"}, {DType::I32, "i4"}, {DType::I64, "i8"}, {DType::U8, "u1"},
    {DType::U16, "u2"}, {DType::U32, "u4"}, {DType::U64, "u8"}, {DType::Bool, "b1"}};

/// The numpy dtype string ("<f4", "|u1") of a DType, if numpy has the type.
std::optional<std::string> getNpyDescr(DType dtype) {
  for (auto [candidate, code] : kNpyTypeCodes)
    if (candidate == dtype)
      return (getByteWidth(dtype) == 1 ? "|" : "<") + code.str();
  return std::nullopt;
}

/// The DType of a numpy type code without its byte order ("f4").
std::optional<DType> getDTypeOfTypeCode(StringRef code) {
  for (auto [dtype, candidate] : kNpyTypeCodes)
    if (candidate == code)
      return dtype;
  return std::nullopt;
}

Expected<DType> parseDescr(StringRef descr) {
  if (descr.size() < 2 || !StringRef("<>|=").contains(descr.front()))
    return createStringError("unsupported dtype '" + descr + "'");
  char byteOrder = descr.front();
  std::optional<DType> dtype = getDTypeOfTypeCode(descr.drop_front());
  if (!dtype)
    return createStringError(
        "unsupported dtype '" + descr +
        "' (supported: float16/32/64, int8/16/32/64, uint8/16/32/64 and bool)");
  // Byte order only matters for multi-byte types; numpy writes '|' for single bytes.
  bool bigEndian = byteOrder == '>' || (byteOrder == '=' && llvm::sys::IsBigEndianHost);
  if (bigEndian && getByteWidth(*dtype) > 1)
    return createStringError("big-endian dtype '" + descr +
                             "' is not supported (convert it with "
                             "arr.astype(arr.dtype.newbyteorder('<')))");
  return *dtype;
}

/// A parser of the header's dict literal: the subset of Python literal syntax that numpy writes
/// (string keys; string, bool and int-tuple values), with Python's freedom of whitespace.
class NpyHeaderParser {
public:
  explicit NpyHeaderParser(StringRef text) : rest(text) {}

  Expected<NpyHeader> parse() {
    if (!consume('{'))
      return createStringError("expected a dict literal starting with '{'");
    NpyHeader header;
    StringSet<> seenKeys;
    while (!consume('}')) {
      Expected<std::string> key = parseString();
      if (!key)
        return key.takeError();
      if (!seenKeys.insert(*key).second)
        return createStringError("duplicate key '" + *key + "'");
      if (!consume(':'))
        return createStringError("expected ':' after key '" + *key + "'");
      if (Error error = parseValue(*key, header))
        return std::move(error);
      if (consume(','))
        continue;
      if (consume('}'))
        break;
      return createStringError("expected ',' or '}' after the value of '" + *key + "'");
    }
    skipSpace();
    if (!rest.empty())
      return createStringError("unexpected text after the dict literal");
    for (StringRef required : {"descr", "fortran_order", "shape"})
      if (!seenKeys.contains(required))
        return createStringError("missing key '" + required + "'");
    return header;
  }

private:
  void skipSpace() { rest = rest.ltrim(" \t\r\n"); }

  /// Skips whitespace, then consumes `c` if it comes next.
  bool consume(char c) {
    skipSpace();
    return rest.consume_front(StringRef(&c, 1));
  }

  Error parseValue(StringRef key, NpyHeader &header) {
    if (key == "descr") {
      skipSpace();
      if (rest.starts_with("["))
        return createStringError("structured dtypes are not supported");
      Expected<std::string> descr = parseString();
      if (!descr)
        return descr.takeError();
      Expected<DType> dtype = parseDescr(*descr);
      if (!dtype)
        return dtype.takeError();
      header.dtype = *dtype;
      return Error::success();
    }
    if (key == "fortran_order") {
      skipSpace();
      if (rest.consume_front("True"))
        header.fortranOrder = true;
      else if (rest.consume_front("False"))
        header.fortranOrder = false;
      else
        return createStringError("'fortran_order' must be True or False");
      return Error::success();
    }
    if (key == "shape")
      return parseShape(header.shape);
    return createStringError("unexpected key '" + key + "'");
  }

  /// A quoted string without escapes (numpy's keys and dtype strings have none).
  Expected<std::string> parseString() {
    skipSpace();
    if (rest.empty() || (rest.front() != '\'' && rest.front() != '"'))
      return createStringError("expected a quoted string");
    char quote = rest.front();
    size_t end = rest.find(quote, 1);
    if (end == StringRef::npos)
      return createStringError("unterminated string");
    StringRef text = rest.slice(1, end);
    if (text.contains('\\'))
      return createStringError("escape sequences in strings are not supported");
    rest = rest.drop_front(end + 1);
    return text.str();
  }

  /// A tuple of non-negative ints: "()", "(3,)", "(2, 3)". Python 2 wrote longs as "3L".
  Error parseShape(SmallVectorImpl<int64_t> &shape) {
    if (!consume('('))
      return createStringError("'shape' must be a tuple");
    shape.clear();
    while (!consume(')')) {
      skipSpace();
      if (rest.starts_with("-"))
        return createStringError("negative dimension in 'shape'");
      uint64_t dim = 0;
      if (rest.consumeInteger(10, dim))
        return createStringError("'shape' must be a tuple of integers");
      if (dim > static_cast<uint64_t>(INT64_MAX))
        return createStringError("dimension " + Twine(dim) + " in 'shape' is too large");
      rest.consume_front("L");
      if (shape.size() == kMaxRank)
        return createStringError("'shape' has more than " + Twine(kMaxRank) + " dimensions");
      shape.push_back(static_cast<int64_t>(dim));
      if (consume(','))
        continue;
      if (consume(')'))
        break;
      return createStringError("expected ',' or ')' in 'shape'");
    }
    return Error::success();
  }

  StringRef rest;
};

//===----------------------------------------------------------------------===//
// ZIP archives
//===----------------------------------------------------------------------===//

// Record signatures and fixed sizes (PKWARE APPNOTE.TXT, sections 4.3.7 to 4.3.16).
constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndOfCentralDirSignature = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kEndOfCentralDirSize = 22;
constexpr uint64_t kZip64EndOfCentralDirSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint16_t kZip64ExtraFieldId = 0x0001;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflated = 8;
constexpr uint16_t kFlagEncrypted = 0x1;
/// Deflate cannot compress by more than about 1032:1; a member that claims a larger ratio is
/// corrupt (or a zip bomb), and rejecting it bounds the allocation of the inflated data.
constexpr uint64_t kMaxDeflateRatio = 1032;

/// Bounds-checked little-endian reads from an untrusted buffer. Callers check `contains` before
/// reading; the accessors assert it.
class ByteView {
public:
  explicit ByteView(ArrayRef<char> bytes) : bytes(bytes) {}

  uint64_t size() const { return bytes.size(); }
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= bytes.size() && length <= bytes.size() - offset;
  }
  uint16_t readU16(uint64_t offset) const {
    assert(contains(offset, 2) && "read out of bounds");
    return support::endian::read16le(bytes.data() + offset);
  }
  uint32_t readU32(uint64_t offset) const {
    assert(contains(offset, 4) && "read out of bounds");
    return support::endian::read32le(bytes.data() + offset);
  }
  uint64_t readU64(uint64_t offset) const {
    assert(contains(offset, 8) && "read out of bounds");
    return support::endian::read64le(bytes.data() + offset);
  }
  ArrayRef<char> slice(uint64_t offset, uint64_t length) const {
    assert(contains(offset, length) && "slice out of bounds");
    return bytes.slice(offset, length);
  }

private:
  ArrayRef<char> bytes;
};

/// Where the central directory is, from the end of central directory record.
struct CentralDirectory {
  uint64_t entryCount = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};

Expected<CentralDirectory> findCentralDirectory(const ByteView &view) {
  if (view.size() < kEndOfCentralDirSize)
    return createStringError("not a ZIP archive (too short)");
  // The end record is the last record, followed only by a comment of up to 64 KiB whose length
  // it holds; search backwards for a signature whose comment length fits the file.
  uint64_t lowest =
      view.size() > kEndOfCentralDirSize + 0xFFFF ? view.size() - kEndOfCentralDirSize - 0xFFFF : 0;
  std::optional<uint64_t> endOffset;
  for (uint64_t offset = view.size() - kEndOfCentralDirSize;; --offset) {
    if (view.readU32(offset) == kEndOfCentralDirSignature &&
        view.readU16(offset + 20) <= view.size() - offset - kEndOfCentralDirSize) {
      endOffset = offset;
      break;
    }
    if (offset == lowest)
      break;
  }
  if (!endOffset)
    return createStringError("not a ZIP archive (no end of central directory record)");

  uint64_t end = *endOffset;
  if (view.readU16(end + 4) != 0 || view.readU16(end + 6) != 0)
    return createStringError("multi-volume ZIP archives are not supported");
  CentralDirectory directory;
  directory.entryCount = view.readU16(end + 10);
  directory.size = view.readU32(end + 12);
  directory.offset = view.readU32(end + 16);

  // Values that do not fit the classic record are 0xFFFF.. there, and the real ones are in the
  // zip64 end record that a locator right before the classic one points at.
  bool needsZip64 = directory.entryCount == 0xFFFF || directory.size == 0xFFFFFFFF ||
                    directory.offset == 0xFFFFFFFF;
  bool hasLocator =
      end >= kZip64LocatorSize && view.readU32(end - kZip64LocatorSize) == kZip64LocatorSignature;
  if (needsZip64 && hasLocator) {
    uint64_t zip64End = view.readU64(end - kZip64LocatorSize + 8);
    if (!view.contains(zip64End, kZip64EndOfCentralDirSize) ||
        view.readU32(zip64End) != kZip64EndOfCentralDirSignature)
      return createStringError("corrupt zip64 end of central directory record");
    directory.entryCount = view.readU64(zip64End + 32);
    directory.size = view.readU64(zip64End + 40);
    directory.offset = view.readU64(zip64End + 48);
  }
  if (!view.contains(directory.offset, directory.size))
    return createStringError("the central directory lies outside the file (truncated archive?)");
  // Every entry takes at least kCentralHeaderSize bytes, which bounds the loop over entries.
  if (directory.entryCount > directory.size / kCentralHeaderSize)
    return createStringError("the central directory is too small for its " +
                             Twine(directory.entryCount) + " entries");
  return directory;
}

/// One member as described by its central directory entry.
struct ZipEntry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc32 = 0;
  uint64_t compressedSize = 0;
  uint64_t uncompressedSize = 0;
  uint64_t localHeaderOffset = 0;
};

/// Replaces the 0xFFFFFFFF placeholders of `entry` with the values of its zip64 extra field,
/// which holds (in this order) exactly the fields that have a placeholder.
Error applyZip64ExtraField(const ByteView &extra, ZipEntry &entry) {
  uint64_t offset = 0;
  while (extra.contains(offset, 4)) {
    uint16_t id = extra.readU16(offset);
    uint16_t length = extra.readU16(offset + 2);
    offset += 4;
    if (!extra.contains(offset, length))
      return createStringError("truncated extra field");
    if (id != kZip64ExtraFieldId) {
      offset += length;
      continue;
    }
    uint64_t fieldOffset = offset;
    uint64_t fieldEnd = offset + length;
    for (uint64_t *value :
         {&entry.uncompressedSize, &entry.compressedSize, &entry.localHeaderOffset}) {
      if (*value != 0xFFFFFFFF)
        continue;
      if (fieldEnd - fieldOffset < 8)
        return createStringError("truncated zip64 extra field");
      *value = extra.readU64(fieldOffset);
      fieldOffset += 8;
    }
    return Error::success();
  }
  return createStringError("sizes are 0xFFFFFFFF but there is no zip64 extra field");
}

/// Inflates a raw deflate stream that must produce exactly `size` bytes. The output buffer grows
/// with the data actually inflated, so that a forged size cannot make it allocate up front.
Expected<std::vector<char>> inflateRaw(ArrayRef<char> compressed, uint64_t size) {
  if (size > compressed.size() * kMaxDeflateRatio + 1024)
    return createStringError("declared size " + Twine(size) + " is impossible for " +
                             Twine(compressed.size()) + " bytes of deflate data");
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  // Negative window bits: a raw deflate stream, without the zlib header and checksum.
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK)
    return createStringError("cannot initialize zlib");
  scope_exit endInflate([&] { inflateEnd(&stream); });

  // zlib counts in uInt, so input and output are handed over in chunks of at most UINT_MAX.
  std::vector<char> result;
  uint64_t inputGiven = 0;
  uint64_t produced = 0;
  char placeholder = 0; // zlib rejects a null output pointer, even with no room for output.
  stream.next_out = reinterpret_cast<Bytef *>(&placeholder);
  while (true) {
    if (stream.avail_in == 0 && inputGiven < compressed.size()) {
      uint64_t chunk = std::min<uint64_t>(compressed.size() - inputGiven, UINT_MAX);
      stream.next_in = reinterpret_cast<const Bytef *>(compressed.data()) + inputGiven;
      stream.avail_in = static_cast<uInt>(chunk);
      inputGiven += chunk;
    }
    if (stream.avail_out == 0 && produced < size) {
      if (produced == result.size())
        result.resize(std::min<uint64_t>(size, std::max<uint64_t>(2 * result.size(), 1 << 16)));
      stream.next_out = reinterpret_cast<Bytef *>(result.data()) + produced;
      stream.avail_out = static_cast<uInt>(std::min<uint64_t>(result.size() - produced, UINT_MAX));
    }
    uInt roomBefore = stream.avail_out;
    int status = inflate(&stream, Z_NO_FLUSH);
    produced += roomBefore - stream.avail_out;
    if (status == Z_STREAM_END)
      break;
    if (status == Z_OK)
      continue;
    // Z_BUF_ERROR: no progress was possible. Either the input ran out before the end of the
    // stream, or the output reached the declared size although the stream goes on.
    if (status == Z_BUF_ERROR && stream.avail_out == 0 && produced == size)
      return createStringError("the deflate data inflate to more than the declared " + Twine(size) +
                               " bytes");
    if (status == Z_BUF_ERROR)
      return createStringError("truncated deflate data");
    std::string cause = "corrupt deflate data";
    if (stream.msg)
      cause += std::string(" (") + stream.msg + ")";
    return createStringError(cause);
  }
  if (produced != size)
    return createStringError("the deflate data inflate to " + Twine(produced) +
                             " bytes instead of the declared " + Twine(size));
  return result;
}

/// zlib's CRC-32 of `data` (crc32_z takes a size_t length, so no chunking is needed).
uint32_t computeCrc32(ArrayRef<char> data) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef *>(data.data()), data.size()));
}

Expected<std::unique_ptr<MemoryBuffer>> readFile(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(path, "cannot read the file: " + buffer.getError().message());
  return std::move(*buffer);
}

} // namespace

//===----------------------------------------------------------------------===//
// .npy
//===----------------------------------------------------------------------===//

Expected<Tensor> kiln::exec::parseNpy(ArrayRef<char> bytes, StringRef sourceName) {
  StringRef data(bytes.data(), bytes.size());
  if (!data.starts_with(kNpyMagic)) {
    if (kNpyMagic.starts_with(data))
      return makeError(sourceName, "truncated .npy file (" + Twine(data.size()) + " bytes)");
    return makeError(sourceName, "not a .npy file (bad magic string)");
  }
  if (data.size() < kNpyMagic.size() + 2)
    return makeError(sourceName, "truncated .npy header (no format version)");
  unsigned major = static_cast<uint8_t>(data[6]);
  unsigned minor = static_cast<uint8_t>(data[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return makeError(sourceName, "unsupported .npy format version " + Twine(major) + "." +
                                     Twine(minor) + " (supported: 1.0, 2.0, 3.0)");
  // Version 1.0 has a 2-byte header length; 2.0 and 3.0 (UTF-8 header) a 4-byte one.
  size_t lengthBytes = major == 1 ? 2 : 4;
  size_t headerStart = 8 + lengthBytes;
  if (data.size() < headerStart)
    return makeError(sourceName, "truncated .npy header (no header length)");
  uint64_t headerLength = major == 1 ? support::endian::read16le(data.data() + 8)
                                     : support::endian::read32le(data.data() + 8);
  if (headerLength > data.size() - headerStart)
    return makeError(sourceName, "truncated .npy header (" + Twine(headerLength) +
                                     " bytes declared, " + Twine(data.size() - headerStart) +
                                     " present)");
  Expected<NpyHeader> header = NpyHeaderParser(data.substr(headerStart, headerLength)).parse();
  if (!header)
    return makeError(sourceName, "invalid .npy header: " + toString(header.takeError()));

  std::optional<int64_t> elementCount = getElementCount(header->shape);
  size_t width = getByteWidth(header->dtype);
  int64_t byteCount = 0;
  if (!elementCount || MulOverflow(*elementCount, static_cast<int64_t>(width), byteCount))
    return makeError(sourceName, "the array's size overflows");
  uint64_t dataStart = headerStart + headerLength;
  uint64_t available = data.size() - dataStart;
  if (available < static_cast<uint64_t>(byteCount))
    return makeError(sourceName, "truncated array data (" + Twine(byteCount) + " bytes expected, " +
                                     Twine(available) + " present)");
  if (available > static_cast<uint64_t>(byteCount))
    return makeError(sourceName,
                     Twine(available - byteCount) + " unexpected bytes after the array data");

  // Fortran (column-major) order is C order of the reversed shape: decode that, then transpose.
  ArrayRef<int64_t> shape = header->shape;
  SmallVector<int64_t, 6> reversed(llvm::reverse(shape));
  bool transpose = header->fortranOrder && shape.size() > 1;
  std::optional<Tensor> tensor = Tensor::fromBytes(header->dtype, transpose ? reversed : shape,
                                                   bytes.slice(dataStart, byteCount));
  if (!tensor)
    return makeError(sourceName, "cannot decode the array data");
  if (!transpose)
    return std::move(*tensor);
  SmallVector<int64_t, 6> strides(llvm::reverse(getStrides(reversed)));
  return copyStrided(*tensor, 0, strides, shape);
}

Expected<Tensor> kiln::exec::readNpyFile(StringRef path) {
  Expected<std::unique_ptr<MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  StringRef contents = (*buffer)->getBuffer();
  return parseNpy(ArrayRef<char>(contents.data(), contents.size()), path);
}

Expected<std::vector<char>> kiln::exec::encodeNpy(const Tensor &tensor) {
  std::optional<std::string> descr = getNpyDescr(tensor.getDType());
  if (!descr)
    return createStringError("numpy has no " + getDTypeName(tensor.getDType()) +
                             " dtype; cast the tensor to float32 first");
  // A default-constructed Tensor has shape () but no element: reject it rather than write a file
  // that numpy cannot read.
  std::optional<int64_t> elementCount = getElementCount(tensor.getShape());
  if (!elementCount || *elementCount != tensor.getNumElements() ||
      (*elementCount != 0 && tensor.isNull()))
    return createStringError("cannot encode an invalid (null) tensor");
  std::vector<char> elements;
  if (*elementCount != 0)
    elements = tensor.toBytes();

  // Python's tuple syntax: "()", "(3,)", "(2, 3)".
  std::string shapeText = "(";
  for (auto [index, dim] : llvm::enumerate(tensor.getShape()))
    shapeText += (index ? ", " : "") + std::to_string(dim);
  shapeText += tensor.getRank() == 1 ? ",)" : ")";
  std::string header =
      "{'descr': '" + *descr + "', 'fortran_order': False, 'shape': " + shapeText + ", }";

  // Pad with spaces and a final newline so that the data starts on an aligned offset, as numpy
  // does; use format 2.0 only when the header does not fit 1.0's 16-bit length.
  size_t prefixSize = kNpyMagic.size() + 2 + 2;
  size_t paddedSize = alignTo(prefixSize + header.size() + 1, kNpyAlignment) - prefixSize;
  uint8_t major = 1;
  if (paddedSize > 0xFFFF) {
    major = 2;
    prefixSize = kNpyMagic.size() + 2 + 4;
    paddedSize = alignTo(prefixSize + header.size() + 1, kNpyAlignment) - prefixSize;
  }
  header.append(paddedSize - header.size() - 1, ' ');
  header.push_back('\n');

  std::vector<char> result;
  result.reserve(prefixSize + header.size() + elements.size());
  result.insert(result.end(), kNpyMagic.begin(), kNpyMagic.end());
  result.push_back(static_cast<char>(major));
  result.push_back(0);
  char length[4];
  if (major == 1) {
    support::endian::write16le(length, static_cast<uint16_t>(header.size()));
    result.insert(result.end(), length, length + 2);
  } else {
    support::endian::write32le(length, static_cast<uint32_t>(header.size()));
    result.insert(result.end(), length, length + 4);
  }
  result.insert(result.end(), header.begin(), header.end());
  result.insert(result.end(), elements.begin(), elements.end());
  return result;
}

Error kiln::exec::writeNpyFile(StringRef path, const Tensor &tensor) {
  Expected<std::vector<char>> encoded = encodeNpy(tensor);
  if (!encoded)
    return makeError(path, toString(encoded.takeError()));
  // Write next to the destination and rename, so that readers never see a partial file.
  Expected<sys::fs::TempFile> temp = sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return makeError(path, "cannot create a temporary file: " + toString(temp.takeError()));
  {
    raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    os.write(encoded->data(), encoded->size());
    os.flush();
    if (os.has_error()) {
      std::string message = os.error().message();
      os.clear_error(); // An unhandled stream error is fatal in the destructor.
      consumeError(temp->discard());
      return makeError(path, "cannot write the file: " + message);
    }
  }
  if (Error error = temp->keep(path))
    return makeError(path, "cannot write the file: " + toString(std::move(error)));
  return Error::success();
}

//===----------------------------------------------------------------------===//
// .npz
//===----------------------------------------------------------------------===//

Expected<std::vector<std::pair<std::string, Tensor>>> kiln::exec::parseNpz(ArrayRef<char> bytes,
                                                                           StringRef sourceName) {
  ByteView view(bytes);
  Expected<CentralDirectory> directory = findCentralDirectory(view);
  if (!directory) {
    std::string cause = toString(directory.takeError());
    if (StringRef(bytes.data(), bytes.size()).starts_with(kNpyMagic))
      cause += "; this is a .npy file";
    return makeError(sourceName, cause);
  }

  std::vector<std::pair<std::string, Tensor>> arrays;
  StringSet<> names;
  uint64_t cursor = directory->offset;
  uint64_t directoryEnd = directory->offset + directory->size;
  for (uint64_t index = 0; index < directory->entryCount; ++index) {
    if (directoryEnd - cursor < kCentralHeaderSize ||
        view.readU32(cursor) != kCentralHeaderSignature)
      return makeError(sourceName,
                       "corrupt central directory (entry " + Twine(index) + " is invalid)");
    ZipEntry entry;
    entry.flags = view.readU16(cursor + 8);
    entry.method = view.readU16(cursor + 10);
    entry.crc32 = view.readU32(cursor + 16);
    entry.compressedSize = view.readU32(cursor + 20);
    entry.uncompressedSize = view.readU32(cursor + 24);
    uint64_t nameLength = view.readU16(cursor + 28);
    uint64_t extraLength = view.readU16(cursor + 30);
    uint64_t commentLength = view.readU16(cursor + 32);
    entry.localHeaderOffset = view.readU32(cursor + 42);
    uint64_t variableLength = nameLength + extraLength + commentLength;
    if (directoryEnd - cursor - kCentralHeaderSize < variableLength)
      return makeError(sourceName,
                       "corrupt central directory (entry " + Twine(index) + " is truncated)");
    ArrayRef<char> name = view.slice(cursor + kCentralHeaderSize, nameLength);
    entry.name.assign(name.begin(), name.end());
    ByteView extra(view.slice(cursor + kCentralHeaderSize + nameLength, extraLength));
    cursor += kCentralHeaderSize + variableLength;

    std::string memberSource = (sourceName + ", member '" + entry.name + "'").str();
    if (entry.uncompressedSize == 0xFFFFFFFF || entry.compressedSize == 0xFFFFFFFF ||
        entry.localHeaderOffset == 0xFFFFFFFF)
      if (Error error = applyZip64ExtraField(extra, entry))
        return makeError(memberSource, toString(std::move(error)));
    if (entry.flags & kFlagEncrypted)
      return makeError(memberSource, "encrypted members are not supported");
    // Directories are not arrays (numpy never writes them, but other tools might).
    if (StringRef(entry.name).ends_with("/") && entry.uncompressedSize == 0)
      continue;

    // The data follows the local header, whose name and extra field lengths may differ from the
    // central directory's (Python writes a zip64 extra field only locally).
    uint64_t local = entry.localHeaderOffset;
    if (!view.contains(local, kLocalHeaderSize) || view.readU32(local) != kLocalHeaderSignature)
      return makeError(memberSource, "corrupt local file header");
    uint64_t dataOffset =
        local + kLocalHeaderSize + view.readU16(local + 26) + view.readU16(local + 28);
    if (!view.contains(dataOffset, entry.compressedSize))
      return makeError(memberSource, "the member's data lie outside the file (truncated archive?)");
    ArrayRef<char> stored = view.slice(dataOffset, entry.compressedSize);

    ArrayRef<char> contents;
    std::vector<char> inflated;
    if (entry.method == kMethodStored) {
      if (entry.compressedSize != entry.uncompressedSize)
        return makeError(memberSource, "stored member with different compressed and "
                                       "uncompressed sizes");
      contents = stored;
    } else if (entry.method == kMethodDeflated) {
      Expected<std::vector<char>> result = inflateRaw(stored, entry.uncompressedSize);
      if (!result)
        return makeError(memberSource, toString(result.takeError()));
      inflated = std::move(*result);
      contents = inflated;
    } else {
      return makeError(memberSource, "unsupported compression method " + Twine(entry.method) +
                                         " (supported: stored, deflated)");
    }
    uint32_t crc = computeCrc32(contents);
    if (crc != entry.crc32)
      return makeError(memberSource, "CRC-32 mismatch (corrupt archive): " + Twine::utohexstr(crc) +
                                         " instead of " + Twine::utohexstr(entry.crc32));

    Expected<Tensor> tensor = parseNpy(contents, memberSource);
    if (!tensor)
      return tensor.takeError();
    StringRef stem = entry.name;
    stem.consume_back(".npy");
    std::string arrayName = stem.str();
    if (!names.insert(arrayName).second)
      return makeError(memberSource, "duplicate array name '" + arrayName + "'");
    arrays.emplace_back(std::move(arrayName), std::move(*tensor));
  }
  return arrays;
}

Expected<std::vector<std::pair<std::string, Tensor>>> kiln::exec::readNpzFile(StringRef path) {
  Expected<std::unique_ptr<MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  StringRef contents = (*buffer)->getBuffer();
  return parseNpz(ArrayRef<char>(contents.data(), contents.size()), path);
}
