//! Helpers shared by the integration tests: servers on 127.0.0.1 port 0, raw
//! socket exchanges, and time bounds so that nothing hangs.
#![allow(dead_code)]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use lithe::io::{Body, Request, Response, ServerConfig, Service};
use lithe::proto::StatusCode;
use lithe::rt::{ServeConfig, Server};

/// How long any single test step may take.
pub const LIMIT: Duration = Duration::from_secs(10);

/// A port of 127.0.0.1 that nothing listens on, rather than a fixed port
/// some host may use: a socket bound to it and never listening holds it
/// for the rest of the test binary, so that no listener a test binds to
/// port 0 meanwhile (nor a connection's own end) is given it. Held on
/// 127.0.0.1 only: connect to it by that address, not by `localhost`.
pub fn refused_port() -> u16 {
    static HELD: std::sync::Mutex<Vec<socket2::Socket>> = std::sync::Mutex::new(Vec::new());
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    socket.bind(&any_port.into()).expect("bind 127.0.0.1:0");
    let port = socket
        .local_addr()
        .ok()
        .and_then(|address| address.as_socket())
        .expect("a bound address")
        .port();
    HELD.lock().unwrap().push(socket);
    port
}

/// Makes a panic in lithe's own code (a file under `src/`) abort the test
/// binary, loudly. The server driver answers any panic as its service's (a
/// 500, or a close), and `rt`'s workers end without a word, so a bug there
/// would pass any test that accepts that answer; the panics tests cause on
/// purpose are raised in `tests/`. Installed by the helpers below that
/// start servers or drive futures.
pub fn abort_on_lithe_panic() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if info
                .location()
                .is_some_and(|at| at.file().starts_with("src/"))
            {
                // Not the test's captured output: the process ends here.
                let _ = writeln!(std::io::stderr(), "a panic in lithe's own code: {info}");
                std::process::abort();
            }
        }));
    });
}

