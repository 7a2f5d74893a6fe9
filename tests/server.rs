//! The server driver over real sockets on 127.0.0.1, spoken to with raw bytes.
#![cfg(feature = "server")]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
use lithe::io::ServerConfig;

#[test]
fn hello_world() {
    let server = server();
    let started = Instant::now();
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("content-length: 13\r\n"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nHello, World!"), "{reply}");
    // The server shuts its side at once: it lingers (until a second of quiet) only to read.
    assert!(started.elapsed() < Duration::from_millis(900));
    server.shutdown();
}

#[test]
fn pipelined_requests_are_answered_in_order_and_none_is_lost() {
    let server = server();
    let mut requests = Vec::new();
    for i in 0..20 {
        requests.extend_from_slice(
            format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{i:02}").as_bytes(),
        );
    }
    requests.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let reply = exchange(server.local_addr(), &requests);
    assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 21, "{reply}");
    let mut at = 0;
    for i in 0..20 {
        let found = reply[at..]
            .find(&format!("\r\n\r\n2\r\n{i:02}\r\n"))
            .unwrap_or_else(|| panic!("response {i} in order: {reply}"));
        at += found + 1;
    }
    assert!(reply.ends_with("Hello, World!"));
    server.shutdown();
}

#[test]
fn pipelined_batches_on_several_connections_of_one_thread_stay_apart() {
    // A batch's responses outgrow the output buffer a parked connection keeps,
    // and the connections of the one server thread take turns with a spare
    // one, which a connection may take with responses already pending (here:
    // the first connection, holding the small buffer of its first answer).
    // Every byte must still reach its own connection, in order.
    let server = server();
    let mut sockets = [socket(server.local_addr()), socket(server.local_addr())];
    let steps = [(0, 1), (1, 20), (0, 20), (1, 20), (0, 1), (0, 20)];
    for (step, (c, batch)) in steps.into_iter().enumerate() {
        let tag = |i: usize| format!("C{c}S{step}I{i:02}");
        let requests: String = (0..batch)
            .map(|i| format!("GET /say/{} HTTP/1.1\r\nHost: a\r\n\r\n", tag(i)))
            .collect();
        sockets[c].write_all(requests.as_bytes()).unwrap();
        let reply = read_until(&mut sockets[c], &format!("\r\n\r\n{}", tag(batch - 1)));
        assert_eq!(count(&reply, "HTTP/1.1 200 OK"), batch, "{reply}");
        let mut at = 0;
        for i in 0..batch {
            let found = reply[at..]
                .find(&format!("\r\n\r\n{}", tag(i)))
                .unwrap_or_else(|| panic!("step {step}: response {i} in order: {reply}"));
            at += found + 1;
        }
    }
    server.shutdown();
}

#[test]
fn pipelined_bytes_split_anywhere_are_kept() {
    let server = server();
    let requests =
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let mut s = socket(server.local_addr());
    // Each piece its own segment (split_stress.rs cuts at every point, in
    // memory; this goes through the kernel).
    s.set_nodelay(true).unwrap();
    for piece in requests.chunks(7) {
        s.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let reply = read_to_close(&mut s);
    assert_eq!(count(&reply, "Hello, World!"), 2, "{reply}");
    server.shutdown();
}

#[test]
fn malformed_requests_get_the_status_proto_names_then_close() {
    let server = server();
    let cases: [(&[u8], &str); 5] = [
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "400 Bad Request",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "400 Bad Request",
        ),
        (
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            "505 HTTP Version Not Supported",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "501 Not Implemented",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
            "400 Bad Request",
        ),
    ];
    for (request, status) in cases {
        let started = Instant::now();
        let reply = exchange(server.local_addr(), request);
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status}")),
            "{status}: {reply}"
        );
        assert!(reply.contains("connection: close\r\n"), "{reply}");
        // Closed at once, not after lingering over the client's silence.
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(900),
            "{status}: closed after {took:?}"
        );
    }
    // A 505 says which versions are supported (RFC 9110 §15.6.6).
    let reply = exchange(server.local_addr(), b"GET / HTTP/2.0\r\nHost: a\r\n\r\n");
    assert!(reply.contains("1.0 and 1.1 are supported"), "{reply}");
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    let reply = exchange(server.local_addr(), long_target.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 414"), "{reply}");
    let huge_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "a".repeat(20000)
    );
    let reply = exchange(server.local_addr(), huge_head.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    server.shutdown();
}

