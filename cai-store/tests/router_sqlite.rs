//! R-T1/R-T2 through `StoreRouter` on SQLite: centres created through the service in
//! a file of their own and in a shared store see nothing of each other (through the
//! service, and row by row in the raw files); placements survive a restart and never
//! move silently; concurrent routes open one store; the open-store bound holds
//! exactly at and one past it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod routing;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cai_core::domain::Region;
use cai_core::id::TenantId;
use cai_core::ports::{DynStore, Page, StoreError, TenantRouter};
use cai_store::router::{Policy, StoreRouter, TooManyOpenStores, tenant_file_name};
use cai_store::sqlite::SqliteStore;
use routing::{Centre, World, assert_apart, sqlite_rows_by_tenant};

fn region(name: &str) -> Region {
    Region::parse(name).unwrap()
}

/// DE: a file per tenant under `dir/de`; CH: the shared file `dir/shared.db`.
async fn router(dir: &Path, shared: &SqliteStore) -> StoreRouter {
    StoreRouter::builder()
        .region(
            region("DE"),
            Policy::SqliteFilePerTenant {
                dir: dir.join("de"),
            },
        )
        .region(region("CH"), Policy::Shared(Arc::new(shared.clone())))
        .open(dir.join("placements.db"))
        .await
        .unwrap()
}

/// The database files in `dir` (without WAL and shared-memory files).
fn databases(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_per_tenant_and_a_shared_store_keep_tenants_apart() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SqliteStore::open(dir.path().join("shared.db"))
        .await
        .unwrap();
    let router = Arc::new(router(dir.path(), &shared).await);
    let world = World::new(router.clone());
    let own = Centre::create(&world, "DE", "Nord").await;
    let own2 = Centre::create(&world, "DE", "Sued").await;
    let c1 = Centre::create(&world, "CH", "Bern").await;
    let c2 = Centre::create(&world, "CH", "Basel").await;
    for centre in [&own, &own2, &c1, &c2] {
        centre.assert_readable(&world).await;
    }

    // Through the service: no operation of one reads, lists or counts another's records.
    for (a, b) in [
        (&own, &c1),
        (&c1, &own),
        (&c1, &c2),
        (&c2, &c1),
        (&own, &c2),
    ] {
        assert_apart(&world, a, b).await;
    }

    // Through the stores: each tenant's own file holds its rows alone, named from its
    // id; the shared file holds both Swiss tenants and nothing of the German ones.
    let de_dir = dir.path().join("de");
    let files: Vec<PathBuf> = [own.tenant, own2.tenant]
        .iter()
        .map(|t| de_dir.join(tenant_file_name(*t)))
        .collect();
    let mut expected = files.clone();
    expected.sort();
    assert_eq!(databases(&de_dir), expected);
    assert_eq!(
        files[0].file_name().unwrap().to_str().unwrap(),
        format!("{}.db", own.tenant)
    );
    for (file, tenant) in files.iter().zip([own.tenant, own2.tenant]) {
        let rows = sqlite_rows_by_tenant(file).await;
        assert_eq!(rows.keys().copied().collect::<Vec<_>>(), vec![tenant]);
        assert!(rows[&tenant] > 10);
    }
    let in_shared = sqlite_rows_by_tenant(&dir.path().join("shared.db")).await;
    let mut swiss = vec![c1.tenant, c2.tenant];
    swiss.sort();
    assert_eq!(in_shared.keys().copied().collect::<Vec<_>>(), swiss);
    // Each tenant's count includes an incident of the attempts the other made.
    assert!(in_shared[&c1.tenant] > 10 && in_shared[&c2.tenant] > 10);

    // A store's reads for one tenant list nothing of the other, in the shared store too.
    let all = Page::first(1000);
    let shared_store = router.route(c1.tenant).await.unwrap().unwrap();
    let listed = shared_store.accounts(c1.tenant, all).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|a| a.tenant == c1.tenant));
    assert!(
        shared_store
            .account(c1.tenant, c2.admin)
            .await
            .unwrap()
            .is_none()
    );
    let own_store = router.route(own.tenant).await.unwrap().unwrap();
    assert!(own_store.tenant(c1.tenant).await.unwrap().is_none());
    assert!(own_store.accounts(c1.tenant, all).await.unwrap().is_empty());
    assert!(!Arc::ptr_eq(&own_store, &shared_store));
    assert_eq!(
        router.open_stores(),
        2,
        "the shared store is not the router's"
    );
    router.health().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placements_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SqliteStore::open(dir.path().join("shared.db"))
        .await
        .unwrap();
    let first = World::new(Arc::new(router(dir.path(), &shared).await));
    let own = Centre::create(&first, "DE", "Nord").await;
    let swiss = Centre::create(&first, "CH", "Bern").await;
    // Gone: the router, its open stores and the shared store's handle.
    let stopped = first.stop();
    shared.close().await;
    drop(shared);

    let shared = SqliteStore::open(dir.path().join("shared.db"))
        .await
        .unwrap();
    let router = Arc::new(router(dir.path(), &shared).await);
    assert_eq!(router.open_stores(), 0, "stores open on first use");
    let world = stopped.restart(router.clone());
    assert_eq!(
        router.region_of(own.tenant).await.unwrap(),
        Some(region("DE"))
    );
    assert_eq!(
        router.region_of(swiss.tenant).await.unwrap(),
        Some(region("CH"))
    );
    own.assert_readable(&world).await;
    swiss.assert_readable(&world).await;
    assert_eq!(router.open_stores(), 1);
    assert_apart(&world, &own, &swiss).await;
    assert_apart(&world, &swiss, &own).await;

    // Placed again in its region: the store it has; in another: refused.
    let routed = router.route(own.tenant).await.unwrap().unwrap();
    let placed = router.place(own.tenant, &region("DE")).await.unwrap();
    assert!(Arc::ptr_eq(&routed, &placed));
    assert!(matches!(
        router.place(own.tenant, &region("CH")).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        router.place(swiss.tenant, &region("DE")).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        router.region_of(own.tenant).await.unwrap(),
        Some(region("DE"))
    );
}

