//===- Npz.cpp - numpy .npy / .npz reading and writing -------------------------------------===//

#include "Npz.h"

#include <cstring>
#include <limits>

#if KILNRT_HAVE_ZLIB
#include <dlfcn.h>
#include <zlib.h>
#endif

namespace kilnrt {

//===-- element conversions ----------------------------------------------------------------===//

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
  if (exp == 0xff)
    return static_cast<uint16_t>(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31)
    return static_cast<uint16_t>(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10)
      return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1)))
      ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = static_cast<uint32_t>(e) << 10 | mant >> 13, rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
    ++half; // a carry into the exponent gives the right result, up to infinity
  return static_cast<uint16_t>(sign | half);
}

float bfloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7f800000) == 0x7f800000 && (x & 0x7fffff))
    return static_cast<uint16_t>((x >> 16) | 0x40); // quiet NaN
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

uint32_t crc32(const uint8_t *data, size_t size, uint32_t crc) {
  static uint32_t table[256];
  static bool ready = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)ready;
  crc = ~crc;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

//===-- arrays ----------------------------------------------------------------------------===//

static bool isFloat(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

size_t NpyArray::numElements() const {
  size_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<size_t>(d);
  return n;
}

template <typename T> static T load(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

static int64_t getInt64(const NpyArray &a, size_t i) {
  const uint8_t *p = a.data.data() + i * dtypeSize(a.dtype);
  switch (a.dtype) {
  case DType::I64: return load<int64_t>(p);
  case DType::I32: return load<int32_t>(p);
  case DType::I16: return load<int16_t>(p);
  case DType::I8: return load<int8_t>(p);
  case DType::U8: return load<uint8_t>(p);
  case DType::Bool: return load<uint8_t>(p) != 0;
  case DType::U16: return load<uint16_t>(p);
  case DType::U32: return load<uint32_t>(p);
  case DType::U64: return static_cast<int64_t>(load<uint64_t>(p));
  default: return static_cast<int64_t>(a.getDouble(i));
  }
}

double NpyArray::getDouble(size_t i) const {
  const uint8_t *p = data.data() + i * dtypeSize(dtype);
  switch (dtype) {
  case DType::F32: return load<float>(p);
  case DType::F64: return load<double>(p);
  case DType::F16: return halfToFloat(load<uint16_t>(p));
  case DType::BF16: return bfloat16ToFloat(load<uint16_t>(p));
  case DType::U64: return static_cast<double>(load<uint64_t>(p));
  default: return static_cast<double>(getInt64(*this, i));
  }
}

NpyArray NpyArray::castTo(DType to) const {
  NpyArray out;
  out.dtype = to;
  out.shape = shape;
  size_t n = numElements(), size = dtypeSize(to);
  out.data.resize(n * size);
  for (size_t i = 0; i < n; ++i) {
    uint8_t *p = out.data.data() + i * size;
    if (isFloat(to)) {
      double v = getDouble(i);
      if (to == DType::F32) {
        float f = static_cast<float>(v);
        std::memcpy(p, &f, 4);
      } else if (to == DType::F64) {
        std::memcpy(p, &v, 8);
      } else {
        uint16_t h = to == DType::F16 ? floatToHalf(static_cast<float>(v))
                                      : floatToBfloat16(static_cast<float>(v));
        std::memcpy(p, &h, 2);
      }
      continue;
    }
    int64_t v = isFloat(dtype) ? static_cast<int64_t>(getDouble(i)) : getInt64(*this, i);
    if (to == DType::Bool)
      v = v != 0;
    // Little-endian host: the low bytes of the int64 are the narrower value.
    std::memcpy(p, &v, size);
  }
  return out;
}

std::string NpyArray::describe() const {
  std::string s = std::string(dtypeName(dtype)) + " [";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string npyDescr(DType dtype) {
  switch (dtype) {
  case DType::F32: return "<f4";
  case DType::F16: return "<f2";
  case DType::F64: return "<f8";
  case DType::I64: return "<i8";
  case DType::I32: return "<i4";
  case DType::I16: return "<i2";
  case DType::I8: return "|i1";
  case DType::U8: return "|u1";
  case DType::Bool: return "|b1";
  case DType::U16: return "<u2";
  case DType::U32: return "<u4";
  case DType::U64: return "<u8";
  case DType::BF16: return "";
  }
  return "";
}

//===-- .npy ------------------------------------------------------------------------------===//

namespace {

/// The text after `'key':` in a header dict, or npos.
size_t findKey(const std::string &header, const char *key) {
  for (char quote : {'\'', '"'}) {
    std::string k = std::string(1, quote) + key + quote;
    size_t at = header.find(k);
    if (at == std::string::npos)
      continue;
    at = header.find(':', at + k.size());
    if (at == std::string::npos)
      return at;
    ++at;
    while (at < header.size() && header[at] == ' ')
      ++at;
    return at;
  }
  return std::string::npos;
}

bool parseDescr(const std::string &descr, DType &dtype, std::string &why) {
  if (descr.size() < 3) {
    why = "unsupported dtype '" + descr + "'";
    return false;
  }
  char order = descr[0];
  std::string code = descr.substr(1);
  struct Entry {
    const char *code;
    DType dtype;
  } table[] = {{"f4", DType::F32}, {"f2", DType::F16}, {"f8", DType::F64}, {"i8", DType::I64},
               {"i4", DType::I32}, {"i2", DType::I16}, {"i1", DType::I8},  {"u1", DType::U8},
               {"b1", DType::Bool}, {"u2", DType::U16}, {"u4", DType::U32}, {"u8", DType::U64}};
  for (const Entry &e : table) {
    if (code != e.code)
      continue;
    if (order == '>' && dtypeSize(e.dtype) > 1) {
      why = "big-endian dtype '" + descr + "' is not supported (save it little-endian)";
      return false;
    }
    if (order != '<' && order != '|' && order != '=' && order != '>') {
      why = "unsupported dtype '" + descr + "'";
      return false;
    }
    dtype = e.dtype;
    return true;
  }
  why = "unsupported dtype '" + descr +
        "' (supported: float16/32/64, int8/16/32/64, uint8/16/32/64, bool)";
  return false;
}

} // namespace

bool parseNpy(const uint8_t *data, size_t size, const std::string &name, NpyArray &out,
              std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "'" + name + "': " + why;
    return false;
  };
  static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(data, magic, 6) != 0)
    return fail("not a .npy file (bad magic)");
  uint8_t major = data[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = data[8] | static_cast<size_t>(data[9]) << 8;
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12)
      return fail("truncated .npy header");
    headerLen = data[8] | static_cast<size_t>(data[9]) << 8 | static_cast<size_t>(data[10]) << 16 |
                static_cast<size_t>(data[11]) << 24;
    headerStart = 12;
  } else {
    return fail(".npy format version " + std::to_string(major) + " is not supported");
  }
  if (headerLen > size - headerStart)
    return fail("truncated .npy header");
  std::string header(reinterpret_cast<const char *>(data + headerStart), headerLen);
  size_t at = findKey(header, "descr");
  if (at == std::string::npos || at >= header.size() || (header[at] != '\'' && header[at] != '"'))
    return fail("malformed .npy header (no descr): " + header);
  size_t close = header.find(header[at], at + 1);
  if (close == std::string::npos)
    return fail("malformed .npy header: " + header);
  std::string descr = header.substr(at + 1, close - at - 1), why;
  NpyArray array;
  if (!parseDescr(descr, array.dtype, why))
    return fail(why);
  at = findKey(header, "fortran_order");
  if (at == std::string::npos)
    return fail("malformed .npy header (no fortran_order): " + header);
  bool fortran = header.compare(at, 4, "True") == 0;
  if (!fortran && header.compare(at, 5, "False") != 0)
    return fail("malformed .npy header (fortran_order): " + header);
  at = findKey(header, "shape");
  if (at == std::string::npos || at >= header.size() || header[at] != '(')
    return fail("malformed .npy header (no shape): " + header);
  close = header.find(')', at);
  if (close == std::string::npos)
    return fail("malformed .npy header (shape): " + header);
  std::string dims = header.substr(at + 1, close - at - 1);
  uint64_t elements = 1;
  for (size_t p = 0; p < dims.size();) {
    while (p < dims.size() && (dims[p] == ' ' || dims[p] == ','))
      ++p;
    if (p == dims.size())
      break;
    if (dims[p] < '0' || dims[p] > '9')
      return fail("malformed .npy shape '(" + dims + ")'");
    uint64_t d = 0;
    while (p < dims.size() && dims[p] >= '0' && dims[p] <= '9') {
      if (d > (std::numeric_limits<uint64_t>::max() - 9) / 10)
        return fail("shape '(" + dims + ")' is too large");
      d = d * 10 + static_cast<uint64_t>(dims[p++] - '0');
    }
    if (p < dims.size() && dims[p] == 'L')
      ++p; // Python 2 longs
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(elements, d, &elements))
      return fail("shape '(" + dims + ")' is too large");
    array.shape.push_back(static_cast<int64_t>(d));
  }
  if (fortran && array.shape.size() > 1)
    return fail("Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)");
  uint64_t bytes;
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dtypeSize(array.dtype)), &bytes))
    return fail("shape '(" + dims + ")' is too large");
  size_t dataStart = headerStart + headerLen;
  if (bytes > size - dataStart)
    return fail("truncated: the data needs " + std::to_string(bytes) + " bytes, the file has " +
                std::to_string(size - dataStart));
  array.data.assign(data + dataStart, data + dataStart + bytes);
  out = std::move(array);
  return true;
}

