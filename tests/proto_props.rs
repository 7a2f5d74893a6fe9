//! Property tests: whatever we serialize parses back to the same head, body and
//! trailers under any split of the bytes; chunked encode → decode round-trips.

mod support;

use lithe::proto::{
    ChunkedDecoder, Config, Connection, DataFrame, Decoded, EMPTY_HEADER, Event, Header,
    RequestHead, ResponseHead, SendError, StatusCode, is_header_section_only,
};
use proptest::prelude::*;
use support::{Owned, owned_headers};

/// Header names the connection itself interprets; random fields avoid them so the
/// generated message's framing is the one chosen below.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
    "upgrade",
];

fn field_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}".prop_filter("reserved", |n| {
        !RESERVED.contains(&n.to_ascii_lowercase().as_str())
    })
}

/// Values as a parser returns them: no leading or trailing whitespace.
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![0x21u8..=0x7e, 0x80u8..=0xff, Just(b' '), Just(b'\t')],
        0..40,
    )
    .prop_map(|mut v| {
        while matches!(v.first(), Some(b' ' | b'\t')) {
            v.remove(0);
        }
        while matches!(v.last(), Some(b' ' | b'\t')) {
            v.pop();
        }
        v
    })
}

fn fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((field_name(), field_value()), 0..8)
}

fn trailer_fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = field_name().prop_filter("header section only", |n| !is_header_section_only(n));
    proptest::collection::vec((name, field_value()), 0..8)
}

#[derive(Debug, Clone)]
struct Message {
    fields: Vec<(String, Vec<u8>)>,
    /// Body pieces as the sender hands them over.
    pieces: Vec<Vec<u8>>,
    chunked: bool,
    trailers: Vec<(String, Vec<u8>)>,
}

fn message() -> impl Strategy<Value = Message> {
    (
        fields(),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..5),
        any::<bool>(),
        trailer_fields(),
    )
        .prop_map(|(fields, pieces, chunked, trailers)| Message {
            fields,
            pieces,
            trailers: if chunked { trailers } else { Vec::new() },
            chunked,
        })
}

fn body(m: &Message) -> Vec<u8> {
    m.pieces.concat()
}

/// The header fields to send: the random ones plus framing (and Host for requests).
fn wire_fields(m: &Message, length: &str, host: bool) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    if host {
        all.push(("Host".to_string(), b"example.com".to_vec()));
    }
    all.extend(m.fields.iter().cloned());
    if m.chunked {
        all.push(("Transfer-Encoding".into(), b"chunked".to_vec()));
    } else {
        all.push(("Content-Length".into(), length.as_bytes().to_vec()));
    }
    all
}

fn as_headers(fields: &[(String, Vec<u8>)]) -> Vec<Header<'_>> {
    fields
        .iter()
        .map(|(n, v)| Header { name: n, value: v })
        .collect()
}

/// Sends the body and end of `m` on `conn`, appending the bytes to `wire`.
fn send_body(conn: &mut Connection, m: &Message, wire: &mut Vec<u8>) {
    for piece in &m.pieces {
        let frame: DataFrame = conn.send_data(piece).unwrap();
        wire.extend_from_slice(frame.prefix.as_bytes());
        wire.extend_from_slice(piece);
        wire.extend_from_slice(frame.suffix);
    }
    let trailers = as_headers(&m.trailers);
    let mut out = vec![0u8; 4096];
    let n = conn.send_end(&trailers, &mut out).unwrap();
    wire.extend_from_slice(&out[..n]);
}

/// Feeds `wire` to `conn` in pieces whose sizes cycle through `cuts`, returning the
/// owned events up to the end of the first message.
fn receive_split(conn: &mut Connection, wire: &[u8], cuts: &[usize]) -> Vec<Owned> {
    let mut events = Vec::new();
    let mut buf = Vec::new();
    let mut fed = 0;
    let mut cut = cuts.iter().cycle();
    loop {
        let mut headers = [EMPTY_HEADER; 64];
        let r = conn.receive(&buf, &mut headers).unwrap();
        assert!(r.consumed <= buf.len());
        let consumed = r.consumed;
        match r.event {
            Event::Request(h) => events.push(support::owned_request(&h)),
            Event::Response(h) => events.push(support::owned_response(&h)),
            Event::Data(d) => match events.last_mut() {
                Some(Owned::Data(prev)) => prev.extend_from_slice(d),
                _ => events.push(Owned::Data(d.to_vec())),
            },
            Event::End { trailers } => {
                // The message ends exactly where the serialized bytes do: no
                // byte left over to throw the next message off.
                assert_eq!(consumed, buf.len(), "bytes left after the end");
                assert_eq!(fed, wire.len(), "the end came before the last byte");
                events.push(Owned::End {
                    trailers: owned_headers(trailers),
                });
                return events;
            }
            Event::NeedData => {
                assert!(
                    fed < wire.len(),
                    "needs data after the whole message was given"
                );
                let n = (*cut.next().unwrap()).max(1).min(wire.len() - fed);
                buf.extend_from_slice(&wire[fed..fed + n]);
                fed += n;
            }
            other => panic!("unexpected {other:?}"),
        }
        buf.drain(..consumed);
    }
}

