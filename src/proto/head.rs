//! Message heads: the start line and header fields, as views borrowed from the
//! caller's buffer (received) or built by the caller (to send).

use core::fmt;

use super::status::StatusCode;

/// One header field: a name and its raw value bytes, both borrowed.
///
/// This is `httparse`'s header type, so received heads need no conversion.
/// Build one to send with a struct literal:
///
/// ```
/// use lithe::proto::Header;
/// let h = Header { name: "Content-Type", value: b"text/plain" };
/// assert_eq!(h.value, b"text/plain");
/// ```
pub use httparse::Header;

/// An empty header, to fill the header array passed to
/// [`Connection::receive`](super::Connection::receive).
pub use httparse::EMPTY_HEADER;

/// The HTTP version of a message. Only HTTP/1.0 and HTTP/1.1 are spoken here;
/// another well-formed version (`HTTP/2.0`) is rejected with 505, a malformed
/// one (`HTTP/1.10`) with 400. The default is HTTP/1.1.
///
/// ```
/// use lithe::proto::Version;
/// assert_eq!(Version::default(), Version::Http11);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// HTTP/1.0: no persistent connections unless `Connection: keep-alive`, no chunked.
    Http10,
    /// HTTP/1.1.
    #[default]
    Http11,
}

impl Version {
    /// The version as written on the wire, e.g. `HTTP/1.1`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request's start line and header fields.
///
/// Received heads borrow from the input buffer (`'b`) and the header array (`'h`);
/// a head to send can borrow from anything.
///
/// ```
/// use lithe::proto::{Header, RequestHead, Version};
/// let headers = [Header { name: "Host", value: b"example.com" }];
/// let head = RequestHead::new("GET", "/", &headers);
/// assert_eq!(head.version, Version::Http11);
/// assert_eq!(head.header("host"), Some(&b"example.com"[..]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHead<'b, 'h> {
    /// The method, case-sensitive (`GET`, not `get`).
    pub method: &'b str,
    /// The request-target as sent: `/path?q`, `http://host/path`, `host:443` or `*`.
    pub target: &'b str,
    /// The protocol version.
    pub version: Version,
    /// The header fields in the order received.
    pub headers: &'h [Header<'b>],
}

impl<'b, 'h> RequestHead<'b, 'h> {
    /// An HTTP/1.1 request head.
    pub const fn new(method: &'b str, target: &'b str, headers: &'h [Header<'b>]) -> Self {
        RequestHead {
            method,
            target,
            version: Version::Http11,
            headers,
        }
    }

    /// The value of the first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        find_header(self.headers, name)
    }

    /// The form of the request-target (RFC 9112 §3.2).
    pub fn target_form(&self) -> TargetForm {
        TargetForm::of(self.target)
    }
}

/// A response's status line and header fields.
///
/// ```
/// use lithe::proto::{Header, ResponseHead, StatusCode};
/// let headers = [Header { name: "Content-Length", value: b"5" }];
/// let head = ResponseHead::new(StatusCode::OK, &headers);
/// assert_eq!(head.reason, "OK");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead<'b, 'h> {
    /// The protocol version.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase; may be empty, and is empty when received with
    /// bytes past ASCII (httparse does not decode it). Clients must not rely
    /// on it. One sent may hold tabs, spaces and visible ASCII only
    /// ([`SendError::InvalidReasonPhrase`](super::SendError::InvalidReasonPhrase)).
    pub reason: &'b str,
    /// The header fields in the order received.
    pub headers: &'h [Header<'b>],
}

impl<'b, 'h> ResponseHead<'b, 'h> {
    /// An HTTP/1.1 response head with the status's canonical reason phrase.
    pub const fn new(status: StatusCode, headers: &'h [Header<'b>]) -> Self {
        let reason = match status.canonical_reason() {
            Some(reason) => reason,
            None => "",
        };
        ResponseHead {
            version: Version::Http11,
            status,
            reason,
            headers,
        }
    }

    /// The value of the first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        find_header(self.headers, name)
    }
}

