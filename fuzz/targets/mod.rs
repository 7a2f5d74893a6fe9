//! The logic of the fuzz targets: one plain function per target, taking the raw
//! fuzz input and panicking (`assert!`) when an invariant of `lithe::proto`
//! breaks.
//!
//! The cargo-fuzz binaries in `fuzz/fuzz_targets/` call these functions, and so
//! does the stable test `tests/fuzz_corpus.rs`, which replays the committed
//! corpus (`fuzz/corpus/<target>/`) in CI: a crash found by fuzzing and saved to
//! the corpus stays a regression test without a nightly toolchain. The proto
//! targets use `lithe::proto`, `core` and `std` alone; the driver targets
//! (feature `std`) also lithe's async layer, futures-lite, async-io and
//! bytes.
//!
//! # Input layouts
//!
//! The stream targets start with a *feed header*, [`Feed::parse`]: one byte whose
//! low four bits give a count `n` and whose high bits pick leniencies and tight
//! limits, then `n` piece lengths. The rest of the input is the peer's byte
//! stream, delivered in pieces of those lengths (cyclically; all zero or `n = 0`
//! means in one piece). A seed that starts with a zero byte is therefore one
//! plain HTTP stream under the default configuration.
//!
//! | target | layout |
//! |---|---|
//! | [`server_stream`] | feed header, request stream |
//! | [`client_response`] | method byte (GET, HEAD, CONNECT, POST with body; with bit 2 set, GET over HTTP/1.0, with `Connection: close` or proposing an Upgrade, POST with `Expect: 100-continue`), feed header, response stream |
//! | [`chunked`] | feed header, chunked body |
//! | [`roundtrip`] | a description of one message, read by [`Source`] |
//! | [`driver::server_driver`] | feed header, request stream, through the async server driver |
//! | [`client_driver::client_driver`] | method byte, feed header, response stream, through the async client connection |
#![allow(dead_code)]

#[cfg(feature = "std")]
pub mod client_driver;
#[cfg(feature = "std")]
pub mod driver;

use lithe::proto::{
    BodyLength, ChunkedDecoder, Config, Connection, Decoded, EMPTY_HEADER, Error, Event, Header,
    Leniency, Limits, RequestHead, ResponseHead, SendError, State, StatusCode, Version,
    is_header_section_only,
};

/// Header slots offered to each `receive`; below the default `max_headers`, so
/// a head that overflows the array (`Event::HeadersFull`) is exercised too.
const HEADER_SLOTS: usize = 32;

/// Header slots offered after `Event::HeadersFull`: above every limit used here.
const LARGE_HEADER_SLOTS: usize = 1024;

// ---------------------------------------------------------------------------
// Feeding a byte stream in pieces

/// How the stream part of an input is cut into reads, and the configuration the
/// receiving side uses.
#[derive(Clone, Debug)]
pub struct Feed {
    /// Piece lengths, repeated cyclically; empty means one piece.
    pieces: Vec<usize>,
    /// The configuration the header byte selects.
    config: Config,
}

impl Feed {
    /// Reads a feed header off the front of `data`; returns it and the stream.
    ///
    /// Header byte: bits 0-3 piece count, bit 4 `allow_bare_lf`, bit 5
    /// `allow_obs_fold_in_responses`, bit 6 the two whitespace leniencies of
    /// responses (`allow_space_before_colon_in_responses`,
    /// `allow_padded_chunk_lines_in_responses`), bit 7 tight limits (so limit
    /// checks meet split points often).
    pub fn parse(data: &[u8]) -> (Feed, &[u8]) {
        let Some((&flags, rest)) = data.split_first() else {
            return (
                Feed {
                    pieces: Vec::new(),
                    config: Config::default(),
                },
                data,
            );
        };
        let count = usize::from(flags & 0x0f).min(rest.len());
        let (lengths, stream) = rest.split_at(count);
        let mut pieces: Vec<usize> = lengths.iter().map(|&b| usize::from(b)).collect();
        if pieces.iter().all(|&p| p == 0) {
            pieces.clear();
        }
        let leniency = Leniency {
            allow_bare_lf: flags & 0x10 != 0,
            allow_obs_fold_in_responses: flags & 0x20 != 0,
            allow_space_before_colon_in_responses: flags & 0x40 != 0,
            allow_padded_chunk_lines_in_responses: flags & 0x40 != 0,
        };
        let limits = if flags & 0x80 != 0 {
            Limits {
                max_head_bytes: 256,
                max_headers: 8,
                max_request_target_bytes: 32,
                max_chunk_extension_bytes: 16,
                max_chunk_extension_bytes_per_body: 40,
                max_trailer_bytes: 64,
                max_body_bytes: 1024,
                max_interim_responses: 2,
            }
        } else {
            Limits::default()
        };
        (
            Feed {
                pieces,
                config: Config { limits, leniency },
            },
            stream,
        )
    }

    /// The configuration selected by the header byte.
    pub fn config(&self) -> Config {
        self.config
    }

    /// The piece lengths for a stream of `len` bytes: as the header says, and
    /// never stuck (a zero-length piece offers the same bytes again).
    fn lengths(&self) -> impl Iterator<Item = usize> + '_ {
        let cyclic = (!self.pieces.is_empty()).then(|| self.pieces.iter().copied().cycle());
        cyclic
            .into_iter()
            .flatten()
            .chain(core::iter::repeat(usize::MAX))
    }
}

/// The three ways every stream target delivers the same bytes.
enum Delivery<'f> {
    Whole,
    ByteByByte,
    Pieces(&'f Feed),
}

impl Delivery<'_> {
    fn lengths(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        match self {
            Delivery::Whole => Box::new(core::iter::repeat(usize::MAX)),
            Delivery::ByteByByte => Box::new(core::iter::repeat(1)),
            Delivery::Pieces(feed) => Box::new(feed.lengths()),
        }
    }
}

// ---------------------------------------------------------------------------
// Events in an owned, comparable form

/// Header fields, owned.
pub type Fields = Vec<(String, Vec<u8>)>;

fn own_fields(fields: &[Header<'_>]) -> Fields {
    fields
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect()
}

/// RFC 9112's rules for an accepted request head that httparse alone would
/// let through, checked apart from proto: a token for a method, a target
/// within its limit, and one Host in HTTP/1.1 (at most one in 1.0).
fn check_request_rules(head: &RequestHead<'_, '_>, limits: &Limits) {
    assert!(
        is_token(head.method.as_bytes()),
        "a method that is no token accepted: {:?}",
        head.method
    );
    assert!(
        head.target.len() <= limits.max_request_target_bytes,
        "a target of {} bytes accepted, over the {}-byte limit",
        head.target.len(),
        limits.max_request_target_bytes
    );
    let hosts = head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"))
        .count();
    let required = usize::from(head.version == Version::Http11);
    assert!(
        (required..=1).contains(&hosts),
        "a {:?} request with {hosts} Host fields accepted",
        head.version
    );
    check_fields(head.headers, false);
}

/// Accepted fields have token names and values with no NUL, and no line
/// break except where `folds` lets obs-fold through (responses only).
fn check_fields(fields: &[Header<'_>], folds: bool) {
    for field in fields {
        assert!(
            is_token(field.name.as_bytes()),
            "a field name that is no token accepted: {:?}",
            field.name
        );
        let breaks = |b: &u8| *b == b'\r' || *b == b'\n';
        assert!(
            !field.value.contains(&0) && (folds || !field.value.iter().any(breaks)),
            "a field value with NUL or a line break accepted: {:?}",
            field.value.escape_ascii().to_string()
        );
    }
}

/// `tchar` (RFC 9110 §5.6.2), written apart from proto's: what generated
/// tokens are made of and what an accepted one may hold.
const TCHAR: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `token = 1*tchar`.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|b| TCHAR.contains(b))
}

/// What a connection reported, owned so traces from different deliveries can be
/// compared. Body data is concatenated per message, since how it is cut into
/// `Data` events depends on the split; `NeedData` and intermediate `Paused` are
/// left out for the same reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A request head.
    Request {
        method: String,
        target: String,
        version: Version,
        headers: Fields,
    },
    /// A response head, interim or final.
    Response {
        version: Version,
        status: u16,
        reason: String,
        headers: Fields,
    },
    /// All body bytes of one message (absent when the body was empty).
    Body(Vec<u8>),
    /// The end of a message.
    End { trailers: Fields },
    /// The peer closed cleanly between messages.
    Closed,
    /// The connection switched protocols; `rest` bytes belong to the new one.
    Switched { rest: usize },
    /// The input ran out while the connection waits on us; `rest` bytes unread.
    Stalled { rest: usize },
    /// The peer broke the protocol.
    Failed(Error),
}

