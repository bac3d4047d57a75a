#include "model/flow.h"

#include <algorithm>
#include <string>

namespace oomlint::checks {

namespace {

bool opens_comprehension(Node n) {
  return n.is("list_comprehension") || n.is("set_comprehension") ||
         n.is("dictionary_comprehension") || n.is("generator_expression");
}

// The identifier a parameter node binds (and its default value, if any).
Node parameter_name(Node p, Node* value) {
  *value = Node();
  if (p.is("identifier")) return p;
  if (p.is("default_parameter") || p.is("typed_default_parameter")) {
    *value = p.field("value");
    Node name = p.field("name");
    return name.is("identifier") ? name : Node();
  }
  if (p.is("typed_parameter") || p.is("list_splat_pattern") || p.is("dictionary_splat_pattern")) {
    for (Node c = p.first_child(); !c.null(); c = c.next_sibling()) {
      if (c.is("identifier")) return c;
    }
  }
  return Node();
}

bool is_block_like(Node n) {
  return n.is("block") || n.is("module");
}

} // namespace

Flow::Flow(std::string_view source, Node root) : source_(source), root_(root) {
  build();
}

void Flow::add(Binding b) {
  bindings_.push_back(b);
}

void Flow::add_target(Node target, Binding proto, int depth) {
  if (target.is("parenthesized_expression") && target.named_child_count() == 1) {
    add_target(target.named_child(0), proto, depth);
    return;
  }
  if (target.is("identifier")) {
    proto.target = target;
    add(proto);
    return;
  }
  if (target.is("list_splat_pattern") || target.is("list_splat")) {
    Node inner = target.named_child(0);
    if (inner.is("identifier")) {
      proto.target = inner;
      proto.starred = true;
      add(proto);
    }
    return;
  }
  if (target.is("pattern_list") || target.is("tuple_pattern") || target.is("list_pattern") ||
      target.is("expression_list") || target.is("tuple") || target.is("list")) {
    if (depth >= 6) return;
    uint8_t i = 0;
    for (Node c = target.first_child(); !c.null(); c = c.next_sibling()) {
      if (!c.named() || c.is("comment")) continue;
      Binding inner = proto;
      inner.path[depth] = i++;
      inner.depth = static_cast<uint8_t>(depth + 1);
      add_target(c, inner, depth + 1);
    }
  }
}

void Flow::build() {
  scopes_.push_back({Scope::Kind::Module, root_, -1, {}});
  scope_by_node_[root_.id()] = 0;
  // The walk: (node, scope it is evaluated in, class it is a method of / null).
  struct Item {
    Node node;
    int32_t scope;
  };
  std::vector<Item> stack;
  for (Node c = root_.first_child(); !c.null(); c = c.next_sibling())
    stack.push_back({c, 0});
  std::reverse(stack.begin(), stack.end());
  auto push_children = [&](Node n, int32_t scope, size_t from = 0) {
    size_t mark = stack.size();
    size_t i = 0;
    for (Node c = n.first_child(); !c.null(); c = c.next_sibling(), ++i) {
      if (i >= from && c.named()) stack.push_back({c, scope});
    }
    std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(mark), stack.end());
  };
  auto open = [&](Node n, Scope::Kind kind, int32_t parent) {
    auto index = static_cast<int32_t>(scopes_.size());
    scopes_.push_back({kind, n, parent, {}});
    scope_by_node_[n.id()] = index;
    return index;
  };
  while (!stack.empty()) {
    auto [n, scope] = stack.back();
    stack.pop_back();
    if (n.is("function_definition")) {
      functions_.push_back(n);
      Node name = n.field("name");
      if (name.is("identifier")) {
        add(Binding{Binding::Kind::Def, scope, n, name, Node(), 0, {}, n.end()});
      }
      int32_t inner = open(n, Scope::Kind::Function, scope);
      Node params = n.field("parameters");
      for (Node p = params.first_child(); !p.null(); p = p.next_sibling()) {
        if (!p.named()) continue;
        Node value;
        Node id = parameter_name(p, &value);
        if (!id.null()) {
          add(Binding{Binding::Kind::Param, inner, p, id, value, 0, {}, n.start()});
        }
        if (!value.null()) stack.push_back({value, scope}); // defaults: the enclosing scope
      }
      Node body = n.field("body");
      if (!body.null()) stack.push_back({body, inner});
      Node ret = n.field("return_type");
      if (!ret.null()) stack.push_back({ret, scope});
      continue;
    }
    if (n.is("lambda")) {
      int32_t inner = open(n, Scope::Kind::Lambda, scope);
      Node params = n.field("parameters");
      for (Node p = params.first_child(); !p.null(); p = p.next_sibling()) {
        if (!p.named()) continue;
        Node value;
        Node id = parameter_name(p, &value);
        if (!id.null()) {
          add(Binding{Binding::Kind::Param, inner, p, id, value, 0, {}, n.start()});
        }
        if (!value.null()) stack.push_back({value, scope});
      }
      Node body = n.field("body");
      if (!body.null()) stack.push_back({body, inner});
      continue;
    }
    if (n.is("class_definition")) {
      classes_.push_back(n);
      Node name = n.field("name");
      if (name.is("identifier")) {
        add(Binding{Binding::Kind::Class, scope, n, name, Node(), 0, {}, n.end()});
      }
      int32_t inner = open(n, Scope::Kind::Class, scope);
      Node supers = n.field("superclasses");
      if (!supers.null()) stack.push_back({supers, scope});
      Node body = n.field("body");
      if (!body.null()) stack.push_back({body, inner});
      continue;
    }
    if (opens_comprehension(n)) {
      int32_t inner = open(n, Scope::Kind::Comprehension, scope);
      push_children(n, inner);
      continue;
    }
    if (n.is("for_in_clause")) {
      Node left = n.field("left");
      Node right = n.field("right");
      Binding b{
          Binding::Kind::For, scope, n, Node(), right, 0, {}, right.null() ? n.end() : right.end()};
      add_target(left, b, 0);
      if (!right.null()) stack.push_back({right, scope});
      continue;
    }
    if (n.is("assignment") || n.is("augmented_assignment")) {
      Node left = n.field("left");
      Node right = n.field("right");
      bool aug = n.is("augmented_assignment");
      Binding b{aug ? Binding::Kind::AugAssign : Binding::Kind::Assign,
                scope,
                n,
                Node(),
                right,
                0,
                {},
                n.end()};
      if (left.is("attribute")) {
        attribute_writes_[left.field("attribute").text(source_)].push_back(n);
        // self.x = v in a method: the class's attribute.
        Node obj = left.field("object");
        const Scope& s = scopes_[static_cast<size_t>(scope)];
        if (obj.is("identifier") && s.kind == Scope::Kind::Function && s.parent >= 0 &&
            scopes_[static_cast<size_t>(s.parent)].kind == Scope::Kind::Class) {
          Node first;
          Node params = s.node.field("parameters");
          for (Node p = params.first_child(); !p.null(); p = p.next_sibling()) {
            if (!p.named()) continue;
            Node v;
            first = parameter_name(p, &v);
            break;
          }
          if (!first.null() && first.text(source_) == obj.text(source_)) {
            Node cls = scopes_[static_cast<size_t>(s.parent)].node;
            attributes_[cls.id()][left.field("attribute").text(source_)].push_back(
                AttributeBinding{cls, s.node, n, right, aug});
          }
        }
      } else if (!right.null()) {
        add_target(left, b, 0); // (`x: int` without a value declares, it does not bind)
      }
      // The right side, and the parts of the left side that are read (subscripts, attributes).
      if (!right.null()) stack.push_back({right, scope});
      if (!left.null() && !left.is("identifier")) stack.push_back({left, scope});
      continue;
    }
    if (n.is("for_statement")) {
      Node left = n.field("left");
      Node right = n.field("right");
      Binding b{
          Binding::Kind::For, scope, n, Node(), right, 0, {}, right.null() ? n.end() : right.end()};
      add_target(left, b, 0);
      push_children(n, scope);
      continue;
    }
    if (n.is("with_item")) {
      Node v = n.field("value");
      if (v.is("as_pattern")) {
        Node value = v.named_child(0);
        for (Node c = v.first_child(); !c.null(); c = c.next_sibling()) {
          if (c.is("as_pattern_target")) {
            Binding b{Binding::Kind::With, scope, n, Node(), value, 0, {}, n.end()};
            add_target(c.named_child(0), b, 0);
          }
        }
      }
      push_children(n, scope);
      continue;
    }
    if (n.is("except_clause")) {
      for (Node c = n.first_child(); !c.null(); c = c.next_sibling()) {
        if (!c.is("as_pattern")) continue;
        for (Node t = c.first_child(); !t.null(); t = t.next_sibling()) {
          if (t.is("as_pattern_target")) {
            Binding b{Binding::Kind::Except, scope, n, Node(), c.named_child(0), 0, {}, c.end()};
            add_target(t.named_child(0), b, 0);
          }
        }
      }
      push_children(n, scope);
      continue;
    }
    if (n.is("named_expression")) {
      Node name = n.field("name");
      // A walrus in a comprehension binds in the function around it.
      int32_t target_scope = scope;
      while (target_scope > 0 &&
             scopes_[static_cast<size_t>(target_scope)].kind == Scope::Kind::Comprehension) {
        target_scope = scopes_[static_cast<size_t>(target_scope)].parent;
      }
      if (name.is("identifier")) {
        add(Binding{
            Binding::Kind::Walrus, target_scope, n, name, n.field("value"), 0, {}, n.end()});
      }
      Node value = n.field("value");
      if (!value.null()) stack.push_back({value, scope});
      continue;
    }
    if (n.is("import_statement")) {
      for (Node c = n.first_child(); !c.null(); c = c.next_sibling()) {
        if (c.is("dotted_name")) {
          Node first = c.named_child(0);
          if (first.is("identifier")) {
            add(Binding{Binding::Kind::Import, scope, n, first, c, 0, {}, n.end()});
          }
        } else if (c.is("aliased_import")) {
          Node alias = c.field("alias");
          if (alias.is("identifier")) {
            add(Binding{Binding::Kind::Import, scope, n, alias, c, 0, {}, n.end()});
          }
        }
      }
      continue;
    }
    if (n.is("import_from_statement")) {
      Node module = n.field("module_name");
      for (Node c = n.first_child(); !c.null(); c = c.next_sibling()) {
        if (c == module) continue;
        if (c.is("dotted_name")) {
          Node last;
          for (Node p = c.first_child(); !p.null(); p = p.next_sibling()) {
            if (p.is("identifier")) last = p;
          }
          if (!last.null()) add(Binding{Binding::Kind::Import, scope, n, last, c, 0, {}, n.end()});
        } else if (c.is("aliased_import")) {
          Node alias = c.field("alias");
          if (alias.is("identifier")) {
            add(Binding{Binding::Kind::Import, scope, n, alias, c, 0, {}, n.end()});
          }
        }
      }
      continue;
    }
    if (n.is("global_statement") || n.is("nonlocal_statement")) {
      for (Node c = n.first_child(); !c.null(); c = c.next_sibling()) {
        if (c.is("identifier"))
          scopes_[static_cast<size_t>(scope)].globals.push_back(c.text(source_));
      }
      continue;
    }
    if (n.is("delete_statement")) {
      for (Node c = n.first_child(); !c.null(); c = c.next_sibling()) {
        if (c.is("identifier")) {
          add(Binding{Binding::Kind::Deleted, scope, n, c, Node(), 0, {}, n.end()});
        }
      }
      continue;
    }
    if (n.is("call")) {
      Node f = n.child(0);
      std::string_view name;
      if (f.is("identifier")) name = f.text(source_);
      if (f.is("attribute")) name = f.field("attribute").text(source_);
      if (!name.empty()) calls_[name].push_back(n);
    }
    push_children(n, scope);
  }

