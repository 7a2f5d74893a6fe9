//! What a server connection keeps while parked between requests, or while
//! its service takes its time: a counting global allocator watches the bytes
//! held live by each test's thread (so no other test's allocations are
//! counted with it).
#![cfg(feature = "std")]

use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use lithe::io::{Request, Response, ServerConfig, duplex, serve_connection};
use lithe::proto::StatusCode;

mod live_bytes;

use live_bytes::live;

/// A request head of about 15 KB, which grows a connection's read buffer.
fn large_head() -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Large: ".to_vec();
    head.resize(head.len() + 15_000, b'v');
    head.extend_from_slice(b"\r\n\r\n");
    head
}

/// Serves `request` with `service` over a pipe, reads until `answered`
/// holds for what came back, lets the connection park, then ends it. The
/// bytes live once it parked, and once it ended (before the pipe's own
/// buffer goes with its last end).
fn live_parked_then_ended<S: lithe::io::Service>(
    service: S,
    request: &[u8],
    answered: impl Fn(&[u8]) -> bool,
) -> (isize, isize) {
    live_parked_then_ended_under(&ServerConfig::default(), service, request, answered)
}

/// [`live_parked_then_ended`] under `config`.
fn live_parked_then_ended_under<S: lithe::io::Service>(
    config: &ServerConfig,
    service: S,
    request: &[u8],
    answered: impl Fn(&[u8]) -> bool,
) -> (isize, isize) {
    let (mut client_end, server_end) = duplex(256 * 1024);
    let server = async {
        serve_connection(server_end, service, config).await.unwrap();
    };
    let client = async {
        client_end.write_all(request).await.unwrap();
        let mut answers = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while !answered(&answers) {
            let n = client_end.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server closed before its answers were in");
            answers.extend_from_slice(&buf[..n]);
        }
        drop((answers, buf));
        // The server writes its last answer before it parks: let it park.
        for _ in 0..16 {
            future::yield_now().await;
        }
        let parked = live();
        // The end of the stream ends the connection, whose buffers go.
        client_end.close().await.unwrap();
        (parked, client_end)
    };
    let ((), (parked, client_end)) = future::block_on(future::zip(server, client));
    let ended = live();
    drop(client_end);
    (parked, ended)
}

/// The bytes a connection served `request` (answered "ok") holds once
/// parked: what it frees when the client then ends the connection.
fn held_once_parked(request: Vec<u8>) -> isize {
    let service = |_: Request| async { Response::new(StatusCode::OK).with_body("ok") };
    let (parked, ended) =
        live_parked_then_ended(service, &request, |answer| answer.ends_with(b"\r\n\r\nok"));
    parked - ended
}

/// A 15 KB head grows the read buffer; the connection parked after its
/// response gives that buffer back, even when the client ended the request
/// with an extra CRLF (RFC 9112 §2.2 lets a server ignore it), which stays
/// buffered until the next request: only those bytes are kept.
#[test]
fn a_parked_server_connection_keeps_only_what_is_left_unread() {
    let mut request = large_head();
    request.extend_from_slice(b"\r\n");
    let held = held_once_parked(request);
    assert!(
        held < 2048,
        "the connection parked with an extra CRLF buffered held {held} bytes"
    );
}

/// A connection closing after its answer lingers, reading what the client
/// may still send (so that a reset does not destroy the answer), and
/// throws that away without a read buffer of its own: a `Connection:
/// close` exchange costs no buffer zeroed for the linger.
#[test]
fn a_closing_connection_lingers_without_a_read_buffer() {
    let request = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let held = held_once_parked(request.to_vec());
    assert!(held < 1024, "the lingering connection held {held} bytes");
    // Nor the buffer a 15 KB head grew.
    let mut large = large_head();
    large.splice(large.len() - 2.., *b"Connection: close\r\n\r\n");
    let held = held_once_parked(large);
    assert!(
        held < 1024,
        "lingering after a large head, it held {held} bytes"
    );
}

