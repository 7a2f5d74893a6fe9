//! Interop with an independent implementation: hyper as a client of our server
//! and as a server for our client. Also the runtime-agnostic proof: our server
//! driver and client connection running under tokio through tokio-util's compat
//! layer.
#![cfg(all(feature = "server", feature = "client"))]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use common::*;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use lithe::io::{Body, ClientConfig, ClientConnection, Request, ServerConfig, serve_connection};
use lithe::proto::StatusCode;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Runs `future` under tokio, bounded by [`LIMIT`].
fn run_tokio<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio_runtime().block_on(async {
        tokio::time::timeout(LIMIT, future)
            .await
            .expect("test took too long")
    })
}

async fn hyper_client(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

#[test]
fn hyper_client_against_our_server() {
    let server = server();
    let addr = server.local_addr();
    run_tokio(async {
        let mut sender = hyper_client(addr).await;
        for _ in 0..3 {
            let request = hyper::Request::get("/")
                .header("host", "t")
                .body(Full::new(Bytes::new()))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-length"], "13");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"Hello, World!");
        }
        // A pattern that repeats at no buffer size: a piece of it lost,
        // repeated or swapped on the way shows in the echo.
        let payload = Bytes::from(XorShift(0x5eed).bytes(300_000));
        let request = hyper::Request::post("/echo")
            .header("host", "t")
            .body(Full::new(payload.clone()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.headers()["transfer-encoding"], "chunked");
        let echoed = response.into_body().collect().await.unwrap().to_bytes();
        // Not assert_eq!, which would print both bodies whole.
        assert!(echoed == payload, "the echo differs");

        let request = hyper::Request::head("/")
            .header("host", "t")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.headers()["content-length"], "13");
        assert!(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
        // hyper reads no body after a HEAD answer whatever follows it: a
        // request after it on the connection is what would take stray body
        // bytes for its answer.
        let request = hyper::Request::get("/")
            .header("host", "t")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(
            response.into_body().collect().await.unwrap().to_bytes(),
            "Hello, World!"
        );
    });
    server.shutdown();
}

/// hyper's answers: `/stream-echo` streams the request body back as it comes
/// (its head goes out at once, before any of the body is read: hyper then
/// sends no `100 Continue`), `/echo` collects it first.
async fn hyper_routes(
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<UnsyncBoxBody<Bytes, hyper::Error>>, Infallible> {
    let path = request.uri().path().to_string();
    if path == "/stream-echo" {
        return Ok(hyper::Response::new(request.into_body().boxed_unsync()));
    }
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let reply = match path.as_str() {
        "/echo" => body,
        _ => Bytes::from_static(b"from hyper"),
    };
    let full = Full::new(reply).map_err(|never: Infallible| match never {});
    Ok(hyper::Response::new(full.boxed_unsync()))
}

/// A hyper server on 127.0.0.1 in its own thread; serves until the process ends.
fn hyper_server() -> SocketAddr {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    std_listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        tokio_runtime().block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(hyper_routes);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
    });
    addr
}

#[test]
fn our_client_against_a_hyper_server() {
    let addr = hyper_server();
    run(async {
        let tcp = lithe::rt::connect("127.0.0.1", addr.port(), LIMIT)
            .await
            .unwrap();
        let mut conn = ClientConnection::new(tcp, ClientConfig::default());
        for _ in 0..3 {
            let response = conn
                .send(Request::new("GET", "/").with_header("host", "t"))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                &response.into_body().bytes(100).await.unwrap()[..],
                b"from hyper"
            );
            assert!(conn.is_reusable());
        }
        let chunks = (0..50).map(|i| Ok(Bytes::from(format!("<{i}>"))));
        let request = Request::new("POST", "/echo")
            .with_header("host", "t")
            .with_body(Body::stream(futures_lite::stream::iter(chunks)));
        let body = conn
            .send(request)
            .await
            .unwrap()
            .into_body()
            .bytes(1 << 20)
            .await
            .unwrap();
        let expected: String = (0..50).map(|i| format!("<{i}>")).collect();
        assert_eq!(body, expected.as_bytes());

        // Expecting 100 Continue, which hyper does not send once its answer
        // has begun: its 200 asks for the body all the same, and gets it.
        let config = ClientConfig {
            continue_timeout: LIMIT * 3,
            ..ClientConfig::default()
        };
        let tcp = lithe::rt::connect("127.0.0.1", addr.port(), LIMIT)
            .await
            .unwrap();
        let mut conn = ClientConnection::new(tcp, config);
        // The last asks to close, which hyper's 200 repeats: it still reads
        // the body.
        let texts = ["first", "second", "third"];
        echo_expecting_continue(&mut conn, "PUT", "/stream-echo", texts).await;
    });
}

#[test]
fn server_driver_and_client_connection_run_under_tokio() {
    run_tokio(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let config = ServerConfig::default();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let config = config.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(stream.compat(), routes, &config).await;
                });
            }
        });
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut conn = ClientConnection::new(stream.compat(), ClientConfig::default());
        for i in 0..5 {
            let body = format!("under tokio {i}");
            let request = Request::new("POST", "/echo")
                .with_header("host", "t")
                .with_body(body.clone());
            let got = conn
                .send(request)
                .await
                .unwrap()
                .into_body()
                .bytes(1024)
                .await
                .unwrap();
            assert_eq!(got, body.as_bytes());
        }
        let response = conn
            .send(Request::new("GET", "/").with_header("host", "t"))
            .await
            .unwrap();
        assert_eq!(
            &response.into_body().bytes(100).await.unwrap()[..],
            b"Hello, World!"
        );
    });
}

/// Under tokio's multi-thread runtime, whose spawned tasks must be `Send`
/// and may move between threads: the server driver with a service that is
/// `Send` but not `Sync` (a `Cell` counter, as per-connection state is
/// kept), and a client's exchanges, each spawned; and a lithe timeout (the
/// server's idle one) firing there, which closes the connection.
#[test]
fn spawned_on_tokios_multi_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let idle = std::time::Duration::from_millis(200);
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let served = std::cell::Cell::new(0u32);
            let service = move |_: Request| {
                served.set(served.get() + 1);
                let n = served.get();
                async move { lithe::io::Response::new(StatusCode::OK).with_body(format!("request {n}")) }
            };
            let config = ServerConfig {
                idle_timeout: Some(idle),
                ..ServerConfig::default()
            };
            serve_connection(stream.compat(), service, &config).await
        });
        let client = tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut conn = ClientConnection::new(stream.compat(), ClientConfig::default());
            // Taken before the last request: the server's idle clock starts
            // only once it has answered it, later.
            let mut idle_from = std::time::Instant::now();
            for i in 1..=3 {
                idle_from = std::time::Instant::now();
                let request = Request::new("GET", "/").with_header("host", "t");
                let response = conn.send(request).await.unwrap();
                let body = response.into_body().bytes(100).await.unwrap();
                assert_eq!(body, format!("request {i}").as_bytes());
            }
            (conn, idle_from)
        });
        let (conn, idle_from) = tokio::time::timeout(LIMIT, client).await.unwrap().unwrap();
        // The connection held open, the server ends it by its idle timeout.
        let ended = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
        assert!(ended.is_ok(), "{ended:?}");
        assert!(idle_from.elapsed() >= idle, "{:?}", idle_from.elapsed());
        drop(conn);
    });
}
