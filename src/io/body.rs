//! Message bodies as streams of [`Bytes`]: [`Body`], what we send, and
//! [`Incoming`], a request body a server reads while its driver feeds it.
//!
//! An [`Incoming`] body holds at most one chunk at a time: the driver reads the
//! next piece from the connection only when the reader asks for it, so a slow
//! service slows the client down (backpressure) instead of filling memory. The
//! first read is also what sends `100 Continue` to a client that waits for it.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker, ready};
use std::borrow::Cow;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_io::AsyncRead;
use futures_lite::Stream;
use futures_lite::future::poll_fn;

use super::error::Error;
use super::headers::Headers;
use super::read_stream::ReadStream;

/// A boxed stream of body chunks.
pub type BoxStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// The trailer fields of a body, ready once its data has been sent.
pub(crate) type BoxTrailers = Pin<Box<dyn Future<Output = Headers> + Send + 'static>>;

/// A body's stream, or its trailers' future, as a message to send holds it.
/// The wrapper makes the message `Sync` without asking the caller's stream
/// to be (reqwest's `Body` does the same): a future that keeps `&request`
/// across an `.await` (signing it, logging it) stays `Send`, for a
/// work-stealing executor. Nothing reaches the stream through `&`, only
/// through `&mut`, which is what makes that sound.
pub(crate) type Held<T> = sync_wrapper::SyncWrapper<T>;

/// A body to send: empty, one buffer, or a stream of chunks.
///
/// A body whose length is known goes out with `Content-Length`; a stream of
/// unknown length goes out chunked (or, in a response to an HTTP/1.0 request,
/// close-delimited; an HTTP/1.0 request cannot carry one).
/// A `Content-Length` or `Transfer-Encoding` field set on the message takes
/// over from that choice, and a server answers a HEAD with an empty body
/// without `Content-Length: 0`.
///
/// ```
/// use lithe::io::Body;
/// assert_eq!(Body::from("hello").len(), Some(5));
/// assert_eq!(Body::empty().len(), Some(0));
/// ```
pub struct Body {
    kind: Kind,
}

pub(crate) enum Kind {
    Empty,
    Full(Bytes),
    Stream {
        len: Option<u64>,
        stream: Held<BoxStream>,
    },
    /// A stream of unknown length, then trailer fields: boxed, so that the
    /// common kinds stay small (a response is moved several times on its way
    /// out, and each move copies it whole).
    Trailed(Box<(Held<BoxStream>, Held<BoxTrailers>)>),
}

impl Kind {
    /// The same body going out chunked (under trailers, or a
    /// `Transfer-Encoding` field the message sets): a sized stream's length
    /// is no longer in the head for `proto` to hold it to, so the stream is
    /// held to it here, and one that yields more or fewer bytes cuts the
    /// message short instead of ending it whole.
    pub(crate) fn chunked_keeping_length(self) -> Kind {
        match self {
            Kind::Stream {
                len: Some(len),
                stream,
            } => Kind::Stream {
                len: None,
                stream: Held::new(Box::pin(Exactly {
                    stream: stream.into_inner(),
                    left: len,
                })),
            },
            other => other,
        }
    }

    /// The length in bytes, when known.
    pub(crate) fn len(&self) -> Option<u64> {
        match self {
            Kind::Empty => Some(0),
            Kind::Full(b) => Some(b.len() as u64),
            Kind::Stream { len, .. } => *len,
            Kind::Trailed(_) => None,
        }
    }
}

impl Body {
    /// No body.
    pub const fn empty() -> Self {
        Body { kind: Kind::Empty }
    }

    /// A body of unknown length, sent as the stream yields it (under a
    /// `Content-Length` field set on the message, the piece completing that
    /// length is held until the stream ends, as for
    /// [`sized_stream`](Body::sized_stream)).
    pub fn stream(stream: impl Stream<Item = io::Result<Bytes>> + Send + 'static) -> Self {
        Body {
            kind: Kind::Stream {
                len: None,
                stream: Held::new(Box::pin(stream)),
            },
        }
    }

