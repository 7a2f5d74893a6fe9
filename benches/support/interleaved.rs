//! A speed ratio from interleaved runs, shared by the benchmarks.

use std::time::Instant;

/// Prints the median (and quartiles) over many back-to-back pairs of timed
/// batches, of `batch` runs each, of the peer's time over ours: a speed ratio
/// that the host's drifting speed (a shared machine's steal, frequency
/// changes), which can move one criterion benchmark against the next, affects
/// least. Which side goes first alternates, so neither always runs on a warm
/// cache.
pub fn report_interleaved(
    label: &str,
    batch: usize,
    mut ours: impl FnMut(),
    mut peer: impl FnMut(),
) {
    const PAIRS: usize = 301;
    let time = |run: &mut dyn FnMut()| {
        let started = Instant::now();
        for _ in 0..batch {
            run();
        }
        started.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..PAIRS)
        .map(|i| {
            if i % 2 == 0 {
                let o = time(&mut ours);
                time(&mut peer) / o
            } else {
                let p = time(&mut peer);
                p / time(&mut ours)
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "{label}, median of {PAIRS} interleaved pairs: {:.2}x (quartiles {:.2}x - {:.2}x)",
        ratios[PAIRS / 2],
        ratios[PAIRS / 4],
        ratios[3 * PAIRS / 4]
    );
}

/// Whether the command line's filter (`cargo bench --bench server --
/// pipelined`), if there is one, passes `selects`: a benchmark skips the
/// interleaved report of a group or case the filter leaves out, so that a
/// profile of one case holds that case alone.
#[allow(dead_code, reason = "not every benchmark has groups to skip")]
pub fn filter_allows(selects: impl Fn(&str) -> bool) -> bool {
    // criterion's options that take a value (`--profile-time 1`).
    const TAKES_VALUE: &[&str] = &[
        "--baseline",
        "--color",
        "--confidence-level",
        "--format",
        "--load-baseline",
        "--measurement-time",
        "--noise-threshold",
        "--nresamples",
        "--output-format",
        "--plotting-backend",
        "--profile-time",
        "--sample-size",
        "--save-baseline",
        "--significance-level",
        "--warm-up-time",
    ];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if TAKES_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            return selects(&arg);
        }
    }
    true
}
