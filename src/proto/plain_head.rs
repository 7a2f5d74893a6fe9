//! A plain head, read in a few word-sized steps.
//!
//! httparse is built for every head it accepts (leading empty lines, bare
//! LF, UTF-8 targets, obs-text, tabs, trailing whitespace), and pays a
//! dispatch and a table lookup a byte for that breadth: on a small request
//! its request line costs as much as the field lines after it, and each
//! field line about 230 instructions. Nearly every head is plainer: a
//! request line of a token method, a target of visible ASCII, `HTTP/1.1`
//! or `HTTP/1.0` and CRLF, or a status line of such a version, three digits
//! and a reason phrase of printable ASCII; then field lines of a token
//! name, a colon, a space or none and a value of printable ASCII with no
//! space at its end, each ended by CRLF. [`plain_request_line`],
//! [`plain_status_line`] and [`plain_field_lines`] read such lines and
//! answer `None` for any other, which httparse then reads as before, so
//! they change no outcome: they accept only what httparse accepts, and
//! split it where httparse does (tests/proto_props.rs compares the two on
//! arbitrary heads).

use core::ops::Range;

use super::head::{Header, TCHAR, Version};

/// A request line [`plain_request_line`] took, as places in its input.
pub(crate) struct PlainRequestLine {
    /// The method's length: the target begins one byte later.
    method_len: usize,
    /// One past the target's last byte.
    target_end: usize,
    /// The protocol version.
    pub(crate) version: Version,
    /// The line's length, its CRLF included: where the field lines begin.
    pub(crate) len: usize,
}

impl PlainRequestLine {
    /// The method and the target, slices of `text`: the input the line was
    /// read from (or its start, the line included) as a `str`.
    #[inline]
    pub(crate) fn method_and_target<'b>(&self, text: &'b str) -> Option<(&'b str, &'b str)> {
        Some((
            text.get(..self.method_len)?,
            text.get(self.method_len + 1..self.target_end)?,
        ))
    }

    /// The method and the target alone converted to `str`: for a line
    /// whose field lines are not plain.
    pub(crate) fn method_and_target_of<'b>(&self, input: &'b [u8]) -> Option<(&'b str, &'b str)> {
        // Every byte is ASCII: this validation cannot fail, and is the safe
        // way to a `str`.
        self.method_and_target(core::str::from_utf8(input.get(..self.target_end)?).ok()?)
    }
}

/// The request line `input` begins with, if it is a plain one: `method SP
/// target SP HTTP/1.x CRLF`, the method one or more token characters, the
/// target one or more bytes from `!` to `~`, the version `HTTP/1.1` or
/// `HTTP/1.0`. `None` for anything else, valid or not, and for a line not
/// yet complete.
// One call site, on the path of every head: inlined, the line's parts are
// not written out and read back.
#[inline(always)]
pub(crate) fn plain_request_line(input: &[u8]) -> Option<PlainRequestLine> {
    // Most requests are GETs: four bytes compared at once.
    let method_len = if input.starts_with(b"GET ") {
        3
    } else {
        token_len(input)
    };
    let target_start = method_len + 1;
    let target_len = ascii_run_len::<b'!'>(input.get(target_start..)?);
    let target_end = target_start + target_len;
    if method_len == 0 || input.get(method_len) != Some(&b' ') || target_len == 0 {
        return None;
    }
    // " HTTP/1.", compared as one word, then the minor version and CRLF.
    let line_end = input.get(target_end..target_end + LINE_END_LEN)?;
    let (protocol, [minor, b'\r', b'\n']) = line_end.split_at(8) else {
        return None;
    };
    if protocol != b" HTTP/1." {
        return None;
    }
    let version = match *minor {
        b'1' => Version::Http11,
        b'0' => Version::Http10,
        _ => return None,
    };
    Some(PlainRequestLine {
        method_len,
        target_end,
        version,
        len: target_end + LINE_END_LEN,
    })
}

/// What follows the target on a plain line: ` HTTP/1.1` and CRLF.
const LINE_END_LEN: usize = 11;

