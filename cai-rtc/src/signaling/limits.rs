//! Every size and rate limit of the signaling protocol, in one place so `docs/SIGNALING.md`
//! and the code cannot drift apart. A message over any of them is refused with a typed
//! error ([`ErrorCode::TooLarge`](super::ErrorCode::TooLarge) naming the field) and the
//! connection stays usable.

use std::time::Duration;

/// The protocol version this crate speaks (`"v":1`).
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest message, in bytes of JSON text: checked first, before anything is parsed.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Most members of the top-level JSON object (`v`, `type`, `id` and the type's own).
pub const MAX_FIELDS: usize = 12;
/// Largest SDP text of an offer or answer, in bytes.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Largest `candidate` attribute of a trickled ICE candidate, in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// Largest `sdpMid`, in bytes.
pub const MAX_SDP_MID_BYTES: usize = 64;
/// Largest `usernameFragment`, in bytes (ICE allows 4 to 256 characters).
pub const MAX_UFRAG_BYTES: usize = 256;
/// Largest session token (an account token or a guest `cg1_…` token), in bytes.
pub const MAX_TOKEN_BYTES: usize = 512;
/// Largest pseudonym, in bytes (cai-core then allows 2 to 32 characters).
pub const MAX_PSEUDONYM_BYTES: usize = 128;
/// Largest invitation (guest-link) secret text, in bytes (`inv_….<64 hex>` is ~95).
pub const MAX_INVITATION_SECRET_BYTES: usize = 128;
/// Largest room password, in bytes (cai-core's `ROOM_PASSWORD_MAX`).
pub const MAX_ROOM_PASSWORD_BYTES: usize = cai_core::service::ROOM_PASSWORD_MAX;
/// Largest MLS blob (commit, record, welcome, group info, key package) carried over
/// signaling, decoded. Larger handshakes go through the REST API (cai-core allows up to
/// 4 MiB there).
pub const MAX_MLS_BLOB_BYTES: usize = 48 * 1024;
/// Most key packages one `mls_key_packages` message uploads.
pub const MAX_KEY_PACKAGES_PER_MESSAGE: usize = 8;
/// Most epochs one `mls_sync` answers with (cai-core's `MAX_EPOCHS_PER_READ`).
pub const MAX_EPOCHS_PER_SYNC: u32 = cai_core::service::MAX_EPOCHS_PER_READ;
/// Length of an Ed25519 signature over a session description, decoded.
pub const SIGNATURE_BYTES: usize = 64;

/// Messages one connection may send at once (the token bucket's depth): enough for an
/// offer and a browser's whole burst of trickled candidates.
pub const RATE_BURST: u32 = 50;
/// Messages per second one connection may send on average (the bucket's refill).
pub const RATE_PER_SECOND: u32 = 10;
/// Refused messages (any error answered, including `denied`) one connection may cause
/// at once before it is closed with `too_many_errors`.
pub const ERROR_BURST: u32 = 16;
/// How fast the error allowance comes back: one refused message per this interval.
pub const ERROR_REFILL: Duration = Duration::from_secs(5);
/// Largest frame the WebSocket transport reads; anything above it closes the socket. Frames between [`MAX_MESSAGE_BYTES`] and this get a typed
/// `too_large` error and the connection stays.
pub const MAX_FRAME_BYTES: usize = 2 * MAX_MESSAGE_BYTES;
/// Messages queued towards one connection; when full, further messages to it are not
/// delivered (a relay's sender gets `unavailable`; broadcasts are dropped) and the
/// connection stays.
pub const OUTBOX_DEPTH: usize = 256;

/// Connections in one call at once. A call is a mesh of peer connections (one per pair),
/// which stops being practical long before this; larger meetings go through an SFU
/// (docs/SCALING.md).
pub const MAX_CALL_MEMBERS: usize = 32;
/// Joins (sender indices) one participant may take in one call while the hub runs.
/// Indices are never handed out twice in a call, so without this one participant
/// joining and leaving in a loop could use up all 65,536 and lock everyone out.
pub const MAX_JOINS_PER_PARTICIPANT: u32 = 256;
/// How long a connection may stay without joining a call (from its start or its last
/// `leave`) before the hub closes it.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a joined connection may stay silent — no message of any kind received,
/// `ping` included — before the hub ends its part as a `leave` would and closes it: a
/// client that vanished without its socket closing does not keep its place.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often clients send `ping` at the latest: after this long without sending
/// anything. A third of [`IDLE_TIMEOUT`], so two lost or late pings are survived.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// How often the hub re-checks each joined connection's admission (its token still
/// authenticates, its caller may still take part in the session): every this long after
/// it was admitted.
pub const RECHECK_EVERY: Duration = Duration::from_secs(60);
/// How long one admission re-check may take before it counts as undecided (a backend
/// that hangs is one that is unavailable): the connection stays, is served again, and is
/// asked about at the next round.
pub const RECHECK_TIMEOUT: Duration = Duration::from_secs(10);
