//! Faults and load on real sockets (127.0.0.1 only, bounded, self-stopping):
//! a slowloris attack does not starve normal clients, idle keep-alive connections
//! cost little memory, and a peer that resets or stops mid-message produces a
//! clear error on the other side, for both the server and the client roles.
//!
//! Figures (slowloris p99, bytes per idle connection) are printed; run with
//! `cargo test --release --test faults -- --nocapture` to see them.
#![cfg(all(feature = "server", feature = "client"))]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{LIMIT, reset, run, server, server_with, socket};
use lithe::io::{Request, Response, ServerConfig};
use lithe::proto::StatusCode;
use lithe::rt::{ConnectConfig, Url, open};

/// One GET on a fresh connection; the time it took.
fn timed_get(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut s = socket(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("Hello, World!"), "{response}");
    start.elapsed()
}

/// Held by the tests that measure (latency, memory) for their whole run, so
/// they do not measure each other.
static MEASURING: Mutex<()> = Mutex::new(());

fn measuring() -> std::sync::MutexGuard<'static, ()> {
    MEASURING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn a_slowloris_attack_does_not_starve_normal_clients() {
    const ATTACKERS: usize = 500;
    let _measuring = measuring();
    // Both ends of each attacker's connection live in this process.
    let limit = raise_open_files_limit();
    assert!(
        limit > 2 * ATTACKERS + 256,
        "too few file descriptors ({limit})"
    );
    let server = server();
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));

    // 500 connections each trickling a head that never ends, one byte per round;
    // any the server drops are reopened.
    let (opened, all_open) = mpsc::channel();
    let attack = {
        let stop = stop.clone();
        thread::spawn(move || {
            let open = || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                    .unwrap();
                s
            };
            let mut conns: Vec<TcpStream> = (0..ATTACKERS).map(|_| open()).collect();
            opened.send(()).unwrap();
            let mut reopened = 0;
            while !stop.load(Ordering::Relaxed) {
                for conn in conns.iter_mut() {
                    if conn.write_all(b"a").is_err() {
                        *conn = open();
                        reopened += 1;
                    }
                }
                thread::sleep(Duration::from_millis(20));
            }
            reopened
        })
    };
    all_open
        .recv_timeout(LIMIT)
        .expect("the attack's connections open");

    let mut latencies: Vec<Duration> = (0..200).map(|_| timed_get(addr)).collect();
    stop.store(true, Ordering::Relaxed);
    attack.join().unwrap();
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!("slowloris ({ATTACKERS} trickling connections): normal GET p50 {p50:?}, p99 {p99:?}");
    assert!(
        p99 < Duration::from_secs(1),
        "normal clients starved: p99 {p99:?}"
    );
    server.shutdown();
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 1024
}

/// Raises this process's soft limit on open descriptors to its hard limit
/// (many systems start processes at 1,024, too few for the tests that open
/// thousands of sockets), and returns the limit now in force.
#[cfg(unix)]
fn raise_open_files_limit() -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    // An unlimited hard limit (`None`) may still refuse an unlimited soft
    // one (macOS caps it at OPEN_MAX): the larger first, then that cap.
    let now = [maximum, Some(maximum.map_or(10_240, |n| n.min(10_240)))]
        .into_iter()
        .find(|&target| {
            setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: target,
                    maximum,
                },
            )
            .is_ok()
        })
        .unwrap_or(current);
    now.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Elsewhere the limit is left as it is, unknown here.
#[cfg(not(unix))]
fn raise_open_files_limit() -> usize {
    usize::MAX
}

#[test]
fn idle_keep_alive_connections_cost_little_memory() {
    let _measuring = measuring();
    // Both ends live in this process: two descriptors per connection.
    let count = 5000.min(raise_open_files_limit().saturating_sub(256) / 2);
    assert!(count >= 400, "too few file descriptors to test ({count})");
    let server = server();
    let addr = server.local_addr();
    // Warm up allocator and runtime so the baseline is not startup cost.
    for _ in 0..50 {
        timed_get(addr);
    }
    thread::sleep(Duration::from_millis(200));
    let before = rss_bytes();
    let mut idle = Vec::with_capacity(count);
    for _ in 0..count {
        let mut s = socket(addr);
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while !seen.ends_with(b"Hello, World!") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "server closed a keep-alive connection");
            seen.extend_from_slice(&buf[..n]);
        }
        idle.push(s);
    }
    thread::sleep(Duration::from_millis(500));
    let after = rss_bytes();
    let per_connection = after.saturating_sub(before) / count;
    println!(
        "{count} idle keep-alive connections: RSS {} KiB -> {} KiB, {per_connection} bytes each",
        before / 1024,
        after / 1024
    );
    // hyper holds about 10.8 KB per idle connection; stay well under it.
    assert!(
        per_connection < 8 * 1024,
        "{per_connection} bytes per idle connection"
    );
    // Still served: the connections were idle, not dead.
    let mut last = idle.pop().unwrap();
    last.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    last.read_to_string(&mut response).unwrap();
    assert!(response.ends_with("Hello, World!"));
    drop(idle);
    server.shutdown();
}

