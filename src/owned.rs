//! Owned copies of heads (feature `alloc`), for keeping a head after the buffer
//! it was parsed from is reused. Still no `std`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::proto::{Header, RequestHead, ResponseHead, StatusCode, Version};

/// An owned header field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedHeader {
    /// The field name as received.
    pub name: String,
    /// The raw value bytes.
    pub value: Vec<u8>,
}

impl OwnedHeader {
    /// Borrows this field as a [`Header`].
    pub fn as_header(&self) -> Header<'_> {
        Header {
            name: &self.name,
            value: &self.value,
        }
    }
}

fn own(headers: &[Header<'_>]) -> Vec<OwnedHeader> {
    headers
        .iter()
        .map(|h| OwnedHeader {
            name: h.name.to_string(),
            value: h.value.to_vec(),
        })
        .collect()
}

fn find_owned<'a>(headers: &'a [OwnedHeader], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_slice())
}

fn borrow(headers: &[OwnedHeader]) -> Vec<Header<'_>> {
    headers.iter().map(OwnedHeader::as_header).collect()
}

/// An owned request head.
///
/// ```
/// use lithe::proto::{Header, OwnedRequestHead, RequestHead};
/// let fields = [Header { name: "Host", value: b"a" }];
/// let owned = OwnedRequestHead::from(&RequestHead::new("GET", "/x", &fields));
/// let headers = owned.headers_borrowed();
/// assert_eq!(owned.as_head(&headers).target, "/x");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedRequestHead {
    /// The method.
    pub method: String,
    /// The request-target.
    pub target: String,
    /// The protocol version.
    pub version: Version,
    /// The header fields in order.
    pub headers: Vec<OwnedHeader>,
}

impl OwnedRequestHead {
    /// The value of the first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_owned(&self.headers, name)
    }

    /// The header fields as borrowed [`Header`]s, to build a [`RequestHead`] with
    /// [`as_head`](Self::as_head).
    pub fn headers_borrowed(&self) -> Vec<Header<'_>> {
        borrow(&self.headers)
    }

    /// A borrowed view for sending, using `headers` from
    /// [`headers_borrowed`](Self::headers_borrowed).
    pub fn as_head<'a>(&'a self, headers: &'a [Header<'a>]) -> RequestHead<'a, 'a> {
        RequestHead {
            method: &self.method,
            target: &self.target,
            version: self.version,
            headers,
        }
    }
}

impl From<&RequestHead<'_, '_>> for OwnedRequestHead {
    fn from(head: &RequestHead<'_, '_>) -> Self {
        OwnedRequestHead {
            method: head.method.to_string(),
            target: head.target.to_string(),
            version: head.version,
            headers: own(head.headers),
        }
    }
}

/// An owned response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedResponseHead {
    /// The protocol version.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase.
    pub reason: String,
    /// The header fields in order.
    pub headers: Vec<OwnedHeader>,
}

impl OwnedResponseHead {
    /// The value of the first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_owned(&self.headers, name)
    }

    /// The header fields as borrowed [`Header`]s, to build a [`ResponseHead`] with
    /// [`as_head`](Self::as_head).
    pub fn headers_borrowed(&self) -> Vec<Header<'_>> {
        borrow(&self.headers)
    }

    /// A borrowed view for sending, using `headers` from
    /// [`headers_borrowed`](Self::headers_borrowed).
    pub fn as_head<'a>(&'a self, headers: &'a [Header<'a>]) -> ResponseHead<'a, 'a> {
        ResponseHead {
            version: self.version,
            status: self.status,
            reason: &self.reason,
            headers,
        }
    }
}

impl From<&ResponseHead<'_, '_>> for OwnedResponseHead {
    fn from(head: &ResponseHead<'_, '_>) -> Self {
        OwnedResponseHead {
            version: head.version,
            status: head.status,
            reason: head.reason.to_string(),
            headers: own(head.headers),
        }
    }
}
