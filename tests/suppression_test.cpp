#include <catch2/catch.hpp>

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
