//! Identifiers: account ids, access key ids, the unique ids IAM gives users,
//! roles and policies, and secret access keys.
//!
//! Formats follow AWS (see `STS-API.md` §2.5):
//!
//! * [`AccessKeyId`]: `AKIA` (long-term) or `ASIA` (temporary) and 16 characters
//!   of the base32 alphabet `A–Z2–7`. Characters 4..12 carry the owning
//!   account (`account / 2 + 2^39` as 40 bits, big-endian, in base32) and
//!   character 12 comes from the upper half of the alphabet iff the account id
//!   is odd, so the account is recovered offline ([`AccessKeyId::account`]) —
//!   the layout moto generates and LocalStack decodes. The remaining 39 bits
//!   are random.
//! * [`UniqueId`]: a four-letter kind prefix (`AIDA` user, `AROA` role, …) and
//!   17 random base32 characters, 21 characters in all as AWS shows them.
//! * [`SecretAccessKey`]: 40 characters of the standard base64 alphabet, i.e.
//!   exactly 30 random bytes. Its `Debug`/`Display` are redacted, its memory is
//!   zeroized on drop and equality is constant-time.
//!
//! Generators take their entropy from a [`RandomSource`]; parsers are strict
//! (a string Meridian did not mint cannot parse), bounded and never panic.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::rand::{RandomError, RandomSource};

/// A 12-digit AWS account id, kept as written (leading zeros matter).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId([u8; 12]);

/// Why a string is not an account id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountIdError {
    /// Not exactly twelve ASCII digits.
    #[error("account id must be exactly 12 digits")]
    Malformed,
}

impl AccountId {
    /// Parses exactly twelve ASCII digits.
    pub fn parse(text: &str) -> Result<AccountId, AccountIdError> {
        let bytes: [u8; 12] = text
            .as_bytes()
            .try_into()
            .map_err(|_| AccountIdError::Malformed)?;
        if bytes.iter().all(u8::is_ascii_digit) {
            Ok(AccountId(bytes))
        } else {
            Err(AccountIdError::Malformed)
        }
    }

    /// The account id from its numeric value (`0..=999_999_999_999`).
    pub fn from_u64(value: u64) -> Result<AccountId, AccountIdError> {
        if value > 999_999_999_999 {
            return Err(AccountIdError::Malformed);
        }
        // Written digit by digit: this runs when access key ids are decoded.
        let mut digits = [b'0'; 12];
        let mut rest = value;
        for slot in digits.iter_mut().rev() {
            // `rest % 10` is below 10, so the cast cannot truncate.
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        Ok(AccountId(digits))
    }

    /// The twelve digits.
    pub fn as_str(&self) -> &str {
        // The constructor admits only ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or("000000000000")
    }

    /// The numeric value.
    pub fn as_u64(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |acc, digit| acc * 10 + u64::from(digit - b'0'))
    }
}

impl FromStr for AccountId {
    type Err = AccountIdError;

    fn from_str(text: &str) -> Result<AccountId, AccountIdError> {
        AccountId::parse(text)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.as_str())
    }
}

/// The base32 alphabet AWS uses in key and unique ids (RFC 4648, `A–Z2–7`).
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The value of one base32 character, or `None` outside the alphabet.
const fn base32_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

/// `2^39`: added to `account / 2` so the 40-bit field always has its top bit
/// set, which is why every such key reads `…IA` + `Q`–`Z`/`2`–`7` at index 4.
const ACCOUNT_OFFSET: u64 = 1 << 39;

/// Whether an access key is long-term (an IAM user's or root's) or belongs to
/// a temporary session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKeyKind {
    /// `AKIA…`: a long-term key of an IAM user or of an account's root.
    LongTerm,
    /// `ASIA…`: a key that is only valid together with its session token.
    Temporary,
}

impl AccessKeyKind {
    /// The four-character prefix, `AKIA` or `ASIA`.
    pub const fn prefix(self) -> &'static str {
        match self {
            AccessKeyKind::LongTerm => "AKIA",
            AccessKeyKind::Temporary => "ASIA",
        }
    }
}

/// Why a string is not an access key id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessKeyIdError {
    /// Not exactly 20 characters.
    #[error("access key id must be 20 characters")]
    WrongLength,
    /// Does not start with `AKIA` or `ASIA`.
    #[error("access key id must start with AKIA or ASIA")]
    UnknownPrefix,
    /// A character after the prefix is outside the base32 alphabet `A–Z2–7`.
    #[error("access key id has a character outside A-Z and 2-7")]
    InvalidCharacter,
}

/// An access key id, `AKIA…` or `ASIA…`, 20 characters (see the module docs
/// for the layout).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessKeyId([u8; 20]);

