/* Interleaved start-up timing: every command once per round, so that all of
 * them see the same fast and slow spells of this machine (A/B comparisons of
 * two binaries).
 *
 *   cc -O2 -o /tmp/interleave bench/startup/interleave.c
 *   /tmp/interleave ROUNDS CMD1 [ARGS...] \; CMD2 [ARGS...] [\; ...]
 *
 * Commands are given by path (posix_spawn, no PATH search); their output
 * goes to /dev/null, and each must exit 0 every time. Prints the median,
 * p25 and p75 wall time of each, in µs, after 20 unmeasured warm-up rounds. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static int compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3 || atoi(argv[1]) < 4) {
    fprintf(stderr, "usage: interleave ROUNDS CMD [ARGS...] [\\; CMD [ARGS...]]...\n");
    return 2;
  }
  enum { kMaxCommands = 32 };
  int rounds = atoi(argv[1]), n = 0;
  char** cmds[kMaxCommands];
  cmds[n++] = &argv[2];
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], ";") != 0) continue;
    if (n == kMaxCommands) {
      fprintf(stderr, "interleave: at most %d commands\n", kMaxCommands);
      return 2;
    }
    argv[i] = NULL;
    cmds[n++] = &argv[i + 1];
  }
  for (int c = 0; c < n; c++)
    if (!cmds[c][0]) {
      fprintf(stderr, "interleave: command %d is empty (a leading, trailing or doubled ;)\n",
              c + 1);
      return 2;
    }
  double* t = calloc((size_t)rounds * n, sizeof *t);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (!t || devnull < 0) return 1;
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_adddup2(&quiet, devnull, 1);
  posix_spawn_file_actions_adddup2(&quiet, devnull, 2);
  for (int r = -20; r < rounds; r++)
    for (int c = 0; c < n; c++) {
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      pid_t p = -1;
      int err = posix_spawn(&p, cmds[c][0], &quiet, NULL, cmds[c], environ);
      if (err != 0) {
        fprintf(stderr, "interleave: %s: %s\n", cmds[c][0], strerror(err));
        return 1;
      }
      int status = 0;
      if (waitpid(p, &status, 0) != p) return 1;
      clock_gettime(CLOCK_MONOTONIC, &b);
      // A command that failed was not timed doing its work: stop.
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "interleave: %s did not exit 0 (wait status %#x)\n", cmds[c][0], status);
        return 1;
      }
      if (r >= 0) t[c * rounds + r] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    }
  for (int c = 0; c < n; c++) {
    double* v = t + c * rounds;
    qsort(v, rounds, sizeof *v, compare);
    printf("%8.1f µs median %8.1f p25 %8.1f p75  ", v[rounds / 2], v[rounds / 4],
           v[3 * rounds / 4]);
    for (char** a = cmds[c]; *a; a++) printf("%s ", *a);
    printf("\n");
  }
  return 0;
}