// ---------------------------------------------------------------------------
// Driving a connection over a stream

/// What our side does between receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Us {
    /// Answer requests as [`server_stream`] describes: early or at their end,
    /// with `100 Continue` first if awaited, a 101 or an empty 200.
    Server,
    /// Answer every request at its end, with `100 Continue` first if
    /// awaited: a 101 to an Upgrade [`accepts_upgrade`] takes, an empty 200
    /// to anything else. What the service of [`driver::server_driver`] does,
    /// so its run predicts the driver's answers.
    PlainServer,
    /// Send this request whenever the connection is idle and bytes are waiting.
    Client(Method),
    /// Send this request whenever the connection is idle, bytes or not, as a
    /// client that keeps reusing its connection does.
    EagerClient(Method),
    /// Only read: whatever our side owes was sent before reading began.
    Reader,
}

impl Us {
    fn is_server(self) -> bool {
        matches!(self, Us::Server | Us::PlainServer)
    }
}

/// The requests [`client_response`] can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Connect,
    PostWithBody,
    /// A GET over HTTP/1.0: the connection ends with its answer.
    GetHttp10,
    /// A GET with `Connection: close`.
    GetClosing,
    /// A GET proposing `Upgrade: websocket`: a 101 switches protocols.
    GetUpgrading,
    /// The POST with `Expect: 100-continue`, its body sent without waiting.
    PostExpecting,
}

impl Method {
    /// The request a method byte's low three bits pick.
    fn from_byte(b: u8) -> Method {
        [
            Method::Get,
            Method::Head,
            Method::Connect,
            Method::PostWithBody,
            Method::GetHttp10,
            Method::GetClosing,
            Method::GetUpgrading,
            Method::PostExpecting,
        ][usize::from(b & 7)]
    }

    fn name(self) -> &'static str {
        match self {
            Method::Get | Method::GetHttp10 | Method::GetClosing | Method::GetUpgrading => "GET",
            Method::Head => "HEAD",
            Method::Connect => "CONNECT",
            Method::PostWithBody | Method::PostExpecting => "POST",
        }
    }
}

// ---------------------------------------------------------------------------
// RFC 9112 §6.3, worked out apart from proto: the framing of a head proto
// accepted. Where the RFC leaves a choice, lithe's documented one: a request
// takes `chunked` alone, and a Content-Length of 0 is no body.

/// The elements of every field named `name` taken as one list (RFC 9110
/// §5.6.1: empty elements and the whitespace around them do not count, a
/// folded line's break included, as unfolding makes it a space);
/// `None` when there is no such field.
fn list_of(fields: &Fields, name: &str) -> Option<Vec<Vec<u8>>> {
    let mut values = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .peekable();
    values.peek()?;
    let elements = values
        .flat_map(|(_, value)| value.split(|&b| b == b','))
        .map(|e| trim_folded_ows(e).to_vec())
        .filter(|e| !e.is_empty())
        .collect();
    Some(elements)
}

/// `bytes` without the whitespace around them, a folded line's break counted
/// as whitespace.
fn trim_folded_ows(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |end| end + 1);
    &bytes[start..end]
}

/// The one length every Content-Length element states, as a body length; an
/// accepted head has one.
fn content_length(elements: &[Vec<u8>]) -> BodyLength {
    let lengths: Vec<u64> = elements
        .iter()
        .map(|e| {
            assert!(
                !e.is_empty() && e.iter().all(u8::is_ascii_digit),
                "an accepted Content-Length element is not digits: {:?}",
                e.escape_ascii().to_string()
            );
            std::str::from_utf8(e)
                .unwrap()
                .parse()
                .expect("an accepted Content-Length fits a u64")
        })
        .collect();
    assert!(
        !lengths.is_empty(),
        "an accepted Content-Length with no value"
    );
    assert!(
        lengths.windows(2).all(|w| w[0] == w[1]),
        "Content-Length values that differ were accepted: {lengths:?}"
    );
    match lengths[0] {
        0 => BodyLength::Empty,
        n => BodyLength::Length(n),
    }
}

/// A request's framing: `chunked` alone, a Content-Length, or no body.
fn request_framing(fields: &Fields, version: Version) -> BodyLength {
    let lengths = list_of(fields, "content-length");
    if let Some(codings) = list_of(fields, "transfer-encoding") {
        assert_eq!(
            version,
            Version::Http11,
            "Transfer-Encoding accepted in HTTP/1.0"
        );
        assert!(
            lengths.is_none(),
            "Transfer-Encoding and Content-Length accepted together"
        );
        assert!(
            codings.len() == 1 && codings[0].eq_ignore_ascii_case(b"chunked"),
            "a request accepted with codings other than chunked alone: {codings:?}"
        );
        return BodyLength::Chunked;
    }
    lengths.map_or(BodyLength::Empty, |l| content_length(&l))
}

/// A final response's framing, to a request with `method`.
fn response_framing(fields: &Fields, version: Version, status: u16, method: &str) -> BodyLength {
    let codings = list_of(fields, "transfer-encoding");
    assert!(
        codings.is_none() || version == Version::Http11,
        "Transfer-Encoding accepted in HTTP/1.0"
    );
    // Rules 1 and 2: no body whatever the fields say (a CONNECT's 2xx switches
    // protocols and opens no message).
    if method == "HEAD" || status == 204 || status == 304 {
        return BodyLength::Empty;
    }
    if let Some(codings) = codings {
        // Rule 4: chunked last frames the body; any other final coding, the close.
        let last = codings
            .last()
            .expect("an accepted Transfer-Encoding names a coding");
        let coding = last.split(|&b| b == b';').next().unwrap_or_default();
        return match trim_folded_ows(coding).eq_ignore_ascii_case(b"chunked") {
            true => BodyLength::Chunked,
            false => BodyLength::UntilClose,
        };
    }
    list_of(fields, "content-length").map_or(BodyLength::UntilClose, |l| content_length(&l))
}

