#include "engine/prefilter.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

namespace oomlint::checks {

Clause operator|(Clause a, const Clause& b) {
  a.any.insert(a.any.end(), b.any.begin(), b.any.end());
  return a;
}

namespace {
// Word boundaries as words_of() (checks/facts/words.h) draws them: a word is a
// run of ASCII letters and digits, and a lower-case letter followed by an upper-case one also
// ends a word (`valLoader` is `val`, `loader`). Underscores and every other byte separate words.
bool is_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_lower(unsigned char c) {
  return c >= 'a' && c <= 'z';
}
bool is_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}
// A word starts at p[i].
bool starts_word(const unsigned char* p, size_t i) {
  return i == 0 || !is_alnum(p[i - 1]) || (is_upper(p[i]) && is_lower(p[i - 1]));
}
// A word ends just before p[i] (i == n: at the end of the text).
bool ends_word(const unsigned char* p, size_t n, size_t i) {
  return i == n || !is_alnum(p[i]) || (is_upper(p[i]) && is_lower(p[i - 1]));
}
bool equal_ignoring_case(const unsigned char* p, std::string_view tok) {
  for (size_t k = 0; k < tok.size(); ++k) {
    unsigned char a = p[k], b = static_cast<unsigned char>(tok[k]);
    if (a >= 'A' && a <= 'Z') a = static_cast<unsigned char>(a + 32);
    if (b >= 'A' && b <= 'Z') b = static_cast<unsigned char>(b + 32);
    if (a != b) return false;
  }
  return true;
}

// Whole identifiers (the `=` mark), as tree-sitter's Python lexer draws them: the prefilter must
// find every identifier token the rules can see, and may find more. An identifier takes every
// ASCII letter, digit and `_` after it, so one ends before any other byte. A byte >= 0x80 also
// counts as an end: `é` would continue the identifier, but U+200B (white space to tree-sitter)
// or `×` (skipped as an error) would not, and telling them apart needs Unicode's tables.
bool is_identifier_byte(unsigned char c) {
  return c == '_' || is_alnum(c);
}
bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
bool ends_identifier(const unsigned char* p, size_t n, size_t i) {
  return i == n || !is_identifier_byte(p[i]);
}

// Can an identifier token start at p[i]? After a byte that is not an ASCII letter, digit or `_`,
// yes (bytes >= 0x80 included, as above). Inside a run of such bytes, no when the run begins an
// identifier (a letter or `_` after another byte): the lexer takes the run whole. Other tokens
// can end inside a run and leave an identifier after them, in broken code that tree-sitter
// still parses: a number (`1autocast` is `1`, `autocast`; also `1L`, `1j`, `1.j`, `1_.e5`), an
// f-string conversion (`!r`) or an escape sequence (`\n`, lexed while recovering from an
// error). Such a run begins with a digit, follows `!` or `\`, or follows a `.` after a digit or
// `_`; a match in it counts. Queries come in increasing order of i: the start of the run is
// remembered, so a long run is walked once.
class IdentifierStarts {
public:
  bool at(const unsigned char* p, size_t i) {
    if (i == 0 || !is_identifier_byte(p[i - 1])) return true;
    size_t s = i; // where the run that p[i - 1] is in begins
    while (s > 0 && is_identifier_byte(p[s - 1])) {
      if (s == memo_at_) {
        s = memo_start_;
        break;
      }
      --s;
    }
    memo_at_ = i;
    memo_start_ = s;
    if (is_digit(p[s])) return true;
    if (s > 0 && (p[s - 1] == '!' || p[s - 1] == '\\')) return true;
    return s > 1 && p[s - 1] == '.' && (is_digit(p[s - 2]) || p[s - 2] == '_');
  }

private:
  size_t memo_at_ = SIZE_MAX, memo_start_ = 0;
};

// Where a byte of Python source stands: in code, in a one-line string, or in prose (a comment
// or a triple-quoted string, where docstrings are). Enough of Python's lexer to keep marked
// `needs()` alternatives out of docstrings and comments. It errs towards code: f-strings (and
// t-strings) count as code throughout, since their braces hold expressions, a one-line string
// ends at a line break, and a triple quote that is never closed opens no string (tree-sitter
// recovers from it and parses the rest of the file as code).
class SourceTracker {
public:
  // Where p[i] stands. Call with i = 0, 1, 2, ... in order.
  Where at(const unsigned char* p, size_t n, size_t i) {
    if (i >= settled_) step(p, n, i);
    return where_;
  }

private:
  enum class State : uint8_t { Code, Comment, String };
  State state_ = State::Code;
  unsigned char quote_ = 0;
  bool triple_ = false, fstring_ = false;
  Where where_ = Where::Code; // the answer for bytes below settled_
  size_t settled_ = 0;        // bytes before this one are classified
  // Per quote byte (' and "): from here on, no closing triple quote was found. Searching again
  // from a later opening would find none either (up to escapes, where it errs towards code).
  size_t unclosed_from_[2] = {SIZE_MAX, SIZE_MAX};
  // Per quote byte: a one-line string opened before this offset found no closing quote before
  // the end of its line, which ends here; a later opening on that line finds none either.
  size_t open_line_end_[2] = {0, 0};

