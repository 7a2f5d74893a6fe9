//! [`ClientConfig`]: the timeouts and limits of a client connection.

use std::time::Duration;

use crate::proto;

/// How a client connection behaves. A timeout of `Duration::ZERO` expires at
/// the first wait (the body goes without waiting for `100 Continue`; a
/// response not there yet is a timeout), not "no timeout": for that, `None`
/// where the field takes it, or `Duration::MAX`.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Parsing limits and leniencies. The defaults are `proto`'s, except that
    /// a response head may take up to [`RESPONSE_HEAD_LIMIT`]: the server
    /// sizes it (many cookies, long policies), and a client that refused a
    /// head hyper's accepts (about 400 KiB) could not talk to that server.
    pub proto: proto::Config,
    /// How long to wait for `100 Continue` (or a 1xx of no known meaning,
    /// which counts as one, RFC 9110 §15) before sending the body anyway.
    /// Default 1 s. The read timeout does not cut this wait short; one past
    /// what the clock can count (`Duration::MAX`) waits for the `100` or the
    /// answer without limit ([`total_timeout`](Self::total_timeout) still
    /// bounds the exchange). Not waited at all on a connection whose server
    /// last answered in HTTP/1.0, which sends no `100`.
    pub continue_timeout: Duration,
    /// How long a read may wait for bytes (response head or body), counted
    /// from the end of the request body: while it still goes out, the server
    /// may be reading it before it answers, and the writes have their own
    /// timeout. Default 30 s. (A request body whose own stream stalls is
    /// waited for as long as it stalls, as the server's driver waits for a
    /// service: bound it where it is produced, or bound the whole exchange
    /// with [`total_timeout`](Self::total_timeout).)
    pub read_timeout: Option<Duration>,
    /// How long a write may make no progress. Default 30 s. What counts is
    /// what the transport takes: a TLS stream takes up to 64 KiB into its
    /// buffer (rustls's), whose draining counts nothing, so over TLS a
    /// server reading the upload slower than about 64 KiB per this timeout
    /// fails it though bytes keep moving.
    pub write_timeout: Option<Duration>,
    /// How long a response head may take from its first byte to its last,
    /// each interim one (`100 Continue`, `103 Early Hints`) and the final one
    /// on its own. Default 30 s, as the server's
    /// [`head_timeout`](crate::io::ServerConfig::head_timeout): the read timeout
    /// bounds each wait for bytes, this the whole head, so that a server
    /// trickling one cannot hold the request. (Interim responses are bounded
    /// in number by the limits' `max_interim_responses`, each wait between
    /// them by the read timeout; a body has only the read timeout between its
    /// bytes: [`total_timeout`](Self::total_timeout) bounds a whole
    /// exchange.)
    pub head_timeout: Option<Duration>,
    /// How long one exchange may take in all: from
    /// [`send`](crate::io::ClientConnection::send) until the response body has
    /// been read to its end and the request body is all sent, interim
    /// responses, a server that answers slowly but steadily, and a request body
    /// stream that stalls included. Past it, the next step of the exchange (a
    /// wait, a read of the response body, a piece of the request body) fails
    /// with [`Timeout::Total`](crate::io::Timeout::Total) and the connection is
    /// not reused. Default none, as reqwest's `timeout` and hyper (aiohttp's
    /// `total` is 5 minutes): a download may take as long as it keeps moving,
    /// each wait bounded by the timeouts above. Unlike reqwest's, its clock
    /// starts at `send`: opening the connection has its own
    /// [`ConnectConfig::connect_timeout`](crate::rt::ConnectConfig), so a
    /// request on a fresh connection may take the two together. A deadline
    /// of the caller's own is a race with the exchange (`future::or` with a
    /// timer): the exchange dropped partway leaves the connection not
    /// reusable, and the next `send` on it is refused unsent.
    pub total_timeout: Option<Duration>,
}

/// The default limit on a response head's bytes: 1 MiB.
pub const RESPONSE_HEAD_LIMIT: usize = 1 << 20;

impl Default for ClientConfig {
    fn default() -> Self {
        let mut proto = proto::Config::default();
        proto.limits.max_head_bytes = RESPONSE_HEAD_LIMIT;
        ClientConfig {
            proto,
            continue_timeout: Duration::from_secs(1),
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Some(Duration::from_secs(30)),
            head_timeout: Some(Duration::from_secs(30)),
            total_timeout: None,
        }
    }
}
