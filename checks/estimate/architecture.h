// The shape of a transformer that activation memory depends on (layers, hidden size, heads,
// MLP width, vocabulary), read from a Hugging Face config.json or from a built-in table of the
// real config.json values of popular hub models. The parameter count comes with it (through
// model_size.h's params_from_config when it knows the architecture, else from the shape), so
// one source answers both. Protocol-free; reads files only in resolve_architecture().
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "estimate/model_size.h"

namespace oomlint::checks::estimate {

struct Architecture {
  std::string model_type; // config.json model_type ("llama", "gpt2", "bert")
  double layers = 0;      // transformer blocks
  double hidden = 0;      // h
  double heads = 0;       // a (query heads)
  double kv_heads = 0;    // grouped-query attention: key/value heads
  double intermediate = 0;
  double vocab = 0;
  bool gated_mlp = false;       // SwiGLU / GeGLU (gate, up, down) rather than fc1 -> act -> fc2
  bool dropout = false;         // dropout active in training (BERT, GPT-2), keeps 1-byte masks
  bool encoder_decoder = false; // T5 and friends: two stacks, cross-attention
  std::string source;           // "config.json", "built-in config of meta-llama/Llama-2-7b-hf"
};

struct ResolvedModel {
  ModelSize size;
  std::optional<Architecture> arch; // unknown when only the parameter count is known
};

// The shape from config.json text; nullopt (and `error` set) when a size it needs is missing.
std::optional<Architecture> architecture_from_config(std::string_view json_text,
                                                     std::string* error = nullptr);
// The built-in config.json of a popular hub id (case-insensitive, exact id or its last part);
// nullopt when the table does not have it.
std::optional<std::string_view> builtin_config(std::string_view id);
// A local config.json (under base_dir/id or id), the built-in config, then model_size.h's table
// and the size written in the id (no architecture then). nullopt when nothing knows the id.
std::optional<ResolvedModel> resolve_architecture(std::string_view id_or_path,
                                                  std::string_view base_dir = {});

} // namespace oomlint::checks::estimate
