//! The smol runtime glue: TCP listening and accepting on every core, DNS and TCP
//! connecting with timeouts, and TLS with rustls. This is the only module that
//! names smol; everything it runs is the runtime-agnostic [`io`](crate::io) layer.
//!
//! | item | feature | what it does |
//! |---|---|---|
//! | [`Server`] | `server` | bind, accept, one executor per core, graceful shutdown, services made per connection from the client's address (`bind_per_connection`); on Linux each worker waits on its own edge-triggered epoll set (`reactor`) |
//! | [`connect`], [`connect_any`], [`open`], [`Url`] | `client` | URL parsing; DNS + TCP (+ TLS for `https`) with a connect timeout, a host's addresses tried staggered (RFC 8305) |
//! | [`tls`] | `tls` | rustls connector (verifying by default) and PEM-loading acceptor |
// The table links every item; a build without some features has fewer.
#![cfg_attr(
    not(all(feature = "server", feature = "client", feature = "tls")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "client")]
mod connect;
#[cfg(all(target_os = "linux", feature = "server"))]
mod reactor;
#[cfg(feature = "server")]
mod serve;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;

#[cfg(feature = "client")]
pub use connect::{ATTEMPT_HEAD_START, ConnectConfig, Url, connect, connect_any, open};
#[cfg(feature = "server")]
pub use serve::{MAX_THREADS, ServeConfig, Server};
pub use stream::{MaybeTls, TcpStream};

/// Runs `future` as a task of its own, detached, on smol's global executor
/// (its threads start on first use; `SMOL_THREADS` sets how many): work
/// that outlives the call that starts it, such as a connection handed over
/// by a protocol switch ([`Request::upgrade`](crate::io::Request::upgrade)),
/// which an `rt::Server`'s own threads keep serving meanwhile. Nothing waits
/// for it: send its outcome on a channel to learn it.
///
/// ```
/// let (done, finished) = std::sync::mpsc::channel();
/// lithe::rt::spawn(async move {
///     done.send(6 * 7).unwrap();
/// });
/// assert_eq!(finished.recv().unwrap(), 42);
/// ```
pub fn spawn(future: impl core::future::Future<Output = ()> + Send + 'static) {
    smol::spawn(future).detach();
}

/// Runs `work`, which blocks (a synchronous database call, a file read, a
/// CPU-heavy hash), on a thread pool made for it (smol's `unblock`), so that
/// a service awaiting it leaves its worker free for the other connections.
///
/// ```
/// assert_eq!(lithe::rt::block_on(lithe::rt::unblock(|| 6 * 7)), 42);
/// ```
pub fn unblock<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> impl core::future::Future<Output = T> + Send {
    smol::unblock(work)
}

/// Runs a future to completion on the current thread (smol's `block_on`): the
/// simplest way to drive a client from a synchronous `main`.
pub fn block_on<F: core::future::Future>(future: F) -> F::Output {
    smol::block_on(future)
}
