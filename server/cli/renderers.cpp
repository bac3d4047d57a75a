#include "cli/renderers.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "doc_links.h"
#include "line_index.h"
#include "registry.h"

#ifndef OOMLINT_VERSION
#define OOMLINT_VERSION "0.0.0"
#endif

namespace oomlint::cli {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kYellow = "\x1b[33m";
constexpr std::string_view kCyan = "\x1b[36m";
constexpr std::string_view kBlue = "\x1b[34m";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

struct Paint {
  bool on;
  std::string operator()(std::string_view style, std::string_view text) const {
    if (!on) return std::string(text);
    return std::string(style) + std::string(text) + std::string(kReset);
  }
};

std::string_view severity_colour(checks::Severity s) {
  switch (s) {
  case checks::Severity::Error:
    return kRed;
  case checks::Severity::Warning:
    return kYellow;
  case checks::Severity::Info:
    return kCyan;
  }
  return kYellow;
}

std::string position(const Finding& f) {
  std::string out = f.display + ":";
  if (f.cell) out += "cell " + std::to_string(*f.cell) + ":";
  out += std::to_string(f.location.row) + ":" + std::to_string(f.location.column);
  return out;
}

// Decodes one code point the way LineIndex counts them; returns its byte length.
size_t next_code_point(std::string_view s, size_t i, bool& valid) {
  auto b = static_cast<unsigned char>(s[i]);
  int n = checks::utf8_sequence_length(b);
  valid = b < 0x80 || n > 1;
  if (n == 1) return 1;
  if (i + static_cast<size_t>(n) > s.size()) {
    valid = false;
    return 1;
  }
  for (int k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
      valid = false;
      return 1;
    }
  }
  return static_cast<size_t>(n);
}

void render_text(std::ostream& out, const Finding& f, const RenderOptions& o) {
  Paint paint{o.color};
  const auto& d = f.diagnostic;
  out << paint(kBold, position(f)) << ": " << paint(std::string(kBold) + std::string(kRed), d.code)
      << " "
      << paint(severity_colour(d.severity), "[" + std::string(checks::to_string(d.severity)) + "]")
      << " " << d.message << "\n";
  std::vector<size_t> cols;
  std::string line = printable_line(f.line_text, &cols);
  std::string row = std::to_string(f.location.row);
  std::string gutter(row.size(), ' ');
  size_t start_cp = f.location.column - 1;
  size_t end_cp =
      f.end_location.row == f.location.row ? f.end_location.column - 1 : cols.size() - 1;
  start_cp = std::min(start_cp, cols.size() - 1);
  end_cp = std::clamp(end_cp, start_cp, cols.size() - 1);
  size_t caret_at = cols[start_cp];
  size_t caret_len = std::max<size_t>(1, cols[end_cp] - cols[start_cp]);
  out << paint(kBlue, gutter + " |") << "\n";
  out << paint(kBlue, row + " |") << " " << line << "\n";
  out << paint(kBlue, gutter + " |") << " " << std::string(caret_at, ' ')
      << paint(std::string(kBold) + std::string(severity_colour(d.severity)),
               std::string(caret_len, '^'))
      << "\n";
  if (d.fix) {
    std::string kind = d.fix->applicability == checks::Applicability::Safe
                           ? ""
                           : " (unsafe fix: needs --unsafe-fixes)";
    out << paint(kBlue, gutter + " =") << " " << paint(kCyan, "help") << ": " << d.fix->title
        << kind << "\n";
  }
  out << "\n";
}

void render_concise(std::ostream& out, const Finding& f, const RenderOptions& o) {
  Paint paint{o.color};
  out << paint(kBold, position(f)) << ": "
      << paint(std::string(kBold) + std::string(kRed), f.diagnostic.code)
      << (is_fixable(f, o.unsafe_fixes) ? " [*]" : "") << " " << f.diagnostic.message << "\n";
}

Json location_json(const Location& l) {
  return Json{{"row", l.row}, {"column", l.column}};
}

Json fix_json(const Finding& f) {
  if (!f.diagnostic.fix) return nullptr;
  Json edits = Json::array();
  for (const auto& e : f.edits) {
    edits.push_back(Json{{"content", e.content},
                         {"location", location_json(e.location)},
                         {"end_location", location_json(e.end_location)}});
  }
  return Json{{"applicability", std::string(checks::to_string(f.diagnostic.fix->applicability))},
              {"message", f.diagnostic.fix->title},
              {"edits", edits}};
}

