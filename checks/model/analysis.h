// The deep analysis of one file: what names and expressions refer to (through imports, aliases,
// the file's own definitions and the project's modules), literal values (module constants,
// parameter defaults, argparse defaults, dataclass fields, attributes set on `self`), code that
// never runs (`if CONSTANT:`), the classes of objects, and what each function does (its summary),
// composed across calls inside the file and across the project's modules.
//
// Built lazily (the first question builds the file's Flow) and answered on demand with memos.
// Every answer errs towards "unknown": a rule that needs a fact stays silent when the analysis
// cannot establish it.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/flow.h"
#include "model/project.h"
#include "model/values.h"

namespace oomlint::checks {

class Semantics;

// The file being checked, as the front end knows it.
struct FileContext {
  std::filesystem::path path; // absolute; empty for standard input or an unsaved buffer
  const ProjectIndex* project = nullptr;
};

// What an expression refers to.
struct Ref {
  enum class Kind : uint8_t {
    None,
    Library,         // name: a library's qualified name ("torch.cuda.empty_cache")
    Function,        // node: a function_definition of this file
    Class,           // node: a class_definition of this file
    ProjectModule,   // module: a module of the project
    ProjectFunction, // file + module + name: a function ("f") or a method ("K.f") of a module
    ProjectClass,    // module + name
    ProjectConstant, // module + name
  };
  Kind kind = Kind::None;
  std::string name;
  Node node;
  std::filesystem::path file; // Project*: the module's file
  std::shared_ptr<const ModuleSummary> module;
  explicit operator bool() const { return kind != Kind::None; }
  bool is_library(std::string_view qualified) const {
    return kind == Kind::Library && name == qualified;
  }
};

class Analysis {
public:
  Analysis(std::string_view source, Node root, const Semantics& sema, FileContext file);
  ~Analysis();

  const Flow& flow() const { return flow_; }
  std::string_view text(Node n) const { return n.text(source_); }
  const FileContext& file() const { return file_; }

  // The literal value of an expression, when the code fixes it: literals and operations on them,
  // names bound to one on every path (module constants, parameters whose default no call in the
  // file overrides), `args.<option>` of an argparse parser (its default, as `action` and
  // `default` set it), fields of dataclasses and config classes, `self.<attr>` when every
  // assignment in the class agrees, constants imported from the project, and
  // `torch.cuda.is_available()` (true: the rules judge GPU runs).
  std::optional<Const> constant(Node e) const;
  // Is `n` in code that never runs: a branch of an `if`, `elif`, `else` or conditional expression
  // whose condition is a constant that rules it out (`if False:`, `if DEBUG:` with DEBUG = False,
  // `if args.fp16:` with an option that defaults to off).
  bool is_dead(Node n) const;

  // What an identifier, attribute chain or call's callee refers to.
  Ref resolve(Node e) const;
  Ref callee(Node call) const;
  // The class of the object an expression evaluates to (an instance of it), or None.
  Ref class_of(Node e) const;
  // Is the class (local, project or library) a torch.nn.Module, LightningModule or
  // PreTrainedModel, directly or through its bases?
  bool is_nn_module(const Ref& cls) const;

  // What a function of this file does (own effects and those of the functions it calls).
  FunctionFacts facts(Node function_def) const;
  // What a call runs: a function of this file, a method of a class of this file or of the
  // project, a project function, or a known library wrapper (model/wrappers.h). Nullopt when
  // the callee is unknown.
  std::optional<FunctionFacts> call_facts(Node call) const;
  // The function_definition a call runs, when it is this file's.
  Node local_target(Node call) const;

  // Calls of this file that run `function_def` (by name, as a function, or as a method of its
  // class through `self`).
  std::vector<Node> callers(Node function_def) const;
  // Does the file hold every call of the function: a nested function, a private one (`_name`),
  // or a module-level function of a script (a file run as `__main__`)? A public function of an
  // importable module, or a method, may be called from other modules too.
  bool callers_complete(Node function_def) const;