  // Is there a closing triple `q` at or after p[from]?
  bool closes(const unsigned char* p, size_t n, size_t from, unsigned char q) {
    size_t& memo = unclosed_from_[q == '"'];
    if (from >= memo) return false;
    for (size_t j = from; j + 2 < n; ++j) {
      if (p[j] == '\\') {
        ++j;
      } else if (p[j] == q && p[j + 1] == q && p[j + 2] == q) {
        return true;
      }
    }
    memo = from;
    return false;
  }

  // Does a one-line string whose body starts at p[from] close on its line? Escapes as step()
  // reads them: a backslash takes the next byte, a line break ends the line.
  bool closes_on_line(const unsigned char* p, size_t n, size_t from, unsigned char q) {
    size_t& memo = open_line_end_[q == '"'];
    if (from < memo) return false;
    size_t j = from;
    for (; j < n && p[j] != '\n' && p[j] != '\r'; ++j) {
      if (p[j] == '\\') {
        ++j;
      } else if (p[j] == q) {
        return true;
      }
    }
    memo = j;
    return false;
  }

  static bool ident(unsigned char c) { return c == '_' || c >= 0x80 || is_alnum(c); }
  Where inside() const {
    if (fstring_) return Where::Code;
    return triple_ ? Where::Prose : Where::String;
  }

  void step(const unsigned char* p, size_t n, size_t i) {
    unsigned char c = p[i];
    settled_ = i + 1;
    switch (state_) {
    case State::Code:
      where_ = Where::Code;
      if (c == '#') {
        state_ = State::Comment;
      } else if (c == '"' || c == '\'') {
        // The prefix: up to three letters before the quote, after a non-identifier byte.
        size_t k = i;
        while (k > 0 && i - k < 3 && ident(p[k - 1]))
          --k;
        fstring_ = false;
        for (size_t j = k; j < i; ++j) {
          unsigned char l = p[j] | 0x20;
          fstring_ = fstring_ || l == 'f' || l == 't';
        }
        quote_ = c;
        triple_ = i + 2 < n && p[i + 1] == c && p[i + 2] == c;
        if (triple_ && !closes(p, n, i + 3, c)) {
          settled_ = i + 3; // an unterminated triple quote: the rest stays code
          return;
        }
        // An unterminated one-line quote: the rest of its line stays code, as tree-sitter, which
        // drops the quote and parses on, reads it (a call there is a call to the rules).
        if (!triple_ && !closes_on_line(p, n, i + 1, c)) return;
        state_ = State::String;
        if (triple_) settled_ = i + 3; // the other two quotes open it too
      }
      return;
    case State::Comment:
      where_ = Where::Prose;
      if (c == '\n' || c == '\r') state_ = State::Code;
      return;
    case State::String:
      where_ = inside();
      if (c == '\\') {
        settled_ = i + 2; // the escaped byte belongs to the string
      } else if (!triple_ && (c == '\n' || c == '\r')) {
        state_ = State::Code; // an unterminated one-line string
        where_ = Where::Code;
      } else if (c == quote_ && (!triple_ || (i + 2 < n && p[i + 1] == c && p[i + 2] == c))) {
        state_ = State::Code;
        if (triple_) settled_ = i + 3;
      }
      return;
    }
  }
};

} // namespace

std::string blank_outside(std::string_view t, Where keep) {
  std::string out(t);
  if (t.find_first_of("#\"'") == std::string_view::npos) return out; // all code
  // The text starts in code (a node starts at a token), as the tracker does.
  const auto* p = reinterpret_cast<const unsigned char*>(t.data());
  SourceTracker tracker;
  for (size_t i = 0; i < t.size(); ++i) {
    if (tracker.at(p, t.size(), i) > keep) out[i] = ' ';
  }
  return out;
}

