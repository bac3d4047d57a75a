#include "cli/adoption.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/fix_writer.h"
#include "cli/renderers.h"
#include "ts.h"

namespace oomlint::cli {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

bool is_code_char(char c) {
  return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
}

// Where a `# noqa` directive starts in `line` (the '#'), and the offset just after "noqa" (and
// its ':' when there is one); npos when the line has none.
size_t find_noqa(std::string_view line, size_t& after, bool& with_colon) {
  for (size_t hash = line.find('#'); hash != std::string_view::npos;
       hash = line.find('#', hash + 1)) {
    size_t i = hash + 1;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      ++i;
    if (line.size() - i < 4) continue;
    std::string word(line.substr(i, 4));
    for (char& c : word)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (word != "noqa") continue;
    i += 4;
    if (i < line.size() && line[i] == ':') {
      with_colon = true;
      after = i + 1;
      return hash;
    }
    if (i < line.size() && std::isalnum(static_cast<unsigned char>(line[i]))) continue;
    with_colon = false;
    after = i;
    return hash;
  }
  return std::string_view::npos;
}

// The byte ranges of the string literals that span lines: a comment appended to a line that ends
// inside one would become part of the string.
std::vector<std::pair<uint32_t, uint32_t>> multiline_strings(std::string_view text) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  if (text.find("\"\"\"") == std::string_view::npos && text.find("'''") == std::string_view::npos &&
      text.find("\\\n") == std::string_view::npos) {
    return out; // no triple quote and no backslash-newline: no string spans lines
  }
  ts::Parser parser;
  ts::Tree tree = parser.parse(text);
  if (!tree) return out;
  std::vector<ts::Node> stack{tree.root()};
  while (!stack.empty()) {
    ts::Node n = stack.back();
    stack.pop_back();
    if (n.null()) continue;
    if (n.is_kind("string")) {
      std::string_view body = text.substr(n.start(), n.end() - n.start());
      if (body.find('\n') != std::string_view::npos) out.emplace_back(n.start(), n.end());
      continue;
    }
    for (ts::Node c = n.first_child(); !c.null(); c = c.next_sibling())
      stack.push_back(c);
  }
  return out;
}

} // namespace

std::string add_noqa_to_text(std::string_view text,
                             const std::map<uint32_t, std::set<std::string>>& codes_by_line,
                             size_t& changed, std::vector<uint32_t>* skipped) {
  changed = 0;
  std::string out;
  out.reserve(text.size() + codes_by_line.size() * 16);
  auto strings = codes_by_line.empty() ? std::vector<std::pair<uint32_t, uint32_t>>()
                                       : multiline_strings(text);
  auto in_string = [&](size_t offset) {
    for (const auto& [from, to] : strings) {
      if (offset > from && offset < to) return true;
    }
    return false;
  };
  uint32_t line_no = 1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find_first_of("\r\n", pos);
    size_t content_end = eol == std::string_view::npos ? text.size() : eol;
    size_t next = content_end;
    if (next < text.size())
      next += (text[next] == '\r' && next + 1 < text.size() && text[next + 1] == '\n') ? 2 : 1;
    std::string_view line = text.substr(pos, content_end - pos);
    std::string_view ending = text.substr(content_end, next - content_end);
    auto it = codes_by_line.find(line_no);
    if (it == codes_by_line.end() || it->second.empty()) {
      out.append(line);
    } else {
      size_t after = 0;
      bool with_colon = false;
      size_t hash = find_noqa(line, after, with_colon);
      std::string_view trimmed = line.substr(0, line.find_last_not_of(" \t") + 1);
      if (hash == std::string_view::npos &&
          (trimmed.ends_with('\\') || in_string(pos + line.size()))) {
        // A comment after a line continuation would be a syntax error, and one on a line that
        // ends inside a string literal would be part of the string.
        if (skipped) skipped->push_back(line_no);
        out.append(line);
      } else if (hash == std::string_view::npos) {
        std::string list;
        for (const auto& c : it->second)
          list += (list.empty() ? "" : ", ") + c;
        out.append(trimmed);
        out += "  # noqa: " + list;
        ++changed;
      } else if (!with_colon) {
        out.append(line); // a bare `# noqa` already silences the whole line
      } else {
        // Merge into the existing list: read its codes, add the missing ones after the last.
        std::set<std::string> present;
        size_t i = after, last_end = after;
        for (;;) {
          while (i < line.size() && (line[i] == ' ' || line[i] == ',' || line[i] == '\t'))
            ++i;
          size_t start = i;
          while (i < line.size() && is_code_char(line[i]))
            ++i;
          if (i == start) break;
          present.emplace(line.substr(start, i - start));
          last_end = i;
        }
        std::string added;
        for (const auto& c : it->second) {
          if (!present.count(c)) added += (present.empty() && added.empty() ? " " : ", ") + c;
        }
        out.append(line.substr(0, last_end));
        out += added;
        out.append(line.substr(last_end));
        if (!added.empty()) ++changed;
      }
    }
    out.append(ending);
    pos = next;
    ++line_no;
  }
  return out;
}

// ---- baselines ----

namespace {

constexpr std::string_view kBaselineKey = "oomlint-baseline";

// Each finding's fingerprint, paths relative to `root`, in finding order.
std::vector<std::string> fingerprints_of(const std::vector<Finding>& findings,
                                         const fs::path& root) {
  std::vector<std::string> out;
  out.reserve(findings.size());
  std::map<std::string, int> seen;
  for (const auto& f : findings) {
    std::string path = finding_path(f, root);
    // line_fingerprint trims the line; count occurrences on the same trimmed key.
    std::string print0 = line_fingerprint(f.diagnostic.code, path, f.line_text, 0);
    int occurrence = seen[print0]++;
    out.push_back(line_fingerprint(f.diagnostic.code, path, f.line_text, occurrence));
  }
  return out;
}

fs::path root_of(const fs::path& baseline_file) {
  std::error_code ec;
  fs::path abs = fs::absolute(baseline_file, ec);
  if (ec) abs = baseline_file;
  return abs.lexically_normal().parent_path();
}

} // namespace