  // Index the bindings by (scope, name), in the order they take effect.
  std::stable_sort(bindings_.begin(), bindings_.end(),
                   [](const Binding& a, const Binding& b) { return a.at < b.at; });
  for (const Binding& b : bindings_) {
    // A name declared global in a function binds in the module.
    int32_t scope = b.scope;
    const auto& globals = scopes_[static_cast<size_t>(scope)].globals;
    std::string_view name = b.target.text(source_);
    if (b.kind != Binding::Kind::Param &&
        std::find(globals.begin(), globals.end(), name) != globals.end()) {
      scope = 0;
    }
    by_name_[Key{scope, name}].push_back(&b);
  }
  // Definitions by name: module level, and methods as Class.method.
  for (Node f : functions_) {
    Node name = f.field("name");
    int32_t s = scope_of(f);
    const Scope& sc = scopes_[static_cast<size_t>(s)];
    if (sc.kind == Scope::Kind::Module) {
      definitions_[std::string(name.text(source_))] = f;
    } else if (sc.kind == Scope::Kind::Class) {
      Node cls = sc.node;
      definitions_[std::string(cls.field("name").text(source_)) + "." +
                   std::string(name.text(source_))] = f;
    }
  }
  for (Node c : classes_) {
    if (scope_of(c) == 0) definitions_[std::string(c.field("name").text(source_))] = c;
  }
  for (auto& [name, calls] : calls_) {
    std::sort(calls.begin(), calls.end(), [](Node a, Node b) { return a.start() < b.start(); });
  }
}

