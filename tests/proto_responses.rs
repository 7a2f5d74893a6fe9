//! Client role: reading responses, each case four ways (whole, byte by byte,
//! 7-byte pieces, pieces of varied sizes) and, when it ends between responses
//! on a connection that persists, again with a response appended, read as its
//! own (`support::client_events`); plus the response leniency flags.

mod support;

use lithe::proto::{BodyLength, Config, EMPTY_HEADER, Error, Leniency};
use support::{
    Owned, bodies, client_after, client_events, error_of, four_ways, framing_of, no_response,
    request_next, unclosed_two_ways, with_leniency,
};

fn statuses(events: &[Owned]) -> Vec<u16> {
    events
        .iter()
        .filter_map(|e| match e {
            Owned::Response { status, .. } => Some(*status),
            _ => None,
        })
        .collect()
}

#[test]
fn interim_responses_precede_the_final_one() {
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(statuses(&ev), vec![100, 103, 200]);
    assert_eq!(bodies(&ev), vec![b"ok".to_vec()]);
    assert_eq!(ev.last(), Some(&Owned::ConnectionClosed));
}

/// An interim response has no body, whatever its fields say (RFC 9110
/// §15.2): the bytes after its head are the next response's, and a body
/// sent after it is taken for a head, and refused.
#[test]
fn an_interim_response_has_no_body_whatever_its_fields_say() {
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(statuses(&ev), vec![100, 200]);
    assert_eq!(bodies(&ev), vec![b"ok".to_vec()]);
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(statuses(&ev), vec![103]);
    assert!(error_of(&ev).is_some(), "{ev:?}");
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(error_of(&ev), Some(Error::InvalidVersion), "{ev:?}");
}

/// Interim responses to one request are bounded (a server sending them
/// without end would hold the client for ever), and the count starts again
/// with the next request.
#[test]
fn interim_responses_to_one_request_are_bounded() {
    let config = Config {
        limits: lithe::proto::Limits {
            max_interim_responses: 2,
            ..Default::default()
        },
        ..Config::default()
    };
    let interim = |n: usize| b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n".repeat(n);
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let ev = client_events(config, "GET", &[interim(2), ok.to_vec()].concat());
    assert_eq!(statuses(&ev), vec![103, 103, 200]);
    assert_eq!(error_of(&ev), None);
    let ev = client_events(config, "GET", &[interim(3), ok.to_vec()].concat());
    assert_eq!(statuses(&ev), vec![103, 103]);
    assert_eq!(error_of(&ev), Some(Error::TooManyInterimResponses));
    // A limit of 0 allows none, a 100 Continue as well; the final response
    // alone passes.
    let none = Config {
        limits: lithe::proto::Limits {
            max_interim_responses: 0,
            ..Default::default()
        },
        ..Config::default()
    };
    let continued = [&b"HTTP/1.1 100 Continue\r\n\r\n"[..], ok].concat();
    let ev = client_events(none, "GET", &continued);
    assert_eq!(
        error_of(&ev),
        Some(Error::TooManyInterimResponses),
        "{ev:?}"
    );
    let ev = client_events(none, "GET", ok);
    assert_eq!((statuses(&ev), error_of(&ev)), (vec![200], None));

    // Two requests in turn, each with as many as allowed: the count starts
    // again with each request.
    let twice = [interim(2), ok.to_vec(), interim(2), ok.to_vec()].concat();
    let ev = four_ways(|| client_after(config, "GET"), &twice, request_next);
    assert_eq!(statuses(&ev), vec![103, 103, 200, 103, 103, 200]);
    assert!(
        !ev.contains(&Owned::Error(Error::TooManyInterimResponses)),
        "{ev:?}"
    );
}

/// The largest limit bounds them too: `u16::MAX` allowed, the next refused.
#[test]
fn the_largest_interim_response_limit_is_a_limit() {
    let config = Config {
        limits: lithe::proto::Limits {
            max_interim_responses: u16::MAX,
            ..Default::default()
        },
        ..Config::default()
    };
    let mut conn = client_after(config, "GET");
    let interim = b"HTTP/1.1 102 Processing\r\n\r\n";
    let mut headers = [EMPTY_HEADER; 4];
    for _ in 0..u16::MAX {
        let received = conn.receive(interim, &mut headers).unwrap();
        assert_eq!(received.consumed, interim.len());
    }
    assert_eq!(
        conn.receive(interim, &mut headers).map(|r| r.consumed),
        Err(Error::TooManyInterimResponses)
    );
}

