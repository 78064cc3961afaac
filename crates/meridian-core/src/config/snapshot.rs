//! `ConfigSnapshot`: the immutable, indexed view of the applied configuration
//! that hot paths read.
//!
//! The state machine publishes one after every applied batch, behind an
//! `Arc`, and readers (issue, verify, authorize, the IAM read API) look things
//! up without locks, I/O or waiting on consensus. Lookups are by what a
//! request carries: access key id, role ARN, user name, provider URL or ARN,
//! key id.
//!
//! Publishing must be cheap even with tens of thousands of roles, so the view
//! is made of `Arc`-shared pieces (per account, per entity, per cluster table)
//! and the state machine changes it copy-on-write (`Arc::make_mut`): an
//! apply copies only the account and the entity it touches, and taking a
//! snapshot is cloning a handful of `Arc`s.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::arn::{Arn, Partition};
use crate::config::aws_managed;
use crate::config::cluster::{KeyRing, NodeTable, Region, Revocations};
use crate::config::model::{
    AccessKey, Account, ManagedPolicy, MfaDevice, OidcProvider, Role, SamlProvider, User,
};
use crate::ids::AccountId;
use crate::time::Timestamp;

/// Everything one account holds. Entity maps are keyed by the lower-cased
/// name (IAM names are unique case-insensitively), OIDC providers by the URL's
/// ARN form (host and path) and SAML providers and MFA devices by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// The account itself.
    pub account: Account,
    /// Users by lower-cased name.
    pub users: BTreeMap<String, Arc<User>>,
    /// Roles by lower-cased name.
    pub roles: BTreeMap<String, Arc<Role>>,
    /// Managed policies by lower-cased name.
    pub policies: BTreeMap<String, Arc<ManagedPolicy>>,
    /// OIDC providers by URL without scheme.
    pub oidc_providers: BTreeMap<String, Arc<OidcProvider>>,
    /// SAML providers by name.
    pub saml_providers: BTreeMap<String, Arc<SamlProvider>>,
    /// Virtual MFA devices by name.
    pub mfa_devices: BTreeMap<String, Arc<MfaDevice>>,
}

impl AccountConfig {
    /// An empty account.
    pub fn new(account: Account) -> AccountConfig {
        AccountConfig {
            account,
            users: BTreeMap::new(),
            roles: BTreeMap::new(),
            policies: BTreeMap::new(),
            oidc_providers: BTreeMap::new(),
            saml_providers: BTreeMap::new(),
            mfa_devices: BTreeMap::new(),
        }
    }

    /// A user by name (case-insensitive).
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(&name.to_ascii_lowercase()).map(Arc::as_ref)
    }

    /// A role by name (case-insensitive).
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(&name.to_ascii_lowercase()).map(Arc::as_ref)
    }

    /// A managed policy by name (case-insensitive).
    pub fn policy(&self, name: &str) -> Option<&ManagedPolicy> {
        self.policies
            .get(&name.to_ascii_lowercase())
            .map(Arc::as_ref)
    }

    /// An OIDC provider by issuer URL (`https://…`, trailing `/` ignored).
    pub fn oidc_provider_by_url(&self, url: &str) -> Option<&OidcProvider> {
        let resource = url.strip_prefix("https://")?.trim_end_matches('/');
        self.oidc_providers.get(resource).map(Arc::as_ref)
    }

    /// A SAML provider by name.
    pub fn saml_provider(&self, name: &str) -> Option<&SamlProvider> {
        self.saml_providers.get(name).map(Arc::as_ref)
    }

    /// A virtual MFA device by name.
    pub fn mfa_device(&self, name: &str) -> Option<&MfaDevice> {
        self.mfa_devices.get(name).map(Arc::as_ref)
    }

    /// Whether the account holds no entity at all.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.roles.is_empty()
            && self.policies.is_empty()
            && self.oidc_providers.is_empty()
            && self.saml_providers.is_empty()
            && self.mfa_devices.is_empty()
    }
}

/// Where an access key lives: its account and its user's lower-cased name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyLocation {
    /// The account.
    pub account_id: AccountId,
    /// The user's lower-cased name.
    pub user_key: String,
}

