//! # lithe
//!
//! An HTTP/1.1 library in the spirit of Python's aiohttp, standing on a sans-IO
//! protocol core.
//!
//! The core, [`proto`], parses and serializes HTTP/1.1 messages and chunked bodies
//! with no I/O, no allocation and no `std`, so the same code runs on a
//! microcontroller, inside a fuzzer, or under an async server. Above it, `io`
//! drives connections over any `futures-io` stream (server driver, client
//! connection, streaming bodies), and `rt` binds them to smol: a multi-core
//! server, connecting with timeouts, TLS with rustls.
//!
//! | feature | adds | needs std |
//! |---|---|---|
//! | (none) | [`proto`] | no, and no `alloc` |
//! | `alloc` | owned conveniences in [`proto`] | no |
//! | `std` (default) | `io` (with its `Error`): async drivers over `futures-io` | yes |
//! | `rt` (default) | `rt`: smol glue (`block_on`, TCP streams) | yes |
//! | `server` (default) | `rt::Server`: accept on every core, graceful shutdown | yes |
//! | `client` (default) | `rt::Url` (the `url` crate), DNS and TCP with `rt::connect` / `rt::connect_any` (staggered, RFC 8305), `rt::open` with `rt::ConnectConfig` | yes |
//! | `tls` (default) | `rt::tls`: rustls connector and acceptor | yes |
//!
//! A server in a few lines (`cargo run --release --example hello_server -- --port 8080`):
//!
//! ```no_run
//! # #[cfg(feature = "server")] {
//! use lithe::io::{Request, Response};
//! use lithe::proto::StatusCode;
//! use lithe::rt::{ServeConfig, Server};
//!
//! async fn hello(_: Request) -> Response {
//!     Response::new(StatusCode::OK).with_body("Hello, World!")
//! }
//! Server::bind("127.0.0.1:8080", hello, ServeConfig::default()).unwrap().wait();
//! # }
//! ```
//!
//! A client (`cargo run --example fetch -- https://example.com/`):
//!
//! ```no_run
//! # #[cfg(all(feature = "client", feature = "tls"))] {
//! use lithe::rt::{ConnectConfig, Url, block_on, open};
//!
//! block_on(async {
//!     let url: Url = "https://example.com/".parse()?;
//!     let mut conn = open(&url, &ConnectConfig::default()).await?;
//!     let response = conn.send(url.request("GET")).await?;
//!     println!("{}", response.status());
//!     // At most 1 MiB of it: a larger body is an error, not a truncation.
//!     let text = response.into_body().text(1 << 20).await?;
//!     println!("{text}");
//!     Ok::<(), lithe::io::Error>(())
//! })
//! .unwrap();
//! # }
//! ```
//!
//! The core alone:
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
// Owned copies of `proto`'s heads, re-exported there.
#[cfg(feature = "alloc")]
mod owned;

#[cfg(feature = "std")]
pub mod io;
#[cfg(feature = "rt")]
pub mod rt;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
