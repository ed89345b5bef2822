#include "io/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"

namespace dsinfer::io {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Same cap as the reference implementation (safetensors' MAX_HEADER_SIZE,
// 100_000_000 decimal bytes): a larger length is corruption, not a model.
constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string supported_dtypes() {
  std::string s;
  for (auto t : {DType::F32, DType::F16, DType::BF16, DType::F8_E4M3, DType::I8, DType::U8,
                 DType::I32, DType::I64, DType::F64, DType::BOOL})
    s += (s.empty() ? "" : ", ") + std::string(dtype_name(t));
  return s;
}

// Every per-tensor fault reads "safetensors file PATH: tensor NAME: FAULT".
template <typename... Args>
[[noreturn]] void tensor_fail(const std::string& path, const std::string& name, Args&&... args) {
  fail("safetensors file ", path, ": tensor '", name, "': ", std::forward<Args>(args)...);
}

// Where a tensor's bytes lie, relative to the start of the data buffer.
struct Span {
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string name;
};

// The 8 length bytes are little-endian whatever the host order is.
uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A JSON integer >= 0 as uint64; what counts as "bad" is worded by the caller.
bool json_to_u64(const json& j, uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

DType parse_dtype(const std::string& path, const std::string& name, const json& j) {
  if (!j.is_string()) tensor_fail(path, name, "\"dtype\" is not a string: ", j.dump());
  const auto& s = j.get_ref<const std::string&>();
  const auto t = dtype_from_name(s);
  // Block-quantized types are not safetensors dtypes (dsinfer stores them as U8 rows).
  if (!t || dtype_size(*t) == 0)
    tensor_fail(path, name, "unknown dtype \"", s, "\" (supported: ", supported_dtypes(), ")");
  return *t;
}

std::vector<int64_t> parse_shape(const std::string& path, const std::string& name,
                                 const json& j) {
  if (!j.is_array()) tensor_fail(path, name, "\"shape\" is not an array: ", j.dump());
  std::vector<int64_t> shape;
  for (const auto& d : j) {
    uint64_t v = 0;
    if (!json_to_u64(d, v) || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      tensor_fail(path, name, "bad dimension ", d.dump(), " in shape ", j.dump(),
                  " (dimensions must be non-negative integers)");
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

Span parse_offsets(const std::string& path, const std::string& name, const json& j,
                   uint64_t buffer_size) {
  Span sp;
  sp.name = name;
  if (!j.is_array() || j.size() != 2 || !json_to_u64(j[0], sp.begin) ||
      !json_to_u64(j[1], sp.end))
    tensor_fail(path, name, "\"data_offsets\" must be [begin, end] of non-negative integers, got ",
                j.dump());
  if (sp.begin > sp.end)
    tensor_fail(path, name, "data_offsets ", j.dump(), " have begin > end");
  if (sp.end > buffer_size)
    tensor_fail(path, name, "data_offsets ", j.dump(), " out of range of the ", buffer_size,
                "-byte data buffer");
  return sp;
}

// Byte size implied by shape and dtype, with every product checked for overflow.
uint64_t expected_bytes(const std::string& path, const std::string& name, DType t,
                        const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n) ||
        n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      tensor_fail(path, name, "element count of shape ", shape_str(shape), " overflows");
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(n, static_cast<uint64_t>(dtype_size(t)), &bytes))
    tensor_fail(path, name, "byte size of ", dtype_name(t), " ", shape_str(shape), " overflows");
  return bytes;
}

const json& field(const std::string& path, const std::string& name, const json& entry,
                  const char* key) {
  const auto it = entry.find(key);
  if (it == entry.end()) tensor_fail(path, name, "entry has no \"", key, "\"");
  return *it;
}

// One tensor entry; data_start is the offset of the data buffer within the file.
TensorInfo parse_tensor(const std::string& path, const std::string& name, const json& entry,
                        const uint8_t* base, uint64_t data_start, uint64_t buffer_size,
                        Span& span) {
  if (!entry.is_object()) tensor_fail(path, name, "entry is not an object: ", entry.dump());
  TensorInfo t;
  t.name = name;
  t.file = path;
  t.dtype = parse_dtype(path, name, field(path, name, entry, "dtype"));
  t.shape = parse_shape(path, name, field(path, name, entry, "shape"));
  span = parse_offsets(path, name, field(path, name, entry, "data_offsets"), buffer_size);
  const uint64_t want = expected_bytes(path, name, t.dtype, t.shape);
  if (span.end - span.begin != want)
    tensor_fail(path, name, "byte size mismatch: data_offsets [", span.begin, ", ", span.end,
                "] hold ", span.end - span.begin, " bytes but ", dtype_name(t.dtype), " ",
                shape_str(t.shape), " needs ", want);
  // Kernels read weights in place as typed arrays, so each tensor must start
  // on a multiple of its element size within the (page-aligned) mapping.
  const uint64_t esize = dtype_size(t.dtype);
  if (span.begin % esize != 0)
    tensor_fail(path, name, "misaligned data: begin offset ", span.begin,
                " is not a multiple of the ", dtype_name(t.dtype), " element size ", esize);
  if (data_start % esize != 0)
    tensor_fail(path, name, "misaligned data: data buffer starts at byte ", data_start,
                ", not a multiple of the ", dtype_name(t.dtype), " element size ", esize,
                " (header length should be padded to a multiple of 8)");
  t.data = base + data_start + span.begin;
  t.nbytes = static_cast<size_t>(want);
  return t;
}

// The tensors must tile the data buffer exactly, as the reference reader
// demands: an overlap aliases two weights, a hole hides a wrong offset.
void check_layout(const std::string& path, std::vector<Span>& spans, uint64_t buffer_size) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  const Span* prev = nullptr;
  for (const auto& s : spans) {
    if (s.begin < pos)
      tensor_fail(path, s.name, "data [", s.begin, ", ", s.end, ") overlaps tensor '",
                  prev->name, "' [", prev->begin, ", ", prev->end, ")");
    if (s.begin > pos)
      tensor_fail(path, s.name, "hole in data buffer: bytes [", pos, ", ", s.begin,
                  ") before it belong to no tensor");
    pos = s.end;
    prev = &s;
  }
  if (pos != buffer_size)
    fail("safetensors file ", path, ": hole in data buffer: bytes [", pos, ", ", buffer_size,
         ") at its end belong to no tensor");
}

void parse_metadata(const std::string& path, const json& j,
                    std::map<std::string, std::string>& out) {
  if (j.is_null()) return;
  if (!j.is_object())
    fail("safetensors file ", path, ": __metadata__ is not a map of strings: ", j.dump());
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string())
      fail("safetensors file ", path, ": __metadata__ is not a map of strings: value of \"", k,
           "\" is ", v.dump());
    out[k] = v.get<std::string>();
  }
}

// Parses the header, rejecting a repeated top-level key: nlohmann would keep
// only one of them and the other tensor would silently vanish.
json parse_header(const std::string& path, const uint8_t* p, uint64_t n) {
  std::set<std::string> seen;
  std::string dup;
  const json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::key && depth == 1 && dup.empty() &&
        !seen.insert(parsed.get<std::string>()).second)
      dup = parsed.get<std::string>();
    return true;
  };
  json h;
  try {
    const char* text = reinterpret_cast<const char*>(p);
    h = json::parse(text, text + n, cb);
  } catch (const json::exception& e) {
    fail("safetensors file ", path, ": header is not valid JSON: ", e.what());
  }
  if (!h.is_object())
    fail("safetensors file ", path, ": header is not a JSON object (", h.type_name(), ")");
  if (!dup.empty()) tensor_fail(path, dup, "appears twice in the header");
  return h;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      fail("tensor '", name, "' in ", file, ": element count of ", shape_str(shape), " overflows");
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : map_(std::make_unique<MappedFile>(path)) {
  const uint64_t size = map_->size();
  if (size < 8)
    fail("safetensors file ", path, ": truncated: ", size,
         " bytes, shorter than the 8-byte header length");
  const uint8_t* base = map_->data();
  const uint64_t n = read_le64(base);
  if (n > kMaxHeaderBytes)
    fail("safetensors file ", path, ": header length ", n, " exceeds the limit of ",
         kMaxHeaderBytes, " bytes");
  if (n > size - 8)
    fail("safetensors file ", path, ": truncated: header length ", n,
         " runs beyond the end of the file (", size, " bytes)");
  const json h = parse_header(path, base + 8, n);
  const uint64_t data_start = 8 + n;
  const uint64_t buffer_size = size - data_start;
  std::vector<Span> spans;
  for (const auto& [name, entry] : h.items()) {
    if (name == "__metadata__") {
      parse_metadata(path, entry, metadata_);
      continue;
    }
    Span sp;
    tensors_.emplace(name, parse_tensor(path, name, entry, base, data_start, buffer_size, sp));
    spans.push_back(sp);
  }
  check_layout(path, spans, buffer_size);
}

