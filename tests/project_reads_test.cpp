#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>

#include "cli/cli_test_support.h"
#include "model/project.h"

using oomlint::checks::ProjectIndex;
using oomlint::checks::ProjectReads;
using oomlint::checks::ProjectRegistry;
using oomlint::checks::RecordProjectReads;
using oomlint::test::TempDir;
namespace fs = std::filesystem;

namespace {

// Everything `reads` holds, its shared parts included.
void flatten(const ProjectReads& reads, ProjectReads& out) {
  out.files.insert(out.files.end(), reads.files.begin(), reads.files.end());
  out.probes.insert(out.probes.end(), reads.probes.begin(), reads.probes.end());
  for (const auto& s : reads.shared)
    flatten(*s, out);
}

bool has_file(const ProjectReads& r, const fs::path& p, uint64_t print) {
  return std::any_of(r.files.begin(), r.files.end(),
                     [&](const auto& f) { return f.first == p && f.second == print; });
}

bool has_probe(const ProjectReads& r, const fs::path& p, bool found, bool marker) {
  return std::any_of(r.probes.begin(), r.probes.end(), [&](const ProjectReads::Probe& x) {
    return x.path == p && x.found == found && x.marker == marker;
  });
}

constexpr std::string_view kUtils = "import torch\n\n\n@torch.no_grad()\ndef score(model, batch):\n"
                                    "    return model(batch)\n";
constexpr std::string_view kTrain = "import torch\nfrom utils import score\nimport helpers\n";

} // namespace

TEST_CASE("project reads: a check records the modules it used and the paths it probed",
          "[project]") {
  TempDir tmp;
  tmp.write("pyproject.toml", "");
  fs::path utils = tmp.write("utils.py", kUtils);
  fs::path train = tmp.write("train.py", kTrain);
  ProjectRegistry registry;
  ProjectReads reads;
  {
    RecordProjectReads record(reads);
    ProjectIndex* project = registry.for_file(train);
    REQUIRE(project->root() == tmp.path());
    auto deps = project->dependencies(train, kTrain);
    REQUIRE(deps == std::vector<fs::path>{utils});
    REQUIRE(project->summary(utils) != nullptr);
  }
  ProjectReads all;
  flatten(reads, all);
  uint64_t print = ProjectIndex::fingerprint(kUtils);
  CHECK(print == ProjectIndex::file_fingerprint(utils));
  CHECK(has_file(all, utils, print));
  // The root marker found, the import resolved, and the module that is not there (yet).
  CHECK(has_probe(all, tmp.path() / "pyproject.toml", true, true));
  CHECK(has_probe(all, tmp.path() / "utils.py", true, false));
  CHECK(has_probe(all, tmp.path() / "helpers.py", false, false));
  CHECK(has_probe(all, tmp.path() / "helpers" / "__init__.py", false, false));

  // A second check of the project records the same, from what the first one kept.
  ProjectReads again;
  {
    RecordProjectReads record(again);
    ProjectIndex* project = registry.for_file(train);
    project->dependencies(train, kTrain);
    project->summary(utils);
  }
  ProjectReads all_again;
  flatten(again, all_again);
  CHECK(has_file(all_again, utils, print));
  CHECK(has_probe(all_again, tmp.path() / "helpers.py", false, false));
  CHECK(has_probe(all_again, tmp.path() / "pyproject.toml", true, true));

  // Nothing is recorded once the recorder has gone.
  ProjectReads none;
  { RecordProjectReads record(none); }
  registry.for_file(train)->summary(utils);
  CHECK(none.files.empty());
  CHECK(none.probes.empty());
}

TEST_CASE("project reads: a file's fingerprint follows its bytes, an unreadable one is 0",
          "[project]") {
  TempDir tmp;
  fs::path f = tmp.write("m.py", "x = 1\n");
  uint64_t before = ProjectIndex::file_fingerprint(f);
  tmp.write("m.py", "x = 2\n");
  CHECK(ProjectIndex::file_fingerprint(f) != before);
  CHECK(ProjectIndex::file_fingerprint(tmp.path() / "missing.py") == 0);
  CHECK(ProjectReads::probe(tmp.path() / "m.py", false));
  CHECK_FALSE(ProjectReads::probe(tmp.path(), false)); // a folder is no module
  CHECK(ProjectReads::probe(tmp.path(), true));        // but counts as a root marker (.git)
}
