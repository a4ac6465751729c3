//! Quickstart: seals and opens counselling content in each of the four session
//! encryption modes, streams a file, encrypts a media frame, then runs a small
//! counselling platform in memory (tenant, roles, invitation, guest, room, content,
//! audit trail), and prints what happened.
//!
//! Run: `cargo run -p cai-examples --bin quickstart`

use std::io::Cursor;

use cai_crypto::aead::default_backend;
use cai_crypto::backup::{
    Argon2Policy, BackupSecret, Expected, KeyBackup, PasswordPolicy, RecoveryKey,
};
use cai_crypto::e2e::{
    AccountRef, Device, DeviceId, DsGroup, IdentityKey, ModeDescriptor, TrustStore, group_id,
};
use cai_crypto::hierarchy::{Kek, KekRing, session_wrap_context};
use cai_crypto::modes::{self, KeyCustody, SessionMode};
use cai_crypto::passphrase::Argon2Params;
use cai_crypto::sframe::{MediaProtection, MediaSuite};
use cai_crypto::{ContentKind, Error, ItemContext, envelope, stream};

const TENANT: &[u8] = b"tenant-counselling-centre";

mod platform;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "cai quickstart — AEAD backend: {}",
        default_backend().name()
    );
    server_managed()?;
    session_key()?;
    passphrase()?;
    end_to_end()?;
    println!("\nAll four modes sealed and opened their content.");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(platform::run())?;
    Ok(())
}

fn server_managed() -> Result<(), Error> {
    println!(
        "\n[1] server-managed (R-E1): the server seals at rest under the tenant key hierarchy"
    );
    let mut keks = KekRing::new(Kek::generate(1)?);
    let wrap_ctx = session_wrap_context(TENANT, b"session-1")?;
    let (key, custody) =
        modes::create_wrapped(SessionMode::ServerManaged, keks.current(), &wrap_ctx)?;
    let stored_key = custody.to_bytes();
    println!(
        "    session key {} wrapped under KEK v1: {} bytes stored",
        key.id(),
        stored_key.len()
    );

    let ctx = ItemContext::new(TENANT, b"session-1", b"note-1", 1, ContentKind::Note);
    let sealed = envelope::seal(&key, &ctx, b"Client reports sleeping better.")?;
    println!(
        "    note sealed: {} bytes (envelope v1, {} bytes overhead)",
        sealed.len(),
        envelope::OVERHEAD
    );

    // KEK rotation re-wraps the data key; the content is not touched.
    keks.rotate()?;
    let KeyCustody::Wrapped(wrapped) = KeyCustody::parse(&stored_key)? else {
        return Err(Error::Malformed {
            what: "custody",
            reason: "expected a wrapped key",
        });
    };
    let rewrapped = keks.rewrap_to_current(&wrapped, &wrap_ctx)?;
    keks.retire(1)?;
    let recovered = keks.unwrap(&rewrapped, &wrap_ctx)?;
    let opened = envelope::open(&recovered, &ctx, &sealed)?;
    println!(
        "    KEK rotated to v{}, v1 retired, note still opens: {:?}",
        keks.current().version(),
        String::from_utf8_lossy(&opened)
    );

    // Moving the ciphertext to another item fails.
    let moved = ItemContext::new(TENANT, b"session-1", b"note-2", 1, ContentKind::Note);
    println!(
        "    same ciphertext under another item id: {}",
        describe(envelope::open(&recovered, &moved, &sealed))
    );

    // Crypto-shredding: the wrapped key is the only stored copy of the session key;
    // deleting it leaves nothing that opens the content.
    println!(
        "    wrapped key deleted: no copy of the session key is left, so the note cannot be opened anywhere, backups included (R-P4)"
    );
    Ok(())
}

