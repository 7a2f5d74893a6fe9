//! [`Server`]: bind a TCP listener and run a connection driver for every
//! accepted connection, on every core, until a graceful shutdown.
//!
//! Each worker thread runs its own smol `LocalExecutor` and accepts from the
//! shared listener (or, with [`ServeConfig::reuse_port`], from a listener of
//! its own on the same port), so a connection stays on the thread that accepted
//! it: no work stealing, no cross-thread wakeups on the hot path. On Linux the
//! worker waits on its own edge-triggered epoll set for its connections
//! (`rt::reactor`).
//!
//! Shared listener or `SO_REUSEPORT`, measured once (commit 975b34e, by hand:
//! `hello_server --threads 2 [--reuse-port]` against `wrk -t2 -c100`, three
//! runs each) on a 2-core machine with the workers and wrk sharing both cores:
//! the shared listener served 114k-141k requests a second in plain
//! keep-alive against 108k-121k (about 1.1x), and 878k-1.02M pipelined
//! against 865k-979k (about 1.03x), because one worker tends to win every
//! accept and the other core is left to wrk; `SO_REUSEPORT` split the
//! connections evenly between the workers. With cores to spare for every
//! worker, the even split is what spreads load, so it is offered as an option
//! and the shared listener stays the default.

use std::cell::Cell;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::slice;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_lite::{FutureExt, future};
use smol::{Async, LocalExecutor, Timer};

#[cfg(target_os = "linux")]
use super::reactor::Reactor;
use super::stream::{MaybeTls, TcpStream};
use crate::io::{ServerConfig, Service, Shutdown, serve_connection_aborting};

/// The most worker threads a [`Server`] starts: a count past it is a mistake
/// (each worker holds a thread and a listener descriptor, and on Linux an
/// epoll set and an eventfd), refused before anything starts rather than run
/// until threads or descriptors run out.
pub const MAX_THREADS: usize = 4096;

/// How a [`Server`] runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// How each connection behaves.
    pub connection: ServerConfig,
    /// Worker threads; 0 means one per core this process may run on. More
    /// than [`MAX_THREADS`] is refused (`InvalidInput`). Each worker runs its
    /// connections on one thread, none taken over by another: a service that
    /// blocks its thread (a synchronous call, long CPU work) holds up every
    /// connection of its worker, their timeouts and a shutdown with them.
    /// Run such work apart ([`unblock`](super::unblock), a thread pool) and
    /// await it.
    /// On Linux that includes the connections the worker handed on by a
    /// protocol switch: a tunnel or WebSocket, wherever it is polled, learns
    /// that its socket is ready from the worker that accepted it, for as
    /// long as that worker runs.
    pub threads: usize,
    /// How long a shutdown waits for requests in flight. Default 30 s. Those
    /// still running then are dropped mid-request, their service futures
    /// with them: the client gets no answer, or one cut short, the
    /// connection closed (on Linux reset where a close would read as a
    /// body's end; elsewhere closed plainly). A service blocking its
    /// thread is not interrupted: the shutdown waits for it.
    pub shutdown_timeout: Duration,
    /// Give each worker a listener of its own on the same port (`SO_REUSEPORT`,
    /// Linux only; ignored elsewhere), so the kernel spreads connections over
    /// the workers, instead of all workers accepting from one listener.
    /// Default false. The port is then shared with any other socket of the
    /// same user that sets the option too: a second server (a stale
    /// instance) binds without an error, and the kernel splits the clients
    /// between them. The first address the name resolves to that binds is
    /// the one bound, as without the option.
    pub reuse_port: bool,
    /// Connections a worker serves at once, idle ones included (not those
    /// handed to the service by a protocol switch: a tunnel or a WebSocket
    /// is the service's from then on, as is bounding them, though on Linux
    /// its readiness still comes from this worker, see `threads`); past it the
    /// worker accepts no more until one ends, and new clients wait in the
    /// kernel's backlog (while it has room). To make room for a client
    /// waiting there, a worker at its limit closes up to 64 of its idle
    /// connections, those between requests or connected with nothing sent
    /// yet (over TLS: no hello begun, or the handshake done and no request
    /// begun), roughly the longest connected first, at most once a second
    /// (workers sharing a listener, as without `reuse_port`, take turns:
    /// one of them a second, and one that finds nothing idle hands the turn
    /// on at once); out of descriptors, which is the process's
    /// shortage, not one worker's, every worker closes up to 64 of its idle
    /// connections, at most once a second in all;
    /// [`Shutdown::close_idle`] closes all of them. Idle
    /// connections do not hold the server's slots against new clients for
    /// their whole timeout. (Off Linux, where whether a client waits for a
    /// worker that shares its listener with others cannot be told, workers
    /// make room only with a listener of their own, `threads: 1`, and not
    /// when out of descriptors.) 0 for no limit. Default 25,000
    /// per worker (as actix-web): the server's total is `threads` times this,
    /// which bounds the descriptors a flood of connections can take only if
    /// it is below the process's descriptor limit (often 1,024 by default:
    /// raise that, or lower this). With `reuse_port`, a worker at its limit
    /// leaves the connections the kernel gives its own listener waiting,
    /// even while other workers have room. Memory is bounded per connection
    /// too (see [`ServerConfig`]'s "Memory per connection": a few KB parked,
    /// up to 64 KiB more over TLS in rustls's buffer for records a peer left
    /// unfinished, up to a few hundred KB for one a peer keeps busy), so this
    /// limit also bounds what a flood of busy connections can take.
    pub max_connections: usize,
    /// Serve HTTPS with this acceptor. A client that speaks plain HTTP to
    /// the port is answered `400 Bad Request` in plain HTTP, saying the
    /// port speaks HTTPS, and closed.
    #[cfg(feature = "tls")]
    pub tls: Option<super::tls::TlsAcceptor>,
    /// How long a TLS handshake may take, from the connection's accept to
    /// the handshake's end; `None` for no limit. Default 10 s: a client that
    /// begins its hello and never finishes the handshake holds a descriptor
    /// meanwhile (one that sends nothing is idle: it is closed sooner when
    /// its worker makes room, see `max_connections`).
    #[cfg(feature = "tls")]
    pub tls_handshake_timeout: Option<Duration>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            connection: ServerConfig::default(),
            threads: 0,
            shutdown_timeout: Duration::from_secs(30),
            reuse_port: false,
            max_connections: 25_000,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_handshake_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// A running HTTP server. Dropping it leaves it running in its worker threads:
