#include "io/gguf_shards.h"

#include <cstdio>
#include <filesystem>

#include "core/error.h"

namespace dsinfer::io {

std::string gguf_split_path(const std::string& prefix, int index, int count) {
  char tail[40];
  std::snprintf(tail, sizeof(tail), "-%05d-of-%05d.gguf", index + 1, count);
  return prefix + tail;
}

namespace {

int split_key(const GgufFile& f, const char* key, int fallback) {
  const auto v = f.get_int(key);
  if (!v) return fallback;
  if (*v < 0 || *v > 65535) fail("GGUF ", f.path(), ": key '", key, "' is ", *v, " (0 to 65535 allowed)");
  return static_cast<int>(*v);
}

// PREFIX of PREFIX-NNNNN-of-COUNT.gguf ("" when path is not named so).
std::string split_prefix(const std::string& path, int count) {
  constexpr size_t kTail = 20;  // "-00001-of-00003.gguf"
  if (path.size() <= kTail) return "";
  const std::string tail = path.substr(path.size() - kTail);
  const auto digits = [&](size_t at) {
    for (size_t k = at; k < at + 5; ++k)
      if (tail[k] < '0' || tail[k] > '9') return false;
    return true;
  };
  if (tail[0] != '-' || !digits(1) || tail.compare(6, 4, "-of-") != 0 || !digits(10) || !tail.ends_with(".gguf")) return "";
  if (std::stoi(tail.substr(10, 5)) != count) return "";
  return path.substr(0, path.size() - kTail);
}

}  // namespace

GgufShards::GgufShards(const std::string& path) {
  auto given = std::make_unique<GgufFile>(path);
  const int count = split_key(*given, "split.count", 0);
  if (count <= 1) {
    files_.push_back(std::move(given));
  } else {
    const std::string prefix = split_prefix(path, count);
    if (prefix.empty())
      fail("GGUF ", path, ": split.count is ", count, " but the name is not PREFIX-NNNNN-of-", count, ".gguf");
    for (int i = 0; i < count; ++i) {
      const std::string p = gguf_split_path(prefix, i, count);
      if (p == path) {
        files_.push_back(std::move(given));
      } else {
        if (!std::filesystem::exists(p)) fail("GGUF ", path, ": shard ", i + 1, " of ", count, " (", p, ") is missing");
        files_.push_back(std::make_unique<GgufFile>(p));
      }
      if (split_key(*files_.back(), "split.no", -1) != i)
        fail("GGUF ", p, ": split.no says it is not shard ", i + 1, " of ", count);
    }
  }
  for (const auto& f : files_)
    for (const GgufTensorInfo& t : f->tensors())
      if (!index_.emplace(t.name, &t).second) fail("GGUF ", f->path(), ": tensor '", t.name, "' is in two shards");
}

const GgufTensorInfo* GgufShards::find_tensor(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

}  // namespace dsinfer::io
