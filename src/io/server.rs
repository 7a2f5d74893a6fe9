//! The server connection driver: reads requests with [`proto`](crate::proto),
//! hands each to a [`Service`], writes the responses in order.
//!
//! How a connection is served is [`serve_connection`]'s to say (private
//! modules' docs are not rendered).
//!
//! This file holds the driver's loop (heads, the service, waits, closing);
//! `request_body` the bodies, `response` the responses and the driver's own
//! answers, `config` [`ServerConfig`].

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use bytes::Bytes;
use event_listener::EventListener;
use futures_lite::future::poll_fn;

use super::body::{Feeder, Incoming};
use super::buffer::{Deadline, Output, ReadBuf, Stall, close_within, closed_without_notify_as_end};
use super::byte_str::Method;
use super::date;
use super::error::{Error, Timeout};
use super::headers::{Headers, field_spans};
use super::message::{Request, Response};
use super::receive::{Span, Spans, parse_with_growing_fields, span};
use super::shutdown::{IdleClose, Shutdown};
use super::upgrade::{
    OnUpgrade, Transport, UpgradeSender, Upgraded, switches_to_an_offered_protocol,
};
use crate::proto::{self, BodyLength, Connection, Event, Header, State, StatusCode, Version};

mod config;
mod request_body;
mod response;

pub use config::ServerConfig;
use request_body::{BodyFault, Drain};

/// Responses to pipelined requests are batched up to this many bytes.
const MAX_BATCH: usize = 64 * 1024;
/// Requests a connection serves without waiting for its peer before it lets
/// the other tasks of its thread run, at its next read: a client that keeps
/// its pipeline full (and reads as fast) would otherwise hold the thread,
/// since neither reading nor writing ever waits. A connection whose read
/// waits has let the others run, and starts its count over: yielding it
/// too would only send it to the back of the queue, behind connections it
/// was not holding up. (hyper yields after 16 requests in one poll; yielding
/// at a read keeps a batch of pipelined responses together.)
const FAIR_SHARE: u32 = 64;
/// Requests served without the buffer running dry (no read to yield at)
/// before the connection flushes and yields all the same. Larger than
/// [`FAIR_SHARE`], so that ordinary pipelining, whose buffer runs dry at each
/// read, is rarely cut mid-batch (a read holds a few hundred requests at
/// most); reached by a client that keeps a whole head buffered behind every
/// request.
const BUFFERED_SHARE: u32 = 4 * FAIR_SHARE;
/// After closing our side, what the peer still sends is read and discarded for
/// at most this long, so that our last response is not lost to a reset: a
/// client that writes its whole upload before it reads (as simple clients do)
/// learns of an early refusal only if the upload is taken in meanwhile.
/// aiohttp lingers as long, nginx up to 30 s.
const LINGER: Duration = Duration::from_secs(10);
/// The linger ends once the peer has sent nothing for this long: a peer that
/// has stopped sending draws no reset, and one that sends no more need not
/// be waited for.
const LINGER_PAUSE: Duration = Duration::from_secs(1);
/// Bytes discarded while lingering before the connection lets the other
/// tasks of its thread run: a peer that sends as fast as we read would
/// otherwise hold the thread for the whole linger.
const LINGER_SHARE: usize = 256 * 1024;
/// How long a head begun when a shutdown starts may still take to arrive,
/// if the head timeout would give it longer: one trickled in (a slowloris)
/// would otherwise hold the shutdown for the whole head timeout.
pub(crate) const SHUTDOWN_HEAD_GRACE: Duration = Duration::from_secs(1);

/// What answers requests: an async function from [`Request`] to [`Response`].
///
/// Any `Fn(Request) -> impl Future<Output = Response>` is one:
///
/// ```
/// use lithe::io::{Request, Response};
/// use lithe::proto::StatusCode;
/// async fn hello(_: Request) -> Response {
///     Response::new(StatusCode::OK).with_body("Hello, World!")
/// }
/// fn takes_service(_: impl lithe::io::Service) {}
/// takes_service(hello);
/// ```
pub trait Service {
    /// The future of one response.
    type Future: Future<Output = Response>;

    /// Answers one request.
    fn call(&self, request: Request) -> Self::Future;
}

impl<F, Fut> Service for F
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    type Future = Fut;

    fn call(&self, request: Request) -> Fut {
        self(request)
    }
}

