//! Responses as the driver writes them: the head built from the service's
//! [`Response`] (framing, `Date`, `Connection`, and what HTTP/1.1 asks to be
//! left out or refused), the body written with its framing, and the
//! driver's own answers (refusals of malformed requests, a 500 after a panic).

use core::task::{Context, Poll};

use futures_lite::future::poll_fn;

use super::{Asked, Driver, MAX_BATCH};
use crate::io::body::{BODY_SHARE_BYTES, BODY_SHARE_PIECES, HoldLast, Kind, is_length_mismatch};
use crate::io::buffer::COALESCE;
use crate::io::date;
use crate::io::error::Error;
use crate::io::headers::Headers;
use crate::io::message::{Response, is_interim};
use crate::io::shutdown::Shutdown;
use crate::io::upgrade::{Transport, offers_every_protocol};
use crate::proto::{self, Header, ResponseHead, State, StatusCode, Version};

impl<T: Transport + 'static> Driver<'_, T> {
    /// Serializes the head of a response and hands back the body still to
    /// send (`Kind::Empty` when only the end of the message is left), or
    /// `None` after a protocol switch. The response is taken by reference, to
    /// be written from where it lies; its body is taken out of it, and the
    /// rest is left for its owner to drop.
    pub(super) fn start_response(
        &mut self,
        response: &mut Response,
        asked: Asked,
    ) -> Result<Option<Kind>, Error> {
        let (status, reason, headers, body) = response.head_and_body();
        let kind = body.into_kind();
        let code = status.as_u16();
        // RFC 9110 §8.6: no Content-Length in 1xx, 204 or a 2xx to CONNECT; a
        // 304's would describe another response.
        let tunnel = asked == Asked::Connect && status.is_success();
        if asked == Asked::Connect && !tunnel && !self.buf.is_empty() {
            // Bytes already behind a CONNECT are the tunnel's, sent before the
            // answer (RFC 9931; no client pipelines a request after one):
            // refused, they would be read as requests of their own, which a
            // proxy in front may have let through for that CONNECT only. The
            // connection closes unread. (Without such bytes it goes on: a
            // proxy's 407 challenge is answered on the same connection.)
            self.close_after = true;
        }
        // A 205 has no content either (RFC 9110 §15.3.6), though it says so
        // with `Content-Length: 0`, which proto adds.
        let bodiless_status =
            status.is_informational() || matches!(code, 204 | 205 | 304) || tunnel;
        let length = kind.len();
        let no_body = matches!(kind, Kind::Empty);
        // A body that will not be sent is dropped now: if it held the request
        // body (an echo answering HEAD or 204), nobody is left to read that,
        // which decides below whether to invite it with `100 Continue`.
        let kind = match asked == Asked::Head || bodiless_status {
            true => {
                drop(kind);
                Kind::Empty
            }
            false => kind,
        };
        let (mut length_field, mut coding_field, mut dated) = (false, false, false);
        for (name, _) in headers.iter() {
            length_field |= name.eq_ignore_ascii_case("content-length");
            coding_field |= name.eq_ignore_ascii_case("transfer-encoding");
            dated |= name.eq_ignore_ascii_case("date");
        }
        let only_chunked = || {
            headers
                .elements("transfer-encoding")
                .all(|coding| coding.eq_ignore_ascii_case(b"chunked"))
        };
        if coding_field && self.http10_peer && only_chunked() {
            // HTTP/1.0 has no transfer codings (RFC 9112 §6.1): `chunked`
            // named by the service (a proxy passing on its upstream's field,
            // say) is left out, and the body goes with a length or until the
            // close, as hyper does, rather than becoming a 500. Another coding
            // (gzip) describes the bytes, so it cannot be left out: that head
            // stays one HTTP/1.0 cannot carry.
            headers.remove("transfer-encoding");
            coding_field = false;
        }
        // A 1xx, a 204 or a tunnel may not carry either framing field (RFC
        // 9110 §8.6, RFC 9112 §6.1), a 304 has no body to chunk and a 205 no
        // body at all: a service's own fields there are left out, as hyper
        // does, rather than becoming a 500. A 304 keeps its length, the one
        // GET would have.
        if bodiless_status && coding_field {
            headers.remove("transfer-encoding");
            coding_field = false;
        }
        if length_field && bodiless_status && code != 304 {
            headers.remove("content-length");
            length_field = false;
        }
        if length_field {
            headers.canonicalize_content_length();
        }
        let kind = match coding_field {
            true => kind.chunked_keeping_length(),
            false => kind,
        };
        let content_length = match length {
            _ if bodiless_status || coding_field => None,
            // The length of a HEAD response is the one GET would have: a field
            // the service set says it, and an empty body says nothing about it
            // (RFC 9110 §8.6, §9.3.2), so no `Content-Length: 0`.
            _ if asked == Asked::Head && (length_field || no_body) => None,
            // Given apart even beside the service's field, so that proto
            // refuses a field the body disagrees with: a 500, not a message
            // whose framing breaks midway.
            length => length,
        };
        self.settle_the_request_body(goes_out_at_once(&kind));
        // A shutdown ends HTTP on this connection, which a protocol switch does
        // anyway; `Connection: close` beside the `Connection: upgrade` the
        // switch needs would contradict it.
        let switches = code == 101 || tunnel;
        let keep_alive_off = self.config.keep_alive_off();
        if (self.shutdown.is_some_and(Shutdown::is_triggered) || keep_alive_off) && !switches {
            // Shutting down, or no wait for a next request: this is the
            // connection's last response.
            self.close_after = true;
        }
        if self.close_after {
            say_close(headers);
        }
        // An interim status is no answer: `proto` would send it as one and go
        // on waiting for the final response, which this service will not give.
        let interim = is_interim(status);
        // A 101 answers only a request that proposed a switch (an Upgrade
        // field with the `upgrade` connection option; never a CONNECT), and
        // one that names a protocol the client did not offer switches to
        // something it may not speak (RFC 9110 §7.8).
        let offered = self.offered_protocols.take();
        let unproposed = code == 101 && (offered.is_none() || asked == Asked::Connect);
        let unoffered =
            code == 101 && !unproposed && !offers_every_protocol(offered.as_deref(), headers);
        let date = if dated { None } else { self.date(status) };
        let (conn, out) = (&mut self.conn, &mut self.out);
        let written = (!interim && !unproposed && !unoffered).then(|| {
            headers.with_proto(None, None, |fields| {
                let head = ResponseHead {
                    version: Version::Http11,
                    status,
                    reason,
                    headers: fields,
                };
                out.serialize(|b| conn.send_dated_response(&head, content_length, date.as_ref(), b))
            })
        });
        if !matches!(written, Some(Ok(_))) {
            // The service built a head HTTP/1.1 cannot carry (an interim
            // status, both framings, a length its body disagrees with):
            // answer 500 instead, and say why where its author can see it.
            match written {
                // Only the client's version makes this head one it cannot
                // carry (HTTP/1.0 has no transfer codings; the service's
                // `gzip` cannot be left out): a client chooses that at will,
                // so it is no warning.
                Some(Err(
                    e @ proto::SendError::InvalidFraming(proto::Error::TransferEncodingInHttp10),
                )) if self.http10_peer => log::debug!(
                    "lithe: the service's {code} response cannot be sent to an HTTP/1.0 client \
                     ({e}); answered 500 instead"
                ),
                Some(Err(e)) => log::warn!(
                    "lithe: the service's {code} response cannot be sent ({e}); answered 500 instead"
                ),
                None if unproposed => log::warn!(
                    "lithe: the service's 101 answers a request that proposed no switch \
                     (only an HTTP/1.1 request with an Upgrade field and the `upgrade` \
                     connection option proposes one, never a CONNECT); answered 500 instead"
                ),
                None if unoffered => log::warn!(
                    "lithe: the service's 101 switches to a protocol the request did not offer \
                     in its Upgrade field; answered 500 instead"
                ),
                _ => log::warn!(
                    "lithe: the service answered with an interim status ({code}); answered 500 instead"
                ),
            }
            // A CONNECT answered this way (its response could not be sent)
            // closes as any refused CONNECT does: the bytes behind it may be
            // the tunnel's the client took as opened. A 500 in place of a
            // switch is the last response of a shutdown as any other is, and
            // of a connection without keep-alive.
            self.close_after |= asked == Asked::Connect
                || self.shutdown.is_some_and(Shutdown::is_triggered)
                || keep_alive_off
                || headers.names_element("connection", b"close");
            // The service's body goes unsent: if it held the request's (an
            // echo), nobody reads that now (invited already, perhaps, with 100
            // Continue), which the 500 must settle again.
            drop(kind);
            self.settle_the_request_body(true);
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            let date = self.date(status);
            // `Connection: close` if the connection closes after it, as the
            // service's head would have said.
            let close = Header {
                name: "connection",
                value: b"close",
            };
            let fields = [EMPTY_BODY, close];
            let count = 1 + usize::from(self.close_after);
            let head = ResponseHead::new(status, &fields[..count]);
            let conn = &mut self.conn;
            self.out
                .serialize(|b| conn.send_dated_response(&head, None, date.as_ref(), b))?;
            return Ok(Some(Kind::Empty));
        }
        if self.conn.our_state() != State::SendBody {
            // A protocol switch: no body.
            return Ok(None);
        }
        // Empty already for a HEAD or a bodiless status (dropped above).
        Ok(Some(kind))
    }

