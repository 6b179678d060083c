//===- Artifact.cpp - serialization and validation of .kiln artifacts --------------------===//
//
// Layout (all integers little-endian; see runtime/README.md for the table):
//
//   header (64 bytes) | section table (32 bytes per section) | meta | ptx | cubin | weights
//
// The meta section (format v2) holds the entries (each its symbols, bindings and launches) and
// the optional generation section after the shared kernels and buffers.
// Every section carries an XXH64 checksum; the header carries one over itself and the table.
// Gaps between sections are zero (checked), so every single-bit corruption is detected. The
// reader never trusts a count, offset or index before checking it against the bytes it has.
//
//===----------------------------------------------------------------------------------------===//

#include "kilnrt/Artifact.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace kilnrt {

//===-- dtypes ---------------------------------------------------------------------------===//

bool isValidDType(uint8_t value) { return value >= 1 && value <= 13; }

size_t dtypeSize(DType type) {
  switch (type) {
  case DType::F64:
  case DType::I64:
  case DType::U64:
    return 8;
  case DType::F32:
  case DType::I32:
  case DType::U32:
    return 4;
  case DType::F16:
  case DType::BF16:
  case DType::I16:
  case DType::U16:
    return 2;
  case DType::I8:
  case DType::U8:
  case DType::Bool:
    return 1;
  }
  return 0;
}

const char *dtypeName(DType type) {
  switch (type) {
  case DType::F32: return "float32";
  case DType::F16: return "float16";
  case DType::BF16: return "bfloat16";
  case DType::F64: return "float64";
  case DType::I64: return "int64";
  case DType::I32: return "int32";
  case DType::I16: return "int16";
  case DType::I8: return "int8";
  case DType::U8: return "uint8";
  case DType::Bool: return "bool";
  case DType::U16: return "uint16";
  case DType::U32: return "uint32";
  case DType::U64: return "uint64";
  }
  return "invalid";
}

bool dtypeFromName(const std::string &name, DType &type) {
  for (uint8_t v = 1; v <= 13; ++v) {
    if (name == dtypeName(static_cast<DType>(v))) {
      type = static_cast<DType>(v);
      return true;
    }
  }
  return false;
}

//===-- Expr -----------------------------------------------------------------------------===//

Expr Expr::constant(int64_t v) {
  Expr e;
  e.steps.push_back({Op::Const, v});
  return e;
}

Expr Expr::symbol(uint32_t index) {
  Expr e;
  e.steps.push_back({Op::Symbol, static_cast<int64_t>(index)});
  return e;
}

static bool isBinaryOp(Expr::Op op) {
  return static_cast<uint8_t>(op) >= static_cast<uint8_t>(Expr::Op::Add) &&
         static_cast<uint8_t>(op) <= static_cast<uint8_t>(Expr::Op::Max);
}

static const char *opName(Expr::Op op) {
  switch (op) {
  case Expr::Op::Add: return "+";
  case Expr::Op::Sub: return "-";
  case Expr::Op::Mul: return "*";
  case Expr::Op::FloorDiv: return "floordiv";
  case Expr::Op::CeilDiv: return "ceildiv";
  case Expr::Op::Rem: return "mod";
  case Expr::Op::Min: return "min";
  case Expr::Op::Max: return "max";
  default: return "?";
  }
}

/// a op b; false with a message on division by zero or overflow.
static bool applyBinary(Expr::Op op, int64_t a, int64_t b, int64_t &r, std::string &error) {
  auto overflow = [&]() {
    error = "integer overflow in " + std::to_string(a) + " " + opName(op) + " " + std::to_string(b);
    return false;
  };
  switch (op) {
  case Expr::Op::Add:
    if (__builtin_add_overflow(a, b, &r))
      return overflow();
    return true;
  case Expr::Op::Sub:
    if (__builtin_sub_overflow(a, b, &r))
      return overflow();
    return true;
  case Expr::Op::Mul:
    if (__builtin_mul_overflow(a, b, &r))
      return overflow();
    return true;
  case Expr::Op::FloorDiv:
  case Expr::Op::CeilDiv:
  case Expr::Op::Rem: {
    if (b == 0) {
      error = "division by zero in " + std::to_string(a) + " " + opName(op) + " 0";
      return false;
    }
    if (b == -1) {
      if (op == Expr::Op::Rem) {
        r = 0;
        return true;
      }
      if (a == std::numeric_limits<int64_t>::min())
        return overflow();
      r = -a;
      return true;
    }
    int64_t q = a / b, m = a % b;
    if (op == Expr::Op::Rem) {
      r = (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
    } else if (op == Expr::Op::FloorDiv) {
      r = (m != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
    } else {
      r = (m != 0 && ((a < 0) == (b < 0))) ? q + 1 : q;
    }
    return true;
  }
  case Expr::Op::Min:
    r = std::min(a, b);
    return true;
  case Expr::Op::Max:
    r = std::max(a, b);
    return true;
  default:
    error = "unknown expression op " + std::to_string(static_cast<int>(op));
    return false;
  }
}

Expr Expr::binary(Op op, const Expr &a, const Expr &b) {
  int64_t x, y, r;
  std::string ignored;
  if (a.isConstant(&x) && b.isConstant(&y) && applyBinary(op, x, y, r, ignored))
    return constant(r);
  Expr e;
  e.steps.reserve(a.steps.size() + b.steps.size() + 1);
  e.steps = a.steps;
  e.steps.insert(e.steps.end(), b.steps.begin(), b.steps.end());
  e.steps.push_back({op, 0});
  return e;
}

bool Expr::isConstant(int64_t *value) const {
  if (steps.size() != 1 || steps[0].op != Op::Const)
    return false;
  if (value)
    *value = steps[0].value;
  return true;
}

bool Expr::isSymbol(uint32_t *index) const {
  if (steps.size() != 1 || steps[0].op != Op::Symbol || steps[0].value < 0 ||
      steps[0].value > std::numeric_limits<uint32_t>::max())
    return false;
  if (index)
    *index = static_cast<uint32_t>(steps[0].value);
  return true;
}

bool Expr::validate(size_t numSymbols, std::string &error) const {
  if (steps.empty()) {
    error = "empty expression";
    return false;
  }
  size_t depth = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step &s = steps[i];
    if (s.op == Op::Const) {
      ++depth;
    } else if (s.op == Op::Symbol) {
      if (s.value < 0 || static_cast<uint64_t>(s.value) >= numSymbols) {
        error = "expression step " + std::to_string(i) + " refers to symbol " +
                std::to_string(s.value) + ", but there are " + std::to_string(numSymbols) +
                " symbols";
        return false;
      }
      ++depth;
    } else if (isBinaryOp(s.op)) {
      if (depth < 2) {
        error = "expression step " + std::to_string(i) + " (" + opName(s.op) +
                ") needs two operands, the stack has " + std::to_string(depth);
        return false;
      }
      --depth;
    } else {
      error = "expression step " + std::to_string(i) + " has unknown op " +
              std::to_string(static_cast<int>(s.op));
      return false;
    }
  }
  if (depth != 1) {
    error = "expression leaves " + std::to_string(depth) + " values on the stack instead of 1";
    return false;
  }
  return true;
}

bool Expr::evaluate(const std::vector<int64_t> &symbols, int64_t &result,
                    std::string &error) const {
  if (!validate(symbols.size(), error))
    return false;
  // Small programs: a fixed stack avoids allocating in the launch loop.
  int64_t small[16];
  std::vector<int64_t> big;
  int64_t *stack = small;
  if (steps.size() > 16) {
    big.resize(steps.size());
    stack = big.data();
  }
  size_t depth = 0;
  for (const Step &s : steps) {
    if (s.op == Op::Const) {
      stack[depth++] = s.value;
    } else if (s.op == Op::Symbol) {
      stack[depth++] = symbols[static_cast<size_t>(s.value)];
    } else {
      int64_t b = stack[--depth], a = stack[depth - 1];
      if (!applyBinary(s.op, a, b, stack[depth - 1], error))
        return false;
    }
  }
  result = stack[0];
  return true;
}

std::string Expr::toString(const std::vector<std::string> &symbolNames) const {
  std::string error;
  if (!validate(std::numeric_limits<size_t>::max(), error))
    return "<malformed expression>";
  if (steps.size() > 255) // text grows quadratically with nesting: do not render huge programs
    return "<expression of " + std::to_string(steps.size()) + " steps>";
  std::vector<std::string> stack;
  for (const Step &s : steps) {
    if (s.op == Op::Const) {
      stack.push_back(std::to_string(s.value));
    } else if (s.op == Op::Symbol) {
      size_t i = static_cast<size_t>(s.value);
      stack.push_back(i < symbolNames.size() ? symbolNames[i] : "s" + std::to_string(i));
    } else {
      std::string b = std::move(stack.back());
      stack.pop_back();
      std::string a = std::move(stack.back());
      switch (s.op) {
      case Op::Add:
      case Op::Sub:
      case Op::Mul:
        stack.back() = "(" + a + " " + opName(s.op) + " " + b + ")";
        break;
      default:
        stack.back() = std::string(opName(s.op)) + "(" + a + ", " + b + ")";
      }
    }
  }
  std::string text = std::move(stack.back());
  if (text.size() > 2 && text.front() == '(' && text.back() == ')') {
    // Drop the outermost parentheses when they enclose the whole text.
    int level = 0;
    bool whole = true;
    for (size_t i = 0; i < text.size(); ++i) {
      level += text[i] == '(' ? 1 : text[i] == ')' ? -1 : 0;
      if (level == 0 && i + 1 < text.size()) {
        whole = false;
        break;
      }
    }
    if (whole)
      text = text.substr(1, text.size() - 2);
  }
  return text;
}

bool Expr::operator==(const Expr &other) const {
  if (steps.size() != other.steps.size())
    return false;
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i].op != other.steps[i].op || steps[i].value != other.steps[i].value)
      return false;
  return true;
}

