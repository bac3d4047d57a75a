#include <catch2/catch.hpp>

#include "cli/adoption.h"
#include "cli/renderers.h"

using namespace oomlint::cli;

namespace {
std::string add(std::string_view text, std::map<uint32_t, std::set<std::string>> rows,
                size_t* changed_out = nullptr, std::vector<uint32_t>* skipped = nullptr) {
  size_t changed = 0;
  std::string out = add_noqa_to_text(text, rows, changed, skipped);
  if (changed_out) *changed_out = changed;
  return out;
}
} // namespace

TEST_CASE("add-noqa appends, merges and keeps line endings", "[cli][adoption]") {
  size_t changed = 0;
  CHECK(add("a = 1\nb = 2\n", {{2, {"OOM203"}}}, &changed) == "a = 1\nb = 2  # noqa: OOM203\n");
  CHECK(changed == 1);
  // Several codes on one line, sorted; trailing blanks dropped before the comment.
  CHECK(add("b = 2   \n", {{1, {"OOM203", "OOM201"}}}) == "b = 2  # noqa: OOM201, OOM203\n");
  // CRLF and a last line without a newline.
  CHECK(add("a\r\nb", {{1, {"OOM203"}}, {2, {"OOM201"}}}) ==
        "a  # noqa: OOM203\r\nb  # noqa: OOM201");
  // Merged into an existing list, keeping its codes and what follows.
  CHECK(add("b = 2  # noqa: E501 reason\n", {{1, {"OOM203"}}}) ==
        "b = 2  # noqa: E501, OOM203 reason\n");
  CHECK(add("b = 2  # NOQA:E501\n", {{1, {"OOM203"}}}) == "b = 2  # NOQA:E501, OOM203\n");
  // A code already listed, or a bare noqa: nothing to do.
  CHECK(add("b = 2  # noqa: OOM203\n", {{1, {"OOM203"}}}, &changed) == "b = 2  # noqa: OOM203\n");
  CHECK(changed == 0);
  CHECK(add("b = 2  # noqa\n", {{1, {"OOM203"}}}, &changed) == "b = 2  # noqa\n");
  CHECK(changed == 0);
  // A line continuation cannot take a comment.
  std::vector<uint32_t> skipped;
  CHECK(add("x = 1 + \\\n  2\n", {{1, {"OOM203"}}}, &changed, &skipped) == "x = 1 + \\\n  2\n");
  CHECK(skipped == std::vector<uint32_t>{1});
  // Nor a line that ends inside a string spanning lines; the line that closes it can.
  skipped.clear();
  CHECK(add("s = f(\"\"\"a\nb\"\"\")\n", {{1, {"OOM082"}}, {2, {"OOM082"}}}, &changed, &skipped) ==
        "s = f(\"\"\"a\nb\"\"\")  # noqa: OOM082\n");
  CHECK(skipped == std::vector<uint32_t>{1});
  // Idempotent.
  std::string once = add("a = 1\nb = 2\n", {{1, {"OOM203"}}});
  CHECK(add(once, {{1, {"OOM203"}}}) == once);
}

TEST_CASE("baseline fingerprints survive moved lines and count repeats", "[cli][adoption]") {
  auto finding = [](uint32_t row, std::string line) {
    Finding f;
    f.display = "t.py";
    f.absolute = "/proj/t.py";
    f.diagnostic.code = "OOM203";
    f.location.row = row;
    f.line_text = std::move(line);
    return f;
  };
  Baseline b;
  b.root = "/proj";
  // Same as SARIF's partialFingerprints: the trimmed line, not its number.
  b.fingerprints[line_fingerprint("OOM203", "t.py", "torch.cuda.empty_cache()", 0)] = 1;
  std::vector<Finding> fs{finding(40, "        torch.cuda.empty_cache()\n"),
                          finding(50, "    torch.cuda.empty_cache()\n"),
                          finding(60, "    x.backward(retain_graph=True)\n")};
  CHECK(filter_baseline(fs, b) == 1);
  REQUIRE(fs.size() == 2);
  CHECK(fs[0].location.row == 50); // the second identical line is new
  CHECK(fs[1].location.row == 60);
}
