// JSON-RPC framing: "Content-Length: N\r\n\r\n" + N bytes of body. The reader survives hostile
// input: missing, negative, non-numeric or oversized lengths are reported and skipped, and it
// resynchronises on the next "Content-Length:" header; a truncated body is the end of the stream.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "lsp/transport.h"

namespace oomlint::lsp {

constexpr size_t kMaxContentLength = size_t{256} << 20;

struct Frame {
  enum class Kind { Message, BadHeader, Eof } kind = Kind::Eof;
  std::string body;  // Message
  std::string error; // BadHeader
};

class FrameReader {
public:
  explicit FrameReader(ByteStream& in) : in_(in) {}
  Frame read();

private:
  // Reads one line (without its "\n"); false at end of stream. Overlong lines are cut to their
  // tail and flagged.
  bool read_line(std::string& line, bool& overlong);
  bool fill();
  ByteStream& in_;
  std::string buf_;
  size_t pos_ = 0;
};

// Writes frames; safe to call from several threads.
class FrameWriter {
public:
  explicit FrameWriter(ByteStream& out) : out_(out) {}
  bool write(std::string_view body);

private:
  ByteStream& out_;
  std::mutex mutex_;
};

std::string frame(std::string_view body);

} // namespace oomlint::lsp