//===-- checksum (XXH64, seed 0) -----------------------------------------------------------===//

namespace {
constexpr uint64_t kP1 = 11400714785074694791ULL, kP2 = 14029467366897019727ULL,
                   kP3 = 1609587929392839161ULL, kP4 = 9650029242287828579ULL,
                   kP5 = 2870177450012600261ULL;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t read64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}
inline uint32_t read32(const uint8_t *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t xxRound(uint64_t acc, uint64_t input) {
  acc += input * kP2;
  acc = rotl(acc, 31);
  return acc * kP1;
}
inline uint64_t xxMerge(uint64_t acc, uint64_t val) {
  acc ^= xxRound(0, val);
  return acc * kP1 + kP4;
}
} // namespace

uint64_t artifactChecksum(const uint8_t *p, size_t len) {
  const uint8_t *end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    const uint8_t *limit = end - 32;
    do {
      v1 = xxRound(v1, read64(p));
      v2 = xxRound(v2, read64(p + 8));
      v3 = xxRound(v3, read64(p + 16));
      v4 = xxRound(v4, read64(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = xxMerge(h, v1);
    h = xxMerge(h, v2);
    h = xxMerge(h, v3);
    h = xxMerge(h, v4);
  } else {
    h = kP5;
  }
  h += static_cast<uint64_t>(len);
  while (p + 8 <= end) {
    h ^= xxRound(0, read64(p));
    h = rotl(h, 27) * kP1 + kP4;
    p += 8;
  }
  if (p + 4 <= end) {
    h ^= static_cast<uint64_t>(read32(p)) * kP1;
    h = rotl(h, 23) * kP2 + kP3;
    p += 4;
  }
  while (p < end) {
    h ^= (*p) * kP5;
    h = rotl(h, 11) * kP1;
    ++p;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

//===-- validation -------------------------------------------------------------------------===//

uint64_t KVCacheLayout::bytesPerSlot() const {
  uint64_t bytes = dtypeSize(dtype);
  for (uint64_t factor : {uint64_t(layers), uint64_t(2), uint64_t(kvHeads), uint64_t(maxSeq),
                          uint64_t(headDim)})
    if (__builtin_mul_overflow(bytes, factor, &bytes))
      return 0;
  return bytes;
}

static const char *bufferKindName(Buffer::Kind kind) {
  switch (kind) {
  case Buffer::Kind::Arena: return "arena";
  case Buffer::Kind::Weights: return "weights";
  case Buffer::Kind::Cache: return "cache";
  }
  return "unknown";
}

static std::string bindingLabel(const std::string &prefix, const char *what, size_t index,
                                const TensorBinding &b) {
  return prefix + what + " " + std::to_string(index) + " ('" + b.name + "')";
}

/// Checks one entry against the artifact's kernels and buffers. `prefix` names the entry in
/// messages ("entry 1 ('prefill'): ") when the artifact has several.
static bool validateEntry(const Artifact &a, const Entry &e, const std::string &prefix,
                          std::string &error) {
  const size_t numSymbols = e.symbols.size();
  auto checkBindings = [&](const std::vector<TensorBinding> &list, const char *what,
                           bool isInput) {
    std::unordered_map<std::string, size_t> seen;
    for (size_t i = 0; i < list.size(); ++i) {
      const TensorBinding &t = list[i];
      if (t.name.empty()) {
        error = prefix + what + " " + std::to_string(i) + " has an empty name";
        return false;
      }
      auto [it, inserted] = seen.emplace(t.name, i);
      if (!inserted) {
        error = prefix + what + "s " + std::to_string(it->second) + " and " +
                std::to_string(i) + " are both named '" + t.name + "'";
        return false;
      }
      if (!isValidDType(static_cast<uint8_t>(t.dtype))) {
        error = bindingLabel(prefix, what, i, t) + " has unknown dtype " +
                std::to_string(static_cast<int>(t.dtype));
        return false;
      }
      if (t.buffer >= a.buffers.size()) {
        error = bindingLabel(prefix, what, i, t) + " uses buffer " + std::to_string(t.buffer) +
                ", but there are " + std::to_string(a.buffers.size()) + " buffers";
        return false;
      }
      Buffer::Kind kind = a.buffers[t.buffer].kind;
      if (isInput && kind != Buffer::Kind::Arena) {
        error = bindingLabel(prefix, what, i, t) + " is bound to buffer " +
                std::to_string(t.buffer) + ", which is not in the arena";
        return false;
      }
      if (kind == Buffer::Kind::Cache) {
        // The cache stays on the device; only the generator manages it.
        error = bindingLabel(prefix, what, i, t) + " is bound to buffer " +
                std::to_string(t.buffer) + ", the KV cache";
        return false;
      }
      for (size_t d = 0; d < t.dims.size(); ++d) {
        std::string exprError;
        if (!t.dims[d].validate(numSymbols, exprError)) {
          error = bindingLabel(prefix, what, i, t) + " dim " + std::to_string(d) + ": " +
                  exprError;
          return false;
        }
        int64_t value;
        if (t.dims[d].isConstant(&value) && value < 0) {
          error = bindingLabel(prefix, what, i, t) + " dim " + std::to_string(d) +
                  " is negative (" + std::to_string(value) + ")";
          return false;
        }
      }
    }
    return true;
  };
  if (!checkBindings(e.inputs, "input", true) || !checkBindings(e.outputs, "output", false))
    return false;
  std::unordered_map<std::string, size_t> symbolNames;
  for (size_t i = 0; i < numSymbols; ++i) {
    const Symbol &s = e.symbols[i];
    std::string label = prefix + "symbol " + std::to_string(i) + " ('" + s.name + "')";
    if (s.name.empty()) {
      error = prefix + "symbol " + std::to_string(i) + " has an empty name";
      return false;
    }
    auto [it, inserted] = symbolNames.emplace(s.name, i);
    if (!inserted) {
      error = prefix + "symbols " + std::to_string(it->second) + " and " + std::to_string(i) +
              " are both named '" + s.name + "'";
      return false;
    }
    if (s.input >= e.inputs.size()) {
      error = label + " refers to input " + std::to_string(s.input) + ", but there are " +
              std::to_string(e.inputs.size()) + " inputs";
      return false;
    }
    const TensorBinding &in = e.inputs[s.input];
    if (s.dim >= in.dims.size()) {
      error = label + " refers to dim " + std::to_string(s.dim) + " of input '" + in.name +
              "', which has " + std::to_string(in.dims.size()) + " dims";
      return false;
    }
    uint32_t index;
    if (!in.dims[s.dim].isSymbol(&index) || index != i) {
      error = label + " refers to dim " + std::to_string(s.dim) + " of input '" + in.name +
              "', whose extent is not that symbol";
      return false;
    }
    if (s.maxValue < 1) {
      error = label + " has maximum " + std::to_string(s.maxValue) + " (must be >= 1)";
      return false;
    }
  }
  for (size_t i = 0; i < e.launches.size(); ++i) {
    const Launch &l = e.launches[i];
    std::string label = prefix + "launch " + std::to_string(i) + " ('" + l.name + "')";
    if (l.kernel >= a.kernels.size()) {
      error = label + " uses kernel " + std::to_string(l.kernel) + ", but there are " +
              std::to_string(a.kernels.size()) + " kernels";
      return false;
    }
    uint64_t threads = 1;
    for (int d = 0; d < 3; ++d) {
      std::string exprError;
      if (!l.grid[d].validate(numSymbols, exprError)) {
        error = label + " grid " + "xyz"[d] + ": " + exprError;
        return false;
      }
      if (l.block[d] == 0) {
        error = label + " has block " + "xyz"[d] + " = 0";
        return false;
      }
      threads *= l.block[d];
    }
    if (threads > 1024) {
      error = label + " has " + std::to_string(threads) + " threads per block (at most 1024)";
      return false;
    }
    for (size_t j = 0; j < l.args.size(); ++j) {
      const KernelArg &arg = l.args[j];
      std::string argLabel = label + " argument " + std::to_string(j);
      if (arg.kind == KernelArg::Kind::Buffer) {
        if (arg.buffer >= a.buffers.size()) {
          error = argLabel + " uses buffer " + std::to_string(arg.buffer) + ", but there are " +
                  std::to_string(a.buffers.size()) + " buffers";
          return false;
        }
        if (!isValidDType(static_cast<uint8_t>(arg.dtype))) {
          error = argLabel + " has unknown dtype " + std::to_string(static_cast<int>(arg.dtype));
          return false;
        }
      } else if (arg.kind == KernelArg::Kind::Scalar) {
        std::string exprError;
        if (!arg.scalar.validate(numSymbols, exprError)) {
          error = argLabel + ": " + exprError;
          return false;
        }
      } else {
        error = argLabel + " has unknown kind " + std::to_string(static_cast<int>(arg.kind));
        return false;
      }
    }
  }
  return true;
}

/// The signature a prefill or decode entry must have (see Generation).
static bool validateGenerationEntry(const Artifact &a, uint32_t index, const char *role,
                                    std::string &error) {
  const Entry &e = a.entries[index];
  const int64_t vocab = a.generation->vocabSize;
  std::string label = std::string("the ") + role + " entry (entry " + std::to_string(index) +
                      ", '" + e.name + "')";
  const char *expected = "token ids int64 [1, T], 'kiln.positions' int64 [T], 'kiln.slots' "
                         "int64 [T]";
  if (e.inputs.size() != 3) {
    error = label + " has " + std::to_string(e.inputs.size()) + " inputs; it must take 3 (" +
            expected + ")";
    return false;
  }
  uint32_t symbol;
  auto isT = [&](const Expr &dim) { return dim.isSymbol(&symbol) && symbol == 0; };
  int64_t one;
  for (size_t i = 0; i < 3; ++i) {
    const TensorBinding &t = e.inputs[i];
    bool ok = t.dtype == DType::I64 &&
              (i == 0 ? t.dims.size() == 2 && t.dims[0].isConstant(&one) && one == 1 &&
                            isT(t.dims[1])
                      : t.dims.size() == 1 && isT(t.dims[0])) &&
              (i == 0 || t.name == (i == 1 ? "kiln.positions" : "kiln.slots"));
    if (!ok) {
      std::vector<std::string> names;
      for (const Symbol &s : e.symbols)
        names.push_back(s.name);
      std::string dims;
      for (const Expr &d : t.dims)
        dims += (dims.empty() ? "" : ", ") + d.toString(names);
      error = label + " input " + std::to_string(i) + " is '" + t.name + "' " + dtypeName(t.dtype) +
              " [" + dims + "]; the inputs must be " + expected + " with T symbol 0";
      return false;
    }
  }
  if (e.outputs.size() != 1) {
    error = label + " has " + std::to_string(e.outputs.size()) +
            " outputs; it must return only the logits (float32 [1, T, vocab])";
    return false;
  }
  const TensorBinding &logits = e.outputs[0];
  int64_t last = -1;
  if (logits.dtype != DType::F32 || logits.dims.size() != 3 ||
      !logits.dims[0].isConstant(&one) || one != 1 || !isT(logits.dims[1]) ||
      !logits.dims[2].isConstant(&last) || last != vocab) {
    std::vector<std::string> names;
    for (const Symbol &s : e.symbols)
      names.push_back(s.name);
    std::string dims;
    for (const Expr &d : logits.dims)
      dims += (dims.empty() ? "" : ", ") + d.toString(names);
    error = label + " output '" + logits.name + "' is " + dtypeName(logits.dtype) + " [" + dims +
            "]; the logits must be float32 [1, T, " + std::to_string(vocab) + "]";
    return false;
  }
  return true;
}

static bool validateGeneration(const Artifact &a, std::string &error) {
  const Generation &g = *a.generation;
  const KVCacheLayout &c = g.cache;
  const std::string label = "the generation section";
  for (auto [name, value] : {std::pair<const char *, uint32_t>{"layers", c.layers},
                             {"max_batch", c.maxBatch},
                             {"kv_heads", c.kvHeads},
                             {"max_seq", c.maxSeq},
                             {"head_dim", c.headDim}}) {
    if (value == 0) {
      error = label + " has a KV cache with " + name + " = 0";
      return false;
    }
  }
  if (c.dtype != DType::F32 && c.dtype != DType::F16 && c.dtype != DType::BF16) {
    error = label + " has a KV cache of " + dtypeName(c.dtype) +
            " (must be float32, float16 or bfloat16)";
    return false;
  }
  uint64_t perSlot = c.bytesPerSlot(), total = 0;
  if (perSlot == 0 || __builtin_mul_overflow(perSlot, uint64_t(c.maxBatch), &total)) {
    error = label + " has a KV cache too large to address";
    return false;
  }
  if (g.cacheBuffer >= a.buffers.size()) {
    error = label + " names cache buffer " + std::to_string(g.cacheBuffer) + ", but there are " +
            std::to_string(a.buffers.size()) + " buffers";
    return false;
  }
  const Buffer &b = a.buffers[g.cacheBuffer];
  if (b.kind != Buffer::Kind::Cache) {
    error = label + " names cache buffer " + std::to_string(g.cacheBuffer) +
            ", which is a buffer of the " + bufferKindName(b.kind);
    return false;
  }
  if (b.offset != 0 || b.capacityBytes != total) {
    error = "cache buffer " + std::to_string(g.cacheBuffer) + " (offset " +
            std::to_string(b.offset) + ", " + std::to_string(b.capacityBytes) +
            " bytes) must have offset 0 and " + std::to_string(total) + " bytes (" +
            std::to_string(c.maxBatch) + " slots of " + std::to_string(perSlot) + " bytes)";
    return false;
  }
  if (g.vocabSize < 1) {
    error = label + " has vocabulary size " + std::to_string(g.vocabSize) + " (must be >= 1)";
    return false;
  }
  for (auto [role, index] : {std::pair<const char *, uint32_t>{"prefill", g.prefillEntry},
                             {"decode", g.decodeEntry}}) {
    if (index >= a.entries.size()) {
      error = label + " names " + role + " entry " + std::to_string(index) + ", but there are " +
              std::to_string(a.entries.size()) + " entries";
      return false;
    }
  }
  if (g.prefillEntry == g.decodeEntry) {
    error = label + " names entry " + std::to_string(g.prefillEntry) +
            " both for prefill and for decode";
    return false;
  }
  return validateGenerationEntry(a, g.prefillEntry, "prefill", error) &&
         validateGenerationEntry(a, g.decodeEntry, "decode", error);
}

bool validateArtifact(const Artifact &a, std::string &error) {
  if (!a.kernels.empty() && a.ptx.empty() && a.cubin.empty()) {
    error = "the artifact has kernels but neither PTX nor a cubin";
    return false;
  }
  for (size_t i = 0; i < a.kernels.size(); ++i) {
    if (a.kernels[i].empty()) {
      error = "kernel " + std::to_string(i) + " has an empty name";
      return false;
    }
  }
  for (size_t i = 0; i < a.buffers.size(); ++i) {
    const Buffer &b = a.buffers[i];
    uint64_t limit;
    if (b.kind == Buffer::Kind::Arena) {
      limit = a.arenaBytes;
    } else if (b.kind == Buffer::Kind::Weights) {
      limit = a.weights.size();
    } else if (b.kind == Buffer::Kind::Cache) {
      // Its size is checked against the layout with the generation section.
      if (!a.generation) {
        error = "buffer " + std::to_string(i) +
                " is a KV cache buffer, but the artifact has no generation section";
        return false;
      }
      if (a.generation->cacheBuffer != i) {
        error = "buffer " + std::to_string(i) + " is a KV cache buffer, but the cache is buffer " +
                std::to_string(a.generation->cacheBuffer);
        return false;
      }
      continue;
    } else {
      error = "buffer " + std::to_string(i) + " has unknown kind " +
              std::to_string(static_cast<int>(b.kind));
      return false;
    }
    if (b.offset > limit || b.capacityBytes > limit - b.offset) {
      error = "buffer " + std::to_string(i) + " (offset " + std::to_string(b.offset) + ", " +
              std::to_string(b.capacityBytes) + " bytes) does not fit in the " +
              bufferKindName(b.kind) + " (" + std::to_string(limit) + " bytes)";
      return false;
    }
  }
  if (a.entries.empty()) {
    error = "the artifact has no entries";
    return false;
  }
  std::unordered_map<std::string, size_t> entryNames;
  for (size_t i = 0; i < a.entries.size(); ++i) {
    const Entry &e = a.entries[i];
    if (e.name.empty()) {
      error = "entry " + std::to_string(i) + " has an empty name";
      return false;
    }
    auto [it, inserted] = entryNames.emplace(e.name, i);
    if (!inserted) {
      error = "entries " + std::to_string(it->second) + " and " + std::to_string(i) +
              " are both named '" + e.name + "'";
      return false;
    }
    std::string prefix =
        a.entries.size() > 1 ? "entry " + std::to_string(i) + " ('" + e.name + "'): " : "";
    if (!validateEntry(a, e, prefix, error))
      return false;
  }
  return !a.generation || validateGeneration(a, error);
}

//===-- binary layout ----------------------------------------------------------------------===//

namespace {

constexpr uint8_t kMagic[8] = {0x89, 'K', 'I', 'L', 'N', '\r', '\n', 0x1A};
constexpr size_t kHeaderSize = 64;
constexpr size_t kEntrySize = 32;
constexpr size_t kHeaderChecksumOffset = 56;
constexpr uint32_t kMaxSections = 16;
constexpr uint64_t kWeightsAlignment = 256;

enum SectionId : uint32_t { kMeta = 1, kPtx = 2, kCubin = 3, kWeights = 4 };

const char *sectionName(uint32_t id) {
  switch (id) {
  case kMeta: return "meta";
  case kPtx: return "ptx";
  case kCubin: return "cubin";
  case kWeights: return "weights";
  }
  return "unknown";
}

class Writer {
public:
  std::vector<uint8_t> bytes;
  void u8(uint8_t v) { bytes.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i)
      bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i)
      bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void str(const std::string &s) {
    u32(static_cast<uint32_t>(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void expr(const Expr &e) {
    u32(static_cast<uint32_t>(e.steps.size()));
    for (const Expr::Step &s : e.steps) {
      u8(static_cast<uint8_t>(s.op));
      i64(s.value);
    }
  }
  void binding(const TensorBinding &t) {
    str(t.name);
    u8(static_cast<uint8_t>(t.dtype));
    u32(static_cast<uint32_t>(t.dims.size()));
    for (const Expr &d : t.dims)
      expr(d);
    u32(t.buffer);
  }
};

void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void encodeEntry(Writer &w, const Entry &e) {
  w.str(e.name);
  w.u8(e.cudaGraphs ? 1 : 0);
  w.u32(static_cast<uint32_t>(e.symbols.size()));
  for (const Symbol &s : e.symbols) {
    w.str(s.name);
    w.u32(s.input);
    w.u32(s.dim);
    w.i64(s.maxValue);
  }
  w.u32(static_cast<uint32_t>(e.inputs.size()));
  for (const TensorBinding &t : e.inputs)
    w.binding(t);
  w.u32(static_cast<uint32_t>(e.outputs.size()));
  for (const TensorBinding &t : e.outputs)
    w.binding(t);
  w.u32(static_cast<uint32_t>(e.launches.size()));
  for (const Launch &l : e.launches) {
    w.str(l.name);
    w.u32(l.kernel);
    for (const Expr &g : l.grid)
      w.expr(g);
    for (uint32_t b : l.block)
      w.u32(b);
    w.u32(l.sharedBytes);
    w.u32(static_cast<uint32_t>(l.args.size()));
    for (const KernelArg &arg : l.args) {
      w.u8(static_cast<uint8_t>(arg.kind));
      if (arg.kind == KernelArg::Kind::Buffer) {
        w.u32(arg.buffer);
        w.u8(static_cast<uint8_t>(arg.dtype));
      } else {
        w.expr(arg.scalar);
      }
    }
  }
}

std::vector<uint8_t> encodeMeta(const Artifact &a) {
  Writer w;
  w.str(a.target);
  w.str(a.precision);
  w.str(a.producer);
  w.u32(static_cast<uint32_t>(a.kernels.size()));
  for (const std::string &k : a.kernels)
    w.str(k);
  w.u32(static_cast<uint32_t>(a.buffers.size()));
  for (const Buffer &b : a.buffers) {
    w.u8(static_cast<uint8_t>(b.kind));
    w.u64(b.offset);
    w.u64(b.capacityBytes);
  }
  w.u64(a.arenaBytes);
  w.u32(static_cast<uint32_t>(a.entries.size()));
  for (const Entry &e : a.entries)
    encodeEntry(w, e);
  w.u8(a.generation ? 1 : 0);
  if (a.generation) {
    const Generation &g = *a.generation;
    w.u32(g.cache.layers);
    w.u32(g.cache.maxBatch);
    w.u32(g.cache.kvHeads);
    w.u32(g.cache.maxSeq);
    w.u32(g.cache.headDim);
    w.u8(static_cast<uint8_t>(g.cache.dtype));
    w.u32(g.cacheBuffer);
    w.u32(g.prefillEntry);
    w.u32(g.decodeEntry);
    w.i64(g.vocabSize);
  }
  return std::move(w.bytes);
}

/// A bounds-checked cursor over the meta section. The first failure sticks.
class Reader {
public:
  Reader(const uint8_t *data, size_t size) : data(data), size(size) {}
  bool ok() const { return error.empty(); }
  size_t remaining() const { return size - pos; }
  std::string error;

  bool need(size_t n, const char *what) {
    if (!ok())
      return false;
    if (n > remaining()) {
      error = std::string("truncated ") + what + " at byte " + std::to_string(pos);
      return false;
    }
    return true;
  }
  uint8_t u8(const char *what) {
    if (!need(1, what))
      return 0;
    return data[pos++];
  }
  uint32_t u32(const char *what) {
    if (!need(4, what))
      return 0;
    uint32_t v = read32(data + pos);
    pos += 4;
    return v;
  }
  uint64_t u64(const char *what) {
    if (!need(8, what))
      return 0;
    uint64_t v = read64(data + pos);
    pos += 8;
    return v;
  }
  int64_t i64(const char *what) { return static_cast<int64_t>(u64(what)); }
  /// A count of items of at least `minItemBytes` each: never more than the bytes left allow.
  uint32_t count(const char *what, size_t minItemBytes) {
    size_t at = pos;
    uint32_t n = u32(what);
    if (ok() && static_cast<uint64_t>(n) * minItemBytes > remaining()) {
      error = std::string("count of ") + what + " (" + std::to_string(n) + ") at byte " +
              std::to_string(at) + " exceeds the section";
      return 0;
    }
    return n;
  }
  std::string str(const char *what) {
    size_t at = pos;
    uint32_t n = u32(what);
    if (!ok())
      return {};
    if (n > remaining()) {
      error = std::string("length of ") + what + " (" + std::to_string(n) + ") at byte " +
              std::to_string(at) + " exceeds the section";
      return {};
    }
    std::string s(reinterpret_cast<const char *>(data + pos), n);
    pos += n;
    return s;
  }
  Expr expr(const char *what) {
    Expr e;
    uint32_t n = count(what, 9);
    e.steps.reserve(n);
    for (uint32_t i = 0; i < n && ok(); ++i) {
      size_t at = pos;
      uint8_t op = u8(what);
      int64_t value = i64(what);
      if (ok() && op > static_cast<uint8_t>(Expr::Op::Max)) {
        error = std::string("unknown op ") + std::to_string(op) + " in " + what + " at byte " +
                std::to_string(at);
        break;
      }
      e.steps.push_back({static_cast<Expr::Op>(op), value});
    }
    return e;
  }
  DType dtype(const char *what) {
    size_t at = pos;
    uint8_t v = u8(what);
    if (ok() && !isValidDType(v))
      error = std::string("unknown dtype ") + std::to_string(v) + " in " + what + " at byte " +
              std::to_string(at);
    return static_cast<DType>(v);
  }
  TensorBinding binding(const char *what) {
    TensorBinding t;
    t.name = str(what);
    t.dtype = dtype(what);
    uint32_t rank = count(what, 4);
    for (uint32_t i = 0; i < rank && ok(); ++i)
      t.dims.push_back(expr(what));
    t.buffer = u32(what);
    return t;
  }

private:
  const uint8_t *data;
  size_t size;
  size_t pos = 0;
};

/// A flag byte: 0 or 1, anything else is malformed.
bool decodeFlag(Reader &r, const char *what) {
  uint8_t v = r.u8(what);
  if (r.ok() && v > 1)
    r.error = std::string(what) + " is " + std::to_string(v) + " (must be 0 or 1)";
  return v == 1;
}

void decodeEntry(Reader &r, size_t index, Entry &e) {
  e.name = r.str("entry name");
  e.cudaGraphs = decodeFlag(r, "entry CUDA graph flag");
  uint32_t n = r.count("symbols", 20);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    Symbol s;
    s.name = r.str("symbol name");
    s.input = r.u32("symbol input");
    s.dim = r.u32("symbol dim");
    s.maxValue = r.i64("symbol maximum");
    e.symbols.push_back(std::move(s));
  }
  n = r.count("inputs", 13);
  for (uint32_t i = 0; i < n && r.ok(); ++i)
    e.inputs.push_back(r.binding("input"));
  n = r.count("outputs", 13);
  for (uint32_t i = 0; i < n && r.ok(); ++i)
    e.outputs.push_back(r.binding("output"));
  n = r.count("launches", 4 + 4 + 3 * 4 + 12 + 4 + 4);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    Launch l;
    l.name = r.str("launch name");
    l.kernel = r.u32("launch kernel");
    for (Expr &g : l.grid)
      g = r.expr("launch grid");
    for (uint32_t &b : l.block)
      b = r.u32("launch block");
    l.sharedBytes = r.u32("launch shared bytes");
    uint32_t numArgs = r.count("launch arguments", 5);
    for (uint32_t j = 0; j < numArgs && r.ok(); ++j) {
      KernelArg arg;
      uint8_t kind = r.u8("argument kind");
      if (!r.ok())
        break;
      if (kind == static_cast<uint8_t>(KernelArg::Kind::Buffer)) {
        arg.kind = KernelArg::Kind::Buffer;
        arg.buffer = r.u32("argument buffer");
        arg.dtype = r.dtype("argument dtype");
      } else if (kind == static_cast<uint8_t>(KernelArg::Kind::Scalar)) {
        arg.kind = KernelArg::Kind::Scalar;
        arg.scalar = r.expr("scalar argument");
      } else {
        r.error = "entry " + std::to_string(index) + " launch " + std::to_string(i) +
                  " argument " + std::to_string(j) + " has unknown kind " + std::to_string(kind);
        return;
      }
      l.args.push_back(std::move(arg));
    }
    e.launches.push_back(std::move(l));
  }
}

bool decodeMeta(const uint8_t *data, size_t size, Artifact &a, std::string &error) {
  Reader r(data, size);
  a.target = r.str("target");
  a.precision = r.str("precision");
  a.producer = r.str("producer");
  uint32_t n = r.count("kernels", 4);
  for (uint32_t i = 0; i < n && r.ok(); ++i)
    a.kernels.push_back(r.str("kernel name"));
  n = r.count("buffers", 17);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    Buffer b;
    uint8_t kind = r.u8("buffer kind");
    if (r.ok() && kind > static_cast<uint8_t>(Buffer::Kind::Cache)) {
      error = "buffer " + std::to_string(i) + " has unknown kind " + std::to_string(kind);
      return false;
    }
    b.kind = static_cast<Buffer::Kind>(kind);
    b.offset = r.u64("buffer offset");
    b.capacityBytes = r.u64("buffer capacity");
    a.buffers.push_back(b);
  }
  a.arenaBytes = r.u64("arena size");
  n = r.count("entries", 4 + 1 + 4 * 4);
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    Entry e;
    decodeEntry(r, i, e);
    a.entries.push_back(std::move(e));
  }
  if (decodeFlag(r, "generation flag") && r.ok()) {
    Generation g;
    g.cache.layers = r.u32("cache layers");
    g.cache.maxBatch = r.u32("cache max batch");
    g.cache.kvHeads = r.u32("cache KV heads");
    g.cache.maxSeq = r.u32("cache max sequence length");
    g.cache.headDim = r.u32("cache head dim");
    g.cache.dtype = r.dtype("cache dtype");
    g.cacheBuffer = r.u32("cache buffer");
    g.prefillEntry = r.u32("prefill entry");
    g.decodeEntry = r.u32("decode entry");
    g.vocabSize = r.i64("vocabulary size");
    a.generation = g;
  }
  if (r.ok() && r.remaining() != 0)
    r.error = std::to_string(r.remaining()) + " unexpected bytes at the end";
  if (!r.ok()) {
    error = r.error;
    return false;
  }
  return true;
}

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

} // namespace

std::vector<uint8_t> serializeArtifact(const Artifact &a) {
  std::vector<uint8_t> meta = encodeMeta(a);
  struct Piece {
    uint32_t id;
    const uint8_t *data;
    uint64_t size;
    uint64_t alignment;
    uint64_t offset;
  };
  Piece pieces[4] = {
      {kMeta, meta.data(), meta.size(), 8, 0},
      {kPtx, reinterpret_cast<const uint8_t *>(a.ptx.data()), a.ptx.size(), 8, 0},
      {kCubin, a.cubin.data(), a.cubin.size(), 8, 0},
      {kWeights, a.weights.data(), a.weights.size(), kWeightsAlignment, 0},
  };
  uint64_t pos = kHeaderSize + 4 * kEntrySize;
  for (Piece &p : pieces) {
    p.offset = alignUp(pos, p.alignment);
    pos = p.offset + p.size;
  }
  std::vector<uint8_t> out(pos, 0);
  uint8_t *h = out.data();
  std::memcpy(h, kMagic, 8);
  put32(h + 8, kArtifactVersion);
  put32(h + 12, kHeaderSize);
  put64(h + 16, pos);
  put32(h + 24, 4);
  put32(h + 28, kEntrySize);
  put64(h + 32, kHeaderSize);
  for (int i = 0; i < 4; ++i) {
    const Piece &p = pieces[i];
    uint8_t *e = h + kHeaderSize + i * kEntrySize;
    put32(e, p.id);
    put32(e + 4, static_cast<uint32_t>(p.alignment));
    put64(e + 8, p.offset);
    put64(e + 16, p.size);
    put64(e + 24, artifactChecksum(p.data, p.size));
    if (p.size)
      std::memcpy(out.data() + p.offset, p.data, p.size);
  }
  std::vector<uint8_t> covered(h, h + kHeaderChecksumOffset);
  covered.insert(covered.end(), h + kHeaderSize, h + kHeaderSize + 4 * kEntrySize);
  put64(h + kHeaderChecksumOffset, artifactChecksum(covered.data(), covered.size()));
  return out;
}

bool deserializeArtifact(const uint8_t *data, size_t size, Artifact &out, std::string &error) {
  return deserializeArtifact(data, size, out, error, "", nullptr);
}

bool deserializeArtifact(const uint8_t *data, size_t size, Artifact &out, std::string &error,
                         const std::string &name, ArtifactErrorKind *kind) {
  std::string label = name.empty() ? "artifact" : "artifact '" + name + "'";
  auto fail = [&](ArtifactErrorKind k, const std::string &message) {
    if (kind)
      *kind = k;
    error = message;
    return false;
  };
  auto corrupt = [&](const std::string &message) {
    return fail(ArtifactErrorKind::Corrupt, label + " is corrupt: " + message);
  };
  if (kind)
    *kind = ArtifactErrorKind::None;
  if (!data && size)
    return fail(ArtifactErrorKind::Io, label + ": no data");
  // Magic: a prefix of it in a short file is a truncated artifact, anything else is not one.
  size_t magicBytes = std::min<size_t>(size, 8);
  if (size == 0 || std::memcmp(data, kMagic, magicBytes) != 0)
    return fail(ArtifactErrorKind::NotKiln,
                size == 0 ? label + " is empty"
                          : label + " is not a Kiln artifact (it does not start with the "
                                    "artifact magic)");
  if (size < 12)
    return fail(ArtifactErrorKind::Truncated, label + " is truncated: " + std::to_string(size) +
                                                  " bytes, less than its 64-byte header");
  uint32_t version = read32(data + 8);
  if (version != kArtifactVersion)
    return fail(ArtifactErrorKind::Version,
                label + " has artifact format version " + std::to_string(version) +
                    ", this runtime reads " + std::to_string(kArtifactVersion));
  auto truncated = [&](uint64_t expected) {
    return fail(ArtifactErrorKind::Truncated, label + " is truncated: " + std::to_string(size) +
                                                  " of " + std::to_string(expected) + " bytes");
  };
  if (size < kHeaderSize) {
    if (size >= 24)
      return truncated(read64(data + 16));
    return fail(ArtifactErrorKind::Truncated, label + " is truncated: " + std::to_string(size) +
                                                  " bytes, less than its 64-byte header");
  }
  uint64_t fileSize = read64(data + 16);
  uint32_t headerSize = read32(data + 12), numSections = read32(data + 24),
           entrySize = read32(data + 28);
  uint64_t tableOffset = read64(data + 32);
  if (headerSize != kHeaderSize || entrySize != kEntrySize || tableOffset != kHeaderSize ||
      numSections > kMaxSections) {
    // Either a damaged header or one this version does not know: the checksum cannot be
    // located reliably, so say what is wrong.
    return corrupt("malformed header (header size " + std::to_string(headerSize) +
                   ", section entry size " + std::to_string(entrySize) + ", table offset " +
                   std::to_string(tableOffset) + ", " + std::to_string(numSections) +
                   " sections)");
  }
  uint64_t tableEnd = kHeaderSize + uint64_t(numSections) * kEntrySize;
  if (tableEnd > size)
    return truncated(fileSize > size ? fileSize : tableEnd);
  {
    std::vector<uint8_t> covered(data, data + kHeaderChecksumOffset);
    covered.insert(covered.end(), data + kHeaderSize, data + tableEnd);
    if (artifactChecksum(covered.data(), covered.size()) !=
        read64(data + kHeaderChecksumOffset))
      return fail(ArtifactErrorKind::Corrupt, label + ": checksum mismatch in the header");
  }
  if (size < fileSize)
    return truncated(fileSize);
  if (size > fileSize)
    return corrupt(std::to_string(size) + " bytes, but its header says " +
                   std::to_string(fileSize));
  for (size_t i = 40; i < kHeaderChecksumOffset; ++i)
    if (data[i] != 0)
      return corrupt("nonzero reserved header byte " + std::to_string(i));

  struct Entry {
    uint32_t id;
    uint64_t offset, size;
  };
  std::vector<Entry> entries;
  const uint8_t *sectionData[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  size_t sectionSize[5] = {0, 0, 0, 0, 0};
  bool seen[5] = {false, false, false, false, false};
  for (uint32_t i = 0; i < numSections; ++i) {
    const uint8_t *e = data + kHeaderSize + i * kEntrySize;
    Entry entry{read32(e), read64(e + 8), read64(e + 16)};
    if (entry.id < kMeta || entry.id > kWeights)
      return corrupt("unknown section id " + std::to_string(entry.id));
    const char *sname = sectionName(entry.id);
    if (seen[entry.id])
      return corrupt(std::string("section '") + sname + "' appears twice");
    if (entry.offset < tableEnd || entry.offset > fileSize ||
        entry.size > fileSize - entry.offset)
      return corrupt(std::string("section '") + sname + "' (offset " +
                     std::to_string(entry.offset) + ", " + std::to_string(entry.size) +
                     " bytes) lies outside the file's " + std::to_string(fileSize) + " bytes");
    if (entry.id == kWeights && entry.offset % kWeightsAlignment != 0)
      return corrupt("section 'weights' is not 256-byte aligned (offset " +
                     std::to_string(entry.offset) + ")");
    if (artifactChecksum(data + entry.offset, entry.size) != read64(e + 24))
      return fail(ArtifactErrorKind::Corrupt,
                  label + ": checksum mismatch in section '" + sname + "'");
    seen[entry.id] = true;
    sectionData[entry.id] = data + entry.offset;
    sectionSize[entry.id] = static_cast<size_t>(entry.size);
    entries.push_back(entry);
  }
  for (uint32_t id : {kMeta, kPtx, kWeights})
    if (!seen[id])
      return corrupt(std::string("section '") + sectionName(id) + "' is missing");
  // Sections must not overlap; the gaps between them (alignment padding) must be zero.
  std::sort(entries.begin(), entries.end(),
            [](const Entry &x, const Entry &y) { return x.offset < y.offset; });
  uint64_t pos = tableEnd;
  for (const Entry &entry : entries) {
    if (entry.offset < pos)
      return corrupt(std::string("section '") + sectionName(entry.id) +
                     "' overlaps the one before it");
    for (uint64_t b = pos; b < entry.offset; ++b)
      if (data[b] != 0)
        return corrupt("nonzero padding byte at offset " + std::to_string(b));
    pos = entry.offset + entry.size;
  }
  for (uint64_t b = pos; b < fileSize; ++b)
    if (data[b] != 0)
      return corrupt("nonzero padding byte at offset " + std::to_string(b));

  auto bytesOf = [&](uint32_t id, size_t &n) -> const uint8_t * {
    n = sectionSize[id];
    return sectionData[id];
  };
  Artifact a;
  size_t n;
  const uint8_t *p = bytesOf(kMeta, n);
  std::string metaError;
  if (!decodeMeta(p, n, a, metaError))
    return corrupt("section 'meta' is malformed: " + metaError);
  p = bytesOf(kPtx, n);
  a.ptx.assign(reinterpret_cast<const char *>(p), n);
  p = bytesOf(kCubin, n);
  if (n)
    a.cubin.assign(p, p + n);
  p = bytesOf(kWeights, n);
  if (n)
    a.weights.assign(p, p + n);
  std::string invalid;
  if (!validateArtifact(a, invalid))
    return corrupt(invalid);
  out = std::move(a);
  return true;
}

//===-- files ------------------------------------------------------------------------------===//

std::string formatBytes(uint64_t bytes) {
  const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024)
    return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v,
                units[u]);
  return buf;
}

bool readFileBytes(const std::string &path, std::vector<uint8_t> &bytes, std::string &error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    error = "cannot read '" + path + "': " + (S_ISDIR(st.st_mode) ? "is a directory"
                                                                  : std::strerror(errno));
    ::close(fd);
    return false;
  }
  bytes.clear();
  try {
    if (S_ISREG(st.st_mode))
      bytes.reserve(static_cast<size_t>(st.st_size));
    uint8_t chunk[1 << 16];
    for (;;) {
      ssize_t got;
      if (S_ISREG(st.st_mode) && bytes.capacity() > bytes.size()) {
        size_t old = bytes.size();
        bytes.resize(bytes.capacity());
        got = ::read(fd, bytes.data() + old, bytes.size() - old);
        bytes.resize(old + (got > 0 ? static_cast<size_t>(got) : 0));
      } else {
        got = ::read(fd, chunk, sizeof chunk);
        if (got > 0)
          bytes.insert(bytes.end(), chunk, chunk + got);
      }
      if (got == 0)
        break;
      if (got < 0) {
        if (errno == EINTR)
          continue;
        error = "cannot read '" + path + "': " + std::strerror(errno);
        ::close(fd);
        return false;
      }
    }
  } catch (const std::bad_alloc &) {
    error = "cannot read '" + path + "': out of memory";
    ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

bool writeFileAtomically(const std::string &path, const void *data, size_t size, unsigned mode,
                         std::string &error) {
  static unsigned counter = 0;
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
          std::to_string(__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    return false;
  }
  const uint8_t *p = static_cast<const uint8_t *>(data);
  size_t left = size;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      error = "cannot write '" + path + "': " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

bool writeArtifactFile(const std::string &path, const Artifact &artifact, std::string &error) {
  std::string invalid;
  if (!validateArtifact(artifact, invalid)) {
    error = "not writing '" + path + "': the artifact is invalid: " + invalid;
    return false;
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = serializeArtifact(artifact);
  } catch (const std::bad_alloc &) {
    error = "cannot write '" + path + "': out of memory";
    return false;
  }
  return writeFileAtomically(path, bytes.data(), bytes.size(), 0666, error);
}

bool readArtifactFile(const std::string &path, Artifact &out, std::string &error) {
  return readArtifactFile(path, out, error, nullptr);
}

bool readArtifactFile(const std::string &path, Artifact &out, std::string &error,
                      ArtifactErrorKind *kind) {
  std::vector<uint8_t> bytes;
  if (!readFileBytes(path, bytes, error)) {
    if (kind)
      *kind = ArtifactErrorKind::Io;
    return false;
  }
  try {
    return deserializeArtifact(bytes.data(), bytes.size(), out, error, path, kind);
  } catch (const std::bad_alloc &) {
    error = "artifact '" + path + "': out of memory";
    if (kind)
      *kind = ArtifactErrorKind::Io;
    return false;
  }
}

//===-- embedded artifacts -----------------------------------------------------------------===//

bool appendArtifactToStub(const std::string &stubPath, const std::vector<uint8_t> &artifact,
                          const std::string &outPath, std::string &error) {
  std::vector<uint8_t> bytes;
  if (!readFileBytes(stubPath, bytes, error))
    return false;
  if (bytes.size() >= kEmbeddedTrailerSize &&
      std::memcmp(bytes.data() + bytes.size() - 8, kEmbeddedMagic, 8) == 0) {
    error = "'" + stubPath + "' already has an embedded artifact; use the plain stub";
    return false;
  }
  // Start the artifact on a 256-byte boundary, so that its weights are aligned in the file too.
  bytes.resize(alignUp(bytes.size(), 256), 0);
  uint64_t offset = bytes.size();
  bytes.insert(bytes.end(), artifact.begin(), artifact.end());
  uint8_t trailer[kEmbeddedTrailerSize];
  put64(trailer, offset);
  put64(trailer + 8, artifact.size());
  std::memcpy(trailer + 16, kEmbeddedMagic, 8);
  bytes.insert(bytes.end(), trailer, trailer + kEmbeddedTrailerSize);
  return writeFileAtomically(outPath, bytes.data(), bytes.size(), 0755, error);
}

bool findEmbeddedArtifact(const std::string &binaryPath, std::vector<uint8_t> &artifact,
                          std::string &error) {
  int fd = ::open(binaryPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot read '" + binaryPath + "': " + std::strerror(errno);
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    error = "cannot read '" + binaryPath + "': " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  uint64_t fileSize = static_cast<uint64_t>(st.st_size);
  uint8_t trailer[kEmbeddedTrailerSize];
  if (fileSize < kEmbeddedTrailerSize ||
      ::pread(fd, trailer, kEmbeddedTrailerSize,
              static_cast<off_t>(fileSize - kEmbeddedTrailerSize)) !=
          static_cast<ssize_t>(kEmbeddedTrailerSize) ||
      std::memcmp(trailer + 16, kEmbeddedMagic, 8) != 0) {
    error = "'" + binaryPath + "' has no embedded Kiln artifact (no KILNEXE1 trailer); build "
            "it with kiln-compile --emit=exe or --emit=lib";
    ::close(fd);
    return false;
  }
  uint64_t offset = read64(trailer), size = read64(trailer + 8);
  if (offset > fileSize - kEmbeddedTrailerSize ||
      size != fileSize - kEmbeddedTrailerSize - offset) {
    error = "'" + binaryPath + "' has a damaged KILNEXE1 trailer (artifact at " +
            std::to_string(offset) + ", " + std::to_string(size) + " bytes, in a file of " +
            std::to_string(fileSize) + ")";
    ::close(fd);
    return false;
  }
  try {
    artifact.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc &) {
    error = "cannot read '" + binaryPath + "': out of memory";
    ::close(fd);
    return false;
  }
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, artifact.data() + done, static_cast<size_t>(size - done),
                        static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = "cannot read '" + binaryPath + "': " + (n < 0 ? std::strerror(errno) : "short read");
      ::close(fd);
      return false;
    }
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return true;
}

} // namespace kilnrt
