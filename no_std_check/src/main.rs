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

    // Server answers chunked, with a trailer; client parses the response
    // through its framing to its end.
    let mut out = [0u8; 256];
    let mut n = server
        .send_response(&ResponseHead::new(StatusCode::OK, &[]), &mut out)
        .map_err(|_| 7)?;
    let reply = b"ok";
    let frame = server.send_data(reply).map_err(|_| 8)?;
    for piece in [frame.prefix.as_bytes(), &reply[..], frame.suffix] {
        out[n..n + piece.len()].copy_from_slice(piece);
        n += piece.len();
    }
    let trailer = [Header {
        name: "Checksum",
        value: b"c0ffee",
    }];
    n += server.send_end(&trailer, &mut out[n..]).map_err(|_| 9)?;
    let mut input = &out[..n];
    let (mut got_head, mut got_reply) = (false, false);
    let got_trailer = loop {
        let mut headers = [EMPTY_HEADER; 8];
        let r = client.receive(input, &mut headers).map_err(|_| 10)?;
        input = &input[r.consumed..];
        match r.event {
            Event::Response(head) if head.status == StatusCode::OK => got_head = true,
            Event::Data(d) if d == reply => got_reply = true,
            Event::End { trailers } => {
                break matches!(trailers, [t] if t.name == "Checksum" && t.value == b"c0ffee");
            }
            _ => return Err(11),
        }
    };
    if !(got_head && got_reply && got_trailer && input.is_empty()) {
        return Err(12);
    }

    // The standalone chunked decoder, to its trailers and end.
    let mut decoder = ChunkedDecoder::default();
    let mut trailers = [EMPTY_HEADER; 2];
    let mut input: &[u8] = b"3\r\nabc\r\n0\r\nT: v\r\n\r\n";
    let mut data_seen = false;
    loop {
        let (used, decoded) = decoder.decode(input, &mut trailers).map_err(|_| 13)?;
        input = &input[used..];
        match decoded {
            Decoded::Data(b"abc") => data_seen = true,
            Decoded::End { trailers: fields } => {
                let trailer = matches!(fields, [t] if t.name == "T" && t.value == b"v");
                return match data_seen && trailer && input.is_empty() {
                    true => Ok(()),
                    false => Err(14),
                };
            }
            _ => return Err(15),
        }
    }
}