/// The date a worker writes moves on with the clock: a response a second
/// after another on the same connection (so the same worker thread) carries
/// a later one.
#[test]
fn the_date_moves_on_with_the_clock() {
    fn date_of(reply: &str) -> std::time::SystemTime {
        let line = reply
            .lines()
            .find_map(|line| line.strip_prefix("date: "))
            .unwrap_or_else(|| panic!("no date: {reply}"));
        httpdate::parse_http_date(line).unwrap()
    }
    let server = server();
    let mut s = socket(server.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let first = date_of(&read_until(&mut s, "Hello, World!"));
    std::thread::sleep(Duration::from_millis(1100));
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let second = date_of(&read_until(&mut s, "Hello, World!"));
    assert!(
        second >= first + Duration::from_secs(1),
        "{first:?} then {second:?}"
    );
    server.shutdown();
}

#[test]
fn responses_carry_the_date_unless_the_service_set_one_or_it_is_turned_off() {
    fn dates(reply: &str) -> usize {
        count(&reply.to_ascii_lowercase(), "\r\ndate: ")
    }
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(dates(&reply), 1, "{reply}");
    assert_eq!(
        without_date(&reply),
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\nconnection: close\r\n\r\nHello, World!"
    );
    // The driver's own answers are dated too (RFC 9110 §6.6.1: every 4xx).
    let reply = exchange(server.local_addr(), b"GET / HTTP/1.1\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert_eq!(dates(&reply), 1, "{reply}");
    without_date(&reply);
    server.shutdown();

    // Bodiless final answers too: a cache needs a 304's Date (RFC 9110
    // §6.6.1, §15.4.5).
    let bodiless = |request: lithe::io::Request| async move {
        let code = request.path()[1..].parse().unwrap();
        lithe::io::Response::new(lithe::proto::StatusCode::new(code).unwrap())
    };
    let server = server_with(bodiless, ServerConfig::default());
    for code in [204, 205, 304] {
        let request = format!("GET /{code} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let reply = exchange(server.local_addr(), request.as_bytes());
        assert!(reply.starts_with(&format!("HTTP/1.1 {code} ")), "{reply}");
        assert_eq!(dates(&reply), 1, "{reply}");
    }
    server.shutdown();

    let set_by_service = |_: lithe::io::Request| async {
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_header("Date", "Tue, 01 Jan 2030 00:00:00 GMT")
    };
    let server = server_with(set_by_service, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(dates(&reply), 1, "{reply}");
    assert!(
        reply.contains("\r\nDate: Tue, 01 Jan 2030 00:00:00 GMT\r\n"),
        "{reply}"
    );
    server.shutdown();

    let config = ServerConfig {
        date_header: false,
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert_eq!(dates(&reply), 0, "{reply}");
    server.shutdown();
}

#[test]
fn a_request_after_a_malformed_one_is_never_answered() {
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(count(&reply, "HTTP/1.1"), 1, "{reply}");
    server.shutdown();
}

/// The head timeout bounds the whole head, not the wait for each byte: a
/// client sending a byte every 50 ms (slowloris) gets 408, and the
/// connection closes, once 300 ms have passed in all, though no single read
/// waited that long.
#[test]
fn a_head_that_keeps_trickling_gets_408_at_its_deadline() {
    let config = ServerConfig {
        head_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let mut s = socket(server.local_addr());
    let mut writer = s.try_clone().unwrap();
    let started = Instant::now();
    let trickle = std::thread::spawn(move || {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n";
        let fields = std::iter::repeat(b"X-Slow: 1\r\n").flatten();
        // For 3 s at most: a per-read timeout would let this go on that long.
        for &byte in head.iter().chain(fields) {
            if started.elapsed() > Duration::from_secs(3) || writer.write_all(&[byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let reply = read_to_close(&mut s);
    let took = started.elapsed();
    assert!(
        reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{reply}"
    );
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    // A line saying why, as every refusal has.
    assert!(
        reply.ends_with("\r\n\r\n408 Request Timeout: timed out reading a message head\n"),
        "{reply}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Ends the trickle: its clone of the socket can write no more.
    let _ = s.shutdown(std::net::Shutdown::Both);
    trickle.join().unwrap();
    server.shutdown();
}

/// A chunked request's trailer fields reach the service once it has read
/// the body to its end, apart from the header fields.
#[test]
fn trailers_reach_the_service_after_the_body() {
    async fn sum(request: lithe::io::Request) -> lithe::io::Response {
        let mut body = request.into_body();
        let before = body.trailers().is_some();
        let mut length = 0;
        while let Some(chunk) = body.chunk().await.unwrap() {
            length += chunk.len();
        }
        // An empty trailer section, or none, is `None`, not an empty map.
        let trailers = match body.trailers() {
            None => "none".to_owned(),
            Some(t) => {
                let fields: Vec<String> = t
                    .iter()
                    .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
                    .collect();
                format!("[{}]", fields.join(" "))
            }
        };
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(format!(
            "before {before}, {length} bytes, trailers {trailers}"
        ))
    }
    let server = server_with(sum, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
        3\r\nabc\r\n2\r\nde\r\n0\r\nChecksum: 5f\r\nServer-Timing: db;dur=3\r\n\r\n\
        POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
        1\r\nx\r\n0\r\n\r\n",
    );
    assert!(
        reply.contains("before false, 5 bytes, trailers [Checksum=5f Server-Timing=db;dur=3]"),
        "{reply}"
    );
    assert!(
        reply.contains("before false, 1 bytes, trailers none"),
        "{reply}"
    );
    // A body framed by its length has no trailer section at all.
    let reply = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab",
    );
    assert!(
        reply.contains("before false, 2 bytes, trailers none"),
        "{reply}"
    );
    server.shutdown();
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let config = ServerConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let mut s = socket(server.local_addr());
    // Before the request, so before the idle time after its answer starts.
    let started = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let reply = read_to_close(&mut s);
    // The answer, then the close with nothing after it (no 408: no request
    // had begun).
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nHello, World!"), "{reply}");
    assert_eq!(count(&reply, "HTTP/1.1"), 1, "{reply}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.shutdown();
}

/// An idle timeout of zero turns keep-alive off (nginx's `keepalive_timeout
/// 0`): each response says `Connection: close` and the connection closes
/// after it, rather than closing unannounced the moment it is idle, which a
/// client would find only when its next request failed. A new connection
/// still has the head timeout to begin its request.
#[test]
fn a_zero_idle_timeout_turns_keep_alive_off() {
    // Hello, or a 101 to a request that proposed no switch, which the
    // driver answers with a 500.
    async fn service(request: lithe::io::Request) -> lithe::io::Response {
        use lithe::proto::StatusCode;
        match request.path() {
            "/switch" => lithe::io::Response::new(StatusCode::SWITCHING_PROTOCOLS)
                .with_header("upgrade", "echo"),
            _ => lithe::io::Response::new(StatusCode::OK).with_body("Hello, World!"),
        }
    }
    let config = ServerConfig {
        idle_timeout: Some(Duration::ZERO),
        ..ServerConfig::default()
    };
    let server = server_with(service, config);
    for (path, status) in [("/", "200 OK"), ("/switch", "500 ")] {
        let mut s = socket(server.local_addr());
        // A request that is not there the moment the connection is accepted.
        std::thread::sleep(Duration::from_millis(200));
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        s.write_all(request.as_bytes()).unwrap();
        let reply = read_to_close(&mut s);
        assert!(reply.starts_with(&format!("HTTP/1.1 {status}")), "{reply}");
        assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    }
    server.shutdown();
}

/// Empty lines between requests leave the connection idle (RFC 9112 §2.2),
/// even sent a byte at a time: a CR alone begins a head (and its timeout),
/// but the LF that makes it an empty line ends that, and a later head has
/// its whole timeout from its own first byte.
#[test]
fn an_empty_line_sent_a_byte_at_a_time_leaves_no_head_deadline_behind() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{duplex, serve_connection};
    let config = ServerConfig {
        head_timeout: Some(Duration::from_secs(1)),
        idle_timeout: Some(Duration::from_secs(8)),
        ..ServerConfig::default()
    };
    let (server_end, mut client_end) = duplex(4096);
    let reply = run(async {
        let served = serve_connection(server_end, routes, &config);
        let client = async {
            let pause = |ms| async_io::Timer::after(Duration::from_millis(ms));
            client_end
                .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                .await
                .unwrap();
            let first = read_head(&mut client_end).await;
            assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
            let mut body = [0u8; 13];
            client_end.read_exact(&mut body).await.unwrap();
            client_end.write_all(b"\r").await.unwrap();
            pause(50).await;
            client_end.write_all(b"\n").await.unwrap();
            // Past the head timeout from the lone CR, within the idle one
            // (the pauses around it are short against the head timeout).
            pause(1500).await;
            client_end.write_all(b"\r").await.unwrap();
            pause(20).await;
            let _ = client_end
                .write_all(b"\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                .await;
            let mut rest = Vec::new();
            let _ = client_end.read_to_end(&mut rest).await;
            String::from_utf8(rest).unwrap()
        };
        futures_lite::future::zip(served, client).await.1
    });
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("Hello, World!"), "{reply}");
}

/// An empty line after a request (RFC 9112 §2.2: ignored) does not start
/// the idle clock while the response is still going out: a client reading a
/// response that takes longer than the idle timeout to drain is still
/// answered its next request. Also when the line comes in two pieces, its
/// CR (a head begun, which leaves the response unflushed) before its LF
/// (idle again): before, the idle clock then ran from the LF.
#[test]
fn an_empty_line_after_a_request_starts_no_idle_clock_before_the_response_is_out() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Request, Response, duplex, serve_connection};
    use lithe::proto::StatusCode;
    const BODY: usize = 16_000;
    let config = ServerConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    async fn large(_: Request) -> Response {
        Response::new(StatusCode::OK).with_body(vec![b'x'; BODY])
    }
    for split in [false, true] {
        // Far smaller than the response: it drains as the client reads.
        let (server_end, mut client_end) = duplex(1024);
        let reply = run(async {
            let served = serve_connection(server_end, large, &config);
            let client = async {
                let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n";
                let (first, then) = request.split_at(request.len() - usize::from(split));
                client_end.write_all(first).await.unwrap();
                if split {
                    async_io::Timer::after(Duration::from_millis(50)).await;
                    client_end.write_all(then).await.unwrap();
                }
                let first = read_head(&mut client_end).await;
                assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
                // About 1.3 s to read: well past the idle timeout.
                let mut body = vec![0u8; BODY];
                for piece in body.chunks_mut(512) {
                    async_io::Timer::after(Duration::from_millis(40)).await;
                    client_end.read_exact(piece).await.unwrap();
                }
                let _ = client_end
                    .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    .await;
                let mut rest = Vec::new();
                let _ = client_end.read_to_end(&mut rest).await;
                String::from_utf8_lossy(&rest).into_owned()
            };
            futures_lite::future::zip(served, client).await.1
        });
        assert!(
            reply.starts_with("HTTP/1.1 200 OK\r\n"),
            "split: {split}: {reply:.80}"
        );
    }
}

/// Empty lines between requests (RFC 9112 §2.2) do not put off the idle
/// timeout: a client sending one every 100 ms, under a 300 ms idle
/// timeout, is closed on time, not held open for as long as it sends them
/// (16 KiB of them, the head limit, would be over 8,000 such waits).
#[test]
fn empty_lines_between_requests_do_not_extend_the_idle_timeout() {
    let config = ServerConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let mut s = socket(server.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    read_until(&mut s, "Hello, World!");
    let started = Instant::now();
    let mut sender = s.try_clone().unwrap();
    let lines = std::thread::spawn(move || {
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(100));
            if sender.write_all(b"\r\n").is_err() {
                return;
            }
        }
    });
    // A line sent after the close may have the close reset: closed either way.
    let mut rest = Vec::new();
    match std::io::Read::read_to_end(&mut s, &mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    assert!(rest.is_empty(), "{rest:?}");
    let open_for = started.elapsed();
    assert!(open_for < Duration::from_secs(2), "{open_for:?}");
    lines.join().unwrap();
    server.shutdown();
}

/// A connection that never begins a request is no keep-alive one: it has the
/// head timeout (when shorter) to start, not the idle timeout, so silent
/// connections cannot hold their slots for 75 s each. After a request, the
/// idle timeout applies again.
#[test]
fn a_new_connection_has_the_head_timeout_to_begin_its_first_request() {
    // Whatever the idle timeout: none, or one past what the clock can count.
    for idle_timeout in [Some(Duration::from_secs(5)), None, Some(Duration::MAX)] {
        a_new_connection_has_the_head_timeout_given(idle_timeout);
    }
}

fn a_new_connection_has_the_head_timeout_given(idle_timeout: Option<Duration>) {
    let config = ServerConfig {
        head_timeout: Some(Duration::from_millis(300)),
        idle_timeout,
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    // Read before the connect: the server's clock starts at its accept,
    // which cannot come before it.
    let started = Instant::now();
    let mut silent = socket(server.local_addr());
    assert_eq!(
        read_to_close(&mut silent),
        "",
        "nothing is sent to a silent connection"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{idle_timeout:?}: {waited:?}"
    );
    // A connection that has had a request waits for the next one for the
    // idle timeout: still open well past the head timeout.
    let mut used = socket(server.local_addr());
    used.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let first = read_until(&mut used, "Hello, World!");
    assert!(first.ends_with("Hello, World!"), "{first}");
    std::thread::sleep(Duration::from_millis(900));
    used.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut used);
    assert_eq!(
        count(&reply, "Hello, World!"),
        1,
        "{idle_timeout:?}: {reply}"
    );
    server.shutdown();
}

/// Empty lines between requests (RFC 9112 §2.2: a client may end a body with
/// an extra CRLF) begin no request: the connection stays idle, under the idle
/// timeout, rather than waiting out the head timeout on a head never sent.
/// Under `allow_bare_lf` a lone LF is such a line too.
#[test]
fn an_extra_line_end_between_requests_leaves_the_connection_idle() {
    for (bare_lf, eol) in [(false, "\r\n"), (true, "\n")] {
        let mut config = ServerConfig {
            head_timeout: Some(Duration::from_millis(300)),
            idle_timeout: Some(Duration::from_secs(5)),
            ..ServerConfig::default()
        };
        config.proto.leniency.allow_bare_lf = bare_lf;
        let lines = |lines: &[&str]| {
            lines
                .iter()
                .map(|line| format!("{line}{eol}"))
                .collect::<String>()
        };
        let server = server_with(routes, config);
        let mut s = socket(server.local_addr());
        let post =
            lines(&["POST /ignore HTTP/1.1", "Host: a", "Content-Length: 2", ""]) + "hi" + eol;
        s.write_all(post.as_bytes()).unwrap();
        let first = read_until(&mut s, "ignored");
        assert!(first.ends_with("ignored"), "{first}");
        std::thread::sleep(Duration::from_millis(700));
        let get = lines(&["GET / HTTP/1.1", "Host: a", "Connection: close", ""]);
        s.write_all(get.as_bytes()).unwrap();
        let reply = read_to_close(&mut s);
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{eol:?}: {reply}");
        assert!(reply.ends_with("Hello, World!"), "{reply}");
        drop(s);
        // Idle with an empty line pending, the connection ends at a shutdown as
        // an idle one does: at once, not after the shutdown's grace for a head.
        let mut s = socket(server.local_addr());
        let get = lines(&["GET / HTTP/1.1", "Host: a", "", ""]);
        s.write_all(get.as_bytes()).unwrap();
        let first = read_until(&mut s, "Hello, World!");
        assert!(first.ends_with("Hello, World!"), "{first}");
        let started = Instant::now();
        server.shutdown();
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{eol:?}: {:?}",
            started.elapsed()
        );
        assert_eq!(read_to_close(&mut s), "");
    }
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let config = ServerConfig::default();
    let secs = |s| Some(Duration::from_secs(s));
    assert_eq!(config.head_timeout, secs(30));
    assert_eq!(config.idle_timeout, secs(75));
    assert_eq!(config.body_timeout, secs(60));
    assert_eq!(config.write_timeout, secs(60));
    assert_eq!(config.min_progress_bytes, 4 * 1024);
    assert_eq!(config.drain_limit, 64 * 1024);
    assert!(config.date_header && config.half_close);
    assert_eq!(config.proto.limits.max_head_bytes, 16 * 1024);
    let serve = lithe::rt::ServeConfig::default();
    assert_eq!(serve.threads, 0, "one worker per core");
    assert_eq!(serve.shutdown_timeout, Duration::from_secs(30));
    assert!(!serve.reuse_port);
    assert_eq!(serve.max_connections, 25_000);
    #[cfg(feature = "tls")]
    {
        assert!(serve.tls.is_none());
        assert_eq!(serve.tls_handshake_timeout, secs(10));
    }
}

/// `max_connections: 0` is no limit: a worker with connections busy takes
/// the next at once.
#[test]
fn a_connection_limit_of_zero_is_none() {
    let serve = one_worker_limited_to(0);
    let server = lithe::rt::Server::bind("127.0.0.1:0", routes, serve).expect("bind");
    // Three connections busy, each with a head begun.
    let busy: Vec<_> = (0..3)
        .map(|_| {
            let mut s = socket(server.local_addr());
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    drop(busy);
    server.shutdown();
}

/// A `Server` dropped without `shutdown` goes on serving (its workers are
/// its own threads), until its shutdown signal is triggered.
#[test]
fn a_dropped_server_serves_on_until_its_signal() {
    let server = server();
    let addr = server.local_addr();
    let signal = server.shutdown_signal();
    drop(server);
    let reply = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.ends_with("Hello, World!"), "{reply}");
    signal.trigger();
    wait_until_refused(addr);
}

/// A request body cut short by the client's end is answered 400, naming
/// the cause, whatever the service made of it (`/collect` reads it whole;
/// the next test shows the service sees the error).
#[test]
fn a_body_cut_short_is_answered_400_with_its_cause() {
    let server = server();
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /collect HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(!reply.contains("got 3 bytes"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert!(
        reply.ends_with(
            "\r\n\r\n400 Bad Request: connection closed before the message was complete\n"
        ),
        "{reply}"
    );
    server.shutdown();
}

/// A service asking again after its body failed gets the same error again,
/// not one saying the connection moved on: read with `chunk`, or as a
/// `Stream` (which then ends, as streams do, while `chunk` repeats it).
#[test]
fn a_body_read_again_after_it_failed_fails_the_same_way() {
    use futures_lite::StreamExt;
    use lithe::io::{Request, Response};
    let (tx, rx) = std::sync::mpsc::channel();
    let read_twice = move |mut request: Request| {
        let tx = tx.clone();
        async move {
            let as_stream = request.path() == "/stream";
            let body = request.body_mut();
            let first = loop {
                let next = match as_stream {
                    true => body.next().await.map(|r| r.map_err(|e| e.to_string())),
                    false => body.chunk().await.map_err(|e| e.to_string()).transpose(),
                };
                match next {
                    Some(Ok(_)) => continue,
                    None => break "ended".to_owned(),
                    Some(Err(e)) => break e,
                }
            };
            let again = match body.chunk().await {
                Ok(_) => "read on".to_owned(),
                Err(e) => e.to_string(),
            };
            // Collected after the error, with more declared to come than
            // the limit: the error again, not "too large".
            let collected = match std::mem::take(body).bytes(5).await {
                Ok(_) => "collected".to_owned(),
                Err(e) => e.to_string(),
            };
            tx.send((first, again, collected)).unwrap();
            Response::new(lithe::proto::StatusCode::OK)
        }
    };
    let server = server_with(read_twice, ServerConfig::default());
    for path in ["/", "/stream"] {
        let mut s = socket(server.local_addr());
        let request = format!("POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
        s.write_all(request.as_bytes()).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let (first, again, collected) = rx.recv_timeout(LIMIT).expect("the service read twice");
        assert!(first.contains("protocol error"), "{path}: {first}");
        assert_eq!(first, again, "{path}");
        assert_eq!(first, collected, "{path}");
    }
    server.shutdown();
}

#[test]
fn a_malformed_chunked_body_gets_400() {
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"POST /collect HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n0\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("connection: close"), "{reply}");
    server.shutdown();
}

#[test]
fn chunked_request_bodies_are_dechunked_and_echoed() {
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    assert!(reply.contains("transfer-encoding: chunked\r\n"), "{reply}");
    let body = &reply[reply.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(dechunk(body), "hello world");
    server.shutdown();
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let line_end = s.find("\r\n").unwrap();
        let size = usize::from_str_radix(&s[..line_end], 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&s[line_end + 2..line_end + 2 + size]);
        s = &s[line_end + 2 + size + 2..];
    }
}

#[test]
fn an_unread_small_body_is_drained_and_the_connection_kept() {
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    // The 5 body bytes are "GET /": drained as body, never parsed as a request,
    // so what follows is a malformed request line.
    assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 1, "{reply}");
    assert!(reply.contains("HTTP/1.1 400"), "{reply}");

    let reply = exchange(
        server.local_addr(),
        b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 2, "{reply}");
    assert!(reply.ends_with("Hello, World!"), "{reply}");
    server.shutdown();

    // A body yet to come of exactly the drain limit is drained; one byte
    // more closes the connection.
    let config = ServerConfig {
        drain_limit: 4,
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    for (length, kept) in [(4, true), (5, false)] {
        let mut s = socket(server.local_addr());
        let head = format!("POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let answer = read_until(&mut s, "ignored");
        assert_eq!(
            !answer.contains("connection: close"),
            kept,
            "{length}: {answer}"
        );
        let rest = format!(
            "{}GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "x".repeat(length)
        );
        let _ = s.write_all(rest.as_bytes());
        let reply = read_to_close(&mut s);
        assert_eq!(reply.ends_with("Hello, World!"), kept, "{length}: {reply}");
    }
    // The same for a chunked body all in already: its data counts.
    for (chunks, kept) in [
        ("2\r\nab\r\n2\r\ncd\r\n", true),
        ("2\r\nab\r\n3\r\ncde\r\n", false),
    ] {
        let request = format!(
            "POST /ignore HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}0\r\n\r\n\
             GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        );
        let reply = exchange(server.local_addr(), request.as_bytes());
        assert_eq!(
            reply.ends_with("Hello, World!"),
            kept,
            "{chunks:?}: {reply}"
        );
        // Said in the answer's head: decided before it goes out.
        let (first, _) = reply.split_once("ignored").unwrap();
        assert_eq!(
            !first.contains("connection: close"),
            kept,
            "{chunks:?}: {reply}"
        );
    }
    server.shutdown();
}

/// A chunked body is drained only when its end is already in: its length is
/// known in advance only then, and a response must say `connection: close`
/// before the drain could find the body too long.
#[test]
fn an_unread_chunked_body_is_drained_only_once_its_end_is_in() {
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"POST /ignore HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;note=x\r\nGET /\r\n0\r\nchecksum: 1\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 2, "{reply}");
    let first = reply.split("HTTP/1.1 200 OK").nth(1).unwrap();
    assert!(!first.contains("connection: close"), "{reply}");
    assert!(reply.ends_with("Hello, World!"), "{reply}");

    // The last chunk has not come: the connection ends with the response.
    let mut s = socket(server.local_addr());
    s.write_all(
        b"POST /ignore HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .unwrap();
    let reply = read_to_close(&mut s);
    assert_eq!(count(&reply, "HTTP/1.1"), 1, "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    server.shutdown();
}

#[test]
fn a_body_read_to_its_length_keeps_the_connection_however_large() {
    // The service stops at the declared length without asking once more for
    // the end (as a multipart parser at its last boundary does): nothing is
    // left to drain, so the connection goes on.
    async fn exact(request: lithe::io::Request) -> lithe::io::Response {
        let length: usize = request
            .headers()
            .get_str("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = request.into_body();
        let mut got = 0;
        while got < length {
            match body.chunk().await {
                Ok(Some(chunk)) => got += chunk.len(),
                _ => break,
            }
        }
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(format!("{got}"))
    }
    let server = server_with(exact, ServerConfig::default());
    let mut s = socket(server.local_addr());
    let mut request = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'x', 100_000));
    request.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    s.write_all(&request).unwrap();
    let reply = read_to_close(&mut s);
    assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 2, "{reply}");
    let first = reply.split("HTTP/1.1 200 OK").nth(1).unwrap();
    assert!(!first.contains("connection: close"), "{reply}");
    assert!(first.ends_with("100000"), "{reply}");
    server.shutdown();
}

#[test]
fn an_unread_large_body_closes_the_connection() {
    let server = server();
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n")
        .unwrap();
    // Some of the body (what socket buffers take without a wait: a client
    // still writing when the server's linger over unread bytes ends would
    // meet a reset, which may destroy the answer unread), then the end.
    // The declared length alone decides: the server cannot drain it.
    let _ = s.write_all(&vec![b'x'; 64 * 1024]);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    // Too long to drain: the response says the connection ends.
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert_eq!(count(&reply, "HTTP/1.1"), 1);
    server.shutdown();
}

/// Serves one connection over an in-memory pipe of 4 KiB with `service`, on
/// a thread of its own (so that nothing but its own wakeups moves it), with a
/// 2 s write timeout and `body_timeout`, while a client writes `request`
/// whole, waits `pause_before_reading`, then reads to the end; what the
/// server ended with and what the client read.
fn served_to_a_client_uploading_first<S>(
    service: S,
    body_timeout: Option<Duration>,
    request: Vec<Vec<u8>>,
    pause_before_reading: Duration,
) -> (Result<(), lithe::io::Error>, String)
where
    S: lithe::io::Service + Clone + Send + 'static,
{
    use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
    let (mut client_end, server_end) = lithe::io::duplex(4096);
    let config = ServerConfig {
        write_timeout: Some(Duration::from_secs(2)),
        body_timeout,
        ..ServerConfig::default()
    };
    let server = std::thread::spawn(move || {
        future::block_on(lithe::io::serve_connection(server_end, service, &config))
    });
    let reply = run(async {
        for piece in &request {
            client_end.write_all(piece).await.unwrap();
        }
        async_io::Timer::after(pause_before_reading).await;
        let mut reply = Vec::new();
        client_end.read_to_end(&mut reply).await.unwrap();
        // Which ends the server's linger at once.
        client_end.close().await.unwrap();
        reply
    });
    (joined(server), String::from_utf8(reply).unwrap())
}

/// `head` and a body of `len` bytes of `x`, in pieces of 16 KiB, chunked
/// when `chunked`.
fn upload(head: &str, len: usize, chunked: bool) -> Vec<Vec<u8>> {
    let mut pieces = vec![head.as_bytes().to_vec()];
    for piece in vec![b'x'; len].chunks(16 * 1024) {
        match chunked {
            true => {
                pieces.push([format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat())
            }
            false => pieces.push(piece.to_vec()),
        }
    }
    if chunked {
        pieces.push(b"0\r\n\r\n".to_vec());
    }
    pieces
}

/// An answer larger than the transport holds, given before the request
/// body is read (and with the body dropped unread), reaches a client that
/// sends all its body before it reads: the body is read and dropped while
/// the answer waits to go out, rather than each side waiting on the other
/// until the write timeout. A large answer, sized or streamed, and one small
/// enough to go out with its head, whose last bytes wait in the close.
#[test]
fn an_early_answer_larger_than_the_transport_holds_reaches_a_client_uploading_first() {
    const UPLOAD: usize = 1 << 20;
    let answers: [(&str, usize); 3] = [
        ("sized", 1 << 20),
        ("streamed", 48 * 1024),
        ("small", 16 * 1024),
    ];
    for (answer, size) in answers {
        for chunked in [false, true] {
            let refusing = move |_: lithe::io::Request| async move {
                let response =
                    lithe::io::Response::new(lithe::proto::StatusCode::CONTENT_TOO_LARGE);
                match answer {
                    "streamed" => response.with_body(lithe::io::Body::stream(
                        futures_lite::stream::iter((0..size / 1024).map(|_| {
                            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'n'; 1024]))
                        })),
                    )),
                    _ => response.with_body(vec![b'n'; size]),
                }
            };
            let head = match chunked {
                false => format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {UPLOAD}\r\n\r\n"),
                true => "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            };
            let (served, reply) = served_to_a_client_uploading_first(
                refusing,
                None,
                upload(&head, UPLOAD, chunked),
                Duration::ZERO,
            );
            let case = format!("{answer}, upload chunked: {chunked}");
            assert!(served.is_ok(), "{case}: {served:?}");
            assert!(
                reply.starts_with("HTTP/1.1 413 "),
                "{case}: {}",
                &reply[..reply.len().min(200)]
            );
            assert!(reply.contains("connection: close\r\n"), "{case}");
            let body = &reply[reply.find("\r\n\r\n").unwrap() + 4..];
            let body = match answer {
                "streamed" => dechunk(body),
                _ => body.to_owned(),
            };
            assert_eq!(body, "n".repeat(size), "{case}");
        }
    }
}

/// A service that answers `/large` with 1 MiB of `a` from a stream that
/// holds the request body until its first piece (so the body is still
/// wanted when the answer starts, and given up while it goes out), and
/// anything else with `aa`.
async fn answering_from_a_stream_holding_the_body(
    request: lithe::io::Request,
) -> lithe::io::Response {
    const ANSWER: usize = 1 << 20;
    if request.path() != "/large" {
        return lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("aa");
    }
    let mut held = Some(request.into_body());
    let answer = futures_lite::StreamExt::map(futures_lite::stream::iter([()]), move |()| {
        held.take();
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; ANSWER]))
    });
    lithe::io::Response::new(lithe::proto::StatusCode::OK)
        .with_body(lithe::io::Body::stream(answer))
}

/// The same within the drain limit: the body read and dropped while the
/// answer goes out leaves the connection in step, and the next request on
/// it is served; past the limit, the connection closes after the answer.
/// (See [`answering_from_a_stream_holding_the_body`]: nothing is settled
/// when the answer starts.)
#[test]
fn a_body_dropped_while_a_large_answer_goes_out_leaves_the_connection_kept_within_the_limit() {
    const ANSWER: usize = 1 << 20;
    let answering = answering_from_a_stream_holding_the_body;
    // 60 KiB fits the default drain limit of 64 KiB; 1 MiB does not.
    for (len, kept) in [(60 * 1024, true), (1 << 20, false)] {
        let head = format!("POST /large HTTP/1.1\r\nHost: a\r\nContent-Length: {len}\r\n\r\n");
        let mut request = upload(&head, len, false);
        request.push(b"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec());
        let (served, replies) =
            served_to_a_client_uploading_first(answering, None, request, Duration::ZERO);
        assert!(served.is_ok(), "{len}: {served:?}");
        let (first, rest) = replies
            .split_once(&"a".repeat(ANSWER))
            .expect("the large answer whole");
        assert!(
            first.starts_with("HTTP/1.1 200 "),
            "{}",
            &first[..first.len().min(200)]
        );
        assert!(!first.contains("connection: close"), "{first}");
        let second = rest
            .strip_prefix("\r\n0\r\n\r\n")
            .expect("the answer's last chunk");
        match kept {
            true => {
                assert!(second.starts_with("HTTP/1.1 200 "), "{len}: {second}");
                assert!(second.ends_with("\r\n\r\naa"), "{len}: {second}");
            }
            false => assert_eq!(second, "", "{len}: closed after the answer"),
        }
    }
}

/// What is dropped while the answer goes out and what is drained after it
/// count against one drain limit: 40 KiB each way, past the 64 KiB limit
/// together, close the connection after the answer.
#[test]
fn a_body_dropped_partly_during_the_answer_and_partly_after_is_held_to_one_drain_limit() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
    const HALF: usize = 40 * 1024;
    let answering = answering_from_a_stream_holding_the_body;
    let (mut client_end, server_end) = lithe::io::duplex(4096);
    let config = ServerConfig {
        write_timeout: Some(Duration::from_secs(2)),
        ..ServerConfig::default()
    };
    let server = std::thread::spawn(move || {
        future::block_on(lithe::io::serve_connection(server_end, answering, &config))
    });
    let rest = run(async {
        let head = format!(
            "POST /large HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
            2 * HALF
        );
        client_end.write_all(head.as_bytes()).await.unwrap();
        client_end.write_all(&vec![b'x'; HALF]).await.unwrap();
        // The whole answer, before the rest of the body goes.
        let mut answer = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while !answer.ends_with(b"\r\n0\r\n\r\n") {
            let n = client_end.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the answer's end");
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200 "));
        client_end.write_all(&vec![b'x'; HALF]).await.unwrap();
        client_end
            .write_all(b"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        client_end.read_to_end(&mut rest).await.unwrap();
        client_end.close().await.unwrap();
        rest
    });
    assert!(joined(server).is_ok());
    assert_eq!(
        String::from_utf8(rest).unwrap(),
        "",
        "closed, /next unserved"
    );
}

/// A response stream that fails ends the connection (after a linger that
/// keeps the client's upload from resetting it): a task of the service's
/// still reading the request body learns at once that the body will not
/// come, not only when the linger ends (here, a second after the client
/// stops sending, about 3 s on).
#[test]
fn a_body_reader_hears_at_once_of_a_connection_ended_by_a_failed_response() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
    let (read_failed, failed_at) = std::sync::mpsc::channel();
    let service = move |request: lithe::io::Request| {
        let read_failed = read_failed.clone();
        async move {
            let mut body = request.into_body();
            std::thread::spawn(move || {
                let ended = future::block_on(async {
                    loop {
                        match body.chunk().await {
                            Ok(Some(_)) => {}
                            other => return other.map(|_| ()),
                        }
                    }
                });
                let _ = read_failed.send((Instant::now(), ended));
            });
            let failing = futures_lite::StreamExt::chain(
                futures_lite::stream::iter([Ok(bytes::Bytes::from_static(b"first"))]),
                futures_lite::stream::once_future(async {
                    async_io::Timer::after(Duration::from_millis(100)).await;
                    Err(std::io::Error::other("the source failed"))
                }),
            );
            lithe::io::Response::new(lithe::proto::StatusCode::OK)
                .with_body(lithe::io::Body::stream(failing))
        }
    };
    let (client_end, server_end) = lithe::io::duplex(4096);
    let config = ServerConfig::default();
    let server = std::thread::spawn(move || {
        future::block_on(lithe::io::serve_connection(server_end, service, &config))
    });
    let (mut reading, mut writing) = futures_lite::io::split(client_end);
    let reader = std::thread::spawn(move || {
        future::block_on(async {
            let mut reply = Vec::new();
            let _ = reading.read_to_end(&mut reply).await;
            reply
        })
    });
    let sent_until = future::block_on(async {
        writing
            .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n")
            .await
            .unwrap();
        // 1 KiB every 50 ms for 2 s: more than the body read before the
        // failure, and the linger's discard after it.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            if writing.write_all(&[b'x'; 1024]).await.is_err() {
                break;
            }
            async_io::Timer::after(Duration::from_millis(50)).await;
        }
        Instant::now()
    });
    let (failed_at, ended) = failed_at.recv_timeout(LIMIT).unwrap();
    // A body cut short ends in an error, never as if it were whole.
    assert!(
        matches!(ended, Err(lithe::io::Error::BodyAbandoned)),
        "{ended:?}"
    );
    let reply = String::from_utf8(reader.join().unwrap()).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(
        !reply.ends_with("\r\n0\r\n\r\n"),
        "cut short, not ended: {reply}"
    );
    assert!(server.join().unwrap().is_err());
    // The failure comes 100 ms in; the client sends until 2 s.
    assert!(
        failed_at + Duration::from_secs(1) < sent_until,
        "the reader heard {:?} before the client stopped sending",
        sent_until - failed_at
    );
}

/// What was dropped of a body while an earlier answer waited to go out
/// counts when its own answer decides whether the connection goes on: 40 KiB
/// dropped and 40 KiB still to come are past the 64 KiB drain limit, so that
/// answer says `connection: close`, as the connection then does (before, it
/// weighed the 40 KiB to come alone, kept alive in its head, and closed).
#[test]
fn a_body_partly_dropped_before_its_answer_counts_toward_keeping_the_connection() {
    const HALF: usize = 40 * 1024;
    let service = |request: lithe::io::Request| async move {
        match request.path() {
            // Larger than the pipe: it waits to go out while the client uploads.
            "/q" => {
                lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(vec![b'q'; 10_000])
            }
            _ => {
                drop(request);
                async_io::Timer::after(Duration::from_millis(500)).await;
                lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("dropped")
            }
        }
    };
    // The GET and the POST's head in one piece, then half of the body.
    let heads = format!(
        "GET /q HTTP/1.1\r\nHost: a\r\n\r\n\
         POST /drop HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        2 * HALF
    );
    let mut request = upload(&heads, HALF, false);
    request[0] = heads.into_bytes();
    let (served, reply) = served_to_a_client_uploading_first(
        service,
        Some(Duration::from_millis(300)),
        request,
        Duration::from_millis(100),
    );
    assert!(served.is_ok(), "{served:?}");
    assert_eq!(count(&reply, "HTTP/1.1 200 OK\r\n"), 2, "{reply}");
    let dropped_answer = &reply[reply.rfind("HTTP/1.1 ").unwrap()..];
    assert!(dropped_answer.ends_with("dropped"), "{dropped_answer}");
    assert!(
        dropped_answer.contains("connection: close\r\n"),
        "{dropped_answer}"
    );
}

/// A body that stalls (past the body timeout) while a large answer waits to
/// go out ends the connection after the answer, which goes out whole.
#[test]
fn a_body_stalling_while_a_large_answer_waits_leaves_the_answer_whole() {
    const ANSWER: usize = 1 << 20;
    let answering = |_: lithe::io::Request| async {
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(vec![b'a'; ANSWER])
    };
    // Half the declared body, then a pause past the body timeout.
    let request = upload(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 61440\r\n\r\n",
        30 * 1024,
        false,
    );
    let (served, reply) = served_to_a_client_uploading_first(
        answering,
        Some(Duration::from_millis(200)),
        request,
        Duration::from_millis(600),
    );
    assert!(served.is_ok(), "{served:?}");
    assert!(
        reply.starts_with("HTTP/1.1 200 "),
        "{}",
        &reply[..reply.len().min(200)]
    );
    assert!(
        reply.ends_with(&"a".repeat(ANSWER)),
        "{} bytes",
        reply.len()
    );
    assert_eq!(count(&reply, "HTTP/1.1"), 1);
}

/// A client that writes its whole upload before it reads (as simple clients
/// do) still gets an early refusal: the server, its answer sent, reads and
/// discards the upload for as long as it keeps coming (within the linger's
/// ten seconds), however large, so that its unread bytes draw no reset that
/// would destroy the answer. Both by the service (413 without reading) and
/// by proto's body limit.
#[test]
fn an_early_refusal_outlasts_an_upload_sent_before_reading() {
    use std::time::{Duration, Instant};
    let refusing = |_: lithe::io::Request| async {
        lithe::io::Response::new(lithe::proto::StatusCode::CONTENT_TOO_LARGE).with_body("no")
    };
    // Behind proto's limit, the service never sees the request.
    let accepting =
        |_: lithe::io::Request| async { lithe::io::Response::new(lithe::proto::StatusCode::OK) };
    let limited = ServerConfig {
        proto: lithe::proto::Config {
            limits: lithe::proto::Limits {
                max_body_bytes: 1 << 20,
                ..lithe::proto::Limits::default()
            },
            ..lithe::proto::Config::default()
        },
        ..ServerConfig::default()
    };
    let piece = vec![b'x'; 64 * 1024];
    for (server, pieces, pause) in [
        // More than a byte cap of 16 MiB would take, at full speed.
        (server_with(refusing, ServerConfig::default()), 384, None),
        (server_with(accepting, limited), 384, None),
        // Longer than a linger of one second, in pieces well apart.
        (
            server_with(refusing, ServerConfig::default()),
            16,
            Some(Duration::from_millis(150)),
        ),
    ] {
        let mut s = socket(server.local_addr());
        let length = pieces * piece.len();
        let head = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let started = Instant::now();
        for sent in 0..pieces {
            if let Some(pause) = pause {
                std::thread::sleep(pause);
            }
            if let Err(e) = s.write_all(&piece) {
                panic!(
                    "piece {sent} of {pieces} after {:?}: {e}",
                    started.elapsed()
                );
            }
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        let reply = read_to_close(&mut s);
        assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
        assert!(reply.contains("connection: close\r\n"), "{reply}");
        server.shutdown();
    }
}

/// A shutdown cuts the linger short: a peer that keeps sending after its
/// answer does not hold the server's end, and so its shutdown, for the
/// linger's ten seconds. Cut to a pause, not to nothing: the upload still
/// arriving is read and dropped for up to a second from the answer, so
/// that it draws no reset at once.
#[test]
fn a_shutdown_cuts_the_linger_over_an_endless_upload_short() {
    use std::time::{Duration, Instant};
    let refusing = |_: lithe::io::Request| async {
        lithe::io::Response::new(lithe::proto::StatusCode::CONTENT_TOO_LARGE)
    };
    // The default shutdown timeout (30 s), longer than the linger.
    let config = lithe::rt::ServeConfig {
        threads: 1,
        ..Default::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", refusing, config).unwrap();
    let mut s = socket(server.local_addr());
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000\r\n\r\n")
        .unwrap();
    let mut writer = s.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        let piece = vec![b'x'; 16 * 1024];
        let started = Instant::now();
        // Until the server's end is gone, or long past the linger.
        while started.elapsed() < Duration::from_secs(20) && writer.write_all(&piece).is_ok() {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let reply = read_until(&mut s, "\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
    let started = Instant::now();
    server.shutdown();
    let took = started.elapsed();
    // The pause of a second from the answer, less what the test took to
    // read it and ask for the shutdown.
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(4),
        "{took:?}"
    );
    drop(s);
    flood.join().unwrap();
}

#[test]
fn expect_100_continue_is_sent_only_when_the_body_is_read() {
    let server = server();
    let mut s = socket(server.local_addr());
    s.write_all(
        b"POST /collect HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let interim = read_until(&mut s, "\r\n\r\n");
    assert_eq!(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"ping").unwrap();
    let reply = read_until(&mut s, "got 4 bytes");
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.ends_with("got 4 bytes"), "{reply}");

    // A service that never reads: no 100, a final answer, and the connection closes.
    let mut s = socket(server.local_addr());
    s.write_all(
        b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.contains("connection: close"), "{reply}");
    server.shutdown();
}

/// A client may send its body without waiting for the 100 it asked for (RFC
/// 9110 §10.1.1). Once all of it has arrived, a service that ignores it
/// leaves nothing in doubt: no 100, the body is dropped, and the connection
/// goes on to the next request. (Whether more is still to come would be in
/// doubt, so a body not all there yet closes the connection, as above.)
#[test]
fn a_body_sent_whole_without_waiting_for_100_continue_keeps_the_connection() {
    let server = server();
    let bodies = [
        "Content-Length: 4\r\n\r\nping",
        "Transfer-Encoding: chunked\r\n\r\n4\r\nping\r\n0\r\n\r\n",
    ];
    for body in bodies {
        let mut s = socket(server.local_addr());
        let requests = format!(
            "POST /ignore HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n{body}\
             GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        );
        s.write_all(requests.as_bytes()).unwrap();
        let reply = read_to_close(&mut s);
        assert!(!reply.contains("100 Continue"), "{body}: {reply}");
        assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 2, "{body}: {reply}");
        assert_eq!(count(&reply, "connection: close"), 1, "{body}: {reply}");
        assert!(reply.ends_with("Hello, World!"), "{body}: {reply}");
    }
    server.shutdown();
    // Past the drain limit, a body buffered whole all the same is not
    // dropped to keep the connection: the limit holds as for any other.
    let config = ServerConfig {
        drain_limit: 2,
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let reply = exchange(
        server.local_addr(),
        b"POST /ignore HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nping\
          GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 1, "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert!(!reply.contains("Hello, World!"), "{reply}");
    server.shutdown();
}

/// A service's future that keeps the request after it is done (written by
/// hand; an `async` block drops what it captured when it finishes) leaves
/// the body unread all the same: no 100 invites it, and a body past the
/// drain limit makes the answer say the connection closes.
#[test]
fn a_body_held_by_a_finished_service_future_is_not_awaited() {
    /// Answers 404 at once and keeps the request for as long as it lives.
    struct Holding(#[allow(dead_code)] lithe::io::Request);
    impl std::future::Future for Holding {
        type Output = lithe::io::Response;
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<lithe::io::Response> {
            std::task::Poll::Ready(lithe::io::Response::new(
                lithe::proto::StatusCode::NOT_FOUND,
            ))
        }
    }
    let server = server_with(Holding, ServerConfig::default());
    answers_a_large_upload_uninvited(&server, "HTTP/1.1 404 Not Found\r\n", "\r\n\r\n");
    server.shutdown();
}

/// A request body kept past its connection (handed to work that outlasts
/// it, unread) keeps no waker of the connection's driver: a waker keeps its
/// task's allocation, the size of the connection's future, for as long as
/// the body lives.
#[test]
fn a_body_kept_past_its_connection_keeps_no_waker_of_its_driver() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use std::sync::{Arc, Mutex};
    let kept: Arc<Mutex<Vec<lithe::io::Incoming>>> = Arc::default();
    let keeps = kept.clone();
    // The service answers after a wait, as one that hands the body on and
    // awaits something does: meanwhile the driver asks the body whether its
    // reader wants a piece, leaving its waker for when it does.
    let service = move |request: lithe::io::Request| {
        keeps.lock().unwrap().push(request.into_body());
        async {
            futures_lite::future::yield_now().await;
            lithe::io::Response::new(lithe::proto::StatusCode::OK)
        }
    };
    let (mut client, server_end) = lithe::io::duplex(64 * 1024);
    run(client.write_all(
        b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\nConnection: close\r\n\r\nabc",
    ))
    .unwrap();
    run(client.close()).unwrap();
    // The driver's task.
    let waker = Unparks::current();
    let config = ServerConfig::default();
    let served = lithe::io::serve_connection(server_end, service, &config);
    poll_with(served, &waker, "the connection did not end").unwrap();
    let mut reply = String::new();
    run(client.read_to_string(&mut reply)).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert_eq!(kept.lock().unwrap().len(), 1, "the body is kept");
    assert_eq!(
        Arc::strong_count(&waker),
        1,
        "a waker of the driver is kept"
    );
}

/// The clones of a task's waker still alive once a service has polled
/// something of `request` with it (`poll_and_drop`, which finds it pending
/// and drops it) and goes on to answer 200.
fn waker_clones_left(
    request: &'static [u8],
    poll_and_drop: fn(lithe::io::Request, &std::task::Waker),
) -> usize {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let left = Arc::new(AtomicUsize::new(usize::MAX));
    let tells = left.clone();
    let service = move |request: lithe::io::Request| {
        let tells = tells.clone();
        async move {
            let task = Unparks::current();
            poll_and_drop(request, &std::task::Waker::from(task.clone()));
            tells.store(Arc::strong_count(&task) - 1, Ordering::SeqCst);
            lithe::io::Response::new(lithe::proto::StatusCode::OK)
        }
    };
    let server = server_with(service, ServerConfig::default());
    let reply = exchange(server.local_addr(), request);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    server.shutdown();
    left.load(Ordering::SeqCst)
}

/// A request body polled with a task's waker, then dropped while the
/// service goes on, keeps no clone of that waker: it would keep the task's
/// allocation until the request is over.
#[test]
fn a_body_dropped_by_its_reader_keeps_no_waker_of_the_reader() {
    use std::future::Future;
    let request = b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\nConnection: close\r\n\r\n";
    let left = waker_clones_left(request, |request, waker| {
        let mut body = request.into_body();
        let mut chunk = std::pin::pin!(body.chunk());
        let pending = chunk
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(pending.is_pending(), "no body has been sent");
    });
    assert_eq!(left, 0, "clones of the reader's waker kept");
}

/// A switch's [`OnUpgrade`](lithe::io::OnUpgrade) polled with a task's
/// waker, then given up (its waiter timed out, say) while the service goes
/// on to answer otherwise, keeps no clone of that waker: it would keep the
/// task's allocation until the response is written, a streamed one however
/// long it takes.
#[test]
fn a_switch_given_up_by_its_waiter_keeps_no_waker_of_the_waiter() {
    use std::future::Future;
    let request =
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\nUpgrade: echo\r\n\r\n";
    let left = waker_clones_left(request, |mut request, waker| {
        let mut on_upgrade = request.upgrade().expect("an upgrade is offered");
        let pending =
            std::pin::Pin::new(&mut on_upgrade).poll(&mut std::task::Context::from_waker(waker));
        assert!(pending.is_pending(), "nothing has been answered");
    });
    assert_eq!(left, 0, "clones of the waiter's waker kept");
}

/// Sends the head of a 10 MB upload, without and with `Expect:
/// 100-continue`, and checks the answer (read up to `end`): `status`, no
/// 100 before it, and a head that says the connection closes.
fn answers_a_large_upload_uninvited(server: &lithe::rt::Server, status: &str, end: &str) {
    for expect in ["", "Expect: 100-continue\r\n"] {
        let mut s = socket(server.local_addr());
        let head =
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n{expect}\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let reply = read_until(&mut s, end);
        assert!(reply.starts_with(status), "{expect}{reply}");
        assert!(reply.contains("connection: close\r\n"), "{expect}{reply}");
    }
}

/// A body handed to work outlasting the response (a thread that reads it
/// later) is abandoned once a response that goes out at once has gone: no
/// 100 invites it, and the head says the connection closes, as for a body
/// nobody holds (`Incoming`'s docs: such work reads the body first).
#[test]
fn a_body_handed_to_another_thread_is_not_invited_when_the_answer_goes_at_once() {
    async fn queued(request: lithe::io::Request) -> lithe::io::Response {
        let body = request.into_body();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(body);
        });
        lithe::io::Response::new(lithe::proto::StatusCode::ACCEPTED).with_body("queued")
    }
    let server = server_with(queued, ServerConfig::default());
    answers_a_large_upload_uninvited(&server, "HTTP/1.1 202 Accepted\r\n", "queued");
    server.shutdown();
}

/// A response whose body holds the request body (an echo) but is not sent
/// (a 204; a HEAD's answer) leaves nobody to read that body: no 100 invites
/// it, and the connection closes after the answer.
#[test]
fn expect_100_continue_is_not_sent_for_a_body_held_by_a_response_never_sent() {
    async fn echo_204(request: lithe::io::Request) -> lithe::io::Response {
        lithe::io::Response::new(lithe::proto::StatusCode::NO_CONTENT)
            .with_body(lithe::io::Body::stream(request.into_body()))
    }
    let server = server_with(echo_204, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 204 No Content\r\n"), "{reply}");
    assert!(!reply.contains("100 Continue"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    server.shutdown();
}

/// A body the service dropped unread, answered with a streamed body (which
/// does not go out at once, so the driver asks whether anyone still holds
/// the request's): nobody will read it, so no 100 invites it, and the
/// connection closes after the answer.
#[test]
fn expect_100_continue_is_not_sent_for_a_body_dropped_before_a_streamed_answer() {
    async fn drop_then_stream(request: lithe::io::Request) -> lithe::io::Response {
        drop(request.into_body());
        let piece = futures_lite::stream::once(Ok(bytes::Bytes::from_static(b"streamed")));
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(lithe::io::Body::stream(piece))
    }
    let server = server_with(drop_then_stream, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(!reply.contains("100 Continue"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    server.shutdown();
}

/// An echo whose head cannot be sent (both framing fields) held the request
/// body, so the client was invited to send it; the 500 that replaces the
/// head drops that body, and with more of it to come than the drain limit
/// takes, the 500 says the connection closes.
#[test]
fn a_500_for_an_unsendable_echo_says_the_connection_closes_when_its_body_cannot_be_drained() {
    async fn bad_echo(request: lithe::io::Request) -> lithe::io::Response {
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_header("content-length", "4")
            .with_header("transfer-encoding", "chunked")
            .with_body(lithe::io::Body::stream(request.into_body()))
    }
    let server = server_with(bad_echo, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let reply = read_until(&mut s, "HTTP/1.1 500");
    let reply = reply + &read_until(&mut s, "\r\n\r\n");
    let at = reply.find("HTTP/1.1 500 ").expect(&reply);
    assert!(reply[at..].contains("connection: close\r\n"), "{reply}");
    server.shutdown();
}

/// A received body sent on (an echo here, a proxy's upstream request
/// alike) with `Body::from` keeps what is known of its length: none for a
/// GET (no chunked empty body), a declared length as `Content-Length` (what
/// is left of it once some was read), chunked only when it came chunked.
#[test]
fn a_received_body_sent_on_keeps_its_length() {
    use lithe::io::{Body, Request, Response};
    use lithe::proto::StatusCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    static FIRST_PIECE_READ: AtomicBool = AtomicBool::new(false);
    let echo = |request: Request| async move {
        let mut body = request.into_body();
        if body.len() == Some(10) {
            // Read a piece first: what goes on is what is left.
            let first = body.chunk().await.unwrap().unwrap();
            assert_eq!(body.len(), Some(10 - first.len() as u64));
            FIRST_PIECE_READ.store(true, Ordering::SeqCst);
        }
        Response::new(StatusCode::OK).with_body(Body::from(body))
    };
    let server = server_with(echo, ServerConfig::default());
    let addr = server.local_addr();
    let reply = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("\r\ncontent-length: 0\r\n"),
        "{reply}"
    );
    assert!(
        !reply.to_ascii_lowercase().contains("transfer-encoding"),
        "{reply}"
    );
    let reply = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("\r\ncontent-length: 5\r\n"),
        "{reply}"
    );
    assert!(reply.ends_with("\r\n\r\nhello"), "{reply}");
    let mut s = socket(addr);
    s.write_all(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello",
    )
    .unwrap();
    // The rest only once the first piece is read, whatever the scheduling.
    wait_until(&FIRST_PIECE_READ, "the service never read the first piece");
    s.write_all(b"world").unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.ends_with("\r\n\r\nworld"), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("\r\ncontent-length: 5\r\n"),
        "{reply}"
    );
    // A chunked body goes on chunked, with the trailer fields it ended with
    // (in their order; a field that belongs in the header section is left
    // out), or none.
    let reply = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5\r\nhello\r\n0\r\nChecksum: 5f\r\nContent-Type: text/plain\r\nX-B: 1\r\n\r\n",
    );
    assert!(
        reply
            .to_ascii_lowercase()
            .contains("\r\ntransfer-encoding: chunked\r\n"),
        "{reply}"
    );
    assert!(
        reply.ends_with("\r\n\r\n5\r\nhello\r\n0\r\nChecksum: 5f\r\nX-B: 1\r\n\r\n"),
        "{reply}"
    );
    let reply = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
    );
    assert!(
        reply.ends_with("\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
        "{reply}"
    );
    server.shutdown();
}

/// A HEAD request the driver refuses (malformed, or its head too slow)
/// gets the refusal's head alone (RFC 9110 §9.3.2): text after it would be
/// read as the start of the next response by a client that pipelined one.
#[test]
fn a_refused_head_request_gets_no_content() {
    let config = ServerConfig {
        head_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let addr = server.local_addr();
    for (request, status) in [
        (&b"HEAD / HTTP/1.1\r\n\r\n"[..], "400"),
        (b"\r\nHEAD / HTTP/2.0\r\nHost: a\r\n\r\n", "505"),
        (b"HEAD / HTTP/1.1\r\nHost: a\r\n", "408"),
    ] {
        let reply = exchange(addr, request);
        assert!(reply.starts_with(&format!("HTTP/1.1 {status} ")), "{reply}");
        assert!(reply.ends_with("\r\n\r\n"), "{reply}");
        assert!(
            reply
                .to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{reply}"
        );
    }
    // Another method still gets the text saying why.
    let reply = exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
    assert!(reply.ends_with("without Host\n"), "{reply}");
    server.shutdown();
}

/// The answers to `requests` (two, the second's a 200 that ends the
/// connection) from the test routes, apart: the first's, the second's.
fn two_answers(requests: &[u8]) -> (String, String) {
    let server = server();
    let reply = exchange(server.local_addr(), requests);
    server.shutdown();
    let (first, second) = reply.split_at(reply.rfind("HTTP/1.1 200 OK\r\n").unwrap());
    (first.to_owned(), second.to_owned())
}

#[test]
fn head_responses_keep_content_length_and_send_no_body() {
    let (first, second) = two_answers(
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(first.contains("content-length: 13\r\n"), "{first}");
    assert!(!first.contains("Hello"), "{first}");
    assert!(second.ends_with("Hello, World!"), "{second}");
}

/// A HEAD answer ends at its head (RFC 9112 §6.3 rule 1), so one of unknown
/// length to an HTTP/1.0 keep-alive client (`ab -k -i`) needs no close to
/// delimit it, as a GET's would: the connection is kept and the next
/// request served.
#[test]
fn a_head_from_an_http10_keep_alive_client_keeps_the_connection() {
    let (first, second) = two_answers(
        b"HEAD /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    );
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.contains("connection: keep-alive\r\n"), "{first}");
    assert!(!first.contains("transfer-encoding"), "{first}");
    assert!(!first.contains("close"), "{first}");
    assert!(first.ends_with("\r\n\r\n"), "{first}");
    assert!(second.ends_with("Hello, World!"), "{second}");
}

/// A method is case-sensitive (RFC 9110 §9.1): `head` is an extension
/// method, not HEAD, and its answer carries its body. The driver (which
/// drops the body) and proto (which frames it) decide that apart; were one
/// to fold case and the other not, the first answer would fail half-written
/// and the request behind it would be lost.
#[test]
fn a_lowercase_head_is_an_ordinary_method_and_its_answer_keeps_its_body() {
    let (first, second) = two_answers(
        b"head / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(first.contains("content-length: 13\r\n"), "{first}");
    assert!(first.ends_with("\r\n\r\nHello, World!"), "{first}");
    assert!(second.ends_with("Hello, World!"), "{second}");
}

/// Answers without a body drop the one the service gave and state only
/// their fields: a HEAD answer over a sized stream the length the GET would
/// have, over an unsized one no framing at all; a 304 or 204 given a whole
/// body neither its bytes nor its length. The answer after them starts
/// right after the last head, so no stray byte went out.
#[test]
fn bodiless_answers_drop_the_body_and_state_only_their_fields() {
    use lithe::io::{Body, Request, Response};
    use lithe::proto::StatusCode;
    async fn bodies(request: Request) -> Response {
        let pieces = || futures_lite::stream::iter([Ok(bytes::Bytes::from(vec![b's'; 1000]))]);
        match request.path() {
            "/sized" => Response::new(StatusCode::OK).with_body(Body::sized_stream(1000, pieces())),
            "/unsized" => Response::new(StatusCode::OK).with_body(Body::stream(pieces())),
            "/304" => Response::new(StatusCode::NOT_MODIFIED).with_body("stale body"),
            "/204" => Response::new(StatusCode::NO_CONTENT).with_body("stray body"),
            // The field a proxy passes on from its upstream: a HEAD answer
            // keeps it (RFC 9110 §9.3.2), and no last chunk follows it.
            "/chunked-field" => Response::new(StatusCode::OK)
                .with_header("transfer-encoding", "chunked")
                .with_body(Body::stream(futures_lite::stream::iter([Ok(
                    bytes::Bytes::from_static(b"Hello world"),
                )]))),
            _ => Response::new(StatusCode::OK).with_body("last"),
        }
    }
    let config = ServerConfig {
        date_header: false,
        ..ServerConfig::default()
    };
    let server = server_with(bodies, config);
    let reply = exchange(
        server.local_addr(),
        b"HEAD /sized HTTP/1.1\r\nHost: a\r\n\r\n\
          HEAD /unsized HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /304 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /204 HTTP/1.1\r\nHost: a\r\n\r\n\
          HEAD /chunked-field HTTP/1.1\r\nHost: a\r\n\r\n\
          HEAD /chunked-field HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /chunked-field HTTP/1.1\r\nHost: a\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        reply,
        "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n\
         HTTP/1.1 200 OK\r\n\r\n\
         HTTP/1.1 304 Not Modified\r\n\r\n\
         HTTP/1.1 204 No Content\r\n\r\n\
         HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
         HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
         HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nb\r\nHello world\r\n0\r\n\r\n\
         HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nlast"
    );
    server.shutdown();
}

#[test]
fn streaming_responses_are_chunked_for_http11_and_close_delimited_for_http10() {
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"GET /chunked HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.contains("transfer-encoding: chunked\r\n"), "{reply}");
    assert_eq!(
        dechunk(&reply[reply.find("\r\n\r\n").unwrap() + 4..]),
        "one two three"
    );

    let reply = exchange(server.local_addr(), b"GET /chunked HTTP/1.0\r\n\r\n");
    assert!(!reply.contains("transfer-encoding"), "{reply}");
    assert!(reply.ends_with("\r\n\r\none two three"), "{reply}");
    server.shutdown();
}

#[test]
fn a_transfer_encoding_the_service_names_is_left_out_for_http10() {
    // A proxy passing on its upstream's fields, say; HTTP/1.0 has no codings.
    // Names and codings are told in any case.
    async fn chunked(request: lithe::io::Request) -> lithe::io::Response {
        let response = lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_header("Transfer-Encoding", "Chunked");
        match request.path() {
            // A coding that describes the bytes cannot be left out.
            "/gzip" => lithe::io::Response::new(lithe::proto::StatusCode::OK)
                .with_header("transfer-encoding", "gzip, chunked")
                .with_body("not really gzip"),
            "/stream" => response.with_body(lithe::io::Body::stream(futures_lite::stream::iter([
                Ok(bytes::Bytes::from_static(b"str")),
                Ok(bytes::Bytes::from_static(b"eamed")),
            ]))),
            _ => response.with_body("whole"),
        }
    }
    let server = server_with(chunked, ServerConfig::default());
    let reply = exchange(server.local_addr(), b"GET /stream HTTP/1.0\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(!reply.contains("transfer-encoding"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nstreamed"), "{reply}");
    let reply = exchange(server.local_addr(), b"GET /whole HTTP/1.0\r\n\r\n");
    assert!(reply.contains("content-length: 5\r\n"), "{reply}");
    assert!(!reply.contains("transfer-encoding"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nwhole"), "{reply}");
    let reply = exchange(server.local_addr(), b"GET /gzip HTTP/1.0\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 500"), "{reply}");
    // HTTP/1.1 gets the coding the service named.
    let reply = exchange(
        server.local_addr(),
        b"GET /whole HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.contains("Transfer-Encoding: Chunked\r\n"), "{reply}");
    assert!(!reply.contains("content-length"), "{reply}");
    assert!(reply.ends_with("5\r\nwhole\r\n0\r\n\r\n"), "{reply}");
    server.shutdown();
}

#[test]
fn http10_keep_alive_is_honoured() {
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    );
    assert_eq!(count(&reply, "Hello, World!"), 2, "{reply}");
    assert!(reply.contains("connection: keep-alive\r\n"), "{reply}");
    server.shutdown();
}

#[test]
fn no_content_responses_carry_no_body_and_no_length() {
    let server = server();
    let reply = exchange(
        server.local_addr(),
        b"GET /nocontent HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        without_date(&reply),
        "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"
    );
    server.shutdown();
}

/// A service's own framing fields where the status allows none (RFC 9110
/// §8.6, RFC 9112 §6.1) are left out, as hyper does, not sent and not turned
/// into a 500; a 304 keeps the length GET would have had. A service's
/// `Connection: keep-alive` gives way to the close the client asked for.
#[test]
fn framing_and_persistence_fields_of_a_service_follow_the_response() {
    // Names and options are told in any case.
    async fn service(request: lithe::io::Request) -> lithe::io::Response {
        use lithe::io::Response;
        use lithe::proto::StatusCode;
        match request.path() {
            "/204-length" => {
                Response::new(StatusCode::NO_CONTENT).with_header("Content-Length", "0")
            }
            "/204-chunked" => {
                Response::new(StatusCode::NO_CONTENT).with_header("Transfer-Encoding", "chunked")
            }
            "/304" => Response::new(StatusCode::NOT_MODIFIED)
                .with_header("content-length", "12")
                .with_header("transfer-encoding", "chunked"),
            // A 205 has no content (RFC 9110 §15.3.6): the body is left out.
            "/205" => Response::new(StatusCode::new(205).unwrap())
                .with_header("content-length", "4")
                .with_body("form"),
            "/205-stream" => Response::new(StatusCode::new(205).unwrap()).with_body(
                lithe::io::Body::stream(futures_lite::stream::once(Ok(bytes::Bytes::from("form")))),
            ),
            _ => Response::new(StatusCode::OK)
                .with_header("Connection", "Keep-Alive")
                .with_body("x"),
        }
    }
    let server = server_with(service, ServerConfig::default());
    let get = |path: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        without_date(&exchange(server.local_addr(), request.as_bytes()))
    };
    for path in ["/204-length", "/204-chunked"] {
        let reply = get(path);
        assert_eq!(
            reply, "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n",
            "{path}"
        );
    }
    assert_eq!(
        get("/304"),
        "HTTP/1.1 304 Not Modified\r\ncontent-length: 12\r\nconnection: close\r\n\r\n"
    );
    for path in ["/205", "/205-stream"] {
        assert_eq!(
            get(path),
            "HTTP/1.1 205 Reset Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            "{path}"
        );
    }
    assert_eq!(
        get("/keep-alive"),
        "HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx"
    );
    // The same when the close is the driver's (a body too long to drain).
    let reply = exchange(
        server.local_addr(),
        b"POST /keep-alive HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n",
    );
    assert_eq!(
        without_date(&reply),
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx"
    );
    server.shutdown();
}

/// An in-memory transport that counts the writes and flushes made to it,
/// and records a clean close.
struct CountingWrites {
    pipe: lithe::io::DuplexStream,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    flushes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

read_from_pipe!(CountingWrites);

impl futures_lite::AsyncWrite for CountingWrites {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::pin::Pin::new(&mut self.pipe).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::pin::Pin::new(&mut self.pipe).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.flushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::pin::Pin::new(&mut self.pipe).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        std::pin::Pin::new(&mut self.pipe).poll_close(cx)
    }
}

/// A service that echoes the request body: when the body fails (a
/// malformed chunk), the connection's error is the peer's, not an I/O
/// error of the service's stream, which only passed it on.
#[test]
fn an_echo_cut_short_by_its_request_body_reports_the_peers_error() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    async fn echo(request: lithe::io::Request) -> lithe::io::Response {
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(lithe::io::Body::stream(request.into_body()))
    }
    let (server_end, mut client_end) = lithe::io::duplex(1 << 16);
    let (served, reply) = run(async {
        let config = ServerConfig::default();
        let served = lithe::io::serve_connection(server_end, echo, &config);
        let client = async move {
            client_end
                .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nping\r\nzz\r\n")
                .await
                .unwrap();
            let mut reply = Vec::new();
            let _ = client_end.read_to_end(&mut reply).await;
            reply
        };
        futures_lite::future::zip(served, client).await
    });
    assert!(
        matches!(
            served,
            Err(lithe::io::Error::Protocol(
                lithe::proto::Error::InvalidChunkSize
            ))
        ),
        "{served:?}"
    );
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    // Cut short: never the last chunk.
    assert!(!reply.ends_with("0\r\n\r\n"), "{reply}");
}

/// One exchange with `service` over an in-memory pipe that counts the
/// server's writes and sees its clean close: the driver's result, what the
/// client read until the end and how that read ended, how many writes the
/// server made, and whether it closed the pipe cleanly.
struct Counted {
    served: Result<(), lithe::io::Error>,
    reply: Vec<u8>,
    read: std::io::Result<usize>,
    writes: usize,
    closed: bool,
}

fn served_over_counting_writes<S: lithe::io::Service>(service: S, request: &[u8]) -> Counted {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use std::sync::atomic::Ordering;
    let (server_end, mut client_end) = lithe::io::duplex(1 << 16);
    let transport = CountingWrites {
        flushes: Default::default(),
        pipe: server_end,
        writes: Default::default(),
        closed: Default::default(),
    };
    let (writes, closed) = (transport.writes.clone(), transport.closed.clone());
    let (served, (reply, read)) = run(async {
        let config = ServerConfig::default();
        let served = lithe::io::serve_connection(transport, service, &config);
        // Owns its end, so the server sees it close once the reply is read.
        let client = async move {
            client_end.write_all(request).await.unwrap();
            let mut reply = Vec::new();
            let read = client_end.read_to_end(&mut reply).await;
            (reply, read)
        };
        futures_lite::future::zip(served, client).await
    });
    Counted {
        served,
        reply,
        read,
        writes: writes.load(Ordering::Relaxed),
        closed: closed.load(Ordering::Relaxed),
    }
}

#[test]
fn a_small_response_leaves_in_one_write() {
    let counted = served_over_counting_writes(
        routes,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    counted.read.unwrap();
    let reply = String::from_utf8(counted.reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nHello, World!"), "{reply}");
    // Head and body together: one write.
    assert_eq!(counted.writes, 1);
}

/// A 101 that names every protocol of a long offer (a service echoing the
/// request's Upgrade field) is checked against the offer in time linear in
/// their number, not their product: 50,000 protocols, answered at once.
#[test]
fn a_101_naming_every_protocol_of_a_long_offer_is_checked_in_linear_time() {
    async fn echo_the_offer(request: lithe::io::Request) -> lithe::io::Response {
        let offer = request.headers().get("upgrade").unwrap().to_vec();
        lithe::io::Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
            .with_header("upgrade", offer)
    }
    let mut config = ServerConfig::default();
    config.proto.limits.max_head_bytes = 2 << 20;
    let server = server_with(echo_the_offer, config);
    let offer: Vec<String> = (0..50_000).map(|i| format!("p{i}")).collect();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: {}\r\n\r\n",
        offer.join(",")
    );
    let started = Instant::now();
    let mut s = socket(server.local_addr());
    s.write_all(request.as_bytes()).unwrap();
    // The head echoes the whole offer (about 340 KB, within the outgoing
    // limit): its status line is enough to see the switch was taken.
    let status_line = read_until(&mut s, "\r\n");
    assert_eq!(status_line, "HTTP/1.1 101 Switching Protocols\r\n");
    assert!(
        started.elapsed() < LIMIT / 2,
        "answered after {:?}",
        started.elapsed()
    );
    drop(s);
    server.shutdown();
}

/// An unread chunked body that is malformed (a size that overflows, a
/// chunk without its CRLF) cannot be drained to find where the next request
/// begins: the answer says close, and a request pipelined behind it is
/// never served (hyper's post_with_chunked_overflow and
/// post_with_chunked_missing_final_digit).
#[test]
fn an_unread_malformed_chunked_body_ends_the_connection_before_the_request_behind_it() {
    async fn unread(request: lithe::io::Request) -> lithe::io::Response {
        let said = match request.path() {
            "/sneaky" => "SNEAKY",
            _ => "ignored",
        };
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(said)
    }
    let server = server_with(unread, ServerConfig::default());
    for body in [
        &b"f0000000000000003\r\nabc\r\n0\r\n\r\n"[..],
        b"1\r\nZ\r\n\r\n\r\n",
    ] {
        let mut request =
            b"POST /ignore HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        request.extend_from_slice(body);
        request.extend_from_slice(b"GET /sneaky HTTP/1.1\r\nHost: a\r\n\r\n");
        let reply = exchange(server.local_addr(), &request);
        assert_eq!(count(&reply, "HTTP/1.1 "), 1, "{reply}");
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.contains("connection: close\r\n"), "{reply}");
        assert!(!reply.contains("SNEAKY"), "{reply}");
    }
    server.shutdown();
}

/// A service's transfer coding that does not end in `chunked` (`gzip`
/// alone) leaves no way to tell where the body ends but the close (RFC
/// 9112 §6.3): the body goes as given, the head says close, and the
/// connection ends after it. (hyper appends `chunked` instead.)
#[test]
fn a_transfer_coding_not_ending_in_chunked_is_delimited_by_the_close() {
    async fn gzip_coded(request: lithe::io::Request) -> lithe::io::Response {
        let body = match request.path() {
            "/stream" => lithe::io::Body::stream(futures_lite::stream::iter([
                Ok(bytes::Bytes::from_static(b"foo ")),
                Ok(bytes::Bytes::from_static(b"bar baz")),
            ])),
            _ => lithe::io::Body::from("foo bar baz"),
        };
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_header("transfer-encoding", "gzip")
            .with_body(body)
    }
    let server = server_with(gzip_coded, ServerConfig::default());
    for path in ["/whole", "/stream"] {
        // Another request behind it: never answered, the close ends the body.
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let reply = exchange(server.local_addr(), request.as_bytes());
        let (head, body) = reply.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(head.contains("\r\ntransfer-encoding: gzip"), "{head}");
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(!head.contains("content-length"), "{head}");
        assert_eq!(body, "foo bar baz", "{path}");
    }
    server.shutdown();
}

/// A body sent in small chunks, already read together: handed to the
/// service joined (not a wake-up per chunk), so an echo answers it in a few
/// writes, not one write (and, over TCP, one segment) per chunk, in pieces
/// of at most 4 KiB, whole and in order, with the trailers after.
#[test]
fn a_body_in_small_chunks_is_handed_over_joined() {
    async fn echo(request: lithe::io::Request) -> lithe::io::Response {
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(lithe::io::Body::from(request.into_body()))
    }
    // 4,096 chunks of 1 byte, 64 of 1,000 (four of them fill a piece), and
    // 48 of 1 KiB, which are not joined (past the tail of one read left
    // under 1 KiB), each read's tail and all: pieces of at most 1 KiB.
    for (chunks, size, most_pieces, largest) in [
        (4096, 1, 63, 4096),
        (64, 1000, 32, 4096),
        (48, 1024, 96, 1024),
    ] {
        let mut request =
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                .to_vec();
        let mut expected = Vec::new();
        for i in 0..chunks {
            let data = vec![b'a' + (i % 26) as u8; size];
            request.extend_from_slice(format!("{size:x}\r\n").as_bytes());
            request.extend_from_slice(&data);
            request.extend_from_slice(b"\r\n");
            expected.extend_from_slice(&data);
        }
        request.extend_from_slice(b"0\r\nX-Sum: 1\r\n\r\n");
        let counted = served_over_counting_writes(echo, &request);
        counted.read.unwrap();
        let (reply, writes) = (counted.reply, counted.writes);
        // The echoed body, de-chunked, is the bytes sent; its trailer follows.
        let head_end = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let (head, mut rest) = reply.split_at(head_end);
        let head = String::from_utf8_lossy(head);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
        let mut echoed = Vec::new();
        let mut pieces = Vec::new();
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let piece =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
            rest = &rest[line_end + 2..];
            if piece == 0 {
                break;
            }
            echoed.extend_from_slice(&rest[..piece]);
            rest = &rest[piece + 2..];
            pieces.push(piece);
        }
        assert_eq!(echoed, expected, "chunks of {size}");
        assert_eq!(rest, b"X-Sum: 1\r\n\r\n");
        assert!(
            pieces.len() <= most_pieces && writes <= most_pieces + 2,
            "chunks of {size}: {} pieces in {writes} writes",
            pieces.len()
        );
        assert!(pieces.iter().all(|&piece| piece <= largest), "{pieces:?}");
    }
}

/// A body failure in bytes read together with small pieces before it is
/// not read ahead of them: a service that took those pieces and answered
/// gets its answer sent, as when the failure came in a later read (the
/// connection then closes, as for any body left unread).
#[test]
fn a_failure_behind_joined_pieces_is_not_read_ahead_of_the_answer() {
    async fn first_piece_then_answer(request: lithe::io::Request) -> lithe::io::Response {
        let first = request.into_body().chunk().await.unwrap().unwrap();
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(first)
    }
    let server = server_with(first_piece_then_answer, ServerConfig::default());
    // The bad chunk line comes in the same write as the data before it.
    let reply = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\nzz\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nab"), "{reply}");
    server.shutdown();
}

/// Whole bodies either side of the size copied next to their head (16 KiB)
/// and at it arrive whole, in order, pipelined on one connection.
#[test]
fn whole_bodies_around_the_copy_size_arrive_whole() {
    async fn sized(request: lithe::io::Request) -> lithe::io::Response {
        let len: usize = request.path()[1..].parse().unwrap();
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(vec![b'x'; len])
    }
    let server = server_with(sized, ServerConfig::default());
    let lengths = [16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 16 * 1024];
    let mut requests = String::new();
    for len in lengths {
        requests.push_str(&format!("GET /{len} HTTP/1.1\r\nHost: a\r\n\r\n"));
    }
    requests.push_str("GET /1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let reply = exchange(server.local_addr(), requests.as_bytes());
    let mut rest = reply.as_str();
    for len in lengths.into_iter().chain([1]) {
        let (head, after) = rest.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{len}: {head}");
        let length_line = format!("\r\ncontent-length: {len}\r\n");
        assert!(format!("{head}\r\n").contains(&length_line), "{head}");
        assert!(after.len() >= len, "{len}: cut short");
        assert!(after.as_bytes()[..len].iter().all(|&b| b == b'x'), "{len}");
        rest = &after[len..];
    }
    assert_eq!(rest, "");
    server.shutdown();
}

#[test]
fn a_close_delimited_response_cut_short_is_not_closed_cleanly() {
    // To HTTP/1.0 a stream goes close-delimited: a clean close (over TLS,
    // close_notify) would end it as if whole. The stream here fails midway;
    // the one in the second run ends.
    for (path, ends_well) in [("/fail", false), ("/", true)] {
        let request = format!("GET {path} HTTP/1.0\r\n\r\n");
        let counted = served_over_counting_writes(halting, request.as_bytes());
        let reply = String::from_utf8_lossy(&counted.reply);
        assert!(reply.contains("\r\n\r\npart"), "{reply}");
        assert_eq!(counted.served.is_ok(), ends_well, "{:?}", counted.served);
        assert_eq!(counted.closed, ends_well, "{path}");
    }
}

/// Over TCP the server resets the connection of a close-delimited response
/// cut short: a clean close would end the body as if whole, and an HTTP/1.0
/// client (or nginx proxying with its default `proxy_http_version 1.0`)
/// would take, cache or pass on the truncated body. So does one the end of a
/// shutdown cuts short. A whole one ends with a clean close. (Linux only:
/// elsewhere lithe cannot ask for the reset.)
#[cfg(target_os = "linux")]
#[test]
fn a_close_delimited_response_cut_short_is_reset_over_tcp() {
    let server = server_with(halting, ServerConfig::default());
    for (path, ends_well) in [("/fail", false), ("/", true)] {
        let mut s = socket(server.local_addr());
        s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .unwrap();
        let mut reply = Vec::new();
        let read = std::io::Read::read_to_end(&mut s, &mut reply);
        let reply = String::from_utf8_lossy(&reply);
        match ends_well {
            true => {
                read.expect("a clean close");
                assert!(reply.ends_with("\r\n\r\npartend"), "{reply}");
            }
            false => {
                let error = read.expect_err("a reset, not the end of the body");
                assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{reply}");
                assert!(!reply.contains("end"), "{reply}");
            }
        }
    }
    // Under way when the shutdown ends (after its 2 s), its task dropped.
    let mut s = socket(server.local_addr());
    s.write_all(b"GET /stall HTTP/1.0\r\n\r\n").unwrap();
    let head = read_until(&mut s, "part");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let stopping = std::thread::spawn(move || server.shutdown());
    let mut rest = Vec::new();
    let read = std::io::Read::read_to_end(&mut s, &mut rest);
    let error = read.expect_err("a reset, not the end of the body");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    stopping.join().unwrap();
}

#[test]
fn a_sized_response_stream_that_overruns_never_arrives_complete() {
    // Five bytes declared and yielded, then, after a pause in which the server
    // could send them, a sixth; the length declared by the stream, or by a
    // Content-Length field the service set over a stream of unknown length.
    async fn overrun(request: lithe::io::Request) -> lithe::io::Response {
        let pieces = overrunning_stream();
        let response = lithe::io::Response::new(lithe::proto::StatusCode::OK);
        match request.path() {
            "/field" => response
                .with_header("content-length", "5")
                .with_body(lithe::io::Body::stream(pieces)),
            _ => response.with_body(lithe::io::Body::sized_stream(5, pieces)),
        }
    }
    let server = server_with(overrun, ServerConfig::default());
    for path in ["/stream", "/field"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        let reply = exchange(server.local_addr(), request.as_bytes());
        let (head, body) = reply.split_once("\r\n\r\n").expect("a head");
        assert!(head.contains("content-length: 5"), "{head}");
        // Closed before the body was complete: the client can tell.
        assert!(body.len() < 5, "{path}: {reply}");
    }
    server.shutdown();
}

/// One worker that holds at most `max_connections` (0: no limit), and
/// waits 2 s for its connections when shut down.
fn one_worker_limited_to(max_connections: usize) -> lithe::rt::ServeConfig {
    lithe::rt::ServeConfig {
        threads: 1,
        max_connections,
        shutdown_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

/// A connection to `addr` that has had one `GET /` answered: idle between
/// requests, parked on its worker.
fn served_once(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let mut s = socket(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    read_until(&mut s, "Hello, World!");
    s
}

#[test]
fn graceful_shutdown_closes_idle_connections_and_stops_accepting() {
    let server = server();
    let addr = server.local_addr();
    let mut s = served_once(addr);
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2));
    let rest = read_to_close(&mut s);
    assert_eq!(rest, "");
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// A response body stream always ready with empty pieces (a busy poll)
/// writes nothing, but what was queued before it still goes out, and a
/// client that leaves is noticed: the stream is dropped, not polled until
/// the shutdown.
#[test]
fn a_body_stream_of_endless_empty_pieces_is_flushed_and_watched() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Sets its flag when dropped.
    struct Dropped(Arc<AtomicBool>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let service = move |_: lithe::io::Request| {
        let guard = Dropped(flag.clone());
        async move {
            use futures_lite::StreamExt;
            let hello = futures_lite::stream::once(Ok(bytes::Bytes::from_static(b"hello")));
            let empty = futures_lite::stream::repeat_with(move || {
                let _held = &guard;
                Ok(bytes::Bytes::new())
            });
            let body = lithe::io::Body::stream(hello.chain(empty));
            lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(body)
        }
    };
    let config = ServerConfig {
        half_close: false,
        ..ServerConfig::default()
    };
    let server = server_with(service, config);
    let mut s = socket(server.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let seen = read_until(&mut s, "5\r\nhello\r\n");
    assert!(seen.ends_with("5\r\nhello\r\n"), "{seen}");
    drop(s);
    let started = Instant::now();
    while !dropped.load(Ordering::SeqCst) {
        assert!(started.elapsed() < Duration::from_secs(2), "still polled");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.shutdown();
}

/// An Upgrade the service refuses (a 426, keeping the connection) is no
/// switch: the bytes after that request's head are the next request, and
/// are answered as one.
#[test]
fn a_refused_upgrade_on_a_kept_connection_serves_the_next_request() {
    async fn refusing(request: lithe::io::Request) -> lithe::io::Response {
        use lithe::proto::StatusCode;
        match request.headers().contains("upgrade") {
            true => lithe::io::Response::new(StatusCode::UPGRADE_REQUIRED)
                .with_header("upgrade", "h3")
                .with_body("not that one"),
            false => lithe::io::Response::new(StatusCode::OK).with_body(request.path().to_owned()),
        }
    }
    let server = server_with(refusing, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n\
          GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(count(&reply, "HTTP/1.1 "), 2, "{reply}");
    assert!(
        reply.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{reply}"
    );
    let second = reply.find("\r\nnot that oneHTTP/1.1 200 OK\r\n");
    assert!(second.is_some(), "{reply}");
    assert!(reply.ends_with("\r\n\r\n/next"), "{reply}");
    server.shutdown();
}

/// A handler that shuts its own server down (a `/stop` endpoint) answers,
/// and the server stops: `shutdown` on a worker does not wait for that
/// worker, which would be waiting for itself. Its answer is the
/// connection's last, and says so (it went out keep-alive, the worker's
/// signal not yet told of the trigger).
#[test]
fn a_handler_may_shut_its_own_server_down() {
    use std::sync::{Arc, Mutex};
    let slot: Arc<Mutex<Option<lithe::rt::Server>>> = Arc::new(Mutex::new(None));
    let held = slot.clone();
    let service = move |_: lithe::io::Request| {
        let held = held.clone();
        async move {
            let server = held.lock().unwrap().take();
            if let Some(server) = server {
                server.shutdown();
            }
            lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("stopping")
        }
    };
    let server = server_with(service, ServerConfig::default());
    let addr = server.local_addr();
    *slot.lock().unwrap() = Some(server);
    let reply = exchange(addr, b"GET /stop HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nstopping"), "{reply}");
    // The listener closes once the worker's accept loop sees the signal,
    // which may come just after this answer.
    wait_until_refused(addr);
}

/// A deadline moved later (the idle timeout after the head timeout) and
/// then earlier again (the linger's pause after a closing answer) fires at
/// the earlier one: the linger ends a second after the answer, not when the
/// idle timeout would have.
#[test]
fn a_linger_after_an_idle_wait_ends_at_its_own_pause() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let config = ServerConfig {
        head_timeout: Some(Duration::from_millis(500)),
        idle_timeout: Some(Duration::from_secs(4)),
        ..ServerConfig::default()
    };
    let (server_end, mut client_end) = lithe::io::duplex(4096);
    let (took, answers) = run(async {
        let started = Instant::now();
        let served = async {
            lithe::io::serve_connection(server_end, routes, &config)
                .await
                .unwrap();
            started.elapsed()
        };
        let client = async {
            let mut answers = String::new();
            let mut piece = [0u8; 1024];
            // The first waits for a head (its deadline 500 ms in), the second
            // past that deadline, for the idle timeout.
            for (pause, request) in [
                (50, &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]),
                (
                    600,
                    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                ),
            ] {
                async_io::Timer::after(Duration::from_millis(pause)).await;
                client_end.write_all(request).await.unwrap();
                while !answers.ends_with("Hello, World!") {
                    let n = client_end.read(&mut piece).await.unwrap();
                    assert!(n > 0, "closed before the answer: {answers}");
                    answers.push_str(std::str::from_utf8(&piece[..n]).unwrap());
                }
                answers.push('|');
            }
            // Kept open: the linger ends at its pause.
            (answers, client_end)
        };
        futures_lite::future::zip(served, client).await
    });
    let (answers, _client_end) = answers;
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 2, "{answers}");
    // About 1.65 s in; at the idle deadline it would be 4.05 s, and at the
    // head's deadline (passed) or with no linger at once, 0.65 s. Timers
    // fire late, never early, so the lower bound holds on a loaded machine.
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_millis(3000),
        "the linger ended {took:?} in"
    );
}

/// A head begun when the shutdown starts gets a moment to arrive, not the
/// whole head timeout: a client trickling one in (a slowloris) would hold the
/// shutdown as long. Whole within it, it is served as the last request; not,
/// it is answered 408, and the connection ends soon after.
#[test]
fn a_shutdown_waits_briefly_for_a_head_begun() {
    use lithe::io::{Shutdown, serve_connection_until};
    use std::task::{Context, Waker};
    let config = ServerConfig::default();
    assert_eq!(config.head_timeout, Some(Duration::from_secs(30)));
    for rest in [None, Some(&b"st: a\r\n\r\n"[..])] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = socket(listener.local_addr().unwrap());
        let (accepted, _) = listener.accept().unwrap();
        let probe = accepted.try_clone().unwrap();
        let shutdown = Shutdown::new();
        let io = async_io::Async::new(accepted).unwrap();
        let mut driver = Box::pin(serve_connection_until(io, routes, &config, &shutdown));
        let partial = b"GET / HTTP/1.1\r\nHo";
        client.write_all(partial).unwrap();
        // The driver has read the part of the head once it is there and
        // the driver waits for more.
        let started = Instant::now();
        let mut seen = [0u8; 32];
        while probe.peek(&mut seen).unwrap_or(0) < partial.len() {
            assert!(started.elapsed() < LIMIT, "the bytes never arrived");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(probe);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(driver.as_mut().poll(&mut cx).is_pending());
        shutdown.trigger();
        if let Some(rest) = rest {
            client.write_all(rest).unwrap();
        }
        let started = Instant::now();
        run(driver).unwrap();
        // A second of grace and one of lingering, against the head
        // timeout's 30 (and the 10 s after which `run` gives up).
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "{took:?}");
        let reply = read_to_close(&mut client);
        match rest {
            None => assert!(reply.starts_with("HTTP/1.1 408 "), "{reply}"),
            Some(_) => {
                assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
                assert!(reply.contains("connection: close\r\n"), "{reply}");
            }
        }
    }
}

/// A service that panics gets its request answered 500 and the connection
/// closed; the answers to the requests pipelined before it, batched with it
/// and not yet written when it panicked, still go out, and the server goes on.
#[test]
fn a_panicking_service_loses_its_request_not_the_answers_before_it() {
    async fn flaky(request: lithe::io::Request) -> lithe::io::Response {
        if request.path() == "/panic" {
            panic!("the service panicked (expected by this test)");
        }
        routes(request).await
    }
    let server = server_with(flaky, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"POST /collect HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nA\
        POST /collect HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nBB\
        GET /panic HTTP/1.1\r\nHost: a\r\n\r\n\
        GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let answers: Vec<&str> = reply.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 3, "{reply}");
    assert!(
        answers[0].starts_with("200 ") && answers[0].ends_with("got 1 bytes"),
        "{reply}"
    );
    assert!(
        answers[1].starts_with("200 ") && answers[1].ends_with("got 2 bytes"),
        "{reply}"
    );
    assert!(answers[2].starts_with("500 "), "{reply}");
    assert!(answers[2].contains("connection: close\r\n"), "{reply}");
    // The whole 500, its body too, before the close.
    assert!(
        answers[2].ends_with("\r\n\r\n500 Internal Server Error\n"),
        "{reply}"
    );
    // The request after it is not served: the connection closed.
    assert!(!reply.contains("Hello, World!"), "{reply}");
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.ends_with("Hello, World!"), "{reply}");
    server.shutdown();
}

/// Each received field as `name=hex(value)`, joined by spaces.
fn fields_in_hex(headers: &lithe::io::Headers) -> String {
    let shown: Vec<String> = headers
        .iter()
        .map(|(name, value)| {
            let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
            format!("{name}={hex}")
        })
        .collect();
    shown.join(" ")
}

#[test]
fn requests_after_empty_lines_read_their_target_and_fields_exactly() {
    // Empty lines before a request (a client that ends a body with an extra
    // CRLF) put its head past the start of what was read: every piece of it
    // must still be read from where it lies.
    async fn show(request: lithe::io::Request) -> lithe::io::Response {
        let x_a: Vec<&[u8]> = request.headers().get_all("X-A").collect();
        let shown = format!(
            "{} {} [{}] {}|",
            request.method(),
            request.target(),
            String::from_utf8_lossy(&x_a.join(&b","[..])),
            fields_in_hex(request.headers()),
        );
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(shown)
    }
    let server = server_with(show, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"\r\n\r\nGET /t?q HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n\
          POST /p HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nok\r\n\
          GET /last HTTP/1.1\r\nHost: c\r\nX-A: 3\r\nConnection: close\r\n\r\n",
    );
    let bodies: Vec<&str> = reply
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .map(|answer| answer.split_once("\r\n\r\n").unwrap().1)
        .collect();
    assert_eq!(
        bodies,
        [
            "GET /t?q [1,2] Host=61 X-A=31 x-a=32|",
            "POST /p [] Host=62 Content-Length=32|",
            "GET /last [3] Host=63 X-A=33 Connection=636c6f7365|",
        ],
        "{reply}"
    );
    server.shutdown();
}

#[test]
fn received_empty_and_obs_text_values_read_back_exactly() {
    // Fields and trailers whose values are empty or bytes past ASCII, read
    // back through the map as received.
    async fn show(request: lithe::io::Request) -> lithe::io::Response {
        let fields = fields_in_hex(request.headers());
        let mut body = request.into_body();
        while let Some(_piece) = body.chunk().await.unwrap() {}
        let trailers = body.trailers().map(|t| fields_in_hex(&t));
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(format!("{fields} | {}", trailers.unwrap_or_default()))
    }
    let server = server_with(show, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Latin: caf\xe9\r\nX-After: z\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          2\r\nok\r\n0\r\nX-T:\r\nX-U: \xff\r\n\r\n",
    );
    assert!(
        reply.ends_with(
            "\r\n\r\nHost=61 X-Empty= X-Latin=636166e9 X-After=7a \
             Transfer-Encoding=6368756e6b6564 Connection=636c6f7365 | X-T= X-U=ff"
        ),
        "{reply}"
    );
    server.shutdown();
}

#[test]
fn received_credentials_are_redacted_in_debug() {
    async fn debug(request: lithe::io::Request) -> lithe::io::Response {
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(format!("{request:?}"))
    }
    let server = server_with(debug, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret\r\n\
          cookie: a=b\r\nproxy-authorization: Basic eHk=\r\nX-Seen: yes\r\n\
          Connection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    for secret in ["s3cret", "a=b", "eHk="] {
        assert!(!reply.contains(secret), "{secret}: {reply}");
    }
    for shown in [
        "\"Authorization\": <redacted>",
        "\"cookie\": <redacted>",
        "\"proxy-authorization\": <redacted>",
        "\"X-Seen\": \"yes\"",
    ] {
        assert!(reply.contains(shown), "{shown}: {reply}");
    }
    server.shutdown();
}

#[test]
fn heads_with_many_fields_are_parsed_and_too_many_refused() {
    async fn count_fields(request: lithe::io::Request) -> lithe::io::Response {
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(format!("{}", request.headers().len()))
    }
    /// A request head with `fields` header fields in all.
    fn head_with_fields(fields: usize) -> String {
        let mut head = String::from("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n");
        for i in 2..fields {
            head.push_str(&format!("X-{i}: {i}\r\n"));
        }
        head + "\r\n"
    }
    /// Sends heads with each number of fields and checks the status, and for
    /// 200 that the service saw them all.
    fn expect(server: &lithe::rt::Server, cases: &[(usize, &str)]) {
        for &(fields, status) in cases {
            let reply = exchange(server.local_addr(), head_with_fields(fields).as_bytes());
            assert!(
                reply.starts_with(&format!("HTTP/1.1 {status}")),
                "{fields}: {reply}"
            );
            if status == "200" {
                assert!(
                    reply.ends_with(&format!("\r\n\r\n{fields}")),
                    "{fields}: {reply}"
                );
            }
        }
    }

    // Around the driver's first, 24-entry array, up to the default limit of
    // 100, and past it.
    let server = server_with(count_fields, ServerConfig::default());
    let fits = [2, 24, 25, 26, 65, 100].map(|fields| (fields, "200"));
    expect(&server, &fits);
    expect(&server, &[(101, "431")]);
    // Leading empty lines before a request are skipped, whatever its size.
    let reply = exchange(
        server.local_addr(),
        b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.ends_with("\r\n\r\n2"), "{reply}");
    server.shutdown();

    // A configured limit above the driver's stack arrays (24 and 128 fields)
    // is honoured in full, and the same 431 answers a head past it.
    let mut config = ServerConfig::default();
    config.proto.limits.max_headers = 1000;
    let server = server_with(count_fields, config);
    expect(
        &server,
        &[(128, "200"), (129, "200"), (1000, "200"), (1001, "431")],
    );
    // However short the fields: 998 lines `a:` (four bytes each) and the two.
    let mut head = String::from("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n");
    head.push_str(&"a:\r\n".repeat(998));
    let reply = exchange(server.local_addr(), (head + "\r\n").as_bytes());
    assert!(reply.ends_with("\r\n\r\n1000"), "{reply}");
    server.shutdown();

    // No limit at all: the array is sized by the head, not by the limit.
    let mut config = ServerConfig::default();
    config.proto.limits.max_headers = usize::MAX;
    let server = server_with(count_fields, config);
    expect(&server, &[(500, "200")]);
    server.shutdown();
}

/// A trailer section of as many fields as the limit allows is read whole,
/// however short its lines: `a:` ended by CRLF, or by a bare LF where that
/// is allowed.
#[test]
fn a_trailer_section_of_minimal_fields_at_the_limit_is_read() {
    async fn count_trailers(request: lithe::io::Request) -> lithe::io::Response {
        let mut body = request.into_body();
        let outcome = loop {
            match body.chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => break format!("{}", body.trailers().map_or(0, |t| t.len())),
                Err(e) => break format!("{e}"),
            }
        };
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(outcome)
    }
    for (line_end, bare_lf_allowed) in [("\r\n", false), ("\n", true)] {
        let mut config = ServerConfig::default();
        config.proto.leniency.allow_bare_lf = bare_lf_allowed;
        let server = server_with(count_trailers, config);
        let request = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             1\r\nx\r\n0\r\n{}\r\n",
            format!("a:{line_end}").repeat(100)
        );
        let reply = exchange(server.local_addr(), request.as_bytes());
        assert!(
            reply.starts_with("HTTP/1.1 200 ") && reply.ends_with("\r\n\r\n100"),
            "{line_end:?}: {reply}"
        );
        server.shutdown();
    }
}

/// A body that stops arriving is answered 408 (as nginx answers), whatever
/// the service made of its read error (this one answers 400 with it).
#[test]
fn a_body_that_stops_arriving_times_out_and_the_connection_closes() {
    let config = ServerConfig {
        body_timeout: Some(Duration::from_millis(200)),
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /collect HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let started = Instant::now();
    let reply = read_to_close(&mut s);
    assert!(
        reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{reply}"
    );
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    assert!(
        reply.ends_with("\r\n\r\n408 Request Timeout: timed out reading a message body\n"),
        "{reply}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    server.shutdown();
}

/// Without a body timeout a body may pause for as long as it likes: one
/// that stops (here 300 ms) is read whole. (What this tells apart is no
/// limit from none at all, not from the 60 s default.)
#[test]
fn no_body_timeout_waits_out_a_paused_upload() {
    let config = ServerConfig {
        body_timeout: None,
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /collect HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(b"world").unwrap();
    let reply = read_until(&mut s, "got 10 bytes");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    server.shutdown();
}

/// The progress clock runs only while a read waits on the client: a
/// service that takes longer over each piece (850 ms) than the body timeout
/// (800 ms), of a body that trickles in below the floor, a byte each 900
/// ms, waits about 50 ms for each, 150 in all, and reads it whole. Were the
/// time between its reads counted, the first wait would find the clock
/// run out.
#[test]
fn a_service_pausing_between_body_reads_does_not_time_out_its_client() {
    use lithe::io::{Request, Response};
    use lithe::proto::StatusCode;
    async fn slow_reader(request: Request) -> Response {
        let mut body = request.into_body();
        let mut got = 0;
        while let Some(piece) = body.chunk().await.expect("a piece of the body") {
            got += piece.len();
            async_io::Timer::after(Duration::from_millis(850)).await;
        }
        Response::new(StatusCode::OK).with_body(format!("got {got} bytes"))
    }
    let config = ServerConfig {
        body_timeout: Some(Duration::from_millis(800)),
        ..ServerConfig::default()
    };
    let server = server_with(slow_reader, config);
    let mut s = socket(server.local_addr());
    let started = Instant::now();
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n.")
        .unwrap();
    for k in 1..4 {
        // On a fixed schedule, so that a late wake-up makes no later byte late.
        let at = started + Duration::from_millis(900 * k);
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        s.write_all(b".").unwrap();
    }
    let (reply, _) = read_until_or_close(&mut s, "bytes");
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.ends_with("got 4 bytes"), "{reply}");
    server.shutdown();
}

/// A 101 that waits for the request body's end waits no longer than the
/// body timeout in all: a body that stops coming, or trickles in at a rate
/// the floor would let through, is answered 408 in place of the switch,
/// and the connection closes.
#[test]
fn a_switch_held_for_a_body_that_stops_coming_is_answered_408() {
    async fn switch_unread(mut request: lithe::io::Request) -> lithe::io::Response {
        let on_upgrade = request.upgrade().expect("the request proposes a switch");
        answer_four_bytes_after_the_switch(on_upgrade, None);
        lithe::io::Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
            .with_header("upgrade", "h2c")
    }
    const HEAD: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\
                          Content-Length: 1000\r\n\r\nhello";
    for (floor, trickled) in [
        (1, true),
        (ServerConfig::default().min_progress_bytes, false),
    ] {
        let config = ServerConfig {
            body_timeout: Some(Duration::from_millis(300)),
            min_progress_bytes: floor,
            ..ServerConfig::default()
        };
        let server = server_with(switch_unread, config);
        let mut s = socket(server.local_addr());
        s.write_all(HEAD).unwrap();
        let started = Instant::now();
        let trickler = trickled.then(|| trickle_into(&s));
        let reply = read_to_close(&mut s);
        let took = started.elapsed();
        if let Some(trickler) = trickler {
            // Its writes would keep the server's linger reading for 10 s.
            let _ = s.shutdown(std::net::Shutdown::Both);
            trickler.join().unwrap();
        }
        assert!(reply.starts_with("HTTP/1.1 408 "), "{trickled}: {reply}");
        assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
        assert!(!reply.contains("101"), "{reply}");
        assert!(took < Duration::from_secs(3), "{trickled}: {took:?}");
        server.shutdown();
    }
}

/// The timeouts bound waits on the client alone: a service that works
/// longer than every one of them before it answers, and an answer whose
/// stream pauses longer, go out whole, and the connection is kept (a long
/// poll, a slow handler, server-sent events with gaps).
#[test]
fn a_service_slower_than_every_timeout_is_answered_whole_and_the_connection_kept() {
    use lithe::io::{Body, Request, Response};
    use lithe::proto::StatusCode;
    async fn slow(request: Request) -> Response {
        if request.path() != "/slow" {
            return routes(request).await;
        }
        let body = request.into_body().bytes(16).await.expect("the body");
        async_io::Timer::after(Duration::from_millis(1500)).await;
        let pieces = futures_lite::stream::unfold(0, move |n| {
            let body = body.clone();
            async move {
                match n {
                    0 => Some((Ok(body), 1)),
                    1 => {
                        async_io::Timer::after(Duration::from_millis(1500)).await;
                        Some((Ok(bytes::Bytes::from_static(b" again")), 2))
                    }
                    _ => None,
                }
            }
        });
        Response::new(StatusCode::OK).with_body(Body::stream(pieces))
    }
    // Each shorter than the service's work and its stream's pause (1.5 s);
    // the idle timeout, which the test thread must beat with its next
    // request once the answer is whole, with a second of slack.
    let short = Some(Duration::from_millis(400));
    let config = ServerConfig {
        head_timeout: short,
        idle_timeout: Some(Duration::from_secs(1)),
        body_timeout: short,
        write_timeout: short,
        ..ServerConfig::default()
    };
    let server = server_with(slow, config);
    let mut s = socket(server.local_addr());
    // Nothing pipelined behind it: the server watches an idle client while
    // the service works.
    s.write_all(b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    let first = read_until(&mut s, "0\r\n\r\n");
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(!first.contains("connection: close"), "{first}");
    let body = &first[first.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(dechunk(body), "hello again");
    // Sent only now: the connection waits for it as any idle one does.
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let second = read_to_close(&mut s);
    assert!(second.ends_with("Hello, World!"), "{second}");
    server.shutdown();
}

/// Sends a byte each 100 ms on a clone of `s`, for up to ten seconds: until
/// the server closes.
fn trickle_into(s: &std::net::TcpStream) -> std::thread::JoinHandle<()> {
    let mut writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..100 {
            if writer.write_all(b".").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// A request body trickled a byte at a time, each well within the body
/// timeout, is held to a floor under its rate (`min_progress_bytes` within
/// each body timeout of waiting): it cannot hold the connection and its
/// service for as long as it cares to. With a floor of one byte, the same
/// trickle is read to its end.
#[test]
fn a_request_body_trickled_below_the_progress_floor_times_out() {
    /// POSTs a 12-byte body to /collect under `floor`, sending `sent` of its
    /// bytes a byte every `gap`, then nothing; the answer, and how long after
    /// the head it ended.
    fn trickle(floor: u64, sent: usize, gap: Duration) -> (String, Duration) {
        let config = ServerConfig {
            body_timeout: Some(Duration::from_millis(1000)),
            min_progress_bytes: floor,
            ..ServerConfig::default()
        };
        let server = server_with(routes, config);
        let mut s = socket(server.local_addr());
        s.write_all(b"POST /collect HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n")
            .unwrap();
        let started = Instant::now();
        let mut writer = s.try_clone().unwrap();
        let trickler = std::thread::spawn(move || {
            for _ in 0..sent {
                std::thread::sleep(gap);
                if writer.write_all(b".").is_err() {
                    break;
                }
            }
        });
        // The 408 ends at the close, the 200 with its body.
        let (reply, _) = read_until_or_close(&mut s, "bytes");
        let took = started.elapsed();
        trickler.join().unwrap();
        server.shutdown();
        (reply, took)
    }
    let every = Duration::from_millis(150);
    // A floor of 1, or 0, bounds silence alone: a trickle goes through, a
    // silence of the body timeout after two bytes does not.
    for floor in [0, 1] {
        let (reply, _) = trickle(floor, 12, every);
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{floor}: {reply}");
        assert!(reply.ends_with("got 12 bytes"), "{floor}: {reply}");
        let (reply, took) = trickle(floor, 2, every);
        assert!(reply.starts_with("HTTP/1.1 408"), "{floor}: {reply}");
        assert!(took < Duration::from_secs(4), "{floor}: after {took:?}");
        // Each byte is progress: two gaps of 550 ms, each under the timeout
        // and together over it, then the silence of the timeout (2.1 s in;
        // 1 s in, were two bytes needed for progress).
        let (reply, took) = trickle(floor, 2, Duration::from_millis(550));
        assert!(reply.starts_with("HTTP/1.1 408"), "{floor}: {reply}");
        assert!(
            took >= Duration::from_millis(1500),
            "{floor}: after {took:?}"
        );
    }
    let (reply, _) = trickle(4096, 12, every);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    // (Before the body was whole: once it is, it is answered 200.)
    assert!(
        reply.contains("timed out reading a message body"),
        "{reply}"
    );
}

/// After the response, the rest of an unread body is drained for the body
/// timeout in all: a client sending it a byte at a time, each within the
/// timeout, no longer holds the connection for as long as it cares to.
#[test]
fn a_body_trickling_in_after_the_response_is_drained_for_the_body_timeout_at_most() {
    let config = ServerConfig {
        body_timeout: Some(Duration::from_millis(300)),
        // No floor under the rate: only the drain's deadline can end it
        // (the trickle goes on for 10 s).
        min_progress_bytes: 1,
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nabc")
        .unwrap();
    let head = read_until(&mut s, "ignored");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let started = Instant::now();
    let trickle = trickle_into(&s);
    let rest = read_to_close(&mut s);
    let closed_after = started.elapsed();
    assert_eq!(rest, "", "nothing more is answered");
    assert!(closed_after < Duration::from_secs(3), "{closed_after:?}");
    drop(s);
    trickle.join().unwrap();
    server.shutdown();
}

/// A worker at its connection limit accepts no more until one ends: the
/// next client waits in the kernel's backlog while the connection it has
/// is busy (here, with a head begun), then is served.
#[test]
fn a_worker_at_its_connection_limit_accepts_once_one_ends() {
    let serve = one_worker_limited_to(1);
    let server = lithe::rt::Server::bind("127.0.0.1:0", routes, serve).expect("bind");
    let mut first = socket(server.local_addr());
    first.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    // The first connection has a request begun, so it is not idle: the
    // second is not served.
    let mut second = socket(server.local_addr());
    second
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let waiting = std::io::Read::read(&mut second, &mut byte);
    assert!(
        matches!(&waiting, Err(e) if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "{waiting:?}"
    );
    // Once the first ends, the second is accepted and answered.
    first
        .write_all(b"Host: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut first);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    second.set_read_timeout(Some(LIMIT)).unwrap();
    let reply = read_to_close(&mut second);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    server.shutdown();
}

/// A connection that closes after its response (here an HTTP/1.0 request
/// answered by a stream, which the close delimits) ends its sending side
/// at once, the request body the service left unread undrained: the client
/// sees the response end at once, not after a drain's body timeout.
#[test]
fn a_closing_connection_ends_its_response_before_draining() {
    use lithe::io::{Body, Request, Response};
    async fn stream_ignoring_the_body(_: Request) -> Response {
        let pieces = futures_lite::stream::iter([Ok(bytes::Bytes::from_static(b"streamed"))]);
        Response::new(lithe::proto::StatusCode::OK).with_body(Body::stream(pieces))
    }
    let config = ServerConfig {
        body_timeout: Some(Duration::from_secs(8)),
        ..ServerConfig::default()
    };
    let server = server_with(stream_ignoring_the_body, config);
    let mut s = socket(server.local_addr());
    s.write_all(b"POST / HTTP/1.0\r\nContent-Length: 60000\r\n\r\nabc")
        .unwrap();
    let started = Instant::now();
    let reply = read_to_close(&mut s);
    assert!(reply.ends_with("\r\n\r\nstreamed"), "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.shutdown();
}

/// Nor does it hold its slot for that body timeout: a connection closing
/// after its response does not drain an unread body (nothing follows it);
/// its linger reads what still comes, and a client gone quiet is let go
/// after a second. Here the only connection a worker may hold: a second
/// client is answered within a few seconds, not after the 8 s drain.
#[test]
fn a_closing_connection_holds_its_slot_no_longer_than_the_linger() {
    let serve = lithe::rt::ServeConfig {
        connection: ServerConfig {
            body_timeout: Some(Duration::from_secs(8)),
            ..ServerConfig::default()
        },
        ..one_worker_limited_to(1)
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", routes, serve).expect("bind");
    let mut first = socket(server.local_addr());
    first
        .write_all(b"POST /ignore HTTP/1.0\r\nContent-Length: 1000\r\n\r\nabc")
        .unwrap();
    let reply = read_to_close(&mut first);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    // The first client stays, silent, its body unfinished.
    let started = Instant::now();
    let mut second = socket(server.local_addr());
    second
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut second);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "{took:?}");
    drop(first);
    server.shutdown();
}

/// A client that ends its side while a kept connection drains the body its
/// service left unread is let go at once: the body can never end, so the
/// drain stops at the end of stream rather than waiting out the body timeout
/// (nginx once kept such a connection), nor spins on reads of nothing.
#[test]
fn a_client_ending_its_side_during_the_drain_is_let_go_at_once() {
    let config = ServerConfig {
        body_timeout: Some(Duration::from_secs(30)),
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let head = read_until(&mut s, "ignored");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    // Small enough to drain: the connection is kept, and drains.
    assert!(!head.contains("connection: close"), "{head}");
    let started = Instant::now();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_close(&mut s), "");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    server.shutdown();
}

/// A shutdown ends a drain at once: the response it waited on is out.
#[test]
fn a_shutdown_ends_the_drain_of_an_unread_body() {
    let serve = lithe::rt::ServeConfig {
        threads: 1,
        shutdown_timeout: Duration::from_secs(20),
        ..Default::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", routes, serve).expect("bind");
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nabc")
        .unwrap();
    let head = read_until(&mut s, "ignored");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    // The rest of the body never comes; the connection drains, waiting.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let stopping = std::thread::spawn(move || server.shutdown());
    let rest = read_to_close(&mut s);
    let closed_after = started.elapsed();
    assert_eq!(rest, "");
    assert!(closed_after < Duration::from_secs(5), "{closed_after:?}");
    stopping.join().unwrap();
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    let config = ServerConfig {
        write_timeout: Some(Duration::from_millis(200)),
        ..ServerConfig::default()
    };
    let server = server_with(routes, config);
    let mut s = socket(server.local_addr());
    s.write_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // The server gave up: reading drains what was sent, then ends (or resets).
    let started = Instant::now();
    let mut sink = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match std::io::Read::read(&mut s, &mut chunk) {
            Ok(0) => break,
            Ok(n) => sink.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("{e} after {} bytes", sink.len()),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // The response had begun, and stopped well short of its end.
    assert!(sink.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(sink.len() > 1 << 16, "{} bytes", sink.len());
    assert!(sink.len() < 32 << 20, "the whole body was sent");
    server.shutdown();
}

#[test]
fn graceful_shutdown_lets_a_request_in_flight_finish() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // A request that is in flight until the test lets it finish.
    let started = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let service = {
        let (started, release) = (started.clone(), release.clone());
        move |_: lithe::io::Request| {
            let (started, release) = (started.clone(), release.clone());
            async move {
                started.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    async_io::Timer::after(Duration::from_millis(5)).await;
                }
                lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("finished")
            }
        }
    };
    let server = server_with(service, ServerConfig::default());
    let addr = server.local_addr();
    let mut s = socket(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    wait_until(&started, "the request never reached the service");
    let shutdown = std::thread::spawn(move || server.shutdown());
    // While the request is in flight, new connections come to be refused
    // rather than left in the listening socket's backlog.
    wait_until_refused(addr);
    release.store(true, Ordering::SeqCst);
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert!(reply.ends_with("finished"), "{reply}");
    shutdown.join().unwrap();
}

/// The shutdown timeout bounds the whole drain, however many connections
/// end during it: one ending midway does not restart the clock for one that
/// never ends.
#[test]
fn the_shutdown_timeout_bounds_the_whole_drain() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SLOW_BEGAN: AtomicBool = AtomicBool::new(false);
    let service = |request: lithe::io::Request| async move {
        if request.path() != "/slow" {
            // Never answers.
            return futures_lite::future::pending().await;
        }
        SLOW_BEGAN.store(true, Ordering::SeqCst);
        async_io::Timer::after(Duration::from_millis(1500)).await;
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("slow")
    };
    let serve = lithe::rt::ServeConfig {
        threads: 1,
        shutdown_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", service, serve).expect("bind");
    let addr = server.local_addr();
    let mut stalled = socket(addr);
    stalled
        .write_all(b"GET /never HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut slow = socket(addr);
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    wait_until(&SLOW_BEGAN, "the slow request never reached the service");
    // Its answer read to the close, and closed at once: it ends midway.
    let reader = std::thread::spawn(move || read_to_close(&mut slow));
    let started = Instant::now();
    server.shutdown();
    let took = started.elapsed();
    // 3 s, not 1.5 s and 3 s more.
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(reader.join().unwrap().ends_with("slow"));
    drop(stalled);
}

#[test]
fn a_response_http_cannot_carry_becomes_a_500() {
    async fn wrong(request: lithe::io::Request) -> lithe::io::Response {
        use lithe::io::Response;
        use lithe::proto::StatusCode;
        match request.path() {
            // An interim status as the answer: the client would wait for a
            // final response forever.
            "/interim" => Response::new(StatusCode::new(103).unwrap()),
            // A status past 599, such as a proxy passing on what its
            // upstream sent: invalid on the wire (RFC 9110 §15).
            "/987" => Response::new(StatusCode::new(987).unwrap()).with_body("x"),
            // Both framings: a hop that follows Content-Length is desynchronized.
            "/both" => Response::new(StatusCode::OK)
                .with_header("transfer-encoding", "chunked")
                .with_header("content-length", "5"),
            // A length the body does not have: the framing would break midway.
            "/disagree" | "/unread" => Response::new(StatusCode::OK)
                .with_header("content-length", "10")
                .with_body("hello"),
            _ => Response::new(StatusCode::OK).with_body("fine"),
        }
    }
    let server = server_with(wrong, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"GET /interim HTTP/1.1\r\nHost: a\r\n\r\nGET /both HTTP/1.1\r\nHost: a\r\n\r\nGET /disagree HTTP/1.1\r\nHost: a\r\n\r\nGET /987 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut s);
    // Each gets one final response, in order, and the connection goes on.
    let statuses: Vec<&str> = reply.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
    assert_eq!(statuses, ["500", "500", "500", "500", "200"], "{reply}");
    // Each dated, the driver's own 500s too.
    assert_eq!(count(&reply, "\r\ndate: "), 5, "{reply}");
    assert!(reply.ends_with("\r\n\r\nfine"), "{reply}");
    // A 500 in place of a head that would have closed the connection (the
    // client waits for 100 Continue, and nobody will read its body) says so.
    let reply = exchange(
        server.local_addr(),
        b"POST /unread HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 500"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    server.shutdown();
}

/// `Incoming::is_empty` tells a request without a body from one with a
/// body, however long: `Content-Length: 0` and chunked framing both make one.
#[test]
fn a_request_body_is_empty_only_when_there_is_none() {
    async fn is_empty(request: lithe::io::Request) -> lithe::io::Response {
        let empty = request.body().is_empty();
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(format!("empty {empty}"))
    }
    let server = server_with(is_empty, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
          POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n\
          POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
          POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          0\r\n\r\n",
    );
    let order: Vec<bool> = reply
        .split("empty ")
        .skip(1)
        .map(|rest| rest.starts_with("true"))
        .collect();
    assert_eq!(order, [true, true, false, false], "{reply}");
    server.shutdown();
}

#[test]
fn a_head_answered_without_a_body_gets_no_content_length_zero() {
    // The service knows no length for HEAD: Content-Length: 0 would say the
    // GET response is empty (RFC 9110 §8.6, §9.3.2).
    // Nor does it for an empty body it gives, or one it passes on from a
    // request without a body.
    async fn nothing(request: lithe::io::Request) -> lithe::io::Response {
        let response = lithe::io::Response::new(lithe::proto::StatusCode::OK);
        match request.path() {
            "/empty" => response.with_body(String::new()),
            "/passed-on" => response.with_body(lithe::io::Body::from(request.into_body())),
            _ => response,
        }
    }
    let server = server_with(nothing, ServerConfig::default());
    let mut s = socket(server.local_addr());
    for path in ["/", "/empty", "/passed-on"] {
        s.write_all(format!("HEAD {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .unwrap();
        let head = read_until(&mut s, "\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {head}");
        assert!(!head.contains("content-length"), "{path}: {head}");
    }
    // The connection goes on, and GET's empty body is announced as such.
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.contains("content-length: 0\r\n"), "{reply}");
    server.shutdown();
}

/// A HEAD answer's length is the one GET would have: the Content-Length
/// field the service set says it (RFC 9110 §9.3.2), whatever body it gave
/// alongside (a preview, nothing, a sized stream of 0), and the body is not
/// sent.
#[test]
fn a_head_answer_keeps_the_length_field_the_service_set() {
    use lithe::io::{Body, Request, Response};
    async fn described(request: Request) -> Response {
        let body = match request.path() {
            "/preview" => Body::from("x"),
            "/sized-0" => Body::sized_stream(0, futures_lite::stream::empty()),
            "/empty" => Body::empty(),
            _ => return Response::new(lithe::proto::StatusCode::OK).with_body("last"),
        };
        Response::new(lithe::proto::StatusCode::OK)
            .with_header("content-length", "1000")
            .with_body(body)
    }
    let server = server_with(described, ServerConfig::default());
    let mut s = socket(server.local_addr());
    for path in ["/preview", "/empty", "/sized-0"] {
        s.write_all(format!("HEAD {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .unwrap();
        let head = read_until(&mut s, "\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {head}");
        assert_eq!(count(&head, "content-length"), 1, "{path}: {head}");
        assert!(head.contains("content-length: 1000\r\n"), "{path}: {head}");
    }
    // Nothing followed the heads: the next answer starts where they ended.
    s.write_all(b"GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nlast"), "{reply}");
    server.shutdown();
}

#[test]
fn responses_before_a_failing_pipelined_one_still_arrive() {
    async fn service(request: lithe::io::Request) -> lithe::io::Response {
        use lithe::io::{Body, Response};
        let response = Response::new(lithe::proto::StatusCode::OK);
        match request.path() {
            "/fail" => {
                let broken = futures_lite::stream::iter([Err(std::io::Error::other("broken"))]);
                response.with_body(Body::stream(broken))
            }
            _ => response.with_body("first"),
        }
    }
    let server = server_with(service, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /fail HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    // The first exchange is whole; the second is cut short, never ended.
    let (first, second) = reply.split_once("first").expect("the first response");
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(second.contains("transfer-encoding: chunked"), "{reply}");
    assert!(!second.ends_with("0\r\n\r\n"), "{reply}");
    server.shutdown();
}

/// A transport that reads `request` over and over, `left` times in all, as
/// one unbroken stream, and takes every write at once: neither side of the
/// connection ever waits. A read ends where the buffer does or right after
/// a head, as a client can arrange by how it writes: the connection then
/// always holds a whole head once it has read past a body. (Made
/// [`filling`](Endless::filling), a read ends only where the buffer does.)
struct Endless {
    request: &'static [u8],
    /// Bytes still to read.
    left: usize,
    /// Where in `request` the next read starts.
    at: usize,
    /// Whether a read ends right after a head.
    ends_after_a_head: bool,
}

impl Endless {
    fn new(request: &'static [u8], times: usize) -> Self {
        Endless {
            request,
            left: request.len() * times,
            at: 0,
            ends_after_a_head: true,
        }
    }

    /// As [`new`](Endless::new), but each read fills the buffer.
    fn filling(request: &'static [u8], times: usize) -> Self {
        Endless {
            ends_after_a_head: false,
            ..Endless::new(request, times)
        }
    }
}

impl futures_lite::AsyncRead for Endless {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut n = 0;
        while n < buf.len().min(self.left) {
            buf[n] = self.request[self.at];
            self.at = (self.at + 1) % self.request.len();
            n += 1;
            if self.ends_after_a_head && n >= 4 && buf[n - 4..n] == *b"\r\n\r\n" {
                break;
            }
        }
        self.left -= n;
        std::task::Poll::Ready(Ok(n))
    }
}

swallows_writes!(Endless);

/// A service that answers `200 ok` at once, and the count of requests it
/// has answered.
fn counting_service() -> (
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    impl Fn(lithe::io::Request) -> std::future::Ready<lithe::io::Response> + Clone + Send + 'static,
) {
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = served.clone();
    let service = move |_: lithe::io::Request| {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::future::ready(lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("ok"))
    };
    (served, service)
}

/// Polls a server connection fed `request` 10,000 times, three times over:
/// each poll must serve a share (at least one request, far fewer than all)
/// and hand the thread back to the other connections on it.
fn serves_a_share_per_poll(request: &'static [u8]) {
    use std::sync::atomic::Ordering;

    let (served, service) = counting_service();
    let config = ServerConfig::default();
    let endless = Endless::new(request, 10_000);
    let mut connection = std::pin::pin!(lithe::io::serve_connection(endless, service, &config));
    let mut before = 0;
    for _ in 0..3 {
        let poll = run(futures_lite::future::poll_once(connection.as_mut()));
        assert!(poll.is_none(), "the connection ended: {poll:?}");
        let so_far = served.load(Ordering::Relaxed);
        assert!(
            so_far > before && so_far - before < 1_000,
            "{before} then {so_far}"
        );
        before = so_far;
    }
}

#[test]
fn a_client_that_never_stops_pipelining_does_not_hold_the_thread() {
    serves_a_share_per_poll(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

/// The shares the module documents: a connection lets the other tasks run
/// after 64 requests served without waiting for bytes, or after 256 while
/// the buffer still holds the next request whole (a read of 8 KiB brings
/// over 300 of these). (The first poll's count depends on the size of a
/// connection's first read: not compared.)
#[test]
fn a_connection_lets_others_run_after_the_documented_shares() {
    use std::sync::atomic::Ordering;
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let config = ServerConfig::default();
    for (transport, shares) in [
        (Endless::new(REQUEST, 10_000), [64, 64]),
        (Endless::filling(REQUEST, 10_000), [256, 256]),
    ] {
        let (served, service) = counting_service();
        let mut connection =
            std::pin::pin!(lithe::io::serve_connection(transport, service, &config));
        let mut counts = [0; 3];
        let mut before = 0;
        for count in &mut counts {
            let poll = run(futures_lite::future::poll_once(connection.as_mut()));
            assert!(poll.is_none(), "the connection ended: {poll:?}");
            let so_far = served.load(Ordering::Relaxed);
            *count = so_far - before;
            before = so_far;
        }
        assert_eq!(
            counts[1..],
            shares,
            "requests served in each poll after the first"
        );
    }
}

/// A transport whose every read waits once (waking its task at once) before
/// it brings the next request, as a client's does that sends each request
/// after reading the previous answer; it counts those waits. Once `left`
/// requests are read it waits for good, as an idle client does.
struct WaitsBeforeEachRequest {
    request: &'static [u8],
    left: usize,
    ready: bool,
    waits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl futures_lite::AsyncRead for WaitsBeforeEachRequest {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.left == 0 {
            return std::task::Poll::Pending;
        }
        if !self.ready {
            self.ready = true;
            self.waits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.ready = false;
        self.left -= 1;
        buf[..self.request.len()].copy_from_slice(self.request);
        std::task::Poll::Ready(Ok(self.request.len()))
    }
}

impl WaitsBeforeEachRequest {
    /// `left` copies of `request`, each after a wait, its waits uncounted.
    fn new(request: &'static [u8], left: usize) -> Self {
        WaitsBeforeEachRequest {
            request,
            left,
            ready: false,
            waits: std::sync::Arc::default(),
        }
    }
}

swallows_writes!(WaitsBeforeEachRequest);

/// A connection whose reads wait for its peer lets the other tasks run at
/// each wait, and is not made to yield besides: a yield would only send it
/// to the back of the queue, behind the connections it was not holding up
/// (on a loaded server, a longer wait for one request in four of a client
/// pipelining 16 at a time). Every poll that returns pending is one where
/// the transport waited.
#[test]
fn a_connection_that_waits_for_its_peer_is_not_made_to_yield_besides() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const REQUESTS: usize = 1_000;
    let (served, service) = counting_service();
    let waits = Arc::new(AtomicUsize::new(0));
    let transport = WaitsBeforeEachRequest {
        request: b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        left: REQUESTS,
        ready: false,
        waits: waits.clone(),
    };
    let config = ServerConfig::default();
    let connection = lithe::io::serve_connection(transport, service, &config);
    let mut connection = std::pin::pin!(connection);
    let mut pending_polls = 0;
    while served.load(Ordering::Relaxed) < REQUESTS && pending_polls < 10 * REQUESTS {
        let poll = run(futures_lite::future::poll_once(connection.as_mut()));
        assert!(poll.is_none(), "the connection ended: {poll:?}");
        pending_polls += 1;
    }
    assert_eq!(served.load(Ordering::Relaxed), REQUESTS);
    // The last poll served the last request and waits for good, uncounted.
    assert_eq!(
        (pending_polls, waits.load(Ordering::Relaxed)),
        (REQUESTS + 1, REQUESTS),
        "polls that returned pending, and the transport's waits"
    );
}

/// A shutdown that lands while a request is served asks the connection
/// what is there now, and a request already sent is served as the last,
/// even over a transport that puts off the read (`rt`'s skips the first
/// read after a short one, counting on readiness to come; this one waits
/// once before each request, waking its task): taken for none, the request
/// would be closed over, which a kernel answers with a reset that may
/// destroy the answer before it.
#[test]
fn a_shutdown_during_a_request_serves_the_next_one_a_read_put_off() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let shutdown = Arc::new(lithe::io::Shutdown::new());
    let served = Arc::new(AtomicUsize::new(0));
    let service = {
        let (shutdown, served) = (shutdown.clone(), served.clone());
        move |_: lithe::io::Request| {
            served.fetch_add(1, Ordering::Relaxed);
            // Triggered once the head is out, keep-alive, as the body ends.
            let shutdown = shutdown.clone();
            let mut pieces = 0;
            let body = futures_lite::stream::poll_fn(move |_| {
                pieces += 1;
                if pieces > 1 {
                    shutdown.trigger();
                    return std::task::Poll::Ready(None);
                }
                std::task::Poll::Ready(Some(Ok(bytes::Bytes::from_static(b"ok"))))
            });
            std::future::ready(
                lithe::io::Response::new(lithe::proto::StatusCode::OK)
                    .with_body(lithe::io::Body::stream(body)),
            )
        }
    };
    let transport = WaitsBeforeEachRequest::new(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 2);
    let config = ServerConfig::default();
    run(lithe::io::serve_connection_until(
        transport, service, &config, &shutdown,
    ))
    .unwrap();
    assert_eq!(served.load(Ordering::Relaxed), 2);
}

/// Bodies of a declared length the service leaves unread are drained by
/// the connection, which reads on without waiting. When the read that
/// brings a body's end brings the next head too, the connection never runs
/// out of buffered requests: the share has to be counted there too.
#[test]
fn a_client_pipelining_unread_bodies_does_not_hold_the_thread() {
    let body = vec![b'.'; 20_000];
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    serves_a_share_per_poll(request.leak());
}

/// A response body whose stream is always ready, written to a peer that
/// reads as fast, neither produces nor writes anything that waits: the
/// connection still hands the thread back to the other connections on it
/// while it goes out, not only at its end.
#[test]
fn an_always_ready_response_body_does_not_hold_the_thread() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const PIECES: usize = 4096;
    let produced = Arc::new(AtomicUsize::new(0));
    let counted = produced.clone();
    let service = move |_: lithe::io::Request| {
        let counted = counted.clone();
        let piece = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        let body = futures_lite::stream::iter((0..PIECES).map(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
            Ok(piece.clone())
        }));
        async move {
            lithe::io::Response::new(lithe::proto::StatusCode::OK)
                .with_body(lithe::io::Body::stream(body))
        }
    };
    let config = ServerConfig::default();
    // One request; the writes are taken whole at once.
    let endless = Endless::new(b"GET /large HTTP/1.1\r\nHost: a\r\n\r\n", 1);
    let mut connection = std::pin::pin!(lithe::io::serve_connection(endless, service, &config));
    let mut before = 0;
    for _ in 0..3 {
        let poll = run(futures_lite::future::poll_once(connection.as_mut()));
        assert!(poll.is_none(), "the connection ended: {poll:?}");
        let so_far = produced.load(Ordering::Relaxed);
        // About 1 MiB a turn (16 of these 64 KiB pieces), counted in bytes
        // as well as in pieces (256 a turn).
        assert!(
            so_far > before && so_far - before <= 20,
            "{before} then {so_far} of {PIECES} pieces"
        );
        before = so_far;
    }
}

/// A peer that never stops sending, reads always ready: answered (here, its
/// head too large) and closed, the connection discards what follows for a
/// while so that the answer is not lost to a reset, and hands the thread
/// back to the other connections on it meanwhile.
#[test]
fn a_peer_flooding_a_closing_connection_does_not_hold_the_thread() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Endless bytes with no line end, counted.
    struct Flood(Arc<AtomicUsize>);
    impl futures_lite::AsyncRead for Flood {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            buf.fill(b'x');
            self.0.fetch_add(buf.len(), Ordering::Relaxed);
            std::task::Poll::Ready(Ok(buf.len()))
        }
    }
    swallows_writes!(Flood);
    let read = Arc::new(AtomicUsize::new(0));
    let config = ServerConfig::default();
    let service =
        |_: lithe::io::Request| async { lithe::io::Response::new(lithe::proto::StatusCode::OK) };
    let mut connection = std::pin::pin!(lithe::io::serve_connection(
        Flood(read.clone()),
        service,
        &config
    ));
    let mut before = 0;
    for _ in 0..3 {
        let poll = run(futures_lite::future::poll_once(connection.as_mut()));
        assert!(poll.is_none(), "the connection ended: {poll:?}");
        let so_far = read.load(Ordering::Relaxed);
        assert!(
            so_far > before && so_far - before < 4 << 20,
            "{before} then {so_far} bytes read"
        );
        before = so_far;
    }
}

/// Empty lines sent while a request is served are read through to see
/// whether the client has gone, but only up to the head size limit (which
/// they count against as the next head's): a peer sending nothing else
/// grows no buffer without bound.
#[test]
fn empty_lines_during_a_request_are_watched_through_within_the_head_limit() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A request, then empty lines, 4 MiB of them at most; counted.
    struct EmptyLines(Arc<AtomicUsize>);
    impl futures_lite::AsyncRead for EmptyLines {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
            let at = self.0.load(Ordering::Relaxed);
            if at >= 4 << 20 {
                return std::task::Poll::Pending;
            }
            let n = match at {
                0 => {
                    buf[..REQUEST.len()].copy_from_slice(REQUEST);
                    REQUEST.len()
                }
                _ => {
                    let n = buf.len() & !1;
                    for pair in buf[..n].chunks_mut(2) {
                        pair.copy_from_slice(b"\r\n");
                    }
                    n
                }
            };
            self.0.fetch_add(n, Ordering::Relaxed);
            std::task::Poll::Ready(Ok(n))
        }
    }
    swallows_writes!(EmptyLines);
    let read = Arc::new(AtomicUsize::new(0));
    let config = ServerConfig::default();
    let limit = config.proto.limits.max_head_bytes;
    let service = |_: lithe::io::Request| futures_lite::future::pending::<lithe::io::Response>();
    let mut connection = std::pin::pin!(lithe::io::serve_connection(
        EmptyLines(read.clone()),
        service,
        &config
    ));
    for _ in 0..3 {
        let poll = run(futures_lite::future::poll_once(connection.as_mut()));
        assert!(poll.is_none(), "the connection ended: {poll:?}");
    }
    let so_far = read.load(Ordering::Relaxed);
    assert!(so_far > 1024, "{so_far} bytes read");
    assert!(so_far < 2 * limit + (64 << 10), "{so_far} bytes read");
}

/// Bytes sent right behind a CONNECT are the tunnel's (RFC 9931): when the
/// CONNECT is refused they must not be read as requests of their own, which
/// a proxy in front may have let through for that CONNECT only.
#[test]
fn early_data_behind_a_refused_connect_is_not_served() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let service = move |request: lithe::io::Request| {
        log.lock().unwrap().push(request.method().to_owned());
        async { lithe::io::Response::new(lithe::proto::StatusCode::FORBIDDEN).with_body("no") }
    };
    let server = server_with(service, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"CONNECT internal:443 HTTP/1.1\r\nHost: internal:443\r\n\r\n\
          DELETE /everything HTTP/1.1\r\nHost: internal\r\n\r\n",
    );
    assert_eq!(
        without_date(&reply),
        "HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno"
    );
    assert_eq!(*seen.lock().unwrap(), ["CONNECT"]);
    server.shutdown();
}

/// The bytes behind a refused CONNECT are seen even when its head filled
/// the read that brought it exactly (2,048 bytes, a parked connection's
/// read), the rest still unread in the socket when the answer is made.
#[test]
fn early_data_behind_a_refused_connect_that_fills_a_read_is_not_served() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let service = move |request: lithe::io::Request| {
        log.lock().unwrap().push(request.method().to_owned());
        async { lithe::io::Response::new(lithe::proto::StatusCode::FORBIDDEN).with_body("no") }
    };
    let server = server_with(service, ServerConfig::default());
    let start = "CONNECT internal:443 HTTP/1.1\r\nHost: internal:443\r\nX-Pad: ";
    let pad = "a".repeat(2048 - start.len() - "\r\n\r\n".len());
    let connect = format!("{start}{pad}\r\n\r\n");
    assert_eq!(connect.len(), 2048);
    let input = format!("{connect}DELETE /everything HTTP/1.1\r\nHost: internal\r\n\r\n");
    let reply = exchange(server.local_addr(), input.as_bytes());
    assert!(
        without_date(&reply).starts_with("HTTP/1.1 403 Forbidden\r\nconnection: close\r\n"),
        "{reply}"
    );
    assert_eq!(*seen.lock().unwrap(), ["CONNECT"]);
    server.shutdown();
}

/// The same when the transport puts off the read that looks for them
/// (`rt`'s skips the first read after a short one, counting on readiness
/// to come; this one waits once before each head, waking its task): the
/// CONNECT behind the refused one is found, not served.
#[test]
fn early_data_behind_a_refused_connect_is_found_through_a_read_put_off() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let served = Arc::new(AtomicUsize::new(0));
    let service = {
        let served = served.clone();
        move |_: lithe::io::Request| {
            served.fetch_add(1, Ordering::Relaxed);
            std::future::ready(lithe::io::Response::new(
                lithe::proto::StatusCode::FORBIDDEN,
            ))
        }
    };
    let transport = WaitsBeforeEachRequest::new(
        b"CONNECT internal:443 HTTP/1.1\r\nHost: internal:443\r\n\r\n",
        2,
    );
    let config = ServerConfig::default();
    run(lithe::io::serve_connection(transport, service, &config)).unwrap();
    assert_eq!(served.load(Ordering::Relaxed), 1);
}

/// Without bytes behind it, a refused CONNECT keeps its connection: a
/// proxy's 407 challenge is answered on the same connection (as NTLM and
/// Negotiate need).
#[test]
fn a_refused_connect_alone_keeps_its_connection() {
    async fn proxy(request: lithe::io::Request) -> lithe::io::Response {
        use lithe::io::Response;
        use lithe::proto::StatusCode;
        match request.headers().get("proxy-authorization") {
            None => Response::new(StatusCode::new(407).unwrap())
                .with_header("proxy-authenticate", "Basic realm=\"p\""),
            Some(_) => Response::new(StatusCode::OK).with_body("authorized"),
        }
    }
    let server = server_with(proxy, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"CONNECT internal:443 HTTP/1.1\r\nHost: internal:443\r\n\r\n")
        .unwrap();
    let challenge = read_until(&mut s, "\r\n\r\n");
    assert!(challenge.starts_with("HTTP/1.1 407 "), "{challenge}");
    assert!(!challenge.contains("close"), "{challenge}");
    s.write_all(
        b"GET /a HTTP/1.1\r\nHost: a\r\nProxy-Authorization: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("authorized"), "{reply}");
    server.shutdown();
}

/// A shutdown timeout past what the clock can count lets every request in
/// flight finish (adding it to the time now overflowed, a panic that dropped
/// them).
#[test]
fn an_unbounded_shutdown_lets_requests_in_flight_finish() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let started = Arc::new(AtomicBool::new(false));
    // Answers 300 ms after the request reached it; the shutdown begins meanwhile.
    let service = {
        let started = started.clone();
        move |_: lithe::io::Request| {
            let started = started.clone();
            async move {
                started.store(true, Ordering::SeqCst);
                async_io::Timer::after(Duration::from_millis(300)).await;
                lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("slow")
            }
        }
    };
    let serve = lithe::rt::ServeConfig {
        threads: 1,
        shutdown_timeout: Duration::MAX,
        ..Default::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", service, serve).expect("bind");
    let mut s = socket(server.local_addr());
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    wait_until(&started, "the request never reached the service");
    let stopping = std::thread::spawn(move || server.shutdown());
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("slow"), "{reply}");
    stopping.join().unwrap();
}

/// A request body read as a `Stream` ends after its one error, as streams
/// do: a consumer that skips errors (`filter_map(Result::ok)`) would never
/// end otherwise. `chunk` stays failed.
#[test]
fn a_request_body_stream_ends_after_its_error() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let service = move |request: lithe::io::Request| {
        let log = log.clone();
        async move {
            use futures_lite::StreamExt;
            let mut body = request.into_body();
            let mut items = Vec::new();
            while let Some(item) = body.next().await {
                items.push(item.map(|b| b.len()).map_err(|e| e.to_string()));
                if items.len() > 10 {
                    break;
                }
            }
            let after = body.chunk().await.map_err(|e| e.to_string());
            log.lock().unwrap().push((items, after));
            lithe::io::Response::new(lithe::proto::StatusCode::OK)
        }
    };
    let server = server_with(service, ServerConfig::default());
    // A chunk, then a chunk-size line that is not hexadecimal.
    let _ = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n",
    );
    let seen = seen.lock().unwrap();
    let (items, after) = &seen[0];
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], Ok(3));
    assert!(items[1].is_err(), "{items:?}");
    assert!(after.is_err(), "{after:?}");
    server.shutdown();
}

/// A request body whose stream has reported its error (and so ends), sent
/// on as a body of its own (a proxy forwarding the rest), fails again
/// there: the upstream never gets it as a whole message (before, an empty
/// chunked body, ended and complete).
#[test]
fn a_body_whose_stream_error_was_seen_is_not_passed_on_as_whole() {
    use lithe::io::{Body, ClientConfig, ClientConnection, Request, Response};
    use lithe::proto::StatusCode;
    let (recorded, upstream_saw) = std::sync::mpsc::channel();
    let (forwarded, forward_ended) = std::sync::mpsc::channel();
    let proxy = move |request: Request| {
        let (recorded, forwarded) = (recorded.clone(), forwarded.clone());
        async move {
            use futures_lite::StreamExt;
            let mut body = request.into_body();
            while let Some(piece) = body.next().await {
                if piece.is_err() {
                    break;
                }
            }
            let recording = move |request: Request| {
                let recorded = recorded.clone();
                async move {
                    let _ = recorded.send(request.into_body().bytes(1024).await.is_ok());
                    Response::new(StatusCode::OK)
                }
            };
            let (client_end, server_end) = lithe::io::duplex(64 * 1024);
            let config = ServerConfig::default();
            let upstream = lithe::io::serve_connection(server_end, recording, &config);
            let forwarding = async {
                let mut conn =
                    ClientConnection::new(client_end, ClientConfig::default()).with_host("u");
                let forwarded = Request::new("POST", "/").with_body(Body::from(body));
                conn.send(forwarded).await.map(drop)
            };
            let (_, sent) = futures_lite::future::zip(upstream, forwarding).await;
            let _ = forwarded.send(sent.is_ok());
            Response::new(StatusCode::OK).with_body(format!("sent: {}", sent.is_ok()))
        }
    };
    let server = server_with(proxy, ServerConfig::default());
    // A chunk, then a chunk-size line that is not hexadecimal.
    let _ = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n",
    );
    // The forward was tried, and failed.
    assert_eq!(forward_ended.recv_timeout(LIMIT), Ok(false));
    // Nothing reached the upstream service, or a body cut short did.
    let whole = upstream_saw.recv_timeout(Duration::from_secs(1));
    assert_ne!(
        whole,
        Ok(true),
        "the upstream took the failed body as whole"
    );
    server.shutdown();
}

/// Reads one response head from `io`, byte by byte (nothing after it).
async fn read_head(io: &mut lithe::io::DuplexStream) -> String {
    use futures_lite::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        io.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Sends a GET proposing a switch to WebSocket with `after` behind it, in
/// one write (the driver reads the head and what follows together), and
/// returns the head of the answer.
async fn propose_websocket(io: &mut lithe::io::DuplexStream, after: &[u8]) -> String {
    use futures_lite::AsyncWriteExt;
    let head = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
    io.write_all(&[&head[..], after].concat()).await.unwrap();
    read_head(io).await
}

/// Sends `head` to a service that begins a shutdown and answers with a 101
/// for `protocol` (a 200 to a CONNECT), then, 50 ms later (the answer given,
/// the shutdown begun), `body`; returns the head of the driver's answer.
fn switch_during_shutdown(head: &[u8], body: &[u8], protocol: &'static str) -> String {
    use futures_lite::AsyncWriteExt;
    use lithe::io::{Request, Response, Shutdown, duplex, serve_connection_until};
    use lithe::proto::StatusCode;
    let shutdown = Shutdown::new();
    let signal = shutdown.clone();
    let service = move |mut request: Request| {
        signal.trigger();
        let on_upgrade = request.upgrade();
        let tunnel = request.method() == "CONNECT";
        async move {
            assert!(on_upgrade.is_some(), "the request proposes a switch");
            match tunnel {
                true => Response::new(StatusCode::OK),
                false => Response::new(StatusCode::SWITCHING_PROTOCOLS)
                    .with_header("connection", "upgrade")
                    .with_header("upgrade", protocol),
            }
        }
    };
    let (server_end, mut client_end) = duplex(4096);
    run(async {
        let config = ServerConfig::default();
        let served = serve_connection_until(server_end, service, &config, &shutdown);
        let client = async {
            client_end.write_all(head).await.unwrap();
            async_io::Timer::after(Duration::from_millis(50)).await;
            client_end.write_all(body).await.unwrap();
            read_head(&mut client_end).await
        };
        futures_lite::future::zip(served, client).await.1
    })
}

/// A 101 given before the request's body arrived waits for the body; a
/// shutdown meanwhile does not cut that wait short: the switch is the
/// answer the body was read for.
#[test]
fn a_switch_held_for_its_body_survives_a_shutdown() {
    let head = switch_during_shutdown(
        b"POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\
          Content-Length: 5\r\n\r\n",
        b"hello",
        "h2c",
    );
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
}

/// The shutdown begins while the upgrade request is being answered.
#[test]
fn a_protocol_switch_during_shutdown_keeps_its_connection_upgrade() {
    let head = switch_during_shutdown(
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"",
        "websocket",
    );
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("connection: upgrade\r\n"), "{head}");
    assert!(!head.contains("close"), "{head}");
}

/// The same for a tunnel: its 2xx says nothing of a close.
#[test]
fn a_tunnel_opened_during_shutdown_is_not_said_to_close() {
    let head = switch_during_shutdown(
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        b"",
        "",
    );
    assert_eq!(without_date(&head), "HTTP/1.1 200 OK\r\n\r\n");
}

/// A 101 the service answers without taking the request's upgrade: the
/// switch is made on the wire, nobody speaks the new protocol, and the
/// connection is closed after the response (`Request::upgrade`), not kept
/// open, nor read as HTTP again.
#[test]
fn a_switch_answered_but_not_taken_closes_the_connection() {
    let server = server_with(
        |_: lithe::io::Request| async {
            lithe::io::Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
                .with_header("connection", "upgrade")
                .with_header("upgrade", "echo")
        },
        ServerConfig::default(),
    );
    let mut s = socket(server.local_addr());
    // Bytes of the new protocol right behind the head: not a request.
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut s);
    assert!(
        reply.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{reply}"
    );
    assert_eq!(count(&reply, "HTTP/1.1"), 1, "{reply}");
    assert!(reply.ends_with("\r\n\r\n"), "{reply}");
    server.shutdown();
}

/// Speaks the new protocol on a thread of its own once the switch is made:
/// reads four bytes and answers `reply`, or echoes them (`None`). A switch
/// that does not happen ends it quietly.
fn answer_four_bytes_after_the_switch(
    on_upgrade: lithe::io::OnUpgrade,
    reply: Option<&'static [u8]>,
) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    std::thread::spawn(move || {
        lithe::rt::block_on(async move {
            if let Ok(mut io) = on_upgrade.await {
                let mut buf = [0u8; 4];
                io.read_exact(&mut buf).await.unwrap();
                io.write_all(reply.unwrap_or(&buf)).await.unwrap();
                io.flush().await.unwrap();
            }
        })
    });
}

/// A switch answered after the service read the request's body to its end
/// hands over a connection whose sending side is open, whatever the request
/// said of closing (`Connection: upgrade, close`: the close is HTTP's, and
/// HTTP ends with the switch).
#[test]
fn a_switch_after_the_body_was_read_keeps_both_directions() {
    async fn read_then_switch(mut request: lithe::io::Request) -> lithe::io::Response {
        let on_upgrade = request.upgrade().expect("the request proposes a switch");
        let body = request.into_body().bytes(100).await.unwrap();
        assert_eq!(&body[..], b"hello");
        answer_four_bytes_after_the_switch(on_upgrade, None);
        lithe::io::Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
            .with_header("upgrade", "h2c")
    }
    let server = server_with(read_then_switch, ServerConfig::default());
    for connection in ["upgrade", "upgrade, close"] {
        let mut s = socket(server.local_addr());
        let head = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: {connection}\r\nUpgrade: h2c\r\n\
             Content-Length: 5\r\n\r\nhello"
        );
        s.write_all(head.as_bytes()).unwrap();
        assert_eq!(
            without_date(&read_until(&mut s, "\r\n\r\n")),
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n",
            "{connection}"
        );
        s.write_all(b"ping").unwrap();
        assert_eq!(read_until(&mut s, "ping"), "ping", "{connection}");
    }
    server.shutdown();
}

/// RFC 9110 §7.8: a request with Upgrade and `Expect: 100-continue` gets
/// `100 Continue` before the 101: with a body, which the switch reads to its
/// end, and without one, which waits for nothing (so nothing else would
/// send the 100).
#[test]
fn a_switch_to_a_request_that_expected_100_is_preceded_by_one() {
    async fn switch(mut request: lithe::io::Request) -> lithe::io::Response {
        let on_upgrade = request.upgrade().expect("the request proposes a switch");
        answer_four_bytes_after_the_switch(on_upgrade, None);
        lithe::io::Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
            .with_header("connection", "upgrade")
            .with_header("upgrade", "echo")
    }
    let server = server_with(switch, ServerConfig::default());
    for (method, body) in [("POST", "Content-Length: 2\r\n\r\nok"), ("GET", "\r\n")] {
        let mut s = socket(server.local_addr());
        let request = format!(
            "{method} / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\
             Expect: 100-continue\r\n{body}ping"
        );
        s.write_all(request.as_bytes()).unwrap();
        let interim = read_until(&mut s, "\r\n\r\n");
        assert_eq!(interim, "HTTP/1.1 100 Continue\r\n\r\n", "{method}");
        let head = read_until(&mut s, "\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 101 "), "{method}: {head}");
        assert_eq!(read_until(&mut s, "ping"), "ping");
    }
    server.shutdown();
}

/// A service may accept an Upgrade without reading the request's body (h2c's
/// upgrade carries one): HTTP ends with the request, so the driver reads the
/// body to its end first, after `100 Continue` when the client waits for
/// one, then sends the 101; the new protocol starts at the byte after the
/// body. A body too long to drain leaves the switch unsent: 413, closed.
#[test]
fn a_switch_answered_before_the_body_is_read_waits_for_its_end() {
    async fn echo_four_bytes(mut request: lithe::io::Request) -> lithe::io::Response {
        let on_upgrade = request.upgrade().expect("the request proposes a switch");
        // No switch (the body too long) resolves to an error.
        answer_four_bytes_after_the_switch(on_upgrade, None);
        lithe::io::Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
            .with_header("connection", "upgrade")
            .with_header("upgrade", "h2c")
    }
    const HEAD: &str = "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\
                        Content-Length: 5\r\n";
    const SWITCHED: &str =
        "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n";
    let server = server_with(echo_four_bytes, ServerConfig::default());

    let mut s = socket(server.local_addr());
    s.write_all(format!("{HEAD}\r\nhelloping").as_bytes())
        .unwrap();
    assert_eq!(without_date(&read_until(&mut s, "\r\n\r\n")), SWITCHED);
    assert_eq!(read_until(&mut s, "ping"), "ping");

    let mut s = socket(server.local_addr());
    s.write_all(format!("{HEAD}Expect: 100-continue\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(
        read_until(&mut s, "\r\n\r\n"),
        "HTTP/1.1 100 Continue\r\n\r\n"
    );
    s.write_all(b"helloping").unwrap();
    assert_eq!(without_date(&read_until(&mut s, "\r\n\r\n")), SWITCHED);
    assert_eq!(read_until(&mut s, "ping"), "ping");

    // Chunked, to its last chunk; a malformed chunk gets proto's 400.
    const CHUNKED: &str = "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\
                           Upgrade: h2c\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    let mut s = socket(server.local_addr());
    s.write_all(format!("{CHUNKED}0\r\n\r\nping").as_bytes())
        .unwrap();
    assert_eq!(without_date(&read_until(&mut s, "\r\n\r\n")), SWITCHED);
    assert_eq!(read_until(&mut s, "ping"), "ping");
    let reply = exchange(
        server.local_addr(),
        format!("{CHUNKED}XX0\r\n\r\nping").as_bytes(),
    );
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    server.shutdown();

    let small_drain = ServerConfig {
        drain_limit: 4,
        ..ServerConfig::default()
    };
    let server = server_with(echo_four_bytes, small_drain.clone());
    let reply = exchange(
        server.local_addr(),
        format!("{HEAD}\r\nhelloping").as_bytes(),
    );
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    assert!(
        reply.ends_with("request body too long to read before switching protocols\n"),
        "{reply}"
    );
    assert!(!reply.contains("101"), "{reply}");
    // A chunked body states no length: the drain finds it too long.
    let reply = exchange(
        server.local_addr(),
        format!("{CHUNKED}0\r\n\r\nping").as_bytes(),
    );
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    // A length past the limit is not invited: no 100 before the refusal,
    // whether the service dropped the body or still holds it.
    let reply = exchange(
        server.local_addr(),
        format!("{HEAD}Expect: 100-continue\r\n\r\n").as_bytes(),
    );
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
    server.shutdown();
    async fn holding_the_body(mut request: lithe::io::Request) -> lithe::io::Response {
        drop(request.upgrade());
        let body = request.into_body();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(body);
        });
        lithe::io::Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
            .with_header("connection", "upgrade")
            .with_header("upgrade", "h2c")
    }
    let server = server_with(holding_the_body, small_drain);
    let reply = exchange(
        server.local_addr(),
        format!("{HEAD}Expect: 100-continue\r\n\r\n").as_bytes(),
    );
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");
    server.shutdown();

    // A CONNECT has no content (RFC 9110 §9.3.6): one declaring some never
    // reaches the service (whose tunnel would otherwise open over a body
    // the drain took its first bytes for); it is a 400, and the bytes
    // behind it are not read as requests.
    async fn tunnel_unread(mut request: lithe::io::Request) -> lithe::io::Response {
        drop(request.upgrade());
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
    }
    let server = server_with(tunnel_unread, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 5\r\n\r\nhello\
          GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    assert_eq!(reply.matches("HTTP/1.1 ").count(), 1, "{reply}");
    server.shutdown();
}

#[test]
fn a_connect_tunnel_gets_no_content_length_and_the_raw_connection() {
    async fn tunnel(mut request: lithe::io::Request) -> lithe::io::Response {
        let on_upgrade = request.upgrade().expect("CONNECT proposes a switch");
        answer_four_bytes_after_the_switch(on_upgrade, Some(b"pong"));
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
    }
    let server = server_with(tunnel, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        .unwrap();
    let head = read_until(&mut s, "\r\n\r\n");
    assert_eq!(without_date(&head), "HTTP/1.1 200 OK\r\n\r\n");
    s.write_all(b"ping").unwrap();
    assert_eq!(read_until(&mut s, "pong"), "pong");
    server.shutdown();
}

/// A switch accepted on a connection that has served a request already:
/// the answer before it, still queued when the switch is made (the switch
/// request was pipelined behind it), goes out whole and first, then the
/// 101, then the new protocol; and a CONNECT retried with credentials after
/// a 407 on the same connection gets its tunnel.
#[test]
fn a_switch_on_a_kept_connection_follows_the_answers_before_it() {
    use lithe::io::{Request, Response};
    use lithe::proto::StatusCode;
    async fn service(mut request: Request) -> Response {
        match (request.method(), request.path()) {
            ("GET", "/plain") => Response::new(StatusCode::OK).with_body("plain"),
            ("GET", "/ws") => {
                let on_upgrade = request.upgrade().expect("the request proposes a switch");
                answer_four_bytes_after_the_switch(on_upgrade, None);
                Response::new(StatusCode::SWITCHING_PROTOCOLS).with_header("upgrade", "echo")
            }
            ("CONNECT", _) if request.headers().get("proxy-authorization").is_none() => {
                Response::new(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
                    .with_header("proxy-authenticate", "Basic")
            }
            ("CONNECT", _) => {
                let on_upgrade = request.upgrade().expect("CONNECT proposes a switch");
                answer_four_bytes_after_the_switch(on_upgrade, Some(b"pong"));
                Response::new(StatusCode::OK)
            }
            _ => Response::new(StatusCode::NOT_FOUND),
        }
    }
    let server = server_with(service, ServerConfig::default());

    let mut s = socket(server.local_addr());
    s.write_all(
        b"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nping",
    )
    .unwrap();
    let reply = read_until(&mut s, "ping");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    let switch = reply
        .find("HTTP/1.1 101 Switching Protocols\r\n")
        .expect("the 101");
    assert!(reply[..switch].ends_with("\r\n\r\nplain"), "{reply}");
    assert_eq!(count(&reply, "HTTP/1.1 "), 2, "{reply}");
    assert!(reply[switch..].ends_with("\r\n\r\nping"), "{reply}");

    let mut s = socket(server.local_addr());
    s.write_all(b"CONNECT internal:443 HTTP/1.1\r\nHost: internal:443\r\n\r\n")
        .unwrap();
    let refused = read_until(&mut s, "\r\n\r\n");
    assert!(refused.starts_with("HTTP/1.1 407 "), "{refused}");
    assert!(!refused.contains("connection: close"), "{refused}");
    s.write_all(
        b"CONNECT internal:443 HTTP/1.1\r\nHost: internal:443\r\nProxy-Authorization: Basic eDp5\r\n\r\n",
    )
    .unwrap();
    let head = read_until(&mut s, "\r\n\r\n");
    assert_eq!(without_date(&head), "HTTP/1.1 200 OK\r\n\r\n");
    s.write_all(b"ping").unwrap();
    assert_eq!(read_until(&mut s, "pong"), "pong");
    server.shutdown();
}

/// A 101 or a CONNECT's 2xx has no content (RFC 9110 §6.4.1, §9.3.6): the
/// framing fields and body a service gave one (a helper that always sets
/// `Content-Length: 0`, a proxy's "Connection established" text) are left
/// out, and the switch is made, not turned into a 500 over fields proto
/// refuses on such a head.
#[test]
fn a_switch_or_tunnel_leaves_out_the_framing_the_service_set() {
    async fn switch_with_framing(mut request: lithe::io::Request) -> lithe::io::Response {
        let on_upgrade = request.upgrade().expect("the request proposes a switch");
        answer_four_bytes_after_the_switch(on_upgrade, Some(b"pong"));
        let response = match request.method() {
            "CONNECT" => lithe::io::Response::new(lithe::proto::StatusCode::OK),
            _ => lithe::io::Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
                .with_header("upgrade", "websocket"),
        };
        match request.path() {
            "/chunked" => response
                .with_header("transfer-encoding", "chunked")
                .with_body("x"),
            _ => response
                .with_header("content-length", "0")
                .with_body("established"),
        }
    }
    let server = server_with(switch_with_framing, ServerConfig::default());
    for (request, status) in [
        (
            "GET /length HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n",
        ),
        (
            "GET /chunked HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n",
        ),
        (
            "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
            "HTTP/1.1 200 OK\r\n",
        ),
    ] {
        let mut s = socket(server.local_addr());
        s.write_all(request.as_bytes()).unwrap();
        let head = without_date(&read_until(&mut s, "\r\n\r\n"));
        assert!(head.starts_with(status), "{request}: {head}");
        assert!(!head.contains("content-length"), "{request}: {head}");
        assert!(!head.contains("transfer-encoding"), "{request}: {head}");
        s.write_all(b"ping").unwrap();
        // No body before the new protocol's first bytes.
        assert_eq!(read_until(&mut s, "pong"), "pong", "{request}");
    }
    server.shutdown();
}

/// Bytes a client sends right behind its upgrade request are the new
/// protocol's first, buffered by the driver: read in pieces smaller than
/// what was buffered they come in order, none lost, and `into_parts` hands
/// over exactly what was not read yet.
#[test]
fn bytes_behind_a_switch_are_read_in_small_pieces_or_taken_whole() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Request, Response, duplex, serve_connection};
    for take_parts in [false, true] {
        let service = move |mut request: Request| {
            let on_upgrade = request.upgrade().expect("the request proposes a switch");
            std::thread::spawn(move || {
                lithe::rt::block_on(async move {
                    let Ok(mut io) = on_upgrade.await else { return };
                    let mut first = [0u8; 3];
                    io.read_exact(&mut first).await.unwrap();
                    let answer = if take_parts {
                        let (mut transport, rest) = io.into_parts();
                        let answer = [&rest[..], b"|", &first].concat();
                        transport.write_all(&answer).await.unwrap();
                        transport.flush().await.unwrap();
                        return;
                    } else {
                        let mut second = [0u8; 5];
                        io.read_exact(&mut second).await.unwrap();
                        [&second[..], b"|", &first].concat()
                    };
                    io.write_all(&answer).await.unwrap();
                    io.flush().await.unwrap();
                })
            });
            async {
                Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
                    .with_header("upgrade", "websocket")
            }
        };
        let (server_end, mut client_end) = duplex(4096);
        let (head, answer) = run(async {
            let config = ServerConfig::default();
            let served = serve_connection(server_end, service, &config);
            let client = async {
                let head = propose_websocket(&mut client_end, b"pingpong").await;
                let mut answer = [0u8; 9];
                client_end.read_exact(&mut answer).await.unwrap();
                (head, answer)
            };
            futures_lite::future::zip(served, client).await.1
        });
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert_eq!(&answer, b"gpong|pin", "into_parts: {take_parts}");
    }
}

/// The connection a switch hands over writes through to the transport:
/// vectored writes, flushes (which a TLS stream needs to send what it
/// holds) and its close, which the client sees as the end while the new
/// protocol still holds the connection. Its debug form says how many bytes
/// it holds from before the switch.
#[test]
fn an_upgraded_connection_writes_flushes_and_closes_through() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Request, Response, duplex, serve_connection};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let (server_end, mut client_end) = duplex(4096);
    let flushes = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let transport = CountingWrites {
        pipe: server_end,
        writes: Default::default(),
        flushes: flushes.clone(),
        closed: closed.clone(),
    };
    // Until the client has read to the end: the close, not a drop, ends it.
    let (ended, end_seen) = std::sync::mpsc::channel::<()>();
    let end_seen = std::sync::Mutex::new(Some(end_seen));
    let (checks, checked) = std::sync::mpsc::channel();
    let service = move |mut request: Request| {
        let on_upgrade = request.upgrade().expect("the request proposes a switch");
        let (flushes, checks) = (flushes.clone(), checks.clone());
        let end_seen = end_seen.lock().unwrap().take().expect("one request");
        std::thread::spawn(move || {
            lithe::rt::block_on(async move {
                assert_eq!(format!("{on_upgrade:?}"), "OnUpgrade");
                let Ok(mut io) = on_upgrade.await else { return };
                let said = format!("{io:?}");
                let pieces = [std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")];
                let written = io.write_vectored(&pieces).await.unwrap();
                io.write_all(&b"abcd"[written..]).await.unwrap();
                let before = flushes.load(Ordering::Relaxed);
                io.flush().await.unwrap();
                let flushed = flushes.load(Ordering::Relaxed) > before;
                io.close().await.unwrap();
                let _ = checks.send((said, written, flushed));
                let _ = end_seen.recv_timeout(Duration::from_secs(10));
                drop(io);
            })
        });
        async {
            Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
                .with_header("upgrade", "websocket")
        }
    };
    let (head, rest) = run(async {
        let config = ServerConfig::default();
        let served = serve_connection(transport, service, &config);
        let client = async {
            let head = propose_websocket(&mut client_end, b"ping").await;
            let mut rest = Vec::new();
            let read = futures_lite::future::or(
                async { Some(client_end.read_to_end(&mut rest).await) },
                async {
                    async_io::Timer::after(Duration::from_secs(3)).await;
                    None
                },
            )
            .await;
            let _ = ended.send(());
            assert!(matches!(read, Some(Ok(_))), "no end seen: {read:?}");
            (head, rest)
        };
        futures_lite::future::zip(served, client).await.1
    });
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(rest, b"abcd");
    let (said, written, flushed) = checked.recv().unwrap();
    assert_eq!(said, "Upgraded { buffered: 4 }");
    assert!(written > 0, "a vectored write of two pieces wrote nothing");
    assert!(flushed, "the flush did not reach the transport");
    assert!(closed.load(Ordering::Relaxed));
}

#[test]
fn whole_body_helpers_enforce_their_limit_and_utf8() {
    let server = server();
    let ok =
        b"POST /text HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let reply = exchange(server.local_addr(), ok);
    assert!(reply.ends_with("\r\n\r\nHELLO"), "{reply}");
    let bad =
        b"POST /text HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\n\xff\xfe";
    let reply = exchange(server.local_addr(), bad);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    // The service's answer (`/text` says the error), for not being UTF-8.
    assert!(
        reply
            .ends_with("\r\n\r\nbody is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0"),
        "{reply}"
    );
    let long = format!(
        "POST /text HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{}",
        "a".repeat(17)
    );
    let reply = exchange(server.local_addr(), long.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("body larger than 16 bytes"), "{reply}");
    // The limit itself is within it; past it without a length, as it comes.
    let exact = format!(
        "POST /text HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{}",
        "a".repeat(16)
    );
    let reply = exchange(server.local_addr(), exact.as_bytes());
    assert!(
        reply.ends_with(&format!("\r\n\r\n{}", "A".repeat(16))),
        "{reply}"
    );
    let chunked = b"POST /text HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\naaaaaaaaaaaaaaaa\r\n1\r\na\r\n0\r\n\r\n";
    let reply = exchange(server.local_addr(), chunked);
    assert!(reply.contains("body larger than 16 bytes"), "{reply}");
    server.shutdown();
}

/// A body whose `Content-Length` is already past the limit a service
/// collects it under is refused unread: without `100 Continue` to a client
/// that waits for one (before, it was invited, then refused once 16 bytes
/// had come), and at once to one that sends it (before, once the limit's
/// worth had come).
#[test]
fn a_body_declared_past_the_limit_is_refused_unread() {
    let server = server();
    let mut s = socket(server.local_addr());
    s.write_all(
        b"POST /text HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let reply = read_until(&mut s, "bytes");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(
        reply.ends_with("\r\n\r\nbody larger than 16 bytes"),
        "{reply}"
    );
    // Sent with only its first bytes, and the rest never: answered all the same.
    let mut s = socket(server.local_addr());
    s.write_all(b"POST /text HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nabc")
        .unwrap();
    let reply = read_until(&mut s, "bytes");
    assert!(
        reply.ends_with("\r\n\r\nbody larger than 16 bytes"),
        "{reply}"
    );
    server.shutdown();
}

/// A service whose response does not wait for its request body, read
/// meanwhile by a task of its own: a client that sends its whole body
/// before it reads (as simple clients do) gets the response whole. While
/// the response's batches wait to go out (the client reads nothing yet),
/// the driver goes on feeding the body to that task, or each side would
/// wait on the other until the write timeout.
#[test]
fn a_response_going_out_in_small_pieces_lets_the_body_be_read_meanwhile() {
    use std::io::Read;
    // More than loopback's socket buffers hold on both sides, so the body
    // cannot all go out unread.
    const BODY: usize = 16 << 20;
    const PIECES: usize = 4096;
    const PIECE: usize = 1024;
    async fn independent(request: lithe::io::Request) -> lithe::io::Response {
        let body = request.into_body();
        // What it gets depends on what the response leaves it: the body
        // is abandoned once the response has gone out.
        std::thread::spawn(move || lithe::rt::block_on(body.bytes(BODY)));
        let pieces = futures_lite::stream::iter(
            (0..PIECES).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'r'; PIECE]))),
        );
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(
            lithe::io::Body::sized_stream((PIECES * PIECE) as u64, pieces),
        )
    }
    let config = ServerConfig {
        write_timeout: Some(Duration::from_secs(10)),
        ..ServerConfig::default()
    };
    let server = server_with(independent, config);
    // A small receive window on our side, so that the response cannot wait
    // in our socket's buffer while we send, whatever the host's defaults.
    let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    client.set_recv_buffer_size(16 << 10).unwrap();
    client.connect(&server.local_addr().into()).unwrap();
    let mut s = std::net::TcpStream::from(client);
    s.set_write_timeout(Some(LIMIT)).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: {BODY}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let started = Instant::now();
    s.write_all(&vec![b'q'; BODY]).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let head_end = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(reply.len() - head_end, PIECES * PIECE);
    // Well within the write timeout, which would end a deadlock.
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    server.shutdown();
}

#[test]
fn a_large_response_waits_for_a_client_that_pauses_and_arrives_whole() {
    let server = server();
    let mut s = socket(server.local_addr());
    s.write_all(b"GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    // The socket buffers fill and the server's writes block until we read.
    std::thread::sleep(Duration::from_millis(300));
    let reply = read_to_close(&mut s);
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body.len(), 32 << 20);
    assert!(body.bytes().all(|b| b == b'b'));
    server.shutdown();
}

/// A connection handed to the service by a protocol switch no longer
/// counts against its worker's `max_connections`: a tunnel held open does
/// not keep the next client waiting.
#[test]
fn an_upgraded_connection_holds_no_connection_slot() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(Some(released)));
    let service = move |mut request: lithe::io::Request| {
        let response = match request.upgrade() {
            Some(on_upgrade) => {
                let released = released.lock().unwrap().take().expect("one tunnel");
                std::thread::spawn(move || {
                    lithe::rt::block_on(async move {
                        let mut io = on_upgrade.await.unwrap();
                        let mut buf = [0u8; 4];
                        io.read_exact(&mut buf).await.unwrap();
                        io.write_all(b"pong").await.unwrap();
                        io.flush().await.unwrap();
                        // Held open until the test is done.
                        let _ = released.recv_timeout(LIMIT);
                    })
                });
                lithe::io::Response::new(lithe::proto::StatusCode::OK)
            }
            None => lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("next"),
        };
        async { response }
    };
    let serve = one_worker_limited_to(1);
    let server = lithe::rt::Server::bind("127.0.0.1:0", service, serve).expect("bind");
    let mut tunnel = socket(server.local_addr());
    tunnel
        .write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nping")
        .unwrap();
    assert!(read_until(&mut tunnel, "pong").ends_with("\r\n\r\npong"));
    let started = Instant::now();
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.ends_with("next"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let _ = release.send(());
    server.shutdown();
}

#[test]
fn an_upgraded_connection_outlives_the_server_that_accepted_it() {
    // Idle at the shutdown, or parked in a read that only the peer's next
    // bytes end (the worker's own poller, which would have woken it, is gone).
    for reading_at_shutdown in [false, true] {
        an_upgraded_connection_outlives_its_server(reading_at_shutdown);
    }
}

fn an_upgraded_connection_outlives_its_server(reading_at_shutdown: bool) {
    let (tunnel, shut_down) = tunnel_outliving_its_server(reading_at_shutdown);
    let server = server_with(tunnel, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nping")
        .unwrap();
    let reply = read_until(&mut s, "pong");
    assert_eq!(without_date(&reply), "HTTP/1.1 200 OK\r\n\r\npong");
    if reading_at_shutdown {
        // Time for the tunnel to be parked in its read.
        std::thread::sleep(Duration::from_millis(100));
    }
    server.shutdown();
    let _ = shut_down.send(());
    s.write_all(b"again").unwrap();
    assert_eq!(read_until(&mut s, "still"), "still");
}

#[test]
fn a_service_made_per_connection_knows_the_client_address() {
    use lithe::rt::{ServeConfig, Server};
    let server = Server::bind_per_connection(
        "127.0.0.1:0",
        |client: std::net::SocketAddr| {
            move |_: lithe::io::Request| async move {
                lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(client.to_string())
            }
        },
        ServeConfig {
            threads: 1,
            ..ServeConfig::default()
        },
    )
    .unwrap();
    for _ in 0..2 {
        let mut s = socket(server.local_addr());
        let ours = s.local_addr().unwrap().to_string();
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .unwrap();
        let reply = read_to_close(&mut s);
        assert!(
            reply.ends_with(&format!("\r\n\r\n{ours}")),
            "{ours}: {reply}"
        );
    }
    server.shutdown();
}

#[test]
fn an_absolute_form_target_names_the_host_over_the_host_field() {
    // RFC 9112 §3.2.2: the target's authority, not Host, says which host.
    let echo_host = |request: lithe::io::Request| async move {
        let host = request.host().unwrap_or("none").to_string();
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(host)
    };
    let server = server_with(echo_host, ServerConfig::default());
    let cases: [(&[u8], &str); 4] = [
        (
            b"GET http://example.org/x HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n",
            "example.org",
        ),
        (
            b"GET /x HTTP/1.1\r\nHost: h:8080\r\nConnection: close\r\n\r\n",
            "h:8080",
        ),
        // A URL in the query of an origin-form target names nothing.
        (
            b"GET /x?next=http://evil/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            "h",
        ),
        // Nor does a path that begins with two slashes: it is no
        // network-path reference (RFC 9112 §3.2.1).
        (
            b"GET //evil/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            "h",
        ),
    ];
    for (request, host) in cases {
        let reply = exchange(server.local_addr(), request);
        assert!(reply.ends_with(&format!("\r\n\r\n{host}")), "{reply}");
    }
    server.shutdown();
}

/// A panic making a connection's service loses that connection, not the
/// worker, and frees its slot: a worker with room for one serves the next.
#[test]
fn a_panic_making_a_connections_service_loses_that_connection_only() {
    use lithe::rt::{ServeConfig, Server};
    use std::sync::atomic::{AtomicBool, Ordering};
    static PANICKED: AtomicBool = AtomicBool::new(false);
    let server = Server::bind_per_connection(
        "127.0.0.1:0",
        |_: std::net::SocketAddr| {
            if !PANICKED.swap(true, Ordering::Relaxed) {
                panic!("the first connection's service cannot be made");
            }
            |_: lithe::io::Request| async {
                lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("made")
            }
        },
        // Room for one: the lost connection's slot must be freed.
        ServeConfig {
            threads: 1,
            max_connections: 1,
            ..ServeConfig::default()
        },
    )
    .unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let mut s = socket(server.local_addr());
    s.write_all(request).unwrap();
    let mut lost = Vec::new();
    // Closed unanswered: at once, or reset as the request went unread (a
    // connection left open would end in the read timeout instead).
    match std::io::Read::read_to_end(&mut s, &mut lost) {
        Ok(n) => assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&lost)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    // The one worker still serves, in the slot the panic left.
    let reply = exchange(server.local_addr(), request);
    assert!(reply.ends_with("\r\n\r\nmade"), "{reply}");
    server.shutdown();
}

/// A tunnel's `close` ends its sending side alone: the client reads the
/// end of the stream (a FIN) and can still send, and the tunnel reads what
/// it sends after.
#[test]
fn closing_a_tunnel_half_closes_it() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Request, Response};
    use std::sync::{Arc, Mutex, mpsc};
    let (heard, what_it_heard) = mpsc::channel();
    let heard = Arc::new(Mutex::new(Some(heard)));
    let tunnel = move |mut request: Request| {
        let on_upgrade = request.upgrade().expect("CONNECT proposes a switch");
        let heard = heard.lock().unwrap().take().expect("one tunnel");
        std::thread::spawn(move || {
            let after = lithe::rt::block_on(async move {
                let mut io = on_upgrade.await.unwrap();
                io.write_all(b"bye").await.unwrap();
                io.close().await.unwrap();
                let mut after = [0u8; 5];
                io.read_exact(&mut after).await.map(|()| after)
            });
            let _ = heard.send(after.map(|after| after.to_vec()));
        });
        std::future::ready(Response::new(lithe::proto::StatusCode::OK))
    };
    let server = server_with(tunnel, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nbye"), "{reply}");
    s.write_all(b"after").unwrap();
    let heard = what_it_heard.recv_timeout(LIMIT).unwrap();
    assert_eq!(heard.unwrap(), b"after");
    server.shutdown();
}

/// A client that ends its sending side right after its CONNECT (allowed by
/// `half_close`, the default) still gets the 2xx, and a tunnel that reads
/// the end at once and can still write to it, though the driver saw the
/// end while the service took its time.
#[test]
fn a_connect_half_closed_by_its_client_is_still_tunnelled() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Request, Response};
    let tunnel = |mut request: Request| {
        let on_upgrade = request.upgrade().expect("CONNECT proposes a switch");
        std::thread::spawn(move || {
            lithe::rt::block_on(async move {
                let mut io = on_upgrade.await.unwrap();
                let mut rest = Vec::new();
                io.read_to_end(&mut rest).await.unwrap();
                io.write_all(format!("read {} then pong", rest.len()).as_bytes())
                    .await
                    .unwrap();
                io.close().await.unwrap();
            })
        });
        async {
            async_io::Timer::after(Duration::from_millis(100)).await;
            Response::new(lithe::proto::StatusCode::OK)
        }
    };
    let server = server_with(tunnel, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nread 0 then pong"), "{reply}");
    server.shutdown();
}

/// A tunnel polled from another executor whose waker panics when woken (a
/// broken executor's): the worker that watches the tunnel's socket wakes it
/// when the peer sends, and that panic costs the tunnel its wakeup, not the
/// worker and every connection on it.
#[test]
#[cfg(target_os = "linux")]
fn a_panicking_waker_on_a_tunnel_does_not_end_its_worker() {
    use futures_lite::AsyncRead;
    use lithe::io::{Request, Response};
    use lithe::rt::{ServeConfig, Server};
    use std::sync::{Arc, Mutex, mpsc};
    static WOKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    struct PanicsOnWake;
    impl std::task::Wake for PanicsOnWake {
        fn wake(self: Arc<Self>) {
            WOKEN.store(true, std::sync::atomic::Ordering::SeqCst);
            panic!("this waker panics");
        }
    }
    let (polled, was_polled) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let handed = Arc::new(Mutex::new(Some((polled, released))));
    let tunnel = move |mut request: Request| {
        let Some(on_upgrade) = request.upgrade() else {
            return std::future::ready(Response::new(lithe::proto::StatusCode::OK));
        };
        let (polled, released) = handed.lock().unwrap().take().expect("one tunnel");
        std::thread::spawn(move || {
            let mut io = lithe::rt::block_on(on_upgrade).unwrap();
            let waker = std::task::Waker::from(Arc::new(PanicsOnWake));
            let mut cx = std::task::Context::from_waker(&waker);
            let read = std::pin::Pin::new(&mut io).poll_read(&mut cx, &mut [0u8; 1]);
            let _ = polled.send(read.is_pending());
            // The tunnel stays open, its waker registered, until the end.
            let _ = released.recv_timeout(LIMIT);
        });
        std::future::ready(Response::new(lithe::proto::StatusCode::OK))
    };
    let config = ServeConfig {
        threads: 1,
        ..ServeConfig::default()
    };
    let server = Server::bind("127.0.0.1:0", tunnel, config).expect("bind");
    let mut s = socket(server.local_addr());
    s.write_all(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")
        .unwrap();
    let head = read_until(&mut s, "\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(was_polled.recv_timeout(LIMIT), Ok(true), "the read waits");
    // The byte the panicking waker is woken for.
    s.write_all(b"x").unwrap();
    // The worker has woken it (and met its panic) before it serves anew.
    wait_until(&WOKEN, "never woken");
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    let _ = release.send(());
    drop(s);
    server.shutdown();
}

/// A child process a service starts (a CGI-style handler, a tool it runs)
/// inherits none of the server's descriptors: not its listener (shared or
/// one per worker), the connection, or the worker's epoll and eventfd. An
/// inherited listener would go on accepting connections on the port after
/// the server has shut down, for as long as the child runs.
#[test]
#[cfg(target_os = "linux")]
fn a_child_process_of_a_service_inherits_no_descriptor_of_the_server() {
    use lithe::io::{Request, Response};
    use lithe::rt::{ServeConfig, Server};
    use std::process::{Command, Stdio};
    for reuse_port in [false, true] {
        let (started, child) = std::sync::mpsc::channel();
        let service = move |_: Request| {
            let spawned = Command::new("sleep")
                .arg("30")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sleep runs");
            let _ = started.send(spawned);
            std::future::ready(Response::new(lithe::proto::StatusCode::OK))
        };
        let config = ServeConfig {
            threads: 2,
            reuse_port,
            ..ServeConfig::default()
        };
        let server = Server::bind("127.0.0.1:0", service, config).expect("bind");
        let reply = exchange(
            server.local_addr(),
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        let mut child = child.recv_timeout(LIMIT).unwrap();
        // `spawn` returns once the child has run `sleep`: its descriptors
        // are the ones it keeps for good.
        let inherited: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
            .expect("the child's descriptors")
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .map(|target| target.to_string_lossy().into_owned())
            .filter(|target| target.starts_with("socket:") || target.starts_with("anon_inode:"))
            .collect();
        let _ = child.kill();
        let _ = child.wait();
        server.shutdown();
        assert!(
            inherited.is_empty(),
            "reuse_port {reuse_port}: {inherited:?}"
        );
    }
}

#[test]
fn reuse_port_workers_share_one_port_and_answer_every_connection() {
    // Each answer names the worker thread that served it.
    async fn which_worker(_: lithe::io::Request) -> lithe::io::Response {
        let worker = format!("{:?}", std::thread::current().id());
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(worker)
    }
    let config = lithe::rt::ServeConfig {
        threads: 2,
        reuse_port: true,
        shutdown_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", which_worker, config).expect("bind");
    assert_ne!(server.local_addr().port(), 0);
    let mut workers = std::collections::BTreeSet::new();
    for _ in 0..32 {
        let reply = exchange(
            server.local_addr(),
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        let (head, worker) = reply.split_once("\r\n\r\n").expect("a whole response");
        assert!(head.starts_with("HTTP/1.1 200 OK"), "{reply}");
        workers.insert(worker.to_owned());
    }
    // The kernel spreads connections over both listeners by their addresses:
    // one worker taking all 32 has odds of one in two billion.
    assert_eq!(workers.len(), 2, "{workers:?}");
    server.shutdown();
}

/// An address that does not bind (one not on this host, as `::1` is on a
/// host without IPv6) gives way to the next the name resolved to, with
/// `reuse_port` as without it.
#[test]
fn bind_tries_each_address_until_one_binds() {
    let addrs = [
        std::net::SocketAddr::from(([192, 0, 2, 1], 0)),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    ];
    for reuse_port in [false, true] {
        let config = lithe::rt::ServeConfig {
            threads: 2,
            reuse_port,
            shutdown_timeout: Duration::from_secs(2),
            ..Default::default()
        };
        let server = lithe::rt::Server::bind(&addrs[..], routes, config).expect("bind");
        assert!(server.local_addr().ip().is_loopback(), "{reuse_port}");
        let reply = exchange(
            server.local_addr(),
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        assert!(reply.ends_with("Hello, World!"), "{reuse_port}: {reply}");
        server.shutdown();
    }
}

#[test]
fn the_target_survives_the_service_replacing_the_headers() {
    // A received request's target is read from the head its headers keep;
    // replacing the headers whole must not take the target with them.
    async fn replace_headers(mut request: lithe::io::Request) -> lithe::io::Response {
        let before = format!("{} {}", request.target(), request.path());
        *request.headers_mut() = lithe::io::Headers::new();
        request.headers_mut().append("x-new", "1");
        let after = format!("{} {}", request.target(), request.path());
        let fields = format!(
            "{:?} {:?}",
            request.headers().get_str("x-new"),
            request.headers().get_str("host")
        );
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(format!("{before} | {after} | {fields} | {request:?}"))
    }
    let server = server_with(replace_headers, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"GET /a/b?c=d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(
        body.starts_with("/a/b?c=d /a/b | /a/b?c=d /a/b | Some(\"1\") None | Request {"),
        "{reply}"
    );
    assert!(body.contains("target: \"/a/b?c=d\""), "{reply}");
    server.shutdown();
}

#[test]
fn trailer_sections_are_read_up_to_the_header_limit() {
    // The body's length, then each trailer field as `name=value`, in order.
    async fn trailers(request: lithe::io::Request) -> lithe::io::Response {
        let mut body = request.into_body();
        let mut length = 0;
        while let Some(piece) = body.chunk().await.unwrap() {
            length += piece.len();
        }
        let fields: Vec<String> = body
            .trailers()
            .unwrap_or_default()
            .iter()
            .map(|(name, value)| format!("{name}={}", String::from_utf8_lossy(value)))
            .collect();
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(format!("got {length} bytes;{}", fields.join(" ")))
    }
    let server = server_with(trailers, ServerConfig::default());
    let with_trailers = |count: usize| {
        let mut request = String::from(
            "POST /collect HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n3\r\nabc\r\n0\r\n",
        );
        for i in 0..count {
            request.push_str(&format!("T-{i}: {i}\r\n"));
        }
        request.push_str("\r\n");
        exchange(server.local_addr(), request.as_bytes())
    };
    // None, one, and more than fit the drivers' former 32-entry array.
    for count in [0, 1, 40, 100] {
        let reply = with_trailers(count);
        assert!(reply.starts_with("HTTP/1.1 200"), "{count}: {reply}");
        let fields: Vec<String> = (0..count).map(|i| format!("T-{i}={i}")).collect();
        let expected = format!("\r\n\r\ngot 3 bytes;{}", fields.join(" "));
        assert!(reply.ends_with(&expected), "{count}: {reply}");
    }
    // Past the default limit of 100 fields: the body is an error, answered
    // as a head with too many fields would be.
    let reply = with_trailers(101);
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    assert!(reply.contains("too many header fields"), "{reply}");
    server.shutdown();
}

/// What the client does once it has sent what the shutdown finds.
#[derive(Clone, Copy)]
enum Then {
    /// Ends its side before the shutdown begins.
    EndsItsSide,
    /// Sends nothing more.
    Waits,
    /// Sends these bytes as the shutdown begins.
    Sends(&'static [u8]),
}

/// Serves one request on a real socket with the driver polled by hand, then
/// has the client send `next` (and do `then`) and the shutdown begin before
/// the driver sees any of it: the order under test. Returns what the client
/// reads after the first answer, or the error that read ends in.
fn after_a_shutdown_that_finds(next: &[u8], then: Then) -> std::io::Result<String> {
    use lithe::io::{Shutdown, serve_connection_until};
    use std::io::Read;
    use std::task::{Context, Waker};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = socket(listener.local_addr().unwrap());
    let (accepted, _) = listener.accept().unwrap();
    // The server's socket, to see when the second request has reached it.
    let probe = accepted.try_clone().unwrap();
    let shutdown = Shutdown::new();
    let config = ServerConfig::default();
    let io = async_io::Async::new(accepted).unwrap();
    let mut driver = Box::pin(serve_connection_until(io, routes, &config, &shutdown));
    let mut cx = Context::from_waker(Waker::noop());
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    client.set_nonblocking(true).unwrap();
    let started = Instant::now();
    let mut first = Vec::new();
    while !first.ends_with(b"Hello, World!") {
        assert!(started.elapsed() < LIMIT, "no answer");
        assert!(driver.as_mut().poll(&mut cx).is_pending());
        let mut buf = [0u8; 1024];
        match client.read(&mut buf) {
            Ok(n) => first.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("{e}"),
        }
    }
    client.set_nonblocking(false).unwrap();
    client.write_all(next).unwrap();
    if let Then::EndsItsSide = then {
        client.shutdown(std::net::Shutdown::Write).unwrap();
    }
    // Loopback delivery can lag the write on a loaded machine: the shutdown
    // begins once the bytes are there to be read.
    let mut seen = vec![0u8; next.len()];
    while probe.peek(&mut seen).unwrap_or(0) < next.len() {
        assert!(
            started.elapsed() < LIMIT,
            "the second request never arrived"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // A descriptor of the socket left open would keep it from closing.
    drop(probe);
    shutdown.trigger();
    if let Then::Sends(rest) = then {
        client.write_all(rest).unwrap();
    }
    run(driver).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest)?;
    Ok(String::from_utf8_lossy(&rest).into_owned())
}

/// A transport whose peer, once `flooding` is set, has endless bytes of a
/// head with no line end ready at every read (up to `FLOOD`, then it ends
/// its side); before that, one request, then nothing. It records what the
/// server read before it first wrote after the flood began, and what it
/// wrote.
struct FloodAtShutdown {
    request: Option<&'static [u8]>,
    flooding: std::sync::Arc<std::sync::atomic::AtomicBool>,
    seen: std::sync::Arc<std::sync::Mutex<FloodSeen>>,
}

#[derive(Default)]
struct FloodSeen {
    read: usize,
    read_when_answered: Option<usize>,
    written: Vec<u8>,
}

const FLOOD: usize = 8 << 20;

impl futures_lite::AsyncRead for FloodAtShutdown {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::sync::atomic::Ordering;
        use std::task::Poll;
        if let Some(request) = self.request.take() {
            buf[..request.len()].copy_from_slice(request);
            return Poll::Ready(Ok(request.len()));
        }
        if !self.flooding.load(Ordering::SeqCst) {
            // The test polls the driver again once it sets the flag.
            return Poll::Pending;
        }
        let mut seen = self.seen.lock().unwrap();
        let n = buf.len().min(FLOOD - seen.read);
        buf[..n].fill(b'x');
        seen.read += n;
        Poll::Ready(Ok(n))
    }
}

impl futures_lite::AsyncWrite for FloodAtShutdown {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut seen = self.seen.lock().unwrap();
        if seen.read > 0 && seen.read_when_answered.is_none() {
            seen.read_when_answered = Some(seen.read);
        }
        seen.written.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    nothing_to_flush!();
}

/// A shutdown (or a worker making room) takes in what an idle connection
/// has ready, to serve a request already sent; a peer that floods it then
/// is read no further than about the head limit before its head is
/// refused, not for as long as its bytes stay ready (which would also hold
/// the thread: those reads do not wait).
#[test]
fn a_shutdown_reads_no_further_than_the_head_limit_from_a_flooding_peer() {
    use lithe::io::{Shutdown, serve_connection_until};
    use std::sync::atomic::Ordering;
    use std::task::{Context, Waker};
    for close_idle in [false, true] {
        let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(FloodSeen::default()));
        let transport = FloodAtShutdown {
            request: Some(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            flooding: flooding.clone(),
            seen: seen.clone(),
        };
        let shutdown = Shutdown::new();
        let config = ServerConfig::default();
        let head_limit = config.proto.limits.max_head_bytes;
        let mut driver = Box::pin(serve_connection_until(
            transport, routes, &config, &shutdown,
        ));
        let mut cx = Context::from_waker(Waker::noop());
        // Served, and parked waiting for the next request.
        assert!(driver.as_mut().poll(&mut cx).is_pending());
        flooding.store(true, Ordering::SeqCst);
        match close_idle {
            false => shutdown.trigger(),
            true => shutdown.close_idle(),
        }
        run(driver).unwrap();
        let seen = seen.lock().unwrap();
        let written = String::from_utf8_lossy(&seen.written).into_owned();
        let (first, refusal) = written.split_at(written.find("Hello, World!").unwrap() + 13);
        assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{written}");
        assert!(refusal.starts_with("HTTP/1.1 4"), "{close_idle}: {refusal}");
        let read = seen.read_when_answered.expect("an answer to the flood");
        assert!(
            read <= 2 * head_limit + (16 << 10),
            "{close_idle}: read {read}"
        );
    }
}

/// A whole request that was on its way when the shutdown began (the client
/// could not know) is served, as the connection's last.
#[test]
fn a_shutdown_serves_a_request_already_sent_as_the_last() {
    // A small head, and one larger than a read between requests takes.
    let large = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: {}\r\n\r\n",
        "c".repeat(3000)
    );
    for next in [&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..], large.as_bytes()] {
        let rest = after_a_shutdown_that_finds(next, Then::EndsItsSide).unwrap();
        assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
        assert!(rest.contains("connection: close\r\n"), "{rest}");
        assert!(rest.ends_with("Hello, World!"), "{rest}");
    }
}

/// The same on a server's worker, whose connections skip the first read
/// that finds no readiness after a short one: a request that reached the
/// socket while the worker was busy (a service blocking it), so before the
/// worker could poll epoll for it, is read and served when the shutdown
/// wakes its parked connection, not closed over (a reset, the request
/// lost). The connection busy with the blocking request finishes it as its
/// last, which its answer says (`Connection: close`: the client retries
/// what it sent after), and is not reset over what it sent after.
#[test]
fn a_shutdown_serves_a_request_its_busy_worker_has_not_polled_for() {
    let (started, blocking) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(released));
    let service = move |request: lithe::io::Request| {
        let (started, released) = (started.clone(), released.clone());
        async move {
            if request.path() == "/say/blocked" {
                let _ = started.send(());
                // Blocks the worker until the test has sent the next requests
                // and begun the shutdown.
                let _ = released.lock().unwrap().recv_timeout(LIMIT);
            }
            routes(request).await
        }
    };
    let server = server_with(service, ServerConfig::default());
    let addr = server.local_addr();
    let mut parked = served_once(addr);
    let mut busy = socket(addr);
    busy.write_all(b"GET /say/blocked HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    // The worker (the only one) is inside the service until released. Both
    // connections send their next request meanwhile.
    blocking.recv_timeout(LIMIT).unwrap();
    for s in [&mut parked, &mut busy] {
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    }
    let signal = server.shutdown_signal();
    signal.trigger();
    // A moment for loopback to deliver those requests, then the worker goes on.
    std::thread::sleep(Duration::from_millis(50));
    release.send(()).unwrap();
    let reply = read_to_close(&mut parked);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert!(reply.ends_with("Hello, World!"), "{reply}");
    let reply = read_to_close(&mut busy);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 1, "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert!(reply.ends_with("blocked"), "{reply}");
    server.wait();
}

/// Part of a request, there when the shutdown began, gets the shutdown's
/// grace to come whole; a client that ended its side there is answered 400,
/// as without a shutdown, and the connection closes cleanly: closed over
/// unread bytes, the kernel would reset it, which may destroy answers the
/// client has not read yet.
#[test]
fn a_shutdown_answers_part_of_a_request_then_closes_cleanly() {
    let rest = after_a_shutdown_that_finds(b"GET / HTTP/1.1\r\nHo", Then::EndsItsSide)
        .expect("a clean close");
    assert!(rest.starts_with("HTTP/1.1 400 "), "{rest}");
}

/// Part of a request, there when the shutdown began, gets the grace: served
/// as the last if the rest follows within it, answered 408 if not.
#[test]
fn a_shutdown_gives_part_of_a_request_found_the_grace() {
    let part = b"GET / HTTP/1.1\r\nHo";
    let rest =
        after_a_shutdown_that_finds(part, Then::Sends(b"st: a\r\n\r\n")).expect("a clean close");
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(rest.contains("connection: close\r\n"), "{rest}");
    assert!(rest.ends_with("Hello, World!"), "{rest}");
    let rest = after_a_shutdown_that_finds(part, Then::Waits).expect("a clean close");
    assert!(rest.starts_with("HTTP/1.1 408 "), "{rest}");
}

/// An upgrade that did not happen resolves to `NotUpgraded`, and stays
/// resolved: polled again (a `select!` loop might), it does not hang.
#[test]
fn an_upgrade_refused_resolves_to_not_upgraded_however_often_polled() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Error, OnUpgrade, Request, Response, duplex, serve_connection};
    use std::sync::{Arc, Mutex};
    let taken: Arc<Mutex<Option<OnUpgrade>>> = Arc::default();
    let slot = taken.clone();
    // Takes the upgrade, then answers without switching.
    let service = move |mut request: Request| {
        *slot.lock().unwrap() = request.upgrade();
        async { Response::new(lithe::proto::StatusCode::OK).with_body("no") }
    };
    let (server_end, mut client_end) = duplex(4096);
    run(async {
        let config = ServerConfig::default();
        let served = serve_connection(server_end, service, &config);
        let client = async {
            client_end
                .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\nUpgrade: x\r\n\r\n")
                .await
                .unwrap();
            // Nothing more to send: the server need not wait for more.
            client_end.close().await.unwrap();
            let mut reply = Vec::new();
            client_end.read_to_end(&mut reply).await.unwrap();
            assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"));
        };
        futures_lite::future::zip(served, client).await.0.unwrap();
    });
    let mut on_upgrade = taken
        .lock()
        .unwrap()
        .take()
        .expect("the request proposed a switch");
    for _ in 0..2 {
        let polled =
            futures_lite::future::block_on(futures_lite::future::poll_once(&mut on_upgrade));
        assert!(
            matches!(polled, Some(Err(Error::NotUpgraded))),
            "{polled:?}"
        );
    }
}

/// An upgrade taken but not granted resolves once the response is written,
/// not once the exchange is over: here the request's body is left unread
/// and its rest held back, so the drain after the response waits on it.
#[test]
fn an_upgrade_refused_resolves_once_the_response_is_written() {
    use futures_lite::AsyncWriteExt;
    use lithe::io::{Error, Request, Response, duplex, serve_connection};
    let (resolved_tx, resolved) = std::sync::mpsc::channel();
    let service = move |mut request: Request| {
        let on_upgrade = request.upgrade().expect("the request proposes a switch");
        let resolved_tx = resolved_tx.clone();
        std::thread::spawn(move || {
            let outcome = futures_lite::future::block_on(on_upgrade);
            let _ = resolved_tx.send(matches!(outcome, Err(Error::NotUpgraded)));
        });
        async { Response::new(lithe::proto::StatusCode::OK).with_body("no") }
    };
    let (server_end, mut client_end) = duplex(4096);
    run(async {
        let config = ServerConfig::default();
        let served = serve_connection(server_end, service, &config);
        let client = async {
            client_end
                .write_all(
                    b"POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\
                      Content-Length: 10\r\n\r\nhello",
                )
                .await
                .unwrap();
            let head = read_head(&mut client_end).await;
            assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
            // The drain waits for the other five bytes, held back until the
            // upgrade has resolved.
            let resolved = smol::unblock(move || resolved.recv_timeout(LIMIT / 2)).await;
            assert_eq!(resolved, Ok(true));
            client_end.write_all(b"world").await.unwrap();
            client_end.close().await.unwrap();
        };
        futures_lite::future::zip(served, client).await.0.unwrap();
    });
}

/// A 101 may switch only to a protocol the request offered (RFC 9110 §7.8),
/// compared without regard to case: one naming another is the service's
/// mistake, answered 500.
#[test]
fn a_switch_to_a_protocol_not_offered_is_answered_500() {
    use lithe::io::{Request, Response};
    async fn to_h2c(mut request: Request) -> Response {
        let _ = request.upgrade();
        let protocol = request.target().trim_start_matches('/').to_string();
        Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
            .with_header("connection", "upgrade")
            .with_header("upgrade", protocol)
    }
    let server = server_with(to_h2c, ServerConfig::default());
    let offer = "Connection: upgrade\r\nUpgrade: h2c, WebSocket\r\n\r\n";
    for (target, switched) in [("h2c", true), ("websocket", true), ("h3", false)] {
        let mut s = socket(server.local_addr());
        let request = format!("GET /{target} HTTP/1.1\r\nHost: a\r\n{offer}");
        s.write_all(request.as_bytes()).unwrap();
        let head = read_until(&mut s, "\r\n\r\n");
        let status = match switched {
            true => "HTTP/1.1 101 Switching Protocols\r\n",
            false => "HTTP/1.1 500 Internal Server Error\r\n",
        };
        assert!(head.starts_with(status), "{target}: {head}");
    }
    server.shutdown();
}

/// A 101 the driver refuses (to a protocol not offered, or naming none)
/// is answered 500 at once, though the request's body is not all in: only a
/// switch that can go out waits for the body to end. Held for a body the
/// client has not finished sending, the refusal would come only after it.
#[test]
fn a_switch_refused_during_a_request_body_is_answered_without_waiting_for_it() {
    use lithe::io::{Request, Response};
    async fn switch(request: Request) -> Response {
        let response = Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
            .with_header("connection", "upgrade");
        match request.path() {
            "/unoffered" => response.with_header("upgrade", "h3"),
            _ => response,
        }
    }
    let server = server_with(switch, ServerConfig::default());
    for target in ["/unoffered", "/unnamed"] {
        let mut s = socket(server.local_addr());
        // Half the declared body: the rest is never sent.
        let request = format!(
            "POST {target} HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\
             Upgrade: websocket\r\nContent-Length: 10\r\n\r\nhello"
        );
        s.write_all(request.as_bytes()).unwrap();
        let head = read_until(&mut s, "\r\n\r\n");
        assert!(
            head.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{target}: {head}"
        );
    }
    server.shutdown();
}

/// A 101 the driver cannot send (the request proposed no switch) becomes a
/// 500, which during a shutdown is the connection's last response, and
/// says so as every other does.
#[test]
fn a_500_in_place_of_a_switch_during_a_shutdown_says_close() {
    use futures_lite::AsyncWriteExt;
    use lithe::io::{Request, Response, Shutdown, duplex, serve_connection_until};
    let shutdown = Shutdown::new();
    let signal = shutdown.clone();
    let service = move |_: Request| {
        signal.trigger();
        async {
            Response::new(lithe::proto::StatusCode::SWITCHING_PROTOCOLS)
                .with_header("connection", "upgrade")
                .with_header("upgrade", "websocket")
        }
    };
    let (server_end, mut client_end) = duplex(4096);
    let head = run(async {
        let config = ServerConfig::default();
        let served = serve_connection_until(server_end, service, &config, &shutdown);
        let client = async {
            client_end
                .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                .await
                .unwrap();
            read_head(&mut client_end).await
        };
        futures_lite::future::zip(served, client).await.1
    });
    assert!(head.starts_with("HTTP/1.1 500 "), "{head}");
    assert!(head.contains("connection: close\r\n"), "{head}");
}

/// Trailers a response cannot carry (its body delimited by the close, to an
/// HTTP/1.0 client, or by a Content-Length field the service set) are left
/// out unawaited: the message ends with its data, not when (here, never) the
/// trailers' future resolves.
#[test]
fn trailers_left_out_are_not_waited_for() {
    use lithe::io::{Body, Headers, Request, Response};
    async fn never(request: Request) -> Response {
        let body = Body::from("data").with_trailers(std::future::pending::<Headers>());
        let response = Response::new(lithe::proto::StatusCode::OK);
        match request.path() {
            "/length" => response.with_header("content-length", "4").with_body(body),
            _ => response.with_body(body),
        }
    }
    let server = server_with(never, ServerConfig::default());
    let reply = exchange(server.local_addr(), b"GET / HTTP/1.0\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\ndata"), "{reply}");
    let reply = exchange(
        server.local_addr(),
        b"GET /length HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /length HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(count(&reply, "HTTP/1.1 200 OK"), 2, "{reply}");
    assert!(reply.ends_with("\r\n\r\ndata"), "{reply}");
    server.shutdown();
}

/// A close is added to the options the service named in its Connection
/// field, not put in their place: a field it declared hop-by-hop stays
/// declared so, for a proxy in front to strip (RFC 9110 §7.6.1). A
/// `keep-alive` it named is what the close contradicts, and goes, whether
/// the driver decides the close (an ignored upload past the drain limit) or
/// the request does (its own `close`, HTTP/1.0 without keep-alive, an answer
/// of unknown length that only the close can end).
#[test]
fn a_close_keeps_the_services_connection_options_but_keep_alive() {
    use lithe::io::{Body, Request, Response};
    use lithe::proto::StatusCode;
    async fn hop(request: Request) -> Response {
        let body = match request.target() {
            "/stream" => Body::stream(futures_lite::stream::once(Ok(bytes::Bytes::from_static(
                b"ok",
            )))),
            _ => Body::from("ok"),
        };
        Response::new(StatusCode::OK)
            .with_header("connection", "x-hop, keep-alive")
            .with_header("x-hop", "next hop only")
            .with_body(body)
    }
    let server = server_with(hop, ServerConfig::default());
    for request in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nabc"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ] {
        let reply = exchange(server.local_addr(), request);
        let connection: Vec<&str> = reply
            .lines()
            .filter(|line| line.to_ascii_lowercase().starts_with("connection:"))
            .collect();
        assert_eq!(connection, ["connection: x-hop, close"], "{reply}");
        assert!(reply.ends_with("\r\n\r\nok"), "{reply}");
    }
    server.shutdown();
}

/// A response that cannot be sent becomes a 500; if the service's said the
/// connection closes, so does the 500's (a request after it is not served).
#[test]
fn a_500_in_place_of_a_closing_response_still_closes() {
    use lithe::io::{Request, Response};
    use lithe::proto::StatusCode;
    async fn bad(_: Request) -> Response {
        Response::new(StatusCode::OK)
            .with_header("connection", "close")
            .with_header("content-length", "3")
            .with_body("hello")
    }
    let server = server_with(bad, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(count(&reply, "HTTP/1.1 500"), 1, "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    server.shutdown();
}

/// A service is offered an upgrade only where its `101` can be sent: an
/// `Upgrade` field alone, or in HTTP/1.0, proposes nothing (the switch would
/// be refused, and the `101` answered 500 instead).
#[test]
fn only_a_request_that_proposes_a_switch_offers_an_upgrade() {
    use lithe::io::{Request, Response};
    async fn offered(mut request: Request) -> Response {
        let offered = request.upgrade().is_some();
        Response::new(lithe::proto::StatusCode::OK).with_body(format!("offered: {offered}"))
    }
    let server = server_with(offered, ServerConfig::default());
    for (request, offered) in [
        (
            &b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\nUpgrade: x\r\n\r\n"[..],
            true,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nUpgrade: x\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
            false,
        ),
    ] {
        let reply = exchange(server.local_addr(), request);
        assert!(
            reply.ends_with(&format!("\r\n\r\noffered: {offered}")),
            "{reply}"
        );
    }
    server.shutdown();
}

/// A response body with trailers goes out chunked with them; toward an
/// HTTP/1.0 client (no chunked coding) and for fields a trailer section may
/// not hold, they are left out and the message still ends whole.
#[test]
fn trailers_are_sent_where_the_framing_and_the_fields_allow() {
    use lithe::io::{Body, Headers, Request, Response};
    async fn with_trailers(request: Request) -> Response {
        let forbidden = request.path() == "/forbidden";
        let body = Body::from("data").with_trailers(async move {
            let mut trailers = Headers::new();
            if forbidden {
                trailers.append("content-type", "text/plain");
            }
            trailers.append("checksum", "5f");
            trailers
        });
        Response::new(lithe::proto::StatusCode::OK).with_body(body)
    }
    let server = server_with(with_trailers, ServerConfig::default());
    let addr = server.local_addr();
    let reply = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.contains("transfer-encoding: chunked\r\n"), "{reply}");
    assert!(
        reply.ends_with("\r\n\r\n4\r\ndata\r\n0\r\nchecksum: 5f\r\n\r\n"),
        "{reply}"
    );
    let reply = exchange(
        addr,
        b"GET /forbidden HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    // The field that belongs in the header section is left out, not the other.
    assert!(
        reply.ends_with("\r\n\r\n4\r\ndata\r\n0\r\nchecksum: 5f\r\n\r\n"),
        "{reply}"
    );
    let reply = exchange(addr, b"GET / HTTP/1.0\r\n\r\n");
    assert!(!reply.contains("transfer-encoding"), "{reply}");
    assert!(reply.ends_with("\r\n\r\ndata"), "{reply}");
    server.shutdown();
}

/// A sized stream that goes out chunked, given trailers or under a
/// `Transfer-Encoding` field the service sets, is still held to its declared
/// length: a stream that yields fewer or more bytes leaves the message cut
/// short (no last chunk, no trailers), never a whole one.
#[test]
fn a_sized_stream_that_goes_chunked_is_held_to_its_length() {
    use lithe::io::{Body, Headers, Request, Response};
    async fn declared_five(request: Request) -> Response {
        let path = request.path();
        let yielded: &'static [u8] = match path.rsplit('/').next() {
            Some("short") => b"data",
            Some("long") => b"data plus",
            _ => b"five!",
        };
        let stream = futures_lite::stream::iter([Ok(bytes::Bytes::from_static(yielded))]);
        let body = Body::sized_stream(5, stream);
        let response = Response::new(lithe::proto::StatusCode::OK);
        match path.starts_with("/field") {
            true => response
                .with_header("transfer-encoding", "chunked")
                .with_body(body),
            false => response.with_body(body.with_trailers(async {
                let mut trailers = Headers::new();
                trailers.append("checksum", "5f");
                trailers
            })),
        }
    }
    let server = server_with(declared_five, ServerConfig::default());
    for (path, whole) in [
        ("/", true),
        ("/short", false),
        ("/long", false),
        ("/field/", true),
        ("/field/short", false),
        ("/field/long", false),
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let reply = exchange(server.local_addr(), request.as_bytes());
        assert!(reply.contains("transfer-encoding: chunked\r\n"), "{reply}");
        assert_eq!(reply.contains("\r\n0\r\n"), whole, "{path}: {reply}");
        if whole {
            let end = match path {
                "/" => "\r\n\r\n5\r\nfive!\r\n0\r\nchecksum: 5f\r\n\r\n",
                _ => "\r\n\r\n5\r\nfive!\r\n0\r\n\r\n",
            };
            assert!(reply.ends_with(end), "{reply}");
        }
    }
    server.shutdown();
}

/// A response body whose stream yields `first`, then panics.
fn panicking_after_a_piece() -> lithe::io::Body {
    use futures_lite::StreamExt;
    let pieces = futures_lite::stream::iter(0..2).map(|i| {
        if i == 1 {
            panic!("the body panicked (expected by this test)");
        }
        Ok(bytes::Bytes::from_static(b"first"))
    });
    lithe::io::Body::stream(pieces)
}

/// A service that panics before its future exists (in `call` itself), and a
/// response body whose stream panics, are answered like a service that
/// panics in its future: the answers pipelined before go out; the panicking
/// one is a 500, or a response cut short (no last chunk), and the connection
/// closes.
#[test]
fn panics_in_making_the_answer_or_its_body_lose_only_that_answer() {
    use lithe::io::{Request, Response};
    let service = |request: Request| {
        if request.path() == "/panic-in-call" {
            panic!("the service panicked in call (expected by this test)");
        }
        async move {
            match request.path() {
                "/panic-in-body" => {
                    Response::new(lithe::proto::StatusCode::OK).with_body(panicking_after_a_piece())
                }
                "/panic-in-trailers" => {
                    let body = lithe::io::Body::from("whole").with_trailers(async {
                        panic!("the trailers panicked (expected by this test)")
                    });
                    Response::new(lithe::proto::StatusCode::OK).with_body(body)
                }
                _ => routes(request).await,
            }
        }
    };
    let server = server_with(service, ServerConfig::default());
    // The answer to `path`, pipelined after one that goes well.
    let answer_after_hello = |path: &str| {
        let requests =
            format!("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        let reply = exchange(server.local_addr(), requests.as_bytes());
        let answers: Vec<&str> = reply.split("HTTP/1.1 ").skip(1).collect();
        assert_eq!(answers.len(), 2, "{reply}");
        assert!(answers[0].ends_with("Hello, World!"), "{reply}");
        answers[1].to_string()
    };
    let answer = answer_after_hello("/panic-in-call");
    assert!(answer.starts_with("500 "), "{answer}");
    assert!(answer.contains("connection: close\r\n"), "{answer}");

    let answer = answer_after_hello("/panic-in-body");
    assert!(answer.starts_with("200 "), "{answer}");
    assert!(
        answer.contains("transfer-encoding: chunked\r\n"),
        "{answer}"
    );
    // Cut short: the client sees no last chunk, so no whole message.
    assert!(!answer.ends_with("0\r\n\r\n"), "{answer}");

    // The data whole, the trailers' panic before the last chunk: cut short
    // all the same.
    let answer = answer_after_hello("/panic-in-trailers");
    assert!(answer.starts_with("200 "), "{answer}");
    assert!(answer.ends_with("\r\n5\r\nwhole\r\n"), "{answer}");
    server.shutdown();
}

/// A request body the client broke is answered with its fault's status even
/// when the service panics on the read's error (an `unwrap`), as when it
/// answers: the client is to blame, not the server.
#[test]
fn a_service_panicking_on_a_malformed_body_still_answers_its_4xx() {
    use lithe::io::{Request, Response};
    async fn unwrapping(request: Request) -> Response {
        let body = request
            .into_body()
            .bytes(1 << 20)
            .await
            .expect("a body (the client breaks it: expected by this test)");
        Response::new(lithe::proto::StatusCode::OK).with_body(body)
    }
    let server = server_with(unwrapping, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    assert!(
        reply.ends_with("\r\n\r\n400 Bad Request: invalid chunk size\n"),
        "{reply}"
    );
    server.shutdown();
}

/// A response cut short by its body's panic is an error of
/// `serve_connection`, as one cut short by a failing stream is; a panic
/// answered 500 is not.
#[test]
fn serve_connection_reports_a_response_a_panic_cut_short() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Request, Response, duplex, serve_connection};
    async fn panicking(request: Request) -> Response {
        if request.path() == "/in-service" {
            panic!("the service panicked (expected by this test)");
        }
        Response::new(lithe::proto::StatusCode::OK).with_body(panicking_after_a_piece())
    }
    for (path, cut_short) in [("/in-body", true), ("/in-service", false)] {
        let (server_end, mut client_end) = duplex(4096);
        let (served, reply) = run(async {
            let config = ServerConfig::default();
            let served = serve_connection(server_end, panicking, &config);
            let client = async {
                let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
                client_end.write_all(request.as_bytes()).await.unwrap();
                let mut reply = Vec::new();
                let _ = client_end.read_to_end(&mut reply).await;
                String::from_utf8_lossy(&reply).into_owned()
            };
            futures_lite::future::zip(served, client).await
        });
        assert_eq!(served.is_err(), cut_short, "{path}: {served:?} {reply}");
        let status = if cut_short { "200" } else { "500" };
        assert!(reply.starts_with(&format!("HTTP/1.1 {status} ")), "{reply}");
    }
}

/// The answer to a panic that cannot be written (a client that does not
/// read) is the write timeout's error, as for any answer.
#[test]
fn an_answer_to_a_panic_that_cannot_be_written_is_the_write_timeouts_error() {
    use futures_lite::AsyncWriteExt;
    use lithe::io::{Error, Request, Response, Timeout, duplex, serve_connection};
    async fn service(request: Request) -> Response {
        if request.path() == "/panic" {
            panic!("the service panicked (expected by this test)");
        }
        Response::new(lithe::proto::StatusCode::INTERNAL_SERVER_ERROR)
            .with_body("an answer longer than the pipe holds")
    }
    let config = ServerConfig {
        write_timeout: Some(Duration::from_millis(100)),
        ..ServerConfig::default()
    };
    for path in ["/panic", "/answer"] {
        // Far smaller than the answer, and never read.
        let (server_end, mut client_end) = duplex(16);
        let (served, _client_end) = run(async {
            let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
            let client = async {
                client_end.write_all(request.as_bytes()).await.unwrap();
                // Kept open, unread, until the server is done.
                client_end
            };
            futures_lite::future::zip(serve_connection(server_end, service, &config), client).await
        });
        assert!(
            matches!(served, Err(Error::Timeout(Timeout::Write))),
            "{path}: {served:?}"
        );
    }
}

/// Server timeouts of zero expire at the first wait on the client, as the
/// client's do: a head or a body that has to wait for more gets 408 at once,
/// and a response the client is not yet reading is given up at its first
/// blocked write. (In memory, the request's first bytes there before the
/// connection is served: a socket's would race the first read, which a
/// head timeout of zero also bounds.) Were zero no limit, each exchange
/// would wait for the rest, which never comes, until `run` gives up.
#[test]
fn zero_server_timeouts_expire_at_the_first_wait() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Error, Timeout, duplex, serve_connection};
    let zero = Some(Duration::ZERO);
    let cases = [
        (
            "head",
            ServerConfig {
                head_timeout: zero,
                ..ServerConfig::default()
            },
            &b"GET / HTTP/1.1\r\nHost: a\r\n"[..],
            "timed out reading a message head",
        ),
        (
            "body",
            ServerConfig {
                body_timeout: zero,
                ..ServerConfig::default()
            },
            &b"POST /collect HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"[..],
            "timed out reading a message body",
        ),
    ];
    for (which, config, request, why) in cases {
        let (server_end, mut client_end) = duplex(1 << 16);
        let (served, reply) = run(async {
            client_end.write_all(request).await.unwrap();
            let client = async {
                let mut reply = Vec::new();
                client_end.read_to_end(&mut reply).await.unwrap();
                // Dropped: the server's linger after its 408 sees the end.
                drop(client_end);
                String::from_utf8(reply).unwrap()
            };
            futures_lite::future::zip(serve_connection(server_end, routes, &config), client).await
        });
        assert!(
            reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{which}: {reply}"
        );
        assert!(
            reply.ends_with(&format!("408 Request Timeout: {why}\n")),
            "{which}: {reply}"
        );
        // A timeout answered is an end HTTP allows.
        assert!(served.is_ok(), "{which}: {served:?}");
    }

    let config = ServerConfig {
        write_timeout: zero,
        ..ServerConfig::default()
    };
    // Far smaller than /big's 32 MiB, and not read until the server is done.
    let (server_end, mut client_end) = duplex(1 << 10);
    let (served, reply) = run(async {
        client_end
            .write_all(b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        let (served, mut client_end) =
            futures_lite::future::zip(serve_connection(server_end, routes, &config), async {
                client_end
            })
            .await;
        let mut reply = Vec::new();
        client_end.read_to_end(&mut reply).await.unwrap();
        (served, reply)
    });
    assert!(
        matches!(served, Err(Error::Timeout(Timeout::Write))),
        "{served:?}"
    );
    assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"));
    // The pipe filled, then the write that waited for room gave up.
    assert_eq!(reply.len(), 1 << 10, "the pipe was not full");
}

/// A response body that fails midway leaves its answer cut short, and the
/// client learns it at once: a body with a length or chunks shows itself
/// incomplete, so the connection closes cleanly (a FIN) rather than after the
/// second the server lingers to read, which a client waiting for the rest
/// never ends.
#[test]
fn a_response_body_that_fails_midway_ends_the_connection_at_once() {
    use lithe::io::{Body, Request, Response};
    async fn failing(request: Request) -> Response {
        let failure = || std::io::Error::other("the body failed (expected by this test)");
        let pieces =
            futures_lite::stream::iter([Ok(bytes::Bytes::from_static(b"first")), Err(failure())]);
        let body = match request.path() {
            "/sized" => Body::sized_stream(10, pieces),
            _ => Body::stream(pieces),
        };
        Response::new(lithe::proto::StatusCode::OK).with_body(body)
    }
    let server = server_with(failing, ServerConfig::default());
    for (path, framing) in [
        ("/chunked", "transfer-encoding: chunked\r\n"),
        ("/sized", "content-length: 10\r\n"),
    ] {
        let mut s = socket(server.local_addr());
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        s.write_all(request.as_bytes()).unwrap();
        let head = read_until(&mut s, "\r\n\r\n");
        assert!(head.contains(framing), "{head}");
        let started = Instant::now();
        let rest = read_to_close(&mut s);
        assert!(
            started.elapsed() < Duration::from_millis(750),
            "{path}: closed after {:?}",
            started.elapsed()
        );
        assert!(rest.contains("first"), "{path}: {rest}");
        assert!(!rest.ends_with("0\r\n\r\n"), "{path}: {rest}");
    }
    server.shutdown();
}

/// A service whose future is dropped reports it on `dropped`: a long poll
/// that never answers (`/wait`), one that answers after 200 ms (`/slow`), a
/// response body that never ends (`/stream`), one that never ends and is
/// always ready (`/flood`); anything else, at once.
fn abandonable(
    dropped: std::sync::mpsc::Sender<&'static str>,
) -> impl Fn(
    lithe::io::Request,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = lithe::io::Response> + Send>>
+ Clone
+ Send
+ 'static {
    use lithe::io::{Body, Response};
    use lithe::proto::StatusCode;
    /// Sends its name when dropped.
    struct Guard(&'static str, std::sync::mpsc::Sender<&'static str>);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.1.send(self.0);
        }
    }
    move |request: lithe::io::Request| {
        let dropped = dropped.clone();
        Box::pin(async move {
            match request.path() {
                "/wait" => {
                    let _guard = Guard("wait", dropped);
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                "/slow" => {
                    async_io::Timer::after(Duration::from_millis(200)).await;
                    Response::new(StatusCode::OK).with_body("slow")
                }
                "/stream" => {
                    let guard = Guard("stream", dropped);
                    let first = futures_lite::stream::once(Ok(bytes::Bytes::from_static(b"first")));
                    let rest = futures_lite::stream::poll_fn(move |_| {
                        let _held = &guard;
                        std::task::Poll::Pending
                    });
                    Response::new(StatusCode::OK)
                        .with_body(Body::stream(futures_lite::StreamExt::chain(first, rest)))
                }
                "/flood" => {
                    let guard = Guard("flood", dropped);
                    let piece = bytes::Bytes::from(vec![b'f'; 64 << 10]);
                    let pieces = futures_lite::stream::repeat_with(move || {
                        let _held = &guard;
                        Ok(piece.clone())
                    });
                    Response::new(StatusCode::OK).with_body(Body::stream(pieces))
                }
                "/trailers" => {
                    let guard = Guard("trailers", dropped);
                    Response::new(StatusCode::OK).with_body(Body::from("x").with_trailers(
                        async move {
                            let _held = guard;
                            std::future::pending::<lithe::io::Headers>().await
                        },
                    ))
                }
                _ => Response::new(StatusCode::OK).with_body("at once"),
            }
        })
    }
}

/// The ways a client leaves a connection, by name: what it keeps to read from.
type Goodbye = (
    &'static str,
    fn(std::net::TcpStream) -> Option<std::net::TcpStream>,
);

/// Closing (with nothing unread: a FIN), ending the sending side (and still
/// reading), resetting.
const GOODBYES: [Goodbye; 3] = [
    ("closes", |s| {
        drop(s);
        None
    }),
    ("half-closes", |s| {
        s.shutdown(std::net::Shutdown::Write).unwrap();
        Some(s)
    }),
    ("resets", |s| {
        reset(s);
        None
    }),
];

/// Without `half_close`, a client that goes away while its request is being
/// worked on (it closes, half-closes or resets the connection) abandons that
/// request: the service's future, or its response body, is dropped, and the
/// connection closes, rather than holding its slot until the service answers
/// nobody. Answers pipelined before it still go out. Empty lines after the
/// request (RFC 9112 §2.2 lets a client send them), with it or later, hide
/// nothing.
#[test]
fn without_half_close_a_client_that_goes_away_abandons_its_request() {
    let (dropped, abandoned) = std::sync::mpsc::channel();
    let config = ServerConfig {
        half_close: false,
        ..ServerConfig::default()
    };
    let server = server_with(abandonable(dropped), config);
    let empty_lines = [("", ""), ("\r\n", ""), ("", "\r\n\r\n")];
    for ((goodbye, leave), (with, later)) in GOODBYES
        .into_iter()
        .flat_map(|goodbye| empty_lines.map(|lines| (goodbye, lines)))
    {
        for (path, dropped) in [
            ("/wait", "wait"),
            ("/stream", "stream"),
            ("/trailers", "trailers"),
        ] {
            let mut s = socket(server.local_addr());
            let requests = format!(
                "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET {path} HTTP/1.1\r\nHost: a\r\n\r\n{with}"
            );
            s.write_all(requests.as_bytes()).unwrap();
            // The answer pipelined before (and, for the stream, its head and
            // first piece, for the trailers the data before them: all that
            // will come).
            let last = match path {
                "/stream" => "first\r\n",
                "/trailers" => "\r\nx\r\n",
                _ => "at once",
            };
            let reply = read_until(&mut s, last);
            assert!(
                reply.contains("\r\n\r\nat once"),
                "{goodbye} {path}: {reply}"
            );
            s.write_all(later.as_bytes()).unwrap();
            let kept = leave(s);
            assert_eq!(
                abandoned.recv_timeout(Duration::from_secs(5)),
                Ok(dropped),
                "{goodbye} {path} {with:?} {later:?}"
            );
            // Still reading, a half-closed client sees the connection end
            // with nothing more.
            if let Some(mut s) = kept {
                assert_eq!(read_to_close(&mut s), "", "{goodbye} {path}");
            }
        }
    }
    server.shutdown();
}

/// By default (`half_close`), a client that ends its side after its request
/// is answered all the same (with `connection: close`: no request can
/// follow); one that resets the connection abandons it.
#[test]
fn by_default_a_client_that_ends_its_side_is_still_answered() {
    let (dropped, abandoned) = std::sync::mpsc::channel();
    let server = server_with(abandonable(dropped), ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\nslow"), "{reply}");
    // Nothing can follow the request: the answer says so.
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");

    // The answer to the request before it shows the long poll is under way.
    let mut s = socket(server.local_addr());
    s.write_all(b"GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /wait HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    read_until(&mut s, "at once");
    reset(s);
    assert_eq!(abandoned.recv_timeout(Duration::from_secs(5)), Ok("wait"));
    server.shutdown();
}

/// A client that resets the connection while the server's write waits on
/// it (an endless answer filling the socket) ends the answer at once: the
/// failed send is the connection's end, not a wait for the write timeout.
#[test]
fn a_client_resetting_during_a_blocked_write_ends_the_answer_at_once() {
    let (dropped, abandoned) = std::sync::mpsc::channel();
    let server = server_with(abandonable(dropped), ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"GET /flood HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    read_until(&mut s, "\r\n\r\n");
    // Unread, the answer fills the socket's buffers and the server's write
    // waits: what has come stops growing, for 100 ms (longer than a worker
    // left unscheduled for a moment), looked at past any receive buffer the
    // kernel may grow to.
    let mut look = vec![0u8; 16 << 20];
    let (mut came, mut still) = (0, 0);
    let waited = Instant::now();
    while still < 5 {
        std::thread::sleep(Duration::from_millis(20));
        let now = s.peek(&mut look).unwrap();
        still = if now == came && now > 0 { still + 1 } else { 0 };
        assert!(waited.elapsed() < LIMIT, "the answer never stopped coming");
        came = now;
    }
    reset(s);
    assert_eq!(abandoned.recv_timeout(Duration::from_secs(5)), Ok("flood"));
    server.shutdown();
}

/// Trailers that take time to make are waited for; a HEAD answer, which has
/// no body, goes without them and the connection goes on.
#[test]
fn trailers_made_later_are_waited_for_and_a_head_answer_goes_without() {
    use lithe::io::{Body, Headers, Request, Response};
    async fn late_trailers(_: Request) -> Response {
        let body = Body::from("data").with_trailers(async {
            async_io::Timer::after(Duration::from_millis(50)).await;
            let mut trailers = Headers::new();
            trailers.append("server-timing", "total;dur=50");
            trailers
        });
        Response::new(lithe::proto::StatusCode::OK).with_body(body)
    }
    let server = server_with(late_trailers, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let answers: Vec<&str> = reply.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 2, "{reply}");
    assert!(
        answers[0].ends_with("\r\n\r\n"),
        "the HEAD answer has no body: {reply}"
    );
    assert!(!answers[0].contains("server-timing"), "{reply}");
    assert!(
        answers[1].ends_with("\r\n\r\n4\r\ndata\r\n0\r\nserver-timing: total;dur=50\r\n\r\n"),
        "{reply}"
    );
    server.shutdown();
}

/// A service passing on an upstream's Content-Length as a list of one value
/// (a proxy, say), one with a leading zero, answers with one field of
/// digits, as a sender must.
#[test]
fn a_content_length_list_from_the_service_goes_out_as_one_value() {
    use lithe::io::{Request, Response};
    async fn proxied(_: Request) -> Response {
        Response::new(lithe::proto::StatusCode::OK)
            .with_header("content-length", "4, 04")
            .with_body("data")
    }
    let server = server_with(proxied, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert_eq!(reply.matches("content-length").count(), 1, "{reply}");
    assert!(reply.contains("content-length: 4\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\ndata"), "{reply}");
    server.shutdown();
}

/// A response read too slowly is held to the same floor as a request body:
/// within each write timeout of waiting, `min_progress_bytes` must go out.
/// Over a 512-byte pipe read 64 bytes every 40 ms (1.6 KB/s), a 4 KiB
/// response takes over 2.5 s: written whole with a floor of one byte (each
/// wait of 40 ms, far under the timeout), cut off with a write timeout
/// under the default floor (4 KiB per second of waiting here).
#[test]
fn a_response_read_below_the_progress_floor_times_out() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// Serves one GET over a slow reader under `floor`: the driver's result
    /// and the bytes the client got.
    fn slow_read(floor: u64) -> (Result<(), lithe::io::Error>, usize) {
        let config = ServerConfig {
            write_timeout: Some(Duration::from_secs(1)),
            min_progress_bytes: floor,
            ..ServerConfig::default()
        };
        let service = |_: lithe::io::Request| async {
            lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(vec![b'x'; 4096])
        };
        let (server_end, mut client_end) = lithe::io::duplex(512);
        run(async {
            let served = lithe::io::serve_connection(server_end, service, &config);
            let client = async {
                client_end
                    .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let mut got = 0;
                let mut piece = [0u8; 64];
                loop {
                    async_io::Timer::after(Duration::from_millis(40)).await;
                    match client_end.read(&mut piece).await {
                        Ok(0) | Err(_) => return got,
                        Ok(n) => got += n,
                    }
                }
            };
            futures_lite::future::zip(served, client).await
        })
    }
    let (served, got) = slow_read(1);
    assert!(served.is_ok(), "{served:?}");
    assert!(got > 4096, "{got} bytes");
    let (served, got) = slow_read(4096);
    assert!(
        matches!(
            served,
            Err(lithe::io::Error::Timeout(lithe::io::Timeout::Write))
        ),
        "{served:?}"
    );
    assert!(got < 4096, "{got} bytes");
}

/// A write that blocked and then finished leaves no wait behind: the next
/// answer, sent longer than the write timeout later, has its whole timeout
/// (a keep-alive client reads one large answer a little late, then asks
/// again after a pause).
#[test]
fn a_write_that_blocked_then_finished_leaves_the_next_answer_its_whole_timeout() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    const BODY: usize = 6000;
    let config = ServerConfig {
        write_timeout: Some(Duration::from_secs(1)),
        // Far over what either answer moves: only waiting counts.
        min_progress_bytes: 64 * 1024,
        ..ServerConfig::default()
    };
    let service = |_: lithe::io::Request| async {
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(vec![b'x'; BODY])
    };
    // Smaller than an answer: each waits for the client to read.
    let (server_end, mut client_end) = lithe::io::duplex(4096);
    let requests: [&[u8]; 2] = [
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ];
    let (served, answers) = run(async {
        let served = lithe::io::serve_connection(server_end, service, &config);
        let client = async {
            let mut answers = Vec::new();
            for request in requests {
                client_end.write_all(request).await.unwrap();
                async_io::Timer::after(Duration::from_millis(50)).await;
                let mut answer = Vec::new();
                let mut piece = [0u8; 1024];
                while answer
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .is_none_or(|end| answer.len() < end + 4 + BODY)
                {
                    match client_end.read(&mut piece).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(&piece[..n]),
                    }
                }
                answers.push(answer);
                // Longer than the write timeout.
                async_io::Timer::after(Duration::from_millis(1200)).await;
            }
            answers
        };
        futures_lite::future::zip(served, client).await
    });
    assert!(served.is_ok(), "{served:?}");
    for answer in answers {
        assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(answer.ends_with(&[b'x'; BODY]), "{} bytes", answer.len());
    }
}

/// A write that times out while the driver waits on an unread request body
/// (the response queued whole, the client reading nothing) ends the
/// connection with that timeout, as `serve_connection` documents.
#[test]
fn a_write_timeout_while_draining_is_the_connections_error() {
    use futures_lite::AsyncWriteExt;
    let config = ServerConfig {
        write_timeout: Some(Duration::from_millis(250)),
        ..ServerConfig::default()
    };
    let service = |_: lithe::io::Request| async {
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(vec![b'x'; 4096])
    };
    let (server_end, mut client_end) = lithe::io::duplex(512);
    let served = run(async {
        client_end
            .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
            .await
            .unwrap();
        let served = lithe::io::serve_connection(server_end, service, &config).await;
        drop(client_end);
        served
    });
    assert!(
        matches!(
            served,
            Err(lithe::io::Error::Timeout(lithe::io::Timeout::Write))
        ),
        "{served:?}"
    );
}

/// A transport that sends `honest` (if anything) and then claims a read of
/// one byte more than the buffer it was given, as a broken adapter might.
struct Overclaiming {
    honest: &'static [u8],
}

impl futures_lite::AsyncRead for Overclaiming {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = match self.honest.len().min(buf.len()) {
            0 => buf.len() + 1,
            n => {
                buf[..n].copy_from_slice(&self.honest[..n]);
                self.honest = &self.honest[n..];
                n
            }
        };
        std::task::Poll::Ready(Ok(n))
    }
}

swallows_writes!(Overclaiming);

/// A read that claims more than the room it was given is an error of the
/// connection, whether it is the first read of a request (into the thread's
/// scratch) or one that continues a head (into the connection's buffer).
#[test]
fn a_transport_claiming_more_than_it_was_given_is_an_error_not_a_panic() {
    for honest in [&b""[..], b"GET / HTTP/1.1\r\n"] {
        let config = ServerConfig::default();
        let service = |_: lithe::io::Request| async {
            lithe::io::Response::new(lithe::proto::StatusCode::OK)
        };
        let served = run(lithe::io::serve_connection(
            Overclaiming { honest },
            service,
            &config,
        ));
        assert!(
            matches!(&served, Err(lithe::io::Error::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData),
            "after {honest:?}: {served:?}"
        );
    }
}

/// What `service` answers to `request` over an in-memory pipe, read until
/// the server closes.
fn answer_in_memory<S: lithe::io::Service>(
    service: S,
    config: &ServerConfig,
    request: &[u8],
) -> String {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let (server_end, mut client_end) = lithe::io::duplex(64 * 1024);
    let reply = run(async {
        client_end.write_all(request).await.unwrap();
        let served = lithe::io::serve_connection(server_end, service, config);
        let reading = async {
            let mut reply = Vec::new();
            client_end.read_to_end(&mut reply).await.unwrap();
            reply
        };
        futures_lite::future::zip(served, reading).await.1
    });
    String::from_utf8_lossy(&reply).into_owned()
}

/// A TLS ClientHello sent to a plain-HTTP port is answered 400 and closed
/// at once: its first byte cannot begin a request line, and the hello has
/// no line end for the request line's cap to meet, so it would otherwise
/// hold the connection for the whole head timeout (a minute here).
#[test]
fn a_tls_hello_on_a_plain_port_is_refused_at_once() {
    let config = ServerConfig {
        head_timeout: Some(Duration::from_secs(60)),
        ..ServerConfig::default()
    };
    let service =
        |_: lithe::io::Request| async { lithe::io::Response::new(lithe::proto::StatusCode::OK) };
    // A ClientHello's record header and the start of its body; no LF.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.resize(517, 0x42);
    let started = std::time::Instant::now();
    let reply = answer_in_memory(service, &config, &hello);
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert!(reply.contains("connection: close\r\n"), "{reply}");
    // Milliseconds, against the head timeout's minute (and the 10 s after
    // which the in-memory exchange gives up).
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// 17 MiB of fields, all sharing one 1 MiB value: past what the driver
/// serializes, held in 1 MiB.
fn fields_of_17_mib() -> lithe::io::Headers {
    let value = bytes::Bytes::from(vec![b'v'; 1 << 20]);
    let mut fields = lithe::io::Headers::new();
    for _ in 0..17 {
        fields.append("x-large", value.clone());
    }
    fields
}

const GET_AND_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

/// A head the service built larger than any peer reads is answered 500
/// rather than allocated: past 16 MiB the driver refuses to serialize a
/// head.
#[test]
fn a_response_head_past_the_outgoing_limit_is_a_500() {
    let service = |_: lithe::io::Request| async {
        let mut response = lithe::io::Response::new(lithe::proto::StatusCode::OK);
        *response.headers_mut() = fields_of_17_mib();
        response
    };
    let reply = answer_in_memory(service, &ServerConfig::default(), GET_AND_CLOSE);
    assert!(
        reply.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{}",
        &reply[..reply.len().min(200)]
    );
    assert!(!reply.contains("x-large"));
}

/// Trailers past the same bound are left out, the message kept whole: the
/// body arrives, then the last chunk with no fields.
#[test]
fn trailers_past_the_outgoing_limit_are_left_out_and_the_body_ends_whole() {
    let service = |_: lithe::io::Request| async {
        let trailers = async { fields_of_17_mib() };
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(lithe::io::Body::from("body").with_trailers(trailers))
    };
    let reply = answer_in_memory(service, &ServerConfig::default(), GET_AND_CLOSE);
    assert!(
        reply.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        &reply[..reply.len().min(200)]
    );
    assert!(
        reply.ends_with("\r\n\r\n4\r\nbody\r\n0\r\n\r\n"),
        "{}",
        &reply[..reply.len().min(300)]
    );
}

/// Trailer fields one of which cannot be sent (a line break in a value, a
/// space in a name: `Headers` takes them, as a proxy passing fields on
/// would) are all left out, and the body still ends whole.
#[test]
fn trailers_with_an_invalid_field_are_left_out_and_the_body_ends_whole() {
    for (name, value) in [("x-bad", &b"a\r\nb"[..]), ("x bad", b"1")] {
        let service = move |_: lithe::io::Request| async move {
            let trailers = async move {
                let mut fields = lithe::io::Headers::new();
                fields.append("checksum", "5f");
                fields.append(name, value.to_vec());
                fields
            };
            lithe::io::Response::new(lithe::proto::StatusCode::OK)
                .with_body(lithe::io::Body::from("data").with_trailers(trailers))
        };
        let reply = answer_in_memory(service, &ServerConfig::default(), GET_AND_CLOSE);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{name}: {reply}");
        assert!(
            reply.ends_with("\r\n\r\n4\r\ndata\r\n0\r\n\r\n"),
            "{name}: {reply}"
        );
    }
}

/// A transport that writes `written` on its first read but counts `claimed`
/// bytes (no more than it was given room for), then ends: an adapter that
/// miscounts.
struct Miscounting {
    written: &'static [u8],
    claimed: usize,
    read: bool,
}

impl futures_lite::AsyncRead for Miscounting {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.read {
            return std::task::Poll::Ready(Ok(0));
        }
        self.read = true;
        buf[..self.written.len()].copy_from_slice(self.written);
        std::task::Poll::Ready(Ok(self.claimed.min(buf.len())))
    }
}

swallows_writes!(Miscounting);

/// A transport whose one read writes `0` into the buffer, then fails.
struct FailsAfterWriting(&'static [u8]);

impl futures_lite::AsyncRead for FailsAfterWriting {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        buf[..self.0.len()].copy_from_slice(self.0);
        std::task::Poll::Ready(Err(std::io::Error::other("the read failed")))
    }
}

swallows_writes!(FailsAfterWriting);

/// A transport whose first read writes `written` into the buffer, then
/// panics; its later reads find the end of the stream.
struct PanicsAfterWriting {
    written: &'static [u8],
    panicked: bool,
}

impl futures_lite::AsyncRead for PanicsAfterWriting {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.panicked {
            return std::task::Poll::Ready(Ok(0));
        }
        self.panicked = true;
        buf[..self.written.len()].copy_from_slice(self.written);
        panic!("the transport panicked in a read");
    }
}

swallows_writes!(PanicsAfterWriting);

/// Connections of one thread read their first bytes through one scratch
/// array: a transport that counts bytes it did not write finds zeros there
/// (a 400), not the request another connection read before it, whose
/// credentials the service would have been handed as its own. (Zeroed are
/// the bytes each read counted, and all of them after a read that failed
/// or panicked: one that wrote past its count leaves the rest, for a second
/// faulty transport to find.)
#[test]
fn a_miscounting_transport_reads_nothing_of_another_connections_request() {
    use std::sync::{Arc, Mutex};
    const REQUEST: &[u8] = b"GET /a HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret\r\n\r\n";
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let service = move |request: lithe::io::Request| {
        let authorization = request
            .headers()
            .get_str("authorization")
            .map(str::to_owned);
        recorded
            .lock()
            .unwrap()
            .push((request.target().to_owned(), authorization));
        async { lithe::io::Response::new(lithe::proto::StatusCode::OK) }
    };
    let config = ServerConfig::default();
    let honest = Miscounting {
        written: REQUEST,
        claimed: REQUEST.len(),
        read: false,
    };
    let miscounting = Miscounting {
        written: b"GET /b HTTP/1.1\r\n",
        claimed: REQUEST.len(),
        read: false,
    };
    let after_a_failure = Miscounting {
        written: b"GET /b HTTP/1.1\r\n",
        claimed: REQUEST.len(),
        read: false,
    };
    run(async {
        lithe::io::serve_connection(honest, &service, &config)
            .await
            .expect("the honest connection ends cleanly");
        // Whatever it ends with, the service must not see its request.
        let _ = lithe::io::serve_connection(miscounting, &service, &config).await;
        // Nor one a connection's failed read wrote before it.
        let failing = FailsAfterWriting(REQUEST);
        assert!(
            lithe::io::serve_connection(failing, &service, &config)
                .await
                .is_err()
        );
        let _ = lithe::io::serve_connection(after_a_failure, &service, &config).await;
        // Nor one a read that panicked wrote before it.
        let panicking = PanicsAfterWriting {
            written: REQUEST,
            panicked: false,
        };
        let _ = lithe::io::serve_connection(panicking, &service, &config).await;
        let after_a_panic = Miscounting {
            written: b"GET /b HTTP/1.1\r\n",
            claimed: REQUEST.len(),
            read: false,
        };
        let _ = lithe::io::serve_connection(after_a_panic, &service, &config).await;
    });
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [("/a".to_owned(), Some("Bearer s3cret".to_owned()))],
        "the second connection was served another's request"
    );
}

/// A worker count past `MAX_THREADS` is refused up front, as a typed error:
/// `usize::MAX` panicked sizing the listeners, and counts of billions made
/// the process abort on a failed allocation.
#[test]
fn a_worker_count_past_the_maximum_is_refused() {
    for threads in [lithe::rt::MAX_THREADS + 1, usize::MAX] {
        let config = lithe::rt::ServeConfig {
            threads,
            ..lithe::rt::ServeConfig::default()
        };
        let bound = lithe::rt::Server::bind("127.0.0.1:0", routes, config);
        let error = bound.expect_err("the count is refused");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    }
}

/// `Shutdown::close_idle` closes a connection waiting for its next request
/// and leaves one whose request is being served alone, which answers, stays
/// open and hears a later shutdown. Each connection is served on a thread
/// of its own, so that each wakes only when told to.
#[test]
fn close_idle_closes_an_idle_connection_and_spares_a_busy_one() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Request, Response, Shutdown, duplex, serve_connection_until};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// Reads one response (a 2-byte body) whole.
    async fn response(client: &mut lithe::io::DuplexStream) -> String {
        let mut answer = Vec::new();
        let mut byte = [0u8];
        while !answer.ends_with(b"\r\n\r\nok") {
            client.read_exact(&mut byte).await.unwrap();
            answer.push(byte[0]);
        }
        String::from_utf8(answer).unwrap()
    }

    let signal = Shutdown::new();
    // The busy request is served from when it starts until it is released.
    let (started, released) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (busy_started, release) = (started.clone(), released.clone());
    let service = move |request: Request| {
        let slow = request.path() == "/slow";
        started.fetch_or(slow, Ordering::SeqCst);
        let released = released.clone();
        async move {
            while slow && !released.load(Ordering::SeqCst) {
                async_io::Timer::after(Duration::from_millis(1)).await;
            }
            Response::new(lithe::proto::StatusCode::OK).with_body("ok")
        }
    };
    let serve = |io: lithe::io::DuplexStream| {
        let (service, signal) = (service.clone(), signal.clone());
        std::thread::spawn(move || {
            let config = ServerConfig::default();
            lithe::rt::block_on(serve_connection_until(io, service, &config, &signal))
        })
    };
    let (idle_server, mut idle_client) = duplex(4096);
    let (busy_server, mut busy_client) = duplex(4096);
    let (idle_served, busy_served) = (serve(idle_server), serve(busy_server));
    run(async {
        idle_client
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        response(&mut idle_client).await;
        busy_client
            .write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        while !busy_started.load(Ordering::SeqCst) {
            async_io::Timer::after(Duration::from_millis(1)).await;
        }
        // Asked again until the idle connection closes: it may not be
        // waiting for its next request yet when first asked (a close_idle
        // concerns the connections idle at that moment). The end of its
        // stream is the close.
        let mut rest = Vec::new();
        loop {
            signal.close_idle();
            let read = idle_client.read_to_end(&mut rest);
            let waited = async {
                async_io::Timer::after(Duration::from_millis(50)).await;
                Ok(usize::MAX)
            };
            if futures_lite::future::or(read, waited).await.unwrap() != usize::MAX {
                break;
            }
        }
        assert!(rest.is_empty(), "{rest:?}");
        // The busy one answers, keeps alive, and serves another.
        release.store(true, Ordering::SeqCst);
        let answer = response(&mut busy_client).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(!answer.contains("close"), "{answer}");
        busy_client
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        response(&mut busy_client).await;
        // Idle in its turn (given the time to be), it still hears a shutdown:
        // the close_idle calls it was spared have used up wake-ups.
        async_io::Timer::after(Duration::from_millis(100)).await;
        signal.trigger();
        let mut rest = Vec::new();
        busy_client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "{rest:?}");
    });
    // The client ends are still open: each driver ends after its linger.
    drop((idle_client, busy_client));
    idle_served.join().unwrap().unwrap();
    busy_served.join().unwrap().unwrap();
}

/// A worker with nothing to do sleeps in its reactor: idle, with a
/// keep-alive connection open on it, it spends no CPU time (a worker that
/// went on polling would spend all of a core's).
#[cfg(target_os = "linux")]
#[test]
fn an_idle_worker_spends_no_cpu_time() {
    async fn thread_of_worker(_: lithe::io::Request) -> lithe::io::Response {
        let thread = std::fs::read_link("/proc/thread-self").unwrap();
        lithe::io::Response::new(lithe::proto::StatusCode::OK)
            .with_body(format!("{}|end", thread.display()))
    }
    let server = server_with(thread_of_worker, ServerConfig::default());
    let mut kept = socket(server.local_addr());
    kept.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let reply = read_until(&mut kept, "|end");
    let thread = reply
        .rsplit("\r\n\r\n")
        .next()
        .unwrap()
        .trim_end_matches("|end");
    // User and system time of the thread, in clock ticks (proc(5): the
    // 14th and 15th fields of `stat`, the 12th and 13th after the name).
    let ticks_spent = || -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{thread}/stat")).unwrap();
        let (_, after_name) = stat.rsplit_once(')').unwrap();
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    std::thread::sleep(Duration::from_millis(100));
    let before = ticks_spent();
    std::thread::sleep(Duration::from_secs(1));
    let spent = ticks_spent() - before;
    // A tick is 10 ms on Linux: a second's idling spends none, a spinning
    // worker up to a hundred (a fifth of that was seen on a loaded machine).
    assert!(spent < 5, "{spent} ticks in a second of idling");
    server.shutdown();
}

/// A worker at its connection limit makes room for a client waiting in the
/// backlog: an idle connection (one between requests, or one connected with
/// nothing sent) closes, the busy one is answered, and the new client is
/// served at once, not after the idle timeout.
#[test]
fn a_worker_at_its_connection_limit_closes_idle_connections_for_a_waiting_client() {
    use std::time::Instant;
    let service = |request: lithe::io::Request| async move {
        if request.path() == "/slow" {
            async_io::Timer::after(Duration::from_millis(1500)).await;
        }
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("Hello, World!")
    };
    // One worker with room for two, or two workers sharing the listener with
    // room for one each (the idle connection on one, the busy on the other).
    let setups = [("between requests", 1, 2), ("nothing sent", 1, 2)]
        .into_iter()
        .chain([("between requests", 2, 1), ("nothing sent", 2, 1)]);
    for (idle_kind, threads, max_connections) in setups {
        let config = lithe::rt::ServeConfig {
            threads,
            max_connections,
            shutdown_timeout: Duration::from_secs(2),
            ..lithe::rt::ServeConfig::default()
        };
        let server = lithe::rt::Server::bind("127.0.0.1:0", service, config).expect("bind");
        let addr = server.local_addr();
        let mut idle = match idle_kind {
            "between requests" => served_once(addr),
            _ => socket(addr),
        };
        let mut busy = socket(addr);
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        // The two are the worker's limit: the next waits in the backlog.
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let mut waiting = socket(addr);
        waiting
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .unwrap();
        let answer = read_to_close(&mut waiting);
        assert!(
            answer.starts_with("HTTP/1.1 200 OK\r\n"),
            "{idle_kind}, {threads} workers: {answer}"
        );
        // Within a second or two (made room for at once, or, if the idle
        // connection was not parked yet, at the next try a second later).
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{idle_kind}, {threads} workers: served after {:?}",
            started.elapsed()
        );
        assert_eq!(
            read_to_close(&mut idle),
            "",
            "{idle_kind}, {threads} workers"
        );
        let answer = read_until(&mut busy, "Hello, World!");
        assert!(
            answer.starts_with("HTTP/1.1 200 OK\r\n"),
            "{idle_kind}, {threads} workers: {answer}"
        );
        assert!(
            answer.ends_with("Hello, World!"),
            "{idle_kind}, {threads} workers: {answer}"
        );
        server.shutdown();
    }
}

/// Workers sharing a listener, each at its limit with an idle connection,
/// take turns to make room: clients waiting cost one worker its idle
/// connection (whose room then serves them all, one after another), not
/// every worker its own.
#[test]
fn workers_of_a_shared_listener_make_room_for_waiting_clients_in_turn() {
    let config = lithe::rt::ServeConfig {
        threads: 2,
        max_connections: 1,
        shutdown_timeout: Duration::from_secs(2),
        ..lithe::rt::ServeConfig::default()
    };
    /// Which of `idle` the server closed, read without waiting.
    fn closed(idle: &mut [std::net::TcpStream]) -> Vec<bool> {
        idle.iter_mut()
            .map(|s| {
                s.set_nonblocking(true).unwrap();
                matches!(std::io::Read::read(s, &mut [0u8; 64]), Ok(0))
            })
            .collect()
    }
    // One idle connection on each worker: the second goes to the other
    // worker, the first being at its limit. (That worker may make room
    // for it if the other is slow to take it: then again, at most thrice.)
    let (server, mut idle) = (0..3)
        .find_map(|_| {
            let server =
                lithe::rt::Server::bind("127.0.0.1:0", routes, config.clone()).expect("bind");
            let addr = server.local_addr();
            let mut idle = [served_once(addr), served_once(addr)];
            // Past the second a worker waits after seeing a client taken by
            // another, so that both see the next ones waiting.
            std::thread::sleep(Duration::from_millis(1100));
            if closed(&mut idle) == [false, false] {
                return Some((server, idle));
            }
            server.shutdown();
            None
        })
        .expect("both idle connections kept while set up, in one of three tries");
    let mut waiting = [socket(server.local_addr()), socket(server.local_addr())];
    for s in &mut waiting {
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .unwrap();
    }
    for s in &mut waiting {
        let answer = read_to_close(s);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        // Closed as a client does after `Connection: close`: left open, the
        // server's linger would hold the room for up to a second, and past
        // a second another worker may rightly make room too.
        s.shutdown(std::net::Shutdown::Both).unwrap();
    }
    let closed = closed(&mut idle);
    assert_eq!(closed.iter().filter(|&&c| c).count(), 1, "{closed:?}");
    server.shutdown();
}

/// Workers sharing a listener, all at their limit, only one of them with an
/// idle connection: whichever worker takes the turn to make room first, the
/// waiting client is served at once. A worker that finds nothing idle gives
/// the turn back, and the others, refused it a moment before, take it then
/// (before, they waited a whole second each time a busy worker won the
/// turn, one after another).
#[test]
fn workers_of_a_shared_listener_hand_the_turn_to_make_room_on_at_once() {
    let config = lithe::rt::ServeConfig {
        threads: 4,
        max_connections: 1,
        shutdown_timeout: Duration::from_secs(2),
        ..lithe::rt::ServeConfig::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", routes, config).expect("bind");
    let addr = server.local_addr();
    // One connection a worker: one idle, three with a head begun (busy).
    let mut idle = served_once(addr);
    let mut busy: Vec<_> = (0..3)
        .map(|_| {
            let mut s = socket(addr);
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    // A worker at its limit that saw another take a client waits a second
    // before it watches the listener again: past that, all of them do.
    std::thread::sleep(Duration::from_millis(1100));
    for round in 0..3 {
        let started = Instant::now();
        let mut waiting = socket(addr);
        waiting
            .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .unwrap();
        let answer = read_to_close(&mut waiting);
        let took = started.elapsed();
        assert!(
            answer.starts_with("HTTP/1.1 200 OK\r\n"),
            "round {round}: {answer}"
        );
        assert!(
            took < Duration::from_millis(900),
            "round {round}: served after {took:?}"
        );
        assert_eq!(read_to_close(&mut idle), "", "round {round}");
        // The next round's idle connection, on the worker just freed, a
        // second after this round's room was made (rounds a worker may ask).
        idle = served_once(addr);
        std::thread::sleep(Duration::from_millis(1100));
    }
    for s in &mut busy {
        s.write_all(b"Host: a\r\n\r\n").unwrap();
        read_until(s, "Hello, World!");
    }
    server.shutdown();
}

/// A service that keeps its worker busy by yielding in a loop (a long
/// computation done in steps) leaves the worker's other connections served
/// meanwhile: what became ready is taken in between its turns.
#[test]
fn a_service_yielding_in_a_loop_does_not_starve_its_workers_other_connections() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    static SPINNING: AtomicBool = AtomicBool::new(false);
    let service = |request: lithe::io::Request| async move {
        if request.path() == "/spin" {
            SPINNING.store(true, Ordering::SeqCst);
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                futures_lite::future::yield_now().await;
            }
        }
        lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body("Hello, World!")
    };
    let server = server_with(service, ServerConfig::default());
    let addr = server.local_addr();
    // Served once, so parked on the worker when the spin begins.
    let mut other = served_once(addr);
    let mut spinning = socket(addr);
    spinning
        .write_all(b"GET /spin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    wait_until(&SPINNING, "the spin never began");
    let started = Instant::now();
    other
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_to_close(&mut other);
    assert!(reply.ends_with("Hello, World!"), "{reply}");
    // Long before the spin's 2 s end.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(read_to_close(&mut spinning).ends_with("Hello, World!"));
    server.shutdown();
}

/// Room is made a few connections at a time: with 80 idle connections at
/// the limit, a waiting client closes at most 64 of them, not all.
#[test]
fn a_worker_at_its_connection_limit_closes_a_bounded_number_of_idle_connections() {
    let config = one_worker_limited_to(80);
    let server = lithe::rt::Server::bind("127.0.0.1:0", routes, config).expect("bind");
    let addr = server.local_addr();
    let mut idle: Vec<_> = (0..80).map(|_| served_once(addr)).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut waiting = socket(addr);
    waiting
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let answer = read_to_close(&mut waiting);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    // Closed ones read the end at once; open ones time out.
    let closed: Vec<usize> = idle
        .iter_mut()
        .map(|s| {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            std::io::Read::read(s, &mut [0u8; 1])
        })
        .enumerate()
        .filter(|(_, read)| matches!(read, Ok(0)))
        .map(|(index, _)| index)
        .collect();
    assert!((1..=64).contains(&closed.len()), "{} closed", closed.len());
    // Roughly the longest connected first (in order of connection here).
    let mean = closed.iter().sum::<usize>() / closed.len();
    assert!(mean < 40, "closed {closed:?}");
    // The spared ones still hear a shutdown (their wake-ups used up by the
    // room-making are renewed): each sees its close at once.
    server.shutdown_signal().trigger();
    for s in &mut idle {
        s.set_read_timeout(Some(LIMIT)).unwrap();
    }
    let started = std::time::Instant::now();
    let ended = idle
        .iter_mut()
        .map(|s| std::io::Read::read(s, &mut [0u8; 64]))
        .filter(|read| matches!(read, Ok(0)))
        .count();
    assert_eq!(ended, 80);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the shutdown took {:?} to reach them",
        started.elapsed()
    );
    server.shutdown();
}

/// `close_idle` on a running server's signal reaches its workers'
/// connections: an idle one closes, and the server goes on serving.
#[test]
fn close_idle_on_a_server_closes_its_idle_connections_and_it_serves_on() {
    let config = lithe::rt::ServeConfig {
        threads: 2,
        shutdown_timeout: Duration::from_secs(2),
        ..lithe::rt::ServeConfig::default()
    };
    let server = lithe::rt::Server::bind("127.0.0.1:0", routes, config).expect("bind");
    let addr = server.local_addr();
    let mut idle = served_once(addr);
    // Asked again until it closes: it may not be waiting for its next
    // request yet when first asked.
    idle.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        server.shutdown_signal().close_idle();
        match std::io::Read::read(&mut idle, &mut [0u8; 1]) {
            Ok(0) => break,
            Ok(_) => panic!("the idle connection sent something"),
            Err(_) => assert!(started.elapsed() < LIMIT, "never closed"),
        }
    }
    assert!(!server.shutdown_signal().is_triggered());
    let answer = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    server.shutdown();
}

/// A connection accepted just before a shutdown, its first request still on
/// its way (a round trip behind the connect, on a real network), is served
/// that request, as the last: closed at once, the request met a reset, which
/// a client retries on a fresh connection far less readily than on a reused
/// one. One that stays silent holds the shutdown no longer than the grace a
/// head begun gets.
#[test]
fn a_connection_accepted_just_before_a_shutdown_has_its_first_request_served() {
    use lithe::rt::{ServeConfig, Server};
    let (accepted, was_accepted) = std::sync::mpsc::channel();
    let server = Server::bind_per_connection(
        "127.0.0.1:0",
        move |_| {
            let _ = accepted.send(());
            routes
        },
        ServeConfig {
            threads: 1,
            ..ServeConfig::default()
        },
    )
    .unwrap();
    let mut s = socket(server.local_addr());
    let _silent = socket(server.local_addr());
    for _ in 0..2 {
        was_accepted.recv_timeout(LIMIT).unwrap();
    }
    let started = Instant::now();
    server.shutdown_signal().trigger();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    assert!(reply.ends_with("Hello, World!"), "{reply}");
    server.wait();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// `100 Continue` waits for the service to read, not merely to hold the
/// request: one that looks at the body's length, takes its time and
/// answers 401 unread never invites the upload (the connection then
/// closes, the body unsent); one that takes its time and then reads gets
/// the 100 only when it reads.
#[test]
fn expect_100_continue_waits_for_a_read_not_for_a_held_request() {
    use lithe::io::{Request, Response};
    use lithe::proto::StatusCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Set by the test once it has seen no 100 while the request was held.
    static RELEASED: AtomicBool = AtomicBool::new(false);
    async fn later(request: Request) -> Response {
        assert_eq!(request.body().len(), Some(5));
        async_io::Timer::after(Duration::from_millis(200)).await;
        while request.path() == "/read" && !RELEASED.load(Ordering::SeqCst) {
            async_io::Timer::after(Duration::from_millis(5)).await;
        }
        match request.path() {
            "/refuse" => Response::new(StatusCode::UNAUTHORIZED).with_body("no"),
            _ => match request.into_body().bytes(100).await {
                Ok(body) => Response::new(StatusCode::OK).with_body(body),
                Err(e) => Response::new(StatusCode::BAD_REQUEST).with_body(e.to_string()),
            },
        }
    }
    let server = server_with(later, ServerConfig::default());
    let head = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
    };
    let mut s = socket(server.local_addr());
    s.write_all(head("/refuse").as_bytes()).unwrap();
    let reply = read_to_close(&mut s);
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");

    let mut s = socket(server.local_addr());
    s.write_all(head("/read").as_bytes()).unwrap();
    // Nothing while the service holds the request unread (until released).
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8];
    let early = std::io::Read::read(&mut s, &mut byte);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "{early:?}"
    );
    RELEASED.store(true, Ordering::SeqCst);
    s.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(
        read_until(&mut s, "\r\n\r\n"),
        "HTTP/1.1 100 Continue\r\n\r\n"
    );
    s.write_all(b"hello").unwrap();
    let reply = read_until(&mut s, "hello");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    server.shutdown();
}

