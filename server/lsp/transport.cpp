#include "lsp/transport.h"

#include <unistd.h>

#include <asio.hpp>
#include <cerrno>
#include <cstring>

namespace oomlint::lsp {

size_t FdStream::read_some(char* buf, size_t n) {
  for (;;) {
    ssize_t got = ::read(in_, buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return 0;
  }
}

bool FdStream::write_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t put = ::write(out_, bytes.data(), bytes.size());
    if (put < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(put));
  }
  return true;
}

size_t MemoryStream::read_some(char* buf, size_t n) {
  size_t k = std::min(n, input_.size() - pos_);
  std::memcpy(buf, input_.data() + pos_, k);
  pos_ += k;
  return k;
}

bool MemoryStream::write_all(std::string_view bytes) {
  std::lock_guard lock(mutex_);
  output_.append(bytes);
  return true;
}

std::string MemoryStream::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

std::optional<ListenAddress> parse_listen_address(std::string_view spec, std::string& error) {
  size_t colon = spec.rfind(':');
  if (colon == std::string_view::npos) {
    error = "expected HOST:PORT, e.g. 127.0.0.1:2087";
    return std::nullopt;
  }
  std::string host(spec.substr(0, colon));
  std::string_view port_text = spec.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned long port = 0;
  if (port_text.empty() || port_text.size() > 5) {
    error = "invalid port";
    return std::nullopt;
  }
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      error = "invalid port";
      return std::nullopt;
    }
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port > 65535) {
    error = "invalid port";
    return std::nullopt;
  }
  if (host == "localhost") host = "127.0.0.1";
  std::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) {
    error = "invalid address `" + host + "`";
    return std::nullopt;
  }
  if (!addr.is_loopback()) {
    error = "refusing to listen on `" + host + "`: only loopback addresses are allowed";
    return std::nullopt;
  }
  return ListenAddress{addr.to_string(), static_cast<unsigned short>(port)};
}

namespace {
class TcpStream final : public ByteStream {
public:
  TcpStream(std::unique_ptr<asio::io_context> io, asio::ip::tcp::socket socket)
      : io_(std::move(io)), socket_(std::move(socket)) {}
  size_t read_some(char* buf, size_t n) override {
    std::error_code ec;
    size_t got = socket_.read_some(asio::buffer(buf, n), ec);
    return ec ? 0 : got;
  }
  bool write_all(std::string_view bytes) override {
    std::error_code ec;
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }

private:
  std::unique_ptr<asio::io_context> io_;
  asio::ip::tcp::socket socket_;
};
} // namespace

std::unique_ptr<ByteStream> accept_one_tcp_client(const ListenAddress& address, std::string& error,
                                                  void (*on_listening)(unsigned short)) {
  auto io = std::make_unique<asio::io_context>();
  std::error_code ec;
  asio::ip::address addr = asio::ip::make_address(address.host, ec);
  if (ec || !addr.is_loopback()) {
    error = "refusing a non-loopback address";
    return nullptr;
  }
  asio::ip::tcp::endpoint endpoint(addr, address.port);
  asio::ip::tcp::acceptor acceptor(*io);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(1, ec);
  if (ec) {
    error = "cannot listen on " + address.host + ":" + std::to_string(address.port) + ": " +
            ec.message();
    return nullptr;
  }
  if (on_listening) on_listening(acceptor.local_endpoint().port());
  asio::ip::tcp::socket socket(*io);
  acceptor.accept(socket, ec);
  if (ec) {
    error = "accept failed: " + ec.message();
    return nullptr;
  }
  acceptor.close(ec);
  return std::make_unique<TcpStream>(std::move(io), std::move(socket));
}

} // namespace oomlint::lsp
