//! Shared helpers for the `proto` tests: drive a connection over some input under a
//! chosen split and record the events in an owned, comparable form.
#![allow(dead_code)]

use lithe::proto::{
    Config, Connection, EMPTY_HEADER, Error, Event, Header, Leniency, RequestHead, ResponseHead,
    StatusCode,
};

/// The default configuration under `leniency`.
pub fn with_leniency(leniency: Leniency) -> Config {
    Config {
        leniency,
        ..Config::default()
    }
}

/// An [`Event`] with everything owned, so runs under different splits compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    Request {
        method: String,
        target: String,
        version: String,
        headers: Vec<(String, Vec<u8>)>,
    },
    Response {
        status: u16,
        reason: String,
        version: String,
        headers: Vec<(String, Vec<u8>)>,
    },
    /// Body data, with consecutive pieces merged (splits change how data is cut).
    Data(Vec<u8>),
    End {
        trailers: Vec<(String, Vec<u8>)>,
    },
    Paused,
    /// The input ended inside a message and no EOF followed.
    NeedData,
    SwitchedProtocol {
        rest: Vec<u8>,
    },
    ConnectionClosed,
    Error(Error),
}

pub fn owned_headers(headers: &[Header<'_>]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect()
}

/// How the input is cut into the pieces that arrive one after another.
#[derive(Clone, Copy, Debug)]
pub enum Split {
    Whole,
    ByteByByte,
    Every(usize),
    /// Pieces of sizes drawn from a xorshift generator with this (nonzero)
    /// seed: mostly 1 to 16 bytes, now and then up to 512, so that a piece
    /// that ends inside a line is followed by one that brings several.
    Varied(u64),
}

impl Split {
    /// The size of the next piece.
    fn piece(&mut self) -> usize {
        match self {
            Split::Whole => usize::MAX,
            Split::ByteByByte => 1,
            Split::Every(n) => *n,
            Split::Varied(state) => {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                let drawn = (*state >> 8) as usize;
                match drawn % 8 {
                    0 => 1 + (drawn >> 3) % 512,
                    _ => 1 + (drawn >> 3) % 16,
                }
            }
        }
    }

    /// A varied split whose sizes follow from `input`: the same input is
    /// cut the same way on every run, different inputs differently.
    pub fn varied_for(input: &[u8]) -> Split {
        let seed = input.iter().fold(0x9e37_79b9_7f4a_7c15_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Split::Varied(seed | 1)
    }
}

/// What a driver does after a message of the peer ends, so the cycle can go on.
pub type Responder = fn(&mut Connection);

/// Server role: after each request, answer 200 with an empty body.
pub fn answer_empty(conn: &mut Connection) {
    let mut out = [0u8; 256];
    let fields = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    let sent = conn.send_response(&ResponseHead::new(StatusCode::OK, &fields), &mut out);
    if sent == Err(lithe::proto::SendError::FramingNotAllowed) {
        // A 2xx to CONNECT opens a tunnel and may carry no Content-Length.
        conn.send_response(&ResponseHead::new(StatusCode::OK, &[]), &mut out)
            .unwrap();
    } else {
        sent.unwrap();
    }
    // A 2xx to CONNECT switches protocols: no body to end.
    if conn.our_state() != lithe::proto::State::SwitchedProtocol {
        conn.send_end(&[], &mut out).unwrap();
    }
}

/// Feeds `input` to `conn` under `split`, then EOF if `eof`, recording events until
/// the connection pauses for good, closes, switches or errs. `respond` runs after
/// each [`Event::End`] from the peer.
pub fn drive(
    conn: &mut Connection,
    input: &[u8],
    mut split: Split,
    eof: bool,
    respond: Responder,
) -> Vec<Owned> {
    let mut events: Vec<Owned> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut eof_sent = false;
    let push = |events: &mut Vec<Owned>, e: Owned| match (events.last_mut(), e) {
        (Some(Owned::Data(prev)), Owned::Data(more)) => prev.extend_from_slice(&more),
        (_, e) => events.push(e),
    };
    // Grown whenever a head overflows it, as a caller is meant to.
    let mut header_room = 16;
    loop {
        let mut headers = vec![EMPTY_HEADER; header_room];
        let received = match conn.receive(&buf, &mut headers) {
            Ok(r) => r,
            Err(e) => {
                push(&mut events, Owned::Error(e));
                // An error is final: the same error again, whatever comes next.
                let mut again = [EMPTY_HEADER; 4];
                assert_eq!(conn.receive(b"GET / HTTP/1.1\r\n", &mut again), Err(e));
                return events;
            }
        };
        assert!(received.consumed <= buf.len(), "consumed more than given");
        let consumed = received.consumed;
        let all_offered = fed == input.len() && buf.len() == consumed;
        let mut need_input = false;
        let mut ended = false;
        match received.event {
            Event::Request(h) => push(&mut events, owned_request(&h)),
            Event::Response(h) => push(&mut events, owned_response(&h)),
            Event::Data(d) => push(&mut events, Owned::Data(d.to_vec())),
            Event::End { trailers } => {
                push(
                    &mut events,
                    Owned::End {
                        trailers: owned_headers(trailers),
                    },
                );
                ended = true;
            }
            Event::NeedData => need_input = true,
            Event::HeadersFull => {
                // Nothing of a head is consumed; of a body, only the chunk
                // framing before its trailer section.
                assert!(
                    consumed == 0
                        || events
                            .iter()
                            .any(|e| matches!(e, Owned::Request { .. } | Owned::Response { .. })),
                    "HeadersFull consumed {consumed} bytes of a head"
                );
                buf.drain(..consumed);
                header_room *= 2;
                continue;
            }
            Event::Paused if eof && !eof_sent && all_offered => need_input = true,
            // A client with no request outstanding waits on us, but bytes
            // that arrive meanwhile are unsolicited whatever the split: fed
            // on, they meet the error the whole input meets at once.
            Event::Paused
                if conn.role() == lithe::proto::Role::Client
                    && conn.our_state() == lithe::proto::State::Idle
                    && fed < input.len() =>
            {
                need_input = true
            }
            Event::Paused => {
                push(&mut events, Owned::Paused);
                return events;
            }
            Event::SwitchedProtocol => {
                let mut rest = buf[consumed..].to_vec();
                rest.extend_from_slice(&input[fed..]);
                push(&mut events, Owned::SwitchedProtocol { rest });
                return events;
            }
            Event::ConnectionClosed => {
                push(&mut events, Owned::ConnectionClosed);
                return events;
            }
        }
        buf.drain(..consumed);
        if ended {
            respond(conn);
        }
        if need_input {
            if fed == input.len() {
                if !eof || eof_sent {
                    push(&mut events, Owned::NeedData);
                    return events;
                }
                conn.receive_eof();
                eof_sent = true;
                continue;
            }
            let n = split.piece().min(input.len() - fed);
            buf.extend_from_slice(&input[fed..fed + n]);
            fed += n;
        }
    }
}

pub fn owned_request(h: &RequestHead<'_, '_>) -> Owned {
    Owned::Request {
        method: h.method.to_string(),
        target: h.target.to_string(),
        version: h.version.to_string(),
        headers: owned_headers(h.headers),
    }
}

pub fn owned_response(h: &ResponseHead<'_, '_>) -> Owned {
    Owned::Response {
        status: h.status.as_u16(),
        reason: h.reason.to_string(),
        version: h.version.to_string(),
        headers: owned_headers(h.headers),
    }
}

/// A request appended after complete inputs, to check a reader stops exactly at
/// the end of its message.
pub const NEXT_REQUEST: &[u8] = b"GET /next HTTP/1.1\r\nHost: next\r\n\r\n";

/// A response appended after complete inputs, as [`NEXT_REQUEST`] is. It closes
/// the connection, so that [`request_next`] sends no request after it that
/// the peer's close would leave unanswered.
pub const NEXT_RESPONSE: &[u8] = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";

/// Server role: the events for `input` (with EOF after it), checked to be the same
/// under [`four_splits`]; and, when the input ends cleanly between messages on
/// a connection that persists, the same again with [`NEXT_REQUEST`] appended,
/// which must then be read as one more request.
pub fn server_events(config: Config, input: &[u8]) -> Vec<Owned> {
    let make = || Connection::server(config);
    let whole = four_ways(make, input, answer_empty);
    let next = Appended {
        bytes: NEXT_REQUEST,
        respond: answer_empty,
        head: owned_request(&RequestHead::new(
            "GET",
            "/next",
            &[Header {
                name: "Host",
                value: b"next",
            }],
        )),
    };
    next.is_read_alone(make, input, &whole, answer_empty);
    whole
}

thread_local! {
    /// How many inputs this thread's test has checked again with a message
    /// appended ([`appended_runs`]).
    static APPENDED_RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many inputs the calling test has checked again with a message appended
/// by [`server_events`] and [`client_events`], so that it can assert the check
/// ran: it once stopped running unseen, when a connection closed by its peer
/// began to report that it does not persist.
pub fn appended_runs() -> usize {
    APPENDED_RUNS.get()
}

/// A message appended after an input that ends cleanly between messages.
struct Appended {
    bytes: &'static [u8],
    /// What the driver does after each message of the peer in the run with
    /// the message appended: it must let the connection read one more.
    respond: Responder,
    /// The appended message's head, which has no body.
    head: Owned,
}

impl Appended {
    /// When `whole` (the events for `input` alone, `respond` run after each
    /// message) ends in a clean close of a connection that persists, checks
    /// that with this message appended the events before the close are the
    /// same and this message follows them, read as one message on its own:
    /// a reader that takes bytes past its message's end shows only so.
    fn is_read_alone(
        &self,
        make: impl Fn() -> Connection,
        input: &[u8],
        whole: &[Owned],
        respond: Responder,
    ) {
        // Whether it persists is asked before the close, which ends keep-alive.
        let mut conn = make();
        drive(&mut conn, input, Split::Whole, false, respond);
        if whole.last() != Some(&Owned::ConnectionClosed) || !conn.is_keep_alive() {
            return;
        }
        APPENDED_RUNS.set(APPENDED_RUNS.get() + 1);
        let mut appended = input.to_vec();
        appended.extend_from_slice(self.bytes);
        let with_next = four_ways(make, &appended, self.respond);
        let prefix = &whole[..whole.len() - 1];
        assert_eq!(
            &with_next[..prefix.len().min(with_next.len())],
            prefix,
            "appending a message changed the events before it"
        );
        assert_eq!(
            &with_next[prefix.len()..],
            &[
                self.head.clone(),
                Owned::End { trailers: vec![] },
                Owned::ConnectionClosed
            ],
            "the appended message was not read as the next message"
        );
    }
}

/// The four splits every input is read under: whole, byte by byte, 7-byte
/// pieces, and pieces of sizes varied by [`Split::varied_for`] the input.
fn four_splits(input: &[u8]) -> [Split; 4] {
    [
        Split::Whole,
        Split::ByteByByte,
        Split::Every(7),
        Split::varied_for(input),
    ]
}

/// Runs the same input under [`four_splits`] on fresh connections and
/// asserts the events agree; returns them.
pub fn four_ways(make: impl Fn() -> Connection, input: &[u8], respond: Responder) -> Vec<Owned> {
    let splits = four_splits(input);
    let mut runs = splits.map(|split| {
        let mut conn = make();
        drive(&mut conn, input, split, true, respond)
    });
    let whole = std::mem::take(&mut runs[0]);
    assert_eq!(
        whole, runs[1],
        "byte-by-byte run differs from whole-input run"
    );
    assert_eq!(
        whole, runs[2],
        "7-byte-piece run differs from whole-input run"
    );
    assert_eq!(
        whole, runs[3],
        "run in pieces of varied sizes ({:?}) differs from whole-input run",
        splits[3]
    );
    whole
}

/// Feeds `input` whole, then byte by byte, to fresh connections without the
/// peer's close (so that only the bytes themselves decide), asserts the
/// events agree, and returns them.
pub fn unclosed_two_ways(
    make: impl Fn() -> Connection,
    input: &[u8],
    respond: Responder,
) -> Vec<Owned> {
    let whole = drive(&mut make(), input, Split::Whole, false, respond);
    let byte_by_byte = drive(&mut make(), input, Split::ByteByByte, false, respond);
    assert_eq!(
        whole,
        byte_by_byte,
        "{}: byte-by-byte run differs from whole-input run",
        String::from_utf8_lossy(input)
    );
    whole
}

/// The first error among `events`, if any.
pub fn error_of(events: &[Owned]) -> Option<Error> {
    events.iter().find_map(|e| match e {
        Owned::Error(e) => Some(*e),
        _ => None,
    })
}

/// The body bytes of the message at index `n` (counting Data runs).
pub fn bodies(events: &[Owned]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for e in events {
        match e {
            Owned::Request { .. } | Owned::Response { .. } => current = Some(Vec::new()),
            Owned::Data(d) => current.get_or_insert_with(Vec::new).extend_from_slice(d),
            Owned::End { .. } => out.push(current.take().unwrap_or_default()),
            _ => {}
        }
    }
    out
}

/// Client role: a connection that has sent a `method` request (with an empty
/// body) and now waits for the response.
pub fn client_after(config: Config, method: &str) -> Connection {
    let mut conn = Connection::client(config);
    send_request_without_body(&mut conn, method);
    conn
}

/// Client role: sends a whole `method` request with an empty body.
fn send_request_without_body(conn: &mut Connection, method: &str) {
    // A target with an authority has it for Host too (RFC 9112 §3.2).
    let (target, host): (_, &[u8]) = if method == "CONNECT" {
        ("a.example:443", b"a.example:443")
    } else {
        ("/", b"a.example")
    };
    let fields = [Header {
        name: "Host",
        value: host,
    }];
    let mut out = [0u8; 256];
    conn.send_request(&RequestHead::new(method, target, &fields), &mut out)
        .unwrap();
    if conn.our_state() == lithe::proto::State::SendBody {
        conn.send_end(&[], &mut out).unwrap();
    }
}

/// Client role: does nothing after a response ends.
pub fn no_response(_: &mut Connection) {}

/// Client role: after each response, sends the next request (a GET) if the
/// connection persists, so that the response after it can be read.
pub fn request_next(conn: &mut Connection) {
    if conn.is_keep_alive() {
        send_request_without_body(conn, "GET");
    }
}

/// Client role: the events for the response `input` to a `method` request, checked
/// the same under [`four_splits`]; and, when the input ends cleanly between
/// messages on a connection that persists, the same again with
/// [`NEXT_RESPONSE`] appended (and the next request sent for it), which must
/// then be read as one more response.
pub fn client_events(config: Config, method: &str, input: &[u8]) -> Vec<Owned> {
    let make = || client_after(config, method);
    let whole = four_ways(make, input, no_response);
    let next = Appended {
        bytes: NEXT_RESPONSE,
        respond: request_next,
        head: owned_response(&ResponseHead::new(
            StatusCode::NO_CONTENT,
            &[Header {
                name: "Connection",
                value: b"close",
            }],
        )),
    };
    next.is_read_alone(make, input, &whole, no_response);
    whole
}

/// The framing the connection chose for the first final message in `input`
/// (interim responses are passed over), `None` if the connection switched
/// protocols at that head's end, with no body (a 2xx to CONNECT, RFC 9112
/// §6.3 rule 2), or the error it raised before; the same under
/// [`four_splits`].
pub fn framing_of(
    make: impl Fn() -> Connection,
    input: &[u8],
) -> Result<Option<lithe::proto::BodyLength>, Error> {
    let splits = four_splits(input);
    let [whole, rest @ ..] = splits.map(|split| first_framing(make(), input, split));
    for (split, framing) in splits[1..].iter().zip(rest) {
        assert_eq!(framing, whole, "framing under {split:?} differs from whole");
    }
    whole
}

/// [`framing_of`] under one split.
fn first_framing(
    mut conn: Connection,
    input: &[u8],
    mut split: Split,
) -> Result<Option<lithe::proto::BodyLength>, Error> {
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        let mut headers = [EMPTY_HEADER; 64];
        let received = conn.receive(&buf, &mut headers)?;
        if let Some(framing) = conn.incoming_body() {
            return Ok(Some(framing));
        }
        let need_data = match received.event {
            Event::NeedData => true,
            Event::Response(_) => false,
            Event::SwitchedProtocol => return Ok(None),
            other => panic!("{other:?} before a final head"),
        };
        buf.drain(..received.consumed);
        if need_data {
            assert!(fed < input.len(), "the input holds no final head");
            let n = split.piece().min(input.len() - fed);
            buf.extend_from_slice(&input[fed..fed + n]);
            fed += n;
        }
    }
}