    /// After a panic in the service's code (making or polling its future,
    /// or its response body): a request not answered yet gets a 500 (or its
    /// body's fault's 4xx), a response begun stays cut short (no last
    /// chunk); then the connection closes, after the answers pipelined
    /// before, which may not have been written yet. An error when a response
    /// was left cut short, or the close failed (a write that timed out).
    pub(super) async fn close_after_panic(&mut self) -> Result<(), Error> {
        if let Some(feeder) = self.feeder.take() {
            feeder.abandon();
        }
        self.close_after = true;
        let state = self.conn.our_state();
        // A request body the client broke has that fault's answer, whatever
        // the service made of the error (an `unwrap`, say), as when it
        // answers.
        let mut answer = match self.body_error {
            Some(fault) => fault.response(),
            None => panicked_response(),
        };
        let status = answer.status();
        let answered = state == State::SendResponse
            && match self.start_response(&mut answer, self.asked) {
                Ok(Some(body)) => self.sent_body_now(&body).unwrap_or(false),
                Ok(None) => true,
                Err(_) => false,
            };
        let cut_short = !answered && matches!(state, State::SendResponse | State::SendBody);
        let outcome = match (answered, cut_short) {
            (true, _) => format!("answered {}", status.as_u16()),
            (false, true) => "its response is cut short".to_owned(),
            // A body dropped once its message had ended, say.
            (false, false) => "after its response was whole".to_owned(),
        };
        log::error!(
            "lithe: the service (or its response body) panicked; {outcome}, and the connection closes"
        );
        let closed = self.close(true).await;
        match cut_short {
            true => Err(Error::Io(std::io::Error::other(
                "the service's response body panicked: its response was cut short",
            ))),
            false => closed,
        }
    }

