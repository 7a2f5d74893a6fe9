//! The client side of a connection: send a [`Request`], read the [`Response`]
//! and stream its body.
//!
//! How an exchange goes is [`ClientConnection`]'s to say (private modules'
//! docs are not rendered).
//!
//! This file holds the connection and its exchange (the request head, the
//! wait for an answer, response heads); `upload` the request body on its
//! way out, `response_body` the [`ResponseBody`], `config` [`ClientConfig`].

use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::poll_fn;

use super::body::Body;
use super::buffer::{Deadline, Output, ReadBuf, Stall, closed_without_notify_as_end};
use super::byte_str::ByteStr;
use super::error::{Error, Timeout};
use super::field_value::FieldValue;
use super::headers::{Headers, field_spans};
use super::message::{Request, Response, is_interim};
use super::receive::{Span, Spans, parse_with_growing_fields, span};
use super::upgrade::offers_every_protocol;
use crate::proto::{self, Connection, Event, Header, RequestHead, State, StatusCode, Version};

mod config;
mod response_body;
mod upload;

pub use config::{ClientConfig, RESPONSE_HEAD_LIMIT};
pub use response_body::ResponseBody;
use upload::Upload;

/// Read buffers up to this size stay with a connection once its response is
/// read: the next response would otherwise cost an allocation each.
const IDLE_READ_KEPT: usize = 16 * 1024;

/// One HTTP/1.1 connection, client side, over any async byte stream.
///
/// A [`ClientConnection`] carries one request at a time. The response comes
/// back as soon as its head arrives, even while the request body still goes
/// out, and the rest of the request is sent as the response body is read
/// (full duplex). The response's body borrows the connection, so the next
/// request can only be sent once the body is dropped; the connection is
/// reusable ([`ClientConnection::is_reusable`]) if the body was read to its
/// end (which is also when the request is all sent; its last data is
/// enough when the end had come with it, by its declared length or as the
/// last chunk already read) and both sides keep the connection alive. A close the server made while it was idle is found when
/// the next request is sent, which is then refused unsent
/// ([`Error::NotReusable`]). A body cut short by the server is an error, never
/// a short success: one that ends at the close is an error too when the
/// server reset the connection (as a server that answers without reading the
/// whole upload and closes does), since a reset may discard what it had not
/// sent yet. Redirects are not followed: a 3xx comes back like any answer.
pub struct ClientConnection<T> {
    io: T,
    conn: Connection,
    buf: ReadBuf,
    out: Output,
    config: ClientConfig,
    read_stall: Stall,
    /// When the response head under way must be whole: set at its first byte.
    head_deadline: Option<Instant>,
    head_timer: Deadline,
    /// When the exchange under way must be over ([`ClientConfig::total_timeout`]).
    total_deadline: Option<Instant>,
    total_timer: Deadline,
    /// Something went wrong, or the request was abandoned: no reuse.
    broken: bool,
    /// A request has gone out on this connection.
    used: bool,
    /// The last response on this connection was HTTP/1.0: the server may
    /// not read a chunked request body (RFC 9112 §6.1), so none is sent,
    /// and sends no `100 Continue`, so none is waited for.
    server_http10: bool,
    /// The request body still going out: driven while the response head is
    /// awaited, then while its body is read (full duplex).
    upload: Option<Upload>,
    /// The response body ended before its end was reported: with its last
    /// declared byte (reported on the next poll), or while the request body
    /// was still going out (reported once the request is sent).
    response_ended: bool,
    /// A write found the connection reset by the server. A reset may discard
    /// what it had not sent yet, so a response body that ends at the close
    /// cannot be told whole once one came: its end is the reset's error.
    /// (Even when the server's FIN came first and the body was whole, if the
    /// client had not read that far: the socket cannot tell which.)
    reset_by_peer: bool,
    /// The trailer fields of the last response body read to its end.
    trailers: Option<Headers>,
    /// The Host field of requests that set none.
    host: Option<FieldValue>,
    /// The Upgrade values of the request under way, joined by commas: a
    /// 101 may switch only to one of them (RFC 9110 §7.8).
    offered_protocols: Option<Box<[u8]>>,
}

/// A received response head, split off the read buffer.
struct Head {
    status: StatusCode,
    reason: ByteStr,
    version: Version,
    headers: Headers,
}

/// What a read is for: the start of a response, or more of its body (read
/// in full-size pieces).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Head,
    Body,
}

/// What one attempt at parsing a response head found.
enum ResponseStep {
    Head(ResponseSpans),
    /// Not complete yet; the first `consumed` bytes are done with.
    NeedData {
        consumed: usize,
    },
    /// More fields than the header array held.
    ArrayFull,
}

/// Where the pieces of a parsed response head lie in the read buffer.
struct ResponseSpans {
    consumed: usize,
    status: StatusCode,
    reason: Span,
    version: Version,
    spans: Spans,
}

/// Parses a response head from `input`, its fields into `headers`.
fn parse_response<'b>(
    conn: &mut Connection,
    input: &'b [u8],
    headers: &mut [Header<'b>],
) -> Result<ResponseStep, Error> {
    let received = conn.receive(input, headers)?;
    let head = match received.event {
        Event::Response(head) => head,
        Event::NeedData => {
            return Ok(ResponseStep::NeedData {
                consumed: received.consumed,
            });
        }
        Event::HeadersFull => return Ok(ResponseStep::ArrayFull),
        _ => return Err(Error::Protocol(proto::Error::IncompleteMessage)),
    };
    Ok(ResponseStep::Head(ResponseSpans {
        consumed: received.consumed,
        status: head.status,
        reason: span(input, head.reason.as_bytes()),
        version: head.version,
        spans: field_spans(input, head.headers),
    }))
}

