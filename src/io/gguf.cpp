#include "io/gguf.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace dsinfer::io {

namespace {

constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;        // nested arrays deeper than this are rejected
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;            // empty key, type, one byte value
constexpr uint64_t kMinTensorBytes = 8 + 4 + 8 + 4 + 8;  // empty name, one dim, type, offset

struct GgmlTypeInfo {
  const char* name;  // nullptr: unused id
  uint32_t block;    // elements per block
  uint32_t size;     // bytes per block
};

// ggml type ids -> block layout (ids 4, 5, 31..33, 36..38 were removed from ggml).
constexpr std::array<GgmlTypeInfo, 40> kGgmlTypes = {{
    {"F32", 1, 4},        {"F16", 1, 2},        {"Q4_0", 32, 18},      {"Q4_1", 32, 20},
    {nullptr, 0, 0},      {nullptr, 0, 0},      {"Q5_0", 32, 22},      {"Q5_1", 32, 24},
    {"Q8_0", 32, 34},     {"Q8_1", 32, 36},     {"Q2_K", 256, 84},     {"Q3_K", 256, 110},
    {"Q4_K", 256, 144},   {"Q5_K", 256, 176},   {"Q6_K", 256, 210},    {"Q8_K", 256, 292},
    {"IQ2_XXS", 256, 66}, {"IQ2_XS", 256, 74},  {"IQ3_XXS", 256, 98},  {"IQ1_S", 256, 50},
    {"IQ4_NL", 32, 18},   {"IQ3_S", 256, 110},  {"IQ2_S", 256, 82},    {"IQ4_XS", 256, 136},
    {"I8", 1, 1},         {"I16", 1, 2},        {"I32", 1, 4},         {"I64", 1, 8},
    {"F64", 1, 8},        {"IQ1_M", 256, 56},   {"BF16", 1, 2},        {nullptr, 0, 0},
    {nullptr, 0, 0},      {nullptr, 0, 0},      {"TQ1_0", 256, 54},    {"TQ2_0", 256, 66},
    {nullptr, 0, 0},      {nullptr, 0, 0},      {nullptr, 0, 0},       {"MXFP4", 32, 17},
}};

const GgmlTypeInfo* ggml_type(uint32_t t) {
  if (t >= kGgmlTypes.size() || kGgmlTypes[t].name == nullptr) return nullptr;
  return &kGgmlTypes[t];
}

// Bytes of one scalar value; 0 for STRING, ARRAY and unknown types.
size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::BOOL: return 1;
    case GgufType::UINT16: case GgufType::INT16: return 2;
    case GgufType::UINT32: case GgufType::INT32: case GgufType::FLOAT32: return 4;
    case GgufType::UINT64: case GgufType::INT64: case GgufType::FLOAT64: return 8;
    default: return 0;
  }
}

bool is_integer_type(GgufType t) {
  return scalar_size(t) != 0 && t != GgufType::FLOAT32 && t != GgufType::FLOAT64 && t != GgufType::BOOL;
}

bool known_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::FLOAT64); }

// Smallest encoding of one value of type t (used to bound counts by the bytes left).
uint64_t min_value_size(GgufType t) {
  if (t == GgufType::STRING) return 8;
  if (t == GgufType::ARRAY) return 4 + 8;
  return scalar_size(t);
}

std::string quoted_key(std::string_view key) { return key.empty() ? std::string() : cat("key '", key, "': "); }

}  // namespace

