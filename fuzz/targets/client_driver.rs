//! The `client_driver` target: lithe's async client connection
//! (`lithe::io::ClientConnection`) reading an arbitrary response stream over an
//! in-memory pipe, checked against what `proto` alone reads from the same bytes.
//!
//! Layout: a method byte (its low three bits: the requests of
//! [`client_response`](super::client_response)) and a feed header, then the
//! response stream. The client sends its request again while the connection
//! stays reusable, and reads each body to its end. The peer answers as a
//! server does, only what it was asked: the stream is cut where `proto`
//! found each message to end, and each part is written (in the feed's
//! pieces) once the next request has arrived, body and all; the rest follows
//! one more request, then the peer closes. So a POST that expects 100
//! Continue gets nothing before its body: the client sends it after its
//! continue timeout (1 ms here), as `proto`'s eager client sends it at once,
//! and skips the `100` that comes late.
//!
//! Invariants:
//! * the client finishes once the stream is closed: no panic, no hang;
//! * it reads the same final responses as `proto` does (status, fields and
//!   body), in order: every response `proto` reads to its end is one the client
//!   returns whole;
//! * where `proto` fails inside a body, the client fails that body after the
//!   same bytes; where it fails on a head, or the stream ends between
//!   responses, sending the next request fails;
//! * after a protocol switch, the bytes that followed the head are handed over
//!   exactly; a 101 that names a protocol other than the one the request
//!   offered (`websocket`) is a failure to the client (RFC 9110 §7.8), which
//!   `proto`, knowing nothing of the offer, switches on.

use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use lithe::io::{Body, ClientConfig, ClientConnection, Request, duplex};
use lithe::proto::{Connection, Version};

use super::{Delivery, Feed, Fields, Method, Run, Seen, Us};

/// How long one input may take before the target reports a hang.
const HANG: Duration = Duration::from_secs(10);

/// What reading one response came to, for the client and for `proto` alike.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A final response read to its end.
    Whole {
        status: u16,
        headers: Fields,
        body: Vec<u8>,
    },
    /// A final response whose body failed after `body`.
    BodyFailed {
        status: u16,
        headers: Fields,
        body: Vec<u8>,
    },
    /// No final response: the head was refused or the stream ended first.
    Failed,
    /// The connection switched protocols; `rest` followed the head.
    Switched { status: u16, rest: Vec<u8> },
}

pub fn client_driver(data: &[u8]) {
    let Some((&method, rest)) = data.split_first() else {
        return;
    };
    let method = Method::from_byte(method);
    let (feed, stream) = Feed::parse(rest);
    let config = feed.config();
    let (trace, ends) = Run::new(Connection::client(config), Us::EagerClient(method), stream)
        .deliver_with_ends(&Delivery::Whole);
    let expected = outcomes(&trace, stream);
    let got = drive(config, method, feed.lengths(), stream, &ends);
    assert_eq!(
        got, expected,
        "the client and proto read the stream differently"
    );
}

/// The outcomes `proto`'s trace implies for a client that sends its request
/// again while the connection stays reusable.
fn outcomes(trace: &[Seen], stream: &[u8]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    // The final response being read: status, fields, body so far.
    let mut open: Option<(u16, Fields, Vec<u8>)> = None;
    for (i, seen) in trace.iter().enumerate() {
        match seen {
            Seen::Response {
                status, headers, ..
            } => {
                if let Some(Seen::Switched { rest }) = trace.get(i + 1) {
                    outcomes.push(
                        match *status == 101 && !names_only_websocket(&unfolded(headers)) {
                            true => Outcome::Failed,
                            false => Outcome::Switched {
                                status: *status,
                                rest: stream[stream.len() - rest..].to_vec(),
                            },
                        },
                    );
                    return outcomes;
                }
                if *status >= 200 {
                    open = Some((*status, unfolded(headers), Vec::new()));
                }
            }
            Seen::Body(bytes) => {
                if let Some((_, _, body)) = open.as_mut() {
                    *body = bytes.clone();
                }
            }
            Seen::End { .. } => {
                if let Some((status, headers, body)) = open.take() {
                    outcomes.push(Outcome::Whole {
                        status,
                        headers,
                        body,
                    });
                }
            }
            Seen::Failed(_) => {
                outcomes.push(match open.take() {
                    Some((status, headers, body)) => Outcome::BodyFailed {
                        status,
                        headers,
                        body,
                    },
                    None => Outcome::Failed,
                });
                return outcomes;
            }
            // The last response closes the connection (with bytes after it or
            // none): the client sends nothing more. A reusable connection would
            // have sent the next request, and an end of stream would fail it.
            Seen::Closed | Seen::Stalled { .. } => {
                assert!(open.is_none(), "proto stopped inside a body: {seen:?}");
                return outcomes;
            }
            Seen::Request { .. } | Seen::Switched { .. } => {}
        }
    }
    outcomes
}

/// Whether every protocol the Upgrade fields name (comma-separated lists,
/// SP and HTAB around elements and empty elements ignored) is `websocket`,
/// the one the upgrading request offers, in any case.
fn names_only_websocket(fields: &Fields) -> bool {
    fields
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("upgrade"))
        .flat_map(|(_, value)| value.split(|&b| b == b','))
        .map(|element| {
            let start = element.iter().position(|&b| !matches!(b, b' ' | b'\t'));
            let end = element.iter().rposition(|&b| !matches!(b, b' ' | b'\t'));
            match (start, end) {
                (Some(start), Some(end)) => &element[start..=end],
                _ => &element[..0],
            }
        })
        .filter(|element| !element.is_empty())
        .all(|element| element.eq_ignore_ascii_case(b"websocket"))
}

