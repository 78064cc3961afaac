//! Principals: who signed a request.
//!
//! A [`Principal`] is what a credential proves: an account's root, an IAM
//! user, a session of an assumed role (through AssumeRole, web identity or
//! SAML) or a federated user (GetFederationToken). A GetSessionToken session
//! keeps its caller's identity, so it is a [`Principal::Root`] or
//! [`Principal::User`] carried in a session token.
//!
//! Every constructor validates against IAM's limits (names, paths, session
//! names), so a value of these types always renders to a valid ARN and always
//! fits the session token's encoding. The ARN forms and the
//! `GetCallerIdentity` triple follow `STS-API.md` §2.6 and §2.7; in
//! particular the assumed-role ARN drops the role's path while
//! [`AssumedRolePrincipal::role_arn`] keeps it. The partition is an argument,
//! never stored, because a cluster chooses it once for everything it mints.

use std::fmt;

use crate::arn::{Arn, Partition, arn_text};
use crate::ids::{AccountId, UniqueId, UniqueIdKind};

/// Why principal parts are invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    /// An IAM path is not `/` or `/…/` of 1–512 characters in `!`–`~`.
    #[error(
        "invalid path: must be / or start and end with / (at most 512 printable ascii characters)"
    )]
    InvalidPath,
    /// A user or role name is not 1–64 characters of `[A-Za-z0-9+=,.@_-]`.
    #[error("invalid name: must be 1 to 64 characters of letters, digits and +=,.@_-")]
    InvalidName,
    /// A role session name is not 2–64 characters of `[A-Za-z0-9+=,.@_-]`.
    #[error("invalid role session name: must be 2 to 64 characters of letters, digits and +=,.@_-")]
    InvalidSessionName,
    /// A federated user name is not 2–32 characters of `[A-Za-z0-9+=,.@_-]`.
    #[error(
        "invalid federated user name: must be 2 to 32 characters of letters, digits and +=,.@_-"
    )]
    InvalidFederatedName,
    /// A unique id has the wrong kind (a role id where a user id belongs).
    #[error("unique id has the wrong kind for this principal")]
    WrongIdKind,
    /// A federated user's parent IAM user belongs to another account.
    #[error("a federated user's parent must be in the same account")]
    AccountMismatch,
    /// An identity provider ARN is not an IAM `oidc-provider/…` (web
    /// identity) or `saml-provider/…` (SAML) ARN of at most 512 characters.
    #[error("invalid identity provider arn")]
    InvalidProvider,
}

/// The longest IAM path.
pub const MAX_PATH_LEN: usize = 512;
/// The longest user or role name.
pub const MAX_NAME_LEN: usize = 64;
/// The longest role session name.
pub const MAX_SESSION_NAME_LEN: usize = 64;
/// The longest federated user name.
pub const MAX_FEDERATED_NAME_LEN: usize = 32;
/// The longest identity provider ARN a session carries (an OIDC provider URL
/// is at most 255 characters, a SAML provider name 128).
pub const MAX_PROVIDER_ARN_LEN: usize = 512;

/// `[\w+=,.@-]`, the character class of IAM names and session names.
fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-')
}

fn valid_name(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len()) && text.bytes().all(is_name_char)
}

fn valid_path(path: &str) -> bool {
    path == "/"
        || (path.len() <= MAX_PATH_LEN
            && path.len() >= 2
            && path.starts_with('/')
            && path.ends_with('/')
            && path.bytes().all(|b| (0x21..=0x7e).contains(&b)))
}

/// The kind of a principal, for metrics labels and policy context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An account's root user.
    Root,
    /// An IAM user (with a long-term key or a GetSessionToken session).
    User,
    /// A role session.
    AssumedRole,
    /// A GetFederationToken session.
    FederatedUser,
}

