//! The buffers a connection reads into and writes from, and the lazy deadline
//! timer that bounds both.
//!
//! The read buffer is a [`BytesMut`]: body data and heads are handed out as
//! [`Bytes`] slices of it without copying (a small piece of a buffer a large
//! head grew is copied instead: [`ReadBuf::take_piece`]). A server connection
//! parked between requests gives its buffer back unless it is small
//! ([`ReadBuf::release_parked`]), so an idle connection costs at most
//! [`READ_KEPT`] bytes of read buffer, besides the empty lines a client may
//! send after a request (copied out, unless they fill most of their
//! buffer); an idle client connection keeps up to 16 KiB.

use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::time::{Duration, Instant};

use async_io::Timer;
use bytes::{Buf, Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};

use super::error::{Error, Timeout};
use super::headers::Headers;
use crate::proto::{self, Connection, Header, SendError, is_header_section_only};

/// Body pieces up to this size are copied next to their framing and head: one
/// write. Larger ones go out uncopied in a vectored write.
pub(crate) const COALESCE: usize = 16 * 1024;
/// The largest head (or trailer section) the drivers serialize: 16 MiB,
/// sixteen times the largest response head lithe's own client reads and
/// far past what servers accept (8 to 64 KiB), so that a head built too
/// large is an error, not an allocation that may abort the process.
pub(crate) const OUTGOING_HEAD_LIMIT: usize = 16 << 20;
/// How much a single read asks for.
const READ_SIZE: usize = 8 * 1024;
/// How much a read into an empty buffer asks for: a request or a batch of
/// pipelined ones usually fits.
const IDLE_READ_SIZE: usize = 2048;
/// The smallest buffer a read into an empty buffer allocates.
const IDLE_BUFFER_MIN: usize = 256;
/// Read buffers up to this size are kept while a connection is parked: a
/// request head of a few hundred bytes (an API client's, with its
/// authorization) would otherwise cost an allocation each.
const READ_KEPT: usize = 512;
/// Read buffers larger than this (grown past a usual read by a large head)
/// hand out small body pieces as copies ([`ReadBuf::take_piece`]).
const PIECE_COPIED_FROM: usize = 64 * 1024;
/// Output buffers up to this size are kept while a connection is parked: a
/// response per request would otherwise cost an allocation and its zeroing.
/// Larger ones (a batch, a big head) are freed.
const OUTPUT_KEPT: usize = 512;
/// Output buffers up to this size are kept while a service takes its time:
/// a streamed body's pieces, copied up to [`COALESCE`] next to their framing,
/// grow one this far.
const OUTPUT_KEPT_WHILE_SERVING: usize = 2 * COALESCE;
/// Read buffers up to this size are kept whole, with the next request in
/// them, while a service takes its time: usual reads grow one this far.
const READ_KEPT_WHILE_SERVING: usize = 2 * READ_SIZE;

/// Bytes read from the peer and not yet consumed.
#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    buf: BytesMut,
    /// The size of the buffer's allocation, at least: `BytesMut::capacity`
    /// counts only the room after the bytes split off, which the allocation
    /// still holds.
    allocated: usize,
    /// How many of the unconsumed bytes are known to be whole empty lines
    /// ([`holds_only_empty_lines`](Self::holds_only_empty_lines)); 0 once
    /// any is consumed.
    empty_lines: usize,
}

