//! Serializing heads into the caller's buffer, and the small framing pieces that
//! go around body data.
//!
//! Every byte that reaches the buffer has been validated first: a method or name
//! that is not a token, or a value with CR, LF, NUL or another control byte
//! than HTAB, is a [`SendError`], never bytes on the wire. Serialization
//! measures before it writes, so a buffer too small gets nothing half-written.

use super::chunked::ChunkPrefix;
use super::error::SendError;
use super::framing::list;
use super::head::{Header, RequestHead, ResponseHead, TargetForm, byte_table, is_token};

/// Header fields the connection adds to what the caller gave, to make the framing
/// and persistence it chose explicit to the peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AddedFields<'d> {
    /// `Date`, an IMF-fixdate the caller formatted from its clock (a server's
    /// `io` driver), written before the other added lines.
    pub date: Option<&'d [u8; IMF_FIXDATE_LEN]>,
    /// `Content-Length`, for a body whose length the caller gave apart from the head.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`, for a response of unknown length to HTTP/1.1.
    pub chunked: bool,
    /// `Connection: close`, when the connection will not persist.
    pub close: bool,
    /// `Connection: keep-alive`, to an HTTP/1.0 peer that asked for persistence.
    pub keep_alive: bool,
    /// `Connection: upgrade`, for a head with an `Upgrade` field whose own
    /// `Connection` fields do not name it (RFC 9110 §7.8: a sender of
    /// Upgrade must).
    pub upgrade: bool,
}

/// The length of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form
/// of HTTP-date a sender generates (RFC 9110 §5.6.7), in years 1970 to 9999.
pub(crate) const IMF_FIXDATE_LEN: usize = 29;

const DATE: &[u8] = b"date: ";
const CONTENT_LENGTH: &[u8] = b"content-length: ";
const CHUNKED: &[u8] = b"transfer-encoding: chunked\r\n";
const CLOSE: &[u8] = b"connection: close\r\n";
const KEEP_ALIVE: &[u8] = b"connection: keep-alive\r\n";
const UPGRADE: &[u8] = b"connection: upgrade\r\n";

impl AddedFields<'_> {
    /// The bytes of the added lines, `length` being `content_length` measured.
    #[inline(always)]
    fn len(self, length: Option<Decimal>) -> usize {
        let date = self.date.map_or(0, |_| DATE.len() + IMF_FIXDATE_LEN + 2);
        let length = length.map_or(0, |n| CONTENT_LENGTH.len() + n.digits + 2);
        date + length
            + usize::from(self.chunked) * CHUNKED.len()
            + usize::from(self.close) * CLOSE.len()
            + usize::from(self.keep_alive) * KEEP_ALIVE.len()
            + usize::from(self.upgrade) * UPGRADE.len()
    }

    #[inline(always)]
    fn write(self, length: Option<Decimal>, cursor: &mut Cursor<'_>) {
        if let Some(date) = self.date {
            cursor.put(DATE);
            cursor.put(date);
            cursor.put_pair(*b"\r\n");
        }
        if let Some(n) = length {
            cursor.put(CONTENT_LENGTH);
            cursor.put_decimal(n);
            cursor.put_pair(*b"\r\n");
        }
        // Most heads get none of these lines: one test spares the four.
        if !(self.chunked | self.close | self.keep_alive | self.upgrade) {
            return;
        }
        for (on, line) in [
            (self.chunked, CHUNKED),
            (self.close, CLOSE),
            (self.keep_alive, KEEP_ALIVE),
            (self.upgrade, UPGRADE),
        ] {
            if on {
                cursor.put(line);
            }
        }
    }
}

/// A number and how many decimal digits it has, measured once.
#[derive(Clone, Copy)]
struct Decimal {
    value: u64,
    digits: usize,
}

impl Decimal {
    fn new(value: u64) -> Decimal {
        let digits = value.checked_ilog10().map_or(1, |log| log as usize + 1);
        Decimal { value, digits }
    }
}

