//! An in-memory, bidirectional byte pipe: two connected [`DuplexStream`]s, for
//! tests and for running a client and a server in one process without sockets.

use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_io::{AsyncRead, AsyncWrite};

/// One direction: bytes written and not yet read (`bytes[read..]`), at most
/// `capacity` of them.
#[derive(Debug)]
struct Pipe {
    bytes: Vec<u8>,
    read: usize,
    capacity: usize,
    closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

fn lock(pipe: &Mutex<Pipe>) -> MutexGuard<'_, Pipe> {
    pipe.lock().unwrap_or_else(|p| p.into_inner())
}

/// One end of an in-memory pipe made by [`duplex`].
#[derive(Debug)]
pub struct DuplexStream {
    read: Arc<Mutex<Pipe>>,
    write: Arc<Mutex<Pipe>>,
}

/// Two connected streams: what one writes the other reads. Each direction buffers
/// at most `capacity` bytes; writers wait beyond that (backpressure). A
/// `capacity` of 0 is taken as 1 (nothing could ever be written). Closing or
/// dropping one end is the end of the stream for the other.
///
/// ```
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// # futures_lite::future::block_on(async {
/// let (mut a, mut b) = lithe::io::duplex(16);
/// a.write_all(b"ping").await.unwrap();
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf).await.unwrap();
/// assert_eq!(&buf, b"ping");
///
/// // No room at all is room for a byte at a time.
/// let (mut a, mut b) = lithe::io::duplex(0);
/// let write = async { a.write_all(b"ok").await.unwrap() };
/// let read = async { b.read_exact(&mut buf[..2]).await.unwrap() };
/// futures_lite::future::zip(write, read).await;
/// assert_eq!(&buf[..2], b"ok");
/// # });
/// ```
pub fn duplex(capacity: usize) -> (DuplexStream, DuplexStream) {
    let pipe = || {
        Arc::new(Mutex::new(Pipe {
            bytes: Vec::new(),
            read: 0,
            capacity: capacity.max(1),
            closed: false,
            reader: None,
            writer: None,
        }))
    };
    let (ab, ba) = (pipe(), pipe());
    (
        DuplexStream {
            read: ba.clone(),
            write: ab.clone(),
        },
        DuplexStream {
            read: ab,
            write: ba,
        },
    )
}

