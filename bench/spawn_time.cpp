// Process start to exit, measured without a shell in between: runs a command N times with
// posix_spawn (stdout and stderr to /dev/null) and prints the mean wall time per run in ms.
// bench/run times the pre-commit path (one small file) with it, and /bin/true the same way as
// the floor: a bash loop adds a fork of the shell to every run (about 1 ms on the 2-core VM).
//
//   spawn_time N COMMAND [ARG...]
//
// With --rusage instead of N it runs the command once and prints its wall time, user and system
// CPU time (s) and peak RSS (KB), as GNU time reports them from wait4(): bench/run's table takes
// every row this way. Timing `/usr/bin/time` from a shell instead adds the start of `date` and of
// `time` to the wall, 17 ms in a slow phase of the VM, which is half of a cached run.
//
//   spawn_time --rusage COMMAND [ARG...]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: spawn_time N|--rusage COMMAND [ARG...]\n");
    return 2;
  }
  const bool rusage = std::strcmp(argv[1], "--rusage") == 0;
  long runs = rusage ? 1 : std::strtol(argv[1], nullptr, 10);
  if (runs <= 0) {
    std::fprintf(stderr, "spawn_time: N must be a positive number\n");
    return 2;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < runs; ++i) {
    pid_t pid = 0;
    if (posix_spawnp(&pid, argv[2], &actions, nullptr, argv + 2, environ) != 0) {
      std::perror("spawn_time: posix_spawnp");
      return 1;
    }
    int status = 0;
    struct rusage usage {};
    if (wait4(pid, &status, 0, &usage) < 0) {
      std::perror("spawn_time: wait4");
      return 1;
    }
    if (rusage) {
      auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
      std::printf("%.6f %.3f %.3f %ld\n", wall, seconds(usage.ru_utime), seconds(usage.ru_stime),
                  usage.ru_maxrss);
      posix_spawn_file_actions_destroy(&actions);
      return 0;
    }
  }
  auto elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  posix_spawn_file_actions_destroy(&actions);
  std::printf("%.3f\n", elapsed.count() / static_cast<double>(runs));
  return 0;
}
