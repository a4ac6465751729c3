//! Serde of the service's request and answer types whose JSON shape derive cannot
//! express: bodies and key material (bytes in base64, secrets in buffers zeroized on
//! drop) and the enums whose variants carry a value (tagged, the value as a field).
//! Kept here rather than beside the types so the service's files hold the use cases.

use cai_crypto::{DataKey, KEY_ID_LEN, KeyEpoch, KeyId, SecretBytes};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::{decode, encode};
use crate::domain::{Email, SealedBody};
use crate::id::{AccountId, GroupId, RoomId, SessionId};
use crate::service::{ContentBody, InviteTo, SessionKeyMaterial, Target};

/// `{"type":"plain","data":"<base64>"}` or `{"type":"sealed","data":"<base64>"}`.
impl Serialize for ContentBody {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Out<'a> {
            Plain { data: &'a str },
            Sealed { data: &'a str },
        }
        match self {
            ContentBody::Plain(bytes) => {
                let data = Zeroizing::new(encode(bytes));
                Out::Plain { data: &data }.serialize(s)
            }
            ContentBody::Sealed(body) => Out::Sealed {
                data: &encode(body.as_bytes()),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ContentBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
        enum In {
            Plain {
                #[serde(deserialize_with = "super::secret_text")]
                data: Zeroizing<String>,
            },
            Sealed {
                data: String,
            },
        }
        match In::deserialize(d)? {
            In::Plain { data } => Ok(ContentBody::Plain(Zeroizing::new(decode(
                &data,
                "plain body",
            )?))),
            In::Sealed { data } => SealedBody::new(decode(&data, "sealed body")?)
                .map(ContentBody::Sealed)
                .map_err(D::Error::custom),
        }
    }
}

/// `{"type":"server_sealed","key_id":"<32 hex>","epoch":0,"call_key":"<base64 of 32 bytes>"}`,
/// `{"type":"session_key","key_id":"<32 hex>","epoch":0,"key":"<base64 of 32 bytes>"}`,
/// `{"type":"passphrase","custody":"<base64>"}`,
/// `{"type":"end_to_end","epoch":3|null,"history_grant":"<base64>"|null}`.
impl Serialize for SessionKeyMaterial {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Out<'a> {
            ServerSealed {
                key_id: String,
                epoch: u32,
                call_key: &'a str,
            },
            SessionKey {
                key_id: String,
                epoch: u32,
                key: &'a str,
            },
            Passphrase {
                custody: &'a str,
            },
            EndToEnd {
                epoch: Option<u32>,
                #[serde(with = "super::base64_opt")]
                history_grant: &'a Option<Vec<u8>>,
            },
        }
        match self {
            SessionKeyMaterial::ServerSealed { call_key } => {
                let secret = Zeroizing::new(encode(call_key.secret().expose_secret()));
                Out::ServerSealed {
                    key_id: call_key.id().to_string(),
                    epoch: call_key.epoch().0,
                    call_key: &secret,
                }
                .serialize(s)
            }
            SessionKeyMaterial::SessionKey(key) => {
                let secret = Zeroizing::new(encode(key.secret().expose_secret()));
                Out::SessionKey {
                    key_id: key.id().to_string(),
                    epoch: key.epoch().0,
                    key: &secret,
                }
                .serialize(s)
            }
            SessionKeyMaterial::Passphrase(custody) => Out::Passphrase {
                custody: &encode(custody),
            }
            .serialize(s),
            SessionKeyMaterial::EndToEnd {
                epoch,
                history_grant,
            } => Out::EndToEnd {
                epoch: *epoch,
                history_grant,
            }
            .serialize(s),
        }
    }
}

/// A data key from its JSON parts: hex id, epoch, base64 secret of 32 bytes.
fn data_key<E: serde::de::Error>(
    key_id: &str,
    epoch: u32,
    key: &str,
    what: &'static str,
) -> Result<DataKey, E> {
    let id = parse_key_id(key_id).map_err(E::custom)?;
    let bytes = Zeroizing::new(decode::<E>(key, what)?);
    let secret = SecretBytes::<32>::from_slice(&bytes)
        .map_err(|_| E::custom(format_args!("{what}: not 32 bytes")))?;
    Ok(DataKey::from_parts(id, KeyEpoch(epoch), secret))
}