    /// A streamed body of exactly `len` bytes; yielding more or fewer is an error
    /// that aborts the connection. The piece that completes `len` is held until
    /// the stream ends, so a stream that then fails or goes on never leaves a
    /// complete message on the wire. (Except with `len` 0, where the head
    /// alone is the whole message and may go out before the stream ends: for
    /// no content, give [`Body::empty`].) The same holds for a stream under a
    /// `Content-Length` field, and a sized stream under a `Transfer-Encoding`
    /// field is held to `len` all the same.
    pub fn sized_stream(
        len: u64,
        stream: impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    ) -> Self {
        Body {
            kind: Kind::Stream {
                len: Some(len),
                stream: Held::new(Box::pin(stream)),
            },
        }
    }

    /// A body read from `reader` (a file, a pipe, another connection) as
    /// the connection takes it, in pieces of up to 64 KiB: of `len` bytes,
    /// sent with `Content-Length` and held to it as
    /// [`sized_stream`](Body::sized_stream) is (a file that turns out
    /// shorter or longer cuts the message short; but with `len` 0 the head
    /// is the whole message and may go out first, so a reader that then
    /// brings bytes, as files in `/proc` whose size says 0 do, only closes
    /// the connection: read those with `None`), or, with `None`, of unknown
    /// length (chunked). The piece that completes `len` is held until the
    /// reader ends: one that does not end there on its own (a connection)
    /// is given as `reader.take(len)`. A read error ends the body with that
    /// error (the message is cut short, never completed); the reader is not
    /// read again after it, or after its end.
    ///
    /// ```
    /// use futures_lite::io::Cursor;
    /// use lithe::io::{Body, Response};
    /// use lithe::proto::StatusCode;
    ///
    /// // A file: `let file = async_fs::File::open(path).await?;` and its
    /// // length from `file.metadata().await?.len()`.
    /// let file = Cursor::new(vec![b'x'; 300_000]);
    /// let response = Response::new(StatusCode::OK)
    ///     .with_header("content-type", "application/octet-stream")
    ///     .with_body(Body::from_reader(file, Some(300_000)));
    /// assert_eq!(response.body().len(), Some(300_000));
    /// ```
    pub fn from_reader(reader: impl AsyncRead + Send + 'static, len: Option<u64>) -> Self {
        let stream = ReadStream::new(reader);
        match len {
            Some(len) => Body::sized_stream(len, stream),
            None => Body::stream(stream),
        }
    }

    /// The same body, followed by trailer fields (RFC 9112 §7.1.2): metadata
    /// known only once the data has gone out, such as a checksum or timing.
    /// `trailers` is awaited after the last byte of data, for as long as it
    /// takes (as a stream that stalls is); a message that carries no body
    /// (an answer to a HEAD, a 1xx, 204, 205 or 304) drops it unawaited.
    ///
    /// Trailers ride on the chunked coding, so the body goes out chunked,
    /// whatever its length (a [`sized_stream`](Body::sized_stream)'s length
    /// still holds: yielding more or fewer bytes cuts the message short).
    /// Called again, the later trailers replace the earlier. Where it cannot
    /// (in a response to an HTTP/1.0 request, whose body is then delimited by
    /// the close, or under a `Content-Length` field set on the message) they
    /// are left out, the future dropped unawaited. So is each field that
    /// belongs in the header section
    /// ([`is_header_section_only`](crate::proto::is_header_section_only):
    /// framing, routing, authentication, content format; RFC 9110 §6.5.1), said
    /// to the `log` facade at debug level (trailers passed on from a peer carry
    /// what the peer chose), and all of them if one is not a valid field, with
    /// a warning; the message itself goes out all the same. An HTTP/1.0 request
    /// has no chunked coding: sending one with such a body (and no
    /// `Content-Length` field) fails with `Error::Send`, nothing sent.
    ///
    /// ```
    /// use lithe::io::{Body, Headers};
    /// let body = Body::from("payload").with_trailers(async {
    ///     let mut trailers = Headers::new();
    ///     trailers.append("checksum", "5f2b");
    ///     trailers
    /// });
    /// // Chunked: the length is no longer stated.
    /// assert_eq!(body.len(), None);
    /// ```
    #[must_use]
    pub fn with_trailers(self, trailers: impl Future<Output = Headers> + Send + 'static) -> Self {
        let stream: Held<BoxStream> = match self.kind.chunked_keeping_length() {
            Kind::Empty => Held::new(Box::pin(futures_lite::stream::empty())),
            Kind::Full(bytes) => Held::new(Box::pin(futures_lite::stream::once(Ok(bytes)))),
            Kind::Stream { stream, .. } => stream,
            Kind::Trailed(trailed) => trailed.0,
        };
        let trailers: Held<BoxTrailers> = Held::new(Box::pin(trailers));
        Body {
            kind: Kind::Trailed(Box::new((stream, trailers))),
        }
    }

