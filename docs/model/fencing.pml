/*
 * fencing.pml: tumbler's fenced quorum lock protocol (docs/locks.md, section 2) as a Promela
 * model for spin. Five nodes, NC clients, one lock name. README.md beside this file says how
 * to run it, what each abstraction leaves out, and why that is sound.
 *
 * Checked at the moment a client enters its critical section:
 *   1. mutual exclusion: nobody else is in theirs (incs == 0);
 *   2. token order: the client's fencing token T is greater than the token of the holder
 *      before it (T > last_T). Leases never overlap (1.), so "before" is well defined, and
 *      by induction T is greater than the token of every earlier holder.
 *
 * Variants (spin -D...):
 *   (none)            the protocol as tumbler implements it: spin finds no violation.
 *   NO_ROUND2         clients skip LOCK.FENCE and use the largest round-one token as T:
 *                     token order is violated.
 *   NO_FLOOR_PERSIST  LOCK.FENCE raises the floor in memory only, a crash loses it:
 *                     token order is violated.
 *   NO_RESTART_FENCE  a restarted node grants at once: mutual exclusion is violated.
 *   LAZY_EXPIRY       nodes drop a key at any moment after its lease ended, not at once:
 *                     a larger search with the same results (README.md).
 *
 * Bounds: NC clients (default 2), MAXACQ acquisition attempts per client (default 2),
 * MAXCRASH node crashes in the whole run (default 2).
 */

#define N      5    /* nodes */
#define MAJ    3    /* a majority of N */

#ifndef NC
#define NC     2    /* clients */
#endif
#ifndef MAXACQ
#define MAXACQ 2    /* acquisition attempts per client */
#endif
#ifndef MAXCRASH
#define MAXCRASH 2  /* node crashes in the whole run */
#endif

/* Owners (one per attempt: Redlock clients draw a random value per attempt) are numbered
 * 1 .. NC*MAXACQ, 0 meaning none; a set of owners is a bitmask, so at most 7 owners. */
#define BIT(o) (1 << (o))

byte holder[N];   /* owner whose key node n holds; 0: the key is absent */
byte ctr[N];      /* last token node n issued, or the floor LOCK.FENCE raised it to */
byte res[N];      /* what survives a crash: n resumes at res[n] (tumbler's state file) */
byte fenced[N];   /* restart fence: live owners whose key n lost in a crash */
byte live;        /* owners whose lease is not over: they may still be using the lock */
byte incs;        /* clients in their critical section */
byte last_T;      /* token of the latest client to enter its critical section */
byte crashes;     /* crashes so far */
hidden byte st;   /* scratch for canon(); hidden: not part of the state */

/* Symmetry reduction. Nodes are interchangeable: every step treats them alike, and no client
 * remembers a node by its index from one step to the next. So after each step that changes
 * them, the nodes are put in a canonical order (sorted by their whole state), and states that
 * differ only by a permutation of the nodes are stored once. */
#define KEY(i) ((((holder[i] * 64) + ctr[i]) * 64 + res[i]) * 256 + fenced[i])
#define SWAP(a, i, j) st = a[i]; a[i] = a[j]; a[j] = st
inline cswap(i, j) {
  if
  :: KEY(i) > KEY(j) ->
     SWAP(holder, i, j); SWAP(ctr, i, j); SWAP(res, i, j); SWAP(fenced, i, j)
  :: else
  fi
}
inline canon() {   /* a sorting network for five */
  cswap(0, 1); cswap(3, 4); cswap(2, 4); cswap(2, 3); cswap(1, 4);
  cswap(0, 3); cswap(0, 2); cswap(1, 3); cswap(1, 2);
  st = 0
}

/* LOCK.ACQUIRE on node i, if the request reaches it (bit i of the client's m): granted only
 * when the key is absent and the node is not fenced; the token is one more than the last one
 * issued, which already includes the floor. tumbler persists the reservation before the token
 * is handed out, so res follows. A refused request changes nothing. */
inline acquire(i) {
  if
  :: (m & BIT(i)) && holder[i] == 0 && fenced[i] == 0 ->
     ctr[i] = ctr[i] + 1;
     assert(ctr[i] < 64);   /* the width of ctr in KEY() */
     if :: res[i] < ctr[i] -> res[i] = ctr[i] :: else fi;
     holder[i] = o;
     ng++;
     if :: ctr[i] > maxt -> maxt = ctr[i] :: else fi
  :: else
  fi
}

/* LOCK.FENCE on node i, if the request reaches it: confirmed only while node i holds the key
 * for this owner; every later token of node i is then greater than T. tumbler persists the
 * floor before it replies; NO_FLOOR_PERSIST keeps it in memory only. Otherwise replies 0. */
inline fence(i) {
  if
  :: (m & BIT(i)) && holder[i] == o ->
     if :: ctr[i] < T -> ctr[i] = T :: else fi;
#ifndef NO_FLOOR_PERSIST
     if :: res[i] < T -> res[i] = T :: else fi;
#endif
     nc++
  :: else
  fi
}

/* Which nodes a round's requests reach in time: any subset (the others are down, slow, or
 * their replies are lost). One nondeterministic choice, then a deterministic step. */
