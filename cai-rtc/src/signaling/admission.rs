//! The hub's two ports into the rest of cai: [`Admission`] decides who may join a call,
//! [`DeliveryService`] carries MLS handshakes to cai-core's Delivery Service, which
//! checks and orders them. [`CaiBackend`] implements both over `cai-auth`'s
//! [`Authenticator`] (tokens, guest links) and its `cai-core` service (rooms, sessions,
//! end-to-end groups). Tests may put their own implementations in.

use std::time::Duration;

use async_trait::async_trait;
use cai_auth::{AuthError, Authenticator};
use cai_core::domain::{InvitationSecret, ParticipantRole, Pseudonym, RequestMeta};
use cai_core::id::{SessionId, SubjectId};
use cai_core::service::{E2eCommit, E2eEpochView, RoomEntry, SessionDetails};
use cai_core::{Caller, ErrorCategory};

use super::error::{DenyReason, ErrorCode};
use super::message::{Blob, EncryptionMode, EndReason, JoinAuth, MlsEpoch, SecretText};

/// A refused join: the reason and, for `too_many_requests`, when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    /// Why.
    pub reason: DenyReason,
    /// When another attempt is considered.
    pub retry_after: Option<Duration>,
}

impl Denial {
    /// A denial without a retry time.
    pub fn new(reason: DenyReason) -> Self {
        Self {
            reason,
            retry_after: None,
        }
    }
}

/// Someone admitted to a session's call.
#[derive(Debug, Clone)]
pub struct Entrant {
    /// Who, as cai-core knows them (the hub acts as this caller for MLS messages).
    pub caller: Caller,
    /// The session.
    pub session: SessionId,
    /// The session's mode.
    pub mode: EncryptionMode,
    /// The session's key epoch now.
    pub key_epoch: u32,
    /// A guest admitted by a guest link: its new session token.
    pub guest_token: Option<SecretText>,
}

/// What a join led to.
#[derive(Debug, Clone)]
pub enum AdmissionOutcome {
    /// In the call.
    Admitted(Entrant),
    /// In a room's lobby until the host admits them; the hub asks again
    /// ([`Admission::recheck`]) when cai-core reports them joined.
    Waiting {
        /// The visitor.
        caller: Caller,
        /// The meeting.
        session: SessionId,
    },
}

/// What re-checking a joined connection found ([`Admission::reauthorize`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauthorization {
    /// Still admitted: the connection keeps its place.
    Kept,
    /// No longer admitted: the hub ends the connection's part with `ended` and this
    /// reason ([`EndReason::Revoked`]; [`EndReason::SessionClosed`] when that is why)
    /// and closes it; the others get `peer_left`.
    Ended(EndReason),
    /// Undecided — a store or auth backend failed. The connection keeps its place and
    /// is asked about again at the next round: an outage must not throw everyone out of
    /// their calls.
    Unavailable,
}

/// Decides who joins a call. Implementations must give one answer
/// ([`DenyReason::NotAccepted`]) for every way a secret can be wrong.
#[async_trait]
pub trait Admission: Send + Sync {
    /// Admits (or refuses) a `join` from a client at `request`.
    async fn admit(
        &self,
        auth: &JoinAuth,
        request: RequestMeta,
    ) -> Result<AdmissionOutcome, Denial>;

    /// Asks again: for a caller that was waiting in a lobby, and for every admitted
    /// caller once the hub has registered its connection in the call (a removal between
    /// the two reads then ends the join). The second read's [`Entrant::mode`] and
    /// [`Entrant::key_epoch`] are what `admitted` reports.
    async fn recheck(
        &self,
        caller: &Caller,
        session: SessionId,
    ) -> Result<AdmissionOutcome, Denial>;

    /// Re-checks a joined connection (every `HubConfig::recheck_every`): the part of
    /// its admission that can change since `join`. `credential` is the session token
    /// it authenticated with — a `token` or `room` join's `token`, or the guest token
    /// [`Entrant::guest_token`] a `guest_link` join was given (`None` when the admission
    /// handed out none); `request` is the connection's. Must not end a connection
    /// because a dependency failed ([`Reauthorization::Unavailable`]). The hub waits at
    /// most [`RECHECK_TIMEOUT`](super::limits::RECHECK_TIMEOUT) for the answer, then
    /// takes it as undecided.
    async fn reauthorize(
        &self,
        entrant: &Entrant,
        credential: Option<&SecretText>,
        request: RequestMeta,
    ) -> Reauthorization;
}

