//! Owned messages: [`Request`] and [`Response`], made of [`Headers`] and
//! [`ByteStr`] strings (each in a module of its own).
//!
//! A received head is kept as one shared [`Bytes`](bytes::Bytes) buffer; the
//! method, target, names and values are slices of it, so building a [`Request`]
//! copies nothing.

use core::fmt;

use super::body::{Body, Incoming};
use super::byte_str::{ByteStr, Method};
use super::field_value::FieldValue;
use super::headers::Headers;
use super::receive::Span;
use super::upgrade::OnUpgrade;
use crate::proto::{StatusCode, TargetForm, Version};

/// Whether a response with `status` is interim, one before the final
/// response (1xx, but `101`, which switches protocols, is final).
pub(crate) fn is_interim(status: StatusCode) -> bool {
    status.is_informational() && status.as_u16() != 101
}

/// An HTTP request: what a server's service receives (`B` = [`Incoming`]) or what
/// a client sends (`B` = [`Body`]). The client's address is the
/// connection's, not the request's: `rt::Server::bind_per_connection` hands
/// it to the service it makes for that connection.
///
/// ```
/// use lithe::io::Request;
/// let req = Request::new("GET", "/hello").with_header("Host", "example.com");
/// assert_eq!(req.method(), "GET");
/// assert_eq!(req.headers().get_str("host"), Some("example.com"));
/// ```
pub struct Request<B = Incoming> {
    method: Method,
    target: Target,
    version: Version,
    headers: Headers,
    body: B,
    upgrade: Option<OnUpgrade>,
}

/// A request's target: given by whoever built the request, or, in a received
/// one, a span of the head its headers keep (which spares the request a
/// reference to the head of its own).
#[derive(Debug)]
enum Target {
    Given(ByteStr),
    Received(Span),
}

impl<B: fmt::Debug> fmt::Debug for Request<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("target", &self.target())
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("upgrade", &self.upgrade)
            .finish()
    }
}

impl Request<Body> {
    /// An HTTP/1.1 request to send, with no headers and an empty body.
    ///
    /// Neither part is checked here: a method that is not a token or a
    /// target no form takes fails the send (`Error::Send` with
    /// [`InvalidMethod`](crate::proto::SendError::InvalidMethod) or
    /// [`InvalidRequestTarget`](crate::proto::SendError::InvalidRequestTarget)),
    /// with nothing sent. A target that is not `'static` comes as a `String`
    /// (or `&String`, copied):
    ///
    /// ```
    /// use lithe::io::Request;
    /// let path = format!("/items/{}", 7);
    /// let request = Request::new("GET", &path);
    /// assert_eq!(request.target(), "/items/7");
    /// ```
    pub fn new(method: impl Into<ByteStr>, target: impl Into<ByteStr>) -> Self {
        Request {
            method: Method::of(method.into()),
            target: Target::Given(target.into()),
            version: Version::Http11,
            headers: Headers::new(),
            body: Body::empty(),
            upgrade: None,
        }
    }

    /// The same request with `body`.
    #[inline]
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }
}