/// Serves requests on one connection until it closes.
///
/// One call serves one connection, as one future, with no tasks of its own:
///
/// * **Heads.** It reads until `proto` finds a whole head. Waiting for the first
///   byte is bounded by the idle timeout (by the head timeout, if shorter, on a
///   new connection, or with an idle timeout of zero, keep-alive off; a read
///   buffer larger than 512 bytes is freed meanwhile);
///   once bytes trickle in, the whole head must arrive within the head timeout or
///   the client gets `408` and the connection closes. A malformed head gets the
///   status `proto` names, with `Connection: close`, then the connection closes;
///   a malformed start line is answered as soon as its line end arrives, a bare
///   CR as soon as the byte after it does, a limit as soon as it is crossed.
/// * **Closing.** After its last response the driver closes its sending side
///   (reading and discarding what comes while the end of the response waits
///   to go out), then reads and discards what the client still sends, so
///   that unread bytes draw no reset that would destroy the response (a
///   client writing a whole upload before reading an early `413`): until a second passes with nothing,
///   for ten seconds at most, however many bytes, and for about a second once a
///   shutdown starts. The connection holds its slot meanwhile.
/// * **Bodies.** While the service runs, and while the response is written, the
///   driver also *pumps* the request body: when the service asks for a chunk it
///   reads one (sending `100 Continue` first if the client waits for it). Reading
///   a body, and writing a response, time out when the peer moves fewer than
///   [`ServerConfig::min_progress_bytes`] within the body (write) timeout of
///   waiting on it, not only when it goes silent. A body
///   the service left unread is drained up to [`ServerConfig::drain_limit`] after
///   the response (within the body timeout in all), or the connection is
///   closed: it is never parsed as a request. One the service dropped is also
///   read and dropped while the response waits to go out (counted against
///   the same limit), so that a client that sends all its body before it
///   reads gets an answer larger than the transport holds. Neither are bytes already
///   behind a refused `CONNECT`: that connection closes after the answer.
/// * **Responses.** A body of known length goes out with `Content-Length`, one of
///   unknown length chunked (close-delimited for HTTP/1.0, for which a `chunked`
///   the service named is left out; close-delimited too under a
///   `Transfer-Encoding` of the service's that does not end in `chunked`,
///   which RFC 9112 §6.3 leaves no other end); a HEAD answered with no body gets no
///   `Content-Length: 0`. Every final response gets a `Date` unless the service
///   set one ([`ServerConfig::date_header`]). A service's framing fields on a
///   `1xx`, `204` or tunnel are left out (a `304` keeps its length); a `205`
///   has no content (RFC 9110 §15.3.6), so its body and framing fields are
///   left out and it goes with `Content-Length: 0` (unless it opens a tunnel). A head
///   HTTP/1.1 cannot carry (an interim status, a status past 599, both
///   framings where a body may follow, a `Content-Length` the body disagrees with, fields that
///   disagree with each other, a 101 or 426 without an `Upgrade` field; fields
///   that agree, `5, 5` or `05` beside `5`, go out as one) becomes a 500, as
///   does a service that panics before its response begins (the 4xx of its
///   request body's fault if the client broke that body; a response begun is
///   cut short; the connection closes after it). Small
///   responses leave in one write; the responses to
///   pipelined requests already buffered are batched into one write, which
///   still goes out if a later response fails, and a connection lets the other
///   tasks of its thread run after 64 requests served without waiting for
///   bytes (256 while every read brings the next request whole).
/// * **Upgrades.** After a `101` (or a `2xx` to `CONNECT`) the connection and the
///   bytes after the head go to the request's [`OnUpgrade`](super::OnUpgrade).
///   A 101 answered before the request's body was read waits for its end:
///   the body is drained first (`100 Continue` first if awaited), and a body
///   the service still holds is cut off; too long to drain, the answer is a
///   413 and the connection closes. (A CONNECT that declares content never
///   reaches the service: proto refuses it with 400, and the connection
///   closes.)
///
/// Runs under any executor. The future is `Send` (for a work-stealing
/// executor's `spawn`) when the service and its futures are: the service
/// need not be `Sync`, so per-connection state may sit in a `Cell`.
///
/// Returns `Ok` when the connection ended the way HTTP allows (the client
/// closed, a timeout, a rejected request, a protocol switch, a request body
/// whose read failed, the service given the error, and answered) and `Err`
/// on any other I/O failure, on a write that timed out ([`Timeout::Write`]), or when a response
/// body broke its own framing (a
/// [`Body::sized_stream`](super::Body::sized_stream), or a stream under a
/// `Content-Length` the service set, yielding more or fewer bytes than
/// declared; a stream that failed or panicked: the connection is closed
/// mid-message rather than left looking complete, after the responses finished
/// before it). A body with a length or chunks shows itself cut short, and its
/// connection's sending side is closed as usual; one delimited by the close is
/// dropped without `poll_close`, so no TLS `close_notify` ends it as if whole;
/// over plain TCP only a reset can say it, which `rt::Server` sends (on Linux)
/// and this function, knowing nothing of the transport, cannot.
pub async fn serve_connection<T, S>(
    io: T,
    mut service: S,
    config: &ServerConfig,
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Service,
{
    serve_with(io, &mut service, config, None, None, None).await
}

/// [`serve_connection`], also stopping between requests once `shutdown` is
/// triggered (the request in flight is finished first, its response saying
/// `Connection: close` if its head goes out after the trigger, and nothing
/// pipelined behind such a response is served, as RFC 9112 §9.6 asks; a
/// request whose head has begun to arrive while the connection waits
/// between requests, or the first request of a connection with nothing
/// sent yet, gets a second more, within the head timeout, to come whole and
/// be served as the last, or is answered `408`), and closing when
/// idle at a [`Shutdown::close_idle`] (one made once the future has first
/// been polled: a call before that concerns connections already being
/// served, not this one).
pub async fn serve_connection_until<T, S>(
    io: T,
    mut service: S,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Service,
{
    serve_with(io, &mut service, config, Some(shutdown), None, None).await
}

/// [`serve_connection_until`] for a transport that can close abortively:
/// `reset_on_close(io, true)` makes its coming close, however it comes, a
/// reset (a TCP `SO_LINGER` of zero), `false` a clean one again. The driver
/// turns it on while a close-delimited body goes out and off at its end, so
/// that one cut short (a failed stream, a task dropped at the end of a
/// shutdown) is not taken for whole: nothing else says it did not end there.
/// `shutdown_grace` is when the grace for the first request ends, where a
/// shutdown began before the connection reached the driver (during a TLS
/// handshake): one grace in all, not one each.
#[cfg(feature = "server")]
pub(crate) async fn serve_connection_aborting<T, S>(
    io: T,
    mut service: S,
    config: &ServerConfig,
    shutdown: &Shutdown,
    reset_on_close: fn(&mut T, bool),
    shutdown_grace: Option<Instant>,
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Service,
{
    serve_with(
        io,
        &mut service,
        config,
        Some(shutdown),
        Some(reset_on_close),
        shutdown_grace,
    )
    .await
}

/// Serves requests on `io` until it closes or switches protocols.
///
/// The driver is built here, inside the future, and borrowed by the loop: an
/// async fn keeps the arguments it owns in its future besides the copies its
/// body works on, so taking the 660-byte driver as an argument (of this
/// function or of `run`) would hold it twice in every connection's future.
async fn serve_with<T, S>(
    io: T,
    // `&mut`: held across awaits, it leaves the future `Send` with a
    // service that is `Send` but not `Sync` (a `Cell` counter).
    service: &mut S,
    config: &ServerConfig,
    shutdown: Option<&Shutdown>,
    reset_on_close: Option<fn(&mut T, bool)>,
    shutdown_grace: Option<Instant>,
) -> Result<(), Error>
where
    T: Transport + 'static,
    S: Service,
{
    let mut driver = Driver::new(io, config, shutdown);
    driver.reset_on_close = reset_on_close;
    driver.shutdown_grace = shutdown_grace;
    let ended = {
        let mut run = pin!(driver.run(service));
        poll_fn(|cx| {
            // One clock reading per poll dates every response the poll writes.
            date::tick();
            // The service's code runs inside (its `call`, its future, its
            // response body): a panic there costs its own request, not the
            // connection's other answers. Guarded here, once a poll: one
            // place for all of it, where guards around each call into the
            // service measured slower on a pipelined connection.
            match panic::catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(cx))) {
                Ok(polled) => polled.map(Some),
                Err(_) => Poll::Ready(None),
            }
        })
        .await
    };
    let ended = match ended {
        Some(Ok(ended)) => ended,
        // Answered (and logged) by the driver, as a malformed request is;
        // a response it cut short is an error, as a failed stream's is.
        None => return driver.close_after_panic().await,
        Some(Err(error)) => {
            // Responses to pipelined requests that came before the one that
            // failed may still be in the batch: they go out (with what the
            // failed one had), so the client loses only the failed exchange;
            // lingering keeps a reset from discarding them. A request body
            // still read (by a task of the service's) will not come: its
            // reader hears so now, not when the linger ends.
            if let Some(feeder) = driver.feeder.take() {
                feeder.abandon();
            }
            let _ = driver.close(true).await;
            return Err(error);
        }
    };
    match ended {
        // Boxed: it owns the driver, so inline it would hold another copy of
        // it in every connection's future, for the rare upgrade.
        Ended::Switched(upgrade) => Box::pin(driver.hand_off(upgrade)).await,
        Ended::Closed => Ok(()),
    }
}

/// What parsing the buffered bytes found.
// Matched where it is made, once per request, never stored: boxing the large
// variant would cost an allocation per request to save bytes no one keeps.
#[allow(clippy::large_enum_variant)]
enum HeadStep {
    /// A request, its feeder, framing and upgrade sender left in the driver
    /// (`feeder`, `asked`, `parsed_upgrade`): with them it would be past 128
    /// bytes, which a move copies with a `memcpy` call.
    Request(Request),
    NeedData,
    Closed,
    Rejected(proto::Error),
}

/// How serving requests on a connection ended.
enum Ended {
    /// The connection is closed.
    Closed,
    /// The connection switched protocols: hand it to whoever waits for it.
    Switched(Option<UpgradeSender>),
}

/// How waiting for bytes ended.
enum Wait {
    Read(usize),
    Shutdown,
}

/// A piece of a request body.
enum Piece {
    Data(Bytes),
    /// The end, with the trailer fields if there were any.
    End(Option<Headers>),
}

struct Driver<'c, T> {
    io: T,
    /// Makes the transport's close a reset, or clean again (see
    /// [`serve_connection_aborting`]).
    reset_on_close: Option<fn(&mut T, bool)>,
    conn: Connection,
    buf: ReadBuf,
    out: Output,
    config: &'c ServerConfig,
    shutdown: Option<&'c Shutdown>,
    shutdown_listener: Option<EventListener>,
    /// The waker `shutdown_listener` was last polled with.
    shutdown_waker: Option<core::task::Waker>,
    /// `Shutdown::idle_closes` when the wait for the next request began,
    /// moved on past each call answered since: a call after it, while
    /// nothing has begun, may close the connection.
    idle_closes_seen: u64,
    read_deadline: Deadline,
    body_stall: Stall,
    /// The current request's body, while the service may read it.
    feeder: Option<Feeder>,
    body_done: bool,
    /// The request body failed by the client's doing: the answer is this
    /// fault's, whatever the service's.
    body_error: Option<BodyFault>,
    /// The connection cannot carry another request after this response: the
    /// request body failed, or we answered without `100 Continue`, so the
    /// client will not send it.
    close_after: bool,
    /// Bytes of the current request body read and dropped while an answer
    /// waited to go out (`poll_drop_abandoned_body`).
    dropped: u64,
    /// The current request came over HTTP/1.0.
    http10_peer: bool,
    /// What the request in progress asks of its response's framing.
    asked: Asked,
    /// No request has begun on this connection yet.
    fresh: bool,
    /// When the grace a shutdown gives a request on its way ends: set once,
    /// so a first request that begins within it does not start another.
    shutdown_grace: Option<Instant>,
    /// A read for the next request found nothing and waited: the connection
    /// let the other tasks run then, and its fair share starts over.
    waited_for_request: bool,
    /// The client ended its sending side (half-closed, with `half_close`).
    client_ended: bool,
    /// A close this connection was granted while idle (`close_idle`), until
    /// it has closed, or found a request and handed the close back.
    idle_close: Option<IdleClose>,
    /// Our sending side was closed (or that was tried, within the write
    /// timeout).
    sending_closed: bool,
    /// The protocols the request in progress offers to switch to (its
    /// Upgrade fields' values, joined by commas), when it proposes a switch:
    /// a 101 may name no other (RFC 9110 §7.8). Taken by its response, so
    /// that a connection parked after a declined switch does not keep them.
    offered_protocols: Option<Box<[u8]>>,
    /// The sender of the request just parsed's upgrade, when it proposed
    /// one, until the request loop takes it.
    parsed_upgrade: Option<UpgradeSender>,
}

