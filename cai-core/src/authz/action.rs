//! What a principal can ask to do ([`Action`]) and sets of those ([`PermissionSet`]),
//! which is what a role grants in a tenant.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

macro_rules! actions {
    ($($(#[$meta:meta])* $variant:ident = $code:literal, $name:literal;)*) => {
        /// Something a principal asks to do. The answer comes from
        /// [`authorize`](crate::authz::authorize); each action names the resource it
        /// applies to in its documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum Action {
            $($(#[$meta])* $variant = $code,)*
        }

        impl Action {
            /// Every action, in code order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The stable name used in configuration and audit records (`snake_case`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// The action called `name`.
            pub fn from_name(name: &str) -> Result<Self> {
                match name {
                    $($name => Ok(Action::$variant),)*
                    _ => Err(Error::Invalid { what: "action", reason: "unknown action name" }),
                }
            }
        }
    };
}

actions! {
    // Tenant administration: need a second factor and a recent authentication.
    /// Change the tenant's settings: default and minimum encryption mode, retention,
    /// password and 2FA policy. Resource: the tenant.
    ManageTenant = 0, "manage_tenant";
    /// Create, deactivate, reactivate and delete accounts. Resource: an account.
    ManageAccounts = 1, "manage_accounts";
    /// Create custom roles and change the permissions of any role. Resource: the tenant.
    ManageRoles = 2, "manage_roles";
    /// Grant and revoke roles. Resource: an account.
    AssignRoles = 3, "assign_roles";
    /// Create groups and change their members. Resource: a group (or the tenant, to create).
    ManageGroups = 4, "manage_groups";
    /// Unlock a locked account and reset its failure counter (R-A3). Resource: an account.
    UnlockAccounts = 5, "unlock_accounts";
    /// Approve another account's password reset, four-eyes (R-A6). Resource: an account.
    ApprovePasswordReset = 6, "approve_password_reset";

    // Oversight.
    /// Read the tenant's audit trail. Resource: the tenant.
    ViewAuditTrail = 7, "view_audit_trail";
    /// Read anonymised/aggregated reports (R-P6). Resource: the tenant.
    ViewReports = 8, "view_reports";
    /// Read the tenant's security incidents. Resource: the tenant.
    ViewIncidents = 9, "view_incidents";

    // Counselling.
    /// Create a session (classic or ad-hoc). Resource: the tenant.
    CreateSession = 10, "create_session";
    /// See a session's metadata and participants. Resource: a session.
    ViewSession = 11, "view_session";
    /// Join or re-enter a session one participates in. Resource: a session.
    JoinSession = 12, "join_session";
    /// Invite someone to a session. Resource: a session.
    InviteParticipants = 13, "invite_participants";
    /// Remove participants from a session. Resource: a session.
    ManageParticipants = 14, "manage_participants";
    /// Close a session. Resource: a session.
    CloseSession = 15, "close_session";
    /// Read a session's content and, in client-sealed modes, fetch its key material.
    /// Resource: a session.
    ReadContent = 16, "read_content";
    /// Post content to a session. Resource: a session.
    PostContent = 17, "post_content";
    /// Add a new version to one's own document, note or whiteboard — or chat message,
    /// where the tenant sets `allow_message_editing`. Every earlier version stays
    /// stored and readable; files and recordings are never versioned. Resource: a
    /// session (with the item's author).
    EditContent = 18, "edit_content";
    /// Delete a content item. Resource: a session (with the item's author).
    DeleteContent = 19, "delete_content";
    /// Give a counsellor added later the history's keys (R-E4b). Resource: a session.
    ShareHistory = 20, "share_history";

    // Rooms.
    /// Create one's personal room. Resource: the tenant.
    CreateRoom = 21, "create_room";
    /// Change a room's password. Resource: a room.
    ManageRoom = 22, "manage_room";
    /// Enter a room with its password. Resource: a room.
    EnterRoom = 23, "enter_room";

    // One's own account.
    /// Read one's own account. Resource: an account (one's own).
    ViewOwnAccount = 24, "view_own_account";
    /// Change one's own display name. Resource: an account (one's own).
    UpdateOwnAccount = 25, "update_own_account";
    /// Delete one's own account, immediately (R-P3). Resource: an account (one's own).
    DeleteOwnAccount = 26, "delete_own_account";
    /// Export one's own data (R-P5). Resource: an account (one's own).
    ExportOwnData = 27, "export_own_data";
}

impl Action {
    /// The bit of this action in a [`PermissionSet`].
    pub const fn bit(self) -> u64 {
        1u64 << (self as u8)
    }

    /// Whether this is a tenant administration action, which needs a principal
    /// authenticated with a second factor and recently (R-A4, R-I3).
    pub const fn is_administrative(self) -> bool {
        (self as u8) <= (Action::ApprovePasswordReset as u8)
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Action::from_name(&name).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of actions: what a role grants. A copyable bit set, so checking a permission is
/// one AND.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u64);

impl PermissionSet {
    /// No permissions.
    pub const EMPTY: Self = Self(0);

    /// The set of these actions.
    pub const fn of(actions: &[Action]) -> Self {
        // A slice pattern rather than indexing: const, and nothing that could panic.
        let mut bits = 0;
        let mut rest = actions;
        while let [first, tail @ ..] = rest {
            bits |= first.bit();
            rest = tail;
        }
        Self(bits)
    }

    /// Whether `action` is in the set.
    pub const fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    /// The set with `action` added.
    #[must_use]
    pub const fn with(self, action: Action) -> Self {
        Self(self.0 | action.bit())
    }

    /// The set with `action` removed.
    #[must_use]
    pub const fn without(self, action: Action) -> Self {
        Self(self.0 & !action.bit())
    }

    /// Every action in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Actions in both sets.
    #[must_use]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The raw bits (bit `n` is the action with code `n`), for storage.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The set with these raw bits; bits of no known action are an error, so a stored
    /// value from a newer version is not silently narrowed or widened.
    pub fn from_bits(bits: u64) -> Result<Self> {
        let known = Action::ALL.iter().fold(0, |acc, a| acc | a.bit());
        if bits & !known != 0 {
            return Err(Error::Invalid {
                what: "permission set",
                reason: "unknown action bit",
            });
        }
        Ok(Self(bits))
    }

    /// The actions in the set, in code order.
    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL
            .iter()
            .copied()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Action> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Action::name))
            .finish()
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Action::name))
    }
}

impl<'de> Deserialize<'de> for PermissionSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names
            .iter()
            .map(|n| Action::from_name(n))
            .collect::<Result<PermissionSet>>()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_names_unique() {
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i);
            assert_eq!(Action::from_name(a.name()).unwrap(), *a);
        }
        assert!(Action::ALL.len() <= 64);
    }

    #[test]
    fn sets_round_trip() {
        let set = PermissionSet::of(&[Action::ReadContent, Action::ManageRoles]);
        assert!(set.contains(Action::ReadContent));
        assert!(!set.contains(Action::PostContent));
        assert_eq!(PermissionSet::from_bits(set.bits()).unwrap(), set);
        assert!(PermissionSet::from_bits(1 << 63).is_err());
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["manage_roles","read_content"]"#);
        assert_eq!(serde_json::from_str::<PermissionSet>(&json).unwrap(), set);
    }
}
