#!/usr/bin/env node
// Node lock libraries (all on ioredis) against live tumbler-server processes.
//
// Run by tests/it/clients.rs as `node lockclients.js LIBRARY`, with the servers in TUMBLER_ADDRS
// (`host:port,...`: one address for redis-semaphore's Mutex and Semaphore, five for the
// Redlock-style ones).
// Exits 0 when every step passed; otherwise prints the library, the step, and what was expected
// and seen, and exits 1. The steps are those of tests/clients/README.md (1 acquire, 2 second
// owner refused, 3 token and PTTL on a plain connection, 4 extend, 5 non-owner refused and key
// untouched, 6 release, 7 expiry on time); 5a uses an impostor with another token while the lock
// is held, 5b the owner of an expired lease after someone else took the lock. PTTL bounds are
// derived from clock readings around the commands, never from how fast the machine is.
'use strict';

const net = require('net');
const Redis = require('ioredis');

// The lease held through steps 1-6: released, never waited out, and long enough that a loaded
// machine cannot let it lapse while the steps run (the libraries refuse to extend a lapsed one).
const LONG_MS = 2000;
const SHORT_MS = 400; // the lease left to expire in step 7
const EXTEND_AFTER_MS = 150; // wait before extending, so that the TTL has visibly gone down

const LIBRARY = process.argv[2] || '?';
const ADDRS = (process.env.TUMBLER_ADDRS || '')
  .split(',')
  .filter(Boolean)
  .map((a) => {
    const i = a.lastIndexOf(':');
    return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
  });

class ScenarioFailed extends Error {}

let currentStep = 'setup';

async function step(number, what, body) {
  currentStep = `step ${number} (${what})`;
  console.log(`${LIBRARY}: ${currentStep}`);
  try {
    await body();
  } catch (e) {
    if (e instanceof ScenarioFailed) throw e;
    throw new ScenarioFailed(`${currentStep}: unexpected ${e && e.name}: ${e && e.message}\n${e && e.stack}`);
  }
}

function fail(msg) {
  throw new ScenarioFailed(`${currentStep}: ${msg}`);
}

function check(cond, msg) {
  if (!cond) fail(msg);
}

