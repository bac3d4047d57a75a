// Jupyter notebooks: the code cells joined into one Python module for the engine (CellJoin, the
// one implementation that `oomlint check` and the language server's notebook documents share),
// and the .ipynb file around it (Notebook: reading the JSON, mapping lines to cells, rewriting
// the JSON after fixes).
// IPython magics (`%cmd`, `!cmd`) are masked as comments; cell magics other than
// %%time/%%timeit/%%capture/%%prun make the whole cell opaque (checked as comments, never
// changed). Masking replaces one character per line (`%` or `!` becomes `#`), so every cell keeps
// its length, its lines and its columns in the joined text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace oomlint::cli {

// Code cells' texts joined in order, with a boundary comment line between two cells and a
// newline added to a cell that has no final one.
class CellJoin {
public:
  CellJoin() = default;
  explicit CellJoin(const std::vector<std::string_view>& cells);

  static constexpr std::string_view kBoundary = "#<oomlint-cell-boundary>";

  const std::string& source() const { return source_; }
  size_t size() const { return cells_.size(); }
  // Byte offset in source() of cell `i`'s first byte.
  uint32_t start(size_t i) const { return cells_[i].start; }
  // Its bytes in source(): its text and the newline added when it had no final one.
  uint32_t length(size_t i) const { return cells_[i].size + (cells_[i].added_newline ? 1 : 0); }
  // The size of its own text.
  uint32_t text_size(size_t i) const { return cells_[i].size; }
  bool opaque(size_t i) const { return cells_[i].opaque; }

  // Where byte `offset` of source() comes from: the cell (index into the constructor's list)
  // and the byte offset in that cell's own text (a cell's added final newline maps to the end of
  // its text); nullopt on a boundary line. The end of the text belongs to the last cell.
  struct Place {
    size_t cell = 0;
    uint32_t offset = 0;
  };
  std::optional<Place> locate(uint32_t offset) const;
  // The cell and 0-based line within it of 0-based line `line` of source(); nullopt for
  // boundary lines (the line just past the last cell's final newline belongs to that cell).
  struct LinePlace {
    size_t cell = 0;
    uint32_t line = 0;
  };
  std::optional<LinePlace> map_line(uint32_t line) const;
  // Splits a (fixed) joined text back into one text per cell, magics restored and an added
  // final newline taken off again; nullopt when the cell boundaries did not survive.
  std::optional<std::vector<std::string>> split(std::string_view joined) const;

private:
  struct Cell {
    uint32_t start = 0;      // offset in source_
    uint32_t size = 0;       // bytes of the cell's own text
    uint32_t first_line = 0; // in source_
    uint32_t line_count = 0;
    bool added_newline = false; // the cell had no final newline; one was added
    bool opaque = false;
    std::string original;                                    // the cell's text
    std::vector<std::pair<std::string, std::string>> masked; // masked line -> original line
  };
  std::vector<Cell> cells_;
  std::string source_;
};

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
  const std::string& source() const { return join_.source(); }
  // Where 0-based line `line` of source() comes from; nullopt for boundary lines.
  std::optional<CellLine> map_line(uint32_t line) const;
  // Splits a (fixed) joined text back into code cell texts (magics restored), one per code
  // cell, paired with the cell number; nullopt when the cell boundaries did not survive.
  std::optional<std::vector<std::pair<uint32_t, std::string>>> split(std::string_view joined) const;
  // The notebook JSON with the code cells taken from a fixed joined text, formatted like the
  // input (indentation, key order, trailing newline). nullopt + `error` when impossible.
  std::optional<std::string> rewrite(std::string_view joined, std::string& error) const;

  static constexpr std::string_view kBoundary = CellJoin::kBoundary;

private:
  struct Cell {
    size_t json_index = 0; // index in "cells"
    bool source_is_array = true;
  };
  nlohmann::ordered_json json_;
  std::vector<Cell> cells_; // the code cells, in the order of join_
  CellJoin join_;
  bool is_python_ = true;
  int indent_ = 1;
  bool trailing_newline_ = true;
};

} // namespace oomlint::cli
