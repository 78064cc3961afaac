//! Condition key names.
//!
//! Key names are case-insensitive (`aws:CurrentTime` = `AWS:currenttime`).
//! The global and STS keys Meridian knows are interned as [`KnownKey`] so
//! that looking one up in a request context compares a small integer, not a
//! string. Tag keys (`aws:PrincipalTag/…`, `aws:RequestTag/…`,
//! `aws:ResourceTag/…`) keep the tag key, compared ignoring ASCII case. Every
//! other key (`saml:sub`, `accounts.google.com:aud`,
//! `oidc.example.com/id/X:sub`, service keys) is kept as written and compared
//! ignoring ASCII case.

/// A global (`aws:`) or STS (`sts:`) condition key known to Meridian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownKey {
    /// `aws:CurrentTime` (date), always present, from the evaluation instant.
    CurrentTime,
    /// `aws:EpochTime` (number/date), always present, from the evaluation instant.
    EpochTime,
    /// `aws:SourceIp` (IP address).
    SourceIp,
    /// `aws:SecureTransport` (bool).
    SecureTransport,
    /// `aws:UserAgent`.
    UserAgent,
    /// `aws:Referer`.
    Referer,
    /// `aws:RequestedRegion`.
    RequestedRegion,
    /// `aws:PrincipalArn`: the user ARN, the *role* ARN of a role session, the
    /// federated-user ARN, or the root ARN.
    PrincipalArn,
    /// `aws:PrincipalAccount`.
    PrincipalAccount,
    /// `aws:PrincipalOrgID`.
    PrincipalOrgId,
    /// `aws:PrincipalOrgPaths` (multi-valued).
    PrincipalOrgPaths,
    /// `aws:PrincipalType` (`Account`, `User`, `FederatedUser`, `AssumedRole`, `Anonymous`).
    PrincipalType,
    /// `aws:PrincipalIsAWSService` (bool).
    PrincipalIsAwsService,
    /// `aws:PrincipalServiceName`.
    PrincipalServiceName,
    /// `aws:PrincipalServiceNamesList` (multi-valued).
    PrincipalServiceNamesList,
    /// `aws:userid`.
    UserId,
    /// `aws:username` (IAM users only).
    Username,
    /// `aws:TokenIssueTime` (date), only with temporary credentials.
    TokenIssueTime,
    /// `aws:MultiFactorAuthPresent` (bool), only with temporary credentials.
    MultiFactorAuthPresent,
    /// `aws:MultiFactorAuthAge` (number of seconds), only if MFA was used.
    MultiFactorAuthAge,
    /// `aws:SourceIdentity`.
    SourceIdentity,
    /// `aws:FederatedProvider`.
    FederatedProvider,
    /// `aws:ViaAWSService` (bool).
    ViaAwsService,
    /// `aws:CalledVia` (multi-valued).
    CalledVia,
    /// `aws:CalledViaFirst`.
    CalledViaFirst,
    /// `aws:CalledViaLast`.
    CalledViaLast,
    /// `aws:SourceArn`.
    SourceArn,
    /// `aws:SourceAccount`.
    SourceAccount,
    /// `aws:SourceOrgID`.
    SourceOrgId,
    /// `aws:SourceOrgPaths` (multi-valued).
    SourceOrgPaths,
    /// `aws:SourceVpc`.
    SourceVpc,
    /// `aws:SourceVpce`.
    SourceVpce,
    /// `aws:VpcSourceIp` (IP address).
    VpcSourceIp,
    /// `aws:TagKeys` (multi-valued): the keys of the tags in the request.
    TagKeys,
    /// `aws:ResourceAccount`.
    ResourceAccount,
    /// `aws:ResourceOrgID`.
    ResourceOrgId,
    /// `aws:ResourceOrgPaths` (multi-valued).
    ResourceOrgPaths,
    /// `sts:ExternalId`.
    ExternalId,
    /// `sts:RoleSessionName`.
    RoleSessionName,
    /// `sts:SourceIdentity`: the source identity being set by this call.
    StsSourceIdentity,
    /// `sts:TransitiveTagKeys` (multi-valued).
    TransitiveTagKeys,
    /// `sts:DurationSeconds` (number).
    DurationSeconds,
    /// `sts:AWSServiceName`.
    AwsServiceName,
    /// `sts:IdentityTokenScope`.
    IdentityTokenScope,
    /// `sts:SubjectMode`.
    SubjectMode,
}

