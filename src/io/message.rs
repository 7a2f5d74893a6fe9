//! Owned messages: [`Request`], [`Response`], their [`Headers`] and the
//! [`ByteStr`] strings they are made of.
//!
//! A received head is kept as one shared [`Bytes`] buffer; the method, target,
//! names and values are slices of it, so building a [`Request`] copies nothing.

use core::fmt;
use core::ops::Deref;
use std::borrow::Cow;

use bytes::Bytes;

use super::body::{Body, Incoming};
use super::field_value::{FieldValue, write_quoted};
use super::upgrade::OnUpgrade;
use crate::proto::{
    self, Connection, EMPTY_HEADER, Event, Header, Received, StatusCode, TargetForm, Version,
};

/// Where a piece of a received head lies in the read buffer: offset and length.
/// Heads are parsed in place and then split off the buffer as one [`Bytes`];
/// spans turn the parser's borrowed pieces into shared slices of it.
pub(crate) type Span = (usize, usize);

/// Whether a response with `status` is interim, one before the final
/// response (1xx, but `101`, which switches protocols, is final).
pub(crate) fn is_interim(status: StatusCode) -> bool {
    status.is_informational() && status.as_u16() != 101
}

/// The span of `piece`, a sub-slice of `input`.
pub(crate) fn span(input: &[u8], piece: &[u8]) -> Span {
    // An empty piece may be a constant rather than a slice of the input (httparse
    // answers a missing reason phrase, or one in obs-text, with a static "").
    if piece.is_empty() {
        return (0, 0);
    }
    (
        piece.as_ptr() as usize - input.as_ptr() as usize,
        piece.len(),
    )
}

