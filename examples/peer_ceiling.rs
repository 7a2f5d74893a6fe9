//! The ceiling in the load benchmark (`benches/load/run.sh`): a server that parses
//! nothing. It counts the `\r\n\r\n` that end request heads and answers each with
//! the same canned response, all the answers to one read in one write. No HTTP
//! server on tokio, making these socket calls, can do less work per request
//! (lithe runs on smol with its own epoll set, so lithe/ceiling also compares
//! the runtimes).
//!
//! ```text
//! cargo run --release --example peer_ceiling -- --port 8082
//! ```

use std::io::Write;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The bytes lithe's and hyper's answers carry, a `date` field included (a
/// fixed one: the ceiling does no work for it), so that the client parses as
/// much of each.
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\ndate: Thu, 03 Dec 2026 12:00:00 GMT\r\n\r\nHello, World!";

fn main() {
    let port: u16 = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [flag, port] if flag == "--port" => port.parse().unwrap_or_else(|_| {
            eprintln!("--port takes a number");
            std::process::exit(2)
        }),
        [] => 8082,
        _ => {
            eprintln!("usage: peer_ceiling [--port P]");
            std::process::exit(2)
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| {
                eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
                std::process::exit(1)
            });
        // The bound port, not the asked one: `--port 0` picks a free one.
        let bound = listener.local_addr().map_or(port, |a| a.port());
        let _ = writeln!(
            std::io::stdout(),
            "ceiling listening on http://127.0.0.1:{bound}"
        );
        let mut failing = false;
        loop {
            // Out of descriptors (a load with many connections), or one that
            // went before it was taken: wait a little and go on serving, saying
            // so once per run of failures.
            let (mut stream, _) = match listener.accept().await {
                Ok(accepted) => {
                    failing = false;
                    accepted
                }
                Err(e) => {
                    if !std::mem::replace(&mut failing, true) {
                        let _ = writeln!(std::io::stderr(), "ceiling: accept: {e}");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::task::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut out = Vec::with_capacity(64 * 1024);
                // The last three bytes of the previous read, so a terminator split
                // across reads is still seen.
                let mut tail = [0u8; 3];
                loop {
                    let n = match stream.read(&mut buf[3..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf[..3].copy_from_slice(&tail);
                    let seen = &buf[..n + 3];
                    let requests = memchr::memmem::find_iter(seen, b"\r\n\r\n").count();
                    tail.copy_from_slice(&seen[seen.len() - 3..]);
                    out.clear();
                    for _ in 0..requests {
                        out.extend_from_slice(RESPONSE);
                    }
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}
