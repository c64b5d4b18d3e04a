//! What the kill and fault suites share: the trial count and reproducible random moments.

/// 100 trials with `DATAFLOW_SOAK=1`, else `fast`.
pub fn trials(fast: usize) -> usize {
    if std::env::var("DATAFLOW_SOAK").is_ok_and(|v| v == "1") {
        100
    } else {
        fast
    }
}

/// A tiny xorshift: reproducible delays from a printed seed, no dependency.
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// `DATAFLOW_SEED`, or `default`.
pub fn seed(default: u64) -> u64 {
    std::env::var("DATAFLOW_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Prints a suite's figure as `<title>: <json>`; in a soak run (`DATAFLOW_SOAK=1`) also
/// writes it to `target/reliability-<file>.json`, where RELIABILITY.md's numbers come from —
/// a normal run's fast slice never overwrites a soak's figures.
pub fn publish(title: &str, file: &str, figure: &serde_json::Value) {
    eprintln!("{title}: {figure}");
    if trials(0) != 100 {
        return;
    }
    let target = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(target.join(format!("reliability-{file}.json")), figure.to_string());
}

/// Starts `command`, SIGKILLs it after `delay`; whether it was still running then.
pub fn kill_after(mut command: std::process::Command, delay: std::time::Duration) -> bool {
    let mut child = command.spawn().expect("spawn");
    std::thread::sleep(delay);
    let running = child.try_wait().ok().flatten().is_none();
    let _ = child.kill();
    let _ = child.wait();
    running
}
