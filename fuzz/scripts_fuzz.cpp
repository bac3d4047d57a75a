// Harness 5: structure-aware engine fuzzing with a differential check. The input does not become
// the text: it drives a small grammar of the shapes the rules read (imports, assignments, calls
// with the keyword arguments the rules look at, for and while loops, `with`, defs, classes, if,
// try), so every generated script is valid Python and the rules' deep paths run, not only the
// parser's error recovery. Each script is then checked four ways, which must agree exactly:
//   - the engine on the text, without and with the prefilter;
//   - `oomlint check`'s file checker on the script as stdin and as a file on disk;
//   - the language server's DocumentStore, the script typed into an empty document by random
//     incremental edits (chunks inserted out of order, junk typed and deleted again), then
//     analysed as the server does (lsp::analyze on the incrementally reparsed tree).
// Any difference aborts with the script printed.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "cli/file_checker.h"
#include "engine/engine.h"
#include "lsp/analysis.h"
#include "lsp/document_store.h"

using namespace oomlint;

namespace {

// ---- the grammar -------------------------------------------------------------------------------

constexpr std::string_view kImports[] = {
    "import torch",
    "import torch.nn as nn",
    "import torch.nn.functional as F",
    "import os",
    "from torch.utils.checkpoint import checkpoint",
    "from torch.cuda.amp import GradScaler, autocast",
    "from transformers import Trainer, TrainingArguments, AutoModelForCausalLM",
    "from transformers import BitsAndBytesConfig, AutoTokenizer",
    "from peft import prepare_model_for_kbit_training",
    "import deepspeed",
    "from accelerate import Accelerator",
    "from transformers.optimization import Adafactor",
    "from utils import helper",
};

constexpr std::string_view kNames[] = {
    "model",     "loss",       "batch", "loader", "outputs", "optimizer", "trainer", "args",
    "tokenizer", "x",          "it",    "losses", "preds",   "total",     "scaler",  "step",
    "out",       "val_loader", "q",     "k",      "weights", "scheduler", "config",  "accelerator"};

constexpr std::string_view kCallees[] = {
    "torch.cuda.empty_cache",
    "model",
    "loss.backward",
    "optimizer.step",
    "optimizer.zero_grad",
    "model.train",
    "model.eval",
    "TrainingArguments",
    "Trainer",
    "AutoModelForCausalLM.from_pretrained",
    "BitsAndBytesConfig",
    "prepare_model_for_kbit_training",
    "tokenizer",
    "torch.no_grad",
    "torch.inference_mode",
    "torch.autocast",
    "autocast",
    "GradScaler",
    "scaler.scale",
    "checkpoint",
    "torch.utils.checkpoint.checkpoint",
    "model.gradient_checkpointing_enable",
    "F.softmax",
    "F.scaled_dot_product_attention",
    "range",
    "enumerate",
    "iter",
    "next",
    "losses.append",
    "preds.append",
    "torch.cuda.memory._record_memory_history",
    "torch.cuda.memory._dump_snapshot",
    "Adafactor",
    "deepspeed.initialize",
    "accelerator.backward",
    "helper",
    "len",
    "print",
};

constexpr std::string_view kAttributes[] = {"item()", "detach()",         "cpu()", "sum()",
                                            "mean()", "logits",           "loss",  "config",
                                            "T",      "transpose(-2, -1)"};

constexpr std::string_view kKeywords[] = {"per_device_train_batch_size",
                                          "per_device_eval_batch_size",
                                          "gradient_accumulation_steps",
                                          "eval_accumulation_steps",
                                          "fp16",
                                          "bf16",
                                          "gradient_checkpointing",
                                          "use_cache",
                                          "retain_graph",
                                          "use_reentrant",
                                          "attn_implementation",
                                          "padding",
                                          "truncation",
                                          "max_length",
                                          "load_in_4bit",
                                          "bnb_4bit_compute_dtype",
                                          "device_map",
                                          "dtype",
                                          "optim",
                                          "evaluation_strategy",
                                          "eval_strategy",
                                          "dim",
                                          "enabled",
                                          "device_type",
                                          "model",
                                          "args",
                                          "eval_dataset",
                                          "gradient_checkpointing_kwargs"};

constexpr std::string_view kLiterals[] = {"1",
                                          "8",
                                          "32",
                                          "0.5",
                                          "True",
                                          "False",
                                          "None",
                                          "\"eager\"",
                                          "\"sdpa\"",
                                          "\"max_length\"",
                                          "\"longest\"",
                                          "\"auto\"",
                                          "\"cuda\"",
                                          "\"adafactor\"",
                                          "\"steps\"",
                                          "torch.bfloat16",
                                          "torch.float16",
                                          "-1",
                                          "\"expandable_segments:True\"",
                                          "\"max_split_size_mb:0\"",
                                          "{\"use_reentrant\": False}"};

constexpr std::string_view kOperators[] = {" + ", " - ", " * ", " / ", " @ ", " == ", " and "};

class Script {
public:
  explicit Script(FuzzedDataProvider& in) : in_(in) {}

