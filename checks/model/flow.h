// Flow inside a file: its scopes (the module, functions, lambdas, classes, comprehensions), every
// binding of a name in them (assignments with tuple unpacking, augmented assignments, `for` and
// `with ... as` targets, `except ... as`, `:=`, imports, definitions, parameters), the attributes
// that methods set on `self`, and which bindings of a name may reach a use (the last binding
// before it on each path through the code, branches merged, loops carrying their bindings into
// the next iteration).
//
// Built in one walk over the tree the first time a rule asks; answers are exact for straight-line
// code and err towards "more bindings" where control flow joins, so a question that needs every
// reaching binding to agree stays silent when it cannot be sure.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ts.h"

namespace oomlint::checks {

using ts::Node;

struct Binding {
  enum class Kind : uint8_t {
    Assign,    // x = value (value: the right side; path: the place in a tuple unpacking)
    AugAssign, // x += value
    For,       // for x in value (value: the iterable)
    With,      // with value as x
    Except,    // except E as x
    Walrus,    // (x := value)
    Import,    // import a.b as x / from a import b as x (site: the statement, target: the name)
    Def,       // def x (site: the function_definition)
    Class,     // class x (site: the class_definition)
    Param,     // a parameter (value: its default, or null)
    Deleted,   // del x
  };
  Kind kind;
  int32_t scope;
  Node site;   // the statement or clause that binds
  Node target; // the identifier that is bound
  Node value;  // what is bound (see Kind), or null
  // For unpacking: the place of the target in the value, outermost first (`a, (b, c) = v`
  // binds c at {1, 1}). Empty for a plain target.
  uint8_t depth = 0;
  uint8_t path[6] = {};
  uint32_t at = 0;      // the byte where the binding takes effect (the end of an assignment)
  bool starred = false; // `a, *rest = v`
};

// `self.<attr> = value` (or `self.<attr> += value`) in a method of a class.
struct AttributeBinding {
  Node class_def;
  Node method;
  Node site;  // the assignment
  Node value; // its right side
  bool augmented = false;
};

class Flow {
public:
  Flow(std::string_view source, Node root);

  struct Scope {
    enum class Kind : uint8_t { Module, Function, Lambda, Class, Comprehension };
    Kind kind;
    Node node;
    int32_t parent;
    std::vector<std::string_view> globals; // names declared `global` or `nonlocal` here
  };

  std::string_view source() const { return source_; }
  Node root() const { return root_; }
  const Scope& scope(int32_t i) const { return scopes_[static_cast<size_t>(i)]; }
  // The innermost scope that `n` is evaluated in. A function's name, decorators, defaults and
  // annotations are in the scope around it; its parameters and body in its own.
  int32_t scope_of(Node n) const;
  // The scope a scope-opening node (function_definition, lambda, class_definition, comprehension,
  // module) opens, or -1.
  int32_t scope_opened_by(Node n) const;
  // The function_definition (or lambda) whose body `n` runs in, or null at module level or in a
  // class body.
  Node function_of(Node n) const;

  // Bindings of `name` that may reach `use` (a node in the tree, usually the identifier), in
  // source order. Empty when nothing in the file binds the name there (a builtin, or a name the
  // file never defines). Inside a function, a name the function does not bind is looked up in
  // the enclosing functions and then the module, as it stands at the end of the module (a
  // function runs after the module has been executed, in the common case).
  std::vector<const Binding*> reaching(std::string_view name, Node use) const;
  // Every binding of the file, in the order they take effect.
  const std::vector<Binding>& all_bindings() const { return bindings_; }
  // Every binding of `name` in scope `scope`, in source order.
  std::span<const Binding* const> bindings(int32_t scope, std::string_view name) const;
  // Bindings of `name` that reach the end of scope `scope` (for the module: what other modules
  // import, and what functions see when they run).
  std::vector<const Binding*> at_end(int32_t scope, std::string_view name) const;

  // The attributes that methods of `class_def` set on `self`, for `attr`.
  std::span<const AttributeBinding> attribute_bindings(Node class_def, std::string_view attr) const;
  // The class_definition a method belongs to (the function is a statement of its body), or null.
  Node class_of_method(Node function_def) const;
  // Function and class definitions at module level and methods, by name ("f", "K", "K.m").
  Node definition(std::string_view qualified) const;
  // Every function_definition in the file, in source order.
  const std::vector<Node>& functions() const { return functions_; }
  const std::vector<Node>& classes() const { return classes_; }
  // Calls in the file whose callee is the bare name or the attribute `name` (`f(...)`,
  // `self.f(...)`, `x.f(...)`).
  std::span<const Node> calls_named(std::string_view name) const;
  // Assignments anywhere in the file whose target is an attribute named `attr`, on any object
  // (`self.attr = v`, `model.config.attr = v`).
  std::span<const Node> attribute_writes(std::string_view attr) const;

private:
  std::string_view source_;
  Node root_;
  std::vector<Scope> scopes_;
  std::vector<Binding> bindings_;
  // (scope, name) -> bindings, in source order
  struct Key {
    int32_t scope;
    std::string_view name;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string_view>{}(k.name) ^
             (static_cast<size_t>(k.scope) * 0x9E3779B97F4A7C15ull);
    }
  };
  std::unordered_map<Key, std::vector<const Binding*>, KeyHash> by_name_;
  std::unordered_map<const void*, int32_t> scope_by_node_;         // scope-opening node -> scope
  mutable std::unordered_map<const void*, int32_t> scope_of_node_; // memo of scope_of
  std::unordered_map<const void*,
                     std::unordered_map<std::string_view, std::vector<AttributeBinding>>>
      attributes_; // class_definition -> attr -> bindings
  std::unordered_map<std::string, Node> definitions_;
  std::unordered_map<std::string_view, std::vector<Node>> calls_;
  std::unordered_map<std::string_view, std::vector<Node>> attribute_writes_;
  std::vector<Node> functions_, classes_;

  void build();
  void add_target(Node target, Binding proto, int depth);
  void add(Binding b);
  // Bindings of `name` in `scope` inside the subtree `stmt` that reach its end, and whether
  // every path through it binds the name.
  bool reaching_end(Node stmt, int32_t scope, std::string_view name,
                    std::vector<const Binding*>& out) const;
  bool binds_in(Node stmt, int32_t scope, std::string_view name) const;
};

} // namespace oomlint::checks
