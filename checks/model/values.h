// The values the deep analysis passes around: literal constants, what a name refers to, and what
// a function does (its summary). Module summaries (model/project.h) are made of these, so they
// are plain data that can be written to the results cache and read back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oomlint::checks {

// A literal value known before the program runs.
struct Const {
  enum class Kind : uint8_t { None, Bool, Int, Float, Str };
  Kind kind = Kind::None;
  bool b = false;
  long long i = 0;
  double f = 0;
  std::string s;

  static Const none() { return Const{}; }
  static Const boolean(bool v) {
    Const c;
    c.kind = Kind::Bool;
    c.b = v;
    return c;
  }
  static Const integer(long long v) {
    Const c;
    c.kind = Kind::Int;
    c.i = v;
    return c;
  }
  static Const real(double v) {
    Const c;
    c.kind = Kind::Float;
    c.f = v;
    return c;
  }
  static Const string(std::string v) {
    Const c;
    c.kind = Kind::Str;
    c.s = std::move(v);
    return c;
  }
  // Python's truth value.
  bool truthy() const {
    switch (kind) {
    case Kind::None:
      return false;
    case Kind::Bool:
      return b;
    case Kind::Int:
      return i != 0;
    case Kind::Float:
      return f != 0;
    case Kind::Str:
      return !s.empty();
    }
    return false;
  }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  double number() const { return kind == Kind::Float ? f : kind == Kind::Int ? double(i) : b; }
  bool operator==(const Const& o) const {
    if (is_number() && o.is_number()) return number() == o.number();
    if (kind != o.kind) return false;
    return kind == Kind::None || (kind == Kind::Str && s == o.s);
  }
  std::string repr() const;
};

// What a function does, as its callers need to know it. Flags are facts that hold on some path
// through its body that is not dead code (conditions that are constants count), through the
// functions it calls.
struct FunctionFacts {
  enum Flag : uint32_t {
    FreesCache = 1u << 0, // empties the cache (torch.cuda.empty_cache() or a wrapper) on every call
    NoGrad = 1u << 1,     // its whole body runs without autograd
    NoGradDecorator = 1u << 2,     // used as a decorator, it makes the function it wraps no_grad
    RunsForward = 1u << 3,         // calls a model (a forward pass)
    StartsMemoryHistory = 1u << 4, // torch.cuda.memory._record_memory_history(...) on
    StopsMemoryHistory = 1u << 5,  // ... and off (enabled=None / False)
    SetsEvalMode = 1u << 6,        // calls <model>.eval()
    ReturnsLoss = 1u << 7,         // returns a loss tensor that still holds its graph
    ReturnsOutput = 1u << 8,       // returns a model's output that still holds its graph
    ReturnsDetached = 1u << 9,     // every return is off the graph (a float, .item(), .detach())
    Trains = 1u << 10,             // calls backward() or steps an optimizer
    ReturnsParser = 1u << 11,      // returns argparse's parse_args() (its namespace)
    // Keeps one of its parameters, as it is, in a container that outlives the call: another
    // parameter (`totals.append(loss)`, `stats["loss"] += loss`) or an attribute of self
    // (`self.losses.append(loss)`). accum_value / accum_into say which (call-site positions).
    Accumulates = 1u << 12,
  };
  uint32_t flags = 0;
  // ReturnsLoss / ReturnsOutput from a tuple: the element that holds it (-1: the value itself).
  int8_t loss_index = -1;
  int8_t output_index = -1;
  // Accumulates: the positional argument kept, and the one it is kept in (-1: self's state).
  int8_t accum_value = -1;
  int8_t accum_into = -1;
  // Every reachable return gives this literal.
  std::optional<Const> returns_const;
  // Every return gives an instance of this library class ("transformers.AutoModelForCausalLM").
  std::string returns_class;
  // Callees that may be functions of other modules of the project, as the module names them
  // ("..utils.clear_memory", "pkg.helpers.validate"): their flags (but NoGrad, NoGradDecorator
  // and the Returns* ones) are the function's too. A module's summary is built from its own text
  // alone; its importers resolve these, so summaries never wait on each other.
  std::vector<std::string> calls;
  bool has(Flag f) const { return (flags & f) != 0; }
  // The flags a caller inherits from a function it calls.
  static constexpr uint32_t kInherited =
      FreesCache | RunsForward | StartsMemoryHistory | StopsMemoryHistory | SetsEvalMode | Trains;
  // What a caller inherits from this function: a function that runs without autograd runs its
  // forward passes without a graph.
  uint32_t inherited() const {
    uint32_t f = flags & kInherited;
    if (has(NoGrad)) f &= ~RunsForward;
    return f;
  }
};

} // namespace oomlint::checks