/// A 15 KB head grows the read buffer; while the service takes its time (a
/// long poll, say), the request dropped, the connection does not hold that
/// buffer, whether or not the client ended its side after the request
/// (`half_close`, the default, lets the service go on).
#[test]
fn a_connection_waiting_on_its_service_keeps_no_large_read_buffer() {
    for half_closed in [false, true] {
        let (mut client_end, server_end) = duplex(64 * 1024);
        let request = large_head();
        let service = |request: Request| async move {
            drop(request);
            future::pending::<Response>().await
        };
        let config = ServerConfig::default();
        let server = async {
            let _ = serve_connection(server_end, service, &config).await;
        };
        let client = async {
            client_end.write_all(&request).await.unwrap();
            if half_closed {
                client_end.close().await.unwrap();
            }
            // Let the server read the head and call the service.
            for _ in 0..16 {
                future::yield_now().await;
            }
            live()
        };
        // The client's end drops the server's future, and what it held.
        let waiting = future::block_on(future::or(client, async {
            server.await;
            unreachable!("the service never answers")
        }));
        let held = waiting - live();
        drop(client_end);
        assert!(
            held < 4096,
            "the connection waiting on its service held {held} bytes (half-closed: {half_closed})"
        );
    }
}

/// A request proposing a switch to protocols the service declines (it
/// answers 200, as any service without them does): the connection parked
/// after it keeps no copy of the 15 KB of protocols offered.
#[test]
fn a_parked_connection_keeps_no_declined_upgrade_offer() {
    let mut request = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: ".to_vec();
    request.resize(request.len() + 15_000, b'x');
    request.extend_from_slice(b"\r\n\r\n");
    let held = held_once_parked(request);
    assert!(
        held < 2048,
        "the connection parked after a declined switch held {held} bytes"
    );
}

/// While the service takes its time on a request, what earlier work grew
/// is not held: the output buffer a batch of pipelined answers grew (five
/// 16 KB bodies), and the read buffer a large head grew, the next request,
/// pipelined behind, kept in a buffer its size.
#[test]
fn a_connection_waiting_on_its_service_keeps_no_buffer_earlier_work_grew() {
    let service = |request: Request| async move {
        match request.path() {
            "/wait" => {
                drop(request);
                future::pending::<Response>().await
            }
            _ => Response::new(StatusCode::OK).with_body(vec![b'b'; 16_000]),
        }
    };
    let large_wait = {
        let mut head = large_head();
        head.splice(5..5, *b"wait");
        head
    };
    let small_get = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    for (pipelined, answers) in [
        (
            [
                small_get.repeat(5),
                b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            ]
            .concat(),
            5,
        ),
        ([large_wait, small_get].concat(), 0),
    ] {
        let (mut client_end, server_end) = duplex(256 * 1024);
        let config = ServerConfig::default();
        let server = async {
            let _ = serve_connection(server_end, service, &config).await;
        };
        let client = async {
            client_end.write_all(&pipelined).await.unwrap();
            let mut read = 0;
            let mut buf = vec![0u8; 64 * 1024];
            while read < answers * 16_000 {
                read += client_end.read(&mut buf).await.unwrap();
            }
            drop(buf);
            for _ in 0..16 {
                future::yield_now().await;
            }
            live()
        };
        let waiting = future::block_on(future::or(client, async {
            server.await;
            unreachable!("the service never answers /wait")
        }));
        let held = waiting - live();
        drop(client_end);
        assert!(
            held < 4096,
            "the connection waiting on its service after {answers} answers held {held} bytes"
        );
    }
}

/// Serves five pipelined GETs, each answered with a 16 KB body (a batch that
/// grows the output buffer), and reads every answer; returns the bytes live
/// once the connection parked after them, and once it ended.
fn live_parked_after_a_batch_then_ended() -> (isize, isize) {
    let service =
        |_: Request| async { Response::new(StatusCode::OK).with_body(vec![b'b'; 16_000]) };
    let batch = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(5);
    // Until the fifth head and its whole body are in.
    let all_in = |answers: &[u8]| {
        let heads: Vec<usize> = answers
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == b"\r\n\r\n")
            .map(|(at, _)| at + 4)
            .collect();
        heads.len() == 5 && answers.len() - heads[4] == 16_000
    };
    live_parked_then_ended(service, &batch, all_in)
}

/// The output buffer a batch of pipelined answers grew is not held by the
/// connection parked after them.
#[test]
fn a_parked_connection_keeps_no_output_buffer_a_batch_grew() {
    let (parked, ended) = live_parked_after_a_batch_then_ended();
    let held = parked - ended;
    assert!(
        held < 4096,
        "the connection parked after a batch held {held} bytes"
    );
}

