//! lithe's client against lithe's server (and each against hyper's other side),
//! over in-memory pipes of every size (plain and TLS) and over 127.0.0.1
//! (`rt::Server` and `rt::open`, plain and TLS, three clients at once), in
//! random exchanges that combine what each side may do: request and response
//! bodies of every framing (whole, sized stream, chunked stream, with
//! trailers), `Expect: 100-continue`, a service that reads all of the request
//! body, part of it, none of it or echoes it, HEAD, bodiless statuses,
//! `Connection: close` from either side, HTTP/1.0 requests with and without
//! keep-alive, request and response bodies whose stream fails, a client that
//! drops a response unread, and transports that fail at a random byte on either
//! side. Every exchange must end in time with what was sent (or, once a
//! transport failed, with an error: never a short body taken for whole), and a
//! connection whose exchange finished cleanly must be kept for the next. A
//! deterministic xorshift generator keeps failures reproducible: a failure
//! names its seed and plan. Eight seeds of 150 exchanges run over pipes by
//! default, four with failing transports, two with TLS over failing transports,
//! four with each of hyper's server and client, one over sockets and one over
//! TLS; `EXCHANGE_SEEDS=200 cargo test --release --test exchange_stress` runs
//! that many of each.
#![cfg(all(feature = "server", feature = "client", feature = "tls"))]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::XorShift;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use lithe::io::{
    Body, ClientConfig, ClientConnection, Headers, Request, Response, ServerConfig, duplex,
    serve_connection,
};
use lithe::proto::StatusCode;
use lithe::rt::tls::{TlsAcceptor, TlsConnector};
use lithe::rt::{ConnectConfig, ServeConfig, Server, Url, open};
use tokio_util::compat::FuturesAsyncReadCompatExt;

/// How a body is given to the sending side.
#[derive(Clone, Copy, Debug)]
enum Framing {
    Whole,
    SizedStream,
    Stream,
    WithTrailers,
}

impl Framing {
    /// Whether a body so given goes out chunked to an HTTP/1.1 peer (and
    /// delimited by the close to an HTTP/1.0 one).
    fn is_chunked(self) -> bool {
        matches!(self, Framing::Stream | Framing::WithTrailers)
    }
}

/// What the service does with the request body.
#[derive(Clone, Copy, Debug)]
enum Reads {
    All,
    Part(usize),
    Nothing,
    /// Answers with it as the response body.
    Echo,
}

/// One exchange: what each side sends, and what each does with what it
/// gets.
#[derive(Clone)]
struct Plan {
    method: &'static str,
    request_body: Option<(Vec<u8>, Framing)>,
    expect_continue: bool,
    reads: Reads,
    status: u16,
    response_body: (Vec<u8>, Framing),
    says_close: bool,
    client_says_close: bool,
    /// The request body's stream fails before its end.
    request_fails: bool,
    /// The response body's stream fails before its end.
    response_fails: bool,
    /// An HTTP/1.0 request, and whether it asks for keep-alive.
    http10: Option<bool>,
    client_reads: bool,
}

/// The plan with its bodies' lengths, not their bytes.
impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let request_body = self
            .request_body
            .as_ref()
            .map(|(b, framing)| (b.len(), framing));
        f.debug_struct("Plan")
            .field("method", &self.method)
            .field("request_body", &request_body)
            .field("expect_continue", &self.expect_continue)
            .field("reads", &self.reads)
            .field("status", &self.status)
            .field(
                "response_body",
                &(self.response_body.0.len(), self.response_body.1),
            )
            .field("says_close", &self.says_close)
            .field("client_says_close", &self.client_says_close)
            .field("request_fails", &self.request_fails)
            .field("response_fails", &self.response_fails)
            .field("http10", &self.http10)
            .field("client_reads", &self.client_reads)
            .finish()
    }
}

impl Plan {
    fn random(rng: &mut XorShift) -> Plan {
        const FRAMINGS: [Framing; 4] = [
            Framing::Whole,
            Framing::SizedStream,
            Framing::Stream,
            Framing::WithTrailers,
        ];
        let method = ["GET", "HEAD", "POST", "PUT"][rng.below(4)];
        let http10 = (rng.below(8) == 0).then(|| rng.below(2) == 0);
        let request_body = match method {
            "POST" | "PUT" => {
                // Past the server's 64 KiB drain limit now and then.
                let len = [0, 1, 100, 5000, 70_000][rng.below(5)];
                let framing = match FRAMINGS[rng.below(4)] {
                    // HTTP/1.0 has no chunked coding: a length, always.
                    Framing::Stream | Framing::WithTrailers if http10.is_some() => {
                        Framing::SizedStream
                    }
                    framing => framing,
                };
                Some((rng.bytes(len), framing))
            }
            _ => None,
        };
        let reads = match rng.below(4) {
            0 => Reads::All,
            1 => Reads::Part(rng.below(3000)),
            2 => Reads::Nothing,
            _ => Reads::Echo,
        };
        let response_len = [0, 1, 13, 3000, 100_000][rng.below(5)];
        let status = match [200, 200, 201, 404, 204, 304][rng.below(6)] {
            // A client stops sending the body on an error answer that comes
            // while it goes out (as curl does): an error echoing the body
            // would wait for the rest until the server's body timeout.
            404 if matches!(reads, Reads::Echo) => 200,
            status => status,
        };
        // Only a stream can fail, and only one with bytes to cut short.
        let can_fail = |bytes: &[u8], framing: Framing| {
            !bytes.is_empty() && !matches!(framing, Framing::Whole)
        };
        let response_body = (rng.bytes(response_len), FRAMINGS[rng.below(4)]);
        // A close-delimited body (to HTTP/1.0) cut short ends with a plain
        // close over a pipe, which cannot say it was cut short (documented:
        // `rt::Server` resets the connection instead).
        let ends_at_close = http10.is_some() && response_body.1.is_chunked();
        let response_can_fail = !matches!(reads, Reads::Echo)
            && can_fail(&response_body.0, response_body.1)
            && !ends_at_close;
        let request_can_fail =
            matches!(&request_body, Some((bytes, framing)) if can_fail(bytes, *framing));
        Plan {
            method,
            expect_continue: request_body.is_some() && rng.below(2) == 0,
            request_fails: request_can_fail && rng.below(5) == 0,
            response_fails: response_can_fail && rng.below(5) == 0,
            request_body,
            reads,
            status,
            response_body,
            says_close: rng.below(6) == 0,
            client_says_close: rng.below(8) == 0,
            client_reads: rng.below(5) != 0,
            http10,
        }
    }