/** Requires that the promise rejects with an error of one of `kinds` (the library's refusal). */
async function expectRejects(kinds, promise, what) {
  let result;
  try {
    result = await promise;
  } catch (e) {
    if (kinds.some((k) => e instanceof k)) return e;
    throw e;
  }
  fail(`${what} was not refused: it resolved to ${String(result)} instead of rejecting with ${kinds.map((k) => k.name)}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const sleepUntil = (t) => sleep(Math.max(0, t - now()));

// ------------------------------------------------------------------------------ plain connections

/** A plain RESP2 connection, independent of ioredis and the libraries, for looking at keys. */
class Plain {
  constructor({ host, port }) {
    this.addr = `${host}:${port}`;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    this.sock = net.connect(port, host);
    this.sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const r = this.parse(0);
        if (!r) break;
        this.buf = this.buf.subarray(r.end);
        this.waiting.shift()(r.value);
      }
    });
    this.sock.on('error', (e) => {
      for (const w of this.waiting.splice(0)) w(e);
    });
  }

  parse(at) {
    const eol = this.buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const kind = String.fromCharCode(this.buf[at]);
    const rest = this.buf.subarray(at + 1, eol).toString();
    const next = eol + 2;
    if (kind === '+') return { value: rest, end: next };
    if (kind === '-') return { value: new Error(rest), end: next };
    if (kind === ':') return { value: Number(rest), end: next };
    if (kind === '$') {
      const n = Number(rest);
      if (n < 0) return { value: null, end: next };
      if (this.buf.length < next + n + 2) return null;
      return { value: Buffer.from(this.buf.subarray(next, next + n)), end: next + n + 2 };
    }
    if (kind === '*') {
      const n = Number(rest);
      if (n < 0) return { value: null, end: next };
      const items = [];
      let end = next;
      for (let i = 0; i < n; i++) {
        const r = this.parse(end);
        if (!r) return null;
        items.push(r.value);
        end = r.end;
      }
      return { value: items, end };
    }
    throw new Error(`${this.addr}: unexpected reply ${JSON.stringify(this.buf.toString())}`);
  }

  async cmd(...args) {
    const parts = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    const reply = new Promise((resolve) => this.waiting.push(resolve));
    this.sock.write(Buffer.concat(parts));
    const r = await reply;
    if (r instanceof Error) fail(`${this.addr}: ${args[0]} answered the error ${r.message}`);
    return r;
  }

  close() {
    this.sock.destroy();
  }
}

let PLAIN = [];

// Redlock-style libraries return as soon as a majority of instances answered; the requests to the
// others may still be in flight. So a change must show on a majority at once and on every
// instance within SETTLE_MS.
const SETTLE_MS = 300;

// key -> {since, ms}: the lease on `key` cannot end before since + ms (since taken before the
// command that set it), so a key found gone earlier was removed, not expired.
const LEASES = new Map();

/** Polls probe(i, plain) on every instance until it holds everywhere; it must hold on a majority
 * at the first look. Returns the time it was last confirmed. */
async function settle(what, probe) {
  let pending = PLAIN.map((_, i) => i);
  let first = true;
  const deadline = now() + SETTLE_MS;
  for (;;) {
    const still = [];
    for (const i of pending) if (!(await probe(i, PLAIN[i]))) still.push(i);
    pending = still;
    const t = now();
    const done = PLAIN.length - pending.length;
    if (first) {
      check(done > Math.floor(PLAIN.length / 2), `${what}: true on only ${done} of ${PLAIN.length} instances when the call returned`);
      first = false;
    }
    if (pending.length === 0) return t;
    if (t > deadline) fail(`${what}: still not true on ${pending.map((i) => PLAIN[i].addr)} ${SETTLE_MS} ms after the call returned`);
    await sleep(5);
  }
}

/** Waits until every instance has `key` (a majority at once): a Redlock-style acquire may return
 * before its last SETs land, and the next step must not race them. */
async function expectSet(key) {
  await settle(`${key} is set`, async (i, p) => (await p.cmd('GET', key)) !== null);
}

const show = (v) => (v === null ? 'nil' : JSON.stringify(Buffer.isBuffer(v) ? v.toString('latin1') : v));

/**
 * Every instance holds `key` = `token` (null: the library hides it; then one non-empty value on
 * every instance), with PTTL in [ttl - elapsed, ttl], elapsed counted from `since` (taken before
 * the command that set the TTL). Returns the value.
 */
async function expectHeld(key, token, ttl, since) {
  await expectSet(key);
  const values = [];
  for (const p of PLAIN) {
    const v = await p.cmd('GET', key);
    const t = await p.cmd('PTTL', key);
    const elapsed = now() - since;
    check(v !== null, `${p.addr}: GET ${key} is nil: the lock key is missing`);
    if (token !== null) {
      check(v.equals(Buffer.from(token)), `${p.addr}: GET ${key} = ${show(v)}, expected the owner's token ${show(token)}`);
    }
    check(v.length > 0, `${p.addr}: GET ${key} is empty`);
    check(
      t >= ttl - elapsed - 1 && t <= ttl,
      `${p.addr}: PTTL ${key} = ${t}, expected between ${Math.round(ttl - elapsed - 1)} and ${ttl} (${Math.round(elapsed)} ms after the command that set it)`,
    );
    values.push(v);
  }
  check(values.every((v) => v.equals(values[0])), `the instances hold different values for ${key}: ${values.map(show)}`);
  LEASES.set(key, { since, ms: ttl });
  return values[0];
}

async function snapshot(key) {
  const out = [];
  for (const p of PLAIN) out.push({ value: await p.cmd('GET', key), pttl: await p.cmd('PTTL', key) });
  return out;
}

/** The value is the one in `before` and the TTL has not been pushed up (nor removed). */
async function expectUntouched(key, before) {
  for (let i = 0; i < PLAIN.length; i++) {
    const p = PLAIN[i];
    const v = await p.cmd('GET', key);
    const t = await p.cmd('PTTL', key);
    check(v !== null && v.equals(before[i].value), `${p.addr}: GET ${key} = ${show(v)}, expected it unchanged at ${show(before[i].value)}`);
    check(t > 0 && t <= before[i].pttl, `${p.addr}: PTTL ${key} = ${t}, expected unchanged (0 < PTTL <= ${before[i].pttl})`);
  }
}

/** `key` is gone from every instance, and (when its lease is known) before that lease could have
 * run out: removed by the release, not expired. */
async function expectGone(key) {
  const gone = await settle(`${key} is removed`, async (i, p) => (await p.cmd('EXISTS', key)) === 0 && (await p.cmd('GET', key)) === null);
  const lease = LEASES.get(key);
  LEASES.delete(key);
  if (lease) {
    check(gone < lease.since + lease.ms, `${key} was only seen gone ${Math.round(gone - lease.since)} ms into its ${lease.ms} ms lease: it expired, the release did not remove it`);
  }
}

/** After an extension to `ttl`: PTTL in [ttl - elapsed, ttl] and above the value in `before`. */
async function expectPttlUp(key, before, ttl, since) {
  await settle(`PTTL ${key} went up`, async (i, p) => (await p.cmd('PTTL', key)) > before[i].pttl);
  for (let i = 0; i < PLAIN.length; i++) {
    const p = PLAIN[i];
    const t = await p.cmd('PTTL', key);
    const elapsed = now() - since;
    check(t > before[i].pttl, `${p.addr}: PTTL ${key} = ${t} after extending, not above the ${before[i].pttl} before`);
    check(t >= ttl - elapsed - 1 && t <= ttl, `${p.addr}: PTTL ${key} = ${t} after extending to ${ttl}, expected at least ${Math.round(ttl - elapsed - 1)}`);
  }
  LEASES.set(key, { since, ms: ttl });
}

