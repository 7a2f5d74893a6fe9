//! The client connection against our server, against raw scripted servers on
//! 127.0.0.1, and over in-memory pipes.
#![cfg(all(feature = "server", feature = "client"))]

mod common;
#[path = "support/once_asked.rs"]
mod once_asked;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use lithe::io::{
    Body, ClientConfig, ClientConnection, Error, RESPONSE_HEAD_LIMIT, Request, Response,
    ServerConfig, Timeout, duplex, serve_connection,
};
use lithe::proto::{self, StatusCode};
use lithe::rt::{ConnectConfig, Url, connect, open};
use once_asked::OnceAsked;

#[test]
fn the_defaults_are_the_documented_ones() {
    let config = ClientConfig::default();
    let secs = |s| Some(Duration::from_secs(s));
    assert_eq!(config.continue_timeout, Duration::from_secs(1));
    assert_eq!(config.read_timeout, secs(30));
    assert_eq!(config.write_timeout, secs(30));
    assert_eq!(config.head_timeout, secs(30));
    assert_eq!(config.total_timeout, None);
    assert_eq!(config.proto.limits.max_head_bytes, 1 << 20);
    let connect = ConnectConfig::default();
    assert_eq!(connect.connect_timeout, Duration::from_secs(10));
    #[cfg(feature = "tls")]
    assert!(connect.tls.is_none(), "the webpki roots");
}

/// A POST of `len` bytes to `/upload`.
fn upload(len: usize) -> Request<Body> {
    Request::new("POST", "/upload")
        .with_header("host", "t")
        .with_body(vec![b'u'; len])
}

fn get(target: &'static str) -> Request<Body> {
    Request::new("GET", target).with_header("host", "test")
}

/// A raw server on 127.0.0.1: `handle` gets its one connection.
fn raw_server(handle: impl FnOnce(std::net::TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        handle(s);
    });
    addr
}

/// Once the server says it did what it does to a fresh connection (sent
/// bytes, closed, reset), and that has reached `tcp`, a GET that must be
/// refused unsent: the connection and the refusal.
async fn refused_once_done(
    tcp: lithe::rt::TcpStream,
    server_done: &std::sync::mpsc::Receiver<()>,
) -> (
    ClientConnection<lithe::rt::TcpStream>,
    lithe::io::TrySendError,
) {
    server_done.recv_timeout(LIMIT).unwrap();
    until_delivered(&tcp);
    let mut conn = ClientConnection::new(tcp, ClientConfig::default());
    let refused = refused_unsent(&mut conn, get("/")).await;
    (conn, refused)
}

/// `request`, which `conn` must refuse with nothing sent.
async fn refused_unsent<T>(
    conn: &mut ClientConnection<T>,
    request: Request<Body>,
) -> lithe::io::TrySendError
where
    T: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    match conn.try_send(request).await {
        Ok(response) => panic!("sent, answered {}", response.status()),
        Err(refused) => refused,
    }
}

/// Reads a request's head and a body of `len` bytes after it; `None` if the
/// stream ends first.
fn read_request(s: &mut std::net::TcpStream, len: usize) -> Option<(String, Vec<u8>)> {
    let head = read_through(s, b"\r\n\r\n")?;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((String::from_utf8(head).unwrap(), body))
}

/// Waits until what a server sent or did on `tcp` (bytes, its close, a
/// reset) has reached this end: the server having done it says nothing of
/// when loopback delivers it on a loaded machine.
/// (A poll, which leaves a reset's error for the connection to meet, where
/// a peek would take it.)
fn until_delivered(tcp: &lithe::rt::TcpStream) {
    until_delivered_to(tcp.get_ref());
}

/// [`until_delivered`] for a socket the test holds another handle of.
fn until_delivered_to(socket: &std::net::TcpStream) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(socket, PollFlags::IN)];
    let limit = Timespec {
        tv_sec: LIMIT.as_secs() as i64,
        tv_nsec: 0,
    };
    assert_eq!(poll(&mut fds, Some(&limit)), Ok(1), "nothing arrived");
}

/// A raw server that answers one request "ok", then resets the connection
/// once told the client has read the answer (through the sender), and says
/// so (through the receiver).
fn answers_ok_then_resets() -> (
    SocketAddr,
    std::sync::mpsc::Sender<()>,
    std::sync::mpsc::Receiver<()>,
) {
    let (read_it, has_read) = std::sync::mpsc::channel();
    let (reset_it, was_reset) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let _ = has_read.recv_timeout(LIMIT);
        reset(s);
        let _ = reset_it.send(());
    });
    (addr, read_it, was_reset)
}

/// Keeps `s` open until the client sends more or closes it (or the read
/// timeout passes): a server that keeps the connection alive after its last
/// answer, where returning would close it, which the client notices.
fn hold_open(s: &mut std::net::TcpStream) {
    let _ = s.read(&mut [0u8; 1]);
}

/// What the peer sends within 300 ms (or until it closes).
fn read_for_a_while(s: &mut std::net::TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Reads up to and including `end`; `None` if the stream ends first.
fn read_through(s: &mut std::net::TcpStream, end: &[u8]) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut byte = [0u8];
    while !seen.ends_with(end) {
        if s.read(&mut byte).unwrap_or(0) == 0 {
            return None;
        }
        seen.push(byte[0]);
    }
    Some(seen)
}

/// An address on 127.0.0.1 that never answers a connect: a listener whose
/// accept queue is full, so the kernel drops further SYNs. Holds the listener
/// and the queued connections for as long as it lives.
fn unanswering_address() -> ((socket2::Socket, Vec<std::net::TcpStream>), SocketAddr) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    let filled = (0..8).any(|_| {
        let attempt = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        let full = attempt.is_err();
        queued.extend(attempt.ok());
        full
    });
    assert!(filled, "the accept queue never filled");
    ((socket, queued), addr)
}

/// A server on 127.0.0.1 that, for one connection, reads a request head and
/// answers with `reply`, then closes.
fn scripted(replies: Vec<&'static [u8]>) -> SocketAddr {
    raw_server(move |mut s| {
        for reply in replies {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            s.write_all(reply).unwrap();
        }
    })
}

/// [`scripted`], but the connection stays open after the last reply (until
/// the client sends more or closes it): what the client concludes about it
/// comes from the replies alone, not from a close it would find.
fn scripted_then_held(replies: Vec<&'static [u8]>) -> SocketAddr {
    raw_server(move |mut s| {
        for reply in replies {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            s.write_all(reply).unwrap();
        }
        hold_open(&mut s);
    })
}

/// A server on 127.0.0.1 that, for each of two requests, answers `reply` at
/// once and only then reads a POST's body of `body_len` bytes; whether each
/// body arrived whole and all `p` goes to the receiver (a panic on the
/// server's thread would fail no test).
fn answering_before_reading(
    reply: &'static [u8],
    body_len: usize,
) -> (SocketAddr, std::sync::mpsc::Receiver<bool>) {
    let (bodies, received) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        for _ in 0..2 {
            let Some(head) = read_through(&mut s, b"\r\n\r\n") else {
                return;
            };
            s.write_all(reply).unwrap();
            if head.starts_with(b"POST") {
                let mut body = vec![0u8; body_len];
                let whole = s.read_exact(&mut body).is_ok();
                let _ = bodies.send(whole && body.iter().all(|&b| b == b'p'));
            }
        }
    });
    (addr, received)
}

async fn client_to(addr: SocketAddr) -> ClientConnection<lithe::rt::MaybeTls> {
    client_with(addr, ClientConfig::default()).await
}

/// A client to `addr` whose continue timeout is longer than any test's
/// limit: a body must go out on what the server sends, not on the timeout.
async fn patient_for_100(addr: SocketAddr) -> ClientConnection<lithe::rt::MaybeTls> {
    let config = ClientConfig {
        continue_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    };
    client_with(addr, config).await
}

/// A client to `addr` whose read timeout is `timeout`.
async fn client_reading_within(
    addr: SocketAddr,
    timeout: Duration,
) -> ClientConnection<lithe::rt::TcpStream> {
    let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
    let config = ClientConfig {
        read_timeout: Some(timeout),
        ..ClientConfig::default()
    };
    ClientConnection::new(tcp, config)
}

async fn client_with(
    addr: SocketAddr,
    client: ClientConfig,
) -> ClientConnection<lithe::rt::MaybeTls> {
    let url = Url::parse(&format!("http://{addr}/")).unwrap();
    let config = ConnectConfig {
        client,
        ..ConnectConfig::default()
    };
    open(&url, &config).await.unwrap()
}

/// A response body tells what it has still to bring, by its framing: a
/// declared length (one repeated, as RFC 9110 §8.6 allows, counts once) less
/// what was read, nothing for a chunked or close-delimited body until it
/// has ended, and no body at all for an answer to HEAD, a 204 or a 304,
/// whatever length its head states.
#[test]
fn the_response_body_tells_what_it_has_left() {
    let addr = scripted(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
        // Cut short by the close that follows.
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let mut response = conn.send(get("/")).await.unwrap();
        let body = response.body_mut();
        assert_eq!(body.len(), Some(5));
        let mut read = 0;
        while let Some(chunk) = body.chunk().await.unwrap() {
            read += chunk.len() as u64;
            assert_eq!(body.len(), Some(5 - read));
        }
        assert_eq!((read, body.len()), (5, Some(0)));
        drop(response);

        // A chunked body's length is known once it has ended.
        let mut response = conn.send(get("/")).await.unwrap();
        let body = response.body_mut();
        assert_eq!(body.len(), None);
        assert!(!body.is_empty());
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"hi");
        assert!(body.chunk().await.unwrap().is_none());
        assert_eq!(body.len(), Some(0));
        drop(response);

        let response = conn.send(Request::new("HEAD", "/")).await.unwrap();
        assert_eq!(response.headers().get_str("content-length"), Some("9"));
        assert_eq!(response.body().len(), Some(0));
        assert!(response.body().is_empty());
        drop(response);
        for status in [204, 304] {
            let response = conn.send(get("/")).await.unwrap();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.body().len(), Some(0), "{status}");
        }

        let mut response = conn.send(get("/")).await.unwrap();
        let body = response.body_mut();
        while body.chunk().await.is_ok_and(|chunk| chunk.is_some()) {}
        assert_eq!(body.len(), None, "failed");
    });
    // A body that ends at the close: unknown until the close has come.
    let addr = scripted(vec![b"HTTP/1.1 200 OK\r\n\r\nto the end"]);
    run(async {
        let mut conn = client_to(addr).await;
        let mut response = conn.send(get("/")).await.unwrap();
        let body = response.body_mut();
        assert_eq!(body.len(), None);
        let mut read = Vec::new();
        while let Some(chunk) = body.chunk().await.unwrap() {
            read.extend_from_slice(&chunk);
        }
        assert_eq!((&read[..], body.len()), (&b"to the end"[..], Some(0)));
    });
}

/// A switch of protocols, or a tunnel CONNECT opens, has no body: what
/// follows its head is the new protocol's, whatever its head says of a
/// length.
#[test]
fn a_switching_response_has_no_body_left() {
    let addr = scripted_then_held(vec![
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 5\r\n\r\nnew",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let proposing = get("/")
            .with_header("connection", "upgrade")
            .with_header("upgrade", "x");
        let response = conn.send(proposing).await.unwrap();
        assert_eq!(response.status().as_u16(), 101);
        assert_eq!(response.body().len(), Some(0));
        assert!(response.body().is_empty());
    });
    // A tunnel opened by CONNECT, likewise.
    let addr = scripted_then_held(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnew"]);
    run(async {
        let mut conn = client_to(addr).await;
        let connect =
            Request::new("CONNECT", "example.com:443").with_header("host", "example.com:443");
        let response = conn.send(connect).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body().len(), Some(0));
    });
}

/// A connection's transport can be looked at: `open`'s, down to the socket,
/// says which address it reached.
#[test]
fn an_opened_connection_shows_the_address_it_reached() {
    let server = server();
    let addr = server.local_addr();
    run(async {
        let conn = client_with(addr, ClientConfig::default()).await;
        let socket = conn.get_ref().tcp().get_ref();
        assert_eq!(socket.peer_addr().unwrap(), addr);
    });
    server.shutdown();
}

/// A body nobody wants, read and dropped within a limit, leaves the
/// connection for the next request; past the limit the connection is given
/// up instead (one declared past it: `a_body_declared_past_the_limit_is_refused_unread`).
#[test]
fn a_discarded_body_leaves_the_connection_reusable_within_its_limit() {
    let server = server();
    run(async {
        let mut conn = client_to(server.local_addr()).await;
        // Chunked, in pieces: read through to its end.
        let chunked = conn.send(get("/chunked")).await.unwrap();
        chunked.into_body().discard(64).await.unwrap();
        assert!(conn.is_reusable());
        // Exactly at the limit, sized or chunked ("one two three"): the
        // limit counts the body's bytes.
        for path in ["/", "/chunked"] {
            let thirteen = conn.send(get(path)).await.unwrap();
            thirteen.into_body().discard(13).await.unwrap();
            assert!(conn.is_reusable(), "{path}");
        }
        let echo = Request::new("POST", "/echo")
            .with_header("host", "t")
            .with_body(vec![b'x'; 64 << 10]);
        let read_past = conn
            .send(echo)
            .await
            .unwrap()
            .into_body()
            .discard(1000)
            .await;
        assert!(matches!(
            read_past,
            Err(Error::BodyTooLarge { limit: 1000 })
        ));
        assert!(!conn.is_reusable());
    });
    server.shutdown();
}

#[test]
fn requests_reuse_one_connection_to_our_server() {
    let server = server();
    run(async {
        let mut conn = client_to(server.local_addr()).await;
        for _ in 0..3 {
            let response = conn.send(get("/")).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers().get_str("content-type"),
                Some("text/plain")
            );
            assert_eq!(
                response.into_body().text(1024).await.unwrap(),
                "Hello, World!"
            );
            assert!(conn.is_reusable());
        }
        let request = Request::new("POST", "/echo")
            .with_header("host", "t")
            .with_body("ping");
        let body = conn
            .send(request)
            .await
            .unwrap()
            .into_body()
            .bytes(1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"ping");
        // A body left unread past a limit leaves the connection unusable.
        // (The echo comes back chunked, piece by piece; a sized body whose
        // piece over the limit held all of it would have been read whole.)
        let echo = Request::new("POST", "/echo")
            .with_header("host", "t")
            .with_body(vec![b'x'; 64 << 10]);
        let too_small = conn.send(echo).await.unwrap().into_body().bytes(5).await;
        assert!(matches!(too_small, Err(Error::BodyTooLarge { limit: 5 })));
        assert!(!conn.is_reusable());
    });
    server.shutdown();
}

/// `bytes(limit)` takes a body of exactly `limit` bytes and refuses one byte
/// more, whether the body came as one piece or as several.
#[test]
fn collecting_a_body_takes_exactly_its_limit() {
    let replies: [&'static [u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabcdefghi",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n4\r\ndefg\r\n2\r\nhi\r\n0\r\n\r\n",
        // Over the limit at the second piece, the one the first is kept apart from.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          4\r\nabcd\r\n5\r\nefghi\r\n0\r\n\r\n",
    ];
    for reply in replies {
        for limit in [9, 8] {
            let addr = scripted(vec![reply]);
            run(async {
                let mut conn = client_to(addr).await;
                let response = conn.send(get("/")).await.unwrap();
                let collected = response.into_body().bytes(limit).await;
                match limit {
                    9 => assert_eq!(&collected.unwrap()[..], b"abcdefghi"),
                    _ => assert!(
                        matches!(collected, Err(Error::BodyTooLarge { limit: 8 })),
                        "{collected:?}"
                    ),
                }
            });
        }
    }
}

/// A body on a connection that closes after it is not read to be
/// discarded: nothing is gained by it. (Read, this one would wait out the
/// read timeout: its server sends 3 of its bytes and holds on.)
#[test]
fn discarding_a_body_on_a_closing_connection_reads_nothing() {
    let addr = scripted_then_held(vec![
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1000000\r\n\r\nabc",
    ]);
    run(async {
        let mut conn = client_reading_within(addr, Duration::from_secs(5)).await;
        let body = conn.send(get("/")).await.unwrap().into_body();
        // Read, it would fail with the read timeout.
        body.discard(1 << 20).await.unwrap();
        assert!(!conn.is_reusable());
    });
}

/// A body whose `Content-Length` is already past the limit is refused
/// unread, at once (before, once the limit's worth had come: here, never,
/// as the server sends 3 bytes and waits), whether collected or discarded,
/// and the connection, its body unread, carries nothing more.
#[test]
fn a_body_declared_past_the_limit_is_refused_unread() {
    let declaring_a_megabyte = || {
        raw_server(|mut s| {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc")
                .unwrap();
            hold_open(&mut s);
        })
    };
    run(async {
        for discard in [false, true] {
            let mut conn = client_to(declaring_a_megabyte()).await;
            let body = conn.send(get("/")).await.unwrap().into_body();
            let refused = match discard {
                false => body.bytes(16).await.map(drop),
                true => body.discard(16).await,
            };
            assert!(
                matches!(refused, Err(Error::BodyTooLarge { limit: 16 })),
                "discard {discard}: {refused:?}"
            );
            assert!(!conn.is_reusable());
        }
    });
}

/// A fresh connection whose first read fails before anything was sent (the
/// server reset it, as one refusing a TLS client does with an alert) gives
/// that error, not `NotReusable`, and the request back.
#[test]
fn a_fresh_connection_reset_before_its_first_request_reports_the_reset() {
    let (connected, client_connected) = std::sync::mpsc::channel();
    let (done, server_done) = std::sync::mpsc::channel();
    let addr = raw_server(move |s| {
        // Once the client has its connection (a reset before it would fail
        // the connect instead).
        let _ = client_connected.recv_timeout(LIMIT);
        reset(s);
        let _ = done.send(());
    });
    run(async {
        let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
        connected.send(()).unwrap();
        let (conn, refused) = refused_once_done(tcp, &server_done).await;
        assert!(
            matches!(refused.error(), Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{:?}",
            refused.error()
        );
        assert!(refused.into_request().is_some());
        assert!(!conn.is_reusable());
    });
}

/// A transport that reads nothing until told to fail, then fails every read
/// with a reset; it takes every write (counted).
struct ResetOnCue {
    reset: std::sync::Arc<std::sync::atomic::AtomicBool>,
    written: usize,
}

impl futures_lite::AsyncRead for ResetOnCue {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.reset.load(std::sync::atomic::Ordering::SeqCst) {
            true => std::task::Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into())),
            false => std::task::Poll::Pending,
        }
    }
}

impl futures_lite::AsyncWrite for ResetOnCue {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.written += buf.len();
        std::task::Poll::Ready(Ok(buf.len()))
    }

    common::nothing_to_flush!();
}

/// A request body whose source panics part way: the panic reaches the
/// caller, as in hyper, and the connection, its request half sent, is not
/// reused: a next request is refused with nothing sent.
#[test]
fn a_request_body_that_panics_leaves_the_connection_unusable() {
    use futures_lite::StreamExt;
    let (client_end, _server_end) = duplex(64 * 1024);
    let mut conn = ClientConnection::new(client_end, ClientConfig::default()).with_host("a");
    let first = futures_lite::stream::once(Ok(bytes::Bytes::from_static(b"part")));
    let panicking = futures_lite::stream::poll_fn(
        |_| -> std::task::Poll<Option<Result<bytes::Bytes, std::io::Error>>> {
            panic!("the body's source panicked (expected by this test)")
        },
    );
    let body = Body::stream(first.chain(panicking));
    let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lithe::rt::block_on(conn.send(Request::new("POST", "/").with_body(body)))
    }));
    assert!(sent.is_err(), "the panic reaches the caller");
    assert!(!conn.is_reusable());
    let next = run(conn.send(get("/"))).unwrap_err();
    assert!(matches!(next, Error::NotReusable), "{next:?}");
}

/// A request refused before any of it went out (`Error::Send`) leaves the
/// connection fresh: a reset found before the next request is still the
/// `Error::Io` it is, the request handed back.
#[test]
fn a_request_refused_unsent_leaves_a_fresh_connection_fresh() {
    let reset = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let io = ResetOnCue {
        reset: reset.clone(),
        written: 0,
    };
    run(async {
        let mut conn = ClientConnection::new(io, ClientConfig::default());
        let invalid = Request::new("GET", "/")
            .with_header("host", "a")
            .with_header("x-note", "a\r\nb");
        let error = conn.send(invalid).await.unwrap_err();
        assert!(matches!(error, Error::Send(_)), "{error:?}");
        // A line break in the target or the method, whose Host a target
        // with an authority would name, is refused before a byte goes.
        for (method, target) in [
            ("GET", "/a\r\nX-Injected: y"),
            ("GET", "http://a.example/\r\nX-Injected: y"),
            ("GET\r\n", "/"),
        ] {
            let error = conn.send(Request::new(method, target)).await.unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::Send(
                        proto::SendError::InvalidRequestTarget | proto::SendError::InvalidMethod
                    )
                ),
                "{method:?} {target:?}: {error:?}"
            );
        }
        reset.store(true, std::sync::atomic::Ordering::SeqCst);
        let refused = refused_unsent(&mut conn, get("/")).await;
        assert!(
            matches!(refused.error(), Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{:?}",
            refused.error()
        );
        assert!(refused.into_request().is_some());
        let (io, _) = conn.into_parts();
        assert_eq!(io.written, 0);
    });
}

