//! What the server reports through the `log` facade: failures nobody else
//! sees (a response the service built that cannot be sent, a panicking
//! service, a request refused as malformed), captured by a logger installed
//! for this test binary alone.
#![cfg(feature = "server")]

mod common;

use std::sync::Mutex;

use common::*;
use lithe::io::{Body, Headers, Request, Response, ServerConfig};
use lithe::proto::StatusCode;

/// Every record logged in this process, as (level, message).
static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

/// A text whose records make the logger panic, each time (a broken logger
/// of an application's, as one printing to a closed stdout is), and how
/// many times it did.
static PANIC_AT: Mutex<Option<&'static str>> = Mutex::new(None);
static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Held by each test for its whole run: both count records of the whole
/// process, and one lowers the process's descriptor limit for a while.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// [`ONE_AT_A_TIME`], whatever an earlier test's failure left of it.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let message = record.args().to_string();
        let panic_at = *PANIC_AT.lock().unwrap_or_else(|e| e.into_inner());
        if panic_at.is_some_and(|text| message.contains(text)) {
            PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            panic!("the logger panicked (expected by this test)");
        }
        RECORDS.lock().unwrap().push((record.level(), message));
    }
    fn flush(&self) {}
}

/// The records logged so far that contain `text`.
fn records_with(text: &str) -> Vec<(log::Level, String)> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, message)| message.contains(text))
        .cloned()
        .collect()
}

