/*
 * INCRBYFLOAT arithmetic in C's long double.
 *
 * Redis adds INCRBYFLOAT increments in `long double` (80-bit extended precision on x86-64) and
 * prints the result with "%.17Lf". Rust has no extended-precision type, and f64 gives different
 * digits (10.5 + 0.1 is "10.6" in Redis but 10.59999999999999964 in f64), so the arithmetic is
 * done here, with the C library Redis itself uses, and only the text crosses into Rust.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LD_BUF (5 * 1024)

/* strtold with Redis' strictness: no leading blank, the whole input consumed (a NUL byte inside
 * counts as unconsumed), no overflow to infinity or underflow to zero, no NaN. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char buf[LD_BUF];
    char *end;
    long double v;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end != buf + len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* Adds `incr` to `cur` (absent when cur_len is (size_t)-1) and writes the result text.
 * Returns 0 on success, 1 if the stored value is not a float, 2 if the increment is not,
 * 3 if the result is NaN or infinite. */
int tumbler_incrbyfloat(const char *cur, size_t cur_len, const char *incr, size_t incr_len,
                        char *out, size_t out_cap, size_t *out_len) {
    long double a = 0, b, r;
    int n;
    char *p;
    if (cur_len != (size_t)-1 && !parse_ld(cur, cur_len, &a)) return 1;
    if (!parse_ld(incr, incr_len, &b)) return 2;
    r = a + b;
    if (isnan(r) || isinf(r)) return 3;
    n = snprintf(out, out_cap, "%.17Lf", r);
    if (n < 0 || (size_t)n + 1 > out_cap) return 3;
    /* Human-friendly: strip trailing zeros after the point, then the point, and "-0" -> "0". */
    if (memchr(out, '.', (size_t)n) != NULL) {
        p = out + n - 1;
        while (*p == '0') { p--; n--; }
        if (*p == '.') n--;
    }
    if (n == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; n = 1; }
    *out_len = (size_t)n;
    return 0;
}

/* A blocking timeout in seconds, parsed as Redis' getTimeoutFromObjectOrReply does (long double,
 * then (long long)(v * 1000.0)). Returns 1 and writes the milliseconds, or 0 if not a float. */
int tumbler_timeout_ms(const char *s, size_t len, long long *out_ms) {
    long double v;
    long double ms;
    if (!parse_ld(s, len, &v)) return 0;
    ms = v * 1000.0L;
    /* An out-of-range conversion yields INT64_MIN on x86-64 (the "integer indefinite" value),
     * which Redis then reports as a negative timeout; reproduce that without undefined
     * behaviour. */
    if (!(ms < 9223372036854775808.0L && ms > -9223372036854775809.0L)) *out_ms = (-9223372036854775807LL - 1);
    else *out_ms = (long long)ms;
    return 1;
}
