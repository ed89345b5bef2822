// Hugging Face hub client: downloads the files the engine needs from a model
// repository into the cache layout of the official huggingface_hub client,
//   <cache>/models--ORG--NAME/blobs/<etag or sha256>
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file> -> ../../blobs/<...>
//   <cache>/models--ORG--NAME/refs/<revision>             (holds <commit>)
// so that a cache filled by either client serves the other. Downloads resume
// from <blob>.incomplete, LFS files are checked against their SHA-256, and a
// complete cached snapshot is returned without touching the network.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dsinfer::io {

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT when set
  std::string token;                                // HF_TOKEN: "Authorization: Bearer <token>"
  std::string cache_dir;                            // hub cache root, see default_cache_dir()
  std::string revision = "main";                    // branch, tag or commit sha
  bool offline = false;                             // never touch the network
  // Called while downloading (and once for files already in the cache); may be empty.
  std::function<void(const std::string& file, uint64_t done, uint64_t total)> progress;
  int connect_timeout_s = 10;
  int read_timeout_s = 60;
  // Extra attempts per file after a dropped connection, each resuming where the
  // previous one stopped. 0: fail at once, keeping the partial file for the next run.
  int retries = 3;
  // A GGUF repository's quantization ("Q4_K_M"; ORG/NAME:TAG on the command
  // line): the .gguf file, or split set, whose name holds it. "" fetches the
  // safetensors checkpoint, or Q4_K_M from a repository of GGUF files only.
  std::string gguf_tag;
};

// $HF_HOME/hub when hf_home is set and non-empty, else $HOME/.cache/huggingface/hub.
// Throws when neither is set.
std::string default_cache_dir(const char* hf_home, const char* home);

// Downloads (or finds in the cache) the files of `repo_id` (ORG/NAME) at
// opts.revision that the engine needs: config.json, tokenizer.json,
// tokenizer_config.json, generation_config.json, model.safetensors.index.json
// and *.safetensors at the repository root. Returns the snapshot directory
// <cache>/models--ORG--NAME/snapshots/<commit> (no trailing slash). In GGUF
// mode (opts.gguf_tag, or a repository with .gguf files and no config.json)
// only the chosen .gguf file(s), and returns the path of the (first) one.
std::string hub_download(const std::string& repo_id, const HubOptions& opts);

// "ORG/NAME:TAG" (a GGUF repository's quantization, as llama.cpp and Ollama
// name them) -> {"ORG/NAME", "TAG"}; without a colon the tag is empty.
struct RepoRef {
  std::string repo, tag;
};
RepoRef split_repo_ref(const std::string& s);

// True for a well-formed ORG/NAME hub repo id that is not an existing local path.
bool looks_like_repo_id(const std::string& s);

// Whether a repository file (its path in the repo) is one hub_download fetches.
bool hub_file_wanted(const std::string& rfilename);

namespace hub_detail {

// The GGUF model files of `names` whose file name holds `tag` (any case) as a
// whole part ("Q4_K" does not name "x-Q4_K_M.gguf", nor "Q4_XS" "x-IQ4_XS.gguf"): one
// file, or every part of one split set, sorted. Throws naming `where` and the
// GGUF files there when none or several models match, or parts are missing.
// Files with "mmproj" in the name (vision projectors) are never models.
std::vector<std::string> select_gguf(const std::vector<std::string>& names, const std::string& tag,
                                     const std::string& where);
// The path of the cached GGUF file (first part) for `tag` at `revision`, "" if not all there.
std::string cached_gguf(const std::string& repo_dir, const std::string& revision, const std::string& tag);

// Cache layout helpers (hub_cache.cpp).
bool valid_repo_id(const std::string& s);             // ORG/NAME with the hub's naming rules
void check_revision(const std::string& revision);     // throws on "", "..", absolute paths
bool is_hex(const std::string& s);                    // non-empty, [0-9a-f] only
std::string repo_folder(const std::string& repo_id);  // "models--ORG--NAME"
// The snapshot directory of `revision` under repo_dir when it holds the files
// the engine needs (config.json and all weight shards), else "".
std::string cached_snapshot(const std::string& repo_dir, const std::string& revision);
// snapshots/<commit>/<file> -> ../../blobs/<blob> (a copy where symlinks fail).
void link_snapshot(const std::string& repo_dir, const std::string& commit, const std::string& file,
                   const std::string& blob);
// refs/<revision> := commit (nothing when the revision is the commit itself).
void write_ref(const std::string& repo_dir, const std::string& revision, const std::string& commit);

// Streaming SHA-256 (FIPS 180-4).
class Sha256 {
 public:
  Sha256() { reset(); }
  void reset();
  void update(const void* data, size_t n);
  // Finishes the hash and returns it as 64 lowercase hex digits; reset() before reuse.
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> h_{};
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

}  // namespace hub_detail
}  // namespace dsinfer::io
