//! Opening client connections: [`Url`] parsing, DNS and TCP with a timeout
//! ([`connect`]), TLS for `https` ([`open`]).

use core::fmt;
use std::time::Duration;

use futures_lite::future;
use smol::Timer;

use super::stream::{MaybeTls, TcpStream};
use crate::io::{ClientConfig, ClientConnection, Error, Timeout};

/// An `http` or `https` URL, split into what a connection needs.
///
/// ```
/// use lithe::rt::Url;
/// let url = Url::parse("http://example.com:8080/a/b?c=d").unwrap();
/// assert_eq!(url.host(), "example.com");
/// assert_eq!(url.port(), 8080);
/// assert_eq!(url.target(), "/a/b?c=d");
/// assert_eq!(url.authority(), "example.com:8080");
/// assert!(!url.is_https());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    https: bool,
    host: String,
    port: u16,
    authority: String,
    target: String,
}

impl Url {
    /// Parses `scheme://host[:port][/path][?query]`; the fragment is dropped.
    pub fn parse(url: &str) -> Result<Url, Error> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(Error::InvalidUrl("scheme must be http or https"));
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        if authority.contains('@') {
            return Err(Error::InvalidUrl("userinfo is not supported"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (
                host,
                port.parse()
                    .map_err(|_| Error::InvalidUrl("invalid port"))?,
            ),
            _ => (authority, if https { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(Error::InvalidUrl("empty host"));
        }
        let target = match target {
            "" => "/".to_string(),
            t if t.starts_with('?') => format!("/{t}"),
            t => t.to_string(),
        };
        Ok(Url {
            https,
            host: host.to_string(),
            port,
            authority: authority.to_string(),
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

    /// `host[:port]` as written: the value of the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request-target: path and query.
    pub fn target(&self) -> &str {
        &self.target
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

/// Resolves `host` and connects over TCP, giving up after `timeout`.
pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Error> {
    let connect = async {
        smol::net::TcpStream::connect((host, port))
            .await
            .map_err(Error::from)
    };
    let stream = with_timeout(connect, timeout).await?;
    let _ = stream.set_nodelay(true);
    Ok(TcpStream::from(stream))
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
pub async fn open(url: &Url, config: &ConnectConfig) -> Result<ClientConnection<MaybeTls>, Error> {
    let stream = with_timeout(
        async {
            let tcp = connect(url.host(), url.port(), config.connect_timeout).await?;
            if !url.is_https() {
                return Ok(MaybeTls::Plain(tcp));
            }
            #[cfg(feature = "tls")]
            {
                let default;
                let tls = match &config.tls {
                    Some(tls) => tls,
                    None => {
                        default = super::tls::TlsConnector::webpki();
                        &default
                    }
                };
                Ok(MaybeTls::Tls(Box::new(tls.connect(url.host(), tcp).await?)))
            }
            #[cfg(not(feature = "tls"))]
            Err(Error::InvalidUrl("https needs the `tls` feature"))
        },
        config.connect_timeout,
    )
    .await?;
    Ok(ClientConnection::new(stream, config.client.clone()))
}
