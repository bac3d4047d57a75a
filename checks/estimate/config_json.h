// Reading a Hugging Face `config.json`: the helpers that the parameter count (model_size.cpp)
// and the architecture the fit planner needs (architecture.cpp) share.
#pragma once

#include <cctype>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace oomlint::checks::estimate::config_json {

// `model_type` and ids are compared in lower case.
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A non-negative number stored under the first of `keys` that holds one (configs of different
// families name the same field differently: `hidden_size`, `n_embd`, `d_model`), or nullopt.
inline std::optional<double> num(const nlohmann::json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it != j.end() && it->is_number()) {
      double v = it->get<double>();
      if (v >= 0) return v;
    }
  }
  return std::nullopt;
}

} // namespace oomlint::checks::estimate::config_json