/// stop it with [`shutdown`](Server::shutdown) or its
/// [`shutdown_signal`](Server::shutdown_signal).
///
/// ```no_run
/// use lithe::io::{Request, Response};
/// use lithe::proto::StatusCode;
/// use lithe::rt::{ServeConfig, Server};
///
/// let server = Server::bind("127.0.0.1:8080", |_req: Request| async {
///     Response::new(StatusCode::OK).with_body("Hello, World!")
/// }, ServeConfig::default()).unwrap();
/// println!("listening on {}", server.local_addr());
/// server.wait();
/// ```
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Shutdown,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` and starts serving with `service` on worker threads.
    /// Each connection gets a clone of it (so `Clone + Send`), and its
    /// futures run on their connection's worker alone: they need not be
    /// `Send`. State that cannot cross threads (an `Rc`) is made per
    /// connection, on its worker, with
    /// [`bind_per_connection`](Server::bind_per_connection), which also
    /// tells the client's address.
    ///
    /// State the whole server shares (a pool, a counter) goes behind an
    /// `Arc`, cloned into each connection's service with it; state inside
    /// the service itself (a `Cell`) is per connection, since each has a
    /// clone:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use lithe::io::{Request, Response};
    /// use lithe::proto::StatusCode;
    /// use lithe::rt::{ServeConfig, Server};
    ///
    /// #[derive(Clone)]
    /// struct App {
    ///     hits: Arc<AtomicU64>,
    /// }
    ///
    /// async fn handle(app: App, _request: Request) -> Response {
    ///     let seen = app.hits.fetch_add(1, Ordering::Relaxed) + 1;
    ///     Response::new(StatusCode::OK).with_body(format!("request {seen}"))
    /// }
    ///
    /// let app = App { hits: Arc::default() };
    /// let config = ServeConfig { threads: 1, ..ServeConfig::default() };
    /// let shared = app.clone();
    /// let server = Server::bind("127.0.0.1:0", move |r| handle(shared.clone(), r), config)?;
    /// # use std::io::{Read, Write};
    /// for _ in 0..2 {
    ///     let mut client = std::net::TcpStream::connect(server.local_addr())?;
    ///     client.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")?;
    ///     client.read_to_end(&mut Vec::new())?;
    /// }
    /// assert_eq!(app.hits.load(Ordering::Relaxed), 2);
    /// server.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<S>(addr: impl ToSocketAddrs, service: S, config: ServeConfig) -> io::Result<Server>
    where
        S: Service + Clone + Send + 'static,
    {
        Server::bind_per_connection(addr, move |_| service.clone(), config)
    }

    /// [`bind`](Server::bind), making the service of each connection from the
    /// client's address: the way for a service to know who is asking (to log
    /// it, or to limit a client), as aiohttp's `request.remote` or actix's
    /// `peer_addr` tell. The address is the TCP peer's (a proxy's, behind
    /// one); `make_service` runs on the worker as each connection starts,
    /// before any TLS handshake, and a panic in it loses that connection
    /// only. [`bind_per_stream`](Server::bind_per_stream) shows the TLS
    /// session too.
    ///
    /// ```no_run
    /// use lithe::io::{Request, Response};
    /// use lithe::proto::StatusCode;
    /// use lithe::rt::{ServeConfig, Server};
    ///
    /// let server = Server::bind_per_connection("127.0.0.1:8080", |client| {
    ///     move |_req: Request| async move {
    ///         Response::new(StatusCode::OK).with_body(format!("Hello, {client}!"))
    ///     }
    /// }, ServeConfig::default()).unwrap();
    /// server.wait();
    /// ```
    pub fn bind_per_connection<M, S>(
        addr: impl ToSocketAddrs,
        make_service: M,
        config: ServeConfig,
    ) -> io::Result<Server>
    where
        M: Fn(SocketAddr) -> S + Clone + Send + 'static,
        S: Service + 'static,
    {
        Server::spawn_workers(addr, PerConnection(make_service), config)
    }

    /// [`bind_per_connection`](Server::bind_per_connection), the service made
    /// from the stream as well, once its TLS handshake is done: for what the
    /// session says of the client (the certificate it presented, under
    /// mutual TLS set up through
    /// [`TlsAcceptor::from_config`](super::tls::TlsAcceptor::from_config),
    /// and the protocol ALPN chose, through [`MaybeTls::tls`]; the name it
    /// asked for by SNI, [`MaybeTls::server_name`]), as actix's `on_connect`
    /// gives it.
    ///
    /// ```no_run
    /// use lithe::io::{Request, Response};
    /// use lithe::proto::StatusCode;
    /// use lithe::rt::{MaybeTls, ServeConfig, Server};
    ///
    /// let server = Server::bind_per_stream("127.0.0.1:8443", |client, stream: &MaybeTls| {
    ///     let certificates = stream
    ///         .tls()
    ///         .and_then(|session| session.peer_certificates())
    ///         .map_or(0, |chain| chain.len());
    ///     move |_req: Request| async move {
    ///         let text = format!("{client} presented {certificates} certificates");
    ///         Response::new(StatusCode::OK).with_body(text)
    ///     }
    /// }, ServeConfig::default()).unwrap();
    /// server.wait();
    /// ```
    pub fn bind_per_stream<M, S>(
        addr: impl ToSocketAddrs,
        make_service: M,
        config: ServeConfig,
    ) -> io::Result<Server>
    where
        M: Fn(SocketAddr, &MaybeTls) -> S + Clone + Send + 'static,
        S: Service + 'static,
    {
        Server::spawn_workers(addr, PerStream(make_service), config)
    }

    /// Binds and starts the workers, each connection's service made by
    /// `make_service`.
    fn spawn_workers<M: MakeService + Clone + Send>(
        addr: impl ToSocketAddrs,
        make_service: M,
        config: ServeConfig,
    ) -> io::Result<Server> {
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n if n > MAX_THREADS => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("ServeConfig::threads is {n}, over the {MAX_THREADS} allowed"),
                ));
            }
            n => n,
        };
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &config.tls {
            acceptor.check()?;
        }
        let (listeners, shared) = listeners(addr, threads, config.reuse_port)?;
        let addr = listeners[0].local_addr()?;
        // Workers that share a listener make room for its clients together.
        let shared_room = shared.then(|| Arc::new(RoomMade::default()));
        // Out of descriptors, all of them make room: the shortage is the
        // process's (or the system's), and any worker's idle connections
        // relieve it.
        let shutdown = Shutdown::new();
        let everyone = Arc::new(Everyone {
            room: RoomMade::default(),
            accept_failures: AcceptFailures::default(),
            // Triggered with the server's at once (a handler's trigger is
            // seen by the response it is writing); its wake-ups and
            // close_idle calls are passed on (`pass_on`).
            signals: (0..threads)
                .map(|_| Shutdown::child_of(&shutdown))
                .collect(),
        });
        let config = Arc::new(config);
        let mut workers = Vec::with_capacity(threads);
        let mut listeners = listeners.into_iter().enumerate();
        while let Some((i, listener)) = listeners.next() {
            let (make_service, config, signal) =
                (make_service.clone(), config.clone(), shutdown.clone());
            let room = match &shared_room {
                Some(room) => Arc::clone(room),
                None => Arc::new(RoomMade::default()),
            };
            let rooms = Rooms {
                listener: room,
                everyone: Arc::clone(&everyone),
                worker: i,
            };
            let spawned = Async::new(listener).and_then(|listener| {
                std::thread::Builder::new()
                    .name(format!("lithe-worker-{i}"))
                    .spawn(move || worker(listener, shared, rooms, make_service, config, signal))
                    // Out of threads is EAGAIN, which reads as WouldBlock
                    // ("resource temporarily unavailable"): say what failed.
                    .map_err(|e| {
                        let kind = match e.kind() {
                            io::ErrorKind::WouldBlock => io::ErrorKind::Other,
                            kind => kind,
                        };
                        io::Error::new(
                            kind,
                            format!("starting worker thread {} of {threads}: {e}", i + 1),
                        )
                    })
            });
            match spawned {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    // The workers already running would serve on, with no
                    // handle left to stop them: they stop before the error
                    // is returned (the other listeners close first).
                    drop(listeners);
                    shutdown.trigger();
                    for worker in workers {
                        let _ = worker.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Server {
            addr,
            shutdown,
            workers,
        })
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The signal that stops the server; trigger it from any thread (not
    /// from inside a POSIX signal handler itself: it takes a lock). Its
    /// [`close_idle`](Shutdown::close_idle) closes the connections idle at
    /// that moment, on every worker, and the server serves on.
    ///
    /// A graceful stop on Ctrl-C: trigger it from the signal handler's
    /// thread (here a thread of its own; with the `ctrlc` crate,
    /// `ctrlc::set_handler(move || signal.trigger())`), and let the main
    /// thread wait for the requests in flight to finish. (`ctrlc` handles
    /// SIGINT alone unless its `termination` feature is on, and the SIGTERM
    /// that `docker stop`, systemd and Kubernetes send would then kill the
    /// process with requests in flight. Once the handler is installed, a
    /// second Ctrl-C no longer kills it either: a handler that exits on the
    /// second signal keeps that way out.)
    ///
    /// ```
    /// use lithe::io::{Request, Response};
    /// use lithe::proto::StatusCode;
    /// use lithe::rt::{ServeConfig, Server};
    ///
    /// let config = ServeConfig { threads: 1, ..ServeConfig::default() };
    /// let server = Server::bind("127.0.0.1:0", |_: Request| async {
    ///     Response::new(StatusCode::OK)
    /// }, config)?;
    /// let signal = server.shutdown_signal();
    /// std::thread::spawn(move || signal.trigger());
    /// server.wait();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Stops accepting, lets requests in flight finish (within the shutdown
    /// timeout), closes idle connections, and waits for the workers. A
    /// connection with a request head begun, or accepted but with nothing
    /// sent yet (over TLS, its handshake under way or not begun), gets a
    /// second for that request to come (the handshake included; within the
    /// shutdown timeout too, if that is shorter), and is served it as its
    /// last. Connections handed to a service by a protocol switch (an
    /// upgrade, a CONNECT tunnel) are the service's: a shutdown neither
    /// closes them nor waits for them.
    ///
    /// From a handler, trigger [`shutdown_signal`](Self::shutdown_signal)
    /// instead and return: called on a worker, this waits for the others
    /// (not for its own, which cannot finish while it waits), and meanwhile
    /// that worker's connections, the caller's included, make no progress.
    pub fn shutdown(self) {
        self.shutdown.trigger();
        self.wait();
    }

    /// Blocks until the server has shut down. On one of the server's own
    /// workers (from a handler) it does not wait for that worker, which
    /// would wait for itself: see [`shutdown`](Self::shutdown).
    pub fn wait(self) {
        let current = std::thread::current().id();
        for worker in self.workers {
            if worker.thread().id() != current {
                let _ = worker.join();
            }
        }
    }
}

/// A connection counted in a worker's `active` until this is dropped, which
/// wakes an accept loop waiting at the connection limit.
struct Counted {
    active: Rc<Cell<usize>>,
    ended: Rc<event_listener::Event>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.active.set(self.active.get() - 1);
        self.ended.notify(1);
    }
}

/// Connections a worker accepts before it lets the connections it runs have
/// their turn (with a backlog to take, accepting never waits); a wait at the
/// connection limit or after a failed accept starts the count over.
const ACCEPTS_IN_A_ROW: u32 = 64;

/// Connections the kernel may hold complete but not yet accepted, per
/// listener (capped by `net.core.somaxconn`); as tokio's listeners do.
#[cfg(target_os = "linux")]
const LISTEN_BACKLOG: i32 = 1024;

/// One nonblocking listener per worker: clones of one socket, or, with
/// `reuse_port` on Linux, sockets of their own bound to the same address;
/// and whether they are clones (a shared listener).
fn listeners(
    addr: impl ToSocketAddrs,
    count: usize,
    reuse_port: bool,
) -> io::Result<(Vec<StdListener>, bool)> {
    #[cfg(target_os = "linux")]
    if reuse_port {
        // Each address the name resolves to in turn, until one binds, as
        // `TcpListener::bind` does (`localhost` may give `::1` first on a
        // host without IPv6); the last error if none does.
        let mut bound = Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        ));
        for addr in addr.to_socket_addrs()? {
            bound = reuse_port_listener(addr);
            if bound.is_ok() {
                break;
            }
        }
        let first = bound?;
        // Port 0 resolves on the first bind; the others join that port.
        let addr = first.local_addr()?;
        let mut all = vec![first];
        for _ in 1..count {
            all.push(reuse_port_listener(addr)?);
        }
        return Ok((all, false));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = reuse_port;
    let listener = StdListener::bind(addr)?;
    // std listens with a backlog of 128: a burst of connections beyond what
    // the workers have accepted yet would see its handshakes dropped and
    // retried a second later. Listening again only raises the backlog.
    #[cfg(target_os = "linux")]
    rustix::net::listen(&listener, LISTEN_BACKLOG)?;
    listener.set_nonblocking(true)?;
    let mut all = Vec::with_capacity(count);
    for _ in 1..count {
        all.push(listener.try_clone()?);
    }
    all.push(listener);
    Ok((all, count > 1))
}

