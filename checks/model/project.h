// The project a file belongs to: its root, the project's own modules that an import names, and a
// summary of each module (what its functions do, its classes, its constants), computed once per
// file content and shared by every file that imports it.
//
// The root is the nearest folder above a file that holds pyproject.toml, oomlint.toml, setup.py
// or .git, else the file's own folder. An import resolves to a project file when the module's
// path exists under the root, under <root>/src, in the importing file's own folder (a script
// importing its neighbour) or, for a relative import, under the importing file's package.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/values.h"

namespace oomlint::checks {

struct ClassSummary {
  std::string name;
  // Bases as the module names them ("torch.nn.Module", ".base.BaseModel").
  std::vector<std::string> bases;
  bool is_nn_module = false; // derives from torch.nn.Module, a LightningModule or PreTrainedModel
  bool is_dataclass = false;
  // Class-level literals: dataclass field defaults, class attributes.
  std::vector<std::pair<std::string, Const>> fields;
  std::vector<std::pair<std::string, FunctionFacts>> methods;
  const FunctionFacts* method(std::string_view method_name) const;
  const Const* field(std::string_view field_name) const;
};

struct ModuleSummary {
  std::vector<std::pair<std::string, FunctionFacts>> functions;
  std::vector<ClassSummary> classes;
  std::vector<std::pair<std::string, Const>> constants;
  // Names the module binds by import, as the import spells them ("torch.cuda.empty_cache",
  // ".utils.clear"): `from pkg import helper` reaches through a package's __init__.py to where
  // helper is defined.
  std::vector<std::pair<std::string, std::string>> imports;
  // argparse options its parsers declare: destination -> default.
  std::vector<std::pair<std::string, Const>> options;
  uint32_t flags = 0; // every flag of every function and method

  const FunctionFacts* function(std::string_view name) const;
  const ClassSummary* cls(std::string_view name) const;
  const Const* constant(std::string_view name) const;
  const std::string* import(std::string_view name) const;

  // The version of serialize()'s text; a store keys summaries on it.
  static constexpr int kFormat = 4;
  std::string serialize() const;
  static std::optional<ModuleSummary> deserialize(std::string_view data);
};

// What one file's check read of its project, recorded (RecordProjectReads) so that a cache of its
// results can tell when they may have changed: the project files whose bytes it used, and the
// paths whose existence decided something (where an import resolves, where the root is). A module
// scanned once and used by many checks records its reads once, shared (`shared`).
struct ProjectReads {
  // File -> fingerprint (ProjectIndex::fingerprint) of the bytes used; 0 when it was unreadable.
  std::vector<std::pair<std::filesystem::path, uint64_t>> files;
  // A path whose existence decided something, and whether it was found.
  struct Probe {
    std::filesystem::path path;
    bool found = false;
    bool marker = false; // a root marker (anything there counts), else an import (a regular file)
    bool operator==(const Probe&) const = default;
  };
  std::vector<Probe> probes;
  std::vector<std::shared_ptr<const ProjectReads>> shared;

  // What the probe of `path` finds now.
  static bool probe(const std::filesystem::path& path, bool marker);
};

// While alive, what ProjectIndex and ProjectRegistry consult on this thread is added to `into`,
// each file, probe and shared part once (a check resolves the same names again and again).
// Nests: an inner recorder takes over until it ends.
class RecordProjectReads {
public:
  explicit RecordProjectReads(ProjectReads& into);
  ~RecordProjectReads();
  RecordProjectReads(const RecordProjectReads&) = delete;
  RecordProjectReads& operator=(const RecordProjectReads&) = delete;

  void file(const std::filesystem::path& path, uint64_t print);
  void probe(const std::filesystem::path& path, bool found, bool marker);
  void shared(const std::shared_ptr<const ProjectReads>& reads);

private:
  ProjectReads& into_;
  RecordProjectReads* outer_;
  std::unordered_set<std::string> seen_; // kind, answer and path of what is in into_
  std::unordered_set<const ProjectReads*> seen_shared_;
};

// Where summaries are kept between runs (the CLI's results cache): by the file's content hash and
// ModuleSummary::kFormat.
class SummaryStore {
public:
  virtual ~SummaryStore() = default;
  virtual std::optional<std::string> load(const std::string& key) = 0;
  virtual void save(const std::string& key, const std::string& value) = 0;
};

class ProjectIndex {
public:
  explicit ProjectIndex(std::filesystem::path root);
  // The nearest folder above `file` with pyproject.toml, oomlint.toml, setup.py or .git, else the
  // file's folder.
  static std::filesystem::path find_root(const std::filesystem::path& file);

  const std::filesystem::path& root() const { return root_; }
  // The project file of module `dotted` imported from `importer` with `level` leading dots
  // (0 for an absolute import), or nullopt when it is not the project's (a library).
  std::optional<std::filesystem::path> resolve(std::string_view dotted, int level,
                                               const std::filesystem::path& importer) const;
  // The dotted module name of a project file ("pkg/utils.py" -> "pkg.utils").
  std::string module_name(const std::filesystem::path& file) const;
  // The submodule `name` of the package or module at `module_file`, when it is a project file.
  std::optional<std::filesystem::path> submodule(const std::filesystem::path& module_file,
                                                 std::string_view name) const;

