//! Crypto-shredding that reaches backups (issue 11, R-P4): a backup of the SQLite
//! database taken before the retention engine deleted a session's content still holds
//! the ciphertext and the wrapped key after restore — and neither opens, because the
//! session's scope key left the vault (`VaultKeyProvider`). The positive control: the
//! same backup, restored before the deadline, opens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use cai_core::authz::Authentication;
use cai_core::domain::{
    BuiltinRole, ContentKind, Email, Name, Region, SessionMode, TenantSettings,
};
use cai_core::id::{SessionId, SubjectId, TenantId};
use cai_core::memory::LocalKeyProvider;
use cai_core::ports::{
    Clock, ContentStore, DynStore, KeyProvider, KeyProviderError, KeyStore, ManualClock, Page,
    SessionStore, SingleStore,
};
use cai_core::service::{
    ContentBody, NewAccount, NewSession, NewTenant, RetentionLimits, session_key_context,
};
use cai_core::{Caller, Counselling, Ports, days};
use cai_crypto::modes::KeyCustody;
use cai_store::keyvault::VaultKeyProvider;
use cai_store::sqlite::SqliteStore;

struct Centre {
    svc: Counselling,
    clock: ManualClock,
    tenant: TenantId,
    cora: Caller,
}

async fn centre(store: DynStore, keys: Arc<dyn KeyProvider>) -> Centre {
    let mut world = Ports::in_memory();
    world.ports.router = Arc::new(SingleStore(store));
    world.ports.keys = keys;
    let clock = world.clock.clone();
    let svc = Counselling::new(world.ports);
    let mut settings = TenantSettings::default();
    settings.retention.session_content = Some(days(30));
    settings.retention.inactive_sessions = None;
    let (tenant, admin) = svc
        .create_tenant(
            NewTenant {
                name: Name::parse("Beratungsstelle Nord").unwrap(),
                region: Region::parse("DE").unwrap(),
                settings,
            },
            NewAccount::new(
                Email::parse("admin@nord.example").unwrap(),
                Name::parse("Admin").unwrap(),
            ),
        )
        .await
        .unwrap();
    let caller = |subject, strong| {
        Caller::new(
            tenant.id,
            subject,
            Authentication {
                second_factor: strong,
                at: clock.now(),
            },
        )
    };
    let counsellor = svc
        .create_account(
            &caller(SubjectId::Account(admin.id), true),
            tenant.id,
            NewAccount::new(
                Email::parse("cora@nord.example").unwrap(),
                Name::parse("Cora").unwrap(),
            ),
            &[BuiltinRole::Counsellor.id()],
        )
        .await
        .unwrap();
    Centre {
        cora: caller(SubjectId::Account(counsellor.id), false),
        svc,
        clock,
        tenant: tenant.id,
    }
}

/// A closed server-managed session with one message.
async fn closed_session(c: &Centre) -> SessionId {
    let new = NewSession {
        mode: Some(SessionMode::ServerManaged),
        ..NewSession::classic()
    };
    let s = c
        .svc
        .create_session(&c.cora, c.tenant, new)
        .await
        .unwrap()
        .session
        .id;
    c.svc
        .post_content(
            &c.cora,
            c.tenant,
            s,
            ContentKind::Message,
            ContentBody::plain(b"what I told my counsellor".to_vec()),
        )
        .await
        .unwrap();
    c.svc.close_session(&c.cora, c.tenant, s).await.unwrap();
    s
}

/// Opens the session's message from a store directly with `keys`: custody, unwrap,
/// envelope — what someone holding a restored backup and the key provider would do.
async fn open_from(
    store: &SqliteStore,
    keys: &dyn KeyProvider,
    tenant: TenantId,
    s: SessionId,
) -> Result<Vec<u8>, KeyProviderError> {
    let custody = store
        .custody(tenant, s, 0)
        .await
        .unwrap()
        .expect("custody in the backup");
    let KeyCustody::Wrapped(wrapped) = KeyCustody::parse(&custody.custody).unwrap() else {
        panic!("server-managed custody is wrapped");
    };
    let key = keys
        .unwrap(tenant, &wrapped, &session_key_context(tenant, s).unwrap())
        .await?;
    let item = store
        .items(tenant, s, Page::first(1))
        .await
        .unwrap()
        .remove(0);
    let version = store.version(tenant, item.id, 1).await.unwrap().unwrap();
    let session = store.session(tenant, s).await.unwrap().unwrap();
    let ids = cai_core::service::ItemIds::in_session(&session, item.id);
    let ctx = ids.context(1, item.kind);
    Ok(cai_crypto::envelope::open(&key, &ctx, version.body.as_bytes()).unwrap())
}

