//! SAML 2.0 for `AssumeRoleWithSAML`: IdP metadata, response verification,
//! and the AWS attributes of an assertion.
//!
//! * [`metadata`]: the signing certificates and entity id of a provider's
//!   metadata, with a verifier prepared once per provider;
//! * [`response`]: verifying a base64 `SAMLResponse` so that signature
//!   wrapping, comment injection, DTDs and weak algorithms cannot work, then
//!   reading only the assertion the signature covers;
//! * this file: the verified assertion, the AWS attributes
//!   (`https://aws.amazon.com/SAML/Attributes/…`), the `saml:*` condition
//!   keys and outputs (`SubjectType`, `NameQualifier`), and the errors with
//!   the AWS code each answers with.
//!
//! XML-DSig and canonicalisation are bergshamra's (pure Rust, aws-lc
//! backend, DEPENDENCIES.md §3); what is here is the thin SAML layer on top
//! of it. Everything is pure: time is an argument, and replay protection (an
//! assertion-ID cache) belongs to the node that answers.

pub mod metadata;
pub mod response;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

pub use metadata::{IdpMetadata, MetadataError};
pub use response::{Expectations, verify_response};

use crate::time::Timestamp;

/// The SAML 2.0 assertion namespace.
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The SAML 2.0 protocol namespace.
pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 metadata namespace.
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// The XML-DSig namespace.
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// AWS's service-provider id and sign-in endpoint: the default expected
/// `Audience` and `Recipient`.
pub const AWS_SIGNIN_ENDPOINT: &str = "https://signin.aws.amazon.com/saml";

/// The AWS attribute naming the roles a user may assume (`roleArn,providerArn`
/// pairs, either order).
pub const ATTR_ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
/// The session name.
pub const ATTR_ROLE_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
/// The requested session length in seconds.
pub const ATTR_SESSION_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
/// Prefix of session-tag attributes (`…PrincipalTag:{key}`).
pub const ATTR_PRINCIPAL_TAG: &str = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:";
/// The transitive tag keys.
pub const ATTR_TRANSITIVE_TAG_KEYS: &str =
    "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys";
/// The source identity.
pub const ATTR_SOURCE_IDENTITY: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";

/// Why an assertion is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    /// The base64 text, or the attributes, exceed their limits.
    #[error("the SAML response is too large")]
    TooLarge,
    /// Not valid base64.
    #[error("the SAML response is not valid base64")]
    NotBase64,
    /// The document carries a DOCTYPE or an entity declaration.
    #[error("the SAML response carries a DOCTYPE")]
    Doctype,
    /// Not well-formed XML, not UTF-8, or a required element or attribute is
    /// missing or unparsable.
    #[error("the SAML response is malformed")]
    Malformed,
    /// The document element is not a `samlp:Response`.
    #[error("the document is not a SAML 2.0 Response")]
    NotAResponse,
    /// The Response's status is not `Success`.
    #[error("the SAML response status is not Success")]
    NotSuccess,
    /// The Response holds an `EncryptedAssertion` (not supported: providers
    /// have no private keys here).
    #[error("encrypted assertions are not supported")]
    EncryptedAssertion,
    /// Not exactly one `Assertion`, or it is not a child of the Response.
    #[error("the SAML response must contain exactly one assertion")]
    AssertionCount,
    /// Two elements share an ID.
    #[error("duplicate ID in the SAML response")]
    DuplicateId,
    /// A `Signature` sits somewhere other than the Response or the Assertion.
    #[error("a signature is outside the Response and the Assertion")]
    SignatureMisplaced,
    /// A signature, canonicalisation, digest or transform algorithm outside
    /// the allow-list.
    #[error("a signature uses an algorithm that is not allowed")]
    AlgorithmNotAllowed,
    /// A signature does not verify with the provider's keys, or references
    /// something other than its parent.
    #[error("the SAML response signature is invalid")]
    SignatureInvalid,
    /// No valid signature covers the assertion.
    #[error("the SAML assertion is not signed")]
    Unsigned,
    /// A text value contains a comment, an element or a processing
    /// instruction.
    #[error("a SAML value contains markup")]
    MixedContent,
    /// The `Issuer` is not the provider's entity id.
    #[error("the issuer is not the provider's")]
    IssuerMismatch,
    /// No `AudienceRestriction`, or one that does not name our audience.
    #[error("the assertion is not addressed to this audience")]
    AudienceMismatch,
    /// No bearer confirmation whose `Recipient` is our endpoint.
    #[error("the assertion is not addressed to this recipient")]
    RecipientMismatch,
    /// `NotOnOrAfter` has passed.
    #[error("the assertion has expired")]
    Expired,
    /// `NotBefore` is still ahead.
    #[error("the assertion is not yet valid")]
    NotYetValid,
    /// The assertion was already used on this node.
    #[error("the assertion was already used")]
    Replayed,
    /// The `Role` attribute does not pair the requested role and provider.
    #[error("the assertion does not grant the requested role")]
    RoleNotGranted,
    /// `RoleSessionName` missing or not 2–64 characters of `[\w+=,.@-]`.
    #[error("the RoleSessionName attribute is missing or invalid")]
    InvalidSessionName,
    /// `SessionDuration` is not a number within 900–43200.
    #[error("the SessionDuration attribute is invalid")]
    InvalidSessionDuration,
    /// A `PrincipalTag:*` or `TransitiveTagKeys` attribute is invalid.
    #[error("a session tag attribute is invalid")]
    InvalidTags,
    /// `SourceIdentity` is not 2–64 characters of `[\w+=,.@-]` or starts with
    /// `aws:`.
    #[error("the SourceIdentity attribute is invalid")]
    InvalidSourceIdentity,
}