/// A head past the 16 MiB the drivers serialize is refused as that limit,
/// not as a buffer the caller could make larger, with nothing sent.
#[test]
fn a_head_past_what_the_client_serializes_is_named_so() {
    let io = ResetOnCue {
        reset: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        written: 0,
    };
    run(async {
        let mut conn = ClientConnection::new(io, ClientConfig::default());
        let huge = Request::new("GET", "/")
            .with_header("host", "a")
            .with_header("x-huge", "a".repeat(17 << 20));
        let error = conn.send(huge).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Send(proto::SendError::HeadTooLarge { limit }) if limit == 16 << 20
            ),
            "{error:?}"
        );
        assert!(!error.to_string().contains("buffer"), "{error}");
        let (io, _) = conn.into_parts();
        assert_eq!(io.written, 0);
    });
}

/// A request body stream always ready with empty pieces (a busy poll)
/// writes nothing, but what was queued before it still goes out: here the
/// server answers once it has seen that, refusing the rest.
#[test]
fn an_upload_of_endless_empty_pieces_still_sends_what_came_before() {
    use futures_lite::StreamExt;
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"5\r\nhello\r\n").is_some() {
            let refusal = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\
                Connection: close\r\n\r\n";
            s.write_all(refusal).unwrap();
        }
    });
    run(async {
        let mut conn = client_to(addr).await;
        let hello = futures_lite::stream::once(Ok(bytes::Bytes::from_static(b"hello")));
        let empty = futures_lite::stream::repeat_with(|| Ok(bytes::Bytes::new()));
        let request = Request::new("POST", "/")
            .with_header("host", "t")
            .with_body(Body::stream(hello.chain(empty)));
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 413);
    });
}

/// The Host the client fills in goes first (RFC 9110 §7.2: a user agent
/// SHOULD send it as the first field), whether from the connection or from
/// an absolute-form target; one the caller set stays where it was set.
#[test]
fn the_host_the_client_adds_is_the_first_field() {
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        for _ in 0..3 {
            let Some(seen) = read_through(&mut s, b"\r\n\r\n") else {
                return;
            };
            tx.send(String::from_utf8(seen).unwrap()).unwrap();
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        }
        hold_open(&mut s);
    });
    run(async {
        let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
        let mut conn = ClientConnection::new(tcp, ClientConfig::default()).with_host("example.com");
        for request in [
            Request::new("GET", "/").with_header("accept", "*/*"),
            Request::new("GET", "http://other.example/x").with_header("accept", "*/*"),
            Request::new("GET", "/")
                .with_header("accept", "*/*")
                .with_header("host", "set.example"),
        ] {
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.status().as_u16(), 204);
        }
    });
    let heads: Vec<String> = rx.iter().collect();
    assert!(
        heads[0].starts_with("GET / HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[1].starts_with(
            "GET http://other.example/x HTTP/1.1\r\nhost: other.example\r\naccept: */*\r\n"
        ),
        "{}",
        heads[1]
    );
    assert!(
        heads[2].starts_with("GET / HTTP/1.1\r\naccept: */*\r\nhost: set.example\r\n"),
        "{}",
        heads[2]
    );
}

/// Trailers a request cannot carry (under a Content-Length field the caller
/// set) are left out unawaited: the request ends with its data, not when
/// (here, never) the trailers' future resolves.
#[test]
fn request_trailers_left_out_are_not_waited_for() {
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        let Some(request) = read_request(&mut s, 7) else {
            return;
        };
        tx.send(request).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        hold_open(&mut s);
    });
    run(async {
        let mut conn = client_to(addr).await;
        let body = Body::from("payload").with_trailers(futures_lite::future::pending());
        let request = Request::new("POST", "/")
            .with_header("host", "t")
            .with_header("content-length", "7")
            .with_body(body);
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.into_body().text(10).await.unwrap(), "ok");
        assert!(conn.is_reusable());
    });
    let (head, body) = rx.recv().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\ncontent-length: 7\r\n"),
        "{head}"
    );
    assert_eq!(body, b"payload");
}

#[test]
fn a_streamed_request_body_goes_out_chunked() {
    // A raw server that reports the request as it arrived, chunk framing and all.
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        if let Some(seen) = read_through(&mut s, b"\r\n0\r\n\r\n") {
            tx.send(seen).unwrap();
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        }
    });
    run(async {
        let mut conn = client_to(addr).await;
        let chunks = (0..100).map(|i| Ok(bytes::Bytes::from(format!("{i:03}"))));
        let request = Request::new("POST", "/upload")
            .with_header("host", "t")
            .with_body(Body::stream(futures_lite::stream::iter(chunks)));
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 204);
    });
    let seen = String::from_utf8(rx.recv().unwrap()).unwrap();
    let (head, body) = seen.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("\r\ntransfer-encoding: chunked"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("content-length"),
        "{head}"
    );
    let expected: String = (0..100).map(|i| format!("3\r\n{i:03}\r\n")).collect();
    assert_eq!(body, format!("{expected}0\r\n\r\n"));
}

#[test]
fn a_large_body_round_trips_with_backpressure() {
    let server = server();
    run(async {
        let mut conn = client_to(server.local_addr()).await;
        let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let request = Request::new("POST", "/echo")
            .with_header("host", "t")
            .with_body(payload.clone());
        let body = conn
            .send(request)
            .await
            .unwrap()
            .into_body()
            .bytes(8 << 20)
            .await
            .unwrap();
        assert!(body == payload);
    });
    server.shutdown();
}

#[test]
fn a_response_streams_back_while_the_request_body_still_goes_out() {
    // Our server's /echo answers as it reads: 48 MiB is more than the socket
    // buffers of both ends hold, so a client that read nothing until its
    // upload ended would stall both sides until its write timeout. With
    // `Connection: close` too (the answer closes, but does not refuse), and
    // with a pause longer than the write timeout between reads, while the
    // server waits for the client to read.
    let server = server();
    // Made once, outside the timed runs (a debug build takes a while).
    let payload: Vec<u8> = (0..48u32 << 20).map(|i| (i % 251) as u8).collect();
    for (close, pause) in [(false, false), (true, false), (false, true)] {
        run(async {
            let url = Url::parse(&format!("http://{}/", server.local_addr())).unwrap();
            let mut config = ConnectConfig::default();
            config.client.write_timeout = Some(Duration::from_secs(2));
            config.client.read_timeout = Some(Duration::from_secs(5));
            let mut conn = open(&url, &config).await.unwrap();
            let mut request = Request::new("POST", "/echo")
                .with_header("host", "t")
                .with_body(payload.clone());
            if close {
                request = request.with_header("connection", "close");
            }
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let mut body = response.into_body();
            let mut back = Vec::with_capacity(payload.len());
            while let Some(chunk) = body.chunk().await.unwrap() {
                if pause && back.is_empty() {
                    async_io::Timer::after(Duration::from_millis(2500)).await;
                }
                back.extend_from_slice(&chunk);
            }
            assert!(back == payload, "{} bytes back", back.len());
            // The request was sent whole: the connection carries the next one.
            assert_eq!(conn.is_reusable(), !close);
            if !close {
                let again = conn.send(get("/")).await.unwrap();
                assert_eq!(
                    &again.into_body().bytes(100).await.unwrap()[..],
                    b"Hello, World!"
                );
            }
        });
    }
    server.shutdown();
}

/// A redirect that keeps the connection, answered before the upload is
/// read, does not stop the upload (only a refusal, or an answer that closes,
/// does): the body goes out whole, and the connection serves the next
/// request (as nginx's `return 307` to a POST does).
#[test]
fn a_redirect_kept_alive_during_an_upload_still_gets_the_body() {
    const BODY: usize = 8 << 20;
    let (addr, bodies) = answering_before_reading(
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n",
        BODY,
    );
    run(async {
        let mut conn = client_to(addr).await;
        let request = Request::new("POST", "/").with_body(vec![b'p'; BODY]);
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 307);
        assert!(conn.is_reusable());
        let again = conn.send(get("/")).await.unwrap();
        assert_eq!(again.status().as_u16(), 307);
    });
    assert_eq!(bodies.recv_timeout(LIMIT), Ok(true), "the body, whole");
}

#[test]
fn a_body_answered_early_without_a_body_is_sent_whole_first() {
    // The server answers 204 at once and reads the body after: the request
    // goes out whole before send returns, so the response may be dropped
    // unread and the connection used again; and a body whose stream fails is
    // an error, not the 204.
    const BODY: usize = 8 << 20;
    let (addr, bodies) = answering_before_reading(b"HTTP/1.1 204 No Content\r\n\r\n", BODY);
    run(async {
        let mut conn = client_to(addr).await;
        let request = Request::new("POST", "/").with_body(vec![b'p'; BODY]);
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 204);
        // The response goes unread.
        assert!(conn.is_reusable());
        let again = conn.send(get("/")).await.unwrap();
        assert_eq!(again.status().as_u16(), 204);
    });
    assert_eq!(bodies.recv_timeout(LIMIT), Ok(true), "the body, whole");
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_some() {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    run(async {
        let mut conn = client_to(addr).await;
        let failing = futures_lite::StreamExt::chain(
            futures_lite::stream::iter([Ok(bytes::Bytes::from_static(b"a"))]),
            futures_lite::stream::once_future(async {
                async_io::Timer::after(Duration::from_millis(100)).await;
                Err(std::io::Error::other("the source failed"))
            }),
        );
        let request = Request::new("POST", "/")
            .with_header("host", "t")
            .with_body(Body::stream(failing));
        let error = conn.send(request).await.unwrap_err();
        assert!(
            matches!(&error, Error::Io(e) if e.to_string() == "the source failed"),
            "{error:?}"
        );
        assert!(!conn.is_reusable());
    });
}

#[test]
fn a_response_that_ends_before_the_request_body_is_over_once_the_body_is_sent() {
    // The server answers at once and reads the body after: the response is
    // whole before the request is, and the connection goes on only once the
    // request body has all gone out.
    const BODY: usize = 8 << 20;
    let (addr, bodies) =
        answering_before_reading(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", BODY);
    run(async {
        let mut conn = client_to(addr).await;
        let request = Request::new("POST", "/").with_body(vec![b'p'; BODY]);
        let response = conn.send(request).await.unwrap();
        assert_eq!(&response.into_body().bytes(100).await.unwrap()[..], b"ok");
        assert!(conn.is_reusable());
        let again = conn.send(get("/")).await.unwrap();
        assert_eq!(&again.into_body().bytes(100).await.unwrap()[..], b"ok");
    });
    assert_eq!(bodies.recv_timeout(LIMIT), Ok(true), "the body, whole");
}

#[test]
fn expect_100_continue_round_trip_with_our_server() {
    let server = server();
    run(async {
        // A continue timeout the test's own limit would end first: the body has
        // to go out on the server's 100, not on the timeout.
        let url = Url::parse(&format!("http://{}/", server.local_addr())).unwrap();
        let mut config = ConnectConfig::default();
        config.client.continue_timeout = Duration::from_secs(30);
        let mut conn = open(&url, &config).await.unwrap();
        let request = Request::new("POST", "/collect")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body("0123456789");
        let response = conn.send(request).await.unwrap();
        assert_eq!(
            &response.into_body().bytes(100).await.unwrap()[..],
            b"got 10 bytes"
        );
        assert!(conn.is_reusable());

        // The server answers without reading, and says it will close: a 2xx,
        // so the body goes out as the answer is read (the server may read
        // it as it answers), but the connection is not reused.
        let request = Request::new("POST", "/ignore")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body("0123456789");
        let response = conn.send(request).await.unwrap();
        assert_eq!(
            &response.into_body().bytes(100).await.unwrap()[..],
            b"ignored"
        );
        assert!(!conn.is_reusable());
    });
    server.shutdown();
}

/// A server that answers 2xx at once, without 100 Continue and keeping the
/// connection, then reads the body (an echo, as hyper's server answers one):
/// the body goes out, as the response body is read, and the connection
/// carries the next request. (Before, the body was never sent and the read
/// of the echo waited out the read timeout.)
#[test]
fn a_2xx_kept_alive_instead_of_100_continue_still_gets_the_body() {
    let addr = raw_server(|mut s| {
        for close in [false, false, true] {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            // The last repeats the close the request asked for, as hyper
            // does, and reads the body all the same.
            let head: &[u8] = match close {
                false => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                true => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
            };
            s.write_all(head).unwrap();
            let mut body = [0u8; 5];
            if s.read_exact(&mut body).is_err() {
                return;
            }
            s.write_all(&body).unwrap();
        }
        hold_open(&mut s);
    });
    run(async {
        let mut conn = patient_for_100(addr).await;
        // The last says close, and so does the answer.
        echo_expecting_continue(&mut conn, "POST", "/echo", ["hello", "again", "final"]).await;
    });
}

/// A 1xx of no known meaning, answering `Expect: 100-continue`, is read as
/// a 100 (RFC 9110 §15: an unrecognized status is its class's x00): the
/// body goes out at once, not after the continue timeout. (102 and 103 keep
/// the client waiting.)
#[test]
fn an_unknown_1xx_is_taken_for_100_continue() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 150 Unknown\r\n\r\n")
            .unwrap();
        let mut body = [0u8; 5];
        if s.read_exact(&mut body).is_err() {
            return;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            .unwrap();
        s.write_all(&body).unwrap();
        hold_open(&mut s);
    });
    run(async {
        let mut conn = patient_for_100(addr).await;
        let request = Request::new("POST", "/")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body("hello");
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            &response.into_body().bytes(100).await.unwrap()[..],
            b"hello"
        );
        assert!(conn.is_reusable());
    });
}

/// A timeout longer than the clock can count (`Duration::MAX`) is no
/// timeout, on either side: adding it to the time now overflowed, a panic
/// that lost the connection.
#[test]
fn timeouts_past_what_the_clock_counts_are_none() {
    let forever = Some(Duration::MAX);
    let serve = lithe::rt::ServeConfig {
        connection: lithe::io::ServerConfig {
            head_timeout: forever,
            idle_timeout: forever,
            body_timeout: forever,
            write_timeout: forever,
            ..Default::default()
        },
        threads: 1,
        shutdown_timeout: Duration::MAX,
        ..Default::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", routes, serve).expect("bind");
    run(async {
        let url = Url::parse(&format!("http://{}/", server.local_addr())).unwrap();
        let mut config = ConnectConfig {
            connect_timeout: Duration::MAX,
            ..ConnectConfig::default()
        };
        config.client.continue_timeout = Duration::MAX;
        config.client.read_timeout = forever;
        config.client.write_timeout = forever;
        config.client.head_timeout = forever;
        config.client.total_timeout = forever;
        let mut conn = open(&url, &config).await.unwrap();
        // The server waits for the body (after its 100), then for the next
        // request; the client waits for the 100 and for each response.
        for _ in 0..2 {
            let request = Request::new("POST", "/collect")
                .with_header("host", "t")
                .with_header("expect", "100-continue")
                .with_body("0123456789");
            let response = conn.send(request).await.unwrap();
            let body = response.into_body().bytes(100).await.unwrap();
            assert_eq!(&body[..], b"got 10 bytes");
        }
        // A close is held to the write timeout.
        conn.close().await.unwrap();
    });
    // The server drains a body its service left unread, after the answer,
    // for the body timeout, and serves the request behind it.
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
        .unwrap();
    let first = read_until(&mut s, "ignored");
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    s.write_all(b"helloGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let second = read_to_close(&mut s);
    assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{second}");
    drop(s);
    // Every connection is gone: the unbounded shutdown ends at once.
    server.shutdown();
}

/// A server that never sends 100 Continue and answers only once the first
/// byte of the body came, which it reports to the test with when it came.
fn answering_after_the_first_body_byte() -> (SocketAddr, std::sync::mpsc::Receiver<(u8, Instant)>) {
    answering_after_interim_then_the_first_body_byte(b"")
}

/// [`answering_after_the_first_body_byte`], sending `interim` (responses)
/// once the head is read.
fn answering_after_interim_then_the_first_body_byte(
    interim: &'static [u8],
) -> (SocketAddr, std::sync::mpsc::Receiver<(u8, Instant)>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(interim).unwrap();
        let mut byte = [0u8];
        if s.read(&mut byte).unwrap_or(0) == 1 {
            let _ = tx.send((byte[0], Instant::now()));
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
        }
    });
    (addr, rx)
}

/// PUTs one byte with `Expect: 100-continue` to `addr` under `config` and
/// checks the answer is `ok`; when the request started, before its head
/// went out (so before the client's continue timer started).
fn put_expecting_continue(addr: SocketAddr, config: ClientConfig) -> Instant {
    run(async {
        let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
        let mut conn = ClientConnection::new(tcp, config);
        let request = Request::new("PUT", "/")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body("x");
        let sent_at = Instant::now();
        let response = conn.send(request).await.unwrap();
        assert_eq!(&response.into_body().bytes(10).await.unwrap()[..], b"ok");
        sent_at
    })
}

/// How long the body of a PUT expecting `100 Continue` (sent by
/// [`put_expecting_continue`] under `continue_timeout`) took to reach a
/// server that reports its first byte on `rx`, from before the head went out.
fn waited_for_the_body(
    addr: SocketAddr,
    rx: &std::sync::mpsc::Receiver<(u8, Instant)>,
    continue_timeout: Duration,
) -> Duration {
    let config = ClientConfig {
        continue_timeout,
        ..ClientConfig::default()
    };
    let sent_at = put_expecting_continue(addr, config);
    let (body, arrived_at) = rx.recv().unwrap();
    assert_eq!(body, b'x');
    arrived_at - sent_at
}

/// 102 and 103 are not 100 Continue: a body held for one still waits for
/// the continue timeout after them.
#[test]
fn a_102_or_103_does_not_release_a_body_held_for_100_continue() {
    let (addr, rx) = answering_after_interim_then_the_first_body_byte(
        b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
    );
    let waited = waited_for_the_body(addr, &rx, Duration::from_millis(1000));
    assert!(waited >= Duration::from_millis(1000), "{waited:?}");
}

/// Sends `HTTP/1.1 102 Processing` on `s` every 150 ms from a thread of its
/// own, `count` times or until the flag returned with the thread is set.
fn sending_102s(
    s: &std::net::TcpStream,
    count: usize,
) -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (mut w, stopped) = (s.try_clone().unwrap(), stop.clone());
    let writer = std::thread::spawn(move || {
        for _ in 0..count {
            if stopped.load(Ordering::SeqCst)
                || w.write_all(b"HTTP/1.1 102 Processing\r\n\r\n").is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    });
    (writer, stop)
}

/// Interim responses arriving while a body waits for `100 Continue` do not
/// start its wait again: the body goes at the continue timeout after the
/// head, however many come (102 exists to be repeated).
#[test]
fn interim_responses_do_not_restart_the_wait_for_100_continue() {
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        // Thirteen, for about two seconds: past the wait were it restarted.
        let (writer, stop) = sending_102s(&s, 13);
        let mut byte = [0u8];
        let read = s.read(&mut byte).unwrap_or(0);
        let arrived_at = Instant::now();
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        if read == 1 {
            let _ = tx.send((byte[0], arrived_at));
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
        }
    });
    let waited = waited_for_the_body(addr, &rx, Duration::from_millis(500));
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
}

/// After an interim response the read timeout still bounds the wait for the
/// final one (a head timeout), and each interim response that comes is
/// progress: a stream of them, each within the timeout, leads to the answer.
#[test]
fn an_interim_response_then_silence_is_a_head_timeout_and_each_interim_is_progress() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.1 102 Processing\r\n\r\n").unwrap();
        // Silent, until the client gives up (or the server's read limit).
        let _ = s.read(&mut [0u8; 1024]);
    });
    run(async {
        let mut conn = client_reading_within(addr, Duration::from_millis(400)).await;
        let started = Instant::now();
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(matches!(error, Error::Timeout(Timeout::Head)), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(!conn.is_reusable());
    });

    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        // Fifteen, for about 2.25 s: more than twice the read timeout, each
        // 150 ms after the last, well within it on a loaded machine.
        let (writer, _) = sending_102s(&s, 15);
        writer.join().unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let _ = s.read(&mut [0u8; 1024]);
    });
    run(async {
        let mut conn = client_reading_within(addr, Duration::from_secs(1)).await;
        let started = Instant::now();
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(&response.into_body().bytes(10).await.unwrap()[..], b"ok");
        assert!(started.elapsed() >= Duration::from_millis(2100));
    });
}

#[test]
fn without_100_continue_the_body_goes_after_the_timeout() {
    // The client has to send the body on its own, after its continue timeout.
    let (addr, rx) = answering_after_the_first_body_byte();
    let waited = waited_for_the_body(addr, &rx, Duration::from_millis(100));
    // The configured 100 ms, not the default second.
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_millis(900), "{waited:?}");
}

/// A timeout of zero expires at the first wait, not "no timeout" (Go's
/// meaning of zero): the body goes at once, without waiting for `100
/// Continue`, and a response not already there is a head timeout.
#[test]
fn zero_timeouts_expire_at_the_first_wait() {
    let (addr, rx) = answering_after_the_first_body_byte();
    let waited = waited_for_the_body(addr, &rx, Duration::ZERO);
    assert!(waited < Duration::from_millis(500), "{waited:?}");

    // A server that never answers: were zero no timeout, the exchange
    // would run into the test's limit.
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_some() {
            let _ = s.read(&mut [0u8]);
        }
    });
    let config = ClientConfig {
        read_timeout: Some(Duration::ZERO),
        ..ClientConfig::default()
    };
    run(async {
        let mut conn = client_with(addr, config).await;
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(matches!(error, Error::Timeout(Timeout::Head)), "{error:?}");
    });
}