impl PrincipalKind {
    /// A stable lower-case label: `root`, `user`, `assumed-role`, `federated-user`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Root => "root",
            PrincipalKind::User => "user",
            PrincipalKind::AssumedRole => "assumed-role",
            PrincipalKind::FederatedUser => "federated-user",
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserPrincipal {
    account: AccountId,
    path: String,
    name: String,
    user_id: UniqueId,
}

impl UserPrincipal {
    /// A user from its account, path (`/` or `/…/`), name and `AIDA…` id.
    pub fn new(
        account: AccountId,
        path: &str,
        name: &str,
        user_id: UniqueId,
    ) -> Result<UserPrincipal, PrincipalError> {
        if !valid_path(path) {
            return Err(PrincipalError::InvalidPath);
        }
        if !valid_name(name, 1, MAX_NAME_LEN) {
            return Err(PrincipalError::InvalidName);
        }
        if user_id.kind() != UniqueIdKind::User {
            return Err(PrincipalError::WrongIdKind);
        }
        Ok(UserPrincipal {
            account,
            path: path.to_owned(),
            name: name.to_owned(),
            user_id,
        })
    }

    /// The owning account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The IAM path, `/` or `/…/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The user name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `AIDA…` unique id.
    pub fn user_id(&self) -> &UniqueId {
        &self.user_id
    }

    /// `arn:{p}:iam::{account}:user{path}{name}`.
    pub fn arn(&self, partition: &Partition) -> Arn {
        let resource = format!("user{}{}", self.path, self.name);
        Arn::new(partition, "iam", "", self.account.as_str(), &resource)
    }

    /// [`UserPrincipal::arn`] as text.
    pub fn arn_text(&self, partition: &Partition) -> String {
        arn_text(
            partition,
            "iam",
            "",
            self.account.as_str(),
            &["user", &self.path, &self.name],
        )
    }
}

/// How a role session was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionOrigin {
    /// `AssumeRole`, signed with other credentials.
    AssumeRole,
    /// `AssumeRoleWithWebIdentity`, with the IAM OIDC provider that vouched
    /// for the token (`arn:…:oidc-provider/{host/path}`).
    WebIdentity {
        /// The OIDC provider's ARN.
        provider: Arn,
    },
    /// `AssumeRoleWithSAML`, with the IAM SAML provider that issued the
    /// assertion (`arn:…:saml-provider/{name}`).
    Saml {
        /// The SAML provider's ARN.
        provider: Arn,
    },
}

impl SessionOrigin {
    /// A web-identity origin; `provider` must be an `oidc-provider/…` ARN.
    pub fn web_identity(provider: Arn) -> Result<SessionOrigin, PrincipalError> {
        check_provider(&provider, "oidc-provider")?;
        Ok(SessionOrigin::WebIdentity { provider })
    }

    /// A SAML origin; `provider` must be a `saml-provider/…` ARN.
    pub fn saml(provider: Arn) -> Result<SessionOrigin, PrincipalError> {
        check_provider(&provider, "saml-provider")?;
        Ok(SessionOrigin::Saml { provider })
    }

    /// The identity provider, for federated origins.
    pub fn provider(&self) -> Option<&Arn> {
        match self {
            SessionOrigin::AssumeRole => None,
            SessionOrigin::WebIdentity { provider } | SessionOrigin::Saml { provider } => {
                Some(provider)
            }
        }
    }
}

fn check_provider(provider: &Arn, resource_type: &str) -> Result<(), PrincipalError> {
    // Rendering is the only way to know the full length; this runs when a
    // session is created or its token opened with a federated origin.
    let ok = provider.service() == "iam"
        && provider.resource_type() == resource_type
        && provider.resource().len() > resource_type.len() + 1
        && provider.to_string().len() <= MAX_PROVIDER_ARN_LEN;
    if ok {
        Ok(())
    } else {
        Err(PrincipalError::InvalidProvider)
    }
}

/// A session of an IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssumedRolePrincipal {
    account: AccountId,
    role_path: String,
    role_name: String,
    role_id: UniqueId,
    session_name: String,
    origin: SessionOrigin,
}