/// A nonblocking listener on `addr` with `SO_REUSEPORT`.
#[cfg(target_os = "linux")]
fn reuse_port_listener(addr: SocketAddr) -> io::Result<StdListener> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let socket = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    sockopt::set_socket_reuseaddr(&socket, true)?;
    sockopt::set_socket_reuseport(&socket, true)?;
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, LISTEN_BACKLOG)?;
    Ok(StdListener::from(socket))
}

/// How a turn of a worker's accept loop ends.
enum Turn {
    /// On to the next turn.
    Next,
    /// The server shuts down: the drain follows.
    Stop,
}

fn worker<M: MakeService>(
    listener: Async<StdListener>,
    shared: bool,
    rooms: Rooms,
    make_service: M,
    config: Arc<ServeConfig>,
    server_signal: Shutdown,
) {
    let ex = Rc::new(LocalExecutor::new());
    // The worker's connections watch a signal of its own, so that a worker at
    // its limit closes its own idle connections, not every worker's; the
    // server's signal is passed on to it.
    let shutdown = rooms.everyone.signals[rooms.worker].clone();
    let room = rooms.listener;
    ex.spawn(pass_on(server_signal, shutdown.clone())).detach();
    let active = Rc::new(Cell::new(0usize));
    // Notified when a connection ends, for an accept loop at its limit.
    let ended = Rc::new(event_listener::Event::new());
    let make_service = Rc::new(make_service);
    #[cfg(target_os = "linux")]
    // Without an epoll set of its own (out of descriptors), the worker runs its
    // connections on async-io like every other platform.
    let reactor = Reactor::new().ok().map(Rc::new);
    #[cfg(not(target_os = "linux"))]
    let reactor: Option<Rc<Reactor>> = None;
    let spawner = (ex.clone(), reactor.clone());
    let main = ex.spawn(async move {
        let (ex, reactor) = spawner;
        // Accepts since the connections' tasks last had a turn.
        let mut in_a_row = 0;
        let mut retried = RetriedInARow::default();
        // When this worker last asked its idle connections to make room, and
        // when every worker's, out of descriptors.
        let (mut asked_here, mut asked_everyone) = (None, None);
        loop {
            // One turn of the loop, caught: a panic in it (a logger of the
            // application's that panics as the loop logs, say) costs that
            // turn, not the worker and every connection on it.
            let turn = AssertUnwindSafe(async {
                // With a backlog to take, accepting never waits: the connections
                // already accepted get their turn now and then, and a shutdown is
                // seen even under a flood.
                if in_a_row >= ACCEPTS_IN_A_ROW {
                    in_a_row = 0;
                    future::yield_now().await;
                }
                if shutdown.is_triggered() {
                    return Turn::Stop;
                }
                let limit = config.max_connections;
                if limit > 0 && active.get() >= limit {
                    // At the limit: the next is accepted once a connection ends.
                    // A client waiting meanwhile gets room made for it: the idle
                    // connections close (and are asked again after a while, if
                    // none was idle and the client still waits).
                    let one_ends = ended.listen();
                    if active.get() >= limit {
                        let room_for_a_client = async {
                            if shared && !CAN_TELL_A_CLIENT_WAITS {
                                return future::pending().await;
                            }
                            if listener.readable().await.is_ok() {
                                // On a shared listener a worker with room takes
                                // the client if it can.
                                if shared {
                                    Timer::after(TAKEN_BY_ANOTHER_WITHIN).await;
                                }
                                // Another worker of a shared listener may hold
                                // the turn: one that finds nothing idle gives it
                                // back within TAKEN_BY_ANOTHER_WITHIN, and this
                                // one tries again then, while the client waits,
                                // not a whole MAKE_ROOM_EVERY later.
                                let tries_until = Instant::now() + MAKE_ROOM_EVERY;
                                while !shared || client_waiting(listener.get_ref()) {
                                    let closed = shutdown.idle_closed();
                                    let slice = slice::from_ref(&shutdown);
                                    if let Some(asked) = room.make(slice, &mut asked_here) {
                                        // Its idle connections close meanwhile (on
                                        // this thread), as this round or a user's
                                        // close_idle asks. None closed: none was
                                        // idle here, and another worker of the
                                        // listener may make room instead.
                                        Timer::after(TAKEN_BY_ANOTHER_WITHIN).await;
                                        if shutdown.idle_closed() == closed {
                                            room.forget(asked);
                                        }
                                        break;
                                    }
                                    if !shared
                                        || asked_recently(asked_here)
                                        || Instant::now() >= tries_until
                                    {
                                        break;
                                    }
                                    Timer::after(2 * TAKEN_BY_ANOTHER_WITHIN).await;
                                }
                            }
                            Timer::after(MAKE_ROOM_EVERY).await;
                        };
                        future::or(
                            one_ends,
                            future::or(shutdown.triggered(), room_for_a_client),
                        )
                        .await;
                    }
                    in_a_row = 0;
                    return Turn::Next;
                }
                let accept = async { Some(listener.read_with(|l| l.accept()).await) };
                let stop = async {
                    shutdown.triggered().await;
                    None
                };
                // The trigger first: with both ready, no connection is taken
                // after it.
                let Some(accepted) = future::or(stop, accept).await else {
                    return Turn::Stop;
                };
                let adopted = accepted
                    .and_then(|(stream, client)| Ok((adopt(stream, reactor.as_deref())?, client)));
                let (stream, client) = match adopted {
                    Ok(adopted) => adopted,
                    // That connection is gone; the next is there to take. (Unless
                    // the same failure repeats, as a filter refusing every
                    // accept does: then it is waited out like the others, so
                    // the loop cannot spin.)
                    Err(e) if retried.at_once_after(&e) => {
                        log::debug!("lithe: accepting a connection failed ({e}); retrying");
                        return Turn::Next;
                    }
                    Err(e) => {
                        // Out of descriptors or memory, or something unforeseen:
                        // back off briefly instead of spinning. Warned of at
                        // most once a while: a flood that exhausts descriptors
                        // would otherwise write a line every 10 ms. Out of
                        // descriptors, the idle connections close to make room,
                        // as at the limit, on every worker.
                        if out_of_descriptors(&e) {
                            let everyone = &rooms.everyone;
                            let _ = everyone.room.make(&everyone.signals, &mut asked_everyone);
                        }
                        rooms.everyone.accept_failures.failed(&e);
                        // A shutdown meanwhile ends the wait (the loop sees it).
                        future::or(
                            async {
                                Timer::after(Duration::from_millis(10)).await;
                            },
                            shutdown.triggered(),
                        )
                        .await;
                        in_a_row = 0;
                        return Turn::Next;
                    }
                };
                retried.accepted();
                in_a_row += 1;
                active.set(active.get() + 1);
                let (make_service, config, shutdown, active, ended) = (
                    make_service.clone(),
                    config.clone(),
                    shutdown.clone(),
                    active.clone(),
                    ended.clone(),
                );
                ex.spawn(async move {
                    // However the task ends (dropped unfinished at the end of a
                    // shutdown included), the connection no longer counts.
                    let _counted = Counted { active, ended };
                    let connection = async {
                        // Made here, so that a panic in it, like one in the
                        // service, loses this connection, not the worker.
                        let prepared = make_service.prepare(client);
                        if let Some((io, grace)) =
                            handshake(stream, client, &config, &shutdown).await
                        {
                            let service = make_service.make(prepared, &io);
                            let served = serve_connection_aborting(
                                io,
                                service,
                                &config.connection,
                                &shutdown,
                                MaybeTls::reset_on_close,
                                grace,
                            )
                            .await;
                            if let Err(e) = served {
                                log::debug!("lithe: the connection from {client} failed: {e}");
                            }
                        }
                    };
                    // A panic the driver does not answer (the service's it
                    // does, with a 500) loses its connection, not the worker: in
                    // making the service, say.
                    if AssertUnwindSafe(connection).catch_unwind().await.is_err() {
                        log::error!(
                            "lithe: a panic while serving {client}; its connection was dropped"
                        );
                    }
                })
                .detach();
                // After the connection is under way: this may log.
                rooms.everyone.accept_failures.accepted();
                Turn::Next
            })
            .catch_unwind()
            .await;
            match turn {
                Ok(Turn::Next) => {}
                Ok(Turn::Stop) => break,
                // Not at once: a turn that panics each time (that logger, on
                // every failed accept) must not spin.
                Err(_) => {
                    Timer::after(Duration::from_millis(10)).await;
                }
            }
        }
        // Close the listening socket now (once every worker has dropped its
        // descriptor), not after the drain: the kernel would go on completing
        // handshakes into the backlog, for clients nobody will answer.
        drop(listener);
        // A timeout past what the clock can count waits for every connection.
        // Each connection's end wakes the drain (listening first, then
        // looking, so that no end goes unseen).
        // One timer for the whole drain, however many ends wake it.
        let mut deadline = Instant::now()
            .checked_add(config.shutdown_timeout)
            .map(Timer::at);
        loop {
            let one_ends = ended.listen();
            if active.get() == 0 {
                break;
            }
            let Some(timer) = deadline.as_mut() else {
                one_ends.await;
                continue;
            };
            let timed_out = future::or(
                async {
                    one_ends.await;
                    false
                },
                async {
                    timer.await;
                    true
                },
            )
            .await;
            if timed_out {
                break;
            }
        }
    });
    #[cfg(target_os = "linux")]
    if let Some(reactor) = &reactor {
        return run_on_reactor(&ex, &main, reactor);
    }
    smol::block_on(run_until_finished(&ex, main));
}

