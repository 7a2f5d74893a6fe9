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
/// sends no `100 Continue`), `/echo` collects it first, `/upgrade` switches to
/// a protocol that greets with `hello` at once, then echoes four bytes,
/// `/trailers` answers `ok` and a `grpc-status` trailer its head announces.
async fn hyper_routes(
    mut request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<UnsyncBoxBody<Bytes, hyper::Error>>, Infallible> {
    let path = request.uri().path().to_string();
    if path == "/stream-echo" {
        return Ok(hyper::Response::new(request.into_body().boxed_unsync()));
    }
    if path == "/trailers" {
        let mut trailers = hyper::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let frames = [
            Ok(hyper::body::Frame::data(Bytes::from_static(b"ok"))),
            Ok(hyper::body::Frame::trailers(trailers)),
        ];
        let body = http_body_util::StreamBody::new(futures_lite::stream::iter(frames));
        let mut response = hyper::Response::new(body.boxed_unsync());
        response
            .headers_mut()
            .insert("trailer", "grpc-status".parse().unwrap());
        return Ok(response);
    }
    if path == "/upgrade" {
        let on_upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut io = TokioIo::new(on_upgrade.await.unwrap());
            io.write_all(b"hello").await.unwrap();
            let mut ping = [0u8; 4];
            io.read_exact(&mut ping).await.unwrap();
            io.write_all(&ping).await.unwrap();
        });
        let empty = Full::new(Bytes::new()).map_err(|never: Infallible| match never {});
        let mut response = hyper::Response::new(empty.boxed_unsync());
        *response.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert("connection", "upgrade".parse().unwrap());
        headers.insert("upgrade", "echo".parse().unwrap());
        return Ok(response);
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
                        .with_upgrades()
                        .await;
                });
            }
        })
    });
    addr
}

/// Our client over a plain TCP connection to `addr`.
async fn client_to(
    addr: SocketAddr,
    config: ClientConfig,
) -> ClientConnection<lithe::rt::TcpStream> {
    let tcp = lithe::rt::connect("127.0.0.1", addr.port(), LIMIT)
        .await
        .unwrap();
    ClientConnection::new(tcp, config)
}

#[test]
fn our_client_against_a_hyper_server() {
    let addr = hyper_server();
    run(async {
        let mut conn = client_to(addr, ClientConfig::default()).await;
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
        let mut conn = client_to(addr, config).await;
        // The last asks to close, which hyper's 200 repeats: it still reads
        // the body.
        let texts = ["first", "second", "third"];
        echo_expecting_continue(&mut conn, "PUT", "/stream-echo", texts).await;
    });
}

/// hyper's server sends trailer fields only to a request that says it
/// takes them (`TE: trailers`, RFC 9110 §10.1.4), which our client sends
/// when asked to (hyper looks at that field alone; the `te` connection
/// option sent with it is pinned in proto_encode.rs); the trailers it then
/// reads are kept apart from the header fields.
#[test]
fn trailers_from_a_hyper_server_come_to_a_request_that_takes_them() {
    let addr = hyper_server();
    run(async {
        let mut conn = client_to(addr, ClientConfig::default()).await;
        for takes_trailers in [false, true] {
            let mut request = Request::new("GET", "/trailers").with_header("host", "t");
            if takes_trailers {
                request = request.with_header("te", "trailers");
            }
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.headers().get_str("grpc-status"), None);
            let mut body = response.into_body();
            let mut bytes = Vec::new();
            while let Some(chunk) = body.chunk().await.unwrap() {
                bytes.extend_from_slice(&chunk);
            }
            assert_eq!(bytes, b"ok");
            let status = body
                .trailers()
                .and_then(|t| t.get_str("grpc-status").map(String::from));
            let expected = takes_trailers.then(|| "0".to_string());
            assert_eq!(status, expected, "TE: trailers sent: {takes_trailers}");
            drop(body);
            assert!(conn.is_reusable());
        }
    });
}

