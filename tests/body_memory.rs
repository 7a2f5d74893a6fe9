//! What a body collected whole under a limit keeps: a counting global
//! allocator watches the bytes held live. (One test in this binary, so no
//! other test's allocations are counted with it.)
#![cfg(feature = "std")]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use lithe::io::{Request, Response, ServerConfig, duplex, serve_connection};
use lithe::proto::StatusCode;

mod live_bytes;

use live_bytes::live;

/// A body read whole with `bytes(limit)`, three quarters of the limit and in
/// many reads, is held in little more than its own size: a buffer grown by
/// doubling alone went past the limit (1.3 MB for this 1 MiB one), and the
/// `Bytes` returned kept all of it.
#[test]
fn a_collected_body_holds_little_more_than_itself() {
    const LIMIT: usize = 1024 * 1024;
    const BODY: usize = LIMIT * 3 / 4;
    let (mut client_end, server_end) = duplex(16 * 1024);
    let kept: Arc<Mutex<Option<Bytes>>> = Arc::default();
    let service = {
        let kept = kept.clone();
        move |request: Request| {
            let kept = kept.clone();
            async move {
                let body = request.into_body().bytes(LIMIT).await.unwrap();
                *kept.lock().unwrap() = Some(body);
                Response::new(StatusCode::OK).with_body("ok")
            }
        }
    };
    let config = ServerConfig::default();
    let server = async {
        serve_connection(server_end, service, &config)
            .await
            .unwrap();
    };
    let client = async {
        let head = format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {BODY}\r\n\r\n");
        client_end.write_all(head.as_bytes()).await.unwrap();
        // Many small writes, so the body arrives as many chunks.
        for piece in vec![b'b'; BODY].chunks(4096) {
            client_end.write_all(piece).await.unwrap();
        }
        let mut answer = Vec::new();
        let mut byte = [0u8];
        while !answer.ends_with(b"\r\n\r\nok") {
            client_end.read_exact(&mut byte).await.unwrap();
            answer.push(byte[0]);
        }
        client_end.close().await.unwrap();
    };
    future::block_on(future::zip(server, client));
    // The connection has ended and freed its buffers: only the body is left.
    let with_body = live();
    let body = kept
        .lock()
        .unwrap()
        .take()
        .expect("the service kept the body");
    assert_eq!(body.len(), BODY);
    assert!(body.iter().all(|&b| b == b'b'));
    drop(body);
    let held = with_body - live();
    // Its size, a quarter more at most, and the small block `Bytes` may
    // keep beside a buffer it did not fill.
    assert!(
        held >= BODY as isize && held <= (BODY + BODY / 4 + 64) as isize,
        "a {BODY}-byte body collected under a {LIMIT}-byte limit held {held} bytes"
    );
}
