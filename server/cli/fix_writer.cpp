#include "cli/fix_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace oomlint::cli {

namespace fs = std::filesystem;

namespace {

struct EndingCounts {
  size_t lf = 0, crlf = 0, cr = 0;
};

EndingCounts count_endings(std::string_view text) {
  EndingCounts c;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') {
        ++c.crlf;
        ++i;
      } else {
        ++c.cr;
      }
    } else if (text[i] == '\n') {
      ++c.lf;
    }
  }
  return c;
}

std::string read_all(const fs::path& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  ok = static_cast<bool>(in) || in.eof();
  return ss.str();
}

constexpr int kInterruptSignals[] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> g_interrupt{0};
struct sigaction g_previous[std::size(kInterruptSignals)];
static_assert(std::atomic<int>::is_always_lock_free);

void record_interrupt(int sig) {
  g_interrupt.store(sig); // lock-free atomic store: async-signal-safe
}

} // namespace

FixInterruptGuard::FixInterruptGuard() {
  g_interrupt.store(0);
  struct sigaction sa {};
  sa.sa_handler = record_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND; // a second signal takes the default action
  for (size_t i = 0; i < std::size(kInterruptSignals); ++i)
    ::sigaction(kInterruptSignals[i], &sa, &g_previous[i]);
}

FixInterruptGuard::~FixInterruptGuard() {
  for (size_t i = 0; i < std::size(kInterruptSignals); ++i)
    ::sigaction(kInterruptSignals[i], &g_previous[i], nullptr);
  g_interrupt.store(0);
}

int fix_interrupted() {
  return g_interrupt.load();
}

void reraise_interrupt() {
  int sig = g_interrupt.load();
  if (sig == 0) return;
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

LineEnding dominant_line_ending(std::string_view text) {
  EndingCounts c = count_endings(text);
  if (c.crlf > c.lf && c.crlf >= c.cr) return LineEnding::CrLf;
  if (c.cr > c.lf && c.cr > c.crlf) return LineEnding::Cr;
  return LineEnding::Lf;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string match_line_endings(std::string_view original, std::string fixed) {
  EndingCounts c = count_endings(original);
  LineEnding ending = dominant_line_ending(original);
  if (ending == LineEnding::Lf || c.lf > 0) return fixed; // LF files and mixed files: as is
  std::string_view eol = ending == LineEnding::CrLf ? "\r\n" : "\r";
  std::string out;
  out.reserve(fixed.size() + fixed.size() / 32);
  for (size_t i = 0; i < fixed.size(); ++i) {
    if (fixed[i] == '\n' && (i == 0 || fixed[i - 1] != '\r')) {
      out += eol;
    } else {
      out += fixed[i];
    }
  }
  return out;
}

std::string write_file_atomically(const fs::path& path, std::string_view expected,
                                  std::string_view content) {
  if (fix_interrupted()) return "interrupted; not fixed";
  // Write through symlinks to their target, so the link stays a link.
  std::error_code ec;
  fs::path target = fs::canonical(path, ec);
  if (ec) return "cannot resolve path: " + ec.message();
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) return std::string("cannot stat: ") + std::strerror(errno);

  std::string tmpl =
      (target.parent_path() / ("." + target.filename().string() + ".oomlint-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return std::string("cannot create a temporary file: ") + std::strerror(errno);
  auto fail = [&](std::string why) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    return why;
  };
  if (!write_all(fd, content)) return fail(std::string("write failed: ") + std::strerror(errno));
  // Owner first: a change of owner clears the set-user-ID and set-group-ID bits.
  if (::fchown(fd, st.st_uid, st.st_gid) != 0) {
    // Not fatal: only root can give files away; the mode is kept.
  }
  if (::fchmod(fd, st.st_mode & 07777) != 0) {
    return fail(std::string("cannot keep the file mode: ") + std::strerror(errno));
  }
  if (::fsync(fd) != 0) return fail(std::string("fsync failed: ") + std::strerror(errno));
  if (fix_interrupted()) return fail("interrupted; not fixed");

  // Last look: has someone changed the file since we read it?
  bool ok = false;
  std::string now = read_all(target, ok);
  if (!ok || now != expected) {
    return fail("the file changed on disk while it was being checked; not fixed");
  }
  if (::close(fd) != 0) {
    ::unlink(tmpl.c_str());
    return std::string("close failed: ") + std::strerror(errno);
  }
  if (::rename(tmpl.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return std::string("cannot replace the file: ") + std::strerror(err);
  }
  int dfd = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

} // namespace oomlint::cli