/// The spans of `fields`, parsed from `input`: (name, value) each.
pub(crate) fn field_spans(input: &[u8], fields: &[Header<'_>]) -> Vec<(Span, Span)> {
    let mut spans = spare::take(&spare::SPANS);
    spans.extend(
        fields
            .iter()
            .map(|f| (span(input, f.name.as_bytes()), span(input, f.value))),
    );
    spans
}

/// The header arrays a head is parsed into, smallest first: most heads have
/// a few fields, and filling an array costs more than parsing a small head.
const SMALL_HEAD: usize = 24;
/// The second, for the heads that overflow the first.
const LARGE_HEAD: usize = 128;

/// Parses a head in `input` with `parse`, which returns `None` when the head
/// has more fields than the array it was given: into 24 fields on the stack,
/// then 128, then an array on the heap as long as `limit` or as the most
/// fields `input` can hold (a field line takes at least three bytes, `a:` and
/// LF), whichever is shorter, so a generous configured limit costs only what
/// the head needs. `None` only if even that overflowed.
#[inline(always)]
pub(crate) fn parse_with_growing_fields<'b, T>(
    input: &'b [u8],
    limit: usize,
    mut parse: impl FnMut(&mut [Header<'b>]) -> Option<T>,
) -> Option<T> {
    if let Some(found) = parse(&mut [EMPTY_HEADER; SMALL_HEAD]) {
        return Some(found);
    }
    if let Some(found) = parse(&mut [EMPTY_HEADER; LARGE_HEAD]) {
        return Some(found);
    }
    // Only under a configured limit above the arrays on the stack.
    parse(&mut heap_fields(input, limit))
}

/// A header array on the heap for what `input` holds, at most `limit` long.
fn heap_fields<'b>(input: &[u8], limit: usize) -> Vec<Header<'b>> {
    vec![EMPTY_HEADER; limit.min(input.len() / 3 + 1)]
}

/// What the next bytes of a received body hold, as offsets into the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyStep {
    /// Body data at `data`; `consumed` bytes are done with.
    Data { consumed: usize, data: Span },
    /// The body ended after `consumed` bytes, with the trailer fields at
    /// `trailers` (name, value spans of the input; empty for none).
    End {
        consumed: usize,
        trailers: Vec<(Span, Span)>,
    },
    /// More bytes are needed; `consumed` bytes are done with.
    NeedData { consumed: usize },
    /// No body event: the connection closed, paused or switched protocols.
    Over,
}

/// Receives the next piece of a body from `input`. Few bodies carry trailers:
/// the first try offers no room for them, and only a trailer section with
/// fields is parsed again, into an array on the heap of at most `max_headers`
/// entries.
pub(crate) fn next_body_step(
    conn: &mut Connection,
    input: &[u8],
    max_headers: usize,
) -> Result<BodyStep, proto::Error> {
    let received = conn.receive(input, &mut [])?;
    if received.event != Event::HeadersFull {
        return Ok(body_step(input, 0, received));
    }
    // The framing before the trailers is consumed: offer the rest.
    let before = received.consumed;
    let rest = &input[before..];
    let mut trailers = heap_fields(rest, max_headers);
    let received = conn.receive(rest, &mut trailers)?;
    match received.event {
        // Cannot happen: the array holds every field `rest` can have, or is as
        // long as the limit (and proto refuses past it itself). Answered as
        // that refusal all the same.
        Event::HeadersFull => Err(proto::Error::TooManyHeaders),
        _ => Ok(body_step(input, before, received)),
    }
}

/// `received` from `input[before..]`, as offsets into `input`.
fn body_step(input: &[u8], before: usize, received: Received<'_, '_>) -> BodyStep {
    let consumed = before + received.consumed;
    match received.event {
        Event::Data(data) => BodyStep::Data {
            consumed,
            data: span(input, data),
        },
        Event::End { trailers } => BodyStep::End {
            consumed,
            trailers: match trailers.is_empty() {
                true => Vec::new(),
                false => field_spans(input, trailers),
            },
        },
        Event::NeedData => BodyStep::NeedData { consumed },
        _ => BodyStep::Over,
    }
}

/// One emptied vector of each kind of field per thread, which [`Headers`]
/// give back when dropped and take when they need one.
///
/// A service drops its request before the driver parses the next one, and
/// the driver drops a response once its head is written, before the service
/// builds the next: with one spare per thread, the fields of each message
/// cost no allocation and no free, the way the driver's output buffer
/// already works ([`super::buffer`]).
mod spare {
    use core::cell::Cell;
    use std::thread::LocalKey;

    use super::{ByteStr, FieldValue, Span};

    /// Larger vectors are freed rather than kept: as many fields as the larger
    /// header array on the stack holds, so a spare never outgrows a usual head.
    const MAX_KEPT: usize = super::LARGE_HEAD;

    thread_local! {
        pub(super) static SPANS: Cell<Vec<(Span, Span)>> = const { Cell::new(Vec::new()) };
        pub(super) static ADDED: Cell<Vec<(ByteStr, FieldValue)>> = const { Cell::new(Vec::new()) };
    }

    /// The thread's spare, or a new empty vector.
    #[inline]
    pub(super) fn take<T: 'static>(spare: &'static LocalKey<Cell<Vec<T>>>) -> Vec<T> {
        spare.try_with(Cell::take).unwrap_or_default()
    }

    /// Empties `fields` and keeps the vector as the thread's spare, unless
    /// there is one already or it is too large.
    // Inlined: every message's two vectors pass here when it is dropped, most
    // of them empty, which the caller's copy returns for at once.
    #[inline]
    pub(super) fn put<T: 'static>(spare: &'static LocalKey<Cell<Vec<T>>>, mut fields: Vec<T>) {
        if fields.capacity() == 0 || fields.capacity() > MAX_KEPT {
            return;
        }
        fields.clear();
        let _ = spare.try_with(|spare| {
            let held = spare.take();
            spare.set(if held.capacity() == 0 { fields } else { held });
        });
    }
}

/// An immutable UTF-8 string: a static one, or one sharing its bytes with a
/// [`Bytes`] buffer (a received head).
#[derive(Clone)]
pub struct ByteStr(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    /// Bytes that every constructor took from a `str`.
    Shared(Bytes),
}

