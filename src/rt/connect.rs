//! Opening client connections: [`Url`] parsing, DNS and TCP with a timeout
//! ([`connect`]), TLS for `https` ([`open`]).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use std::net::SocketAddr;
use std::time::Duration;

use futures_lite::future;
use smol::Timer;

use super::stream::{MaybeTls, TcpStream};
use crate::io::{Body, ByteStr, ClientConfig, ClientConnection, Error, Request, Timeout};
use crate::proto::TargetForm;

/// An `http` or `https` URL, split into what a connection needs.
///
/// Parsed as browsers parse URLs (the WHATWG URL Standard, by the `url`
/// crate): the scheme and host are case-insensitive, international host names
/// become their ASCII form, IPv6 literals go in brackets, spaces and other
/// bytes a request line cannot carry are percent-encoded (and, in the query,
/// `'`), `.` and `..` path segments (`%2e` too) are resolved, the scheme's
/// default port is left out of the authority, and the fragment is dropped.
/// Escapes already there are kept as they are. A tab or line break anywhere
/// is refused: the URL Standard deletes them, which would send a request
/// other than the one written (`/a\r\nX: 1` as `/aX:%201`, `.\n.` as `..`).
///
/// ```
/// use lithe::rt::Url;
/// let url = Url::parse("http://example.com:8080/a/b?c=d").unwrap();
/// assert_eq!(url.host(), "example.com");
/// assert_eq!(url.port(), 8080);
/// assert_eq!(url.target(), "/a/b?c=d");
/// assert_eq!(url.authority(), "example.com:8080");
/// assert!(!url.is_https());
///
/// let url = Url::parse("HTTPS://[::1]/a b#top").unwrap();
/// assert_eq!((url.host(), url.port()), ("::1", 443));
/// assert_eq!(url.authority(), "[::1]");
/// assert_eq!(url.target(), "/a%20b");
///
/// // `parse` through `FromStr`, and a map key: URLs equal as parsed hash
/// // alike. The target counts too: an origin's key is scheme, host and port.
/// let url: Url = "http://example.com/".parse().unwrap();
/// let mut seen = std::collections::HashSet::new();
/// assert!(seen.insert(url.clone()));
/// assert!(!seen.insert(Url::parse("HTTP://EXAMPLE.com:80/").unwrap()));
/// assert!(seen.insert(Url::parse("http://example.com/other").unwrap()));
/// let origin = |url: &Url| (url.is_https(), url.host().to_owned(), url.port());
/// assert_eq!(origin(&url), origin(&"http://example.com:80/other".parse().unwrap()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    target: String,
}

/// [`Url::parse`].
impl std::str::FromStr for Url {
    type Err = Error;

    fn from_str(url: &str) -> Result<Url, Error> {
        Url::parse(url)
    }
}

