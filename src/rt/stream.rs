//! [`TcpStream`], a TCP connection that skips the read syscall it knows would
//! block, and [`MaybeTls`]: a TCP connection, plain or wrapped in TLS, as one
//! stream type.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io::{self, Read};
use std::net;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use smol::Async;

/// A TCP connection on smol's reactor.
///
/// Unlike smol's own, it remembers when a read came back short, which means the
/// kernel's receive buffer was empty, and then waits for readiness instead of
/// issuing a read that would fail with `WouldBlock`: one system call less per
/// request on a keep-alive connection.
#[derive(Debug)]
pub struct TcpStream {
    io: Arc<Async<net::TcpStream>>,
    maybe_readable: bool,
}

impl TcpStream {
    /// The socket.
    pub fn get_ref(&self) -> &net::TcpStream {
        self.io.get_ref()
    }
}

impl From<Async<net::TcpStream>> for TcpStream {
    fn from(io: Async<net::TcpStream>) -> Self {
        TcpStream {
            io: Arc::new(io),
            maybe_readable: true,
        }
    }
}

impl From<smol::net::TcpStream> for TcpStream {
    fn from(stream: smol::net::TcpStream) -> Self {
        TcpStream {
            io: stream.into(),
            maybe_readable: true,
        }
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if !self.maybe_readable {
                match self.io.poll_readable(cx) {
                    Poll::Ready(Ok(())) => self.maybe_readable = true,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            match self.io.get_ref().read(buf) {
                Ok(n) => {
                    self.maybe_readable = n == buf.len() && n > 0;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.maybe_readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
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
        Pin::new(&mut &*self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.io).poll_flush(cx)
    }

    /// Flushes, then shuts down the sending side: the peer reads the end of
    /// the stream while we may still read what it sends.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut &*self.io).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        Poll::Ready(match self.io.get_ref().shutdown(net::Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}

/// A TCP stream, with or without TLS.
#[derive(Debug)]
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
