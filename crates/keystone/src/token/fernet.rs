//! Fernet tokens: Keystone's token format, as `keystone/token/token_formatters.py` (its `TokenFormatter` and
//! payload classes) on top of the Fernet format that Python's `cryptography.fernet` implements
//! (<https://github.com/fernet/spec>).
//!
//! Three layers, bottom up:
//!
//! - [`MultiFernet`] is the Fernet format itself, compatible byte for byte with `cryptography`'s `Fernet` and
//!   `MultiFernet`: `0x80 | timestamp (u64 BE seconds) | IV (16) | AES-128-CBC(PKCS7(plaintext)) | HMAC-SHA256`,
//!   the HMAC covering everything before it, the whole url-safe base64 with padding. A key is 32 bytes, written
//!   as url-safe base64: the first half signs, the second half encrypts. Encryption uses the primary (first) key;
//!   decryption tries every key in turn, which is what lets keys rotate without invalidating live tokens.
//! - [`TokenPayload`] is what a token says (who, how, scope, lifetime, audit chain), packed with MessagePack into
//!   a small versioned array (the wire format below). It is ours, not byte-compatible with Python Keystone's, but
//!   built the same way: a version tag first, UUIDs as 16 raw bytes, methods as a bitmask.
//! - [`TokenFormatter`] joins the two, and like upstream strips the base64 `=` padding from the token ids it
//!   issues (padding is not URL-safe) and restores it before validating.
//!
//! Expiry is not checked here: as upstream, the Fernet TTL is unused and the token provider compares
//! `expires_at` with the clock (and the revocation list) after [`TokenFormatter::validate_token`].
//!
//! # Payload wire format, version 1
//!
//! A MessagePack array:
//!
//! | # | field        | encoding |
//! |---|--------------|----------|
//! | 0 | version      | `1` |
//! | 1 | `user_id`    | packed id (below) |
//! | 2 | `methods`    | uint, bit *i* set when [`AUTH_METHODS`]`[i]` was used |
//! | 3 | `scope`      | array `[0]` unscoped, `[1, project_id]`, `[2, domain_id]`, `[3]` system (`all`), `[4, trust_id, project_id]` |
//! | 4 | `issued_at`  | int, microseconds since the Unix epoch |
//! | 5 | `expires_at` | int, microseconds after `issued_at` |
//! | 6 | `audit_ids`  | array; each bin 16 when it is the url-safe base64 of 16 bytes (what [`new_audit_id`] makes), else str |
//! | 7 | `app_cred_id`| packed id or nil |
//! | 8 | `thumbprint` | str or nil |
//! | 9 | other methods| array of str: the methods outside [`AUTH_METHODS`], in their original order |
//!
//! Fields 7 to 9 are optional and trailing: the array ends after the last one that is not empty, so the common
//! token carries none of them. A packed id is bin 16 for a lowercase 32-hex-digit UUID, bin 17 (`-` then the 16
//! bytes) for a lowercase hyphenated UUID, and a str verbatim for anything else (LDAP or federated user ids).
//! Upstream compresses any string Python's `uuid.UUID` accepts and hands it back as hex; compressing only the
//! canonical spellings instead keeps every id exactly as it went in.
//!
//! Upstream also keeps `issued_at` only in the Fernet timestamp, which has one-second resolution; the payload
//! carries it to the microsecond so that `issued_at` reads back as it was issued (the Fernet timestamp is set to
//! the same second).

use std::fmt;
use std::sync::{Arc, RwLock};

use aes::Aes128;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, SerializeTuple, Serializer};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The Fernet format version byte.
const FERNET_VERSION: u8 = 0x80;
/// Version byte + timestamp.
const HEADER_LEN: usize = 1 + 8;
const IV_LEN: usize = 16;
const HMAC_LEN: usize = 32;
const BLOCK_LEN: usize = 16;
/// Bytes a Fernet token carries besides its ciphertext.
const OVERHEAD_LEN: usize = HEADER_LEN + IV_LEN + HMAC_LEN;

/// Upstream's `[DEFAULT] max_token_size`: longer tokens still work, but some clients store them in 255-character
/// columns, so we say so in the log as Keystone does.
const MAX_TOKEN_SIZE: usize = 255;

/// The version tag of the payload layout this module writes (the module docs describe it).
const PAYLOAD_VERSION: u8 = 1;

/// The authentication methods a token's method bitmask can name, bit *i* for entry *i*. Append only: the
/// position of a method is part of every token issued.
pub const AUTH_METHODS: [&str; 8] = [
    "password",
    "token",
    "application_credential",
    "totp",
    "oauth1",
    "mapped",
    "saml2",
    "external",
];

