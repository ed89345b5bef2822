// Helpers for the tokenizer tests: reading the llama.cpp-style .inp/.out
// vocabulary test pairs and small files.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dsinfer::test {

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline void write_all(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

// .inp: every text is followed by "\n__ggml_vocab_test__\n" (so the file ends
// with one). .out: one line per text, each id written as " <id>".
inline std::vector<VocabCase> read_vocab_cases(const std::string& inp_path, const std::string& out_path) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  const std::string inp = read_all(inp_path);
  std::vector<VocabCase> cases;
  size_t pos = 0;
  for (size_t at = inp.find(sep); at != std::string::npos; at = inp.find(sep, pos)) {
    cases.push_back({inp.substr(pos, at - pos), {}});
    pos = at + sep.size();
  }
  EXPECT_EQ(pos, inp.size()) << inp_path << " does not end with the separator";
  const std::string out = read_all(out_path);
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl = out.find('\n'); nl != std::string::npos; nl = out.find('\n', start)) {
    lines.push_back(out.substr(start, nl - start));
    start = nl + 1;
  }
  if (start < out.size()) lines.push_back(out.substr(start));
  EXPECT_EQ(lines.size(), cases.size()) << out_path << " vs " << inp_path;
  for (size_t k = 0; k < lines.size() && k < cases.size(); ++k) {
    std::istringstream is(lines[k]);
    for (int64_t id; is >> id;) cases[k].ids.push_back(static_cast<int32_t>(id));
  }
  return cases;
}

// Printable form of bytes for failure messages.
inline std::string show(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace dsinfer::test