/// The wait for `100 Continue` is the continue timeout's, even when the read
/// timeout is shorter: the server may be waiting for the body meanwhile.
#[test]
fn a_continue_timeout_longer_than_the_read_timeout_is_waited_out() {
    // Timings wide enough for a loaded machine: the response has the whole
    // read timeout to come once the body is out.
    let (addr, rx) = answering_after_the_first_body_byte();
    let config = ClientConfig {
        continue_timeout: Duration::from_millis(1500),
        read_timeout: Some(Duration::from_millis(500)),
        ..ClientConfig::default()
    };
    let sent_at = put_expecting_continue(addr, config);
    // The body went after the continue timeout, not cut short at the read
    // timeout.
    let (body, arrived_at) = rx.recv().unwrap();
    assert_eq!(body, b'x');
    let waited = arrived_at - sent_at;
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
}

/// A continue timeout past what the clock can count is no timeout, as a long
/// one is: the wait for `100 Continue` outlasts the read timeout, and the
/// body goes once it comes.
#[test]
fn a_continue_timeout_past_the_clock_waits_for_the_100_past_the_read_timeout() {
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1200));
        // Nothing of the body yet: the client still waits for the 100.
        s.set_nonblocking(true).unwrap();
        let early = !matches!(
            s.read(&mut [0u8]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        );
        s.set_nonblocking(false).unwrap();
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        let mut byte = [0u8];
        if s.read(&mut byte).unwrap_or(0) == 1 {
            let _ = tx.send((early, byte[0]));
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
        }
    });
    let config = ClientConfig {
        continue_timeout: Duration::MAX,
        // Wide enough for a loaded machine: the answer has it all once the
        // body is out.
        read_timeout: Some(Duration::from_millis(500)),
        ..ClientConfig::default()
    };
    put_expecting_continue(addr, config);
    let (early, body) = rx.recv().unwrap();
    assert!(!early, "the body went before the 100");
    assert_eq!(body, b'x');
}

/// A body of five pieces made 300 ms apart: 1.5 s of upload.
fn five_pieces_300_ms_apart() -> Body {
    Body::stream(futures_lite::stream::unfold(0, |i| async move {
        if i == 5 {
            return None;
        }
        async_io::Timer::after(Duration::from_millis(300)).await;
        Some((Ok(bytes::Bytes::from_static(b"data")), i + 1))
    }))
}

#[test]
fn the_response_gets_its_whole_read_timeout_after_an_upload_that_outlasts_it() {
    // A server that never sends 100 Continue, reads the chunked body to its end,
    // then answers.
    let addr = raw_server(|mut s| {
        let head = read_through(&mut s, b"\r\n\r\n");
        if head.is_none() || read_through(&mut s, b"\r\n0\r\n\r\n").is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
    });
    run(async {
        let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
        let config = ClientConfig {
            continue_timeout: Duration::from_millis(50),
            read_timeout: Some(Duration::from_millis(1000)),
            ..ClientConfig::default()
        };
        let mut conn = ClientConnection::new(tcp, config);
        // The upload takes longer than the read timeout, whose clock must
        // start only once the request is sent.
        let request = Request::new("PUT", "/")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body(five_pieces_300_ms_apart());
        let response = conn.send(request).await.unwrap();
        assert_eq!(&response.into_body().bytes(10).await.unwrap()[..], b"ok");
    });
}

/// A server that sends interim responses without end gets an error after
/// the limit (100 by default), not a client waiting for ever.
#[test]
fn endless_interim_responses_are_an_error() {
    let reply: &'static [u8] = b"HTTP/1.1 102 Processing\r\n\r\n".repeat(101).leak();
    let addr = scripted(vec![reply]);
    run(async {
        let mut conn = client_to(addr).await;
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Protocol(proto::Error::TooManyInterimResponses)
            ),
            "{error:?}"
        );
    });
}

/// A server that reads the request and closes before its answer is whole
/// (nothing sent, a head cut short, only an interim answer), also while a
/// body waits for 100 Continue: the exchange fails at once as cut short,
/// not after a read timeout, and the request is not handed back for a
/// retry, since the server may have acted on it. The connection is done.
#[test]
fn a_server_closing_before_its_answer_is_whole_fails_the_exchange() {
    let replies: [&'static [u8]; 3] = [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
    ];
    for (reply, expecting_continue) in replies
        .iter()
        .map(|&reply| (reply, false))
        .chain([(replies[2], true)])
    {
        let addr = scripted(vec![reply]);
        run(async {
            let mut conn = patient_for_100(addr).await;
            let request = match expecting_continue {
                false => get("/"),
                true => Request::new("PUT", "/")
                    .with_header("host", "t")
                    .with_header("expect", "100-continue")
                    .with_body("x"),
            };
            let started = Instant::now();
            let refused = refused_unsent(&mut conn, request).await;
            // The client's read timeout is 30 s: the end, not a timeout.
            assert!(started.elapsed() < Duration::from_secs(5), "{reply:?}");
            assert!(
                matches!(
                    refused.error(),
                    Error::Protocol(proto::Error::IncompleteMessage)
                ),
                "{reply:?}: {:?}",
                refused.error()
            );
            assert!(refused.into_request().is_none(), "{reply:?}");
            assert!(!conn.is_reusable(), "{reply:?}");
            let next = conn.send(get("/")).await.unwrap_err();
            assert!(matches!(next, Error::NotReusable), "{reply:?}: {next:?}");
        });
    }
}

#[test]
fn a_body_cut_short_is_an_error_not_a_short_success() {
    let addr = scripted(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        let error = response.into_body().bytes(100).await.unwrap_err();
        assert!(
            matches!(error, Error::Protocol(proto::Error::IncompleteMessage)),
            "{error:?}"
        );
        assert!(!conn.is_reusable());
    });

    let addr = scripted(vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        let error = response.into_body().bytes(100).await.unwrap_err();
        assert!(
            matches!(error, Error::Protocol(proto::Error::IncompleteMessage)),
            "{error:?}"
        );
        assert!(!conn.is_reusable());
    });

    // Asked again after the error, the body does not read as ended: it
    // fails again, with the same error. Collected or discarded then, under
    // a limit below the 7 bytes that were to come: the same error, not
    // "too large".
    for discard in [false, true] {
        let addr = scripted(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]);
        run(async {
            let mut conn = client_to(addr).await;
            let mut body = conn.send(get("/")).await.unwrap().into_body();
            assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"abc");
            for _ in 0..2 {
                let read = body.chunk().await;
                assert!(
                    matches!(read, Err(Error::Protocol(proto::Error::IncompleteMessage))),
                    "{read:?}"
                );
            }
            let last = match discard {
                false => body.bytes(5).await.map(drop),
                true => body.discard(5).await,
            };
            assert!(
                matches!(last, Err(Error::Protocol(proto::Error::IncompleteMessage))),
                "discard {discard}: {last:?}"
            );
        });
    }
    // As a stream it ends after its one error, as streams do.
    let addr = scripted(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]);
    run(async {
        use futures_lite::StreamExt;
        let mut conn = client_to(addr).await;
        let mut body = conn.send(get("/")).await.unwrap().into_body();
        assert_eq!(&body.next().await.unwrap().unwrap()[..], b"abc");
        assert!(body.next().await.unwrap().is_err());
        assert!(body.next().await.is_none());
    });
    // An error `chunk` gave is not one the stream gave: read on as a
    // stream (a proxy forwarding the rest after sniffing the start), the
    // body reports it once before it ends, never ending as if complete.
    let addr = scripted(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]);
    run(async {
        use futures_lite::StreamExt;
        let mut conn = client_to(addr).await;
        let mut body = conn.send(get("/")).await.unwrap().into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"abc");
        assert!(body.chunk().await.is_err());
        let streamed = body.next().await;
        assert!(matches!(streamed, Some(Err(_))), "{streamed:?}");
        assert!(body.next().await.is_none());
    });
}

#[test]
fn a_close_delimited_body_ends_at_close() {
    let addr = scripted(vec![b"HTTP/1.1 200 OK\r\n\r\nuntil the end"]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(
            &response.into_body().bytes(100).await.unwrap()[..],
            b"until the end"
        );
        assert!(!conn.is_reusable());
    });
}

#[test]
fn head_204_and_304_responses_have_no_body() {
    let addr = scripted(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn
            .send(Request::new("HEAD", "/").with_header("host", "t"))
            .await
            .unwrap();
        assert_eq!(response.headers().get_str("content-length"), Some("5"));
        assert!(response.into_body().bytes(100).await.unwrap().is_empty());
        for status in [204, 304] {
            let response = conn.send(get("/")).await.unwrap();
            assert_eq!(response.status().as_u16(), status);
            assert!(response.into_body().bytes(100).await.unwrap().is_empty());
        }
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(&response.into_body().bytes(100).await.unwrap()[..], b"last");
    });
}

#[test]
fn interim_responses_are_skipped() {
    let addr = scripted(vec![b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(&response.into_body().bytes(100).await.unwrap()[..], b"ok");
    });
}

#[test]
fn response_heads_are_read_up_to_the_client_limit() {
    // 100 KiB of cookies: over proto's 16 KiB default, well within the client's.
    let big = format!(
        "HTTP/1.1 200 OK\r\nSet-Cookie: a={}\r\nContent-Length: 2\r\n\r\nok",
        "x".repeat(100 << 10)
    );
    let addr = scripted(vec![big.leak().as_bytes()]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(
            response.headers().get("set-cookie").unwrap().len(),
            2 + (100 << 10)
        );
        assert_eq!(&response.into_body().bytes(100).await.unwrap()[..], b"ok");
    });
    let too_big = format!(
        "HTTP/1.1 200 OK\r\nX: {}\r\n\r\n",
        "x".repeat(RESPONSE_HEAD_LIMIT)
    );
    let addr = raw_server(move |mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_some() {
            // The client stops reading at its limit.
            let _ = s.write_all(too_big.as_bytes());
        }
    });
    run(async {
        let mut conn = client_to(addr).await;
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(
            matches!(error, Error::Protocol(lithe::proto::Error::HeadTooLarge)),
            "{error:?}"
        );
    });
}

#[test]
fn a_missing_or_undecodable_reason_phrase_reads_as_empty() {
    // The reason is optional (RFC 9112 §4), and one in obs-text is not kept as text.
    let addr = scripted(vec![
        b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 404 Nicht gef\xfcnden\r\nContent-Length: 2\r\n\r\nno",
        b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        for (status, body) in [(200, "ok"), (404, "no"), (200, "ok")] {
            let response = conn.send(get("/")).await.unwrap();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.reason(), "");
            assert_eq!(response.into_body().text(100).await.unwrap(), body);
        }
    });
}

#[test]
fn a_received_reason_phrase_reads_as_the_server_sent_it() {
    // Another phrase than the registered one, in another case, and one for
    // a code that has none: each is the server's, not a table's.
    let addr = scripted(vec![
        b"HTTP/1.1 200 Fine, thanks\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 404 not found\r\nContent-Length: 2\r\n\r\nno",
        b"HTTP/1.1 599 Network Connect Timeout\r\nContent-Length: 2\r\n\r\nto",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        for (status, reason, body) in [
            (200, "Fine, thanks", "ok"),
            (404, "not found", "no"),
            (599, "Network Connect Timeout", "to"),
        ] {
            let response = conn.send(get("/")).await.unwrap();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.reason(), reason);
            assert!(
                format!("{response:?}").contains(&format!("reason: {reason:?}")),
                "{response:?}"
            );
            assert_eq!(response.into_body().text(100).await.unwrap(), body);
        }
    });
}

/// A `send` dropped partway (a caller's `select!` with a timeout) leaves
/// the connection unusable wherever it stopped: while the request body goes
/// out, and once it is out while the response head has come in part. The
/// next request is refused unsent, never written after half a message.
#[test]
fn a_send_dropped_partway_leaves_the_connection_not_reusable() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    run(async {
        // The pipe holds 1 KiB: the head goes out, and the body stops
        // partway.
        let (client_end, _server_end) = duplex(1024);
        let mut conn = ClientConnection::new(client_end, ClientConfig::default());
        let pending = futures_lite::future::poll_once(conn.send(upload(64 * 1024))).await;
        assert!(pending.is_none(), "the upload cannot finish");
        assert!(!conn.is_reusable());
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(matches!(error, Error::NotReusable), "{error:?}");
    });
    run(async {
        let (client_end, mut server_end) = duplex(64 * 1024);
        let mut conn = ClientConnection::new(client_end, ClientConfig::default());
        let mut send = Box::pin(conn.send(get("/")));
        assert!(futures_lite::future::poll_once(&mut send).await.is_none());
        let mut request = vec![0; 64];
        let sent = server_end.read(&mut request).await.unwrap();
        assert!(
            request[..sent].ends_with(b"\r\n\r\n"),
            "the request went out whole"
        );
        server_end
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Le")
            .await
            .unwrap();
        let pending = futures_lite::future::poll_once(&mut send).await;
        assert!(pending.is_none(), "half a head is no answer");
        drop(send);
        assert!(!conn.is_reusable());
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(matches!(error, Error::NotReusable), "{error:?}");
    });
}

#[test]
fn a_connection_the_server_closes_is_not_reused() {
    // Said, not done: the server keeps the connection open.
    let addr = scripted_then_held(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        response.into_body().bytes(100).await.unwrap();
        assert!(!conn.is_reusable());
        assert!(matches!(conn.send(get("/")).await, Err(Error::NotReusable)));
    });
}

#[test]
fn a_connection_the_server_closed_while_idle_refuses_the_next_request_unsent() {
    // Our server closes a keep-alive connection idle for 100 ms, as servers
    // do once their idle timeout passes. (Over a pipe, whose reads report a
    // close at once: on a socket the close is found only if the reactor has
    // seen it by the time of the next request.)
    run(async {
        let (server_end, client_end) = duplex(1024);
        let config = ServerConfig {
            idle_timeout: Some(Duration::from_millis(100)),
            ..ServerConfig::default()
        };
        let served = std::sync::atomic::AtomicUsize::new(0);
        let service = |request: Request| {
            served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            routes(request)
        };
        let mut conn = ClientConnection::new(client_end, ClientConfig::default());
        let exchange = async {
            let response = conn.send(get("/")).await.unwrap();
            response.into_body().bytes(100).await.unwrap();
        };
        // The server answers, then closes the connection once idle: the
        // next request starts only after that, however late the test runs.
        let ((), closed) =
            futures_lite::future::zip(exchange, serve_connection(server_end, service, &config))
                .await;
        closed.unwrap();
        // `is_reusable` reads nothing, so cannot know; `ready` reads.
        assert!(conn.is_reusable());
        let error = conn.ready().await.unwrap_err();
        assert!(matches!(error, Error::NotReusable), "{error:?}");
        assert!(!conn.is_reusable());
        let error = conn.send(get("/")).await.unwrap_err();
        // Refused before sending: safe to send again on a fresh connection.
        assert!(matches!(error, Error::NotReusable), "{error:?}");
        assert_eq!(served.load(std::sync::atomic::Ordering::Relaxed), 1);
    });
}

/// The same over a real socket from `rt::open`: the look for a close before
/// the next request finds it (a client's stream never skips a read for want
/// of readiness, so the look reads what is there whether or not a reactor
/// has reported it).
#[test]
fn a_socket_the_server_closed_while_idle_refuses_the_next_request_unsent() {
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let service = {
        let served = served.clone();
        move |request: Request| {
            served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            routes(request)
        }
    };
    let config = ServerConfig {
        idle_timeout: Some(Duration::from_millis(100)),
        ..ServerConfig::default()
    };
    let server = server_with(service, config);
    let addr = server.local_addr();
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        response.into_body().bytes(100).await.unwrap();
        // Well past the server's idle timeout (15 times it, for a loaded
        // host): its close has arrived.
        async_io::Timer::after(Duration::from_millis(1500)).await;
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(matches!(error, Error::NotReusable), "{error:?}");
    });
    assert_eq!(served.load(std::sync::atomic::Ordering::Relaxed), 1);
    server.shutdown();
}

/// `try_send` gives back a request the connection refused unsent (its
/// server closed it while idle), streamed body unread, and it goes whole on
/// a fresh connection; `send` would have dropped it.
#[test]
fn try_send_gives_back_a_request_refused_unsent() {
    run(async {
        let config = ServerConfig {
            idle_timeout: Some(Duration::from_millis(100)),
            ..ServerConfig::default()
        };
        let echo = |request: Request| async move {
            let body = request.into_body().bytes(1024).await.unwrap();
            Response::new(StatusCode::OK).with_body(body)
        };
        let (first_server, first_client) = duplex(1024);
        let mut first = ClientConnection::new(first_client, ClientConfig::default());
        let exchange = async {
            let answer = first.send(get("/")).await.unwrap();
            answer.into_body().bytes(100).await.unwrap();
        };
        // The server answers, then closes the connection once idle.
        let ((), closed) =
            futures_lite::future::zip(exchange, serve_connection(first_server, echo, &config))
                .await;
        closed.unwrap();
        let chunks = ["up", "load"].map(|piece| Ok(bytes::Bytes::from(piece)));
        let upload = Request::new("POST", "/")
            .with_header("host", "t")
            .with_body(Body::stream(futures_lite::stream::iter(chunks)));
        let mut refused = first.try_send(upload).await.unwrap_err();
        // It reads as its error does, in a log or an error chain.
        assert_eq!(refused.to_string(), Error::NotReusable.to_string());
        assert!(
            format!("{refused:?}").contains("NotReusable"),
            "{refused:?}"
        );
        assert!(
            format!("{first:?}").starts_with("ClientConnection"),
            "{first:?}"
        );
        let upload = refused.take_request().expect("refused unsent");
        assert!(matches!(refused.into_error(), Error::NotReusable));
        let (second_server, second_client) = duplex(1024);
        let resent = async {
            let mut second = ClientConnection::new(second_client, ClientConfig::default());
            let answer = second.send(upload).await.unwrap();
            assert_eq!(answer.into_body().bytes(100).await.unwrap(), "upload");
        };
        let ((), served) =
            futures_lite::future::zip(resent, serve_connection(second_server, echo, &config)).await;
        served.unwrap();
    });
}

/// A client's settings with each exchange to end within `total`.
fn within(total: Duration) -> ClientConfig {
    ClientConfig {
        total_timeout: Some(total),
        ..ClientConfig::default()
    }
}

/// A client whose exchanges must each end within `total`.
async fn client_within(addr: SocketAddr, total: Duration) -> ClientConnection<lithe::rt::MaybeTls> {
    client_with(addr, within(total)).await
}

/// A server that reads a request head, sends `reply` (nothing, if empty),
/// then holds the connection for 2 s reading nothing more.
fn answering_then_silent(reply: &'static [u8]) -> SocketAddr {
    raw_server(move |mut s| {
        read_through(&mut s, b"\r\n\r\n");
        s.write_all(reply).unwrap();
        std::thread::sleep(Duration::from_secs(2));
    })
}

/// A request body that sends one piece, then stalls for good.
fn stalling_upload() -> Request<Body> {
    use futures_lite::StreamExt;
    let first = futures_lite::stream::once(Ok::<_, std::io::Error>(bytes::Bytes::from("start")));
    let stalled = first.chain(futures_lite::stream::pending());
    Request::new("POST", "/")
        .with_header("host", "t")
        .with_body(Body::stream(stalled))
}

/// Asserts that `exchange` fails with the total timeout within a second.
async fn fails_at_the_total<T: std::fmt::Debug>(exchange: impl Future<Output = Result<T, Error>>) {
    let started = Instant::now();
    let error = exchange.await.unwrap_err();
    assert!(matches!(error, Error::Timeout(Timeout::Total)), "{error:?}");
    // The totals here are 300 ms: 2 s of room for a loaded machine, and far
    // short of the other timeouts a missed total would wait for.
    assert!(
        started.elapsed() < Duration::from_millis(2300),
        "{:?}",
        started.elapsed()
    );
}

/// A server that answers each request with `head`, then trickles `body`
/// a byte every 20 ms: each wait is short, the whole is not.
fn trickling(head: &'static [u8], body: &'static [u8], requests: usize) -> SocketAddr {
    raw_server(move |mut s| {
        for _ in 0..requests {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            s.write_all(head).unwrap();
            for byte in body.chunks(1) {
                std::thread::sleep(Duration::from_millis(20));
                if s.write_all(byte).is_err() {
                    return;
                }
            }
        }
        hold_open(&mut s);
    })
}

/// An exchange's total timeout ends with it: its timer does not wake the
/// task that read the response, a total timeout later, for nothing (a pool
/// of idle connections would be woken once for each).
#[test]
fn a_finished_exchanges_total_timer_wakes_nobody() {
    use futures_lite::AsyncWriteExt;
    use std::future::Future;
    use std::sync::atomic::AtomicUsize;
    struct CountsWakes(AtomicUsize);
    impl std::task::Wake for CountsWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (client_end, mut server_end) = duplex(64 * 1024);
    let config = ClientConfig {
        total_timeout: Some(Duration::from_secs(1)),
        ..ClientConfig::default()
    };
    let mut conn = ClientConnection::new(client_end, config);
    let started = Instant::now();
    let mut send = Box::pin(conn.send(get("/")));
    assert!(run(futures_lite::future::poll_once(&mut send)).is_none());
    run(server_end.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")).unwrap();
    let mut response = run(send).unwrap();
    let wakes = Arc::new(CountsWakes(AtomicUsize::new(0)));
    let waker = std::task::Waker::from(wakes.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let body = response.body_mut();
    {
        // The body waits for its bytes, its task now the one the exchange's
        // timers wake.
        let mut chunk = std::pin::pin!(body.chunk());
        assert!(chunk.as_mut().poll(&mut cx).is_pending());
        run(server_end.write_all(b"ok")).unwrap();
        assert!(wakes.0.load(Ordering::SeqCst) > 0, "the bytes woke it");
        match chunk.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Ok(Some(bytes))) => assert_eq!(bytes, "ok"),
            other => panic!("{other:?}"),
        }
    }
    {
        let mut end = std::pin::pin!(body.chunk());
        assert!(matches!(
            end.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Ok(None))
        ));
    }
    drop(response);
    assert!(conn.is_reusable());
    let woken = wakes.0.load(Ordering::SeqCst);
    // Counted before the total timeout's end (else a wake at that end could
    // be in `woken`), then waited well past it, the connection kept.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "too slow to tell"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(wakes.0.load(Ordering::SeqCst), woken, "woken for nothing");
    drop(conn);
}