/// Sends the client's request and its whole body.
fn send_request(conn: &mut Connection, method: Method) {
    let mut out = [0u8; 256];
    // A target with an authority has it for Host too (RFC 9112 §3.2).
    let host = Header {
        name: "Host",
        value: match method {
            Method::Connect => b"example.com:443",
            _ => b"example.com",
        },
    };
    let field = |name, value| Header { name, value };
    let length = field("Content-Length", b"5");
    let (name, target, fields, body): (&str, &str, &[Header<'_>], &[u8]) = match method {
        Method::Get | Method::GetHttp10 => ("GET", "/", &[host], b""),
        Method::Head => ("HEAD", "/", &[host], b""),
        Method::Connect => ("CONNECT", "example.com:443", &[host], b""),
        Method::PostWithBody => ("POST", "/submit", &[host, length], b"hello"),
        Method::GetClosing => ("GET", "/", &[host, field("Connection", b"close")], b""),
        Method::GetUpgrading => (
            "GET",
            "/chat",
            &[
                host,
                field("Connection", b"upgrade"),
                field("Upgrade", b"websocket"),
            ],
            b"",
        ),
        Method::PostExpecting => (
            "POST",
            "/submit",
            &[host, length, field("Expect", b"100-continue")],
            b"hello",
        ),
    };
    let version = match method {
        Method::GetHttp10 => Version::Http10,
        _ => Version::Http11,
    };
    let head = RequestHead {
        version,
        ..RequestHead::new(name, target, fields)
    };
    conn.send_request(&head, &mut out)
        .expect("a valid request on an idle connection is accepted");
    if !body.is_empty() {
        let frame = conn.send_data(body).expect("the declared body is accepted");
        assert_eq!(
            frame.overhead(),
            0,
            "a Content-Length body needs no framing"
        );
    }
    conn.send_end(&[], &mut out).expect("the body is complete");
}

/// Sends `100 Continue`, as a server that reads the body does (RFC 9110
/// §10.1.1): the body the client held back follows, read as any other.
fn send_continue(conn: &mut Connection) {
    let mut out = [0u8; 64];
    conn.send_response(&ResponseHead::new(StatusCode::CONTINUE, &[]), &mut out)
        .expect("a 100 Continue is owed to a client waiting for one");
    assert!(
        !conn.they_are_waiting_for_100_continue(),
        "still waiting after 100 Continue"
    );
}

/// Sends an empty 200 response; to CONNECT (`tunnel`) it opens the tunnel,
/// and carries no Content-Length (RFC 9110 §8.6).
fn send_empty_response(conn: &mut Connection, tunnel: bool) {
    let mut out = [0u8; 256];
    let length = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    let fields: &[Header<'_>] = if tunnel { &[] } else { &length };
    conn.send_response(&ResponseHead::new(StatusCode::OK, fields), &mut out)
        .expect("a response is owed once a request has ended");
    if conn.our_state() == State::SendBody {
        conn.send_end(&[], &mut out)
            .expect("an empty body is complete");
    }
}

/// Whether the server accepts the Upgrade a request with this target
/// proposes: when the target's length is odd, so mutations of any request
/// find both ways.
pub fn accepts_upgrade(target: &str) -> bool {
    accepts_upgrade_of_length(target.len())
}

fn accepts_upgrade_of_length(target_len: usize) -> bool {
    target_len % 2 == 1
}

/// Whether the server answers a request (other than CONNECT) from its head,
/// before reading its body, as a server refusing an upload does: one target
/// length in four, so mutations of any request find both ways.
fn answers_early(target: &str) -> bool {
    target.len() % 4 == 2
}

/// The fields that propose a switch to WebSocket, or accept one.
pub const UPGRADE_TO_WEBSOCKET: [Header<'static>; 2] = [
    Header {
        name: "Connection",
        value: b"upgrade",
    },
    Header {
        name: "Upgrade",
        value: b"websocket",
    },
];

/// Accepts the Upgrade a request proposed: a 101, after which the connection
/// belongs to the new protocol.
fn send_switching_protocols(conn: &mut Connection) {
    let mut out = [0u8; 256];
    conn.send_response(
        &ResponseHead::new(StatusCode::SWITCHING_PROTOCOLS, &UPGRADE_TO_WEBSOCKET),
        &mut out,
    )
    .expect("a 101 may accept the Upgrade a request proposed");
    assert_eq!(
        conn.our_state(),
        State::SwitchedProtocol,
        "a 101 sent did not switch protocols"
    );
}

/// Answers a request that failed to parse, as the docs of `send_response` allow
/// once after an error: the status the error names, then close.
fn send_error_response(conn: &mut Connection, error: Error) {
    let mut out = [0u8; 256];
    let fields = [Header {
        name: "Content-Length",
        value: b"0",
    }];
    let written = conn
        .send_response(&ResponseHead::new(error.status(), &fields), &mut out)
        .expect("one error response may be sent after a receive error");
    let head = &out[..written];
    assert!(
        head.windows(17)
            .any(|w| w.eq_ignore_ascii_case(b"connection: close")),
        "an error response must close the connection"
    );
    conn.send_end(&[], &mut out)
        .expect("an empty body is complete");
    assert!(
        !conn.is_keep_alive(),
        "the connection persisted after an error"
    );
}

/// Whether the next receive returned control to the caller.
#[derive(PartialEq, Eq)]
enum Flow {
    /// Wait for more bytes (or the end of the stream).
    Wait,
    /// The connection is finished; nothing more will be parsed.
    Stop,
}

/// One connection reading one stream, recording what it sees.
struct Run<'i> {
    conn: Connection,
    us: Us,
    input: &'i [u8],
    /// Bytes consumed so far.
    start: usize,
    /// Bytes delivered so far.
    end: usize,
    eof: bool,
    trace: Vec<Seen>,
    /// The body of the message being received, once its head has arrived.
    body: Option<Vec<u8>>,
    /// How that message's body is framed, as the connection reported it.
    framing: Option<BodyLength>,
    /// A response head accepted a protocol switch: `SwitchedProtocol` must follow.
    switching: bool,
    /// Events that were not `NeedData` or `Paused`, bounded to catch livelock.
    steps: usize,
    /// Interim responses received since the last final one.
    interim_responses: usize,
    /// The last receive reported `HeadersFull`: offer the large array.
    headers_full: bool,
    /// Where in the input each message ended.
    ends: Vec<usize>,
}

impl<'i> Run<'i> {
    fn new(conn: Connection, us: Us, input: &'i [u8]) -> Self {
        Run {
            conn,
            us,
            input,
            start: 0,
            end: 0,
            eof: false,
            trace: Vec::new(),
            body: None,
            framing: None,
            switching: false,
            steps: 0,
            interim_responses: 0,
            headers_full: false,
            ends: Vec::new(),
        }
    }

    /// Delivers the input as `delivery` says, then the end of the stream.
    fn deliver(self, delivery: &Delivery<'_>) -> Vec<Seen> {
        self.deliver_with_ends(delivery).0
    }

    /// [`deliver`](Run::deliver), with where in the input each message ended.
    fn deliver_with_ends(mut self, delivery: &Delivery<'_>) -> (Vec<Seen>, Vec<usize>) {
        let mut lengths = delivery.lengths();
        while self.end < self.input.len() {
            let n = lengths.next().unwrap_or(usize::MAX);
            self.end = self.end.saturating_add(n).min(self.input.len());
            if self.pump() == Flow::Stop {
                return (self.trace, self.ends);
            }
        }
        self.conn.receive_eof();
        self.eof = true;
        if self.pump() == Flow::Wait {
            self.trace.push(Seen::Stalled {
                rest: self.input.len() - self.start,
            });
        }
        (self.trace, self.ends)
    }

    /// Receives until the connection needs more bytes, waits on us, or is done.
    fn pump(&mut self) -> Flow {
        let input = self.input;
        loop {
            let offered = &input[self.start..self.end];
            if let Us::Client(method) | Us::EagerClient(method) = self.us {
                let idle =
                    self.conn.our_state() == State::Idle && self.conn.their_state() == State::Idle;
                let eager = matches!(self.us, Us::EagerClient(_));
                if idle && (eager || !offered.is_empty()) {
                    send_request(&mut self.conn, method);
                }
            }
            let slots = match self.headers_full {
                true => LARGE_HEADER_SLOTS,
                false => HEADER_SLOTS,
            };
            let mut headers = vec![EMPTY_HEADER; slots];
            let received = match self.conn.receive(offered, &mut headers) {
                Ok(received) => received,
                Err(error) => {
                    self.check_error_sticks(error);
                    // Body data delivered before the error does not depend on the split either.
                    if let Some(body) = self.body.take().filter(|b| !b.is_empty()) {
                        self.trace.push(Seen::Body(body));
                    }
                    self.trace.push(Seen::Failed(error));
                    if self.us.is_server() {
                        // Answered early, nothing more is owed: the error
                        // only ends the connection.
                        if matches!(self.conn.our_state(), State::Idle | State::SendResponse) {
                            send_error_response(&mut self.conn, error);
                        }
                    }
                    return Flow::Stop;
                }
            };
            let consumed = received.consumed;
            assert!(
                consumed <= offered.len(),
                "consumed {consumed} of {} bytes offered",
                offered.len()
            );
            self.start += consumed;
            if self.switching {
                assert_eq!(
                    received.event,
                    Event::SwitchedProtocol,
                    "a switch was accepted"
                );
            }
            let counted = !matches!(received.event, Event::NeedData | Event::Paused);
            if counted {
                self.steps += 1;
                assert!(
                    self.steps <= 2 * input.len() + 16,
                    "events without progress: {:?}",
                    received.event
                );
            }
            if received.event == Event::HeadersFull {
                assert!(!self.headers_full, "HeadersFull with the large array");
                // In a body, the chunk framing before the trailers is consumed.
                assert!(
                    consumed == 0 || self.body.is_some(),
                    "HeadersFull consumed {consumed} bytes of a head"
                );
                self.headers_full = true;
                continue;
            }
            self.headers_full = false;
            match received.event {
                Event::HeadersFull => unreachable!("handled above"),
                Event::Request(head) => {
                    assert!(consumed > 0, "a head consumes its bytes");
                    self.check_head_limits(consumed, head.headers.len());
                    check_request_rules(&head, &self.conn.config().limits);
                    self.trace.push(Seen::Request {
                        method: head.method.to_owned(),
                        target: head.target.to_owned(),
                        version: head.version,
                        headers: own_fields(head.headers),
                    });
                    self.open_message();
                    if self.us.is_server() {
                        let varied = self.us == Us::Server;
                        if varied && head.method != "CONNECT" && answers_early(head.target) {
                            // A body held back (not one of no bytes) is in
                            // doubt after a final answer: the client may send
                            // it or not, so nothing after it can be read as a
                            // request.
                            let awaited = self.conn.they_are_waiting_for_100_continue()
                                && self.conn.body_left_to_receive() != Some(0);
                            send_empty_response(&mut self.conn, false);
                            assert!(
                                !awaited || !self.conn.is_keep_alive(),
                                "a final answer to a client awaiting 100 Continue kept \
                                 the connection"
                            );
                        } else if self.conn.they_are_waiting_for_100_continue() {
                            send_continue(&mut self.conn);
                        }
                    }
                }
                Event::Response(head) => {
                    assert!(consumed > 0, "a head consumes its bytes");
                    self.check_head_limits(consumed, head.headers.len());
                    let folds = self.conn.config().leniency.allow_obs_fold_in_responses;
                    check_fields(head.headers, folds);
                    let status = head.status.as_u16();
                    self.interim_responses = match head.status.is_informational() {
                        true => self.interim_responses + 1,
                        false => 0,
                    };
                    let allowed = self.conn.config().limits.max_interim_responses;
                    assert!(
                        self.interim_responses <= usize::from(allowed),
                        "{} interim responses accepted in a row, over the limit of {allowed}",
                        self.interim_responses
                    );
                    self.trace.push(Seen::Response {
                        version: head.version,
                        status,
                        reason: head.reason.to_owned(),
                        headers: own_fields(head.headers),
                    });
                    let switched = self.conn.their_state() == State::SwitchedProtocol;
                    if let Us::Client(method) | Us::EagerClient(method) = self.us {
                        // RFC 9110 §7.8, §9.3.6: a 101 answers only a request
                        // that proposed the switch (and names a protocol: one
                        // naming none is refused before this), a 2xx to
                        // CONNECT opens its tunnel, and nothing else switches
                        // (a 101 to any other request is an error, never an
                        // interim answer).
                        let proposed = match method {
                            Method::Connect => (200..300).contains(&status),
                            Method::GetUpgrading => status == 101,
                            _ => false,
                        };
                        assert_eq!(
                            switched, proposed,
                            "status {status} to {method:?}: switched {switched}"
                        );
                        assert!(status != 101 || proposed, "a 101 accepted for {method:?}");
                    }
                    if switched {
                        // 101 to an Upgrade, or 2xx to CONNECT: no body follows.
                        self.switching = true;
                    } else if status >= 200 {
                        self.open_message();
                    }
                }
                Event::Data(data) => {
                    // Zero-copy: the data lies within the bytes just consumed.
                    let offset = (data.as_ptr() as usize).wrapping_sub(offered.as_ptr() as usize);
                    assert!(
                        offset <= consumed && data.len() <= consumed - offset,
                        "data outside the consumed input"
                    );
                    let body = self.body.as_mut().expect("body data outside a message");
                    body.extend_from_slice(data);
                }
                Event::End { trailers } => {
                    let body = self
                        .body
                        .take()
                        .expect("the end of a message that never began");
                    match self.framing.take() {
                        Some(BodyLength::Length(n)) => {
                            assert_eq!(
                                body.len() as u64,
                                n,
                                "Content-Length body delivered short or long"
                            );
                        }
                        Some(BodyLength::Empty) => {
                            assert!(body.is_empty(), "data in a message without body")
                        }
                        _ => {}
                    }
                    self.check_body_limits(&body, trailers);
                    if !body.is_empty() {
                        self.trace.push(Seen::Body(body));
                    }
                    self.ends.push(self.start);
                    self.trace.push(Seen::End {
                        trailers: own_fields(trailers),
                    });
                    if self.us.is_server() {
                        self.answer_request_end();
                    }
                }
                Event::NeedData => {
                    assert!(
                        !self.eof,
                        "NeedData after the end of the stream: a reader would wait forever"
                    );
                    // Between messages a head is awaited: more than its limit
                    // buffered and still waiting would be unbounded buffering.
                    // Within a body only a trailer section is held whole (a
                    // chunk line is consumed as it comes): more than its
                    // limit and the empty line's two bytes, likewise.
                    let limits = self.conn.config().limits;
                    let limit = match self.body {
                        None => limits.max_head_bytes,
                        Some(_) => limits.max_trailer_bytes.saturating_add(2),
                    };
                    let held = offered.len() - consumed;
                    assert!(
                        held <= limit,
                        "NeedData holding {held} bytes, over the {limit}-byte limit"
                    );
                    return Flow::Wait;
                }
                Event::Paused => return Flow::Wait,
                Event::SwitchedProtocol => {
                    self.trace.push(Seen::Switched {
                        rest: input.len() - self.start,
                    });
                    return Flow::Stop;
                }
                Event::ConnectionClosed => {
                    assert!(self.body.is_none(), "clean close inside a message");
                    self.trace.push(Seen::Closed);
                    return Flow::Stop;
                }
            }
        }
    }

    /// The server's answer once a request has ended, unless it answered the
    /// head early: a 101 accepting a proposed Upgrade when
    /// [`accepts_upgrade`] says so (the next receive must report the
    /// switch); otherwise an empty 200, which to CONNECT opens the tunnel.
    fn answer_request_end(&mut self) {
        if self.conn.our_state() != State::SendResponse {
            return;
        }
        let (connect, target_len) = self
            .trace
            .iter()
            .rev()
            .find_map(|seen| match seen {
                Seen::Request { method, target, .. } => Some((method == "CONNECT", target.len())),
                _ => None,
            })
            .expect("a request ended that never began");
        let upgrading = self.conn.their_state() == State::MightSwitchProtocol && !connect;
        if upgrading && accepts_upgrade_of_length(target_len) {
            send_switching_protocols(&mut self.conn);
            self.switching = true;
        } else {
            send_empty_response(&mut self.conn, connect);
        }
    }

    /// A head was accepted in `consumed` bytes with `fields` fields: both
    /// within the configured limits.
    fn check_head_limits(&self, consumed: usize, fields: usize) {
        let limits = &self.conn.config().limits;
        assert!(
            consumed <= limits.max_head_bytes,
            "a head of {consumed} bytes accepted, over the {}-byte limit",
            limits.max_head_bytes
        );
        assert!(
            fields <= limits.max_headers,
            "a head of {fields} fields accepted, over the limit of {}",
            limits.max_headers
        );
    }

    /// A message ended with `body` and `trailers`: both within the
    /// configured limits. A trailer field line takes at least its name, its
    /// value, a colon and a line feed.
    fn check_body_limits(&self, body: &[u8], trailers: &[Header<'_>]) {
        let limits = &self.conn.config().limits;
        assert!(
            body.len() as u64 <= limits.max_body_bytes,
            "a body of {} bytes accepted, over the {}-byte limit",
            body.len(),
            limits.max_body_bytes
        );
        let trailer_bytes: usize = trailers
            .iter()
            .map(|t| t.name.len() + t.value.len() + 2)
            .sum();
        assert!(
            trailers.len() <= limits.max_headers && trailer_bytes <= limits.max_trailer_bytes,
            "{} trailer fields of at least {trailer_bytes} bytes accepted, over the limits \
             ({} fields, {} bytes)",
            trailers.len(),
            limits.max_headers,
            limits.max_trailer_bytes
        );
        check_fields(trailers, false);
    }

    fn open_message(&mut self) {
        assert!(self.body.is_none(), "a head inside a message");
        self.body = Some(Vec::new());
        self.framing = self.conn.incoming_body();
        assert!(self.framing.is_some(), "a final head without framing");
        let request_method = match self.us {
            Us::Server | Us::PlainServer => None,
            Us::Client(method) | Us::EagerClient(method) => Some(method.name()),
            // roundtrip's reader: a request needs no method; a response
            // answers the GET it sends first.
            Us::Reader => None,
        };
        let expected = match self.trace.last() {
            Some(Seen::Request {
                version, headers, ..
            }) => request_framing(headers, *version),
            Some(Seen::Response {
                version,
                status,
                headers,
                ..
            }) => response_framing(headers, *version, *status, request_method.unwrap_or("GET")),
            other => unreachable!("a message opened after {other:?}"),
        };
        assert_eq!(
            self.framing,
            Some(expected),
            "the framing proto chose for an accepted head is not RFC 9112 §6.3's"
        );
        // Rule 3 and the close-delimited body: the connection ends with it.
        if let Some(Seen::Response { headers, .. }) = self.trace.last() {
            let both = list_of(headers, "transfer-encoding").is_some()
                && list_of(headers, "content-length").is_some();
            if expected == BodyLength::UntilClose || both && expected == BodyLength::Chunked {
                assert!(
                    !self.conn.is_keep_alive(),
                    "a response framed by the close, or with Transfer-Encoding beside \
                     Content-Length, left the connection reusable"
                );
            }
        }
    }

    /// After an error, every later receive returns it again, whatever is offered.
    fn check_error_sticks(&self, error: Error) {
        let rest = &self.input[self.start..];
        for offered in [&self.input[self.start..self.end], rest, &[][..]] {
            for eof in [false, true] {
                let mut conn = self.conn.clone();
                if eof {
                    conn.receive_eof();
                }
                let mut headers = [EMPTY_HEADER; HEADER_SLOTS];
                assert_eq!(
                    conn.receive(offered, &mut headers).err(),
                    Some(error),
                    "the error did not stick"
                );
            }
        }
    }
}

/// Runs `stream` through fresh connections delivered whole, byte by byte and in
/// the feed's pieces; all three traces must agree, and so must where each
/// message ended in the stream: a split that moved a boundary (the smuggler's
/// aim) with the same events would otherwise pass.
fn check_stream(make: impl Fn() -> Connection, us: Us, feed: &Feed, stream: &[u8]) {
    let whole = Run::new(make(), us, stream).deliver_with_ends(&Delivery::Whole);
    let bytewise = Run::new(make(), us, stream).deliver_with_ends(&Delivery::ByteByByte);
    assert_eq!(whole, bytewise, "byte-by-byte delivery changed the events");
    let pieces = Run::new(make(), us, stream).deliver_with_ends(&Delivery::Pieces(feed));
    assert_eq!(
        whole, pieces,
        "delivery in pieces {:?} changed the events",
        feed.pieces
    );
}

// ---------------------------------------------------------------------------
// Targets

/// A server reading a request stream (pipelined requests welcome). A request
/// whose target length is 2 mod 4 is answered from its head, before its body;
/// otherwise one that waits for `100 Continue` gets it, and once it ends, an
/// Upgrade it proposed is accepted with a 101 when its target length is odd
/// ([`accepts_upgrade`]), and anything else gets an empty 200 so the next can
/// be read.
pub fn server_stream(data: &[u8]) {
    let (feed, stream) = Feed::parse(data);
    let config = feed.config();
    check_stream(|| Connection::server(config), Us::Server, &feed, stream);
}

/// A client that sent a request (the first byte picks which) reading the response
/// stream; whenever the connection is idle again and bytes wait, it sends the
/// same request again.
pub fn client_response(data: &[u8]) {
    let Some((&method, rest)) = data.split_first() else {
        return;
    };
    let (feed, stream) = Feed::parse(rest);
    let config = feed.config();
    check_stream(
        || Connection::client(config),
        Us::Client(Method::from_byte(method)),
        &feed,
        stream,
    );
}

/// What a [`ChunkedDecoder`] made of a whole input.
#[derive(Debug, PartialEq, Eq)]
struct Decoding {
    data: Vec<u8>,
    /// `Ok((trailers, consumed))` at the end of the body; `Err(None)` when the
    /// input ran out (with the bytes consumed by then); `Err(Some(e))` on an error.
    outcome: Result<(Fields, usize), (Option<Error>, usize)>,
}

fn decode(config: Config, stream: &[u8], delivery: &Delivery<'_>) -> Decoding {
    let mut decoder = ChunkedDecoder::new(config.limits, config.leniency);
    let mut lengths = delivery.lengths();
    let mut data = Vec::new();
    let (mut start, mut end) = (0usize, 0usize);
    // The last decode reported `TrailersFull`: offer the large array.
    let mut trailers_full = false;
    loop {
        let n = lengths.next().unwrap_or(usize::MAX);
        end = end.saturating_add(n).min(stream.len());
        // Each call but the last of a piece returns data, so consumes a byte;
        // a `TrailersFull` costs one more.
        let mut calls_left = end - start + 2;
        loop {
            let offered = &stream[start..end];
            let mut small = [EMPTY_HEADER; HEADER_SLOTS];
            let mut large = Vec::new();
            let trailers: &mut [Header<'_>] = if trailers_full {
                large.resize(LARGE_HEADER_SLOTS, EMPTY_HEADER);
                &mut large
            } else {
                &mut small
            };
            assert!(calls_left > 0, "the decoder makes no progress");
            calls_left -= 1;
            match decoder.decode(offered, trailers) {
                Err(error) => {
                    // Consumption is not reported with an error, so only the
                    // error itself is compared.
                    return Decoding {
                        data,
                        outcome: Err((Some(error), 0)),
                    };
                }
                Ok((consumed, decoded)) => {
                    assert!(
                        consumed <= offered.len(),
                        "consumed {consumed} of {} bytes offered",
                        offered.len()
                    );
                    start += consumed;
                    match decoded {
                        Decoded::Data(chunk) => {
                            assert!(!chunk.is_empty(), "empty data");
                            let offset =
                                (chunk.as_ptr() as usize).wrapping_sub(offered.as_ptr() as usize);
                            assert!(
                                offset <= consumed && chunk.len() <= consumed - offset,
                                "data outside the input"
                            );
                            data.extend_from_slice(chunk);
                        }
                        Decoded::End { trailers } => {
                            assert!(decoder.is_done());
                            assert!(data.len() <= stream.len());
                            return Decoding {
                                data,
                                outcome: Ok((own_fields(trailers), start)),
                            };
                        }
                        Decoded::NeedData => {
                            // Only a trailer section is held whole: more than
                            // its limit and the empty line left waiting would
                            // be a caller's full buffer that never drains.
                            let held = offered.len() - consumed;
                            let limit = config.limits.max_trailer_bytes.saturating_add(2);
                            assert!(held <= limit, "NeedData holding {held} bytes, over {limit}");
                            trailers_full = false;
                            break;
                        }
                        Decoded::TrailersFull => {
                            assert!(!trailers_full, "TrailersFull with the large array");
                            trailers_full = true;
                        }
                    }
                }
            }
        }
        if end == stream.len() {
            break;
        }
    }
    assert!(data.len() <= stream.len());
    Decoding {
        data,
        outcome: Err((None, start)),
    }
}

/// A chunked body decoded whole, byte by byte and in the feed's pieces: the same
/// data, trailers and outcome each way.
pub fn chunked(data: &[u8]) {
    let (feed, stream) = Feed::parse(data);
    let config = feed.config();
    let whole = decode(config, stream, &Delivery::Whole);
    // What the decoder accepts, the grammar accepts, read the same way.
    if let Ok((trailers, consumed)) = &whole.outcome {
        let leniency = config.leniency;
        let Some(grammar) = chunked_by_the_grammar(stream, leniency) else {
            panic!("a chunked body RFC 9112 §7.1 refuses was accepted");
        };
        assert_eq!(
            grammar.data, whole.data,
            "decoded data differs from the grammar's"
        );
        assert_eq!(
            grammar.consumed, *consumed,
            "the body ends elsewhere than the grammar says"
        );
        let trimmed: Fields = trailers
            .iter()
            .map(|(name, value)| (name.clone(), trim_ows(value).to_vec()))
            .collect();
        assert_eq!(
            grammar.trailers, trimmed,
            "trailers differ from the grammar's"
        );
    }
    let bytewise = decode(config, stream, &Delivery::ByteByByte);
    assert_eq!(
        whole, bytewise,
        "byte-by-byte delivery changed the decoding"
    );
    let pieces = decode(config, stream, &Delivery::Pieces(&feed));
    assert_eq!(
        whole, pieces,
        "delivery in pieces {:?} changed the decoding",
        feed.pieces
    );
}

/// A chunked body as RFC 9112 §7.1 reads it, written apart from proto's
/// decoder: its data, trailer fields (values without surrounding whitespace)
/// and length; `None` if `input` does not hold one. With the leniencies a
/// decoder may be given: a bare LF ending a trailer line or the section,
/// and whitespace before the end of a chunk line. Limits are not applied: a
/// decoder refuses more, never less.
struct ByTheGrammar {
    data: Vec<u8>,
    trailers: Fields,
    consumed: usize,
}

fn chunked_by_the_grammar(input: &[u8], leniency: Leniency) -> Option<ByTheGrammar> {
    let mut at = 0;
    let mut data = Vec::new();
    // A line ending: CRLF, or (where allowed) LF alone.
    let line_end = |at: usize, bare_lf: bool| -> Option<usize> {
        match input.get(at..)? {
            [b'\r', b'\n', ..] => Some(at + 2),
            [b'\n', ..] if bare_lf => Some(at + 1),
            _ => None,
        }
    };
    let ows = |mut at: usize| {
        while matches!(input.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        at
    };
    let token = |mut at: usize| {
        let start = at;
        while input.get(at).is_some_and(|b| TCHAR.contains(b)) {
            at += 1;
        }
        (at > start).then_some(at)
    };
    loop {
        // chunk-size = 1*HEXDIG
        let start = at;
        let mut size: u64 = 0;
        while let Some(digit) = input.get(at).and_then(|&b| (b as char).to_digit(16)) {
            size = size.checked_mul(16)?.checked_add(u64::from(digit))?;
            at += 1;
        }
        if at == start {
            return None;
        }
        // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
        loop {
            let after_bws = ows(at);
            if input.get(after_bws) != Some(&b';') {
                if leniency.allow_padded_chunk_lines_in_responses {
                    at = after_bws;
                }
                break;
            }
            at = token(ows(after_bws + 1))?;
            let before_value = ows(at);
            if input.get(before_value) == Some(&b'=') {
                let value = ows(before_value + 1);
                at = match input.get(value) {
                    Some(b'"') => quoted_string_end(input, value)?,
                    _ => token(value)?,
                };
            }
        }
        at = line_end(at, false)?;
        if size == 0 {
            break;
        }
        let end = at.checked_add(usize::try_from(size).ok()?)?;
        data.extend_from_slice(input.get(at..end)?);
        at = line_end(end, false)?;
    }
    // trailer-section = *( field-line CRLF ), then CRLF
    let mut trailers = Vec::new();
    loop {
        if let Some(end) = line_end(at, leniency.allow_bare_lf) {
            return Some(ByTheGrammar {
                data,
                trailers,
                consumed: end,
            });
        }
        let name_end = token(at)?;
        if input.get(name_end) != Some(&b':') {
            return None;
        }
        let value_start = name_end + 1;
        let mut value_end = value_start;
        while input
            .get(value_end)
            .is_some_and(|&b| b == b'\t' || b == b' ' || (b > 0x20 && b != 0x7f))
        {
            value_end += 1;
        }
        let name = String::from_utf8(input[at..name_end].to_vec()).ok()?;
        trailers.push((name, trim_ows(&input[value_start..value_end]).to_vec()));
        at = line_end(value_end, leniency.allow_bare_lf)?;
    }
}

/// One past the end of the quoted-string at `at` (RFC 9110 §5.6.4).
fn quoted_string_end(input: &[u8], mut at: usize) -> Option<usize> {
    at += 1;
    loop {
        match *input.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => {
                let escaped = *input.get(at + 1)?;
                if !(escaped == b'\t' || escaped == b' ' || (escaped > 0x20 && escaped != 0x7f)) {
                    return None;
                }
                at += 2;
            }
            b if b == b'\t' || b == b' ' || (b > 0x20 && b != 0x7f) => at += 1,
            _ => return None,
        }
    }
}

// ---------------------------------------------------------------------------
// Round trip

/// Reads a message description off the input; past the end it reads zeros, so
/// every input describes some message.
pub struct Source<'a> {
    data: &'a [u8],
}

impl<'a> Source<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn pick<T: Copy>(&mut self, table: &[T]) -> T {
        table[usize::from(self.byte()) % table.len()]
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// 1 to `max` tchars.
    fn token(&mut self, max: usize) -> String {
        let len = 1 + usize::from(self.byte()) % max;
        (0..len)
            .map(|_| char::from(TCHAR[usize::from(self.byte()) % TCHAR.len()]))
            .collect()
    }

    /// Up to `max` bytes of field-value: visible bytes, obs-text, SP and HTAB;
    /// controls are mapped to letters.
    /// A value the serializer sends: field-vchar, SP and HTAB, neither of
    /// those at an end (a recipient strips them there).
    fn field_value(&mut self, max: usize) -> Vec<u8> {
        let len = usize::from(self.byte()) % (max + 1);
        let value: Vec<u8> = self
            .bytes(len)
            .iter()
            .map(|&b| match b {
                b'\t' | b' '..=0x7e | 0x80..=0xff => b,
                _ => b'a' + b % 26,
            })
            .collect();
        value.trim_ascii().to_vec()
    }

    /// Printable ASCII with no leading or trailing space.
    fn text(&mut self, max: usize) -> String {
        let len = usize::from(self.byte()) % (max + 1);
        let text: String = self
            .bytes(len)
            .iter()
            .map(|&b| char::from(b' ' + b % 95))
            .collect();
        text.trim_matches(' ').to_owned()
    }
}

