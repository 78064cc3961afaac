//! IAM quotas and parameter forms, checked at apply time.
//!
//! The numbers are AWS's defaults (IAM User Guide, "IAM and AWS STS quotas"),
//! so a client that works against AWS works here. They are constants rather
//! than replicated settings: every replica must agree on them, and a constant
//! changes only with a release, which is a deliberate compatibility decision.
//! Policy documents are parsed and validated with the IAM policy grammar of
//! `crate::policy` (element names, actions, principals, size as IAM counts
//! it); a policy that the parser of a later release would judge differently
//! must not be accepted by an earlier one in the same cluster, so parser
//! changes that refuse more are a compatibility decision like any change to
//! apply.

use crate::config::error::ConfigError;
use crate::policy::compile::Policy;
use crate::policy::errors::{PolicyError, PolicyErrorCode};
use crate::policy::kind::PolicyKind;

/// Users per account.
pub const USERS_PER_ACCOUNT: usize = 5000;
/// Roles per account (AWS default; adjustable there up to 5000).
pub const ROLES_PER_ACCOUNT: usize = 1000;
/// Customer managed policies per account.
pub const POLICIES_PER_ACCOUNT: usize = 1500;
/// Access keys per user.
pub const ACCESS_KEYS_PER_USER: usize = 2;
/// Managed policies attached to one user or role.
pub const ATTACHED_POLICIES_PER_ENTITY: usize = 10;
/// Versions kept per managed policy.
pub const VERSIONS_PER_POLICY: usize = 5;
/// Tags per user, role, policy or provider.
pub const TAGS_PER_ENTITY: usize = 50;
/// MFA devices in use per user.
pub const MFA_DEVICES_PER_USER: usize = 8;
/// Virtual MFA devices per account (ours: AWS ties it to users × 8).
pub const MFA_DEVICES_PER_ACCOUNT: usize = 5000 * 8;
/// OIDC providers per account.
pub const OIDC_PROVIDERS_PER_ACCOUNT: usize = 100;
/// SAML providers per account.
pub const SAML_PROVIDERS_PER_ACCOUNT: usize = 100;
/// Client ids per OIDC provider.
pub const CLIENT_IDS_PER_OIDC_PROVIDER: usize = 100;
/// Thumbprints per OIDC provider.
pub const THUMBPRINTS_PER_OIDC_PROVIDER: usize = 5;
/// Accounts per cluster (ours: bounds the replicated state).
pub const ACCOUNTS_PER_CLUSTER: usize = 100_000;
/// Regions per cluster (ours).
pub const REGIONS_PER_CLUSTER: usize = 64;
/// Individually denied sessions kept at once (ours: bounds the deny list;
/// entries leave it when the session they deny expires).
pub const DENIED_SESSIONS: usize = 1_000_000;

/// Managed policy document size, non-whitespace characters.
pub const MANAGED_POLICY_SIZE: usize = 6144;
/// Aggregate size of a role's inline policies.
pub const ROLE_INLINE_POLICIES_SIZE: usize = 10_240;
/// Aggregate size of a user's inline policies.
pub const USER_INLINE_POLICIES_SIZE: usize = 2048;
/// Role trust policy size.
pub const TRUST_POLICY_SIZE: usize = 2048;
/// Any policy document parameter, in characters, before anything else is looked at.
pub const POLICY_DOCUMENT_PARAMETER: usize = 131_072;

/// Shortest and longest role maximum session duration, seconds.
pub const MAX_SESSION_DURATION_RANGE: (u32, u32) = (3600, 43_200);
/// The role maximum session duration when none is given, seconds.
pub const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;

/// Checks an IAM user or role name: 1–64 characters of `[\w+=,.@-]`.
pub fn check_principal_name(what: &str, name: &str) -> Result<(), ConfigError> {
    check_word(what, name, 64)
}

/// Checks a policy name (managed or inline): 1–128 characters of `[\w+=,.@-]`.
pub fn check_policy_name(name: &str) -> Result<(), ConfigError> {
    check_word("PolicyName", name, 128)
}

/// Checks a virtual MFA device name: 1–226 characters of `[\w+=,.@-]`.
pub fn check_mfa_name(name: &str) -> Result<(), ConfigError> {
    check_word("VirtualMFADeviceName", name, 226)
}

fn check_word(what: &str, value: &str, max: usize) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.chars().count() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(format!(
            "{what} must be 1 to {max} characters of letters, digits and _+=,.@-"
        )))
    }
}

