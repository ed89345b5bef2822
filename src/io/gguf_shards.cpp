#include "io/gguf_shards.h"

#include <cstdio>
#include <filesystem>
#include <regex>

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

}  // namespace

GgufShards::GgufShards(const std::string& path) {
  auto given = std::make_unique<GgufFile>(path);
  const int count = split_key(*given, "split.count", 0);
  if (count <= 1) {
    files_.push_back(std::move(given));
  } else {
    static const std::regex kShard(R"((.*)-(\d{5})-of-(\d{5})\.gguf)");
    std::smatch m;
    if (!std::regex_match(path, m, kShard) || std::stoi(m[3].str()) != count)
      fail("GGUF ", path, ": split.count is ", count, " but the name is not PREFIX-NNNNN-of-", count, ".gguf");
    for (int i = 0; i < count; ++i) {
      const std::string p = gguf_split_path(m[1].str(), i, count);
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
