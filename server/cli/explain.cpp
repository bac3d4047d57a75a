#include "cli/explain.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace oomlint::cli::explain {

namespace {

// The input is scanned in pieces of about kChunk bytes; an anchor is only decoded once kLookahead
// bytes after it have arrived (a message spans at most kWindow bytes), and kContext bytes before
// the scan position are kept for the start of its line.
constexpr size_t kChunk = 1 << 20;
constexpr size_t kLookahead = 16 << 10;
constexpr size_t kContext = 4 << 10;
constexpr size_t kWindow = 1500;
constexpr size_t kMaxLine = 600;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n';
}
char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Valid UTF-8 with control characters as spaces, for a line that is printed and put in JSON.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
      ++i;
      continue;
    }
    size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && len == 3) { // no overlong forms, no surrogates
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    }
    if (ok && len == 4) {
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD"; // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string percent(double share) {
  char out[16];
  std::snprintf(out, sizeof out, "%.0f%%", share * 100.0);
  return out;
}

// ---- reading the figures of one message ------------------------------------------------------

// The text of one message: `orig` and its lower-case copy `lo`, positions shared.
struct Window {
  std::string_view orig;
  std::string_view lo;
  size_t begin; // the start of the message's line
  size_t end;

  size_t find(std::string_view needle, size_t from) const {
    if (from >= end) return std::string_view::npos;
    size_t p = lo.substr(0, end).find(needle, std::max(from, begin));
    return p == std::string_view::npos || p + needle.size() > end ? std::string_view::npos : p;
  }
};

// A size ("22.00 MiB", "0 bytes") starting at `pos`, blanks skipped.
std::optional<uint64_t> size_after(const Window& w, size_t pos) {
  size_t i = pos;
  while (i < w.end && is_space(w.orig[i]))
    ++i;
  size_t n0 = i;
  while (i < w.end && (is_digit(w.orig[i]) || w.orig[i] == '.' || w.orig[i] == ','))
    ++i;
  size_t n1 = i;
  while (i < w.end && is_space(w.orig[i]))
    ++i;
  size_t u0 = i;
  while (i < w.end && is_alpha(w.orig[i]))
    ++i;
  if (n1 == n0 || i == u0) return std::nullopt;
  return parse_size(w.orig.substr(n0, n1 - n0), w.orig.substr(u0, i - u0));
}

// A size that ends just before `pos` ("... 3.03 GiB free").
std::optional<uint64_t> size_before(const Window& w, size_t pos) {
  size_t i = pos;
  while (i > w.begin && is_space(w.orig[i - 1]))
    --i;
  size_t u1 = i;
  while (i > w.begin && is_alpha(w.orig[i - 1]))
    --i;
  size_t u0 = i;
  while (i > w.begin && is_space(w.orig[i - 1]))
    --i;
  size_t n1 = i;
  while (i > w.begin && (is_digit(w.orig[i - 1]) || w.orig[i - 1] == '.' || w.orig[i - 1] == ','))
    --i;
  if (u1 == u0 || n1 == i) return std::nullopt;
  return parse_size(w.orig.substr(i, n1 - i), w.orig.substr(u0, u1 - u0));
}

std::optional<uint64_t> after(const Window& w, std::string_view key, size_t from) {
  size_t p = w.find(key, from);
  return p == std::string_view::npos ? std::nullopt : size_after(w, p + key.size());
}
std::optional<uint64_t> before(const Window& w, std::string_view key, size_t from) {
  size_t p = w.find(key, from);
  return p == std::string_view::npos ? std::nullopt : size_before(w, p);
}

std::optional<int> gpu_index(const Window& w, size_t from) {
  for (size_t p = w.find("gpu ", from); p != std::string_view::npos; p = w.find("gpu ", p + 4)) {
    size_t i = p + 4;
    int v = 0;
    size_t d0 = i;
    while (i < w.end && is_digit(w.orig[i]) && i - d0 < 4)
      v = v * 10 + (w.orig[i++] - '0');
    if (i == d0) continue;
    if (w.lo.substr(i).starts_with(";") || w.lo.substr(i).starts_with(" has")) return v;
  }
  return std::nullopt;
}