/// Errors making or reading Fernet tokens and keys.
#[derive(Debug, thiserror::Error)]
pub enum FernetError {
    /// The token is not a Fernet token made with any loaded key: bad encoding, tampered, or its key is gone.
    /// Which of these it was is deliberately not said.
    #[error("Could not recognize Fernet token")]
    InvalidToken,
    /// A formatter was built without keys.
    #[error(
        "no Fernet keys are loaded; create the key repository with `keystone-manage fernet_setup`"
    )]
    NoKeys,
    /// A key is not url-safe base64 of 32 bytes.
    #[error(
        "a Fernet key must be 32 bytes of url-safe base64 (44 characters), got {0} characters"
    )]
    InvalidKey(usize),
    /// The token authenticated but its payload is not one this version understands.
    #[error("Fernet token payload is invalid: {0}")]
    InvalidPayload(String),
    /// The payload could not be encoded (a bug: every `TokenPayload` should encode).
    #[error("could not encode the token payload")]
    EncodePayload(#[source] rmp_serde::encode::Error),
    /// `issued_at` is before the Unix epoch, which the Fernet timestamp cannot express.
    #[error("token issued_at {0} is before 1970 and cannot be put in a Fernet token")]
    IssuedAtOutOfRange(DateTime<Utc>),
    /// `expires_at` is too far from `issued_at` to be represented.
    #[error("token expires_at {expires_at} is out of range for issued_at {issued_at}")]
    ExpiresAtOutOfRange {
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
}

// ---------------------------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------------------------

/// Base64 that accepts a key or token with or without its `=` padding.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A new random Fernet key, from the operating system's generator (as `Fernet.generate_key()`).
pub fn generate_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    key
}

/// A key as it is written to a key repository file: url-safe base64 with padding, 44 characters.
pub fn encode_key(key: &[u8; 32]) -> String {
    URL_SAFE.encode(key)
}

/// Reads a key as written in a key repository file; surrounding whitespace (a trailing newline from an editor or
/// a config management tool) is ignored, as is missing padding.
pub fn decode_key(text: &str) -> Result<[u8; 32], FernetError> {
    let text = text.trim();
    let bytes = URL_SAFE_LENIENT
        .decode(text.as_bytes())
        .map_err(|_| FernetError::InvalidKey(text.len()))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| FernetError::InvalidKey(text.len()))
}

/// A new audit id: 16 random bytes as url-safe base64 without padding, 22 characters (upstream's
/// `random_urlsafe_str`). Every token gets its own; a rescoped token also carries its parent's.
pub fn new_audit_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------------------------
// The Fernet format
// ---------------------------------------------------------------------------------------------------------------

/// One Fernet key, split and with its HMAC and AES key schedules computed once.
#[derive(Clone)]
struct FernetKey {
    signing: HmacSha256,
    encryption: Aes128,
}

impl FernetKey {
    fn new(key: &[u8; 32]) -> Result<Self, FernetError> {
        let (signing, encryption) = key.split_at(16);
        let signing = <HmacSha256 as KeyInit>::new_from_slice(signing)
            .map_err(|_| FernetError::InvalidKey(key.len()))?;
        let encryption =
            Aes128::new_from_slice(encryption).map_err(|_| FernetError::InvalidKey(key.len()))?;
        Ok(Self {
            signing,
            encryption,
        })
    }

    fn encrypt(&self, plaintext: &[u8], timestamp: u64, iv: [u8; IV_LEN]) -> Vec<u8> {
        let ciphertext =
            cbc::Encryptor::<Aes128>::inner_iv_init(self.encryption.clone(), &iv.into())
                .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
        let mut token = Vec::with_capacity(OVERHEAD_LEN + ciphertext.len());
        token.push(FERNET_VERSION);
        token.extend_from_slice(&timestamp.to_be_bytes());
        token.extend_from_slice(&iv);
        token.extend_from_slice(&ciphertext);
        let mut mac = self.signing.clone();
        mac.update(&token);
        token.extend_from_slice(&mac.finalize().into_bytes());
        token
    }

    /// The plaintext of `token` (already base64-decoded and checked for shape), or `None` when this key did not
    /// make it. The HMAC is compared in constant time before anything is decrypted.
    fn decrypt(&self, token: &[u8]) -> Option<Vec<u8>> {
        let (signed, tag) = token.split_at(token.len().checked_sub(HMAC_LEN)?);
        let mut mac = self.signing.clone();
        mac.update(signed);
        mac.verify_slice(tag).ok()?;
        let iv = <[u8; IV_LEN]>::try_from(signed.get(HEADER_LEN..HEADER_LEN + IV_LEN)?).ok()?;
        let ciphertext = signed.get(HEADER_LEN + IV_LEN..)?;
        cbc::Decryptor::<Aes128>::inner_iv_init(self.encryption.clone(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
            .ok()
    }
}

/// Fernet encryption with a primary key and any number of secondary keys, as `cryptography.fernet.MultiFernet`.
/// Also what the credential encryption provider needs.
#[derive(Clone)]
pub struct MultiFernet {
    primary: FernetKey,
    secondaries: Vec<FernetKey>,
}

impl fmt::Debug for MultiFernet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key material.
        f.debug_struct("MultiFernet")
            .field("keys", &(1 + self.secondaries.len()))
            .finish()
    }
}

impl MultiFernet {
    /// Keys in order of preference: the first encrypts, all decrypt (a key repository's `load()` order).
    pub fn new(keys: &[[u8; 32]]) -> Result<Self, FernetError> {
        let (primary, secondaries) = keys.split_first().ok_or(FernetError::NoKeys)?;
        Ok(Self {
            primary: FernetKey::new(primary)?,
            secondaries: secondaries
                .iter()
                .map(FernetKey::new)
                .collect::<Result<_, _>>()?,
        })
    }

    /// How many keys this instance holds.
    pub fn key_count(&self) -> usize {
        1 + self.secondaries.len()
    }

