#include "engine.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "line_index.h"
#include "registry.h"
#include "suppression.h"
#include "ts_arena.h"

namespace oomlint::checks {

namespace {

// What an ancestor of a kind is to Context::sync_memo(): a function, a node that ends a search
// for the enclosing loop, a node that may change the grad mode.
constexpr uint8_t kAncestorFunction = 1, kAncestorLoopStop = 2, kAncestorGrad = 4;

uint8_t ancestor_kind(std::string_view k) {
  bool function = k == "function_definition";
  bool loop_stop = function || k == "lambda" || k == "class_definition" || k == "for_statement" ||
                   k == "while_statement" || k == "list_comprehension" ||
                   k == "set_comprehension" || k == "dictionary_comprehension" ||
                   k == "generator_expression";
  bool grad = function || k == "with_statement";
  return static_cast<uint8_t>((function ? kAncestorFunction : 0) |
                              (loop_stop ? kAncestorLoopStop : 0) | (grad ? kAncestorGrad : 0));
}

// Symbol ids of the kinds the engine itself looks at, computed once.
struct EngineSymbols {
  std::vector<uint8_t> model_kinds; // 1 where SemanticModel::enter wants the node
  std::vector<uint8_t> function_kinds;
  std::vector<uint8_t> comment_kinds;
  // Kinds that may hold a function definition (compound statements, blocks, the module).
  // Nothing else can, so inside any other node every enclosing function is already known.
  std::vector<uint8_t> container_kinds;
  // Per symbol, what Context::sync_memo() asks of an ancestor of that kind (kAncestor* bits),
  // by name as Node::kind() would answer, whatever the symbol's type.
  std::vector<uint8_t> ancestor_kinds;

  EngineSymbols() {
    const TSLanguage* lang = ts::python();
    uint32_t n = ts_language_symbol_count(lang);
    model_kinds.assign(n, 0);
    function_kinds.assign(n, 0);
    comment_kinds.assign(n, 0);
    container_kinds.assign(n, 0);
    ancestor_kinds.assign(n, 0);
    for (uint32_t s = 0; s < n; ++s) {
      const char* symbol_name = ts_language_symbol_name(lang, static_cast<TSSymbol>(s));
      std::string_view name = symbol_name ? symbol_name : "";
      ancestor_kinds[s] = ancestor_kind(name);
      if (ts_language_symbol_type(lang, static_cast<TSSymbol>(s)) != TSSymbolTypeRegular) continue;
      if (name == "import_statement" || name == "import_from_statement" || name == "assignment" ||
          name == "augmented_assignment" || name == "function_definition" ||
          name == "class_definition" || name == "expression_statement") {
        model_kinds[s] = 1;
      }
      if (name == "function_definition") function_kinds[s] = 1;
      if (name == "comment") comment_kinds[s] = 1;
      static constexpr std::string_view kContainers[] = {"module",
                                                         "block",
                                                         "class_definition",
                                                         "function_definition",
                                                         "decorated_definition",
                                                         "if_statement",
                                                         "elif_clause",
                                                         "else_clause",
                                                         "for_statement",
                                                         "while_statement",
                                                         "try_statement",
                                                         "except_clause",
                                                         "except_group_clause",
                                                         "finally_clause",
                                                         "with_statement",
                                                         "match_statement",
                                                         "case_clause"};
      for (auto c : kContainers) {
        if (name == c) container_kinds[s] = 1;
      }
    }
  }
};

const EngineSymbols& engine_symbols() {
  static const EngineSymbols symbols;
  return symbols;
}

bool edits_overlap(const Edit& a, const Edit& b) {
  if (a.start == a.end && b.start == b.end) return a.start == b.start;
  return a.start < b.end && b.start < a.end;
}

std::string apply_edits(std::string_view text, std::vector<Edit> edits) {
  std::sort(edits.begin(), edits.end(),
            [](const Edit& a, const Edit& b) { return a.start > b.start; });
  std::string out(text);
  for (const auto& e : edits) {
    if (e.start > e.end || e.end > out.size()) continue;
    out.replace(e.start, e.end - e.start, e.text);
  }
  return out;
}

} // namespace

std::string_view to_string(Severity s) {
  switch (s) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Info:
    return "info";
  }
  return "warning";
}