/// The AWS error code a [`SamlError`] is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamlErrorCode {
    /// `InvalidIdentityToken` (400).
    InvalidIdentityToken,
    /// `ExpiredTokenException` (400).
    ExpiredToken,
}

impl SamlError {
    /// The code AWS answers with.
    pub fn code(self) -> SamlErrorCode {
        match self {
            SamlError::Expired => SamlErrorCode::ExpiredToken,
            _ => SamlErrorCode::InvalidIdentityToken,
        }
    }

    /// The message sent to the client. Where AWS's text is recorded
    /// (STS-API.md §1.5, issue reports) it is used; the others are ours.
    pub fn aws_message(self) -> &'static str {
        match self {
            SamlError::Expired => "Token must be redeemed within 5 minutes of issuance",
            SamlError::IssuerMismatch => "Issuer not present in specified provider",
            SamlError::InvalidSessionName => {
                "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
            }
            SamlError::SignatureInvalid
            | SamlError::Unsigned
            | SamlError::SignatureMisplaced
            | SamlError::AlgorithmNotAllowed
            | SamlError::DuplicateId => "Response signature invalid",
            SamlError::NotYetValid => "Assertion is not yet valid",
            SamlError::AudienceMismatch => "Audience in the SAML assertion is invalid",
            SamlError::RecipientMismatch => "Recipient in the SAML assertion is invalid",
            SamlError::Replayed => "SAML assertion has already been used",
            SamlError::RoleNotGranted => {
                "SAML Assertion doesn't contain the requested Role and Provider ARNs"
            }
            SamlError::InvalidSessionDuration => {
                "SessionDuration in AuthnResponse must be between 900 and 43200 seconds"
            }
            SamlError::InvalidTags => "Session tags in the SAML assertion are invalid",
            SamlError::InvalidSourceIdentity => {
                "SourceIdentity in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
            }
            SamlError::EncryptedAssertion => "Encrypted SAML assertions are not supported",
            SamlError::NotSuccess => "SAML response status is not Success",
            SamlError::TooLarge
            | SamlError::NotBase64
            | SamlError::Doctype
            | SamlError::Malformed
            | SamlError::NotAResponse
            | SamlError::AssertionCount
            | SamlError::MixedContent => "Invalid SAML response",
        }
    }
}

