//! `cargo +nightly fuzz run client_driver`: see `targets::client_driver` for the input layout and
//! the invariants checked.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::client_driver::client_driver(data));
