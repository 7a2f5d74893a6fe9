//! Serialization: heads into the caller's buffer, validation of everything that
//! goes on the wire, and the body framing chosen from the head.

mod support;

use lithe::proto::{
    BodyLength, Config, Connection, DataFrame, EMPTY_HEADER, Error, Event, Header, RequestHead,
    ResponseHead, SendError, State, StatusCode, Version,
};

const HOST: Header<'static> = Header {
    name: "Host",
    value: b"example.com",
};

/// A server that has read `request` and owes the response.
fn server_after(request: &[u8]) -> Connection {
    let mut conn = Connection::server(Config::default());
    let mut input = request;
    loop {
        let mut headers = [EMPTY_HEADER; 16];
        let r = conn.receive(input, &mut headers).unwrap();
        input = &input[r.consumed..];
        if matches!(r.event, Event::End { .. }) {
            return conn;
        }
    }
}

/// A server that has read the head of `request` (its body still to come, as
/// when the client awaits `100 Continue`) and owes the response.
fn server_after_head(request: &[u8]) -> Connection {
    let mut conn = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 16];
    let r = conn.receive(request, &mut headers).unwrap();
    assert!(matches!(r.event, Event::Request(_)));
    conn
}

fn response_wire(conn: &mut Connection, head: &ResponseHead<'_, '_>) -> Result<String, SendError> {
    let mut out = [0u8; 512];
    let n = conn.send_response(head, &mut out)?;
    Ok(String::from_utf8(out[..n].to_vec()).unwrap())
}

#[test]
fn request_head_bytes() {
    let mut conn = Connection::client(Config::default());
    let fields = [
        HOST,
        Header {
            name: "Content-Length",
            value: b"3",
        },
    ];
    let mut out = [0u8; 128];
    let n = conn
        .send_request(&RequestHead::new("PUT", "/a?b=c", &fields), &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"PUT /a?b=c HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n"
    );
}

#[test]
fn buffer_too_small_writes_nothing_and_changes_nothing() {
    let mut conn = Connection::client(Config::default());
    let head = RequestHead::new("GET", "/", &[HOST]);
    let needed = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".len();
    let mut out = vec![0xAA; needed - 1];
    assert_eq!(
        conn.send_request(&head, &mut out),
        Err(SendError::BufferTooSmall { needed })
    );
    assert!(
        out.iter().all(|&b| b == 0xAA),
        "bytes were written into a too-small buffer"
    );
    assert_eq!(conn.our_state(), State::Idle);
    let mut out = vec![0u8; needed];
    assert_eq!(conn.send_request(&head, &mut out), Ok(needed));
}

#[test]
fn nothing_can_inject_a_line_break() {
    let mut out = [0u8; 256];
    let cases: &[(&str, &str, Header<'_>, SendError)] = &[
        (
            "GET",
            "/",
            Header {
                name: "X",
                value: b"a\r\nInjected: 1",
            },
            SendError::InvalidHeaderValue,
        ),
        (
            "GET",
            "/",
            Header {
                name: "X",
                value: b"a\nb",
            },
            SendError::InvalidHeaderValue,
        ),
        (
            "GET",
            "/",
            Header {
                name: "X",
                value: b"a\rb",
            },
            SendError::InvalidHeaderValue,
        ),
        (
            "GET",
            "/",
            Header {
                name: "X",
                value: b"a\0b",
            },
            SendError::InvalidHeaderValue,
        ),
        (
            "GET",
            "/",
            Header {
                name: "X\r\nY",
                value: b"v",
            },
            SendError::InvalidHeaderName,
        ),
        (
            "GET",
            "/",
            Header {
                name: "X Y",
                value: b"v",
            },
            SendError::InvalidHeaderName,
        ),
        (
            "GET",
            "/",
            Header {
                name: "",
                value: b"v",
            },
            SendError::InvalidHeaderName,
        ),
        ("GET\r\n", "/", HOST, SendError::InvalidMethod),
        (
            "GET",
            "/ HTTP/1.1\r\nX: y",
            HOST,
            SendError::InvalidRequestTarget,
        ),
        ("GET", "", HOST, SendError::InvalidRequestTarget),
        // Past ASCII: to be percent-encoded, in the path, the query, or
        // an absolute-form's path (a no-break space too, which is no
        // whitespace to httparse).
        ("GET", "/caf\u{e9}", HOST, SendError::InvalidRequestTarget),
        ("GET", "/a?q=\u{e9}", HOST, SendError::InvalidRequestTarget),
        ("GET", "/a\u{a0}b", HOST, SendError::InvalidRequestTarget),
        (
            "GET",
            "http://example.com/\u{e9}",
            HOST,
            SendError::InvalidRequestTarget,
        ),
        ("GET", "/a\x7f", HOST, SendError::InvalidRequestTarget),
    ];
    for (method, target, field, expected) in cases {
        let mut conn = Connection::client(Config::default());
        let fields = [HOST, *field];
        let fields = if field.name == "Host" {
            &fields[..1]
        } else {
            &fields[..]
        };
        assert_eq!(
            conn.send_request(&RequestHead::new(method, target, fields), &mut out),
            Err(*expected),
            "{field:?} {method:?} {target:?}"
        );
        assert_eq!(conn.our_state(), State::Idle);
    }
    let mut server = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    // A line break, and bytes past ASCII (obs-text), which httparse reads as
    // an empty reason.
    for reason in ["OK\r\nSet-Cookie: x", "Sehr gut, d\u{fc}rfte passen"] {
        let head = ResponseHead {
            reason,
            ..ResponseHead::new(StatusCode::OK, &[])
        };
        assert_eq!(
            response_wire(&mut server, &head),
            Err(SendError::InvalidReasonPhrase),
            "{reason:?}"
        );
    }
    let bad_trailer = [Header {
        name: "T",
        value: b"\r\n",
    }];
    let mut client = Connection::client(Config::default());
    client
        .send_request(
            &RequestHead::new(
                "POST",
                "/",
                &[
                    HOST,
                    Header {
                        name: "Transfer-Encoding",
                        value: b"chunked",
                    },
                ],
            ),
            &mut out,
        )
        .unwrap();
    assert_eq!(
        client.send_end(&bad_trailer, &mut out),
        Err(SendError::InvalidHeaderValue)
    );
}

#[test]
fn outgoing_framing_is_validated_like_incoming() {
    let mut out = [0u8; 256];
    let mut conn = Connection::client(Config::default());
    assert_eq!(
        conn.send_request(&RequestHead::new("GET", "/", &[]), &mut out),
        Err(SendError::MissingHost)
    );
    let both = [
        HOST,
        Header {
            name: "Content-Length",
            value: b"1",
        },
        Header {
            name: "Transfer-Encoding",
            value: b"chunked",
        },
    ];
    assert_eq!(
        conn.send_request(&RequestHead::new("POST", "/", &both), &mut out),
        Err(SendError::InvalidFraming(
            Error::ContentLengthWithTransferEncoding
        ))
    );
    let bad_length = [
        HOST,
        Header {
            name: "Content-Length",
            value: b"-1",
        },
    ];
    assert_eq!(
        conn.send_request(&RequestHead::new("POST", "/", &bad_length), &mut out),
        Err(SendError::InvalidFraming(Error::InvalidContentLength))
    );
    // HTTP/1.0 requests need no Host.
    let head = RequestHead {
        version: Version::Http10,
        ..RequestHead::new("GET", "/", &[])
    };
    assert!(conn.send_request(&head, &mut out).is_ok());
}

/// What a recipient tolerates, a sender may not send: a Content-Length as a
/// list or a repetition of one value (RFC 9110 §8.6), a Host that is not
/// `host[:port]` (RFC 9110 §7.2), a target in a form its method does not take
/// (RFC 9112 §3.2). Each would be refused by lithe's own server.
#[test]
fn a_head_goes_out_only_in_the_form_a_strict_recipient_accepts() {
    let mut out = [0u8; 256];
    let length = |value: &'static [u8]| Header {
        name: "Content-Length",
        value,
    };
    for fields in [
        vec![HOST, length(b"5, 5")],
        vec![HOST, length(b"5"), length(b"5")],
        vec![HOST, length(b"")],
    ] {
        let mut client = Connection::client(Config::default());
        assert_eq!(
            client.send_request(&RequestHead::new("POST", "/", &fields), &mut out),
            Err(SendError::InvalidFraming(Error::InvalidContentLength)),
            "{fields:?}"
        );
        let mut server = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let response = &fields[1..];
        assert_eq!(
            response_wire(&mut server, &ResponseHead::new(StatusCode::OK, response)),
            Err(SendError::InvalidFraming(Error::InvalidContentLength)),
            "{response:?}"
        );
    }
    // Whitespace around the digits would be stripped on receipt: refused, as
    // around any value, not sent as another value than given.
    let mut client = Connection::client(Config::default());
    let spaced = [HOST, length(b" 5 ")];
    assert_eq!(
        client.send_request(&RequestHead::new("POST", "/", &spaced), &mut out),
        Err(SendError::InvalidHeaderValue)
    );

    // IP literals, a port left empty, a trailing dot and percent-encoding
    // are a host's.
    for host in [&b"a"[..], b"[::1]:80", b"a:", b"a.", b"a%2D"] {
        let fields = [Header {
            name: "Host",
            value: host,
        }];
        let mut client = Connection::client(Config::default());
        let sent = client.send_request(&RequestHead::new("GET", "/", &fields), &mut out);
        assert!(sent.is_ok(), "{}: {sent:?}", String::from_utf8_lossy(host));
    }
    for host in [
        &b"a@b"[..],
        b"a/x",
        b"a, b",
        b"a:8x",
        b"[::1",
        b"a%zz",
        b"a%2",
    ] {
        let fields = [Header {
            name: "Host",
            value: host,
        }];
        let mut client = Connection::client(Config::default());
        assert_eq!(
            client.send_request(&RequestHead::new("GET", "/", &fields), &mut out),
            Err(SendError::InvalidFraming(Error::InvalidHost)),
            "{}",
            String::from_utf8_lossy(host)
        );
    }

    for (method, target, fits) in [
        ("GET", "example.com:443", false),
        ("CONNECT", "/", false),
        ("CONNECT", "http://a/", false),
        ("GET", "*", false),
        ("CONNECT", "example.com:443", true),
        ("OPTIONS", "*", true),
        ("GET", "http://example.com/", true),
    ] {
        let mut client = Connection::client(Config::default());
        // The Host of a target with an authority is that authority.
        let host = Header {
            name: "Host",
            value: match method {
                "CONNECT" => b"example.com:443",
                _ => HOST.value,
            },
        };
        let sent = client.send_request(&RequestHead::new(method, target, &[host]), &mut out);
        match fits {
            true => assert!(sent.is_ok(), "{method} {target}: {sent:?}"),
            false => assert_eq!(
                sent,
                Err(SendError::InvalidRequestTarget),
                "{method} {target}"
            ),
        }
    }
}