#[test]
fn chunked_response_with_trailers() {
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\nServer-Timing: db;dur=53\r\n\r\n",
    );
    assert_eq!(bodies(&ev), vec![b"wikipedia".to_vec()]);
    assert!(ev.contains(&Owned::End {
        trailers: vec![("Server-Timing".into(), b"db;dur=53".to_vec())]
    }));
}

#[test]
fn response_reason_may_be_empty_or_missing() {
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
    );
    assert!(matches!(&ev[0], Owned::Response { reason, .. } if reason.is_empty()));
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(matches!(&ev[0], Owned::Response { status: 200, reason, .. } if reason.is_empty()));
}

#[test]
fn close_delimited_body_ends_at_eof() {
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.0 200 OK\r\n\r\nall of it",
    );
    assert_eq!(bodies(&ev), vec![b"all of it".to_vec()]);
    assert_eq!(ev.last(), Some(&Owned::ConnectionClosed));
}

#[test]
fn truncated_response_bodies_are_errors() {
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    );
    assert_eq!(error_of(&ev), Some(Error::IncompleteMessage));
    let ev = client_events(
        Config::default(),
        "GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\nshort",
    );
    assert_eq!(error_of(&ev), Some(Error::IncompleteMessage));
}

/// A status line begins `HTTP/`: a peer whose first byte is anything else
/// is no HTTP server (here a TLS alert, what a TLS port answers a plain
/// request with), refused at that byte, not waited on for a line end, nor
/// taken for a response cut short when it closes.
#[test]
fn a_response_that_does_not_begin_http_is_refused_at_its_first_byte() {
    let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];
    let ev = client_events(Config::default(), "GET", &alert);
    assert_eq!(error_of(&ev), Some(Error::InvalidVersion));
    let mut conn = client_after(Config::default(), "GET");
    let mut headers = [EMPTY_HEADER; 4];
    let refused = conn.receive(&alert[..1], &mut headers).map(|r| r.consumed);
    assert_eq!(refused, Err(Error::InvalidVersion));
    // A whole line that begins otherwise says the same.
    let ev = client_events(Config::default(), "GET", b"XTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(error_of(&ev), Some(Error::InvalidVersion));
}

/// A response whose lines end with CR alone is refused as soon as the byte
/// after a CR arrives, as a request is: not waited on until the server
/// closes or the read times out.
#[test]
fn a_bare_cr_in_a_response_is_refused_when_the_byte_after_it_arrives() {
    let client = || client_after(Config::default(), "GET");
    for input in [
        &b"HTTP/1.1 200 OK\rContent-Length: 0\r\r"[..],
        // No line end after the CR either: the refusal cannot wait for
        // the head to be whole.
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\rX: y",
    ] {
        let events = unclosed_two_ways(client, input, no_response);
        assert_eq!(
            error_of(&events),
            Some(Error::BareCarriageReturn),
            "{input:?}: {events:?}"
        );
    }
}

/// A status line is judged as soon as its line end arrives, as a request
/// line is: a server whose first line is no status line is refused then,
/// not waited on until it sends an empty line or closes.
#[test]
fn a_status_line_is_judged_when_its_line_ends() {
    let client = || client_after(Config::default(), "GET");
    for (line, error) in [
        (&b"HTTP/1.1 2000 OK\r\n"[..], Error::InvalidStatusLine),
        (b"HTTP/1.1 099 Low\r\n", Error::InvalidStatusLine),
        (b"HTTP/2 200\r\n", Error::InvalidVersion),
        (b"HTTP/3.0 200 OK\r\n", Error::UnsupportedVersion),
        (b"HELLO there\r\n", Error::InvalidVersion),
    ] {
        let shown = String::from_utf8_lossy(line);
        let events = unclosed_two_ways(client, line, no_response);
        assert_eq!(error_of(&events), Some(error), "{shown}: {events:?}");
        let whole = [line, b"Content-Length: 0\r\n\r\n"].concat();
        let events = client_events(Config::default(), "GET", &whole);
        assert_eq!(error_of(&events), Some(error), "{shown}");
    }
    for line in [&b"HTTP/1.1 200 OK\r\n"[..], b"HTTP/1.0 404\r\n"] {
        let events = unclosed_two_ways(client, line, no_response);
        assert_eq!(
            events.last(),
            Some(&Owned::NeedData),
            "{line:?}: {events:?}"
        );
    }
}

