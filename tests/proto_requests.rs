//! Server role: reading requests. Every case runs four ways (whole input, byte
//! by byte, 7-byte pieces, pieces of varied sizes) and must give the same
//! events each way; one that ends between requests on a connection that
//! persists runs again with a request appended, read as its own
//! (`support::server_events`).

mod support;

use lithe::proto::{Config, Connection, Error, Event, Leniency, Limits};
use support::{
    Owned, Split, answer_empty, bodies, drive, error_of, server_events, unclosed_two_ways,
    with_leniency,
};

fn events(input: &[u8]) -> Vec<Owned> {
    server_events(Config::default(), input)
}

fn request_line(events: &[Owned], n: usize) -> (String, String, String) {
    let heads: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Owned::Request {
                method,
                target,
                version,
                ..
            } => Some((method.clone(), target.clone(), version.clone())),
            _ => None,
        })
        .collect();
    heads[n].clone()
}

#[test]
fn simple_get_then_clean_close() {
    let ev = events(b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
    assert_eq!(
        ev,
        vec![
            Owned::Request {
                method: "GET".into(),
                target: "/index.html?x=1".into(),
                version: "HTTP/1.1".into(),
                headers: vec![
                    ("Host".into(), b"example.com".to_vec()),
                    ("Accept".into(), b"*/*".to_vec())
                ],
            },
            Owned::End { trailers: vec![] },
            Owned::ConnectionClosed,
        ]
    );
}

#[test]
fn content_length_body_is_delivered_exactly() {
    let ev = events(b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
    assert_eq!(bodies(&ev), vec![b"hello world".to_vec()]);
    assert_eq!(ev.last(), Some(&Owned::ConnectionClosed));
}

/// A field value comes without the whitespace around it (RFC 9112 §5.1),
/// in a request, a response and a trailer section alike: a Host padded
/// with spaces and tabs is still a host, a value of whitespace alone is
/// empty, and whitespace inside stays.
#[test]
fn field_values_arrive_without_the_whitespace_around_them() {
    let expected = vec![
        ("Host".to_string(), b"a".to_vec()),
        ("X-A".to_string(), b"a a a a a".to_vec()),
        ("X-B".to_string(), b"".to_vec()),
    ];
    let ev = events(b"GET / HTTP/1.1\r\nHost: a \t\r\nX-A:  a a a a a \r\nX-B: \t \t \r\n\r\n");
    assert_eq!(error_of(&ev), None, "{ev:?}");
    let headers = ev.iter().find_map(|e| match e {
        Owned::Request { headers, .. } => Some(headers.clone()),
        _ => None,
    });
    assert_eq!(headers, Some(expected.clone()));
    let ev = support::client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 204 No Content\r\nHost: a \t\r\nX-A:  a a a a a \r\nX-B: \t \t \r\n\r\n",
    );
    let headers = ev.iter().find_map(|e| match e {
        Owned::Response { headers, .. } => Some(headers.clone()),
        _ => None,
    });
    assert_eq!(headers, Some(expected));
    let ev = events(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: v \t\r\nU:  \r\n\r\n",
    );
    assert!(
        ev.contains(&Owned::End {
            trailers: vec![("T".into(), b"v".to_vec()), ("U".into(), b"".to_vec())]
        }),
        "{ev:?}"
    );
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let ev = events(
        b"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;name=value\r\nhello\r\n1 ; x\r\n \r\n5\r\nworld\r\n0\r\nChecksum: abc\r\nX-Y: z\r\n\r\n",
    );
    assert_eq!(bodies(&ev), vec![b"hello world".to_vec()]);
    assert!(ev.contains(&Owned::End {
        trailers: vec![
            ("Checksum".into(), b"abc".to_vec()),
            ("X-Y".into(), b"z".to_vec())
        ]
    }));
}

#[test]
fn chunk_extension_limit_counts_every_byte() {
    let with_limit = |max_chunk_extension_bytes| Config {
        limits: Limits {
            max_chunk_extension_bytes,
            ..Limits::default()
        },
        ..Config::default()
    };
    let request = |extension: &str| {
        format!(
            "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
             2{extension}\r\nhi\r\n0\r\n\r\n"
        )
    };
    // `;a=1` is four bytes: allowed by a limit of 4, not 3.
    let ev = server_events(with_limit(4), request(";a=1").as_bytes());
    assert_eq!(bodies(&ev), vec![b"hi".to_vec()]);
    assert_eq!(
        error_of(&server_events(with_limit(3), request(";a=1").as_bytes())),
        Some(Error::ChunkExtensionsTooLong)
    );
    // A limit of 0 allows no extension at all, not even a one-letter name
    // (which a limit of 2 allows): its `;` alone is past it.
    for extension in [";a", " ;a", ";"] {
        assert_eq!(
            error_of(&server_events(with_limit(0), request(extension).as_bytes())),
            Some(Error::ChunkExtensionsTooLong)
        );
    }
    let ev = server_events(with_limit(2), request(";a").as_bytes());
    assert_eq!(bodies(&ev), vec![b"hi".to_vec()]);
    let ev = server_events(with_limit(0), request("").as_bytes());
    assert_eq!(bodies(&ev), vec![b"hi".to_vec()]);
}

/// One line's allowance is not a body's: many small chunks each carrying
/// a full line of extensions would cost a thousand bytes of wire per byte of
/// data.
#[test]
fn chunk_extension_limit_also_counts_over_the_body() {
    let with_limit = |max_chunk_extension_bytes_per_body| Config {
        limits: Limits {
            max_chunk_extension_bytes_per_body,
            ..Limits::default()
        },
        ..Config::default()
    };
    let request = |lines: usize, extension: &str| {
        let chunks = format!("1{extension}\r\nx\r\n").repeat(lines);
        format!(
            "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
             {chunks}0\r\n\r\n"
        )
    };
    // Three lines of `;abcd` (five bytes each): fifteen bytes.
    let ev = server_events(with_limit(15), request(3, ";abcd").as_bytes());
    assert_eq!(bodies(&ev), vec![b"xxx".to_vec()]);
    let ev = server_events(with_limit(14), request(3, ";abcd").as_bytes());
    assert_eq!(error_of(&ev), Some(Error::ChunkExtensionsTooLong));
    // The default allows 16 KiB: sixteen lines of 1,000 bytes, not seventeen.
    let line = format!(";{}", "a".repeat(999));
    let ev = server_events(Config::default(), request(16, &line).as_bytes());
    assert_eq!(bodies(&ev), vec![vec![b'x'; 16]]);
    let ev = server_events(Config::default(), request(17, &line).as_bytes());
    assert_eq!(error_of(&ev), Some(Error::ChunkExtensionsTooLong));
}

#[test]
fn pipelined_requests_are_all_read_in_order() {
    let ev = events(
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\
          POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
          GET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(request_line(&ev, 0).1, "/1");
    assert_eq!(request_line(&ev, 1).1, "/2");
    assert_eq!(request_line(&ev, 2).1, "/3");
    assert_eq!(bodies(&ev), vec![vec![], b"abc".to_vec(), vec![]]);
    assert_eq!(ev.last(), Some(&Owned::ConnectionClosed));
}

#[test]
fn leading_empty_lines_before_request_line_are_ignored() {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
    let ev = events(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(request_line(&ev, 0).0, "GET");
}

#[test]
fn http10_request_without_host_is_accepted_and_closes() {
    let ev = events(b"GET / HTTP/1.0\r\n\r\nGET /never HTTP/1.0\r\n\r\n");
    assert_eq!(request_line(&ev, 0).2, "HTTP/1.0");
    // HTTP/1.0 without keep-alive: the connection must close after the first cycle,
    // so the second request is never parsed.
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Owned::Request { .. }))
            .count(),
        1
    );
    assert_eq!(ev.last(), Some(&Owned::Paused));
}