impl<'c, T: Transport + 'static> Driver<'c, T> {
    fn new(io: T, config: &'c ServerConfig, shutdown: Option<&'c Shutdown>) -> Self {
        Driver {
            io,
            reset_on_close: None,
            conn: Connection::server(config.proto),
            buf: ReadBuf::default(),
            out: Output::default(),
            config,
            shutdown,
            shutdown_listener: None,
            shutdown_waker: None,
            idle_closes_seen: 0,
            read_deadline: Deadline::default(),
            body_stall: Stall::default(),
            feeder: None,
            body_done: true,
            body_error: None,
            close_after: false,
            dropped: 0,
            http10_peer: false,
            asked: Asked::Other,
            fresh: true,
            shutdown_grace: None,
            client_ended: false,
            waited_for_request: false,
            offered_protocols: None,
            parsed_upgrade: None,
            idle_close: None,
            sending_closed: false,
        }
    }

    async fn run<S: Service>(&mut self, service: &mut S) -> Result<Ended, Error> {
        // Requests served since this connection last let others run, by
        // yielding or by waiting for its peer.
        let mut served = 0;
        loop {
            // A pipelined or already buffered request is parsed here, not
            // inside `next_request`: its result would be moved out of that
            // future once more. Each arm yields the request where the service
            // call takes it, not wrapped in an Option: that too is a copy.
            let request = match self.try_parse_head() {
                HeadStep::Request(request) => request,
                HeadStep::NeedData => {
                    // Between reads, with every response written: the place
                    // to let others run, holding only small buffers meanwhile.
                    if served >= FAIR_SHARE {
                        served = 0;
                        self.buf.release();
                        self.out.release();
                        futures_lite::future::yield_now().await;
                    }
                    // One match on the whole outcome: `?` and then a match
                    // on the option copied the request out twice more.
                    let next = self.next_request().await;
                    if core::mem::take(&mut self.waited_for_request) {
                        served = 0;
                    }
                    match next {
                        Ok(Some(request)) => request,
                        Ok(None) => return self.close(false).await.map(|()| Ended::Closed),
                        Err(e) => return Err(e),
                    }
                }
                HeadStep::Closed => return self.close(false).await.map(|()| Ended::Closed),
                HeadStep::Rejected(e) => {
                    self.reject(e).await;
                    return self.close(false).await.map(|()| Ended::Closed);
                }
            };
            // Held here, as before the request was parsed into the driver's
            // fields: dropped with this loop, it resolves `NotUpgraded`.
            let upgrade = self.parsed_upgrade.take();
            let asked = self.asked;
            self.fresh = false;
            self.body_done = self.feeder.is_none();
            self.body_stall.progress();
            self.body_error = None;
            self.close_after = false;
            self.dropped = 0;
            self.http10_peer = request.version() == Version::Http10;

            let proposes_switch = upgrade.is_some();
            // In an Option, to be dropped the moment it is done, not at the
            // end of the exchange: a future that holds the request (one
            // written by hand can) would keep its body wanted, inviting it
            // with a 100 Continue and answering as if it were to be read.
            let mut future = pin!(Some(service.call(request)));
            // A 101 answered before the request's body was read to its end
            // waits for that end: boxed, so every connection's future does not
            // carry room for a response through the awaits.
            let mut switch_waiting: Option<Box<Response>> = None;
            // The head is serialized where the response comes out of the
            // service, so only its body travels on through the awaits below.
            let mut body = poll_fn(|cx| {
                let mut polled = future.as_mut().as_pin_mut().map(|f| f.poll(cx));
                // Written from where the future put it, not moved out first.
                if let Some(Poll::Ready(response)) = &mut polled {
                    future.set(None);
                    if asked == Asked::Connect
                        && !response.status().is_success()
                        && self.buf.is_empty()
                    {
                        // Bytes behind a refused CONNECT close the connection
                        // (start_response): those already in the socket count
                        // too, though no read has taken them yet (the head
                        // filled the last one exactly). A read that does not
                        // wait: an end of stream or error it meets leaves the
                        // next read an end of stream. (Bytes still on their
                        // way are read as a request, as if sent after the
                        // answer: only closing after every refusal would stop
                        // those, at the cost of a proxy's 407 challenge on the
                        // same connection.)
                        let _ = self.buf.poll_fill_now(&mut self.io, cx);
                    }
                    // Passed on from each arm: rebinding it first is a copy.
                    return Poll::Ready(match self.body_error {
                        // Held for the body only if it can be sent then: one
                        // the driver refuses (no protocol in an Upgrade
                        // field, one not offered) gets its 500 and warning
                        // now, not a 413 for a body too long to read first.
                        None if proposes_switch
                            && !self.body_done
                            && asked != Asked::Connect
                            && response.status() == StatusCode::SWITCHING_PROTOCOLS
                            && switches_to_an_offered_protocol(
                                self.offered_protocols.as_deref(),
                                response.headers(),
                            ) =>
                        {
                            let placeholder = Response::new(StatusCode::SWITCHING_PROTOCOLS);
                            switch_waiting =
                                Some(Box::new(core::mem::replace(response, placeholder)));
                            Ok(None)
                        }
                        None => self.start_response(response, asked),
                        Some(fault) => self.start_response(&mut fault.response(), asked),
                    });
                }
                self.poll_meanwhile(cx).map(Err)
            })
            .await?;
            if let Some(response) = switch_waiting {
                body = self.switch_after_the_body(*response, asked).await?;
            }
            // Looked at where the poll put it: moved out of the option first,
            // the body would be read back whole from stores just made in
            // pieces, which stalls; only a body not sent at once moves on.
            match body {
                Some(ref sent) if !self.sent_body_now(sent)? => {
                    if let Some(unsent) = body {
                        self.send_body(unsent).await?;
                    }
                }
                _ => {}
            }
            // The response is written: an upgrade that did not happen
            // resolves now (`NotUpgraded`), not after a drain or a linger.
            let upgrade = upgrade.filter(|_| self.conn.our_state() == State::SwitchedProtocol);
            // finish_body would return at once without a feeder (no request
            // body): checking here spares building and polling its future.
            let keep = match self.feeder.is_some() {
                // Closing anyway (the request or the response said so): the
                // unread body is not drained under the body timeout, as on a
                // connection kept, since nothing follows it. The close below
                // ends our side first, so that the peer sees the response
                // end (one the close delimits ends only there), and its
                // linger reads and discards what still arrives, so that it
                // draws no reset, which could cost the peer the response,
                // within the linger's bounds (a client gone quiet holds the
                // connection a second, not the body timeout). The chunk the
                // service left unread is taken back before that close, so
                // that nothing it reads after finds it still held. (A
                // switch is no close: the new protocol has the connection,
                // both ways; its request body was read to its end before
                // the 101 went out.)
                true if !self.conn.is_keep_alive()
                    && self.conn.our_state() != State::SwitchedProtocol =>
                {
                    if let Some(feeder) = self.feeder.take() {
                        feeder.abandon();
                    }
                    false
                }
                true => self.finish_body(Drain::UntilShutdown).await?,
                false => true,
            };

            match self.conn.our_state() {
                State::SwitchedProtocol => return Ok(Ended::Switched(upgrade)),
                State::Idle | State::Done if keep && self.conn.is_keep_alive() => {}
                _ => return self.close(true).await.map(|()| Ended::Closed),
            }
            served += 1;
            // Nothing pipelined behind (empty lines are nothing, RFC 9112
            // §2.2): the responses go now, before the idle clock starts.
            if self.nothing_begun() || self.out.len() >= MAX_BATCH {
                poll_fn(|cx| self.poll_flush(cx)).await?;
            }
            // The next request is already buffered when a client keeps its
            // pipeline full and one read brought more than a request, as
            // draining a body the service left unread does: the share is
            // counted here too, or the next read never comes.
            if served >= BUFFERED_SHARE && !self.buf.is_empty() {
                served = 0;
                poll_fn(|cx| self.poll_flush(cx)).await?;
                futures_lite::future::yield_now().await;
            }
        }
    }

    /// Reads until a whole request head is buffered (the buffer holds none
    /// yet), rejecting malformed ones. `None` when the connection should close.
    async fn next_request(&mut self) -> Result<Option<Request>, Error> {
        // Asked from now on, while nothing has begun, to close to make room.
        self.idle_closes_seen = self.shutdown.map_or(0, Shutdown::idle_closes);
        let mut head_deadline = None;
        let mut idle_deadline = None;
        // A connection that has sent nothing yet is no keep-alive one: it has
        // the head timeout to begin its first request, if that is shorter, so
        // that connections opened and left silent do not hold their slots
        // for the idle timeout.
        let idle_limit = match (
            self.fresh,
            self.config.idle_timeout,
            self.config.head_timeout,
        ) {
            // Keep-alive off: no bound on a first request but the head's.
            (true, _, head) if self.config.keep_alive_off() => head,
            (true, Some(idle), Some(head)) => Some(idle.min(head)),
            (true, None, head) => head,
            (_, idle, _) => idle,
        };
        loop {
            let idle = self.nothing_begun();
            if idle {
                // A lone CR (a head begun) that an LF made an empty line
                // leaves the connection idle again: the next head's
                // deadline runs from its own first byte.
                head_deadline = None;
            }
            let (deadline, limit, timeout) = match idle {
                true => (&mut idle_deadline, idle_limit, Timeout::Idle),
                false => (&mut head_deadline, self.config.head_timeout, Timeout::Head),
            };
            match poll_fn(|cx| self.poll_wait(cx, idle, deadline, limit, timeout)).await {
                Ok(Wait::Read(0)) => self.conn.receive_eof(),
                Ok(Wait::Read(_)) => {}
                Ok(Wait::Shutdown) if !self.nothing_begun() => {
                    // The step is matched to its end before anything is
                    // awaited: held across an await, a parsed request would
                    // be room in every idle connection's future.
                    let rejected = match self.try_parse_head() {
                        // A whole request, sent before the peer could know:
                        // served, as the last (a shutdown makes it close; a
                        // connection asked to close idle is busy now, and
                        // stays).
                        HeadStep::Request(request) => {
                            self.spare_the_idle_close();
                            return Ok(Some(request));
                        }
                        HeadStep::Rejected(e) => Some(e),
                        // Part of one: it gets the shutdown's grace to come
                        // whole (`poll_wait`), or a 408 (after a close_idle,
                        // the head timeout, as any head).
                        HeadStep::NeedData => {
                            self.spare_the_idle_close();
                            continue;
                        }
                        HeadStep::Closed => None,
                    };
                    match rejected {
                        Some(e) => self.reject(e).await,
                        // Closed over unread bytes, the connection would be
                        // reset, and a reset may destroy answers the peer has
                        // not read yet (some TCP stacks discard received data
                        // on one): linger over them.
                        None => {
                            let _ = self.close(true).await;
                        }
                    }
                    return Ok(None);
                }
                Ok(Wait::Shutdown) | Err(Error::Timeout(Timeout::Idle)) => return Ok(None),
                Err(Error::Timeout(Timeout::Head)) => {
                    self.refuse(StatusCode::REQUEST_TIMEOUT, Timeout::Head)
                        .await;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            // As above: nothing awaited while the step is held.
            let rejected = match self.try_parse_head() {
                HeadStep::Request(request) => return Ok(Some(request)),
                HeadStep::Closed => return Ok(None),
                HeadStep::Rejected(e) => e,
                HeadStep::NeedData => continue,
            };
            self.reject(rejected).await;
            return Ok(None);
        }
    }

    /// Whether no request has begun since the last: nothing buffered, or only
    /// the empty lines a client may send between requests (RFC 9112 §2.2, an
    /// extra CRLF after a body), which leave the connection idle.
    fn nothing_begun(&mut self) -> bool {
        let bare_lf = self.config.proto.leniency.allow_bare_lf;
        self.buf.holds_only_empty_lines(bare_lf)
    }

    /// Waits for bytes while flushing what is pending. `idle`: between requests,
    /// where the buffer is released and a shutdown ends the wait.
    /// `deadline` is set from `limit` when the wait first blocks: a request
    /// that is already buffered costs no clock reading.
    fn poll_wait(
        &mut self,
        cx: &mut Context<'_>,
        idle: bool,
        deadline: &mut Option<Instant>,
        limit: Option<Duration>,
        timeout: Timeout,
    ) -> Poll<Result<Wait, Error>> {
        let flushed = self.poll_flush(cx);
        if let Poll::Ready(Err(e)) = flushed {
            return Poll::Ready(Err(e));
        }
        let shutting_down = self.poll_shutdown(cx);
        let close_now = idle
            && match shutting_down {
                // One accepted just before the shutdown, its first request a
                // round trip behind the connect, gets the grace below: closed
                // now, that request would meet a reset, and a client retries
                // a fresh connection's failure far less readily than a reused
                // one's. (Go's server spares new connections so too.)
                true => !self.fresh,
                false => self.asked_to_close_idle(),
            };
        if close_now {
            // The next request may be on its way already, sent before the
            // peer could know: what is there is taken now (reads that do not
            // wait), to be served or lingered over (`next_request`). A head
            // larger than one idle read takes more of them.
            let mut read = self.buf.poll_fill_now(&mut self.io, cx);
            while matches!(read, Poll::Ready(Ok(n)) if n > 0)
                && self.buf.filled().len() <= self.config.proto.limits.max_head_bytes
            {
                read = self.buf.poll_fill(&mut self.io, cx);
            }
            return Poll::Ready(Ok(Wait::Shutdown));
        }
        if shutting_down {
            // Part of a head is here (or, above, the first is on its way): it
            // may still come whole (and be served as the last request),
            // within the grace, one in all.
            let grace = *self
                .shutdown_grace
                .get_or_insert_with(|| Instant::now() + SHUTDOWN_HEAD_GRACE);
            if deadline.is_none_or(|at| at > grace) {
                *deadline = Some(grace);
            }
        }
        // A TLS client's close without its closure alert is the close it is
        // over plain TCP: between requests nothing is cut short, and inside
        // a head proto finds the head incomplete, as it would then.
        let read = match idle {
            true => self.buf.poll_fill_idle(&mut self.io, cx),
            false => self.buf.poll_fill(&mut self.io, cx),
        }
        .map(closed_without_notify_as_end);
        match read {
            Poll::Ready(result) => Poll::Ready(result.map(Wait::Read).map_err(Error::Io)),
            Poll::Pending => {
                self.waited_for_request = true;
                // Responses still going out (an empty line whose CR came
                // alone left them unflushed, a head begun): the idle clock
                // starts once they are out, as it does after a flush in
                // `serve`; the write timeout bounds that meanwhile.
                if idle && flushed.is_pending() {
                    return Poll::Pending;
                }
                if idle {
                    // Parked between requests: hold only small buffers.
                    self.buf.release_parked();
                    self.out.release();
                }
                // A limit past what the clock can count is none.
                let at = match *deadline {
                    Some(at) => at,
                    None => match limit.and_then(|limit| Instant::now().checked_add(limit)) {
                        Some(at) => *deadline.insert(at),
                        None => return Poll::Pending,
                    },
                };
                match self.read_deadline.poll_expired(cx, at) {
                    true => Poll::Ready(Err(Error::Timeout(timeout))),
                    false => Poll::Pending,
                }
            }
        }
    }

    /// Whether [`Shutdown::close_idle`] was called since the wait for the
    /// next request began, and this connection is one it closes (the close
    /// kept in `idle_close`, to be handed back if a request is found).
    fn asked_to_close_idle(&mut self) -> bool {
        let Some(shutdown) = self.shutdown else {
            return false;
        };
        // Asked once: spared, the connection waits on.
        self.idle_close = shutdown.asks_to_close(&mut self.idle_closes_seen);
        self.idle_close.is_some()
    }

    /// A connection asked to close idle found a request (or part of one)
    /// already sent, and stays: the close is handed back, not counted.
    fn spare_the_idle_close(&mut self) {
        if let (Some(shutdown), Some(close)) = (self.shutdown, self.idle_close.take()) {
            shutdown.spare(close);
        }
    }

    /// Whether shutdown was triggered; if not, the task wakes when it is (or
    /// when idle connections are asked to close).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(shutdown) = self.shutdown else {
            return false;
        };
        loop {
            if shutdown.is_triggered() {
                return true;
            }
            // A listener already registered with this task's waker will wake
            // it: polling it again (a lock per idle wait) changes nothing,
            // unless it has been fired since. Something other than a trigger
            // can fire it (a close_idle, or the notification a listener
            // dropped unread passes on), and a fired listener is not woken
            // by a later trigger: while any listener of the signal is fired
            // and unread, it is polled.
            let registered = self.shutdown_listener.is_some()
                && !shutdown.has_unread_wake()
                && self
                    .shutdown_waker
                    .as_ref()
                    .is_some_and(|waker| waker.will_wake(cx.waker()));
            if registered {
                return false;
            }
            let listener = self
                .shutdown_listener
                .get_or_insert_with(|| shutdown.listen());
            if shutdown.is_triggered() {
                return true;
            }
            match core::pin::Pin::new(listener).poll(cx) {
                Poll::Ready(()) => {
                    self.shutdown_listener = None;
                    self.shutdown_waker = None;
                }
                Poll::Pending => {
                    self.shutdown_waker = Some(cx.waker().clone());
                    return false;
                }
            }
        }
    }

    /// Parses a request head from the buffer, if a whole one is there, and
    /// readies the driver for its exchange: its body's feeder, its framing,
    /// its upgrade sender.
    fn try_parse_head(&mut self) -> HeadStep {
        let input = self.buf.filled();
        let limit = self.config.proto.limits.max_headers;
        let conn = &mut self.conn;
        let found = parse_with_growing_fields(input, limit, |fields| {
            match parse_request(conn, input, fields) {
                Err(NoHead::ArrayFull) => None,
                found => Some(found),
            }
        });
        let RequestSpans {
            consumed,
            method,
            target,
            version,
            spans,
            upgrade,
            asked,
        } = match found {
            Some(Ok(spans)) => spans,
            Some(Err(NoHead::NeedData)) => return HeadStep::NeedData,
            Some(Err(NoHead::Closed)) => return HeadStep::Closed,
            Some(Err(NoHead::Rejected(e))) => return HeadStep::Rejected(e),
            // Cannot follow an array as long as the limit or the input allows
            // (proto refuses the head itself); answered as that refusal.
            Some(Err(NoHead::ArrayFull)) | None => {
                return HeadStep::Rejected(proto::Error::TooManyHeaders);
            }
        };
        let head = self.buf.split(consumed);
        let (body, feeder) = match self.conn.incoming_body() {
            Some(BodyLength::Empty | BodyLength::Length(0)) | None => {
                // Consume the end of the empty body now.
                let _ = self.conn.receive(&[], &mut []);
                (Incoming::empty(), None)
            }
            Some(length) => {
                let declared = match length {
                    BodyLength::Length(n) => Some(n),
                    _ => None,
                };
                let (body, feeder) = Incoming::channel(declared);
                (body, Some(feeder))
            }
        };
        let (on_upgrade, upgrade) = match upgrade {
            true => {
                let (on, sender) = OnUpgrade::pair();
                (Some(on), Some(sender))
            }
            false => (None, None),
        };
        // Read from the spans before the request is built: looked up in the
        // request, it would be built apart and moved (a copy per request).
        self.offered_protocols = upgrade.as_ref().map(|_| offered_protocols(&head, &spans));
        let request = Request::received(
            Method::received(&head, method),
            target,
            version,
            Headers::from_spans(head, spans),
            body,
            on_upgrade,
        );
        self.feeder = feeder;
        self.asked = asked;
        self.parsed_upgrade = upgrade;
        HeadStep::Request(request)
    }

    /// What goes on while the service's code (its future, its response
    /// body, its trailers) is pending: the request body pumped to it, the
    /// client watched, what is queued written. `Ready` with the error that
    /// ends the connection.
    fn poll_meanwhile(&mut self, cx: &mut Context<'_>) -> Poll<Error> {
        let body_was_done = self.body_done;
        self.poll_pump(cx);
        if let Poll::Ready(gone) = self.poll_client_gone(cx, body_was_done) {
            return Poll::Ready(gone);
        }
        match self.poll_flush(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(e),
            Poll::Ready(Ok(())) => {
                // The service may take long (a long poll, a stream): an
                // output buffer a batch of pipelined answers grew is not
                // held meanwhile (it goes to the thread's spare).
                self.out.release_large();
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Whether the client has gone while the service works on its request
    /// (see [`ServerConfig::half_close`]): the error to end the connection
    /// with if so. Looked at only once the request body was read to its end
    /// (or failed) before this poll (`body_was_done`: reads before are the
    /// body's, and a body ended in this poll wakes the service, which most
    /// often answers at its next poll, without this read), and while nothing
    /// is buffered but empty lines (which a client may send after a request,
    /// RFC 9112 §2.2), so what a read brings (the next request, pipelined) is
    /// held within one small read. Empty lines are watched through up to the
    /// head size limit, which they count against as the next head's: past
    /// it the next head is refused anyway. A body the service left unread is
    /// not watched: its bytes are still to come.
    ///
    /// A service still pending at its first poll so costs a read that finds
    /// nothing: `rt`'s transport spares the first read after a request that
    /// would, and this one takes that turn from the read for the next
    /// request.
    fn poll_client_gone(&mut self, cx: &mut Context<'_>, body_was_done: bool) -> Poll<Error> {
        if body_was_done && !self.buf.is_empty() {
            // The next request, pipelined, waits for as long as the service
            // takes: kept in a buffer of its own size, not in one a large
            // head before it grew.
            self.buf.release_large_keeping_rest();
        }
        if self.client_ended || !body_was_done {
            return Poll::Pending;
        }
        loop {
            let watched = self.buf.is_empty()
                || (self.buf.filled().len() < self.config.proto.limits.max_head_bytes
                    && self.nothing_begun());
            if !watched {
                return Poll::Pending;
            }
            // Nothing of the request is left to cut short.
            let read = self.buf.poll_fill_idle(&mut self.io, cx);
            // The service may take long (a long poll, a stream, on after the
            // client's half close): what a large head grew is not held
            // meanwhile. (A read that brought the next request leaves it.)
            self.buf.release_large();
            match read.map(closed_without_notify_as_end) {
                Poll::Ready(Ok(0)) => return self.client_closed(),
                // Only empty lines again: watched on (above), so that the
                // next wake-up comes from this read.
                Poll::Ready(Ok(_)) => continue,
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Error::Io(e)),
            }
        }
    }

    /// The client ended its side while its request is served: gone, unless
    /// [`ServerConfig::half_close`]. Nothing but empty lines is buffered (see
    /// [`poll_client_gone`](Self::poll_client_gone)), so no request can
    /// follow: proto is told now, and the answer says `connection: close`
    /// (unless the request proposed a switch: proto keeps that open to a
    /// 101 until the answer, and the connection closes at the next read).
    fn client_closed(&mut self) -> Poll<Error> {
        self.client_ended = true;
        self.conn.receive_eof();
        // With nothing left to parse, this is the close itself (the client
        // having sent all of its request), which ends keep-alive.
        let _ = self.conn.receive(&[], &mut []);
        match self.config.half_close {
            true => Poll::Pending,
            false => Poll::Ready(Error::Io(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the client closed the connection before its answer",
            ))),
        }
    }

    /// Writes everything pending, bounded by the write timeout.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_send(cx, &[], &[])
    }

    /// [`poll_send`](Self::poll_send) for our body: while it waits to go
    /// out, the request body goes on to whoever reads it (a task of the
    /// service's own). A client that sends all its body before it reads
    /// would otherwise wait on us as we wait on it, until the write timeout.
    fn poll_send_pumping(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        suffix: &[u8],
    ) -> Poll<Result<(), Error>> {
        let sent = self.poll_send(cx, data, suffix);
        if sent.is_pending() {
            self.poll_pump(cx);
        }
        sent
    }

    /// [`poll_flush`](Self::poll_flush), pumping as
    /// [`poll_send_pumping`](Self::poll_send_pumping) does.
    fn poll_flush_pumping(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_send_pumping(cx, &[], &[])
    }

    /// Writes what is pending, then `data` and `suffix`, bounded by the write
    /// timeout. While the write waits, a request body nobody holds any more
    /// is read and dropped (see
    /// [`poll_drop_abandoned_body`](Self::poll_drop_abandoned_body)).
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        suffix: &[u8],
    ) -> Poll<Result<(), Error>> {
        let sent = self.out.poll_send_within(
            &mut self.io,
            cx,
            data,
            suffix,
            self.config.write_timeout,
            self.config.min_progress_bytes,
        );
        if sent.is_pending() {
            self.poll_drop_abandoned_body(cx);
        }
        sent
    }

    /// Reads and drops what the peer sends (on a connection that closes),
    /// giving way after [`LINGER_SHARE`] bytes; whether the peer has ended
    /// or failed, so that nothing more comes.
    fn poll_discard_what_comes(&mut self, cx: &mut Context<'_>) -> bool {
        let mut share = 0;
        loop {
            match self.buf.poll_discard(&mut self.io, cx) {
                Poll::Pending => return false,
                Poll::Ready(Ok(0) | Err(_)) => return true,
                Poll::Ready(Ok(n)) => {
                    share += n;
                    if share >= LINGER_SHARE {
                        cx.waker().wake_by_ref();
                        return false;
                    }
                }
            }
        }
    }

    /// Hands the connection to whoever waits for the protocol switch.
    async fn hand_off(mut self, upgrade: Option<UpgradeSender>) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush(cx)).await?;
        if let Some(sender) = upgrade {
            let rest = self.buf.take_all();
            sender.send(Upgraded::new(Box::new(self.io), rest));
        }
        Ok(())
    }

    /// Ends our side of the stream (TCP's FIN, TLS's close_notify), the
    /// peer's side still read; no longer than any write may take.
    async fn close_sending(&mut self) {
        // Once: a second call (the close after a close that the response
        // asked for, or after a refusal) would wait out another write
        // timeout on a peer that does not read.
        if core::mem::replace(&mut self.sending_closed, true) {
            return;
        }
        let limit = self.config.write_timeout;
        let _ = close_within(&mut self.io, limit, &mut self.read_deadline).await;
    }

    /// Flushes, closes our side and, with `linger`, reads what the peer still
    /// sends while it keeps sending ([`LINGER`], [`LINGER_PAUSE`]), so the
    /// kernel does not reset the connection before the peer has read our last
    /// response.
    async fn close(&mut self, linger: bool) -> Result<(), Error> {
        // With a linger, what the peer sends is read and dropped from the
        // start of the last flush, not only after it: a client that sends
        // all its body before it reads would otherwise wait on us as we wait
        // on it, whenever what is left of our answer is more than the
        // transport holds. Nothing is parsed after a close.
        let mut peer_done = !linger;
        let flushed = match self.out.failure() {
            // Writing again would fail again, or wait out another timeout:
            // the connection ends with what the write failed with.
            Some(failure) => Err(failure),
            None => {
                poll_fn(|cx| {
                    let flushed = self.poll_flush(cx);
                    if flushed.is_pending() && !peer_done {
                        peer_done = self.poll_discard_what_comes(cx);
                    }
                    flushed
                })
                .await
            }
        };
        // A response of ours cut short must not look ended: closing cleanly
        // (TLS's close_notify) would end a close-delimited body as if whole.
        // Such a connection is only dropped, and a close-delimited body's
        // close is a reset where the transport can (`send_body`): a plain
        // TCP close would end it too. A body with a length or chunks says
        // itself that it is cut short: its close is a clean one, so that
        // the peer learns at once, not after the linger below.
        let cut_short = self.conn.our_state() == State::SendBody;
        let ends_at_close = cut_short && self.conn.our_body_ends_at_close();
        // Armed by `send_body` for as long as such a body goes out.
        let aborted = ends_at_close && self.reset_on_close.is_some();
        self.conn.close();
        // Closing may itself write (TLS sends close_notify) and so wait on a peer
        // that does not read: not at all after a failed flush, and otherwise no
        // longer than any write may.
        if flushed.is_ok() && !ends_at_close {
            self.close_sending().await;
        }
        flushed?;
        // After an abort, what the peer still sends can only delay the reset.
        if linger && !aborted {
            let started = Instant::now();
            let mut end = started + LINGER;
            let mut share = 0usize;
            // Reads that never wait are held to the end too.
            loop {
                if self.shutdown.is_some_and(Shutdown::is_triggered) {
                    // Shutting down: no longer than a pause, as a server
                    // that is going away owes the peer no more.
                    end = end.min(started + LINGER_PAUSE);
                }
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if share >= LINGER_SHARE {
                    share = 0;
                    futures_lite::future::yield_now().await;
                }
                let pause_end = end.min(now + LINGER_PAUSE);
                let read = poll_fn(|cx| match self.buf.poll_discard(&mut self.io, cx) {
                    Poll::Pending if self.read_deadline.poll_expired(cx, pause_end) => {
                        Poll::Ready(Ok(0))
                    }
                    other => other,
                })
                .await;
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => share += n,
                }
            }
        }
        Ok(())
    }
}