impl<T: AsyncRead + AsyncWrite + Unpin> ClientConnection<T> {
    /// A connection over `io`, an established byte stream (TCP, TLS, a pipe).
    pub fn new(io: T, config: ClientConfig) -> Self {
        ClientConnection {
            io,
            conn: Connection::client(config.proto),
            buf: ReadBuf::default(),
            out: Output::default(),
            config,
            read_stall: Stall::default(),
            head_deadline: None,
            head_timer: Deadline::default(),
            total_deadline: None,
            total_timer: Deadline::default(),
            broken: false,
            used: false,
            server_http10: false,
            upload: None,
            response_ended: false,
            reset_by_peer: false,
            trailers: None,
            host: None,
            offered_protocols: None,
        }
    }

    /// The same connection, giving requests sent without a Host field
    /// (HTTP/1.1 requires one) `authority` as theirs, as reqwest and aiohttp
    /// do; `rt::open` sets the URL's. A request whose
    /// target names its authority (`http://example.org/a`, sent to a proxy,
    /// or a `CONNECT`'s `example.org:443`) gets that one instead.
    ///
    /// ```
    /// use futures_lite::{AsyncReadExt, future};
    /// use lithe::io::{ClientConfig, ClientConnection, Request, duplex};
    /// let (client_end, mut server_end) = duplex(1024);
    /// let mut conn = ClientConnection::new(client_end, ClientConfig::default())
    ///     .with_host("example.com:8080");
    /// let mut head = [0u8; 64];
    /// future::block_on(future::or(
    ///     async {
    ///         let _ = conn.send(Request::new("GET", "/")).await;
    ///         unreachable!("nobody answers");
    ///     },
    ///     async {
    ///         let n = server_end.read(&mut head).await.unwrap();
    ///         assert!(head[..n].starts_with(b"GET / HTTP/1.1\r\nhost: example.com:8080\r\n"));
    ///     },
    /// ));
    /// ```
    #[must_use]
    pub fn with_host(mut self, authority: impl Into<String>) -> Self {
        // Copied, inline when short, as most authorities are: each request
        // that sets no Host takes a copy of its own.
        self.host = Some(FieldValue::from(authority.into().as_str()));
        self
    }

    /// Whether another request may be sent: the last response was read to its
    /// end, nothing arrived past it, and neither side said it would close. A
    /// close the server made without saying so is found when the next request
    /// is sent, which then returns [`Error::NotReusable`] with nothing sent.
    pub fn is_reusable(&self) -> bool {
        // Bytes past the end of the last response were sent unasked (a body on
        // a HEAD answer, more than a Content-Length): parsed as the next
        // response, they would answer the wrong request.
        !self.broken
            && self.upload.is_none()
            && self.buf.is_empty()
            && self.conn.is_keep_alive()
            && self.conn.our_state() == State::Idle
            && self.conn.their_state() == State::Idle
    }

    /// Whether a request can go out now, as far as can be known before
    /// sending it: `Ok` if so; [`Error::NotReusable`] if the connection is
    /// not reusable, including when the server has closed it while idle
    /// (found by a read that does not wait, which
    /// [`is_reusable`](Self::is_reusable) does not make); on a fresh
    /// connection, the error its read met (a TLS alert, a reset), as
    /// [`try_send`](Self::try_send) says. `Ok` is not about the request: one
    /// that would go chunked (of unknown length, or with trailers) is still
    /// refused unsent after an HTTP/1.0 answer ([`Error::ChunkedToHttp10`]).
    /// The server may still close the connection while the next request is
    /// on its way. For a caller that replaces a connection before sending
    /// rather than after a refusal, as hyper's `SendRequest::ready` serves:
    ///
    /// ```
    /// use lithe::io::{ClientConfig, ClientConnection, DuplexStream, duplex};
    /// # futures_lite::future::block_on(async {
    /// async fn send_on_a_live_one(conn: &mut ClientConnection<DuplexStream>) {
    ///     if conn.ready().await.is_err() {
    ///         // The server end is dropped here: a fresh connection instead.
    ///         let (_server_end, client_end) = duplex(1024);
    ///         *conn = ClientConnection::new(client_end, ClientConfig::default());
    ///     }
    ///     // conn.send(...) from here.
    /// }
    /// let (_server_end, client_end) = duplex(1024);
    /// let mut live = ClientConnection::new(client_end, ClientConfig::default());
    /// assert!(live.ready().await.is_ok());
    ///
    /// let (server_end, client_end) = duplex(1024);
    /// let mut conn = ClientConnection::new(client_end, ClientConfig::default());
    /// drop(server_end); // closed while idle
    /// assert!(conn.is_reusable(), "nothing read yet");
    /// assert!(conn.ready().await.is_err());
    /// send_on_a_live_one(&mut conn).await;
    /// # });
    /// ```
    pub async fn ready(&mut self) -> Result<(), Error> {
        if !self.is_reusable() {
            return Err(Error::NotReusable);
        }
        self.closed_while_idle()
    }

    /// Whether the server closed the connection since the last exchange, as
    /// servers do with connections idle too long, or sent bytes unasked: found
    /// by a read that does not wait, before any of the next request is
    /// written, so that the request can go on a fresh connection instead of
    /// failing (sent or not, the caller could not tell) on this one. The
    /// server may still close it later, while the request is on its way.
    ///
    /// A fresh connection is looked at too: one opened ahead of its first
    /// request (as a pool does) has been idle as well. There a read that
    /// fails says more than that the connection cannot be used (a TLS
    /// alert, a reset as the server refused it): that error is returned.
    fn closed_while_idle(&mut self) -> Result<(), Error> {
        match self.look_for_close_idle() {
            Ok(false) => Ok(()),
            Err(e) if !self.used => Err(Error::Io(e)),
            Ok(true) | Err(_) => Err(Error::NotReusable),
        }
    }