/// RFC 9110 §15.2.2: a 101 names the protocol in an Upgrade field.
#[test]
fn a_101_without_an_upgrade_field_is_refused() {
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\n";
    let mut conn = server_after(request);
    let connection = Header {
        name: "Connection",
        value: b"upgrade",
    };
    let upgrade = |value: &'static [u8]| {
        [
            connection,
            Header {
                name: "Upgrade",
                value,
            },
        ]
    };
    // None, or an empty one, which names nothing either.
    for fields in [&[connection][..], &upgrade(b"")] {
        assert_eq!(
            response_wire(
                &mut conn,
                &ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, fields)
            ),
            Err(SendError::MissingUpgrade),
            "{fields:?}"
        );
    }
    // Nothing changed: the corrected head switches.
    let upgrade = upgrade(b"ws");
    let wire = response_wire(
        &mut conn,
        &ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, &upgrade),
    )
    .unwrap();
    assert!(
        wire.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{wire}"
    );
    assert!(wire.contains("Upgrade: ws\r\n"), "{wire}");
}

/// RFC 9110 §15.5.22: a 426 names the protocol it requires in an Upgrade
/// field, as a 101 names the one it switches to. Without one (or with one
/// that names nothing) it is refused, nothing changed.
#[test]
fn a_426_names_the_protocol_it_requires() {
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let upgrade_required = StatusCode::new(426).unwrap();
    let no_protocol = [Header {
        name: "Upgrade",
        value: b",",
    }];
    for fields in [&[][..], &no_protocol] {
        assert_eq!(
            response_wire(&mut conn, &ResponseHead::new(upgrade_required, fields)),
            Err(SendError::MissingUpgrade),
            "{fields:?}"
        );
        assert_eq!(conn.our_state(), State::SendResponse);
    }
    let tls = [Header {
        name: "Upgrade",
        value: b"TLS/1.3",
    }];
    let wire = response_wire(&mut conn, &ResponseHead::new(upgrade_required, &tls)).unwrap();
    assert!(
        wire.starts_with("HTTP/1.1 426 Upgrade Required\r\nUpgrade: TLS/1.3\r\n"),
        "{wire}"
    );
}

/// RFC 9110 §7.8: a sender of Upgrade also sends the `upgrade` connection
/// option. Without it a server sees no proposal, and a browser fails the
/// 101 that answers its WebSocket handshake; so it is added, once.
#[test]
fn an_upgrade_field_goes_out_with_its_connection_option() {
    let upgrade = Header {
        name: "Upgrade",
        value: b"websocket",
    };
    let connection = |value: &'static [u8]| Header {
        name: "Connection",
        value,
    };
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    let switch = |fields: &[Header<'_>]| {
        response_wire(
            &mut server_after(request),
            &ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, fields),
        )
        .unwrap()
    };
    assert_eq!(
        switch(&[upgrade]),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    );
    assert_eq!(
        switch(&[connection(b"Upgrade"), upgrade]),
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    );
    // Any response that sends Upgrade: a 426 names what the client must
    // switch to.
    let tls = Header {
        name: "Upgrade",
        value: b"TLS/1.3",
    };
    let wire = response_wire(
        &mut server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        &ResponseHead::new(StatusCode::new(426).unwrap(), &[tls]),
    )
    .unwrap();
    assert!(wire.contains("\r\nUpgrade: TLS/1.3\r\n"), "{wire}");
    assert_eq!(
        wire.matches("\r\nconnection: upgrade\r\n").count(),
        1,
        "{wire}"
    );
    // A value that names no protocol is none: a 101 with it is refused,
    // a request with it proposes nothing, and nothing is added to either.
    let no_protocol = Header {
        name: "Upgrade",
        value: b",",
    };
    assert_eq!(
        response_wire(
            &mut server_after(request),
            &ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, &[no_protocol]),
        ),
        Err(SendError::MissingUpgrade)
    );

    // A request: the option makes it a proposal, to us as to the server.
    let mut out = [0u8; 256];
    let mut client = Connection::client(Config::default());
    let fields = [HOST, upgrade];
    let n = client
        .send_request(&RequestHead::new("GET", "/", &fields), &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    );
    let server = server_after(&out[..n]);
    assert_eq!(server.their_state(), State::MightSwitchProtocol);
    client.send_end(&[], &mut out).unwrap();
    let mut headers = [EMPTY_HEADER; 4];
    let answer =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    let received = client.receive(answer, &mut headers).unwrap();
    assert!(matches!(received.event, Event::Response(_)), "{received:?}");
    assert_eq!(client.our_state(), State::SwitchedProtocol);

    let mut client = Connection::client(Config::default());
    let fields = [HOST, no_protocol];
    let n = client
        .send_request(&RequestHead::new("GET", "/", &fields), &mut out)
        .unwrap();
    let wire = String::from_utf8_lossy(&out[..n]);
    assert!(!wire.contains("connection"), "{wire}");
    let server = server_after(&out[..n]);
    assert_eq!(server.their_state(), State::Done);
    // Received the same way: with its connection option, still no proposal.
    let server =
        server_after(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ,\r\n\r\n");
    assert_eq!(server.their_state(), State::Done);

    // Named already, among other options: nothing added.
    let fields = [HOST, connection(b"keep-alive, Upgrade"), upgrade];
    let mut client = Connection::client(Config::default());
    let n = client
        .send_request(&RequestHead::new("GET", "/", &fields), &mut out)
        .unwrap();
    let wire = String::from_utf8_lossy(&out[..n]);
    assert!(!wire.contains("connection: upgrade"), "{wire}");
    // HTTP/1.0 has no upgrade (RFC 9110 §7.8: a server ignores it there).
    let fields = [upgrade];
    let head = RequestHead {
        version: Version::Http10,
        ..RequestHead::new("GET", "/", &fields)
    };
    let mut client = Connection::client(Config::default());
    let n = client.send_request(&head, &mut out).unwrap();
    assert_eq!(&out[..n], b"GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n");
}