/// What the request's method changes about its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asked {
    /// HEAD: the response has its head only.
    Head,
    /// CONNECT: a 2xx turns the connection into a tunnel.
    Connect,
    Other,
}

impl Asked {
    fn of(method: &str) -> Asked {
        match method {
            "HEAD" => Asked::Head,
            "CONNECT" => Asked::Connect,
            _ => Asked::Other,
        }
    }
}

/// Why no request head was parsed.
enum NoHead {
    NeedData,
    /// More fields than the array held.
    ArrayFull,
    Closed,
    Rejected(proto::Error),
}

/// Where the pieces of a parsed request head lie in the read buffer.
struct RequestSpans {
    consumed: usize,
    method: Span,
    target: Span,
    version: Version,
    spans: Spans,
    upgrade: bool,
    asked: Asked,
}

/// The values of a received head's Upgrade fields, joined by commas.
fn offered_protocols(head: &[u8], spans: &[(Span, Span)]) -> Box<[u8]> {
    let at = |(start, len): Span| &head[start..start + len];
    let offered: Vec<&[u8]> = spans
        .iter()
        .filter(|&&(name, _)| at(name).eq_ignore_ascii_case(b"upgrade"))
        .map(|&(_, value)| at(value))
        .collect();
    offered.join(&b","[..]).into_boxed_slice()
}

