#include "doc_links.h"

#include <cctype>
#include <vector>

#ifndef OOMLINT_SOURCE_DOCS_DIR
#define OOMLINT_SOURCE_DOCS_DIR ""
#endif

namespace oomlint::checks {

namespace fs = std::filesystem;

namespace generated {
const char* hosted_docs_url();
} // namespace generated

namespace {

std::string with_slash(std::string s) {
  if (s.empty() || s.back() != '/') s += '/';
  return s;
}

// A documentation tree: both kinds of page are there.
bool is_docs_tree(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "guide" / "README.md", ec) &&
         fs::is_directory(dir / "rules", ec);
}

// "guide/../rules/OOM011.md" -> "rules/OOM011.md"; nullopt if it climbs out of the tree.
std::optional<std::string> normalize(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = slash + 1;
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

bool has_scheme(std::string_view target) {
  size_t colon = target.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = target[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.'))
      return false;
  }
  return true;
}

} // namespace

std::string percent_encode_path(std::string_view path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string file_url(const fs::path& absolute) {
  return "file://" + percent_encode_path(absolute.generic_string());
}

std::string docs_base_for(const DocsLocations& where) {
  if (!where.executable.empty()) {
    // <prefix>/bin/oomlint -> <prefix>/share/doc/oomlint/
    fs::path installed = where.executable.parent_path().parent_path() / "share" / "doc" / "oomlint";
    if (is_docs_tree(installed)) return with_slash(file_url(installed.lexically_normal()));
  }
  if (!where.executable.empty()) {
    // A wheel: <venv>/bin/oomlint and <venv>/lib/pythonX.Y/site-packages/oomlint/docs/.
    std::error_code ec;
    fs::path lib = where.executable.parent_path().parent_path() / "lib";
    for (fs::directory_iterator it(lib, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->path().filename().string().starts_with("python")) continue;
      fs::path docs = it->path() / "site-packages" / "oomlint" / "docs";
      if (is_docs_tree(docs)) return with_slash(file_url(docs.lexically_normal()));
    }
  }
  if (!where.source_docs.empty() && is_docs_tree(where.source_docs)) {
    return with_slash(file_url(where.source_docs.lexically_normal()));
  }
  return with_slash(where.hosted);
}

const std::string& default_docs_base() {
  static const std::string base = [] {
    DocsLocations where;
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) where.executable = exe;
    where.source_docs = OOMLINT_SOURCE_DOCS_DIR;
    where.hosted = generated::hosted_docs_url();
    return docs_base_for(where);
  }();
  return base;
}

std::optional<std::string> docs_base_from_setting(std::string_view value,
                                                  const fs::path& relative_to) {
  size_t b = value.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return std::nullopt;
  size_t e = value.find_last_not_of(" \t\r\n");
  std::string v(value.substr(b, e - b + 1));
  if (v.find("://") != std::string::npos) return with_slash(v);
  fs::path dir(v);
  if (dir.is_relative()) {
    std::error_code ec;
    fs::path anchor = relative_to.empty() ? fs::current_path(ec) : relative_to;
    dir = anchor / dir;
  }
  return with_slash(file_url(dir.lexically_normal()));
}

std::string docs_base(const std::optional<std::string>& setting, const fs::path& relative_to) {
  if (setting) {
    if (auto base = docs_base_from_setting(*setting, relative_to)) return *base;
  }
  return default_docs_base();
}

std::string rule_url(std::string_view code, std::string_view base) {
  return std::string(base) + "rules/" + std::string(code) + ".md";
}

std::string guide_url(std::string_view section, std::string_view base) {
  return std::string(base) + "guide/" + std::string(section) + ".md";
}

std::string guide_index_url(std::string_view base) {
  return std::string(base) + "guide/README.md";
}

std::string absolute_doc_links(std::string_view md, std::string_view page_dir,
                               std::string_view base) {
  std::string out;
  out.reserve(md.size() + 256);
  size_t pos = 0;
  bool in_fence = false;
  while (pos < md.size()) {
    size_t eol = md.find('\n', pos);
    size_t end = eol == std::string_view::npos ? md.size() : eol + 1;
    std::string_view line = md.substr(pos, end - pos);
    if (line.starts_with("```")) in_fence = !in_fence;
    if (in_fence || line.find("](") == std::string_view::npos) {
      out += line;
      pos = end;
      continue;
    }
    size_t at = 0;
    for (;;) {
      size_t open = line.find("](", at);
      size_t close = open == std::string_view::npos ? open : line.find(')', open + 2);
      if (close == std::string_view::npos) {
        out += line.substr(at);
        break;
      }
      out += line.substr(at, open + 2 - at);
      std::string_view target = line.substr(open + 2, close - open - 2);
      std::optional<std::string> joined;
      if (!target.empty() && !has_scheme(target) && target[0] != '#' && target[0] != '/') {
        joined = normalize(std::string(page_dir) + std::string(target));
      }
      if (joined) {
        out += std::string(base) + *joined;
      } else {
        out += target;
      }
      out += ')';
      at = close + 1;
    }
    pos = end;
  }
  return out;
}

} // namespace oomlint::checks