/// RFC 9110 §10.1.4: a sender of TE also sends the `te` connection option,
/// so that no intermediary passes the field on; added where the request's
/// `Connection` fields do not name it, beside `upgrade` if need be.
#[test]
fn a_te_field_goes_out_with_its_connection_option() {
    let te = Header {
        name: "TE",
        value: b"trailers",
    };
    let sent_as = |method: &str, fields: &[Header<'_>]| {
        let mut out = [0u8; 256];
        let mut client = Connection::client(Config::default());
        let n = client
            .send_request(&RequestHead::new(method, "/", fields), &mut out)
            .unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    };
    let sent = |fields: &[Header<'_>]| sent_as("GET", fields);
    assert_eq!(
        sent(&[HOST, te]),
        "GET / HTTP/1.1\r\nHost: example.com\r\nTE: trailers\r\nconnection: te\r\n\r\n"
    );
    for named in [&b"TE"[..], b"keep-alive, te", b"close,Te"] {
        let connection = Header {
            name: "Connection",
            value: named,
        };
        let wire = sent(&[HOST, connection, te]);
        assert!(!wire.contains("connection: te"), "{wire}");
    }
    // TE alone: `Tk` (a tracking status), as long and with the same first
    // letter, goes without the option.
    let tk = Header {
        name: "Tk",
        value: b"N",
    };
    assert_eq!(
        sent(&[HOST, tk]),
        "GET / HTTP/1.1\r\nHost: example.com\r\nTk: N\r\n\r\n"
    );
    let upgrade = Header {
        name: "Upgrade",
        value: b"websocket",
    };
    assert_eq!(
        sent(&[HOST, te, upgrade]),
        "GET / HTTP/1.1\r\nHost: example.com\r\nTE: trailers\r\nUpgrade: websocket\r\n\
         connection: upgrade\r\nconnection: te\r\n\r\n"
    );
    // Written last, so that a length given apart comes out as the same
    // field given in the head does (found by tests/proto_props.rs).
    let mut apart = [0u8; 256];
    let n = Connection::client(Config::default())
        .send_request_sized(&RequestHead::new("POST", "/", &[HOST, te]), 0, &mut apart)
        .unwrap();
    let length = Header {
        name: "content-length",
        value: b"0",
    };
    assert_eq!(
        String::from_utf8_lossy(&apart[..n]),
        sent_as("POST", &[HOST, te, length])
    );
    // Nothing for a field whose name merely starts so.
    let tea = Header {
        name: "Tea",
        value: b"earl grey",
    };
    assert!(!sent(&[HOST, tea]).contains("connection"));
}

#[test]
fn content_length_is_enforced_both_ways() {
    let mut out = [0u8; 256];
    let mut conn = Connection::client(Config::default());
    let fields = [
        HOST,
        Header {
            name: "Content-Length",
            value: b"5",
        },
    ];
    conn.send_request(&RequestHead::new("POST", "/", &fields), &mut out)
        .unwrap();
    assert_eq!(conn.send_data(b"abc"), Ok(DataFrame::BARE));
    assert_eq!(conn.send_data(b"abc"), Err(SendError::BodyTooLong));
    assert_eq!(conn.send_end(&[], &mut out), Err(SendError::BodyTooShort));
    assert_eq!(conn.send_data(b"de"), Ok(DataFrame::BARE));
    assert_eq!(conn.send_end(&[], &mut out), Ok(0));
    assert_eq!(conn.our_state(), State::Done);
}

#[test]
fn response_without_length_is_chunked_for_http11_and_close_delimited_for_http10() {
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &[])).unwrap();
    assert_eq!(
        wire,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    assert_eq!(conn.send_data(b"hello"), Ok(DataFrame::chunk(5)));
    let mut out = [0u8; 64];
    let n = conn
        .send_end(
            &[Header {
                name: "Done",
                value: b"yes",
            }],
            &mut out,
        )
        .unwrap();
    assert_eq!(&out[..n], b"0\r\nDone: yes\r\n\r\n");
    assert!(conn.is_keep_alive());

    let mut conn = server_after(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &[])).unwrap();
    assert_eq!(wire, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
    assert_eq!(conn.send_data(b"hello"), Ok(DataFrame::BARE));
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(conn.our_state(), State::MustClose);
}

#[test]
fn http10_keep_alive_is_confirmed_explicitly() {
    let mut conn = server_after(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let fields = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
    assert_eq!(
        wire,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nconnection: keep-alive\r\n\r\n"
    );
    let mut out = [0u8; 8];
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(conn.our_state(), State::Idle);

    // With an Upgrade field advertising a protocol (not a switch), both
    // added lines go out: keep-alive, and the upgrade option a sender of
    // Upgrade must name.
    let mut conn = server_after(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let fields = [
        Header {
            name: "Upgrade",
            value: b"h2c",
        },
        Header {
            name: "Content-Length",
            value: b"0",
        },
    ];
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
    assert_eq!(
        wire,
        "HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\
         connection: keep-alive\r\nconnection: upgrade\r\n\r\n"
    );
}

#[test]
fn responses_with_both_content_length_and_transfer_encoding_are_refused() {
    let chunked = Header {
        name: "Transfer-Encoding",
        value: b"chunked",
    };
    let both = [
        chunked,
        Header {
            name: "Content-Length",
            value: b"5",
        },
    ];
    let refused = SendError::InvalidFraming(Error::ContentLengthWithTransferEncoding);
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &both)),
        Err(refused)
    );
    // A length passed beside the head counts as a Content-Length field.
    let mut out = [0u8; 128];
    let only_chunked = [chunked];
    let head = ResponseHead::new(StatusCode::OK, &only_chunked);
    assert_eq!(conn.send_response_sized(&head, 5, &mut out), Err(refused));
    // Nothing was sent, so the response can still be framed one way.
    let wire = response_wire(&mut conn, &head).unwrap();
    assert!(wire.starts_with("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"));
    assert!(
        !wire.to_ascii_lowercase().contains("content-length"),
        "{wire}"
    );
}

#[test]
fn no_chunked_toward_http10() {
    let mut conn = server_after(b"GET / HTTP/1.0\r\n\r\n");
    let fields = [Header {
        name: "Transfer-Encoding",
        value: b"chunked",
    }];
    assert_eq!(
        response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)),
        Err(SendError::InvalidFraming(Error::TransferEncodingInHttp10))
    );
}

