//! A head or trailer section arriving one byte at a time costs linear work in
//! total: each call looks at the new bytes, not the whole section again (issue
//! 2; `Connection::receive`'s docs).
//!
//! Events cannot show the difference (a scanner that starts over on every
//! call finds the same ends), so these tests bound time, with a margin of
//! about two orders of magnitude: a 1 MiB section given byte by byte is a
//! million calls, a tenth of a second in a debug build; scanned from its
//! first byte on every call it is 5·10¹¹ bytes looked at, which takes
//! minutes. A run past the bound stops at once, so a regression fails rather
//! than hangs.

use std::time::{Duration, Instant};

use lithe::proto::{Config, Connection, EMPTY_HEADER, Event, Header, Limits, RequestHead};

/// The size of the large section.
const SECTION: usize = 1 << 20;
/// How long a million one-byte calls may take.
const BOUND: Duration = Duration::from_secs(20);

/// Limits that let a section of [`SECTION`] bytes through.
fn roomy() -> Config {
    Config {
        limits: Limits {
            max_head_bytes: 2 * SECTION,
            max_trailer_bytes: 2 * SECTION,
            ..Limits::DEFAULT
        },
        ..Config::default()
    }
}

/// A field whose value is `len` bytes of `a`, line end included.
fn long_field(len: usize) -> Vec<u8> {
    let mut field = b"X-Long: ".to_vec();
    field.resize(field.len() + len, b'a');
    field.extend_from_slice(b"\r\n");
    field
}

/// The length of the long field's value in `fields`.
fn long_value(fields: &[Header<'_>]) -> Option<usize> {
    fields
        .iter()
        .find(|field| field.name.eq_ignore_ascii_case("x-long"))
        .map(|field| field.value.len())
}

/// Offers `input` to `conn` one byte more on each call (the unconsumed rest,
/// as a caller's buffer holds it) until `long_value` finds the long field in
/// an event; returns its value's length and how many bytes had been offered
/// then. Panics once [`BOUND`] has passed.
fn byte_by_byte(
    conn: &mut Connection,
    input: &[u8],
    long_value: fn(&Event<'_, '_>) -> Option<usize>,
) -> Option<(usize, usize)> {
    let started = Instant::now();
    let mut consumed = 0;
    for end in 1..=input.len() {
        let mut headers = [EMPTY_HEADER; 8];
        let received = conn
            .receive(&input[consumed..end], &mut headers)
            .expect("a valid message");
        consumed += received.consumed;
        if let Some(len) = long_value(&received.event) {
            return Some((len, end));
        }
        if end % 4096 == 0 {
            let spent = started.elapsed();
            assert!(spent < BOUND, "{spent:?} for the first {end} bytes");
        }
    }
    None
}

/// `head` and a field of [`SECTION`] bytes, then the empty line.
fn with_long_field(head: &[u8]) -> Vec<u8> {
    let mut input = head.to_vec();
    input.extend_from_slice(&long_field(SECTION));
    input.extend_from_slice(b"\r\n");
    input
}

#[test]
fn a_request_head_byte_by_byte_is_linear() {
    let input = with_long_field(b"GET / HTTP/1.1\r\nHost: a\r\n");
    let mut conn = Connection::server(roomy());
    let found = byte_by_byte(&mut conn, &input, |event| match event {
        Event::Request(head) => long_value(head.headers),
        _ => None,
    });
    assert_eq!(found, Some((SECTION, input.len())));
}

#[test]
fn a_response_head_byte_by_byte_is_linear() {
    let mut conn = Connection::client(roomy());
    let host = [Header {
        name: "host",
        value: b"a",
    }];
    conn.send_request(&RequestHead::new("GET", "/", &host), &mut [0; 64])
        .expect("a request fits");
    let input = with_long_field(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    let found = byte_by_byte(&mut conn, &input, |event| match event {
        Event::Response(head) => long_value(head.headers),
        _ => None,
    });
    assert_eq!(found, Some((SECTION, input.len())));
}

#[test]
fn a_trailer_section_byte_by_byte_is_linear() {
    let input = with_long_field(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n",
    );
    let mut conn = Connection::server(roomy());
    let found = byte_by_byte(&mut conn, &input, |event| match event {
        Event::End { trailers } => long_value(trailers),
        _ => None,
    });
    assert_eq!(found, Some((SECTION, input.len())));
}
