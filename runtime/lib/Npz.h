//===- Npz.h - numpy .npy / .npz files for kiln-run's artifact mode ---------------*- C++ -*-===//
//
// .npy versions 1, 2 and 3, little-endian, C order (Fortran order only for rank <= 1);
// .npz archives with stored entries, and deflated ones when built with zlib (KILNRT_HAVE_ZLIB).
// Self-contained: the runtime does not depend on the compiler's executor.
//
//===----------------------------------------------------------------------------------------===//

#ifndef KILNRT_LIB_NPZ_H
#define KILNRT_LIB_NPZ_H

#include "kilnrt/Artifact.h"

#include <string>
#include <utility>
#include <vector>

namespace kilnrt {

struct NpyArray {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data; // little-endian, row-major

  size_t numElements() const;
  /// Element `i` converted to double (f16/bf16 decoded; bool as 0/1).
  double getDouble(size_t i) const;
  /// A copy converted to `dtype` (float types round to nearest even; integers truncate).
  NpyArray castTo(DType dtype) const;
  /// "float32 [1, 32, 512]".
  std::string describe() const;
};

using NamedArrays = std::vector<std::pair<std::string, NpyArray>>;

/// Parses a .npy image; `name` is used in messages ("'x.npy': ...").
bool parseNpy(const uint8_t *data, size_t size, const std::string &name, NpyArray &out,
              std::string &error);
bool readNpyFile(const std::string &path, NpyArray &out, std::string &error);
/// The arrays of an .npz in archive order, named without the ".npy" suffix.
bool readNpzFile(const std::string &path, NamedArrays &out, std::string &error);
bool parseNpz(const uint8_t *data, size_t size, const std::string &name, NamedArrays &out,
              std::string &error);

/// A .npy image (version 1.0, or 2.0 for headers above 64 KiB). bfloat16 has no numpy dtype:
/// such arrays must be cast to float32 first (encodeNpy refuses them).
bool encodeNpy(const NpyArray &array, std::vector<uint8_t> &out, std::string &error);
bool writeNpyFile(const std::string &path, const NpyArray &array, std::string &error);
/// An .npz with stored (uncompressed) entries, as numpy.savez writes.
bool writeNpzFile(const std::string &path, const NamedArrays &arrays, std::string &error);

/// The numpy descr of a dtype ("<f4", "|b1"), or "" for bfloat16.
std::string npyDescr(DType dtype);

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bfloat16ToFloat(uint16_t b);
uint16_t floatToBfloat16(float f);
uint32_t crc32(const uint8_t *data, size_t size, uint32_t crc = 0);

} // namespace kilnrt

#endif // KILNRT_LIB_NPZ_H
