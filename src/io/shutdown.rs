//! Graceful shutdown: a signal that tells connection drivers to finish the
//! request in flight and then close, instead of waiting for another; and a
//! call that closes only the connections idle at that moment, to make room.

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use event_listener::{Event, EventListener};

/// A shutdown signal shared by many connections. Cloning shares it.
///
/// ```
/// use lithe::io::Shutdown;
/// let signal = Shutdown::new();
/// let seen_by_a_connection = signal.clone();
/// signal.trigger();
/// assert!(seen_by_a_connection.is_triggered());
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    /// Calls of [`Shutdown::close_idle`] (and `close_some_idle`) so far,
    /// counted before `event` is notified.
    idle_closes: AtomicU64,
    /// How many more idle connections the last of those calls may close.
    idle_tickets: AtomicUsize,
    /// Calls notifying `event` at the moment: event-listener publishes how
    /// many listeners are fired and unread only once a notify is done.
    notifying: AtomicUsize,
    event: Event,
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Asks every connection watching this signal to stop after its current request.
    pub fn trigger(&self) {
        self.inner.triggered.store(true, Ordering::SeqCst);
        self.notify_all();
    }

    /// Wakes every listener, counted as notifying meanwhile (a waker that
    /// panics included: left counted, every driver would poll its listener
    /// at every wait from then on).
    fn notify_all(&self) {
        struct Notifying<'a>(&'a AtomicUsize);
        impl Drop for Notifying<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.inner.notifying.fetch_add(1, Ordering::SeqCst);
        let _counted = Notifying(&self.inner.notifying);
        self.inner.event.notify(usize::MAX);
    }

    /// Asks every connection watching this signal that is idle now (waiting
    /// between requests, or connected with nothing sent yet; a TLS handshake
    /// in progress is not watched) to close, leaving those busy with a
    /// request alone; the signal itself stays as it was, so a connection
    /// that goes idle later is not affected. A
    /// [`Server`](crate::rt::Server) at its connection limit closes some of
    /// them this way to make room (`ServeConfig::max_connections`). A client
    /// may find its idle connection closed at any time (RFC 9112 §9.5), and
    /// reconnects.
    ///
    /// ```
    /// use lithe::io::Shutdown;
    /// let signal = Shutdown::new();
    /// signal.close_idle();
    /// assert!(!signal.is_triggered());
    /// ```
    pub fn close_idle(&self) {
        self.close_some_idle(usize::MAX);
    }

    /// [`close_idle`](Shutdown::close_idle), closing at most `n` of them:
    /// the first to take their turn, which are, as listeners are woken in
    /// the order they were made, roughly the longest connected, after those
    /// an earlier call found busy.
    pub(crate) fn close_some_idle(&self, n: usize) {
        self.inner.idle_tickets.store(n, Ordering::SeqCst);
        self.inner.idle_closes.fetch_add(1, Ordering::SeqCst);
        self.notify_all();
    }

    /// How many of the `n` idle connections the last close_idle allows to
    /// close have not (yet) closed.
    #[cfg(feature = "server")]
    pub(crate) fn idle_tickets_left(&self) -> usize {
        self.inner.idle_tickets.load(Ordering::SeqCst)
    }

    /// How many times [`close_idle`](Shutdown::close_idle) was called: a
    /// connection idle since fewer calls may close.
    pub(crate) fn idle_closes(&self) -> u64 {
        self.inner.idle_closes.load(Ordering::SeqCst)
    }

    /// Whether an idle connection asked to close may: one of the `n` the
    /// last call allows.
    pub(crate) fn take_idle_ticket(&self) -> bool {
        self.inner
            .idle_tickets
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Whether [`trigger`](Shutdown::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// Completes once the signal is triggered.
    pub async fn triggered(&self) {
        loop {
            if self.is_triggered() {
                return;
            }
            let listener = self.listen();
            if self.is_triggered() {
                return;
            }
            listener.await;
        }
    }

    /// Whether a listener of this signal may have been fired and not yet
    /// polled since: until then, one whose connection relies on it to be
    /// woken may be that one. Two atomic loads: event-listener counts the
    /// listeners fired and unread (the notification a listener dropped
    /// unread passes on included) but publishes the count only once a
    /// notify is done, so a notify in progress counts too.
    pub(crate) fn has_unread_wake(&self) -> bool {
        self.inner.notifying.load(Ordering::SeqCst) > 0 || self.inner.event.is_notified()
    }

    /// A listener woken by [`trigger`](Shutdown::trigger) and by
    /// [`close_idle`](Shutdown::close_idle); check
    /// [`is_triggered`](Shutdown::is_triggered) after creating it.
    pub(crate) fn listen(&self) -> EventListener {
        self.inner.event.listen()
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}
