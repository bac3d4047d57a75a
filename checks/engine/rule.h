// The rule API: what a rule declares and what the engine calls. A rule is a stateless object
// shared by all threads. It declares its metadata, the node kinds it is called for and its
// prefilter once, and checks one node at a time through a Context; it never walks the whole tree.
//
// A rule file (checks/rules/<slug>.cpp) holds one class; needs() is its prefilter:
//
//   class EmptyCacheInLoop final : public RuleBase<EmptyCacheInLoop> {
//   public:
//     static constexpr RuleMeta kMeta{.code = "OOM203", .slug = "empty-cache-in-loop", ...};
//     static constexpr NodeKind kKinds[] = {"call"};          // checked while compiling
//     static Prefilter needs() { return requires_all(code("empty_cache")); }
//     void check(Node call, Context& cx) const override { ... }
//   };
//   OOMLINT_REGISTER_RULE(EmptyCacheInLoop)                   // at file scope, after the class
//
// CONTRIBUTING.md walks through adding one; docs/contributing/prefilter.md explains prefilters.
#pragma once

#include <span>
#include <string_view>
#include <type_traits>

#include "diagnostic.h"
#include "engine/prefilter.h"
#include "ts.h"

namespace oomlint::checks {

using ts::Node;
using ts::NodeKind;

struct RuleMeta {
  std::string_view code;    // "OOM203"
  std::string_view slug;    // "empty-cache-in-loop"
  std::string_view section; // "M20" (or "M9/M10")
  Severity severity;
  FixAvailability fix;      // must match the doc page's **Fix:** line and what the fixtures show
  std::string_view summary; // one line, for tables and `oomlint rule --all`
};

class Context;

// Per-file scratch space of one rule (for rules that decide at the end of the file).
struct RuleState {
  virtual ~RuleState() = default;
};

// What the engine sees of a rule. Rules derive from RuleBase, which implements the declarations.
class Rule {
public:
  virtual ~Rule() = default;
  virtual const RuleMeta& meta() const = 0;
  // Grammar node kinds this rule is called for. "module" is the whole file.
  virtual std::span<const NodeKind> node_kinds() const = 0;
  // What a file must contain for the rule to be able to report in it (engine/prefilter.h).
  virtual const Prefilter& prefilter() const = 0;
  virtual void check(Node node, Context& cx) const = 0;
  // Called once after the traversal; for rules that need the whole file.
  virtual void finish(Context&) const {}
};

template <class Derived> class RuleBase : public Rule {
public:
  const RuleMeta& meta() const final { return Derived::kMeta; }
  std::span<const NodeKind> node_kinds() const final { return Derived::kKinds; }
  // Built once, on first use (the registry asks at start-up, so a malformed one fails there).
  const Prefilter& prefilter() const final {
    static const Prefilter built = Derived::needs();
    return built;
  }
};

} // namespace oomlint::checks

// Registers a rule type (a class of namespace oomlint::checks, anonymous or not): put it at file
// scope at the end of the rule's .cpp. The build scans
// checks/rules/*.cpp for it and generates the registry, so adding a rule needs no other edit; a
// rule file without it, or with it inside a namespace, fails the build with a message.
#define OOMLINT_REGISTER_RULE(Type)                                                                \
  struct OOMLINT_REGISTER_RULE_must_stand_at_file_scope_outside_any_namespace_##Type;              \
  static_assert(                                                                                   \
      std::is_same_v<                                                                              \
          OOMLINT_REGISTER_RULE_must_stand_at_file_scope_outside_any_namespace_##Type,             \
          ::OOMLINT_REGISTER_RULE_must_stand_at_file_scope_outside_any_namespace_##Type>,          \
      "OOMLINT_REGISTER_RULE must stand at file scope, outside any namespace");                    \
  const ::oomlint::checks::Rule& oomlint_rule_##Type() {                                           \
    static const ::oomlint::checks::Type instance;                                                 \
    return instance;                                                                               \
  }
