#include "cli/notebook.h"

#include <algorithm>

namespace oomlint::cli {

namespace {

using Json = nlohmann::ordered_json;

// Splits text into lines that keep their "\n".
std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    out.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

bool is_python_cell_magic(std::string_view line) {
  for (std::string_view m : {"%%time", "%%timeit", "%%capture", "%%prun"}) {
    if (line.starts_with(m) &&
        (line.size() == m.size() || line[m.size()] == ' ' || line[m.size()] == '\n' ||
         line[m.size()] == '\r' || line[m.size()] == '\t')) {
      return true;
    }
  }
  return false;
}

std::string cell_text(const Json& source) {
  if (source.is_string()) return source.get<std::string>();
  std::string out;
  if (source.is_array()) {
    for (const auto& part : source) {
      if (part.is_string()) out += part.get<std::string>();
    }
  }
  return out;
}

bool ends_with_continuation(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.remove_suffix(1);
  return !line.empty() && line.back() == '\\';
}

} // namespace

CellJoin::CellJoin(const std::vector<std::string_view>& texts) {
  uint32_t line = 0;
  for (std::string_view original : texts) {
    Cell cell;
    cell.original = std::string(original);
    cell.size = static_cast<uint32_t>(original.size());
    std::vector<std::string> lines = split_lines(original);
    std::string text;
    size_t first_code = 0;
    while (first_code < lines.size() &&
           lines[first_code].find_first_not_of(" \t\r\n") == std::string::npos) {
      ++first_code;
    }
    if (first_code < lines.size() && lines[first_code].starts_with("%%") &&
        !is_python_cell_magic(lines[first_code])) {
      cell.opaque = true;
    }
    bool continuing = false;
    for (const std::string& l : lines) {
      size_t b = l.find_first_not_of(" \t");
      bool magic =
          continuing || cell.opaque || (b != std::string::npos && (l[b] == '%' || l[b] == '!'));
      if (magic && b != std::string::npos && l[b] != '\n' && l[b] != '\r') {
        std::string masked = l;
        masked[b] = '#';
        cell.masked.emplace_back(masked, l);
        text += masked;
        continuing = !cell.opaque && ends_with_continuation(l);
      } else {
        text += l;
        continuing = false;
      }
    }
    if (text.empty() || text.back() != '\n') {
      text += '\n';
      cell.added_newline = true;
    }
    if (!cells_.empty()) {
      source_ += kBoundary;
      source_ += '\n';
      ++line;
    }
    cell.start = static_cast<uint32_t>(source_.size());
    cell.first_line = line;
    cell.line_count = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n'));
    line += cell.line_count;
    source_ += text;
    cells_.push_back(std::move(cell));
  }
}

std::optional<CellJoin::Place> CellJoin::locate(uint32_t offset) const {
  auto it = std::upper_bound(cells_.begin(), cells_.end(), offset,
                             [](uint32_t o, const Cell& c) { return o < c.start; });
  if (it == cells_.begin()) return std::nullopt;
  --it;
  uint32_t length = it->size + (it->added_newline ? 1 : 0); // its bytes in source_
  uint32_t k = offset - it->start;
  if (k > length || (k == length && std::next(it) != cells_.end())) return std::nullopt;
  return Place{static_cast<size_t>(it - cells_.begin()), std::min(k, it->size)};
}

std::optional<CellJoin::LinePlace> CellJoin::map_line(uint32_t line) const {
  auto it = std::upper_bound(cells_.begin(), cells_.end(), line,
                             [](uint32_t l, const Cell& c) { return l < c.first_line; });
  if (it == cells_.begin()) return std::nullopt;
  --it;
  if (line >= it->first_line + it->line_count) {
    // Past the last cell's final newline (end of file): the cell's last line + 1.
    if (std::next(it) != cells_.end() || line > it->first_line + it->line_count) {
      return std::nullopt;
    }
  }
  return LinePlace{static_cast<size_t>(it - cells_.begin()), line - it->first_line};
}

std::optional<std::vector<std::string>> CellJoin::split(std::string_view joined) const {
  std::vector<std::string> parts(1);
  for (const std::string& l : split_lines(joined)) {
    std::string_view content = l;
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
      content.remove_suffix(1);
    }
    if (content == kBoundary) {
      parts.emplace_back();
    } else {
      parts.back() += l;
    }
  }
  if (cells_.empty()) {
    if (joined.empty()) return std::vector<std::string>{};
    return std::nullopt;
  }
  if (parts.size() != cells_.size()) return std::nullopt;
  std::vector<std::string> out;
  for (size_t i = 0; i < cells_.size(); ++i) {
    const Cell& cell = cells_[i];
    std::string text;
    if (cell.opaque) {
      text = cell.original;
    } else {
      size_t m = 0;
      for (const std::string& l : split_lines(parts[i])) {
        if (m < cell.masked.size() && l == cell.masked[m].first) {
          text += cell.masked[m++].second;
        } else {
          text += l;
        }
      }
      if (cell.added_newline && !text.empty() && text.back() == '\n') text.pop_back();
    }
    out.push_back(std::move(text));
  }
  return out;
}