/** The lease set between tBefore and tAfter expires on time: there shortly before, gone just after. */
async function expectExpires(key, ttl, tBefore, tAfter) {
  // Where the library returned at a majority, the last SETs may land after tAfter.
  tAfter = Math.max(tAfter, await settle(`${key} is set`, async (i, p) => (await p.cmd('GET', key)) !== null));
  await sleepUntil(tBefore + ttl - 80);
  for (const p of PLAIN) {
    const v = await p.cmd('GET', key);
    const got = now();
    check(v !== null || got >= tBefore + ttl, `${p.addr}: ${key} expired early: gone ${Math.round(got - tBefore)} ms after the acquire with PX ${ttl}`);
  }
  await sleepUntil(tAfter + ttl + 15);
  for (const p of PLAIN) {
    const v = await p.cmd('GET', key);
    check(v === null, `${p.addr}: ${key} = ${show(v)} still there ${Math.round(now() - tAfter)} ms after the acquire with a ${ttl} ms lease returned`);
  }
  LEASES.delete(key);
}

function clients() {
  return ADDRS.map(({ host, port }) => new Redis({ host, port, lazyConnect: false, maxRetriesPerRequest: 1 }));
}

// ------------------------------------------------------------------------------ node redlock 4.x

async function redlock4() {
  const Redlock = require('redlock4');
  const ca = clients();
  const cb = clients();
  const errors = [];
  // retryCount 0: one attempt, so that a refused acquire or extend answers at once.
  const ra = new Redlock(ca, { retryCount: 0, retryDelay: 10 });
  const rb = new Redlock(cb, { retryCount: 0, retryDelay: 10 });
  for (const r of [ra, rb]) r.on('clientError', (e) => errors.push(e));
  const key = 'redlock4';
  try {
    let a;
    let t0;
    await step(1, 'acquire', async () => {
      t0 = now();
      a = await ra.lock(key, LONG_MS);
      check(typeof a.value === 'string' && a.value.length > 0, `lock value ${a.value}`);
      await expectSet(key);
    });
    await step(2, 'second owner refused', async () => {
      await expectRejects([Redlock.LockError], rb.lock(key, LONG_MS), 'a second lock()');
    });
    await step(3, "the key holds the owner's token", async () => {
      await expectHeld(key, a.value, LONG_MS, t0);
    });
    await step(4, 'extend', async () => {
      await sleep(EXTEND_AFTER_MS);
      const before = await snapshot(key);
      const t = now();
      a = await a.extend(LONG_MS);
      await expectPttlUp(key, before, LONG_MS, t);
      await expectHeld(key, a.value, LONG_MS, t);
    });
    await step('5a', "an impostor's extend and unlock are refused", async () => {
      const before = await snapshot(key);
      const impostor = new Redlock.Lock(rb, key, 'impostor-value', Date.now() + LONG_MS, 0, 0);
      await expectRejects([Redlock.LockError], impostor.extend(LONG_MS), 'extend() with another value');
      await expectRejects([Redlock.LockError], impostor.unlock(), 'unlock() with another value');
      await expectUntouched(key, before);
    });
    await step(6, 'release', async () => {
      await a.unlock();
      await expectGone(key);
    });
    await step('1m', 'a multi-resource lock', async () => {
      const t = now();
      const m = await ra.lock([`${key}:x`, `${key}:y`], LONG_MS);
      await expectHeld(`${key}:x`, m.value, LONG_MS, t);
      await expectHeld(`${key}:y`, m.value, LONG_MS, t);
      // Overlapping on y: refused as a whole, and z is not taken either.
      await expectRejects([Redlock.LockError], rb.lock([`${key}:z`, `${key}:y`], LONG_MS), 'an overlapping lock()');
      await expectGone(`${key}:z`);
      await m.unlock();
      await expectGone(`${key}:x`);
      await expectGone(`${key}:y`);
    });
    let a2;
    let b;
    await step(7, 'an unextended lock expires on time', async () => {
      const t0 = now();
      a2 = await ra.lock(key, SHORT_MS);
      const t1 = now();
      await expectExpires(key, SHORT_MS, t0, t1);
      const t2 = now();
      b = await rb.lock(key, LONG_MS);
      await expectHeld(key, b.value, LONG_MS, t2);
    });
    await step('5b', "the stale owner's extend and unlock are refused", async () => {
      const before = await snapshot(key);
      await expectRejects([Redlock.LockError], a2.extend(LONG_MS), 'extend() by the owner of an expired lease');
      await expectRejects([Redlock.LockError], a2.unlock(), 'unlock() by the owner of an expired lease');
      await expectUntouched(key, before);
    });
    await step(6, 'release by the new owner', async () => {
      await b.unlock();
      await expectGone(key);
    });
    await step('end', 'no client errors and quit', async () => {
      check(errors.length === 0, `redlock reported server errors: ${errors.map((e) => e.message).join('; ')}`);
      await ra.quit();
      await rb.quit();
    });
  } finally {
    for (const c of [...ca, ...cb]) c.disconnect();
  }
}

