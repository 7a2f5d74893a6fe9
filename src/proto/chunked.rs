//! The chunked transfer coding (RFC 9112 §7.1): a zero-copy decoder and the
//! framing pieces an encoder needs.
//!
//! ```text
//! chunked-body   = *chunk last-chunk trailer-section CRLF
//! chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size     = 1*HEXDIG
//! last-chunk     = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! ```
//!
//! The decoder hands back chunk data as sub-slices of the input and never copies
//! it. Chunk extensions are tolerated (nobody uses them) but bounded and held
//! to their grammar; the chunk-size is bounded to 16 hex digits so it cannot
//! overflow; the CRLF after each chunk's data is required.

use super::error::Error;
use super::head::{Header, is_tchar};
use super::limits::{Config, Leniency, Limits};
use super::scan::{ScanRules, Scanner};

/// Where the decoder is inside the chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// Reading chunk-size hex digits.
    Size { size: u64, digits: u8 },
    /// After the size: whitespace and extensions up to CR, read by their
    /// grammar. `len` counts their bytes.
    Extension {
        size: u64,
        len: usize,
        syntax: ExtensionSyntax,
    },
    /// Saw the CR ending the chunk line; LF must follow.
    SizeLf { size: u64 },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// Chunk data ended; CR must follow.
    DataCr,
    /// Saw the CR after chunk data; LF must follow.
    DataLf,
    /// After the last chunk: the trailer section.
    Trailers,
    /// The whole body has been decoded.
    Done,
}

/// Where a chunk line is inside its extensions (RFC 9112 §7.1.1):
///
/// ```text
/// chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-val = token / quoted-string
/// ```
///
/// Nobody uses extensions, but a line that is not in this form is one that
/// another hop may read differently (where it ends, which bytes are data), so
/// it is refused, not skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExtensionSyntax {
    /// Whitespace after the size, before the first `;`.
    BeforeSemicolon,
    /// After a `;`: whitespace, then a name.
    BeforeName,
    /// In a name.
    Name,
    /// Whitespace after a name: `=` or the next `;` follows.
    AfterName,
    /// After `=`: whitespace, then a token or a quoted string.
    BeforeValue,
    /// In a token value.
    TokenValue,
    /// In a quoted value.
    Quoted,
    /// After a backslash in a quoted value.
    QuotedPair,
    /// Right after a quoted value's closing quote.
    AfterQuoted,
    /// Whitespace after a value: the next `;` follows.
    AfterValue,
}

impl ExtensionSyntax {
    /// Whether the chunk line may end here: after a name or a value, or,
    /// for a `padded` line, after whitespace that follows the size, a name
    /// or a value.
    fn may_end_line(self, padded: bool) -> bool {
        use ExtensionSyntax::*;
        matches!(self, Name | TokenValue | AfterQuoted)
            || padded && matches!(self, BeforeSemicolon | AfterName | AfterValue)
    }

    /// Where `byte` (not a line end) leads; `None` if the grammar has no
    /// place for it.
    fn next(self, byte: u8) -> Option<ExtensionSyntax> {
        use ExtensionSyntax::*;
        let space = matches!(byte, b' ' | b'\t');
        Some(match (self, byte) {
            (BeforeSemicolon, _) if space => BeforeSemicolon,
            (BeforeSemicolon | Name | AfterName | TokenValue | AfterQuoted | AfterValue, b';') => {
                BeforeName
            }
            (BeforeName, _) if space => BeforeName,
            (BeforeName | Name, _) if is_tchar(byte) => Name,
            (Name | AfterName, _) if space => AfterName,
            (Name | AfterName, b'=') => BeforeValue,
            (BeforeValue, _) if space => BeforeValue,
            (BeforeValue, b'"') => Quoted,
            (BeforeValue | TokenValue, _) if is_tchar(byte) => TokenValue,
            (TokenValue | AfterQuoted | AfterValue, _) if space => AfterValue,
            (Quoted, b'"') => AfterQuoted,
            (Quoted, b'\\') => QuotedPair,
            // qdtext: anything visible but `"` and `\`, whitespace, obs-text.
            (Quoted, _) if space || matches!(byte, 0x21..=0x7e | 0x80..=0xff) => Quoted,
            // quoted-pair: `\` before whitespace, a visible byte or obs-text.
            (QuotedPair, _) if space || matches!(byte, 0x21..=0x7e | 0x80..=0xff) => Quoted,
            _ => return None,
        })
    }
}