/// Carries MLS handshakes of end-to-end sessions to the Delivery Service, which checks
/// them and gives accepted epochs their order. Errors are the [`ErrorCode`] the client
/// gets.
#[async_trait]
pub trait DeliveryService: Send + Sync {
    /// Stores key packages of the caller's devices; returns how many are stored now.
    async fn publish_key_packages(
        &self,
        caller: &Caller,
        packages: Vec<Vec<u8>>,
    ) -> Result<usize, ErrorCode>;

    /// Claims one key package per device of `participant`.
    async fn claim_key_packages(
        &self,
        caller: &Caller,
        session: SessionId,
        participant: SubjectId,
    ) -> Result<Vec<Vec<u8>>, ErrorCode>;

    /// Starts the session's group; returns epoch 0 as members read it.
    async fn start_group(
        &self,
        caller: &Caller,
        session: SessionId,
        group_info: Vec<u8>,
        record: Vec<u8>,
    ) -> Result<MlsEpoch, ErrorCode>;

    /// Applies a commit to the newest epoch; returns the epoch it led to.
    async fn post_commit(
        &self,
        caller: &Caller,
        session: SessionId,
        commit: E2eCommit,
    ) -> Result<MlsEpoch, ErrorCode>;

    /// Accepted epochs after `after`, oldest first, at most `limit`.
    async fn epochs(
        &self,
        caller: &Caller,
        session: SessionId,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Vec<MlsEpoch>, ErrorCode>;
}

/// [`Admission`] and [`DeliveryService`] over cai-auth and cai-core.
///
/// Joins, in order: the token (or guest link) is checked first (`unauthenticated`; a
/// guest link's every failure `not_accepted`, blocked addresses `too_many_requests`);
/// then, for a room, its password (`not_accepted` for a wrong password *and* an unknown
/// room; lobby → `waiting`); then the session is read as the caller (`forbidden` if they
/// may not see it), must be open (`session_closed`), and the caller must be one of its
/// participants not waiting in a lobby (`forbidden`; team members who only reach the
/// case through a group are not in the call).
///
/// Re-checks ([`Admission::reauthorize`]) authenticate the credential again through
/// cai-auth — revoked, expired, idle too long, the account locked or deactivated, a
/// guest removed or past its end all fail here — require it to stand for the same
/// caller, and read the session as that caller as a join does (open, a participant, not
/// waiting). Any such failure is [`EndReason::Revoked`] (a closed session
/// [`EndReason::SessionClosed`]); a store or auth backend that fails, or a throttle, is
/// [`Reauthorization::Unavailable`]. A room's password is not asked again: it let the
/// visitor in once, and the host removes a visitor from the meeting. Authenticating an
/// account token counts as using it: a call keeps its token from idling out.
#[derive(Clone)]
pub struct CaiBackend {
    auth: Authenticator,
}

impl CaiBackend {
    /// The backend over `auth` (and the service inside it).
    pub fn new(auth: Authenticator) -> Self {
        Self { auth }
    }

    async fn authenticate(
        &self,
        token: &SecretText,
        request: RequestMeta,
    ) -> Result<Caller, Denial> {
        self.auth
            .authenticate(token.expose(), request)
            .await
            .map_err(|e| auth_denial(&e))
    }

