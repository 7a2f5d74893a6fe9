//! Benchmarks of the sans-IO core against its peers, side by side in one run.
//!
//! * `parse_head`: receiving one complete head with a fresh [`Connection`] (the
//!   full path: the head parsed and its end found at once, the line-end and
//!   size checks the scanner would make, framing and Host checks, state
//!   transition) against `httparse` alone on the same bytes, for a minimal
//!   request, a browser-like GET of about 750 bytes and a typical response head.
//!   Both sides parse into a 64-entry header array and use the same httparse
//!   build. A head as plain as these is read by lithe's own word-sized
//!   shortcut, not by httparse (which reads any other head).
//! * `chunked_decode`: a 1 MiB body in 4 KiB chunks decoded by
//!   [`ChunkedDecoder`] into a preallocated `Vec`, against a plain copy of as
//!   many bytes in one call (`one_copy`: issue 2's baseline), and against
//!   copying the same data pieces, from the same encoded buffer, into the same
//!   `Vec`, at positions known in advance (`piece_copies`: the floor any
//!   decoder that hands the data on piece by piece has to pay).
//!
//! * `trickle_head`: a head of 1 KiB and two of 16 KiB (lines of 170 bytes,
//!   or one line of nearly all of it) fed to a connection one byte at a time,
//!   as a slow (or hostile) peer delivers it. The work is linear when all
//!   show the same throughput in bytes per second; a parser that re-parsed
//!   from the start on every byte would be about 18 times slower per byte on
//!   the larger ones (16 KiB against 879 bytes), and one that re-scanned the
//!   current line, on the single long line.
//!
//! Throughput is in bytes of input (head) or payload (chunked), so a ratio of
//! the reported throughputs is a ratio of speeds. Each `parse_head` case and
//! `chunked_decode` also print that ratio taken from interleaved pairs of timed
//! batches, which a host whose speed drifts (a shared VM) disturbs least; they
//! are printed whenever their group runs, unless the filter names another
//! case (`-- parse_head/lithe/small_request` prints that case's alone).
//!
//! Run with `cargo bench --bench proto`; add a filter such as
//! `cargo bench --bench proto -- parse_head/lithe` to run a subset. Settings are
//! kept short (1 s warm-up, 3 s measurement, 30 samples) so the whole run takes
//! about a minute.

#[path = "support/interleaved.rs"]
mod interleaved;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use interleaved::{filter_allows, report_interleaved};
use lithe::proto::{
    ChunkPrefix, ChunkedDecoder, Config, Connection, Decoded, EMPTY_HEADER, Event, Header,
    RequestHead,
};

/// The smallest valid HTTP/1.1 request.
const SMALL_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

/// What a desktop Chrome sends for a page load, cookies and client hints included.
const BROWSER_REQUEST: &[u8] = b"GET /articles/2024/sans-io-http?ref=home HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Dest: document\r\n\
Referer: https://www.example.com/\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n\
Cookie: session=8f2a4c1e9b7d; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n\
\r\n";

/// A typical response head from a web server.
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Date: Mon, 04 Mar 2024 12:00:00 GMT\r\n\
Server: nginx/1.24.0\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 12345\r\n\
Cache-Control: public, max-age=3600\r\n\
Connection: keep-alive\r\n\
\r\n";

const PAYLOAD_BYTES: usize = 1024 * 1024;
const CHUNK_BYTES: usize = 4 * 1024;

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

/// A client connection that has sent a GET and waits for its response.
fn client_awaiting_response() -> Connection {
    let mut conn = Connection::client(Config::default());
    let fields = [Header {
        name: "Host",
        value: b"example.com",
    }];
    let mut scratch = [0u8; 128];
    conn.send_request(&RequestHead::new("GET", "/", &fields), &mut scratch)
        .expect("the request serializes");
    conn
}

/// One head received by a fresh copy of `conn`; checked once, outside timing.
fn receive_once(conn: &mut Connection, input: &[u8]) -> usize {
    let mut headers = [EMPTY_HEADER; 64];
    let received = conn.receive(input, &mut headers).expect("the head parses");
    assert!(
        matches!(received.event, Event::Request(_) | Event::Response(_)),
        "{received:?}"
    );
    received.consumed
}

