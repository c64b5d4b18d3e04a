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

/// Starts `command`, SIGKILLs it after `delay`; whether it was still running then (see
/// [`kill_and_check`]).
pub fn kill_after(mut command: std::process::Command, delay: std::time::Duration) -> bool {
    let child = command.spawn().expect("spawn");
    std::thread::sleep(delay);
    kill_and_check(child)
}

/// SIGKILLs `child` and reads how it ended: `true` when the kill ended it; `false` when it
/// had exited on its own with status 0 (it finished first). Panics with its stderr (pipe
/// it) when it failed on its own: a child that never ran would otherwise pass, the next
/// run doing all the work.
pub fn kill_and_check(mut child: std::process::Child) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait for the child");
    if output.status.signal() == Some(9) {
        return true;
    }
    assert!(
        output.status.success(),
        "the child failed on its own ({:?}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

/// Where a kill landed in a migration, as the history reads right after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landed {
    /// No run recorded yet (start-up, connecting, planning).
    BeforeTheRun,
    /// A run recorded `running`: the kill hit a migration under way.
    WhileRunning,
    /// The run was recorded `applied` before the kill.
    AfterTheRun,
}

impl Landed {
    /// From the history's `running` and `applied` row counts right after the kill (a
    /// killed migrator cannot close its row, so `running` then means it was running).
    pub fn from_history(running: i64, applied: i64) -> Landed {
        if running > 0 {
            Landed::WhileRunning
        } else if applied > 0 {
            Landed::AfterTheRun
        } else {
            Landed::BeforeTheRun
        }
    }
}

/// How many times an aimed kill the run outran is tried again, sooner each time.
pub const AIM_RETRIES: u32 = 3;

/// Whether an aimed kill that landed `landed` is tried again (on a fresh database): a run
/// faster than the calibrated one outran it. Then `delay` is halved — the last time to
/// zero, killing as soon as the run is seen running.
pub fn aim_again(attempt: &mut u32, delay: &mut std::time::Duration, landed: Landed) -> bool {
    if landed == Landed::WhileRunning || *attempt >= AIM_RETRIES {
        return false;
    }
    *attempt += 1;
    *delay = if *attempt == AIM_RETRIES { std::time::Duration::ZERO } else { *delay / 2 };
    true
}

/// Counts of where kills landed, for a suite's figure.
#[derive(Debug, Default)]
pub struct Landings {
    pub before_the_run: usize,
    pub while_running: usize,
    pub after_the_run: usize,
}

impl Landings {
    pub fn count(&mut self, landed: Landed) {
        match landed {
            Landed::BeforeTheRun => self.before_the_run += 1,
            Landed::WhileRunning => self.while_running += 1,
            Landed::AfterTheRun => self.after_the_run += 1,
        }
    }

    pub fn figure(&self) -> serde_json::Value {
        serde_json::json!({
            "before_the_run": self.before_the_run,
            "while_running": self.while_running,
            "after_the_run": self.after_the_run,
        })
    }
}

/// Starts `command`, waits until `running()` says its migration is recorded `running`
/// (bounded: 60 s), lets it go on for `delay`, then SIGKILLs it. Returns whether the run
/// was seen running before the kill (false: the child exited first, or never got there).
pub async fn kill_while_running<F, Fut>(
    mut command: std::process::Command,
    running: F,
    delay: std::time::Duration,
) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut child = command.spawn().expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut seen = false;
    while std::time::Instant::now() < deadline {
        if running().await {
            seen = true;
            break;
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    if seen {
        tokio::time::sleep(delay).await;
    }
    kill_and_check(child);
    seen
}

/// Runs `command` to its end (it must succeed) and times it: how long it took, and how
/// long until `running()` first said its migration was recorded running. The kill suites
/// draw their moments within these.
pub async fn calibrate<F, Fut>(
    mut command: std::process::Command,
    running: F,
) -> (std::time::Duration, std::time::Duration)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    let mut child = command.spawn().expect("calibration run");
    let mut recorded = None;
    while child.try_wait().ok().flatten().is_none() {
        if recorded.is_none() && running().await {
            recorded = Some(started.elapsed());
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let full = started.elapsed();
    let run = child.wait_with_output().expect("calibration run");
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    (full, recorded.expect("the calibration run was seen recorded running"))
}
