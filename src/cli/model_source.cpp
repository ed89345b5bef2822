#include "cli/model_source.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "io/hub.h"

namespace dsinfer::cli {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// One line per file, redrawn in place: "config.json  [=====>     ]  45% 12.0/26.7 MiB".
void draw_progress(const std::string& file, uint64_t done, uint64_t total) {
  const int width = 30;
  const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const int fill = static_cast<int>(frac * width);
  std::fprintf(stderr, "\r%-40.40s [", file.c_str());
  for (int i = 0; i < width; ++i) std::fputc(i < fill ? '=' : (i == fill ? '>' : ' '), stderr);
  std::fprintf(stderr, "] %3d%% %.1f/%.1f MiB", static_cast<int>(frac * 100), static_cast<double>(done) / 1048576.0,
               static_cast<double>(total) / 1048576.0);
  if (done >= total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace

std::string resolve_model(const std::string& model, const ModelSourceOptions& o) {
  std::error_code ec;
  if (std::filesystem::is_directory(model, ec) || std::filesystem::is_regular_file(model, ec)) return model;
  const io::RepoRef ref = io::split_repo_ref(model);
  if (!io::looks_like_repo_id(ref.repo))
    fail("model \"", model, "\" is neither a directory, a GGUF file nor a Hugging Face repo id (ORG/NAME, or "
         "ORG/NAME:QUANT for a GGUF repository)");
  io::HubOptions h;
  if (!env("HF_ENDPOINT").empty()) h.endpoint = env("HF_ENDPOINT");
  h.token = env("HF_TOKEN");
  const std::string hf_home = env("HF_HOME"), home = env("HOME");
  h.cache_dir = io::default_cache_dir(hf_home.empty() ? nullptr : hf_home.c_str(), home.empty() ? nullptr : home.c_str());
  h.revision = o.revision;
  h.gguf_tag = ref.tag;
  h.offline = o.offline;
  if (o.progress && isatty(STDERR_FILENO)) h.progress = draw_progress;
  return io::hub_download(ref.repo, h);
}

}  // namespace dsinfer::cli
