//! Parsing a complete head with httparse (plain start lines and plain
//! field lines are read by `plain_head`), then the checks httparse leaves
//! to us: the Host rules, request-target forms, version support and limits.
//!
//! httparse reports coarse errors (`Token`, `Version`, ...). On that rare path the
//! start line is examined again to name the rule that broke, so a request for
//! `HTTP/2.0` gets 505 while garbage gets 400.

use super::error::Error;
use super::head::{Header, RequestHead, ResponseHead, TargetForm, Version, is_token};
use super::limits::Config;
use super::plain_head::{
    PlainFields, PlainStatusLine, plain_field_lines, plain_request_line, plain_status_line,
};
use super::status::StatusCode;

/// Parses a complete request head (`section` ends with the empty line).
pub(crate) fn parse_request<'b, 'h>(
    section: &'b [u8],
    headers: &'h mut [Header<'b>],
    config: &Config,
) -> Result<RequestHead<'b, 'h>, Error> {
    let mut request = httparse::Request::new(headers);
    match request.parse(section) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Error::InvalidRequestLine),
        Err(e) => return Err(diagnose(section, e, Role::Request)),
    }
    let head = request_head(request).ok_or(Error::InvalidRequestLine)?;
    check_request(&head, config.limits.max_request_target_bytes)?;
    Ok(head)
}

/// A start line to judge on its own, as soon as its line end arrives (see
/// `ScanRules::start_line`), by the rules the whole head's parse applies to
/// it, so that the error is the same whenever the line is judged.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StartLine {
    /// A request line, its target held to `max_target_bytes`.
    Request {
        /// [`Limits::max_request_target_bytes`](super::Limits::max_request_target_bytes).
        max_target_bytes: usize,
    },
    /// A status line.
    Status,
}

impl StartLine {
    /// Judges `line`, its line end included. httparse, given no field slots,
    /// parses the line and stops where the fields would begin: a line it
    /// takes is `Partial` there.
    pub(crate) fn check(self, line: &[u8]) -> Result<(), Error> {
        match self {
            StartLine::Request { max_target_bytes } => {
                let mut request = httparse::Request::new(&mut []);
                request
                    .parse(line)
                    .map_err(|e| diagnose(line, e, Role::Request))?;
                let head = request_head(request).ok_or(Error::InvalidRequestLine)?;
                check_request(&head, max_target_bytes)
            }
            StartLine::Status => {
                let mut response = httparse::Response::new(&mut []);
                match response.parse(line) {
                    Ok(_) => response_head(response).map(|_| ()),
                    Err(e) => Err(diagnose(line, e, Role::Response)),
                }
            }
        }
    }
}

/// The outcome of parsing a head on the first attempt, before any scanning.
pub(crate) enum FirstTry<'b, 'h, H> {
    /// The whole head was there and passes every rule the scanner enforces.
    Parsed {
        /// The head.
        head: H,
        /// One past its terminating empty line.
        end: usize,
    },
    /// Not complete, unusual (leading empty lines, a leniency in force) or refused
    /// by httparse: scan as usual, with the header array handed back.
    Scan(&'h mut [Header<'b>]),
    /// The head has more fields than the header array holds (whether it is
    /// complete or valid past them is not known yet); the array is handed back.
    ArrayFull(&'h mut [Header<'b>]),
    /// Complete, but it breaks a rule the scanner enforces (a limit, a bare LF):
    /// the scanner names which.
    ScannerRejects,
}