#[test]
fn head_response_keeps_content_length_and_sends_no_body() {
    let mut conn = server_after(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    let fields = [Header {
        name: "Content-Length",
        value: b"1234",
    }];
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
    assert_eq!(wire, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
    assert_eq!(conn.send_data(b"x"), Err(SendError::BodyNotAllowed));
    assert_eq!(conn.send_data(b""), Ok(DataFrame::BARE));
    let mut out = [0u8; 8];
    assert_eq!(conn.send_end(&[], &mut out), Ok(0));
    assert_eq!(conn.our_state(), State::Idle);
}

/// A bodiless answer (to HEAD, or a 304) that says `Content-Length: 0`
/// takes no data because it has no body, not because its length is spent:
/// `BodyNotAllowed`, as for any other length it states.
#[test]
fn a_bodiless_answer_stating_a_length_of_zero_takes_no_body() {
    let zero = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    for (request, status) in [
        (&b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"[..], StatusCode::OK),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            StatusCode::NOT_MODIFIED,
        ),
    ] {
        let mut conn = server_after(request);
        response_wire(&mut conn, &ResponseHead::new(status, &zero)).unwrap();
        assert_eq!(
            conn.send_data(b"x"),
            Err(SendError::BodyNotAllowed),
            "{status:?}"
        );
        assert_eq!(conn.send_end(&[], &mut [0u8; 8]), Ok(0));
        assert_eq!(conn.our_state(), State::Idle);
    }
}

/// A HEAD answer ends with its head whatever framing field it carries: a
/// `Transfer-Encoding: chunked` (what the GET answer would have, RFC 9110
/// §9.3.2; a proxy passing on its upstream's) is kept, and no last chunk
/// follows, which the client would read as the next response's start.
#[test]
fn a_head_answer_under_a_chunked_field_ends_with_its_head() {
    for status in [StatusCode::OK, StatusCode::NOT_FOUND] {
        let mut conn = server_after(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
        let fields = [Header {
            name: "Transfer-Encoding",
            value: b"chunked",
        }];
        let wire = response_wire(&mut conn, &ResponseHead::new(status, &fields)).unwrap();
        assert_eq!(
            wire,
            format!(
                "HTTP/1.1 {} {}\r\nTransfer-Encoding: chunked\r\n\r\n",
                status.as_u16(),
                status.canonical_reason().unwrap()
            )
        );
        assert_eq!(conn.send_data(b"x"), Err(SendError::BodyNotAllowed));
        let mut out = [0u8; 8];
        assert_eq!(conn.send_end(&[], &mut out), Ok(0));
        assert_eq!(conn.our_state(), State::Idle);
        assert!(conn.is_keep_alive());
    }
}

/// Every registered status goes out with its reason phrase: a service
/// answering 429 or 407 got `HTTP/1.1 429 ` with none when the table held
/// only the common codes.
#[test]
fn registered_statuses_go_out_with_their_reason() {
    for (code, reason) in [
        (103, "Early Hints"),
        (203, "Non-Authoritative Information"),
        (407, "Proxy Authentication Required"),
        (409, "Conflict"),
        (422, "Unprocessable Content"),
        (429, "Too Many Requests"),
        (451, "Unavailable For Legal Reasons"),
        (511, "Network Authentication Required"),
    ] {
        assert_eq!(
            StatusCode::new(code).unwrap().canonical_reason(),
            Some(reason)
        );
    }
    // However a reason is found, the line written is the one RFC 9112 §4
    // gives, for every code with one (the registered line is a shortcut).
    let mut with_reason = 0;
    for code in 200..=599 {
        let status = StatusCode::new(code).unwrap();
        let Some(reason) = status.canonical_reason() else {
            continue;
        };
        let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        // A 426 names the protocol it requires.
        let upgrade = [Header {
            name: "Upgrade",
            value: b"TLS/1.3",
        }];
        let fields: &[Header<'_>] = if code == 426 { &upgrade } else { &[] };
        let head = ResponseHead::new(status, fields);
        let mut out = [0u8; 256];
        let n = conn
            .send_response(&head, &mut out)
            .unwrap_or_else(|e| panic!("{code}: {e:?}"));
        let line = format!("HTTP/1.1 {code} {reason}\r\n");
        assert!(out[..n].starts_with(line.as_bytes()), "{code}");
        with_reason += 1;
    }
    assert!(with_reason > 50, "{with_reason}");
    assert_eq!(StatusCode::new(418).unwrap().canonical_reason(), None);
}

#[test]
fn no_body_for_204_and_304() {
    for status in [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
        let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let wire = response_wire(&mut conn, &ResponseHead::new(status, &[])).unwrap();
        // No framing field at all (RFC 9110 §8.6: none on a 204).
        let reason = status.canonical_reason().unwrap();
        assert_eq!(
            wire,
            format!("HTTP/1.1 {} {reason}\r\n\r\n", status.as_u16())
        );
        assert_eq!(conn.send_data(b"x"), Err(SendError::BodyNotAllowed));
    }
}

/// A Transfer-Encoding we send has no empty list element (RFC 9110
/// §5.6.1.1): a recipient tolerates one, but some (hyper) take the empty
/// last element for a coding other than `chunked` and read to the close,
/// so the chunks would reach them as the body. Nothing is written then.
#[test]
fn a_transfer_encoding_with_an_empty_element_is_not_sent() {
    let refused = Err(SendError::InvalidFraming(Error::InvalidTransferEncoding));
    for value in [
        &b"chunked,"[..],
        b"chunked , ,chunked",
        b", chunked",
        b"gzip,,chunked",
    ] {
        let field = [Header {
            name: "Transfer-Encoding",
            value,
        }];
        let mut server = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut out = [0u8; 256];
        assert_eq!(
            server.send_response(&ResponseHead::new(StatusCode::OK, &field), &mut out),
            refused,
            "{value:?}"
        );
        assert_eq!(server.our_state(), State::SendResponse);
        let fields = [
            Header {
                name: "Host",
                value: b"a",
            },
            field[0],
        ];
        let mut client = Connection::client(Config::default());
        assert_eq!(
            client.send_request(&RequestHead::new("POST", "/", &fields), &mut out),
            refused,
            "{value:?}"
        );
        assert_eq!(client.our_state(), State::Idle);
    }
    // The list written as a recipient reads it first time goes.
    let field = [Header {
        name: "Transfer-Encoding",
        value: b"gzip, chunked",
    }];
    let mut server = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = [0u8; 256];
    assert!(
        server
            .send_response(&ResponseHead::new(StatusCode::OK, &field), &mut out)
            .is_ok()
    );
}

/// A declared `Content-Length: 0` is a length like any other: a byte past
/// it is `BodyTooLong`, as past a declared 2, not `BodyNotAllowed`, which
/// names messages that have no body whatever their fields say.
#[test]
fn bytes_past_a_declared_length_of_zero_are_too_many() {
    let host = [Header {
        name: "Host",
        value: b"a",
    }];
    let zero = [
        host[0],
        Header {
            name: "Content-Length",
            value: b"0",
        },
    ];
    let mut out = [0u8; 128];
    let mut sized = Connection::client(Config::default());
    sized
        .send_request_sized(&RequestHead::new("POST", "/", &host), 0, &mut out)
        .unwrap();
    let mut by_field = Connection::client(Config::default());
    by_field
        .send_request(&RequestHead::new("POST", "/", &zero), &mut out)
        .unwrap();
    let mut server = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    server
        .send_response_sized(&ResponseHead::new(StatusCode::OK, &[]), 0, &mut out)
        .unwrap();
    // A client's message ends (the response is to come); the server's ends
    // the exchange.
    for (mut conn, after) in [
        (sized, State::Done),
        (by_field, State::Done),
        (server, State::Idle),
    ] {
        assert_eq!(conn.send_data(b"x"), Err(SendError::BodyTooLong));
        assert_eq!(conn.body_left_to_send(), Some(0));
        assert_eq!(conn.send_data(b""), Ok(DataFrame::BARE));
        assert_eq!(conn.send_end(&[], &mut out), Ok(0));
        assert_eq!(conn.our_state(), after);
    }
}

/// RFC 9110 §15.3.6: a 205 carries no content. Without framing it says so
/// with `Content-Length: 0` (a client would otherwise read chunks, or to the
/// close) and takes no data; a head declaring a body is refused.
#[test]
fn a_205_is_framed_empty_and_takes_no_content() {
    let reset = StatusCode::new(205).unwrap();
    let mut conn = server_after(b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    let wire = response_wire(&mut conn, &ResponseHead::new(reset, &[])).unwrap();
    assert_eq!(
        wire,
        "HTTP/1.1 205 Reset Content\r\ncontent-length: 0\r\n\r\n"
    );
    assert_eq!(conn.send_data(b"x"), Err(SendError::BodyNotAllowed));
    assert_eq!(conn.send_end(&[], &mut []), Ok(0));
    // Both sides done: ready for the next request.
    assert_eq!(conn.our_state(), State::Idle);

    let zero = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let wire = response_wire(&mut conn, &ResponseHead::new(reset, &zero)).unwrap();
    assert_eq!(
        wire,
        "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n"
    );

    for framing in [
        Header {
            name: "Content-Length",
            value: b"5",
        },
        Header {
            name: "Transfer-Encoding",
            value: b"chunked",
        },
    ] {
        let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            response_wire(&mut conn, &ResponseHead::new(reset, &[framing])),
            Err(SendError::BodyNotAllowed)
        );
    }
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = [0u8; 128];
    assert_eq!(
        conn.send_response_sized(&ResponseHead::new(reset, &[]), 5, &mut out),
        Err(SendError::BodyNotAllowed)
    );
    // A 2xx to CONNECT opens a tunnel, whose head carries no length at all.
    let mut conn = server_after(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n");
    let wire = response_wire(&mut conn, &ResponseHead::new(reset, &[])).unwrap();
    assert_eq!(wire, "HTTP/1.1 205 Reset Content\r\n\r\n");
    assert_eq!(conn.our_state(), State::SwitchedProtocol);
}

/// RFC 9110 §8.6 and RFC 9112 §6.1: a server MUST NOT send Content-Length or
/// Transfer-Encoding in a 1xx or a 204, or in a 2xx to CONNECT (the response
/// that turns the connection into a tunnel, whose bytes are no body).
#[test]
fn framing_fields_are_refused_where_a_response_may_not_carry_them() {
    let length = Header {
        name: "Content-Length",
        value: b"0",
    };
    let chunked = Header {
        name: "Transfer-Encoding",
        value: b"chunked",
    };
    let expecting =
        b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
    let upgrade = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\n";
    let connect = b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n";
    // The interim responses go out while the body waits for them: that
    // request is read up to its head, the others whole.
    let cases: [(&[u8], StatusCode); 5] = [
        (expecting, StatusCode::CONTINUE),
        (expecting, StatusCode::new(103).unwrap()),
        (upgrade, StatusCode::SWITCHING_PROTOCOLS),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", StatusCode::NO_CONTENT),
        (connect, StatusCode::OK),
    ];
    let received = |request: &[u8]| match request == expecting {
        true => server_after_head(request),
        false => server_after(request),
    };
    for (request, status) in cases {
        // A 101 names the protocol it switches to.
        let corrected: &[Header] = match status == StatusCode::SWITCHING_PROTOCOLS {
            true => &[Header {
                name: "Upgrade",
                value: b"ws",
            }],
            false => &[],
        };
        for framing in [length, chunked] {
            let mut conn = received(request);
            let fields = [corrected, &[framing]].concat();
            let refused = response_wire(&mut conn, &ResponseHead::new(status, &fields));
            assert_eq!(
                refused,
                Err(SendError::FramingNotAllowed),
                "{status:?} {fields:?}"
            );
            // Nothing was written and the state is as it was: the corrected
            // head goes out.
            let wire = response_wire(&mut conn, &ResponseHead::new(status, corrected))
                .unwrap_or_else(|e| panic!("{status:?}: {e:?}"));
            let wire = wire.to_ascii_lowercase();
            assert!(!wire.contains("content-length"), "{wire}");
            assert!(!wire.contains("transfer-encoding"), "{wire}");
        }
        // A length given apart from the head is a Content-Length all the same.
        let mut conn = received(request);
        let mut out = [0u8; 256];
        let head = ResponseHead::new(status, corrected);
        assert_eq!(
            conn.send_response_sized(&head, 0, &mut out),
            Err(SendError::FramingNotAllowed),
            "{status:?}"
        );
    }
}

/// A 304 and a HEAD response may state the length a GET would have had.
#[test]
fn a_304_and_a_head_response_keep_their_length() {
    let fields = [Header {
        name: "Content-Length",
        value: b"1234",
    }];
    for (request, status) in [
        (
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            StatusCode::NOT_MODIFIED,
        ),
        (b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", StatusCode::OK),
    ] {
        let mut conn = server_after(request);
        // The fields the message would have had are held to the same
        // rules: `chunked` twice frames nothing, body or not.
        let twice = [Header {
            name: "Transfer-Encoding",
            value: b"chunked, chunked",
        }];
        assert_eq!(
            response_wire(&mut conn, &ResponseHead::new(status, &twice)),
            Err(SendError::InvalidFraming(Error::ChunkedNotFinal))
        );
        let wire = response_wire(&mut conn, &ResponseHead::new(status, &fields)).unwrap();
        assert!(wire.contains("\r\nContent-Length: 1234\r\n"), "{wire}");
        assert_eq!(conn.send_data(b"x"), Err(SendError::BodyNotAllowed));
    }
}

/// When the connection closes after the response, a `Connection: keep-alive`
/// field of the caller's would contradict the `connection: close` added.
#[test]
fn a_keep_alive_field_gives_way_to_the_close() {
    let keep_alive = |value: &'static [u8]| Header {
        name: "Connection",
        value,
    };
    let length = Header {
        name: "Content-Length",
        value: b"0",
    };
    for request in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"[..],
        b"GET / HTTP/1.0\r\n\r\n",
    ] {
        let mut conn = server_after(request);
        let fields = [keep_alive(b"Keep-Alive"), length];
        let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
        assert!(
            wire.ends_with("\r\nContent-Length: 0\r\nconnection: close\r\n\r\n"),
            "{wire}"
        );
        assert!(!wire.to_ascii_lowercase().contains("keep-alive"), "{wire}");
    }
    // A list's other options are the caller's to mean (fields it declared
    // hop-by-hop), and go on the close line; only keep-alive goes.
    let hop = Header {
        name: "X-Hop",
        value: b"1",
    };
    let fields = [
        keep_alive(b"Keep-Alive, x-hop"),
        hop,
        length,
        keep_alive(b",x-other ,keep-alive"),
    ];
    let expected = "HTTP/1.1 200 OK\r\nX-Hop: 1\r\nContent-Length: 0\r\n\
                    connection: x-hop, x-other, close\r\n\r\n";
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
    assert_eq!(wire, expected);
    // Sized as written: an exact buffer takes it, one byte less nothing.
    let head = ResponseHead::new(StatusCode::OK, &fields);
    let mut exact = vec![0u8; expected.len()];
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!(
        conn.send_response(&head, &mut exact[..expected.len() - 1]),
        Err(SendError::BufferTooSmall {
            needed: expected.len()
        })
    );
    assert_eq!(conn.send_response(&head, &mut exact), Ok(expected.len()));
    assert_eq!(exact, expected.as_bytes());
    // An option that only begins like keep-alive is another option.
    let mut conn = server_after(b"GET / HTTP/1.0\r\n\r\n");
    let fields = [keep_alive(b"keep-alive2"), length];
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
    assert!(wire.contains("Connection: keep-alive2\r\n"), "{wire}");
    assert!(wire.ends_with("connection: close\r\n\r\n"), "{wire}");
    // A persisting connection writes the field as given.
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let fields = [keep_alive(b"keep-alive"), length];
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
    assert!(wire.contains("Connection: keep-alive\r\n"), "{wire}");
    assert!(!wire.contains("close"), "{wire}");
}

/// A final answer while the client still waits for 100 Continue: it may
/// send the body or skip it (RFC 9110 §10.1.1), and its next bytes cannot
/// tell which, so the connection closes after the answer.
#[test]
fn a_final_answer_to_a_client_awaiting_100_closes_the_connection() {
    let length = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    let mut conn = server_after_head(
        b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    assert!(conn.they_are_waiting_for_100_continue());
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &length)).unwrap();
    assert!(wire.ends_with("connection: close\r\n\r\n"), "{wire}");
    assert!(!conn.is_keep_alive());
    // The final answer ended the wait: reading the body now owes no 100.
    assert!(!conn.they_are_waiting_for_100_continue());
    // After a 100, the body comes: the connection goes on.
    let mut conn = server_after_head(
        b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    response_wire(&mut conn, &ResponseHead::new(StatusCode::CONTINUE, &[])).unwrap();
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &length)).unwrap();
    assert!(!wire.contains("close"), "{wire}");
    assert!(conn.is_keep_alive());
}

#[test]
fn connection_close_is_announced_when_the_client_asked_for_it() {
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let fields = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
    assert!(wire.ends_with("connection: close\r\n\r\n"), "{wire}");
    // Not twice when the application already said so.
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let fields = [
        Header {
            name: "Content-Length",
            value: b"0",
        },
        Header {
            name: "Connection",
            value: b"close",
        },
    ];
    let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
    assert_eq!(wire.matches("close").count(), 1, "{wire}");
}

#[test]
fn chunk_prefixes() {
    for (size, hex) in [
        (1u64, "1"),
        (15, "f"),
        (16, "10"),
        (4096, "1000"),
        (u64::MAX, "ffffffffffffffff"),
    ] {
        let frame = DataFrame::chunk(size);
        assert_eq!(frame.prefix.as_bytes(), format!("{hex}\r\n").as_bytes());
        assert_eq!(frame.overhead(), hex.len() + 4);
    }
}

#[test]
fn serialized_request_parses_back() {
    let mut client = Connection::client(Config::default());
    let fields = [
        HOST,
        Header {
            name: "Transfer-Encoding",
            value: b"chunked",
        },
        Header {
            name: "X-Empty",
            value: b"",
        },
    ];
    let mut wire = vec![0u8; 256];
    let n = client
        .send_request(&RequestHead::new("POST", "/p", &fields), &mut wire)
        .unwrap();
    wire.truncate(n);
    let frame = client.send_data(b"0123456789abcdef!").unwrap();
    wire.extend_from_slice(frame.prefix.as_bytes());
    wire.extend_from_slice(b"0123456789abcdef!");
    wire.extend_from_slice(frame.suffix);
    let mut out = [0u8; 64];
    let n = client
        .send_end(
            &[Header {
                name: "T",
                value: b"1",
            }],
            &mut out,
        )
        .unwrap();
    wire.extend_from_slice(&out[..n]);
    let events = support::server_events(Config::default(), &wire);
    assert_eq!(
        support::bodies(&events),
        vec![b"0123456789abcdef!".to_vec()]
    );
    assert!(events.contains(&support::Owned::End {
        trailers: vec![("T".into(), b"1".to_vec())]
    }));
}

#[test]
fn trailers_may_not_carry_framing_routing_or_connection_fields() {
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = [0u8; 256];
    // No framing field: the connection chooses chunked.
    conn.send_response(&ResponseHead::new(StatusCode::OK, &[]), &mut out)
        .unwrap();
    for name in [
        "Content-Length",
        "transfer-encoding",
        "Host",
        "Connection",
        "TRAILER",
        // Authentication, response controls and the content's format are
        // settled by the header section too (RFC 9110 §6.5.1).
        "Authorization",
        "Set-Cookie",
        "Cache-Control",
        "content-type",
        "Content-Encoding",
        // Request modifiers and response control data.
        "If-None-Match",
        "if-range",
        "Accept-Encoding",
        "Location",
        "Retry-After",
        "Vary",
        "Date",
        // The rest of RFC 9110 §6.5.1's kinds: routing and the connection,
        // authentication, request modifiers, response controls.
        "Max-Forwards",
        "Keep-Alive",
        "Proxy-Connection",
        "Upgrade",
        "TE",
        "Expect",
        "Proxy-Authorization",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        "Cookie",
        "Range",
        "Pragma",
        "Content-Range",
        "If-Match",
        "If-Modified-Since",
        "If-Unmodified-Since",
        "Accept",
        "Accept-Charset",
        "Accept-Language",
        "Age",
        "Expires",
    ] {
        assert!(lithe::proto::is_header_section_only(name), "{name}");
        let trailer = [Header { name, value: b"1" }];
        assert_eq!(
            conn.send_end(&trailer, &mut out),
            Err(SendError::ForbiddenTrailer),
            "{name}"
        );
    }
    // Refused without effect: the message can still end, with allowed trailers.
    let allowed = [Header {
        name: "Server-Timing",
        value: b"db;dur=5",
    }];
    let n = conn.send_end(&allowed, &mut out).unwrap();
    assert_eq!(&out[..n], b"0\r\nServer-Timing: db;dur=5\r\n\r\n");
}

#[test]
fn status_lines_carry_the_reason_and_version_given() {
    let fields = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    let cases: [(u16, &str, Version, &str); 6] = [
        (200, "OK", Version::Http11, "HTTP/1.1 200 OK\r\n"),
        (200, "K", Version::Http11, "HTTP/1.1 200 K\r\n"),
        (404, "Nope", Version::Http11, "HTTP/1.1 404 Nope\r\n"),
        (200, "OK", Version::Http10, "HTTP/1.0 200 OK\r\n"),
        (299, "", Version::Http11, "HTTP/1.1 299 \r\n"),
        (599, "", Version::Http11, "HTTP/1.1 599 \r\n"),
    ];
    for (code, reason, version, line) in cases {
        let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let head = ResponseHead {
            version,
            status: StatusCode::new(code).unwrap(),
            reason,
            headers: &fields,
        };
        let wire = response_wire(&mut conn, &head).unwrap();
        assert!(wire.starts_with(line), "{wire:?}");
        assert!(
            wire[line.len()..].starts_with("Content-Length: 0\r\n"),
            "{wire:?}"
        );
    }
    // Past 599 a status is invalid (RFC 9110 §15): held as received but
    // not sent; refused, nothing written, and the connection may still
    // answer.
    for code in [600, 987, 999] {
        let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let head = ResponseHead::new(StatusCode::new(code).unwrap(), &fields);
        let mut out = [0u8; 128];
        assert_eq!(
            conn.send_response(&head, &mut out),
            Err(SendError::InvalidStatus),
            "{code}"
        );
        assert_eq!(conn.our_state(), State::SendResponse);
        let wire = response_wire(&mut conn, &ResponseHead::new(StatusCode::OK, &fields)).unwrap();
        assert!(wire.starts_with("HTTP/1.1 200 OK\r\n"), "{wire:?}");
    }
}

#[test]
fn a_length_given_apart_from_the_head_frames_it_as_a_content_length_field_would() {
    // Response: the connection writes the field, after the caller's and before
    // its own, and holds the body to it.
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let fields = [Header {
        name: "Content-Type",
        value: b"text/plain",
    }];
    let mut out = [0u8; 256];
    let n = conn
        .send_response_sized(&ResponseHead::new(StatusCode::OK, &fields), 5, &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\n"
    );
    assert_eq!(conn.send_data(b"abcdef"), Err(SendError::BodyTooLong));
    assert_eq!(conn.send_data(b"abcde"), Ok(DataFrame::BARE));
    assert_eq!(conn.send_end(&[], &mut out), Ok(0));

    // The largest length a receiver takes (19 digits), digit for digit; one
    // more, which would be refused on receipt, is refused here, changing
    // nothing; and a length the buffer cannot hold with the head is refused
    // whole.
    let largest = 9_999_999_999_999_999_999_u64;
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let head = ResponseHead::new(StatusCode::OK, &[]);
    for too_long in [largest + 1, u64::MAX] {
        assert_eq!(
            conn.send_response_sized(&head, too_long, &mut out),
            Err(SendError::InvalidFraming(Error::InvalidContentLength))
        );
    }
    let expected = format!("HTTP/1.1 200 OK\r\ncontent-length: {largest}\r\n\r\n");
    let mut short = vec![0u8; expected.len() - 1];
    assert_eq!(
        conn.send_response_sized(&head, largest, &mut short),
        Err(SendError::BufferTooSmall {
            needed: expected.len()
        })
    );
    let n = conn.send_response_sized(&head, largest, &mut out).unwrap();
    assert_eq!(&out[..n], expected.as_bytes());
    let mut client = Connection::client(Config::default());
    let mut scratch = [0u8; 64];
    // (A request's length is held to the same cap.)
    let post = RequestHead::new("POST", "/", &[HOST]);
    assert_eq!(
        client.send_request_sized(&post, largest + 1, &mut scratch),
        Err(SendError::InvalidFraming(Error::InvalidContentLength))
    );
    client
        .send_request(&RequestHead::new("GET", "/", &[HOST]), &mut scratch)
        .unwrap();
    let mut fields = [EMPTY_HEADER; 4];
    client.receive(&out[..n], &mut fields).unwrap();
    assert_eq!(client.incoming_body(), Some(BodyLength::Length(largest)));

    // A head with its own Content-Length: the same value is written once,
    // another is a conflict and changes nothing.
    let own = [Header {
        name: "Content-Length",
        value: b"3",
    }];
    let mut conn = server_after(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let head = ResponseHead::new(StatusCode::OK, &own);
    assert_eq!(
        conn.send_response_sized(&head, 4, &mut out),
        Err(SendError::InvalidFraming(Error::ConflictingContentLength))
    );
    let n = conn.send_response_sized(&head, 3, &mut out).unwrap();
    assert_eq!(&out[..n], b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");

    // HEAD: the length is announced and no body follows.
    let mut conn = server_after(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    let n = conn
        .send_response_sized(&ResponseHead::new(StatusCode::OK, &[]), 7, &mut out)
        .unwrap();
    assert_eq!(&out[..n], b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n");
    assert_eq!(conn.send_data(b"x"), Err(SendError::BodyNotAllowed));

    // Request: the same, and the server reads the body by it.
    let mut conn = Connection::client(Config::default());
    let n = conn
        .send_request_sized(&RequestHead::new("PUT", "/x", &[HOST]), 2, &mut out)
        .unwrap();
    let wire = &out[..n];
    assert_eq!(
        wire,
        b"PUT /x HTTP/1.1\r\nHost: example.com\r\ncontent-length: 2\r\n\r\n"
    );
    assert_eq!(conn.send_data(b"ok"), Ok(DataFrame::BARE));
    let mut server = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 4];
    server.receive(wire, &mut headers).unwrap();
    assert_eq!(
        server.incoming_body(),
        Some(lithe::proto::BodyLength::Length(2))
    );
}

/// Values are checked a word at a time (names a byte at a time, by table):
/// every ASCII byte (every byte, for values) at every position of a 17-byte
/// field must still get exactly the per-byte verdict.
#[test]
fn every_byte_at_every_position_gets_the_per_byte_verdict() {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let value_byte = |b: u8| b == b'\t' || (b >= 0x20 && b != 0x7f);
    let send = |name: &str, value: &[u8]| {
        let mut server = Connection::server(Config::default());
        let mut headers = [EMPTY_HEADER; 4];
        server
            .receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)
            .unwrap();
        let fields = [Header { name, value }];
        let mut out = [0u8; 256];
        server.send_response(&ResponseHead::new(StatusCode::OK, &fields), &mut out)
    };
    let usual_name = *b"x-abcdefghij-0129";
    let usual_value = *b"text/html; q=0.9a";
    for at in 0..usual_name.len() {
        for b in 0..=0x7f_u8 {
            let mut name = usual_name;
            name[at] = b;
            let name = core::str::from_utf8(&name).unwrap();
            let expected = match tchar(b) {
                true => Ok(()),
                false => Err(SendError::InvalidHeaderName),
            };
            assert_eq!(send(name, b"v").map(|_| ()), expected, "{name:?}");
        }
        for b in 0..=0xff_u8 {
            let mut value = usual_value;
            value[at] = b;
            // SP and HTAB at either end would be stripped on receipt.
            let at_an_end = at == 0 || at == value.len() - 1;
            let expected = match value_byte(b) && !(at_an_end && matches!(b, b' ' | b'\t')) {
                true => Ok(()),
                false => Err(SendError::InvalidHeaderValue),
            };
            assert_eq!(send("x", &value).map(|_| ()), expected, "{value:?}");
        }
    }
}

/// A method is a token (RFC 9110 §9.1): anything else, however it would
/// read on the wire (`GET /admin` as a method and a target, a NUL, a tab, a
/// line end, a byte past ASCII, nothing at all), is refused with nothing
/// written and the connection still idle; every ASCII byte at every place
/// of a method gets the token verdict.
#[test]
fn a_method_that_is_not_a_token_is_refused_unsent() {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let send = |method: &str| {
        let mut client = Connection::client(Config::default());
        let mut out = [0xaa_u8; 128];
        let sent = client
            .send_request(&RequestHead::new(method, "/", &[HOST]), &mut out)
            .map(|_| ());
        if sent.is_err() {
            assert!(out.iter().all(|&b| b == 0xaa), "{method:?}: bytes written");
            assert_eq!(client.our_state(), State::Idle, "{method:?}");
        }
        sent
    };
    for method in [
        "",
        "GET ",
        " GET",
        "G ET",
        "GET /admin",
        "GET\r",
        "GET\n",
        "\nPUT",
        "GET\0",
        "GET\t",
        "G\u{c9}T",
        "GET:",
        "GET\x7f",
    ] {
        assert_eq!(send(method), Err(SendError::InvalidMethod), "{method:?}");
    }
    let usual = *b"PATCH-1";
    for at in 0..usual.len() {
        for b in 0..=0x7f_u8 {
            let mut method = usual;
            method[at] = b;
            let method = core::str::from_utf8(&method).unwrap();
            let expected = match tchar(b) {
                true => Ok(()),
                false => Err(SendError::InvalidMethod),
            };
            assert_eq!(send(method), expected, "{method:?}");
        }
    }
}

/// Values are checked eight bytes at a time: a control byte or DEL at any
/// position of a long value is still refused (a tab allowed), and the word
/// check neither lets one through nor refuses a visible or obs-text byte.
#[test]
fn a_control_byte_anywhere_in_a_long_value_is_refused() {
    let mut out = [0u8; 256];
    let mut send = |value: &[u8]| {
        let fields = [HOST, Header { name: "X", value }];
        Connection::client(Config::default())
            .send_request(&RequestHead::new("GET", "/", &fields), &mut out)
    };
    for at in 0..24 {
        for bad in [b'\r', b'\n', 0, 0x01, 0x1f, 0x7f] {
            let mut value = [b'a'; 24];
            value[at] = bad;
            assert_eq!(
                send(&value),
                Err(SendError::InvalidHeaderValue),
                "{bad:#x} at {at}"
            );
        }
        for good in [b'\t', b' ', b'~', b'!', 0x80, 0xff] {
            let mut value = [b'a'; 24];
            value[at] = good;
            match good {
                b'\t' | b' ' if at == 0 || at == 23 => assert_eq!(
                    send(&value),
                    Err(SendError::InvalidHeaderValue),
                    "{good:#x} at {at}"
                ),
                _ => assert!(send(&value).is_ok(), "{good:#x} at {at}"),
            }
        }
    }
}

/// A value may not begin or end with SP or HTAB (RFC 9110 §5.5): a
/// recipient strips them, so the value would not arrive as sent. Inside it
/// they are fine, and an empty value is one.
#[test]
fn a_value_with_whitespace_at_an_end_is_refused() {
    let mut out = [0u8; 256];
    let mut send = |value: &[u8]| {
        let fields = [HOST, Header { name: "X", value }];
        Connection::client(Config::default())
            .send_request(&RequestHead::new("GET", "/", &fields), &mut out)
            .map(|_| ())
    };
    for value in [
        &b" abc"[..],
        b"abc ",
        b"\tabc",
        b"abc\t",
        b"\tabc ",
        b" abc\t",
        b" abc ",
        b" ",
        b"\t",
        b"  ",
    ] {
        assert_eq!(send(value), Err(SendError::InvalidHeaderValue), "{value:?}");
    }
    for value in [&b"a b"[..], b"a\tb", b"a", b""] {
        assert_eq!(send(value), Ok(()), "{value:?}");
    }
}

/// A space in a request-target would split the request line: refused, as
/// any byte up to and including SP is.
#[test]
fn a_space_or_control_in_a_target_is_refused() {
    let mut out = [0u8; 128];
    for target in ["/a b", "/a\tb", "/a\x7fb", " /"] {
        let mut conn = Connection::client(Config::default());
        assert_eq!(
            conn.send_request(&RequestHead::new("GET", target, &[HOST]), &mut out),
            Err(SendError::InvalidRequestTarget),
            "{target:?}"
        );
    }
}

/// What a strict recipient refuses in a target is not sent either: a
/// fragment (RFC 9112 §3.2: never sent), userinfo (RFC 9110 §4.2.4), a
/// port past 65535, a CONNECT without one or to port 0 (RFC 9110
/// §9.3.6). Nothing is written and the connection is still idle.
#[test]
fn a_fragment_userinfo_or_bad_port_in_a_target_is_refused_unsent() {
    for (method, target, host) in [
        ("GET", "/a#b", &b"a"[..]),
        ("GET", "/#", b"a"),
        ("GET", "http://a.example/x#y", b"a.example"),
        ("GET", "http://u:p@a.example/", b"a.example"),
        ("GET", "http://a.example:65536/", b"a.example:65536"),
        ("CONNECT", "a.example:65536", b"a.example:65536"),
        ("CONNECT", "a.example:", b"a.example:"),
        ("CONNECT", "a.example:0", b"a.example:0"),
        ("CONNECT", "a.example:000", b"a.example:000"),
        ("OPTIONS", "*#", b"a"),
    ] {
        let fields = [Header {
            name: "Host",
            value: host,
        }];
        let mut conn = Connection::client(Config::default());
        let mut out = [0xaa_u8; 128];
        assert_eq!(
            conn.send_request(&RequestHead::new(method, target, &fields), &mut out),
            Err(SendError::InvalidRequestTarget),
            "{method} {target}"
        );
        assert!(out.iter().all(|&b| b == 0xaa), "{target}: bytes written");
        assert_eq!(conn.our_state(), State::Idle, "{target}");
    }
}

/// The fields the serializer adds (a length, `chunked`, `connection:
/// close`, `connection: keep-alive`, `connection: upgrade`, alone or
/// together) all go out and count in the size it needs: a buffer of exactly
/// that size takes the head, one byte less takes nothing.
#[test]
fn the_fields_the_serializer_adds_count_in_the_size_it_needs() {
    let upgrade = [Header {
        name: "Upgrade",
        value: b"ws",
    }];
    // The request the server answers, the response's status and fields, its
    // length apart, the lines added.
    type Case<'a> = (&'a [u8], u16, &'a [Header<'a>], Option<u64>, &'a [&'a str]);
    let cases: [Case<'_>; 6] = [
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            200,
            &[],
            Some(12345),
            &["content-length: 12345"],
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            200,
            &[],
            None,
            &["transfer-encoding: chunked"],
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            200,
            &[],
            Some(5),
            &["content-length: 5", "connection: close"],
        ),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            200,
            &[],
            Some(5),
            &["content-length: 5", "connection: keep-alive"],
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            200,
            &[],
            None,
            &["transfer-encoding: chunked", "connection: close"],
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\n",
            101,
            &upgrade,
            None,
            &["connection: upgrade"],
        ),
    ];
    for (request, status, fields, length, added) in cases {
        let head = ResponseHead::new(StatusCode::new(status).unwrap(), fields);
        let send = |conn: &mut Connection, out: &mut [u8]| match length {
            Some(n) => conn.send_response_sized(&head, n, out),
            None => conn.send_response(&head, out),
        };
        let mut big = [0u8; 256];
        let needed = send(&mut server_after(request), &mut big).unwrap();
        let wire = String::from_utf8_lossy(&big[..needed]).into_owned();
        for line in added {
            assert!(wire.contains(&format!("\r\n{line}\r\n")), "{line}: {wire}");
        }
        let mut exact = vec![0u8; needed];
        assert_eq!(
            send(&mut server_after(request), &mut exact),
            Ok(needed),
            "{wire}"
        );
        assert_eq!(&exact[..], &big[..needed]);
        let mut short = vec![0u8; needed - 1];
        assert_eq!(
            send(&mut server_after(request), &mut short),
            Err(SendError::BufferTooSmall { needed }),
            "{wire}"
        );
    }
}