/// The four forms of request-target (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`: the usual form.
    Origin,
    /// `http://host/path`: the form sent to proxies. Userinfo
    /// (`http://user:password@host/`) makes the target invalid: RFC 9110
    /// §4.2.4 has a recipient treat it as an error (it serves to disguise the
    /// authority, and carries credentials into logs).
    Absolute,
    /// `host:port`: only with CONNECT.
    Authority,
    /// `*`: only with OPTIONS.
    Asterisk,
    /// None of the above, or any target with a fragment (`#`), which no form
    /// has.
    Invalid,
}

impl TargetForm {
    /// Classifies a request-target.
    ///
    /// ```
    /// use lithe::proto::TargetForm;
    /// assert_eq!(TargetForm::of("/a?b"), TargetForm::Origin);
    /// assert_eq!(TargetForm::of("https://x.example/"), TargetForm::Absolute);
    /// assert_eq!(TargetForm::of("x.example:443"), TargetForm::Authority);
    /// assert_eq!(TargetForm::of("[::1]:443"), TargetForm::Authority);
    /// // Brackets hold an IPv6 address, not anything made of its characters.
    /// assert_eq!(TargetForm::of("[1]:443"), TargetForm::Invalid);
    /// assert_eq!(TargetForm::of("x.example:65535"), TargetForm::Authority);
    /// assert_eq!(TargetForm::of("x.example:65536"), TargetForm::Invalid);
    /// assert_eq!(TargetForm::of("x.example:0"), TargetForm::Invalid);
    /// assert_eq!(TargetForm::of("*"), TargetForm::Asterisk);
    /// assert_eq!(TargetForm::of("http://user:pw@x.example/"), TargetForm::Invalid);
    /// assert_eq!(TargetForm::of("http://x.example/a@b"), TargetForm::Absolute);
    /// assert_eq!(TargetForm::of("http:///a"), TargetForm::Invalid);
    /// // The authority is held to the Host field's rule.
    /// assert_eq!(TargetForm::of("http://[::1]:8080/"), TargetForm::Absolute);
    /// assert_eq!(TargetForm::of("x%2Dy.example:443"), TargetForm::Authority);
    /// assert_eq!(TargetForm::of("x%zz.example:443"), TargetForm::Invalid);
    /// assert_eq!(TargetForm::of("http://a\\b.example/"), TargetForm::Invalid);
    /// assert_eq!(TargetForm::of("http://a:1:2/"), TargetForm::Invalid);
    /// assert_eq!(TargetForm::of("/a#b"), TargetForm::Invalid);
    /// ```
    pub fn of(target: &str) -> TargetForm {
        let bytes = target.as_bytes();
        // No form has a fragment (RFC 9112 §3.2): clients strip it, and
        // peers that strip it where we would not see another path.
        if has_fragment(bytes) {
            return TargetForm::Invalid;
        }
        match bytes.first() {
            None => TargetForm::Invalid,
            Some(b'/') => TargetForm::Origin,
            Some(b'*') if bytes.len() == 1 => TargetForm::Asterisk,
            Some(_) => {
                if let Some((_, authority)) = scheme_and_authority(bytes) {
                    // An http URI with an empty host is invalid (RFC 9110
                    // §4.2.1), and userinfo is an error (§4.2.4). The
                    // authority stands for the Host field (RFC 9112
                    // §3.2.2), so it is held to the same rule: a hop in
                    // front may read `a\b.example` or `a:1:2` otherwise.
                    return match is_host_and_port(authority) {
                        true => TargetForm::Absolute,
                        false => TargetForm::Invalid,
                    };
                }
                // authority-form = uri-host ":" port. The port follows the last
                // colon, so an IPv6 literal keeps its colons in the host.
                if let Some(colon) = bytes.iter().rposition(|&b| b == b':') {
                    let (host, port) = (&bytes[..colon], &bytes[colon + 1..]);
                    if is_host(host) && is_connect_port(port) {
                        return TargetForm::Authority;
                    }
                }
                TargetForm::Invalid
            }
        }
    }

