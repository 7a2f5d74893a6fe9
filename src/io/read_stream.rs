//! A reader (a file, a pipe, another connection) as a stream of body pieces:
//! what [`Body::from_reader`](super::Body::from_reader) sends.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;

use bytes::Bytes;
use futures_io::AsyncRead;
use futures_lite::Stream;

/// The most one read asks for: a file streams in pieces of this size, as
/// the connection takes them.
pub(crate) const PIECE: usize = 64 * 1024;

/// Reads its reader into pieces until the end or the first error, after
/// which it ends: a reader asked again after a failure may fail for ever
/// (or, worse, go on from a wrong place), so it is not asked again.
pub(crate) struct ReadStream<R> {
    /// `None` once the end or an error has been met.
    reader: Option<Pin<Box<R>>>,
    /// Where each read lands, zeroed once and kept: a piece is a copy of
    /// what the read brought, so the buffer is never handed out.
    scratch: Box<[u8]>,
}

impl<R> ReadStream<R> {
    pub(crate) fn new(reader: R) -> Self {
        ReadStream {
            reader: Some(Box::pin(reader)),
            // Allocated at the first read: a body never sent costs none.
            scratch: Box::default(),
        }
    }
}

impl<R: AsyncRead> Stream for ReadStream<R> {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(reader) = this.reader.as_mut() else {
            return Poll::Ready(None);
        };
        if this.scratch.is_empty() {
            this.scratch = vec![0; PIECE].into_boxed_slice();
        }
        loop {
            return match reader.as_mut().poll_read(cx, &mut this.scratch) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    this.reader = None;
                    Poll::Ready(None)
                }
                Poll::Ready(Ok(n)) if n <= PIECE => {
                    Poll::Ready(Some(Ok(Bytes::copy_from_slice(&this.scratch[..n]))))
                }
                Poll::Ready(Ok(n)) => {
                    this.reader = None;
                    Poll::Ready(Some(Err(io::Error::other(format!(
                        "the reader claimed {n} bytes of a {PIECE}-byte read"
                    )))))
                }
                // A read interrupted by a signal is asked again.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Poll::Ready(Err(e)) => {
                    this.reader = None;
                    Poll::Ready(Some(Err(e)))
                }
            };
        }
    }
}
