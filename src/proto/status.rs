//! HTTP status codes (RFC 9110 §15).

use core::fmt;

/// A three-digit HTTP status code, such as `200` or `404`.
///
/// Any value from 100 to 999 is representable, because a peer may send codes this
/// crate does not know; [`StatusCode::canonical_reason`] names those of IANA's
/// HTTP Status Code Registry (418, which RFC 9110 leaves unused, aside).
///
/// ```
/// use lithe::proto::StatusCode;
/// assert_eq!(StatusCode::NOT_FOUND.as_u16(), 404);
/// assert_eq!(StatusCode::NOT_FOUND.canonical_reason(), Some("Not Found"));
/// assert!(StatusCode::new(99).is_none());
/// ```
///
/// It converts as `http::StatusCode` does: from a number with `TryFrom`, from
/// three digits with `parse`, into a number with `From`; the default is 200.
///
/// ```
/// use lithe::proto::{InvalidStatusCode, StatusCode};
/// assert_eq!(StatusCode::try_from(404), Ok(StatusCode::NOT_FOUND));
/// assert_eq!(StatusCode::try_from(1000), Err(InvalidStatusCode));
/// assert_eq!(
///     InvalidStatusCode.to_string(),
///     "invalid status code: not three digits from 100 to 999"
/// );
/// assert_eq!("404".parse(), Ok(StatusCode::NOT_FOUND));
/// assert_eq!("4O4".parse::<StatusCode>(), Err(InvalidStatusCode));
/// assert_eq!("+404".parse::<StatusCode>(), Err(InvalidStatusCode));
/// assert_eq!(u16::from(StatusCode::OK), 200);
/// assert_eq!(StatusCode::default(), StatusCode::OK);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(u16);

/// A number outside 100..=999, or text other than three ASCII digits, taken
/// for a [`StatusCode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidStatusCode;

impl fmt::Display for InvalidStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid status code: not three digits from 100 to 999")
    }
}

impl core::error::Error for InvalidStatusCode {}

impl TryFrom<u16> for StatusCode {
    type Error = InvalidStatusCode;

    fn try_from(code: u16) -> Result<StatusCode, InvalidStatusCode> {
        StatusCode::new(code).ok_or(InvalidStatusCode)
    }
}

impl core::str::FromStr for StatusCode {
    type Err = InvalidStatusCode;

    /// Exactly three ASCII digits (`u16`'s own parse would take a `+`).
    fn from_str(digits: &str) -> Result<StatusCode, InvalidStatusCode> {
        match *digits.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(u8::is_ascii_digit) => {
                let code = [a, b, c]
                    .iter()
                    .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
                StatusCode::try_from(code)
            }
            _ => Err(InvalidStatusCode),
        }
    }
}

impl From<StatusCode> for u16 {
    fn from(status: StatusCode) -> u16 {
        status.0
    }
}

/// 200 OK, as `http::StatusCode`'s default.
impl Default for StatusCode {
    fn default() -> StatusCode {
        StatusCode::OK
    }
}

macro_rules! status_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $reason:literal;)*) => {
        impl StatusCode {
            $($(#[$doc])* pub const $name: StatusCode = StatusCode($code);)*

            /// The reason phrase the IANA HTTP Status Code Registry gives this
            /// code, if any.
            #[inline]
            pub const fn canonical_reason(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some($reason),)*
                    _ => None,
                }
            }

            /// `HTTP/1.1 <code> <canonical reason>\r\n`, for the registered codes:
            /// most status lines go out as one copy of this.
            #[inline]
            pub(crate) const fn http11_status_line(self) -> Option<&'static [u8]> {
                match self.0 {
                    $($code => Some(concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n").as_bytes()),)*
                    _ => None,
                }
            }
        }
    };
}

