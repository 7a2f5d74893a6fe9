//! [`FieldValue`]: the value of a header field added to a message.
//!
//! A value may come from anywhere: a literal, a `String` built for the
//! message, a token borrowed from the caller's state, a field of another
//! message. Borrowed bytes are copied, since a message outlives the borrow;
//! short ones, as most values are, into the value itself, so that copying a
//! literal such as `text/plain` costs no allocation. Owned and shared bytes
//! are kept as they are.

use core::fmt;
use core::ops::Deref;
use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

/// Values up to this many bytes are held inline; the size keeps a
/// `FieldValue` at 40 bytes, a `Bytes` and its tag.
const INLINE: usize = 38;

/// The value of a header field: bytes, held inline when short and copied from
/// a borrow, or shared with the [`Bytes`] (or `String`, `Vec<u8>`) they came
/// in, without a copy.
///
/// Any `&str`, `&[u8]`, `String`, `Vec<u8>` or [`Bytes`] (and their boxed,
/// borrowed and `Cow` forms) converts into one, as does a `u64` or `usize`
/// (its decimal digits), so
/// [`Headers::append`](super::Headers::append) and the messages'
/// `with_header` take a value borrowed for as short a time as the call:
///
/// ```
/// use lithe::io::Request;
///
/// let token = String::from("Bearer 8f2a4c1e9b7d");
/// let request = Request::new("GET", "/").with_header("authorization", token.as_str());
/// assert_eq!(request.headers().get("authorization"), Some(token.as_bytes()));
/// ```
///
/// A long literal is copied like any borrowed value;
/// [`from_static`](FieldValue::from_static) shares it instead.
#[derive(Clone)]
pub struct FieldValue(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Bytes),
}

impl FieldValue {
    /// A value that refers to `bytes` without copying them, whatever their
    /// length.
    ///
    /// ```
    /// use lithe::io::FieldValue;
    ///
    /// const POLICY: FieldValue = FieldValue::from_static(b"default-src 'self'; img-src *; frame-ancestors 'none'");
    /// assert!(POLICY.starts_with(b"default-src"));
    /// ```
    pub const fn from_static(bytes: &'static [u8]) -> Self {
        FieldValue(Repr::Shared(Bytes::from_static(bytes)))
    }

    /// A copy of `bytes`: inline when short, else in a new buffer.
    // Inlined, so that a literal's length is known where it is copied: no
    // length test, and a few moves instead of a `memcpy` call.
    #[inline]
    fn copy_of(bytes: &[u8]) -> Self {
        if bytes.len() > INLINE {
            return FieldValue(Repr::Shared(Bytes::copy_from_slice(bytes)));
        }
        let mut inline = [0; INLINE];
        inline[..bytes.len()].copy_from_slice(bytes);
        FieldValue(Repr::Inline {
            // At most INLINE, which fits.
            len: bytes.len() as u8,
            bytes: inline,
        })
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Shared(shared) => shared,
        }
    }
}

