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
            assert!(
                out.status.success(),
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
    let expecting: &[&str] = &["-H", "Expect: 100-continue", "--expect100-timeout", "60"];
    let chunked: &[&str] = &["-H", "Transfer-Encoding: chunked"];
    for framing in [expecting, chunked] {
        let args = [&["--data-binary", &upload, "-o", &output], framing].concat();
        curl(&args, &format!("{base}/echo")).unwrap();
        let got = std::fs::read(&echoed).unwrap();
        assert!(got == body, "{framing:?}: the echo differs");
    }
    std::fs::remove_dir_all(&dir).ok();
    server.shutdown();
}
