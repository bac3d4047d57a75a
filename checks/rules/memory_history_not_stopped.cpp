// OOM191 memory-history-not-stopped (M19): torch.cuda.memory._record_memory_history(...) started
// and never stopped with `_record_memory_history(enabled=None)` in the same file.
#include <array>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

struct State : RuleState {
  std::vector<std::pair<uint32_t, uint32_t>> starts;
  bool stopped = false;
};

enum class Kind { Start, Stop, Unknown };

// `enabled` is the first parameter. None (PyTorch 2.1+) and False (2.0) stop the recording; no
// argument, "all", "state" or True start it; anything computed is unknown.
Kind classify(const Context& cx, Node call) {
  const Semantics& m = cx.sema();
  Node enabled = m.keyword(call, "enabled");
  if (enabled.null()) {
    Node first = Semantics::positional(call, 0);
    Node args = Semantics::arguments(call);
    if (!first.null()) {
      enabled = first;
    } else {
      // `**kwargs` or `*args` may carry enabled=None.
      for (uint32_t i = 0, n = args.named_child_count(); i < n; ++i) {
        Node a = args.named_child(i);
        if (a.is("list_splat") || a.is("dictionary_splat")) return Kind::Unknown;
      }
      return Kind::Start;
    }
  }
  auto v = cx.analysis().constant(enabled);
  if (!v) return Kind::Unknown;
  if (v->kind == Const::Kind::None || (v->kind == Const::Kind::Bool && !v->b)) return Kind::Stop;
  if (v->kind == Const::Kind::Bool && v->b) return Kind::Start;
  if (v->kind == Const::Kind::Str && (v->s == "all" || v->s == "state")) return Kind::Start;
  return Kind::Unknown;
}

class MemoryHistoryNotStopped final : public RuleBase<MemoryHistoryNotStopped> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM191",
      .slug = "memory-history-not-stopped",
      .section = "M19",
      .severity = Severity::Info,
      .fix = FixAvailability::None,
      .summary = "CUDA memory history recording started and never stopped",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  // The call itself, or a helper of another module of the project that starts the recording.
  static Prefilter needs() {
    return requires_all(anywhere("_record_memory_history") |
                        imported_fact(FunctionFacts::StartsMemoryHistory));
  }

  void check(Node call, Context& cx) const override {
    auto& st = cx.state<State>();
    // Code the file's settings never run (`if ENABLE_PROFILING:` with the constant off) starts
    // and stops nothing.
    bool direct = cx.sema().is_call_to(
        call, {"torch.cuda.memory._record_memory_history", "torch.cuda._record_memory_history"});
    if (!direct) {
      // A helper of another module of the project that starts or stops it. (The file's own
      // helpers are judged where their call of _record_memory_history is.)
      if (cx.analysis().callee(call).kind != Ref::Kind::ProjectFunction) return;
      auto f = cx.analysis().call_facts(call);
      if (!f || cx.analysis().is_dead(call)) return;
      if (f->has(FunctionFacts::StopsMemoryHistory)) st.stopped = true;
      if (f->has(FunctionFacts::StartsMemoryHistory) &&
          !f->has(FunctionFacts::StopsMemoryHistory)) {
        st.starts.emplace_back(call.start(), call.end());
      }
      return;
    }
    if (cx.analysis().is_dead(call)) return;
    switch (classify(cx, call)) {
    case Kind::Start:
      st.starts.emplace_back(call.start(), call.end());
      break;
    case Kind::Stop:
      st.stopped = true;
      break;
    case Kind::Unknown:
      st.stopped = true;
      break; // might be the stop: stay silent
    }
  }

  void finish(Context& cx) const override {
    auto& st = cx.state<State>();
    if (st.stopped) return;
    // An out-of-memory observer dumps the history when an OOM happens: keeping it on is the
    // point.
    if (cx.source().find("out_of_memory_observer") != std::string_view::npos) return;
    for (auto [start, end] : st.starts) {
      cx.report(start, end,
                "memory history recording is started but never stopped in this file: every "
                "allocation keeps a stack trace in host memory and slows the run; dump the "
                "snapshot and call `_record_memory_history(enabled=None)` once the steps of "
                "interest are recorded (M19)");
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(MemoryHistoryNotStopped)
