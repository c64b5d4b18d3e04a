//! Online recipes for tables that already hold rows (RISK.md §2, rows 14b, 15b, 16b, 18b,
//! 19b): the same change, made so that reads and writes go on.
//! - indexes are built and dropped `CONCURRENTLY`, outside any transaction; a build that
//!   fails leaves an INVALID index, which the next run's plan drops and builds again;
//! - a unique constraint is a unique index built concurrently, then attached
//!   (`ADD CONSTRAINT … UNIQUE USING INDEX`, instant);
//! - a foreign key or CHECK is added `NOT VALID` (instant: new rows are checked at once) and
//!   validated in a step of its own, which scans without blocking reads or writes;
//! - SET NOT NULL is proven first by a `CHECK (col IS NOT NULL) NOT VALID` that is then
//!   validated, so the SET NOT NULL itself skips its scan (row 12b).
//!
//! A table is small — and keeps the simple forms inside the table's transaction — when its
//! statistics say it holds fewer rows and bytes than `PlanOptions::tiny_table_*`; a table
//! of unknown size is never small, and one this plan creates is empty.

use super::render::Rendered;
use super::risk::{classify_type_change, TypeChange};
use super::{qualified, quote_ident};
use crate::change::Change;
use crate::model::{Column, Index, IndexPart, QualifiedName, Table, TableStats};
use crate::plan::{PlanOptions, Rollback};
use crate::risk::{Assessment, Hazard, RiskLevel};

/// Whether a table of this size takes the simple forms.
pub fn is_small(stats: Option<TableStats>, options: &PlanOptions) -> bool {
    match stats {
        Some(TableStats { rows: Some(0), .. }) => true,
        Some(TableStats { rows: Some(rows), bytes }) => {
            rows < options.tiny_table_rows && bytes.is_none_or(|b| b < options.tiny_table_bytes)
        }
        _ => false,
    }
}

