//! TLS with rustls (ring provider): a client connector that verifies
//! certificates by default (against the bundled Mozilla roots, roots of the
//! caller's in their place, or both), and a server acceptor made from PEM
//! bytes (a certificate chain and its key, as read from files; an HTTPS
//! server in full is [`TlsAcceptor`]'s example).
//!
//! Both speak TLS 1.2 and 1.3. The client offers ALPN `http/1.1`; the server
//! accepts `http/1.1` and `http/1.0` (preferring the first, as nginx does), so
//! an HTTP/1.0 client that names its version (`curl --http1.0`) is served,
//! and refuses a client that offers only `h2`. The only way lithe
//! offers to skip certificate verification is the loudly named
//! [`TlsConnector::dangerous_accept_any_certificate`], for self-signed test
//! servers; a rustls configuration given to [`TlsConnector::from_config`]
//! keeps whatever verifier it was built with.

use core::fmt;
use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::io::Error;

/// The rustls lithe is built on, for [`TlsConnector::with_roots`] and the
/// `from_config`s: its types are the ones they take, whatever version of
/// rustls the application names. Build a configuration with
/// `builder_with_provider`, as lithe does: `ClientConfig::builder()` picks
/// the provider from rustls's features, and panics when an application's
/// own rustls dependency turns on its default `aws-lc-rs` beside the `ring`
/// lithe turns on (cargo builds one rustls with both).
///
/// ```
/// use lithe::rt::tls::{TlsConnector, rustls};
///
/// let mut roots = rustls::RootCertStore::empty();
/// roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
/// let ring = rustls::crypto::ring::default_provider();
/// let config = rustls::ClientConfig::builder_with_provider(ring.into())
///     .with_safe_default_protocol_versions()?
///     .with_root_certificates(roots)
///     .with_no_client_auth();
/// let connector = TlsConnector::from_config(config);
/// # Ok::<(), rustls::Error>(())
/// ```
pub use rustls;

/// The futures-rustls lithe is built on, whose stream types
/// [`TlsConnector::connect`], [`TlsAcceptor::accept`] and
/// [`MaybeTls`](crate::rt::MaybeTls) hand out: named through it, they are
/// the ones lithe returns, whatever version the application depends on.
pub use futures_rustls;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Setup input refused: the rustls or pki-types error is kept inside the
/// `io::Error`, as a handshake's is (a caller reaches it through
/// `Error::Io(e)` and `e.get_ref()`, or that error's source, and can
/// downcast it; `io::Error`'s own `source` skips the error it holds).
fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// What `from_pem` says of a key ring cannot load to sign with.
const UNSUPPORTED_KEY: &str = "the private key in the key PEM cannot be used to sign (or is \
     damaged): the keys taken are RSA of 2048, 3072 or 4096 bits, ECDSA on P-256 or P-384 with \
     its public key included, and Ed25519";

/// An error of rustls' or pki-types' said in the caller's terms (which
/// input, what it means), the error itself its source, and only there (a
/// chain names each cause once): the parser's own words name a section by
/// its bytes, or a peer that is not there; rustls' a record type.
#[derive(Debug)]
struct Explained {
    said: Cow<'static, str>,
    cause: Box<dyn std::error::Error + Send + Sync>,
}

impl Explained {
    fn new(
        said: impl Into<Cow<'static, str>>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Explained {
        Explained {
            said: said.into(),
            cause: cause.into(),
        }
    }
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.said)
    }
}

impl std::error::Error for Explained {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.cause)
    }
}

/// Certificates in `input` that cannot be read (a section cut short, a
/// block that is no certificate), as the error setup returns.
fn bad_certificates(
    input: &'static str,
) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> Error {
    move |cause| {
        let said = format!("a certificate in the {input} cannot be read");
        invalid(Explained::new(said, cause))
    }
}

/// The Mozilla roots bundled by `webpki-roots`.
fn bundled_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

/// Adds the certificates in `pem` to `roots`: an input that holds none is
/// an error, not a connector that trusts nothing more.
fn add_pem_roots(roots: &mut RootCertStore, pem: &[u8]) -> Result<(), Error> {
    let bad = bad_certificates("PEM roots");
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| bad(e.into()))?;
        roots.add(cert).map_err(|e| bad(e.into()))?;
        added += 1;
    }
    if added == 0 {
        return Err(invalid("no certificate in the PEM roots"));
    }
    Ok(())
}

/// Whether `host` (a URL's, as [`Url::host`](crate::rt::Url::host) gives
/// it) can name a TLS server: a DNS name rustls accepts, or an IP address.
#[cfg(feature = "client")]
pub(crate) fn is_server_name(host: &str) -> bool {
    ServerName::try_from(host).is_ok()
}

const ALPN_HTTP11: &[u8] = b"http/1.1";

/// What the server accepts, in its order of preference (rustls picks the
/// server's first that the client offers): the versions lithe serves.
const ALPN_SERVED: [&[u8]; 2] = [ALPN_HTTP11, b"http/1.0"];