/// Names the connection reads for framing or connection handling; generated
/// fields avoid them so the description stays a valid message.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "expect",
    "te",
];

const NAMES: &[&str] = &[
    "Accept",
    "User-Agent",
    "Content-Type",
    "Cache-Control",
    "Cookie",
    "Date",
    "ETag",
    "Server",
    "Vary",
    "X-Request-Id",
];

/// Up to `max` header fields that do not touch framing.
fn fields(src: &mut Source<'_>, max: u8) -> Vec<(String, Vec<u8>)> {
    let count = src.byte() % (max + 1);
    (0..count)
        .map(|_| {
            let mut name = if src.flag() {
                src.pick(NAMES).to_owned()
            } else {
                src.token(20)
            };
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
                name.insert_str(0, "x-");
            }
            (name, src.field_value(40))
        })
        .collect()
}

/// Up to two trailer fields: as [`fields`], none that belongs in the header
/// section only (the serializer refuses those in trailers).
fn trailer_fields(src: &mut Source<'_>) -> Vec<(String, Vec<u8>)> {
    let mut trailers = fields(src, 2);
    for (name, _) in &mut trailers {
        if is_header_section_only(name) {
            name.insert_str(0, "x-");
        }
    }
    trailers
}

fn borrow_fields(fields: &[(String, Vec<u8>)]) -> Vec<Header<'_>> {
    fields
        .iter()
        .map(|(name, value)| Header { name, value })
        .collect()
}

