// The prefilter: what a file's bytes must contain, before any parsing, for a rule to be able to
// report in it (the rule's needs()). The contract: a rule never reports in a file where its
// prefilter does not hold; the fixture, prefilter, corpus and fuzz tests compare runs with and
// without it. docs/contributing/prefilter.md explains terms, clauses and fragments, and how to
// choose them.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace oomlint::checks {

// Where in a Python file a term may occur. Each place includes the ones before it.
enum class Where : uint8_t {
  Code,   // code only: not in comments or strings (f-strings count as code)
  String, // code or a one-line string (not comments, not triple-quoted strings, docstrings)
  Prose,  // anywhere, comments and triple-quoted strings included
};

// One thing to find in a file. Built with code(), code_or_string() or anywhere(), then narrowed
// with the modifiers; a malformed term throws std::invalid_argument (at compile time when it is
// built in a constant expression, at start-up otherwise: the registry builds every prefilter).
struct Term {
  std::string_view bytes;
  Where in = Where::Prose;
  bool word_start = false; // must start a word (as words_of() splits: `val` in `val_loader`)
  bool word_end = false;   // must end a word
  bool identifier = false; // must be a whole identifier token, case included
  bool nocase = false;     // ASCII case is ignored
  // Not bytes: holds when a project module the file imports may carry one of these facts
  // (FunctionFacts flags of model/values.h), so that a rule runs on a file that calls, say, a
  // helper of its project that empties the cache, though the file never says `empty_cache`.
  uint32_t imported_facts = 0;

  // Starts and ends a word: `word("val")` occurs in `val_loader` and `valLoader`, not `value`.
  // Words are runs of ASCII letters and digits; `_`, other bytes and a lower-to-upper case change
  // separate them.
  constexpr Term word() const { return starts_word().ends_word(); }
  constexpr Term starts_word() const {
    Term t = *this;
    t.word_start = true;
    return t.checked();
  }
  constexpr Term ends_word() const {
    Term t = *this;
    t.word_end = true;
    return t.checked();
  }
  // Any ASCII case: `code_or_string("loader").ignoring_case()` occurs in `trainLoader`.
  constexpr Term ignoring_case() const {
    Term t = *this;
    t.nocase = true;
    return t.checked();
  }
  // A whole identifier token of exactly this spelling: `code("autocast").whole_identifier()`
  // occurs in `torch.autocast(` and `from torch import autocast as ac`, not in
  // `is_autocast_enabled`. For a rule that can only fire through an identifier (or a keyword
  // such as `False`) of that spelling.
  constexpr Term whole_identifier() const {
    Term t = *this;
    t.identifier = true;
    return t.checked();
  }
  constexpr Term checked() const {
    if (imported_facts != 0) return *this;
    if (bytes.empty()) throw std::invalid_argument("prefilter term: empty");
    if ((word_start || word_end || nocase) && bytes.size() < 2) {
      throw std::invalid_argument("prefilter term: a word or case-free term needs two bytes");
    }
    if (identifier) {
      if (word_start || word_end || nocase) {
        throw std::invalid_argument("prefilter term: a whole identifier takes no word or case "
                                    "modifier");
      }
      for (size_t i = 0; i < bytes.size(); ++i) {
        char c = bytes[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!letter && !(digit && i > 0)) {
          throw std::invalid_argument("prefilter term: not an identifier");
        }
      }
    }
    return *this;
  }
  bool operator==(const Term&) const = default;
};

// Terms by place: in code; in code or a one-line string (`loaders["val"]`); anywhere.
constexpr Term code(std::string_view bytes) {
  return Term{bytes, Where::Code}.checked();
}
constexpr Term code_or_string(std::string_view bytes) {
  return Term{bytes, Where::String}.checked();
}
constexpr Term anywhere(std::string_view bytes) {
  return Term{bytes, Where::Prose}.checked();
}
// The common case of a name a rule resolves through the imports (an alias still names the
// original in its import statement): a whole identifier in code.
constexpr Term code_identifier(std::string_view name) {
  return code(name).whole_identifier();
}

// A fact that a project module the file imports may carry (FunctionFacts flags): the rule runs
// where a helper of the project does what it looks for
// (`imported_fact(FunctionFacts::FreesCache)`).
constexpr Term imported_fact(uint32_t flags) {
  Term t;
  t.imported_facts = flags;
  return t;
}

