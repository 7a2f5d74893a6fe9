//! A transport wrapper for the client's tests: reads that wait until the
//! client has written, as a server answers only once asked.

/// `peer`, whose reads wait until something is written to it: a server
/// that answers only once asked. (A transport readable before any request
/// holds bytes sent unasked, and the client refuses it unsent.)
pub struct OnceAsked<T> {
    peer: T,
    asked: bool,
    reader: Option<std::task::Waker>,
}

impl<T> OnceAsked<T> {
    pub fn new(peer: T) -> Self {
        OnceAsked {
            peer,
            asked: false,
            reader: None,
        }
    }
}

impl<T: futures_lite::AsyncRead + Unpin> futures_lite::AsyncRead for OnceAsked<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if !self.asked {
            self.reader = Some(cx.waker().clone());
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.peer).poll_read(cx, buf)
    }
}

impl<T: futures_lite::AsyncWrite + Unpin> futures_lite::AsyncWrite for OnceAsked<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.asked = true;
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
        std::pin::Pin::new(&mut self.peer).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.peer).poll_flush(cx)
    }
    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.peer).poll_close(cx)
    }
}
