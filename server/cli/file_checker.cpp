#include "cli/file_checker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <tuple>

#include <nlohmann/json.hpp>

#include "cli/diff.h"
#include "cli/fix_writer.h"
#include "cli/notebook.h"
#include "deepspeed_json.h"
#include "engine/fixes.h"
#include "line_index.h"

namespace oomlint::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

const checks::Engine& engine_of(const FileJob& job) {
  return job.engine ? *job.engine : job.lazy_engine->get();
}

// The file's path and project, for the engine (none for standard input without a file name).
checks::FileContext context_of(const FileJob& job, const FixOptions& opt) {
  checks::FileContext c;
  if (job.absolute.empty() || job.absolute == "-") return c;
  c.path = job.absolute;
  if (opt.projects) c.project = opt.projects->for_file(c.path);
  return c;
}

const checks::Settings& settings_of(const FileJob& job) {
  return job.engine ? job.engine->settings() : job.lazy_engine->settings();
}

Location location_of(const checks::LineIndex& lines, uint32_t offset) {
  return Location{lines.line_of(offset) + 1, lines.codepoint_column(offset) + 1};
}

// Diagnostics of `text` as findings. For notebooks `nb` maps lines to cells.
std::vector<Finding> to_findings(std::vector<checks::Diagnostic> diags, std::string_view text,
                                 const FileJob& job, const Notebook* nb) {
  std::vector<Finding> out;
  if (diags.empty()) return out;
  checks::LineIndex lines(text);
  auto place = [&](uint32_t offset, std::optional<uint32_t>& cell) -> std::optional<Location> {
    Location loc = location_of(lines, offset);
    if (!nb) return loc;
    auto cl = nb->map_line(loc.row - 1);
    if (!cl) return std::nullopt;
    cell = cl->cell;
    loc.row = cl->line;
    return loc;
  };
  out.reserve(diags.size());
  for (auto& d : diags) {
    Finding f;
    f.display = job.display;
    f.absolute = job.absolute;
    f.diagnostic = std::move(d);
    uint32_t size = static_cast<uint32_t>(text.size());
    f.diagnostic.start = std::min(f.diagnostic.start, size);
    f.diagnostic.end = std::clamp(f.diagnostic.end, f.diagnostic.start, size);
    std::optional<uint32_t> cell, end_cell;
    auto start = place(f.diagnostic.start, cell);
    if (!start) continue;
    auto end = place(f.diagnostic.end, end_cell);
    f.cell = cell;
    f.location = *start;
    f.end_location = end && end_cell == cell ? *end : *start;
    f.diagnostic.start_pos = {f.location.row, f.location.column};
    f.diagnostic.end_pos = {f.end_location.row, f.end_location.column};
    f.line_text = std::string(lines.line_text(lines.line_of(f.diagnostic.start)));
    if (f.diagnostic.fix) {
      for (const auto& e : f.diagnostic.fix->edits) {
        std::optional<uint32_t> c1, c2;
        uint32_t s = std::min(e.start, size), t = std::clamp(e.end, s, size);
        auto a = place(s, c1);
        auto b = place(t, c2);
        if (!a || !b) continue;
        f.edits.push_back(FindingEdit{e.text, *a, *b});
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

// The findings per code that are in `before` and no longer in `after` (--show-fixes).
std::map<std::string, size_t> fixed_per_code(const std::vector<checks::Diagnostic>& before,
                                             const std::vector<Finding>& after) {
  std::map<std::string, size_t> counts;
  for (const auto& d : before)
    ++counts[d.code];
  for (const auto& f : after) {
    auto it = counts.find(f.diagnostic.code);
    if (it != counts.end() && it->second > 0) --it->second;
  }
  std::erase_if(counts, [](const auto& kv) { return kv.second == 0; });
  return counts;
}

std::string apply_edits(std::string_view text, std::vector<checks::Edit> edits) {
  std::sort(edits.begin(), edits.end(),
            [](const checks::Edit& a, const checks::Edit& b) { return a.start > b.start; });
  std::string out(text);
  for (const auto& e : edits) {
    if (e.start > e.end || e.end > out.size()) continue;
    out.replace(e.start, e.end - e.start, e.text);
  }
  return out;
}

std::vector<checks::Diagnostic> check_json(std::string_view text, const checks::Settings& s) {
  auto diags = checks::check_deepspeed_json(text, s);
  std::erase_if(diags, [&](const checks::Diagnostic& d) { return !s.is_enabled(d.code); });
  return diags;
}

// Fixes for JSON configs: non-overlapping fixes per round, kept only while the JSON stays valid.
std::string fix_json(std::string text, const checks::Settings& s, bool unsafe, size_t& applied) {
  for (int round = 0; round < 10; ++round) {
    std::vector<checks::Edit> taken;
    size_t chosen = 0;
    for (const auto& d : check_json(text, s)) {
      if (!d.fix || d.fix->edits.empty()) continue;
      if (d.fix->applicability == checks::Applicability::Unsafe && !unsafe) continue;
      bool clash = false;
      for (const auto& e : d.fix->edits) {
        for (const auto& t : taken)
          clash = clash || (e.start < t.end && t.start < e.end) || (e.start == t.start);
      }
      if (clash) continue;
      taken.insert(taken.end(), d.fix->edits.begin(), d.fix->edits.end());
      ++chosen;
    }
    if (chosen == 0) break;
    std::string next = apply_edits(text, taken);
    if (next == text || !nlohmann::json::accept(next)) break;
    text = std::move(next);
    applied += chosen;
  }
  return text;
}

bool uses_cache(const FileJob& job, const FixOptions& opt) {
  return opt.cache && opt.mode == FixMode::None && !job.from_stdin && !opt.no_prefilter;
}

struct timespec wall_clock_now() {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return now;
}

// Findings from the results cache come without their file's paths.
std::vector<Finding> with_paths(std::vector<Finding> findings, const FileJob& job) {
  for (auto& f : findings) {
    f.display = job.display;
    f.absolute = job.absolute;
  }
  return findings;
}

// The findings of a plain check: from the results cache when this file was last checked with
// the same `bytes` and settings and what the check read of the project is as it was, else from
// `compute` (and then remembered, with what it read of the project). `stamp` is the settled
// stat() of the file the bytes were read from, if any.
template <class Compute>
std::vector<Finding> cached(const FileJob& job, const FixOptions& opt, std::string_view bytes,
                            const std::optional<FileStamp>& stamp, Compute&& compute) {
  if (!uses_cache(job, opt)) return compute();
  uint64_t hash = content_hash(bytes);
  if (auto hit = opt.cache->lookup(job.absolute, hash, job.settings_key, stamp)) {
    return with_paths(std::move(*hit), job);
  }
  checks::ProjectReads reads;
  std::vector<Finding> findings;
  {
    checks::RecordProjectReads record(reads);
    findings = compute();
  }
  opt.cache->store(job.absolute, hash, job.settings_key, findings, stamp, &reads);
  return findings;
}

size_t syntax_errors(std::string_view text) {
  ts::Parser parser;
  return checks::count_syntax_errors(parser.parse(text));
}

void sort_findings(std::vector<Finding>& f) {
  auto before = [](const Finding& a, const Finding& b) {
    return std::tie(a.cell, a.location.row, a.location.column, a.diagnostic.code) <
           std::tie(b.cell, b.location.row, b.location.column, b.diagnostic.code);
  };
  // The engine returns diagnostics by position, so this is usually a check and no moves.
  if (!std::is_sorted(f.begin(), f.end(), before)) std::stable_sort(f.begin(), f.end(), before);
}

// Writes `content` or records why not. Returns true when written.
bool commit(const FileJob& job, std::string_view raw, std::string_view content, FileOutcome& out) {
  if (job.from_stdin) {
    out.stdin_output = std::string(content);
    return true;
  }
  std::string err = write_file_atomically(job.path, raw, content);
  if (!err.empty()) {
    out.errors.push_back({job.display, err});
    return false;
  }
  return true;
}

void check_python(const FileJob& job, const std::string& raw, const std::optional<FileStamp>& stamp,
                  const FixOptions& opt, FileOutcome& out) {
  bool bom = std::string_view(raw).starts_with(kBom);
  // A view, not a copy: a plain check reads the text only.
  std::string_view text = std::string_view(raw).substr(bom ? kBom.size() : 0);
  if (opt.mode == FixMode::None) {
    out.findings = cached(job, opt, text, stamp, [&] {
      checks::FileContext file = context_of(job, opt);
      return to_findings(engine_of(job).check(text, opt.no_prefilter, &file), text, job, nullptr);
    });
    return;
  }
  const checks::Engine& engine = engine_of(job);
  checks::FileContext file = context_of(job, opt);
  if (!opt.no_prefilter && !engine.may_match(text, &file)) {
    if (job.from_stdin && opt.mode == FixMode::Apply) out.stdin_output = raw;
    return;
  }
  std::vector<checks::Diagnostic> before;
  if (opt.show_fixes && opt.mode == FixMode::Apply) before = engine.check(text, true, &file);
  checks::FixOutcome fo = checks::apply_fixes(engine, std::string(text), opt.unsafe, &file);
  std::string fixed = match_line_endings(text, fo.text);
  if (fixed == text) {
    out.findings = to_findings(fo.remaining, fo.text, job, nullptr);
    if (job.from_stdin && opt.mode == FixMode::Apply) out.stdin_output = raw;
    return;
  }
  if (syntax_errors(fixed) > syntax_errors(text)) {
    out.errors.push_back(
        {job.display, "fixes would introduce a syntax error; file left unchanged"});
    out.findings = to_findings(engine.check(text, true, &file), text, job, nullptr);
    return;
  }
  std::string new_raw = (bom ? std::string(kBom) : std::string()) + fixed;
  if (opt.mode == FixMode::Diff) {
    out.diff = unified_diff(raw, new_raw, job.display, job.display);
    out.fixed = fo.applied;
    return;
  }
  if (!commit(job, raw, new_raw, out)) {
    out.findings = to_findings(engine.check(text, true, &file), text, job, nullptr);
    return;
  }
  out.fixed = fo.applied;
  if (fixed == fo.text) {
    out.findings = to_findings(fo.remaining, fixed, job, nullptr);
  } else {
    out.findings = to_findings(engine.check(fixed, true, &file), fixed, job, nullptr);
  }
  if (opt.show_fixes) out.fixed_codes = fixed_per_code(before, out.findings);
}

void check_notebook(const FileJob& job, const std::string& raw,
                    const std::optional<FileStamp>& stamp, const FixOptions& opt,
                    FileOutcome& out) {
  std::string error;
  auto nb = Notebook::parse(raw, error);
  if (!nb) {
    out.errors.push_back({job.display, error});
    return;
  }
  if (!nb->is_python()) {
    if (job.from_stdin && opt.mode == FixMode::Apply) out.stdin_output = raw;
    return;
  }
  const std::string& src = nb->source();
  if (opt.mode == FixMode::None) {
    // Keyed on the whole notebook, not its code alone: the cells place the findings.
    out.findings = cached(job, opt, raw, stamp, [&] {
      checks::FileContext file = context_of(job, opt);
      return to_findings(engine_of(job).check(src, opt.no_prefilter, &file), src, job, &*nb);
    });
    return;
  }
  const checks::Engine& engine = engine_of(job);
  checks::FileContext file = context_of(job, opt);
  checks::FixOutcome fo = checks::apply_fixes(engine, src, opt.unsafe, &file);
  if (fo.text == src) {
    out.findings = to_findings(fo.remaining, src, job, &*nb);
    if (job.from_stdin && opt.mode == FixMode::Apply) out.stdin_output = raw;
    return;
  }
  auto rewritten = nb->rewrite(fo.text, error);
  if (!rewritten) {
    out.errors.push_back({job.display, error});
    out.findings = to_findings(engine.check(src, true, &file), src, job, &*nb);
    return;
  }
  std::string new_raw = match_line_endings(raw, *rewritten);
  if (opt.mode == FixMode::Diff) {
    auto before = nb->split(src);
    auto after = nb->split(fo.text);
    if (before && after) {
      for (size_t i = 0; i < before->size() && i < after->size(); ++i) {
        std::string name = job.display + ":cell " + std::to_string((*before)[i].first);
        out.diff += unified_diff((*before)[i].second, (*after)[i].second, name, name);
      }
    }
    out.fixed = fo.applied;
    return;
  }
  if (!commit(job, raw, new_raw, out)) {
    out.findings = to_findings(engine.check(src, true, &file), src, job, &*nb);
    return;
  }
  out.fixed = fo.applied;
  auto fixed_nb = Notebook::parse(new_raw, error);
  if (fixed_nb) {
    out.findings = to_findings(engine.check(fixed_nb->source(), true, &file), fixed_nb->source(),
                               job, &*fixed_nb);
  }
}

void check_deepspeed(const FileJob& job, const std::string& raw,
                     const std::optional<FileStamp>& stamp, const FixOptions& opt,
                     FileOutcome& out) {
  if (!checks::is_deepspeed_json(raw)) {
    if (job.explicit_path) {
      out.warnings.push_back(job.display + ": not a DeepSpeed config (no \"zero_optimization\"); "
                                           "skipped");
    }
    if (job.from_stdin && opt.mode == FixMode::Apply) out.stdin_output = raw;
    return;
  }
  const checks::Settings& s = settings_of(job);
  if (opt.mode == FixMode::None) {
    out.findings = cached(job, opt, raw, stamp,
                          [&] { return to_findings(check_json(raw, s), raw, job, nullptr); });
    return;
  }
  size_t applied = 0;
  std::string fixed = match_line_endings(raw, fix_json(raw, s, opt.unsafe, applied));
  if (fixed == raw) {
    out.findings = to_findings(check_json(raw, s), raw, job, nullptr);
    if (job.from_stdin && opt.mode == FixMode::Apply) out.stdin_output = raw;
    return;
  }
  if (opt.mode == FixMode::Diff) {
    out.diff = unified_diff(raw, fixed, job.display, job.display);
    out.fixed = applied;
    return;
  }
  if (!commit(job, raw, fixed, out)) {
    out.findings = to_findings(check_json(raw, s), raw, job, nullptr);
    return;
  }
  out.fixed = applied;
  out.findings = to_findings(check_json(fixed, s), fixed, job, nullptr);
}

} // namespace

std::optional<std::string> read_source_file(const std::string& path, std::string& error,
                                            struct stat* info) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  if (info) *info = st;
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    error = "is a directory";
    return std::nullopt;
  }
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxFileSize) {
    ::close(fd);
    error = "file is larger than 256 MiB (" + std::to_string(st.st_size) + " bytes); skipped";
    return std::nullopt;
  }
  // Read straight into the string: one byte more than stat() promised, so that the end of the
  // file usually shows in the second read() without growing the buffer.
  std::string data(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : size_t{65536}, '\0');
  size_t size = 0;
  for (;;) {
    // Past what stat() promised (a growing file, or a /proc file that claims 0 bytes): grow
    // by at least 64 KB, not one byte at a time.
    if (size == data.size()) data.resize(std::max(data.size() * 2, size_t{65536}));
    ssize_t n = ::read(fd, data.data() + size, data.size() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
    if (size > kMaxFileSize) {
      ::close(fd);
      error = "file is larger than 256 MiB; skipped";
      return std::nullopt;
    }
  }
  data.resize(size);
  ::close(fd);
  return data;
}

FileOutcome check_file(const FileJob& job, const FixOptions& options) {
  FileOutcome out;
  std::string raw;
  std::optional<FileStamp> stamp;
  if (job.from_stdin) {
    raw = job.stdin_text;
  } else {
    const bool cache = uses_cache(job, options);
    struct timespec now = cache ? wall_clock_now() : timespec{};
    // An unchanged file is not even read: the walk's stat() of it (job.info) is compared with
    // the one recorded when it was last read, and its findings come from the cache as they are.
    if (cache) {
      auto before = settled_stamp(job.info, now);
      if (before) {
        if (auto hit = options.cache->lookup_unchanged(job.absolute, *before, job.settings_key)) {
          out.findings = with_paths(std::move(*hit), job);
          sort_findings(out.findings); // as every other path leaves them (stored unsorted)
          return out;
        }
      }
    }
    struct stat st {};
    std::string error;
    auto data = read_source_file(job.path, error, &st);
    if (!data) {
      out.errors.push_back({job.display, error});
      return out;
    }
    raw = std::move(*data);
    if (cache) stamp = settled_stamp(st, now);
  }
  if (raw.size() > kMaxFileSize) {
    out.errors.push_back({job.display, "input is larger than 256 MiB; skipped"});
    return out;
  }
  switch (job.kind) {
  case FileKind::Python:
    check_python(job, raw, stamp, options, out);
    break;
  case FileKind::Notebook:
    check_notebook(job, raw, stamp, options, out);
    break;
  case FileKind::DeepSpeedJson:
    check_deepspeed(job, raw, stamp, options, out);
    break;
  }
  sort_findings(out.findings);
  return out;
}

} // namespace oomlint::cli