/// A body the service holds past its response, read later from another
/// thread, never sees the next request's bytes: the connection drains it
/// after the response and moves on, and the late read says the body was
/// abandoned, while the next request gets its own body whole.
#[test]
fn a_body_held_past_its_response_never_sees_the_next_request() {
    use lithe::io::{Request, Response};
    use lithe::proto::StatusCode;
    use std::sync::{Arc, Mutex, mpsc};
    let (b_served, b_was_served) = mpsc::channel::<()>();
    let b_was_served = Arc::new(Mutex::new(Some(b_was_served)));
    let (outcome, late_read) = mpsc::channel();
    let service = move |request: Request| {
        let (b_served, b_was_served, outcome) =
            (b_served.clone(), b_was_served.clone(), outcome.clone());
        async move {
            match request.path() {
                "/a" => {
                    let mut body = request.into_body();
                    let wait = b_was_served.lock().unwrap().take().unwrap();
                    std::thread::spawn(move || {
                        let _ = wait.recv_timeout(LIMIT);
                        let read = lithe::rt::block_on(body.chunk());
                        let _ = outcome.send(read.map(|piece| piece.map(|b| b.to_vec())));
                    });
                    Response::new(StatusCode::OK).with_body("a")
                }
                "/b" => {
                    let body = request.into_body().bytes(100).await.unwrap();
                    let _ = b_served.send(());
                    Response::new(StatusCode::OK).with_body(body)
                }
                _ => Response::new(StatusCode::OK).with_body("last"),
            }
        }
    };
    let server = server_with(service, ServerConfig::default());
    let reply = exchange(
        server.local_addr(),
        b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
          POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nworld\
          GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let answers: Vec<&str> = reply.split("HTTP/1.1 200 OK\r\n").skip(1).collect();
    assert_eq!(answers.len(), 3, "{reply}");
    for (answer, body) in answers.iter().zip(["a", "world", "last"]) {
        assert!(answer.ends_with(&format!("\r\n\r\n{body}")), "{reply}");
    }
    assert_eq!(count(&reply, "connection: close"), 1, "{reply}");
    let read = late_read.recv_timeout(LIMIT).unwrap();
    assert!(
        matches!(read, Err(lithe::io::Error::BodyAbandoned)),
        "{read:?}"
    );
    server.shutdown();
}

/// The chunk is taken back before the close the client sees, not after:
/// a late read the client's end of the connection set off (here, at the
/// moment the driver closes its side) finds no chunk still held. Before,
/// the take-back came after the close, and a reader quick enough (a test
/// under load) got the chunk.
#[test]
fn a_chunk_unread_at_the_response_is_taken_back_before_the_close() {
    use lithe::io::{Request, Response, ServerConfig, serve_connection};
    use lithe::proto::StatusCode;
    use std::sync::mpsc;
    use std::task::Poll;

    /// The request once, then nothing; writes taken; its close waits until
    /// the late read is done.
    struct ClosingWaits {
        request: &'static [u8],
        closing: mpsc::Sender<()>,
        read_done: mpsc::Receiver<()>,
    }
    impl futures_lite::AsyncRead for ClosingWaits {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            if self.request.is_empty() {
                return Poll::Pending;
            }
            let n = self.request.len().min(buf.len());
            buf[..n].copy_from_slice(&self.request[..n]);
            self.request = &self.request[n..];
            Poll::Ready(Ok(n))
        }
    }
    impl futures_lite::AsyncWrite for ClosingWaits {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            let _ = self.closing.send(());
            let _ = self.read_done.recv_timeout(LIMIT);
            Poll::Ready(Ok(()))
        }
    }

    let (closing, close_begun) = mpsc::channel();
    let (read_done, late_read_done) = mpsc::channel();
    let (outcome, late_read) = mpsc::channel();
    let close_begun = std::sync::Arc::new(std::sync::Mutex::new(Some(close_begun)));
    let service = move |request: Request| {
        let (outcome, read_done) = (outcome.clone(), read_done.clone());
        let close_begun = close_begun.lock().unwrap().take().unwrap();
        async move {
            let mut body = request.into_body();
            // Asked for once, and not awaited: the driver hands a chunk over.
            assert!(
                futures_lite::future::poll_once(body.chunk())
                    .await
                    .is_none()
            );
            async_io::Timer::after(Duration::from_millis(50)).await;
            std::thread::spawn(move || {
                // Told by the close itself (a transport dropped unclosed
                // would say Disconnected).
                let closed = close_begun.recv_timeout(LIMIT).is_ok();
                let read = lithe::rt::block_on(futures_lite::future::or(
                    async { Some(body.chunk().await.map(|piece| piece.map(|b| b.to_vec()))) },
                    async {
                        async_io::Timer::after(Duration::from_secs(2)).await;
                        None
                    },
                ));
                let _ = outcome.send((closed, read));
                let _ = read_done.send(());
            });
            Response::new(StatusCode::OK).with_body("answered")
        }
    };
    let transport = ClosingWaits {
        request:
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        closing,
        read_done: late_read_done,
    };
    let config = ServerConfig::default();
    let _ = run(serve_connection(transport, service, &config));
    let (closed, read) = late_read.recv_timeout(LIMIT).unwrap();
    assert!(closed, "the driver closed the transport");
    assert!(
        matches!(read, Some(Err(lithe::io::Error::BodyAbandoned))),
        "{read:?}"
    );
}

