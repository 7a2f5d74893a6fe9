//! The fuzz targets on stable: every committed corpus input is replayed through
//! its target, then a few thousand pseudo-random inputs (fixed-seed xorshift,
//! built from HTTP fragments so they get past the first line; `FUZZ_INPUTS` sets
//! how many) go through each, so the invariants are exercised even with an
//! empty corpus.
//!
//! The target logic lives in `fuzz/targets/mod.rs`, shared with the cargo-fuzz
//! binaries; see `scripts/fuzz.sh` to fuzz for real.

mod fuzz_inputs;
#[path = "../fuzz/targets/mod.rs"]
mod targets;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

type Target = fn(&[u8]);

thread_local! {
    /// The last panic raised on this thread, said as the panic hook saw it:
    /// the server driver answers a panic under its service's poll as the
    /// service's (a 500, or a close), so it would not reach the replay's
    /// `catch_unwind`, and an input that made lithe panic would pass. Any
    /// panic counts, not only one in lithe's own files: lithe handing a
    /// dependency bad arguments (a `Bytes` range past its end) panics
    /// there. The targets' services never panic. Per thread: the tests
    /// replay side by side.
    static CAUGHT_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn watch_panics() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = CAUGHT_PANIC.try_with(|seen| *seen.borrow_mut() = Some(info.to_string()));
            previous(info);
        }));
    });
}

/// Inputs generated per target, unless `FUZZ_INPUTS` says otherwise (a longer
/// stable-toolchain run: `FUZZ_INPUTS=300000 cargo test --release --test fuzz_corpus`).
fn generated_count() -> usize {
    std::env::var("FUZZ_INPUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000)
}

/// Runs every input, then fails describing the first few that panicked.
fn run_all(target: Target, inputs: impl IntoIterator<Item = (String, Vec<u8>)>) -> usize {
    watch_panics();
    let mut count = 0;
    let mut failures = Vec::new();
    for (label, input) in inputs {
        count += 1;
        let result = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let caught_panic = CAUGHT_PANIC.with(|seen| seen.borrow_mut().take());
        if let (Ok(()), Some(panic)) = (&result, caught_panic) {
            failures.push(format!(
                "{label}: a panic was caught inside lithe: {panic}\n  input: b\"{}\"",
                input.escape_ascii()
            ));
        }
        if let Err(payload) = result {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
                .to_owned();
            failures.push(format!(
                "{label}: {message}\n  input: b\"{}\"",
                input.escape_ascii()
            ));
        }
    }
    // The first failure of each kind (by the message's first line).
    let mut kinds = std::collections::BTreeMap::new();
    for failure in &failures {
        kinds
            .entry(
                failure
                    .lines()
                    .next()
                    .unwrap_or("")
                    .split(": ")
                    .nth(1)
                    .unwrap_or("")
                    .to_owned(),
            )
            .or_insert(failure);
    }
    let shown: Vec<_> = kinds.values().take(6).collect();
    assert!(
        failures.is_empty(),
        "{} of {count} inputs failed; the first:\n{}",
        failures.len(),
        shown
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    count
}

fn replay_corpus(name: &str, target: Target) {
    let files = fuzz_inputs::committed(name);
    let count = run_all(
        target,
        files
            .into_iter()
            .map(|(p, bytes)| (p.display().to_string(), bytes)),
    );
    assert!(count > 0, "no corpus in fuzz/corpus/{name}");
    println!("{name}: {count} corpus inputs");
}

/// xorshift64: reproducible and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

const REQUEST_FRAGMENTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\n",
    b"POST /upload HTTP/1.1\r\n",
    b"HEAD /x HTTP/1.0\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\n",
    b"OPTIONS * HTTP/1.1\r\n",
    b"GET http://example.com/ HTTP/1.1\r\n",
    b"Host: example.com\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: 0\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"Connection: upgrade\r\nUpgrade: websocket\r\n",
    b"Expect: 100-continue\r\n",
    b"\r\n",
    b"hello",
    b"5\r\nhello\r\n",
    b"0\r\n\r\n",
    b"0\r\nExpires: never\r\n\r\n",
    b"\n",
    b"\r",
    b" ",
    b":",
];

const RESPONSE_FRAGMENTS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n",
    b"HTTP/1.0 200 OK\r\n",
    b"HTTP/1.1 204 No Content\r\n",
    b"HTTP/1.1 304 Not Modified\r\n",
    b"HTTP/1.1 404 Not Found\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: 0\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"\r\n",
    b"hello",
    b"5\r\nhello\r\n",
    b"0\r\n\r\n",
    b"0\r\nExpires: never\r\n\r\n",
    b"\n",
    b"\r",
    b" ",
];

const CHUNK_FRAGMENTS: &[&[u8]] = &[
    b"5\r\nhello\r\n",
    b"1\r\nx\r\n",
    b"A\r\n0123456789\r\n",
    b"3;ext=1\r\nabc\r\n",
    b"0\r\n\r\n",
    b"0\r\nExpires: never\r\n\r\n",
    b"ffffffffffffffffff\r\n",
    b"\r\n",
    b"\n",
    b";",
    b" ",
    b"abc",
];

/// A feed header (random flags and pieces) followed by fragments and noise.
fn stream_input(rng: &mut Rng, fragments: &[&[u8]]) -> Vec<u8> {
    let mut input = Vec::new();
    let pieces = rng.below(5);
    input.push((rng.byte() & 0xf0) | pieces as u8);
    for _ in 0..pieces {
        input.push(rng.byte() % 24);
    }
    for _ in 0..rng.below(14) {
        if rng.below(10) == 0 {
            input.push(rng.byte());
        } else {
            input.extend_from_slice(fragments[rng.below(fragments.len())]);
        }
    }
    input
}