std::optional<Notebook> Notebook::parse(std::string_view json_text, std::string& error) {
  Notebook nb;
  try {
    nb.json_ = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::exception& e) {
    error = std::string("invalid notebook JSON: ") + e.what();
    return std::nullopt;
  }
  if (!nb.json_.is_object() || !nb.json_.contains("cells") || !nb.json_["cells"].is_array()) {
    error = "not a Jupyter notebook (no \"cells\" array)";
    return std::nullopt;
  }
  // Formatting of the input, to write it back the same way.
  nb.trailing_newline_ = !json_text.empty() && json_text.back() == '\n';
  size_t nl = json_text.find('\n');
  if (nl != std::string_view::npos) {
    size_t i = nl + 1;
    int spaces = 0;
    while (i < json_text.size() && json_text[i] == ' ')
      ++spaces, ++i;
    nb.indent_ = spaces;
  } else {
    nb.indent_ = -1; // one line
  }
  if (nb.json_.contains("metadata") && nb.json_["metadata"].is_object()) {
    const Json& meta = nb.json_["metadata"];
    std::string lang;
    if (meta.contains("language_info") && meta["language_info"].is_object() &&
        meta["language_info"].contains("name") && meta["language_info"]["name"].is_string()) {
      lang = meta["language_info"]["name"].get<std::string>();
    } else if (meta.contains("kernelspec") && meta["kernelspec"].is_object() &&
               meta["kernelspec"].contains("language") &&
               meta["kernelspec"]["language"].is_string()) {
      lang = meta["kernelspec"]["language"].get<std::string>();
    }
    std::transform(lang.begin(), lang.end(), lang.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    nb.is_python_ = lang.empty() || lang == "python" || lang == "python3";
  }

  const Json& cells = nb.json_["cells"];
  std::vector<std::string> texts;
  for (size_t i = 0; i < cells.size(); ++i) {
    const Json& c = cells[i];
    if (!c.is_object() || !c.contains("cell_type") || c["cell_type"] != "code") continue;
    const Json source = c.contains("source") ? c["source"] : Json("");
    nb.cells_.push_back(Cell{i, !source.is_string()});
    texts.push_back(cell_text(source));
  }
  nb.join_ = CellJoin(std::vector<std::string_view>(texts.begin(), texts.end()));
  return nb;
}

std::optional<CellLine> Notebook::map_line(uint32_t line) const {
  auto place = join_.map_line(line);
  if (!place) return std::nullopt;
  return CellLine{static_cast<uint32_t>(cells_[place->cell].json_index + 1), place->line + 1};
}

std::optional<std::vector<std::pair<uint32_t, std::string>>>
Notebook::split(std::string_view joined) const {
  auto texts = join_.split(joined);
  if (!texts) return std::nullopt;
  std::vector<std::pair<uint32_t, std::string>> out;
  for (size_t i = 0; i < cells_.size(); ++i) {
    out.emplace_back(static_cast<uint32_t>(cells_[i].json_index + 1), std::move((*texts)[i]));
  }
  return out;
}

std::optional<std::string> Notebook::rewrite(std::string_view joined, std::string& error) const {
  auto cells = split(joined);
  if (!cells) {
    error = "the fixes moved notebook cell boundaries; notebook left unchanged";
    return std::nullopt;
  }
  Json out = json_;
  for (size_t i = 0; i < cells_.size(); ++i) {
    const std::string& text = (*cells)[i].second;
    Json& source = out["cells"][cells_[i].json_index]["source"];
    if (cells_[i].source_is_array) {
      source = Json::array();
      for (const std::string& l : split_lines(text))
        source.push_back(l);
    } else {
      source = text;
    }
  }
  std::string s = out.dump(indent_, ' ', false, Json::error_handler_t::replace);
  if (trailing_newline_) s += '\n';
  return s;
}

} // namespace oomlint::cli
