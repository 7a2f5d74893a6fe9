//! `cargo +nightly fuzz run server_stream`: see `targets::server_stream` for the input layout and
//! the invariants checked.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::server_stream(data));
