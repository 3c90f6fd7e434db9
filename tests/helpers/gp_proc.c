// gp_proc: /proc writes and thread naming, for the GPU baseline tests.
//   gp_proc put PATH VALUE   open PATH write-only, write VALUE: prints "OK",
//                            "ERR-OPEN <ERRNO-NAME>" (the open was refused,
//                            which is where Landlock refuses) or
//                            "ERR-WRITE <ERRNO-NAME>" (the kernel's own check)
//   gp_proc name self NAME   prctl(PR_SET_NAME) on the calling thread
//   gp_proc name thread NAME pthread_setname_np on a second thread (glibc
//                            writes /proc/self/task/<tid>/comm for it)
//   gp_proc name child NAME  the same from a child process the helper forks
//   gp_proc target SECONDS   a process with a second thread that sleeps
//                            (at most SECONDS): something to aim at
// "name" reads the thread's comm back and prints "OK" only when it reads
// NAME, else "ERR <ERRNO-NAME>" (exit 1). Usage errors exit 2.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int Report(const char* what, int err) {
  const char* n = strerrorname_np(err);
  printf("%s %s\n", what, n ? n : "?");
  return 1;
}

static int Put(const char* path, const char* value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Report("ERR-OPEN", errno);
  ssize_t n = write(fd, value, strlen(value));
  int err = errno;
  close(fd);
  if (n < 0) return Report("ERR-WRITE", err);
  printf("OK\n");
  return 0;
}

// Reads /proc/self/task/<tid>/comm into buf (newline stripped); 0 or errno.
static int ReadComm(pid_t tid, char* buf, size_t len) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = read(fd, buf, len - 1);
  int err = errno;
  close(fd);
  if (n < 0) return err;
  buf[n] = 0;
  char* nl = strchr(buf, '\n');
  if (nl) *nl = 0;
  return 0;
}

struct Sleeper {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pid_t tid;
  int stop;
  int seconds;
};

static void* Sleep(void* arg) {
  struct Sleeper* s = arg;
  pthread_mutex_lock(&s->mu);
  s->tid = (pid_t)syscall(SYS_gettid);
  pthread_cond_broadcast(&s->cv);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += s->seconds;
  while (!s->stop)
    if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) break;
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static int NameThread(const char* name) {
  struct Sleeper s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 10};
  pthread_t t;
  if (pthread_create(&t, NULL, Sleep, &s) != 0) return Report("ERR", EAGAIN);
  pthread_mutex_lock(&s.mu);
  while (s.tid == 0) pthread_cond_wait(&s.cv, &s.mu);
  pthread_mutex_unlock(&s.mu);
  int err = pthread_setname_np(t, name);
  char got[32] = "";
  if (!err) err = ReadComm(s.tid, got, sizeof got);
  pthread_mutex_lock(&s.mu);
  s.stop = 1;
  pthread_cond_broadcast(&s.cv);
  pthread_mutex_unlock(&s.mu);
  pthread_join(t, NULL);
  if (err) return Report("ERR", err);
  if (strcmp(got, name) != 0) return Report("ERR", EIO);
  printf("OK\n");
  return 0;
}

static int NameSelf(const char* name) {
  if (prctl(PR_SET_NAME, name, 0, 0, 0) != 0) return Report("ERR", errno);
  char got[32] = "";
  int err = ReadComm((pid_t)syscall(SYS_gettid), got, sizeof got);
  if (err) return Report("ERR", err);
  if (strcmp(got, name) != 0) return Report("ERR", EIO);
  printf("OK\n");
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const char* op = argv[1];
  if (!strcmp(op, "put") && argc == 4) return Put(argv[2], argv[3]);
  if (!strcmp(op, "target")) {
    struct Sleeper s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, atoi(argv[2])};
    pthread_t t;
    if (s.seconds <= 0 || s.seconds > 600 || pthread_create(&t, NULL, Sleep, &s) != 0) return 2;
    pthread_join(t, NULL);
    return 0;
  }
  if (strcmp(op, "name") != 0 || argc != 4) return 2;
  const char* how = argv[2];
  const char* name = argv[3];
  if (strlen(name) > 15) return 2;
  if (!strcmp(how, "self")) return NameSelf(name);
  if (!strcmp(how, "thread")) return NameThread(name);
  if (!strcmp(how, "child")) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return Report("ERR", errno);
    if (pid == 0) {
      int rc = NameThread(name);
      fflush(stdout);
      _exit(rc);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return Report("ERR", errno);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  }
  return 2;
}
