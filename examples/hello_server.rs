//! A small HTTP server on lithe.
//!
//! ```text
//! cargo run --release --example hello_server -- --port 8080 [--threads N]
//! curl http://127.0.0.1:8080/            # Hello, World!
//! curl http://127.0.0.1:8080/bytes/5     # xxxxx
//! curl -d 'ping' http://127.0.0.1:8080/echo
//! ```
//!
//! `GET /` answers "Hello, World!" (text/plain), `GET /bytes/N` answers N bytes,
//! `POST /echo` streams the request body back as it arrives.

use lithe::io::{Body, Request, Response};
use lithe::proto::StatusCode;
use lithe::rt::{ServeConfig, Server};

/// Bodies `/bytes/N` may ask for, at most.
const MAX_BYTES: usize = 64 * 1024 * 1024;

async fn handle(request: Request) -> Response {
    match (request.method(), request.path()) {
        ("GET" | "HEAD", "/") => Response::new(StatusCode::OK)
            .with_header("content-type", "text/plain")
            .with_body("Hello, World!"),
        ("GET" | "HEAD", path) if path.starts_with("/bytes/") => {
            match path["/bytes/".len()..].parse::<usize>() {
                Ok(n) if n <= MAX_BYTES => Response::new(StatusCode::OK)
                    .with_header("content-type", "application/octet-stream")
                    .with_body(vec![b'x'; n]),
                _ => text(
                    StatusCode::BAD_REQUEST,
                    "expected /bytes/N with N <= 67108864\n",
                ),
            }
        }
        ("POST", "/echo") => {
            let content_type = request
                .headers()
                .get("content-type")
                .map(bytes::Bytes::copy_from_slice);
            let length = request
                .headers()
                .get_str("content-length")
                .and_then(|v| v.parse().ok());
            let body = request.into_body();
            let body = match length {
                Some(n) => Body::sized_stream(n, body),
                None => Body::stream(body),
            };
            let mut response = Response::new(StatusCode::OK).with_body(body);
            if let Some(ct) = content_type {
                response.headers_mut().append("content-type", ct);
            }
            response
        }
        (_, "/" | "/echo") => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response {
    Response::new(status)
        .with_header("content-type", "text/plain")
        .with_body(body)
}

fn main() {
    let mut port = 8080u16;
    let mut threads = 0usize;
    let mut reuse_port = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--reuse-port" {
            reuse_port = true;
            continue;
        }
        match (arg.as_str(), args.next()) {
            ("--port", Some(v)) => port = v.parse().expect("--port takes a number"),
            ("--threads", Some(v)) => threads = v.parse().expect("--threads takes a number"),
            _ => {
                eprintln!("usage: hello_server [--port PORT] [--threads N] [--reuse-port]");
                std::process::exit(2);
            }
        }
    }
    let config = ServeConfig {
        threads,
        reuse_port,
        ..ServeConfig::default()
    };
    let server = Server::bind(("127.0.0.1", port), handle, config).expect("bind");
    println!("listening on http://{}", server.local_addr());
    server.wait();
}