int32_t Flow::scope_opened_by(Node n) const {
  auto it = scope_by_node_.find(n.id());
  return it == scope_by_node_.end() ? -1 : it->second;
}

namespace {

// Whether `n` is the default value of a parameter of the function or lambda `p` (`n`'s
// grandparent's parent): a default is evaluated in the scope around the function.
bool is_parameter_default(Node n, Node param, Node params, Node fn) {
  if (params.null() || !(params == fn.field("parameters"))) return false;
  if (!param.is("default_parameter") && !param.is("typed_default_parameter")) return false;
  return n == param.field("value");
}

} // namespace

int32_t Flow::scope_of(Node n) const {
  // The scope of a node is that of its parent unless the parent opens a scope the node is in;
  // answers are kept per node, so that a chain of nested nodes costs one walk, not one each.
  std::vector<Node> path;
  int32_t scope = 0;
  for (Node c = n;; c = c.parent()) {
    auto known = scope_of_node_.find(c.id());
    if (known != scope_of_node_.end()) {
      scope = known->second;
      break;
    }
    path.push_back(c);
    if (c.parent().null()) {
      scope = 0;
      break;
    }
  }
  // The scope `p` opens; `fallback` (the one around it) when none was recorded for it, as for a
  // definition inside an error node, which the scope walk does not enter (found by the fixes
  // fuzzer: scope(-1) read out of bounds).
  auto opened_or = [this](Node p, int32_t fallback) {
    int32_t opened = scope_opened_by(p);
    return opened >= 0 ? opened : fallback;
  };
  // Walk back down from the outermost node whose scope is known (or the root's, 0).
  for (size_t i = path.size(); i-- > 0;) {
    Node c = path[i];
    Node p = c.parent();
    int32_t s = scope; // default: the parent's
    if (p.null()) {
      s = 0;
    } else if (p.is("function_definition") || p.is("lambda")) {
      if (c == p.field("body") || c == p.field("parameters")) s = opened_or(p, scope);
    } else if (p.is("class_definition")) {
      if (c == p.field("body")) s = opened_or(p, scope);
    } else if (opens_comprehension(p) || p.is("module")) {
      s = opened_or(p, scope);
    } else if (Node params = p.parent(), fn = params.null() ? Node() : params.parent();
               !fn.null() && (fn.is("function_definition") || fn.is("lambda")) &&
               is_parameter_default(c, p, params, fn)) {
      // scope here is the function's (its parameters'); the default is the scope around it.
      s = scope_of(fn);
    }
    scope_of_node_.emplace(c.id(), s);
    scope = s;
  }
  return scope;
}

