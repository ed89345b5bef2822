#include "engine/reasoning.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dsinfer::engine {
namespace {

struct Split {
  std::string reasoning, content;
};

// Feeds text cut at every given position; the result must not depend on the cuts.
Split run(bool opened, const std::string& text, size_t step) {
  ReasoningSplitter s(opened);
  Split out;
  for (size_t i = 0; i < text.size(); i += step) {
    auto d = s.feed(text.substr(i, step));
    out.reasoning += d.reasoning;
    out.content += d.content;
  }
  auto d = s.flush();
  out.reasoning += d.reasoning;
  out.content += d.content;
  return out;
}

TEST(ReasoningSplitter, ModelOpensThinkItself) {
  for (size_t step : {1u, 2u, 3u, 5u, 100u}) {
    const Split s = run(false, "<think>\nLet me add: 2+2=4.\n</think>\n\nThe answer is 4.", step);
    EXPECT_EQ(s.reasoning, "\nLet me add: 2+2=4.\n") << step;
    EXPECT_EQ(s.content, "The answer is 4.") << step;
  }
}

TEST(ReasoningSplitter, TemplateOpenedThink) {
  for (size_t step : {1u, 4u, 7u}) {
    const Split s = run(true, "Hmm, <b>bold</b> thought</think>\n\nAnswer <think> stays", step);
    EXPECT_EQ(s.reasoning, "Hmm, <b>bold</b> thought") << step;
    EXPECT_EQ(s.content, "Answer <think> stays") << step;
  }
}

TEST(ReasoningSplitter, NoThinkIsAllContent) {
  for (size_t step : {1u, 3u}) {
    const Split s = run(false, "<thin ice> and </think> plain", step);
    EXPECT_EQ(s.reasoning, "");
    EXPECT_EQ(s.content, "<thin ice> and </think> plain");
  }
}

TEST(ReasoningSplitter, UnterminatedReasoningFlushesAsReasoning) {
  const Split s = run(true, "still thinking </thi", 3);
  EXPECT_EQ(s.reasoning, "still thinking </thi");
  EXPECT_EQ(s.content, "");
}

TEST(ReasoningSplitter, DetectsOpenThinkInPrompt) {
  EXPECT_TRUE(ReasoningSplitter::prompt_opens_think("<|Assistant|><think>\n"));
  EXPECT_FALSE(ReasoningSplitter::prompt_opens_think("<|Assistant|><think>\n\n</think>\n\n"));
  EXPECT_FALSE(ReasoningSplitter::prompt_opens_think("<|Assistant|>"));
}

}  // namespace
}  // namespace dsinfer::engine
