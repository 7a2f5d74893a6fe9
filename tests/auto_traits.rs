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
    Body, ClientConfig, ClientConnection, DuplexStream, Headers, Incoming, Request, Response,
    ResponseBody, ServerConfig, Shutdown, Upgraded, duplex, serve_connection,
    serve_connection_until,
};
use lithe::proto::StatusCode;
use lithe::rt::tls::{TlsAcceptor, TlsConnector};
use lithe::rt::{ConnectConfig, MaybeTls, Server, Url, connect, connect_any, open};

fn is_send<T: Send>(_: &T) {}
fn is_send_sync<T: Send + Sync>(_: &T) {}
/// What `Box<dyn Error + Send + Sync>` and anyhow take.
fn is_shareable_error<E: std::error::Error + Send + Sync + 'static>() {}

/// A body stream that is `Send` but not `Sync` (its state is a `Cell`), as
/// many are.
fn send_only_stream() -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    let polled = Cell::new(false);
    futures_lite::stream::poll_fn(move |_| {
        std::task::Poll::Ready(match polled.replace(true) {
            false => Some(Ok(bytes::Bytes::from_static(b"x"))),
            true => None,
        })
    })
}

/// Trailers whose future is `Send` but not `Sync`.
fn send_only_trailers() -> impl Future<Output = Headers> + Send {
    let made = Cell::new(0u8);
    async move {
        made.set(1);
        Headers::new()
    }
}

/// Something a caller awaits with the request borrowed (signing it, say).
async fn look_at<T>(_: &T) {}

#[test]
fn a_client_connections_futures_are_send() {
    let (io, _server_side) = duplex(1024);
    let mut conn = ClientConnection::new(io, ClientConfig::default());
    is_send(&conn);
    is_send(&conn.send(Request::new("GET", "/").with_body("x")));
    is_send(&conn.try_send(Request::new("GET", "/")));
    is_send(&conn.close());
}

/// Messages to send are `Sync` whatever their body's stream and trailers
/// are, so that a future keeping `&request` across an `.await` is `Send`.
#[test]
fn messages_to_send_are_sync_with_streams_that_are_not() {
    let request = Request::new("POST", "/").with_body(Body::stream(send_only_stream()));
    is_send_sync(&request);
    let sized = Body::sized_stream(1, send_only_stream());
    is_send_sync(&Request::new("POST", "/").with_body(sized));
    let trailed = Body::stream(send_only_stream()).with_trailers(send_only_trailers());
    is_send_sync(&Response::new(StatusCode::OK).with_body(trailed));

    let (io, _server_side) = duplex(1024);
    let mut conn = ClientConnection::new(io, ClientConfig::default());
    is_send_sync(&conn);
    is_send(&async move {
        look_at(&request).await;
        let response = conn.send(request).await;
        look_at(&response).await;
    });
}

#[test]
fn errors_can_be_boxed_as_send_and_sync() {
    is_shareable_error::<lithe::io::Error>();
    is_shareable_error::<lithe::proto::Error>();
    is_shareable_error::<lithe::proto::SendError>();
    // With the unsent request in it, whatever that request's body stream.
    is_shareable_error::<lithe::io::TrySendError>();
}

/// A server handle can be moved to, or shared with, the thread that stops it.
fn a_server_handle_is_send_and_sync(server: &Server) {
    is_send_sync(server);
}

/// An upgraded connection can be handed to a task of its own.
fn an_upgraded_connection_is_send(upgraded: &Upgraded) {
    is_send(upgraded);
}

#[test]
fn handles_are_send() {
    let _ = a_server_handle_is_send_and_sync;
    let _ = an_upgraded_connection_is_send;
}

/// Instantiated below for the transports a user has: a `ResponseBody`
/// comes only from a response, so its futures are checked on a borrowed one.
fn response_body_futures_are_send<T: AsyncRead + AsyncWrite + Unpin + Send + Sync>(
    mut body: ResponseBody<'_, T>,
) {
    is_send_sync(&body);
    is_send(&body.chunk());
    is_send(&body.next_item());
    let collecting = body.bytes(1);
    is_send(&collecting);
    drop(collecting);
}

/// The consuming readers, each from a response of its own.
fn response_body_collectors_are_send<T: AsyncRead + AsyncWrite + Unpin + Send + Sync>(
    conn: &mut ClientConnection<T>,
) {
    is_send_sync(conn);
    is_send(&async {
        let body = conn
            .send(Request::new("GET", "/"))
            .await
            .unwrap()
            .into_body();
        look_at(&body).await;
        body.text(1).await.unwrap();
        let body = conn
            .send(Request::new("GET", "/"))
            .await
            .unwrap()
            .into_body();
        body.discard(1).await.unwrap();
    });
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
    let _ = response_body_collectors_are_send::<DuplexStream>;
    let _ = response_body_collectors_are_send::<MaybeTls>;
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
    let body = std::mem::take(request.body_mut());
    is_send(&body.bytes(1));
    let body = std::mem::take(request.body_mut());
    is_send(&body.text(1));
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