/// Parses a request head from `input`, its fields into `headers`.
fn parse_request<'b>(
    conn: &mut Connection,
    input: &'b [u8],
    headers: &mut [Header<'b>],
) -> Result<RequestSpans, NoHead> {
    let received = conn.receive(input, headers).map_err(NoHead::Rejected)?;
    let head = match received.event {
        Event::Request(head) => head,
        Event::NeedData => return Err(NoHead::NeedData),
        Event::HeadersFull => return Err(NoHead::ArrayFull),
        _ => return Err(NoHead::Closed),
    };
    Ok(RequestSpans {
        consumed: received.consumed,
        method: span(input, head.method.as_bytes()),
        target: span(input, head.target.as_bytes()),
        version: head.version,
        spans: field_spans(input, head.headers),
        asked: Asked::of(head.method),
        upgrade: conn.they_proposed_a_switch(),
    })
}

impl<T> core::fmt::Debug for Driver<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver").field("conn", &self.conn).finish()
    }
}
#[cfg(test)]
mod future_size {
    use super::*;

    /// A connection's future holds the driver once: what the loop borrows,
    /// plus the loop's own state, plus little else. Holding it as an owned
    /// async-fn argument as well (or an inline hand-off that owns it) made
    /// it 2.4 KB instead of 1.8 KB here, and every idle connection pays it.
    #[test]
    fn a_connection_future_holds_the_driver_once() {
        let config = ServerConfig::default();
        let io = || futures_lite::io::Cursor::new(Vec::<u8>::new());
        let mut service = |_: Request| async { Response::new(StatusCode::OK) };
        let mut driver = Driver::new(io(), &config, None);
        let driver_size = core::mem::size_of_val(&driver);
        let loop_size = core::mem::size_of_val(&driver.run(&mut service));
        let connection = serve_with(io(), &mut service, &config, None, None, None);
        let connection_size = core::mem::size_of_val(&connection);
        assert!(
            connection_size < driver_size + loop_size + 256,
            "connection future {connection_size} bytes, driver {driver_size}, loop {loop_size}"
        );
    }

