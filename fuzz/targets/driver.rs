//! The `server_driver` target: lithe's async server driver
//! (`lithe::io::serve_connection`) fed an arbitrary byte stream over an in-memory
//! pipe, checked against what `proto` alone reads from the same bytes.
//!
//! Layout: a feed header (see [`Feed::parse`](super::Feed::parse): piece lengths,
//! leniencies, tight limits), then the request stream, written in those pieces
//! and then closed. The service echoes each request body, except for a target
//! that starts with [`IGNORED`]: that body is left unread, for the driver to
//! drain (or to close the connection over), and the answer is `ignored`. An
//! echo goes out whole, as a sized stream or as a stream of unknown length
//! ([`answer_form`]). The service accepts an Upgrade as [`accepts_upgrade`]
//! says (a 101, its body left unread), and a CONNECT's 200 opens a tunnel;
//! after either, the new protocol echoes every byte it reads.
//!
//! Invariants:
//! * the driver finishes once the stream is closed: no hang (the stable test
//!   bounds it with a timer; libFuzzer with `-timeout`);
//! * what it writes parses as HTTP/1.1 responses, one per request at most, plus
//!   at most one error response;
//! * up to a protocol switch, the driver answers every request `proto` reads
//!   to its end, in order, with 200 and the request's body echoed (or
//!   `ignored`), whether or not `proto` finds a fault after them: pipelined
//!   bytes are never lost or misparsed, and the requests before a malformed
//!   one are served as `proto` read them. Only an answer that says
//!   `Connection: close` may be the last before all are answered, and none
//!   follows it;
//! * where `proto` switched protocols, the driver does so with the same
//!   status, and the new protocol reads exactly the bytes after the switching
//!   request (its head and any body), once and in order.

use std::cell::RefCell;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use lithe::io::{Body, OnUpgrade, Request, Response, ServerConfig, duplex, serve_connection};
use lithe::proto::{
    BodyLength, Config, Connection, EMPTY_HEADER, Event, Header, RequestHead, StatusCode, Version,
};

use super::{
    Delivery, Feed, Fields, HEADER_SLOTS, Run, Seen, UPGRADE_TO_WEBSOCKET, Us, accepts_upgrade,
    list_of, request_framing,
};

/// How long one input may take before the target reports a hang.
const HANG: Duration = Duration::from_secs(10);

/// The target prefix for which the service leaves the request body unread.
pub const IGNORED: &str = "/ignore";

/// One final response as written by the driver.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// Its status code.
    pub status: u16,
    /// Its body, de-chunked.
    pub body: Vec<u8>,
    /// Whether it carried `Connection: close`.
    pub closes: bool,
    /// The interim (1xx) statuses sent before it, 101 aside (final here).
    pub interims: Vec<u16>,
}

