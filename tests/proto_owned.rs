//! Owned heads (feature `alloc`) outlive the buffer they were parsed from and
//! serialize back to the same bytes.
#![cfg(feature = "alloc")]

use lithe::proto::{
    Config, Connection, EMPTY_HEADER, Event, OwnedRequestHead, OwnedResponseHead, ResponseHead,
    StatusCode, Version,
};

#[test]
fn an_owned_request_head_outlives_its_buffer_and_serializes_identically() {
    let wire = b"PUT /doc HTTP/1.1\r\nHost: a\r\nX-Tag: v1\r\nContent-Length: 0\r\n\r\n".to_vec();
    let owned = {
        let buffer = wire.clone();
        let mut server = Connection::server(Config::default());
        let mut headers = [EMPTY_HEADER; 8];
        match server.receive(&buffer, &mut headers).unwrap().event {
            Event::Request(head) => OwnedRequestHead::from(&head),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(owned.header("x-tag"), Some(&b"v1"[..]));
    assert_eq!(owned.version, Version::Http11);
    let mut client = Connection::client(Config::default());
    let headers = owned.headers_borrowed();
    let mut out = [0u8; 256];
    let n = client
        .send_request(&owned.as_head(&headers), &mut out)
        .unwrap();
    assert_eq!(&out[..n], &wire[..]);
}

#[test]
fn owned_response_head_round_trip() {
    let fields = [lithe::proto::Header {
        name: "Content-Length",
        value: b"0",
    }];
    let owned = OwnedResponseHead::from(&ResponseHead::new(StatusCode::NOT_FOUND, &fields));
    assert_eq!(owned.reason, "Not Found");
    assert_eq!(owned.header("content-length"), Some(&b"0"[..]));
    assert_eq!(owned.header("missing"), None);
    let headers = owned.headers_borrowed();
    assert_eq!(
        owned.as_head(&headers),
        ResponseHead::new(StatusCode::NOT_FOUND, &fields)
    );
}

/// The version and the reason are copied as received, not assumed: an
/// HTTP/1.0 head stays one, a reason other than the status's usual one
/// stays; `header` gives the first of several fields of a name.
#[test]
fn owned_heads_keep_version_reason_and_field_order() {
    let mut server = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 8];
    let wire = b"GET / HTTP/1.0\r\nX-Tag: v1\r\nX-Tag: v2\r\n\r\n";
    let owned = match server.receive(wire, &mut headers).unwrap().event {
        Event::Request(head) => OwnedRequestHead::from(&head),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(owned.version, Version::Http10);
    assert_eq!(owned.header("x-tag"), Some(&b"v1"[..]));

    let mut client = Connection::client(Config::default());
    let mut out = [0u8; 128];
    let host = [lithe::proto::Header {
        name: "Host",
        value: b"a",
    }];
    client
        .send_request(&lithe::proto::RequestHead::new("GET", "/", &host), &mut out)
        .unwrap();
    let mut headers = [EMPTY_HEADER; 8];
    let wire = b"HTTP/1.0 200 Fine\r\nContent-Length: 0\r\n\r\n";
    let owned = match client.receive(wire, &mut headers).unwrap().event {
        Event::Response(head) => OwnedResponseHead::from(&head),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        (owned.version, owned.reason.as_str()),
        (Version::Http10, "Fine")
    );
    assert_eq!(owned.status, StatusCode::OK);
}

/// Each field's name and value.
fn pairs(headers: &[lithe::proto::OwnedHeader]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect()
}

/// Every field is kept as received, byte for byte and in order: a value
/// past ASCII, an empty one, each of several of one name; the copy then
/// serializes to the bytes it came from, for a request and a response (an
/// empty value goes out as `name: `, as it came here).
#[test]
fn owned_heads_keep_every_field_byte_for_byte() {
    let fields: [(&str, &[u8]); 5] = [
        ("Host", b"a"),
        ("X-Raw", b"caf\xe9"),
        ("X-Empty", b""),
        ("X-Tag", b"v1"),
        ("X-Tag", b"v2"),
    ];
    let expected: Vec<(String, Vec<u8>)> = fields
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_vec()))
        .collect();

    let request = b"GET / HTTP/1.1\r\nHost: a\r\nX-Raw: caf\xe9\r\nX-Empty: \r\nX-Tag: v1\r\nX-Tag: v2\r\n\r\n";
    let mut server = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 8];
    let owned = match server.receive(request, &mut headers).unwrap().event {
        Event::Request(head) => OwnedRequestHead::from(&head),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(pairs(&owned.headers), expected);
    let mut client = Connection::client(Config::default());
    let borrowed = owned.headers_borrowed();
    let mut out = [0u8; 256];
    let n = client
        .send_request(&owned.as_head(&borrowed), &mut out)
        .unwrap();
    assert_eq!(&out[..n], &request[..]);

    // The response to it, received by the client that sent it.
    let response = b"HTTP/1.1 200 OK\r\nHost: a\r\nX-Raw: caf\xe9\r\nX-Empty: \r\nX-Tag: v1\r\nX-Tag: v2\r\nContent-Length: 0\r\n\r\n";
    let owned = match client.receive(response, &mut headers).unwrap().event {
        Event::Response(head) => OwnedResponseHead::from(&head),
        other => panic!("unexpected {other:?}"),
    };
    let mut with_length = expected.clone();
    with_length.push(("Content-Length".into(), b"0".to_vec()));
    assert_eq!(pairs(&owned.headers), with_length);
    let mut server = Connection::server(Config::default());
    server
        .receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)
        .unwrap();
    let borrowed = owned.headers_borrowed();
    let n = server
        .send_response(&owned.as_head(&borrowed), &mut out)
        .unwrap();
    assert_eq!(&out[..n], &response[..]);
}