    /// Waiting for a request holds no parsed one across an await (a match
    /// on a parse step that awaits in an arm does: 848 bytes instead of 416
    /// here, in every idle connection's future).
    #[test]
    fn waiting_for_a_request_holds_no_parsed_one_across_an_await() {
        let config = ServerConfig::default();
        let io = futures_lite::io::Cursor::new(Vec::<u8>::new());
        let mut driver = Driver::new(io, &config, None);
        let waiting = core::mem::size_of_val(&driver.next_request());
        let rejecting = core::mem::size_of_val(&driver.reject(proto::Error::InvalidHost));
        let parsed = core::mem::size_of::<Request>();
        assert!(
            waiting < rejecting + parsed,
            "waiting {waiting} bytes, rejecting {rejecting}, a parsed request {parsed}"
        );
    }
}

#[cfg(all(test, feature = "server"))]
mod idle_closes {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use futures_lite::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::io::{DuplexStream, duplex};

    type Served<'s> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 's>>;

    /// Polls each connection once, keeping those still open; how many ended.
    fn poll_all(connections: &mut Vec<Served<'_>>) -> usize {
        let mut cx = Context::from_waker(Waker::noop());
        let before = connections.len();
        connections.retain_mut(|served| match served.as_mut().poll(&mut cx) {
            Poll::Ready(result) => {
                result.expect("the connection ends cleanly");
                false
            }
            Poll::Pending => true,
        });
        before - connections.len()
    }

