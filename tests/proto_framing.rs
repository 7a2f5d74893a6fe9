//! Framing consequences beyond the conformance data (`tests/conformance/`): the
//! bytes handed back after a tunnel opens, and keep-alive after close-delimited,
//! Transfer-Encoding + Content-Length and HTTP/1.0 responses.

mod support;

use lithe::proto::Config;
use support::{client_after, client_events};

#[test]
fn connect_2xx_becomes_a_tunnel_with_the_rest_handed_back() {
    let ev = client_events(
        Config::default(),
        "CONNECT",
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01tls bytes",
    );
    assert!(
        matches!(ev.last(), Some(support::Owned::SwitchedProtocol { rest }) if rest == b"\x16\x03\x01tls bytes")
    );
}

/// Responses that RFC 9112 §6.3 rules 1 and 2 frame whatever their fields say
/// (a HEAD's answer, a 1xx, 204 or 304, a 2xx to CONNECT) are read with a
/// malformed Content-Length or Transfer-Encoding ignored, as those rules ask;
/// their Connection field still counts. Any other response is refused.
#[test]
fn malformed_framing_fields_are_ignored_where_the_rules_frame_the_response() {
    use lithe::proto::Error;
    for (field, refusal) in [
        ("Content-Length: 1, 2", Error::ConflictingContentLength),
        ("Content-Length: abc", Error::InvalidContentLength),
        (
            "Transfer-Encoding: chunked;x",
            Error::InvalidTransferEncoding,
        ),
    ] {
        for (method, status) in [
            ("HEAD", "200 OK"),
            ("GET", "204 No Content"),
            ("GET", "304 Not Modified"),
            ("GET", "103 Early Hints"),
        ] {
            let mut input = format!("HTTP/1.1 {status}\r\n{field}\r\nConnection: close\r\n\r\n");
            if status.starts_with('1') {
                input.push_str("HTTP/1.1 204 No Content\r\n\r\n");
            }
            let ev = client_events(Config::default(), method, input.as_bytes());
            assert_eq!(
                support::error_of(&ev),
                None,
                "{method} {status} {field}: {ev:?}"
            );
            if !status.starts_with('1') {
                let mut conn = client_after(Config::default(), method);
                support::drive(
                    &mut conn,
                    input.as_bytes(),
                    support::Split::Whole,
                    false,
                    support::no_response,
                );
                assert!(!conn.is_keep_alive(), "{method} {status} {field}");
            }
        }
        let tunnel = format!("HTTP/1.1 200 OK\r\n{field}\r\n\r\ntunnel");
        let ev = client_events(Config::default(), "CONNECT", tunnel.as_bytes());
        assert!(
            matches!(ev.last(), Some(support::Owned::SwitchedProtocol { rest }) if rest == b"tunnel"),
            "{field}: {ev:?}"
        );
        // HTTP/1.0 has no transfer codings: a Transfer-Encoding field is
        // refused there, malformed or not (RFC 9112 §6.1).
        if field.starts_with("Transfer-Encoding") {
            let old = format!("HTTP/1.0 200 OK\r\n{field}\r\n\r\n");
            let ev = client_events(Config::default(), "HEAD", old.as_bytes());
            assert_eq!(
                support::error_of(&ev),
                Some(lithe::proto::Error::TransferEncodingInHttp10),
                "{ev:?}"
            );
        }
        // Elsewhere the field is the framing, and refused for what it is
        // (not merely for a body cut short, which a misreading would give).
        let framed = format!("HTTP/1.1 200 OK\r\n{field}\r\n\r\n");
        let ev = client_events(Config::default(), "GET", framed.as_bytes());
        assert_eq!(support::error_of(&ev), Some(refusal), "{field}: {ev:?}");
    }
}

/// A transfer coding's parameters are `token = token` (RFC 9112 §7.3): one
/// a hop cannot read (obs-text, no `=`) may make it drop the field and frame
/// the message otherwise, so it is refused, in a response, in a request
/// (as malformed, 400, before the coding's 501) and on send; a well-formed
/// one is not.
#[test]
fn a_transfer_parameter_that_is_not_token_equals_token_is_refused() {
    for parameter in [&b"x=\x80"[..], b"x", b"=1", b"x=1 2"] {
        let mut value = b"gzip;".to_vec();
        value.extend_from_slice(parameter);
        value.extend_from_slice(b", chunked");
        let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: ".to_vec();
        response.extend_from_slice(&value);
        response.extend_from_slice(b"\r\n\r\n0\r\n\r\n");
        let refused = Some(lithe::proto::Error::InvalidTransferEncoding);
        let ev = client_events(Config::default(), "GET", &response);
        assert_eq!(support::error_of(&ev), refused, "{parameter:?}: {ev:?}");
        let mut request = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ".to_vec();
        request.extend_from_slice(&value);
        request.extend_from_slice(b"\r\n\r\n0\r\n\r\n");
        let mut conn = lithe::proto::Connection::server(Config::default());
        let mut headers = [lithe::proto::EMPTY_HEADER; 8];
        assert_eq!(
            conn.receive(&request, &mut headers).err(),
            refused,
            "{parameter:?}"
        );
        let mut server = lithe::proto::Connection::server(Config::default());
        server
            .receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)
            .unwrap();
        let field = [lithe::proto::Header {
            name: "Transfer-Encoding",
            value: &value,
        }];
        let head = lithe::proto::ResponseHead::new(lithe::proto::StatusCode::OK, &field);
        assert_eq!(
            server.send_response(&head, &mut [0u8; 256]),
            Err(lithe::proto::SendError::InvalidFraming(
                lithe::proto::Error::InvalidTransferEncoding
            )),
            "{parameter:?}"
        );
    }
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip ; level = 1, chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(support::error_of(&ev), None, "{ev:?}");
}