impl ByteStr {
    /// A string from a static one, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        ByteStr(Repr::Static(s))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            // Every constructor takes a `str`, so this never falls back.
            Repr::Shared(b) => core::str::from_utf8(b).unwrap_or_default(),
        }
    }

    /// The method at `span` of a received `head`: the registered methods
    /// (RFC 9110 §9) as static strings, which read without re-validation.
    pub(crate) fn method(head: &Bytes, span: Span) -> Self {
        const METHODS: [&str; 9] = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ];
        let bytes = &head[span.0..span.0 + span.1];
        match METHODS.iter().find(|m| m.as_bytes() == bytes) {
            Some(method) => ByteStr::from_static(method),
            None => ByteStr::from_span(head, span),
        }
    }

    /// The text at `span` of a received `head`, which `proto` checked is UTF-8.
    pub(crate) fn from_span(head: &Bytes, (at, len): Span) -> Self {
        ByteStr(Repr::Shared(head.slice(at..at + len)))
    }
}

impl Default for ByteStr {
    fn default() -> Self {
        ByteStr::from_static("")
    }
}

impl PartialEq for ByteStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ByteStr {}

impl core::hash::Hash for ByteStr {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for ByteStr {
    fn from(s: &'static str) -> Self {
        ByteStr::from_static(s)
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> Self {
        ByteStr(Repr::Shared(Bytes::from(s)))
    }
}

/// A copy: only a `&'static str` is shared as it is.
impl From<&String> for ByteStr {
    fn from(s: &String) -> Self {
        ByteStr::from(s.clone())
    }
}

impl From<Box<str>> for ByteStr {
    fn from(s: Box<str>) -> Self {
        ByteStr::from(String::from(s))
    }
}

/// A borrowed one is copied: only a `&'static str` is shared as it is.
impl From<Cow<'_, str>> for ByteStr {
    fn from(s: Cow<'_, str>) -> Self {
        ByteStr::from(s.into_owned())
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Header fields in order, names compared case-insensitively. Repeated names are
/// kept as separate fields, as received.
///
/// Fields of a received head stay where they were parsed: one shared buffer and
/// the spans of their names and values in it, so receiving a request costs no
/// reference count per field, and at most one small allocation whatever its
/// field count (none once the thread has dropped a message: see `spare`).
/// Fields added later come after them in order.
///
/// Hop-by-hop fields (RFC 9110 §7.6.1) are kept as received and sent as
/// given: an origin server or a user agent need not strip them, but a proxy
/// built on lithe must, before passing a message on: `Connection` and the
/// fields it names, `Keep-Alive`, `Proxy-Connection`, `TE` (a request's
/// goes out with `connection: te` added, as RFC 9110 §10.1.4 asks), `Upgrade`
/// (a lone one becomes a proposal when sent) and `Transfer-Encoding`; and
/// `Content-Length` where the body sent on frames the message again (a
/// request body sent on with `Body::from` keeps its length), not on an
/// answer to HEAD or a 304, where it states the GET's length.
#[derive(Clone, Default)]
pub struct Headers {
    /// The received head that `received` points into.
    head: Bytes,
    /// (name, value) spans of the received fields, in order.
    received: Vec<(Span, Span)>,
    /// Fields added since, in order, after the received ones.
    added: Vec<(ByteStr, FieldValue)>,
}

/// The fields of [`Headers`] in order: see [`Headers::iter`].
#[derive(Clone)]
pub struct HeadersIter<'a> {
    headers: &'a Headers,
    received: core::slice::Iter<'a, (Span, Span)>,
    added: core::slice::Iter<'a, (ByteStr, FieldValue)>,
}

impl<'a> Iterator for HeadersIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(spans) = self.received.next() {
            return Some(self.headers.received_field(spans));
        }
        self.added.next().map(|(n, v)| (n.as_str(), &v[..]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.received.len() + self.added.len();
        (left, Some(left))
    }
}

impl ExactSizeIterator for HeadersIter<'_> {}

/// The count of fields left, not the fields: values may be secrets, which
/// only [`Headers`]' own `Debug` knows to hide.
impl fmt::Debug for HeadersIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadersIter")
            .field("left", &self.len())
            .finish()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = HeadersIter<'a>;