/// What the service of [`reporting_server`] tells the test.
enum Report {
    /// The request reached the service, which now reads its body.
    Started,
    /// The body's length, or the error reading it.
    Body(Result<usize, lithe::io::Error>),
}

/// A server whose service reads the whole body and reports what it got.
fn reporting_server() -> (lithe::rt::Server, mpsc::Receiver<Report>) {
    let (tx, rx) = mpsc::channel();
    let tx = Arc::new(Mutex::new(tx));
    let service = move |request: Request| {
        let tx = tx.clone();
        async move {
            tx.lock().unwrap().send(Report::Started).unwrap();
            let result = request.into_body().bytes(1 << 20).await;
            let report = result.map(|b| b.len());
            tx.lock().unwrap().send(Report::Body(report)).unwrap();
            Response::new(StatusCode::OK).with_body("done")
        }
    };
    (server_with(service, ServerConfig::default()), rx)
}

/// Waits for the service's report on the body (after its start).
fn body_report(reports: &mpsc::Receiver<Report>) -> Result<usize, lithe::io::Error> {
    loop {
        match reports.recv_timeout(LIMIT).expect("the service finished") {
            Report::Started => continue,
            Report::Body(result) => return result,
        }
    }
}

#[test]
fn server_role_a_client_resetting_mid_body_is_an_error_for_the_service() {
    let (server, reports) = reporting_server();
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    // Reset once the service is reading the body, not before the head is read.
    assert!(matches!(reports.recv_timeout(LIMIT), Ok(Report::Started)));
    reset(s);
    let report = body_report(&reports);
    assert!(
        report.as_ref().is_err_and(reset_or_cut_short),
        "a reset body reached the service as {report:?}"
    );
    server.shutdown();
}

#[test]
fn server_role_a_truncated_chunked_body_is_an_error_for_the_service() {
    let (server, reports) = reporting_server();
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let report = body_report(&reports);
    assert!(
        report.as_ref().is_err_and(cut_short),
        "a truncated chunked body reached the service as {report:?}"
    );
    server.shutdown();
}

#[test]
fn server_role_content_length_longer_than_the_body_is_an_error_for_the_service() {
    let (server, reports) = reporting_server();
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\nonly twenty bytes...")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let report = body_report(&reports);
    assert!(
        report.as_ref().is_err_and(cut_short),
        "a short body reached the service as {report:?}"
    );
    server.shutdown();
}

/// A raw server that answers one request with `head_and_partial_body`, then ends
/// the connection with a reset (`rst`) or an orderly close.
fn misbehaving_server(head_and_partial_body: &'static [u8], rst: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        s.write_all(head_and_partial_body).unwrap();
        thread::sleep(Duration::from_millis(100));
        if rst {
            reset(s)
        } else {
            s.shutdown(Shutdown::Write).unwrap()
        }
    });
    addr
}

/// A body that ended before its end: the peer closed the connection.
fn cut_short(error: &lithe::io::Error) -> bool {
    matches!(
        error,
        lithe::io::Error::Protocol(lithe::proto::Error::IncompleteMessage)
    )
}

/// A body the peer's reset ended: the reset itself, or (if the reset came
/// as the end of the stream) a body cut short; never a timeout or a success.
fn reset_or_cut_short(error: &lithe::io::Error) -> bool {
    cut_short(error)
        || matches!(error, lithe::io::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
}

fn client_body_result(addr: SocketAddr) -> Result<usize, lithe::io::Error> {
    run(async move {
        let url = Url::parse(&format!("http://{addr}/")).unwrap();
        let mut conn = open(&url, &ConnectConfig::default()).await.unwrap();
        // The head arrives whole: only the body may fail.
        let response = conn
            .send(Request::new("GET", "/").with_header("host", "t"))
            .await
            .expect("the response head is read");
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().bytes(1 << 20).await.map(|b| b.len())
    })
}

#[test]
fn client_role_a_server_resetting_mid_body_is_an_error() {
    let addr = misbehaving_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        true,
    );
    let result = client_body_result(addr);
    assert!(
        result.as_ref().is_err_and(reset_or_cut_short),
        "a reset body was read as {result:?}"
    );
}

#[test]
fn client_role_a_truncated_chunked_body_is_an_error() {
    let addr = misbehaving_server(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        false,
    );
    let result = client_body_result(addr);
    assert!(
        result.as_ref().is_err_and(cut_short),
        "a truncated chunked body was read as {result:?}"
    );
}

#[test]
fn client_role_content_length_longer_than_the_body_is_an_error() {
    let addr = misbehaving_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly twenty bytes...",
        false,
    );
    let result = client_body_result(addr);
    assert!(
        result.as_ref().is_err_and(cut_short),
        "a short body was read as {result:?}"
    );
}

/// A transport over an in-memory pipe that behaves as TLS does toward a peer that
/// stopped reading: writes stall once `room` bytes went out, and closing never
/// completes (close_notify has nowhere to go).
struct StuckPeer {
    pipe: lithe::io::DuplexStream,
    room: usize,
}