/// How often a worker short of room (at its connection limit, or out of
/// descriptors) may ask its idle connections to close: each time wakes every
/// connection of the worker, busy ones included.
const MAKE_ROOM_EVERY: Duration = Duration::from_secs(1);

/// How often failed accepts are warned of, at most (the others are debug
/// lines): a peer that keeps descriptors exhausted must not flood the log.
const ACCEPT_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Failed accepts on any of a server's workers, reported to the log: a
/// warning at most every [`ACCEPT_WARNING_EVERY`] for the whole server
/// (workers of a shared listener all fail at once), however the failures
/// come (in a run, or one now and then between accepts, as while
/// descriptors stay exhausted and connections come and go); after a
/// warning, one line when an accept (on any worker) succeeds again, with
/// the failures since. Every failure is counted in one of those lines: one
/// after the recovery line in the next warning, or, once no failure has
/// come for [`ACCEPT_WARNING_EVERY`], in a line at the next accept, or in
/// one as the server ends.
#[derive(Default)]
struct AcceptFailures {
    seen: std::sync::Mutex<FailuresSeen>,
    /// A line is owed at an accept (failures no line has counted yet): read
    /// at every accept, so kept apart from the lock, which accepts take only
    /// while it is set.
    owed: AtomicBool,
}

#[derive(Default)]
struct FailuresSeen {
    /// When the last warning was.
    warned_at: Option<Instant>,
    /// When the last failure was.
    failed_at: Option<Instant>,
    /// The last warning has had no accept after it yet.
    warned_unrecovered: bool,
    /// Failures since the last line that counted them.
    unreported: u64,
}