    /// The length in bytes, when known.
    pub fn len(&self) -> Option<u64> {
        self.kind.len()
    }

    /// Whether the body is known to be empty.
    ///
    /// ```
    /// use lithe::io::Body;
    /// assert!(Body::from("").is_empty());
    /// assert!(!Body::from("x").is_empty());
    /// let unknown = futures_lite::stream::empty::<std::io::Result<bytes::Bytes>>();
    /// assert!(!Body::stream(unknown).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    pub(crate) fn into_kind(self) -> Kind {
        self.kind
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

/// The kind of body and its length where known, never its bytes: a body
/// logged with its message (a password form, a token) stays out of the log.
///
/// ```
/// use lithe::io::Body;
/// assert_eq!(format!("{:?}", Body::empty()), "Body::Empty");
/// assert_eq!(format!("{:?}", Body::from("secret")), "Body::Full(6)");
/// let pieces = || futures_lite::stream::empty::<std::io::Result<bytes::Bytes>>();
/// assert_eq!(format!("{:?}", Body::sized_stream(6, pieces())), "Body::Stream { len: Some(6) }");
/// assert_eq!(format!("{:?}", Body::stream(pieces())), "Body::Stream { len: None }");
/// let trailed = Body::from("secret").with_trailers(async { lithe::io::Headers::new() });
/// assert_eq!(format!("{trailed:?}"), "Body::Stream { len: None, trailers }");
/// ```
impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body::Empty"),
            Kind::Full(b) => f.debug_tuple("Body::Full").field(&b.len()).finish(),
            Kind::Stream { len, .. } => f.debug_struct("Body::Stream").field("len", len).finish(),
            Kind::Trailed(_) => f.write_str("Body::Stream { len: None, trailers }"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        if b.is_empty() {
            Body::empty()
        } else {
            Body {
                kind: Kind::Full(b),
            }
        }
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(s))
    }
}

