//! The load generator for the pipelined workload of the load benchmark
//! (`benches/load/run.sh`): keep-alive connections that each send `depth` GETs
//! in one write and send the next batch once every answer to this one is in.
//!
//! wrk drives that workload through a script, but then it times batches, not
//! requests, and its correction for coordinated omission divides the run by the
//! number of requests where it counted batches: its percentiles come out as 0.
//! This generator times each request, from the write of its batch to the read
//! that completed its response, and reports the same summary lines as wrk
//! (requests, requests/s, the latency percentiles), so the benchmark reads
//! both alike.
//!
//! ```text
//! cargo run --release --example load_pipelined -- --port 8080 [--connections 50] [--depth 16] [--duration 5]
//! ```
//!
//! One thread. Every response must parse and carry a `Content-Length`, and a
//! connection must get no more than it asked for, or the run stops with an
//! error; answers outside 2xx and 3xx are counted and reported as wrk reports
//! them ("Non-2xx or 3xx responses"), which `run.sh` refuses to score.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout_at;

/// Latencies are counted per microsecond up to this (about a second); longer
/// ones share the last bucket.
const BUCKETS: usize = 1 << 20;

struct Options {
    port: u16,
    connections: usize,
    depth: usize,
    duration: Duration,
}

/// Bounds on the options: far past any run on one machine.
const MAX_CONNECTIONS: u64 = 100_000;
const MAX_DEPTH: u64 = 4096;
const MAX_SECONDS: u64 = 24 * 3600;

fn options() -> Result<Options, String> {
    let mut options = Options {
        port: 8080,
        connections: 50,
        depth: 16,
        duration: Duration::from_secs(5),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} takes a value"))?;
        // Bounded, so that a slip of the keyboard is an error rather than a
        // panic, or memory for billions of connections or requests.
        let number = |max: u64| {
            value
                .parse::<u64>()
                .ok()
                .filter(|&n| (1..=max).contains(&n))
                .ok_or(format!(
                    "{flag} takes a number from 1 to {max}, not {value:?}"
                ))
        };
        match flag.as_str() {
            "--port" => options.port = number(u64::from(u16::MAX))? as u16,
            "--connections" => options.connections = number(MAX_CONNECTIONS)? as usize,
            "--depth" => options.depth = number(MAX_DEPTH)? as usize,
            "--duration" => options.duration = Duration::from_secs(number(MAX_SECONDS)?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

/// What the connections found, together.
struct Tally {
    /// Requests answered per microsecond of latency.
    latency_us: Vec<u64>,
    answered: u64,
    /// Answers outside 2xx and 3xx.
    not_ok: u64,
}

impl Tally {
    /// `answers` answered after `latency`, `not_ok` of them outside 2xx and 3xx.
    fn record(&mut self, latency: Duration, answers: usize, not_ok: usize) {
        let us = usize::try_from(latency.as_micros()).unwrap_or(usize::MAX);
        self.latency_us[us.min(BUCKETS - 1)] += answers as u64;
        self.answered += answers as u64;
        self.not_ok += not_ok as u64;
    }

    /// The latency that `fraction` of the answers did not exceed.
    fn percentile(&self, fraction: f64) -> Duration {
        let rank = ((self.answered as f64 * fraction).ceil() as u64).max(1);
        let mut seen = 0;
        for (us, &count) in self.latency_us.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(us as u64);
            }
        }
        Duration::ZERO
    }
}

/// The answers at the start of `buf` that are complete: how many, how many were
/// outside 2xx and 3xx, and the bytes they take.
fn complete_answers(mut buf: &[u8]) -> Result<(usize, usize, usize), String> {
    let (mut count, mut not_ok, mut used) = (0, 0, 0);
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut fields);
        let head = match response.parse(buf) {
            Ok(httparse::Status::Complete(head)) => head,
            Ok(httparse::Status::Partial) => return Ok((count, not_ok, used)),
            Err(e) => return Err(format!("unparsable response: {e}")),
        };
        let length = response
            .headers
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case("content-length"))
            .and_then(|f| std::str::from_utf8(f.value).ok()?.parse::<usize>().ok())
            .ok_or("a response without a Content-Length")?;
        let Some(rest) = buf.get(head + length..) else {
            return Ok((count, not_ok, used));
        };
        count += 1;
        not_ok += usize::from(!matches!(response.code, Some(200..=399)));
        used += head + length;
        buf = rest;
    }
}

/// Sends batches until `end`, recording each answer's latency.
async fn connection(
    options: &Options,
    batch: &[u8],
    end: tokio::time::Instant,
    tally: &RefCell<Tally>,
) -> Result<(), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", options.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    while tokio::time::Instant::now() < end {
        let sent = Instant::now();
        match timeout_at(end, stream.write_all(batch)).await {
            Err(_) => return Ok(()),
            Ok(result) => result.map_err(|e| format!("write: {e}"))?,
        }
        let (mut filled, mut owed) = (0, options.depth);
        while owed > 0 {
            let n = match timeout_at(end, stream.read(&mut buf[filled..])).await {
                Err(_) => return Ok(()),
                Ok(Ok(0)) => return Err("the server closed a connection".into()),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(format!("read: {e}")),
            };
            let latency = sent.elapsed();
            filled += n;
            let (count, not_ok, used) = complete_answers(&buf[..filled])?;
            if count > owed {
                return Err("more answers than requests".into());
            }
            tally.borrow_mut().record(latency, count, not_ok);
            owed -= count;
            buf.copy_within(used..filled, 0);
            filled -= used;
            if owed == 0 && filled > 0 {
                return Err("bytes after the last answer to a batch".into());
            }
            if filled == buf.len() {
                return Err("a response larger than the read buffer".into());
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => Rc::new(options),
        Err(e) => {
            eprintln!("load_pipelined: {e}");
            return ExitCode::from(2);
        }
    };
    let request = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", options.port);
    let batch: Rc<[u8]> = request.repeat(options.depth).into_bytes().into();
    let tally = Rc::new(RefCell::new(Tally {
        latency_us: vec![0; BUCKETS],
        answered: 0,
        not_ok: 0,
    }));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let end = tokio::time::Instant::now() + options.duration;
    let local = tokio::task::LocalSet::new();
    let results = local.block_on(&runtime, async {
        let tasks: Vec<_> = (0..options.connections)
            .map(|_| {
                let (options, batch, tally) = (options.clone(), batch.clone(), tally.clone());
                tokio::task::spawn_local(
                    async move { connection(&options, &batch, end, &tally).await },
                )
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.map_err(|e| e.to_string()).and_then(|r| r));
        }
        results
    });
    let elapsed = started.elapsed();
    if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
        eprintln!("load_pipelined: {e}");
        return ExitCode::FAILURE;
    }
    let tally = tally.borrow();
    println!(
        "load_pipelined: {} connections, {} requests a batch, {:.2}s",
        options.connections,
        options.depth,
        elapsed.as_secs_f64()
    );
    println!("  Latency Distribution");
    for (label, fraction) in [("50%", 0.5), ("75%", 0.75), ("90%", 0.9), ("99%", 0.99)] {
        println!("     {label}  {}us", tally.percentile(fraction).as_micros());
    }
    println!(
        "  {} requests in {:.2}s",
        tally.answered,
        elapsed.as_secs_f64()
    );
    if tally.not_ok > 0 {
        println!("  Non-2xx or 3xx responses: {}", tally.not_ok);
    }
    println!(
        "Requests/sec: {:.2}",
        tally.answered as f64 / elapsed.as_secs_f64()
    );
    ExitCode::SUCCESS
}