    /// Whether the response carries content: not an answer to HEAD, nor a
    /// 204 or 304.
    fn response_has_content(&self) -> bool {
        self.method != "HEAD" && !matches!(self.status, 204 | 304)
    }

    /// The response body the client must read.
    fn expected_response(&self) -> Vec<u8> {
        match (self.response_has_content(), self.reads) {
            (false, _) => Vec::new(),
            (true, Reads::Echo) => self.request_bytes().to_vec(),
            (true, _) => self.response_body.0.clone(),
        }
    }

    fn request_bytes(&self) -> &[u8] {
        self.request_body.as_ref().map_or(&[], |(bytes, _)| bytes)
    }

    /// Whether the response from `peer` carries the trailer this test
    /// sends: its own, or an echoed request's, which lithe's `Body::from`
    /// passes on (hyper sends only trailers its response head names).
    fn expects_trailer(&self, peer: Peer) -> bool {
        let trailed = match self.reads {
            Reads::Echo => {
                peer == Peer::Lithe && matches!(self.request_body, Some((_, Framing::WithTrailers)))
            }
            _ => matches!(self.response_body.1, Framing::WithTrailers),
        };
        self.http10.is_none() && self.response_has_content() && trailed
    }

    /// Whether both sides finished the exchange and kept the connection:
    /// then it must be reusable.
    fn ends_cleanly(&self) -> bool {
        self.client_reads && self.keeps_the_connection() && self.request_body_read()
    }

    /// Whether the service reads the request body to its end.
    fn request_body_read(&self) -> bool {
        match self.reads {
            _ if self.request_body.is_none() => true,
            Reads::All => true,
            // Read past its last byte, to its end (the end of an empty
            // chunked body is bytes of its own, a client waiting for 100
            // Continue sends only when asked).
            Reads::Part(n) => n > self.request_bytes().len(),
            // Dropped unread with a response that has no content.
            Reads::Echo => self.response_has_content(),
            Reads::Nothing => false,
        }
    }

    /// Whether the response's content is delimited by the close: one of
    /// unknown length to HTTP/1.0 (an echo's length is the request's).
    fn response_ends_at_close(&self) -> bool {
        self.http10.is_some()
            && self.response_has_content()
            && !matches!(self.reads, Reads::Echo)
            && self.response_body.1.is_chunked()
    }

    /// Whether nothing in the plan closes the connection.
    fn keeps_the_connection(&self) -> bool {
        let response_fails = self.response_fails && self.response_has_content();
        // HTTP/1.0 keeps it when asked to, and the response has a length
        // (an echo's is the request body's, which HTTP/1.0 always states).
        let http10_kept = match self.http10 {
            None => true,
            Some(asked) => {
                let chunked =
                    !matches!(self.reads, Reads::Echo) && self.response_body.1.is_chunked();
                asked && !(self.response_has_content() && chunked)
            }
        };
        !self.says_close
            && !self.client_says_close
            && !self.request_fails
            && !response_fails
            && http10_kept
    }
}

/// `bytes` cut into pieces at random; with `fails`, failing before the last.
fn pieces(bytes: &[u8], fails: bool, rng: &mut XorShift) -> Vec<std::io::Result<Bytes>> {
    let mut pieces = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len() as u64);
        pieces.push(Ok(Bytes::copy_from_slice(&rest[..n])));
        rest = &rest[n..];
    }
    if fails {
        pieces.truncate(rng.below(pieces.len() as u64));
        pieces.push(Err(std::io::Error::other("the body's stream failed")));
    }
    pieces
}

/// `bytes` as a body given in `framing`, cut into pieces at random; with
/// `fails`, a stream that fails before its last piece.
fn body(bytes: &[u8], framing: Framing, fails: bool, rng: &mut XorShift) -> Body {
    let stream = futures_lite::stream::iter(pieces(bytes, fails, rng));
    let length = bytes.len() as u64;
    match framing {
        Framing::Whole => Body::from(bytes.to_vec()),
        Framing::SizedStream => Body::sized_stream(length, stream),
        Framing::Stream => Body::stream(stream),
        Framing::WithTrailers => Body::stream(stream).with_trailers(async move {
            let mut trailers = Headers::new();
            trailers.append("x-length", length.to_string());
            trailers
        }),
    }
}

