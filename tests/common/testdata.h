// Locating ../shared/testdata. Tests that need it call testdata_or_skip(),
// which skips (never passes) the test with a loud message when it is absent.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace dsinfer::test {

// Absolute path of the shared test data, or "" when it cannot be found.
std::string testdata_dir();
// Path of the dsinfer binary built beside the tests.
std::string dsinfer_binary();
// A fresh empty temporary directory, unique per call.
std::string make_temp_dir();

}  // namespace dsinfer::test

// Expands to the test-data path, or skips the current test loudly.
#define REQUIRE_TESTDATA(var)                                                                  \
  std::string var = ::dsinfer::test::testdata_dir();                                          \
  if (var.empty()) {                                                                          \
    GTEST_SKIP() << "*** ../shared/testdata NOT FOUND (looked at " DSINFER_TESTDATA_DIR       \
                    "): this test needs it and is SKIPPED, not passed ***";                   \
  }