/// Reads once from `io` into the thread's scratch array of
/// [`IDLE_READ_SIZE`] bytes and hands what arrived to `keep`; the array is
/// zeroed again after it: another connection's read lands there next, and
/// one whose transport counts bytes it did not write must find zeros, not
/// this connection's request (its credentials).
fn read_through_scratch<T: AsyncRead + Unpin>(
    io: &mut T,
    cx: &mut Context<'_>,
    keep: impl FnOnce(&[u8]),
) -> Poll<io::Result<usize>> {
    thread_local! {
        // One per thread, kept zeroed: every parked or lingering connection
        // of the thread reads through it.
        static SCRATCH: RefCell<[u8; IDLE_READ_SIZE]> =
            const { RefCell::new([0; IDLE_READ_SIZE]) };
    }
    /// Zeroes the whole scratch if the read unwinds, which may have left
    /// the transport's bytes anywhere in it.
    struct WipedOnUnwind<'a>(&'a mut [u8; IDLE_READ_SIZE]);
    impl Drop for WipedOnUnwind<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.fill(0);
            }
        }
    }
    let read = |scratch: &mut [u8; IDLE_READ_SIZE]| {
        let scratch = WipedOnUnwind(scratch);
        let result = Pin::new(io)
            .poll_read(cx, &mut scratch.0[..])
            .map(read_within(IDLE_READ_SIZE));
        match result {
            Poll::Ready(Ok(n)) => {
                keep(&scratch.0[..n]);
                scratch.0[..n].fill(0);
            }
            // A failed read (one claiming more than its room included) may
            // have written anywhere in it.
            Poll::Ready(Err(_)) => scratch.0.fill(0),
            Poll::Pending => {}
        }
        result
    };
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => read(&mut scratch),
        // A transport that reads another connection from inside its own
        // read (nothing here does) gets a scratch of its own.
        Err(_) => read(&mut [0; IDLE_READ_SIZE]),
    })
}