#[test]
fn obs_fold_in_responses_only_with_its_flag() {
    let input = b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        error_of(&client_events(Config::default(), "GET", input)),
        Some(Error::ObsoleteLineFolding)
    );
    let lenient = with_leniency(Leniency {
        allow_obs_fold_in_responses: true,
        ..Leniency::default()
    });
    let ev = client_events(lenient, "GET", input);
    assert_eq!(error_of(&ev), None);
    assert_eq!(bodies(&ev), vec![Vec::<u8>::new()]);
    // A fold continues a field line: one right after the status line
    // continues none, and stays refused (RFC 9112 §2.2), leniency or not.
    let led_by_whitespace =
        b"HTTP/1.1 200 OK\r\n Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok";
    for (config, error) in [
        (Config::default(), Error::ObsoleteLineFolding),
        (lenient, Error::InvalidHeaderName),
    ] {
        let ev = client_events(config, "GET", led_by_whitespace);
        assert_eq!(error_of(&ev), Some(error), "{ev:?}");
        assert!(
            !ev.iter().any(|e| matches!(e, Owned::Response { .. })),
            "the head itself is refused: {ev:?}"
        );
    }
    // A fold whose line break is a bare LF is refused as any bare LF is,
    // the head given whole as in pieces (client_events compares them): the
    // check of line ends on a whole head looks only where fields begin, so
    // a folded head must not take that path.
    let bare_lf_fold = b"HTTP/1.1 200 OK\r\nX-Folded: a\n b\r\nContent-Length: 0\r\n\r\n";
    let ev = client_events(lenient, "GET", bare_lf_fold);
    assert_eq!(error_of(&ev), Some(Error::BareLineFeed), "{ev:?}");
}

/// Under the obs-fold leniency, proto reads its own fields (Connection,
/// Transfer-Encoding) as a recipient must, each fold a space (RFC 9112 §5.2):
/// a `close` on a continuation line still ends the connection.
#[test]
fn folded_framing_fields_are_read_unfolded() {
    let lenient = with_leniency(Leniency {
        allow_obs_fold_in_responses: true,
        ..Leniency::default()
    });
    let folded_close =
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: foo,\r\n close\r\n\r\nhi";
    let ev = client_events(lenient, "GET", folded_close);
    assert_eq!(bodies(&ev), vec![b"hi".to_vec()]);
    assert_eq!(ev.last(), Some(&Owned::ConnectionClosed), "{ev:?}");
    let mut conn = client_after(lenient, "GET");
    conn.receive(folded_close, &mut [EMPTY_HEADER; 8]).unwrap();
    assert!(!conn.is_keep_alive());

    let folded_coding =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
    assert_eq!(
        framing_of(|| client_after(lenient, "GET"), folded_coding),
        Ok(Some(BodyLength::Chunked))
    );
    // A fold that makes the coding list invalid once unfolded (`chunked
    // abc`) is refused, not read as the text before the fold.
    let spoiling_fold =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n  abc\r\n\r\n5\r\nWorld\r\n0\r\n\r\n";
    assert_eq!(
        error_of(&client_events(lenient, "GET", spoiling_fold)),
        Some(Error::InvalidTransferEncoding)
    );
}

/// A response head whose lines end in LF alone is refused, and read (its
/// end where the empty line is) only with `allow_bare_lf`, as a request's.
#[test]
fn bare_lf_in_responses_only_with_its_flag() {
    let input = b"HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\nConnection: close\n\nthese headers are from news";
    assert_eq!(
        error_of(&client_events(Config::default(), "GET", input)),
        Some(Error::BareLineFeed)
    );
    let lenient = with_leniency(Leniency {
        allow_bare_lf: true,
        ..Leniency::default()
    });
    assert_eq!(
        framing_of(|| client_after(lenient, "GET"), input),
        Ok(Some(BodyLength::UntilClose))
    );
    let ev = client_events(lenient, "GET", input);
    assert_eq!(error_of(&ev), None, "{ev:?}");
    assert_eq!(bodies(&ev), vec![b"these headers are from news".to_vec()]);
    assert_eq!(
        framing_of(
            || client_after(lenient, "GET"),
            b"HTTP/1.1 200 OK\nContent-Length: 0\n\n"
        ),
        Ok(Some(BodyLength::Empty))
    );
}

