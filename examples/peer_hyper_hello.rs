//! The peer in the load benchmark (`benches/load/run.sh`): hyper's HTTP/1.1
//! hello-world server on one tokio thread, with its best settings for the
//! workload (pipelined responses flushed together, a header built from
//! static bytes) and its defaults otherwise: its timer is given, so that its
//! 30 s header-read timeout runs, as lithe's timeouts do.
//!
//! ```text
//! cargo run --release --example peer_hyper_hello -- --port 8081
//! ```

use std::convert::Infallible;
use std::io::Write;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// `GET /` (or HEAD) answers "Hello, World!", anything else 404: like
/// `hello_server`, it matches method and path before answering, so both pay
/// for looking at the request.
async fn hello(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let routed =
        matches!(*request.method(), Method::GET | Method::HEAD) && request.uri().path() == "/";
    if !routed {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

fn main() {
    let port: u16 = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [flag, port] if flag == "--port" => port.parse().unwrap_or_else(|_| {
            eprintln!("--port takes a number");
            std::process::exit(2)
        }),
        [] => 8081,
        _ => {
            eprintln!("usage: peer_hyper_hello [--port P]");
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
            "hyper listening on http://127.0.0.1:{bound}"
        );
        let mut failing = false;
        loop {
            // Out of descriptors (a load with many connections), or one that
            // went before it was taken: wait a little and go on serving, saying
            // so once per run of failures.
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => {
                    failing = false;
                    accepted
                }
                Err(e) => {
                    if !std::mem::replace(&mut failing, true) {
                        let _ = writeln!(std::io::stderr(), "hyper: accept: {e}");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::task::spawn(async move {
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .pipeline_flush(true)
                    .serve_connection(TokioIo::new(stream), service_fn(hello))
                    .await;
            });
        }
    });
}
