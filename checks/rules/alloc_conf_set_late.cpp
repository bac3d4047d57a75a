// OOM081 alloc-conf-set-late (M8): PYTORCH_CUDA_ALLOC_CONF / PYTORCH_ALLOC_CONF set from Python
// after CUDA is already in use (error) or after `import torch` (warning).
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

struct Site {
  Node node;
  uint32_t scope; // start byte of the enclosing function, 0 at module level
};

struct State : RuleState {
  Node torch_import; // first module-level `import torch` / `from torch ...`
  Node os_import;    // first module-level `import os` statement
  std::vector<Site> cuda_uses;
  std::vector<Site> sets;
  std::vector<Node> set_statements; // statement around each set (for the fix)
  std::vector<Node> set_values;
};

uint32_t scope_of(const Context& cx) {
  Node f = cx.enclosing_function();
  return f.null() ? 0 : f.start();
}

bool in_definition(const Context& cx) {
  for (Node a : cx.ancestors()) {
    if (a.is("function_definition") || a.is("class_definition")) return true;
  }
  return false;
}

bool is_cuda_string(const Semantics& m, Node n) {
  auto s = m.string_value(n);
  return s && (*s == "cuda" || s->starts_with("cuda:"));
}

// A call that initialises CUDA (and with it the caching allocator, which reads the setting).
bool initialises_cuda(const Semantics& m, Node call) {
  if (auto q = m.callee_name(call)) {
    if (q->starts_with("torch.cuda.")) {
      std::string_view fn = std::string_view(*q).substr(11);
      // Queries that do not create a CUDA context or touch the allocator.
      return !(fn == "is_available" || fn == "device_count" || fn == "is_initialized" ||
               fn == "get_arch_list" || fn.starts_with("amp.") || fn.starts_with("nvtx.") ||
               fn == "manual_seed" || fn == "manual_seed_all" || fn == "seed" || fn == "seed_all" ||
               fn == "memory._set_allocator_settings" ||
               fn.starts_with("memory._record_memory_history") ||
               fn == "set_per_process_memory_fraction" || fn == "is_bf16_supported" ||
               fn == "get_device_name" || fn == "get_device_capability" ||
               fn == "get_device_properties" || fn == "current_device" || fn == "set_device" ||
               fn == "device");
    }
    if (q->starts_with("torch.")) {
      // torch.zeros(..., device="cuda")
      return is_cuda_string(m, m.keyword(call, "device"));
    }
  }
  std::string_view tail = m.callee_tail(call);
  if (!Semantics::callee(call).is("attribute")) return false;
  if (tail == "cuda") return true; // model.cuda()
  if (tail == "to") {
    Node a = Semantics::positional(call, 0);
    if (is_cuda_string(m, a) || is_cuda_string(m, m.keyword(call, "device"))) return true;
    if (a.is("call") && m.is_call_to(a, {"torch.device"})) {
      return is_cuda_string(m, Semantics::positional(a, 0));
    }
  }
  return false;
}

bool imports_torch(const Semantics& m, Node stmt) {
  if (stmt.is("import_from_statement")) {
    std::string_view mod = m.text(stmt.field("module_name"));
    return mod == "torch" || mod.starts_with("torch.");
  }
  for (uint32_t i = 0, n = stmt.named_child_count(); i < n; ++i) {
    Node c = stmt.named_child(i);
    if (c.is("aliased_import")) c = c.field("name");
    std::string_view name = m.text(c);
    if (name == "torch" || name.starts_with("torch.")) return true;
  }
  return false;
}

bool imports_os(const Semantics& m, Node stmt) {
  if (!stmt.is("import_statement")) return false;
  for (uint32_t i = 0, n = stmt.named_child_count(); i < n; ++i) {
    Node c = stmt.named_child(i);
    if (c.is("dotted_name") && m.text(c) == "os") return true;
  }
  return false;
}