    /// Sends, with no await, the body [`start_response`](Self::start_response)
    /// left if that needs no waiting: none, or a whole one small enough to be
    /// copied next to its head (the loop flushes a batch grown too large).
    /// Whether it did, and ended the message; any other body is for
    /// [`send_body`](Self::send_body). Most responses end here, which spares
    /// building and polling that future. A body that ends at the close goes
    /// there too, however small: its flush may still fail, and only
    /// `send_body` keeps the close a reset until the body is out.
    #[inline]
    pub(super) fn sent_body_now(&mut self, kind: &Kind) -> Result<bool, Error> {
        match kind {
            Kind::Empty => {}
            Kind::Full(bytes) if goes_out_at_once(kind) && !self.conn.our_body_ends_at_close() => {
                if !bytes.is_empty() {
                    self.out.queue_data(&mut self.conn, bytes)?;
                }
            }
            Kind::Full(_) | Kind::Stream { .. } | Kind::Trailed(_) => return Ok(false),
        }
        self.end_message()?;
        Ok(true)
    }

    /// Writes a body [`sent_body_now`](Self::sent_body_now) left, pumping the
    /// request body meanwhile, and ends the message. One that ends at the
    /// close goes out with the transport's close made a reset where it can
    /// be, until its end: cut short (a failed stream, or this task dropped at
    /// the end of a shutdown) it must not end cleanly, as if whole.
    pub(super) async fn send_body(&mut self, kind: Kind) -> Result<(), Error> {
        let guarded = self.reset_on_close.is_some() && self.conn.our_body_ends_at_close();
        if guarded {
            self.arm_reset(true);
        }
        if let Err(e) = self.write_body(kind).await {
            // The body broke the framing its head declared: the service's
            // bug, which only a client sees, as a response cut short.
            if matches!(&e, Error::Send(_)) || matches!(&e, Error::Io(io) if is_length_mismatch(io))
            {
                log::warn!(
                    "lithe: the service's response body does not fit its head ({e}); it was cut short"
                );
            }
            return Err(e);
        }
        if guarded {
            // Its end may still be queued: a write that fails or times out
            // from here on cuts it short too, so the reset stays until it is
            // out.
            poll_fn(|cx| self.poll_flush_pumping(cx)).await?;
            self.arm_reset(false);
        }
        Ok(())
    }

