//! Identifiers: account ids (and, as they are added, access key ids and the
//! unique ids IAM gives users, roles and policies).

use std::fmt;
use std::str::FromStr;

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
        AccountId::parse(&format!("{value:012}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twelve_digits_only() {
        let id = AccountId::parse("012345678901").unwrap();
        assert_eq!(id.as_str(), "012345678901");
        assert_eq!(id.as_u64(), 12_345_678_901);
        assert_eq!(AccountId::from_u64(12_345_678_901).unwrap(), id);
        for bad in ["", "12345678901", "1234567890123", "12345678901a", "١٢٣٤٥٦٧٨٩٠١٢"] {
            assert_eq!(AccountId::parse(bad), Err(AccountIdError::Malformed), "{bad}");
        }
        assert!(AccountId::from_u64(1_000_000_000_000).is_err());
    }
}
