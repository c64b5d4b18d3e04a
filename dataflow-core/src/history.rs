//! The history table's vocabulary, the same on every database: its name, a row, a
//! run's status. Each connector's `history.rs` holds its SQL.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The history table's name.
pub const TABLE: &str = "_dataflow_migrations";

/// Where a recorded run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunStatus {
    /// Planned, not started.
    Pending,
    /// Being applied (or its migrator died while it was).
    Running,
    /// Applied.
    Applied,
    /// Failed; the error is in `progress`.
    Failed,
    /// Rolled back.
    RolledBack,
    /// An adopted schema: tables that existed before the first run.
    Baseline,
}

impl RunStatus {
    /// Every status, as stored.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Applied,
        RunStatus::Failed,
        RunStatus::RolledBack,
        RunStatus::Baseline,
    ];

    /// The text stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Applied => "applied",
            RunStatus::Failed => "failed",
            RunStatus::RolledBack => "rolled_back",
            RunStatus::Baseline => "baseline",
        }
    }

    /// The status stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Reads a stored status; an unknown one is a decode error naming it.
    pub(crate) fn decode(text: &str) -> Result<RunStatus, sqlx::Error> {
        RunStatus::parse(text).ok_or_else(|| {
            sqlx::Error::Decode(
                format!(
                    "unknown status {text:?} in {TABLE} (known: {})",
                    RunStatus::ALL.map(RunStatus::as_str).join(", ")
                )
                .into(),
            )
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One history row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HistoryRow {
    /// `YYYYMMDDHHMMSS_<8 hex of the target checksum>` (UTC), `_2`… on collision.
    pub version: String,
    /// What the run did, in a line.
    pub description: String,
    /// Checksum of the target schema.
    pub checksum: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// When it started (UTC, RFC 3339).
    pub started_at: String,
    /// When it finished.
    pub finished_at: Option<String>,
    /// How long it took.
    pub execution_ms: Option<i64>,
    /// Host and process that ran it.
    pub applied_by: String,
    /// `purge` dropped its trash and backups: it can no longer be rolled back with its data.
    pub purged: bool,
}

impl HistoryRow {
    /// A row of the history listing, whichever database it comes from: `version,
    /// description, checksum, status, started_at, finished_at, execution_ms, applied_by,
    /// purged` (timestamps already as RFC 3339 text, `purged` as 0 or 1).
    pub(crate) fn from_row<R>(row: &R) -> Result<HistoryRow, sqlx::Error>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(HistoryRow {
            version: row.try_get(0)?,
            description: row.try_get(1)?,
            checksum: row.try_get(2)?,
            status: RunStatus::decode(&row.try_get::<String, _>(3)?)?,
            started_at: row.try_get(4)?,
            finished_at: row.try_get(5)?,
            execution_ms: row.try_get(6)?,
            applied_by: row.try_get(7)?,
            purged: row.try_get::<i64, _>(8)? != 0,
        })
    }
}

/// Who is running: `host:pid`.
pub fn applied_by() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}:{}", std::process::id())
}

/// A run's status and the plan it recorded (JSON), as a rollback reads them.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// Where the run stands.
    pub status: RunStatus,
    /// The recorded plan, as JSON.
    pub plan: String,
}

/// The run a trash or backup table belongs to: the longest of `versions` its name starts
/// with (`…_ab12cd34_2_users` belongs to the second run of that second, not to the first
/// run's table `2_users`).
pub fn owner<'a>(table: &str, versions: &'a [String]) -> Option<&'a String> {
    versions
        .iter()
        .filter(|v| {
            table.starts_with(&format!("_dataflow_trash_{v}_"))
                || table.starts_with(&format!("_dataflow_backup_{v}_"))
        })
        .max_by_key(|v| v.len())
}

