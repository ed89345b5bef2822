// GGUF repositories on the hub (llama.cpp's and Ollama's "ORG/NAME:Q4_K_M"):
// which .gguf files a quantization tag names, and finding them in the cache.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "io/hub.h"

namespace dsinfer::io {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "dir/NAME-00002-of-00003.gguf" -> {"dir/NAME", 3}; a single file -> {name, 0}.
std::pair<std::string, int> split_set(const std::string& name) {
  constexpr size_t kTail = 20;  // "-00001-of-00003.gguf"
  if (name.size() > kTail) {
    const std::string t = name.substr(name.size() - kTail);
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    const bool digits = std::all_of(t.begin() + 1, t.begin() + 6, digit) && std::all_of(t.begin() + 10, t.begin() + 15, digit);
    if (t[0] == '-' && digits && t.compare(6, 4, "-of-") == 0) return {name.substr(0, name.size() - kTail), std::stoi(t.substr(10, 5))};
  }
  return {name, 0};
}

bool is_model_gguf(const std::string& name) {
  const std::string l = lower(name);
  if (!l.ends_with(".gguf") || l.find("mmproj") != std::string::npos) return false;  // vision projectors are not models
  const fs::path p(name);
  if (p.is_absolute()) return false;  // a name from the server must stay inside the snapshot
  for (const auto& part : p)
    if (part == "..") return false;
  return true;
}

// The tag as a whole part of the file name: not inside a longer quantization
// name ("Q4_K" is not "Q4_K_M", "Q4_XS" not "IQ4_XS"), any case.
bool names_tag(const std::string& path, const std::string& tag) {
  const std::string name = lower(fs::path(path).filename().string()), t = lower(tag);
  for (size_t at = name.find(t); !t.empty() && at != std::string::npos; at = name.find(t, at + 1)) {
    const char before = at == 0 ? '-' : name[at - 1], after = name[at + t.size()];  // name ends in ".gguf"
    if (!std::isalnum(static_cast<unsigned char>(before)) && (after == '.' || after == '-')) return true;
  }
  return false;
}

}  // namespace

RepoRef split_repo_ref(const std::string& s) {
  const size_t colon = s.find(':');
  if (colon == std::string::npos) return {s, ""};
  return {s.substr(0, colon), s.substr(colon + 1)};
}

namespace hub_detail {

std::vector<std::string> select_gguf(const std::vector<std::string>& names, const std::string& tag,
                                     const std::string& where) {
  std::map<std::string, std::vector<std::string>> sets;  // set key -> its files
  std::vector<std::string> all;
  for (const std::string& n : names) {
    if (!is_model_gguf(n)) continue;
    all.push_back(n);
    if (names_tag(n, tag)) sets[split_set(n).first].push_back(n);
  }
  const auto listing = [&] {
    std::string s;
    for (const std::string& n : all) s += (s.empty() ? "" : ", ") + n;
    return s.empty() ? std::string("none") : s;
  };
  if (sets.empty()) fail(where, " has no GGUF file for \"", tag, "\" (GGUF files: ", listing(), ")");
  if (sets.size() > 1) {
    std::string s;
    for (const auto& [key, files] : sets) s += (s.empty() ? "" : ", ") + files.front();
    fail(where, ": \"", tag, "\" names several GGUF models (", s, "); give a tag that names one");
  }
  std::vector<std::string> files = sets.begin()->second;
  std::sort(files.begin(), files.end());
  const int count = split_set(files.front()).second;
  if (count > 0 && static_cast<int>(files.size()) != count)
    fail(where, ": ", files.front(), " is one of ", count, " parts but ", files.size(), " are listed");
  return files;
}

std::string cached_gguf(const std::string& repo_dir, const std::string& revision, const std::string& tag) {
  std::string commit;
  std::ifstream(fs::path(repo_dir) / "refs" / revision) >> commit;
  if (commit.empty() && revision.size() == 40 && is_hex(revision)) commit = revision;
  if (commit.empty() || !is_hex(commit)) return "";
  const fs::path snap = fs::path(repo_dir) / "snapshots" / commit;
  std::error_code ec;
  std::vector<std::string> names;
  for (auto it = fs::recursive_directory_iterator(snap, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (fs::is_regular_file(it->path(), ec)) names.push_back(it->path().lexically_relative(snap).string());  // not relative(): it follows the links
  try {
    const std::vector<std::string> files = select_gguf(names, tag, repo_dir);
    return (snap / files.front()).string();
  } catch (const Error&) {
    return "";  // not (all) there: download
  }
}

}  // namespace hub_detail

}  // namespace dsinfer::io
