//! `cargo +nightly fuzz run server_driver`: see `targets::driver` for the input
//! layout and the invariants checked.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::driver::server_driver(data));