bool readNpyFile(const std::string &path, NpyArray &out, std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readFileBytes(path, bytes, error))
    return false;
  return parseNpy(bytes.data(), bytes.size(), path, out, error);
}

bool encodeNpy(const NpyArray &array, std::vector<uint8_t> &out, std::string &error) {
  std::string descr = npyDescr(array.dtype);
  if (descr.empty()) {
    error = std::string("numpy has no ") + dtypeName(array.dtype) + " dtype; cast to float32";
    return false;
  }
  if (array.data.size() != array.numElements() * dtypeSize(array.dtype)) {
    error = "array data size does not match its shape";
    return false;
  }
  // numpy writes "(1, 32)" and "(5,)": a space after inner commas.
  std::string pretty = "(";
  for (size_t i = 0; i < array.shape.size(); ++i) {
    pretty += std::to_string(array.shape[i]);
    if (array.shape.size() == 1)
      pretty += ",";
    else if (i + 1 < array.shape.size())
      pretty += ", ";
  }
  pretty += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + pretty + ", }";
  bool v2 = header.size() + 11 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = (prefix + header.size() + 1 + 63) / 64 * 64; // header ends with '\n', 64-aligned
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  size_t len = header.size();
  out.assign(prefix + len + array.data.size(), 0);
  std::memcpy(out.data(), magic, 6);
  out[6] = v2 ? 2 : 1;
  out[7] = 0;
  for (size_t i = 0; i < prefix - 8; ++i)
    out[8 + i] = static_cast<uint8_t>(len >> (8 * i));
  std::memcpy(out.data() + prefix, header.data(), len);
  if (!array.data.empty())
    std::memcpy(out.data() + prefix + len, array.data.data(), array.data.size());
  return true;
}