std::string_view to_string(Applicability a) {
  return a == Applicability::Safe ? "safe" : "unsafe";
}

DiagnosticBuilder Context::report(uint32_t start, uint32_t end, std::string message) {
  if (!rule_) return DiagnosticBuilder(nullptr);
  const RuleMeta& m = rule_->meta();
  Diagnostic d;
  d.code = std::string(m.code);
  d.slug = std::string(m.slug);
  d.section = std::string(m.section);
  d.severity = m.severity;
  d.message = std::move(message);
  d.start = start;
  d.end = end;
  diagnostics_.push_back(std::move(d));
  return DiagnosticBuilder(&diagnostics_.back());
}

void Context::sync_memo() const {
  size_t n = ancestors_.size();
  // The same innermost ancestor means the same path from the root: nothing to do.
  if (memo_node_.size() == n && (n == 0 || memo_node_[n - 1] == ancestors_[n - 1])) return;
  // The memo holds a root path of the same tree; where it meets the current path at depth k,
  // it agrees on every depth above k too.
  size_t valid = std::min(memo_node_.size(), n);
  while (valid > 0 && !(memo_node_[valid - 1] == ancestors_[valid - 1]))
    --valid;
  memo_node_.resize(n);
  memo_loop_.resize(n);
  memo_grad_.resize(n);
  memo_function_.resize(n);
  const std::vector<uint8_t>& kinds = engine_symbols().ancestor_kinds;
  for (size_t i = valid; i < n; ++i) {
    Node a = ancestors_[i];
    memo_node_[i] = a;
    int32_t up = static_cast<int32_t>(i) - 1;
    TSSymbol s = a.symbol();
    // Symbols outside the table (ERROR) are looked up by name.
    uint8_t kind = s < kinds.size() ? kinds[s] : ancestor_kind(a.kind());
    bool function = kind & kAncestorFunction;
    bool loop_stop = kind & kAncestorLoopStop;
    bool grad = kind & kAncestorGrad;
    int32_t self = static_cast<int32_t>(i);
    memo_loop_[i] = loop_stop ? self : (up >= 0 ? memo_loop_[static_cast<size_t>(up)] : -1);
    memo_grad_[i] = grad ? self : (up >= 0 ? memo_grad_[static_cast<size_t>(up)] : -1);
    memo_function_[i] = function ? self : (up >= 0 ? memo_function_[static_cast<size_t>(up)] : -1);
  }
}

Node Context::enclosing_function() const {
  sync_memo();
  if (ancestors_.empty()) return Node();
  int32_t i = memo_function_.back();
  return i < 0 ? Node() : ancestors_[static_cast<size_t>(i)];
}

Node Context::enclosing_loop(Node node) const {
  sync_memo();
  if (ancestors_.empty()) return Node();
  for (int32_t i = memo_loop_.back(); i >= 0;) {
    size_t at = static_cast<size_t>(i);
    Node a = ancestors_[at];
    std::string_view k = a.kind();
    if (k == "function_definition" || k == "lambda" || k == "class_definition") return Node();
    if (k == "for_statement") {
      // The iterable is evaluated once, before the loop.
      Node child = at + 1 < ancestors_.size() ? ancestors_[at + 1] : node;
      if (a.field("right") == child) {
        i = at > 0 ? memo_loop_[at - 1] : -1;
        continue;
      }
    }
    return a;
  }
  return Node();
}

