//! An e-commerce schema growing in three releases, each applied by `auto_migrate()` the
//! way a service does at startup.
//!
//! Run: `cargo run --example ecommerce` (PostgreSQL on 127.0.0.1:5432, or set
//! `DATAFLOW_EXAMPLE_POSTGRES` to an admin URL). It works in a scratch database
//! `dataflow_example_ecommerce`, dropped at the end.
//!
//! 1. Release 1 creates `products` and `orders` (an order references its product).
//! 2. Release 2 adds inventory and shipping: `inventory_count` and `status` are NOT NULL
//!    with constant defaults, which PostgreSQL stores in the catalog (SAFE: no rewrite,
//!    an instant lock). The index on `category` is a plain build inside the table's
//!    transaction, SAFE because the table is tiny (row counts come from the table
//!    statistics, so the example runs ANALYZE as autovacuum would); on a populated table
//!    it would be built CONCURRENTLY. The unique `sku` and the CHECK on `status` stay
//!    MEDIUM on a tiny table: they can fail on existing rows (duplicates, values outside
//!    the list); on a populated table they become a concurrent unique index and a
//!    NOT VALID check validated separately.
//! 3. Release 3 adds JSON columns (`jsonb`), a featured flag, a GIN index on the
//!    specifications and a partial index on featured products.
//!
//! Every release prints the preview (table, SQL, rollback plan, safety summary) and
//! applies it; rows inserted in between survive every step. At the end the history is
//! listed and release 3 is rolled back, with the rows still there.

#[path = "support/scratch.rs"]
mod scratch;

use dataflow::{DataFlow, MigrateOptions, Mode};
use sqlx::Executor;

/// Release 1: what the shop launched with.
#[allow(dead_code)]
mod release1 {
    use dataflow::Model;

    #[derive(Model)]
    #[dataflow(table = "products")]
    pub struct Product {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub name: String,
        #[dataflow(sql_type = "numeric(10,2)", check = "price >= 0")]
        pub price: f64,
        pub description: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(table = "orders")]
    pub struct Order {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(references = "products.id", on_delete = "restrict", index)]
        pub product_id: i64,
        pub quantity: i32,
        #[dataflow(sql_type = "numeric(12,2)")]
        pub total: f64,
    }
}

/// Release 2: inventory and shipping.
#[allow(dead_code)]
mod release2 {
    use dataflow::Model;

    #[derive(Model)]
    #[dataflow(table = "products", index(columns("category")))]
    pub struct Product {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub name: String,
        #[dataflow(sql_type = "numeric(10,2)", check = "price >= 0")]
        pub price: f64,
        pub description: Option<String>,
        #[dataflow(default = 0)]
        pub inventory_count: i32,
        #[dataflow(unique, max_length = 64)]
        pub sku: Option<String>,
        pub category: Option<String>,
    }

    #[derive(Model)]
    #[dataflow(table = "orders")]
    pub struct Order {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(references = "products.id", on_delete = "restrict", index)]
        pub product_id: i64,
        pub quantity: i32,
        #[dataflow(sql_type = "numeric(12,2)")]
        pub total: f64,
        #[dataflow(default = "pending", check = "status IN ('pending', 'paid', 'shipped')")]
        pub status: String,
        pub tracking_number: Option<String>,
    }
}

/// Release 3: JSON documents and merchandising.
#[allow(dead_code)]
mod release3 {
    use dataflow::{Json, Model};
    use std::collections::BTreeMap;

    /// Free-form key/value documents, stored as `jsonb`.
    pub type Document = Json<BTreeMap<String, String>>;