class AllocConfSetLate final : public RuleBase<AllocConfSetLate> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM081",
      .slug = "alloc-conf-set-late",
      .section = "M8",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "allocator configuration set after `import torch` or after CUDA is in use",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment", "import_statement",
                                        "import_from_statement"};
  static Prefilter needs() { return requires_all(anywhere("ALLOC_CONF")); }

  void check(Node node, Context& cx) const override {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    if (node.is("import_statement") || node.is("import_from_statement")) {
      if (in_definition(cx)) return;
      if (st.torch_import.null() && imports_torch(m, node)) st.torch_import = node;
      if (st.os_import.null() && imports_os(m, node)) st.os_import = node;
      return;
    }
    facts::AllocConfSet set = facts::alloc_conf_set(m, node);
    if (!set.site.null()) {
      st.sets.push_back({node, scope_of(cx)});
      st.set_statements.push_back(cx.parent());
      st.set_values.push_back(set.value);
      return;
    }
    if (node.is("call") && initialises_cuda(m, node)) {
      st.cuda_uses.push_back({node, in_definition(cx) ? scope_of(cx) : 0});
      // A call inside a class body or a nested def counts only for its own function.
      if (in_definition(cx) && scope_of(cx) == 0) st.cuda_uses.back().scope = UINT32_MAX;
    }
  }

  void finish(Context& cx) const override {
    auto& st = cx.state<State>();
    const Semantics& m = cx.sema();
    for (size_t i = 0; i < st.sets.size(); ++i) {
      Site set = st.sets[i];
      Node cuda;
      for (const Site& use : st.cuda_uses) {
        if (use.node.start() >= set.node.start()) continue;
        if (use.scope == set.scope || use.scope == 0) {
          cuda = use.node;
          break;
        }
      }
      bool after_import =
          !st.torch_import.null() && (set.scope != 0 || st.torch_import.start() < set.node.start());
      if (cuda.null() && !after_import) continue;
      auto value = m.string_value(st.set_values[i]);
      bool backend = value && value->find("backend") != std::string_view::npos;
      if (!cuda.null()) {
        auto err = cx.report(
            set.node, "the allocator setting is made after CUDA is already in use (line " +
                          std::to_string(line_of(cx.source(), cuda.start())) +
                          "): the caching allocator has read its configuration and ignores it; set "
                          "it in the launch environment or before `import torch` (M8)");
        err.severity(Severity::Error);
        continue;
      }
      auto d = cx.report(
          set.node, backend
                        ? std::string("the allocator backend is chosen when torch loads: setting "
                                      "`backend:` after `import torch` makes the first CUDA "
                                      "allocation fail; set it before `import torch` (M8)")
                        : std::string("the allocator setting comes after `import torch`: it only "
                                      "works if nothing has touched CUDA yet, which any import "
                                      "or helper may break; set it before `import torch` or in "
                                      "the launch environment (M8)"));
      if (backend) d.severity(Severity::Error);
      if (auto edits = move_above_imports(cx, st, i)) {
        d.fix("Move the setting above `import torch`", Applicability::Safe, std::move(*edits));
      }
    }
  }

private:
  static uint32_t line_of(std::string_view src, uint32_t offset) {
    // memchr from line break to line break: a byte-by-byte count cost 120M instructions over
    // the synthetic corpus, whose scripts set the allocator late many times.
    uint32_t line = 1;
    const char* p = src.data();
    const char* end = p + std::min<size_t>(offset, src.size());
    while (p < end && (p = static_cast<const char*>(std::memchr(p, '\n', end - p))) != nullptr) {
      ++line;
      ++p;
    }
    return line;
  }

  // Moves a module-level `os.environ[...] = "literal"` statement to just after `import os`,
  // when `import os` comes before the first torch import.
  static std::optional<std::vector<Edit>> move_above_imports(const Context& cx, const State& st,
                                                             size_t i) {
    const Semantics& m = cx.sema();
    Node stmt = st.set_statements[i];
    if (st.sets[i].scope != 0 || st.os_import.null() || st.torch_import.null()) return std::nullopt;
    if (st.os_import.start() >= st.torch_import.start()) return std::nullopt;
    if (!stmt.is("expression_statement") || stmt.named_child_count() != 1) return std::nullopt;
    Node block = stmt.parent();
    Node os_parent = st.os_import.parent();
    if (!block.is("module") || !os_parent.is("module")) return std::nullopt;
    if (!m.string_value(st.set_values[i])) return std::nullopt;
    std::string_view src = cx.source();
    auto del = delete_statement(src, stmt);
    if (!del || del->size() != 1 || !del->front().text.empty()) return std::nullopt;
    // The moved text: the statement and the rest of its line (a trailing comment).
    size_t eol = src.find_first_of("\r\n", stmt.end());
    if (eol == std::string_view::npos) eol = src.size();
    std::string moved(src.substr(stmt.start(), eol - stmt.start()));
    size_t os_eol = src.find_first_of("\r\n", st.os_import.end());
    if (os_eol == std::string_view::npos) return std::nullopt;
    std::string_view rest = src.substr(st.os_import.end(), os_eol - st.os_import.end());
    size_t r = rest.find_first_not_of(" \t");
    if (r != std::string_view::npos && rest[r] != '#') return std::nullopt; // `import os; x`
    std::vector<Edit> edits = *del;
    edits.push_back(
        Edit{static_cast<uint32_t>(os_eol), static_cast<uint32_t>(os_eol), "\n" + moved});
    return edits;
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(AllocConfSetLate)