const std::string& docs_base_of(const RenderOptions& o) {
  return o.docs_base.empty() ? checks::default_docs_base() : o.docs_base;
}

void render_json(std::ostream& out, const std::vector<Finding>& findings, const RenderOptions& o) {
  const std::string& base = docs_base_of(o);
  Json arr = Json::array();
  for (const auto& f : findings) {
    const auto& d = f.diagnostic;
    Json j{{"filename", f.absolute},
           {"code", d.code},
           {"slug", d.slug},
           {"section", d.section},
           {"severity", std::string(checks::to_string(d.severity))},
           {"message", d.message},
           {"location", location_json(f.location)},
           {"end_location", location_json(f.end_location)},
           {"fix", fix_json(f)},
           {"url", checks::rule_doc(d.code).empty() ? Json(nullptr)
                                                    : Json(checks::rule_url(d.code, base))},
           {"noqa_row", f.location.row}};
    j["cell"] = f.cell ? Json(*f.cell) : Json(nullptr);
    arr.push_back(std::move(j));
  }
  out << arr.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

std::string sarif_level(checks::Severity s) {
  switch (s) {
  case checks::Severity::Error:
    return "error";
  case checks::Severity::Warning:
    return "warning";
  case checks::Severity::Info:
    return "note";
  }
  return "warning";
}

std::string fnv1a_hex(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::ostringstream os;
  os << std::hex;
  os.width(16);
  os.fill('0');
  os << h;
  return os.str();
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

void render_sarif(std::ostream& out, const std::vector<Finding>& findings, const RenderOptions& o) {
  const std::string& docs = docs_base_of(o);
  Json rules = Json::array();
  std::map<std::string, size_t> rule_index;
  for (const checks::Rule* r : checks::all_rules()) {
    const auto& m = r->meta();
    // The page's relative links ([M7](../guide/M7.md)) made absolute: a SARIF viewer shows the
    // help away from docs/.
    std::string doc = checks::absolute_doc_links(checks::rule_doc(m.code), "rules/", docs);
    Json rule{{"id", std::string(m.code)},
              {"name", std::string(m.slug)},
              {"shortDescription", Json{{"text", std::string(m.summary)}}},
              {"fullDescription", Json{{"text", std::string(m.summary)}}},
              {"help", Json{{"text", doc.empty() ? std::string(m.summary) : doc},
                            {"markdown", doc.empty() ? std::string(m.summary) : doc}}},
              {"helpUri", checks::rule_url(m.code, docs)},
              {"defaultConfiguration", Json{{"level", sarif_level(m.severity)}}},
              {"properties", Json{{"tags", Json::array({"memory", std::string(m.section)})}}}};
    rule_index[std::string(m.code)] = rules.size();
    rules.push_back(std::move(rule));
  }
  Json results = Json::array();
  std::map<std::string, int> seen; // fingerprint base -> occurrences so far
  for (const auto& f : findings) {
    const auto& d = f.diagnostic;
    std::filesystem::path abs(f.absolute);
    std::filesystem::path rel = abs.lexically_relative(o.sarif_root);
    Json artifact;
    std::string rel_s = rel.generic_string();
    if (!rel_s.empty() && rel_s != "." && !rel_s.starts_with("..") && abs.is_absolute()) {
      artifact = Json{{"uri", checks::percent_encode_path(rel_s)}, {"uriBaseId", "%SRCROOT%"}};
    } else if (abs.is_absolute()) {
      artifact = Json{{"uri", "file://" + checks::percent_encode_path(abs.generic_string())}};
    } else {
      artifact = Json{{"uri", checks::percent_encode_path(f.display)}};
      rel_s = f.display;
    }
    Json region{{"startLine", f.location.row},
                {"startColumn", f.location.column},
                {"endLine", f.end_location.row},
                {"endColumn", f.end_location.column}};
    std::string base = d.code + "\n" + rel_s + "\n" + trim(f.line_text);
    int occurrence = seen[base]++;
    std::string fingerprint = line_fingerprint(d.code, rel_s, f.line_text, occurrence);
    Json result{{"ruleId", d.code},
                {"level", sarif_level(d.severity)},
                {"message", Json{{"text", d.message}}},
                {"locations",
                 Json::array({Json{{"physicalLocation",
                                    Json{{"artifactLocation", artifact}, {"region", region}}}}})},
                {"partialFingerprints", Json{{"oomlintLineHash/v1", fingerprint}}}};
    auto it = rule_index.find(d.code);
    if (it != rule_index.end()) result["ruleIndex"] = it->second;
    if (f.cell) result["properties"] = Json{{"cell", *f.cell}};
    results.push_back(std::move(result));
  }
  std::string root_uri = "file://" + checks::percent_encode_path(o.sarif_root.generic_string());
  if (!root_uri.ends_with("/")) root_uri += "/";
  Json run{{"tool", Json{{"driver", Json{{"name", "oomlint"},
                                         {"version", OOMLINT_VERSION},
                                         {"semanticVersion", OOMLINT_VERSION},
                                         {"informationUri", "https://github.com/oomlint/oomlint"},
                                         {"rules", rules}}}}},
           {"originalUriBaseIds", Json{{"%SRCROOT%", Json{{"uri", root_uri}}}}},
           {"columnKind", "unicodeCodePoints"},
           {"results", results}};
  Json sarif{{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
             {"version", "2.1.0"},
             {"runs", Json::array({run})}};
  out << sarif.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

// GitHub workflow command escaping.
std::string gh_escape_data(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%')
      out += "%25";
    else if (c == '\r')
      out += "%0D";
    else if (c == '\n')
      out += "%0A";
    else
      out += c;
  }
  return out;
}

std::string gh_escape_property(std::string_view s) {
  std::string out;
  for (char c : gh_escape_data(s)) {
    if (c == ':')
      out += "%3A";
    else if (c == ',')
      out += "%2C";
    else
      out += c;
  }
  return out;
}

void render_github(std::ostream& out, const Finding& f) {
  const auto& d = f.diagnostic;
  std::string kind = d.severity == checks::Severity::Error     ? "error"
                     : d.severity == checks::Severity::Warning ? "warning"
                                                               : "notice";
  std::string file = f.display;
  out << "::" << kind << " file=" << gh_escape_property(file) << ",line=" << f.location.row
      << ",col=" << f.location.column << ",endLine=" << f.end_location.row
      << ",endColumn=" << f.end_location.column << ",title=" << gh_escape_property(d.code) << "::"
      << gh_escape_data((f.cell ? "cell " + std::to_string(*f.cell) + ": " : "") + d.code + " " +
                        d.message)
      << "\n";
}

// GitLab Code Quality: an array of issues with description, check_name, fingerprint, severity
// (info|minor|major|critical|blocker) and location {path, lines {begin}}; paths relative to the
// repository root, as the merge request widget matches them.
void render_gitlab(std::ostream& out, const std::vector<Finding>& findings,
                   const RenderOptions& o) {
  Json issues = Json::array();
  std::map<std::string, int> seen;
  for (const auto& f : findings) {
    const auto& d = f.diagnostic;
    std::string path = finding_path(f, o.sarif_root);
    int occurrence = seen[d.code + "\n" + path + "\n" + trim(f.line_text)]++;
    std::string severity = d.severity == checks::Severity::Error     ? "major"
                           : d.severity == checks::Severity::Warning ? "minor"
                                                                     : "info";
    Json issue{{"type", "issue"},
               {"check_name", d.code},
               {"description", d.code + " " + d.message},
               {"categories", Json::array({"Performance"})},
               {"severity", severity},
               {"fingerprint", line_fingerprint(d.code, path, f.line_text, occurrence)},
               {"location",
                Json{{"path", path},
                     {"lines", Json{{"begin", f.location.row}, {"end", f.end_location.row}}}}}};
    issues.push_back(std::move(issue));
  }
  out << issues.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

} // namespace

std::string line_fingerprint(std::string_view code, std::string_view path,
                             std::string_view line_text, int occurrence) {
  std::string base = std::string(code) + "\n" + std::string(path) + "\n" + trim(line_text);
  return fnv1a_hex(base) + ":" + std::to_string(occurrence + 1);
}

std::string finding_path(const Finding& f, const std::filesystem::path& root) {
  std::filesystem::path abs(f.absolute);
  if (!abs.is_absolute()) return f.display;
  std::string rel = abs.lexically_relative(root).generic_string();
  if (!rel.empty() && rel != "." && !rel.starts_with("..")) return rel;
  return abs.generic_string();
}

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "text" || name == "full") return OutputFormat::Text;
  if (name == "concise") return OutputFormat::Concise;
  if (name == "json") return OutputFormat::Json;
  if (name == "sarif") return OutputFormat::Sarif;
  if (name == "github") return OutputFormat::Github;
  if (name == "gitlab") return OutputFormat::Gitlab;
  return std::nullopt;
}

bool is_fixable(const Finding& f, bool unsafe_fixes) {
  if (!f.diagnostic.fix || f.diagnostic.fix->edits.empty()) return false;
  return unsafe_fixes || f.diagnostic.fix->applicability == checks::Applicability::Safe;
}

std::string printable_line(std::string_view line, std::vector<size_t>* columns) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.remove_suffix(1);
  std::string out;
  size_t col = 0;
  for (size_t i = 0; i < line.size();) {
    bool valid = false;
    size_t n = next_code_point(line, i, valid);
    if (columns) columns->push_back(col);
    auto b = static_cast<unsigned char>(line[i]);
    if (b == '\t') {
      size_t width = 4 - col % 4;
      out.append(width, ' ');
      col += width;
    } else if (!valid || b < 0x20 || b == 0x7f ||
               (n == 2 && b == 0xC2 && static_cast<unsigned char>(line[i + 1]) < 0xA0)) {
      out += kReplacement; // invalid bytes, control characters (C0, DEL, C1)
      ++col;
    } else {
      out.append(line.substr(i, n));
      ++col;
    }
    i += n;
  }
  if (columns) columns->push_back(col);
  return out;
}

