#include "fixture_support.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace oomlint::test {

std::filesystem::path source_dir() {
  return OOMLINT_SOURCE_DIR;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::filesystem::path> fixture_files() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() / "tests" / "fixtures")) {
    auto name = e.path().filename().string();
    if (e.path().extension() == ".py" && name.find(".fixed.") == std::string::npos) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void apply_test_options(const std::string& options, checks::Settings& settings) {
  std::istringstream opts(options);
  std::string kv;
  while (opts >> kv) {
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (key == "target_gpu") {
      auto gpu = checks::parse_target_gpu(value);
      if (!gpu) throw std::runtime_error("bad target_gpu " + value);
      settings.target_gpu = *gpu;
    } else if (key == "eval_accumulation_steps") {
      settings.eval_accumulation_steps = std::stoi(value);
    } else if (key == "gpu_memory_gb") {
      settings.gpu_memory_bytes = std::stoull(value) * 1000ULL * 1000ULL * 1000ULL;
    } else {
      throw std::runtime_error("unknown test option " + key);
    }
  }
}

Fixture load_fixture(const std::filesystem::path& path) {
  Fixture f;
  f.path = path;
  f.code = path.filename().string().substr(0, 6);
  f.text = read_file(path);
  f.settings.select = {f.code};
  std::istringstream lines(f.text);
  std::string line;
  uint32_t no = 0;
  while (std::getline(lines, line)) {
    ++no;
    if (no == 1 && line.rfind("# oomlint-test:", 0) == 0) {
      apply_test_options(line.substr(15), f.settings);
      continue;
    }
    auto pos = line.find("# expect:");
    if (pos == std::string::npos) continue;
    std::istringstream codes(line.substr(pos + 9));
    std::string c;
    while (codes >> c) {
      c.erase(std::remove(c.begin(), c.end(), ','), c.end());
      if (!c.empty()) f.expected[no].push_back(c);
    }
  }
  return f;
}

} // namespace oomlint::test