pub fn server_driver(data: &[u8]) {
    let (feed, stream) = Feed::parse(data);
    let mut config = feed.config();
    // The proto runs offer HEADER_SLOTS headers; the driver must see the same cap.
    config.limits.max_headers = config.limits.max_headers.min(HEADER_SLOTS);
    let expected =
        Run::new(Connection::server(config), Us::PlainServer, stream).deliver(&Delivery::Whole);
    let (wire, handed) = drive_recording(config, feed.lengths(), stream, true);

    let (methods, targets): (Vec<&str>, Vec<&str>) = expected
        .iter()
        .filter_map(|seen| match seen {
            Seen::Request { method, target, .. } => Some((method.as_str(), target.as_str())),
            _ => None,
        })
        .unzip();
    let http10: Vec<bool> = expected
        .iter()
        .filter_map(|seen| match seen {
            Seen::Request { version, .. } => Some(*version == Version::Http10),
            _ => None,
        })
        .collect();
    // Whether each request awaits `100 Continue`, as RFC 9110 §10.1.1 has a
    // server judge it: an HTTP/1.1 request with content that expects it.
    let expects_continue: Vec<bool> = expected
        .iter()
        .filter_map(|seen| match seen {
            Seen::Request {
                version, headers, ..
            } => Some(
                *version == Version::Http11
                    && request_framing(headers, *version) != BodyLength::Empty
                    && list_of(headers, "expect").is_some_and(|expectations| {
                        expectations
                            .iter()
                            .any(|e| e.eq_ignore_ascii_case(b"100-continue"))
                    }),
            ),
            _ => None,
        })
        .collect();
    // The request after which proto's run switched protocols (a 101 to an
    // Upgrade the service accepts, or a CONNECT's 200), and the bytes after
    // it (head and body), which the new protocol echoes.
    let switched = expected
        .iter()
        .position(|seen| matches!(seen, Seen::Switched { .. }))
        .map(|at| {
            let Seen::Switched { rest } = expected[at] else {
                unreachable!("found above")
            };
            let requests = expected[..at]
                .iter()
                .filter(|seen| matches!(seen, Seen::Request { .. }))
                .count();
            (requests - 1, &stream[stream.len() - rest..])
        });
    let (answers, switch) = parse_answers_until_switch(&wire, &methods, switched.map(|s| s.0));
    assert!(
        answers.len() <= methods.len() + 1,
        "{} responses to {} requests",
        answers.len(),
        methods.len()
    );

    // The requests read whole, before any fault: a stream that ends in a
    // malformed request (a smuggling attempt among them) has them
    // answered like any others, its error response after them. A switch
    // ends HTTP: the requests before it are answered 200.
    let mut bodies = request_bodies(&expected);
    bodies.truncate(switched.map_or(usize::MAX, |s| s.0));
    let complete = bodies.len();
    check_handed(&handed, &expected, complete, answers.len());
    // A body left unread that cannot be drained closes the connection, and
    // so does a body of unknown length to an HTTP/1.0 client (the close
    // delimits it): only after such a request may the answers stop short.
    let closed_early = answers.last().is_some_and(|a| a.closes)
        && targets.get(answers.len() - 1).is_some_and(|t| {
            let last = answers.len() - 1;
            t.starts_with(IGNORED)
                || http10[last] && methods[last] != "HEAD" && answer_form(t).is_unsized()
        });
    assert!(
        answers.len() >= complete || closed_early,
        "{complete} complete requests, {} responses",
        answers.len()
    );
    for (i, (answer, body)) in answers.iter().zip(&bodies).enumerate() {
        let body = if methods[i] == "HEAD" {
            &[][..]
        } else if targets[i].starts_with(IGNORED) {
            b"ignored"
        } else {
            body.as_slice()
        };
        assert_eq!(answer.status, 200, "response {i}");
        assert_eq!(
            answer.body, body,
            "response {i} does not answer its request"
        );
        assert!(
            !answer.closes || i + 1 == answers.len(),
            "response {i} closes the connection, yet more follow"
        );
    }
    // `100 Continue` goes only to a request that awaits it, once, and only
    // when the service reads its body (issue 3): never to one left unread.
    for (i, answer) in answers.iter().enumerate() {
        let continues = answer.interims.iter().filter(|&&s| s == 100).count();
        let may_continue = expects_continue.get(i) == Some(&true)
            && targets.get(i).is_some_and(|t| !t.starts_with(IGNORED));
        assert!(
            answer.interims.iter().all(|&s| s == 100) && continues <= usize::from(may_continue),
            "response {i} came after the interim responses {:?}",
            answer.interims
        );
    }
    if let (None, Some(Seen::Failed(error))) = (switched, expected.last()) {
        check_answer_to_fault(&answers, complete, *error, &methods, &targets, &http10);
    }
    // A connection closed short of the switch never switched.
    if closed_early {
        assert_eq!(switch, None, "a switch after a closing answer");
    }
    // After the switch, the new protocol has every byte that followed the
    // request, once and in order: none kept as HTTP, none lost.
    if let Some((index, rest)) = switched.filter(|_| !closed_early) {
        let status = match methods[index] {
            "CONNECT" => 200,
            _ => 101,
        };
        assert_eq!(
            switch,
            Some(Switch {
                status,
                rest: rest.to_vec()
            }),
            "the switch after request {index}"
        );
    }
}