/// What the service found wrong, for the test to report.
type Faults = Arc<Mutex<Vec<String>>>;

/// What a service read of a request body.
#[derive(Default)]
struct Read {
    bytes: Vec<u8>,
    /// Whether it read to the body's end.
    ended: bool,
    /// The `x-length` trailer found at the end.
    trailer: Option<String>,
    failed: Option<String>,
}

impl Read {
    /// Records in `faults` where what was read breaks plan `index`: bytes
    /// other than those sent, an end short of them (a body cut short read
    /// as whole), or a failure of a body sent whole.
    fn check(&self, index: usize, plan: &Plan, faults: &Faults) {
        let fault = |what: String| faults.lock().unwrap().push(format!("plan {index}: {what}"));
        let whole = plan.request_bytes();
        if !whole.starts_with(&self.bytes) {
            fault("wrong request bytes".to_owned());
        }
        if self.ended && self.bytes.len() != whole.len() {
            fault(format!(
                "request body ended at {} of {}",
                self.bytes.len(),
                whole.len()
            ));
        }
        match &self.failed {
            // The client's failure, which must never read as an end.
            Some(_) if plan.request_fails => {}
            Some(e) => fault(format!("read: {e}")),
            None if matches!(plan.reads, Reads::All) && !plan.request_fails && !self.ended => {
                fault("request body did not end".to_owned());
            }
            None => {}
        }
        let trailed = matches!(plan.request_body, Some((_, Framing::WithTrailers)));
        if self.ended && trailed && self.trailer != Some(self.bytes.len().to_string()) {
            fault(format!("request trailers {:?}", self.trailer));
        }
    }
}

/// The next piece of a request body, as a service reads it.
enum Piece {
    Data(Bytes),
    /// The `x-length` trailer, where trailers come as a piece of their own.
    Trailer(Option<String>),
    End,
    Failed(String),
}

/// What the service of `plan` reads of the request body, taking it from
/// `next` a piece at a time; `None` when it reads none of it.
async fn read_as_planned(plan: &Plan, mut next: impl AsyncFnMut() -> Piece) -> Option<Read> {
    let stop_after = match plan.reads {
        Reads::All => usize::MAX,
        Reads::Part(n) => n,
        Reads::Nothing | Reads::Echo => return None,
    };
    let mut read = Read::default();
    while read.bytes.len() < stop_after {
        match next().await {
            Piece::Data(data) => read.bytes.extend_from_slice(&data),
            Piece::Trailer(trailer) => read.trailer = trailer,
            Piece::End => {
                read.ended = true;
                break;
            }
            Piece::Failed(e) => {
                read.failed = Some(e);
                break;
            }
        }
    }
    Some(read)
}

/// Serves the plans, named by each request's `x-plan` field.
async fn serve(request: Request, plans: Arc<Vec<Plan>>, faults: Faults) -> Response {
    let index: usize = request
        .headers()
        .get_str("x-plan")
        .unwrap()
        .parse()
        .unwrap();
    let plan = &plans[index];
    let mut rng = XorShift(index as u64 + 1);
    let mut incoming = request.into_body();
    let read = read_as_planned(plan, async || match incoming.chunk().await {
        Ok(Some(piece)) => Piece::Data(piece),
        Ok(None) => Piece::End,
        Err(e) => Piece::Failed(e.to_string()),
    })
    .await;
    if let Some(mut read) = read {
        if read.ended {
            let trailers = incoming.trailers();
            read.trailer = trailers.and_then(|t| t.get_str("x-length").map(String::from));
        }
        read.check(index, plan, &faults);
    }
    let status = StatusCode::new(plan.status).unwrap();
    let body = match plan.reads {
        Reads::Echo => Body::from(incoming),
        _ => {
            drop(incoming);
            let (bytes, framing) = &plan.response_body;
            body(bytes, *framing, plan.response_fails, &mut rng)
        }
    };
    let mut response = Response::new(status).with_body(body);
    if plan.says_close {
        response = response.with_header("connection", "close");
    }
    response
}

/// How an exchange that did not go wrong ended.
enum Exchanged {
    /// As planned (which may be an error the plan causes).
    Done,
    /// Refused unsent: the request would go chunked, and the last response
    /// on the connection was HTTP/1.0 (as hyper answers an HTTP/1.0 request).
    ChunkedToHttp10,
}

/// What went wrong in an exchange.
enum Wrong {
    /// The client reported an error the plan does not cause (the one a
    /// transport failing on purpose may cause).
    Error(String),
    /// A wrong status, body or trailer, or no end: never right.
    Answer(String),
    /// A body delimited by the close that ended short of what was sent,
    /// the bytes it had all right: what a transport failing under it
    /// leaves over a pipe, which cannot say it was cut short.
    CutShortAtClose(String),
}

impl std::fmt::Display for Wrong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wrong::Error(e) => write!(f, "error {e}"),
            Wrong::Answer(e) => write!(f, "wrong answer: {e}"),
            Wrong::CutShortAtClose(e) => write!(f, "cut short at the close: {e}"),
        }
    }
}