/// A run's `progress` column, the same type on every database: where the run is (steps
/// done, the step running, down steps undone), how it ended (an error, a note), what it
/// owes to earlier runs (`resumes`), what `purge` dropped. PostgreSQL merges keys into
/// the JSON in the transactions that earn them (a group records its steps done in its own
/// transaction) and keeps each fill's resume point under `fill:<fingerprint>` and an
/// explicit plan's under `resume`: what this type does not name is kept in `other`, so
/// every row any version wrote reads back whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunProgress {
    /// Numbers of the steps that completed.
    #[serde(default)]
    pub done: Vec<usize>,
    /// The step started and not finished (a kill or an error stopped it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<usize>,
    /// Numbers of the steps whose down steps a rollback completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undone: Vec<usize>,
    /// Statements that ran with another `ALGORITHM` than planned (MySQL: the server
    /// refused it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
    /// Why the run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How a run left `running` was closed, when it was not an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Trash and backup tables dropped by `purge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged: Option<Vec<String>>,
    /// The failed run this one went on from, toward the same target: its finished steps
    /// are part of the change this run completed, and this run's rollback undoes them too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<String>,
    /// Everything else a database keeps there (fill and explicit-plan resume points).
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl RunProgress {
    /// Reads a stored `progress`; text that is not a progress object reads as none.
    pub fn parse(text: &str) -> RunProgress {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The steps the run started: those done and the one running (a non-transactional
    /// step may be half done; its down is written to run again).
    pub fn started(&self) -> Vec<usize> {
        let mut started = self.done.clone();
        if let Some(running) = self.running.filter(|r| !started.contains(r)) {
            started.push(running);
        }
        started
    }
}

/// The key under which a run's recorded plan keeps the schema the run left.
const SCHEMA_AFTER: &str = "schema_after";

/// `plan_json` with `schema` — the live schema once the run applied, statistics left out
/// (they change with the data) — under `schema_after`, so that `status` can show what
/// changed since. Readers of the plan ignore the key.
pub(crate) fn with_schema_after(plan_json: &str, schema: &dataflow_schema::Schema) -> String {
    let mut schema = schema.clone();
    for table in &mut schema.tables {
        table.stats = None;
    }
    match serde_json::to_value(&schema) {
        Ok(schema) => with_key(plan_json, SCHEMA_AFTER, schema),
        Err(_) => plan_json.to_owned(),
    }
}

/// `plan_json` (a recorded plan's JSON object) with `value` under `key`; readers of the
/// plan ignore keys they do not know. Text that is not an object is returned as it is.
pub(crate) fn with_key(plan_json: &str, key: &str, value: serde_json::Value) -> String {
    match serde_json::from_str(plan_json) {
        Ok(serde_json::Value::Object(mut plan)) => {
            plan.insert(key.to_owned(), value);
            serde_json::Value::Object(plan).to_string()
        }
        _ => plan_json.to_owned(),
    }
}

/// The schema a run left, when its recorded plan holds one (runs recorded before
/// dataflow kept it, baselines and failed runs do not).
pub(crate) fn schema_after(plan_json: &str) -> Option<dataflow_schema::Schema> {
    let plan: serde_json::Value = serde_json::from_str(plan_json).ok()?;
    serde_json::from_value(plan.get(SCHEMA_AFTER)?.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_progress_any_database_wrote_reads_back() {
        // PostgreSQL: keys merged one at a time, `error: null` on success, a fill's
        // resume point, an explicit plan's, a closing note.
        let postgres = r#"{"done": [1, 2], "running": 3, "error": null, "resumes": "v1",
            "fill:ab12": {"after": ["7"], "rows": 10}, "resume": {"step": 2},
            "note": "closed", "purged": ["public._dataflow_trash_v_users"]}"#;
        let read = RunProgress::parse(postgres);
        assert_eq!(read.started(), [1, 2, 3]);
        assert_eq!(read.resumes.as_deref(), Some("v1"));
        assert_eq!(read.error, None);
        assert!(read.other.contains_key("fill:ab12") && read.other.contains_key("resume"));
        let again: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&read).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(again["fill:ab12"]["rows"], 10, "unknown keys are written back");
        // MySQL: the whole object, written each time.
        let mysql = r#"{"done":[1],"running":2,"undone":[1],"fallbacks":["step 2: x"],
            "error":"boom","resumes":"v0"}"#;
        let read = RunProgress::parse(mysql);
        assert_eq!(
            (read.done.clone(), read.running, read.undone.clone()),
            (vec![1], Some(2), vec![1])
        );
        assert_eq!(read.error.as_deref(), Some("boom"));
        // SQLite: only what purge wrote; an empty or broken column reads as none.
        assert_eq!(RunProgress::parse(r#"{"purged":["t"]}"#).purged, Some(vec!["t".to_owned()]));
        assert_eq!(RunProgress::parse("{}"), RunProgress::default());
        assert_eq!(RunProgress::parse("not json"), RunProgress::default());
    }

    #[test]
    fn every_status_reads_back_as_stored() {
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).ok(), Some(status.as_str().into()));
        }
        assert!(RunStatus::decode("half_done").is_err());
    }
}