/// Foreign keys and checks added to a populated table become `NOT VALID` plus a
/// `ValidateConstraint` right after them; a column added with a volatile default
/// (`gen_random_uuid()`, `clock_timestamp()`, `nextval(…)`), which would rewrite the table
/// under ACCESS EXCLUSIVE, is filled like a backfill instead: the default serves new rows,
/// keyset batches give each existing row its own value. `populated(table)` says whether
/// the recipes apply.
pub fn expand(changes: Vec<Change>, populated: impl Fn(&QualifiedName) -> bool) -> Vec<Change> {
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        match change {
            Change::AddForeignKey { table, mut foreign_key }
                if !foreign_key.not_valid && populated(&table) =>
            {
                foreign_key.not_valid = true;
                let name = foreign_key.name.clone();
                out.push(Change::AddForeignKey { table: table.clone(), foreign_key });
                out.push(Change::ValidateConstraint { table, name });
            }
            Change::AddCheck { table, mut check } if !check.not_valid && populated(&table) => {
                check.not_valid = true;
                let name = check.name.clone();
                out.push(Change::AddCheck { table: table.clone(), check });
                out.push(Change::ValidateConstraint { table, name });
            }
            Change::AddColumn { table, mut column, primary_key }
                if column.backfill.is_none() && populated(&table) =>
            {
                if let Some(crate::model::DefaultExpr::Sql(sql)) = &column.default {
                    if super::risk::is_volatile_default(sql) {
                        column.backfill = Some(crate::model::Backfill::Computed(sql.clone()));
                    }
                }
                out.push(Change::AddColumn { table, column, primary_key });
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether `change` runs outside a transaction on a populated table: `CONCURRENTLY`, a
/// fill in keyset batches, or a type change through a shadow column.
pub fn is_concurrent(change: &Change) -> bool {
    matches!(
        change,
        Change::AddIndex { .. }
            | Change::DropIndex { .. }
            | Change::AddUnique { .. }
            | Change::SetNotNull { .. }
    ) || matches!(change, Change::AddColumn { column, .. } if column.backfill.is_some())
        || matches!(change, Change::AlterColumnType { from, to, .. }
            if classify_type_change(from, to) == TypeChange::Rewrite)
}

/// The lock an online form takes for an instant at its end, beside the weak lock of its
/// long part: every one but the plain index build and drop changes the table's definition
/// (the swap, `ADD CONSTRAINT … USING INDEX`, `SET NOT NULL`, `ADD COLUMN`).
pub fn instant_lock(change: &Change) -> Option<crate::plan::LockLevel> {
    match change {
        Change::AddIndex { .. } | Change::DropIndex { .. } => None,
        _ => Some(crate::plan::LockLevel::AccessExclusive),
    }
}

/// The `CONCURRENTLY` forms. Each statement commits on its own, so every one is safe to
/// run again after a lock timeout (a leftover INVALID index is dropped first).
pub fn render_concurrent(change: &Change, current: &crate::model::Schema) -> Option<Rendered> {
    let (drop, create) = (drop_concurrently, create_concurrently);
    Some(match change {
        Change::AddIndex { table, index } => Rendered {
            up: vec![drop(table, &index.name), create(table, index)],
            down: Rollback::Sql(vec![drop(table, &index.name)]),
        },
        Change::DropIndex { table, index } => Rendered {
            up: vec![drop(table, &index.name)],
            down: Rollback::Sql(vec![drop(table, &index.name), create(table, index)]),
        },
        Change::AddUnique { table, unique } if !unique.deferrable && !unique.nulls_not_distinct => {
            let index = crate::model::Index {
                name: unique.name.clone(),
                parts: unique
                    .columns
                    .iter()
                    .cloned()
                    .map(crate::model::IndexPart::Column)
                    .collect(),
                unique: true,
                ..crate::model::Index::default()
            };
            Rendered {
                up: vec![
                    drop(table, &unique.name),
                    create(table, &index),
                    format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                        qualified(table),
                        quote_ident(&unique.name),
                        quote_ident(&unique.name)
                    ),
                ],
                down: Rollback::Sql(vec![format!(
                    "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                    qualified(table),
                    quote_ident(&unique.name)
                )]),
            }
        }
        Change::SetNotNull { table, column, primary_key } => {
            let mut up: Vec<String> =
                super::render::fill_nulls(table, column, primary_key).into_iter().collect();
            up.extend(prove_not_null(table, &column.name));
            up.extend(super::render::name_not_null(table, column));
            Rendered {
                up,
                down: Rollback::Sql(vec![super::render::alter_column(
                    table,
                    &column.name,
                    "DROP NOT NULL",
                )]),
            }
        }
        Change::AddColumn { table, column, primary_key } => {
            let backfill = column.backfill.as_ref()?;
            let mut staged = column.clone();
            staged.nullable = true;
            staged.default = None;
            let mut up = vec![format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {}",
                qualified(table),
                super::column_definition(&staged)
            )];
            if let Some(default) = &column.default {
                up.push(super::render::set_default(table, &column.name, Some(default)));
            }
            up.push(super::render::backfill_statement(
                table,
                &column.name,
                backfill,
                primary_key,
                true,
            ));
            if !column.nullable {
                up.extend(prove_not_null(table, &column.name));
                up.extend(super::render::name_not_null(table, column));
            }
            if let Some(text) = &column.comment {
                up.push(super::render::comment(table, Some(&column.name), Some(text)));
            }
            Rendered {
                up,
                down: Rollback::Sql(vec![format!(
                    "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
                    qualified(table),
                    quote_ident(&column.name)
                )]),
            }
        }
        Change::AlterColumnType { .. } => return type_swap(change, current),
        _ => return None,
    })
}

/// The shadow column a type change fills before it is swapped in. Columns named
/// `_dataflow_*` are the engine's: introspection does not report them, so a run stopped
/// half-way is planned again and resumes.
pub fn shadow_column(column: &str) -> String {
    crate::naming::object_name("_dataflow_new", Some(column), "col")
}

/// A type change that would rewrite the table under ACCESS EXCLUSIVE (RISK.md row 10c),
/// made online:
/// 1. a shadow column of the new type (an instant) and a trigger that keeps it in step with
///    every write;
/// 2. the existing rows converted in keyset batches, NOT NULL proven by a validated CHECK;
/// 3. the column's indexes (and unique constraints' indexes) built on the shadow
///    `CONCURRENTLY`;
/// 4. the swap, one short transaction: trigger dropped, old column dropped (with its
///    indexes and constraints), shadow renamed, indexes renamed, unique constraints
///    attached `USING INDEX`, checks and foreign keys added back `NOT VALID`, default and
///    comment carried over;
/// 5. those checks and foreign keys validated without blocking.
///
/// A primary-key column (a one-column key) keeps its key: a unique index is built on the
/// shadow and attached as the primary key in the swap; the foreign keys that reference it
/// are dropped and added back `NOT VALID` in the swap, then validated; an identity or
/// serial column gets its generator back, restarted after the largest value.
///
/// Not for a column in a composite primary key, one used by an expression or partial
/// index, an exclusion constraint or a generated column, or a table without a primary
/// key: `None`, and the direct form (rated MEDIUM) runs.
fn type_swap(change: &Change, schema: &crate::model::Schema) -> Option<Rendered> {
    let Change::AlterColumnType { table: name, column, to, to_collation, .. } = change else {
        return None;
    };
    let table = schema.table(name)?;
    let current = table.column(column)?;
    if !swappable(table, current) {
        return None;
    }
    let shadow = shadow_column(column);
    let helper = QualifiedName {
        schema: name.schema.clone(),
        name: crate::naming::object_name(
            "_dataflow_sync",
            Some(&format!("{}_{column}", name.name)),
            "trg",
        ),
    };
    let t = qualified(name);
    let ty = super::render_type(to);
    let (col, shadow_q) = (quote_ident(column), quote_ident(&shadow));
    let body = format!("BEGIN NEW.{shadow_q} := CAST(NEW.{col} AS {ty}); RETURN NEW; END");
    // The body is dollar-quoted; a name holding the tag cannot be.
    if body.contains("$dataflow$") || t.contains("$dataflow$") {
        return None;
    }
    let staged = Column {
        nullable: true,
        collation: to_collation.clone(),
        ..Column::new(shadow.clone(), to.clone())
    };
    let trigger = quote_ident(&helper.name);
    let function = qualified(&helper);
    let mut up = vec![
        format!("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {}", super::column_definition(&staged)),
        format!(
            "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $dataflow${body}$dataflow$"
        ),
        format!(
            "DROP TRIGGER IF EXISTS {trigger} ON {t}; CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {t} \
             FOR EACH ROW EXECUTE FUNCTION {function}()"
        ),
        format!(
            "UPDATE {t} SET {shadow_q} = CAST({col} AS {ty}) WHERE {shadow_q} IS NULL AND {col} IS NOT NULL"
        ),
    ];
    // The shadow is proven here and made NOT NULL in the swap, once it has the column's
    // name: PostgreSQL 18 names the NOT NULL constraint after the column it is made on.
    let proven = !current.nullable;
    if proven {
        up.extend(prove(name, &shadow));
    }
    let uses = |columns: &[String]| columns.iter().any(|c| c == column);
    let on_shadow = |columns: &[String]| -> Vec<String> {
        columns.iter().map(|c| if c == column { shadow.clone() } else { c.clone() }).collect()
    };
    let in_schema =
        |index: &str| QualifiedName { schema: name.schema.clone(), name: index.to_owned() };
    let shadow_index = |index: &str| crate::naming::object_name("_dataflow", Some(index), "new");
    // The swap: one statement string, which PostgreSQL runs as one transaction.
    // Foreign keys of any table that reference this column (its primary key or a unique
    // constraint on it): dropped before the old column goes, added back NOT VALID after.
    let referencing: Vec<(&QualifiedName, &crate::model::ForeignKey)> = schema
        .tables
        .iter()
        .flat_map(|other| other.foreign_keys.iter().map(move |fk| (&other.name, fk)))
        .filter(|(_, fk)| &fk.ref_table == name && uses(&fk.ref_columns))
        .collect();
    let mut swap =
        vec![format!("DROP TRIGGER {trigger} ON {t}"), format!("DROP FUNCTION {function}()")];
    for (other, fk) in &referencing {
        swap.push(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            qualified(other),
            quote_ident(&fk.name)
        ));
    }
    swap.push(format!("ALTER TABLE {t} DROP COLUMN {col}"));
    swap.push(format!("ALTER TABLE {t} RENAME COLUMN {shadow_q} TO {col}"));
    if proven {
        swap.extend(settle(name, column, &shadow, current.not_null_constraint.as_deref()));
    }
    let mut validate = Vec::new();
    if let Some(key) = table.primary_key.as_ref().filter(|pk| uses(&pk.columns)) {
        let copy = Index {
            name: shadow_index(&key.name),
            parts: vec![IndexPart::Column(shadow.clone())],
            unique: true,
            ..Index::default()
        };
        up.extend(build_concurrently(name, &copy));
        swap.push(format!(
            "ALTER TABLE {t} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}",
            quote_ident(&key.name),
            quote_ident(&copy.name)
        ));
    }
    if let Some(identity) = current.identity {
        swap.extend(super::render::alter_identity(name, column, None, Some(identity)));
    }
    for index in table.indexes.iter().filter(|i| {
        i.parts.iter().any(|p| matches!(p, IndexPart::Column(c) if c == column)) || uses(&i.include)
    }) {
        let copy = Index {
            name: shadow_index(&index.name),
            parts: index
                .parts
                .iter()
                .map(|p| match p {
                    IndexPart::Column(c) if c == column => IndexPart::Column(shadow.clone()),
                    other => other.clone(),
                })
                .collect(),
            include: on_shadow(&index.include),
            ..index.clone()
        };
        up.extend(build_concurrently(name, &copy));
        swap.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(&in_schema(&copy.name)),
            quote_ident(&index.name)
        ));
    }
    for unique in table.uniques.iter().filter(|u| uses(&u.columns)) {
        let copy = Index {
            name: shadow_index(&unique.name),
            parts: on_shadow(&unique.columns).into_iter().map(IndexPart::Column).collect(),
            unique: true,
            nulls_not_distinct: unique.nulls_not_distinct,
            ..Index::default()
        };
        up.extend(build_concurrently(name, &copy));
        swap.push(format!(
            "ALTER TABLE {t} ADD CONSTRAINT {} UNIQUE USING INDEX {}{}",
            quote_ident(&unique.name),
            quote_ident(&copy.name),
            super::render::deferrable_clause(unique.deferrable, unique.initially_deferred)
        ));
    }
    for check in table.checks.iter().filter(|c| mentions(&c.expression, column)) {
        let added = Change::AddCheck {
            table: name.clone(),
            check: crate::model::CheckConstraint { not_valid: true, ..check.clone() },
        };
        swap.extend(super::render::render(&added).up);
        if !check.not_valid {
            validate.extend(self::validate(name, &check.name));
        }
    }
    for fk in table.foreign_keys.iter().filter(|fk| uses(&fk.columns)) {
        let added = Change::AddForeignKey {
            table: name.clone(),
            foreign_key: crate::model::ForeignKey { not_valid: true, ..fk.clone() },
        };
        swap.extend(super::render::render(&added).up);
        if !fk.not_valid {
            validate.extend(self::validate(name, &fk.name));
        }
    }
    for (other, fk) in &referencing {
        let added = Change::AddForeignKey {
            table: (*other).clone(),
            foreign_key: crate::model::ForeignKey { not_valid: true, ..(*fk).clone() },
        };
        swap.extend(super::render::render(&added).up);
        if !fk.not_valid {
            validate.extend(self::validate(other, &fk.name));
        }
    }
    // A serial column's `nextval` default comes back with its sequence, above.
    if let Some(default) = current.default.as_ref().filter(|_| current.identity.is_none()) {
        swap.push(super::render::set_default(name, column, Some(default)));
    }
    if let Some(text) = &current.comment {
        swap.push(super::render::comment(name, Some(column), Some(text)));
    }
    up.push(swap.join("; "));
    up.extend(validate);
    // The rollback converts back directly, as the plain form's does.
    Some(Rendered { up, down: super::render::render(change).down })
}

