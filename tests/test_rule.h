// A rule made in a test: its code, node kinds, prefilter and check given at run time, so that one
// test can build several rules that differ only there. (A product rule derives from RuleBase and
// declares all of this once.)
#pragma once

#include <functional>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/context.h"
#include "engine/rule.h"

namespace oomlint::test {

class TestRule final : public checks::Rule {
public:
  using Check = std::function<void(checks::Node, checks::Context&)>;
  TestRule(std::string_view code, std::initializer_list<checks::NodeKind> kinds,
           checks::Prefilter prefilter, Check check,
           checks::FixAvailability fix = checks::FixAvailability::None,
           checks::Severity severity = checks::Severity::Info)
      : meta_{code, "test-rule", "M20", severity, fix, "test"}, kinds_(kinds),
        prefilter_(std::move(prefilter)), check_(std::move(check)) {}
  const checks::RuleMeta& meta() const override { return meta_; }
  std::span<const checks::NodeKind> node_kinds() const override { return kinds_; }
  const checks::Prefilter& prefilter() const override { return prefilter_; }
  void check(checks::Node node, checks::Context& cx) const override { check_(node, cx); }

private:
  checks::RuleMeta meta_;
  std::vector<checks::NodeKind> kinds_;
  checks::Prefilter prefilter_;
  Check check_;
};

} // namespace oomlint::test