bool writeNpyFile(const std::string &path, const NpyArray &array, std::string &error) {
  std::vector<uint8_t> bytes;
  if (!encodeNpy(array, bytes, error)) {
    error = "cannot write '" + path + "': " + error;
    return false;
  }
  return writeFileAtomically(path, bytes.data(), bytes.size(), 0666, error);
}

//===-- .npz ------------------------------------------------------------------------------===//

namespace {

#if KILNRT_HAVE_ZLIB
/// zlib's inflate, dlopened on first use: the runtime and the stubs have no link-time
/// dependency on libz (zlib.h is needed at build time only).
struct Zlib {
  int (*init)(z_streamp, int, const char *, int) = nullptr; // inflateInit2_
  int (*run)(z_streamp, int) = nullptr;               // inflate
  int (*end)(z_streamp) = nullptr;                    // inflateEnd
  std::string error;
};

const Zlib &zlib() {
  static const Zlib api = [] {
    Zlib z;
    void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char *why = dlerror();
      z.error = std::string("cannot load libz.so.1 (") + (why ? why : "unknown error") + ")";
      return z;
    }
    z.init = reinterpret_cast<int (*)(z_streamp, int, const char *, int)>(
        dlsym(h, "inflateInit2_"));
    z.run = reinterpret_cast<int (*)(z_streamp, int)>(dlsym(h, "inflate"));
    z.end = reinterpret_cast<int (*)(z_streamp)>(dlsym(h, "inflateEnd"));
    if (!z.init || !z.run || !z.end)
      z.error = "libz.so.1 lacks inflate";
    return z;
  }();
  return api;
}
#endif

