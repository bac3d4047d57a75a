#include "estimate/architecture.h"

#include "estimate/config_json.h"
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <sstream>

namespace oomlint::checks::estimate {

namespace {

using nlohmann::json;

using config_json::lower;
using config_json::num;

// The real config.json values of popular hub checkpoints (only the keys the estimates read),
// copied from each repository's config.json on the Hugging Face hub.
struct Builtin {
  std::string_view id;
  std::string_view config;
};

constexpr auto kBuiltin = std::to_array<Builtin>({
    {"gpt2", R"({"model_type":"gpt2","n_embd":768,"n_layer":12,"n_head":12,"n_positions":1024,
      "vocab_size":50257,"resid_pdrop":0.1,"attn_pdrop":0.1})"},
    {"gpt2-medium", R"({"model_type":"gpt2","n_embd":1024,"n_layer":24,"n_head":16,
      "n_positions":1024,"vocab_size":50257,"resid_pdrop":0.1,"attn_pdrop":0.1})"},
    {"gpt2-large", R"({"model_type":"gpt2","n_embd":1280,"n_layer":36,"n_head":20,
      "n_positions":1024,"vocab_size":50257,"resid_pdrop":0.1,"attn_pdrop":0.1})"},
    {"gpt2-xl", R"({"model_type":"gpt2","n_embd":1600,"n_layer":48,"n_head":25,
      "n_positions":1024,"vocab_size":50257,"resid_pdrop":0.1,"attn_pdrop":0.1})"},
    {"distilgpt2", R"({"model_type":"gpt2","n_embd":768,"n_layer":6,"n_head":12,
      "n_positions":1024,"vocab_size":50257,"resid_pdrop":0.1,"attn_pdrop":0.1})"},
    {"bert-base-uncased", R"({"model_type":"bert","hidden_size":768,"num_hidden_layers":12,
      "num_attention_heads":12,"intermediate_size":3072,"vocab_size":30522,
      "max_position_embeddings":512,"type_vocab_size":2,"hidden_dropout_prob":0.1,
      "attention_probs_dropout_prob":0.1})"},
    {"bert-base-cased", R"({"model_type":"bert","hidden_size":768,"num_hidden_layers":12,
      "num_attention_heads":12,"intermediate_size":3072,"vocab_size":28996,
      "max_position_embeddings":512,"type_vocab_size":2,"hidden_dropout_prob":0.1,
      "attention_probs_dropout_prob":0.1})"},
    {"bert-large-uncased", R"({"model_type":"bert","hidden_size":1024,"num_hidden_layers":24,
      "num_attention_heads":16,"intermediate_size":4096,"vocab_size":30522,
      "max_position_embeddings":512,"type_vocab_size":2,"hidden_dropout_prob":0.1,
      "attention_probs_dropout_prob":0.1})"},
    {"bert-large-cased", R"({"model_type":"bert","hidden_size":1024,"num_hidden_layers":24,
      "num_attention_heads":16,"intermediate_size":4096,"vocab_size":28996,
      "max_position_embeddings":512,"type_vocab_size":2,"hidden_dropout_prob":0.1,
      "attention_probs_dropout_prob":0.1})"},
    {"roberta-base", R"({"model_type":"roberta","hidden_size":768,"num_hidden_layers":12,
      "num_attention_heads":12,"intermediate_size":3072,"vocab_size":50265,
      "max_position_embeddings":514,"type_vocab_size":1,"hidden_dropout_prob":0.1,
      "attention_probs_dropout_prob":0.1})"},
    {"roberta-large", R"({"model_type":"roberta","hidden_size":1024,"num_hidden_layers":24,
      "num_attention_heads":16,"intermediate_size":4096,"vocab_size":50265,
      "max_position_embeddings":514,"type_vocab_size":1,"hidden_dropout_prob":0.1,
      "attention_probs_dropout_prob":0.1})"},
    {"meta-llama/llama-2-7b-hf", R"({"model_type":"llama","hidden_size":4096,
      "intermediate_size":11008,"num_hidden_layers":32,"num_attention_heads":32,
      "num_key_value_heads":32,"vocab_size":32000,"attention_dropout":0.0})"},
    {"meta-llama/llama-2-7b-chat-hf", R"({"model_type":"llama","hidden_size":4096,
      "intermediate_size":11008,"num_hidden_layers":32,"num_attention_heads":32,
      "num_key_value_heads":32,"vocab_size":32000,"attention_dropout":0.0})"},
    {"meta-llama/llama-2-13b-hf", R"({"model_type":"llama","hidden_size":5120,
      "intermediate_size":13824,"num_hidden_layers":40,"num_attention_heads":40,
      "num_key_value_heads":40,"vocab_size":32000,"attention_dropout":0.0})"},
    {"meta-llama/llama-2-70b-hf", R"({"model_type":"llama","hidden_size":8192,
      "intermediate_size":28672,"num_hidden_layers":80,"num_attention_heads":64,
      "num_key_value_heads":8,"vocab_size":32000,"attention_dropout":0.0})"},
    {"meta-llama/meta-llama-3-8b", R"({"model_type":"llama","hidden_size":4096,
      "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,
      "num_key_value_heads":8,"vocab_size":128256,"attention_dropout":0.0})"},
    {"meta-llama/meta-llama-3-8b-instruct", R"({"model_type":"llama","hidden_size":4096,
      "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,
      "num_key_value_heads":8,"vocab_size":128256,"attention_dropout":0.0})"},
    {"meta-llama/llama-3.1-8b", R"({"model_type":"llama","hidden_size":4096,
      "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,
      "num_key_value_heads":8,"vocab_size":128256,"attention_dropout":0.0})"},
    {"mistralai/mistral-7b-v0.1", R"({"model_type":"mistral","hidden_size":4096,
      "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,
      "num_key_value_heads":8,"vocab_size":32000,"attention_dropout":0.0})"},
    {"tinyllama/tinyllama-1.1b-chat-v1.0", R"({"model_type":"llama","hidden_size":2048,
      "intermediate_size":5632,"num_hidden_layers":22,"num_attention_heads":32,
      "num_key_value_heads":4,"vocab_size":32000,"attention_dropout":0.0})"},
    {"qwen/qwen2-0.5b", R"({"model_type":"qwen2","hidden_size":896,"intermediate_size":4864,
      "num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,
      "vocab_size":151936,"tie_word_embeddings":true,"attention_dropout":0.0})"},
    {"microsoft/phi-1_5", R"({"model_type":"phi","hidden_size":2048,"intermediate_size":8192,
      "num_hidden_layers":24,"num_attention_heads":32,"vocab_size":51200,
      "resid_pdrop":0.0,"attention_dropout":0.0})"},
    {"microsoft/phi-2", R"({"model_type":"phi","hidden_size":2560,"intermediate_size":10240,
      "num_hidden_layers":32,"num_attention_heads":32,"vocab_size":51200,
      "resid_pdrop":0.1,"attention_dropout":0.0})"},
    {"stabilityai/stablelm-base-alpha-3b", R"({"model_type":"gpt_neox","hidden_size":4096,
      "intermediate_size":16384,"num_hidden_layers":16,"num_attention_heads":32,
      "vocab_size":50688,"max_position_embeddings":4096})"},
    {"eleutherai/gpt-j-6b", R"({"model_type":"gptj","n_embd":4096,"n_layer":28,"n_head":16,
      "vocab_size":50400,"resid_pdrop":0.0,"attn_pdrop":0.0})"},
});