impl ReadBuf {
    /// The unconsumed bytes.
    pub(crate) fn filled(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Replaces each line break in the bytes at `spans` (value spans of the
    /// unconsumed head), and the tabs that follow it, with spaces: an
    /// obs-fold, which a recipient reads as spaces (RFC 9112 §5.2), the only
    /// way a value holds a line break.
    pub(crate) fn unfold(&mut self, spans: impl Iterator<Item = (usize, usize)>) {
        for (at, len) in spans {
            let mut in_fold = false;
            for byte in &mut self.buf[at..at + len] {
                in_fold = match byte {
                    b'\r' | b'\n' => true,
                    b'\t' | b' ' => in_fold,
                    _ => false,
                };
                if in_fold {
                    *byte = b' ';
                }
            }
        }
    }

    /// Whether the unconsumed bytes are nothing but whole empty lines: CRLFs,
    /// or bare LFs where `bare_lf` allows them (what a client may send
    /// between requests, RFC 9112 §2.2). Each call looks only at the bytes
    /// past those it found empty before, so a peer sending empty lines a few
    /// bytes at a time costs linear time in all, not a rescan of everything
    /// it sent on every read.
    #[inline]
    pub(crate) fn holds_only_empty_lines(&mut self, bare_lf: bool) -> bool {
        // The usual case, a request line (pipelined), is told by its first
        // byte, without a scan.
        if self.buf.first().is_some_and(|&b| b != b'\r' && b != b'\n') {
            return false;
        }
        self.empty_lines += proto::empty_lines_len(&self.buf[self.empty_lines..], bare_lf);
        self.empty_lines == self.buf.len()
    }

    /// Drops `n` consumed bytes.
    pub(crate) fn advance(&mut self, n: usize) {
        self.empty_lines = 0;
        self.buf.advance(n);
    }

    /// Takes the first `n` bytes out as a shared buffer, without copying.
    #[inline]
    pub(crate) fn split(&mut self, n: usize) -> Bytes {
        self.empty_lines = 0;
        self.buf.split_to(n).freeze()
    }

    /// Consumes `consumed` bytes and hands out the body data at `at..at +
    /// len` among them: a slice of the buffer, or a copy when the buffer has
    /// grown large (a big head, a client's 1 MiB one) and the piece is a
    /// small part of it, which a slice would keep alive whole for as long as
    /// the caller holds the piece.
    pub(crate) fn take_piece(&mut self, consumed: usize, at: usize, len: usize) -> Bytes {
        let allocated = self.allocated.max(self.buf.capacity());
        if allocated > PIECE_COPIED_FROM && len < allocated / 8 {
            let piece = Bytes::copy_from_slice(&self.buf[at..at + len]);
            self.advance(consumed);
            return piece;
        }
        self.split(consumed).slice(at..at + len)
    }

    /// Takes everything left, e.g. for the protocol a connection switched to:
    /// copied, as a slice of the buffer would hold all of its allocation for
    /// as long as the connection it is handed to lives (a tunnel, a
    /// WebSocket), where what is left is a few bytes or none.
    pub(crate) fn take_all(&mut self) -> Bytes {
        let rest = Bytes::copy_from_slice(&self.buf);
        *self = ReadBuf::default();
        rest
    }

    /// Frees the buffer's memory if it holds nothing, unless it is small: the
    /// next request then reuses it (once the last one's head is dropped)
    /// instead of allocating again.
    pub(crate) fn release(&mut self) {
        self.release_over(READ_KEPT);
    }

    /// [`release`](Self::release) of a buffer larger than an idle read
    /// makes (one a large head grew), keeping one that size: for a
    /// connection that waits on its service with nothing buffered, where
    /// freeing a usual small buffer would cost an allocation per request.
    pub(crate) fn release_large(&mut self) {
        self.release_over(IDLE_READ_SIZE);
    }

    /// For a buffer that still holds bytes (a request pipelined behind one
    /// being served) and that a large head grew past what usual reads do:
    /// those bytes move to a buffer of their own size, unless they fill most
    /// of it.
    pub(crate) fn release_large_keeping_rest(&mut self) {
        self.shrink_to_rest_over(READ_KEPT_WHILE_SERVING);
    }

    /// Moves what is buffered to a buffer of its own size (same bytes at the
    /// same offsets) when the allocation is larger than `kept` and those
    /// bytes fill at most half of it.
    fn shrink_to_rest_over(&mut self, kept: usize) {
        let allocated = self.allocated.max(self.buf.capacity());
        if allocated > kept && self.buf.len() <= allocated / 2 {
            self.buf = BytesMut::from(&self.buf[..]);
            self.allocated = self.buf.capacity();
        }
    }

    /// [`release`](Self::release), keeping a buffer of up to `kept` bytes.
    pub(crate) fn release_over(&mut self, kept: usize) {
        if self.buf.is_empty() && self.allocated.max(self.buf.capacity()) > kept {
            *self = ReadBuf::default();
        }
    }

    /// [`release`](Self::release) for a server connection parked between
    /// requests, whose buffer may still hold the empty lines a client may
    /// send after a request (RFC 9112 §2.2): those move to a buffer of their
    /// own size (same bytes at the same offsets), unless they fill most of
    /// it.
    pub(crate) fn release_parked(&mut self) {
        match self.buf.is_empty() {
            true => self.release(),
            false => self.shrink_to_rest_over(READ_KEPT),
        }
    }

    /// Makes room for `additional` more bytes, noting the allocation's size.
    fn reserve(&mut self, additional: usize) {
        let before = self.buf.as_ptr();
        self.buf.reserve(additional);
        self.allocated = match self.buf.as_ptr() == before {
            true => self.allocated.max(self.buf.capacity()),
            // A new allocation (the old one still held by what was split off
            // it, or too small): its size is all there is now.
            false => self.buf.capacity(),
        };
    }

    /// [`poll_fill_idle`](Self::poll_fill_idle) asking what is there now,
    /// not waiting for what may come: a transport may put off a read it
    /// expects to find nothing (`rt`'s server side does, the first after a
    /// short read, counting on readiness to wake the task), but asked again
    /// at once it reads. Bytes the reactor has not reported yet are found.
    pub(crate) fn poll_fill_now<T: AsyncRead + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        match self.poll_fill_idle(io, cx) {
            Poll::Pending => self.poll_fill_idle(io, cx),
            read => read,
        }
    }

    /// Reads once from `io` while the buffer is empty (or holds only empty
    /// lines), as a server connection parked between requests does, or one
    /// watching for a client gone, or a client awaiting a response or
    /// looking for a close while idle: the read
    /// lands in a scratch array shared by the thread and only what arrived is
    /// copied into a buffer, so a parked connection reads without holding a
    /// large buffer and a small message costs no zeroing of one.
    pub(crate) fn poll_fill_idle<T: AsyncRead + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        read_through_scratch(io, cx, |arrived| {
            if self.buf.capacity() - self.buf.len() < arrived.len() {
                // What arrived, rounded up: a small request gets a small
                // buffer, which the allocator serves from its fast
                // per-thread cache; a head that continues grows it.
                self.reserve(arrived.len().next_power_of_two().max(IDLE_BUFFER_MIN));
            }
            self.buf.extend_from_slice(arrived);
        })
    }

