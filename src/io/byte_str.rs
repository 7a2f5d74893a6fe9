//! [`ByteStr`]: the shared strings names, methods and targets are made of.

use core::fmt;
use core::ops::Deref;
use std::borrow::Cow;

use bytes::Bytes;

use super::receive::Span;

/// An immutable UTF-8 string: a static one, or one sharing its bytes with a
/// [`Bytes`] buffer (a received head).
#[derive(Clone)]
pub struct ByteStr(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    /// Bytes that every constructor took from a `str`.
    Shared(Bytes),
}

impl ByteStr {
    /// A string from a static one, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        ByteStr(Repr::Static(s))
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            // Every constructor takes a `str`, so this never falls back.
            Repr::Shared(b) => core::str::from_utf8(b).unwrap_or_default(),
        }
    }

    /// The text at `span` of a received `head`, which `proto` checked is UTF-8.
    pub(crate) fn from_span(head: &Bytes, (at, len): Span) -> Self {
        ByteStr(Repr::Shared(head.slice(at..at + len)))
    }
}

/// A request's method: a registered one (RFC 9110 §9) as a static string,
/// which reads without re-validation, any other boxed. 16 bytes where a
/// [`ByteStr`] is 32: held in every request, it keeps one within the 128
/// bytes a move copies inline (past that a move is a `memcpy` call), and
/// other methods are rare.
#[derive(Clone)]
pub(crate) enum Method {
    Registered(&'static str),
    Other(Box<ByteStr>),
}

impl Method {
    const REGISTERED: [&'static str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];

    /// The registered method that `method` names (case-sensitively), if any.
    fn registered(method: &[u8]) -> Option<&'static str> {
        Method::REGISTERED
            .into_iter()
            .find(|registered| registered.as_bytes() == method)
    }

    /// `method`, given by whoever built a request.
    pub(crate) fn of(method: ByteStr) -> Method {
        match Method::registered(method.as_bytes()) {
            Some(registered) => Method::Registered(registered),
            None => Method::Other(Box::new(method)),
        }
    }

    /// The method at `span` of a received `head`.
    pub(crate) fn received(head: &Bytes, span: Span) -> Method {
        match Method::registered(&head[span.0..span.0 + span.1]) {
            Some(registered) => Method::Registered(registered),
            None => Method::Other(Box::new(ByteStr::from_span(head, span))),
        }
    }

    /// The method.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Method::Registered(method) => method,
            Method::Other(method) => method,
        }
    }

    /// The method as a [`ByteStr`].
    pub(crate) fn into_byte_str(self) -> ByteStr {
        match self {
            Method::Registered(method) => ByteStr::from_static(method),
            Method::Other(method) => *method,
        }
    }
}

impl Default for ByteStr {
    fn default() -> Self {
        ByteStr::from_static("")
    }
}

impl PartialEq for ByteStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ByteStr {}

impl core::hash::Hash for ByteStr {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// In order of the text, as `str`, however each was made.
///
/// ```
/// use lithe::io::ByteStr;
/// let mut names = [ByteStr::from(String::from("b")), ByteStr::from("a")];
/// assert!(names[1] < names[0]);
/// names.sort();
/// assert_eq!(names.map(|name| name.to_string()), ["a", "b"]);
/// ```
impl PartialOrd for ByteStr {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByteStr {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl AsRef<str> for ByteStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Equal, hashed and ordered as its text, so a map keyed by `ByteStr` is
/// looked up with a `&str`.
///
/// ```
/// use lithe::io::ByteStr;
/// let mut counts = std::collections::BTreeMap::new();
/// counts.insert(ByteStr::from(String::from("accept")), 1);
/// assert_eq!(counts.get("accept"), Some(&1));
/// let as_text: &str = counts.keys().next().unwrap().as_ref();
/// assert_eq!(as_text, "accept");
/// ```
impl core::borrow::Borrow<str> for ByteStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for ByteStr {
    fn from(s: &'static str) -> Self {
        ByteStr::from_static(s)
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> Self {
        ByteStr(Repr::Shared(Bytes::from(s)))
    }
}

/// A copy: only a `&'static str` is shared as it is.
impl From<&String> for ByteStr {
    fn from(s: &String) -> Self {
        ByteStr::from(s.clone())
    }
}

impl From<Box<str>> for ByteStr {
    fn from(s: Box<str>) -> Self {
        ByteStr::from(String::from(s))
    }
}

/// A borrowed one is copied: only a `&'static str` is shared as it is.
impl From<Cow<'_, str>> for ByteStr {
    fn from(s: Cow<'_, str>) -> Self {
        ByteStr::from(s.into_owned())
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::{ByteStr, Method, Repr};

    #[test]
    fn registered_methods_are_static_and_others_share_the_head() {
        let head = Bytes::from_static(b"GET PATCH DELETE get PURGE GETS");
        let at = |word: &str| {
            let start = head.windows(word.len()).position(|w| w == word.as_bytes());
            (start.expect("in the head"), word.len())
        };
        for registered in ["GET", "PATCH", "DELETE"] {
            let method = Method::received(&head, at(registered));
            assert!(matches!(method, Method::Registered(_)), "{registered}");
            assert_eq!(method.as_str(), registered);
            let given = Method::of(ByteStr::from(String::from(registered)));
            assert!(matches!(given, Method::Registered(_)), "{registered}");
            let text = method.into_byte_str();
            assert!(matches!(text.0, Repr::Static(_)), "{registered}");
        }
        // Methods are case-sensitive, and a prefix is not the method.
        for other in ["get", "PURGE", "GETS"] {
            let method = Method::received(&head, at(other));
            assert!(matches!(&method, Method::Other(text) if matches!(text.0, Repr::Shared(_))));
            assert_eq!(method.as_str(), other);
            assert_eq!(Method::of(ByteStr::from_static(other)).as_str(), other);
            assert_eq!(method.into_byte_str(), other);
        }
    }

    /// Equal by their text, however each holds it, unequal otherwise, and
    /// hashed alike when equal: a map keyed by one finds the other.
    #[test]
    fn strings_compare_and_hash_by_their_text() {
        use std::hash::BuildHasher;
        let shared = ByteStr::from(String::from("GET"));
        let fixed = ByteStr::from_static("GET");
        assert!(matches!(shared.0, Repr::Shared(_)));
        assert_eq!(shared, fixed);
        assert_ne!(shared, ByteStr::from_static("PUT"));
        assert_ne!(fixed, ByteStr::from(String::from("GETS")));
        let state = std::collections::hash_map::RandomState::new();
        assert_eq!(state.hash_one(&shared), state.hash_one(&fixed));
        assert_ne!(
            state.hash_one(&shared),
            state.hash_one(ByteStr::from("PUT"))
        );
    }

    /// Every conversion keeps the text, and a string compares with a `str`
    /// by it.
    #[test]
    fn conversions_keep_the_text() {
        let text = String::from("/path?q");
        let made = [
            ByteStr::from(&text),
            ByteStr::from(text.clone().into_boxed_str()),
            ByteStr::from(std::borrow::Cow::Borrowed(text.as_str())),
            ByteStr::from(std::borrow::Cow::<str>::Owned(text.clone())),
            ByteStr::from(text.clone()),
        ];
        for s in &made {
            assert_eq!(s.as_str(), "/path?q");
            assert!(*s == *"/path?q" && *s == "/path?q");
            assert!(*s != *"/path" && *s != "/path?q2");
            assert_eq!(format!("{s} {s:?}"), "/path?q \"/path?q\"");
        }
    }
}