impl AccessKeyId {
    /// The length of every access key id Meridian issues or accepts.
    pub const LEN: usize = 20;

    /// Parses an id: a known prefix followed by 16 base32 characters. Ids
    /// from AWS documentation that use other characters (`AKIAI44QH8DHBEXAMPLE`)
    /// are refused: Meridian never issues them.
    pub fn parse(text: &str) -> Result<AccessKeyId, AccessKeyIdError> {
        let bytes: [u8; 20] = text
            .as_bytes()
            .try_into()
            .map_err(|_| AccessKeyIdError::WrongLength)?;
        if &bytes[..4] != b"AKIA" && &bytes[..4] != b"ASIA" {
            return Err(AccessKeyIdError::UnknownPrefix);
        }
        if bytes[4..].iter().any(|&c| base32_value(c).is_none()) {
            return Err(AccessKeyIdError::InvalidCharacter);
        }
        Ok(AccessKeyId(bytes))
    }

    /// A fresh id of `kind` for `account`, with 39 random bits.
    pub fn generate<R: RandomSource + ?Sized>(
        kind: AccessKeyKind,
        account: &AccountId,
        rng: &mut R,
    ) -> Result<AccessKeyId, RandomError> {
        let mut entropy = [0u8; 5];
        rng.fill(&mut entropy)?;
        Ok(AccessKeyId::from_entropy(kind, account, entropy))
    }

    /// The id of `kind` for `account` whose random part is taken from
    /// `entropy` (39 of its 40 bits are used). `entropy` must come from a
    /// [`RandomSource`]; this exists so that callers drawing many random values
    /// at once (token minting) need a single draw.
    pub fn from_entropy(kind: AccessKeyKind, account: &AccountId, entropy: [u8; 5]) -> AccessKeyId {
        let mut out = [0u8; 20];
        out[..4].copy_from_slice(kind.prefix().as_bytes());
        let field = account.as_u64() / 2 + ACCOUNT_OFFSET;
        for (i, slot) in out[4..12].iter_mut().enumerate() {
            *slot = BASE32_ALPHABET[((field >> (35 - 5 * i)) & 31) as usize];
        }
        let random = entropy
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        // Character 12: the parity bit, then 4 random bits.
        let parity = (account.as_u64() & 1) << 4;
        out[12] = BASE32_ALPHABET[(parity | (random & 0x0f)) as usize];
        // Characters 13..20: 35 more random bits.
        for (i, slot) in out[13..].iter_mut().enumerate() {
            *slot = BASE32_ALPHABET[((random >> (4 + 5 * i)) & 31) as usize];
        }
        AccessKeyId(out)
    }

    /// Long-term or temporary, from the prefix.
    pub fn kind(&self) -> AccessKeyKind {
        if &self.0[..4] == b"ASIA" {
            AccessKeyKind::Temporary
        } else {
            AccessKeyKind::LongTerm
        }
    }

    /// The account encoded in the id (offline, no lookup), or `None` if the id
    /// does not follow the account layout (its top bit is clear, or it decodes
    /// past `999999999999`). Every id Meridian generates decodes.
    pub fn account(&self) -> Option<AccountId> {
        let mut field = 0u64;
        for &c in &self.0[4..12] {
            field = (field << 5) | u64::from(base32_value(c)?);
        }
        let half = field.checked_sub(ACCOUNT_OFFSET)?;
        let odd = u64::from(base32_value(self.0[12])? >= 16);
        AccountId::from_u64(half * 2 + odd).ok()
    }

    /// The id's 16 characters after the prefix packed into 10 bytes (base32
    /// decoded): the compact form the session token header carries.
    pub fn suffix_bytes(&self) -> [u8; 10] {
        let mut out = [0u8; 10];
        // Parsing admitted only base32 characters, so this cannot fail; the
        // fallback keeps the function total anyway.
        if data_encoding::BASE32_NOPAD
            .decode_mut(&self.0[4..], &mut out)
            .is_err()
        {
            out = [0u8; 10];
        }
        out
    }

    /// The id with prefix `kind` whose 16-character suffix encodes `suffix`
    /// (the inverse of [`AccessKeyId::suffix_bytes`]).
    pub fn from_suffix_bytes(kind: AccessKeyKind, suffix: &[u8; 10]) -> AccessKeyId {
        let mut out = [0u8; 20];
        out[..4].copy_from_slice(kind.prefix().as_bytes());
        data_encoding::BASE32_NOPAD.encode_mut(suffix, &mut out[4..]);
        AccessKeyId(out)
    }

    /// The 20 characters.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.0).unwrap_or("AKIAINVALIDINVALIDID")
    }
}

