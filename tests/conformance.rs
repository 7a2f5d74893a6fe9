//! The conformance suite: raw messages and their expected outcomes, kept as data in
//! `tests/conformance/*.http`, one file per RFC 9112 / RFC 9110 section.
//!
//! Each case runs against `proto` directly, four ways (whole input, byte by byte,
//! 7-byte pieces, pieces of varied sizes), and, when it ends cleanly between
//! messages on a connection that persists, again with a following message
//! appended, which must be read as its own (`support::server_events` and
//! `support::client_events`). Each server-role case also runs
//! through the async server driver (`lithe::io::serve_connection`) over an
//! in-memory pipe: a rejected message must get the status its error names with
//! `Connection: close`; accepted ones must each get a response echoing their body.
//! Each client-role case runs through the async client
//! (`lithe::io::ClientConnection`) too: its request must get the first final
//! response proto read, with its body, or the error proto met first.
//!
//! # Case format
//!
//! ```text
//! === name of the case
//! rfc: RFC 9112 §6.3 rule 3
//! attack: what accepting it would open (required of a rejection in the §6
//!         and §7 files, the framing and smuggling cases)
//! role: server              | client GET   (the method the client sent)
//! outcome: accept           | reject ErrorVariant 400
//! bodies: abc | | def       (accept only: each message's body, in order)
//! targets: /a /b            (server only: request-targets, in order)
//! methods: GET POST         (server only: request methods, in order)
//! statuses: 100 200         (client only: response statuses, in order)
//! then: closed | paused | switched | need-data (how the run ends)
//! framing: empty | length N | chunked | until-close | switched (of the first
//!          final message, `switched` for a 2xx to CONNECT, which has no
//!          body; required of an acceptance)
//! headers: Host: a | X-B: 2 (the first head's fields, in order, as received)
//! trailers: Checksum: x     (the first body's trailer fields, in order)
//! rest: \x16\x03          (the bytes handed back by a protocol switch)
//! ---
//! GET / HTTP/1.1\r\n
//! Host: a\r\n
//! \r\n
//! ```
//!
//! In the message, line breaks of the file are ignored; `\r`, `\n`, `\t`, `\0`,
//! `\\` and `\xHH` are escapes, so every byte is visible.

mod support;

#[cfg(feature = "std")]
#[path = "support/once_asked.rs"]
mod once_asked;

#[cfg(feature = "std")]
#[path = "../fuzz/targets/mod.rs"]
mod targets;

use lithe::proto::{BodyLength, Config, Connection};
use support::{Owned, bodies, client_after, client_events, error_of, server_events};

#[derive(Debug, Default)]
struct Case {
    file: String,
    name: String,
    rfc: String,
    attack: Option<String>,
    role: String,
    outcome: String,
    bodies: Option<Vec<Vec<u8>>>,
    targets: Option<Vec<String>>,
    methods: Option<Vec<String>>,
    statuses: Option<Vec<u16>>,
    then: Option<String>,
    framing: Option<String>,
    headers: Option<Vec<(String, Vec<u8>)>>,
    trailers: Option<Vec<(String, Vec<u8>)>>,
    rest: Option<Vec<u8>>,
    message: Vec<u8>,
}

impl Case {
    /// The case as a failure names it: where it is, its rule and, if it has
    /// one, the attack a failure leaves open.
    fn what(&self) -> String {
        let mut what = format!("{} / {} ({})", self.file, self.name, self.rfc);
        if let Some(attack) = &self.attack {
            what += &format!("; attack: {attack}");
        }
        what
    }
}

/// `Name: value | Name: value` as fields (values escaped as messages are);
/// empty for none.
fn fields(text: &str) -> Vec<(String, Vec<u8>)> {
    text.split('|')
        .map(str::trim)
        .filter(|field| !field.is_empty())
        .map(|field| {
            let (name, value) = field
                .split_once(':')
                .unwrap_or_else(|| panic!("field without a colon: {field:?}"));
            (name.to_string(), unescape(value.trim()))
        })
        .collect()
}

fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes: Vec<u8> = text.bytes().filter(|&b| b != b'\n').collect();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let (byte, used) = match bytes[i + 1] {
                b'r' => (b'\r', 2),
                b'n' => (b'\n', 2),
                b't' => (b'\t', 2),
                b'0' => (0, 2),
                b'\\' => (b'\\', 2),
                b'x' => {
                    let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap();
                    (u8::from_str_radix(hex, 16).unwrap(), 4)
                }
                other => panic!("unknown escape \\{}", other as char),
            };
            out.push(byte);
            i += used;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn load_cases() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for block in text.split("\n=== ").skip(1) {
            let (header, message) = block
                .split_once("\n---\n")
                .unwrap_or_else(|| panic!("{file}: case without ---: {block}"));
            let mut lines = header.lines();
            let mut case = Case {
                file: file.clone(),
                name: lines.next().unwrap().trim().to_string(),
                ..Case::default()
            };
            for line in lines {
                let (key, value) = line
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{file}: bad line {line:?}"));
                let value = value.trim();
                match key.trim() {
                    "rfc" => case.rfc = value.to_string(),
                    "attack" => case.attack = Some(value.to_string()),
                    "role" => case.role = value.to_string(),
                    "outcome" => case.outcome = value.to_string(),
                    "bodies" => {
                        case.bodies = Some(value.split('|').map(|b| unescape(b.trim())).collect())
                    }
                    "targets" => {
                        case.targets = Some(value.split_whitespace().map(String::from).collect())
                    }
                    "methods" => {
                        case.methods = Some(value.split_whitespace().map(String::from).collect())
                    }
                    "statuses" => {
                        case.statuses = Some(
                            value
                                .split_whitespace()
                                .map(|s| s.parse().unwrap())
                                .collect(),
                        )
                    }
                    "then" => case.then = Some(value.to_string()),
                    "framing" => case.framing = Some(value.to_string()),
                    "headers" => case.headers = Some(fields(value)),
                    "trailers" => case.trailers = Some(fields(value)),
                    "rest" => case.rest = Some(unescape(value)),
                    other => panic!("{file}: unknown key {other:?}"),
                }
            }
            // The message runs to the next case; a trailing file newline is not part of it.
            case.message = unescape(message.trim_end_matches('\n'));
            require_what_the_table_names(&case);
            cases.push(case);
        }
    }
    cases
}

/// The files of framing and smuggling cases: a message is refused there
/// because some hop would read it otherwise, so each refusal says how.
const SMUGGLING_FILES: [&str; 2] = [
    "rfc9112-6-message-body-length.http",
    "rfc9112-7-chunked.http",
];

/// Each case names its RFC section; each accepted one the framing chosen, and
/// each refused one in [`SMUGGLING_FILES`] the attack that accepting it
/// would open: a case without them is a bad case, not a passing one.
fn require_what_the_table_names(case: &Case) {
    let what = case.what();
    assert!(!case.rfc.is_empty(), "{what}: no rfc:");
    if case.outcome == "accept" {
        assert!(case.framing.is_some(), "{what}: accepted, no framing:");
    } else if SMUGGLING_FILES.contains(&case.file.as_str()) {
        assert!(case.attack.is_some(), "{what}: refused, no attack:");
    }
}

fn run_proto(case: &Case) -> Vec<Owned> {
    let config = Config::default();
    match case.role.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["server"] => server_events(config, &case.message),
        ["client", method] => client_events(config, method, &case.message),
        other => panic!("{}: unknown role {other:?}", case.name),
    }
}

fn framing(case: &Case) -> String {
    let config = Config::default();
    let framing = match case.role.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["server"] => support::framing_of(|| Connection::server(config), &case.message),
        [_, method] => support::framing_of(|| client_after(config, method), &case.message),
        _ => unreachable!(),
    };
    match framing {
        Ok(Some(BodyLength::Empty)) => "empty".into(),
        Ok(Some(BodyLength::Length(n))) => format!("length {n}"),
        Ok(Some(BodyLength::Chunked)) => "chunked".into(),
        Ok(Some(BodyLength::UntilClose)) => "until-close".into(),
        Ok(None) => "switched".into(),
        Err(e) => format!("error {e:?}"),
    }
}