/// The `connection: te` line a request's TE field brings counts in the size
/// the serializer asks for: exactly that size takes the head, one byte less
/// is `BufferTooSmall` with nothing written and the state unchanged.
#[test]
fn a_request_with_te_counts_its_connection_line_in_the_size_it_needs() {
    let te = Header {
        name: "TE",
        value: b"trailers",
    };
    let fields = [HOST, te];
    let head = RequestHead::new("POST", "/", &fields);
    // No body, and a length the serializer states.
    let cases: [(Option<u64>, &str); 2] = [(None, ""), (Some(5), "content-length: 5\r\n")];
    for (length, framing) in cases {
        let wire = format!(
            "POST / HTTP/1.1\r\nHost: example.com\r\nTE: trailers\r\n{framing}connection: te\r\n\r\n"
        );
        let needed = wire.len();
        let send = |conn: &mut Connection, out: &mut [u8]| match length {
            Some(n) => conn.send_request_sized(&head, n, out),
            None => conn.send_request(&head, out),
        };
        let mut client = Connection::client(Config::default());
        let mut short = vec![0xAAu8; needed - 1];
        assert_eq!(
            send(&mut client, &mut short),
            Err(SendError::BufferTooSmall { needed }),
            "{wire}"
        );
        assert!(short.iter().all(|&b| b == 0xAA), "{wire}");
        assert_eq!(client.our_state(), State::Idle);
        let mut exact = vec![0u8; needed];
        assert_eq!(send(&mut client, &mut exact), Ok(needed), "{wire}");
        assert_eq!(String::from_utf8(exact).unwrap(), wire);
    }
}