/// An idle connection (kept in a pool, say) holds no waker of the task
/// that ran its last exchange: a waker keeps its task's allocation, which
/// would stay as long as the connection idles, a finished task for each
/// connection in the pool.
#[test]
fn an_idle_connection_keeps_no_waker_of_its_last_task() {
    use futures_lite::AsyncWriteExt;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let (client_end, mut server_end) = duplex(64 * 1024);
    let mut conn = ClientConnection::new(client_end, ClientConfig::default());
    let task = Unparks::current();
    {
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let mut exchange = std::pin::pin!(async {
            let response = conn.send(get("/")).await?;
            response.into_body().bytes(1024).await
        });
        // Each piece comes after the exchange waited for it: the head in
        // two, so that its read, its head timer and its read timer all
        // wait with the task's waker, then the body.
        for piece in [
            &b"HTTP/1.1 200 OK\r\n"[..],
            b"Content-Length: 2\r\n\r\n",
            b"ok",
        ] {
            assert!(exchange.as_mut().poll(&mut cx).is_pending());
            run(server_end.write_all(piece)).unwrap();
        }
        match exchange.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(body)) => assert_eq!(body, "ok"),
            other => panic!("{other:?}"),
        }
    }
    assert!(conn.is_reusable());
    assert_eq!(
        task.wakers_kept(),
        0,
        "clones of the last task's waker kept"
    );
    // And the connection serves on.
    let mut send = Box::pin(conn.send(get("/")));
    assert!(run(futures_lite::future::poll_once(&mut send)).is_none());
    run(server_end.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain")).unwrap();
    let response = run(send).unwrap();
    assert_eq!(run(response.into_body().bytes(1024)).unwrap(), "again");
}

/// [`an_idle_connection_keeps_no_waker_of_its_last_task`] over TCP: the
/// socket's readiness watch and the exchange's timers keep no waker of the
/// task that read a response arriving in pieces.
#[test]
fn an_idle_tcp_connection_keeps_no_waker_of_its_last_task() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        for piece in [
            &b"HTTP/1.1 200 OK\r\n"[..],
            b"Content-Length: 2\r\n\r\n",
            b"ok",
        ] {
            std::thread::sleep(Duration::from_millis(50));
            s.write_all(piece).unwrap();
        }
        hold_open(&mut s);
    });
    let mut conn = run(client_with(addr, ClientConfig::default()));
    let task = Unparks::current();
    let exchange = async {
        let response = conn.send(get("/")).await?;
        response.into_body().bytes(1024).await
    };
    let body = poll_with(exchange, &task, "no answer").unwrap();
    assert_eq!(body, "ok");
    assert!(conn.is_reusable());
    assert_eq!(
        task.wakers_kept(),
        0,
        "clones of the last task's waker kept"
    );
}

/// `total_timeout` bounds a whole exchange where each wait is within its
/// own timeout: a body trickled steadily fails at the total, and the
/// connection is not reused.
#[test]
fn the_total_timeout_ends_a_body_that_trickles_on() {
    let addr = trickling(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
        &[b'b'; 100],
        1,
    );
    run(async {
        let mut conn = client_within(addr, Duration::from_millis(300)).await;
        let started = Instant::now();
        let response = conn.send(get("/")).await.unwrap();
        let error = response.into_body().bytes(1000).await.unwrap_err();
        assert!(matches!(error, Error::Timeout(Timeout::Total)), "{error:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(2300),
            "{took:?}"
        );
        assert!(!conn.is_reusable());
    });
}

/// Interim responses, each a head of its own within the head timeout,
/// cannot hold a request past its total.
#[test]
fn the_total_timeout_ends_a_stream_of_interim_responses() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        for _ in 0..40 {
            if s.write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
                .is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    run(async {
        let mut conn = client_within(addr, Duration::from_millis(300)).await;
        fails_at_the_total(conn.send(get("/"))).await;
    });
}

/// A request body whose stream stalls, waited for as long as it stalls by
/// the other timeouts, is bounded by the total.
#[test]
fn the_total_timeout_ends_a_request_body_that_stalls() {
    // Reads the head, then waits for the body, in vain.
    let addr = answering_then_silent(b"");
    run(async {
        let mut conn = client_within(addr, Duration::from_millis(300)).await;
        fails_at_the_total(conn.send(stalling_upload())).await;
    });
}

/// Nor one that stalls after the response has ended: the response body is
/// reported over only once the request is all sent, and the total ends that
/// wait.
#[test]
fn the_total_timeout_ends_a_request_body_that_stalls_after_the_answer() {
    // Answers at once, whole, then waits for the body, in vain.
    let addr = answering_then_silent(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    run(async {
        let mut conn = client_within(addr, Duration::from_millis(300)).await;
        let response = conn.send(stalling_upload()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        fails_at_the_total(response.into_body().bytes(100)).await;
        assert!(!conn.is_reusable());
    });
}

/// Nor one answered by a bodiless status (the request is finished before
/// `send` returns such an answer), here one there at once, so that nothing
/// waited before the wait for the request body.
#[test]
fn the_total_timeout_ends_a_request_body_that_stalls_after_a_bodiless_answer() {
    run(async {
        use futures_lite::AsyncWriteExt;
        let (client_end, mut server_end) = duplex(64 * 1024);
        server_end
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
        let config = within(Duration::from_millis(300));
        // The answer waits in the pipe for the request to begin.
        let mut conn = ClientConnection::new(OnceAsked::new(client_end), config);
        fails_at_the_total(conn.send(stalling_upload())).await;
        drop(server_end);
    });
}

/// A server that stops reading a large request body holds the writes until
/// the total (the write timeout is 30 s).
#[test]
fn the_total_timeout_ends_an_upload_the_server_stops_reading() {
    let addr = answering_then_silent(b"");
    run(async {
        let mut conn = client_within(addr, Duration::from_millis(300)).await;
        fails_at_the_total(conn.send(upload(64 << 20))).await;
    });
}

/// A request body whose stream is always ready never waits, so the total's
/// timer never fires on it: the upload looks at the total between pieces,
/// whether they are empty (nothing is written, and the thread was held for
/// ever) or each slow to make (the whole body went out long after the
/// total). A watchdog turns a hang into a failure.
#[test]
fn the_total_timeout_ends_a_request_body_stream_that_never_waits() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const SLOW_PIECES: usize = 200;
    for slow in [false, true] {
        let taken = Arc::new(AtomicUsize::new(0));
        let counter = taken.clone();
        let pieces = futures_lite::stream::repeat_with(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            if slow {
                std::thread::sleep(Duration::from_millis(5));
                return Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"x"));
            }
            Ok(bytes::Bytes::new())
        });
        let body = match slow {
            true => Body::stream(futures_lite::StreamExt::take(pieces, SLOW_PIECES)),
            false => Body::stream(pieces),
        };
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = run(async {
                let (client_end, server_end) = duplex(64 * 1024);
                let mut conn =
                    ClientConnection::new(client_end, within(Duration::from_millis(100)));
                let request = Request::new("POST", "/")
                    .with_header("host", "t")
                    .with_body(body);
                let result = conn.send(request).await.map(|_| ());
                drop(server_end);
                result
            });
            let _ = done.send(result);
        });
        let result = finished
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("slow {slow}: the upload still runs after 20 s"));
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::Timeout(Timeout::Total)),
            "slow {slow}: {error:?}"
        );
        if slow {
            let taken = taken.load(Ordering::Relaxed);
            assert!(taken < SLOW_PIECES, "all {taken} pieces were taken");
        }
    }
}

/// The wait for `100 Continue` is bounded by the total too, however long
/// the continue timeout.
#[test]
fn the_total_timeout_ends_a_wait_for_100_continue() {
    let addr = answering_then_silent(b"");
    run(async {
        let config = ClientConfig {
            continue_timeout: Duration::from_secs(10),
            ..within(Duration::from_millis(300))
        };
        let mut conn = client_with(addr, config).await;
        let request = upload(10).with_header("expect", "100-continue");
        fails_at_the_total(conn.send(request)).await;
    });
}

/// A peer whose reads are always ready once asked: a response head declaring a huge
/// body, then that body for ever; it takes whatever is written.
struct Endless {
    head: &'static [u8],
}

impl futures_lite::AsyncRead for Endless {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = match self.head.len() {
            0 => {
                buf.fill(b'b');
                buf.len()
            }
            left => {
                let n = left.min(buf.len());
                buf[..n].copy_from_slice(&self.head[..n]);
                self.head = &self.head[n..];
                n
            }
        };
        std::task::Poll::Ready(Ok(n))
    }
}

swallows_writes!(Endless);

/// A body always there to read never waits: the total ends it all the same,
/// however slowly the caller reads.
#[test]
fn the_total_timeout_ends_a_body_read_slower_than_it_comes() {
    run(async {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n";
        let mut conn = ClientConnection::new(
            OnceAsked::new(Endless { head }),
            within(Duration::from_millis(300)),
        );
        let response = conn.send(get("/")).await.unwrap();
        let mut body = response.into_body();
        let read_slowly = async {
            loop {
                body.chunk().await?;
                async_io::Timer::after(Duration::from_millis(20)).await;
            }
        };
        fails_at_the_total::<()>(read_slowly).await;
    });
}

/// The total is each exchange's own: five that each take a quarter of it
/// or more all succeed on one connection.
#[test]
fn the_total_timeout_starts_again_with_each_exchange() {
    let addr = trickling(
        b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n",
        b"0123456789abc",
        5,
    );
    run(async {
        // Each body takes 260 ms at least, the five 1.3 s: more than one
        // total, with room for a loaded machine in each.
        let mut conn = client_within(addr, Duration::from_millis(1000)).await;
        for _ in 0..5 {
            let response = conn.send(get("/")).await.unwrap();
            assert_eq!(
                response.into_body().bytes(100).await.unwrap(),
                "0123456789abc"
            );
            assert!(conn.is_reusable());
        }
    });
}

#[test]
fn requests_without_a_host_get_their_targets_authority_or_the_connections() {
    let (addr, heads) = heads_answered_204(4);
    run(async {
        let mut conn = client_to(addr).await;
        conn.send(Request::new("GET", "/")).await.unwrap();
        conn.send(Request::new("GET", "/").with_header("Host", "elsewhere"))
            .await
            .unwrap();
        conn.send(Request::new("GET", "http://example.org/x"))
            .await
            .unwrap();
        conn.send(Request::new("CONNECT", "example.net:443"))
            .await
            .unwrap();
    });
    let first = heads.recv_timeout(LIMIT).unwrap().to_ascii_lowercase();
    assert_eq!(count(&first, "\r\nhost: "), 1, "{first}");
    assert!(first.contains(&format!("\r\nhost: {addr}\r\n")), "{first}");
    // A Host the request sets is its own.
    let second = heads.recv_timeout(LIMIT).unwrap().to_ascii_lowercase();
    assert_eq!(count(&second, "\r\nhost: "), 1, "{second}");
    assert!(second.contains("\r\nhost: elsewhere\r\n"), "{second}");
    // A target that names its authority (absolute form, to a proxy) gives
    // that one, not the connection's (the proxy's): RFC 9112 §3.2.
    let third = heads.recv_timeout(LIMIT).unwrap().to_ascii_lowercase();
    assert!(
        third.starts_with("get http://example.org/x http/1.1\r\n"),
        "{third}"
    );
    assert_eq!(count(&third, "\r\nhost: "), 1, "{third}");
    assert!(third.contains("\r\nhost: example.org\r\n"), "{third}");
    let fourth = heads.recv_timeout(LIMIT).unwrap().to_ascii_lowercase();
    assert!(
        fourth.starts_with("connect example.net:443 http/1.1\r\n"),
        "{fourth}"
    );
    assert_eq!(count(&fourth, "\r\nhost: "), 1, "{fourth}");
    assert!(fourth.contains("\r\nhost: example.net:443\r\n"), "{fourth}");
}

/// An IPv6 literal, served with and without `reuse_port` (whose own socket
/// set-up names the address family) and reached through a URL: the Host
/// the client sends keeps the brackets, without which the server's Host
/// rule refuses it. Skipped on a host without IPv6.
#[test]
fn an_ipv6_literal_is_served_and_reached_with_and_without_reuse_port() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    }
    async fn host_of(request: Request) -> Response {
        let host = request.host().unwrap_or("none").to_owned();
        Response::new(StatusCode::OK).with_body(host)
    }
    for reuse_port in [false, true] {
        let config = lithe::rt::ServeConfig {
            threads: 2,
            reuse_port,
            shutdown_timeout: Duration::from_secs(2),
            ..Default::default()
        };
        let server = lithe::rt::Server::bind("[::1]:0", host_of, config).expect("bind [::1]");
        let addr = server.local_addr();
        assert!(addr.is_ipv6(), "{addr}");
        let url = Url::parse(&format!("http://[::1]:{}/", addr.port())).unwrap();
        run(async {
            let mut conn = open(&url, &ConnectConfig::default()).await.unwrap();
            let response = conn.send(Request::new("GET", "/")).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "reuse_port {reuse_port}");
            let host = response.into_body().text(100).await.unwrap();
            assert_eq!(host, format!("[::1]:{}", addr.port()));
        });
        server.shutdown();
    }
}

/// A response framed by both Transfer-Encoding and Content-Length is read
/// as chunked (RFC 9112 §6.3), and the connection carries nothing more: a
/// hop that took the length would have read it otherwise. (The server keeps
/// the connection open, so only the response can have said so.)
#[test]
fn a_response_with_both_framing_fields_is_not_reused() {
    let addr = scripted_then_held(vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "ok");
        assert!(!conn.is_reusable());
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(matches!(error, Error::NotReusable), "{error:?}");
    });
}

/// Framing fields in a trailer section frame nothing: kept among the
/// trailers, out of the header fields, and the next response on the
/// connection is read as its own.
#[test]
fn framing_fields_in_trailers_frame_nothing() {
    let addr = scripted_then_held(vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.headers().get_str("content-length"), None);
        let mut body = response.into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"ok");
        assert!(body.chunk().await.unwrap().is_none());
        let trailers = body.trailers().unwrap();
        assert_eq!(trailers.get_str("content-length"), Some("100"));
        assert_eq!(trailers.get_str("transfer-encoding"), Some("chunked"));
        drop(body);
        assert!(conn.is_reusable());
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "next");
    });
}

/// A raw server that answers `204` to each of `count` requests, handing on
/// the head of each as it came.
fn heads_answered_204(count: usize) -> (SocketAddr, std::sync::mpsc::Receiver<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        for _ in 0..count {
            let Some(head) = read_through(&mut s, b"\r\n\r\n") else {
                return;
            };
            tx.send(String::from_utf8(head).unwrap()).unwrap();
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        }
    });
    (addr, rx)
}

/// A request with an empty body says `Content-Length: 0` only for the
/// methods whose requests have content (POST, PUT, PATCH: a server may
/// answer such a request without a length 411); others carry no framing.
#[test]
fn an_empty_body_has_a_length_only_on_post_put_and_patch() {
    let methods = ["GET", "DELETE", "POST", "PUT", "PATCH"];
    let (addr, heads) = heads_answered_204(methods.len());
    run(async {
        let mut conn = client_to(addr).await;
        for method in methods {
            let request = Request::new(method, "/").with_header("host", "t");
            conn.send(request).await.unwrap();
        }
    });
    for method in methods {
        let head = heads.recv_timeout(LIMIT).unwrap().to_ascii_lowercase();
        let has_content = matches!(method, "POST" | "PUT" | "PATCH");
        assert_eq!(
            head.contains("\r\ncontent-length: 0\r\n"),
            has_content,
            "{head}"
        );
        assert!(!head.contains("transfer-encoding"), "{head}");
        if !has_content {
            assert!(!head.contains("content-length"), "{head}");
        }
    }
}

/// With obs-fold let through (an old server), a folded field reaches the
/// caller as RFC 9112 §5.2 has a recipient read it, its line breaks spaces:
/// a value holding CR LF could not be parsed as one, nor passed on. Fields
/// around it, and the framing, are untouched.
#[test]
fn a_folded_response_field_reaches_the_caller_unfolded() {
    let addr = scripted_then_held(vec![
        b"HTTP/1.1 200 OK\r\nX-Folded: a,\r\n\tb\r\n  c\r\nX-Plain: d\r\nContent-Length: 2\r\n\r\nok",
    ]);
    run(async {
        let mut config = ClientConfig::default();
        config.proto.leniency.allow_obs_fold_in_responses = true;
        let mut conn = client_with(addr, config).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.headers().get_str("x-folded"), Some("a,   b    c"));
        assert_eq!(response.headers().get_str("x-plain"), Some("d"));
        assert_eq!(&response.into_body().bytes(10).await.unwrap()[..], b"ok");
        assert!(conn.is_reusable());
    });
}

/// A body that is not UTF-8, asked for as text, says so: nothing failed in
/// the transport or the message, and the connection goes on.
#[test]
fn a_body_that_is_not_utf8_read_as_text_is_named_so() {
    let addr = scripted_then_held(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\xff\xfe",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        let error = response.into_body().text(100).await.unwrap_err();
        assert!(
            matches!(&error, Error::NotUtf8(e) if e.valid_up_to() == 0),
            "{error:?}"
        );
        assert!(!error.is_protocol());
        assert!(conn.is_reusable());
    });
}

#[test]
fn a_garbled_response_is_a_protocol_error() {
    let addr = scripted(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(
            matches!(
                error,
                Error::Protocol(proto::Error::ConflictingContentLength)
            ),
            "{error:?}"
        );
    });
}

/// `start`, a field `{name}-{i}: {i}` for each of `numbers`, then `end`, as
/// the static bytes `scripted` answers with.
fn with_numbered_fields(
    start: &str,
    name: &str,
    numbers: std::ops::Range<usize>,
    end: &str,
) -> &'static [u8] {
    let mut message = String::from(start);
    for i in numbers {
        message.push_str(&format!("{name}-{i}: {i}\r\n"));
    }
    message.push_str(end);
    message.leak().as_bytes()
}

/// A response head with `fields` header fields, `Content-Length` the last.
fn response_with_fields(fields: usize) -> &'static [u8] {
    with_numbered_fields(
        "HTTP/1.1 200 OK\r\n",
        "X",
        1..fields,
        "Content-Length: 2\r\n\r\nok",
    )
}

#[test]
fn responses_with_many_fields_are_read_up_to_the_configured_limit() {
    let mut config = ConnectConfig::default();
    config.client.proto.limits.max_headers = 300;
    // Past the 128 fields parsed on the stack, and exactly at the limit.
    for fields in [100, 129, 300] {
        let addr = scripted(vec![response_with_fields(fields)]);
        run(async {
            let url = Url::parse(&format!("http://{addr}/")).unwrap();
            let mut conn = open(&url, &config).await.unwrap();
            let response = conn.send(get("/")).await.unwrap();
            assert_eq!(response.headers().len(), fields, "{fields}");
            assert_eq!(response.headers().get_str("x-99"), Some("99"));
            let body = response.into_body().bytes(16).await.unwrap();
            assert_eq!(&body[..], b"ok");
        });
    }
    let addr = scripted(vec![response_with_fields(301)]);
    run(async {
        let url = Url::parse(&format!("http://{addr}/")).unwrap();
        let mut conn = open(&url, &config).await.unwrap();
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(
            matches!(error, Error::Protocol(proto::Error::TooManyHeaders)),
            "{error:?}"
        );
    });
}

/// A chunked response whose body "ok" ends with `count` trailer fields.
fn chunked_with_trailers(count: usize) -> &'static [u8] {
    with_numbered_fields(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
        "T",
        0..count,
        "\r\n",
    )
}

#[test]
fn trailer_sections_are_read_up_to_the_header_limit() {
    // None, one, and more than fit the client's former 32-entry array; the
    // connection stays usable after each body, and the trailers come back
    // once it has been read to its end.
    let addr = scripted(vec![
        chunked_with_trailers(0),
        chunked_with_trailers(1),
        chunked_with_trailers(40),
        chunked_with_trailers(100),
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        for count in [0, 1, 40, 100] {
            let response = conn.send(get("/")).await.unwrap();
            let mut body = response.into_body();
            assert!(body.trailers().is_none(), "before the end");
            let mut data = Vec::new();
            while let Some(chunk) = body.chunk().await.unwrap() {
                data.extend_from_slice(&chunk);
            }
            assert_eq!(data, b"ok", "{count}");
            match body.trailers() {
                None => assert_eq!(count, 0),
                Some(trailers) => {
                    // An empty section is `None`, as documented.
                    assert!(
                        count > 0 && trailers.len() == count,
                        "{count}: {trailers:?}"
                    );
                    let expected = (0..count).map(|i| (format!("T-{i}"), i.to_string()));
                    for ((name, value), (want_name, want_value)) in trailers.iter().zip(expected) {
                        assert_eq!((name, value), (&*want_name, want_value.as_bytes()));
                    }
                    // Apart from the header fields.
                    assert!(trailers.get("transfer-encoding").is_none());
                }
            }
        }
    });
    // Past the default limit of 100 fields: the body is an error.
    let addr = scripted(vec![chunked_with_trailers(101)]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        let error = response.into_body().bytes(16).await.unwrap_err();
        assert!(
            matches!(error, Error::Protocol(proto::Error::TooManyHeaders)),
            "{error:?}"
        );
    });
}

