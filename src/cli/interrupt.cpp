#include "cli/interrupt.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace dsinfer::cli {

namespace {
sigset_t watched() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGUSR1);  // wakes the watcher for shutdown
  return s;
}
}  // namespace

InterruptWatcher::InterruptWatcher() {
  // An inherited SIG_IGN (background jobs of non-interactive shells) would
  // discard the signal even while blocked, so sigwait would never see it.
  std::signal(SIGINT, SIG_DFL);
  const sigset_t s = watched();
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  thread_ = std::thread([this] {
    const sigset_t set = watched();
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0 || sig == SIGUSR1) return;
      if (generating_) {
        cancel_ = true;
      } else {
        std::fputs("\n", stdout);
        std::fflush(stdout);
        std::_Exit(130);
      }
    }
  });
}

InterruptWatcher::~InterruptWatcher() {
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

}  // namespace dsinfer::cli