/// Opens TLS connections to servers.
///
/// A connector and its clones share one rustls configuration, and with it
/// rustls' session cache: connections opened through them resume their
/// sessions. Every constructor but [`webpki`](Self::webpki) makes a
/// configuration of its own, so keep the connector (or clones of it) rather
/// than make one per connection.
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
}

impl TlsConnector {
    /// Verifies servers against the Mozilla roots bundled by `webpki-roots`.
    ///
    /// Every call returns the same connector (one configuration per process),
    /// so connections opened with it share rustls' session cache and resume
    /// their sessions, as one reqwest client does.
    pub fn webpki() -> Self {
        static WEBPKI: std::sync::OnceLock<TlsConnector> = std::sync::OnceLock::new();
        WEBPKI
            .get_or_init(|| TlsConnector::with_roots(bundled_roots()))
            .clone()
    }

    /// Verifies servers against the bundled Mozilla roots, as
    /// [`webpki`](Self::webpki) does, and the certificates in `pem` (one or
    /// more `CERTIFICATE` blocks: a company's own CA, say) besides, as
    /// reqwest's `add_root_certificate` does. An input without a
    /// certificate is an error. (Each call makes a configuration of its own:
    /// keep the connector to share its session cache.)
    pub fn webpki_and_pem_roots(pem: &[u8]) -> Result<Self, Error> {
        let mut roots = bundled_roots();
        add_pem_roots(&mut roots, pem)?;
        Ok(TlsConnector::with_roots(roots))
    }

    /// Verifies servers against `roots`.
    pub fn with_roots(roots: RootCertStore) -> Self {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions");
        TlsConnector::from_config(builder.with_root_certificates(roots).with_no_client_auth())
    }

    /// Verifies servers against the certificates in `pem` (one or more
    /// `CERTIFICATE` blocks) only: they replace the bundled roots. An input
    /// without a certificate is an error, not a connector that trusts nothing.
    pub fn with_pem_roots(pem: &[u8]) -> Result<Self, Error> {
        let mut roots = RootCertStore::empty();
        add_pem_roots(&mut roots, pem)?;
        Ok(TlsConnector::with_roots(roots))
    }

    /// Accepts any certificate for any name: **no authentication at all**, so
    /// anyone on the path can read and change the traffic. Only for tests against
    /// self-signed servers.
    pub fn dangerous_accept_any_certificate() -> Self {
        let provider = provider();
        let verifier = AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions");
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        TlsConnector::from_config(config)
    }

    /// A connector with a rustls configuration of the caller's (client
    /// certificates, other roots, a key log...); its ALPN is set to
    /// `http/1.1`, the only protocol lithe speaks, and a server choosing
    /// another is refused, whatever `check_selected_alpn` said.
    pub fn from_config(mut config: rustls::ClientConfig) -> Self {
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        // Taken, a choice of `h2` would get HTTP/1.1 written into it.
        config.check_selected_alpn = true;
        TlsConnector {
            config: Arc::new(config),
        }
    }

    /// Runs the TLS handshake over `io` for server name `host`, for as long
    /// as it takes: [`open`](crate::rt::open) bounds it with its connect
    /// timeout; a caller of its own should race it against a timer.
    ///
    /// `host` is a DNS name or an IP address without brackets (`::1`); only
    /// a name is sent as SNI.
    pub async fn connect<T>(
        &self,
        host: &str,
        io: T,
    ) -> Result<futures_rustls::client::TlsStream<T>, Error>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(host.to_string()).map_err(invalid)?;
        // The transport's failure as it came (see `Error::Io`), even one
        // holding a lithe error of another connection.
        futures_rustls::TlsConnector::from(Arc::clone(&self.config))
            .connect(name, io)
            .await
            .map_err(|e| Error::Io(naming_a_plain_server(e)))
    }
}

/// A handshake's failure, said plainly when the server answered in
/// something other than TLS (plain HTTP, most likely: `https://` to an
/// `http://` server), which rustls reports as a corrupt record.
fn naming_a_plain_server(error: io::Error) -> io::Error {
    let not_tls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .filter(|e| {
            matches!(
                e,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
            )
        })
        .cloned();
    match not_tls {
        Some(cause) => {
            let said = "the server did not answer in TLS (is it a plain http:// server?)";
            io::Error::new(error.kind(), Explained::new(said, cause))
        }
        None => error,
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConnector")
    }
}

/// Accepts TLS connections with one certificate chain and key.
///
/// An HTTPS server, its certificate and key read as PEM (made here; from
/// files, `std::fs::read("cert.pem")?`), and a client trusting it:
///
/// ```
/// use lithe::io::{Request, Response};
/// use lithe::proto::StatusCode;
/// use lithe::rt::tls::{TlsAcceptor, TlsConnector};
/// use lithe::rt::{ConnectConfig, ServeConfig, Server, Url, block_on, open};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
/// let (cert_pem, key_pem) = (made.cert.pem(), made.key_pair.serialize_pem());
///
/// async fn hello(_: Request) -> Response {
///     Response::new(StatusCode::OK).with_body("Hello over TLS")
/// }
/// let config = ServeConfig {
///     tls: Some(TlsAcceptor::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?),
///     threads: 1,
///     ..ServeConfig::default()
/// };
/// let server = Server::bind("127.0.0.1:0", hello, config)?;
///
/// let url = Url::parse(&format!("https://localhost:{}/", server.local_addr().port()))?;
/// let client = ConnectConfig {
///     tls: Some(TlsConnector::with_pem_roots(cert_pem.as_bytes())?),
///     ..ConnectConfig::default()
/// };
/// let text = block_on(async {
///     let mut conn = open(&url, &client).await?;
///     conn.send(Request::new("GET", "/")).await?.into_body().text(1024).await
/// })?;
/// assert_eq!(text, "Hello over TLS");
/// server.shutdown();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TlsAcceptor {
    /// Kept whole (futures-rustls does not hand it back), as the connector
    /// keeps its own: `Server::bind` tries it before serving.
    config: Arc<rustls::ServerConfig>,
}