/// Most heads arrive whole. Rather than scan for the end of the head and then
/// parse it, let httparse find the end while it parses, then check in bulk what
/// the scanner would have checked line by line. Only the first attempt at a head
/// does this, so a head that trickles in still costs linear time. A plain
/// request line is read by [`plain_request_line`], plain field lines after
/// it by [`plain_field_lines`] (or by httparse, if any is not plain); any
/// other request line, by httparse with the rest.
// One call site, on the path of every head: inlined, its outcome is not
// written out and read back (`#[inline]` alone left it a call).
#[inline(always)]
pub(crate) fn try_whole_request<'b, 'h>(
    input: &'b [u8],
    headers: &'h mut [Header<'b>],
    config: &Config,
    max_request_line: usize,
) -> FirstTry<'b, 'h, Result<RequestHead<'b, 'h>, Error>> {
    if starts_with_line_end(input) {
        return FirstTry::Scan(headers);
    }
    // Whether every line is known to end in CRLF: plain lines do.
    let (head, end, crlf_known) = match plain_request_line(input) {
        Some(line) => {
            let (method_and_target, fields_end, count, crlf_known) =
                match plain_field_lines(input, line.len, headers) {
                    Some(fields) => (
                        line.method_and_target(fields.text),
                        fields.end,
                        fields.count,
                        true,
                    ),
                    None => match httparse::parse_headers(&input[line.len..], &mut *headers) {
                        Ok(httparse::Status::Complete((len, fields))) => {
                            let count = fields.len();
                            (
                                line.method_and_target_of(input),
                                line.len + len,
                                count,
                                false,
                            )
                        }
                        Err(httparse::Error::TooManyHeaders) => {
                            return FirstTry::ArrayFull(headers);
                        }
                        _ => return FirstTry::Scan(headers),
                    },
                };
            let Some((method, target)) = method_and_target else {
                return FirstTry::Scan(headers);
            };
            // Both fill the array from its start.
            let headers: &'h [Header<'b>] = headers;
            let head = RequestHead {
                method,
                target,
                version: line.version,
                headers: &headers[..count],
            };
            (head, fields_end, crlf_known)
        }
        None => {
            let mut request = httparse::Request::new(headers);
            let end = match request.parse(input) {
                Ok(httparse::Status::Complete(end)) => end,
                Err(httparse::Error::TooManyHeaders) => {
                    return FirstTry::ArrayFull(request.headers);
                }
                _ => return FirstTry::Scan(request.headers),
            };
            let Some(head) = request_head(request) else {
                return FirstTry::ScannerRejects;
            };
            (head, end, false)
        }
    };
    // "METHOD SP target SP HTTP/1.x CRLF", measured as the scanner measures it
    let mut request_line = head.method.len() + head.target.len() + 12;
    if config.leniency.allow_bare_lf {
        let target_end =
            head.target.as_ptr() as usize - input.as_ptr() as usize + head.target.len();
        if input.get(target_end + b" HTTP/1.1".len()) == Some(&b'\n') {
            request_line -= 1;
        }
    }
    let scanner_agrees = if crlf_known {
        end <= config.limits.max_head_bytes
    } else {
        scanner_agrees(&input[..end], head.headers, config)
    };
    if request_line > max_request_line || !scanner_agrees {
        return FirstTry::ScannerRejects;
    }
    FirstTry::Parsed {
        head: check_request(&head, config.limits.max_request_target_bytes).map(|()| head),
        end,
    }
}

/// The response twin of [`try_whole_request`]: a head of a plain status
/// line and plain field lines is read by [`plain_status_line`] and
/// [`plain_field_lines`], any other by httparse.
#[inline(always)]
pub(crate) fn try_whole_response<'b, 'h>(
    input: &'b [u8],
    headers: &'h mut [Header<'b>],
    config: &Config,
) -> FirstTry<'b, 'h, Result<ResponseHead<'b, 'h>, Error>> {
    // Folded lines break the line count the bulk check relies on.
    if starts_with_line_end(input) || config.leniency.allow_obs_fold_in_responses {
        return FirstTry::Scan(headers);
    }
    if let Some((line, fields, reason)) = plain_response_head(input, headers) {
        if fields.end > config.limits.max_head_bytes {
            return FirstTry::ScannerRejects;
        }
        // Filled from its start, as httparse fills it.
        let headers: &'h [Header<'b>] = headers;
        let head = StatusCode::new(line.code)
            .map(|status| ResponseHead {
                version: line.version,
                status,
                reason,
                headers: &headers[..fields.count],
            })
            .ok_or(Error::InvalidStatusLine);
        return FirstTry::Parsed {
            head,
            end: fields.end,
        };
    }
    let mut response = httparse::Response::new(headers);
    let end = match response_parser(config).parse_response(&mut response, input) {
        Ok(httparse::Status::Complete(end)) => end,
        Err(httparse::Error::TooManyHeaders) => return FirstTry::ArrayFull(response.headers),
        _ => return FirstTry::Scan(response.headers),
    };
    if !scanner_agrees(&input[..end], response.headers, config) {
        return FirstTry::ScannerRejects;
    }
    FirstTry::Parsed {
        head: response_head(response),
        end,
    }
}