// ----------------------------------------------- node redlock 5.0.0-beta.2 and @sesamecare-oss/redlock

async function redlock5Family(mod, Redlock) {
  const { ResourceLockedError, ExecutionError, Lock } = mod;
  const ca = clients();
  const cb = clients();
  const errors = [];
  const ra = new Redlock(ca, { retryCount: 0, retryDelay: 10 });
  const rb = new Redlock(cb, { retryCount: 0, retryDelay: 10 });
  // Refusals arrive as ResourceLockedError events; anything else is a server or protocol problem
  // (a non-integer script reply, an unexpected error reply).
  for (const r of [ra, rb]) r.on('error', (e) => { if (!(e instanceof ResourceLockedError)) errors.push(e); });
  const key = LIBRARY;
  try {
    let a;
    let t0;
    await step(1, 'acquire', async () => {
      t0 = now();
      a = await ra.acquire([key], LONG_MS);
      check(typeof a.value === 'string' && a.value.length > 0, `lock value ${a.value}`);
      await expectSet(key);
    });
    await step(2, 'second owner refused', async () => {
      await expectRejects([ExecutionError], rb.acquire([key], LONG_MS), 'a second acquire()');
    });
    await step(3, "the key holds the owner's token", async () => {
      await expectHeld(key, a.value, LONG_MS, t0);
    });
    await step(4, 'extend', async () => {
      await sleep(EXTEND_AFTER_MS);
      const before = await snapshot(key);
      const t = now();
      a = await a.extend(LONG_MS);
      await expectPttlUp(key, before, LONG_MS, t);
      await expectHeld(key, a.value, LONG_MS, t);
    });
    await step('5a', "an impostor's extend and release are refused", async () => {
      const before = await snapshot(key);
      const impostor = new Lock(rb, [key], 'impostor-value', [], Date.now() + LONG_MS);
      await expectRejects([ExecutionError], impostor.extend(LONG_MS), 'extend() with another value');
      const impostor2 = new Lock(rb, [key], 'impostor-value', [], Date.now() + LONG_MS);
      await expectRejects([ExecutionError], impostor2.release(), 'release() with another value');
      await expectUntouched(key, before);
    });
    await step(6, 'release', async () => {
      await a.release();
      await expectGone(key);
    });
    await step('1m', 'a multi-resource lock', async () => {
      const t = now();
      const m = await ra.acquire([`${key}:x`, `${key}:y`], LONG_MS);
      await expectHeld(`${key}:x`, m.value, LONG_MS, t);
      await expectHeld(`${key}:y`, m.value, LONG_MS, t);
      await expectRejects([ExecutionError], rb.acquire([`${key}:z`, `${key}:y`], LONG_MS), 'an overlapping acquire()');
      await expectGone(`${key}:z`);
      await m.release();
      await expectGone(`${key}:x`);
      await expectGone(`${key}:y`);
    });
    await step('4u', 'using() extends automatically past the first lease', async () => {
      const ukey = `${key}:using`;
      const lease = 500;
      await ra.using([ukey], lease, { automaticExtensionThreshold: 400 }, async (signal) => {
        await sleep(lease + 150);
        check(!signal.aborted, `using() aborted: ${signal.error && signal.error.message}`);
        for (const p of PLAIN) {
          const v = await p.cmd('GET', ukey);
          const t = await p.cmd('PTTL', ukey);
          check(v !== null && t > 0 && t <= lease, `${p.addr}: ${ukey} = ${show(v)} with PTTL ${t} ${lease + 150} ms into a ${lease} ms lease: not extended`);
        }
      });
      await expectGone(ukey);
    });
    let a2;
    let b;
    await step(7, 'an unextended lock expires on time', async () => {
      const t0 = now();
      a2 = await ra.acquire([key], SHORT_MS);
      const t1 = now();
      await expectExpires(key, SHORT_MS, t0, t1);
      const t2 = now();
      b = await rb.acquire([key], LONG_MS);
      await expectHeld(key, b.value, LONG_MS, t2);
    });
    await step('5b', "the stale owner's extend and release are refused", async () => {
      const before = await snapshot(key);
      await expectRejects([ExecutionError], a2.extend(LONG_MS), 'extend() by the owner of an expired lease');
      await expectRejects([ExecutionError], a2.release(), 'release() by the owner of an expired lease');
      await expectUntouched(key, before);
    });
    await step(6, 'release by the new owner', async () => {
      await b.release();
      await expectGone(key);
    });
    await step('end', 'no client errors and quit', async () => {
      check(errors.length === 0, `redlock reported errors other than refusals: ${errors.map((e) => e.message).join('; ')}`);
      await ra.quit();
      await rb.quit();
    });
  } finally {
    for (const c of [...ca, ...cb]) c.disconnect();
  }
}

