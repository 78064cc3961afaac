//! Authentication and authorization of Admin calls.
//!
//! ```text
//!  metadata ─► signing::signed_headers ─► Verifier::parse (scope: any cluster
//!     region / meridian, ±15 min) ─► access::caller::authenticate (AKIA: KEK
//!     opens the stored secret; ASIA: session token under the key ring;
//!     revoked sessions and disabled keys refused)
//!  caller ─► operator-account rule ─► access::authz::Subject::check
//!     ("meridian:<Method>" on the call's resource ARN)
//! ```
//!
//! The same credential resolution and policy evaluation as the HTTP edge
//! and the Verifier (`meridian_core::access`). Two Admin-specific rules:
//!
//! * cluster-wide methods are reserved to principals of the **operator
//!   account** — the cluster's first account (earliest `created_at`, then
//!   lowest id), which the bootstrap creates. Tenant accounts hold
//!   `AdministratorAccess` (allow `*` on `*`) over their own account; that
//!   must never make them administrators of the cluster;
//! * like IAM, a `GetSessionToken` session without MFA may not call it
//!   (answered `InvalidClientTokenId`, as AWS does for IAM).

use std::sync::{Arc, PoisonError, RwLock};

use meridian_core::access::authz::{MessageStyle, PolicyCache, Subject};
use meridian_core::access::caller::{self, AuthError, Caller, DEFAULT_TOKEN_LEEWAY};
use meridian_core::access::keys::KeyMaterial;
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::ids::AccountId;
use meridian_core::principal::Principal;
use meridian_core::rand::RandomSource;
use meridian_core::sigv4::policy::{ServiceRule, VerifierPolicy};
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::verifier::Verifier;
use meridian_core::time::Timestamp;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::admin::error::admin_status;
use crate::admin::signing::{SIGNING_METHOD, SIGNING_SERVICE, signed_headers};

/// What a call acts on, for the authorization rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The cluster: operator account only.
    Cluster,
    /// A resource of `account` (its ARN): that account or the operator.
    Account {
        /// The owning account.
        account: AccountId,
        /// The resource's ARN.
        arn: String,
    },
}

/// Authenticates and authorizes Admin calls on one node.
pub struct AdminAuth {
    region: String,
    keys: Arc<KeyMaterial>,
    policies: PolicyCache,
    /// The verifier for the cluster's regions, rebuilt when they change.
    verifier: RwLock<(Vec<String>, Arc<Verifier>)>,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAuth")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl AdminAuth {
    /// Authentication for a node of `region` with `keys`.
    pub fn new(region: &str, keys: Arc<KeyMaterial>) -> AdminAuth {
        let regions = vec![region.to_owned()];
        let verifier = Arc::new(verifier_for(&regions));
        AdminAuth {
            region: region.to_owned(),
            keys,
            policies: PolicyCache::new(),
            verifier: RwLock::new((regions, verifier)),
        }
    }

    /// The node's key material.
    pub fn keys(&self) -> &Arc<KeyMaterial> {
        &self.keys
    }

    /// Who signed the call to `path` whose message hashes to `message_sha256`.
    pub fn authenticate(
        &self,
        metadata: &MetadataMap,
        path: &str,
        message_sha256: &str,
        snapshot: &ConfigSnapshot,
        now: Timestamp,
    ) -> Result<Caller, Status> {
        if metadata.get("authorization").is_none() {
            return Err(admin_status(
                tonic::Code::Unauthenticated,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            ));
        }
        let owned = signed_headers(metadata);
        let headers: Vec<(&str, &[u8])> = owned
            .iter()
            .map(|(name, value)| (*name, value.as_slice()))
            .collect();
        let request = Request {
            method: SIGNING_METHOD,
            path,
            query: "",
            headers: &headers,
            payload: Payload::Sha256Hex(message_sha256),
        };
        let verifier = self.verifier(snapshot);
        let parsed = verifier
            .parse(&request, SIGNING_SERVICE, now)
            .map_err(|error| {
                admin_status(tonic::Code::Unauthenticated, error.code(), error.message())
            })?;
        let caller = caller::authenticate(
            &verifier,
            &self.keys,
            parsed,
            &request,
            snapshot,
            now,
            DEFAULT_TOKEN_LEEWAY,
        )
        .map_err(|error| auth_status(&error))?;
        let session_token_session =
            matches!(caller.principal, Principal::User(_) | Principal::Root(_));
        if let Some(session) = &caller.session
            && session_token_session
            && session.mfa_authenticated_at.is_none()
        {
            return Err(admin_status(
                tonic::Code::Unauthenticated,
                "InvalidClientTokenId",
                caller::INVALID_TOKEN_MESSAGE,
            ));
        }
        Ok(caller)
    }

