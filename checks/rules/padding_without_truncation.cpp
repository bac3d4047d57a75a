// OOM161 padding-without-truncation (M16): a tokenizer call that pads but never caps the length.
#include <array>
#include <string>
#include <unordered_set>

#include "kit.h"

namespace oomlint::checks {
namespace {

// Prefilter (every entry is necessary): the `padding=` keyword; an import of transformers; a
// tokenizer (a name `tok`, `processor`, `processing_class`, `*tokenizer`, `*Tokenizer`, `*_tok`,
// `*_processor`, or one bound to a transformers `*Tokenizer*` / `*Processor*`.from_pretrained);
// padding `True`, "longest" or "max_length".

// Names bound to a tokenizer or processor loaded from transformers in this file.
struct State : RuleState {
  std::unordered_set<std::string> tokenizer_names;
};

std::string_view last_name(const Context& cx, Node e) {
  if (e.is("identifier")) return cx.text(e);
  if (e.is("attribute")) return cx.text(e.field("attribute"));
  return {};
}

bool tokenizer_like_name(std::string_view n) {
  return n == "tok" || n == "processor" || n == "processing_class" || n.ends_with("tokenizer") ||
         n.ends_with("Tokenizer") || n.ends_with("_tok") || n.ends_with("_processor");
}

bool is_tokenizer_load(const Semantics& m, Node call) {
  auto q = m.callee_name(call);
  if (!q || !q->starts_with("transformers.") || m.callee_tail(call) != "from_pretrained") {
    return false;
  }
  return q->find("Tokenizer") != std::string::npos || q->find("Processor") != std::string::npos;
}

// The tokenizer object a call encodes with: `tokenizer(...)`, `self.tokenizer(...)`,
// `tokenizer.encode_plus(...)`, `tokenizer.batch_encode_plus(...)`, `tokenizer.encode(...)`.
Node tokenizer_object(const Context& cx, Node call) {
  Node f = Semantics::callee(call);
  if (f.is("attribute")) {
    std::string_view method = cx.text(f.field("attribute"));
    if (method == "encode_plus" || method == "batch_encode_plus" || method == "encode" ||
        method == "__call__") {
      return f.field("object");
    }
  }
  return f;
}

bool is_tokenizer(const Context& cx, const State& st, Node obj) {
  if (!obj.is("identifier") && !obj.is("attribute")) return false;
  // An imported callable is not a tokenizer object (nltk.tokenize, a user module...).
  if (cx.sema().qualified_name(obj)) return false;
  if (st.tokenizer_names.count(std::string(cx.text(obj)))) return true;
  return tokenizer_like_name(last_name(cx, obj));
}

bool is_literal_text(Node n) {
  if (n.is("string") || n.is("concatenated_string")) return true;
  if (n.is("list") || n.is("tuple")) {
    if (n.named_child_count() == 0) return false;
    for (uint32_t i = 0, c = n.named_child_count(); i < c; ++i) {
      if (!n.named_child(i).is("string")) return false;
    }
    return true;
  }
  return false;
}

bool has_splat(Node call) {
  Node args = Semantics::arguments(call);
  for (uint32_t i = 0, n = args.named_child_count(); i < n; ++i) {
    Node a = args.named_child(i);
    if (a.is("list_splat") || a.is("dictionary_splat")) return true;
  }
  return false;
}

// Prompts tokenized for `model.generate(...)` or without autograd: inference, where the length of
// a prompt is the user's to choose and truncating it would change the answer. Without autograd:
// under no_grad here, in a function the file only calls from such places, or a function whose
// model calls all run under no_grad and that trains nothing (an evaluation batcher).
bool is_inference(const Context& cx, Node call) {
  if (facts::runs_without_grad(cx, call)) return true;
  Node fn = cx.enclosing_function();
  std::string_view scope = fn.null() ? cx.source() : cx.text(fn);
  if (scope.find(".generate(") != std::string_view::npos) return true;
  if (fn.is("function_definition")) {
    FunctionFacts f = cx.analysis().facts(fn);
    bool models = false, trains = f.has(FunctionFacts::Trains);
    visit_subtree(fn, [&](Node n) {
      if (n.is("call") && cx.analysis().is_model_call(n)) models = true;
      return !models;
    });
    if (models && !trains && !f.has(FunctionFacts::RunsForward)) return true;
  }
  return false;
}

// Is the text a literal, or a name bound to one (`sentences = ["...", "..."]` above the call)?
bool is_fixed_text(const Context& cx, Node n) {
  if (is_literal_text(n)) return true;
  if ((n.is("list") || n.is("tuple")) && n.named_child_count() > 0) {
    for (uint32_t i = 0, c = n.named_child_count(); i < c; ++i) {
      if (!is_fixed_text(cx, n.named_child(i))) return false;
    }
    return true;
  }
  if (!n.is("identifier")) return false;
  auto bindings = cx.analysis().flow().reaching(cx.text(n), n);
  if (bindings.empty()) return false;
  for (const Binding* b : bindings) {
    if (b->kind != Binding::Kind::Assign || b->depth != 0 || !is_literal_text(b->value)) {
      return false;
    }
  }
  return true;
}

// Does code after `stmt` in its function (or module) cut the sequences that `name` holds to an
// upper bound: one example's ids `name["input_ids"][i][:n]`, or the second axis of a tensor
// `name["input_ids"][:, :n]`? (`name["input_ids"][i : i + b]` picks examples, not tokens.)
bool sliced_later(const Context& cx, Node stmt, std::string_view name) {
  Node scope = cx.analysis().flow().function_of(stmt);
  if (scope.null()) scope = cx.analysis().flow().root();
  bool found = false;
  visit_subtree(scope, [&](Node n) {
    if (found || n.end() <= stmt.end()) return false; // nothing after the statement inside
    if (!n.is("subscript") || n.start() < stmt.end()) return true;
    Node value = n.field("value");
    std::string_view v = cx.text(value);
    bool rooted = v.starts_with(name) && v.size() > name.size() && v[name.size()] == '[';
    if (!rooted) return true;
    // An element of an element (`name[k][i]`), or the slice after the first axis.
    bool element = value.is("subscript") && value.field("value").is("subscript");
    for (uint32_t i = 1, k = n.named_child_count(); i < k; ++i) {
      Node sub = n.named_child(i);
      if (!sub.is("slice") || (i == 1 && !element)) continue;
      // `[:n]` / `[a:n]`: an expression between the first colon and the next one.
      bool after_colon = false;
      for (Node c = sub.first_child(); !c.null(); c = c.next_sibling()) {
        if (!c.named() && cx.text(c) == ":") {
          if (after_colon) break;
          after_colon = true;
        } else if (after_colon && c.named() && !c.is("comment")) {
          found = true;
        }
      }
    }
    return !found;
  });
  return found;
}

class PaddingWithoutTruncation final : public RuleBase<PaddingWithoutTruncation> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM161",
      .slug = "padding-without-truncation",
      .section = "M16",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "tokenizer pads batches without a length cap (no truncation, or `max_length` "
                 "padding without `max_length`)",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment"};
  static Prefilter needs() {
    return requires_all(anywhere("padding"), anywhere("transformers"),
                        anywhere("tok") | anywhere("processor") | anywhere("processing_class") |
                            anywhere("Tokenizer") | anywhere("Processor"),
                        anywhere("True") | anywhere("longest") | anywhere("max_length"));
  }