inline reach() {
  if
  :: m = 0  :: m = 1  :: m = 2  :: m = 3  :: m = 4  :: m = 5  :: m = 6  :: m = 7
  :: m = 8  :: m = 9  :: m = 10 :: m = 11 :: m = 12 :: m = 13 :: m = 14 :: m = 15
  :: m = 16 :: m = 17 :: m = 18 :: m = 19 :: m = 20 :: m = 21 :: m = 22 :: m = 23
  :: m = 24 :: m = 25 :: m = 26 :: m = 27 :: m = 28 :: m = 29 :: m = 30 :: m = 31
  fi
}

/* A node drops a key whose owner's lease is over: expiry, or a release (DEL). With
 * LAZY_EXPIRY this happens at any later moment; by default at the moment the lease ends,
 * which loses nothing (README.md: a lingering key only refuses requests, and the client
 * could as well not have reached that node). */
inline expire(i) {
  d_step { holder[i] != 0 && (live & BIT(holder[i])) == 0 -> holder[i] = 0; canon() }
}

/* A crash and the restart after it: the key is lost, the counter resumes from what was
 * persisted, and (restart fence) the node grants nothing while the owner whose key it forgot
 * may still be using the lock. */
inline crash(i) {
  d_step {
    crashes < MAXCRASH ->
    crashes++;
#ifndef NO_RESTART_FENCE
    if :: holder[i] != 0 -> fenced[i] = (fenced[i] | BIT(holder[i])) & live :: else fi;
#endif
    printf("crash: a node holding owner %d restarts, its counter goes from %d to %d\n", holder[i], ctr[i], res[i]);
    holder[i] = 0;
    ctr[i] = res[i];
    canon()
  }
}

active [NC] proctype client() {
  byte c = _pid;   /* clients are declared first, so _pid is 0 .. NC-1 */
  byte k;          /* attempts made */
  byte o;          /* this attempt's owner */
  byte m;          /* nodes the current round reaches */
  byte ng;         /* round one: grants */
  byte maxt;       /* round one: largest token granted */
  byte T;          /* the fencing token */
  byte nc;         /* round two: confirmations */
  bool ok;         /* the client enters its critical section */

  do
  :: k < MAXACQ ->
     /* Round one: LOCK.ACQUIRE on the nodes reached. The lease starts with the first request. */
     atomic {
       o = c * MAXACQ + k + 1; k++; live = live | BIT(o);
       reach();
       d_step {
         acquire(0); acquire(1); acquire(2); acquire(3); acquire(4); m = 0; canon();
         printf("owner %d: LOCK.ACQUIRE granted by %d nodes, largest token %d\n", o, ng, maxt)
       }
     };
#ifdef NO_ROUND2
     if
     :: ng >= MAJ -> T = maxt; ok = true
     :: true       /* the lease ran out, or the client gave up */
     fi;
#else
     /* Round two: LOCK.FENCE with T = 1 + the largest round-one token. */
     if
     :: ng >= MAJ ->
        atomic {
          T = maxt + 1;
          reach();
          d_step {
            fence(0); fence(1); fence(2); fence(3); fence(4); m = 0; canon();
            printf("owner %d: LOCK.FENCE %d confirmed by %d nodes\n", o, T, nc)
          }
        };
        if
        :: nc >= MAJ -> ok = true
        :: true
        fi
     :: true
     fi;
#endif
     if
     :: ok ->
        atomic {
          printf("owner %d enters its critical section with token %d (the last holder's: %d)\n", o, T, last_T);
          assert(incs == 0);     /* mutual exclusion */
          assert(T > last_T);    /* tokens increase from holder to holder */
          last_T = T;
          incs++
        }
     :: else
     fi;
     /* Lease over: the client leaves its critical section and stops using the lock; the
      * nodes drop its keys (or, with LAZY_EXPIRY, may drop them from now on). Locals are
      * cleared so that finished attempts do not multiply states. */
     d_step {
       printf("owner %d: lease over\n", o);
       if :: ok -> incs-- :: else fi;
       live = live & ~BIT(o);
       fenced[0] = fenced[0] & ~BIT(o); fenced[1] = fenced[1] & ~BIT(o);
       fenced[2] = fenced[2] & ~BIT(o); fenced[3] = fenced[3] & ~BIT(o);
       fenced[4] = fenced[4] & ~BIT(o);
#ifndef LAZY_EXPIRY
       if :: holder[0] == o -> holder[0] = 0 :: else fi;
       if :: holder[1] == o -> holder[1] = 0 :: else fi;
       if :: holder[2] == o -> holder[2] = 0 :: else fi;
       if :: holder[3] == o -> holder[3] = 0 :: else fi;
       if :: holder[4] == o -> holder[4] = 0 :: else fi;
#endif
       canon();
       o = 0; ng = 0; maxt = 0; T = 0; nc = 0; ok = false
     }
  :: else -> break
  od
}

/* The nodes' own events: crashes, and (LAZY_EXPIRY) expiry of keys whose lease is over. */
active proctype nodes() {
end:
  do
#ifdef LAZY_EXPIRY
  :: expire(0) :: expire(1) :: expire(2) :: expire(3) :: expire(4)
#endif
  :: crash(0) :: crash(1) :: crash(2) :: crash(3) :: crash(4)
  od
}
