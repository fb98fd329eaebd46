//! Compiles the Lua 5.1.5 interpreter in `lua/` (patched; see `lua/README.md`) into a static
//! library. `mlua-sys` is used with its `external` feature, for the declarations only.

use std::path::Path;

fn main() {
    let dir = Path::new("lua");
    println!("cargo:rerun-if-changed=lua");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("lua/ sources")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    files.sort();
    let mut build = cc::Build::new();
    build.files(&files).include(dir).warnings(false).opt_level(2);
    // POSIX variants of tmpnam/popen in the (never opened) io and os libraries; no dlopen.
    if std::env::var("CARGO_CFG_UNIX").is_ok() {
        build.define("LUA_USE_POSIX", None);
    }
    build.compile("tumblerlua");
}