impl AcceptFailures {
    /// An accept failed with `error`.
    fn failed(&self, error: &io::Error) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.unreported += 1;
        self.owed.store(true, Ordering::Relaxed);
        let now = Instant::now();
        seen.failed_at = Some(now);
        if seen
            .warned_at
            .is_some_and(|at| now - at < ACCEPT_WARNING_EVERY)
        {
            log::debug!("lithe: accepting a connection failed ({error}); retrying");
            return;
        }
        let unreported = core::mem::take(&mut seen.unreported);
        seen.warned_at = Some(now);
        seen.warned_unrecovered = true;
        // Logged under the lock still, so that lines from several workers
        // come in the order of what they count.
        log::warn!(
            "lithe: accepting a connection failed ({error}); retrying ({unreported} failed since \
             the last line that counted them; failures within {} s of one go to debug)",
            ACCEPT_WARNING_EVERY.as_secs()
        );
    }

    /// An accept succeeded: the recovery, if a warning is unanswered, or
    /// the failures since the last line once they have stopped (failures
    /// still coming are the next warning's to count).
    #[inline]
    fn accepted(&self) {
        if !self.owed.load(Ordering::Relaxed) {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let stopped = seen
            .failed_at
            .is_none_or(|at| Instant::now() - at >= ACCEPT_WARNING_EVERY);
        if !(seen.warned_unrecovered || stopped) || !self.owed.load(Ordering::Relaxed) {
            return;
        }
        let unreported = core::mem::take(&mut seen.unreported);
        let after_a_warning = core::mem::take(&mut seen.warned_unrecovered);
        self.owed.store(false, Ordering::Relaxed);
        match after_a_warning {
            true => log::info!(
                "lithe: accepting connections again ({unreported} more failed since the warning)"
            ),
            false => log::info!(
                "lithe: accepting connections again ({unreported} more failed since the last \
                 line that counted them, none in the last {} s)",
                ACCEPT_WARNING_EVERY.as_secs()
            ),
        }
    }
}

impl Drop for AcceptFailures {
    /// The server has ended: failures no line has counted yet are counted
    /// now.
    fn drop(&mut self) {
        let seen = self.seen.get_mut().unwrap_or_else(|e| e.into_inner());
        if seen.unreported > 0 {
            log::info!(
                "lithe: the server ends with {} failed accepts since the last line that counted them",
                seen.unreported
            );
        }
    }
}
/// How many idle connections a worker short of room closes at a time (nginx
/// closes 32 when it runs out): enough for the clients a second brings, not
/// so many that one client costs every idle client its connection.
const MAKE_ROOM_FOR: usize = 64;

/// How long a client waiting on a shared listener is left for a worker with
/// room to take, before one at its limit makes room for it.
const TAKEN_BY_ANOTHER_WITHIN: Duration = Duration::from_millis(10);

