//! [`Connection`]: one HTTP/1.1 connection, client or server role, with no I/O.
//!
//! The connection turns the peer's bytes into [`Event`]s and our messages into
//! bytes, validating both against the rules of the state machine
//! ([`state`](super::state)), framing ([`framing`](super::framing)) and strict
//! parsing. It never reads, writes, allocates or panics on input.

use super::chunked::{ChunkedState, Decoded, at_most};
use super::encode::{self, AddedFields, DataFrame, IMF_FIXDATE_LEN};
use super::error::{Error, SendError};
use super::framing::{
    BodyLength, FramingFields, RequestMethod, TransferCoding, host_names_the_targets_authority,
    request_body_length, response_body_length,
};
use super::head::{Header, RequestHead, ResponseHead, Version, is_tchar};
use super::limits::Config;
use super::parse::{
    FirstTry, StartLine, parse_request, parse_response, try_whole_request, try_whole_response,
};
use super::scan::{FirstByte, ScanRules, Scanner};
use super::state::{Role, Settled, State, States, Transition};

/// Bytes a request line may hold beyond its target while it trickles in: the
/// method, two spaces, the version and CRLF. Methods longer than this much less
/// the rest are refused with 414 before the line ends.
const REQUEST_LINE_OVERHEAD: usize = 64;

/// The interim response a 101 may owe first (see `continue_before_switch`).
const CONTINUE_HEAD: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Something the peer sent, borrowed from the caller's input (`'b`) and header
/// array (`'h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'b, 'h> {
    /// A request head (server role). Body events follow, then [`Event::End`].
    Request(RequestHead<'b, 'h>),
    /// A response head (client role): a 1xx interim response, or the final one
    /// followed by its body events and [`Event::End`] (or, for a `101` or a
    /// `2xx` to CONNECT, by [`Event::SwitchedProtocol`]).
    Response(ResponseHead<'b, 'h>),
    /// Body data: a sub-slice of the input, never copied.
    Data(&'b [u8]),
    /// The end of the message, with the trailer fields of a chunked body (empty
    /// otherwise).
    End {
        /// Trailer fields, for chunked bodies that carried any.
        trailers: &'h [Header<'b>],
    },
    /// The input ends inside a message, or (a server between requests)
    /// holds nothing but empty lines: read more bytes and call again with the
    /// unconsumed input followed by them. `consumed` may be more than 0
    /// (chunk framing taken, as the CRLF after a chunk's data): drop those
    /// bytes, as after any event. [`Connection::message_begun`] tells a
    /// connection between messages from one in the middle of one.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, EMPTY_HEADER, Event};
    ///
    /// let mut conn = Connection::server(Config::default());
    /// let mut headers = [EMPTY_HEADER; 8];
    /// let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    /// assert_eq!(conn.receive(head, &mut headers)?.consumed, head.len());
    /// let received = conn.receive(b"5\r\nhello", &mut headers)?;
    /// assert_eq!((received.consumed, received.event), (8, Event::Data(b"hello")));
    /// // The CRLF after the data is taken, though the next chunk has not come.
    /// let received = conn.receive(b"\r\n", &mut headers)?;
    /// assert_eq!((received.consumed, received.event), (2, Event::NeedData));
    /// # Ok::<(), lithe::proto::Error>(())
    /// ```
    NeedData,
    /// The head (or a chunked body's trailer section) has more fields than the
    /// `headers` array holds, and the array is shorter than
    /// [`Limits::max_headers`](super::Limits::max_headers): nothing of it was
    /// consumed (`consumed` counts only the chunk framing before trailers).
    /// Call again with the unconsumed input and a larger array.
    /// This lets a caller try a small array first and keep a large one for the
    /// rare head that needs it; past the limit the head is refused with
    /// [`Error::TooManyHeaders`] instead. A caller with no larger array (no
    /// heap) sets `max_headers` to its array's length, which then never
    /// sees this event, or answers 431 itself: both sides are still idle,
    /// so [`send_response`](Connection::send_response) may send it
    /// unsolicited, and the connection closes after it. While a body is
    /// read, an empty array does until its trailers come.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, EMPTY_HEADER, Event};
    ///
    /// let head = b"GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-One: 1\r\n\r\n";
    /// let mut conn = Connection::server(Config::default());
    /// let mut small = [EMPTY_HEADER; 2];
    /// let received = conn.receive(head, &mut small)?;
    /// assert_eq!((received.consumed, received.event), (0, Event::HeadersFull));
    ///
    /// let mut large = [EMPTY_HEADER; 16];
    /// let received = conn.receive(head, &mut large)?;
    /// assert!(matches!(received.event, Event::Request(r) if r.headers.len() == 3));
    /// # Ok::<(), lithe::proto::Error>(())
    /// ```
    HeadersFull,
    /// Nothing will be parsed until we act: a server has read a whole request and
    /// owes its response (pipelined bytes wait, unconsumed), a client has no
    /// request outstanding, or the connection must close. Which one,
    /// [`Connection::our_state`] says: [`State::SendResponse`], send the
    /// response; [`State::SendBody`], send the rest of our message (a
    /// server's response, or a client's request body still going out after
    /// the response ended); [`State::Idle`] (a client), send a request;
    /// [`State::MustClose`], [`State::Closed`] or [`State::Error`], close.
    Paused,
    /// The connection switched protocols. The unconsumed input, and all bytes
    /// after it, belong to the new protocol.
    SwitchedProtocol,
    /// The peer closed the connection cleanly between messages: its side is
    /// done. A server may still owe the response to the request before (a
    /// client that half-closes once it has sent it): while
    /// [`Connection::our_state`] is [`State::SendResponse`] or
    /// [`State::SendBody`], send it, then close.
    ConnectionClosed,
}

/// What one call to [`Connection::receive`] found. Borrowed views only, so
/// it copies freely (to log an event and then handle it, say).
///
/// ```
/// use lithe::proto::{Config, Connection, EMPTY_HEADER, Event};
/// let mut conn = Connection::server(Config::default());
/// let mut headers = [EMPTY_HEADER; 4];
/// let received = conn.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers).unwrap();
/// let logged = received;
/// assert_eq!(logged, received);
/// assert!(matches!(received.event, Event::Request(head) if head.target == "/"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received<'b, 'h> {
    /// Bytes of the input now processed; drop them from the buffer. The rest must
    /// be offered again, followed by any new bytes.
    pub consumed: usize,
    /// What they held.
    pub event: Event<'b, 'h>,
}

impl<'b, 'h> Received<'b, 'h> {
    fn new(consumed: usize, event: Event<'b, 'h>) -> Self {
        Received { consumed, event }
    }
}

/// How the peer's body is being read.
#[derive(Clone, Copy, Debug)]
enum BodyReader {
    Length(u64),
    Chunked(ChunkedState),
    /// The bytes read so far, checked against `max_body_bytes`.
    UntilClose(u64),
}

/// How our body is being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyWriter {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

impl BodyWriter {
    fn for_body(body: BodyLength) -> BodyWriter {
        match body {
            BodyLength::Empty => BodyWriter::Empty,
            // A declared 0 is a length: bytes past it are too many
            // (`BodyTooLong`), not a body where none may be.
            BodyLength::Length(n) => BodyWriter::Length(n),
            BodyLength::Chunked => BodyWriter::Chunked,
            BodyLength::UntilClose => BodyWriter::UntilClose,
        }
    }
}