/// The records that contain `text`, once there are `count` (the worker may
/// log just after the client saw the connection end), or what there is
/// after a while.
fn logged(text: &str, count: usize) -> Vec<(log::Level, String)> {
    let started = std::time::Instant::now();
    loop {
        let found = records_with(text);
        if found.len() >= count || started.elapsed() > LIMIT / 2 {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

async fn service(request: Request) -> Response {
    if request.headers().get("x-switch").is_some() {
        // A switch, whatever the request proposed (at `/bare` and `/empty`,
        // naming no protocol at all).
        let switch = Response::new(StatusCode::SWITCHING_PROTOCOLS);
        return match request.path() {
            "/bare" => switch,
            "/empty" => switch.with_header("upgrade", ""),
            _ => switch.with_header("upgrade", "websocket"),
        };
    }
    match request.path() {
        // A line break in a value could inject a field: never sent.
        "/bad-header" => Response::new(StatusCode::OK).with_header("x-note", "a\r\nset-cookie: x"),
        "/panic" => panic!("the service broke"),
        // A 426 must name the protocol it requires (RFC 9110 §15.5.22).
        "/upgrade-required" => Response::new(StatusCode::new(426).unwrap()),
        // Trailers may not carry a Set-Cookie: left out.
        "/trailers" => {
            Response::new(StatusCode::OK).with_body(Body::from("t").with_trailers(async {
                let mut trailers = Headers::new();
                trailers.append("set-cookie", "a=b");
                trailers
            }))
        }
        // A stream that ends short of the length it declared: under a
        // Content-Length, and chunked under trailers.
        "/short" => Response::new(StatusCode::OK).with_body(short_of_its_length()),
        "/short-chunked" => Response::new(StatusCode::OK)
            .with_body(short_of_its_length().with_trailers(async { Headers::new() })),
        // A trailer that cannot be sent: all left out, with a warning.
        "/bad-trailer" => {
            Response::new(StatusCode::OK).with_body(Body::from("t").with_trailers(async {
                let mut trailers = Headers::new();
                trailers.append("x-sum", "a\r\nb");
                trailers
            }))
        }
        // Trailers with nowhere to go (an HTTP/1.0 client: no chunks).
        "/plain-trailers" => {
            Response::new(StatusCode::OK).with_body(Body::from("t").with_trailers(async {
                let mut trailers = Headers::new();
                trailers.append("x-sum", "1");
                trailers
            }))
        }
        // A coding HTTP/1.0 cannot carry (a proxy passing its upstream's
        // field on, say): a 500 to an HTTP/1.0 client.
        "/gzip" => Response::new(StatusCode::OK)
            .with_header("transfer-encoding", "gzip, chunked")
            .with_body("not really gzip"),
        "/drop-panics" => {
            Response::new(StatusCode::OK).with_body(Body::stream(PanicsOnDrop(false)))
        }
        _ => Response::new(StatusCode::OK).with_body("fine"),
    }
}

/// A body of one piece whose stream panics when dropped, once it has ended.
struct PanicsOnDrop(bool);

impl futures_lite::Stream for PanicsOnDrop {
    type Item = std::io::Result<bytes::Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let ended = std::mem::replace(&mut self.0, true);
        std::task::Poll::Ready((!ended).then(|| Ok(bytes::Bytes::from_static(b"whole"))))
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the body panicked when dropped (expected by this test)");
        }
    }
}

/// A body declaring 10 bytes that yields 5.
fn short_of_its_length() -> Body {
    let first = bytes::Bytes::from_static(b"first");
    Body::sized_stream(10, futures_lite::stream::once(Ok(first)))
}

/// Installs [`Capture`] as the logger of this binary, at every level, once.
fn capture_logs() {
    static LOGGER: Capture = Capture;
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        log::set_logger(&LOGGER).expect("the only logger of this binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

#[test]
fn failures_nobody_else_sees_are_logged() {
    let _alone = alone();
    capture_logs();
    #[cfg(feature = "tls")]
    tls_peers_cannot_make_the_server_warn();
    let server = server_with(service, ServerConfig::default());
    let addr = server.local_addr();

    let reply = exchange(
        addr,
        b"GET /bad-header HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 500 "), "{reply}");
    assert!(!reply.contains("set-cookie"), "{reply}");
    let warned = logged("cannot be sent", 1);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0].0, log::Level::Warn);
    assert!(warned[0].1.contains("invalid header value"), "{warned:?}");

    let reply = exchange(
        addr,
        b"GET /upgrade-required HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 500 "), "{reply}");
    let warned = logged("426 response cannot be sent", 1);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0].0, log::Level::Warn);
    assert!(
        warned[0].1.contains("without an Upgrade field"),
        "{warned:?}"
    );

    // Only the client's version made that response one it cannot carry:
    // any client can choose it, as often as it likes, so no warning.
    let reply = exchange(
        addr,
        b"GET /gzip HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /gzip HTTP/1.0\r\n\r\n",
    );
    assert_eq!(reply.matches("HTTP/1.1 500 ").count(), 2, "{reply}");
    let to_http10 = logged("cannot be sent to an HTTP/1.0 client", 2);
    assert_eq!(to_http10.len(), 2, "{to_http10:?}");
    assert!(
        to_http10
            .iter()
            .all(|(level, _)| *level == log::Level::Debug),
        "{to_http10:?}"
    );
    // The warnings so far are still the two above.
    let warned = records_with("cannot be sent")
        .into_iter()
        .filter(|(level, _)| *level == log::Level::Warn)
        .count();
    assert_eq!(warned, 2);

    let reply = exchange(addr, b"GET /panic HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 500 "), "{reply}");
    let panicked = logged("panicked", 1);
    assert_eq!(panicked.len(), 1, "{panicked:?}");
    assert_eq!(panicked[0].0, log::Level::Error);

    let reply = exchange(addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    let refused = logged("refused a request", 1);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, log::Level::Debug);
    assert!(refused[0].1.contains("more than one Host"), "{refused:?}");

    let reply = exchange(
        addr,
        b"GET /trailers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.ends_with("\r\n0\r\n\r\n"), "{reply}");
    let left_out = logged("trailer fields left out", 1);
    assert_eq!(left_out.len(), 1, "{left_out:?}");
    assert!(left_out[0].1.contains("set-cookie"), "{left_out:?}");
    // At debug level: a service passing a client's trailers on would let
    // any client fill the log otherwise.
    assert_eq!(left_out[0].0, log::Level::Debug);

    // A 101 to a request that proposed no switch: the warning says so,
    // rather than blame the protocol, which the request did name.
    for request in [
        &b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: close\r\nX-Switch: 1\r\n\r\n"[..],
        b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\nX-Switch: 1\r\n\r\n",
        // HTTP/1.0 has no protocol switch (RFC 9110 §7.8).
        b"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\nX-Switch: 1\r\n\r\n",
    ] {
        let reply = exchange(addr, request);
        assert!(reply.starts_with("HTTP/1.1 500 "), "{reply}");
    }
    let unproposed = logged("proposed no switch", 3);
    assert_eq!(unproposed.len(), 3, "{unproposed:?}");
    assert!(
        unproposed
            .iter()
            .all(|(level, said)| *level == log::Level::Warn && said.contains("HTTP/1.1"))
    );
    assert!(records_with("did not offer").is_empty());
    // One that proposed another protocol: that is what the warning names.
    let reply = exchange(
        addr,
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: upgrade, close\r\nX-Switch: 1\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 500 "), "{reply}");
    assert_eq!(logged("did not offer", 1).len(), 1);
    // The same with a body past the drain limit that waits for 100
    // Continue: the 101 is judged before it would wait for that body, so it
    // is the same 500 and warning, not a 413 for a body too long to read
    // before a switch that could not be made anyway; and so is a 101 naming
    // no protocol (`/bare`, or an empty Upgrade field at `/empty`), which
    // HTTP/1.1 cannot carry.
    for (path, warning) in [
        ("/ws", "did not offer"),
        ("/bare", "101 response cannot be sent"),
        ("/empty", "101 response cannot be sent"),
    ] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: upgrade, close\r\n\
             Content-Length: 1048576\r\nExpect: 100-continue\r\nX-Switch: 1\r\n\r\n"
        );
        let before = records_with(warning).len();
        let reply = exchange(addr, request.as_bytes());
        assert!(reply.starts_with("HTTP/1.1 500 "), "{path}: {reply}");
        assert_eq!(logged(warning, before + 1).len(), before + 1, "{path}");
    }

    // The piece there was goes out, and then the connection ends: neither
    // padded to the length nor ended as if whole.
    for (path, framing, end) in [
        ("/short", "content-length: 10", "\r\n\r\nfirst"),
        ("/short-chunked", "chunked", "\r\n\r\n5\r\nfirst\r\n"),
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        let reply = exchange(addr, request.as_bytes());
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.contains(framing), "{reply}");
        assert!(reply.ends_with(end), "{reply}");
    }
    // A body that panics once its message is whole: said so, not "cut short".
    let reply = exchange(addr, b"GET /drop-panics HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(reply.ends_with("5\r\nwhole\r\n0\r\n\r\n"), "{reply}");
    let whole = logged("after its response was whole", 1);
    assert_eq!(whole.len(), 1, "{whole:?}");
    assert_eq!(whole[0].0, log::Level::Error);
    assert!(records_with("panicked; its response is cut short").is_empty());

    let cut_short = logged("does not fit its head", 2);
    assert_eq!(cut_short.len(), 2, "{cut_short:?}");
    assert!(
        cut_short
            .iter()
            .all(|(level, _)| *level == log::Level::Warn)
    );
    assert!(cut_short[0].1.contains("fewer body bytes"), "{cut_short:?}");
    assert!(cut_short[1].1.contains("ended short"), "{cut_short:?}");

    // Trailers left out: a warning when the service's cannot be sent, at
    // debug level when the body has nowhere to put them.
    let reply = exchange(
        addr,
        b"GET /bad-trailer HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.ends_with("\r\n0\r\n\r\n"), "{reply}");
    let invalid = logged("left out: invalid header value", 1);
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(invalid[0].0, log::Level::Warn);
    let reply = exchange(addr, b"GET /plain-trailers HTTP/1.0\r\n\r\n");
    assert!(reply.ends_with("\r\n\r\nt"), "{reply}");
    let nowhere = logged("left out: the body is not chunked", 1);
    assert_eq!(nowhere.len(), 1, "{nowhere:?}");
    assert_eq!(nowhere[0].0, log::Level::Debug);

    // A connection its client resets midway is no warning (any client can
    // do it): at debug level.
    let mut s = socket(addr);
    std::io::Write::write_all(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc",
    )
    .unwrap();
    let client = s.local_addr().unwrap();
    reset(s);
    let failed = logged(&format!("the connection from {client} failed"), 1);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, log::Level::Debug);
    let about_it = records_with(&client.to_string());
    assert!(
        // Neither a warning nor an error: less severe levels compare greater.
        about_it.iter().all(|(level, _)| *level > log::Level::Warn),
        "{about_it:?}"
    );
    server.shutdown();

    #[cfg(target_os = "linux")]
    failed_accepts_are_warned_of_once_a_while();
}

