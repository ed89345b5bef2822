// Tokenizer::from_path: decides between the Hugging Face files and GGUF.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tokenizer/spec.h"
#include "tokenizer/tokenizer.h"

namespace dsinfer::tokenizer {

namespace fs = std::filesystem;

namespace {

bool has_gguf_magic(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

std::string existing(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) ? p.string() : std::string();
}

Tokenizer load_hf(const fs::path& json_file) {
  const fs::path dir = json_file.parent_path();
  return Tokenizer::from_spec(
      load_hf_spec(json_file.string(), existing(dir / "tokenizer_config.json"), existing(dir / "chat_template.jinja")));
}

// The GGUF file of a model directory: the only one, or the first shard.
fs::path find_gguf(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".gguf") found.push_back(e.path());
  }
  if (found.empty()) fail("tokenizer directory ", dir.string(), " has neither tokenizer.json nor a .gguf file");
  if (found.size() == 1) return found[0];
  std::vector<fs::path> first;
  for (const auto& p : found) {
    if (p.filename().string().find("-00001-of-") != std::string::npos) first.push_back(p);
  }
  if (first.size() == 1) return first[0];
  std::string names;
  for (const auto& p : found) names += (names.empty() ? "" : ", ") + p.filename().string();
  fail("tokenizer directory ", dir.string(), " has several .gguf files (", names, "); pass one of them");
}

}  // namespace

Tokenizer Tokenizer::from_path(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    if (!existing(p / "tokenizer.json").empty()) return load_hf(p / "tokenizer.json");
    return from_spec(load_gguf_spec(find_gguf(p).string()));
  }
  if (!fs::exists(p, ec)) fail("tokenizer path ", path, " does not exist");
  if (has_gguf_magic(p)) return from_spec(load_gguf_spec(path));
  return load_hf(p);
}

}  // namespace dsinfer::tokenizer