/// What one call to [`ChunkedDecoder::decode`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'b, 'h> {
    /// Chunk data: a sub-slice of the input.
    Data(&'b [u8]),
    /// The last chunk and the trailer section have been read.
    End {
        /// The trailer fields; usually empty.
        trailers: &'h [Header<'b>],
    },
    /// The input ended before the next event (inside framing, chunk data or
    /// the trailer section); offer more bytes.
    NeedData,
    /// The trailer section has more fields than the `trailers` array holds,
    /// and the array is shorter than
    /// [`Limits::max_headers`](super::Limits::max_headers): its bytes were not
    /// consumed (the count returned covers only the chunk framing before it).
    /// Offer them again with a larger array (trailers are rare, so
    /// an empty array is a fine first try); past the limit the section is
    /// refused with [`Error::TooManyHeaders`](super::Error::TooManyHeaders).
    TrailersFull,
}

/// A decoder for a chunked body, fed the caller's bytes a slice at a time.
///
/// It decodes as [`Connection`](super::Connection) does for chunked bodies, and
/// is offered on its own for callers that meet chunked data outside a full HTTP
/// exchange.
///
/// ```
/// use lithe::proto::{ChunkedDecoder, Decoded, EMPTY_HEADER};
///
/// let mut decoder = ChunkedDecoder::default();
/// let mut input: &[u8] = b"5\r\nhello\r\n0\r\nExpires: never\r\n\r\n";
/// let mut body = Vec::new();
/// loop {
///     let mut trailers = [EMPTY_HEADER; 4];
///     let (consumed, decoded) = decoder.decode(input, &mut trailers).unwrap();
///     input = &input[consumed..];
///     match decoded {
///         Decoded::Data(data) => body.extend_from_slice(data),
///         Decoded::End { trailers } => {
///             assert_eq!(trailers[0].name, "Expires");
///             break;
///         }
///         Decoded::NeedData => unreachable!("the whole body was given"),
///         Decoded::TrailersFull => unreachable!("the array holds the one trailer"),
///     }
/// }
/// assert_eq!(body, b"hello");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ChunkedDecoder {
    state: ChunkedState,
    /// Where the trailer section's end is looked for (a connection lends
    /// its head's scanner instead, idle while a body is read).
    trailer_scanner: Scanner,
    config: Config,
    /// The error that ended the body, returned again by every later call.
    failed: Option<Error>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new(Limits::DEFAULT, Leniency::default())
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub const fn new(limits: Limits, leniency: Leniency) -> Self {
        ChunkedDecoder {
            state: ChunkedState::new(leniency.allow_padded_chunk_lines_in_responses),
            trailer_scanner: Scanner::new(),
            config: Config { limits, leniency },
            failed: None,
        }
    }

    /// Whether the last chunk and trailers have been decoded.
    pub fn is_done(&self) -> bool {
        self.state.position == Position::Done
    }

    /// Decodes from `input`, returning how many bytes were consumed and what they
    /// held. Framing bytes are consumed as they arrive, except the trailer section,
    /// which is consumed whole once complete: until then `NeedData` comes back
    /// with the trailer bytes unconsumed, and they must be offered again.
    ///
    /// An error is final: the body cannot be framed past it, and every later
    /// call returns the same error.
    ///
    /// ```
    /// use lithe::proto::{ChunkedDecoder, EMPTY_HEADER, Error};
    ///
    /// let mut decoder = ChunkedDecoder::default();
    /// let mut trailers = [EMPTY_HEADER; 0];
    /// let refused = decoder.decode(b"5x\r\n", &mut trailers);
    /// assert_eq!(refused, Err(Error::InvalidChunkSize));
    /// let again = decoder.decode(b"0\r\n\r\n", &mut trailers);
    /// assert_eq!(again, Err(Error::InvalidChunkSize));
    /// ```
    // Inlined across crates: the common case (a whole chunk's framing is
    // there) is short, and a call per chunk costs as much as its parse.
    #[inline]
    pub fn decode<'b, 'h>(
        &mut self,
        input: &'b [u8],
        trailers: &'h mut [Header<'b>],
    ) -> Result<(usize, Decoded<'b, 'h>), Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let decoded = self
            .state
            .decode(input, trailers, &self.config, &mut self.trailer_scanner);
        if let Err(error) = decoded {
            self.failed = Some(error);
        }
        decoded
    }
}