impl Url {
    /// Parses an absolute `http` or `https` URL. A URL with user information
    /// (`user:password@`) is refused: nothing here would send it, and such
    /// URLs are a classic way to disguise the real host.
    pub fn parse(url: &str) -> Result<Url, Error> {
        if url.contains(['\t', '\r', '\n']) {
            return Err(Error::InvalidUrl("a tab or line break in the URL"));
        }
        let parsed = url::Url::parse(url).map_err(|e| Error::InvalidUrl(url_error(e)))?;
        let https = match parsed.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(Error::InvalidUrl("scheme must be http or https")),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Error::InvalidUrl("userinfo is not supported"));
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(address)) => address.to_string(),
            None => return Err(Error::InvalidUrl("empty host")),
        };
        let port = parsed
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        if port == 0 {
            // What browsers refuse too: no TCP connection reaches it.
            return Err(Error::InvalidUrl("port 0 cannot be connected to"));
        }
        // The Host header: the host as the URL writes it (brackets and all),
        // with the port when it is not the scheme's default.
        let host_text = parsed.host_str().unwrap_or_default();
        // The URL standard lets through bytes a Host field may not carry
        // (`{`, `}`, ...), which would fail only as the request is sent.
        if TargetForm::of(&format!("{host_text}:{port}")) != TargetForm::Authority {
            return Err(Error::InvalidUrl(
                "the host is not one a Host field can carry",
            ));
        }
        let authority = match parsed.port() {
            Some(port) => format!("{host_text}:{port}"),
            None => host_text.to_owned(),
        };
        let target = match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        Ok(Url {
            https,
            host,
            port,
            authority,
            target,
        })
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host name or IP address (without IPv6 brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host[:port]`, the port only when it is not the scheme's default: the
    /// value of the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request-target: path and query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A request with `method` for this URL's target, as
    /// `Request::new(method, url.target().to_owned())`; sent on a connection
    /// [`open`]ed to the URL, it gets the URL's authority as Host.
    ///
    /// ```
    /// let url = lithe::rt::Url::parse("http://h.example/a?b=1#frag")?;
    /// let request = url.request("GET");
    /// assert_eq!((request.method(), request.target()), ("GET", "/a?b=1"));
    /// # Ok::<(), lithe::io::Error>(())
    /// ```
    pub fn request(&self, method: impl Into<ByteStr>) -> Request<Body> {
        Request::new(method, self.target.clone())
    }

    /// This URL with `pairs` added to its query, each name and value
    /// encoded as a form's are (`application/x-www-form-urlencoded`: a
    /// space as `+`; `&`, `=`, `%`, `+` and the rest escaped), as reqwest's
    /// `RequestBuilder::query` and url's `Url::parse_with_params` add them:
    /// a value never splits into two parameters.
    ///
    /// ```
    /// let url = lithe::rt::Url::parse("http://h.example/search?lang=en")?
    ///     .with_query_pairs([("q", "R&D 100%"), ("page", "2")]);
    /// assert_eq!(url.target(), "/search?lang=en&q=R%26D+100%25&page=2");
    /// let bare = lithe::rt::Url::parse("http://h.example/s?")?.with_query_pairs([("a", "b")]);
    /// assert_eq!(bare.target(), "/s?a=b");
    /// let none = lithe::rt::Url::parse("http://h.example/s")?.with_query_pairs([("", ""); 0]);
    /// assert_eq!(none.target(), "/s");
    /// # Ok::<(), lithe::io::Error>(())
    /// ```
    #[must_use]
    pub fn with_query_pairs<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Url {
        let mut added = url::form_urlencoded::Serializer::new(String::new());
        added.extend_pairs(pairs);
        let added = added.finish();
        if added.is_empty() {
            return self;
        }
        match self.target.find('?') {
            None => self.target.push('?'),
            Some(at) if at + 1 < self.target.len() => self.target.push('&'),
            Some(_) => {}
        }
        self.target.push_str(&added);
        self
    }
}

/// What is wrong with a URL, in words.
fn url_error(error: url::ParseError) -> &'static str {
    use url::ParseError as E;
    match error {
        E::EmptyHost => "empty host",
        // Also a forbidden character (a space, `<`, `^`) in an http(s)
        // host: url (from 2.5.4, on idna 1) checks those in the same step.
        E::IdnaError => "invalid host name",
        E::InvalidPort => "invalid port",
        E::InvalidIpv4Address => "invalid IPv4 address",
        E::InvalidIpv6Address => "invalid IPv6 address",
        E::InvalidDomainCharacter => "invalid character in the host",
        E::RelativeUrlWithoutBase => "not an absolute URL",
        _ => "malformed URL",
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority, self.target)
    }
}