fn parse_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_head");
    let cases = [
        (
            "small_request",
            SMALL_REQUEST,
            Connection::server(Config::default()),
        ),
        (
            "browser_request",
            BROWSER_REQUEST,
            Connection::server(Config::default()),
        ),
        ("response", RESPONSE, client_awaiting_response()),
    ];
    for (name, input, prepared) in cases {
        let is_request = input.starts_with(b"GET");
        assert_eq!(receive_once(&mut prepared.clone(), input), input.len());
        assert_eq!(httparse_once(input, is_request), input.len());
        group.throughput(Throughput::Bytes(input.len() as u64));

        let mut headers = [EMPTY_HEADER; 64];
        group.bench_function(format!("lithe/{name}"), |b| {
            // A fresh connection per head, copied from a prepared one inside the
            // timed loop: that copy is part of lithe's cost (httparse's own
            // `Request::new` is in the peer's). Batching prepared copies outside
            // the loop instead measures cache misses on a large batch.
            b.iter(|| {
                let mut conn = prepared.clone();
                let received = conn.receive(black_box(input), &mut headers);
                black_box(&received);
            })
        });

        let mut headers = [EMPTY_HEADER; 64];
        group.bench_function(format!("httparse/{name}"), |b| {
            b.iter(|| httparse_parse(input, is_request, &mut headers))
        });

        // Skipped when a filter names another case (`parse_head/lithe/small_request`).
        let selected = filter_allows(|filter| {
            "parse_head".starts_with(filter)
                || (filter.starts_with("parse_head") && filter.ends_with(name))
        });
        if !selected {
            continue;
        }
        let mut lithe_headers = [EMPTY_HEADER; 64];
        let mut peer_headers = [EMPTY_HEADER; 64];
        report_interleaved(
            &format!("parse_head/{name}: lithe's speed / httparse's"),
            2000,
            || {
                let mut conn = prepared.clone();
                let received = conn.receive(black_box(input), &mut lithe_headers);
                black_box(&received);
            },
            || httparse_parse(input, is_request, &mut peer_headers),
        );
    }
    group.finish();
}

/// The peer's side of `parse_head`: httparse alone.
fn httparse_parse<'b>(input: &'b [u8], is_request: bool, headers: &mut [Header<'b>]) {
    if is_request {
        let mut request = httparse::Request::new(headers);
        let status = request.parse(black_box(input));
        black_box((&status, &request));
    } else {
        let mut response = httparse::Response::new(headers);
        let status = response.parse(black_box(input));
        black_box((&status, &response));
    }
}

/// Parses `input` with httparse alone; checked once, outside timing.
fn httparse_once(input: &[u8], is_request: bool) -> usize {
    let mut headers = [EMPTY_HEADER; 64];
    let status = if is_request {
        httparse::Request::new(&mut headers).parse(input)
    } else {
        httparse::Response::new(&mut headers).parse(input)
    };
    match status {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("httparse rejected the input: {other:?}"),
    }
}

/// The payload, and the same bytes as a chunked body of 4 KiB chunks.
fn chunked_body() -> (Vec<u8>, Vec<u8>) {
    let payload: Vec<u8> = (0..PAYLOAD_BYTES).map(|i| (i * 31 % 251) as u8).collect();
    let mut encoded = Vec::with_capacity(PAYLOAD_BYTES + PAYLOAD_BYTES / CHUNK_BYTES * 16);
    for chunk in payload.chunks(CHUNK_BYTES) {
        encoded.extend_from_slice(ChunkPrefix::new(chunk.len() as u64).as_bytes());
        encoded.extend_from_slice(chunk);
        encoded.extend_from_slice(b"\r\n");
    }
    encoded.extend_from_slice(b"0\r\n\r\n");
    (payload, encoded)
}

/// Decodes a whole chunked body into `sink`.
fn decode_into(encoded: &[u8], sink: &mut Vec<u8>) {
    let mut decoder = ChunkedDecoder::default();
    let mut trailers = [EMPTY_HEADER; 8];
    let mut rest = encoded;
    loop {
        match decoder
            .decode(rest, &mut trailers)
            .expect("the body decodes")
        {
            (n, Decoded::Data(data)) => {
                sink.extend_from_slice(data);
                rest = &rest[n..];
            }
            (_, Decoded::End { .. }) => return,
            (_, Decoded::NeedData | Decoded::TrailersFull) => {
                unreachable!("the whole body is given, without trailers")
            }
        }
    }
}