/// Starts a one-thread server for `service` with `config` on 127.0.0.1:0.
pub fn server_with<S>(service: S, config: ServerConfig) -> Server
where
    S: Service + Clone + Send + 'static,
{
    abort_on_lithe_panic();
    let config = ServeConfig {
        connection: config,
        threads: 1,
        shutdown_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    Server::bind("127.0.0.1:0", service, config).expect("bind 127.0.0.1:0")
}

/// The routes the tests use, like the hello_server example's.
pub async fn routes(request: Request) -> Response {
    match (request.method(), request.path()) {
        (_, "/") => Response::new(StatusCode::OK)
            .with_header("content-type", "text/plain")
            .with_body("Hello, World!"),
        (_, "/echo") => Response::new(StatusCode::OK).with_body(Body::stream(request.into_body())),
        (_, "/collect") => match request.into_body().bytes(8 << 20).await {
            Ok(body) => {
                Response::new(StatusCode::OK).with_body(format!("got {} bytes", body.len()))
            }
            Err(e) => Response::new(StatusCode::BAD_REQUEST).with_body(format!("{e}")),
        },
        (_, "/text") => match request.into_body().text(16).await {
            Ok(text) => Response::new(StatusCode::OK).with_body(text.to_uppercase()),
            Err(e) => Response::new(StatusCode::BAD_REQUEST).with_body(format!("{e}")),
        },
        (_, "/ignore") => Response::new(StatusCode::OK).with_body("ignored"),
        // Answered at once (no body to wait for), with what the path says.
        (_, path) if path.starts_with("/say/") => {
            Response::new(StatusCode::OK).with_body(path["/say/".len()..].to_owned())
        }
        (_, "/chunked") => {
            let chunks =
                ["one ", "two ", "three"].map(|s| Ok(bytes::Bytes::from_static(s.as_bytes())));
            Response::new(StatusCode::OK)
                .with_body(Body::stream(futures_lite::stream::iter(chunks)))
        }
        (_, "/nocontent") => Response::new(StatusCode::NO_CONTENT),
        (_, "/big") => Response::new(StatusCode::OK).with_body(vec![b'b'; 32 << 20]),
        _ => Response::new(StatusCode::NOT_FOUND).with_body("not found"),
    }
}

/// Writes back what `io` reads until it ends or fails: the echo protocol
/// the tests switch connections to.
pub async fn echo_until_closed(
    mut io: impl futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 256];
    while let Ok(n @ 1..) = io.read(&mut buf).await {
        if io.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// A task's waker for a test that polls by hand: waking unparks the
/// thread that made it, and its clones alive are its `Arc`'s strong count,
/// less the test's own.
pub struct Unparks(std::thread::Thread);

impl Unparks {
    /// A waker of the current thread's.
    pub fn current() -> std::sync::Arc<Unparks> {
        std::sync::Arc::new(Unparks(std::thread::current()))
    }

    /// The clones of this task's waker still alive, counted after a turn of
    /// async-io's reactor, which lets go of dropped timers' wakers only
    /// then (a new timer brings the turn about).
    pub fn wakers_kept(self: &std::sync::Arc<Self>) -> usize {
        run(async_io::Timer::after(Duration::from_millis(1)));
        std::sync::Arc::strong_count(self) - 1
    }
}

impl std::task::Wake for Unparks {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` with `task`'s waker until it is ready, parking between
/// polls; within [`LIMIT`], or the test fails saying it `never_ended`.
pub fn poll_with<F: Future>(
    future: F,
    task: &std::sync::Arc<Unparks>,
    never_ended: &str,
) -> F::Output {
    let waker = std::task::Waker::from(task.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    let started = std::time::Instant::now();
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        assert!(started.elapsed() < LIMIT, "{never_ended}");
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

/// A server running [`routes`] with the default configuration.
pub fn server() -> Server {
    server_with(routes, ServerConfig::default())
}

/// A blocking socket to `addr` with read and write timeouts.
pub fn socket(addr: SocketAddr) -> TcpStream {
    abort_on_lithe_panic();
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.set_write_timeout(Some(LIMIT)).unwrap();
    s
}

/// Sends `bytes` and reads until the server closes the connection.
pub fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = socket(addr);
    s.write_all(bytes).unwrap();
    read_to_close(&mut s)
}

/// Closes `stream` with a TCP reset instead of an orderly FIN.
pub fn reset(stream: TcpStream) {
    let socket = socket2::Socket::from(stream);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(socket);
}

/// Reads until the peer closes; panics on timeout.
pub fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("server closes in time");
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until what was read ends with `suffix`; panics if the peer closes
/// first (a reply cut short would otherwise pass a check on its start).
pub fn read_until(s: &mut TcpStream, suffix: &str) -> String {
    let (out, found) = read_until_or_close(s, suffix);
    assert!(found, "closed before {suffix:?}; read {out:?}");
    out
}

/// Reads until what was read ends with `suffix` or the peer closes; what was
/// read, and whether it ends with `suffix`.
pub fn read_until_or_close(s: &mut TcpStream, suffix: &str) -> (String, bool) {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(suffix.as_bytes()) {
        match s.read(&mut byte) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), false),
            Ok(_) => out.push(byte[0]),
            Err(e) => panic!("read: {e}; so far {:?}", String::from_utf8_lossy(&out)),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), true)
}

/// Waits until connections to `addr` are refused (its listener closed),
/// failing the test past [`LIMIT`].
pub fn wait_until_refused(addr: SocketAddr) {
    let waited = std::time::Instant::now();
    while TcpStream::connect(addr).is_ok() {
        assert!(waited.elapsed() < LIMIT, "still accepting connections");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What `thread` returned, failing the test if it runs past [`LIMIT`]
/// (a plain `join` would hang the suite instead).
pub fn joined<T>(thread: std::thread::JoinHandle<T>) -> T {
    let waited = std::time::Instant::now();
    while !thread.is_finished() {
        assert!(waited.elapsed() < LIMIT, "the thread ran past {LIMIT:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    thread.join().expect("the thread ended without panicking")
}

/// Runs `future` on smol, failing the test if it takes longer than [`LIMIT`].
pub fn run<T>(future: impl Future<Output = T>) -> T {
    abort_on_lithe_panic();
    lithe::rt::block_on(futures_lite::future::or(future, async {
        async_io::Timer::after(LIMIT).await;
        panic!("test took longer than {LIMIT:?}");
    }))
}

/// `reply` without its `date` lines, each checked first: an IMF-fixdate
/// (RFC 9110 §5.6.7) within a minute of now. For comparing whole heads.
pub fn without_date(reply: &str) -> String {
    let mut rest = reply;
    let mut kept = String::new();
    while let Some(at) = rest.find("\r\ndate: ") {
        let (before, line) = rest.split_at(at + 2);
        let end = line.find("\r\n").expect("the date line ends");
        let value = &line["date: ".len()..end];
        let when = httpdate::parse_http_date(value).expect("an HTTP-date");
        let now = std::time::SystemTime::now();
        let apart = now.duration_since(when).unwrap_or_else(|e| e.duration());
        assert!(apart < Duration::from_secs(60), "{value} is not now");
        assert_eq!(value, httpdate::fmt_http_date(when), "not an IMF-fixdate");
        kept.push_str(before);
        rest = &line[end + 2..];
    }
    kept.push_str(rest);
    kept
}

/// How many times `needle` occurs in `haystack`.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Implements `AsyncRead` for a test transport `$t` by reading from its
/// `pipe` field (a `lithe::io::DuplexStream`, or any `AsyncRead`): the
/// transports that test how the drivers write differ only in their writing
/// half.
#[macro_export]
macro_rules! read_from_pipe {
    ($t:ty) => {
        impl futures_lite::AsyncRead for $t {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.pipe).poll_read(cx, buf)
            }
        }
    };
}

/// `poll_flush` and `poll_close` of an `AsyncWrite` impl, passed to the
/// transport's `pipe` field: for transports whose writes alone differ.
#[macro_export]
macro_rules! flush_and_close_pipe {
    () => {
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
            std::pin::Pin::new(&mut self.pipe).poll_close(cx)
        }
    };
}

/// Implements `AsyncWrite` for a test transport `$t` by writing to its
/// `pipe` field: for the transports that test how the drivers read.
#[macro_export]
macro_rules! write_to_pipe {
    ($t:ty) => {
        impl futures_lite::AsyncWrite for $t {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.pipe).poll_write(cx, buf)
            }

            $crate::flush_and_close_pipe!();
        }
    };
}

/// A body stream for `Body::sized_stream(5, ..)` that overruns: `hello`, then
/// after a pause (in which a driver could send what it has) one byte more.
pub fn overrunning_stream()
-> impl futures_lite::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    futures_lite::stream::unfold(0, |i| async move {
        let piece: &'static [u8] = match i {
            0 => b"hello",
            1 => {
                async_io::Timer::after(Duration::from_millis(100)).await;
                b"x"
            }
            _ => return None,
        };
        Some((Ok(bytes::Bytes::from_static(piece)), i + 1))
    })
}

/// Waits until `flag` is set, within [`LIMIT`]; `what` says what failed if not.
pub fn wait_until(flag: &std::sync::atomic::AtomicBool, what: &str) {
    let waited = std::time::Instant::now();
    while !flag.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(waited.elapsed() < LIMIT, "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A one-thread tokio runtime with its timers and I/O, for the tests that run
/// hyper or run our drivers under tokio.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    abort_on_lithe_panic();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `poll_flush` and `poll_close` for the `AsyncWrite` impl of an in-memory
/// transport that holds nothing back: both are done at once.
#[allow(
    unused_macros,
    reason = "used by some of the binaries that include this module"
)]
macro_rules! nothing_to_flush {
    () => {
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
            std::task::Poll::Ready(Ok(()))
        }
    };
}
#[allow(
    unused_imports,
    reason = "used by some of the binaries that include this module"
)]
pub(crate) use nothing_to_flush;

/// Implements `AsyncWrite` for an in-memory transport that takes every write
/// whole at once, as a peer reading as fast as we write does.
#[allow(
    unused_macros,
    reason = "used by some of the binaries that include this module"
)]
macro_rules! swallows_writes {
    ($transport:ty) => {
        impl futures_lite::AsyncWrite for $transport {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::task::Poll::Ready(Ok(buf.len()))
            }
            common::nothing_to_flush!();
        }
    };
}
#[allow(
    unused_imports,
    reason = "used by some of the binaries that include this module"
)]
pub(crate) use swallows_writes;

/// Sends `texts` in turn to an echo at `target`, each with `Expect:
/// 100-continue` and the last with `Connection: close`, to a server that
/// answers 200 at once, without a 100, and then reads the body (hyper's
/// streaming echo; the close it is asked for, it repeats): each comes back
/// whole, and the connection is reusable until the last.
#[cfg(feature = "client")]
pub async fn echo_expecting_continue<T>(
    conn: &mut lithe::io::ClientConnection<T>,
    method: &'static str,
    target: &'static str,
    texts: [&'static str; 3],
) where
    T: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
{
    for (i, text) in texts.into_iter().enumerate() {
        let close = i == texts.len() - 1;
        let mut request = Request::new(method, target)
            .with_header("host", "t")
            .with_header("expect", "100-continue")
            .with_body(text);
        if close {
            request = request.with_header("connection", "close");
        }
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.into_body().text(100).await.unwrap(), text);
        assert_eq!(conn.is_reusable(), !close);
    }
}

/// A self-signed certificate for `names` and its key, as PEM.
pub fn certificate_for(names: &[&str]) -> (String, String) {
    let names = names
        .iter()
        .map(|name| name.to_string())
        .collect::<Vec<_>>();
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    (certified.cert.pem(), certified.key_pair.serialize_pem())
}

/// A deterministic xorshift generator: random cases that a failure can
/// name by their seed.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    /// `len` bytes of a pattern that shows where a piece went astray: its
    /// period, 251, divides no buffer size.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let start = self.below(251);
        (0..len).map(|i| ((start + i) % 251) as u8).collect()
    }
}

/// After a switch, the client's side of the new protocol: what came behind
/// the answer's head (`rest`, in the same read, then in later ones) is
/// `early`, and the server echoes a ping.
pub async fn speaks_the_new_protocol(
    io: &mut (impl futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin),
    rest: &[u8],
    early: &[u8],
) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let mut came = rest.to_vec();
    while came.len() < early.len() {
        let mut more = [0u8; 8];
        let n = io.read(&mut more).await.unwrap();
        assert!(n > 0, "the stream ended after {came:?}");
        came.extend_from_slice(&more[..n]);
    }
    assert_eq!(came, early);
    io.write_all(b"ping").await.unwrap();
    io.flush().await.unwrap();
    let mut pong = [0u8; 4];
    io.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"ping");
}

