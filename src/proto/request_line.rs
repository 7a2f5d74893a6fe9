//! The request line of an ordinary request, read in a few word-sized steps.
//!
//! httparse reads a request line with a parser built for every line it
//! accepts (leading empty lines, bare LF, UTF-8 targets), and on a small
//! request that costs as much as the field lines after it. Nearly every
//! request line is plainer: a method of token characters, a target of
//! visible ASCII, `HTTP/1.1` or `HTTP/1.0`, CRLF. [`plain_request_line`]
//! reads such a line and answers `None` for any other, which httparse then
//! reads as before, so it changes no outcome: it accepts only lines httparse
//! accepts, and splits them where httparse does (tests/proto_props.rs
//! compares the two on arbitrary lines). The field lines are httparse's
//! either way.

use super::head::{TCHAR, Version};

/// A request line [`plain_request_line`] took.
pub(crate) struct PlainRequestLine<'b> {
    /// The method, a slice of the input.
    pub(crate) method: &'b str,
    /// The request-target, a slice of the input.
    pub(crate) target: &'b str,
    /// The protocol version.
    pub(crate) version: Version,
    /// The line's length, its CRLF included: where the field lines begin.
    pub(crate) len: usize,
}

/// The request line `input` begins with, if it is a plain one: `method SP
/// target SP HTTP/1.x CRLF`, the method one or more token characters, the
/// target one or more bytes from `!` to `~`, the version `HTTP/1.1` or
/// `HTTP/1.0`. `None` for anything else, valid or not, and for a line not
/// yet complete.
// One call site, on the path of every head: inlined, the line's parts are
// not written out and read back.
#[inline(always)]
pub(crate) fn plain_request_line(input: &[u8]) -> Option<PlainRequestLine<'_>> {
    // Most requests are GETs: four bytes compared at once.
    let method_len = if input.starts_with(b"GET ") {
        3
    } else {
        token_len(input)
    };
    let target_start = method_len + 1;
    let target_len = visible_ascii_len(input.get(target_start..)?);
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
    // Every byte is ASCII: this validation cannot fail, and is the safe way
    // to a `str`.
    let method_and_target = core::str::from_utf8(&input[..target_end]).ok()?;
    Some(PlainRequestLine {
        method: &method_and_target[..method_len],
        target: &method_and_target[target_start..],
        version,
        len: target_end + LINE_END_LEN,
    })
}

/// What follows the target on a plain line: ` HTTP/1.1` and CRLF.
const LINE_END_LEN: usize = 11;

/// How many token characters `bytes` begins with.
fn token_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !TCHAR[usize::from(b)])
        .unwrap_or(bytes.len())
}

/// How many bytes from `!` to `~` (visible ASCII) `bytes` begins with.
#[inline]
fn visible_ascii_len(bytes: &[u8]) -> usize {
    // Eight bytes a step: a target is tens of bytes, and a byte at a time
    // costs a compare and a branch each.
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH_BITS: u64 = ONES * 0x80;
    let mut words = bytes.chunks_exact(8);
    let mut len = 0;
    for word in &mut words {
        let word = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        // A byte's high bit ends up set if the byte is below `!` (the
        // subtraction borrows), from `DEL` to 0xfe (the addition reaches the
        // high bit) or from 0xa1 up (the subtraction leaves it set): every
        // byte outside `!`..=`~`, and no other. A borrow or carry into a
        // byte comes only from a lower byte that is flagged itself, so the
        // lowest flag is a real one.
        let outside = (word.wrapping_sub(ONES * 0x21) | word.wrapping_add(ONES)) & HIGH_BITS;
        if outside != 0 {
            return len + (outside.trailing_zeros() / 8) as usize;
        }
        len += 8;
    }
    let rest = words.remainder();
    len + rest
        .iter()
        .position(|&b| !(b'!'..=b'~').contains(&b))
        .unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::{Version, plain_request_line, visible_ascii_len};

    /// Every byte value at every position of a word, and after a run of
    /// visible bytes long enough to reach the byte-at-a-time remainder.
    #[test]
    fn the_visible_run_ends_at_the_first_other_byte() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = [b'a'; 20];
                    bytes[at] = b;
                    let expected = if (b'!'..=b'~').contains(&b) { len } else { at };
                    assert_eq!(visible_ascii_len(&bytes[..len]), expected, "{b:#x} at {at}");
                }
            }
        }
    }

    /// Two bytes from the edges of the range in a word, every pair of
    /// places: a borrow or carry out of the first must not move the end.
    #[test]
    fn a_borrow_or_carry_does_not_move_the_end() {
        const EDGES: [u8; 11] = [
            0x00, 0x20, 0x21, b'a', 0x7e, 0x7f, 0x80, 0xa0, 0xa1, 0xfe, 0xff,
        ];
        for first_at in 0..8 {
            for second_at in first_at + 1..9 {
                for first in EDGES {
                    for second in EDGES {
                        let mut bytes = [b'a'; 9];
                        bytes[first_at] = first;
                        bytes[second_at] = second;
                        let expected = bytes
                            .iter()
                            .position(|b| !(b'!'..=b'~').contains(b))
                            .unwrap_or(bytes.len());
                        assert_eq!(visible_ascii_len(&bytes), expected, "{bytes:?}");
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
        let line = plain_request_line(b"OPTIONS * HTTP/1.0\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!((line.method, line.target, line.len), ("OPTIONS", "*", 20));
        assert_eq!(line.version, Version::Http10);
        let line = plain_request_line(b"GET /a?b HTTP/1.1\r\n").unwrap();
        assert_eq!((line.method, line.target, line.len), ("GET", "/a?b", 19));
        assert_eq!(line.version, Version::Http11);
        // The method ends at a byte other than SP: no plain line.
        assert!(plain_request_line(b"GET//a HTTP/1.1\r\n").is_none());
        assert!(plain_request_line(b"GET\t/a HTTP/1.1\r\n").is_none());
        assert!(plain_request_line(b"GET / HTTP/1.1\r").is_none());
        assert!(plain_request_line(b"GET / HTTP/1.1\n").is_none());
        assert!(plain_request_line(b"GET  / HTTP/1.1\r\n").is_none());
        assert!(plain_request_line(b" / HTTP/1.1\r\n").is_none());
    }
}