#[tokio::test]
async fn a_placement_never_changes_silently() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SqliteStore::open(dir.path().join("shared.db"))
        .await
        .unwrap();
    let catalog = dir.path().join("placements.db");
    let t = TenantId::random().unwrap();
    {
        let router = router(dir.path(), &shared).await;
        // Unknown region: an error, nothing recorded, no fallback.
        assert!(matches!(
            router.place(t, &region("US")).await,
            Err(StoreError::Missing { what: "region" })
        ));
        assert_eq!(router.region_of(t).await.unwrap(), None);
        assert!(router.route(t).await.unwrap().is_none());

        let placed = router.place(t, &region("DE")).await.unwrap();
        let again = router.place(t, &region("DE")).await.unwrap();
        assert!(Arc::ptr_eq(&placed, &again));
        assert!(matches!(
            router.place(t, &region("CH")).await,
            Err(StoreError::Conflict {
                what: "tenant placed in another region"
            })
        ));
        router.close().await;
    }

    // The region now shared: refused, not answered with the shared store.
    let changed = StoreRouter::builder()
        .region(region("DE"), Policy::Shared(Arc::new(shared.clone())))
        .open(&catalog)
        .await
        .unwrap();
    assert!(matches!(
        changed.route(t).await,
        Err(StoreError::Conflict {
            what: "region's placement policy changed"
        })
    ));
    assert!(matches!(
        changed.place(t, &region("DE")).await,
        Err(StoreError::Conflict {
            what: "region's placement policy changed"
        })
    ));

    // The region gone: missing, not another region.
    let without = StoreRouter::builder()
        .region(region("CH"), Policy::Shared(Arc::new(shared.clone())))
        .open(&catalog)
        .await
        .unwrap();
    assert!(matches!(
        without.route(t).await,
        Err(StoreError::Missing { what: "region" })
    ));

    // The region's directory moved: the tenant's file is missing, and routing does not
    // create an empty one.
    let moved_dir = dir.path().join("elsewhere");
    let moved = StoreRouter::builder()
        .region(
            region("DE"),
            Policy::SqliteFilePerTenant {
                dir: moved_dir.clone(),
            },
        )
        .open(&catalog)
        .await
        .unwrap();
    assert!(matches!(
        moved.route(t).await,
        Err(StoreError::Missing {
            what: "tenant database file"
        })
    ));
    assert!(!moved_dir.exists());
    assert_eq!(moved.open_stores(), 0);
}

