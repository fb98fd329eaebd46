/*
 * clockshift.c: an LD_PRELOAD library that steps a process's wall clock.
 *
 * CLOCK_REALTIME and CLOCK_REALTIME_COARSE, as read through clock_gettime, gettimeofday and
 * time, are offset by a whole number of seconds (signed, decimal) read from the file named by
 * TUMBLER_CLOCK_OFFSET_FILE. Rewriting the file steps the clock of every process running under
 * the library at once, as NTP or an operator stepping the system clock would. Every other clock
 * (CLOCK_MONOTONIC above all) passes through untouched.
 *
 * Used by tests/it/wallclock.rs and scripts/redis-clock-step.sh:
 *
 *     cc -shared -fPIC -O2 -o libclockshift.so tests/shim/clockshift.c -ldl
 *     echo 31536000 > /tmp/offset
 *     LD_PRELOAD=$PWD/libclockshift.so TUMBLER_CLOCK_OFFSET_FILE=/tmp/offset redis-server
 *
 * Constraints, and how they are met:
 *  - No malloc and no locks that can block. jemalloc (Debian's redis-server) reads clocks
 *    while it initialises, from inside its first malloc; a wrapper that allocates there or waits
 *    on a lock (libfaketime resolves symbols lazily with dlsym, which may allocate) deadlocks.
 *    Here the real functions are resolved once, in a constructor; until then, and if dlsym
 *    fails, the wrappers make the system call themselves. Nothing here allocates.
 *  - Cheap and async-signal-safe enough: a wall-clock read costs one stat(2); the file is read
 *    (open/read/close, all async-signal-safe) only when its mtime, size or inode changed. A
 *    refresh is guarded by a try-lock: a thread (or signal handler) that finds another refresh
 *    under way uses the offset cached so far instead of waiting.
 *  - A missing or unreadable file means offset 0; text that is not an integer is ignored (the
 *    previous offset stays), so a half-written file never steps the clock to garbage.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);

/* The next definitions of the wrapped functions (libc's, vDSO-backed), or NULL before the
 * constructor ran. */
static clock_gettime_fn real_clock_gettime;
static gettimeofday_fn real_gettimeofday;

/* Path of the offset file, copied from the environment at load time; empty: no shift. A copy,
 * because programs may reuse their environment's memory: redis-server writes its process title
 * over it. */
static char offset_path[4096];

/* The cached offset in seconds and the stamp of the file it was read from. Written only by the
 * thread holding `refreshing`; read by anyone, atomically. A reader that sees a torn stamp only
 * refreshes once more. */
static int64_t offset_s;
static int64_t stamp_sec, stamp_nsec, stamp_ino, stamp_size;
static int refreshing;

__attribute__((constructor)) static void clockshift_init(void) {
    /* getenv is safe here: constructors run before the program's threads exist. */
    const char *p = getenv("TUMBLER_CLOCK_OFFSET_FILE");
    if (p && strlen(p) < sizeof offset_path)
        memcpy(offset_path, p, strlen(p) + 1);
    real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    real_gettimeofday = (gettimeofday_fn)dlsym(RTLD_NEXT, "gettimeofday");
}

static int call_clock_gettime(clockid_t clk, struct timespec *ts) {
    clock_gettime_fn f = __atomic_load_n(&real_clock_gettime, __ATOMIC_ACQUIRE);
    if (f)
        return f(clk, ts);
    return (int)syscall(SYS_clock_gettime, clk, ts);
}

static int call_gettimeofday(struct timeval *tv, void *tz) {
    gettimeofday_fn f = __atomic_load_n(&real_gettimeofday, __ATOMIC_ACQUIRE);
    if (f)
        return f(tv, tz);
    return (int)syscall(SYS_gettimeofday, tv, tz);
}

/* Parses an optionally signed decimal integer surrounded by whitespace. */
static int parse_offset(const char *s, long n, int64_t *out) {
    long i = 0;
    int neg = 0, digits = 0;
    int64_t v = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 18) {
        v = v * 10 + (s[i++] - '0');
        digits++;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (digits == 0 || i != n)
        return 0;
    *out = neg ? -v : v;
    return 1;
}

/* The current offset in seconds: re-reads the file when it changed since the last read. */
static int64_t current_offset(void) {
    const char *path = offset_path;
    struct stat st;
    if (!path[0])
        return 0;
    if (stat(path, &st) != 0) {
        __atomic_store_n(&offset_s, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&stamp_ino, -1, __ATOMIC_RELAXED);
        return 0;
    }
    if (__atomic_load_n(&stamp_sec, __ATOMIC_RELAXED) == (int64_t)st.st_mtim.tv_sec &&
        __atomic_load_n(&stamp_nsec, __ATOMIC_RELAXED) == (int64_t)st.st_mtim.tv_nsec &&
        __atomic_load_n(&stamp_ino, __ATOMIC_RELAXED) == (int64_t)st.st_ino &&
        __atomic_load_n(&stamp_size, __ATOMIC_RELAXED) == (int64_t)st.st_size)
        return __atomic_load_n(&offset_s, __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&refreshing, 1, __ATOMIC_ACQUIRE))
        return __atomic_load_n(&offset_s, __ATOMIC_RELAXED); /* someone else is at it */
    char buf[64];
    long n = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, buf, sizeof buf);
        close(fd);
    }
    int64_t v;
    if (n >= 0 && parse_offset(buf, n, &v)) {
        __atomic_store_n(&offset_s, v, __ATOMIC_RELAXED);
        /* The stamp is the one taken before the read: if the file changed in between, the next
         * call sees a newer stamp and reads again. */
        __atomic_store_n(&stamp_sec, (int64_t)st.st_mtim.tv_sec, __ATOMIC_RELAXED);
        __atomic_store_n(&stamp_nsec, (int64_t)st.st_mtim.tv_nsec, __ATOMIC_RELAXED);
        __atomic_store_n(&stamp_ino, (int64_t)st.st_ino, __ATOMIC_RELAXED);
        __atomic_store_n(&stamp_size, (int64_t)st.st_size, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&refreshing, 0, __ATOMIC_RELEASE);
    return __atomic_load_n(&offset_s, __ATOMIC_RELAXED);
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
    int r = call_clock_gettime(clk, ts);
    if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
        ts->tv_sec += (time_t)current_offset();
    return r;
}

/* glibc declares the second argument as `void *` (formerly `struct timezone *`); both are a
 * pointer, passed through untouched. */
int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    int r = call_gettimeofday(tv, tz);
    if (r == 0)
        tv->tv_sec += (time_t)current_offset();
    return r;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (call_clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    time_t t = ts.tv_sec + (time_t)current_offset();
    if (out)
        *out = t;
    return t;
}