  // What is known of a tensor-valued expression (flags below): a loss, a model's output, whether
  // it still holds its autograd graph, whether it was moved to the CPU. Names are followed through
  // every binding that reaches them (the flags all of them agree on), calls through the called
  // function's summary, views and arithmetic keep the flags, `.item()` / `.tolist()` / `float()`
  // end them, `.detach()` / `.data` drop the graph, `.cpu()` moves it.
  enum TensorFlag : uint8_t { kLoss = 1, kOutput = 2, kGraph = 4, kCpu = 8 };
  uint8_t tensor(Node e) const;
  // Is the call a forward pass of a model: a callee whose class is a torch.nn.Module (or
  // Lightning / Hugging Face model), `self(...)` or `self.forward(...)` in one, or a callee named
  // like one (`model`, `net`, `*_model`, `netG`), not `.generate(...)`.
  bool is_model_call(Node call) const;
  // Is the expression a model (its class, or its name when the class is unknown)?
  bool is_model_object(Node e) const;
  // Does `n` run without autograd: inside `with torch.no_grad()` / `inference_mode()` /
  // `set_grad_enabled(False)`, in a function decorated with one (or with a project decorator that
  // wraps one), in a function whose body turns autograd off, or in a function that the file calls
  // only from such places?
  bool no_grad_at(Node n) const;
  // Is `n` inside a `with torch.no_grad()` (inference_mode, set_grad_enabled(False)) below
  // `stop`?
  // Is `n` run only on some calls of `stop`: under an `if` / `while` / `else` (or a conditional
  // expression) between them whose test is not a device test (`torch.cuda.is_available()`)?
  bool periodic_within(Node n, Node stop) const;
  int parameter_position(Node fn, Node id) const;
  void note_accumulation(Node fn, Node container, Node value, FunctionFacts& out) const;
  bool no_grad_within(Node n, Node stop) const;

  // The summary of this file as other modules see it.
  ModuleSummary summarize() const;

private:
  Ref resolve_fresh(Node e) const;
  // argparse options declared in this file: destination -> default (nullopt when declared twice
  // with different defaults, or with one the analysis cannot read).
  std::unordered_map<std::string, std::optional<Const>> option_table() const;
  // kGraph when what `obj` holds may carry a graph (the object of `.loss`, `.logits`).
  uint8_t graph_of(Node obj) const;
  // The tensor flags every element of the container a `for` iterates has.
  uint8_t element_tensor(const Binding& b) const;
  // Is the expression used like an nn.Module in the file (`.eval()`, `.parameters()` on it)?
  bool used_as_model(Node e) const;
  // The value a parameter has on every call of the file (see constant()).
  std::optional<Const> parameter_value(const Binding& b) const;
  // What one binding of a name refers to.
  Ref ref_of_binding(const Binding& b) const;
  // A dotted path as a module records it (leading dots for a relative import), seen from the
  // module's file: a project module or a name in one (following re-exports), else a library's.
  Ref resolve_spec(std::string_view spec, const std::filesystem::path& from, int hops) const;
  Ref resolve_spec_fresh(std::string_view spec, const std::filesystem::path& from, int hops) const;
  Ref member_of(const std::filesystem::path& file,
                const std::shared_ptr<const ModuleSummary>& module, const std::string& member,
                int hops) const;
  // The inherited flags of the functions these callee paths (of the module at `file`) reach.
  uint32_t inherited_flags(const std::filesystem::path& file,
                           const std::vector<std::string>& calls) const;
  const FunctionFacts* project_function(const Ref& r) const;
  // Whether `p` never runs its child `child` (the one step of is_dead()).
  bool dead_under(Node child, Node p) const;
  struct Impl;
  std::string_view source_;
  const Semantics& sema_;
  FileContext file_;
  Flow flow_;
  std::unique_ptr<Impl> impl_;
  mutable std::unordered_map<const void*, bool> dead_; // memo of is_dead, per node
};

} // namespace oomlint::checks
