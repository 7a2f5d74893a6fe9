//! [`ServerConfig`]: the timeouts, limits and choices of a server connection.

use std::time::Duration;

use crate::proto;

/// How a server connection behaves. The defaults suit a public server. A
/// head, body or write timeout of `Duration::ZERO` expires at the first wait
/// on the client (a head or body not all there gets 408; a response the
/// client is not reading yet is given up), not "no timeout": for that,
/// `None`. An idle timeout of zero turns keep-alive off.
///
/// # Memory per connection
///
/// What a peer can make a connection hold is bounded by these settings,
/// whatever it sends: a read buffer of up to about twice the head limit
/// (`proto.limits.max_head_bytes`, 16 KiB by default), or the limit and
/// the 8 KiB a read takes when that is more (a head limit below 8 KiB saves less),
/// while a head arrives; request body data one chunk at a time, read only as
/// the service asks for it; and up to 128 KiB of output (pipelined responses
/// are batched to 64 KiB, plus the response that crossed it) for as long as a
/// peer that does not read is allowed to stall (`write_timeout`,
/// `min_progress_bytes`). Parked between requests, a connection keeps at most
/// 512 bytes of each buffer, besides any empty lines the client sent after a
/// request (up to the head limit, which may keep the buffer they arrived in).
/// Closing, while it lingers to read what the peer still sends (so that a
/// reset does not destroy the answer), it holds no read buffer: that is read
/// through a small array of the thread's and thrown away. Body chunks and
/// received header values are slices of the read buffer, not copies: one
/// the service keeps keeps that buffer alive (a buffer grown past
/// 64 KiB hands out copies of small pieces instead), so copy what is kept for
/// long. While the service takes its time (a long poll, a stream), with its
/// request read, a connection keeps at most 32 KiB of output buffer and 16 KiB
/// of read buffer (more only to hold bytes pipelined behind, in at most twice
/// their size). Over TLS, rustls adds its own buffers (by default up to 64 KiB
/// of records to send and 16 KiB of received plaintext), and one for records
/// received whole or in part, which a peer can fill even on a connection
/// lithe sees as parked: about 18 KiB with a record left a byte short, up
/// to 64 KiB with a handshake message left unfinished.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Parsing limits and leniencies.
    pub proto: proto::Config,
    /// How long a head may take from its first byte to its last. Default 30 s.
    /// Also how long a new connection may take to begin its first request,
    /// if that is shorter than `idle_timeout` (a connection opened and left
    /// silent is not a keep-alive one; nginx's `client_header_timeout`).
    /// The first byte is the first the transport gives: over TLS, the first
    /// of a whole record, so a record still arriving counts as idle time.
    pub head_timeout: Option<Duration>,
    /// How long a keep-alive connection may wait for its next request. Default
    /// 75 s, like aiohttp. `Some(Duration::ZERO)` turns keep-alive off, as
    /// nginx's `keepalive_timeout 0` does: every response says `Connection:
    /// close` and is the connection's last (a new connection still has
    /// `head_timeout` to begin its request).
    pub idle_timeout: Option<Duration>,
    /// How long reading a request body may wait on the client without
    /// [`min_progress_bytes`](Self::min_progress_bytes) arriving. Default 60
    /// s. The service reading it gets `Error::Timeout(Timeout::Body)`; the
    /// client gets `408 Request Timeout` in place of the service's answer if
    /// that has not begun to go out (else that answer goes out whole, unless
    /// its body fails on the request body's error, as an echo's does, which
    /// cuts it short), and the connection closes. Also how long, in all, the
    /// rest of a body the service left unread may take to drain after the
    /// response on a connection kept, or before a 101 that waits for it (see
    /// `drain_limit`). With
    /// `None`, neither is bounded: a client that stops sending holds the
    /// connection until a shutdown ends the drain, and a held 101 for as long
    /// as the connection stays open.
    pub body_timeout: Option<Duration>,
    /// How long writing may wait on the client without
    /// [`min_progress_bytes`](Self::min_progress_bytes) going out. Default 60
    /// s.
    pub write_timeout: Option<Duration>,
    /// Bytes a request body must bring, and the transport must take of a
    /// response, for a wait on the peer to count as progress: within each
    /// `body_timeout` (`write_timeout`) of waiting, at least this many must
    /// move, or the wait times out. A floor under the transfer rate, 4 KiB a
    /// minute by default (about 68 bytes a second), against a peer that
    /// trickles one byte just often enough never to time out, holding a
    /// connection and its service for as long as it likes. The clock runs
    /// from when a read or write first waits until enough has moved; time
    /// between waits (the service busy, not reading) is not counted, though
    /// a read the service abandoned mid-wait counts until the next one. What
    /// counts for writes is what the transport accepts, and for reads what
    /// it hands over. Over TLS that is coarser than the socket's traffic: a
    /// read gets nothing until a whole record (up to 16 KiB) has arrived,
    /// and a write's bytes go into the TLS stream's buffer (up to 64 KiB
    /// with rustls), whose draining counts nothing, so the last of a
    /// response must drain within `write_timeout`: over TLS a client
    /// reading slower than about 64 KiB per `write_timeout` is cut off
    /// whatever this floor. 1 (or 0) makes the timeouts bound silence alone
    /// over plain TCP (for request bodies that stream sparse messages by
    /// design).
    pub min_progress_bytes: u64,
    /// Bytes of an unread request body read and discarded to keep the
    /// connection (after the response, and while it waits to go out once the
    /// service has dropped the body); a longer body closes it, as does one
    /// that takes longer than `body_timeout` in all, or a shutdown. A chunked body states
    /// no length, so it is drained only if its end has already arrived when
    /// the response starts; otherwise the response says `Connection: close`.
    /// (That is decided as the response starts, for a body the service
    /// dropped unread. One it still holds then, in its response body or a
    /// task of its own, may yet be read: the head keeps the connection, a
    /// client waiting for `100 Continue` gets it, and what is left of the
    /// body when the response ends is drained the same way, or the
    /// connection closes. Unless the response goes out whole at once, or
    /// has no body to send (HEAD, 204, 304): nothing then waits for the
    /// body, which is settled as one dropped unread.)
    /// A 101 the service gave before the body was read waits for the drain
    /// (chunked too, and a shutdown does not end it), if it can be sent (a
    /// 101 that cannot is answered 500 at once): a body past this limit
    /// gets a 413 instead, and the connection closes. A connection that
    /// closes after the response anyway (`Connection: close`, HTTP/1.0, a
    /// response the close delimits) drains nothing: it reads and discards
    /// what arrives while the end of its response waits to go out, ends its
    /// sending side, so that the client sees the response end, and its
    /// linger reads and discards what still arrives (until a second passes
    /// with nothing, ten seconds at most). Default 64 KiB.
    pub drain_limit: u64,
    /// Whether responses get a `Date` field with the current time when the
    /// service set none, as RFC 9110 §6.6.1 asks of an origin server with a
    /// clock (1xx responses excepted). Default `true`; turn it off for a
    /// server without a trustworthy clock, or when a proxy in front adds it.
    pub date_header: bool,
    /// Whether a client that ends its sending side (TCP's FIN, TLS's
    /// close_notify) after its request still gets the answer. While the
    /// service works on a request whose body is all read, with nothing else
    /// buffered but empty lines (up to the head size limit), the connection
    /// is watched: a client that resets it is gone,
    /// and so, unless this is `true`, is one that ends its side. Its request
    /// is then abandoned: the service's future (or its response body) is
    /// dropped, which cancels it, and the connection closes at once, rather
    /// than holding its slot until a long poll or a stalled stream yields an
    /// answer nobody reads. Answers to requests pipelined before it still go
    /// out. Default `true`, as aiohttp: clients that write a request and end
    /// their side at once (`nc -N`, a test over a pipe) are answered (with
    /// `connection: close` when the watch saw the end first, unless the
    /// request proposed a protocol switch, which the answer may still
    /// accept), and only a reset abandons a request. `false` abandons on
    /// either, as hyper and nginx do: a client that hangs up (a closed
    /// browser tab, a cancelled `curl`) most often sends a FIN, not a reset.
    pub half_close: bool,
}

impl ServerConfig {
    /// Whether an idle timeout of zero turns keep-alive off (see
    /// [`idle_timeout`](Self::idle_timeout)).
    pub(crate) fn keep_alive_off(&self) -> bool {
        self.idle_timeout == Some(Duration::ZERO)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            proto: proto::Config::default(),
            head_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(75)),
            body_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(60)),
            min_progress_bytes: 4 * 1024,
            drain_limit: 64 * 1024,
            date_header: true,
            half_close: true,
        }
    }
}