    /// Reads once from `io` and drops what came, and what was buffered, as
    /// a closing connection does with whatever the peer still sends: through
    /// the thread's scratch array, so that the linger holds no read buffer
    /// and costs no zeroing of one. `Ok(0)` is the end of the stream.
    pub(crate) fn poll_discard<T: AsyncRead + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        *self = ReadBuf::default();
        read_through_scratch(io, cx, |_| {})
    }

    /// Reads once from `io` into the buffer; `Ok(0)` is the end of the stream.
    pub(crate) fn poll_fill<T: AsyncRead + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let len = self.buf.len();
        if self.buf.capacity() - len < READ_SIZE / 4 {
            self.reserve(READ_SIZE);
        }
        let room = (self.buf.capacity() - len).min(READ_SIZE);
        self.buf.resize(len + room, 0);
        let result = Pin::new(io)
            .poll_read(cx, &mut self.buf[len..])
            .map(read_within(room));
        let got = match &result {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        self.buf.truncate(len + got);
        result
    }
}

/// A read's result, refused if it claims more bytes than the buffer it was
/// given (a transport breaking `AsyncRead`'s contract) rather than trusted.
fn read_within(room: usize) -> impl FnOnce(io::Result<usize>) -> io::Result<usize> {
    move |result| match result {
        Ok(n) if n > room => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the transport reported reading more bytes than it was given room for",
        )),
        other => other,
    }
}

/// One output buffer per thread (of at most 64 KiB) that no connection holds:
/// pipelined batches on the thread's connections take turns with it instead of
/// each growing (allocating and zeroing) a buffer and freeing it when it parks,
/// while a parked connection still holds at most [`OUTPUT_KEPT`] bytes.
mod spare_output {
    use core::cell::Cell;

    /// Larger buffers are freed rather than kept.
    const MAX: usize = 64 * 1024;

    thread_local! {
        static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    }

    /// Keeps `buf`, initialized bytes and all, unless the spare is larger or
    /// `buf` is over [`MAX`] (in initialized bytes: its allocation may be up
    /// to twice that, as vectors grow).
    pub(super) fn put(buf: Vec<u8>) {
        if buf.len() > MAX {
            return;
        }
        let _ = SPARE.try_with(|spare| {
            let held = spare.take();
            spare.set(if buf.len() > held.len() { buf } else { held });
        });
    }

    /// The spare, if it has `needed` initialized bytes.
    pub(super) fn take(needed: usize) -> Option<Vec<u8>> {
        SPARE
            .try_with(|spare| {
                let held = spare.take();
                if held.len() >= needed {
                    return Some(held);
                }
                spare.set(held);
                None
            })
            .ok()
            .flatten()
    }
}

/// Bytes serialized for the peer and not yet written.
///
/// `buf` is kept initialized up to its length, which only grows, and `end`
/// marks where the pending bytes stop: serializing a head into the room after
/// `end` costs no zeroing of that room, as resizing a vector for every head would.
#[derive(Debug, Default)]
pub(crate) struct Output {
    buf: Vec<u8>,
    /// Pending bytes are `buf[..end]`.
    end: usize,
    /// Bytes of `buf[..end]`, then of the data and suffix being sent with it,
    /// written so far.
    written: usize,
    /// How long writing has made no progress.
    stall: Stall,
    /// How a write failed or timed out: the transport is broken or stalled.
    failure: Option<Error>,
    /// Whether a send of a piece beside the queued bytes has begun and not
    /// finished: bytes queued now would go out before the rest of it.
    #[cfg(debug_assertions)]
    piece_in_flight: bool,
}

impl Output {
    /// Gives the next blocked write its whole timeout again.
    pub(crate) fn restart_stall(&mut self) {
        self.stall.progress();
    }

    /// The writes are over for now: the stall's timer goes, with the waker
    /// it holds, and the next blocked write gets its whole timeout.
    pub(crate) fn end_stall(&mut self) {
        self.stall = Stall::default();
    }

    /// Whether a blocked write has waited out its timeout by now (it times
    /// out when next polled).
    pub(crate) fn stall_has_expired(&self) -> bool {
        self.stall.has_expired()
    }

    /// Whether a write failed or timed out, after which writing again would
    /// only fail again, or wait out another timeout.
    pub(crate) fn has_failed(&self) -> bool {
        self.failure.is_some()
    }

    /// The error a write failed with, for a caller that finds it failed later.
    pub(crate) fn failure(&self) -> Option<Error> {
        self.failure.as_ref().map(Error::duplicate)
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.end - self.written.min(self.end)
    }

