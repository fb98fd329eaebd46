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

Three scenarios go further (tests/clients/README.md, "Waiting, counting and re-entrant locks"):
python-redis-lock-wake (a blocked acquire() woken by the release), and redisson-style-resp2/3
(Redisson's re-entrant hash lock and pub/sub unlock notification, in Lua of our own).

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


def blocked_clients(plain):
    """INFO clients' blocked_clients on a plain connection: how many clients sit in BLPOP & co."""
    info = plain.cmd("INFO", "clients").decode()
    for line in info.splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":", 1)[1])
    fail(f"{plain.addr}: INFO clients has no blocked_clients field: {info!r}")


def wait_blocked(plain, n, what):
    """Polls until exactly n clients are blocked (2 s at most): the waiters really sit in BLPOP."""
    deadline = now() + 2
    while True:
        got = blocked_clients(plain)
        if got == n:
            return
        check(now() < deadline, f"{what}: blocked_clients is {got}, expected {n}, 2 s after starting the waiter")
        time.sleep(0.002)


# A waiter blocked in acquire() must be woken by the release within this (measured from just
# before release() was called to acquire() returning in the waiter's thread).
WAKE_LIMIT_S = 0.1


def scenario_python_redis_lock_wake():
    """python-redis-lock's blocking acquire: a waiter blocked in BLPOP on the lock's signal list
    is woken by the LPUSH in the release script and owns the lock within WAKE_LIMIT_S."""
    import redis
    import redis_lock

    host, port = ADDRS[0]
    plain = PLAIN[0]
    conns = []

    def client():
        c = redis.Redis(host=host, port=port)
        conns.append(c)
        return c

    # The leases are long (10 s) and so is the waiters' BLPOP timeout (python-redis-lock blocks
    # for `timeout`, else for `expire`): a waiter that is not woken stays blocked far beyond
    # WAKE_LIMIT_S, and the lock cannot lapse and let it in by expiry instead.
    expire = 10

    def start_waiter(lock, timeout):
        result = {}

        def wait():
            try:
                result["ok"] = lock.acquire(blocking=True, timeout=timeout)
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                result["error"] = e
            result["at"] = now()

        th = threading.Thread(target=wait, daemon=True)
        th.start()
        return th, result

    def expect_woken(th, result, since, who):
        th.join(3)
        check(not th.is_alive(), f"{who} is still blocked in acquire() 3 s after the release")
        check("error" not in result, f"{who}: acquire() raised {result.get('error')!r}")
        check(result.get("ok") is True, f"{who}: acquire() returned {result.get('ok')!r}")
        took = result["at"] - since
        check(took >= 0, f"{who} returned from acquire() {-took * 1000:.1f} ms before the release was called")
        check(
            took < WAKE_LIMIT_S,
            f"{who} owned the lock {took * 1000:.1f} ms after release() was called, expected under "
            f"{WAKE_LIMIT_S * 1000:.0f} ms: the release did not wake its BLPOP promptly",
        )
        return took

    latencies = []
    try:
        with Step("6b", "release wakes a waiter blocked in acquire(blocking=True), five times"):
            holder_client, waiter_client = client(), client()
            for round in range(5):
                name = f"prl-wake-{round}"
                holder = redis_lock.Lock(holder_client, name, expire=expire)
                check(holder.acquire(blocking=False) is True, f"round {round}: the holder's acquire failed")
                waiter = redis_lock.Lock(waiter_client, name, expire=expire)
                # Round 0-2 block without a timeout (BLPOP for `expire` s), 3-4 with one.
                th, result = start_waiter(waiter, None if round < 3 else expire)
                wait_blocked(plain, 1, f"round {round}")
                check(th.is_alive() and "ok" not in result, f"round {round}: the waiter returned while the lock was held: {result!r}")
                check(plain.cmd("GET", "lock:" + name) == holder.id.encode(), f"round {round}: the holder's id is not in the key")
                t = now()
                holder.release()
                latencies.append(expect_woken(th, result, t, f"round {round}: the waiter"))
                check(plain.cmd("GET", "lock:" + name) == waiter.id.encode(), f"round {round}: the waiter's id is not in the key")
                ttl = plain.cmd("PTTL", "lock:" + name)
                check(0 < ttl <= expire * 1000, f"round {round}: PTTL of the waiter's lock is {ttl}")
                check(blocked_clients(plain) == 0, f"round {round}: a client is still blocked after the waiter got the lock")
                waiter.release()
                expect_gone("lock:" + name)
            print(f"{LIBRARY}: woken {', '.join(f'{x * 1000:.1f}' for x in latencies)} ms after release()", flush=True)

        with Step("6c", "two waiters: each release wakes one, in the order they blocked"):
            name = "prl-wake-two"
            key = "lock:" + name
            holder = redis_lock.Lock(client(), name, expire=expire)
            check(holder.acquire(blocking=False) is True, "the holder's acquire failed")
            first = redis_lock.Lock(client(), name, expire=expire)
            th1, r1 = start_waiter(first, None)
            wait_blocked(plain, 1, "the first waiter")
            second = redis_lock.Lock(client(), name, expire=expire)
            th2, r2 = start_waiter(second, None)
            wait_blocked(plain, 2, "the second waiter")

            t = now()
            holder.release()
            expect_woken(th1, r1, t, "the first waiter to block")
            check(plain.cmd("GET", key) == first.id.encode(), "the first waiter's id is not in the key")
            # The second waiter was woken by nothing (one LPUSH, one BLPOP served) or woke,
            # failed its SET NX and blocked again: either way it must be blocked, not holding.
            wait_blocked(plain, 1, "the second waiter, still waiting")
            check(th2.is_alive() and "ok" not in r2, f"the second waiter returned while the first held the lock: {r2!r}")

            t = now()
            first.release()
            expect_woken(th2, r2, t, "the second waiter")
            check(plain.cmd("GET", key) == second.id.encode(), "the second waiter's id is not in the key")
            second.release()
            expect_gone(key)
    finally:
        for c in conns:
            c.close()


