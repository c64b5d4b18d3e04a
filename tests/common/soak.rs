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