/// The answer after the `complete` requests, where `proto` found `error`:
/// if that request's head was read, its body broke (cut short, bad chunk
/// framing, trailers over a limit), and a service that read it cannot have
/// been handed a whole body, so its answer is no 200 (issue 3: a body cut
/// short is never a short success); if not, the fault is a head's, and the
/// driver's own answer carries the status `proto` names and closes.
/// Exempt: a body the service never read (`ignored`), and a piped answer
/// (its head goes out before the body is read) that cannot be seen cut: to
/// HEAD, it has no body, and to HTTP/1.0 only the close delimits it.
fn check_answer_to_fault(
    answers: &[Answer],
    complete: usize,
    error: lithe::proto::Error,
    methods: &[&str],
    targets: &[&str],
    http10: &[bool],
) {
    let Some(answer) = answers.get(complete) else {
        return;
    };
    if methods.len() > complete {
        let target = targets[complete];
        let piped_uncut = answer_form(target) == AnswerForm::Piped
            && (http10[complete] || methods[complete] == "HEAD");
        if !target.starts_with(IGNORED) && !piped_uncut {
            assert_ne!(
                answer.status, 200,
                "request {complete}'s body broke ({error}), yet it was answered as whole"
            );
            assert!(
                answer.closes,
                "the answer after a broken body ({error}) keeps the connection"
            );
        }
    } else {
        assert_eq!(
            (answer.status, answer.closes),
            (error.status().as_u16(), true),
            "the answer to a malformed head ({error})"
        );
    }
}

/// The service was handed each of the `complete` requests that were
/// `answered`, once and in order, as `proto` read it: method, target,
/// version and fields in order, and the trailers of a body it read whole. The driver keeps the head's bytes and hands out
/// views into them, so an offset or a length off by one shows here.
fn check_handed(handed: &[Handed], trace: &[Seen], complete: usize, answered: usize) {
    let mut requests = Vec::new();
    for seen in trace {
        match seen {
            Seen::Request {
                method,
                target,
                version,
                headers,
            } => requests.push(Handed {
                method: method.clone(),
                target: target.clone(),
                version: *version,
                headers: headers.clone(),
                trailers: None,
            }),
            Seen::End { trailers } => {
                if let Some(request) = requests.last_mut() {
                    request.trailers = Some(trailers.clone());
                }
            }
            _ => {}
        }
    }
    // Each request once, in order: none answered yet left out (a connection
    // closed early answers fewer), none past those proto read.
    assert!(
        (complete.min(answered)..=requests.len()).contains(&handed.len()),
        "the service was handed {} requests; proto read {} ({complete} to their end), \
         {answered} were answered",
        handed.len(),
        requests.len()
    );
    for (i, (got, read)) in handed.iter().zip(&requests).take(complete).enumerate() {
        let trailers = got.trailers.as_ref().and(read.trailers.clone());
        assert_eq!(
            got,
            &Handed {
                trailers,
                ..read.clone()
            },
            "request {i} was handed to the service otherwise than proto read it"
        );
    }
}

/// The bodies of the requests `proto` read to their end, in order.
fn request_bodies(trace: &[Seen]) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut current = Vec::new();
    for seen in trace {
        match seen {
            Seen::Request { .. } => current = Vec::new(),
            Seen::Body(bytes) => current = bytes.clone(),
            Seen::End { .. } => bodies.push(std::mem::take(&mut current)),
            _ => {}
        }
    }
    bodies
}

