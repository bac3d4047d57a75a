#include "lsp/notebook.h"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace oomlint::lsp {

namespace {

// A minimal JSON reader that keeps where each string's characters sit in the text.
struct JMember;
struct JValue {
  enum class Type { Object, Array, String, Other } type = Type::Other;
  std::vector<JMember> members;
  std::vector<JValue> items;
  std::string str;               // decoded string
  std::vector<uint32_t> offsets; // for each decoded byte, where its source starts; plus the end
  const JValue* get(std::string_view key) const;
};

// A named struct, not std::pair<std::string, JValue>: clang-14 with libstdc++ 12 cannot
// instantiate that pair (its default-constructibility check needs JValue's destructor, which needs
// the pair).
struct JMember {
  std::string key;
  JValue value;
};

const JValue* JValue::get(std::string_view key) const {
  for (const auto& [k, v] : members) {
    if (k == key) return &v;
  }
  return nullptr;
}

class Reader {
public:
  explicit Reader(std::string_view t) : t_(t) {}
  bool parse(JValue& out) {
    if (!value(out, 0)) return false;
    ws();
    return i_ == t_.size();
  }
  std::string error;

private:
  void ws() {
    while (i_ < t_.size() &&
           (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t')) {
      ++i_;
    }
  }
  bool fail(const char* what) {
    if (error.empty()) error = std::string(what) + " at byte " + std::to_string(i_);
    return false;
  }
  static void put_utf8(uint32_t cp, JValue& v, uint32_t at) {
    auto push = [&](unsigned c) {
      v.str.push_back(static_cast<char>(c));
      v.offsets.push_back(at);
    };
    if (cp < 0x80) {
      push(cp);
    } else if (cp < 0x800) {
      push(0xC0 | (cp >> 6));
      push(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      push(0xE0 | (cp >> 12));
      push(0x80 | ((cp >> 6) & 0x3F));
      push(0x80 | (cp & 0x3F));
    } else {
      push(0xF0 | (cp >> 18));
      push(0x80 | ((cp >> 12) & 0x3F));
      push(0x80 | ((cp >> 6) & 0x3F));
      push(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(uint32_t& cp) {
    if (i_ + 4 > t_.size()) return fail("truncated \\u escape");
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      char c = t_[i_++];
      cp <<= 4;
      if (c >= '0' && c <= '9')
        cp |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        cp |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        cp |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail("bad \\u escape");
    }
    return true;
  }
  bool string(JValue& v) {
    v.type = JValue::Type::String;
    ++i_; // opening quote
    while (i_ < t_.size()) {
      char c = t_[i_];
      uint32_t at = static_cast<uint32_t>(i_);
      if (c == '"') {
        v.offsets.push_back(at);
        ++i_;
        return true;
      }
      if (c != '\\') {
        v.str.push_back(c);
        v.offsets.push_back(at);
        ++i_;
        continue;
      }
      if (++i_ >= t_.size()) break;
      char e = t_[i_++];
      switch (e) {
      case 'n':
        v.str.push_back('\n');
        break;
      case 't':
        v.str.push_back('\t');
        break;
      case 'r':
        v.str.push_back('\r');
        break;
      case 'b':
        v.str.push_back('\b');
        break;
      case 'f':
        v.str.push_back('\f');
        break;
      case '/':
        v.str.push_back('/');
        break;
      case '\\':
        v.str.push_back('\\');
        break;
      case '"':
        v.str.push_back('"');
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < t_.size() && t_[i_] == '\\' &&
            t_[i_ + 1] == 'u') {
          size_t save = i_;
          i_ += 2;
          uint32_t lo = 0;
          if (hex4(lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else {
            i_ = save;
            error.clear();
            cp = 0xFFFD;
          }
        } else if (cp >= 0xD800 && cp < 0xE000) {
          cp = 0xFFFD;
        }
        put_utf8(cp, v, at);
        continue;
      }
      default:
        return fail("bad escape");
      }
      v.offsets.push_back(at);
    }
    return fail("unterminated string");
  }
  bool value(JValue& v, int depth) {
    if (depth > 200) return fail("nesting too deep");
    ws();
    if (i_ >= t_.size()) return fail("unexpected end");
    char c = t_[i_];
    if (c == '"') return string(v);
    if (c == '{') {
      v.type = JValue::Type::Object;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
        return true;
      }
      for (;;) {
        ws();
        if (i_ >= t_.size() || t_[i_] != '"') return fail("expected a key");
        JValue key;
        if (!string(key)) return false;
        ws();
        if (i_ >= t_.size() || t_[i_] != ':') return fail("expected ':'");
        ++i_;
        JValue member;
        if (!value(member, depth + 1)) return false;
        v.members.push_back(JMember{std::move(key.str), std::move(member)});
        ws();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == '}') {
          ++i_;
          return true;
        }
        return fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.type = JValue::Type::Array;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
        return true;
      }
      for (;;) {
        JValue item;
        if (!value(item, depth + 1)) return false;
        v.items.push_back(std::move(item));
        ws();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == ']') {
          ++i_;
          return true;
        }
        return fail("expected ',' or ']'");
      }
    }
    // Numbers, true, false, null: skip the token.
    size_t start = i_;
    while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != '}' && t_[i_] != ']' && t_[i_] != ' ' &&
           t_[i_] != '\n' && t_[i_] != '\r' && t_[i_] != '\t') {
      ++i_;
    }
    if (i_ == start) return fail("unexpected character");
    return true;
  }

  std::string_view t_;
  size_t i_ = 0;
};

} // namespace