/// Refuses a document type declaration or entity declaration anywhere in
/// the text, before it reaches a parser.
pub(crate) fn check_no_doctype(xml: &str) -> Result<(), SamlError> {
    let bytes = xml.as_bytes();
    let found = bytes.windows(9).any(|w| {
        w[0] == b'<' && w[1] == b'!' && {
            let word = &w[2..];
            word.eq_ignore_ascii_case(b"DOCTYPE") || word[..6].eq_ignore_ascii_case(b"ENTITY")
        }
    });
    if found {
        Err(SamlError::Doctype)
    } else {
        Ok(())
    }
}

/// One `Attribute` of the assertion, values read whole and trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    /// The `Name`.
    pub name: String,
    /// The `AttributeValue`s.
    pub values: Vec<String>,
}

/// An assertion that passed verification and the content checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The assertion's `ID` (the replay-cache key).
    pub id: String,
    /// The `Issuer` (the provider's entity id).
    pub issuer: String,
    /// The `NameID`.
    pub name_id: String,
    /// The `NameID`'s `Format`, if given.
    pub name_id_format: Option<String>,
    /// The audience that matched.
    pub audience: String,
    /// The recipient that matched.
    pub recipient: String,
    /// The earliest `NotOnOrAfter` of the conditions and the confirmation:
    /// the assertion may be used before this instant only (and the replay
    /// cache keeps its id until then).
    pub valid_until: Timestamp,
    /// `AuthnStatement/@SessionNotOnOrAfter`: credentials never outlive it.
    pub session_not_on_or_after: Option<Timestamp>,
    /// Every attribute, in document order.
    pub attributes: Vec<SamlAttribute>,
}

/// The AWS-defined session settings an assertion carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsClaims {
    /// `RoleSessionName`.
    pub session_name: String,
    /// `SessionDuration`, if given.
    pub session_duration: Option<i64>,
    /// `PrincipalTag:{key}` values (a key given twice, in any case, is
    /// refused).
    pub tags: Vec<(String, String)>,
    /// `TransitiveTagKeys` (each must name one of `tags`).
    pub transitive_tag_keys: Vec<String>,
    /// `SourceIdentity`.
    pub source_identity: Option<String>,
}

/// `NameID` formats AWS reports by their short names.
const SHORT_FORMATS: [(&str, &str); 2] = [
    (
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "persistent",
    ),
    (
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        "transient",
    ),
];
/// The format of a `NameID` without one.
const UNSPECIFIED_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// Attributes that answer `saml:*` condition keys, by the attribute names
/// (OIDs) IdPs send them under (IAM User Guide, "Available keys for SAML-based
/// federation").
const ATTRIBUTE_KEYS: [(&str, &str); 19] = [
    ("urn:oid:2.5.4.3", "saml:cn"),
    ("urn:oid:2.5.4.3", "saml:commonName"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
        "saml:edupersonaffiliation",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.11",
        "saml:edupersonassurance",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.7",
        "saml:edupersonentitlement",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.2", "saml:edupersonnickname"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.3", "saml:edupersonorgdn"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.4",
        "saml:edupersonorgunitdn",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.5",
        "saml:edupersonprimaryaffiliation",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.8",
        "saml:edupersonprimaryorgunitdn",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
        "saml:edupersonprincipalname",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
        "saml:edupersonscopedaffiliation",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.10",
        "saml:edupersontargetedid",
    ),
    ("urn:oid:2.5.4.42", "saml:givenName"),
    ("urn:oid:0.9.2342.19200300.100.1.3", "saml:mail"),
    ("urn:oid:2.5.4.41", "saml:name"),
    ("urn:oid:2.5.4.4", "saml:surname"),
    ("urn:oid:0.9.2342.19200300.100.1.1", "saml:uid"),
    ("urn:oid:2.5.4.45", "saml:x500UniqueIdentifier"),
];

impl VerifiedAssertion {
    /// The values of the attribute named `name` (empty when absent).
    pub fn attribute(&self, name: &str) -> &[String] {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map_or(&[], |a| a.values.as_slice())
    }