bool gated_type(std::string_view t) {
  for (std::string_view g : {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "gemma",
                             "gemma2", "phi3", "olmo", "olmo2", "cohere", "starcoder2x"}) {
    if (t == g) return true;
  }
  return false;
}

std::optional<std::string> read_text(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
  auto size = std::filesystem::file_size(p, ec);
  if (ec || size > (4u << 20)) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parameters from the shape alone, for a model_type params_from_config does not know: attention
// (q, k, v, o with grouped-query k/v), the MLP (two or three matrices), norms, the embedding and
// an untied output head. Biases are left out (well under 0.1% of a billion-parameter model).
ModelSize size_from_shape(const Architecture& a, bool tied) {
  ModelSize m;
  double h = a.hidden, kvd = a.kv_heads > 0 ? h / a.heads * a.kv_heads : h;
  double attn = 2 * h * h + 2 * h * kvd;
  double mlp = (a.gated_mlp ? 3 : 2) * h * a.intermediate;
  m.embedding_params = a.vocab * h * (tied ? 1 : 2);
  m.params = a.layers * (attn + mlp + 2 * h) + m.embedding_params + h;
  m.blocks = static_cast<uint64_t>(a.layers);
  auto u = [](double v) { return static_cast<uint64_t>(v); };
  m.block_linears = {{"q_proj", u(h), u(h)},           {"k_proj", u(h), u(kvd)},
                     {"v_proj", u(h), u(kvd)},         {"o_proj", u(h), u(h)},
                     {"fc1", u(h), u(a.intermediate)}, {"fc2", u(a.intermediate), u(h)}};
  m.architecture = a.model_type;
  m.source = ParamSource::ConfigJson;
  return m;
}

} // namespace

