//! A small HTTP server on lithe.
//!
//! ```text
//! cargo run --release --example hello_server -- --port 8080 [--threads N] [--reuse-port]
//! curl http://127.0.0.1:8080/            # Hello, World!
//! curl http://127.0.0.1:8080/bytes/5     # xxxxx
//! curl -d 'ping' http://127.0.0.1:8080/echo
//! ```
//!
//! `GET /` answers "Hello, World!" (text/plain), `GET /bytes/N` answers N bytes
//! (`HEAD` both, without the body), `POST /echo` streams the request body back
//! as it arrives (chunked with its trailer fields if it came chunked). Another method is 405 (naming the allowed ones) if HTTP
//! defines it, 501 if not.

use std::io::Write;

use bytes::Bytes;
use lithe::io::{Body, FieldValue, Request, Response};
use lithe::proto::{MAX_CONTENT_LENGTH, StatusCode};
use lithe::rt::{ServeConfig, Server};

/// The methods RFC 9110 §9 and RFC 5789 define: one of these a resource
/// does not take is answered 405 with the ones it does; any other, 501.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// What `/bytes/N` sends, in slices: no body costs an allocation, whatever N.
static XS: [u8; 64 * 1024] = [b'x'; 64 * 1024];

async fn handle(request: Request) -> Response {
    match (request.method(), request.path()) {
        ("GET" | "HEAD", "/") => Response::new(StatusCode::OK)
            .with_header("content-type", "text/plain")
            .with_body("Hello, World!"),
        ("GET" | "HEAD", path) if path.starts_with("/bytes/") => {
            let digits = &path["/bytes/".len()..];
            // Digits only: `parse` would also take a leading `+`. A length
            // past what a Content-Length may say cannot be sent.
            match digits.parse::<u64>() {
                Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) && n <= MAX_CONTENT_LENGTH => {
                    Response::new(StatusCode::OK)
                        .with_header("content-type", "application/octet-stream")
                        .with_body(x_bytes(n))
                }
                _ => text(
                    StatusCode::BAD_REQUEST,
                    "expected /bytes/N, N a decimal number of bytes\n",
                ),
            }
        }
        ("POST", "/echo") => {
            let content_type = request.headers().get("content-type").map(FieldValue::from);
            // Sent on as it came: a declared length as Content-Length, a
            // chunked body chunked with its trailer fields.
            let mut response = Response::new(StatusCode::OK).with_body(request.into_body());
            if let Some(ct) = content_type {
                response.headers_mut().append("content-type", ct);
            }
            response
        }
        // RFC 9110 §9.1: a method the server does not know (methods are
        // case-sensitive: `get` is not `GET`) is 501, not 405.
        (method, _) if !KNOWN_METHODS.contains(&method) => {
            text(StatusCode::NOT_IMPLEMENTED, "method not implemented\n")
        }
        // RFC 9110 §15.5.6: a 405 names the methods the resource allows.
        (_, path) if path == "/" || path.starts_with("/bytes/") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
                .with_header("allow", "GET, HEAD")
        }
        (_, "/echo") => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
            .with_header("allow", "POST"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// `n` bytes of `x`: one slice of [`XS`], or a stream of them.
fn x_bytes(n: u64) -> Body {
    let piece = XS.len() as u64;
    if n == 0 {
        // Sized, not `Body::empty()`: an empty body says nothing of the
        // length a HEAD answer should state, and this one is known to be 0.
        return Body::sized_stream(0, futures_lite::stream::empty());
    }
    if n <= piece {
        return Body::from(&XS[..n as usize]);
    }
    let pieces = (0..n.div_ceil(piece)).map(move |i| {
        let len = (n - i * piece).min(piece) as usize;
        Ok(Bytes::from_static(&XS[..len]))
    });
    Body::sized_stream(n, futures_lite::stream::iter(pieces))
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
    let mut args = std::env::args_os()
        .skip(1)
        .map(|arg| arg.into_string().unwrap_or_else(|_| usage()));
    while let Some(arg) = args.next() {
        if arg == "--reuse-port" {
            reuse_port = true;
            continue;
        }
        match (arg.as_str(), args.next()) {
            ("--port", Some(v)) => port = v.parse().unwrap_or_else(|_| usage()),
            ("--threads", Some(v)) => match v.parse() {
                Ok(n) if n <= lithe::rt::MAX_THREADS => threads = n,
                _ => usage(),
            },
            _ => usage(),
        }
    }
    let config = ServeConfig {
        threads,
        reuse_port,
        ..ServeConfig::default()
    };
    let server = match Server::bind(("127.0.0.1", port), handle, config) {
        Ok(server) => server,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "hello_server: cannot listen on 127.0.0.1:{port}: {e}"
            );
            std::process::exit(1);
        }
    };
    // Not println!, which panics when stdout is closed: the server serves on.
    let _ = writeln!(
        std::io::stdout(),
        "listening on http://{}",
        server.local_addr()
    );
    server.wait();
}

fn usage() -> ! {
    let _ = writeln!(
        std::io::stderr(),
        "usage: hello_server [--port PORT] [--threads N] [--reuse-port]"
    );
    std::process::exit(2);
}