// ------------------------------------------------------------------------------ redis-semaphore

async function semaphore(redlock) {
  const sem = require('redis-semaphore');
  const Kind = redlock ? sem.RedlockMutex : sem.Mutex;
  const ca = clients();
  const cb = clients();
  const on = (cs) => (redlock ? cs : cs[0]);
  const lost = [];
  const base = {
    acquireAttemptsLimit: 1, // tryAcquire() answers after one attempt
    retryInterval: 10,
    refreshInterval: 0, // no refresh timer unless a step asks for one
    onLockLost: (e) => lost.push(e),
  };
  const name = redlock ? 'redlockmutex' : 'mutex';
  const key = `mutex:${name}`; // redis-semaphore's key prefix
  try {
    const a = new Kind(on(ca), name, { ...base, lockTimeout: LONG_MS });
    const b = new Kind(on(cb), name, { ...base, lockTimeout: LONG_MS });
    let t0;
    await step(1, 'acquire', async () => {
      t0 = now();
      check((await a.tryAcquire()) === true, 'tryAcquire() did not return true');
      check(a.isAcquired, 'isAcquired is false');
      await expectSet(key);
    });
    await step(2, 'second owner refused', async () => {
      check((await b.tryAcquire()) === false, 'a second owner acquired a held mutex');
      await expectRejects([sem.TimeoutError], b.acquire(), 'a second acquire()');
    });
    await step(3, "the key holds the owner's token", async () => {
      await expectHeld(key, a.identifier, LONG_MS, t0);
    });
    await step(4, 'extend (refresh by the owner)', async () => {
      await sleep(EXTEND_AFTER_MS);
      const before = await snapshot(key);
      const t = now();
      const owner = new Kind(on(ca), name, { ...base, lockTimeout: LONG_MS, identifier: a.identifier, acquiredExternally: true });
      check((await owner.tryAcquire()) === true, "the owner's refresh was refused");
      await expectPttlUp(key, before, LONG_MS, t);
      await expectHeld(key, a.identifier, LONG_MS, t);
    });
    await step('5a', "an impostor's refresh and release are refused", async () => {
      const before = await snapshot(key);
      const impostor = new Kind(on(cb), name, { ...base, lockTimeout: LONG_MS, identifier: 'impostor-id', acquiredExternally: true });
      // With acquiredExternally, tryAcquire() is a refresh (compare-and-PEXPIRE) of that identifier.
      check((await impostor.tryAcquire()) === false, 'an impostor refreshed (extended) the mutex');
      const impostor2 = new Kind(on(cb), name, { ...base, lockTimeout: LONG_MS, identifier: 'impostor-id', acquiredExternally: true });
      await impostor2.release(); // compare-and-delete with the wrong identifier; reports nothing
      await expectUntouched(key, before);
    });
    await step(6, 'release', async () => {
      await a.release();
      check(!a.isAcquired, 'isAcquired after release');
      await expectGone(key);
    });
    await step('4t', 'the refresh timer keeps the mutex past its first lease', async () => {
      const lease = 500;
      const m = new Kind(on(ca), `${name}:timer`, { ...base, lockTimeout: lease, refreshInterval: 100 });
      check((await m.tryAcquire()) === true, 'tryAcquire() failed');
      await sleep(lease + 150);
      for (const p of PLAIN) {
        const v = await p.cmd('GET', `${key}:timer`);
        const t = await p.cmd('PTTL', `${key}:timer`);
        check(v !== null && v.equals(Buffer.from(m.identifier)) && t > 0 && t <= lease,
          `${p.addr}: ${key}:timer = ${show(v)} with PTTL ${t} ${lease + 150} ms into a ${lease} ms lease: not refreshed`);
      }
      await m.release();
      await expectGone(`${key}:timer`);
      check(lost.length === 0, `onLockLost fired: ${lost.map((e) => e.message)}`);
    });
    let a2;
    await step(7, 'an unextended lock expires on time', async () => {
      a2 = new Kind(on(ca), name, { ...base, lockTimeout: SHORT_MS });
      const t0 = now();
      check((await a2.tryAcquire()) === true, 'tryAcquire() with a short lease failed');
      const t1 = now();
      await expectExpires(key, SHORT_MS, t0, t1);
      const t2 = now();
      check((await b.tryAcquire()) === true, 'another owner could not take the expired mutex');
      await expectHeld(key, b.identifier, LONG_MS, t2);
    });
    await step('5b', "the stale owner's refresh and release are refused", async () => {
      const before = await snapshot(key);
      const stale = new Kind(on(ca), name, { ...base, lockTimeout: LONG_MS, identifier: a2.identifier, acquiredExternally: true });
      check((await stale.tryAcquire()) === false, 'the owner of an expired lease refreshed the mutex');
      await a2.release();
      await expectUntouched(key, before);
    });
    await step(6, 'release by the new owner', async () => {
      await b.release();
      await expectGone(key);
      check(lost.length === 0, `onLockLost fired: ${lost.map((e) => e.message)}`);
    });
  } finally {
    for (const c of [...ca, ...cb]) c.disconnect();
  }
}

