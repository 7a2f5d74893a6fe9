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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_lite::{StreamExt, future::block_on};

    use super::*;

    /// Answers each read with the next scripted result (a count of bytes
    /// claimed, of `b'r'`, or an error), counting the reads; then fails.
    struct Scripted {
        script: VecDeque<io::Result<usize>>,
        reads: Arc<AtomicUsize>,
    }

    impl AsyncRead for Scripted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let next = self.script.pop_front();
            Poll::Ready(match next {
                Some(Ok(n)) => {
                    let len = buf.len();
                    buf[..n.min(len)].fill(b'r');
                    Ok(n)
                }
                Some(Err(e)) => Err(e),
                None => Err(io::Error::other("read past the script")),
            })
        }
    }

    fn stream_of(script: Vec<io::Result<usize>>) -> (ReadStream<Scripted>, Arc<AtomicUsize>) {
        let reads = Arc::new(AtomicUsize::new(0));
        let reader = Scripted {
            script: script.into(),
            reads: reads.clone(),
        };
        (ReadStream::new(reader), reads)
    }

    #[test]
    fn the_reader_is_not_read_again_after_its_end_or_an_error() {
        let (mut stream, reads) = stream_of(vec![Ok(2), Ok(0)]);
        block_on(async {
            assert_eq!(stream.next().await.unwrap().unwrap(), &b"rr"[..]);
            assert!(stream.next().await.is_none());
            assert!(stream.next().await.is_none());
        });
        assert_eq!(reads.load(Ordering::SeqCst), 2);

        let (mut stream, reads) = stream_of(vec![Err(io::Error::other("disk"))]);
        block_on(async {
            assert_eq!(
                stream.next().await.unwrap().unwrap_err().to_string(),
                "disk"
            );
            assert!(stream.next().await.is_none());
        });
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_reader_with_more_to_give_fills_pieces_of_64_kib() {
        let mut stream = ReadStream::new(futures_lite::io::Cursor::new(vec![7u8; 200_000]));
        let sizes: Vec<usize> = block_on(async {
            let mut sizes = Vec::new();
            while let Some(piece) = stream.next().await {
                sizes.push(piece.unwrap().len());
            }
            sizes
        });
        assert_eq!(sizes, [65_536, 65_536, 65_536, 3_392]);
    }

    #[test]
    fn an_interrupted_read_is_asked_again() {
        let interrupted = io::Error::from(io::ErrorKind::Interrupted);
        let (mut stream, reads) = stream_of(vec![Err(interrupted), Ok(3), Ok(0)]);
        block_on(async {
            assert_eq!(stream.next().await.unwrap().unwrap(), &b"rrr"[..]);
            assert!(stream.next().await.is_none());
        });
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_reader_claiming_more_than_it_was_given_is_an_error_and_the_end() {
        let (mut stream, reads) = stream_of(vec![Ok(PIECE + 1)]);
        block_on(async {
            let error = stream.next().await.unwrap().unwrap_err();
            assert!(error.to_string().contains("claimed"), "{error}");
            assert!(stream.next().await.is_none());
        });
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