/// A byte string literal, shared as it is: `with_body(b"ok\n")`.
///
/// ```
/// use lithe::io::Body;
/// assert_eq!(Body::from(b"ok\n").len(), Some(3));
/// ```
impl<const N: usize> From<&'static [u8; N]> for Body {
    fn from(s: &'static [u8; N]) -> Self {
        Body::from(&s[..])
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

/// The request body a server's service received, sent on (a proxy, an
/// echo) with what is known of its length ([`Incoming::len`]): none stays
/// none, a declared length goes as `Content-Length` (the stream held to it),
/// and a chunked body goes chunked, followed by the trailer fields it ended
/// with, as [`Body::with_trailers`] sends them.
///
/// ```
/// use lithe::io::{Body, Incoming};
/// assert!(Body::from(Incoming::empty()).is_empty());
/// ```
impl From<Incoming> for Body {
    fn from(incoming: Incoming) -> Self {
        // A body whose stream has reported its error would now end there,
        // cleanly, as streams do after one: sent on, it fails with that
        // error again instead, never as a whole message.
        if let Some(slot) = &incoming.slot {
            let mut s = lock(slot);
            s.end = match core::mem::take(&mut s.end) {
                End::ErrorReported(e) => End::Failed(e),
                end => end,
            };
        }
        match (incoming.len(), incoming.slot.clone()) {
            (Some(0), _) => Body::empty(),
            (Some(len), _) => Body::sized_stream(len, incoming),
            // Awaited only once the stream has ended, when the driver has
            // put the body's trailers (if any) in the slot.
            (None, Some(slot)) => Body::stream(incoming)
                .with_trailers(async move { lock(&slot).trailers.take().unwrap_or_default() }),
            (None, None) => Body::stream(incoming),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::from(Bytes::from(v))
    }
}

/// A buffer built up for the message, frozen without a copy.
///
/// ```
/// use lithe::io::Body;
/// let mut built = bytes::BytesMut::new();
/// built.extend_from_slice(b"a=1&b=2");
/// assert_eq!(Body::from(built).len(), Some(7));
/// ```
impl From<bytes::BytesMut> for Body {
    fn from(b: bytes::BytesMut) -> Self {
        Body::from(b.freeze())
    }
}

/// A literal shared, anything else kept as it is.
///
/// ```
/// use std::borrow::Cow;
/// use lithe::io::Body;
/// assert_eq!(Body::from(Cow::Borrowed("hi")).len(), Some(2));
/// assert_eq!(Body::from(Cow::<str>::Owned("hey".into())).len(), Some(3));
/// ```
impl From<Cow<'static, str>> for Body {
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => Body::from(s),
            Cow::Owned(s) => Body::from(s),
        }
    }
}

