//! An in-memory transport for the driver benchmarks, usable by lithe (futures-io)
//! and hyper (tokio) alike.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// A peer in memory: what it sends is handed out `read_size` bytes per read,
/// what it is sent is counted (and kept, when checking it).
///
/// Once the input is used up, reads stay pending, as a peer with nothing more
/// to say leaves them.
pub struct Memory {
    input: &'static [u8],
    read_size: usize,
    /// Every byte written, when checking what a server answers.
    capture: Option<Arc<Mutex<Vec<u8>>>>,
    /// For a peer that answers: the bytes it may send before it is written to
    /// again (each write, a request, earns one `read_size` piece); `None` for
    /// one that sends everything as soon as it is read.
    owed: Option<usize>,
    /// The task waiting for an answer.
    reader: Option<Waker>,
}

impl Memory {
    pub fn new(
        input: &'static [u8],
        read_size: usize,
        capture: Option<Arc<Mutex<Vec<u8>>>>,
    ) -> Memory {
        Memory {
            input,
            read_size,
            capture,
            owed: None,
            reader: None,
        }
    }

    /// A peer that answers each write (a request) with the next `read_size`
    /// bytes of `input`, and sends nothing before it is asked.
    #[allow(
        dead_code,
        reason = "the client benchmark's peer; the server's is `new`"
    )]
    pub fn answering(
        input: &'static [u8],
        read_size: usize,
        capture: Option<Arc<Mutex<Vec<u8>>>>,
    ) -> Memory {
        Memory {
            owed: Some(0),
            ..Memory::new(input, read_size, capture)
        }
    }

    fn wrote<'a>(&mut self, bufs: impl Iterator<Item = &'a [u8]>) -> usize {
        if let Some(owed) = &mut self.owed {
            *owed += self.read_size;
            if let Some(reader) = self.reader.take() {
                reader.wake();
            }
        }
        let mut n = 0;
        for buf in bufs {
            n += buf.len();
            if let Some(capture) = &self.capture {
                capture.lock().unwrap().extend_from_slice(buf);
            }
        }
        n
    }

    /// The next bytes a read of up to `room` bytes gets, taken from the
    /// input; pending (the task to be woken) when there are none yet. The
    /// caller copies them: each side into its own kind of buffer, so that
    /// neither pays for preparing one (tokio's `initialize_unfilled` zeroes
    /// all of the uninitialised room hyper hands over, which a socket read
    /// never does).
    fn next_piece(&mut self, cx: &mut Context<'_>, room: usize) -> Poll<&'static [u8]> {
        let allowed = self.owed.unwrap_or(usize::MAX);
        if self.input.is_empty() || allowed == 0 {
            self.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(self.read_size).min(self.input.len()).min(allowed);
        let (piece, rest) = self.input.split_at(n);
        self.input = rest;
        if let Some(owed) = &mut self.owed {
            *owed -= n;
        }
        Poll::Ready(piece)
    }
}

impl futures_io::AsyncRead for Memory {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.next_piece(cx, buf.len()).map(|piece| {
            buf[..piece.len()].copy_from_slice(piece);
            Ok(piece.len())
        })
    }
}

impl futures_io::AsyncWrite for Memory {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.wrote(std::iter::once(buf))))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.wrote(bufs.iter().map(|b| &b[..]))))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncRead for Memory {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let piece = std::task::ready!(self.next_piece(cx, buf.remaining()));
        buf.put_slice(piece);
        Poll::Ready(Ok(()))
    }
}

/// hyper's side reads and writes through the same code as lithe's.
impl tokio::io::AsyncWrite for Memory {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(self, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_close(self, cx)
    }
}
