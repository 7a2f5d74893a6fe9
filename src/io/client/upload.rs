//! The request body on its way out: taken from the body a piece at a time,
//! batched with its framing, written as the connection is polled (while
//! the response is awaited and read too), and ended with its trailers.

use core::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::poll_fn;

use super::ClientConnection;
use crate::io::body::{
    BODY_SHARE_BYTES, BODY_SHARE_PIECES, BoxStream, BoxTrailers, Held, HoldLast, Kind,
};
use crate::io::buffer::COALESCE;
use crate::io::error::{Error, Timeout};

impl<T: AsyncRead + AsyncWrite + Unpin> ClientConnection<T> {
    /// [`poll_upload`](Self::poll_upload) until the request is all sent, within
    /// the total timeout. With `answered`, the response is whole already
    /// (it has no body), and what the server sends meanwhile is looked at
    /// as [`wait_for_upload`](Self::wait_for_upload) does.
    pub(super) async fn finish_upload(&mut self, answered: bool) -> Result<(), Error> {
        poll_fn(|cx| {
            let sent = self.poll_upload(cx);
            if answered && sent.is_pending() {
                self.look_for_close_once(cx);
            }
            self.within_total(cx, sent)
        })
        .await
    }

    /// Drives the request body: writes what is queued, takes the next pieces
    /// and ends the message. Ready once all of it is written (at once when
    /// there is none going out).
    pub(super) fn poll_upload(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let Some(mut upload) = self.upload.take() else {
            return Poll::Ready(Ok(()));
        };
        if self.total_passed() {
            // A body that never waits (a ready stream, a socket with room)
            // is ended here: the total's timer fires only on a wait.
            self.broken = true;
            return Poll::Ready(Err(Error::Timeout(Timeout::Total)));
        }
        let sent = self.poll_upload_of(&mut upload, cx);
        match &sent {
            Poll::Pending => self.upload = Some(upload),
            // The read timeout runs from the end of the request: a wait for
            // 100 Continue that timed out left the clock running, and the
            // upload may have outlasted it.
            Poll::Ready(Ok(())) => self.read_stall.progress(),
            Poll::Ready(Err(_)) => {}
        }
        sent
    }

