// Helpers for the tests of the deep analysis (checks/model): a Python text parsed and analysed
// as the engine does it (parser, Semantics with its module prescan, Analysis), nodes found by
// their text, and readable descriptions of what the model answers.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "model/analysis.h"
#include "model/flow.h"
#include "model/semantics.h"
#include "ts.h"

namespace oomlint::test {

class Analysed {
public:
  explicit Analysed(std::string text, checks::FileContext file = {}) : text_(std::move(text)) {
    ts::Parser parser;
    tree_ = parser.parse(text_);
    if (!tree_) throw std::runtime_error("the test's Python text did not parse");
    sema_ = std::make_unique<checks::Semantics>(text_);
    sema_->prescan_module(tree_.root());
    analysis_ = std::make_unique<checks::Analysis>(text_, tree_.root(), *sema_, std::move(file));
  }
  Analysed(const Analysed&) = delete;
  Analysed& operator=(const Analysed&) = delete;

  const checks::Analysis& analysis() const { return *analysis_; }
  const checks::Flow& flow() const { return analysis_->flow(); }
  ts::Node root() const { return tree_.root(); }
  const std::string& text() const { return text_; }
  std::string_view text(ts::Node n) const { return n.text(text_); }

  // The innermost named node that spans exactly the `occurrence`-th (from 0) match of `needle`
  // in the text. Throws when the text has no such match or no node spans it.
  ts::Node at(std::string_view needle, int occurrence = 0) const {
    return node_spanning(find(needle, occurrence, 0), needle.size(), needle);
  }
  // The first match of `needle` at or after the `occurrence`-th match of `anchor`: a name
  // inside a given statement (`in("print(x)", "x")`).
  ts::Node in(std::string_view anchor, std::string_view needle, int occurrence = 0) const {
    size_t from = find(anchor, occurrence, 0);
    size_t pos = find(needle, 0, from);
    if (pos + needle.size() > from + anchor.size()) {
      throw std::runtime_error("`" + std::string(needle) + "` is not inside `" +
                               std::string(anchor) + "`");
    }
    return node_spanning(pos, needle.size(), needle);
  }

  // The first match of `needle` after the `occurrence`-th match of `anchor`: a call inside a
  // given function (`after("def train", "model(x)")`).
  ts::Node after(std::string_view anchor, std::string_view needle, int occurrence = 0) const {
    size_t from = find(anchor, occurrence, 0);
    return node_spanning(find(needle, 0, from + anchor.size()), needle.size(), needle);
  }

  // The 1-based line of a node.
  int line(ts::Node n) const {
    int l = 1;
    for (uint32_t i = 0; i < n.start() && i < text_.size(); ++i)
      l += text_[i] == '\n';
    return l;
  }

  // Bindings of `name` reaching the use, as "LINE:kind" (the line of the bound name), in order.
  std::string reaching(ts::Node use) const { return describe(flow().reaching(text(use), use)); }
  std::string reaching(std::string_view anchor, std::string_view name, int occurrence = 0) const {
    return reaching(in(anchor, name, occurrence));
  }
  std::string describe(const std::vector<const checks::Binding*>& bindings) const {
    std::string out;
    for (const checks::Binding* b : bindings) {
      if (!out.empty()) out += " ";
      out += std::to_string(line(b->target)) + ":" + kind_name(b->kind);
    }
    return out;
  }

  // What constant() says of an expression: its repr (True, 3, 'x', None), or "unknown".
  std::string value(ts::Node e) const {
    auto c = analysis_->constant(e);
    return c ? c->repr() : "unknown";
  }
  std::string value(std::string_view needle, int occurrence = 0) const {
    return value(at(needle, occurrence));
  }

  static const char* kind_name(checks::Binding::Kind k) {
    using K = checks::Binding::Kind;
    switch (k) {
    case K::Assign:
      return "assign";
    case K::AugAssign:
      return "augassign";
    case K::For:
      return "for";
    case K::With:
      return "with";
    case K::Except:
      return "except";
    case K::Walrus:
      return "walrus";
    case K::Import:
      return "import";
    case K::Def:
      return "def";
    case K::Class:
      return "class";
    case K::Param:
      return "param";
    case K::Deleted:
      return "del";
    }
    return "?";
  }

private:
  std::string text_;
  ts::Tree tree_;
  std::unique_ptr<checks::Semantics> sema_;
  std::unique_ptr<checks::Analysis> analysis_;

  static bool ident(char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }
  // The next match of `needle` at or after `from` that does not cut an identifier in two (`i`
  // is not found inside `print`).
  size_t next(std::string_view needle, size_t from) const {
    for (size_t pos = text_.find(needle, from); pos != std::string::npos;
         pos = text_.find(needle, pos + 1)) {
      bool cuts_before = pos > 0 && ident(text_[pos - 1]) && ident(needle.front());
      size_t end = pos + needle.size();
      bool cuts_after = end < text_.size() && ident(text_[end]) && ident(needle.back());
      if (!cuts_before && !cuts_after) return pos;
    }
    return std::string::npos;
  }
  size_t find(std::string_view needle, int occurrence, size_t from) const {
    size_t pos = next(needle, from);
    for (int i = 0; i < occurrence && pos != std::string::npos; ++i)
      pos = next(needle, pos + 1);
    if (pos == std::string::npos) {
      throw std::runtime_error("the test's text has no match " + std::to_string(occurrence) +
                               " of `" + std::string(needle) + "`");
    }
    return pos;
  }

  ts::Node node_spanning(size_t pos, size_t len, std::string_view needle) const {
    // Preorder: a descendant comes after its ancestors, so the last exact match is innermost.
    ts::Node best;
    std::vector<ts::Node> stack{tree_.root()};
    while (!stack.empty()) {
      ts::Node n = stack.back();
      stack.pop_back();
      if (n.start() > pos || n.end() < pos + len) continue;
      if (n.named() && n.start() == pos && n.end() == pos + len) best = n;
      for (ts::Node c = n.first_child(); !c.null(); c = c.next_sibling())
        stack.push_back(c);
    }
    if (best.null()) {
      throw std::runtime_error("no syntax node spans exactly `" + std::string(needle) + "`");
    }
    return best;
  }
};

} // namespace oomlint::test