#[test]
fn space_before_colon_in_responses_only_with_its_flag() {
    let input = b"HTTP/1.1 200 OK\r\nServer : old\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        error_of(&client_events(Config::default(), "GET", input)),
        Some(Error::InvalidHeaderName)
    );
    let lenient = with_leniency(Leniency {
        allow_space_before_colon_in_responses: true,
        ..Leniency::default()
    });
    let ev = client_events(lenient, "GET", input);
    assert!(matches!(&ev[0], Owned::Response { headers, .. } if headers[0].0 == "Server"));
}

/// The head leniencies stop at the head: with both on, a folded trailer
/// line and a trailer name with whitespace before its colon are still
/// refused (a hop that reads trailers strictly would see other fields).
#[test]
fn response_leniencies_do_not_reach_trailers() {
    let lenient = with_leniency(Leniency {
        allow_obs_fold_in_responses: true,
        allow_space_before_colon_in_responses: true,
        ..Leniency::default()
    });
    const HEAD: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    // The same fields in the head are read, so the flags are on.
    let in_head = b"HTTP/1.1 200 OK\r\nA : b\r\nC: d\r\n e\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(error_of(&client_events(lenient, "GET", in_head)), None);
    for (trailers, refused) in [
        ("A: b\r\n c\r\n\r\n", Error::ObsoleteLineFolding),
        ("A : b\r\n\r\n", Error::InvalidTrailer),
    ] {
        let input = format!("{HEAD}{trailers}");
        assert_eq!(
            error_of(&client_events(lenient, "GET", input.as_bytes())),
            Some(refused),
            "{trailers:?}"
        );
    }
}

/// Whitespace before a response's chunk line ends (after the size, an
/// extension's name or its value), as some servers pad the size, is read
/// only with its flag; hex digits after it are refused even then. Each case
/// four ways (whole, byte by byte, 7-byte pieces, varied pieces), and through the
/// standalone decoder.
#[test]
fn padded_chunk_lines_in_responses_only_with_their_flag() {
    let lenient = with_leniency(Leniency {
        allow_padded_chunk_lines_in_responses: true,
        ..Leniency::default()
    });
    let response = |lines: &str| {
        format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{lines}0\r\n\r\n")
    };
    for (line, strict_error) in [
        ("5 \r\n", Error::InvalidChunkSize),
        ("5\t\t\r\n", Error::InvalidChunkSize),
        ("5 ;a=b\t\r\n", Error::InvalidChunkExtension),
        ("5;a \r\n", Error::InvalidChunkExtension),
        ("5;a=\"b\" \r\n", Error::InvalidChunkExtension),
    ] {
        let input = response(&format!("{line}hello\r\n"));
        let strict = client_events(Config::default(), "GET", input.as_bytes());
        assert_eq!(error_of(&strict), Some(strict_error), "{line:?}");
        let ev = client_events(lenient, "GET", input.as_bytes());
        assert_eq!(error_of(&ev), None, "{line:?}");
        assert_eq!(bodies(&ev), vec![b"hello".to_vec()], "{line:?}");

        let mut decoder = lithe::proto::ChunkedDecoder::new(lenient.limits, lenient.leniency);
        let body = format!("{line}hello\r\n0\r\n\r\n");
        let mut headers = [EMPTY_HEADER; 4];
        let (consumed, decoded) = decoder.decode(body.as_bytes(), &mut headers).unwrap();
        assert_eq!(decoded, lithe::proto::Decoded::Data(b"hello"), "{line:?}");
        assert!(consumed < body.len());
    }
    // The padding is chunk-extension bytes, held to both limits: none
    // allowed, or two for the whole body (the third padded line is over).
    let limited = |max_chunk_extension_bytes, max_chunk_extension_bytes_per_body| Config {
        limits: lithe::proto::Limits {
            max_chunk_extension_bytes,
            max_chunk_extension_bytes_per_body,
            ..lithe::proto::Limits::default()
        },
        ..lenient
    };
    let input = response("5 \r\nhello\r\n");
    let ev = client_events(limited(0, 16), "GET", input.as_bytes());
    assert_eq!(error_of(&ev), Some(Error::ChunkExtensionsTooLong));
    let input = response(&"1 \r\nx\r\n".repeat(3));
    let ev = client_events(limited(16, 2), "GET", input.as_bytes());
    assert_eq!(error_of(&ev), Some(Error::ChunkExtensionsTooLong));
    let input = response(&"1 \r\nx\r\n".repeat(2));
    let ev = client_events(limited(16, 2), "GET", input.as_bytes());
    assert_eq!(bodies(&ev), vec![b"xx".to_vec()]);
    // Still no place for anything but whitespace, nor for a line that
    // names no extension after its `;` or gives a name no value after `=`.
    for (line, error) in [
        ("5 3\r\n", Error::InvalidChunkSize),
        ("5 x\r\n", Error::InvalidChunkSize),
        ("5; \r\n", Error::InvalidChunkExtension),
        ("5;a= \r\n", Error::InvalidChunkExtension),
    ] {
        let input = response(&format!("{line}hello\r\n"));
        let ev = client_events(lenient, "GET", input.as_bytes());
        assert_eq!(error_of(&ev), Some(error), "{line:?}");
    }
}

