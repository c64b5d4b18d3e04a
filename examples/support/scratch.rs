//! A throwaway PostgreSQL database for an example: created fresh, dropped at the end.
//! The server comes from `DATAFLOW_EXAMPLE_POSTGRES` (an admin URL), by default
//! `postgres://postgres@127.0.0.1:5432/postgres`.

use sqlx::Executor;

/// A database that exists for one example run.
pub struct Scratch {
    /// Its URL.
    pub url: String,
    admin: dataflow::Postgres,
    name: &'static str,
}

impl Scratch {
    /// Creates the database `name` (dropping a leftover of an earlier run first).
    pub async fn create(name: &'static str) -> Result<Scratch, Box<dyn std::error::Error>> {
        let admin_url = std::env::var("DATAFLOW_EXAMPLE_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let admin = dataflow::Postgres::connect(&admin_url).await.map_err(|e| {
            format!("{e:?}\n(this example needs PostgreSQL; set DATAFLOW_EXAMPLE_POSTGRES to an admin URL)")
        })?;
        // `name` is a constant of the example, not input.
        admin
            .pool()
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await?;
        admin.pool().execute(format!("CREATE DATABASE {name}").as_str()).await?;
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        Ok(Scratch { url: format!("{base}/{name}"), admin, name })
    }

    /// Drops the database.
    pub async fn drop(self) -> Result<(), Box<dyn std::error::Error>> {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        self.admin.pool().execute(sql.as_str()).await?;
        Ok(())
    }
}

/// The PostgreSQL pool of `flow` (these examples run on PostgreSQL).
pub fn pool(flow: &dataflow::DataFlow) -> Result<&sqlx::PgPool, &'static str> {
    flow.postgres().map(|db| db.pool()).ok_or("this example runs on PostgreSQL")
}
