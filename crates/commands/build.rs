//! Compiles the small C file that does INCRBYFLOAT in C's `long double` (see csrc/ldouble.c).
fn main() {
    println!("cargo:rerun-if-changed=csrc/ldouble.c");
    cc::Build::new().file("csrc/ldouble.c").warnings(true).opt_level(2).compile("tumbler_ldouble");
}