// Bounds-checked little-endian reader over the mapping.
class GgufCursor {
 public:
  GgufCursor(const uint8_t* data, size_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  size_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  [[noreturn]] void fail_here(std::string_view key, const std::string& what) const {
    fail("GGUF ", path_, ": ", quoted_key(key), what);
  }

  template <typename T>
  T read(std::string_view key, const char* what) {
    if (left() < sizeof(T)) {
      fail_here(key, cat("file truncated reading ", what, " at offset ", pos_, " (file size ", size_, ")"));
    }
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string_view read_string(std::string_view key, const char* what) {
    const size_t at = pos_;
    const uint64_t n = read<uint64_t>(key, what);
    if (n > left()) {
      fail_here(key, cat(what, " length ", n, " at offset ", at, " runs past the end of the file (size ", size_, ")"));
    }
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  void skip_to(size_t p) { pos_ = p; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

namespace {

GgufValue parse_value(GgufCursor& cur, GgufType type, std::string_view key, int depth);

GgufValue parse_array(GgufCursor& cur, std::string_view key, int depth) {
  if (depth >= kMaxArrayDepth) cur.fail_here(key, cat("arrays nested deeper than ", kMaxArrayDepth, " levels"));
  GgufValue v;
  v.type = GgufType::ARRAY;
  const uint32_t et = cur.read<uint32_t>(key, "array element type");
  if (!known_type(et)) cur.fail_here(key, cat("unknown array element type ", et));
  v.elem_type = static_cast<GgufType>(et);
  const uint64_t n = cur.read<uint64_t>(key, "array length");
  const uint64_t min = min_value_size(v.elem_type);
  if (n > cur.left() / min) {
    cur.fail_here(key, cat("array of ", n, " ", gguf_type_name(v.elem_type), " values needs at least ", min,
                           " bytes each but only ", cur.left(), " bytes are left in the file"));
  }
  v.items.reserve(static_cast<size_t>(n));
  for (uint64_t k = 0; k < n; ++k) v.items.push_back(parse_value(cur, v.elem_type, key, depth + 1));
  return v;
}

GgufValue parse_value(GgufCursor& cur, GgufType type, std::string_view key, int depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufType::UINT8: v.u = cur.read<uint8_t>(key, "uint8 value"); break;
    case GgufType::INT8: v.i = cur.read<int8_t>(key, "int8 value"); break;
    case GgufType::UINT16: v.u = cur.read<uint16_t>(key, "uint16 value"); break;
    case GgufType::INT16: v.i = cur.read<int16_t>(key, "int16 value"); break;
    case GgufType::UINT32: v.u = cur.read<uint32_t>(key, "uint32 value"); break;
    case GgufType::INT32: v.i = cur.read<int32_t>(key, "int32 value"); break;
    case GgufType::UINT64: v.u = cur.read<uint64_t>(key, "uint64 value"); break;
    case GgufType::INT64: v.i = cur.read<int64_t>(key, "int64 value"); break;
    case GgufType::FLOAT32: v.f = cur.read<float>(key, "float32 value"); break;
    case GgufType::FLOAT64: v.f = cur.read<double>(key, "float64 value"); break;
    case GgufType::BOOL: {
      const uint8_t b = cur.read<uint8_t>(key, "bool value");
      if (b > 1) cur.fail_here(key, cat("bool value ", static_cast<int>(b), " is neither 0 nor 1"));
      v.u = b;
      break;
    }
    case GgufType::STRING: v.str = cur.read_string(key, "string"); break;
    case GgufType::ARRAY: return parse_array(cur, key, depth);
    default: cur.fail_here(key, cat("unknown value type ", static_cast<uint32_t>(type)));
  }
  return v;
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
  static constexpr std::array<const char*, 13> kNames = {"uint8", "int8",   "uint16", "int16", "uint32",
                                                         "int32", "float32", "bool",  "string", "array",
                                                         "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < kNames.size() ? kNames[i] : "unknown";
}

std::string_view ggml_type_name(uint32_t type) {
  const GgmlTypeInfo* info = ggml_type(type);
  return info ? info->name : "";
}

bool GgufValue::is_integer() const { return is_integer_type(type); }

std::optional<int64_t> GgufValue::to_int() const {
  if (!is_integer()) return std::nullopt;
  switch (type) {
    case GgufType::UINT8: case GgufType::UINT16: case GgufType::UINT32: case GgufType::UINT64:
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(u);
    default: return i;
  }
}

std::string GgufValue::to_string(size_t max_items) const {
  std::ostringstream os;
  switch (type) {
    case GgufType::STRING: os << '"' << str << '"'; break;
    case GgufType::BOOL: os << (u ? "true" : "false"); break;
    case GgufType::FLOAT32: case GgufType::FLOAT64: os << f; break;
    case GgufType::ARRAY: {
      os << "[" << gguf_type_name(elem_type) << " x " << items.size() << ":";
      for (size_t k = 0; k < items.size() && k < max_items; ++k) {
        os << (k ? ", " : " ") << items[k].to_string(max_items);
      }
      if (items.size() > max_items) os << ", ...";
      os << "]";
      break;
    }
    case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64: os << i; break;
    default: os << u; break;
  }
  return os.str();
}

uint64_t GgufTensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

GgufFile::GgufFile(const std::string& path) : map_(std::make_unique<MappedFile>(path)) { parse(); }

void GgufFile::fail_key(std::string_view key, const std::string& what) const {
  fail("GGUF ", path(), ": ", quoted_key(key), what);
}

void GgufFile::parse() {
  GgufCursor cur(map_->data(), map_->size(), path());
  if (map_->size() < 4 || std::memcmp(map_->data(), "GGUF", 4) != 0) {
    fail("GGUF ", path(), ": not a GGUF file (bad magic; expected \"GGUF\" at offset 0)");
  }
  cur.skip_to(4);
  version_ = cur.read<uint32_t>("", "version");
  if (version_ != 2 && version_ != 3) {
    if ((version_ & 0xffffu) == 0 && version_ != 0) fail_key("", cat("big-endian GGUF files are not supported"));
    fail_key("", cat("unsupported GGUF version ", version_, " (supported: 2, 3)"));
  }
  const uint64_t n_tensors = cur.read<uint64_t>("", "tensor count");
  const uint64_t n_kv = cur.read<uint64_t>("", "metadata count");
  if (n_kv > cur.left() / kMinKvBytes) {
    fail_key("", cat("header claims ", n_kv, " metadata entries but only ", cur.left(), " bytes follow the header"));
  }
  if (n_tensors > cur.left() / kMinTensorBytes) {
    fail_key("", cat("header claims ", n_tensors, " tensors but only ", cur.left(), " bytes follow the header"));
  }
  kvs_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    GgufKV kv;
    kv.key = std::string(cur.read_string("", "metadata key"));
    const uint32_t t = cur.read<uint32_t>(kv.key, "value type");
    if (!known_type(t)) fail_key(kv.key, cat("unknown value type ", t));
    kv.value = parse_value(cur, static_cast<GgufType>(t), kv.key, 0);
    kvs_.push_back(std::move(kv));
  }
  for (size_t k = 0; k < kvs_.size(); ++k) {
    if (!kv_index_.emplace(kvs_[k].key, k).second) fail_key(kvs_[k].key, "duplicate metadata key");
  }
  if (const auto a = get_int("general.alignment")) {
    if (*a <= 0 || *a > (int64_t{1} << 30) || (*a & (*a - 1)) != 0) {
      fail_key("general.alignment", cat("alignment ", *a, " is not a power of two"));
    }
    alignment_ = static_cast<uint32_t>(*a);
  }
  parse_tensor_table(cur, n_tensors);
  place_tensors();
}

void GgufFile::parse_tensor_table(GgufCursor& cur, uint64_t n_tensors) {
  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = std::string(cur.read_string("", "tensor name"));
    const std::string ctx = cat("tensor '", t.name, "'");
    auto tfail = [&](const std::string& what) { fail("GGUF ", path(), ": ", ctx, ": ", what); };
    const uint32_t n_dims = cur.read<uint32_t>("", "tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims) tfail(cat("has ", n_dims, " dimensions (1 to ", kMaxDims, " allowed)"));
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = cur.read<uint64_t>("", "tensor dimension");
      if (dim != 0 && numel > std::numeric_limits<int64_t>::max() / dim) tfail("element count overflows");
      numel *= dim;
      t.dims.push_back(dim);
    }
    t.type = cur.read<uint32_t>("", "tensor type");
    t.offset = cur.read<uint64_t>("", "tensor data offset");
    const GgmlTypeInfo* info = ggml_type(t.type);
    if (!info) tfail(cat("unknown ggml tensor type ", t.type));
    if (t.dims[0] % info->block != 0) {
      tfail(cat("first dimension ", t.dims[0], " is not a multiple of the ", info->name, " block size ", info->block));
    }
    t.nbytes = numel / info->block * info->size;
    if (t.offset % alignment_ != 0) {
      tfail(cat("data offset ", t.offset, " is not a multiple of the alignment ", alignment_));
    }
    tensors_.push_back(std::move(t));
  }
  for (size_t k = 0; k < tensors_.size(); ++k) {
    if (!tensor_index_.emplace(tensors_[k].name, k).second) {
      fail("GGUF ", path(), ": tensor '", tensors_[k].name, "' appears twice in the tensor table");
    }
  }
  const uint64_t end = cur.pos();
  data_offset_ = (end + alignment_ - 1) / alignment_ * alignment_;
}

void GgufFile::place_tensors() {
  const uint64_t size = map_->size();
  const uint64_t data_size = data_offset_ <= size ? size - data_offset_ : 0;
  std::vector<const GgufTensorInfo*> by_offset;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      fail("GGUF ", path(), ": tensor '", t.name, "': data [", t.offset, ", ", t.offset + t.nbytes,
           ") relative to the data section at ", data_offset_, " runs past the end of the file (data section holds ",
           data_size, " bytes)");
    }
    t.data = map_->data() + data_offset_ + t.offset;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo* a = by_offset[k - 1];
    const GgufTensorInfo* b = by_offset[k];
    if (a->offset + a->nbytes > b->offset) {
      fail("GGUF ", path(), ": tensor '", b->name, "' (offset ", b->offset, ") overlaps tensor '", a->name,
           "' (offset ", a->offset, ", ", a->nbytes, " bytes)");
    }
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::STRING) fail_key(key, cat("has type ", gguf_type_name(v->type), ", expected string"));
  return v->str;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  const auto x = v->to_int();
  if (!x) fail_key(key, cat("has type ", gguf_type_name(v->type), " value ", v->to_string(), ", expected an integer"));
  return x;
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type == GgufType::FLOAT32 || v->type == GgufType::FLOAT64) return v->f;
  if (const auto x = v->to_int()) return static_cast<double>(*x);
  fail_key(key, cat("has type ", gguf_type_name(v->type), ", expected a number"));
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::BOOL) fail_key(key, cat("has type ", gguf_type_name(v->type), ", expected bool"));
  return v->u != 0;
}

std::optional<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::ARRAY || v->elem_type != GgufType::STRING) {
    fail_key(key, cat("has type ", gguf_type_name(v->type),
                      v->type == GgufType::ARRAY ? cat(" of ", gguf_type_name(v->elem_type)) : std::string(),
                      ", expected array of string"));
  }
  std::vector<std::string_view> out;
  out.reserve(v->items.size());
  for (const auto& it : v->items) out.push_back(it.str);
  return out;
}

std::optional<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::ARRAY || !is_integer_type(v->elem_type)) {
    fail_key(key, cat("has type ", gguf_type_name(v->type),
                      v->type == GgufType::ARRAY ? cat(" of ", gguf_type_name(v->elem_type)) : std::string(),
                      ", expected array of integers"));
  }
  std::vector<int64_t> out;
  out.reserve(v->items.size());
  for (size_t k = 0; k < v->items.size(); ++k) {
    const auto x = v->items[k].to_int();
    if (!x) fail_key(key, cat("element ", k, " does not fit in int64"));
    out.push_back(*x);
  }
  return out;
}

}  // namespace dsinfer::io