/// No bytes are no chunk: framing an empty piece by hand frames nothing,
/// rather than `0\r\n\r\n`, the last chunk, which would end the body
/// mid-stream. (`ChunkPrefix::new(0)` is that last chunk's line.)
#[test]
fn an_empty_chunk_frames_nothing() {
    assert_eq!(DataFrame::chunk(0), DataFrame::BARE);
    assert_eq!(DataFrame::chunk(0).overhead(), 0);
    assert_eq!(DataFrame::chunk(1).prefix.as_bytes(), b"1\r\n");
    assert_eq!(lithe::proto::ChunkPrefix::new(0).as_bytes(), b"0\r\n");
}

/// A CONNECT request has no content (RFC 9110 §9.3.6): one declaring some
/// is refused before anything is written, as the server side refuses it;
/// `Content-Length: 0` declares none and goes out.
#[test]
fn a_connect_request_declaring_content_is_refused_unsent() {
    let mut out = [0u8; 256];
    for (name, value) in [
        ("Content-Length", &b"5"[..]),
        ("Transfer-Encoding", b"chunked"),
    ] {
        let mut conn = Connection::client(Config::default());
        let fields = [
            Header {
                name: "Host",
                value: b"a.example:443",
            },
            Header { name, value },
        ];
        assert_eq!(
            conn.send_request(
                &RequestHead::new("CONNECT", "a.example:443", &fields),
                &mut out
            ),
            Err(SendError::InvalidFraming(Error::ContentInConnect)),
            "{name}"
        );
        assert_eq!(conn.our_state(), lithe::proto::State::Idle);
    }
    let mut conn = Connection::client(Config::default());
    let fields = [
        Header {
            name: "Host",
            value: b"a.example:443",
        },
        Header {
            name: "Content-Length",
            value: b"0",
        },
    ];
    assert!(
        conn.send_request(
            &RequestHead::new("CONNECT", "a.example:443", &fields),
            &mut out
        )
        .is_ok()
    );
}

