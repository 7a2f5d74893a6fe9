//! Serializes a chunked request with the sans-IO core, parses it back on the
//! server role one byte at a time, answers it, and prints every event on the way.
//!
//! ```text
//! cargo run --example proto_roundtrip
//! ```

use lithe::proto::{
    Config, Connection, EMPTY_HEADER, Event, Header, RequestHead, ResponseHead, StatusCode,
};

/// `println!`, except that a stdout nobody reads (`| head -1`) ends the
/// output, not the example.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut client = Connection::client(Config::default());
    let mut server = Connection::server(Config::default());

    // The client writes its request: head, two chunks, trailers.
    let mut wire = Vec::new();
    let mut out = [0u8; 1024];
    let fields = [
        Header {
            name: "Host",
            value: b"example.com",
        },
        Header {
            name: "Transfer-Encoding",
            value: b"chunked",
        },
        Header {
            name: "Content-Type",
            value: b"text/plain",
        },
    ];
    let n = client.send_request(&RequestHead::new("POST", "/upload", &fields), &mut out)?;
    wire.extend_from_slice(&out[..n]);
    for piece in [&b"Hello, "[..], b"World!"] {
        let frame = client.send_data(piece)?;
        wire.extend_from_slice(frame.prefix.as_bytes());
        wire.extend_from_slice(piece);
        wire.extend_from_slice(frame.suffix);
    }
    let n = client.send_end(
        &[Header {
            name: "X-Checksum",
            value: b"42",
        }],
        &mut out,
    )?;
    wire.extend_from_slice(&out[..n]);
    say!(
        "client sent {} bytes:\n{}",
        wire.len(),
        String::from_utf8_lossy(&wire).escape_debug()
    );

    // The server receives them one byte at a time, as a slow network would deliver.
    let mut buffer = Vec::new();
    let mut body = Vec::new();
    'bytes: for &byte in &wire {
        buffer.push(byte);
        loop {
            let mut headers = [EMPTY_HEADER; 16];
            let received = server.receive(&buffer, &mut headers)?;
            let consumed = received.consumed;
            match received.event {
                Event::Request(head) => {
                    say!(
                        "server: request {} {} {}",
                        head.method,
                        head.target,
                        head.version
                    );
                    for h in head.headers {
                        say!("server:   {}: {}", h.name, String::from_utf8_lossy(h.value));
                    }
                }
                Event::Data(data) => {
                    say!("server: data {:?}", String::from_utf8_lossy(data));
                    body.extend_from_slice(data);
                }
                Event::End { trailers } => {
                    say!("server: end of request, {} trailer(s)", trailers.len());
                    buffer.drain(..consumed);
                    break 'bytes;
                }
                Event::NeedData => {
                    buffer.drain(..consumed);
                    continue 'bytes;
                }
                other => say!("server: {other:?}"),
            }
            buffer.drain(..consumed);
        }
    }

    // The server answers with the body it read; the client parses the response.
    let length = body.len().to_string();
    let fields = [Header {
        name: "Content-Length",
        value: length.as_bytes(),
    }];
    let n = server.send_response(&ResponseHead::new(StatusCode::OK, &fields), &mut out)?;
    let mut response = out[..n].to_vec();
    server.send_data(&body)?;
    response.extend_from_slice(&body);
    server.send_end(&[], &mut out)?;

    let mut input = &response[..];
    loop {
        let mut headers = [EMPTY_HEADER; 16];
        let received = client.receive(input, &mut headers)?;
        input = &input[received.consumed..];
        match received.event {
            Event::Response(head) => {
                say!("client: response {} {}", head.status.as_u16(), head.reason)
            }
            Event::Data(data) => say!("client: data {:?}", String::from_utf8_lossy(data)),
            Event::End { .. } => {
                say!(
                    "client: end of response; both sides now {:?}",
                    client.our_state()
                );
                break;
            }
            other => return Err(format!("unexpected event {other:?}").into()),
        }
    }
    Ok(())
}