/// Checks an IAM path: `/` or `/…/` of printable ASCII, at most 512 characters.
pub fn check_path(path: &str) -> Result<(), ConfigError> {
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && path.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "Path must begin and end with / and contain only printable ASCII characters (at most 512)",
        ))
    }
}

/// Checks a description: at most 1000 characters.
pub fn check_description(description: &str) -> Result<(), ConfigError> {
    if description.chars().count() <= 1000 {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "Description must be at most 1000 characters",
        ))
    }
}

/// Checks one tag: key 1–128 characters not starting with `aws:`, value at
/// most 256 characters, both of letters, digits, spaces and `_.:/=+-@`.
pub fn check_tag(key: &str, value: &str) -> Result<(), ConfigError> {
    let allowed = |c: char| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c);
    let key_ok = !key.is_empty()
        && key.chars().count() <= 128
        && key.chars().all(allowed)
        && !key.to_ascii_lowercase().starts_with("aws:");
    let value_ok = value.chars().count() <= 256 && value.chars().all(allowed);
    if key_ok && value_ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(format!("invalid tag {key:?}")))
    }
}

/// Size of a policy document the way IAM counts it (characters, whitespace
/// outside JSON strings not counted): what inline-policy aggregates sum.
pub fn policy_size(document: &str) -> usize {
    crate::policy::kind::policy_size(document)
}

/// Parses and validates a policy document of `kind` with the IAM policy
/// grammar (`crate::policy`), within that kind's size limit.
pub fn check_policy_document(document: &str, kind: PolicyKind) -> Result<(), ConfigError> {
    Policy::parse(kind, document)
        .map(|_| ())
        .map_err(|err| policy_error(&err))
}

/// The refusal for a policy the parser rejected, with AWS's code and words.
fn policy_error(err: &PolicyError) -> ConfigError {
    match (err.code(), err) {
        (PolicyErrorCode::LimitExceeded, PolicyError::SizeLimitExceeded { limit, .. }) => {
            ConfigError::PolicySizeExceeded { limit: *limit }
        }
        (PolicyErrorCode::MalformedPolicyDocument, _) | (PolicyErrorCode::LimitExceeded, _) => {
            ConfigError::MalformedPolicyDocument {
                reason: err.aws_message(),
            }
        }
        (PolicyErrorCode::ValidationError, _) => ConfigError::Validation {
            reason: err.aws_message(),
        },
    }
}

/// Checks an OpenID Connect provider URL and returns its ARN resource form
/// (host and path, without the scheme).
pub fn check_oidc_url(url: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError::invalid("Invalid Open ID Connect Provider URL");
    if url.is_empty() || url.len() > 255 {
        return Err(invalid());
    }
    // Loopback HTTP issuers exist for development clusters; whether a node
    // registers or fetches one is its own configuration's decision (the edge
    // and the fetcher check it), since apply must not depend on a node.
    if url.starts_with("http://") {
        return crate::oidc::issuer::loopback_http_resource(url).ok_or_else(invalid);
    }
    let rest = url.strip_prefix("https://").ok_or_else(invalid)?;
    let host = rest.split('/').next().unwrap_or_default();
    let host_ok = !host.is_empty()
        && !host.contains(':')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let rest_ok = rest
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && b != b'?' && b != b'#');
    if host_ok && rest_ok {
        Ok(rest.trim_end_matches('/').to_owned())
    } else {
        Err(invalid())
    }
}

/// Checks a thumbprint: exactly 40 hexadecimal characters.
pub fn check_thumbprint(thumbprint: &str) -> Result<(), ConfigError> {
    if thumbprint.len() == 40 && thumbprint.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "Thumbprint must be 40 hexadecimal characters",
        ))
    }
}

/// Checks an OIDC client id: 1–255 characters.
pub fn check_client_id(client_id: &str) -> Result<(), ConfigError> {
    if !client_id.is_empty() && client_id.chars().count() <= 255 {
        Ok(())
    } else {
        Err(ConfigError::invalid("ClientID must be 1 to 255 characters"))
    }
}

/// Checks a SAML provider name: 1–128 characters of `[\w._-]`.
pub fn check_saml_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "Name must be 1 to 128 characters of letters, digits and ._-",
        ))
    }
}

/// Checks a SAML metadata document: 1000 to 10,000,000 characters.
pub fn check_saml_metadata(metadata: &str) -> Result<(), ConfigError> {
    if (1000..=10_000_000).contains(&metadata.len()) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "SAMLMetadataDocument must be between 1000 and 10000000 characters",
        ))
    }
}