/// Every known key with its canonical spelling.
const KNOWN_KEYS: &[(&str, KnownKey)] = &[
    ("aws:CurrentTime", KnownKey::CurrentTime),
    ("aws:EpochTime", KnownKey::EpochTime),
    ("aws:SourceIp", KnownKey::SourceIp),
    ("aws:SecureTransport", KnownKey::SecureTransport),
    ("aws:UserAgent", KnownKey::UserAgent),
    ("aws:Referer", KnownKey::Referer),
    ("aws:RequestedRegion", KnownKey::RequestedRegion),
    ("aws:PrincipalArn", KnownKey::PrincipalArn),
    ("aws:PrincipalAccount", KnownKey::PrincipalAccount),
    ("aws:PrincipalOrgID", KnownKey::PrincipalOrgId),
    ("aws:PrincipalOrgPaths", KnownKey::PrincipalOrgPaths),
    ("aws:PrincipalType", KnownKey::PrincipalType),
    ("aws:PrincipalIsAWSService", KnownKey::PrincipalIsAwsService),
    ("aws:PrincipalServiceName", KnownKey::PrincipalServiceName),
    (
        "aws:PrincipalServiceNamesList",
        KnownKey::PrincipalServiceNamesList,
    ),
    ("aws:userid", KnownKey::UserId),
    ("aws:username", KnownKey::Username),
    ("aws:TokenIssueTime", KnownKey::TokenIssueTime),
    (
        "aws:MultiFactorAuthPresent",
        KnownKey::MultiFactorAuthPresent,
    ),
    ("aws:MultiFactorAuthAge", KnownKey::MultiFactorAuthAge),
    ("aws:SourceIdentity", KnownKey::SourceIdentity),
    ("aws:FederatedProvider", KnownKey::FederatedProvider),
    ("aws:ViaAWSService", KnownKey::ViaAwsService),
    ("aws:CalledVia", KnownKey::CalledVia),
    ("aws:CalledViaFirst", KnownKey::CalledViaFirst),
    ("aws:CalledViaLast", KnownKey::CalledViaLast),
    ("aws:SourceArn", KnownKey::SourceArn),
    ("aws:SourceAccount", KnownKey::SourceAccount),
    ("aws:SourceOrgID", KnownKey::SourceOrgId),
    ("aws:SourceOrgPaths", KnownKey::SourceOrgPaths),
    ("aws:SourceVpc", KnownKey::SourceVpc),
    ("aws:SourceVpce", KnownKey::SourceVpce),
    ("aws:VpcSourceIp", KnownKey::VpcSourceIp),
    ("aws:TagKeys", KnownKey::TagKeys),
    ("aws:ResourceAccount", KnownKey::ResourceAccount),
    ("aws:ResourceOrgID", KnownKey::ResourceOrgId),
    ("aws:ResourceOrgPaths", KnownKey::ResourceOrgPaths),
    ("sts:ExternalId", KnownKey::ExternalId),
    ("sts:RoleSessionName", KnownKey::RoleSessionName),
    ("sts:SourceIdentity", KnownKey::StsSourceIdentity),
    ("sts:TransitiveTagKeys", KnownKey::TransitiveTagKeys),
    ("sts:DurationSeconds", KnownKey::DurationSeconds),
    ("sts:AWSServiceName", KnownKey::AwsServiceName),
    ("sts:IdentityTokenScope", KnownKey::IdentityTokenScope),
    ("sts:SubjectMode", KnownKey::SubjectMode),
];

impl KnownKey {
    /// The key's canonical spelling, e.g. `aws:SourceIp`.
    pub fn name(self) -> &'static str {
        KNOWN_KEYS
            .iter()
            .find(|(_, key)| *key == self)
            .map_or("", |(name, _)| name)
    }

    /// Looks a key name up, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<KnownKey> {
        KNOWN_KEYS
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, key)| *key)
    }

    /// Every known key, in documentation order.
    pub fn all() -> impl Iterator<Item = KnownKey> {
        KNOWN_KEYS.iter().map(|(_, key)| *key)
    }
}

