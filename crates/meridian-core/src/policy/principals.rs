//! `Principal` / `NotPrincipal` of resource-based policies (role trust
//! policies first of all): the accepted forms and how a caller matches them.
//!
//! Accepted values (IAM user guide, "AWS JSON policy elements: Principal"):
//!
//! ```text
//! "*"                                   every caller
//! {"AWS": "*"}                          every AWS principal (and anonymous)
//! {"AWS": "123456789012"}               the account  (same as …:root)
//! {"AWS": "arn:P:iam::123456789012:root"}
//! {"AWS": "arn:P:iam::A:user/path/name"}      one user
//! {"AWS": "arn:P:iam::A:role/path/name"}      one role (all its sessions)
//! {"AWS": "arn:P:sts::A:assumed-role/R/S"}    one role session
//! {"AWS": "arn:P:sts::A:federated-user/N"}    one federated user session
//! {"AWS": "AIDA…" | "AROA…"}                  a user/role by unique id
//! {"Federated": "arn:P:iam::A:saml-provider/N" | "…:oidc-provider/host/path"
//!               | "accounts.google.com" | "cognito-identity.amazonaws.com" | …}
//! {"Service": "ec2.amazonaws.com"}
//! {"CanonicalUser": "79a59df9…"}
//! ```
//!
//! No partial wildcards anywhere. A match also says *how* the caller was
//! named, because AWS's rules depend on it: a grant that names the session
//! or the user directly is not limited by implicit denies elsewhere in the
//! same account, one that names the role is limited by the boundary and the
//! session policy, and one that names the account only delegates to the
//! account's own identity policies (see `evaluate.rs`).

use crate::policy::context::Caller;
use crate::policy::errors::{MalformedReason, PolicyError, malformed};

/// How a caller was named by a matching `Principal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalMatch {
    /// `"*"` or `{"AWS": "*"}`.
    Wildcard,
    /// The caller's account (account id or `:root` ARN).
    Account,
    /// The calling IAM user (ARN or unique id).
    User,
    /// The role of the calling role session (ARN or unique id).
    Role,
    /// The calling session itself (assumed-role or federated-user ARN).
    Session,
    /// The IAM user that created the calling federated-user session.
    FederatingUser,
    /// The calling identity provider (`Federated`).
    Federated,
    /// The calling service (`Service`).
    Service,
    /// The calling S3 canonical user.
    CanonicalUser,
}

impl PrincipalMatch {
    /// How directly the caller is named: 3 = the caller itself (not limited by
    /// implicit denies of its own account), 2 = its role or federating user
    /// (limited by boundary and session policy), 1 = its account (its identity
    /// policies must allow too).
    pub(crate) fn strength(self) -> u8 {
        match self {
            PrincipalMatch::Account => 1,
            PrincipalMatch::Role | PrincipalMatch::FederatingUser => 2,
            _ => 3,
        }
    }
}

/// One `AWS` principal value, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AwsPrincipal {
    Account(Box<str>),
    User(Box<str>),
    Role(Box<str>),
    AssumedRole(Box<str>),
    FederatedUser(Box<str>),
    UniqueId(Box<str>),
}

/// A compiled `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PrincipalSpec {
    /// `"Principal": "*"`: every caller.
    wildcard: bool,
    /// `{"AWS": "*"}`: every AWS principal, and anonymous callers.
    aws_wildcard: bool,
    aws: Box<[AwsPrincipal]>,
    federated: Box<[Box<str>]>,
    services: Box<[Box<str>]>,
    canonical_users: Box<[Box<str>]>,
}

/// The principal types of the `Principal` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `AWS`: accounts, users, roles, sessions.
    Aws,
    /// `Federated`: identity providers.
    Federated,
    /// `Service`: AWS service principals.
    Service,
    /// `CanonicalUser`: S3 canonical users.
    CanonicalUser,
}