    /// Whether a request with `method` may use this form (RFC 9112 §3.2):
    /// authority-form with CONNECT only, which takes no other; asterisk-form
    /// with OPTIONS only. Checked on receipt and on send alike.
    pub(crate) fn fits_method(self, method: &str) -> bool {
        match self {
            TargetForm::Origin | TargetForm::Absolute => method != "CONNECT",
            TargetForm::Authority => method == "CONNECT",
            TargetForm::Asterisk => method == "OPTIONS",
            TargetForm::Invalid => false,
        }
    }
}

/// Whether `port` is a port a CONNECT may name: a port number other than
/// zero, which no TCP connection can reach (RFC 9110 §9.3.6 has a server
/// reject an invalid port; one that passed it on would have the tunnel's
/// hop fail, or bind, where no access rule looked).
fn is_connect_port(port: &[u8]) -> bool {
    is_port_number(port) && port.iter().any(|&b| b != b'0')
}

/// Whether `port` is digits (leading zeros allowed) whose value fits a TCP
/// port. RFC 9110 §9.3.6 has a server reject an empty or invalid one; past
/// 65535, a hop that wraps the number around (`99999` as 34463) would
/// connect where an access rule did not look.
fn is_port_number(port: &[u8]) -> bool {
    // Four digits or fewer cannot pass 65535: their value is not computed
    // (every request's Host with a port comes here).
    if port.len() <= 4 {
        return !port.is_empty() && port.iter().all(u8::is_ascii_digit);
    }
    // Five digits (ports from 10000 on, where test and benchmark servers
    // listen) are compared with 65535 as a number of their bytes: digits of
    // one length order as their values do.
    if let Ok(digits) = <[u8; 5]>::try_from(port) {
        let as_number = |[a, b, c, d, e]: [u8; 5]| u64::from_be_bytes([0, 0, 0, a, b, c, d, e]);
        return digits.iter().all(u8::is_ascii_digit) && as_number(digits) <= as_number(*b"65535");
    }
    let mut value = 0u32;
    port.iter().all(|&b| {
        value = value
            .saturating_mul(10)
            .saturating_add(u32::from(b.wrapping_sub(b'0')));
        b.is_ascii_digit() && value <= u32::from(u16::MAX)
    })
}

/// Whether a target holds `#`: a long target is searched with `memchr`
/// (vectored; core's own search set up for longer than that takes), a short
/// one, a bare `/` most often, with core's plain loop, which needs no set-up
/// at all.
fn has_fragment(target: &[u8]) -> bool {
    match target.len() {
        0..16 => target.contains(&b'#'),
        _ => memchr::memchr(b'#', target).is_some(),
    }
}

/// The scheme and authority of a target shaped as absolute-form
/// (`scheme://authority`, then a path, query or fragment, or nothing), the
/// authority as written, not yet checked; `None` for any other shape.
pub(crate) fn scheme_and_authority(target: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = target.iter().position(|&b| b == b':')?;
    let (scheme, rest) = target.split_at(colon);
    let after = rest.strip_prefix(b"://").filter(|_| is_scheme(scheme))?;
    let end = after
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(after.len());
    Some((scheme, &after[..end]))
}