fn chunked_decode(c: &mut Criterion) {
    let (payload, encoded) = chunked_body();
    let mut sink = Vec::with_capacity(PAYLOAD_BYTES);
    decode_into(&encoded, &mut sink);
    assert_eq!(sink, payload);

    let mut group = c.benchmark_group("chunked_decode");
    group.throughput(Throughput::Bytes(PAYLOAD_BYTES as u64));
    group.bench_function("lithe", |b| {
        b.iter(|| {
            sink.clear();
            decode_into(black_box(&encoded), &mut sink);
            black_box(&sink);
        })
    });
    // The floor: the same data pieces, read from the same places in the same
    // buffer, copied into the same sink, with their positions known in advance
    // instead of parsed. (Copying from the separate `payload` buffer instead
    // swings tenfold with how the two allocations alias in the cache.)
    let pieces: Vec<std::ops::Range<usize>> = {
        let mut at = 0;
        payload
            .chunks(CHUNK_BYTES)
            .map(|chunk| {
                at += ChunkPrefix::new(chunk.len() as u64).as_bytes().len();
                let range = at..at + chunk.len();
                at = range.end + 2;
                range
            })
            .collect()
    };
    group.bench_function("piece_copies", |b| {
        b.iter(|| {
            sink.clear();
            let encoded = black_box(&encoded);
            for range in &pieces {
                sink.extend_from_slice(&encoded[range.clone()]);
            }
            black_box(&sink);
        })
    });
    // The baseline: a plain copy of as many bytes, in one call.
    group.bench_function("one_copy", |b| {
        b.iter(|| {
            sink.clear();
            sink.extend_from_slice(&black_box(&encoded)[..PAYLOAD_BYTES]);
            black_box(&sink);
        })
    });
    sink.clear();
    for range in &pieces {
        sink.extend_from_slice(&encoded[range.clone()]);
    }
    assert_eq!(sink, payload, "the baseline copies the same bytes");
    group.finish();
    let group_selected = filter_allows(|filter| {
        "chunked_decode".starts_with(filter) || filter.starts_with("chunked_decode")
    });
    if !group_selected {
        return;
    }

    // Both sides write into the one sink here too: which two allocations
    // they copied into would move the ratio as much as the work does.
    let sink = std::cell::RefCell::new(sink);
    let decode = || {
        let mut sink = sink.borrow_mut();
        sink.clear();
        decode_into(black_box(&encoded), &mut sink);
        black_box(&*sink);
    };
    report_interleaved(
        "chunked_decode: lithe's speed / the piece copies'",
        4,
        decode,
        || {
            let mut sink = sink.borrow_mut();
            sink.clear();
            let encoded = black_box(&encoded);
            for range in &pieces {
                sink.extend_from_slice(&encoded[range.clone()]);
            }
            black_box(&*sink);
        },
    );
    // The plain copy issue 2 compares with: as many bytes, from the start of
    // the same buffer, in one call (the pieces above cost 256 calls; this
    // shows what they add to the floor).
    report_interleaved(
        "chunked_decode: lithe's speed / one plain copy's (issue 2's target: 0.8)",
        4,
        decode,
        || {
            let mut sink = sink.borrow_mut();
            sink.clear();
            sink.extend_from_slice(&black_box(&encoded)[..PAYLOAD_BYTES]);
            black_box(&*sink);
        },
    );
}

/// A request head of about `size` bytes: filler fields up to the size.
fn head_of(size: usize) -> Vec<u8> {
    let mut head = b"GET /trickle HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    let mut i = 0;
    while head.len() + 170 < size {
        head.extend_from_slice(format!("X-Filler-{i:04}: {}\r\n", "f".repeat(150)).as_bytes());
        i += 1;
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// A request head of about `size` bytes in one long field line.
fn one_line_head_of(size: usize) -> Vec<u8> {
    let start = b"GET /trickle HTTP/1.1\r\nHost: example.com\r\nX-Long: ";
    let mut head = start.to_vec();
    head.resize(size - 4, b'f');
    head.extend_from_slice(b"\r\n\r\n");
    head
}

/// Offers `head` one more byte per call until the connection has the whole head.
fn trickle(head: &[u8]) -> usize {
    let mut conn = Connection::server(Config::default());
    // One array for every call: filling 4 KiB of it per byte offered would
    // cost more than the byte, and hide what the byte costs.
    let mut fields = [EMPTY_HEADER; 128];
    for end in 1..=head.len() {
        match conn.receive(&head[..end], &mut fields) {
            Ok(received) if matches!(received.event, Event::Request(_)) => return end,
            Ok(_) => {}
            Err(e) => panic!("the head is valid: {e}"),
        }
    }
    unreachable!("the head completes")
}

fn trickle_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("trickle_head");
    let heads = [
        ("lines", head_of(1024)),
        ("lines", head_of(16 * 1024 - 64)),
        ("one_line", one_line_head_of(16 * 1024 - 64)),
    ];
    for (shape, head) in heads {
        assert_eq!(trickle(&head), head.len());
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function(format!("byte_by_byte/{shape}/{}", head.len()), |b| {
            b.iter(|| black_box(trickle(black_box(&head))))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse_head, chunked_decode, trickle_head
}
criterion_main!(benches);
