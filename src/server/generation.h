// One HTTP request's engine work: n engine requests (one per choice) whose
// outputs, produced on the engine thread, reach the HTTP thread through a
// thread-safe queue. Destroying a Generation cancels what has not finished,
// so a client that goes away frees its KV blocks at the engine's next step.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/engine.h"
#include "server/openai_errors.h"

namespace dsinfer::server {

struct ChoiceOutput {
  size_t choice = 0;
  engine::RequestOutput out;
};

// Mutex + condition variable queue; push() from the engine thread, pop() from the HTTP thread.
class OutputQueue {
 public:
  void push(ChoiceOutput o);
  // Everything queued, waiting up to `timeout` for the first item (empty on timeout).
  std::vector<ChoiceOutput> pop_all(std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChoiceOutput> items_;
};

class Generation {
 public:
  explicit Generation(engine::Engine& engine);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Submits one choice (its index is the number submitted before it). Throws
  // what Engine::submit throws; choices submitted earlier stay submitted.
  void submit(engine::Request r);
  // The next outputs (see OutputQueue::pop_all); records finished choices.
  std::vector<ChoiceOutput> next(std::chrono::milliseconds timeout);
  bool all_finished() const;
  size_t size() const { return ids_.size(); }
  // Asks the engine to stop every unfinished choice.
  void cancel();

 private:
  engine::Engine& engine_;
  std::shared_ptr<OutputQueue> queue_;
  std::vector<uint64_t> ids_;
  std::vector<bool> finished_;
};

// Submits n copies of r (one per choice). Engine refusals become ApiErrors:
// QueueFull -> 429, anything else (prompt too long, bad token id) -> 400.
void submit_choices(Generation& g, const engine::Request& r, int n);

// OpenAI's finish_reason: "stop", "length" ("abort" when cancelled).
const char* finish_reason(engine::FinishReason r);

}  // namespace dsinfer::server
