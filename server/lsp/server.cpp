#include "lsp/server.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "lsp/json_rpc.h"
#include "lsp/language_server.h"
#include "lsp/transport.h"

namespace oomlint::lsp {

namespace {

// The synchronous loop (no worker threads): tests and the fuzzer drive the server this way.
int serve_synchronously(ByteStream& stream, const ServerOptions& options) {
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
    server.run_pending();
  }
  return server.exit_code();
}

// What the reading thread and the JSON thread hand the dispatching thread.
struct Event {
  enum class Kind { Frame, Parsed } kind = Kind::Frame;
  Frame frame;  // Kind::Frame
  json message; // Kind::Parsed: a large message, parsed off this thread (discarded: invalid)
};

class EventQueue {
public:
  void push(Event e) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(e));
    }
    ready_.notify_one();
  }
  Event pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !events_.empty(); });
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Event> events_;
};

// Messages at least this large are parsed on a thread of their own (a 100 MB didOpen takes
// about a second of JSON parsing alone).
constexpr size_t kLargeMessage = size_t{1} << 20;

} // namespace

// Three threads: one reads frames and never waits for anything else; one parses a large message's
// JSON; this one dispatches, in order, with one exception: while a large message is being parsed,
// the messages behind it that may overtake it (LanguageServer::may_overtake: a request about a
// document already open, shutdown, exit, a cancellation) are handled at once and the others wait
// for it. Analysis runs on the scheduler's workers, so no message waits for a parse or a check.
int serve(ByteStream& stream, const ServerOptions& options) {
  if (options.scheduler.workers == 0) return serve_synchronously(stream, options);
  FrameWriter writer(stream);
  LanguageServer server([&writer](const json& message) { writer.write(dump(message)); }, options);
  auto events = std::make_shared<EventQueue>();
  // Detached: at exit it may be blocked in read() on a client that keeps the stream open. It
  // touches nothing of this frame's but the stream and the (shared) queue, and after exit the
  // process ends.
  std::thread([events, &stream] {
    FrameReader reader(stream);
    for (;;) {
      Frame f = reader.read();
      bool eof = f.kind == Frame::Kind::Eof;
      events->push(Event{Event::Kind::Frame, std::move(f), {}});
      if (eof) return;
    }
  }).detach();

  std::thread parser;     // the large message being parsed, if any
  std::deque<Event> held; // behind it, in order
  auto parse_large = [&](std::string body) {
    if (parser.joinable()) parser.join();
    parser = std::thread([events, body = std::move(body)] {
      Event e{Event::Kind::Parsed, {}, json::parse(body, nullptr, /*allow_exceptions=*/false)};
      events->push(std::move(e));
    });
  };
  bool parsing = false;
  bool done = false;
  // Handles one frame in order; returns false at end of stream.
  auto dispatch = [&](Event& e) {
    if (e.kind == Event::Kind::Parsed) {
      if (e.message.is_discarded()) {
        server.handle_raw(std::string_view()); // the reply to invalid JSON
      } else {
        server.handle(e.message);
      }
      return;
    }
    Frame& f = e.frame;
    if (f.kind == Frame::Kind::Eof) {
      server.end_of_stream();
      done = true;
    } else if (f.kind == Frame::Kind::BadHeader) {
      server.bad_frame(f.error);
    } else if (f.body.size() >= kLargeMessage) {
      parsing = true;
      parse_large(std::move(f.body));
    } else {
      server.handle_raw(f.body);
    }
  };
  while (!done && !server.exited()) {
    Event e = events->pop();
    if (e.kind == Event::Kind::Parsed) {
      parsing = false;
      dispatch(e);
      // What waited behind it, until the next large message.
      while (!parsing && !held.empty() && !done && !server.exited()) {
        Event next = std::move(held.front());
        held.pop_front();
        dispatch(next);
      }
      continue;
    }
    if (!parsing) {
      dispatch(e);
      continue;
    }
    // A large message is being parsed: a small one that may overtake it is handled now.
    if (e.frame.kind == Frame::Kind::Message && e.frame.body.size() < kLargeMessage) {
      json message = json::parse(e.frame.body, nullptr, /*allow_exceptions=*/false);
      if (!message.is_discarded() && server.may_overtake(message)) {
        server.handle(message);
        continue;
      }
    }
    held.push_back(std::move(e));
  }
  if (parser.joinable()) parser.join();
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
