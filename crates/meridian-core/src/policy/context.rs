//! The request context a policy is evaluated against.
//!
//! A [`RequestContext`] borrows everything: the action, the resource ARN,
//! the caller's identity facts ([`Caller`]) and the condition keys with typed
//! [`Value`]s. Building one copies a few pointers per key into an inline
//! vector (16 entries before it spills to the heap), so it is cheap to build
//! for every request, and evaluating against it allocates nothing.
//!
//! Keys are case-insensitive. A key may be inserted several times to make it
//! multi-valued (`aws:TagKeys`, `sts:TransitiveTagKeys`, `saml:edupersonaffiliation`);
//! a missing key and a key with no values are the same thing. `aws:CurrentTime`
//! and `aws:EpochTime` always come from the evaluation instant given to
//! [`RequestContext::new`].
//!
//! What the caller (the edge or the verifier) must put in: the keys of
//! `STS-API.md` §5.2 that apply to the request. [`RequestContext::with_caller`]
//! derives `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`
//! and, where they need no formatting, `aws:userid` and `aws:username`; the
//! rest (`aws:userid` of sessions, which is `role-id:session-name`,
//! `aws:TokenIssueTime`, MFA keys, tags, provider claims) are inserted
//! explicitly. Session tags override the principal's own tags of the same key
//! (use [`RequestContext::principal_tag`], which replaces), and during trust
//! evaluation incoming transitive tags replace `aws:ResourceTag` values — both
//! are the caller's job because only it knows which tags are which.
//!
//! `Debug` prints key names but never values: `sts:ExternalId` and provider
//! claims must not reach logs.

use std::fmt;
use std::net::IpAddr;

use smallvec::SmallVec;

use crate::policy::keys::{KeyName, KnownKey, TagFamily};
use crate::policy::values::{self, InlineStr};
use crate::time::Timestamp;

/// A typed condition value in a request.
///
/// Operators convert where AWS does: a `String` is parsed for numeric, date,
/// bool and IP operators; typed values are rendered for string operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A string (also the form of ARNs, ids, tag values).
    String(&'a str),
    /// A number (`aws:MultiFactorAuthAge`, `sts:DurationSeconds`).
    Number(f64),
    /// An instant (`aws:TokenIssueTime`).
    Date(Timestamp),
    /// A boolean (`aws:SecureTransport`, `aws:MultiFactorAuthPresent`).
    Bool(bool),
    /// An IP address (`aws:SourceIp`).
    Ip(IpAddr),
    /// Raw bytes, for `BinaryEquals`.
    Binary(&'a [u8]),
}

/// A value rendered as text: borrowed when it already is text, inline
/// otherwise.
pub(crate) enum Rendered<'a> {
    Borrowed(&'a str),
    Inline(InlineStr),
}

impl Rendered<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Rendered::Borrowed(text) => text,
            Rendered::Inline(inline) => inline.as_str(),
        }
    }
}

impl<'a> Value<'a> {
    pub(crate) fn as_number(&self) -> Option<f64> {
        match *self {
            Value::Number(number) => Some(number),
            Value::String(text) => values::parse_number(text),
            // Only `aws:EpochTime`-like uses: an instant as epoch seconds.
            Value::Date(instant) => Some(instant.unix_millis() as f64 / 1000.0),
            Value::Bool(_) | Value::Ip(_) | Value::Binary(_) => None,
        }
    }

    pub(crate) fn as_date(&self) -> Option<Timestamp> {
        match *self {
            Value::Date(instant) => Some(instant),
            Value::String(text) => values::parse_date(text),
            Value::Number(seconds) if seconds.is_finite() => {
                Some(Timestamp::from_unix_millis((seconds * 1000.0) as i64))
            }
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(flag) => Some(flag),
            Value::String(text) => values::parse_bool(text),
            _ => None,
        }
    }

    pub(crate) fn as_ip(&self) -> Option<IpAddr> {
        match *self {
            Value::Ip(ip) => Some(values::normalize_ip(ip)),
            Value::String(text) => text.parse::<IpAddr>().ok().map(values::normalize_ip),
            _ => None,
        }
    }