/// One exchange of `plan` on `conn`: what went wrong, if anything.
async fn exchange<T: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut ClientConnection<T>,
    (index, peer): (usize, Peer),
    plan: &Plan,
    rng: &mut XorShift,
) -> Result<Exchanged, Wrong> {
    let mut request = Request::new(plan.method, "/")
        .with_header("host", "t")
        .with_header("x-plan", index.to_string());
    if plan.expect_continue {
        request = request.with_header("expect", "100-continue");
    }
    if plan.client_says_close {
        request = request.with_header("connection", "close");
    }
    if plan.http10.is_none() {
        // hyper's server sends trailers only to a client that takes them.
        request = request.with_header("te", "trailers");
    }
    if let Some(keep_alive) = plan.http10 {
        request = request.with_version(lithe::proto::Version::Http10);
        if keep_alive && !plan.client_says_close {
            request = request.with_header("connection", "keep-alive");
        }
    }
    if let Some((bytes, framing)) = &plan.request_body {
        request = request.with_body(body(bytes, *framing, plan.request_fails, rng));
    }
    // A body whose stream fails fails the exchange where that is found:
    // sending, or reading a response (one cut short, or one that goes on as
    // the request is sent). Never as a short success.
    // A server that closes without reading all of the request body (hyper
    // does not linger to read it, as ours does) resets the connection,
    // which makes a response delimited by the close one the client cannot
    // take as whole.
    let reset_at_close =
        peer == Peer::Hyper && plan.response_ends_at_close() && !plan.request_body_read();
    let may_fail = plan.request_fails
        || (plan.response_fails && plan.response_has_content())
        || reset_at_close;
    // What those faults make of an exchange: the upload's own stream error
    // or a reset (I/O errors), or a response cut short. A timeout, a
    // connection not reusable or any other protocol error is a fault of
    // either side all the same.
    let failed = |what: &str, e: lithe::io::Error| {
        let caused = matches!(
            &e,
            lithe::io::Error::Io(_)
                | lithe::io::Error::Protocol(lithe::proto::Error::IncompleteMessage)
        );
        match may_fail && caused {
            true => Ok(Exchanged::Done),
            false => Err(Wrong::Error(format!("{what}: {e}"))),
        }
    };
    let response = match conn.send(request).await {
        Ok(response) => response,
        Err(lithe::io::Error::ChunkedToHttp10) => return Ok(Exchanged::ChunkedToHttp10),
        Err(e) => return failed("send", e),
    };
    if response.status().as_u16() != plan.status {
        return Err(Wrong::Answer(format!("status {}", response.status())));
    }
    let mut received = response.into_body();
    if !plan.client_reads {
        // One piece at most, then dropped: the request is abandoned.
        let _ = received.chunk().await;
        return Ok(Exchanged::Done);
    }
    let mut bytes = Vec::new();
    loop {
        match received.chunk().await {
            Ok(Some(piece)) => bytes.extend_from_slice(&piece),
            Ok(None) => break,
            Err(e) => return failed("body", e),
        }
    }
    let expected = plan.expected_response();
    if bytes != expected {
        let what = format!(
            "response body of {} bytes, {} expected",
            bytes.len(),
            expected.len()
        );
        return match plan.response_ends_at_close() && expected.starts_with(&bytes) {
            true => Err(Wrong::CutShortAtClose(what)),
            false => Err(Wrong::Answer(what)),
        };
    }
    let length = received
        .trailers()
        .and_then(|t| t.get_str("x-length").map(String::from));
    if plan.expects_trailer(peer) && length != Some(bytes.len().to_string()) {
        return Err(Wrong::Answer(format!("response trailers {length:?}")));
    }
    Ok(Exchanged::Done)
}

/// `count` random plans from `seed`, and where the service records what it
/// found wrong.
fn plans(rng: &mut XorShift, count: usize) -> (Arc<Vec<Plan>>, Faults) {
    let plans = (0..count).map(|_| Plan::random(rng)).collect();
    (Arc::new(plans), Faults::default())
}

/// A client that waits for `100 Continue` as long as it takes: a server
/// that leaves out one it owes shows as an exchange that never ends.
fn patient_client() -> ClientConfig {
    ClientConfig {
        continue_timeout: Duration::MAX,
        ..ClientConfig::default()
    }
}

/// Which server the client talks to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// Ours: a connection it will close says so in the head.
    Lithe,
    /// hyper's, which closes a connection whose request body was left
    /// unread without saying so: the next request would find it closed.
    Hyper,
}

/// What a run of exchanges reports its failures with, and against whom.
#[derive(Clone, Copy)]
struct Run<'a> {
    seed: u64,
    peer: Peer,
    /// Set once a transport has failed on purpose: from then on, an
    /// exchange may fail, and the connection goes.
    failed: Option<&'a AtomicBool>,
}