/// The vault's database file and its write-ahead log, as a copy of them would hold.
fn vault_files(dir: &tempfile::TempDir) -> Vec<u8> {
    let mut files = std::fs::read(dir.path().join("vault.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("vault.db-wal")) {
        files.extend(wal);
    }
    files
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[tokio::test]
async fn a_backup_taken_before_the_deletion_does_not_open_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("centre.db"))
        .await
        .unwrap();
    let kek = Arc::new(LocalKeyProvider::new());
    let vault = VaultKeyProvider::open(dir.path().join("vault.db"), kek)
        .await
        .unwrap();
    let c = centre(Arc::new(store.clone()), Arc::new(vault.clone())).await;
    let s = closed_session(&c).await;
    let other = closed_session(&c).await;
    assert_eq!(vault.live_keys(c.tenant).await.unwrap(), 2);

    // The nightly backup, before the deadline: it opens now.
    let backup = dir.path().join("nightly.db");
    store.backup_to(&backup).await.unwrap();
    let early = SqliteStore::restore_from(&backup, dir.path().join("early.db"))
        .await
        .unwrap();
    assert_eq!(
        open_from(&early, &vault, c.tenant, s).await.unwrap(),
        b"what I told my counsellor"
    );
    early.close().await;
    let scope_key_row: Vec<u8> = {
        let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", vault.path().display()))
            .await
            .unwrap();
        let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT wrapped FROM scope_keys")
            .fetch_all(&raw)
            .await
            .unwrap();
        raw.close().await;
        rows[0].clone()
    };

    // The deadline passes; the engine deletes both sessions' content.
    c.clock.set(c.clock.now().plus(days(30)));
    let report = c
        .svc
        .run_retention(c.tenant, RetentionLimits::default())
        .await
        .unwrap();
    assert_eq!(report.sessions_content_deleted, 2, "{report:?}");
    assert_eq!(vault.live_keys(c.tenant).await.unwrap(), 0);
    // While the vault is still open (a host copying its files now): the scope key's
    // bytes are in neither file — secure_delete zeroed the page and the WAL was
    // checkpointed and truncated.
    assert_eq!(occurrences(&vault_files(&dir), &scope_key_row), 0);

    // The backup restored: the rows are all there …
    let restored = SqliteStore::restore_from(&backup, dir.path().join("restored.db"))
        .await
        .unwrap();
    assert_eq!(
        restored
            .items(c.tenant, s, Page::first(10))
            .await
            .unwrap()
            .len(),
        1
    );
    // … and open neither through the vault nor through the service.
    for id in [s, other] {
        assert!(matches!(
            open_from(&restored, &vault, c.tenant, id).await,
            Err(KeyProviderError::Shredded)
        ));
    }
    // A vault reopened from its file (a restart) still refuses.
    vault.close().await;
    let reopened = VaultKeyProvider::open(
        dir.path().join("vault.db"),
        Arc::new(LocalKeyProvider::new()),
    )
    .await
    .unwrap();
    assert!(matches!(
        open_from(&restored, &reopened, c.tenant, s).await,
        Err(KeyProviderError::Shredded)
    ));
    // And after closing.
    reopened.close().await;
    assert_eq!(occurrences(&vault_files(&dir), &scope_key_row), 0);
}

