#include "cli/cli.h"

#include <array>
#include <iostream>

#include "cli/check_command.h"
#include "cli/explain_command.h"
#include "cli/fit_command.h"
#include "cli/guide_command.h"
#include "cli/rule_command.h"
#include "lsp/server.h"
#if __has_include("cli/estimate_command.h")
#include "cli/estimate_command.h"
#define OOMLINT_HAS_ESTIMATE 1
#endif

#ifndef OOMLINT_VERSION
#define OOMLINT_VERSION "0.0.0"
#endif

namespace oomlint::cli {

namespace {

int run_version(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      std::cout << "Print oomlint's version.\n\nUsage: oomlint version\n";
      return 0;
    }
    std::cerr << "error: oomlint version takes no argument (got `" << a << "`)\n";
    return 2;
  }
  std::cout << version_string() << "\n";
  return 0;
}

struct Command {
  std::string_view name;
  std::string_view help;
  int (*run)(const std::vector<std::string>& args);
};

// One row per subcommand.
constexpr auto kCommands = std::to_array<Command>({
    {"check", "Check files and folders for GPU-memory mistakes", run_check},
    {"rule", "Explain a rule (oomlint rule OOM203) or list them (--all)", run_rule},
    {"guide", "Print the memory guide's contents, or a section (oomlint guide M7)", run_guide},
    {"explain", "Explain a CUDA out-of-memory message or log (oomlint explain train.log)",
     run_explain},
#ifdef OOMLINT_HAS_ESTIMATE
    {"estimate", "Estimate the GPU memory of a training setup", run_estimate},
#endif
    {"fit", "Predict a training script's peak GPU memory and what makes it fit", run_fit},
    {"server", "Run the language server (LSP over stdio)", lsp::run_server},
    {"version", "Print the version", run_version},
});

void print_usage(std::ostream& out) {
  out << "oomlint: a linter for GPU-memory mistakes in PyTorch / Hugging Face training code\n\n"
         "Usage: oomlint <COMMAND> [OPTIONS]\n\nCommands:\n";
  for (const auto& c : kCommands) {
    out << "  " << c.name << std::string(10 - c.name.size(), ' ') << c.help << "\n";
  }
  out << "\nOptions:\n  -h, --help     Print this help\n  -V, --version  Print the version\n"
         "\nRun `oomlint <COMMAND> --help` (or `oomlint help <COMMAND>`) for a command's "
         "options.\n";
}

} // namespace

std::string version_string() {
  return std::string("oomlint ") + OOMLINT_VERSION;
}

int run(const std::vector<std::string>& args) {
  if (args.empty()) {
    print_usage(std::cerr);
    return 2;
  }
  const std::string& first = args[0];
  if (first == "help" && args.size() == 2) {
    // `oomlint help check` is `oomlint check --help`
    for (const auto& c : kCommands) {
      if (c.name == args[1]) return c.run({"--help"});
    }
  }
  if (first == "-h" || first == "--help" || first == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (first == "-V" || first == "--version") return run_version({});
  std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const auto& c : kCommands) {
    if (c.name == first) return c.run(rest);
  }
  std::cerr << "error: unknown command `" << first << "`\n\n";
  print_usage(std::cerr);
  return 2;
}

int run(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return run(args);
}

} // namespace oomlint::cli