impl TlsAcceptor {
    /// An acceptor for the certificate chain in `cert_pem` (leaf first, then
    /// any intermediates) and the private key in `key_pem` (PKCS#8, PKCS#1
    /// or SEC1, unencrypted). With the ring provider lithe uses, a key is
    /// RSA of 2048, 3072 or 4096 bits, ECDSA on P-256 or P-384 with its
    /// public key included (as openssl writes it unless told
    /// `-no_public`), or Ed25519; another is refused, and the error says
    /// which keys are taken.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, Error> {
        let bad = bad_certificates("certificate PEM");
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.into()))?;
        if chain.is_empty() {
            return Err(invalid("no certificate in the certificate PEM"));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
            // rustls reads no encrypted key: say so, rather than "no items".
            match key_pem.windows(9).any(|w| w == b"ENCRYPTED") {
                true => invalid("the private key is encrypted: decrypt it first"),
                false => invalid(Explained::new("no usable private key in the key PEM", e)),
            }
        })?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(invalid)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| match e {
                // rustls words it for a peer's: ours is not valid DER.
                rustls::Error::InvalidCertificate(_) => bad(e.into()),
                // The key read as PEM but ring cannot load it: of another
                // kind or size, or damaged. rustls' "failed to parse" reads
                // as a broken file only.
                rustls::Error::General(_) => invalid(Explained::new(UNSUPPORTED_KEY, e)),
                other => invalid(other),
            })?;
        Ok(TlsAcceptor::from_config(config))
    }

    /// An acceptor with a rustls configuration of the caller's (client
    /// certificates, a certificate chosen by SNI or reloaded while running...);
    /// its ALPN is set to `http/1.1` and `http/1.0`, the protocols lithe
    /// serves, and TLS 1.3 early data (0-RTT) is turned off
    /// (`max_early_data_size` 0): lithe reads no request from it, and one
    /// taken from it could be a replay (RFC 8470); a client then sends its
    /// request after the handshake. (Some settings rustls checks only as it makes a
    /// connection, a `max_fragment_size` out of range:
    /// [`Server`](crate::rt::Server)'s `bind` makes one to find them.)
    pub fn from_config(mut config: rustls::ServerConfig) -> Self {
        config.alpn_protocols = ALPN_SERVED.iter().map(|p| p.to_vec()).collect();
        // Accepted, early data would sit where futures-rustls never reads,
        // while the client, told it was taken, waits for its answer.
        config.max_early_data_size = 0;
        TlsAcceptor {
            config: Arc::new(config),
        }
    }

    /// Whether rustls makes a connection with this configuration: one it
    /// refuses would fail every handshake, found only in a debug log.
    #[cfg(feature = "server")]
    pub(crate) fn check(&self) -> io::Result<()> {
        rustls::ServerConnection::new(self.config.clone())
            .map(drop)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }

    /// Runs the TLS handshake over `io`, for as long as it takes:
    /// [`Server`](crate::rt::Server) bounds it with
    /// `ServeConfig::tls_handshake_timeout`; a caller of its own should race
    /// it against a timer.
    pub async fn accept<T>(&self, io: T) -> Result<futures_rustls::server::TlsStream<T>, Error>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        futures_rustls::TlsAcceptor::from(Arc::clone(&self.config))
            .accept(io)
            .await
            .map_err(Error::Io)
    }
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsAcceptor")
    }
}

/// The verifier behind [`TlsConnector::dangerous_accept_any_certificate`]: it
/// checks the handshake signatures (so the peer holds the key it presents) but
/// trusts any certificate.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One configuration per process, so that its session cache is shared.
    #[test]
    fn webpki_returns_one_configuration() {
        assert!(Arc::ptr_eq(
            &TlsConnector::webpki().config,
            &TlsConnector::webpki().config
        ));
    }

    /// A caller's configuration offers only `http/1.1` and refuses a server
    /// choosing something else, whatever it said itself (rustls takes an
    /// unoffered choice with `check_selected_alpn` off; no rustls server
    /// makes one, so this is checked here rather than over a connection).
    #[test]
    fn a_callers_configuration_offers_http11_alone_and_checks_the_choice() {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        config.check_selected_alpn = false;
        let connector = TlsConnector::from_config(config);
        assert_eq!(connector.config.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(connector.config.check_selected_alpn);
    }
}
