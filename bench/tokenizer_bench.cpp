// Tokenizer throughput (Google Benchmark). Not built by default; wire it with
//   find_package(benchmark REQUIRED)
//   add_executable(tokenizer_bench bench/tokenizer_bench.cpp)
//   target_link_libraries(tokenizer_bench PRIVATE dsinfer_tokenizer benchmark::benchmark)
//   target_compile_definitions(tokenizer_bench PRIVATE DSINFER_TESTDATA_DIR="${DSINFER_TESTDATA}")
// and run: tokenizer_bench [--benchmark_filter=...]. Reports bytes/s of encoded text.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "tokenizer/spec.h"
#include "tokenizer/tokenizer.h"

#ifndef DSINFER_TESTDATA_DIR
#define DSINFER_TESTDATA_DIR "../shared/testdata"
#endif

namespace {

using dsinfer::tokenizer::Tokenizer;

std::string vocab_path(const std::string& name) {
  return std::string(DSINFER_TESTDATA_DIR) + "/tokenizers/ggml-vocab-" + name + ".gguf";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// Deterministic pseudo-random generator (no dependence on the library's RNG).
struct Lcg {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  uint32_t next(uint32_t n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>((x >> 33) % n);
  }
};

// A word from a vocabulary of ~50k made-up words, drawn with a Zipf-like skew
// (frequent short words, a long tail), so that piece caching sees realistic reuse.
std::string word(Lcg& r) {
  static const char* syl[] = {"the", "an", "in", "er", "on", "re", "at", "st", "ing", "pro", "con", "ex",
                              "tion", "al", "ment", "de", "com", "ly", "ta", "ver", "um", "ko", "si", "ble"};
  const uint32_t rank = r.next(1 + r.next(50000));
  std::string w;
  uint32_t v = rank;
  do {
    w += syl[v % 24];
    v /= 24;
  } while (v);
  if (r.next(8) == 0) w[0] = static_cast<char>(w[0] - 32);
  return w;
}

// About 1 MB of mixed text: prose with punctuation and numbers, code, JSON,
// Chinese, emoji, plus the vocabulary test inputs.
const std::string& mixed_text() {
  static const std::string text = [] {
    Lcg r;
    std::string out = read_file(vocab_path("deepseek-llm") + ".inp");
    static const char* cjk[] = {"\xE6\x9D\xA5", "\xE8\x87\xAA", "\xE6\xB7\xB1", "\xE5\xBA\xA6",
                                "\xE7\x9A\x84", "\xE6\xA8\xA1", "\xE5\x9E\x8B", "\xE4\xB8\xAD"};
    static const char* punct[] = {". ", ", ", "; ", "! ", "? ", ": ", " (", ") ", "\n", "\n\n", " - ", "'s "};
    while (out.size() < (1u << 20)) {
      const uint32_t kind = r.next(100);
      if (kind < 80) {
        out += ' ';
        out += word(r);
      } else if (kind < 88) {
        out += punct[r.next(12)];
      } else if (kind < 93) {
        out += ' ' + std::to_string(r.next(100000));
      } else if (kind < 97) {
        for (uint32_t k = 1 + r.next(12); k > 0; --k) out += cjk[r.next(8)];
      } else if (kind < 98) {
        out += " \xF0\x9F\x9A\x80";
      } else {
        out += "\n    for (int i = 0; i < n; ++i) { " + word(r) + "[i] = " + word(r) + "(i) * 2; }\n";
      }
    }
    return out;
  }();
  return text;
}

void run_encode(benchmark::State& state, const Tokenizer& tok) {
  const std::string& text = mixed_text();
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = tok.encode(text, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
}

void BM_EncodeGguf(benchmark::State& state, const char* name) {
  static const Tokenizer llm = Tokenizer::from_path(vocab_path("deepseek-llm"));
  static const Tokenizer coder = Tokenizer::from_path(vocab_path("deepseek-coder"));
  run_encode(state, std::string(name) == "deepseek-llm" ? llm : coder);
}

// The deepseek-llm vocabulary cut by another model's pre-tokenizer regexes
// (DeepSeek-V3, Qwen2): measures those regexes at realistic piece sizes.
void BM_EncodeWithPre(benchmark::State& state, const char* pre) {
  auto spec = dsinfer::tokenizer::load_gguf_spec(vocab_path("deepseek-llm"));
  spec.pre.clear();
  for (const auto& p : dsinfer::tokenizer::gguf_pre_patterns(pre)) {
    dsinfer::tokenizer::PreTokStep st;
    st.pattern = p;
    spec.pre.push_back(st);
  }
  const Tokenizer tok = Tokenizer::from_spec(spec);
  run_encode(state, tok);
}

void BM_Decode(benchmark::State& state) {
  static const Tokenizer tok = Tokenizer::from_path(vocab_path("deepseek-llm"));
  const auto ids = tok.encode(mixed_text(), false);
  for (auto _ : state) {
    auto s = tok.decode(ids, false);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * mixed_text().size()));
}

BENCHMARK_CAPTURE(BM_EncodeGguf, deepseek_llm, "deepseek-llm")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeGguf, deepseek_coder, "deepseek-coder")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeWithPre, deepseek_v3, "deepseek-v3")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeWithPre, qwen2, "qwen2")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