    /// Whether `caller` may perform `meridian:<method>` on `scope`.
    pub fn authorize(
        &self,
        caller: &Caller,
        method: &str,
        scope: &Scope,
        snapshot: &ConfigSnapshot,
        now: Timestamp,
        random: &mut dyn RandomSource,
    ) -> Result<(), Status> {
        let action = format!("meridian:{method}");
        let operator = operator_account(snapshot);
        let caller_account = *caller.principal.account();
        let is_operator = operator == Some(caller_account);
        let resource = match scope {
            Scope::Cluster => cluster_arn(snapshot, operator),
            Scope::Account { arn, .. } => arn.clone(),
        };
        let allowed_scope = match scope {
            Scope::Cluster => is_operator,
            Scope::Account { account, .. } => is_operator || *account == caller_account,
        };
        let subject = Subject::resolve(&self.policies, caller, snapshot, &self.region);
        if !allowed_scope {
            let arn = caller.principal.arn(snapshot.partition()).to_string();
            return Err(admin_status(
                tonic::Code::PermissionDenied,
                "AccessDenied",
                format!(
                    "User: {arn} is not authorized to perform: {action} on resource: {resource} because only principals of the operator account may administer the cluster"
                ),
            ));
        }
        match subject.check(&action, &resource, &[], now) {
            Ok(()) => Ok(()),
            Err(denial) => {
                let mut message = denial.message(MessageStyle::Reasoned);
                if let Ok(encoded) = denial.encoded_message(&self.keys, random) {
                    message.push_str(" Encoded authorization failure message: ");
                    message.push_str(&encoded);
                }
                Err(admin_status(
                    tonic::Code::PermissionDenied,
                    "AccessDenied",
                    message,
                ))
            }
        }
    }

    fn verifier(&self, snapshot: &ConfigSnapshot) -> Arc<Verifier> {
        let mut regions: Vec<String> = snapshot.regions().keys().cloned().collect();
        if !regions.contains(&self.region) {
            regions.push(self.region.clone());
        }
        {
            let current = self.verifier.read().unwrap_or_else(PoisonError::into_inner);
            if current.0 == regions {
                return Arc::clone(&current.1);
            }
        }
        let verifier = Arc::new(verifier_for(&regions));
        *self
            .verifier
            .write()
            .unwrap_or_else(PoisonError::into_inner) = (regions, Arc::clone(&verifier));
        verifier
    }
}

fn verifier_for(regions: &[String]) -> Verifier {
    let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
    Verifier::new(VerifierPolicy::new(vec![ServiceRule::new(
        SIGNING_SERVICE,
        &regions,
    )]))
}

fn auth_status(error: &AuthError) -> Status {
    match error {
        AuthError::Internal(detail) => {
            tracing::error!(%detail, "admin call with unusable stored credentials");
            admin_status(tonic::Code::Internal, "InternalFailure", "internal failure")
        }
        other => admin_status(
            tonic::Code::Unauthenticated,
            other.code(),
            other.to_string(),
        ),
    }
}

/// The operator account: the cluster's first account (earliest creation,
/// then lowest id). `None` before the bootstrap created one.
pub fn operator_account(snapshot: &ConfigSnapshot) -> Option<AccountId> {
    snapshot
        .accounts()
        .min_by_key(|account| (account.account.created_at, account.account.id))
        .map(|account| account.account.id)
}

/// The resource ARN of cluster-wide methods:
/// `arn:{partition}:meridian::{operator account}:cluster`.
pub fn cluster_arn(snapshot: &ConfigSnapshot, operator: Option<AccountId>) -> String {
    format!(
        "arn:{}:meridian::{}:cluster",
        snapshot.partition(),
        operator
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default()
    )
}
