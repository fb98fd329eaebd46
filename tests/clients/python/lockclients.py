#!/usr/bin/env python3
"""Python lock libraries against live tumbler-server processes.

Run by tests/it/clients.rs as `lockclients.py LIBRARY`, with the servers in TUMBLER_ADDRS
(`host:port,host:port,...`: one address for the single-instance libraries, five for the
Redlock-style ones). Exits 0 when every step passed; otherwise prints which library and which
step failed, and what was expected and seen, and exits 1.

Every scenario walks the steps a user depends on (numbered as in tests/clients/README.md):
  1 acquire succeeds                  2 a second owner is refused while it is held
  3 the key holds the owner's token with a PTTL in range (checked on a plain connection)
  4 extend pushes the TTL back up     5 a non-owner's release/extend is refused, key untouched
  6 release removes the key everywhere
  7 a lock that is not extended expires on time, and another owner can then take it
Step 5 runs twice where it can: with an impostor holding a different token while the lock is
held (5a), and with the owner of an expired lease after someone else took the lock (5b).

Timing checks never depend on how fast this machine is: every PTTL bound is derived from clock
readings taken around the commands (the server cannot have started a TTL before the client sent
the command, nor reported a PTTL after the reply arrived).
"""

import asyncio
import os
import socket
import sys
import threading
import time
import traceback

# The lease held through steps 1-6: released, never waited out, and long enough that a loaded
# machine cannot let it lapse while the steps run (the libraries refuse to extend a lapsed one).
LONG_MS = 2000
SHORT_MS = 400  # the lease left to expire in step 7
EXTEND_AFTER_S = 0.15  # wait before extending, so that the TTL has visibly gone down

LIBRARY = sys.argv[1] if len(sys.argv) > 1 else "?"
ADDRS = [
    (a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1]))
    for a in os.environ.get("TUMBLER_ADDRS", "").split(",")
    if a
]


class ScenarioFailed(Exception):
    pass


class Step:
    """`with Step(n, what):` names the step in any failure raised inside it."""

    current = "setup"

    def __init__(self, number, what):
        self.label = f"step {number} ({what})"

    def __enter__(self):
        Step.current = self.label
        print(f"{LIBRARY}: {self.label}", flush=True)
        return self

    def __exit__(self, kind, err, tb):
        if err is not None and not isinstance(err, ScenarioFailed):
            detail = "".join(traceback.format_exception(kind, err, tb))
            raise ScenarioFailed(f"{self.label}: unexpected {kind.__name__}: {err}\n{detail}") from err
        return False