/// A [`ChunkedDecoder`] without its configuration, which the caller passes to
/// each call: a [`Connection`](super::Connection) has one already, and keeping
/// a second copy per body would make every connection larger.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkedState {
    position: Position,
    /// Body bytes announced so far, checked against `max_body_bytes`.
    total: u64,
    /// Chunk-extension bytes of the chunk lines before the current one.
    extension_bytes: usize,
    /// Whether whitespace may end a chunk line
    /// ([`Leniency::allow_padded_chunk_lines_in_responses`]): decided when
    /// the body starts, since a connection's config holds it for responses
    /// only.
    padded_lines: bool,
}

impl ChunkedState {
    /// The start of a chunked body, its chunk lines `padded` or not.
    pub(crate) const fn new(padded_lines: bool) -> Self {
        ChunkedState {
            position: Position::Size { size: 0, digits: 0 },
            total: 0,
            extension_bytes: 0,
            padded_lines,
        }
    }

    /// [`ChunkedDecoder::decode`] under `config`, finding the trailer
    /// section's end with `trailer_scanner` (fresh when the body starts, and
    /// used for nothing else until it ends).
    #[inline]
    pub(crate) fn decode<'b, 'h>(
        &mut self,
        input: &'b [u8],
        trailers: &'h mut [Header<'b>],
        config: &Config,
        trailer_scanner: &mut Scanner,
    ) -> Result<(usize, Decoded<'b, 'h>), Error> {
        if let Some((used, data)) = self.whole_chunk(input, &config.limits)? {
            return Ok((used, Decoded::Data(data)));
        }
        self.decode_stepwise(input, trailers, config, trailer_scanner)
    }

    /// Chunk data whose framing before it is all there, taken in one step:
    /// the CRLF after the previous chunk's data (unless this is the first
    /// chunk), a chunk line of bare hex digits, and at least one byte of the
    /// data. This is how most chunks arrive. It moves to the same position,
    /// and fails with the same error, as [`Self::decode_stepwise`] would;
    /// anything else (the last chunk, extensions, framing cut short, an
    /// error in the framing) is left to that.
    #[inline(always)]
    fn whole_chunk<'b>(
        &mut self,
        input: &'b [u8],
        limits: &Limits,
    ) -> Result<Option<(usize, &'b [u8])>, Error> {
        let line_start = match self.position {
            Position::DataCr if input.starts_with(b"\r\n") => 2,
            Position::Size { size: 0, digits: 0 } => 0,
            _ => return Ok(None),
        };
        let Some((line_len, size)) = bare_chunk_line(&input[line_start..]) else {
            return Ok(None);
        };
        let data_start = line_start + line_len;
        if size == 0 || data_start == input.len() {
            return Ok(None);
        }
        self.count_data(size, limits)?;
        Ok(Some(self.take_data(input, data_start, size)))
    }

    /// The chunk data at `start` of `input` (at least one byte there), of
    /// the `remaining` bytes the chunk has left: the end of what it takes,
    /// and the data; the position moves on past it.
    #[inline(always)]
    fn take_data<'b>(
        &mut self,
        input: &'b [u8],
        start: usize,
        remaining: u64,
    ) -> (usize, &'b [u8]) {
        let n = at_most(input.len() - start, remaining);
        self.position = match n as u64 == remaining {
            true => Position::DataCr,
            false => Position::Data {
                remaining: remaining - n as u64,
            },
        };
        (start + n, &input[start..start + n])
    }

    /// [`Self::decode`] a byte or a line at a time.
    fn decode_stepwise<'b, 'h>(
        &mut self,
        input: &'b [u8],
        trailers: &'h mut [Header<'b>],
        config: &Config,
        trailer_scanner: &mut Scanner,
    ) -> Result<(usize, Decoded<'b, 'h>), Error> {
        let mut i = 0;
        loop {
            if let Position::Data { remaining } = self.position {
                if i == input.len() {
                    return Ok((i, Decoded::NeedData));
                }
                let (end, data) = self.take_data(input, i, remaining);
                return Ok((end, Decoded::Data(data)));
            }
            if self.position == Position::Trailers {
                return self.decode_trailers(input, i, trailers, config, trailer_scanner);
            }
            if self.position == Position::Done {
                return Ok((
                    i,
                    Decoded::End {
                        trailers: &trailers[..0],
                    },
                ));
            }
            if let Some((used, position)) = self.whole_line(&input[i..], &config.limits)? {
                i += used;
                self.position = position;
                continue;
            }
            let Some(&byte) = input.get(i) else {
                return Ok((i, Decoded::NeedData));
            };
            i += 1;
            self.position = self.step(byte, config)?;
        }
    }

    /// The common framing, taken whole when it is all there: the CRLF after chunk
    /// data, and a chunk line of bare hex digits. It moves to the same position
    /// as stepping byte by byte would; anything else is left to [`Self::step`].
    fn whole_line(
        &mut self,
        rest: &[u8],
        limits: &Limits,
    ) -> Result<Option<(usize, Position)>, Error> {
        match self.position {
            Position::DataCr if rest.starts_with(b"\r\n") => {
                Ok(Some((2, Position::Size { size: 0, digits: 0 })))
            }
            Position::Size { size: 0, digits: 0 } => match bare_chunk_line(rest) {
                Some((len, size)) => Ok(Some((len, self.end_of_chunk_line(size, limits)?))),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// One byte of chunk-line or post-data framing.
    // A bare LF ends no line here, whatever `Leniency::allow_bare_lf` says:
    // RFC 9112 §2.2 lets a recipient take one in the start line and fields
    // only, and a hop that ends a chunk line at CRLF alone reads the bytes
    // after such an LF as extensions, where we read them as data (Go's
    // CVE-2025-22871).
    fn step(&mut self, byte: u8, config: &Config) -> Result<Position, Error> {
        let limits = &config.limits;
        Ok(match self.position {
            Position::Size { size, digits } => match byte {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits == 16 {
                        return Err(Error::ChunkSizeTooLarge);
                    }
                    Position::Size {
                        size: size << 4 | hex_value(byte),
                        digits: digits + 1,
                    }
                }
                _ if digits == 0 => return Err(Error::InvalidChunkSize),
                b'\r' => Position::SizeLf { size },
                b'\n' => return Err(Error::BareLineFeed),
                // Every extension byte counts, the first included: a limit of
                // 0 allows none. (BWS before it is counted, and refused, with
                // the next byte.)
                b';' if !self.extension_fits(1, limits) => {
                    return Err(Error::ChunkExtensionsTooLong);
                }
                b';' => Position::Extension {
                    size,
                    len: 1,
                    syntax: ExtensionSyntax::BeforeName,
                },
                // BWS before the first `;`.
                b' ' | b'\t' => Position::Extension {
                    size,
                    len: 1,
                    syntax: ExtensionSyntax::BeforeSemicolon,
                },
                _ => return Err(Error::InvalidChunkSize),
            },
            Position::Extension { size, len, syntax } => match byte {
                b'\r' | b'\n' if syntax.may_end_line(self.padded_lines) => {
                    // Whitespace after the size is counted with the byte
                    // after it, which a padded line may end with: checked
                    // here then.
                    if !self.extension_fits(len, limits) {
                        return Err(Error::ChunkExtensionsTooLong);
                    }
                    if byte == b'\n' {
                        return Err(Error::BareLineFeed);
                    }
                    // Saturating: under a limit of usize::MAX the sum could
                    // pass it (a 32-bit target, 4 GiB of extensions).
                    self.extension_bytes = self.extension_bytes.saturating_add(len);
                    Position::SizeLf { size }
                }
                _ => {
                    let Some(syntax) = syntax.next(byte) else {
                        // Whitespace after the size that leads to no `;`
                        // makes the size itself malformed.
                        return Err(match syntax {
                            ExtensionSyntax::BeforeSemicolon => Error::InvalidChunkSize,
                            _ => Error::InvalidChunkExtension,
                        });
                    };
                    let len = len.saturating_add(1);
                    if !self.extension_fits(len, limits) {
                        return Err(Error::ChunkExtensionsTooLong);
                    }
                    Position::Extension { size, len, syntax }
                }
            },
            Position::SizeLf { size } => match byte {
                b'\n' => self.end_of_chunk_line(size, limits)?,
                _ => return Err(Error::BareCarriageReturn),
            },
            Position::DataCr => match byte {
                b'\r' => Position::DataLf,
                _ => return Err(Error::MissingChunkDataCrlf),
            },
            Position::DataLf => match byte {
                b'\n' => Position::Size { size: 0, digits: 0 },
                _ => return Err(Error::MissingChunkDataCrlf),
            },
            Position::Data { .. } | Position::Trailers | Position::Done => {
                unreachable!("handled by decode before stepping")
            }
        })
    }

    /// Whether `len` bytes of extensions on the current chunk line stay within
    /// the limits, per line and per body.
    fn extension_fits(&self, len: usize, limits: &Limits) -> bool {
        len <= limits.max_chunk_extension_bytes
            && self.extension_bytes.saturating_add(len) <= limits.max_chunk_extension_bytes_per_body
    }

    fn end_of_chunk_line(&mut self, size: u64, limits: &Limits) -> Result<Position, Error> {
        if size == 0 {
            return Ok(Position::Trailers);
        }
        self.count_data(size, limits)?;
        Ok(Position::Data { remaining: size })
    }

    /// Adds a chunk's `size` to the body's, which must stay within the limit.
    #[inline(always)]
    fn count_data(&mut self, size: u64, limits: &Limits) -> Result<(), Error> {
        self.total = self.total.saturating_add(size);
        match self.total > limits.max_body_bytes {
            true => Err(Error::BodyTooLarge),
            false => Ok(()),
        }
    }

    fn decode_trailers<'b, 'h>(
        &mut self,
        input: &'b [u8],
        start: usize,
        trailers: &'h mut [Header<'b>],
        config: &Config,
        scanner: &mut Scanner,
    ) -> Result<(usize, Decoded<'b, 'h>), Error> {
        let rules = ScanRules {
            // The limit is on the fields: the empty line that ends the
            // section is not counted, so 0 allows none and every body still
            // ends (a bare LF, under its leniency, leaves one byte more).
            max_bytes: config.limits.max_trailer_bytes.saturating_add(2),
            max_first_line: usize::MAX,
            has_start_line: false,
            skip_leading_empty_lines: false,
            allow_bare_lf: config.leniency.allow_bare_lf,
            allow_obs_fold: false,
            too_large: Error::TrailersTooLarge,
            first_line_too_long: Error::TrailersTooLarge,
            first_byte: None,
            start_line: None,
        };
        let section = &input[start..];
        let Some(found) = scanner.scan(section, &rules)? else {
            return Ok((start, Decoded::NeedData));
        };
        let limit = trailers.len().min(config.limits.max_headers);
        let fields = match httparse::parse_headers(&section[..found.end], &mut trailers[..limit]) {
            Ok(httparse::Status::Complete((_, fields))) => fields,
            Err(httparse::Error::TooManyHeaders) if limit < config.limits.max_headers => {
                // The retry with a larger array scans the section again.
                *scanner = Scanner::new();
                return Ok((start, Decoded::TrailersFull));
            }
            Err(httparse::Error::TooManyHeaders) => return Err(Error::TooManyHeaders),
            Ok(httparse::Status::Partial) | Err(_) => return Err(Error::InvalidTrailer),
        };
        self.position = Position::Done;
        Ok((start + found.end, Decoded::End { trailers: fields }))
    }
}