    fn into_iter(self) -> HeadersIter<'a> {
        self.iter()
    }
}

/// `field` if `proto` would send it.
fn sendable(field: (ByteStr, FieldValue)) -> Result<(ByteStr, FieldValue), proto::SendError> {
    proto::validate_fields(&[Header {
        name: &field.0,
        value: &field.1,
    }])?;
    Ok(field)
}

impl Headers {
    /// No fields.
    pub fn new() -> Self {
        Headers::default()
    }

    /// The fields of a received `head`, at `spans` (name, value) of it; `proto`
    /// checked that every name is a token. Taking `head` rather than a clone
    /// of it spares a reference count's atomic increment and decrement.
    pub(crate) fn from_spans(head: Bytes, spans: Vec<(Span, Span)>) -> Self {
        Headers {
            head,
            received: spans,
            added: Vec::new(),
        }
    }

    /// The trailer fields at `spans` of the `consumed` bytes `buf` begins
    /// with, which it then discards; `None` for none. Copied out: kept with
    /// the connection (a client's, until its next request) they would
    /// otherwise hold on to the whole read buffer.
    pub(crate) fn trailers_from(
        buf: &mut super::buffer::ReadBuf,
        consumed: usize,
        spans: Vec<(Span, Span)>,
    ) -> Option<Self> {
        let trailers = match spans.is_empty() {
            true => None,
            false => {
                let section = Bytes::copy_from_slice(&buf.filled()[..consumed]);
                Some(Headers::from_spans(section, spans))
            }
        };
        buf.advance(consumed);
        trailers
    }

    /// The bytes of the received head at `span`.
    fn at(&self, (at, len): Span) -> &[u8] {
        &self.head[at..at + len]
    }

    /// The received field at `spans`.
    fn received_field(&self, &(name, value): &(Span, Span)) -> (&str, &[u8]) {
        (
            // A token: ASCII, so this never falls back.
            core::str::from_utf8(self.at(name)).unwrap_or_default(),
            self.at(value),
        )
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        let name = name.as_bytes();
        let received = self.received.iter().find_map(|&(n, v)| {
            let found = self.at(n).eq_ignore_ascii_case(name);
            found.then(|| self.at(v))
        });
        received.or_else(|| {
            self.added
                .iter()
                .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
                .map(|(_, v)| &v[..])
        })
    }

