#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/notebook.h"

using namespace oomlint::cli;

namespace {
const char* kNotebook = R"({
 "cells": [
  {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]},
  {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
   "source": ["%matplotlib inline\n", "import torch"]},
  {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [],
   "source": "!pip install x\nfor b in loader:\n    torch.cuda.empty_cache()\n"},
  {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["%%bash\n", "echo $((1+2))\n"]}
 ],
 "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
 "nbformat": 4,
 "nbformat_minor": 5
}
)";
}

TEST_CASE("notebook: code cells joined, magics masked, lines mapped", "[cli][notebook]") {
  std::string error;
  auto nb = Notebook::parse(kNotebook, error);
  REQUIRE(nb);
  CHECK(nb->is_python());
  const std::string& src = nb->source();
  CHECK(src.find("%matplotlib") == std::string::npos);
  CHECK(src.find("#matplotlib inline\nimport torch\n") == 0);
  CHECK(src.find("#pip install x\n") != std::string::npos);
  CHECK(src.find("echo") == std::string::npos); // %%bash cell is opaque (commented)
  // Line 0, 1: cell 2 (lines 1-2); line 2: boundary; lines 3-5: cell 3.
  auto l0 = nb->map_line(0);
  REQUIRE(l0);
  CHECK(l0->cell == 2);
  CHECK(l0->line == 1);
  CHECK_FALSE(nb->map_line(2));
  auto l5 = nb->map_line(5);
  REQUIRE(l5);
  CHECK(l5->cell == 3);
  CHECK(l5->line == 3);
}

TEST_CASE("notebook: rewrite after an edit keeps the rest", "[cli][notebook]") {
  std::string error;
  auto nb = Notebook::parse(kNotebook, error);
  REQUIRE(nb);
  std::string fixed = nb->source();
  auto pos = fixed.find("    torch.cuda.empty_cache()\n");
  REQUIRE(pos != std::string::npos);
  fixed.replace(pos, std::string("    torch.cuda.empty_cache()\n").size(), "    pass\n");
  auto out = nb->rewrite(fixed, error);
  REQUIRE(out);
  auto j = nlohmann::json::parse(*out);
  CHECK(j["cells"][0]["source"][0] == "# Title\n");
  CHECK(j["cells"][1]["source"][0] == "%matplotlib inline\n");
  CHECK(j["cells"][1]["source"][1] == "import torch"); // no newline added
  CHECK(j["cells"][2]["source"] == "!pip install x\nfor b in loader:\n    pass\n");
  CHECK(j["cells"][3]["source"][1] == "echo $((1+2))\n");
  CHECK(j["cells"][1]["execution_count"] == 1);
  CHECK(j["nbformat"] == 4);
  CHECK(out->back() == '\n');
  // Unchanged text rewrites to the same JSON content.
  auto same = nb->rewrite(nb->source(), error);
  REQUIRE(same);
  CHECK(nlohmann::json::parse(*same) == nlohmann::json::parse(kNotebook));
}

TEST_CASE("notebook: lost cell boundaries are refused", "[cli][notebook]") {
  std::string error;
  auto nb = Notebook::parse(kNotebook, error);
  REQUIRE(nb);
  std::string broken = nb->source();
  broken.erase(broken.find(Notebook::kBoundary), Notebook::kBoundary.size());
  CHECK_FALSE(nb->rewrite(broken, error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("notebook: bad input and other languages", "[cli][notebook]") {
  std::string error;
  CHECK_FALSE(Notebook::parse("{not json", error));
  CHECK_FALSE(error.empty());
  CHECK_FALSE(Notebook::parse("[1, 2]", error));
  auto r = Notebook::parse(
      R"({"cells": [], "metadata": {"kernelspec": {"language": "R"}}, "nbformat": 4})", error);
  REQUIRE(r);
  CHECK_FALSE(r->is_python());
}

TEST_CASE("notebook: CellJoin places every byte in its cell or on a boundary", "[cli][notebook]") {
  CellJoin join({"import torch", "%time x = 1\ny = 2\n", ""});
  const std::string& src = join.source();
  CHECK(src == "import torch\n#<oomlint-cell-boundary>\n#time x = 1\ny = 2\n"
               "#<oomlint-cell-boundary>\n\n");
  REQUIRE(join.size() == 3);
  // Cell 0: its text, then the newline added for it (the end of its text).
  auto p = join.locate(7);
  REQUIRE(p);
  CHECK(p->cell == 0);
  CHECK(p->offset == 7);
  p = join.locate(12);
  REQUIRE(p);
  CHECK(p->offset == 12);
  CHECK_FALSE(join.locate(13)); // the boundary line
  uint32_t y = static_cast<uint32_t>(src.find("y = 2"));
  p = join.locate(y);
  REQUIRE(p);
  CHECK(p->cell == 1);
  CHECK(p->offset == 12);
  CHECK(join.start(1) + 12 == y);
  CHECK(join.length(1) == join.text_size(1)); // it had its final newline
  // The end of the text belongs to the last cell.
  p = join.locate(static_cast<uint32_t>(src.size()));
  REQUIRE(p);
  CHECK(p->cell == 2);
  CHECK(p->offset == 0);
  auto line = join.map_line(3);
  REQUIRE(line);
  CHECK(line->cell == 1);
  CHECK(line->line == 1);
  CHECK_FALSE(join.map_line(1));
  // split() restores the magics and drops the added newline.
  auto texts = join.split(src);
  REQUIRE(texts);
  CHECK(*texts == std::vector<std::string>{"import torch", "%time x = 1\ny = 2\n", ""});
}