    /// [`look_for_close`](Self::look_for_close) on a connection that may
    /// idle: the transport watches with a waker of no task, which keeps
    /// none of the caller's (a waiting read's readiness is noted all the
    /// same, for the next look).
    fn look_for_close_idle(&mut self) -> std::io::Result<bool> {
        self.look_for_close(&mut Context::from_waker(Waker::noop()))
    }

    /// Reads once without waiting, on a connection with no exchange under
    /// way: whether the server closed it or sent bytes unasked, which make it
    /// unusable, or the error the read met. Otherwise the transport now
    /// watches for either.
    fn look_for_close(&mut self, cx: &mut Context<'_>) -> std::io::Result<bool> {
        // Between exchanges nothing can be cut short: a TLS server that
        // closed without its closure alert has closed, as over plain TCP.
        let read = self.buf.poll_fill_idle(&mut self.io, cx);
        let closed = match read.map(closed_without_notify_as_end) {
            Poll::Pending => Ok(false),
            Poll::Ready(Ok(0)) => {
                self.conn.receive_eof();
                Ok(true)
            }
            Poll::Ready(Ok(_)) => Ok(true),
            Poll::Ready(Err(e)) => Err(e),
        };
        self.broken |= !matches!(closed, Ok(false));
        closed
    }

    /// Ends the connection as a client should: closes our sending side,
    /// which over TLS first sends the closure alert (`close_notify`) that
    /// RFC 9112 §9.8 asks of a client before it closes; within the write
    /// timeout ([`Timeout::Write`] past it), what the server still sends
    /// meanwhile read and dropped. Dropping a connection closes
    /// its transport without that: over TLS the server sees it end
    /// unannounced (between requests nothing is cut short, every request
    /// being framed, but servers may log it as an error).
    ///
    /// ```
    /// use lithe::io::{ClientConfig, ClientConnection, duplex};
    /// use futures_lite::AsyncReadExt;
    /// # futures_lite::future::block_on(async {
    /// let (mut server_end, client_end) = duplex(1024);
    /// let conn = ClientConnection::new(client_end, ClientConfig::default());
    /// conn.close().await.unwrap();
    /// // The server reads the end of the stream.
    /// assert_eq!(server_end.read(&mut [0u8; 16]).await.unwrap(), 0);
    /// # });
    /// ```
    pub async fn close(mut self) -> Result<(), Error> {
        let deadline = self
            .config
            .write_timeout
            .and_then(|limit| Instant::now().checked_add(limit));
        let mut timer = Deadline::default();
        let io = &mut self.io;
        poll_fn(|cx| {
            if let Poll::Ready(closed) = Pin::new(&mut *io).poll_close(cx) {
                return Poll::Ready(closed.map_err(Error::Io));
            }
            // What the server still sends is read and dropped meanwhile: a
            // TLS server closing too writes its own closure alert, and waits
            // for it to be read before it reads ours, where the transport
            // has little room.
            drop_what_comes(io, cx);
            match deadline.is_some_and(|at| timer.poll_expired(cx, at)) {
                true => Poll::Ready(Err(Error::Timeout(Timeout::Write))),
                false => Poll::Pending,
            }
        })
        .await
    }

    /// The transport, to look at (its peer's address, a socket option, its
    /// TLS session): not to read or write, which would put bytes between
    /// this connection's.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The transport and the bytes read from it but not consumed: after a
    /// protocol switch, the start of the new protocol. Meant for after a
    /// switch (a 101, or a 2xx to CONNECT) or on a connection that
    /// [`is_reusable`](Self::is_reusable): elsewhere the transport may still
    /// carry the rest of an exchange (a response body left unread, an upload
    /// given up), and request bytes not yet written are dropped.
    pub fn into_parts(mut self) -> (T, Bytes) {
        let rest = self.buf.take_all();
        (self.io, rest)
    }