    /// A Fernet token (padded url-safe base64) for `plaintext`, stamped with the current time.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        // A clock before 1970 is not a case worth an error path; such a token would carry time zero.
        self.encrypt_at_time(
            plaintext,
            u64::try_from(Utc::now().timestamp()).unwrap_or(0),
        )
    }

    /// A Fernet token for `plaintext` stamped with `timestamp` (seconds since the Unix epoch).
    pub fn encrypt_at_time(&self, plaintext: &[u8], timestamp: u64) -> String {
        let mut iv = [0u8; IV_LEN];
        OsRng.fill_bytes(&mut iv);
        URL_SAFE.encode(self.primary.encrypt(plaintext, timestamp, iv))
    }

    /// The plaintext of a Fernet token made with any of the keys, primary first. The token's age is not
    /// checked (Keystone checks `expires_at` in the payload instead).
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, FernetError> {
        let data = URL_SAFE
            .decode(token.as_bytes())
            .map_err(|_| FernetError::InvalidToken)?;
        // A ciphertext that is not whole blocks fails the HMAC, or failing that the decryption.
        if data.first() != Some(&FERNET_VERSION) || data.len() < OVERHEAD_LEN + BLOCK_LEN {
            return Err(FernetError::InvalidToken);
        }
        std::iter::once(&self.primary)
            .chain(&self.secondaries)
            .find_map(|key| key.decrypt(&data))
            .ok_or(FernetError::InvalidToken)
    }
}

/// Puts back the `=` padding that [`TokenFormatter::create_token`] strips (upstream's `restore_padding`).
pub fn restore_padding(token: &str) -> String {
    let mut padded = token.to_owned();
    let remainder = token.len() % 4;
    if remainder != 0 {
        padded.extend(std::iter::repeat_n('=', 4 - remainder));
    }
    padded
}

/// When a Fernet token says it was made, to the second, read without checking the token (upstream's
/// `TokenFormatter.creation_time`; only for tokens already validated or for diagnostics).
pub fn creation_time(token: &str) -> Result<DateTime<Utc>, FernetError> {
    let data = URL_SAFE
        .decode(restore_padding(token).as_bytes())
        .map_err(|_| FernetError::InvalidToken)?;
    let timestamp = data
        .get(1..HEADER_LEN)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(u64::from_be_bytes)
        .ok_or(FernetError::InvalidToken)?;
    i64::try_from(timestamp)
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or(FernetError::InvalidToken)
}

// ---------------------------------------------------------------------------------------------------------------
// The payload
// ---------------------------------------------------------------------------------------------------------------

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    Unscoped,
    Project(String),
    Domain(String),
    /// The whole deployment (`"system": {"all": true}`).
    System,
    /// A project, through a trust.
    Trust {
        trust_id: String,
        project_id: String,
    },
}

/// Everything a Fernet token carries; the rest of a token's body (roles, catalog) is looked up on validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPayload {
    pub user_id: String,
    /// Authentication methods. They come back with the [`AUTH_METHODS`] in that list's order and any others
    /// after them in the order given; a repeated method comes back once.
    pub methods: Vec<String>,
    pub scope: TokenScope,
    /// Kept to the microsecond.
    pub expires_at: DateTime<Utc>,
    /// Kept to the microsecond; the Fernet timestamp holds the same second.
    pub issued_at: DateTime<Utc>,
    /// The token's own audit id, then, for a rescoped token, the audit id of the chain it came from.
    pub audit_ids: Vec<String>,
    pub app_cred_id: Option<String>,
    /// The OAuth 2.0 mTLS certificate thumbprint; not issued yet, kept so the format need not change for it.
    pub thumbprint: Option<String>,
}

/// A string as the wire format packs it; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Packed {
    /// 16 bytes that stand for the string: a simple-form UUID in an id field, a random audit id in `audit_ids`.
    Bytes([u8; 16]),
    /// A lowercase hyphenated UUID.
    HyphenatedUuid([u8; 16]),
    Text(String),
}

/// The mark that tells a hyphenated UUID's 17-byte bin apart from the 16 bytes of a simple one.
const HYPHENATED_MARK: u8 = b'-';

impl Packed {
    fn id(id: &str) -> Self {
        if let Ok(uuid) = Uuid::try_parse(id) {
            // Only the spellings that print back identically, so that every id round-trips exactly.
            if uuid.simple().to_string() == id {
                return Self::Bytes(uuid.into_bytes());
            }
            if uuid.hyphenated().to_string() == id {
                return Self::HyphenatedUuid(uuid.into_bytes());
            }
        }
        Self::Text(id.to_owned())
    }

    fn into_id(self) -> String {
        match self {
            Self::Bytes(bytes) => Uuid::from_bytes(bytes).simple().to_string(),
            Self::HyphenatedUuid(bytes) => Uuid::from_bytes(bytes).hyphenated().to_string(),
            Self::Text(text) => text,
        }
    }

    fn audit_id(audit_id: &str) -> Self {
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(audit_id.as_bytes()) {
            if let Ok(bytes) = <[u8; 16]>::try_from(bytes.as_slice()) {
                // The decoder accepts no padding and only canonical trailing bits, so this re-encodes exactly.
                return Self::Bytes(bytes);
            }
        }
        Self::Text(audit_id.to_owned())
    }

    fn into_audit_id(self) -> Result<String, FernetError> {
        match self {
            Self::Bytes(bytes) => Ok(URL_SAFE_NO_PAD.encode(bytes)),
            Self::HyphenatedUuid(_) => Err(FernetError::InvalidPayload(
                "an audit id is packed as a UUID".into(),
            )),
            Self::Text(text) => Ok(text),
        }
    }
}