    /// Makes the transport's close a reset (`on`), or clean again.
    fn arm_reset(&mut self, on: bool) {
        if let Some(reset_on_close) = self.reset_on_close {
            reset_on_close(&mut self.io, on);
        }
    }

    /// [`send_body`](Self::send_body)'s writing.
    async fn write_body(&mut self, kind: Kind) -> Result<(), Error> {
        let (mut stream, trailers) = match kind {
            Kind::Empty => return self.end_message(),
            Kind::Full(bytes) => {
                self.write_data(&bytes).await?;
                return self.end_message();
            }
            // Unwrapped: the connection's future need not be `Sync`.
            Kind::Stream { stream, .. } => (stream.into_inner(), None),
            Kind::Trailed(trailed) => {
                let (stream, trailers) = *trailed;
                (stream.into_inner(), Some(trailers.into_inner()))
            }
        };
        // The length the head declared, whether the stream's or a
        // Content-Length field the service set.
        let mut pieces = HoldLast::new(self.conn.body_left_to_send());
        let (mut share_bytes, mut share_pieces) = (0usize, 0u32);
        loop {
            if share_bytes >= BODY_SHARE_BYTES || share_pieces >= BODY_SHARE_PIECES {
                (share_bytes, share_pieces) = (0, 0);
                // A stream always ready (one that polls busily, or yields
                // empty pieces, which write nothing) never lets what goes on
                // meanwhile run: what is queued would not go out, nor a
                // client gone be noticed. One look at both per share.
                if let Poll::Ready(e) = poll_fn(|cx| Poll::Ready(self.poll_meanwhile(cx))).await {
                    return Err(e);
                }
                futures_lite::future::yield_now().await;
            }
            let next = self
                .await_service_part(|cx| stream.as_mut().poll_next(cx))
                .await?;
            let piece = match next {
                None => break,
                Some(Ok(piece)) => piece,
                // The body is cut short: close without ending it, so the
                // client sees an incomplete message, not a short success.
                // The error is the service's stream's, an I/O error even if
                // it holds a lithe error of another connection (a proxied
                // body's), unless this request's body failed (an echo's
                // stream is that body): then the peer's is the cause.
                Some(Err(e)) => {
                    return Err(match self.body_error {
                        Some(cause) => cause.error(),
                        None => Error::Io(e),
                    });
                }
            };
            share_bytes += piece.len();
            share_pieces += 1;
            if let Some(piece) = pieces.admit(piece)? {
                self.write_data(&piece).await?;
            }
        }
        if let Some(last) = pieces.finish() {
            self.write_data(&last).await?;
        }
        let Some(mut trailers) = trailers else {
            return self.end_message();
        };
        // Trailers ride on chunks: on a body with a length or delimited by
        // the close they are left out (`Body::with_trailers`), unawaited, so
        // that the message's end does not wait on fields that go nowhere.
        if self.conn.body_left_to_send().is_some() || self.conn.our_body_ends_at_close() {
            drop(trailers);
            log::debug!("lithe: trailer fields left out: the body is not chunked");
            return self.end_message();
        }
        let trailers = self
            .await_service_part(|cx| trailers.as_mut().poll(cx))
            .await?;
        let conn = &mut self.conn;
        Ok(self.out.queue_end(conn, Some(&trailers))?)
    }