uint16_t rd16(const uint8_t *p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t rd32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t rd64(const uint8_t *p) { return uint64_t(rd32(p)) | uint64_t(rd32(p + 4)) << 32; }
void wr16(std::vector<uint8_t> &b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void wr32(std::vector<uint8_t> &b, uint32_t v) {
  wr16(b, static_cast<uint16_t>(v));
  wr16(b, static_cast<uint16_t>(v >> 16));
}

} // namespace

bool parseNpz(const uint8_t *data, size_t size, const std::string &name, NamedArrays &out,
              std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "'" + name + "': " + why;
    return false;
  };
  // End of central directory record (the archive comment may follow it).
  if (size < 22)
    return fail("not an .npz (zip) archive: too short");
  size_t eocd = std::string::npos;
  size_t lowest = size - 22 > 65535 ? size - 22 - 65535 : 0;
  for (size_t p = size - 22 + 1; p-- > lowest;) {
    if (rd32(data + p) == 0x06054b50) {
      eocd = p;
      break;
    }
  }
  if (eocd == std::string::npos)
    return fail("not an .npz (zip) archive: no end-of-central-directory record");
  uint64_t entries = rd16(data + eocd + 10), cdSize = rd32(data + eocd + 12),
           cdOffset = rd32(data + eocd + 16);
  if (entries == 0xffff || cdSize == 0xffffffff || cdOffset == 0xffffffff) {
    // ZIP64: the locator sits just before the EOCD record.
    if (eocd < 20 || rd32(data + eocd - 20) != 0x07064b50)
      return fail("malformed ZIP64 archive (no locator)");
    uint64_t z = rd64(data + eocd - 20 + 8);
    if (z > size || size - z < 56 || rd32(data + z) != 0x06064b50)
      return fail("malformed ZIP64 archive (bad end-of-central-directory record)");
    entries = rd64(data + z + 32);
    cdSize = rd64(data + z + 40);
    cdOffset = rd64(data + z + 48);
  }
  if (cdOffset > size || cdSize > size - cdOffset)
    return fail("malformed archive: central directory outside the file");
  NamedArrays arrays;
  uint64_t pos = cdOffset, end = cdOffset + cdSize;
  for (uint64_t i = 0; i < entries; ++i) {
    if (end - pos < 46 || rd32(data + pos) != 0x02014b50)
      return fail("malformed archive: bad central directory entry " + std::to_string(i));
    const uint8_t *c = data + pos;
    uint16_t flags = rd16(c + 8), method = rd16(c + 10);
    uint32_t crc = rd32(c + 16);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24);
    uint16_t nameLen = rd16(c + 28), extraLen = rd16(c + 30), commentLen = rd16(c + 32);
    uint64_t local = rd32(c + 42);
    if (end - pos < 46u + nameLen + extraLen + commentLen)
      return fail("malformed archive: central directory entry " + std::to_string(i) +
                  " overruns");
    std::string entryName(reinterpret_cast<const char *>(c + 46), nameLen);
    // ZIP64 extra field: the 0xffffffff fields, in order.
    const uint8_t *extra = c + 46 + nameLen;
    for (size_t e = 0; e + 4 <= extraLen;) {
      uint16_t id = rd16(extra + e), len = rd16(extra + e + 2);
      if (e + 4 + len > extraLen)
        break;
      if (id == 0x0001) {
        const uint8_t *f = extra + e + 4;
        size_t left = len;
        auto take = [&](uint64_t &field) {
          if (field == 0xffffffff && left >= 8) {
            field = rd64(f);
            f += 8;
            left -= 8;
          }
        };
        take(usize);
        take(csize);
        take(local);
      }
      e += 4u + len;
    }
    pos += 46u + nameLen + extraLen + commentLen;
    if (flags & 1)
      return fail("entry '" + entryName + "' is encrypted");
    if (local > size || size - local < 30 || rd32(data + local) != 0x04034b50)
      return fail("malformed archive: bad local header of '" + entryName + "'");
    uint64_t dataStart = local + 30 + rd16(data + local + 26) + rd16(data + local + 28);
    if (dataStart > size || csize > size - dataStart)
      return fail("truncated archive: entry '" + entryName + "' extends past the end");
    const uint8_t *raw = data + dataStart;
    std::vector<uint8_t> inflated;
    const uint8_t *content = raw;
    size_t contentSize = static_cast<size_t>(csize);
    if (method == 8) {
#if KILNRT_HAVE_ZLIB
      if (usize > std::numeric_limits<uInt>::max() || csize > std::numeric_limits<uInt>::max())
        return fail("entry '" + entryName + "' is too large to inflate");
      inflated.resize(static_cast<size_t>(usize));
      const Zlib &z = zlib();
      if (!z.error.empty())
        return fail("entry '" + entryName + "' is compressed (numpy.savez_compressed); " +
                    "compressed .npz needs zlib: " + z.error);
      z_stream zs;
      std::memset(&zs, 0, sizeof zs);
      if (z.init(&zs, -MAX_WBITS, ZLIB_VERSION, static_cast<int>(sizeof(z_stream))) != Z_OK)
        return fail("zlib inflateInit2 failed");
      zs.next_in = const_cast<Bytef *>(raw);
      zs.avail_in = static_cast<uInt>(csize);
      zs.next_out = inflated.data();
      zs.avail_out = static_cast<uInt>(usize);
      int result = z.run(&zs, Z_FINISH);
      uint64_t produced = zs.total_out;
      z.end(&zs);
      if (result != Z_STREAM_END || produced != usize)
        return fail("entry '" + entryName + "': corrupt deflate data");
      content = inflated.data();
      contentSize = inflated.size();
#else
      return fail("entry '" + entryName +
                  "' is compressed (numpy.savez_compressed); compressed .npz needs zlib, which "
                  "this build of the runtime lacks: save it with numpy.savez");
#endif
    } else if (method != 0) {
      return fail("entry '" + entryName + "' uses compression method " + std::to_string(method) +
                  " (only stored and deflated entries are supported)");
    } else if (csize != usize) {
      return fail("malformed archive: stored entry '" + entryName + "' has different sizes");
    }
    if (crc32(content, contentSize) != crc)
      return fail("CRC mismatch in entry '" + entryName + "'");
    std::string arrayName = entryName;
    if (arrayName.size() > 4 && arrayName.compare(arrayName.size() - 4, 4, ".npy") == 0)
      arrayName.resize(arrayName.size() - 4);
    NpyArray array;
    std::string npyError;
    if (!parseNpy(content, contentSize, name + "/" + entryName, array, npyError)) {
      error = npyError;
      return false;
    }
    arrays.emplace_back(arrayName, std::move(array));
  }
  out = std::move(arrays);
  return true;
}