/// Checks a region name such as `us-east-1`: 1–64 characters of `[a-z0-9-]`.
pub fn check_region_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "region name must be 1 to 64 characters of a-z, 0-9 and -",
        ))
    }
}

/// Checks a generated unique id (`AIDA…`, `AROA…`, `ANPA…`, `AKIA…`): the
/// expected 4-character prefix followed by 12–124 upper-case letters and digits.
pub fn check_unique_id(what: &str, id: &str, prefix: &str) -> Result<(), ConfigError> {
    let ok = id.len() >= 16
        && id.len() <= 128
        && id.starts_with(prefix)
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(format!(
            "{what} must be {prefix} followed by upper-case letters and digits (16 to 128 characters)"
        )))
    }
}

/// Checks an opaque, bounded text field (account names, key ids, algorithm
/// names, addresses): 1 to `max` printable ASCII characters.
pub fn check_token(what: &str, value: &str, max: usize) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(format!(
            "{what} must be 1 to {max} printable ASCII characters"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_tags() {
        let cases: &[(&str, bool)] = &[
            ("admin", true),
            ("a+b=c,d.e@f-g_h", true),
            ("", false),
            ("has space", false),
            ("slash/", false),
            (&"x".repeat(64), true),
            (&"x".repeat(65), false),
        ];
        for (name, ok) in cases {
            assert_eq!(
                check_principal_name("RoleName", name).is_ok(),
                *ok,
                "{name:?}"
            );
        }
        for (path, ok) in [
            ("/", true),
            ("/a/b/", true),
            ("a/", false),
            ("/a", false),
            ("/a b/", false),
        ] {
            assert_eq!(check_path(path).is_ok(), ok, "{path:?}");
        }
        assert!(check_tag("team", "").is_ok());
        assert!(check_tag("aws:reserved", "x").is_err());
        assert!(check_tag("", "x").is_err());
        assert!(check_tag("k", &"v".repeat(257)).is_err());
    }

    #[test]
    fn policy_documents() {
        let good = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        assert_eq!(check_policy_document(good, PolicyKind::Managed), Ok(()));
        assert_eq!(policy_size("{ \"a\" :\n 1 }"), 7);
        let cases: &[(&str, PolicyKind, &str)] = &[
            ("not json", PolicyKind::Managed, "MalformedPolicyDocument"),
            ("[1,2]", PolicyKind::Managed, "MalformedPolicyDocument"),
            (
                r#"{"Version":"2012-10-17"}"#,
                PolicyKind::Managed,
                "MalformedPolicyDocument",
            ),
            (good, PolicyKind::Trust, "MalformedPolicyDocument"),
            ("", PolicyKind::Managed, "ValidationError"),
        ];
        for (document, kind, code) in cases {
            let err = check_policy_document(document, *kind).unwrap_err();
            assert_eq!(err.iam_code(), *code, "{document:?} as {kind:?}: {err}");
        }
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
            "a".repeat(2100)
        );
        assert_eq!(
            check_policy_document(&big, PolicyKind::UserInline),
            Err(ConfigError::PolicySizeExceeded { limit: 2048 })
        );
    }

    #[test]
    fn oidc_urls_and_thumbprints() {
        assert_eq!(
            check_oidc_url("https://token.actions.example.com/").unwrap(),
            "token.actions.example.com"
        );
        assert_eq!(
            check_oidc_url("https://idp.example.com/tenant/v2").unwrap(),
            "idp.example.com/tenant/v2"
        );
        for bad in [
            "http://idp.example.com",
            "https://idp.example.com:8443",
            "https://",
            "https://a b",
        ] {
            assert!(check_oidc_url(bad).is_err(), "{bad}");
        }
        assert!(check_thumbprint(&"a".repeat(40)).is_ok());
        assert!(check_thumbprint(&"g".repeat(40)).is_err());
        assert!(check_thumbprint(&"a".repeat(39)).is_err());
    }

    #[test]
    fn unique_ids() {
        assert!(check_unique_id("RoleId", "AROAABCDEFGHIJKLMNOP", "AROA").is_ok());
        assert!(check_unique_id("RoleId", "AIDAABCDEFGHIJKLMNOP", "AROA").is_err());
        assert!(check_unique_id("RoleId", "AROAabc", "AROA").is_err());
    }
}
