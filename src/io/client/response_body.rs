//! [`ResponseBody`]: the response body, read from the connection as it is
//! asked for, and what its end leaves the connection (reusable, watched
//! for a close while idle).

use core::pin::Pin;
use core::task::{Context, Poll};

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::Stream;
use futures_lite::future::poll_fn;

use super::{Awaiting, ClientConnection, IDLE_READ_KEPT};
use crate::io::body::{collect, into_text};
use crate::io::error::{Error, Timeout};
use crate::io::headers::Headers;
use crate::io::receive::{BodyStep, next_body_step, next_body_step_if};

impl<T: AsyncRead + AsyncWrite + Unpin> ClientConnection<T> {
    /// With a response read to its end and the connection kept, looks for a
    /// close already there; otherwise the transport now watches for one, so
    /// that a close arriving while the connection is idle is found when the
    /// next request is sent ([`closed_while_idle`](Self::closed_while_idle)).
    ///
    /// Nothing of the exchange's task stays with the connection: its timers
    /// go, and the watch is left with a waker of no task. The connection
    /// may idle in a pool long after that task has finished, and a waker
    /// keeps its task's allocation.
    fn watch_idle(&mut self) {
        self.end_total();
        self.end_read_timers();
        self.out.end_stall();
        if self.is_reusable() {
            // An idle connection (waiting in a pool, say) gives back a read
            // buffer a large response head grew, as a parked server
            // connection does; one of a usual size is kept for the next
            // response rather than allocated again.
            self.buf.release_over(IDLE_READ_KEPT);
            self.out.release();
            let _ = self.look_for_close_idle();
        }
    }

    /// Takes the response body's end (and its trailers) from the bytes
    /// already read, if that is what they hold next: whether it did. (Any
    /// other step, more data or part of a chunk line or trailer section, is
    /// looked at on a copy of the connection and left for a read to take.)
    fn took_buffered_end(&mut self) -> bool {
        let max_headers = self.config.proto.limits.max_headers;
        let end = |step: BodyStep| match step {
            BodyStep::End { consumed, trailers } => Some((consumed, trailers)),
            _ => None,
        };
        let Some((consumed, trailers)) =
            next_body_step_if(&mut self.conn, self.buf.filled(), max_headers, end)
        else {
            return false;
        };
        self.trailers = Headers::trailers_from(&mut self.buf, consumed, trailers);
        true
    }