#[test]
fn connect_fails_fast_when_refused_and_times_out_when_unanswered() {
    run(async {
        // Nothing listens there: refused at once, not a timeout, and said so.
        let refused = connect("127.0.0.1", refused_port(), LIMIT).await;
        assert!(
            matches!(&refused, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused),
            "{refused:?}"
        );
    });
    let (_silent, addr) = unanswering_address();
    run(async {
        let started = std::time::Instant::now();
        let result = connect("127.0.0.1", addr.port(), Duration::from_millis(200)).await;
        assert!(
            matches!(result, Err(Error::Timeout(lithe::io::Timeout::Connect))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // `open` is held to its config's connect timeout the same way.
        let url = Url::parse(&format!("http://127.0.0.1:{}/", addr.port())).unwrap();
        let config = ConnectConfig {
            connect_timeout: Duration::from_millis(200),
            ..ConnectConfig::default()
        };
        let started = std::time::Instant::now();
        let result = open(&url, &config).await;
        assert!(
            matches!(result, Err(Error::Timeout(lithe::io::Timeout::Connect))),
            "{:?}",
            result.map(|_| ())
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn urls_parse_as_browsers_parse_them() {
    // (url, https, host, port, authority, target)
    let cases = [
        (
            "http://example.com",
            false,
            "example.com",
            80,
            "example.com",
            "/",
        ),
        (
            "HTTP://Example.COM:8080/A?b=C",
            false,
            "example.com",
            8080,
            "example.com:8080",
            "/A?b=C",
        ),
        (
            "https://example.com:443/x",
            true,
            "example.com",
            443,
            "example.com",
            "/x",
        ),
        (
            "http://example.com:/x",
            false,
            "example.com",
            80,
            "example.com",
            "/x",
        ),
        ("http://h?a/b", false, "h", 80, "h", "/?a/b"),
        ("http://h/a b/c#frag", false, "h", 80, "h", "/a%20b/c"),
        (
            "http://h/caf\u{e9}?q=\u{e9}",
            false,
            "h",
            80,
            "h",
            "/caf%C3%A9?q=%C3%A9",
        ),
        ("http://h\\a\\b", false, "h", 80, "h", "/a/b"),
        ("http://[::1]:8080/", false, "::1", 8080, "[::1]:8080", "/"),
        ("https://[::1]/", true, "::1", 443, "[::1]", "/"),
        ("http://127.1/", false, "127.0.0.1", 80, "127.0.0.1", "/"),
        (
            "http://b\u{fc}cher.example/",
            false,
            "xn--bcher-kva.example",
            80,
            "xn--bcher-kva.example",
            "/",
        ),
        ("  http://h/  ", false, "h", 80, "h", "/"),
        // Escapes kept as they are, `+` too; `'` escaped in a query; dot
        // segments resolved.
        (
            "http://h/a%2Fb?x=%2f&y=a+b%7e",
            false,
            "h",
            80,
            "h",
            "/a%2Fb?x=%2f&y=a+b%7e",
        ),
        ("http://h/?q=O'Brien", false, "h", 80, "h", "/?q=O%27Brien"),
        ("http://h/a/%2e%2e/b/./c", false, "h", 80, "h", "/b/c"),
        // Only the scheme's own default port is left out.
        ("http://h:80/", false, "h", 80, "h", "/"),
        ("http://h:443/", false, "h", 443, "h:443", "/"),
        ("https://h:80/", true, "h", 80, "h:80", "/"),
    ];
    for (input, https, host, port, authority, target) in cases {
        let url = Url::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (
                url.is_https(),
                url.host(),
                url.port(),
                url.authority(),
                url.target()
            ),
            (https, host, port, authority, target),
            "{input}"
        );
    }
    // Each printed as it parses again, whatever the input's spelling.
    for (input, shown) in [
        (
            "HTTPS://[::1]:8443/a b?q=1#f",
            "https://[::1]:8443/a%20b?q=1",
        ),
        ("http://h:80/x", "http://h/x"),
        (
            "http://B\u{fc}cher.example:8080",
            "http://xn--bcher-kva.example:8080/",
        ),
    ] {
        let url = Url::parse(input).unwrap();
        assert_eq!(url.to_string(), shown, "{input}");
        assert_eq!(Url::parse(shown).unwrap(), url, "{input}");
    }
    // Refused, each saying why.
    let host_field = "the host is not one a Host field can carry";
    let line_break = "a tab or line break in the URL";
    for (bad, why) in [
        ("ftp://h/", "scheme must be http or https"),
        ("h/x", "not an absolute URL"),
        ("http://", "empty host"),
        ("http://[::1", "invalid IPv6 address"),
        ("http://[::1]junk/", "invalid IPv6 address"),
        ("http://a:1:2/", "invalid port"),
        ("http://h:+80/", "invalid port"),
        ("http://h:65536/", "invalid port"),
        ("http://1.2.3.256/", "invalid IPv4 address"),
        ("http://exa mple.com/", "invalid host name"),
        ("http://xn--a/", "invalid host name"),
        ("foo://a b/", "invalid character in the host"),
        ("http://user:pw@h/", "userinfo is not supported"),
        ("http://:pw@h/", "userinfo is not supported"),
        (
            "http://evil.example@good.example/",
            "userinfo is not supported",
        ),
        // The URL standard lets these through; no Host field can carry them.
        ("http://a{b}.example/", host_field),
        ("http://a\"b/", host_field),
        // Deleted by the URL standard, which would change the request.
        ("http://h/a\r\nX-Injected: 1", line_break),
        ("http://h/a\tb", line_break),
        ("http://exa\nmple.com/", line_break),
        ("http://h/users/.\n./admin", line_break),
        ("http://h/\n", line_break),
    ] {
        assert!(
            matches!(Url::parse(bad), Err(Error::InvalidUrl(said)) if said == why),
            "{bad}: {:?}",
            Url::parse(bad)
        );
    }
    // No TCP connection reaches port 0 (and browsers refuse it): said so.
    for port_zero in ["http://h:0/", "https://h:000/"] {
        assert!(
            matches!(
                Url::parse(port_zero),
                Err(Error::InvalidUrl("port 0 cannot be connected to"))
            ),
            "{port_zero}: {:?}",
            Url::parse(port_zero)
        );
    }
}

#[test]
fn a_host_address_that_never_answers_does_not_use_up_the_timeout() {
    use lithe::rt::{ATTEMPT_HEAD_START, connect_any};
    let (_silent, silent_addr) = unanswering_address();
    // An address nothing listens on: refused at once.
    let refused_addr = SocketAddr::from(([127, 0, 0, 1], refused_port()));
    let server = server();
    let working = server.local_addr();
    run(async {
        // Tried in order: the silent one gets its head start, then the
        // working one answers; a refusal hands over at once.
        let started = std::time::Instant::now();
        let stream = connect_any(&[silent_addr, working], LIMIT).await.unwrap();
        let took = started.elapsed();
        assert!(took >= ATTEMPT_HEAD_START && took < LIMIT / 4, "{took:?}");
        drop(stream);
        // The bound is the quantity under test, so a stall of the test's
        // thread could pass it: the best of three. (Were the head start
        // waited out, every attempt would take it.)
        let mut fastest = Duration::MAX;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            connect_any(&[refused_addr, working], LIMIT).await.unwrap();
            fastest = fastest.min(started.elapsed());
        }
        assert!(fastest < ATTEMPT_HEAD_START, "{fastest:?}");
        // The same while an earlier attempt is still running: the silent
        // address has its head start, the refused one fails at once, and the
        // working one starts then rather than a second head start later.
        let mut fastest = Duration::MAX;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let addresses = [silent_addr, refused_addr, working];
            let stream = connect_any(&addresses, LIMIT).await.unwrap();
            assert_eq!(stream.get_ref().peer_addr().unwrap(), working);
            // Requests leave at once (no Nagle delay behind a head's write).
            assert!(stream.get_ref().nodelay().unwrap());
            fastest = fastest.min(started.elapsed());
        }
        assert!(
            fastest >= ATTEMPT_HEAD_START && fastest < 2 * ATTEMPT_HEAD_START,
            "{fastest:?}"
        );
        // None answers: the last error, not a hang.
        let none = connect_any(&[refused_addr], LIMIT).await;
        assert!(
            matches!(&none, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused),
            "{none:?}"
        );
        let timed_out = connect_any(&[silent_addr], Duration::from_millis(300)).await;
        assert!(
            matches!(timed_out, Err(Error::Timeout(lithe::io::Timeout::Connect))),
            "{timed_out:?}"
        );
        // A timeout, whatever failed before it.
        let timed_out = connect_any(&[refused_addr, silent_addr], Duration::from_millis(300)).await;
        assert!(
            matches!(timed_out, Err(Error::Timeout(lithe::io::Timeout::Connect))),
            "{timed_out:?}"
        );
        // And through a name: localhost resolves and connects.
        let by_name = connect("localhost", working.port(), LIMIT).await.unwrap();
        assert!(by_name.get_ref().nodelay().unwrap());
        let mut conn = ClientConnection::new(by_name, ClientConfig::default());
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    });
    server.shutdown();
}

/// Attempts already started keep going when the next one starts (RFC
/// 8305): an address that answers only after its connect is retried (its
/// first SYN dropped, the retry a second later taken) still wins over a
/// later one that never answers, instead of the later attempt replacing it
/// and the connect timing out.
#[test]
fn an_earlier_attempt_that_answers_late_still_wins() {
    use lithe::rt::connect_any;
    let ((listener, _queued), slow) = unanswering_address();
    let (_silent, silent) = unanswering_address();
    // Room in the slow address's accept queue 300 ms on: its first SYN was
    // dropped, and the kernel's retry (about a second after it) is taken.
    let freeing = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let accepted = listener.accept();
        (listener, accepted.map(drop))
    });
    let stream = run(connect_any(&[slow, silent], Duration::from_secs(8)));
    let (_listener, accepted) = freeing.join().unwrap();
    accepted.unwrap();
    let stream = stream.unwrap();
    assert_eq!(stream.get_ref().peer_addr().unwrap(), slow);
}

/// An upload more than the socket buffers between client and server hold.
const BLOCKED_UPLOAD: usize = 64 << 20;

/// A raw server that reads a request's head, leaves the upload behind it to
/// fill the buffers and block for `blocked`, then plays `answer`.
fn server_blocking_the_upload(
    blocked: Duration,
    answer: impl FnOnce(&mut std::net::TcpStream) + Send + 'static,
) -> SocketAddr {
    raw_server(move |mut s| {
        // Small, so that a large answer stays unsent (the server blocked on
        // it, not reading the upload) while the client pauses.
        socket2::SockRef::from(&s)
            .set_send_buffer_size(64 << 10)
            .unwrap();
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        std::thread::sleep(blocked);
        answer(&mut s);
    })
}

/// A client whose writes time out after `write_timeout`.
async fn client_with_write_timeout(
    addr: SocketAddr,
    write_timeout: Duration,
) -> ClientConnection<lithe::rt::MaybeTls> {
    let config = ClientConfig {
        write_timeout: Some(write_timeout),
        ..ClientConfig::default()
    };
    client_with(addr, config).await
}

/// Polls `body` once, finding nothing to read within 200 ms (the upload
/// blocked: its write clock runs from here), tells the server through
/// `looked` (which sends the rest only then, so that nothing can come
/// within those 200 ms however slow the machine), then pauses for `pause`.
async fn find_nothing_then_pause(
    body: &mut lithe::io::ResponseBody<'_, lithe::rt::MaybeTls>,
    pause: Duration,
    looked: std::sync::mpsc::Sender<()>,
) {
    let nothing = futures_lite::future::or(async { Some(body.chunk().await) }, async {
        async_io::Timer::after(Duration::from_millis(200)).await;
        None
    })
    .await;
    assert!(nothing.is_none(), "{nothing:?}");
    looked.send(()).unwrap();
    async_io::Timer::after(pause).await;
}

/// Reads what is left of `s`'s upload until the client closes.
fn read_the_rest(s: &mut std::net::TcpStream) {
    let mut sink = [0u8; 1 << 16];
    while s.read(&mut sink).unwrap_or(0) > 0 {}
}

/// An answer that arrives while the upload is blocked (the server answers
/// first, then reads) is progress: a caller pausing before it reads the body
/// gets no write timeout that ran from before the answer.
#[test]
fn a_pause_after_an_answer_during_a_blocked_upload_is_no_write_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // More than the socket buffers between the two hold, so that the server
    // is still writing it, not reading the upload, through the pause.
    const BODY: usize = 32 << 20;
    let body_written = Arc::new(AtomicBool::new(false));
    let written = body_written.clone();
    // The upload's write clock runs meanwhile.
    let addr = server_blocking_the_upload(Duration::from_millis(500), move |s| {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\n\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&vec![b'b'; BODY]).unwrap();
        written.store(true, Ordering::SeqCst);
        read_the_rest(s);
    });
    run(async {
        let mut conn = client_with_write_timeout(addr, Duration::from_secs(3)).await;
        let response = conn.send(upload(BLOCKED_UPLOAD)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // Longer than the write timeout, from before the answer came.
        async_io::Timer::after(Duration::from_millis(3500)).await;
        assert!(
            !body_written.load(Ordering::SeqCst),
            "the buffers took the whole body: the upload never stayed blocked"
        );
        let body = response.into_body().bytes(BODY).await.unwrap();
        assert_eq!(body.len(), BODY);
    });
}

/// The answer's head alone restarts the blocked upload's write clock: a body
/// that comes later than the write timeout counted from the block, but within
/// it counted from the head, is read (the server answers, pauses, sends the
/// body, and only then reads the upload).
#[test]
fn the_answer_restarts_the_write_clock_of_a_blocked_upload() {
    let addr = server_blocking_the_upload(Duration::from_millis(2000), |s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        s.write_all(b"ok").unwrap();
        read_the_rest(s);
    });
    run(async {
        let mut conn = client_with_write_timeout(addr, Duration::from_secs(3)).await;
        let started = Instant::now();
        let response = conn.send(upload(BLOCKED_UPLOAD)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // Past the write timeout counted from the block (the body comes
        // about 3.5 s in), short of it counted from the head (5 s in).
        assert_eq!(response.into_body().bytes(2).await.unwrap(), "ok");
        assert!(started.elapsed() >= Duration::from_millis(3400));
    });
}

/// A caller that polls the body, finds nothing yet (the upload blocked, its
/// write clock starting), and goes away for longer than the write timeout,
/// comes back to the response the server sent meanwhile (which is why the
/// server stopped reading the upload), not to a write timeout.
#[test]
fn a_pause_after_a_pending_poll_of_the_body_is_no_write_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    const BODY: usize = 32 << 20;
    let body_written = Arc::new(AtomicBool::new(false));
    let written = body_written.clone();
    let (looked, client_looked) = std::sync::mpsc::channel();
    let addr = server_blocking_the_upload(Duration::from_millis(300), move |s| {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\n\r\nb");
        s.write_all(head.as_bytes()).unwrap();
        // The client reads that byte and polls again, finding nothing.
        client_looked.recv_timeout(LIMIT).unwrap();
        s.write_all(&vec![b'b'; BODY - 1]).unwrap();
        written.store(true, Ordering::SeqCst);
        read_the_rest(s);
    });
    run(async {
        let mut conn = client_with_write_timeout(addr, Duration::from_secs(2)).await;
        let response = conn.send(upload(BLOCKED_UPLOAD)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"b");
        find_nothing_then_pause(&mut body, Duration::from_millis(2500), looked).await;
        assert!(
            !body_written.load(Ordering::SeqCst),
            "the buffers took the whole body: the server never waited on us"
        );
        let mut got = 1;
        while let Some(piece) = body.chunk().await.unwrap() {
            got += piece.len();
        }
        assert_eq!(got, BODY);
    });
}

/// The same pause, with the response's end (and nothing else) arriving
/// meanwhile while the server no longer reads the upload: the body ends
/// (the write timeout, the response whole, only loses the connection)
/// rather than waiting for a wake that never comes.
#[test]
fn a_pause_over_which_the_response_ends_ends_the_body() {
    let (looked, client_looked) = std::sync::mpsc::channel();
    let addr = server_blocking_the_upload(Duration::from_millis(300), move |s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n")
            .unwrap();
        client_looked.recv_timeout(LIMIT).unwrap();
        s.write_all(b"0\r\n\r\n").unwrap();
        // The upload is never read.
        std::thread::sleep(LIMIT);
    });
    run(async {
        let mut conn = client_with_write_timeout(addr, Duration::from_secs(2)).await;
        let response = conn.send(upload(BLOCKED_UPLOAD)).await.unwrap();
        let mut body = response.into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"b");
        find_nothing_then_pause(&mut body, Duration::from_millis(2500), looked).await;
        let started = Instant::now();
        assert_eq!(body.chunk().await.unwrap(), None);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        drop(body);
        assert!(!conn.is_reusable());
    });
}

/// After such a pause, during which the server read the upload again, the
/// rest of the upload goes out on the next poll; the body read that follows
/// is bounded by the read timeout again (it is not while an upload goes on),
/// so a server that then goes silent is a timeout, not a wait for ever.
#[test]
fn a_pause_that_lets_the_upload_finish_leaves_the_body_read_timed() {
    use futures_lite::future::{or, zip};
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    const PIPE: usize = 4096;
    run(async {
        let (client_end, mut server_end) = duplex(PIPE);
        let config = ClientConfig {
            write_timeout: Some(Duration::from_millis(500)),
            read_timeout: Some(Duration::from_millis(500)),
            ..ClientConfig::default()
        };
        let mut conn = ClientConnection::new(client_end, config);
        let server = async {
            // The head and the first of the upload fill the pipe, and block.
            async_io::Timer::after(Duration::from_millis(200)).await;
            server_end
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nb")
                .await
                .unwrap();
            // During the client's pause, the pipe is read empty; then silence.
            async_io::Timer::after(Duration::from_millis(800)).await;
            let mut taken = vec![0u8; PIPE];
            assert!(server_end.read(&mut taken).await.unwrap() > 0);
            async_io::Timer::after(LIMIT).await;
        };
        let client = async {
            let response = conn.send(upload(PIPE + 1000)).await.unwrap();
            let mut body = response.into_body();
            assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"b");
            let nothing = or(async { Some(body.chunk().await) }, async {
                async_io::Timer::after(Duration::from_millis(100)).await;
                None
            })
            .await;
            assert!(nothing.is_none(), "{nothing:?}");
            async_io::Timer::after(Duration::from_millis(1500)).await;
            let started = Instant::now();
            let ended = or(async { Some(body.chunk().await) }, async {
                async_io::Timer::after(Duration::from_secs(3)).await;
                None
            })
            .await;
            assert!(
                matches!(ended, Some(Err(Error::Timeout(Timeout::Body)))),
                "{ended:?} after {:?}",
                started.elapsed()
            );
        };
        or(client, async {
            zip(server, async_io::Timer::after(LIMIT)).await;
        })
        .await;
    });
}

/// `Expect: 100-continue` on a request without content is left out (a
/// client must not send it there), and nothing waits for a 100: whether the
/// body alone is empty or a `Content-Length: 0` says so too.
#[test]
fn an_expectation_without_content_is_not_sent() {
    let (addr, heads) = heads_answered_204(7);
    run(async {
        let mut conn = client_to(addr).await;
        for (method, length_field) in [("GET", false), ("POST", false), ("POST", true)] {
            let mut request = Request::new(method, "/").with_header("expect", "100-continue");
            if length_field {
                request = request.with_header("content-length", "0");
            }
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
        }
        // A stream, whose length is not known, under `Content-Length: 0`.
        let nothing = futures_lite::stream::empty::<std::io::Result<bytes::Bytes>>();
        let request = Request::new("POST", "/")
            .with_header("expect", "100-continue")
            .with_header("content-length", "0")
            .with_body(Body::stream(nothing));
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        // Beside other expectations, in one field or two, that member
        // alone is left out.
        for fields in [
            &["100-continue, x-foo"][..],
            &["100-continue", "x-foo"],
            // Quoted, the list is not rewritten (a comma inside would be
            // split): it is left out whole.
            &["100-continue, x-foo=\"a,b\""],
        ] {
            let mut request = Request::new("POST", "/");
            for field in fields {
                request = request.with_header("expect", *field);
            }
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
        }
    });
    for _ in 0..4 {
        let head = heads.recv_timeout(LIMIT).unwrap().to_ascii_lowercase();
        assert!(!head.contains("expect"), "{head}");
    }
    for _ in 0..2 {
        let head = heads.recv_timeout(LIMIT).unwrap().to_ascii_lowercase();
        assert!(!head.contains("100-continue"), "{head}");
        assert_eq!(head.matches("\r\nexpect: x-foo\r\n").count(), 1, "{head}");
    }
    let head = heads.recv_timeout(LIMIT).unwrap().to_ascii_lowercase();
    assert!(!head.contains("expect"), "{head}");
}

/// Closing a connection the server has reset is no error: there is nothing
/// left to end (the socket's shutdown says it is not connected).
#[test]
fn closing_a_connection_the_server_reset_is_ok() {
    let (addr, read_it, was_reset) = answers_ok_then_resets();
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.into_body().text(10).await.unwrap(), "ok");
        read_it.send(()).unwrap();
        was_reset.recv_timeout(LIMIT).unwrap();
        // The reset has arrived, as the socket's error (taken, the socket
        // stays closed: its shutdown still finds it unconnected).
        until_delivered(conn.get_ref().tcp());
        let error = conn.get_ref().tcp().get_ref().take_error().unwrap();
        assert_eq!(
            error.map(|e| e.kind()),
            Some(std::io::ErrorKind::ConnectionReset)
        );
        conn.close().await.unwrap();
    });
}