fn expected_events(head: Owned, m: &Message) -> Vec<Owned> {
    let mut expected = vec![head];
    let body = body(m);
    if !body.is_empty() {
        expected.push(Owned::Data(body));
    }
    expected.push(Owned::End {
        trailers: m.trailers.clone(),
    });
    expected
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The serializer takes a field name exactly when it is a token (RFC 9110
    /// §5.6.2), wherever a bad byte sits in a name of any length.
    #[test]
    fn field_names_are_checked_byte_by_byte_at_any_position(
        name in prop_oneof![
            "[a-zA-Z0-9-]{1,30}",
            "[a-zA-Z0-9!#$%&'*+.^_`|~-]{0,30}",
            "[\\x00-\\x7f]{0,30}",
            ".{0,12}",
        ].prop_filter("framing names", |n| !RESERVED.contains(&n.to_ascii_lowercase().as_str())),
    ) {
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        let allowed = !name.is_empty() && name.bytes().all(tchar);
        let fields = [Header { name: &name, value: b"v" }];
        let mut server = Connection::server(Config::default());
        server.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut [EMPTY_HEADER; 4]).unwrap();
        let mut out = [0u8; 256];
        let sent = server.send_response(&ResponseHead::new(StatusCode::OK, &fields), &mut out);
        match allowed {
            true => prop_assert!(sent.is_ok(), "{:?}: {:?}", name, sent),
            false => prop_assert_eq!(sent, Err(SendError::InvalidHeaderName)),
        }
    }

    /// The serializer takes a field value exactly when every byte is HTAB, SP,
    /// visible ASCII or obs-text (RFC 9110 §5.5; DEL refused as httparse
    /// refuses it), wherever a bad byte sits in a value of any length.
    #[test]
    fn field_values_are_checked_byte_by_byte_at_any_position(
        value in proptest::collection::vec(
            prop_oneof![4 => 0x20u8..=0x7e, 1 => any::<u8>(), 1 => Just(b'\t')],
            0..40,
        ),
    ) {
        let allowed = value.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        let fields = [Header { name: "x", value: &value }];
        let mut server = Connection::server(Config::default());
        server.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut [EMPTY_HEADER; 4]).unwrap();
        let mut out = [0u8; 256];
        let sent = server.send_response(&ResponseHead::new(StatusCode::OK, &fields), &mut out);
        match allowed {
            true => prop_assert!(sent.is_ok(), "{:?}: {:?}", value, sent),
            false => prop_assert_eq!(sent, Err(SendError::InvalidHeaderValue)),
        }
    }

    #[test]
    fn requests_round_trip_under_any_split(
        method in "[A-Z]{1,10}".prop_filter("framing-special methods", |m| m != "CONNECT" && m != "HEAD"),
        target in "/[A-Za-z0-9/._~%?=&-]{0,40}",
        m in message(),
        cuts in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let length = body(&m).len().to_string();
        let fields = wire_fields(&m, &length, true);
        let headers = as_headers(&fields);
        let mut client = Connection::client(Config::default());
        let mut wire = vec![0u8; 8192];
        let n = client.send_request(&RequestHead::new(&method, &target, &headers), &mut wire).unwrap();
        wire.truncate(n);
        send_body(&mut client, &m, &mut wire);

        let mut server = Connection::server(Config::default());
        let events = receive_split(&mut server, &wire, &cuts);
        let head = Owned::Request { method: method.clone(), target: target.clone(), version: "HTTP/1.1".into(), headers: fields.clone() };
        prop_assert_eq!(events, expected_events(head, &m));
    }

    #[test]
    fn responses_round_trip_under_any_split(
        // 204, 205 and 304 carry no body (205: RFC 9110 §15.3.6).
        code in (200u16..=599).prop_filter("bodiless statuses", |c| ![204, 205, 304].contains(c)),
        reason in "[A-Za-z ]{0,20}".prop_map(|r| r.trim().to_string()),
        m in message(),
        cuts in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let mut server = Connection::server(Config::default());
        let mut headers = [EMPTY_HEADER; 4];
        let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let r = server.receive(request, &mut headers).unwrap();
        server.receive(&request[r.consumed..], &mut headers).unwrap();

        let length = body(&m).len().to_string();
        let fields = wire_fields(&m, &length, false);
        let headers = as_headers(&fields);
        let head = ResponseHead { reason: &reason, ..ResponseHead::new(StatusCode::new(code).unwrap(), &headers) };
        let mut wire = vec![0u8; 8192];
        let n = server.send_response(&head, &mut wire).unwrap();
        wire.truncate(n);
        send_body(&mut server, &m, &mut wire);

        let mut client = support::client_after(Config::default(), "GET");
        let events = receive_split(&mut client, &wire, &cuts);
        let head = Owned::Response { status: code, reason: reason.clone(), version: "HTTP/1.1".into(), headers: fields.clone() };
        prop_assert_eq!(events, expected_events(head, &m));
    }

    #[test]
    fn a_length_given_apart_serializes_as_the_field_would(
        m in message().prop_filter("sized bodies", |m| !m.chunked),
        request in any::<bool>(),
    ) {
        let length = body(&m).len();
        let mut fields = wire_fields(&m, "", request);
        fields.pop(); // the Content-Length that wire_fields added
        let mut with_field = fields.clone();
        with_field.push(("content-length".into(), length.to_string().into_bytes()));
        let (given, field) = (as_headers(&fields), as_headers(&with_field));
        let mut wires = Vec::new();
        for sized in [true, false] {
            let mut wire = vec![0u8; 8192];
            let (mut conn, n) = if request {
                let mut client = Connection::client(Config::default());
                let n = match sized {
                    true => client.send_request_sized(&RequestHead::new("POST", "/", &given), length as u64, &mut wire),
                    false => client.send_request(&RequestHead::new("POST", "/", &field), &mut wire),
                };
                (client, n.unwrap())
            } else {
                let mut server = Connection::server(Config::default());
                let mut headers = [EMPTY_HEADER; 4];
                let asked = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
                let r = server.receive(asked, &mut headers).unwrap();
                server.receive(&asked[r.consumed..], &mut headers).unwrap();
                let n = match sized {
                    true => server.send_response_sized(&ResponseHead::new(StatusCode::OK, &given), length as u64, &mut wire),
                    false => server.send_response(&ResponseHead::new(StatusCode::OK, &field), &mut wire),
                };
                (server, n.unwrap())
            };
            wire.truncate(n);
            send_body(&mut conn, &m, &mut wire);
            wires.push(wire);
        }
        prop_assert_eq!(&wires[0], &wires[1]);
    }

    #[test]
    fn chunked_encode_decode_round_trips(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..2000), 0..8),
        cuts in proptest::collection::vec(1usize..5000, 1..8),
    ) {
        let mut wire = Vec::new();
        for piece in &pieces {
            let frame = DataFrame::chunk(piece.len() as u64);
            wire.extend_from_slice(frame.prefix.as_bytes());
            wire.extend_from_slice(piece);
            wire.extend_from_slice(frame.suffix);
        }
        wire.extend_from_slice(b"0\r\n\r\n");

        let mut decoder = ChunkedDecoder::default();
        let mut decoded = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut cut = cuts.iter().cycle();
        loop {
            let mut trailers = [EMPTY_HEADER; 4];
            let (consumed, out) = decoder.decode(&buf, &mut trailers).unwrap();
            prop_assert!(consumed <= buf.len());
            let done = match out {
                Decoded::Data(d) => {
                    // Zero-copy: the data is a sub-slice of the input.
                    let range = buf.as_ptr_range();
                    prop_assert!(range.contains(&d.as_ptr()));
                    decoded.extend_from_slice(d);
                    false
                }
                Decoded::End { trailers } => {
                    prop_assert!(trailers.is_empty());
                    true
                }
                Decoded::TrailersFull => unreachable!("no trailers were encoded"),
                Decoded::NeedData => {
                    prop_assert!(fed < wire.len());
                    let n = (*cut.next().unwrap()).min(wire.len() - fed);
                    buf.drain(..consumed);
                    buf.extend_from_slice(&wire[fed..fed + n]);
                    fed += n;
                    continue;
                }
            };
            buf.drain(..consumed);
            if done {
                break;
            }
        }
        prop_assert!(decoder.is_done());
        prop_assert_eq!(decoded, pieces.concat());
        prop_assert_eq!(fed, wire.len());
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_splits_agree(
        input in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' ')], 0..400),
        prefix in prop_oneof![Just(&b""[..]), Just(&b"GET / HTTP/1.1\r\nHost: a\r\n"[..]), Just(&b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"[..])],
    ) {
        let mut all = prefix.to_vec();
        all.extend_from_slice(&input);
        support::server_events(Config::default(), &all);
    }
}
