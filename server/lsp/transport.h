// Byte streams the server talks over: stdin/stdout, one TCP client on loopback, or memory (tests).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace oomlint::lsp {

class ByteStream {
public:
  virtual ~ByteStream() = default;
  // Reads up to `n` bytes; returns 0 at end of stream (or on an error).
  virtual size_t read_some(char* buf, size_t n) = 0;
  // Writes everything; false if the peer is gone.
  virtual bool write_all(std::string_view bytes) = 0;
};

// File descriptors (the server's stdin and stdout).
class FdStream final : public ByteStream {
public:
  FdStream(int in_fd, int out_fd) : in_(in_fd), out_(out_fd) {}
  size_t read_some(char* buf, size_t n) override;
  bool write_all(std::string_view bytes) override;

private:
  int in_;
  int out_;
};

// Input from a string, output collected into a string.
class MemoryStream final : public ByteStream {
public:
  explicit MemoryStream(std::string input) : input_(std::move(input)) {}
  size_t read_some(char* buf, size_t n) override;
  bool write_all(std::string_view bytes) override;
  std::string output() const;

private:
  std::string input_;
  size_t pos_ = 0;
  mutable std::mutex mutex_;
  std::string output_;
};

// "127.0.0.1:PORT" or "[::1]:PORT" or "localhost:PORT"; nullopt (with `error`) otherwise, and for
// any address that is not loopback.
struct ListenAddress {
  std::string host;
  unsigned short port = 0;
};
std::optional<ListenAddress> parse_listen_address(std::string_view spec, std::string& error);

// Listens on the loopback address, accepts one client and returns a stream over it (nullptr and
// `error` on failure). `on_listening` gets the bound port (useful with port 0).
std::unique_ptr<ByteStream> accept_one_tcp_client(const ListenAddress& address, std::string& error,
                                                  void (*on_listening)(unsigned short) = nullptr);

} // namespace oomlint::lsp
