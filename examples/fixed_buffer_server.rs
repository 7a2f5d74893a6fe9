//! A blocking HTTP/1.1 server on the sans-IO core alone, as a small device
//! would run one: a connection at a time, a 2 KiB buffer and a 16-field
//! array on the stack, nothing allocated per request, the limits fitted to
//! the buffer (see `proto::Limits`), the idle, head and body timeouts told
//! apart with `Connection::message_begun`, and a malformed or stalled
//! request answered with the status proto names (or 408) before the
//! connection closes. Only `proto` is
//! used: it builds with `--no-default-features` too.
//!
//! ```text
//! cargo run --example fixed_buffer_server -- --port 8080
//! curl http://127.0.0.1:8080/                      # Hello from a fixed buffer!
//! curl --data-binary @big.file http://127.0.0.1:8080/count   # its size in bytes
//! ```
//!
//! `GET /` answers a greeting; `POST /count` answers how many bytes its body
//! had, whatever its framing, none of them kept (a body larger than the
//! buffer streams through it).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use lithe::proto::{
    Config, Connection, EMPTY_HEADER, Event, Header, Limits, ResponseHead, State, StatusCode,
};

/// The connection's whole read buffer.
const BUFFER: usize = 2048;
/// How long a connection may wait for its next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a head may take, from its first byte: one deadline, so a
/// client trickling it cannot stretch it.
const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a body read may wait for a byte. Per read, as for a body of any
/// size: a client trickling a byte a little faster holds the connection
/// (and, served one at a time, the server) as long as it likes; a device
/// that must bound that sets `Limits::max_body_bytes` or a floor under the
/// rate, as `lithe::io`'s driver does.
const BODY_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a write may wait for a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Limits within the buffer: a head or a trailer section that would not
/// fit is refused (431), never left waiting on a full buffer.
fn config() -> Config {
    Config {
        limits: Limits {
            max_head_bytes: BUFFER,
            max_trailer_bytes: BUFFER - 2,
            max_headers: 16,
            max_request_target_bytes: 256,
            ..Limits::default()
        },
        ..Config::default()
    }
}

/// The field that says the connection closes after this response.
const CLOSE: [Header<'static>; 1] = [Header {
    name: "connection",
    value: b"close",
}];