impl AssumedRolePrincipal {
    /// A session of the role (`account`, `role_path`, `role_name`, `AROA…`
    /// `role_id`) named `session_name`, obtained through `origin`.
    pub fn new(
        account: AccountId,
        role_path: &str,
        role_name: &str,
        role_id: UniqueId,
        session_name: &str,
        origin: SessionOrigin,
    ) -> Result<AssumedRolePrincipal, PrincipalError> {
        if !valid_path(role_path) {
            return Err(PrincipalError::InvalidPath);
        }
        if !valid_name(role_name, 1, MAX_NAME_LEN) {
            return Err(PrincipalError::InvalidName);
        }
        if role_id.kind() != UniqueIdKind::Role {
            return Err(PrincipalError::WrongIdKind);
        }
        if !valid_name(session_name, 2, MAX_SESSION_NAME_LEN) {
            return Err(PrincipalError::InvalidSessionName);
        }
        match &origin {
            SessionOrigin::AssumeRole => {}
            SessionOrigin::WebIdentity { provider } => check_provider(provider, "oidc-provider")?,
            SessionOrigin::Saml { provider } => check_provider(provider, "saml-provider")?,
        }
        Ok(AssumedRolePrincipal {
            account,
            role_path: role_path.to_owned(),
            role_name: role_name.to_owned(),
            role_id,
            session_name: session_name.to_owned(),
            origin,
        })
    }

    /// The role's account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The role's path, `/` or `/…/`.
    pub fn role_path(&self) -> &str {
        &self.role_path
    }

    /// The role's name.
    pub fn role_name(&self) -> &str {
        &self.role_name
    }

    /// The role's `AROA…` unique id.
    pub fn role_id(&self) -> &UniqueId {
        &self.role_id
    }

    /// The role session name.
    pub fn session_name(&self) -> &str {
        &self.session_name
    }

    /// How the session was obtained.
    pub fn origin(&self) -> &SessionOrigin {
        &self.origin
    }

    /// `arn:{p}:sts::{account}:assumed-role/{role-name}/{session-name}` (no
    /// role path, as AWS).
    pub fn arn(&self, partition: &Partition) -> Arn {
        let resource = format!("assumed-role/{}/{}", self.role_name, self.session_name);
        Arn::new(partition, "sts", "", self.account.as_str(), &resource)
    }

    /// [`AssumedRolePrincipal::arn`] as text.
    pub fn arn_text(&self, partition: &Partition) -> String {
        arn_text(
            partition,
            "sts",
            "",
            self.account.as_str(),
            &["assumed-role/", &self.role_name, "/", &self.session_name],
        )
    }

    /// The role's own ARN, `arn:{p}:iam::{account}:role{path}{name}` (what
    /// `aws:PrincipalArn` holds for a role session).
    pub fn role_arn(&self, partition: &Partition) -> Arn {
        let resource = format!("role{}{}", self.role_path, self.role_name);
        Arn::new(partition, "iam", "", self.account.as_str(), &resource)
    }

    /// [`AssumedRolePrincipal::role_arn`] as text.
    pub fn role_arn_text(&self, partition: &Partition) -> String {
        arn_text(
            partition,
            "iam",
            "",
            self.account.as_str(),
            &["role", &self.role_path, &self.role_name],
        )
    }

    /// `AssumedRoleId`: `{RoleId}:{RoleSessionName}`.
    pub fn assumed_role_id(&self) -> String {
        [self.role_id.as_str(), ":", &self.session_name].concat()
    }
}

/// A GetFederationToken session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FederatedUserPrincipal {
    account: AccountId,
    name: String,
    parent: Option<UserPrincipal>,
}

impl FederatedUserPrincipal {
    /// A federated user `name` in `account`, created by the IAM user `parent`
    /// (`None`: by the account's root). The parent's permissions bound the
    /// session's, so the verifier needs to know who it was.
    pub fn new(
        account: AccountId,
        name: &str,
        parent: Option<UserPrincipal>,
    ) -> Result<FederatedUserPrincipal, PrincipalError> {
        if !valid_name(name, 2, MAX_FEDERATED_NAME_LEN) {
            return Err(PrincipalError::InvalidFederatedName);
        }
        if parent.as_ref().is_some_and(|user| user.account != account) {
            // GetFederationToken always mints in the caller's own account.
            return Err(PrincipalError::AccountMismatch);
        }
        Ok(FederatedUserPrincipal {
            account,
            name: name.to_owned(),
            parent,
        })
    }

