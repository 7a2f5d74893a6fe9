//! The server driver fed pipelined requests of every framing, split at random
//! points, through an in-memory pipe: every body comes back, in order, whatever
//! the splits. A deterministic xorshift generator keeps failures reproducible.
#![cfg(feature = "server")]

mod common;

use std::time::Duration;

use common::XorShift;
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use lithe::io::{ServerConfig, duplex, serve_connection};

/// A request echoing `body`, framed by Content-Length or chunked.
fn request(rng: &mut XorShift, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if rng.below(2) == 0 {
        out.extend_from_slice(
            format!(
                "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(body);
    } else {
        out.extend_from_slice(
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        let mut rest = body;
        while !rest.is_empty() {
            let n = (1 + rng.below(rest.len() as u64)).min(rest.len());
            out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        out.extend_from_slice(b"0\r\n\r\n");
    }
    out
}

/// Reads chunked response bodies off `reply`, one per response.
fn bodies(mut reply: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    while !reply.is_empty() {
        let head_end = reply
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head")
            + 4;
        let head = std::str::from_utf8(&reply[..head_end]).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        reply = &reply[head_end..];
        let mut body = Vec::new();
        if let Some(line) = head.lines().find(|l| l.starts_with("content-length: ")) {
            let n: usize = line["content-length: ".len()..].parse().unwrap();
            body.extend_from_slice(&reply[..n]);
            reply = &reply[n..];
        } else {
            loop {
                let line_end = reply.windows(2).position(|w| w == b"\r\n").unwrap();
                let size =
                    usize::from_str_radix(std::str::from_utf8(&reply[..line_end]).unwrap(), 16)
                        .unwrap();
                reply = &reply[line_end + 2..];
                if size == 0 {
                    reply = &reply[2..];
                    break;
                }
                body.extend_from_slice(&reply[..size]);
                reply = &reply[size + 2..];
            }
        }
        found.push(body);
    }
    found
}

#[test]
fn pipelined_requests_survive_any_split() {
    for seed in 1..=48u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let count = 1 + rng.below(12);
        let expected: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let len = match rng.below(4) {
                    0 => 0,
                    1 => 1 + rng.below(16),
                    2 => 1 + rng.below(4096),
                    _ => 1 + rng.below(70_000),
                };
                // Of period 251, which divides no buffer size: a piece
                // handed out twice or out of order shows, where a pattern
                // repeating every 256 bytes would line up with the 8 KiB reads.
                rng.bytes(len)
            })
            .collect();
        let mut wire = Vec::new();
        for body in &expected {
            wire.extend(request(&mut rng, body));
        }
        wire.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let splits: Vec<usize> = (0..wire.len()).map(|_| 1 + rng.below(3000)).collect();
        let capacity = 256 + rng.below(65_536);

        let reply = common::run(async {
            let (server_end, mut client_end) = duplex(capacity);
            let config = ServerConfig {
                idle_timeout: Some(Duration::from_secs(5)),
                ..ServerConfig::default()
            };
            let server = async {
                serve_connection(server_end, common::routes, &config)
                    .await
                    .unwrap();
            };
            let (mut reader, mut writer) = futures_lite::io::split(&mut client_end);
            let client = async {
                let write = async {
                    let mut rest = &wire[..];
                    let mut splits = splits.iter();
                    while !rest.is_empty() {
                        let n = (*splits.next().unwrap()).min(rest.len());
                        writer.write_all(&rest[..n]).await.unwrap();
                        rest = &rest[n..];
                        future::yield_now().await;
                    }
                    // Done sending, as a client that read its last response would be.
                    writer.close().await.unwrap();
                };
                let read = async {
                    let mut reply = Vec::new();
                    reader.read_to_end(&mut reply).await.unwrap();
                    reply
                };
                future::zip(write, read).await.1
            };
            future::zip(server, client).await.1
        });
        let mut got = bodies(&reply);
        assert_eq!(
            got.pop().as_deref(),
            Some(&b"Hello, World!"[..]),
            "seed {seed}"
        );
        assert_eq!(got.len(), expected.len(), "seed {seed}");
        for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
            assert!(
                got == want,
                "seed {seed}: body {i} differs ({} vs {} bytes)",
                got.len(),
                want.len()
            );
        }
    }
}