/// How a described body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    ContentLength,
    Chunked,
    /// No framing field: no body in a request; in a response, chunked (added by
    /// the connection) for HTTP/1.1 and close-delimited for HTTP/1.0.
    Unframed,
    /// The length given apart from the head (`send_request_sized`,
    /// `send_response_sized`): the connection adds the field.
    LengthGiven,
}

/// A described body and how to send it.
struct Body {
    bytes: Vec<u8>,
    framing: Framing,
    /// Lengths of the `send_data` calls (cyclic).
    pieces: Vec<usize>,
    trailers: Fields,
}

/// The framings a round trip picks from.
const FRAMINGS: &[Framing] = &[
    Framing::ContentLength,
    Framing::Chunked,
    Framing::Unframed,
    Framing::LengthGiven,
];

fn body(src: &mut Source<'_>, framing: Framing) -> Body {
    let len = usize::from(u16::from_le_bytes([src.byte(), src.byte()]) % 4096);
    let bytes = src.bytes(len).to_vec();
    let pieces = (0..1 + src.byte() % 4)
        .map(|_| usize::from(src.byte()) * 4 + 1)
        .collect();
    let trailers = if framing == Framing::Chunked {
        trailer_fields(src)
    } else {
        Vec::new()
    };
    Body {
        bytes,
        framing,
        pieces,
        trailers,
    }
}

