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
//! base64-encoded, in an `X-Reflect` header, so HEAD answers carry it too. A
//! request the server rejects gets whatever status the server sends.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use lithe::io::{Request, Response};
use lithe::proto::StatusCode;
use lithe::rt::{ServeConfig, Server};

/// The largest body reflected; larger ones get 413.
const MAX_BODY: usize = 16 * 1024 * 1024;

async fn reflect(request: Request) -> Response {
    let method = request.method().to_string();
    let target = request.target().to_string();
    let version = request.version().as_str();
    let headers: Vec<[String; 2]> = request
        .headers()
        .iter()
        .map(|(n, v)| [B64.encode(n.as_bytes()), B64.encode(v)])
        .collect();
    let body = match request.into_body().bytes(MAX_BODY).await {
        Ok(body) => body,
        Err(lithe::io::Error::BodyTooLarge { .. }) => {
            return Response::new(StatusCode::CONTENT_TOO_LARGE);
        }
        // The driver answers a body that broke the protocol with its own status.
        Err(_) => return Response::new(StatusCode::BAD_REQUEST),
    };
    let json = serde_json::json!({
        "method": method,
        "target": target,
        "version": version,
        "headers": headers,
        "body_b64": B64.encode(&body),
    })
    .to_string();
    Response::new(StatusCode::OK)
        .with_header("content-type", "application/json")
        .with_header("x-reflect", B64.encode(json.as_bytes()))
        .with_body(json)
}

fn main() {
    let port = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [flag, port] if flag == "--port" => port.parse().ok(),
        [] => Some(8081),
        _ => None,
    };
    let Some(port) = port else {
        eprintln!("usage: reflect [--port PORT]");
        std::process::exit(2);
    };
    let server = Server::bind(("127.0.0.1", port), reflect, ServeConfig::default()).expect("bind");
    println!("reflecting on http://{}", server.local_addr());
    server.wait();
}
