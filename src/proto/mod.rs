//! The sans-IO HTTP/1.1 core: `#![no_std]`, no allocation, no unsafe, no I/O.
//!
//! # How to use it
//!
//! A [`Connection`] holds the protocol state of one HTTP/1.1 connection, in the
//! [client](Connection::client) or [server](Connection::server) role. The caller
//! owns every buffer and does all I/O:
//!
//! 1. Read bytes from the peer into your buffer and pass the unconsumed part to
//!    [`Connection::receive`] with an array of [`Header`]s to parse into. It
//!    returns how many bytes it consumed and an [`Event`] that borrows from your
//!    buffer: a head, body [`Data`](Event::Data) (a sub-slice, never copied), the
//!    [`End`](Event::End) of a message, [`NeedData`](Event::NeedData) (read
//!    more), [`HeadersFull`](Event::HeadersFull) (call again with a larger
//!    header array), [`Paused`](Event::Paused) (send your side before more is
//!    parsed), [`SwitchedProtocol`](Event::SwitchedProtocol) or
//!    [`ConnectionClosed`](Event::ConnectionClosed). When the peer closes,
//!    call [`Connection::receive_eof`].
//! 2. To send, serialize a head into your output buffer with
//!    [`Connection::send_request`] or [`Connection::send_response`]; for each
//!    piece of body call [`Connection::send_data`], which returns the framing
//!    ([`DataFrame`]) to write around your data; finish with
//!    [`Connection::send_end`].
//!
//! Everything a peer sends is bounded by [`Limits`]; every violation is a typed
//! [`Error`] naming the rule and the status to answer with. Our own misuse is a
//! [`SendError`] and writes nothing.
//!
//! The error enums are `#[non_exhaustive]`: a new rule may add a variant. The
//! enums a driver dispatches on ([`Event`], [`Decoded`], [`State`],
//! [`Version`], [`BodyLength`]) are exhaustive on purpose: a variant added to
//! one is new behaviour every driver must handle, so it should not compile
//! unhandled.
//!
//! # Module map
//!
//! | module | holds |
//! |---|---|
//! | [`state`] | the two-sided state machine and its theory of operation |
//! | `conn` | [`Connection`], [`Event`]: ties parsing, framing and state together |
//! | `scan` | incremental end-of-head detection (linear under any split) |
//! | `parse` | head parsing with httparse plus the checks it leaves to us |
//! | `plain_head` | plain start lines and field lines, read in word-sized steps |
//! | [`framing`] | RFC 9112 §6.3 message length, smuggling defences |
//! | `chunked` | [`ChunkedDecoder`] and [`ChunkPrefix`] |
//! | `encode` | head serialization with validation, [`DataFrame`] |
//! | `head`, `status`, `error`, `limits` | the types of the API |
//! | `OwnedRequestHead` and the like | owned copies of heads (feature `alloc`; their code is outside this module, which allocates nothing) |
//!
//! # What is supported
//!
//! HTTP/1.0 and HTTP/1.1 (RFC 9112) in both roles: persistent connections,
//! pipelining (the server side pauses until its response is done), chunked bodies
//! with trailers, `Expect: 100-continue`, Upgrade and CONNECT. Not supported:
//! transfer codings other than `chunked` in requests (501 when `chunked` is
//! final, 400 otherwise: the length is unknowable), HTTP/0.9, HTTP/2, and
//! HTTP/1.x past 1.1: a request naming `HTTP/1.2` gets 505 and a response
//! [`Error::UnsupportedVersion`], where RFC 9110 §2.5 would have a recipient
//! read it as 1.1 (a SHOULD; httparse takes 1.0 and 1.1 only, and proto
//! does not copy a head to rewrite it). No such version has been defined.
//! Nor are IPvFuture literals (`[v1.x]`, RFC 3986 §3.2.2) taken as hosts, in
//! Host fields or targets: brackets must hold an IPv6 address (no host uses
//! another form; `InvalidHost` or `InvalidRequestTarget`, 400).
#![forbid(unsafe_code)]

mod chunked;
mod conn;
mod encode;
mod error;
pub mod framing;
mod head;
mod limits;
mod parse;
mod plain_head;
mod scan;
pub mod state;
mod status;

pub use chunked::{ChunkPrefix, ChunkedDecoder, Decoded};
#[cfg(feature = "std")]
pub(crate) use conn::empty_lines_len;
pub use conn::{Connection, Event, Received};
pub use encode::{DataFrame, is_header_section_only};
#[cfg(feature = "std")]
pub(crate) use encode::{IMF_FIXDATE_LEN, validate_fields};
pub use error::{Error, SendError};
pub use framing::{BodyLength, MAX_CONTENT_LENGTH};
pub use head::{EMPTY_HEADER, Header, RequestHead, ResponseHead, TargetForm, Version};
pub use limits::{Config, Leniency, Limits};
// Kept outside this module, whose files name no allocating type: re-exported
// here, where they belong (owned conveniences of `proto`, feature `alloc`).
#[cfg(feature = "alloc")]
pub use crate::owned::{OwnedHeader, OwnedRequestHead, OwnedResponseHead};
pub use state::{Role, State};
pub use status::{InvalidStatusCode, StatusCode};