    pub(super) fn poll_body_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Error>>> {
        if self.response_ended && self.upload.is_none() {
            // Whole already (taken with its last byte): no deadline can
            // fail it any more.
            self.response_ended = false;
            self.watch_idle();
            return Poll::Ready(None);
        }
        if self.total_passed() {
            // A body whose end is here already is over, as one taken with its
            // last byte is: no deadline fails it. (Whatever else comes next
            // is not read: the exchange fails.)
            if self.upload.is_none() && self.took_buffered_end() {
                self.watch_idle();
                return Poll::Ready(None);
            }
            // A body always there to read (a server faster than its reader)
            // never waits, where the total's timer would fire.
            self.broken = true;
            self.upload = None;
            return Poll::Ready(Some(Err(Error::Timeout(Timeout::Total))));
        }
        // The request body goes on while the response body is read. A write
        // blocked past its timeout while the caller was away (not polling)
        // may be the server waiting for us to read what it sent meanwhile:
        // what there is to read goes first (a piece of it restarts the
        // write's clock), and only with nothing to read does the write time
        // out.
        let mut read_first =
            self.upload.is_some() && !self.response_ended && self.out.stall_has_expired();
        if !read_first {
            if let Err(e) = self.drive_upload_during_body(cx) {
                return Poll::Ready(Some(Err(e)));
            }
        }
        if self.response_ended {
            // The response ended first: it is reported over once the request
            // is all sent, and the connection can carry the next.
            if self.upload.is_some() {
                return self.wait_for_upload(cx);
            }
            self.response_ended = false;
            self.watch_idle();
            return Poll::Ready(None);
        }
        loop {
            let max_headers = self.config.proto.limits.max_headers;
            match next_body_step(&mut self.conn, self.buf.filled(), max_headers) {
                Err(e) => {
                    self.broken = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Ok(BodyStep::Data {
                    consumed,
                    data: (at, len),
                }) => {
                    let piece = self.buf.take_piece(consumed, at, len);
                    // The exchange moves: a write of the request body blocked
                    // meanwhile (the server waits for us to read) gets its
                    // whole timeout again, however long the caller pauses
                    // before asking for more.
                    self.out.restart_stall();
                    let end_may_be_read = match self.conn.body_left_to_receive() {
                        Some(left) => left == 0,
                        // Chunked: its last chunk may be read already.
                        None => !self.buf.is_empty(),
                    };
                    if end_may_be_read {
                        // The last declared byte, or a last chunk already
                        // read, ends the response: taken now (it needs no
                        // read), a caller that stops at the data it was
                        // told of leaves the connection ready for the next
                        // request, as hyper's does. The next poll reports
                        // the end.
                        self.response_ended = self.took_buffered_end();
                        if self.response_ended && self.upload.is_none() {
                            // Idle from here for a caller that stops: what an
                            // idle connection gives back goes now.
                            self.watch_idle();
                        }
                    }
                    return Poll::Ready(Some(Ok(piece)));
                }
                Ok(BodyStep::End { consumed, trailers }) => {
                    self.trailers = Headers::trailers_from(&mut self.buf, consumed, trailers);
                    if self.upload.is_some() {
                        self.response_ended = true;
                        if read_first {
                            // The upload, not driven in this poll yet, goes
                            // on first (with the response whole, its timeout
                            // only loses the connection): polled again, it is.
                            return self.poll_body_chunk(cx);
                        }
                        return self.wait_for_upload(cx);
                    }
                    self.watch_idle();
                    return Poll::Ready(None);
                }
                Ok(BodyStep::NeedData { consumed }) => self.buf.advance(consumed),
                // A protocol switch or a close: the body is over, and so is
                // any of the request still going out.
                Ok(BodyStep::Over) => {
                    if self.upload.take().is_some() {
                        self.broken = true;
                    }
                    self.end_total();
                    return Poll::Ready(None);
                }
            }
            // No read timeout while the request body goes out: the server may
            // be reading it before it answers more.
            match self.poll_read(cx, Awaiting::Body, self.upload.is_none()) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    self.broken = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Pending => {
                    if read_first {
                        if let Err(e) = self.drive_upload_during_body(cx) {
                            return Poll::Ready(Some(Err(e)));
                        }
                        if self.upload.is_none() {
                            // All sent now (or given up, the answer
                            // standing): the read waits again, timed.
                            read_first = false;
                            continue;
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// A response body, read from the connection as it is asked for. It borrows the
/// connection: drop it (after reading it to the end, to keep the connection
/// reusable) before sending the next request.
///
/// If the request body was still going out when the response head came, the
/// rest of it is sent as this body is polled: its end is reported once the
/// request is all sent. A failure of the request body's own stream (or a
/// sized stream overrunning) comes back from here; a transport that fails
/// to take the rest (a reset of a server that answered without reading it
/// all, or a write timeout once the response has ended) only makes the
/// connection unusable, and the response reads on for as long as the
/// connection gives it. A write that times out while the response still
/// goes on, with nothing of it to read, is this body's error: each side
/// would wait on the other. (Time the caller spends away, not polling, is
/// not held against the server: what it sent meanwhile is read first.)
/// Dropping the body before its end abandons the request: the connection
/// is not reused, and the server sees the request cut off once the
/// connection is dropped.
///
/// After an error every later poll fails too, with the same error: a body
/// cut short never reads as one that ended. (As a `Stream` it ends after
/// reporting its error, as streams do: reqwest's `bytes_stream`, its items'
/// `std::io::Error` turned back into lithe's by `Error::from`.)
///
/// A download read piece by piece, with its progress, given up partway:
///
/// ```
/// use lithe::io::{ClientConfig, ClientConnection, Request, Response, ServerConfig};
/// use lithe::io::{duplex, serve_connection};
/// use lithe::proto::StatusCode;
///
/// # futures_lite::future::block_on(async {
/// let (client_end, server_end) = duplex(64 * 1024);
/// let service = |_: Request| async { Response::new(StatusCode::OK).with_body(vec![b'x'; 200_000]) };
/// let config = ServerConfig::default();
/// let server = serve_connection(server_end, service, &config);
/// let client = async {
///     let mut conn = ClientConnection::new(client_end, ClientConfig::default());
///     let mut response = conn.send(Request::new("GET", "/big").with_header("host", "h")).await?;
///     let body = response.body_mut();
///     let total = body.len().unwrap_or(0);
///     let mut saved = Vec::new();
///     while let Some(piece) = body.chunk().await? {
///         saved.extend_from_slice(&piece); // to a file, in practice
///         println!("{} of {total} bytes", saved.len());
///         if saved.len() >= 100_000 {
///             break; // enough
///         }
///     }
///     drop(response);
///     // Given up before its end: the connection carries no other request
///     // (`discard` would have read the rest to keep it).
///     assert!(!conn.is_reusable());
///     conn.close().await
/// };
/// let (_, result) = futures_lite::future::zip(server, client).await;
/// # result.unwrap();
/// # });
/// ```
pub struct ResponseBody<'c, T> {
    conn: &'c mut ClientConnection<T>,
    done: bool,
    /// The error reading failed with, given again to a reader that asks again.
    failed: Option<Error>,
    /// Whether the `Stream` itself has given the error: it ends only then,
    /// so an error `chunk` gave is still reported to a reader going on as a
    /// stream, never read as a clean end.
    error_streamed: bool,
}

impl<'c, T> ResponseBody<'c, T> {
    /// The body of the response whose head `conn` read last; `done` when
    /// the response has none by its framing and its end is taken already.
    pub(super) fn new(conn: &'c mut ClientConnection<T>, done: bool) -> Self {
        ResponseBody {
            conn,
            done,
            failed: None,
            error_streamed: false,
        }
    }

    /// The bytes the body has still to bring, when its framing says: what
    /// is left of a declared length (`Some(0)` once it has all come, and
    /// for an answer that has no body: to HEAD, a 204, a 304, a switch of
    /// protocols, whose bytes after the head are the new protocol's); `None`
    /// for a chunked or close-delimited body until it has ended, or once
    /// reading has failed. What `Content-Length` declared, read from the
    /// framing rather than the field (so `5, 5` is 5, and a HEAD answer's
    /// length is not a body's).
    #[doc(alias = "content_length")]
    pub fn len(&self) -> Option<u64> {
        match self.failed {
            Some(_) => None,
            None if self.done
                || self.conn.response_ended
                || self.conn.conn.their_state() == crate::proto::State::SwitchedProtocol =>
            {
                Some(0)
            }
            None => self.conn.conn.body_left_to_receive(),
        }
    }

    /// Whether the body has nothing left to bring: [`len`](Self::len) is
    /// `Some(0)`.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> ResponseBody<'_, T> {
    /// Polls for the next chunk; `None` at the end of the body (once the
    /// request is also all sent).
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        if let Some(error) = &self.failed {
            return Poll::Ready(Some(Err(error.duplicate())));
        }
        if self.done {
            return Poll::Ready(None);
        }
        let result = self.conn.poll_body_chunk(cx);
        match &result {
            Poll::Ready(None) => self.done = true,
            Poll::Ready(Some(Err(e))) => self.failed = Some(e.duplicate()),
            _ => {}
        }
        result
    }

    /// The next chunk; `None` at the end of the body. A chunk is a slice of
    /// the connection's read buffer, not a copy: kept, it keeps that buffer
    /// alive (a buffer grown past 64 KiB by a large head hands out copies of
    /// small pieces, but a piece of an eighth of it or more still keeps it
    /// whole); copy a small one kept for long.
    #[doc(alias = "bytes_stream")]
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        poll_fn(|cx| self.poll_chunk(cx)).await.transpose()
    }

    /// The trailer fields that followed a chunked body (RFC 9112 §7.1.2),
    /// once the body has been read to its end; `None` before that, or when
    /// it had none. They are kept apart from the header fields, as RFC 9110
    /// §6.5.1 asks. Read the body with [`chunk`](ResponseBody::chunk) (or as
    /// a `Stream`) to see them: [`bytes`](ResponseBody::bytes) and
    /// [`text`](ResponseBody::text) consume it. (A copy: cheap, as received
    /// fields share one buffer.)
    ///
    /// A server may send trailers only to a request that says it takes them
    /// (hyper's does so): give the request a `TE: trailers` field where they
    /// are wanted, and the client adds the `te` connection option that RFC
    /// 9110 §10.1.4 pairs with it.
    pub fn trailers(&self) -> Option<Headers> {
        match self.done {
            true => self.conn.trailers.clone(),
            false => None,
        }
    }

    /// The whole body (what is left of it, after [`chunk`](Self::chunk)
    /// reads: `limit` applies to that), or [`Error::BodyTooLarge`] past
    /// `limit` bytes. A body that arrived in one chunk is that chunk, a
    /// slice of the read buffer ([`chunk`](Self::chunk) says what that keeps
    /// alive). One whose
    /// `Content-Length` is past `limit` is refused unread, and the
    /// connection, its body left unread, is not reused.
    pub async fn bytes(mut self, limit: usize) -> Result<Bytes, Error> {
        collect(self.left_unless_failed(), |cx| self.poll_chunk(cx), limit).await
    }

    /// What the body's declared length has yet to bring, unless reading it
    /// failed: after an error, proto still counts what the body was to
    /// bring, and the error is the answer, not that count.
    fn left_unless_failed(&self) -> Option<u64> {
        match self.failed {
            None => self.conn.conn.body_left_to_receive(),
            Some(_) => None,
        }
    }

    /// The whole body as UTF-8 text, within `limit` bytes.
    pub async fn text(self, limit: usize) -> Result<String, Error> {
        into_text(self.bytes(limit).await?)
    }

    /// Reads the rest of the body and drops it, so that the connection can
    /// carry the next request (as urllib3's `drain_conn`): for a response
    /// whose body does not matter, a 404's say. Where the connection will
    /// carry no other request anyway (either side said it closes, or it has
    /// failed), nothing is read, unless the request body is still going out:
    /// the body is then read on until that upload is done, as
    /// [`bytes`](Self::bytes) would. Past `limit` bytes it stops with
    /// [`Error::BodyTooLarge`], the rest unread (a `Content-Length` past
    /// `limit` is refused unread): closing and opening another connection
    /// is cheaper than reading a large body nobody wants. Whether the
    /// connection then takes the next request,
    /// [`is_reusable`](ClientConnection::is_reusable) says.
    ///
    /// ```
    /// use lithe::io::{ClientConfig, ClientConnection, Request, Response, ServerConfig};
    /// use lithe::io::{duplex, serve_connection};
    /// use lithe::proto::StatusCode;
    ///
    /// # futures_lite::future::block_on(async {
    /// let (client_end, server_end) = duplex(64 * 1024);
    /// let service = |request: Request| async move {
    ///     match request.path() {
    ///         "/" => Response::new(StatusCode::OK).with_body("home"),
    ///         _ => Response::new(StatusCode::NOT_FOUND).with_body(vec![b'?'; 10_000]),
    ///     }
    /// };
    /// let config = ServerConfig::default();
    /// let server = serve_connection(server_end, service, &config);
    /// let client = async {
    ///     let mut conn = ClientConnection::new(client_end, ClientConfig::default());
    ///     let missing = conn.send(Request::new("GET", "/gone").with_header("host", "h")).await?;
    ///     assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    ///     missing.into_body().discard(64 * 1024).await?;
    ///     assert!(conn.is_reusable());
    ///     let home = conn.send(Request::new("GET", "/").with_header("host", "h")).await?;
    ///     assert_eq!(home.into_body().text(64).await?, "home");
    ///     Ok::<(), lithe::io::Error>(())
    /// };
    /// let (_, result) = futures_lite::future::zip(server, client).await;
    /// # result.unwrap();
    /// # });
    /// ```
    pub async fn discard(mut self, limit: usize) -> Result<(), Error> {
        // An upload still going out is driven by reading on: it is not
        // given up because its answer goes unread.
        if self.failed.is_none()
            && self.conn.upload.is_none()
            && (self.conn.broken || !self.conn.conn.is_keep_alive())
        {
            return Ok(());
        }
        if self
            .left_unless_failed()
            .is_some_and(|left| left > limit as u64)
        {
            return Err(Error::BodyTooLarge { limit });
        }
        let mut read = 0usize;
        while let Some(chunk) = self.chunk().await? {
            read = read.saturating_add(chunk.len());
            if read > limit {
                return Err(Error::BodyTooLarge { limit });
            }
        }
        Ok(())
    }
}

impl<T> core::fmt::Debug for ResponseBody<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("done", &self.done)
            .field("failed", &self.failed.is_some())
            .finish()
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Stream for ResponseBody<'_, T> {
    type Item = std::io::Result<Bytes>;

    /// As [`poll_chunk`](ResponseBody::poll_chunk), except that after an
    /// error the stream ends, as streams do (a consumer skipping errors would
    /// otherwise never see its end).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let body = self.get_mut();
        if body.error_streamed {
            return Poll::Ready(None);
        }
        let item = body.poll_chunk(cx);
        body.error_streamed = matches!(item, Poll::Ready(Some(Err(_))));
        item.map(|item| item.map(|r| r.map_err(std::io::Error::from)))
    }
}
