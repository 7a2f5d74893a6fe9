//! Message framing: how long a body is, read from the head (RFC 9112 §6).
//!
//! RFC 9112 §6.3 gives the rules in order, and `request_body_length` and
//! `response_body_length` follow that order. The framing header fields are read
//! in one pass by `FramingFields::read_received`, which also rejects the values
//! that make request smuggling possible: differing Content-Lengths, signs or
//! spaces in a Content-Length, and Transfer-Encoding lists that hide or repeat
//! `chunked`.

use super::error::{Error, SendError};
use super::head::{
    Header, Lowercase, RequestHead, Version, all_bytes_in, byte_table, is_host_and_port, is_port,
    is_reg_name_byte, is_token, scheme_and_authority, split_host_and_port, trim_ows,
};
use super::status::StatusCode;

/// How the body of a message is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// No body at all (not even an empty chunked one).
    Empty,
    /// Exactly this many bytes (Content-Length).
    Length(u64),
    /// Chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Everything until the connection closes: responses only.
    UntilClose,
}

/// What the Transfer-Encoding fields of a head say, all fields taken as one list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TransferCoding {
    /// No Transfer-Encoding field.
    Absent,
    /// `chunked` is the final coding; `only` when it is the sole one.
    Chunked { only: bool },
    /// The final coding is something else.
    NotChunkedFinal,
}

/// Too short for a [`Lowercase`]; compared a byte at a time, as it is rare.
const TE: &[u8] = b"te";
const HOST: Lowercase = Lowercase::new(b"host");
const EXPECT: Lowercase = Lowercase::new(b"expect");
const UPGRADE: Lowercase = Lowercase::new(b"upgrade");
const CONNECTION: Lowercase = Lowercase::new(b"connection");
const CONTENT_LENGTH: Lowercase = Lowercase::new(b"content-length");
const TRANSFER_ENCODING: Lowercase = Lowercase::new(b"transfer-encoding");
const CLOSE: Lowercase = Lowercase::new(b"close");
const KEEP_ALIVE: Lowercase = Lowercase::new(b"keep-alive");

/// The header fields [`FramingFields::read_received`] looks at.
const FRAMING_NAMES: [Lowercase; 6] = [
    HOST,
    EXPECT,
    UPGRADE,
    CONNECTION,
    CONTENT_LENGTH,
    TRANSFER_ENCODING,
];

/// The header fields that decide framing and connection handling, read in one pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FramingFields {
    pub content_length: Option<u64>,
    pub transfer_coding: TransferCoding,
    /// `chunked` is applied more than once (RFC 9112 §6.1: MUST NOT), which no
    /// framing can make sense of in either direction.
    pub chunked_repeated: bool,
    pub connection_close: bool,
    pub connection_keep_alive: bool,
    pub connection_upgrade: bool,
    pub has_upgrade: bool,
    /// `te` is named as a connection option.
    pub connection_te: bool,
    /// A head we send has a `TE` field (received ones are not looked at).
    pub has_te: bool,
    pub expect_continue: bool,
    pub host_count: usize,
    /// Every Host field holds `uri-host [ ":" port ]`, or nothing.
    pub host_valid: bool,
}

impl FramingFields {
    /// A head without any of the fields: what reading starts from.
    pub(crate) const NONE: FramingFields = FramingFields {
        content_length: None,
        transfer_coding: TransferCoding::Absent,
        chunked_repeated: false,
        connection_close: false,
        connection_keep_alive: false,
        connection_upgrade: false,
        has_upgrade: false,
        connection_te: false,
        has_te: false,
        expect_continue: false,
        host_count: 0,
        host_valid: true,
    };