std::optional<NotebookSource> extract_notebook(std::string_view json_text, std::string& error) {
  Reader reader(json_text);
  JValue root;
  if (!reader.parse(root)) {
    error = "not valid JSON: " + reader.error;
    return std::nullopt;
  }
  const JValue* cells = root.type == JValue::Type::Object ? root.get("cells") : nullptr;
  if (!cells || cells->type != JValue::Type::Array) {
    error = "no `cells` array";
    return std::nullopt;
  }
  // Each code cell's text, with where each of its bytes sits in the JSON text (plus one entry
  // for its end); joined as `oomlint check` joins them (cli::CellJoin).
  std::vector<std::string> texts;
  std::vector<std::vector<uint32_t>> offsets;
  for (const JValue& c : cells->items) {
    if (c.type != JValue::Type::Object) continue;
    const JValue* type = c.get("cell_type");
    if (!type || type->type != JValue::Type::String || type->str != "code") continue;
    const JValue* source = c.get("source");
    std::vector<const JValue*> parts;
    if (source && source->type == JValue::Type::String) parts.push_back(source);
    if (source && source->type == JValue::Type::Array) {
      for (const JValue& p : source->items) {
        if (p.type == JValue::Type::String) parts.push_back(&p);
      }
    }
    std::string text;
    std::vector<uint32_t> at;
    for (const JValue* p : parts) {
      text += p->str;
      at.insert(at.end(), p->offsets.begin(), p->offsets.end() - 1);
    }
    // The end of the cell: the closing quote of its last string.
    uint32_t end = !parts.empty() ? parts.back()->offsets.back() : 0;
    at.push_back(end);
    texts.push_back(std::move(text));
    offsets.push_back(std::move(at));
  }
  NotebookSource nb;
  nb.join = cli::CellJoin(std::vector<std::string_view>(texts.begin(), texts.end()));
  const std::string& py = nb.join.source();
  nb.to_json.assign(py.size() + 1, 0);
  nb.cell.assign(py.size() + 1, kBoundaryCell);
  uint32_t last = 0;
  for (size_t i = 0; i < offsets.size(); ++i) {
    uint32_t start = nb.join.start(i);
    uint32_t next =
        i + 1 < offsets.size() ? nb.join.start(i + 1) : static_cast<uint32_t>(py.size());
    const std::string& text = texts[i];
    const bool added_newline = text.empty() || text.back() != '\n';
    const auto own = static_cast<uint32_t>(text.size() + (added_newline ? 1 : 0));
    for (uint32_t o = start; o < next; ++o) {
      uint32_t k = o - start;
      // Past the cell's text: its added newline, then the boundary line (no cell).
      nb.to_json[o] = k < text.size() ? offsets[i][k] : offsets[i].back();
      if (k < own) nb.cell[o] = static_cast<uint32_t>(i);
    }
    last = offsets[i].back();
  }
  nb.to_json[py.size()] = last;
  nb.cell[py.size()] = offsets.empty() ? kBoundaryCell : static_cast<uint32_t>(offsets.size() - 1);
  return nb;
}

std::vector<std::vector<checks::Diagnostic>> place_in_cells(const cli::CellJoin& join,
                                                            std::vector<checks::Diagnostic> diags) {
  std::vector<std::vector<checks::Diagnostic>> out(join.size());
  const auto size = static_cast<uint32_t>(join.source().size());
  for (auto& d : diags) {
    uint32_t start = std::min(d.start, size);
    uint32_t end = std::clamp(d.end, start, size);
    auto first = join.locate(start);
    if (!first) continue; // on a boundary line
    auto last = join.locate(end);
    d.start = first->offset;
    // Ending in another cell (or on a boundary): it ends where it starts, as `oomlint check`
    // places it.
    d.end = last && last->cell == first->cell ? last->offset : first->offset;
    if (d.fix) {
      bool inside = true;
      const size_t cell = first->cell;
      const uint32_t from = join.start(cell), to = from + join.length(cell);
      for (auto& e : d.fix->edits) {
        if (e.start < from || e.end < e.start || e.end > to || join.opaque(cell)) {
          inside = false;
          break;
        }
        e.start = std::min(e.start - from, join.text_size(cell));
        e.end = std::min(e.end - from, join.text_size(cell));
      }
      if (!inside) d.fix.reset();
    }
    out[first->cell].push_back(std::move(d));
  }
  return out;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (ch) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out.push_back(ch);
      }
    }
  }
  return out;
}

checks::Diagnostic map_to_json(const NotebookSource& nb, checks::Diagnostic d) {
  auto at = [&](uint32_t off) { return nb.to_json[std::min<size_t>(off, nb.to_json.size() - 1)]; };
  auto cell_of = [&](uint32_t off) { return nb.cell[std::min<size_t>(off, nb.cell.size() - 1)]; };
  const std::string& python = nb.join.source();
  uint32_t start = at(d.start);
  uint32_t end = std::max(start, d.end > d.start ? at(d.end - 1) + 1 : start);
  if (d.fix) {
    bool ok = true;
    for (auto& e : d.fix->edits) {
      uint32_t last = e.end > e.start ? e.end - 1 : e.start;
      if (cell_of(e.start) == kBoundaryCell || cell_of(e.start) != cell_of(last) ||
          e.end > python.size()) {
        ok = false;
        break;
      }
      e.start = at(e.start);
      e.end = std::max(e.start, at(e.end));
      e.text = json_escape(e.text);
    }
    if (!ok) d.fix.reset();
  }
  d.start = start;
  d.end = end;
  return d;
}

} // namespace oomlint::lsp