fn is_scheme(s: &[u8]) -> bool {
    matches!(s.first(), Some(b) if b.is_ascii_alphabetic())
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `uri-host [ ":" port ]` (RFC 3986 §3.2): an authority without userinfo,
/// its port, if any, one a TCP port can be.
pub(crate) fn is_host_and_port(authority: &[u8]) -> bool {
    let (host, port) = split_host_and_port(authority);
    is_host(host) && is_port(port)
}

/// RFC 3986's `port = *DIGIT`, empty included, held to what fits a TCP
/// port for the reason [`is_port_number`] gives: in a Host field or an
/// absolute-form target as in a CONNECT's authority.
pub(crate) fn is_port(port: &[u8]) -> bool {
    port.is_empty() || is_port_number(port)
}

/// An authority's host and its port (empty where there is none), not
/// checked: the port follows the last colon outside an IP literal's
/// brackets.
pub(crate) fn split_host_and_port(authority: &[u8]) -> (&[u8], &[u8]) {
    match authority.iter().rposition(|&b| b == b':') {
        Some(colon) if !authority[colon..].contains(&b']') => {
            (&authority[..colon], &authority[colon + 1..])
        }
        _ => (authority, &[]),
    }
}

/// `uri-host` (RFC 3986 §3.2.2): an IPv6 address in brackets, or a reg-name /
/// IPv4 address made of unreserved, pct-encoded and sub-delims characters.
/// A bracketed literal must be an IPv6 address, not merely look like one
/// (`[1]`, `[0::0::1]`): hops that parse it strictly refuse or route such a
/// host otherwise. (IPvFuture, which no host uses, is refused.)
pub(crate) fn is_host(host: &[u8]) -> bool {
    match host {
        [b'[', literal @ .., b']'] => core::str::from_utf8(literal)
            .is_ok_and(|literal| literal.parse::<core::net::Ipv6Addr>().is_ok()),
        _ => !host.is_empty() && is_reg_name(host),
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`, which an IPv4
/// address also is: a `%` begins a `pct-encoded` and needs two hex digits
/// after it (`a%zz` or a final `a%2` is no name, and hops disagree on what
/// they would decode it to).
fn is_reg_name(host: &[u8]) -> bool {
    let mut rest = host;
    while let [first, after @ ..] = rest {
        rest = match (first, after) {
            (b'%', [high, low, after @ ..])
                if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
            {
                after
            }
            (&b, _) if is_reg_name_byte(b) => after,
            _ => return false,
        };
    }
    true
}

/// A byte that may stand alone in a reg-name: unreserved or a sub-delim
/// (`%` begins a `pct-encoded` triple, which [`is_reg_name`] reads whole).
pub(crate) const fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

/// The value of the first field named `name`, compared ASCII case-insensitively.
pub(crate) fn find_header<'b>(headers: &[Header<'b>], name: &str) -> Option<&'b [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// A lowercase ASCII literal of 4 to 24 bytes, prepared to be compared with
/// other bytes ignoring ASCII case a word at a time: the fields that frame a
/// message are looked for in every head, and `eq_ignore_ascii_case` goes a byte
/// at a time. The literal is covered by (possibly overlapping) windows of 4
/// bytes (lengths 4 to 7) or 8 bytes (8 to 24): first, last and, past 16
/// bytes, the middle one. Built in a `const`, so the windows are constants.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lowercase {
    len: usize,
    first: u8,
    /// Per window: its offset, the literal's bytes there as a little-endian
    /// word, and 0x20 under each letter (the one bit where its cases differ;
    /// other bytes must match exactly).
    windows: [(usize, u64, u64); 3],
}

impl Lowercase {
    pub(crate) const fn new(lower: &[u8]) -> Lowercase {
        let len = lower.len();
        assert!(len >= 4 && len <= 24, "4 to 24 bytes");
        let width = if len >= 8 { 8 } else { 4 };
        let offsets = [0, len - width, if len > 16 { 8 } else { 0 }];
        let mut windows = [(0, 0, 0); 3];
        let mut w = 0;
        while w < 3 {
            let at = offsets[w];
            let (mut word, mut case_bits) = (0u64, 0u64);
            let mut i = 0;
            while i < width {
                let b = lower[at + i];
                assert!(!b.is_ascii_uppercase(), "not lowercase");
                word |= (b as u64) << (8 * i);
                if b.is_ascii_lowercase() {
                    case_bits |= 0x20 << (8 * i);
                }
                i += 1;
            }
            windows[w] = (at, word, case_bits);
            w += 1;
        }
        Lowercase {
            len,
            first: lower[0],
            windows,
        }
    }

    /// The literal's length.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// The literal's first byte.
    pub(crate) const fn first(&self) -> u8 {
        self.first
    }

    /// Whether `bytes` is the literal, ignoring ASCII case.
    #[inline(always)]
    pub(crate) fn matches(&self, bytes: &[u8]) -> bool {
        if bytes.len() != self.len {
            return false;
        }
        let [first, last, middle] = self.windows;
        self.window_matches(bytes, first)
            && self.window_matches(bytes, last)
            && self.window_matches(bytes, middle)
    }

    /// Whether `bytes` (of the literal's length) matches one window of it.
    // With a literal, `len` is a constant and so is the window width: the other
    // branch and the index checks fold away.
    #[inline(always)]
    fn window_matches(&self, bytes: &[u8], (at, word, case_bits): (usize, u64, u64)) -> bool {
        let loaded = if self.len >= 8 {
            bytes
                .get(at..at + 8)
                .and_then(|w| w.try_into().ok())
                .map(u64::from_le_bytes)
        } else {
            bytes
                .get(at..at + 4)
                .and_then(|w| w.try_into().ok())
                .map(|w| u64::from(u32::from_le_bytes(w)))
        };
        loaded.is_some_and(|loaded| loaded | case_bits == word)
    }
}

/// Strips optional whitespace (SP / HTAB) from both ends, and line breaks: a
/// value holds one only as an obs-fold that
/// [`allow_obs_fold_in_responses`](super::Leniency::allow_obs_fold_in_responses)
/// let through, which a recipient reads as a space (RFC 9112 §5.2), so that
/// `Connection: keep-alive,` folded before `close` still says `close`.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// tchar (RFC 9110 §5.6.2).
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// A byte predicate (a `const fn(u8) -> bool`) as a 256-entry table built at
/// compile time: one load per byte, where a chain of ranges costs several
/// compares.
macro_rules! byte_table {
    ($predicate:path) => {{
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            table[b] = $predicate(b as u8);
            b += 1;
        }
        table
    }};
}
pub(crate) use byte_table;

/// [`is_tchar`] as a table. Every outgoing header name goes through it, and
/// the method of every plain request line received.
pub(crate) static TCHAR: [bool; 256] = byte_table!(is_tchar);

/// A non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && all_bytes_in(&TCHAR, s)
}

/// Whether `table` (a [`byte_table!`]) takes every byte of `bytes`.
#[inline]
pub(crate) fn all_bytes_in(table: &[bool; 256], bytes: &[u8]) -> bool {
    // Four bytes a step, their verdicts combined without a branch: a loop
    // that stops at the first bad byte pays a count and a branch a byte,
    // as much as the lookup, and nearly every name or host passes.
    let take = |ok: bool, b: &u8| ok & table[usize::from(*b)];
    let mut words = bytes.chunks_exact(4);
    let mut ok = true;
    for word in &mut words {
        ok &= word.iter().fold(true, take);
    }
    ok && words.remainder().iter().fold(true, take)
}

#[cfg(test)]
mod tests {
    use super::is_port_number;

    /// Every port of five digits (compared with 65535 as a number of its
    /// bytes), and of four and six (counted), is judged by its value; a
    /// byte other than a digit anywhere makes it no port.
    #[test]
    fn ports_are_judged_by_their_value() {
        for len in [4, 5, 6] {
            for value in 0..10u32.pow(len) {
                let mut digits = [0u8; 6];
                let mut rest = value;
                for slot in digits[..len as usize].iter_mut().rev() {
                    *slot = b'0' + (rest % 10) as u8;
                    rest /= 10;
                }
                let port = &mut digits[..len as usize];
                assert_eq!(is_port_number(port), value <= 65535, "{port:?}");
                if value % 997 == 0 {
                    for at in 0..port.len() {
                        for other in [b'/', b':', b'a', b' '] {
                            let kept = core::mem::replace(&mut port[at], other);
                            assert!(!is_port_number(port), "{port:?}");
                            port[at] = kept;
                        }
                    }
                }
            }
        }
    }
}
