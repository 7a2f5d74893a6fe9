//! `cargo +nightly fuzz run client_response`: see `targets::client_response` for the input layout and
//! the invariants checked.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::client_response(data));