/// Collects chunks from `poll_next` into one buffer of at most `limit` bytes. A
/// body of one chunk is returned without copying. One whose declared length
/// (`left` to come) is past `limit` is refused before anything is read:
/// nothing read would change the outcome. (A body that has already failed
/// has no `left`: its error comes first, not as if it were too large.)
pub(crate) async fn collect(
    left: Option<u64>,
    mut poll_next: impl FnMut(&mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>>,
    limit: usize,
) -> Result<Bytes, Error> {
    if left.is_some_and(|left| left > limit as u64) {
        return Err(Error::BodyTooLarge { limit });
    }
    // The first chunk is kept as it is; from the second on, all are copied
    // into one buffer, so at most `limit` bytes are held.
    let mut first: Option<Bytes> = None;
    let mut all = Vec::new();
    while let Some(chunk) = poll_fn(&mut poll_next).await {
        let chunk = chunk?;
        let have = first.as_ref().map_or(all.len(), Bytes::len);
        if have + chunk.len() > limit {
            return Err(Error::BodyTooLarge { limit });
        }
        match first.take() {
            None if all.is_empty() => first = Some(chunk),
            Some(kept) => {
                grow_within(&mut all, kept.len() + chunk.len(), limit);
                all.extend_from_slice(&kept);
                all.extend_from_slice(&chunk);
            }
            None => {
                grow_within(&mut all, chunk.len(), limit);
                all.extend_from_slice(&chunk);
            }
        }
    }
    if all.capacity() - all.len() > all.len() / 4 {
        // Doubling may have left much of the buffer unused, which the
        // `Bytes` would keep for as long as the caller holds the body.
        all.shrink_to_fit();
    }
    Ok(first.unwrap_or_else(|| Bytes::from(all)))
}

/// Makes room in `all` for `more` bytes, doubling as a vector does but never
/// past `limit` (which `all.len() + more` is within): doubling alone made the
/// buffer of a body just over half the limit reach up to twice the limit.
fn grow_within(all: &mut Vec<u8>, more: usize, limit: usize) {
    let needed = all.len() + more;
    if needed > all.capacity() {
        let capacity = needed.max(all.capacity() * 2).min(limit);
        all.reserve_exact(capacity - all.len());
    }
}

/// Bytes, and pieces, of a streamed body a connection sends before it lets
/// the other tasks of its thread run (and a client looks at its total
/// timeout): a body whose stream is always ready, sent to a peer that reads
/// as fast, or made of empty pieces that write nothing, would otherwise hold
/// the thread for its whole length, since neither producing nor writing ever
/// waits.
pub(crate) const BODY_SHARE_BYTES: usize = 1 << 20;
/// See [`BODY_SHARE_BYTES`].
pub(crate) const BODY_SHARE_PIECES: u32 = 256;

/// The pieces of a streamed body on their way out, checked against its
/// declared length: the piece that completes the length is held until the
/// stream has ended, so that a stream which then fails or goes on leaves the
/// message on the wire incomplete, never a whole one followed by an error (a
/// request the server acts on while the caller sees a failure and may send it
/// again; a response the client takes for good before the close).
pub(crate) struct HoldLast {
    declared: Option<u64>,
    sent: u64,
    held: Option<Bytes>,
}

impl HoldLast {
    /// For a body of `declared` length, if known.
    pub(crate) fn new(declared: Option<u64>) -> Self {
        HoldLast {
            declared,
            sent: 0,
            held: None,
        }
    }

    /// The piece to write now, if any (an empty one is dropped, the completing
    /// one held), or [`SendError::BodyTooLong`](crate::proto::SendError) once a
    /// piece follows the completing one.
    pub(crate) fn admit(&mut self, piece: Bytes) -> Result<Option<Bytes>, Error> {
        if piece.is_empty() {
            return Ok(None);
        }
        if self.held.is_some() {
            return Err(Error::Send(crate::proto::SendError::BodyTooLong));
        }
        self.sent = self.sent.saturating_add(piece.len() as u64);
        if self.declared == Some(self.sent) {
            self.held = Some(piece);
            return Ok(None);
        }
        Ok(Some(piece))
    }

    /// The held piece, to write once the stream has ended.
    pub(crate) fn finish(self) -> Option<Bytes> {
        self.held
    }
}

/// A [`Body::sized_stream`]'s stream once it goes chunked
/// ([`Kind::chunked_keeping_length`]): it fails where the stream yields more
/// or fewer bytes than declared.
struct Exactly {
    stream: BoxStream,
    left: u64,
}

/// How an [`Exactly`] stream failed: its source broke the length it
/// declared, a bug of the caller's (which the server logs), not the peer's.
#[derive(Debug)]
struct LengthMismatch(&'static str);

impl core::fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for LengthMismatch {}

/// Whether `error` is an [`Exactly`] stream's: a sized stream that yielded
/// more or fewer bytes than it declared.
pub(crate) fn is_length_mismatch(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<LengthMismatch>())
}

impl Stream for Exactly {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mismatch = |what| {
            let error = io::Error::new(io::ErrorKind::InvalidData, LengthMismatch(what));
            Some(Err(error))
        };
        Poll::Ready(match ready!(self.stream.as_mut().poll_next(cx)) {
            Some(Ok(piece)) => match self.left.checked_sub(piece.len() as u64) {
                Some(left) => {
                    self.left = left;
                    Some(Ok(piece))
                }
                None => mismatch("the body stream yielded more than its declared length"),
            },
            None if self.left > 0 => {
                self.left = 0;
                mismatch("the body stream ended short of its declared length")
            }
            other => other,
        })
    }
}

/// `bytes` as a `String`, or [`Error::NotUtf8`].
pub(crate) fn into_text(bytes: Bytes) -> Result<String, Error> {
    String::from_utf8(bytes.into()).map_err(|e| Error::NotUtf8(e.utf8_error()))
}

/// Where the body's chunks come from, shared by the reader and the driver.
#[derive(Default)]
struct Slot {
    /// The reader waits for a chunk.
    want: bool,
    chunk: Option<Bytes>,
    end: End,
    reader: Option<Waker>,
    driver: Option<Waker>,
    /// The [`Incoming`] was dropped: nobody will read.
    dropped: bool,
    /// The trailer fields, once the body has ended.
    trailers: Option<Headers>,
    /// The bytes still to come, when the head declared a length.
    left: Option<u64>,
}

