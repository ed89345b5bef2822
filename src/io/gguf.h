// GGUF reader (versions 2 and 3): header, metadata key/values and the tensor
// info table. The file is memory-mapped; tensor data is not touched here, only
// located (GgufTensorInfo::data points into the mapping and stays valid while
// the GgufFile lives). String values are views into the mapping as well.
//
// Every structural fault is an Error whose message starts with
// "GGUF <path>: " and names the fault and, when there is one, the key or
// tensor: bad magic, unsupported version, counts that cannot fit in the file,
// strings or arrays running past the end, unknown value or tensor types,
// duplicate keys or tensors, bad alignment, tensor data out of range or
// overlapping.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"

namespace dsinfer::io {

class GgufCursor;  // gguf.cpp

enum class GgufType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// "uint8", "string", "array", ...; "unknown" for values outside the enum.
std::string_view gguf_type_name(GgufType t);

// One metadata value. Scalars fill exactly one of u / i / f (bool: u is 0 or 1);
// strings fill str; arrays fill elem_type and items (nested arrays allowed).
struct GgufValue {
  GgufType type = GgufType::UINT8;
  GgufType elem_type = GgufType::UINT8;  // arrays only
  uint64_t u = 0;                        // UINT8/16/32/64, BOOL
  int64_t i = 0;                         // INT8/16/32/64
  double f = 0;                          // FLOAT32/64
  std::string_view str;                  // STRING (into the mapping)
  std::vector<GgufValue> items;          // ARRAY

  bool is_integer() const;
  // The value of an integer type as int64; nullopt for other types or a UINT64 above INT64_MAX.
  std::optional<int64_t> to_int() const;
  // Short human-readable rendering (arrays show their first max_items items).
  std::string to_string(size_t max_items = 8) const;
};

struct GgufKV {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;    // n_dims entries, innermost first (ggml order)
  uint32_t type = 0;             // ggml type id (0 F32, 1 F16, 8 Q8_0, 30 BF16, ...)
  uint64_t offset = 0;           // relative to the start of the data section
  uint64_t nbytes = 0;           // from dims and the type's block size
  const uint8_t* data = nullptr; // into the mapping

  uint64_t numel() const;
};

// Name of a ggml tensor type ("F32", "Q4_K", ...), "" when unknown.
std::string_view ggml_type_name(uint32_t type);

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);

  const std::string& path() const { return map_->path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute file offset of tensor data

  const std::vector<GgufKV>& metadata() const { return kvs_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufValue* find(std::string_view key) const;  // nullptr when absent
  const GgufTensorInfo* find_tensor(std::string_view name) const;

  // Typed getters: nullopt when the key is absent, Error naming file and key
  // when it is present with another type. Integers accept any integer type.
  std::optional<std::string_view> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;  // any float or integer type
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::vector<std::string_view>> get_string_array(std::string_view key) const;
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;

 private:
  void parse();
  void parse_tensor_table(GgufCursor& cur, uint64_t n_tensors);
  void place_tensors();
  [[noreturn]] void fail_key(std::string_view key, const std::string& what) const;

  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKV> kvs_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace dsinfer::io