/// Exchanges the plans from `next` (to `end`) on `conn` for as long as it
/// stays reusable; where the next connection starts.
async fn exchanges_on<T: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut ClientConnection<T>,
    run: Run<'_>,
    plans: &[Plan],
    (mut next, end): (usize, usize),
    rng: &mut XorShift,
) -> usize {
    let Run { seed, peer, failed } = run;
    let transport_failed = || failed.is_some_and(|f| f.load(Ordering::Relaxed));
    let mut last_was_http10 = false;
    loop {
        let plan = &plans[next];
        let outcome = future::or(exchange(conn, (next, peer), plan, rng), async {
            async_io::Timer::after(Duration::from_secs(5)).await;
            Err(Wrong::Answer("no end within 5 s".to_owned()))
        })
        .await;
        match outcome {
            Ok(Exchanged::Done) => {}
            // Sent again on a fresh connection, as the error asks.
            Ok(Exchanged::ChunkedToHttp10) if last_was_http10 => return next,
            Ok(Exchanged::ChunkedToHttp10) => {
                panic!("seed {seed}, plan {next}: chunked to HTTP/1.0 unasked: {plan:?}")
            }
            Err(Wrong::Error(_)) if transport_failed() => return next + 1,
            // A response delimited by the close that a failure cut short
            // ends with a plain close over a pipe, which cannot say so
            // (documented at `serve_connection`: `rt::Server` resets).
            Err(Wrong::CutShortAtClose(_)) if transport_failed() => return next + 1,
            Err(e) => panic!("seed {seed}, plan {next}: {e}: {plan:?}"),
        }
        if transport_failed() {
            return next + 1;
        }
        last_was_http10 = plan.http10.is_some();
        let reusable = conn.is_reusable();
        if !plan.keeps_the_connection() && reusable {
            panic!("seed {seed}, plan {next}: kept after close: {plan:?}");
        }
        if plan.ends_cleanly() && !reusable {
            panic!("seed {seed}, plan {next}: not kept after a clean end: {plan:?}");
        }
        next += 1;
        let may_close_unsaid = peer == Peer::Hyper && !plan.ends_cleanly();
        if !reusable || next == end || may_close_unsaid {
            return next;
        }
    }
}

/// `count` random exchanges from `seed` over in-memory pipes, each
/// connection kept for as long as the client finds it reusable.
fn exchanges_over_pipes(seed: u64, count: usize) {
    let mut rng = XorShift(seed);
    let (plans, faults) = plans(&mut rng, count);
    let run = Run {
        seed,
        peer: Peer::Lithe,
        failed: None,
    };
    let (mut next, mut connections) = (0, 0);
    while next < count {
        connections += 1;
        // How much of an unread body the server drains, and whether a
        // client's half close abandons its request: neither may change a
        // clean exchange.
        let config = ServerConfig {
            drain_limit: [0, 64 * 1024, 1 << 20][rng.below(3)],
            half_close: rng.below(2) == 0,
            ..ServerConfig::default()
        };
        let (server_end, client_end) = pipe(&mut rng);
        let ends = (async { Some(server_end) }, async { Some(client_end) });
        let shared = (&plans, &faults, &config);
        next = common::run(serve_and_exchange(
            ends,
            shared,
            run,
            (next, count),
            &mut rng,
        ));
        let faults = faults.lock().unwrap();
        assert!(faults.is_empty(), "seed {seed}: {faults:?}");
    }
    // Enough reuse that keep-alive paths were exercised.
    assert!(
        connections < count * 3 / 4,
        "{connections} connections for {count}"
    );
}

/// The same over 127.0.0.1, through `rt::Server` (two workers) and
/// `rt::open`: plain, or over TLS, from `clients` threads at once, each with
/// its share of the plans.
fn exchanges_over_sockets(seed: u64, count: usize, tls: bool, clients: usize) {
    let mut rng = XorShift(seed);
    let (plans, faults) = plans(&mut rng, count);
    let (cert, key) = common::certificate_for(&["localhost"]);
    let config = ServeConfig {
        threads: 2,
        tls: tls.then(|| TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).unwrap()),
        ..ServeConfig::default()
    };
    let service = {
        let (plans, faults) = (plans.clone(), faults.clone());
        move |request: Request| serve(request, plans.clone(), faults.clone())
    };
    let server = Server::bind("127.0.0.1:0", service, config).unwrap();
    let scheme = if tls { "https" } else { "http" };
    let url = Url::parse(&format!(
        "{scheme}://localhost:{}/",
        server.local_addr().port()
    ))
    .unwrap();
    let connect = ConnectConfig {
        client: patient_client(),
        tls: Some(TlsConnector::with_pem_roots(cert.as_bytes()).unwrap()),
        ..ConnectConfig::default()
    };
    let share = count.div_ceil(clients);
    std::thread::scope(|scope| {
        for start in (0..count).step_by(share) {
            let (plans, url, connect) = (&plans, &url, &connect);
            let mut rng = XorShift(rng.next());
            scope.spawn(move || {
                let (mut next, end) = (start, count.min(start + share));
                while next < end {
                    common::run(async {
                        let mut conn = open(url, connect).await.unwrap();
                        let run = Run {
                            seed,
                            peer: Peer::Lithe,
                            failed: None,
                        };
                        next = exchanges_on(&mut conn, run, plans, (next, end), &mut rng).await;
                    });
                }
            });
        }
    });
    let faults = faults.lock().unwrap();
    assert!(faults.is_empty(), "seed {seed}: {faults:?}");
    server.shutdown();
}

/// A hyper response body.
type HyperBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// `bytes` as a hyper body given in `framing` (a sized stream's length is
/// the caller's to state), cut and failing as [`body`]'s.
fn hyper_body(bytes: &[u8], framing: Framing, fails: bool, rng: &mut XorShift) -> HyperBody {
    let mut frames: Vec<_> = pieces(bytes, fails, rng)
        .into_iter()
        .map(|piece| piece.map(Frame::data))
        .collect();
    match framing {
        Framing::Whole => {
            let whole = Full::new(Bytes::copy_from_slice(bytes));
            return whole.map_err(|never| match never {}).boxed_unsync();
        }
        Framing::WithTrailers => {
            let mut trailers = hyper::HeaderMap::new();
            trailers.insert("x-length", bytes.len().into());
            frames.push(Ok(Frame::trailers(trailers)));
        }
        Framing::SizedStream | Framing::Stream => {}
    }
    StreamBody::new(futures_lite::stream::iter(frames)).boxed_unsync()
}