    pub(crate) fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Binary(bytes) => Some(bytes),
            Value::String(text) => Some(text.as_bytes()),
            _ => None,
        }
    }

    /// The value as text, for string operators and policy variables.
    pub(crate) fn render(&self) -> Rendered<'a> {
        let mut out = InlineStr::new();
        match *self {
            Value::String(text) => return Rendered::Borrowed(text),
            Value::Binary(bytes) => {
                return Rendered::Borrowed(std::str::from_utf8(bytes).unwrap_or(""));
            }
            Value::Bool(true) => return Rendered::Borrowed("true"),
            Value::Bool(false) => return Rendered::Borrowed("false"),
            Value::Number(number) => values::write_number(&mut out, number),
            Value::Date(instant) => values::write_date(&mut out, instant),
            Value::Ip(ip) => {
                use std::fmt::Write as _;
                let _ = write!(out, "{ip}");
            }
        }
        Rendered::Inline(out)
    }
}

/// Who is making the request, as far as `Principal` matching and the
/// same-account/cross-account rules need to know.
///
/// ARNs are passed exactly as Meridian renders them (`crate::principal`):
/// a role ARN keeps its path, an assumed-role session ARN does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// No credentials (only `"Principal": "*"` matches).
    Anonymous,
    /// An account's root user.
    Root {
        /// The 12-digit account id.
        account: &'a str,
        /// `arn:{partition}:iam::{account}:root`.
        arn: &'a str,
    },
    /// An IAM user with long-term keys (or a `GetSessionToken` session of one).
    User {
        /// The 12-digit account id.
        account: &'a str,
        /// `arn:{partition}:iam::{account}:user/{path}{name}`.
        arn: &'a str,
        /// The user's unique id (`AIDA…`), to match trust policies that name
        /// it and to fill `aws:userid`.
        user_id: Option<&'a str>,
    },
    /// A role session (`AssumeRole`, `AssumeRoleWithWebIdentity`,
    /// `AssumeRoleWithSAML`).
    AssumedRole {
        /// The 12-digit account id of the role.
        account: &'a str,
        /// `arn:{partition}:sts::{account}:assumed-role/{role}/{session}`.
        session_arn: &'a str,
        /// `arn:{partition}:iam::{account}:role/{path}{role}`.
        role_arn: &'a str,
        /// The role's unique id (`AROA…`).
        role_id: Option<&'a str>,
    },
    /// A federated user session (`GetFederationToken`).
    FederatedUser {
        /// The 12-digit account id.
        account: &'a str,
        /// `arn:{partition}:sts::{account}:federated-user/{name}`.
        arn: &'a str,
        /// The ARN of the IAM user (or root) that called `GetFederationToken`.
        issuer_arn: &'a str,
        /// That user's unique id.
        issuer_id: Option<&'a str>,
    },
    /// An `AssumeRoleWithWebIdentity` caller: matched by `Federated` against
    /// the provider (`accounts.google.com`, or an `oidc-provider/…` ARN).
    WebIdentity {
        /// The provider name or ARN.
        provider: &'a str,
    },
    /// An `AssumeRoleWithSAML` caller: matched by `Federated` against the
    /// `saml-provider/…` ARN.
    Saml {
        /// The provider ARN.
        provider: &'a str,
    },
    /// An AWS service principal (`ec2.amazonaws.com`).
    Service {
        /// The service principal name.
        name: &'a str,
    },
    /// An S3 canonical user.
    CanonicalUser {
        /// The canonical user id.
        id: &'a str,
    },
}

impl<'a> Caller<'a> {
    /// The account the caller belongs to, for AWS principals.
    pub fn account(&self) -> Option<&'a str> {
        match *self {
            Caller::Root { account, .. }
            | Caller::User { account, .. }
            | Caller::AssumedRole { account, .. }
            | Caller::FederatedUser { account, .. } => Some(account),
            _ => None,
        }
    }

    /// The value of `aws:PrincipalArn`.
    pub fn principal_arn(&self) -> Option<&'a str> {
        match *self {
            Caller::Root { arn, .. }
            | Caller::User { arn, .. }
            | Caller::FederatedUser { arn, .. } => Some(arn),
            Caller::AssumedRole { role_arn, .. } => Some(role_arn),
            _ => None,
        }
    }

    /// The value of `aws:PrincipalType`.
    pub fn principal_type(&self) -> Option<&'static str> {
        match self {
            Caller::Root { .. } => Some("Account"),
            Caller::User { .. } => Some("User"),
            Caller::AssumedRole { .. } => Some("AssumedRole"),
            Caller::FederatedUser { .. } => Some("FederatedUser"),
            Caller::Anonymous => Some("Anonymous"),
            _ => None,
        }
    }
}