void render_findings(std::ostream& out, const std::vector<Finding>& findings,
                     const RenderOptions& o) {
  switch (o.format) {
  case OutputFormat::Text:
    for (const auto& f : findings)
      render_text(out, f, o);
    break;
  case OutputFormat::Concise:
    for (const auto& f : findings)
      render_concise(out, f, o);
    break;
  case OutputFormat::Json:
    render_json(out, findings, o);
    break;
  case OutputFormat::Sarif:
    render_sarif(out, findings, o);
    break;
  case OutputFormat::Github:
    for (const auto& f : findings)
      render_github(out, f);
    break;
  case OutputFormat::Gitlab:
    render_gitlab(out, findings, o);
    break;
  }
}

void render_statistics(std::ostream& out, const std::vector<Finding>& findings,
                       const RenderOptions& o) {
  struct Row {
    std::string code, slug;
    size_t count = 0;
    size_t fixable = 0;
  };
  std::map<std::string, Row> by_code;
  for (const auto& f : findings) {
    Row& r = by_code[f.diagnostic.code];
    r.code = f.diagnostic.code;
    r.slug = f.diagnostic.slug;
    ++r.count;
    if (is_fixable(f, o.unsafe_fixes)) ++r.fixable;
  }
  std::vector<Row> rows;
  for (auto& [k, r] : by_code)
    rows.push_back(r);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.count > b.count; });
  if (o.format == OutputFormat::Json) {
    Json arr = Json::array();
    for (const auto& r : rows) {
      arr.push_back(Json{{"code", r.code},
                         {"slug", r.slug},
                         {"count", r.count},
                         {"fixable", r.fixable == r.count}});
    }
    out << arr.dump(2) << "\n";
    return;
  }
  size_t count_w = 1, code_w = 1;
  for (const auto& r : rows) {
    count_w = std::max(count_w, std::to_string(r.count).size());
    code_w = std::max(code_w, r.code.size());
  }
  bool any_fixable = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.fixable; });
  for (const auto& r : rows) {
    std::string count = std::to_string(r.count);
    out << std::string(count_w - count.size(), ' ') << count << "\t" << r.code
        << std::string(code_w - r.code.size(), ' ') << "\t"
        << (any_fixable ? (r.fixable == r.count ? "[*] " : "[ ] ") : "") << r.slug << "\n";
  }
}

std::string summary_line(const std::vector<Finding>& findings, bool unsafe_fixes) {
  if (findings.empty()) return "All checks passed!";
  size_t safe = 0, unsafe = 0;
  for (const auto& f : findings) {
    if (!f.diagnostic.fix || f.diagnostic.fix->edits.empty()) continue;
    if (f.diagnostic.fix->applicability == checks::Applicability::Safe)
      ++safe;
    else
      ++unsafe;
  }
  size_t n = findings.size();
  std::string out = "Found " + std::to_string(n) + (n == 1 ? " problem" : " problems");
  if (unsafe_fixes) safe += unsafe, unsafe = 0;
  if (safe == 0 && unsafe == 0) return out + ".";
  out += " (" + std::to_string(safe) + " fixable with --fix";
  if (unsafe > 0) {
    out += "; " + std::to_string(unsafe) + " more with --fix --unsafe-fixes";
  }
  return out + ").";
}

} // namespace oomlint::cli
