// Ctrl-C for interactive commands without a global flag: SIGINT is blocked
// in every thread and a watcher thread receives it with sigwait. While an
// answer is being generated, Ctrl-C cancels that answer; otherwise it ends
// the program (exit code 130), as a shell user expects.
#pragma once

#include <atomic>
#include <thread>

namespace dsinfer::cli {

class InterruptWatcher {
 public:
  // Call before any other thread is started, so all of them inherit the mask.
  InterruptWatcher();
  ~InterruptWatcher();

  // Set while generating; Ctrl-C then sets cancel() instead of exiting.
  std::atomic<bool>& generating() { return generating_; }
  std::atomic<bool>& cancel() { return cancel_; }

 private:
  std::atomic<bool> generating_{false};
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace dsinfer::cli