  std::string generate() {
    size_t n = in_.ConsumeIntegralInRange<size_t>(1, 24);
    for (size_t i = 0; i < n && in_.remaining_bytes() > 0 && out_.size() < 6000; ++i)
      statement(0, 0);
    return out_;
  }

private:
  template <size_t N> std::string_view pick(const std::string_view (&items)[N]) {
    return items[in_.ConsumeIntegralInRange<size_t>(0, N - 1)];
  }

  std::string expression(int depth) {
    switch (depth > 2 ? in_.ConsumeIntegralInRange(0, 1) : in_.ConsumeIntegralInRange(0, 7)) {
    case 0:
      return std::string(pick(kNames));
    case 1:
      return std::string(pick(kLiterals));
    case 2:
    case 3:
      return call(depth);
    case 4:
      return expression(depth + 1) + "." + std::string(pick(kAttributes));
    case 5:
      return expression(depth + 1) + std::string(pick(kOperators)) + expression(depth + 1);
    case 6:
      return expression(depth + 1) + "[" + expression(depth + 1) + "]";
    default:
      return "[" + expression(depth + 1) + ", " + expression(depth + 1) + "]";
    }
  }

  std::string call(int depth) {
    std::string s(pick(kCallees));
    s += '(';
    size_t args = in_.ConsumeIntegralInRange<size_t>(0, 3);
    for (size_t i = 0; i < args; ++i) {
      if (i) s += ", ";
      if (in_.ConsumeBool()) {
        s += pick(kKeywords);
        s += '=';
      }
      s += expression(depth + 1);
    }
    s += ')';
    return s;
  }

  void line(int indent, std::string_view text) {
    out_.append(static_cast<size_t>(indent) * 4, ' ');
    out_ += text;
    switch (in_.ConsumeIntegralInRange(0, 15)) {
    case 0:
      out_ += "  # noqa";
      break;
    case 1:
      out_ += "  # noqa: OOM203";
      break;
    case 2:
      out_ += "  # a comment";
      break;
    default:
      break;
    }
    out_ += '\n';
  }

  void block(int indent, int depth) {
    size_t n = in_.ConsumeIntegralInRange<size_t>(1, depth >= 3 ? 2 : 4);
    for (size_t i = 0; i < n; ++i)
      statement(indent, depth);
  }

