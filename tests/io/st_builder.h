// Test helpers: safetensors files built byte by byte, and a check that a call
// throws a dsinfer::Error whose message holds given words.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace dsinfer::test {

// 8-byte little-endian header length, the header text, then the data buffer.
// pad: space-pad the header to a multiple of 8, as real writers do.
inline std::string st_raw(std::string header, const std::string& data, bool pad = true) {
  if (pad)
    while (header.size() % 8 != 0) header += ' ';
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// Same, with an arbitrary length field (for lying or huge lengths).
inline std::string st_raw_len(uint64_t n, const std::string& rest) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + rest;
}

struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

// Header for tensors laid out back to back in the given order.
inline nlohmann::json st_header(const std::vector<StTensor>& ts,
                                const nlohmann::json& metadata = nullptr) {
  nlohmann::json h = nlohmann::json::object();
  size_t off = 0;
  for (const auto& t : ts) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  if (!metadata.is_null()) h["__metadata__"] = metadata;
  return h;
}

inline std::string st_file(const std::vector<StTensor>& ts,
                           const nlohmann::json& metadata = nullptr) {
  std::string data;
  for (const auto& t : ts) data += t.bytes;
  return st_raw(st_header(ts, metadata).dump(), data);
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// n bytes 0, 1, 2, ... so that a wrong offset shows up as wrong contents.
inline std::string ramp(size_t n, uint8_t start = 0) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>(static_cast<uint8_t>(start + i));
  return s;
}

// Success iff f throws dsinfer::Error and its message contains every part.
inline ::testing::AssertionResult error_contains(const std::function<void()>& f,
                                                 const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const dsinfer::Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      if (msg.find(p) == std::string::npos)
        return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << p << "\"";
    return ::testing::AssertionSuccess() << msg;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-dsinfer::Error: " << e.what();
  }
  return ::testing::AssertionFailure() << "no error was thrown";
}

}  // namespace dsinfer::test