/// How [`open`] connects.
#[derive(Clone, Debug)]
pub struct ConnectConfig {
    /// DNS, TCP and TLS together must finish within this. Default 10 s.
    pub connect_timeout: Duration,
    /// How the connection behaves once open.
    pub client: ClientConfig,
    /// TLS for `https` URLs; by default verifying against the webpki roots.
    #[cfg(feature = "tls")]
    pub tls: Option<super::tls::TlsConnector>,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        ConnectConfig {
            connect_timeout: Duration::from_secs(10),
            client: ClientConfig::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// Resolves `host` and connects over TCP to the first of its addresses that
/// answers (see [`connect_any`]), giving up after `timeout`, resolution
/// included.
///
/// `host` is a name or an IP address as written in a URL without its
/// brackets: `::1`, not `[::1]` ([`Url::host`] gives it so). A name that
/// does not resolve is an I/O error as the system's resolver reports it
/// ("failed to lookup address information: ..."), of no kind std lets a
/// caller match; when every address fails, the error is the last one's (of
/// kind `ConnectionRefused` for a server that refused, for one), and
/// running out of time is [`Timeout::Connect`].
pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Error> {
    connected(with_timeout(resolve_and_race(host, port), timeout).await?)
}

/// [`connect`] without its timeout (and before `TCP_NODELAY`).
async fn resolve_and_race(host: &str, port: u16) -> Result<smol::net::TcpStream, Error> {
    let addresses = smol::net::resolve((host, port)).await?;
    race(&interleave_families(addresses.into_iter())).await
}

/// Connects over TCP to the first of `addresses` that answers, giving up after
/// `timeout`.
///
/// Attempts start in order, each [`ATTEMPT_HEAD_START`] after the one before
/// or as soon as it fails, and the ones already started keep going (RFC 8305,
/// "Happy Eyeballs"): an address that silently drops packets, as unreachable
/// IPv6 often does, delays the connection instead of using up the timeout.
///
/// When every attempt fails, the error is the last attempt's; when the
/// timeout comes first, it is [`Timeout::Connect`], whatever failed before.
/// With no addresses at all, it is an I/O error of kind `NotFound`.
///
/// ```
/// use std::time::Duration;
/// # lithe::rt::block_on(async {
/// let none = lithe::rt::connect_any(&[], Duration::from_secs(1)).await;
/// assert!(matches!(none, Err(lithe::io::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound));
/// # });
/// ```
pub async fn connect_any(addresses: &[SocketAddr], timeout: Duration) -> Result<TcpStream, Error> {
    connected(with_timeout(race(addresses), timeout).await?)
}

/// How long an attempt has to itself before the next address is tried beside
/// it: RFC 8305 recommends 250 ms.
pub const ATTEMPT_HEAD_START: Duration = Duration::from_millis(250);

fn connected(stream: smol::net::TcpStream) -> Result<TcpStream, Error> {
    let _ = stream.set_nodelay(true);
    Ok(TcpStream::from(stream))
}

/// Addresses alternating between families, starting with the first one's
/// (RFC 8305 §4), so that a family that does not work costs one head start.
fn interleave_families(addresses: impl Iterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    let (mut first, mut other): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for address in addresses {
        match first.first() {
            Some(f) if SocketAddr::is_ipv4(f) != address.is_ipv4() => other.push(address),
            _ => first.push(address),
        }
    }
    let mut all = Vec::with_capacity(first.len() + other.len());
    let (mut first, mut other) = (first.into_iter(), other.into_iter());
    loop {
        match (first.next(), other.next()) {
            (None, None) => return all,
            (a, b) => all.extend(a.into_iter().chain(b)),
        }
    }
}

type Attempt = Pin<Box<dyn Future<Output = std::io::Result<smol::net::TcpStream>> + Send>>;

/// The staggered attempts of [`connect_any`], without its timeout.
async fn race(addresses: &[SocketAddr]) -> Result<smol::net::TcpStream, Error> {
    let mut waiting = addresses.iter().copied();
    let mut running: Vec<Attempt> = Vec::new();
    let mut head_start = Timer::never();
    let mut last_error = None;
    // Starts the next attempt, if any address is left, with its head start.
    let mut start_next = |running: &mut Vec<Attempt>, head_start: &mut Timer| match waiting.next() {
        Some(address) => {
            running.push(Box::pin(smol::net::TcpStream::connect(address)));
            head_start.set_after(ATTEMPT_HEAD_START);
            true
        }
        None => {
            *head_start = Timer::never();
            false
        }
    };
    future::poll_fn(|cx| {
        loop {
            if running.is_empty() && !start_next(&mut running, &mut head_start) {
                let error = last_error.take().unwrap_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "the host has no address")
                });
                return Poll::Ready(Err(Error::from(error)));
            }
            // A head start that is over hands over to the next address; polling
            // the timer as re-armed is what schedules the next wakeup.
            while Pin::new(&mut head_start).poll(cx).is_ready() {
                start_next(&mut running, &mut head_start);
            }
            let mut failed = false;
            let mut i = 0;
            while i < running.len() {
                match running[i].as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => return Poll::Ready(Ok(stream)),
                    Poll::Ready(Err(error)) => {
                        last_error = Some(error);
                        drop(running.swap_remove(i));
                        failed = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            if !failed {
                return Poll::Pending;
            }
            // A failure hands its turn to the next address at once.
            head_start.set_after(Duration::ZERO);
        }
    })
    .await
}

async fn with_timeout<T>(
    work: impl Future<Output = Result<T, Error>>,
    timeout: Duration,
) -> Result<T, Error> {
    let expired = async {
        Timer::after(timeout).await;
        Err(Error::Timeout(Timeout::Connect))
    };
    future::or(work, expired).await
}

/// Opens a client connection to `url`'s host: TCP, and TLS for `https`.
/// Requests sent on it without a Host field get the URL's authority as
/// theirs ([`ClientConnection::with_host`]).
///
/// One connection, kept alive for several requests, each response's body
/// read before the next is sent (a body left unread makes the next `send`
/// fail with [`Error::NotReusable`]):
///
/// ```
/// use lithe::io::{Request, Response};
/// use lithe::proto::StatusCode;
/// use lithe::rt::{ConnectConfig, ServeConfig, Server, Url, block_on, open};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// async fn hello(request: Request) -> Response {
///     Response::new(StatusCode::OK).with_body(format!("you asked for {}", request.path()))
/// }
/// let config = ServeConfig { threads: 1, ..ServeConfig::default() };
/// let server = Server::bind("127.0.0.1:0", hello, config)?;
///
/// let url = Url::parse(&format!("http://{}/start", server.local_addr()))?;
/// block_on(async {
///     let mut conn = open(&url, &ConnectConfig::default()).await?;
///     let response = conn.send(url.request("GET")).await?;
///     assert_eq!(response.status(), StatusCode::OK);
///     // At most 1 MiB of it: a larger body is an error, not a truncation.
///     assert_eq!(response.into_body().text(1 << 20).await?, "you asked for /start");
///
///     let again = conn.send(Request::new("GET", "/again")).await?;
///     assert_eq!(again.into_body().text(1 << 20).await?, "you asked for /again");
///     conn.close().await
/// })?;
/// server.shutdown();
/// # Ok(())
/// # }
/// ```
pub async fn open(url: &Url, config: &ConnectConfig) -> Result<ClientConnection<MaybeTls>, Error> {
    // What the URL alone rules out is refused before a lookup or a connect.
    #[cfg(not(feature = "tls"))]
    if url.is_https() {
        return Err(Error::InvalidUrl("https needs the `tls` feature"));
    }
    #[cfg(feature = "tls")]
    if url.is_https() && !super::tls::is_server_name(url.host()) {
        return Err(Error::InvalidUrl("the host cannot name a TLS server"));
    }
    let stream = with_timeout(
        async {
            // One timeout for DNS, TCP and TLS together: this one.
            let tcp = connected(resolve_and_race(url.host(), url.port()).await?)?;
            // Without the `tls` feature, https was refused above.
            #[cfg(feature = "tls")]
            if url.is_https() {
                let default;
                let tls = match &config.tls {
                    Some(tls) => tls,
                    None => {
                        default = super::tls::TlsConnector::webpki();
                        &default
                    }
                };
                return Ok(MaybeTls::Tls(Box::new(tls.connect(url.host(), tcp).await?)));
            }
            Ok(MaybeTls::Plain(tcp))
        },
        config.connect_timeout,
    )
    .await?;
    Ok(ClientConnection::new(stream, config.client.clone()).with_host(url.authority()))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::interleave_families;

    fn addresses(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn addresses_alternate_families_from_the_first_ones() {
        let resolved = addresses(&["[::1]:1", "[::2]:1", "[::3]:1", "10.0.0.1:1", "10.0.0.2:1"]);
        assert_eq!(
            interleave_families(resolved.into_iter()),
            addresses(&["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"])
        );
        // One family alone keeps its order; IPv4 first leads with IPv4.
        let one = addresses(&["10.0.0.1:1", "10.0.0.2:1"]);
        assert_eq!(interleave_families(one.clone().into_iter()), one);
        let four_first = addresses(&["10.0.0.1:1", "[::1]:1", "[::2]:1"]);
        assert_eq!(
            interleave_families(four_first.into_iter()),
            addresses(&["10.0.0.1:1", "[::1]:1", "[::2]:1"])
        );
    }
}