/// A status line [`plain_status_line`] took, as places in its input.
pub(crate) struct PlainStatusLine {
    /// The protocol version.
    pub(crate) version: Version,
    /// The status code's three digits as a number (not yet checked to be
    /// a status code).
    pub(crate) code: u16,
    /// Where the reason phrase is.
    reason: Range<usize>,
    /// The line's length, its CRLF included: where the field lines begin.
    pub(crate) len: usize,
}

impl PlainStatusLine {
    /// The reason phrase, a slice of `text`: the input the line was read
    /// from (or its start, the line included) as a `str`.
    pub(crate) fn reason<'b>(&self, text: &'b str) -> Option<&'b str> {
        text.get(self.reason.clone())
    }
}

/// The status line `input` begins with, if it is a plain one: `HTTP/1.x SP
/// 3DIGIT`, then CRLF or SP, a reason phrase of bytes from SP to `~` and
/// CRLF, the version `HTTP/1.1` or `HTTP/1.0`. `None` for anything else,
/// valid or not, and for a line not yet complete.
#[inline(always)]
pub(crate) fn plain_status_line(input: &[u8]) -> Option<PlainStatusLine> {
    let version = match input.get(..STATUS_CODE_AT)? {
        b"HTTP/1.1 " => Version::Http11,
        b"HTTP/1.0 " => Version::Http10,
        _ => return None,
    };
    let [hundreds, tens, ones, after_code @ ..] = &input[STATUS_CODE_AT..] else {
        return None;
    };
    let digit = |b: u8| b.is_ascii_digit().then(|| u16::from(b - b'0'));
    let code = digit(*hundreds)? * 100 + digit(*tens)? * 10 + digit(*ones)?;
    let code_end = STATUS_CODE_AT + 3;
    // No reason phrase, or one after a single SP (httparse would take a
    // second one into the phrase: so does this).
    let reason = match after_code {
        [b'\r', b'\n', ..] => code_end..code_end,
        [b' ', phrase @ ..] => code_end + 1..code_end + 1 + ascii_run_len::<b' '>(phrase),
        _ => return None,
    };
    if input.get(reason.end..reason.end + 2)? != b"\r\n" {
        return None;
    }
    Some(PlainStatusLine {
        version,
        code,
        len: reason.end + 2,
        reason,
    })
}

/// Where a status line's code begins: after `HTTP/1.1 `.
const STATUS_CODE_AT: usize = 9;

/// The field lines of `input` from `start` on, and the empty line that ends
/// them, if every line is plain: a name of token characters, a colon, a
/// space or none, a value of bytes from SP to `~` that neither begins nor
/// ends with a space, CRLF. Fills `fields` from its start and answers one
/// past the empty line, how many fields it holds and the head up to its last
/// name as a `str` (the one conversion a name needs, made once for the whole
/// head, start line included: a start line that is not ASCII gets `None`).
/// `None` for anything else, valid or not, for more fields than `fields`
/// holds and for a head not yet complete; `fields` may then hold anything.
// Not inlined: the loop then has the registers to itself.
#[inline(never)]
pub(crate) fn plain_field_lines<'b>(
    input: &'b [u8],
    start: usize,
    fields: &mut [Header<'b>],
) -> Option<PlainFields<'b>> {
    let mut rest = input.get(start..)?;
    let mut count = 0;
    // First pass: check every line and fill in its value. A name must be a
    // `str`, and the one safe way there (`from_utf8`) has a cost of its own
    // per call: it is made once, over the head up to its last name, when
    // that is known. Until then a name is held as its length, a prefix of
    // `NAME_LENGTHS`.
    let end = loop {
        if let [b'\r', b'\n', ..] = rest {
            break input.len() - rest.len() + 2;
        }
        let name_len = token_len(rest);
        let [b':', after_colon @ ..] = &rest[name_len..] else {
            return None;
        };
        let name = NAME_LENGTHS
            .get(..name_len)
            .filter(|name| !name.is_empty())?;
        // One space or none before the value, as nearly every sender
        // writes it; more are left to httparse.
        let value = match after_colon {
            [b' ', b' ', ..] => return None,
            [b' ', value @ ..] => value,
            value => value,
        };
        let (value, after_value) = value.split_at(ascii_run_len::<b' '>(value));
        // httparse takes a value's trailing whitespace off; a value with
        // some is left to it, so a value always ends at its line's CR.
        let ([b'\r', b'\n', next @ ..], false) = (after_value, value.ends_with(b" ")) else {
            return None;
        };
        *fields.get_mut(count)? = Header { name, value };
        count += 1;
        rest = next;
    };
    // Every byte is ASCII: this validation cannot fail. It stops at the
    // last name, found back from its value (past a colon and a space or
    // none): what follows needs no `str`, and costs by the byte.
    let base = input.as_ptr() as usize;
    let names_end = match count.checked_sub(1) {
        Some(last) => {
            let value_at = fields[last].value.as_ptr() as usize - base;
            value_at - 1 - usize::from(input[value_at - 1] == b' ')
        }
        None => start,
    };
    let text = core::str::from_utf8(&input[..names_end]).ok()?;
    // Second pass: each name from its place in `text`. A line begins two
    // bytes after the value before it ends.
    let mut line_start = start;
    for field in &mut fields[..count] {
        field.name = text.get(line_start..line_start + field.name.len())?;
        line_start = field.value.as_ptr() as usize - base + field.value.len() + 2;
    }
    Some(PlainFields { end, count, text })
}

