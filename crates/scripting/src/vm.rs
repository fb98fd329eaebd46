//! An owned Lua state with accounted, capped memory.

use crate::lua::*;
use std::ffi::c_int;

/// A Lua state and its [`State`]. Not `Send`: one per worker thread.
pub(crate) struct Vm {
    L: *mut lua_State,
    state: Box<State>,
}

impl Vm {
    /// A fresh state whose scripts may hold at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Vm {
        let mut state = Box::new(State {
            used: 0,
            limit,
            enforce: false,
            run: std::ptr::null_mut(),
            pool: crate::pool::Pool::new(),
        });
        let ud: *mut State = &mut *state;
        // SAFETY: `alloc` matches `ud`, which the Box keeps alive (and in place) as long as the Vm.
        let L = unsafe { lua_newstate(alloc, ud.cast()) };
        assert!(!L.is_null(), "cannot allocate a Lua state");
        // SAFETY: L is a fresh state.
        unsafe { lua_atpanic(L, at_panic) };
        Vm { L, state }
    }

    /// The raw state.
    #[inline]
    pub(crate) fn ptr(&self) -> *mut lua_State {
        self.L
    }

    /// Bytes held by Lua.
    pub(crate) fn used_memory(&self) -> usize {
        self.state.used
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: L is ours and nothing runs in it.
        unsafe { lua_close(self.L) };
    }
}

/// An error outside any protected call: a bug in this crate, never a script's doing.
unsafe extern "C-unwind" fn at_panic(L: *mut lua_State) -> c_int {
    // SAFETY: Lua calls this with a valid state.
    let msg = unsafe { to_bytes(L, -1) }.map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    eprintln!("tumbler: unprotected error in the Lua engine: {msg}");
    std::process::abort();
}