fn too_many(r: Result<DynStore, StoreError>) -> TooManyOpenStores {
    match r {
        Err(StoreError::Backend(e)) => *e.downcast_ref::<TooManyOpenStores>().unwrap(),
        other => panic!("expected the bound, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn the_open_store_bound_exactly_at_and_one_past() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SqliteStore::open(dir.path().join("shared.db"))
        .await
        .unwrap();
    let router = StoreRouter::builder()
        .region(
            region("DE"),
            Policy::SqliteFilePerTenant {
                dir: dir.path().join("de"),
            },
        )
        .region(region("CH"), Policy::Shared(Arc::new(shared.clone())))
        .max_open_stores(NonZeroUsize::new(2).unwrap())
        .open(dir.path().join("placements.db"))
        .await
        .unwrap();
    assert_eq!(router.max_open_stores(), 2);
    let [t1, t2, t3] = [(); 3].map(|()| TenantId::random().unwrap());
    let de = region("DE");

    // At the bound: two stores open and in use.
    let s1 = router.place(t1, &de).await.unwrap();
    let s2 = router.place(t2, &de).await.unwrap();
    assert_eq!(router.open_stores(), 2);
    // One past it, every store in use: refused, nothing opened, no file created.
    let err = too_many(router.place(t3, &de).await);
    assert_eq!(err, TooManyOpenStores { limit: 2 });
    assert_eq!(router.open_stores(), 2);
    assert!(!dir.path().join("de").join(tenant_file_name(t3)).exists());
    // A shared placement is still served (it opens nothing).
    let t4 = TenantId::random().unwrap();
    router.place(t4, &region("CH")).await.unwrap();
    assert!(router.route(t4).await.unwrap().is_some());

    // Once a call lets go of its store, the least recently used idle one makes room.
    drop(s1);
    let s3 = router.place(t3, &de).await.unwrap();
    assert_eq!(router.open_stores(), 2);
    // t1's store was closed; routing it again needs room: none while t2 and t3 are held.
    too_many(router.route(t1).await.map(|s| s.unwrap()));
    drop(s2);
    let s1 = router.route(t1).await.unwrap().unwrap();
    s1.health().await.unwrap();
    assert_eq!(router.open_stores(), 2);
    // The same tenant routed twice shares one store (one pool).
    assert!(Arc::ptr_eq(&s1, &router.route(t1).await.unwrap().unwrap()));
    assert!(Arc::ptr_eq(&s3, &router.route(t3).await.unwrap().unwrap()));
    router.health().await.unwrap();
}

#[tokio::test]
async fn health_names_the_store_that_fails() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SqliteStore::open(dir.path().join("shared.db"))
        .await
        .unwrap();
    let router = router(dir.path(), &shared).await;
    router
        .place(TenantId::random().unwrap(), &region("DE"))
        .await
        .unwrap();
    router.health().await.unwrap();
    shared.close().await;
    let unhealthy = router.health().await.unwrap_err();
    assert!(unhealthy.0.starts_with("region CH:"), "{unhealthy}");
    // The URL-free Debug form names regions and their policies.
    let debug = format!("{router:?}");
    assert!(
        debug.contains("SqliteFilePerTenant") && debug.contains("Shared"),
        "{debug}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_routes_of_one_tenant_open_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let shared = SqliteStore::open(dir.path().join("shared.db"))
        .await
        .unwrap();
    let t = TenantId::random().unwrap();
    {
        let router = router(dir.path(), &shared).await;
        router.place(t, &region("DE")).await.unwrap();
        router.close().await;
    }
    // After a restart, eight calls at once find the tenant unopened.
    let router = Arc::new(router(dir.path(), &shared).await);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let router = router.clone();
            tokio::spawn(async move { router.route(t).await.unwrap().unwrap() })
        })
        .collect();
    let mut stores = Vec::new();
    for call in calls {
        stores.push(call.await.unwrap());
    }
    assert!(stores.iter().all(|s| Arc::ptr_eq(s, &stores[0])));
    assert_eq!(router.open_stores(), 1);
}