/// A body of unknown length, which goes close-delimited to HTTP/1.0: its
/// stream fails midway for `/fail`, ends after "partend" otherwise.
/// For `/stall` it yields "part", then nothing more, ever.
pub async fn halting(request: lithe::io::Request) -> lithe::io::Response {
    use futures_lite::StreamExt;
    let last = match request.path() {
        "/fail" => Err(std::io::Error::other("the source failed")),
        _ => Ok(bytes::Bytes::from_static(b"end")),
    };
    let part = Ok(bytes::Bytes::from_static(b"part"));
    let stream = match request.path() {
        "/stall" => lithe::io::Body::stream(
            futures_lite::stream::once(part).chain(futures_lite::stream::pending()),
        ),
        _ => lithe::io::Body::stream(futures_lite::stream::iter([part, last])),
    };
    lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(stream)
}

/// A CONNECT service whose tunnel, on a thread of its own (off the worker
/// that accepted it), answers `ping` with `pong`, then, once the returned
/// sender has been sent to (the server shut down meanwhile) or at once
/// with `reading_at_shutdown` (parked in its read across the shutdown),
/// answers `again` with `still`. One tunnel only.
pub fn tunnel_outliving_its_server(
    reading_at_shutdown: bool,
) -> (
    impl Fn(Request) -> std::future::Ready<Response> + Clone + Send + Sync + 'static,
    std::sync::mpsc::Sender<()>,
) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let (shut_down, wait_for_shutdown) = std::sync::mpsc::channel::<()>();
    let wait_for_shutdown = std::sync::Arc::new(std::sync::Mutex::new(Some(wait_for_shutdown)));
    let tunnel = move |mut request: Request| {
        let on_upgrade = request.upgrade().expect("CONNECT proposes a switch");
        let wait = wait_for_shutdown
            .lock()
            .unwrap()
            .take()
            .expect("one tunnel");
        std::thread::spawn(move || {
            lithe::rt::block_on(async move {
                let mut io = on_upgrade.await.unwrap();
                let mut buf = [0u8; 4];
                io.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"ping");
                io.write_all(b"pong").await.unwrap();
                io.flush().await.unwrap();
                if !reading_at_shutdown {
                    wait.recv().unwrap();
                }
                let mut again = [0u8; 5];
                io.read_exact(&mut again).await.unwrap();
                assert_eq!(&again, b"again");
                io.write_all(b"still").await.unwrap();
                io.flush().await.unwrap();
            })
        });
        std::future::ready(Response::new(StatusCode::OK))
    };
    (tunnel, shut_down)
}