/// The value of a hex digit (the caller has checked it is one).
fn hex_value(digit: u8) -> u64 {
    u64::from(HEX_DIGIT_VALUE[usize::from(digit)])
}

/// Marks a byte that is no hex digit in [`HEX_DIGIT_VALUE`].
const NOT_HEX: u8 = 0xff;

/// Each byte's value as a hex digit, or [`NOT_HEX`]: one load tells whether
/// a byte is a digit and what it is worth.
static HEX_DIGIT_VALUE: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            digit @ b'0'..=b'9' => digit - b'0',
            digit @ b'a'..=b'f' => digit - b'a' + 10,
            digit @ b'A'..=b'F' => digit - b'A' + 10,
            _ => NOT_HEX,
        };
        b += 1;
    }
    table
};

/// A chunk line of 1 to 16 hex digits and CRLF at the start of `rest`: its
/// length and the size it gives; `None` for anything else (more digits,
/// extensions, a line not all there yet), which the decoder reads a byte
/// at a time.
#[inline(always)]
fn bare_chunk_line(rest: &[u8]) -> Option<(usize, u64)> {
    let mut size = 0u64;
    let mut digits = 0;
    while let Some(&byte) = rest.get(digits) {
        let value = HEX_DIGIT_VALUE[usize::from(byte)];
        // A 17th digit ends the loop too, and then no CRLF follows.
        if value == NOT_HEX || digits == 16 {
            break;
        }
        size = size << 4 | u64::from(value);
        digits += 1;
    }
    (digits > 0 && rest.get(digits..digits + 2) == Some(b"\r\n")).then_some((digits + 2, size))
}

