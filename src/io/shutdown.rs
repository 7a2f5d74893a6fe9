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
    /// A signal whose trigger is this one's too, seen at once (a worker's
    /// signal, whose wake-ups a task passes on, reads the server's flag):
    /// `None` for a signal of its own.
    parent: Option<Shutdown>,
    /// Calls of [`Shutdown::close_idle`] and `close_some_idle` so far, counted
    /// before `event` is notified: all of them in the low half, those of
    /// `close_idle` alone in the high half, so that one load tells a
    /// connection both whether it was asked and whether it was asked without
    /// a cap (which a capped call just after must not take back).
    idle_closes: AtomicU64,
    /// How many more idle connections the last `close_some_idle` may close.
    idle_tickets: AtomicUsize,
    /// Connections closed as asked so far, by either kind of call.
    idle_closed: AtomicUsize,
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

    /// A signal of its own (its `close_idle` rounds, its listeners) that is
    /// triggered whenever `parent` is: [`is_triggered`](Shutdown::is_triggered)
    /// reads the parent's flag too, so a response begun after the parent's
    /// trigger says it is the last, before anything wakes this signal's
    /// listeners (whoever made it passes the parent's wake-ups on).
    #[cfg(feature = "server")]
    pub(crate) fn child_of(parent: &Shutdown) -> Self {
        Shutdown {
            inner: Arc::new(Inner {
                parent: Some(parent.clone()),
                ..Inner::default()
            }),
        }
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
    /// between requests, or connected with nothing sent yet, over TLS too;
    /// a TLS handshake under way is busy) to close, leaving those busy with a
    /// request alone; the signal itself stays as it was, so a connection
    /// that goes idle later is not affected. An `rt::Server` at its
    /// connection limit closes some of
    /// them this way to make room (`ServeConfig::max_connections`). A client
    /// may find its idle connection closed at any time (RFC 9112 §9.5), and
    /// reconnects.
    ///
    /// Busy means a request's bytes have been read: over TLS, a request whose
    /// first record has only partly arrived has no bytes to show yet, so
    /// its connection counts as idle and closes (as hyper's would). Its
    /// client sees the close (a reset) instead of an answer, as with any
    /// request that crosses a close in flight.
    ///
    /// ```
    /// use lithe::io::Shutdown;
    /// let signal = Shutdown::new();
    /// signal.close_idle();
    /// assert!(!signal.is_triggered());
    /// ```
    pub fn close_idle(&self) {
        self.count_idle_close(true);
        self.notify_all();
    }

    /// [`close_idle`](Shutdown::close_idle), closing at most `n` of them:
    /// the first to take their turn, which are, as listeners are woken in
    /// the order they were made, roughly the longest connected, after those
    /// an earlier call found busy. A `close_idle` not yet heard by all the
    /// connections it concerns still closes each of them.
    #[cfg(feature = "server")]
    pub(crate) fn close_some_idle(&self, n: usize) {
        self.inner.idle_tickets.store(n, Ordering::SeqCst);
        self.count_idle_close(false);
        self.notify_all();
    }

    /// Counts a call in `idle_closes`, each half wrapping on its own: a carry
    /// out of the low half would read as a `close_idle`.
    fn count_idle_close(&self, uncapped: bool) {
        let count = |calls: u64| {
            let (uncapped_calls, all_calls) = ((calls >> 32) as u32, calls as u32);
            let uncapped_calls = uncapped_calls.wrapping_add(u32::from(uncapped));
            Some(u64::from(uncapped_calls) << 32 | u64::from(all_calls.wrapping_add(1)))
        };
        let _ = self
            .inner
            .idle_closes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, count);
    }

    /// How many connections have closed as asked by
    /// [`close_idle`](Shutdown::close_idle) or `close_some_idle`: a round
    /// that leaves it unchanged found nothing idle.
    #[cfg(feature = "server")]
    pub(crate) fn idle_closed(&self) -> usize {
        self.inner.idle_closed.load(Ordering::SeqCst)
    }

    /// The calls of [`close_idle`](Shutdown::close_idle) and
    /// `close_some_idle` so far, as a value that changes with each: a
    /// connection idle since an earlier value may be asked to close
    /// ([`asks_to_close`](Shutdown::asks_to_close)).
    pub(crate) fn idle_closes(&self) -> u64 {
        self.inner.idle_closes.load(Ordering::SeqCst)
    }

    /// Whether a connection idle since `seen` (a value of `idle_closes`) is
    /// asked to close by a call made since, and is one it closes: every
    /// connection after a `close_idle`, one of the `n` after
    /// `close_some_idle(n)`. Each call is answered once: `seen` moves on.
    /// The close is counted in `idle_closed` now; a connection that finds a
    /// request arrived meanwhile, and stays, hands it back
    /// ([`spare`](Shutdown::spare)).
    pub(crate) fn asks_to_close(&self, seen: &mut u64) -> Option<IdleClose> {
        let now = self.idle_closes();
        if now == *seen {
            return None;
        }
        let uncapped = now >> 32 != *seen >> 32;
        *seen = now;
        let close = match uncapped {
            true => IdleClose { ticket: false },
            false => {
                self.inner
                    .idle_tickets
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .ok()?;
                IdleClose { ticket: true }
            }
        };
        self.inner.idle_closed.fetch_add(1, Ordering::SeqCst);
        Some(close)
    }

    /// Takes back a close [`asks_to_close`](Shutdown::asks_to_close) granted
    /// to a connection that turned out busy (a request had arrived): it is
    /// not counted as closed, and a capped round's ticket goes to another
    /// idle connection (one woken by the same round that has not answered
    /// yet).
    pub(crate) fn spare(&self, close: IdleClose) {
        self.inner.idle_closed.fetch_sub(1, Ordering::SeqCst);
        if close.ticket {
            self.inner.idle_tickets.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Whether [`trigger`](Shutdown::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
            || self
                .inner
                .parent
                .as_ref()
                .is_some_and(Shutdown::is_triggered)
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

/// A close granted to an idle connection by
/// [`Shutdown::asks_to_close`], to be handed back if the connection stays.
#[derive(Debug)]
#[must_use = "a close granted is made, or handed back with `Shutdown::spare`"]
pub(crate) struct IdleClose {
    /// Taken from a capped round's (`close_some_idle`) tickets.
    ticket: bool,
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notify is counted while it runs, then no more: left counted, it
    /// would read as an unread wake for ever, and every driver would poll
    /// its listener at every wait. (event-listener itself reports a wake
    /// unread whenever no listener waits unfired, so the test holds one.)
    #[test]
    fn a_finished_notify_leaves_no_unread_wake() {
        let signal = Shutdown::new();
        let first = signal.listen();
        assert!(!signal.has_unread_wake(), "a listener not yet fired");
        signal.close_idle();
        assert!(signal.has_unread_wake(), "fired, not yet polled");
        futures_lite::future::block_on(first);
        let _waiting = signal.listen();
        assert!(
            !signal.has_unread_wake(),
            "after the notify, a new listener"
        );
    }

    /// A driver woken by a notify may look before the notify has finished:
    /// the wake is unread then too (event-listener publishes its own count
    /// of fired listeners only once the notify is done).
    #[test]
    fn a_wake_looked_for_during_its_notify_is_unread() {
        use std::sync::Mutex;
        use std::task::{Context, Wake, Waker};

        struct Looks(Shutdown, Mutex<Vec<bool>>);
        impl Wake for Looks {
            fn wake(self: Arc<Self>) {
                let seen = self.0.has_unread_wake();
                self.1.lock().unwrap().push(seen);
            }
        }
        let signal = Shutdown::new();
        let looks = Arc::new(Looks(signal.clone(), Mutex::new(Vec::new())));
        let waker = Waker::from(looks.clone());
        let mut listener = core::pin::pin!(signal.listen());
        let first = listener.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(first.is_pending());
        signal.close_idle();
        assert_eq!(*looks.1.lock().unwrap(), [true]);
    }

    #[test]
    fn its_debug_form_says_whether_it_was_triggered() {
        let signal = Shutdown::new();
        assert_eq!(format!("{signal:?}"), "Shutdown { triggered: false }");
        signal.trigger();
        assert_eq!(format!("{signal:?}"), "Shutdown { triggered: true }");
    }
}
