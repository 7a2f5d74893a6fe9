//! `cargo +nightly fuzz run chunked`: see `targets::chunked` for the input layout and
//! the invariants checked.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::chunked(data));