    /// Reads the session as `caller` and decides.
    async fn enter(
        &self,
        caller: Caller,
        session: SessionId,
        guest_token: Option<SecretText>,
    ) -> Result<AdmissionOutcome, Denial> {
        let details = self
            .auth
            .service()
            .session(&caller, caller.tenant, session)
            .await
            .map_err(|e| core_denial(&e, DenyReason::Forbidden))?;
        decide(caller, details, guest_token)
    }
}

fn decide(
    caller: Caller,
    details: SessionDetails,
    guest_token: Option<SecretText>,
) -> Result<AdmissionOutcome, Denial> {
    let s = &details.session;
    if !s.is_open() {
        return Err(Denial::new(DenyReason::SessionClosed));
    }
    let role = details
        .participants
        .iter()
        .find(|p| p.subject == caller.subject)
        .map(|p| p.role);
    match role {
        Some(ParticipantRole::Waiting) => Ok(AdmissionOutcome::Waiting {
            caller,
            session: s.id,
        }),
        Some(_) => Ok(AdmissionOutcome::Admitted(Entrant {
            session: s.id,
            mode: s.mode.into(),
            key_epoch: s.key_epoch,
            guest_token,
            caller,
        })),
        None => Err(Denial::new(DenyReason::Forbidden)),
    }
}

fn auth_denial(e: &AuthError) -> Denial {
    match e {
        AuthError::TooManyRequests { retry_after } => Denial {
            reason: DenyReason::TooManyRequests,
            retry_after: Some(*retry_after),
        },
        AuthError::Core(core) => core_denial(core, DenyReason::Unauthenticated),
        AuthError::Unavailable(_) | AuthError::Corrupt { .. } | AuthError::Rng => {
            Denial::new(DenyReason::Unavailable)
        }
        _ => Denial::new(DenyReason::Unauthenticated),
    }
}

/// cai-core's answer as a denial; `refused` for "not allowed / not found".
fn core_denial(e: &cai_core::Error, refused: DenyReason) -> Denial {
    match e {
        cai_core::Error::NotAccepted => Denial::new(DenyReason::NotAccepted),
        cai_core::Error::SessionClosed => Denial::new(DenyReason::SessionClosed),
        cai_core::Error::TooManyRequests { retry_after } => Denial {
            reason: DenyReason::TooManyRequests,
            retry_after: Some(*retry_after),
        },
        e => match e.category() {
            ErrorCategory::Unauthenticated => Denial::new(DenyReason::Unauthenticated),
            ErrorCategory::Unavailable | ErrorCategory::Internal => {
                Denial::new(DenyReason::Unavailable)
            }
            _ => Denial::new(refused),
        },
    }
}

fn delivery_error(e: &cai_core::Error) -> ErrorCode {
    match e {
        cai_core::Error::WrongMode { .. } => ErrorCode::WrongMode,
        cai_core::Error::TooLarge { .. } => ErrorCode::TooLarge,
        e => match e.category() {
            ErrorCategory::Conflict => ErrorCode::MlsConflict,
            ErrorCategory::InvalidInput => ErrorCode::MlsRejected,
            ErrorCategory::Unauthenticated | ErrorCategory::Forbidden | ErrorCategory::NotFound => {
                ErrorCode::Forbidden
            }
            ErrorCategory::TooManyRequests => ErrorCode::RateLimited,
            ErrorCategory::Unavailable => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        },
    }
}

fn epoch_message(e: E2eEpochView) -> MlsEpoch {
    MlsEpoch {
        epoch: e.epoch,
        commit: Blob(e.commit),
        record: Blob(e.record),
        welcome: e.welcome.map(Blob),
        committed_by: e.committed_by,
    }
}

#[async_trait]
impl Admission for CaiBackend {
    async fn admit(
        &self,
        auth: &JoinAuth,
        request: RequestMeta,
    ) -> Result<AdmissionOutcome, Denial> {
        match auth {
            JoinAuth::Token { token, session } => {
                let caller = self.authenticate(token, request).await?;
                self.enter(caller, *session, None).await
            }
            JoinAuth::GuestLink {
                tenant,
                pseudonym,
                secret,
            } => {
                // The parser checked both shapes; a failure here is still one answer.
                let pseudonym = Pseudonym::parse(pseudonym)
                    .map_err(|_| Denial::new(DenyReason::NotAccepted))?;
                let secret = InvitationSecret::parse(secret.expose())
                    .map_err(|_| Denial::new(DenyReason::NotAccepted))?;
                let admitted = self
                    .auth
                    .admit_guest(*tenant, &secret, pseudonym, request)
                    .await
                    .map_err(|e| match e {
                        AuthError::Core(ref core) => core_denial(core, DenyReason::NotAccepted),
                        ref other => auth_denial(other),
                    })?;
                let token = SecretText::new(admitted.token.expose());
                self.enter(admitted.caller, admitted.guest.session, Some(token))
                    .await
            }
            JoinAuth::Room {
                token,
                room,
                password,
            } => {
                let caller = self.authenticate(token, request).await?;
                let entry = self
                    .auth
                    .service()
                    .enter_room(&caller, caller.tenant, *room, password.expose())
                    .await
                    // An unknown room answers like a wrong password.
                    .map_err(|e| core_denial(&e, DenyReason::NotAccepted))?;
                match entry {
                    RoomEntry::Waiting { session } => {
                        Ok(AdmissionOutcome::Waiting { caller, session })
                    }
                    RoomEntry::Admitted(details) => decide(caller, details, None),
                }
            }
        }
    }