    fn poll_upload_of(
        &mut self,
        upload: &mut Upload,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        let (mut share_bytes, mut share_pieces) = (0usize, 0u32);
        loop {
            let shared_out = share_bytes >= BODY_SHARE_BYTES || share_pieces >= BODY_SHARE_PIECES;
            if shared_out || (share_pieces > 0 && self.total_passed()) {
                // A stream that is always ready, to a socket that always has
                // room (or in empty pieces, which write nothing), never
                // waits, and so never meets the total's timer: let the
                // thread's other tasks run, and come back by `poll_upload`,
                // which ends a body past the total. What is queued goes out
                // meanwhile: empty pieces queue nothing, but the pieces
                // before them may wait in the batch.
                if upload.writing.is_none() {
                    if let Poll::Ready(Err(e)) = self.poll_send(cx, &[], &[]) {
                        return Poll::Ready(Err(e));
                    }
                }
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if let Some((data, suffix)) = &upload.writing {
                ready!(self.poll_send(cx, data, suffix))?;
                upload.writing = None;
            } else if upload.flush {
                ready!(self.poll_send(cx, &[], &[]))?;
                upload.flush = false;
            }
            if upload.ended {
                return Poll::Ready(Ok(()));
            }
            // `None`: the source has ended.
            let next = match upload.source.take() {
                None => None,
                Some(Source::Full(bytes)) => Some(bytes),
                Some(Source::Stream(mut stream)) => match stream.get_mut().as_mut().poll_next(cx) {
                    Poll::Ready(Some(piece)) => {
                        upload.source = Some(Source::Stream(stream));
                        // The caller's stream failed: an I/O error, even one
                        // that holds a lithe error of another connection (a
                        // proxied body), which is not this server's doing.
                        let piece = piece.map_err(Error::Io)?;
                        share_bytes += piece.len();
                        share_pieces += 1;
                        Some(piece)
                    }
                    Poll::Ready(None) => None,
                    Poll::Pending => {
                        upload.source = Some(Source::Stream(stream));
                        // Write what is queued while the stream makes more.
                        ready!(self.poll_send(cx, &[], &[]))?;
                        return Poll::Pending;
                    }
                },
            };
            match next {
                Some(piece) => {
                    if let Some(piece) = upload.pieces.admit(piece)? {
                        self.queue_piece(upload, piece)?;
                    }
                }
                // The held piece, the trailers, then the end of the message.
                None => {
                    match core::mem::replace(&mut upload.pieces, HoldLast::new(None)).finish() {
                        Some(last) => self.queue_piece(upload, last)?,
                        None => {
                            // Trailers ride on chunks: on a body with a
                            // length they are left out (`Body::with_trailers`),
                            // unawaited, so that the request's end does not
                            // wait on fields that go nowhere.
                            if upload.trailers.is_some() && self.conn.body_left_to_send().is_some()
                            {
                                upload.trailers = None;
                                log::debug!(
                                    "lithe: trailer fields left out: the body is not chunked"
                                );
                            }
                            let trailers = match &mut upload.trailers {
                                None => None,
                                Some(future) => match future.get_mut().as_mut().poll(cx) {
                                    Poll::Ready(trailers) => Some(trailers),
                                    Poll::Pending => {
                                        // Write what is queued meanwhile.
                                        ready!(self.poll_send(cx, &[], &[]))?;
                                        return Poll::Pending;
                                    }
                                },
                            };
                            upload.trailers = None;
                            let conn = &mut self.conn;
                            self.out.queue_end(conn, trailers.as_ref())?;
                            upload.flush = true;
                            upload.ended = true;
                        }
                    }
                }
            }
        }
    }

    /// Queues one piece of the request body: copied into the batch, which is
    /// written once large (so a stream that is always ready is still paced by
    /// the socket), or, if too large to copy, written after it.
    fn queue_piece(&mut self, upload: &mut Upload, piece: Bytes) -> Result<(), Error> {
        match self.out.queue_data(&mut self.conn, &piece)? {
            Some(suffix) => upload.writing = Some((piece, suffix)),
            None => upload.flush = self.out.len() >= COALESCE,
        }
        Ok(())
    }

    /// A wait of the response body, whole, on the request body still going
    /// out (its stream may stall), bounded by the total timeout. What the
    /// server sends meanwhile is looked at ([`look_for_close_once`]).
    ///
    /// [`look_for_close_once`]: Self::look_for_close_once
    pub(super) fn wait_for_upload(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Error>>> {
        self.look_for_close_once(cx);
        match self.total_expired(cx) {
            true => {
                self.broken = true;
                self.upload = None;
                Poll::Ready(Some(Err(Error::Timeout(Timeout::Total))))
            }
            false => Poll::Pending,
        }
    }

    /// With the response whole and the request still going out, reads what
    /// the server sends, until something comes: its close (over TLS a
    /// closure alert, which a server closing after its answer may wait to
    /// write until we read, where the transport has little room) or bytes
    /// unasked, either of which leaves the connection unusable. A failed
    /// read fails no upload: its writes say for themselves.
    fn look_for_close_once(&mut self, cx: &mut Context<'_>) {
        if !self.broken && self.buf.is_empty() {
            let _ = self.look_for_close(cx);
        }
    }

    /// Drives the request body on while the response body is read: an error
    /// is one that ends the response too (see `upload_failed_after_answer`).
    pub(super) fn drive_upload_during_body(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        match self.poll_upload(cx) {
            Poll::Ready(Err(e)) => self.upload_failed_after_answer(e, self.response_ended),
            _ => Ok(()),
        }
    }
}

/// A request body on its way out, sent as the connection is polled.
pub(super) struct Upload {
    /// Where the next pieces come from; `None` once it has ended.
    source: Option<Source>,
    /// Holds back the piece that completes a declared length.
    pieces: HoldLast,
    /// A piece too large to copy into the batch, written after it with the
    /// suffix of its framing.
    writing: Option<(Bytes, &'static [u8])>,
    /// The batch is to be written: it has grown to [`COALESCE`], or holds
    /// the end of the message.
    flush: bool,
    /// The end of the message is in the batch.
    ended: bool,
    /// The trailer fields to end it with, awaited once the data is out.
    trailers: Option<Held<BoxTrailers>>,
}

enum Source {
    Full(Bytes),
    Stream(Held<BoxStream>),
}

impl Upload {
    /// The body `kind`, whose head declared `declared` bytes (if a length).
    pub(super) fn new(kind: Kind, declared: Option<u64>) -> Self {
        let (source, trailers) = match kind {
            Kind::Empty => (None, None),
            Kind::Full(bytes) => (Some(Source::Full(bytes)), None),
            Kind::Stream { stream, .. } => (Some(Source::Stream(stream)), None),
            Kind::Trailed(trailed) => {
                let (stream, trailers) = *trailed;
                (Some(Source::Stream(stream)), Some(trailers))
            }
        };
        Upload {
            source,
            pieces: HoldLast::new(declared),
            writing: None,
            flush: false,
            ended: false,
            trailers,
        }
    }
}