impl Serialize for Packed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Bytes(bytes) => serializer.serialize_bytes(bytes),
            Self::HyphenatedUuid(bytes) => {
                let mut marked = [HYPHENATED_MARK; 17];
                marked[1..].copy_from_slice(bytes);
                serializer.serialize_bytes(&marked)
            }
            Self::Text(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PackedVisitor;

        impl Visitor<'_> for PackedVisitor {
            type Value = Packed;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, 16 bytes, or '-' and 16 bytes")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Packed, E> {
                Ok(Packed::Text(text.to_owned()))
            }

            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Packed, E> {
                if let Ok(bytes) = <[u8; 16]>::try_from(bytes) {
                    return Ok(Packed::Bytes(bytes));
                }
                match bytes.split_first() {
                    Some((&HYPHENATED_MARK, rest)) if rest.len() == 16 => {
                        <[u8; 16]>::try_from(rest)
                            .map(Packed::HyphenatedUuid)
                            .map_err(E::custom)
                    }
                    _ => Err(E::invalid_length(bytes.len(), &self)),
                }
            }
        }

        deserializer.deserialize_any(PackedVisitor)
    }
}

/// [`TokenScope`] with its ids packed.
#[derive(Debug)]
enum WireScope {
    Unscoped,
    Project(Packed),
    Domain(Packed),
    System,
    Trust {
        trust_id: Packed,
        project_id: Packed,
    },
}

const SCOPE_UNSCOPED: u8 = 0;
const SCOPE_PROJECT: u8 = 1;
const SCOPE_DOMAIN: u8 = 2;
const SCOPE_SYSTEM: u8 = 3;
const SCOPE_TRUST: u8 = 4;

impl Serialize for WireScope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Unscoped | Self::System => {
                let kind = if matches!(self, Self::Unscoped) {
                    SCOPE_UNSCOPED
                } else {
                    SCOPE_SYSTEM
                };
                let mut tuple = serializer.serialize_tuple(1)?;
                tuple.serialize_element(&kind)?;
                tuple.end()
            }
            Self::Project(id) | Self::Domain(id) => {
                let kind = if matches!(self, Self::Project(_)) {
                    SCOPE_PROJECT
                } else {
                    SCOPE_DOMAIN
                };
                let mut tuple = serializer.serialize_tuple(2)?;
                tuple.serialize_element(&kind)?;
                tuple.serialize_element(id)?;
                tuple.end()
            }
            Self::Trust {
                trust_id,
                project_id,
            } => {
                let mut tuple = serializer.serialize_tuple(3)?;
                tuple.serialize_element(&SCOPE_TRUST)?;
                tuple.serialize_element(trust_id)?;
                tuple.serialize_element(project_id)?;
                tuple.end()
            }
        }
    }
}

/// The next element of a sequence that must have one.
fn required<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    what: &'static str,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom(format_args!("the payload has no {what}")))
}

impl<'de> Deserialize<'de> for WireScope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScopeVisitor;

        impl<'de> Visitor<'de> for ScopeVisitor {
            type Value = WireScope;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scope array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireScope, A::Error> {
                let kind: u8 = required(&mut seq, "scope kind")?;
                match kind {
                    SCOPE_UNSCOPED => Ok(WireScope::Unscoped),
                    SCOPE_PROJECT => Ok(WireScope::Project(required(&mut seq, "project id")?)),
                    SCOPE_DOMAIN => Ok(WireScope::Domain(required(&mut seq, "domain id")?)),
                    SCOPE_SYSTEM => Ok(WireScope::System),
                    SCOPE_TRUST => Ok(WireScope::Trust {
                        trust_id: required(&mut seq, "trust id")?,
                        project_id: required(&mut seq, "trust project id")?,
                    }),
                    other => Err(de::Error::custom(format_args!(
                        "unknown scope kind {other}"
                    ))),
                }
            }
        }

        deserializer.deserialize_seq(ScopeVisitor)
    }
}

/// [`TokenPayload`] as the wire format lays it out.
#[derive(Debug)]
struct WirePayload {
    user_id: Packed,
    methods: u32,
    scope: WireScope,
    issued_at: i64,
    expires_in: i64,
    audit_ids: Vec<Packed>,
    app_cred_id: Option<Packed>,
    thumbprint: Option<String>,
    other_methods: Vec<String>,
}

impl WirePayload {
    fn from_payload(payload: &TokenPayload) -> Result<Self, FernetError> {
        let mut methods = 0u32;
        let mut other_methods: Vec<String> = Vec::new();
        for method in &payload.methods {
            match AUTH_METHODS.iter().position(|known| known == method) {
                Some(bit) => methods |= 1 << bit,
                None if other_methods.contains(method) => {}
                None => other_methods.push(method.clone()),
            }
        }
        let scope = match &payload.scope {
            TokenScope::Unscoped => WireScope::Unscoped,
            TokenScope::Project(id) => WireScope::Project(Packed::id(id)),
            TokenScope::Domain(id) => WireScope::Domain(Packed::id(id)),
            TokenScope::System => WireScope::System,
            TokenScope::Trust {
                trust_id,
                project_id,
            } => WireScope::Trust {
                trust_id: Packed::id(trust_id),
                project_id: Packed::id(project_id),
            },
        };
        let issued_at = payload.issued_at.timestamp_micros();
        let expires_in = payload
            .expires_at
            .timestamp_micros()
            .checked_sub(issued_at)
            .ok_or(FernetError::ExpiresAtOutOfRange {
                issued_at: payload.issued_at,
                expires_at: payload.expires_at,
            })?;
        Ok(Self {
            user_id: Packed::id(&payload.user_id),
            methods,
            scope,
            issued_at,
            expires_in,
            audit_ids: payload
                .audit_ids
                .iter()
                .map(|id| Packed::audit_id(id))
                .collect(),
            app_cred_id: payload.app_cred_id.as_deref().map(Packed::id),
            thumbprint: payload.thumbprint.clone(),
            other_methods,
        })
    }

