//! The server connection driver against hyper's, side by side, with no kernel
//! in the way: each serves the same pipelined GETs from memory and writes its
//! responses into a sink, on the current thread.
//!
//! * `pipelined/lithe`: [`serve_connection`] with a hello-world service.
//! * `pipelined/hyper`: hyper's `http1::Builder::serve_connection` with the
//!   same service (pipelined responses flushed together, its header built
//!   from static bytes, and its timer given so that its default header-read
//!   timeout runs as lithe's timeouts do, as in the load benchmark's peer).
//!   Its timer costs it a clock reading and a boxed sleep per request head,
//!   where lithe arms its deadlines only when a read waits (here, never).
//! * `pipelined/hyper_untimed`: the same without a timer, so without a
//!   header-read timeout (hyper's default when given none): what a hyper
//!   deployment that does not bound a slow head pays.
//!
//! Both read 1,024 requests of the kind wrk sends, arriving 16 at a time (one
//! read each; `pipelined`) or one at a time (`one_per_read`, where every
//! response is written on its own), and the throughput is in requests. What is
//! measured is the user-space cost of one request, parse to response bytes,
//! which the load benchmark (`benches/load/run.sh`) shows only through the
//! noise of the kernel's loopback and a shared machine.
//!
//! Run with `cargo bench --bench server`; a filter naming one group
//! (`-- pipelined`) runs that group alone, its interleaved ratios included.

#[path = "support/interleaved.rs"]
mod interleaved;
#[path = "support/memory.rs"]
mod memory;

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use interleaved::{filter_allows, report_interleaved};
use lithe::io::{Request, Response, ServerConfig, serve_connection};
use lithe::proto::StatusCode;
use memory::Memory;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const REQUESTS: usize = 1024;
/// Requests per read, like wrk's pipeline script.
const DEPTH: usize = 16;
const RESPONSE_BODY: &str = "Hello, World!";

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

/// Polls a connection until it waits for input that will not come.
fn drive<F: Future>(connection: F) {
    /// Records whether the task asked to be polled again (hyper yields after
    /// 16 turns of its loop, lithe after 64 requests, by waking itself).
    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut connection = std::pin::pin!(connection);
    // The server waits for nothing but input, so a pending poll it did not
    // wake itself from means every request was answered (and flushed: both
    // flush before waiting to read).
    loop {
        flag.0.store(false, Ordering::Relaxed);
        if connection.as_mut().poll(&mut cx).is_ready() || !flag.0.load(Ordering::Relaxed) {
            return;
        }
    }
}

async fn lithe_hello(_: Request) -> Response {
    Response::new(StatusCode::OK)
        .with_header("content-type", "text/plain")
        .with_body(RESPONSE_BODY)
}

async fn hyper_hello(
    _: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<hyper::body::Bytes>>, Infallible> {
    let mut response = hyper::Response::new(http_body_util::Full::new(
        hyper::body::Bytes::from_static(RESPONSE_BODY.as_bytes()),
    ));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(response)
}

/// Where the responses go: counted only, or kept for the check.
type Capture = Option<Arc<Mutex<Vec<u8>>>>;

fn serve_with_lithe(input: &'static [u8], depth: usize, config: &ServerConfig, capture: Capture) {
    let io = Memory::new(input, REQUEST.len() * depth, capture);
    drive(serve_connection(io, lithe_hello, config));
}

/// hyper, with its header-read timeout when `timer` (as lithe's timeouts
/// run), or without it (hyper's default when it is given no timer).
fn serve_with_hyper(input: &'static [u8], depth: usize, timer: bool, capture: Capture) {
    let io = Memory::new(input, REQUEST.len() * depth, capture);
    let mut builder = hyper::server::conn::http1::Builder::new();
    if timer {
        builder.timer(hyper_util::rt::TokioTimer::new());
    }
    drive(builder.pipeline_flush(true).serve_connection(
        hyper_util::rt::TokioIo::new(io),
        hyper::service::service_fn(hyper_hello),
    ));
}

/// `REQUESTS` requests, `depth` per read, served by each side in turn.
fn serve(c: &mut Criterion, group: &str, depth: usize) {
    // Approximates criterion's regex match by prefixes: `group` and
    // `group/function` filters.
    if !filter_allows(|filter| group.starts_with(filter) || filter.starts_with(group)) {
        return;
    }
    let input: &'static [u8] = REQUEST.repeat(REQUESTS).leak();
    let config = ServerConfig::default();
    // hyper's timer sleeps on tokio's clock, which needs a runtime to be
    // entered (never driven here: no timeout comes due within a run).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let _in_tokio = runtime.enter();
    // Both answer every request, with as many bytes (the fields may come in
    // another order; both carry a date of the same length): checked once,
    // outside timing.
    let answers = |serve: &dyn Fn(Capture)| {
        let capture = Arc::new(Mutex::new(Vec::new()));
        serve(Some(capture.clone()));
        let output = capture.lock().unwrap();
        let text = String::from_utf8_lossy(&output);
        let heads = text.matches("HTTP/1.1 200 OK\r\n").count();
        (heads, text.matches(RESPONSE_BODY).count(), output.len())
    };
    let lithe = answers(&|capture| serve_with_lithe(input, depth, &config, capture));
    let hyper = answers(&|capture| serve_with_hyper(input, depth, true, capture));
    let untimed_hyper = answers(&|capture| serve_with_hyper(input, depth, false, capture));
    assert_eq!(hyper, untimed_hyper, "hyper's responses, timed and not");
    assert_eq!(
        (lithe.0, lithe.1),
        (REQUESTS, REQUESTS),
        "lithe's responses"
    );
    assert_eq!(
        (hyper.0, hyper.1),
        (REQUESTS, REQUESTS),
        "hyper's responses"
    );
    assert_eq!(lithe.2, hyper.2, "bytes written: lithe's, then hyper's");

    let lithe_run = || serve_with_lithe(input, depth, &config, None);
    let hyper_run = || serve_with_hyper(input, depth, true, None);
    let untimed_hyper_run = || serve_with_hyper(input, depth, false, None);
    let mut bench = c.benchmark_group(group);
    bench.throughput(Throughput::Elements(REQUESTS as u64));
    bench.bench_function("lithe", |b| b.iter(lithe_run));
    bench.bench_function("hyper", |b| b.iter(hyper_run));
    bench.bench_function("hyper_untimed", |b| b.iter(untimed_hyper_run));
    bench.finish();
    report_interleaved(
        &format!("{group}: lithe's speed / hyper's"),
        1,
        lithe_run,
        hyper_run,
    );
    report_interleaved(
        &format!("{group}: lithe's speed / hyper's without a header timeout"),
        1,
        lithe_run,
        untimed_hyper_run,
    );
}

fn pipelined(c: &mut Criterion) {
    serve(c, "pipelined", DEPTH);
}

fn one_per_read(c: &mut Criterion) {
    serve(c, "one_per_read", 1);
}

criterion_group! {
    name = benches;
    config = config();
    targets = pipelined, one_per_read
}
criterion_main!(benches);