#[derive(Default)]
enum End {
    #[default]
    Open,
    Complete,
    Failed(Error),
    Abandoned,
    /// Read through the `Stream` impl, which has reported this error: the
    /// stream ends, and `poll_chunk` fails with it again.
    ErrorReported(Error),
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request body as the server's service reads it: chunks arrive as the service
/// asks for them.
///
/// It holds at most one chunk at a time: the driver reads the next piece
/// from the connection only when the service asks for it, so a slow service
/// slows the client down (backpressure) instead of filling memory. The first
/// read is also what sends `100 Continue` to a client that waits for it: a
/// service that refuses the upload (a 413, a 401) by answering without
/// reading never invites it.
///
/// Read it with [`chunk`](Incoming::chunk), collect it with
/// [`bytes`](Incoming::bytes), or use it as a [`Stream`]. To send it on (a
/// proxy, an echo) make it a [`Body`] with `Body::from`, which keeps what is
/// known of its length: none (a GET's), the bytes a Content-Length has yet
/// to bring, or unknown (chunked, its trailer fields then sent on after
/// it); [`Body::stream`] would make every body, even none, one of unknown
/// length, chunked, and leave the trailers behind.
///
/// It is read while the request is served, its response included: what is
/// left once the response has gone out is drained (up to
/// [`ServerConfig::drain_limit`](super::ServerConfig::drain_limit), or the
/// connection closes), and a later read fails with
/// [`Error::BodyAbandoned`](super::Error::BodyAbandoned). A service that hands
/// the body to work outlasting its response reads it first.
pub struct Incoming {
    slot: Option<Arc<Mutex<Slot>>>,
}

impl Incoming {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Incoming { slot: None }
    }

    /// A body of `declared` bytes, if its head said, and the handle its
    /// driver feeds it through.
    pub(crate) fn channel(declared: Option<u64>) -> (Incoming, Feeder) {
        let slot = Arc::new(Mutex::new(Slot {
            left: declared,
            ..Slot::default()
        }));
        (
            Incoming {
                slot: Some(slot.clone()),
            },
            Feeder { slot },
        )
    }

    /// Whether the request has no body at all (one read to its end may
    /// have no bytes left, [`len`](Self::len) `Some(0)`, and is not this).
    pub fn is_empty(&self) -> bool {
        self.slot.is_none()
    }

    /// The bytes still to come, when known: 0 for a request without a
    /// body, what its `Content-Length` declared less what has been read, and
    /// `None` for a chunked one.
    ///
    /// ```
    /// use lithe::io::Incoming;
    /// assert_eq!(Incoming::empty().len(), Some(0));
    /// ```
    #[doc(alias = "content_length")]
    pub fn len(&self) -> Option<u64> {
        match &self.slot {
            None => Some(0),
            Some(slot) => lock(slot).left,
        }
    }

    /// The trailer fields that followed a chunked body (RFC 9112 §7.1.2),
    /// once the body has been read to its end; `None` before that, or when
    /// it had none. They are kept apart from the header fields, as RFC 9110
    /// §6.5.1 asks: a recipient may not merge them in unasked. Read the body
    /// with [`chunk`](Incoming::chunk) (or as a `Stream`) to see them:
    /// [`bytes`](Incoming::bytes) and [`text`](Incoming::text) consume it.
    /// (A copy: cheap, as received fields share one buffer.)
    ///
    /// ```no_run
    /// # async fn service(request: lithe::io::Request) -> lithe::io::Response {
    /// use lithe::io::Response;
    /// use lithe::proto::StatusCode;
    /// let mut body = request.into_body();
    /// let mut length = 0;
    /// while let Ok(Some(chunk)) = body.chunk().await {
    ///     length += chunk.len();
    /// }
    /// let trailers = body.trailers().unwrap_or_default();
    /// let checksum = trailers.get_str("checksum").unwrap_or("none");
    /// Response::new(StatusCode::OK).with_body(format!("{length} bytes, checksum {checksum}"))
    /// # }
    /// ```
    pub fn trailers(&self) -> Option<Headers> {
        let slot = self.slot.as_ref()?;
        let s = lock(slot);
        match s.end {
            End::Complete if s.chunk.is_none() => s.trailers.clone(),
            _ => None,
        }
    }

