//! The connection state machine through the public API: keep-alive, pipelining,
//! 100-continue, Upgrade and CONNECT on both roles, and out-of-order calls.

mod support;

use lithe::proto::{
    BodyLength, Config, Connection, EMPTY_HEADER, Error, Event, Header, RequestHead, ResponseHead,
    SendError, State, StatusCode, Version,
};

const HOST: [Header<'static>; 1] = [Header {
    name: "Host",
    value: b"a",
}];

/// `Content-Length: 0`: a response with no content, its length stated.
const NO_CONTENT_LENGTH: [Header<'static>; 1] = [Header {
    name: "Content-Length",
    value: b"0",
}];

/// A request's fields announcing two bytes of body and waiting for `100
/// Continue` before sending them.
const EXPECTING_TWO_BYTES: [Header<'static>; 3] = [
    HOST[0],
    Header {
        name: "Expect",
        value: b"100-continue",
    },
    Header {
        name: "Content-Length",
        value: b"2",
    },
];

/// A client that has sent a request with [`EXPECTING_TWO_BYTES`] and waits.
fn client_expecting_two_bytes() -> Connection {
    let mut conn = Connection::client(Config::default());
    let head = RequestHead::new("PUT", "/f", &EXPECTING_TWO_BYTES);
    conn.send_request(&head, &mut [0u8; 256]).unwrap();
    conn
}

/// `Connection: Upgrade` and `Upgrade: websocket`, proposing or accepting
/// the switch.
const UPGRADE_TO_WEBSOCKET: [Header<'static>; 2] = [
    Header {
        name: "Connection",
        value: b"Upgrade",
    },
    Header {
        name: "Upgrade",
        value: b"websocket",
    },
];

/// A client that has sent a whole `GET /ws` proposing a switch to WebSocket,
/// awaiting the answer.
fn client_proposing_websocket() -> Connection {
    client_proposing_websocket_under(Config::default())
}

/// [`client_proposing_websocket`] under `config`.
fn client_proposing_websocket_under(config: Config) -> Connection {
    let mut client = Connection::client(config);
    let fields = [HOST[0], UPGRADE_TO_WEBSOCKET[0], UPGRADE_TO_WEBSOCKET[1]];
    let mut out = [0u8; 256];
    client
        .send_request(&RequestHead::new("GET", "/ws", &fields), &mut out)
        .unwrap();
    client.send_end(&[], &mut out).unwrap();
    client
}

fn receive_all(conn: &mut Connection, mut input: &[u8]) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let mut headers = [EMPTY_HEADER; 16];
        let r = conn.receive(input, &mut headers).unwrap();
        input = &input[r.consumed..];
        let stop = matches!(
            r.event,
            Event::NeedData | Event::Paused | Event::SwitchedProtocol | Event::ConnectionClosed
        );
        seen.push(match r.event {
            Event::Request(h) => format!("request {}", h.target),
            Event::Response(h) => format!("response {}", h.status.as_u16()),
            Event::Data(d) => format!("data {}", String::from_utf8_lossy(d)),
            Event::End { .. } => "end".into(),
            other => format!("{other:?}"),
        });
        if stop {
            return seen;
        }
    }
}

