//! The request body as the driver handles it: pumped to the service a chunk
//! at a time as it asks, settled before the response (`100 Continue`, or a
//! close the head announces), drained after it when the service left it
//! unread, and read to its end before a `101` that waits for it.

use core::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_lite::future::poll_fn;

use super::response::refusal;
use super::{Asked, Driver, Piece};
use crate::io::body::{Feeder, Kind};
use crate::io::buffer::closed_without_notify_as_end;
use crate::io::error::{Error, Timeout};
use crate::io::headers::Headers;
use crate::io::message::Response;
use crate::io::receive::{BodyStep, next_body_step, next_body_step_if};
use crate::io::upgrade::Transport;
use crate::proto::{self, BodyLength, ResponseHead, StatusCode};

/// A request body piece shorter than this, with more such pieces already
/// read behind it, is joined with them: a body sent in tiny chunks would
/// otherwise cost the service a wake-up per chunk, and a service that
/// streams it back (an echo, a relay) a write per chunk.
const JOIN_BELOW: usize = 1024;

/// The most a joined piece holds.
const JOINED_PIECE_BYTES: usize = 4 * 1024;

/// Pieces of an abandoned request body read and dropped in one poll before
/// the task gives way.
const DROPPED_PIECES_PER_POLL: usize = 16;

impl<T: Transport + 'static> Driver<'_, T> {
    /// Feeds the request body to the service while it asks for chunks.
    pub(super) fn poll_pump(&mut self, cx: &mut Context<'_>) {
        let Some(feeder) = self.feeder.take() else {
            return;
        };
        while !self.body_done && feeder.poll_want(cx) {
            if self.conn.they_are_waiting_for_100_continue() {
                self.queue_continue();
            }
            match self.poll_body_piece(cx) {
                Poll::Pending => break,
                Poll::Ready(Ok(Piece::Data(chunk))) if chunk.len() < JOIN_BELOW => {
                    let joined = self.joined_with_what_is_read(chunk);
                    self.hand_over(&feeder, Ok(Piece::Data(joined)));
                }
                Poll::Ready(piece) => self.hand_over(&feeder, piece),
            }
        }
        self.feeder = Some(feeder);
    }

    /// While our answer waits to go out: reads and drops what has come of a
    /// request body nobody holds any more (the service dropped it unread). A
    /// client that sends all its body before it reads (as simple ones do)
    /// would otherwise wait on us as we wait on it, until the write timeout,
    /// whenever our answer is more than the transport holds. The body is
    /// read through `proto`, so it stops at the body's end (what follows is
    /// the next request) and a kept connection stays in step. Past
    /// [`drain_limit`](super::ServerConfig::drain_limit) bytes dropped so,
    /// the connection closes after the answer, as a body left that long to
    /// drain would close it; the reading goes on until the answer is out,
    /// which bounds it. (When the connection closes after the answer, the
    /// feeder is given up before the last flush, and `close` reads the
    /// rest.)
    pub(super) fn poll_drop_abandoned_body(&mut self, cx: &mut Context<'_>) {
        // Dropped by its reader, not taken: the feeder is out of its place
        // while `poll_pump` or `finish_body` reads the body itself.
        if self.body_done || !self.feeder.as_ref().is_some_and(Feeder::is_dropped) {
            return;
        }
        // Reads that keep finding data give way now and then, as the
        // linger does: a fast sender does not hold the thread.
        for _ in 0..DROPPED_PIECES_PER_POLL {
            match self.poll_body_piece(cx) {
                Poll::Pending => return,
                Poll::Ready(Ok(Piece::Data(data))) => {
                    self.dropped += data.len() as u64;
                    self.close_after |= self.dropped > self.config.drain_limit;
                }
                Poll::Ready(Ok(Piece::End(_))) => {
                    self.body_done = true;
                    return;
                }
                // Nothing more is read of a body that failed (its framing, a
                // stall): the connection ends after the answer.
                Poll::Ready(Err(_)) => {
                    self.body_done = true;
                    self.close_after = true;
                    return;
                }
            }
        }
        cx.waker().wake_by_ref();
    }