/// Serves one GET answered with a header field of `len` bytes (100 KB grows
/// the output buffer past 64 KiB), to its end, pipe and all.
fn serve_a_head_with_a_field_of(len: usize) {
    let service = move |_: Request| async move {
        Response::new(StatusCode::OK)
            .with_header("x-large", vec![b'v'; len])
            .with_body("ok")
    };
    live_parked_then_ended(service, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", |answer| {
        answer.ends_with(b"\r\n\r\nok")
    });
}

/// An output buffer a large head grew past the 64 KiB a thread keeps for
/// its next connections is freed, not kept: what stays once the connection
/// and its pipe are gone is what the first one set up.
#[test]
fn a_thread_keeps_no_spare_output_buffer_over_64_kib() {
    // A first connection sets up what the thread keeps for good (async-io's
    // state, a small spare).
    serve_a_head_with_a_field_of(10);
    let before = live();
    serve_a_head_with_a_field_of(100_000);
    let kept = live() - before;
    assert!(
        kept < 4096,
        "the thread kept {kept} bytes after a connection and its pipe ended"
    );
}

/// Serves one GET with `fields` header fields (under a `max_headers` that
/// takes them), to its end, pipe and all.
fn serve_a_request_of_fields(fields: usize) {
    let mut config = ServerConfig::default();
    config.proto.limits.max_headers = 2000;
    let mut request = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..fields {
        request.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let service = |_: Request| async { Response::new(StatusCode::OK).with_body("ok") };
    live_parked_then_ended_under(&config, service, &request, |answer| {
        answer.ends_with(b"\r\n\r\nok")
    });
}

/// The vector of a received head's fields goes back to the thread for the
/// next head, unless a head past the usual 128 fields grew it: a raised
/// `max_headers` must not leave every thread holding its largest head's.
#[test]
fn a_thread_keeps_no_spare_field_list_over_128_fields() {
    serve_a_request_of_fields(10);
    let before = live();
    serve_a_request_of_fields(1500);
    let kept = live() - before;
    assert!(
        kept < 4096,
        "the thread kept {kept} bytes after a connection and its pipe ended"
    );
}

/// Serves one GET with `service` to a client that reads 128 KiB of the
/// answer and then stops: the bytes the connection holds meanwhile.
fn held_while_a_client_stops_reading<S: lithe::io::Service>(service: S) -> isize {
    let (mut client_end, server_end) = duplex(64 * 1024);
    let config = ServerConfig::default();
    let before = live();
    let server = async {
        let _ = serve_connection(server_end, service, &config).await;
    };
    let client = async {
        client_end
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        // Some of it: the rest waits on the pipe.
        let mut buf = vec![0u8; 64 * 1024];
        let mut read = 0;
        while read < 128 * 1024 {
            let n = client_end.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server ended before 128 KiB went out");
            read += n;
        }
        for _ in 0..16 {
            future::yield_now().await;
        }
        live()
    };
    let sending = future::block_on(future::or(client, async {
        server.await;
        unreachable!("the client never reads the whole body")
    }));
    drop(client_end);
    sending - before
}

/// A large whole body goes out from where it is, not copied into the
/// connection's output buffer: sending 4 MiB holds a small part of that.
#[test]
fn a_large_body_goes_out_uncopied() {
    static LARGE: [u8; 4 << 20] = [b'l'; 4 << 20];
    let service = |_: Request| async { Response::new(StatusCode::OK).with_body(&LARGE[..]) };
    let held = held_while_a_client_stops_reading(service);
    assert!(held < 256 * 1024, "sending a 4 MiB body held {held} bytes");
}

/// A client that pipelines its requests and reads the answers, but always
/// some 40 KB behind (less than a batch, so the server never waits for its
/// output to drain whole) and with a request begun and unfinished after each
/// write: the output buffer holds what is unsent, not every answer the
/// connection ever wrote. (Before, written bytes stayed in front of the
/// unsent ones until a write emptied the buffer, which never came: 4,000
/// answers of 1 KB grew it to megabytes.)
#[test]
fn a_client_reading_behind_its_pipeline_holds_at_most_a_batch_of_output() {
    const BODY: usize = 1000;
    const BEHIND: usize = 40;
    const ROUNDS: usize = 4000;
    let (mut client_end, server_end) = duplex(4096);
    let service = |_: Request| async { Response::new(StatusCode::OK).with_body(vec![b'b'; BODY]) };
    let config = ServerConfig {
        date_header: false,
        ..ServerConfig::default()
    };
    let server = async {
        let _ = serve_connection(server_end, service, &config).await;
    };
    let client = async {
        let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        let (begun, rest) = request.split_at(8);
        let mut ahead = request.repeat(BEHIND);
        ahead.extend_from_slice(begun);
        client_end.write_all(&ahead).await.unwrap();
        let before = live();
        let mut most = 0;
        let mut answers = Vec::new();
        let mut buf = [0u8; 4096];
        for round in 0..ROUNDS {
            // The begun request ends, another begins.
            client_end.write_all(rest).await.unwrap();
            client_end.write_all(begun).await.unwrap();
            // One answer read: its head, then its body.
            loop {
                let whole = answers
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|at| at + 4 + BODY)
                    .filter(|&len| answers.len() >= len);
                if let Some(len) = whole {
                    // Moved within the buffer, the bytes are still the answer.
                    let answer: Vec<u8> = answers.drain(..len).collect();
                    assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"), "answer {round}");
                    assert!(answer[len - BODY..].iter().all(|&b| b == b'b'));
                    break;
                }
                let n = client_end.read(&mut buf).await.unwrap();
                assert!(n > 0, "the server closed after {round} answers");
                answers.extend_from_slice(&buf[..n]);
            }
            most = most.max(live() - before);
        }
        most
    };
    let most = future::block_on(future::or(client, async {
        server.await;
        unreachable!("the client never ends the connection")
    }));
    drop(client_end);
    // About 150 KB: a batch's worth of output, in a buffer not grown past
    // what the unsent bytes and the next answer need (moved, not grown).
    assert!(
        most < 192 * 1024,
        "a client reading behind its pipeline made the server hold {most} bytes"
    );
}