/// A chunk the driver handed over (the service asked for one) but the
/// service never read is taken back once the response is out: its memory
/// is not kept for a reader that may never come, and a late read gets the
/// error, not that chunk, nor the body's end (which, for a body of small
/// chunks joined as they were handed over, was already read: it comes only
/// once asked for after the data).
#[test]
fn a_chunk_handed_over_and_unread_at_the_response_is_taken_back() {
    use lithe::io::{Request, Response};
    use lithe::proto::StatusCode;
    use std::sync::mpsc;
    for request in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"[..],
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          1\r\nh\r\n4\r\nello\r\n0\r\nX-T: 1\r\n\r\n",
    ] {
        let (outcome, late_read) = mpsc::channel();
        let (answered, was_answered) = mpsc::channel::<()>();
        let was_answered = std::sync::Arc::new(std::sync::Mutex::new(Some(was_answered)));
        let service = move |request: Request| {
            let (outcome, was_answered) = (outcome.clone(), was_answered.clone());
            async move {
                let mut body = request.into_body();
                // Asked for once, and not awaited: the driver hands a chunk over.
                assert!(
                    futures_lite::future::poll_once(body.chunk())
                        .await
                        .is_none()
                );
                async_io::Timer::after(Duration::from_millis(100)).await;
                let wait = was_answered.lock().unwrap().take().unwrap();
                std::thread::spawn(move || {
                    let _ = wait.recv_timeout(LIMIT);
                    let read = lithe::rt::block_on(body.chunk());
                    let read = read.map(|piece| piece.map(|b| b.to_vec()));
                    let _ = outcome.send((read, body.trailers()));
                });
                Response::new(StatusCode::OK).with_body("answered")
            }
        };
        let server = server_with(service, ServerConfig::default());
        let reply = exchange(server.local_addr(), request);
        assert!(reply.ends_with("\r\n\r\nanswered"), "{reply}");
        answered.send(()).unwrap();
        let (read, trailers) = late_read.recv_timeout(LIMIT).unwrap();
        assert!(
            matches!(read, Err(lithe::io::Error::BodyAbandoned)),
            "{read:?}"
        );
        assert!(trailers.is_none(), "{trailers:?}");
        server.shutdown();
    }
}