/// A request with content keeps its expectation when a field of the
/// caller's gives its length (a proxied upload of known size): only a
/// request without content drops it (RFC 9110 §10.1.1), and the body waits
/// for the 100, streamed or not.
#[test]
fn an_expectation_with_a_length_field_is_kept() {
    let (heads, head) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        while let Some(seen) = read_through(&mut s, b"\r\n\r\n") {
            let _ = heads.send(String::from_utf8_lossy(&seen).to_ascii_lowercase());
            // Nothing of the body before the 100.
            s.set_read_timeout(Some(Duration::from_millis(150)))
                .unwrap();
            let early = s.read(&mut [0u8; 1]);
            assert!(
                matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "{early:?}"
            );
            s.set_read_timeout(Some(LIMIT)).unwrap();
            s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
            let mut body = [0u8; 5];
            s.read_exact(&mut body).unwrap();
            let status: &[u8] = match &body {
                b"hello" => b"200 OK",
                _ => b"400 Bad Request",
            };
            s.write_all(&[b"HTTP/1.1 ", status, b"\r\nContent-Length: 0\r\n\r\n"].concat())
                .unwrap();
        }
    });
    run(async {
        let mut conn = patient_for_100(addr).await;
        for streamed in [false, true] {
            let body = match streamed {
                false => Body::from("hello"),
                true => Body::stream(futures_lite::stream::iter([Ok(bytes::Bytes::from(
                    "hello",
                ))])),
            };
            let request = Request::new("PUT", "/")
                .with_header("content-length", "5")
                .with_header("expect", "100-continue")
                .with_body(body);
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "streamed {streamed}");
            response.into_body().discard(0).await.unwrap();
        }
    });
    for streamed in [false, true] {
        let head = head.recv_timeout(LIMIT).unwrap();
        assert!(
            head.contains("\r\nexpect: 100-continue\r\n"),
            "streamed {streamed}: {head}"
        );
    }
}

/// A server that answered in HTTP/1.0 on this connection may not read a
/// chunked body (RFC 9112 §6.1: a client must know the server handles
/// HTTP/1.1 first): a body of unknown length is refused with nothing sent
/// (curl refuses so too), and the connection goes on with one of known
/// length.
#[test]
fn no_chunked_upload_to_a_server_that_answered_in_http10() {
    let (heads, head) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let Some((request, body)) = read_request(&mut s, 4) else {
            return;
        };
        let _ = heads.send((request, body));
        s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nnext")
            .unwrap();
    });
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "ok");
        assert!(conn.is_reusable());
        let pieces = futures_lite::stream::iter([Ok(bytes::Bytes::from("data"))]);
        let streamed = Request::new("POST", "/").with_body(Body::stream(pieces));
        let refused = refused_unsent(&mut conn, streamed).await;
        assert!(
            matches!(refused.error(), Error::ChunkedToHttp10),
            "{:?}",
            refused.error()
        );
        // Handed back, streamed body and all, for a fresh connection.
        assert!(refused.into_request().is_some());
        // So is one with its own Transfer-Encoding, whatever its length.
        let coded = Request::new("POST", "/")
            .with_header("transfer-encoding", "chunked")
            .with_body("data");
        let error = conn.send(coded).await.unwrap_err();
        assert!(matches!(error, Error::ChunkedToHttp10), "{error:?}");
        // An HTTP/1.0 request cannot go chunked on any connection: that
        // error, not this one, and nothing handed back for another.
        let pieces = futures_lite::stream::iter([Ok(bytes::Bytes::from("data"))]);
        let http10 = Request::new("POST", "/")
            .with_version(lithe::proto::Version::Http10)
            .with_body(Body::stream(pieces));
        let refused = refused_unsent(&mut conn, http10).await;
        assert!(
            matches!(refused.error(), Error::Send(_)),
            "{:?}",
            refused.error()
        );
        assert!(refused.into_request().is_none());
        // Nor one whose body of a known length carries trailers.
        let trailed = Body::from("data").with_trailers(async { lithe::io::Headers::new() });
        let http10 = Request::new("POST", "/")
            .with_version(lithe::proto::Version::Http10)
            .with_body(trailed);
        let refused = refused_unsent(&mut conn, http10).await;
        assert!(
            matches!(refused.error(), Error::Send(_)),
            "{:?}",
            refused.error()
        );
        // Nor can one whose own Transfer-Encoding does not end in chunked, or
        // comes with a Content-Length: chunked or not, no connection takes it.
        for (coding, length) in [
            ("gzip", None),
            ("chunked", Some("4")),
            ("gzip, chunked", None),
            ("chunked, chunked", None),
            ("chunked, ,", None),
        ] {
            let mut invalid = Request::new("POST", "/").with_header("transfer-encoding", coding);
            if let Some(length) = length {
                invalid = invalid.with_header("content-length", length);
            }
            let refused = refused_unsent(&mut conn, invalid.with_body("data")).await;
            assert!(
                matches!(refused.error(), Error::Send(_)),
                "{coding}: {:?}",
                refused.error()
            );
            assert!(refused.into_request().is_none());
        }
        // Nor can a TRACE with content.
        let pieces = futures_lite::stream::iter([Ok(bytes::Bytes::from("data"))]);
        let trace = Request::new("TRACE", "/").with_body(Body::stream(pieces));
        let error = conn.send(trace).await.unwrap_err();
        assert!(matches!(error, Error::Send(_)), "{error:?}");
        // Nothing went out: the next request is the server's next.
        let sized = Request::new("POST", "/").with_body("data");
        let response = conn.send(sized).await.unwrap();
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "next");
    });
    let (request, body) = head.recv_timeout(LIMIT).unwrap();
    assert!(
        request
            .to_ascii_lowercase()
            .contains("\r\ncontent-length: 4\r\n"),
        "{request}"
    );
    assert_eq!(body, b"data");
}

/// A body read to its last declared byte has ended the response: a caller
/// that stops there (not polling on to the end it would be told of) leaves
/// the connection ready for the next request.
#[test]
fn a_body_read_to_its_declared_length_leaves_the_connection_reusable() {
    let addr = scripted(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(Request::new("GET", "/")).await.unwrap();
        // The registered phrase, kept as none, reads (and prints) as itself.
        assert_eq!(response.reason(), "OK");
        assert!(format!("{response:?}").contains("reason: \"OK\""));
        let mut body = response.into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"ok");
        drop(body);
        assert!(conn.is_reusable());
        let response = conn.send(Request::new("GET", "/")).await.unwrap();
        assert_eq!(response.into_body().text(100).await.unwrap(), "next");
    });
}

/// A chunked body whose last chunk (and trailers) came with its last data
/// is over once that data is read: a caller that stops there (a streaming
/// decoder that has what it wanted) leaves the connection ready for the
/// next request, as with a declared length, and the trailers are kept. Data
/// still unread, or an end not yet come, leaves it unusable.
#[test]
fn a_chunked_body_whose_end_is_read_may_be_dropped_after_its_data() {
    let addr = scripted_then_held(vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n3\r\nyou\r\n0\r\n\r\n",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let response = conn.send(Request::new("GET", "/")).await.unwrap();
        let mut body = response.into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"hello");
        drop(body);
        assert!(conn.is_reusable());
        let response = conn.send(Request::new("GET", "/")).await.unwrap();
        let mut body = response.into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"hi");
        assert_eq!(body.chunk().await.unwrap(), None);
        let trailers = body.trailers().unwrap();
        assert_eq!(trailers.get_str("x-t"), Some("1"));
        drop(body);
        assert!(conn.is_reusable());
        // A chunk left unread: the connection cannot go on.
        let response = conn.send(Request::new("GET", "/")).await.unwrap();
        let mut body = response.into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"hi");
        drop(body);
        assert!(!conn.is_reusable());
    });
}

/// A response whose end has arrived is over: a total timeout that passes
/// before the caller asks for that end fails nothing, whether the end came
/// with the last declared byte or as the last chunk.
#[test]
fn a_body_received_whole_outlives_the_total_timeout() {
    let replies: [&'static [u8]; 2] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ];
    for reply in replies {
        let addr = scripted_then_held(vec![reply]);
        run(async {
            let config = ClientConfig {
                total_timeout: Some(Duration::from_millis(500)),
                ..ClientConfig::default()
            };
            let mut conn = client_with(addr, config).await;
            let response = conn.send(get("/")).await.unwrap();
            let mut body = response.into_body();
            assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"ok");
            async_io::Timer::after(Duration::from_millis(700)).await;
            let end = body.chunk().await;
            assert!(matches!(end, Ok(None)), "{end:?}");
            drop(body);
            assert!(conn.is_reusable());
        });
    }
}

/// What a server sent or did before the first request, on a connection
/// left open a while (one opened ahead, as a pool does), is found before
/// that request is written: a stray answer is taken for none, a close
/// loses the request nothing.
#[test]
fn a_fresh_connection_closed_or_answered_before_its_first_request_refuses_it_unsent() {
    let replies: [&'static [u8]; 2] = [
        b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"",
    ];
    for reply in replies {
        let (done, server_done) = std::sync::mpsc::channel();
        let addr = raw_server(move |mut s| {
            s.write_all(reply).unwrap();
            drop(s);
            let _ = done.send(());
        });
        run(async {
            let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
            let (_, refused) = refused_once_done(tcp, &server_done).await;
            assert!(
                matches!(refused.error(), Error::NotReusable),
                "{:?}",
                refused.error()
            );
            // Said so as fits a connection that carried no request yet.
            let said = refused.error().to_string();
            assert!(!said.contains("another"), "{said}");
            assert!(said.contains("closed by the server"), "{said}");
            assert!(refused.into_request().is_some());
        });
    }
}

/// A request body stream that fails is this connection's I/O error, even
/// when what failed is a lithe error of another connection (a proxied
/// body's): the server did nothing wrong.
#[test]
fn an_upload_failing_with_another_connections_error_is_an_io_error() {
    let addr = scripted_then_held(vec![]);
    run(async {
        let mut conn = client_to(addr).await;
        let upstream = Error::Protocol(lithe::proto::Error::InvalidChunkSize);
        let failing = futures_lite::stream::once(Err(std::io::Error::from(upstream)));
        let request = Request::new("POST", "/").with_body(Body::stream(failing));
        let error = conn.send(request).await.unwrap_err();
        assert!(!error.is_protocol(), "{error:?}");
        let Error::Io(io) = &error else {
            panic!("{error:?}")
        };
        assert!(
            io.get_ref()
                .and_then(|e| e.downcast_ref::<Error>())
                .is_some_and(Error::is_protocol),
            "{error:?}"
        );
        // Through an io::Error and back (a relay's `?`), it is still this
        // connection's I/O error, not the other one's protocol error.
        let round_trip = Error::from(std::io::Error::from(error));
        assert!(
            matches!(&round_trip, Error::Io(io) if io.get_ref().is_some_and(|e| e.is::<Error>())),
            "{round_trip:?}"
        );
    });
}

#[test]
fn a_refusal_during_an_upload_is_returned_at_once() {
    // An error status, closing or not, and a redirect that closes (see
    // `send`).
    let replies: [&'static [u8]; 4] = [
        b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!",
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 8\r\n\r\ntoo big!",
        b"HTTP/1.1 300 Multiple Choices\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!",
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /b\r\nConnection: close\r\n\
          Content-Length: 8\r\n\r\ntoo big!",
    ];
    // Read, or discarded: the refused upload is not driven on, so the
    // connection carries nothing more and `discard` reads nothing (within a
    // limit the body is past, it would be refused as too large).
    for (reply, discard) in replies.into_iter().flat_map(|r| [(r, false), (r, true)]) {
        // The server refuses after the head and stops reading, but keeps the
        // connection open: the upload can never finish.
        let addr = raw_server(move |mut s| {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            s.write_all(reply).unwrap();
            std::thread::sleep(LIMIT);
        });
        run(async {
            let mut conn = client_to(addr).await;
            let started = std::time::Instant::now();
            let response = conn.send(upload(64 << 20)).await.unwrap();
            assert_eq!(
                &reply[9..12],
                response.status().as_u16().to_string().as_bytes()
            );
            match discard {
                false => assert_eq!(response.into_body().text(100).await.unwrap(), "too big!"),
                true => response.into_body().discard(4).await.unwrap(),
            }
            // Long before the 30 s write timeout.
            assert!(started.elapsed() < Duration::from_secs(3));
            assert!(!conn.is_reusable());
        });
    }
}

/// What a server seen through its transport does once it has taken the
/// first `accepts` bytes of the request.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// It closed with the rest unread: its kernel resets the connection, so
    /// every later write fails, and after its reply reads find the end.
    Reset,
    /// It stopped reading without closing: writes wait (a write timeout
    /// wakes the task), and after its reply reads wait too.
    Stall,
}

/// A server seen through its transport (once asked: see [`OnceAsked`]):
/// its `reply` can be read at once, and it takes the first `accepts` bytes of the request, then does `then`.
/// (Over real sockets which of the reply and the reset the client meets
/// first is timing; a reset can even discard a reply not yet sent.)
struct AnsweringPeer {
    reply: &'static [u8],
    read: usize,
    accepts: usize,
    then: Then,
}

impl AnsweringPeer {
    fn new(reply: &'static [u8], then: Then) -> Self {
        AnsweringPeer {
            reply,
            read: 0,
            accepts: 1024,
            then,
        }
    }
}

impl futures_lite::AsyncRead for AnsweringPeer {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let rest = &self.reply[self.read..];
        if rest.is_empty() && self.then == Then::Stall {
            return std::task::Poll::Pending;
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.read += n;
        std::task::Poll::Ready(Ok(n))
    }
}

impl futures_lite::AsyncWrite for AnsweringPeer {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match (self.accepts, self.then) {
            (0, Then::Reset) => {
                std::task::Poll::Ready(Err(std::io::ErrorKind::ConnectionReset.into()))
            }
            (0, Then::Stall) => std::task::Poll::Pending,
            (accepts, _) => {
                let n = buf.len().min(accepts);
                self.accepts -= n;
                std::task::Poll::Ready(Ok(n))
            }
        }
    }
    common::nothing_to_flush!();
}

#[test]
fn a_refusal_before_a_reset_is_returned_not_the_write_error() {
    // A server that refuses after the head and closes with the upload unread
    // makes its kernel reset the connection: the client's next write fails
    // with the refusal already in its receive queue. (Over real sockets which
    // the client meets first is timing; a reset can even discard a reply not
    // yet sent, so the transport here stands for the socket.)
    // Any answer there before the reset is the one returned: a refusal, a
    // redirect, or a 200 of a server that answered without reading the body.
    for (reply, status, text) in [
        (
            &b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!"[..],
            413,
            "too big!",
        ),
        (
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            307,
            "",
        ),
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 7\r\n\r\nignored",
            200,
            "ignored",
        ),
        // An interim answer before it is passed over there too (RFC 9110
        // §15.2), not returned as if final.
        (
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!",
            413,
            "too big!",
        ),
    ] {
        let transport = AnsweringPeer::new(reply, Then::Reset);
        run(async {
            let mut conn = ClientConnection::new(OnceAsked::new(transport), ClientConfig::default());
            let response = conn.send(upload(1 << 20)).await.unwrap();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.into_body().text(100).await.unwrap(), text);
            assert!(!conn.is_reusable());
        });
    }
    // The same while waiting for 100 Continue: a head too large for the
    // server to take whole fails to go out, and the refusal is returned.
    let transport = AnsweringPeer::new(
        b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        Then::Reset,
    );
    run(async {
        let mut conn = ClientConnection::new(OnceAsked::new(transport), ClientConfig::default());
        let request = upload(10)
            .with_header("x-pad", "p".repeat(2048))
            .with_header("expect", "100-continue");
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 431);
        assert!(!conn.is_reusable());
    });
    // An answer whose body ends at the close cannot be told whole once the
    // connection was reset (a reset may discard what the server had not sent):
    // the body's end is the reset's error, not a short success.
    let transport = AnsweringPeer::new(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial",
        Then::Reset,
    );
    run(async {
        let mut conn = ClientConnection::new(OnceAsked::new(transport), ClientConfig::default());
        let response = conn.send(upload(1 << 20)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let error = response.into_body().text(100).await.unwrap_err();
        assert!(
            matches!(&error, Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{error:?}"
        );
    });
    // A reset with nothing answered before it is the error it is.
    let transport = AnsweringPeer::new(b"", Then::Reset);
    run(async {
        let mut conn = ClientConnection::new(OnceAsked::new(transport), ClientConfig::default());
        let error = conn.send(upload(1 << 20)).await.unwrap_err();
        assert!(
            matches!(&error, Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "{error:?}"
        );
    });
}

/// The server answered (a 200 with a body, a 204) and stopped reading the
/// request body without closing: the upload times out, but the answer
/// stands, and only the connection is lost.
#[test]
fn an_answer_outlives_an_upload_that_then_times_out() {
    let config = ClientConfig {
        write_timeout: Some(Duration::from_millis(200)),
        ..ClientConfig::default()
    };
    for (reply, status, text) in [
        (
            &b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nignored"[..],
            200,
            "ignored",
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, ""),
    ] {
        let transport = AnsweringPeer::new(reply, Then::Stall);
        run(async {
            let mut conn = ClientConnection::new(OnceAsked::new(transport), config.clone());
            let response = conn.send(upload(1 << 20)).await.unwrap();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.into_body().text(100).await.unwrap(), text);
            assert!(!conn.is_reusable());
        });
    }
}

/// Without a write timeout an upload waits for a server that stops reading
/// for as long as it stops: here 300 ms, with 8 MiB still to go.
#[test]
fn no_write_timeout_waits_out_a_server_that_pauses_its_reading() {
    const BODY: usize = 8 << 20;
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
        let mut body = vec![0u8; BODY];
        s.read_exact(&mut body).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        hold_open(&mut s);
    });
    let config = ClientConfig {
        write_timeout: None,
        ..ClientConfig::default()
    };
    run(async {
        let mut conn = client_with(addr, config).await;
        let request = Request::new("POST", "/").with_body(vec![b'p'; BODY]);
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    });
}

/// A write timeout while the response still goes on is the error: the
/// server waits for the rest of the request, the client for the rest of the
/// response, and swallowing it would leave both waiting (for ever without a
/// read timeout).
#[test]
fn a_write_timeout_before_the_response_ends_is_the_error() {
    let config = ClientConfig {
        write_timeout: Some(Duration::from_millis(200)),
        read_timeout: None,
        ..ClientConfig::default()
    };
    let transport = AnsweringPeer::new(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        Then::Stall,
    );
    run(async {
        let mut conn = ClientConnection::new(OnceAsked::new(transport), config);
        let request = Request::new("POST", "/echo")
            .with_header("host", "t")
            .with_body(vec![b'u'; 1 << 20]);
        let response = conn.send(request).await.unwrap();
        let mut body = response.into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"hello");
        let error = body.chunk().await.unwrap_err();
        assert!(
            matches!(error, Error::Timeout(lithe::io::Timeout::Write)),
            "{error:?}"
        );
    });
}

/// Sends a PUT whose body, made by `pieces`, is declared 5 bytes long, by
/// the stream (`Body::sized_stream`) and then by a Content-Length field over
/// a stream of unknown length: the send fails with `expected` and the
/// connection is not used again, and the server, which records all it
/// reads, never gets the whole body (nor, perhaps, even the head).
fn a_body_off_its_declared_length_never_leaves_whole<S>(
    pieces: impl Fn() -> S,
    expected: lithe::proto::SendError,
) where
    S: futures_lite::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
{
    for declared_by_field in [false, true] {
        let (tx, rx) = std::sync::mpsc::channel();
        let addr = raw_server(move |mut s| {
            let mut seen = Vec::new();
            let _ = s.read_to_end(&mut seen);
            tx.send(seen).unwrap();
        });
        run(async {
            let config = ClientConfig {
                read_timeout: Some(LIMIT),
                ..ClientConfig::default()
            };
            let mut conn = client_with(addr, config).await;
            let request = Request::new("PUT", "/f").with_header("host", "t");
            let request = match declared_by_field {
                false => request.with_body(Body::sized_stream(5, pieces())),
                true => request
                    .with_header("content-length", "5")
                    .with_body(Body::stream(pieces())),
            };
            let error = conn.send(request).await.unwrap_err();
            assert!(
                matches!(&error, Error::Send(e) if *e == expected),
                "declared by field: {declared_by_field}: {error:?}"
            );
            assert!(!conn.is_reusable());
        });
        let seen = rx.recv_timeout(LIMIT).unwrap();
        let body = seen
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(&[][..], |end| &seen[end + 4..]);
        assert!(
            body.len() < 5,
            "declared by field: {declared_by_field}: {seen:?}"
        );
    }
}

/// Five bytes declared and yielded, then (after a pause in which the client
/// could flush them) a sixth: the piece that completes the length is held
/// back, and nothing the server could act on goes out.
#[test]
fn a_sized_body_that_overruns_never_leaves_a_complete_request_on_the_wire() {
    a_body_off_its_declared_length_never_leaves_whole(
        overrunning_stream,
        lithe::proto::SendError::BodyTooLong,
    );
}

/// A body that ends short of its declared length fails the send at once,
/// not after the server waited out the rest (the read timeout is 10 s).
#[test]
fn a_request_body_short_of_its_length_fails_at_once() {
    a_body_off_its_declared_length_never_leaves_whole(
        || futures_lite::stream::once(Ok(bytes::Bytes::from_static(b"abc"))),
        lithe::proto::SendError::BodyTooShort,
    );
}