impl Deref for FieldValue {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for FieldValue {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for FieldValue {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for FieldValue {}

impl core::hash::Hash for FieldValue {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// A value compares with bytes or text, and hashes as its bytes.
///
/// ```
/// use lithe::io::FieldValue;
/// let value = FieldValue::from(String::from("gzip"));
/// assert!(value == "gzip" && value == *b"gzip".as_slice());
/// let seen: std::collections::HashSet<FieldValue> = [value, "gzip".into()].into();
/// assert_eq!(seen.len(), 1);
/// ```
impl PartialEq<[u8]> for FieldValue {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<str> for FieldValue {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for FieldValue {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_quoted(self.as_bytes(), f)
    }
}

/// Writes a value as a `Debug` shows it: quoted, escaped once where not
/// printable ASCII (as a byte string literal would be).
pub(crate) fn write_quoted(value: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "\"{}\"", value.escape_ascii())
}

impl From<&str> for FieldValue {
    #[inline]
    fn from(value: &str) -> Self {
        FieldValue::copy_of(value.as_bytes())
    }
}

impl From<&String> for FieldValue {
    #[inline]
    fn from(value: &String) -> Self {
        FieldValue::copy_of(value.as_bytes())
    }
}

impl From<&[u8]> for FieldValue {
    #[inline]
    fn from(value: &[u8]) -> Self {
        FieldValue::copy_of(value)
    }
}

impl<const N: usize> From<&[u8; N]> for FieldValue {
    #[inline]
    fn from(value: &[u8; N]) -> Self {
        FieldValue::copy_of(value)
    }
}

impl From<&Vec<u8>> for FieldValue {
    #[inline]
    fn from(value: &Vec<u8>) -> Self {
        FieldValue::copy_of(value)
    }
}

/// Shares the bytes (a reference count), as a clone of `value` would.
impl From<&Bytes> for FieldValue {
    fn from(value: &Bytes) -> Self {
        FieldValue(Repr::Shared(value.clone()))
    }
}

impl From<Cow<'_, str>> for FieldValue {
    fn from(value: Cow<'_, str>) -> Self {
        match value {
            Cow::Borrowed(borrowed) => FieldValue::copy_of(borrowed.as_bytes()),
            Cow::Owned(owned) => FieldValue::from(owned),
        }
    }
}

/// ```
/// use std::borrow::Cow;
/// use lithe::io::FieldValue;
/// let raw: Cow<'_, [u8]> = Cow::Borrowed(b"caf\xe9");
/// assert_eq!(&FieldValue::from(raw)[..], b"caf\xe9");
/// ```
impl From<Cow<'_, [u8]>> for FieldValue {
    fn from(value: Cow<'_, [u8]>) -> Self {
        match value {
            Cow::Borrowed(borrowed) => FieldValue::copy_of(borrowed),
            Cow::Owned(owned) => FieldValue::from(owned),
        }
    }
}

/// Its decimal digits, as a length or a count is written.
///
/// ```
/// use lithe::io::Request;
/// let request = Request::new("PUT", "/").with_header("content-length", 1234u64);
/// assert_eq!(request.headers().get("content-length"), Some(&b"1234"[..]));
/// let empty = Request::new("PUT", "/").with_header("content-length", 0u64);
/// assert_eq!(empty.headers().get("content-length"), Some(&b"0"[..]));
/// let most = Request::new("PUT", "/").with_header("x-count", u64::MAX);
/// assert_eq!(most.headers().get("x-count"), Some(&b"18446744073709551615"[..]));
/// ```
impl From<u64> for FieldValue {
    fn from(n: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = n;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        FieldValue::copy_of(&digits[at..])
    }
}

/// Its decimal digits, as for `u64`.
impl From<usize> for FieldValue {
    fn from(n: usize) -> Self {
        FieldValue::from(n as u64)
    }
}

impl From<Box<str>> for FieldValue {
    fn from(value: Box<str>) -> Self {
        FieldValue::from(String::from(value))
    }
}

impl From<Box<[u8]>> for FieldValue {
    fn from(value: Box<[u8]>) -> Self {
        FieldValue(Repr::Shared(Bytes::from(value)))
    }
}

impl From<String> for FieldValue {
    fn from(value: String) -> Self {
        FieldValue(Repr::Shared(Bytes::from(value)))
    }
}

impl From<Vec<u8>> for FieldValue {
    fn from(value: Vec<u8>) -> Self {
        FieldValue(Repr::Shared(Bytes::from(value)))
    }
}

impl From<Bytes> for FieldValue {
    fn from(value: Bytes) -> Self {
        FieldValue(Repr::Shared(value))
    }
}

impl From<BytesMut> for FieldValue {
    fn from(value: BytesMut) -> Self {
        FieldValue(Repr::Shared(value.freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_forty_bytes() {
        assert_eq!(core::mem::size_of::<FieldValue>(), 40);
    }

    #[test]
    fn short_borrowed_values_are_held_inline_and_long_ones_copied() {
        let exactly = "x".repeat(INLINE);
        let longer = "x".repeat(INLINE + 1);
        for text in ["", "text/plain", exactly.as_str()] {
            let value = FieldValue::from(text);
            assert!(matches!(value.0, Repr::Inline { .. }), "{text:?}");
            assert_eq!(value.as_bytes(), text.as_bytes());
        }
        let value = FieldValue::from(longer.as_str());
        assert!(matches!(&value.0, Repr::Shared(b) if b.as_ptr() != longer.as_ptr()));
        assert_eq!(value.as_bytes(), longer.as_bytes());
    }

    #[test]
    fn owned_and_static_values_are_shared_without_a_copy() {
        let owned = String::from("text/plain");
        let at = owned.as_ptr();
        assert_eq!(FieldValue::from(owned).as_ptr(), at);
        static LONG: &[u8] = b"default-src 'self'; img-src *; frame-ancestors 'none'";
        assert_eq!(FieldValue::from_static(LONG).as_ptr(), LONG.as_ptr());
        let shared = Bytes::from_static(b"gzip");
        assert_eq!(FieldValue::from(shared.clone()).as_ptr(), shared.as_ptr());
        assert_eq!(FieldValue::from(&shared).as_ptr(), shared.as_ptr());
        let boxed: Box<[u8]> = Box::from(&b"deflate"[..]);
        let at = boxed.as_ptr();
        assert_eq!(FieldValue::from(boxed).as_ptr(), at);
        let owned: Cow<'_, str> = Cow::Owned(String::from("br"));
        let at = owned.as_ptr();
        assert_eq!(FieldValue::from(owned).as_ptr(), at);
        let borrowed = FieldValue::from(Cow::Borrowed("zstd"));
        assert!(matches!(borrowed.0, Repr::Inline { .. }));
        assert_eq!(borrowed.as_bytes(), b"zstd");
    }

    /// Values compare by their bytes, however each is held, and lend them
    /// as `AsRef<[u8]>`.
    #[test]
    fn values_compare_and_lend_their_bytes_however_held() {
        let long = "x".repeat(INLINE + 1);
        let inline = FieldValue::from("text/plain");
        let shared = FieldValue::from(Bytes::from_static(b"text/plain"));
        let copied = FieldValue::from(long.as_str());
        assert!(matches!(inline.0, Repr::Inline { .. }));
        assert!(matches!(shared.0, Repr::Shared(_)));
        assert_eq!(inline, shared);
        assert_ne!(inline, FieldValue::from("text/html"));
        assert_ne!(inline, copied);
        assert_eq!(copied, FieldValue::from(String::from(long.as_str())));
        let lent: &[u8] = shared.as_ref();
        assert_eq!(lent, b"text/plain");
        assert_eq!(AsRef::<[u8]>::as_ref(&copied), long.as_bytes());
    }

    #[test]
    fn debug_shows_the_value_quoted_and_escaped() {
        let value = FieldValue::from("caf\u{e9} \"x\"");
        assert_eq!(format!("{value:?}"), r#""caf\xc3\xa9 \"x\"""#);
        // Bytes that are no UTF-8 too.
        let latin1 = FieldValue::from(&b"caf\xe9"[..]);
        assert_eq!(format!("{latin1:?}"), r#""caf\xe9""#);
    }

    /// Values compare as bytes: case matters in a value (unlike a name).
    #[test]
    fn values_differing_in_case_differ() {
        assert_ne!(
            FieldValue::from("Text/Plain"),
            FieldValue::from("text/plain")
        );
        assert_eq!(
            FieldValue::from("text/plain"),
            FieldValue::from(&b"text/plain"[..])
        );
    }
}