/// A transport that counts the bytes the server reads from it.
struct CountingReads {
    pipe: lithe::io::DuplexStream,
    read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl futures_lite::AsyncRead for CountingReads {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.pipe).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = polled {
            self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }
}

write_to_pipe!(CountingReads);

/// A request body the service has not asked for stays with the client (in
/// the transport), not in the server's buffers: with the service holding
/// the body unread, the server has read no more than the head and a read's
/// worth past it of a 1 MiB body the client has ready; asked, it reads it
/// all, in order.
#[test]
fn a_request_body_not_asked_for_stays_in_the_transport() {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use lithe::io::{Request, Response, duplex, serve_connection};
    use lithe::proto::StatusCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const BODY: usize = 1 << 20;
    let gate = Arc::new(AtomicBool::new(false));
    let service = {
        let gate = gate.clone();
        move |request: Request| {
            let gate = gate.clone();
            async move {
                let mut body = request.into_body();
                while !gate.load(Ordering::Relaxed) {
                    async_io::Timer::after(Duration::from_millis(1)).await;
                }
                let mut whole = Vec::new();
                while let Some(piece) = body.chunk().await.unwrap() {
                    whole.extend_from_slice(&piece);
                }
                let in_order = whole.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
                Response::new(StatusCode::OK).with_body(format!("{} {in_order}", whole.len()))
            }
        }
    };
    let (server_end, mut client_end) = duplex(64 * 1024);
    let read = Arc::new(AtomicUsize::new(0));
    let transport = CountingReads {
        pipe: server_end,
        read: read.clone(),
    };
    let config = ServerConfig::default();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {BODY}\r\nConnection: close\r\n\r\n"
    );
    let body: Vec<u8> = (0..BODY).map(|i| (i % 251) as u8).collect();
    let (read_unasked, reply) = run(async {
        let served = async {
            serve_connection(transport, service, &config).await.unwrap();
        };
        let client = async {
            client_end.write_all(head.as_bytes()).await.unwrap();
            client_end.write_all(&body).await.unwrap();
            let mut reply = Vec::new();
            client_end.read_to_end(&mut reply).await.unwrap();
            String::from_utf8(reply).unwrap()
        };
        let watch = async {
            async_io::Timer::after(Duration::from_millis(100)).await;
            let unasked = read.load(Ordering::Relaxed);
            gate.store(true, Ordering::Relaxed);
            unasked
        };
        let ((), (reply, unasked)) =
            futures_lite::future::zip(served, futures_lite::future::zip(client, watch)).await;
        (unasked, reply)
    });
    assert!(
        read_unasked <= head.len() + 16 * 1024,
        "{read_unasked} bytes read before the service asked"
    );
    assert!(reply.ends_with(&format!("\r\n\r\n{BODY} true")), "{reply}");
}