/// An access key found by id, with its user and account.
#[derive(Debug, Clone, Copy)]
pub struct AccessKeyEntry<'a> {
    /// The account the key belongs to.
    pub account: &'a AccountConfig,
    /// Its user.
    pub user: &'a User,
    /// The key.
    pub key: &'a AccessKey,
}

/// The immutable view of the applied configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSnapshot {
    pub(crate) partition: Partition,
    pub(crate) clock: Timestamp,
    pub(crate) applied_index: u64,
    pub(crate) accounts: Arc<BTreeMap<AccountId, Arc<AccountConfig>>>,
    pub(crate) access_keys: Arc<HashMap<String, AccessKeyLocation>>,
    pub(crate) key_ring: Arc<KeyRing>,
    pub(crate) regions: Arc<BTreeMap<String, Region>>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) nodes: Arc<NodeTable>,
}

impl ConfigSnapshot {
    /// The partition every ARN is minted in.
    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// The latest `issued_at` among applied requests: the replicated notion
    /// of "now" that time-based state (deny-list expiry) follows.
    pub fn clock(&self) -> Timestamp {
        self.clock
    }

    /// The Raft log index this view reflects (0 before anything is applied);
    /// set by the store.
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// An account.
    pub fn account(&self, id: &AccountId) -> Option<&AccountConfig> {
        self.accounts.get(id).map(Arc::as_ref)
    }

    /// Every account, by id.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountConfig> {
        self.accounts.values().map(Arc::as_ref)
    }

    /// A user by account and name (case-insensitive).
    pub fn user(&self, account: &AccountId, name: &str) -> Option<&User> {
        self.account(account)?.user(name)
    }

    /// A role by account and name (case-insensitive).
    pub fn role(&self, account: &AccountId, name: &str) -> Option<&Role> {
        self.account(account)?.role(name)
    }

    /// A role by ARN (`arn:{p}:iam::{account}:role{path}{name}`): partition,
    /// account and path must match exactly, the name case-insensitively.
    pub fn role_by_arn(&self, arn: &str) -> Option<(&AccountConfig, &Role)> {
        let (account, path, name) = split_iam_arn(&self.partition, arn, "role")?;
        let account = self.account(&account)?;
        let role = account.role(name)?;
        (role.path == path).then_some((account, role))
    }

    /// A user by ARN, with the same matching rules as [`Self::role_by_arn`].
    pub fn user_by_arn(&self, arn: &str) -> Option<(&AccountConfig, &User)> {
        let (account, path, name) = split_iam_arn(&self.partition, arn, "user")?;
        let account = self.account(&account)?;
        let user = account.user(name)?;
        (user.path == path).then_some((account, user))
    }

    /// A managed policy by ARN.
    pub fn policy_by_arn(&self, arn: &str) -> Option<(&AccountConfig, &ManagedPolicy)> {
        let (account, path, name) = split_iam_arn(&self.partition, arn, "policy")?;
        let account = self.account(&account)?;
        let policy = account.policy(name)?;
        (policy.path == path).then_some((account, policy))
    }

    /// An AWS managed policy (`arn:{p}:iam::aws:policy/…`) of the built-in
    /// catalogue ([`crate::config::aws_managed`]): every account has them.
    pub fn aws_managed_policy(&self, arn: &str) -> Option<&'static ManagedPolicy> {
        aws_managed::by_arn(&self.partition, arn)
    }

    /// The managed policy an attachment, a permissions boundary or a session
    /// policy names: a policy of an account, or an AWS managed one.
    pub fn managed_policy(&self, arn: &str) -> Option<&ManagedPolicy> {
        match self.policy_by_arn(arn) {
            Some((_, policy)) => Some(policy),
            None => self.aws_managed_policy(arn),
        }
    }

    /// A virtual MFA device by serial number.
    pub fn mfa_device_by_serial(&self, serial: &str) -> Option<(&AccountConfig, &MfaDevice)> {
        let (account, path, name) = split_iam_arn(&self.partition, serial, "mfa")?;
        let account = self.account(&account)?;
        let device = account.mfa_device(name)?;
        (device.path == path).then_some((account, device))
    }

    /// An OIDC provider by ARN (`…:oidc-provider/{host/path}`).
    pub fn oidc_provider_by_arn(&self, arn: &str) -> Option<(&AccountConfig, &OidcProvider)> {
        let (account, resource) = split_provider_arn(&self.partition, arn, "oidc-provider/")?;
        let account = self.account(&account)?;
        let provider = account.oidc_providers.get(resource)?;
        Some((account, provider))
    }

    /// A SAML provider by ARN (`…:saml-provider/{name}`).
    pub fn saml_provider_by_arn(&self, arn: &str) -> Option<(&AccountConfig, &SamlProvider)> {
        let (account, name) = split_provider_arn(&self.partition, arn, "saml-provider/")?;
        let account = self.account(&account)?;
        let provider = account.saml_providers.get(name)?;
        Some((account, provider))
    }

    /// A long-term access key by id, with its user and account.
    pub fn access_key(&self, access_key_id: &str) -> Option<AccessKeyEntry<'_>> {
        let location = self.access_keys.get(access_key_id)?;
        let account = self.account(&location.account_id)?;
        let user = account.users.get(&location.user_key)?;
        let key = user.access_keys.get(access_key_id)?;
        Some(AccessKeyEntry { account, user, key })
    }

    /// The replicated key ring.
    pub fn key_ring(&self) -> &KeyRing {
        &self.key_ring
    }

    /// Every region, by name.
    pub fn regions(&self) -> &BTreeMap<String, Region> {
        &self.regions
    }

    /// A region by name.
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.get(name)
    }

    /// The replicated revocations.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// Sessions of this role issued before the returned instant are revoked.
    pub fn role_sessions_revoked_before(
        &self,
        account: &AccountId,
        role_name: &str,
    ) -> Option<Timestamp> {
        let key = (account.as_str().to_owned(), role_name.to_ascii_lowercase());
        self.revocations.role_sessions_before.get(&key).copied()
    }

    /// Whether a session id is individually denied at `now`.
    pub fn is_session_denied(&self, session_id: &str, now: Timestamp) -> bool {
        self.revocations
            .denied_sessions
            .get(session_id)
            .is_some_and(|expires_at| now < *expires_at)
    }

    /// The cluster's nodes as the last applied membership says.
    pub fn nodes(&self) -> &NodeTable {
        &self.nodes
    }
}