impl FromStr for AccessKeyId {
    type Err = AccessKeyIdError;

    fn from_str(text: &str) -> Result<AccessKeyId, AccessKeyIdError> {
        AccessKeyId::parse(text)
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessKeyId({})", self.as_str())
    }
}

/// The kinds of IAM unique id and their prefixes (`STS-API.md` §2.5). Access
/// keys have their own type, [`AccessKeyId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniqueIdKind {
    /// `AIDA`: an IAM user.
    User,
    /// `AROA`: an IAM role.
    Role,
    /// `ANPA`: a managed policy.
    ManagedPolicy,
    /// `ANVA`: a managed policy version.
    PolicyVersion,
    /// `AGPA`: an IAM group.
    Group,
    /// `AIPA`: an instance profile.
    InstanceProfile,
    /// `APKA`: a public key.
    PublicKey,
    /// `ASCA`: a certificate.
    Certificate,
    /// `ABIA`: an STS bearer token.
    BearerToken,
    /// `ACCA`: a context-specific credential.
    ContextCredential,
}

impl UniqueIdKind {
    /// Every kind, for parsing and tests.
    pub const ALL: [UniqueIdKind; 10] = [
        UniqueIdKind::User,
        UniqueIdKind::Role,
        UniqueIdKind::ManagedPolicy,
        UniqueIdKind::PolicyVersion,
        UniqueIdKind::Group,
        UniqueIdKind::InstanceProfile,
        UniqueIdKind::PublicKey,
        UniqueIdKind::Certificate,
        UniqueIdKind::BearerToken,
        UniqueIdKind::ContextCredential,
    ];

    /// The four-character prefix.
    pub const fn prefix(self) -> &'static str {
        match self {
            UniqueIdKind::User => "AIDA",
            UniqueIdKind::Role => "AROA",
            UniqueIdKind::ManagedPolicy => "ANPA",
            UniqueIdKind::PolicyVersion => "ANVA",
            UniqueIdKind::Group => "AGPA",
            UniqueIdKind::InstanceProfile => "AIPA",
            UniqueIdKind::PublicKey => "APKA",
            UniqueIdKind::Certificate => "ASCA",
            UniqueIdKind::BearerToken => "ABIA",
            UniqueIdKind::ContextCredential => "ACCA",
        }
    }

    fn from_prefix(prefix: &[u8]) -> Option<UniqueIdKind> {
        UniqueIdKind::ALL
            .into_iter()
            .find(|kind| kind.prefix().as_bytes() == prefix)
    }
}

/// Why a string is not a unique id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UniqueIdError {
    /// Shorter than 16 or longer than 128 characters (AWS's bounds).
    #[error("unique id must be 16 to 128 characters")]
    WrongLength,
    /// The first four characters are not a known kind prefix.
    #[error("unique id has an unknown prefix")]
    UnknownPrefix,
    /// A character is not an upper-case ASCII letter or digit.
    #[error("unique id may only contain A-Z and 0-9")]
    InvalidCharacter,
}

/// An IAM unique id such as `AROAIDPPEZS35WEXAMPLE`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UniqueId(Box<str>);

impl UniqueId {
    /// The longest unique id AWS allows.
    pub const MAX_LEN: usize = 128;
    /// The length of the ids Meridian generates (as AWS's: 4 + 17).
    pub const GENERATED_LEN: usize = 21;

    /// A fresh id of `kind`: the prefix and 17 random base32 characters.
    pub fn generate<R: RandomSource + ?Sized>(
        kind: UniqueIdKind,
        rng: &mut R,
    ) -> Result<UniqueId, RandomError> {
        let mut entropy = [0u8; 17];
        rng.fill(&mut entropy)?;
        let mut text = String::with_capacity(UniqueId::GENERATED_LEN);
        text.push_str(kind.prefix());
        // 256 is a multiple of 32, so `b & 31` is uniform.
        text.extend(
            entropy
                .iter()
                .map(|&b| char::from(BASE32_ALPHABET[usize::from(b & 31)])),
        );
        Ok(UniqueId(text.into_boxed_str()))
    }

