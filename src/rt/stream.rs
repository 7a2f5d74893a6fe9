//! [`TcpStream`], a TCP connection whose server side skips the read syscall
//! it knows would block, and [`MaybeTls`]: a TCP connection, plain or wrapped
//! in TLS, as one stream type.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io::{self, Read};
use std::net;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use smol::Async;

#[cfg(all(target_os = "linux", feature = "server"))]
use super::reactor::{Direction, Orphaned, Reactor, Source};

/// A TCP connection on smol's reactor, or, for a connection a server worker
/// accepted on Linux, on the worker's own edge-triggered epoll set
/// (see `rt::reactor`).
///
/// A connection a server accepted remembers when a read came back short,
/// which means the kernel's receive buffer was empty, and the next read that
/// finds no readiness waits for it instead of issuing a read that would fail
/// with `WouldBlock`: one system call less per request on a keep-alive
/// connection. Any other read makes the system call, so that a read polled
/// to learn what is there now (a client's look for a server's close) learns
/// it, whether or not the reactor has reported it yet.
#[derive(Debug)]
pub struct TcpStream {
    repr: Repr,
}

#[derive(Debug)]
enum Repr {
    Async {
        io: OnSmol,
        maybe_readable: bool,
        skip: SkipAfterShortRead,
    },
    #[cfg(all(target_os = "linux", feature = "server"))]
    Worker(WorkerStream),
}

/// A socket on smol's reactor.
#[derive(Debug)]
enum OnSmol {
    /// Registered there from the start.
    Own(Arc<Async<net::TcpStream>>),
    /// Moved off a stopped worker: the socket the worker's stream held, not a
    /// duplicate (a process at its descriptor limit has none to spare), shared
    /// while it is registered so that a failed registration leaves it there.
    #[cfg(all(target_os = "linux", feature = "server"))]
    Moved(Async<Arc<net::TcpStream>>),
}

impl OnSmol {
    fn get_ref(&self) -> &net::TcpStream {
        match self {
            OnSmol::Own(io) => io.get_ref(),
            #[cfg(all(target_os = "linux", feature = "server"))]
            OnSmol::Moved(io) => io.get_ref(),
        }
    }

    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            OnSmol::Own(io) => io.poll_readable(cx),
            #[cfg(all(target_os = "linux", feature = "server"))]
            OnSmol::Moved(io) => io.poll_readable(cx),
        }
    }

    #[cfg(target_os = "linux")]
    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            OnSmol::Own(io) => io.poll_writable(cx),
            #[cfg(all(target_os = "linux", feature = "server"))]
            OnSmol::Moved(io) => io.poll_writable(cx),
        }
    }
}

/// Whether a read that finds the socket not ready may be skipped: only the
/// first after a short read, on a connection a server accepted. That one is
/// most often the connection going back to wait for its next request. A
/// later one was woken by something other than the socket (a shutdown, a
/// request to close if idle) and asks what is there now: bytes the reactor
/// has not reported yet must not be taken for none, or a request already
/// sent would be closed over (a reset) rather than served. Where `io` asks
/// what is there now before any wait (a shutdown seen as a response ends,
/// a refused CONNECT), it reads again at once after a `Pending`, and that
/// read is made.
#[derive(Clone, Copy, Debug)]
struct SkipAfterShortRead {
    enabled: bool,
    armed: bool,
}

impl SkipAfterShortRead {
    const NEVER: SkipAfterShortRead = SkipAfterShortRead {
        enabled: false,
        armed: false,
    };
    #[cfg(feature = "server")]
    const ONCE: SkipAfterShortRead = SkipAfterShortRead {
        enabled: true,
        armed: false,
    };

    /// A read returned `n` bytes of the `asked`.
    fn after_read(&mut self, n: usize, asked: usize) {
        self.armed = self.enabled && n > 0 && n < asked;
    }

    /// Whether to skip this read, which disarms it.
    fn take(&mut self) -> bool {
        core::mem::replace(&mut self.armed, false)
    }
}

impl TcpStream {
    /// The socket.
    pub fn get_ref(&self) -> &net::TcpStream {
        match &self.repr {
            Repr::Async { io, .. } => io.get_ref(),
            #[cfg(all(target_os = "linux", feature = "server"))]
            Repr::Worker(stream) => &stream.io,
        }
    }