    /// The value of the first field named `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The values of every field named `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The elements of every field named `name`, each read as a
    /// comma-separated list (Connection, Transfer-Encoding, Expect, ...),
    /// trimmed, empty ones left out.
    pub(crate) fn elements<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name).flat_map(crate::proto::framing::list)
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds a field after the others. The field is not checked here: one
    /// that cannot be sent (a line break in the value, a name that is no
    /// token) fails its message when it is sent: a request's send returns
    /// `Error::Send` with nothing sent; a service's response is answered
    /// with a 500 instead, and a warning logged.
    /// [`try_append`](Headers::try_append) refuses it at once.
    pub fn append(&mut self, name: impl Into<ByteStr>, value: impl Into<FieldValue>) {
        self.add((name.into(), value.into()));
    }

    /// Replaces every field named `name` by one with `value`, which comes
    /// after all the others (where http's `HeaderMap` keeps the first one's
    /// place). Not checked here, as with [`append`](Headers::append);
    /// [`try_insert`](Headers::try_insert) is.
    pub fn insert(&mut self, name: impl Into<ByteStr>, value: impl Into<FieldValue>) {
        let name = name.into();
        self.remove(&name);
        self.add((name, value.into()));
    }

    /// [`append`](Headers::append), if the field is well-formed: `name` a
    /// token and `value` free of control characters other than tab (no CR, LF
    /// or NUL that could end the line), neither beginning nor ending with a
    /// space or tab (a recipient strips those, RFC 9110 §5.5). Every field is checked so when its
    /// message is sent, where a bad one fails the whole message (a server
    /// answers 500 instead; in trailers, all of them are left out); checking
    /// here refuses a value from outside (user input, an upstream's field)
    /// where it enters, and nothing is added. What a field means is not
    /// checked here: framing fields (`Content-Length: abc`) are judged with
    /// the rest of the head when it is sent.
    ///
    /// ```
    /// use lithe::io::Headers;
    /// use lithe::proto::SendError;
    ///
    /// let mut headers = Headers::new();
    /// let user_input = String::from("fine\r\nset-cookie: evil=1");
    /// assert_eq!(
    ///     headers.try_append("x-note", user_input),
    ///     Err(SendError::InvalidHeaderValue)
    /// );
    /// assert_eq!(headers.try_append("bad name", "v"), Err(SendError::InvalidHeaderName));
    /// assert_eq!(headers.try_append("x-note", "v "), Err(SendError::InvalidHeaderValue));
    /// assert!(headers.is_empty());
    /// headers.try_append("x-note", "fine").unwrap();
    /// assert_eq!(headers.get("x-note"), Some(&b"fine"[..]));
    /// ```
    pub fn try_append(
        &mut self,
        name: impl Into<ByteStr>,
        value: impl Into<FieldValue>,
    ) -> Result<(), proto::SendError> {
        let field = sendable((name.into(), value.into()))?;
        self.add(field);
        Ok(())
    }

    /// [`insert`](Headers::insert), if the field may be sent, as
    /// [`try_append`](Headers::try_append) checks it; on an error the fields
    /// stay as they were.
    ///
    /// ```
    /// use lithe::io::Headers;
    ///
    /// let mut headers = Headers::new();
    /// headers.append("x-note", "first");
    /// assert!(headers.try_insert("x-note", "a\nb").is_err());
    /// assert_eq!(headers.get("x-note"), Some(&b"first"[..]));
    /// headers.try_insert("x-note", "second").unwrap();
    /// assert_eq!(headers.get_all("x-note").count(), 1);
    /// assert_eq!(headers.get("x-note"), Some(&b"second"[..]));
    /// ```
    pub fn try_insert(
        &mut self,
        name: impl Into<ByteStr>,
        value: impl Into<FieldValue>,
    ) -> Result<(), proto::SendError> {
        let (name, value) = sendable((name.into(), value.into()))?;
        self.insert(name, value);
        Ok(())
    }

    fn add(&mut self, field: (ByteStr, FieldValue)) {
        if self.added.capacity() == 0 {
            self.added = spare::take(&spare::ADDED);
        }
        self.added.push(field);
    }

    /// Makes Content-Length fields that agree on one length, but not as one
    /// field of digits (`5, 5`, `05` beside `5`, or the field twice: what a
    /// recipient accepts and a proxy may pass on), that one field, as a sender
    /// must send it (RFC 9110 §8.6). Fields that disagree are left for `proto`
    /// to refuse.
    pub(crate) fn canonicalize_content_length(&mut self) {
        if proto::framing::is_one_length(self.get_all("content-length")) {
            return;
        }
        if let Some(length) = proto::framing::agreed_length(self.get_all("content-length")) {
            self.insert("content-length", length);
        }
    }

    /// Removes every field named `name`.
    pub fn remove(&mut self, name: &str) {
        let head = &self.head;
        self.received
            .retain(|&((at, len), _)| !head[at..at + len].eq_ignore_ascii_case(name.as_bytes()));
        self.added.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The fields in order, as (name, value); `&headers` iterates the same.
    ///
    /// ```
    /// use lithe::io::Headers;
    /// let headers: Headers = [("a", "1"), ("b", "2")].into_iter().collect();
    /// let mut names = Vec::new();
    /// for (name, _value) in &headers {
    ///     names.push(name);
    /// }
    /// assert_eq!(names, ["a", "b"]);
    /// ```
    pub fn iter(&self) -> HeadersIter<'_> {
        HeadersIter {
            headers: self,
            received: self.received.iter(),
            added: self.added.iter(),
        }
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.received.len() + self.added.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with borrowed views of `first`, the fields, then `last`, for
    /// the `proto` encoder: on the stack when they are few, as they usually
    /// are.
    // Inlined into its two callers, on the path of every message: called,
    // its arguments and the views cost a copy more (about 4% of a
    // pipelined request's instructions).
    #[inline(always)]
    pub(crate) fn with_proto<R>(
        &self,
        first: Option<Header<'_>>,
        last: Option<Header<'_>>,
        f: impl FnOnce(&[Header<'_>]) -> R,
    ) -> R {
        /// Views in a stack array of `N`, which must hold them all.
        #[inline(always)]
        fn on_stack<'a, const N: usize, R>(
            views: impl Iterator<Item = Header<'a>>,
            count: usize,
            f: impl FnOnce(&[Header<'_>]) -> R,
        ) -> R {
            let mut array = [EMPTY_HEADER; N];
            for (slot, view) in array.iter_mut().zip(views) {
                *slot = view;
            }
            f(&array[..count])
        }
        /// Most messages carry a few fields: an array sized for them costs
        /// less to fill than one sized for many.
        #[inline(always)]
        fn sized<'a, R>(
            views: impl Iterator<Item = Header<'a>>,
            count: usize,
            f: impl FnOnce(&[Header<'_>]) -> R,
        ) -> R {
            match count {
                0..=4 => on_stack::<4, R>(views, count, f),
                5..=16 => on_stack::<16, R>(views, count, f),
                _ => f(&views.collect::<Vec<_>>()),
            }
        }
        let fields = self.iter().map(|(name, value)| Header { name, value });
        let count = self.len() + usize::from(last.is_some());
        // Apart: a response (never a `first`) iterates one chain less.
        match first {
            None => sized(fields.chain(last), count, f),
            Some(first) => sized(
                core::iter::once(first).chain(fields).chain(last),
                count + 1,
                f,
            ),
        }
    }
}

impl Drop for Headers {
    fn drop(&mut self) {
        spare::put(&spare::SPANS, core::mem::take(&mut self.received));
        spare::put(&spare::ADDED, core::mem::take(&mut self.added));
    }
}

/// Appends each field after the others, as [`Headers::append`] does (so not
/// checked here either).
///
/// ```
/// use lithe::io::Headers;
/// let mut headers = Headers::new();
/// headers.extend([("accept", "text/html"), ("accept", "*/*")]);
/// assert_eq!(headers.get_all("Accept").count(), 2);
/// ```
impl<N: Into<ByteStr>, V: Into<FieldValue>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, fields: I) {
        for (name, value) in fields {
            self.append(name, value);
        }
    }
}

/// The fields in order, as [`Extend`] appends them.
///
/// ```
/// use lithe::io::Headers;
/// let headers: Headers = [("host", "example.com"), ("accept", "*/*")].into_iter().collect();
/// assert_eq!(headers.get_str("Host"), Some("example.com"));
/// assert_eq!(headers.len(), 2);
/// ```
impl<N: Into<ByteStr>, V: Into<FieldValue>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(fields: I) -> Self {
        let mut headers = Headers::new();
        headers.extend(fields);
        headers
    }
}

/// Equal when they hold the same fields in the same order, however each was
/// made, names compared case-insensitively and values exactly.
///
/// ```
/// use lithe::io::Headers;
/// let (mut sent, mut built) = (Headers::new(), Headers::new());
/// sent.append("Host", "a");
/// built.append("host", "a");
/// assert_eq!(sent, built);
/// built.insert("host", "A");
/// assert_ne!(sent, built);
/// ```
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((n1, v1), (n2, v2))| n1.eq_ignore_ascii_case(n2) && v1 == v2)
    }
}