fn session_key() -> Result<(), Error> {
    println!(
        "\n[2] session key (R-E2): clients seal with a per-session key the server keeps wrapped"
    );
    let kek = Kek::generate(1)?;
    let wrap_ctx = session_wrap_context(TENANT, b"session-2")?;
    let (_, custody) = modes::create_wrapped(SessionMode::SessionKey, &kek, &wrap_ctx)?;
    // An authenticated participant's client receives the unwrapped key and seals locally.
    let client_key = modes::recover_wrapped(&kek, &custody, &wrap_ctx)?;
    let mut sealer = envelope::Sealer::new(&client_key)?;
    let mut opener = envelope::Opener::new(&client_key);
    for (i, text) in ["Hello, I booked this chat.", "Welcome — how are you today?"]
        .iter()
        .enumerate()
    {
        let id = format!("msg-{i}");
        let ctx = ItemContext::new(TENANT, b"session-2", id.as_bytes(), 1, ContentKind::Message);
        let sealed = sealer.seal(&ctx, text.as_bytes())?;
        let opened = opener.open(&ctx, &sealed)?;
        println!(
            "    {id}: sealed {} bytes, opened {:?}",
            sealed.len(),
            String::from_utf8_lossy(&opened)
        );
    }

    // Files of any size stream through in constant memory.
    let file: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let ctx = ItemContext::new(TENANT, b"session-2", b"file-1", 1, ContentKind::File);
    let mut sealed = Vec::new();
    stream::seal_stream(&client_key, &ctx, Cursor::new(&file), &mut sealed)?;
    let mut opened = Vec::new();
    stream::open_stream(&client_key, &ctx, Cursor::new(&sealed), &mut opened)?;
    println!(
        "    5 MiB file streamed: {} bytes sealed, round trip intact: {}",
        sealed.len(),
        opened == file
    );
    Ok(())
}

fn passphrase() -> Result<(), Error> {
    println!("\n[3] passphrase (R-E3): the key is derived on the client and never stored");
    let params = Argon2Params::MINIMUM; // production: Argon2Params::RECOMMENDED
    let (key, custody) = modes::create_passphrase(b"our shared phrase", params)?;
    println!(
        "    server stores {} bytes of salt, Argon2id parameters and a verifier — no key",
        custody.to_bytes().len()
    );
    let ctx = ItemContext::new(TENANT, b"session-3", b"msg-1", 1, ContentKind::Message);
    let sealed = envelope::seal(&key, &ctx, b"Only we know the phrase.")?;
    let again = modes::recover_passphrase(b"our shared phrase", &custody)?;
    println!(
        "    right passphrase opens: {:?}",
        String::from_utf8_lossy(&envelope::open(&again, &ctx, &sealed)?)
    );
    println!(
        "    wrong passphrase: {}",
        describe(modes::recover_passphrase(b"our shared phrasE", &custody))
    );
    println!("    (a lost passphrase means this content cannot be recovered by anyone)");
    Ok(())
}

