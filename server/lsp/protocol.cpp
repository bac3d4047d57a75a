#include "lsp/protocol.h"

#include <limits>

namespace oomlint::lsp {

std::string_view to_string(PositionEncoding e) {
  return e == PositionEncoding::Utf8 ? "utf-8" : "utf-16";
}

json to_json(const Position& p) {
  return json{{"line", p.line}, {"character", p.character}};
}
json to_json(const Range& r) {
  return json{{"start", to_json(r.start)}, {"end", to_json(r.end)}};
}

namespace {
[[noreturn]] void bad(const std::string& message) {
  throw RpcError(error_code::kInvalidParams, message);
}

uint32_t to_uinteger(const json& v, std::string_view key) {
  if (!v.is_number_integer()) bad("`" + std::string(key) + "` must be an integer");
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    return u > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                    : static_cast<uint32_t>(u);
  }
  auto i = v.get<int64_t>();
  if (i < 0) bad("`" + std::string(key) + "` must not be negative");
  return i > std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                  : static_cast<uint32_t>(i);
}
} // namespace

const json& require_object(const json& j, std::string_view what) {
  if (!j.is_object()) bad(std::string(what) + " must be an object");
  return j;
}

const json* find_member(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

const json& member(const json& obj, std::string_view key) {
  if (!obj.is_object()) bad("expected an object with `" + std::string(key) + "`");
  auto it = obj.find(key);
  if (it == obj.end()) bad("missing `" + std::string(key) + "`");
  return *it;
}

std::string get_string(const json& obj, std::string_view key) {
  const json& v = member(obj, key);
  if (!v.is_string()) bad("`" + std::string(key) + "` must be a string");
  return v.get<std::string>();
}

std::optional<std::string> opt_string(const json& obj, std::string_view key) {
  const json* v = find_member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) bad("`" + std::string(key) + "` must be a string");
  return v->get<std::string>();
}

int64_t get_int(const json& obj, std::string_view key) {
  const json& v = member(obj, key);
  if (!v.is_number_integer()) bad("`" + std::string(key) + "` must be an integer");
  return v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : v.get<int64_t>();
}

std::optional<int64_t> opt_int(const json& obj, std::string_view key) {
  if (!find_member(obj, key)) return std::nullopt;
  return get_int(obj, key);
}

bool opt_bool(const json& obj, std::string_view key, bool fallback) {
  const json* v = find_member(obj, key);
  if (!v) return fallback;
  if (!v->is_boolean()) bad("`" + std::string(key) + "` must be a boolean");
  return v->get<bool>();
}

const json* find_path(const json& obj, std::string_view dotted) {
  const json* cur = &obj;
  while (!dotted.empty()) {
    size_t dot = dotted.find('.');
    std::string_view part = dotted.substr(0, dot);
    cur = find_member(*cur, part);
    if (!cur) return nullptr;
    dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
  }
  return cur;
}

Position parse_position(const json& j) {
  require_object(j, "position");
  return Position{to_uinteger(member(j, "line"), "line"),
                  to_uinteger(member(j, "character"), "character")};
}

Range parse_range(const json& j) {
  require_object(j, "range");
  return Range{parse_position(member(j, "start")), parse_position(member(j, "end"))};
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace oomlint::lsp