    /// Sends `request` and reads the response head. The body follows through the
    /// response's [`ResponseBody`].
    ///
    /// The response comes back as soon as its head arrives, even while the
    /// request body is still going out (a server that answers as it reads,
    /// such as an echo): the rest of the request is then sent as the response
    /// body is read, which ends only once the request is all sent. (An
    /// answer without a body, to HEAD, a 204, a 304 or a length of 0, has
    /// no body to carry the rest: it comes back once the request is all sent,
    /// or its sending has failed; a request body stream that waits for its
    /// next piece holds it back meanwhile.) An answer
    /// that refuses the body (an error status, or a redirect or the like that
    /// closes the connection) stops it instead, and the connection is not
    /// reused; a `2xx` never does. A `101` is taken only if it names
    /// protocols the request's Upgrade fields offered (RFC 9110 §7.8; one
    /// naming none or another is `Error::Protocol(UnexpectedSwitch)`), and
    /// only once the request has
    /// ended (proto's rule, stricter than h11, which holds the switch until
    /// then; sooner it is `Error::Protocol(UnexpectedSwitch)`), and comes
    /// back once the request is all written, so that the new protocol's
    /// first bytes follow it. If a write fails because the server
    /// answered without reading the body all (it reset the connection, or
    /// stopped reading until the write timed out), an answer already there
    /// (a 413, a redirect, a 200) is returned rather than the write's error,
    /// and an answer that came before is read on: only the connection is
    /// lost. (A write that times out while that answer's body still goes on
    /// is the body's error: see [`ResponseBody`].)
    ///
    /// A body of known length goes out with `Content-Length` (an empty one only
    /// on `POST`, `PUT` and `PATCH`), a stream of unknown length chunked,
    /// unless the request sets its own framing; an HTTP/1.0 request cannot
    /// carry a body of unknown length or trailers (`Error::Send`), nor can any
    /// request that would go chunked while the last response on this connection
    /// was HTTP/1.0 ([`Error::ChunkedToHttp10`], nothing sent).
    /// `Content-Length` fields that agree (`5, 5`, or `05` beside `5`) go out
    /// as one; fields that disagree fail with `Error::Send`, nothing sent. With
    /// `Expect: 100-continue` the body waits for `100 Continue` (or a 1xx
    /// of no known meaning, which counts as one; `102` and `103` do not),
    /// or [`ClientConfig::continue_timeout`]; a final response instead means the
    /// body is not sent and the connection is not reused, unless it is a 2xx
    /// (the server may read the body as it answers, RFC 9110 §10.1.1), which
    /// gets the body as it is read, as without the expectation (on a request
    /// without content the `100-continue` member is left out; an Expect list
    /// holding a quoted string is left out whole, as rewriting it could change
    /// it). Interim 1xx responses are skipped, except `101`, up to
    /// `Limits::max_interim_responses`
    /// (`Error::Protocol(TooManyInterimResponses)` past it). A request without
    /// Host gets the authority its target names, else the connection's
    /// ([`with_host`](ClientConnection::with_host)).
    ///
    /// A request refused as [`Error::NotReusable`] or
    /// [`Error::ChunkedToHttp10`] is dropped: to have it back (its body may
    /// be a stream, which can be read only once), send it with
    /// [`try_send`](Self::try_send). On a fresh connection a read that
    /// failed before anything was sent (a TLS alert, a reset) is returned
    /// as the `Error::Io` it is, the request unsent too.
    pub async fn send(
        &mut self,
        request: Request<Body>,
    ) -> Result<Response<ResponseBody<'_, T>>, Error> {
        self.can_carry(goes_chunked(&request)).await?;
        self.send_now(request).await
    }

    /// [`send`](Self::send), giving `request` back when the connection
    /// refused it with none of it sent ([`Error::NotReusable`],
    /// [`Error::ChunkedToHttp10`], or a fresh connection's failed read), so
    /// that it
    /// can go on a fresh connection, streamed body and all. Other errors
    /// come without it: some of it may have gone out, or (`Error::Send`) it
    /// cannot go out as it is.
    ///
    /// ```
    /// use lithe::io::{
    ///     Body, ClientConfig, ClientConnection, Error, Request, Response, ServerConfig,
    ///     duplex, serve_connection,
    /// };
    /// use lithe::proto::StatusCode;
    ///
    /// # futures_lite::future::block_on(async {
    /// let (client_end, server_end) = duplex(4096);
    /// let service = |_: Request| async {
    ///     Response::new(StatusCode::OK).with_header("connection", "close")
    /// };
    /// let config = ServerConfig::default();
    /// let client = async {
    ///     let mut conn = ClientConnection::new(client_end, ClientConfig::default())
    ///         .with_host("example.com");
    ///     conn.send(Request::new("GET", "/")).await.unwrap();
    ///     // The server said it would close: the upload is refused unsent.
    ///     let chunks = futures_lite::stream::iter([Ok(bytes::Bytes::from("data"))]);
    ///     let upload = Request::new("PUT", "/a").with_body(Body::stream(chunks));
    ///     let refused = conn.try_send(upload).await.unwrap_err();
    ///     assert!(matches!(refused.error(), Error::NotReusable));
    ///     let upload = refused.into_request().expect("nothing of it was sent");
    ///     assert_eq!(upload.method(), "PUT");
    /// };
    /// let server = async { serve_connection(server_end, service, &config).await.unwrap() };
    /// futures_lite::future::zip(client, server).await;
    /// # });
    /// ```
    pub async fn try_send(
        &mut self,
        request: Request<Body>,
    ) -> Result<Response<ResponseBody<'_, T>>, TrySendError> {
        if let Err(error) = self.can_carry(goes_chunked(&request)).await {
            return Err(TrySendError {
                error,
                request: Some(request),
            });
        }
        self.send_now(request).await.map_err(|error| TrySendError {
            error,
            request: None,
        })
    }

    /// Whether a request may go out now: [`is_reusable`](Self::is_reusable),
    /// the server has not closed the connection since, and it would not go
    /// chunked ([`goes_chunked`]) to a server that last answered in HTTP/1.0.
    async fn can_carry(&mut self, chunked: bool) -> Result<(), Error> {
        self.ready().await?;
        match self.server_http10 && chunked {
            // That server would take the chunks for requests (curl refuses
            // so too).
            true => Err(Error::ChunkedToHttp10),
            false => Ok(()),
        }
    }

    /// [`send`](Self::send), the connection found able to carry `request`.
    async fn send_now(
        &mut self,
        request: Request<Body>,
    ) -> Result<Response<ResponseBody<'_, T>>, Error> {
        self.response_ended = false;
        self.trailers = None;
        self.head_deadline = None;
        self.total_deadline = self
            .config
            .total_timeout
            .and_then(|limit| Instant::now().checked_add(limit));
        // A request without Host gets the authority its target names (an
        // absolute-form target, sent to a proxy, or a CONNECT's), as RFC 9112
        // §3.2 has it, else the connection's.
        let host = match request.headers().contains("host") {
            true => None,
            false => match request.host() {
                Some(named) => Some(FieldValue::from(named)),
                None => self.host.clone(),
            },
        };
        let (method, target, version, mut headers, body) = request.into_parts();
        let offered: Vec<&[u8]> = headers.get_all("upgrade").collect();
        self.offered_protocols =
            (!offered.is_empty()).then(|| offered.join(&b","[..]).into_boxed_slice());
        let kind = body.into_kind();
        let length = kind.len();
        let length_field = headers.contains("content-length");
        // No content, nothing to wait for: a client must not send the
        // expectation without it (RFC 9110 §10.1.1). An empty body says so,
        // or a `Content-Length: 0` field (a stream's length is not known;
        // one that yields bytes is refused as it goes).
        let no_content = length == Some(0)
            || (length_field
                && proto::framing::agreed_length(headers.get_all("content-length")) == Some(0));
        let is_continue = |e: &[u8]| e.eq_ignore_ascii_case(b"100-continue");
        if no_content && headers.elements("expect").any(is_continue) {
            // That member alone goes: another expectation is the caller's.
            // (A list with a quoted string, which a comma inside would split
            // here, is left out whole: rewritten, its value could change.)
            let others = headers
                .elements("expect")
                .filter(|e| !is_continue(e))
                .collect::<Vec<_>>();
            let quoted = others.iter().any(|e| e.contains(&b'"'));
            let others = (!others.is_empty() && !quoted).then(|| others.join(&b", "[..]));
            headers.remove("expect");
            if let Some(others) = others {
                headers.append("expect", others);
            }
        }
        if length_field {
            headers.canonicalize_content_length();
        }
        let coding_field = headers.contains("transfer-encoding");
        let kind = match coding_field {
            true => kind.chunked_keeping_length(),
            false => kind,
        };
        let (content_length, chunked) = match length {
            _ if coding_field => (None, None),
            // Given apart even beside the caller's field, so that proto
            // refuses a field the body disagrees with before anything is
            // sent, not midway through the body.
            Some(n) if length_field => (Some(n), None),
            _ if length_field => (None, None),
            Some(0) if !matches!(&*method, "POST" | "PUT" | "PATCH") => (None, None),
            Some(n) => (Some(n), None),
            None => (
                None,
                Some(Header {
                    name: "transfer-encoding",
                    value: b"chunked",
                }),
            ),
        };
        // First, as RFC 9110 §7.2 asks of a user agent (curl and aiohttp
        // send it so).
        let host = host.as_ref().map(|value| Header {
            name: "host",
            value,
        });
        let (conn, out) = (&mut self.conn, &mut self.out);
        headers.with_proto(host, chunked, |fields| {
            let head = RequestHead {
                method: &method,
                target: &target,
                version,
                headers: fields,
            };
            out.serialize(|b| match content_length {
                Some(n) => conn.send_request_sized(&head, n, b),
                None => conn.send_request(&head, b),
            })
        })?;
        // Only now: a request refused before (`Error::Send`) has not gone out.
        self.used = true;

        let went_chunked = chunked.is_some() || coding_field;
        let mut early = None;
        // A server that answered in HTTP/1.0 on this connection sends no
        // `100 Continue` (it cannot know the expectation, and RFC 9110 §15.2
        // forbids a 1xx to an HTTP/1.0 client): the body goes at once, as
        // curl sends it, not after the continue timeout (or never, with none).
        if self.conn.we_are_waiting_for_100_continue() && !self.server_http10 {
            early = match self.await_continue().await {
                Ok(early) => early,
                // The head could not be written whole: as without the
                // expectation (below).
                Err(e) => Some(self.answer_despite(e).await?),
            };
        }
        let head = match early {
            // A 2xx without 100 Continue: the server may read the body as it
            // answers (hyper's server answers an echo this way, and adds
            // `Connection: close` when our request asked for it), so the body
            // goes out as after the continue timeout, as the response body is
            // read, as it does after a 2xx without the expectation, closing
            // after or not (`answer`). Not after a failed write: nothing more
            // goes out.
            Some(head) if head.status.is_success() && !self.out.has_failed() => {
                self.upload = Some(Upload::new(kind, self.conn.body_left_to_send()));
                head
            }
            Some(head) => {
                // Answered before the body was asked for: it is never sent, so
                // this connection cannot carry another request.
                self.broken = true;
                head
            }
            None => {
                self.upload = Some(Upload::new(kind, self.conn.body_left_to_send()));
                match self.answer().await {
                    Ok(head) => head,
                    Err(e) => self.answer_despite(e).await?,
                }
            }
        };
        // An answer is progress: a write of the body blocked before it gets
        // its whole timeout again, however long the caller pauses before
        // reading the response body (which is what drives the upload on).
        self.out.restart_stall();
        let Head {
            status,
            reason,
            version,
            headers,
        } = head;
        self.server_http10 = version == Version::Http10;
        if self.server_http10 && went_chunked {
            // It may not read chunks (RFC 9112 §6.1): how much of the body it
            // took for requests cannot be known, so the connection carries
            // nothing more, and what is left of the body is not sent.
            self.upload = None;
            self.broken = true;
        }
        // A body empty by its framing (HEAD, 204, 304, Content-Length: 0) ends
        // with the head, so a response dropped unread leaves the connection
        // reusable; proto ends it without input. (Unless the request body is
        // still going out: that end waits for it, as the body is read.)
        let empty = matches!(
            self.conn.incoming_body(),
            Some(proto::BodyLength::Empty | proto::BodyLength::Length(0))
        ) && self.conn.their_state() == State::SendBody;
        if empty && self.upload.is_some() {
            // No body to stream back: the request is finished first, as it
            // would be had the answer come after it.
            if let Err(e) = self.finish_upload(true).await {
                self.upload_failed_after_answer(e, true)?;
            }
        }
        let done = empty
            && match poll_fn(|cx| Poll::Ready(self.poll_body_chunk(cx))).await {
                Poll::Ready(None) => true,
                Poll::Ready(Some(Err(e))) => return Err(e),
                Poll::Ready(Some(Ok(_))) | Poll::Pending => false,
            };
        Ok(Response::received(
            status,
            reason,
            version,
            headers,
            ResponseBody::new(self, done),
        ))
    }

    /// Sends the head and waits for `100 Continue`, a final response
    /// (returned) or the timeout.
    async fn await_continue(&mut self) -> Result<Option<Head>, Error> {
        // What the server sends is read while the head goes out: one that
        // writes before it reads (a TLS server its session tickets) would
        // otherwise wait on us as we wait on it, over a transport with little
        // room. The wait is counted from when the head has gone out; a
        // timeout past what the clock can count is none, as a long one would
        // be.
        let (mut head_out, mut deadline) = (false, None);
        let mut continue_timer = Deadline::default();
        loop {
            // The continue timeout bounds this wait, however it compares with
            // the read timeout: the server may be waiting for the body.
            let head = poll_fn(|cx| {
                if !head_out {
                    match self.poll_send(cx, &[], &[]) {
                        Poll::Ready(Ok(())) => {
                            head_out = true;
                            deadline = Instant::now().checked_add(self.config.continue_timeout);
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => {}
                    }
                }
                match self.poll_head_within(cx, false) {
                    Poll::Ready(result) => Poll::Ready(result.map(Some)),
                    Poll::Pending
                        if deadline.is_some_and(|at| continue_timer.poll_expired(cx, at)) =>
                    {
                        Poll::Ready(Ok(None))
                    }
                    Poll::Pending => Poll::Pending,
                }
            })
            .await
            .inspect_err(|_| self.broken = true)?;
            match head {
                None => return Ok(None),
                // A 100, or a 1xx proto counts as one (of no known meaning).
                Some(head)
                    if is_interim(head.status) && !self.conn.we_are_waiting_for_100_continue() =>
                {
                    return Ok(None);
                }
                Some(head) if is_interim(head.status) => continue,
                Some(head) => return Ok(Some(head)),
            }
        }
    }

    /// Sends the request body while waiting for the response head, and
    /// returns the head as soon as it arrives: the body goes on as the
    /// response body is read (full duplex, as an echo or a transcoding server
    /// needs), unless the answer refuses it (an error status, or a non-2xx
    /// answer that closes the connection), which stops it and leaves the
    /// connection unusable. A switch comes only after the request's end,
    /// which goes out first. Interim responses are skipped. Reads have no
    /// timeout while the body goes out (its writes have theirs); once it is
    /// sent, the read timeout runs from there.
    async fn answer(&mut self) -> Result<Head, Error> {
        loop {
            let head = poll_fn(|cx| {
                if let Poll::Ready(Err(e)) = self.poll_upload(cx) {
                    return Poll::Ready(Err(e));
                }
                self.poll_head_within(cx, self.upload.is_none())
            })
            .await?;
            if is_interim(head.status) {
                continue;
            }
            let code = head.status.as_u16();
            // A 2xx leaves the body going (the server may be reading it as it
            // answers, closing after or not); an error status refuses it, as
            // does a redirect or the like that closes the connection.
            let refused = code >= 400 || (code >= 300 && !self.conn.is_keep_alive());
            if code == 101 {
                // Before the request's end goes out to a peer that switched
                // to something else (a write that could wait out its timeout).
                self.refuse_an_unoffered_switch(&head)?;
                // proto takes a 101 only once the request has ended (sooner is
                // `UnexpectedSwitch`), so what is left is its end, queued: it
                // goes out before the caller writes the new protocol's first
                // bytes, which would otherwise land in the request body.
                self.finish_upload(false)
                    .await
                    .inspect_err(|_| self.broken = true)?;
            }
            if self.upload.is_some() && refused {
                self.upload = None;
                self.broken = true;
            }
            return Ok(head);
        }
    }

    /// proto takes a 101 only to a request that offered a protocol, and only
    /// one naming a protocol: the one named must be among those offered, or
    /// what follows may be anything (RFC 9110 §7.8). One that is not ends
    /// the exchange and the connection. Checked where a final answer is
    /// read: `answer`, and `answer_despite` after a failed write (none comes
    /// while the body waits for `100 Continue`: proto refuses a switch before
    /// the request's end).
    fn refuse_an_unoffered_switch(&mut self, head: &Head) -> Result<(), Error> {
        if head.status == StatusCode::SWITCHING_PROTOCOLS
            && !offers_every_protocol(self.offered_protocols.as_deref(), &head.headers)
        {
            self.broken = true;
            self.upload = None;
            return Err(Error::Protocol(proto::Error::UnexpectedSwitch));
        }
        Ok(())
    }

    /// The exchange failed with `error` before its answer was read: the
    /// connection is lost, but if a write failed, the answer may be there.
    /// A server that answers without reading the body and closes makes its
    /// kernel reset the connection, which fails our next write (one that
    /// stops reading without closing makes it time out); its answer (a 413, a
    /// redirect, a 200) may have arrived first, and says more than the
    /// failure. (Not after a failure of the body's own stream, or of a read.)
    async fn answer_despite(&mut self, error: Error) -> Result<Head, Error> {
        self.broken = true;
        self.upload = None;
        self.note_reset(&error);
        match self.out.has_failed() {
            true => {
                let head = self.answer_already_here().await.ok_or(error)?;
                self.refuse_an_unoffered_switch(&head)?;
                Ok(head)
            }
            false => Err(error),
        }
    }

    /// The answer, if it can be read without waiting: after a failed write,
    /// what the server sent before it closed (a refusal such as a 413, a
    /// redirect, or an answer given without reading the body).
    async fn answer_already_here(&mut self) -> Option<Head> {
        poll_fn(|cx| {
            Poll::Ready(loop {
                match self.poll_head_within(cx, false) {
                    Poll::Ready(Ok(head)) if is_interim(head.status) => {}
                    Poll::Ready(Ok(head)) => break Some(head),
                    Poll::Ready(Err(_)) | Poll::Pending => break None,
                }
            })
        })
        .await
    }

    /// The request body could not be sent to its end after the answer
    /// arrived. If the transport failed because the server is gone (it reset
    /// the connection, having answered without reading it all), or once the
    /// response has ended (a write timeout on a server that answered and
    /// stopped reading), the answer stands: the response body is read on for
    /// as long as the connection gives it, and only the connection is lost.
    /// A write timeout while the response still goes on is the error (both
    /// sides would wait on each other), as is a failure of the body's own
    /// stream.
    fn upload_failed_after_answer(
        &mut self,
        error: Error,
        response_ended: bool,
    ) -> Result<(), Error> {
        self.broken = true;
        let peer_gone = self.note_reset(&error);
        match self.out.has_failed() && (peer_gone || response_ended) {
            true => Ok(()),
            false => Err(error),
        }
    }

    /// Whether a write failed with `error` because the server is gone (it
    /// reset the connection, having answered without reading it all); if so,
    /// remembered ([`reset_by_peer`](Self::reset_by_peer)).
    fn note_reset(&mut self, error: &Error) -> bool {
        let gone = self.out.has_failed()
            && matches!(error, Error::Io(e) if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ));
        self.reset_by_peer |= gone;
        gone
    }

    /// Writes what is pending, then `data` and `suffix`, bounded by the write
    /// timeout.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        suffix: &[u8],
    ) -> Poll<Result<(), Error>> {
        // Any byte is progress: a client chose its server.
        let sent =
            self.out
                .poll_send_within(&mut self.io, cx, data, suffix, self.config.write_timeout, 1);
        self.within_total(cx, sent)
    }

    /// `step`, unless it waits past the exchange's total timeout: then that
    /// error.
    fn within_total<R>(
        &mut self,
        cx: &mut Context<'_>,
        step: Poll<Result<R, Error>>,
    ) -> Poll<Result<R, Error>> {
        match step {
            Poll::Pending if self.total_expired(cx) => {
                Poll::Ready(Err(Error::Timeout(Timeout::Total)))
            }
            step => step,
        }
    }

    /// Whether the exchange under way has run past its
    /// [`total_timeout`](ClientConfig::total_timeout), looked at without a
    /// timer: for the steps that do not wait.
    fn total_passed(&self) -> bool {
        self.total_deadline.is_some_and(|at| Instant::now() >= at)
    }

    /// [`total_passed`](Self::total_passed) for a step about to wait: if not
    /// passed, the task is woken when it does.
    fn total_expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.total_deadline
            .is_some_and(|at| self.total_timer.poll_expired(cx, at))
    }

    /// The exchange is over: its total's timer goes, rather than wake the
    /// task for nothing later. (One that fails keeps it until the connection
    /// goes, as it is not reused: one wake for nothing at most.)
    fn end_total(&mut self) {
        self.total_deadline = None;
        self.total_timer = Deadline::default();
    }

    /// The exchange's reads are over: their timers go, with the waker they
    /// hold, rather than wait with the connection for its next exchange.
    fn end_read_timers(&mut self) {
        self.head_deadline = None;
        self.head_timer = Deadline::default();
        self.read_stall = Stall::default();
    }

    fn poll_head_within(&mut self, cx: &mut Context<'_>, timed: bool) -> Poll<Result<Head, Error>> {
        loop {
            if let Some(head) = self.try_parse_head()? {
                // Each head is bounded on its own: after a `100 Continue` the
                // body goes out and the server reads it, and after an Early
                // Hints it may work a while before the final head.
                self.head_deadline = None;
                return Poll::Ready(Ok(head));
            }
            if self.head_deadline.is_none() && !self.buf.is_empty() {
                // The head has begun: it has the head timeout to be whole.
                self.head_deadline = self
                    .config
                    .head_timeout
                    .and_then(|limit| Instant::now().checked_add(limit));
            }
            match self.poll_read(cx, Awaiting::Head, timed) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn try_parse_head(&mut self) -> Result<Option<Head>, Error> {
        let input = self.buf.filled();
        let limit = self.config.proto.limits.max_headers;
        let conn = &mut self.conn;
        let found = parse_with_growing_fields(input, limit, |fields| {
            match parse_response(conn, input, fields) {
                Ok(ResponseStep::ArrayFull) => None,
                step => Some(step),
            }
        });
        let step = found.unwrap_or(Ok(ResponseStep::ArrayFull))?;
        let ResponseSpans {
            consumed,
            status,
            reason,
            version,
            spans,
        } = match step {
            ResponseStep::Head(spans) => spans,
            ResponseStep::NeedData { consumed } => {
                self.buf.advance(consumed);
                return Ok(None);
            }
            // Cannot follow an array as long as the limit or the input allows
            // (proto refuses the head itself); answered as that refusal.
            ResponseStep::ArrayFull => {
                return Err(Error::Protocol(proto::Error::TooManyHeaders));
            }
        };
        // proto borrows its input, so a fold its leniency let through comes
        // with its line break; this buffer is ours to unfold in place.
        if self.config.proto.leniency.allow_obs_fold_in_responses {
            self.buf.unfold(spans.iter().map(|&(_, value)| value));
        }
        let head = self.buf.split(consumed);
        Ok(Some(Head {
            status,
            reason: ByteStr::from_span(&head, reason),
            version,
            headers: Headers::from_spans(head, spans),
        }))
    }

    /// Reads more bytes, bounded by the read timeout; the end of the stream is
    /// recorded for `proto`.
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        awaiting: Awaiting,
        timed: bool,
    ) -> Poll<Result<(), Error>> {
        let read = if awaiting == Awaiting::Head && self.buf.is_empty() {
            // The start of a response: read through the thread's scratch and
            // keep what arrived, instead of zeroing a full-size read buffer
            // for a response that is usually small.
            self.buf.poll_fill_idle(&mut self.io, cx)
        } else {
            self.buf.poll_fill(&mut self.io, cx)
        };
        if read.is_ready() {
            self.read_stall.progress();
        }
        match read {
            Poll::Ready(Ok(0))
                if self.reset_by_peer
                    && self.conn.their_state() == State::SendBody
                    && self.conn.incoming_body() == Some(proto::BodyLength::UntilClose) =>
            {
                // The end of this body is the reset, which may have cut it.
                Poll::Ready(Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "the server reset the connection: a body that ends at the close may be cut short",
                ))))
            }
            Poll::Ready(Ok(0)) => {
                self.conn.receive_eof();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(_)) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(Error::Io(e))),
            Poll::Pending if self.total_expired(cx) => {
                Poll::Ready(Err(Error::Timeout(Timeout::Total)))
            }
            Poll::Pending
                if awaiting == Awaiting::Head
                    && self
                        .head_deadline
                        .is_some_and(|at| self.head_timer.poll_expired(cx, at)) =>
            {
                Poll::Ready(Err(Error::Timeout(Timeout::Head)))
            }
            Poll::Pending
                if timed && self.read_stall.poll_stalled(cx, self.config.read_timeout) =>
            {
                let which = match awaiting {
                    Awaiting::Head => Timeout::Head,
                    Awaiting::Body => Timeout::Body,
                };
                Poll::Ready(Err(Error::Timeout(which)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> core::fmt::Debug for ClientConnection<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientConnection")
            .field("conn", &self.conn)
            .finish()
    }
}

/// Whether `request` goes out chunked, as proto frames a request it sends:
/// under a lone `Transfer-Encoding: chunked` (one field, one coding), or for
/// a body of unknown length without either framing field. Any other
/// Transfer-Encoding (another coding, `chunked` twice, an empty element), one
/// beside a Content-Length, an HTTP/1.0 request that would go chunked and a
/// TRACE or CONNECT with content are `Error::Send` on any connection.
fn goes_chunked(request: &Request<Body>) -> bool {
    let headers = request.headers();
    if request.version() != Version::Http11
        || headers.contains("content-length")
        || matches!(request.method(), "TRACE" | "CONNECT")
    {
        return false;
    }
    let mut codings = headers.get_all("transfer-encoding");
    match codings.next() {
        Some(coding) => coding.eq_ignore_ascii_case(b"chunked") && codings.next().is_none(),
        None => request.body().len().is_none(),
    }
}

/// Reads and drops what `io` has to give, up to 64 KiB at a time (then the
/// task is woken to go on, letting others run first), until a read waits,
/// ends or fails.
fn drop_what_comes<T: AsyncRead + Unpin>(io: &mut T, cx: &mut Context<'_>) {
    let mut scratch = [0u8; 1024];
    for _ in 0..64 {
        match Pin::new(&mut *io).poll_read(cx, &mut scratch) {
            Poll::Ready(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
    cx.waker().wake_by_ref();
}

/// The error of [`ClientConnection::try_send`]: what failed, and the request
/// when none of it was sent. `Send` and `Sync`, as the request is, so it
/// boxes as `dyn Error + Send + Sync` (`anyhow`) with the request in it;
/// [`into_error`](Self::into_error), or `?` where lithe's [`Error`] is
/// returned, drops the request instead.
#[derive(Debug)]
pub struct TrySendError {
    error: Error,
    request: Option<Request<Body>>,
}

impl TrySendError {
    /// What failed.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// Takes the request out, if none of it was sent ([`Error::NotReusable`],
    /// [`Error::ChunkedToHttp10`], or a fresh connection's failed read): it
    /// may go on another connection as it is. The error stays.
    pub fn take_request(&mut self) -> Option<Request<Body>> {
        self.request.take()
    }

    /// The request, if none of it was sent, the error dropped.
    pub fn into_request(self) -> Option<Request<Body>> {
        self.request
    }

    /// What failed, the request dropped.
    pub fn into_error(self) -> Error {
        self.error
    }
}

impl core::fmt::Display for TrySendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.error, f)
    }
}

/// The request's error's message is this one's: its source is what that
/// error wraps, as [`Error`]'s own.
impl std::error::Error for TrySendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

impl From<TrySendError> for Error {
    fn from(e: TrySendError) -> Self {
        e.error
    }
}
