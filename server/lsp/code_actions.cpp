#include "lsp/code_actions.h"

#include <cctype>
#include <set>

#include "engine/fixes.h"
#include "line_index.h"
#include "lsp/convert.h"

namespace oomlint::lsp {

namespace {
// Where the codes of a "# noqa:" comment in `line` end, and whether `code` is among them.
struct NoqaList {
  size_t codes_end = 0;
  bool has_code = false;
  bool bare = false; // "# noqa" without codes: suppresses everything
};

std::optional<NoqaList> find_noqa(std::string_view line, std::string_view code) {
  std::string low(line);
  for (char& c : low)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t hash = low.find('#'); hash != std::string::npos; hash = low.find('#', hash + 1)) {
    size_t i = hash + 1;
    while (i < low.size() && low[i] == ' ')
      ++i;
    if (low.compare(i, 4, "noqa") != 0) continue;
    size_t j = i + 4;
    NoqaList out;
    if (j >= line.size() || line[j] != ':') {
      if (j < line.size() && std::isalnum(static_cast<unsigned char>(line[j]))) continue;
      out.bare = true;
      return out;
    }
    size_t k = j + 1;
    out.codes_end = k;
    for (;;) {
      size_t p = k;
      while (p < line.size() && (line[p] == ' ' || line[p] == ',' || line[p] == '\t'))
        ++p;
      size_t start = p;
      while (p < line.size() && std::isupper(static_cast<unsigned char>(line[p])))
        ++p;
      size_t letters = p - start;
      while (p < line.size() && std::isdigit(static_cast<unsigned char>(line[p])))
        ++p;
      if (letters == 0 || p == start + letters) break;
      if (line.substr(start, p - start) == code) out.has_code = true;
      out.codes_end = p;
      k = p;
    }
    if (out.codes_end == j + 1) continue; // "# noqa:" with no code: not a list we can extend
    return out;
  }
  return std::nullopt;
}

bool kind_wanted(const std::vector<std::string>& only, std::string_view kind) {
  if (only.empty()) return true;
  for (const auto& k : only) {
    if (kind == k || (kind.size() > k.size() && kind.starts_with(k) && kind[k.size()] == '.')) {
      return true;
    }
  }
  return false;
}
} // namespace

std::optional<checks::Edit> noqa_edit(std::string_view text, uint32_t line, std::string_view code) {
  checks::LineIndex lines(text);
  if (line >= lines.line_count()) return std::nullopt;
  std::string_view content = lines.line_text(line);
  uint32_t start = lines.line_start(line);
  if (auto noqa = find_noqa(content, code)) {
    if (noqa->bare || noqa->has_code) return std::nullopt;
    uint32_t at = start + static_cast<uint32_t>(noqa->codes_end);
    return checks::Edit{at, at, ", " + std::string(code)};
  }
  uint32_t end = lines.line_end(line);
  // Keep trailing whitespace out of the way: put the comment right after the code.
  uint32_t at = end;
  while (at > start && (text[at - 1] == ' ' || text[at - 1] == '\t'))
    --at;
  return checks::Edit{at, end, "  # noqa: " + std::string(code)};
}

json workspace_edit(const std::string& uri, std::optional<int64_t> version, json text_edits,
                    bool document_changes) {
  if (document_changes) {
    json id = {{"uri", uri}, {"version", version ? json(*version) : json(nullptr)}};
    return json{{"documentChanges",
                 json::array({json{{"textDocument", id}, {"edits", std::move(text_edits)}}})}};
  }
  return json{{"changes", json{{uri, std::move(text_edits)}}}};
}

json code_actions(const CodeActionInput& in, const checks::Engine& engine) {
  json actions = json::array();
  std::optional<checks::LineIndex> lines;
  if (in.text) lines.emplace(*in.text);
  std::set<std::pair<uint32_t, std::string>> ignored;
  for (const json& diag : in.diagnostics) {
    if (!diag.is_object() || diag.value("source", "") != "oomlint") continue;
    const json* code_v = find_member(diag, "code");
    if (!code_v || !code_v->is_string()) continue;
    std::string code = code_v->get<std::string>();
    if (!kind_wanted(in.only, "quickfix")) continue;
    const json* fix = find_path(diag, "data.fix");
    if (fix && fix->is_object() && find_member(*fix, "edits") && (*fix)["edits"].is_array()) {
      bool safe = fix->value("applicability", "") == "safe";
      std::string title = fix->value("title", "Apply the oomlint fix");
      actions.push_back(
          {{"title", title + " (" + code + ")"},
           {"kind", "quickfix"},
           {"diagnostics", json::array({diag})},
           {"isPreferred", safe},
           {"edit", workspace_edit(in.uri, in.version, (*fix)["edits"], in.document_changes)}});
    }
    if (in.text && in.python) {
      const json* range = find_member(diag, "range");
      if (!range) continue;
      Range r = parse_range(*range);
      uint32_t line = r.start.line;
      if (!ignored.emplace(line, code).second) continue;
      if (auto e = noqa_edit(*in.text, line, code)) {
        actions.push_back(
            {{"title", "Ignore " + code + " on this line"},
             {"kind", "quickfix"},
             {"diagnostics", json::array({diag})},
             {"edit", workspace_edit(in.uri, in.version, to_text_edits(*lines, {*e}, in.encoding),
                                     in.document_changes)}});
      }
    }
  }
  if (in.text && in.python && kind_wanted(in.only, kFixAllKind)) {
    std::optional<std::string> fixed;
    if (in.fixed_text) {
      fixed = in.fixed_text();
    } else {
      fixed = checks::apply_fixes(engine, *in.text, /*unsafe=*/false).text;
    }
    auto edits = fixed ? minimal_line_edit(*in.text, *fixed) : std::vector<checks::Edit>{};
    if (!edits.empty()) {
      actions.push_back(
          {{"title", "oomlint: fix all safe issues"},
           {"kind", std::string(kFixAllKind)},
           {"edit", workspace_edit(in.uri, in.version, to_text_edits(*lines, edits, in.encoding),
                                   in.document_changes)}});
    }
  }
  return actions;
}

} // namespace oomlint::lsp