/// A body on a method whose requests usually have none (GET, DELETE,
/// OPTIONS, HEAD: some APIs read a GET's body) goes out with its length,
/// as curl sends it, and the connection goes on.
#[test]
fn a_body_on_any_method_goes_with_its_length() {
    let methods = ["GET", "DELETE", "OPTIONS", "HEAD"];
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        for _ in 0..=methods.len() {
            let Some(head) = read_through(&mut s, b"\r\n\r\n") else {
                return;
            };
            let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
            let mut body = vec![
                0;
                if head.contains("content-length: 5\r\n") {
                    5
                } else {
                    0
                }
            ];
            s.read_exact(&mut body).unwrap();
            tx.send((head, body)).unwrap();
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        }
    });
    run(async {
        let mut conn = client_to(addr).await;
        for method in methods {
            let request = Request::new(method, "/search")
                .with_header("host", "t")
                .with_body("hello");
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.status().as_u16(), 204, "{method}");
            assert!(conn.is_reusable(), "{method}");
        }
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.status().as_u16(), 204);
    });
    for method in methods {
        let (head, body) = rx.recv_timeout(LIMIT).unwrap();
        assert!(head.starts_with(&method.to_ascii_lowercase()), "{head}");
        assert!(head.contains("\r\ncontent-length: 5\r\n"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert_eq!(body, b"hello", "{method}");
    }
    let (head, body) = rx.recv_timeout(LIMIT).unwrap();
    assert!(head.starts_with("get / "), "{head}");
    assert!(body.is_empty());
}

/// A Content-Length field the body disagrees with is refused before
/// anything is sent, and a sized stream under a Transfer-Encoding field the
/// caller set is held to its length: neither leaves a request the server
/// could take whole.
#[test]
fn framing_fields_the_body_disagrees_with_never_make_a_whole_request() {
    for case in ["length field", "coding field"] {
        let (tx, rx) = std::sync::mpsc::channel();
        let addr = raw_server(move |mut s| {
            let mut seen = Vec::new();
            let _ = s.read_to_end(&mut seen);
            tx.send(seen).unwrap();
        });
        run(async {
            let mut conn = client_to(addr).await;
            let request = Request::new("POST", "/").with_header("host", "t");
            let request = match case {
                "length field" => request
                    .with_header("content-length", "10")
                    .with_body("hello"),
                _ => request
                    .with_header("transfer-encoding", "chunked")
                    .with_body(Body::sized_stream(
                        5,
                        futures_lite::stream::iter([Ok(bytes::Bytes::from_static(b"abc"))]),
                    )),
            };
            let error = conn.send(request).await.unwrap_err();
            match case {
                // Refused whole, nothing sent: the connection stays as it was.
                "length field" => assert!(
                    matches!(
                        error,
                        Error::Send(proto::SendError::InvalidFraming(
                            proto::Error::ConflictingContentLength
                        ))
                    ),
                    "{error:?}"
                ),
                // The stream ends 2 bytes short of its stated 5.
                _ => {
                    assert!(
                        matches!(&error, Error::Io(e)
                            if e.kind() == std::io::ErrorKind::InvalidData
                                && e.to_string().contains("ended short")),
                        "{error:?}"
                    );
                    assert!(!conn.is_reusable(), "{error:?}");
                }
            }
            drop(conn);
        });
        let seen = String::from_utf8(rx.recv_timeout(LIMIT).unwrap()).unwrap();
        match case {
            "length field" => assert_eq!(seen, "", "nothing sent"),
            // Cut short wherever it stops: never with its last chunk.
            _ => assert!(!seen.contains("\r\n0\r\n"), "{seen}"),
        }
    }
}

#[test]
fn bytes_past_the_end_of_a_response_make_the_connection_unusable() {
    for (method, reply) in [
        (
            "HEAD",
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..],
        ),
        (
            "GET",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n",
        ),
    ] {
        let addr = scripted_then_held(vec![reply]);
        run(async {
            let mut conn = client_to(addr).await;
            let request = Request::new(method, "/").with_header("host", "t");
            let response = conn.send(request).await.unwrap();
            let body = response.into_body().bytes(100).await.unwrap();
            assert_eq!(body.len(), if method == "HEAD" { 0 } else { 2 });
            // What followed answers no request: never read as the next response.
            assert!(!conn.is_reusable(), "{method}");
        });
    }
}

#[test]
fn a_response_without_a_body_may_be_dropped_unread() {
    let server = server();
    run(async {
        let mut conn = client_to(server.local_addr()).await;
        // A HEAD answer, a 204 and a Content-Length: 0 answer: no body is read,
        // and the connection goes on.
        for (method, path, status) in [
            ("HEAD", "/", 200),
            ("GET", "/nocontent", 204),
            ("GET", "/say/", 200),
        ] {
            let response = conn
                .send(Request::new(method, path).with_header("host", "t"))
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status);
            drop(response);
            assert!(conn.is_reusable(), "{method} {path}");
        }
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(
            response.into_body().text(100).await.unwrap(),
            "Hello, World!"
        );
    });
    server.shutdown();
}

#[test]
fn server_and_client_over_an_in_memory_pipe() {
    run(async {
        let (server_end, client_end) = duplex(1024);
        let config = ServerConfig::default();
        let server = async {
            serve_connection(server_end, routes, &config).await.unwrap();
        };
        let client = async {
            let mut conn = ClientConnection::new(client_end, ClientConfig::default());
            for i in 0..10 {
                let body = format!("message {i}").repeat(300);
                let request = Request::new("POST", "/echo")
                    .with_header("host", "t")
                    .with_body(body.clone());
                let got = conn
                    .send(request)
                    .await
                    .unwrap()
                    .into_body()
                    .bytes(1 << 20)
                    .await
                    .unwrap();
                assert_eq!(got, body.as_bytes());
            }
        };
        // The server runs until the client is done and drops its end; both
        // must finish.
        futures_lite::future::zip(client, server).await;
    });
}

#[test]
fn an_upgrade_hands_over_the_connection() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    async fn upgrade(mut request: lithe::io::Request) -> Response {
        let Some(on_upgrade) = request.upgrade() else {
            return Response::new(StatusCode::BAD_REQUEST);
        };
        std::thread::spawn(move || {
            lithe::rt::block_on(async move {
                let mut io = on_upgrade.await.unwrap();
                let mut buf = [0u8; 5];
                io.read_exact(&mut buf).await.unwrap();
                io.write_all(&buf).await.unwrap();
                io.flush().await.unwrap();
            })
        });
        Response::new(StatusCode::SWITCHING_PROTOCOLS)
            .with_header("connection", "upgrade")
            .with_header("upgrade", "echo")
    }
    let server = server_with(upgrade, ServerConfig::default());
    let mut s = socket(server.local_addr());
    // The first bytes of the new protocol arrive with the head.
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nhel")
        .unwrap();
    let head = read_until(&mut s, "\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    s.write_all(b"lo").unwrap();
    assert_eq!(read_until(&mut s, "hello"), "hello");
    server.shutdown();
}

/// A raw server answering each request head with the next of `answers`
/// (the last one a switch, the bytes of the new protocol behind it), then
/// echoing four bytes: its address, and each head received, in lowercase.
fn switching_server(
    answers: Vec<&'static [u8]>,
) -> (SocketAddr, std::sync::mpsc::Receiver<String>) {
    let (heads, head) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        for answer in answers {
            let Some(request) = read_through(&mut s, b"\r\n\r\n") else {
                return;
            };
            let _ = heads.send(String::from_utf8_lossy(&request).to_ascii_lowercase());
            s.write_all(answer).unwrap();
        }
        let mut ping = [0u8; 4];
        if s.read_exact(&mut ping).is_ok() {
            s.write_all(&ping).unwrap();
        }
    });
    (addr, head)
}

/// A server that declines a proposed switch answers as HTTP (RFC 9110
/// §7.8 lets it ignore Upgrade): the connection goes on, and the next
/// request, proposing again, gets its answer on it.
#[test]
fn a_declined_upgrade_leaves_the_connection_reusable() {
    let (addr, head) = switching_server(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstill",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        for expected in ["no", "still"] {
            let request = Request::new("GET", "/chat").with_header("upgrade", "echo");
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.into_body().bytes(100).await.unwrap(), expected);
            assert!(conn.is_reusable());
        }
    });
    for _ in 0..2 {
        let proposal = head.recv_timeout(LIMIT).unwrap();
        assert!(proposal.contains("\r\nupgrade: echo\r\n"), "{proposal}");
    }
}

/// A proxy that answers a CONNECT in HTTP/1.0 (tinyproxy does) opens the
/// tunnel all the same: a 2xx to CONNECT switches whatever the version, and
/// HTTP/1.0's framing (a body to the close) never applies to it, so the
/// tunnel's first bytes are not read as a body.
#[test]
fn a_connect_answered_in_http10_opens_the_tunnel() {
    let (addr, _head) = switching_server(vec![
        b"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy\r\n\r\ntunnel",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let established = conn
            .send(Request::new("CONNECT", "example.net:443"))
            .await
            .unwrap();
        assert_eq!(established.status(), StatusCode::OK);
        assert_eq!(established.version(), lithe::proto::Version::Http10);
        assert_eq!(established.into_body().bytes(100).await.unwrap(), "");
        assert!(!conn.is_reusable());
        let (mut io, rest) = conn.into_parts();
        speaks_the_new_protocol(&mut io, &rest, b"tunnel").await;
    });
}

/// A proxy that refuses a CONNECT with a 407 and a body (an NTLM or
/// Negotiate challenge) expects the retry on the same connection: the 407
/// is an ordinary response, and the 200 to the retry opens the tunnel.
#[test]
fn a_connect_refused_with_407_keeps_the_connection_for_the_retry() {
    let (addr, head) = switching_server(vec![
        b"HTTP/1.1 407 Proxy Authentication Required\r\n\
          Proxy-Authenticate: Negotiate\r\nContent-Length: 12\r\n\r\nauth, please",
        b"HTTP/1.1 200 Connection established\r\n\r\ntunnel",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let refused = conn
            .send(Request::new("CONNECT", "example.net:443"))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
        assert_eq!(
            refused.into_body().bytes(100).await.unwrap(),
            "auth, please"
        );
        assert!(conn.is_reusable());
        let retry = Request::new("CONNECT", "example.net:443")
            .with_header("proxy-authorization", "Negotiate dG9rZW4=");
        let established = conn.send(retry).await.unwrap();
        assert_eq!(established.status(), StatusCode::OK);
        assert_eq!(established.into_body().bytes(100).await.unwrap(), "");
        assert!(!conn.is_reusable());
        let (mut io, rest) = conn.into_parts();
        speaks_the_new_protocol(&mut io, &rest, b"tunnel").await;
    });
    let first = head.recv_timeout(LIMIT).unwrap();
    assert!(
        first.starts_with("connect example.net:443 http/1.1\r\n"),
        "{first}"
    );
    let second = head.recv_timeout(LIMIT).unwrap();
    assert!(
        second.starts_with("connect example.net:443 http/1.1\r\n"),
        "{second}"
    );
    assert!(
        second.contains("\r\nproxy-authorization: negotiate dg9rzw4=\r\n"),
        "{second}"
    );
}

/// A 101 ends the response at its head: the client hands over the
/// connection, with the bytes of the new protocol that came behind the head,
/// and both sides speak it.
#[test]
fn a_101_hands_the_client_the_connection_and_the_bytes_behind_its_head() {
    let (addr, head) = switching_server(vec![
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nearly",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let request = Request::new("GET", "/").with_header("upgrade", "echo");
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "");
        assert!(!conn.is_reusable());
        let (mut io, rest) = conn.into_parts();
        speaks_the_new_protocol(&mut io, &rest, b"early").await;
    });
    // The proposal named its connection option, which the caller left out.
    let head = head.recv_timeout(LIMIT).unwrap();
    assert!(head.contains("\r\nupgrade: echo\r\n"), "{head}");
    assert!(head.contains("\r\nconnection: upgrade\r\n"), "{head}");
}

/// A 101 switches to a protocol the request offered, and names it (RFC
/// 9110 §7.8): one naming none, or another, is refused, as lithe's server
/// refuses to send such an answer, and the connection is not handed on as
/// if it spoke what the caller asked for. Protocol names compare without
/// regard to case, and the offer may span fields.
#[test]
fn a_101_naming_no_offered_protocol_is_refused() {
    for (answer, offers) in [
        (
            &b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n"[..],
            &["echo"][..],
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: other\r\n\r\n",
            &["echo"],
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo, other\r\n\r\n",
            &["echo", "h2c"],
        ),
    ] {
        let (addr, _head) = switching_server(vec![answer]);
        run(async {
            let mut conn = client_to(addr).await;
            let mut request = Request::new("GET", "/chat");
            for offer in offers {
                request = request.with_header("upgrade", *offer);
            }
            let refused = conn.send(request).await.map(|r| r.status());
            let shown = String::from_utf8_lossy(answer);
            assert!(
                matches!(
                    refused,
                    Err(Error::Protocol(lithe::proto::Error::UnexpectedSwitch))
                ),
                "{shown}: {refused:?}"
            );
            assert!(!conn.is_reusable(), "{shown}");
        });
    }
    // The same when the request's head failed to go out whole, the server
    // having answered and reset the connection: the answer read after the
    // failed write is held to the offer too.
    let transport = AnsweringPeer::new(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: other\r\n\r\n",
        Then::Reset,
    );
    run(async {
        let mut conn = ClientConnection::new(OnceAsked::new(transport), ClientConfig::default());
        let request = Request::new("GET", "/chat")
            .with_header("host", "a")
            .with_header("upgrade", "echo")
            .with_header("x-pad", "p".repeat(2048));
        let refused = conn.send(request).await.map(|r| r.status());
        assert!(
            matches!(
                refused,
                Err(Error::Protocol(lithe::proto::Error::UnexpectedSwitch))
            ),
            "{refused:?}"
        );
        assert!(!conn.is_reusable());
    });
    // Nor does the rest of a request go out first to a peer that switched
    // to something else: here one that stops reading after 1 KiB of a
    // 10 KB upload, the request's end queued, refused at once rather than
    // after the write timeout.
    let transport = AnsweringPeer::new(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: other\r\n\r\n",
        Then::Stall,
    );
    run(async {
        let config = ClientConfig {
            write_timeout: Some(Duration::from_secs(5)),
            ..ClientConfig::default()
        };
        let mut conn = ClientConnection::new(OnceAsked::new(transport), config);
        let request = Request::new("POST", "/chat")
            .with_header("host", "a")
            .with_header("upgrade", "echo")
            .with_body(vec![b'b'; 10_000]);
        let started = std::time::Instant::now();
        let refused = conn.send(request).await.map(|r| r.status());
        assert!(
            matches!(
                refused,
                Err(Error::Protocol(lithe::proto::Error::UnexpectedSwitch))
            ),
            "{refused:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(!conn.is_reusable());
    });
    // Offered in two fields, named in another case: taken.
    let (addr, _head) = switching_server(vec![
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: ECHO\r\n\r\n",
    ]);
    run(async {
        let mut conn = client_to(addr).await;
        let request = Request::new("GET", "/")
            .with_header("upgrade", "h2c")
            .with_header("upgrade", "echo");
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        drop(response);
        let (mut io, rest) = conn.into_parts();
        speaks_the_new_protocol(&mut io, &rest, b"").await;
    });
}

/// A server may answer 101 as soon as it has read the head (Node's upgrade
/// event does). The switch follows the request's end (RFC 7540 §3.2's rule
/// for h2c; proto refuses a 101 sooner, stricter than h11): a body already
/// queued whole goes out before the 101 comes back, so the new protocol's
/// first bytes follow it; a body still being written makes the 101
/// `UnexpectedSwitch`, never a connection handed over with the request cut
/// short.
#[test]
fn a_101_before_the_request_body_is_written_follows_the_request() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    async fn switch_early(mut server_end: lithe::io::DuplexStream) -> Vec<u8> {
        let mut seen = Vec::new();
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut more = [0u8; 256];
            let n = server_end.read(&mut more).await.unwrap();
            assert!(n > 0, "closed before the head's end");
            seen.extend_from_slice(&more[..n]);
        }
        server_end
            .write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n",
            )
            .await
            .unwrap();
        // The rest, until the client closes its end.
        let _ = server_end.read_to_end(&mut seen).await;
        let body_start = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        seen.split_off(body_start)
    }
    fn upgrade_with_body(len: usize) -> Request<Body> {
        Request::new("POST", "/")
            .with_header("host", "a")
            .with_header("upgrade", "foo")
            .with_body(vec![b'x'; len])
    }
    // 10,000 bytes: one batch, queued whole with the request's end, while
    // the pipe takes 1 KiB.
    run(async {
        let (server_end, client_end) = duplex(1024);
        let mut conn = ClientConnection::new(client_end, ClientConfig::default());
        let client = async move {
            let response = conn.send(upgrade_with_body(10_000)).await.unwrap();
            assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
            drop(response);
            let (mut io, _) = conn.into_parts();
            io.write_all(b"NEWPROTO").await.unwrap();
        };
        let ((), after_head) = futures_lite::future::zip(client, switch_early(server_end)).await;
        let mut expected = vec![b'x'; 10_000];
        expected.extend_from_slice(b"NEWPROTO");
        assert_eq!(after_head.len(), expected.len());
        assert!(after_head == expected, "the request body cut short");
    });
    // 100,000 bytes: still being written when the 101 comes.
    run(async {
        let (server_end, client_end) = duplex(1024);
        let mut conn = ClientConnection::new(client_end, ClientConfig::default());
        let client = async move {
            let error = conn.send(upgrade_with_body(100_000)).await.unwrap_err();
            assert!(
                matches!(error, Error::Protocol(proto::Error::UnexpectedSwitch)),
                "{error:?}"
            );
            assert!(!conn.is_reusable());
            drop(conn);
        };
        futures_lite::future::zip(client, switch_early(server_end)).await;
    });
}

#[test]
fn a_response_that_stops_arriving_times_out() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap();
        // Hold the connection open, silent, until the client gives up.
        let _ = s.read(&mut [0u8; 1024]);
    });
    run(async {
        let mut conn = client_reading_within(addr, Duration::from_millis(200)).await;
        let started = std::time::Instant::now();
        let response = conn.send(get("/")).await.unwrap();
        let error = response.into_body().bytes(100).await.unwrap_err();
        assert!(matches!(error, Error::Timeout(Timeout::Body)), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(!conn.is_reusable());
    });
}

/// A body whose read timed out stays failed: asked again after the rest
/// has arrived, it gives the same error, not the bytes after the gap, which
/// would make a body with a hole in it read on to a clean end.
#[test]
fn a_body_that_timed_out_fails_again_rather_than_read_past_the_gap() {
    // The rest goes out only once the client has timed out, and the client
    // asks again only once it is out: no race with the timer on a slow host.
    let (timed_out, time_out_seen) = std::sync::mpsc::channel::<()>();
    let (rest_sent, rest_written) = std::sync::mpsc::channel::<()>();
    let addr = raw_server(move |mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc")
            .unwrap();
        if time_out_seen.recv_timeout(LIMIT).is_ok() {
            let _ = s.write_all(b"def");
            let _ = rest_sent.send(());
        }
        hold_open(&mut s);
    });
    run(async {
        let mut conn = client_reading_within(addr, Duration::from_millis(200)).await;
        let mut body = conn.send(get("/")).await.unwrap().into_body();
        assert_eq!(&body.chunk().await.unwrap().unwrap()[..], b"abc");
        let first = body.chunk().await;
        assert!(
            matches!(first, Err(Error::Timeout(Timeout::Body))),
            "{first:?}"
        );
        timed_out.send(()).unwrap();
        rest_written.recv_timeout(LIMIT).unwrap();
        // On loopback, bytes written are in the client's socket by now.
        for _ in 0..2 {
            let again = body.chunk().await;
            assert!(
                matches!(again, Err(Error::Timeout(Timeout::Body))),
                "{again:?}"
            );
        }
        // Its debug form says so (for a log line about a stuck download).
        let said = format!("{body:?}");
        assert_eq!(said, "ResponseBody { done: false, failed: true }");
    });
}

/// A server that takes the request and never answers: the read timeout
/// bounds the wait for the response's first byte, and names the head.
#[test]
fn a_server_that_never_answers_is_a_head_timeout() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        // Silent, until the client gives up (or the server's read limit).
        let _ = s.read(&mut [0u8; 1024]);
    });
    run(async {
        let mut conn = client_reading_within(addr, Duration::from_millis(200)).await;
        let started = Instant::now();
        let error = conn.send(get("/")).await.unwrap_err();
        assert!(matches!(error, Error::Timeout(Timeout::Head)), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(!conn.is_reusable());
    });
}

/// The read timeout bounds each wait, not the whole body: a body trickling
/// in a byte every 20 ms for 2 s arrives whole under a 1 s timeout.
#[test]
fn the_read_timeout_bounds_each_wait_not_the_whole_body() {
    let addr = trickling(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
        &[b'b'; 100],
        1,
    );
    run(async {
        let mut conn = client_reading_within(addr, Duration::from_millis(1000)).await;
        let response = conn.send(get("/")).await.unwrap();
        let body = response.into_body().bytes(1000).await.unwrap();
        assert_eq!(&body[..], &[b'b'; 100][..]);
    });
}

