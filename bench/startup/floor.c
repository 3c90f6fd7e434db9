/* Start-up floor for a sandbox launcher on this machine: the least any
 * wrapper that execs a command can cost. `floor /bin/true` is a C program
 * linked like ringfence (static PIE, glibc) that creates the command with
 * vfork, execs it and waits: one glibc start-up and one process creation
 * more than bare /bin/true, and no sandboxing at all. `floor` alone only
 * starts and exits (glibc's start-up; on a VM its CPUID probing of the
 * cache topology traps to the hypervisor). */
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 0;
  pid_t pid = vfork();
  if (pid == 0) {
    execv(argv[1], argv + 1);
    _exit(127);
  }
  if (pid < 0) return 125;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return 125;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
