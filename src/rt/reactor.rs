//! [`Reactor`]: a server worker's own edge-triggered epoll set for the
//! connections it accepted (Linux).
//!
//! async-io registers interest one-shot: every wait for a socket to become
//! readable costs an `epoll_ctl`, and every wait of its poller costs four more
//! system calls around the `epoll_wait` (timer and notifier re-arming). Under
//! keep-alive load that is two extra system calls per request. Here each
//! connection is added once, edge-triggered, and the worker thread that owns
//! the set waits on it itself: one `epoll_wait` per batch of ready connections.
//!
//! Readiness lives in each [`Source`], behind a mutex, so a stream handed to
//! another thread (an upgraded connection) still works: the owning worker keeps
//! delivering its events. When the worker stops, its sources are *orphaned* and
//! their streams fall back to async-io.
//!
//! Timers, the listener and outbound connections stay on async-io, whose helper
//! thread drives them while the worker waits here; their wakeups reach the
//! worker through an eventfd.

use std::cell::RefCell;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};

/// The event key of the eventfd that wakes a sleeping worker.
const NOTIFY_KEY: u64 = u64::MAX;
/// Events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 256;

/// The worker runs tasks; wakeups need no eventfd write.
const AWAKE: u8 = 0;
/// The worker is about to block (or blocks) in `epoll_wait`.
const SLEEPING: u8 = 1;
/// A wakeup arrived since the worker last looked.
const NOTIFIED: u8 = 2;

/// Which way a stream waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

/// One worker's epoll set.
pub(crate) struct Reactor {
    shared: Arc<Shared>,
    events: RefCell<Vec<epoll::Event>>,
    /// Sources with events in the current batch (kept to reuse the allocation).
    ready: RefCell<Vec<(Arc<Source>, Edges)>>,
}

struct Shared {
    epoll: OwnedFd,
    notify: OwnedFd,
    sources: Mutex<Slots>,
    sleep: AtomicU8,
}

/// The descriptors alone: the table of sources holds one entry per
/// connection the worker has had at once (tens of thousands), which a
/// stream's `Debug` would otherwise print whole, under its lock.
impl core::fmt::Debug for Shared {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shared")
            .field("epoll", &self.epoll)
            .field("notify", &self.notify)
            .finish_non_exhaustive()
    }
}

/// Registered sources by key; keys of dropped sources are reused.
#[derive(Debug, Default)]
struct Slots {
    entries: Vec<Option<Weak<Source>>>,
    free: Vec<usize>,
}

/// The readiness of one registered file descriptor.
#[derive(Debug)]
pub(crate) struct Source {
    key: usize,
    shared: Arc<Shared>,
    state: Mutex<Readiness>,
}

#[derive(Debug, Default)]
struct Readiness {
    /// Per direction: whether an operation may succeed.
    ready: [bool; 2],
    /// Per direction: edges seen, so a `WouldBlock` racing a new edge does not
    /// clear it.
    ticks: [u64; 2],
    wakers: [Option<Waker>; 2],
    /// The peer closed its sending side (or the socket failed): reads no
    /// longer block, and no further edge will say so. A short read that
    /// drained the data must not clear readiness then, or an end of stream
    /// reported in the same event as the data is never read.
    read_closed: bool,
    /// The worker is gone: no more events will come.
    orphaned: bool,
}

/// What one epoll event says of a source.
#[derive(Clone, Copy, Debug)]
struct Edges {
    readable: bool,
    writable: bool,
    /// The peer closed its sending side, or the socket failed.
    read_closed: bool,
}

/// The worker that owned a source has stopped.
#[derive(Debug)]
pub(crate) struct Orphaned;