// ------------------------------------------------------------------------------ redis-semaphore Semaphore

/** A waiter measured from outside: when (if) its promise settled, and how. */
function track(promise) {
  const t = { settledAt: null, ok: null, error: null };
  t.done = promise.then(
    () => { t.settledAt = now(); t.ok = true; },
    (e) => { t.settledAt = now(); t.ok = false; t.error = e; },
  );
  return t;
}

// A waiter polling every RETRY_MS must be in within WAKE_LIMIT_MS of the release returning.
const RETRY_MS = 10;
const WAKE_LIMIT_MS = 100;

/** The members of the sorted set `key` with their scores, as {member: score}. */
async function members(key) {
  const r = await PLAIN[0].cmd('ZRANGE', key, 0, -1, 'WITHSCORES');
  const out = {};
  for (let i = 0; i < r.length; i += 2) out[r[i].toString()] = Number(r[i + 1].toString());
  return out;
}

async function expectMembers(key, ids, what) {
  const got = await members(key);
  const want = [...ids].sort();
  const have = Object.keys(got).sort();
  check(JSON.stringify(have) === JSON.stringify(want), `${what}: ZRANGE ${key} = ${JSON.stringify(have)}, expected ${JSON.stringify(want)}`);
  const n = await PLAIN[0].cmd('ZCARD', key);
  check(n === want.length, `${what}: ZCARD ${key} = ${n}, expected ${want.length}`);
  return got;
}

async function expectKeyGone(key, what) {
  const n = await PLAIN[0].cmd('EXISTS', key);
  check(n === 0, `${what}: ${key} still exists (ZCARD ${await PLAIN[0].cmd('ZCARD', key)})`);
}

