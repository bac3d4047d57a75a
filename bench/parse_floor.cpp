// The benchmark's floor: what reading, or reading and parsing, the same files costs without any
// rule. Walks the given files and folders for *.py like `oomlint check` and spreads them over the
// same kind of thread pool.
//   parse_floor [--read-only] [--prefiltered] [--threads N] PATH...
// --prefiltered parses only the files that oomlint's prefilter lets through (the whole catalogue
// with default settings), which is what the rules' share of the time is measured against.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "ts.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  bool read_only = false, prefiltered = false, rule_stats = false;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--read-only") {
      read_only = true;
    } else if (arg == "--rule-stats") {
      rule_stats = true;
    } else if (arg == "--prefiltered") {
      prefiltered = true;
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(std::max(1, std::atoi(argv[++i])));
    } else if (fs::is_directory(arg)) {
      std::error_code ec;
      for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".py") files.push_back(it->path());
      }
    } else {
      files.emplace_back(arg);
    }
  }
  std::sort(files.begin(), files.end());
  if (rule_stats) {
    // Per rule: how many files (and bytes) its needs() let through, to tune the prefilter.
    const oomlint::checks::Engine all{oomlint::checks::Settings{}};
    // Also the bytes a rule alone keeps (no other rule needs the file): what tightening that
    // rule's needs could save.
    std::vector<size_t> count(all.rules().size()), size(all.rules().size()),
        alone(all.rules().size());
    size_t union_files = 0, union_bytes = 0;
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto active = all.active_rules(text);
      size_t on = 0, last = 0;
      for (size_t i = 0; i < active.size(); ++i) {
        if (active[i]) ++count[i], size[i] += text.size(), ++on, last = i;
      }
      if (on > 0) ++union_files, union_bytes += text.size();
      if (on > 0 && std::getenv("OOMLINT_RULE_STATS_FILES")) {
        std::printf("file %zu %s", text.size(), f.string().c_str());
        for (size_t i = 0; i < active.size(); ++i)
          if (active[i]) std::printf(" %s", std::string(all.rules()[i]->meta().code).c_str());
        std::printf("\n");
      }
      if (on == 1) alone[last] += text.size();
    }
    std::printf("any rule %5zu files %10zu bytes\n", union_files, union_bytes);
    for (size_t i = 0; i < count.size(); ++i) {
      std::printf("%s %5zu files %10zu bytes %10zu alone\n",
                  std::string(all.rules()[i]->meta().code).c_str(), count[i], size[i], alone[i]);
    }
    return 0;
  }
  const oomlint::checks::Engine engine{oomlint::checks::Settings{}};
  std::atomic<size_t> next{0}, bytes{0}, nodes_with_errors{0}, parsed{0}, parsed_bytes{0};
  auto work = [&] {
    oomlint::ts::Parser parser;
    for (size_t i = next++; i < files.size(); i = next++) {
      std::ifstream in(files[i], std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      bytes += text.size();
      if (read_only || (prefiltered && !engine.may_match(text))) continue;
      ++parsed;
      parsed_bytes += text.size();
      oomlint::ts::Tree tree = parser.parse(text);
      if (tree && ts_node_has_error(ts_tree_root_node(tree.raw()))) ++nodes_with_errors;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::min<size_t>(threads, std::max<size_t>(files.size(), 1)); ++t)
    pool.emplace_back(work);
  for (auto& t : pool)
    t.join();
  std::printf("%zu files, %zu bytes read, %zu files (%zu bytes) parsed, %zu with syntax errors\n",
              files.size(), bytes.load(), parsed.load(), parsed_bytes.load(),
              nodes_with_errors.load());
  return 0;
}
