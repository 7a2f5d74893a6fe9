//! Limits on what a peer may send, and the named leniencies that relax strict
//! parsing for peers that need it.

/// Bounds on everything a peer controls, so no input can make work or memory
/// unbounded. Each is enforced while bytes trickle in, at the same byte whatever
/// the split of the input.
///
/// The defaults suit a public server; an embedded device may lower them to fit
/// its buffers. Two parts of a message must be in the input whole before
/// they are consumed: a head, bounded by `max_head_bytes`, and a trailer
/// section, by `max_trailer_bytes` and the 2 bytes of the empty line that
/// ends it. Chunk lines and body data are consumed as they arrive. So with a
/// buffer of `n` bytes that drops what has been consumed, keep both within
/// `n`: a peer that sends more then gets the limit's error, never a
/// `NeedData` with the buffer full.
///
/// ```
/// use lithe::proto::Limits;
/// const BUFFER: usize = 1024;
/// let tight = Limits {
///     max_head_bytes: BUFFER,
///     max_trailer_bytes: BUFFER - 2,
///     max_headers: 16,
///     max_request_target_bytes: 256,
///     ..Limits::default()
/// };
/// assert_eq!(tight.max_chunk_extension_bytes, 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The whole head: start line, header fields and the empty line ending them,
    /// and on the server any empty lines before the request line (RFC 9112
    /// §2.2 lets a client send them; counted, they cannot grow the buffer
    /// without bound). Default 16 KiB (nginx and aiohttp accept about 8 KiB per line); lithe's
    /// client uses 1 MiB for response heads (`io::RESPONSE_HEAD_LIMIT`).
    /// Set below a request line's limit (the target's and 64 bytes), it
    /// bounds the request line too: one that runs past it is still
    /// `RequestTargetTooLong` (414), not `HeadTooLarge` (431), unless empty
    /// lines before it took more than half of it. (A line that ends within
    /// it, leaving no room for the rest of the head, is `HeadTooLarge`.)
    pub max_head_bytes: usize,
    /// Header fields in one head, and in one trailer section. Default 100 (as
    /// hyper). A shorter header array passed to `receive` makes a head or
    /// trailer section that overflows it report `Event::HeadersFull` (call
    /// again with a larger one). 0 allows none, so refuses every HTTP/1.1
    /// request (it must carry Host).
    pub max_headers: usize,
    /// The request-target. Default 8 KiB, the size RFC 9112 §3 recommends at least.
    /// The request line as a whole may hold 64 bytes more (the method, two
    /// spaces, the version and the line end): a line longer than that, say a
    /// 60-byte method beside a target at the limit, is refused with
    /// [`RequestTargetTooLong`](super::Error::RequestTargetTooLong) too,
    /// before it ends.
    pub max_request_target_bytes: usize,
    /// Chunk extensions on one chunk line (`;name=value...`), every byte from the
    /// first `;` or the whitespace before it (or padding after the size, where
    /// [`Leniency::allow_padded_chunk_lines_in_responses`] accepts it); 0
    /// allows none. Default 1 KiB: real
    /// peers send none, and an unbounded extension is a slow-drip attack.
    pub max_chunk_extension_bytes: usize,
    /// Chunk extensions over all the chunk lines of one body together. Default
    /// 16 KiB (as hyper): without it, a body of one-byte chunks each carrying a
    /// full line of extensions costs a thousand bytes of wire and parsing per
    /// byte of data, which size limits on the data never see.
    pub max_chunk_extension_bytes_per_body: usize,
    /// The trailer fields after the last chunk, their line ends included but
    /// not the empty line that ends the section (0 allows no trailer field;
    /// under [`Leniency::allow_bare_lf`] a section ended by a bare LF may have
    /// one byte more). Default 8 KiB.
    pub max_trailer_bytes: usize,
    /// A body's length: declared, accumulated over chunks, or counted as a body
    /// read until close arrives; 0 allows no body. Default `u64::MAX`
    /// (unbounded: bodies stream, so size limits belong to whoever collects them).
    pub max_body_bytes: u64,
    /// Interim (1xx) responses to one request, `101` aside, before its final
    /// response (client side). Default 100: a `100 Continue` and a few `103
    /// Early Hints` are usual, a `102 Processing` every so often over a long
    /// operation possible; a server sending them without end would otherwise
    /// hold the client for ever, each one counting as progress. 0 allows
    /// none, a `100 Continue` included.
    pub max_interim_responses: u16,
}