/// A plain status line, plain field lines after it, and its reason, or
/// `None` for httparse to read the head. (A function rather than a let chain:
/// the library builds with Rust 1.85, older than let chains.)
#[inline(always)]
fn plain_response_head<'b>(
    input: &'b [u8],
    headers: &mut [Header<'b>],
) -> Option<(PlainStatusLine, PlainFields<'b>, &'b str)> {
    let line = plain_status_line(input)?;
    let fields = plain_field_lines(input, line.len, headers)?;
    let reason = line.reason(fields.text)?;
    Some((line, fields, reason))
}

fn starts_with_line_end(input: &[u8]) -> bool {
    matches!(input.first(), Some(b'\r' | b'\n'))
}

/// Whether a head httparse accepted whole also passes the scanner: within the
/// size limit, and every line ended by CRLF.
#[inline]
fn scanner_agrees(head: &[u8], fields: &[Header<'_>], config: &Config) -> bool {
    head.len() <= config.limits.max_head_bytes
        && (config.leniency.allow_bare_lf || line_ends_are_crlf(head, fields))
}

/// Whether every line of a head httparse accepted ends in CRLF, checked at the
/// line ends alone. httparse ends a line at LF, with or without CR before it;
/// without obs-fold (refused on this path) each field line starts at its name,
/// so the line before it ends two bytes earlier. The last field line and the
/// empty line end the head.
#[inline(always)]
fn line_ends_are_crlf(head: &[u8], fields: &[Header<'_>]) -> bool {
    let base = head.as_ptr() as usize;
    // Accumulated without early exit: a bare LF is rare, and a loop with no
    // exit branch per field is shorter.
    let mut all_crlf = head.ends_with(b"\r\n\r\n");
    for field in fields {
        let line_start = (field.name.as_ptr() as usize).wrapping_sub(base);
        all_crlf &= head.get(line_start.wrapping_sub(2)) == Some(&b'\r');
    }
    all_crlf
}

#[inline]
fn request_head<'b, 'h>(request: httparse::Request<'h, 'b>) -> Option<RequestHead<'b, 'h>> {
    let httparse::Request {
        method,
        path,
        version,
        headers,
    } = request;
    Some(RequestHead {
        method: method?,
        target: path?,
        version: version_of(version?),
        headers,
    })
}

/// The checks httparse leaves to us: target length and form (RFC 9112
/// §3.2). (The head is borrowed, not passed through: moving it in and out
/// cost more than the checks on a small head.)
#[inline]
fn check_request(head: &RequestHead<'_, '_>, max_target_bytes: usize) -> Result<(), Error> {
    if head.target.len() > max_target_bytes {
        return Err(Error::RequestTargetTooLong);
    }
    // The most common target, `/`, is origin-form, which every method but
    // CONNECT takes: judged here, without the call that judges any target.
    let form = match head.target {
        "/" => TargetForm::Origin,
        target => TargetForm::of(target),
    };
    if !form.fits_method(head.method) {
        return Err(Error::InvalidRequestTarget);
    }
    Ok(())
}

/// Parses a complete response head.
pub(crate) fn parse_response<'b, 'h>(
    section: &'b [u8],
    headers: &'h mut [Header<'b>],
    config: &Config,
) -> Result<ResponseHead<'b, 'h>, Error> {
    let mut response = httparse::Response::new(headers);
    match response_parser(config).parse_response(&mut response, section) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Error::InvalidStatusLine),
        Err(e) => return Err(diagnose(section, e, Role::Response)),
    }
    response_head(response)
}

fn response_parser(config: &Config) -> httparse::ParserConfig {
    let mut parser = httparse::ParserConfig::default();
    parser
        .allow_obsolete_multiline_headers_in_responses(config.leniency.allow_obs_fold_in_responses)
        .allow_spaces_after_header_name_in_responses(
            config.leniency.allow_space_before_colon_in_responses,
        );
    parser
}