read_from_pipe!(StuckPeer);

impl futures_lite::AsyncWrite for StuckPeer {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = buf.len().min(self.room);
        if n == 0 {
            return std::task::Poll::Pending;
        }
        self.room -= n;
        std::pin::Pin::new(&mut self.pipe).poll_write(cx, &buf[..n])
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.pipe).poll_flush(cx)
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Pending
    }
}

/// A transport whose close completes only once the peer's stream has been
/// read to its end, as a TLS close can wait for the peer's closure alert
/// behind the data still coming.
struct ClosesAfterTheEnd {
    pipe: lithe::io::DuplexStream,
    ended: bool,
    closing: Option<std::task::Waker>,
}

impl futures_lite::AsyncRead for ClosesAfterTheEnd {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let read = std::pin::Pin::new(&mut self.pipe).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(0)) = read {
            self.ended = true;
            if let Some(closing) = self.closing.take() {
                closing.wake();
            }
        }
        read
    }
}

impl futures_lite::AsyncWrite for ClosesAfterTheEnd {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.pipe).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.pipe).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if !self.ended {
            self.closing = Some(cx.waker().clone());
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.pipe).poll_close(cx)
    }
}

/// A client closing a connection whose server still sends (a large answer
/// abandoned) reads all of it, not only the first read's worth, so that a
/// close waiting for the end completes, well within the write timeout.
#[test]
fn a_client_closing_reads_all_the_server_still_sends() {
    use futures_lite::AsyncWriteExt;
    let (mut server_end, client_end) = lithe::io::duplex(1 << 20);
    let transport = ClosesAfterTheEnd {
        pipe: client_end,
        ended: false,
        closing: None,
    };
    let config = lithe::io::ClientConfig {
        write_timeout: Some(Duration::from_secs(2)),
        ..lithe::io::ClientConfig::default()
    };
    let conn = lithe::io::ClientConnection::new(transport, config);
    run(async {
        // More than one round of reads (64 KiB) takes.
        server_end.write_all(&vec![b'x'; 300 << 10]).await.unwrap();
        drop(server_end);
        let started = Instant::now();
        conn.close().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
    });
}

#[test]
fn closing_a_connection_never_waits_on_a_peer_that_does_not_read() {
    use futures_lite::AsyncWriteExt;
    let config = ServerConfig {
        write_timeout: Some(Duration::from_millis(200)),
        ..ServerConfig::default()
    };
    // With room for the response, only the close is stuck; with none, the flush
    // times out first and the close must not be waited on at all.
    for room in [1 << 20, 0] {
        let (server_end, mut client_end) = lithe::io::duplex(1 << 16);
        let transport = StuckPeer {
            pipe: server_end,
            room,
        };
        let started = Instant::now();
        run(async {
            client_end
                .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let served = lithe::io::serve_connection(transport, common::routes, &config);
            let limit = async {
                async_io::Timer::after(LIMIT).await;
                panic!("the driver waited on the close (room {room})");
            };
            let _ = futures_lite::future::or(served, limit).await;
        });
        // The write timeout once for the flush or once for the close, then at
        // most the linger for the peer's last bytes (a second of quiet ends it).
        assert!(started.elapsed() < Duration::from_secs(3), "room {room}");
    }
}

/// The client's `close` is bounded by its write timeout too, on a transport
/// whose close never ends (a TLS closure alert with nowhere to go).
#[test]
fn a_client_close_that_never_ends_is_a_write_timeout() {
    use lithe::io::{ClientConfig, ClientConnection, Error, Timeout};
    let (client_end, _server_end) = lithe::io::duplex(1 << 16);
    let transport = StuckPeer {
        pipe: client_end,
        room: 0,
    };
    let config = ClientConfig {
        write_timeout: Some(Duration::from_millis(200)),
        ..ClientConfig::default()
    };
    let conn = ClientConnection::new(transport, config);
    let started = Instant::now();
    let closed = run(async {
        let limit = async {
            async_io::Timer::after(LIMIT).await;
            panic!("the client waited on its close past the write timeout");
        };
        futures_lite::future::or(conn.close(), limit).await
    });
    assert!(
        matches!(closed, Err(Error::Timeout(Timeout::Write))),
        "{closed:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A transport whose peer has gone (each read, counted, finds the end of
/// the stream) and whose close never ends: a TLS closure alert with nowhere
/// to go.
struct GoneAndStuck(Arc<std::sync::atomic::AtomicUsize>);

impl futures_lite::AsyncRead for GoneAndStuck {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::task::Poll::Ready(Ok(0))
    }
}

impl futures_lite::AsyncWrite for GoneAndStuck {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Pending
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Pending
    }
}

