//! curl against our server, where curl is installed (skipped otherwise).
#![cfg(feature = "server")]

mod common;

use std::process::Command;

use common::*;

/// Runs curl with `args` against `url`; `None` when curl is not installed.
fn curl(args: &[&str], url: &str) -> Option<String> {
    let output = Command::new("curl")
        // No proxy from the environment: the requests stay on 127.0.0.1.
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--noproxy",
            "*",
        ])
        .args(args)
        .arg(url)
        .output();
    match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("curl not installed: skipping");
            None
        }
        Err(e) => panic!("curl: {e}"),
        Ok(out) => {
            // Silent but for errors: anything on stderr (curl exits 0 after
            // some complaints) is one.
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "curl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
    }
}

#[test]
fn curl_against_our_server() {
    let server = server();
    let base = format!("http://{}", server.local_addr());
    let Some(hello) = curl(&[], &format!("{base}/")) else {
        return;
    };
    assert_eq!(hello, "Hello, World!");

    let echoed = curl(&["--data-binary", "ping"], &format!("{base}/echo")).unwrap();
    assert_eq!(echoed, "ping");

    let head = curl(&["--head"], &format!("{base}/")).unwrap();
    assert!(head.contains("content-length: 13"), "{head}");

    // A HEAD answer, an echo and a GET on one connection, said verbosely:
    // curl reads bytes past a message it did not expect ("Excess found")
    // and then closes the connection, exit status 0 all the same.
    let verbose = Command::new("curl")
        .args([
            "--verbose",
            "--silent",
            "--max-time",
            "10",
            "--noproxy",
            "*",
        ])
        .args([
            "--head",
            "--write-out",
            "%{num_connects}\n",
            &format!("{base}/"),
        ])
        .args([
            "--next",
            "--data-binary",
            "ping",
            "--write-out",
            "%{num_connects}\n",
        ])
        .arg(format!("{base}/echo"))
        .args([
            "--next",
            "--write-out",
            "%{num_connects}\n",
            &format!("{base}/"),
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&verbose.stdout),
        String::from_utf8_lossy(&verbose.stderr),
    );
    assert!(verbose.status.success(), "{stderr}");
    assert!(!stderr.contains("Excess found"), "{stderr}");
    assert!(
        stdout.ends_with("\r\n\r\n1\nping0\nHello, World!0\n"),
        "{stdout}"
    );

    // Keep-alive over several URLs on one connection (curl reports the new
    // connections each transfer made: one, then none), and HTTP/1.0.
    let url = format!("{base}/");
    let many = curl(&["--write-out", "%{num_connects}\n", &url, &url], &url).unwrap();
    assert_eq!(
        many, "Hello, World!1\nHello, World!0\nHello, World!0\n",
        "{many}"
    );
    let old = curl(&["--http1.0"], &format!("{base}/chunked")).unwrap();
    assert_eq!(old, "one two three");
    // An offer to switch to h2c (Upgrade, HTTP2-Settings) the service does
    // not take: answered in HTTP/1.1 on a connection that goes on.
    let offered = curl(
        &[
            "--http2",
            "--write-out",
            "%{num_connects} %{http_version}\n",
            &url,
        ],
        &url,
    )
    .unwrap();
    assert_eq!(
        offered, "Hello, World!1 1.1\nHello, World!0 1.1\n",
        "{offered}"
    );

    // A large body, echoed and compared byte for byte: its pattern repeats
    // at no buffer size, so a piece lost, repeated or swapped shows. First
    // with Expect: 100-continue, for which curl waits longer than
    // --max-time allows, so only our 100 lets the body go; then chunked.
    let dir = std::env::temp_dir().join(format!("lithe-curl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (sent, echoed) = (dir.join("sent"), dir.join("echoed"));
    let body = XorShift(0x5eed).bytes(2_000_000);
    std::fs::write(&sent, &body).unwrap();
    let upload = format!("@{}", sent.display());
    let output = echoed.display().to_string();
    let heads = dir.join("heads").display().to_string();
    let expecting: &[&str] = &[
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "60",
        "--dump-header",
        &heads,
    ];
    let chunked: &[&str] = &["-H", "Transfer-Encoding: chunked"];
    for framing in [expecting, chunked] {
        let args = [&["--data-binary", &upload, "-o", &output], framing].concat();
        curl(&args, &format!("{base}/echo")).unwrap();
        let got = std::fs::read(&echoed).unwrap();
        assert!(got == body, "{framing:?}: the echo differs");
    }
    // The 100 came, before the answer.
    let dumped = std::fs::read_to_string(dir.join("heads")).unwrap();
    assert!(
        dumped.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{dumped}"
    );
    std::fs::remove_dir_all(&dir).ok();
    server.shutdown();
}

/// curl, on OpenSSL, against our TLS server (rustls): a TLS stack of its
/// own, trusting our certificate for 127.0.0.1. Keep-alive over TLS, and an
/// HTTP/1.0 body delimited by the close, which OpenSSL 3 takes as whole only
/// after a close_notify (a bare TCP close is "unexpected eof", exit 56).
#[cfg(feature = "tls")]
#[test]
fn curl_over_tls() {
    use lithe::rt::tls::TlsAcceptor;
    use lithe::rt::{ServeConfig, Server};
    let (cert, key) = certificate_for(&["127.0.0.1"]);
    let config = ServeConfig {
        threads: 1,
        tls: Some(TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).unwrap()),
        ..ServeConfig::default()
    };
    let server = Server::bind("127.0.0.1:0", routes, config).unwrap();
    let dir = std::env::temp_dir().join(format!("lithe-curl-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let ca = ca.display().to_string();
    let url = format!("https://{}/", server.local_addr());
    let args = [
        "--cacert",
        &ca,
        "--write-out",
        "%{num_connects} %{http_version}\n",
        &url,
    ];
    let Some(both) = curl(&args, &url) else {
        return;
    };
    assert_eq!(both, "Hello, World!1 1.1\nHello, World!0 1.1\n", "{both}");
    let chunked = format!("https://{}/chunked", server.local_addr());
    let old = curl(&["--cacert", &ca, "--http1.0"], &chunked).unwrap();
    assert_eq!(old, "one two three");
    std::fs::remove_dir_all(&dir).ok();
    server.shutdown();
}