impl core::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reactor")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let notify = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epoll,
            &notify,
            epoll::EventData::new_u64(NOTIFY_KEY),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
        let empty = epoll::Event {
            flags: epoll::EventFlags::empty(),
            data: epoll::EventData::new_u64(0),
        };
        Ok(Reactor {
            shared: Arc::new(Shared {
                epoll,
                notify,
                sources: Mutex::new(Slots::default()),
                sleep: AtomicU8::new(AWAKE),
            }),
            events: RefCell::new(vec![empty; EVENTS_PER_WAIT]),
            ready: RefCell::new(Vec::new()),
        })
    }

    /// Adds `fd`, edge-triggered for both directions, until
    /// [`Source::deregister`] removes it (dropping the source only frees its
    /// key, which a later source may take: deregister first).
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<Arc<Source>> {
        let mut slots = lock(&self.shared.sources);
        let key = slots.free.pop().unwrap_or_else(|| {
            slots.entries.push(None);
            slots.entries.len() - 1
        });
        let source = Arc::new(Source {
            key,
            shared: self.shared.clone(),
            state: Mutex::new(Readiness {
                // Until the first WouldBlock, try: the edge for data already
                // there may have come before the registration.
                ready: [true, true],
                ..Readiness::default()
            }),
        });
        slots.entries[key] = Some(Arc::downgrade(&source));
        drop(slots);
        let flags = epoll::EventFlags::IN
            | epoll::EventFlags::OUT
            | epoll::EventFlags::RDHUP
            | epoll::EventFlags::ET;
        if let Err(e) = epoll::add(
            &self.shared.epoll,
            fd,
            epoll::EventData::new_u64(key as u64),
            flags,
        ) {
            // Dropping the source frees the key.
            drop(source);
            return Err(e.into());
        }
        Ok(source)
    }

    /// A waker for the worker itself: wakes it from [`wait`](Reactor::wait).
    pub(crate) fn waker(&self) -> Waker {
        Waker::from(Arc::new(WorkerWaker {
            shared: self.shared.clone(),
        }))
    }

    /// From now until [`wake_up`](Reactor::wake_up), wakeups by
    /// [`waker`](Reactor::waker) interrupt [`wait`](Reactor::wait). Call before
    /// the last check for work, so no wakeup falls in between.
    pub(crate) fn prepare_sleep(&self) {
        self.shared.sleep.store(SLEEPING, Ordering::SeqCst);
    }

    /// Back to running tasks.
    pub(crate) fn wake_up(&self) {
        self.shared.sleep.store(AWAKE, Ordering::SeqCst);
    }

    /// Waits for events (up to `timeout`; `None`: until one arrives) and wakes
    /// the streams they concern.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = timeout.map(|t| Timespec {
            tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: t.subsec_nanos().into(),
        });
        let mut events = self.events.borrow_mut();
        let count = match epoll::wait(&self.shared.epoll, &mut events[..], timeout.as_ref()) {
            Ok(count) => count,
            Err(rustix::io::Errno::INTR) => 0,
            Err(e) => return Err(e.into()),
        };
        // Awake before waking anyone: wakeups from here on need no eventfd write.
        self.wake_up();
        let mut ready = self.ready.borrow_mut();
        {
            let slots = lock(&self.shared.sources);
            for event in &events[..count] {
                let key = event.data.u64();
                if key == NOTIFY_KEY {
                    let mut counter = [0u8; 8];
                    // Edge-triggered: a drained eventfd fires again on the next write.
                    let _ = rustix::io::read(&self.shared.notify, &mut counter);
                    continue;
                }
                let flags = event.flags;
                let failed = flags.intersects(epoll::EventFlags::ERR | epoll::EventFlags::HUP);
                let source = usize::try_from(key)
                    .ok()
                    .and_then(|key| slots.entries.get(key))
                    .and_then(|entry| entry.as_ref()?.upgrade());
                if let Some(source) = source {
                    let read_closed = failed || flags.contains(epoll::EventFlags::RDHUP);
                    let edges = Edges {
                        readable: read_closed || flags.contains(epoll::EventFlags::IN),
                        writable: failed || flags.contains(epoll::EventFlags::OUT),
                        read_closed,
                    };
                    ready.push((source, edges));
                }
            }
        }
        // Wake outside the slot lock: a woken task may register or drop sources.
        for (source, edges) in ready.drain(..) {
            source.mark_ready(edges);
        }
        Ok(())
    }
}

impl Drop for Reactor {
    /// Orphans every live source, so its stream falls back to async-io.
    fn drop(&mut self) {
        let live: Vec<Arc<Source>> = lock(&self.shared.sources)
            .entries
            .iter()
            .filter_map(|entry| entry.as_ref()?.upgrade())
            .collect();
        for source in live {
            let wakers = {
                let mut state = lock(&source.state);
                state.orphaned = true;
                let [r, w] = &mut state.wakers;
                [r.take(), w.take()]
            };
            wakers.into_iter().flatten().for_each(wake_on_the_worker);
        }
    }
}

