//! The Lua C API as used by this crate, and the rules every C function written in Rust follows.
//!
//! Lua reports errors with `longjmp`. Jumping over a Rust frame is only sound when that frame
//! owns nothing that needs dropping, so every function registered with Lua is shaped the same
//! way (see [`lua_fn!`]):
//!
//! 1. check arguments with the `luaL_check*` functions first, while nothing is owned;
//! 2. do the work in safe Rust, which returns `Result<c_int, Raise>`;
//! 3. only after every owned value is gone, raise the error (if any) from the outer frame.
//!
//! Between 1 and 3 nothing may raise: tables are read and written with the raw accessors (no
//! metamethods), and the memory cap is lifted ([`State::unlimited`]) so that allocations cannot
//! fail. Output that could be large is checked against the cap explicitly ([`room_for`]).

#![allow(non_snake_case)]

pub(crate) use mlua_sys::*;
use std::ffi::{c_char, c_int, c_void};

extern "C-unwind" {
    /// Marks the table at `idx` read-only (or writable again): our patch to Lua, see `lua/README.md`.
    pub(crate) fn lua_enablereadonlytable(L: *mut lua_State, idx: c_int, enabled: c_int);
    /// Whether the table at `idx` is read-only.
    pub(crate) fn lua_isreadonlytable(L: *mut lua_State, idx: c_int) -> c_int;
}

extern "C" {
    /// Whether the table at the top of the stack has no metatable and no value under any key
    /// but the integers `1..=len` (`lua/ltumbler.c`, our addition).
    pub(crate) fn lua_tumbler_onlyarray(L: *mut lua_State, len: c_int) -> c_int;
}

/// The bytes of the string (or number, converted in place) at `idx`, or `None`.
///
/// # Safety
/// `L` is valid; the slice lives as long as the value stays on the stack.
#[inline]
pub(crate) unsafe fn to_bytes<'a>(L: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    // SAFETY: the caller guarantees `L`; Lua returns a pointer to `len` bytes or NULL.
    unsafe {
        let p = lua_tolstring(L, idx, &mut len);
        if p.is_null() {
            None
        } else {
            Some(std::slice::from_raw_parts(p.cast::<u8>(), len))
        }
    }
}

/// Pushes a byte string.
///
/// # Safety
/// `L` is valid with room on the stack.
#[inline]
pub(crate) unsafe fn push_bytes(L: *mut lua_State, b: &[u8]) {
    // SAFETY: Lua copies `b` before returning.
    unsafe { lua_pushlstring_(L, b.as_ptr().cast::<c_char>(), b.len()) }
}

/// `t[k] = v` for the table at the top of the stack, with a string key and no metamethods.
///
/// # Safety
/// `L` is valid and the top of the stack is a writable table.
#[inline]
pub(crate) unsafe fn set_field(L: *mut lua_State, k: &[u8], push_value: impl FnOnce()) {
    // SAFETY: as documented.
    unsafe {
        push_bytes(L, k);
        push_value();
        lua_rawset(L, -3);
    }
}

/// Looks up the string key `k` in the table at `idx` without metamethods, pushing the value.
///
/// # Safety
/// `L` is valid and `idx` (not a pseudo-index relative to the top) holds a table.
#[inline]
pub(crate) unsafe fn raw_field(L: *mut lua_State, idx: c_int, k: &[u8]) -> c_int {
    // SAFETY: as documented.
    unsafe {
        let t = if idx < 0 && idx > LUA_REGISTRYINDEX { lua_gettop(L) + idx + 1 } else { idx };
        push_bytes(L, k);
        lua_rawget_(L, t);
        lua_type(L, -1)
    }
}

/// The per-state data, reachable from every C function through the allocator's user pointer.
pub(crate) struct State {
    /// Bytes Lua has allocated.
    pub used: usize,
    /// Most bytes Lua may hold while a script runs.
    pub limit: usize,
    /// Whether `limit` is enforced right now (only while script code runs).
    pub enforce: bool,
    /// The script run in progress (null between runs).
    pub run: *mut c_void,
    /// Where Lua's memory comes from.
    pub pool: crate::pool::Pool,
}

impl State {
    /// The state of `L`.
    ///
    /// # Safety
    /// `L` was created by [`crate::vm::Vm`], which installs a `State` as allocator data.
    #[inline]
    pub(crate) unsafe fn of<'a>(L: *mut lua_State) -> &'a mut State {
        let mut ud: *mut c_void = std::ptr::null_mut();
        // SAFETY: as documented; the State outlives the lua_State.
        unsafe {
            lua_getallocf(L, &mut ud);
            &mut *ud.cast::<State>()
        }
    }

    /// Runs `f` with the memory cap lifted, so that Lua allocations it makes cannot raise.
    #[inline]
    pub(crate) fn unlimited<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let was = std::mem::replace(&mut self.enforce, false);
        let r = f();
        self.enforce = was;
        r
    }
}