/// One HTTP/1.1 connection, in the client or server role: a sans-IO state machine.
///
/// Feed it the peer's bytes with [`receive`](Connection::receive) and get
/// [`Event`]s back; serialize our messages with
/// [`send_request`](Connection::send_request) /
/// [`send_response`](Connection::send_response),
/// [`send_data`](Connection::send_data) and [`send_end`](Connection::send_end).
/// Every call checks the connection's state: out-of-order calls are errors, never
/// panics. See [`state`](super::state) for the rules.
///
/// It holds no buffer: 200 bytes on x86_64 (less where pointers are
/// smaller), 72 of them a copy of its [`Config`]. The caller's buffers are
/// the rest: the input, a header array, an output buffer as large as the
/// largest head sent (a send into an empty buffer says how large one head
/// needs: [`SendError::BufferTooSmall`]).
///
/// A server answering a request (the header array is made for each call:
/// the events borrow it with the input, which must be free to change
/// between calls):
///
/// ```
/// use lithe::proto::{Config, Connection, Event, Header, ResponseHead, StatusCode, EMPTY_HEADER};
///
/// let mut conn = Connection::server(Config::default());
/// let mut buf: &[u8] = b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
/// let mut body = Vec::new();
/// loop {
///     let mut headers = [EMPTY_HEADER; 32];
///     let received = conn.receive(buf, &mut headers).unwrap();
///     buf = &buf[received.consumed..];
///     match received.event {
///         Event::Request(head) => assert_eq!(head.method, "POST"),
///         Event::Data(data) => body.extend_from_slice(data),
///         Event::End { .. } => break,
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert_eq!(body, b"hello");
///
/// let mut out = [0u8; 256];
/// let fields = [Header { name: "Content-Length", value: b"5" }];
/// let n = conn.send_response(&ResponseHead::new(StatusCode::OK, &fields), &mut out).unwrap();
/// assert_eq!(&out[..n], b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
/// let frame = conn.send_data(b"hello").unwrap();
/// assert!(frame.prefix.as_bytes().is_empty());
/// assert_eq!(conn.send_end(&[], &mut out).unwrap(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    states: States,
    /// The current request's method and version, which frame the response.
    request_method: RequestMethod,
    request_version: Version,
    /// The request said `Expect: 100-continue` and no response has been sent (or
    /// received) yet.
    expect_continue: bool,
    /// Server side: the request proposed a switch and said `Expect:
    /// 100-continue`, and no `100 Continue` has gone out: a 101 must follow
    /// one (RFC 9110 §7.8), whether or not the body came unasked.
    continue_before_switch: bool,
    /// Interim responses received to the request under way (client side).
    interim_responses: u16,
    head_scanner: Scanner,
    body_reader: Option<BodyReader>,
    their_body: Option<BodyLength>,
    their_error: Option<Error>,
    peer_eof: bool,
    body_writer: Option<BodyWriter>,
}

impl Connection {
    /// A connection in `role`.
    pub const fn new(role: Role, config: Config) -> Self {
        Connection {
            role,
            config,
            states: States::new(),
            request_method: RequestMethod::Other,
            request_version: Version::Http11,
            expect_continue: false,
            continue_before_switch: false,
            interim_responses: 0,
            head_scanner: Scanner::new(),
            body_reader: None,
            their_body: None,
            their_error: None,
            peer_eof: false,
            body_writer: None,
        }
    }

    /// A client connection: sends requests, receives responses.
    pub const fn client(config: Config) -> Self {
        Connection::new(Role::Client, config)
    }

    /// A server connection: receives requests, sends responses.
    pub const fn server(config: Config) -> Self {
        Connection::new(Role::Server, config)
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration in force.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, Limits};
    /// let config = Config {
    ///     limits: Limits { max_headers: 8, ..Limits::default() },
    ///     ..Config::default()
    /// };
    /// assert_eq!(Connection::server(config).config(), &config);
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Our side's state.
    pub fn our_state(&self) -> State {
        self.states.get(self.role)
    }

    /// The peer's state.
    pub fn their_state(&self) -> State {
        self.states.get(self.role.peer())
    }

    /// Whether the peer has begun a message: one is under way (its body is
    /// arriving), or `input`, the unconsumed bytes as
    /// [`receive`](Self::receive) would be offered them, holds the start of
    /// the next one. A server skips empty lines before a request (RFC 9112
    /// §2.2: some clients end a body with an extra CRLF) without consuming
    /// them, so a buffer holding only those (CRLFs, or bare LFs where
    /// [`Leniency::allow_bare_lf`](super::Leniency::allow_bare_lf) accepts
    /// them) is still between messages, as an empty one is; a lone CR is a
    /// line begun. A client's peer sends no such lines: any byte begins a
    /// response. Once no HTTP message can follow (the connection must
    /// close, has closed, failed or switched protocols), none has begun.
    /// This is how a server tells an idle connection (its idle timeout
    /// applies) from one reading a head (its head timeout does).
    ///
    /// ```
    /// use lithe::proto::{Config, Connection};
    /// let server = Connection::server(Config::default());
    /// assert!(!server.message_begun(b""));
    /// assert!(!server.message_begun(b"\r\n\r\n"));
    /// assert!(server.message_begun(b"\r\nGE"));
    /// assert!(server.message_begun(b"\n"));
    /// ```
    pub fn message_begun(&self, input: &[u8]) -> bool {
        let no_more = |state| {
            matches!(
                state,
                State::MustClose | State::Closed | State::SwitchedProtocol | State::Error
            )
        };
        match self.their_state() {
            State::SendBody => true,
            state if no_more(state) => false,
            // Between their messages, with ours ending the connection (an
            // unsolicited 408 or 503 leaves the client's side idle): none
            // can follow.
            State::Idle | State::Done if no_more(self.our_state()) => false,
            _ => match self.role {
                Role::Server => !only_empty_lines(input, self.config.leniency.allow_bare_lf),
                Role::Client => !input.is_empty(),
            },
        }
    }

    /// Whether the connection may carry another cycle after this one. Once false
    /// it stays false until the connection is dropped.
    pub fn is_keep_alive(&self) -> bool {
        self.states.keep_alive
    }

    /// Server role: the client sent `Expect: 100-continue` and waits for a
    /// `100 Continue` (or a final response) before sending its body. Send the 100
    /// when the application starts reading the body.
    pub fn they_are_waiting_for_100_continue(&self) -> bool {
        self.role == Role::Server && self.expect_continue && self.states.client == State::SendBody
    }

    /// Client role: we sent `Expect: 100-continue` and have had neither a
    /// `100 Continue` nor a final response yet (`102 Processing` or `103
    /// Early Hints` leaves us waiting; a 1xx of no known meaning counts as
    /// a 100, as RFC 9110 §15 has a client read an unrecognized status);
    /// wait for one (with a timeout) before sending the body.
    pub fn we_are_waiting_for_100_continue(&self) -> bool {
        self.role == Role::Client && self.expect_continue && self.states.client == State::SendBody
    }

    /// How the peer's current message body is framed, once its head has arrived.
    pub fn incoming_body(&self) -> Option<BodyLength> {
        self.their_body
    }

    /// How many body bytes of the peer's message are still to come, when its
    /// head declared a length (`Some(0)` once they have all arrived, before
    /// the end is reported): `None` for a chunked or close-delimited body, and
    /// when no body is being received.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, EMPTY_HEADER};
    /// let mut conn = Connection::server(Config::default());
    /// let mut headers = [EMPTY_HEADER; 8];
    /// let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel";
    /// let received = conn.receive(head, &mut headers)?;
    /// assert_eq!(conn.body_left_to_receive(), Some(5));
    /// let rest = &head[received.consumed..];
    /// conn.receive(rest, &mut headers)?;
    /// assert_eq!(conn.body_left_to_receive(), Some(2));
    /// # Ok::<(), lithe::proto::Error>(())
    /// ```
    pub fn body_left_to_receive(&self) -> Option<u64> {
        match self.body_reader? {
            BodyReader::Length(remaining) => Some(remaining),
            BodyReader::Chunked(_) | BodyReader::UntilClose(_) => None,
        }
    }