/// One condition key with one value.
#[derive(Clone)]
pub(crate) struct Entry<'a> {
    key: KeyName<&'a str>,
    value: Value<'a>,
}

/// The resource ARN, split once into its six parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResourceParts<'a> {
    pub(crate) text: &'a str,
    pub(crate) parts: [&'a str; 6],
    pub(crate) count: usize,
}

impl<'a> ResourceParts<'a> {
    pub(crate) fn split(text: &'a str) -> ResourceParts<'a> {
        let mut parts = [""; 6];
        let mut count = 0;
        for (slot, part) in parts.iter_mut().zip(text.splitn(6, ':')) {
            *slot = part;
            count += 1;
        }
        ResourceParts { text, parts, count }
    }

    /// The account part of an ARN (empty when the text is not an ARN).
    pub(crate) fn account(&self) -> &'a str {
        if self.count == 6 { self.parts[4] } else { "" }
    }
}

/// Everything a policy can ask about a request.
#[derive(Clone)]
pub struct RequestContext<'a> {
    action: &'a str,
    service: &'a str,
    action_name: &'a str,
    resource: Option<ResourceParts<'a>>,
    resource_account: Option<&'a str>,
    now: Timestamp,
    caller: Caller<'a>,
    entries: SmallVec<[Entry<'a>; 16]>,
}