bool Context::is_step_loop(Node loop) const {
  if (loop.null()) return false;
  auto cached = step_loops_.find(loop.start());
  if (cached != step_loops_.end()) return cached->second;
  bool result = false;
  if (loop.is("for_statement")) {
    // Code and one-line strings (`loaders["train"]`), as the rules' `~loader` entries count.
    std::string iter = code_text(loop.field("right"), /*strings=*/true);
    result = iter.find("loader") != std::string::npos || iter.find("Loader") != std::string::npos ||
             iter.find("batches") != std::string::npos;
  }
  Node body = loop.field("body");
  std::vector<Node> stack;
  if (!body.null()) stack.push_back(body);
  while (!result && !stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    std::string_view k = n.kind();
    if (k == "for_statement" || k == "while_statement" || k == "function_definition" ||
        k == "class_definition" || k == "lambda") {
      continue;
    }
    if (k == "call") {
      Node f = SemanticModel::callee(n);
      if (f.is("attribute")) {
        std::string_view m = text(f.field("attribute"));
        if (m == "backward") result = true;
        if (m == "step" && names_optimizer(f.field("object"))) result = true;
      }
    }
    n.append_named_children(stack);
  }
  step_loops_[loop.start()] = result;
  return result;
}

std::vector<Node> Context::decorators(Node function_def) const {
  std::vector<Node> out;
  // The decorated_definition is the function's parent; look for it among the enclosing
  // functions first (a jump per function, not a step per ancestor).
  Node parent;
  sync_memo();
  for (int32_t f = ancestors_.empty() ? -1 : memo_function_.back(); f >= 0;
       f = f > 0 ? memo_function_[static_cast<size_t>(f) - 1] : -1) {
    size_t at = static_cast<size_t>(f);
    if (ancestors_[at] == function_def) {
      if (at > 0) parent = ancestors_[at - 1];
      break;
    }
  }
  if (parent.null()) parent = function_def.parent();
  if (!parent.is("decorated_definition")) return out;
  for (uint32_t i = 0, n = parent.named_child_count(); i < n; ++i) {
    Node d = parent.named_child(i);
    if (d.is("decorator") && d.named_child_count() > 0) out.push_back(d.named_child(0));
  }
  return out;
}

namespace {
bool is_no_grad_expr(const SemanticModel& m, Node e) {
  // torch.no_grad(), torch.inference_mode(), torch.set_grad_enabled(False), or the bare
  // decorator forms @torch.no_grad / @torch.inference_mode.
  Node target = e.is("call") ? SemanticModel::callee(e) : e;
  auto q = m.qualified_name(target);
  if (!q) return false;
  if (*q == "torch.no_grad" || *q == "torch.inference_mode" || *q == "torch.autograd.no_grad" ||
      *q == "torch.autograd.grad_mode.no_grad" || *q == "torch.autograd.grad_mode.inference_mode") {
    if (*q != "torch.no_grad" && e.is("call")) {
      // inference_mode(False) turns it off.
      Node mode = SemanticModel::positional(e, 0);
      if (SemanticModel::bool_value(mode) == false) return false;
    }
    return true;
  }
  if ((*q == "torch.set_grad_enabled" || *q == "torch.autograd.set_grad_enabled") && e.is("call")) {
    return SemanticModel::bool_value(SemanticModel::positional(e, 0)) == false;
  }
  return false;
}
} // namespace

bool Context::in_no_grad() const {
  Node innermost = ancestors_.empty() ? Node() : ancestors_.back();
  uint32_t generation = model_.generation();
  size_t switches = model_.grad_switches().size();
  if (no_grad_generation_ == generation && no_grad_for_ == innermost &&
      no_grad_switches_ == switches) {
    return no_grad_;
  }
  no_grad_for_ = innermost;
  no_grad_generation_ = generation;
  no_grad_switches_ = switches;
  no_grad_ = in_no_grad_uncached();
  return no_grad_;
}