impl PrincipalType {
    /// Parses a `Principal` object key (case-sensitive, as AWS).
    pub(crate) fn from_key(key: &str) -> Option<PrincipalType> {
        match key {
            "AWS" => Some(PrincipalType::Aws),
            "Federated" => Some(PrincipalType::Federated),
            "Service" => Some(PrincipalType::Service),
            "CanonicalUser" => Some(PrincipalType::CanonicalUser),
            _ => None,
        }
    }

    /// The key as written in policies.
    pub fn key(self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Federated => "Federated",
            PrincipalType::Service => "Service",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }
}

fn invalid(value: &str) -> PolicyError {
    malformed(MalformedReason::InvalidPrincipal {
        principal: value.to_owned(),
    })
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_partition(text: &str) -> bool {
    !text.is_empty()
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A unique id as IAM shows it for users (`AIDA…`) and roles (`AROA…`).
fn is_unique_id(text: &str) -> bool {
    (text.starts_with("AIDA") || text.starts_with("AROA"))
        && (16..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `[\w+=,.@-]` plus `/` (paths), the characters of IAM names and paths.
fn is_iam_name_text(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-' | b'/')
        })
}

/// A host name or identity-provider name: `[A-Za-z0-9.-]` (plus `/` and `_`
/// for OIDC issuer paths).
fn is_host_like(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'/' | b'_'))
}

/// An OIDC provider's ARN resource: host-like, with an optional `:port`
/// after the host for the loopback development issuers of
/// `crate::oidc::issuer` (`127.0.0.1:8080/realm`).
fn is_oidc_provider_resource(text: &str) -> bool {
    let (authority, path) = text.split_once('/').unwrap_or((text, ""));
    let host = match authority.split_once(':') {
        Some((host, port)) => {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            host
        }
        None => authority,
    };
    is_host_like(host) && (path.is_empty() || is_host_like(path))
}

fn compile_aws(value: &str) -> Result<AwsPrincipal, PolicyError> {
    if is_account_id(value) {
        return Ok(AwsPrincipal::Account(Box::from(value)));
    }
    if is_unique_id(value) {
        return Ok(AwsPrincipal::UniqueId(Box::from(value)));
    }
    let mut parts = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid(value));
    };
    if !is_partition(partition) || !is_account_id(account) {
        return Err(invalid(value));
    }
    let (kind, rest) = resource.split_once('/').unwrap_or((resource, ""));
    let compiled = match (service, kind) {
        ("iam", "root") if rest.is_empty() => AwsPrincipal::Account(Box::from(account)),
        ("iam", "user") if is_iam_name_text(rest) => AwsPrincipal::User(Box::from(value)),
        ("iam", "role") if is_iam_name_text(rest) => AwsPrincipal::Role(Box::from(value)),
        ("sts", "assumed-role")
            if rest.split('/').count() == 2 && rest.split('/').all(is_iam_name_text) =>
        {
            AwsPrincipal::AssumedRole(Box::from(value))
        }
        ("sts", "federated-user") if is_iam_name_text(rest) && !rest.contains('/') => {
            AwsPrincipal::FederatedUser(Box::from(value))
        }
        _ => return Err(invalid(value)),
    };
    Ok(compiled)
}

fn compile_federated(value: &str) -> Result<Box<str>, PolicyError> {
    let valid = if let Some(rest) = value.strip_prefix("arn:") {
        let mut parts = rest.splitn(5, ':');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) => {
                is_partition(partition)
                    && is_account_id(account)
                    && (resource
                        .strip_prefix("saml-provider/")
                        .is_some_and(is_iam_name_text)
                        || resource
                            .strip_prefix("oidc-provider/")
                            .is_some_and(is_oidc_provider_resource))
            }
            _ => false,
        }
    } else {
        is_host_like(value)
    };
    if valid {
        Ok(Box::from(value))
    } else {
        Err(invalid(value))
    }
}

impl PrincipalSpec {
    /// `"Principal": "*"`.
    pub(crate) fn wildcard() -> PrincipalSpec {
        PrincipalSpec {
            wildcard: true,
            ..PrincipalSpec::default()
        }
    }