impl Limits {
    /// The documented safe defaults.
    pub const DEFAULT: Limits = Limits {
        max_head_bytes: 16 * 1024,
        max_headers: 100,
        max_request_target_bytes: 8 * 1024,
        max_chunk_extension_bytes: 1024,
        max_chunk_extension_bytes_per_body: 16 * 1024,
        max_trailer_bytes: 8 * 1024,
        max_body_bytes: u64::MAX,
        max_interim_responses: 100,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Relaxations of strict parsing, each off by default. Turn one on only for a
/// peer known to need it: each opens a door an attacker may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leniency {
    /// Accept a bare LF as a line ending in heads and trailer sections, where
    /// RFC 9112 §2.2 lets a recipient take one. Chunk lines and the line end
    /// after a chunk's data still need CRLF: the RFC allows no other there,
    /// and a hop that reads such an LF as part of a chunk extension ends the
    /// chunk elsewhere (Go's CVE-2025-22871).
    ///
    /// Opens: request smuggling through a front end that splits lines only at
    /// CRLF and so sees a different message boundary than we do.
    pub allow_bare_lf: bool,
    /// Accept obsolete line folding (a header line starting with whitespace) in
    /// responses. Requests never get this.
    ///
    /// The folded value is returned as received, line break included (the input
    /// is borrowed, so it cannot be unfolded in place): replace each CRLF and
    /// following whitespace with a space before interpreting or relaying it
    /// (RFC 9112 §5.2). lithe's own serializer refuses such a value. (The io
    /// client, which owns its buffer, hands values over unfolded: each CR and
    /// LF of a fold, and the whitespace after them, becomes a space.)
    ///
    /// Opens: response splitting where a proxy unfolds differently than we do.
    /// (The head only: a folded trailer line is still refused.)
    pub allow_obs_fold_in_responses: bool,
    /// Accept whitespace between a response header's name and its colon (in
    /// the head only: not in trailers).
    ///
    /// Opens: header confusion, where `Content-Length :` is a framing header to us
    /// and an unknown one to another hop.
    pub allow_space_before_colon_in_responses: bool,
    /// Accept whitespace before the end of a response's chunk line: after
    /// the size (`5 \r\n`), or after an extension's name or value. RFC 9112
    /// §7.1.1 allows it only before a `;`, but some servers pad the size
    /// (older Tomcat, ESPAsyncWebServer), and hyper, h11 and Go read such
    /// lines. Hex digits after the whitespace are still refused. Requests
    /// never get this; a standalone
    /// [`ChunkedDecoder`](super::ChunkedDecoder) applies it whenever set.
    ///
    /// The padding counts as chunk-extension bytes, toward both
    /// [`Limits::max_chunk_extension_bytes`] and
    /// [`Limits::max_chunk_extension_bytes_per_body`]: unbounded otherwise,
    /// it would be the slow drip those limits stop. With the first at 0 this
    /// allows nothing; a long stream from a server that pads every chunk
    /// (two spaces on each of ESPAsyncWebServer's) may need a larger second
    /// one, or it ends in `ChunkExtensionsTooLong`.
    ///
    /// Opens: little on its own (the size read is the one written); a hop
    /// that refuses the line ends the exchange rather than reading another
    /// body.
    pub allow_padded_chunk_lines_in_responses: bool,
}

impl Leniency {
    /// None of them: the default.
    pub const STRICT: Leniency = Leniency {
        allow_bare_lf: false,
        allow_obs_fold_in_responses: false,
        allow_space_before_colon_in_responses: false,
        allow_padded_chunk_lines_in_responses: false,
    };
}

impl Default for Leniency {
    fn default() -> Self {
        Leniency::STRICT
    }
}

/// Everything a [`Connection`](super::Connection) is configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Bounds on what the peer may send.
    pub limits: Limits,
    /// Named relaxations of strict parsing.
    pub leniency: Leniency,
}

impl Config {
    /// The default limits, no leniency: usable where a constant is needed
    /// (a `static` connection on a device without a heap).
    ///
    /// ```
    /// use lithe::proto::{Config, Connection, State};
    /// static CONFIG: Config = Config::DEFAULT;
    /// const FRESH: Connection = Connection::server(Config::DEFAULT);
    /// let conn = FRESH;
    /// assert_eq!(conn.our_state(), State::Idle);
    /// // The documented defaults (the head's size, say), and nothing lenient.
    /// assert_eq!(CONFIG.limits.max_head_bytes, 16 * 1024);
    /// let lenient = CONFIG.leniency;
    /// assert!(!lenient.allow_bare_lf && !lenient.allow_obs_fold_in_responses);
    /// assert!(!lenient.allow_space_before_colon_in_responses);
    /// assert!(!lenient.allow_padded_chunk_lines_in_responses);
    /// ```
    pub const DEFAULT: Config = Config {
        limits: Limits::DEFAULT,
        leniency: Leniency::STRICT,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}
