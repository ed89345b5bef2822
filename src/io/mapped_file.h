// Read-only memory map of a whole file; weights are used in place, never copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dsinfer::io {

class MappedFile {
 public:
  // Throws dsinfer::Error naming the path when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Gives the whole pages inside [p, p + n) back to the kernel (madvise
// MADV_DONTNEED): a mapped file's pages are dropped from this process, anonymous
// ones freed. For tensor bytes a backend has copied into its own layout; the
// caller must never read the range again (anonymous pages would read as zero).
void release_pages(const void* p, size_t n);

}  // namespace dsinfer::io
