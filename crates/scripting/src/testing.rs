//! Unit-test support: run a Lua chunk in a bare state (Lua's base, table, string and math
//! libraries plus Redis' bundled libraries, without the Redis environment or its protections).

use crate::lua::*;

/// Runs `code` (chunk name `@user_script`) and returns its results: strings as they are,
/// numbers with `%.17g`, booleans and nil as `true`/`false`/`nil`, anything else as its type
/// name. A Lua error comes back as `Err(the error value as a string)`.
pub(crate) fn run(code: &str) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let vm = crate::vm::Vm::new(1 << 30);
    let L = vm.ptr();
    // SAFETY: a fresh state driven from outside; errors are caught by the protected calls.
    unsafe {
        crate::env::open_libraries(L);
        if luaL_loadbuffer(L, code.as_ptr().cast(), code.len(), c"@user_script".as_ptr()) != 0 {
            return Err(to_bytes(L, -1).unwrap_or(b"?").to_vec());
        }
        State::of(L).enforce = true;
        let rc = lua_pcall(L, 0, LUA_MULTRET, 0);
        State::of(L).enforce = false;
        if rc != 0 {
            return Err(to_bytes(L, -1).map(<[u8]>::to_vec).unwrap_or_else(|| b"(non-string error)".to_vec()));
        }
        let mut out = Vec::new();
        for i in 1..=lua_gettop(L) {
            out.push(match lua_type(L, i) {
                LUA_TSTRING => to_bytes(L, i).unwrap_or_default().to_vec(),
                LUA_TNUMBER => tumbler_proto::num::double_g17(lua_tonumber(L, i)),
                LUA_TBOOLEAN => {
                    if lua_toboolean(L, i) != 0 {
                        b"true".to_vec()
                    } else {
                        b"false".to_vec()
                    }
                }
                LUA_TNIL => b"nil".to_vec(),
                t => std::ffi::CStr::from_ptr(lua_typename(L, t)).to_bytes().to_vec(),
            });
        }
        Ok(out)
    }
}