    /// With `on`, makes the closing of this connection's descriptor (at its
    /// drop) abortive: a reset (TCP `SO_LINGER` of zero; a `poll_close`
    /// before it still sends a FIN, and over TLS a close_notify), which
    /// tells the peer that what it got was cut short, as a clean close cannot
    /// for a body that ends at the close; unsent bytes are dropped. Off, the
    /// close is a clean one again. Linux only (rustix is a dependency there
    /// alone); elsewhere the close stays clean.
    #[cfg(feature = "server")]
    pub(crate) fn reset_on_close(&mut self, on: bool) {
        // Best effort: a socket that refuses it is closed as usual.
        #[cfg(target_os = "linux")]
        let _ = rustix::net::sockopt::set_socket_linger(
            self.get_ref(),
            on.then_some(std::time::Duration::ZERO),
        );
        #[cfg(not(target_os = "linux"))]
        let _ = on;
    }

    /// A connection watched by a server worker's reactor.
    #[cfg(all(target_os = "linux", feature = "server"))]
    pub(crate) fn on_worker(io: net::TcpStream, reactor: &Reactor) -> io::Result<TcpStream> {
        use std::os::fd::AsFd;
        io.set_nonblocking(true)?;
        let source = reactor.register(io.as_fd())?;
        Ok(TcpStream {
            repr: Repr::Worker(WorkerStream {
                io: Arc::new(io),
                source,
                skip: SkipAfterShortRead::ONCE,
            }),
        })
    }

    /// A connection a server accepted, on smol's reactor.
    #[cfg(feature = "server")]
    pub(crate) fn accepted(io: Async<net::TcpStream>) -> TcpStream {
        TcpStream {
            repr: Repr::Async {
                io: OnSmol::Own(Arc::new(io)),
                maybe_readable: true,
                skip: SkipAfterShortRead::ONCE,
            },
        }
    }

    /// Completes once a read would not wait: the peer has sent something,
    /// which stays unread, or has closed. A server tells by it a connection
    /// that has sent nothing yet, so has nothing in flight.
    #[cfg(all(feature = "server", feature = "tls"))]
    // Off Linux the loop has one arm, which returns (as in `poll_read`).
    #[cfg_attr(not(target_os = "linux"), allow(clippy::never_loop))]
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.repr {
                Repr::Async { io, .. } => return poll_readable_async(io, cx),
                #[cfg(target_os = "linux")]
                Repr::Worker(stream) => match stream.poll_readable(cx) {
                    Ok(ready) => return ready,
                    Err(Orphaned) => {
                        if let Err(e) = self.leave_worker() {
                            return Poll::Ready(Err(e));
                        }
                    }
                },
            }
        }
    }

    /// The worker that watched this connection has stopped: it moves to smol's
    /// reactor. (Should that registration fail, it stays where it is, and the
    /// next operation tries again.)
    #[cfg(all(target_os = "linux", feature = "server"))]
    fn leave_worker(&mut self) -> io::Result<()> {
        let Repr::Worker(stream) = &self.repr else {
            return Ok(());
        };
        let io = Async::new(stream.io.clone())?;
        // The worker's stream, dropped here, stops watching the socket and lets
        // go of its share.
        self.repr = Repr::Async {
            io: OnSmol::Moved(io),
            maybe_readable: true,
            skip: SkipAfterShortRead::ONCE,
        };
        Ok(())
    }
}

impl From<Async<net::TcpStream>> for TcpStream {
    fn from(io: Async<net::TcpStream>) -> Self {
        TcpStream {
            repr: Repr::Async {
                io: OnSmol::Own(Arc::new(io)),
                maybe_readable: true,
                skip: SkipAfterShortRead::NEVER,
            },
        }
    }
}

impl From<smol::net::TcpStream> for TcpStream {
    fn from(stream: smol::net::TcpStream) -> Self {
        TcpStream {
            repr: Repr::Async {
                io: OnSmol::Own(stream.into()),
                maybe_readable: true,
                skip: SkipAfterShortRead::NEVER,
            },
        }
    }
}