/// A HEAD's answer has no body whatever its Content-Length says, and the
/// next exchange reads its response from the byte after that head.
#[test]
fn head_response_then_next_cycle() {
    let ev = client_events(
        Config::default(),
        "HEAD",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
    );
    assert_eq!(bodies(&ev), vec![Vec::<u8>::new()]);
    assert_eq!(ev.last(), Some(&Owned::ConnectionClosed));

    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    let next = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    let both = [&head[..], &next[..]].concat();
    let ev = four_ways(
        || client_after(Config::default(), "HEAD"),
        &both,
        request_next,
    );
    assert_eq!(statuses(&ev), vec![200, 201]);
    assert_eq!(bodies(&ev), vec![Vec::new(), b"ok".to_vec()]);
    // The third request, sent after the second answer, gets none before
    // the input ends.
    assert_eq!(ev.last(), Some(&Owned::Error(Error::IncompleteMessage)));
    assert_eq!(
        ev.iter().filter(|e| matches!(e, Owned::Error(_))).count(),
        1
    );
}

#[test]
fn a_response_with_more_fields_than_the_first_array_holds_is_read_whole() {
    // The helper starts with room for 16 fields and grows it on HeadersFull.
    let mut input = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n".to_vec();
    for i in 0..40 {
        input.extend_from_slice(format!("X-Field-{i}: {i}\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\nok");
    let ev = client_events(Config::default(), "GET", &input);
    let Some(Owned::Response { headers, .. }) = ev.first() else {
        panic!("{ev:?}")
    };
    assert_eq!(headers.len(), 41);
    assert_eq!(headers[40], ("X-Field-39".into(), b"39".to_vec()));
    assert_eq!(bodies(&ev), vec![b"ok".to_vec()]);
}

/// A header array as long as the limit is the limit: a response head with
/// more fields than that is refused, not asked to be parsed again into a
/// larger array that the limit would cap all the same. (A shorter array
/// gets `HeadersFull`.)
#[test]
fn a_response_past_the_field_limit_is_refused_whatever_the_array() {
    let config = Config {
        limits: lithe::proto::Limits {
            max_headers: 2,
            ..lithe::proto::Limits::default()
        },
        ..Config::default()
    };
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: 1\r\nX-B: 2\r\n\r\n";
    for len in [2, 3, 16] {
        let mut conn = client_after(config, "GET");
        let mut headers = vec![EMPTY_HEADER; len];
        assert_eq!(
            conn.receive(head, &mut headers),
            Err(Error::TooManyHeaders),
            "an array of {len}"
        );
    }
    let mut conn = client_after(config, "GET");
    let mut one = [EMPTY_HEADER; 1];
    let received = conn.receive(head, &mut one).unwrap();
    assert_eq!(
        (received.consumed, received.event),
        (0, lithe::proto::Event::HeadersFull)
    );
}

/// The default configuration with `max_body_bytes` of `n`.
fn with_max_body_bytes(n: u64) -> Config {
    Config {
        limits: lithe::proto::Limits {
            max_body_bytes: n,
            ..Default::default()
        },
        ..Config::default()
    }
}

#[test]
fn body_limit_applies_to_a_body_read_until_close() {
    let config = with_max_body_bytes(10);
    // Without Content-Length, and with a final coding other than chunked.
    for head in [
        &b"HTTP/1.1 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    ] {
        let fits = [head, b"0123456789"].concat();
        let ev = client_events(config, "GET", &fits);
        assert_eq!(bodies(&ev), vec![b"0123456789".to_vec()]);
        assert_eq!(error_of(&ev), None);

        let over = [head, b"0123456789a"].concat();
        let ev = client_events(config, "GET", &over);
        assert_eq!(error_of(&ev), Some(Error::BodyTooLarge));
        // What fits was handed over first, under every split alike.
        assert!(ev.contains(&Owned::Data(b"0123456789".to_vec())));
    }
}

/// A declared length past `max_body_bytes` is refused at the head, before
/// any of the body is handed over; one a HEAD or 304 answer declares frames
/// no body here, so it is no body too large.
#[test]
fn body_limit_applies_to_a_declared_response_length() {
    let config = with_max_body_bytes(10);
    let ev = client_events(
        config,
        "GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
    );
    assert_eq!(bodies(&ev), vec![b"0123456789".to_vec()]);
    assert_eq!(error_of(&ev), None);

    let ev = client_events(
        config,
        "GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789a",
    );
    assert_eq!(error_of(&ev), Some(Error::BodyTooLarge));
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Owned::Response { .. } | Owned::Data(_))),
        "{ev:?}"
    );

    for (method, head) in [
        (
            "HEAD",
            &b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"[..],
        ),
        (
            "GET",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 11\r\n\r\n",
        ),
    ] {
        let ev = client_events(config, method, head);
        assert_eq!(error_of(&ev), None, "{method} {ev:?}");
        assert!(matches!(ev.first(), Some(Owned::Response { .. })), "{ev:?}");
    }
}