/// Runs the driver with an echoing service over `stream`, delivered in pieces of
/// the given `lengths` then closed; returns everything it wrote. With
/// `varied`, the service accepts an Upgrade as [`accepts_upgrade`] says and
/// sends each echo in the form [`answer_form`] says; without, it declines
/// every Upgrade with its 200 and sends each echo whole.
pub fn drive(
    config: Config,
    lengths: impl Iterator<Item = usize>,
    stream: &[u8],
    varied: bool,
) -> Vec<u8> {
    drive_recording(config, lengths, stream, varied).0
}

/// What the service was handed for one request: its head as the driver
/// made it, and the trailers of a body it read whole (`None` for one it
/// did not, or that failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handed {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Fields,
    pub trailers: Option<Fields>,
}

/// [`drive`], with what the service was handed, request by request.
fn drive_recording(
    config: Config,
    lengths: impl Iterator<Item = usize>,
    stream: &[u8],
    varied: bool,
) -> (Vec<u8>, Vec<Handed>) {
    let handed: RefCell<Vec<Handed>> = RefCell::new(Vec::new());
    let (server_end, client_end) = duplex(64 * 1024);
    let server_config = ServerConfig {
        proto: config,
        drain_limit: 1 << 20,
        ..ServerConfig::default()
    };
    let server = async {
        // The connection a switch hands over, once the driver has sent its
        // answer and returned.
        let switch: RefCell<Option<OnUpgrade>> = RefCell::new(None);
        let echo = |mut request: Request| {
            let at = handed.borrow().len();
            handed.borrow_mut().push(Handed {
                method: request.method().to_owned(),
                target: request.target().to_owned(),
                version: request.version(),
                headers: owned(request.headers()),
                trailers: None,
            });
            let handed = &handed;
            let upgrade = request.upgrade();
            let connect = request.method() == "CONNECT";
            // As the proto run's server decides (`accepts_upgrade`).
            let accepted =
                varied && upgrade.is_some() && !connect && accepts_upgrade(request.target());
            if accepted || connect {
                *switch.borrow_mut() = upgrade;
            }
            // A 101 names protocols the request offered (the driver answers
            // 500 to any other): the ones it offered, whatever they are.
            let offered = request
                .headers()
                .get_all("upgrade")
                .collect::<Vec<_>>()
                .join(&b","[..]);
            async move {
                if accepted {
                    return Response::new(StatusCode::SWITCHING_PROTOCOLS)
                        .with_header("connection", "upgrade")
                        .with_header("upgrade", offered);
                }
                if request.target().starts_with(IGNORED) {
                    return Response::new(StatusCode::OK).with_body("ignored");
                }
                let form = match varied {
                    true => answer_form(request.target()),
                    false => AnswerForm::Whole,
                };
                if form == AnswerForm::Piped {
                    let body = Body::stream(request.into_body());
                    return Response::new(StatusCode::OK).with_body(body);
                }
                let mut body = request.into_body();
                let mut whole = Vec::new();
                loop {
                    match body.chunk().await {
                        Ok(Some(chunk)) => whole.extend_from_slice(&chunk),
                        Ok(None) => break,
                        Err(_) => return Response::new(StatusCode::INTERNAL_SERVER_ERROR),
                    }
                }
                handed.borrow_mut()[at].trailers =
                    Some(body.trailers().as_ref().map(owned).unwrap_or_default());
                Response::new(StatusCode::OK).with_body(echo_body(whole.into(), form))
            }
        };
        let _ = serve_connection(server_end, echo, &server_config).await;
        // The new protocol echoes what it reads, the bytes the driver read
        // past the request first, until the peer is done; the driver may have declined
        // (an error answer to CONNECT), which leaves nothing to do.
        let on_upgrade = switch.borrow_mut().take();
        if let Some(Ok(mut io)) = match on_upgrade {
            Some(on_upgrade) => Some(on_upgrade.await),
            None => None,
        } {
            let mut bytes = Vec::new();
            let _ = io.read_to_end(&mut bytes).await;
            let _ = io.write_all(&bytes).await;
            let _ = io.close().await;
        }
    };
    let client = feed_and_collect(client_end, stream, lengths);
    let hang = async {
        async_io::Timer::after(HANG).await;
        panic!("the server driver hung");
    };
    let wire = future::block_on(future::or(future::zip(server, client), hang)).1;
    (wire, handed.into_inner())
}