    async fn recheck(
        &self,
        caller: &Caller,
        session: SessionId,
    ) -> Result<AdmissionOutcome, Denial> {
        self.enter(*caller, session, None).await
    }

    async fn reauthorize(
        &self,
        entrant: &Entrant,
        credential: Option<&SecretText>,
        request: RequestMeta,
    ) -> Reauthorization {
        // Deny by default: nothing to authenticate with is no admission.
        let Some(token) = credential else {
            return Reauthorization::Ended(EndReason::Revoked);
        };
        let caller = match self.authenticate(token, request).await {
            Ok(caller) => caller,
            Err(denial) => return verdict(denial),
        };
        let before = &entrant.caller;
        if caller.tenant != before.tenant || caller.subject != before.subject {
            return Reauthorization::Ended(EndReason::Revoked);
        }
        match self.enter(caller, entrant.session, None).await {
            Ok(AdmissionOutcome::Admitted(_)) => Reauthorization::Kept,
            // Moved back to a lobby: no longer in the call.
            Ok(AdmissionOutcome::Waiting { .. }) => Reauthorization::Ended(EndReason::Revoked),
            Err(denial) => verdict(denial),
        }
    }
}

/// A re-check's denial as its verdict: only a failing dependency leaves it undecided.
fn verdict(denial: Denial) -> Reauthorization {
    match denial.reason {
        DenyReason::Unavailable | DenyReason::TooManyRequests => Reauthorization::Unavailable,
        DenyReason::SessionClosed => Reauthorization::Ended(EndReason::SessionClosed),
        _ => Reauthorization::Ended(EndReason::Revoked),
    }
}

#[async_trait]
impl DeliveryService for CaiBackend {
    async fn publish_key_packages(
        &self,
        caller: &Caller,
        packages: Vec<Vec<u8>>,
    ) -> Result<usize, ErrorCode> {
        self.auth
            .service()
            .publish_key_packages(caller, caller.tenant, packages)
            .await
            .map_err(|e| delivery_error(&e))
    }

    async fn claim_key_packages(
        &self,
        caller: &Caller,
        session: SessionId,
        participant: SubjectId,
    ) -> Result<Vec<Vec<u8>>, ErrorCode> {
        self.auth
            .service()
            .claim_key_packages(caller, caller.tenant, session, participant)
            .await
            .map_err(|e| delivery_error(&e))
    }

    async fn start_group(
        &self,
        caller: &Caller,
        session: SessionId,
        group_info: Vec<u8>,
        record: Vec<u8>,
    ) -> Result<MlsEpoch, ErrorCode> {
        let svc = self.auth.service();
        let epoch = svc
            .start_e2e_group(caller, caller.tenant, session, group_info, record)
            .await
            .map_err(|e| delivery_error(&e))?;
        self.epoch(caller, session, epoch).await
    }

    async fn post_commit(
        &self,
        caller: &Caller,
        session: SessionId,
        commit: E2eCommit,
    ) -> Result<MlsEpoch, ErrorCode> {
        let epoch = self
            .auth
            .service()
            .post_e2e_commit(caller, caller.tenant, session, commit)
            .await
            .map_err(|e| delivery_error(&e))?;
        self.epoch(caller, session, epoch).await
    }

    async fn epochs(
        &self,
        caller: &Caller,
        session: SessionId,
        after: Option<u32>,
        limit: u32,
    ) -> Result<Vec<MlsEpoch>, ErrorCode> {
        Ok(self
            .auth
            .service()
            .e2e_epochs(caller, caller.tenant, session, after, limit)
            .await
            .map_err(|e| delivery_error(&e))?
            .into_iter()
            .map(epoch_message)
            .collect())
    }
}

impl CaiBackend {
    /// The accepted epoch `epoch`, read back as members read it.
    async fn epoch(
        &self,
        caller: &Caller,
        session: SessionId,
        epoch: u32,
    ) -> Result<MlsEpoch, ErrorCode> {
        let after = epoch.checked_sub(1);
        self.epochs(caller, session, after, 1)
            .await?
            .into_iter()
            .find(|e| e.epoch == epoch)
            .ok_or(ErrorCode::Internal)
    }
}