/// A client's close that waits on its transport, the server gone, waits
/// for the write timeout without reading on: the end of the stream, once
/// read, leaves nothing to drop.
#[test]
fn a_client_close_waiting_after_the_servers_end_reads_no_more() {
    use lithe::io::{ClientConfig, ClientConnection, Error, Timeout};
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let config = ClientConfig {
        write_timeout: Some(Duration::from_millis(200)),
        ..ClientConfig::default()
    };
    let conn = ClientConnection::new(GoneAndStuck(reads.clone()), config);
    let closed = run(conn.close());
    assert!(
        matches!(closed, Err(Error::Timeout(Timeout::Write))),
        "{closed:?}"
    );
    // One a poll: the first, and the timer's.
    let reads = reads.load(Ordering::SeqCst);
    assert!(reads <= 4, "{reads} reads of the end");
}

/// A stuck close is waited on once per connection, however many paths end
/// it: after a response that asked to close a request with a body (closed
/// before the body's drain, then again at the end), and after a refusal
/// (closed by the refusal, then again by the loop). Each wait was bounded by
/// the write timeout on its own, so the connection took twice that.
#[test]
fn a_stuck_close_is_waited_on_once() {
    use futures_lite::AsyncWriteExt;
    let config = ServerConfig {
        write_timeout: Some(Duration::from_secs(2)),
        ..ServerConfig::default()
    };
    for request in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"[..],
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        let (server_end, mut client_end) = lithe::io::duplex(1 << 16);
        let transport = StuckPeer {
            pipe: server_end,
            room: 1 << 20,
        };
        let started = Instant::now();
        run(async {
            client_end.write_all(request).await.unwrap();
            // Nothing more comes: the linger ends at once.
            client_end.close().await.unwrap();
            let _ = lithe::io::serve_connection(transport, common::routes, &config).await;
        });
        // One write timeout (2 s), not two (4 s); the rest is a loaded
        // machine's.
        let took = started.elapsed();
        assert!(took < Duration::from_millis(3500), "{request:?}: {took:?}");
    }
}

/// A transport over an in-memory pipe that holds what is written until a flush,
/// and whose every flush needs a second call, as a TLS stream's does when its
/// socket is full: the first returns Pending (and asks to be polled again).
struct FlushesLate {
    pipe: lithe::io::DuplexStream,
    held: Vec<u8>,
    retried: bool,
}

read_from_pipe!(FlushesLate);

impl futures_lite::AsyncWrite for FlushesLate {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.held.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        if !self.held.is_empty() && !self.retried {
            self.retried = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        while !self.held.is_empty() {
            let this = &mut *self;
            match std::pin::Pin::new(&mut this.pipe).poll_write(cx, &this.held) {
                Poll::Ready(Ok(n)) => drop(this.held.drain(..n)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.retried = false;
        std::pin::Pin::new(&mut self.pipe).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        futures_lite::ready!(self.as_mut().poll_flush(cx))?;
        std::pin::Pin::new(&mut self.pipe).poll_close(cx)
    }
}

#[test]
fn a_flush_that_must_be_retried_is_retried_by_both_roles() {
    use lithe::io::{ClientConfig, ClientConnection, duplex, serve_connection};
    let (server_end, client_end) = duplex(1 << 16);
    let late = |pipe| FlushesLate {
        pipe,
        held: Vec::new(),
        retried: false,
    };
    run(async {
        let config = ServerConfig::default();
        let server = serve_connection(late(server_end), common::routes, &config);
        let client = async {
            // Keep-alive requests: nothing but a flush pushes each message out.
            let mut conn = ClientConnection::new(late(client_end), ClientConfig::default());
            for body in ["one", "two"] {
                let request = Request::new("POST", "/echo")
                    .with_header("host", "t")
                    .with_body(body);
                let response = conn.send(request).await.unwrap();
                assert_eq!(response.into_body().text(100).await.unwrap(), body);
            }
        };
        let limit = async {
            async_io::Timer::after(LIMIT).await;
            panic!("a message stayed in the transport's buffer");
        };
        futures_lite::future::or(
            futures_lite::future::or(client, async {
                let _ = server.await;
                panic!("the server ended before the client");
            }),
            limit,
        )
        .await;
    });
}

#[test]
fn a_switch_over_a_transport_that_flushes_late_sends_its_head_first() {
    // The new protocol waits for the client's first bytes, which the client
    // sends once it has the answer's head: unless the driver flushes that
    // head out of the transport (as TLS holds its records until a flush)
    // before it hands the connection over, both wait for ever.
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{duplex, serve_connection};
    let requests: [&[u8]; 2] = [
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    ];
    for request in requests {
        let service = |mut request: Request| {
            let on_upgrade = request.upgrade().expect("the request proposes a switch");
            let tunnel = request.method() == "CONNECT";
            thread::spawn(move || {
                lithe::rt::block_on(async move {
                    let Ok(mut io) = on_upgrade.await else { return };
                    let mut ping = [0u8; 4];
                    io.read_exact(&mut ping).await.unwrap();
                    assert_eq!(&ping, b"ping");
                    io.write_all(b"pong").await.unwrap();
                    io.flush().await.unwrap();
                })
            });
            async move {
                match tunnel {
                    true => Response::new(StatusCode::OK),
                    false => Response::new(StatusCode::SWITCHING_PROTOCOLS)
                        .with_header("connection", "upgrade")
                        .with_header("upgrade", "echo"),
                }
            }
        };
        let (server_end, mut client_end) = duplex(1 << 16);
        let transport = FlushesLate {
            pipe: server_end,
            held: Vec::new(),
            retried: false,
        };
        let (head, pong) = run(async {
            let config = ServerConfig::default();
            let served = serve_connection(transport, service, &config);
            let client = async {
                client_end.write_all(request).await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    client_end.read_exact(&mut byte).await.unwrap();
                    head.push(byte[0]);
                }
                client_end.write_all(b"ping").await.unwrap();
                let mut pong = [0u8; 4];
                client_end.read_exact(&mut pong).await.unwrap();
                (String::from_utf8(head).unwrap(), pong)
            };
            futures_lite::future::zip(served, client).await.1
        });
        let status = if request.starts_with(b"CONNECT") {
            "200"
        } else {
            "101"
        };
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert_eq!(&pong, b"pong", "{head}");
    }
}

/// Moves what of `input` fits into `buf`, and how much; `None` once it is
/// all given.
fn give(input: &mut &'static [u8], buf: &mut [u8]) -> Option<usize> {
    if input.is_empty() {
        return None;
    }
    let n = buf.len().min(input.len());
    buf[..n].copy_from_slice(&input[..n]);
    *input = &input[n..];
    Some(n)
}

/// Reads for a transport with an `input` field: its bytes, then a wait for
/// ever.
macro_rules! reads_input_then_waits {
    ($transport:ty) => {
        impl futures_lite::AsyncRead for $transport {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                match give(&mut self.input, buf) {
                    Some(n) => std::task::Poll::Ready(Ok(n)),
                    None => std::task::Poll::Pending,
                }
            }
        }
    };
}

/// A transport that reports `extra` bytes more written than it was given,
/// and reads `input`, then waits for ever.
struct OverclaimingWrites {
    input: &'static [u8],
    extra: usize,
}

reads_input_then_waits!(OverclaimingWrites);

impl futures_lite::AsyncWrite for OverclaimingWrites {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len().saturating_add(self.extra)))
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let offered: usize = bufs.iter().map(|b| b.len()).sum();
        std::task::Poll::Ready(Ok(offered.saturating_add(self.extra)))
    }

    common::nothing_to_flush!();
}

