// `oomlint explain`'s engine: finds the out-of-memory messages in a log and decodes them the way
// the memory guide's M2 and M3 read them, then names the likely cause and the guide's next rungs.
// It knows nothing of the command line: bytes in, a Report out (explain_command.cpp prints it).
//
// Recognised (every wording PyTorch has used, plus the libraries under it):
//   PyTorch <= 1.3   "CUDA out of memory. Tried to allocate X (GPU 0; Y total capacity; Z already
//                    allocated; A free; B cached)"
//   PyTorch 1.4-2.0  "... Z already allocated; A free; B reserved in total by PyTorch)"
//   PyTorch >= 2.1   "Tried to allocate X. GPU 0 has a total capacity of Y of which A is free.
//                    [Process N has P memory in use.] [Including non-PyTorch memory, this process
//                    has P memory in use.] Of the allocated memory Z is allocated by PyTorch,
//                    [with Q allocated in private pools (e.g., CUDA Graphs),] and U is reserved
//                    by PyTorch but unallocated." (2.1 spelt "capacty"); HIP builds say "HIP out
//                    of memory"; Apple's "MPS backend out of memory (MPS allocated: Z, other
//                    allocations: O, max allowed: Y). Tried to allocate X on private pool."
//   without figures  "CUDA error: out of memory", "cuda runtime error (2) : out of memory",
//                    CUBLAS_STATUS_ALLOC_FAILED, CUDNN_STATUS_ALLOC_FAILED,
//                    CUDA_ERROR_OUT_OF_MEMORY, cudaErrorMemoryAllocation, hipErrorOutOfMemory
//   host RAM (M3)    a bare "Killed", exit code 137 / exitcode -9 / SIGKILL, the kernel's
//                    OOM-killer lines ("Out of memory: Killed process", "Memory cgroup out of
//                    memory", "oom-kill"), "DataLoader worker ... killed by signal: Killed",
//                    OOMKilled
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oomlint::cli::explain {

enum class Diagnosis { Fragmentation, LargeAllocation, Capacity, OtherProcess, HostRam, Unknown };

std::string_view to_string(Diagnosis d);

// The figures of one message, in bytes; nullopt when the message does not carry them.
struct Figures {
  std::optional<uint64_t> request;              // "Tried to allocate X"
  std::optional<uint64_t> total;                // the card's capacity (MPS: "max allowed")
  std::optional<uint64_t> free;                 // the driver's free memory
  std::optional<uint64_t> allocated;            // held by live tensors
  std::optional<uint64_t> reserved;             // everything PyTorch's allocator holds
  std::optional<uint64_t> reserved_unallocated; // reserved minus allocated
  std::optional<uint64_t> process_in_use;       // "this process has P memory in use"
  std::optional<uint64_t> other_processes;      // sum of the "Process N has P memory in use"
  unsigned other_process_count = 0;             //   lines (one may be this process itself)
  std::optional<uint64_t> mps_other;            // MPS: "other allocations"
  std::optional<int> gpu;                       // the device index

  bool any() const;
};

enum class Kind { Gpu, HostKill };

// One out-of-memory message (or host-RAM kill line) found in the input.
struct Message {
  Kind kind = Kind::Gpu;
  std::string backend; // "cuda", "hip", "mps" or "" (unknown)
  std::string line;    // the line it was found on: cleaned, at most 600 bytes
  uint64_t line_number = 0;
  Figures figures;
};

struct Rung {
  std::string section; // "M8"
  std::string action;  // what to do, in one sentence
};

struct Report {
  Diagnosis diagnosis = Diagnosis::Unknown;
  std::optional<Message> message; // the one diagnosed; none when nothing was found
  uint64_t gpu_messages = 0;      // out-of-memory messages seen (each counted once)
  uint64_t host_kills = 0;        // host-RAM kill lines seen
  uint64_t bytes_read = 0;
  std::string reason;      // why this diagnosis, with the numbers
  std::string selection;   // which message was diagnosed, when there were several
  std::vector<Rung> rungs; // the next steps, in order
};

// The thresholds, as the docs (docs/explain.md) give them.
struct Thresholds {
  double large_share = 0.50;         // one request of half the card or more
  double large_share_no_room = 0.25; // a quarter of the card, and more than free + cached
  double other_share = 0.25;         // others hold at least a quarter of the card...
  double frag_share = 0.10;          // cached-but-unallocated >= 10% of reserved (and >= request)
  double capacity_share = 0.50;      // this process holds at least half the card
};

// Reads the input in pieces (any size; memory stays bounded) and keeps what the report needs.
class Scanner {
public:
  void feed(std::string_view bytes);
  Report finish(const Thresholds& t = {});

private:
  void scan(bool at_end);
  void note_gpu(Message m);

  std::string buf_;        // the unscanned text and a little context before it
  size_t scan_from_ = 0;   // in buf_
  uint64_t line_base_ = 1; // the line number of buf_[0]
  uint64_t bytes_ = 0;
  bool pending_cr_ = false; // a '\r' ended the last piece
  int esc_state_ = 0;       // inside an ANSI escape sequence across pieces
  size_t covered_to_ = 0;   // in buf_: anchors before this belong to a message already counted
  size_t host_covered_ = 0; // in buf_: the end of the last host-kill line counted
  uint64_t gpu_count_ = 0;
  uint64_t host_count_ = 0;
  std::optional<Message> last_gpu_;
  std::optional<Message> last_gpu_with_figures_;
  std::optional<Message> last_host_;
};

// Convenience: the whole input at once.
Report explain_text(std::string_view text, const Thresholds& t = {});

// Decides the diagnosis of one message's figures (exposed for the tests).
Diagnosis diagnose(const Message& m, const Thresholds& t, std::string* reason);

// "22.00 MiB" -> bytes; binary units (KiB, MiB, GiB, TiB; MPS's KB, MB, GB are binary too),
// "bytes" / "B". nullopt for anything else.
std::optional<uint64_t> parse_size(std::string_view number, std::string_view unit);

// Bytes as PyTorch writes them: "512 bytes", "1.70 GiB" (binary units, two decimals); the
// inverse of parse_size up to rounding.
std::string format_size(uint64_t bytes);

// Strips ANSI escape sequences and turns CRLF / lone CR into LF.
std::string clean_text(std::string_view in);

} // namespace oomlint::cli::explain