/// Whether [`client_waiting`] can tell: elsewhere than on Linux, only
/// accepting would, so workers at their limit on a shared listener do not
/// make room for its clients.
const CAN_TELL_A_CLIENT_WAITS: bool = cfg!(target_os = "linux");

/// Whether a client is still waiting to be accepted on the shared `listener`
/// now, no worker with room having taken it.
fn client_waiting(listener: &StdListener) -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        poll(&mut fds, Some(&now)).is_ok_and(|ready| ready > 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = listener;
        false
    }
}

/// Where a worker makes room: for its listener's clients, among its own
/// connections; out of descriptors, among every worker's.
struct Rooms {
    /// Shared with the other workers of a shared listener.
    listener: Arc<RoomMade>,
    /// Shared by all the server's workers.
    everyone: Arc<Everyone>,
    /// This worker's index in `everyone.signals`.
    worker: usize,
}

/// Every worker of a server, by the signal its connections watch.
struct Everyone {
    /// When they were last all asked to make room.
    room: RoomMade,
    /// Failed accepts, as the log hears of them, for the whole server.
    accept_failures: AcceptFailures,
    signals: Vec<Shutdown>,
}

/// When room was last made, by a worker or (shared) by any of the workers
/// of one listener: they all see its clients waiting, and one of them
/// making room is enough (if it had an idle connection to close).
#[derive(Default)]
struct RoomMade(std::sync::Mutex<Option<Instant>>);

/// Whether room was asked for `at` less than [`MAKE_ROOM_EVERY`] ago.
fn asked_recently(at: Option<Instant>) -> bool {
    at.is_some_and(|at| at.elapsed() < MAKE_ROOM_EVERY)
}

impl RoomMade {
    /// Asks [`MAKE_ROOM_FOR`] of the idle connections of each of `signals`
    /// to close, unless room was made less than [`MAKE_ROOM_EVERY`] ago, or
    /// this worker asked that recently (`asked_here`: each round wakes all
    /// the connections it asks); when it asked.
    fn make(&self, signals: &[Shutdown], asked_here: &mut Option<Instant>) -> Option<Instant> {
        if asked_recently(*asked_here) {
            return None;
        }
        let mut last = self.last();
        if asked_recently(*last) {
            return None;
        }
        let now = Instant::now();
        (*last, *asked_here) = (Some(now), Some(now));
        for signal in signals {
            signal.close_some_idle(MAKE_ROOM_FOR);
        }
        // Logged last, here as in AcceptFailures: a logger that panics
        // (each time) costs the line, not the round.
        log::debug!("lithe: a worker short of room closes idle connections");
        Some(now)
    }

    /// The instant room was last made, locked (a poisoned lock still holds
    /// a good instant).
    fn last(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lets another worker short of room make it at once, the round asked
    /// `at` having found no idle connection to close (unless a later round
    /// has taken the turn since).
    fn forget(&self, at: Instant) {
        let mut last = self.last();
        if *last == Some(at) {
            *last = None;
        }
    }
}

/// Passes the server's signal on to a worker's: its trigger, and each
/// `close_idle` (a user's, through `Server::shutdown_signal`).
async fn pass_on(server: Shutdown, worker: Shutdown) {
    let mut idle_closes = server.idle_closes();
    loop {
        let listener = server.listen();
        if server.is_triggered() {
            worker.trigger();
            return;
        }
        let now = server.idle_closes();
        if now != idle_closes {
            idle_closes = now;
            worker.close_idle();
            continue;
        }
        listener.await;
    }
}

/// Whether a failed accept ran out of descriptors, the process's or the
/// system's.
fn out_of_descriptors(error: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if let Some(errno) = error.raw_os_error() {
        use rustix::io::Errno;
        let errno = Errno::from_raw_os_error(errno);
        return errno == Errno::MFILE || errno == Errno::NFILE;
    }
    let _ = error;
    false
}

/// How many failed accepts that concern one connection each are retried at
/// once in a row, before the next waits as other failures do.
const RETRIED_AT_ONCE: u32 = 16;

/// Failed accepts of one connection each, retried at once, in a row.
#[derive(Default)]
struct RetriedInARow(u32);

impl RetriedInARow {
    /// Whether to accept again at once after `error`: a failure of one
    /// connection, fewer than [`RETRIED_AT_ONCE`] in a row (counted).
    fn at_once_after(&mut self, error: &io::Error) -> bool {
        let at_once = fails_one_connection(error) && self.0 < RETRIED_AT_ONCE;
        self.0 += u32::from(at_once);
        at_once
    }

    /// An accept succeeded: the run is over.
    fn accepted(&mut self) {
        self.0 = 0;
    }
}

/// Whether a failed accept concerns only the connection it would have
/// returned (reset or unreachable while queued, refused by a firewall), which
/// accept(2) says to retry at once; anything else (out of descriptors or
/// memory) is waited out, so that the loop cannot spin.
fn fails_one_connection(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    if matches!(
        error.kind(),
        ConnectionAborted
            | ConnectionReset
            | TimedOut
            | PermissionDenied
            | NetworkDown
            | NetworkUnreachable
            | HostUnreachable
    ) {
        return true;
    }
    // The network errors accept(2) passes on that have no kind of their own.
    #[cfg(target_os = "linux")]
    if let Some(errno) = error.raw_os_error() {
        use rustix::io::Errno;
        let errno = Errno::from_raw_os_error(errno);
        return [
            Errno::PROTO,
            Errno::NOPROTOOPT,
            Errno::HOSTDOWN,
            Errno::NONET,
            Errno::OPNOTSUPP,
        ]
        .contains(&errno);
    }
    false
}

/// Elsewhere than on Linux a worker has no reactor of its own.
#[cfg(not(target_os = "linux"))]
enum Reactor {}

/// An accepted connection, set up for this worker: on its reactor if it has
/// one, on async-io's otherwise.
fn adopt(stream: std::net::TcpStream, reactor: Option<&Reactor>) -> io::Result<TcpStream> {
    let _ = stream.set_nodelay(true);
    match reactor {
        #[cfg(target_os = "linux")]
        Some(reactor) => TcpStream::on_worker(stream, reactor),
        _ => Ok(TcpStream::accepted(Async::new(stream)?)),
    }
}

/// Tasks run between two looks at the reactor while they keep the worker busy.
#[cfg(target_os = "linux")]
const TASKS_BETWEEN_WAITS: usize = 64;

/// Runs the executor's tasks until `main` finishes, waiting on the worker's own
/// reactor when there are none: the worker's connections are on it, and
/// anything else (timers, the listener, other threads) wakes the worker
/// through it.
#[cfg(target_os = "linux")]
fn run_on_reactor(ex: &LocalExecutor<'_>, main: &smol::Task<()>, reactor: &Reactor) {
    use core::future::Future;
    use core::task::Context;
    let waker = reactor.waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        let mut ran = 0;
        while ran < TASKS_BETWEEN_WAITS && ex.try_tick() {
            ran += 1;
        }
        if main.is_finished() {
            return;
        }
        if ran == TASKS_BETWEEN_WAITS {
            // Still busy: take in what became ready meanwhile, without blocking.
            let _ = reactor.wait(Some(Duration::ZERO));
            continue;
        }
        // Announce the sleep before the last look at the queue, so a wakeup
        // from another thread after it interrupts the wait.
        reactor.prepare_sleep();
        let mut tick = core::pin::pin!(ex.tick());
        if tick.as_mut().poll(&mut cx).is_pending() {
            let _ = reactor.wait(None);
        }
        reactor.wake_up();
    }
}