    /// Whether a `Role` value pairs `role_arn` with `provider_arn` (either
    /// order, comma-separated, surrounding spaces ignored).
    pub fn grants_role(&self, role_arn: &str, provider_arn: &str) -> bool {
        self.attributes
            .iter()
            .filter(|a| a.name == ATTR_ROLE)
            .flat_map(|a| &a.values)
            .any(|value| {
                let mut parts = value.split(',').map(str::trim);
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(b), None) => {
                        (a == role_arn && b == provider_arn) || (a == provider_arn && b == role_arn)
                    }
                    _ => false,
                }
            })
    }

    /// `SubjectType`: `persistent`, `transient`, or the full format URI.
    pub fn subject_type(&self) -> &str {
        let format = self.name_id_format.as_deref().unwrap_or(UNSPECIFIED_FORMAT);
        SHORT_FORMATS
            .iter()
            .find(|(uri, _)| *uri == format)
            .map_or(format, |(_, short)| short)
    }

    /// `NameQualifier`: base64(SHA-1(issuer ‖ account ‖ "/" ‖ provider
    /// name)), AWS's formula — a stable id for "this user of this IdP in this
    /// account".
    pub fn name_qualifier(&self, account: &str, provider_name: &str) -> String {
        let mut context = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
        context.update(self.issuer.as_bytes());
        context.update(account.as_bytes());
        context.update(b"/");
        context.update(provider_name.as_bytes());
        BASE64.encode(context.finish())
    }

    /// The `saml:*` condition keys of the assume call, as `(key, value)`
    /// (multi-valued keys appear once per value). `saml:aud` is the
    /// recipient, as AWS defines it.
    pub fn condition_keys(&self, account: &str, provider_name: &str) -> Vec<(String, String)> {
        let mut keys = vec![
            ("saml:aud".to_owned(), self.recipient.clone()),
            ("saml:iss".to_owned(), self.issuer.clone()),
            ("saml:sub".to_owned(), self.name_id.clone()),
            ("saml:sub_type".to_owned(), self.subject_type().to_owned()),
            (
                "saml:namequalifier".to_owned(),
                self.name_qualifier(account, provider_name),
            ),
            ("saml:doc".to_owned(), format!("{account}/{provider_name}")),
        ];
        for attribute in &self.attributes {
            for (oid, key) in ATTRIBUTE_KEYS {
                let short = key.trim_start_matches("saml:");
                if attribute.name == oid || attribute.name.eq_ignore_ascii_case(short) {
                    keys.extend(
                        attribute
                            .values
                            .iter()
                            .map(|value| (key.to_owned(), value.clone())),
                    );
                }
            }
        }
        keys
    }

    /// The session settings from the AWS attributes.
    pub fn aws_claims(&self) -> Result<AwsClaims, SamlError> {
        let session_name = match self.attribute(ATTR_ROLE_SESSION_NAME) {
            [name] if is_session_name(name) => name.clone(),
            _ => return Err(SamlError::InvalidSessionName),
        };
        let session_duration = match self.attribute(ATTR_SESSION_DURATION) {
            [] => None,
            [text] => Some(
                text.parse::<i64>()
                    .ok()
                    .filter(|seconds| (900..=43_200).contains(seconds))
                    .ok_or(SamlError::InvalidSessionDuration)?,
            ),
            _ => return Err(SamlError::InvalidSessionDuration),
        };
        let mut tags: Vec<(String, String)> = Vec::new();
        for attribute in &self.attributes {
            let Some(key) = attribute.name.strip_prefix(ATTR_PRINCIPAL_TAG) else {
                continue;
            };
            let [value] = attribute.values.as_slice() else {
                return Err(SamlError::InvalidTags);
            };
            let duplicate = tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key));
            if duplicate || !is_tag_key(key) || !is_tag_value(value) || tags.len() >= 50 {
                return Err(SamlError::InvalidTags);
            }
            tags.push((key.to_owned(), value.clone()));
        }
        let mut transitive_tag_keys = Vec::new();
        for value in self.attribute(ATTR_TRANSITIVE_TAG_KEYS) {
            // One value per key, or one comma-separated value.
            for key in value.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if !tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                    return Err(SamlError::InvalidTags);
                }
                transitive_tag_keys.push(key.to_owned());
            }
        }
        let source_identity = match self.attribute(ATTR_SOURCE_IDENTITY) {
            [] => None,
            [value] if is_session_name(value) && !value.starts_with("aws:") => Some(value.clone()),
            _ => return Err(SamlError::InvalidSourceIdentity),
        };
        Ok(AwsClaims {
            session_name,
            session_duration,
            tags,
            transitive_tag_keys,
            source_identity,
        })
    }
}