impl AsyncRead for DuplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        // An empty read never waits, as std's `Read` promises.
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut pipe = lock(&self.read);
        let available = pipe.bytes.len() - pipe.read;
        if available == 0 {
            if pipe.closed {
                return Poll::Ready(Ok(0));
            }
            pipe.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(available);
        let start = pipe.read;
        buf[..n].copy_from_slice(&pipe.bytes[start..start + n]);
        pipe.read += n;
        if pipe.read == pipe.bytes.len() {
            pipe.bytes.clear();
            pipe.read = 0;
        }
        let writer = pipe.writer.take();
        // Woken once the lock is released: a woken task on another thread
        // would otherwise wait on it straight away.
        drop(pipe);
        if let Some(w) = writer {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for DuplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = lock(&self.write);
        if pipe.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        // A full pipe makes no empty write wait: std's never does.
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = pipe.capacity - (pipe.bytes.len() - pipe.read);
        if room == 0 {
            pipe.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        if pipe.read > 0 {
            // Keep the unread bytes at the front so the buffer stays within capacity.
            let read = pipe.read;
            pipe.bytes.drain(..read);
            pipe.read = 0;
        }
        pipe.bytes.extend_from_slice(&buf[..n]);
        let reader = pipe.reader.take();
        drop(pipe);
        if let Some(w) = reader {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        close(&self.write);
        Poll::Ready(Ok(()))
    }
}

fn close(pipe: &Mutex<Pipe>) {
    let mut pipe = lock(pipe);
    pipe.closed = true;
    let waiting = [pipe.reader.take(), pipe.writer.take()];
    drop(pipe);
    for w in waiting.into_iter().flatten() {
        w.wake();
    }
}

impl Drop for DuplexStream {
    fn drop(&mut self) {
        close(&self.write);
        close(&self.read);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::task::Wake;
    use std::time::Duration;

    /// Reads from the stream it was woken for, from inside `wake`, as an
    /// executor that runs a woken task inline does.
    struct ReadOnWake {
        stream: Mutex<DuplexStream>,
        got: mpsc::Sender<Vec<u8>>,
    }

    impl Wake for ReadOnWake {
        fn wake(self: Arc<Self>) {
            let mut stream = self.stream.lock().unwrap();
            let mut cx = Context::from_waker(Waker::noop());
            let mut buf = [0u8; 8];
            if let Poll::Ready(Ok(n)) = Pin::new(&mut *stream).poll_read(&mut cx, &mut buf) {
                let _ = self.got.send(buf[..n].to_vec());
            }
        }
    }

    /// Sets its flag when woken.
    struct Flag(std::sync::atomic::AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A writer waiting for room in a full pipe is woken when the reading end
    /// goes, and told the pipe is broken, not left waiting.
    #[test]
    fn a_writer_waiting_for_room_hears_when_the_reader_goes() {
        let (mut writer, reader) = duplex(1);
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let wrote = Pin::new(&mut writer).poll_write(&mut cx, b"a");
        assert!(matches!(wrote, Poll::Ready(Ok(1))), "{wrote:?}");
        assert!(Pin::new(&mut writer).poll_write(&mut cx, b"b").is_pending());
        drop(reader);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        let wrote = Pin::new(&mut writer).poll_write(&mut cx, b"b");
        assert!(
            matches!(&wrote, Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe),
            "{wrote:?}"
        );
    }

    /// Writes to the stream it was woken for, from inside `wake`.
    struct WriteOnWake {
        stream: Mutex<DuplexStream>,
        wrote: mpsc::Sender<usize>,
    }

    impl Wake for WriteOnWake {
        fn wake(self: Arc<Self>) {
            let mut stream = self.stream.lock().unwrap();
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(Ok(n)) = Pin::new(&mut *stream).poll_write(&mut cx, b"c") {
                let _ = self.wrote.send(n);
            }
        }
    }

    /// As [`a_woken_reader_finds_the_pipe_unlocked`], for a writer waiting
    /// for room that a read makes.
    #[test]
    fn a_woken_writer_finds_the_pipe_unlocked() {
        let (wrote, written) = mpsc::channel();
        std::thread::spawn(move || {
            let (writer, mut reader) = duplex(2);
            let state = Arc::new(WriteOnWake {
                stream: Mutex::new(writer),
                wrote,
            });
            let waker = Waker::from(state.clone());
            {
                // The pipe is full: the writer waits, leaving its waker.
                let mut stream = state.stream.lock().unwrap();
                let mut cx = Context::from_waker(&waker);
                let full = Pin::new(&mut *stream).poll_write(&mut cx, b"ab");
                assert!(matches!(full, Poll::Ready(Ok(2))));
                assert!(
                    Pin::new(&mut *stream)
                        .poll_write(&mut cx, b"c")
                        .is_pending()
                );
            }
            let mut buf = [0u8; 2];
            let mut cx = Context::from_waker(Waker::noop());
            let read = Pin::new(&mut reader).poll_read(&mut cx, &mut buf);
            assert!(matches!(read, Poll::Ready(Ok(2))));
        });
        let n = written.recv_timeout(Duration::from_secs(5));
        assert_eq!(n.expect("the woken writer wrote"), 1);
    }

    /// The pipe's lock is released before a waiting task is woken: a waker
    /// that polls the pipe at once finds it free (it deadlocked before).
    #[test]
    fn a_woken_reader_finds_the_pipe_unlocked() {
        let (got, arrived) = mpsc::channel();
        // On a thread of its own, so that a deadlock fails the test.
        std::thread::spawn(move || {
            let (mut writer, reader) = duplex(16);
            let state = Arc::new(ReadOnWake {
                stream: Mutex::new(reader),
                got,
            });
            let waker = Waker::from(state.clone());
            {
                // Nothing to read yet: the reader waits, leaving its waker.
                let mut stream = state.stream.lock().unwrap();
                let mut buf = [0u8; 8];
                let read =
                    Pin::new(&mut *stream).poll_read(&mut Context::from_waker(&waker), &mut buf);
                assert!(read.is_pending());
            }
            let mut cx = Context::from_waker(Waker::noop());
            let wrote = Pin::new(&mut writer).poll_write(&mut cx, b"hi");
            assert!(matches!(wrote, Poll::Ready(Ok(2))));
        });
        let read = arrived.recv_timeout(Duration::from_secs(5));
        assert_eq!(read.expect("the woken reader read"), b"hi");
    }

    /// Empty reads and writes return at once, as std's do: a read with
    /// nothing buffered, a write to a full pipe.
    #[test]
    fn empty_reads_and_writes_return_at_once() {
        let (mut a, mut b) = duplex(1);
        let mut cx = Context::from_waker(Waker::noop());
        let read = Pin::new(&mut b).poll_read(&mut cx, &mut []);
        assert!(matches!(read, Poll::Ready(Ok(0))), "{read:?}");
        let write = Pin::new(&mut a).poll_write(&mut cx, b"x");
        assert!(matches!(write, Poll::Ready(Ok(1))), "{write:?}");
        let write = Pin::new(&mut a).poll_write(&mut cx, b"");
        assert!(matches!(write, Poll::Ready(Ok(0))), "{write:?}");
        // What was written is still there to read.
        let mut byte = [0u8];
        let read = Pin::new(&mut b).poll_read(&mut cx, &mut byte);
        assert!(
            matches!(read, Poll::Ready(Ok(1))) && byte == *b"x",
            "{read:?}"
        );
    }

    /// A read shorter than what is buffered takes its start and leaves the
    /// rest, in order and no more, to the next read; a write after such a
    /// read comes after that rest, with room for as much as the rest leaves.
    #[test]
    fn a_short_read_leaves_the_rest_for_the_next() {
        fn read(stream: &mut DuplexStream, len: usize) -> Vec<u8> {
            let mut buf = vec![0; len];
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(stream).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(n)) => buf[..n].to_vec(),
                other => panic!("{other:?}"),
            }
        }
        fn write(stream: &mut DuplexStream, bytes: &[u8]) -> usize {
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(stream).poll_write(&mut cx, bytes) {
                Poll::Ready(Ok(n)) => n,
                other => panic!("{other:?}"),
            }
        }
        let (mut a, mut b) = duplex(16);
        assert_eq!(write(&mut a, b"hello world"), 11);
        assert_eq!(read(&mut b, 5), b"hello");
        // Six unread bytes of sixteen: room for ten.
        assert_eq!(write(&mut a, b"!0123456789abc"), 10);
        assert_eq!(read(&mut b, 2), b" w");
        assert_eq!(read(&mut b, 64), b"orld!012345678");
    }

    /// A write larger than the room left is taken in part, as a socket's
    /// is (the drivers' partial-write paths depend on it); then it waits.
    #[test]
    fn a_write_larger_than_the_room_is_partial() {
        let (mut a, _b) = duplex(4);
        let mut cx = Context::from_waker(Waker::noop());
        let first = Pin::new(&mut a).poll_write(&mut cx, b"abcdef");
        assert!(matches!(first, Poll::Ready(Ok(4))), "{first:?}");
        let then = Pin::new(&mut a).poll_write(&mut cx, b"ef");
        assert!(then.is_pending(), "{then:?}");
    }

    /// A close is the end of the stream after the bytes written before it,
    /// and closes one way only: the other end still writes back; once that
    /// end is dropped, writing to it fails.
    #[test]
    fn a_close_ends_one_way_after_the_bytes_before_it() {
        let (mut a, mut b) = duplex(16);
        let mut cx = Context::from_waker(Waker::noop());
        let mut buf = [0u8; 8];
        let wrote = Pin::new(&mut a).poll_write(&mut cx, b"abc");
        assert!(matches!(wrote, Poll::Ready(Ok(3))), "{wrote:?}");
        let closed = Pin::new(&mut a).poll_close(&mut cx);
        assert!(matches!(closed, Poll::Ready(Ok(()))), "{closed:?}");
        let read = Pin::new(&mut b).poll_read(&mut cx, &mut buf);
        assert!(
            matches!(read, Poll::Ready(Ok(3))) && buf[..3] == *b"abc",
            "{read:?}"
        );
        let end = Pin::new(&mut b).poll_read(&mut cx, &mut buf);
        assert!(matches!(end, Poll::Ready(Ok(0))), "{end:?}");
        let wrote_back = Pin::new(&mut b).poll_write(&mut cx, b"x");
        assert!(matches!(wrote_back, Poll::Ready(Ok(1))), "{wrote_back:?}");
        let back = Pin::new(&mut a).poll_read(&mut cx, &mut buf);
        assert!(
            matches!(back, Poll::Ready(Ok(1))) && buf[0] == b'x',
            "{back:?}"
        );
        drop(a);
        let broken = Pin::new(&mut b).poll_write(&mut cx, b"y");
        assert!(
            matches!(&broken, Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe),
            "{broken:?}"
        );
    }
}
