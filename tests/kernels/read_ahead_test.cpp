// ReadAhead: which call to expect next. It answers only for a transition seen
// the last two times, so a decode step's fixed order is learned by its third
// step and a MoE layer's changing experts are not guessed at.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/read_ahead.h"

namespace dsinfer::kernels::cpu {
namespace {

struct Call {
  const void* key;
  std::vector<ReadRegion> starts;
};

TEST(ReadAhead, ExpectsTheCallThatFollowedTwice) {
  char w[3][64];
  const std::vector<Call> step = {{w[0], {{w[0], 64}, {w[0] + 32, 32}}},
                                  {w[1], {{w[1], 64}, {w[1] + 16, 48}}},
                                  {w[2], {{w[2], 64}}}};
  ReadAhead ra;
  for (int pass = 0; pass < 4; ++pass)
    for (size_t i = 0; i < step.size(); ++i) {
      const std::vector<ReadRegion>* next = ra.observe(step[i].key, step[i].starts);
      // The first pass sees each transition once; the second confirms each
      // one only when its successor arrives, after the call was asked about.
      const bool known = pass >= 2;
      if (!known) {
        EXPECT_EQ(next, nullptr) << "pass " << pass << " call " << i;
        continue;
      }
      ASSERT_NE(next, nullptr) << "pass " << pass << " call " << i;
      EXPECT_EQ(*next, step[(i + 1) % step.size()].starts) << "pass " << pass << " call " << i;
    }
}

TEST(ReadAhead, AChangedSuccessorIsNotExpectedUntilItRepeats) {
  char a[64], b[64], c[64];
  const std::vector<ReadRegion> sa{{a, 64}}, sb{{b, 64}}, sc{{c, 64}};
  ReadAhead ra;
  // a -> b twice: b is expected after a.
  ra.observe(a, sa);
  ra.observe(b, sb);
  ra.observe(a, sa);
  ra.observe(b, sb);
  const std::vector<ReadRegion>* next = ra.observe(a, sa);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(*next, sb);
  // Then a -> c (a routed expert that changed): no guess after a ...
  ra.observe(c, sc);
  EXPECT_EQ(ra.observe(a, sa), nullptr);
  // ... until c follows a again.
  ra.observe(c, sc);
  next = ra.observe(a, sa);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(*next, sc);
}

// A call too long to read ahead for (a prefill) comes with no regions: it is
// never expected, while the short one after it still is.
TEST(ReadAhead, ACallWithNothingToReadIsNeverExpected) {
  char a[64], b[64];
  const std::vector<ReadRegion> sb{{b, 64}};
  ReadAhead ra;
  for (int i = 0; i < 4; ++i) {
    const std::vector<ReadRegion>* after_a = ra.observe(a, {});
    EXPECT_EQ(after_a == nullptr, i < 2) << "step " << i;
    if (after_a) {
      EXPECT_EQ(*after_a, sb);
    }
    EXPECT_EQ(ra.observe(b, sb), nullptr) << "step " << i;
  }
}

}  // namespace
}  // namespace dsinfer::kernels::cpu