/// `headers` as (name, value) pairs, in order.
fn owned(headers: &lithe::io::Headers) -> Fields {
    headers
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_vec()))
        .collect()
}

/// How the service sends an echoed body, by the target's length mod 4: read
/// whole first, then sent as one piece, as a stream of the declared length,
/// or as a stream of unknown length; or piped, the request body's own stream
/// answered as it arrives (`hello_server`'s `/echo`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AnswerForm {
    /// One piece: `Content-Length`.
    Whole,
    /// A stream of the declared length: `Content-Length`, sent piece by piece.
    SizedStream,
    /// A stream of unknown length: chunked, or to HTTP/1.0 until the close.
    Stream,
    /// The request body's stream, answered before it is read: chunked, or
    /// to HTTP/1.0 until the close; a body that fails cuts the answer short.
    Piped,
}

impl AnswerForm {
    /// Whether its length is unknown: to an HTTP/1.0 client, the close
    /// delimits it.
    fn is_unsized(self) -> bool {
        matches!(self, AnswerForm::Stream | AnswerForm::Piped)
    }
}

/// The form the service answers a request with this target in.
pub fn answer_form(target: &str) -> AnswerForm {
    [
        AnswerForm::Whole,
        AnswerForm::SizedStream,
        AnswerForm::Stream,
        AnswerForm::Piped,
    ][target.len() % 4]
}

/// `body` as the service sends it in `form`: the streams yield it in pieces
/// of up to seven bytes.
fn echo_body(body: bytes::Bytes, form: AnswerForm) -> Body {
    let pieces: Vec<std::io::Result<bytes::Bytes>> = (0..body.len())
        .step_by(7)
        .map(|at| Ok(body.slice(at..body.len().min(at + 7))))
        .collect();
    let stream = futures_lite::stream::iter(pieces);
    match form {
        AnswerForm::Whole => Body::from(body),
        AnswerForm::SizedStream => Body::sized_stream(body.len() as u64, stream),
        AnswerForm::Stream | AnswerForm::Piped => Body::stream(stream),
    }
}

/// The peer's side of a driver run: writes `stream` into `end` in pieces of
/// the given `lengths` (yielding between them, so the driver sees each), closes
/// its writing half, and returns everything read from `end` until it closes.
pub async fn feed_and_collect(
    end: lithe::io::DuplexStream,
    stream: &[u8],
    lengths: impl Iterator<Item = usize>,
) -> Vec<u8> {
    let (mut reader, mut writer) = futures_lite::io::split(end);
    let write = async {
        let mut rest = stream;
        for length in lengths {
            if rest.is_empty() {
                break;
            }
            let (piece, more) = rest.split_at(length.clamp(1, rest.len()));
            if writer.write_all(piece).await.is_err() {
                break;
            }
            rest = more;
            future::yield_now().await;
        }
        let _ = writer.close().await;
    };
    let read = async {
        let mut wire = Vec::new();
        let _ = reader.read_to_end(&mut wire).await;
        wire
    };
    future::zip(write, read).await.1
}

/// A protocol switch in the driver's output.
#[derive(Debug, PartialEq, Eq)]
pub struct Switch {
    /// The status that switched: 101, or 2xx to CONNECT.
    pub status: u16,
    /// Everything written after that response's head.
    pub rest: Vec<u8>,
}