/// Which tag family a tag key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TagFamily {
    /// `aws:PrincipalTag/…`
    Principal,
    /// `aws:RequestTag/…`
    Request,
    /// `aws:ResourceTag/…`
    Resource,
}

const TAG_PREFIXES: &[(&str, TagFamily)] = &[
    ("aws:PrincipalTag/", TagFamily::Principal),
    ("aws:RequestTag/", TagFamily::Request),
    ("aws:ResourceTag/", TagFamily::Resource),
];

/// A condition key as it appears in a request context (borrowed) or a
/// compiled policy (owned, `S = Box<str>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum KeyName<S> {
    /// A known global or STS key.
    Known(KnownKey),
    /// A tag key of one of the tag families.
    Tag(TagFamily, S),
    /// Any other key, as written.
    Other(S),
}

impl<'a> KeyName<&'a str> {
    /// Classifies a key name without allocating.
    pub(crate) fn classify(name: &'a str) -> KeyName<&'a str> {
        if let Some(known) = KnownKey::from_name(name) {
            return KeyName::Known(known);
        }
        for (prefix, family) in TAG_PREFIXES {
            if let Some(head) = name.get(..prefix.len())
                && head.eq_ignore_ascii_case(prefix)
            {
                return KeyName::Tag(*family, &name[prefix.len()..]);
            }
        }
        KeyName::Other(name)
    }

    pub(crate) fn to_owned_key(&self) -> KeyName<Box<str>> {
        match self {
            KeyName::Known(known) => KeyName::Known(*known),
            KeyName::Tag(family, tag) => KeyName::Tag(*family, Box::from(*tag)),
            KeyName::Other(name) => KeyName::Other(Box::from(*name)),
        }
    }
}

impl<S: AsRef<str>> KeyName<S> {
    /// Whether two key names denote the same key (ASCII case ignored).
    pub(crate) fn same_key<T: AsRef<str>>(&self, other: &KeyName<T>) -> bool {
        match (self, other) {
            (KeyName::Known(a), KeyName::Known(b)) => a == b,
            (KeyName::Tag(fa, a), KeyName::Tag(fb, b)) => {
                fa == fb && a.as_ref().eq_ignore_ascii_case(b.as_ref())
            }
            (KeyName::Other(a), KeyName::Other(b)) => a.as_ref().eq_ignore_ascii_case(b.as_ref()),
            _ => false,
        }
    }
}

/// Whether a policy condition key is acceptable: a non-empty vendor prefix
/// before a `:` and a non-empty name after it (tag families need a tag key).
pub(crate) fn valid_condition_key(name: &str) -> bool {
    match name.split_once(':') {
        Some((vendor, rest)) => {
            let tag_without_key = matches!(
                KeyName::classify(name),
                KeyName::Tag(_, tag) if tag.is_empty()
            );
            !vendor.is_empty() && !rest.is_empty() && !tag_without_key
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_ignore_case_and_round_trip() {
        assert_eq!(
            KnownKey::from_name("AWS:currenttime"),
            Some(KnownKey::CurrentTime)
        );
        assert_eq!(
            KnownKey::from_name("sts:externalid"),
            Some(KnownKey::ExternalId)
        );
        for key in KnownKey::all() {
            assert_eq!(KnownKey::from_name(key.name()), Some(key));
        }
    }

    #[test]
    fn tags_and_other_keys_classify() {
        assert_eq!(
            KeyName::classify("aws:principaltag/Team"),
            KeyName::Tag(TagFamily::Principal, "Team")
        );
        assert!(
            KeyName::classify("aws:RequestTag/team")
                .same_key(&KeyName::classify("AWS:REQUESTTAG/TEAM"))
        );
        assert!(
            !KeyName::classify("aws:RequestTag/team")
                .same_key(&KeyName::classify("aws:ResourceTag/team"))
        );
        assert_eq!(
            KeyName::classify("accounts.google.com:aud"),
            KeyName::Other("accounts.google.com:aud")
        );
    }

    #[test]
    fn condition_keys_need_a_vendor() {
        assert!(valid_condition_key("saml:sub"));
        assert!(valid_condition_key("oidc.example.com/id/ABC:sub"));
        assert!(!valid_condition_key("nocolon"));
        assert!(!valid_condition_key(":x"));
        assert!(!valid_condition_key("aws:"));
        assert!(!valid_condition_key("aws:PrincipalTag/"));
    }
}