fn response_head<'b, 'h>(
    response: httparse::Response<'h, 'b>,
) -> Result<ResponseHead<'b, 'h>, Error> {
    let httparse::Response {
        version,
        code,
        reason,
        headers,
    } = response;
    let (Some(minor), Some(code), Some(reason)) = (version, code, reason) else {
        return Err(Error::InvalidStatusLine);
    };
    let status = StatusCode::new(code).ok_or(Error::InvalidStatusLine)?;
    Ok(ResponseHead {
        version: version_of(minor),
        status,
        reason,
        headers,
    })
}

fn version_of(minor: u8) -> Version {
    if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Request,
    Response,
}

/// Names the rule behind an httparse error.
fn diagnose(section: &[u8], error: httparse::Error, role: Role) -> Error {
    match error {
        httparse::Error::HeaderName => Error::InvalidHeaderName,
        httparse::Error::HeaderValue => Error::InvalidHeaderValue,
        httparse::Error::TooManyHeaders => Error::TooManyHeaders,
        httparse::Error::NewLine
        | httparse::Error::Token
        | httparse::Error::Version
        | httparse::Error::Status => {
            let line_end = section.iter().position(|&b| b == b'\r' || b == b'\n');
            let line = &section[..line_end.unwrap_or(section.len())];
            match role {
                Role::Request => diagnose_request_line(line),
                Role::Response => diagnose_status_line(line),
            }
        }
    }
}

/// `request-line = method SP request-target SP HTTP-version`
fn diagnose_request_line(line: &[u8]) -> Error {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Error::InvalidRequestLine;
    };
    if !is_token(method) {
        return Error::InvalidRequestLine;
    }
    // Bytes past ASCII pass only as UTF-8 (httparse reads the target as a
    // `str`): other ones are the target's fault, not the line's.
    if target.is_empty()
        || !target.iter().all(|&b| b > 0x20 && b != 0x7f)
        || core::str::from_utf8(target).is_err()
    {
        return Error::InvalidRequestTarget;
    }
    diagnose_version(version)
}

/// `status-line = HTTP-version SP status-code SP [ reason-phrase ]`
fn diagnose_status_line(line: &[u8]) -> Error {
    let version = line.split(|&b| b == b' ').next().unwrap_or(b"");
    match diagnose_version(version) {
        Error::InvalidRequestLine => Error::InvalidStatusLine,
        other => other,
    }
}

/// `HTTP-version = "HTTP/" DIGIT "." DIGIT`: well-formed but not 1.0 or 1.1 is 505.
fn diagnose_version(version: &[u8]) -> Error {
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major == b'1' && matches!(minor, b'0' | b'1') {
                // The version is fine, so the fault lies elsewhere on the line.
                Error::InvalidRequestLine
            } else {
                Error::UnsupportedVersion
            }
        }
        _ => Error::InvalidVersion,
    }
}

#[cfg(test)]
mod tests {
    use super::plain_response_head;
    use crate::proto::{EMPTY_HEADER, Version};

    /// A plain response head is read by the shortcut, not left to httparse
    /// (which would read it the same, only slower: a test of outcomes cannot
    /// tell); a head with any other line is left.
    #[test]
    fn a_plain_response_head_is_read_without_httparse() {
        let input = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nServer: x\r\n\r\n";
        let mut headers = [EMPTY_HEADER; 4];
        let (line, fields, reason) = plain_response_head(input, &mut headers).unwrap();
        assert_eq!(
            (line.version, line.code, reason),
            (Version::Http11, 404, "Not Found")
        );
        assert_eq!((fields.end, fields.count), (input.len(), 2));
        let read: [(&str, &[u8]); 2] =
            core::array::from_fn(|i| (headers[i].name, headers[i].value));
        assert_eq!(read, [("Content-Length", &b"0"[..]), ("Server", b"x")]);
        let others: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\nA:  b\r\n\r\n",
            b"HTTP/1.1 200 OK\nA: b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n",
        ];
        for input in others {
            let read = plain_response_head(input, &mut headers);
            assert!(read.is_none(), "{:?}", core::str::from_utf8(input));
        }
    }
}
