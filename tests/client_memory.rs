//! What a client connection keeps once a response is read, and while an
//! upload goes out: a counting global allocator watches the bytes held live
//! by each test's thread (so no other test's allocations are counted with it).
#![cfg(feature = "std")]

use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use lithe::io::{ClientConfig, ClientConnection, Request, duplex};

mod live_bytes;

use live_bytes::live;

/// A response head of 600 KiB (within the client's 1 MiB limit) grows the
/// read buffer to hold it; once the response is read and the connection
/// idles (as in a pool), that buffer is given back, not kept for the
/// connection's life, nor by the small body read into it for as long as
/// the caller keeps that.
#[test]
fn an_idle_client_connection_gives_back_what_a_large_head_grew() {
    // The body read to its end, or only to its declared length (a caller
    // that stops there, the end never polled).
    for to_the_end in [true, false] {
        idle_after_a_large_head(to_the_end);
    }
}

fn idle_after_a_large_head(to_the_end: bool) {
    let (client_end, mut server_end) = duplex(64 * 1024);
    let baseline = live();
    let mut head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Large: ".to_vec();
    head.resize(head.len() + 600 * 1024, b'v');
    head.extend_from_slice(b"\r\n\r\n");
    let server = async move {
        let mut request = Vec::new();
        let mut byte = [0u8];
        while !request.ends_with(b"\r\n\r\n") {
            server_end.read_exact(&mut byte).await.unwrap();
            request.push(byte[0]);
        }
        server_end.write_all(&head).await.unwrap();
        // The body comes on its own, once the client has read the head and
        // waits: it is read into the room left in the buffer the head grew.
        for _ in 0..16 {
            future::yield_now().await;
        }
        server_end.write_all(b"ok").await.unwrap();
        server_end
    };
    let client = async move {
        let mut conn = ClientConnection::new(client_end, ClientConfig::default());
        let response = conn
            .send(Request::new("GET", "/").with_header("host", "t"))
            .await
            .unwrap();
        let body = match to_the_end {
            true => response.into_body().bytes(16).await.unwrap(),
            false => response.into_body().chunk().await.unwrap().unwrap(),
        };
        assert_eq!(&body[..], b"ok");
        assert!(conn.is_reusable());
        // What the idle connection and the body hold is what dropping them
        // frees (the pipe stays: the server's end holds it too).
        let before = live();
        drop(body);
        drop(conn);
        let held = before - live();
        assert!(
            held < 64 * 1024,
            "the idle connection and its 2-byte body held {held} bytes (read to the end: {to_the_end})"
        );
        // Nor is the buffer kept elsewhere (a pool, a leak): what is still
        // live is the pipe's buffers and what the server side holds.
        let kept = live().saturating_sub(baseline);
        assert!(kept < 200 * 1024, "{kept} bytes are still live");
    };
    future::block_on(future::zip(server, client));
}

/// Pieces of an upload the test releases one at a time, and the waker of a
/// client waiting for the next.
#[derive(Default)]
struct Releases {
    released: usize,
    waiting: Option<std::task::Waker>,
}

/// A long upload (logs shipped for hours, say) that a server reads in step
/// with its pieces, some 8 KiB behind (less than the client gathers before it
/// waits for its output to drain whole): the client's output buffer holds
/// what is unsent, not the whole upload. (Before, written bytes stayed in
/// front of the unsent ones until a write emptied the buffer, which never
/// came: 4,000 pieces of 1 KiB grew it to megabytes.)
#[test]
fn an_upload_read_in_step_by_the_server_holds_at_most_a_batch() {
    use std::sync::{Arc, Mutex};
    use std::task::Poll;
    const PIECE: usize = 1024;
    const PIECES: usize = 4000;
    // Past the pipe's 4 KiB: what waits in the client.
    const AHEAD: usize = 12;
    let (client_end, mut server_end) = duplex(4096);
    let releases = Arc::new(Mutex::new(Releases::default()));
    let release = |count: usize| {
        let mut releases = releases.lock().unwrap();
        releases.released += count;
        if let Some(waker) = releases.waiting.take() {
            waker.wake();
        }
    };
    let pieces = {
        let releases = Arc::clone(&releases);
        let mut yielded = 0;
        futures_lite::stream::poll_fn(move |cx| {
            let mut releases = releases.lock().unwrap();
            if yielded == PIECES {
                return Poll::Ready(None);
            }
            if yielded == releases.released {
                releases.waiting = Some(cx.waker().clone());
                return Poll::Pending;
            }
            yielded += 1;
            Poll::Ready(Some(Ok(bytes::Bytes::from(vec![b'u'; PIECE]))))
        })
    };
    let server = async {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            server_end.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        assert!(head.ends_with(b"transfer-encoding: chunked\r\n\r\n"));
        let before = live();
        let mut most = 0;
        release(AHEAD);
        // Each piece goes out framed: `400\r\n`, the piece, `\r\n`.
        let mut framed = vec![0u8; PIECE + 7];
        for _ in AHEAD..PIECES {
            server_end.read_exact(&mut framed).await.unwrap();
            // Moved within the buffer, the bytes are still the piece.
            assert!(framed.starts_with(b"400\r\n") && framed.ends_with(b"\r\n"));
            assert!(framed[5..5 + PIECE].iter().all(|&b| b == b'u'));
            release(1);
            most = most.max(live() - before);
        }
        let mut rest = Vec::new();
        let mut buf = [0u8; 4096];
        while !rest.ends_with(b"0\r\n\r\n") {
            let n = server_end.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before its upload ended");
            rest.extend_from_slice(&buf[..n]);
        }
        assert_eq!(rest.len(), AHEAD * (PIECE + 7) + 5);
        server_end
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        (most, server_end)
    };
    let client = async {
        let mut conn = ClientConnection::new(client_end, ClientConfig::default());
        let request = Request::new("POST", "/logs")
            .with_header("host", "t")
            .with_body(lithe::io::Body::stream(pieces));
        let response = conn.send(request).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    };
    let ((most, _server_end), ()) = future::block_on(future::zip(server, client));
    assert!(
        most < 128 * 1024,
        "an upload read in step made the client hold {most} bytes"
    );
}