    /// Compiles the `Principal` object's entries.
    pub(crate) fn compile<'t>(
        entries: impl IntoIterator<Item = (PrincipalType, &'t str)>,
    ) -> Result<PrincipalSpec, PolicyError> {
        let mut aws_wildcard = false;
        let mut aws = Vec::new();
        let mut federated = Vec::new();
        let mut services = Vec::new();
        let mut canonical_users = Vec::new();
        for (kind, value) in entries {
            if value == "*" && kind == PrincipalType::Aws {
                aws_wildcard = true;
                continue;
            }
            if value.contains(['*', '?']) {
                return Err(invalid(value));
            }
            match kind {
                PrincipalType::Aws => aws.push(compile_aws(value)?),
                PrincipalType::Federated => federated.push(compile_federated(value)?),
                PrincipalType::Service if is_host_like(value) => services.push(Box::from(value)),
                PrincipalType::CanonicalUser
                    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                {
                    canonical_users.push(Box::from(value))
                }
                _ => return Err(invalid(value)),
            }
        }
        Ok(PrincipalSpec {
            wildcard: false,
            aws_wildcard,
            aws: aws.into_boxed_slice(),
            federated: federated.into_boxed_slice(),
            services: services.into_boxed_slice(),
            canonical_users: canonical_users.into_boxed_slice(),
        })
    }

    /// The most direct way this element names the caller, if it does.
    pub(crate) fn best_match(&self, caller: &Caller<'_>) -> Option<PrincipalMatch> {
        let mut best: Option<PrincipalMatch> = None;
        let mut consider = |found: PrincipalMatch| {
            if best.is_none_or(|current| found.strength() > current.strength()) {
                best = Some(found);
            }
        };
        let aws_caller = caller.account().is_some() || *caller == Caller::Anonymous;
        if self.wildcard || (self.aws_wildcard && aws_caller) {
            consider(PrincipalMatch::Wildcard);
        }
        for principal in self.aws.iter() {
            if let Some(found) = aws_match(principal, caller) {
                consider(found);
            }
        }
        // Provider host names are case-insensitive; provider ARNs have a
        // lowercase host part by construction, so one comparison serves both.
        let named = match *caller {
            Caller::WebIdentity { provider } | Caller::Saml { provider } => self
                .federated
                .iter()
                .any(|name| name.eq_ignore_ascii_case(provider))
                .then_some(PrincipalMatch::Federated),
            Caller::Service { name } => self
                .services
                .iter()
                .any(|service| **service == *name)
                .then_some(PrincipalMatch::Service),
            Caller::CanonicalUser { id } => self
                .canonical_users
                .iter()
                .any(|user| user.eq_ignore_ascii_case(id))
                .then_some(PrincipalMatch::CanonicalUser),
            _ => None,
        };
        if let Some(found) = named {
            consider(found);
        }
        best
    }
}

impl PrincipalSpec {
    /// Whether a `NotPrincipal` with this value leaves the caller out: the
    /// wildcard, or every level of the caller's identity listed — account and
    /// user; account, role and session; account and federated user. AWS
    /// evaluates `NotPrincipal` against each level ("AWS might validate the
    /// account first, then the role, and then the assumed-role user") and
    /// tells authors to list all of them; listing only some leaves the caller
    /// covered, which is the safe reading for a `Deny`.
    pub(crate) fn excludes(&self, caller: &Caller<'_>) -> bool {
        let aws_caller = caller.account().is_some() || *caller == Caller::Anonymous;
        if self.wildcard || (self.aws_wildcard && aws_caller) {
            return true;
        }
        let has = |wanted: &dyn Fn(&AwsPrincipal) -> bool| self.aws.iter().any(wanted);
        let account_listed = |account: &str| {
            has(&|p| matches!(p, AwsPrincipal::Account(listed) if **listed == *account))
        };
        match *caller {
            Caller::Root { account, .. } => account_listed(account),
            Caller::User {
                account,
                arn,
                user_id,
            } => {
                account_listed(account)
                    && has(&|p| match p {
                        AwsPrincipal::User(listed) => **listed == *arn,
                        AwsPrincipal::UniqueId(listed) => Some(&**listed) == user_id,
                        _ => false,
                    })
            }
            Caller::AssumedRole {
                account,
                session_arn,
                role_arn,
                role_id,
            } => {
                account_listed(account)
                    && has(&|p| match p {
                        AwsPrincipal::Role(listed) => **listed == *role_arn,
                        AwsPrincipal::UniqueId(listed) => Some(&**listed) == role_id,
                        _ => false,
                    })
                    && has(
                        &|p| matches!(p, AwsPrincipal::AssumedRole(listed) if **listed == *session_arn),
                    )
            }
            Caller::FederatedUser { account, arn, .. } => {
                account_listed(account)
                    && has(
                        &|p| matches!(p, AwsPrincipal::FederatedUser(listed) if **listed == *arn),
                    )
            }
            Caller::WebIdentity { .. }
            | Caller::Saml { .. }
            | Caller::Service { .. }
            | Caller::CanonicalUser { .. } => self.best_match(caller).is_some(),
            Caller::Anonymous => false,
        }
    }
}