/// The plans served by hyper, as [`serve`] serves them.
async fn serve_with_hyper(
    request: hyper::Request<hyper::body::Incoming>,
    plans: Arc<Vec<Plan>>,
    faults: Faults,
) -> Result<hyper::Response<HyperBody>, std::convert::Infallible> {
    let index: usize = request.headers()["x-plan"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let plan = &plans[index];
    let mut rng = XorShift(index as u64 + 1);
    let mut incoming = request.into_body();
    let read = read_as_planned(plan, async || match incoming.frame().await {
        Some(Ok(frame)) => match frame.into_data() {
            Ok(data) => Piece::Data(data),
            Err(frame) => {
                let trailers = frame.into_trailers().ok();
                let length = trailers.as_ref().and_then(|t| t.get("x-length"));
                Piece::Trailer(length.map(|v| v.to_str().unwrap().to_owned()))
            }
        },
        None => Piece::End,
        Some(Err(e)) => Piece::Failed(e.to_string()),
    })
    .await;
    if let Some(read) = read {
        read.check(index, plan, &faults);
    }
    let (bytes, framing) = &plan.response_body;
    let body = match plan.reads {
        Reads::Echo => incoming.map_err(std::io::Error::other).boxed_unsync(),
        _ => {
            drop(incoming);
            hyper_body(bytes, *framing, plan.response_fails, &mut rng)
        }
    };
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(plan.status).unwrap();
    let headers = response.headers_mut();
    if plan.says_close {
        headers.insert("connection", "close".parse().unwrap());
    }
    match framing {
        _ if matches!(plan.reads, Reads::Echo) => {}
        Framing::SizedStream => {
            headers.insert("content-length", bytes.len().into());
        }
        // hyper sends only the trailer fields the head names.
        Framing::WithTrailers => {
            headers.insert("trailer", "x-length".parse().unwrap());
        }
        Framing::Whole | Framing::Stream => {}
    }
    Ok(response)
}

/// The exchanges of [`exchanges_over_pipes`], with hyper's server.
fn exchanges_with_a_hyper_server(seed: u64, count: usize) {
    let mut rng = XorShift(seed);
    let (plans, faults) = plans(&mut rng, count);
    let mut next = 0;
    while next < count {
        let (server_end, client_end) = pipe(&mut rng);
        let service = {
            let (plans, faults) = (plans.clone(), faults.clone());
            hyper::service::service_fn(move |request| {
                serve_with_hyper(request, plans.clone(), faults.clone())
            })
        };
        let server = async {
            let transport = TokioIo::new(server_end.compat());
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(transport, service)
                .await;
        };
        let client = async {
            let mut conn = ClientConnection::new(client_end, patient_client());
            let run = Run {
                seed,
                peer: Peer::Hyper,
                failed: None,
            };
            next = exchanges_on(&mut conn, run, &plans, (next, count), &mut rng).await;
        };
        common::run(future::zip(server, client));
        let faults = faults.lock().unwrap();
        assert!(faults.is_empty(), "seed {seed}: {faults:?}");
    }
}

/// One exchange of `plan` from hyper's client to our server on `sender`:
/// what went wrong, if anything, and whether the connection may go on.
async fn hyper_exchange(
    sender: &mut hyper::client::conn::http1::SendRequest<HyperBody>,
    index: usize,
    plan: &Plan,
    rng: &mut XorShift,
) -> Result<bool, String> {
    let mut request = hyper::Request::builder()
        .method(plan.method)
        .uri("/")
        .header("host", "t")
        .header("x-plan", index.to_string())
        .header("te", "trailers");
    if plan.client_says_close {
        request = request.header("connection", "close");
    }
    let body = match &plan.request_body {
        None => Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync(),
        Some((bytes, framing)) => {
            match framing {
                Framing::SizedStream => request = request.header("content-length", bytes.len()),
                Framing::WithTrailers => request = request.header("trailer", "x-length"),
                Framing::Whole | Framing::Stream => {}
            }
            hyper_body(bytes, *framing, plan.request_fails, rng)
        }
    };
    let may_fail = plan.request_fails || (plan.response_fails && plan.response_has_content());
    let failed = |what: &str, e: hyper::Error| match may_fail {
        true => Ok(false),
        false => Err(format!("{what}: {e}")),
    };
    let response = match sender.send_request(request.body(body).unwrap()).await {
        Ok(response) => response,
        Err(e) => return failed("send", e),
    };
    if response.status().as_u16() != plan.status {
        return Err(format!("status {}", response.status()));
    }
    let mut received = response.into_body();
    if !plan.client_reads {
        let _ = received.frame().await;
        return Ok(false);
    }
    let (mut bytes, mut trailer) = (Vec::new(), None);
    while let Some(frame) = received.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => return failed("body", e),
        };
        match frame.into_data() {
            Ok(data) => bytes.extend_from_slice(&data),
            Err(frame) => {
                let trailers = frame.into_trailers().ok();
                let length = trailers.as_ref().and_then(|t| t.get("x-length"));
                trailer = length.map(|v| v.to_str().unwrap().to_owned());
            }
        }
    }
    if bytes != plan.expected_response() {
        return Err(format!(
            "response body of {} bytes, {} expected",
            bytes.len(),
            plan.expected_response().len()
        ));
    }
    if plan.expects_trailer(Peer::Lithe) && trailer != Some(bytes.len().to_string()) {
        return Err(format!("response trailers {trailer:?}"));
    }
    Ok(plan.ends_cleanly())
}

