//! `math.random` and `math.randomseed` as Redis defines them: a 48-bit linear congruential
//! generator (the `drand48` family's constants) whose state is process-wide, starts at a fixed
//! value, survives SCRIPT FLUSH and is never reseeded behind the script's back. Scripts that seed
//! it get the same sequence on every machine.

use crate::lua::*;
use std::sync::atomic::{AtomicU64, Ordering};

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// The generator's range: results are `r % MAX / MAX`.
const MAX: u64 = 2_147_483_647;

/// The state at server start.
const INITIAL: u64 = 0x1234_ABCD_330E;

static STATE: AtomicU64 = AtomicU64::new(INITIAL);

/// Seeds as `srand48(seed)`: the seed's 32 bits above the fixed low 16 bits 0x330E.
pub(crate) fn seed(seed: i32) {
    let s = u64::from(seed as u32);
    STATE.store(((s << 16) | 0x330E) & MASK, Ordering::Relaxed);
}

/// The next 31-bit value, as `lrand48()`. Scripts run one at a time, so load-then-store is fine.
pub(crate) fn next() -> u64 {
    let x = STATE.load(Ordering::Relaxed).wrapping_mul(A).wrapping_add(C) & MASK;
    STATE.store(x, Ordering::Relaxed);
    x >> 17
}

lua_fn! {
    /// `math.random([m [, n]])`.
    pub(crate) fn random(L) {
        // The state advances before the arguments are checked, as in Redis.
        let r = (next() % MAX) as f64 / MAX as f64;
        // SAFETY: argument checks raise before anything is owned.
        unsafe {
            match lua_gettop(L) {
                0 => lua_pushnumber(L, r),
                1 => {
                    let u = luaL_checkinteger(L, 1) as i32;
                    if u < 1 {
                        luaL_argerror(L, 1, c"interval is empty".as_ptr());
                    }
                    lua_pushnumber(L, (r * f64::from(u)).floor() + 1.0);
                }
                2 => {
                    let l = luaL_checkinteger(L, 1) as i32;
                    let u = luaL_checkinteger(L, 2) as i32;
                    if l > u {
                        luaL_argerror(L, 2, c"interval is empty".as_ptr());
                    }
                    lua_pushnumber(L, (r * (f64::from(u) - f64::from(l) + 1.0)).floor() + f64::from(l));
                }
                _ => return Err(Raise::at("wrong number of arguments")),
            }
        }
        Ok(1)
    }
}

lua_fn! {
    /// `math.randomseed(n)`.
    pub(crate) fn randomseed(L) {
        // SAFETY: the check raises before anything is owned.
        let n = unsafe { luaL_checkinteger(L, 1) } as i32;
        seed(n);
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values observed on redis-server 7.0.15 (see tests/corpus/scripting.redis).
    #[test]
    fn matches_redis_sequences() {
        seed(42);
        let r = (next() % MAX) as f64 / MAX as f64;
        assert_eq!(format!("{r:.17}"), "0.74452500033403046");
        seed(7);
        let got: Vec<u64> =
            (0..5).map(|_| ((next() % MAX) as f64 / MAX as f64 * 1_000_000.0).floor() as u64 + 1).collect();
        assert_eq!(got, [266445, 682036, 265491, 129111, 494605]);
    }
}
