/* The cost of exec alone on this machine: a static x86-64 program without
 * libc that exits at once (compare with floor.c's `glibc start-up alone`).
 * Built with -nostdlib -static by bench/startup/run.py, x86-64 only. */
void _start(void) {
  __asm__ volatile("mov $231, %eax\n\t" /* exit_group */
                   "xor %edi, %edi\n\t"
                   "syscall");
  __builtin_unreachable();
}
