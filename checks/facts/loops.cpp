#include "facts/loops.h"

#include <string>
#include <unordered_map>

#include "facts/optimizer.h"
#include "facts/words.h"
#include "model/syntax.h"

namespace oomlint::checks::facts {

namespace {

// A word of a data iterable: a loader of any spelling, or one of the short names.
bool is_data_word(std::string_view w) {
  return w.find("loader") != std::string_view::npos || w == "batches" || w == "dl" || w == "data" ||
         w == "dataset";
}

constexpr Term word_nocase(std::string_view w) {
  return code_or_string(w).word().ignoring_case();
}

// Per-file memo of is_step_loop, by the loop's start.
struct StepLoops : RuleState {
  std::unordered_map<uint32_t, bool> known;
};

// Appends to `out` what the name `name` was assigned where it is read (`tk0 = tqdm(loader)` for
// `tk0`), when one or two plain assignments reach it. False when more bindings reach it.
bool append_assigned(const Context& cx, Node name, std::string& out) {
  auto defs = cx.analysis().flow().reaching(cx.text(name), name);
  if (defs.size() > 2) return false;
  for (const Binding* b : defs) {
    if (b->kind == Binding::Kind::Assign && b->depth == 0 && !b->value.null()) {
      out += ' ';
      out += cx.code_text(b->value, /*strings=*/true);
    }
  }
  return true;
}

// Does the text name data: a loader of any spelling, `batches` (also inside a longer word, as in
// `minibatches` or `get_batches()`), `dl`, `data` or `dataset`?
bool names_data(std::string_view text) {
  if (text.find("batches") != std::string_view::npos) return true;
  for (const auto& w : words_of(text)) {
    if (is_data_word(w)) return true;
  }
  return false;
}

// The text a `for` loop iterates: its iterable, and for a name in it (`for data in tk0`,
// `enumerate(pbar)`) what the name was assigned (`tk0 = tqdm(valid_loader)`), so that a loader
// wrapped in a progress bar first still names its split.
std::string iterable_text(const Context& cx, Node loop) {
  Node right = loop.field("right");
  std::string iter = cx.code_text(right, /*strings=*/true);
  if (right.is("identifier")) append_assigned(cx, right, iter);
  if (right.is("call")) {
    Node args = Semantics::arguments(right);
    for (uint32_t i = 0, n = args.null() ? 0 : args.named_child_count(); i < n; ++i) {
      if (args.named_child(i).is("identifier")) append_assigned(cx, args.named_child(i), iter);
    }
  }
  return iter;
}

// `next(it)` on an iterator of data: its argument, or what the argument name was assigned
// (`it = iter(train_loader)`), names a loader, batches or a dataset.
bool draws_data(const Context& cx, Node next_call) {
  Node arg = Semantics::positional(next_call, 0);
  if (arg.null()) return false;
  std::string text = cx.code_text(arg, /*strings=*/true);
  if (arg.is("identifier") && !append_assigned(cx, arg, text)) return false;
  return names_data(text);
}

} // namespace

bool iterates_data(const Context& cx, Node loop) {
  if (!loop.is("for_statement")) return false;
  return names_data(iterable_text(cx, loop));
}

Clause iterates_data_terms() {
  return code_or_string("loader").ignoring_case() | code_or_string("batches") | word_nocase("dl") |
         word_nocase("data") | word_nocase("dataset");
}

bool is_step_loop(const Context& cx, Node loop) {
  if (loop.null()) return false;
  auto& memo = cx.shared<StepLoops>().known;
  auto cached = memo.find(loop.start());
  if (cached != memo.end()) return cached->second;
  bool result = iterates_data(cx, loop);
  Node body = loop.field("body");
  std::vector<Node> stack;
  if (!body.null()) stack.push_back(body);
  while (!result && !stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if (n.is("for_statement") || n.is("while_statement") || n.is("function_definition") ||
        n.is("class_definition") || n.is("lambda")) {
      continue;
    }
    if (n.is("call")) {
      Node f = Semantics::callee(n);
      if (f.is("attribute")) {
        std::string_view m = cx.text(f.field("attribute"));
        if (m == "backward") result = true;
        if (m == "step" && is_optimizer(cx, f.field("object"))) result = true;
      }
      // `for _ in range(n): batch = next(val_iter)` with `val_iter = iter(val_loader)`.
      if (f.is("identifier") && cx.text(f) == "next" && draws_data(cx, n)) result = true;
    }
    n.append_named_children(stack);
  }
  memo[loop.start()] = result;
  return result;
}

Clause step_loop_terms() {
  return iterates_data_terms() | code_identifier("backward") | code_identifier("step");
}

bool is_training_loop(const Context& cx, Node loop) {
  return steps_optimizer(cx, loop) || iterates_data(cx, loop);
}

Clause training_loop_terms() {
  return iterates_data_terms() | code_identifier("step");
}

bool is_eval_iterable(std::string_view text) {
  bool split = false, data = false;
  for (const auto& w : words_of(text)) {
    if (w == "val" || w == "valid" || w == "validation" || w == "eval" || w == "evaluation" ||
        w == "test" || w == "testing" || w == "dev") {
      split = true;
    }
    if (w.find("loader") != std::string::npos || w == "dl" || w == "data" || w == "dataset" ||
        w == "ds" || w == "batches" || w == "iter" || w == "iterator") {
      data = true;
    }
  }
  return split && data;
}

bool is_eval_loop(const Context& cx, Node loop) {
  return loop.is("for_statement") && is_eval_iterable(iterable_text(cx, loop));
}

Clause eval_split_terms() {
  return word_nocase("val") | word_nocase("valid") | word_nocase("validation") |
         word_nocase("eval") | word_nocase("evaluation") | word_nocase("test") |
         word_nocase("testing") | word_nocase("dev");
}

Clause eval_data_terms() {
  return code_or_string("loader").ignoring_case() | word_nocase("dl") | word_nocase("data") |
         word_nocase("dataset") | word_nocase("ds") | word_nocase("batches") | word_nocase("iter") |
         word_nocase("iterator");
}

Prefilter evaluation_code_terms() {
  Clause eval = code_identifier("eval");
  return requires_all(eval_split_terms() | eval | code_identifier("train"),
                      eval_split_terms() | eval | code_identifier("False"),
                      eval_data_terms() | eval | code_identifier("train"),
                      eval_data_terms() | eval | code_identifier("False"));
}

bool is_periodic_in(const Context& cx, Node loop) {
  auto anc = cx.ancestors();
  for (size_t i = anc.size(); i-- > 0 && !(anc[i] == loop);) {
    Node n = anc[i];
    if (n.is("if_statement") || n.is("elif_clause")) {
      std::string cond = cx.code_text(n.field("condition"), /*strings=*/false);
      if (cond.find('%') != std::string::npos) return true;
    }
  }
  return false;
}

} // namespace oomlint::checks::facts
