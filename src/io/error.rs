//! The errors of the async layers: I/O, protocol violations by the peer, our own
//! misuse, timeouts and size limits, in one enum.

use core::fmt;
use std::io;

use crate::proto::{self, StatusCode};

/// Which timeout fired. (More may come: a match needs a wildcard arm.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// Opening the connection (DNS, TCP, TLS) took too long.
    Connect,
    /// A message head trickled in for longer than allowed (server, and
    /// client from a response head's first byte), or reading a response head
    /// made no progress for the read timeout once the request was sent
    /// (client).
    Head,
    /// A keep-alive connection stayed idle for longer than allowed.
    Idle,
    /// Body bytes did not arrive, or came too slowly (server: fewer than
    /// `min_progress_bytes` within the body timeout of waiting), for longer
    /// than allowed.
    Body,
    /// The peer stopped reading what we write, or read it too slowly (server:
    /// as for `Body`), for longer than allowed.
    Write,
    /// A whole exchange took longer than allowed (client:
    /// [`ClientConfig::total_timeout`](super::ClientConfig::total_timeout)).
    Total,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Timeout {
    fn as_str(self) -> &'static str {
        match self {
            Timeout::Connect => "connect timeout",
            Timeout::Head => "timed out reading a message head",
            Timeout::Idle => "idle keep-alive timeout",
            Timeout::Body => "timed out reading a message body",
            Timeout::Write => "timed out writing to the peer",
            Timeout::Total => "total exchange timeout",
        }
    }
}

/// An error of an async HTTP connection.
///
/// Its `Display` says what failed, the wrapped I/O or protocol error's
/// message included, so `{error}` alone is a complete report; `source()`
/// goes on from there to what that error wraps, so a report that walks the
/// chain (as `anyhow` prints one) names each cause once.
///
/// ```
/// use std::error::Error as _;
/// use std::io;
///
/// let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
/// let error = lithe::io::Error::Io(refused);
/// assert_eq!(error.to_string(), "I/O error: connection refused");
/// assert!(error.source().is_none());
/// assert!(!error.is_protocol());
///
/// let broken = lithe::io::Error::Protocol(lithe::proto::Error::InvalidChunkSize);
/// assert_eq!(broken.to_string(), "protocol error: invalid chunk size");
/// assert!(broken.is_protocol());
/// let refused = lithe::io::Error::Send(lithe::proto::SendError::InvalidHeaderValue);
/// assert_eq!(
///     refused.to_string(),
///     format!("cannot send: {}", lithe::proto::SendError::InvalidHeaderValue)
/// );
/// assert!(!refused.is_protocol());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed, or a response or request body stream the
    /// caller gave did. It stays an I/O error, even one holding a lithe error
    /// of another connection (a transport or stream that reads another lithe
    /// body, as a proxy's tunnel does): that failure is not this
    /// connection's peer's doing. It is the error as it came, or a copy of
    /// its kind and message where it is reported again: to a body read on
    /// after its read failed, or where the connection went on to close
    /// after a failed write (a refused request's answer, say). A TLS failure
    /// (a certificate refused, a handshake the peer broke) is one too, with
    /// rustls' error inside (`get_ref()`, then `downcast_ref::<rustls::Error>()`);
    /// where lithe says what the failure means (a plain HTTP server on an
    /// `https` URL), rustls' error is that error's `source()` instead. A peer
    /// closing during the handshake is an `UnexpectedEof` without one.
    Io(io::Error),
    /// The peer broke HTTP/1.1; the connection is unusable.
    Protocol(proto::Error),
    /// We were asked to send something HTTP/1.1 does not allow.
    Send(proto::SendError),
    /// A timeout fired.
    Timeout(Timeout),
    /// A body was longer than the limit given to collect it.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The connection moved on without this body: it was read after the response
    /// was sent, or the connection closed. (A body whose reading failed
    /// repeats that error instead.)
    BodyAbandoned,
    /// The connection cannot carry another request: the previous response was not
    /// read to its end, the server said it would close, or it has closed the
    /// connection (or sent bytes unasked) since, which a server can do before
    /// the first request on a fresh one too. Nothing of the request was
    /// sent: it may go on a fresh connection
    /// ([`ClientConnection::try_send`](super::ClientConnection::try_send)
    /// gives it back).
    NotReusable,
    /// The URL is not one this client can fetch.
    InvalidUrl(&'static str),
    /// The protocol switch did not happen: the response was not `101` (or `2xx`
    /// to `CONNECT`), or the connection closed first.
    NotUpgraded,
    /// A body asked for as text is not UTF-8 (the transport and the
    /// message are fine).
    NotUtf8(core::str::Utf8Error),
    /// A request that would go chunked (a body of unknown length, trailers, or
    /// its own `Transfer-Encoding: chunked`) on a connection whose last
    /// response was HTTP/1.0: that server may not read chunks, and would take
    /// them for requests (RFC 9112 §6.1). Nothing was sent: the request may go
    /// on a fresh connection
    /// ([`ClientConnection::try_send`](super::ClientConnection::try_send) gives
    /// it back), or with a known length on this one.
    ChunkedToHttp10,
}