/// RFC 9110 §9.3.8: a TRACE request carries no content; one declaring
/// some is refused unsent. (A length of 0 declares none.)
#[test]
fn a_trace_request_declaring_content_is_refused_unsent() {
    let mut out = [0u8; 256];
    for (name, value) in [
        ("Content-Length", &b"5"[..]),
        ("Transfer-Encoding", b"chunked"),
    ] {
        let mut conn = Connection::client(Config::default());
        let fields = [HOST, Header { name, value }];
        assert_eq!(
            conn.send_request(&RequestHead::new("TRACE", "/", &fields), &mut out),
            Err(SendError::BodyNotAllowed),
            "{name}"
        );
        assert_eq!(conn.our_state(), lithe::proto::State::Idle);
    }
    let mut conn = Connection::client(Config::default());
    assert_eq!(
        conn.send_request_sized(&RequestHead::new("TRACE", "/", &[HOST]), 5, &mut out),
        Err(SendError::BodyNotAllowed)
    );
    for head in [
        RequestHead::new("TRACE", "/", &[HOST]),
        RequestHead::new(
            "TRACE",
            "/",
            &[
                HOST,
                Header {
                    name: "Content-Length",
                    value: b"0",
                },
            ],
        ),
    ] {
        let mut conn = Connection::client(Config::default());
        assert!(conn.send_request(&head, &mut out).is_ok(), "{head:?}");
    }
}

