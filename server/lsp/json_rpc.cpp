#include "lsp/json_rpc.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace oomlint::lsp {

namespace {
constexpr size_t kMaxLine = size_t{1} << 16;
constexpr std::string_view kContentLength = "content-length:";

size_t find_icase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
  return it == hay.end() ? std::string_view::npos : static_cast<size_t>(it - hay.begin());
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}
} // namespace

std::string frame(std::string_view body) {
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out.append(body);
  return out;
}

bool FrameWriter::write(std::string_view body) {
  std::string bytes = frame(body);
  std::lock_guard lock(mutex_);
  return out_.write_all(bytes);
}

bool FrameReader::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  char chunk[65536];
  size_t got = in_.read_some(chunk, sizeof chunk);
  if (got == 0) return false;
  buf_.append(chunk, got);
  return true;
}

bool FrameReader::read_line(std::string& line, bool& overlong) {
  line.clear();
  overlong = false;
  for (;;) {
    const char* start = buf_.data() + pos_;
    const void* nl = std::memchr(start, '\n', buf_.size() - pos_);
    if (nl) {
      size_t n = static_cast<size_t>(static_cast<const char*>(nl) - start);
      line.append(start, n);
      pos_ += n + 1;
      if (line.size() > kMaxLine) {
        line.erase(0, line.size() - kMaxLine);
        overlong = true;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return true;
    }
    line.append(start, buf_.size() - pos_);
    pos_ = buf_.size();
    if (line.size() > kMaxLine) {
      // Keep a tail long enough to hold a header that starts near the end.
      line.erase(0, line.size() - 256);
      overlong = true;
    }
    if (!fill()) return false;
  }
}

Frame FrameReader::read() {
  std::string line;
  bool overlong = false;
  bool in_headers = false;
  bool have_length = false;
  bool bad = false;
  std::string error;
  size_t length = 0;
  for (;;) {
    if (!read_line(line, overlong)) return Frame{Frame::Kind::Eof, {}, {}};
    std::string_view view = line;
    if (!in_headers) {
      if (trim(view).empty()) continue; // stray blank lines between messages
      // Garbage before a header (e.g. the unread body of a rejected message): resynchronise on
      // the next "Content-Length:".
      size_t at = find_icase(view, kContentLength);
      if (at == std::string_view::npos) {
        if (error.empty()) error = "skipped bytes that are not a message header";
        continue;
      }
      view = view.substr(at);
      in_headers = true;
    } else if (view.empty()) {
      break; // end of the header block
    }
    size_t colon = view.find(':');
    if (colon == std::string_view::npos) {
      bad = true;
      error = "malformed header line";
      continue;
    }
    std::string_view name = trim(view.substr(0, colon));
    std::string_view value = trim(view.substr(colon + 1));
    if (name.size() + 1 == kContentLength.size() && find_icase(view, kContentLength) == 0) {
      if (value.empty() || value.size() > 20 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        bad = true;
        error = "invalid Content-Length `" + std::string(value.substr(0, 40)) + "`";
        continue;
      }
      unsigned long long n = 0;
      for (char c : value) {
        n = n * 10 + static_cast<unsigned long long>(c - '0');
        if (n > kMaxContentLength) break;
      }
      if (n > kMaxContentLength) {
        bad = true;
        error = "Content-Length " + std::string(value) + " exceeds the limit of " +
                std::to_string(kMaxContentLength) + " bytes";
        continue;
      }
      length = static_cast<size_t>(n);
      have_length = true;
    }
    // Other headers (Content-Type) are accepted and ignored.
  }
  if (bad || !have_length) {
    if (error.empty()) error = "message without Content-Length";
    return Frame{Frame::Kind::BadHeader, {}, error};
  }
  std::string body;
  body.reserve(std::min(length, size_t{1} << 20));
  while (body.size() < length) {
    if (pos_ == buf_.size() && !fill()) return Frame{Frame::Kind::Eof, {}, {}};
    size_t take = std::min(length - body.size(), buf_.size() - pos_);
    body.append(buf_, pos_, take);
    pos_ += take;
  }
  return Frame{Frame::Kind::Message, std::move(body), {}};
}

} // namespace oomlint::lsp