fn respond(
    conn: &mut Connection,
    status: StatusCode,
    fields: &[Header<'_>],
    body: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    let n = conn
        .send_response(&ResponseHead::new(status, fields), &mut out)
        .unwrap();
    let mut wire = out[..n].to_vec();
    if conn.our_state() == State::SendBody {
        let frame = conn.send_data(body).unwrap();
        wire.extend_from_slice(frame.prefix.as_bytes());
        wire.extend_from_slice(body);
        wire.extend_from_slice(frame.suffix);
        let n = conn.send_end(&[], &mut out).unwrap();
        wire.extend_from_slice(&out[..n]);
    }
    wire
}

#[test]
fn pipelined_request_waits_until_the_response_is_done_and_its_bytes_are_kept() {
    let mut conn = Connection::server(Config::default());
    let input = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut headers = [EMPTY_HEADER; 16];
    let first = conn.receive(input, &mut headers).unwrap();
    assert!(matches!(first.event, Event::Request(h) if h.target == "/1"));
    let rest = &input[first.consumed..];
    let end = conn.receive(rest, &mut headers).unwrap();
    assert!(matches!(end.event, Event::End { .. }));
    // The second request is in the buffer, but the first response is owed: paused,
    // nothing consumed.
    let paused = conn.receive(rest, &mut headers).unwrap();
    assert_eq!((paused.consumed, paused.event), (0, Event::Paused));
    assert_eq!(conn.our_state(), State::SendResponse);
    respond(&mut conn, StatusCode::OK, &NO_CONTENT_LENGTH, b"");
    assert_eq!(
        (conn.our_state(), conn.their_state()),
        (State::Idle, State::Idle)
    );
    assert_eq!(
        receive_all(&mut conn, rest),
        ["request /2", "end", "Paused"]
    );
}

#[test]
fn early_response_while_the_request_body_is_still_arriving() {
    let mut conn = Connection::server(Config::default());
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc";
    assert_eq!(
        receive_all(&mut conn, head),
        ["request /", "data abc", "NeedData"]
    );
    respond(
        &mut conn,
        StatusCode::CONTENT_TOO_LARGE,
        &NO_CONTENT_LENGTH,
        b"",
    );
    assert_eq!(conn.our_state(), State::Done);
    assert_eq!(
        receive_all(&mut conn, b"def"),
        ["data def", "end", "NeedData"]
    );
    assert_eq!(conn.our_state(), State::Idle);
}

#[test]
fn server_sends_100_continue_only_while_the_client_waits() {
    let mut conn = Connection::server(Config::default());
    let head = b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    assert_eq!(receive_all(&mut conn, head), ["request /f", "NeedData"]);
    assert!(conn.they_are_waiting_for_100_continue());
    let mut out = [0u8; 64];
    // Early hints do not answer the expectation: the client still waits.
    let hints = StatusCode::new(103).unwrap();
    conn.send_response(&ResponseHead::new(hints, &[]), &mut out)
        .unwrap();
    assert!(conn.they_are_waiting_for_100_continue());
    let n = conn
        .send_response(&ResponseHead::new(StatusCode::CONTINUE, &[]), &mut out)
        .unwrap();
    assert_eq!(&out[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    assert!(!conn.they_are_waiting_for_100_continue());
    assert_eq!(conn.our_state(), State::SendResponse);
    assert_eq!(receive_all(&mut conn, b"ok"), ["data ok", "end", "Paused"]);
}

/// Asking a connection for the body before any of it came (an empty input)
/// does not end the client's wait for 100 Continue, chunked or sized: only
/// body bytes do (RFC 9110 §10.1.1 lets a server omit the 100 once some of
/// the content has arrived).
#[test]
fn an_empty_input_does_not_end_the_clients_wait_for_100_continue() {
    for framing in ["Transfer-Encoding: chunked", "Content-Length: 2"] {
        let mut conn = Connection::server(Config::default());
        let head =
            format!("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n{framing}\r\n\r\n");
        assert_eq!(
            receive_all(&mut conn, head.as_bytes()),
            ["request /f", "NeedData"]
        );
        let mut headers = [EMPTY_HEADER; 4];
        let nothing = conn.receive(b"", &mut headers).unwrap();
        assert_eq!((nothing.consumed, nothing.event), (0, Event::NeedData));
        assert!(conn.they_are_waiting_for_100_continue(), "{framing}");
    }
}

#[test]
fn an_expect_list_naming_100_continue_is_honoured() {
    // RFC 9110 §10.1.1: Expect is a list; 100-continue beside another member.
    for expect in ["100-Continue", "foo, 100-continue", "100-continue ,bar=1"] {
        let mut conn = Connection::server(Config::default());
        let head =
            format!("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: {expect}\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(
            receive_all(&mut conn, head.as_bytes()),
            ["request /f", "NeedData"]
        );
        assert!(conn.they_are_waiting_for_100_continue(), "{expect}");
    }
    let mut conn = Connection::server(Config::default());
    let head = b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continued\r\nContent-Length: 2\r\n\r\n";
    receive_all(&mut conn, head);
    assert!(!conn.they_are_waiting_for_100_continue());
}

#[test]
fn client_stops_waiting_for_100_when_it_sends_the_body_or_a_response_arrives() {
    let mut out = [0u8; 256];
    let mut conn = client_expecting_two_bytes();
    assert!(conn.we_are_waiting_for_100_continue());
    assert_eq!(
        receive_all(&mut conn, b"HTTP/1.1 100 Continue\r\n\r\n"),
        ["response 100", "NeedData"]
    );
    assert!(!conn.we_are_waiting_for_100_continue());
    conn.send_data(b"ok").unwrap();
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(
        receive_all(
            &mut conn,
            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        ),
        ["response 201", "end", "Paused"]
    );
    assert_eq!(
        (conn.our_state(), conn.their_state()),
        (State::Idle, State::Idle)
    );
    // The next cycle starts clean: no message under way either way.
    assert_eq!(conn.incoming_body(), None);
    assert_eq!(conn.body_left_to_send(), None);

    // Another interim response (103 Early Hints) neither answers the
    // expectation nor ends the wait (RFC 9110 §10.1.1): a 417 may follow.
    let mut conn = client_expecting_two_bytes();
    assert_eq!(
        receive_all(
            &mut conn,
            b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        ),
        ["response 103", "NeedData"]
    );
    assert!(conn.we_are_waiting_for_100_continue());
    receive_all(&mut conn, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert!(!conn.we_are_waiting_for_100_continue());
    // So does 102; a 1xx of no known meaning is a 100, its class's x00
    // (RFC 9110 §15), after which the body goes.
    for (interim, waits) in [
        ("102 Processing", true),
        ("104 Upload", false),
        ("199 X", false),
    ] {
        let mut conn = client_expecting_two_bytes();
        let head = format!("HTTP/1.1 {interim}\r\n\r\n");
        assert_eq!(
            receive_all(&mut conn, head.as_bytes()).len(),
            2,
            "{interim}"
        );
        assert_eq!(conn.we_are_waiting_for_100_continue(), waits, "{interim}");
    }
    let mut conn = client_expecting_two_bytes();
    receive_all(&mut conn, b"HTTP/1.1 150 Unknown\r\n\r\n");
    conn.send_data(b"ok").unwrap();
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(
        receive_all(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ["response 200", "end", "Paused"]
    );

    // A final response instead of 100: the client must not send the body after
    // all, and the connection cannot be reused without it.
    let mut conn = client_expecting_two_bytes();
    receive_all(
        &mut conn,
        b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(!conn.we_are_waiting_for_100_continue());
    assert_eq!(conn.our_state(), State::SendBody);
    conn.close();
    assert_eq!(conn.our_state(), State::Error);
}

#[test]
fn no_interim_response_to_http10() {
    let mut conn = Connection::server(Config::default());
    receive_all(&mut conn, b"GET / HTTP/1.0\r\n\r\n");
    let mut out = [0u8; 64];
    assert_eq!(
        conn.send_response(&ResponseHead::new(StatusCode::CONTINUE, &[]), &mut out),
        Err(SendError::InvalidState)
    );
    // Nor a 101 to a request that proposed no switch.
    let mut conn = Connection::server(Config::default());
    receive_all(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let switching = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, &[]);
    assert_eq!(
        conn.send_response(&switching, &mut out),
        Err(SendError::InvalidState)
    );
}

#[test]
fn upgrade_accepted_hands_back_the_bytes_after_the_head() {
    let mut conn = Connection::server(Config::default());
    let input = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
    let mut headers = [EMPTY_HEADER; 16];
    let head = conn.receive(input, &mut headers).unwrap();
    let mut rest = &input[head.consumed..];
    let end = conn.receive(rest, &mut headers).unwrap();
    assert!(matches!(end.event, Event::End { .. }));
    rest = &rest[end.consumed..];
    assert_eq!(conn.their_state(), State::MightSwitchProtocol);
    assert_eq!(
        conn.receive(rest, &mut headers).unwrap().event,
        Event::Paused
    );
    let upgrade = UPGRADE_TO_WEBSOCKET;
    let wire = respond(&mut conn, StatusCode::SWITCHING_PROTOCOLS, &upgrade, b"");
    assert!(wire.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert_eq!(
        (conn.our_state(), conn.their_state()),
        (State::SwitchedProtocol, State::SwitchedProtocol)
    );
    let switched = conn.receive(rest, &mut headers).unwrap();
    assert_eq!(
        (switched.consumed, switched.event),
        (0, Event::SwitchedProtocol)
    );
    assert_eq!(rest, b"\x81\x05hello");

    // The client side of the same exchange.
    let mut client = Connection::client(Config::default());
    let fields = [
        Header {
            name: "Host",
            value: b"a",
        },
        upgrade[0],
        upgrade[1],
    ];
    let mut out = [0u8; 256];
    client
        .send_request(&RequestHead::new("GET", "/ws", &fields), &mut out)
        .unwrap();
    client.send_end(&[], &mut out).unwrap();
    assert_eq!(client.our_state(), State::MightSwitchProtocol);
    let mut from_server = wire.clone();
    from_server.extend_from_slice(b"\x81\x02hi");
    let r = client.receive(&from_server, &mut headers).unwrap();
    assert!(matches!(r.event, Event::Response(h) if h.status == StatusCode::SWITCHING_PROTOCOLS));
    let after = &from_server[r.consumed..];
    assert_eq!(
        client.receive(after, &mut headers).unwrap().event,
        Event::SwitchedProtocol
    );
    assert_eq!(after, b"\x81\x02hi");
}

/// A 101 ends its response at its head, whatever framing fields it carries
/// (RFC 9112 §6.3 rule 1): the bytes after it are the new protocol's, never
/// read as an HTTP body, even a malformed length.
#[test]
fn a_101_hands_back_the_bytes_after_its_head_whatever_its_framing_fields_say() {
    for field in [
        "Content-Length: 4",
        "Transfer-Encoding: chunked",
        "Content-Length: abc",
    ] {
        let mut client = client_proposing_websocket();
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n{field}\r\n\r\n"
        );
        let mut input = head.clone().into_bytes();
        input.extend_from_slice(b"body\x81\x02hi");
        let mut headers = [EMPTY_HEADER; 8];
        let r = client.receive(&input, &mut headers).unwrap();
        assert!(
            matches!(r.event, Event::Response(h) if h.status == StatusCode::SWITCHING_PROTOCOLS),
            "{field}"
        );
        assert_eq!(r.consumed, head.len(), "{field}");
        let rest = &input[r.consumed..];
        let switched = client.receive(rest, &mut headers).unwrap();
        assert_eq!(
            (switched.consumed, switched.event),
            (0, Event::SwitchedProtocol)
        );
    }
}

/// A 101 ends the exchange rather than preceding its answer: it is not
/// counted against `max_interim_responses`, and a client allowing none
/// switches on it all the same.
#[test]
fn a_101_is_no_interim_response_under_a_limit_of_none() {
    let config = Config {
        limits: lithe::proto::Limits {
            max_interim_responses: 0,
            ..Default::default()
        },
        ..Config::default()
    };
    let mut client = client_proposing_websocket_under(config);
    let input = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00";
    let mut headers = [EMPTY_HEADER; 8];
    let r = client.receive(input, &mut headers).unwrap();
    assert!(
        matches!(r.event, Event::Response(h) if h.status == StatusCode::SWITCHING_PROTOCOLS),
        "{:?}",
        r.event
    );
    let rest = &input[r.consumed..];
    let mut more = [EMPTY_HEADER; 8];
    let switched = client.receive(rest, &mut more).unwrap();
    assert_eq!(
        (switched.consumed, switched.event),
        (0, Event::SwitchedProtocol)
    );
    assert_eq!(rest, b"\x81\x00");
}

/// A 101 names the protocol it switches to (RFC 9110 §7.8): one to a
/// proposal that names none (no Upgrade field, or an empty one) leaves the
/// client not knowing what follows, and is refused.
#[test]
fn a_101_that_names_no_protocol_is_refused() {
    for upgrade in ["", "Upgrade: \r\n", "Upgrade: ,\r\n"] {
        let mut client = client_proposing_websocket();
        let head =
            format!("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n{upgrade}\r\n");
        let mut headers = [EMPTY_HEADER; 8];
        assert_eq!(
            client
                .receive(head.as_bytes(), &mut headers)
                .map(|r| r.consumed),
            Err(Error::UnexpectedSwitch),
            "{upgrade:?}"
        );
        assert_eq!(client.their_state(), State::Error);
    }
}

#[test]
fn upgrade_declined_continues_as_http() {
    let mut conn = Connection::server(Config::default());
    let input = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut headers = [EMPTY_HEADER; 16];
    let head = conn.receive(input, &mut headers).unwrap();
    let rest = &input[head.consumed..];
    let end = conn.receive(rest, &mut headers).unwrap();
    let rest = &rest[end.consumed..];
    respond(
        &mut conn,
        StatusCode::OK,
        &[Header {
            name: "Content-Length",
            value: b"2",
        }],
        b"no",
    );
    assert_eq!(
        receive_all(&mut conn, rest),
        ["request /next", "end", "Paused"]
    );
}

/// The client side of a declined switch: a final answer other than 101
/// ends the proposal, and the connection goes on as HTTP.
#[test]
fn a_client_whose_upgrade_is_declined_goes_on_as_http() {
    let mut conn = client_proposing_websocket();
    let mut out = [0u8; 256];
    assert_eq!(conn.our_state(), State::MightSwitchProtocol);
    assert_eq!(
        receive_all(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno"),
        ["response 200", "data no", "end", "Paused"]
    );
    assert_eq!(conn.our_state(), State::Idle);
    assert_eq!(conn.their_state(), State::Idle);
    assert!(conn.is_keep_alive());
    conn.send_request(&RequestHead::new("GET", "/next", &HOST), &mut out)
        .unwrap();
}

#[test]
fn unsolicited_101_is_an_error() {
    let mut conn = support::client_after(Config::default(), "GET");
    let mut headers = [EMPTY_HEADER; 16];
    assert_eq!(
        conn.receive(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", &mut headers),
        Err(Error::UnexpectedSwitch)
    );
    assert_eq!(conn.their_state(), State::Error);
}

#[test]
fn server_accepts_connect_with_2xx() {
    let mut conn = Connection::server(Config::default());
    let input = b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\ntunnel";
    let mut headers = [EMPTY_HEADER; 16];
    let head = conn.receive(input, &mut headers).unwrap();
    let rest = &input[head.consumed..];
    conn.receive(rest, &mut headers).unwrap();
    let mut out = [0u8; 64];
    let n = conn
        .send_response(&ResponseHead::new(StatusCode::OK, &[]), &mut out)
        .unwrap();
    assert_eq!(&out[..n], b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(
        conn.receive(rest, &mut headers).unwrap().event,
        Event::SwitchedProtocol
    );
}

#[test]
fn out_of_order_calls_are_errors_and_change_nothing() {
    let mut out = [0u8; 256];
    let mut server = Connection::server(Config::default());
    // Before any request only a final, unsolicited response may go out.
    assert_eq!(
        server.send_response(&ResponseHead::new(StatusCode::CONTINUE, &[]), &mut out),
        Err(SendError::InvalidState)
    );
    assert_eq!(
        server.send_request(&RequestHead::new("GET", "/", &HOST), &mut out),
        Err(SendError::InvalidState)
    );
    assert_eq!(server.send_data(b"x"), Err(SendError::InvalidState));
    assert_eq!(server.send_end(&[], &mut out), Err(SendError::InvalidState));
    assert_eq!(
        (server.our_state(), server.their_state()),
        (State::Idle, State::Idle)
    );

    let mut client = Connection::client(Config::default());
    assert_eq!(client.send_data(b"x"), Err(SendError::InvalidState));
    client
        .send_request(&RequestHead::new("GET", "/", &HOST), &mut out)
        .unwrap();
    // A second request before the first cycle ends.
    assert_eq!(
        client.send_request(&RequestHead::new("GET", "/", &HOST), &mut out),
        Err(SendError::InvalidState)
    );
    // A GET without Content-Length has no body.
    assert_eq!(client.send_data(b"x"), Err(SendError::BodyNotAllowed));
    assert_eq!(
        client.send_end(
            &[Header {
                name: "X",
                value: b"y"
            }],
            &mut out
        ),
        Err(SendError::TrailersNotAllowed)
    );
    client.send_end(&[], &mut out).unwrap();
    assert_eq!(client.send_end(&[], &mut out), Err(SendError::InvalidState));
}

/// Bytes from the server before any request are an error of the server's,
/// and the client, idle, must close too: its state says so, and a request
/// is refused.
#[test]
fn response_bytes_before_any_request_are_unexpected() {
    let mut client = Connection::client(Config::default());
    let mut headers = [EMPTY_HEADER; 4];
    assert_eq!(
        client.receive(b"HTTP/1.1 200 OK\r\n\r\n", &mut headers),
        Err(Error::UnexpectedData)
    );
    assert_eq!(client.their_state(), State::Error);
    assert_eq!(client.our_state(), State::MustClose);
    assert!(!client.is_keep_alive());
    let mut out = [0u8; 64];
    assert_eq!(
        client.send_request(&RequestHead::new("GET", "/", &HOST), &mut out),
        Err(SendError::InvalidState)
    );
}

#[test]
fn a_protocol_error_forces_close_and_allows_one_error_response() {
    let mut conn = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 16];
    let err = conn
        .receive(b"GET / HTTP/1.1\r\n\r\n", &mut headers)
        .unwrap_err();
    assert_eq!(err, Error::MissingHost);
    assert!(!conn.is_keep_alive());
    let mut out = [0u8; 256];
    let n = conn
        .send_response(
            &ResponseHead::new(err.status(), &NO_CONTENT_LENGTH),
            &mut out,
        )
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nconnection: close\r\n\r\n"
    );
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(conn.our_state(), State::MustClose);
    assert_eq!(
        conn.send_response(
            &ResponseHead::new(err.status(), &NO_CONTENT_LENGTH),
            &mut out
        ),
        Err(SendError::InvalidState)
    );
}

#[test]
fn an_error_response_of_unknown_length_is_close_delimited() {
    // The request failed to parse, so its version is unknown: no chunked.
    let mut conn = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 16];
    let err = conn
        .receive(b"GET / HTTP/1.0\r\nContent-Length: x\r\n\r\n", &mut headers)
        .unwrap_err();
    let mut out = [0u8; 256];
    let n = conn
        .send_response(&ResponseHead::new(err.status(), &[]), &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"
    );
    let frame = conn.send_data(b"bad").unwrap();
    assert_eq!(frame.overhead(), 0, "no chunk framing");
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(conn.our_state(), State::MustClose);
}

/// RFC 9112 §6.1: Transfer-Encoding goes only to a request that said
/// HTTP/1.1; an unsolicited response (the request unread, or unreadable)
/// may carry none, even when the caller names one itself.
#[test]
fn an_unsolicited_response_carries_no_transfer_encoding() {
    let chunked = [Header {
        name: "Transfer-Encoding",
        value: b"chunked",
    }];
    let mut headers = [EMPTY_HEADER; 16];
    let failed = |conn: &mut Connection, headers: &mut [Header<'static>]| {
        conn.receive(b"GET / HTTP/1.0\r\nContent-Length: x\r\n\r\n", headers)
            .unwrap_err()
    };
    for unread in [false, true] {
        let mut conn = Connection::server(Config::default());
        if unread {
            failed(&mut conn, &mut headers);
        }
        let states = (conn.our_state(), conn.their_state());
        let mut out = [0u8; 256];
        let status = if unread { 400 } else { 408 };
        assert_eq!(
            conn.send_response(
                &ResponseHead::new(StatusCode::new(status).unwrap(), &chunked),
                &mut out
            ),
            Err(SendError::InvalidFraming(Error::TransferEncodingInHttp10)),
            "{status}"
        );
        assert_eq!((conn.our_state(), conn.their_state()), states);
        // Without the field it goes, close-delimited: no framing of its own.
        let plain = ResponseHead::new(StatusCode::new(status).unwrap(), &[]);
        let n = conn.send_response(&plain, &mut out).unwrap();
        let expected = match status {
            400 => &b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"[..],
            _ => b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n",
        };
        assert_eq!(&out[..n], expected, "{status}");
        assert_eq!(conn.send_data(b"x").unwrap().overhead(), 0, "{status}");
    }
}

#[test]
fn eof_between_messages_is_a_clean_close_on_both_roles() {
    let mut server = Connection::server(Config::default());
    server.receive_eof();
    let mut headers = [EMPTY_HEADER; 4];
    assert_eq!(
        server.receive(b"", &mut headers).unwrap().event,
        Event::ConnectionClosed
    );
    assert_eq!(server.their_state(), State::Closed);
    assert_eq!(server.our_state(), State::MustClose);
    assert!(!server.is_keep_alive());

    // Closed stays closed: bytes offered after the end (a caller's buffer
    // still holding some) are neither taken nor a request.
    let after = server
        .receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)
        .unwrap();
    assert_eq!((after.consumed, after.event), (0, Event::ConnectionClosed));

    let mut client = Connection::client(Config::default());
    client.receive_eof();
    assert_eq!(
        client.receive(b"", &mut headers).unwrap().event,
        Event::ConnectionClosed
    );
}

/// A client that sends its request and then closes its side (a FIN after
/// the request, as `curl` with a half-close or a load balancer's health check
/// does) still gets its response, and that response says the connection
/// closes: no further request can come.
#[test]
fn a_response_owed_after_the_client_closed_says_connection_close() {
    let mut server = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 4];
    let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let received = server.receive(request, &mut headers).unwrap();
    assert!(matches!(received.event, Event::Request(_)));
    assert_eq!(
        server.receive(b"", &mut headers).unwrap().event,
        Event::End { trailers: &[] }
    );
    server.receive_eof();
    assert_eq!(
        server.receive(b"", &mut headers).unwrap().event,
        Event::ConnectionClosed
    );
    assert!(!server.is_keep_alive());
    let mut out = [0u8; 128];
    let n = server
        .send_response_sized(&ResponseHead::new(StatusCode::OK, &[]), 0, &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    server.send_end(&[], &mut out).unwrap();
    assert_eq!(server.our_state(), State::MustClose);
}

#[test]
fn server_closing_before_responding_is_incomplete() {
    let mut client = support::client_after(Config::default(), "GET");
    client.receive_eof();
    let mut headers = [EMPTY_HEADER; 4];
    assert_eq!(
        client.receive(b"", &mut headers),
        Err(Error::IncompleteMessage)
    );
}

#[test]
fn closing_mid_message_abandons_it() {
    let mut conn = Connection::server(Config::default());
    receive_all(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut out = [0u8; 128];
    conn.send_response(
        &ResponseHead::new(
            StatusCode::OK,
            &[Header {
                name: "Content-Length",
                value: b"5",
            }],
        ),
        &mut out,
    )
    .unwrap();
    conn.close();
    assert_eq!(conn.our_state(), State::Error);
    assert!(!conn.is_keep_alive());
}

#[test]
fn an_unsolicited_408_before_any_request_closes_the_connection() {
    let mut conn = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 16];
    // Part of a head arrived, then the head timeout fired.
    assert_eq!(
        conn.receive(b"GET / HT", &mut headers).unwrap().event,
        Event::NeedData
    );
    let mut out = [0u8; 128];
    let n = conn
        .send_response(
            &ResponseHead::new(StatusCode::REQUEST_TIMEOUT, &NO_CONTENT_LENGTH),
            &mut out,
        )
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nconnection: close\r\n\r\n"
    );
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(conn.our_state(), State::MustClose);
    assert!(!conn.is_keep_alive());
    // The rest of that head is never parsed as a request, nor taken for
    // one begun (no request can follow).
    let late = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert!(!conn.message_begun(late));
    assert_eq!(
        conn.receive(late, &mut headers).unwrap(),
        lithe::proto::Received {
            consumed: 0,
            event: Event::Paused
        }
    );
    // Only one such response, and never an interim one.
    assert_eq!(
        conn.send_response(
            &ResponseHead::new(StatusCode::REQUEST_TIMEOUT, &NO_CONTENT_LENGTH),
            &mut out
        ),
        Err(SendError::InvalidState)
    );
    let mut fresh = Connection::server(Config::default());
    assert_eq!(
        fresh.send_response(&ResponseHead::new(StatusCode::CONTINUE, &[]), &mut out),
        Err(SendError::InvalidState)
    );
}

/// A field is read as Host, Expect, Upgrade, Connection, Content-Length or
/// Transfer-Encoding by its whole name: one with the same length and first
/// letter (all a field is first tested on) and another last letter is any
/// other field. Each case is checked against the real name, so it shows the
/// field would have counted.
#[test]
fn fields_named_almost_like_the_framing_fields_are_other_fields() {
    /// What a request with `field` (after `Host: a` and `others`) made of:
    /// 100-continue, Upgrade, keep-alive, body framing.
    type Seen = (bool, bool, bool, Option<BodyLength>);
    fn received(field: &str, others: &str) -> (Result<(), Error>, Seen) {
        let mut conn = Connection::server(Config::default());
        let mut headers = [EMPTY_HEADER; 16];
        let head = format!("POST /f HTTP/1.1\r\nHost: a\r\n{others}{field}\r\n\r\n");
        let result = conn.receive(head.as_bytes(), &mut headers).map(|_| ());
        let seen = (
            conn.they_are_waiting_for_100_continue(),
            conn.they_proposed_a_switch(),
            conn.is_keep_alive(),
            conn.incoming_body(),
        );
        (result, seen)
    }
    for (real, almost, value, others) in [
        ("Expect", "Expecx", "100-continue", "Content-Length: 2\r\n"),
        ("Upgrade", "Upgradx", "h2c", "Connection: upgrade\r\n"),
        ("Connection", "Connectiox", "close", ""),
        ("Content-Length", "Content-Lengtx", "5", ""),
        ("Transfer-Encoding", "Transfer-Encodinx", "chunked", ""),
    ] {
        let counted = received(&format!("{real}: {value}"), others);
        let ignored = received(&format!("{almost}: {value}"), others);
        let other = received(&format!("X-Other: {value}"), others);
        assert_eq!(counted.0, Ok(()), "{real}");
        assert_ne!(counted, ignored, "{real} against {almost}");
        assert_eq!(ignored, other, "{almost}");
    }
    // A Host is read once: another is refused, a near name is not one.
    assert_eq!(received("Host: b", "").0, Err(Error::DuplicateHost));
    assert_eq!(received("Hosx: b", "").0, Ok(()));
}

/// Requests the client sent before its close (a half-close, as `nc -N`
/// does) are all read and answered before the close is reported: the EOF
/// waits behind the bytes still buffered (RFC 9112 §9.6).
#[test]
fn pipelined_requests_before_the_clients_close_are_all_read() {
    let mut conn = Connection::server(Config::default());
    let rest: &[u8] = b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    let input = [&b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"[..], rest].concat();
    assert_eq!(
        receive_all(&mut conn, &input),
        ["request /1", "end", "Paused"]
    );
    conn.receive_eof();
    // The close waits behind the second request, held while /1 is answered.
    let mut headers = [EMPTY_HEADER; 8];
    let held = conn.receive(rest, &mut headers).unwrap();
    assert_eq!((held.consumed, held.event), (0, Event::Paused));
    respond(&mut conn, StatusCode::OK, &NO_CONTENT_LENGTH, b"");
    // The second is read whole; only then is the close reported.
    assert_eq!(
        receive_all(&mut conn, rest),
        ["request /2", "end", "ConnectionClosed"]
    );
    assert_eq!(conn.their_state(), State::Closed);
    // It is still answered, as the last: the client has closed.
    let wire = respond(&mut conn, StatusCode::OK, &NO_CONTENT_LENGTH, b"");
    assert!(
        String::from_utf8_lossy(&wire).ends_with("connection: close\r\n\r\n"),
        "{}",
        String::from_utf8_lossy(&wire)
    );
}

/// A client that closes (half-closes) while its proposal to switch is
/// pending still gets the answer: accepted, both sides switch; declined,
/// the close is then reported.
#[test]
fn a_client_closing_while_a_switch_is_pending_still_gets_the_answer() {
    let request =
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    for accepted in [true, false] {
        let mut conn = Connection::server(Config::default());
        assert_eq!(
            receive_all(&mut conn, request),
            ["request /ws", "end", "Paused"]
        );
        conn.receive_eof();
        assert_eq!(receive_all(&mut conn, b""), ["Paused"]);
        assert_eq!(conn.their_state(), State::MightSwitchProtocol);
        if accepted {
            respond(
                &mut conn,
                StatusCode::SWITCHING_PROTOCOLS,
                &UPGRADE_TO_WEBSOCKET,
                b"",
            );
            assert_eq!(conn.our_state(), State::SwitchedProtocol);
            assert_eq!(conn.their_state(), State::SwitchedProtocol);
        } else {
            respond(&mut conn, StatusCode::OK, &NO_CONTENT_LENGTH, b"");
            assert_eq!(receive_all(&mut conn, b""), ["ConnectionClosed"]);
        }
    }
}

/// Connection options are whole tokens: one that only begins or ends like
/// `close`, `keep-alive` or `upgrade` is another option (RFC 9110 §7.6.1),
/// read as an unknown one is, in a request and in a response. Each is
/// checked against the real option, so it shows the option would have
/// counted.
#[test]
fn options_named_almost_like_close_keep_alive_or_upgrade_are_other_options() {
    /// A request's keep-alive and proposed switch.
    fn request(version: &str, connection: &str) -> (bool, bool) {
        let mut conn = Connection::server(Config::default());
        let mut headers = [EMPTY_HEADER; 8];
        let head = format!(
            "GET / HTTP/{version}\r\nHost: a\r\nUpgrade: websocket\r\nConnection: {connection}\r\n\r\n"
        );
        let received = conn.receive(head.as_bytes(), &mut headers).unwrap();
        assert!(matches!(received.event, Event::Request(_)), "{connection}");
        (conn.is_keep_alive(), conn.they_proposed_a_switch())
    }
    /// Whether a client keeps its connection after a response.
    fn response(version: &str, connection: &str) -> bool {
        let mut conn = support::client_after(Config::default(), "GET");
        let head = format!(
            "HTTP/{version} 200 OK\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n"
        );
        let mut headers = [EMPTY_HEADER; 8];
        let mut input = head.as_bytes();
        while !input.is_empty() {
            let received = conn.receive(input, &mut headers).unwrap();
            input = &input[received.consumed..];
        }
        conn.is_keep_alive()
    }
    for (real, almost) in [
        (
            "close",
            &["closed", "clos", "xclose", "close-", "clost"][..],
        ),
        (
            "keep-alive",
            &["keep-alive2", "keep-aliv", "keep_alive", "xkeep-alive"],
        ),
        ("upgrade", &["upgrade2", "upgrad", "upgrades", "xupgrade"]),
    ] {
        let version = if real == "keep-alive" { "1.0" } else { "1.1" };
        let other = (request(version, "x-other"), response(version, "x-other"));
        let counted = (request(version, real), response(version, real));
        assert_ne!(counted, other, "{real}");
        for almost in almost {
            let seen = (request(version, almost), response(version, almost));
            assert_eq!(seen, other, "{almost} read as {real}");
        }
    }
}

/// A caller that offers fewer bytes than before (a buffer it rebuilt, a
/// mistake) gets a scan from the start, not a panic or a head cut at the
/// old position.
#[test]
fn offering_fewer_bytes_than_before_starts_the_scan_over() {
    let mut conn = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 8];
    let partial = conn.receive(b"GET / HTTP/1.1\r\nHo", &mut headers).unwrap();
    assert_eq!((partial.consumed, partial.event), (0, Event::NeedData));
    let fewer = conn.receive(b"GET", &mut headers).unwrap();
    assert_eq!((fewer.consumed, fewer.event), (0, Event::NeedData));
    let head = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(
        receive_all(&mut conn, head),
        ["request /x", "end", "Paused"]
    );
}

/// What a client's request head sets up on its side: a wait for 100
/// Continue only for an HTTP/1.1 request with content that asks for it,
/// ended by its first body byte; keep-alive ended by its own
/// `Connection: close`; and a second Host refused before anything is
/// written.
#[test]
fn a_clients_request_head_sets_its_own_expectation_and_keep_alive() {
    fn sent(version: Version, fields: &[(&'static str, &'static [u8])]) -> Connection {
        let fields: Vec<Header<'_>> = fields
            .iter()
            .map(|&(name, value)| Header { name, value })
            .collect();
        let mut conn = Connection::client(Config::default());
        let mut out = [0u8; 256];
        let head = RequestHead {
            method: "PUT",
            target: "/f",
            version,
            headers: &fields,
        };
        conn.send_request(&head, &mut out).unwrap();
        conn
    }
    let host: (&str, &[u8]) = ("Host", b"a");
    let expect: (&str, &[u8]) = ("Expect", b"100-continue");
    let two: (&str, &[u8]) = ("Content-Length", b"2");
    let none: (&str, &[u8]) = ("Content-Length", b"0");

    let mut waiting = sent(Version::Http11, &[host, expect, two]);
    assert!(waiting.we_are_waiting_for_100_continue());
    // Sending the body without waiting longer ends the wait.
    waiting.send_data(b"o").unwrap();
    assert!(!waiting.we_are_waiting_for_100_continue());
    assert!(!sent(Version::Http10, &[host, expect, two]).we_are_waiting_for_100_continue());
    assert!(!sent(Version::Http11, &[host, expect, none]).we_are_waiting_for_100_continue());

    assert!(sent(Version::Http11, &[host, two]).is_keep_alive());
    let close: (&str, &[u8]) = ("Connection", b"close");
    assert!(!sent(Version::Http11, &[host, close, two]).is_keep_alive());

    let mut conn = Connection::client(Config::default());
    let fields = [
        Header {
            name: "Host",
            value: b"a",
        },
        Header {
            name: "Host",
            value: b"b",
        },
    ];
    let mut out = [0u8; 256];
    assert_eq!(
        conn.send_request(&RequestHead::new("GET", "/", &fields), &mut out),
        Err(SendError::InvalidFraming(Error::DuplicateHost))
    );
}

/// A server's side: a client that sends its body without waiting for 100
/// Continue is no longer waiting once data arrives (and is until then), and
/// a request that proposed no switch gets no 101. (An HTTP/1.0 client gets
/// no interim response at all: `no_interim_response_to_http10`.)
#[test]
fn a_server_neither_invites_a_body_already_coming_nor_switches_unasked() {
    let mut conn = Connection::server(Config::default());
    let head = b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok";
    let mut headers = [EMPTY_HEADER; 8];
    let received = conn.receive(head, &mut headers).unwrap();
    assert!(matches!(received.event, Event::Request(_)));
    assert!(conn.they_are_waiting_for_100_continue());
    // Nothing of the body yet: still waiting.
    let mut none = [EMPTY_HEADER; 1];
    let nothing = conn.receive(b"", &mut none).unwrap();
    assert_eq!(nothing.event, Event::NeedData);
    assert!(conn.they_are_waiting_for_100_continue());
    let rest = &head[received.consumed..];
    let mut more = [EMPTY_HEADER; 1];
    let received = conn.receive(rest, &mut more).unwrap();
    assert_eq!(received.event, Event::Data(b"ok"));
    assert!(!conn.they_are_waiting_for_100_continue());

    let mut conn = Connection::server(Config::default());
    receive_all(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let switch = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, &UPGRADE_TO_WEBSOCKET);
    let mut out = [0u8; 128];
    assert_eq!(
        conn.send_response(&switch, &mut out),
        Err(SendError::InvalidState)
    );
    assert_eq!(conn.our_state(), State::SendResponse);
}

/// A request without content waits for no `100 Continue`, whatever its
/// Expect field says, nor an HTTP/1.0 one, whose expectation a server MUST
/// ignore (RFC 9110 §10.1.1): the server side judges it as the client side
/// does.
#[test]
fn only_an_http_11_request_with_content_waits_for_100_continue() {
    for (head, waits) in [
        (
            &b"GET /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"[..],
            false,
        ),
        (
            b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
            true,
        ),
        (
            b"PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
            false,
        ),
    ] {
        let mut conn = Connection::server(Config::default());
        let mut headers = [EMPTY_HEADER; 16];
        let received = conn.receive(head, &mut headers).unwrap();
        assert!(matches!(received.event, Event::Request(_)), "{received:?}");
        assert_eq!(
            conn.they_are_waiting_for_100_continue(),
            waits,
            "{}",
            String::from_utf8_lossy(head)
        );
    }
}

/// After a protocol switch the connection is no longer HTTP's: closing it
/// leaves both sides switched, not our side in error.
#[test]
fn closing_after_a_switch_leaves_both_sides_switched() {
    let mut conn = Connection::server(Config::default());
    let input = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    assert_eq!(
        receive_all(&mut conn, input),
        ["request /ws", "end", "Paused"]
    );
    let upgrade = UPGRADE_TO_WEBSOCKET;
    respond(&mut conn, StatusCode::SWITCHING_PROTOCOLS, &upgrade, b"");
    conn.close();
    assert_eq!(
        (conn.our_state(), conn.their_state()),
        (State::SwitchedProtocol, State::SwitchedProtocol)
    );
    assert!(!conn.is_keep_alive());
}

/// Sending data ends the wait for `100 Continue` only when there is data:
/// an empty piece sends nothing, so the client still waits.
#[test]
fn an_empty_piece_does_not_end_the_wait_for_100_continue() {
    let mut conn = client_expecting_two_bytes();
    assert_eq!(conn.send_data(b""), Ok(lithe::proto::DataFrame::BARE));
    assert!(conn.we_are_waiting_for_100_continue());
    conn.send_data(b"o").unwrap();
    assert!(!conn.we_are_waiting_for_100_continue());
}

/// Only a server sends responses: a client refuses to, in whatever state
/// (one that has sent a request, whose server side owes a response, too).
#[test]
fn a_client_sends_no_response() {
    let mut out = [0u8; 256];
    let mut conn = Connection::client(Config::default());
    let ok = ResponseHead::new(StatusCode::OK, &[]);
    assert_eq!(
        conn.send_response(&ok, &mut out),
        Err(SendError::InvalidState)
    );
    conn.send_request(&RequestHead::new("GET", "/", &HOST), &mut out)
        .unwrap();
    conn.send_end(&[], &mut out).unwrap();
    assert_eq!(conn.their_state(), State::SendResponse);
    assert_eq!(
        conn.send_response(&ok, &mut out),
        Err(SendError::InvalidState)
    );
    assert_eq!(
        conn.send_response_sized(&ok, 0, &mut out),
        Err(SendError::InvalidState)
    );
}

/// A switch before the request is sent whole is refused (stricter than
/// h11, failing closed): the client sending an upgrade request with a body
/// it has not finished refuses a 101, and the server may not send one
/// before the request's body has ended.
#[test]
fn no_switch_before_the_request_has_ended() {
    let mut fields = vec![HOST[0]];
    fields.extend(UPGRADE_TO_WEBSOCKET);
    fields.push(Header {
        name: "Content-Length",
        value: b"3",
    });
    let mut out = [0u8; 256];
    let mut client = Connection::client(Config::default());
    client
        .send_request(&RequestHead::new("POST", "/ws", &fields), &mut out)
        .unwrap();
    let mut headers = [EMPTY_HEADER; 8];
    let switching =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    assert_eq!(
        client.receive(switching, &mut headers).err(),
        Some(Error::UnexpectedSwitch)
    );

    let mut server = Connection::server(Config::default());
    let head = b"POST /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(receive_all(&mut server, head), ["request /ws", "NeedData"]);
    let switch = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, &UPGRADE_TO_WEBSOCKET);
    assert_eq!(
        server.send_response(&switch, &mut out),
        Err(SendError::InvalidState)
    );
    assert_eq!(
        receive_all(&mut server, b"abc"),
        ["data abc", "end", "Paused"]
    );
    assert!(server.send_response(&switch, &mut out).is_ok());
}

/// The server's close between exchanges leaves the client nothing to send
/// on: it must close too.
#[test]
fn a_client_whose_server_closed_between_exchanges_must_close() {
    let mut out = [0u8; 256];
    let mut conn = Connection::client(Config::default());
    conn.send_request(&RequestHead::new("GET", "/", &HOST), &mut out)
        .unwrap();
    conn.send_end(&[], &mut out).unwrap();
    let events = receive_all(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(events, ["response 200", "end", "Paused"]);
    conn.receive_eof();
    assert_eq!(receive_all(&mut conn, b""), ["ConnectionClosed"]);
    assert_eq!(
        (conn.our_state(), conn.their_state()),
        (State::MustClose, State::Closed)
    );
    assert_eq!(
        conn.send_request(&RequestHead::new("GET", "/", &HOST), &mut out),
        Err(SendError::InvalidState)
    );
}

/// RFC 9110 §7.8: a server that received both Upgrade and `Expect:
/// 100-continue` sends `100 Continue` before `101`. One not sent yet goes
/// out first, in the bytes the 101 is written into: when the body came
/// unasked, and when there was none; not twice when it was sent.
#[test]
fn a_101_to_an_upgrade_that_expected_100_follows_a_100() {
    const SWITCH: &str =
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    let with_body =
        b"POST /up HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
        Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok";
    let without_body =
        b"GET /up HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
        Expect: 100-continue\r\n\r\n";
    let not_expecting =
        b"GET /up HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    let continue_then_switch = format!("HTTP/1.1 100 Continue\r\n\r\n{SWITCH}");
    let cases: [(&[u8], &str); 3] = [
        (with_body, &continue_then_switch),
        (without_body, &continue_then_switch),
        (not_expecting, SWITCH),
    ];
    let head = ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, &UPGRADE_TO_WEBSOCKET);
    for (request, wire) in cases {
        let mut conn = Connection::server(Config::default());
        let events = receive_all(&mut conn, request);
        assert_eq!(events.last().unwrap(), "Paused", "{events:?}");
        assert_eq!(conn.our_state(), State::SendResponse);
        // One byte short: nothing written, nothing changed.
        let needed = wire.len();
        let mut short = vec![0xAAu8; needed - 1];
        assert_eq!(
            conn.send_response(&head, &mut short),
            Err(SendError::BufferTooSmall { needed }),
            "{wire}"
        );
        assert!(short.iter().all(|&b| b == 0xAA), "{wire}");
        assert_eq!(conn.our_state(), State::SendResponse);
        let mut out = vec![0u8; needed];
        assert_eq!(conn.send_response(&head, &mut out), Ok(needed), "{wire}");
        assert_eq!(String::from_utf8(out).unwrap(), wire);
        assert_eq!(conn.our_state(), State::SwitchedProtocol);
    }

    // A 103 first goes alone (only a 100 answers the expectation), and the
    // 101 after it carries the 100 still owed.
    let mut conn = Connection::server(Config::default());
    receive_all(&mut conn, without_body);
    let hints = [Header {
        name: "Link",
        value: b"</a.css>",
    }];
    assert_eq!(
        respond(&mut conn, StatusCode::new(103).unwrap(), &hints, b""),
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    );
    assert_eq!(
        respond(
            &mut conn,
            StatusCode::SWITCHING_PROTOCOLS,
            &UPGRADE_TO_WEBSOCKET,
            b""
        ),
        continue_then_switch.as_bytes()
    );

    // A CONNECT proposing an upgrade as well opens its tunnel with the 2xx
    // alone: the rule is the 101's.
    let mut conn = Connection::server(Config::default());
    receive_all(
        &mut conn,
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nConnection: upgrade\r\nUpgrade: x\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    assert_eq!(
        respond(&mut conn, StatusCode::OK, &[], b""),
        b"HTTP/1.1 200 OK\r\n\r\n"
    );
    assert_eq!(conn.our_state(), State::SwitchedProtocol);

    // The 100 sent when the body was asked for: the 101 comes alone.
    let mut conn = Connection::server(Config::default());
    let (head_part, body) = with_body.split_at(with_body.len() - 2);
    assert_eq!(receive_all(&mut conn, head_part)[0], "request /up");
    let sent = respond(&mut conn, StatusCode::CONTINUE, &[], b"");
    assert_eq!(sent, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(receive_all(&mut conn, body), ["data ok", "end", "Paused"]);
    assert_eq!(
        respond(
            &mut conn,
            StatusCode::SWITCHING_PROTOCOLS,
            &UPGRADE_TO_WEBSOCKET,
            b""
        ),
        SWITCH.as_bytes()
    );
}

/// A client awaiting the answer to its proposal cannot switch once the
/// server has failed or closed: it must close, as a client `Done` must, and
/// closing then is a close, not an error of its own.
#[test]
fn a_client_awaiting_a_switch_must_close_when_the_server_fails() {
    let answers: [&[u8]; 2] = [b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", b""];
    for answer in answers {
        let mut conn = client_proposing_websocket();
        assert_eq!(conn.our_state(), State::MightSwitchProtocol);
        if answer.is_empty() {
            conn.receive_eof();
        }
        let mut headers = [EMPTY_HEADER; 16];
        assert!(conn.receive(answer, &mut headers).is_err(), "{answer:?}");
        assert_eq!(
            (conn.our_state(), conn.their_state()),
            (State::MustClose, State::Error),
            "{answer:?}"
        );
        conn.close();
        assert_eq!(conn.our_state(), State::Closed, "{answer:?}");
    }
}

/// A server between requests tells the empty lines a client may send after
/// a body (RFC 9112 §2.2), which `receive` skips without consuming, from a
/// request begun: the first is idle (its idle timeout), the second reads a
/// head (its head timeout). A client's peer sends no such lines.
#[test]
fn a_server_tells_empty_lines_between_requests_from_a_request_begun() {
    let mut conn = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 4];
    let request = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\n";
    assert_eq!(
        receive_all(&mut conn, &request[..request.len() - 2]),
        ["request /", "data hi", "end", "Paused"]
    );
    respond(&mut conn, StatusCode::OK, &NO_CONTENT_LENGTH, b"");
    let extra = b"\r\n";
    let waiting = conn.receive(extra, &mut headers).unwrap();
    assert_eq!((waiting.consumed, waiting.event), (0, Event::NeedData));
    for (input, begun) in [
        (&b""[..], false),
        (b"\r\n", false),
        (b"\r\n\r\n", false),
        (b"\r", true),
        (b"\n", true),
        (b"\r\nGET / HT", true),
        (b"GET / HT", true),
    ] {
        assert_eq!(conn.message_begun(input), begun, "{input:?}");
    }
    // Bare LFs are empty lines only where they end lines.
    let lenient = Config {
        leniency: lithe::proto::Leniency {
            allow_bare_lf: true,
            ..Default::default()
        },
        ..Config::default()
    };
    let server = Connection::server(lenient);
    assert!(!server.message_begun(b"\n\r\n"));
    assert!(server.message_begun(b"\nG"));
    let client = Connection::client(Config::default());
    assert!(!client.message_begun(b""));
    assert!(client.message_begun(b"\r\n"));
}

/// A message under way has begun whatever its body's bytes are; once no
/// HTTP message can follow (a switch, a close), none begins.
#[test]
fn a_message_under_way_has_begun_and_none_follows_a_switch() {
    let mut conn = Connection::server(Config::default());
    let request = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n";
    assert_eq!(receive_all(&mut conn, request), ["request /", "NeedData"]);
    assert!(conn.message_begun(b""));
    assert!(conn.message_begun(b"\r\n"));

    let mut conn = Connection::server(Config::default());
    let upgrade = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    assert_eq!(
        receive_all(&mut conn, upgrade),
        ["request /", "end", "Paused"]
    );
    respond(
        &mut conn,
        StatusCode::SWITCHING_PROTOCOLS,
        &UPGRADE_TO_WEBSOCKET,
        b"",
    );
    assert_eq!(conn.their_state(), State::SwitchedProtocol);
    assert!(!conn.message_begun(b"GET / HTTP/1.1\r\n"));

    let mut conn = Connection::server(Config::default());
    let closing = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert_eq!(
        receive_all(&mut conn, closing),
        ["request /", "end", "Paused"]
    );
    assert!(!conn.message_begun(b"GET / HTTP/1.1\r\n"));
}

/// A caller with no larger header array than the one a head overflowed (no
/// heap) answers 431 itself: the request was not taken, both sides are
/// still idle, so the answer goes out unsolicited, saying the connection
/// closes, and closes it.
#[test]
fn a_head_that_overflows_a_short_array_can_be_refused_unsolicited() {
    let mut conn = Connection::server(Config::default());
    let mut two = [EMPTY_HEADER; 2];
    let head = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-One: 1\r\n\r\n";
    let received = conn.receive(head, &mut two).unwrap();
    assert_eq!((received.consumed, received.event), (0, Event::HeadersFull));
    assert_eq!(
        (conn.our_state(), conn.their_state()),
        (State::Idle, State::Idle)
    );
    let status = StatusCode::new(431).unwrap();
    let wire = respond(&mut conn, status, &NO_CONTENT_LENGTH, b"");
    let wire = String::from_utf8(wire).unwrap();
    assert!(wire.starts_with("HTTP/1.1 431 "), "{wire}");
    assert!(
        wire.to_ascii_lowercase().contains("connection: close\r\n"),
        "{wire}"
    );
    assert_eq!(conn.our_state(), State::MustClose);
    assert!(!conn.is_keep_alive());
}

/// A body is read with an empty header array until its trailer section,
/// which asks for one (`HeadersFull`, the chunk framing before it
/// consumed) and then comes whole with it.
#[test]
fn a_body_read_with_an_empty_field_array_asks_for_one_only_at_its_trailers() {
    let mut conn = Connection::server(Config::default());
    let mut headers = [EMPTY_HEADER; 4];
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let received = conn.receive(head, &mut headers).unwrap();
    assert!(matches!(received.event, Event::Request(_)));
    let mut body: &[u8] = b"5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n";
    let mut data = Vec::new();
    loop {
        let received = conn.receive(body, &mut []).unwrap();
        body = &body[received.consumed..];
        match received.event {
            Event::Data(piece) => data.extend_from_slice(piece),
            Event::HeadersFull => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(data, b"hello");
    assert_eq!(
        body, b"X-Sum: 5\r\n\r\n",
        "the framing before the trailers is taken"
    );
    let received = conn.receive(body, &mut headers).unwrap();
    let Event::End { trailers } = received.event else {
        panic!("{:?}", received.event);
    };
    assert_eq!(received.consumed, body.len());
    assert_eq!((trailers[0].name, trailers[0].value), ("X-Sum", &b"5"[..]));
}
