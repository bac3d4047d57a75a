// Writing fixed files safely: the edits' newlines follow the file's line endings, and the file
// is replaced atomically (temp file in the same directory, fsync, rename) keeping its mode, and
// only if it still holds what was read.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace oomlint::cli {

enum class LineEnding { Lf, CrLf, Cr };

// The most common line terminator of `text` (Lf when there is none).
LineEnding dominant_line_ending(std::string_view text);

// `fixed` is `original` after edits. When the original uses CRLF (or CR) throughout, newlines
// that the edits brought in as bare "\n" are converted to the file's terminator.
std::string match_line_endings(std::string_view original, std::string fixed);

// Writes all of `data` to `fd`, retrying short writes and EINTR; false on an error (errno set).
bool write_all(int fd, std::string_view data);

// Replaces `path` with `content` atomically, provided the file still holds `expected`.
// Returns an empty string on success, else the reason (the file is then left untouched).
// After an interruption (see FixInterruptGuard) it writes nothing and says so.
std::string write_file_atomically(const std::filesystem::path& path, std::string_view expected,
                                  std::string_view content);

// While alive, SIGINT, SIGTERM and SIGHUP do not kill the process: the handler (async-signal-safe)
// only records the signal. Writers check fix_interrupted() and stop between files, and a write in
// flight either completes its rename or removes its temporary file, so every file is left old or
// new and no temporary file stays behind. The owner then ends the process with
// reraise_interrupt(). A second signal kills at once (the handlers are one-shot); only then, or
// after SIGKILL, can a `.NAME.oomlint-XXXXXX` temporary file remain (the target is still intact).
class FixInterruptGuard {
public:
  FixInterruptGuard();
  ~FixInterruptGuard();
  FixInterruptGuard(const FixInterruptGuard&) = delete;
  FixInterruptGuard& operator=(const FixInterruptGuard&) = delete;
};

// The signal received while the current FixInterruptGuard is alive, or 0.
int fix_interrupted();
// Restores the default action of the recorded signal and raises it (does not return when one was
// recorded).
void reraise_interrupt();

} // namespace oomlint::cli