/// A protocol switch with an independent peer, both ways: hyper's client
/// upgrading on our server, and our client upgrading on hyper's server,
/// whose new protocol speaks first (its greeting may arrive with the 101).
#[test]
fn upgrades_with_hyper_both_ways() {
    async fn switch_and_echo(mut request: Request) -> lithe::io::Response {
        let Some(on_upgrade) = request.upgrade() else {
            return lithe::io::Response::new(StatusCode::BAD_REQUEST);
        };
        std::thread::spawn(move || {
            lithe::rt::block_on(async move {
                use futures_lite::{AsyncReadExt, AsyncWriteExt};
                let mut io = on_upgrade.await.unwrap();
                let mut ping = [0u8; 4];
                io.read_exact(&mut ping).await.unwrap();
                io.write_all(&ping).await.unwrap();
                io.flush().await.unwrap();
            })
        });
        lithe::io::Response::new(StatusCode::SWITCHING_PROTOCOLS)
            .with_header("connection", "upgrade")
            .with_header("upgrade", "echo")
    }
    let server = server_with(switch_and_echo, ServerConfig::default());
    let addr = server.local_addr();
    run_tokio(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn.with_upgrades());
        let request = hyper::Request::get("/")
            .header("host", "t")
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(response.headers()["upgrade"], "echo");
        let mut io = TokioIo::new(hyper::upgrade::on(response).await.unwrap());
        io.write_all(b"ping").await.unwrap();
        let mut pong = [0u8; 4];
        io.read_exact(&mut pong).await.unwrap();
        assert_eq!(&pong, b"ping");
    });
    server.shutdown();

    let addr = hyper_server();
    run(async {
        let mut conn = client_to(addr, ClientConfig::default()).await;
        let request = Request::new("GET", "/upgrade")
            .with_header("host", "t")
            .with_header("upgrade", "echo");
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "");
        let (mut io, rest) = conn.into_parts();
        speaks_the_new_protocol(&mut io, &rest, b"hello").await;
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

/// Under tokio, what waits on tokio's wakeups and on lithe's own timers: a
/// 4 MB body streamed both ways at once (writes that find the socket full
/// and are woken when it drains), the same expecting `100 Continue`, and a
/// continue timeout that must fire for the body to go to a server that
/// never sends the 100.
#[test]
fn large_streamed_bodies_and_a_continue_timeout_run_under_tokio() {
    run_tokio(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = serve_connection(stream.compat(), routes, &ServerConfig::default()).await;
        });
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut conn = ClientConnection::new(stream.compat(), ClientConfig::default());
        let payload = Bytes::from(XorShift(0x70c10).bytes(4 << 20));
        for expect in [false, true] {
            let pieces: Vec<std::io::Result<Bytes>> = payload
                .chunks(64 * 1024)
                .map(|piece| Ok(payload.slice_ref(piece)))
                .collect();
            let mut request = Request::new("POST", "/echo")
                .with_header("host", "t")
                .with_body(Body::stream(futures_lite::stream::iter(pieces)));
            if expect {
                request = request.with_header("expect", "100-continue");
            }
            let response = conn.send(request).await.unwrap();
            let echoed = response.into_body().bytes(8 << 20).await.unwrap();
            // Not assert_eq!, which would print both bodies whole.
            assert!(echoed == payload, "the echo differs (expect: {expect})");
        }

        // A server that reads the head and waits for the body, never
        // inviting it: the client's continue timer sends it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let waited = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut byte = [0u8];
            while !seen.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).await.unwrap();
                seen.push(byte[0]);
            }
            stream.read_exact(&mut byte).await.unwrap();
            let body_at = std::time::Instant::now();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await
                .unwrap();
            body_at
        });
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let config = ClientConfig {
            continue_timeout: std::time::Duration::from_millis(200),
            ..ClientConfig::default()
        };
        let mut conn = ClientConnection::new(stream.compat(), config);
        let request = Request::new("PUT", "/")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body("x");
        // From before the head goes out to the body's arrival: no less than
        // the continue timeout, however late the server reads (a body sent
        // at once would come about at once).
        let sent_at = std::time::Instant::now();
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.into_body().bytes(10).await.unwrap(), "ok");
        let waited = waited.await.unwrap() - sent_at;
        assert!(
            waited >= std::time::Duration::from_millis(200),
            "{waited:?}"
        );
    });
}

/// Under tokio's multi-thread runtime, whose spawned tasks must be `Send`
/// and may move between threads: the server driver with a service that is
/// `Send` but not `Sync` (a `Cell` counter, as per-connection state is
/// kept), and a client's exchanges, each spawned; and a lithe timeout (the
/// server's idle one) firing there, which closes a second connection left
/// silent. (On its own connection: a thread stalled between the exchanges
/// on a loaded machine would otherwise meet it.)
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
            let exchanges = tokio::spawn(async move {
                serve_connection(stream.compat(), service, &ServerConfig::default()).await
            });
            let (silent, _) = listener.accept().await.unwrap();
            let config = ServerConfig {
                idle_timeout: Some(idle),
                ..ServerConfig::default()
            };
            let started = std::time::Instant::now();
            let ended = serve_connection(silent.compat(), routes, &config).await;
            (ended, started.elapsed(), exchanges)
        });
        let client = tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut conn = ClientConnection::new(stream.compat(), ClientConfig::default());
            for i in 1..=3 {
                let request = Request::new("GET", "/").with_header("host", "t");
                let response = conn.send(request).await.unwrap();
                let body = response.into_body().bytes(100).await.unwrap();
                assert_eq!(body, format!("request {i}").as_bytes());
            }
            conn
        });
        let conn = tokio::time::timeout(LIMIT, client).await.unwrap().unwrap();
        // A second connection that sends nothing: the server ends it by its
        // idle timeout, no sooner.
        let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (ended, took, exchanges) = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
        assert!(ended.is_ok(), "{ended:?}");
        assert!(took >= idle, "{took:?}");
        drop((conn, silent));
        let served = tokio::time::timeout(LIMIT, exchanges).await.unwrap().unwrap();
        assert!(served.is_ok(), "{served:?}");
    });
}