/// Transfer-Encoding in an HTTP/1.0 response is faulty framing whatever the
/// status (RFC 9112 §6.1): an interim one too, which has no body to frame
/// (it was taken before the check, which only final responses reached).
#[test]
fn transfer_encoding_in_an_http_10_interim_response_is_refused() {
    for interim in ["100 Continue", "103 Early Hints"] {
        let input = format!(
            "HTTP/1.0 {interim}\r\nTransfer-Encoding: chunked\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        );
        let ev = client_events(Config::default(), "GET", input.as_bytes());
        assert_eq!(
            support::error_of(&ev),
            Some(lithe::proto::Error::TransferEncodingInHttp10),
            "{interim}: {ev:?}"
        );
    }
}

/// A response read until the close, or framed by both fields (RFC 9112
/// §6.3: chunked wins, but a hop that took the length would read it
/// otherwise), ends the connection. The second without the peer's close,
/// which would end keep-alive whatever the response said.
#[test]
fn close_delimited_and_te_cl_responses_end_the_connection() {
    for (input, body, eof) in [
        (&b"HTTP/1.1 200 OK\r\n\r\nbody"[..], &b"body"[..], true),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            b"ok",
            false,
        ),
    ] {
        let mut conn = client_after(Config::default(), "GET");
        let events = support::drive(
            &mut conn,
            input,
            support::Split::Whole,
            eof,
            support::no_response,
        );
        // Read whole and without error (an error would also end keep-alive).
        assert_eq!(support::error_of(&events), None, "{events:?}");
        assert_eq!(support::bodies(&events), vec![body.to_vec()]);
        assert!(!conn.is_keep_alive());
    }
}

/// Lengths past what a 32-bit `usize` holds (4 GiB and one byte) are counted
/// in full whatever the target, not cut to their low 32 bits (which would
/// make this one byte): a declared length and a chunk size, received, and a
/// declared length sent. (`cargo test --no-default-features --target
/// i686-unknown-linux-gnu` runs this where `usize` has 32 bits.)
#[test]
fn lengths_past_four_gib_are_counted_in_full() {
    use lithe::proto::{Connection, EMPTY_HEADER, Event, Header, RequestHead};
    const LEN: u64 = (1 << 32) + 1;
    /// The body data `conn` hands on from `pieces`, each offered once the one
    /// before has been taken.
    fn data_of(conn: &mut Connection, pieces: &[&[u8]]) -> Vec<u8> {
        let mut data = Vec::new();
        for piece in pieces {
            let mut rest = *piece;
            while !rest.is_empty() {
                let mut headers = [EMPTY_HEADER; 4];
                let received = conn.receive(rest, &mut headers).expect("a valid message");
                if let Event::Data(bytes) = received.event {
                    data.extend_from_slice(bytes);
                }
                if received.consumed == 0 {
                    // The rest waits for more bytes: the next piece.
                    break;
                }
                rest = &rest[received.consumed..];
            }
        }
        data
    }

    let head = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {LEN}\r\n\r\n");
    let mut conn = Connection::server(Config::default());
    assert_eq!(
        data_of(&mut conn, &[head.as_bytes(), b"hello", b"world"]),
        b"helloworld"
    );
    assert_eq!(conn.body_left_to_receive(), Some(LEN - 10));

    let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut conn = Connection::server(Config::default());
    // A chunk of 0x100000001 bytes: past its first byte, still data.
    let data = data_of(
        &mut conn,
        &[head.as_bytes(), b"100000001\r\nhe", b"llo\r\n"],
    );
    assert_eq!(data, b"hello\r\n");

    let length = LEN.to_string();
    let fields = [
        Header {
            name: "host",
            value: b"a",
        },
        Header {
            name: "content-length",
            value: length.as_bytes(),
        },
    ];
    let mut conn = Connection::client(Config::default());
    let mut out = [0u8; 128];
    conn.send_request(&RequestHead::new("PUT", "/", &fields), &mut out)
        .expect("a head that fits");
    conn.send_data(b"hello").expect("within the length");
    assert_eq!(conn.body_left_to_send(), Some(LEN - 5));
}

/// A client reuses a connection after an HTTP/1.0 response only when the
/// response asks for it with `keep-alive`, and never when it also says
/// `close`, in the same field or another (RFC 9112 §9.3, Appendix C.2.2): a
/// client that reused it would send its next request to a server that is
/// closing, or read what follows as an answer to it.
#[test]
fn an_http_10_response_persists_only_with_keep_alive_and_without_close() {
    for (fields, persists) in [
        ("", false),
        ("Connection: keep-alive\r\n", true),
        ("Connection: Keep-Alive\r\n", true),
        ("Connection: keep-alive, close\r\n", false),
        ("Connection: keep-alive\r\nConnection: close\r\n", false),
    ] {
        let input = format!("HTTP/1.0 200 OK\r\n{fields}Content-Length: 2\r\n\r\nok");
        let mut conn = client_after(Config::default(), "GET");
        // Without the peer's close, which would end keep-alive whatever the
        // response said.
        let events = support::drive(
            &mut conn,
            input.as_bytes(),
            support::Split::Whole,
            false,
            support::no_response,
        );
        assert_eq!(support::bodies(&events), vec![b"ok".to_vec()], "{fields:?}");
        assert_eq!(conn.is_keep_alive(), persists, "{fields:?}: {events:?}");
    }
}
