#include "lsp/server.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "lsp/json_rpc.h"
#include "lsp/language_server.h"
#include "lsp/transport.h"

namespace oomlint::lsp {

int serve(ByteStream& stream, const ServerOptions& options) {
  FrameWriter writer(stream);
  LanguageServer server([&writer](const json& message) { writer.write(dump(message)); }, options);
  FrameReader reader(stream);
  while (!server.exited()) {
    Frame f = reader.read();
    if (f.kind == Frame::Kind::Eof) {
      server.end_of_stream();
      break;
    }
    if (f.kind == Frame::Kind::BadHeader) {
      server.bad_frame(f.error);
      continue;
    }
    server.handle_raw(f.body);
    if (options.scheduler.workers == 0) server.run_pending();
  }
  return server.exit_code();
}

namespace {
void usage() {
  std::cerr << "usage: oomlint server [--stdio] [--listen 127.0.0.1:PORT] [--log-level LEVEL]\n"
               "                      [--debounce MS]\n"
               "  Runs the language server (LSP 3.17) on stdin/stdout, or for one client on a\n"
               "  loopback TCP port. LEVEL: error, warning, info (default), debug.\n";
}

void announce_port(unsigned short port) {
  std::fprintf(stderr, "oomlint server listening on port %u\n", static_cast<unsigned>(port));
  std::fflush(stderr);
}
} // namespace

int run_server(const std::vector<std::string>& args) {
  ServerOptions options;
  std::optional<ListenAddress> listen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 < args.size()) return args[++i];
      std::cerr << "oomlint server: " << a << " needs a value\n";
      return std::nullopt;
    };
    if (a == "--stdio") continue;
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    }
    if (a == "--listen") {
      auto v = value();
      if (!v) return 2;
      std::string error;
      listen = parse_listen_address(*v, error);
      if (!listen) {
        std::cerr << "oomlint server: --listen " << *v << ": " << error << "\n";
        return 2;
      }
    } else if (a == "--log-level") {
      auto v = value();
      auto level = v ? parse_log_level(*v) : std::nullopt;
      if (!level) {
        std::cerr << "oomlint server: unknown log level\n";
        return 2;
      }
      options.stderr_level = *level;
    } else if (a == "--debounce") {
      auto v = value();
      if (!v) return 2;
      try {
        long ms = std::stol(*v);
        if (ms < 0 || ms > 60000) throw std::out_of_range("debounce");
        options.scheduler.debounce = std::chrono::milliseconds(ms);
      } catch (const std::exception&) {
        std::cerr << "oomlint server: --debounce takes milliseconds (0-60000)\n";
        return 2;
      }
    } else {
      std::cerr << "oomlint server: unknown argument `" << a << "`\n";
      usage();
      return 2;
    }
  }
  if (listen) {
    std::string error;
    auto stream = accept_one_tcp_client(*listen, error, announce_port);
    if (!stream) {
      std::cerr << "oomlint server: " << error << "\n";
      return 1;
    }
    return serve(*stream, options);
  }
  FdStream stream(STDIN_FILENO, STDOUT_FILENO);
  return serve(stream, options);
}

} // namespace oomlint::lsp