/// Longest stretch of running tasks between two looks at the reactor.
const REACTOR_POLL_INTERVAL: Duration = Duration::from_micros(25);

/// Runs the executor's tasks until `main` finishes, looking at the reactor at
/// least every [`REACTOR_POLL_INTERVAL`] while tasks keep it busy.
///
/// Why not `ex.run(main)`: that returns to `block_on`, the only place that
/// polls the reactor, once per 200 tasks. async-io's helper thread, which
/// wakes every 50 µs to 10 ms, takes over the reactor whenever no poll
/// happened since its last look; from then on every I/O event reaches this
/// thread through a futex wake and a context switch, and under pipelined load
/// that more than halves the requests served. Polling this often keeps the
/// reactor here.
async fn run_until_finished(ex: &LocalExecutor<'_>, main: smol::Task<()>) {
    loop {
        let started = Instant::now();
        let mut ran = 0usize;
        while ex.try_tick() {
            ran += 1;
            if started.elapsed() >= REACTOR_POLL_INTERVAL {
                break;
            }
        }
        if main.is_finished() {
            return main.await;
        }
        if ran > 0 {
            // Back to `block_on`, which polls the reactor without blocking.
            future::yield_now().await;
        } else {
            // Nothing to run: `block_on` waits on the reactor until a task is
            // woken, then one runs.
            ex.tick().await;
        }
    }
}

/// How a server makes each connection's service: in two steps, one as the
/// connection is accepted, one once its TLS handshake (if any) is done, so
/// that each maker runs where its documentation says.
trait MakeService: 'static {
    type Service: Service + 'static;
    /// What the first step leaves for the second.
    type Prepared: 'static;
    fn prepare(&self, client: SocketAddr) -> Self::Prepared;
    fn make(&self, prepared: Self::Prepared, stream: &MaybeTls) -> Self::Service;
}

/// [`Server::bind_per_connection`]'s maker: all of it at the accept.
#[derive(Clone)]
struct PerConnection<M>(M);

impl<M: Fn(SocketAddr) -> S + 'static, S: Service + 'static> MakeService for PerConnection<M> {
    type Service = S;
    type Prepared = S;
    fn prepare(&self, client: SocketAddr) -> S {
        (self.0)(client)
    }
    fn make(&self, made: S, _: &MaybeTls) -> S {
        made
    }
}

/// [`Server::bind_per_stream`]'s maker: all of it after the handshake.
#[derive(Clone)]
struct PerStream<M>(M);

impl<M: Fn(SocketAddr, &MaybeTls) -> S + 'static, S: Service + 'static> MakeService
    for PerStream<M>
{
    type Service = S;
    type Prepared = SocketAddr;
    fn prepare(&self, client: SocketAddr) -> SocketAddr {
        client
    }
    fn make(&self, client: SocketAddr, stream: &MaybeTls) -> S {
        (self.0)(client, stream)
    }
}

/// Whether what a client sent a TLS port begins as plain HTTP does: a
/// letter (a method's), where a TLS record begins with its type, a byte
/// from 20 to 24. Looked at without taking it.
#[cfg(feature = "tls")]
fn begins_like_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.get_ref().peek(&mut first), Ok(1)) && first[0].is_ascii_alphabetic()
}

/// Tells a client that spoke plain HTTP to a TLS port so, in plain HTTP
/// (as Go's and nginx's servers do), rather than with a TLS alert its
/// parser reads as garbage, and closes. Then what it sent is read and
/// dropped (up to 64 KiB, within a second) before the socket is: one closed
/// with bytes unread resets, which can destroy the answer before the client
/// reads it.
#[cfg(feature = "tls")]
async fn refuse_plain_http(mut stream: TcpStream, client: SocketAddr) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    log::debug!("lithe: plain HTTP on the TLS port ({client}): answered 400");
    const ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\n\
        content-type: text/plain\r\n\
        connection: close\r\n\
        \r\n\
        This port speaks HTTPS: send the request over TLS.\n";
    let answered = async {
        stream.write_all(ANSWER).await?;
        stream.close().await?;
        let mut scratch = [0u8; 2048];
        let mut left = 64 * 1024usize;
        while left > 0 {
            match stream.read(&mut scratch).await? {
                0 => break,
                n => left = left.saturating_sub(n),
            }
        }
        Ok::<(), io::Error>(())
    };
    let linger = async {
        Timer::after(Duration::from_secs(1)).await;
        Ok(())
    };
    let _ = future::or(answered, linger).await;
}

/// The TLS handshake, when configured, bounded by its own timeout. Until
/// its first byte comes the connection is idle, and closes when idle
/// connections are asked to (a worker at its connection limit making room):
/// a flood of connects that never say hello would otherwise hold their slots
/// for the whole handshake timeout, where the same flood over plain HTTP is
/// closed to make room. Once the hello has begun, the handshake is in
/// flight, as a head begun is.
///
/// A shutdown gives the handshake and the first request, together, the
/// grace the driver gives a plain connection accepted just before it (its
/// hello, like a plain client's request, may be a round trip behind the
/// connect, and a client retries a fresh connection's failure far less
/// readily than a reused one's): returned with the stream, when it ends.
async fn handshake(
    stream: TcpStream,
    client: SocketAddr,
    config: &ServeConfig,
    shutdown: &Shutdown,
) -> Option<(MaybeTls, Option<Instant>)> {
    #[cfg(feature = "tls")]
    if let Some(acceptor) = &config.tls {
        // Boxed: its states (rustls' acceptor, the plain-HTTP refusal's
        // buffer) would otherwise size every connection's task for as long
        // as the connection lasts, plain and idle ones included.
        return Box::pin(tls_handshake(stream, client, acceptor, config, shutdown)).await;
    }
    let _ = (client, config, shutdown);
    Some((MaybeTls::Plain(stream), None))
}