impl Source {
    /// Ready when an operation in `direction` may succeed: the edge count to
    /// give [`clear`](Source::clear) after a `WouldBlock`. Otherwise the task
    /// is woken at the next edge.
    pub(crate) fn poll_ready(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<Result<u64, Orphaned>> {
        let d = direction as usize;
        let mut state = lock(&self.state);
        if state.orphaned {
            return Poll::Ready(Err(Orphaned));
        }
        if state.ready[d] {
            return Poll::Ready(Ok(state.ticks[d]));
        }
        match &mut state.wakers[d] {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The operation in `direction` would block: wait for the next edge, unless
    /// one arrived since `tick` was read.
    pub(crate) fn clear(&self, direction: Direction, tick: u64) {
        let d = direction as usize;
        let mut state = lock(&self.state);
        if state.ticks[d] == tick {
            state.ready[d] = false;
        }
    }

    /// A read returned less than it asked for, so the data is drained: wait for
    /// the next edge as after a `WouldBlock`, unless the peer has closed (the
    /// next read returns the end of the stream, and no edge will come for it).
    /// (TCP urgent data is the exception: a read stops at its mark, short,
    /// with bytes still queued behind it. A peer that sends it stalls only
    /// its own connection, until a timeout ends it; HTTP has no use for it.)
    pub(crate) fn drained(&self, tick: u64) {
        let mut state = lock(&self.state);
        if state.ticks[Direction::Read as usize] == tick && !state.read_closed {
            state.ready[Direction::Read as usize] = false;
        }
    }

    fn mark_ready(&self, edges: Edges) {
        let wakers = {
            let mut state = lock(&self.state);
            state.read_closed |= edges.read_closed;
            let mut wakers = [None, None];
            for (d, on) in [edges.readable, edges.writable].into_iter().enumerate() {
                if on {
                    state.ready[d] = true;
                    state.ticks[d] += 1;
                    wakers[d] = state.wakers[d].take();
                }
            }
            wakers
        };
        wakers.into_iter().flatten().for_each(wake_on_the_worker);
    }

    /// Stops watching `fd` (call while it is still open).
    pub(crate) fn deregister(&self, fd: BorrowedFd<'_>) {
        let _ = epoll::delete(&self.shared.epoll, fd);
    }
}

/// Wakes a task waiting on a source, from the worker's own thread. The
/// waker may be another executor's (a service can move an upgraded stream
/// there), and a panic in it would end the worker and every connection on
/// it, or stop `Reactor::drop` before every source is orphaned: it costs
/// that task its wakeup instead, and is logged.
fn wake_on_the_worker(waker: Waker) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())).is_err() {
        // Caught too: the logger is the application's.
        let _ = std::panic::catch_unwind(|| {
            log::error!(
                "lithe: a waker panicked as a stream it waited on became ready; its task was \
                 not woken"
            );
        });
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let mut slots = lock(&self.shared.sources);
        if let Some(entry) = slots.entries.get_mut(self.key) {
            *entry = None;
            slots.free.push(self.key);
        }
    }
}

/// Wakes the worker out of `epoll_wait` when it sleeps; a no-op write-free
/// flag flip while it runs tasks.
struct WorkerWaker {
    shared: Arc<Shared>,
}

impl Wake for WorkerWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.shared.sleep.swap(NOTIFIED, Ordering::SeqCst) == SLEEPING {
            let _ = rustix::io::write(&self.shared.notify, &1u64.to_ne_bytes());
        }
    }
}

