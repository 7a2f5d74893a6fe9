//! Drives a request and a response through `lithe::proto` in a `#![no_std]`,
//! allocator-free binary: parsing, framing, chunked decoding and serialization.
//!
//! Built by `.ci/run` for the host with `panic = "abort"`. The binary defines its
//! own `#[panic_handler]` and has no global allocator, so if anything in `proto`
//! pulls in `std` (a second panic handler) or `alloc` (no allocator to link), the
//! build fails.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

use lithe::proto::{
    ChunkedDecoder, Config, Connection, Decoded, EMPTY_HEADER, Event, Header, RequestHead,
    ResponseHead, StatusCode,
};

/// A panic (in `proto`, on input a step feeds it) ends the process with
/// SIGABRT, so `.ci/run` fails rather than waiting on a loop for ever.
#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    // SAFETY: abort(3) takes nothing and never returns.
    unsafe { abort() }
}

// The host's C library provides the program entry, memcpy and friends; nothing of
// Rust's std is linked.
#[link(name = "c")]
unsafe extern "C" {
    fn abort() -> !;
}

/// The precompiled `core` for this host target refers to the unwinding
/// personality even under `panic = "abort"`; nothing ever calls it.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// Exit code 0 when every step behaved; a distinct non-zero code names the step
/// that did not.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    match exercise() {
        Ok(()) => 0,
        Err(step) => step,
    }
}

fn exercise() -> Result<(), i32> {
    // Client serializes a chunked request into a stack buffer.
    let mut wire = [0u8; 512];
    let mut len = 0;
    let mut client = Connection::client(Config::default());
    let fields = [
        Header {
            name: "Host",
            value: b"device.local",
        },
        Header {
            name: "Transfer-Encoding",
            value: b"chunked",
        },
    ];
    len += client
        .send_request(&RequestHead::new("POST", "/sensor", &fields), &mut wire)
        .map_err(|_| 1)?;
    let body = b"temp=21.5";
    let frame = client.send_data(body).map_err(|_| 2)?;
    for piece in [frame.prefix.as_bytes(), &body[..], frame.suffix] {
        wire[len..len + piece.len()].copy_from_slice(piece);
        len += piece.len();
    }
    len += client.send_end(&[], &mut wire[len..]).map_err(|_| 3)?;

    // Server parses it back.
    let mut server = Connection::server(Config::default());
    let mut input = &wire[..len];
    let mut received_body = [0u8; 32];
    let mut body_len = 0;
    loop {
        let mut headers = [EMPTY_HEADER; 8];
        let r = server.receive(input, &mut headers).map_err(|_| 4)?;
        input = &input[r.consumed..];
        match r.event {
            Event::Request(head) if head.target == "/sensor" => {}
            Event::Data(d) => {
                received_body[body_len..body_len + d.len()].copy_from_slice(d);
                body_len += d.len();
            }
            Event::End { .. } => break,
            _ => return Err(5),
        }
    }
    if &received_body[..body_len] != body {
        return Err(6);
    }

    // Server answers; client parses the response.
    let mut out = [0u8; 128];
    let fields = [Header {
        name: "Content-Length",
        value: b"2",
    }];
    let n = server
        .send_response(&ResponseHead::new(StatusCode::OK, &fields), &mut out)
        .map_err(|_| 7)?;
    server.send_data(b"ok").map_err(|_| 8)?;
    out[n..n + 2].copy_from_slice(b"ok");
    server.send_end(&[], &mut []).map_err(|_| 9)?;
    let mut headers = [EMPTY_HEADER; 8];
    let r = client
        .receive(&out[..n + 2], &mut headers)
        .map_err(|_| 10)?;
    if !matches!(r.event, Event::Response(head) if head.status == StatusCode::OK) {
        return Err(11);
    }

    // The standalone chunked decoder.
    let mut decoder = ChunkedDecoder::default();
    let mut trailers = [EMPTY_HEADER; 2];
    match decoder.decode(b"3\r\nabc\r\n", &mut trailers) {
        Ok((_, Decoded::Data(b"abc"))) => Ok(()),
        _ => Err(12),
    }
}