PrefilterIndex::PrefilterIndex(const std::vector<const Prefilter*>& prefilters) {
  // One token per distinct term (the same bytes, modifiers and place), however many rules need
  // or exclude it: the scan looks for each once.
  // (Every process builds this: a linear search over the tokens cost a one-file run 5% of its
  // instructions.)
  std::unordered_multimap<std::string_view, uint32_t> by_bytes;
  by_bytes.reserve(512);
  auto intern = [&](const Term& term) {
    auto [first, last] = by_bytes.equal_range(term.bytes);
    for (auto it = first; it != last; ++it) {
      if (tokens_[it->second] == term) return it->second;
    }
    auto id = static_cast<uint32_t>(tokens_.size());
    tokens_.push_back(term);
    by_bytes.emplace(term.bytes, id);
    return id;
  };
  for (const Prefilter* p : prefilters) {
    auto& excluded = excludes_.emplace_back();
    for (const Term& t : p->excludes())
      excluded.push_back(intern(t.checked()));
    auto& clauses = needs_.emplace_back();
    auto& facts = clause_facts_.emplace_back();
    for (const Clause& c : p->needs()) {
      if (c.any.empty()) throw std::invalid_argument("prefilter: an empty clause never holds");
      auto& alternatives = clauses.emplace_back();
      uint32_t& fact = facts.emplace_back(0);
      for (const Term& t : c.any) {
        if (t.imported_facts != 0) {
          fact |= t.imported_facts;
        } else {
          alternatives.push_back(intern(t.checked()));
        }
      }
    }
  }
  // The scanner's tables. A token that ignores case is filed under every case of its first two
  // bytes.
  needs_tracker_ = false;
  for (const auto& t : tokens_)
    needs_tracker_ = needs_tracker_ || t.in != Where::Prose;
  std::vector<uint32_t> byte_count(256 + 1, 0);
  for (const auto& t : tokens_) {
    if (t.bytes.size() == 1) ++byte_count[static_cast<unsigned char>(t.bytes[0])];
  }
  byte_begin_.assign(256 + 1, 0);
  for (uint32_t b = 0; b < 256; ++b)
    byte_begin_[b + 1] = byte_begin_[b] + byte_count[b];
  byte_ids_.assign(byte_begin_[256], 0);
  std::vector<uint32_t> byte_fill(byte_begin_.begin(), byte_begin_.end() - 1);
  // The two-byte keys of a token: one, or up to four when it ignores case.
  struct Keys {
    std::array<uint32_t, 4> key{};
    size_t size = 0;
    const uint32_t* begin() const { return key.data(); }
    const uint32_t* end() const { return key.data() + size; }
  };
  auto keys_of = [](const Term& t) {
    auto cases = [&](unsigned char c, std::array<unsigned char, 2>& v) {
      v[0] = c;
      bool fold = t.nocase;
      if (fold && c >= 'a' && c <= 'z')
        v[1] = static_cast<unsigned char>(c - 32);
      else if (fold && c >= 'A' && c <= 'Z')
        v[1] = static_cast<unsigned char>(c + 32);
      else
        return size_t{1};
      return size_t{2};
    };
    std::array<unsigned char, 2> first{}, second{};
    size_t n1 = cases(static_cast<unsigned char>(t.bytes[0]), first);
    size_t n2 = cases(static_cast<unsigned char>(t.bytes[1]), second);
    Keys keys;
    for (size_t i = 0; i < n1; ++i)
      for (size_t j = 0; j < n2; ++j)
        keys.key[keys.size++] = first[i] | (static_cast<uint32_t>(second[j]) << 8);
    return keys;
  };
  // Two-byte keys: a bitmap for the fast "no token starts here", then a small open-addressing
  // table from key to its run of token ids (a 65,536-entry table would cost a process ~4 ms of
  // fresh pages, as much as a cached one-file run).
  std::vector<std::pair<uint32_t, uint32_t>> keyed; // (key, token)
  for (uint32_t t = 0; t < tokens_.size(); ++t) {
    std::string_view tok = tokens_[t].bytes;
    if (tok.size() == 1) {
      byte_ids_[byte_fill[static_cast<unsigned char>(tok[0])]++] = t;
      continue;
    }
    for (uint32_t key : keys_of(tokens_[t]))
      keyed.emplace_back(key, t);
  }
  std::sort(keyed.begin(), keyed.end());
  prefix_used_.assign(65536 / 64, 0);
  prefix_ids_.clear();
  size_t distinct = 0;
  for (size_t i = 0; i < keyed.size(); ++i)
    distinct += i == 0 || keyed[i].first != keyed[i - 1].first;
  prefix_bits_ = 6;
  while ((size_t{1} << prefix_bits_) < 2 * distinct)
    ++prefix_bits_;
  prefix_slots_.assign(size_t{1} << prefix_bits_, PrefixSlot{});
  for (size_t i = 0; i < keyed.size();) {
    uint32_t key = keyed[i].first;
    PrefixSlot slot{key, static_cast<uint32_t>(prefix_ids_.size()), 0};
    for (; i < keyed.size() && keyed[i].first == key; ++i)
      prefix_ids_.push_back(keyed[i].second);
    slot.end = static_cast<uint32_t>(prefix_ids_.size());
    size_t h = prefix_hash(key);
    while (prefix_slots_[h].key != PrefixSlot::kEmpty)
      h = (h + 1) & (prefix_slots_.size() - 1);
    prefix_slots_[h] = slot;
    prefix_used_[key >> 6] |= uint64_t{1} << (key & 63);
  }
  stops_.assign(256, 0);
  for (uint32_t b = 0; b < 256; ++b) {
    if (byte_begin_[b] != byte_begin_[b + 1]) stops_[b] = 1;
  }
  for (unsigned char b : {'#', '"', '\'', '\\', '\n', '\r'})
    stops_[b] = 1;
}