    /// How many body bytes our message still owes, when its head declared a
    /// length (a Content-Length field, or a length given apart; `Some(0)` for
    /// a message without a body): `None` for a chunked or close-delimited
    /// body, and when no message of ours is under way (before its head, after
    /// its end). Right after the head it is the declared length, whoever
    /// wrote the field, unless the message has no body whatever its fields
    /// say (a HEAD or 304 response stating a GET's length): `Some(0)`.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, Header, RequestHead};
    /// let mut conn = Connection::client(Config::default());
    /// let fields = [
    ///     Header { name: "Host", value: b"a" },
    ///     Header { name: "Content-Length", value: b"5" },
    /// ];
    /// let mut out = [0u8; 128];
    /// conn.send_request(&RequestHead::new("POST", "/", &fields), &mut out)?;
    /// assert_eq!(conn.body_left_to_send(), Some(5));
    /// conn.send_data(b"hel")?;
    /// assert_eq!(conn.body_left_to_send(), Some(2));
    /// # Ok::<(), lithe::proto::SendError>(())
    /// ```
    pub fn body_left_to_send(&self) -> Option<u64> {
        match self.body_writer? {
            BodyWriter::Empty => Some(0),
            BodyWriter::Length(remaining) => Some(remaining),
            BodyWriter::Chunked | BodyWriter::UntilClose => None,
        }
    }

    /// Server role: whether the request received proposes a protocol switch
    /// that our response may accept (a `101` to an HTTP/1.1 request naming
    /// `upgrade` in its Connection field beside an Upgrade field, or a `2xx`
    /// to `CONNECT`). An Upgrade field alone proposes nothing (RFC 9110
    /// §7.8: a hop that did not name it in Connection should have removed it).
    /// True from the request's head on; the switching response may go once
    /// the request's end has been received too (`Event::End`, which follows
    /// at once for a request without a body): before it, it is `InvalidState`.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, EMPTY_HEADER};
    /// let mut headers = [EMPTY_HEADER; 4];
    /// let mut conn = Connection::server(Config::default());
    /// conn.receive(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", &mut headers)?;
    /// assert!(conn.they_proposed_a_switch());
    /// let mut conn = Connection::server(Config::default());
    /// conn.receive(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", &mut headers)?;
    /// assert!(!conn.they_proposed_a_switch());
    /// # Ok::<(), lithe::proto::Error>(())
    /// ```
    pub fn they_proposed_a_switch(&self) -> bool {
        self.role == Role::Server && self.states.switch_proposed
    }

    /// Whether our message under way has a body that ends where the
    /// connection closes (a response of unknown length to an HTTP/1.0
    /// request, or under a transfer coding other than `chunked`). Cut short,
    /// such a body cannot be told from a whole one by a clean close: only an
    /// abortive one (a TCP reset, or TLS without `close_notify`) says so.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, EMPTY_HEADER, ResponseHead, StatusCode};
    /// let mut conn = Connection::server(Config::default());
    /// let mut headers = [EMPTY_HEADER; 4];
    /// conn.receive(b"GET / HTTP/1.0\r\n\r\n", &mut headers)?;
    /// let mut out = [0u8; 64];
    /// conn.send_response(&ResponseHead::new(StatusCode::OK, &[]), &mut out).unwrap();
    /// assert!(conn.our_body_ends_at_close());
    ///
    /// // With its length given, the same response's body ends by itself.
    /// let mut conn = Connection::server(Config::default());
    /// conn.receive(b"GET / HTTP/1.0\r\n\r\n", &mut headers)?;
    /// let head = ResponseHead::new(StatusCode::OK, &[]);
    /// conn.send_response_sized(&head, 2, &mut out).unwrap();
    /// assert!(!conn.our_body_ends_at_close());
    /// # Ok::<(), lithe::proto::Error>(())
    /// ```
    pub fn our_body_ends_at_close(&self) -> bool {
        matches!(self.body_writer, Some(BodyWriter::UntilClose))
    }

    /// Records that the peer closed its sending side (the read returned 0 bytes).
    /// Later calls to [`receive`](Connection::receive) report a clean close, the
    /// end of a close-delimited body, or [`Error::IncompleteMessage`] for a message
    /// cut short.
    pub fn receive_eof(&mut self) {
        self.peer_eof = true;
    }