/// Whether `bytes` more fit under the memory cap of `L` (always true when it is not enforced).
///
/// # Safety
/// As [`State::of`].
pub(crate) unsafe fn room_for(L: *mut lua_State, bytes: usize) -> bool {
    // SAFETY: as documented.
    let s = unsafe { State::of(L) };
    !s.enforce || s.used.saturating_add(bytes) <= s.limit
}

/// The Lua allocator: the C heap through [`crate::pool::Pool`], with accounting and the cap.
/// (Lua 5.1 passes every block's exact size as `osize`.)
pub(crate) unsafe extern "C" fn alloc(ud: *mut c_void, ptr: *mut c_void, osize: usize, nsize: usize) -> *mut c_void {
    // SAFETY: `ud` is the State installed with this allocator.
    let s = unsafe { &mut *ud.cast::<State>() };
    if nsize == 0 {
        if !ptr.is_null() {
            // SAFETY: `ptr` came from this allocator, for `osize` bytes.
            unsafe { s.pool.free(ptr, osize) };
            s.used -= osize;
        }
        return std::ptr::null_mut();
    }
    let old = if ptr.is_null() { 0 } else { osize };
    if nsize > old && s.enforce && s.used + (nsize - old) > s.limit {
        return std::ptr::null_mut();
    }
    // SAFETY: `ptr` is null or came from this allocator, for `osize` bytes.
    let p = unsafe {
        if ptr.is_null() {
            s.pool.alloc(nsize)
        } else {
            s.pool.realloc(ptr, osize, nsize)
        }
    };
    if !p.is_null() {
        s.used = s.used - old + nsize;
    }
    p
}

/// An error a Rust C function raises once it owns nothing.
#[derive(Debug)]
pub(crate) enum Raise {
    /// `luaL_error`: the message, prefixed with the caller's position (`user_script:1: `).
    Where(Vec<u8>),
    /// `lua_error` with this string as is.
    Plain(Vec<u8>),
    /// Redis' error table `{err = "<CODE> <message>"}`, built from a message as
    /// `luaPushError` does (see [`crate::convert::error_table_text`]).
    Table(Vec<u8>),
    /// The error value is already on top of the stack.
    OnStack,
}

impl Raise {
    /// A `luaL_error`-style error.
    pub(crate) fn at(msg: impl Into<Vec<u8>>) -> Self {
        Raise::Where(msg.into())
    }

    /// Pushes the error value and raises it. Consumes (and drops) `self` before jumping.
    ///
    /// # Safety
    /// Called from a C function of `L`, with no live Rust values owning resources in any frame
    /// between here and Lua.
    pub(crate) unsafe fn raise(self, L: *mut lua_State) -> c_int {
        // SAFETY: as documented; pushes may allocate, so the cap is lifted first.
        unsafe {
            let s = State::of(L);
            let was = std::mem::replace(&mut s.enforce, false);
            match self {
                Raise::Where(msg) => {
                    luaL_where(L, 1);
                    push_bytes(L, &msg);
                    drop(msg);
                    lua_concat(L, 2);
                }
                Raise::Plain(msg) => {
                    push_bytes(L, &msg);
                    drop(msg);
                }
                Raise::Table(msg) => {
                    crate::convert::push_error_table(L, &msg);
                    drop(msg);
                }
                Raise::OnStack => {}
            }
            s.enforce = was;
            lua_error(L)
        }
    }
}

/// Defines a Lua C function from a Rust body `fn(L) -> Result<c_int, Raise>`, following the
/// rules at the top of this module: a panic in the body becomes a Lua error instead of
/// unwinding into C.
macro_rules! lua_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($L:ident) $body:block) => {
        $(#[$m])*
        $vis unsafe extern "C-unwind" fn $name($L: *mut $crate::lua::lua_State) -> std::ffi::c_int {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                || -> Result<std::ffi::c_int, $crate::lua::Raise> { $body },
            ));
            match r {
                Ok(Ok(n)) => n,
                // SAFETY: every owned value of the body is gone.
                Ok(Err(e)) => unsafe { e.raise($L) },
                Err(_) => unsafe { $crate::lua::Raise::Plain(b"internal error in tumbler".to_vec()).raise($L) },
            }
        }
    };
}
pub(crate) use lua_fn;

/// Registers the C functions `fns` as fields of the table at the top of the stack.
///
/// # Safety
/// `L` is valid and the top of the stack is a writable table.
pub(crate) unsafe fn set_functions(L: *mut lua_State, fns: &[(&str, lua_CFunction)]) {
    for (name, f) in fns {
        // SAFETY: as documented.
        unsafe { set_field(L, name.as_bytes(), || lua_pushcclosure(L, *f, 0)) };
    }
}

/// Creates (or replaces) the global table `name` filled by `fill`, which runs with the new
/// table at the top of the stack.
///
/// # Safety
/// `L` is valid and its globals writable.
pub(crate) unsafe fn new_global_table(L: *mut lua_State, name: &str, fill: impl FnOnce()) {
    // SAFETY: as documented.
    unsafe {
        lua_newtable(L);
        fill();
        push_bytes(L, name.as_bytes());
        lua_insert(L, -2);
        lua_rawset(L, LUA_GLOBALSINDEX);
    }
}
