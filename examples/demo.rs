//! lithe end to end on 127.0.0.1: starts a server on a free port, talks to it with
//! lithe's client over one keep-alive connection, prints each exchange, and
//! shuts the server down gracefully.
//!
//! ```text
//! cargo run --example demo
//! ```

use lithe::io::{Request, Response};
use lithe::proto::StatusCode;
use lithe::rt::{ConnectConfig, ServeConfig, Server, Url, block_on, open};

async fn routes(request: Request) -> Response {
    match (request.method(), request.path()) {
        ("GET", "/") => Response::new(StatusCode::OK)
            .with_header("content-type", "text/plain")
            .with_body("Hello, World!"),
        // The body streams back as it arrives, with its length if it had one.
        ("POST", "/echo") => Response::new(StatusCode::OK).with_body(request.into_body()),
        _ => Response::new(StatusCode::NOT_FOUND).with_body("not found"),
    }
}

/// `println!`, except that a stdout nobody reads (`| head -1`) ends the
/// output, not the example: the server is still shut down.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ServeConfig {
        threads: 1,
        ..ServeConfig::default()
    };
    let server = Server::bind("127.0.0.1:0", routes, config)?;
    let base = format!("http://{}", server.local_addr());
    say!("server listening on {base}");

    block_on(async {
        let url = Url::parse(&format!("{base}/"))?;
        let mut conn = open(&url, &ConnectConfig::default()).await?;
        let requests = [
            Request::new("GET", "/"),
            Request::new("POST", "/echo").with_body("streamed back by the server"),
            Request::new("GET", "/missing"),
        ];
        for request in requests {
            let line = format!("{} {}", request.method(), request.target());
            // The connection gives each request the URL's Host.
            let response = conn.send(request).await?;
            let status = response.status();
            let body = response.into_body().bytes(1 << 20).await?;
            say!(
                "{line:<12} -> {status}: {:?}",
                String::from_utf8_lossy(&body)
            );
        }
        say!(
            "one connection carried all three: reusable = {}",
            conn.is_reusable()
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;

    server.shutdown();
    say!("server shut down");
    Ok(())
}
