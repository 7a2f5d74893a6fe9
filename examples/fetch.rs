//! Fetches a URL with lithe's client and prints the response.
//!
//! ```text
//! cargo run --example fetch -- [-X METHOD] [-d DATA] [-k] [--json] URL
//! ```
//!
//! Prints the status line (its reason empty if received with bytes past
//! ASCII) and headers (their bytes as received), then streams the
//! body to stdout, followed by the trailer fields of a chunked body that
//! had any (as `curl -i` shows them). With `--json` it prints one JSON object
//! instead: `{"status", "version", "headers": [[name, value], ...], "body_b64"}`,
//! with `"trailers": [[name, value], ...]` too when there were any (a value
//! that is not UTF-8 is shown with replacement characters: the `reflect` example
//! is where exact field bytes are reported), or
//! `{"error": "..."}` and exit code 1 when the exchange fails (a protocol error,
//! a timeout, a refused connection, a body over 64 MiB, which `--json` holds in
//! memory). `-d` sends DATA as the body, `-k` accepts any TLS certificate
//! (self-signed test servers only). Redirects are not followed (as with curl
//! without `-L`): a 3xx is printed like any answer.

use std::io::Write;

use base64::Engine;
use lithe::io::{Error, Request};
use lithe::rt::{ConnectConfig, Url, block_on, open};

/// The largest body `--json` collects.
const JSON_BODY_LIMIT: usize = 64 * 1024 * 1024;

struct Args {
    method: String,
    data: Option<String>,
    insecure: bool,
    json: bool,
    url: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        method: String::new(),
        data: None,
        insecure: false,
        json: false,
        url: String::new(),
    };
    let mut it = std::env::args_os()
        .skip(1)
        .map(|arg| arg.into_string().unwrap_or_else(|_| usage()));
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-X" => {
                args.method = it.next().unwrap_or_else(|| usage());
                if args.method.is_empty() {
                    usage();
                }
            }
            "-d" => args.data = Some(it.next().unwrap_or_else(|| usage())),
            "-k" => args.insecure = true,
            "--json" => args.json = true,
            url if !url.starts_with('-') && args.url.is_empty() => args.url = url.to_string(),
            _ => usage(),
        }
    }
    if args.url.is_empty() {
        usage();
    }
    if args.method.is_empty() {
        args.method = if args.data.is_some() { "POST" } else { "GET" }.to_string();
    }
    args
}

fn usage() -> ! {
    let _ = writeln!(
        std::io::stderr(),
        "usage: fetch [-X METHOD] [-d DATA] [-k] [--json] URL"
    );
    std::process::exit(2);
}

/// A response head, as printed.
struct Head {
    status: u16,
    reason: String,
    version: &'static str,
    headers: Fields,
}

/// Fields as received: values need not be UTF-8.
type Fields = Vec<(String, Vec<u8>)>;