Node Flow::function_of(Node n) const {
  for (int32_t s = scope_of(n); s >= 0; s = scopes_[static_cast<size_t>(s)].parent) {
    const Scope& sc = scopes_[static_cast<size_t>(s)];
    if (sc.kind == Scope::Kind::Function || sc.kind == Scope::Kind::Lambda) return sc.node;
    if (sc.kind != Scope::Kind::Comprehension) return Node();
  }
  return Node();
}

std::span<const Binding* const> Flow::bindings(int32_t scope, std::string_view name) const {
  auto it = by_name_.find(Key{scope, name});
  if (it == by_name_.end()) return {};
  return it->second;
}

bool Flow::binds_in(Node stmt, int32_t scope, std::string_view name) const {
  for (const Binding* b : bindings(scope, name)) {
    if (b->at > stmt.end()) break;
    if (b->at >= stmt.start() && b->site.start() >= stmt.start()) return true;
  }
  return false;
}

bool Flow::reaching_end(Node stmt, int32_t scope, std::string_view name,
                        std::vector<const Binding*>& out) const {
  if (stmt.null() || !binds_in(stmt, scope, name)) return false;
  auto add_all_in = [&](Node n) {
    for (const Binding* b : bindings(scope, name)) {
      if (b->at > n.end()) break;
      if (b->at >= n.start() && b->site.start() >= n.start()) out.push_back(b);
    }
  };
  if (is_block_like(stmt)) {
    // The last statement that binds decides; earlier ones count only when it may not run. Jump
    // from binding to binding (a module of thousands of statements binds a name a few times).
    auto bs = bindings(scope, name);
    uint64_t bound = uint64_t(stmt.end()) + 1; // bindings taking effect before this
    for (;;) {
      const Binding* last = nullptr;
      for (const Binding* b : bs) {
        if (b->at >= bound) break;
        if (b->at >= stmt.start() && b->site.start() >= stmt.start()) last = b;
      }
      if (!last) return false;
      Node c = last->site;
      while (!c.null() && !(c.parent() == stmt))
        c = c.parent();
      if (c.null()) return false;
      if (reaching_end(c, scope, name, out)) return true;
      bound = c.start();
    }
  }
  if (stmt.is("if_statement")) {
    bool all = true, has_else = false;
    all = reaching_end(stmt.field("consequence"), scope, name, out) && all;
    for (Node c = stmt.first_child(); !c.null(); c = c.next_sibling()) {
      if (c.is("elif_clause")) {
        reaching_end(c.field("condition"), scope, name, out); // may not run
        all = reaching_end(c.field("consequence"), scope, name, out) && all;
      } else if (c.is("else_clause")) {
        has_else = true;
        all = reaching_end(c.field("body"), scope, name, out) && all;
      }
    }
    if (has_else && all) return true;
    // A walrus in the first condition always runs; the rest may not.
    return reaching_end(stmt.field("condition"), scope, name, out);
  }
  if (stmt.is("for_statement") || stmt.is("while_statement")) {
    add_all_in(stmt); // the target, the body, an else clause: any of them may be last
    return false;
  }
  if (stmt.is("with_statement")) {
    bool body = false;
    std::vector<const Binding*> inner;
    body = reaching_end(stmt.field("body"), scope, name, inner);
    if (body) {
      out.insert(out.end(), inner.begin(), inner.end());
      return true;
    }
    add_all_in(stmt);
    // with ... as name: the target always binds.
    for (const Binding* b : bindings(scope, name)) {
      if (b->kind == Binding::Kind::With && b->site.start() >= stmt.start() &&
          b->site.end() <= stmt.end()) {
        return true;
      }
    }
    return false;
  }
  if (stmt.is("decorated_definition"))
    return reaching_end(stmt.field("definition"), scope, name, out);
  if (stmt.is("function_definition") || stmt.is("class_definition")) {
    for (const Binding* b : bindings(scope, name)) {
      if (b->site == stmt) {
        out.push_back(b);
        return true;
      }
    }
    return false;
  }
  if (stmt.is("try_statement") || stmt.is("match_statement")) {
    add_all_in(stmt);
    return false;
  }
  // A simple statement: its last binding of the name, unless that binding sits in an
  // expression that may not evaluate (a walrus after `and`), which counts as maybe.
  const Binding* last = nullptr;
  for (const Binding* b : bindings(scope, name)) {
    if (b->at > stmt.end()) break;
    if (b->at >= stmt.start() && b->site.start() >= stmt.start()) last = b;
  }
  if (!last) return false;
  out.push_back(last);
  if (last->kind == Binding::Kind::Walrus) {
    for (Node p = last->site.parent(); !p.null() && !(p == stmt); p = p.parent()) {
      if (p.is("boolean_operator") || p.is("conditional_expression") || p.is("lambda")) {
        return false;
      }
    }
  }
  return true;
}