/// A received response head looks its fields up by name ignoring case, and
/// gives the first of several.
#[test]
fn a_response_head_gives_the_first_field_of_a_name_ignoring_case() {
    let mut conn = client_after(Config::default(), "GET");
    let mut headers = [EMPTY_HEADER; 8];
    let input = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVary: a\r\nvary: b\r\nContent-Length: 0\r\n\r\n";
    let received = conn.receive(input, &mut headers).expect("the head parses");
    let lithe::proto::Event::Response(head) = received.event else {
        panic!("{received:?}")
    };
    assert_eq!(head.header("content-type"), Some(&b"text/plain"[..]));
    assert_eq!(head.header("VARY"), Some(&b"a"[..]));
    assert_eq!(head.header("content-encoding"), None);
}

/// Each status from 100 to 999 is in the class its first digit names, and
/// in no other; 6xx to 9xx are in none (RFC 9110 §15).
#[test]
fn every_status_is_in_the_class_of_its_first_digit() {
    use lithe::proto::StatusCode;
    for code in 100..=999u16 {
        let status = StatusCode::new(code).expect("a three-digit status");
        let classes = [
            status.is_informational(),
            status.is_success(),
            status.is_redirection(),
            status.is_client_error(),
            status.is_server_error(),
        ];
        let expected: [bool; 5] =
            core::array::from_fn(|class| usize::from(code / 100) == class + 1);
        assert_eq!(classes, expected, "{code}");
    }
    assert_eq!(StatusCode::new(99), None);
    assert_eq!(StatusCode::new(1000), None);
}

/// A status compares with its number either way round, and prints as its
/// number (Debug) or with its reason phrase where it has one (Display).
#[test]
fn a_status_compares_with_and_prints_as_its_number() {
    use lithe::proto::StatusCode;
    let not_found = StatusCode::NOT_FOUND;
    assert!(not_found == 404);
    assert!(404 == not_found);
    assert!(not_found != 405);
    assert!(403 != not_found);
    assert_eq!(format!("{not_found:?}"), "404");
    assert_eq!(format!("{not_found}"), "404 Not Found");
    let unnamed = StatusCode::new(599).unwrap();
    assert_eq!(format!("{unnamed:?} / {unnamed}"), "599 / 599");
}

/// The response head limit holds at the same byte however the head
/// arrives (the whole-head fast path and the scanner agree), as the
/// request's does: a head of exactly the limit is read, one byte more is
/// not, and a status line without an end is stopped at the limit.
#[test]
fn response_head_limit_is_enforced_at_the_same_byte_whatever_the_split() {
    let config = Config {
        limits: lithe::proto::Limits {
            max_head_bytes: 64,
            ..lithe::proto::Limits::default()
        },
        ..Config::default()
    };
    let mut ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: ".to_vec();
    ok.resize(60, b'x');
    ok.extend_from_slice(b"\r\n\r\n");
    assert_eq!(ok.len(), 64);
    assert_eq!(error_of(&client_events(config, "GET", &ok)), None);
    let mut big = ok.clone();
    big.insert(45, b'x');
    assert_eq!(
        error_of(&client_events(config, "GET", &big)),
        Some(Error::HeadTooLarge)
    );
    let mut endless = b"HTTP/1.1 200 ".to_vec();
    endless.extend_from_slice(&[b'a'; 10_000]);
    assert_eq!(
        error_of(&client_events(config, "GET", &endless)),
        Some(Error::HeadTooLarge)
    );
}
