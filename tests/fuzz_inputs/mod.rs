//! The committed fuzz inputs of a target, for the tests that replay them
//! (`fuzz_corpus.rs`, `differential_hyper.rs`): the hand-written seeds in
//! `fuzz/corpus/<target>/`, then what fuzzing reached beyond them, kept in
//! its `found/` folder by `scripts/fuzz-keep.sh`.

use std::path::{Path, PathBuf};

/// Each input's path and bytes: the seeds, then the finds, each sorted.
pub fn committed(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let seeds = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the fuzz seeds of {target} are committed: {e}"));
    let mut files = files(seeds);
    // Every target has its finds committed: a missing folder (renamed,
    // left out of a checkout) would drop most of the replay unseen.
    let found = std::fs::read_dir(dir.join("found"))
        .unwrap_or_else(|e| panic!("the fuzz finds of {target} are committed: {e}"));
    files.extend(self::files(found));
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("readable corpus file");
            (path, bytes)
        })
        .collect()
}

/// The files (not folders) of a folder, sorted.
fn files(entries: std::fs::ReadDir) -> Vec<PathBuf> {
    let mut files: Vec<_> = entries
        .map(|e| e.expect("readable corpus folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}