/// Flips, inserts and truncates bytes of a seed.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut input = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(3) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] = rng.byte();
            }
            1 => {
                let i = rng.below(input.len() + 1);
                input.insert(i, rng.byte());
            }
            _ => input.truncate(rng.below(input.len() + 1)),
        }
    }
    input
}

fn generated(name: &str, target: Target, seed: u64, make: impl Fn(&mut Rng) -> Vec<u8>) {
    let seeds: Vec<Vec<u8>> = fuzz_inputs::committed(name)
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    let mut rng = Rng(seed);
    let inputs: Vec<(String, Vec<u8>)> = (0..generated_count())
        .map(|i| {
            let input = if !seeds.is_empty() && i % 3 == 0 {
                let seed = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, seed)
            } else {
                make(&mut rng)
            };
            (format!("{name} generated #{i}"), input)
        })
        .collect();
    run_all(target, inputs);
}

#[test]
fn server_stream_corpus() {
    replay_corpus("server_stream", targets::server_stream);
}

#[test]
fn client_response_corpus() {
    replay_corpus("client_response", targets::client_response);
}

#[test]
fn chunked_corpus() {
    replay_corpus("chunked", targets::chunked);
}

#[test]
fn roundtrip_corpus() {
    replay_corpus("roundtrip", targets::roundtrip);
}

#[test]
fn server_stream_generated() {
    generated(
        "server_stream",
        targets::server_stream,
        0x5eed_0001,
        |rng| stream_input(rng, REQUEST_FRAGMENTS),
    );
}

#[test]
fn client_response_generated() {
    generated(
        "client_response",
        targets::client_response,
        0x5eed_0002,
        |rng| {
            let mut input = vec![rng.byte()];
            input.extend(stream_input(rng, RESPONSE_FRAGMENTS));
            input
        },
    );
}

#[test]
fn chunked_generated() {
    generated("chunked", targets::chunked, 0x5eed_0003, |rng| {
        stream_input(rng, CHUNK_FRAGMENTS)
    });
}

#[test]
fn roundtrip_generated() {
    generated("roundtrip", targets::roundtrip, 0x5eed_0004, |rng| {
        (0..rng.below(700)).map(|_| rng.byte()).collect()
    });
}

#[cfg(feature = "std")]
#[test]
fn server_driver_corpus() {
    replay_corpus("server_driver", targets::driver::server_driver);
}

#[cfg(feature = "std")]
#[test]
fn server_driver_generated() {
    generated(
        "server_driver",
        targets::driver::server_driver,
        0x5eed_0005,
        |rng| stream_input(rng, REQUEST_FRAGMENTS),
    );
}

/// Each stream target's corpus through its driver twin, and back: their
/// inputs are laid out alike, and what fuzzing reached for one (hundreds of
/// finds, nearly none shared) exercises the other.
#[cfg(feature = "std")]
#[test]
fn server_corpora_crossed() {
    replay_corpus("server_stream", targets::driver::server_driver);
    replay_corpus("server_driver", targets::server_stream);
}

#[cfg(feature = "std")]
#[test]
fn client_corpora_crossed() {
    replay_corpus("client_response", targets::client_driver::client_driver);
    replay_corpus("client_driver", targets::client_response);
}

#[cfg(feature = "std")]
#[test]
fn client_driver_corpus() {
    replay_corpus("client_driver", targets::client_driver::client_driver);
}

#[cfg(feature = "std")]
#[test]
fn client_driver_generated() {
    generated(
        "client_driver",
        targets::client_driver::client_driver,
        0x5eed_0006,
        |rng| {
            let mut input = vec![rng.byte()];
            input.extend(stream_input(rng, RESPONSE_FRAGMENTS));
            input
        },
    );
}

/// Every fuzz target is fuzzed by the scripts' default runs and replayed
/// here from its seeds and its finds: a target added to fuzz/Cargo.toml but
/// left out of a script's list or of these tests, or a `found/` folder
/// emptied, would otherwise drop out of both unseen.
#[test]
fn every_fuzz_target_is_fuzzed_and_replayed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let mut bins = Vec::new();
    let mut in_bin = false;
    for line in read("fuzz/Cargo.toml").lines() {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let Some(name) = line.strip_prefix("name = \"").filter(|_| in_bin) {
            bins.push(name.trim_end_matches('"').to_owned());
        }
    }
    bins.sort();
    assert!(bins.len() >= 6, "{bins:?}");
    for script in ["scripts/fuzz.sh", "scripts/fuzz-keep.sh"] {
        let text = read(script);
        let defaults = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix("targets=("))
            .find(|list| !list.starts_with('"'))
            .unwrap_or_else(|| panic!("{script} names its default targets"));
        let mut listed: Vec<String> = defaults
            .trim_end_matches(')')
            .split_whitespace()
            .map(String::from)
            .collect();
        listed.sort();
        assert_eq!(listed, bins, "{script}'s default targets");
    }
    let this_file = include_str!("fuzz_corpus.rs");
    for bin in &bins {
        let replayed = format!("replay_corpus(\"{bin}\", targets::");
        assert!(this_file.contains(&replayed), "{bin} is not replayed");
        let found = root.join("fuzz/corpus").join(bin).join("found");
        let finds = std::fs::read_dir(&found).map_or(0, |entries| entries.count());
        assert!(finds > 0, "no finds committed in {}", found.display());
    }
}
