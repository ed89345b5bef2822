// The huggingface_hub cache layout: repo folders, refs, snapshots linking to
// blobs, and deciding whether a cached snapshot is complete enough to use
// without the network.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/hub.h"

namespace dsinfer::io {
namespace fs = std::filesystem;

namespace hub_detail {
namespace {

// One half of a repo id: alphanumerics, '-', '_', '.'; no "--" or ".."; not
// starting or ending with '-' or '.'; at most 96 characters.
bool repo_part_ok(const std::string& s) {
  if (s.empty() || s.size() > 96) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  if (s.front() == '-' || s.front() == '.' || s.back() == '-' || s.back() == '.') return false;
  return s.find("--") == std::string::npos && s.find("..") == std::string::npos;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);  // follows the snapshot symlink to its blob
}

bool ends_with_safetensors(const std::string& name) {
  const std::string ext = ".safetensors";
  return name.size() > ext.size() && name.ends_with(ext);
}

// With an index, every shard it names must be present; without one, at least one *.safetensors.
bool weights_complete(const fs::path& snap) {
  const fs::path index = snap / "model.safetensors.index.json";
  if (is_file(index)) {
    std::ifstream in(index);
    const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) return false;
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : j["weight_map"].items()) {
      if (!shard.is_string()) return false;
      shards.insert(shard.get<std::string>());
    }
    for (const auto& s : shards) {
      if (!hub_file_wanted(s) || !is_file(snap / s)) return false;
    }
    return !shards.empty();
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(snap, ec)) {
    if (ends_with_safetensors(e.path().filename().string()) && is_file(e.path())) return true;
  }
  return false;
}

std::string read_ref(const fs::path& repo_dir, const std::string& revision) {
  std::ifstream in(repo_dir / "refs" / revision);
  std::string commit;
  if (!(in >> commit) || !is_hex(commit)) return "";
  return commit;
}

}  // namespace

bool valid_repo_id(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) return false;
  return repo_part_ok(s.substr(0, slash)) && repo_part_ok(s.substr(slash + 1));
}

void check_revision(const std::string& revision) {
  const bool bad = revision.empty() || revision.front() == '/' || revision.back() == '/' ||
                   revision.find("..") != std::string::npos || revision.find('\\') != std::string::npos ||
                   std::any_of(revision.begin(), revision.end(),
                               [](char c) { return std::iscntrl(static_cast<unsigned char>(c)) != 0; });
  if (bad) fail("invalid hub revision \"", revision, "\" (expected a branch, tag or commit sha)");
}

bool is_hex(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string repo_folder(const std::string& repo_id) {
  std::string out = "models--";
  for (char c : repo_id) {
    if (c == '/') {
      out += "--";
    } else {
      out += c;
    }
  }
  return out;
}

std::string cached_snapshot(const std::string& repo_dir, const std::string& revision) {
  std::string commit = read_ref(repo_dir, revision);
  if (commit.empty() && revision.size() == 40 && is_hex(revision)) commit = revision;
  if (commit.empty()) return "";
  const fs::path snap = fs::path(repo_dir) / "snapshots" / commit;
  if (!is_file(snap / "config.json") || !weights_complete(snap)) return "";
  return snap.string();
}

void link_snapshot(const std::string& repo_dir, const std::string& commit, const std::string& file,
                   const std::string& blob) {
  const fs::path snap = fs::path(repo_dir) / "snapshots" / commit;
  const fs::path link = snap / file;
  fs::create_directories(link.parent_path());  // files in folders (split GGUF sets) keep them
  std::error_code ec;
  fs::remove(link, ec);
  fs::path target = fs::path("..") / "..";
  for (auto part = fs::path(file).parent_path(); !part.empty(); part = part.parent_path()) target /= "..";
  fs::create_symlink(target / "blobs" / blob, link, ec);
  if (ec) {  // a filesystem without symlinks: keep a copy instead
    fs::copy_file(fs::path(repo_dir) / "blobs" / blob, link, fs::copy_options::overwrite_existing);
  }
}

void write_ref(const std::string& repo_dir, const std::string& revision, const std::string& commit) {
  if (revision == commit) return;
  const fs::path ref = fs::path(repo_dir) / "refs" / revision;
  fs::create_directories(ref.parent_path());
  const fs::path tmp = ref.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << commit;
    if (!out.flush()) fail("cannot write ", tmp.string());
  }
  fs::rename(tmp, ref);
}

}  // namespace hub_detail

std::string default_cache_dir(const char* hf_home, const char* home) {
  if (hf_home != nullptr && *hf_home != '\0') return (fs::path(hf_home) / "hub").string();
  if (home != nullptr && *home != '\0') return (fs::path(home) / ".cache" / "huggingface" / "hub").string();
  fail("cannot locate the Hugging Face cache: neither HF_HOME nor HOME is set");
}

bool looks_like_repo_id(const std::string& s) {
  std::error_code ec;
  if (fs::exists(s, ec)) return false;
  return hub_detail::valid_repo_id(s);
}

bool hub_file_wanted(const std::string& rfilename) {
  static const std::set<std::string> kNamed = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                               "generation_config.json", "model.safetensors.index.json"};
  if (rfilename.find('/') != std::string::npos) return false;  // repository root only
  return kNamed.count(rfilename) > 0 || hub_detail::ends_with_safetensors(rfilename);
}

}  // namespace dsinfer::io
