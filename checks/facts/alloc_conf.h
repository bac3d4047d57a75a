// Where a script sets PyTorch's caching-allocator configuration (PYTORCH_CUDA_ALLOC_CONF or its
// newer name PYTORCH_ALLOC_CONF) from Python: `os.environ[KEY] = v`, `os.environ.setdefault(KEY,
// v)`, `os.putenv(KEY, v)`, `os.environ.update({KEY: v})` / `update(KEY=v)`. Shared by OOM081
// and OOM082.
#pragma once

#include <string_view>

#include "model/semantics.h"

namespace oomlint::checks::facts {

inline bool is_alloc_conf_var(std::string_view name) {
  return name == "PYTORCH_CUDA_ALLOC_CONF" || name == "PYTORCH_ALLOC_CONF" ||
         name == "PYTORCH_HIP_ALLOC_CONF";
}

struct AllocConfSet {
  Node site;  // the assignment or call that sets it
  Node value; // the value expression
};

// `node` is an assignment or a call. Returns a null site when it does not set an allocator
// variable of os.environ.
inline AllocConfSet alloc_conf_set(const Semantics& m, Node node) {
  if (node.is("assignment")) {
    Node left = node.field("left");
    if (!left.is("subscript")) return {};
    auto q = m.qualified_name(left.field("value"));
    auto key = m.string_value(left.field("subscript"));
    if (!q || *q != "os.environ" || !key || !is_alloc_conf_var(*key)) return {};
    return {node, node.field("right")};
  }
  if (!node.is("call")) return {};
  auto q = m.callee_name(node);
  if (!q) return {};
  if (*q == "os.environ.setdefault" || *q == "os.putenv") {
    auto key = m.string_value(Semantics::positional(node, 0));
    if (!key || !is_alloc_conf_var(*key)) return {};
    return {node, Semantics::positional(node, 1)};
  }
  if (*q == "os.environ.update") {
    Node arg = Semantics::positional(node, 0);
    if (arg.is("dictionary")) {
      for (uint32_t i = 0, n = arg.named_child_count(); i < n; ++i) {
        Node pair = arg.named_child(i);
        auto key = m.string_value(pair.field("key"));
        if (pair.is("pair") && key && is_alloc_conf_var(*key)) return {node, pair.field("value")};
      }
    }
    for (std::string_view var : {"PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF"}) {
      Node v = m.keyword(node, var);
      if (!v.null()) return {node, v};
    }
  }
  return {};
}

} // namespace oomlint::checks::facts