/// `available`, or `cap` if that is smaller: how much of the input a body
/// (or chunk) with `cap` bytes left may take.
#[inline(always)]
pub(crate) fn at_most(available: usize, cap: u64) -> usize {
    usize::try_from(cap).map_or(available, |cap| cap.min(available))
}

/// The line that opens a chunk: its size in hex and CRLF, at most 18 bytes, kept
/// inline so a writer can send `prefix, data, CRLF` as one vectored write without
/// copying the data.
///
/// ```
/// use lithe::proto::ChunkPrefix;
/// assert_eq!(ChunkPrefix::new(4096).as_bytes(), b"1000\r\n");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ChunkPrefix {
    bytes: [u8; 18],
    len: u8,
}

impl ChunkPrefix {
    /// The prefix for a chunk of `size` bytes. `0` gives `0\r\n`, the line
    /// of the last chunk, which ends the body: a data chunk has at least one
    /// byte ([`DataFrame::chunk`](super::DataFrame::chunk) frames none as
    /// none).
    pub const fn new(size: u64) -> ChunkPrefix {
        let mut bytes = [0u8; 18];
        let digits = if size == 0 {
            1
        } else {
            (64 - size.leading_zeros() as usize).div_ceil(4)
        };
        let mut i = 0;
        while i < digits {
            let nibble = (size >> ((digits - 1 - i) * 4)) & 0xf;
            bytes[i] = b"0123456789abcdef"[nibble as usize];
            i += 1;
        }
        bytes[digits] = b'\r';
        bytes[digits + 1] = b'\n';
        ChunkPrefix {
            bytes,
            len: (digits + 2) as u8,
        }
    }

    /// An empty prefix, for bodies that are not chunked.
    pub const EMPTY: ChunkPrefix = ChunkPrefix {
        bytes: [0; 18],
        len: 0,
    };

    /// The bytes to write before the chunk data.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// The bytes it writes, escaped, not its whole fixed-size array.
///
/// ```
/// use lithe::proto::ChunkPrefix;
/// assert_eq!(format!("{:?}", ChunkPrefix::new(4096)), r"ChunkPrefix(1000\r\n)");
/// ```
impl core::fmt::Debug for ChunkPrefix {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("ChunkPrefix")
            .field(&format_args!("{}", self.as_bytes().escape_ascii()))
            .finish()
    }
}
