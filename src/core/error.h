// Errors: one exception type carrying a message that names what is wrong
// (file, tensor, key, field). Callers at the front ends turn it into a
// one-line message and an exit code or an HTTP status.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace dsinfer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Concatenates any streamable values into one string: cat("tensor ", name, " has ", n, " dims").
template <typename... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

}  // namespace dsinfer