impl<B> Request<B> {
    /// A received request whose target is at `target` in the head `headers`
    /// keep.
    pub(crate) fn received(
        method: Method,
        target: Span,
        version: Version,
        headers: Headers,
        body: B,
        upgrade: Option<OnUpgrade>,
    ) -> Self {
        // The most common target of all is kept as a constant, which
        // `target` and `path` give without checking its UTF-8 again.
        let target = match headers.at(target) {
            b"/" => Target::Given(ByteStr::from_static("/")),
            _ => Target::Received(target),
        };
        Request {
            method,
            target,
            version,
            headers,
            body,
            upgrade,
        }
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// The request-target as sent, e.g. `/path?query`.
    pub fn target(&self) -> &str {
        match &self.target {
            Target::Given(target) => target,
            // proto took it from httparse as a `str`: this never falls back.
            Target::Received(span) => {
                core::str::from_utf8(self.headers.at(*span)).unwrap_or_default()
            }
        }
    }

    /// Makes the target a string of its own (sharing the head's bytes).
    fn detach_target(&mut self) {
        if let Target::Received(span) = self.target {
            self.target = Target::Given(ByteStr::from_span(&self.headers.head, span));
        }
    }

    /// The path: the target up to `?`, without the scheme and authority of an
    /// absolute-form target (`http://host/path`, as sent to proxies), and
    /// empty for a target that names no path, as a CONNECT's authority-form
    /// one (as `http::Uri::path` has it); as sent, not percent-decoded (`%2F`
    /// stays `%2F`).
    ///
    /// ```
    /// use lithe::io::Request;
    /// assert_eq!(Request::new("GET", "/a/b?c").path(), "/a/b");
    /// assert_eq!(Request::new("GET", "http://example.com/a?b").path(), "/a");
    /// assert_eq!(Request::new("GET", "http://example.com").path(), "/");
    /// assert_eq!(Request::new("GET", "http://example.com?a/b").path(), "/");
    /// assert_eq!(Request::new("OPTIONS", "*").path(), "*");
    /// assert_eq!(Request::new("CONNECT", "example.com:443").path(), "");
    /// ```
    pub fn path(&self) -> &str {
        let target = self.target();
        let origin = match target.as_bytes().first() {
            Some(b'/') | None => target,
            Some(_) => match target.split_once("://") {
                // The authority ends at the path, or at a query with an empty path.
                Some((_, rest)) => match rest.find(['/', '?']) {
                    Some(at) if rest.as_bytes()[at] == b'/' => &rest[at..],
                    _ => "/",
                },
                // `*`, or a CONNECT's authority-form, which has no path.
                None if target == "*" => target,
                None => "",
            },
        };
        // A plain loop, not `str::find` or memchr: targets are short (often
        // `/`), and for those the setup of a vectorized search costs more than
        // the search.
        match origin.bytes().position(|b| b == b'?') {
            Some(at) => &origin[..at],
            None => origin,
        }
    }

    /// The query: the target after the first `?` (without it), if there is
    /// one; as sent, not percent-decoded (nor is [`path`](Request::path)).
    ///
    /// ```
    /// use lithe::io::Request;
    /// assert_eq!(Request::new("GET", "/search?q=a%20b&page=2").query(), Some("q=a%20b&page=2"));
    /// assert_eq!(Request::new("GET", "/a?").query(), Some(""));
    /// assert_eq!(Request::new("GET", "/a").query(), None);
    /// assert_eq!(Request::new("GET", "http://example.com?x").query(), Some("x"));
    /// ```
    pub fn query(&self) -> Option<&str> {
        // A `?` in the scheme or authority of an absolute-form target is
        // impossible: the first one starts the query.
        self.target().split_once('?').map(|(_, query)| query)
    }

    /// The host the request is for, port included if sent: the authority of
    /// an absolute-form target (`http://host/path`, as sent to proxies), which
    /// RFC 9112 §3.2.2 has a server follow over the Host field, or of a
    /// CONNECT's target; the Host field otherwise. `None` when neither names
    /// one.
    ///
    /// ```
    /// use lithe::io::Request;
    /// let request = Request::new("GET", "/a").with_header("Host", "example.com:8080");
    /// assert_eq!(request.host(), Some("example.com:8080"));
    /// let proxied = Request::new("GET", "http://example.org/a?b").with_header("Host", "other");
    /// assert_eq!(proxied.host(), Some("example.org"));
    /// assert_eq!(Request::new("GET", "http://example.org?q").host(), Some("example.org"));
    /// assert_eq!(Request::new("CONNECT", "example.net:443").host(), Some("example.net:443"));
    /// // Only a CONNECT names its host in an authority-form target.
    /// let options = Request::new("OPTIONS", "example.net:443").with_header("Host", "h");
    /// assert_eq!(options.host(), Some("h"));
    /// assert_eq!(Request::new("GET", "/").host(), None);
    /// assert_eq!(Request::new("GET", "/").with_header("Host", "").host(), None);
    /// // An origin-form target is never read as a URL, whatever its query holds.
    /// let origin = Request::new("GET", "/a?next=http://b/").with_header("Host", "a");
    /// assert_eq!(origin.host(), Some("a"));
    /// // Userinfo makes a target invalid (a server refuses it): Host is taken.
    /// let userinfo = Request::new("GET", "http://u@evil/").with_header("Host", "good");
    /// assert_eq!(userinfo.host(), Some("good"));
    /// ```
    pub fn host(&self) -> Option<&str> {
        let target = self.target();
        let named = match TargetForm::of(target) {
            TargetForm::Authority if self.method() == "CONNECT" => Some(target),
            // An authority that is empty or holds userinfo (RFC 9110 §4.2.4)
            // makes the target no absolute-form at all: the Host field is
            // taken instead.
            TargetForm::Absolute => target
                .split_once("://")
                .and_then(|(_, rest)| rest.split(['/', '?']).next()),
            _ => None,
        };
        // An empty Host names no host (RFC 9112 §3.3: the authority is
        // then empty; a client sends one for a target without any).
        named.or_else(|| {
            self.headers()
                .get_str("host")
                .filter(|host| !host.is_empty())
        })
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The same request with `version`.
    #[must_use]
    pub fn with_version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change.
    ///
    /// ```
    /// use lithe::io::Request;
    /// let mut request = Request::new("GET", "/").with_header("Host", "a");
    /// request.headers_mut().append("accept", "*/*");
    /// request.headers_mut().remove("host");
    /// assert_eq!(request.headers().get_str("accept"), Some("*/*"));
    /// assert_eq!(request.host(), None);
    /// ```
    pub fn headers_mut(&mut self) -> &mut Headers {
        // The fields may be replaced whole, head and all: the target takes a
        // reference to the head first.
        self.detach_target();
        &mut self.headers
    }

    /// The same request with one more header field, not checked here (see
    /// [`Headers::append`]).
    #[inline]
    #[must_use]
    pub fn with_header(mut self, name: impl Into<ByteStr>, value: impl Into<FieldValue>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The body.
    ///
    /// ```
    /// use lithe::io::Request;
    /// let request = Request::new("POST", "/notes").with_body("hi");
    /// assert_eq!(request.body().len(), Some(2));
    /// ```
    pub fn body(&self) -> &B {
        &self.body
    }

    /// The body, to read or replace. To read a server's request body whole
    /// and keep its head (its fields, its path) for the answer, take the body
    /// out: an empty [`Incoming`](super::Incoming) is left in its place.
    ///
    /// ```
    /// use lithe::io::{Request, Response};
    /// use lithe::proto::StatusCode;
    ///
    /// async fn echo(mut request: Request) -> Response {
    ///     let body = std::mem::take(request.body_mut());
    ///     let kind = request.headers().get_str("content-type").unwrap_or("text/plain");
    ///     match body.bytes(64 * 1024).await {
    ///         Ok(bytes) => Response::new(StatusCode::OK)
    ///             .with_header("content-type", kind)
    ///             .with_body(bytes),
    ///         Err(e) => Response::new(e.status()),
    ///     }
    /// }
    /// # fn takes(_: impl lithe::io::Service) {}
    /// # takes(echo);
    /// ```
    pub fn body_mut(&mut self) -> &mut B {
        &mut self.body
    }

    /// Takes the body, dropping the head.
    pub fn into_body(self) -> B {
        self.body
    }

    /// Whether the request proposes a switch to `protocol` (RFC 9110 §7.8):
    /// an HTTP/1.1 request other than `CONNECT` whose `Connection` field
    /// names `upgrade` and whose `Upgrade` fields name `protocol`, compared
    /// without regard to case, a version included (`websocket`, `h2c`,
    /// `echo/2`). A `101` may switch only to a protocol offered.
    ///
    /// ```
    /// use lithe::io::Request;
    /// let request = Request::new("GET", "/chat")
    ///     .with_header("connection", "keep-alive, Upgrade")
    ///     .with_header("upgrade", "h2c, WebSocket");
    /// assert!(request.offers_protocol("websocket"));
    /// assert!(!request.offers_protocol("echo"));
    /// // A protocol is named whole, its version included.
    /// let versioned = Request::new("GET", "/")
    ///     .with_header("connection", "upgrade")
    ///     .with_header("upgrade", "echo/2");
    /// assert!(versioned.offers_protocol("ECHO/2") && !versioned.offers_protocol("echo"));
    /// // An Upgrade field the Connection field does not name offers nothing,
    /// // nor does an HTTP/1.0 request, nor a CONNECT (its 2xx is its switch).
    /// let unnamed = Request::new("GET", "/").with_header("upgrade", "websocket");
    /// assert!(!unnamed.offers_protocol("websocket"));
    /// let old = versioned.with_version(lithe::proto::Version::Http10);
    /// assert!(!old.offers_protocol("echo/2"));
    /// let connect = Request::new("CONNECT", "h.example:443")
    ///     .with_header("connection", "upgrade")
    ///     .with_header("upgrade", "echo");
    /// assert!(!connect.offers_protocol("echo"));
    /// ```
    pub fn offers_protocol(&self, protocol: &str) -> bool {
        self.version == Version::Http11
            && self.method() != "CONNECT"
            && self.headers.names_element("connection", b"upgrade")
            && self.headers.names_element("upgrade", protocol.as_bytes())
    }

    /// Server side: for a request proposing a protocol switch (an HTTP/1.1
    /// request with an `Upgrade` field named in its `Connection` field, or
    /// `CONNECT`), a future that yields the raw connection once a `101` (or a
    /// `2xx` to `CONNECT`) response has been sent. `None` for other requests
    /// (an `Upgrade` field alone proposes nothing, and a `101` to it would be
    /// answered 500), or once taken.
    ///
    /// The future resolves only once the service has *returned* its
    /// response and the driver has sent it: awaited inside the service, it
    /// waits for ever. Hand it to a task of its own, then return the switch,
    /// having checked first that the request offers the protocol (a `101` may
    /// switch only to one it names, and a `CONNECT` is answered `2xx`):
    ///
    /// ```no_run
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// use lithe::io::{Request, Response};
    /// use lithe::proto::StatusCode;
    ///
    /// async fn echo_protocol(mut request: Request) -> Response {
    ///     let offers_echo = request.offers_protocol("echo");
    ///     let (true, Some(on_upgrade)) = (offers_echo, request.upgrade()) else {
    ///         return Response::new(StatusCode::UPGRADE_REQUIRED)
    ///             .with_header("upgrade", "echo")
    ///             .with_header("connection", "upgrade");
    ///     };
    ///     // A thread here; a task in practice (`lithe::rt::spawn` under smol).
    ///     std::thread::spawn(move || {
    ///         futures_lite::future::block_on(async move {
    ///             let Ok(mut io) = on_upgrade.await else { return };
    ///             let mut buf = [0u8; 1024];
    ///             while let Ok(n @ 1..) = io.read(&mut buf).await {
    ///                 if io.write_all(&buf[..n]).await.is_err() {
    ///                     break;
    ///                 }
    ///             }
    ///         })
    ///     });
    ///     Response::new(StatusCode::SWITCHING_PROTOCOLS).with_header("upgrade", "echo")
    /// }
    /// ```
    ///
    /// Taken, and answered with anything but the switch, it resolves to
    /// [`Error::NotUpgraded`](super::Error::NotUpgraded) once that response
    /// is written, and the connection goes on with HTTP. Answered with the
    /// switch but not taken, the connection is closed once the request, which
    /// holds the switch's [`OnUpgrade`], is dropped: at once after the
    /// response, unless the service keeps the request (moved into a task of
    /// its own, say), when the client waits in silence until it drops it. The
    /// 101's Upgrade field must name protocols the request offered (RFC 9110
    /// §7.8, compared without regard to case): one naming another is
    /// answered 500 instead, with a warning logged.
    pub fn upgrade(&mut self) -> Option<OnUpgrade> {
        self.upgrade.take()
    }
}

/// An HTTP response: what a server's service returns (`B` = [`Body`]) or what a
/// client receives.
///
/// A service answers HEAD as it answers GET: the server sends the head
/// alone, with the body's length when it has one, and drops the body unread
/// (a file behind [`Body::from_reader`](super::Body::from_reader) is never
/// read).
///
/// ```
/// use lithe::io::Response;
/// use lithe::proto::StatusCode;
/// let res = Response::new(StatusCode::OK)
///     .with_header("Content-Type", "text/plain")
///     .with_body("Hello, World!");
/// assert_eq!(res.status(), StatusCode::OK);
/// assert_eq!(res.body().len(), Some(13));
/// ```
pub struct Response<B = Body> {
    status: StatusCode,
    /// A reason phrase other than the status's registered one (received
    /// ones only): boxed, as it is rare, so that a response stays small.
    reason: Option<Box<ByteStr>>,
    version: Version,
    headers: Headers,
    body: B,
}

impl<B: fmt::Debug> fmt::Debug for Response<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("reason", &self.reason())
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .finish()
    }
}

impl Response<Body> {
    /// A response with `status`, no headers and an empty body.
    #[inline]
    pub fn new(status: StatusCode) -> Self {
        Response {
            status,
            reason: None,
            version: Version::Http11,
            headers: Headers::new(),
            body: Body::empty(),
        }
    }