/// The grace a shutdown gives a fresh connection's first request is one in
/// all: a request that begins within it and trickles on past it is not
/// given a second from its first byte.
#[test]
fn a_fresh_connection_at_shutdown_gets_one_grace_in_all() {
    let server = server();
    let mut s = socket(server.local_addr());
    // Accepted (a request on another connection is served after it).
    let reply = exchange(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    let started = Instant::now();
    let signal = server.shutdown_signal();
    signal.trigger();
    // Begun well within the grace, whole after it (and within a second
    // one, counted from the first byte).
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(900));
    let _ = s.write_all(b"Host: a\r\n\r\n");
    let mut reply = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut reply);
    let reply = String::from_utf8_lossy(&reply);
    // Timed out at the end of the one grace (before, served at 1.2 s).
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    server.wait();
    // The grace, and the linger after the 408 over what came later, both
    // within the server's shutdown timeout of 2 s (the 408 above is what
    // tells one grace from two; this bound only catches a hang).
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "{took:?}");
}

/// A service that answers `error.status()` when its body read fails gets
/// the status the failure calls for: past its own limit 413, not UTF-8 400.
#[test]
fn a_service_answering_the_errors_status_refuses_what_its_read_refused() {
    async fn greet(request: lithe::io::Request) -> lithe::io::Response {
        match request.into_body().text(4).await {
            Ok(name) => lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(name),
            Err(error) => lithe::io::Response::new(error.status()),
        }
    }
    let server = server_with(greet, ServerConfig::default());
    for (body, status) in [
        (&b"abcd"[..], "200"),
        (b"abcde", "413"),
        (b"\xff\xfe", "400"),
    ] {
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        let reply = exchange(server.local_addr(), &request);
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status} ")),
            "{body:?}: {reply}"
        );
    }
    server.shutdown();
}