// The figures of the message whose "Tried to allocate" is at `tried` (MPS puts its figures
// before it, on the same line).
Figures read_figures(const Window& w, size_t tried) {
  Figures f;
  f.request = after(w, "tried to allocate", tried);
  f.gpu = gpu_index(w, tried);
  for (std::string_view cap : {"total capacity", "total capacty"}) {
    size_t p = w.find(cap, tried);
    if (p == std::string_view::npos) continue;
    if (w.lo.substr(p + cap.size()).starts_with(" of"))
      f.total = size_after(w, p + cap.size() + 3);
    else
      f.total = size_before(w, p);
    break;
  }
  // PyTorch <= 2.0
  f.allocated = before(w, "already allocated", tried);
  f.reserved = before(w, "reserved in total by pytorch", tried);
  if (!f.reserved) f.reserved = before(w, " cached", tried);
  for (size_t p = w.find(" free", tried); p != std::string_view::npos && !f.free;
       p = w.find(" free", p + 5))
    f.free = size_before(w, p);
  // PyTorch >= 2.1
  if (!f.free) f.free = after(w, "of which", tried);
  if (!f.allocated) f.allocated = after(w, "of the allocated memory", tried);
  f.reserved_unallocated = before(w, "is reserved by pytorch but unallocated", tried);
  f.process_in_use = after(w, "this process has", tried);
  for (size_t p = w.find("process ", tried); p != std::string_view::npos;
       p = w.find("process ", p + 8)) {
    size_t i = p + 8;
    size_t d0 = i;
    while (i < w.end && is_digit(w.orig[i]))
      ++i;
    if (i == d0 || !w.lo.substr(i).starts_with(" has ")) continue;
    if (auto s = size_after(w, i + 5)) {
      f.other_processes = f.other_processes.value_or(0) + *s;
      ++f.other_process_count;
    }
  }
  // MPS (the figures come first)
  f.allocated = f.allocated ? f.allocated : after(w, "mps allocated:", w.begin);
  f.mps_other = after(w, "other allocations:", w.begin);
  if (!f.total) f.total = after(w, "max allowed:", w.begin);
  // The two halves of reserved.
  if (f.reserved && f.allocated && !f.reserved_unallocated && *f.reserved >= *f.allocated)
    f.reserved_unallocated = *f.reserved - *f.allocated;
  if (!f.reserved && f.allocated && f.reserved_unallocated)
    f.reserved = *f.allocated + *f.reserved_unallocated;
  return f;
}

std::string backend_of(std::string_view lo_line) {
  if (lo_line.find("mps backend") != std::string_view::npos) return "mps";
  if (lo_line.find("hip out of memory") != std::string_view::npos ||
      lo_line.find("hiperror") != std::string_view::npos ||
      lo_line.find("hip_error") != std::string_view::npos)
    return "hip";
  if (lo_line.find("xpu out of memory") != std::string_view::npos) return "xpu";
  if (lo_line.find("cuda") != std::string_view::npos ||
      lo_line.find("cublas") != std::string_view::npos ||
      lo_line.find("cudnn") != std::string_view::npos)
    return "cuda";
  return "";
}

// ---- anchors ----------------------------------------------------------------------------------

enum class Hit { Tried, Gpu, Host, Killed };

// Phrases that name a GPU out-of-memory error (searched lower-case).
constexpr std::array<std::string_view, 16> kGpuAnchors{
    "cuda out of memory",         "hip out of memory",         "mps backend out of memory",
    "xpu out of memory",          "cuda error: out of memory", "(2) : out of memory",
    "(2): out of memory",         "error=2 : out of memory",   "outofmemoryerror",
    "cublas_status_alloc_failed", "cudnn_status_alloc_failed", "cuda_error_out_of_memory",
    "cudaerrormemoryallocation",  "hiperroroutofmemory",       "hip_error_outofmemory",
    "cuda error out of memory",
};