/// Splits `arn:{p}:iam::{account}:{kind}{path}{name}` into account, path and
/// name, checking the partition. `None` when the ARN has another form.
pub(crate) fn split_iam_arn<'a>(
    partition: &Partition,
    arn: &'a str,
    kind: &str,
) -> Option<(AccountId, &'a str, &'a str)> {
    let (account, resource) = split_resource(partition, arn)?;
    let rest = resource.strip_prefix(kind)?;
    if !rest.starts_with('/') {
        return None;
    }
    let slash = rest.rfind('/')?;
    let name = &rest[slash + 1..];
    (!name.is_empty()).then_some((account, &rest[..=slash], name))
}

/// Splits `arn:{p}:iam::{account}:{prefix}{rest}` into account and rest.
pub(crate) fn split_provider_arn<'a>(
    partition: &Partition,
    arn: &'a str,
    prefix: &str,
) -> Option<(AccountId, &'a str)> {
    let (account, resource) = split_resource(partition, arn)?;
    let rest = resource.strip_prefix(prefix)?;
    (!rest.is_empty()).then_some((account, rest))
}

fn split_resource<'a>(partition: &Partition, arn: &'a str) -> Option<(AccountId, &'a str)> {
    let parsed = Arn::parse(arn).ok()?;
    if parsed.partition() != partition.as_str()
        || parsed.service() != "iam"
        || !parsed.region().is_empty()
    {
        return None;
    }
    let account = AccountId::parse(parsed.account()).ok()?;
    // The resource is everything after the fifth `:`; take it from the input
    // so that it borrows from `arn`, not from `parsed`.
    let resource = arn.splitn(6, ':').nth(5)?;
    Some((account, resource))
}
