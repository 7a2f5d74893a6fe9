//! [`Headers`]: the fields of a message, received ones kept as spans of
//! their head, added ones after them.

use core::fmt;

use bytes::Bytes;
use thin_vec::ThinVec;

use super::byte_str::ByteStr;
use super::field_value::{FieldValue, write_quoted};
use super::receive::{LARGE_HEAD, Span, Spans, span};
use crate::proto::{self, EMPTY_HEADER, Header};

/// The spans of `fields`, parsed from `input`: (name, value) each.
pub(crate) fn field_spans(input: &[u8], fields: &[Header<'_>]) -> Spans {
    let mut spans = spare::take(&spare::SPANS);
    spans.extend(
        fields
            .iter()
            .map(|f| (span(input, f.name.as_bytes()), span(input, f.value))),
    );
    spans
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

    use thin_vec::ThinVec;

    use super::{ByteStr, FieldValue, Spans};

    /// Larger vectors are freed rather than kept: as many fields as the larger
    /// header array on the stack holds, so a spare never outgrows a usual head.
    const MAX_KEPT: usize = super::LARGE_HEAD;

    thread_local! {
        pub(super) static SPANS: Cell<Spans> = const { Cell::new(ThinVec::new()) };
        pub(super) static ADDED: Cell<ThinVec<(ByteStr, FieldValue)>> = const { Cell::new(ThinVec::new()) };
    }

    /// The thread's spare, or a new empty vector.
    #[inline]
    pub(super) fn take<T: 'static>(spare: &'static LocalKey<Cell<ThinVec<T>>>) -> ThinVec<T> {
        spare.try_with(Cell::take).unwrap_or_default()
    }

    /// Empties `fields` and keeps the vector as the thread's spare, unless
    /// there is one already or it is too large.
    // Inlined: every message's two vectors pass here when it is dropped, most
    // of them empty, which the caller's copy returns for at once.
    #[inline]
    pub(super) fn put<T: 'static>(
        spare: &'static LocalKey<Cell<ThinVec<T>>>,
        mut fields: ThinVec<T>,
    ) {
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

/// Header fields in order, names compared case-insensitively. Repeated names are
/// kept as separate fields, as received.
///
/// Fields of a received head stay where they were parsed: one shared buffer and
/// the spans of their names and values in it, so receiving a request costs no
/// reference count per field, and a head of up to 128 fields at most one
/// small allocation (none once the thread has dropped a message: see
/// `spare`). A larger head, under a `max_headers` raised past the default
/// 100, allocates its spans and the parser's field array each time.
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
    pub(super) head: Bytes,
    /// (name, value) spans of the received fields, in order.
    received: Spans,
    /// Fields added since, in order, after the received ones.
    added: ThinVec<(ByteStr, FieldValue)>,
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

    #[inline]
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

/// Both slices' iterators are fused.
impl core::iter::FusedIterator for HeadersIter<'_> {}

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
    pub(crate) fn from_spans(head: Bytes, spans: Spans) -> Self {
        Headers {
            head,
            received: spans,
            added: ThinVec::new(),
        }
    }

    /// The trailer fields at `spans` of the `consumed` bytes `buf` begins
    /// with, which it then discards; `None` for none. Copied out: kept with
    /// the connection (a client's, until its next request) they would
    /// otherwise hold on to the whole read buffer.
    pub(crate) fn trailers_from(
        buf: &mut super::buffer::ReadBuf,
        consumed: usize,
        spans: Spans,
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
    pub(super) fn at(&self, (at, len): Span) -> &[u8] {
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

    /// Whether the fields named `name`, read as [`elements`](Self::elements),
    /// name `element`, compared without regard to case (a Connection option,
    /// an Upgrade protocol).
    pub(crate) fn names_element(&self, name: &str, element: &[u8]) -> bool {
        self.elements(name)
            .any(|named| named.eq_ignore_ascii_case(element))
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
    #[inline]
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
/// let mut secrets = Headers::new();
/// secrets.append("COOKIE", "s=1");
/// secrets.append("set-cookie", "t=2");
/// secrets.append("Proxy-Authorization", "Basic eA==");
/// assert_eq!(
///     format!("{secrets:?}"),
///     r#"{"COOKIE": <redacted>, "set-cookie": <redacted>, "Proxy-Authorization": <redacted>}"#
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::{Headers, field_spans};
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

    /// Every count of views, either side of each stack array's size, is
    /// handed to the encoder whole and in order.
    #[test]
    fn views_for_the_encoder_are_every_field_in_order_whatever_their_count() {
        let first = Some(crate::proto::Header {
            name: "first",
            value: b"0",
        });
        let last = Some(crate::proto::Header {
            name: "last",
            value: b"1",
        });
        for count in 0..=20 {
            let mut headers = Headers::new();
            for i in 0..count {
                headers.append(format!("x-{i}"), format!("{i}"));
            }
            for (first, last) in [(None, None), (None, last), (first, last)] {
                let names: Vec<String> = headers.with_proto(first, last, |views| {
                    views.iter().map(|view| view.name.to_owned()).collect()
                });
                let expected: Vec<String> = first
                    .iter()
                    .map(|view| view.name.to_owned())
                    .chain((0..count).map(|i| format!("x-{i}")))
                    .chain(last.iter().map(|view| view.name.to_owned()))
                    .collect();
                assert_eq!(names, expected, "{count} fields");
            }
        }
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

        // A name received and added: the received field comes first.
        let mut proxied = received(b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1\r\n\r\n");
        proxied.append("x-forwarded-for", "2");
        assert_eq!(proxied.get("X-Forwarded-For"), Some(&b"1"[..]));
        let mut fields = proxied.iter();
        assert_eq!(fields.len(), 3);
        fields.next();
        assert_eq!(fields.len(), 2);
    }
}
