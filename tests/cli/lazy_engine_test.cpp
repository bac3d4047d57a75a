#include <catch2/catch.hpp>

#include "cli/cache.h"
#include "cli/cli_test_support.h"
#include "cli/file_checker.h"

using namespace oomlint::cli;
using oomlint::test::TempDir;

namespace {

const char* kSource = "import torch\n"
                      "\n"
                      "def train(model, loader, opt):\n"
                      "    for batch in loader:\n"
                      "        model(batch).sum().backward()\n"
                      "        opt.step()\n"
                      "        torch.cuda.empty_cache()\n";

oomlint::checks::Settings only_oom203() {
  oomlint::checks::Settings s;
  s.select = {"OOM203"};
  return s;
}

FileJob job_for(const TempDir& tmp, const char* rel, const LazyEngine& engine) {
  FileJob job;
  job.path = tmp.path() / rel;
  job.absolute = job.path;
  job.display = rel;
  job.lazy_engine = &engine;
  job.settings_key = "OOM203";
  return job;
}

} // namespace

TEST_CASE("lazy engine: built by the first file that misses the cache, not by a hit",
          "[cli][cache]") {
  TempDir tmp;
  tmp.write("train.py", kSource);
  ResultsCache cache = ResultsCache::open(tmp.path() / "cache");
  FixOptions options;
  options.cache = &cache;

  LazyEngine first(only_oom203());
  CHECK_FALSE(first.built());
  auto miss = check_file(job_for(tmp, "train.py", first), options);
  CHECK(first.built());
  REQUIRE(miss.findings.size() == 1);
  CHECK(miss.findings[0].diagnostic.code == "OOM203");

  LazyEngine second(only_oom203());
  auto hit = check_file(job_for(tmp, "train.py", second), options);
  CHECK_FALSE(second.built());
  CHECK(cache.hits() == 1);
  REQUIRE(hit.findings.size() == 1);
  CHECK(hit.findings[0].diagnostic.code == "OOM203");
  CHECK(hit.findings[0].location.row == miss.findings[0].location.row);
}

TEST_CASE("lazy engine: --fix, --diff and no cache always build it", "[cli][cache]") {
  TempDir tmp;
  tmp.write("train.py", kSource);
  for (FixMode mode : {FixMode::None, FixMode::Diff}) {
    LazyEngine engine(only_oom203());
    FixOptions options;
    options.mode = mode;
    options.unsafe = true;
    auto out = check_file(job_for(tmp, "train.py", engine), options);
    CHECK(engine.built());
    CHECK(out.errors.empty());
  }
  // A DeepSpeed config needs only the settings.
  tmp.write("ds_config.json", "{\"zero_optimization\": {\"stage\": 1}}");
  LazyEngine engine(only_oom203());
  FileJob job = job_for(tmp, "ds_config.json", engine);
  job.kind = FileKind::DeepSpeedJson;
  auto out = check_file(job, {});
  CHECK_FALSE(engine.built());
  CHECK(out.errors.empty());
}