impl Error {
    /// Whether `proto` refused what the peer sent: it broke HTTP/1.1, or one
    /// of the limits on what a peer may send
    /// ([`proto::Error::is_limit`](crate::proto::Error::is_limit) tells
    /// which). Not for I/O, timeouts, or a limit given to collect a body
    /// ([`Error::BodyTooLarge`]). A message the peer's close cut short counts
    /// here ([`proto::Error::IncompleteMessage`](crate::proto::Error::IncompleteMessage)),
    /// as does a request a TLS client cut short by leaving without
    /// `close_notify` (a server takes that as a close). The same cut seen by
    /// the transport first is an I/O error: a reset (`ConnectionReset`), or,
    /// on a client, a TLS server leaving mid-response without `close_notify`
    /// (`UnexpectedEof`).
    pub fn is_protocol(&self) -> bool {
        matches!(self, Error::Protocol(_))
    }

    /// Which of lithe's timeouts fired, if the error is one. (A timeout the
    /// operating system reports, as a connect's `ETIMEDOUT`, is an
    /// [`Error::Io`] of kind `TimedOut`.)
    ///
    /// ```
    /// use lithe::io::{Error, Timeout};
    /// assert_eq!(Error::Timeout(Timeout::Connect).timeout(), Some(Timeout::Connect));
    /// assert_eq!(Error::NotReusable.timeout(), None);
    /// assert_eq!(Timeout::Connect.to_string(), "connect timeout");
    /// ```
    pub fn timeout(&self) -> Option<Timeout> {
        match self {
            Error::Timeout(which) => Some(*which),
            _ => None,
        }
    }

