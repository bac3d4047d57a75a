#include "facts/optimizer.h"

#include <string>

#include "model/syntax.h"

namespace oomlint::checks::facts {

bool is_optimizer(const Context& cx, Node receiver) {
  std::string obj = cx.code_text(receiver, /*strings=*/true);
  return obj.find("opt") != std::string::npos || obj.find("scaler") != std::string::npos;
}

Clause optimizer_terms() {
  return code_or_string("opt") | code_or_string("scaler");
}

bool steps_optimizer(const Context& cx, Node root) {
  bool found = false;
  visit_subtree(root, [&](Node n) {
    if (found) return false;
    if (n.is("call") && cx.sema().callee_tail(n) == "step" &&
        is_optimizer(cx, Semantics::receiver(n))) {
      found = true;
    }
    return !found;
  });
  return found;
}

} // namespace oomlint::checks::facts