/// What [`plain_field_lines`] read.
pub(crate) struct PlainFields<'b> {
    /// One past the empty line that ends the head.
    pub(crate) end: usize,
    /// How many fields were read.
    pub(crate) count: usize,
    /// The head up to the end of its last name (or the end of its start
    /// line, where there is no field), as a `str`.
    pub(crate) text: &'b str,
}

/// Stand-ins for names until the head is a `str`: a name is held as the
/// prefix as long as it. A longer name is left to httparse.
const NAME_LENGTHS: &str = "________________________________________________________________";

/// How many token characters `bytes` begins with.
#[inline]
fn token_len(bytes: &[u8]) -> usize {
    // Eight bytes a step, the step unrolled: names and methods are a word
    // or two long, and a loop a byte pays a count and a bound check a byte.
    let is_tchar = |b: &u8| TCHAR[usize::from(*b)];
    let mut words = bytes.chunks_exact(8);
    let mut len = 0;
    for word in &mut words {
        if let Some(at) = word.iter().position(|b| !is_tchar(b)) {
            return len + at;
        }
        len += 8;
    }
    let rest = words.remainder();
    len + rest.iter().position(|b| !is_tchar(b)).unwrap_or(rest.len())
}

/// How many bytes from `LOW` to `~` `bytes` begins with: `LOW` is `!` for
/// visible ASCII, SP for printable.
#[inline]
fn ascii_run_len<const LOW: u8>(bytes: &[u8]) -> usize {
    // Eight bytes a step: a target or value is tens of bytes, and a byte at
    // a time costs a compare and a branch each.
    let low_bytes = ONES * u64::from(LOW);
    // A byte's high bit ends up set if the byte is below `LOW` (the
    // subtraction borrows), from `DEL` to 0xfe (the addition reaches the
    // high bit) or from `LOW + 0x80` up (the subtraction leaves it set):
    // every byte outside `LOW..=~`, and no other (`LOW` is at most 0x7e).
    // A borrow or carry into a byte comes only from a lower byte that is
    // flagged itself, so the lowest flag is a real one.
    let outside = |word: u64| (word.wrapping_sub(low_bytes) | word.wrapping_add(ONES)) & HIGH_BITS;
    let mut len = 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let flags = outside(word_of(word));
        if flags != 0 {
            return len + first_flagged(flags);
        }
        len += 8;
    }
    let rest = words.remainder();
    len + rest
        .iter()
        .position(|&b| !(LOW..=b'~').contains(&b))
        .unwrap_or(rest.len())
}

/// A byte in each lane of a word.
const ONES: u64 = u64::from_le_bytes([0x01; 8]);
/// Each lane's high bit: where a word-sized test flags a byte.
const HIGH_BITS: u64 = ONES * 0x80;

/// Eight bytes as a word, the first the lowest.
#[inline(always)]
fn word_of(bytes: &[u8]) -> u64 {
    u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ])
}