    /// The status a server answers when reading its request's body failed
    /// with this error: a body past the limit given to collect it
    /// ([`BodyTooLarge`](Error::BodyTooLarge)) 413, one asked for as text
    /// that is not UTF-8 400, a body the client broke the status
    /// [`proto`](crate::proto::Error::status) names (400, 413, ...), one
    /// that stopped coming 408, anything else 500. (For a body the client
    /// broke or let stall, the server driver answers that 4xx itself,
    /// whatever the service answers, unless its answer has begun to go out:
    /// the service's own choice matters for the limits it sets, text that is
    /// not UTF-8 and failures of the transport.)
    ///
    /// ```
    /// use lithe::io::{Error, Incoming, Response};
    /// use lithe::proto::StatusCode;
    ///
    /// async fn greet(body: Incoming) -> Response {
    ///     match body.text(64).await {
    ///         Ok(name) => Response::new(StatusCode::OK).with_body(format!("Hello, {name}!")),
    ///         Err(error) => Response::new(error.status()),
    ///     }
    /// }
    ///
    /// assert_eq!(Error::BodyTooLarge { limit: 64 }.status(), StatusCode::CONTENT_TOO_LARGE);
    /// let broken = Error::Protocol(lithe::proto::Error::InvalidChunkSize);
    /// assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    /// let oversized = Error::Protocol(lithe::proto::Error::BodyTooLarge);
    /// assert_eq!(oversized.status(), StatusCode::CONTENT_TOO_LARGE);
    /// let not_text = std::str::from_utf8(b"\xff").unwrap_err();
    /// assert_eq!(Error::NotUtf8(not_text).status(), StatusCode::BAD_REQUEST);
    /// use lithe::io::Timeout;
    /// assert_eq!(Error::Timeout(Timeout::Body).status(), StatusCode::REQUEST_TIMEOUT);
    /// assert_eq!(Error::Timeout(Timeout::Write).status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    /// assert_eq!(Error::Io(reset).status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// # futures_lite::future::block_on(async {
    /// #     assert_eq!(greet(Incoming::empty()).await.status(), StatusCode::OK);
    /// # });
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BodyTooLarge { .. } => StatusCode::CONTENT_TOO_LARGE,
            Error::NotUtf8(_) => StatusCode::BAD_REQUEST,
            Error::Protocol(e) => e.status(),
            Error::Timeout(Timeout::Body | Timeout::Head) => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The same error again, for a reader asking again after it was reported
    /// (an I/O error keeps its kind and message, not its source).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            // The OS's own error code, where there is one, survives.
            Error::Io(e) => Error::Io(match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            }),
            Error::Protocol(e) => Error::Protocol(*e),
            Error::Send(e) => Error::Send(*e),
            Error::Timeout(t) => Error::Timeout(*t),
            Error::BodyTooLarge { limit } => Error::BodyTooLarge { limit: *limit },
            Error::BodyAbandoned => Error::BodyAbandoned,
            Error::NotReusable => Error::NotReusable,
            Error::InvalidUrl(why) => Error::InvalidUrl(why),
            Error::NotUpgraded => Error::NotUpgraded,
            Error::NotUtf8(e) => Error::NotUtf8(*e),
            Error::ChunkedToHttp10 => Error::ChunkedToHttp10,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Send(e) => write!(f, "cannot send: {e}"),
            Error::Timeout(t) => f.write_str(t.as_str()),
            Error::BodyTooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            Error::BodyAbandoned => f.write_str("body abandoned: the connection moved on"),
            // Worded for a fresh connection too, which a server can close
            // (or send bytes on unasked) before the first request goes out.
            Error::NotReusable => f.write_str(
                "the connection cannot carry a request (closed by the server, \
                 spent, or sent bytes unasked); nothing was sent",
            ),
            Error::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            Error::NotUpgraded => f.write_str("the connection did not switch protocols"),
            Error::NotUtf8(e) => write!(f, "body is not UTF-8: {e}"),
            Error::ChunkedToHttp10 => f.write_str(
                "a chunked request cannot go to a server that answered in HTTP/1.0; \
                 nothing was sent",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The wrapped error's own message is in ours already: its source is
        // the next cause (`proto`'s errors have none).
        match self {
            Error::Io(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

/// An I/O error, unless it carries one of ours: a lithe error that went
/// through `io::Error` (a body read as a `Stream` or `AsyncRead` reports
/// its errors so) comes back as itself, its kind kept. (The drivers do not
/// convert their transport's errors so: see [`Error::Io`].)
///
/// ```
/// use std::io;
/// use lithe::io::{Error, Timeout};
///
/// let through_io: io::Error = Error::Timeout(Timeout::Body).into();
/// assert_eq!(through_io.kind(), io::ErrorKind::TimedOut);
/// assert!(matches!(Error::from(through_io), Error::Timeout(Timeout::Body)));
///
/// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
/// assert!(matches!(Error::from(refused), Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused));
/// ```
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            let inner = e.into_inner().expect("checked above: a custom error");
            return *inner
                .downcast::<Error>()
                .expect("checked above: one of ours");
        }
        Error::Io(e)
    }
}

impl From<proto::Error> for Error {
    fn from(e: proto::Error) -> Self {
        Error::Protocol(e)
    }
}

impl From<proto::SendError> for Error {
    fn from(e: proto::SendError) -> Self {
        Error::Send(e)
    }
}

/// The error inside an `io::Error` of the kind that fits: `TimedOut` for a
/// timeout, `InvalidData` for what the peer sent or bytes that are not
/// UTF-8, `Other` for the rest; converted back, it is the same error. An
/// [`Error::Io`] is its `io::Error`, unless that holds a lithe error (another
/// connection's): then it stays wrapped, so that it comes back as the I/O
/// error it is, not as that other error.
///
/// ```
/// use std::io;
/// use lithe::io::Error;
/// let refused = Error::Protocol(lithe::proto::Error::InvalidChunkSize);
/// let as_io = io::Error::from(refused);
/// assert_eq!(as_io.kind(), io::ErrorKind::InvalidData);
/// assert!(matches!(Error::from(as_io), Error::Protocol(lithe::proto::Error::InvalidChunkSize)));
/// // A transport's own error comes back as it was: kind, text, source.
/// let reset = io::Error::new(io::ErrorKind::ConnectionReset, "gone");
/// let back = io::Error::from(Error::Io(reset));
/// assert_eq!((back.kind(), back.to_string()), (io::ErrorKind::ConnectionReset, "gone".into()));
/// assert!(back.get_ref().is_some_and(|inner| !inner.is::<Error>()));
/// ```
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) if io.get_ref().is_some_and(|inner| inner.is::<Error>()) => {
                io::Error::new(io.kind(), Error::Io(io))
            }
            Error::Io(e) => e,
            Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::NotUtf8(_) | Error::Protocol(_) => io::Error::new(io::ErrorKind::InvalidData, e),
            other => io::Error::other(other),
        }
    }
}