/// A service that checks the offer with `offers_protocol` and runs the
/// switched connection with `rt::spawn`: the protocol offered is switched
/// to and spoken; one not offered gets 426, and the connection serves on.
#[test]
fn a_switch_checked_with_offers_protocol_runs_on_rt_spawn() {
    use lithe::io::{Request, Response};
    use lithe::proto::StatusCode;
    async fn echo_protocol(mut request: Request) -> Response {
        let (true, Some(on_upgrade)) = (request.offers_protocol("echo"), request.upgrade()) else {
            return Response::new(StatusCode::UPGRADE_REQUIRED)
                .with_header("upgrade", "echo")
                .with_header("connection", "upgrade");
        };
        lithe::rt::spawn(async move {
            if let Ok(io) = on_upgrade.await {
                echo_until_closed(io).await;
            }
        });
        Response::new(StatusCode::SWITCHING_PROTOCOLS).with_header("upgrade", "echo")
    }
    let server = server_with(echo_protocol, ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n\
          GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket, ECHO\r\n\r\n",
    )
    .unwrap();
    let switched =
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n";
    let reply = read_until(&mut s, switched);
    assert!(reply.starts_with("HTTP/1.1 426 "), "{reply}");
    assert_eq!(count(&reply, "HTTP/1.1 "), 2, "{reply}");
    s.write_all(b"hello").unwrap();
    assert_eq!(read_until(&mut s, "hello"), "hello");
    server.shutdown();
}