/// 2–64 characters of `[\w+=,.@-]` (session names and source identities).
fn is_session_name(text: &str) -> bool {
    (2..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// A tag key: 1–128 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn is_tag_key(key: &str) -> bool {
    (1..=128).contains(&key.chars().count()) && key.chars().all(tag_char)
}

/// A tag value: 0–256 characters of the same set.
fn is_tag_value(value: &str) -> bool {
    value.chars().count() <= 256 && value.chars().all(tag_char)
}

fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(attributes: &[(&str, &[&str])]) -> VerifiedAssertion {
        VerifiedAssertion {
            id: "_a1".into(),
            issuer: "https://idp.example.com/metadata".into(),
            name_id: "alice@example.com".into(),
            name_id_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
            audience: AWS_SIGNIN_ENDPOINT.into(),
            recipient: AWS_SIGNIN_ENDPOINT.into(),
            valid_until: Timestamp::from_unix_seconds(1_000),
            session_not_on_or_after: None,
            attributes: attributes
                .iter()
                .map(|(name, values)| SamlAttribute {
                    name: (*name).to_owned(),
                    values: values.iter().map(|v| (*v).to_owned()).collect(),
                })
                .collect(),
        }
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/saml-admin";
    const PROVIDER: &str = "arn:aws:iam::111122223333:saml-provider/corp";

    #[test]
    fn role_pairs_in_either_order() {
        let cases: [(&str, bool); 6] = [
            (
                "arn:aws:iam::111122223333:role/saml-admin,arn:aws:iam::111122223333:saml-provider/corp",
                true,
            ),
            (
                "arn:aws:iam::111122223333:saml-provider/corp,arn:aws:iam::111122223333:role/saml-admin",
                true,
            ),
            (
                " arn:aws:iam::111122223333:role/saml-admin , arn:aws:iam::111122223333:saml-provider/corp ",
                true,
            ),
            ("arn:aws:iam::111122223333:role/saml-admin", false),
            (
                "arn:aws:iam::111122223333:role/other,arn:aws:iam::111122223333:saml-provider/corp",
                false,
            ),
            (
                "arn:aws:iam::111122223333:role/saml-admin,arn:aws:iam::111122223333:saml-provider/corp,x",
                false,
            ),
        ];
        for (value, granted) in cases {
            let a = assertion(&[(ATTR_ROLE, &[value])]);
            assert_eq!(a.grants_role(ROLE, PROVIDER), granted, "{value}");
        }
    }

    #[test]
    fn claims_and_their_refusals() {
        let good = assertion(&[
            (ATTR_ROLE_SESSION_NAME, &["alice@example.com"]),
            (ATTR_SESSION_DURATION, &["1800"]),
            (&format!("{ATTR_PRINCIPAL_TAG}Project"), &["blue"]),
            (&format!("{ATTR_PRINCIPAL_TAG}CostCenter"), &["42"]),
            (ATTR_TRANSITIVE_TAG_KEYS, &["Project"]),
            (ATTR_SOURCE_IDENTITY, &["alice"]),
        ]);
        let claims = good.aws_claims().unwrap();
        assert_eq!(claims.session_name, "alice@example.com");
        assert_eq!(claims.session_duration, Some(1800));
        assert_eq!(claims.tags.len(), 2);
        assert_eq!(claims.transitive_tag_keys, vec!["Project".to_owned()]);
        assert_eq!(claims.source_identity.as_deref(), Some("alice"));

        let name = format!("{ATTR_PRINCIPAL_TAG}Project");
        let name_lower = format!("{ATTR_PRINCIPAL_TAG}project");
        type Case<'a> = (Vec<(&'a str, &'a [&'a str])>, SamlError);
        let bad: Vec<Case<'_>> = vec![
            (vec![], SamlError::InvalidSessionName),
            (
                vec![(ATTR_ROLE_SESSION_NAME, &["a"])],
                SamlError::InvalidSessionName,
            ),
            (
                vec![(ATTR_ROLE_SESSION_NAME, &["a b"])],
                SamlError::InvalidSessionName,
            ),
            (
                vec![(ATTR_ROLE_SESSION_NAME, &["ab", "cd"])],
                SamlError::InvalidSessionName,
            ),
            (
                vec![
                    (ATTR_ROLE_SESSION_NAME, &["ab"]),
                    (ATTR_SESSION_DURATION, &["899"]),
                ],
                SamlError::InvalidSessionDuration,
            ),
            (
                vec![
                    (ATTR_ROLE_SESSION_NAME, &["ab"]),
                    (ATTR_SESSION_DURATION, &["1h"]),
                ],
                SamlError::InvalidSessionDuration,
            ),
            (
                vec![
                    (ATTR_ROLE_SESSION_NAME, &["ab"]),
                    (&name, &["x"]),
                    (&name_lower, &["y"]),
                ],
                SamlError::InvalidTags,
            ),
            (
                vec![
                    (ATTR_ROLE_SESSION_NAME, &["ab"]),
                    (ATTR_TRANSITIVE_TAG_KEYS, &["Nope"]),
                ],
                SamlError::InvalidTags,
            ),
            (
                vec![
                    (ATTR_ROLE_SESSION_NAME, &["ab"]),
                    (ATTR_SOURCE_IDENTITY, &["aws:x"]),
                ],
                SamlError::InvalidSourceIdentity,
            ),
        ];
        for (attributes, error) in bad {
            assert_eq!(
                assertion(&attributes).aws_claims(),
                Err(error),
                "{attributes:?}"
            );
        }
    }

    #[test]
    fn subject_type_and_name_qualifier() {
        let mut a = assertion(&[]);
        assert_eq!(a.subject_type(), "persistent");
        a.name_id_format = Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient".into());
        assert_eq!(a.subject_type(), "transient");
        a.name_id_format = Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into());
        assert_eq!(
            a.subject_type(),
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
        );
        a.name_id_format = None;
        assert_eq!(a.subject_type(), UNSPECIFIED_FORMAT);
        // base64(SHA1("https://idp.example.com/metadata" + "111122223333/corp")),
        // computed independently with `printf %s … | openssl sha1 -binary | base64`.
        assert_eq!(
            a.name_qualifier("111122223333", "corp"),
            "mzeL3GCVqWvmuusFQpUTCAr5RhY="
        );
    }

    #[test]
    fn condition_keys_include_attributes() {
        let a = assertion(&[("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", &["staff", "member"])]);
        let keys = a.condition_keys("111122223333", "corp");
        let get = |key: &str| -> Vec<&str> {
            keys.iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("saml:aud"), vec![AWS_SIGNIN_ENDPOINT]);
        assert_eq!(get("saml:sub"), vec!["alice@example.com"]);
        assert_eq!(get("saml:sub_type"), vec!["persistent"]);
        assert_eq!(get("saml:doc"), vec!["111122223333/corp"]);
        assert_eq!(get("saml:edupersonaffiliation"), vec!["staff", "member"]);
    }

    #[test]
    fn doctype_and_entities_are_found_anywhere() {
        for text in [
            "<!DOCTYPE r><r/>",
            "<?xml version=\"1.0\"?>\n<!doctype r><r/>",
            "<r><!ENTITY x \"y\"></r>",
        ] {
            assert_eq!(check_no_doctype(text), Err(SamlError::Doctype), "{text}");
        }
        assert_eq!(check_no_doctype("<r><!-- DOCTYPE --></r>"), Ok(()));
    }
}
