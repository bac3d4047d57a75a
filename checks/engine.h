// The protocol-free core: text (and optionally an already parsed tree) in, diagnostics with fixes
// out. One depth-first traversal dispatches each node to the rules subscribed to its kind.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "rule.h"
#include "settings.h"
#include "ts.h"

namespace oomlint::checks {

class Engine {
public:
  explicit Engine(Settings settings);
  // An engine over a given rule set (tests); `settings` still selects among them.
  Engine(Settings settings, std::vector<const Rule*> rules);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Settings& settings() const { return settings_; }
  // Enabled rules, sorted by code.
  const std::vector<const Rule*>& rules() const { return rules_; }

  // Prefilter: false when no enabled rule can match `text` (no need to parse it).
  bool may_match(std::string_view text) const;
  // Prefilter per rule: active[i] tells whether rules()[i] can match `text` (its needs() occur
  // and none of its excludes() does).
  std::vector<char> active_rules(std::string_view text) const;

  // Checks `text` (parses it; skips files that cannot match unless `no_prefilter`).
  std::vector<Diagnostic> check(std::string_view text, bool no_prefilter = false) const;
  // Checks `text` with its tree (the LSP path, where the tree is kept and reparsed incrementally).
  // `cancel` is polled between nodes; a cancelled check returns what it has so far. Only the
  // rules whose needs() occur in `text` run, unless `no_prefilter`.
  std::vector<Diagnostic> check(std::string_view text, const ts::Tree& tree,
                                const std::atomic<bool>* cancel = nullptr,
                                bool no_prefilter = false) const;

private:
  Settings settings_;
  std::vector<const Rule*> rules_;
  // rules_by_symbol_[symbol] = indices into rules_
  std::vector<std::vector<size_t>> rules_by_symbol_;
  // The prefilter's tokens (every distinct needs() alternative, as spelled) and, per rule and
  // entry, the indices of its alternatives in tokens_. A token is its bytes, which may have to
  // start and/or end a word (spelled `<val>`) or be a whole identifier (spelled `=autocast`):
  // see Rule::needs().
public:
  // Where a token may be found: code (marked with a backtick), code or a one-line string
  // (marked `~`), or anywhere, prose included (comments and triple-quoted strings).
  enum class Where : uint8_t { Code, String, Prose };

private:
  struct Token {
    std::string_view spelling, bytes;
    bool word_start = false, word_end = false;
    bool identifier = false; // a whole identifier token (spelled `=autocast`)
    Where in = Where::Prose;
    bool ignores_case() const { return word_start || word_end; } // as words_of() does
  };
  std::vector<Token> tokens_;
  static Token parse_token(std::string_view spelling);
  std::vector<std::vector<std::vector<uint32_t>>> needs_;
  std::vector<std::vector<uint32_t>> excludes_; // per rule: tokens that rule it out
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
  bool needs_tracker_ = false;                  // some token is marked with ` or ~
  // stops_[b]: a byte the scan must stop at whatever follows it: a one-byte token, or a byte
  // that may change what the tracker of strings and comments says (see scan_tokens). It also
  // stops where starts_key(); it skips the other bytes.
  std::vector<uint8_t> stops_;
  // Some token of two bytes or more starts with bytes a, b.
  bool starts_key(unsigned char a, unsigned char b) const {
    uint32_t key = a | (static_cast<uint32_t>(b) << 8);
    return (prefix_used_[key >> 6] & (uint64_t{1} << (key & 63))) != 0;
  }
  // found[t]: tokens_[t] occurs in `text`. One pass over the bytes for all tokens.
  std::vector<char> scan_tokens(std::string_view text) const;
  void build_dispatch();
  std::vector<Diagnostic> run(std::string_view text, const ts::Tree& tree,
                              const std::atomic<bool>* cancel,
                              const std::vector<char>& active) const;
};

struct FixOutcome {
  std::string text;                  // the fixed text
  size_t applied = 0;                // fixes applied, over all rounds
  size_t rejected = 0;               // fixes dropped because they would break the syntax
  std::vector<Diagnostic> remaining; // diagnostics in the fixed text
};

// Applies fixes until nothing changes (at most 10 rounds). Unsafe fixes only when `unsafe`.
// A fix that would add a syntax error is dropped. Overlapping fixes wait for the next round.
FixOutcome apply_fixes(const Engine& engine, std::string text, bool unsafe);

// Number of ERROR and MISSING nodes in a tree.
size_t count_syntax_errors(const ts::Tree& tree);

} // namespace oomlint::checks
