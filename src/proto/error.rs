//! Typed errors: what the peer sent wrong ([`Error`]) and what we were asked to send
//! wrong ([`SendError`]).
//!
//! Every variant of [`Error`] names the rule that broke and maps to the status a
//! server should answer with ([`Error::status`]) before it closes the connection.

use core::fmt;

use super::status::StatusCode;

/// A violation of HTTP/1.1 by the peer, found while receiving.
///
/// Once [`Connection::receive`](super::Connection::receive) returns an error the
/// connection is unusable for further messages: every later call returns the same
/// error, and the connection must be closed (a server may first send the response
/// [`Error::status`] names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The head (start line and header fields, and any empty lines before a
    /// request line) exceeds
    /// [`Limits::max_head_bytes`](super::Limits::max_head_bytes). 431.
    HeadTooLarge,
    /// More fields in a head or a trailer section than
    /// [`Limits::max_headers`](super::Limits::max_headers). 431.
    TooManyHeaders,
    /// The request-target exceeds
    /// [`Limits::max_request_target_bytes`](super::Limits::max_request_target_bytes),
    /// or the request line exceeds that limit plus 64 bytes (a method
    /// longer than the rest of the line leaves room for). 414, as nginx and
    /// Apache answer any request line too long.
    RequestTargetTooLong,
    /// A line ended in LF without the CR before it (RFC 9112 §2.2). In a head
    /// or a trailer section accepted with
    /// [`Leniency::allow_bare_lf`](super::Leniency::allow_bare_lf); in a
    /// chunk line never. (After a chunk's data, LF alone is
    /// [`MissingChunkDataCrlf`](Error::MissingChunkDataCrlf).) 400.
    BareLineFeed,
    /// A CR not followed by LF (RFC 9112 §2.2). 400.
    BareCarriageReturn,
    /// A header line starting with whitespace: obsolete line folding
    /// (RFC 9112 §5.2), rejected in requests and, unless allowed by
    /// [`Leniency::allow_obs_fold_in_responses`](super::Leniency::allow_obs_fold_in_responses),
    /// in responses. 400.
    ObsoleteLineFolding,
    /// The method is not a token (RFC 9110 §9.1), or the request line is malformed. 400.
    InvalidRequestLine,
    /// The request-target has a forbidden byte (bytes past ASCII pass only
    /// as UTF-8) or does not fit its method (RFC 9112 §3.2: authority-form
    /// with CONNECT and only there; origin- and absolute-form with any other
    /// method; asterisk-form only with OPTIONS), or names a port past 65535
    /// (or, in a CONNECT, port 0) or a bracketed host that is no IPv6
    /// address (`[1]`). 400.
    InvalidRequestTarget,
    /// The status line is malformed (RFC 9112 §4). 400.
    InvalidStatusLine,
    /// The version is not `HTTP/<digit>.<digit>`. 400.
    InvalidVersion,
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1. 505. (RFC
    /// 9110 §2.5 suggests reading a higher 1.x as 1.1; the parser underneath,
    /// httparse, refuses it, and no client sends one.)
    UnsupportedVersion,
    /// A header field name that is not a token, including whitespace between the
    /// name and its colon (RFC 9112 §5.1). 400.
    InvalidHeaderName,
    /// A header field value with a forbidden byte such as NUL, CR or LF
    /// (RFC 9110 §5.5). 400.
    InvalidHeaderValue,
    /// An HTTP/1.1 request without a Host header field (RFC 9112 §3.2). 400.
    MissingHost,
    /// A request with more than one Host header field (RFC 9112 §3.2). 400.
    DuplicateHost,
    /// A Host field that is not `host[:port]` (RFC 9112 §3.2, RFC 9110 §7.2),
    /// such as `a.example@b.example`, `a.example/x`, a port past 65535, or a
    /// bracketed host that is no IPv6 address (`[1]`, `[0::0::1]`). 400.
    InvalidHost,
    /// A Content-Length that is not plain decimal digits, or has more digits
    /// than [`MAX_CONTENT_LENGTH`](crate::proto::MAX_CONTENT_LENGTH) (19,
    /// leading zeros included; RFC 9110 §8.6). 400.
    InvalidContentLength,
    /// Several Content-Length values that differ (RFC 9112 §6.3, rule 5). 400.
    ConflictingContentLength,
    /// A request with both Transfer-Encoding and Content-Length: the classic
    /// request-smuggling vector (RFC 9112 §6.1, §6.3 rule 3). 400. Also what sending
    /// a message with both returns, requests and responses alike (§6.2: a sender
    /// MUST NOT); a received response with both is read by Transfer-Encoding and
    /// then closed, as §6.3 rule 3 allows.
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 message, whose recipients cannot rely on it
    /// (RFC 9112 §6.1). 400.
    TransferEncodingInHttp10,
    /// A request whose final transfer coding is not `chunked`, so its length cannot be
    /// determined (RFC 9112 §6.3, rule 4), or `chunked` applied more than once
    /// (RFC 9112 §6.1). 400.
    ChunkedNotFinal,
    /// A CONNECT request that declares content (a Content-Length above 0,
    /// or a Transfer-Encoding): it has none (RFC 9110 §9.3.6), and what
    /// follows its head belongs to the tunnel. 400.
    ContentInConnect,
    /// A malformed Transfer-Encoding list: an element that is not a token, a
    /// parameter that is not `token=token` (or any on `chunked`), a quoted
    /// string, no element at all; in a field we send, an empty element too.
    /// 400.
    InvalidTransferEncoding,
    /// A request transfer coding other than `chunked`, which this implementation
    /// does not decode (RFC 9112 §6.1). 501.
    UnsupportedTransferCoding,
    /// A body length above
    /// [`Limits::max_body_bytes`](super::Limits::max_body_bytes): declared,
    /// accumulated over chunks, or counted as a body read until close. 413.
    BodyTooLarge,
    /// A chunk-size that is not hexadecimal digits (RFC 9112 §7.1). 400.
    InvalidChunkSize,
    /// A chunk-size of more than 16 hexadecimal digits, the most a `u64`
    /// holds. Leading zeros count: the digits are bounded, not only the value
    /// (h11 and Go bound them too; hyper and nginx read any run of zeros). 400.
    ChunkSizeTooLarge,
    /// A chunk extension not in the form RFC 9112 §7.1.1 gives it (`;` then a
    /// token name, optionally `=` and a token or quoted string; whitespace
    /// only around `;` and `=`). 400.
    InvalidChunkExtension,
    /// Chunk extensions longer than
    /// [`Limits::max_chunk_extension_bytes`](super::Limits::max_chunk_extension_bytes)
    /// on one line or
    /// [`Limits::max_chunk_extension_bytes_per_body`](super::Limits::max_chunk_extension_bytes_per_body)
    /// over a body: framing sent in place of data (RFC 9112 §7.1.1 lets a
    /// recipient limit it). 400.
    ChunkExtensionsTooLong,
    /// Chunk data not followed by CRLF (RFC 9112 §7.1). 400.
    MissingChunkDataCrlf,
    /// The trailer fields exceed
    /// [`Limits::max_trailer_bytes`](super::Limits::max_trailer_bytes). 431.
    TrailersTooLarge,
    /// A malformed trailer field (RFC 9112 §7.1.2). 400.
    InvalidTrailer,
    /// The peer closed the connection in the middle of a message: a body cut short
    /// is an error, never a short success. 400.
    IncompleteMessage,
    /// A switch the request did not allow for: a 101 to a request that
    /// proposed no upgrade (or to CONNECT), a 101 that names no protocol
    /// (no Upgrade field), or a 101 or a CONNECT's 2xx before the request
    /// has been sent whole. (proto does not know which protocols the request
    /// offered: lithe's io client also gives this for a 101 naming one it did
    /// not offer; a caller of proto alone checks that itself.) 400.
    UnexpectedSwitch,
    /// The peer sent bytes where none may follow, such as a response that arrived
    /// before any request was sent. 400.
    UnexpectedData,
    /// More interim (1xx) responses to one request than
    /// [`Limits::max_interim_responses`](super::Limits::max_interim_responses).
    /// Client side only.
    TooManyInterimResponses,
}