    fn into_payload(self) -> Result<TokenPayload, FernetError> {
        let unknown_bits = self.methods & !((1u32 << AUTH_METHODS.len()) - 1);
        if unknown_bits != 0 {
            return Err(FernetError::InvalidPayload(format!(
                "unknown method bits {unknown_bits:#x}"
            )));
        }
        let mut methods: Vec<String> = AUTH_METHODS
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.methods & (1 << bit) != 0)
            .map(|(_, method)| (*method).to_owned())
            .collect();
        methods.extend(self.other_methods);
        let issued_at = DateTime::from_timestamp_micros(self.issued_at).ok_or_else(|| {
            FernetError::InvalidPayload(format!("issued_at {} is out of range", self.issued_at))
        })?;
        let expires_at = self
            .issued_at
            .checked_add(self.expires_in)
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| {
                FernetError::InvalidPayload(format!(
                    "expires_at +{} is out of range",
                    self.expires_in
                ))
            })?;
        let scope = match self.scope {
            WireScope::Unscoped => TokenScope::Unscoped,
            WireScope::Project(id) => TokenScope::Project(id.into_id()),
            WireScope::Domain(id) => TokenScope::Domain(id.into_id()),
            WireScope::System => TokenScope::System,
            WireScope::Trust {
                trust_id,
                project_id,
            } => TokenScope::Trust {
                trust_id: trust_id.into_id(),
                project_id: project_id.into_id(),
            },
        };
        Ok(TokenPayload {
            user_id: self.user_id.into_id(),
            methods,
            scope,
            expires_at,
            issued_at,
            audit_ids: self
                .audit_ids
                .into_iter()
                .map(Packed::into_audit_id)
                .collect::<Result<_, _>>()?,
            app_cred_id: self.app_cred_id.map(Packed::into_id),
            thumbprint: self.thumbprint,
        })
    }
}

/// The audit ids, as a MessagePack array.
struct AuditIds<'a>(&'a [Packed]);

impl Serialize for AuditIds<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for audit_id in self.0 {
            seq.serialize_element(audit_id)?;
        }
        seq.end()
    }
}

/// Fields 0 to 6 of the array are always there.
const REQUIRED_FIELDS: usize = 7;

