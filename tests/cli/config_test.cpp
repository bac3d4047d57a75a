#include <catch2/catch.hpp>

#include "cli/cli_test_support.h"
#include "cli/config.h"
#include "cli/glob.h"

using namespace oomlint::cli;
using oomlint::checks::TargetGpu;
using oomlint::test::TempDir;
namespace fs = std::filesystem;

namespace {
std::string config_error(std::string_view text, const fs::path& file = "/p/oomlint.toml") {
  try {
    parse_config(text, file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST_CASE("config: all keys of oomlint.toml", "[cli][config]") {
  auto cfg = parse_config(R"(select = ["OOM2"]
ignore = ["oom203"]
extend-select = ["OOM203"]
target-gpu = "volta"
exclude = ["legacy/", "*_old.py"]
eval-accumulation-steps = 4
gpu-memory = "24GiB"

[per-file-ignores]
"tests/*.py" = ["OOM203"]
)",
                          "/proj/oomlint.toml");
  REQUIRE(cfg);
  CHECK(*cfg->select == std::vector<std::string>{"OOM2"});
  CHECK(cfg->ignore == std::vector<std::string>{"OOM203"});
  CHECK(cfg->extend_select == std::vector<std::string>{"OOM203"});
  CHECK(cfg->target_gpu == TargetGpu::Volta);
  CHECK(cfg->exclude.size() == 2);
  CHECK(cfg->eval_accumulation_steps == 4);
  CHECK(cfg->gpu_memory_bytes == 24ull * 1024 * 1024 * 1024);
  REQUIRE(cfg->per_file_ignores.size() == 1);
  CHECK(cfg->per_file_ignores[0].first == "tests/*.py");
  CHECK(cfg->dir == fs::path("/proj"));
}

TEST_CASE("config: pyproject.toml reads [tool.oomlint] only", "[cli][config]") {
  CHECK_FALSE(parse_config("[tool.ruff]\nselect = [\"E\"]\n", "/p/pyproject.toml"));
  auto cfg = parse_config("[project]\nname = \"x\"\n[tool.oomlint]\ntarget-gpu = \"hopper\"\n",
                          "/p/pyproject.toml");
  REQUIRE(cfg);
  CHECK(cfg->target_gpu == TargetGpu::Hopper);
  CHECK_FALSE(cfg->select);
}

TEST_CASE("config: errors name the file, the line and the key", "[cli][config]") {
  std::string e = config_error("select = [\"OOM\"]\n\nbogus-key = 1\n");
  CHECK(e.find("/p/oomlint.toml:3:") != std::string::npos);
  CHECK(e.find("bogus-key") != std::string::npos);

  e = config_error("target-gpu = \"pascal\"\n");
  CHECK(e.find(":1:") != std::string::npos);
  CHECK(e.find("target-gpu") != std::string::npos);

  e = config_error("select = [\n  \"OOM\",\n  \"XYZ9\",\n]\n");
  CHECK(e.find(":3:") != std::string::npos);
  CHECK(e.find("XYZ9") != std::string::npos);

  e = config_error("gpu-memory = \"lots\"\n");
  CHECK(e.find("gpu-memory") != std::string::npos);

  e = config_error("eval-accumulation-steps = -2\n");
  CHECK(e.find("eval-accumulation-steps") != std::string::npos);

  e = config_error("select = \"OOM\"\n");
  CHECK(e.find("select") != std::string::npos);

  e = config_error("select = [\"OOM\"\n"); // broken TOML
  CHECK(e.find("invalid TOML") != std::string::npos);
  CHECK(e.find("/p/oomlint.toml:") != std::string::npos);

  e = config_error("[tool.oomlint]\nselect = [\"OOM\"]\nnope = true\n", "/p/pyproject.toml");
  CHECK(e.find("/p/pyproject.toml:3:") != std::string::npos);
}

TEST_CASE("config: memory sizes", "[cli][config]") {
  CHECK(parse_memory_size("80GB") == 80'000'000'000ull);
  CHECK(parse_memory_size("24GiB") == 24ull << 30);
  CHECK(parse_memory_size("512 MiB") == 512ull << 20);
  CHECK(parse_memory_size("1.5tb") == 1'500'000'000'000ull);
  CHECK(parse_memory_size("4096") == 4096u);
  CHECK_FALSE(parse_memory_size("GB"));
  CHECK_FALSE(parse_memory_size("12 parsecs"));
  CHECK_FALSE(parse_memory_size("1.2.3GB"));
  CHECK_FALSE(parse_memory_size(""));
}

TEST_CASE("config: selectors", "[cli][config]") {
  CHECK(is_known_selector("OOM"));
  CHECK(is_known_selector("OOM2"));
  CHECK(is_known_selector("OOM203"));
  CHECK(is_known_selector("ALL"));
  CHECK_FALSE(is_known_selector("OOM2039"));
  CHECK_FALSE(is_known_selector("E501"));
  CHECK(split_selectors(" oom2, OOM203 ,,") == std::vector<std::string>{"OOM2", "OOM203"});
}

TEST_CASE("config: closest config wins, oomlint.toml before pyproject.toml", "[cli][config]") {
  TempDir tmp;
  tmp.write("pyproject.toml", "[tool.oomlint]\ntarget-gpu = \"volta\"\n");
  tmp.write("sub/pyproject.toml", "[tool.oomlint]\ntarget-gpu = \"turing\"\n");
  tmp.write("sub/oomlint.toml", "target-gpu = \"hopper\"\n");
  tmp.write("other/pyproject.toml", "[tool.black]\n"); // no [tool.oomlint]: keep looking
  fs::create_directories(tmp.path() / "sub/deeper");
  ConfigResolver r(std::nullopt, false);
  const Config* top = r.for_directory(tmp.path());
  REQUIRE(top);
  CHECK(top->target_gpu == TargetGpu::Volta);
  const Config* deep = r.for_directory(tmp.path() / "sub/deeper");
  REQUIRE(deep);
  CHECK(deep->target_gpu == TargetGpu::Hopper);
  CHECK(r.for_directory(tmp.path() / "sub") == deep); // cached, same object
  const Config* other = r.for_directory(tmp.path() / "other");
  CHECK(other == top);

  ConfigResolver isolated(std::nullopt, true);
  CHECK(isolated.for_directory(tmp.path() / "sub") == nullptr);
}

TEST_CASE("config: a bad file found upwards throws", "[cli][config]") {
  TempDir tmp;
  tmp.write("oomlint.toml", "selec = [\"OOM\"]\n");
  ConfigResolver r(std::nullopt, false);
  CHECK_THROWS_AS(r.for_directory(tmp.path()), ConfigError);
}

TEST_CASE("config: settings from config, command line and per-file-ignores", "[cli][config]") {
  Config cfg;
  cfg.file = "/proj/oomlint.toml";
  cfg.dir = "/proj";
  cfg.ignore = {"OOM203"};
  cfg.target_gpu = TargetGpu::Turing;
  cfg.per_file_ignores = {{"tests/*.py", {"OOM2"}}};
  CliOverrides cli;
  auto s = resolve_settings(&cfg, cli, "/proj/train.py");
  CHECK_FALSE(s.is_enabled("OOM203"));
  CHECK(s.target_gpu == TargetGpu::Turing);

  cli.select = std::vector<std::string>{"OOM203"}; // the command line's select resets ignores
  cli.target_gpu = TargetGpu::Ada;
  s = resolve_settings(&cfg, cli, "/proj/train.py");
  CHECK(s.is_enabled("OOM203"));
  CHECK(s.target_gpu == TargetGpu::Ada);

  s = resolve_settings(&cfg, cli, "/proj/tests/test_a.py");
  CHECK_FALSE(s.is_enabled("OOM203"));
  s = resolve_settings(&cfg, cli, "/proj/tests/sub/test_a.py"); // `*` stops at `/`
  CHECK(s.is_enabled("OOM203"));

  CliOverrides ignore_cli;
  ignore_cli.ignore = {"OOM2"};
  s = resolve_settings(nullptr, ignore_cli, "/x.py");
  CHECK_FALSE(s.is_enabled("OOM203"));
}

TEST_CASE("glob: patterns", "[cli][glob]") {
  CHECK(glob_match("*.py", "a.py"));
  CHECK_FALSE(glob_match("*.py", "dir/a.py"));
  CHECK(glob_match("**/*.py", "a.py"));
  CHECK(glob_match("**/*.py", "x/y/a.py"));
  CHECK(glob_match("/r/**/gen/*", "/r/a/b/gen/x.py"));
  CHECK(glob_match("test_?.py", "test_1.py"));
  CHECK(glob_match("[abc]*.py", "b1.py"));
  CHECK_FALSE(glob_match("[!abc]*.py", "b1.py"));
  CHECK(glob_match("[a-c]x", "bx"));
  CHECK(path_pattern_match("legacy", "/r", "/r/src/legacy"));
  CHECK(path_pattern_match("src/legacy/", "/r", "/r/src/legacy"));
  CHECK_FALSE(path_pattern_match("src/legacy", "/r", "/other/src/legacy"));
  CHECK(path_pattern_match("./src/*.py", "/r", "/r/src/a.py"));
}