  void statement(int indent, int depth) {
    int kind = depth >= 4 ? in_.ConsumeIntegralInRange(0, 3) : in_.ConsumeIntegralInRange(0, 13);
    switch (kind) {
    case 0:
      line(indent, std::string(pick(kNames)) + " = " + expression(0));
      break;
    case 1:
      line(indent, call(0));
      break;
    case 2:
      line(indent, std::string(pick(kNames)) + " += " + expression(0));
      break;
    case 3:
      line(indent, indent == 0 ? std::string(pick(kImports)) : "pass");
      break;
    case 4:
    case 5:
      line(indent, "for " + std::string(pick(kNames)) + " in " + expression(1) + ":");
      block(indent + 1, depth + 1);
      break;
    case 6:
      line(indent, "while " + expression(1) + ":");
      block(indent + 1, depth + 1);
      break;
    case 7:
      line(indent, "with " + call(1) +
                       (in_.ConsumeBool() ? ":" : " as " + std::string(pick(kNames)) + ":"));
      block(indent + 1, depth + 1);
      break;
    case 8:
      line(indent, "def " + std::string(pick(kNames)) + "_fn(" + std::string(pick(kNames)) +
                       (in_.ConsumeBool() ? ", " + std::string(pick(kNames)) : "") + "):");
      block(indent + 1, depth + 1);
      if (in_.ConsumeBool()) line(indent + 1, "return " + expression(0));
      break;
    case 9:
      line(indent, "class " + std::string(pick(kNames)) + "_cls(nn.Module):");
      line(indent + 1, "def forward(self, " + std::string(pick(kNames)) + "):");
      block(indent + 2, depth + 2);
      break;
    case 10:
      line(indent, "if " + expression(1) + ":");
      block(indent + 1, depth + 1);
      if (in_.ConsumeBool()) {
        line(indent, "else:");
        block(indent + 1, depth + 1);
      }
      break;
    case 11:
      line(indent, "try:");
      block(indent + 1, depth + 1);
      line(indent, "except Exception:");
      block(indent + 1, depth + 1);
      break;
    case 12:
      line(indent, "os.environ[\"PYTORCH_CUDA_ALLOC_CONF\"] = " + std::string(pick(kLiterals)));
      break;
    default:
      line(indent, std::string(pick(kNames)) + " = " + std::string(pick(kNames)) + "." +
                       std::string(pick(kAttributes)));
      break;
    }
  }

  FuzzedDataProvider& in_;
  std::string out_;
};

// ---- comparing -----------------------------------------------------------------------------

bool same(const checks::Diagnostic& a, const checks::Diagnostic& b) {
  if (a.fix.has_value() != b.fix.has_value()) return false;
  if (a.fix && (a.fix->title != b.fix->title || a.fix->applicability != b.fix->applicability ||
                a.fix->edits != b.fix->edits)) {
    return false;
  }
  return std::tie(a.code, a.severity, a.message, a.start, a.end, a.start_pos.line,
                  a.start_pos.column, a.end_pos.line, a.end_pos.column) ==
         std::tie(b.code, b.severity, b.message, b.start, b.end, b.start_pos.line,
                  b.start_pos.column, b.end_pos.line, b.end_pos.column);
}

bool same(const std::vector<checks::Diagnostic>& a, const std::vector<checks::Diagnostic>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](const auto& x, const auto& y) { return same(x, y); });
}

std::vector<checks::Diagnostic> diagnostics_of(const cli::FileOutcome& outcome) {
  std::vector<checks::Diagnostic> out;
  for (const auto& f : outcome.findings)
    out.push_back(f.diagnostic);
  return out;
}

[[noreturn]] void fail(const char* why, const std::string& text,
                       const std::vector<checks::Diagnostic>& want,
                       const std::vector<checks::Diagnostic>& got) {
  std::fprintf(stderr, "scripts: %s\n--- script ---\n%s--- end ---\n", why, text.c_str());
  for (const auto* list : {&want, &got}) {
    std::fprintf(stderr, "%s: %zu diagnostics\n", list == &want ? "expected" : "got", list->size());
    for (const auto& d : *list)
      std::fprintf(stderr, "  %s [%u,%u) %s\n", d.code.c_str(), d.start, d.end, d.message.c_str());
  }
  std::abort();
}

// ---- typing the script into an LSP document ----------------------------------------------------

// The LSP position (UTF-8 code units; the scripts are ASCII with "\n" line ends) of `offset`.
lsp::Position position_of(std::string_view text, size_t offset) {
  lsp::Position p;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      line_start = i + 1;
    }
  }
  p.character = static_cast<uint32_t>(offset - line_start);
  return p;
}

struct Typist {
  lsp::DocumentStore& store;
  const std::string& uri;
  std::string text;
  int64_t version = 1;

