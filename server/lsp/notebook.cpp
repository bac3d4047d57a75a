#include "lsp/notebook.h"

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

// Blanks IPython magics and shell escapes ("%time x", "!pip install") so they parse as blank lines.
void blank_magics(std::string& py, size_t from) {
  size_t i = from;
  while (i < py.size()) {
    size_t eol = py.find('\n', i);
    if (eol == std::string::npos) eol = py.size();
    size_t k = i;
    while (k < eol && (py[k] == ' ' || py[k] == '\t'))
      ++k;
    if (k < eol && (py[k] == '%' || py[k] == '!')) {
      for (size_t j = k; j < eol; ++j)
        py[j] = ' ';
    }
    i = eol + 1;
  }
}

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
  NotebookSource nb;
  uint32_t code_cell = 0;
  for (const JValue& c : cells->items) {
    if (c.type != JValue::Type::Object) continue;
    const JValue* type = c.get("cell_type");
    if (!type || type->type != JValue::Type::String || type->str != "code") continue;
    const JValue* source = c.get("source");
    if (!source) continue;
    std::vector<const JValue*> parts;
    if (source->type == JValue::Type::String) parts.push_back(source);
    if (source->type == JValue::Type::Array) {
      for (const JValue& p : source->items) {
        if (p.type == JValue::Type::String) parts.push_back(&p);
      }
    }
    size_t cell_start = nb.python.size();
    uint32_t last_end = 0;
    for (const JValue* p : parts) {
      nb.python += p->str;
      nb.to_json.insert(nb.to_json.end(), p->offsets.begin(), p->offsets.end() - 1);
      last_end = p->offsets.back();
    }
    nb.cell.resize(nb.python.size(), code_cell);
    blank_magics(nb.python, cell_start);
    if (!parts.empty()) {
      // Cells are separate: end each with a newline that maps to the end of its last string.
      nb.python.push_back('\n');
      nb.to_json.push_back(last_end);
      nb.cell.push_back(code_cell);
    }
    ++code_cell;
  }
  nb.to_json.push_back(nb.to_json.empty() ? 0 : nb.to_json.back());
  nb.cell.push_back(code_cell);
  return nb;
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
  uint32_t start = at(d.start);
  uint32_t end = std::max(start, d.end > d.start ? at(d.end - 1) + 1 : start);
  if (d.fix) {
    bool ok = true;
    for (auto& e : d.fix->edits) {
      uint32_t last = e.end > e.start ? e.end - 1 : e.start;
      if (cell_of(e.start) != cell_of(last) || e.end > nb.python.size()) {
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