/// Writes the body through `conn` into `wire`, the way an adapter would.
/// Before each piece, a copy of `conn` checks what a sender must not be able
/// to do: send more than a declared length, or end short of it; and an
/// empty piece is no chunk (one would end a chunked body).
fn send_body(conn: &mut Connection, body: &Body, wire: &mut Vec<u8>) {
    let mut rest = &body.bytes[..];
    for &n in body.pieces.iter().cycle() {
        check_declared_length(conn);
        let frame = conn.clone().send_data(&[]).expect("an empty piece");
        assert!(
            frame.prefix.as_bytes().is_empty() && frame.suffix.is_empty(),
            "an empty piece was framed"
        );
        if rest.is_empty() {
            break;
        }
        let (piece, after) = rest.split_at(n.min(rest.len()));
        let frame = conn
            .send_data(piece)
            .expect("body data within the declared framing");
        wire.extend_from_slice(frame.prefix.as_bytes());
        wire.extend_from_slice(piece);
        wire.extend_from_slice(frame.suffix);
        rest = after;
    }
    let trailers = borrow_fields(&body.trailers);
    let mut out = vec![0u8; 8 * 1024];
    let before = conn.clone();
    let n = conn
        .send_end(&trailers, &mut out)
        .expect("the body is complete");
    check_exact_room(&before, conn, &out[..n], |c, b| c.send_end(&trailers, b));
    wire.extend_from_slice(&out[..n]);
}

/// With `left` bytes of a declared length still to send, on copies of
/// `conn`: one byte more is refused, and so is an end short of it, each
/// leaving the count as it was.
fn check_declared_length(conn: &Connection) {
    let Some(left) = conn.body_left_to_send() else {
        return;
    };
    let Ok(room) = usize::try_from(left + 1) else {
        return;
    };
    let mut over = conn.clone();
    let refused = over.send_data(&vec![b'x'; room]);
    assert!(
        matches!(
            refused,
            Err(SendError::BodyTooLong | SendError::BodyNotAllowed)
        ),
        "{room} bytes sent where {left} were left: {refused:?}"
    );
    assert_eq!(
        over.body_left_to_send(),
        Some(left),
        "a refused piece was counted"
    );
    if left > 0 {
        let mut short = conn.clone();
        let mut out = [0u8; 64];
        assert_eq!(
            short.send_end(&[], &mut out),
            Err(SendError::BodyTooShort),
            "a body ended {left} bytes short of its length"
        );
        assert_eq!(
            short.body_left_to_send(),
            Some(left),
            "a refused end was counted"
        );
    }
}

