// System V / POSIX IPC probe for the side-door tests.
//
//   sd_ipc create KEY       create an shm segment, a semaphore set and a message
//                           queue under KEY (mode 0666) and a POSIX queue
//                           /rf-KEY, print "ready", wait for stdin to close,
//                           then remove them all
//   sd_ipc probe KEY        try to reach them by key and by scanning ids; prints
//                           one line each: "shm_key OK|ERR e", "sem_key ...",
//                           "msg_key ...", "shm_scan N", "sem_scan N",
//                           "msg_scan N" (objects of KEY found by scanning),
//                           "mq_open OK|ERR e"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

static void line(const char* what, int rc) {
  if (rc < 0) {
    printf("%s ERR %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
  } else {
    printf("%s OK\n", what);
  }
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  key_t key = (key_t)strtol(argv[2], NULL, 0);
  char mqname[64];
  snprintf(mqname, sizeof mqname, "/rf-%s", argv[2]);
  if (!strcmp(argv[1], "create")) {
    int shm = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0666);
    int sem = semget(key, 1, IPC_CREAT | IPC_EXCL | 0666);
    int msg = msgget(key, IPC_CREAT | IPC_EXCL | 0666);
    struct mq_attr attr = {0, 4, 64, 0, {0}};
    mode_t old = umask(0);
    mqd_t mq = mq_open(mqname, O_CREAT | O_EXCL | O_RDWR, 0666, &attr);
    umask(old);
    if (shm < 0 || sem < 0 || msg < 0 || mq == (mqd_t)-1) {
      perror("sd_ipc create");
      return 1;
    }
    char* p = shmat(shm, NULL, 0);
    if (p != (void*)-1) {
      strcpy(p, "host-secret");
      shmdt(p);
    }
    printf("ready\n");
    fflush(stdout);
    char buf[16];
    while (read(0, buf, sizeof buf) > 0) {
    }
    shmctl(shm, IPC_RMID, NULL);
    semctl(sem, 0, IPC_RMID);
    msgctl(msg, IPC_RMID, NULL);
    mq_unlink(mqname);
    return 0;
  }
  if (!strcmp(argv[1], "probe")) {
    line("shm_key", shmget(key, 0, 0));
    line("sem_key", semget(key, 0, 0));
    line("msg_key", msgget(key, 0));
    // Scanning: walk the kernel's index of each kind and look for KEY.
    int found = 0;
    struct shm_info si;
    int max = shmctl(0, SHM_INFO, (struct shmid_ds*)&si);
    for (int i = 0; i <= max && i < 65536; ++i) {
      struct shmid_ds ds;
      int id = shmctl(i, SHM_STAT, &ds);
      if (id >= 0 && ds.shm_perm.__key == key) {
        char* p = shmat(id, NULL, SHM_RDONLY);
        if (p != (void*)-1) {
          if (!strcmp(p, "host-secret")) ++found;
          shmdt(p);
        }
      }
    }
    printf("shm_scan %d\n", found);
    found = 0;
    struct seminfo sinfo;
    union {
      int val;
      struct semid_ds* buf;
      struct seminfo* info;
    } arg;
    arg.info = &sinfo;
    max = semctl(0, 0, SEM_INFO, arg);
    for (int i = 0; i <= max && i < 65536; ++i) {
      struct semid_ds ds;
      arg.buf = &ds;
      if (semctl(i, 0, SEM_STAT, arg) >= 0 && ds.sem_perm.__key == key) ++found;
    }
    printf("sem_scan %d\n", found);
    found = 0;
    struct msginfo minfo;
    max = msgctl(0, MSG_INFO, (struct msqid_ds*)&minfo);
    for (int i = 0; i <= max && i < 65536; ++i) {
      struct msqid_ds ds;
      if (msgctl(i, MSG_STAT, &ds) >= 0 && ds.msg_perm.__key == key) ++found;
    }
    printf("msg_scan %d\n", found);
    mqd_t mq = mq_open(mqname, O_RDWR);
    line("mq_open", mq == (mqd_t)-1 ? -1 : 0);
    return 0;
  }
  return 2;
}
