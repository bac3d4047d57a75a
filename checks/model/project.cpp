#include "model/project.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include "engine/prefilter.h"
#include "model/analysis.h"
#include "model/semantics.h"
#include "ts.h"

namespace oomlint::checks {

namespace fs = std::filesystem;

namespace {

// Files larger than this are not summarised (a generated or data module: nothing to learn).
constexpr uintmax_t kMaxSummarisedBytes = 2u << 20;

template <class T>
const T* find_named(const std::vector<std::pair<std::string, T>>& v, std::string_view name) {
  for (const auto& [n, x] : v) {
    if (n == name) return &x;
  }
  return nullptr;
}

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[++i];
      out += n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string encode(const Const& c) {
  switch (c.kind) {
  case Const::Kind::None:
    return "N";
  case Const::Kind::Bool:
    return c.b ? "B1" : "B0";
  case Const::Kind::Int:
    return "I" + std::to_string(c.i);
  case Const::Kind::Float: {
    std::ostringstream o;
    o.precision(17);
    o << c.f;
    return "F" + o.str();
  }
  case Const::Kind::Str:
    return "S" + escape(c.s);
  }
  return "N";
}

std::optional<Const> decode(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string rest(s.substr(1));
  try {
    switch (s[0]) {
    case 'N':
      return Const::none();
    case 'B':
      return Const::boolean(rest == "1");
    case 'I':
      return Const::integer(std::stoll(rest));
    case 'F':
      return Const::real(std::stod(rest));
    case 'S':
      return Const::string(unescape(rest));
    default:
      return std::nullopt;
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string_view> split(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t next = line.find(sep, pos);
    out.push_back(
        line.substr(pos, next == std::string_view::npos ? line.size() - pos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

std::string encode_facts(const std::string& name, const FunctionFacts& f) {
  std::string calls;
  for (const std::string& c : f.calls) {
    if (!calls.empty()) calls += ' ';
    calls += escape(c);
  }
  return escape(name) + "\t" + std::to_string(f.flags) + "\t" + std::to_string(f.loss_index) +
         "\t" + std::to_string(f.output_index) + "\t" +
         (f.returns_const ? encode(*f.returns_const) : std::string("-")) + "\t" + calls + "\t" +
         escape(f.returns_class);
}

std::optional<std::pair<std::string, FunctionFacts>> decode_facts(std::string_view line) {
  auto parts = split(line, '\t');
  if (parts.size() != 7) return std::nullopt;
  FunctionFacts f;
  try {
    f.flags = static_cast<uint32_t>(std::stoul(std::string(parts[1])));
    f.loss_index = static_cast<int8_t>(std::stoi(std::string(parts[2])));
    f.output_index = static_cast<int8_t>(std::stoi(std::string(parts[3])));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (parts[4] != "-") f.returns_const = decode(parts[4]);
  if (!parts[5].empty()) {
    for (std::string_view c : split(parts[5], ' '))
      f.calls.push_back(unescape(c));
  }
  f.returns_class = unescape(parts[6]);
  return std::make_pair(unescape(parts[0]), f);
}

} // namespace

const FunctionFacts* ClassSummary::method(std::string_view method_name) const {
  return find_named(methods, method_name);
}
const Const* ClassSummary::field(std::string_view field_name) const {
  return find_named(fields, field_name);
}
const FunctionFacts* ModuleSummary::function(std::string_view name) const {
  return find_named(functions, name);
}
const ClassSummary* ModuleSummary::cls(std::string_view name) const {
  for (const ClassSummary& c : classes) {
    if (c.name == name) return &c;
  }
  return nullptr;
}
const Const* ModuleSummary::constant(std::string_view name) const {
  return find_named(constants, name);
}
const std::string* ModuleSummary::import(std::string_view name) const {
  return find_named(imports, name);
}

// One record per line, fields separated by tabs:
//   F <function facts> | C name is_nn_module is_dataclass bases... | M <method facts> (of the last
//   C) | V field value (of the last C) | K name value | I name target | O dest value
std::string ModuleSummary::serialize() const {
  std::string out = "oomlint-summary 2\n";
  out += "flags\t" + std::to_string(flags) + "\n";
  for (const auto& [name, f] : functions)
    out += "F\t" + encode_facts(name, f) + "\n";
  for (const ClassSummary& c : classes) {
    out += "C\t" + escape(c.name) + "\t" + (c.is_nn_module ? "1" : "0") + "\t" +
           (c.is_dataclass ? "1" : "0");
    for (const std::string& b : c.bases)
      out += "\t" + escape(b);
    out += "\n";
    for (const auto& [name, f] : c.methods)
      out += "M\t" + encode_facts(name, f) + "\n";
    for (const auto& [name, v] : c.fields)
      out += "V\t" + escape(name) + "\t" + encode(v) + "\n";
  }
  for (const auto& [name, v] : constants)
    out += "K\t" + escape(name) + "\t" + encode(v) + "\n";
  for (const auto& [name, target] : imports)
    out += "I\t" + escape(name) + "\t" + escape(target) + "\n";
  for (const auto& [dest, v] : options)
    out += "O\t" + escape(dest) + "\t" + encode(v) + "\n";
  return out;
}

std::optional<ModuleSummary> ModuleSummary::deserialize(std::string_view data) {
  ModuleSummary s;
  auto lines = split(data, '\n');
  if (lines.empty() || lines[0] != "oomlint-summary 2") return std::nullopt;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty()) continue;
    auto tab = line.find('\t');
    if (tab == std::string_view::npos) return std::nullopt;
    std::string_view tag = line.substr(0, tab), rest = line.substr(tab + 1);
    auto parts = split(rest, '\t');
    if (tag == "flags") {
      try {
        s.flags = static_cast<uint32_t>(std::stoul(std::string(rest)));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    } else if (tag == "F" || tag == "M") {
      auto f = decode_facts(rest);
      if (!f) return std::nullopt;
      if (tag == "F") {
        s.functions.push_back(std::move(*f));
      } else {
        if (s.classes.empty()) return std::nullopt;
        s.classes.back().methods.push_back(std::move(*f));
      }
    } else if (tag == "C") {
      if (parts.size() < 3) return std::nullopt;
      ClassSummary c;
      c.name = unescape(parts[0]);
      c.is_nn_module = parts[1] == "1";
      c.is_dataclass = parts[2] == "1";
      for (size_t k = 3; k < parts.size(); ++k)
        c.bases.push_back(unescape(parts[k]));
      s.classes.push_back(std::move(c));
    } else if (tag == "V" || tag == "K" || tag == "O") {
      if (parts.size() != 2) return std::nullopt;
      auto v = decode(parts[1]);
      if (!v) return std::nullopt;
      std::pair<std::string, Const> entry(unescape(parts[0]), *v);
      if (tag == "V") {
        if (s.classes.empty()) return std::nullopt;
        s.classes.back().fields.push_back(std::move(entry));
      } else if (tag == "K") {
        s.constants.push_back(std::move(entry));
      } else {
        s.options.push_back(std::move(entry));
      }
    } else if (tag == "I") {
      if (parts.size() != 2) return std::nullopt;
      s.imports.emplace_back(unescape(parts[0]), unescape(parts[1]));
    } else {
      return std::nullopt;
    }
  }
  return s;
}

ModuleSummary summarize_module(std::string_view text, const fs::path& file,
                               const ProjectIndex* project) {
  ts::Parser parser;
  ts::Tree tree = parser.parse(text);
  if (!tree) return {};
  Node root = tree.root();
  Semantics sema(text);
  sema.prescan_module(root);
  Analysis analysis(text, root, sema, FileContext{file, project});
  return analysis.summarize();
}

ProjectIndex::ProjectIndex(fs::path root) : root_(std::move(root)) {}

fs::path ProjectIndex::find_root(const fs::path& file) {
  std::error_code ec;
  fs::path dir = file.parent_path();
  for (fs::path d = dir; !d.empty(); d = d.parent_path()) {
    for (const char* marker : {"pyproject.toml", "oomlint.toml", "setup.py", ".git"}) {
      if (fs::exists(d / marker, ec)) return d;
    }
    if (d == d.parent_path()) break;
  }
  return dir;
}

std::optional<fs::path> ProjectIndex::resolve(std::string_view dotted, int level,
                                              const fs::path& importer) const {
  std::vector<fs::path> bases;
  if (level > 0) {
    fs::path base = importer.parent_path();
    for (int i = 1; i < level; ++i)
      base = base.parent_path();
    bases.push_back(base);
  } else {
    if (dotted.empty()) return std::nullopt;
    bases.push_back(importer.parent_path());
    bases.push_back(root_);
    bases.push_back(root_ / "src");
  }
  fs::path rel;
  for (size_t pos = 0; pos <= dotted.size() && !dotted.empty();) {
    size_t dot = std::min(dotted.find('.', pos), dotted.size());
    std::string_view part = dotted.substr(pos, dot - pos);
    if (part.empty()) return std::nullopt;
    rel /= std::string(part);
    pos = dot + 1;
  }
  std::error_code ec;
  for (const fs::path& base : bases) {
    fs::path p = (base / rel).lexically_normal();
    // Only files of the project: under its root (a script's folder is under it too).
    auto [r, _] = std::mismatch(root_.begin(), root_.end(), p.begin(), p.end());
    if (r != root_.end()) continue;
    fs::path module = p;
    module += ".py";
    if (!dotted.empty() && fs::is_regular_file(module, ec)) return module;
    fs::path package = p / "__init__.py";
    if (fs::is_regular_file(package, ec)) return package;
  }
  return std::nullopt;
}

std::optional<fs::path> ProjectIndex::submodule(const fs::path& module_file,
                                                std::string_view name) const {
  if (module_file.filename() != "__init__.py") return std::nullopt;
  fs::path dir = module_file.parent_path();
  std::error_code ec;
  fs::path module = dir / (std::string(name) + ".py");
  if (fs::is_regular_file(module, ec)) return module;
  fs::path package = dir / std::string(name) / "__init__.py";
  if (fs::is_regular_file(package, ec)) return package;
  return std::nullopt;
}

std::string ProjectIndex::module_name(const fs::path& file) const {
  fs::path rel = file.lexically_relative(root_);
  std::string out;
  for (const auto& part : rel) {
    std::string p = part.string();
    if (p == "__init__.py") break;
    if (p.ends_with(".py")) p.resize(p.size() - 3);
    if (!out.empty()) out += ".";
    out += p;
  }
  if (out.starts_with("src.")) out = out.substr(4);
  return out;
}

std::optional<std::string> ProjectIndex::read(const fs::path& file) const {
  {
    std::lock_guard lock(mutex_);
    auto it = texts_.find(file);
    if (it != texts_.end()) return it->second;
  }
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec || size > kMaxSummarisedBytes) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<const ModuleSummary> ProjectIndex::summary(const fs::path& file) const {
  fs::path key = file.lexically_normal();
  {
    std::lock_guard lock(mutex_);
    auto it = summaries_.find(key);
    if (it != summaries_.end()) return it->second;
  }
  std::shared_ptr<const ModuleSummary> made;
  if (auto text = read(key)) {
    std::string store_key;
    std::shared_ptr<SummaryStore> store;
    {
      std::lock_guard lock(mutex_);
      store = store_;
    }
    if (store) {
      store_key = "summary:" + std::to_string(std::hash<std::string>{}(*text)) + ":" +
                  std::to_string(text->size());
      if (auto data = store->load(store_key)) {
        if (auto s = ModuleSummary::deserialize(*data))
          made = std::make_shared<ModuleSummary>(std::move(*s));
      }
    }
    if (!made) {
      // A module's summary comes from its own text alone (no project lookups): it does not
      // depend on other summaries, so building it can never wait on another thread's build.
      made = std::make_shared<ModuleSummary>(summarize_module(*text, key, nullptr));
      if (store) store->save(store_key, made->serialize());
    }
  }
  std::lock_guard lock(mutex_);
  auto [it, inserted] = summaries_.emplace(key, made);
  if (inserted) ++built_;
  return it->second;
}

void ProjectIndex::set_text(const fs::path& file, std::optional<std::string> text) {
  std::lock_guard lock(mutex_);
  fs::path key = file.lexically_normal();
  if (text) {
    texts_[key] = std::move(*text);
  } else {
    texts_.erase(key);
  }
  summaries_.erase(key);
}

bool ProjectIndex::invalidate(const fs::path& file) {
  std::lock_guard lock(mutex_);
  return summaries_.erase(file.lexically_normal()) > 0;
}

size_t ProjectIndex::summaries_built() const {
  std::lock_guard lock(mutex_);
  return built_;
}

void ProjectIndex::set_store(std::shared_ptr<SummaryStore> store) {
  std::lock_guard lock(mutex_);
  store_ = std::move(store);
}

std::vector<fs::path> ProjectIndex::known_files() const {
  std::lock_guard lock(mutex_);
  std::vector<fs::path> out;
  for (const auto& [path, s] : summaries_)
    out.push_back(path);
  return out;
}

} // namespace oomlint::checks

namespace oomlint::checks {

namespace {

bool ident_char(char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The words of one logical line (comments dropped, brackets and continuations joined).
std::string logical_line(std::string_view text, size_t& pos) {
  std::string out;
  int depth = 0;
  while (pos < text.size()) {
    char c = text[pos++];
    if (c == '#') {
      while (pos < text.size() && text[pos] != '\n')
        ++pos;
      continue;
    }
    if (c == '\\' && pos < text.size() && (text[pos] == '\n' || text[pos] == '\r')) {
      ++pos;
      out += ' ';
      continue;
    }
    if (c == '(') {
      ++depth;
      out += ' ';
      continue;
    }
    if (c == ')') {
      --depth;
      out += ' ';
      continue;
    }
    if (c == '\n') {
      if (depth > 0) {
        out += ' ';
        continue;
      }
      break;
    }
    if (depth > 8) break; // not an import
    out += c;
  }
  return out;
}

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (ident_char(c) || c == '.' || c == '*') {
      cur += c;
    } else {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      if (c == ',') out.push_back(",");
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

} // namespace

std::vector<std::pair<int, std::string>> scan_imports(std::string_view text) {
  std::vector<std::pair<int, std::string>> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'))
      ++pos;
    bool from = text.substr(pos).starts_with("from ") || text.substr(pos).starts_with("from\t");
    bool import =
        text.substr(pos).starts_with("import ") || text.substr(pos).starts_with("import\t");
    if (!from && !import) {
      pos = text.find('\n', start);
      if (pos == std::string_view::npos) break;
      ++pos;
      continue;
    }
    auto w = words(logical_line(text, pos));
    if (import) {
      // import a.b as c, d
      for (size_t i = 1; i < w.size(); ++i) {
        if (w[i] == "," || w[i] == "as") continue;
        if (i > 0 && w[i - 1] == "as") continue;
        out.emplace_back(0, w[i]);
      }
      continue;
    }
    // from ..a.b import c as d, e
    if (w.size() < 3) continue;
    std::string module = w[1];
    int level = 0;
    while (static_cast<size_t>(level) < module.size() && module[static_cast<size_t>(level)] == '.')
      ++level;
    module = module.substr(static_cast<size_t>(level));
    size_t i = 2;
    if (w[i] != "import") continue;
    out.emplace_back(level, module);
    for (++i; i < w.size(); ++i) {
      if (w[i] == "," || w[i] == "as" || w[i] == "*") continue;
      if (w[i - 1] == "as") continue;
      out.emplace_back(level, module.empty() ? w[i] : module + "." + w[i]);
    }
  }
  return out;
}

namespace {

// The bytes through which a module may carry each fact: the calls that give it, by name.
const PrefilterIndex& fact_words(std::vector<uint32_t>** flags_out) {
  static std::vector<uint32_t> flags;
  static std::vector<Prefilter> prefilters;
  static const PrefilterIndex index = [] {
    auto add = [&](uint32_t flag, Prefilter p) {
      flags.push_back(flag);
      prefilters.push_back(std::move(p));
    };
    add(FunctionFacts::FreesCache, requires_all(code("empty_cache") | code("release_memory") |
                                                code("clear_device_cache") | code("free_memory")));
    add(FunctionFacts::StartsMemoryHistory | FunctionFacts::StopsMemoryHistory,
        requires_all(code("_record_memory_history")));
    add(FunctionFacts::RunsForward | FunctionFacts::ReturnsOutput,
        requires_all(code("model").ignoring_case() | code("net").ends_word().ignoring_case() |
                     code("forward") | code("logits") | code("hidden_state")));
    add(FunctionFacts::SetsEvalMode, requires_all(code_identifier("eval")));
    add(FunctionFacts::ReturnsLoss, requires_all(code("loss").ignoring_case() | code("criterion")));
    add(FunctionFacts::Trains, requires_all(code_identifier("backward") | code_identifier("step")));
    std::vector<const Prefilter*> ptrs;
    for (const Prefilter& p : prefilters)
      ptrs.push_back(&p);
    return PrefilterIndex(ptrs);
  }();
  *flags_out = &flags;
  return index;
}

} // namespace

ProjectIndex* ProjectRegistry::for_file(const fs::path& file) {
  fs::path dir = file.parent_path();
  std::lock_guard lock(mutex_);
  auto known = roots_.find(dir);
  fs::path root;
  if (known != roots_.end()) {
    root = known->second;
  } else {
    root = ProjectIndex::find_root(file);
    roots_.emplace(dir, root);
  }
  auto& project = projects_[root];
  if (!project) {
    project = std::make_unique<ProjectIndex>(root);
    if (store_) project->set_store(store_);
  }
  return project.get();
}

void ProjectRegistry::set_store(std::shared_ptr<SummaryStore> store) {
  std::lock_guard lock(mutex_);
  store_ = std::move(store);
  for (auto& [root, p] : projects_)
    p->set_store(store_);
}

std::vector<ProjectIndex*> ProjectRegistry::projects() {
  std::lock_guard lock(mutex_);
  std::vector<ProjectIndex*> out;
  for (auto& [root, p] : projects_)
    out.push_back(p.get());
  return out;
}

std::vector<fs::path> ProjectIndex::imported_files(const fs::path& file,
                                                   std::string_view text) const {
  std::vector<fs::path> out;
  for (const auto& [level, module] : scan_imports(text)) {
    if (module.empty() && level == 0) continue;
    if (auto f = resolve(module, level, file)) {
      if (std::find(out.begin(), out.end(), *f) == out.end() && *f != file) out.push_back(*f);
    }
  }
  return out;
}

std::shared_ptr<const ProjectIndex::Scan> ProjectIndex::scan(const fs::path& file) const {
  fs::path key = file.lexically_normal();
  {
    std::lock_guard lock(mutex_);
    auto it = scans_.find(key);
    if (it != scans_.end()) return it->second;
  }
  auto made = std::make_shared<Scan>();
  if (auto text = read(key)) {
    std::vector<uint32_t>* flags = nullptr;
    const PrefilterIndex& index = fact_words(&flags);
    auto active = index.active(*text);
    for (size_t i = 0; i < active.size(); ++i) {
      if (active[i]) made->facts |= (*flags)[i];
    }
    made->imports = imported_files(key, *text);
  }
  std::lock_guard lock(mutex_);
  return scans_.emplace(key, made).first->second;
}

uint32_t ProjectIndex::imported_facts(const fs::path& file, std::string_view text) const {
  uint32_t facts = 0;
  std::vector<fs::path> todo = imported_files(file, text);
  std::set<fs::path> seen(todo.begin(), todo.end());
  // Breadth first over the project's import graph, bounded (a huge project is cut short, which
  // only loses facts of modules far away).
  for (size_t i = 0; i < todo.size() && i < 256; ++i) {
    auto s = scan(todo[i]);
    facts |= s->facts;
    for (const fs::path& next : s->imports) {
      if (seen.insert(next).second) todo.push_back(next);
    }
  }
  return facts;
}

} // namespace oomlint::checks