    /// Gives up the buffer's memory if nothing is pending, unless it is small:
    /// a larger one goes to the thread's spare, for the next connection that
    /// needs one.
    pub(crate) fn release(&mut self) {
        self.release_over(OUTPUT_KEPT);
    }

    /// [`release`](Self::release) of a buffer larger than a streamed body's
    /// pieces grow (a batch of pipelined answers grew it), for a connection
    /// whose service takes its time: a stream of small pieces keeps its
    /// buffer, rather than pass it through the thread's spare at every wait.
    pub(crate) fn release_large(&mut self) {
        self.release_over(OUTPUT_KEPT_WHILE_SERVING);
    }

    fn release_over(&mut self, kept: usize) {
        if self.end == 0 && self.buf.capacity() > kept {
            spare_output::put(core::mem::take(&mut self.buf));
        }
    }

    /// Room for `n` more bytes after `end`, initialized.
    fn room(&mut self, n: usize) -> &mut [u8] {
        // `poll_send` counts what it wrote across the queued bytes and the
        // piece after them: bytes queued mid-send would shift that count.
        #[cfg(debug_assertions)]
        debug_assert!(
            !self.piece_in_flight,
            "bytes queued before a piece in flight"
        );
        // Written bytes stay in front of the unsent ones until a send empties
        // the buffer, which a peer reading steadily a little behind never
        // lets happen: without this, every byte the connection wrote would be
        // held. The unsent ones move to the front once the written part is as
        // large as they are (the copy costs at most a byte per byte written),
        // or rather than grow the buffer (which would copy both). Not when all
        // is written: a flush may still be owed, and `end` must not say none is.
        let unsent = self.end.saturating_sub(self.written);
        if unsent > 0
            && self.written > 0
            && (self.written >= unsent || self.buf.len() < self.end + n)
        {
            self.buf.copy_within(self.written..self.end, 0);
            self.end = unsent;
            self.written = 0;
        }
        let needed = self.end + n;
        if self.buf.len() < needed {
            self.grow(needed);
        }
        &mut self.buf[self.end..needed]
    }

    #[cold]
    fn grow(&mut self, needed: usize) {
        // A batch of pipelined responses outgrows the buffer kept while
        // parked; the thread's spare, left by the connection that last
        // released one, is already initialized and costs no allocation.
        if let Some(mut spare) = spare_output::take(needed) {
            spare[..self.end].copy_from_slice(&self.buf[..self.end]);
            spare_output::put(core::mem::replace(&mut self.buf, spare));
            return;
        }
        // Grow geometrically, so a batch of responses zeroes each byte once,
        // from the size kept while parked.
        self.buf
            .resize(needed.max(2 * self.buf.len()).max(OUTPUT_KEPT), 0);
    }