/// A send that wrote `written` and left `after`, made again on `before`
/// (the connection as it was): into a buffer one byte short it is refused
/// with the size it needs, writing nothing (the serializer measures before
/// it writes); into one of that size it writes the same bytes and leaves the
/// connection as the first did.
fn check_exact_room(
    before: &Connection,
    after: &Connection,
    written: &[u8],
    send: impl Fn(&mut Connection, &mut [u8]) -> Result<usize, SendError>,
) {
    let mut conn = before.clone();
    if let Some(short) = written.len().checked_sub(1) {
        let mut out = vec![0xa5; short];
        assert_eq!(
            send(&mut conn, &mut out),
            Err(SendError::BufferTooSmall {
                needed: written.len()
            }),
            "a buffer one byte short of {}",
            written.len()
        );
        assert!(
            out.iter().all(|&b| b == 0xa5),
            "a refused send wrote into the buffer"
        );
    }
    let mut out = vec![0u8; written.len()];
    assert_eq!(send(&mut conn, &mut out), Ok(written.len()));
    assert_eq!(out, written, "the same send wrote other bytes");
    let state = |c: &Connection| (c.our_state(), c.is_keep_alive(), c.body_left_to_send());
    assert_eq!(state(&conn), state(after), "a refused send left a trace");
}

/// [`send_head`], where a head with a stray byte in `poisoned` part may be
/// refused instead, for that part: then the connection must still be
/// `before` (the caller sends the clean head on it next), and false says
/// nothing was sent.
fn sent_head(
    result: Result<usize, lithe::proto::SendError>,
    poisoned: Option<Part>,
    conn: &Connection,
    before: State,
    out: &[u8],
    wire: &mut Vec<u8>,
) -> bool {
    if let (Some(part), Err(error)) = (poisoned, result) {
        assert!(
            refuses_part(error, part, before == State::Idle),
            "a stray byte in the head refused as {error:?}"
        );
        assert_eq!(
            conn.our_state(),
            before,
            "a refused head moved the connection on"
        );
        return false;
    }
    send_head(result, out, wire);
    true
}

fn send_head(result: Result<usize, lithe::proto::SendError>, out: &[u8], wire: &mut Vec<u8>) {
    let n = result.expect("a valid head is accepted");
    wire.extend_from_slice(&out[..n]);
}

/// Receives everything `wire` holds (in pieces of `step` bytes, 0 for whole),
/// then the end of the stream.
fn receive_all(conn: Connection, wire: &[u8], step: u8) -> Vec<Seen> {
    let feed = Feed {
        pieces: vec![usize::from(step)],
        config: *conn.config(),
    };
    let delivery = if step == 0 {
        Delivery::Whole
    } else {
        Delivery::Pieces(&feed)
    };
    Run::new(conn, Us::Reader, wire).deliver(&delivery)
}

