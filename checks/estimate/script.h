// Reads what a training script loads and how it trains: the model ids of `from_pretrained(...)`
// and `pipeline(model=...)`, LoRA / QLoRA, precision, optimizer, DeepSpeed ZeRO / FSDP, GPU count.
// Used by OOM011 (fed node by node from the engine's traversal) and by the language server for
// hovers and inlay hints (analyze_script walks the tree itself). Protocol-free.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "estimate/memory.h"
#include "estimate/model_size.h"
#include "model/semantics.h"
#include "ts.h"

namespace oomlint::checks::estimate {

struct ModelRef {
  std::string id;
  // Where the id is written: the string literal (for `name = "gpt2"; f(name)`, the literal in the
  // assignment). The hover answers on it and on the argument.
  uint32_t start = 0, end = 0;
  uint32_t arg_start = 0, arg_end = 0;   // the argument of the call
  uint32_t call_start = 0, call_end = 0; // the whole call
  bool pipeline = false;                 // pipeline(model=...): inference
  bool from_default = false; // the id is the default of a command-line option or dataclass field
  int quant_bits = 0;        // load_in_4bit / load_in_8bit / a BitsAndBytesConfig
  std::string dtype;         // "bf16", "fp16", "fp32", "auto", "?" (not a literal) or empty
  // device_map="auto" (or a map the script computes, or max_memory=): the weights may be spread
  // over several GPUs and the CPU, so one GPU's share is not known.
  bool spread = false;
  // The script trains this model: false for pipelines, inference scripts, and a model that no
  // optimizer of a plain PyTorch loop covers (a frozen encoder beside a trained head).
  bool trained = false;
};

struct ScriptAnalysis {
  std::vector<ModelRef> models;
  bool trains = false; // a Trainer, an optimizer, `.backward()`, deepspeed.initialize...
  TrainingSetup setup; // the script's set-up, before a particular model's dtype / quantization
  // Why the set-up may differ from what the script shows (set-up from the command line, an
  // unreadable DeepSpeed config, frozen parameters...). OOM011 stays silent when non-empty.
  std::vector<std::string> uncertain;
};

// The set-up for one model of the script (adds its dtype and quantization).
TrainingSetup setup_for(const ScriptAnalysis& a, const ModelRef& ref, const ModelSize* size);

// Collects the facts node by node. Feed it every `call` and `assignment` node in pre-order, with
// the Semantics as the traversal has it at that node; then call finish().
class ScriptScanner {
public:
  ScriptScanner();
  ~ScriptScanner();
  ScriptScanner(const ScriptScanner&) = delete;
  ScriptScanner& operator=(const ScriptScanner&) = delete;

  void visit(ts::Node node, const Semantics& model);
  // `base_dir` resolves relative paths of DeepSpeed JSON configs; empty = don't read files.
  ScriptAnalysis finish(std::string_view source, std::string_view base_dir = {});

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Walks `tree` (of `text`) and analyses it.
ScriptAnalysis analyze_script(std::string_view text, const ts::Tree& tree,
                              std::string_view base_dir = {});

// The model reference whose id or argument contains `byte_offset`.
std::optional<ModelRef> find_model_at(std::string_view text, const ts::Tree& tree,
                                      uint32_t byte_offset);

// The estimate for one model of an analysed script; nullopt when its size is not known.
std::optional<MemoryEstimate> estimate_for(const ScriptAnalysis& a, const ModelRef& ref,
                                           std::string_view base_dir = {});

// Markdown for a hover on a model id: parameters, the table (this set-up and the cheaper rungs of
// the ladder, each with its guide section). Empty when `byte_offset` is on no model id.
std::string hover_markdown(std::string_view text, const ts::Tree& tree, uint32_t byte_offset,
                           std::string_view base_dir = {});

// (byte offset just after each model-loading call, label): "≈ 72 GB before activations".
std::vector<std::pair<uint32_t, std::string>>
inlay_hints(std::string_view text, const ts::Tree& tree, std::string_view base_dir = {});

} // namespace oomlint::checks::estimate