/// A response begun while the request body still goes out: the server may
/// be reading that body before it sends more, so no read timeout runs on the
/// response body until the upload is done.
#[test]
fn the_response_body_is_not_timed_while_the_upload_goes_on() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n")
            .unwrap();
        if read_through(&mut s, b"\r\n0\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"1\r\nb\r\n0\r\n\r\n").unwrap();
    });
    run(async {
        let mut conn = client_reading_within(addr, Duration::from_millis(1000)).await;
        // The upload outlasts the read timeout.
        let request = Request::new("PUT", "/")
            .with_header("host", "t")
            .with_body(five_pieces_300_ms_apart());
        let response = conn.send(request).await.unwrap();
        assert_eq!(&response.into_body().bytes(10).await.unwrap()[..], b"ab");
    });
}

/// A response whole before the request body is all out: its body reports
/// its end once the upload is done, with no empty pieces while it waits,
/// and the connection goes on.
#[test]
fn a_response_whole_before_the_upload_ends_when_the_upload_does() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        if read_through(&mut s, b"\r\n0\r\n\r\n").is_none() {
            return;
        }
        hold_open(&mut s);
    });
    run(async {
        let mut conn = client_to(addr).await;
        let request = Request::new("PUT", "/")
            .with_header("host", "t")
            .with_body(five_pieces_300_ms_apart());
        let started = Instant::now();
        let mut body = conn.send(request).await.unwrap().into_body();
        let mut pieces = Vec::new();
        while let Some(piece) = body.chunk().await.unwrap() {
            pieces.push(piece);
        }
        assert_eq!(pieces, [&b"ok"[..]]);
        assert!(started.elapsed() >= Duration::from_millis(1200));
        assert!(conn.is_reusable());
    });
}

/// A response discarded while the request body still goes out, on a
/// connection that closes after it (the server's answer says so, or the
/// request did): `discard` reads no more of the response than it must, but
/// the upload still goes out whole before it returns, as `bytes` would
/// have it (before, it returned at once and the upload was cut short).
#[test]
fn discarding_a_response_on_a_closing_connection_still_finishes_the_upload() {
    for (request_closes, answer) in [
        (
            false,
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"[..],
        ),
        (true, &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..]),
    ] {
        let (whole, got) = std::sync::mpsc::channel();
        let addr = raw_server(move |mut s| {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            s.write_all(answer).unwrap();
            let _ = whole.send(read_through(&mut s, b"\r\n0\r\n\r\n"));
        });
        run(async {
            let mut conn = client_to(addr).await;
            let mut request = Request::new("PUT", "/")
                .with_header("host", "t")
                .with_body(five_pieces_300_ms_apart());
            if request_closes {
                request = request.with_header("connection", "close");
            }
            let started = Instant::now();
            let response = conn.send(request).await.unwrap();
            response.into_body().discard(1 << 20).await.unwrap();
            assert!(
                started.elapsed() >= Duration::from_millis(1200),
                "request closes {request_closes}: discard returned before the upload ended"
            );
            assert!(!conn.is_reusable());
            conn.close().await.unwrap();
        });
        let body = got.recv_timeout(LIMIT).unwrap();
        assert!(
            body.is_some_and(|body| body.ends_with(b"4\r\ndata\r\n0\r\n\r\n")
                && body.windows(4).filter(|w| w == b"data").count() == 5),
            "request closes {request_closes}: the upload was cut short"
        );
    }
}

/// A used connection the server resets while idle (a load balancer dropping
/// it) refuses the next request unsent, as one closed cleanly does: a
/// caller may send it again elsewhere.
#[test]
fn a_used_connection_reset_while_idle_refuses_the_next_request_unsent() {
    let (addr, answered, server_done) = answers_ok_then_resets();
    let socket = std::net::TcpStream::connect(addr).unwrap();
    let watched = socket.try_clone().unwrap();
    run(async {
        let tcp = lithe::rt::TcpStream::from(async_io::Async::new(socket).unwrap());
        let mut conn = ClientConnection::new(tcp, ClientConfig::default());
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(&response.into_body().bytes(10).await.unwrap()[..], b"ok");
        assert!(conn.is_reusable());
        answered.send(()).unwrap();
        server_done.recv_timeout(LIMIT).unwrap();
        until_delivered_to(&watched);
        let refused = refused_unsent(&mut conn, get("/")).await;
        assert!(
            matches!(refused.error(), Error::NotReusable),
            "{:?}",
            refused.error()
        );
        assert!(refused.into_request().is_some());
        assert!(!conn.is_reusable());
    });
}

#[test]
fn an_early_answer_to_a_large_upload_reaches_the_client() {
    let server = server();
    run(async {
        let mut conn = client_to(server.local_addr()).await;
        let request = Request::new("POST", "/ignore")
            .with_header("host", "t")
            .with_body(vec![b'u'; 4 << 20]);
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            &response.into_body().bytes(100).await.unwrap()[..],
            b"ignored"
        );
        assert!(!conn.is_reusable());
    });
    server.shutdown();
}

#[test]
fn an_upload_to_a_server_that_stops_reading_times_out() {
    // A whole body, and a body stream that is always ready and never ends:
    // either way the client writes as it goes (so the write times out), and
    // does not gather the stream in memory.
    let endless = || {
        let chunks = futures_lite::stream::repeat_with(|| Ok(bytes::Bytes::from(vec![b'e'; 8192])));
        Body::stream(chunks)
    };
    for body in [Body::from(vec![0u8; 64 << 20]), endless()] {
        // Accept, then never read: the upload fills the socket buffers.
        let addr = raw_server(|s| {
            std::thread::sleep(LIMIT);
            drop(s);
        });
        run(async {
            let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
            let config = ClientConfig {
                write_timeout: Some(Duration::from_millis(200)),
                ..ClientConfig::default()
            };
            let mut conn = ClientConnection::new(tcp, config);
            let request = Request::new("POST", "/")
                .with_header("host", "t")
                .with_body(body);
            let started = std::time::Instant::now();
            let error = conn.send(request).await.unwrap_err();
            assert!(
                matches!(error, Error::Timeout(lithe::io::Timeout::Write)),
                "{error:?}"
            );
            assert!(started.elapsed() < Duration::from_secs(5));
        });
    }
}

/// Header values borrowed for the call go out whole: the server answers with
/// values borrowed from the request, the client sends values borrowed from
/// its own strings, a short one (held inline) and one longer than the inline
/// room (copied to the heap).
#[test]
fn header_values_borrowed_for_the_call_are_sent_whole() {
    async fn echo_fields(request: Request<lithe::io::Incoming>) -> Response {
        let mut response = Response::new(StatusCode::OK);
        for name in ["x-short", "x-long"] {
            let value = request.headers().get(name).unwrap_or_default();
            response = response.with_header(format!("echo-{name}"), value);
        }
        response
    }
    let server = server_with(echo_fields, ServerConfig::default());
    let addr = server.local_addr();
    let short = String::from("tok-1");
    let long = format!("Bearer {}", "8f2a4c1e9b7d".repeat(8));
    run(async {
        let mut conn = client_to(addr).await;
        let request = get("/")
            .with_header("x-short", short.as_str())
            .with_header("x-long", &long);
        let response = conn.send(request).await.unwrap();
        let headers = response.headers();
        assert_eq!(headers.get("echo-x-short"), Some(short.as_bytes()));
        assert_eq!(headers.get("echo-x-long"), Some(long.as_bytes()));
    });
}

/// Trailer fields go both ways: the client's request body carries them, the
/// service reads them and answers with a body that carries them back, which
/// the client reads once the body is done.
#[test]
fn trailers_travel_with_request_and_response_bodies() {
    use lithe::io::{Headers, Incoming};
    async fn mirror(request: Request<Incoming>) -> Response {
        let mut body = request.into_body();
        let mut data = Vec::new();
        while let Some(chunk) = body.chunk().await.unwrap() {
            data.extend_from_slice(&chunk);
        }
        let mut echoed = Headers::new();
        for (name, value) in body.trailers().unwrap_or_default().iter() {
            echoed.append(format!("echo-{name}"), value);
        }
        Response::new(StatusCode::OK)
            .with_body(Body::from(data).with_trailers(async move { echoed }))
    }
    let server = server_with(mirror, ServerConfig::default());
    let addr = server.local_addr();
    run(async {
        let mut conn = client_to(addr).await;
        // Made after a while: the upload waits for them, writing meanwhile.
        let body = Body::from("payload").with_trailers(async {
            async_io::Timer::after(Duration::from_millis(50)).await;
            let mut trailers = Headers::new();
            trailers.append("checksum", "5f2b");
            trailers
        });
        let request = Request::new("POST", "/").with_body(body);
        let mut body = conn.send(request).await.unwrap().into_body();
        let mut data = Vec::new();
        while let Some(chunk) = body.chunk().await.unwrap() {
            data.extend_from_slice(&chunk);
        }
        assert_eq!(data, b"payload");
        let trailers: Vec<(String, Vec<u8>)> = body
            .trailers()
            .expect("the answer's trailers")
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect();
        assert_eq!(trailers, [("echo-checksum".to_string(), b"5f2b".to_vec())]);
        // The connection goes on.
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    });
    server.shutdown();
}

/// A body given trailers twice carries the later ones only; the earlier
/// future (one that never ends, here) is dropped unawaited.
#[test]
fn trailers_given_twice_are_the_later_ones() {
    use lithe::io::Headers;
    let server = server_with(
        |_: Request<lithe::io::Incoming>| async {
            let later = async {
                let mut trailers = Headers::new();
                trailers.append("b", "2");
                trailers
            };
            let body = Body::from("x")
                .with_trailers(futures_lite::future::pending())
                .with_trailers(later);
            Response::new(StatusCode::OK).with_body(body)
        },
        ServerConfig::default(),
    );
    let addr = server.local_addr();
    run(async {
        let mut conn = client_to(addr).await;
        let mut body = conn.send(get("/")).await.unwrap().into_body();
        assert_eq!(body.chunk().await.unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(body.chunk().await.unwrap(), None);
        let trailers: Vec<(String, Vec<u8>)> = body
            .trailers()
            .expect("the answer's trailers")
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect();
        assert_eq!(trailers, [("b".to_string(), b"2".to_vec())]);
    });
    server.shutdown();
}

/// A request passing on a Content-Length given as a list of one value, or as
/// the same field twice, or with a leading zero (as a recipient accepts
/// them, by value), goes out with one
/// field of digits, as a sender must send it; lengths that disagree are an
/// error, with nothing sent.
#[test]
fn a_content_length_given_twice_goes_out_once() {
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        let Some((head, body)) = read_request(&mut s, 5) else {
            return;
        };
        s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        // What comes after the refused request: the next one, whole.
        let next = read_through(&mut s, b"\r\n\r\n").unwrap_or_default();
        s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        tx.send((head, body, next)).unwrap();
        hold_open(&mut s);
    });
    run(async {
        let mut conn = client_to(addr).await;
        let request = Request::new("POST", "/")
            .with_header("content-length", "5, 05")
            .with_header("Content-Length", "5")
            .with_body("hello");
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let disagreeing = Request::new("POST", "/")
            .with_header("content-length", "5, 6")
            .with_body("hello");
        let refused = conn.send(disagreeing).await.unwrap_err();
        assert!(
            matches!(
                refused,
                Error::Send(proto::SendError::InvalidFraming(
                    proto::Error::ConflictingContentLength
                ))
            ),
            "{refused:?}"
        );
        let response = conn.send(Request::new("GET", "/next")).await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    });
    let (head, body, next) = rx.recv_timeout(LIMIT).unwrap();
    // Nothing of the refused request went out before the next one.
    assert!(next.starts_with(b"GET /next HTTP/1.1\r\n"), "{next:?}");
    assert_eq!(
        head.to_ascii_lowercase().matches("content-length").count(),
        1,
        "{head}"
    );
    assert!(head.contains("content-length: 5\r\n"), "{head}");
    assert_eq!(body, b"hello");
}

/// A server gone away is a write error, never a `SIGPIPE`: a host that left
/// the signal at its default (a C program embedding a Rust library; Rust's
/// own `main` ignores it) would die of it. Runs again as a child of this test
/// binary, where the signal is set back to its default.
#[cfg(target_os = "linux")]
#[test]
fn writing_to_a_server_gone_away_is_an_error_not_a_sigpipe() {
    const CHILD: &str = "LITHE_TEST_SIGPIPE_CHILD";
    const NAME: &str = "writing_to_a_server_gone_away_is_an_error_not_a_sigpipe";
    if std::env::var_os(CHILD).is_none() {
        use std::os::unix::process::ExitStatusExt;
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--test-threads=1", "--nocapture"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let status = child.status;
        assert!(
            status.success(),
            "{status:?} (signal {:?})",
            status.signal()
        );
        // The child ran this test, not none (a stale NAME would match nothing).
        let report = String::from_utf8_lossy(&child.stdout);
        assert!(report.contains("test result: ok. 1 passed"), "{report}");
        return;
    }
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: sets a disposition this process alone depends on, before any
    // thread of its own writes to a socket.
    unsafe { signal(SIGPIPE, SIG_DFL) };
    // Accepted and closed before the client writes: its close is a FIN
    // (nothing unread), the first write the client makes is answered with a
    // reset, and the next one fails with EPIPE, which is what raises the
    // signal. (Closed with the request unread, it would reset at once, and
    // the failure would be ECONNRESET, which raises none.)
    let (closed, was_closed) = std::sync::mpsc::channel();
    let addr = raw_server(move |s| {
        drop(s);
        closed.send(()).unwrap();
    });
    run(async {
        let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
        was_closed.recv_timeout(LIMIT).unwrap();
        // Time for the FIN to reach the client's socket.
        async_io::Timer::after(Duration::from_millis(50)).await;
        let mut conn = ClientConnection::new(tcp, ClientConfig::default());
        let result = conn.send(upload(4 << 20)).await;
        assert!(result.is_err(), "{:?}", result.map(|r| r.status()));
    });
}

/// A server that trickles a response head, each byte well within the read
/// timeout, is held to the head timeout from the head's first byte: it
/// cannot hold the request for as long as it keeps trickling.
#[test]
fn a_trickled_response_head_is_held_to_the_head_timeout() {
    /// Sends a GET under `config` to a server that trickles its answer's
    /// head over about 1.2 s: the status, or the error, and how long it took.
    fn against_a_trickling_server(config: ClientConfig) -> (Result<u16, Error>, Duration) {
        let addr = raw_server(|mut s| {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
            for _ in 0..60 {
                std::thread::sleep(Duration::from_millis(20));
                if s.write_all(b"x").is_err() {
                    return;
                }
            }
            let _ = s.write_all(b": 1\r\nContent-Length: 0\r\n\r\n");
        });
        run(async {
            let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
            let mut conn = ClientConnection::new(tcp, config);
            let started = Instant::now();
            let result = conn.send(get("/")).await.map(|r| r.status().as_u16());
            (result, started.elapsed())
        })
    }
    // Each byte is far within the read timeout: without a head timeout the
    // head is waited for however long it trickles.
    // (Nor with one past what the clock counts.)
    for head_timeout in [None, Some(Duration::MAX)] {
        let unbounded = ClientConfig {
            head_timeout,
            ..ClientConfig::default()
        };
        let (result, _) = against_a_trickling_server(unbounded);
        assert_eq!(result.unwrap(), 200, "{head_timeout:?}");
    }
    let bounded = ClientConfig {
        head_timeout: Some(Duration::from_millis(300)),
        ..ClientConfig::default()
    };
    let (result, took) = against_a_trickling_server(bounded);
    let error = result.unwrap_err();
    assert!(
        matches!(error, Error::Timeout(lithe::io::Timeout::Head)),
        "{error:?}"
    );
    // The head timeout, with 2 s of room for a loaded machine.
    assert!(took < Duration::from_millis(2300), "{took:?}");
}

/// Each head is held to the head timeout on its own: a `100 Continue` that
/// trickles in two pieces is whole well within it, and the upload and final
/// answer that follow may take longer than the head timeout in all.
#[test]
fn the_head_timeout_bounds_each_head_not_the_upload_after_100_continue() {
    let addr = raw_server(|mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        let _ = s.write_all(b"HTTP/1.1 100 Cont");
        std::thread::sleep(Duration::from_millis(50));
        let _ = s.write_all(b"inue\r\n\r\n");
        // The body is read slowly: 2.1 s in all, twice the head timeout.
        let mut body = [0u8; 4];
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(700));
            if s.read_exact(&mut body).is_err() {
                return;
            }
        }
        let _ = s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    });
    // Wide enough that the 100's two pieces arrive within it on a loaded
    // machine.
    let config = ClientConfig {
        head_timeout: Some(Duration::from_millis(1000)),
        ..ClientConfig::default()
    };
    run(async {
        let tcp = connect("127.0.0.1", addr.port(), LIMIT).await.unwrap();
        let mut conn = ClientConnection::new(tcp, config);
        let pieces = futures_lite::stream::iter(
            [b"abcd", b"efgh", b"ijkl"].map(|p| Ok(bytes::Bytes::from_static(p))),
        );
        let request = Request::new("PUT", "/")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body(Body::sized_stream(12, pieces));
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
    });
}

/// A server that answered in HTTP/1.0 on this connection sends no
/// `100 Continue` (RFC 9110 §15.2 forbids a 1xx to an HTTP/1.0 client, and
/// it cannot know the expectation): the body of a request expecting one
/// goes at once, as curl sends it, not after the continue timeout (with
/// one of 30 s the server's read of the body, bounded by `LIMIT`, failed
/// first).
#[test]
fn no_wait_for_100_from_a_server_that_answered_in_http10() {
    let (bodies, body) = std::sync::mpsc::channel();
    let addr = raw_server(move |mut s| {
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let Some((_, received)) = read_request(&mut s, 5) else {
            return;
        };
        let _ = bodies.send((received, Instant::now()));
        s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\ndone")
            .unwrap();
        hold_open(&mut s);
    });
    run(async {
        let mut conn = patient_for_100(addr).await;
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "ok");
        let sent_at = Instant::now();
        let request = Request::new("PUT", "/")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body("hello");
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "done");
        let (received, arrived_at) = body.recv_timeout(LIMIT).unwrap();
        assert_eq!(received, b"hello");
        let waited = arrived_at - sent_at;
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    });
}

/// A final answer other than 2xx before `100 Continue` refuses the body,
/// even kept alive, and whatever its own body: not a byte of the request
/// body goes out, and the connection carries nothing more (a server that
/// skipped the body would read it as the next request).
#[test]
fn a_final_answer_before_100_continue_keeps_the_body_back() {
    let answers: [&[u8]; 3] = [
        b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\ndenied",
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n",
    ];
    for answer in answers {
        let (seen, after) = std::sync::mpsc::channel();
        let addr = raw_server(move |mut s| {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            s.write_all(answer).unwrap();
            let _ = seen.send(read_for_a_while(&mut s));
        });
        run(async {
            let mut conn = patient_for_100(addr).await;
            let request = Request::new("PUT", "/a")
                .with_header("host", "t")
                .with_header("expect", "100-continue")
                .with_body("hello");
            let response = conn.send(request).await.unwrap();
            let status = response.status().as_u16();
            let body = response.into_body().bytes(100).await.unwrap();
            let expected: &[u8] = if status == 401 { b"denied" } else { b"" };
            assert_eq!(&body[..], expected, "{status}");
            assert!(!conn.is_reusable(), "{status}");
            let error = conn.send(get("/")).await.unwrap_err();
            assert!(matches!(error, Error::NotReusable), "{status}: {error:?}");
        });
        let got = after.recv_timeout(LIMIT).unwrap();
        assert!(got.is_empty(), "after {answer:?} the server got {got:?}");
    }
}

/// A chunked request answered in HTTP/1.0, which may not read chunks (RFC
/// 9112 §6.1), leaves the connection unusable: how much of the body the
/// server took for requests cannot be known. Answered before the body went
/// (an early 2xx instead of `100 Continue`), the body is not sent at all.
#[test]
fn a_chunked_request_answered_in_http10_is_not_reused() {
    for expect in [false, true] {
        let (seen, after) = std::sync::mpsc::channel();
        let addr = raw_server(move |mut s| {
            if read_through(&mut s, b"\r\n\r\n").is_none() {
                return;
            }
            // As a server that takes the request for one without a body.
            s.write_all(
                b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
            )
            .unwrap();
            let _ = seen.send(read_for_a_while(&mut s));
        });
        run(async {
            let mut conn = patient_for_100(addr).await;
            let pieces = futures_lite::stream::iter([Ok(bytes::Bytes::from("data"))]);
            let mut request = Request::new("POST", "/")
                .with_header("host", "t")
                .with_body(Body::stream(pieces));
            if expect {
                request = request.with_header("expect", "100-continue");
            }
            let response = conn.send(request).await.unwrap();
            assert_eq!(response.into_body().bytes(100).await.unwrap(), "ok");
            assert!(!conn.is_reusable(), "expect: {expect}");
        });
        let got = after.recv_timeout(LIMIT).unwrap();
        if expect {
            assert!(got.is_empty(), "the server got {got:?}");
        }
    }
}

/// A `100 Continue` that comes after the continue timeout sent the body is
/// skipped, not taken for the answer: the final answer after it is, and the
/// connection carries the next request.
#[test]
fn a_late_100_is_skipped_and_the_connection_reused() {
    let addr = raw_server(|mut s| {
        let Some(_) = read_request(&mut s, 5) else {
            return;
        };
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        if read_through(&mut s, b"\r\n\r\n").is_none() {
            return;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
            .unwrap();
        hold_open(&mut s);
    });
    let config = ClientConfig {
        continue_timeout: Duration::from_millis(50),
        ..ClientConfig::default()
    };
    run(async {
        let mut conn = client_with(addr, config).await;
        let request = Request::new("PUT", "/")
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body("hello");
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "ok");
        assert!(conn.is_reusable());
        let response = conn.send(get("/")).await.unwrap();
        assert_eq!(response.into_body().bytes(100).await.unwrap(), "next");
    });
}