    /// Parses what it can of `input`, the peer's bytes not yet consumed.
    ///
    /// Returns how many bytes were consumed and the [`Event`] they held; call again
    /// with the rest (plus new bytes on [`Event::NeedData`]). Heads and trailers are
    /// parsed into `headers`, capped at [`Limits::max_headers`](super::Limits::max_headers);
    /// a head or trailer section with more fields than a shorter array holds
    /// yields [`Event::HeadersFull`]. Any split of the same bytes yields the same
    /// events, and a head arriving byte by byte costs linear time in total.
    /// An error comes as soon as the bytes that decide it are there, not once
    /// the head is whole: a malformed start line at its line end, a bare CR
    /// with the byte after it, a limit when it is crossed; the rest when the
    /// head is complete.
    ///
    /// After an error the connection is finished: every later call returns the
    /// same error, and it must be closed.
    pub fn receive<'b, 'h>(
        &mut self,
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Received<'b, 'h>, Error> {
        if let Some(error) = self.their_error {
            return Err(error);
        }
        let cap = headers.len().min(self.config.limits.max_headers);
        let result = self.receive_event(input, &mut headers[..cap]);
        if let Err(error) = result {
            self.their_error = Some(error);
            self.states.fault(self.role.peer());
        }
        result
    }

    // One call site each, on the path of every head: inlining spares the
    // copies of the event through each layer.
    #[inline(always)]
    fn receive_event<'b, 'h>(
        &mut self,
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Received<'b, 'h>, Error> {
        match (self.role, self.their_state()) {
            (Role::Server, State::Idle) if self.states.server == State::Idle => {
                self.receive_request_head(input, headers)
            }
            (Role::Client, State::SendResponse) => self.receive_response_head(input, headers),
            (_, State::SendBody) => self.receive_body(input, headers),
            (_, State::Closed) => Ok(Received::new(0, Event::ConnectionClosed)),
            (_, State::SwitchedProtocol) => Ok(Received::new(0, Event::SwitchedProtocol)),
            (Role::Client, State::Idle) if !input.is_empty() => Err(Error::UnexpectedData),
            _ => {
                let peer = self.role.peer();
                if self.peer_eof
                    && input.is_empty()
                    && self
                        .states
                        .process(peer, Transition::ConnectionClosed)
                        .is_ok()
                {
                    return Ok(Received::new(0, Event::ConnectionClosed));
                }
                Ok(Received::new(0, Event::Paused))
            }
        }
    }

    #[inline(always)]
    fn head_rules(&self, max_first_line: usize, first_line_too_long: Error) -> ScanRules {
        ScanRules {
            max_bytes: self.config.limits.max_head_bytes,
            max_first_line,
            has_start_line: true,
            skip_leading_empty_lines: self.role == Role::Server,
            allow_bare_lf: self.config.leniency.allow_bare_lf,
            allow_obs_fold: self.role == Role::Client
                && self.config.leniency.allow_obs_fold_in_responses,
            too_large: Error::HeadTooLarge,
            first_line_too_long,
            // A method is a token: a request line that begins otherwise is
            // none. A status line begins `HTTP/`: a peer that does not (a TLS
            // alert from a port that speaks TLS, a banner) is no HTTP server,
            // said at once rather than as a response cut short at its close.
            first_byte: match self.role {
                Role::Server => Some(FirstByte {
                    valid: is_tchar,
                    error: Error::InvalidRequestLine,
                }),
                Role::Client => Some(FirstByte {
                    valid: |b| b == b'H',
                    error: Error::InvalidVersion,
                }),
            },
            start_line: Some(match self.role {
                Role::Server => StartLine::Request {
                    max_target_bytes: self.config.limits.max_request_target_bytes,
                },
                Role::Client => StartLine::Status,
            }),
        }
    }

    /// What to report when the head is not complete yet.
    fn incomplete_head<'b, 'h>(&mut self, input: &[u8]) -> Result<Received<'b, 'h>, Error> {
        if !self.peer_eof {
            return Ok(Received::new(0, Event::NeedData));
        }
        // Empty lines before a request are ignored (RFC 9112 §2.2; some
        // clients end a body with an extra CRLF): with nothing else, the
        // connection ended cleanly between requests. A line end cut short (a
        // lone CR) or one the scanner would refuse (a bare LF) is not empty.
        let nothing_begun = only_empty_lines(input, self.config.leniency.allow_bare_lf);
        if nothing_begun && self.role == Role::Server {
            self.states
                .process(Role::Client, Transition::ConnectionClosed)
                .map_err(|_| Error::IncompleteMessage)?;
            return Ok(Received::new(0, Event::ConnectionClosed));
        }
        // (A bare CR in it the scanner has refused already.)
        Err(Error::IncompleteMessage)
    }

    #[inline(always)]
    fn receive_request_head<'b, 'h>(
        &mut self,
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Received<'b, 'h>, Error> {
        if input.is_empty() && !self.peer_eof {
            // Between requests, asked again before anything arrived.
            return Ok(Received::new(0, Event::NeedData));
        }
        let max_request_line = self
            .config
            .limits
            .max_request_target_bytes
            .saturating_add(REQUEST_LINE_OVERHEAD);
        let headers = if self.head_scanner.is_fresh() {
            match try_whole_request(input, headers, &self.config, max_request_line) {
                FirstTry::Parsed { head, end } => return self.accept_request(head?, end),
                FirstTry::ScannerRejects => {
                    let rules = self.head_rules(max_request_line, Error::RequestTargetTooLong);
                    return Err(self.scanner_verdict(input, &rules));
                }
                FirstTry::ArrayFull(headers) if self.array_is_short(headers) => {
                    let rules = self.head_rules(max_request_line, Error::RequestTargetTooLong);
                    return self.array_full_verdict(input, &rules);
                }
                FirstTry::Scan(headers) | FirstTry::ArrayFull(headers) => headers,
            }
        } else {
            headers
        };
        let rules = self.head_rules(max_request_line, Error::RequestTargetTooLong);
        let Some(section) = self.head_scanner.scan(input, &rules)? else {
            return self.incomplete_head(input);
        };
        let short = self.array_is_short(headers);
        match parse_request(&input[section.start..section.end], headers, &self.config) {
            Ok(head) => self.accept_request(head, section.end),
            Err(error) => self.head_refused(error, short),
        }
    }

    /// A first attempt that ran out of a short header array: `HeadersFull` only
    /// once the head is complete and passes the scanner's rules, as a head
    /// arriving in pieces gets it (the scanner first, then httparse on the
    /// whole), so that every split of the input gives the same events.
    fn array_full_verdict<'b, 'h>(
        &mut self,
        input: &[u8],
        rules: &ScanRules,
    ) -> Result<Received<'b, 'h>, Error> {
        if self.head_scanner.scan(input, rules)?.is_none() {
            return self.incomplete_head(input);
        }
        // The retry with a larger array parses the head whole.
        self.head_scanner = Scanner::new();
        Ok(Received::new(0, Event::HeadersFull))
    }

    /// The error the scanner finds in a head httparse parsed but the bulk checks
    /// refused; scanning it is what names the rule at the right byte.
    fn scanner_verdict(&mut self, input: &[u8], rules: &ScanRules) -> Error {
        match self.head_scanner.scan(input, rules) {
            Err(error) => error,
            // The bulk checks refuse only what the scanner refuses.
            Ok(_) => Error::InvalidRequestLine,
        }
    }

    #[inline(always)]
    fn accept_request<'b, 'h>(
        &mut self,
        head: RequestHead<'b, 'h>,
        end: usize,
    ) -> Result<Received<'b, 'h>, Error> {
        let mut fields = FramingFields::NONE;
        fields.read_received(head.headers)?;
        match (fields.host_count, head.version) {
            (0, Version::Http11) => return Err(Error::MissingHost),
            (2.., _) => return Err(Error::DuplicateHost),
            _ if !fields.host_valid => return Err(Error::InvalidHost),
            _ => {}
        }
        let method = RequestMethod::of(head.method);
        let body = request_body_length(&fields, head.version, method)?;
        self.check_body_limit(body)?;

        self.request_method = method;
        self.request_version = head.version;
        // As the client side judges it: a request without content waits
        // for nothing (RFC 9110 §10.1.1 lets the server omit the 100).
        self.expect_continue =
            fields.expect_continue && head.version == Version::Http11 && body != BodyLength::Empty;
        // Set only when asked (rarely): every cycle starts with it clear.
        if fields.expect_continue {
            self.continue_before_switch = fields.proposes_upgrade(head.version);
        }
        self.states.keep_alive &= fields.keep_alive(head.version);
        self.states.switch_proposed =
            self.request_method == RequestMethod::Connect || fields.proposes_upgrade(head.version);
        self.states
            .process(Role::Client, Transition::Request)
            .map_err(|_| Error::UnexpectedData)?;
        self.start_body(body);
        Ok(Received::new(end, Event::Request(head)))
    }

    #[inline(always)]
    fn receive_response_head<'b, 'h>(
        &mut self,
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Received<'b, 'h>, Error> {
        let headers = if self.head_scanner.is_fresh() {
            match try_whole_response(input, headers, &self.config) {
                FirstTry::Parsed { head, end } => return self.accept_response(head?, end),
                FirstTry::ScannerRejects => {
                    let rules = self.head_rules(usize::MAX, Error::HeadTooLarge);
                    return Err(self.scanner_verdict(input, &rules));
                }
                FirstTry::ArrayFull(headers) if self.array_is_short(headers) => {
                    let rules = self.head_rules(usize::MAX, Error::HeadTooLarge);
                    return self.array_full_verdict(input, &rules);
                }
                FirstTry::Scan(headers) | FirstTry::ArrayFull(headers) => headers,
            }
        } else {
            headers
        };
        let rules = self.head_rules(usize::MAX, Error::HeadTooLarge);
        let Some(section) = self.head_scanner.scan(input, &rules)? else {
            return self.incomplete_head(input);
        };
        let short = self.array_is_short(headers);
        match parse_response(&input[section.start..section.end], headers, &self.config) {
            Ok(head) => self.accept_response(head, section.end),
            Err(error) => self.head_refused(error, short),
        }
    }

    /// Whether the caller's header array holds fewer fields than the limit
    /// allows, so running out of it is the array's fault, not the peer's.
    fn array_is_short(&self, headers: &[Header<'_>]) -> bool {
        headers.len() < self.config.limits.max_headers
    }

    /// A complete head httparse refused: the error, unless it only ran out of a
    /// `short` array. Then the caller may retry with a larger one, and the
    /// scanner starts over so that the retry parses the head whole.
    fn head_refused<'b, 'h>(
        &mut self,
        error: Error,
        short: bool,
    ) -> Result<Received<'b, 'h>, Error> {
        if error == Error::TooManyHeaders && short {
            self.head_scanner = Scanner::new();
            return Ok(Received::new(0, Event::HeadersFull));
        }
        Err(error)
    }

    #[inline(always)]
    fn accept_response<'b, 'h>(
        &mut self,
        head: ResponseHead<'b, 'h>,
        end: usize,
    ) -> Result<Received<'b, 'h>, Error> {
        let status = head.status;
        let mut fields = FramingFields::NONE;
        match fields.read_received(head.headers) {
            // HTTP/1.0 has no transfer codings (RFC 9112 §6.1): the field is
            // faulty framing whatever the status, an interim or switching
            // one included (before those return below).
            Ok(())
                if head.version == Version::Http10
                    && fields.transfer_coding != TransferCoding::Absent =>
            {
                return Err(Error::TransferEncodingInHttp10);
            }
            Ok(()) => {}
            // Its framing is not the fields' to say: a malformed one is
            // ignored (rules 1 and 2 of RFC 9112 §6.3).
            Err(_) if self.request_method.frames_regardless(status) => {
                // HTTP/1.0 has no transfer codings: there a Transfer-Encoding
                // field is refused, malformed or not (RFC 9112 §6.1).
                if head.version == Version::Http10
                    && head
                        .headers
                        .iter()
                        .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
                {
                    return Err(Error::TransferEncodingInHttp10);
                }
                // What the failed read left is partial: read again.
                fields = FramingFields::read_regardless_of_framing(head.headers)?;
            }
            Err(error) => return Err(error),
        }
        self.head_scanner = Scanner::new();
        // `100 Continue` answers the expectation and a final response (or a
        // switch) ends it; another interim response, such as `103 Early
        // Hints`, does neither (RFC 9110 §10.1.1). A 1xx of no known meaning
        // is a 100 (a client treats an unrecognized status as its class's
        // x00, §15): the server it came from may be waiting for the body.
        if !status.is_informational() || !matches!(status.as_u16(), 102 | 103) {
            self.expect_continue = false;
        }

        let accepts_switch = self
            .request_method
            .accepts_switch(status)
            .ok_or(Error::UnexpectedSwitch)?;
        if accepts_switch {
            // A 101 names the protocol it switches to (RFC 9110 §7.8): one
            // that names none leaves the client not knowing what follows.
            if status.as_u16() == 101 && !fields.has_upgrade {
                return Err(Error::UnexpectedSwitch);
            }
            self.states
                .process(Role::Server, Transition::SwitchAccepted)
                .map_err(|_| Error::UnexpectedSwitch)?;
            return Ok(Received::new(end, Event::Response(head)));
        }
        if status.is_informational() {
            // Counted after the check: the largest limit is a limit too.
            if self.interim_responses >= self.config.limits.max_interim_responses {
                return Err(Error::TooManyInterimResponses);
            }
            self.interim_responses += 1;
            self.states
                .process(Role::Server, Transition::Informational)
                .map_err(|_| Error::UnexpectedData)?;
            return Ok(Received::new(end, Event::Response(head)));
        }
        self.interim_responses = 0;
        let framing = response_body_length(&fields, head.version, status, self.request_method)?;
        self.check_body_limit(framing.body)?;
        self.states.keep_alive &= fields.keep_alive(head.version) && !framing.must_close;
        self.states
            .process(Role::Server, Transition::Response)
            .map_err(|_| Error::UnexpectedData)?;
        self.start_body(framing.body);
        Ok(Received::new(end, Event::Response(head)))
    }

    fn check_body_limit(&self, body: BodyLength) -> Result<(), Error> {
        match body {
            BodyLength::Length(n) if n > self.config.limits.max_body_bytes => {
                Err(Error::BodyTooLarge)
            }
            _ => Ok(()),
        }
    }

    fn start_body(&mut self, body: BodyLength) {
        self.their_body = Some(body);
        self.head_scanner = Scanner::new();
        self.body_reader = Some(match body {
            BodyLength::Empty => BodyReader::Length(0),
            BodyLength::Length(n) => BodyReader::Length(n),
            BodyLength::Chunked => BodyReader::Chunked(ChunkedState::new(
                self.role == Role::Client
                    && self.config.leniency.allow_padded_chunk_lines_in_responses,
            )),
            BodyLength::UntilClose => BodyReader::UntilClose(0),
        });
    }

    fn receive_body<'b, 'h>(
        &mut self,
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Received<'b, 'h>, Error> {
        let eof = self.peer_eof;
        let reader = self.body_reader.as_mut().ok_or(Error::UnexpectedData)?;
        let received = match reader {
            BodyReader::Length(0) => return self.end_of_message(0, &[]),
            BodyReader::Length(remaining) => {
                if input.is_empty() {
                    return if eof {
                        Err(Error::IncompleteMessage)
                    } else {
                        Ok(Received::new(0, Event::NeedData))
                    };
                }
                let n = at_most(input.len(), *remaining);
                *remaining -= n as u64;
                Received::new(n, Event::Data(&input[..n]))
            }
            BodyReader::UntilClose(read) => {
                if input.is_empty() {
                    return if eof {
                        self.end_of_message(0, &[])
                    } else {
                        Ok(Received::new(0, Event::NeedData))
                    };
                }
                // No length was declared to refuse up front: bytes up to the
                // limit are data, the first byte past it is the error, so every
                // split of the input gives the same events.
                let allowed = self.config.limits.max_body_bytes - *read;
                if allowed == 0 {
                    return Err(Error::BodyTooLarge);
                }
                let n = at_most(input.len(), allowed);
                *read += n as u64;
                Received::new(n, Event::Data(&input[..n]))
            }
            // The head's scanner is idle until the body ends (`start_body`
            // left it fresh), and finds the trailer section's end.
            BodyReader::Chunked(decoder) => {
                match decoder.decode(input, headers, &self.config, &mut self.head_scanner)? {
                    (n, Decoded::Data(data)) => Received::new(n, Event::Data(data)),
                    (n, Decoded::End { trailers }) => return self.end_of_message(n, trailers),
                    (_, Decoded::NeedData) if eof => return Err(Error::IncompleteMessage),
                    (n, Decoded::NeedData) => Received::new(n, Event::NeedData),
                    (n, Decoded::TrailersFull) => Received::new(n, Event::HeadersFull),
                }
            }
        };
        if matches!(received.event, Event::Data(_)) && self.role == Role::Server {
            // The client stopped waiting for 100 Continue and sent its body.
            self.expect_continue = false;
        }
        Ok(received)
    }

    fn end_of_message<'b, 'h>(
        &mut self,
        consumed: usize,
        trailers: &'h [Header<'b>],
    ) -> Result<Received<'b, 'h>, Error> {
        self.body_reader = None;
        let settled = self
            .states
            .process(self.role.peer(), Transition::EndOfMessage)
            .map_err(|_| Error::UnexpectedData)?;
        self.after(settled);
        Ok(Received::new(consumed, Event::End { trailers }))
    }

    /// Resets what belongs to one cycle when the next begins.
    fn after(&mut self, settled: Settled) {
        if settled == Settled::NextCycle {
            self.request_method = RequestMethod::Other;
            self.request_version = Version::Http11;
            self.expect_continue = false;
            self.continue_before_switch = false;
            self.head_scanner = Scanner::new();
            self.body_reader = None;
            self.their_body = None;
            self.body_writer = None;
        }
    }

    /// Client role: serializes a request head into `out`, returning the bytes
    /// written. The body framing follows the head: `Content-Length`,
    /// `Transfer-Encoding: chunked`, or (with neither) no body. An HTTP/1.1
    /// head with an `Upgrade` field proposes a switch: `Connection: upgrade`
    /// is added unless its `Connection` fields name that option already
    /// (RFC 9110 §7.8); so is `Connection: te` for a `TE` field (§10.1.4),
    /// which no hop is to pass on. A target that names an authority (`http://a/`, or
    /// CONNECT's `a:443`) must have it for Host as well (RFC 9112 §3.2;
    /// [`SendError::HostMismatch`]).
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, Header, RequestHead};
    /// let mut conn = Connection::client(Config::default());
    /// let fields = [Header { name: "Host", value: b"example.com" }];
    /// let mut out = [0u8; 64];
    /// let n = conn.send_request(&RequestHead::new("GET", "/", &fields), &mut out).unwrap();
    /// assert_eq!(&out[..n], b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    /// ```
    pub fn send_request(
        &mut self,
        head: &RequestHead<'_, '_>,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.send_request_head(head, None, out)
    }

    /// [`send_request`](Connection::send_request) for a body whose length is
    /// known: as if the head ended with a `Content-Length: length` field, which
    /// the connection writes itself. A head that also carries its own
    /// Content-Length must give the same value (or
    /// [`SendError::InvalidFraming`] with [`Error::ConflictingContentLength`]),
    /// and then only its field is written. A length of more than 19 digits,
    /// which no receiver takes, is `InvalidFraming` with
    /// [`Error::InvalidContentLength`].
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, Header, RequestHead};
    /// let mut conn = Connection::client(Config::default());
    /// let fields = [Header { name: "Host", value: b"a" }];
    /// let mut out = [0u8; 64];
    /// let head = RequestHead::new("POST", "/", &fields);
    /// let n = conn.send_request_sized(&head, 2, &mut out).unwrap();
    /// assert_eq!(&out[..n], b"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 2\r\n\r\n");
    /// ```
    pub fn send_request_sized(
        &mut self,
        head: &RequestHead<'_, '_>,
        length: u64,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.send_request_head(head, Some(length), out)
    }

    #[inline(always)]
    fn send_request_head(
        &mut self,
        head: &RequestHead<'_, '_>,
        length: Option<u64>,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        if self.role != Role::Client || !self.states.allows(Role::Client, Transition::Request) {
            return Err(SendError::InvalidState);
        }
        encode::validate_request(head)?;
        let mut fields = FramingFields::NONE;
        fields
            .read_sent(head.headers)
            .map_err(SendError::InvalidFraming)?;
        fields.check_sent_content_length(head.headers)?;
        fields.check_sent_transfer_encoding(head.headers)?;
        let length = fields.take_given_length(length)?;
        match (fields.host_count, head.version) {
            (0, Version::Http11) => return Err(SendError::MissingHost),
            (2.., _) => return Err(SendError::InvalidFraming(Error::DuplicateHost)),
            _ if !fields.host_valid => return Err(SendError::InvalidFraming(Error::InvalidHost)),
            _ => {}
        }
        if !host_names_the_targets_authority(head) {
            return Err(SendError::HostMismatch);
        }
        let method = RequestMethod::of(head.method);
        let body = request_body_length(&fields, head.version, method)
            .map_err(SendError::InvalidFraming)?;
        // RFC 9110 §9.3.8: a client must not send content in a TRACE request
        // (what the server echoes back is the request as it arrived).
        if body != BodyLength::Empty && head.method == "TRACE" {
            return Err(SendError::BodyNotAllowed);
        }
        // A proposal to upgrade names `upgrade` as a connection option too
        // (RFC 9110 §7.8); without it a server would not see one. `TE` is
        // named so as well (§10.1.4), for no hop to pass it on.
        let added = AddedFields {
            content_length: length,
            upgrade: head.version == Version::Http11
                && fields.has_upgrade
                && !fields.connection_upgrade,
            ..AddedFields::default()
        };
        fields.connection_upgrade |= added.upgrade;
        let connection_te = fields.has_te && !fields.connection_te;
        let written = encode::write_request(head, added, connection_te, out)?;

        self.request_method = method;
        self.request_version = head.version;
        self.expect_continue =
            fields.expect_continue && head.version == Version::Http11 && body != BodyLength::Empty;
        self.states.keep_alive &= fields.keep_alive(head.version);
        self.states.switch_proposed =
            self.request_method == RequestMethod::Connect || fields.proposes_upgrade(head.version);
        // A declared 0 reads as no body, but sends as a length (see
        // `BodyWriter::for_body`).
        self.body_writer = Some(match fields.content_length {
            Some(0) => BodyWriter::Length(0),
            _ => BodyWriter::for_body(body),
        });
        self.states
            .process(Role::Client, Transition::Request)
            .map_err(|_| SendError::InvalidState)?;
        Ok(written)
    }

    /// Server role: serializes a response head into `out`, returning the bytes
    /// written.
    ///
    /// A 1xx other than 101 is an interim response; the final one follows. 101
    /// (to an Upgrade request, naming the protocol in an Upgrade field:
    /// [`SendError::MissingUpgrade`]) and 2xx (to CONNECT) switch protocols;
    /// a 101 to a request that also said `Expect: 100-continue` is preceded,
    /// in the same bytes, by the `100 Continue` RFC 9110 §7.8 requires, unless
    /// one was sent. A 426 names the protocol it requires in an Upgrade field
    /// too. Any response with an Upgrade field (a 101, a 426) gets `Connection:
    /// upgrade` unless the head names that option (RFC 9110 §7.8). For other
    /// responses the body framing follows the head; with neither Content-Length nor
    /// Transfer-Encoding, `Transfer-Encoding: chunked` is added for HTTP/1.1 peers
    /// and the body is close-delimited for HTTP/1.0 ones. `Connection: close` is
    /// added whenever the connection will not persist, and a `keep-alive`
    /// option in the head's `Connection` fields is then left out rather than
    /// contradict it (their other options join the close:
    /// `connection: x-hop, close`). A 1xx, a 204 or a 2xx to CONNECT with a Content-Length or
    /// Transfer-Encoding field is refused ([`SendError::FramingNotAllowed`]). A 205
    /// carries no content (RFC 9110 §15.3.6): without framing it gets
    /// `Content-Length: 0` (unless, to CONNECT, it opens a tunnel), and one
    /// declaring a body is refused ([`SendError::BodyNotAllowed`]). A reason
    /// phrase past visible ASCII, tab and space is refused
    /// ([`SendError::InvalidReasonPhrase`]): obs-text would reach the peer's
    /// parser as no reason at all. So is a status past 599
    /// ([`SendError::InvalidStatus`]), which RFC 9110 §15 calls invalid.
    ///
    /// With no request in progress, one final response may still be sent, after
    /// which the connection closes: the error response after
    /// [`receive`](Connection::receive) failed (e.g. with [`Error::status`]), or
    /// an unsolicited one before any request arrived (408 when a head takes too
    /// long, 503 when shedding load; RFC 9110 §15.5.9). The peer's version being
    /// unknown, such a response without a length is close-delimited, and one
    /// with a Transfer-Encoding field is refused
    /// ([`Error::TransferEncodingInHttp10`]).
    ///
    /// A response sent while the request body is still arriving keeps the
    /// connection (the rest of the body is read after it, as
    /// [`receive`](Connection::receive) goes on). A driver that will not read
    /// it (a 408 for a stalled body, a 413), and so closes after the
    /// response, must say so itself: a `Connection: close` field in the head
    /// (RFC 9110 §15.5.9 asks it of a 408). [`close`](Connection::close)
    /// before sending would leave no response to send.
    ///
    /// A call with an output buffer too small for the head changes nothing
    /// and says how many bytes the head needs: a buffer can be sized by an
    /// empty one.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, EMPTY_HEADER, ResponseHead, SendError, State, StatusCode};
    /// let mut conn = Connection::server(Config::default());
    /// let mut headers = [EMPTY_HEADER; 4];
    /// conn.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut headers)?;
    /// let head = ResponseHead::new(StatusCode::OK, &[]);
    /// let Err(SendError::BufferTooSmall { needed }) = conn.send_response(&head, &mut []) else {
    ///     panic!("an empty buffer holds no head");
    /// };
    /// assert_eq!(conn.our_state(), State::SendResponse);
    /// let mut out = vec![0u8; needed];
    /// assert_eq!(conn.send_response(&head, &mut out), Ok(needed));
    /// assert_eq!(out, b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    /// # Ok::<(), lithe::proto::Error>(())
    /// ```
    pub fn send_response(
        &mut self,
        head: &ResponseHead<'_, '_>,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.send_dated_response(head, None, None, out)
    }

    /// [`send_response`](Connection::send_response) for a body whose length is
    /// known: as if the head ended with a `Content-Length: length` field, which
    /// the connection writes itself. A head that also carries its own
    /// Content-Length must give the same value (or
    /// [`SendError::InvalidFraming`] with [`Error::ConflictingContentLength`]),
    /// and then only its field is written; a length of more than 19 digits,
    /// which no receiver takes, is `InvalidFraming` with
    /// [`Error::InvalidContentLength`]. As with the field itself, the status
    /// and the request decide whether a body follows (none for HEAD, 1xx,
    /// 204, 304), a 1xx, a 204 or a 2xx to CONNECT may carry no length at all
    /// ([`SendError::FramingNotAllowed`], RFC 9110 §8.6), and a 205 none but
    /// 0 ([`SendError::BodyNotAllowed`], RFC 9110 §15.3.6).
    ///
    /// Callers that know the length (a buffered body) save formatting it and
    /// the connection reading it back.
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, EMPTY_HEADER, ResponseHead, StatusCode};
    ///
    /// let mut conn = Connection::server(Config::default());
    /// let mut fields = [EMPTY_HEADER; 4];
    /// conn.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut fields)?;
    /// let mut out = [0u8; 64];
    /// let head = ResponseHead::new(StatusCode::OK, &[]);
    /// let n = conn.send_response_sized(&head, 5, &mut out).unwrap();
    /// assert_eq!(&out[..n], b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
    /// # Ok::<(), lithe::proto::Error>(())
    /// ```
    pub fn send_response_sized(
        &mut self,
        head: &ResponseHead<'_, '_>,
        length: u64,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        self.send_dated_response(head, Some(length), None, out)
    }

    /// [`send_response`](Connection::send_response), or with `length`
    /// [`send_response_sized`](Connection::send_response_sized), with a
    /// `Date` field holding `date` after the head's own: an IMF-fixdate the
    /// caller formatted from its clock (the `io` server's), not from anything
    /// a peer or a service gave, so it is written without being checked.
    /// Every response a server writes carries one: checking it with the
    /// head's fields cost more than writing it. (The two public ones call
    /// this, without a date.)
    pub(crate) fn send_dated_response(
        &mut self,
        head: &ResponseHead<'_, '_>,
        length: Option<u64>,
        date: Option<&[u8; IMF_FIXDATE_LEN]>,
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        let unsolicited = self.states.server == State::Idle
            && self.states.allows(Role::Server, Transition::Unsolicited);
        if self.role != Role::Server || !(self.states.server == State::SendResponse || unsolicited)
        {
            return Err(SendError::InvalidState);
        }
        encode::validate_response(head)?;
        let mut fields = FramingFields::NONE;
        fields
            .read_sent(head.headers)
            .map_err(SendError::InvalidFraming)?;
        fields.check_sent_content_length(head.headers)?;
        fields.check_sent_transfer_encoding(head.headers)?;
        let status = head.status;
        let (method, peer_version) = if unsolicited {
            (RequestMethod::Other, head.version)
        } else {
            (self.request_method, self.request_version)
        };
        if method.forbids_framing_fields(status)
            && (length.is_some()
                || fields.content_length.is_some()
                || fields.transfer_coding != TransferCoding::Absent)
        {
            return Err(SendError::FramingNotAllowed);
        }
        let mut length = fields.take_given_length(length)?;
        if status.as_u16() == 205 && !method.forbids_framing_fields(status) {
            // RFC 9110 §15.3.6: a 205 carries no content. Framed as empty: a
            // client would otherwise read it as chunks, or to the close. (To
            // CONNECT it opens a tunnel, whose head may carry no length.)
            if fields.transfer_coding != TransferCoding::Absent
                || fields.content_length.is_some_and(|n| n > 0)
            {
                return Err(SendError::BodyNotAllowed);
            }
            if fields.content_length.is_none() {
                fields.content_length = Some(0);
                length = Some(0);
            }
        }
        // RFC 9112 §6.2: a sender MUST NOT send both. A recipient would follow
        // Transfer-Encoding, but a hop that follows Content-Length would split
        // the stream elsewhere: the desync for which a request with both is
        // refused on receipt.
        if fields.content_length.is_some() && fields.transfer_coding != TransferCoding::Absent {
            return Err(SendError::InvalidFraming(
                Error::ContentLengthWithTransferEncoding,
            ));
        }
        // `chunked` twice frames nothing (RFC 9112 §7): refused here, for
        // every response, as a head without a body (to HEAD, a 304) shows
        // the fields the message would have had.
        if fields.chunked_repeated {
            return Err(SendError::InvalidFraming(Error::ChunkedNotFinal));
        }
        // A sender of Upgrade names `upgrade` as a connection option too
        // (RFC 9110 §7.8): a 101's, a 426's, one that advertises a protocol.
        let added_lines = AddedFields {
            date,
            content_length: length,
            upgrade: fields.has_upgrade && !fields.connection_upgrade,
            ..AddedFields::default()
        };

        let switches = method
            .accepts_switch(status)
            .ok_or(SendError::InvalidState)?;
        if switches || status.is_informational() {
            let transition = if switches {
                Transition::SwitchAccepted
            } else {
                Transition::Informational
            };
            // RFC 9110 §15.2: no interim responses to HTTP/1.0 clients.
            if unsolicited
                || !self.states.allows(Role::Server, transition)
                || (peer_version == Version::Http10 && status.is_informational())
            {
                return Err(SendError::InvalidState);
            }
            if status.as_u16() == 101 && !fields.has_upgrade {
                return Err(SendError::MissingUpgrade);
            }
            // RFC 9110 §7.8: a 101 to a request that also expected `100
            // Continue` follows one; not sent yet, it goes first, here.
            let owed = status.as_u16() == 101 && self.continue_before_switch;
            let continue_first: &[u8] = if owed { CONTINUE_HEAD } else { b"" };
            let rest = out.get_mut(continue_first.len()..).unwrap_or_default();
            let written = encode::write_response(head, added_lines, rest)
                .map_err(|e| e.needing_more(continue_first.len()))?;
            out[..continue_first.len()].copy_from_slice(continue_first);
            let written = written + continue_first.len();
            // Only 100 answers the expectation (RFC 9110 §10.1.1): after a 103
            // the client still waits for it. A switch ends the exchange.
            if switches || status.as_u16() == 100 {
                self.expect_continue = false;
                self.continue_before_switch = false;
            }
            self.states
                .process(Role::Server, transition)
                .map_err(|_| SendError::InvalidState)?;
            return Ok(written);
        }
        // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
        if status.as_u16() == 426 && !fields.has_upgrade {
            return Err(SendError::MissingUpgrade);
        }

        let framing = response_body_length(&fields, head.version, status, method)
            .map_err(SendError::InvalidFraming)?;
        // Transfer-Encoding goes only to a request that said HTTP/1.1 (RFC
        // 9112 §6.1): not to an HTTP/1.0 one, nor to one never read.
        if fields.transfer_coding != TransferCoding::Absent
            && (peer_version == Version::Http10 || unsolicited)
        {
            return Err(SendError::InvalidFraming(Error::TransferEncodingInHttp10));
        }
        let mut added = added_lines;
        let writer = match framing.body {
            // Unknown length and no framing chosen: chunked where the peer can
            // read it. An answer to a request that failed to parse closes the
            // connection anyway, to a peer of unknown version: close-delimited.
            BodyLength::UntilClose
                if fields.transfer_coding == TransferCoding::Absent
                    && !unsolicited
                    && peer_version == Version::Http11
                    && head.version == Version::Http11 =>
            {
                added.chunked = true;
                BodyWriter::Chunked
            }
            // Its `Content-Length: 0` says that it has no content at all.
            _ if status.as_u16() == 205 => BodyWriter::Empty,
            // A declared 0 reads as no body, but sends as a length (see
            // `BodyWriter::for_body`), where a body could be.
            BodyLength::Empty
                if fields.content_length == Some(0)
                    && !self.request_method.response_has_no_body(status) =>
            {
                BodyWriter::Length(0)
            }
            body => BodyWriter::for_body(body),
        };
        // A final answer while the client still waits for 100 Continue: it may
        // send the body or skip it (RFC 9110 §10.1.1), and its next bytes
        // cannot tell which, so the connection cannot go on.
        let body_in_doubt = self.expect_continue
            && self.states.client == State::SendBody
            && self.body_left_to_receive() != Some(0);
        let keep_alive = !unsolicited
            && self.states.keep_alive
            && !body_in_doubt
            && fields.keep_alive(head.version)
            && writer != BodyWriter::UntilClose
            && !(framing.must_close && framing.body != BodyLength::UntilClose);
        added.close = !keep_alive && !fields.connection_close;
        added.keep_alive =
            keep_alive && peer_version == Version::Http10 && !fields.connection_keep_alive;
        let written = encode::write_response(head, added, out)?;

        self.states.keep_alive = keep_alive;
        self.expect_continue = false;
        self.body_writer = Some(writer);
        let transition = match unsolicited {
            true => Transition::Unsolicited,
            false => Transition::Response,
        };
        self.states
            .process(Role::Server, transition)
            .map_err(|_| SendError::InvalidState)?;
        Ok(written)
    }

    /// Accounts for `data` as the next piece of our body and returns the framing to
    /// write around it: write `frame.prefix`, `data`, then `frame.suffix` (one
    /// vectored write; the data is never copied).
    ///
    /// Errors if `data` is not empty and the message has no body, or if it
    /// would exceed the declared Content-Length; nothing is accounted then.
    /// Empty data is no chunk: its frame is [`DataFrame::BARE`].
    pub fn send_data(&mut self, data: &[u8]) -> Result<DataFrame, SendError> {
        if self.our_state() != State::SendBody {
            return Err(SendError::InvalidState);
        }
        let writer = self.body_writer.as_mut().ok_or(SendError::InvalidState)?;
        let frame = match writer {
            _ if data.is_empty() => DataFrame::BARE,
            BodyWriter::Empty => return Err(SendError::BodyNotAllowed),
            BodyWriter::Length(remaining) => {
                *remaining = remaining
                    .checked_sub(data.len() as u64)
                    .ok_or(SendError::BodyTooLong)?;
                DataFrame::BARE
            }
            BodyWriter::Chunked => DataFrame::chunk(data.len() as u64),
            BodyWriter::UntilClose => DataFrame::BARE,
        };
        if self.role == Role::Client && !data.is_empty() {
            // We stopped waiting for 100 Continue.
            self.expect_continue = false;
        }
        Ok(frame)
    }

    /// Ends our message: for a chunked body writes the last chunk and `trailers`
    /// into `out`; for others writes nothing and checks the declared length was
    /// met. Returns the bytes written. Trailers on a body that is not chunked
    /// are [`SendError::TrailersNotAllowed`], and fields that belong in the
    /// header section [`SendError::ForbiddenTrailer`]
    /// ([`is_header_section_only`](super::is_header_section_only)); nothing
    /// is written then.
    pub fn send_end(
        &mut self,
        trailers: &[Header<'_>],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        if self.our_state() != State::SendBody {
            return Err(SendError::InvalidState);
        }
        let writer = self.body_writer.ok_or(SendError::InvalidState)?;
        let written = match writer {
            BodyWriter::Chunked => {
                encode::validate_trailers(trailers)?;
                encode::write_last_chunk(trailers, out)?
            }
            _ if !trailers.is_empty() => return Err(SendError::TrailersNotAllowed),
            BodyWriter::Length(n) if n > 0 => return Err(SendError::BodyTooShort),
            _ => 0,
        };
        self.body_writer = None;
        let settled = self
            .states
            .process(self.role, Transition::EndOfMessage)
            .map_err(|_| SendError::InvalidState)?;
        self.after(settled);
        Ok(written)
    }

    /// Records that we close the connection. Closing in the middle of a message
    /// abandons it: our side goes to [`State::Error`]. After a protocol switch
    /// the connection is no longer HTTP's, and both sides stay
    /// [`State::SwitchedProtocol`].
    pub fn close(&mut self) {
        self.states.keep_alive = false;
        if self.our_state() == State::SwitchedProtocol {
            return;
        }
        if self
            .states
            .process(self.role, Transition::ConnectionClosed)
            .is_err()
        {
            self.states.fault(self.role);
        }
    }
}

impl<'b, 'h> RequestHead<'b, 'h> {
    /// Parses the request head at the start of `input` by every rule a
    /// server [`Connection`] with `config` applies to one (the same errors),
    /// without a connection: `Ok(Some((head, length)))` once the head is
    /// whole (its empty line included in `length`; empty lines before it
    /// are skipped and counted), `Ok(None)` while it is not. A head with
    /// more fields than `headers` holds is [`Error::TooManyHeaders`].
    ///
    /// One use: keeping a head a connection has received while its body
    /// streams through the rest of the same buffer, as a device with one
    /// buffer does. The connection's [`receive`](Connection::receive) says
    /// how long the head is; split the buffer there and parse the head
    /// again from its part, which the body's reads leave alone. The body's
    /// part must then hold a whole trailer section: with a buffer of `n`
    /// bytes, keep `max_head_bytes + max_trailer_bytes + 2` within `n`
    /// ([`Limits`](super::Limits) says why).
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, EMPTY_HEADER, Event, RequestHead};
    ///
    /// let mut buf = *b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Type: text/csv\r\nContent-Length: 4\r\n\r\nab";
    /// let mut conn = Connection::server(Config::default());
    /// let mut fields = [EMPTY_HEADER; 8];
    /// let head_length = conn.receive(&buf, &mut fields)?.consumed;
    ///
    /// let (head_part, body_part) = buf.split_at_mut(head_length);
    /// let mut kept = [EMPTY_HEADER; 8];
    /// let (head, _) = RequestHead::parse(head_part, &mut kept, &Config::default())?.unwrap();
    /// // The body streams through its own part, read into as it comes.
    /// let mut trailers = [EMPTY_HEADER; 1];
    /// let received = conn.receive(&body_part[..2], &mut trailers)?;
    /// assert_eq!(received.event, Event::Data(b"ab"));
    /// body_part[..2].copy_from_slice(b"cd");
    /// assert_eq!(head.header("content-type"), Some(&b"text/csv"[..]));
    /// # Ok::<(), lithe::proto::Error>(())
    /// ```
    pub fn parse(
        input: &'b [u8],
        headers: &'h mut [Header<'b>],
        config: &Config,
    ) -> Result<Option<(RequestHead<'b, 'h>, usize)>, Error> {
        let mut conn = Connection::server(*config);
        let received = conn.receive(input, headers)?;
        match received.event {
            Event::Request(head) => Ok(Some((head, received.consumed))),
            Event::HeadersFull => Err(Error::TooManyHeaders),
            _ => Ok(None),
        }
    }
}

/// Whether `input` is nothing but whole empty lines: CRLFs, or bare LFs where
/// [`Leniency::allow_bare_lf`](super::Leniency::allow_bare_lf) accepts them.
pub(crate) fn only_empty_lines(input: &[u8], bare_lf: bool) -> bool {
    empty_lines_len(input, bare_lf) == input.len()
}

/// How many bytes at the start of `input` are whole empty lines, as
/// [`only_empty_lines`] counts them (what a client may send between
/// requests, RFC 9112 §2.2).
pub(crate) fn empty_lines_len(input: &[u8], bare_lf: bool) -> usize {
    let mut at = 0;
    loop {
        match input[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [b'\n', ..] if bare_lf => at += 1,
            _ => return at,
        }
    }
}