/// [`handshake`] under TLS, with `acceptor`.
#[cfg(feature = "tls")]
async fn tls_handshake(
    mut stream: TcpStream,
    client: SocketAddr,
    acceptor: &super::tls::TlsAcceptor,
    config: &ServeConfig,
    shutdown: &Shutdown,
) -> Option<(MaybeTls, Option<Instant>)> {
    let limit = config.tls_handshake_timeout.unwrap_or(Duration::MAX);
    let mut timer = Timer::after(limit);
    let grace = Cell::new(None);
    let grace_over = || async {
        shutdown.triggered().await;
        let ends = grace.get().unwrap_or_else(|| {
            let ends = Instant::now() + crate::io::SHUTDOWN_HEAD_GRACE;
            grace.set(Some(ends));
            ends
        });
        Timer::at(ends).await;
    };
    let hello_begun = async {
        future::poll_fn(|cx| stream.poll_readable(cx))
            .await
            .inspect_err(|e| {
                log::debug!("lithe: a connection failed before its TLS hello ({client}): {e}")
            })
            .ok()
    };
    let given_up = async {
        future::or(
            async {
                (&mut timer).await;
            },
            future::or(asked_to_make_room(shutdown), grace_over()),
        )
        .await;
        None
    };
    future::or(hello_begun, given_up).await?;
    // Bounded as a handshake is, by its timeout and the shutdown grace.
    let accept = async {
        if begins_like_plain_http(&stream) {
            refuse_plain_http(stream, client).await;
            return None;
        }
        acceptor
            .accept(stream)
            .await
            .inspect_err(|e| log::debug!("lithe: a TLS handshake failed ({client}): {e}"))
            .ok()
    };
    let timeout = async {
        timer.await;
        None
    };
    let stop = async {
        grace_over().await;
        None
    };
    let tls = future::or(future::or(accept, timeout), stop).await?;
    Some((MaybeTls::TlsServer(Box::new(tls)), grace.get()))
}

/// Completes when idle connections are asked to close and this one, with
/// nothing sent yet, is among those closed.
#[cfg(feature = "tls")]
async fn asked_to_make_room(shutdown: &Shutdown) {
    let mut seen = shutdown.idle_closes();
    loop {
        let listener = shutdown.listen();
        if shutdown.asks_to_close(&mut seen).is_some() {
            return;
        }
        listener.await;
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{RETRIED_AT_ONCE, RetriedInARow, fails_one_connection};
    use rustix::io::Errno;
    use std::io;

    /// A plain connection's handshake adds little to its task, which lives
    /// as long as the connection does: the TLS handshake's states (rustls'
    /// acceptor, the plain-HTTP refusal's 2 KiB buffer) are boxed apart.
    /// They were not, and each idle connection of hello_server cost 289
    /// bytes more (4,363 against 4,074).
    #[test]
    fn a_handshake_future_is_small_whatever_the_tls_states() {
        use super::{ServeConfig, Shutdown, TcpStream, handshake};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, client) = listener.accept().unwrap();
        let stream = TcpStream::from(smol::Async::new(accepted).unwrap());
        let (config, shutdown) = (ServeConfig::default(), Shutdown::new());
        let future = handshake(stream, client, &config, &shutdown);
        let size = core::mem::size_of_val(&future);
        assert!(size <= 256, "{size} bytes");
    }

    /// A connection reset while queued is retried at once; running out of
    /// descriptors, or an error without an errno, is waited out.
    #[test]
    fn only_failures_of_one_connection_are_retried_at_once() {
        let errno = |e: Errno| io::Error::from_raw_os_error(e.raw_os_error());
        for retried in [Errno::CONNABORTED, Errno::PROTO, Errno::NETUNREACH] {
            assert!(fails_one_connection(&errno(retried)), "{retried:?}");
        }
        for waited in [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM] {
            assert!(!fails_one_connection(&errno(waited)), "{waited:?}");
        }
        assert!(!fails_one_connection(&io::Error::other("no errno")));
    }

    /// The same failure of one connection repeating (a filter refusing every
    /// accept) is retried at once only so many times in a row, so the accept
    /// loop cannot spin; an accept that succeeds starts the count again.
    #[test]
    fn failures_of_one_connection_are_retried_at_once_a_bounded_number_in_a_row() {
        let aborted = io::Error::from_raw_os_error(Errno::CONNABORTED.raw_os_error());
        let mut retried = RetriedInARow::default();
        for _ in 0..RETRIED_AT_ONCE {
            assert!(retried.at_once_after(&aborted));
        }
        assert!(!retried.at_once_after(&aborted));
        assert!(!retried.at_once_after(&aborted));
        retried.accepted();
        assert!(retried.at_once_after(&aborted));
        let out_of_descriptors = io::Error::from_raw_os_error(Errno::MFILE.raw_os_error());
        assert!(!RetriedInARow::default().at_once_after(&out_of_descriptors));
    }
}

#[cfg(test)]
mod accept_failure_lines {
    use super::{ACCEPT_WARNING_EVERY, AcceptFailures, Instant, Ordering, io};

    /// A long outage in which accepts keep succeeding between the failures
    /// (descriptors exhausted while connections come and go): a warning
    /// every [`ACCEPT_WARNING_EVERY`] whatever the accepts between, one
    /// recovery line after each, and the failures after it counted by the
    /// next warning, or, once they stop, at the next accept.
    #[test]
    fn accept_failures_warn_once_a_while_however_accepts_come_between() {
        let Some(long_ago) = Instant::now().checked_sub(ACCEPT_WARNING_EVERY * 2) else {
            return; // A clock that starts at boot, on a host booted just now.
        };
        let failures = AcceptFailures::default();
        let error = io::Error::other("out of descriptors");
        let state = || {
            let seen = failures.seen.lock().unwrap();
            let owed = failures.owed.load(Ordering::Relaxed);
            (seen.warned_unrecovered, seen.unreported, owed)
        };
        failures.failed(&error);
        assert_eq!(state(), (true, 0, true), "warned");
        failures.accepted();
        assert_eq!(state(), (false, 0, false), "recovered");
        failures.failed(&error);
        assert_eq!(state(), (false, 1, true), "a failure within the interval");
        failures.accepted();
        assert_eq!(state(), (false, 1, true), "failures still coming");
        // The interval has passed, failures still coming: an accept first
        // leaves the next failure its warning.
        failures.seen.lock().unwrap().warned_at = Some(long_ago);
        failures.accepted();
        assert_eq!(state(), (false, 1, true), "an accept past the interval");
        failures.failed(&error);
        assert_eq!(state(), (true, 0, true), "warned again");
        failures.accepted();
        failures.failed(&error);
        // The failures stop: the next accept, once the interval has passed
        // since the last, counts them.
        failures.seen.lock().unwrap().failed_at = Some(long_ago);
        failures.accepted();
        assert_eq!(state(), (false, 0, false), "counted once they stopped");
    }
}