std::optional<Architecture> architecture_from_config(std::string_view json_text,
                                                     std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Architecture> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  auto j = json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("config.json is not a JSON object");
  Architecture a;
  auto type = j.find("model_type");
  if (type != j.end() && type->is_string()) a.model_type = lower(type->get<std::string>());
  auto enc_dec = j.find("is_encoder_decoder");
  a.encoder_decoder = (enc_dec != j.end() && enc_dec->is_boolean() && enc_dec->get<bool>()) ||
                      a.model_type == "t5" || a.model_type == "mt5" || a.model_type == "bart";
  auto h = num(j, {"hidden_size", "n_embd", "d_model", "dim"});
  auto layers = num(j, {"num_hidden_layers", "n_layer", "num_layers", "n_layers"});
  auto heads = num(j, {"num_attention_heads", "n_head", "num_heads", "n_heads"});
  auto vocab = num(j, {"vocab_size"});
  if (!h || *h <= 0) return fail("config.json gives no hidden size (hidden_size)");
  if (!layers || *layers <= 0) return fail("config.json gives no layer count (num_hidden_layers)");
  if (!heads || *heads <= 0) return fail("config.json gives no head count (num_attention_heads)");
  if (!vocab || *vocab <= 0) return fail("config.json gives no vocabulary size (vocab_size)");
  a.hidden = *h;
  a.layers = *layers;
  a.heads = *heads;
  a.vocab = *vocab;
  a.kv_heads = num(j, {"num_key_value_heads", "num_kv_heads", "n_head_kv"}).value_or(*heads);
  a.intermediate =
      num(j, {"intermediate_size", "n_inner", "ffn_dim", "hidden_dim", "d_ff", "ffn_hidden_size"})
          .value_or(4 * *h);
  a.gated_mlp = gated_type(a.model_type);
  for (const char* k : {"hidden_dropout_prob", "attention_probs_dropout_prob", "resid_pdrop",
                        "attn_pdrop", "attention_dropout", "hidden_dropout", "dropout"}) {
    if (auto d = num(j, {k}); d && *d > 0) a.dropout = true;
  }
  a.source = "config.json";
  return a;
}

std::optional<std::string_view> builtin_config(std::string_view id) {
  std::string key = lower(id);
  for (const auto& b : kBuiltin) {
    if (b.id == key) return b.config;
  }
  auto slash = key.rfind('/');
  if (slash != std::string::npos) {
    std::string last = key.substr(slash + 1);
    for (const auto& b : kBuiltin) {
      std::string_view bid = b.id;
      auto bslash = bid.rfind('/');
      if (bslash != std::string_view::npos && bid.substr(bslash + 1) == last) return b.config;
      if (bslash == std::string_view::npos && bid == last) return b.config;
    }
  }
  return std::nullopt;
}

namespace {

std::optional<ResolvedModel> from_config_text(const std::string& text, std::string source) {
  auto arch = architecture_from_config(text);
  std::string err;
  auto size = params_from_config(text, &err);
  if (!size && arch && !arch->encoder_decoder) {
    auto j = json::parse(text, nullptr, false);
    auto t = j.find("tie_word_embeddings");
    bool tied = t != j.end() && t->is_boolean() && t->get<bool>();
    if (arch->model_type == "gpt2") tied = true;
    size = size_from_shape(*arch, tied);
    size->note = source + " (" + arch->model_type + ", from its sizes)";
  }
  if (!size) return std::nullopt;
  if (arch) arch->source = source;
  if (size->note.empty() || size->note.find("config.json") == 0) {
    size->note = source + (arch ? " (" + arch->model_type + ")" : "");
  }
  ResolvedModel r{*size, std::nullopt};
  if (arch && !arch->encoder_decoder) r.arch = arch;
  return r;
}

} // namespace

std::optional<ResolvedModel> resolve_architecture(std::string_view id_or_path,
                                                  std::string_view base_dir) {
  if (id_or_path.empty() || id_or_path.size() > 4096) return std::nullopt;
  std::filesystem::path p{std::string(id_or_path)};
  if (!p.is_absolute() && !base_dir.empty()) p = std::filesystem::path(std::string(base_dir)) / p;
  if (p.is_absolute() || !base_dir.empty() || id_or_path.starts_with(".")) {
    if (auto text = read_text(p / "config.json")) {
      if (auto r = from_config_text(*text, (p / "config.json").string())) return r;
    }
  }
  if (auto cfg = builtin_config(id_or_path)) {
    if (auto r = from_config_text(std::string(*cfg),
                                  "built-in config.json of " + std::string(id_or_path))) {
      return r;
    }
  }
  if (auto m = resolve_model(id_or_path, base_dir)) return ResolvedModel{*m, std::nullopt};
  return std::nullopt;
}

} // namespace oomlint::checks::estimate