async function countingSemaphore() {
  const sem = require('redis-semaphore');
  const [ca] = clients();
  const [cb] = clients();
  const lost = [];
  const base = {
    acquireAttemptsLimit: 1, // tryAcquire() answers after one attempt
    retryInterval: RETRY_MS,
    refreshInterval: 0, // no refresh timer unless a step asks for one
    onLockLost: (e) => lost.push(e),
  };
  // A waiter: acquire() polls every RETRY_MS for up to 3 s.
  const waiting = { ...base, acquireAttemptsLimit: Number.POSITIVE_INFINITY, acquireTimeout: 3000 };
  const plain = PLAIN[0];
  const LIMIT = 3;
  try {
    const name = 'sem';
    const key = `semaphore:${name}`; // redis-semaphore's key prefix
    const holders = [];
    await step(1, `acquire all ${LIMIT} permits`, async () => {
      for (let i = 0; i < LIMIT; i++) {
        const h = new sem.Semaphore(ca, name, LIMIT, { ...base, lockTimeout: LONG_MS });
        const d0 = Date.now();
        const t0 = now();
        check((await h.tryAcquire()) === true, `permit ${i + 1} of ${LIMIT}: tryAcquire() did not return true`);
        const d1 = Date.now();
        check(h.isAcquired, `permit ${i + 1}: isAcquired is false`);
        holders.push(h);
        const got = await expectMembers(key, holders.map((x) => x.identifier), `after permit ${i + 1}`);
        // The score is the acquirer's clock (Date.now()) at the attempt.
        const score = got[h.identifier];
        check(score >= d0 && score <= d1, `permit ${i + 1}: ZSCORE ${score}, expected the acquire time, between ${d0} and ${d1}`);
        const ttl = await plain.cmd('PTTL', key);
        const elapsed = now() - t0;
        check(ttl >= LONG_MS - elapsed - 1 && ttl <= LONG_MS, `permit ${i + 1}: PTTL ${key} = ${ttl}, expected between ${Math.round(LONG_MS - elapsed - 1)} and ${LONG_MS}`);
      }
    });
    await step(2, 'one acquirer more than permits is refused', async () => {
      const extra = new sem.Semaphore(cb, name, LIMIT, { ...base, lockTimeout: LONG_MS });
      check((await extra.tryAcquire()) === false, `a ${LIMIT + 1}th acquirer got a permit of ${LIMIT}`);
      await expectRejects([sem.TimeoutError], extra.acquire(), `a ${LIMIT + 1}th acquire()`);
      await expectMembers(key, holders.map((x) => x.identifier), 'after the refusals');
    });
    await step(4, 'refresh by a holder (acquiredExternally); an impostor is refused', async () => {
      const before = (await members(key))[holders[0].identifier];
      await sleep(20);
      const d0 = Date.now();
      const owner = new sem.Semaphore(ca, name, LIMIT, { ...base, lockTimeout: LONG_MS, identifier: holders[0].identifier, acquiredExternally: true });
      check((await owner.tryAcquire()) === true, "a holder's refresh was refused");
      const after = (await members(key))[holders[0].identifier];
      check(after >= d0 && after > before, `the refresh did not move the holder's score: ${before} before, ${after} after (refreshed at ${d0})`);
      const impostor = new sem.Semaphore(cb, name, LIMIT, { ...base, lockTimeout: LONG_MS, identifier: 'impostor-id', acquiredExternally: true });
      check((await impostor.tryAcquire()) === false, 'an impostor refreshed a permit it does not hold');
      await expectMembers(key, holders.map((x) => x.identifier), "after the impostor's refresh");
    });
    await step(6, 'a waiter blocked in acquire() gets the permit a holder releases', async () => {
      const waiter = new sem.Semaphore(cb, name, LIMIT, { ...waiting, lockTimeout: LONG_MS });
      const w = track(waiter.acquire());
      await sleep(100);
      check(w.settledAt === null, `the waiter's acquire() settled (${w.ok ? 'acquired' : w.error}) while all ${LIMIT} permits were held`);
      await expectMembers(key, holders.map((x) => x.identifier), 'while the waiter polls');
      const freed = holders.splice(1, 1)[0];
      const t = now();
      await freed.release();
      const released = now();
      check(!freed.isAcquired, 'isAcquired after release');
      await w.done;
      check(w.ok, `the waiter's acquire() failed: ${w.error}`);
      check(w.settledAt >= t, 'the waiter got in before the release');
      check(w.settledAt - released < WAKE_LIMIT_MS, `the waiter got in ${Math.round(w.settledAt - released)} ms after the release, expected under ${WAKE_LIMIT_MS} ms (it retries every ${RETRY_MS} ms)`);
      holders.push(waiter);
      await expectMembers(key, holders.map((x) => x.identifier), 'after the waiter got in');
      const extra = new sem.Semaphore(cb, name, LIMIT, { ...base, lockTimeout: LONG_MS });
      check((await extra.tryAcquire()) === false, 'another acquirer got a permit: the semaphore should be full again');
    });
    await step(6, 'releasing every permit removes the key', async () => {
      for (const h of holders.splice(0)) {
        await h.release();
        if (holders.length) await expectMembers(key, holders.map((x) => x.identifier), 'after a release');
      }
      await expectKeyGone(key, 'after the last release');
    });

    const ename = 'sem-expiry';
    const ekey = `semaphore:${ename}`;
    await step(7, "an abandoned permit is freed after its lockTimeout, a refreshed one is not", async () => {
      // Everyone on one semaphore shares its lockTimeout: an acquire purges the members whose
      // score (the holder's Date.now() at its last acquire or refresh) is older than that. The
      // kept permit refreshes every 100 ms, well inside the lease even on a loaded machine.
      const lease = 600;
      const opts = { ...base, lockTimeout: lease };
      const abandoned = new sem.Semaphore(ca, ename, 2, opts);
      const d0 = Date.now();
      check((await abandoned.tryAcquire()) === true, 'the first permit was refused');
      const d1 = Date.now();
      const kept = new sem.Semaphore(ca, ename, 2, { ...opts, refreshInterval: 100 });
      check((await kept.tryAcquire()) === true, 'the second permit was refused');
      const late = new sem.Semaphore(cb, ename, 2, opts);
      await sleep(Math.max(0, d0 + lease - 80 - Date.now()));
      let got = await late.tryAcquire();
      if (got) {
        // Only right if this attempt came after the abandoned lease could have ended.
        check(Date.now() >= d0 + lease, `a third acquirer got in ${Date.now() - d0} ms into a ${lease} ms lease: freed early`);
      } else {
        await expectMembers(ekey, [abandoned.identifier, kept.identifier], 'shortly before the abandoned lease ends');
        await sleep(Math.max(0, d1 + lease + 15 - Date.now()));
        got = await late.tryAcquire();
        check(got === true, `a third acquirer was refused ${Date.now() - d1} ms after a ${lease} ms lease was taken: the abandoned permit was not freed`);
      }
      await expectMembers(ekey, [kept.identifier, late.identifier], 'after the abandoned permit was freed');
      check(lost.length === 0, `onLockLost fired for the refreshed permit: ${lost.map((e) => e.message)}`);
      await kept.release();
      await late.release();
      await expectKeyGone(ekey, 'after the last release');
    });
    await step(7, 'a semaphore whose every holder is gone expires as a key', async () => {
      const gone = new sem.Semaphore(ca, ename, 2, { ...base, lockTimeout: SHORT_MS });
      const t0 = now();
      check((await gone.tryAcquire()) === true, 'tryAcquire() failed');
      const t1 = now();
      const ttl = await plain.cmd('PTTL', ekey);
      check(ttl >= SHORT_MS - (now() - t0) - 1 && ttl <= SHORT_MS, `PTTL ${ekey} = ${ttl}, expected about ${SHORT_MS}`);
      await sleepUntil(t0 + SHORT_MS - 80);
      const n = await plain.cmd('EXISTS', ekey);
      check(n === 1 || now() >= t0 + SHORT_MS, `${ekey} expired early: gone ${Math.round(now() - t0)} ms into its ${SHORT_MS} ms lease`);
      await sleepUntil(t1 + SHORT_MS + 15);
      await expectKeyGone(ekey, `${Math.round(now() - t1)} ms after a ${SHORT_MS} ms lease was taken`);
    });

    await step('7s', "Semaphore's scripts all ran beside other clients' commands (tumbler's INFO locks)", async () => {
      // Its acquire and refresh scripts reach only KEYS[1]; MultiSemaphore's (next) loop over a
      // count from ARGV and run alone.
      const info = (await plain.cmd('INFO', 'locks')).toString('latin1');
      const field = (name) => Number((info.match(new RegExp(`^${name}:(\\d+)`, 'm')) || [])[1]);
      check(field('scripts_beside_others') > 0 && field('scripts_alone') === 0, `INFO locks:\n${info}`);
    });

    await step('1m', 'MultiSemaphore: two holders of 2 permits of 5; a third wanting 2 waits', async () => {
      const mname = 'multi';
      const mkey = `semaphore:${mname}`;
      const opts = { ...base, lockTimeout: LONG_MS };
      const m1 = new sem.MultiSemaphore(ca, mname, 5, 2, opts);
      const m2 = new sem.MultiSemaphore(ca, mname, 5, 2, opts);
      check((await m1.tryAcquire()) === true, 'the first 2 permits were refused');
      check((await m2.tryAcquire()) === true, 'the next 2 permits were refused');
      const ids = (...ms) => ms.flatMap((m) => [`${m.identifier}_0`, `${m.identifier}_1`]);
      await expectMembers(mkey, ids(m1, m2), 'two holders of 2 permits');
      const m3 = new sem.MultiSemaphore(cb, mname, 5, 2, { ...waiting, lockTimeout: LONG_MS });
      const probe = new sem.MultiSemaphore(cb, mname, 5, 2, opts);
      check((await probe.tryAcquire()) === false, 'a third holder got 2 permits with only 1 free');
      const w = track(m3.acquire());
      await sleep(100);
      check(w.settledAt === null, 'the third holder got 2 permits with only 1 free');
      await expectMembers(mkey, ids(m1, m2), 'while the third waits');
      await m1.release();
      const released = now();
      await w.done;
      check(w.ok, `the third holder's acquire() failed: ${w.error}`);
      check(w.settledAt - released < WAKE_LIMIT_MS, `the third holder got in ${Math.round(w.settledAt - released)} ms after the release, expected under ${WAKE_LIMIT_MS} ms`);
      await expectMembers(mkey, ids(m2, m3), 'after the release');
      await m2.release();
      await expectMembers(mkey, ids(m3), 'after the second release');
      await m3.release();
      await expectKeyGone(mkey, 'after the last release');
      check(lost.length === 0, `onLockLost fired: ${lost.map((e) => e.message)}`);
    });
  } finally {
    ca.disconnect();
    cb.disconnect();
  }
}

