//! The selectors that turn a step's bytes into arguments: bodies, kinds, modes,
//! permissions, settings, report queries, uploads, rooms.

use super::*;

/// `pool[sel]`, or the foreign value, or a fresh unknown one.
pub(crate) fn pick<T: Clone>(pool: &[T], sel: u8, foreign: T, unknown: impl FnOnce() -> T) -> T {
    let i = usize::from(sel) % (pool.len() + 2);
    match pool.get(i) {
        Some(v) => v.clone(),
        None if i == pool.len() => foreign,
        None => unknown(),
    }
}

/// A body sealed under a key no session has: `conflict` where the mode and rights
/// let it through.
pub(crate) fn sealed_body() -> ContentBody {
    sealed_under(&DataKey::generate(KeyEpoch(0)).unwrap())
}

/// A body sealed under `key`, as a client seals it.
pub(crate) fn sealed_under(key: &DataKey) -> ContentBody {
    let sealed = envelope::seal(
        key,
        &ItemContext::new(b"t", b"s", b"i", 1, ContentKind::Note),
        b"sealed on the client",
    )
    .unwrap();
    ContentBody::Sealed(SealedBody::new(sealed).unwrap())
}

/// What an upload carries: a name for server-managed sessions (one invalid), a sealed
/// manifest for the others.
pub(crate) fn file_upload(sel: u8) -> cai_core::service::FileUpload {
    use cai_core::service::FileUpload;
    match sel % 4 {
        0 | 1 => FileUpload::Plain {
            name: "Bericht.pdf".into(),
            media_type: "application/pdf".into(),
        },
        2 => match sealed_body() {
            ContentBody::Sealed(m) => FileUpload::Sealed(m),
            ContentBody::Plain(_) => unreachable!(),
        },
        _ => FileUpload::Plain {
            name: String::new(),
            media_type: "text/plain".into(),
        },
    }
}

/// An upload's bytes: a sealed stream (taken as plaintext by server-managed
/// sessions) or bytes that are no stream.
pub(crate) fn file_source(sel: u8) -> cai_core::ports::BytesChunks {
    let key = DataKey::generate(KeyEpoch(0)).unwrap();
    let mut sealed = Vec::new();
    cai_crypto::stream::seal_stream(
        &key,
        &ItemContext::new(b"t", b"s", b"i", 1, ContentKind::File),
        &[5u8; 5000][..],
        &mut sealed,
    )
    .unwrap();
    match sel % 3 {
        0 | 1 => cai_core::ports::BytesChunks::with_chunk_len(sealed, 1000),
        _ => cai_core::ports::BytesChunks::new(b"no stream".to_vec()),
    }
}

pub(crate) fn body(sel: u8) -> ContentBody {
    match sel % 6 {
        0 | 1 => ContentBody::plain(b"some words".to_vec()),
        2 | 3 => sealed_body(),
        4 => ContentBody::plain(Vec::new()),
        _ => ContentBody::plain(vec![b'x'; MAX_PLAINTEXT_LEN + 1]),
    }
}

pub(crate) fn kind(sel: u8) -> ContentKind {
    [
        ContentKind::Note,
        ContentKind::Message,
        ContentKind::Document,
        ContentKind::File,
        ContentKind::Whiteboard,
        ContentKind::Recording,
        ContentKind::KeyMaterial,
    ][usize::from(sel) % 7]
}

pub(crate) fn mode(sel: u8) -> Option<SessionMode> {
    [
        None,
        Some(SessionMode::ServerManaged),
        Some(SessionMode::SessionKey),
        Some(SessionMode::Passphrase),
        Some(SessionMode::EndToEnd),
    ][usize::from(sel) % 5]
}

pub(crate) fn permissions(sel: u8) -> PermissionSet {
    match sel % 5 {
        0 => PermissionSet::EMPTY,
        1 => PermissionSet::of(Action::ALL),
        2 => joiner_permissions(),
        3 => BuiltinRole::TenantAdmin
            .default_permissions()
            .without(Action::ManageRoles),
        _ => BuiltinRole::Counsellor.default_permissions(),
    }
}

pub(crate) fn settings(sel: u8) -> TenantSettings {
    let default = TenantSettings {
        allow_message_editing: (sel / 6).is_multiple_of(2),
        ..TenantSettings::default()
    };
    match sel % 6 {
        0 => TenantSettings {
            allow_history_sharing: true,
            ..default
        },
        1 => TenantSettings {
            default_mode: SessionMode::EndToEnd,
            allow_history_sharing: true,
            ..default
        },
        2 => TenantSettings {
            minimum_mode: SessionMode::EndToEnd,
            default_mode: SessionMode::ServerManaged,
            ..default
        },
        3 => TenantSettings {
            admin_reauth_window: Duration::ZERO,
            ..default
        },
        4 => TenantSettings {
            minimum_mode: SessionMode::SessionKey,
            ..default
        },
        _ => default,
    }
}

/// A report query around `now`: mostly valid (the month, week or day `now` falls in,
/// by total, counsellor or group); `x % 8 == 7` misaligned, `== 6` backwards.
pub(crate) fn report_query(now: Timestamp, x: u8, y: u8) -> ReportQuery {
    let period = [ReportPeriod::Month, ReportPeriod::Week, ReportPeriod::Day][usize::from(x % 3)];
    let by = [ReportBy::Total, ReportBy::Counsellor, ReportBy::Group][usize::from(y % 3)];
    let from = period.start_of(now).unwrap();
    let to = period.after(from).unwrap();
    match x % 8 {
        7 => ReportQuery {
            from: now.plus(Duration::from_millis(1)),
            to,
            period,
            by,
        },
        6 => ReportQuery {
            from: to,
            to: from,
            period,
            by,
        },
        _ => ReportQuery {
            from,
            to,
            period,
            by,
        },
    }
}

pub(crate) fn new_room(title: &str, password: &str, mode: Option<SessionMode>) -> NewRoom {
    NewRoom {
        name: name(title),
        password: Zeroizing::new(password.to_owned()),
        mode,
        content: RoomContent::Keep,
    }
}

pub(crate) fn room_password(sel: u8, right: &str) -> String {
    match sel % 4 {
        0 => right.to_owned(),
        1 => "a wrong password".to_owned(),
        2 => "short".to_owned(),
        _ => "x".repeat(1025),
    }
}
