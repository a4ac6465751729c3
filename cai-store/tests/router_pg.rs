//! R-T1/R-T2 through `StoreRouter` across backends: one centre in a SQLite file of its
//! own, one in a PostgreSQL schema of its own, created through the service, see
//! nothing of each other — through the service, and row by row in the raw file and
//! schema. The placements survive a restart; a routed tenant whose schema is gone is
//! missing, never given a fresh one.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod pg;
mod routing;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cai_core::domain::Region;
use cai_core::id::TenantId;
use cai_core::ports::{Page, StoreError, TenantRouter};
use cai_store::OpenError;
use cai_store::router::{Policy, StoreRouter, tenant_file_name, tenant_schema};
use routing::{Centre, World, assert_apart, sqlite_rows_by_tenant};
use sqlx::Connection;

fn region(name: &str) -> Region {
    Region::parse(name).unwrap()
}

/// DE: a SQLite file per tenant under `dir/de`; EU: a schema per tenant on the test
/// server.
async fn router(dir: &Path) -> StoreRouter {
    StoreRouter::builder()
        .region(
            region("DE"),
            Policy::SqliteFilePerTenant {
                dir: dir.join("de"),
            },
        )
        .region(region("EU"), Policy::PgSchemaPerTenant { url: pg::url() })
        .open(dir.join("placements.db"))
        .await
        .unwrap()
}

/// Rows per tenant in every table of `schema` that has a `tenant` column.
async fn pg_rows_by_tenant(schema: &str) -> BTreeMap<TenantId, i64> {
    let mut conn = sqlx::PgConnection::connect(&pg::url()).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND column_name = 'tenant'",
    )
    .bind(schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(tables.len() > 10, "{tables:?}");
    let mut rows = BTreeMap::new();
    for table in tables {
        let sql = format!("SELECT tenant, COUNT(*) FROM \"{schema}\".\"{table}\" GROUP BY tenant");
        let counts: Vec<(Vec<u8>, i64)> = sqlx::query_as(&sql).fetch_all(&mut conn).await.unwrap();
        for (tenant, n) in counts {
            let id = TenantId::from_bytes(tenant.try_into().unwrap());
            *rows.entry(id).or_insert(0) += n;
        }
    }
    conn.close().await.unwrap();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_and_a_postgres_schema_keep_tenants_apart_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let router = Arc::new(router(dir.path()).await);
    let world = World::new(router.clone());
    let file = Centre::create(&world, "DE", "Nord").await;
    let schema = Centre::create(&world, "EU", "Sued").await;
    file.assert_readable(&world).await;
    schema.assert_readable(&world).await;
    assert_eq!(router.open_stores(), 2);

    // Through the service.
    assert_apart(&world, &file, &schema).await;
    assert_apart(&world, &schema, &file).await;

    // Through the stores: each holds its own tenant's rows alone.
    let file_path = dir.path().join("de").join(tenant_file_name(file.tenant));
    let in_file = sqlite_rows_by_tenant(&file_path).await;
    assert_eq!(
        in_file.keys().copied().collect::<Vec<_>>(),
        vec![file.tenant]
    );
    let schema_name = tenant_schema(schema.tenant).unwrap();
    assert_eq!(schema_name.as_str(), schema.tenant.to_string());
    let in_schema = pg_rows_by_tenant(schema_name.as_str()).await;
    assert_eq!(
        in_schema.keys().copied().collect::<Vec<_>>(),
        vec![schema.tenant]
    );
    // No schema was made for the SQLite tenant, no file for the PostgreSQL one.
    assert!(schema_absent(tenant_schema(file.tenant).unwrap().as_str()).await);
    assert!(
        !dir.path()
            .join("de")
            .join(tenant_file_name(schema.tenant))
            .exists()
    );
    let pg_store = router.route(schema.tenant).await.unwrap().unwrap();
    assert!(
        pg_store
            .accounts(file.tenant, Page::first(1000))
            .await
            .unwrap()
            .is_empty()
    );
    router.health().await.unwrap();

    // Restart: a new router over the same catalog finds both, opening on first use.
    let stopped = world.stop();
    drop(pg_store);
    router.close().await;
    drop(router);
    let router = Arc::new(self::router(dir.path()).await);
    assert_eq!(router.open_stores(), 0);
    let world = stopped.restart(router.clone());
    file.assert_readable(&world).await;
    schema.assert_readable(&world).await;
    assert_eq!(router.open_stores(), 2);
    assert_apart(&world, &schema, &file).await;
    assert!(matches!(
        router.place(schema.tenant, &region("DE")).await,
        Err(StoreError::Conflict { .. })
    ));
}

/// Whether no schema named `schema` exists on the test server.
async fn schema_absent(schema: &str) -> bool {
    let mut conn = sqlx::PgConnection::connect(&pg::url()).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    !exists
}

#[tokio::test]
async fn a_routed_tenant_whose_schema_is_gone_is_missing_not_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::random().unwrap();
    let schema = tenant_schema(t).unwrap();
    {
        let router = router(dir.path()).await;
        router.place(t, &region("EU")).await.unwrap();
        router.close().await;
    }
    assert!(!schema_absent(schema.as_str()).await);
    let mut conn = sqlx::PgConnection::connect(&pg::url()).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", schema.as_str()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let router = router(dir.path()).await;
    assert!(matches!(
        router.route(t).await,
        Err(StoreError::Missing {
            what: "tenant schema"
        })
    ));
    assert!(schema_absent(schema.as_str()).await);
    // Placing it again (the host's explicit act) creates it.
    router.place(t, &region("EU")).await.unwrap();
    assert!(!schema_absent(schema.as_str()).await);
    router.close().await;
}

#[tokio::test]
async fn a_malformed_url_is_refused_when_the_router_opens() {
    let dir = tempfile::tempdir().unwrap();
    let r = StoreRouter::builder()
        .region(
            region("EU"),
            Policy::PgSchemaPerTenant {
                url: "not a url".to_owned(),
            },
        )
        .open(dir.path().join("placements.db"))
        .await;
    assert!(matches!(r, Err(OpenError::Database(_))));
    // The Debug form never shows a URL (it may hold a password).
    let policy = Policy::PgSchemaPerTenant {
        url: "postgres://cai:secret@127.0.0.1/cai".to_owned(),
    };
    assert!(!format!("{policy:?}").contains("secret"));
}