/// The exchanges of [`exchanges_over_pipes`] from hyper's client (which
/// sends no request of HTTP/1.0, and the body at once, whatever the
/// `Expect` field), each connection kept after a clean end.
fn exchanges_from_a_hyper_client(seed: u64, count: usize) {
    let mut rng = XorShift(seed);
    let (plans, faults) = plans(&mut rng, count);
    let plans: Arc<Vec<Plan>> = Arc::new(
        plans
            .iter()
            .cloned()
            .map(|plan| Plan {
                http10: None,
                expect_continue: false,
                ..plan
            })
            .collect(),
    );
    let config = ServerConfig::default();
    let (mut next, mut connections) = (0, 0);
    while next < count {
        connections += 1;
        let (server_end, client_end) = pipe(&mut rng);
        let server = our_server(server_end, (&plans, &faults, &config));
        let client = async {
            let transport = TokioIo::new(client_end.compat());
            let (mut sender, connection) = hyper::client::conn::http1::handshake(transport)
                .await
                .unwrap();
            let done = lithe::io::Shutdown::new();
            let exchanges = async {
                loop {
                    let plan = &plans[next];
                    let exchange = hyper_exchange(&mut sender, next, plan, &mut rng);
                    let outcome = future::or(exchange, async {
                        async_io::Timer::after(Duration::from_secs(5)).await;
                        Err("no end within 5 s".to_owned())
                    })
                    .await;
                    let kept = outcome
                        .unwrap_or_else(|e| panic!("seed {seed}, plan {next}: {e}: {plan:?}"));
                    next += 1;
                    if !kept || next == count {
                        break;
                    }
                    if let Err(e) = sender.ready().await {
                        panic!("seed {seed}, plan {}: not kept: {e}: {plan:?}", next - 1);
                    }
                }
                drop(sender);
                done.trigger();
            };
            // Done, the connection is dropped rather than awaited: hyper's
            // holds on to one whose response body was dropped while its
            // request body still goes out (until our write timeout).
            let connection = future::or(async { drop(connection.await) }, done.triggered());
            let _ = future::zip(connection, exchanges).await;
        };
        common::run(future::zip(server, client));
        let faults = faults.lock().unwrap();
        assert!(faults.is_empty(), "seed {seed}: {faults:?}");
    }
    assert!(
        connections < count * 3 / 4,
        "{connections} connections for {count}"
    );
}

/// A transport that fails (a reset) once `budget` bytes have moved either
/// way, a write crossing it cut short first.
struct Failing<T> {
    inner: T,
    budget: usize,
    failed: Arc<AtomicBool>,
}

impl<T> Failing<T> {
    /// Up to how many bytes the next read or write may move: none once
    /// failed.
    fn allowance(&mut self, wanted: usize) -> std::io::Result<usize> {
        if self.budget == 0 {
            self.failed.store(true, Ordering::Relaxed);
            return Err(std::io::ErrorKind::ConnectionReset.into());
        }
        Ok(wanted.min(self.budget))
    }