/// A reader's bytes as a body: sized, with their `Content-Length`, or of
/// unknown length, chunked; a read that fails cuts the response short (the
/// connection closes without the message's end) and the reader is not
/// asked again.
#[test]
fn a_body_from_a_reader_goes_out_sized_or_chunked_and_a_failure_cuts_it_short() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// "abc", then an error on every later read, counting them.
    struct FailingAfterAbc(Arc<AtomicUsize>);
    impl futures_lite::AsyncRead for FailingAfterAbc {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::task::Poll::Ready(match self.0.fetch_add(1, Ordering::SeqCst) {
                0 => {
                    buf[..3].copy_from_slice(b"abc");
                    Ok(3)
                }
                _ => Err(std::io::Error::other("the disk failed")),
            })
        }
    }

    let reads = Arc::new(AtomicUsize::new(0));
    let counted = reads.clone();
    let service = move |request: lithe::io::Request| {
        let body = match request.path() {
            "/sized" => lithe::io::Body::from_reader(
                futures_lite::io::Cursor::new(vec![b'x'; 300_000]),
                Some(300_000),
            ),
            "/unsized" => lithe::io::Body::from_reader(
                futures_lite::io::Cursor::new(vec![b'y'; 100_000]),
                None,
            ),
            _ => lithe::io::Body::from_reader(FailingAfterAbc(counted.clone()), Some(10)),
        };
        async move { lithe::io::Response::new(lithe::proto::StatusCode::OK).with_body(body) }
    };
    let server = server_with(service, ServerConfig::default());
    let get = |path: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        exchange(server.local_addr(), request.as_bytes())
    };

    let reply = get("/sized");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("\r\ncontent-length: 300000"), "{head}");
    assert_eq!(body, "x".repeat(300_000));

    let reply = get("/unsized");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("\r\ntransfer-encoding: chunked"), "{head}");
    assert_eq!(dechunk(body), "y".repeat(100_000));

    let reply = get("/failing");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("\r\ncontent-length: 10"), "{head}");
    // Whatever of the 3 bytes read went out, the connection closes short of
    // the 10 bytes stated: the message is never whole.
    assert!(body.len() < 10, "{body:?}");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "read until its failure only"
    );
    server.shutdown();
}