/// A write that claims more than it was given is an error of the
/// connection, for both roles: counted, one byte more left the message cut
/// short and reported whole, and a count near `usize::MAX` overflowed (a
/// panic in a debug build).
#[test]
fn a_transport_claiming_to_write_more_than_it_was_given_is_an_error() {
    use lithe::io::{ClientConfig, ClientConnection, Error, serve_connection};
    let invalid_data =
        |e: &Error| matches!(e, Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData);
    for extra in [1, usize::MAX] {
        let transport = OverclaimingWrites {
            input: b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
            extra,
        };
        let served = run(serve_connection(
            transport,
            common::routes,
            &ServerConfig::default(),
        ));
        assert!(
            served.as_ref().is_err_and(invalid_data),
            "server, {extra} more: {served:?}"
        );

        let transport = OverclaimingWrites { input: b"", extra };
        let sent = run(async {
            let mut conn = ClientConnection::new(transport, ClientConfig::default());
            conn.send(Request::new("GET", "/").with_header("host", "t"))
                .await
                .map(|_| ())
        });
        assert!(
            sent.as_ref().is_err_and(invalid_data),
            "client, {extra} more: {sent:?}"
        );
    }
}

/// A transport that reads `input`, then waits for ever, and takes no byte
/// of any write (`Ok(0)`, as a full cursor or a writer shut down does).
struct WritesNothing {
    input: &'static [u8],
}

reads_input_then_waits!(WritesNothing);

impl futures_lite::AsyncWrite for WritesNothing {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(0))
    }

    common::nothing_to_flush!();
}

/// A write that takes no byte is an error (`WriteZero`) of either role's
/// connection, not a loop retrying it for ever.
#[test]
fn a_transport_taking_no_byte_of_a_write_is_an_error() {
    use lithe::io::{ClientConfig, ClientConnection, Error, serve_connection};
    let (results, received) = mpsc::channel();
    thread::spawn(move || {
        let transport = WritesNothing {
            input: b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        };
        let served = run(serve_connection(
            transport,
            common::routes,
            &ServerConfig::default(),
        ));
        let _ = results.send(("server", served));
        let sent = run(async {
            let transport = WritesNothing { input: b"" };
            let mut conn = ClientConnection::new(transport, ClientConfig::default());
            conn.send(Request::new("GET", "/").with_header("host", "t"))
                .await
                .map(|_| ())
        });
        let _ = results.send(("client", sent));
    });
    for _ in 0..2 {
        let (role, result) = received
            .recv_timeout(LIMIT)
            .expect("the connection kept retrying a write that takes nothing");
        assert!(
            matches!(&result, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::WriteZero),
            "{role}: {result:?}"
        );
    }
}

