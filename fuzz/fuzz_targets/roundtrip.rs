//! `cargo +nightly fuzz run roundtrip`: see `targets::roundtrip` for the input layout and
//! the invariants checked.
#![no_main]

#[path = "../targets/mod.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::roundtrip(data));
