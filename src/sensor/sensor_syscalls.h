/*
 * sensor_syscalls.h - syscall numbers the sensor decodes at sys_exit.
 *
 * x86-64 only for now: the numbers come from the kernel's uapi header; the
 * ones newer than Debian 12's linux-libc-dev are defined here because the
 * running kernel (6.x) has them and malware may use them to dodge a monitor
 * that only knows the old calls (fchmodat2, *xattrat).
 */
#ifndef CAPTURE_SENSOR_SYSCALLS_H
#define CAPTURE_SENSOR_SYSCALLS_H

#if defined(__TARGET_ARCH_x86) || defined(__x86_64__)
#include <asm/unistd_64.h>
#else
#error "the sensor decodes x86-64 syscall numbers only (see docs/known-limits.md)"
#endif

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466
#endif

#endif