fn check(case: &Case, events: &[Owned]) {
    let what = case.what();
    if let Some(expected) = &case.framing {
        assert_eq!(&framing(case), expected, "{what}: framing");
    }
    let outcome: Vec<&str> = case.outcome.split_whitespace().collect();
    match outcome.as_slice() {
        ["accept"] => assert_eq!(error_of(events), None, "{what}: {events:?}"),
        ["reject", variant, status] => {
            let error =
                error_of(events).unwrap_or_else(|| panic!("{what}: accepted, events {events:?}"));
            assert_eq!(format!("{error:?}"), *variant, "{what}");
            assert_eq!(error.status().as_u16().to_string(), *status, "{what}");
        }
        other => panic!("{what}: bad outcome {other:?}"),
    }
    if let Some(expected) = &case.bodies {
        assert_eq!(&bodies(events), expected, "{what}: bodies");
    }
    // Each request's method and target, in order.
    let (methods, targets): (Vec<_>, Vec<_>) = events
        .iter()
        .filter_map(|e| match e {
            Owned::Request { method, target, .. } => Some((method.clone(), target.clone())),
            _ => None,
        })
        .unzip();
    if let Some(expected) = &case.targets {
        assert_eq!(&targets, expected, "{what}: targets");
    }
    if let Some(expected) = &case.methods {
        assert_eq!(&methods, expected, "{what}: methods");
    }
    if let Some(expected) = &case.statuses {
        let statuses: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Owned::Response { status, .. } => Some(*status),
                _ => None,
            })
            .collect();
        assert_eq!(&statuses, expected, "{what}: statuses");
    }
    if let Some(expected) = &case.headers {
        let headers = events.iter().find_map(|e| match e {
            Owned::Request { headers, .. } | Owned::Response { headers, .. } => Some(headers),
            _ => None,
        });
        assert_eq!(headers, Some(expected), "{what}: headers");
    }
    if let Some(expected) = &case.trailers {
        let trailers = events.iter().find_map(|e| match e {
            Owned::End { trailers } => Some(trailers),
            _ => None,
        });
        assert_eq!(trailers, Some(expected), "{what}: trailers");
    }
    if let Some(expected) = &case.rest {
        let rest = events.iter().find_map(|e| match e {
            Owned::SwitchedProtocol { rest } => Some(rest),
            _ => None,
        });
        assert_eq!(rest, Some(expected), "{what}: bytes after the switch");
    }
    if let Some(then) = &case.then {
        let last = events.last().unwrap();
        let matches = match then.as_str() {
            "closed" => *last == Owned::ConnectionClosed,
            "paused" => *last == Owned::Paused,
            "need-data" => *last == Owned::NeedData,
            "switched" => matches!(last, Owned::SwitchedProtocol { .. }),
            other => panic!("{what}: bad then {other:?}"),
        };
        assert!(matches, "{what}: ends with {last:?}, expected {then}");
    }
}

#[test]
fn conformance_cases_against_proto() {
    let cases = load_cases();
    assert!(cases.len() > 100, "only {} cases loaded", cases.len());
    for case in &cases {
        // The runs' own checks (splits agree, an appended message is read
        // alone) panic in `support`, which knows no case: name it.
        let events = std::panic::catch_unwind(|| run_proto(case))
            .unwrap_or_else(|_| panic!("{}: its runs disagree (above)", case.what()));
        check(case, &events);
    }
    // Those that end cleanly between messages on a connection that persists.
    let appended = support::appended_runs();
    assert!(
        appended > 40,
        "only {appended} cases ran with a message appended"
    );
}

#[cfg(feature = "std")]
#[test]
fn conformance_cases_through_the_server_driver() {
    let mut ran = 0;
    for case in load_cases()
        .iter()
        .filter(|c| c.role == "server" && c.then.as_deref() != Some("switched"))
    {
        let what = case.what();
        // The driver and its response parser are the server_driver fuzz target's.
        let wire = targets::driver::drive(
            Config::default(),
            std::iter::repeat(usize::MAX),
            &case.message,
            false,
        );
        let methods: Vec<String> = run_proto(case)
            .iter()
            .filter_map(|e| match e {
                Owned::Request { method, .. } => Some(method.clone()),
                _ => None,
            })
            .collect();
        let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
        let responses = targets::driver::parse_answers(&wire, &methods);
        let outcome: Vec<&str> = case.outcome.split_whitespace().collect();
        match outcome.as_slice() {
            ["accept"] => {
                let expected = case.targets.as_ref().map_or(1, Vec::len);
                assert_eq!(responses.len(), expected, "{what}: responses {responses:?}");
                assert!(
                    responses.iter().all(|r| r.status == 200),
                    "{what}: {responses:?}"
                );
                if let Some(bodies) = &case.bodies {
                    let echoed: Vec<Vec<u8>> = responses.iter().map(|r| r.body.clone()).collect();
                    assert_eq!(&echoed, bodies, "{what}: echoed bodies");
                }
            }
            ["reject", variant, status] => {
                let last = responses.last();
                if *variant == "IncompleteMessage" && last.is_none() {
                    // The client is gone mid-message: closing without an answer is fine.
                } else {
                    let last = last.unwrap_or_else(|| {
                        panic!(
                            "{what}: no response, wire {:?}",
                            String::from_utf8_lossy(&wire)
                        )
                    });
                    assert_eq!(last.status.to_string(), *status, "{what}: {responses:?}");
                    assert!(last.closes, "{what}: no Connection: close in {last:?}");
                }
            }
            other => panic!("{what}: bad outcome {other:?}"),
        }
        ran += 1;
    }
    assert!(ran > 80, "only {ran} cases ran through the driver");
}