impl<'a> RequestContext<'a> {
    /// A context for `action` (`service:Action`, any case) evaluated at `now`.
    /// The caller starts as [`Caller::Anonymous`] and there is no resource.
    pub fn new(action: &'a str, now: Timestamp) -> RequestContext<'a> {
        let (service, action_name) = action.split_once(':').unwrap_or(("", action));
        RequestContext {
            action,
            service,
            action_name,
            resource: None,
            resource_account: None,
            now,
            caller: Caller::Anonymous,
            entries: SmallVec::new(),
        }
    }

    /// Sets the resource ARN the action is on. Without one, only `"*"`
    /// resource patterns match (the request is treated as being on `*`).
    pub fn with_resource(mut self, arn: &'a str) -> RequestContext<'a> {
        self.resource = Some(ResourceParts::split(arn));
        self
    }

    /// Sets the account that owns the resource, for resources whose ARN has
    /// no account part (S3 buckets and objects). Also sets
    /// `aws:ResourceAccount`. Without it the account is read from the ARN;
    /// when neither gives one, the request counts as cross-account.
    pub fn with_resource_account(mut self, account: &'a str) -> RequestContext<'a> {
        self.resource_account = Some(account);
        self.set_known(KnownKey::ResourceAccount, Value::String(account));
        self
    }

    /// Sets the caller and derives the keys that need no formatting:
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`,
    /// `aws:userid` for users (their unique id) and root (the account id),
    /// `aws:username` for users, `aws:PrincipalIsAWSService` and
    /// `aws:PrincipalServiceName` for services. Removes earlier values of
    /// all these keys first, so call it before inserting `aws:userid` for a
    /// session.
    pub fn with_caller(mut self, caller: Caller<'a>) -> RequestContext<'a> {
        self.caller = caller;
        // A second call must not leave keys of the first caller behind.
        const DERIVED: [KnownKey; 7] = [
            KnownKey::PrincipalArn,
            KnownKey::PrincipalAccount,
            KnownKey::PrincipalType,
            KnownKey::UserId,
            KnownKey::Username,
            KnownKey::PrincipalIsAwsService,
            KnownKey::PrincipalServiceName,
        ];
        self.entries
            .retain(|entry| !matches!(entry.key, KeyName::Known(key) if DERIVED.contains(&key)));
        if let Some(arn) = caller.principal_arn() {
            self.set_known(KnownKey::PrincipalArn, Value::String(arn));
        }
        if let Some(account) = caller.account() {
            self.set_known(KnownKey::PrincipalAccount, Value::String(account));
        }
        if let Some(kind) = caller.principal_type() {
            self.set_known(KnownKey::PrincipalType, Value::String(kind));
        }
        match caller {
            Caller::Root { account, .. } => {
                self.set_known(KnownKey::UserId, Value::String(account));
            }
            Caller::User { arn, user_id, .. } => {
                if let Some(id) = user_id {
                    self.set_known(KnownKey::UserId, Value::String(id));
                }
                let name = arn.rsplit('/').next().unwrap_or(arn);
                self.set_known(KnownKey::Username, Value::String(name));
            }
            Caller::Service { name } => {
                self.set_known(KnownKey::PrincipalIsAwsService, Value::Bool(true));
                self.set_known(KnownKey::PrincipalServiceName, Value::String(name));
            }
            _ => {}
        }
        self
    }

    /// Adds a value for a key (any key name, any case). Inserting the same key
    /// again makes it multi-valued.
    pub fn insert(&mut self, key: &'a str, value: Value<'a>) -> &mut RequestContext<'a> {
        self.entries.push(Entry {
            key: KeyName::classify(key),
            value,
        });
        self
    }

    /// Replaces every value of a key with one value.
    pub fn set(&mut self, key: &'a str, value: Value<'a>) -> &mut RequestContext<'a> {
        self.remove(key);
        self.insert(key, value)
    }

    /// Adds a value for a known key (no name lookup).
    pub fn insert_known(&mut self, key: KnownKey, value: Value<'a>) -> &mut RequestContext<'a> {
        self.entries.push(Entry {
            key: KeyName::Known(key),
            value,
        });
        self
    }

    /// Replaces every value of a known key with one value.
    pub fn set_known(&mut self, key: KnownKey, value: Value<'a>) -> &mut RequestContext<'a> {
        self.entries
            .retain(|entry| entry.key != KeyName::Known(key));
        self.insert_known(key, value)
    }

    /// Removes every value of a key.
    pub fn remove(&mut self, key: &str) -> &mut RequestContext<'a> {
        let key = KeyName::classify(key);
        self.entries.retain(|entry| !entry.key.same_key(&key));
        self
    }

    /// Sets `aws:PrincipalTag/{key}` (replacing a tag whose key differs only
    /// in case, as a session tag replaces a role tag).
    pub fn principal_tag(&mut self, key: &'a str, value: &'a str) -> &mut RequestContext<'a> {
        self.set_tag(TagFamily::Principal, key, value)
    }

    /// Sets `aws:RequestTag/{key}`. `aws:TagKeys` is not derived: insert it.
    pub fn request_tag(&mut self, key: &'a str, value: &'a str) -> &mut RequestContext<'a> {
        self.set_tag(TagFamily::Request, key, value)
    }

    /// Sets `aws:ResourceTag/{key}`.
    pub fn resource_tag(&mut self, key: &'a str, value: &'a str) -> &mut RequestContext<'a> {
        self.set_tag(TagFamily::Resource, key, value)
    }

    fn set_tag(
        &mut self,
        family: TagFamily,
        key: &'a str,
        value: &'a str,
    ) -> &mut RequestContext<'a> {
        let name = KeyName::Tag(family, key);
        self.entries.retain(|entry| !entry.key.same_key(&name));
        self.entries.push(Entry {
            key: name,
            value: Value::String(value),
        });
        self
    }

    /// The action as given.
    pub fn action(&self) -> &'a str {
        self.action
    }

    /// The resource ARN, if any.
    pub fn resource(&self) -> Option<&'a str> {
        self.resource.map(|resource| resource.text)
    }

    /// The evaluation instant.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The caller.
    pub fn caller(&self) -> Caller<'a> {
        self.caller
    }

    pub(crate) fn action_parts(&self) -> (&'a str, &'a str) {
        (self.service, self.action_name)
    }

    pub(crate) fn resource_parts(&self) -> Option<&ResourceParts<'a>> {
        self.resource.as_ref()
    }

    /// The account that owns the resource: the one set explicitly, else the
    /// ARN's account part; `None` when unknown.
    pub fn resource_account(&self) -> Option<&'a str> {
        self.resource_account.or_else(|| {
            self.resource
                .map(|resource| resource.account())
                .filter(|account| !account.is_empty())
        })
    }

    /// Every value of a key, in insertion order.
    pub(crate) fn values<'c>(&'c self, key: &'c KeyName<Box<str>>) -> Values<'c, 'a> {
        match key {
            KeyName::Known(KnownKey::CurrentTime) => Values::Computed(Some(Value::Date(self.now))),
            KeyName::Known(KnownKey::EpochTime) => {
                Values::Computed(Some(Value::Number(self.now.unix_seconds() as f64)))
            }
            _ => Values::Entries {
                entries: self.entries.iter(),
                key,
            },
        }
    }

    /// The value of a single-valued key: `None` when absent or multi-valued
    /// (AWS does not substitute multi-valued keys as policy variables).
    pub(crate) fn single_value(&self, key: &KeyName<Box<str>>) -> Option<Value<'a>> {
        let mut values = self.values(key);
        let first = values.next()?;
        if values.next().is_some() {
            None
        } else {
            Some(first)
        }
    }
}

/// Iterator over the values of one key.
pub(crate) enum Values<'c, 'a> {
    Computed(Option<Value<'a>>),
    Entries {
        entries: std::slice::Iter<'c, Entry<'a>>,
        key: &'c KeyName<Box<str>>,
    },
}

impl<'a> Iterator for Values<'_, 'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        match self {
            Values::Computed(value) => value.take(),
            Values::Entries { entries, key } => entries
                .find(|entry| entry.key.same_key(key))
                .map(|entry| entry.value),
        }
    }
}

impl fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&dyn fmt::Debug> = self
            .entries
            .iter()
            .map(|entry| &entry.key as &dyn fmt::Debug)
            .collect();
        f.debug_struct("RequestContext")
            .field("action", &self.action)
            .field("resource", &self.resource())
            .field("now", &self.now)
            .field("caller", &self.caller)
            .field("keys", &keys)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> KeyName<Box<str>> {
        KeyName::classify(name).to_owned_key()
    }

    #[test]
    fn keys_are_case_insensitive_and_multi_valued() {
        let mut ctx = RequestContext::new("sts:TagSession", Timestamp::EPOCH);
        ctx.insert("aws:TagKeys", Value::String("team"))
            .insert("AWS:tagkeys", Value::String("project"));
        let values: Vec<_> = ctx.values(&key("aws:TagKeys")).collect();
        assert_eq!(
            values,
            vec![Value::String("team"), Value::String("project")]
        );
        assert_eq!(ctx.single_value(&key("aws:TagKeys")), None);
        ctx.remove("aws:tagkeys");
        assert_eq!(ctx.values(&key("aws:TagKeys")).count(), 0);
    }

    #[test]
    fn caller_derives_principal_keys() {
        let ctx = RequestContext::new("s3:GetObject", Timestamp::EPOCH).with_caller(Caller::User {
            account: "111122223333",
            arn: "arn:aws:iam::111122223333:user/division/alice",
            user_id: Some("AIDAEXAMPLE"),
        });
        assert_eq!(
            ctx.single_value(&key("aws:username")),
            Some(Value::String("alice"))
        );
        assert_eq!(
            ctx.single_value(&key("aws:PrincipalType")),
            Some(Value::String("User"))
        );
        assert_eq!(
            ctx.single_value(&key("aws:userid")),
            Some(Value::String("AIDAEXAMPLE"))
        );
    }

    #[test]
    fn tags_replace_case_insensitively() {
        let mut ctx = RequestContext::new("s3:GetObject", Timestamp::EPOCH);
        ctx.principal_tag("Team", "role-value")
            .principal_tag("team", "session-value");
        assert_eq!(
            ctx.single_value(&key("aws:PrincipalTag/TEAM")),
            Some(Value::String("session-value"))
        );
    }

    #[test]
    fn typed_values_convert_and_render() {
        let ip = Value::String("::ffff:10.0.0.1");
        assert_eq!(ip.as_ip(), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(Value::Bool(true).render().as_str(), "true");
        assert_eq!(Value::Number(42.0).render().as_str(), "42");
        assert_eq!(
            Value::Date(Timestamp::from_unix_seconds(0))
                .render()
                .as_str(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(Value::String("TRUE").as_bool(), Some(true));
    }

    #[test]
    fn debug_never_prints_values() {
        let mut ctx = RequestContext::new("sts:AssumeRole", Timestamp::EPOCH);
        ctx.insert_known(KnownKey::ExternalId, Value::String("s3cr3t-external-id"));
        let rendered = format!("{ctx:?}");
        assert!(rendered.contains("ExternalId"));
        assert!(!rendered.contains("s3cr3t"));
    }
}