    /// The calling user's account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The federated user name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The IAM user that called GetFederationToken, or `None` for root.
    pub fn parent(&self) -> Option<&UserPrincipal> {
        self.parent.as_ref()
    }

    /// `arn:{p}:sts::{account}:federated-user/{name}`.
    pub fn arn(&self, partition: &Partition) -> Arn {
        let resource = format!("federated-user/{}", self.name);
        Arn::new(partition, "sts", "", self.account.as_str(), &resource)
    }

    /// [`FederatedUserPrincipal::arn`] as text.
    pub fn arn_text(&self, partition: &Partition) -> String {
        arn_text(
            partition,
            "sts",
            "",
            self.account.as_str(),
            &["federated-user/", &self.name],
        )
    }

    /// `FederatedUserId`: `{account}:{name}`.
    pub fn federated_user_id(&self) -> String {
        [self.account.as_str(), ":", &self.name].concat()
    }
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// The account's root user.
    Root(AccountId),
    /// An IAM user.
    User(UserPrincipal),
    /// A role session.
    AssumedRole(AssumedRolePrincipal),
    /// A GetFederationToken session.
    FederatedUser(FederatedUserPrincipal),
}

/// What `GetCallerIdentity` returns (`STS-API.md` §2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// `UserId`: the account id (root), `AIDA…` (user),
    /// `AROA…:{session}` (role session) or `{account}:{name}` (federated user).
    pub user_id: String,
    /// `Arn`.
    pub arn: Arn,
    /// `Account`.
    pub account: AccountId,
}

impl Principal {
    /// The principal's kind.
    pub fn kind(&self) -> PrincipalKind {
        match self {
            Principal::Root(_) => PrincipalKind::Root,
            Principal::User(_) => PrincipalKind::User,
            Principal::AssumedRole(_) => PrincipalKind::AssumedRole,
            Principal::FederatedUser(_) => PrincipalKind::FederatedUser,
        }
    }

    /// The account the principal belongs to (for a role session: the role's).
    pub fn account(&self) -> &AccountId {
        match self {
            Principal::Root(account) => account,
            Principal::User(user) => &user.account,
            Principal::AssumedRole(role) => &role.account,
            Principal::FederatedUser(federated) => &federated.account,
        }
    }

    /// The principal's ARN (§2.6).
    pub fn arn(&self, partition: &Partition) -> Arn {
        match self {
            Principal::Root(account) => Arn::account_root(partition, account),
            Principal::User(user) => user.arn(partition),
            Principal::AssumedRole(role) => role.arn(partition),
            Principal::FederatedUser(federated) => federated.arn(partition),
        }
    }

    /// [`Principal::arn`] as text, in one allocation.
    pub fn arn_text(&self, partition: &Partition) -> String {
        match self {
            Principal::Root(account) => arn_text(partition, "iam", "", account.as_str(), &["root"]),
            Principal::User(user) => user.arn_text(partition),
            Principal::AssumedRole(role) => role.arn_text(partition),
            Principal::FederatedUser(federated) => federated.arn_text(partition),
        }
    }

    /// The `UserId` of `GetCallerIdentity` (also `aws:userid`).
    pub fn user_id(&self) -> String {
        match self {
            Principal::Root(account) => account.as_str().to_owned(),
            Principal::User(user) => user.user_id.as_str().to_owned(),
            Principal::AssumedRole(role) => role.assumed_role_id(),
            Principal::FederatedUser(federated) => federated.federated_user_id(),
        }
    }

    /// The `GetCallerIdentity` triple in `partition`.
    pub fn caller_identity(&self, partition: &Partition) -> CallerIdentity {
        CallerIdentity {
            user_id: self.user_id(),
            arn: self.arn(partition),
            account: *self.account(),
        }
    }
}