const SCENARIOS = {
  redlock4: [5, redlock4],
  redlock5: [5, () => { const m = require('redlock5'); return redlock5Family(m, m.default); }],
  'sesamecare-redlock': [5, () => { const m = require('@sesamecare-oss/redlock'); return redlock5Family(m, m.Redlock); }],
  'semaphore-mutex': [1, () => semaphore(false)],
  'semaphore-redlock-mutex': [5, () => semaphore(true)],
  'semaphore-counting': [1, countingSemaphore],
};

async function main() {
  const entry = SCENARIOS[LIBRARY];
  if (!entry) {
    console.error(`usage: lockclients.js {${Object.keys(SCENARIOS).join('|')}} (servers in TUMBLER_ADDRS)`);
    return 2;
  }
  if (ADDRS.length !== entry[0]) {
    console.error(`${LIBRARY}: needs ${entry[0]} addresses in TUMBLER_ADDRS, got ${JSON.stringify(ADDRS)}`);
    return 2;
  }
  const started = now();
  try {
    PLAIN = ADDRS.map((a) => new Plain(a));
    await entry[1]();
  } catch (e) {
    const msg = e instanceof ScenarioFailed ? e.message : `${currentStep}: ${e && e.stack}`;
    console.error(`FAILED ${LIBRARY}: ${msg}`);
    return 1;
  } finally {
    for (const p of PLAIN) p.close();
  }
  console.log(`${LIBRARY}: all steps passed in ${((now() - started) / 1000).toFixed(2)} s`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`FAILED ${LIBRARY}: ${currentStep}: ${e && e.stack}`);
    process.exit(1);
  },
);
