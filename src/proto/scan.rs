//! Finding where a head or trailer section ends, incrementally.
//!
//! httparse re-parses from the first byte on every call, so feeding it a head that
//! trickles in one byte at a time costs O(n²). The scanner instead remembers how far
//! it has looked and hands httparse the head only once its terminating empty line
//! is in the buffer: total work stays linear whatever the split.
//!
//! The scanner also enforces, at a fixed byte position, the rules that must hold
//! before a head is complete: the size limits, CRLF line endings (RFC 9112 §2.2;
//! every CR not followed by LF is refused here, so no later stage meets one),
//! a valid start line, and no obsolete line folding (RFC 9112 §5.2). A limit is
//! checked against the bytes seen so far, so a head too large is rejected as
//! soon as the limit is crossed, not after the peer finishes sending it.

use memchr::memchr2;

use super::error::Error;
use super::parse::StartLine;

/// What a section must obey while it is being scanned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScanRules {
    /// The whole section, terminating empty line included.
    pub max_bytes: usize,
    /// The first line, line ending included; `usize::MAX` for none beyond `max_bytes`.
    pub max_first_line: usize,
    /// Whether the section opens with a start line (a head) or not (trailers).
    pub has_start_line: bool,
    /// RFC 9112 §2.2: a server SHOULD ignore empty lines before the request-line.
    pub skip_leading_empty_lines: bool,
    /// Leniency: LF without CR ends a line.
    pub allow_bare_lf: bool,
    /// Leniency: a line starting with whitespace continues the previous one.
    pub allow_obs_fold: bool,
    /// The error when `max_bytes` is crossed.
    pub too_large: Error,
    /// The error when `max_first_line` is crossed.
    pub first_line_too_long: Error,
    /// What the start line's first byte must be, and the error if it is
    /// not: refused as soon as it arrives, not once the line ends (a TLS
    /// hello sent to a plain port has no line end within the first-line
    /// cap, and would wait out the head timeout). `None`: any byte.
    pub first_byte: Option<FirstByte>,
    /// How the start line is judged once its line end arrives: refused then,
    /// not once the head ends (a peer that sends one bad line and waits,
    /// such as another protocol's greeting, would wait out the head timeout
    /// for a misleading 408). `None`: judged with the whole head.
    pub start_line: Option<StartLine>,
}

/// A rule on the first byte of a start line (see [`ScanRules::first_byte`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FirstByte {
    /// Whether a byte may begin the line.
    pub valid: fn(u8) -> bool,
    /// The error for one that may not.
    pub error: Error,
}

/// Where a complete section lies in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    /// First byte of the section, after any skipped empty lines.
    pub start: usize,
    /// One past the terminating empty line.
    pub end: usize,
}

/// Scan progress, kept between calls while the caller's buffer grows.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Scanner {
    /// Next byte to look at.
    pos: usize,
    /// First byte of the line being scanned.
    line_start: usize,
    /// First byte of the section (after skipped empty lines).
    section_start: usize,
    /// Whether a non-empty line has been completed.
    seen_line: bool,
}

impl Scanner {
    /// A scanner at the start of a section.
    pub(crate) const fn new() -> Scanner {
        Scanner {
            pos: 0,
            line_start: 0,
            section_start: 0,
            seen_line: false,
        }
    }

    /// Whether nothing has been scanned yet.
    pub(crate) fn is_fresh(&self) -> bool {
        self.pos == 0
    }

    /// Looks for the end of the section in `input`, which must begin with the bytes
    /// offered on earlier calls. `Ok(None)`: not complete yet, offer more bytes.
    pub(crate) fn scan(
        &mut self,
        input: &[u8],
        rules: &ScanRules,
    ) -> Result<Option<Section>, Error> {
        if input.len() < self.pos {
            // The caller offered fewer bytes than before; start over rather than trust
            // positions that no longer exist.
            *self = Scanner::default();
        }
        loop {
            let first_line_pending = rules.has_start_line && !self.seen_line;
            if let (true, Some(FirstByte { valid, error })) = (first_line_pending, rules.first_byte)
            {
                // Checked once, when the line's first byte is the next to
                // look at; an empty line before a request is skipped first.
                // A byte past the size limit is not looked at: reached
                // before it arrives, the limit is the error (below).
                if self.pos == self.line_start
                    && self.pos < rules.max_bytes
                    && input
                        .get(self.pos)
                        .is_some_and(|&b| !matches!(b, b'\r' | b'\n') && !valid(b))
                {
                    return Err(error);
                }
            }
            let (cap, cap_error) = if first_line_pending
                && self.line_start.saturating_add(rules.max_first_line) < rules.max_bytes
            {
                (
                    self.line_start + rules.max_first_line,
                    rules.first_line_too_long,
                )
            } else if first_line_pending && self.line_start <= rules.max_bytes / 2 {
                // A head limit no larger than the first line's: a first line
                // that fills most of it is still the line too long (414, not
                // 431: the client should shorten its target, not its
                // fields). Empty lines before it that took most of the room
                // leave the head too large.
                (rules.max_bytes, rules.first_line_too_long)
            } else {
                (rules.max_bytes, rules.too_large)
            };
            let window_end = input.len().min(cap);
            let Some(offset) = memchr2(b'\n', b'\r', &input[self.pos..window_end]) else {
                self.pos = window_end;
                if window_end == cap {
                    return Err(cap_error);
                }
                return Ok(None);
            };
            let mut lf = self.pos + offset;
            // Every CR stops the search, so an LF found first has none
            // before it: a line ends in CRLF exactly when a CR was found.
            let has_cr = input[lf] == b'\r';
            if has_cr {
                // A CR ends a line only with the LF right after it (RFC 9112
                // §2.2): any other byte there makes it bare, refused as that
                // byte arrives, not once a later LF or the close does (a
                // peer ending lines with CR alone would wait out a timeout).
                let cr = lf;
                if cr + 1 == window_end {
                    // Its LF, if it comes, is past the cap or not here yet.
                    self.pos = cr;
                    if window_end == cap {
                        return Err(cap_error);
                    }
                    return Ok(None);
                }
                if input[cr + 1] != b'\n' {
                    return Err(Error::BareCarriageReturn);
                }
                lf = cr + 1;
            }
            self.pos = lf + 1;
            if !has_cr && !rules.allow_bare_lf {
                return Err(Error::BareLineFeed);
            }
            let content_end = if has_cr { lf - 1 } else { lf };
            if content_end == self.line_start {
                if !self.seen_line && rules.skip_leading_empty_lines {
                    self.line_start = self.pos;
                    self.section_start = self.pos;
                    continue;
                }
                return Ok(Some(Section {
                    start: self.section_start,
                    end: self.pos,
                }));
            }
            let is_field_line = self.seen_line || !rules.has_start_line;
            if let (false, Some(start_line)) = (is_field_line, rules.start_line) {
                start_line.check(&input[self.line_start..self.pos])?;
            }
            if is_field_line
                && matches!(input[self.line_start], b' ' | b'\t')
                && !rules.allow_obs_fold
            {
                return Err(Error::ObsoleteLineFolding);
            }
            self.seen_line = true;
            self.line_start = self.pos;
        }
    }
}