    #[derive(Model)]
    #[dataflow(
        table = "products",
        index(columns("category")),
        index(columns("specifications"), method = "gin"),
        index(columns("id"), name = "products_featured_idx", predicate = "is_featured")
    )]
    pub struct Product {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        pub name: String,
        #[dataflow(sql_type = "numeric(10,2)", check = "price >= 0")]
        pub price: f64,
        pub description: Option<String>,
        #[dataflow(default = 0)]
        pub inventory_count: i32,
        #[dataflow(unique, max_length = 64)]
        pub sku: Option<String>,
        pub category: Option<String>,
        pub specifications: Option<Document>,
        pub images: Option<Json<Vec<String>>>,
        #[dataflow(default = false)]
        pub is_featured: bool,
    }

    #[derive(Model)]
    #[dataflow(table = "orders")]
    pub struct Order {
        #[dataflow(primary_key, auto)]
        pub id: i64,
        #[dataflow(references = "products.id", on_delete = "restrict", index)]
        pub product_id: i64,
        pub quantity: i32,
        #[dataflow(sql_type = "numeric(12,2)")]
        pub total: f64,
        #[dataflow(default = "pending", check = "status IN ('pending', 'paid', 'shipped')")]
        pub status: String,
        pub tracking_number: Option<String>,
        pub shipping_address: Option<Document>,
        pub billing_address: Option<Document>,
        pub metadata: Option<Document>,
    }
}

/// What a release does at startup: preview (on stderr), apply, report.
async fn release(
    number: u32,
    flow: &DataFlow,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    eprintln!("\n=== Release {number} starts: auto_migrate() ===");
    let options = MigrateOptions::default().with_mode(Mode::preview_and_apply());
    let report = flow.auto_migrate(options).await?;
    match &report.version {
        Some(version) => eprintln!(
            "Release {number}: applied {} step(s) as {version} in {} ms.",
            report.plan.steps.len(),
            report.elapsed_ms
        ),
        None => eprintln!("Release {number}: nothing to do."),
    }
    // A second replica starting the same release finds nothing to do.
    let replica = MigrateOptions::default().with_mode(Mode::AutoConfirm);
    let again = flow.auto_migrate(replica).await?;
    assert!(again.version.is_none(), "a second start must find nothing to do");
    Ok(report.version)
}

async fn count(flow: &DataFlow, sql: &str) -> Result<i64, Box<dyn std::error::Error>> {
    Ok(sqlx::query_scalar(sql).fetch_one(scratch::pool(flow)?).await?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = scratch::Scratch::create("dataflow_example_ecommerce").await?;
    let connect = || DataFlow::connect(&scratch.url);

    let v1 = connect().await?.model::<release1::Product>().model::<release1::Order>();
    release(1, &v1).await?;
    scratch::pool(&v1)?
        .execute(
            "INSERT INTO products (name, price) VALUES ('Desk', 199.00), ('Lamp', 35.50); \
             INSERT INTO orders (product_id, quantity, total) VALUES (1, 2, 398.00); \
             ANALYZE products, orders",
        )
        .await?;

    let v2 = connect().await?.model::<release2::Product>().model::<release2::Order>();
    release(2, &v2).await?;
    scratch::pool(&v2)?
        .execute("UPDATE products SET sku = 'DESK-1', category = 'furniture' WHERE id = 1")
        .await?;

    let v3 = connect().await?.model::<release3::Product>().model::<release3::Order>();
    let version3 = release(3, &v3).await?;
    scratch::pool(&v3)?
        .execute(
            "UPDATE products SET specifications = '{\"width\": \"120cm\"}', is_featured = true \
             WHERE id = 1",
        )
        .await?;

    eprintln!("\n=== History ===");
    for row in v3.history(None).await? {
        eprintln!("{}  {:<8}  {}", row.version, row.status, row.description);
    }

    if let Some(version) = version3 {
        eprintln!("\n=== Rolling back release 3 ({version}) ===");
        let analysis = v3.analyze_rollback(&version).await?;
        if let Some(warning) = &analysis.data_loss_warning {
            eprintln!("warning: {warning}");
        }
        v3.rollback_migration(&version).await?;
        let pending = v2.plan().await?;
        eprintln!(
            "Rolled back: the schema is release 2's again ({} step(s) pending for release 2), \
             {} products and {} order still there; the JSON columns went with release 3.",
            pending.steps.len(),
            count(&v2, "SELECT count(*) FROM products").await?,
            count(&v2, "SELECT count(*) FROM orders").await?,
        );
    }
    scratch.drop().await?;
    Ok(())
}
