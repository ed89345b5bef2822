#include "io/gguf_writer.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/quant.h"
#include "io/ggml_dequant.h"
#include "io/gguf.h"
#include "io/gguf_shards.h"

namespace dsinfer::io {

namespace {

constexpr uint64_t kAlignment = 32;

// Out of line: inlined into its callers, g++ 12 at -O3 warns (falsely) of overflows.
[[gnu::noinline]] void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  const size_t at = out.size();
  out.resize(at + n);
  if (n) std::memcpy(out.data() + at, p, n);
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  put_bytes(out, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

uint64_t aligned(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

std::optional<uint32_t> ggml_type_of(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q5_0: return 6;
    case DType::Q8_0: return 8;
    case DType::Q4_K: return 12;
    case DType::Q5_K: return 13;
    case DType::Q6_K: return 14;
    case DType::BF16: return 30;
    default: return std::nullopt;
  }
}

std::optional<DType> dtype_of_ggml(uint32_t type) {
  for (DType t : {DType::F32, DType::F16, DType::Q4_0, DType::Q5_0, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                  DType::BF16})
    if (ggml_type_of(t) == type) return t;
  return std::nullopt;
}

void GgufWriter::key(const std::string& k, uint32_t value_type) {
  put_string(kv_, k);
  put<uint32_t>(kv_, value_type);
  ++n_kv_;
}

void GgufWriter::add_string(const std::string& k, const std::string& v) {
  key(k, static_cast<uint32_t>(GgufType::STRING));
  put_string(kv_, v);
}

void GgufWriter::add_u32(const std::string& k, uint32_t v) {
  key(k, static_cast<uint32_t>(GgufType::UINT32));
  put<uint32_t>(kv_, v);
}

void GgufWriter::add_f32(const std::string& k, float v) {
  key(k, static_cast<uint32_t>(GgufType::FLOAT32));
  put<float>(kv_, v);
}

void GgufWriter::add_bool(const std::string& k, bool v) {
  key(k, static_cast<uint32_t>(GgufType::BOOL));
  put<uint8_t>(kv_, v ? 1 : 0);
}

void GgufWriter::add_string_array(const std::string& k, const std::vector<std::string>& v) {
  key(k, static_cast<uint32_t>(GgufType::ARRAY));
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufType::STRING));
  put<uint64_t>(kv_, v.size());
  for (const std::string& s : v) put_string(kv_, s);
}

void GgufWriter::add_i32_array(const std::string& k, const std::vector<int32_t>& v) {
  key(k, static_cast<uint32_t>(GgufType::ARRAY));
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufType::INT32));
  put<uint64_t>(kv_, v.size());
  for (int32_t x : v) put<int32_t>(kv_, x);
}

void GgufWriter::add_f32_array(const std::string& k, const std::vector<float>& v) {
  key(k, static_cast<uint32_t>(GgufType::ARRAY));
  put<uint32_t>(kv_, static_cast<uint32_t>(GgufType::FLOAT32));
  put<uint64_t>(kv_, v.size());
  for (float x : v) put<float>(kv_, x);
}

void GgufWriter::add_tensor(const std::string& name, DType type, const std::vector<uint64_t>& dims,
                            std::vector<uint8_t> bytes) {
  const auto id = ggml_type_of(type);
  if (!id) fail("GGUF tensor ", name, ": dtype ", dtype_name(type), " has no ggml type");
  add_ggml_tensor(name, *id, dims, std::move(bytes));
}

void GgufWriter::add_ggml_tensor(const std::string& name, uint32_t ggml_type, const std::vector<uint64_t>& dims,
                                 std::vector<uint8_t> bytes) {
  if (dims.empty() || dims.size() > 4) fail("GGUF tensor ", name, ": ", dims.size(), " dims (1 to 4 allowed)");
  const auto native = dtype_of_ggml(ggml_type);
  if (!native && !ggml_dequantizable(ggml_type)) fail("GGUF tensor ", name, ": ggml type ", ggml_type, " is not written");
  const auto cols = static_cast<int64_t>(dims[0]);
  const uint64_t row = native ? row_bytes(*native, cols)
                              : static_cast<uint64_t>(cols / ggml_block_values(ggml_type) * ggml_block_bytes(ggml_type));
  uint64_t outer = 1;
  for (size_t k = 1; k < dims.size(); ++k) outer *= dims[k];
  if (bytes.size() != outer * row)
    fail("GGUF tensor ", name, ": ", bytes.size(), " bytes given, its dims and type need ", outer * row);
  tensors_.push_back({name, ggml_type, dims, std::move(bytes)});
}

void GgufWriter::write(const std::string& path) const { write_file(path, kv_, n_kv_, 0, tensors_.size()); }

std::vector<std::string> GgufWriter::write_split(const std::string& path, int n_shards) const {
  if (n_shards < 1 || static_cast<size_t>(n_shards) > std::max<size_t>(tensors_.size(), 1))
    fail("GGUF ", path, ": ", n_shards, " shards for ", tensors_.size(), " tensors");
  if (!path.ends_with(".gguf")) fail("GGUF ", path, ": a split file's name must end in .gguf");
  const std::string prefix = path.substr(0, path.size() - 5);
  std::vector<std::string> paths;
  for (int i = 0; i < n_shards; ++i) {
    GgufWriter split;  // the split.* keys, in the types llama.cpp writes them
    split.key("split.no", static_cast<uint32_t>(GgufType::UINT16));
    put<uint16_t>(split.kv_, static_cast<uint16_t>(i));
    split.key("split.count", static_cast<uint32_t>(GgufType::UINT16));
    put<uint16_t>(split.kv_, static_cast<uint16_t>(n_shards));
    split.key("split.tensors.count", static_cast<uint32_t>(GgufType::INT32));
    put<int32_t>(split.kv_, static_cast<int32_t>(tensors_.size()));
    std::vector<uint8_t> kv = split.kv_;
    if (i == 0) put_bytes(kv, kv_.data(), kv_.size());
    const size_t t0 = tensors_.size() * static_cast<size_t>(i) / static_cast<size_t>(n_shards);
    const size_t t1 = tensors_.size() * static_cast<size_t>(i + 1) / static_cast<size_t>(n_shards);
    paths.push_back(gguf_split_path(prefix, i, n_shards));
    write_file(paths.back(), kv, split.n_kv_ + (i == 0 ? n_kv_ : 0), t0, t1);
  }
  return paths;
}

void GgufWriter::write_file(const std::string& path, const std::vector<uint8_t>& kv, uint64_t n_kv, size_t t0,
                            size_t t1) const {
  std::vector<uint8_t> head;
  put_bytes(head, "GGUF", 4);
  put<uint32_t>(head, 3);
  put<uint64_t>(head, t1 - t0);
  put<uint64_t>(head, n_kv);
  put_bytes(head, kv.data(), kv.size());
  uint64_t offset = 0;
  for (size_t k = t0; k < t1; ++k) {
    const Tensor& t = tensors_[k];
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(head, d);
    put<uint32_t>(head, t.type);
    put<uint64_t>(head, offset);
    offset = aligned(offset + t.bytes.size());
  }
  head.resize(aligned(head.size()), 0);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail("cannot create ", path);
  f.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
  const std::vector<char> pad(kAlignment, 0);
  for (size_t k = t0; k < t1; ++k) {
    const Tensor& t = tensors_[k];
    f.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    f.write(pad.data(), static_cast<std::streamsize>(aligned(t.bytes.size()) - t.bytes.size()));
  }
  if (!f.flush()) fail("cannot write ", path);
}

}  // namespace dsinfer::io
