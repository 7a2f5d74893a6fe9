//! Framing consequences beyond the conformance data (`tests/conformance/`): the
//! bytes handed back after a tunnel opens, and keep-alive after close-delimited or
//! Transfer-Encoding + Content-Length responses.

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

#[test]
fn close_delimited_and_te_cl_responses_end_the_connection() {
    for (input, body) in [
        (&b"HTTP/1.1 200 OK\r\n\r\nbody"[..], &b"body"[..]),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            b"ok",
        ),
    ] {
        let mut conn = client_after(Config::default(), "GET");
        let events = support::drive(
            &mut conn,
            input,
            support::Split::Whole,
            true,
            support::no_response,
        );
        // Read whole and without error (an error would also end keep-alive).
        assert_eq!(support::error_of(&events), None, "{events:?}");
        assert_eq!(support::bodies(&events), vec![body.to_vec()]);
        assert!(!conn.is_keep_alive());
    }
}
