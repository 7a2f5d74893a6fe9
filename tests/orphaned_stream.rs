//! A connection upgraded off a server worker outlives the worker even when the
//! process has no descriptor to spare at the moment the worker stops.
//!
//! Alone in its binary: it lowers the process's descriptor limit, which every
//! other test running beside it would feel.

#![cfg(all(target_os = "linux", feature = "server"))]

mod common;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use common::{read_until, server_with, socket, without_date};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use lithe::io::{Request, Response, ServerConfig};
use lithe::proto::StatusCode;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The tunnel's own end: after its first exchange it waits for `go`, then
/// reads `again` and answers `still`, reporting how that went on `done`.
fn tunnel(
    go: mpsc::Receiver<()>,
    done: mpsc::Sender<std::io::Result<()>>,
) -> impl Fn(Request) -> std::future::Ready<Response> + Clone + Send + 'static {
    let go = std::sync::Arc::new(std::sync::Mutex::new(Some((go, done))));
    move |mut request: Request| {
        let on_upgrade = request.upgrade().expect("CONNECT proposes a switch");
        let (go, done) = go.lock().unwrap().take().expect("one tunnel");
        std::thread::spawn(move || {
            lithe::rt::block_on(async move {
                let mut io = on_upgrade.await.expect("switched");
                let mut ping = [0u8; 4];
                io.read_exact(&mut ping).await.expect("ping");
                io.write_all(b"pong").await.expect("pong");
                let _ = go.recv();
                let mut again = [0u8; 5];
                let result = async {
                    io.read_exact(&mut again).await?;
                    io.write_all(b"still").await?;
                    io.flush().await
                }
                .await;
                let _ = done.send(result);
            })
        });
        std::future::ready(Response::new(StatusCode::OK))
    }
}

/// Lowers the soft descriptor limit to one past the highest descriptor open,
/// then takes every free one below it, as a busy process at its limit has
/// them: the next descriptor opened meets `EMFILE`. Returns the limit to
/// restore and the descriptors taken.
fn use_up_descriptors() -> (Rlimit, Vec<std::fs::File>) {
    let highest = std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .expect("some descriptor is open");
    let before = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(highest + 1),
            maximum: before.maximum,
        },
    )
    .expect("lower the descriptor limit");
    let mut taken = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => taken.push(file),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) => break,
            Err(e) => panic!("open /dev/null: {e}"),
        }
    }
    (before, taken)
}

#[test]
fn an_upgraded_connection_leaves_its_stopped_worker_without_a_spare_descriptor() {
    let (go, wait_for_go) = mpsc::channel();
    let (done, tunnel_result) = mpsc::channel();
    let server = server_with(tunnel(wait_for_go, done), ServerConfig::default());
    let mut s = socket(server.local_addr());
    s.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nping")
        .unwrap();
    let reply = read_until(&mut s, "pong");
    assert_eq!(without_date(&reply), "HTTP/1.1 200 OK\r\n\r\npong");

    // The worker stops; the tunnel, not reading now, finds out at its next read.
    server.shutdown();
    // From here no descriptor can be opened.
    let (before, taken) = use_up_descriptors();
    go.send(()).unwrap();
    s.write_all(b"again").unwrap();
    let result = tunnel_result.recv_timeout(Duration::from_secs(10));
    drop(taken);
    setrlimit(Resource::Nofile, before).expect("restore the descriptor limit");
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the tunnel failed once its worker stopped: {e}"),
        Err(e) => panic!("the tunnel did not finish: {e}"),
    }
    assert_eq!(read_until(&mut s, "still"), "still");
}