impl Error {
    /// The status a server should answer with before closing the connection.
    ///
    /// ```
    /// use lithe::proto::{Error, StatusCode};
    /// assert_eq!(Error::HeadTooLarge.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    /// assert_eq!(Error::UnsupportedVersion.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);
    /// ```
    pub const fn status(self) -> StatusCode {
        match self {
            Error::HeadTooLarge | Error::TooManyHeaders | Error::TrailersTooLarge => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Error::RequestTargetTooLong => StatusCode::URI_TOO_LONG,
            Error::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Error::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            Error::BodyTooLarge => StatusCode::CONTENT_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether the message broke one of our [`Limits`](super::Limits) on
    /// what a peer may send, rather than HTTP/1.1 itself: a lower limit may
    /// be all it took.
    ///
    /// ```
    /// use lithe::proto::Error;
    /// assert!(Error::HeadTooLarge.is_limit());
    /// assert!(!Error::InvalidChunkSize.is_limit());
    /// ```
    pub const fn is_limit(self) -> bool {
        matches!(
            self,
            Error::HeadTooLarge
                | Error::TooManyHeaders
                | Error::RequestTargetTooLong
                | Error::TrailersTooLarge
                | Error::ChunkExtensionsTooLong
                | Error::BodyTooLarge
                | Error::TooManyInterimResponses
        )
    }

    /// A short description of the rule that broke.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::HeadTooLarge => "message head too large",
            Error::TooManyHeaders => "too many header fields",
            Error::RequestTargetTooLong => "request-target too long",
            Error::BareLineFeed => "line ending without CR",
            Error::BareCarriageReturn => "CR not followed by LF",
            Error::ObsoleteLineFolding => "obsolete line folding",
            Error::InvalidRequestLine => "invalid request line",
            Error::InvalidRequestTarget => "invalid request-target",
            Error::InvalidStatusLine => "invalid status line",
            Error::InvalidVersion => "invalid HTTP version",
            Error::UnsupportedVersion => "unsupported HTTP version (1.0 and 1.1 are supported)",
            Error::InvalidHeaderName => "invalid header field name",
            Error::InvalidHeaderValue => "invalid header field value",
            Error::MissingHost => "HTTP/1.1 request without Host",
            Error::DuplicateHost => "more than one Host header field",
            Error::InvalidHost => "Host is not a host and port",
            Error::InvalidContentLength => "invalid Content-Length",
            Error::ConflictingContentLength => "conflicting Content-Length values",
            Error::ContentLengthWithTransferEncoding => {
                "message with both Content-Length and Transfer-Encoding"
            }
            Error::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
            Error::ChunkedNotFinal => "chunked is not the final transfer coding, or repeated",
            Error::ContentInConnect => "CONNECT request with content",
            Error::InvalidTransferEncoding => "invalid Transfer-Encoding",
            Error::UnsupportedTransferCoding => "unsupported transfer coding (only chunked is)",
            Error::BodyTooLarge => "body too large",
            Error::InvalidChunkSize => "invalid chunk size",
            Error::ChunkSizeTooLarge => "chunk size too large",
            Error::InvalidChunkExtension => "invalid chunk extension",
            Error::ChunkExtensionsTooLong => "chunk extensions too long",
            Error::MissingChunkDataCrlf => "chunk data not followed by CRLF",
            Error::TrailersTooLarge => "trailer section too large",
            Error::InvalidTrailer => "invalid trailer field",
            Error::IncompleteMessage => "connection closed before the message was complete",
            Error::UnexpectedSwitch => "unexpected protocol switch",
            Error::UnexpectedData => "unexpected data from the peer",
            Error::TooManyInterimResponses => "too many interim (1xx) responses",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `core::error::Error`, so the error works with `?` into `Box<dyn Error>` with
/// or without `std`.
impl core::error::Error for Error {}

/// A misuse of the connection on our side: something we were asked to send that
/// HTTP/1.1 or the connection's state does not allow.
///
/// These never put bytes on the wire: when one is returned, nothing was written and
/// the connection's state is unchanged, so the caller may correct the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendError {
    /// The output buffer is too small; `needed` bytes would fit.
    BufferTooSmall {
        /// The number of bytes the serialized piece needs.
        needed: usize,
    },
    /// The call does not fit the connection's state: a request from a server,
    /// an interim response before a request arrived, a second final
    /// response, body data before a head, and so on.
    InvalidState,
    /// A header name that is not a token.
    InvalidHeaderName,
    /// A header value containing CR, LF, NUL or another control byte, which could
    /// inject a line break, or beginning or ending with a space or tab, which a
    /// recipient strips (RFC 9110 §5.5): it would not arrive as sent.
    InvalidHeaderValue,
    /// A method that is not a token.
    InvalidMethod,
    /// A request-target that is empty, contains whitespace, control bytes or
    /// bytes past ASCII (to be percent-encoded: `/caf%C3%A9`, not `/café`),
    /// or is not in a form its method takes (see
    /// [`TargetForm`](super::TargetForm): authority-form with CONNECT only,
    /// `*` with OPTIONS only, no fragment, no userinfo).
    InvalidRequestTarget,
    /// A reason phrase containing CR, LF or other control bytes, or bytes
    /// past ASCII (obs-text, which recipients may read as no reason at all).
    InvalidReasonPhrase,
    /// A status code past 599, which RFC 9110 §15 calls invalid (programs
    /// use 600 to 999 among themselves, for errors of their own; a client
    /// that receives one should treat it as a 5xx).
    /// [`StatusCode`](super::StatusCode) holds them, as received.
    InvalidStatus,
    /// An HTTP/1.1 request without a Host header field.
    MissingHost,
    /// A request whose target names an authority (absolute-form, or
    /// CONNECT's authority-form) with a Host field that names another: RFC
    /// 9112 §3.2 has the client send that authority as Host, and a hop
    /// routing on Host would send the request elsewhere than one routing on
    /// the target.
    HostMismatch,
    /// A head whose framing headers are contradictory or invalid (the same rules
    /// [`Error`] enforces on received messages), a Host that is not
    /// `host[:port]`, or a Content-Length that is not one field of digits
    /// alone: a recipient accepts a list of equal values, but a sender may
    /// not send one (RFC 9110 §8.6).
    InvalidFraming(Error),
    /// More body bytes than the declared Content-Length.
    BodyTooLong,
    /// The message ended with fewer body bytes than the declared Content-Length.
    BodyTooShort,
    /// A Content-Length or Transfer-Encoding field, or a length given apart,
    /// on a response that may not carry one: a 1xx, a 204, or a 2xx to CONNECT
    /// (RFC 9110 §8.6, RFC 9112 §6.1). A 304 or a HEAD response may state the
    /// length a GET would have had.
    FramingNotAllowed,
    /// Body bytes for a message that has no body (HEAD response, 204, 205, 304,
    /// or a request without Content-Length or Transfer-Encoding), or a head
    /// that declares some where none may be: a 205, a TRACE request (RFC
    /// 9110 §9.3.8). (Data after a 1xx is `InvalidState`: the
    /// final response is still owed.)
    BodyNotAllowed,
    /// Trailers on a message that is not chunked.
    TrailersNotAllowed,
    /// A trailer field that belongs in the header section only (RFC 9110
    /// §6.5.1): framing (Content-Length, Transfer-Encoding, Trailer), routing
    /// (Host, Max-Forwards), the connection (Connection, Keep-Alive,
    /// Proxy-Connection, Upgrade, TE, Expect), authentication (Authorization,
    /// Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate, Cookie,
    /// Set-Cookie), request modifiers (Range, the If-* conditionals, the
    /// Accept* fields), response controls (Cache-Control, Pragma, Location,
    /// Retry-After, Vary, Age, Expires, Date) or the content's format
    /// (Content-Type, Content-Encoding, Content-Range).
    ForbiddenTrailer,
    /// A `101 Switching Protocols` without an Upgrade field naming the
    /// protocol switched to, which RFC 9110 §15.2.2 requires, or a `426
    /// Upgrade Required` without one naming the protocol required (§15.5.22).
    MissingUpgrade,
    /// A head or trailer section larger than the sender serializes: `io`'s
    /// drivers take up to 16 MiB (`limit`), far past what any recipient
    /// accepts, rather than allocate without bound. (proto itself, writing
    /// into the caller's buffer, says [`BufferTooSmall`](Self::BufferTooSmall).)
    HeadTooLarge {
        /// The most bytes the sender serializes.
        limit: usize,
    },
}

impl SendError {
    /// The same error, a [`BufferTooSmall`](SendError::BufferTooSmall)
    /// counting `extra` more bytes: those the caller writes beside what was
    /// refused.
    pub(crate) fn needing_more(self, extra: usize) -> SendError {
        match self {
            SendError::BufferTooSmall { needed } => SendError::BufferTooSmall {
                needed: needed.saturating_add(extra),
            },
            other => other,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            SendError::InvalidState => f.write_str("not allowed in the connection's state"),
            SendError::InvalidHeaderName => f.write_str("invalid header name"),
            SendError::InvalidHeaderValue => f.write_str("invalid header value"),
            SendError::InvalidMethod => f.write_str("invalid method"),
            SendError::InvalidRequestTarget => f.write_str("invalid request-target"),
            SendError::InvalidReasonPhrase => f.write_str("invalid reason phrase"),
            SendError::InvalidStatus => f.write_str("status code past 599"),
            SendError::MissingHost => f.write_str("HTTP/1.1 request without Host"),
            SendError::HostMismatch => {
                f.write_str("Host does not name the authority of the request-target")
            }
            SendError::InvalidFraming(e) => write!(f, "invalid framing: {e}"),
            SendError::BodyTooLong => f.write_str("more body bytes than Content-Length"),
            SendError::BodyTooShort => f.write_str("fewer body bytes than Content-Length"),
            SendError::FramingNotAllowed => {
                f.write_str("Content-Length or Transfer-Encoding on a 1xx, 204 or tunnel")
            }
            SendError::BodyNotAllowed => f.write_str("this message has no body"),
            SendError::TrailersNotAllowed => f.write_str("trailers need chunked framing"),
            SendError::ForbiddenTrailer => {
                f.write_str("field in trailers that belongs in the header section")
            }
            SendError::MissingUpgrade => {
                f.write_str("101 or 426 response without an Upgrade field")
            }
            SendError::HeadTooLarge { limit } => {
                write!(f, "head larger than the {limit} bytes a message may send")
            }
        }
    }
}

impl core::error::Error for SendError {}
