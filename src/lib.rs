//! # lithe
//!
//! An HTTP/1.1 library in the spirit of Python's aiohttp, standing on a sans-IO
//! protocol core.
//!
//! Today the crate holds that core, [`proto`]: it parses and serializes HTTP/1.1
//! messages and chunked bodies with no I/O, no allocation and no `std`, so the same
//! code runs on a microcontroller, inside a fuzzer, or under an async server.
//!
//! | feature | adds | needs std |
//! |---|---|---|
//! | (none) | [`proto`] | no, and no `alloc` |
//! | `alloc` | owned conveniences in [`proto`] | no |
//! | `std` (default) | `std::error::Error` impls | yes |
//!
//! ```
//! use lithe::proto::{Connection, Config, Event, Header, EMPTY_HEADER};
//!
//! let mut server = Connection::server(Config::default());
//! let mut headers = [EMPTY_HEADER; 16];
//! let input = b"GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n";
//! let received = server.receive(input, &mut headers).unwrap();
//! match received.event {
//!     Event::Request(head) => assert_eq!(head.target, "/hello"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod proto;

#[cfg(feature = "std")]
pub mod io;
#[cfg(feature = "rt")]
pub mod rt;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
