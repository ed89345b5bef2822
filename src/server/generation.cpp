#include "server/generation.h"

#include <algorithm>
#include <utility>

#include "core/error.h"

namespace dsinfer::server {

void OutputQueue::push(ChoiceOutput o) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(std::move(o));
  }
  cv_.notify_all();
}

std::vector<ChoiceOutput> OutputQueue::pop_all(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !items_.empty(); });
  std::vector<ChoiceOutput> out(std::make_move_iterator(items_.begin()), std::make_move_iterator(items_.end()));
  items_.clear();
  return out;
}

Generation::Generation(engine::Engine& engine) : engine_(engine), queue_(std::make_shared<OutputQueue>()) {}

Generation::~Generation() { cancel(); }

void Generation::submit(engine::Request r) {
  const size_t choice = ids_.size();
  // The callback holds the queue, not the Generation: it may run after the HTTP side is gone.
  r.on_output = [q = queue_, choice](const engine::RequestOutput& o) { q->push({choice, o}); };
  const uint64_t id = engine_.submit(std::move(r));
  ids_.push_back(id);
  finished_.push_back(false);
}

std::vector<ChoiceOutput> Generation::next(std::chrono::milliseconds timeout) {
  std::vector<ChoiceOutput> items = queue_->pop_all(timeout);
  for (const auto& it : items)
    if (it.out.finished && it.choice < finished_.size()) finished_[it.choice] = true;
  return items;
}

bool Generation::all_finished() const {
  return std::all_of(finished_.begin(), finished_.end(), [](bool f) { return f; });
}

void Generation::cancel() {
  for (size_t i = 0; i < ids_.size(); ++i)
    if (!finished_[i]) engine_.cancel(ids_[i]);
}

void submit_choices(Generation& g, const engine::Request& r, int n) {
  try {
    for (int i = 0; i < n; ++i) g.submit(r);
  } catch (const engine::QueueFull& e) {
    throw queue_full(e.what());
  } catch (const Error& e) {
    throw bad_request(e.what());
  }
}

const char* finish_reason(engine::FinishReason r) {
  switch (r) {
    case engine::FinishReason::Stop:
      return "stop";
    case engine::FinishReason::Length:
      return "length";
    case engine::FinishReason::Cancelled:
      return "abort";
  }
  return "stop";
}

}  // namespace dsinfer::server
