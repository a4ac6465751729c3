//! MLS carriage of end-to-end sessions through the hub: key packages, claims, the
//! group's start, commits and catch-up, each handed to the [`DeliveryService`] as the
//! joined member. Group starts and commits hold the call's MLS lock until the accepted
//! epoch is queued to every member, so all see epochs in the Delivery Service's order.

use cai_core::service::E2eCommit;

use super::super::channel::SignalingChannel;
use super::super::error::ErrorCode;
use super::super::limits;
use super::super::message::{
    EncryptionMode, MlsClaim, MlsCommit, MlsGroup, MlsKeyPackages, MlsSync, ServerMessage,
};
use super::{Conn, Flow, Joined, Refusal, SignalingHub, send};

impl SignalingHub {
    fn joined_e2e(conn: &Conn) -> Result<&Joined, Refusal> {
        let j = Self::joined(conn)?;
        if j.entrant.mode == EncryptionMode::EndToEnd {
            Ok(j)
        } else {
            Err(ErrorCode::WrongMode.into())
        }
    }

    pub(super) async fn mls_key_packages<C: SignalingChannel>(
        &self,
        conn: &Conn,
        channel: &mut C,
        id: Option<u32>,
        m: MlsKeyPackages,
    ) -> Result<Flow, Refusal> {
        let j = Self::joined_e2e(conn)?;
        let packages = m.packages.into_iter().map(|b| b.0).collect();
        let count = self
            .inner
            .delivery
            .publish_key_packages(&j.entrant.caller, packages)
            .await?;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Ok(send(
            channel,
            &ServerMessage::MlsStored {
                count,
                in_reply_to: id,
            },
        )
        .await)
    }

    pub(super) async fn mls_claim<C: SignalingChannel>(
        &self,
        conn: &Conn,
        channel: &mut C,
        id: Option<u32>,
        m: MlsClaim,
    ) -> Result<Flow, Refusal> {
        let j = Self::joined_e2e(conn)?;
        let packages = self
            .inner
            .delivery
            .claim_key_packages(&j.entrant.caller, j.entrant.session, m.participant)
            .await?;
        Ok(send(
            channel,
            &ServerMessage::MlsClaimed {
                participant: m.participant,
                packages: packages.into_iter().map(super::super::Blob).collect(),
                in_reply_to: id,
            },
        )
        .await)
    }

    pub(super) async fn mls_group(&self, conn: &Conn, m: MlsGroup) -> Result<Flow, Refusal> {
        let j = Self::joined_e2e(conn)?;
        let _order = j.mls.lock().await;
        let epoch = self
            .inner
            .delivery
            .start_group(
                &j.entrant.caller,
                j.entrant.session,
                m.group_info.0,
                m.record.0,
            )
            .await?;
        self.deliver_epoch(j, epoch);
        Ok(Flow::Continue)
    }

    pub(super) async fn mls_commit(&self, conn: &Conn, m: MlsCommit) -> Result<Flow, Refusal> {
        let j = Self::joined_e2e(conn)?;
        let commit = E2eCommit {
            commit: m.commit.0,
            record: m.record.0,
            welcome: m.welcome.map(|w| w.0),
        };
        // Held until the epoch is queued to every member: the next commit waits.
        let _order = j.mls.lock().await;
        let epoch = self
            .inner
            .delivery
            .post_commit(&j.entrant.caller, j.entrant.session, commit)
            .await?;
        self.deliver_epoch(j, epoch);
        Ok(Flow::Continue)
    }

    fn deliver_epoch(&self, j: &Joined, epoch: super::super::MlsEpoch) {
        if let Some(call) = self.inner.events.lock().get(&j.key()) {
            call.broadcast(&ServerMessage::MlsEpoch(epoch), None);
        }
    }

    pub(super) async fn mls_sync<C: SignalingChannel>(
        &self,
        conn: &Conn,
        channel: &mut C,
        m: MlsSync,
    ) -> Result<Flow, Refusal> {
        let j = Self::joined_e2e(conn)?;
        let epochs = self
            .inner
            .delivery
            .epochs(
                &j.entrant.caller,
                j.entrant.session,
                m.after,
                limits::MAX_EPOCHS_PER_SYNC,
            )
            .await?;
        for e in epochs {
            if let Flow::Close = send(channel, &ServerMessage::MlsEpoch(e)).await {
                return Ok(Flow::Close);
            }
        }
        Ok(Flow::Continue)
    }
}
