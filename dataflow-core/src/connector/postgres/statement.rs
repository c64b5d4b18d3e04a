//! Running SQL text as it is: the statements of a plan, `SET`s, `BEGIN`/`COMMIT`.

use sqlx::Executor;

/// One statement (or several, `;`-separated) over the simple query protocol.
pub(crate) async fn execute(
    connection: &mut sqlx::PgConnection,
    sql: &str,
) -> std::result::Result<(), sqlx::Error> {
    // `connection.execute(raw_sql(..))`, not `raw_sql(..).execute(connection)`: the
    // latter's future is not `Send` for every lifetime (sqlx issue #3150).
    connection.execute(sqlx::raw_sql(sql)).await.map(|_| ())
}