#[tokio::test]
async fn the_vault_wraps_per_context_and_refuses_after_shredding() {
    use cai_crypto::{DataKey, KeyEpoch};
    let dir = tempfile::tempdir().unwrap();
    let vault = VaultKeyProvider::open(
        dir.path().join("vault.db"),
        Arc::new(LocalKeyProvider::new()),
    )
    .await
    .unwrap();
    let (t, u) = (TenantId::random().unwrap(), TenantId::random().unwrap());
    vault.provision(t).await.unwrap();
    vault.provision(u).await.unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let (a, b) = (b"context a".as_slice(), b"context b".as_slice());
    let wa = vault.wrap(t, &dek, a).await.unwrap();
    let wa2 = vault.wrap(t, &dek, a).await.unwrap();
    let wb = vault.wrap(t, &dek, b).await.unwrap();
    assert_eq!(wa.kek_id(), wa2.kek_id(), "one scope key per context");
    assert_ne!(wa.kek_id(), wb.kek_id());
    assert_eq!(vault.unwrap(t, &wa, a).await.unwrap(), dek);
    // Another context, or another tenant, does not open it.
    assert!(matches!(
        vault.unwrap(t, &wa, b).await,
        Err(KeyProviderError::Unwrap)
    ));
    assert!(vault.unwrap(u, &wa, a).await.is_err());
    assert_eq!(vault.live_keys(t).await.unwrap(), 2);

    vault.shred(t, a).await.unwrap();
    vault.shred(t, a).await.unwrap(); // idempotent
    vault.shred(t, b"never used").await.unwrap();
    assert!(matches!(
        vault.unwrap(t, &wa, a).await,
        Err(KeyProviderError::Shredded)
    ));
    assert!(matches!(
        vault.wrap(t, &dek, a).await,
        Err(KeyProviderError::Shredded)
    ));
    assert!(matches!(
        vault.wrap(t, &dek, b"never used").await,
        Err(KeyProviderError::Shredded)
    ));
    assert_eq!(
        vault.unwrap(t, &wb, b).await.unwrap(),
        dek,
        "other contexts live on"
    );
    assert_eq!(vault.live_keys(t).await.unwrap(), 1);
    // The same context in another tenant is another scope.
    let wu = vault.wrap(u, &dek, a).await.unwrap();
    assert_eq!(vault.unwrap(u, &wu, a).await.unwrap(), dek);
    assert!(vault.health().await.is_ok());
    let shown = format!("{vault:?}");
    assert!(
        shown.starts_with("VaultKeyProvider") && shown.contains("vault.db"),
        "{shown}"
    );
    assert!(!shown.contains("wrapped"));
    // Closed, it answers errors, not keys.
    vault.close().await;
    assert!(vault.health().await.is_err());
    assert!(vault.live_keys(t).await.is_err());
    assert!(vault.unwrap(t, &wb, b).await.is_err());
}

/// The vault's layout as `docs/STORE.md` documents it, for anyone who must read or
/// audit a vault without this crate: `scope = SHA-256("cai vault scope v1" ‖ context)`,
/// the scope key wrapped by the inner provider under `"cai vault scope key v1" ‖
/// scope`, and data keys wrapped under the scope key (a KEK of version 1).
#[tokio::test]
async fn the_vault_layout_is_the_documented_one() {
    use cai_crypto::hierarchy::{Kek, KekId, WrappedKey};
    use cai_crypto::{DataKey, KeyEpoch};
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let inner = Arc::new(LocalKeyProvider::new());
    let vault = VaultKeyProvider::open(dir.path().join("vault.db"), inner.clone())
        .await
        .unwrap();
    let t = TenantId::random().unwrap();
    vault.provision(t).await.unwrap();
    let dek = DataKey::generate(KeyEpoch::INITIAL).unwrap();
    let context = session_key_context(t, SessionId::random().unwrap()).unwrap();
    let wrapped_dek = vault.wrap(t, &dek, &context).await.unwrap();

    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", vault.path().display()))
        .await
        .unwrap();
    let (tenant, scope, kek_id, wrapped): (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT tenant, scope, kek_id, wrapped FROM scope_keys")
            .fetch_one(&raw)
            .await
            .unwrap();
    raw.close().await;
    assert_eq!(tenant, t.as_bytes().to_vec());
    let expected_scope: [u8; 32] = Sha256::new()
        .chain_update(b"cai vault scope v1")
        .chain_update(&context)
        .finalize()
        .into();
    assert_eq!(scope, expected_scope);
    let scope_key_context = [b"cai vault scope key v1".as_slice(), &scope].concat();
    let wrapped = WrappedKey::parse(&wrapped).unwrap();
    let scope_key = inner.unwrap(t, &wrapped, &scope_key_context).await.unwrap();
    // Under any other context the inner provider does not give the scope key out.
    assert!(inner.unwrap(t, &wrapped, &scope).await.is_err());
    let kek = Kek::from_parts(
        KekId::from_bytes(kek_id.try_into().unwrap()),
        1,
        scope_key.secret().clone(),
    );
    assert_eq!(wrapped_dek.kek_id(), kek.id());
    assert_eq!(kek.unwrap(&wrapped_dek, &context).unwrap(), dek);
}