    /// Parses an id: a known prefix followed by upper-case letters and digits,
    /// 16 to 128 characters in all (AWS's documentation examples such as
    /// `AROA123EXAMPLE123` parse; so does everything Meridian generates).
    pub fn parse(text: &str) -> Result<UniqueId, UniqueIdError> {
        let bytes = text.as_bytes();
        if !(16..=UniqueId::MAX_LEN).contains(&bytes.len()) {
            return Err(UniqueIdError::WrongLength);
        }
        UniqueIdKind::from_prefix(&bytes[..4]).ok_or(UniqueIdError::UnknownPrefix)?;
        if !bytes
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(UniqueIdError::InvalidCharacter);
        }
        Ok(UniqueId(text.into()))
    }

    /// The kind, from the prefix.
    pub fn kind(&self) -> UniqueIdKind {
        // Parsing and generation admit only known prefixes.
        UniqueIdKind::from_prefix(&self.0.as_bytes()[..4]).unwrap_or(UniqueIdKind::User)
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UniqueId {
    type Err = UniqueIdError;

    fn from_str(text: &str) -> Result<UniqueId, UniqueIdError> {
        UniqueId::parse(text)
    }
}

impl fmt::Display for UniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UniqueId({})", self.0)
    }
}

/// Why a string is not a secret access key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretAccessKeyError {
    /// Not exactly 40 characters of the standard base64 alphabet.
    #[error("secret access key must be 40 characters of A-Z, a-z, 0-9, + and /")]
    Malformed,
}

/// A secret access key: 40 characters of `A–Za–z0–9+/`, which is exactly the
/// base64 form of 30 random bytes.
///
/// `Debug` and `Display` print `<redacted>`; the text is reachable only
/// through [`SecretAccessKey::expose_secret`]. Equality is constant-time and
/// the memory is zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretAccessKey([u8; 40]);

impl SecretAccessKey {
    /// The length of the text form.
    pub const LEN: usize = 40;
    /// The length of the raw form: 40 base64 characters carry 30 bytes.
    pub const RAW_LEN: usize = 30;

    /// A fresh secret: 240 random bits.
    pub fn generate<R: RandomSource + ?Sized>(rng: &mut R) -> Result<SecretAccessKey, RandomError> {
        let mut raw = Zeroizing::new([0u8; SecretAccessKey::RAW_LEN]);
        rng.fill(raw.as_mut())?;
        Ok(SecretAccessKey::from_raw(&raw))
    }

    /// The secret whose raw form is `raw` (the inverse of [`SecretAccessKey::to_raw`]).
    pub fn from_raw(raw: &[u8; SecretAccessKey::RAW_LEN]) -> SecretAccessKey {
        let mut out = [0u8; 40];
        // 30 bytes encode to exactly 40 characters without padding.
        if BASE64.encode_slice(raw, &mut out).is_err() {
            out.zeroize();
        }
        SecretAccessKey(out)
    }

    /// Parses the 40-character text form.
    pub fn parse(text: &str) -> Result<SecretAccessKey, SecretAccessKeyError> {
        let bytes: [u8; 40] = text
            .as_bytes()
            .try_into()
            .map_err(|_| SecretAccessKeyError::Malformed)?;
        let key = SecretAccessKey(bytes);
        let valid = key
            .0
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if valid {
            Ok(key)
        } else {
            Err(SecretAccessKeyError::Malformed)
        }
    }

    /// The 30 bytes the text encodes (the compact form sealed in session tokens).
    pub fn to_raw(&self) -> Zeroizing<[u8; SecretAccessKey::RAW_LEN]> {
        let mut raw = Zeroizing::new([0u8; SecretAccessKey::RAW_LEN]);
        // Every 40-character string of the alphabet decodes to 30 bytes; the
        // alphabet is checked on construction.
        if BASE64.decode_slice(self.0, raw.as_mut()).is_err() {
            raw.zeroize();
        }
        raw
    }

    /// The secret's text, for signing and for returning it to its owner once.
    /// Never log it.
    pub fn expose_secret(&self) -> &str {
        // Only ASCII from the base64 alphabet is ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl ConstantTimeEq for SecretAccessKey {
    fn ct_eq(&self, other: &SecretAccessKey) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for SecretAccessKey {
    fn eq(&self, other: &SecretAccessKey) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretAccessKey {}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(<redacted>)")
    }
}

impl fmt::Display for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twelve_digits_only() {
        let id = AccountId::parse("012345678901").unwrap();
        assert_eq!(id.as_str(), "012345678901");
        assert_eq!(id.as_u64(), 12_345_678_901);
        assert_eq!(AccountId::from_u64(12_345_678_901).unwrap(), id);
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "١٢٣٤٥٦٧٨٩٠١٢",
        ] {
            assert_eq!(
                AccountId::parse(bad),
                Err(AccountIdError::Malformed),
                "{bad}"
            );
        }
        assert!(AccountId::from_u64(1_000_000_000_000).is_err());
        assert_eq!(AccountId::from_u64(0).unwrap().as_str(), "000000000000");
        assert_eq!(
            AccountId::from_u64(999_999_999_999).unwrap().as_str(),
            "999999999999"
        );
    }
}