  // The summary of a project file: read, parsed and summarised the first time (or taken from the
  // store), then kept. Null when the file cannot be read. Thread-safe.
  std::shared_ptr<const ModuleSummary> summary(const std::filesystem::path& file) const;

  // The facts (FunctionFacts flags) that the project modules `text` imports may carry, from their
  // bytes alone (no parsing): a module may carry a fact when its code holds the fact's words
  // (`empty_cache`, `_record_memory_history`, a model call...) or a project module it imports
  // may. Over-approximate on purpose: the prefilter uses it to decide which rules a file needs.
  uint32_t imported_facts(const std::filesystem::path& file, std::string_view text) const;
  // The project files `text` (the content of `file`) imports, directly or through other project
  // modules, nearest first, read from their bytes (scan_imports): what the file's analysis may
  // consult, so what its results depend on. At most kMaxDependencies files.
  static constexpr size_t kMaxDependencies = 256;
  std::vector<std::filesystem::path> dependencies(const std::filesystem::path& file,
                                                  std::string_view text) const;

  // The language server's open documents: their text wins over the file on disk.
  void set_text(const std::filesystem::path& file, std::optional<std::string> text);
  // Forget what is known of `file` (it changed on disk); returns true when a summary was kept.
  bool invalidate(const std::filesystem::path& file);
  // Summaries built or loaded so far, and how long building them took.
  size_t summaries_built() const;
  struct SummaryStats {
    size_t built = 0;         // summarised from source
    size_t loaded = 0;        // taken from the store
    double build_seconds = 0; // spent summarising, summed over threads
  };
  SummaryStats summary_stats() const;
  void set_store(std::shared_ptr<SummaryStore> store);

  // A 64-bit fingerprint of a file's bytes (ProjectReads::files).
  static uint64_t fingerprint(std::string_view bytes);
  // The fingerprint of the bytes summary() would read from `file` on disk, 0 when it would read
  // none (missing, unreadable, too large).
  static uint64_t file_fingerprint(const std::filesystem::path& file);
  // The modules a summary was built from imports (for re-checking dependents), by file.
  std::vector<std::filesystem::path> known_files() const;

private:
  std::filesystem::path root_;
  // resolve() answers, by importing folder, level and dotted name: the same import is resolved
  // from thousands of files. On a hit the probes are replayed, without touching the disk, to a
  // RecordProjectReads. invalidate() forgets them all (a module created or removed changes
  // answers).
  mutable std::mutex resolved_mutex_;
  mutable std::unordered_map<std::string, std::optional<std::filesystem::path>> resolved_;
  std::optional<std::filesystem::path>
  resolve_with(std::string_view dotted, int level, const std::filesystem::path& importer,
               const std::function<bool(const std::filesystem::path&)>& probe) const;
  mutable std::mutex mutex_;
  mutable std::map<std::filesystem::path, std::shared_ptr<const ModuleSummary>> summaries_;
  std::map<std::filesystem::path, std::string> texts_;
  std::shared_ptr<SummaryStore> store_;
  mutable size_t built_ = 0;
  mutable SummaryStats stats_;
  // The fingerprint of the text each kept summary was made from.
  mutable std::map<std::filesystem::path, uint64_t> summary_prints_;
  struct Scan {
    uint32_t facts = 0;                         // from the module's own bytes
    std::vector<std::filesystem::path> imports; // project modules it imports
    std::shared_ptr<const ProjectReads> reads;  // its bytes and the paths resolving them probed
  };
  mutable std::map<std::filesystem::path, std::shared_ptr<const Scan>> scans_;
  std::shared_ptr<const Scan> scan(const std::filesystem::path& file) const;
  std::vector<std::filesystem::path> imported_files(const std::filesystem::path& file,
                                                    std::string_view text) const;
  std::optional<std::string> read(const std::filesystem::path& file) const;
};

// The projects of the files a run checks, by root: one index per project, shared by its files.
// Thread-safe; a file's root is found once per folder.
class ProjectRegistry {
public:
  // The project `file` (absolute) belongs to.
  ProjectIndex* for_file(const std::filesystem::path& file);
  void set_store(std::shared_ptr<SummaryStore> store);
  std::vector<ProjectIndex*> projects();

private:
  std::mutex mutex_;
  struct Root {
    std::filesystem::path root;
    std::shared_ptr<const ProjectReads> probes; // the markers looked for on the way up
  };
  std::map<std::filesystem::path, Root> roots_; // folder -> root
  std::map<std::filesystem::path, std::unique_ptr<ProjectIndex>> projects_;
  std::shared_ptr<SummaryStore> store_;
};

// The imports written in a Python file, read from its bytes without parsing (over-approximate:
// text that reads like an import inside a docstring counts too): (leading dots, dotted module)
// pairs, one per module and one per `from m import name` name (as "m.name", which may be a
// submodule).
std::vector<std::pair<int, std::string>> scan_imports(std::string_view text);

// Builds a module's summary from its text (model/analysis.cpp).
ModuleSummary summarize_module(std::string_view text, const std::filesystem::path& file,
                               const ProjectIndex* project);

} // namespace oomlint::checks
