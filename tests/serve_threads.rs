//! How many worker threads a server starts: one per core by default
//! (`ServeConfig::threads` 0), as many as asked otherwise.
//!
//! Alone in its binary: it counts the process's worker threads by name,
//! which servers of other tests running beside it would add to.

#![cfg(all(target_os = "linux", feature = "server"))]

use std::time::{Duration, Instant};

use lithe::io::{Request, Response};
use lithe::proto::StatusCode;
use lithe::rt::{ServeConfig, Server};

/// The threads of this process whose name is a server worker's.
fn workers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("lithe-worker-"))
        .count()
}

/// [`workers`], once it has been `expected` for 200 ms, or after five
/// seconds: a thread takes its name when it starts to run, which may be
/// after `bind` returns, so a count on its way past `expected` passes
/// through it.
fn workers_settled_at(expected: usize) -> usize {
    let waited = Instant::now();
    let mut held_since = None;
    loop {
        let now = workers();
        match (now == expected, held_since) {
            (true, Some(since)) if Instant::now() - since >= Duration::from_millis(200) => {
                return now;
            }
            (true, None) => held_since = Some(Instant::now()),
            (true, Some(_)) => {}
            (false, _) => held_since = None,
        }
        if waited.elapsed() > Duration::from_secs(5) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

async fn hello(_: Request) -> Response {
    Response::new(StatusCode::OK)
}

#[test]
fn a_default_server_starts_a_worker_per_core_and_a_set_count_as_many() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for (threads, expected) in [(0, cores), (3, 3)] {
        assert_eq!(
            workers_settled_at(0),
            0,
            "workers left by an earlier server"
        );
        let config = ServeConfig {
            threads,
            ..ServeConfig::default()
        };
        let server = Server::bind("127.0.0.1:0", hello, config).expect("bind");
        assert_eq!(workers_settled_at(expected), expected, "threads: {threads}");
        server.shutdown();
    }
}