/// Checks a request head before anything is written.
pub(crate) fn validate_request(head: &RequestHead<'_, '_>) -> Result<(), SendError> {
    if !is_token(head.method.as_bytes()) {
        return Err(SendError::InvalidMethod);
    }
    let target = head.target.as_bytes();
    // Visible ASCII only: no whitespace, no controls, and nothing past
    // ASCII, which the grammar leaves to percent-encoding (RFC 9112 §3.2,
    // RFC 3986 §2.1; hyper and h11 refuse it, though lithe takes it); and
    // one of the four forms, the one the method takes, as a recipient
    // checks (no fragment, no userinfo), so that what we send parses back.
    if target.is_empty()
        || !target.iter().all(|&b| b > 0x20 && b < 0x7f)
        || !TargetForm::of(head.target).fits_method(head.method)
    {
        return Err(SendError::InvalidRequestTarget);
    }
    validate_fields(head.headers)
}

/// Checks a response head before anything is written.
pub(crate) fn validate_response(head: &ResponseHead<'_, '_>) -> Result<(), SendError> {
    if head.status.as_u16() > 599 {
        return Err(SendError::InvalidStatus);
    }
    // RFC 9112 §4 allows obs-text (bytes past ASCII) in a reason phrase, but
    // a recipient may drop it: httparse, lithe's own parser among them, reads
    // such a reason as empty, so it would not survive the trip.
    if !head
        .reason
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err(SendError::InvalidReasonPhrase);
    }
    validate_fields(head.headers)
}

