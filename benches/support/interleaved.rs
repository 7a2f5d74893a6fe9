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