# ----------------------------------------------------------------------------- Redisson-style lock
#
# Redisson (Java) cannot be installed here; this is the protocol its RLock depends on, in scripts
# of our own run through redis-py: a re-entrant lock kept in a hash {owner id: hold count} with a
# PEXPIRE lease, whose acquire answers nil (now held) or the PTTL left to the current holder, and
# whose last unlock deletes the hash and PUBLISHes to the lock's channel from inside Lua. A waiter
# SUBSCRIBEs to that channel before trying, and on being refused waits for a message (at most the
# PTTL it was given), then tries again.

RLOCK_ACQUIRE = """
-- KEYS[1] the lock hash; ARGV[1] the lease in ms; ARGV[2] the owner id.
-- Free, or already ours: count one more hold, restart the lease, answer nil.
-- Held by someone else: answer how many ms its lease has left.
local holds = redis.call('hget', KEYS[1], ARGV[2])
if holds == false and redis.call('exists', KEYS[1]) == 1 then
  return redis.call('pttl', KEYS[1])
end
redis.call('hincrby', KEYS[1], ARGV[2], 1)
redis.call('pexpire', KEYS[1], ARGV[1])
return nil
"""

RLOCK_RELEASE = """
-- KEYS[1] the lock hash, KEYS[2] its channel; ARGV[1] the owner id, ARGV[2] the lease in ms,
-- ARGV[3] the message for waiters.
-- nil: the owner holds nothing here. 0: holds remain, lease restarted.
-- 1: the last hold went, the lock is deleted and the waiters are told.
if redis.call('hexists', KEYS[1], ARGV[1]) == 0 then
  return nil
end
if redis.call('hincrby', KEYS[1], ARGV[1], -1) > 0 then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 0
end
redis.call('del', KEYS[1])
redis.call('publish', KEYS[2], ARGV[3])
return 1
"""

RLOCK_RENEW = """
-- KEYS[1] the lock hash; ARGV[1] the owner id, ARGV[2] the lease in ms.
-- {1, PTTL} when the owner holds it (lease restarted), else {0, PTTL as it stands}.
if redis.call('hexists', KEYS[1], ARGV[1]) == 1 then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return {1, redis.call('pttl', KEYS[1])}
end
return {0, redis.call('pttl', KEYS[1])}
"""

UNLOCK_MESSAGE = b"unlocked"


class RLock:
    """One owner's handle on the lock `name`, over a redis-py client (EVALSHA, NOSCRIPT -> load)."""

    def __init__(self, client, name, owner, lease_ms):
        self.client = client
        self.key = f"rlock:{{{name}}}"
        self.channel = f"rlock-channel:{{{name}}}"
        self.owner = owner
        self.lease_ms = lease_ms
        self._acquire = client.register_script(RLOCK_ACQUIRE)
        self._release = client.register_script(RLOCK_RELEASE)
        self._renew = client.register_script(RLOCK_RENEW)

    def try_acquire(self):
        """None when now held, else the PTTL (ms) of the holder's lease."""
        return self._acquire(keys=[self.key], args=[self.lease_ms, self.owner])

    def unlock(self):
        return self._release(keys=[self.key, self.channel], args=[self.owner, self.lease_ms, UNLOCK_MESSAGE])

    def renew(self):
        return self._renew(keys=[self.key], args=[self.owner, self.lease_ms])