std::optional<Baseline> load_baseline(const fs::path& file, std::string& error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = "cannot read the baseline " + file.string() + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  Json j = Json::parse(buf.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains(kBaselineKey) || !j.contains("findings") ||
      !j["findings"].is_array()) {
    error = "the baseline " + file.string() +
            " is not an oomlint baseline (write one with --write-baseline)";
    return std::nullopt;
  }
  Baseline b;
  b.root = root_of(file);
  for (const auto& e : j["findings"]) {
    if (!e.is_object() || !e.contains("fingerprint") || !e["fingerprint"].is_string()) {
      error = "the baseline " + file.string() + " has an entry without a \"fingerprint\" string";
      return std::nullopt;
    }
    ++b.fingerprints[e["fingerprint"].get<std::string>()];
  }
  return b;
}

std::string write_baseline(const fs::path& file, const std::vector<Finding>& findings) {
  fs::path root = root_of(file);
  auto prints = fingerprints_of(findings, root);
  Json list = Json::array();
  for (size_t i = 0; i < findings.size(); ++i) {
    const auto& f = findings[i];
    Json e{{"fingerprint", prints[i]},
           {"code", f.diagnostic.code},
           {"path", finding_path(f, root)},
           {"line", f.location.row}};
    if (f.cell) e["cell"] = *f.cell;
    list.push_back(std::move(e));
  }
  Json j{{kBaselineKey, 1}, {"findings", list}};
  std::string content = j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
  // write_file_atomically replaces a file only if it still holds what was read.
  std::string previous;
  std::error_code ec;
  if (fs::exists(file, ec)) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return "cannot read " + file.string() + ": " + std::strerror(errno);
    std::stringstream buf;
    buf << in.rdbuf();
    previous = buf.str();
  } else {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return "cannot create " + file.string() + ": " + std::strerror(errno);
    ::close(fd);
  }
  return write_file_atomically(file, previous, content);
}

size_t filter_baseline(std::vector<Finding>& findings, const Baseline& baseline) {
  auto prints = fingerprints_of(findings, baseline.root);
  std::map<std::string, int> left = baseline.fingerprints;
  std::vector<Finding> kept;
  kept.reserve(findings.size());
  size_t removed = 0;
  for (size_t i = 0; i < findings.size(); ++i) {
    auto it = left.find(prints[i]);
    if (it != left.end() && it->second > 0) {
      --it->second;
      ++removed;
      continue;
    }
    kept.push_back(std::move(findings[i]));
  }
  findings.swap(kept);
  return removed;
}

// ---- --watch ----

namespace {

std::atomic<int> g_watch_signal{0};

extern "C" void on_watch_signal(int sig) {
  g_watch_signal.store(sig);
}

bool watched_file(const fs::path& p) {
  auto ext = p.extension();
  return ext == ".py" || ext == ".ipynb" || ext == ".json" || ext == ".toml" || ext == ".pyi";
}

void mix(uint64_t& h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
}

void mix_file(uint64_t& h, const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return;
  for (unsigned char c : p.native())
    mix(h, c);
  mix(h, static_cast<uint64_t>(st.st_size));
  mix(h, static_cast<uint64_t>(st.st_mtim.tv_sec));
  mix(h, static_cast<uint64_t>(st.st_mtim.tv_nsec));
}

} // namespace

uint64_t watch_stamp(const std::vector<std::string>& paths) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& path : paths) {
    std::error_code ec;
    if (path == "-") continue;
    if (!fs::is_directory(path, ec)) {
      mix_file(h, path);
      continue;
    }
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& p = it->path();
      std::string name = p.filename().string();
      if (it->is_directory(ec)) {
        if ((name.starts_with('.') && name != "." && name != "..") || name == "__pycache__" ||
            name == "node_modules") {
          it.disable_recursion_pending();
        }
        continue;
      }
      if (watched_file(p)) mix_file(h, p);
    }
  }
  return h;
}

int watch_loop(const std::vector<std::string>& paths, const std::function<int()>& once,
               std::chrono::milliseconds interval) {
  struct sigaction sa {};
  sa.sa_handler = on_watch_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_watch_signal.store(0);
  auto now = [] {
    std::time_t t = std::time(nullptr);
    char buf[16];
    std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&t));
    return std::string(buf);
  };
  std::cerr << "[" << now() << "] Starting linter in watch mode...\n";
  uint64_t stamp = watch_stamp(paths);
  once();
  std::cout << std::flush;
  while (g_watch_signal.load() == 0) {
    struct timespec ts {};
    ts.tv_sec = static_cast<time_t>(interval.count() / 1000);
    ts.tv_nsec = static_cast<long>(interval.count() % 1000) * 1000000L;
    nanosleep(&ts, nullptr); // a signal ends the sleep early
    if (g_watch_signal.load() != 0) break;
    uint64_t now_stamp = watch_stamp(paths);
    if (now_stamp == stamp) continue;
    stamp = now_stamp;
    std::cerr << "[" << now() << "] File change detected...\n";
    once();
    std::cout << std::flush;
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  std::cerr << "oomlint: watch stopped\n";
  return 0;
}

} // namespace oomlint::cli
