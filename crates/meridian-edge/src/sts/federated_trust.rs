//! The trust check shared by the federated `AssumeRole` forms
//! (`AssumeRoleWithSAML`, `AssumeRoleWithWebIdentity`): the request context
//! the role's trust policy sees, and the check of every action the call
//! needs (`sts:TagSession` with tags, `sts:SetSourceIdentity` with a source
//! identity).

use meridian_core::config::model::Role;
use meridian_core::policy::context::{Caller as PolicyCaller, RequestContext, Value};
use meridian_core::policy::evaluate::authorize_assume_role;
use meridian_core::policy::keys::KnownKey;
use meridian_core::policy::kind::PolicyKind;
use meridian_core::time::Timestamp;
use meridian_core::token::SessionTag;

use crate::operation::OperationRequest;

/// Everything the trust context borrows.
pub(super) struct FederatedTrust<'r, V> {
    /// The role's canonical ARN (the resource).
    pub role_arn: &'r str,
    /// The federated caller (`Saml` or `WebIdentity` with the provider).
    pub caller: PolicyCaller<'r>,
    /// `aws:FederatedProvider`.
    pub federated_provider: &'r str,
    pub session_name: &'r str,
    pub region: &'r str,
    /// The provider's condition keys (`saml:*`, `{issuer}:sub`, …).
    pub claim_keys: &'r [(String, V)],
    pub tags: &'r [SessionTag],
    pub source_identity: Option<&'r str>,
    pub role: &'r Role,
}

impl<'r, V: AsRef<str>> FederatedTrust<'r, V> {
    fn context(&self, action: &'r str, now: Timestamp) -> RequestContext<'r> {
        let mut ctx = RequestContext::new(action, now)
            .with_resource(self.role_arn)
            .with_caller(self.caller);
        ctx.set_known(KnownKey::RoleSessionName, Value::String(self.session_name));
        ctx.set_known(KnownKey::RequestedRegion, Value::String(self.region));
        ctx.set_known(
            KnownKey::FederatedProvider,
            Value::String(self.federated_provider),
        );
        for (key, value) in self.claim_keys {
            ctx.insert(key, Value::String(value.as_ref()));
        }
        if let Some(source) = self.source_identity {
            ctx.set_known(KnownKey::StsSourceIdentity, Value::String(source));
        }
        for tag in self.tags {
            ctx.request_tag(&tag.key, &tag.value);
            ctx.insert_known(KnownKey::TagKeys, Value::String(&tag.key));
            if tag.transitive {
                ctx.insert_known(KnownKey::TransitiveTagKeys, Value::String(&tag.key));
            }
        }
        for (key, value) in &self.role.tags {
            ctx.resource_tag(key, value);
        }
        ctx
    }

    /// The first of the call's actions (`action`, then `sts:TagSession` and
    /// `sts:SetSourceIdentity` when the call asks for them) that the role's
    /// trust policy does not allow, or `None` when it allows them all. A
    /// trust policy that cannot be found allows nothing.
    pub(super) fn refused_action(
        &self,
        request: &OperationRequest,
        action: &'static str,
    ) -> Option<&'static str> {
        let Some(trust_policy) = request
            .state
            .policies()
            .document(&self.role.trust_policy, PolicyKind::Trust)
        else {
            return Some(action);
        };
        let tagging = (!self.tags.is_empty()).then_some("sts:TagSession");
        let sourcing = self
            .source_identity
            .is_some()
            .then_some("sts:SetSourceIdentity");
        [Some(action), tagging, sourcing]
            .into_iter()
            .flatten()
            .find(|action| {
                let ctx = self.context(action, request.now);
                !authorize_assume_role(&trust_policy, None, &ctx).is_allowed()
            })
    }
}
