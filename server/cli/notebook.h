// Jupyter notebooks (.ipynb): the code cells joined into one Python text for the engine, the
// mapping of its lines back to (cell, line in cell), and rewriting the JSON after fixes.
// IPython magics (`%cmd`, `!cmd`) are masked as comments; cell magics other than
// %%time/%%timeit/%%capture/%%prun make the whole cell opaque (checked as comments, never changed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace oomlint::cli {

struct CellLine {
  uint32_t cell = 0; // 1-based position of the cell among all cells of the notebook
  uint32_t line = 0; // 1-based line within the cell
};

class Notebook {
public:
  // Parses the notebook JSON; nullopt with `error` set when it is not a notebook.
  static std::optional<Notebook> parse(std::string_view json_text, std::string& error);

  // False for notebooks of another language (kernelspec / language_info say so).
  bool is_python() const { return is_python_; }
  // The code cells joined, magics masked, with a boundary comment line between cells.
  const std::string& source() const { return source_; }
  // Where 0-based line `line` of source() comes from; nullopt for boundary lines.
  std::optional<CellLine> map_line(uint32_t line) const;
  // Splits a (fixed) joined text back into code cell texts (magics restored), one per code
  // cell, paired with the cell number; nullopt when the cell boundaries did not survive.
  std::optional<std::vector<std::pair<uint32_t, std::string>>> split(std::string_view joined) const;
  // The notebook JSON with the code cells taken from a fixed joined text, formatted like the
  // input (indentation, key order, trailing newline). nullopt + `error` when impossible.
  std::optional<std::string> rewrite(std::string_view joined, std::string& error) const;

  static constexpr std::string_view kBoundary = "#<oomlint-cell-boundary>";

private:
  struct Cell {
    size_t json_index = 0; // index in "cells"
    uint32_t first_line = 0;
    uint32_t line_count = 0;
    bool source_is_array = true;
    bool added_newline = false; // the cell had no final newline; we added one
    bool opaque = false;
    std::string original;                                    // the cell's source text
    std::vector<std::pair<std::string, std::string>> masked; // masked line -> original line
  };
  nlohmann::ordered_json json_;
  std::vector<Cell> cells_;
  std::string source_;
  bool is_python_ = true;
  int indent_ = 1;
  bool trailing_newline_ = true;
};

} // namespace oomlint::cli
