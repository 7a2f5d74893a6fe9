//! HTTP status codes (RFC 9110 §15).

use core::fmt;

/// A three-digit HTTP status code, such as `200` or `404`.
///
/// Any value from 100 to 999 is representable, because a peer may send codes this
/// crate does not know; [`StatusCode::canonical_reason`] names the registered ones.
///
/// ```
/// use lithe::proto::StatusCode;
/// assert_eq!(StatusCode::NOT_FOUND.as_u16(), 404);
/// assert_eq!(StatusCode::NOT_FOUND.canonical_reason(), Some("Not Found"));
/// assert!(StatusCode::new(99).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(u16);

macro_rules! status_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $reason:literal;)*) => {
        impl StatusCode {
            $($(#[$doc])* pub const $name: StatusCode = StatusCode($code);)*

            /// The reason phrase RFC 9110 registers for this code, if any.
            pub const fn canonical_reason(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some($reason),)*
                    _ => None,
                }
            }

            /// `HTTP/1.1 <code> <canonical reason>\r\n`, for the registered codes:
            /// most status lines go out as one copy of this.
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
    /// 200 OK.
    OK = 200, "OK";
    /// 201 Created.
    CREATED = 201, "Created";
    /// 202 Accepted.
    ACCEPTED = 202, "Accepted";
    /// 204 No Content.
    NO_CONTENT = 204, "No Content";
    /// 206 Partial Content.
    PARTIAL_CONTENT = 206, "Partial Content";
    /// 301 Moved Permanently.
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    /// 302 Found.
    FOUND = 302, "Found";
    /// 303 See Other.
    SEE_OTHER = 303, "See Other";
    /// 304 Not Modified.
    NOT_MODIFIED = 304, "Not Modified";
    /// 307 Temporary Redirect.
    TEMPORARY_REDIRECT = 307, "Temporary Redirect";
    /// 308 Permanent Redirect.
    PERMANENT_REDIRECT = 308, "Permanent Redirect";
    /// 400 Bad Request.
    BAD_REQUEST = 400, "Bad Request";
    /// 401 Unauthorized.
    UNAUTHORIZED = 401, "Unauthorized";
    /// 403 Forbidden.
    FORBIDDEN = 403, "Forbidden";
    /// 404 Not Found.
    NOT_FOUND = 404, "Not Found";
    /// 405 Method Not Allowed.
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    /// 408 Request Timeout.
    REQUEST_TIMEOUT = 408, "Request Timeout";
    /// 411 Length Required.
    LENGTH_REQUIRED = 411, "Length Required";
    /// 413 Content Too Large.
    CONTENT_TOO_LARGE = 413, "Content Too Large";
    /// 414 URI Too Long.
    URI_TOO_LONG = 414, "URI Too Long";
    /// 416 Range Not Satisfiable.
    RANGE_NOT_SATISFIABLE = 416, "Range Not Satisfiable";
    /// 417 Expectation Failed.
    EXPECTATION_FAILED = 417, "Expectation Failed";
    /// 426 Upgrade Required.
    UPGRADE_REQUIRED = 426, "Upgrade Required";
    /// 431 Request Header Fields Too Large.
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large";
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
}

impl StatusCode {
    /// A status code from its number; `None` outside 100..=999.
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

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.canonical_reason() {
            Some(reason) => write!(f, "{} {}", self.0, reason),
            None => write!(f, "{}", self.0),
        }
    }
}
