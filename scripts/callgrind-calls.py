#!/usr/bin/env python3
"""Calls a server made into its allocator, the clock and the kernel, from callgrind dumps.

Usage: scripts/callgrind-calls.py REQUESTS DUMP...

Prints "allocations frees clock_reads system_calls wake_ups", each per request, counting the
calls callgrind recorded from the server's own code into:
  allocations   malloc, calloc, realloc, aligned allocations (jemalloc's for redis-server,
                mimalloc's for tumbler)
  frees         free, mi_free and their sized variants
  clock reads   clock_gettime, gettimeofday, time (under valgrind, which hides the vDSO,
                glibc's gettimeofday shows as __gettimeofday_syscall)
  system calls  the libc wrappers of read, write, recv, send, epoll_wait, epoll_ctl and the
                other calls a server makes per request; the vDSO clock is not one
  wake-ups      runs of a connection's handler when its socket is ready: a poll of a tokio
                task (tumbler), a call of readQueryFromClient, which redis-server's event
                loop runs for a readable connection (its replies go out before it sleeps)
Calls made by the allocator or libc themselves (mimalloc's aligned path calling its own
malloc, say) are not counted again. Used by scripts/bench-instructions.sh.
"""

import re
import sys

ALLOC = re.compile(r"^(malloc|calloc|realloc|posix_memalign|aligned_alloc|memalign|valloc"
                   r"|mi_(malloc|zalloc|calloc|realloc|rezalloc|recalloc)\w*|mi_new\w*)$")
FREE = re.compile(r"^(free|sdallocx|mi_free\w*|cfree)$")
CLOCK = re.compile(r"^(__)?(clock_gettime|gettimeofday|time)(_syscall)?(@.*)?$")
SYSCALL = re.compile(r"^(read|write|readv|writev|recv|send|recvfrom|sendto|recvmsg|sendmsg"
                     r"|epoll_wait|epoll_pwait|epoll_ctl|accept4?|close|shutdown|sched_yield"
                     r"|futex|syscall|__libc_(read|write|recv|send|recvfrom|sendto)|__send|__recv"
                     r"|__read|__write)(@.*)?$")
WAKE = re.compile(r"^(tokio::runtime::task::raw::poll|readQueryFromClient)$")
# Callers that are the allocator or libc itself: their calls are part of one counted call.
INTERNAL = re.compile(r"^(_?mi_\w*|je_\w*|_int_\w*|__libc_\w*|__GI_\w*|_IO_\w*"
                      r"|(malloc|calloc|realloc|free|read|write|recv|send|__read|__write|__send|__recv)(@.*)?)$")


def calls(path):
    """(caller, callee) -> number of calls, from one callgrind output file."""
    names = {}
    edges = {}
    fn = cfn = None

    def name(rest):
        m = re.match(r"\((\d+)\)(?: (.*))?", rest)
        if not m:
            return rest
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "?")

    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                fn = name(line[3:].strip())
            elif line.startswith("cfn="):
                cfn = name(line[4:].strip())
            elif line.startswith("calls="):
                n = int(line[6:].split()[0])
                edges[(fn, cfn)] = edges.get((fn, cfn), 0) + n
    return edges


def main():
    requests = int(sys.argv[1])
    totals = [0, 0, 0, 0, 0]
    for path in sys.argv[2:]:
        for (caller, callee), n in calls(path).items():
            if caller is None or callee is None or INTERNAL.match(caller):
                continue
            for i, pattern in enumerate((ALLOC, FREE, CLOCK, SYSCALL, WAKE)):
                if pattern.match(callee):
                    totals[i] += n
    print(" ".join(f"{t / requests:.2f}" for t in totals))


if __name__ == "__main__":
    main()