    /// Appends bytes to send.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        // Bodies with a Content-Length have empty framing pieces: skip the copy call.
        if bytes.is_empty() {
            return;
        }
        self.room(bytes.len()).copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Queues the end of `conn`'s body, with `trailers` where the framing can
    /// carry them (chunked): each field that belongs in the header section
    /// is left out (said at debug level), and all of them if one is not a
    /// valid field, with a warning; the message is whole either way.
    pub(crate) fn queue_end(
        &mut self,
        conn: &mut Connection,
        trailers: Option<&Headers>,
    ) -> Result<(), SendError> {
        if let Some(trailers) = trailers.filter(|t| !t.is_empty()) {
            let (fields, refused): (Vec<Header<'_>>, Vec<Header<'_>>) = trailers
                .iter()
                .map(|(name, value)| Header { name, value })
                .partition(|field| !is_header_section_only(field.name));
            if !refused.is_empty() {
                // At debug level: a proxy passing a client's trailers on
                // passes on what the client chose to send.
                let names: Vec<&str> = refused.iter().map(|field| field.name).collect();
                log::debug!(
                    "lithe: trailer fields left out: {} belong in the header section",
                    names.join(", ")
                );
            }
            match self.serialize(|b| conn.send_end(&fields, b)) {
                Ok(_) => return Ok(()),
                // A length, or close-delimited: nowhere to put them, as
                // `Body::with_trailers` says; said here too, as the rest are.
                Err(SendError::TrailersNotAllowed) => {
                    log::debug!("lithe: trailer fields left out: the body is not chunked");
                }
                // Past OUTGOING_HEAD_LIMIT too: left out, the message whole.
                Err(
                    e @ (SendError::InvalidHeaderName
                    | SendError::InvalidHeaderValue
                    | SendError::HeadTooLarge { .. }),
                ) => {
                    log::warn!("lithe: trailer fields left out: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        self.serialize(|b| conn.send_end(&[], b)).map(|_| ())
    }

    /// Accounts for `data` as the next piece of `conn`'s body and queues it with
    /// its framing. Small pieces are copied next to what is pending (one write
    /// later); for a large one only the prefix is queued and the suffix returned:
    /// send the data itself with [`poll_send`](Output::poll_send), uncopied.
    pub(crate) fn queue_data(
        &mut self,
        conn: &mut Connection,
        data: &[u8],
    ) -> Result<Option<&'static [u8]>, SendError> {
        let frame = conn.send_data(data)?;
        self.extend(frame.prefix.as_bytes());
        if data.len() > COALESCE {
            return Ok(Some(frame.suffix));
        }
        self.extend(data);
        self.extend(frame.suffix);
        Ok(None)
    }

    /// Appends what `write` serializes, growing the room it gets until it fits.
    pub(crate) fn serialize(
        &mut self,
        mut write: impl FnMut(&mut [u8]) -> Result<usize, SendError>,
    ) -> Result<usize, SendError> {
        // Room for a typical head; a larger one is retried at the size it
        // needs, up to a bound: past it the head is refused, not allocated
        // (a size proto cannot even count comes as `usize::MAX`).
        let mut room = 256;
        loop {
            match write(self.room(room)) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(SendError::BufferTooSmall { needed })
                    if needed > room && needed <= OUTGOING_HEAD_LIMIT =>
                {
                    room = needed
                }
                // Past the bound (or a size proto cannot count): our limit,
                // not a buffer the caller could make larger.
                Err(SendError::BufferTooSmall { needed }) if needed > OUTGOING_HEAD_LIMIT => {
                    return Err(SendError::HeadTooLarge {
                        limit: OUTGOING_HEAD_LIMIT,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`poll_send`](Output::poll_send), failing with [`Timeout::Write`] once
    /// writing has blocked for `limit` in all without `floor` bytes going out
    /// (see [`Stall::moved`]).
    pub(crate) fn poll_send_within<T: AsyncWrite + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
        data: &[u8],
        suffix: &[u8],
        limit: Option<Duration>,
        floor: u64,
    ) -> Poll<Result<(), Error>> {
        // Nothing buffered at all: written bytes whose flush is still pending
        // (`end` > 0 with everything written, over TLS) must be flushed again.
        if self.end == 0 && data.is_empty() && suffix.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let before = self.written;
        let sent = self.poll_send(io, cx, data, suffix);
        if sent.is_ready() {
            self.stall.progress();
        } else if self.written != before {
            self.stall.moved(self.written.saturating_sub(before), floor);
        }
        let result = match sent {
            Poll::Ready(result) => result.map_err(Error::Io),
            Poll::Pending if self.stall.poll_stalled(cx, limit) => {
                Err(Error::Timeout(Timeout::Write))
            }
            Poll::Pending => return Poll::Pending,
        };
        if let (Err(e), None) = (&result, &self.failure) {
            self.failure = Some(e.duplicate());
        }
        Poll::Ready(result)
    }

    /// Writes everything buffered, then `data`, then `suffix`, in as few
    /// (vectored) writes as the transport allows. Call again with the same
    /// arguments until it is ready.
    pub(crate) fn poll_send<T: AsyncWrite + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
        data: &[u8],
        suffix: &[u8],
    ) -> Poll<io::Result<()>> {
        let sent = self.poll_write_all(io, cx, data, suffix);
        #[cfg(debug_assertions)]
        {
            // After an error nothing more goes out: only a pending piece counts.
            self.piece_in_flight = sent.is_pending() && !(data.is_empty() && suffix.is_empty());
        }
        sent
    }

    /// [`poll_send`](Output::poll_send) itself, without the debug check.
    #[inline(always)]
    fn poll_write_all<T: AsyncWrite + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
        data: &[u8],
        suffix: &[u8],
    ) -> Poll<io::Result<()>> {
        loop {
            let parts = [&self.buf[..self.end], data, suffix];
            let total: usize = parts.iter().map(|p| p.len()).sum();
            if self.written >= total {
                // Transports that buffer (TLS) write out on flush.
                match Pin::new(&mut *io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
                self.end = 0;
                self.written = 0;
                return Poll::Ready(Ok(()));
            }
            let mut skip = self.written;
            let mut slices = [io::IoSlice::new(&[]); 3];
            let mut count = 0;
            for part in parts {
                if skip >= part.len() {
                    skip -= part.len();
                    continue;
                }
                slices[count] = io::IoSlice::new(&part[skip..]);
                skip = 0;
                count += 1;
            }
            match Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                // Counted as written, the bytes past what was offered would be
                // bytes of the message never sent, reported sent: a message
                // cut short, or an overflow of the count.
                Poll::Ready(Ok(n)) if n > total - self.written => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the transport reported writing more bytes than it was given",
                    )));
                }
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A read's result, a TLS peer that left without close_notify (most clients
/// do, dropping the connection; some servers and load balancers closing an
/// idle one too) taken as one that closed, as over plain TCP: for reads
/// where a close cannot end a message unseen (between messages; in a
/// request, which has its length or chunks, so proto finds it incomplete),
/// never for a response that ends at the close.
pub(crate) fn closed_without_notify_as_end(read: io::Result<usize>) -> io::Result<usize> {
    match read {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        other => other,
    }
}

/// Closes `io`'s sending side (over TLS, its closure alert first), waiting
/// no longer than `limit` (without one, as long as it takes) on `timer`:
/// `None` once that has passed.
pub(crate) async fn close_within<T: AsyncWrite + Unpin>(
    io: &mut T,
    limit: Option<Duration>,
    timer: &mut Deadline,
) -> Option<io::Result<()>> {
    let deadline = limit.and_then(|limit| Instant::now().checked_add(limit));
    futures_lite::future::poll_fn(|cx| match Pin::new(&mut *io).poll_close(cx) {
        Poll::Ready(closed) => Poll::Ready(Some(closed)),
        Poll::Pending if deadline.is_some_and(|at| timer.poll_expired(cx, at)) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await
}

/// A timer armed lazily and re-armed rarely: while deadlines keep moving later,
/// the registered timer stays put, and when it fires early it is re-armed for the
/// real deadline. A busy keep-alive connection thus touches the timer wheel about
/// once per timeout period, not once per request.
#[derive(Debug, Default)]
pub(crate) struct Deadline {
    timer: Option<(Instant, Timer)>,
}

impl Deadline {
    /// Whether `deadline` has passed; if not, the task is woken when it may have.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>, deadline: Instant) -> bool {
        let (at, timer) = self
            .timer
            .get_or_insert_with(|| (deadline, Timer::at(deadline)));
        if *at > deadline {
            timer.set_at(deadline);
            *at = deadline;
        }
        loop {
            if Pin::new(&mut *timer).poll(cx).is_pending() {
                return false;
            }
            if Instant::now() >= deadline {
                self.timer = None;
                return true;
            }
            timer.set_at(deadline);
            *at = deadline;
        }
    }
}

/// A timeout on waiting without progress: the clock runs while a wait is
/// blocked and restarts at each [`progress`](Stall::progress), or once
/// enough bytes have [`moved`](Stall::moved).
#[derive(Debug, Default)]
pub(crate) struct Stall {
    deadline: Deadline,
    /// The wait under way: when it began to block, and when it times out.
    wait: Option<(Instant, Instant)>,
    /// Time spent blocked since the last progress, in waits that ended.
    waited: Duration,
    /// Bytes moved since the last progress.
    moved: u64,
}

impl Stall {
    /// The transfer ended or moved enough: the next wait gets a fresh limit.
    pub(crate) fn progress(&mut self) {
        self.wait = None;
        self.waited = Duration::ZERO;
        self.moved = 0;
    }

    /// `n` bytes moved. Progress once `floor` bytes have since the last: a
    /// peer that trickles a byte just often enough does not reset the clock,
    /// which counts the time spent waiting on it meanwhile.
    pub(crate) fn moved(&mut self, n: usize, floor: u64) {
        if let Some((began, _)) = self.wait.take() {
            self.waited = self.waited.saturating_add(began.elapsed());
        }
        self.moved = self.moved.saturating_add(n as u64);
        if self.moved >= floor {
            self.progress();
        }
    }

    /// Whether the wait under way has passed its limit.
    pub(crate) fn has_expired(&self) -> bool {
        self.wait.is_some_and(|(_, until)| Instant::now() >= until)
    }

    /// Whether waiting has blocked for `limit` since the last progress
    /// (never, without one); if not, the task is woken when it may have.
    pub(crate) fn poll_stalled(&mut self, cx: &mut Context<'_>, limit: Option<Duration>) -> bool {
        let Some(limit) = limit else { return false };
        let until = match self.wait {
            Some((_, until)) => until,
            None => {
                let now = Instant::now();
                // A limit past what the clock can count is none.
                match now.checked_add(limit.saturating_sub(self.waited)) {
                    Some(until) => self.wait.insert((now, until)).1,
                    None => return false,
                }
            }
        };
        self.deadline.poll_expired(cx, until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer emptied by splitting off what it read keeps only a small
    /// allocation while parked: `capacity` then counts only the room left
    /// after the split, which says nothing about the allocation's size.
    #[test]
    fn a_parked_buffer_gives_back_a_large_allocation_whatever_room_is_left() {
        let mut cx = Context::from_waker(core::task::Waker::noop());
        for (arrived, kept) in [(40, true), (300, true), (1900, false), (2000, false)] {
            let mut buf = ReadBuf::default();
            let mut io = futures_lite::io::Cursor::new(vec![b'x'; arrived]);
            let read = buf.poll_fill_idle(&mut io, &mut cx);
            assert!(matches!(read, Poll::Ready(Ok(n)) if n == arrived));
            drop(buf.split(arrived));
            buf.release();
            assert_eq!(buf.buf.capacity() > 0, kept, "{arrived} bytes read");
        }
    }

    /// Empty lines arriving a few bytes at a time are judged from where the
    /// last look stopped, with the verdict a look at all of them gives; what
    /// is consumed starts the count again.
    #[test]
    fn empty_lines_are_judged_from_where_the_last_look_stopped() {
        // A look at everything from the start.
        let all_empty_lines =
            |input: &[u8], bare_lf| proto::empty_lines_len(input, bare_lf) == input.len();
        let mut cx = Context::from_waker(core::task::Waker::noop());
        let pieces: [&[u8]; 7] = [b"\r", b"\n\r\n", b"\r", b"\n\n", b"\r\n", b"G", b"\r\n"];
        for bare_lf in [false, true] {
            let mut buf = ReadBuf::default();
            for piece in pieces {
                let mut io = futures_lite::io::Cursor::new(piece);
                assert!(matches!(
                    buf.poll_fill(&mut io, &mut cx),
                    Poll::Ready(Ok(_))
                ));
                let expected = all_empty_lines(buf.filled(), bare_lf);
                assert_eq!(buf.holds_only_empty_lines(bare_lf), expected, "{piece:?}");
                // Where the look stopped: past whole empty lines only.
                let known = &buf.filled()[..buf.empty_lines];
                assert!(all_empty_lines(known, bare_lf), "{piece:?}");
            }
            // `\r\n\r\n\r\n`, then `\n` (LF alone) stops a strict look.
            assert_eq!(buf.empty_lines, if bare_lf { 9 } else { 6 });
            drop(buf.split(1));
            assert_eq!(buf.empty_lines, 0);
            assert!(!buf.holds_only_empty_lines(bare_lf));
        }
        // Advancing past bytes starts the count again too (a count left
        // past the end would slice out of bounds).
        let mut buf = ReadBuf::default();
        let mut io = futures_lite::io::Cursor::new(b"\r\n\r\n");
        assert!(matches!(
            buf.poll_fill(&mut io, &mut cx),
            Poll::Ready(Ok(4))
        ));
        assert!(buf.holds_only_empty_lines(false));
        buf.advance(2);
        assert_eq!(buf.empty_lines, 0);
        assert!(buf.holds_only_empty_lines(false));
        assert_eq!(buf.empty_lines, 2);
    }
}
