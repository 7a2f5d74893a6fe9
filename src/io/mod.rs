//! Async HTTP/1.1 drivers over any `futures_io::AsyncRead + AsyncWrite + Unpin`
//! (for the server also `Send`, which [`Transport`] names, and `'static`).
//!
//! This layer binds the sans-IO [`proto`](crate::proto) core to async I/O without
//! naming a runtime: the same code runs under smol (see `rt`), async-std, or
//! tokio through a compat wrapper. Timeouts use `async-io` timers, which work
//! under any executor.
//!
//! | item | what it is |
//! |---|---|
//! | [`serve_connection`], [`serve_connection_until`], [`ServerConfig`] | the server driver: requests in, a [`Service`]'s responses out |
//! | [`ClientConnection`], [`ClientConfig`] | the client side: send a [`Request`], read a [`Response`] |
//! | [`Headers`], [`FieldValue`], [`ByteStr`] | header fields, their values, and the shared strings of names, methods and targets |
//! | [`Body`], [`Incoming`], [`ResponseBody`], [`BoxStream`] | bodies as streams of `Bytes` |
//! | [`OnUpgrade`], [`Upgraded`] | the raw connection after a protocol switch |
//! | [`Shutdown`] | a graceful-shutdown signal for server connections |
//! | [`Error`], [`Timeout`], [`TrySendError`] | what can go wrong, typed |
//! | [`duplex`], [`DuplexStream`] | an in-memory pipe, for tests and in-process pairs |
//!
//! The guarantees the drivers keep, whatever the peer sends: malformed requests
//! get the status `proto` names and `Connection: close`; memory per connection
//! stays bounded (heads by the limits, bodies one chunk at a time, output
//! batches by a cap) and an idle keep-alive connection keeps only small
//! buffers (a server's: at most 512 bytes each to read into and to write
//! from, once the peer has taken what was written, besides any empty lines
//! it sent after a request; a pooled client's: at most 16 KiB to read into,
//! so that large response heads cost no allocation each); a body cut short
//! is an error; pipelined bytes are never lost or
//! misparsed; every wait on the peer is bounded by a timeout (by default:
//! each can be turned off) until a protocol switch hands the connection on,
//! while the service's future and the body and
//! trailers it returns are awaited as long as they take.
//!
//! ```
//! use lithe::io::{serve_connection, ClientConnection, ClientConfig, Request, Response, ServerConfig};
//! use lithe::proto::StatusCode;
//!
//! # futures_lite::future::block_on(async {
//! let (server_end, client_end) = lithe::io::duplex(64 * 1024);
//! let server = async {
//!     let config = ServerConfig::default();
//!     serve_connection(server_end, |_req: lithe::io::Request| async {
//!         Response::new(StatusCode::OK).with_body("hi")
//!     }, &config).await.unwrap();
//! };
//! let client = async {
//!     let mut conn = ClientConnection::new(client_end, ClientConfig::default());
//!     let request = Request::new("GET", "/").with_header("Host", "example");
//!     let response = conn.send(request).await.unwrap();
//!     assert_eq!(response.status(), StatusCode::OK);
//!     assert_eq!(&response.into_body().bytes(1024).await.unwrap()[..], b"hi");
//! };
//! futures_lite::future::or(server, client).await;
//! # });
//! ```

mod body;
mod buffer;
mod byte_str;
mod client;
mod date;
mod duplex;
mod error;
mod field_value;
mod headers;
mod message;
mod read_stream;
mod receive;
mod server;
mod shutdown;
mod upgrade;

pub use body::{Body, BoxStream, Incoming};
pub use byte_str::ByteStr;
pub use client::{ClientConfig, ClientConnection, RESPONSE_HEAD_LIMIT, ResponseBody, TrySendError};
pub use duplex::{DuplexStream, duplex};
pub use error::{Error, Timeout};
pub use field_value::FieldValue;
pub use headers::{Headers, HeadersIter};
pub use message::{Request, Response};
#[cfg(all(feature = "server", feature = "tls"))]
pub(crate) use server::SHUTDOWN_HEAD_GRACE;
#[cfg(feature = "server")]
pub(crate) use server::serve_connection_aborting;
pub use server::{ServerConfig, Service, serve_connection, serve_connection_until};
pub use shutdown::Shutdown;
pub use upgrade::{OnUpgrade, Transport, Upgraded};
