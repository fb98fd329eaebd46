//! Fuzz target `conf`: see [`tumbler_fuzz::conf`] for what one input means and what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tumbler_fuzz::conf(data));