  void replace(size_t start, size_t end, std::string inserted) {
    lsp::ContentChange c;
    c.range = lsp::Range{position_of(text, start), position_of(text, end)};
    c.text = inserted;
    text.replace(start, end - start, inserted);
    if (!store.change(uri, ++version, {c}, lsp::PositionEncoding::Utf8)) std::abort();
  }
};

std::string type_into_store(lsp::DocumentStore& store, const std::string& uri,
                            const std::string& script, FuzzedDataProvider& in) {
  store.open(uri, "python", 1, "");
  Typist t{store, uri, {}};
  // Cut the script into chunks and insert them in a random order, each where it belongs among
  // those already there; now and then type junk somewhere and delete it again.
  size_t pieces = in.ConsumeIntegralInRange<size_t>(1, 8);
  std::vector<size_t> cuts{0, script.size()};
  for (size_t i = 1; i < pieces; ++i)
    cuts.push_back(in.ConsumeIntegralInRange<size_t>(0, script.size()));
  std::sort(cuts.begin(), cuts.end());
  std::vector<size_t> order(cuts.size() - 1);
  std::iota(order.begin(), order.end(), 0);
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[in.ConsumeIntegralInRange<size_t>(0, i - 1)]);
  std::vector<bool> present(order.size(), false);
  for (size_t chunk : order) {
    size_t at = 0;
    for (size_t j = 0; j < chunk; ++j)
      if (present[j]) at += cuts[j + 1] - cuts[j];
    t.replace(at, at, script.substr(cuts[chunk], cuts[chunk + 1] - cuts[chunk]));
    present[chunk] = true;
    if (in.ConsumeIntegralInRange(0, 3) == 0) {
      constexpr std::string_view kJunk[] = {"(", "\"\"\"", "\n    ", ":", "for x in", "#", "\\"};
      std::string junk(kJunk[in.ConsumeIntegralInRange<size_t>(0, std::size(kJunk) - 1)]);
      size_t where = in.ConsumeIntegralInRange<size_t>(0, t.text.size());
      t.replace(where, where, junk);
      t.replace(where, where + junk.size(), "");
    }
  }
  return t.text;
}

std::string& scratch_file() {
  static std::string path;
  return path;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/oomlint-fuzz-scripts-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    std::abort();
  }
  scratch_file() = std::string(tmpl) + "/train.py";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const checks::Engine engine{checks::Settings{}};
  FuzzedDataProvider in(data, size);
  std::string script = Script(in).generate();

  auto fresh = engine.check(script, /*no_prefilter=*/true);
  for (const auto& d : fresh) {
    if (d.start > d.end || d.end > script.size()) fail("range outside the text", script, {}, fresh);
  }
  if (!same(fresh, engine.check(script)))
    fail("the prefilter changed the result", script, fresh, engine.check(script));

  cli::FixOptions options; // a plain check, no cache, no project
  cli::FileJob job;
  job.engine = &engine;
  job.kind = cli::FileKind::Python;
  job.from_stdin = true;
  job.stdin_text = script;
  job.display = job.absolute = job.path = "-";
  auto from_stdin = diagnostics_of(cli::check_file(job, options));
  if (!same(fresh, from_stdin)) fail("stdin differs from the engine", script, fresh, from_stdin);

  {
    std::ofstream f(scratch_file(), std::ios::binary | std::ios::trunc);
    f << script;
  }
  job.from_stdin = false;
  job.stdin_text.clear();
  job.display = job.absolute = job.path = scratch_file();
  auto from_file = diagnostics_of(cli::check_file(job, options));
  if (!same(fresh, from_file)) fail("the file differs from the engine", script, fresh, from_file);

  lsp::DocumentStore store;
  const std::string uri = "file:///fuzz/scripts/train.py";
  std::string typed = type_into_store(store, uri, script, in);
  if (typed != script) std::abort(); // the typist's own bookkeeping
  auto snap = store.snapshot(uri);
  if (!snap || *snap->text != script) fail("the document's text differs", script, {}, {});
  auto from_lsp = lsp::analyze(*snap, engine, nullptr).diagnostics;
  if (!same(fresh, from_lsp))
    fail("the LSP document differs from the engine", script, fresh, from_lsp);
  return 0;
}