// Alternatives: holds when any of its terms occurs. `code("a") | code("b")`.
struct Clause {
  std::vector<Term> any;
  Clause() = default;
  Clause(Term t) : any{t} {} // NOLINT: a term is a clause of one
};
Clause operator|(Clause a, const Clause& b);

class Prefilter {
public:
  // No clause: every file may match.
  Prefilter() = default;
  Prefilter& require(Clause c) {
    if (c.any.empty()) throw std::invalid_argument("prefilter: an empty clause never holds");
    needs_.push_back(std::move(c));
    return *this;
  }
  Prefilter& require(const Prefilter& fragment) {
    for (const Clause& c : fragment.needs_)
      require(c);
    for (const Term& t : fragment.excludes_)
      excludes_.push_back(t);
    return *this;
  }
  // Any one of these terms in a file means the rule cannot fire there (the rule checks the
  // same itself, so that a run without the prefilter reports the same).
  template <class... T> Prefilter& excluding(const T&... terms) {
    (excludes_.push_back(terms), ...);
    return *this;
  }
  const std::vector<Clause>& needs() const { return needs_; }
  const std::vector<Term>& excludes() const { return excludes_; }

private:
  std::vector<Clause> needs_;
  std::vector<Term> excludes_;
};

// Every part must hold: terms, clauses, or fragments (a Prefilter that a shared heuristic
// exports for the facts it reads).
template <class... Parts> Prefilter requires_all(const Parts&... parts) {
  Prefilter p;
  (p.require(parts), ...);
  return p;
}

// A node's or a text's bytes as the prefilter sees them: what lies outside `keep` (comments and
// triple-quoted strings, and one-line strings unless `keep` is Where::String) blanked out with
// spaces, so offsets still hold. `text` must start in code (a node does).
std::string blank_outside(std::string_view text, Where keep);

// The prefilters of a rule set, compiled into one scanner: one pass over a file's bytes finds
// every term of every rule.
class PrefilterIndex {
public:
  PrefilterIndex() = default;
  explicit PrefilterIndex(const std::vector<const Prefilter*>& prefilters);
  // active[i]: prefilters[i] holds in `text`. `imported_facts` answers, when asked (at most once,
  // and only when a clause needs it), the facts the file's imported project modules may carry.
  std::vector<char> active(std::string_view text,
                           const std::function<uint32_t()>& imported_facts = {}) const;

private:
  std::vector<Term> tokens_;                              // every distinct term, once
  std::vector<std::vector<std::vector<uint32_t>>> needs_; // per prefilter, per clause: tokens
  std::vector<std::vector<uint32_t>> clause_facts_;       // per prefilter, per clause: facts
  std::vector<std::vector<uint32_t>> excludes_;           // per prefilter
  // Tokens of two bytes or more by their first two bytes: a bitmap of the keys in use, and an
  // open-addressing table from key to its ids' run in prefix_ids_.
  struct PrefixSlot {
    static constexpr uint32_t kEmpty = 0xFFFFFFFF;
    uint32_t key = kEmpty, begin = 0, end = 0;
  };
  std::vector<PrefixSlot> prefix_slots_;
  std::vector<uint32_t> prefix_ids_;
  std::vector<uint64_t> prefix_used_;
  unsigned prefix_bits_ = 6;
  size_t prefix_hash(uint32_t key) const { return (key * 0x9E3779B1u) >> (32 - prefix_bits_); }
  std::vector<uint32_t> byte_begin_, byte_ids_; // one-byte tokens by byte (CSR)
  bool needs_tracker_ = false;                  // some token is kept out of prose or strings
  // stops_[b]: a byte the scan must stop at whatever follows it: a one-byte token, or a byte
  // that may change what the tracker of strings and comments says (see scan). It also stops
  // where starts_key(); it skips the other bytes.
  std::vector<uint8_t> stops_;
  bool starts_key(unsigned char a, unsigned char b) const {
    uint32_t key = a | (static_cast<uint32_t>(b) << 8);
    return (prefix_used_[key >> 6] & (uint64_t{1} << (key & 63))) != 0;
  }
  // found[t]: tokens_[t] occurs in `text`. One pass over the bytes for all tokens.
  std::vector<char> scan(std::string_view text) const;
};

} // namespace oomlint::checks