impl Eq for Headers {}

/// Fields whose values are credentials: `Debug` shows `<redacted>` for them,
/// so that logging a request or a response does not leak them.
const SENSITIVE: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// The fields in order, values escaped where not printable ASCII, those of
/// credential fields (`Authorization`, `Proxy-Authorization`, `Cookie`,
/// `Set-Cookie`) redacted. (Only here: `proto`'s heads show what they
/// borrow as it is.)
///
/// ```
/// use lithe::io::Headers;
/// let mut headers = Headers::new();
/// headers.append("Accept", "*/*");
/// headers.append("Authorization", "Bearer s3cret");
/// headers.append("X-Path", r#"C:\a"b"#);
/// headers.append("X-Name", "café");
/// let shown = format!("{headers:?}");
/// assert_eq!(
///     shown,
///     r#"{"Accept": "*/*", "Authorization": <redacted>, "X-Path": "C:\\a\"b", "X-Name": "caf\xc3\xa9"}"#
/// );
/// ```
impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.iter().map(|(name, value)| {
            let sensitive = SENSITIVE.iter().any(|s| name.eq_ignore_ascii_case(s));
            (name, ShownValue((!sensitive).then_some(value)))
        });
        f.debug_map().entries(shown).finish()
    }
}

/// A field value as `Headers`' `Debug` shows it: as [`FieldValue`]'s does, or
/// `<redacted>`.
struct ShownValue<'a>(Option<&'a [u8]>);

