#include "engine/fixes.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace oomlint::checks {

namespace {

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

FixOutcome apply_fixes(const Engine& engine, std::string text, bool unsafe,
                       const FileContext* file) {
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
    auto diags = engine.check(text, tree, nullptr, false, file);
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
  outcome.remaining = engine.check(text, false, file);
  outcome.text = std::move(text);
  return outcome;
}

} // namespace oomlint::checks