/// The place of the lowest byte flagged (its high bit set) in a word.
#[inline(always)]
fn first_flagged(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::{
        Header, Version, ascii_run_len, plain_field_lines, plain_request_line, plain_status_line,
    };

    /// A run's lowest byte, and the function that measures the run.
    type RunLen = (u8, fn(&[u8]) -> usize);

    /// Both runs the heads use: visible ASCII (targets), printable ASCII
    /// (values).
    fn run_lens() -> [RunLen; 2] {
        [(b'!', ascii_run_len::<b'!'>), (b' ', ascii_run_len::<b' '>)]
    }

    /// Every byte value at every position of a word, and after a run long
    /// enough to reach the byte-at-a-time remainder.
    #[test]
    fn a_run_ends_at_the_first_other_byte() {
        for (low, run_len) in run_lens() {
            for len in 0..20 {
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut bytes = [b'a'; 20];
                        bytes[at] = b;
                        let expected = if (low..=b'~').contains(&b) { len } else { at };
                        assert_eq!(run_len(&bytes[..len]), expected, "{b:#x} at {at}");
                    }
                }
            }
        }
    }

    /// Two bytes from the edges of the ranges in a word, every pair of
    /// places: a borrow or carry out of the first must not move the end.
    #[test]
    fn a_borrow_or_carry_does_not_move_the_end() {
        const EDGES: [u8; 13] = [
            0x00, 0x1f, 0x20, 0x21, b'a', 0x7e, 0x7f, 0x80, 0x9f, 0xa0, 0xa1, 0xfe, 0xff,
        ];
        for (low, run_len) in run_lens() {
            for first_at in 0..8 {
                for second_at in first_at + 1..9 {
                    for first in EDGES {
                        for second in EDGES {
                            let mut bytes = [b'a'; 9];
                            bytes[first_at] = first;
                            bytes[second_at] = second;
                            let expected = bytes
                                .iter()
                                .position(|b| !(low..=b'~').contains(b))
                                .unwrap_or(bytes.len());
                            assert_eq!(run_len(&bytes), expected, "{bytes:?}");
                        }
                    }
                }
            }
        }
    }

    /// A plain line is read here, not left to httparse (which would read
    /// it the same, only slower: a test of outcomes cannot tell); any other
    /// line is left.
    #[test]
    fn a_plain_line_is_split_into_its_parts() {
        let input = b"OPTIONS * HTTP/1.0\r\nHost: a\r\n\r\n";
        let line = plain_request_line(input).unwrap();
        assert_eq!(line.method_and_target_of(input), Some(("OPTIONS", "*")));
        assert_eq!((line.len, line.version), (20, Version::Http10));
        let input = b"GET /a?b HTTP/1.1\r\n";
        let line = plain_request_line(input).unwrap();
        assert_eq!(line.method_and_target_of(input), Some(("GET", "/a?b")));
        assert_eq!((line.len, line.version), (19, Version::Http11));
        // The method ends at a byte other than SP: no plain line.
        assert!(plain_request_line(b"GET//a HTTP/1.1\r\n").is_none());
        assert!(plain_request_line(b"GET\t/a HTTP/1.1\r\n").is_none());
        assert!(plain_request_line(b"GET / HTTP/1.1\r").is_none());
        assert!(plain_request_line(b"GET / HTTP/1.1\n").is_none());
        assert!(plain_request_line(b"GET  / HTTP/1.1\r\n").is_none());
        assert!(plain_request_line(b" / HTTP/1.1\r\n").is_none());
    }

    /// A plain status line is read here, not left to httparse (which would
    /// read it the same, only slower); any other line is left.
    #[test]
    fn a_plain_status_line_is_split_into_its_parts() {
        // The input, then its version, code, line length and reason.
        let plain = [
            (
                "HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
                Version::Http11,
                200,
                17,
                "OK",
            ),
            (
                "HTTP/1.0 404 Not  Found \r\n",
                Version::Http10,
                404,
                26,
                "Not  Found ",
            ),
            ("HTTP/1.1 204\r\n", Version::Http11, 204, 14, ""),
        ];
        for (input, version, code, len, reason) in plain {
            let line = plain_status_line(input.as_bytes()).unwrap();
            assert_eq!(
                (line.version, line.code, line.len, line.reason(input)),
                (version, code, len, Some(reason)),
                "{input:?}"
            );
        }
        let others: [&[u8]; 10] = [
            b"HTTP/1.1 200 OK\n",
            b"HTTP/1.1 200 OK\r",
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1 20 OK\r\n",
            b"HTTP/1.1 2x0 OK\r\n",
            b"HTTP/1.1  200 OK\r\n",
            b"HTTP/1.2 200 OK\r\n",
            b"HTTP/1.1 200\tOK\r\n",
            b"HTTP/1.1 200 caf\xc3\xa9\r\n",
            b"HTTP/1.1 200\n",
        ];
        for input in others {
            let line = plain_status_line(input);
            assert!(line.is_none(), "{:?}", core::str::from_utf8(input));
        }
    }

    /// Plain field lines are read here, not left to httparse (which would
    /// read them the same, only slower: a test of outcomes cannot tell).
    #[test]
    fn plain_field_lines_are_split_into_names_and_values() {
        let input = b"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nY: \r\nZ:b  c\r\n\r\nnext";
        let mut fields = [httparse::EMPTY_HEADER; 4];
        let read = plain_field_lines(input, 16, &mut fields).unwrap();
        assert_eq!((read.end, read.count), (input.len() - 4, 4));
        // The `str` ends with the last name: the start line and the names
        // are read from it, and nothing after them.
        let after_last_name = b":b  c\r\n\r\nnext".len();
        assert_eq!(
            read.text.as_bytes(),
            &input[..input.len() - after_last_name]
        );
        let expected: [(&str, &[u8]); 4] =
            [("Host", b"a"), ("X-Empty", b""), ("Y", b""), ("Z", b"b  c")];
        for (field, (name, value)) in fields.iter().zip(expected) {
            assert_eq!((field.name, field.value), (name, value));
        }
        // An empty value is where httparse puts it: at its line's CR.
        let cr_of = |line_end: &[u8]| {
            let at = input.windows(line_end.len()).position(|w| w == line_end);
            input[at.unwrap() + line_end.len() - 2..].as_ptr()
        };
        assert_eq!(fields[1].value.as_ptr(), cr_of(b"X-Empty:\r\n"));
        assert_eq!(fields[2].value.as_ptr(), cr_of(b"Y: \r\n"));
        // The last name followed by a space.
        let read = plain_field_lines(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 16, &mut fields);
        assert_eq!(read.unwrap().text, "GET / HTTP/1.1\r\nHost");
        // A head of no fields.
        let read = plain_field_lines(b"HTTP/1.1 204\r\n\r\n", 14, &mut fields).unwrap();
        assert_eq!(
            (read.end, read.count, read.text),
            (16, 0, "HTTP/1.1 204\r\n")
        );
    }

    /// Lines httparse takes but reads more than a byte class into (a
    /// trailing space it trims, spaces it skips, a tab, obs-text) and lines
    /// it refuses, a head not yet whole or with more fields than slots: all
    /// left to it.
    #[test]
    fn other_field_lines_are_left_to_httparse() {
        let long_name = [b'n'; 65];
        let long_line = [&long_name[..], b": v\r\n\r\n"].concat();
        let others: [&[u8]; 16] = [
            b"A: b \r\n\r\n",
            b"A:  b\r\n\r\n",
            b"A:  \r\n\r\n",
            b"A: b\tc\r\n\r\n",
            b"A:\tb\r\n\r\n",
            b"A: caf\xc3\xa9\r\n\r\n",
            b"A: b\n\r\n",
            b"A: b\r\n\n",
            b"A: b\rc\r\n\r\n",
            b"A : b\r\n\r\n",
            b": b\r\n\r\n",
            b"A: b\r\n c\r\n\r\n",
            b"A: b\x00\r\n\r\n",
            b"A: b\r\n\r",
            b"A: b\r\nB: c\r\nC: d\r\n\r\n",
            &long_line,
        ];
        for input in others {
            let mut fields = [httparse::EMPTY_HEADER; 2];
            let read = plain_field_lines(input, 0, &mut fields);
            assert!(read.is_none(), "{:?}", core::str::from_utf8(input));
        }
        // The longest name still read here.
        let name = [b'n'; 64];
        let input = [&name[..], b": v\r\n\r\n"].concat();
        let mut fields = [Header {
            name: "",
            value: b"",
        }];
        let read = plain_field_lines(&input, 0, &mut fields).unwrap();
        assert_eq!((read.count, fields[0].name.len()), (1, 64));
    }
}