/// The fields the connection may add to a response head.
fn is_added_field(name: &str, value: &[u8]) -> bool {
    matches!(
        (name, value),
        ("transfer-encoding", b"chunked")
            | ("connection", b"close")
            | ("connection", b"keep-alive")
    )
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// What a receiver should see for header fields we sent: the same names, values
/// without surrounding whitespace.
fn as_received(fields: &[(String, Vec<u8>)]) -> Fields {
    fields
        .iter()
        .map(|(name, value)| (name.clone(), trim_ows(value).to_vec()))
        .collect()
}

/// A part of a head a stray byte may go into: the method, the request
/// target or reason phrase, a generated field's name or value.
#[derive(Clone, Copy)]
enum Part {
    Method,
    Line,
    Name,
    Value,
}

/// In one head in eight, puts one stray byte into one of `parts` (never into
/// a field the connection reads, so the head means what it did): into a
/// value as it is, into the text parts as the character of that code point
/// (two bytes past ASCII, since they are `str`). The serializer must then
/// refuse the head for that part, leaving the connection as it was (the
/// clean head then makes the trip on it), or send one that parses back as
/// it now is. Returns which part took the byte. Read after the rest of the
/// description, and chosen by a non-zero byte: an input used up earlier
/// (past its end every byte reads as 0) describes its message untouched.
fn poison(
    src: &mut Source<'_>,
    parts: &[Part],
    method: Option<&mut String>,
    line: &mut String,
    fields: &mut [(String, Vec<u8>)],
) -> Option<Part> {
    if src.byte() % 8 != 7 {
        return None;
    }
    let (part, at, byte) = (src.pick(parts), usize::from(src.byte()), src.byte());
    let reserved = |name: &str| RESERVED.contains(&name.to_ascii_lowercase().as_str());
    let generated: Vec<usize> = (0..fields.len())
        .filter(|&i| !reserved(&fields[i].0))
        .collect();
    let field = generated.get(at % generated.len().max(1)).copied();
    match (part, method, field) {
        (Part::Method, Some(method), _) => insert_char(method, at, byte),
        (Part::Line, ..) => insert_char(line, at, byte),
        (Part::Name, _, Some(i)) => {
            let mut name = fields[i].0.clone();
            insert_char(&mut name, at, byte);
            if reserved(&name) {
                return None;
            }
            fields[i].0 = name;
        }
        (Part::Value, _, Some(i)) => {
            let value = &mut fields[i].1;
            value.insert(at % (value.len() + 1), byte);
        }
        _ => return None,
    }
    Some(part)
}

/// Whether `error` is the serializer's refusal of a stray byte in `part` of
/// a request (`request`) or a response head. A method that no longer fits its
/// target's form (a CONNECT that is one no more) is refused for the target;
/// a target whose authority is no longer the Host field's, for the Host.
fn refuses_part(error: lithe::proto::SendError, part: Part, request: bool) -> bool {
    use lithe::proto::SendError as E;
    match part {
        Part::Method => matches!(error, E::InvalidMethod | E::InvalidRequestTarget),
        Part::Line if request => matches!(error, E::InvalidRequestTarget | E::HostMismatch),
        Part::Line => error == E::InvalidReasonPhrase,
        Part::Name => error == E::InvalidHeaderName,
        Part::Value => error == E::InvalidHeaderValue,
    }
}

/// Puts `byte` (as the character of that code point) into `text` near `at`.
fn insert_char(text: &mut String, at: usize, byte: u8) {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.insert(at, char::from(byte));
}

/// Interprets the input as a valid message, serializes it with one role and
/// parses it back with the other: head, body and trailers must survive. One
/// head in eight gets a stray byte (see [`poison`]): refused for it, the
/// clean head then making the trip, or surviving the trip as it is.
pub fn roundtrip(data: &[u8]) {
    let mut src = Source { data };
    if src.flag() {
        roundtrip_response(&mut src)
    } else {
        roundtrip_request(&mut src)
    }
}

fn roundtrip_request(src: &mut Source<'_>) {
    const METHODS: &[&str] = &[
        "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "CONNECT", "",
    ];
    const PATHS: &[&str] = &[
        "/",
        "/index.html",
        "/a/b?c=d&e=f",
        "/%7Euser/",
        "http://example.com/x?y",
    ];
    let mut method = src.pick(METHODS).to_owned();
    if method.is_empty() {
        method = src.token(12);
    }
    let mut target = match method.as_str() {
        // The IPv6 literal once failed to parse back (seed
        // server_stream/connect-ipv6-authority).
        "CONNECT" => src
            .pick(&["example.com:443", "127.0.0.1:8080", "[::1]:80"])
            .to_owned(),
        "OPTIONS" if src.flag() => "*".to_owned(),
        _ => {
            let path = src.pick(PATHS);
            // Extra path bytes from the input: anything httparse accepts in a
            // target but `#` (no form has a fragment).
            let len = usize::from(src.byte() % 16);
            let extra: String = src
                .bytes(len)
                .iter()
                .map(|&b| match b'!' + b % 94 {
                    b'#' => '-',
                    other => char::from(other),
                })
                .collect();
            format!("{path}{extra}")
        }
    };
    let version = if src.byte() % 4 == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    let mut framing = src.pick(FRAMINGS);
    if version == Version::Http10 && framing == Framing::Chunked {
        framing = Framing::ContentLength;
    }
    if method == "CONNECT" {
        // A CONNECT request has no content (RFC 9110 §9.3.6); one declaring
        // some is refused on both sides (tests/conformance).
        framing = Framing::Unframed;
    }
    let mut all = Vec::new();
    if version == Version::Http11 || src.flag() {
        // A target with an authority has it for Host too (RFC 9112 §3.2).
        let host = match method.as_str() {
            "CONNECT" => target.as_bytes(),
            _ => b"example.com",
        };
        all.push(("Host".to_owned(), host.to_vec()));
    }
    all.extend(fields(src, 8));
    let mut body = body(src, framing);
    match framing {
        Framing::ContentLength => all.push((
            "Content-Length".to_owned(),
            body.bytes.len().to_string().into_bytes(),
        )),
        Framing::Chunked => all.push(("Transfer-Encoding".to_owned(), b"chunked".to_vec())),
        Framing::Unframed => body.bytes.clear(),
        Framing::LengthGiven => {}
    }
    let given = (framing == Framing::LengthGiven).then_some(body.bytes.len() as u64);
    let step = src.byte();
    let mut clean = Some((method.clone(), target.clone(), all.clone()));
    let mut poisoned = poison(
        src,
        &[Part::Method, Part::Line, Part::Name, Part::Value],
        Some(&mut method),
        &mut target,
        &mut all,
    );

    let mut client = Connection::client(Config::default());
    let mut wire = Vec::new();
    let mut out = vec![0u8; 16 * 1024];
    loop {
        let fields = borrow_fields(&all);
        let head = RequestHead {
            method: &method,
            target: &target,
            version,
            headers: &fields,
        };
        let send = |conn: &mut Connection, out: &mut [u8]| match given {
            Some(length) => conn.send_request_sized(&head, length, out),
            None => conn.send_request(&head, out),
        };
        let before = client.clone();
        let result = send(&mut client, &mut out);
        if sent_head(result, poisoned, &client, State::Idle, &out, &mut wire) {
            check_exact_room(&before, &client, &out[..result.unwrap_or(0)], send);
            break;
        }
        // Refused, the connection as it was: the head without the stray byte
        // goes on the same connection, and the trip is made with it.
        (method, target, all) = clean.take().expect("only a poisoned head is refused");
        poisoned = None;
    }
    send_body(&mut client, &body, &mut wire);

    let seen = receive_all(Connection::server(Config::default()), &wire, step);
    let method_is_connect = method == "CONNECT";
    let mut headers = as_received(&all);
    if let Some(length) = given {
        // After the head's own fields, as the docs of send_request_sized show.
        headers.push(("content-length".to_owned(), length.to_string().into_bytes()));
    }
    let mut expected = vec![Seen::Request {
        method,
        target,
        version,
        headers,
    }];
    if !body.bytes.is_empty() {
        expected.push(Seen::Body(body.bytes));
    }
    expected.push(Seen::End {
        trailers: as_received(&body.trailers),
    });
    // The reader owes a response, but the client may close its side cleanly;
    // after CONNECT it waits for the response that decides on the tunnel.
    if method_is_connect {
        expected.push(Seen::Stalled { rest: 0 });
    } else {
        expected.push(Seen::Closed);
    }
    assert_eq!(seen, expected, "the request did not survive the round trip");
}

fn roundtrip_response(src: &mut Source<'_>) {
    // None past 599: those are invalid, refused on sending
    // (`SendError::InvalidStatus`), though received.
    const STATUSES: &[u16] = &[
        200, 201, 204, 206, 299, 301, 304, 400, 404, 418, 500, 503, 510, 599,
    ];
    let status = StatusCode::new(src.pick(STATUSES)).expect("a three-digit status");
    let interim = src.pick(&[None, None, Some(StatusCode::CONTINUE), StatusCode::new(103)]);
    let version = if src.byte() % 4 == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    let mut reason = match src.byte() % 3 {
        0 => status.canonical_reason().unwrap_or("").to_owned(),
        1 => String::new(),
        _ => src.text(24),
    };
    let no_body = matches!(status.as_u16(), 204 | 304);
    // A 204 may carry no Content-Length (RFC 9110 §8.6); a 304 may.
    let length_field_allowed = status.as_u16() != 204;
    let mut framing = src.pick(FRAMINGS);
    if version == Version::Http10 && framing == Framing::Chunked
        || no_body && !matches!(framing, Framing::ContentLength | Framing::LengthGiven)
        || !length_field_allowed && framing == Framing::LengthGiven
    {
        framing = Framing::ContentLength;
    }
    let mut all = fields(src, 8);
    let mut body = body(src, framing);
    match framing {
        Framing::ContentLength if !length_field_allowed => {}
        Framing::ContentLength => all.push((
            "Content-Length".to_owned(),
            body.bytes.len().to_string().into_bytes(),
        )),
        Framing::Chunked => all.push(("Transfer-Encoding".to_owned(), b"chunked".to_vec())),
        Framing::Unframed if version == Version::Http11 => {
            // The connection frames it as chunked; trailers may ride along.
            body.trailers = trailer_fields(src);
        }
        Framing::Unframed | Framing::LengthGiven => {}
    }
    let given = (framing == Framing::LengthGiven).then_some(body.bytes.len() as u64);
    if no_body {
        // 204 and 304 carry no body whatever their Content-Length says.
        body.bytes.clear();
    }
    let step = src.byte();

    // A GET goes from client to server first, so both wait for the response.
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());
    let mut out = vec![0u8; 16 * 1024];
    let host = [Header {
        name: "Host",
        value: b"example.com",
    }];
    let n = client
        .send_request(&RequestHead::new("GET", "/", &host), &mut out)
        .expect("GET is valid");
    client.send_end(&[], &mut out).expect("GET has no body");
    let request = out[..n].to_vec();
    let mut headers = [EMPTY_HEADER; HEADER_SLOTS];
    let received = server
        .receive(&request, &mut headers)
        .expect("the GET parses");
    assert!(matches!(received.event, Event::Request(_)));
    let received = server
        .receive(&request[received.consumed..], &mut headers)
        .expect("the GET ends");
    assert!(matches!(received.event, Event::End { .. }));

    let mut wire = Vec::new();
    let mut expected = Vec::new();
    if let Some(interim) = interim {
        let head = ResponseHead::new(interim, &[]);
        send_head(server.send_response(&head, &mut out), &out, &mut wire);
        expected.push(Seen::Response {
            version: Version::Http11,
            status: interim.as_u16(),
            reason: head.reason.to_owned(),
            headers: Vec::new(),
        });
    }
    let mut clean = Some((reason.clone(), all.clone()));
    let mut poisoned = poison(
        src,
        &[Part::Line, Part::Name, Part::Value],
        None,
        &mut reason,
        &mut all,
    );
    loop {
        let fields = borrow_fields(&all);
        let head = ResponseHead {
            version,
            status,
            reason: &reason,
            headers: &fields,
        };
        let send = |conn: &mut Connection, out: &mut [u8]| match given {
            Some(length) => conn.send_response_sized(&head, length, out),
            None => conn.send_response(&head, out),
        };
        let before = server.clone();
        let result = send(&mut server, &mut out);
        if sent_head(
            result,
            poisoned,
            &server,
            State::SendResponse,
            &out,
            &mut wire,
        ) {
            check_exact_room(&before, &server, &out[..result.unwrap_or(0)], send);
            break;
        }
        // As for a request: the clean head goes on the same connection.
        (reason, all) = clean.take().expect("only a poisoned head is refused");
        poisoned = None;
    }
    send_body(&mut server, &body, &mut wire);

    let seen = receive_all(client, &wire, step);
    let Some(Seen::Response { headers: got, .. }) = seen.get(expected.len()) else {
        panic!("no final response in {seen:?}");
    };
    // The connection may have added framing and persistence fields after
    // ours, and the length given apart first among them.
    let mut sent = as_received(&all);
    if let Some(length) = given {
        sent.push(("content-length".to_owned(), length.to_string().into_bytes()));
    }
    assert!(
        got.len() >= sent.len() && got[..sent.len()] == sent[..],
        "fields changed: {got:?}"
    );
    assert!(
        got[sent.len()..]
            .iter()
            .all(|(name, value)| is_added_field(name, value)),
        "unexpected fields added: {got:?}"
    );
    expected.push(Seen::Response {
        version,
        status: status.as_u16(),
        reason,
        headers: got.clone(),
    });
    if !body.bytes.is_empty() {
        expected.push(Seen::Body(body.bytes));
    }
    expected.push(Seen::End {
        trailers: as_received(&body.trailers),
    });
    // Then the server closes cleanly, whether the connection persisted or not.
    expected.push(Seen::Closed);
    assert_eq!(
        seen, expected,
        "the response did not survive the round trip"
    );
}