    fn moved(&mut self, result: &Poll<std::io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = result {
            self.budget -= n;
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Failing<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = self.allowance(buf.len())?;
        let read = Pin::new(&mut self.inner).poll_read(cx, &mut buf[..n]);
        self.moved(&read);
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Failing<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = self.allowance(buf.len())?;
        let written = Pin::new(&mut self.inner).poll_write(cx, &buf[..n]);
        self.moved(&written);
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// Our server serving the plans on `transport` until the connection ends.
async fn our_server<T: lithe::io::Transport + 'static>(
    transport: T,
    (plans, faults, config): (&Arc<Vec<Plan>>, &Faults, &ServerConfig),
) {
    let service = |request: Request| serve(request, plans.clone(), faults.clone());
    let _ = serve_connection(transport, service, config).await;
}

/// A pipe of a random size, from a few bytes (which split every message
/// into many reads) to more than any message here.
fn pipe(rng: &mut XorShift) -> (lithe::io::DuplexStream, lithe::io::DuplexStream) {
    duplex([7, 512, 16 * 1024, 256 * 1024][rng.below(4)])
}

/// Our server on the end `server_end` makes (none: the handshake failed)
/// and our client on the one `client_end` makes, exchanging the plans from
/// `next` for as long as the connection lasts; where the next connection
/// starts. Each side begins as soon as its end is made: a TLS server may
/// still be writing its session tickets when the client's handshake is
/// done, which the client reads with its first response.
async fn serve_and_exchange<S, C>(
    (server_end, client_end): (
        impl Future<Output = Option<S>>,
        impl Future<Output = Option<C>>,
    ),
    (plans, faults, config): (&Arc<Vec<Plan>>, &Faults, &ServerConfig),
    run: Run<'_>,
    (next, count): (usize, usize),
    rng: &mut XorShift,
) -> usize
where
    S: lithe::io::Transport + 'static,
    C: AsyncRead + AsyncWrite + Unpin,
{
    let server = async {
        if let Some(server_end) = server_end.await {
            our_server(server_end, (plans, faults, config)).await;
        }
    };
    let client = async {
        let Some(client_end) = client_end.await else {
            // The plans wait for the next connection.
            return next;
        };
        let mut conn = ClientConnection::new(client_end, patient_client());
        let next = exchanges_on(&mut conn, run, plans, (next, count), rng).await;
        // Closed (over TLS with its closure alert) or dropped: either ends
        // in time, and lets the server end. A close fails only where a
        // transport failed on purpose.
        if rng.below(2) == 0 {
            let closed = conn.close().await;
            let failed = run.failed.is_some_and(|f| f.load(Ordering::Relaxed));
            assert!(
                closed.is_ok() || failed,
                "seed {}: close: {closed:?}",
                run.seed
            );
        }
        next
    };
    future::zip(server, client).await.1
}

/// The end the client's TLS handshake made: none if a transport failed on
/// purpose, the only way it may fail here.
fn handshaken<T>(made: Result<T, lithe::io::Error>, failed: &AtomicBool) -> Option<T> {
    match made {
        Ok(end) => Some(end),
        Err(_) if failed.load(Ordering::Relaxed) => None,
        Err(e) => panic!("handshake: {e}"),
    }
}

/// The exchanges of [`exchanges_over_pipes`], the client's transport, the
/// server's or both failing at a random byte on each connection (or none:
/// the TLS over pipes of a few bytes is a test of its own), and with `tls`
/// TLS over them: an exchange may then fail, but in time, and never with a
/// wrong answer (a short body taken for whole, say); each side lets the
/// connection go.
fn exchanges_over_failing_pipes(seed: u64, count: usize, tls: bool) {
    let mut rng = XorShift(seed);
    let (plans, faults) = plans(&mut rng, count);
    let config = ServerConfig::default();
    let (cert, key) = common::certificate_for(&["localhost"]);
    let acceptor = TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let connector = TlsConnector::with_pem_roots(cert.as_bytes()).unwrap();
    let mut next = 0;
    while next < count {
        let first = next;
        let capacity = [7, 512, 16 * 1024][rng.below(3)];
        let (server_end, client_end) = duplex(capacity);
        let failed = Arc::new(AtomicBool::new(false));
        let sides = rng.below(4);
        let mut failing = |end, fails: bool| Failing {
            inner: end,
            budget: if fails {
                rng.below(300_000)
            } else {
                usize::MAX
            },
            failed: failed.clone(),
        };
        let client_end = failing(client_end, sides == 0 || sides == 2);
        let server_end = failing(server_end, sides == 1 || sides == 2);
        let run = Run {
            seed,
            peer: Peer::Lithe,
            failed: Some(&failed),
        };
        let shared = (&plans, &faults, &config);
        let plans_left = (next, count);
        next = common::run(async {
            if !tls {
                let ends = (async { Some(server_end) }, async { Some(client_end) });
                return serve_and_exchange(ends, shared, run, plans_left, &mut rng).await;
            }
            let ends = (
                // The client may be done before the server's handshake is
                // (refused unsent, its request body failing): no check there.
                async { acceptor.accept(server_end).await.ok() },
                async { handshaken(connector.connect("localhost", client_end).await, &failed) },
            );
            serve_and_exchange(ends, shared, run, plans_left, &mut rng).await
        });
        let mut faults = faults.lock().unwrap();
        if failed.load(Ordering::Relaxed) && next > first {
            // The service's read of the request the failure cut off fails
            // (the last plan: the failure ends the connection); a body read
            // as whole when it was not is still a fault.
            let cut_off = format!("plan {}: read: ", next - 1);
            faults.retain(|fault| !fault.starts_with(&cut_off));
        }
        assert!(
            faults.is_empty(),
            "seed {seed}, plans {first}..{next}: {faults:?}"
        );
    }
}

/// The seeds to run: `default` of them, or `EXCHANGE_SEEDS`.
fn seeds(default: u64) -> std::ops::RangeInclusive<u64> {
    1..=std::env::var("EXCHANGE_SEEDS").map_or(default, |n| n.parse().unwrap())
}

#[test]
fn random_exchanges_between_our_client_and_server_end_well() {
    for seed in seeds(8) {
        exchanges_over_pipes(seed, 150);
    }
}

#[test]
fn random_exchanges_over_failing_transports_end_in_time() {
    for seed in seeds(4) {
        exchanges_over_failing_pipes(seed, 150, false);
    }
}

#[test]
fn random_exchanges_over_tls_on_failing_transports_end_in_time() {
    for seed in seeds(2) {
        exchanges_over_failing_pipes(seed, 150, true);
    }
}

#[test]
fn random_exchanges_with_a_hyper_server_end_well() {
    for seed in seeds(4) {
        exchanges_with_a_hyper_server(seed, 150);
    }
}

#[test]
fn random_exchanges_from_a_hyper_client_end_well() {
    for seed in seeds(4) {
        exchanges_from_a_hyper_client(seed, 150);
    }
}

#[test]
fn random_exchanges_over_sockets_end_well() {
    for seed in seeds(1) {
        exchanges_over_sockets(seed, 150, false, 3);
    }
}

#[test]
fn random_exchanges_over_tls_end_well() {
    for seed in seeds(1) {
        exchanges_over_sockets(seed, 150, true, 3);
    }
}