/// Reads from a socket on smol's reactor, skipping a read known to block
/// where `skip` allows.
fn poll_read_async(
    io: &OnSmol,
    maybe_readable: &mut bool,
    skip: &mut SkipAfterShortRead,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let mut tried = false;
    loop {
        if !*maybe_readable {
            match io.poll_readable(cx) {
                Poll::Ready(Ok(())) => *maybe_readable = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if tried || skip.take() => return Poll::Pending,
                // Read anyway, once (the task is woken at readiness all the same).
                Poll::Pending => {}
            }
        }
        tried = true;
        match io.get_ref().read(buf) {
            Ok(n) => {
                *maybe_readable = n == buf.len() && n > 0;
                skip.after_read(n, buf.len());
                return Poll::Ready(Ok(n));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *maybe_readable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// [`TcpStream::poll_readable`] on smol's reactor.
#[cfg(all(feature = "server", feature = "tls"))]
fn poll_readable_async(io: &OnSmol, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    loop {
        match io.get_ref().peek(&mut [0]) {
            Ok(_) => return Poll::Ready(Ok(())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Poll::Ready(Err(e)),
        }
        match io.poll_readable(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
}

impl AsyncRead for TcpStream {
    // Without the worker reactor (client-only builds, other systems) the
    // loop has one arm, which returns.
    #[cfg_attr(
        not(all(target_os = "linux", feature = "server")),
        allow(clippy::never_loop)
    )]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match &mut this.repr {
                Repr::Async {
                    io,
                    maybe_readable,
                    skip,
                } => {
                    return poll_read_async(io, maybe_readable, skip, cx, buf);
                }
                #[cfg(all(target_os = "linux", feature = "server"))]
                Repr::Worker(stream) => match stream.poll_read(cx, buf) {
                    Ok(read) => return read,
                    Err(Orphaned) => {
                        if let Err(e) = this.leave_worker() {
                            return Poll::Ready(Err(e));
                        }
                    }
                },
            }
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    // Without the worker reactor (client-only builds, other systems) the
    // loop has one arm, which returns.
    #[cfg_attr(
        not(all(target_os = "linux", feature = "server")),
        allow(clippy::never_loop)
    )]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match &mut this.repr {
                Repr::Async { io, .. } => return poll_write_async(io, cx, bufs),
                #[cfg(all(target_os = "linux", feature = "server"))]
                Repr::Worker(stream) => match stream.poll_write_vectored(cx, bufs) {
                    Ok(written) => return written,
                    Err(Orphaned) => {
                        if let Err(e) = this.leave_worker() {
                            return Poll::Ready(Err(e));
                        }
                    }
                },
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the socket.
        Poll::Ready(Ok(()))
    }

    /// Shuts down the sending side: the peer reads the end of the stream while
    /// we may still read what it sends.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(match self.get_ref().shutdown(net::Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}

/// A connection on a server worker's reactor. Its operations report
/// [`Orphaned`] once the worker is gone; [`TcpStream`] then moves it to smol's
/// reactor.
#[cfg(all(target_os = "linux", feature = "server"))]
#[derive(Debug)]
struct WorkerStream {
    /// Shared only while the stream moves off a stopped worker.
    io: Arc<net::TcpStream>,
    source: Arc<Source>,
    skip: SkipAfterShortRead,
}

#[cfg(all(target_os = "linux", feature = "server"))]
impl WorkerStream {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Result<Poll<io::Result<usize>>, Orphaned> {
        let mut tried = false;
        loop {
            let tick = match self.source.poll_ready(Direction::Read, cx) {
                Poll::Ready(tick) => Some(tick?),
                Poll::Pending if tried || self.skip.take() => return Ok(Poll::Pending),
                // Read anyway, once: bytes may have come that the worker has
                // not polled epoll for yet (the task is woken at their edge
                // all the same).
                Poll::Pending => None,
            };
            tried = true;
            match (&*self.io).read(buf) {
                Ok(n) => {
                    // Edge-triggered: a short read drained the socket, so the
                    // next read waits for the next edge instead of failing.
                    if let Some(tick) = tick.filter(|_| n < buf.len() && n > 0) {
                        self.source.drained(tick);
                    }
                    self.skip.after_read(n, buf.len());
                    return Ok(Poll::Ready(Ok(n)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(tick) = tick {
                        self.source.clear(Direction::Read, tick);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Ok(Poll::Ready(Err(e))),
            }
        }
    }

    /// [`TcpStream::poll_readable`] on the worker's reactor: a look at the
    /// socket, once, even where the worker has seen no edge yet.
    #[cfg(feature = "tls")]
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Result<Poll<io::Result<()>>, Orphaned> {
        let mut tried = false;
        loop {
            let tick = match self.source.poll_ready(Direction::Read, cx) {
                Poll::Ready(tick) => Some(tick?),
                Poll::Pending if tried => return Ok(Poll::Pending),
                Poll::Pending => None,
            };
            tried = true;
            match self.io.peek(&mut [0]) {
                Ok(_) => return Ok(Poll::Ready(Ok(()))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(tick) = tick {
                        self.source.clear(Direction::Read, tick);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Ok(Poll::Ready(Err(e))),
            }
        }
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Result<Poll<io::Result<usize>>, Orphaned> {
        loop {
            let tick = match self.source.poll_ready(Direction::Write, cx) {
                Poll::Ready(tick) => tick?,
                Poll::Pending => return Ok(Poll::Pending),
            };
            match send_vectored(&self.io, bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.source.clear(Direction::Write, tick);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return Ok(Poll::Ready(other)),
            }
        }
    }
}

/// Writes to a socket on smol's reactor: with [`send_vectored`] on Linux, so
/// that a peer gone away is an error, never a `SIGPIPE` (async-io's vectored
/// write is a writev(2), which raises one, and a host that has not ignored
/// the signal dies of it).
fn poll_write_async(
    io: &OnSmol,
    cx: &mut Context<'_>,
    bufs: &[io::IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    #[cfg(target_os = "linux")]
    loop {
        match send_vectored(io.get_ref(), bufs) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return Poll::Ready(other),
        }
        match io.poll_writable(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Off Linux nothing moves off a worker: the socket is smol's own.
        let OnSmol::Own(io) = io;
        Pin::new(&mut &**io).poll_write_vectored(cx, bufs)
    }
}

/// Writes with send(2) or sendmsg(2) rather than writev(2), with `MSG_NOSIGNAL`:
/// a write through the file layer also takes the file-position lock and posts
/// an fsnotify event, work a socket never needs, on every response, and raises
/// `SIGPIPE` when the peer has gone.
#[cfg(target_os = "linux")]
fn send_vectored(io: &net::TcpStream, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendFlags, send, sendmsg};
    // More slices than IOV_MAX fail with EMSGSIZE, where writev(2) through
    // std writes part: the first IOV_MAX go now, the rest in the next write.
    const IOV_MAX: usize = 1024;
    let bufs = &bufs[..bufs.len().min(IOV_MAX)];
    let sent = match bufs {
        [] => Ok(0),
        [only] => send(io, only, SendFlags::NOSIGNAL),
        _ => sendmsg(
            io,
            bufs,
            &mut SendAncillaryBuffer::default(),
            SendFlags::NOSIGNAL,
        ),
    };
    sent.map_err(io::Error::from)
}

#[cfg(all(target_os = "linux", feature = "server"))]
impl Drop for WorkerStream {
    fn drop(&mut self) {
        use std::os::fd::AsFd;
        self.source.deregister(self.io.as_fd());
    }
}

/// A TCP stream, with or without TLS. (The TLS variants exist with the
/// `tls` feature, which any crate in a build may turn on: a match needs a
/// wildcard arm.)
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTls {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP, client side.
    #[cfg(feature = "tls")]
    Tls(Box<futures_rustls::client::TlsStream<TcpStream>>),
    /// TLS over TCP, server side.
    #[cfg(feature = "tls")]
    TlsServer(Box<futures_rustls::server::TlsStream<TcpStream>>),
}

impl MaybeTls {
    /// The TCP stream under any TLS: say, to learn which of a host's
    /// addresses [`open`](super::open) reached
    /// (`conn.get_ref().tcp().get_ref().peer_addr()`).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTls::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => tls.get_ref().0,
            #[cfg(feature = "tls")]
            MaybeTls::TlsServer(tls) => tls.get_ref().0,
        }
    }

    /// The TLS session over the stream, if any (rustls' view of it): the
    /// peer's certificates, the protocol ALPN chose, the TLS version.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&rustls::CommonState> {
        let state: &rustls::CommonState = match self {
            MaybeTls::Plain(_) => return None,
            MaybeTls::Tls(tls) => tls.get_ref().1,
            MaybeTls::TlsServer(tls) => tls.get_ref().1,
        };
        Some(state)
    }

    /// The host name a TLS client asked for by SNI, on a server's stream:
    /// `None` for a plain stream, a client's, or a client that sent none
    /// (one connecting by IP address).
    #[cfg(feature = "tls")]
    pub fn server_name(&self) -> Option<&str> {
        match self {
            MaybeTls::TlsServer(tls) => tls.get_ref().1.server_name(),
            _ => None,
        }
    }
}

#[cfg(feature = "server")]
impl MaybeTls {
    /// See [`TcpStream::reset_on_close`].
    pub(crate) fn reset_on_close(&mut self, on: bool) {
        match self {
            MaybeTls::Plain(tcp) => tcp.reset_on_close(on),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(tls) => tls.get_mut().0.reset_on_close(on),
            #[cfg(feature = "tls")]
            MaybeTls::TlsServer(tls) => tls.get_mut().0.reset_on_close(on),
        }
    }
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MaybeTls::Plain($s) => $e,
            #[cfg(feature = "tls")]
            MaybeTls::Tls($s) => $e,
            #[cfg(feature = "tls")]
            MaybeTls::TlsServer($s) => $e,
        }
    };
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_close(cx))
    }
}

#[cfg(all(test, target_os = "linux", feature = "server"))]
mod tests {
    use std::io::Write;
    use std::net::{Shutdown, TcpListener};
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use futures_io::AsyncRead;

    use super::TcpStream;
    use crate::rt::reactor::Reactor;

    /// A connection accepted onto `reactor`: the peer's end, a duplicate of
    /// the accepted descriptor (to peek at what has arrived), the stream.
    fn on_worker(reactor: &Reactor) -> (std::net::TcpStream, std::net::TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let probe = accepted.try_clone().unwrap();
        (
            peer,
            probe,
            TcpStream::on_worker(accepted, reactor).unwrap(),
        )
    }

    /// One poll of a read into 64 bytes: how many came, `None` if pending.
    fn read_now(stream: &mut TcpStream) -> Option<usize> {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(stream).poll_read(&mut cx, &mut [0u8; 64]) {
            Poll::Ready(result) => Some(result.unwrap()),
            Poll::Pending => None,
        }
    }

    #[test]
    fn an_end_of_stream_reported_with_the_last_data_is_read() {
        let reactor = Reactor::new().unwrap();
        let (mut peer, _, mut stream) = on_worker(&reactor);
        // Nothing has arrived: the stream learns that reads block.
        assert_eq!(read_now(&mut stream), None);

        // The data and the end of the stream both arrive before the worker
        // looks, so one edge-triggered event reports them together.
        peer.write_all(b"last words").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        reactor.wait(Some(Duration::from_secs(1))).unwrap();

        assert_eq!(read_now(&mut stream), Some(10));
        assert_eq!(
            read_now(&mut stream),
            Some(0),
            "the end of the stream was lost"
        );
    }

    /// Waits until `n` bytes (or the end of the stream, for 0) can be read
    /// from `socket`, without reading them or touching any reactor.
    fn wait_for_bytes(socket: &std::net::TcpStream, n: usize) {
        let mut seen = vec![0u8; n.max(1)];
        let started = std::time::Instant::now();
        loop {
            match socket.peek(&mut seen) {
                Ok(got) if (n == 0 && got == 0) || (n > 0 && got >= n) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nothing arrived"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A client's stream reads what is there when polled, whatever the
    /// reactor has reported: a close that came after a short read is found
    /// by the next poll (the look for a close before reusing a connection).
    #[test]
    fn a_client_stream_reads_without_waiting_for_readiness() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client_side = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let probe = client_side.try_clone().unwrap();
        let mut stream = TcpStream::from(smol::Async::new(client_side).unwrap());
        peer.write_all(b"answer").unwrap();
        wait_for_bytes(&probe, 6);
        assert_eq!(read_now(&mut stream), Some(6));
        peer.shutdown(Shutdown::Write).unwrap();
        wait_for_bytes(&probe, 0);
        assert_eq!(read_now(&mut stream), Some(0));
    }

    /// A server's stream skips the first read that finds no readiness after
    /// a short read, and no other: bytes the worker has not polled epoll for
    /// are read by the next poll.
    #[test]
    fn a_server_stream_skips_one_read_after_a_short_one() {
        let reactor = Reactor::new().unwrap();
        let (mut peer, probe, mut stream) = on_worker(&reactor);
        skips_one_read_after_a_short_one(&mut peer, &probe, &mut stream, || {
            reactor.wait(Some(Duration::from_secs(1))).unwrap();
        });
    }

    /// A short read of "first", then "second" comes: the next poll is
    /// skipped, whatever has come since, and the one after reads, though
    /// no reactor has reported it (`events` runs one before the first read).
    fn skips_one_read_after_a_short_one(
        peer: &mut std::net::TcpStream,
        probe: &std::net::TcpStream,
        stream: &mut TcpStream,
        events: impl Fn(),
    ) {
        peer.write_all(b"first").unwrap();
        wait_for_bytes(probe, 5);
        events();
        assert_eq!(read_now(stream), Some(5));
        peer.write_all(b"second").unwrap();
        wait_for_bytes(probe, 6);
        assert_eq!(read_now(stream), None);
        assert_eq!(read_now(stream), Some(6));
    }

    /// The same skip on smol's reactor, where a server's connections go when
    /// no worker reactor can be had (or its worker has stopped).
    #[test]
    fn an_async_io_server_stream_skips_one_read_after_a_short_one() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let probe = accepted.try_clone().unwrap();
        let mut stream = TcpStream::accepted(smol::Async::new(accepted).unwrap());
        skips_one_read_after_a_short_one(&mut peer, &probe, &mut stream, || {});
    }

    /// A server's stream dropped while its socket lives on (a duplicate
    /// kept elsewhere) is no longer watched by its worker: bytes that reach
    /// the socket wake nobody, not the stream that took its place.
    #[test]
    fn a_dropped_server_stream_leaves_its_socket_unwatched() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct CountsWakes(AtomicUsize);
        impl std::task::Wake for CountsWakes {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let reactor = Reactor::new().unwrap();
        let (mut peer, kept, stream) = on_worker(&reactor);
        drop(stream);
        let (_other_peer, _, mut other) = on_worker(&reactor);
        let wakes = Arc::new(CountsWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        // Once the registration's own edges are in, the stream waits, its
        // waker left with the worker.
        reactor.wait(Some(Duration::from_millis(20))).unwrap();
        let mut buf = [0u8; 64];
        assert!(
            Pin::new(&mut other)
                .poll_read(&mut cx, &mut buf)
                .is_pending()
        );
        peer.write_all(b"x").unwrap();
        wait_for_bytes(&kept, 1);
        for _ in 0..5 {
            reactor.wait(Some(Duration::from_millis(20))).unwrap();
        }
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    }

    /// More slices than `sendmsg` takes at once: the first part goes, and
    /// the rest in later writes, in order (not `EMSGSIZE`).
    #[test]
    fn a_vectored_write_past_iov_max_goes_in_part() {
        use futures_io::AsyncWrite;
        use std::io::{IoSlice, Read};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client_side = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let mut stream = TcpStream::from(smol::Async::new(client_side).unwrap());
        let bytes: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        let mut written = 0;
        while written < bytes.len() {
            let slices: Vec<IoSlice<'_>> = bytes[written..].chunks(1).map(IoSlice::new).collect();
            let mut cx = Context::from_waker(Waker::noop());
            match Pin::new(&mut stream).poll_write_vectored(&mut cx, &slices) {
                Poll::Ready(Ok(n)) => {
                    assert!((1..=1024).contains(&n), "{n} of {}", slices.len());
                    written += n;
                }
                other => panic!("{other:?}"),
            }
        }
        let mut received = vec![0u8; bytes.len()];
        peer.read_exact(&mut received).unwrap();
        assert_eq!(received, bytes);
    }
}