    /// Gives the service's body reader its next piece, its end, or its
    /// failure.
    fn hand_over(&mut self, feeder: &Feeder, piece: Result<Piece, Error>) {
        match piece {
            Ok(Piece::Data(chunk)) => feeder.send(chunk),
            Ok(Piece::End(trailers)) => {
                self.body_done = true;
                feeder.complete(trailers);
            }
            Err(e) => {
                self.body_done = true;
                self.close_after = true;
                self.body_error = BodyFault::of(&e);
                feeder.fail(e);
            }
        }
    }

    /// `first` and the small pieces of body data already in the read buffer
    /// after it, as one piece of at most [`JOINED_PIECE_BYTES`] (copied,
    /// since they lie apart, between chunk lines).
    fn joined_with_what_is_read(&mut self, first: Bytes) -> Bytes {
        // The usual small body: nothing read behind it, or nothing of it
        // left to come. No look ahead then.
        if self.buf.is_empty() || self.conn.body_left_to_receive() == Some(0) {
            return first;
        }
        let mut joined: Option<BytesMut> = None;
        while let Some(more) =
            self.small_piece_read(joined.as_ref().map_or(first.len(), BytesMut::len))
        {
            joined
                .get_or_insert_with(|| {
                    let mut joined = BytesMut::with_capacity(JOINED_PIECE_BYTES);
                    joined.extend_from_slice(&first);
                    joined
                })
                .extend_from_slice(&more);
        }
        joined.map_or(first, BytesMut::freeze)
    }

    /// The next piece of body data among the bytes already read, if it is
    /// one under [`JOIN_BELOW`] that fits beside `joined` bytes within
    /// [`JOINED_PIECE_BYTES`]. Anything else (a larger piece, the body's end,
    /// its failure, a need to read) is looked at on a copy of the connection
    /// and left where it is, for the reader's next ask to find as before: an
    /// end or failure comes only once the data before it has been taken.
    fn small_piece_read(&mut self, joined: usize) -> Option<Bytes> {
        let max_headers = self.config.proto.limits.max_headers;
        let (consumed, at, len) = next_body_step_if(
            &mut self.conn,
            self.buf.filled(),
            max_headers,
            |step| match step {
                BodyStep::Data {
                    consumed,
                    data: (at, len),
                } if len < JOIN_BELOW && joined + len <= JOINED_PIECE_BYTES => {
                    Some((consumed, at, len))
                }
                _ => None,
            },
        )?;
        Some(self.buf.take_piece(consumed, at, len))
    }

    /// The next piece of the request body among the bytes already read, if
    /// they hold one.
    fn read_body_piece(&mut self) -> Result<Option<Piece>, Error> {
        let max_headers = self.config.proto.limits.max_headers;
        Ok(
            match next_body_step(&mut self.conn, self.buf.filled(), max_headers)? {
                BodyStep::Data {
                    consumed,
                    data: (at, len),
                } => Some(Piece::Data(self.buf.take_piece(consumed, at, len))),
                BodyStep::End { consumed, trailers } => {
                    let trailers = Headers::trailers_from(&mut self.buf, consumed, trailers);
                    // The next body starts its count afresh.
                    self.body_stall.progress();
                    Some(Piece::End(trailers))
                }
                BodyStep::NeedData { consumed } => {
                    self.buf.advance(consumed);
                    None
                }
                BodyStep::Over => return Err(Error::Protocol(proto::Error::UnexpectedData)),
            },
        )
    }

    fn queue_continue(&mut self) {
        let head = ResponseHead::new(StatusCode::CONTINUE, &[]);
        let conn = &mut self.conn;
        let _ = self.out.serialize(|b| conn.send_response(&head, b));
    }