    /// Polls for the next chunk; `None` at the end of the body.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        let Some(slot) = &self.slot else {
            return Poll::Ready(None);
        };
        let mut s = lock(slot);
        if let Some(chunk) = s.chunk.take() {
            s.left = s.left.map(|left| left.saturating_sub(chunk.len() as u64));
            return Poll::Ready(Some(Ok(chunk)));
        }
        match core::mem::replace(&mut s.end, End::Abandoned) {
            End::Open => s.end = End::Open,
            End::Complete => {
                s.end = End::Complete;
                return Poll::Ready(None);
            }
            End::Failed(e) => {
                // Asked again, it fails again with the same error, not as if
                // the connection had moved on. The first reader gets the
                // error itself (a transport's own, to downcast), later ones
                // a copy.
                s.end = End::Failed(e.duplicate());
                return Poll::Ready(Some(Err(e)));
            }
            End::Abandoned => return Poll::Ready(Some(Err(Error::BodyAbandoned))),
            End::ErrorReported(e) => {
                let again = e.duplicate();
                s.end = End::ErrorReported(e);
                return Poll::Ready(Some(Err(again)));
            }
        }
        s.want = true;
        if !s.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            s.reader = Some(cx.waker().clone());
        }
        let driver = s.driver.take();
        // Woken with the lock released: a driver on another thread takes it
        // at once.
        drop(s);
        if let Some(driver) = driver {
            driver.wake();
        }
        Poll::Pending
    }

    /// The next chunk; `None` at the end of the body. A chunk is a slice of
    /// the connection's read buffer, not a copy: kept, it keeps that buffer
    /// alive (tens of KiB with the default head limit; a buffer grown past
    /// 64 KiB by a larger head hands out copies of small pieces, but a piece
    /// of an eighth of it or more still keeps it whole); copy a small one
    /// kept for long. Chunks need not be the peer's: pieces under 1 KiB
    /// already read together (a body sent in tiny chunks) come joined, as a
    /// copy of up to 4 KiB.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        poll_fn(|cx| self.poll_chunk(cx)).await.transpose()
    }

    /// The whole body (what is left of it, after [`chunk`](Self::chunk)
    /// reads: `limit` applies to that), or [`Error::BodyTooLarge`] past
    /// `limit` bytes. A body that arrived in one chunk is that chunk, a
    /// slice of the read buffer ([`chunk`](Self::chunk) says what that keeps
    /// alive). One whose
    /// `Content-Length` is past `limit` is refused unread (and so, where the
    /// client expects `100 Continue`, uninvited). A service answers a failed
    /// read with [`Error::status`] (413 past `limit`; a body the client
    /// broke, or that stopped coming, gets its 4xx from the driver
    /// whatever the service answers).
    pub async fn bytes(mut self, limit: usize) -> Result<Bytes, Error> {
        collect(self.left_unless_failed(), |cx| self.poll_chunk(cx), limit).await
    }

    /// What [`len`](Self::len) says, unless reading has failed (or the
    /// driver gave the body up), which the next read reports.
    fn left_unless_failed(&self) -> Option<u64> {
        let slot = self.slot.as_ref()?;
        let s = lock(slot);
        match s.end {
            End::Open | End::Complete => s.left,
            End::Failed(_) | End::Abandoned | End::ErrorReported(_) => None,
        }
    }

    /// The whole body as UTF-8 text, within `limit` bytes.
    pub async fn text(self, limit: usize) -> Result<String, Error> {
        into_text(self.bytes(limit).await?)
    }
}