status_codes! {
    /// 100 Continue.
    CONTINUE = 100, "Continue";
    /// 101 Switching Protocols.
    SWITCHING_PROTOCOLS = 101, "Switching Protocols";
    /// 102 Processing.
    PROCESSING = 102, "Processing";
    /// 103 Early Hints.
    EARLY_HINTS = 103, "Early Hints";
    /// 200 OK.
    OK = 200, "OK";
    /// 201 Created.
    CREATED = 201, "Created";
    /// 202 Accepted.
    ACCEPTED = 202, "Accepted";
    /// 203 Non-Authoritative Information.
    NON_AUTHORITATIVE_INFORMATION = 203, "Non-Authoritative Information";
    /// 204 No Content.
    NO_CONTENT = 204, "No Content";
    /// 205 Reset Content.
    RESET_CONTENT = 205, "Reset Content";
    /// 206 Partial Content.
    PARTIAL_CONTENT = 206, "Partial Content";
    /// 207 Multi-Status.
    MULTI_STATUS = 207, "Multi-Status";
    /// 208 Already Reported.
    ALREADY_REPORTED = 208, "Already Reported";
    /// 226 IM Used.
    IM_USED = 226, "IM Used";
    /// 300 Multiple Choices.
    MULTIPLE_CHOICES = 300, "Multiple Choices";
    /// 301 Moved Permanently.
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    /// 302 Found.
    FOUND = 302, "Found";
    /// 303 See Other.
    SEE_OTHER = 303, "See Other";
    /// 304 Not Modified.
    NOT_MODIFIED = 304, "Not Modified";
    /// 305 Use Proxy.
    USE_PROXY = 305, "Use Proxy";
    /// 307 Temporary Redirect.
    TEMPORARY_REDIRECT = 307, "Temporary Redirect";
    /// 308 Permanent Redirect.
    PERMANENT_REDIRECT = 308, "Permanent Redirect";
    /// 400 Bad Request.
    BAD_REQUEST = 400, "Bad Request";
    /// 401 Unauthorized.
    UNAUTHORIZED = 401, "Unauthorized";
    /// 402 Payment Required.
    PAYMENT_REQUIRED = 402, "Payment Required";
    /// 403 Forbidden.
    FORBIDDEN = 403, "Forbidden";
    /// 404 Not Found.
    NOT_FOUND = 404, "Not Found";
    /// 405 Method Not Allowed.
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    /// 406 Not Acceptable.
    NOT_ACCEPTABLE = 406, "Not Acceptable";
    /// 407 Proxy Authentication Required.
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required";
    /// 408 Request Timeout.
    REQUEST_TIMEOUT = 408, "Request Timeout";
    /// 409 Conflict.
    CONFLICT = 409, "Conflict";
    /// 410 Gone.
    GONE = 410, "Gone";
    /// 411 Length Required.
    LENGTH_REQUIRED = 411, "Length Required";
    /// 412 Precondition Failed.
    PRECONDITION_FAILED = 412, "Precondition Failed";
    /// 413 Content Too Large.
    CONTENT_TOO_LARGE = 413, "Content Too Large";
    /// 414 URI Too Long.
    URI_TOO_LONG = 414, "URI Too Long";
    /// 415 Unsupported Media Type.
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    /// 416 Range Not Satisfiable.
    RANGE_NOT_SATISFIABLE = 416, "Range Not Satisfiable";
    /// 417 Expectation Failed.
    EXPECTATION_FAILED = 417, "Expectation Failed";
    /// 421 Misdirected Request.
    MISDIRECTED_REQUEST = 421, "Misdirected Request";
    /// 422 Unprocessable Content.
    UNPROCESSABLE_CONTENT = 422, "Unprocessable Content";
    /// 423 Locked.
    LOCKED = 423, "Locked";
    /// 424 Failed Dependency.
    FAILED_DEPENDENCY = 424, "Failed Dependency";
    /// 425 Too Early.
    TOO_EARLY = 425, "Too Early";
    /// 426 Upgrade Required.
    UPGRADE_REQUIRED = 426, "Upgrade Required";
    /// 428 Precondition Required.
    PRECONDITION_REQUIRED = 428, "Precondition Required";
    /// 429 Too Many Requests.
    TOO_MANY_REQUESTS = 429, "Too Many Requests";
    /// 431 Request Header Fields Too Large.
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large";
    /// 451 Unavailable For Legal Reasons.
    UNAVAILABLE_FOR_LEGAL_REASONS = 451, "Unavailable For Legal Reasons";
    /// 500 Internal Server Error.
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error";
    /// 501 Not Implemented.
    NOT_IMPLEMENTED = 501, "Not Implemented";
    /// 502 Bad Gateway.
    BAD_GATEWAY = 502, "Bad Gateway";
    /// 503 Service Unavailable.
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    /// 504 Gateway Timeout.
    GATEWAY_TIMEOUT = 504, "Gateway Timeout";
    /// 505 HTTP Version Not Supported.
    HTTP_VERSION_NOT_SUPPORTED = 505, "HTTP Version Not Supported";
    /// 506 Variant Also Negotiates.
    VARIANT_ALSO_NEGOTIATES = 506, "Variant Also Negotiates";
    /// 507 Insufficient Storage.
    INSUFFICIENT_STORAGE = 507, "Insufficient Storage";
    /// 508 Loop Detected.
    LOOP_DETECTED = 508, "Loop Detected";
    /// 510 Not Extended.
    NOT_EXTENDED = 510, "Not Extended";
    /// 511 Network Authentication Required.
    NETWORK_AUTHENTICATION_REQUIRED = 511, "Network Authentication Required";
}

impl StatusCode {
    /// A status code from its number; `None` outside 100..=999. Past 599 it
    /// is one a peer may send but a connection does not (RFC 9110 §15 calls
    /// those invalid; see
    /// [`SendError::InvalidStatus`](super::SendError::InvalidStatus)).
    pub const fn new(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 999 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// 1xx: an interim response; the final one follows.
    pub const fn is_informational(self) -> bool {
        self.0 < 200
    }

    /// 2xx.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// 3xx.
    pub const fn is_redirection(self) -> bool {
        self.0 >= 300 && self.0 < 400
    }

    /// 4xx.
    ///
    /// ```
    /// use lithe::proto::StatusCode;
    /// assert!(StatusCode::NOT_FOUND.is_client_error());
    /// assert!(!StatusCode::BAD_GATEWAY.is_client_error());
    /// ```
    pub const fn is_client_error(self) -> bool {
        self.0 >= 400 && self.0 < 500
    }

    /// 5xx.
    pub const fn is_server_error(self) -> bool {
        self.0 >= 500 && self.0 < 600
    }

    /// The three ASCII digits, as written on the wire.
    pub(crate) const fn digits(self) -> [u8; 3] {
        [
            b'0' + (self.0 / 100) as u8,
            b'0' + (self.0 / 10 % 10) as u8,
            b'0' + (self.0 % 10) as u8,
        ]
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A status compares with its number: `response.status() == 404`.
///
/// ```
/// use lithe::proto::StatusCode;
/// assert!(StatusCode::NOT_FOUND == 404);
/// assert!(404 == StatusCode::NOT_FOUND);
/// assert!(StatusCode::OK != 404);
/// ```
impl PartialEq<u16> for StatusCode {
    fn eq(&self, code: &u16) -> bool {
        self.0 == *code
    }
}

impl PartialEq<StatusCode> for u16 {
    fn eq(&self, status: &StatusCode) -> bool {
        *self == status.0
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.canonical_reason() {
            Some(reason) => write!(f, "{} {}", self.0, reason),
            None => write!(f, "{}", self.0),
        }
    }
}
