#include "cli/explain_command.h"
#include "cli/arguments.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/explain.h"
#include "cli/rule_command.h"
#include "doc_links.h"
#include "registry.h"

namespace oomlint::cli {

namespace {

using Json = nlohmann::ordered_json;
namespace ex = explain;

// "# M8 — The allocator's expandable segments, against fragmentation" -> the part after the dash.
std::string section_title(const std::string& section) {
  std::string_view page = checks::guide_doc(section);
  std::string_view first = page.substr(0, page.find('\n'));
  for (std::string_view dash : {" \xE2\x80\x94 ", " - "}) {
    size_t p = first.find(dash);
    if (p != std::string_view::npos) return std::string(first.substr(p + dash.size()));
  }
  return std::string(first);
}

// Reads `in` to its end into the scanner; false on a read error (errno set).
bool read_all(std::FILE* in, ex::Scanner& scanner) {
  std::string chunk(1 << 16, '\0');
  for (;;) {
    size_t n = std::fread(chunk.data(), 1, chunk.size(), in);
    if (n > 0) scanner.feed(std::string_view(chunk.data(), n));
    if (n < chunk.size()) return !std::ferror(in);
  }
}

Json bytes_or_null(const std::optional<uint64_t>& v) {
  return v ? Json(*v) : Json(nullptr);
}

void print_text(const ex::Report& r, const std::string& base) {
  std::cout << "diagnosis: " << ex::to_string(r.diagnosis) << "\n";
  if (r.message) {
    const auto& m = *r.message;
    std::cout << "message (line " << m.line_number << "): " << m.line << "\n";
    const auto& f = m.figures;
    std::vector<std::string> parts;
    auto add = [&](const char* name, const std::optional<uint64_t>& v) {
      if (v) parts.push_back(std::string(name) + " " + ex::format_size(*v));
    };
    add("request", f.request);
    add("total", f.total);
    add("free", f.free);
    add("allocated", f.allocated);
    add("reserved", f.reserved);
    add("reserved-unallocated", f.reserved_unallocated);
    add("this process", f.process_in_use);
    if (f.other_process_count > 0)
      parts.push_back("other process lines " + std::to_string(f.other_process_count) + " (" +
                      ex::format_size(f.other_processes.value_or(0)) + ")");
    add("MPS other allocations", f.mps_other);
    if (f.gpu) parts.push_back("GPU " + std::to_string(*f.gpu));
    if (!m.backend.empty()) parts.push_back("backend " + m.backend);
    if (!parts.empty()) {
      std::cout << "decoded:";
      for (size_t i = 0; i < parts.size(); ++i)
        std::cout << (i ? "; " : " ") << parts[i];
      std::cout << "\n";
    }
  }
  std::cout << "why: " << r.reason << "\n";
  if (!r.selection.empty()) std::cout << "note: " << r.selection << "\n";
  std::cout << "\nnext steps:\n";
  int i = 0;
  for (const auto& rung : r.rungs) {
    std::cout << "  " << ++i << ". " << rung.section << " " << section_title(rung.section) << ": "
              << rung.action << "\n     " << checks::guide_url(rung.section, base) << "\n";
  }
}

void print_json(const ex::Report& r, const std::string& base) {
  Json j;
  j["diagnosis"] = std::string(ex::to_string(r.diagnosis));
  j["found"] = r.message.has_value();
  const ex::Figures none;
  const ex::Figures& f = r.message ? r.message->figures : none;
  j["message"] = r.message ? Json(r.message->line) : Json(nullptr);
  j["line"] = r.message ? Json(r.message->line_number) : Json(nullptr);
  j["kind"] =
      !r.message ? Json(nullptr) : Json(r.message->kind == ex::Kind::Gpu ? "gpu" : "host-kill");
  j["backend"] =
      r.message && !r.message->backend.empty() ? Json(r.message->backend) : Json(nullptr);
  j["gpu"] = f.gpu ? Json(*f.gpu) : Json(nullptr);
  j["figures"] = Json{{"request_bytes", bytes_or_null(f.request)},
                      {"total_bytes", bytes_or_null(f.total)},
                      {"free_bytes", bytes_or_null(f.free)},
                      {"allocated_bytes", bytes_or_null(f.allocated)},
                      {"reserved_bytes", bytes_or_null(f.reserved)},
                      {"reserved_unallocated_bytes", bytes_or_null(f.reserved_unallocated)},
                      {"process_in_use_bytes", bytes_or_null(f.process_in_use)},
                      {"other_processes_bytes", bytes_or_null(f.other_processes)},
                      {"other_process_lines", f.other_process_count},
                      {"mps_other_allocations_bytes", bytes_or_null(f.mps_other)}};
  j["reason"] = r.reason;
  j["messages_seen"] = r.gpu_messages;
  j["host_kills_seen"] = r.host_kills;
  j["selection"] = r.selection.empty() ? Json(nullptr) : Json(r.selection);
  Json rungs = Json::array();
  for (const auto& rung : r.rungs)
    rungs.push_back(Json{{"section", rung.section},
                         {"title", section_title(rung.section)},
                         {"action", rung.action},
                         {"link", checks::guide_url(rung.section, base)}});
  j["rungs"] = rungs;
  j["bytes_read"] = r.bytes_read;
  std::cout << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

} // namespace

int run_explain(const std::vector<std::string>& args) {
  CLI::App app{"Explain a GPU out-of-memory error: decode the figures of PyTorch's message (or of "
               "a whole log), name the likely cause (fragmentation, large-allocation, capacity, "
               "other-process, host-ram) and print the memory guide's next steps.\n\nExit "
               "codes: 0 a diagnosis was made, 1 none (no out-of-memory message, or its figures "
               "fit no pattern), 2 usage or I/O error.",
               "oomlint explain"};
  std::string input = "-";
  std::string format = "text";
  std::string docs_url;
  app.add_option("FILE", input, "The log or message to read; `-` or none: standard input");
  app.add_option("--output-format", format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  add_docs_url_option(app, docs_url);
  if (auto code = parse_arguments(app, args)) return *code;

  ex::Scanner scanner;
  if (input == "-") {
    if (::isatty(STDIN_FILENO))
      std::cerr << "oomlint explain: reading the log from standard input (end it with Ctrl-D)\n";
    if (!read_all(stdin, scanner)) {
      std::cerr << "error: cannot read standard input: " << std::strerror(errno) << "\n";
      return 2;
    }
  } else {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      std::cerr << "error: `" << input << "` is a directory; give a log file or `-` for stdin\n";
      return 2;
    }
    std::FILE* in = std::fopen(input.c_str(), "rb");
    if (!in) {
      std::cerr << "error: cannot open `" << input << "`: " << std::strerror(errno) << "\n";
      return 2;
    }
    bool ok = read_all(in, scanner);
    int err = errno;
    std::fclose(in);
    if (!ok) {
      std::cerr << "error: cannot read `" << input << "`: " << std::strerror(err) << "\n";
      return 2;
    }
  }
  ex::Report report = scanner.finish();
  std::string base = docs_base_for_command(docs_url);
  if (format == "json")
    print_json(report, base);
  else
    print_text(report, base);
  std::cout.flush();
  if (!std::cout) return 2;
  return report.diagnosis == ex::Diagnosis::Unknown ? 1 : 0;
}

} // namespace oomlint::cli
