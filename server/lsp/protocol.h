// LSP wire vocabulary: error codes, positions and ranges, and typed access to request params.
// Access helpers throw RpcError(kInvalidParams) when a field is missing or has the wrong type, so
// a handler can read its params straight and the binder turns any mistake into InvalidParams.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace oomlint::lsp {

using json = nlohmann::json;

namespace error_code {
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;
constexpr int kServerNotInitialized = -32002;
constexpr int kRequestCancelled = -32800;
} // namespace error_code

struct RpcError : std::runtime_error {
  RpcError(int c, const std::string& message) : std::runtime_error(message), code(c) {}
  int code;
};

enum class PositionEncoding { Utf16, Utf8 };
std::string_view to_string(PositionEncoding e);

// LSP positions: 0-based line, 0-based character in the negotiated encoding.
struct Position {
  uint32_t line = 0;
  uint32_t character = 0;
  bool operator==(const Position&) const = default;
};
struct Range {
  Position start;
  Position end;
  bool operator==(const Range&) const = default;
};

json to_json(const Position& p);
json to_json(const Range& r);
Position parse_position(const json& j);
Range parse_range(const json& j);

// Typed access to `obj[key]`; throw RpcError(kInvalidParams).
const json& require_object(const json& j, std::string_view what);
const json& member(const json& obj, std::string_view key);      // must exist
const json* find_member(const json& obj, std::string_view key); // nullptr if absent or null
std::string get_string(const json& obj, std::string_view key);
std::optional<std::string> opt_string(const json& obj, std::string_view key);
int64_t get_int(const json& obj, std::string_view key);
std::optional<int64_t> opt_int(const json& obj, std::string_view key);
bool opt_bool(const json& obj, std::string_view key, bool fallback);
// Reads the object at a dotted path ("textDocument.diagnostic") or nullptr.
const json* find_path(const json& obj, std::string_view dotted);

// Serialises a message; invalid UTF-8 in strings is replaced, never thrown.
std::string dump(const json& j);

} // namespace oomlint::lsp
