//! The futures and values a work-stealing executor (tokio's multi-thread
//! runtime, smol's `spawn`) moves between threads are `Send`, and the shared
//! ones `Sync`. These are compile-time checks: a change that makes one of
//! them lose the trait (a non-`Sync` value borrowed across an `.await`, a
//! `dyn` without `+ Send`) stops this file from building. The futures are
//! built and dropped unpolled; nothing runs.
#![cfg(all(feature = "server", feature = "client", feature = "tls"))]

use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncWrite, Stream};
use lithe::io::{
    ClientConfig, ClientConnection, DuplexStream, Incoming, Request, Response, ResponseBody,
    ServerConfig, Shutdown, duplex, serve_connection, serve_connection_until,
};
use lithe::proto::StatusCode;
use lithe::rt::tls::{TlsAcceptor, TlsConnector};
use lithe::rt::{ConnectConfig, MaybeTls, Url, connect, connect_any, open};

fn is_send<T: Send>(_: &T) {}
fn is_send_sync<T: Send + Sync>(_: &T) {}

#[test]
fn a_client_connections_futures_are_send() {
    let (io, _server_side) = duplex(1024);
    let mut conn = ClientConnection::new(io, ClientConfig::default());
    is_send(&conn);
    is_send(&conn.send(Request::new("GET", "/").with_body("x")));
    is_send(&conn.try_send(Request::new("GET", "/")));
    is_send(&conn.close());
}

/// Instantiated below for the transports a user has: a `ResponseBody`
/// comes only from a response, so its futures are checked on a borrowed one.
fn response_body_futures_are_send<T: AsyncRead + AsyncWrite + Unpin + Send>(
    body: &mut ResponseBody<'_, T>,
) {
    is_send(body);
    is_send(&body.chunk());
    is_send(&body.next_item());
}

/// The `Stream` half, as `futures::StreamExt::next` would poll it.
trait NextItem {
    fn next_item(&mut self) -> impl Future<Output = ()> + '_;
}

impl<S: Stream + Unpin> NextItem for S {
    fn next_item(&mut self) -> impl Future<Output = ()> + '_ {
        futures_lite::future::poll_fn(|cx| std::pin::Pin::new(&mut *self).poll_next(cx).map(drop))
    }
}

#[test]
fn a_response_bodys_futures_are_send() {
    let _ = response_body_futures_are_send::<DuplexStream>;
    let _ = response_body_futures_are_send::<MaybeTls>;
}

/// A service whose per-connection state is a `Cell`: `Send`, not `Sync`.
fn counting_service() -> impl Fn(Request<Incoming>) -> std::future::Ready<Response> + Send {
    let served = Cell::new(0u32);
    move |_| {
        served.set(served.get() + 1);
        std::future::ready(Response::new(StatusCode::OK))
    }
}

#[test]
fn serving_a_connection_is_send_with_a_service_that_is_not_sync() {
    let config = ServerConfig::default();
    let shutdown = Shutdown::new();
    let (io, _client_side) = duplex(1024);
    is_send(&serve_connection(io, counting_service(), &config));
    let (io, _client_side) = duplex(1024);
    is_send(&serve_connection_until(
        io,
        counting_service(),
        &config,
        &shutdown,
    ));
    is_send_sync(&shutdown);
    is_send(&shutdown.triggered());
}

/// A service's view of its request: it may hand the body or its upgrade to
/// another task.
fn request_parts_are_send(request: &mut Request<Incoming>) {
    is_send_sync(request);
    is_send(&request.upgrade());
    let body = request.body_mut();
    is_send(&body.chunk());
}

#[test]
fn a_requests_body_and_upgrade_are_send() {
    let _ = request_parts_are_send;
}

#[test]
fn connecting_is_send() {
    let limit = Duration::from_secs(1);
    is_send(&connect("127.0.0.1", 9, limit));
    let addresses: [SocketAddr; 1] = ["127.0.0.1:9".parse().unwrap()];
    is_send(&connect_any(&addresses, limit));
    let url = Url::parse("https://localhost:9/").unwrap();
    let config = ConnectConfig::default();
    is_send(&open(&url, &config));
    is_send_sync(&config);
}

#[test]
fn tls_handshakes_are_send() {
    let connector = TlsConnector::dangerous_accept_any_certificate();
    let (io, _server_side) = duplex(1024);
    is_send(&connector.connect("localhost", io));
    is_send_sync(&connector);
}

/// A `TlsAcceptor` needs a certificate; its handshake is checked on one a
/// caller has.
fn tls_accept_is_send(acceptor: &TlsAcceptor, io: DuplexStream) {
    is_send_sync(acceptor);
    is_send(&acceptor.accept(io));
}

#[test]
fn a_tls_accept_is_send() {
    let _ = tls_accept_is_send;
}