def fail(msg):
    raise ScenarioFailed(f"{Step.current}: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)


def expect_raises(kinds, fn, what):
    """Calls fn() and requires that it raises one of `kinds` (the library's refusal)."""
    try:
        result = fn()
    except kinds:
        return
    fail(f"{what} was not refused: it returned {result!r} instead of raising {kinds}")


async def expect_raises_async(kinds, coro, what):
    try:
        result = await coro
    except kinds:
        return
    fail(f"{what} was not refused: it returned {result!r} instead of raising {kinds}")


def now():
    return time.monotonic()


def sleep_until(t):
    d = t - now()
    if d > 0:
        time.sleep(d)


# ----------------------------------------------------------------------------- plain connections


class RespError(Exception):
    pass


class Plain:
    """A plain RESP2 connection, independent of every library under test, for looking at keys."""

    def __init__(self, host, port):
        self.addr = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{self.addr} closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{self.addr} closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ConnectionError(f"{self.addr}: unexpected reply line {line!r}")

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        r = self._reply()
        if isinstance(r, RespError):
            fail(f"{self.addr}: {args[0]} answered the error {r}")
        return r


PLAIN = []

# Redlock-style libraries return as soon as a majority of instances answered; the requests to the
# others may still be in flight. So a change must show on a majority at once and on every
# instance within SETTLE_S.
SETTLE_S = 0.3

# key -> (t, ms): the lease on `key` cannot end before t + ms (t taken before the command that set
# it), so a key found gone earlier was removed, not expired.
LEASES = {}


def settle(what, probe):
    """Polls probe(index, plain) on every instance until it holds everywhere; it must hold on a
    majority at the first look. Returns the time it was last confirmed."""
    pending = list(range(len(PLAIN)))
    first = True
    deadline = now() + SETTLE_S
    while True:
        pending = [i for i in pending if not probe(i, PLAIN[i])]
        t = now()
        done = len(PLAIN) - len(pending)
        if first:
            check(done > len(PLAIN) // 2, f"{what}: true on only {done} of {len(PLAIN)} instances when the call returned")
            first = False
        if not pending:
            return t
        if t > deadline:
            fail(f"{what}: still not true on {', '.join(PLAIN[i].addr for i in pending)} {SETTLE_S} s after the call returned")
        time.sleep(0.005)


def expect_set(key):
    """Waits until every instance has `key` (a majority at once): a Redlock-style acquire may return
    before its last SETs land, and the next step must not race them."""
    settle(f"{key} is set", lambda i, p: p.cmd("GET", key) is not None)


def as_bytes(v):
    return v.encode() if isinstance(v, str) else v


def expect_held(key, token, ttl_ms, since):
    """Every instance holds `key` = `token` (None: the library hides its token; then the value must
    be non-empty and the same on every instance) with PTTL in [ttl_ms - elapsed, ttl_ms], elapsed
    being the time since `since` (taken before the command that set the TTL). Returns the value."""
    expect_set(key)
    values = []
    for p in PLAIN:
        v = p.cmd("GET", key)
        ttl = p.cmd("PTTL", key)
        elapsed_ms = (now() - since) * 1000
        check(v is not None, f"{p.addr}: GET {key} is nil: the lock key is missing")
        if token is not None:
            check(v == as_bytes(token), f"{p.addr}: GET {key} = {v!r}, expected the owner's token {as_bytes(token)!r}")
        check(len(v) > 0, f"{p.addr}: GET {key} is empty")
        check(
            isinstance(ttl, int) and ttl_ms - elapsed_ms - 1 <= ttl <= ttl_ms,
            f"{p.addr}: PTTL {key} = {ttl!r}, expected between {ttl_ms - elapsed_ms - 1:.0f} and {ttl_ms} "
            f"({elapsed_ms:.0f} ms after the command that set it)",
        )
        values.append(v)
    check(len(set(values)) == 1, f"the instances hold different values for {key}: {values!r}")
    LEASES[key] = (since, ttl_ms)
    return values[0]


def snapshot(key):
    """(value, PTTL) of `key` on every instance."""
    return [(p.cmd("GET", key), p.cmd("PTTL", key)) for p in PLAIN]


def expect_untouched(key, before):
    """The value is the one in `before` and the TTL has not been pushed up (nor removed)."""
    for p, (v0, t0) in zip(PLAIN, before):
        v = p.cmd("GET", key)
        t = p.cmd("PTTL", key)
        check(v == v0, f"{p.addr}: GET {key} = {v!r}, expected it unchanged at {v0!r}")
        check(0 < t <= t0, f"{p.addr}: PTTL {key} = {t!r}, expected unchanged (0 < PTTL <= {t0})")


def expect_gone(key):
    """`key` is gone from every instance, and (when its lease is known) before that lease could
    have run out: removed by the release, not expired."""
    gone = settle(f"{key} is removed", lambda i, p: p.cmd("EXISTS", key) == 0 and p.cmd("GET", key) is None)
    lease = LEASES.pop(key, None)
    if lease is not None:
        since, ms = lease
        check(
            gone < since + ms / 1000,
            f"{key} was only seen gone {(gone - since) * 1000:.0f} ms into its {ms} ms lease: it expired, "
            "the release did not remove it",
        )


def expect_pttl_up(key, before, target_lo, target_hi, since):
    """After an extension: on every instance PTTL lies in [target_lo - elapsed, target_hi] and is
    above the value in `before`; elapsed counts from `since`, taken before `before` was read."""
    settle(f"PTTL {key} went up", lambda i, p: p.cmd("PTTL", key) > before[i][1])
    for p, (_, t0) in zip(PLAIN, before):
        t = p.cmd("PTTL", key)
        elapsed_ms = (now() - since) * 1000
        check(t > t0, f"{p.addr}: PTTL {key} = {t} after extending, not above the {t0} before")
        check(
            target_lo - elapsed_ms - 1 <= t <= target_hi,
            f"{p.addr}: PTTL {key} = {t} after extending, expected between "
            f"{target_lo - elapsed_ms - 1:.0f} and {target_hi}",
        )
    LEASES[key] = (since, target_lo)


def expect_expires(key, ttl_ms, t_before, t_after):
    """The lease set between t_before and t_after with ttl_ms expires on time on every instance:
    still there shortly before its deadline, gone just after it."""
    # Where the library returned at a majority, the last SETs may land after t_after.
    t_after = max(t_after, settle(f"{key} is set", lambda i, p: p.cmd("GET", key) is not None))
    sleep_until(t_before + (ttl_ms - 80) / 1000)
    for p in PLAIN:
        v = p.cmd("GET", key)
        got = now()
        # A nil is early only if the reply came back before the earliest possible deadline.
        check(
            v is not None or got >= t_before + ttl_ms / 1000,
            f"{p.addr}: {key} expired early: gone {(got - t_before) * 1000:.0f} ms after the acquire with PX {ttl_ms}",
        )
    sleep_until(t_after + (ttl_ms + 15) / 1000)
    for p in PLAIN:
        v = p.cmd("GET", key)
        check(
            v is None,
            f"{p.addr}: {key} = {v!r} still there {(now() - t_after) * 1000:.0f} ms after the acquire "
            f"with a {ttl_ms} ms lease returned",
        )
    LEASES.pop(key, None)


# ----------------------------------------------------------------------------- redis-py Lock


def scenario_redis_py(protocol):
    import redis
    from redis.exceptions import LockNotOwnedError

    host, port = ADDRS[0]
    ca = redis.Redis(host=host, port=port, protocol=protocol)
    cb = redis.Redis(host=host, port=port, protocol=protocol)
    key = f"redispy-resp{protocol}"
    try:
        a = ca.lock(key, timeout=LONG_MS / 1000)
        b = cb.lock(key, timeout=LONG_MS / 1000)

        with Step(1, "acquire"):
            t0 = now()
            ok = a.acquire(blocking=False)
            check(ok is True, f"acquire returned {ok!r}")
            expect_set(key)
            # The connection really speaks the protocol asked for (HELLO 3 or none).
            proto = ca.connection_pool.get_connection().get_protocol()
            check(str(proto) == str(protocol), f"connection protocol is {proto!r}, expected {protocol}")

        with Step(2, "second owner refused"):
            check(b.acquire(blocking=False) is False, "a second owner acquired a held lock (non-blocking)")
            t = now()
            check(b.acquire(blocking_timeout=0.15) is False, "a second owner acquired a held lock (blocking_timeout)")
            # redis-py polls every 0.1 s and gives up when the next poll would pass blocking_timeout.
            check(now() - t >= 0.1, "the blocking acquire gave up without polling again")

        with Step(3, "the key holds the owner's token"):
            expect_held(key, a.local.token, LONG_MS, t0)
            check(a.locked() is True and a.owned() is True, "locked()/owned() are not True for the owner")
            check(b.owned() is False, "owned() is True for the refused second owner")

        with Step(4, "extend"):
            time.sleep(EXTEND_AFTER_S)
            t = now()
            before = snapshot(key)
            check(a.extend(0.5) is True, "extend(0.5) did not return True")
            # Additive: the script sets PEXPIRE to its own PTTL + 500, so the lease must end exactly
            # 500 ms later than before (Redis keeps the deadline to the millisecond).
            for p, (_, left) in zip(PLAIN, before):
                after = p.cmd("PTTL", key)
                elapsed_ms = (now() - t) * 1000
                added_at_most = after - left + elapsed_ms  # the clock moved at most elapsed_ms
                added_at_least = after - left
                check(
                    added_at_most + 1 >= 500 and added_at_least <= 500 + 1,
                    f"{p.addr}: extend(0.5) moved the end of the lease by {added_at_least} to "
                    f"{added_at_most:.0f} ms, not by 500 ms (PTTL {left} before, {after} after, "
                    f"{elapsed_ms:.0f} ms apart)",
                )
            LEASES[key] = (t, min(left for _, left in before) + 500)
            t = now()
            before = snapshot(key)
            check(a.extend(4.0, replace_ttl=True) is True, "extend(4.0, replace_ttl=True) did not return True")
            expect_pttl_up(key, before, 4000, 4000, t)
            t = now()
            check(a.reacquire() is True, "reacquire() did not return True")
            expect_held(key, a.local.token, LONG_MS, t)

        with Step(6, "release"):
            a.release()
            expect_gone(key)
            check(a.locked() is False, "locked() is True after release")

        with Step(7, "an unextended lock expires on time"):
            a2 = ca.lock(key, timeout=SHORT_MS / 1000)
            t0 = now()
            check(a2.acquire(blocking=False) is True, "acquire with a short lease failed")
            t1 = now()
            expect_expires(key, SHORT_MS, t0, t1)
            t0 = now()
            check(b.acquire(blocking=False) is True, "another owner could not take the expired lock")
            expect_held(key, b.local.token, LONG_MS, t0)

        with Step("5b", "the stale owner's extend, reacquire and release are refused"):
            before = snapshot(key)
            expect_raises(LockNotOwnedError, lambda: a2.extend(1.0), "extend() by the owner of an expired lease")
            expect_raises(LockNotOwnedError, a2.reacquire, "reacquire() by the owner of an expired lease")
            expect_raises(LockNotOwnedError, a2.release, "release() by the owner of an expired lease")
            expect_untouched(key, before)
            check(b.owned() is True, "the new owner no longer owns the lock")

        with Step(6, "release by the new owner"):
            b.release()
            expect_gone(key)
    finally:
        ca.close()
        cb.close()


# ----------------------------------------------------------------------------- pottery Redlock


def scenario_pottery():
    import redis
    from pottery import ExtendUnlockedLock, Redlock, ReleaseUnlockedLock

    masters_a = [redis.Redis(host=h, port=p) for h, p in ADDRS]
    masters_b = [redis.Redis(host=h, port=p) for h, p in ADDRS]
    try:
        a = Redlock(key="pottery", masters=masters_a, auto_release_time=LONG_MS / 1000)
        b = Redlock(key="pottery", masters=masters_b, auto_release_time=LONG_MS / 1000)
        key = a.key  # pottery prefixes the key ("redlock:pottery")
        check(key.endswith("pottery"), f"unexpected key {key!r}")

        with Step(1, "acquire"):
            t0 = now()
            check(a.acquire(blocking=False) is True, "acquire(blocking=False) did not return True")
            expect_set(key)

        with Step(2, "second owner refused"):
            check(b.acquire(blocking=False) is False, "a second owner acquired a held lock")

        with Step(3, "the key holds the owner's token"):
            # pottery keeps its token private: the value must be one non-empty value everywhere.
            token = expect_held(key, None, LONG_MS, t0)
            left = a.locked()
            check(0 < left <= LONG_MS / 1000, f"locked() = {left!r} for the owner, expected 0 < s <= {LONG_MS / 1000}")
            check(b.locked() == 0, f"locked() = {b.locked()!r} for the refused owner, expected 0")

        with Step(4, "extend"):
            time.sleep(EXTEND_AFTER_S)
            before = snapshot(key)
            t = now()
            a.extend()
            expect_pttl_up(key, before, LONG_MS, LONG_MS, t)
            expect_held(key, token, LONG_MS, t)

        with Step(6, "release"):
            a.release()
            expect_gone(key)
            check(a.locked() == 0, "locked() is not 0 after release")

        with Step(7, "an unextended lock expires on time"):
            a2 = Redlock(key="pottery", masters=masters_a, auto_release_time=SHORT_MS / 1000)
            t0 = now()
            check(a2.acquire(blocking=False) is True, "acquire with a short lease failed")
            t1 = now()
            expect_expires(key, SHORT_MS, t0, t1)
            check(a2.locked() == 0, "locked() is not 0 for an expired lease")
            t0 = now()
            check(b.acquire(blocking=False) is True, "another owner could not take the expired lock")
            expect_held(key, None, LONG_MS, t0)

        with Step("5b", "the stale owner's extend and release are refused"):
            before = snapshot(key)
            expect_raises(ExtendUnlockedLock, a2.extend, "extend() by the owner of an expired lease")
            expect_raises(ReleaseUnlockedLock, a2.release, "release() by the owner of an expired lease")
            expect_untouched(key, before)

        with Step(6, "release by the new owner"):
            b.release()
            expect_gone(key)
    finally:
        for m in masters_a + masters_b:
            m.close()


# ----------------------------------------------------------------------------- aioredlock


def scenario_aioredlock():
    asyncio.run(aioredlock_main())


async def aioredlock_main():
    from aioredlock import Aioredlock, Lock, LockError

    conns = [{"host": h, "port": p} for h, p in ADDRS]
    # One try each: a refused acquire must not sit in aioredlock's retry delays.
    ma = Aioredlock(redis_connections=conns, retry_count=1)
    mb = Aioredlock(redis_connections=conns, retry_count=1)
    key = "aioredlock"
    try:
        with Step(1, "acquire"):
            t0 = now()
            a = await ma.lock(key, lock_timeout=LONG_MS / 1000)
            check(a.valid, "the lock is not valid")
            expect_set(key)

        with Step(2, "second owner refused"):
            await expect_raises_async(LockError, mb.lock(key, lock_timeout=LONG_MS / 1000), "a second lock()")

        with Step(3, "the key holds the owner's token"):
            expect_held(key, a.id, LONG_MS, t0)
            check(await ma.is_locked(key) is True, "is_locked() is not True")
            got = await ma.get_lock(key, a.id)
            check(
                got.valid and 0 < got.lock_timeout <= LONG_MS / 1000,
                f"get_lock() = {got!r}: expected a TTL of at most {LONG_MS / 1000} s",
            )

        with Step(4, "extend"):
            await asyncio.sleep(EXTEND_AFTER_S)
            before = snapshot(key)
            t = now()
            await ma.extend(a, lock_timeout=LONG_MS / 1000)
            expect_pttl_up(key, before, LONG_MS, LONG_MS, t)
            expect_held(key, a.id, LONG_MS, t)

        with Step("5a", "an impostor's release and extend are refused"):
            before = snapshot(key)
            impostor = Lock(mb, key, "impostor-id", lock_timeout=LONG_MS / 1000, valid=True)
            await expect_raises_async(LockError, mb.extend(impostor), "extend() with another identifier")
            impostor = Lock(mb, key, "impostor-id", lock_timeout=LONG_MS / 1000, valid=True)
            await expect_raises_async(LockError, mb.unlock(impostor), "unlock() with another identifier")
            expect_untouched(key, before)

        with Step(6, "release"):
            await ma.unlock(a)
            expect_gone(key)
            check(await ma.is_locked(key) is False, "is_locked() is True after unlock")

        with Step(7, "an unextended lock expires on time"):
            t0 = now()
            a2 = await ma.lock(key, lock_timeout=SHORT_MS / 1000)
            t1 = now()
            await asyncio.get_running_loop().run_in_executor(None, expect_expires, key, SHORT_MS, t0, t1)
            t0 = now()
            b = await mb.lock(key, lock_timeout=LONG_MS / 1000)
            expect_held(key, b.id, LONG_MS, t0)

        with Step("5b", "the stale owner's extend and unlock are refused"):
            before = snapshot(key)
            await expect_raises_async(LockError, ma.extend(a2), "extend() by the owner of an expired lease")
            a2.valid = True  # extend() gave up on the lease; unlock() it as a user still holding it would
            await expect_raises_async(LockError, ma.unlock(a2), "unlock() by the owner of an expired lease")
            expect_untouched(key, before)

        with Step(6, "release by the new owner"):
            await mb.unlock(b)
            expect_gone(key)
    finally:
        await ma.destroy()
        await mb.destroy()


# ----------------------------------------------------------------------------- python-redis-lock


def scenario_python_redis_lock():
    import redis
    import redis_lock

    host, port = ADDRS[0]
    ca = redis.Redis(host=host, port=port)
    cb = redis.Redis(host=host, port=port)
    name = "prl"
    key = "lock:" + name
    # python-redis-lock takes whole seconds (SET NX EX, EXPIRE): one second is its shortest lease.
    try:
        a = redis_lock.Lock(ca, name, expire=1)
        b = redis_lock.Lock(cb, name, expire=1)

        with Step(1, "acquire"):
            t0 = now()
            check(a.acquire(blocking=False) is True, "acquire(blocking=False) did not return True")
            expect_set(key)

        with Step(2, "second owner refused"):
            check(b.acquire(blocking=False) is False, "a second owner acquired a held lock")

        with Step(3, "the key holds the owner's token"):
            expect_held(key, a.id, 1000, t0)
            check(a.locked() is True, "locked() is not True")
            check(a.get_owner_id() == a.id, f"get_owner_id() = {a.get_owner_id()!r}, expected {a.id!r}")

        with Step(4, "extend"):
            time.sleep(EXTEND_AFTER_S)
            before = snapshot(key)
            t = now()
            a.extend(expire=1)
            expect_pttl_up(key, before, 1000, 1000, t)

        with Step("5a", "an impostor's release and extend are refused"):
            before = snapshot(key)
            impostor = redis_lock.Lock(cb, name, expire=1, id="impostor-id")
            expect_raises(redis_lock.NotAcquired, impostor.extend, "extend() with another id")
            expect_raises(redis_lock.NotAcquired, impostor.release, "release() with another id")
            expect_untouched(key, before)

        with Step(6, "release"):
            a.release()
            expect_gone(key)
            check(a.locked() is False, "locked() is True after release")

        with Step("6b", "release wakes a waiter blocked in BLPOP"):
            wname = "prl-wake"
            holder = redis_lock.Lock(ca, wname, expire=1)
            check(holder.acquire(blocking=False) is True, "acquire failed")
            cw = redis.Redis(host=host, port=port)
            waiter = redis_lock.Lock(cw, wname, expire=1)
            result = {}

            def wait():
                t = now()
                result["ok"] = waiter.acquire(blocking=True, timeout=1)
                result["took"] = now() - t

            th = threading.Thread(target=wait)
            th.start()
            time.sleep(0.1)
            holder.release()
            th.join(5)
            check(not th.is_alive(), "the waiter is still blocked 5 s after the release")
            check(result.get("ok") is True, f"the waiter did not get the lock: {result!r}")
            # Not woken, it would sit out its whole 1 s BLPOP timeout before trying again.
            check(result["took"] < 0.9, f"the waiter took {result['took']:.2f} s: the release did not wake its BLPOP")
            check(ca.get("lock:" + wname) == waiter.id.encode(), "the waiter's id is not in the key")
            waiter.release()
            expect_gone("lock:" + wname)
            cw.close()

        with Step(7, "an unextended lock expires on time"):
            a2 = redis_lock.Lock(ca, name, expire=1)
            t0 = now()
            check(a2.acquire(blocking=False) is True, "acquire failed")
            t1 = now()
            expect_expires(key, 1000, t0, t1)
            t0 = now()
            check(b.acquire(blocking=False) is True, "another owner could not take the expired lock")
            expect_held(key, b.id, 1000, t0)

        with Step("5b", "the stale owner's extend and release are refused"):
            before = snapshot(key)
            expect_raises(redis_lock.NotAcquired, a2.extend, "extend() by the owner of an expired lease")
            expect_raises(redis_lock.NotAcquired, a2.release, "release() by the owner of an expired lease")
            expect_untouched(key, before)

        with Step(6, "release by the new owner"):
            b.release()
            expect_gone(key)
    finally:
        ca.close()
        cb.close()


# ----------------------------------------------------------------------------- redlock-py


def scenario_redlock_py():
    import redlock

    conns = [{"host": h, "port": p} for h, p in ADDRS]
    # One try each, so that a refused lock() does not sit in retry delays.
    da = redlock.Redlock(conns, retry_count=1, retry_delay=0.01)
    db = redlock.Redlock(conns, retry_count=1, retry_delay=0.01)
    key = "redlockpy"

    with Step(1, "acquire"):
        t0 = now()
        a = da.lock(key, LONG_MS)
        check(a is not False, "lock() returned False")
        check(0 < a.validity <= LONG_MS, f"validity {a.validity!r} out of range")
        expect_set(key)

    with Step(2, "second owner refused"):
        got = db.lock(key, LONG_MS)
        check(got is False, f"a second owner acquired a held lock: {got!r}")

    with Step(3, "the key holds the owner's token"):
        expect_held(key, a.key, LONG_MS, t0)

    with Step("5a", "an impostor's unlock leaves the key alone"):
        # redlock-py's unlock reports nothing (best effort): the key must simply stay as it is.
        before = snapshot(key)
        db.unlock(redlock.Lock(LONG_MS, key, b"impostor-value"))
        expect_untouched(key, before)

    # Step 4: redlock-py has no extend.

    with Step(6, "release"):
        da.unlock(a)
        expect_gone(key)

    with Step(7, "an unextended lock expires on time"):
        t0 = now()
        a2 = da.lock(key, SHORT_MS)
        t1 = now()
        check(a2 is not False, "lock() with a short lease returned False")
        expect_expires(key, SHORT_MS, t0, t1)
        t0 = now()
        b = db.lock(key, LONG_MS)
        check(b is not False, "another owner could not take the expired lock")
        expect_held(key, b.key, LONG_MS, t0)

    with Step("5b", "the stale owner's unlock leaves the key alone"):
        before = snapshot(key)
        da.unlock(a2)
        expect_untouched(key, before)

    with Step(6, "release by the new owner"):
        db.unlock(b)
        expect_gone(key)


SCENARIOS = {
    "redis-py-resp2": (1, lambda: scenario_redis_py(2)),
    "redis-py-resp3": (1, lambda: scenario_redis_py(3)),
    "pottery": (5, scenario_pottery),
    "aioredlock": (5, scenario_aioredlock),
    "python-redis-lock": (1, scenario_python_redis_lock),
    "redlock-py": (5, scenario_redlock_py),
}


def main():
    if LIBRARY not in SCENARIOS:
        print(f"usage: lockclients.py {{{'|'.join(SCENARIOS)}}} (servers in TUMBLER_ADDRS)", file=sys.stderr)
        return 2
    instances, run = SCENARIOS[LIBRARY]
    if len(ADDRS) != instances:
        print(f"{LIBRARY}: needs {instances} addresses in TUMBLER_ADDRS, got {ADDRS!r}", file=sys.stderr)
        return 2
    started = now()
    try:
        PLAIN.extend(Plain(h, p) for h, p in ADDRS)
        run()
    except ScenarioFailed as e:
        print(f"FAILED {LIBRARY}: {e}", file=sys.stderr, flush=True)
        return 1
    except Exception as e:  # noqa: BLE001 - anything else is a failure of the current step too
        print(f"FAILED {LIBRARY}: {Step.current}: {type(e).__name__}: {e}", file=sys.stderr)
        traceback.print_exc()
        return 1
    print(f"{LIBRARY}: all steps passed in {now() - started:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