impl Default for Incoming {
    fn default() -> Self {
        Incoming::empty()
    }
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.slot.is_some() {
            "Incoming"
        } else {
            "Incoming::Empty"
        })
    }
}

impl Stream for Incoming {
    type Item = io::Result<Bytes>;

    /// As [`poll_chunk`](Incoming::poll_chunk), except that after an error
    /// the stream ends, as streams do (a consumer skipping errors would
    /// otherwise never see its end).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let body = self.get_mut();
        if let Some(slot) = &body.slot {
            if matches!(lock(slot).end, End::ErrorReported(_)) {
                return Poll::Ready(None);
            }
        }
        let next = body.poll_chunk(cx);
        if let (Poll::Ready(Some(Err(e))), Some(slot)) = (&next, &body.slot) {
            lock(slot).end = End::ErrorReported(e.duplicate());
        }
        next.map(|item| item.map(|r| r.map_err(io::Error::from)))
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            let (driver, reader) = {
                let mut s = lock(slot);
                s.dropped = true;
                s.want = false;
                (s.driver.take(), s.reader.take())
            };
            // Nobody reads any more: the last reader's waker would keep its
            // task allocated until the request is over. Dropped, as the
            // driver is woken, with the lock released.
            drop(reader);
            if let Some(driver) = driver {
                driver.wake();
            }
        }
    }
}

/// The driver's end of an [`Incoming`] body.
pub(crate) struct Feeder {
    slot: Arc<Mutex<Slot>>,
}

impl Feeder {
    /// Whether the reader waits for a chunk; if not, the driver is woken when it
    /// starts to.
    pub(crate) fn poll_want(&self, cx: &mut Context<'_>) -> bool {
        let mut s = lock(&self.slot);
        if s.want && s.chunk.is_none() {
            return true;
        }
        if !s.driver.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            s.driver = Some(cx.waker().clone());
        }
        false
    }

    /// Whether the reader was dropped.
    pub(crate) fn is_dropped(&self) -> bool {
        lock(&self.slot).dropped
    }

    fn finish_with(&self, update: impl FnOnce(&mut Slot)) {
        let mut s = lock(&self.slot);
        update(&mut s);
        s.want = false;
        let reader = s.reader.take();
        // As in `poll_chunk`: woken with the lock released.
        drop(s);
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    /// Hands the reader a chunk.
    pub(crate) fn send(&self, chunk: Bytes) {
        self.finish_with(|s| s.chunk = Some(chunk));
    }

    /// The body ended, with `trailers` if it had any.
    pub(crate) fn complete(&self, trailers: Option<Headers>) {
        self.finish_with(|s| {
            s.end = End::Complete;
            s.trailers = trailers;
        });
    }

    /// The body failed.
    pub(crate) fn fail(&self, error: Error) {
        self.finish_with(|s| s.end = End::Failed(error));
    }

    /// The driver moved on without finishing the body. Unlike a drop, this
    /// also takes back a chunk handed over and not yet read: the response is
    /// under way or the connection is closing, so its memory is freed now,
    /// and the reader's next poll gets the error.
    pub(crate) fn abandon(&self) {
        self.finish_with(|s| {
            s.chunk = None;
            if matches!(s.end, End::Open) {
                s.end = End::Abandoned;
            }
        });
    }
}

impl Drop for Feeder {
    /// The driver lets go of the body (its request is over, an I/O error
    /// ended it, or its future was dropped): unfinished, a reader still
    /// waiting would wait forever. A chunk already handed over stays
    /// readable before the error. The driver's waker goes too: it would keep
    /// the driver's task allocated for as long as the reader lives.
    fn drop(&mut self) {
        self.finish_with(|s| {
            s.driver = None;
            if matches!(s.end, End::Open) {
                s.end = End::Abandoned;
            }
        });
    }
}
