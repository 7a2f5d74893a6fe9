//! A server that describes each request it accepts: the entry point for
//! differential testing of lithe against other HTTP implementations.
//!
//! ```text
//! cargo run --release --example reflect -- --port 8081
//! curl -d hi http://127.0.0.1:8081/x
//! ```
//!
//! Every request the server accepts gets `200` with the JSON body
//! `{"method", "target", "version", "headers": [[name_b64, value_b64], ...],
//! "body_b64"}` (the body de-chunked, bytes exact), and the same JSON,
//! base64-encoded, in an `X-Reflect` header, so HEAD answers carry it too
//! (in that header alone: a HEAD answer has no body, nor the length of one,
//! as the JSON for a GET would be of another length). A chunked body's
//! trailer fields, when it has any, add the key `"trailers": [[name_b64,
//! value_b64], ...]`; without them the keys are exactly those five. A request
//! the server rejects gets whatever status the server sends.
//!
//! Bodies are reflected up to 128 KiB (larger ones get 413): the `X-Reflect`
//! header repeats the body base64-encoded twice, about 1.8 times its size, and
//! clients bound a response head (hyper about 400 KiB, lithe 1 MiB, curl a
//! single header line at 100 KiB, so curl shows bodies up to about 56 KiB). A
//! body that stalls gets 408. A `CONNECT` is answered 200 too, which makes the
//! connection a tunnel: the answer is its head alone, the JSON in `X-Reflect`.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use lithe::io::{Request, Response};
use lithe::proto::StatusCode;
use lithe::rt::{ServeConfig, Server};

/// The largest body reflected; larger ones get 413 (see the module docs).
const MAX_BODY: usize = 128 * 1024;

async fn reflect(request: Request) -> Response {
    let method = request.method().to_string();
    let target = request.target().to_string();
    let version = request.version().as_str();
    let headers: Vec<[String; 2]> = request
        .headers()
        .iter()
        .map(|(n, v)| [B64.encode(n.as_bytes()), B64.encode(v)])
        .collect();
    let mut incoming = request.into_body();
    let mut body = Vec::new();
    loop {
        match incoming.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY => {
                return Response::new(StatusCode::CONTENT_TOO_LARGE);
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(lithe::io::Error::Timeout(_)) => {
                return Response::new(StatusCode::REQUEST_TIMEOUT);
            }
            // The driver answers a body that broke the protocol with its own status.
            Err(_) => return Response::new(StatusCode::BAD_REQUEST),
        }
    }
    let mut json = serde_json::json!({
        "method": method,
        "target": target,
        "version": version,
        "headers": headers,
        "body_b64": B64.encode(&body),
    });
    // Only when there are any: the five keys above are the whole answer
    // otherwise, as differential harnesses expect.
    if let Some(trailers) = incoming.trailers().filter(|t| !t.is_empty()) {
        let trailers: Vec<[String; 2]> = trailers
            .iter()
            .map(|(n, v)| [B64.encode(n.as_bytes()), B64.encode(v)])
            .collect();
        json["trailers"] = serde_json::json!(trailers);
    }
    let json = json.to_string();
    let response = Response::new(StatusCode::OK)
        .with_header("content-type", "application/json")
        .with_header("x-reflect", B64.encode(json.as_bytes()));
    match method.as_str() {
        // The JSON names the method, so a GET's would be another length:
        // no body, and so no length the GET would not have (RFC 9110 §8.6).
        "HEAD" => response,
        _ => response.with_body(json),
    }
}

fn main() {
    let args: Option<Vec<String>> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.into_string().ok())
        .collect();
    let port = match args.as_deref() {
        Some([flag, port]) if flag == "--port" => port.parse().ok(),
        Some([]) => Some(8081),
        _ => None,
    };
    let Some(port) = port else {
        let _ = writeln!(std::io::stderr(), "usage: reflect [--port PORT]");
        std::process::exit(2);
    };
    let mut config = ServeConfig::default();
    // A declared length over the limit is refused before any of it is read.
    config.connection.proto.limits.max_body_bytes = MAX_BODY as u64;
    let server = match Server::bind(("127.0.0.1", port), reflect, config) {
        Ok(server) => server,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "reflect: cannot listen on 127.0.0.1:{port}: {e}"
            );
            std::process::exit(1);
        }
    };
    // Not println!, which panics when stdout is closed: the server serves on.
    let _ = writeln!(
        std::io::stdout(),
        "reflecting on http://{}",
        server.local_addr()
    );
    server.wait();
}