/// A transport that reads as `input` and then the end of the stream,
/// handing it over in `piece`-byte reads, each after a read that finds
/// nothing yet if `waits`, and takes whatever is written.
#[cfg(feature = "std")]
struct Canned {
    input: Vec<u8>,
    at: usize,
    piece: usize,
    waits: bool,
    waited: bool,
}

#[cfg(feature = "std")]
impl futures_lite::AsyncRead for Canned {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.waits && !std::mem::replace(&mut self.waited, true) {
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.waited = false;
        let n = buf.len().min(self.piece).min(self.input.len() - self.at);
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        std::task::Poll::Ready(Ok(n))
    }
}

#[cfg(feature = "std")]
impl futures_lite::AsyncWrite for Canned {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Each client-role case through the async client (`lithe::io::ClientConnection`),
/// whole, a byte at a time, and a byte at a time after a read that finds
/// nothing, the message followed by the end of the stream: its one request
/// gets what proto made of the first final response (interim ones passed
/// over), with that response's fields, body and trailers, or the error
/// proto met before that body ended. So the driver's own logic (interim
/// responses, framing, the end of a body at the close) holds to the table
/// too.
#[cfg(feature = "std")]
#[test]
fn conformance_cases_through_the_client_driver() {
    use lithe::io::{ClientConfig, ClientConnection, Error as IoError, Request};
    use once_asked::OnceAsked;
    let mut ran = 0;
    for case in load_cases().iter().filter(|c| {
        c.role.starts_with("client")
            && c.then.as_deref() != Some("switched")
            && c.framing.as_deref() != Some("switched")
    }) {
        let what = case.what();
        let method = case.role.split_whitespace().nth(1).unwrap();
        let events = run_proto(case);
        let first_final = events
            .iter()
            .position(|e| matches!(e, Owned::Response { status, .. } if *status >= 200));
        let end = first_final.and_then(|at| {
            events[at..]
                .iter()
                .position(|e| matches!(e, Owned::End { .. }))
                .map(|n| at + n)
        });
        let error_at = events.iter().position(|e| matches!(e, Owned::Error(_)));
        let expected = match (end, error_at) {
            (Some(end), Some(error)) if error < end => Err(error_of(&events).unwrap()),
            (Some(end), _) => {
                let Some(Owned::Response {
                    status, headers, ..
                }) = first_final.map(|at| &events[at])
                else {
                    unreachable!()
                };
                let Owned::End { trailers } = &events[end] else {
                    unreachable!()
                };
                let body = bodies(&events).swap_remove(0);
                Ok((*status, headers.clone(), body, trailers.clone()))
            }
            (None, Some(_)) => Err(error_of(&events).unwrap()),
            (None, None) => panic!("{what}: no final response ends in {events:?}"),
        };
        for (piece, waits) in [(usize::MAX, false), (1, false), (1, true)] {
            // Answered once asked, as a server answers a request.
            let transport = OnceAsked::new(Canned {
                input: case.message.clone(),
                at: 0,
                piece,
                waits,
                waited: false,
            });
            let config = ClientConfig {
                proto: Config::default(),
                ..ClientConfig::default()
            };
            let mut conn = ClientConnection::new(transport, config);
            let (target, host) = match method {
                "CONNECT" => ("a.example:443", "a.example:443"),
                _ => ("/", "a.example"),
            };
            let request = Request::new(method.to_owned(), target).with_header("host", host);
            let owned = |fields: &lithe::io::Headers| -> Vec<(String, Vec<u8>)> {
                fields
                    .iter()
                    .map(|(name, value)| (name.to_owned(), value.to_vec()))
                    .collect()
            };
            let got = futures_lite::future::block_on(async {
                let response = conn.send(request).await?;
                let status = response.status().as_u16();
                let fields = owned(response.headers());
                let mut body = response.into_body();
                let mut data = Vec::new();
                while let Some(piece) = body.chunk().await? {
                    data.extend_from_slice(&piece);
                }
                let trailers = body.trailers().map_or(Vec::new(), |t| owned(&t));
                Ok::<_, IoError>((status, fields, data, trailers))
            });
            let got = got.map_err(|e| match e {
                IoError::Protocol(e) => e,
                other => panic!(
                    "{what} (piece {piece}, waits {waits}): {other:?}, expected {expected:?}"
                ),
            });
            assert_eq!(got, expected, "{what} (piece {piece}, waits {waits})");
        }
        ran += 1;
    }
    // All but the three CONNECT 2xx tunnels.
    assert!(ran >= 53, "only {ran} cases ran through the client driver");
}
