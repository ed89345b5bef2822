#include "tokenizer/detokenizer.h"

#include <algorithm>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsinfer::tokenizer {

std::string IncrementalDecoder::emit(std::string_view bytes) const {
  if (!opt_.replace_invalid) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = utf8::valid_length(bytes, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string IncrementalDecoder::push(int32_t id) {
  if (opt_.skip_special_tokens && tok_->is_special(id)) {
    tok_->token_bytes(id);  // still range-checked
    return "";
  }
  pending_ += tok_->token_bytes(id);
  const size_t keep = utf8::incomplete_tail(pending_);
  std::string out = emit(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string IncrementalDecoder::push(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += push(id);
  return out;
}

std::string IncrementalDecoder::flush() {
  std::string out = emit(pending_);
  pending_.clear();
  return out;
}

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

size_t StopMatcher::max_stop_length() const {
  size_t n = 0;
  for (const auto& s : stops_) n = std::max(n, s.size());
  return n;
}

StopMatcher::Result StopMatcher::feed(std::string_view delta) {
  Result r;
  if (stopped_) {
    r.stopped = true;
    return r;
  }
  held_.append(delta);
  size_t hit = std::string::npos;
  for (const auto& s : stops_) {
    const size_t at = held_.find(s);
    if (at < hit || (at == hit && at != std::string::npos && s.size() > matched_.size())) {
      hit = at;
      matched_ = s;
    }
  }
  if (hit != std::string::npos) {
    r.text = held_.substr(0, hit);
    r.stopped = stopped_ = true;
    held_.clear();
    return r;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_) {
    for (size_t k = std::min(s.size() - 1, held_.size()); k > keep; --k) {
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
    }
  }
  r.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return r;
}

std::string StopMatcher::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace dsinfer::tokenizer