impl fmt::Debug for ShownValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write_quoted(value, f),
            None => f.write_str("<redacted>"),
        }
    }
}

/// An HTTP request: what a server's service receives (`B` = [`Incoming`]) or what
/// a client sends (`B` = [`Body`]).
///
/// ```
/// use lithe::io::Request;
/// let req = Request::new("GET", "/hello").with_header("Host", "example.com");
/// assert_eq!(req.method(), "GET");
/// assert_eq!(req.headers().get_str("host"), Some("example.com"));
/// ```
pub struct Request<B = Incoming> {
    method: ByteStr,
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
            .field("method", &self.method)
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
            method: method.into(),
            target: Target::Given(target.into()),
            version: Version::Http11,
            headers: Headers::new(),
            body: Body::empty(),
            upgrade: None,
        }
    }

    /// The same request with `body`.
    #[inline]
    pub fn with_body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }
}

impl<B> Request<B> {
    /// A received request whose target is at `target` in the head `headers`
    /// keep.
    pub(crate) fn received(
        method: ByteStr,
        target: Span,
        version: Version,
        headers: Headers,
        body: B,
        upgrade: Option<OnUpgrade>,
    ) -> Self {
        Request {
            method,
            target: Target::Received(target),
            version,
            headers,
            body,
            upgrade,
        }
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        &self.method
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
    /// assert_eq!(Request::new("CONNECT", "example.net:443").host(), Some("example.net:443"));
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
    pub fn with_version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change.
    pub fn headers_mut(&mut self) -> &mut Headers {
        // The fields may be replaced whole, head and all: the target takes a
        // reference to the head first.
        self.detach_target();
        &mut self.headers
    }

    /// The same request with one more header field, not checked here (see
    /// [`Headers::append`]).
    #[inline]
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

    /// The body, to read or replace.
    pub fn body_mut(&mut self) -> &mut B {
        &mut self.body
    }

    /// Takes the body, dropping the head.
    pub fn into_body(self) -> B {
        self.body
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
    ///     let offers_echo = request.method() != "CONNECT"
    ///         && (request.headers().get_all("upgrade"))
    ///             .flat_map(|value| value.split(|&b| b == b','))
    ///             .any(|protocol| protocol.trim_ascii().eq_ignore_ascii_case(b"echo"));
    ///     let (true, Some(on_upgrade)) = (offers_echo, request.upgrade()) else {
    ///         return Response::new(StatusCode::UPGRADE_REQUIRED)
    ///             .with_header("upgrade", "echo")
    ///             .with_header("connection", "upgrade");
    ///     };
    ///     // A thread here; a task of the executor in practice.
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
    /// switch but not taken, the connection is closed after the response. The
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

    /// The protocol version.
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

    /// The head and the body apart.
    #[inline]
    pub(crate) fn into_parts(self) -> (StatusCode, ByteStr, Headers, B) {
        let reason = match self.reason {
            Some(reason) => *reason,
            None => ByteStr::from_static(self.status.canonical_reason().unwrap_or("")),
        };
        (self.status, reason, self.headers, self.body)
    }
}

impl<B> Request<B> {
    pub(crate) fn into_parts(self) -> (ByteStr, ByteStr, Version, Headers, B) {
        let target = match self.target {
            Target::Given(target) => target,
            Target::Received(span) => ByteStr::from_span(&self.headers.head, span),
        };
        (self.method, target, self.version, self.headers, self.body)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::{ByteStr, Headers, Repr, field_spans};
    use crate::proto::{Connection, EMPTY_HEADER, Event};

    /// Headers as the server driver builds them from a received head.
    fn received(head: &'static [u8]) -> Headers {
        let mut fields = [EMPTY_HEADER; 8];
        let mut conn = Connection::server(Default::default());
        let received = conn.receive(head, &mut fields).expect("the head parses");
        let Event::Request(request) = received.event else {
            panic!("{received:?}")
        };
        Headers::from_spans(Bytes::from_static(head), field_spans(head, request.headers))
    }

    #[test]
    fn registered_methods_are_static_and_others_share_the_head() {
        let head = Bytes::from_static(b"GET PATCH DELETE get PURGE GETS");
        let at = |word: &str| {
            let start = head.windows(word.len()).position(|w| w == word.as_bytes());
            (start.expect("in the head"), word.len())
        };
        for registered in ["GET", "PATCH", "DELETE"] {
            let method = ByteStr::method(&head, at(registered));
            assert!(matches!(method.0, Repr::Static(_)), "{registered}");
            assert_eq!(method.as_str(), registered);
        }
        // Methods are case-sensitive, and a prefix is not the method.
        for other in ["get", "PURGE", "GETS"] {
            let method = ByteStr::method(&head, at(other));
            assert!(matches!(method.0, Repr::Shared(_)), "{other}");
            assert_eq!(method.as_str(), other);
        }
    }

    #[test]
    fn dropped_headers_lend_their_vectors_to_the_next_without_their_fields() {
        // Tests run on threads of their own, so this one's spares are its own.
        let first = received(b"GET / HTTP/1.1\r\nHost: a\r\nX-Old: 1\r\nX-Old: 2\r\n\r\n");
        let mut built = Headers::new();
        for i in 0..5 {
            built.append("x-old", format!("{i}"));
        }
        let (received_at, added_at) = (first.received.as_ptr(), built.added.as_ptr());
        drop((first, built));

        let second = received(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n");
        let mut next = Headers::new();
        next.append("x-new", "1");
        assert_eq!(
            second.received.as_ptr(),
            received_at,
            "the spans' vector is reused"
        );
        assert_eq!(
            next.added.as_ptr(),
            added_at,
            "the added fields' vector is reused"
        );
        let fields: Vec<_> = second.iter().chain(next.iter()).collect();
        assert_eq!(fields, [("Host", &b"b"[..]), ("x-new", b"1")]);
    }

    #[test]
    fn received_and_added_fields_read_edit_and_compare_as_one_list() {
        let mut headers = received(b"GET / HTTP/1.1\r\nHost: a\r\nX-Two: 1\r\nx-two: 2\r\n\r\n");
        assert_eq!(headers.len(), 3);
        assert_eq!(headers.get("HOST"), Some(&b"a"[..]));
        assert_eq!(headers.get_all("x-two").collect::<Vec<_>>(), [b"1", b"2"]);

        headers.append("Accept", "*/*");
        headers.insert("x-TWO", "3");
        let fields: Vec<_> = headers.iter().collect();
        assert_eq!(
            fields,
            [("Host", &b"a"[..]), ("Accept", b"*/*"), ("x-TWO", b"3")]
        );
        headers.remove("host");
        assert_eq!(headers.get("host"), None);
        assert_eq!(headers.len(), 2);

        let mut built = Headers::new();
        built.append("Accept", "*/*");
        built.append("x-TWO", "3");
        assert_eq!(headers, built);
        built.append("Extra", "");
        assert_ne!(headers, built);
    }
}