    /// Awaits a part of the response that is the service's code (its body's
    /// stream, its trailers), pumping the request body and writing what is
    /// queued meanwhile.
    async fn await_service_part<R>(
        &mut self,
        mut part: impl FnMut(&mut Context<'_>) -> Poll<R>,
    ) -> Result<R, Error> {
        poll_fn(|cx| {
            if let Poll::Ready(ready) = part(cx) {
                return Poll::Ready(Ok(ready));
            }
            self.poll_meanwhile(cx).map(Err)
        })
        .await
    }

    /// Writes one piece of our body with its framing.
    async fn write_data(&mut self, data: &[u8]) -> Result<(), Error> {
        if data.is_empty() {
            return Ok(());
        }
        match self.out.queue_data(&mut self.conn, data)? {
            None if self.out.len() > MAX_BATCH => poll_fn(|cx| self.poll_flush_pumping(cx)).await,
            None => Ok(()),
            Some(suffix) => poll_fn(|cx| self.poll_send_pumping(cx, data, suffix)).await,
        }
    }

    fn end_message(&mut self) -> Result<(), Error> {
        let conn = &mut self.conn;
        self.out.serialize(|b| conn.send_end(&[], b))?;
        Ok(())
    }

    /// Answers a malformed request with the status `proto` names, then closes.
    pub(super) async fn reject(&mut self, error: proto::Error) {
        let status = error.status();
        log::debug!("lithe: refused a request: {error} ({})", status.as_u16());
        self.refuse(status, error).await;
    }

    /// Answers with `status` and a line saying `why`, no request in progress
    /// (an unsolicited response: proto adds `Connection: close`), then
    /// closes.
    pub(super) async fn refuse(&mut self, status: StatusCode, why: impl core::fmt::Display) {
        let text = refusal_text(status, why);
        let content_type = Header {
            name: "content-type",
            value: b"text/plain; charset=utf-8",
        };
        let date = self.date(status);
        let fields = [content_type];
        let head = ResponseHead::new(status, &fields);
        // A HEAD request gets no content, refused or not (RFC 9110 §9.3.2):
        // its method is read from the line refused, which proto did not
        // take. The head goes out without a length (the connection closes).
        let to_head = begins_head_request(self.buf.filled());
        let conn = &mut self.conn;
        let length = text.len() as u64;
        let date = date.as_ref();
        let sent = match to_head {
            true => self
                .out
                .serialize(|b| conn.send_dated_response(&head, None, date, b))
                .is_ok(),
            false => {
                let sent = self
                    .out
                    .serialize(|b| conn.send_dated_response(&head, Some(length), date, b))
                    .is_ok()
                    && conn.send_data(text.as_bytes()).is_ok();
                if sent {
                    self.out.extend(text.as_bytes());
                }
                sent
            }
        };
        if sent {
            // Ended, so that closing sends our FIN at once: a message left
            // open is closed only after the linger.
            let _ = conn.send_end(&[], &mut []);
        }
        let _ = self.close(true).await;
    }

    /// The value of the `Date` field a response with `status` gets, if
    /// [`ServerConfig::date_header`](super::ServerConfig::date_header) asks for
    /// one (never on an interim response, which RFC 9110 §6.6.1 leaves out) and
    /// the clock is usable.
    fn date(&self, status: StatusCode) -> Option<[u8; date::LEN]> {
        match self.config.date_header && !status.is_informational() {
            true => date::now(),
            false => None,
        }
    }
}

/// Whether `input`, past any empty lines, begins a HEAD request line.
fn begins_head_request(input: &[u8]) -> bool {
    let start = input
        .iter()
        .position(|&b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(input.len());
    input[start..].starts_with(b"HEAD ")
}

/// Makes the head say the connection closes after it (the driver's own
/// decision), keeping every other option the service named (fields it
/// declared hop-by-hop, which a proxy in front must then strip: RFC 9110
/// §7.6.1) but `keep-alive`, which the close contradicts.
fn say_close(headers: &mut Headers) {
    if headers.names_element("connection", b"close") {
        return;
    }
    let mut options: Vec<u8> = Vec::new();
    for option in headers
        .elements("connection")
        .filter(|named| !named.eq_ignore_ascii_case(b"keep-alive"))
    {
        options.extend_from_slice(option);
        options.extend_from_slice(b", ");
    }
    options.extend_from_slice(b"close");
    headers.insert("connection", options);
}

/// Whether a response body is sent with its head, with no wait in which a
/// request body could still be read (see `sent_body_now`): none, or a whole
/// one small enough to be copied next to the head.
fn goes_out_at_once(kind: &Kind) -> bool {
    match kind {
        Kind::Empty => true,
        Kind::Full(bytes) => bytes.len() <= COALESCE,
        Kind::Stream { .. } | Kind::Trailed(_) => false,
    }
}

/// `Content-Length: 0`, the framing of the empty responses the driver writes.
const EMPTY_BODY: Header<'static> = Header {
    name: "content-length",
    value: b"0",
};

/// The answer to a request whose service panicked.
fn panicked_response() -> Response {
    Response::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_header("content-type", "text/plain; charset=utf-8")
        .with_header("connection", "close")
        .with_body("500 Internal Server Error\n")
}

/// A refusal with `status` and a line of text saying why; the connection
/// closes after it.
pub(super) fn refusal(status: StatusCode, why: impl core::fmt::Display) -> Response {
    Response::new(status)
        .with_header("content-type", "text/plain; charset=utf-8")
        .with_header("connection", "close")
        .with_body(refusal_text(status, why))
}

/// What a refusal says: `400 Bad Request: invalid header field value`.
fn refusal_text(status: StatusCode, why: impl core::fmt::Display) -> String {
    format!(
        "{} {}: {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        why
    )
}
