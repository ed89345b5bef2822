// Which weights the next matmul call will read first, learned from the calls
// before. A decode step runs the model's products in the same order every
// step, so the call that followed this one last time (and the time before)
// is the one to expect; idle threads read its first lines ahead
// (ThreadPool::warm) during the tail of this call and the serial code after
// it. Mixture-of-experts steps route differently each time: a transition is
// trusted only once it repeated, so a wrong guess costs little bandwidth.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace dsinfer::kernels::cpu {

// Bytes from p that one thread will read first.
struct ReadRegion {
  const void* p = nullptr;
  int64_t bytes = 0;
  bool operator==(const ReadRegion& o) const { return p == o.p && bytes == o.bytes; }
};

class ReadAhead {
 public:
  // A call, keyed by its first product's weights, whose threads start their
  // first pieces at `starts` (thread t: starts[t]; empty when the call is not
  // worth reading ahead for). Returns what the call that follows this one
  // read first the last two times it came next; nullptr when that is unknown
  // or differed. The pointer is valid until the next observe().
  const std::vector<ReadRegion>* observe(const void* key, const std::vector<ReadRegion>& starts);

 private:
  struct Next {
    std::vector<ReadRegion> starts;
    bool repeated = false;  // the same starts came after the key's last two calls
  };
  std::unordered_map<const void*, Next> next_;  // by the key of the call before
  const void* last_ = nullptr;
};

}  // namespace dsinfer::kernels::cpu