/// Out of descriptors while clients come and go, accepts fail and succeed
/// by turns: the warnings come at most once a while (10 s) for the whole
/// server (two workers on one listener, which fail together), not once per
/// run of failures, which here would be one every few milliseconds; one
/// line says accepting works again; and every failure is counted in some
/// line, those after that one included.
#[cfg(target_os = "linux")]
fn failed_accepts_are_warned_of_once_a_while() {
    use std::time::Duration;
    let config = lithe::rt::ServeConfig {
        threads: 2,
        ..lithe::rt::ServeConfig::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", service, config).unwrap();
    let addr = server.local_addr();
    accepts_failing_for_a_while(addr, Duration::from_millis(1500));
    // With room again, an accept succeeds (if none did since the warning).
    let reply = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    // Its workers have ended: everything they logged is here.
    server.shutdown();
    let failed = records_with("accepting a connection failed");
    let warned = failed
        .iter()
        .filter(|(level, _)| *level == log::Level::Warn)
        .count();
    assert!(
        failed.len() > warned,
        "no failure after the first: {failed:?}"
    );
    assert_eq!(warned, 1, "{failed:?}");
    // Each worker waits 10 ms after a failure, rather than spin on the
    // listener: 1.5 s gives two of them about 300 failures, not thousands.
    assert!(failed.len() < 1000, "{} failed accepts", failed.len());
    // Accepting works again after the warning, said once (the next warning
    // is 10 s away).
    let recovered = records_with("accepting connections again");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(recovered[0].0, log::Level::Info, "{recovered:?}");
    // Every failure is counted in a line: the warning's, the recovery's, or
    // (those after the recovery, within 10 s of it) the server's last.
    let number_after = |text: &str, before: &str| -> u64 {
        let at = text
            .find(before)
            .unwrap_or_else(|| panic!("{before:?} in {text}"));
        let digits: String = text[at + before.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    };
    let warning = &failed
        .iter()
        .find(|(level, _)| *level == log::Level::Warn)
        .unwrap()
        .1;
    let ended = records_with("the server ends with");
    assert!(ended.len() <= 1, "{ended:?}");
    let counted = number_after(warning, "retrying (")
        + number_after(&recovered[0].1, "again (")
        + ended
            .first()
            .map_or(0, |(_, line)| number_after(line, "ends with "));
    assert_eq!(
        counted,
        failed.len() as u64,
        "{warning} / {recovered:?} / {ended:?}"
    );
}

/// Makes `addr`'s accepts fail, for `how_long`, for want of descriptors:
/// the process's limit is lowered to a few more than it has open while
/// clients connect and say nothing (each holds a descriptor here and one in
/// the server once accepted). The oldest goes every few milliseconds, which
/// lets one more accept through.
#[cfg(target_os = "linux")]
fn accepts_failing_for_a_while(addr: std::net::SocketAddr, how_long: std::time::Duration) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    use std::time::{Duration, Instant};
    let open_now = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let limit = getrlimit(Resource::Nofile);
    let lowered = Rlimit {
        current: Some(open_now as u64 + 8),
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, lowered).unwrap();
    let mut clients = std::collections::VecDeque::new();
    let started = Instant::now();
    while started.elapsed() < how_long {
        if let Ok(client) = std::net::TcpStream::connect(addr) {
            clients.push_back(client);
        }
        if clients.len() > 6 {
            clients.pop_front();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(clients);
    setrlimit(Resource::Nofile, limit).unwrap();
}

/// A logger that panics at the line saying accepting works again, after a
/// failed accept, costs that line, not the connection accepted as it was
/// logged: that client is served, and so is the next. (The line came
/// between the accept and its connection's spawn, so the panic dropped the
/// connection.)
#[test]
#[cfg(target_os = "linux")]
fn a_logger_panicking_at_the_recovery_from_failed_accepts_loses_no_connection() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    use std::io::{Read, Write};
    let _alone = alone();
    capture_logs();
    let config = lithe::rt::ServeConfig {
        threads: 1,
        ..lithe::rt::ServeConfig::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", service, config).expect("bind");
    let addr = server.local_addr();
    PANICS.store(0, std::sync::atomic::Ordering::SeqCst);
    *PANIC_AT.lock().unwrap() = Some("accepting connections again");
    let failed_before = records_with("accepting a connection failed").len();
    // The client's socket made first: a new descriptor takes the lowest
    // number free, so with the limit just past this one's, the server's
    // accept (which needs one) fails, the connect not.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let highest = std::os::fd::AsRawFd::as_raw_fd(&socket);
    let limit = getrlimit(Resource::Nofile);
    let lowered = Rlimit {
        current: Some(highest as u64 + 1),
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, lowered).unwrap();
    let connected = socket.connect(&addr.into());
    let failed = logged("accepting a connection failed", failed_before + 1).len();
    setrlimit(Resource::Nofile, limit).unwrap();
    connected.unwrap();
    assert!(failed > failed_before, "no accept failed");
    let mut client = std::net::TcpStream::from(socket);
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let close = b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    client.write_all(close).unwrap();
    let mut first = String::new();
    let _ = client.read_to_string(&mut first);
    let next = exchange(addr, close);
    let panicked = PANICS.load(std::sync::atomic::Ordering::SeqCst);
    *PANIC_AT.lock().unwrap() = None;
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first:?}");
    assert!(next.starts_with("HTTP/1.1 200 OK\r\n"), "{next}");
    assert_eq!(panicked, 1, "the recovery is said once");
    server.shutdown();
    // The other tests count the process's records of failed accepts.
    RECORDS.lock().unwrap().clear();
}

/// What any client can send a TLS server at will (warning alerts, a
/// handshake message out of turn, a reset before its hello) is no warning
/// of the server's: a log flood a peer could cause. (rustls logs such
/// input at warn when its `logging` feature is on, which lithe leaves off.)
#[cfg(feature = "tls")]
fn tls_peers_cannot_make_the_server_warn() {
    use std::io::{Read, Write};
    let (cert, key) = common::certificate_for(&["localhost"]);
    let acceptor = lithe::rt::tls::TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let config = lithe::rt::ServeConfig {
        threads: 1,
        tls: Some(acceptor),
        ..lithe::rt::ServeConfig::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", service, config).unwrap();
    // Five warning alerts (close_notify at level 1; rustls takes four, and
    // ends the handshake at the fifth), then a Finished message where a
    // ClientHello belongs.
    let warning_alert: &[u8] = &[0x15, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00];
    let finished_first: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x04, 0x14, 0x00, 0x00, 0x00];
    let mut clients = Vec::new();
    for input in [warning_alert.repeat(5), finished_first.to_vec()] {
        let mut s = socket(server.local_addr());
        clients.push(s.local_addr().unwrap());
        s.write_all(&input).unwrap();
        // The server answers with an alert of its own, or nothing, and closes.
        let _ = s.read_to_end(&mut Vec::new());
    }
    // A client that resets before its hello is let go at once (well within
    // the handshake's 10 s), and said so, as quietly.
    let s = socket(server.local_addr());
    let resetting = format!("({})", s.local_addr().unwrap());
    reset(s);
    let gone = logged("a connection failed before its TLS hello", 1);
    assert!(
        gone.iter()
            .any(|(level, line)| *level == log::Level::Debug && line.contains(&resetting)),
        "{resetting}: {gone:?}"
    );
    server.shutdown();
    // Both reached the handshake, which said why it failed, quietly.
    let failed = logged("a TLS handshake failed", 2);
    assert_eq!(failed.len(), 2, "{failed:?}");
    // Each names the peer, for an operator to act on.
    for client in clients {
        let named = format!("({client})");
        assert!(
            failed.iter().any(|(_, line)| line.contains(&named)),
            "{client}: {failed:?}"
        );
    }
    assert!(
        failed.iter().all(|(level, _)| *level == log::Level::Debug),
        "{failed:?}"
    );
    let loud: Vec<_> = RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(level, _)| *level <= log::Level::Warn)
        .cloned()
        .collect();
    assert!(loud.is_empty(), "{loud:?}");
}

/// A logger that panics each time a worker's accept loop logs (here, as it
/// closes an idle connection to make room for a client) costs those lines,
/// not the worker nor the room: the client it made room for is served at
/// once, and so is the next.
#[test]
fn a_logger_panicking_in_the_accept_loop_does_not_end_the_worker() {
    use std::io::Write;
    let _alone = alone();
    capture_logs();
    let config = lithe::rt::ServeConfig {
        threads: 1,
        max_connections: 1,
        ..lithe::rt::ServeConfig::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", service, config).expect("bind");
    let addr = server.local_addr();
    let mut idle = socket(addr);
    idle.write_all(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    read_until(&mut idle, "\r\n\r\n");
    // Counted from here: another test's panics are not this one's.
    PANICS.store(0, std::sync::atomic::Ordering::SeqCst);
    *PANIC_AT.lock().unwrap() = Some("short of room");
    let close = b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let started = std::time::Instant::now();
    let reply = exchange(addr, close);
    let waited = started.elapsed();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    let panicked = PANICS.load(std::sync::atomic::Ordering::SeqCst);
    *PANIC_AT.lock().unwrap() = None;
    assert!(panicked > 0, "the logger never panicked");
    // Room made at once (the round's close came before its line), not a
    // second or more later.
    assert!(
        waited < std::time::Duration::from_millis(700),
        "served after {waited:?}"
    );
    let reply = exchange(addr, close);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    server.shutdown();
}