  void check(Node node, Context& cx) const override {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    if (node.is("assignment")) {
      Node right = node.field("right");
      Node left = node.field("left");
      if ((left.is("identifier") || left.is("attribute")) && right.is("call") &&
          is_tokenizer_load(m, right)) {
        st.tokenizer_names.insert(std::string(cx.text(left)));
      }
      return;
    }
    Node padding = m.keyword(node, "padding");
    if (padding.null()) return;
    bool longest = Semantics::bool_value(padding) == true;
    bool max_length_padding = false;
    if (auto v = m.string_value(padding)) {
      longest = *v == "longest";
      max_length_padding = *v == "max_length";
    }
    if (!longest && !max_length_padding) return;
    if (!m.imports("transformers") || has_splat(node)) return;
    if (!is_tokenizer(cx, st, tokenizer_object(cx, node))) return;
    if (is_fixed_text(cx, Semantics::positional(node, 0)) ||
        is_fixed_text(cx, m.keyword(node, "text"))) {
      return;
    }
    if (is_inference(cx, node)) return;
    // `untruncated_ids = tokenizer(prompt, padding="longest")`: computed only to warn about
    // what truncation cut (diffusers' idiom); the ids the model gets come from another call.
    Node stmt = cx.parent();
    for (Node p = node.parent(); !p.null() && !p.is("expression_statement"); p = p.parent())
      stmt = p;
    if (stmt.is("assignment") &&
        cx.text(stmt.field("left")).find("untruncated") != std::string_view::npos) {
      return;
    }
    if (cx.analysis().is_dead(node)) return;
    // A fallback in an `except` handler (the call the code meant to make has failed): the usual
    // path is judged where it is written.
    for (Node a : cx.ancestors()) {
      if (a.is("except_clause")) return;
    }
    // `ids = tokenizer(texts, padding=True)` then `ids["input_ids"][i][:max_len]`: the code cuts
    // the sequences itself.
    if (stmt.is("assignment") && stmt.field("left").is("identifier") &&
        sliced_later(cx, stmt, cx.text(stmt.field("left")))) {
      return;
    }
    // A multimodal processor call: truncating its text can cut the image or audio placeholder
    // tokens, which the model then rejects, so leaving it untruncated is deliberate.
    for (std::string_view media : {"images", "videos", "audio", "audios"}) {
      if (!m.keyword(node, media).null()) return;
    }
    Node max_length = m.keyword(node, "max_length");
    if (max_length_padding) {
      if (!max_length.null()) return;
      // `tokenizer.model_max_length = 512` set by the file: the padding length is chosen.
      for (Node w : cx.analysis().flow().attribute_writes("model_max_length")) {
        if (cx.analysis().constant(w.field("right"))) return;
      }
      cx.report(padding, "`padding=\"max_length\"` without `max_length` pads every example to the "
                         "tokenizer's `model_max_length`, which can be thousands of tokens: set "
                         "`max_length` to the length the data needs (M16)");
      return;
    }
    Node truncation = m.keyword(node, "truncation");
    if (!truncation.null()) return; // set, or explicitly turned off: the user's decision
    std::string message =
        "the tokenizer pads each batch to its longest sequence but nothing caps that length: one "
        "long example makes the whole batch that long and can run out of memory mid-epoch; add "
        "`truncation=True` with a `max_length` (M16)";
    if (!max_length.null()) {
      message =
          "`max_length` has no effect here: with `padding=True` and no `truncation`, sequences "
          "are neither cut nor padded to it, so one long example sets the batch's length and can "
          "run out of memory mid-epoch; add `truncation=True` (M16)";
    }
    auto d = cx.report(padding, std::move(message));
    if (auto edits = add_keyword_argument(cx.source(), node, "truncation", "True")) {
      d.fix("Add `truncation=True`", Applicability::Unsafe, std::move(*edits));
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(PaddingWithoutTruncation)
