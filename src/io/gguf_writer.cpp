#include "io/gguf_writer.h"

#include <fstream>

#include "core/error.h"
#include "core/quant.h"
#include "io/ggml_dequant.h"
#include "io/gguf.h"

namespace dsinfer::io {

namespace {

constexpr uint64_t kAlignment = 32;

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

uint64_t aligned(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

std::optional<uint32_t> ggml_type_of(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 8;
    case DType::Q4_K: return 12;
    case DType::Q6_K: return 14;
    case DType::BF16: return 30;
    default: return std::nullopt;
  }
}

std::optional<DType> dtype_of_ggml(uint32_t type) {
  for (DType t : {DType::F32, DType::F16, DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::BF16})
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

void GgufWriter::write(const std::string& path) const {
  std::vector<uint8_t> head;
  head.insert(head.end(), {'G', 'G', 'U', 'F'});
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, n_kv_);
  head.insert(head.end(), kv_.begin(), kv_.end());
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
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
  for (const Tensor& t : tensors_) {
    f.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    f.write(pad.data(), static_cast<std::streamsize>(aligned(t.bytes.size()) - t.bytes.size()));
  }
  if (!f.flush()) fail("cannot write ", path);
}

}  // namespace dsinfer::io