    /// Connections idle between requests, on one signal, each with its client.
    fn idle_connections<'s>(
        signal: &'s Shutdown,
        config: &'s ServerConfig,
        count: usize,
    ) -> (Vec<Served<'s>>, Vec<DuplexStream>) {
        let service = |_: Request| async { Response::new(StatusCode::OK).with_body("ok") };
        let (mut connections, mut clients) = (Vec::new(), Vec::new());
        for _ in 0..count {
            let (server, mut client) = duplex(4096);
            let served: Served<'s> =
                Box::pin(serve_connection_until(server, service, config, signal));
            connections.push(served);
            futures_lite::future::block_on(client.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
                .unwrap();
            clients.push(client);
        }
        assert_eq!(poll_all(&mut connections), 0);
        for client in &mut clients {
            let mut answer = [0u8; 512];
            let n = futures_lite::future::block_on(client.read(&mut answer)).unwrap();
            assert!(answer[..n].ends_with(b"\r\n\r\nok"), "{:?}", &answer[..n]);
        }
        // Answered, each waits for its next request.
        assert_eq!(poll_all(&mut connections), 0);
        (connections, clients)
    }

    /// A capped round of closes (the server making room at its connection
    /// limit) right after a user's `close_idle`, before the connections have
    /// heard either, does not cap the user's: every idle one closes.
    #[test]
    fn a_capped_round_does_not_cap_a_close_idle_before_it() {
        let (signal, config) = (Shutdown::new(), ServerConfig::default());
        let (mut connections, _clients) = idle_connections(&signal, &config, 4);
        signal.close_idle();
        signal.close_some_idle(1);
        assert_eq!(poll_all(&mut connections), 4);
        assert_eq!(signal.idle_closed(), 4);
    }

    /// Nor does one just before it: the later `close_idle` closes them all.
    #[test]
    fn a_close_idle_after_a_capped_round_closes_every_idle_connection() {
        let (signal, config) = (Shutdown::new(), ServerConfig::default());
        let (mut connections, _clients) = idle_connections(&signal, &config, 4);
        signal.close_some_idle(1);
        signal.close_idle();
        assert_eq!(poll_all(&mut connections), 4);
        assert_eq!(signal.idle_closed(), 4);
    }

    /// A connection a round picks that finds a request already sent stays,
    /// and hands its close back: not counted as closed, and its ticket goes
    /// to another idle connection of the round.
    #[test]
    fn a_connection_picked_but_busy_hands_its_close_back() {
        let (signal, config) = (Shutdown::new(), ServerConfig::default());
        let (mut connections, mut clients) = idle_connections(&signal, &config, 2);
        // The first's next request is there before it hears the round.
        futures_lite::future::block_on(clients[0].write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
            .unwrap();
        signal.close_some_idle(1);
        // It is served; the other one closes in its place.
        assert_eq!(poll_all(&mut connections), 1);
        assert_eq!(connections.len(), 1);
        assert_eq!(signal.idle_closed(), 1);
        let mut answer = [0u8; 512];
        let n = futures_lite::future::block_on(clients[0].read(&mut answer)).unwrap();
        assert!(answer[..n].ends_with(b"\r\n\r\nok"), "{:?}", &answer[..n]);
        // A round with nobody else idle closes nothing, and counts nothing.
        futures_lite::future::block_on(clients[0].write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
            .unwrap();
        signal.close_some_idle(1);
        assert_eq!(poll_all(&mut connections), 0);
        assert_eq!(signal.idle_closed(), 1);
    }

    /// A capped round alone closes as many as it allows, and the next capped
    /// round as many again; each close is counted.
    #[test]
    fn a_capped_round_closes_as_many_as_it_allows() {
        let (signal, config) = (Shutdown::new(), ServerConfig::default());
        let (mut connections, _clients) = idle_connections(&signal, &config, 4);
        signal.close_some_idle(1);
        assert_eq!(poll_all(&mut connections), 1);
        assert_eq!(signal.idle_closed(), 1);
        signal.close_some_idle(2);
        assert_eq!(poll_all(&mut connections), 2);
        assert_eq!(connections.len(), 1);
        assert_eq!(signal.idle_closed(), 3);
    }
}

#[cfg(all(test, feature = "server"))]
mod close_delimited_reset {
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};

    use futures_io::{AsyncRead, AsyncWrite};
    use futures_lite::future::block_on;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::io::{DuplexStream, duplex};

    /// A pipe end that tells, once dropped, whether its close was to be a
    /// reset: what `rt` makes a TCP `SO_LINGER` of zero.
    struct Abortable {
        pipe: DuplexStream,
        reset_armed: bool,
        closed_with_reset: Arc<AtomicBool>,
    }

    impl Drop for Abortable {
        fn drop(&mut self) {
            self.closed_with_reset
                .store(self.reset_armed, Ordering::Relaxed);
        }
    }

    impl AsyncRead for Abortable {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.pipe).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Abortable {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.pipe).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.pipe).poll_flush(cx)
        }

        fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.pipe).poll_close(cx)
        }
    }

    /// Serves one GET whose answer, 4 KiB under a coding the service named
    /// (`gzip`: not `chunked`), ends at the close, over a 1 KiB pipe; the
    /// client reads it whole or not at all. What the connection ended with,
    /// the bytes the client read, and whether its close was a reset.
    fn serve_gzip_answer(client_reads: bool) -> (Result<(), Error>, Vec<u8>, bool) {
        let service = |_: Request| async {
            Response::new(StatusCode::OK)
                .with_header("transfer-encoding", "gzip")
                .with_body(vec![b'x'; 4096])
        };
        let config = ServerConfig {
            write_timeout: Some(Duration::from_millis(100)),
            ..ServerConfig::default()
        };
        let (pipe, mut client) = duplex(1024);
        let closed_with_reset = Arc::new(AtomicBool::new(false));
        let transport = Abortable {
            pipe,
            reset_armed: false,
            closed_with_reset: closed_with_reset.clone(),
        };
        let shutdown = Shutdown::new();
        let (served, read) = block_on(async {
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                .await
                .unwrap();
            let reset = |io: &mut Abortable, on| io.reset_armed = on;
            let served =
                serve_connection_aborting(transport, service, &config, &shutdown, reset, None);
            // A client that reads hangs up once it has read the close; one
            // that does not stays connected until the server gives up.
            let reading = async move {
                let mut read = Vec::new();
                if client_reads {
                    client.read_to_end(&mut read).await.unwrap();
                    return (read, None);
                }
                (read, Some(client))
            };
            futures_lite::future::zip(served, reading).await
        });
        (served, read.0, closed_with_reset.load(Ordering::Relaxed))
    }

    /// A body small enough to be copied next to its head still ends at the
    /// close: one whose write times out must close with a reset, or the
    /// client takes the part it got for the whole.
    #[test]
    fn a_small_close_delimited_body_cut_short_by_a_write_timeout_closes_with_a_reset() {
        let (served, _, reset) = serve_gzip_answer(false);
        assert!(
            matches!(served, Err(Error::Timeout(Timeout::Write))),
            "{served:?}"
        );
        assert!(reset, "a clean close would end the body as if whole");
    }

    /// Read whole, the same answer ends with a clean close.
    #[test]
    fn a_small_close_delimited_body_sent_whole_closes_cleanly() {
        let (served, read, reset) = serve_gzip_answer(true);
        served.expect("the connection ends cleanly");
        let read = String::from_utf8_lossy(&read);
        assert!(read.starts_with("HTTP/1.1 200 OK\r\n"), "{read}");
        assert!(
            read.ends_with(&format!("\r\n\r\n{}", "x".repeat(4096))),
            "{read}"
        );
        assert!(!reset);
    }
}