std::vector<const Binding*> Flow::at_end(int32_t scope, std::string_view name) const {
  std::vector<const Binding*> out;
  auto bs = bindings(scope, name);
  if (bs.empty()) return out;
  const Scope& s = scopes_[static_cast<size_t>(scope)];
  Node body = s.kind == Scope::Kind::Module ? s.node : s.node.field("body");
  bool killed = false;
  if (is_block_like(body)) {
    killed = reaching_end(body, scope, name, out);
  } else {
    for (const Binding* b : bs)
      out.push_back(b);
    killed = true;
  }
  for (const Binding* b : bs) {
    if (!killed && b->kind == Binding::Kind::Param) out.push_back(b);
    // `global name` in a function: it may have run whenever the name is read.
    if (b->scope != scope) out.push_back(b);
  }
  std::sort(out.begin(), out.end(),
            [](const Binding* a, const Binding* b) { return a->at < b->at; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<const Binding*> Flow::reaching(std::string_view name, Node use) const {
  std::vector<const Binding*> out;
  int32_t first = scope_of(use);
  for (int32_t s = first; s >= 0;) {
    const Scope& sc = scopes_[static_cast<size_t>(s)];
    const auto& globals = sc.globals;
    if (std::find(globals.begin(), globals.end(), name) != globals.end() && s != 0) {
      // `global x` / `nonlocal x`: the module's (or an enclosing function's) binding.
      s = sc.parent;
      while (s > 0 && scopes_[static_cast<size_t>(s)].kind == Scope::Kind::Class)
        s = scopes_[static_cast<size_t>(s)].parent;
      if (s >= 0) return at_end(s, name);
      return out;
    }
    auto bs = bindings(s, name);
    if (!bs.empty()) {
      if (s != first) return at_end(s, name);
      // Walk out from the use to the scope's node, statement by statement.
      Node scope_node = sc.node;
      bool killed = false;
      Node cur = use;
      while (!killed && !cur.null() && !(cur == scope_node)) {
        Node parent = cur.parent();
        if (parent.null()) break;
        if (is_block_like(parent)) {
          // The statements before `cur`, last first, but only those that bind the name: jump
          // from binding to binding (bs is in order of `at`), as reaching_end does. A module of
          // thousands of statements would otherwise be walked once per use.
          uint64_t bound = cur.start(); // bindings taking effect before this
          while (!killed) {
            const Binding* last = nullptr;
            for (const Binding* b : bs) {
              if (b->at >= bound) break;
              if (b->at >= parent.start() && b->site.start() >= parent.start()) last = b;
            }
            if (!last) break;
            Node stmt = last->site;
            while (!stmt.null() && !(stmt.parent() == parent))
              stmt = stmt.parent();
            if (stmt.null() || stmt.start() >= cur.start()) break;
            killed = reaching_end(stmt, s, name, out);
            bound = stmt.start();
          }
        }
        if (killed) break;
        bool loop_body = (parent.is("for_statement") || parent.is("while_statement")) &&
                         cur == parent.field("body");
        if ((parent.is("while_statement") && cur == parent.field("condition")) ||
            ((parent.is("for_statement") || parent.is("while_statement")) &&
             cur.is("else_clause"))) {
          // After any number of iterations: whatever the body (and a for's target) binds.
          Node body = parent.field("body");
          for (const Binding* b : bs) {
            if ((b->site.start() >= body.start() && b->at <= body.end()) ||
                (b->kind == Binding::Kind::For && b->site == parent)) {
              out.push_back(b);
            }
          }
        }
        if (parent.is("for_statement") && cur == parent.field("body")) {
          for (const Binding* b : bs) {
            if (b->kind == Binding::Kind::For && b->site == parent) {
              out.push_back(b);
              killed = true;
            }
          }
        }
        if (loop_body && !killed) {
          // From the previous iteration: whatever the body binds after the use.
          for (const Binding* b : bs) {
            if (b->at >= use.start() && b->site.start() >= cur.start() && b->at <= cur.end()) {
              out.push_back(b);
            }
          }
        }
        if (parent.is("with_statement") && cur == parent.field("body")) {
          for (const Binding* b : bs) {
            if (b->kind == Binding::Kind::With && b->site.start() >= parent.start() &&
                b->site.end() <= parent.end()) {
              out.push_back(b);
              killed = true;
            }
          }
        }
        if (parent.is("except_clause")) {
          for (const Binding* b : bs) {
            if (b->kind == Binding::Kind::Except && b->site == parent && b->at <= use.start()) {
              out.push_back(b);
              killed = true;
            }
          }
        }
        if (parent.is("try_statement") && !(cur == parent.field("body"))) {
          // An except, else or finally clause: any binding of the try body may have run.
          Node body = parent.field("body");
          for (const Binding* b : bs) {
            if (b->site.start() >= body.start() && b->at <= body.end()) out.push_back(b);
          }
        }
        if (parent.is("for_in_clause") || opens_comprehension(parent)) {
          // Comprehension targets: the comprehension's own scope binds them.
          for (const Binding* b : bs) {
            if (b->kind == Binding::Kind::For && b->site.parent() == parent &&
                (b->at <= use.start() || cur == parent.field("body"))) {
              out.push_back(b);
              killed = true;
            }
          }
        }
        // A walrus earlier in the same statement (`if (n := f()) and n > 2:`).
        if (!is_block_like(parent) && !killed) {
          for (const Binding* b : bs) {
            if (b->kind == Binding::Kind::Walrus && b->at <= use.start() &&
                b->site.start() >= parent.start() && b->at <= parent.end() &&
                !(b->site.start() >= cur.start() && b->at <= cur.end())) {
              out.push_back(b);
            }
          }
        }
        cur = parent;
      }
      if (!killed && (sc.kind == Scope::Kind::Function || sc.kind == Scope::Kind::Lambda)) {
        for (const Binding* b : bs) {
          if (b->kind == Binding::Kind::Param) out.push_back(b);
        }
      }
      for (const Binding* b : bs) {
        if (b->scope != s) out.push_back(b); // `global name` in a function
      }
      std::sort(out.begin(), out.end(),
                [](const Binding* a, const Binding* b) { return a->at < b->at; });
      out.erase(std::unique(out.begin(), out.end()), out.end());
      return out;
    }
    // Not bound here: the enclosing scope (methods do not see their class's names).
    s = sc.parent;
    while (s > 0 && scopes_[static_cast<size_t>(s)].kind == Scope::Kind::Class)
      s = scopes_[static_cast<size_t>(s)].parent;
  }
  return out;
}

std::span<const AttributeBinding> Flow::attribute_bindings(Node class_def,
                                                           std::string_view attr) const {
  auto it = attributes_.find(class_def.id());
  if (it == attributes_.end()) return {};
  auto a = it->second.find(attr);
  if (a == it->second.end()) return {};
  return a->second;
}

Node Flow::class_of_method(Node function_def) const {
  int32_t s = scope_of(function_def);
  if (s < 0) return Node();
  const Scope& sc = scopes_[static_cast<size_t>(s)];
  return sc.kind == Scope::Kind::Class ? sc.node : Node();
}

Node Flow::definition(std::string_view qualified) const {
  auto it = definitions_.find(std::string(qualified));
  return it == definitions_.end() ? Node() : it->second;
}

std::span<const Node> Flow::attribute_writes(std::string_view attr) const {
  auto it = attribute_writes_.find(attr);
  if (it == attribute_writes_.end()) return {};
  return it->second;
}

std::span<const Node> Flow::calls_named(std::string_view name) const {
  auto it = calls_.find(name);
  if (it == calls_.end()) return {};
  return it->second;
}

} // namespace oomlint::checks
