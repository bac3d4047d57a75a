// DeepSpeed JSON configs (OOM091 for ds_config*.json files).
#include <catch2/catch.hpp>

#include <string>

#include "deepspeed_json.h"

using namespace oomlint;

namespace {

std::vector<checks::Diagnostic> check(const std::string& text) {
  return checks::check_deepspeed_json(text, checks::Settings{});
}

std::string at(const std::string& text, const checks::Diagnostic& d) {
  return text.substr(d.start, d.end - d.start);
}

} // namespace

TEST_CASE("deepspeed json: offload_param below stage 3 is reported at its key", "[deepspeed]") {
  std::string text = R"({
  "train_micro_batch_size_per_gpu": "auto",
  "zero_optimization": {
    "stage": 2,
    "offload_optimizer": {"device": "cpu", "pin_memory": true},
    "offload_param": {"device": "cpu"}
  }
})";
  auto ds = check(text);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].code == "OOM091");
  CHECK(ds[0].section == "M9/M10");
  CHECK(at(text, ds[0]) == "\"offload_param\"");
  CHECK(ds[0].start_pos.line == 6);
  CHECK(ds[0].start_pos.column == 5);
  CHECK(ds[0].message.find("stage 2") != std::string::npos);
}

TEST_CASE("deepspeed json: offload_optimizer with stage 0 or no stage", "[deepspeed]") {
  std::string stage0 =
      R"({"zero_optimization": {"stage": 0, "offload_optimizer": {"device": "nvme"}}})";
  auto ds = check(stage0);
  REQUIRE(ds.size() == 1);
  CHECK(at(stage0, ds[0]) == "\"offload_optimizer\"");

  std::string no_stage = R"({"zero_optimization": {"offload_optimizer": {"device": "cpu"},
    "offload_param": {"device": "cpu"}}})";
  auto both = check(no_stage);
  REQUIRE(both.size() == 2);
  CHECK(both[0].message.find("default is 0") != std::string::npos);
}

TEST_CASE("deepspeed json: valid and unknowable configs stay silent", "[deepspeed]") {
  // Stage 3 may offload both; stages 1-2 may offload the optimizer.
  CHECK(check(R"({"zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
      "offload_optimizer": {"device": "cpu"}}})")
            .empty());
  CHECK(check(R"({"zero_optimization": {"stage": 1, "offload_optimizer": {"device": "cpu"}}})")
            .empty());
  // Offload switched off, or no device given (DeepSpeed's default is "none").
  CHECK(
      check(R"({"zero_optimization": {"stage": 2, "offload_param": {"device": "none"}}})").empty());
  CHECK(check(R"({"zero_optimization": {"stage": 2, "offload_param": {"pin_memory": true}}})")
            .empty());
  // A stage that is not a number is filled in by a launcher.
  CHECK(check(R"({"zero_optimization": {"stage": "auto", "offload_param": {"device": "cpu"}}})")
            .empty());
}

TEST_CASE("deepspeed json: bad input gives no diagnostics and no crash", "[deepspeed]") {
  CHECK(check("").empty());
  CHECK(check("{\"zero_optimization\": {\"stage\": 2, \"offload_param\": ").empty());
  CHECK(check("[1, 2, 3]").empty());
  CHECK(check("{\"zero_optimization\": 3}").empty());
  CHECK(check("\xff\xfe not json").empty());
}

TEST_CASE("deepspeed json: the key is found past comments and look-alike strings", "[deepspeed]") {
  std::string text = R"({
  // "offload_param" in a comment is not the key
  "comment": "offload_param",
  "zero_optimization": {"stage": 1, /* note */ "offload_param": {"device": "nvme"}}
})";
  auto ds = check(text);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].start_pos.line == 4);
  CHECK(at(text, ds[0]) == "\"offload_param\"");
}

TEST_CASE("deepspeed json: detection and rule selection", "[deepspeed]") {
  CHECK(checks::is_deepspeed_json(R"({"zero_optimization": {}})"));
  CHECK_FALSE(checks::is_deepspeed_json(R"({"optimizer": {}})"));
  checks::Settings off;
  off.ignore = {"OOM091"};
  CHECK(checks::check_deepspeed_json(
            R"({"zero_optimization": {"stage": 2, "offload_param": {"device": "cpu"}}})", off)
            .empty());
}
