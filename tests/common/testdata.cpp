#include "common/testdata.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <filesystem>

namespace dsinfer::test {

std::string testdata_dir() {
  std::error_code ec;
  std::filesystem::path p(DSINFER_TESTDATA_DIR);
  if (!std::filesystem::is_directory(p / "reference", ec)) {
    std::fprintf(stderr, "*** WARNING: shared test data not found at %s ***\n", DSINFER_TESTDATA_DIR);
    return "";
  }
  return std::filesystem::canonical(p, ec).string();
}

std::string dsinfer_binary() { return DSINFER_BINARY; }

std::string make_temp_dir() {
  static std::atomic<int> counter{0};
  auto base = std::filesystem::temp_directory_path() /
              ("dsinfer-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  return base.string();
}

}  // namespace dsinfer::test