#[derive(Clone, Copy)]
enum Route {
    Hello,
    Count,
    NotFound,
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    let mut conn = Connection::server(config());
    let mut buf = [0u8; BUFFER];
    let mut filled = 0;
    let mut route = Route::NotFound;
    let mut counted = 0u64;
    // No tunnel is offered: bytes sent behind a CONNECT were meant for the
    // tunnel (a proxy in front may have let them through for it alone), so
    // the connection closes after the refusal rather than read them as a
    // request.
    let mut refused_connect = false;
    // Each from the first read that waits for it, cleared when a request
    // head arrives: empty lines before a request do not restart the idle
    // one, nor does a trickled head stretch its own.
    let mut idle_deadline = None;
    let mut head_deadline = None;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    loop {
        // Made anew for each call: an event borrows it with `buf`, which the
        // loop then moves bytes within.
        let mut fields = [EMPTY_HEADER; 16];
        let received = match conn.receive(&buf[..filled], &mut fields) {
            Ok(received) => received,
            Err(error) => return refuse(&mut stream, &mut conn, error.status(), &mut buf),
        };
        let consumed = received.consumed;
        let mut need_data = false;
        match received.event {
            Event::Request(head) => {
                route = match (head.method, path_of(head.target)) {
                    ("GET" | "HEAD", "/") => Route::Hello,
                    ("POST", "/count") => Route::Count,
                    _ => Route::NotFound,
                };
                counted = 0;
                refused_connect = head.method == "CONNECT";
                idle_deadline = None;
                head_deadline = None;
                // The body is read here whatever the route: invite it.
                if conn.they_are_waiting_for_100_continue() {
                    send_head(&mut stream, &mut conn, StatusCode::CONTINUE, &[], None)?;
                }
            }
            Event::Data(data) => counted += data.len() as u64,
            Event::End { .. } => {
                let fields: &[Header<'_>] = match refused_connect {
                    true => &CLOSE,
                    false => &[],
                };
                respond(&mut stream, &mut conn, route, counted, fields)?;
                if conn.our_state() != State::Idle {
                    // Either side said it closes.
                    return close_lingering(&mut stream, &mut buf);
                }
            }
            Event::NeedData => need_data = true,
            Event::ConnectionClosed => return Ok(()),
            // A head with more fields than the array: the array is as long
            // as the limit, so proto refuses it (TooManyHeaders) instead.
            Event::HeadersFull | Event::Paused | Event::Response(_) | Event::SwitchedProtocol => {
                return Ok(());
            }
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if need_data {
            if filled == BUFFER {
                // The limits fit the buffer: proto refuses before this.
                return Err(io::Error::other("the buffer filled up"));
            }
            let begun = conn.message_begun(&buf[..filled]);
            let timeout = match (begun, conn.their_state()) {
                (false, _) => {
                    // A lone CR (a head begun) that an LF made an empty
                    // line leaves the connection idle again: the next
                    // head's deadline runs from its own first byte.
                    head_deadline = None;
                    let deadline =
                        *idle_deadline.get_or_insert_with(|| Instant::now() + IDLE_TIMEOUT);
                    deadline.saturating_duration_since(Instant::now())
                }
                (true, State::Idle) => {
                    let deadline =
                        *head_deadline.get_or_insert_with(|| Instant::now() + HEAD_TIMEOUT);
                    deadline.saturating_duration_since(Instant::now())
                }
                (true, _) => BODY_TIMEOUT,
            };
            let read = match timeout.is_zero() {
                true => Err(io::ErrorKind::TimedOut.into()),
                false => {
                    stream.set_read_timeout(Some(timeout))?;
                    stream.read(&mut buf[filled..])
                }
            };
            match read {
                Ok(0) => conn.receive_eof(),
                Ok(n) => filled += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // A head or body begun and stalled gets 408 (while no
                    // answer has begun); an idle connection is closed
                    // quietly.
                    let answerable = matches!(conn.our_state(), State::Idle | State::SendResponse);
                    return match begun && answerable {
                        true => refuse(
                            &mut stream,
                            &mut conn,
                            StatusCode::REQUEST_TIMEOUT,
                            &mut buf,
                        ),
                        false => Ok(()),
                    };
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The response to a whole request: its head, with `fields`, then its body
/// (none for a HEAD, which proto knows).
fn respond(
    stream: &mut TcpStream,
    conn: &mut Connection,
    route: Route,
    counted: u64,
    fields: &[Header<'_>],
) -> io::Result<()> {
    let mut digits = [0u8; 21];
    let (status, body): (StatusCode, &[u8]) = match route {
        Route::Hello => (StatusCode::OK, b"Hello from a fixed buffer!\n"),
        Route::Count => {
            let mut cursor = io::Cursor::new(&mut digits[..]);
            writeln!(cursor, "{counted}")?;
            let len = cursor.position() as usize;
            (StatusCode::OK, &digits[..len])
        }
        Route::NotFound => (StatusCode::NOT_FOUND, b"not found\n"),
    };
    send_head(stream, conn, status, fields, Some(body.len() as u64))?;
    if conn.our_state() == State::SendBody {
        // A HEAD's answer states the length and carries nothing.
        if conn.body_left_to_send() != Some(0) {
            let frame = conn.send_data(body).map_err(io::Error::other)?;
            debug_assert!(frame.prefix.as_bytes().is_empty() && frame.suffix.is_empty());
            stream.write_all(body)?;
        }
        let mut out = [0u8; 8];
        let n = conn.send_end(&[], &mut out).map_err(io::Error::other)?;
        stream.write_all(&out[..n])?;
    }
    Ok(())
}

/// Writes a response head with `status` and `fields`: proto adds the
/// length, and `connection: close` where it sees the connection must close.
fn send_head(
    stream: &mut TcpStream,
    conn: &mut Connection,
    status: StatusCode,
    fields: &[Header<'_>],
    length: Option<u64>,
) -> io::Result<()> {
    let mut out = [0u8; 256];
    let head = ResponseHead::new(status, fields);
    let written = match length {
        Some(length) => conn.send_response_sized(&head, length, &mut out),
        None => conn.send_response(&head, &mut out),
    };
    let n = written.map_err(io::Error::other)?;
    stream.write_all(&out[..n])
}

/// The path a target names, without its query: of an origin-form target
/// (`/p?q`), or of an absolute-form one (`http://host/p?q`), which a server
/// must accept too (RFC 9112 §3.2.2); its authority ends at the first `/`
/// or `?`. proto has checked the target's form, so one that does not start
/// with `/` holds `://` (a query may hold one too: `/p?u=http://a/`).
fn path_of(target: &str) -> &str {
    let path = match target.starts_with('/') {
        true => target,
        false => {
            let rest = target.split_once("://").map_or(target, |(_, rest)| rest);
            match rest.find(['/', '?']) {
                Some(end) if rest[end..].starts_with('/') => &rest[end..],
                _ => "/",
            }
        }
    };
    path.split('?').next().unwrap_or(path)
}

/// Answers a request proto refused (or a head or body that stalled) and
/// closes, lingering over what the client still sends with the buffer as
/// scratch (nothing in it is needed any more). The close is said here:
/// proto cannot know it of an answer given while a request body is still
/// due, which it would read on afterwards.
fn refuse(
    stream: &mut TcpStream,
    conn: &mut Connection,
    status: StatusCode,
    buf: &mut [u8],
) -> io::Result<()> {
    send_head(stream, conn, status, &CLOSE, Some(0))?;
    close_lingering(stream, buf)
}

/// Closes our side, then reads and drops what the client still sends until
/// it closes or goes quiet for a second (64 reads at most): closed with
/// unread bytes, a socket resets, and a reset can destroy the answer
/// before the client reads it.
fn close_lingering(stream: &mut TcpStream, scratch: &mut [u8]) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    for _ in 0..64 {
        if !matches!(stream.read(scratch), Ok(1..)) {
            break;
        }
    }
    Ok(())
}

fn main() {
    let mut port = 8080u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|v| v.parse())) {
            ("--port", Some(Ok(p))) => port = p,
            _ => {
                eprintln!("usage: fixed_buffer_server [--port PORT]");
                std::process::exit(2);
            }
        }
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("fixed_buffer_server: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    // Not println!, which panics when stdout is closed: the server serves on.
    let _ = writeln!(io::stdout(), "listening on http://{addr}");
    for stream in listener.incoming().flatten() {
        // One connection at a time, as a device with one buffer serves.
        if let Err(e) = serve(stream) {
            eprintln!("fixed_buffer_server: {e}");
        }
    }
}
