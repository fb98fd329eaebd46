//! The C libraries Redis bundles with its Lua, re-implemented: `cjson`, `struct`, `cmsgpack`
//! and `bit`.

use crate::lua::lua_State;

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub(crate) mod structlib;

/// Opens every library as a global table.
///
/// # Safety
/// `L` is a state being set up, its globals writable.
pub(crate) unsafe fn open_all(L: *mut lua_State) {
    // SAFETY: as documented.
    unsafe {
        cjson::open(L);
        structlib::open(L);
        cmsgpack::open(L);
        bit::open(L);
    }
}
