#include "estimate/model_size.h"

#include "estimate/config_json.h"
#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace oomlint::checks::estimate {

namespace {

using nlohmann::json;

using config_json::lower;
using config_json::num;

bool flag(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t u(double v) {
  return static_cast<uint64_t>(v);
}

struct Missing {
  std::string key;
};

double need(const json& j, std::initializer_list<const char*> keys) {
  if (auto v = num(j, keys)) return *v;
  throw Missing{*keys.begin()};
}

void add_linear(ModelSize& m, std::string name, double in, double out, int copies = 1) {
  for (int i = 0; i < copies; ++i)
    m.block_linears.push_back({name, u(in), u(out)});
}

// llama, mistral, qwen2, mixtral: pre-norm decoder with (grouped-query) attention and a gated MLP.
ModelSize llama_like(const json& j, const std::string& type) {
  ModelSize m;
  double h = need(j, {"hidden_size"}), inter = need(j, {"intermediate_size"});
  double layers = need(j, {"num_hidden_layers"}), heads = need(j, {"num_attention_heads"});
  double kv = num(j, {"num_key_value_heads"}).value_or(heads);
  double vocab = need(j, {"vocab_size"});
  if (heads <= 0) throw Missing{"num_attention_heads"};
  double hd = num(j, {"head_dim"}).value_or(h / heads);
  bool tied = flag(j, "tie_word_embeddings", false);
  // Qwen2 puts biases on q, k and v; Llama only with attention_bias.
  bool qkv_bias = type == "qwen2" || flag(j, "attention_bias", false);
  bool o_bias = flag(j, "attention_bias", false);
  bool mlp_bias = flag(j, "mlp_bias", false);
  double experts = type == "mixtral" ? num(j, {"num_local_experts"}).value_or(8) : 1;

  double attn = h * heads * hd + 2 * h * kv * hd + heads * hd * h;
  if (qkv_bias) attn += heads * hd + 2 * kv * hd;
  if (o_bias) attn += h;
  double mlp = 3 * h * inter + (mlp_bias ? 2 * inter + h : 0);
  double block = attn + experts * mlp + 2 * h;
  if (type == "mixtral") block += h * experts; // router
  double embed = vocab * h;
  m.embedding_params = tied ? embed : 2 * embed;
  m.params = layers * block + h + m.embedding_params;
  m.blocks = u(layers);
  add_linear(m, "q_proj", h, heads * hd);
  add_linear(m, "k_proj", h, kv * hd);
  add_linear(m, "v_proj", h, kv * hd);
  add_linear(m, "o_proj", heads * hd, h);
  if (type == "mixtral") {
    int e = static_cast<int>(experts);
    add_linear(m, "w1", h, inter, e);
    add_linear(m, "w3", h, inter, e);
    add_linear(m, "w2", inter, h, e);
  } else {
    add_linear(m, "gate_proj", h, inter);
    add_linear(m, "up_proj", h, inter);
    add_linear(m, "down_proj", inter, h);
  }
  return m;
}

// GPT-2: learned positions, fused qkv (Conv1D with biases), output head tied to the embedding.
ModelSize gpt2(const json& j) {
  ModelSize m;
  double e = need(j, {"n_embd", "hidden_size"}), layers = need(j, {"n_layer", "num_hidden_layers"});
  double pos = need(j, {"n_positions", "max_position_embeddings"}), vocab = need(j, {"vocab_size"});
  double inner = num(j, {"n_inner"}).value_or(4 * e);
  double block =
      2 * e + (3 * e * e + 3 * e) + (e * e + e) + 2 * e + (e * inner + inner) + (inner * e + e);
  m.embedding_params = vocab * e + pos * e;
  m.params = layers * block + 2 * e + m.embedding_params;
  m.blocks = u(layers);
  add_linear(m, "c_attn", e, 3 * e);
  add_linear(m, "c_proj", e, e);
  add_linear(m, "c_fc", e, inner);
  add_linear(m, "c_proj", inner, e);
  return m;
}

// BERT / RoBERTa encoder with the pooler (what AutoModel loads).
ModelSize bert(const json& j) {
  ModelSize m;
  double h = need(j, {"hidden_size"}), layers = need(j, {"num_hidden_layers"});
  double inter = need(j, {"intermediate_size"}), vocab = need(j, {"vocab_size"});
  double pos = num(j, {"max_position_embeddings"}).value_or(512);
  double types = num(j, {"type_vocab_size"}).value_or(2);
  double block =
      3 * (h * h + h) + (h * h + h) + 2 * h + (h * inter + inter) + (inter * h + h) + 2 * h;
  m.embedding_params = vocab * h + pos * h + types * h;
  m.params = layers * block + m.embedding_params + 2 * h + (h * h + h);
  m.blocks = u(layers);
  add_linear(m, "query", h, h);
  add_linear(m, "key", h, h);
  add_linear(m, "value", h, h);
  add_linear(m, "dense", h, h);
  add_linear(m, "dense", h, inter);
  add_linear(m, "dense", inter, h);
  return m;
}

ModelSize distilbert(const json& j) {
  ModelSize m;
  double h = need(j, {"dim"}), layers = need(j, {"n_layers"}), inter = need(j, {"hidden_dim"});
  double vocab = need(j, {"vocab_size"}), pos = num(j, {"max_position_embeddings"}).value_or(512);
  double block = 4 * (h * h + h) + 2 * h + (h * inter + inter) + (inter * h + h) + 2 * h;
  m.embedding_params = vocab * h + pos * h;
  m.params = layers * block + m.embedding_params + 2 * h;
  m.blocks = u(layers);
  add_linear(m, "q_lin", h, h);
  add_linear(m, "k_lin", h, h);
  add_linear(m, "v_lin", h, h);
  add_linear(m, "out_lin", h, h);
  add_linear(m, "lin1", h, inter);
  add_linear(m, "lin2", inter, h);
  return m;
}

// T5 encoder-decoder: no biases, RMS norms with a weight only, relative position buckets in the
// first layer of each stack; v1.1 ("gated-gelu") has two input projections and an untied head.
ModelSize t5(const json& j) {
  ModelSize m;
  double d = need(j, {"d_model"}), ff = need(j, {"d_ff"}), dkv = need(j, {"d_kv"});
  double heads = need(j, {"num_heads"}), enc = need(j, {"num_layers"});
  double dec = num(j, {"num_decoder_layers"}).value_or(enc), vocab = need(j, {"vocab_size"});
  double buckets = num(j, {"relative_attention_num_buckets"}).value_or(32);
  bool gated = str(j, "feed_forward_proj").rfind("gated", 0) == 0;
  bool tied = flag(j, "tie_word_embeddings", true);
  double inner = heads * dkv;
  double attn = 4 * d * inner;
  double mlp = (gated ? 2 : 1) * d * ff + ff * d;
  double enc_block = attn + mlp + 2 * d;
  double dec_block = 2 * attn + mlp + 3 * d;
  m.embedding_params = vocab * d * (tied ? 1 : 2);
  m.params = enc * enc_block + dec * dec_block + 2 * (buckets * heads) + 2 * d + m.embedding_params;
  m.blocks = u(enc + dec);
  // Averaged over encoder and decoder blocks: the decoder has cross-attention too.
  for (const char* n : {"q", "k", "v"})
    add_linear(m, n, d, inner);
  add_linear(m, "o", inner, d);
  if (gated) {
    add_linear(m, "wi_0", d, ff);
    add_linear(m, "wi_1", d, ff);
  } else {
    add_linear(m, "wi", d, ff);
  }
  add_linear(m, "wo", ff, d);
  return m;
}

// GPT-NeoX / Pythia: fused qkv with biases, two LayerNorms per block, untied head by default.
ModelSize gpt_neox(const json& j) {
  ModelSize m;
  double h = need(j, {"hidden_size"}), inter = need(j, {"intermediate_size"});
  double layers = need(j, {"num_hidden_layers"}), vocab = need(j, {"vocab_size"});
  bool tied = flag(j, "tie_word_embeddings", false);
  bool bias = flag(j, "attention_bias", true);
  double block =
      4 * h + 3 * h * h + h * h + (bias ? 4 * h : 0) + (h * inter + inter) + (inter * h + h);
  m.embedding_params = vocab * h * (tied ? 1 : 2);
  m.params = layers * block + 2 * h + m.embedding_params;
  m.blocks = u(layers);
  add_linear(m, "query_key_value", h, 3 * h);
  add_linear(m, "dense", h, h);
  add_linear(m, "dense_h_to_4h", h, inter);
  add_linear(m, "dense_4h_to_h", inter, h);
  return m;
}

// OPT: learned positions with an offset of 2, biases everywhere, head tied to the embedding.
ModelSize opt(const json& j) {
  ModelSize m;
  double h = need(j, {"hidden_size"}), ffn = need(j, {"ffn_dim"});
  double layers = need(j, {"num_hidden_layers"}), vocab = need(j, {"vocab_size"});
  double pos = num(j, {"max_position_embeddings"}).value_or(2048);
  double proj = num(j, {"word_embed_proj_dim"}).value_or(h);
  bool bias = flag(j, "enable_bias", true);
  bool pre_norm = flag(j, "do_layer_norm_before", true);
  double block =
      4 * h * h + (bias ? 4 * h : 0) + 2 * h + h * ffn + ffn * h + (bias ? ffn + h : 0) + 2 * h;
  m.embedding_params = vocab * proj + (pos + 2) * h;
  m.params = layers * block + m.embedding_params + (proj != h ? 2 * proj * h : 0) +
             (pre_norm && !flag(j, "_remove_final_layer_norm", false) ? 2 * h : 0);
  m.blocks = u(layers);
  for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"})
    add_linear(m, n, h, h);
  add_linear(m, "fc1", h, ffn);
  add_linear(m, "fc2", ffn, h);
  return m;
}

// Falcon: multi-query (7B) or grouped (40B, "new decoder architecture") attention, parallel
// attention and MLP, head tied to the embedding by default.
ModelSize falcon(const json& j) {
  ModelSize m;
  double h = need(j, {"hidden_size"}), layers = need(j, {"num_hidden_layers", "n_layer"});
  double heads = need(j, {"num_attention_heads", "n_head"}), vocab = need(j, {"vocab_size"});
  if (heads <= 0) throw Missing{"num_attention_heads"};
  double hd = h / heads;
  bool new_arch = flag(j, "new_decoder_architecture", false);
  bool mq = flag(j, "multi_query", true);
  bool bias = flag(j, "bias", false);
  bool parallel = flag(j, "parallel_attn", true);
  double ffn = num(j, {"ffn_hidden_size"}).value_or(4 * h);
  double qkv_out = 3 * h;
  if (new_arch) {
    double kv = num(j, {"num_kv_heads", "n_head_kv"}).value_or(heads);
    qkv_out = (heads + 2 * kv) * hd;
  } else if (mq) {
    qkv_out = h + 2 * hd;
  }
  double norms = new_arch ? 4 * h : (parallel ? 2 * h : 4 * h);
  double block = h * qkv_out + h * h + 2 * h * ffn + norms + (bias ? qkv_out + h + ffn + h : 0);
  bool tied = flag(j, "tie_word_embeddings", true);
  m.embedding_params = vocab * h * (tied ? 1 : 2);
  m.params = layers * block + 2 * h + m.embedding_params;
  m.blocks = u(layers);
  add_linear(m, "query_key_value", h, qkv_out);
  add_linear(m, "dense", h, h);
  add_linear(m, "dense_h_to_4h", h, ffn);
  add_linear(m, "dense_4h_to_h", ffn, h);
  return m;
}

std::optional<std::string> read_text(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct TableEntry {
  std::string_view id; // lower case
  double params;
  std::string_view source;
};

// Published parameter counts. Each number is the one its publisher or model card states (the
// Hugging Face hub "Model size" where the card gives only a rounded name). Keep this small: a
// number goes in only with a source.
constexpr std::array<TableEntry, 27> kTable{{
    // OpenAI GPT-2 (Radford et al. 2019; HF model cards: 124M / 355M / 774M / 1.5B).
    {"gpt2", 124e6, "GPT-2 model card"},
    {"gpt2-medium", 355e6, "GPT-2 model card"},
    {"gpt2-large", 774e6, "GPT-2 model card"},
    {"gpt2-xl", 1.5e9, "GPT-2 model card"},
    {"distilgpt2", 82e6, "DistilGPT2 model card"},
    // BERT (Devlin et al. 2019, Table: BASE 110M, LARGE 340M).
    {"bert-base-uncased", 110e6, "BERT paper"},
    {"bert-base-cased", 110e6, "BERT paper"},
    {"bert-large-uncased", 340e6, "BERT paper"},
    {"bert-large-cased", 340e6, "BERT paper"},
    // DistilBERT paper (Sanh et al. 2019): 66M.
    {"distilbert-base-uncased", 66e6, "DistilBERT paper"},
    // RoBERTa model cards: base 125M, large 355M.
    {"roberta-base", 125e6, "RoBERTa model card"},
    {"roberta-large", 355e6, "RoBERTa model card"},
    // T5 (Raffel et al. 2020; HF cards): 60M / 220M / 770M.
    {"t5-small", 60e6, "T5 model card"},
    {"t5-base", 220e6, "T5 model card"},
    {"t5-large", 770e6, "T5 model card"},
    // Llama 2 (HF hub model size of the -hf checkpoints).
    {"meta-llama/llama-2-7b-hf", 6.74e9, "HF hub"},
    {"meta-llama/llama-2-7b-chat-hf", 6.74e9, "HF hub"},
    {"meta-llama/llama-2-13b-hf", 13.0e9, "HF hub"},
    {"meta-llama/llama-2-70b-hf", 69.0e9, "HF hub"},
    // Llama 3 8B: 8.03B (HF hub).
    {"meta-llama/meta-llama-3-8b", 8.03e9, "HF hub"},
    {"meta-llama/meta-llama-3-8b-instruct", 8.03e9, "HF hub"},
    // Mistral 7B v0.1: 7.24B (HF hub); Mixtral 8x7B: 46.7B total (Mistral AI announcement).
    {"mistralai/mistral-7b-v0.1", 7.24e9, "HF hub"},
    {"mistralai/mixtral-8x7b-v0.1", 46.7e9, "Mistral AI"},
    // TinyLlama 1.1B; Qwen2-0.5B: 0.49B (Qwen2 technical report); Phi-2: 2.7B (Microsoft).
    {"tinyllama/tinyllama-1.1b-chat-v1.0", 1.1e9, "TinyLlama model card"},
    {"qwen/qwen2-0.5b", 0.49e9, "Qwen2 technical report"},
    {"microsoft/phi-2", 2.7e9, "Microsoft"},
    // GPT-J 6B: 6,053,381,344 (model card).
    {"eleutherai/gpt-j-6b", 6053381344.0, "GPT-J model card"},
}};

} // namespace

std::string_view to_string(ParamSource s) {
  switch (s) {
  case ParamSource::ConfigJson:
    return "config.json";
  case ParamSource::Table:
    return "published count";
  case ParamSource::IdSize:
    return "size in the id";
  }
  return "";
}

std::optional<ModelSize> params_from_config(std::string_view json_text, std::string* error) {
  auto set_error = [&](std::string e) {
    if (error) *error = std::move(e);
    return std::nullopt;
  };
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return set_error("config.json is not a JSON object");
  std::string type = lower(str(j, "model_type"));
  ModelSize m;
  try {
    if (type == "llama" || type == "mistral" || type == "qwen2" || type == "mixtral") {
      m = llama_like(j, type);
    } else if (type == "gpt2") {
      m = gpt2(j);
    } else if (type == "bert" || type == "roberta") {
      m = bert(j);
    } else if (type == "distilbert") {
      m = distilbert(j);
    } else if (type == "t5") {
      m = t5(j);
    } else if (type == "gpt_neox") {
      m = gpt_neox(j);
    } else if (type == "opt") {
      m = opt(j);
    } else if (type == "falcon" || type == "refinedweb" || type == "refinedwebmodel") {
      m = falcon(j);
    } else {
      return set_error(type.empty() ? "config.json has no model_type"
                                    : "architecture '" + type + "' is not supported");
    }
  } catch (const Missing& missing) {
    return set_error("config.json (" + type + ") lacks \"" + missing.key + "\"");
  } catch (const json::exception& e) {
    return set_error(e.what());
  }
  if (!(m.params > 0)) return set_error("config.json gives no parameters");
  m.source = ParamSource::ConfigJson;
  m.architecture = type;
  m.note = "computed from config.json (" + type + ")";
  m.torch_dtype = str(j, "torch_dtype");
  return m;
}

std::optional<ModelSize> params_from_table(std::string_view id) {
  std::string key = lower(id);
  while (!key.empty() && key.back() == '/')
    key.pop_back();
  auto lookup = [](std::string_view k) -> const TableEntry* {
    for (const auto& e : kTable) {
      if (e.id == k) return &e;
    }
    return nullptr;
  };
  const TableEntry* e = lookup(key);
  if (!e) {
    // The legacy names moved under an organisation ("openai-community/gpt2",
    // "google-bert/bert-base-uncased"): match the last component for the un-namespaced entries.
    auto slash = key.rfind('/');
    if (slash != std::string::npos) {
      const TableEntry* tail = lookup(std::string_view(key).substr(slash + 1));
      if (tail && tail->id.find('/') == std::string_view::npos) e = tail;
    }
  }
  if (!e) return std::nullopt;
  ModelSize m;
  m.params = e->params;
  m.source = ParamSource::Table;
  m.note = "published count (" + std::string(e->source) + ")";
  return m;
}

std::optional<ModelSize> params_from_id(std::string_view id) {
  std::string name = lower(id);
  auto slash = name.rfind('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  static const std::regex kMoe(R"(^(\d+)x(\d+(?:\.\d+)?)b$)");
  static const std::regex kSize(R"(^(\d+(?:\.\d+)?)([bm])$)");
  static const std::regex kBloom(R"(^(\d+)b(\d)$)"); // bloom-7b1 = 7.1B
  std::optional<ModelSize> billions, millions;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find_first_of("-_ ", start);
    if (end == std::string::npos) end = name.size();
    std::string tok = name.substr(start, end - start);
    start = end + 1;
    std::smatch mt;
    ModelSize m;
    m.source = ParamSource::IdSize;
    m.approximate = true;
    if (std::regex_match(tok, mt, kMoe)) {
      // Mixture of experts: the experts share attention and embeddings, so the total is less than
      // N x size (Mixtral 8x7B: 46.7B of a nominal 56B; 8x22B: 141B of 176B). 0.8 is the lower of
      // those two published ratios.
      m.params = std::stod(mt[1]) * std::stod(mt[2]) * 1e9 * 0.8;
      m.note = "size in the id (" + tok + ", mixture of experts: about 0.8 x N x size)";
      if (!billions) billions = m;
    } else if (std::regex_match(tok, mt, kSize)) {
      m.params = std::stod(mt[1]) * (mt[2] == "b" ? 1e9 : 1e6);
      m.note = "size in the id (" + tok + ")";
      if (mt[2] == "b" && !billions) billions = m;
      if (mt[2] == "m" && !millions) millions = m;
    } else if (std::regex_match(tok, mt, kBloom)) {
      m.params = (std::stod(mt[1]) + std::stod(mt[2]) / 10) * 1e9;
      m.note = "size in the id (" + tok + ")";
      if (!billions) billions = m;
    }
    if (end == name.size()) break;
  }
  // "Qwen2.5-7B-Instruct-1M": the B size is the model, the M is the context length.
  auto out = billions ? billions : millions;
  if (out && !(out->params > 0)) return std::nullopt;
  return out;
}

std::optional<ModelSize> resolve_model(std::string_view id_or_path, std::string_view base_dir) {
  if (id_or_path.empty() || id_or_path.size() > 4096) return std::nullopt;
  std::filesystem::path p{std::string(id_or_path)};
  if (!p.is_absolute() && !base_dir.empty()) p = std::filesystem::path(std::string(base_dir)) / p;
  if (p.is_absolute() || !base_dir.empty() || id_or_path.starts_with(".")) {
    if (auto text = read_text(p / "config.json")) {
      std::string err;
      if (auto m = params_from_config(*text, &err)) return m;
    }
  }
  if (auto m = params_from_table(id_or_path)) return m;
  return params_from_id(id_or_path);
}

} // namespace oomlint::checks::estimate