bool Context::in_no_grad_uncached() const {
  sync_memo();
  for (int32_t g = ancestors_.empty() ? -1 : memo_grad_.back(); g >= 0;
       g = g > 0 ? memo_grad_[static_cast<size_t>(g) - 1] : -1) {
    size_t at = static_cast<size_t>(g);
    const Node* it = &ancestors_[at];
    // Only the body of a `with` is inside it, not its `with` clause; the ancestor just below the
    // with_statement tells which.
    if (it->is("with_statement") && at + 1 < ancestors_.size() && ancestors_[at + 1].is("block")) {
      Node clause = Node();
      for (uint32_t i = 0, n = it->named_child_count(); i < n; ++i) {
        if (it->named_child(i).is("with_clause")) clause = it->named_child(i);
      }
      for (uint32_t i = 0, n = clause.null() ? 0 : clause.named_child_count(); i < n; ++i) {
        Node item = clause.named_child(i);
        Node value = item.field("value");
        if (value.is("as_pattern")) value = value.named_child(0);
        if (is_no_grad_expr(model_, value)) return true;
      }
    } else if (it->is("function_definition")) {
      for (Node d : decorators(*it)) {
        if (is_no_grad_expr(model_, d)) return true;
      }
      // The walk goes on past the function: a closure defined inside a no_grad block is taken
      // to run there too.
    }
  }
  return grad_switched_off();
}

bool Context::grad_switched_off() const {
  const auto& switches = model_.grad_switches();
  if (switches.empty() && !model_.grad_off_everywhere()) return false;
  // The latest switch written before the node in its own block, or in a block around it within
  // the same function (at module level: up to the module), decides. The chain runs from the
  // root down to the node itself, which may be a statement of the block.
  const size_t n = ancestors_.size();
  auto chain = [&](size_t i) { return i < n ? ancestors_[i] : node_; };
  for (size_t i = node_.null() ? n : n + 1; i-- > 1;) {
    Node block = chain(i - 1), stmt = chain(i);
    if (block.is("function_definition") || block.is("lambda") || block.is("class_definition")) {
      break;
    }
    if (!block.is("block") && !block.is("module")) continue;
    const SemanticModel::GradSwitch* latest = nullptr;
    for (const auto& sw : switches) {
      if (sw.statement.start() < stmt.start() && sw.statement.parent() == block) latest = &sw;
    }
    if (latest) return latest->enabled == false;
  }
  // A program that turns autograd off at module level for good runs every function without it.
  if (model_.grad_off_everywhere()) {
    for (const Node& a : ancestors_) {
      if (a.is("function_definition")) return true;
    }
  }
  return false;
}

bool Context::in_except_handler(std::initializer_list<std::string_view> exceptions) const {
  for (auto it = ancestors_.rbegin(); it != ancestors_.rend(); ++it) {
    if (it->is("function_definition")) return false;
    if (!it->is("except_clause")) continue;
    for (uint32_t i = 0, n = it->named_child_count(); i < n; ++i) {
      Node c = it->named_child(i);
      if (c.is("block")) break;
      std::vector<Node> candidates;
      if (c.is("as_pattern")) c = c.named_child(0);
      if (c.is("tuple") || c.is("parenthesized_expression")) {
        for (uint32_t j = 0, m = c.named_child_count(); j < m; ++j)
          candidates.push_back(c.named_child(j));
      } else {
        candidates.push_back(c);
      }
      for (Node e : candidates) {
        auto q = model_.qualified_name(e);
        if (!q) continue;
        for (auto want : exceptions) {
          if (*q == want) return true;
        }
      }
    }
  }
  return false;
}

Engine::Engine(Settings settings)
    : Engine(std::move(settings),
             std::vector<const Rule*>(all_rules().begin(), all_rules().end())) {}

Engine::Engine(Settings settings, std::vector<const Rule*> rules) : settings_(std::move(settings)) {
  for (const Rule* r : rules) {
    if (settings_.is_enabled(r->meta().code)) rules_.push_back(r);
  }
  build_dispatch();
}