    /// The same response with `body`.
    #[inline]
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }
}

impl<B> Response<B> {
    pub(crate) fn received(
        status: StatusCode,
        reason: ByteStr,
        version: Version,
        headers: Headers,
        body: B,
    ) -> Self {
        let canonical = status.canonical_reason().unwrap_or("");
        Response {
            status,
            reason: (reason.as_str() != canonical).then(|| Box::new(reason)),
            version,
            headers,
            body,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase: the canonical one for a response built here (empty
    /// for a code that has none), the one received otherwise, empty if it
    /// held bytes past ASCII (which httparse does not decode; clients are
    /// not to rely on it, RFC 9112 §4).
    pub fn reason(&self) -> &str {
        match &self.reason {
            Some(reason) => reason,
            None => self.status.canonical_reason().unwrap_or(""),
        }
    }

    /// The protocol version: on a client, the server's. An HTTP/1.0 answer
    /// ends the connection after it unless it says `keep-alive`, and a
    /// request body of unknown length cannot go to that server next
    /// (`Error::ChunkedToHttp10`).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The same response with one more header field, not checked here (see
    /// [`Headers::append`]).
    #[inline]
    #[must_use]
    pub fn with_header(mut self, name: impl Into<ByteStr>, value: impl Into<FieldValue>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The body.
    pub fn body(&self) -> &B {
        &self.body
    }

    /// The body, to read or change.
    pub fn body_mut(&mut self) -> &mut B {
        &mut self.body
    }

    /// Takes the body, dropping the head.
    pub fn into_body(self) -> B {
        self.body
    }

    /// The status, the reason phrase and the fields where they are, with the
    /// body taken out (an empty one left): the server writes a response
    /// where its service's future put it, rather than moving it twice more
    /// to get there (each move of a struct just written in pieces costs a
    /// stall reading it back whole).
    #[inline]
    pub(crate) fn head_and_body(&mut self) -> (StatusCode, &str, &mut Headers, B)
    where
        B: Default,
    {
        let reason = match &self.reason {
            Some(reason) => reason,
            None => self.status.canonical_reason().unwrap_or(""),
        };
        (
            self.status,
            reason,
            &mut self.headers,
            core::mem::take(&mut self.body),
        )
    }
}

impl<B> Request<B> {
    pub(crate) fn into_parts(self) -> (ByteStr, ByteStr, Version, Headers, B) {
        let target = match self.target {
            Target::Given(target) => target,
            Target::Received(span) => ByteStr::from_span(&self.headers.head, span),
        };
        (
            self.method.into_byte_str(),
            target,
            self.version,
            self.headers,
            self.body,
        )
    }
}

#[cfg(test)]
mod size {
    use super::{Request, Response};

    /// A request and a response are moved several times on their way
    /// through a service (into and out of the driver's steps, each builder
    /// call, the service's future). Up to 128 bytes a move is a few vector
    /// moves; past that it is a `memcpy` call, and at 136 bytes (a
    /// response) and 184 (a request) those calls cost the server driver
    /// about a tenth of its time (benches/server.rs).
    #[test]
    fn requests_and_responses_move_without_a_memcpy_call() {
        assert!(
            core::mem::size_of::<Response>() <= 128,
            "Response: {} bytes",
            core::mem::size_of::<Response>()
        );
        assert!(
            core::mem::size_of::<Request>() <= 128,
            "Request: {} bytes",
            core::mem::size_of::<Request>()
        );
    }
}

#[cfg(test)]
mod received_target {
    use bytes::Bytes;

    use super::{Method, Request, Target};
    use crate::io::body::Incoming;
    use crate::io::headers::Headers;
    use crate::proto::Version;

    /// A received target of `/` is kept as a constant, any other as its
    /// place in the head; both read back as sent (a test of what `target`
    /// answers cannot tell them apart).
    #[test]
    fn a_bare_slash_is_kept_as_a_constant() {
        let heads: [(&'static [u8], bool); 3] = [
            (b"GET / HTTP/1.1\r\n", true),
            (b"GET /a HTTP/1.1\r\n", false),
            (b"GET // HTTP/1.1\r\n", false),
        ];
        for (head, constant) in heads {
            let head = Bytes::from_static(head);
            let target = (4, head[4..].iter().position(|&b| b == b' ').unwrap());
            let request = Request::received(
                Method::received(&head, (0, 3)),
                target,
                Version::Http11,
                Headers::from_spans(head.clone(), Default::default()),
                Incoming::empty(),
                None,
            );
            let sent = core::str::from_utf8(&head[target.0..target.0 + target.1]).unwrap();
            assert_eq!(request.target(), sent);
            assert_eq!(request.path(), sent);
            assert_eq!(
                matches!(request.target, Target::Given(_)),
                constant,
                "{sent}"
            );
        }
    }
}
