//! Protocol switches: handing the raw connection, and the bytes already read past
//! the HTTP head, to whoever takes over (WebSocket, a CONNECT tunnel).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::io;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};
use futures_io::{AsyncRead, AsyncWrite};

use super::error::Error;
use super::headers::Headers;

/// A byte stream both ways: what a connection runs over.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Transport for T {}

/// A connection after a protocol switch: reads return the bytes that followed the
/// HTTP head first, then the transport's.
///
/// No timeout of lithe's applies to it any more: the new protocol sets its
/// own (as with hyper's). `close` ends the sending side alone (a TCP
/// half-close, after TLS's `close_notify`), and reading goes on; dropping it
/// closes both ways (over TLS without `close_notify`).
pub struct Upgraded {
    io: Box<dyn Transport>,
    read_buf: Bytes,
}

impl Upgraded {
    /// Wraps `io`, whose first bytes to read are `read_buf`.
    pub fn new(io: Box<dyn Transport>, read_buf: Bytes) -> Self {
        Upgraded { io, read_buf }
    }

    /// The transport and the bytes read from it but not yet consumed.
    pub fn into_parts(self) -> (Box<dyn Transport>, Bytes) {
        (self.io, self.read_buf)
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("buffered", &self.read_buf.len())
            .finish()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if !self.read_buf.is_empty() {
            let n = buf.len().min(self.read_buf.len());
            buf[..n].copy_from_slice(&self.read_buf[..n]);
            self.read_buf.advance(n);
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

/// Where an upgrade stands, for its waiter; beside it, the waiter's waker.
type Shared = Arc<Mutex<(Handoff, Option<Waker>)>>;

/// What the driver has handed to the waiter of an upgrade.
#[derive(Default)]
enum Handoff {
    /// Nothing yet: the response is not sent.
    #[default]
    Awaited,
    /// The connection, or why there is none, not taken yet.
    Sent(Result<Upgraded, Error>),
    /// Handed out: polled again, nothing more will come.
    Taken,
}

/// Resolves to the [`Upgraded`] connection once the server driver has sent the
/// response that switches protocols, or to [`Error::NotUpgraded`].
pub struct OnUpgrade {
    // The one field (whether the outcome was handed out is kept with it): a
    // request holds an `Option<OnUpgrade>`, and one pointer keeps the request
    // within the 128 bytes a move copies inline.
    shared: Shared,
}

impl OnUpgrade {
    pub(crate) fn pair() -> (OnUpgrade, UpgradeSender) {
        let shared: Shared = Arc::default();
        (
            OnUpgrade {
                shared: shared.clone(),
            },
            UpgradeSender {
                shared: Some(shared),
            },
        )
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnUpgrade")
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        match core::mem::replace(&mut s.0, Handoff::Taken) {
            Handoff::Sent(result) => Poll::Ready(result),
            Handoff::Taken => Poll::Ready(Err(Error::NotUpgraded)),
            Handoff::Awaited => {
                s.0 = Handoff::Awaited;
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for OnUpgrade {
    /// A waiter that gives up lets go of its waker: the exchange may go on
    /// long after (a streamed answer that does not switch), and a waker
    /// keeps its task's allocation. Dropped with the lock released.
    fn drop(&mut self) {
        let waker = self
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .take();
        drop(waker);
    }
}

/// The driver's end: sends the connection, or, dropped unsent, says no switch.
pub(crate) struct UpgradeSender {
    shared: Option<Shared>,
}

impl UpgradeSender {
    pub(crate) fn send(mut self, upgraded: Upgraded) {
        self.finish(Ok(upgraded));
    }

    fn finish(&mut self, result: Result<Upgraded, Error>) {
        if let Some(shared) = self.shared.take() {
            let waker = {
                let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
                s.0 = Handoff::Sent(result);
                s.1.take()
            };
            // Woken after the lock is released, which the woken task takes.
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl Drop for UpgradeSender {
    fn drop(&mut self) {
        self.finish(Err(Error::NotUpgraded));
    }
}

/// Whether every protocol the response's Upgrade fields name is one the
/// request `offered` (its Upgrade values, joined by commas), compared
/// without regard to case (RFC 9110 §7.8: a server switches only to one
/// offered). A 101 without an Upgrade field passes here and is proto's to
/// refuse.
pub(crate) fn offers_every_protocol(offered: Option<&[u8]>, response: &Headers) -> bool {
    let offered = offered.unwrap_or_default();
    // A set of the offers, not a search of them for each protocol named: a
    // service that echoes a long offer would pay their product (a 101 is
    // once a connection, so the allocations do not matter).
    let offers: std::collections::HashSet<Vec<u8>> = crate::proto::framing::list(offered)
        .map(<[u8]>::to_ascii_lowercase)
        .collect();
    response
        .elements("upgrade")
        .all(|chosen| offers.contains(&chosen.to_ascii_lowercase()))
}

/// [`offers_every_protocol`], and the response names one at least: a 101
/// the driver can send (proto refuses one without an Upgrade field).
pub(crate) fn switches_to_an_offered_protocol(offered: Option<&[u8]>, response: &Headers) -> bool {
    response.elements("upgrade").next().is_some() && offers_every_protocol(offered, response)
}