/// RFC 9112 §3.2: the Host of a request whose target carries an authority
/// is that authority (ignoring case, a port left out being the scheme's
/// default, and a CONNECT's Host free to leave out a port of 80 or 443, as
/// RFC 9110 §9.3.6's example does); another is refused unsent, as a hop routing on
/// Host and one routing on the target would part ways.
#[test]
fn a_host_other_than_the_targets_authority_is_refused_unsent() {
    let mut out = [0u8; 256];
    let host = |value: &'static [u8]| Header {
        name: "Host",
        value,
    };
    for (method, target, value, agrees) in [
        ("GET", "http://a.example/x", &b"a.example"[..], true),
        ("GET", "http://A.Example:8080?q", b"a.example:8080", true),
        ("GET", "https://[::1]:443/", b"[::1]:443", true),
        ("CONNECT", "a.example:443", b"A.EXAMPLE:443", true),
        (
            "CONNECT",
            "server.example.com:80",
            b"server.example.com",
            true,
        ),
        ("CONNECT", "[::1]:443", b"[::1]", true),
        ("GET", "/x", b"anything.example", true),
        ("OPTIONS", "*", b"a.example", true),
        ("GET", "http://a.example/x", b"a.example:80", true),
        ("GET", "http://a.example:80/x", b"a.example", true),
        ("GET", "http://a.example:/x", b"a.example", true),
        ("GET", "https://a.example/", b"a.example:443", true),
        ("GET", "http://a.example/x", b"b.example", false),
        ("GET", "http://a.example/x", b"a.example:443", false),
        ("GET", "https://a.example/", b"a.example:80", false),
        ("GET", "http://a.example:8080/", b"a.example", false),
        ("GET", "http://[::1]:8080/", b"[::1]", false),
        ("CONNECT", "a.example:443", b"b.example:443", false),
        ("CONNECT", "a.example:443", b"a.example:80", false),
        ("CONNECT", "a.example:443", b"b.example", false),
        // Only the ports the example's schemes default to go without saying.
        ("CONNECT", "a.example:8443", b"a.example", false),
        ("CONNECT", "[::1]:8080", b"[::1]", false),
        // Ports are compared as written: `0443` is no port to leave out.
        ("CONNECT", "a.example:0443", b"a.example", false),
    ] {
        let fields = [host(value)];
        let mut conn = Connection::client(Config::default());
        let sent = conn.send_request(&RequestHead::new(method, target, &fields), &mut out);
        match agrees {
            true => assert!(sent.is_ok(), "{target} {value:?}: {sent:?}"),
            false => {
                assert_eq!(sent, Err(SendError::HostMismatch), "{target} {value:?}");
                assert_eq!(conn.our_state(), lithe::proto::State::Idle);
            }
        }
    }
    // HTTP/1.0 may go without Host: nothing to compare.
    let mut conn = Connection::client(Config::default());
    let mut head = RequestHead::new("GET", "http://a.example/", &[]);
    head.version = lithe::proto::Version::Http10;
    assert!(conn.send_request(&head, &mut out).is_ok());
}
