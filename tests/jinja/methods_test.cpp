// Methods of str, list and dict values, and the global functions.
//
// Expected outputs are what Jinja2 3.1 renders with the environment
// transformers uses for chat templates (trim_blocks, lstrip_blocks,
// loopcontrols, tojson = json.dumps(ensure_ascii=False)).
#include <gtest/gtest.h>

#include "jinja/jinja_test_util.h"

namespace dsinfer::jinja::test {
namespace {

TEST(JinjaMethods, StringMethods) {
  EXPECT_EQ(render("{{ s.split() }} {{ s.split('o') }} {{ s.split('o', 1) }} {{ s.rsplit('o', 1) }} {{ '  a  b '.split() }} {{ 'a,,b'.split(',') }} {{ ' a b c '.split(none, 1) }} {{ ' a b c '.rsplit(none, 1) }}"),
            "['Hello', 'World'] ['Hell', ' W', 'rld'] ['Hell', ' World'] ['Hello W', 'rld'] ['a', 'b'] ['a', '', 'b'] ['a', 'b c '] [' a b', 'c']");
  EXPECT_EQ(render("{{ s.startswith('He') }} {{ s.endswith(('x', 'ld')) }} {{ s.startswith('World', 6) }} [{{ '  x '.strip() }}] {{ 'xxaxx'.strip('x') }} [{{ ' a '.lstrip() }}] [{{ ' a '.rstrip() }}]"),
            "True True True [x] a [a ] [ a]");
  EXPECT_EQ(render(R"J({{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 1) }} {{ s.upper() }} {{ s.lower() }} {{ "hello wORLD it's".title() }} {{ 'hello World'.capitalize() }})J"),
            "HeLLo WorLd HeLlo World HELLO WORLD hello world Hello World It'S Hello world");
  EXPECT_EQ(render("{{ s.find('o') }} {{ s.rfind('o') }} {{ s.find('z') }} {{ s.find('o', 5) }} {{ s.count('l') }} {{ 'éa'.find('a') }}"),
            "4 7 -1 7 3 1");
  EXPECT_EQ(render("{{ '{} and {}'.format(1, 'x') }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='N') }} {{ '{:>5}|{:<4}|{:^5}|{:05d}|{:.2f}'.format('a', 'b', 'c', 42, 3.14159) }} {{ '{{}}{0[a]}{1!r}'.format(d, 'q') }}"),
            "1 and x aba N!     a|b   |  c  |00042|3.14 {}1'q'");
  EXPECT_EQ(render(R"J({{ ', '.join(['a', 'b']) }} {{ 'a\nb\r\nc'.splitlines() }} {{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ ' '.isspace() }} {{ 'abc'.islower() }} {{ 'ABC'.isupper() }} {{ 'a1'.isalnum() }})J"),
            "a, b ['a', 'b', 'c'] True True True True True True");
  EXPECT_EQ(render("{{ msgs[0].content.split('</think>')[-1] }} {{ 'a</think>b</think>c'.split('</think>', 1)[1] }}"),
            "hi b</think>c");
}

TEST(JinjaMethods, ListAndDictMethods) {
  EXPECT_EQ(render("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}"),
            "1 None 5 ['a', 'b'] [1, [1, 2]] [('a', 1), ('b', [1, 2])]");
  EXPECT_EQ(render("{{ xs.index(1) }} {{ xs.count(3) }} {{ (1, 2).index(2) }}"),
            "1 1 1");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}{% endfor %}{% for k in d.keys() %}{{ k }}{% endfor %}{% for v in d.values() %}{{ v }}{% endfor %}"),
            "abab1[1, 2]");
}

TEST(JinjaGlobals, Functions) {
  EXPECT_EQ(render("{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(5, 0, -2)|list }} {% for i in range(2) %}{{ i }}{% endfor %}"),
            "[0, 1, 2] [1, 2, 3] [5, 3, 1] 01");
  EXPECT_EQ(render("{{ dict(a=1, b=2) }} {{ namespace(a=1).a }} {{ dict(d, c=3) }}"),
            "{'a': 1, 'b': 2} 1 {'a': 1, 'b': [1, 2], 'c': 3}");
}

}  // namespace
}  // namespace dsinfer::jinja::test