bool readNpzFile(const std::string &path, NamedArrays &out, std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readFileBytes(path, bytes, error))
    return false;
  return parseNpz(bytes.data(), bytes.size(), path, out, error);
}

bool writeNpzFile(const std::string &path, const NamedArrays &arrays, std::string &error) {
  std::vector<uint8_t> zip, central;
  for (const auto &entry : arrays) {
    std::vector<uint8_t> npy;
    if (!encodeNpy(entry.second, npy, error)) {
      error = "cannot write '" + path + "': " + entry.first + ": " + error;
      return false;
    }
    std::string name = entry.first + ".npy";
    if (zip.size() > 0xffffffffu || npy.size() > 0xffffffffu) {
      error = "cannot write '" + path + "': over 4 GiB (no ZIP64 support in the writer)";
      return false;
    }
    uint32_t crc = crc32(npy.data(), npy.size()), offset = static_cast<uint32_t>(zip.size());
    wr32(zip, 0x04034b50);
    wr16(zip, 20);
    wr16(zip, 0);
    wr16(zip, 0); // stored
    wr16(zip, 0);
    wr16(zip, 0x21); // 1980-01-01
    wr32(zip, crc);
    wr32(zip, static_cast<uint32_t>(npy.size()));
    wr32(zip, static_cast<uint32_t>(npy.size()));
    wr16(zip, static_cast<uint16_t>(name.size()));
    wr16(zip, 0);
    zip.insert(zip.end(), name.begin(), name.end());
    zip.insert(zip.end(), npy.begin(), npy.end());
    wr32(central, 0x02014b50);
    wr16(central, 20);
    wr16(central, 20);
    wr16(central, 0);
    wr16(central, 0);
    wr16(central, 0);
    wr16(central, 0x21);
    wr32(central, crc);
    wr32(central, static_cast<uint32_t>(npy.size()));
    wr32(central, static_cast<uint32_t>(npy.size()));
    wr16(central, static_cast<uint16_t>(name.size()));
    wr16(central, 0);
    wr16(central, 0);
    wr16(central, 0);
    wr16(central, 0);
    wr32(central, 0);
    wr32(central, offset);
    central.insert(central.end(), name.begin(), name.end());
  }
  uint32_t cdOffset = static_cast<uint32_t>(zip.size());
  zip.insert(zip.end(), central.begin(), central.end());
  wr32(zip, 0x06054b50);
  wr16(zip, 0);
  wr16(zip, 0);
  wr16(zip, static_cast<uint16_t>(arrays.size()));
  wr16(zip, static_cast<uint16_t>(arrays.size()));
  wr32(zip, static_cast<uint32_t>(central.size()));
  wr32(zip, cdOffset);
  wr16(zip, 0);
  return writeFileAtomically(path, zip.data(), zip.size(), 0666, error);
}

} // namespace kilnrt