#[test]
fn a_body_reader_gets_an_error_once_its_connection_driver_is_gone() {
    use futures_lite::AsyncWriteExt;
    use lithe::io::{Error, duplex, serve_connection};
    let (tx, rx) = mpsc::channel();
    // The service hands the body to a thread of its own and answers with a
    // stream that never ends, so the driver is still at work on the exchange.
    let service = move |request: Request| {
        let tx = tx.clone();
        let body = request.into_body();
        thread::spawn(move || {
            let _ = tx.send(lithe::rt::block_on(body.bytes(1 << 20)));
        });
        async {
            Response::new(StatusCode::OK)
                .with_body(lithe::io::Body::stream(futures_lite::stream::pending()))
        }
    };
    let (server_end, mut client_end) = duplex(1 << 16);
    run(async {
        // Half the body: the driver feeds what came and waits for the rest.
        client_end
            .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
            .await
            .unwrap();
        let config = ServerConfig::default();
        let served = serve_connection(server_end, service, &config);
        // The driver's future is dropped (its task cancelled) while it waits.
        let cancel = async {
            async_io::Timer::after(Duration::from_millis(200)).await;
            Ok(())
        };
        let _ = futures_lite::future::or(served, cancel).await;
    });
    // The client is still connected: only the driver's end says the body is over.
    let read = rx
        .recv_timeout(LIMIT)
        .expect("the reader still waits for a driver that is gone");
    assert!(matches!(read, Err(Error::BodyAbandoned)), "{read:?}");
    drop(client_end);
}

/// A transport that gives `input`, then fails every read with `fault`.
struct FailsAfter {
    input: &'static [u8],
    fault: fn() -> std::io::Error,
}

/// The transport's own error, which a service may want to tell apart.
#[derive(Debug)]
struct TransportFault;

impl std::fmt::Display for TransportFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the transport broke")
    }
}

impl std::error::Error for TransportFault {}

impl futures_lite::AsyncRead for FailsAfter {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match give(&mut self.input, buf) {
            Some(n) => std::task::Poll::Ready(Ok(n)),
            None => std::task::Poll::Ready(Err((self.fault)())),
        }
    }
}

common::swallows_writes!(FailsAfter);

/// A transport that gives `input`, then waits for ever, and fails every
/// write, flush and close with `fault`.
struct WritesFail {
    input: &'static [u8],
    fault: fn() -> std::io::Error,
}

reads_input_then_waits!(WritesFail);

impl futures_lite::AsyncWrite for WritesFail {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Err((self.fault)()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Err((self.fault)()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Err((self.fault)()))
    }
}

/// A transport's failure with a cause of its own: a tunnel whose
/// connection broke.
#[derive(Debug)]
struct TunnelBroke(TransportFault);

impl std::fmt::Display for TunnelBroke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the tunnel broke")
    }
}

impl std::error::Error for TunnelBroke {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// `try_send`'s error is its `Error`'s, chain included: a report walking
/// the causes goes from the transport's failure on to what that failure
/// wraps, as it does from the `Error` itself.
#[test]
fn a_failed_try_send_walks_on_to_the_transports_causes() {
    use lithe::io::{ClientConfig, ClientConnection, Error};
    use std::error::Error as _;
    let io = WritesFail {
        input: b"",
        fault: || std::io::Error::other(TunnelBroke(TransportFault)),
    };
    let failed = run(async {
        let mut conn = ClientConnection::new(io, ClientConfig::default());
        let request = Request::new("GET", "/").with_header("host", "t");
        conn.try_send(request).await.map(|_| ())
    })
    .unwrap_err();
    assert!(matches!(failed.error(), Error::Io(_)), "{failed:?}");
    assert_eq!(failed.to_string(), "I/O error: the tunnel broke");
    let cause = failed
        .source()
        .expect("the transport's failure has a cause");
    assert!(cause.is::<TransportFault>(), "{cause:?}");
    assert!(cause.source().is_none());
    let error = Error::from(failed);
    assert!(error.source().is_some_and(|e| e.is::<TransportFault>()));
}

/// A transport whose first read waits (and wakes its task at once), then
/// reads as the one it wraps.
struct WaitsFirst<T>(T, bool);

impl<T: futures_lite::AsyncRead + Unpin> futures_lite::AsyncRead for WaitsFirst<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if !std::mem::replace(&mut self.1, true) {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: futures_lite::AsyncWrite + Unpin> futures_lite::AsyncWrite for WaitsFirst<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    common::nothing_to_flush!();
}

/// The transport's own error, of a kind a service may match on.
fn transport_reset() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionReset, TransportFault)
}