    /// Reads the framing fields of a received head into `self` (which starts
    /// as [`NONE`](FramingFields::NONE)), rejecting malformed Content-Length
    /// and Transfer-Encoding values.
    // In place and inlined into the one caller per role. Returned as
    // `Result<FramingFields, Error>`, the struct was moved with the error's
    // byte over the first of the length's, in pieces the processor could not
    // forward from the stores that made them: a stall that cost about a
    // fifth of a minimal GET's time.
    #[inline(always)]
    pub(crate) fn read_received(&mut self, headers: &[Header<'_>]) -> Result<(), Error> {
        self.read_fields_of::<false, true>(headers)
    }

    /// [`read_received`](FramingFields::read_received) for a head we send,
    /// whose values may have whitespace around them (httparse trims what it
    /// reads).
    #[inline(always)]
    pub(crate) fn read_sent(&mut self, headers: &[Header<'_>]) -> Result<(), Error> {
        self.read_fields_of::<true, true>(headers)
    }

    /// [`read_received`](FramingFields::read_received) for a response that
    /// RFC 9112 §6.3 rules 1 and 2 frame whatever its fields say (see
    /// [`RequestMethod::frames_regardless`]): Content-Length and
    /// Transfer-Encoding are not looked at, so a malformed one is ignored as
    /// those rules ask, and the rest (Connection) is still read.
    /// (Only those two fields' values are ever refused, so this does not fail.)
    pub(crate) fn read_regardless_of_framing(
        headers: &[Header<'_>],
    ) -> Result<FramingFields, Error> {
        let mut fields = Self::NONE;
        fields.read_fields_of::<false, false>(headers)?;
        Ok(fields)
    }

    #[inline(always)]
    fn read_fields_of<const SENT: bool, const FRAMING: bool>(
        &mut self,
        headers: &[Header<'_>],
    ) -> Result<(), Error> {
        let fields = self;
        let mut chunked_seen = false;
        for header in headers {
            let name = header.name.as_bytes();
            // Most fields are none of these: a test of length and first letter
            // (predictable, no jump table) skips them before any comparison.
            if !is_framing_name_candidate(name) {
                continue;
            }
            match name.len() {
                // Its sender must name it as a connection option (RFC 9110
                // §10.1.4), which the connection adds where it is missing.
                2 if SENT && name.eq_ignore_ascii_case(TE) => fields.has_te = true,
                4 if HOST.matches(name) => {
                    fields.host_count += 1;
                    fields.host_valid &= is_host_field_value(as_read::<SENT>(header.value));
                }
                6 if EXPECT.matches(name) => {
                    // `Expect` is a list (RFC 9110 §10.1.1): 100-continue may
                    // come beside expectations we do not know.
                    fields.expect_continue |=
                        list(header.value).any(|e| e.eq_ignore_ascii_case(b"100-continue"));
                }
                // One that names no protocol (empty, or `,`) proposes or
                // confirms nothing.
                7 if UPGRADE.matches(name) => {
                    fields.has_upgrade |= list(header.value).next().is_some();
                }
                10 if CONNECTION.matches(name) => {
                    // One option is the common case: match the value whole before
                    // reading it as a list.
                    let value = trim_ows(header.value);
                    if !fields.add_connection_option(value) {
                        for option in list(value) {
                            fields.add_connection_option(option);
                        }
                    }
                }
                14 if FRAMING && CONTENT_LENGTH.matches(name) => {
                    fields.add_content_length(header.value)?;
                }
                17 if FRAMING && TRANSFER_ENCODING.matches(name) => {
                    // Parameters may hold quoted strings, whose commas the
                    // list split below would cut: one peer would see a
                    // `chunked` where another sees a parameter. No coding in
                    // use has a quoted parameter, so a quote is refused.
                    if header.value.contains(&b'"') {
                        return Err(Error::InvalidTransferEncoding);
                    }
                    let mut any = false;
                    for element in list(header.value) {
                        any = true;
                        // A transfer-coding may carry parameters: `name;param=value`.
                        let mut parts = element.split(|&b| b == b';');
                        let coding = trim_ows(parts.next().unwrap_or(b""));
                        if !is_token(coding) {
                            return Err(Error::InvalidTransferEncoding);
                        }
                        let is_chunked = coding.eq_ignore_ascii_case(b"chunked");
                        // `chunked` defines no parameters (RFC 9112 §7.1): with
                        // one, a hop that takes it for an unknown coding frames
                        // the message otherwise.
                        if is_chunked && parts.next().is_some() {
                            return Err(Error::InvalidTransferEncoding);
                        }
                        // Another coding's are `token BWS "=" BWS token`
                        // (quotes refused above): a hop that cannot read
                        // one (obs-text in it, say) may drop the field and
                        // frame the message otherwise.
                        if !parts.all(is_transfer_parameter) {
                            return Err(Error::InvalidTransferEncoding);
                        }
                        // A coding after `chunked` is left to `transfer_coding`
                        // (not final: refused in a request, read until close in a
                        // response); `chunked` twice is refused in both.
                        fields.chunked_repeated |= is_chunked && chunked_seen;
                        chunked_seen |= is_chunked;
                        fields.transfer_coding = match (is_chunked, fields.transfer_coding) {
                            (true, TransferCoding::Absent) => {
                                TransferCoding::Chunked { only: true }
                            }
                            (true, _) => TransferCoding::Chunked { only: false },
                            (false, _) => TransferCoding::NotChunkedFinal,
                        };
                    }
                    // A field line naming no coding is refused wherever it
                    // stands, beside other lines or not (empty elements
                    // beside a coding are ignored, RFC 9110 §5.6.1.2): a
                    // hop that reads one field line alone, the first or
                    // the last, finds no coding there and frames the body
                    // otherwise.
                    if !any {
                        return Err(Error::InvalidTransferEncoding);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Records a connection option we act on; false for any other.
    fn add_connection_option(&mut self, option: &[u8]) -> bool {
        let flag = if CLOSE.matches(option) {
            &mut self.connection_close
        } else if KEEP_ALIVE.matches(option) {
            &mut self.connection_keep_alive
        } else if UPGRADE.matches(option) {
            &mut self.connection_upgrade
        } else if option.eq_ignore_ascii_case(TE) {
            &mut self.connection_te
        } else {
            return false;
        };
        *flag = true;
        true
    }

    /// A head we send may state its length only as a recipient must read it
    /// first time: one Content-Length field, digits alone (RFC 9110 §8.6). A
    /// list or repetition of equal values, tolerated on receipt, is refused.
    /// Looked at only when the head has a Content-Length at all.
    #[inline]
    pub(crate) fn check_sent_content_length(
        &self,
        headers: &[Header<'_>],
    ) -> Result<(), SendError> {
        if self.content_length.is_none() {
            return Ok(());
        }
        let values = headers
            .iter()
            .filter(|h| CONTENT_LENGTH.matches(h.name.as_bytes()))
            .map(|h| h.value);
        match is_one_length(values) {
            true => Ok(()),
            false => Err(SendError::InvalidFraming(Error::InvalidContentLength)),
        }
    }

    /// A head we send names its transfer codings as a recipient must read
    /// them first time: no empty list element (RFC 9110 §5.6.1.1: a sender
    /// MUST NOT generate one), which a recipient tolerates on receipt, but
    /// some read as a last coding that is not `chunked` (hyper: until the
    /// close). Looked at only when the head has a Transfer-Encoding at all.
    pub(crate) fn check_sent_transfer_encoding(
        &self,
        headers: &[Header<'_>],
    ) -> Result<(), SendError> {
        if self.transfer_coding == TransferCoding::Absent {
            return Ok(());
        }
        let empty_element = headers
            .iter()
            .filter(|h| TRANSFER_ENCODING.matches(h.name.as_bytes()))
            .flat_map(|h| h.value.split(|&b| b == b','))
            .any(|element| trim_ows(element).is_empty());
        match empty_element {
            true => Err(SendError::InvalidFraming(Error::InvalidTransferEncoding)),
            false => Ok(()),
        }
    }

    /// RFC 9110 §8.6: `Content-Length = 1*DIGIT`. A list of identical values is
    /// accepted as that value (RFC 9112 §6.3 rule 5); any difference is an error.
    fn add_content_length(&mut self, value: &[u8]) -> Result<(), Error> {
        let value = trim_ows(value);
        // A single number is the common case; only a value that is not one is
        // read as a list.
        match parse_content_length(value) {
            Ok(n) => self.set_content_length(n),
            Err(_) if value.contains(&b',') => {
                value.split(|&b| b == b',').try_for_each(|element| {
                    self.set_content_length(parse_content_length(trim_ows(element))?)
                })
            }
            Err(error) => Err(error),
        }
    }

    /// Takes a body length the caller gave apart from the head as one more
    /// Content-Length value, and returns it if the head has no field for it.
    pub(crate) fn take_given_length(
        &mut self,
        given: Option<u64>,
    ) -> Result<Option<u64>, SendError> {
        let Some(n) = given else {
            return Ok(None);
        };
        // As a field it would be refused on receipt (more than 19 digits):
        // what we send must parse back.
        if n > MAX_CONTENT_LENGTH {
            return Err(SendError::InvalidFraming(Error::InvalidContentLength));
        }
        let in_head = self.content_length.is_some();
        self.set_content_length(n)
            .map_err(SendError::InvalidFraming)?;
        Ok((!in_head).then_some(n))
    }

    fn set_content_length(&mut self, n: u64) -> Result<(), Error> {
        match self.content_length {
            Some(previous) if previous != n => Err(Error::ConflictingContentLength),
            _ => {
                self.content_length = Some(n);
                Ok(())
            }
        }
    }

    /// Whether the message asks for the connection to persist after it
    /// (RFC 9112 §9.3).
    pub(crate) fn keep_alive(&self, version: Version) -> bool {
        match version {
            Version::Http11 => !self.connection_close,
            Version::Http10 => self.connection_keep_alive && !self.connection_close,
        }
    }

    /// Whether a request proposes a protocol upgrade (RFC 9110 §7.8): it needs both
    /// the Upgrade field and the `upgrade` connection option, and HTTP/1.1.
    pub(crate) fn proposes_upgrade(&self, version: Version) -> bool {
        version == Version::Http11 && self.has_upgrade && self.connection_upgrade
    }
}

/// Whether `name` has the length and first letter of one of the fields
/// [`FramingFields::read_received`] looks at.
#[inline(always)]
fn is_framing_name_candidate(name: &[u8]) -> bool {
    /// The lowercase first letter of the framing field of each name length, 0
    /// for lengths no framing field has (a first letter ORed with 0x20 is never 0).
    const FIRST_LETTER_BY_LENGTH: [u8; 32] = {
        let mut table = [0u8; 32];
        let mut i = 0;
        while i < FRAMING_NAMES.len() {
            table[FRAMING_NAMES[i].len()] = FRAMING_NAMES[i].first();
            i += 1;
        }
        table[TE.len()] = TE[0];
        table
    };
    FIRST_LETTER_BY_LENGTH.get(name.len()).copied() == name.first().map(|&b| b | 0x20)
}

/// A field value as httparse would have returned it: a head we send may have
/// whitespace around its values, one httparse read has it trimmed already.
#[inline(always)]
fn as_read<const SENT: bool>(value: &[u8]) -> &[u8] {
    if SENT { trim_ows(value) } else { value }
}

/// Whether the values of a head's Content-Length fields are one field of
/// digits alone (whitespace around them aside), as a sender must write it
/// (RFC 9110 §8.6); a recipient also takes a list or a repetition of equal
/// values.
pub(crate) fn is_one_length<'v>(mut values: impl Iterator<Item = &'v [u8]>) -> bool {
    match (values.next(), values.next()) {
        (Some(value), None) => {
            let digits = trim_ows(value);
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// The one length that Content-Length `values` state, read as a recipient
/// reads them (RFC 9112 §6.3 rule 5): each a number or a list of numbers,
/// all equal (`05, 5` is 5). `None` if they disagree or one is not a number.
#[cfg(feature = "std")]
pub(crate) fn agreed_length<'v>(values: impl Iterator<Item = &'v [u8]>) -> Option<u64> {
    let mut agreed = None;
    for element in values.flat_map(|value| value.split(|&b| b == b',')) {
        let n = parse_content_length(trim_ows(element)).ok()?;
        if agreed.is_some_and(|previous| previous != n) {
            return None;
        }
        agreed = Some(n);
    }
    agreed
}

/// `transfer-parameter = token BWS "=" BWS token` (RFC 9110 §10.1.4), the
/// quoted-string form aside (refused before), with the whitespace before it.
fn is_transfer_parameter(parameter: &[u8]) -> bool {
    let mut halves = parameter.splitn(2, |&b| b == b'=');
    let (Some(name), Some(value)) = (halves.next(), halves.next()) else {
        return false;
    };
    is_token(trim_ows(name)) && is_token(trim_ows(value))
}

/// The non-empty, whitespace-trimmed elements of a comma-separated field value.
pub(crate) fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// The most digits a Content-Length may have: every number of that many fits
/// a u64, so no sign, space, or overflow can slip through.
const CONTENT_LENGTH_DIGITS: u32 = 19;

/// The largest Content-Length lithe receives, and so sends (a body of a
/// larger known length is refused: `InvalidFraming(InvalidContentLength)`):
/// 10¹⁹ − 1, the largest number of 19 digits, as every number of that many
/// fits a `u64`, so no sign, space, or overflow can slip through.
///
/// ```
/// assert_eq!(lithe::proto::MAX_CONTENT_LENGTH, 9_999_999_999_999_999_999);
/// ```
pub const MAX_CONTENT_LENGTH: u64 = 10u64.pow(CONTENT_LENGTH_DIGITS) - 1;

/// At most [`CONTENT_LENGTH_DIGITS`] digits, and nothing else.
fn parse_content_length(digits: &[u8]) -> Result<u64, Error> {
    if digits.is_empty() || digits.len() > CONTENT_LENGTH_DIGITS as usize {
        return Err(Error::InvalidContentLength);
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return Err(Error::InvalidContentLength);
        }
        Ok(n * 10 + u64::from(digit))
    })
}

/// RFC 9112 §6.3 for a request.
pub(crate) fn request_body_length(
    fields: &FramingFields,
    version: Version,
    method: RequestMethod,
) -> Result<BodyLength, Error> {
    let body = request_framing(fields, version)?;
    // RFC 9110 §9.3.6: a CONNECT request has no content, and what follows
    // its head is the tunnel's. A hop reading a declared body there would
    // take tunnel bytes for it, or, after a refused CONNECT, the bytes past
    // it for a request.
    if method == RequestMethod::Connect && body != BodyLength::Empty {
        return Err(Error::ContentInConnect);
    }
    Ok(body)
}

/// What a request's framing fields say its body is (RFC 9112 §6.3).
fn request_framing(fields: &FramingFields, version: Version) -> Result<BodyLength, Error> {
    if fields.transfer_coding != TransferCoding::Absent {
        if version == Version::Http10 {
            return Err(Error::TransferEncodingInHttp10);
        }
        // Rule 3: both present is how CL.TE and TE.CL smuggling works; refuse.
        if fields.content_length.is_some() {
            return Err(Error::ContentLengthWithTransferEncoding);
        }
        if fields.chunked_repeated {
            return Err(Error::ChunkedNotFinal);
        }
        return match fields.transfer_coding {
            TransferCoding::Chunked { only: true } => Ok(BodyLength::Chunked),
            // Rule 4: without chunked last, the length cannot be known.
            TransferCoding::NotChunkedFinal => Err(Error::ChunkedNotFinal),
            _ => Err(Error::UnsupportedTransferCoding),
        };
    }
    Ok(match fields.content_length {
        Some(0) | None => BodyLength::Empty,
        Some(n) => BodyLength::Length(n),
    })
}

/// What a response's framing means for the connection beyond the body length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ResponseFraming {
    pub body: BodyLength,
    /// Transfer-Encoding and Content-Length both present: the body follows
    /// Transfer-Encoding, but the connection may not be reused (RFC 9112 §6.3 rule 3).
    pub must_close: bool,
}

/// RFC 9112 §6.3 for a response to a request with `method`.
pub(crate) fn response_body_length(
    fields: &FramingFields,
    version: Version,
    status: StatusCode,
    method: RequestMethod,
) -> Result<ResponseFraming, Error> {
    let te_present = fields.transfer_coding != TransferCoding::Absent;
    if te_present && version == Version::Http10 {
        return Err(Error::TransferEncodingInHttp10);
    }
    // Rule 1: no body, whatever the fields say.
    if method.response_has_no_body(status) {
        return Ok(ResponseFraming {
            body: BodyLength::Empty,
            must_close: false,
        });
    }
    if te_present {
        if fields.chunked_repeated {
            return Err(Error::ChunkedNotFinal);
        }
        let body = match fields.transfer_coding {
            TransferCoding::Chunked { .. } => BodyLength::Chunked,
            _ => BodyLength::UntilClose,
        };
        return Ok(ResponseFraming {
            body,
            must_close: fields.content_length.is_some() || body == BodyLength::UntilClose,
        });
    }
    Ok(match fields.content_length {
        Some(0) => ResponseFraming {
            body: BodyLength::Empty,
            must_close: false,
        },
        Some(n) => ResponseFraming {
            body: BodyLength::Length(n),
            must_close: false,
        },
        None => ResponseFraming {
            body: BodyLength::UntilClose,
            must_close: true,
        },
    })
}

/// The methods whose responses are framed differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum RequestMethod {
    /// Responses carry no body.
    Head,
    /// A 2xx response turns the connection into a tunnel.
    Connect,
    #[default]
    Other,
}

impl RequestMethod {
    pub(crate) fn of(method: &str) -> RequestMethod {
        match method {
            "HEAD" => RequestMethod::Head,
            "CONNECT" => RequestMethod::Connect,
            _ => RequestMethod::Other,
        }
    }

    /// Whether a response with `status` to this method may carry no
    /// Content-Length or Transfer-Encoding field (RFC 9110 §8.6, RFC 9112
    /// §6.1): a 1xx, a 204, or a 2xx that turns a CONNECT into a tunnel.
    pub(crate) fn forbids_framing_fields(self, status: StatusCode) -> bool {
        status.is_informational()
            || status.as_u16() == 204
            || (self == RequestMethod::Connect && status.is_success())
    }

    /// Whether a response with `status` to this method is framed whatever
    /// its Content-Length and Transfer-Encoding say (RFC 9112 §6.3): rule 1,
    /// no body in a response to HEAD or in a 1xx, 204 or 304; rule 2, a 2xx
    /// to CONNECT is a tunnel.
    pub(crate) fn frames_regardless(self, status: StatusCode) -> bool {
        self.response_has_no_body(status) || (self == RequestMethod::Connect && status.is_success())
    }

    /// RFC 9112 §6.3 rule 1: a response to HEAD, and any 1xx, 204 or 304,
    /// ends with its head.
    pub(crate) fn response_has_no_body(self, status: StatusCode) -> bool {
        let code = status.as_u16();
        self == RequestMethod::Head || status.is_informational() || code == 204 || code == 304
    }

    /// Whether a response with `status` to this request accepts a protocol
    /// switch: a 2xx to CONNECT, a 101 otherwise (whether a switch was proposed
    /// at all is the state machine's business). A 101 to CONNECT answers nothing
    /// the request asked: `None`.
    pub(crate) fn accepts_switch(self, status: StatusCode) -> Option<bool> {
        match (self, status.as_u16()) {
            (RequestMethod::Connect, 101) => None,
            (RequestMethod::Connect, _) => Some(status.is_success()),
            (_, code) => Some(code == 101),
        }
    }
}

/// Whether a request we send whose target carries an authority (absolute-form,
/// or authority-form with CONNECT) has a Host field naming that authority, as
/// RFC 9112 §3.2 has a client send it: a hop that routes on Host and one that
/// routes on the target would otherwise send it to different places. Hosts
/// are compared ignoring case, ports as written; a port left out (or empty)
/// is the scheme's default (80 for `http`, 443 for `https`), and a
/// CONNECT's Host may leave out a target port of `80` or `443` (RFC 9110
/// §9.3.6's own example does; leaving out another names another authority,
/// which HAProxy, for one, refuses). A target without an authority
/// (origin-form, `*`) or a request without Host (HTTP/1.0) passes. The
/// target has passed [`TargetForm`](super::TargetForm)'s checks.
pub(crate) fn host_names_the_targets_authority(head: &RequestHead<'_, '_>) -> bool {
    let target = head.target.as_bytes();
    if matches!(target.first(), None | Some(b'/' | b'*')) {
        return true;
    }
    let connect = head.method == "CONNECT";
    let (authority, default_port): (&[u8], &[u8]) = match scheme_and_authority(target) {
        Some((scheme, authority)) if !connect => {
            let default_port: &[u8] = if scheme.eq_ignore_ascii_case(b"http") {
                b"80"
            } else if scheme.eq_ignore_ascii_case(b"https") {
                b"443"
            } else {
                b""
            };
            (authority, default_port)
        }
        _ => (target, b""),
    };
    let (host, port) = host_and_port(authority, default_port);
    head.headers
        .iter()
        .filter(|field| HOST.matches(field.name.as_bytes()))
        .all(|field| {
            let (their_host, their_port) = host_and_port(trim_ows(field.value), default_port);
            their_host.eq_ignore_ascii_case(host)
                && (their_port == port
                    || (connect && their_port.is_empty() && matches!(port, b"80" | b"443")))
        })
}

/// An authority's host and port, the port `default` where it is left out or
/// empty.
fn host_and_port<'a>(authority: &'a [u8], default: &'a [u8]) -> (&'a [u8], &'a [u8]) {
    match split_host_and_port(authority) {
        (host, []) => (host, default),
        split => split,
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2), or empty: a server MUST
/// answer 400 to anything else (RFC 9112 §3.2), which a hop in front may
/// route on differently (`a.example@b.example`, `a.example/x`, `a, b`).
/// (The value comes without its surrounding whitespace.)
fn is_host_field_value(value: &[u8]) -> bool {
    is_plain_host_and_port(value) || is_host_and_port(value)
}

/// Whether `value` is a Host value of the usual kind, a name or IPv4 address
/// with a port or without (or empty), which every request has: its port's
/// digits are found from the end, and the host before them judged a table
/// lookup a byte, without a branch. False for every other value, valid or
/// not (an IP literal in brackets, a `%` escape), which the whole rule then
/// judges: true only where the whole rule says true.
fn is_plain_host_and_port(value: &[u8]) -> bool {
    let (host, port) = match value.iter().rposition(|b| !b.is_ascii_digit()) {
        Some(colon) if value[colon] == b':' => (&value[..colon], &value[colon + 1..]),
        _ => (value, &[][..]),
    };
    // Four digits cannot pass 65535; more are read by `is_port`.
    let port_fits = port.len() <= 4 || is_port(port);
    port_fits && (!host.is_empty() || value.is_empty()) && all_bytes_in(&REG_NAME_BYTE, host)
}

/// [`is_reg_name_byte`] as a table.
static REG_NAME_BYTE: [bool; 256] = byte_table!(is_reg_name_byte);

#[cfg(test)]
mod tests {
    use super::{
        CLOSE, FRAMING_NAMES, KEEP_ALIVE, Lowercase, is_framing_name_candidate, is_host_and_port,
        is_host_field_value, is_plain_host_and_port,
    };

    /// The Host value's fast path (the port's digits found from the end, a
    /// table lookup a byte of the host) judges every value of up to five
    /// bytes from an alphabet of the bytes that matter as the whole rule
    /// does, and takes none the whole rule refuses.
    #[test]
    fn the_host_fast_path_agrees_with_the_whole_rule() {
        const ALPHABET: &[u8] = b"a1:.[]%F@";
        let mut value = [0u8; 5];
        for len in 0..=value.len() {
            for mut n in 0..ALPHABET.len().pow(len as u32) {
                for slot in &mut value[..len] {
                    *slot = ALPHABET[n % ALPHABET.len()];
                    n /= ALPHABET.len();
                }
                let value = &value[..len];
                let whole_rule = value.is_empty() || is_host_and_port(value);
                assert_eq!(
                    is_host_field_value(value),
                    whole_rule,
                    "{:?}",
                    core::str::from_utf8(value)
                );
                assert!(!is_plain_host_and_port(value) || whole_rule);
            }
        }
    }

    /// The usual values are taken by the fast path alone (the whole rule
    /// would take them too, only slower: a test of outcomes cannot tell),
    /// and the rest are left to the whole rule.
    #[test]
    fn the_usual_host_values_take_the_fast_path() {
        for usual in [
            "example.com",
            "127.0.0.1",
            "127.0.0.1:8080",
            "a.example:65535",
            "a:",
            "",
        ] {
            assert!(is_plain_host_and_port(usual.as_bytes()), "{usual:?}");
        }
        for other in ["[::1]:8080", "a%2Db:80", "a:65536", "a:b:1", ":80", "a:8x"] {
            assert!(!is_plain_host_and_port(other.as_bytes()), "{other:?}");
        }
    }

    /// Ports of four digits or fewer are taken without their value
    /// (`is_port_number`), longer ones by it: on either side of that
    /// boundary the fast path judges a port as the whole rule does.
    #[test]
    fn the_host_fast_path_agrees_about_ports_of_every_length() {
        for port in [
            "", "0", "1234", "9999", "12a4", "123:", "00000", "65535", "65536", "99999", "123456",
            "0065535", "1234x",
        ] {
            for host in ["a", "", "a.example", "127.0.0.1"] {
                let mut buffer = [0u8; 32];
                let value = &mut buffer[..host.len() + 1 + port.len()];
                value[..host.len()].copy_from_slice(host.as_bytes());
                value[host.len()] = b':';
                value[host.len() + 1..].copy_from_slice(port.as_bytes());
                assert_eq!(
                    is_host_field_value(value),
                    is_host_and_port(value),
                    "{host:?}:{port:?}"
                );
            }
        }
    }

    /// Every single-byte change of every name compared by words, at every
    /// position, is judged as `eq_ignore_ascii_case` judges it: the word
    /// compare neither misses a case variant nor accepts a byte that only
    /// differs in bit 0x20 outside a letter (`\r` against `-`).
    #[test]
    fn word_compares_agree_with_eq_ignore_ascii_case() {
        let literals: [(&[u8], Lowercase); 8] = [
            (b"host", FRAMING_NAMES[0]),
            (b"expect", FRAMING_NAMES[1]),
            (b"upgrade", FRAMING_NAMES[2]),
            (b"connection", FRAMING_NAMES[3]),
            (b"content-length", FRAMING_NAMES[4]),
            (b"transfer-encoding", FRAMING_NAMES[5]),
            (b"close", CLOSE),
            (b"keep-alive", KEEP_ALIVE),
        ];
        for (name, literal) in literals {
            assert!(literal.matches(&name.to_ascii_uppercase()));
            assert!(!literal.matches(&name[1..]));
            for position in 0..name.len() {
                let mut candidate = name.to_vec();
                for byte in 0..=255u8 {
                    candidate[position] = byte;
                    assert_eq!(
                        literal.matches(&candidate),
                        candidate.eq_ignore_ascii_case(name),
                        "{:?}",
                        candidate
                    );
                }
            }
        }
    }

    /// The prefilter lets every framing name through, in any case.
    #[test]
    fn framing_names_pass_the_prefilter() {
        for name in [
            &b"Host"[..],
            b"EXPECT",
            b"upgrade",
            b"Connection",
            b"Content-Length",
            b"transfer-ENCODING",
        ] {
            assert!(is_framing_name_candidate(name), "{name:?}");
        }
        assert!(!is_framing_name_candidate(b"Accept"));
        assert!(!is_framing_name_candidate(b""));
    }
}