impl<'de> Deserialize<'de> for SessionKeyMaterial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
        enum In {
            ServerSealed {
                key_id: String,
                epoch: u32,
                #[serde(deserialize_with = "super::secret_text")]
                call_key: Zeroizing<String>,
            },
            SessionKey {
                key_id: String,
                epoch: u32,
                #[serde(deserialize_with = "super::secret_text")]
                key: Zeroizing<String>,
            },
            Passphrase {
                #[serde(with = "super::base64")]
                custody: Vec<u8>,
            },
            EndToEnd {
                epoch: Option<u32>,
                #[serde(default, with = "super::base64_opt")]
                history_grant: Option<Vec<u8>>,
            },
        }
        Ok(match In::deserialize(d)? {
            In::ServerSealed {
                key_id,
                epoch,
                call_key,
            } => SessionKeyMaterial::ServerSealed {
                call_key: data_key::<D::Error>(&key_id, epoch, &call_key, "call key")?,
            },
            In::SessionKey { key_id, epoch, key } => {
                SessionKeyMaterial::SessionKey(data_key::<D::Error>(
                    &key_id,
                    epoch,
                    &key,
                    "session key",
                )?)
            }
            In::Passphrase { custody } => SessionKeyMaterial::Passphrase(custody),
            In::EndToEnd {
                epoch,
                history_grant,
            } => SessionKeyMaterial::EndToEnd {
                epoch,
                history_grant,
            },
        })
    }
}

/// A key id as written by its `Display`: 32 lowercase hex digits.
fn parse_key_id(text: &str) -> Result<KeyId, &'static str> {
    let mut bytes = [0u8; KEY_ID_LEN];
    if text.len() != KEY_ID_LEN * 2
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err("key id: not 32 lowercase hex digits");
    }
    hex::decode_to_slice(text, &mut bytes).map_err(|_| "key id: not 32 lowercase hex digits")?;
    Ok(KeyId::from_bytes(bytes))
}

/// The JSON shape of [`InviteTo`]: `{"type":"contact","email":"…","language":"de"}`
/// (`language` may be `null` or left out) or `{"type":"guest_link","max_uses":5}`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum InviteToJson {
    Contact {
        email: Email,
        #[serde(default)]
        language: Option<String>,
    },
    GuestLink {
        max_uses: u32,
    },
}

impl From<InviteTo> for InviteToJson {
    fn from(i: InviteTo) -> Self {
        match i {
            InviteTo::Contact { email, language } => Self::Contact { email, language },
            InviteTo::GuestLink { max_uses } => Self::GuestLink { max_uses },
        }
    }
}

impl From<InviteToJson> for InviteTo {
    fn from(i: InviteToJson) -> Self {
        match i {
            InviteToJson::Contact { email, language } => Self::Contact { email, language },
            InviteToJson::GuestLink { max_uses } => Self::GuestLink { max_uses },
        }
    }
}

/// The JSON shape of [`Target`]: `{"type":"tenant"}`,
/// `{"type":"session","session":"ses_…"}`, the id in a field named like the tag.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum TargetJson {
    // An empty struct, not a unit variant: serde ignores unknown fields next to the tag
    // of a unit variant even with `deny_unknown_fields`.
    Tenant {},
    Account { account: AccountId },
    Group { group: GroupId },
    Session { session: SessionId },
    Room { room: RoomId },
}

impl From<Target> for TargetJson {
    fn from(t: Target) -> Self {
        match t {
            Target::Tenant => Self::Tenant {},
            Target::Account(account) => Self::Account { account },
            Target::Group(group) => Self::Group { group },
            Target::Session(session) => Self::Session { session },
            Target::Room(room) => Self::Room { room },
        }
    }
}

impl From<TargetJson> for Target {
    fn from(t: TargetJson) -> Self {
        match t {
            TargetJson::Tenant {} => Self::Tenant,
            TargetJson::Account { account } => Self::Account(account),
            TargetJson::Group { group } => Self::Group(group),
            TargetJson::Session { session } => Self::Session(session),
            TargetJson::Room { room } => Self::Room(room),
        }
    }
}
