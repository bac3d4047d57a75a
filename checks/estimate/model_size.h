// How many parameters a model has, from what a script names: a local config.json (computed from
// its sizes), a built-in table of popular hub ids with their published counts, or a size written
// in the id ("7b", "1.3B", "70m", "8x7b"). Protocol-free; reads files only in resolve_model().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oomlint::checks::estimate {

enum class ParamSource { ConfigJson, Table, IdSize };

std::string_view to_string(ParamSource s);

// A linear layer repeated in every transformer block, by its module name ("q_proj"), for the
// LoRA adapter estimate: an adapter of rank r on it adds r * (in + out) parameters per block.
struct LinearShape {
  std::string name;
  uint64_t in = 0;
  uint64_t out = 0;
};

struct ModelSize {
  double params = 0;           // total parameters
  double embedding_params = 0; // embeddings + untied output head (kept 16-bit by 4-bit loading)
  ParamSource source = ParamSource::IdSize;
  std::string architecture; // config model_type, or empty
  std::string note;         // where the number comes from, for the hover ("config.json (llama)")
  bool approximate = false; // nominal size from the id, or an MoE guess
  // Known only from a config.json: the block's linear layers and the number of blocks.
  std::vector<LinearShape> block_linears;
  uint64_t blocks = 0;
  // dtype the checkpoint declares ("bfloat16"), from config.json; empty if unknown.
  std::string torch_dtype;
};

// Parameters from the text of a Hugging Face config.json. Supports llama, mistral, qwen2,
// mixtral, gpt2, bert, roberta, t5, gpt_neox, opt and falcon. nullopt (and `error` set) for
// invalid JSON or an architecture it does not know.
std::optional<ModelSize> params_from_config(std::string_view json_text,
                                            std::string* error = nullptr);
// Published count of a popular hub id (exact id, or its last path component for the legacy
// un-namespaced names such as "gpt2"); case-insensitive.
std::optional<ModelSize> params_from_table(std::string_view id);
// A size written in the id: "Llama-2-7b" -> 7e9, "opt-1.3b" -> 1.3e9, "pythia-70m" -> 7e7.
// A Mixtral-style "8x7b" is not 56e9: the experts share attention and embeddings.
std::optional<ModelSize> params_from_id(std::string_view id);

// Resolves a model id or local path: `base_dir/id/config.json` (or `id/config.json` when `id` is
// absolute) first, then the table, then the id. Never throws.
std::optional<ModelSize> resolve_model(std::string_view id_or_path, std::string_view base_dir = {});

} // namespace oomlint::checks::estimate
