// System calls that never touch errno: they return the kernel's result,
// -errno on failure.
//
// For code that runs in a process created with clone(CLONE_VM) on a stack of
// its own (the sandbox's init, see process/init.cc): it shares the
// supervisor's memory and thread pointer, so glibc's errno there is the
// supervisor's main thread's errno. Such code must not write it.
#pragma once

namespace rf {

#if defined(__x86_64__)
inline long RawSyscall(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                       long f = 0) noexcept {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
inline long RawSyscall(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0,
                       long f = 0) noexcept {
  register long x8 __asm__("x8") = nr;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory", "cc");
  return x0;
}
#else
#error "RawSyscall is written for x86-64 and aarch64 (ringfence's seccomp programs are x86-64)"
#endif

}  // namespace rf
