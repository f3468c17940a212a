//! Every input saved under tests/regressions/<target>/ (crashes and hangs the
//! fuzzer found, and hand-made hostile inputs) replays through the same code
//! as its fuzz target (fuzz/harness.rs) without a panic or a broken invariant;
//! so do the seeds under fuzz/seeds/<target>/ and the committed captures in
//! testdata/ (through the pipeline target), which the invariants must hold on.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn every_regression_input_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in harness::TARGETS {
        let dir = root.join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .is_some_and(|n| n != "README.md" && !n.to_string_lossy().starts_with('.'))
            });
        for path in entries {
            let data = std::fs::read(&path).unwrap();
            let started = Instant::now();
            let outcome = std::panic::catch_unwind(|| harness::run(target, &data));
            let took = started.elapsed();
            replayed += 1;
            if outcome.is_err() {
                failures.push(format!("{}: panicked", path.display()));
            } else if took > Duration::from_secs(10) {
                failures.push(format!("{}: took {took:?}", path.display()));
            }
        }
    }
    assert!(
        replayed > 0,
        "no regression input found under {}",
        root.display()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Replays every file of `dir` through `target`; the failures, and how many ran.
fn replay(target: &str, dir: &Path) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut replayed = 0;
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for path in entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()) {
        let data = std::fs::read(&path).unwrap();
        replayed += 1;
        if std::panic::catch_unwind(|| harness::run(target, &data)).is_err() {
            failures.push(format!("{}: panicked", path.display()));
        }
    }
    (failures, replayed)
}

#[test]
fn every_seed_and_committed_capture_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for target in harness::TARGETS {
        let (f, n) = replay(target, &root.join("fuzz/seeds").join(target));
        assert!(n > 0, "no seed for {target}");
        failures.extend(f);
    }
    for target in ["reader", "pipeline"] {
        let (f, n) = replay(target, &root.join("testdata"));
        assert!(n > 40, "only {n} files in testdata");
        failures.extend(f);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