/// A client that pipelines requests and never reads its answers: once a
/// batch of answers waits unsent, the server stops reading requests until
/// it can send them, so neither the answers it holds nor the requests it
/// takes in grow without bound (Node's pipeline-flood case). Here 20,000
/// requests are offered; a batch is about 1,600 of these answers. (Without
/// that stop, all 20,000 are read and about 1.1 MB held.)
#[test]
fn a_pipelining_client_that_never_reads_is_not_read_from_without_bound() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const OFFERED: usize = 20_000;
    let served = AtomicUsize::new(0);
    let (mut client_end, server_end) = duplex(4096);
    let service = |_: Request| {
        served.fetch_add(1, Ordering::Relaxed);
        async { Response::new(StatusCode::OK).with_body("ok") }
    };
    let config = ServerConfig {
        date_header: false,
        ..ServerConfig::default()
    };
    let before = live();
    let most = std::cell::Cell::new(0);
    let server = async {
        let _ = serve_connection(server_end, service, &config).await;
    };
    let client = async {
        // Each in two pieces, the server let run between them: its reads
        // keep waiting on a head begun, which restarts its count of
        // requests served since it last flushed and let others run.
        let (begun, rest) = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".split_at(8);
        for _ in 0..OFFERED {
            client_end.write_all(begun).await.unwrap();
            client_end.flush().await.unwrap();
            future::yield_now().await;
            client_end.write_all(rest).await.unwrap();
            most.set(most.get().max(live() - before));
        }
    };
    // Both wait for good once the server holds its batch: ended by a timer.
    let held = async_io::Timer::after(std::time::Duration::from_secs(2));
    future::block_on(future::or(
        async {
            future::zip(server, client).await;
        },
        async {
            held.await;
        },
    ));
    let served = served.load(Ordering::Relaxed);
    assert!(served > 1000, "{served} requests served");
    assert!(
        served < 3000,
        "{served} of {OFFERED} requests read unanswered"
    );
    assert!(most.get() < 256 * 1024, "{} bytes held", most.get());
}

/// A streamed body of small pieces, always ready, to a client that stops
/// reading: the pieces are copied next to their framing, and the output
/// buffer they go into is flushed, waiting, once past a batch, so it holds
/// about a batch, not the 8 MiB the stream would give.
#[test]
fn a_streamed_body_to_a_client_that_stops_reading_holds_about_a_batch() {
    let service = |_: Request| async {
        let pieces = futures_lite::stream::iter(
            (0..8192).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b's'; 1024]))),
        );
        Response::new(StatusCode::OK).with_body(lithe::io::Body::stream(pieces))
    };
    let held = held_while_a_client_stops_reading(service);
    assert!(held < 512 * 1024, "streaming 8 MiB held {held} bytes");
}