/// A request body whose transport fails gives the service that failure
/// itself the first time (its own type, to downcast), and the same error
/// again, as a copy, after: its kind and message.
#[test]
fn a_request_body_failed_by_the_transport_gives_the_service_its_error() {
    use lithe::io::{Error, serve_connection};
    let io = FailsAfter {
        input: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
        fault: transport_reset,
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let service = {
        let seen = seen.clone();
        move |request: Request| {
            let seen = seen.clone();
            async move {
                let mut body = request.into_body();
                loop {
                    match body.chunk().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => break,
                        Err(e) => {
                            let ours = matches!(&e, Error::Io(io)
                                if io.get_ref().is_some_and(|inner| inner.is::<TransportFault>()));
                            let kind = match &e {
                                Error::Io(io) => Some(io.kind()),
                                _ => None,
                            };
                            seen.lock().unwrap().push((ours, e.to_string(), kind));
                            if seen.lock().unwrap().len() == 2 {
                                break;
                            }
                        }
                    }
                }
                Response::new(StatusCode::OK)
            }
        }
    };
    let _ = futures_lite::future::block_on(serve_connection(io, service, &ServerConfig::default()));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].0,
        "the first error is not the transport's own: {seen:?}"
    );
    assert!(seen[1].1.contains("the transport broke"), "{seen:?}");
    let reset = Some(std::io::ErrorKind::ConnectionReset);
    assert!(seen[0].2 == reset && seen[1].2 == reset, "{seen:?}");
}

/// A failure that holds a lithe error of another connection: a transport
/// reading another lithe body (a tunnel through a proxy's upstream) fails
/// with that body's error, wrapped in an `io::Error`.
fn upstream_protocol_fault() -> std::io::Error {
    lithe::io::Error::Protocol(lithe::proto::Error::InvalidChunkSize).into()
}

/// See [`upstream_protocol_fault`]: that body's own timeout.
fn upstream_timeout() -> std::io::Error {
    lithe::io::Error::Timeout(lithe::io::Timeout::Body).into()
}

/// Whether `error` is the transport's failure, carrying the upstream's error
/// inside it, rather than that error taken for this connection's own.
fn is_the_transports(error: &lithe::io::Error) -> bool {
    matches!(error, lithe::io::Error::Io(io)
        if io.get_ref().is_some_and(|inner| inner.is::<lithe::io::Error>()))
        && !error.is_protocol()
        && error.timeout().is_none()
}

/// A transport's read failing with an error that holds a lithe error is the
/// transport's failure (`Error::Io`), in both roles: not a protocol error of
/// this connection's peer (which the server would answer with a 400, and
/// then end as if all went well) nor one of this connection's timeouts.
#[test]
fn a_transport_failing_with_a_lithe_error_is_an_io_error() {
    use lithe::io::{ClientConfig, ClientConnection, Error, serve_connection};
    for fault in [upstream_protocol_fault, upstream_timeout] {
        // The server, while the service reads the request body.
        let io = FailsAfter {
            input: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
            fault,
        };
        let seen = Arc::new(Mutex::new(None));
        let service = {
            let seen = seen.clone();
            move |request: Request| {
                let seen = seen.clone();
                async move {
                    let read = request.into_body().bytes(1024).await;
                    *seen.lock().unwrap() = Some(read.map(|_| ()));
                    Response::new(StatusCode::OK)
                }
            }
        };
        let served = run(serve_connection(io, service, &ServerConfig::default()));
        // The service was given the error and answered: `Ok`, as
        // `serve_connection` says.
        assert!(served.is_ok(), "{served:?}");
        let seen = seen.lock().unwrap().take();
        assert!(
            matches!(&seen, Some(Err(e)) if is_the_transports(e)),
            "the service read {seen:?}"
        );

        // The server, draining a body its service left unread.
        let io = FailsAfter {
            input: b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
            fault,
        };
        let served = run(serve_connection(
            io,
            |_: Request| async { Response::new(StatusCode::OK) },
            &ServerConfig::default(),
        ));
        assert!(served.as_ref().is_err_and(is_the_transports), "{served:?}");

        // The server, waiting for a request.
        let io = FailsAfter { input: b"", fault };
        let served = run(serve_connection(
            io,
            |_: Request| async { Response::new(StatusCode::OK) },
            &ServerConfig::default(),
        ));
        assert!(served.as_ref().is_err_and(is_the_transports), "{served:?}");

        // Each role's write.
        let io = WritesFail {
            input: b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            fault,
        };
        let served = run(serve_connection(
            io,
            |_: Request| async { Response::new(StatusCode::OK) },
            &ServerConfig::default(),
        ));
        assert!(served.as_ref().is_err_and(is_the_transports), "{served:?}");
        let io = WritesFail { input: b"", fault };
        let sent: Result<(), Error> = run(async {
            let mut conn = ClientConnection::new(io, ClientConfig::default());
            let request = Request::new("GET", "/").with_header("host", "t");
            conn.send(request).await.map(|_| ())
        });
        assert!(sent.as_ref().is_err_and(is_the_transports), "{sent:?}");
        let io = WritesFail { input: b"", fault };
        let closed = run(ClientConnection::new(io, ClientConfig::default()).close());
        assert!(closed.as_ref().is_err_and(is_the_transports), "{closed:?}");

        // The client, waiting for the response's head, then for its body.
        // (The first read waits: a fresh connection's first look, which
        // does not wait, is to find nothing.)
        for input in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        ] {
            let io = WaitsFirst(FailsAfter { input, fault }, false);
            let received: Result<(), Error> = run(async {
                let mut conn = ClientConnection::new(io, ClientConfig::default());
                let request = Request::new("GET", "/").with_header("host", "t");
                conn.send(request).await?.into_body().bytes(1024).await?;
                Ok(())
            });
            assert!(
                received.as_ref().is_err_and(is_the_transports),
                "{received:?}"
            );
        }
    }
}