/// `DROP INDEX CONCURRENTLY IF EXISTS` the index `name` of `table`'s namespace.
fn drop_concurrently(table: &QualifiedName, name: &str) -> String {
    let index = QualifiedName { schema: table.schema.clone(), name: name.to_owned() };
    format!("DROP INDEX CONCURRENTLY IF EXISTS {}", qualified(&index))
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY …`.
fn create_concurrently(table: &QualifiedName, index: &Index) -> String {
    super::render::create_index_sql(table, index).replacen("INDEX ", "INDEX CONCURRENTLY ", 1)
}

/// The drop of a leftover of a stopped run, then the build.
fn build_concurrently(table: &QualifiedName, index: &Index) -> [String; 2] {
    [drop_concurrently(table, &index.name), create_concurrently(table, index)]
}

/// `ALTER TABLE … VALIDATE CONSTRAINT …`, as the `ValidateConstraint` step renders it.
fn validate(table: &QualifiedName, name: &str) -> Vec<String> {
    super::render::render(&Change::ValidateConstraint {
        table: table.clone(),
        name: name.to_owned(),
    })
    .up
}

fn mentions(sql: &str, column: &str) -> bool {
    super::preflight::mentions_any(sql, std::iter::once(column))
}

/// Whether the swap can carry everything that uses the column: not part of a composite
/// primary key, no generated expression, not used by an expression or partial index, an
/// exclusion constraint or another column's generated expression; and the table has a
/// primary key to walk.
fn swappable(table: &Table, column: &Column) -> bool {
    let name = column.name.as_str();
    table
        .primary_key
        .as_ref()
        .is_some_and(|pk| pk.columns == [name] || !pk.columns.iter().any(|c| c == name))
        && column.generated.is_none()
        && table.indexes.iter().all(|index| {
            !index.predicate.as_deref().is_some_and(|p| mentions(p, name))
                && index.parts.iter().all(|part| match part {
                    IndexPart::Column(_) => true,
                    IndexPart::Expression(e) => !mentions(e, name),
                })
        })
        && table.exclusions.is_empty()
        && table.columns.iter().all(|c| !c.generated.as_deref().is_some_and(|g| mentions(g, name)))
}

/// SET NOT NULL without its blocking scan: a `CHECK (col IS NOT NULL) NOT VALID`, validated
/// without blocking, proves it; the check goes afterwards (row 12b). Safe to run again.
fn prove_not_null(table: &QualifiedName, column: &str) -> Vec<String> {
    let mut statements = prove(table, column).to_vec();
    statements.extend(settle(table, column, column, None));
    statements
}

/// The proof of [`prove_not_null`]: the check added `NOT VALID` (a leftover of a stopped
/// run dropped first), then validated without blocking writes.
fn prove(table: &QualifiedName, column: &str) -> [String; 3] {
    let check = quote_ident(&crate::naming::not_null_proof(&table.name, column));
    let t = qualified(table);
    [
        format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}"),
        format!(
            "ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({} IS NOT NULL) NOT VALID",
            quote_ident(column)
        ),
        format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check}"),
    ]
}

/// NOT NULL on `column`, under `constraint` if given (instant: the proof made for
/// `proven_as` — the column's name when it was proven — shows there is no NULL), then the
/// proof dropped.
fn settle(
    table: &QualifiedName,
    column: &str,
    proven_as: &str,
    constraint: Option<&str>,
) -> [String; 2] {
    let check = quote_ident(&crate::naming::not_null_proof(&table.name, proven_as));
    [
        super::render::set_not_null(table, column, constraint),
        format!("ALTER TABLE {} DROP CONSTRAINT {check}", qualified(table)),
    ]
}

/// The rating of the online forms (RISK.md rates them SAFE: nothing waits on them).
pub fn rate(change: &Change, concurrent: bool, mut rated: Assessment) -> Assessment {
    // The direct form's lock and duration facts no longer hold; SQL written in the model
    // still does.
    let reset = |rated: &mut Assessment, level: RiskLevel, hazards: &[Hazard], reason: &str| {
        let user_sql = rated.hazards.contains(&Hazard::IsUserGenerated);
        rated.level = level;
        rated.hazards = hazards.to_vec();
        let mut reasons = vec![reason.to_owned()];
        if user_sql {
            rated.hazards.push(Hazard::IsUserGenerated);
            reasons.extend(rated.reasons.iter().filter(|r| r.contains("SQL written")).cloned());
        }
        rated.hazards.sort();
        rated.hazards.dedup();
        rated.reasons = reasons;
        rated.lock_bound = false;
    };
    match change {
        Change::AddIndex { index, .. } if concurrent => {
            reset(
                &mut rated,
                RiskLevel::Safe,
                &[Hazard::IndexBuild, Hazard::ImpactsDatabasePerformance],
                "CREATE INDEX CONCURRENTLY: reads and writes go on while it builds; a failed \
                 build leaves an INVALID index that the next run drops and rebuilds (row 18b)",
            );
            if index.unique {
                rated.can_fail_on_data = true;
                rated.reasons.push("fails on duplicate values, changing nothing".into());
            }
        }
        Change::DropIndex { index, .. } if concurrent => {
            reset(
                &mut rated,
                RiskLevel::Safe,
                &[Hazard::IndexDropped],
                "DROP INDEX CONCURRENTLY: waits for queries using the index, blocks none (row 19b)",
            );
            // Dropping it without a lock does not keep what it guaranteed.
            if index.unique && !index.invalid {
                rated.level = RiskLevel::High;
                rated.hazards.push(Hazard::Correctness);
                rated.reasons.push(
                    "the uniqueness guarantee is gone: INSERT … ON CONFLICT on these columns \
                     starts failing"
                        .into(),
                );
            }
        }
        Change::AddUnique { .. } if concurrent => {
            reset(
                &mut rated,
                RiskLevel::Safe,
                &[Hazard::IndexBuild, Hazard::ImpactsDatabasePerformance],
                "unique index built CONCURRENTLY, then attached as the constraint in an instant \
                 (row 14b); fails on duplicate values, changing nothing",
            );
            rated.can_fail_on_data = true;
        }
        Change::SetNotNull { column, .. } if concurrent => {
            let filled = column.backfill.is_some() || column.default.is_some();
            if filled {
                reset(
                    &mut rated,
                    RiskLevel::Medium,
                    &[Hazard::ImpactsDatabasePerformance],
                    "NULLs are filled outside any table lock (in keyset batches, one commit each, \
                     when the table has a primary key), then a CHECK NOT VALID + VALIDATE proves \
                     the column has none, so SET NOT NULL takes only an instant lock (row 12b)",
                );
                rated.lock_bound = true;
            } else {
                reset(
                    &mut rated,
                    RiskLevel::Safe,
                    &[Hazard::ImpactsDatabasePerformance],
                    "a CHECK NOT VALID + VALIDATE proves the column has no NULLs without blocking; \
                     SET NOT NULL then takes only an instant lock (row 12b)",
                );
                rated.can_fail_on_data = true;
                rated.reasons.push(
                    "fails if any row is NULL (add `default` or `backfill`); the check added NOT VALID \
                     then stays, so new rows must not be NULL, until the next run replaces it"
                        .into(),
                );
            }
        }
        Change::AddColumn { .. } if concurrent => {
            reset(
                &mut rated,
                RiskLevel::Medium,
                &[Hazard::ImpactsDatabasePerformance],
                "added nullable (instant), filled outside any table lock (in keyset batches of \
                 ~100 ms, one commit each, when the table has a primary key), then made NOT NULL \
                 through a validated CHECK without a blocking scan (rows 3, 12b)",
            );
            rated.lock_bound = true;
        }
        Change::AlterColumnType { .. } if concurrent => {
            reset(
                &mut rated,
                RiskLevel::Medium,
                &[Hazard::ImpactsDatabasePerformance],
                "a shadow column of the new type, kept in step by a trigger, filled in keyset \
                 batches outside any table lock, swapped in within an instant lock — no \
                 rewrite under ACCESS EXCLUSIVE (row 10c); the rollback converts back directly",
            );
            rated.lock_bound = true;
        }
        Change::AddForeignKey { foreign_key, .. } if foreign_key.not_valid => reset(
            &mut rated,
            RiskLevel::Safe,
            &[Hazard::AcquiresShareRowExclusiveLock],
            "added NOT VALID: an instant lock; new rows are checked at once, existing ones by \
             the VALIDATE step that follows (row 16b)",
        ),
        Change::AddCheck { check, .. } if check.not_valid => reset(
            &mut rated,
            RiskLevel::Safe,
            &[Hazard::AcquiresAccessExclusiveLock],
            "added NOT VALID: an instant lock; new rows are checked at once, existing ones by \
             the VALIDATE step that follows (row 15b)",
        ),
        _ => {}
    }
    rated
}

/// The keyset-batch form of the fill in `up` (see [`crate::plan::Batched`]): for a
/// backfilled column, NULLs filled before SET NOT NULL, or a type change's shadow column,
/// on a table with a primary key.
pub fn batched(
    change: &Change,
    up: &[String],
    table: Option<&crate::model::Table>,
) -> Option<crate::plan::Batched> {
    // A sequence numbers the NULL rows in key order: a batch's values continue from the
    // rows earlier batches changed, passed as the last parameter.
    let mut sequence = None;
    let (name, target, value) = match change {
        Change::AddColumn { table, column, .. } | Change::SetNotNull { table, column, .. } => {
            let value = match &column.backfill {
                Some(crate::model::Backfill::Sequence { start, step }) => {
                    sequence = Some((*start, *step));
                    String::new()
                }
                _ => super::fill_value(column)?,
            };
            (table, column.name.clone(), value)
        }
        Change::AlterColumnType { table, column, to, .. } => (
            table,
            shadow_column(column),
            format!("CAST({} AS {})", quote_ident(column), super::render_type(to)),
        ),
        _ => return None,
    };
    let table = table?;
    let key = &table.primary_key.as_ref()?.columns;
    let types: Vec<String> = key
        .iter()
        .map(|k| table.column(k).map(|c| super::render_type(&c.ty)))
        .collect::<Option<_>>()?;
    let statement = up.iter().position(|s| s.starts_with("UPDATE "))?;
    let t = qualified(name);
    let col = |k: &str| format!("{t}.{}", quote_ident(k));
    let aliases: Vec<String> = (1..=key.len()).map(|i| format!("\"__dataflow_k{i}\"")).collect();
    let selected = key
        .iter()
        .zip(&aliases)
        .map(|(k, a)| format!("{} AS {a}", col(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let order = key.iter().map(|k| col(k)).collect::<Vec<_>>().join(", ");
    let last = aliases.iter().map(|a| format!("upper.{a}::text")).collect::<Vec<_>>().join(", ");
    let upper = aliases.iter().map(|a| format!("upper.{a}")).collect::<Vec<_>>().join(", ");
    let descending = aliases.iter().map(|a| format!("{a} DESC")).collect::<Vec<_>>().join(", ");
    let after = format!(
        "({order}) > ({})",
        types
            .iter()
            .enumerate()
            .map(|(i, ty)| format!("${}::{ty}", i + 2))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The batch's keys come from the index alone (an index-only scan ahead of the writes);
    // the UPDATE then takes the key range, so it reads the heap in key order, once.
    let batch = |lower: Option<&str>, offset: usize| {
        let (filter, range) = match lower {
            Some(lower) => (format!(" WHERE {lower}"), format!("{lower} AND ")),
            None => (String::new(), String::new()),
        };
        let keys = format!(
            "WITH batch AS (SELECT {selected} FROM {t}{filter} ORDER BY {order} LIMIT $1), \
             upper AS (SELECT * FROM batch ORDER BY {descending} LIMIT 1)"
        );
        let (target, target_col) = (quote_ident(&target), col(&target));
        let changed = match sequence {
            None => format!(
                "changed AS (UPDATE {t} SET {target} = {value} FROM upper \
                 WHERE {range}({order}) <= ({upper}) AND {target_col} IS NULL RETURNING 1)"
            ),
            Some((start, step)) => {
                let join = key
                    .iter()
                    .zip(&aliases)
                    .map(|(k, a)| format!("{} = numbered.{a}", col(k)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                format!(
                    "numbered AS (SELECT {selected}, row_number() OVER (ORDER BY {order}) AS n \
                     FROM {t}, upper WHERE {range}({order}) <= ({upper}) AND {target_col} IS NULL), \
                     changed AS (UPDATE {t} SET {target} = {start} + (${offset}::bigint + numbered.n - 1) * {step} \
                     FROM numbered WHERE {join} RETURNING 1)"
                )
            }
        };
        format!(
            "{keys}, {changed} \
             SELECT {last}, (SELECT count(*) FROM batch), (SELECT count(*) FROM changed) FROM upper"
        )
    };
    Some(crate::plan::Batched {
        statement,
        table: name.to_string(),
        first: batch(None, 2),
        next: batch(Some(&after), key.len() + 2),
        key_columns: key.len(),
        numbered: sequence.is_some(),
        vacuum: format!("VACUUM (INDEX_CLEANUP OFF, TRUNCATE OFF) {t}"),
        relation: t,
    })
}