class Waiter(threading.Thread):
    """Waits for an RLock the way Redisson does, on its own client: SUBSCRIBE to the channel, try,
    and while refused wait for a message (at most the PTTL given), then try again. Records every
    message with the time it arrived."""

    def __init__(self, lock, protocol):
        super().__init__(daemon=True)
        self.lock = lock
        self.protocol = protocol
        self.ready = threading.Event()  # subscribed, and refused at least once
        self.messages = []  # (time, message)
        self.refusals = []  # PTTLs answered by try_acquire
        self.acquired_at = None
        self.unsubscribed = None
        self.error = None

    def run(self):
        try:
            ps = self.lock.client.pubsub()
            ps.subscribe(self.lock.channel)
            m = ps.get_message(timeout=2)
            if m is None or m["type"] != "subscribe" or m["channel"] != self.lock.channel.encode() or m["data"] != 1:
                raise ScenarioFailed(f"{Step.current}: SUBSCRIBE {self.lock.channel} answered {m!r}")
            # Redisson pings its pub/sub connections: PING in subscribed mode is a pong message.
            ps.ping()
            m = ps.get_message(timeout=2)
            if m is None or m["type"] != "pong":
                raise ScenarioFailed(f"{Step.current}: PING while subscribed answered {m!r}")
            deadline = now() + 5
            while True:
                ttl = self.lock.try_acquire()
                if ttl is None:
                    self.acquired_at = now()
                    break
                self.refusals.append(ttl)
                self.ready.set()
                if now() > deadline:
                    raise ScenarioFailed(f"{Step.current}: the waiter was refused for 5 s: {self.refusals!r}")
                m = ps.get_message(timeout=max(ttl, 1) / 1000)
                if m is not None:
                    self.messages.append((now(), m))
            ps.unsubscribe(self.lock.channel)
            m = ps.get_message(timeout=2)
            self.unsubscribed = m
            ps.close()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e
        finally:
            self.ready.set()

    def join_checked(self, what):
        self.join(3)
        check(not self.is_alive(), f"{what}: the waiter is still waiting 3 s later")
        if self.error is not None:
            if isinstance(self.error, ScenarioFailed):
                raise self.error
            fail(f"{what}: the waiter failed: {type(self.error).__name__}: {self.error}")
        m = self.unsubscribed
        check(
            m is not None and m["type"] == "unsubscribe" and m["channel"] == self.lock.channel.encode() and m["data"] == 0,
            f"{what}: UNSUBSCRIBE answered {m!r}",
        )


def numsub(channel):
    r = PLAIN[0].cmd("PUBSUB", "NUMSUB", channel)
    check(isinstance(r, list) and len(r) == 2 and r[0] == channel.encode(), f"PUBSUB NUMSUB {channel} answered {r!r}")
    return r[1]


def hash_of(key):
    r = PLAIN[0].cmd("HGETALL", key)
    return {r[i]: r[i + 1] for i in range(0, len(r), 2)}


def expect_pttl(key, ttl_ms, since, what):
    """PTTL of `key` in [ttl_ms - elapsed, ttl_ms], elapsed counted from `since` (taken before the
    command that set the lease) to the reply to PTTL."""
    t = PLAIN[0].cmd("PTTL", key)
    lo = ttl_ms - (now() - since) * 1000 - 1
    check(lo <= t <= ttl_ms, f"{what}: PTTL {key} = {t}, expected between {lo:.0f} and {ttl_ms}")
    return t


