//! Graceful shutdown: a signal that tells connection drivers to finish the
//! request in flight and then close, instead of waiting for another.

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
        self.inner.event.notify(usize::MAX);
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

    /// A listener woken by [`trigger`](Shutdown::trigger); check
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
