//! The storage conformance suite: one set of behaviour tests every [`Store`] backend
//! runs against itself, so the memory, SQLite and PostgreSQL stores keep the same
//! contract (the invariants listed in [`ports`](crate::ports) and on each
//! [`Write`](crate::ports::Write) variant).
//!
//! A backend proves itself with one macro call in an integration test:
//!
//! ```
//! // tests/conformance.rs of a backend crate, with `cai-core` (feature
//! // `conformance`) and `tokio` (features `macros`, `rt-multi-thread`) as
//! // dev-dependencies.
//! use cai_core::memory::MemoryStore;
//!
//! cai_core::store_conformance_tests!(async {
//!     std::sync::Arc::new(MemoryStore::new()) as cai_core::ports::DynStore
//! });
//! # fn main() {}
//! ```
//!
//! The expression is awaited once per case and must yield a fresh, empty store. The
//! macro expands to a module `store_conformance` with one `#[tokio::test]` per case,
//! named after it, so a failure names the broken invariant.
//!
//! Each case is also a plain `pub async fn(DynStore)` (the concurrency case also takes
//! a [`Spawn`]), to run from another harness or executor. The [`data`] builders and the
//! [`fixture`] of one populated tenant are public for a backend's own tests.
//!
//! | Module | Cases |
//! |---|---|
//! | [`batch`] | `round_trip`, `tenant_isolation`, `tenant_mismatch_applies_nothing`, `failed_batch_leaves_no_trace`, `revision_preconditions`, `insert_conflicts`, `missing_records` |
//! | [`directory`] | `unique_email_per_tenant`, `delete_account_cascades`, `delete_guest_cascades`, `delete_role_cascades`, `directory_listings`, `listing_limits_are_capped`, `pseudonymisation_due` |
//! | [`sessions`] | `participants`, `sessions_of`, `delete_session_cascades`, `listings` |
//! | [`content`] | `item_versions`, `delete_item_cascades`, `delete_session_content`, `files_created_before`, `items_paging`, `item_by_blob` |
//! | [`keys`] | `custody_insert_only`, `delete_custody_shreds`, `grants_and_backups_are_replaced`, `credentials` |
//! | [`e2e`] | `e2e_epochs_insert_only`, `e2e_veto`, `key_packages` |
//! | [`audit`] | `audit_sequence`, `erase_origins`, `erase_login_records`, `erase_subject_parts`, `incidents`, `notification_outbox` |
//! | [`reports`] | `report_counts_and_buckets`, `report_limit_and_invalid_queries`, `report_weeks_before_1970` |
//! | [`concurrency`] | `concurrent_batches_serialize` |
//!
//! Blob stores ([`BlobStore`](crate::ports::BlobStore)) have their own suite in
//! [`blobs`], run with [`blob_conformance_tests!`](crate::blob_conformance_tests):
//! `round_trip`, `tenant_isolation`, `abort_leaves_nothing`, `delete`, `size_limit`,
//! `listing`, `concurrent_puts`.
//!
//! This is test support: it asserts and panics on purpose, and is compiled only with
//! the `conformance` feature.
//!
//! [`Store`]: crate::ports::Store
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing)]

pub mod audit;
pub mod batch;
pub mod blobs;
pub mod concurrency;
pub mod content;
pub mod data;
pub mod directory;
pub mod e2e;
pub mod fixture;
pub mod keys;
pub mod reports;
pub mod sessions;

pub use concurrency::{Spawn, Task};

/// Runs the [storage conformance suite](crate::conformance) against a backend: one
/// `#[tokio::test]` per case in a module `store_conformance`.
///
/// The argument is an expression evaluating to a future of a fresh, empty
/// [`DynStore`](crate::ports::DynStore); it is evaluated once per case, inside the
/// generated module (which imports `super::*`). The invoking crate needs `tokio`
/// with the `macros` and `rt-multi-thread` features.
///
/// ```
/// cai_core::store_conformance_tests!(async {
///     std::sync::Arc::new(cai_core::memory::MemoryStore::new()) as cai_core::ports::DynStore
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    (@cases $($module:ident: $($case:ident),+;)+) => {
        $($(
            #[::tokio::test]
            async fn $case() {
                $crate::conformance::$module::$case(new_store().await).await;
            }
        )+)+
    };
    ($new_store:expr $(,)?) => {
        #[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
        mod store_conformance {
            #[allow(unused_imports)]
            use super::*;

            async fn new_store() -> $crate::ports::DynStore {
                ($new_store).await
            }

            /// Starts the task now on the test's runtime; a panicking task fails the
            /// case through its result.
            fn spawn(task: $crate::conformance::Task) -> $crate::conformance::Task {
                let handle = ::tokio::spawn(task);
                ::std::boxed::Box::pin(async move {
                    handle.await.map_err($crate::ports::StoreError::backend)?
                })
            }

            $crate::store_conformance_tests!(@cases
                batch: round_trip, tenant_isolation, tenant_mismatch_applies_nothing,
                    failed_batch_leaves_no_trace, revision_preconditions, insert_conflicts,
                    missing_records;
                directory: unique_email_per_tenant, delete_account_cascades,
                    delete_guest_cascades, delete_role_cascades, directory_listings,
                    listing_limits_are_capped, pseudonymisation_due;
                sessions: participants, sessions_of, delete_session_cascades, listings;
                content: item_versions, delete_item_cascades, delete_session_content, files_created_before,
                    items_paging, item_by_blob;
                keys: custody_insert_only, delete_custody_shreds,
                    grants_and_backups_are_replaced, credentials;
                e2e: e2e_epochs_insert_only, e2e_veto, key_packages;
                audit: audit_sequence, erase_origins, erase_login_records, erase_subject_parts, incidents, notification_outbox;
                reports: report_counts_and_buckets, report_limit_and_invalid_queries,
                    report_weeks_before_1970;
            );

            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_batches_serialize() {
                $crate::conformance::concurrency::concurrent_batches_serialize(
                    new_store().await,
                    spawn,
                )
                .await;
            }
        }
    };
}
