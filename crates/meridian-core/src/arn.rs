//! Amazon Resource Names.
//!
//! `arn:{partition}:{service}:{region}:{account}:{resource}`. The resource part
//! may itself contain `:` and `/`; only the first five separators split. The
//! partition is configurable per cluster (default `aws`) and every ARN Meridian
//! mints carries it.

use std::fmt;
use std::str::FromStr;

use crate::ids::AccountId;

/// An AWS partition name such as `aws`, `aws-cn` or `aws-us-gov`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition(String);

impl Partition {
    /// The commercial partition, `aws`.
    pub fn aws() -> Partition {
        Partition(String::from("aws"))
    }

    /// Validates a partition name: 1–32 characters of `a-z`, `0-9` and `-`,
    /// starting with a letter.
    pub fn new(name: &str) -> Result<Partition, ArnError> {
        let valid = !name.is_empty()
            && name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Partition(name.to_owned()))
        } else {
            Err(ArnError::InvalidPartition)
        }
    }

    /// The partition's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Partition {
    fn default() -> Partition {
        Partition::aws()
    }
}

impl fmt::Debug for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Partition({})", self.0)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not an ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// The text does not start with `arn:` or has fewer than six `:`-separated parts.
    #[error("not an arn: expected arn:partition:service:region:account:resource")]
    Malformed,
    /// The partition part is empty or has characters a partition cannot have.
    #[error("invalid partition in arn")]
    InvalidPartition,
    /// The service part is empty or has characters a service name cannot have.
    #[error("invalid service in arn")]
    InvalidService,
    /// The resource part is empty.
    #[error("empty resource in arn")]
    EmptyResource,
    /// The ARN is longer than the 2,048 characters AWS allows.
    #[error("arn longer than 2048 characters")]
    TooLong,
}

/// A parsed ARN. Fields are kept as written; matching rules (wildcards, case)
/// belong to the policy evaluator.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arn {
    partition: String,
    service: String,
    region: String,
    account: String,
    resource: String,
}

/// `arn:{partition}:{service}:{region}:{account}:{resource…}` as text, in
/// one allocation: what `Arn::new(…).to_string()` gives for the resource
/// `resource.concat()`, without building the parts (principal ARNs are
/// printed on every authenticated request).
pub fn arn_text(
    partition: &Partition,
    service: &str,
    region: &str,
    account: &str,
    resource: &[&str],
) -> String {
    let head = [
        "arn:",
        partition.as_str(),
        ":",
        service,
        ":",
        region,
        ":",
        account,
        ":",
    ];
    let length = head.iter().chain(resource).map(|part| part.len()).sum();
    let mut text = String::with_capacity(length);
    for part in head.iter().chain(resource) {
        text.push_str(part);
    }
    text
}

/// The longest ARN AWS accepts in any API parameter.
pub const MAX_ARN_LENGTH: usize = 2048;

impl Arn {
    /// Builds an ARN from its parts (not validated beyond what the types say).
    pub fn new(
        partition: &Partition,
        service: &str,
        region: &str,
        account: &str,
        resource: &str,
    ) -> Arn {
        Arn {
            partition: partition.as_str().to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        }
    }

    /// `arn:{p}:iam::{account}:root`, the account's root principal.
    pub fn account_root(partition: &Partition, account: &AccountId) -> Arn {
        Arn::new(partition, "iam", "", account.as_str(), "root")
    }

    /// Parses and validates an ARN.
    pub fn parse(text: &str) -> Result<Arn, ArnError> {
        if text.len() > MAX_ARN_LENGTH {
            return Err(ArnError::TooLong);
        }
        let mut parts = text.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(ArnError::Malformed);
        };
        Partition::new(partition)?;
        let service_ok = !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !service_ok {
            return Err(ArnError::InvalidService);
        }
        if resource.is_empty() {
            return Err(ArnError::EmptyResource);
        }
        Ok(Arn {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        })
    }

    /// The partition, e.g. `aws`.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The service namespace, e.g. `iam`, `sts`, `s3`.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The region; empty for global services such as IAM and STS principals.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account id part; empty for some resources (S3 buckets).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Everything after the fifth `:`, e.g. `role/path/name`.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The resource type: the part of the resource before the first `/` or `:`
    /// (`role` in `role/admin`), or the whole resource when it has neither.
    pub fn resource_type(&self) -> &str {
        match self.resource.find(['/', ':']) {
            Some(end) => &self.resource[..end],
            None => &self.resource,
        }
    }

    /// The last `/`-separated segment of the resource: the name of a role or
    /// user whose path is dropped (`admin` in `role/team/admin`).
    pub fn resource_name(&self) -> &str {
        match self.resource.rfind('/') {
            Some(start) => &self.resource[start + 1..],
            None => &self.resource,
        }
    }
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(text: &str) -> Result<Arn, ArnError> {
        Arn::parse(text)
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

impl fmt::Debug for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Arn({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        for text in [
            "arn:aws:iam::123456789012:role/path/to/admin",
            "arn:aws:sts::123456789012:assumed-role/admin/session@example.com",
            "arn:aws-cn:s3:::bucket/key:with:colons",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::123456789012:root",
        ] {
            let arn = Arn::parse(text).unwrap();
            assert_eq!(arn.to_string(), text);
        }
    }

    #[test]
    fn exposes_parts() {
        let arn = Arn::parse("arn:aws:iam::123456789012:role/team/admin").unwrap();
        assert_eq!(arn.partition(), "aws");
        assert_eq!(arn.service(), "iam");
        assert_eq!(arn.region(), "");
        assert_eq!(arn.account(), "123456789012");
        assert_eq!(arn.resource(), "role/team/admin");
        assert_eq!(arn.resource_type(), "role");
        assert_eq!(arn.resource_name(), "admin");
    }

    #[test]
    fn rejects_malformed_arns() {
        assert_eq!(
            Arn::parse("nothing-valid-in-here"),
            Err(ArnError::Malformed)
        );
        assert_eq!(Arn::parse("arn:aws:iam::123"), Err(ArnError::Malformed));
        assert_eq!(
            Arn::parse("arn::b:::something/test-role"),
            Err(ArnError::InvalidPartition)
        );
        assert_eq!(Arn::parse("arn:aws::::x"), Err(ArnError::InvalidService));
        assert_eq!(Arn::parse("arn:aws:iam::1:"), Err(ArnError::EmptyResource));
        let long = format!("arn:aws:s3:::{}", "a".repeat(MAX_ARN_LENGTH));
        assert_eq!(Arn::parse(&long), Err(ArnError::TooLong));
    }
}