/// Checks header fields (or trailers) before anything is written.
pub(crate) fn validate_fields(fields: &[Header<'_>]) -> Result<(), SendError> {
    for field in fields {
        if !is_token(field.name.as_bytes()) {
            return Err(SendError::InvalidHeaderName);
        }
        if !is_field_value(field.value) {
            return Err(SendError::InvalidHeaderValue);
        }
    }
    Ok(())
}

/// Fields a trailer section may not carry: they decide framing, routing, the
/// connection, authentication, how the request is served or how the content is
/// read, which a recipient has settled by the time trailers arrive, and one
/// that merges trailers into the header section would be misled by them (RFC
/// 9110 §6.5.1 names these kinds; the list holds their common fields).
const HEADER_SECTION_ONLY: [&str; 38] = [
    "content-length",
    "transfer-encoding",
    "trailer",
    "host",
    "max-forwards",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "expect",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
    "range",
    "cache-control",
    "pragma",
    "content-type",
    "content-encoding",
    "content-range",
    // Request modifiers: conditionals and content negotiation (RFC 9110
    // §13, §12.5), settled before the content is read.
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    // Response control data (RFC 9110 §15, §10.2; RFC 9111 §5), acted on
    // with the status.
    "location",
    "retry-after",
    "vary",
    "age",
    "expires",
    "date",
];

/// Whether a field named `name` belongs in the header section only, and so
/// may not be sent as a trailer ([`SendError::ForbiddenTrailer`]): it decides
/// framing, routing, the connection, authentication, how the request is
/// served or how the content is read (RFC 9110 §6.5.1), which a recipient has
/// settled before trailers arrive. Names are compared ignoring ASCII case.
///
/// ```
/// use lithe::proto::is_header_section_only;
/// assert!(is_header_section_only("Content-Length"));
/// assert!(is_header_section_only("set-cookie"));
/// assert!(!is_header_section_only("Server-Timing"));
/// ```
pub fn is_header_section_only(name: &str) -> bool {
    HEADER_SECTION_ONLY
        .iter()
        .any(|only| name.eq_ignore_ascii_case(only))
}

/// Checks trailer fields before anything is written: as header fields, and
/// none of [`HEADER_SECTION_ONLY`].
pub(crate) fn validate_trailers(trailers: &[Header<'_>]) -> Result<(), SendError> {
    validate_fields(trailers)?;
    match trailers
        .iter()
        .any(|field| is_header_section_only(field.name))
    {
        true => Err(SendError::ForbiddenTrailer),
        false => Ok(()),
    }
}

/// field-vchar, SP and HTAB (RFC 9110 §5.5); DEL too is refused, as httparse
/// refuses it on receipt.
const fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// [`is_field_value_byte`] as a table: one load per byte.
static FIELD_VALUE: [bool; 256] = byte_table!(is_field_value_byte);

/// Whether every byte of `value` passes [`is_field_value_byte`], and it
/// neither begins nor ends with SP or HTAB: field-content does not (RFC 9110
/// §5.5), and a recipient strips them, so such a value would not arrive as
/// sent (h11 refuses it too). Every outgoing value passes here, so eight
/// bytes are looked at together: a word with no byte below SP and no DEL is
/// valid whole, and only a word with one (usually a tab) is checked byte by
/// byte.
fn is_field_value(value: &[u8]) -> bool {
    if let (Some(&first), Some(&last)) = (value.first(), value.last()) {
        // One branch for the four comparisons: every outgoing value pays it.
        if (first == b' ') | (first == b'\t') | (last == b' ') | (last == b'\t') {
            return false;
        }
    }
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    let bytewise = |bytes: &[u8]| bytes.iter().all(|&b| FIELD_VALUE[usize::from(b)]);
    let mut words = value.chunks_exact(8);
    for word in &mut words {
        let Ok(word_bytes) = <[u8; 8]>::try_from(word) else {
            return bytewise(value);
        };
        let x = u64::from_ne_bytes(word_bytes);
        // The high bit of a byte is set where the byte is below 0x20, or
        // (for `del`) where it is 0x7f; the borrow of a flagged byte may flag
        // the next one too, which the bytewise check then clears.
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH_BITS;
        let not_del = x ^ (ONES * 0x7f);
        let del = not_del.wrapping_sub(ONES) & !not_del & HIGH_BITS;
        if below_space | del != 0 && !bytewise(word) {
            return false;
        }
    }
    bytewise(words.remainder())
}

/// `Connection: te`, for a request's `TE` field that its `Connection` fields
/// do not name (RFC 9110 §10.1.4: a sender of TE must). Requests only, so
/// chosen at compile time (`write_head`'s `TE`) rather than among the added
/// lines every response head weighs; written last, as a length given apart
/// (an added line) must come out as the same field given in the head would.
const CONNECTION_TE: &[u8] = b"connection: te\r\n";

/// Writes `request-line`, the fields, the added fields (and
/// [`CONNECTION_TE`] with `connection_te`) and the empty line.
pub(crate) fn write_request(
    head: &RequestHead<'_, '_>,
    added: AddedFields<'_>,
    connection_te: bool,
    out: &mut [u8],
) -> Result<usize, SendError> {
    let start: [&[u8]; 6] = [
        head.method.as_bytes(),
        b" ",
        head.target.as_bytes(),
        b" ",
        head.version.as_str().as_bytes(),
        b"\r\n",
    ];
    match connection_te {
        true => write_head::<true>(&start, head.headers.iter(), added, out),
        false => write_head::<false>(&start, head.headers.iter(), added, out),
    }
}

/// Writes `status-line`, the fields, the added fields and the empty line.
pub(crate) fn write_response(
    head: &ResponseHead<'_, '_>,
    added: AddedFields<'_>,
    out: &mut [u8],
) -> Result<usize, SendError> {
    let (registered, digits, parts);
    // The registered line, as one copy, when that is what the head says.
    let line = match head.version == super::head::Version::Http11
        && head.status.canonical_reason() == Some(head.reason)
    {
        true => head.status.http11_status_line(),
        false => None,
    };
    let start: &[&[u8]] = match line {
        Some(line) => {
            registered = [line];
            &registered
        }
        None => {
            digits = head.status.digits();
            parts = [
                head.version.as_str().as_bytes(),
                b" ",
                &digits,
                b" ",
                head.reason.as_bytes(),
                b"\r\n",
            ];
            &parts
        }
    };
    if added.close && head.headers.iter().any(names_keep_alive) {
        return write_head_without_keep_alive(start, head.headers, added, out);
    }
    write_head::<false>(start, head.headers.iter(), added, out)
}

/// `connection: close` goes out: a `keep-alive` option in the caller's
/// Connection fields would contradict it, so it is left out. The other
/// options of those fields (fields the caller declared hop-by-hop) go on
/// the close line, `connection: x-hop, close`; the caller's other fields
/// are written as given.
#[cold]
fn write_head_without_keep_alive(
    start: &[&[u8]],
    fields: &[Header<'_>],
    added: AddedFields<'_>,
    out: &mut [u8],
) -> Result<usize, SendError> {
    let kept_options = || {
        fields
            .iter()
            .filter(|field| names_keep_alive(field))
            .flat_map(|field| list(field.value))
            .filter(|option| !option.eq_ignore_ascii_case(b"keep-alive"))
    };
    // Each kept option is written with ", " before `close`. Counted in u64,
    // as `write_head` counts: fields sharing one long value could add up
    // past `usize::MAX` on a 32-bit target.
    let options_bytes: u64 = kept_options().map(|option| option.len() as u64 + 2).sum();
    let extra = usize::try_from(CLOSE.len() as u64 + options_bytes).unwrap_or(usize::MAX);
    let others = fields.iter().filter(|field| !names_keep_alive(field));
    let without_close = AddedFields {
        close: false,
        ..added
    };
    let room = out.len().saturating_sub(extra);
    let written = write_head::<false>(start, others, without_close, &mut out[..room])
        .map_err(|e| e.needing_more(extra))?;
    // The close line takes the place of the empty line, which follows it.
    let mut cursor = Cursor {
        out,
        pos: written - 2,
    };
    cursor.put(&CLOSE[..CLOSE.len() - b"close\r\n".len()]);
    for option in kept_options() {
        cursor.put(option);
        cursor.put_pair(*b", ");
    }
    cursor.put(b"close\r\n\r\n");
    Ok(cursor.pos)
}

/// A `Connection` field that names the `keep-alive` option.
fn names_keep_alive(field: &Header<'_>) -> bool {
    field.name.eq_ignore_ascii_case("connection")
        && list(field.value).any(|option| option.eq_ignore_ascii_case(b"keep-alive"))
}

/// Writes the last chunk, the trailer fields and the final empty line.
pub(crate) fn write_last_chunk(
    trailers: &[Header<'_>],
    out: &mut [u8],
) -> Result<usize, SendError> {
    write_head::<false>(&[b"0\r\n"], trailers.iter(), AddedFields::default(), out)
}

/// Writes the start line from `start`, the `fields`, the added fields (and
/// [`CONNECTION_TE`] with `TE`) and the empty line.
fn write_head<'f, const TE: bool>(
    start: &[&[u8]],
    fields: impl Iterator<Item = &'f Header<'f>> + Clone,
    added: AddedFields<'_>,
    out: &mut [u8],
) -> Result<usize, SendError> {
    // Counted in u64: on a 32-bit target, fields that share one long value
    // could add up past `usize::MAX`, and a wrapped sum would pass the check
    // below (no field array in memory can make a u64 wrap).
    let field_bytes: u64 = fields
        .clone()
        .map(|f| (f.name.len() + 4) as u64 + f.value.len() as u64)
        .sum();
    let length = added.content_length.map(Decimal::new);
    let start_bytes: usize = start.iter().map(|p| p.len()).sum();
    let te_bytes = if TE { CONNECTION_TE.len() } else { 0 };
    let needed = field_bytes + (start_bytes + added.len(length) + te_bytes + 2) as u64;
    if (out.len() as u64) < needed {
        let needed = usize::try_from(needed).unwrap_or(usize::MAX);
        return Err(SendError::BufferTooSmall { needed });
    }
    let mut cursor = Cursor { out, pos: 0 };
    for piece in start {
        cursor.put(piece);
    }
    for field in fields {
        cursor.put(field.name.as_bytes());
        cursor.put_pair(*b": ");
        cursor.put(field.value);
        cursor.put_pair(*b"\r\n");
    }
    added.write(length, &mut cursor);
    if TE {
        cursor.put(CONNECTION_TE);
    }
    cursor.put_pair(*b"\r\n");
    Ok(cursor.pos)
}

struct Cursor<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// Pieces of a head are short (names, small values, a status line): up to
    /// 32 bytes they are copied as two overlapping fixed-size words, a few
    /// moves where a slice of unknown length is a `memcpy` call.
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        let out = &mut self.out[self.pos..self.pos + len];
        match len {
            0 => {}
            1..=3 => {
                out[0] = bytes[0];
                out[len / 2] = bytes[len / 2];
                out[len - 1] = bytes[len - 1];
            }
            4..=7 => copy_overlapping::<4>(out, bytes),
            8..=15 => copy_overlapping::<8>(out, bytes),
            16..=32 => copy_overlapping::<16>(out, bytes),
            _ => out.copy_from_slice(bytes),
        }
        self.pos += len;
    }

    /// `n` in decimal, written from its last digit back.
    fn put_decimal(&mut self, n: Decimal) {
        let (mut n, len) = (n.value, n.digits);
        for digit in self.out[self.pos..self.pos + len].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.pos += len;
    }

    /// Two bytes by value: a store, where a slice of unknown length is a
    /// `memcpy` call.
    #[inline(always)]
    fn put_pair(&mut self, pair: [u8; 2]) {
        self.out[self.pos..self.pos + 2].copy_from_slice(&pair);
        self.pos += 2;
    }
}

/// Copies `from` (`W` to `2 * W` bytes) into `to` (as long) as its first and
/// its last `W` bytes, which overlap when it is shorter than `2 * W`.
#[inline(always)]
fn copy_overlapping<const W: usize>(to: &mut [u8], from: &[u8]) {
    let tail = from.len() - W;
    to[..W].copy_from_slice(&from[..W]);
    to[tail..].copy_from_slice(&from[tail..]);
}

/// The framing around one piece of body data: write `prefix`, the data, then
/// `suffix`. For a Content-Length or close-delimited body both are empty; for a
/// chunked body they are the chunk-size line and the CRLF after the data.
///
/// ```
/// use lithe::proto::DataFrame;
/// let frame = DataFrame::chunk(5);
/// assert_eq!(frame.prefix.as_bytes(), b"5\r\n");
/// assert_eq!(frame.suffix, b"\r\n");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataFrame {
    /// Bytes before the data.
    pub prefix: ChunkPrefix,
    /// Bytes after the data.
    pub suffix: &'static [u8],
}

impl DataFrame {
    /// No framing: the data goes out as it is.
    pub const BARE: DataFrame = DataFrame {
        prefix: ChunkPrefix::EMPTY,
        suffix: b"",
    };

    /// The framing of one chunk of `len` bytes. No bytes are no chunk: `0`
    /// gives [`DataFrame::BARE`], since a chunk of size 0 would end the body.
    ///
    /// ```
    /// use lithe::proto::DataFrame;
    /// assert_eq!(DataFrame::chunk(0), DataFrame::BARE);
    /// ```
    pub const fn chunk(len: u64) -> DataFrame {
        if len == 0 {
            return DataFrame::BARE;
        }
        DataFrame {
            prefix: ChunkPrefix::new(len),
            suffix: b"\r\n",
        }
    }

    /// Bytes this frame adds around the data.
    pub fn overhead(&self) -> usize {
        self.prefix.as_bytes().len() + self.suffix.len()
    }
}