    /// The next piece of the request body: a chunk, or its end.
    fn poll_body_piece(&mut self, cx: &mut Context<'_>) -> Poll<Result<Piece, Error>> {
        loop {
            if let Some(piece) = self.read_body_piece()? {
                return Poll::Ready(Ok(piece));
            }
            // A request body has its length or its chunks, never its end at
            // the close: a TLS client's close without its closure alert cuts
            // it short as a plain close does, which proto finds (400).
            let read = self
                .buf
                .poll_fill(&mut self.io, cx)
                .map(closed_without_notify_as_end);
            match &read {
                Poll::Ready(Ok(n)) if *n > 0 => {
                    self.body_stall.moved(*n, self.config.min_progress_bytes)
                }
                Poll::Ready(_) => self.body_stall.progress(),
                Poll::Pending => {}
            }
            match read {
                Poll::Ready(Ok(0)) => self.conn.receive_eof(),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                Poll::Pending => {
                    if self.body_stall.poll_stalled(cx, self.config.body_timeout) {
                        return Poll::Ready(Err(Error::Timeout(Timeout::Body)));
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Before a response head: what becomes of a request body not read to its
    /// end yet. A client waiting for `100 Continue` gets it if someone still
    /// holds the body (and may read it while we respond), or the connection
    /// closes after the response if nobody will (the client must not be left to
    /// send it); a body nobody reads with more of it to come than can be
    /// drained closes the connection after the response, which the head says.
    /// `answered_at_once`: the response goes out whole with no wait
    /// ([`goes_out_at_once`](super::response::goes_out_at_once)), after which
    /// the body is abandoned, so a body still held (by a task the service
    /// handed it to) is one nobody will read.
    pub(super) fn settle_the_request_body(&mut self, answered_at_once: bool) {
        if self.body_done {
            return;
        }
        let unread = answered_at_once || self.feeder.as_ref().is_none_or(Feeder::is_dropped);
        if self.conn.they_are_waiting_for_100_continue() {
            match unread {
                false => self.queue_continue(),
                // Sent without waiting for the 100 (RFC 9110 §10.1.1 lets a
                // client), the body is no longer in doubt: read and dropped
                // before the answer, it leaves the connection open.
                true if self.drop_buffered_body() => {}
                true => self.close_after = true,
            }
        } else if unread && !self.drainable() {
            self.close_after = true;
        }
    }

    /// Reads and drops the rest of the request body if all of it, within the
    /// drain limit, is in the buffer already; whether it did. Nothing is
    /// consumed otherwise.
    fn drop_buffered_body(&mut self) -> bool {
        let whole = match self.conn.incoming_body() {
            Some(BodyLength::Length(_)) => self.conn.body_left_to_receive().is_some_and(|left| {
                left <= self.buf.filled().len() as u64 && left <= self.drain_left()
            }),
            Some(BodyLength::Chunked) => self.chunked_rest_is_buffered(),
            _ => false,
        };
        if !whole {
            return false;
        }
        let max_headers = self.config.proto.limits.max_headers;
        loop {
            match next_body_step(&mut self.conn, self.buf.filled(), max_headers) {
                Ok(BodyStep::Data { consumed, .. }) if consumed > 0 => self.buf.advance(consumed),
                Ok(BodyStep::End { consumed, .. }) => {
                    self.buf.advance(consumed);
                    self.body_done = true;
                    self.body_stall.progress();
                    return true;
                }
                // Not reached: the whole body was found buffered above.
                _ => return false,
            }
        }
    }

    /// What [`ServerConfig::drain_limit`](super::ServerConfig::drain_limit)
    /// still lets the driver read and drop of this body: the limit is on the
    /// body read for nobody, and what was dropped while an answer waited to
    /// go out was read so already.
    fn drain_left(&self) -> u64 {
        self.config.drain_limit.saturating_sub(self.dropped)
    }

    /// Whether the body has a length, and more of it is still to come than
    /// the drain limit lets the driver read and drop ([`drain_left`](Self::drain_left)).
    fn length_left_past_drain_limit(&self) -> bool {
        self.conn
            .body_left_to_receive()
            .is_some_and(|left| left > self.drain_left())
    }

    /// Whether the rest of the request body can be drained within the limit:
    /// a declared length says so in advance; a chunked body only when its end
    /// has already arrived.
    fn drainable(&self) -> bool {
        match self.conn.incoming_body() {
            // What is left of it: a service that read the body to its length
            // without asking once more for its end leaves nothing to drain.
            Some(BodyLength::Length(_)) => !self.length_left_past_drain_limit(),
            Some(BodyLength::Empty) | None => true,
            Some(BodyLength::Chunked) => self.chunked_rest_is_buffered(),
            Some(BodyLength::UntilClose) => false,
        }
    }

    /// Whether the rest of a chunked request body, with no more data than the
    /// drain limit, is already in the buffer: decoded on a copy of the
    /// connection, so nothing is consumed. A small chunked upload the service
    /// ignored (a 404, a refused login) then keeps its connection, as one of
    /// a declared length does.
    fn chunked_rest_is_buffered(&self) -> bool {
        let mut conn = self.conn.clone();
        let max_headers = self.config.proto.limits.max_headers;
        let mut input = self.buf.filled();
        let mut data = 0u64;
        loop {
            match next_body_step(&mut conn, input, max_headers) {
                Ok(BodyStep::Data {
                    consumed,
                    data: (_, len),
                }) if consumed > 0 => {
                    data += len as u64;
                    if data > self.drain_left() {
                        return false;
                    }
                    input = &input[consumed..];
                }
                Ok(BodyStep::End { .. }) => return true,
                _ => return false,
            }
        }
    }

    /// Finishes the request body (drains what the service left unread, within
    /// bounds): after the response, or before a 101 that waits for it (see
    /// [`Drain`]). Whether the connection may go on.
    pub(super) async fn finish_body(&mut self, drain: Drain) -> Result<bool, Error> {
        let Some(feeder) = self.feeder.take() else {
            return Ok(true);
        };
        feeder.abandon();
        if self.close_after {
            return Ok(false);
        }
        if self.body_done {
            return Ok(true);
        }
        // A client that sends the rest slowly, byte by byte within the body
        // timeout each, would hold the connection long after the response,
        // so the whole drain gets the body timeout once. After the response,
        // a shutdown ends it too: that response is what it waited for.
        let deadline = self
            .config
            .body_timeout
            .and_then(|limit| Instant::now().checked_add(limit));
        // A wait the service's reads left open is not the drain's.
        self.body_stall.progress();
        // What was dropped while the answer went out counts too: the limit
        // is on the body read for nobody, however it was read.
        let mut drained = self.dropped;
        loop {
            let piece = poll_fn(|cx| {
                if let Poll::Ready(Err(e)) = self.poll_flush(cx) {
                    return Poll::Ready(Err(e));
                }
                match self.poll_body_piece(cx) {
                    Poll::Pending => {}
                    ready => return ready,
                }
                let expired = deadline.is_some_and(|at| self.read_deadline.poll_expired(cx, at));
                let shut_down = drain == Drain::UntilShutdown && self.poll_shutdown(cx);
                match expired || shut_down {
                    true => Poll::Ready(Err(Error::Timeout(Timeout::Body))),
                    false => Poll::Pending,
                }
            })
            .await;
            match piece {
                Ok(Piece::Data(chunk)) => {
                    drained += chunk.len() as u64;
                    if drained > self.config.drain_limit {
                        return Ok(false);
                    }
                }
                Ok(Piece::End(_)) => {
                    self.body_done = true;
                    return Ok(true);
                }
                Err(Error::Io(e)) => return Err(Error::Io(e)),
                Err(e) => {
                    // Kept for an answer not sent yet (a switch waits for
                    // the body); after one, nothing reads it.
                    self.body_error = BodyFault::of(&e);
                    return Ok(false);
                }
            }
        }
    }

    /// Answers with a 101, which the service gave before the request's body was
    /// read to its end: HTTP ends with the request (RFC 9110 §7.8; h2c's
    /// upgrade carries a body), so its body is read and dropped first, as after
    /// any response that leaves it unread (within
    /// [`ServerConfig::drain_limit`](super::ServerConfig::drain_limit) and the
    /// body timeout, a shutdown meanwhile aside: the switch is the answer it
    /// waits for), after `100 Continue` if the client waits for one (RFC 9110
    /// §10.1.1: a 101 follows the 100). A body that cannot be read to its end,
    /// or whose length is past the drain limit (not invited then), leaves the
    /// switch unsent: 413, or the status proto names for a malformed body, or
    /// 408 for one that stopped coming; and the connection closes.
    pub(super) async fn switch_after_the_body(
        &mut self,
        mut response: Response,
        asked: Asked,
    ) -> Result<Option<Kind>, Error> {
        if !self.length_left_past_drain_limit() {
            if self.conn.they_are_waiting_for_100_continue() {
                self.queue_continue();
            }
            if self.finish_body(Drain::UntilTheEnd).await? {
                return self.start_response(&mut response, asked);
            }
        }
        // Nobody reads the body now: a client waiting to send it is not
        // invited to (start_response sends 100 to a body still wanted).
        if let Some(feeder) = self.feeder.take() {
            feeder.abandon();
        }
        self.close_after = true;
        // More content than this server takes before a switch: the client's
        // to change (413, RFC 9110 §15.5.14), and a client can send it at
        // will, so no warning.
        let mut answer = match self.body_error {
            Some(fault) => fault.response(),
            None => {
                log::debug!(
                    "lithe: the request body before a protocol switch was longer than the \
                     drain limit; answered 413 instead"
                );
                refusal(StatusCode::CONTENT_TOO_LARGE, TOO_LONG_TO_SWITCH)
            }
        };
        self.start_response(&mut answer, asked)
    }
}

/// How long [`Driver::finish_body`] may go on reading a body nobody reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Drain {
    /// Its response is out: a shutdown ends the drain (and the connection).
    UntilShutdown,
    /// Its response waits for the body's end: a shutdown does not end it.
    UntilTheEnd,
}

/// How a request body failed by the client's doing: what the client is
/// answered, whatever the service made of the failure (it saw the error as
/// it read).
#[derive(Clone, Copy, Debug)]
pub(super) enum BodyFault {
    /// The body broke the protocol: the status proto names (400, 413, ...).
    Malformed(proto::Error),
    /// The body stopped coming, or came too slowly: 408, as nginx answers.
    TimedOut,
}

impl BodyFault {
    /// The fault behind a body's read error, if the client is to blame.
    fn of(error: &Error) -> Option<BodyFault> {
        match error {
            Error::Protocol(p) => Some(BodyFault::Malformed(*p)),
            Error::Timeout(Timeout::Body) => Some(BodyFault::TimedOut),
            _ => None,
        }
    }

    pub(super) fn response(self) -> Response {
        match self {
            BodyFault::Malformed(p) => refusal(p.status(), p),
            BodyFault::TimedOut => refusal(StatusCode::REQUEST_TIMEOUT, Timeout::Body),
        }
    }

    /// The error the connection ends with.
    pub(super) fn error(self) -> Error {
        match self {
            BodyFault::Malformed(p) => Error::Protocol(p),
            BodyFault::TimedOut => Error::Timeout(Timeout::Body),
        }
    }
}

/// Why a switch was refused over a request body past the drain limit.
const TOO_LONG_TO_SWITCH: &str = "request body too long to read before switching protocols";
