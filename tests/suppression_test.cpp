#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/engine.h"
#include "suppression.h"

using namespace oomlint::checks;

namespace {
SuppressionComment parse(std::string_view c) {
  SuppressionComment s;
  if (!parse_suppression(c, s)) s.codes = {"<none>"};
  return s;
}

const char* kLoop = "import torch\n"
                    "for batch in loader:\n"
                    "    model(batch).sum().backward()\n"
                    "    optimizer.step()\n"
                    "    torch.cuda.empty_cache()%s\n";

std::string with_comment(const char* comment) {
  char buf[512];
  std::snprintf(buf, sizeof buf, kLoop, comment);
  return buf;
}
} // namespace

TEST_CASE("suppression comments are parsed", "[suppression]") {
  CHECK(parse("# noqa").all);
  CHECK(parse("# NOQA").all);
  CHECK(parse("# noqa: OOM203").codes == std::vector<std::string>{"OOM203"});
  CHECK(parse("# noqa: OOM203, OOM201 because").codes ==
        std::vector<std::string>{"OOM203", "OOM201"});
  CHECK(parse("# oomlint: ignore[OOM201]").codes == std::vector<std::string>{"OOM201"});
  CHECK(parse("# oomlint: ignore").all);
  CHECK(parse("# oomlint: noqa").file_level);
  CHECK(parse("# a comment # noqa").all);
  CHECK(parse("# noqabc").codes == std::vector<std::string>{"<none>"});
  CHECK(parse("# just words").codes == std::vector<std::string>{"<none>"});
}

TEST_CASE("suppressions silence the right diagnostics", "[suppression]") {
  Settings s;
  s.select = {"OOM203"};
  Engine engine(s);
  CHECK(engine.check(with_comment("")).size() == 1);
  CHECK(engine.check(with_comment("  # noqa")).empty());
  CHECK(engine.check(with_comment("  # noqa: OOM203")).empty());
  CHECK(engine.check(with_comment("  # oomlint: ignore[OOM203]")).empty());
  CHECK(engine.check(with_comment("  # noqa: E501")).size() == 1);
  CHECK(engine.check(with_comment("  # oomlint: ignore[OOM201]")).size() == 1);
  CHECK(engine.check("# oomlint: noqa\n" + with_comment("")).empty());
  CHECK(engine.check("# oomlint: noqa: OOM201\n" + with_comment("")).size() == 1);
  // A string that merely contains the words is no comment.
  CHECK(engine.check(with_comment("; x = '# noqa'")).size() == 1);
}

namespace {
// The text after applying a diagnostic's fix.
std::string apply_fix(std::string text, const Diagnostic& d) {
  REQUIRE(d.fix);
  auto edits = d.fix->edits;
  std::sort(edits.begin(), edits.end(), [](auto& a, auto& b) { return a.start > b.start; });
  for (const auto& e : edits)
    text.replace(e.start, e.end - e.start, e.text);
  return text;
}

std::vector<Diagnostic> unused_noqa(const std::string& text) {
  Settings s;
  s.select = {"OOM203", "OOM201", "OOM001"};
  Engine engine(s);
  auto all = engine.check(text);
  std::erase_if(all, [](const Diagnostic& d) { return d.code != kUnusedNoqaCode; });
  return all;
}
} // namespace

TEST_CASE("OOM001 reports the codes of a noqa that suppressed nothing, and removes them",
          "[suppression][unused-noqa]") {
  // The used code is not reported.
  CHECK(unused_noqa(with_comment("  # noqa: OOM203")).empty());
  // Codes of other tools and bare noqa are not ours to judge.
  CHECK(unused_noqa("x = 1  # noqa: E501\n").empty());
  CHECK(unused_noqa("x = 1  # noqa\n").empty());
  // A rule that is off (not selected) is not judged either.
  CHECK(unused_noqa("x = 1  # noqa: OOM111\n").empty());

  std::string text = "x = 1  # noqa: OOM201\n";
  auto d = unused_noqa(text);
  REQUIRE(d.size() == 1);
  CHECK(d[0].slug == "unused-noqa");
  CHECK(d[0].start_pos.line == 1);
  CHECK(text.substr(d[0].start, d[0].end - d[0].start) == "OOM201");
  CHECK(apply_fix(text, d[0]) == "x = 1\n");

  // One unused code of two: only it goes; the used one stays.
  text = with_comment("  # noqa: OOM201, OOM203");
  d = unused_noqa(text);
  REQUIRE(d.size() == 1);
  CHECK(d[0].message.find("OOM201") != std::string::npos);
  CHECK(apply_fix(text, d[0]) == with_comment("  # noqa: OOM203"));

  // Other comment text around the directive is kept.
  CHECK(apply_fix("y = 2  # noqa: OOM201  # type: ignore\n",
                  unused_noqa("y = 2  # noqa: OOM201  # type: ignore\n").at(0)) ==
        "y = 2  # type: ignore\n");
  CHECK(apply_fix("y = 2  # why  # noqa: OOM203\n",
                  unused_noqa("y = 2  # why  # noqa: OOM203\n").at(0)) == "y = 2  # why\n");
  CHECK(apply_fix("y = 2  # noqa: OOM201 reason\n",
                  unused_noqa("y = 2  # noqa: OOM201 reason\n").at(0)) == "y = 2  # reason\n");
  CHECK(apply_fix("y = 2  # oomlint: ignore[OOM201, E1]\n",
                  unused_noqa("y = 2  # oomlint: ignore[OOM201, E1]\n").at(0)) ==
        "y = 2  # oomlint: ignore[E1]\n");
  CHECK(apply_fix("y = 2  # oomlint: ignore[OOM201]\n",
                  unused_noqa("y = 2  # oomlint: ignore[OOM201]\n").at(0)) == "y = 2\n");

  // Opt-in: selected by the "OOM" prefix alone, it stays off.
  Settings defaults;
  Engine engine(defaults);
  CHECK(engine.check("x = 1  # noqa: OOM201\n").empty());
}