/// `fields` as a recipient reads them (RFC 9112 §5.2): proto hands a fold
/// (its leniency on) over with its line break, the client replaces it with
/// spaces, one for each CR and LF and each SP or HTAB after them.
fn unfolded(fields: &Fields) -> Fields {
    let unfold = |value: &[u8]| {
        let mut in_fold = false;
        value
            .iter()
            .map(|&b| {
                in_fold = matches!(b, b'\r' | b'\n') || (in_fold && matches!(b, b' ' | b'\t'));
                if in_fold { b' ' } else { b }
            })
            .collect()
    };
    fields
        .iter()
        .map(|(name, value)| (name.clone(), unfold(value)))
        .collect()
}

/// The request [`client_response`](super::client_response) sends for `method`,
/// through the client's API.
fn request(method: Method) -> Request<Body> {
    let request = match method {
        Method::Get => Request::new("GET", "/"),
        Method::Head => Request::new("HEAD", "/"),
        Method::Connect => Request::new("CONNECT", "example.com:443"),
        Method::PostWithBody => Request::new("POST", "/submit").with_body("hello"),
        Method::PostExpecting => Request::new("POST", "/submit")
            .with_header("Expect", "100-continue")
            .with_body("hello"),
        Method::GetHttp10 => Request::new("GET", "/").with_version(Version::Http10),
        Method::GetClosing => Request::new("GET", "/").with_header("Connection", "close"),
        Method::GetUpgrading => Request::new("GET", "/chat")
            .with_header("Connection", "upgrade")
            .with_header("Upgrade", "websocket"),
    };
    // A target with an authority has it for Host too (RFC 9112 §3.2).
    let host = request.host().unwrap_or("example.com").to_owned();
    request.with_header("Host", host)
}

/// Runs the client against a peer answering from `stream`, one part (up to
/// each of `ends`, then the rest) per request, in pieces of the given
/// `lengths`; returns what the client read.
fn drive(
    config: lithe::proto::Config,
    method: Method,
    lengths: impl Iterator<Item = usize>,
    stream: &[u8],
    ends: &[usize],
) -> Vec<Outcome> {
    let (client_end, server_end) = duplex(64 * 1024);
    let client = async {
        let config = ClientConfig {
            proto: config,
            // The peer answers a request once its body is in: the wait for
            // 100 Continue always ends at this timeout.
            continue_timeout: Duration::from_millis(1),
            ..ClientConfig::default()
        };
        let mut conn = ClientConnection::new(client_end, config);
        let mut outcomes = Vec::new();
        while conn.is_reusable() {
            let response = match conn.send(request(method)).await {
                Ok(response) => response,
                Err(_) => {
                    outcomes.push(Outcome::Failed);
                    break;
                }
            };
            let status = response.status().as_u16();
            let headers: Fields = response
                .headers()
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_vec()))
                .collect();
            let tunnel = method == Method::Connect && response.status().is_success();
            if status == 101 || tunnel {
                drop(response);
                let (mut io, read) = conn.into_parts();
                let mut rest = read.to_vec();
                io.read_to_end(&mut rest)
                    .await
                    .expect("the pipe reads to its end");
                outcomes.push(Outcome::Switched { status, rest });
                return outcomes;
            }
            let mut body_reader = response.into_body();
            let mut body = Vec::new();
            let failed = loop {
                match body_reader.chunk().await {
                    Ok(Some(chunk)) => {
                        body.extend_from_slice(&chunk);
                        // Bytes come from the stream once: a body cannot outgrow it.
                        assert!(body.len() <= stream.len(), "a body larger than its stream");
                    }
                    Ok(None) => break false,
                    Err(_) => break true,
                }
            };
            if failed {
                outcomes.push(Outcome::BodyFailed {
                    status,
                    headers,
                    body,
                });
                break;
            }
            outcomes.push(Outcome::Whole {
                status,
                headers,
                body,
            });
        }
        outcomes
    };
    let body_len = match method {
        Method::PostWithBody | Method::PostExpecting => 5,
        _ => 0,
    };
    let server = answer_requests(server_end, stream, ends, body_len, lengths);
    let hang = async {
        async_io::Timer::after(HANG).await;
        panic!("the client connection hung");
    };
    // The server's side ends when the client drops its end of the pipe.
    future::block_on(future::or(
        async { future::zip(client, server).await.0 },
        hang,
    ))
}

/// The peer: writes each part of `stream` once one more request has arrived
/// (each request a head and `body_len` bytes, all alike), then closes its
/// writing half and reads until the client is gone.
async fn answer_requests(
    end: lithe::io::DuplexStream,
    stream: &[u8],
    ends: &[usize],
    body_len: usize,
    mut lengths: impl Iterator<Item = usize>,
) {
    let (mut reader, mut writer) = futures_lite::io::split(end);
    let mut received = Vec::new();
    let mut request_len = None;
    let mut from = 0;
    for (asked, to) in ends.iter().copied().chain([stream.len()]).enumerate() {
        if to <= from {
            continue;
        }
        // Wait for request number `asked + 1`; the client may be done instead.
        loop {
            if request_len.is_none() {
                request_len = received
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|at| at + 4 + body_len);
            }
            if request_len.is_some_and(|len| received.len() >= (asked + 1) * len) {
                break;
            }
            let mut buf = [0u8; 1024];
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = writer.close().await;
                    return;
                }
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
        let mut rest = &stream[from..to];
        while !rest.is_empty() {
            let length = lengths.next().unwrap_or(usize::MAX);
            let (piece, more) = rest.split_at(length.clamp(1, rest.len()));
            if writer.write_all(piece).await.is_err() {
                return;
            }
            rest = more;
            future::yield_now().await;
        }
        from = to;
    }
    let _ = writer.close().await;
    let _ = reader.read_to_end(&mut received).await;
}