fn aws_match(principal: &AwsPrincipal, caller: &Caller<'_>) -> Option<PrincipalMatch> {
    let same = |expected: &str, actual: &str| expected == actual;
    match (principal, *caller) {
        (AwsPrincipal::Account(account), caller) => caller
            .account()
            .is_some_and(|own| same(account, own))
            .then_some(PrincipalMatch::Account),
        (AwsPrincipal::User(arn), Caller::User { arn: own, .. }) => {
            same(arn, own).then_some(PrincipalMatch::User)
        }
        (
            AwsPrincipal::UniqueId(id),
            Caller::User {
                user_id: Some(own), ..
            },
        ) => same(id, own).then_some(PrincipalMatch::User),
        (AwsPrincipal::Role(arn), Caller::AssumedRole { role_arn, .. }) => {
            same(arn, role_arn).then_some(PrincipalMatch::Role)
        }
        (
            AwsPrincipal::UniqueId(id),
            Caller::AssumedRole {
                role_id: Some(own), ..
            },
        ) => same(id, own).then_some(PrincipalMatch::Role),
        (AwsPrincipal::AssumedRole(arn), Caller::AssumedRole { session_arn, .. }) => {
            same(arn, session_arn).then_some(PrincipalMatch::Session)
        }
        (AwsPrincipal::FederatedUser(arn), Caller::FederatedUser { arn: own, .. }) => {
            same(arn, own).then_some(PrincipalMatch::Session)
        }
        (AwsPrincipal::User(arn), Caller::FederatedUser { issuer_arn, .. }) => {
            same(arn, issuer_arn).then_some(PrincipalMatch::FederatingUser)
        }
        (
            AwsPrincipal::UniqueId(id),
            Caller::FederatedUser {
                issuer_id: Some(own),
                ..
            },
        ) => same(id, own).then_some(PrincipalMatch::FederatingUser),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    fn spec(entries: &[(PrincipalType, &str)]) -> PrincipalSpec {
        PrincipalSpec::compile(entries.iter().copied()).unwrap()
    }

    fn session() -> Caller<'static> {
        Caller::AssumedRole {
            account: ACCOUNT,
            session_arn: "arn:aws:sts::111122223333:assumed-role/admin/alice",
            role_arn: "arn:aws:iam::111122223333:role/ops/admin",
            role_id: Some("AROAEXAMPLEEXAMPLE01"),
        }
    }

    #[test]
    fn names_of_a_role_session_and_their_strength() {
        use PrincipalType::Aws;
        let cases = [
            (vec![(Aws, "111122223333")], Some(PrincipalMatch::Account)),
            (
                vec![(Aws, "arn:aws:iam::111122223333:root")],
                Some(PrincipalMatch::Account),
            ),
            (
                vec![(Aws, "arn:aws:iam::111122223333:role/ops/admin")],
                Some(PrincipalMatch::Role),
            ),
            (vec![(Aws, "arn:aws:iam::111122223333:role/admin")], None),
            (
                vec![(Aws, "AROAEXAMPLEEXAMPLE01")],
                Some(PrincipalMatch::Role),
            ),
            (
                vec![(Aws, "arn:aws:sts::111122223333:assumed-role/admin/alice")],
                Some(PrincipalMatch::Session),
            ),
            (
                vec![(Aws, "arn:aws:sts::111122223333:assumed-role/admin/bob")],
                None,
            ),
            (vec![(Aws, "*")], Some(PrincipalMatch::Wildcard)),
            (vec![(Aws, "444455556666")], None),
            (
                vec![
                    (Aws, "111122223333"),
                    (Aws, "arn:aws:sts::111122223333:assumed-role/admin/alice"),
                ],
                Some(PrincipalMatch::Session),
            ),
        ];
        for (entries, expected) in cases {
            assert_eq!(
                spec(&entries).best_match(&session()),
                expected,
                "{entries:?}"
            );
        }
    }

    #[test]
    fn federated_service_and_wildcard() {
        let google = Caller::WebIdentity {
            provider: "accounts.google.com",
        };
        assert_eq!(
            spec(&[(PrincipalType::Federated, "accounts.google.com")]).best_match(&google),
            Some(PrincipalMatch::Federated)
        );
        assert_eq!(
            spec(&[(PrincipalType::Aws, "111122223333")]).best_match(&google),
            None
        );
        assert_eq!(
            PrincipalSpec::wildcard().best_match(&google),
            Some(PrincipalMatch::Wildcard)
        );
        assert_eq!(spec(&[(PrincipalType::Aws, "*")]).best_match(&google), None);
        assert_eq!(
            spec(&[(PrincipalType::Aws, "*")]).best_match(&Caller::Anonymous),
            Some(PrincipalMatch::Wildcard)
        );
        let ec2 = Caller::Service {
            name: "ec2.amazonaws.com",
        };
        assert_eq!(
            spec(&[(PrincipalType::Service, "ec2.amazonaws.com")]).best_match(&ec2),
            Some(PrincipalMatch::Service)
        );
        assert_eq!(
            spec(&[(PrincipalType::Service, "lambda.amazonaws.com")]).best_match(&ec2),
            None
        );
    }

    #[test]
    fn federated_user_sessions() {
        let caller = Caller::FederatedUser {
            account: ACCOUNT,
            arn: "arn:aws:sts::111122223333:federated-user/bob",
            issuer_arn: "arn:aws:iam::111122223333:user/broker",
            issuer_id: None,
        };
        assert_eq!(
            spec(&[(
                PrincipalType::Aws,
                "arn:aws:sts::111122223333:federated-user/bob"
            )])
            .best_match(&caller),
            Some(PrincipalMatch::Session)
        );
        assert_eq!(
            spec(&[(PrincipalType::Aws, "arn:aws:iam::111122223333:user/broker")])
                .best_match(&caller),
            Some(PrincipalMatch::FederatingUser)
        );
    }

    #[test]
    fn rejects_invalid_principals() {
        for (kind, value) in [
            (PrincipalType::Aws, "arn:aws:iam::111122223333:user/*"),
            (
                PrincipalType::Aws,
                "arn:aws:sts::111122223333:assumed-role/admin/*",
            ),
            (PrincipalType::Aws, "12345"),
            (PrincipalType::Aws, "arn:aws:iam::111122223333:group/devs"),
            (PrincipalType::Aws, "arn:aws:s3:::bucket"),
            (
                PrincipalType::Aws,
                "arn:aws:iam:us-east-1:111122223333:root",
            ),
            (
                PrincipalType::Aws,
                "arn:aws:sts::111122223333:assumed-role/admin",
            ),
            (PrincipalType::Federated, "arn:aws:iam::111122223333:user/x"),
            (PrincipalType::Federated, "*"),
            (PrincipalType::Service, "*"),
            (PrincipalType::Service, "ec2 amazonaws com"),
        ] {
            assert!(
                matches!(
                    PrincipalSpec::compile([(kind, value)]),
                    Err(PolicyError::Malformed(
                        MalformedReason::InvalidPrincipal { .. }
                    ))
                ),
                "{kind:?} {value}"
            );
        }
    }
}