/// Locks, shrugging off poisoning: the guarded data stays consistent (every
/// critical section is a few assignments).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};
    use std::time::Duration;

    use super::{Direction, Reactor, Source};

    /// A connection accepted onto `reactor`, with nothing to read yet: the
    /// peer's end, the accepted socket, its source.
    fn registered(reactor: &Reactor) -> (TcpStream, TcpStream, Arc<Source>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let source = reactor.register(accepted.as_fd()).unwrap();
        (peer, accepted, source)
    }

    fn tick_now(source: &Source, direction: Direction) -> u64 {
        let mut cx = Context::from_waker(Waker::noop());
        match source.poll_ready(direction, &mut cx) {
            Poll::Ready(Ok(tick)) => tick,
            other => panic!("not ready: {other:?}"),
        }
    }

    fn is_ready(source: &Source, direction: Direction) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        source.poll_ready(direction, &mut cx).is_ready()
    }

    /// The table of sources grows with the connections open at once, not
    /// with all there have been: a dropped source's key goes to the next.
    #[test]
    fn a_dropped_sources_key_is_taken_by_the_next() {
        let reactor = Reactor::new().unwrap();
        let (_peer, accepted, first) = registered(&reactor);
        let (_other_peer, other, second) = registered(&reactor);
        assert_ne!(first.key, second.key);
        let key = first.key;
        first.deregister(accepted.as_fd());
        drop(first);
        drop(accepted);
        let (_peer, accepted, third) = registered(&reactor);
        assert_eq!(third.key, key);
        let slots = super::lock(&reactor.shared.sources).entries.len();
        assert_eq!(slots, 2);
        third.deregister(accepted.as_fd());
        second.deregister(other.as_fd());
    }

    /// A deregistered socket that lives on (a duplicate of it kept
    /// elsewhere) reports nothing to the source that took its key.
    #[test]
    fn a_deregistered_socket_wakes_not_the_source_that_took_its_key() {
        let reactor = Reactor::new().unwrap();
        let (mut peer, accepted, first) = registered(&reactor);
        let key = first.key;
        let kept = accepted.try_clone().unwrap();
        first.deregister(accepted.as_fd());
        drop(first);
        drop(accepted);
        let (_other_peer, other, second) = registered(&reactor);
        assert_eq!(second.key, key);
        let tick = tick_now(&second, Direction::Read);
        second.clear(Direction::Read, tick);
        peer.write_all(b"x").unwrap();
        // Time for the byte's edge, were the old socket still watched.
        for _ in 0..5 {
            reactor.wait(Some(Duration::from_millis(20))).unwrap();
        }
        assert!(!is_ready(&second, Direction::Read));
        second.deregister(other.as_fd());
        drop(kept);
    }

    /// A stream on another thread (an upgraded connection) reads, finds
    /// nothing, and clears its readiness; meanwhile the worker has seen a
    /// new edge for bytes that came. Cleared, those bytes would never be
    /// reported again (edge-triggered): the edge keeps the source ready.
    #[test]
    fn an_edge_seen_before_a_clear_keeps_the_source_ready() {
        let reactor = Reactor::new().unwrap();
        for drained in [false, true] {
            let (mut peer, accepted, source) = registered(&reactor);
            let before = tick_now(&source, Direction::Read);
            peer.write_all(b"x").unwrap();
            // The edge for the byte (and those of the registration).
            let started = std::time::Instant::now();
            while tick_now(&source, Direction::Read) == before {
                assert!(started.elapsed() < Duration::from_secs(10), "no edge");
                reactor.wait(Some(Duration::from_millis(10))).unwrap();
            }
            match drained {
                false => source.clear(Direction::Read, before),
                true => source.drained(before),
            }
            assert!(is_ready(&source, Direction::Read), "drained: {drained}");
            // With the edge's own tick, the clear takes.
            let now = tick_now(&source, Direction::Read);
            match drained {
                false => source.clear(Direction::Read, now),
                true => source.drained(now),
            }
            assert!(!is_ready(&source, Direction::Read), "drained: {drained}");
            source.deregister(accepted.as_fd());
        }
    }

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A stream polled by another task than before (an upgraded connection
    /// handed on) is woken through the new task's waker at the next edge,
    /// not the old one's.
    #[test]
    fn the_last_waker_polled_with_is_the_one_woken() {
        let reactor = Reactor::new().unwrap();
        let (mut peer, accepted, source) = registered(&reactor);
        let tick = tick_now(&source, Direction::Read);
        source.clear(Direction::Read, tick);
        let [old, new] = [(), ()].map(|()| {
            let count = Arc::new(CountWakes(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let mut cx = Context::from_waker(&waker);
            assert!(source.poll_ready(Direction::Read, &mut cx).is_pending());
            count
        });
        peer.write_all(b"x").unwrap();
        // (Looking with another waker would put it in their place.)
        let started = std::time::Instant::now();
        while new.0.load(Ordering::SeqCst) + old.0.load(Ordering::SeqCst) == 0 {
            assert!(started.elapsed() < Duration::from_secs(10), "no wake");
            reactor.wait(Some(Duration::from_millis(10))).unwrap();
        }
        assert_eq!(new.0.load(Ordering::SeqCst), 1);
        assert_eq!(old.0.load(Ordering::SeqCst), 0);
        source.deregister(accepted.as_fd());
    }

    /// A stream parked in a write (the peer not reading) when its worker
    /// stops is woken, as one parked in a read is: no event will come for
    /// it any more, and it must move to smol's reactor.
    #[test]
    fn a_stopping_worker_wakes_streams_parked_in_either_direction() {
        let reactor = Reactor::new().unwrap();
        let (_peer, accepted, source) = registered(&reactor);
        let counts = [Direction::Read, Direction::Write].map(|direction| {
            let tick = tick_now(&source, direction);
            source.clear(direction, tick);
            let count = Arc::new(CountWakes(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let mut cx = Context::from_waker(&waker);
            assert!(source.poll_ready(direction, &mut cx).is_pending());
            count
        });
        source.deregister(accepted.as_fd());
        drop(reactor);
        for (count, direction) in counts.iter().zip(["read", "write"]) {
            assert_eq!(count.0.load(Ordering::SeqCst), 1, "{direction}");
        }
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            source.poll_ready(Direction::Write, &mut cx),
            Poll::Ready(Err(super::Orphaned))
        ));
    }
}
