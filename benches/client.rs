//! The client connection against hyper's, side by side, with no kernel in the
//! way: each sends the same GETs one after another on one connection and reads
//! the same canned responses from memory, on the current thread.
//!
//! * `sequential/lithe`: [`ClientConnection::send`], then the body collected
//!   with [`ResponseBody::bytes`](lithe::io::ResponseBody::bytes).
//! * `sequential/hyper`: hyper's `client::conn::http1` sender and connection,
//!   the body collected with `http_body_util::BodyExt::collect`.
//!
//! Both send 1,024 requests and read a typical small response to each, which
//! the peer in memory hands out (in one read) only once the request was
//! written; the throughput is in requests. What is measured is the
//! user-space cost of one exchange: building and writing the request, parsing
//! the response head, reading its body.
//!
//! Run with `cargo bench --bench client`.

#[path = "support/interleaved.rs"]
mod interleaved;
#[path = "support/memory.rs"]
mod memory;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_lite::future;
use http_body_util::BodyExt;
use interleaved::report_interleaved;
use lithe::io::{ClientConfig, ClientConnection, Request};
use memory::Memory;

/// What a web server typically answers a small GET with.
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Date: Mon, 04 Mar 2024 12:00:00 GMT\r\n\
Server: nginx/1.24.0\r\n\
Content-Type: text/plain\r\n\
Content-Length: 13\r\n\
Connection: keep-alive\r\n\
\r\n\
Hello, World!";
const BODY: &[u8] = b"Hello, World!";
const REQUESTS: usize = 1024;
const HOST: &str = "127.0.0.1:8080";

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

/// Where the requests go: counted only, or kept for the check.
type Capture = Option<Arc<Mutex<Vec<u8>>>>;

/// The response bodies lithe's client read, in order.
fn fetch_with_lithe(input: &'static [u8], capture: Capture) -> Vec<Vec<u8>> {
    let io = Memory::answering(input, RESPONSE.len(), capture);
    future::block_on(async {
        let mut conn = ClientConnection::new(io, ClientConfig::default());
        let mut bodies = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let request = Request::new("GET", "/").with_header("host", HOST);
            let response = conn.send(request).await.expect("a response");
            assert_eq!(response.status().as_u16(), 200);
            let body = response.into_body().bytes(1024).await.expect("a body");
            bodies.push(body.to_vec());
        }
        bodies
    })
}

/// The response bodies hyper's client read, in order.
fn fetch_with_hyper(input: &'static [u8], capture: Capture) -> Vec<Vec<u8>> {
    let io = hyper_util::rt::TokioIo::new(Memory::answering(input, RESPONSE.len(), capture));
    future::block_on(async {
        let (mut sender, connection) = hyper::client::conn::http1::handshake::<
            _,
            http_body_util::Empty<hyper::body::Bytes>,
        >(io)
        .await
        .expect("handshake");
        let requests = async {
            let mut bodies = Vec::with_capacity(REQUESTS);
            for _ in 0..REQUESTS {
                let request = hyper::Request::builder()
                    .uri("/")
                    .header(hyper::header::HOST, HOST)
                    .body(http_body_util::Empty::new())
                    .expect("a valid request");
                let response = sender.send_request(request).await.expect("a response");
                assert_eq!(response.status().as_u16(), 200);
                let body = response.into_body().collect().await.expect("a body");
                bodies.push(body.to_bytes().to_vec());
            }
            bodies
        };
        // The connection runs beside the requests and waits for more input once
        // they are done; the requests finishing ends the race.
        future::or(requests, async {
            let ended = connection.await;
            panic!("hyper's connection ended before its requests: {ended:?}");
        })
        .await
    })
}

fn sequential(c: &mut Criterion) {
    let input: &'static [u8] = RESPONSE.repeat(REQUESTS).leak();
    // Both read every response whole, and send the same requests, byte for
    // byte: checked once, outside timing.
    let requests = |fetch: &dyn Fn(Capture) -> Vec<Vec<u8>>| {
        let capture = Arc::new(Mutex::new(Vec::new()));
        let bodies = fetch(Some(capture.clone()));
        assert_eq!(bodies, vec![BODY.to_vec(); REQUESTS]);
        let sent = capture.lock().unwrap().clone();
        let count = String::from_utf8_lossy(&sent)
            .matches("GET / HTTP/1.1\r\n")
            .count();
        assert_eq!(count, REQUESTS);
        sent
    };
    assert_eq!(
        String::from_utf8_lossy(&requests(&|capture| fetch_with_lithe(input, capture))),
        String::from_utf8_lossy(&requests(&|capture| fetch_with_hyper(input, capture))),
        "lithe's requests against hyper's"
    );

    let lithe_run = || {
        fetch_with_lithe(input, None);
    };
    let hyper_run = || {
        fetch_with_hyper(input, None);
    };
    let mut bench = c.benchmark_group("sequential");
    bench.throughput(Throughput::Elements(REQUESTS as u64));
    bench.bench_function("lithe", |b| b.iter(lithe_run));
    bench.bench_function("hyper", |b| b.iter(hyper_run));
    bench.finish();
    report_interleaved(
        "sequential: lithe's speed / hyper's",
        1,
        lithe_run,
        hyper_run,
    );
}

criterion_group! {
    name = benches;
    config = config();
    targets = sequential
}
criterion_main!(benches);
