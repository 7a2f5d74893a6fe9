//! What a client connection keeps once a response is read: a counting global
//! allocator watches the bytes held live. (One test in this binary, so no
//! other test's allocations are counted with it.)
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
