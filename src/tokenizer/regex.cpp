#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "core/error.h"

namespace dsinfer::tokenizer {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  bool prefilter = false;              // first_bytes is meaningful
  std::array<bool, 256> first_bytes{};  // bytes a match can start with
  size_t min_length = 0;               // in bytes (a lower bound)

  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

MatchData::MatchData() : md_(pcre2_match_data_create(1, nullptr)) {
  if (!md_) fail("out of memory creating regex match data");
}

MatchData::~MatchData() { pcre2_match_data_free(static_cast<pcre2_match_data*>(md_)); }

namespace {

void compute_prefilter(pcre2_code* code, std::array<bool, 256>& first, bool& enabled) {
  enabled = false;
  const uint8_t* bitmap = nullptr;
  if (pcre2_pattern_info(code, PCRE2_INFO_FIRSTBITMAP, &bitmap) == 0 && bitmap) {
    for (int b = 0; b < 256; ++b) first[b] = (bitmap[b / 8] >> (b % 8)) & 1;
    enabled = true;
    return;
  }
  uint32_t type = 0, unit = 0, options = 0;
  pcre2_pattern_info(code, PCRE2_INFO_FIRSTCODETYPE, &type);
  pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &options);
  if (type == 1 && (options & PCRE2_CASELESS) == 0 && pcre2_pattern_info(code, PCRE2_INFO_FIRSTCODEUNIT, &unit) == 0 &&
      unit < 256) {
    first.fill(false);
    first[unit] = true;
    enabled = true;
  }
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern), impl_(std::make_unique<Impl>()) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
  if (!impl_->code) {
    std::array<PCRE2_UCHAR, 256> msg{};
    pcre2_get_error_message(err, msg.data(), msg.size());
    fail("invalid regex /", pattern, "/: ", reinterpret_cast<const char*>(msg.data()), " at offset ", err_off);
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
  compute_prefilter(impl_->code, impl_->first_bytes, impl_->prefilter);
  uint32_t min_len = 0;
  if (pcre2_pattern_info(impl_->code, PCRE2_INFO_MINLENGTH, &min_len) == 0) impl_->min_length = min_len;
}

Regex::~Regex() = default;

bool Regex::find(std::string_view subject, size_t start, MatchData& md, size_t& match_start,
                 size_t& match_end) const {
  auto* data = static_cast<pcre2_match_data*>(md.raw());
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  int rc = impl_->jit ? pcre2_jit_match(impl_->code, s, subject.size(), start, 0, data, nullptr)
                      : pcre2_match(impl_->code, s, subject.size(), start, 0, data, nullptr);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
    // The interpreter keeps its backtracking frames on the heap: slower but unbounded by the JIT stack.
    rc = pcre2_match(impl_->code, s, subject.size(), start, PCRE2_NO_JIT, data, nullptr);
  }
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    std::array<PCRE2_UCHAR, 256> msg{};
    pcre2_get_error_message(rc, msg.data(), msg.size());
    fail("regex /", pattern_, "/ failed on a text of ", subject.size(),
         " bytes: ", reinterpret_cast<const char*>(msg.data()));
  }
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
  match_start = ov[0];
  match_end = ov[1];
  return true;
}

bool Regex::may_match(std::string_view s) const {
  if (s.size() < impl_->min_length) return false;
  if (!impl_->prefilter) return true;
  for (char c : s) {
    if (impl_->first_bytes[static_cast<uint8_t>(c)]) return true;
  }
  return false;
}

}  // namespace dsinfer::tokenizer