def scenario_redisson_style(protocol):
    import redis

    host, port = ADDRS[0]
    conns = []

    def client():
        c = redis.Redis(host=host, port=port, protocol=protocol)
        conns.append(c)
        return c

    name = f"res-resp{protocol}"
    A, B, C, D = (f"{x}-5f0c2a1e-uuid:{i}" for i, x in enumerate("abcd", 1))
    a = RLock(client(), name, A, LONG_MS)
    b = RLock(client(), name, B, LONG_MS)
    key, channel = a.key, a.channel
    plain = PLAIN[0]
    try:
        with Step(1, "acquire"):
            t0 = now()
            r = a.try_acquire()
            check(r is None, f"acquire on a free lock answered {r!r}, expected nil")
            check(plain.cmd("TYPE", key) == "hash", f"TYPE {key} is {plain.cmd('TYPE', key)!r}, expected hash")
            check(hash_of(key) == {A.encode(): b"1"}, f"HGETALL {key} = {hash_of(key)!r}, expected one hold by the owner")
            expect_pttl(key, LONG_MS, t0, "after acquire")

        with Step("1r", "the same owner acquires again (re-entrant)"):
            time.sleep(EXTEND_AFTER_S)
            before = plain.cmd("PTTL", key)
            t = now()
            r = a.try_acquire()
            check(r is None, f"a re-entrant acquire answered {r!r}, expected nil")
            check(hash_of(key) == {A.encode(): b"2"}, f"HGETALL {key} = {hash_of(key)!r}, expected two holds by the owner")
            after = expect_pttl(key, LONG_MS, t, "after the re-entrant acquire")
            check(after > before, f"the re-entrant acquire did not restart the lease: PTTL {before} before, {after} after")

        with Step(2, "another owner is refused with the PTTL"):
            hi = plain.cmd("PTTL", key)
            r = b.try_acquire()
            lo = plain.cmd("PTTL", key)
            check(isinstance(r, int) and not isinstance(r, bool), f"the refused acquire answered {r!r}, expected an integer PTTL")
            check(lo <= r <= hi, f"the refused acquire answered PTTL {r}, expected between {lo} and {hi} (PTTL before and after)")
            check(hash_of(key) == {A.encode(): b"2"}, f"the refusal changed the hash: {hash_of(key)!r}")

        with Step(4, "renew (watchdog) answers an array and restarts only the owner's lease"):
            time.sleep(0.05)
            before = plain.cmd("PTTL", key)
            t = now()
            r = a.renew()
            check(isinstance(r, list) and len(r) == 2 and r[0] == 1, f"the owner's renew answered {r!r}, expected [1, PTTL]")
            check(LONG_MS - (now() - t) * 1000 - 1 <= r[1] <= LONG_MS, f"the owner's renew answered PTTL {r[1]}")
            check(r[1] > before, f"renew did not restart the lease: PTTL {before} before, {r[1]} in the reply")
            before = plain.cmd("PTTL", key)
            r = b.renew()
            check(isinstance(r, list) and len(r) == 2 and r[0] == 0 and 0 < r[1] <= before, f"a non-owner's renew answered {r!r}, expected [0, PTTL <= {before}]")
            check(hash_of(key) == {A.encode(): b"2"}, f"renew changed the hash: {hash_of(key)!r}")

        with Step("5a", "a non-owner's unlock is refused and leaves the lock alone"):
            before = plain.cmd("PTTL", key)
            r = b.unlock()
            check(r is None, f"a non-owner's unlock answered {r!r}, expected nil")
            check(hash_of(key) == {A.encode(): b"2"}, f"a non-owner's unlock changed the hash: {hash_of(key)!r}")
            t = plain.cmd("PTTL", key)
            check(0 < t <= before, f"a non-owner's unlock moved the lease: PTTL {before} before, {t} after")

        with Step(6, "unlock twice; the last unlock deletes, publishes, and wakes a subscribed waiter"):
            waiter = Waiter(RLock(client(), name, B, LONG_MS), protocol)
            waiter.start()
            check(waiter.ready.wait(3), "the waiter did not subscribe and try within 3 s")
            check(waiter.error is None, f"the waiter failed: {waiter.error!r}")
            check(waiter.acquired_at is None and waiter.refusals, f"the waiter was not refused: {waiter.refusals!r}")
            n = numsub(channel)
            check(n == 1, f"PUBSUB NUMSUB {channel} = {n}, expected the waiter's subscription")

            t = now()
            r = a.unlock()
            check(r == 0, f"the first of two unlocks answered {r!r}, expected 0 (one hold left)")
            check(hash_of(key) == {A.encode(): b"1"}, f"after one unlock HGETALL {key} = {hash_of(key)!r}, expected one hold")
            expect_pttl(key, LONG_MS, t, "the first unlock restarts the lease")
            time.sleep(0.05)
            check(not waiter.messages, f"the waiter got a message while a hold remained: {waiter.messages!r}")
            check(waiter.acquired_at is None, "the waiter acquired while a hold remained")

            t = now()
            r = a.unlock()
            check(r == 1, f"the last unlock answered {r!r}, expected 1 (deleted and published)")
            waiter.join_checked("after the last unlock")
            check(len(waiter.messages) == 1, f"the waiter got {len(waiter.messages)} messages, expected one: {waiter.messages!r}")
            got_at, m = waiter.messages[0]
            check(
                m["type"] == "message" and m["channel"] == channel.encode() and m["data"] == UNLOCK_MESSAGE,
                f"the waiter got {m!r}, expected the message {UNLOCK_MESSAGE!r} on {channel}",
            )
            check(0 <= got_at - t < WAKE_LIMIT_S, f"the message reached the waiter {(got_at - t) * 1000:.1f} ms after the unlock was sent, expected under {WAKE_LIMIT_S * 1000:.0f} ms")
            check(
                waiter.acquired_at is not None and waiter.acquired_at - t < WAKE_LIMIT_S,
                f"the waiter did not acquire within {WAKE_LIMIT_S * 1000:.0f} ms of the unlock",
            )
            print(f"{LIBRARY}: message {(got_at - t) * 1000:.1f} ms, acquired {(waiter.acquired_at - t) * 1000:.1f} ms after the unlock", flush=True)
            check(hash_of(key) == {B.encode(): b"1"}, f"HGETALL {key} = {hash_of(key)!r}, expected one hold by the waiter")
            expect_pttl(key, LONG_MS, t, "the waiter's lease")
            n = numsub(channel)
            check(n == 0, f"PUBSUB NUMSUB {channel} = {n} after the waiter unsubscribed")

        with Step("5b", "the former owner's unlock is refused"):
            r = a.unlock()
            check(r is None, f"the former owner's unlock answered {r!r}, expected nil")
            check(hash_of(key) == {B.encode(): b"1"}, f"the former owner's unlock changed the hash: {hash_of(key)!r}")

        with Step(6, "the last unlock with nobody subscribed deletes the lock"):
            r = b.unlock()
            check(r == 1, f"unlock answered {r!r}, expected 1")
            check(plain.cmd("EXISTS", key) == 0, f"{key} is still there after the last unlock")

        with Step(7, "an abandoned lock expires on time and a waiter takes it"):
            # No unlock comes: the waiter is refused with the PTTL, hears nothing, waits that
            # long and tries again, as Redisson's waiters do when a holder died.
            c = RLock(client(), name, C, SHORT_MS)
            t0 = now()
            check(c.try_acquire() is None, "acquire with a short lease failed")
            t1 = now()
            expect_pttl(key, SHORT_MS, t0, "the short lease")
            waiter = Waiter(RLock(client(), name, D, LONG_MS), protocol)
            waiter.start()
            # The server's part, read on the plain connection: C's hold is there shortly before
            # the lease ends and gone just after (the key then holds the waiter's, or nothing).
            sleep_until(t0 + (SHORT_MS - 80) / 1000)
            held = plain.cmd("HEXISTS", key, C)
            check(held == 1 or now() >= t0 + SHORT_MS / 1000, f"the abandoned hold was gone {(now() - t0) * 1000:.0f} ms into its {SHORT_MS} ms lease")
            sleep_until(t1 + (SHORT_MS + 15) / 1000)
            held = plain.cmd("HEXISTS", key, C)
            check(held == 0, f"the abandoned hold is still there {(now() - t1) * 1000:.0f} ms after its {SHORT_MS} ms lease was taken")
            waiter.join_checked("waiting out the abandoned lease")
            check(not waiter.messages, f"the waiter got messages, but nobody unlocked: {waiter.messages!r}")
            check(waiter.refusals and all(0 <= x <= SHORT_MS for x in waiter.refusals), f"refusals {waiter.refusals!r}, expected PTTLs within the short lease")
            got = waiter.acquired_at
            check(got >= t0 + SHORT_MS / 1000, f"the waiter acquired {(got - t0) * 1000:.0f} ms after a {SHORT_MS} ms lease began: early")
            # The waiter's part: it slept for the PTTL it was given, then tried again at once.
            check(got < t1 + (SHORT_MS + 300) / 1000, f"the waiter only acquired {(got - t1) * 1000:.0f} ms after a {SHORT_MS} ms lease began")
            check(hash_of(key) == {D.encode(): b"1"}, f"HGETALL {key} = {hash_of(key)!r}, expected the waiter's hold only")
            r = RLock(conns[0], name, D, LONG_MS).unlock()
            check(r == 1, f"the waiter's unlock answered {r!r}")
            check(plain.cmd("EXISTS", key) == 0, f"{key} is still there after the last unlock")
    finally:
        for c in conns:
            c.close()


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
    "python-redis-lock-wake": (1, scenario_python_redis_lock_wake),
    "redisson-style-resp2": (1, lambda: scenario_redisson_style(2)),
    "redisson-style-resp3": (1, lambda: scenario_redisson_style(3)),
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