namespace {

json read_index(const fs::path& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) fail("cannot open checkpoint index ", index_path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::exception& e) {
    fail("checkpoint index ", index_path.string(), " is not valid JSON: ", e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail("checkpoint index ", index_path.string(), " has no \"weight_map\" object");
  return j;
}

// weight_map entries as tensor -> shard file name, each checked to be a plain
// relative path so that an index cannot point outside its directory.
std::map<std::string, std::string> read_weight_map(const fs::path& index_path) {
  const json j = read_index(index_path);
  std::map<std::string, std::string> wm;
  for (const auto& [tensor, shard] : j["weight_map"].items()) {
    if (!shard.is_string())
      fail("checkpoint index ", index_path.string(), ": shard of tensor '", tensor,
           "' is not a string: ", shard.dump());
    const auto& s = shard.get_ref<const std::string&>();
    const fs::path sp(s);
    if (s.empty() || sp.is_absolute() ||
        std::find(sp.begin(), sp.end(), fs::path("..")) != sp.end())
      fail("checkpoint index ", index_path.string(), ": shard \"", s, "\" of tensor '", tensor,
           "' is not a file name inside the checkpoint directory");
    wm[tensor] = s;
  }
  return wm;
}

std::vector<fs::path> list_safetensors(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code ec2;
    if (it->path().extension() == ".safetensors" && it->is_regular_file(ec2))
      files.push_back(it->path());
  }
  if (ec) fail("cannot list checkpoint directory ", dir.string(), ": ", ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

Checkpoint Checkpoint::open(const std::string& dir) {
  std::error_code ec;
  const fs::path d(dir);
  if (!fs::exists(d, ec)) fail("checkpoint directory ", dir, " does not exist");
  if (!fs::is_directory(d, ec)) fail("checkpoint path ", dir, " is not a directory");
  Checkpoint ck;
  ck.dir_ = dir;
  std::map<std::string, std::string> wm;
  std::vector<fs::path> files;
  const fs::path index_path = d / kIndexName;
  if (fs::exists(index_path, ec)) {
    wm = read_weight_map(index_path);
    std::set<std::string> shards;
    for (const auto& [t, s] : wm) shards.insert(s);
    for (const auto& s : shards) {
      if (!fs::exists(d / s, ec))
        fail("checkpoint index ", index_path.string(), " names shard ", s,
             ", which does not exist (", (d / s).string(), ")");
      files.push_back(d / s);
    }
  } else if (fs::exists(d / kSingleName, ec)) {
    files.push_back(d / kSingleName);
  } else {
    files = list_safetensors(d);
    if (files.empty()) fail("no safetensors files in ", dir);
  }
  for (const auto& f : files) {
    ck.files_.push_back(std::make_unique<SafetensorsFile>(f.string()));
    for (const auto& [k, v] : ck.files_.back()->metadata()) ck.metadata_.emplace(k, v);
    for (const auto& [name, info] : ck.files_.back()->tensors()) {
      const auto [it, fresh] = ck.index_.emplace(name, &info);
      if (!fresh)
        fail("tensor '", name, "' appears in two files of checkpoint ", dir, ": ",
             it->second->file, " and ", info.file);
    }
  }
  for (const auto& [tensor, shard] : wm) {
    const auto it = ck.index_.find(tensor);
    if (it == ck.index_.end() || it->second->file != (d / shard).string())
      fail("tensor '", tensor, "' listed in ", index_path.string(), " is missing from shard ",
           (d / shard).string());
  }
  return ck;
}

const TensorInfo* Checkpoint::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const TensorInfo& Checkpoint::get(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) fail("tensor ", name, " missing from checkpoint ", dir_);
  return *t;
}

const TensorInfo& Checkpoint::get(const std::string& name,
                                  const std::vector<int64_t>& shape) const {
  const TensorInfo& t = get(name);
  if (t.shape != shape)
    fail("tensor ", name, " in ", t.file, " has shape ", shape_str(t.shape), ", expected ",
         shape_str(shape));
  return t;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, info] : index_) out.push_back(name);
  return out;
}

size_t Checkpoint::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, info] : index_) n += info->nbytes;
  return n;
}

}  // namespace dsinfer::io