#[test]
fn http10_keep_alive_allows_a_second_request() {
    let ev = events(b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n");
    assert_eq!(request_line(&ev, 1).1, "/2");
}

#[test]
fn connection_close_stops_after_the_cycle() {
    let ev = events(b"GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Owned::Request { .. }))
            .count(),
        1
    );
}

#[test]
fn eof_inside_head_is_incomplete_message() {
    let ev = events(b"GET / HTTP/1.1\r\nHost: a\r\n");
    assert_eq!(error_of(&ev), Some(Error::IncompleteMessage));
}

#[test]
fn eof_inside_body_is_an_error_not_a_short_body() {
    let ev = events(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nshort");
    assert_eq!(error_of(&ev), Some(Error::IncompleteMessage));
    let ev = events(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    assert_eq!(error_of(&ev), Some(Error::IncompleteMessage));
    let ev =
        events(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n");
    assert_eq!(error_of(&ev), Some(Error::IncompleteMessage));
}

#[test]
fn rejections_carry_the_status_to_answer() {
    assert_eq!(Error::UnsupportedVersion.status().as_u16(), 505);
    assert_eq!(Error::MissingHost.status().as_u16(), 400);
    assert_eq!(Error::RequestTargetTooLong.status().as_u16(), 414);
    assert_eq!(Error::TooManyHeaders.status().as_u16(), 431);
    assert_eq!(Error::UnsupportedTransferCoding.status().as_u16(), 501);
    assert_eq!(Error::BodyTooLarge.status().as_u16(), 413);
}

/// An error prints the rule it names (what a server's refusal says, and a
/// client's error message): each its own text, the same as `as_str`; a
/// sending error prints the figures it carries.
#[test]
fn errors_print_the_rule_they_name() {
    use lithe::proto::SendError;
    use std::collections::HashSet;
    let received = [
        Error::HeadTooLarge,
        Error::TooManyHeaders,
        Error::RequestTargetTooLong,
        Error::BareLineFeed,
        Error::BareCarriageReturn,
        Error::ObsoleteLineFolding,
        Error::InvalidRequestLine,
        Error::InvalidRequestTarget,
        Error::InvalidStatusLine,
        Error::InvalidVersion,
        Error::UnsupportedVersion,
        Error::InvalidHeaderName,
        Error::InvalidHeaderValue,
        Error::MissingHost,
        Error::DuplicateHost,
        Error::InvalidHost,
        Error::InvalidContentLength,
        Error::ConflictingContentLength,
        Error::ContentLengthWithTransferEncoding,
        Error::TransferEncodingInHttp10,
        Error::ChunkedNotFinal,
        Error::ContentInConnect,
        Error::InvalidTransferEncoding,
        Error::UnsupportedTransferCoding,
        Error::BodyTooLarge,
        Error::InvalidChunkSize,
        Error::ChunkSizeTooLarge,
        Error::InvalidChunkExtension,
        Error::ChunkExtensionsTooLong,
        Error::MissingChunkDataCrlf,
        Error::TrailersTooLarge,
        Error::InvalidTrailer,
        Error::IncompleteMessage,
        Error::UnexpectedSwitch,
        Error::UnexpectedData,
        Error::TooManyInterimResponses,
    ];
    let mut texts = HashSet::new();
    for error in received {
        let text = error.to_string();
        assert_eq!(text, error.as_str(), "{error:?}");
        assert!(!text.is_empty() && texts.insert(text), "{error:?}");
    }
    let sending = [
        SendError::InvalidState,
        SendError::InvalidHeaderName,
        SendError::InvalidHeaderValue,
        SendError::InvalidMethod,
        SendError::InvalidRequestTarget,
        SendError::InvalidReasonPhrase,
        SendError::MissingHost,
        SendError::HostMismatch,
        SendError::BodyTooLong,
        SendError::BodyTooShort,
        SendError::FramingNotAllowed,
        SendError::BodyNotAllowed,
        SendError::TrailersNotAllowed,
        SendError::ForbiddenTrailer,
        SendError::MissingUpgrade,
    ];
    let mut texts = HashSet::new();
    for error in sending {
        assert!(texts.insert(error.to_string()), "{error:?}");
    }
    assert!(!texts.contains(""));
    let too_small = SendError::BufferTooSmall { needed: 4321 }.to_string();
    assert!(too_small.contains("4321"), "{too_small}");
    let too_large = SendError::HeadTooLarge { limit: 8765 }.to_string();
    assert!(too_large.contains("8765"), "{too_large}");
    let framing = SendError::InvalidFraming(Error::InvalidContentLength).to_string();
    assert!(
        framing.contains(Error::InvalidContentLength.as_str()),
        "{framing}"
    );
}

#[test]
fn accepted_target_forms() {
    let ev = events(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(request_line(&ev, 0).1, "*");
    let ev = events(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n");
    assert_eq!(request_line(&ev, 0).1, "a.example:443");
    let ev = events(b"GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(request_line(&ev, 0).1, "http://a.example/x");
    // An `@` past the authority is just a byte of the path.
    let ev = events(b"GET http://a.example/@x?y@z HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(request_line(&ev, 0).1, "http://a.example/@x?y@z");
}

/// A Host field must be `uri-host [ ":" port ]` or empty (RFC 9112 §3.2:
/// anything else is a 400); a hop in front may route a malformed one
/// elsewhere than we would.
#[test]
fn host_fields_that_are_not_a_host_and_port_are_refused() {
    for host in [
        "a.example",
        "a.example:8080",
        "[::1]",
        "[::1]:80",
        "127.0.0.1:1",
        // RFC 3986 §3.2.3: the port may be empty, or have leading zeros.
        "a.example:",
        "a.example:65535",
        "a.example:0000080",
        "[::1]:65535",
        "",
        // A `%` escape (RFC 3986 §2.1), with a port or not.
        "a%2Db.example",
        "a%2db:80",
        // IPv6 addresses in full, with an IPv4 tail, in capitals.
        "[fde3:827b:ea49:0:893:8016:e3ac:9778]:444",
        "[::ffff:1.2.3.4]",
        "[FE80::1]",
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(error_of(&events(request.as_bytes())), None, "{host:?}");
    }
    for host in [
        "a.example@b.example",
        "a.example/x",
        "a, b",
        "a:80:81",
        "a:x",
        "a:8x80",
        ":80",
        "[::1",
        "[::1]x",
        "[::1]:8x",
        // Past a TCP port: a hop that wraps it around (99999 as 34463)
        // reaches a port nothing checked.
        "a:65536",
        "a.example:99999",
        "[::1]:99999",
        "a%2db:4294967376",
        "[zz]",
        "[zz]:80",
        // Made of an IPv6 address's characters, but none (RFC 4291 §2.2).
        "[0::0::0::1]",
        "[0::0::0::1]:80",
        "[1]",
        "[:]",
        "[]",
        "[1.2.3.4]",
        "[1:2:3:4:5:6:7:8:9]",
        "[fe80::1%25eth0]",
        // IPvFuture is refused (a deviation, in proto's module docs).
        "[v1.a]",
        "[v1.fe80::a+en1]",
        "a b",
        // `%` begins pct-encoded: two hex digits must follow it.
        "a%zz",
        "a%2",
        "a%",
        "%",
        "a%g0:80",
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(
            error_of(&events(request.as_bytes())),
            Some(Error::InvalidHost),
            "{host:?}"
        );
    }
    // A CONNECT's authority is held to the same rule.
    for authority in ["[1]:443", "[0::0::0::1]:443"] {
        let request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        assert_eq!(
            error_of(&events(request.as_bytes())),
            Some(Error::InvalidRequestTarget),
            "{authority}"
        );
    }
    assert_eq!(Error::InvalidHost.status().as_u16(), 400);
}

/// RFC 9110 §9.3.6: a server must reject a CONNECT to an invalid port, and
/// port 0 is one no TCP connection reaches (a hop passing it on would fail,
/// or bind, where no access rule looked). Leading zeros before another port
/// still name it; a Host field's port 0 names a (useless) authority and
/// is left to the service.
#[test]
fn a_connect_to_port_zero_is_refused() {
    for authority in ["a.example:0", "a.example:00000", "[::1]:0"] {
        let request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        assert_eq!(
            error_of(&events(request.as_bytes())),
            Some(Error::InvalidRequestTarget),
            "{authority}"
        );
    }
    for request in [
        &b"CONNECT a.example:00443 HTTP/1.1\r\nHost: a.example:00443\r\n\r\n"[..],
        b"CONNECT a.example:10 HTTP/1.1\r\nHost: a.example:10\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.example:0\r\n\r\n",
    ] {
        assert_eq!(error_of(&events(request)), None, "{request:?}");
    }
}

/// No request-target form has a fragment, and an http URI with an empty host
/// is invalid (RFC 9112 §3.2, RFC 9110 §4.2.1): peers that strip a fragment
/// where we would not see another path.
#[test]
fn fragments_and_empty_authorities_are_refused_in_targets() {
    for target in [
        "/a#b",
        "/#",
        "http://a.example/x#y",
        // Long ones, the '#' first, in the middle and last.
        "/#articles/2024/sans-io-http?ref=home",
        "/articles/2024/sans#io-http?ref=home",
        "/articles/2024/sans-io-http?ref=home#",
        "/0123456789abcd#",
        "http:///x",
        "http://?q",
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let ev = events(request.as_bytes());
        assert_eq!(error_of(&ev), Some(Error::InvalidRequestTarget), "{target}");
    }
}

/// A target of none of the four forms (RFC 9112 §3.2) is refused: an
/// asterisk with more after it, or a scheme (RFC 3986 §3.1: a letter, then
/// letters, digits, `+`, `-`, `.`) that begins with a digit or holds `_`,
/// which is no absolute-form and, with no port after its last colon, no
/// authority-form either.
#[test]
fn a_target_of_no_form_is_refused() {
    for (method, target) in [
        ("OPTIONS", "*x"),
        ("OPTIONS", "**"),
        ("GET", "1http://a.example/"),
        ("GET", "h_tp://a.example/"),
    ] {
        let request = format!("{method} {target} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let ev = events(request.as_bytes());
        assert_eq!(error_of(&ev), Some(Error::InvalidRequestTarget), "{target}");
    }
    // Their near neighbours are served.
    for (method, target) in [
        ("OPTIONS", "*"),
        ("GET", "h1+.-://a.example/"),
        ("GET", "H://a.example/"),
    ] {
        let request = format!("{method} {target} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let ev = events(request.as_bytes());
        assert_eq!(error_of(&ev), None, "{target}: {ev:?}");
    }
}

/// RFC 9110 §4.2.4: userinfo in an http(s) target is to be treated as an
/// error: it serves to disguise the authority (`http://bank.example@evil/`)
/// and carries credentials into every log that records the target.
#[test]
fn userinfo_in_an_absolute_target_is_refused() {
    for target in [
        "http://user:password@a.example/x",
        "http://a.example@evil.example/",
        "http://@a.example/",
        "https://u@a.example?q",
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let ev = events(request.as_bytes());
        assert_eq!(error_of(&ev), Some(Error::InvalidRequestTarget), "{target}");
    }
}

/// An absolute-form target's authority stands for the Host field (RFC 9112
/// §3.2.2) and is held to its rule, `uri-host [ ":" port ]`: anything else
/// is a name a hop in front may read otherwise (`a\b` as the host `a`, a
/// second port), and a service routing on it would route on that.
#[test]
fn an_absolute_target_whose_authority_is_no_host_and_port_is_refused() {
    for target in [
        "http://evil.example\\.good.example/",
        "http://a.example:80:81/",
        "http://x\"y/",
        "http://g\u{43e}ogle.example/",
        "http://:80/",
        "http://a.example:8x/",
        "http://[::1/",
        "http://[zz]/",
        "http://a%zz.example/",
        "http://a%2/",
        "http://a.example:65536/",
        "http://[::1]:99999/",
        "http://[1]/",
        "http://[0::0::1]:80/",
        "http://[v1.a]/",
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: a.example\r\n\r\n");
        let ev = events(request.as_bytes());
        assert_eq!(error_of(&ev), Some(Error::InvalidRequestTarget), "{target}");
    }
    for (target, authority) in [
        ("http://a.example:8080/x", "a.example:8080"),
        ("http://a.example:/x", "a.example:"),
        ("http://[::1]/", "[::1]"),
        ("http://[::1]:80?q", "[::1]:80"),
        ("https://127.0.0.1", "127.0.0.1"),
        ("http://a%2Db.example/", "a%2Db.example"),
        ("http://a.example:65535/", "a.example:65535"),
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        let ev = events(request.as_bytes());
        assert_eq!(error_of(&ev), None, "{target}");
        assert_eq!(request_line(&ev, 0).1, target);
    }
}

#[test]
fn bare_lf_is_accepted_only_with_its_leniency_flag() {
    let input = b"GET / HTTP/1.1\nHost: a\n\nGET /2 HTTP/1.1\nHost: a\n\n";
    let lenient = with_leniency(Leniency {
        allow_bare_lf: true,
        ..Leniency::default()
    });
    let ev = server_events(lenient, input);
    assert_eq!(error_of(&ev), None);
    assert_eq!(request_line(&ev, 1).1, "/2");
    assert_eq!(error_of(&events(input)), Some(Error::BareLineFeed));
    // Empty lines alone, then the close, end the connection cleanly; with
    // the flag a bare LF is such a line too.
    let ev = server_events(lenient, b"\n\r\n\n");
    assert_eq!(ev, [Owned::ConnectionClosed]);
    assert_eq!(error_of(&events(b"\n")), Some(Error::BareLineFeed));
    // Before a request, such lines are skipped and the request read.
    let before = b"\r\n\n\n\nGET /x HTTP/1.1\nHost: a\n\n";
    let ev = server_events(lenient, before);
    assert_eq!(error_of(&ev), None);
    assert_eq!(request_line(&ev, 0).1, "/x");
    assert_eq!(error_of(&events(before)), Some(Error::BareLineFeed));
}

/// `allow_bare_lf` takes LF alone as a line end, never CR alone: a bare CR
/// in a field, opening a field line or in a trailer is refused all the
/// same. (A hop that ends lines at CR reads `X: 1\rContent-Length: 5` as
/// two fields.)
#[test]
fn bare_cr_is_refused_even_with_the_bare_lf_leniency() {
    let lenient = with_leniency(Leniency {
        allow_bare_lf: true,
        ..Leniency::default()
    });
    for input in [
        &b"GET / HTTP/1.1\nHost: a\nX: 1\rContent-Length: 5\n\nhello"[..],
        b"GET / HTTP/1.1\nHost: a\n\rZGET /evil HTTP/1.1\nHost: a\n\n",
        b"POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n0\r\nX: a\rb\n\n",
    ] {
        let ev = server_events(lenient, input);
        assert_eq!(
            error_of(&ev),
            Some(Error::BareCarriageReturn),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(bodies(&ev).iter().all(Vec::is_empty), "{ev:?}");
    }
}

/// `allow_bare_lf` is for heads (and trailers): the body of a request whose
/// head ends its lines in LF is still framed by CRLF alone. Read otherwise,
/// `1;a\nX\r\n` is one byte of data to us and an extension `;a\nX` to a hop
/// that ends chunk lines at CRLF only (Go's CVE-2025-22871).
#[test]
fn bare_lf_leniency_stops_at_the_chunk_lines() {
    let lenient = with_leniency(Leniency {
        allow_bare_lf: true,
        ..Leniency::default()
    });
    let head = "POST /u HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n";
    let ev = server_events(lenient, format!("{head}1;a\nX\r\n0\r\n\r\n").as_bytes());
    assert_eq!(error_of(&ev), Some(Error::BareLineFeed));
    assert_eq!(bodies(&ev), Vec::<Vec<u8>>::new());
    let ev = server_events(lenient, format!("{head}1\r\nX\n0\r\n\r\n").as_bytes());
    assert_eq!(error_of(&ev), Some(Error::MissingChunkDataCrlf));
    let ev = server_events(lenient, format!("{head}1\r\nX\r\n0\r\n\r\n").as_bytes());
    assert_eq!(error_of(&ev), None);
    assert_eq!(bodies(&ev), vec![b"X".to_vec()]);
}

#[test]
fn a_request_line_ending_in_a_bare_lf_is_measured_without_a_cr() {
    let config = Config {
        limits: Limits {
            max_request_target_bytes: 100,
            ..Limits::default()
        },
        leniency: Leniency {
            allow_bare_lf: true,
            ..Leniency::default()
        },
    };
    // A request line as long as allowed (the target limit plus 64 bytes) when it
    // ends in LF alone, one byte too long with CRLF: the same verdict however the
    // head arrives (`server_events` compares four splits).
    let method = "M".repeat(53);
    let target = format!("/{}", "t".repeat(99));
    let line = format!("{method} {target} HTTP/1.1\n");
    assert_eq!(line.len(), 100 + 64);
    let ev = server_events(config, format!("{line}Host: a\n\n").as_bytes());
    assert_eq!(error_of(&ev), None);
    assert_eq!(request_line(&ev, 0).1, target);
    let crlf = format!("{method} {target} HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        error_of(&server_events(config, crlf.as_bytes())),
        Some(Error::RequestTargetTooLong)
    );
}

#[test]
fn head_size_limit_is_enforced_at_the_same_byte_whatever_the_split() {
    let config = Config {
        limits: Limits {
            max_head_bytes: 64,
            ..Limits::default()
        },
        ..Config::default()
    };
    // Exactly 64 bytes of head is accepted...
    let mut ok = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
    ok.resize(60, b'x');
    ok.extend_from_slice(b"\r\n\r\n");
    assert_eq!(ok.len(), 64);
    assert_eq!(error_of(&server_events(config, &ok)), None);
    // ...one more byte is not, and a head with no end is stopped at the limit.
    let mut big = ok.clone();
    big.insert(30, b'x');
    assert_eq!(
        error_of(&server_events(config, &big)),
        Some(Error::HeadTooLarge)
    );
    let endless = vec![b'a'; 10_000];
    let mut endless_head = b"GET / HTTP/1.1\r\nX: ".to_vec();
    endless_head.extend_from_slice(&endless);
    assert_eq!(
        error_of(&server_events(config, &endless_head)),
        Some(Error::HeadTooLarge)
    );
}

/// A head limit below the request line's leaves that line bounded by it:
/// a line that runs past it is the target too long (414), under any split; a
/// head that outgrows it with its fields is too large (431).
#[test]
fn a_request_line_that_fills_a_smaller_head_limit_is_414() {
    let config = Config {
        limits: Limits {
            max_head_bytes: 1024,
            ..Limits::default()
        },
        ..Config::default()
    };
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(2000));
    assert_eq!(
        error_of(&server_events(config, long_line.as_bytes())),
        Some(Error::RequestTargetTooLong)
    );
    let long_field = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "a".repeat(2000)
    );
    assert_eq!(
        error_of(&server_events(config, long_field.as_bytes())),
        Some(Error::HeadTooLarge)
    );
    // Empty lines before the line: up to half the limit, the line running
    // past it is still 414; beyond half, the head is too large.
    for (empty_lines, verdict) in [
        (256, Error::RequestTargetTooLong),
        (257, Error::HeadTooLarge),
    ] {
        let input = format!("{}{long_line}", "\r\n".repeat(empty_lines));
        assert_eq!(
            error_of(&server_events(config, input.as_bytes())),
            Some(verdict),
            "{empty_lines} empty lines"
        );
    }
    // With a line cap of 100 bytes (a 36-byte target and the line's
    // overhead), empty lines that leave less room than that: past 922 bytes
    // of them the line's cap reaches the head's end, and the head is what is
    // too large; up to there, the line is.
    let short_targets = Config {
        limits: Limits {
            max_head_bytes: 1024,
            max_request_target_bytes: 36,
            ..Limits::default()
        },
        ..Config::default()
    };
    for (empty_lines, verdict) in [
        (461, Error::RequestTargetTooLong),
        (462, Error::HeadTooLarge),
    ] {
        let input = format!("{}{long_line}", "\r\n".repeat(empty_lines));
        assert_eq!(
            error_of(&server_events(short_targets, input.as_bytes())),
            Some(verdict),
            "{empty_lines} empty lines before a short line cap"
        );
    }
    // A line that ends within the limit, with no room for the rest: 431.
    let filling_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(1000));
    assert_eq!(
        error_of(&server_events(config, filling_line.as_bytes())),
        Some(Error::HeadTooLarge)
    );
}

/// Empty lines before a request count toward the head limit; when they
/// fill it exactly, the byte after them is past the limit, whatever it is:
/// one that could not begin a request line is not looked at, as it is not
/// when the limit is reached before it arrives. (Found by fuzzing: whole,
/// the bad first byte was named; byte by byte, the limit.)
#[test]
fn empty_lines_that_fill_the_head_limit_leave_nothing_after_them_to_judge() {
    let config = Config {
        limits: Limits {
            max_head_bytes: 64,
            ..Limits::default()
        },
        ..Config::default()
    };
    for next in [&b"\x0e"[..], b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"] {
        let mut input = b"\r\n".repeat(32);
        input.extend_from_slice(next);
        assert_eq!(
            error_of(&server_events(config, &input)),
            Some(Error::HeadTooLarge),
            "{next:?}"
        );
    }
    // One empty line fewer, the byte after them is within the limit.
    let mut input = b"\r\n".repeat(31);
    input.extend_from_slice(b"\x0e");
    assert_eq!(
        error_of(&server_events(config, &input)),
        Some(Error::InvalidRequestLine)
    );
}

#[test]
fn header_count_limit() {
    let config = Config {
        limits: Limits {
            max_headers: 3,
            ..Limits::default()
        },
        ..Config::default()
    };
    let three = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_eq!(error_of(&server_events(config, three)), None);
    let four = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(
        error_of(&server_events(config, four)),
        Some(Error::TooManyHeaders)
    );
}

/// The trailer section has its own byte limit, met at the same byte however
/// the input is split (each case runs whole, byte by byte and in pieces).
#[test]
fn trailer_byte_limit() {
    let config = Config {
        limits: Limits {
            max_trailer_bytes: 64,
            ..Limits::default()
        },
        ..Config::default()
    };
    let with_trailers = |value_len: usize| {
        let mut input =
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
                .to_vec();
        input.extend_from_slice(b"Checksum: ");
        input.extend(std::iter::repeat_n(b'c', value_len));
        input.extend_from_slice(b"\r\n\r\n");
        input
    };
    // "Checksum: " (10) + value + CRLF: 64 bytes of fields (the final CRLF
    // is not counted).
    let ev = server_events(config, &with_trailers(52));
    assert_eq!(error_of(&ev), None);
    assert!(ev.iter().any(|e| matches!(
        e,
        Owned::End { trailers } if trailers.len() == 1 && trailers[0].1.len() == 52
    )));
    assert_eq!(
        error_of(&server_events(config, &with_trailers(53))),
        Some(Error::TrailersTooLarge)
    );
    // A limit of 0 allows no trailer field, and a body without any still ends.
    let none = Config {
        limits: Limits {
            max_trailer_bytes: 0,
            ..Limits::default()
        },
        ..Config::default()
    };
    let bare =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    let ev = server_events(none, bare);
    assert_eq!(error_of(&ev), None);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Owned::End { trailers } if trailers.is_empty()))
    );
    assert_eq!(
        error_of(&server_events(none, &with_trailers(0))),
        Some(Error::TrailersTooLarge)
    );
    // Under the default 8 KiB, a trailer section of 16 KiB is refused too.
    assert_eq!(
        error_of(&server_events(Config::default(), &with_trailers(16 * 1024))),
        Some(Error::TrailersTooLarge)
    );
}

/// The leniencies named for responses leave requests strict: a server with
/// every one of them on still refuses obs-fold, a space before a colon and a
/// padded chunk line.
#[test]
fn response_leniencies_do_not_apply_to_requests() {
    let lenient = with_leniency(Leniency {
        allow_obs_fold_in_responses: true,
        allow_space_before_colon_in_responses: true,
        allow_padded_chunk_lines_in_responses: true,
        ..Leniency::default()
    });
    assert_eq!(
        error_of(&server_events(
            lenient,
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n"
        )),
        Some(Error::ObsoleteLineFolding)
    );
    assert_eq!(
        error_of(&server_events(
            lenient,
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"
        )),
        Some(Error::InvalidChunkSize)
    );
    assert_eq!(
        error_of(&server_events(
            lenient,
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello"
        )),
        Some(Error::InvalidHeaderName)
    );
}

#[test]
fn request_target_limit() {
    let config = Config {
        limits: Limits {
            max_request_target_bytes: 100,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut fits = b"GET /".to_vec();
    fits.resize(104, b'a');
    fits.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(error_of(&server_events(config, &fits)), None);
    let mut long = b"GET /".to_vec();
    long.resize(106, b'a');
    long.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        error_of(&server_events(config, &long)),
        Some(Error::RequestTargetTooLong)
    );
    // A request line that never ends is cut off soon after the target limit, long
    // before the head limit.
    let mut endless = b"GET /".to_vec();
    endless.resize(5000, b'a');
    assert_eq!(
        error_of(&server_events(config, &endless)),
        Some(Error::RequestTargetTooLong)
    );
}

#[test]
fn body_limit_applies_to_declared_and_chunked_lengths() {
    let config = Config {
        limits: Limits {
            max_body_bytes: 10,
            ..Limits::default()
        },
        ..Config::default()
    };
    let declared = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    assert_eq!(
        error_of(&server_events(config, declared)),
        Some(Error::BodyTooLarge)
    );
    let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\naaaaaa\r\n6\r\naaaaaa\r\n0\r\n\r\n";
    assert_eq!(
        error_of(&server_events(config, chunked)),
        Some(Error::BodyTooLarge)
    );
    let fits = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
    assert_eq!(
        bodies(&server_events(config, fits)),
        vec![b"0123456789".to_vec()]
    );
}

#[test]
fn a_head_that_overflows_a_short_array_asks_for_a_larger_one() {
    use lithe::proto::{Connection, EMPTY_HEADER, Event, Received};
    let head: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\nGET /next HTTP/1.1\r\n";
    let head_len = head.len() - b"GET /next HTTP/1.1\r\n".len();
    let full = || Received {
        consumed: 0,
        event: Event::HeadersFull,
    };
    // Whole: the first attempt says so at once, and nothing is lost by it.
    let mut conn = Connection::server(Config::default());
    assert_eq!(conn.receive(head, &mut [EMPTY_HEADER; 2]), Ok(full()));
    let mut large = [EMPTY_HEADER; 3];
    let received = conn.receive(head, &mut large).expect("the head fits 3");
    assert_eq!(received.consumed, head_len);
    let Event::Request(request) = received.event else {
        panic!("{received:?}")
    };
    assert_eq!(request.header("b"), Some(&b"2"[..]));

    // Byte by byte: NeedData until the head is whole, then the same answer, and
    // the retry with a larger array starts over from the head's first byte.
    let mut conn = Connection::server(Config::default());
    let mut small = [EMPTY_HEADER; 2];
    let first_not_need_data =
        (1..=head_len).find_map(|end| match conn.receive(&head[..end], &mut small) {
            Ok(Received {
                event: Event::NeedData,
                consumed: 0,
            }) => None,
            other => Some((end, other.map(|r| r.event == Event::HeadersFull))),
        });
    assert_eq!(first_not_need_data, Some((head_len, Ok(true))));
    let received = conn
        .receive(&head[..head_len], &mut large)
        .expect("the head fits 3");
    assert_eq!(received.consumed, head_len);
    assert!(matches!(received.event, Event::Request(_)), "{received:?}");

    // An array as long as the limit is the limit: past it is an error.
    let config = Config {
        limits: Limits {
            max_headers: 2,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut conn = Connection::server(config);
    assert_eq!(
        conn.receive(head, &mut [EMPTY_HEADER; 2]),
        Err(Error::TooManyHeaders)
    );
}

/// Empty lines before a request are ignored (RFC 9112 §2.2): a client that
/// ends a body with an extra CRLF and then closes ends the connection
/// cleanly, not with an incomplete message.
#[test]
fn an_extra_line_end_after_a_body_then_the_close_is_a_clean_end() {
    let ev = events(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\n");
    assert_eq!(error_of(&ev), None, "{ev:?}");
    assert_eq!(bodies(&ev), vec![b"hi".to_vec()]);
    assert_eq!(ev.last(), Some(&Owned::ConnectionClosed));
    // A line end cut short is no empty line: a CR alone before the close
    // (which would refuse a request that followed it) is an error too.
    let ev = events(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r");
    assert_eq!(error_of(&ev), Some(Error::IncompleteMessage));
    // A request begun and cut off stays an error.
    let ev = events(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\nGET");
    assert_eq!(error_of(&ev), Some(Error::IncompleteMessage));
}

/// With a short array, whole input and input in pieces agree: `HeadersFull`
/// only for a head that is complete and breaks no rule the scanner checks, so
/// a caller that answers it with 431 answers the same whatever the split.
#[test]
fn a_short_array_gets_the_same_answer_whole_and_in_pieces() {
    use lithe::proto::{Connection, EMPTY_HEADER, Event, Received};
    /// What a connection says with a 2-field array to `input` given whole,
    /// and given one byte more each time (the first answer that is not
    /// `NeedData`).
    fn answers(input: &[u8]) -> [Result<Event<'static, 'static>, Error>; 2] {
        fn owned(r: Result<Received<'_, '_>, Error>) -> Result<Event<'static, 'static>, Error> {
            r.map(|r| match r.event {
                Event::NeedData => Event::NeedData,
                Event::HeadersFull => Event::HeadersFull,
                other => panic!("{other:?}"),
            })
        }
        let whole =
            owned(Connection::server(Config::default()).receive(input, &mut [EMPTY_HEADER; 2]));
        let mut conn = Connection::server(Config::default());
        let in_pieces = (1..=input.len())
            .map(|end| owned(conn.receive(&input[..end], &mut [EMPTY_HEADER; 2])))
            .find(|answer| *answer != Ok(Event::NeedData))
            .unwrap_or(Ok(Event::NeedData));
        [whole, in_pieces]
    }
    let start = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n";
    // Not complete yet: more is needed, whatever the array.
    assert_eq!(answers(start), [Ok(Event::NeedData), Ok(Event::NeedData)]);
    let mut complete = start.to_vec();
    complete.extend_from_slice(b"\r\n");
    assert_eq!(
        answers(&complete),
        [Ok(Event::HeadersFull), Ok(Event::HeadersFull)]
    );
    // Past the limit on the head's size, or with a bare LF after the fields the
    // array holds: the rule, either way.
    let mut too_large = start.to_vec();
    while too_large.len() <= 16 * 1024 {
        too_large.extend_from_slice(b"X-Filler: 0123456789abcdef\r\n");
    }
    too_large.extend_from_slice(b"\r\n");
    assert_eq!(
        answers(&too_large),
        [Err(Error::HeadTooLarge), Err(Error::HeadTooLarge)]
    );
    let mut bare_lf = start.to_vec();
    bare_lf.extend_from_slice(b"C: 3\n\r\n");
    assert_eq!(
        answers(&bare_lf),
        [Err(Error::BareLineFeed), Err(Error::BareLineFeed)]
    );
    // A bare CR inside a field line past the array: the scanner refuses it
    // before the array's length is looked at.
    let mut bare_cr = start.to_vec();
    bare_cr.extend_from_slice(b"C: x\ry\r\n\r\n");
    assert_eq!(
        answers(&bare_cr),
        [
            Err(Error::BareCarriageReturn),
            Err(Error::BareCarriageReturn)
        ]
    );
}

#[test]
fn a_trailer_section_that_overflows_a_short_array_asks_for_a_larger_one() {
    use lithe::proto::{ChunkedDecoder, Connection, Decoded, EMPTY_HEADER, Event};
    let head: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let body: &[u8] = b"3\r\nabc\r\n0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let framing = b"3\r\nabc\r\n0\r\n".len();

    // Through a connection: the data, then HeadersFull having consumed only
    // the framing, then the whole section with a larger array.
    let mut conn = Connection::server(Config::default());
    let mut fields = [EMPTY_HEADER; 4];
    let received = conn.receive(head, &mut fields).expect("the head parses");
    assert!(matches!(received.event, Event::Request(_)));
    let mut small = [EMPTY_HEADER; 2];
    let received = conn.receive(body, &mut small).expect("data");
    assert_eq!(received.event, Event::Data(b"abc"));
    let rest = &body[received.consumed..];
    let mut small = [EMPTY_HEADER; 2];
    let received = conn.receive(rest, &mut small).expect("full");
    assert_eq!(received.event, Event::HeadersFull);
    let (consumed, section) = (received.consumed, &rest[received.consumed..]);
    assert_eq!(body.len() - rest.len() + consumed, framing);
    let mut large = [EMPTY_HEADER; 3];
    let received = conn
        .receive(section, &mut large)
        .expect("the section fits 3");
    assert_eq!(received.consumed, section.len());
    let Event::End { trailers: got } = received.event else {
        panic!("{received:?}")
    };
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].value, b"3");

    // Any split, with the three-way helper growing its array from 16: 40
    // fields end the body the same way.
    let mut many = Vec::from(head);
    many.extend_from_slice(b"3\r\nabc\r\n0\r\n");
    let mut expected = Vec::new();
    for i in 0..40 {
        many.extend_from_slice(format!("T-{i}: {i}\r\n").as_bytes());
        expected.push((format!("T-{i}"), i.to_string().into_bytes()));
    }
    many.extend_from_slice(b"\r\n");
    let ev = events(&many);
    assert_eq!(bodies(&ev), vec![b"abc".to_vec()]);
    assert!(ev.contains(&Owned::End { trailers: expected }), "{ev:?}");

    // The decoder alone: byte by byte, NeedData until the section is whole,
    // then TrailersFull, and the retry from the section's first byte.
    let mut decoder = ChunkedDecoder::default();
    let mut buf = Vec::new();
    let mut full_at = None;
    for (i, &byte) in body.iter().enumerate() {
        buf.push(byte);
        let mut one = [EMPTY_HEADER; 1];
        let (consumed, decoded) = decoder.decode(&buf, &mut one).unwrap();
        let full = decoded == Decoded::TrailersFull;
        buf.drain(..consumed);
        if full {
            full_at = Some(i + 1);
            break;
        }
    }
    assert_eq!(full_at, Some(body.len()));
    let mut large = [EMPTY_HEADER; 3];
    let (consumed, decoded) = decoder.decode(&buf, &mut large).unwrap();
    assert_eq!(consumed, buf.len());
    assert!(matches!(decoded, Decoded::End { trailers } if trailers.len() == 3));
    assert!(decoder.is_done());

    // An array as long as the limit is the limit: past it is an error.
    let config = Config {
        limits: Limits {
            max_headers: 2,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut input = Vec::from(head);
    input.extend_from_slice(body);
    assert_eq!(
        error_of(&server_events(config, &input)),
        Some(Error::TooManyHeaders)
    );
}

/// The chunked decoder's own limits, leniency and end: a body as long as
/// `max_body_bytes` is read and one byte more refused, across chunks too;
/// extension bytes count against the per-body limit across chunks; LF alone
/// ends no chunk line and no chunk data, with `allow_bare_lf` or without, and
/// ends trailer lines only with it; `is_done` only at the end.
#[test]
fn the_chunked_decoder_holds_its_limits_and_leniency() {
    use lithe::proto::{ChunkedDecoder, Decoded, EMPTY_HEADER};
    /// Decodes `input` whole: the data, and whether the body ended.
    fn decode(limits: Limits, leniency: Leniency, input: &[u8]) -> Result<(Vec<u8>, bool), Error> {
        let mut decoder = ChunkedDecoder::new(limits, leniency);
        let (mut body, mut rest) = (Vec::new(), input);
        loop {
            let mut trailers = [EMPTY_HEADER; 4];
            let (consumed, decoded) = decoder.decode(rest, &mut trailers)?;
            rest = &rest[consumed..];
            match decoded {
                Decoded::Data(data) => body.extend_from_slice(data),
                Decoded::End { .. } => {
                    assert!(decoder.is_done());
                    return Ok((body, true));
                }
                _ => {
                    assert!(!decoder.is_done());
                    return Ok((body, false));
                }
            }
        }
    }
    let strict = Leniency::default();
    let ten = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let whole = |data: &str| Ok((data.as_bytes().to_vec(), true));
    assert_eq!(
        decode(ten, strict, b"a\r\n0123456789\r\n0\r\n\r\n"),
        whole("0123456789")
    );
    assert_eq!(
        decode(ten, strict, b"b\r\n0123456789a\r\n0\r\n\r\n"),
        Err(Error::BodyTooLarge)
    );
    assert_eq!(
        decode(ten, strict, b"5\r\n01234\r\n6\r\n"),
        Err(Error::BodyTooLarge)
    );
    // Sizes summing past 2^64 are past any limit, not wrapped back under it.
    assert_eq!(
        decode(ten, strict, b"1\r\nx\r\nffffffffffffffff\r\n"),
        Err(Error::BodyTooLarge)
    );
    assert_eq!(
        decode(ten, strict, b"5\r\n01234"),
        Ok((b"01234".to_vec(), false))
    );

    // Five extension bytes a chunk: two fit in ten, the third does not.
    let extensions = Limits {
        max_chunk_extension_bytes_per_body: 10,
        ..Limits::default()
    };
    let two = b"1;abcd\r\nx\r\n1;abcd\r\ny\r\n0\r\n\r\n";
    assert_eq!(decode(extensions, strict, two), whole("xy"));
    let three = b"1;abcd\r\nx\r\n1;abcd\r\ny\r\n1;abcd\r\nz\r\n0\r\n\r\n";
    assert_eq!(
        decode(extensions, strict, three),
        Err(Error::ChunkExtensionsTooLong)
    );
    // Malformed is not too long: named apart.
    assert_eq!(
        decode(extensions, strict, b"1;a b\r\nx\r\n0\r\n\r\n"),
        Err(Error::InvalidChunkExtension)
    );

    // A bare LF ends no chunk line, nor a chunk's data, even where heads may
    // end lines with one (RFC 9112 §2.2 allows it in the start line and
    // fields only): a hop ending chunk lines at CRLF alone reads `;x\nabc`
    // as an extension. Trailer fields are fields: there it is taken.
    let lenient = Leniency {
        allow_bare_lf: true,
        ..Leniency::default()
    };
    for chunk_line_feed_alone in [
        &b"3\nabc\r\n0\r\n\r\n"[..],
        b"3;x\nabc\r\n0\r\n\r\n",
        b"3\r\nabc\r\n0\n\r\n",
        b"3\r\nabc\n0\r\n\r\n",
    ] {
        for leniency in [strict, lenient] {
            let expected = match chunk_line_feed_alone.starts_with(b"3\r\nabc\n") {
                true => Error::MissingChunkDataCrlf,
                false => Error::BareLineFeed,
            };
            assert_eq!(
                decode(Limits::default(), leniency, chunk_line_feed_alone),
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(chunk_line_feed_alone)
            );
        }
    }
    // A bare CR in a trailer section is named as in a head, also when the
    // section has more fields than the array offered (4 here): the same
    // error whatever array the caller gives.
    assert_eq!(
        decode(
            Limits::default(),
            strict,
            b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\rx\r\n\r\n"
        ),
        Err(Error::BareCarriageReturn)
    );
    let bare_trailers = b"3\r\nabc\r\n0\r\nExpires: never\n\n";
    assert_eq!(
        decode(Limits::default(), lenient, bare_trailers),
        whole("abc")
    );
    assert_eq!(
        decode(Limits::default(), strict, bare_trailers),
        Err(Error::BareLineFeed)
    );
}

/// The decoder alone, used outside a connection (a proxy relaying a body,
/// a device reading one from a buffer with more behind it): at its end it
/// stops before the next message's first byte, and asked again it says End
/// once more and takes nothing, rather than reading on as a chunk line.
#[test]
fn a_chunked_decoder_after_its_end_consumes_nothing() {
    use lithe::proto::{ChunkedDecoder, Decoded, EMPTY_HEADER};
    let input = b"3\r\nabc\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    let next = input.len() - b"GET / HTTP/1.1\r\n\r\n".len();
    let mut decoder = ChunkedDecoder::default();
    let mut trailers = [EMPTY_HEADER; 2];
    let mut at = 0;
    let mut data = Vec::new();
    loop {
        let (consumed, decoded) = decoder.decode(&input[at..], &mut trailers).unwrap();
        at += consumed;
        match decoded {
            Decoded::Data(piece) => data.extend_from_slice(piece),
            Decoded::End { trailers } => {
                assert_eq!(trailers.len(), 1);
                assert_eq!((trailers[0].name, trailers[0].value), ("T", &b"v"[..]));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((data.as_slice(), at), (&b"abc"[..], next));
    for _ in 0..2 {
        let mut again = [EMPTY_HEADER; 2];
        let (consumed, decoded) = decoder.decode(&input[at..], &mut again).unwrap();
        assert_eq!(consumed, 0);
        assert!(
            matches!(decoded, Decoded::End { trailers: [] }),
            "{decoded:?}"
        );
        assert!(decoder.is_done());
    }
}

/// The default limits are the documented ones (`Limits`' rustdoc), each
/// reached exactly: a 16 KiB head, an 8 KiB target, 8 KiB of trailer fields
/// and 1 KiB of extensions on a chunk line are taken, one byte more is
/// refused with the limit's error, which names the status a server answers
/// (431 for what is part of a field section, RFC 6585 §5; 414 for a target,
/// RFC 9110 §15.5.15; 400 for a chunk line).
#[test]
fn the_default_limits_are_the_documented_ones() {
    // A head of `len` bytes: its filler field takes what the rest leaves.
    let head_of = |len: usize| {
        let fixed = "GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n".len();
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(len - fixed)
        )
    };
    let target_of =
        |len: usize| format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "t".repeat(len - 1));
    // Trailer fields of `len` bytes, line end included, then the empty line.
    let trailers_of = |len: usize| {
        let fixed = "X: \r\n".len();
        format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: {}\r\n\r\n",
            "v".repeat(len - fixed)
        )
    };
    // A chunk line with `len` bytes of extensions, its `;` the first.
    let extensions_of = |len: usize| {
        format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
             2;{}\r\nhi\r\n0\r\n\r\n",
            "a".repeat(len - 1)
        )
    };
    type MessageOf = fn(usize) -> String;
    let cases: [(&str, MessageOf, usize, Error, u16); 4] = [
        ("head", head_of, 16 * 1024, Error::HeadTooLarge, 431),
        (
            "target",
            target_of,
            8 * 1024,
            Error::RequestTargetTooLong,
            414,
        ),
        (
            "trailers",
            trailers_of,
            8 * 1024,
            Error::TrailersTooLarge,
            431,
        ),
        (
            "chunk extensions",
            extensions_of,
            1024,
            Error::ChunkExtensionsTooLong,
            400,
        ),
    ];
    // Every field, those without a case above included.
    assert_eq!(
        Limits::DEFAULT,
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_request_target_bytes: 8 * 1024,
            max_chunk_extension_bytes: 1024,
            max_chunk_extension_bytes_per_body: 16 * 1024,
            max_trailer_bytes: 8 * 1024,
            max_body_bytes: u64::MAX,
            max_interim_responses: 100,
        }
    );
    for (what, message_of, limit, error, status) in cases {
        let at_limit = events(message_of(limit).as_bytes());
        assert_eq!(error_of(&at_limit), None, "{what} of {limit} bytes");
        let over = events(message_of(limit + 1).as_bytes());
        assert_eq!(
            error_of(&over),
            Some(error),
            "{what} of {} bytes",
            limit + 1
        );
        assert_eq!(error.status().as_u16(), status, "{what}: {error:?}");
    }
}

/// A limit of 0 allows nothing, the same for each: no header field (so no
/// HTTP/1.1 request, which must carry Host; an HTTP/1.0 one without fields
/// passes), and no body byte however the body is framed.
#[test]
fn zero_limits_allow_nothing() {
    let with = |limits: Limits| Config {
        limits,
        ..Config::default()
    };
    let no_fields = with(Limits {
        max_headers: 0,
        ..Limits::default()
    });
    let refused = server_events(no_fields, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(error_of(&refused), Some(Error::TooManyHeaders));
    let served = server_events(no_fields, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(error_of(&served), None);

    let no_body = with(Limits {
        max_body_bytes: 0,
        ..Limits::default()
    });
    for request in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"[..],
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    ] {
        let refused = server_events(no_body, request);
        assert_eq!(
            error_of(&refused),
            Some(Error::BodyTooLarge),
            "{}",
            String::from_utf8_lossy(request)
        );
    }
    let empty = server_events(
        no_body,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(error_of(&empty), None);
}

/// A request line whose first byte cannot begin a method (a token) is
/// refused as soon as that byte arrives: a TLS ClientHello sent to a plain
/// port has no line end within the first-line cap, and would otherwise wait
/// out the head timeout. Without the peer's close here, so that nothing but
/// the first byte can decide; the same however the bytes arrive.
#[test]
fn a_request_line_that_cannot_begin_a_method_is_refused_at_its_first_byte() {
    let hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    for input in [
        &hello[..],
        b"\x00",
        b" GET / HTTP/1.1",
        b"\r\n\r\n{GET",
        b"\x7f",
    ] {
        for split in [Split::Whole, Split::ByteByByte] {
            let mut conn = Connection::server(Config::default());
            let events = drive(&mut conn, input, split, false, answer_empty);
            assert_eq!(
                error_of(&events),
                Some(Error::InvalidRequestLine),
                "{input:?} {split:?}: {events:?}"
            );
        }
    }
    // A token's first byte waits for the rest of the line, as before.
    for input in [&b"G"[..], b"\r\n!", b"~GET"] {
        let mut conn = Connection::server(Config::default());
        let events = drive(&mut conn, input, Split::ByteByByte, false, answer_empty);
        assert_eq!(
            events.last(),
            Some(&Owned::NeedData),
            "{input:?}: {events:?}"
        );
    }
}

/// A CR is a line end only with the LF right after it (RFC 9112 §2.2): a
/// peer ending lines with CR alone (old Mac style) is refused as soon as
/// the byte after a CR arrives, not left to wait out the head or body
/// timeout for an LF that never comes. In the start line, a field line and
/// a trailer line; a CR that is the last byte so far may still be a line
/// end, and waits.
#[test]
fn a_bare_cr_is_refused_when_the_byte_after_it_arrives() {
    let server = || Connection::server(Config::default());
    for input in [
        &b"GET / HTTP/1.1\rHost: a\r\r"[..],
        b"GET / HTTP/1.0\r\nContent-Length: 0\rConnection: close\r\r",
        b"GET /a\rb HTTP/1.1\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\rY: b\r\r",
    ] {
        let events = unclosed_two_ways(server, input, answer_empty);
        assert_eq!(
            error_of(&events),
            Some(Error::BareCarriageReturn),
            "{input:?}: {events:?}"
        );
    }
    for input in [
        &b"GET / HTTP/1.1\r"[..],
        b"GET / HTTP/1.1\r\nHost: a\r",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r",
    ] {
        let events = unclosed_two_ways(server, input, answer_empty);
        assert_eq!(
            events.last(),
            Some(&Owned::NeedData),
            "{input:?}: {events:?}"
        );
    }
}

/// A request line is judged as soon as its line end arrives, by the rules
/// the whole head's parse applies to it: a peer that sends one bad line and
/// waits (another protocol's greeting, a version typo) is refused then, not
/// left to wait out the head timeout for a 408. Without the peer's close, so
/// that only the line can decide; the same however the bytes arrive, and the
/// same error as for that line at the head of a whole request.
#[test]
fn a_request_line_is_judged_when_its_line_ends() {
    let config = Config {
        limits: Limits {
            max_request_target_bytes: 16,
            ..Limits::default()
        },
        ..Config::default()
    };
    let server = || Connection::server(config);
    for (line, error) in [
        (&b"GET / HTTP1.1\r\n"[..], Error::InvalidVersion),
        (b"GET / HTTP/2.0\r\n", Error::UnsupportedVersion),
        (b"GET /x HTTP/1.1 extra\r\n", Error::InvalidRequestLine),
        (b"SSH-2.0-OpenSSH_9.6\r\n", Error::InvalidRequestLine),
        (b"PING\r\n", Error::InvalidRequestLine),
        (b"GET /\x01 HTTP/1.1\r\n", Error::InvalidRequestTarget),
        (b"CONNECT /path HTTP/1.1\r\n", Error::InvalidRequestTarget),
        (
            b"GET /a-17-byte-target HTTP/1.1\r\n",
            Error::RequestTargetTooLong,
        ),
        (b"\r\nGET / HTTP/1.1 \r\n", Error::InvalidRequestLine),
    ] {
        let shown = String::from_utf8_lossy(line);
        let events = unclosed_two_ways(server, line, answer_empty);
        assert_eq!(error_of(&events), Some(error), "{shown}: {events:?}");
        let whole = [line, b"Host: a\r\n\r\n"].concat();
        assert_eq!(
            error_of(&server_events(config, &whole)),
            Some(error),
            "{shown}"
        );
    }
    // A line that passes waits for the fields, as before.
    for line in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"\r\nCONNECT a:443 HTTP/1.1\r\n",
        b"GET http://a/b HTTP/1.0\r\nHost: a\r\n",
        b"OPTIONS * HTTP/1.1\r\n",
    ] {
        let events = unclosed_two_ways(server, line, answer_empty);
        assert_eq!(
            events.last(),
            Some(&Owned::NeedData),
            "{line:?}: {events:?}"
        );
    }
}

/// Trailer fields as names and values owned.
type OwnedFields = Vec<(String, Vec<u8>)>;

/// `input` fed to `conn` through `buffer` as room allows, each consumed
/// piece dropped from it, to the end of the message: its body's bytes and
/// the trailer fields that ended it, or the error. It asserts that `conn`
/// never waits for more with the buffer full.
fn through_fixed_buffer(
    conn: &mut Connection,
    buffer: &mut [u8],
    input: &[u8],
) -> Result<(Vec<u8>, OwnedFields), Error> {
    let (mut filled, mut fed) = (0, 0);
    let mut body = Vec::new();
    loop {
        let room = (buffer.len() - filled).min(input.len() - fed);
        buffer[filled..filled + room].copy_from_slice(&input[fed..fed + room]);
        filled += room;
        fed += room;
        let mut headers = [lithe::proto::EMPTY_HEADER; 16];
        let received = conn.receive(&buffer[..filled], &mut headers)?;
        let consumed = received.consumed;
        match received.event {
            Event::Data(data) => body.extend_from_slice(data),
            Event::End { trailers } => {
                let trailers = trailers
                    .iter()
                    .map(|field| (field.name.to_owned(), field.value.to_vec()))
                    .collect();
                return Ok((body, trailers));
            }
            Event::NeedData => {
                assert!(
                    filled - consumed < buffer.len(),
                    "NeedData with the buffer full"
                );
                assert!(fed < input.len(), "NeedData with nothing left");
            }
            Event::Request(_) => {}
            other => panic!("{other:?}"),
        }
        buffer.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

/// What [`Limits`]' docs promise an embedded caller: with the head and
/// trailer limits within a fixed buffer that drops what is consumed, every
/// message is either read through it or refused by a limit, never left
/// waiting with the buffer full (chunk lines, extensions included, and data
/// are consumed as they arrive).
#[test]
fn limits_within_a_fixed_buffer_refuse_before_it_fills() {
    const BUFFER: usize = 1024;
    let config = Config {
        limits: Limits {
            max_head_bytes: BUFFER,
            max_trailer_bytes: BUFFER - 2,
            max_headers: 16,
            ..Limits::default()
        },
        ..Config::default()
    };
    // The input fed through a `BUFFER`-byte buffer as room allows: the
    // body's bytes, or the error.
    let through_buffer = |input: &[u8]| -> Result<Vec<u8>, Error> {
        let mut conn = Connection::server(config);
        through_fixed_buffer(&mut conn, &mut [0u8; BUFFER], input).map(|(body, _)| body)
    };
    let head = |fields: usize| {
        format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX: {}\r\n\r\n",
            "h".repeat(fields)
        )
    };
    let trailer = |bytes: usize| format!("T: {}\r\n", "t".repeat(bytes - 5));
    let data = "d".repeat(3000);
    // A chunk line longer than the buffer, all extensions (1020 bytes, within
    // their limit) but for its size: it is consumed as it arrives.
    let extension = format!(";e={}", "x".repeat(1017));
    let message = |head: String, trailer: String| {
        format!("{head}bb8{extension}\r\n{data}\r\n0\r\n{trailer}\r\n").into_bytes()
    };
    assert_eq!(
        through_buffer(&message(head(900), trailer(BUFFER - 2))),
        Ok(data.clone().into_bytes())
    );
    assert_eq!(
        through_buffer(&message(head(2000), trailer(10))),
        Err(Error::HeadTooLarge)
    );
    assert_eq!(
        through_buffer(&message(head(10), trailer(BUFFER - 1))),
        Err(Error::TrailersTooLarge)
    );
}

/// A head parsed without a connection: by the same rules (the same errors
/// as a server connection's), `None` until whole, its length with the
/// empty lines before it, and too many fields for the array an error.
#[test]
fn a_request_head_parses_alone_by_a_connections_rules() {
    use lithe::proto::{EMPTY_HEADER, RequestHead};
    let config = Config::default();
    let input = b"\r\nGET /a HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\nnext";
    let whole = input.len() - 4;
    for end in 0..whole {
        let mut fields = [EMPTY_HEADER; 4];
        assert_eq!(
            RequestHead::parse(&input[..end], &mut fields, &config),
            Ok(None),
            "{end}"
        );
    }
    let mut fields = [EMPTY_HEADER; 4];
    let (head, length) = RequestHead::parse(input, &mut fields, &config)
        .unwrap()
        .unwrap();
    assert_eq!((head.method, head.target, length), ("GET", "/a", whole));
    assert_eq!(head.header("accept"), Some(&b"*/*"[..]));

    for (bad, error) in [
        (&b"GET /a HTTP/1.1\r\n\r\n"[..], Error::MissingHost),
        (
            b"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            Error::ConflictingContentLength,
        ),
        (
            b"GET a HTTP/1.1\r\nHost: h\r\n\r\n",
            Error::InvalidRequestTarget,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
            Error::BareLineFeed,
        ),
    ] {
        let mut fields = [EMPTY_HEADER; 4];
        let alone = RequestHead::parse(bad, &mut fields, &config);
        assert_eq!(alone.err(), Some(error), "{bad:?}");
        assert_eq!(
            error_of(&server_events(config, bad)),
            Some(error),
            "{bad:?}"
        );
    }
    let mut one = [EMPTY_HEADER; 1];
    assert_eq!(
        RequestHead::parse(input, &mut one, &config),
        Err(Error::TooManyHeaders)
    );
}

/// A head kept while its body streams through the rest of one buffer, as
/// a device with one buffer keeps it: the connection says how long the
/// head is, the buffer is split there, the head parsed again from its part
/// and read while the body's part is refilled, chunk after chunk.
#[test]
fn a_head_is_kept_while_its_body_streams_through_the_same_buffer() {
    use lithe::proto::{EMPTY_HEADER, RequestHead};
    let head_bytes = b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/x; boundary=b7\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut body_wire = Vec::new();
    for piece in 0..20u8 {
        body_wire.extend_from_slice(b"10\r\n");
        body_wire.extend_from_slice(&[b'a' + piece; 16]);
        body_wire.extend_from_slice(b"\r\n");
    }
    body_wire.extend_from_slice(b"0\r\nX-Checksum: 5f2b\r\n\r\n");

    // The head's limit and the trailer section's fit the buffer together.
    let mut buf = [0u8; 160];
    buf[..head_bytes.len()].copy_from_slice(head_bytes);
    let config = Config {
        limits: Limits {
            max_head_bytes: 110,
            max_trailer_bytes: 48,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut conn = Connection::server(config);
    let mut fields = [EMPTY_HEADER; 8];
    let head_length = conn
        .receive(&buf[..head_bytes.len()], &mut fields)
        .unwrap()
        .consumed;
    assert_eq!(head_length, head_bytes.len());

    let (head_part, body_part) = buf.split_at_mut(head_length);
    let mut kept = [EMPTY_HEADER; 8];
    let (head, _) = RequestHead::parse(head_part, &mut kept, &config)
        .unwrap()
        .unwrap();
    // The body's part refilled as it is consumed, the head's left alone.
    let (body, trailers) = through_fixed_buffer(&mut conn, body_part, &body_wire).unwrap();
    assert_eq!(
        head.header("content-type"),
        Some(&b"multipart/x; boundary=b7"[..])
    );
    assert_eq!(trailers, [("X-Checksum".to_owned(), b"5f2b".to_vec())]);
    let sent: Vec<u8> = (0..20u8).flat_map(|piece| [b'a' + piece; 16]).collect();
    assert_eq!(body, sent);
}
