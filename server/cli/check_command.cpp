#include "cli/check_command.h"
#include "cli/arguments.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <CLI/CLI.hpp>

#include "cli/adoption.h"
#include "cli/cache.h"
#include "cli/config.h"
#include "cli/discovery.h"
#include "cli/file_checker.h"
#include "cli/fix_writer.h"
#include "cli/libgit2.h"
#include "cli/renderers.h"
#include "cli/work_queue.h"
#include "cli/worker_memory.h"
#include "engine/engine.h"
#include "registry.h"
#include "suppression.h"

namespace oomlint::cli {

namespace fs = std::filesystem;

namespace {

// Files from this size up are checked one at a time (work_queue.h); on Debian's torch sources,
// ten files are that large.
constexpr uint64_t kLargeFileBytes = 192 * 1024;

// The module summaries the cache folder keeps at least (see SummaryFolder::prune).
constexpr size_t kKeptSummaries = 4096;

struct CheckArgs {
  std::vector<std::string> paths;
  bool fix = false;
  bool unsafe_fixes = false;
  bool diff = false;
  std::vector<std::string> select, ignore, extend_select, exclude;
  bool select_given = false;
  std::string target_gpu;
  std::string config;
  bool isolated = false;
  std::string output_format = "text";
  bool statistics = false;
  std::string color = "auto";
  bool exit_zero = false;
  int threads = 0;
  std::string stdin_filename;
  bool no_prefilter = false;
  bool quiet = false;
  bool no_cache = false;
  bool verbose = false;
  std::string cache_dir;
  bool add_noqa = false;
  std::string baseline, write_baseline;
  bool show_fixes = false;
  bool watch = false;
  std::string max_file_size;
  std::string docs_url;
};

void print_error(std::string_view path, std::string_view message) {
  std::cerr << "error: " << path << ": " << message << "\n";
}

// The git work tree around `cwd` (SARIF URIs are relative to it), else `cwd`.
fs::path source_root(const fs::path& cwd) {
  if (!may_be_in_git_work_tree(cwd)) return cwd;
  std::string error;
  const Libgit2* git = libgit2(error);
  if (!git) {
    std::cerr << "warning: SARIF locations are relative to the current directory: finding the git "
                 "work tree needs libgit2, which failed to load: "
              << error << "\n";
    return cwd;
  }
  git->libgit2_init();
  fs::path root = cwd;
  git_repository* repo = nullptr;
  if (git->repository_open_ext(&repo, cwd.c_str(), 0, nullptr) == 0) {
    if (const char* wd = git->repository_workdir(repo)) {
      root = fs::path(wd).lexically_normal();
      if (root.filename().empty()) root = root.parent_path();
    }
    git->repository_free(repo);
  }
  git->libgit2_shutdown();
  return root;
}

bool validate_selectors(const std::vector<std::string>& raw, std::string_view flag,
                        std::vector<std::string>& out) {
  for (const auto& item : raw) {
    for (auto& code : split_selectors(item)) {
      if (!is_known_selector(code)) {
        std::cerr << "error: " << flag << ": `" << code
                  << "` matches no rule (see `oomlint rule --all`)\n";
        return false;
      }
      out.push_back(std::move(code));
    }
  }
  return true;
}

bool use_color(std::string_view mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

std::string plural(size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

// --show-fixes: with --fix, what was fixed per file and rule (as Ruff); else the fixes offered.
void show_fixes(std::ostream& out, bool applied,
                const std::map<std::string, std::map<std::string, size_t>>& fixed_by_file,
                const std::vector<Finding>& findings, bool unsafe_fixes) {
  if (applied) {
    if (fixed_by_file.empty()) {
      out << "No fixes applied.\n";
      return;
    }
    size_t total = 0;
    for (const auto& [file, codes] : fixed_by_file)
      for (const auto& [code, n] : codes)
        total += n;
    out << "Fixed " << plural(total, "finding") << ":\n";
    for (const auto& [file, codes] : fixed_by_file) {
      out << "- " << file << ":\n";
      for (const auto& [code, n] : codes) {
        const checks::Rule* r = checks::find_rule(code);
        out << "    " << n << " \u00d7 " << code;
        if (r) out << " (" << r->meta().slug << ")";
        out << "\n";
      }
    }
    return;
  }
  size_t offered = 0;
  for (const auto& f : findings) {
    if (!f.diagnostic.fix || f.diagnostic.fix->edits.empty()) continue;
    bool safe = f.diagnostic.fix->applicability == checks::Applicability::Safe;
    if (offered++ == 0) out << "Fixes available:\n";
    out << "- " << f.display << ":" << f.location.row << ":" << f.location.column << ": "
        << f.diagnostic.code << " " << f.diagnostic.fix->title << " ("
        << (safe           ? "safe, --fix"
            : unsafe_fixes ? "unsafe, --fix"
                           : "unsafe, --unsafe-fixes")
        << ")\n";
  }
  if (offered == 0) out << "No fixes available.\n";
}

// --add-noqa: a `# noqa: CODES` comment on the first line of every finding, written atomically.
int add_noqa(const std::vector<FileJob>& jobs, const std::vector<Finding>& findings,
             const std::vector<FileError>& check_errors, bool quiet) {
  std::map<std::string, std::map<uint32_t, std::set<std::string>>> by_file;
  std::map<std::string, const FileJob*> job_of;
  for (const auto& j : jobs)
    job_of[j.absolute] = &j;
  size_t not_python = 0;
  for (const auto& f : findings) {
    if (f.diagnostic.code == checks::kUnusedNoqaCode) continue;
    auto it = job_of.find(f.absolute);
    if (it == job_of.end() || it->second->kind != FileKind::Python || f.cell) {
      ++not_python; // notebooks and JSON configs take no comment on a line
      continue;
    }
    by_file[f.absolute][f.location.row].insert(f.diagnostic.code);
  }
  std::vector<FileError> errors = check_errors;
  size_t added = 0, files = 0;
  FixInterruptGuard guard;
  for (const auto& [path, rows] : by_file) {
    if (fix_interrupted()) break;
    const FileJob& job = *job_of[path];
    std::string raw;
    {
      std::ifstream in(job.path, std::ios::binary);
      if (!in) {
        errors.push_back({job.display, "cannot read: " + std::string(std::strerror(errno))});
        continue;
      }
      std::stringstream buf;
      buf << in.rdbuf();
      raw = buf.str();
    }
    size_t changed = 0;
    std::vector<uint32_t> skipped;
    std::string updated = add_noqa_to_text(raw, rows, changed, &skipped);
    for (uint32_t line : skipped) {
      std::cerr << "warning: " << job.display << ":" << line
                << ": no `# noqa` added: the line ends in a continuation or inside a string\n";
    }
    if (changed == 0) continue;
    std::string err = write_file_atomically(job.path, raw, updated);
    if (!err.empty()) {
      errors.push_back({job.display, err});
      continue;
    }
    added += changed;
    ++files;
  }
  if (fix_interrupted()) {
    std::cerr << "oomlint: interrupted; every file is either updated or left unchanged\n";
    reraise_interrupt();
  }
  if (not_python > 0) {
    std::cerr << "warning: " << plural(not_python, "finding")
              << " in notebooks or JSON configs left unmarked (no `# noqa` there)\n";
  }
  if (!quiet) {
    std::cerr << "Added " << plural(added, "noqa directive") << " in " << plural(files, "file")
              << ".\n";
  }
  for (const auto& e : errors)
    print_error(e.path, e.message);
  return errors.empty() ? 0 : 2;
}

} // namespace

int run_check(const std::vector<std::string>& args) {
  CLI::App app{"Check Python training scripts, notebooks and DeepSpeed configs for GPU-memory "
               "mistakes.",
               "oomlint check"};
  CheckArgs a;
  app.add_option("paths", a.paths, "Files or directories to check (default: .); - reads stdin");
  app.add_flag("--fix", a.fix, "Apply safe fixes");
  app.add_flag("--unsafe-fixes", a.unsafe_fixes, "Also apply (and offer) unsafe fixes");
  app.add_flag("--diff", a.diff, "Print a diff of what --fix would change; write nothing");
  auto* select = app.add_option("--select", a.select,
                                "Rule codes or prefixes to enable (comma list), e.g. OOM2,OOM203")
                     ->allow_extra_args(false);
  app.add_option("--ignore", a.ignore, "Rule codes or prefixes to disable (comma list)")
      ->allow_extra_args(false);
  app.add_option("--extend-select", a.extend_select, "Rule codes or prefixes to enable in addition")
      ->allow_extra_args(false);
  app.add_option("--target-gpu", a.target_gpu,
                 "GPU generation: volta|turing|ampere|ada|hopper|blackwell");
  app.add_option("--exclude", a.exclude, "Glob of files or folders to skip (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--config", a.config, "Config file to use (pyproject.toml or oomlint.toml)");
  app.add_flag("--isolated", a.isolated, "Ignore all configuration files");
  app.add_option("--output-format", a.output_format,
                 "text (default), concise, json, sarif, github or gitlab");
  app.add_flag("--statistics", a.statistics, "Print counts per rule instead of the problems");
  app.add_option("--color", a.color, "Colour the text output: auto (default), always, never");
  app.add_flag("--exit-zero", a.exit_zero, "Exit with 0 even when problems are found");
  app.add_option("--threads", a.threads, "Worker threads (default: all cores)");
  app.add_option("--stdin-filename", a.stdin_filename,
                 "Name of the file read from stdin (for output and config lookup)");
  app.add_flag("-q,--quiet", a.quiet, "Print the problems only, no summary");
  app.add_flag("-v,--verbose", a.verbose, "Also print what was read from the cache");
  app.add_flag("--no-cache", a.no_cache,
               "Check every file again; neither read nor write the cache");
  app.add_option("--cache-dir", a.cache_dir,
                 "Where to keep the results cache (default: $OOMLINT_CACHE_DIR or .oomlint_cache)");
  app.add_flag("--add-noqa", a.add_noqa,
               "Append `# noqa: CODE` to every line with a finding (merging with an existing "
               "noqa); writes the files");
  app.add_option("--baseline", a.baseline,
                 "Report only the findings that the baseline FILE does not hold")
      ->type_name("FILE");
  app.add_option("--write-baseline", a.write_baseline,
                 "Record the current findings in FILE (for --baseline) and exit 0")
      ->type_name("FILE");
  app.add_flag("--show-fixes", a.show_fixes,
               "List the fixes applied (with --fix) or available (without), per file and rule");
  app.add_flag("-w,--watch", a.watch, "Check again whenever a file changes (Ctrl-C stops)");
  app.add_option(
      "--max-file-size", a.max_file_size,
      "Skip (with a warning) files larger than this: 5MB (default), 512KB, 0 (no limit)");
  app.add_option("--docs-url", a.docs_url,
                 "Where rule links in json and sarif output point: a hosted copy of the docs "
                 "(URL) or a directory (default: the installed docs, else the source tree's)");
  app.add_flag("--no-prefilter", a.no_prefilter, "Check every file fully (for debugging)")
      ->group("");
  if (auto code = parse_arguments(app, args)) return *code;
  a.select_given = select->count() > 0;

  // ---- validate ----
  auto format = parse_output_format(a.output_format);
  if (!format) {
    std::cerr << "error: --output-format: unknown format `" << a.output_format
              << "` (text, concise, json, sarif, github, gitlab)\n";
    return 2;
  }
  if (a.color != "auto" && a.color != "always" && a.color != "never") {
    std::cerr << "error: --color: expected auto, always or never, got `" << a.color << "`\n";
    return 2;
  }
  if (a.threads < 0) {
    std::cerr << "error: --threads: must be 0 (all cores) or more\n";
    return 2;
  }
  if (a.fix && a.diff) {
    std::cerr << "error: --fix and --diff cannot be used together\n";
    return 2;
  }
  if (a.add_noqa && (a.fix || a.diff || !a.write_baseline.empty() || !a.baseline.empty())) {
    std::cerr << "error: --add-noqa cannot be used with --fix, --diff, --baseline or "
                 "--write-baseline\n";
    return 2;
  }
  if (!a.write_baseline.empty() && (a.fix || a.diff || !a.baseline.empty())) {
    std::cerr << "error: --write-baseline cannot be used with --fix, --diff or --baseline\n";
    return 2;
  }
  if (a.watch) {
    if (std::find(a.paths.begin(), a.paths.end(), "-") != a.paths.end() || a.add_noqa ||
        !a.write_baseline.empty()) {
      std::cerr << "error: --watch cannot read stdin nor be used with --add-noqa or "
                   "--write-baseline\n";
      return 2;
    }
    std::vector<std::string> once_args;
    for (const auto& arg : args) {
      if (arg != "--watch" && arg != "-w") once_args.push_back(arg);
    }
    std::vector<std::string> watched = a.paths.empty() ? std::vector<std::string>{"."} : a.paths;
    return watch_loop(watched, [&] { return run_check(once_args); });
  }
  std::optional<Baseline> baseline;
  if (!a.baseline.empty()) {
    std::string error;
    baseline = load_baseline(a.baseline, error);
    if (!baseline) {
      std::cerr << "error: --baseline: " << error << "\n";
      return 2;
    }
  }
  uint64_t max_file_size = kDefaultMaxFileSize;
  if (!a.max_file_size.empty()) {
    auto size = parse_byte_size(a.max_file_size);
    if (!size) {
      std::cerr << "error: --max-file-size: expected a size such as 5MB, 512KB or 1000000, got `"
                << a.max_file_size << "`\n";
      return 2;
    }
    max_file_size = *size == 0 ? kMaxFileSize : std::min(*size, kMaxFileSize);
  }
  CliOverrides cli;
  std::vector<std::string> sel;
  if (!validate_selectors(a.select, "--select", sel) ||
      !validate_selectors(a.ignore, "--ignore", cli.ignore) ||
      !validate_selectors(a.extend_select, "--extend-select", cli.extend_select)) {
    return 2;
  }
  if (a.select_given) cli.select = sel;
  if (!a.target_gpu.empty()) {
    cli.target_gpu = checks::parse_target_gpu(a.target_gpu);
    if (!cli.target_gpu) {
      std::cerr << "error: --target-gpu: unknown GPU `" << a.target_gpu
                << "` (volta, turing, ampere, ada, hopper, blackwell)\n";
      return 2;
    }
  }
  for (const auto& e : a.exclude) {
    for (size_t pos = 0; pos <= e.size();) {
      size_t comma = e.find(',', pos);
      if (comma == std::string::npos) comma = e.size();
      if (comma > pos) cli.exclude.push_back(e.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }

  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (ec) {
    std::cerr << "error: cannot determine the current directory: " << ec.message() << "\n";
    return 2;
  }
  if (a.paths.empty()) a.paths.push_back(".");

  // ---- configuration and discovery ----
  std::optional<Config> fixed_config;
  std::vector<FileJob> jobs;
  std::vector<FileError> errors;
  std::vector<const Config*> job_configs;
  std::optional<ConfigResolver> resolver;
  std::string docs_base;
  try {
    if (!a.config.empty()) {
      fixed_config = load_config(a.config);
      if (!fixed_config) {
        Config empty;
        empty.file = fs::absolute(a.config).lexically_normal();
        empty.dir = empty.file.parent_path();
        fixed_config = std::move(empty);
      }
    }
    resolver.emplace(std::move(fixed_config), a.isolated);
    // One base for the whole output: --docs-url, else the config of the current directory.
    docs_base = resolve_docs_base(a.docs_url, resolver->for_directory(cwd));
    std::vector<std::string> disk_paths;
    bool want_stdin = false;
    for (const auto& p : a.paths) {
      if (p == "-")
        want_stdin = true;
      else
        disk_paths.push_back(p);
    }
    if (want_stdin) {
      FileJob job;
      job.from_stdin = true;
      job.explicit_path = true;
      std::string name = a.stdin_filename.empty() ? "-" : a.stdin_filename;
      fs::path abs =
          (a.stdin_filename.empty() ? cwd / "stdin.py"
                                    : (fs::path(name).is_absolute() ? fs::path(name) : cwd / name))
              .lexically_normal();
      job.display = a.stdin_filename.empty() ? "-" : display_path(abs, cwd);
      job.absolute = a.stdin_filename.empty() ? "-" : abs.string();
      job.kind = kind_for(abs);
      job.stdin_text.assign(std::istreambuf_iterator<char>(std::cin),
                            std::istreambuf_iterator<char>());
      jobs.push_back(std::move(job));
      job_configs.push_back(resolver->for_directory(abs.parent_path()));
    }
    if (!disk_paths.empty()) {
      Discovery found = discover(disk_paths, *resolver, cli, cwd);
      for (auto& e : found.errors)
        errors.push_back({e.path, e.message});
      // Moved, not copied: a path carries a list of its components, and a tree of thousands of
      // files is megabytes of them (each fresh page a fault on a second, cached run).
      jobs.reserve(jobs.size() + found.files.size());
      job_configs.reserve(jobs.capacity());
      for (auto& f : found.files) {
        FileJob job;
        job.path = std::move(f.path);
        job.info = f.info;
        job.display = std::move(f.display);
        job.absolute = std::move(f.absolute);
        job.kind = f.kind;
        job.explicit_path = f.explicit_path;
        jobs.push_back(std::move(job));
        job_configs.push_back(f.config);
      }
    }
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }

  // ---- engines: one per distinct settings, built when a file is not in the cache ----
  std::map<std::string, std::unique_ptr<LazyEngine>> engines;
  for (size_t i = 0; i < jobs.size(); ++i) {
    checks::Settings s = resolve_settings(job_configs[i], cli,
                                          jobs[i].from_stdin && a.stdin_filename.empty()
                                              ? cwd / "stdin.py"
                                              : fs::path(jobs[i].absolute));
    std::string key = checks::settings_key(s);
    auto& engine = engines[key];
    if (!engine) engine = std::make_unique<LazyEngine>(std::move(s));
    jobs[i].lazy_engine = engine.get();
    jobs[i].settings_key = std::move(key);
  }

  // ---- check on a thread pool ----
  FixOptions fix_options;
  fix_options.mode = a.diff ? FixMode::Diff : a.fix ? FixMode::Apply : FixMode::None;
  fix_options.unsafe = a.unsafe_fixes;
  fix_options.no_prefilter = a.no_prefilter;
  fix_options.show_fixes = a.show_fixes;
  fix_options.max_file_size = max_file_size;
  checks::ProjectRegistry projects;
  fix_options.projects = &projects;
  // Tune malloc for the workers, and give the main thread huge pages for the results cache, the
  // findings and, with one file, its check. One huge page fault costs about as much as a few 4 KB
  // ones: a one-file run takes 95 page faults instead of 145.
  prepare_worker_allocator();
  hint_huge_pages_for_main_heap();
  // The cache serves plain checks; --fix and --diff always read and check the files afresh.
  // With it, the project index keeps its module summaries in the cache directory too.
  std::optional<ResultsCache> cache;
  std::shared_ptr<SummaryFolder> summary_folder;
  if (!a.no_cache && fix_options.mode == FixMode::None) {
    fs::path dir = a.cache_dir.empty() ? default_cache_dir(cwd) : fs::absolute(a.cache_dir);
    cache.emplace(ResultsCache::open(dir));
    fix_options.cache = &*cache;
    summary_folder = std::make_shared<SummaryFolder>(dir);
    projects.set_store(summary_folder);
  }
  std::vector<FileOutcome> outcomes(jobs.size());
  size_t workers = a.threads > 0 ? static_cast<size_t>(a.threads)
                                 : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min(workers, std::max<size_t>(jobs.size(), 1));
  // Largest files first (with the big ones at the end of the queue, one worker would still be
  // busy on them while the others sit idle), but one large file at a time (work_queue.h).
  std::vector<uint64_t> sizes(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i)
    sizes[i] = static_cast<uint64_t>(std::max<off_t>(jobs[i].info.st_size, 0));
  WorkQueue queue(std::move(sizes), kLargeFileBytes);
  // With --fix, SIGINT/SIGTERM stop the run between files (a write in flight completes or is
  // abandoned whole), then the process ends by that signal.
  std::optional<FixInterruptGuard> interrupt_guard;
  if (fix_options.mode == FixMode::Apply) interrupt_guard.emplace();
  auto work = [&] {
    while (auto item = queue.take()) {
      if (fix_interrupted()) {
        queue.stop();
        queue.done(*item);
        break;
      }
      size_t i = item->index;
      try {
        outcomes[i] = check_file(jobs[i], fix_options);
      } catch (const std::exception& e) {
        outcomes[i].errors.push_back({jobs[i].display, std::string("internal error: ") + e.what()});
      }
      // Its memory goes back before another worker may take the next large file.
      if (item->large && jobs.size() > 1) release_worker_memory();
      queue.done(*item);
    }
  };
  if (jobs.size() <= 1) {
    work(); // the one-file path: no thread to start, its check runs in the main heap
  } else {
    // Even with --threads 1 the work runs in a thread of its own, so that it gets a glibc heap
    // that can take huge pages (worker_memory.h), as each worker of a parallel run does.
    std::vector<std::thread> pool;
    for (size_t t = 0; t < workers; ++t)
      pool.emplace_back([&] {
        hint_huge_pages_for_this_thread();
        work();
      });
    for (auto& t : pool)
      t.join();
  }
  if (fix_interrupted()) {
    std::cerr << "oomlint: interrupted; every file is either fixed or left unchanged\n";
    reraise_interrupt();
  }
  interrupt_guard.reset();

  if (cache) {
    std::string err = cache->save();
    if (!err.empty() && !a.quiet) std::cerr << "warning: results cache not saved: " << err << "\n";
    // Module summaries are kept by content: each edit of a module adds one. A run that added
    // some keeps the folder within four times what it used (and at least kKeptSummaries).
    if (summary_folder && summary_folder->saved() > 0) {
      size_t pruned = summary_folder->prune(std::max(kKeptSummaries, 4 * summary_folder->used()));
      if (a.verbose && pruned > 0) {
        std::cerr << "cache: " << pruned << " old module summaries removed\n";
      }
    }
    if (a.verbose) {
      std::cerr << "cache: " << cache->hits() << " of " << jobs.size()
                << " files unchanged since the last run, " << cache->unread_hits()
                << " of them not read (" << cache->file().string() << ")\n";
      std::cerr << "cache: " << cache->dependency_misses()
                << " unchanged files checked again: a project module they import changed\n";
    }
  }
  if (a.verbose) {
    checks::ProjectIndex::SummaryStats summaries;
    for (const checks::ProjectIndex* p : projects.projects()) {
      auto s = p->summary_stats();
      summaries.built += s.built;
      summaries.loaded += s.loaded;
      summaries.build_seconds += s.build_seconds;
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", summaries.build_seconds);
    std::cerr << "project index: " << summaries.built << " module summaries built (" << seconds
              << " s, summed over threads), " << summaries.loaded << " loaded from the cache\n";
  }

  // ---- gather, in file order ----
  std::vector<Finding> findings;
  size_t total = 0;
  for (const auto& o : outcomes)
    total += o.findings.size();
  findings.reserve(total);
  size_t fixed = 0;
  std::map<std::string, std::map<std::string, size_t>> fixed_by_file; // --show-fixes
  std::string diff;
  std::optional<std::string> stdin_output;
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto& o = outcomes[i];
    for (auto& e : o.errors)
      errors.push_back(std::move(e));
    for (auto& w : o.warnings)
      std::cerr << "warning: " << w << "\n";
    fixed += o.fixed;
    if (!o.fixed_codes.empty()) fixed_by_file[jobs[i].display] = std::move(o.fixed_codes);
    diff += o.diff;
    if (o.stdin_output) stdin_output = std::move(o.stdin_output);
    std::move(o.findings.begin(), o.findings.end(), std::back_inserter(findings));
  }
  auto before = [](const Finding& x, const Finding& y) {
    return std::tie(x.display, x.cell, x.location.row, x.location.column, x.diagnostic.code) <
           std::tie(y.display, y.cell, y.location.row, y.location.column, y.diagnostic.code);
  };
  // Usually in order already (files come in path order, each one's findings by position). If
  // not, sort positions, not the findings themselves: a Finding is hundreds of bytes, and a
  // stable sort of ten thousand of them moves each one a dozen times.
  if (!std::is_sorted(findings.begin(), findings.end(), before)) {
    std::vector<size_t> by_position(findings.size());
    std::iota(by_position.begin(), by_position.end(), size_t{0});
    std::stable_sort(by_position.begin(), by_position.end(),
                     [&](size_t x, size_t y) { return before(findings[x], findings[y]); });
    std::vector<Finding> sorted;
    sorted.reserve(findings.size());
    for (size_t i : by_position)
      sorted.push_back(std::move(findings[i]));
    findings.swap(sorted);
  }
  std::sort(errors.begin(), errors.end(), [](const FileError& x, const FileError& y) {
    return std::tie(x.path, x.message) < std::tie(y.path, y.message);
  });

  // ---- adoption: --add-noqa, --write-baseline, --baseline ----
  if (a.add_noqa) return add_noqa(jobs, findings, errors, a.quiet);
  if (!a.write_baseline.empty()) {
    for (const auto& e : errors)
      print_error(e.path, e.message);
    if (!errors.empty()) {
      std::cerr << "error: baseline not written: some files could not be checked\n";
      return 2;
    }
    std::string err = write_baseline(a.write_baseline, findings);
    if (!err.empty()) {
      std::cerr << "error: --write-baseline: " << err << "\n";
      return 2;
    }
    if (!a.quiet) {
      std::cerr << "Wrote " << plural(findings.size(), "finding") << " to " << a.write_baseline
                << ".\n";
    }
    return 0;
  }
  size_t in_baseline = baseline ? filter_baseline(findings, *baseline) : 0;

  // ---- output ----
  int exit_code = 0;
  if (fix_options.mode == FixMode::Diff) {
    std::cout << diff;
    if (!a.quiet) {
      std::cerr << (fixed > 0 ? "Would fix " + plural(fixed, "problem") + "."
                              : std::string("No fixes available."))
                << "\n";
    }
    if (!diff.empty() && !a.exit_zero) exit_code = 1;
  } else {
    // With stdin and --fix the fixed source goes to stdout, so the report goes to stderr.
    std::ostream& out = stdin_output ? std::cerr : std::cout;
    if (stdin_output) std::cout << *stdin_output << std::flush;
    RenderOptions ro;
    ro.format = *format;
    ro.color = use_color(a.color) && !stdin_output;
    ro.unsafe_fixes = a.unsafe_fixes;
    ro.docs_base = docs_base;
    if (*format == OutputFormat::Sarif || *format == OutputFormat::Gitlab)
      ro.sarif_root = source_root(cwd);
    if (a.statistics) {
      render_statistics(out, findings, ro);
    } else {
      render_findings(out, findings, ro);
    }
    bool text_like = *format == OutputFormat::Text || *format == OutputFormat::Concise;
    if (text_like && !a.quiet) {
      if (fix_options.mode == FixMode::Apply && fixed > 0) {
        out << "Fixed " << plural(fixed, "problem") << ".\n";
      }
      out << summary_line(findings, a.unsafe_fixes) << "\n";
      if (baseline) out << plural(in_baseline, "finding") << " in the baseline not shown.\n";
    }
    if (a.show_fixes)
      show_fixes(std::cerr, fix_options.mode == FixMode::Apply, fixed_by_file, findings,
                 a.unsafe_fixes);
    if (!findings.empty() && !a.exit_zero) exit_code = 1;
  }
  for (const auto& e : errors)
    print_error(e.path, e.message);
  if (!errors.empty()) exit_code = 2;
  return exit_code;
}

} // namespace oomlint::cli