void Engine::build_dispatch() {
  needs_.clear();
  excludes_.clear();
  tokens_.clear();
  // One token per distinct thing to find (the same bytes, marks and place), however many
  // rules need or exclude it: the scan looks for each once.
  // (Every process builds this: a linear search over the tokens cost a one-file run 5% of its
  // instructions.)
  std::unordered_multimap<std::string_view, uint32_t> by_bytes;
  by_bytes.reserve(512);
  auto intern = [&](const Token& token) {
    auto [first, last] = by_bytes.equal_range(token.bytes);
    for (auto it = first; it != last; ++it) {
      const Token& t = tokens_[it->second];
      if (t.word_start == token.word_start && t.word_end == token.word_end &&
          t.identifier == token.identifier && t.in == token.in) {
        return it->second;
      }
    }
    auto id = static_cast<uint32_t>(tokens_.size());
    tokens_.push_back(token);
    by_bytes.emplace(token.bytes, id);
    return id;
  };
  for (const Rule* r : rules_) {
    auto& excluded = excludes_.emplace_back();
    for (std::string_view plain : r->excludes()) {
      if (!plain.empty()) excluded.push_back(intern(Token{plain, plain})); // no marks: raw bytes
    }
    auto& entries = needs_.emplace_back();
    for (std::string_view entry : r->needs()) {
      auto& alternatives = entries.emplace_back();
      for (size_t pos = 0; pos <= entry.size();) {
        size_t bar = std::min(entry.find('|', pos), entry.size());
        if (bar > pos) alternatives.push_back(intern(parse_token(entry.substr(pos, bar - pos))));
        pos = bar + 1;
      }
      if (alternatives.empty()) entries.pop_back();
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
  auto keys_of = [](const Token& t) {
    auto cases = [&](unsigned char c, std::array<unsigned char, 2>& v) {
      v[0] = c;
      bool fold = t.ignores_case();
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
  const TSLanguage* lang = ts::python();
  uint32_t n = ts_language_symbol_count(lang);
  rules_by_symbol_.assign(n, {});
  std::unordered_multimap<std::string_view, uint32_t> symbols; // a name may have several ids
  symbols.reserve(n);
  for (uint32_t s = 0; s < n; ++s) {
    if (ts_language_symbol_type(lang, static_cast<TSSymbol>(s)) != TSSymbolTypeRegular) continue;
    symbols.emplace(ts_language_symbol_name(lang, static_cast<TSSymbol>(s)), s);
  }
  for (size_t i = 0; i < rules_.size(); ++i) {
    for (auto kind : rules_[i]->node_kinds()) {
      auto [first, last] = symbols.equal_range(kind);
      for (auto it = first; it != last; ++it)
        rules_by_symbol_[it->second].push_back(i);
    }
  }
}

Engine::~Engine() = default;

namespace {

// Word boundaries as outputs::words_of() (checks/rules/model_outputs.h) draws them: a word is a
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

} // namespace

Engine::Token Engine::parse_token(std::string_view spelling) {
  Token t{spelling, spelling};
  if (t.bytes.size() >= 2 && (t.bytes.front() == '`' || t.bytes.front() == '~')) {
    t.in = t.bytes.front() == '`' ? Where::Code : Where::String;
    t.bytes.remove_prefix(1);
  }
  // `=` marks a whole identifier, and only before a letter or `_` (`==0` is two equals signs). One
  // byte after it is enough (`=t`): one-byte tokens test the identifier's bounds too.
  if (auto second = static_cast<unsigned char>(t.bytes.size() >= 2 ? t.bytes[1] : 0);
      t.bytes.front() == '=' && (second == '_' || (is_alnum(second) && !is_digit(second)))) {
    t.identifier = true;
    t.bytes.remove_prefix(1);
    return t;
  }
  // Word marks are read only around at least two bytes (the scanner's table is keyed on two).
  if (t.bytes.size() >= 3 && t.bytes.front() == '<') {
    t.word_start = true;
    t.bytes.remove_prefix(1);
  }
  if (t.bytes.size() >= 3 && t.bytes.back() == '>') {
    t.word_end = true;
    t.bytes.remove_suffix(1);
  }
  return t;
}

namespace {

// Where a byte of Python source stands: in code, in a one-line string, or in prose (a comment
// or a triple-quoted string, where docstrings are). Enough of Python's lexer to keep marked
// `needs()` alternatives out of docstrings and comments. It errs towards code: f-strings (and
// t-strings) count as code throughout, since their braces hold expressions, a one-line string
// ends at a line break, and a triple quote that is never closed opens no string (tree-sitter
// recovers from it and parses the rest of the file as code).
class SourceTracker {
public:
  using Where = Engine::Where;
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

bool Context::names_optimizer(Node receiver) const {
  std::string obj = code_text(receiver, /*strings=*/true);
  return obj.find("opt") != std::string::npos || obj.find("scaler") != std::string::npos;
}

std::string Context::code_text(Node n, bool strings) const {
  std::string_view t = text(n);
  std::string out(t);
  if (t.find_first_of("#\"'") == std::string_view::npos) return out; // all code
  // The node starts in code (a node starts at a token), as the tracker does.
  const auto* p = reinterpret_cast<const unsigned char*>(t.data());
  const Engine::Where keep = strings ? Engine::Where::String : Engine::Where::Code;
  SourceTracker tracker;
  for (size_t i = 0; i < t.size(); ++i) {
    if (tracker.at(p, t.size(), i) > keep) out[i] = ' ';
  }
  return out;
}

std::vector<char> Engine::scan_tokens(std::string_view text) const {
  std::vector<char> found(tokens_.size(), 0);
  size_t missing = tokens_.size();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  SourceTracker tracker;
  IdentifierStarts identifier_starts;
  // The marks' boundaries around a match of `tok` at p[i] (one-byte tokens carry no word marks).
  auto bounded = [&](const Token& tok, size_t i, size_t len) {
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
      const Token& tok = tokens_[t];
      const size_t len = tok.bytes.size();
      if (found[t] || len > n - i || where > tok.in) continue;
      bool same = tok.ignores_case() ? equal_ignoring_case(p + i, tok.bytes)
                                     : std::memcmp(p + i, tok.bytes.data(), len) == 0;
      if (same && bounded(tok, i, len)) {
        found[t] = 1;
        --missing;
      }
    }
  }
  return found;
}

std::vector<char> Engine::active_rules(std::string_view text) const {
  std::vector<char> active(rules_.size(), 1);
  std::vector<char> found = scan_tokens(text);
  for (size_t i = 0; i < rules_.size(); ++i) {
    for (uint32_t t : excludes_[i]) {
      if (found[t]) active[i] = 0;
    }
    for (const auto& alternatives : needs_[i]) {
      bool any = false;
      for (uint32_t t : alternatives) {
        if (found[t]) {
          any = true;
          break;
        }
      }
      if (!any) {
        active[i] = 0;
        break;
      }
    }
  }
  return active;
}

bool Engine::may_match(std::string_view text) const {
  auto active = active_rules(text);
  return std::find(active.begin(), active.end(), 1) != active.end();
}

std::vector<Diagnostic> Engine::check(std::string_view text, bool no_prefilter) const {
  if (rules_.empty()) return {};
  std::vector<char> active =
      no_prefilter ? std::vector<char>(rules_.size(), 1) : active_rules(text);
  if (std::find(active.begin(), active.end(), 1) == active.end()) return {};
  // The tree is read once and thrown away: it is parsed into the thread's arena
  // (grammars/ts_arena.h), and dropped with the arena instead of freed block by block.
  ts::Tree tree;
  bool in_arena = false;
  {
    ts::ArenaScope scope;
    in_arena = scope.active();
    ts::Parser parser;
    tree = parser.parse(text);
  }
  if (!tree) return {};
  std::vector<Diagnostic> out = run(text, tree, nullptr, active);
  if (in_arena) {
    tree.abandon();
    ts::reset_thread_arena();
  }
  return out;
}

std::vector<Diagnostic> Engine::check(std::string_view text, const ts::Tree& tree,
                                      const std::atomic<bool>* cancel, bool no_prefilter) const {
  return run(text, tree, cancel,
             no_prefilter ? std::vector<char>(rules_.size(), 1) : active_rules(text));
}

std::vector<Diagnostic> Engine::run(std::string_view text, const ts::Tree& tree,
                                    const std::atomic<bool>* cancel,
                                    const std::vector<char>& active) const {
  const EngineSymbols& sym = engine_symbols();
  Node root = tree.root();
  if (root.null()) return {};
  SemanticModel model(text);
  model.prescan_module(root);
  Context cx(text, model, settings_);
  cx.set_rule_count(rules_.size());
  std::vector<Node>& ancestors = cx.ancestor_stack();
  std::vector<Node> functions; // innermost function definitions
  std::vector<Node> comments;

  // The tree's index lists the nodes depth-first in preorder: walking it in order is the
  // traversal. Before a node is visited, the ancestors that do not contain it are closed.
  size_t visited = 0;
  bool cancelled = false;
  for (Node node = root; !node.null();) {
    Node parent = node.parent();
    while (!ancestors.empty() && !(ancestors.back() == parent)) {
      if (!functions.empty() && ancestors.back() == functions.back()) functions.pop_back();
      ancestors.pop_back();
    }
    TSSymbol s = node.symbol();
    // ERROR nodes (symbol 65535) are outside the tables and count as containers. Inside a node
    // that holds no function definition, the model knows every function around any byte of it.
    bool container = s >= sym.container_kinds.size() || sym.container_kinds[s];
    model.advance(container ? static_cast<int64_t>(node.start()) - 1
                            : static_cast<int64_t>(node.end()) - 1);
    if (s < sym.model_kinds.size()) {
      if (sym.model_kinds[s]) {
        size_t up = ancestors.size();
        if (up > 0 && ancestors[up - 1].is("decorated_definition")) --up;
        bool class_member =
            up >= 2 && ancestors[up - 1].is("block") && ancestors[up - 2].is("class_definition");
        model.enter(node, functions.empty() ? Node() : functions.back(), class_member);
      }
      if (sym.comment_kinds[s]) comments.push_back(node);
    }
    if (s < rules_by_symbol_.size()) {
      if (!rules_by_symbol_[s].empty()) cx.set_node(node);
      for (size_t i : rules_by_symbol_[s]) {
        if (!active[i]) continue;
        cx.set_rule(rules_[i], i);
        rules_[i]->check(node, cx);
      }
    }
    if (cancel && (++visited & 1023) == 0 && cancel->load(std::memory_order_relaxed)) {
      cancelled = true;
      break;
    }
    if (node.child_count() > 0) {
      ancestors.push_back(node);
      if (s < sym.function_kinds.size() && sym.function_kinds[s]) functions.push_back(node);
      node = node.first_child();
      continue;
    }
    // The next node in preorder: the next sibling of the node or of its nearest ancestor that
    // has one (the index keeps no "next in preorder" link, but ancestors are at hand).
    Node next = node.next_sibling();
    for (size_t up = ancestors.size(); next.null() && up > 0; --up)
      next = ancestors[up - 1].next_sibling();
    node = next;
  }
  model.advance(INT64_MAX);

  ancestors.clear();
  if (!cancelled) {
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (!active[i]) continue;
      cx.set_rule(rules_[i], i);
      rules_[i]->finish(cx);
    }
  }

  std::vector<Diagnostic> out = std::move(cx.diagnostics());
  LineIndex lines(text);
  Suppressions sup(text, lines, comments);
  std::erase_if(out, [&](const Diagnostic& d) { return sup.suppressed(d); });
  for (auto& d : out) {
    d.start = std::min<uint32_t>(d.start, static_cast<uint32_t>(text.size()));
    d.end = std::clamp<uint32_t>(d.end, d.start, static_cast<uint32_t>(text.size()));
    d.start_pos = {lines.line_of(d.start) + 1, lines.codepoint_column(d.start) + 1};
    d.end_pos = {lines.line_of(d.end) + 1, lines.codepoint_column(d.end) + 1};
  }
  std::sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.start, a.code, a.end) < std::tie(b.start, b.code, b.end);
  });
  // Two subscriptions of one rule can report the same range twice; keep one.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Diagnostic& a, const Diagnostic& b) {
                          return a.start == b.start && a.end == b.end && a.code == b.code &&
                                 a.message == b.message;
                        }),
            out.end());
  return out;
}