impl Serialize for WirePayload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The trailing optional fields stop after the last one in use.
        let optional_fields = if !self.other_methods.is_empty() {
            3
        } else if self.thumbprint.is_some() {
            2
        } else if self.app_cred_id.is_some() {
            1
        } else {
            0
        };
        let mut tuple = serializer.serialize_tuple(REQUIRED_FIELDS + optional_fields)?;
        tuple.serialize_element(&PAYLOAD_VERSION)?;
        tuple.serialize_element(&self.user_id)?;
        tuple.serialize_element(&self.methods)?;
        tuple.serialize_element(&self.scope)?;
        tuple.serialize_element(&self.issued_at)?;
        tuple.serialize_element(&self.expires_in)?;
        tuple.serialize_element(&AuditIds(&self.audit_ids))?;
        if optional_fields >= 1 {
            tuple.serialize_element(&self.app_cred_id)?;
        }
        if optional_fields >= 2 {
            tuple.serialize_element(&self.thumbprint)?;
        }
        if optional_fields >= 3 {
            tuple.serialize_element(&self.other_methods)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for WirePayload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PayloadVisitor;

        impl<'de> Visitor<'de> for PayloadVisitor {
            type Value = WirePayload;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token payload array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WirePayload, A::Error> {
                let version: u64 = required(&mut seq, "version")?;
                if version != u64::from(PAYLOAD_VERSION) {
                    return Err(de::Error::custom(format_args!(
                        "unsupported payload version {version}"
                    )));
                }
                Ok(WirePayload {
                    user_id: required(&mut seq, "user id")?,
                    methods: required(&mut seq, "methods")?,
                    scope: required(&mut seq, "scope")?,
                    issued_at: required(&mut seq, "issued_at")?,
                    expires_in: required(&mut seq, "expires_at")?,
                    audit_ids: required(&mut seq, "audit ids")?,
                    app_cred_id: seq.next_element::<Option<Packed>>()?.flatten(),
                    thumbprint: seq.next_element::<Option<String>>()?.flatten(),
                    other_methods: seq.next_element()?.unwrap_or_default(),
                })
            }
        }

        deserializer.deserialize_seq(PayloadVisitor)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The formatter
// ---------------------------------------------------------------------------------------------------------------

/// Packs [`TokenPayload`]s into Fernet token ids and back, with the keys of a key repository; upstream's
/// `TokenFormatter`. Shared between requests; [`TokenFormatter::reload_keys`] swaps the keys in place after a
/// rotation.
#[derive(Debug)]
pub struct TokenFormatter {
    crypto: RwLock<Arc<MultiFernet>>,
}

impl TokenFormatter {
    /// Keys in a key repository's `load()` order: primary first.
    pub fn new(keys: Vec<[u8; 32]>) -> Result<Self, FernetError> {
        Ok(Self {
            crypto: RwLock::new(Arc::new(MultiFernet::new(&keys)?)),
        })
    }

    /// Replaces the keys (after a rotation); tokens being made or checked meanwhile finish with the old ones.
    pub fn reload_keys(&self, keys: Vec<[u8; 32]>) -> Result<(), FernetError> {
        let crypto = Arc::new(MultiFernet::new(&keys)?);
        // A writer that panicked cannot have left a half-written Arc behind, so a poisoned lock is still sound.
        match self.crypto.write() {
            Ok(mut guard) => *guard = crypto,
            Err(poisoned) => *poisoned.into_inner() = crypto,
        }
        Ok(())
    }

    fn crypto(&self) -> Arc<MultiFernet> {
        match self.crypto.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// A token id for `payload`, encrypted with the primary key, without base64 padding.
    pub fn create_token(&self, payload: &TokenPayload) -> Result<String, FernetError> {
        let timestamp = u64::try_from(payload.issued_at.timestamp())
            .map_err(|_| FernetError::IssuedAtOutOfRange(payload.issued_at))?;
        let wire = WirePayload::from_payload(payload)?;
        let plaintext = rmp_serde::to_vec(&wire).map_err(FernetError::EncodePayload)?;
        let mut token = self.crypto().encrypt_at_time(&plaintext, timestamp);
        // Base64 padding is not URL-safe.
        token.truncate(token.trim_end_matches('=').len());
        if token.len() > MAX_TOKEN_SIZE {
            tracing::info!(
                length = token.len(),
                "Fernet token created with length of {} characters, which exceeds {MAX_TOKEN_SIZE} characters",
                token.len()
            );
        }
        Ok(token)
    }

    /// The payload of a token id made with any loaded key (padded or not). Does not check expiry.
    pub fn validate_token(&self, token: &str) -> Result<TokenPayload, FernetError> {
        let plaintext = self.crypto().decrypt(&restore_padding(token))?;
        let wire: WirePayload = rmp_serde::from_slice(&plaintext)
            .map_err(|error| FernetError::InvalidPayload(error.to_string()))?;
        wire.into_payload()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SPEC_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    const SPEC_TOKEN: &str = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";

    /// Made with Python's `cryptography` 48.0.0:
    /// `Fernet(PYTHON_KEY).encrypt_at_time(b"ferrostack interop: python cryptography Fernet", 1700000000)`.
    const PYTHON_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const PYTHON_TOKEN: &str = "gAAAAABlU_EAmN2Oxyci4KT27-vqrWvd3ckQHGrJB51VrnVf_owSkAMOKbJrZ1aN75Fhd6oMlmiKlMsJMcGAOUIpgYI4ltWIA0oxm8H6qzJy-hLAX3YB2XkyHO__ZqJZmvR6AB3Pwx28";

    fn payload(scope: TokenScope) -> TokenPayload {
        let issued_at = Utc.with_ymd_and_hms(2024, 5, 17, 9, 30, 12).unwrap()
            + chrono::Duration::microseconds(123_456);
        TokenPayload {
            user_id: "0b5a6f1e2c3d4e5f8a9b0c1d2e3f4a5b".into(),
            methods: vec!["password".into()],
            scope,
            expires_at: issued_at + chrono::Duration::hours(1),
            issued_at,
            audit_ids: vec![new_audit_id()],
            app_cred_id: None,
            thumbprint: None,
        }
    }

    fn project_scope() -> TokenScope {
        TokenScope::Project("f5c1d0b0a0e04e5a9c9e8f7d6c5b4a39".into())
    }

    fn formatter(keys: &[[u8; 32]]) -> TokenFormatter {
        TokenFormatter::new(keys.to_vec()).unwrap()
    }

    #[test]
    fn spec_vector_generates() {
        let key = decode_key(SPEC_KEY).unwrap();
        let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
        let token = FernetKey::new(&key)
            .unwrap()
            .encrypt(b"hello", 499_162_800, iv);
        assert_eq!(URL_SAFE.encode(token), SPEC_TOKEN);
    }

    #[test]
    fn spec_vector_verifies() {
        let crypto = MultiFernet::new(&[decode_key(SPEC_KEY).unwrap()]).unwrap();
        assert_eq!(crypto.decrypt(SPEC_TOKEN).unwrap(), b"hello");
        assert_eq!(creation_time(SPEC_TOKEN).unwrap().timestamp(), 499_162_800);
    }

    #[test]
    fn decrypts_a_token_made_by_python_cryptography() {
        let crypto = MultiFernet::new(&[decode_key(PYTHON_KEY).unwrap()]).unwrap();
        assert_eq!(
            crypto.decrypt(PYTHON_TOKEN).unwrap(),
            b"ferrostack interop: python cryptography Fernet"
        );
        assert_eq!(
            creation_time(PYTHON_TOKEN).unwrap().timestamp(),
            1_700_000_000
        );
    }

    #[test]
    fn every_scope_round_trips() {
        let keys = [generate_key()];
        let formatter = formatter(&keys);
        for scope in [
            TokenScope::Unscoped,
            project_scope(),
            TokenScope::Domain("default".into()),
            TokenScope::Domain("3b1c6e0e9d2a4f6b8c7d5e4f3a2b1c0d".into()),
            TokenScope::System,
            TokenScope::Trust {
                trust_id: "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b".into(),
                project_id: "f5c1d0b0a0e04e5a9c9e8f7d6c5b4a39".into(),
            },
        ] {
            let payload = payload(scope);
            let token = formatter.create_token(&payload).unwrap();
            assert_eq!(formatter.validate_token(&token).unwrap(), payload);
        }
    }

    #[test]
    fn every_field_round_trips() {
        let formatter = formatter(&[generate_key()]);
        let mut payload = payload(TokenScope::Trust {
            trust_id: "not-a-uuid trust".into(),
            project_id: "F5C1D0B0A0E04E5A9C9E8F7D6C5B4A39".into(),
        });
        payload.user_id = "d8f2e1c0-b9a8-4765-9432-10fedcba9876".into();
        payload.methods = vec![
            "token".into(),
            "password".into(),
            "kerberos".into(),
            "password".into(),
            "x509".into(),
        ];
        payload.audit_ids = vec![new_audit_id(), "legacy-audit-id".into()];
        payload.app_cred_id = Some("6a5b4c3d2e1f40a9b8c7d6e5f4a3b2c1".into());
        payload.thumbprint = Some("ZmluZ2VycHJpbnQ".into());
        payload.expires_at = payload.issued_at - chrono::Duration::seconds(5);
        let decoded = formatter
            .validate_token(&formatter.create_token(&payload).unwrap())
            .unwrap();
        assert_eq!(decoded.methods, ["password", "token", "kerberos", "x509"]);
        payload.methods = decoded.methods.clone();
        assert_eq!(decoded, payload);

        // Each trailing optional field on its own.
        let mut payload = payload.clone();
        payload.methods = vec!["password".into()];
        payload.thumbprint = None;
        let decoded = formatter
            .validate_token(&formatter.create_token(&payload).unwrap())
            .unwrap();
        assert_eq!(decoded, payload);
        payload.app_cred_id = None;
        payload.thumbprint = Some("thumb".into());
        let decoded = formatter
            .validate_token(&formatter.create_token(&payload).unwrap())
            .unwrap();
        assert_eq!(decoded, payload);
    }

    #[test]
    fn ids_pack_compactly_and_exactly() {
        let simple = "0b5a6f1e2c3d4e5f8a9b0c1d2e3f4a5b";
        let hyphenated = "0b5a6f1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
        assert!(matches!(Packed::id(simple), Packed::Bytes(_)));
        assert!(matches!(Packed::id(hyphenated), Packed::HyphenatedUuid(_)));
        for other in [
            "admin",
            "0B5A6F1E2C3D4E5F8A9B0C1D2E3F4A5B",
            "{0b5a6f1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b}",
            "",
            "ü",
        ] {
            assert_eq!(Packed::id(other), Packed::Text(other.into()), "{other}");
        }
        for id in [simple, hyphenated, "admin"] {
            assert_eq!(Packed::id(id).into_id(), id);
        }
        let audit_id = new_audit_id();
        assert!(matches!(Packed::audit_id(&audit_id), Packed::Bytes(_)));
        assert_eq!(
            Packed::audit_id(&audit_id).into_audit_id().unwrap(),
            audit_id
        );
    }

    #[test]
    fn audit_ids_are_22_url_safe_characters() {
        let audit_id = new_audit_id();
        assert_eq!(audit_id.len(), 22);
        assert!(audit_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(URL_SAFE_NO_PAD.decode(&audit_id).unwrap().len(), 16);
        assert_ne!(audit_id, new_audit_id());
    }

    #[test]
    fn project_token_is_short_and_unpadded() {
        let formatter = formatter(&[generate_key()]);
        let token = formatter.create_token(&payload(project_scope())).unwrap();
        println!("project-scoped token: {} characters", token.len());
        assert!(!token.contains('='));
        assert!(token.len() <= MAX_TOKEN_SIZE, "{}", token.len());
        let mut rescoped = payload(project_scope());
        rescoped.methods = vec!["password".into(), "token".into()];
        rescoped.audit_ids.push(new_audit_id());
        let token = formatter.create_token(&rescoped).unwrap();
        println!("rescoped project token: {} characters", token.len());
        assert!(token.len() <= MAX_TOKEN_SIZE, "{}", token.len());
    }

    #[test]
    fn padding_is_stripped_and_restored() {
        assert_eq!(restore_padding("abcd"), "abcd");
        assert_eq!(restore_padding("abcdef"), "abcdef==");
        assert_eq!(restore_padding("abcdefg"), "abcdefg=");
        assert_eq!(restore_padding(""), "");

        let formatter = formatter(&[generate_key()]);
        let payload = payload(project_scope());
        // Find tokens with each amount of padding; the random IV does not change the length, so vary the
        // payload's length instead.
        let mut padding_seen = [false; 3];
        for extra in 0..6 {
            let mut payload = payload.clone();
            payload.user_id = format!("user{}", "x".repeat(extra));
            let token = formatter.create_token(&payload).unwrap();
            assert!(!token.ends_with('='));
            let padded = restore_padding(&token);
            padding_seen[padded.len() - token.len()] = true;
            assert_eq!(URL_SAFE.decode(&padded).unwrap().len() % 16, HEADER_LEN);
            assert_eq!(formatter.validate_token(&token).unwrap(), payload);
            assert_eq!(formatter.validate_token(&padded).unwrap(), payload);
        }
        assert!(
            padding_seen.iter().filter(|seen| **seen).count() >= 2,
            "{padding_seen:?}"
        );
    }

    #[test]
    fn tampered_tokens_are_rejected() {
        let formatter = formatter(&[generate_key()]);
        let token = formatter.create_token(&payload(project_scope())).unwrap();
        let bytes = URL_SAFE.decode(restore_padding(&token)).unwrap();
        // Every region: version, timestamp, IV, ciphertext, HMAC.
        for position in [
            0,
            3,
            HEADER_LEN + 2,
            HEADER_LEN + IV_LEN + 1,
            bytes.len() - 1,
        ] {
            let mut tampered = bytes.clone();
            tampered[position] ^= 0x01;
            let tampered = URL_SAFE_NO_PAD.encode(&tampered);
            assert!(
                matches!(
                    formatter.validate_token(&tampered),
                    Err(FernetError::InvalidToken)
                ),
                "byte {position}"
            );
        }
        // Truncated, extended, empty, not base64.
        for bad in [
            &token[..token.len() - 4],
            &format!("{token}AAAA"),
            "",
            "not a token!",
            "gAAAAA",
        ] {
            assert!(
                matches!(
                    formatter.validate_token(bad),
                    Err(FernetError::InvalidToken)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_token_from_another_key_is_rejected() {
        let token = formatter(&[generate_key()])
            .create_token(&payload(TokenScope::System))
            .unwrap();
        assert!(matches!(
            formatter(&[generate_key()]).validate_token(&token),
            Err(FernetError::InvalidToken)
        ));
    }

    #[test]
    fn old_keys_validate_until_removed() {
        let (old, new, staged) = (generate_key(), generate_key(), generate_key());
        let token = formatter(&[old, staged])
            .create_token(&payload(project_scope()))
            .unwrap();

        // Rotated: `new` is primary, `old` a secondary; the old token still validates, new tokens use `new`.
        let rotated = formatter(&[new, old, staged]);
        assert!(rotated.validate_token(&token).is_ok());
        let fresh = rotated.create_token(&payload(project_scope())).unwrap();
        assert!(formatter(&[new]).validate_token(&fresh).is_ok());

        // `old` purged: the old token is gone, the fresh one stays valid.
        rotated.reload_keys(vec![new, staged]).unwrap();
        assert!(matches!(
            rotated.validate_token(&token),
            Err(FernetError::InvalidToken)
        ));
        assert!(rotated.validate_token(&fresh).is_ok());
    }

    #[test]
    fn creation_time_is_the_issued_at_second() {
        let formatter = formatter(&[generate_key()]);
        let payload = payload(TokenScope::Unscoped);
        let token = formatter.create_token(&payload).unwrap();
        assert_eq!(
            creation_time(&token).unwrap().timestamp(),
            payload.issued_at.timestamp()
        );
    }

    #[test]
    fn unrepresentable_payloads_are_errors() {
        let formatter = formatter(&[generate_key()]);
        let mut before_epoch = payload(TokenScope::Unscoped);
        before_epoch.issued_at = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap();
        assert!(matches!(
            formatter.create_token(&before_epoch),
            Err(FernetError::IssuedAtOutOfRange(_))
        ));
    }

    #[test]
    fn foreign_payloads_are_invalid() {
        let key = generate_key();
        let formatter = formatter(&[key]);
        let crypto = MultiFernet::new(&[key]).unwrap();
        let mut wire =
            rmp_serde::to_vec(&WirePayload::from_payload(&payload(TokenScope::System)).unwrap())
                .unwrap();
        // [fixarray, version, ...]: claim version 2.
        assert_eq!(wire[1], PAYLOAD_VERSION);
        wire[1] = 2;
        for plaintext in [
            wire,
            b"not msgpack".to_vec(),
            rmp_serde::to_vec(&(1u8, "short")).unwrap(),
        ] {
            let token = crypto.encrypt(&plaintext);
            assert!(
                matches!(
                    formatter.validate_token(&token),
                    Err(FernetError::InvalidPayload(_))
                ),
                "{plaintext:?}"
            );
        }
    }

    #[test]
    fn keys_encode_and_decode() {
        let key = generate_key();
        let text = encode_key(&key);
        assert_eq!(text.len(), 44);
        assert_eq!(decode_key(&text).unwrap(), key);
        assert_eq!(decode_key(&format!("{text}\n")).unwrap(), key);
        assert_eq!(decode_key(text.trim_end_matches('=')).unwrap(), key);
        for bad in [
            "",
            "short",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==",
            "+/ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ] {
            assert!(
                matches!(decode_key(bad), Err(FernetError::InvalidKey(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            TokenFormatter::new(Vec::new()),
            Err(FernetError::NoKeys)
        ));
    }

    #[test]
    fn formatter_is_shareable() {
        fn shareable<T: Send + Sync>() {}
        shareable::<TokenFormatter>();
        shareable::<MultiFernet>();
    }
}