/// Runs the exchange: `on_head` gets the head, then `on_chunk` each body
/// chunk; the trailer fields the body ended with come back.
async fn fetch(
    args: &Args,
    mut on_head: impl FnMut(Head),
    mut on_chunk: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<Fields, Error> {
    let url = Url::parse(&args.url)?;
    // The client's default head limit (1 MiB) also fits `reflect`'s answers,
    // which repeat the whole request, body included, in an X-Reflect header
    // (it reflects bodies up to 128 KiB).
    let mut config = ConnectConfig::default();
    if args.insecure {
        config.tls = Some(lithe::rt::tls::TlsConnector::dangerous_accept_any_certificate());
    }
    let mut conn = open(&url, &config).await?;
    // `open` gives the request the URL's Host.
    let mut request = Request::new(args.method.clone(), url.target().to_string())
        .with_header("user-agent", "lithe-fetch/0.1")
        .with_header("accept", "*/*")
        // Some servers (hyper's among them) send trailer fields only to a
        // client that says it takes them (RFC 9110 §10.1.4); lithe names
        // `te` in the Connection field for it.
        .with_header("te", "trailers");
    if let Some(data) = &args.data {
        request = request.with_body(data.clone());
    }
    let response = conn.send(request).await?;
    on_head(Head {
        status: response.status().as_u16(),
        reason: response.reason().to_string(),
        version: response.version().as_str(),
        headers: fields(response.headers()),
    });
    let mut body = response.into_body();
    while let Some(chunk) = body.chunk().await? {
        on_chunk(&chunk)?;
    }
    let trailers = body.trailers().map_or_else(Vec::new, |t| fields(&t));
    // Over TLS, `close` sends the closure alert a client owes the server
    // (RFC 9112 §9.8). The response is whole already: a server that went
    // first (it reset the connection) fails nothing that matters here.
    let _ = conn.close().await;
    Ok(trailers)
}

fn fields(headers: &lithe::io::Headers) -> Fields {
    headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect()
}

/// As JSON: `[[name, value], ...]`.
fn json_fields(fields: &Fields) -> serde_json::Value {
    fields
        .iter()
        .map(|(n, v)| [n.clone(), String::from_utf8_lossy(v).into_owned()])
        .collect()
}

/// As lines of `name: value`, each ended by `\n`.
fn field_lines(fields: &Fields) -> Vec<u8> {
    let mut lines = Vec::new();
    for (name, value) in fields {
        lines.extend_from_slice(name.as_bytes());
        lines.extend_from_slice(b": ");
        lines.extend_from_slice(value);
        lines.push(b'\n');
    }
    lines
}

fn main() {
    let args = parse_args();
    if args.json {
        let mut head = None;
        let mut body = Vec::new();
        let result = block_on(fetch(
            &args,
            |h| head = Some(h),
            |c| {
                if body.len() + c.len() > JSON_BODY_LIMIT {
                    return Err(Error::BodyTooLarge {
                        limit: JSON_BODY_LIMIT,
                    });
                }
                body.extend_from_slice(c);
                Ok(())
            },
        ));
        let out = match (result, head) {
            (Ok(trailers), Some(head)) => {
                let mut out = serde_json::json!({
                    "status": head.status,
                    "version": head.version,
                    "headers": json_fields(&head.headers),
                    "body_b64": base64::engine::general_purpose::STANDARD.encode(&body),
                });
                if !trailers.is_empty() {
                    out["trailers"] = json_fields(&trailers);
                }
                out
            }
            (Err(e), _) => {
                let error = serde_json::json!({ "error": e.to_string() });
                write_or_exit(&mut std::io::stdout(), format!("{error}\n").as_bytes());
                std::process::exit(1);
            }
            (Ok(_), None) => unreachable!("a response has a head"),
        };
        write_or_exit(&mut std::io::stdout(), format!("{out}\n").as_bytes());
        return;
    }
    let stdout = std::io::stdout();
    let result = block_on(fetch(
        &args,
        |h| {
            let mut out = stdout.lock();
            let mut head = format!("{} {} {}\n", h.version, h.status, h.reason).into_bytes();
            head.extend_from_slice(&field_lines(&h.headers));
            head.push(b'\n');
            write_or_exit(&mut out, &head);
        },
        |chunk| {
            write_or_exit(&mut stdout.lock(), chunk);
            Ok(())
        },
    ));
    match result {
        Ok(trailers) => write_or_exit(&mut std::io::stdout(), &field_lines(&trailers)),
        Err(e) => {
            // Not eprintln!, which panics (exit 101) when stderr is closed.
            let _ = writeln!(std::io::stderr(), "fetch: {e}");
            std::process::exit(1);
        }
    }
}

/// Writes to stdout; once that fails (a closed pipe, as with `fetch URL | head`)
/// nobody reads the rest, so stop instead of downloading it.
fn write_or_exit(out: &mut impl Write, bytes: &[u8]) {
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        let _ = writeln!(std::io::stderr(), "fetch: writing the output: {e}");
        std::process::exit(1);
    }
}