size_t count_syntax_errors(const ts::Tree& tree) {
  Node root = tree.root();
  if (root.null() || !root.has_error()) return 0;
  size_t count = 0;
  std::vector<Node> stack{root};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if (n.is_error() || n.is_missing()) ++count;
    if (!n.has_error()) continue;
    for (Node c = n.first_child(); !c.null(); c = c.next_sibling())
      stack.push_back(c);
  }
  return count;
}

FixOutcome apply_fixes(const Engine& engine, std::string text, bool unsafe) {
  FixOutcome outcome;
  ts::Parser parser;
  std::set<std::tuple<std::string, uint32_t, std::string>> rejected;
  auto key = [](const Diagnostic& d) {
    std::string edits;
    for (const auto& e : d.fix->edits) {
      edits += std::to_string(e.start) + ":" + std::to_string(e.end) + ":" + e.text + "\n";
    }
    return std::make_tuple(d.code, d.start, edits);
  };
  for (int round = 0; round < 10; ++round) {
    ts::Tree tree = parser.parse(text);
    size_t errors_before = count_syntax_errors(tree);
    auto diags = engine.check(text, tree);
    std::vector<const Diagnostic*> candidates;
    for (const auto& d : diags) {
      if (!d.fix || d.fix->edits.empty()) continue;
      if (d.fix->applicability == Applicability::Unsafe && !unsafe) continue;
      if (rejected.count(key(d))) continue;
      candidates.push_back(&d);
    }
    if (candidates.empty()) break;
    std::vector<Edit> taken;
    std::vector<const Diagnostic*> chosen;
    for (const Diagnostic* d : candidates) {
      bool clash = false;
      for (const auto& e : d->fix->edits) {
        for (const auto& t : taken)
          clash = clash || edits_overlap(e, t);
      }
      if (clash) continue;
      taken.insert(taken.end(), d->fix->edits.begin(), d->fix->edits.end());
      chosen.push_back(d);
    }
    std::string candidate = apply_edits(text, taken);
    if (count_syntax_errors(parser.parse(candidate)) <= errors_before) {
      text = std::move(candidate);
      outcome.applied += chosen.size();
      continue;
    }
    // Some fix breaks the syntax: apply them one at a time and drop the bad ones.
    size_t applied_here = 0;
    for (const Diagnostic* d : chosen) {
      std::string one = apply_edits(text, d->fix->edits);
      if (count_syntax_errors(parser.parse(one)) <= errors_before) {
        ++applied_here;
        ++outcome.applied;
        text = std::move(one);
        break; // offsets of the other fixes are stale now: recheck in the next round
      }
      rejected.insert(key(*d));
      ++outcome.rejected;
    }
    if (applied_here == 0 && rejected.empty()) break;
  }
  outcome.remaining = engine.check(text);
  outcome.text = std::move(text);
  return outcome;
}

} // namespace oomlint::checks