// Phrases of a host-RAM kill (searched lower-case); `Killed` itself is searched case-sensitive.
constexpr std::array<std::string_view, 18> kHostAnchors{
    "out of memory: killed process",
    "out of memory: kill process",
    "memory cgroup out of memory",
    "invoked oom-killer",
    "oom-kill",
    "oomkilled",
    "exit code 137",
    "exit code: 137",
    "exit status 137",
    "exitcode 137",
    "exitcode: 137",
    "exit code -9",
    "exit code: -9",
    "exit status -9",
    "exitcode: -9",
    "exitcode -9",
    "exitcode=-9",
    "signals.sigkill",
};

} // namespace

std::string format_size(uint64_t bytes) {
  static constexpr std::array<const char*, 5> units{"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < units.size()) {
    v /= 1024.0;
    ++u;
  }
  char out[48];
  if (u == 0)
    std::snprintf(out, sizeof out, "%llu bytes", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(out, sizeof out, "%.2f %s", v, units[u]);
  return out;
}

std::string_view to_string(Diagnosis d) {
  switch (d) {
  case Diagnosis::Fragmentation:
    return "fragmentation";
  case Diagnosis::LargeAllocation:
    return "large-allocation";
  case Diagnosis::Capacity:
    return "capacity";
  case Diagnosis::OtherProcess:
    return "other-process";
  case Diagnosis::HostRam:
    return "host-ram";
  case Diagnosis::Unknown:
    return "unknown";
  }
  return "unknown";
}

bool Figures::any() const {
  return request || total || free || allocated || reserved || reserved_unallocated ||
         process_in_use || other_processes || mps_other;
}

std::optional<uint64_t> parse_size(std::string_view number, std::string_view unit) {
  std::string digits;
  for (char c : number)
    if (c != ',') digits += c;
  if (digits.empty() || digits.size() > 30 || digits.front() == '.') return std::nullopt;
  if (std::count(digits.begin(), digits.end(), '.') > 1) return std::nullopt;
  std::string u;
  for (char c : unit)
    u += lower(c);
  double scale = 0;
  if (u == "b" || u == "bytes" || u == "byte")
    scale = 1;
  else if (u == "kib" || u == "kb")
    scale = 1024.0;
  else if (u == "mib" || u == "mb")
    scale = 1024.0 * 1024;
  else if (u == "gib" || u == "gb")
    scale = 1024.0 * 1024 * 1024;
  else if (u == "tib" || u == "tb")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else
    return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  double bytes = std::round(v * scale);
  if (bytes >= 1.8e19) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

namespace {

void clean_into(std::string_view in, std::string& out, int& esc, bool& cr) {
  out.reserve(out.size() + in.size());
  for (char c : in) {
    if (esc == 1) { // after ESC: '[' opens a CSI sequence, ']' an OSC one
      esc = c == '[' ? 2 : c == ']' ? 3 : 0;
      continue;
    }
    if (esc == 2 || esc == 3) {
      if (c != '\n') {
        if (esc == 2 ? (c >= 0x40 && c <= 0x7e) : (c == '\x07' || c == '\x1b')) esc = 0;
        continue;
      }
      esc = 0; // an unterminated sequence ends with its line
    }
    if (c == '\x1b') {
      esc = 1;
      continue;
    }
    if (c == '\r') {
      out += '\n';
      cr = true;
      continue;
    }
    if (c == '\n' && cr) {
      cr = false;
      continue;
    }
    cr = false;
    out += c;
  }
}

} // namespace

std::string clean_text(std::string_view in) {
  std::string out;
  int esc = 0;
  bool cr = false;
  clean_into(in, out, esc, cr);
  return out;
}

void Scanner::feed(std::string_view bytes) {
  bytes_ += bytes.size();
  clean_into(bytes, buf_, esc_state_, pending_cr_);
  if (buf_.size() >= scan_from_ + kChunk + kLookahead) scan(false);
}

void Scanner::note_gpu(Message m) {
  ++gpu_count_;
  if (m.figures.any()) last_gpu_with_figures_ = m;
  last_gpu_ = std::move(m);
}

void Scanner::scan(bool at_end) {
  size_t cut = at_end ? buf_.size() : buf_.size() - kLookahead;
  if (cut <= scan_from_) return;
  std::string lo(buf_.size(), '\0');
  // Searched lower-case, with line breaks as spaces: a message may wrap anywhere.
  std::transform(buf_.begin(), buf_.end(), lo.begin(),
                 [](char c) { return c == '\n' || c == '\t' ? ' ' : lower(c); });
  std::string_view o(buf_), l(lo);

  std::vector<std::pair<size_t, Hit>> hits;
  for (size_t p = l.find("tried to allocate", scan_from_); p < cut;
       p = l.find("tried to allocate", p + 1))
    hits.emplace_back(p, Hit::Tried);
  for (auto a : kGpuAnchors)
    for (size_t p = l.find(a, scan_from_); p < cut; p = l.find(a, p + 1))
      hits.emplace_back(p, Hit::Gpu);
  for (auto a : kHostAnchors)
    for (size_t p = l.find(a, scan_from_); p < cut; p = l.find(a, p + 1)) {
      size_t e = p + a.size();
      if (e < l.size() && is_digit(l[e])) continue; // "exit code 1370"
      hits.emplace_back(p, Hit::Host);
    }
  for (size_t p = o.find("Killed", scan_from_); p < cut; p = o.find("Killed", p + 1)) {
    bool left = p == 0 || !is_alpha(o[p - 1]);
    bool right = p + 6 >= o.size() || !is_alpha(o[p + 6]);
    if (left && right) hits.emplace_back(p, Hit::Killed);
  }
  std::sort(hits.begin(), hits.end());

  auto line_start = [&](size_t p) {
    size_t s = o.rfind('\n', p == 0 ? 0 : p - 1);
    return (s == std::string_view::npos || p == 0) ? size_t{0} : s + 1;
  };
  auto line_end = [&](size_t p) {
    size_t e = o.find('\n', p);
    return e == std::string_view::npos ? o.size() : e;
  };
  // Line numbers, counted forward as the hits are taken in order.
  size_t counted_to = 0;
  uint64_t line_no = line_base_;
  auto line_of = [&](size_t p) {
    if (p < counted_to) return line_no;
    line_no += static_cast<uint64_t>(std::count(o.begin() + static_cast<ptrdiff_t>(counted_to),
                                                o.begin() + static_cast<ptrdiff_t>(p), '\n'));
    counted_to = p;
    return line_no;
  };
  auto line_text = [&](size_t p) {
    size_t s = line_start(p), e = line_end(p);
    if (e - s > kMaxLine) { // keep the part around the anchor
      s = p > s + kMaxLine / 3 ? p - kMaxLine / 3 : s;
      e = std::min(e, s + kMaxLine);
    }
    std::string t = printable(o.substr(s, e - s));
    size_t a = t.find_first_not_of(' '), b = t.find_last_not_of(' ');
    return a == std::string::npos ? std::string() : t.substr(a, b - a + 1);
  };
  for (auto [p, kind] : hits) {
    if (kind == Hit::Tried) {
      size_t next_tried = std::min(l.find("tried to allocate", p + 1), o.size());
      size_t end = std::min({o.size(), p + kWindow, next_tried});
      size_t blank = o.find("\n\n", p);
      if (blank != std::string_view::npos) end = std::min(end, blank);
      size_t ls = std::max(line_start(p), std::min(covered_to_, p));
      Window w{o, l, ls, end};
      Message m;
      m.figures = read_figures(w, p);
      std::string_view lo_line = l.substr(ls, line_end(p) - ls);
      bool named = false;
      for (auto a : kGpuAnchors)
        named = named || lo_line.find(a) != std::string_view::npos;
      if (!named && !m.figures.total) continue; // some other "tried to allocate"
      m.kind = Kind::Gpu;
      m.backend = backend_of(lo_line);
      if (m.backend.empty() && (m.figures.total || m.figures.gpu)) m.backend = "cuda";
      m.line = line_text(p);
      m.line_number = line_of(ls);
      // The message ends at the line of its last figure; anchors before that are its own.
      size_t last = p;
      for (auto key : {"unallocated", "memory in use", "reserved in total", "cached", "free",
                       "total capacity", "max allowed", "on private pool", "on shared pool"}) {
        size_t k = w.find(key, p);
        while (k != std::string_view::npos) {
          last = std::max(last, k);
          k = w.find(key, k + 1);
        }
      }
      covered_to_ = std::max(covered_to_, line_end(last));
      note_gpu(std::move(m));
    } else if (kind == Hit::Gpu) {
      if (p < covered_to_) continue;
      size_t le = line_end(p);
      if (l.find("tried to allocate", p) < le) continue; // the same line's figures decode it
      Message m;
      m.kind = Kind::Gpu;
      size_t ls = line_start(p);
      m.backend = backend_of(l.substr(ls, le - ls));
      m.line = line_text(p);
      m.line_number = line_of(ls);
      covered_to_ = le;
      note_gpu(std::move(m));
    } else {
      if (p < host_covered_) continue;
      size_t ls = line_start(p);
      Message m;
      m.kind = Kind::HostKill;
      m.line = line_text(p);
      m.line_number = line_of(ls);
      host_covered_ = line_end(p);
      ++host_count_;
      last_host_ = std::move(m);
    }
  }
  // Forget what is scanned, keeping a little context before the next scan position.
  size_t keep_from = cut > kContext ? cut - kContext : 0;
  line_base_ += static_cast<uint64_t>(
      std::count(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(keep_from), '\n'));
  buf_.erase(0, keep_from);
  scan_from_ = cut - keep_from;
  covered_to_ = covered_to_ > keep_from ? covered_to_ - keep_from : 0;
  host_covered_ = host_covered_ > keep_from ? host_covered_ - keep_from : 0;
}

// ---- the diagnosis ----------------------------------------------------------------------------

Diagnosis diagnose(const Message& m, const Thresholds& t, std::string* reason) {
  auto say = [&](std::string s) {
    if (reason) *reason = std::move(s);
  };
  if (m.kind == Kind::HostKill) {
    say("the process was killed by the operating system (a bare `Killed`, exit code 137 or "
        "SIGKILL, or the kernel's OOM killer) and no GPU out-of-memory error was printed: the "
        "machine ran out of host RAM, not GPU memory");
    return Diagnosis::HostRam;
  }
  const Figures& f = m.figures;
  if (!f.total || *f.total == 0) {
    say(f.any() ? "the message does not give the card's total memory, so the figures cannot be "
                  "weighed against it"
                : "the message carries no figures (this error does not say how much was asked "
                  "for or what held the memory)");
    return Diagnosis::Unknown;
  }
  const double T = static_cast<double>(*f.total);
  const double R = f.request ? static_cast<double>(*f.request) : 0.0;
  const double U = f.reserved_unallocated ? static_cast<double>(*f.reserved_unallocated) : 0.0;
  // What this process holds: its own "memory in use" (PyTorch >= 2.1, with the CUDA context),
  // else PyTorch's reserved memory, else its allocated memory; MPS adds its other allocations.
  std::optional<double> mine;
  if (f.process_in_use)
    mine = static_cast<double>(*f.process_in_use);
  else if (f.reserved)
    mine = static_cast<double>(*f.reserved);
  else if (f.allocated)
    mine = static_cast<double>(*f.allocated);
  if (mine && f.mps_other) *mine += static_cast<double>(*f.mps_other);
  std::optional<double> avail;
  if (f.free)
    avail = static_cast<double>(*f.free);
  else if (f.mps_other && f.allocated) // MPS: the limit less what this process holds
    avail =
        std::max(0.0, T - static_cast<double>(*f.allocated) - static_cast<double>(*f.mps_other));
  const std::string req = f.request ? format_size(*f.request) : std::string("?");

  if (f.request && R >= t.large_share * T) {
    say("the failing request alone, " + req + ", is " + percent(R / T) + " of the card's " +
        format_size(*f.total) + ": one tensor too big for the card, whatever else is freed");
    return Diagnosis::LargeAllocation;
  }
  if (mine && avail && m.backend != "mps") {
    double others = T - *avail - *mine;
    if (others >= t.other_share * T && others > *mine) {
      say("about " + format_size(static_cast<uint64_t>(others)) + " (" + percent(others / T) +
          " of the card) is held outside this process's PyTorch, more than the " +
          format_size(static_cast<uint64_t>(*mine)) + " it holds itself, and only " +
          format_size(static_cast<uint64_t>(*avail)) +
          " is free: another process (or a dead one) "
          "holds the card");
      return Diagnosis::OtherProcess;
    }
    if (f.request && *avail >= R && *mine < t.capacity_share * T && U < R) {
      say("the driver reports " + format_size(static_cast<uint64_t>(*avail)) +
          " free, more than the " + req + " asked for, and this process holds only " +
          format_size(static_cast<uint64_t>(*mine)) +
          ", yet the allocation failed: the memory is taken by someone else between the report "
          "and the request, or a driver limit applies");
      return Diagnosis::OtherProcess;
    }
  }
  if (f.request && R >= t.large_share_no_room * T && R > avail.value_or(0.0) + U) {
    say("the failing request, " + req + ", is " + percent(R / T) +
        " of the card and more than the free and cached memory together: one large tensor");
    return Diagnosis::LargeAllocation;
  }
  if (f.request && f.reserved && U >= R && U >= t.frag_share * static_cast<double>(*f.reserved)) {
    say(format_size(*f.reserved_unallocated) + " is reserved by PyTorch but unallocated (" +
        percent(U / static_cast<double>(*f.reserved)) + " of what it reserved), more than the " +
        req + " that failed: the cached memory is there but in pieces too small for the request");
    return Diagnosis::Fragmentation;
  }
  if (mine && *mine >= t.capacity_share * T) {
    say("this process holds " + format_size(static_cast<uint64_t>(*mine)) + " of the card's " +
        format_size(*f.total) + " (" + percent(*mine / T) +
        ") in live tensors and cache: the run's own tensors fill the card");
    return Diagnosis::Capacity;
  }
  say("the figures fit none of the patterns: neither one large request, nor a large cache, nor a "
      "card held by this process or by another");
  return Diagnosis::Unknown;
}

namespace {

std::vector<Rung> rungs_for(Diagnosis d) {
  switch (d) {
  case Diagnosis::Fragmentation:
    return {
        {"M8", "start the run with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (or "
               "max_split_size_mb:N when large blocks fragment)"},
        {"M16", "if batch shapes vary, cap max_length and bucket by length so fewer sizes are "
                "cached"},
        {"M18", "confirm with torch.cuda.memory_summary(): reserved far above allocated"},
        {"M4", "if it still does not fit, climb the ladder"},
    };
  case Diagnosis::LargeAllocation:
    return {
        {"M11", "find the tensor: attention scores of a long sequence or a high resolution; use "
                "SDPA / FlashAttention, then a shorter sequence"},
        {"M16", "if it fails only on some batches, it is the longest one: cap max_length, group "
                "by length"},
        {"M5", "a smaller micro-batch with gradient accumulation shrinks every activation"},
        {"M19", "a memory snapshot names the allocation and its stack"},
    };
  case Diagnosis::Capacity:
    return {
        {"M4", "climb the ladder from the top, stop when it fits"},
        {"M5", "halve the micro-batch and double gradient accumulation: same effective batch"},
        {"M6", "bf16=True or torch.autocast(dtype=torch.bfloat16): activations kept in 16 bits"},
        {"M7", "gradient_checkpointing=True: activations recomputed in backward, ~20-30% slower"},
        {"M8", "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True: free, helps against "
               "fragmentation only"},
        {"M11", "attn_implementation=\"sdpa\" or \"flash_attention_2\", then a shorter "
                "max_length (changes the task)"},
        {"M12", "optim=\"adamw_bnb_8bit\" or \"paged_adamw_8bit\": about 2 bytes of optimizer "
                "state per parameter instead of 8"},
        {"M9", "with two or more GPUs: ZeRO-1/2/3 or FSDP shard optimizer state, gradients, "
               "then weights"},
        {"M10", "one GPU, last resort: offload optimizer state (and weights) to CPU or NVMe"},
        {"M13", "when fine-tuning: LoRA adapters, or QLoRA on a 4-bit base"},
    };
  case Diagnosis::OtherProcess:
    return {
        {"M3", "list what holds the card (nvidia-smi, rocm-smi), stop the other process or a "
               "dead one still holding memory, or pick a free GPU with CUDA_VISIBLE_DEVICES"},
        {"M2", "read the message's figures again once the card is free"},
    };
  case Diagnosis::HostRam:
    return {
        {"M3", "confirm with `dmesg | grep -iE 'killed process|out of memory'`; lower "
               "DataLoader num_workers or what each worker holds in RAM; do not shrink the "
               "model for this"},
    };
  case Diagnosis::Unknown:
    return {
        {"M2", "the figures of the full PyTorch message (Tried to allocate, total, allocated, "
               "free, reserved) decide the fix"},
        {"M18", "print torch.cuda.memory_summary() where it fails"},
        {"M3", "a bare `Killed` or exit code 137 is host RAM, not the GPU"},
    };
  }
  return {};
}

} // namespace

Report Scanner::finish(const Thresholds& t) {
  scan(true);
  Report r;
  r.gpu_messages = gpu_count_;
  r.host_kills = host_count_;
  r.bytes_read = bytes_;
  // The last GPU message with figures, else the last GPU message, else the last host kill.
  if (last_gpu_with_figures_)
    r.message = last_gpu_with_figures_;
  else if (last_gpu_)
    r.message = last_gpu_;
  else if (last_host_)
    r.message = last_host_;
  if (!r.message) {
    r.diagnosis = Diagnosis::Unknown;
    r.reason = "no out-of-memory message found: looked for PyTorch's \"CUDA out of memory\" / "
               "\"HIP out of memory\" / \"MPS backend out of memory\" / \"Tried to allocate\" "
               "messages, \"CUDA error: out of memory\", CUBLAS_STATUS_ALLOC_FAILED, "
               "CUDNN_STATUS_ALLOC_FAILED, and host-RAM kills (\"Killed\", exit code 137, "
               "SIGKILL, the kernel's OOM-killer lines)";
    r.rungs = rungs_for(Diagnosis::Unknown);
    return r;
  }
  r.diagnosis = diagnose(*r.message, t, &r.reason);
  r.rungs = rungs_for(r.diagnosis);
  if (r.message->kind == Kind::Gpu && gpu_count_ > 1) {
    bool last = last_gpu_ && last_gpu_->line_number == r.message->line_number;
    r.selection = std::to_string(gpu_count_) + " out-of-memory messages seen; diagnosed " +
                  (last ? std::string("the last one") : std::string("the last one with figures")) +
                  " (line " + std::to_string(r.message->line_number) + ")";
  } else if (r.message->kind == Kind::HostKill && host_count_ > 1) {
    r.selection = std::to_string(host_count_) +
                  " host-RAM kill lines seen; showing the last (line " +
                  std::to_string(r.message->line_number) + ")";
  }
  if (r.message->kind == Kind::Gpu && host_count_ > 0) {
    if (!r.selection.empty()) r.selection += "; ";
    r.selection += std::to_string(host_count_) +
                   " host-RAM kill line(s) also seen: the GPU error is diagnosed, but check "
                   "M3 too";
  }
  return r;
}

Report explain_text(std::string_view text, const Thresholds& t) {
  Scanner s;
  for (size_t i = 0; i < text.size(); i += kChunk)
    s.feed(text.substr(i, kChunk));
  return s.finish(t);
}

} // namespace oomlint::cli::explain