std::vector<char> PrefilterIndex::scan(std::string_view text) const {
  std::vector<char> found(tokens_.size(), 0);
  size_t missing = tokens_.size();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  SourceTracker tracker;
  IdentifierStarts identifier_starts;
  // The marks' boundaries around a match of `tok` at p[i] (one-byte tokens carry no word marks).
  auto bounded = [&](const Term& tok, size_t i, size_t len) {
    return (!tok.word_start || starts_word(p, i)) && (!tok.word_end || ends_word(p, n, i + len)) &&
           (!tok.identifier || (ends_identifier(p, n, i + len) && identifier_starts.at(p, i)));
  };
  for (size_t i = 0; i < n && missing > 0; ++i) {
    // Bytes that start no token are skipped: no one-byte token is that byte, and no longer one
    // starts with it and the next byte (the two-byte keys' bitmap). The tracker need not see them
    // either: such a byte changes neither its state nor, at the next byte it sees, its answer (it
    // answers from its state, or for a byte it settled earlier, as it did then). It does see
    // every byte that opens or closes a string or a comment, and every escape.
    while (!stops_[p[i]] && !(i + 1 < n && starts_key(p[i], p[i + 1]))) {
      if (++i == n) return found;
    }
    // With marked tokens, every byte that may start one goes through the tracker.
    Where where = needs_tracker_ ? tracker.at(p, n, i) : Where::Code;
    for (uint32_t k = byte_begin_[p[i]]; k < byte_begin_[p[i] + 1]; ++k) {
      uint32_t t = byte_ids_[k];
      if (!found[t] && where <= tokens_[t].in && bounded(tokens_[t], i, 1)) {
        found[t] = 1;
        --missing;
      }
    }
    if (i + 1 >= n) break;
    if (!starts_key(p[i], p[i + 1])) continue;
    uint32_t key = p[i] | (static_cast<uint32_t>(p[i + 1]) << 8);
    size_t h = prefix_hash(key);
    while (prefix_slots_[h].key != key)
      h = (h + 1) & (prefix_slots_.size() - 1); // present: the bitmap said so
    const PrefixSlot& slot = prefix_slots_[h];
    for (uint32_t k = slot.begin; k < slot.end; ++k) {
      uint32_t t = prefix_ids_[k];
      const Term& tok = tokens_[t];
      const size_t len = tok.bytes.size();
      if (found[t] || len > n - i || where > tok.in) continue;
      bool same = tok.nocase ? equal_ignoring_case(p + i, tok.bytes)
                             : std::memcmp(p + i, tok.bytes.data(), len) == 0;
      if (same && bounded(tok, i, len)) {
        found[t] = 1;
        --missing;
      }
    }
  }
  return found;
}

std::vector<char> PrefilterIndex::active(std::string_view text,
                                         const std::function<uint32_t()>& imported_facts) const {
  std::vector<char> active(needs_.size(), 1);
  std::vector<char> found = scan(text);
  // First by the bytes alone. A clause that the bytes miss but an imported fact may satisfy is
  // left for later: the facts cost a walk over the project's import graph, asked only when some
  // rule holds on every other clause.
  std::vector<char> pending(needs_.size(), 0);
  for (size_t i = 0; i < needs_.size(); ++i) {
    for (uint32_t t : excludes_[i]) {
      if (found[t]) active[i] = 0;
    }
    for (size_t c = 0; c < needs_[i].size() && active[i]; ++c) {
      bool any = false;
      for (uint32_t t : needs_[i][c]) {
        if (found[t]) {
          any = true;
          break;
        }
      }
      if (any) continue;
      if (clause_facts_[i][c] != 0 && imported_facts) {
        pending[i] = 1;
      } else {
        active[i] = 0;
      }
    }
  }
  bool asked = false;
  uint32_t facts = 0;
  for (size_t i = 0; i < needs_.size(); ++i) {
    if (!active[i] || !pending[i]) continue;
    if (!asked) {
      facts = imported_facts();
      asked = true;
    }
    for (size_t c = 0; c < needs_[i].size() && active[i]; ++c) {
      if (clause_facts_[i][c] == 0 || (facts & clause_facts_[i][c]) != 0) continue;
      bool any = false;
      for (uint32_t t : needs_[i][c]) {
        if (found[t]) {
          any = true;
          break;
        }
      }
      if (!any) active[i] = 0;
    }
  }
  return active;
}
} // namespace oomlint::checks
