//! The Redis environment of a Lua state: the libraries, the `redis` table, Redis' own `pcall`,
//! `math.random` and error handler, and the protection of every global.
//!
//! After [`install`], the globals and every table reachable from them (library tables, their
//! metatables, the string metatable) are read-only: scripts cannot leave state behind for the
//! next script or replace `redis.call`, and reading an undefined global is an error.

use crate::engine::*;
use crate::lua::*;
use std::ffi::{c_int, CStr};

/// Globals Lua's base library defines that scripts must not have.
const REMOVED: &[&CStr] = &[c"dofile", c"loadfile", c"print", c"getfenv", c"setfenv", c"newproxy"];

/// Opens the standard libraries Redis keeps (base, table, string, math) and ours (cjson,
/// cmsgpack, bit, struct), leaving the stack empty.
///
/// # Safety
/// `L` is a valid state.
pub(crate) unsafe fn open_libraries(L: *mut lua_State) {
    // SAFETY: as documented.
    unsafe {
        for (open, name) in [
            (luaopen_base as lua_CFunction, c""),
            (luaopen_table, c"table"),
            (luaopen_string, c"string"),
            (luaopen_math, c"math"),
        ] {
            lua_pushcclosure(L, open, 0);
            lua_pushstring_(L, name.as_ptr());
            lua_call(L, 1, 0);
        }
        crate::libs::open_all(L);
        lua_settop(L, 0);
    }
}

/// Builds the environment and returns the registry reference of the error handler.
///
/// # Safety
/// `L` is a fresh state; its memory cap is not enforced yet (nothing here can fail but a real
/// out-of-memory, which the panic handler reports).
pub(crate) unsafe fn install(L: *mut lua_State, config: &EngineConfig) -> c_int {
    // SAFETY: as documented.
    unsafe {
        open_libraries(L);

        for name in REMOVED {
            lua_pushnil(L);
            lua_setfield(L, LUA_GLOBALSINDEX, name.as_ptr());
        }
        lua_pushcclosure(L, redis_global_pcall, 0);
        lua_setfield(L, LUA_GLOBALSINDEX, c"pcall".as_ptr());

        new_global_table(L, "redis", || {
            set_functions(
                L,
                &[
                    ("call", redis_call),
                    ("pcall", redis_pcall),
                    ("log", redis_log),
                    ("setresp", redis_setresp),
                    ("sha1hex", redis_sha1hex),
                    ("error_reply", redis_error_reply),
                    ("status_reply", redis_status_reply),
                    ("set_repl", redis_set_repl),
                    ("replicate_commands", redis_replicate_commands),
                    ("acl_check_cmd", redis_acl_check_cmd),
                    ("breakpoint", redis_noop),
                    ("debug", redis_noop),
                ],
            );
            for (name, value) in [
                ("LOG_DEBUG", 0.0),
                ("LOG_VERBOSE", 1.0),
                ("LOG_NOTICE", 2.0),
                ("LOG_WARNING", 3.0),
                ("REDIS_VERSION_NUM", f64::from(config.redis_version_num)),
                ("REPL_NONE", 0.0),
                ("REPL_AOF", 1.0),
                ("REPL_SLAVE", 2.0),
                ("REPL_REPLICA", 2.0),
                ("REPL_ALL", 3.0),
            ] {
                set_field(L, name.as_bytes(), || lua_pushnumber(L, value));
            }
            set_field(L, b"REDIS_VERSION", || push_bytes(L, config.redis_version.as_bytes()));
        });

        lua_getfield(L, LUA_GLOBALSINDEX, c"math".as_ptr());
        set_functions(L, &[("random", crate::rand48::random), ("randomseed", crate::rand48::randomseed)]);
        lua_settop(L, 0);

        // The message handler, with the original `tostring` as its upvalue.
        lua_getfield(L, LUA_GLOBALSINDEX, c"tostring".as_ptr());
        lua_pushcclosure(L, error_handler, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_GLOBALSINDEX, c"__redis__err__handler".as_ptr());
        let handler = luaL_ref(L, LUA_REGISTRYINDEX);

        // Reading an undefined global raises.
        lua_pushvalue(L, LUA_GLOBALSINDEX);
        lua_createtable(L, 0, 1);
        lua_pushcclosure(L, nonexistent_global, 0);
        lua_setfield(L, -2, c"__index".as_ptr());
        lua_setmetatable(L, -2);

        // Everything reachable from the globals becomes read-only, and so does the string
        // metatable (reachable only through getmetatable('')).
        protect(L);
        lua_settop(L, 0);
        push_bytes(L, b"");
        if lua_getmetatable(L, -1) != 0 {
            protect(L);
        }
        lua_settop(L, 0);
        handler
    }
}

/// Marks the table at the top of the stack read-only, with every table it holds and its
/// metatable, recursively (tables already marked are skipped, which also ends cycles).
unsafe fn protect(L: *mut lua_State) {
    // SAFETY: the top of the stack is a table; the stack is grown before each level.
    unsafe {
        if lua_isreadonlytable(L, -1) != 0 || lua_checkstack(L, 3) == 0 {
            return;
        }
        lua_enablereadonlytable(L, -1, 1);
        lua_pushnil(L);
        while lua_next(L, -2) != 0 {
            if lua_type(L, -1) == LUA_TTABLE {
                protect(L);
            }
            lua_settop(L, -2);
        }
        if lua_getmetatable(L, -1) != 0 {
            protect(L);
            lua_settop(L, -2);
        }
    }
}