/// A transport over an in-memory pipe that moves one byte per call, and
/// only every other call: the others return Pending (asking to be polled
/// again). Its vectored write is the default one, which writes from the
/// first non-empty slice alone.
struct Trickles {
    pipe: lithe::io::DuplexStream,
    reads: u64,
    writes: u64,
}

/// Whether the call numbered `calls` (then counted) is one that waits.
fn waits_this_time(calls: &mut u64, cx: &mut std::task::Context<'_>) -> bool {
    *calls += 1;
    if *calls % 2 == 1 {
        cx.waker().wake_by_ref();
        return true;
    }
    false
}

impl futures_lite::AsyncRead for Trickles {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if waits_this_time(&mut self.reads, cx) {
            return std::task::Poll::Pending;
        }
        let one = buf.len().min(1);
        std::pin::Pin::new(&mut self.pipe).poll_read(cx, &mut buf[..one])
    }
}

impl futures_lite::AsyncWrite for Trickles {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if waits_this_time(&mut self.writes, cx) {
            return std::task::Poll::Pending;
        }
        let one = buf.len().min(1);
        std::pin::Pin::new(&mut self.pipe).poll_write(cx, &buf[..one])
    }

    flush_and_close_pipe!();
}

/// Two pieces past the size the drivers copy (16 KiB), so each goes out as
/// its own write, between its chunk's size line and line end.
fn large_pieces() -> lithe::io::Body {
    let pieces =
        [vec![b'a'; 20_000], vec![b'b'; 17_000]].map(|piece| Ok(bytes::Bytes::from(piece)));
    lithe::io::Body::stream(futures_lite::stream::iter(pieces))
}

fn large_pieces_joined() -> Vec<u8> {
    [vec![b'a'; 20_000], vec![b'b'; 17_000]].concat()
}

/// Writes cut at every byte (inside a chunk's size line, between it and the
/// data, between the data and its line end) and reads of one byte, each
/// after a Pending: both roles put exactly the bytes of the message on the
/// wire, a chunked upload and a chunked response of large pieces, with
/// trailers, and the head of the next request on the same connection.
#[test]
fn both_roles_send_large_chunks_whole_over_a_transport_moving_a_byte_at_a_time() {
    use lithe::io::{ClientConfig, ClientConnection, Headers, duplex, serve_connection};
    let (server_end, client_end) = duplex(1 << 16);
    let trickle = |pipe| Trickles {
        pipe,
        reads: 0,
        writes: 0,
    };
    async fn service(mut request: Request) -> Response {
        if request.path() == "/download" {
            return Response::new(StatusCode::OK).with_body(large_pieces().with_trailers(async {
                let mut trailers = Headers::new();
                trailers.append("checksum", "sent");
                trailers
            }));
        }
        let body = request.body_mut();
        let mut received = Vec::new();
        loop {
            match body.chunk().await {
                Ok(Some(piece)) => received.extend_from_slice(&piece),
                Ok(None) => break,
                Err(e) => return Response::new(StatusCode::BAD_REQUEST).with_body(e.to_string()),
            }
        }
        if received != large_pieces_joined() {
            let said = format!("{} bytes", received.len());
            return Response::new(StatusCode::BAD_REQUEST).with_body(said);
        }
        let checksum = body
            .trailers()
            .and_then(|t| t.get("checksum").map(<[u8]>::to_vec));
        Response::new(StatusCode::OK).with_body(checksum.unwrap_or_default())
    }
    run(async {
        let config = ServerConfig::default();
        let server = serve_connection(trickle(server_end), service, &config);
        let client = async {
            let mut conn = ClientConnection::new(trickle(client_end), ClientConfig::default());
            let upload = Request::new("POST", "/upload")
                .with_header("host", "t")
                .with_body(large_pieces().with_trailers(async {
                    let mut trailers = Headers::new();
                    trailers.append("checksum", "received");
                    trailers
                }));
            let response = conn.send(upload).await.unwrap();
            let status = response.status();
            let body = response.into_body().text(100).await.unwrap();
            assert_eq!((status, body.as_str()), (StatusCode::OK, "received"));
            let download = Request::new("GET", "/download").with_header("host", "t");
            let mut response = conn.send(download).await.unwrap();
            let mut received = Vec::new();
            while let Some(piece) = response.body_mut().chunk().await.unwrap() {
                received.extend_from_slice(&piece);
            }
            assert!(
                received == large_pieces_joined(),
                "{} bytes",
                received.len()
            );
            let trailers = response.body_mut().trailers().expect("trailers");
            assert_eq!(trailers.get("checksum"), Some(&b"sent"[..]));
        };
        // `run` bounds the whole exchange.
        futures_lite::future::or(client, async {
            let _ = server.await;
            panic!("the server ended before the client");
        })
        .await;
    });
}
