// Small walks over the syntax tree that the facts and rules share. They stay inside one scope:
// nested function, class and lambda bodies are not entered.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

#include "ts.h"

namespace oomlint::checks {

using ts::Node;

// Visits `root` and its named descendants in preorder, calling fn(node); fn returns false to
// skip a node's children. Function, class and lambda definitions below `root` are not entered.
template <class Fn> void visit_subtree(Node root, Fn&& fn) {
  std::vector<Node> stack{root};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if (!(n == root) &&
        (n.is("function_definition") || n.is("class_definition") || n.is("lambda"))) {
      continue;
    }
    if (!fn(n)) continue;
    size_t mark = stack.size();
    n.append_named_children(stack);
    std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(mark), stack.end());
  }
}

// The latest assignment in `scope` (not in nested functions) that binds `name` and starts before
// `before`; null if none. `element` is set when the name is one of several targets.
inline Node last_binding(std::string_view source, Node scope, std::string_view name,
                         uint32_t before, bool* element) {
  Node best;
  visit_subtree(scope, [&](Node n) {
    if (n.start() >= before) return false;
    if (n.is("assignment")) {
      Node left = n.field("left");
      if (left.is("identifier") && left.text(source) == name) {
        best = n;
        *element = false;
      } else if (left.is("pattern_list") || left.is("tuple_pattern")) {
        for (uint32_t i = 0, c = left.named_child_count(); i < c; ++i) {
          Node t = left.named_child(i);
          if (t.is("identifier") && t.text(source) == name) {
            best = n;
            *element = true;
          }
        }
      }
    }
    return true;
  });
  return best;
}

} // namespace oomlint::checks