/// Parses the driver's output as responses to requests with `methods`
/// (a CONNECT's answer read as a GET's: its tunnel is not followed).
pub fn parse_answers(wire: &[u8], methods: &[&str]) -> Vec<Answer> {
    parse_answers_until_switch(wire, methods, None).0
}

/// [`parse_answers`], where the request numbered `switch_at` proposes a
/// switch (`Upgrade: websocket`, or the CONNECT it is): a response that
/// accepts it ends the answers, and what follows is the new protocol's. A
/// response whose body the output ends inside is left out.
pub fn parse_answers_until_switch(
    mut wire: &[u8],
    methods: &[&str],
    switch_at: Option<usize>,
) -> (Vec<Answer>, Option<Switch>) {
    let host = [Header {
        name: "Host",
        value: b"x",
    }];
    let tunnel_host = [Header {
        name: "Host",
        value: b"x:443",
    }];
    let [connection, upgrade] = UPGRADE_TO_WEBSOCKET;
    let upgrading = [host[0], connection, upgrade];
    let mut client = Connection::client(Config::default());
    let mut answers = Vec::new();
    let mut current: Option<Answer> = None;
    let mut interims = Vec::new();
    // A request is outstanding until its final response ends.
    let mut outstanding = false;
    client.receive_eof();
    loop {
        if !outstanding {
            if wire.is_empty() {
                return (answers, None);
            }
            outstanding = true;
            let method = methods.get(answers.len()).copied().unwrap_or("GET");
            let switching = switch_at == Some(answers.len());
            let head = match (method, switching) {
                // Its Host is its target (RFC 9112 §3.2).
                ("CONNECT", true) => RequestHead::new("CONNECT", "x:443", &tunnel_host),
                ("CONNECT", false) => RequestHead::new("GET", "/", &host),
                (method, true) => RequestHead::new(method, "/", &upgrading),
                (method, false) => RequestHead::new(method, "/", &host),
            };
            // Room for the head whatever the method's length.
            let mut scratch = vec![0u8; method.len() + 128];
            client
                .send_request(&head, &mut scratch)
                .expect("a request to parse the next response against");
            if client.our_state() == lithe::proto::State::SendBody {
                client
                    .send_end(&[], &mut scratch)
                    .expect("an empty request body");
            }
        }
        let mut headers = [EMPTY_HEADER; 64];
        let received = match client.receive(wire, &mut headers) {
            Ok(received) => received,
            // An answer cut short where the output ends: a piped body that
            // failed. Not an answer (the request it answered is none).
            Err(lithe::proto::Error::IncompleteMessage) if current.is_some() => {
                return (answers, None);
            }
            Err(e) => panic!(
                "the driver wrote an invalid response ({e}): {:?}",
                String::from_utf8_lossy(wire)
            ),
        };
        wire = &wire[received.consumed..];
        match received.event {
            // Interim: the final response follows (a 101 is final here, and
            // switches).
            Event::Response(head) if head.status.is_informational() && head.status != 101 => {
                interims.push(head.status.as_u16());
            }
            Event::Response(head) => {
                let closes = head
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
                current = Some(Answer {
                    status: head.status.as_u16(),
                    body: Vec::new(),
                    closes,
                    interims: std::mem::take(&mut interims),
                });
            }
            Event::Data(data) => current
                .as_mut()
                .expect("data follows a head")
                .body
                .extend_from_slice(data),
            Event::End { .. } => {
                answers.push(current.take().expect("an end follows a head"));
                outstanding = false;
            }
            Event::SwitchedProtocol => {
                let status = current
                    .take()
                    .expect("a switch follows its response")
                    .status;
                let rest = wire.to_vec();
                return (answers, Some(Switch { status, rest }));
            }
            Event::ConnectionClosed | Event::Paused => return (answers, None),
            Event::NeedData => unreachable!("end of stream was signalled"),
            Event::HeadersFull => unreachable!("the driver's answers have few fields"),
            Event::Request(_) => unreachable!("a client connection reads responses"),
        }
    }
}