fn end_to_end() -> Result<(), Error> {
    println!(
        "\n[4] end-to-end (R-E4): one MLS group (RFC 9420) per session; the server only orders it"
    );
    let session = b"session-4";
    // Each user has an identity key that cross-signs its devices.
    let counsellor_key = IdentityKey::generate()?;
    let client_key = IdentityKey::generate()?;
    let colleague_key = IdentityKey::generate()?;
    let device = |key: &IdentityKey, account: &[u8], name: &[u8]| {
        Device::new(
            key,
            AccountRef::new(account)?,
            DeviceId::new(name)?,
            TrustStore::trust_on_first_use(),
        )
    };
    let mut counsellor = device(&counsellor_key, b"acc_counsellor", b"laptop")?;
    let mut client = device(&client_key, b"acc_client", b"phone")?;
    let mut colleague = device(&colleague_key, b"acc_colleague", b"laptop")?;

    // The counsellor creates the session's group under a signed mode descriptor; the
    // server (Delivery Service) starts tracking it.
    let descriptor = ModeDescriptor::sign(
        &counsellor_key,
        &AccountRef::new(b"acc_counsellor")?,
        TENANT,
        session,
        SessionMode::EndToEnd,
    )?;
    let (group_info, record0) = counsellor.create_group(&descriptor)?;
    let mut ds = DsGroup::create(TENANT, session, &group_info, &record0)?;
    let gid = group_id(TENANT, session)?;
    let mut records = vec![record0];

    // The client's key package, published earlier, is claimed; the counsellor commits.
    let add = counsellor.add(&gid, &[client.key_package(false)?])?;
    let check = ds.check(&add.commit, &add.record)?;
    ds.apply(check)?;
    records.push(add.record.clone());
    counsellor.confirm(&gid)?;
    let welcome = add.welcome.clone().unwrap_or_default();
    let joined = client.join(TENANT, session, &welcome, &add.record)?;
    println!(
        "    client joined epoch {}; both see verification code {} (same: {})",
        joined.epoch,
        client.verification_code(&gid)?.digits(),
        client.verification_code(&gid)? == counsellor.verification_code(&gid)?
    );

    let ctx = ItemContext::new(TENANT, session, b"msg-1", 1, ContentKind::Message);
    let sealed = counsellor.seal(&gid, &ctx, b"This stays between us.")?;
    let opened = client.open(&gid, &ctx, &sealed)?;
    println!(
        "    client opens {:?}, signed by device {:?} of {:?}",
        String::from_utf8_lossy(&opened.plaintext),
        String::from_utf8_lossy(opened.sender.device().as_bytes()),
        String::from_utf8_lossy(opened.sender.account().as_bytes()),
    );

    // Media: SFrame keys per sender and epoch from the MLS exporter (RFC 9605 §5.2),
    // every frame signed by its sender; the SFU relays frames it cannot read.
    let suite = MediaSuite::Aes128GcmSha256;
    let mut sender = counsellor.media_sender(&gid, suite)?;
    let mut receiver = client.media_receiver(&gid, suite)?;
    let audio = b"opus audio frame";
    let frame = sender.protect(audio, b"")?;
    let received = receiver.unprotect(&frame, b"")?;
    println!(
        "    media frame {} -> {} bytes (SFrame + signature), from sender {}, intact: {}; call shows: {}",
        audio.len(),
        frame.len(),
        received.sender_index,
        received.frame == audio,
        MediaProtection::for_call(Some(suite))
    );

    // A second counsellor takes over the case: a new epoch, plus the history if policy
    // allows — checked against the signed record chain.
    let add = counsellor.add(&gid, &[colleague.key_package(false)?])?;
    let check = ds.check(&add.commit, &add.record)?;
    ds.apply(check)?;
    records.push(add.record.clone());
    counsellor.confirm(&gid)?;
    let p = client.process(&gid, &add.commit, &add.record)?;
    println!("    the client is told of the new member: {:?}", p.warnings);
    colleague.join(
        TENANT,
        session,
        &add.welcome.clone().unwrap_or_default(),
        &add.record,
    )?;
    println!(
        "    colleague joined epoch {}; the earlier message before the grant: {}",
        colleague.epoch(&gid)?,
        describe(colleague.open(&gid, &ctx, &sealed))
    );
    let grant = counsellor.grant_history(&gid, &[colleague.credential().clone()], 1..=1)?;
    colleague.accept_history(&gid, &grant, &records)?;
    println!(
        "    after the history grant (R-E4b) the colleague reads: {:?}",
        String::from_utf8_lossy(&colleague.open(&gid, &ctx, &sealed)?.plaintext)
    );

    // Private keys leave the device only inside a backup blob (R-E4a). By default only
    // the recovery key opens it, so the server cannot open it by guessing; the backup
    // names its account and a version.
    let account = b"account-client-1";
    let recovery = RecoveryKey::generate()?;
    let v1 = KeyBackup::seal(account, &client.save()?, &recovery)?;
    // After a login-password reset, on a new device. The client knows its account and
    // the newest backup version it has seen (none yet). Argon2id at its cheapest accepted
    // cost keeps the quickstart fast; production uses `Argon2Policy::DEFAULT`.
    let fast = Argon2Policy::new(Argon2Params::MINIMUM, Argon2Params::MINIMUM)?;
    let expected = Expected::new(account, 0).with_argon2(fast);
    let mut opened =
        KeyBackup::parse(&v1.to_bytes())?.open(BackupSecret::RecoveryKey(&recovery), &expected)?;
    let restored = Device::load(opened.payload())?;
    println!(
        "    device state backed up ({} bytes, recovery key only); restored after a login-password reset: {}",
        v1.to_bytes().len(),
        restored.credential() == client.credential()
    );
    // An encryption password may be added, after a strength check; that writes version 2.
    println!(
        "    encryption password \"Password123!\": {}",
        describe(opened.set_password(b"Password123!", &PasswordPolicy::DEFAULT))
    );
    opened.set_password(b"plum orbit kayak wisp 47", &PasswordPolicy::DEFAULT)?;
    let v2 = opened.seal()?;
    let last_seen = v2.backup_version();
    println!(
        "    password slot added: version {last_seen}; the server offering version 1 again: {}",
        describe(v1.open(
            BackupSecret::RecoveryKey(&recovery),
            &Expected::new(account, last_seen)
        ))
    );
    Ok(())
}

fn describe<T>(r: Result<T, Error>) -> String {
    match r {
        Ok(_) => "opened".into(),
        Err(e) => format!("refused — {e}"),
    }
}
