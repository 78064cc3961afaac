//! The Verifier's work, independent of gRPC: each method takes the decoded
//! request message and answers synchronously from the newest applied
//! snapshot. The tonic service ([`crate::verifier::service`]) only adds
//! admission control and framing, so this is what the in-process benchmark
//! measures.
//!
//! Checks before any cryptography: the signing name (a resource service's,
//! never `sts`/`iam`/`meridian`), the region, the body size, the source
//! address, the action, resource and context keys; then SigV4 with a policy
//! built for exactly the (service, region) pair the resource service
//! expects, against one signing-key cache shared by all pairs (its entries
//! are keyed by the full credential scope).

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use meridian_core::access::authz::{MessageStyle, PolicyCache, Subject, Verdict};
use meridian_core::access::caller::{self, Caller};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::policy::context::Value;
use meridian_core::rand::{RandomError, RandomSource};
use meridian_core::sigv4::limits::Limits;
use meridian_core::sigv4::parse;
use meridian_core::sigv4::policy::VerifierPolicy;
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::verifier::Verifier;
use meridian_core::time::Timestamp;
use meridian_proto::pb;

use crate::verifier::convert::{self, VerifierFailure};
use crate::verifier::handle::{ContextHandle, HANDLE_LIFETIME_MS};
use crate::verifier::{Entropy, Snapshots, VerifierLimits, VerifierParts};

/// Signing names a resource service may not claim: Meridian's own APIs.
const RESERVED_SERVICES: [&str; 3] = ["sts", "iam", "meridian"];

/// Longest action name (`service:Action`).
const MAX_ACTION_LEN: usize = 256;
/// Longest resource (an ARN).
const MAX_RESOURCE_LEN: usize = 2048;
/// Longest context key.
const MAX_CONTEXT_KEY_LEN: usize = 256;
/// Longest string context value.
const MAX_CONTEXT_VALUE_LEN: usize = 4096;

/// Context keys Meridian derives from the credentials, which a resource
/// service may not set (lower case; a trailing `*` is a prefix).
const RESERVED_KEYS: [&str; 14] = [
    "aws:principal*",
    "aws:userid",
    "aws:username",
    "aws:tokenissuetime",
    "aws:multifactorauth*",
    "aws:sourceidentity",
    "aws:federatedprovider",
    "aws:requestedregion",
    "aws:currenttime",
    "aws:epochtime",
    "aws:sourceip",
    "sts:*",
    "iam:*",
    "saml:*",
];

/// The verifier's state: the parts the server handed over, one signing-key
/// cache and one compiled-policy cache.
pub struct VerifierHandler {
    parts: VerifierParts,
    snapshots: OnceLock<Snapshots>,
    /// Its policy is never used (each call parses with its own); only its
    /// signing-key cache is.
    verifier: Verifier,
    policies: PolicyCache,
}

impl std::fmt::Debug for VerifierHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierHandler")
            .field("limits", &self.parts.limits)
            .field("signing_keys", self.verifier.cache())
            .field("policies", &self.policies)
            .finish()
    }
}

/// The entropy source as core's `RandomSource`.
struct EntropyAdapter<'a>(&'a dyn Entropy);

impl RandomSource for EntropyAdapter<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill(dest)
    }
}

/// A caller, authenticated or resumed, with where it was authenticated.
struct Authenticated {
    caller: Caller,
    region: String,
    /// Set when the call authenticated a signed request (not a handle).
    response: Option<pb::AuthenticateResponse>,
}

impl VerifierHandler {
    /// A handler over `parts`.
    pub fn new(parts: VerifierParts) -> VerifierHandler {
        VerifierHandler {
            parts,
            snapshots: OnceLock::new(),
            verifier: Verifier::new(VerifierPolicy::new(Vec::new())),
            policies: PolicyCache::new(),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &VerifierLimits {
        &self.parts.limits
    }

    /// Binds the node's applied configuration (once; later calls are
    /// ignored).
    pub fn bind(&self, snapshots: Snapshots) {
        let _ = self.snapshots.set(snapshots);
    }

    fn snapshot(&self) -> Result<Arc<ConfigSnapshot>, VerifierFailure> {
        match self.snapshots.get() {
            Some(snapshots) if self.parts.ready.is_ready() => Ok(snapshots.borrow().clone()),
            _ => Err(VerifierFailure::unavailable()),
        }
    }

    /// `Authenticate`.
    pub fn authenticate(
        &self,
        request: &pb::AuthenticateRequest,
    ) -> Result<pb::AuthenticateResponse, VerifierFailure> {
        let snapshot = self.snapshot()?;
        let now = self.parts.clock.now();
        let authenticated = self.authenticate_at(request, &snapshot, now)?;
        authenticated.response.ok_or_else(VerifierFailure::internal)
    }

    /// `Authorize`.
    pub fn authorize(
        &self,
        request: &pb::AuthorizeRequest,
    ) -> Result<pb::AuthorizeResponse, VerifierFailure> {
        let snapshot = self.snapshot()?;
        let now = self.parts.clock.now();
        let keys = self.context_keys(&request.context)?;
        check_action(&request.action, &request.resource)?;
        let authenticated = match &request.subject {
            Some(pb::authorize_request::Subject::ContextHandle(handle)) => {
                self.resume(handle, &snapshot, now)?
            }
            Some(pb::authorize_request::Subject::Authenticate(authenticate)) => {
                self.authenticate_at(authenticate, &snapshot, now)?
            }
            None => {
                return Err(VerifierFailure::invalid(
                    "a context handle or a signed request is required",
                ));
            }
        };
        let mut response = self.decide(
            &authenticated,
            &snapshot,
            &request.action,
            &request.resource,
            &keys,
            now,
        );
        response.authentication = authenticated.response;
        Ok(response)
    }

    /// `AuthenticateAndAuthorize`.
    pub fn authenticate_and_authorize(
        &self,
        request: &pb::AuthenticateAndAuthorizeRequest,
    ) -> Result<pb::AuthenticateAndAuthorizeResponse, VerifierFailure> {
        let snapshot = self.snapshot()?;
        let now = self.parts.clock.now();
        let keys = self.context_keys(&request.context)?;
        check_action(&request.action, &request.resource)?;
        let authenticate = request
            .authenticate
            .as_ref()
            .ok_or_else(|| VerifierFailure::invalid("the signed request is required"))?;
        let mut authenticated = self.authenticate_at(authenticate, &snapshot, now)?;
        let authorization = self.decide(
            &authenticated,
            &snapshot,
            &request.action,
            &request.resource,
            &keys,
            now,
        );
        Ok(pb::AuthenticateAndAuthorizeResponse {
            authentication: authenticated.response.take(),
            authorization: Some(authorization),
        })
    }

    /// One call of a batch or stream.
    pub fn call(&self, call: &pb::VerifierCall) -> pb::VerifierResult {
        use pb::verifier_call::Call;
        use pb::verifier_result::Result as Outcome;
        let result = match &call.call {
            Some(Call::Authenticate(request)) => {
                self.authenticate(request).map(Outcome::Authenticate)
            }
            Some(Call::Authorize(request)) => self.authorize(request).map(Outcome::Authorize),
            Some(Call::AuthenticateAndAuthorize(request)) => self
                .authenticate_and_authorize(request)
                .map(Outcome::AuthenticateAndAuthorize),
            None => Err(VerifierFailure::invalid("the call is empty")),
        };
        pb::VerifierResult {
            id: call.id,
            result: Some(result.unwrap_or_else(|failure| Outcome::Error(failure.0))),
        }
    }

    /// `Batch`: every call answered, in order.
    pub fn batch(
        &self,
        request: &pb::VerifierBatchRequest,
    ) -> Result<pb::VerifierBatchResponse, VerifierFailure> {
        if request.calls.len() > self.parts.limits.max_batch_calls {
            return Err(VerifierFailure::invalid(format!(
                "a batch holds at most {} calls",
                self.parts.limits.max_batch_calls
            )));
        }
        Ok(pb::VerifierBatchResponse {
            results: request.calls.iter().map(|call| self.call(call)).collect(),
        })
    }

    fn authenticate_at(
        &self,
        request: &pb::AuthenticateRequest,
        snapshot: &ConfigSnapshot,
        now: Timestamp,
    ) -> Result<Authenticated, VerifierFailure> {
        check_name("service", &request.service, 64)?;
        if RESERVED_SERVICES
            .iter()
            .any(|reserved| request.service.eq_ignore_ascii_case(reserved))
        {
            return Err(VerifierFailure::invalid(format!(
                "the signing name {} is reserved for Meridian's own APIs",
                request.service
            )));
        }
        check_name("region", &request.region, 32)?;
        let source_ip = parse_ip(&request.source_ip)?;
        let http = request
            .request
            .as_ref()
            .ok_or_else(|| VerifierFailure::invalid("the signed request is required"))?;
        let payload = match &http.payload {
            Some(pb::signed_http_request::Payload::Body(body)) => {
                if body.len() > self.parts.limits.max_body_bytes {
                    return Err(VerifierFailure::invalid(format!(
                        "an inline body holds at most {} bytes; send body_sha256",
                        self.parts.limits.max_body_bytes
                    )));
                }
                Payload::Body(body)
            }
            Some(pb::signed_http_request::Payload::BodySha256(hash)) => Payload::Sha256Hex(hash),
            None => Payload::Body(&[]),
        };
        if http.headers.len() > Limits::standard().max_headers {
            return Err(VerifierFailure::invalid("too many headers"));
        }
        let headers: Vec<(&str, &[u8])> = http
            .headers
            .iter()
            .map(|header| (header.name.as_str(), header.value.as_slice()))
            .collect();
        let core_request = Request {
            method: &http.method,
            path: &http.path,
            query: &http.query,
            headers: &headers,
            payload,
        };
        let policy = VerifierPolicy::for_resource_service(&request.service, &[&request.region]);
        let parsed = parse::parse(&policy, &core_request, &request.service, now)
            .map_err(|error| VerifierFailure::auth(&caller::AuthError::SigV4(error)))?;
        let session_token = parsed
            .session_token()
            .and_then(|token| token.as_str())
            .map(str::to_owned);
        let mut caller = caller::authenticate(
            &self.verifier,
            &self.parts.keys,
            parsed,
            &core_request,
            snapshot,
            now,
            self.parts.limits.token_leeway,
        )
        .map_err(|error| VerifierFailure::auth(&error))?;
        caller.source_ip = source_ip;

        let session_end = caller
            .session
            .as_deref()
            .map_or(Timestamp::from_unix_millis(i64::MAX), |s| s.expires_at);
        let expires_at = now.plus_millis(HANDLE_LIFETIME_MS).min(session_end);
        let handle = ContextHandle {
            expires_at,
            region: request.region.clone(),
            source_ip,
            access_key_id: caller.access_key_id.clone(),
            session_token,
        };
        let response = pb::AuthenticateResponse {
            context: Some(convert::session_context(&caller, snapshot.partition())),
            context_handle: handle.seal(&self.parts.keys),
            context_handle_expires_at_ms: expires_at.unix_millis(),
        };
        Ok(Authenticated {
            caller,
            region: request.region.clone(),
            response: Some(response),
        })
    }

    fn resume(
        &self,
        bytes: &[u8],
        snapshot: &ConfigSnapshot,
        now: Timestamp,
    ) -> Result<Authenticated, VerifierFailure> {
        let handle = ContextHandle::open(bytes, &self.parts.keys, now)
            .map_err(|_| VerifierFailure::invalid_handle())?;
        let mut caller = caller::resume(
            &self.parts.keys,
            snapshot,
            &handle.access_key_id,
            handle.session_token.as_deref(),
            now,
            self.parts.limits.token_leeway,
        )
        .map_err(|error| VerifierFailure::auth(&error))?;
        caller.source_ip = handle.source_ip;
        Ok(Authenticated {
            caller,
            region: handle.region,
            response: None,
        })
    }

    fn decide(
        &self,
        authenticated: &Authenticated,
        snapshot: &ConfigSnapshot,
        action: &str,
        resource: &str,
        keys: &[(&str, Value<'_>)],
        now: Timestamp,
    ) -> pb::AuthorizeResponse {
        let subject = Subject::resolve(
            &self.policies,
            &authenticated.caller,
            snapshot,
            &authenticated.region,
        );
        match subject.evaluate(action, resource, keys, now) {
            Verdict::Allow { statement, .. } => pb::AuthorizeResponse {
                decision: pb::Decision::Allow as i32,
                statement: statement.as_ref().map(convert::statement),
                ..pb::AuthorizeResponse::default()
            },
            Verdict::Deny(denial) => {
                let (kind, layer) = convert::deny_kind(denial.kind());
                let encoded = denial
                    .encoded_message(
                        &self.parts.keys,
                        &mut EntropyAdapter(self.parts.entropy.as_ref()),
                    )
                    .unwrap_or_else(|error| {
                        tracing::error!(%error, "authorization message could not be sealed");
                        String::new()
                    });
                pb::AuthorizeResponse {
                    decision: pb::Decision::Deny as i32,
                    deny_kind: kind as i32,
                    deny_layer: layer as i32,
                    statement: denial.statement().map(convert::statement),
                    message: denial.message(MessageStyle::Reasoned),
                    encoded_message: encoded,
                    authentication: None,
                }
            }
        }
    }

    /// The extra context keys, typed and checked.
    fn context_keys<'r>(
        &self,
        entries: &'r [pb::ContextEntry],
    ) -> Result<Vec<(&'r str, Value<'r>)>, VerifierFailure> {
        use pb::context_entry::Value as Entry;
        if entries.len() > self.parts.limits.max_context_entries {
            return Err(VerifierFailure::invalid(format!(
                "at most {} context keys",
                self.parts.limits.max_context_entries
            )));
        }
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let key = entry.key.as_str();
            if key.is_empty() || key.len() > MAX_CONTEXT_KEY_LEN || !key.contains(':') {
                return Err(VerifierFailure::invalid(format!(
                    "context key {key:?} is not of the form service:Name"
                )));
            }
            if reserved_key(key) {
                return Err(VerifierFailure::invalid(format!(
                    "context key {key} is derived from the credentials and may not be set"
                )));
            }
            let value = match &entry.value {
                Some(Entry::StringValue(text)) if text.len() <= MAX_CONTEXT_VALUE_LEN => {
                    Value::String(text)
                }
                Some(Entry::StringValue(_)) => {
                    return Err(VerifierFailure::invalid(format!(
                        "context value of {key} is longer than {MAX_CONTEXT_VALUE_LEN}"
                    )));
                }
                Some(Entry::NumberValue(number)) if number.is_finite() => Value::Number(*number),
                Some(Entry::DateValueMs(millis)) => {
                    Value::Date(Timestamp::from_unix_millis(*millis))
                }
                Some(Entry::BoolValue(flag)) => Value::Bool(*flag),
                Some(Entry::IpValue(text)) => Value::Ip(text.parse().map_err(|_| {
                    VerifierFailure::invalid(format!("context value of {key} is not an IP address"))
                })?),
                Some(Entry::BinaryValue(bytes)) if bytes.len() <= MAX_CONTEXT_VALUE_LEN => {
                    Value::Binary(bytes)
                }
                _ => {
                    return Err(VerifierFailure::invalid(format!(
                        "context value of {key} is missing or invalid"
                    )));
                }
            };
            keys.push((key, value));
        }
        Ok(keys)
    }
}

/// Whether `key` is one Meridian derives from the credentials (or an
/// identity provider's claim, `host/path:claim`).
fn reserved_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    let (service, _) = lower.split_once(':').unwrap_or((&lower, ""));
    if service.contains('.') || service.contains('/') {
        return true;
    }
    RESERVED_KEYS
        .iter()
        .any(|reserved| match reserved.strip_suffix('*') {
            Some(prefix) => lower.starts_with(prefix),
            None => lower == *reserved,
        })
}

fn check_name(what: &str, value: &str, max: usize) -> Result<(), VerifierFailure> {
    let valid = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(VerifierFailure::invalid(format!(
            "{what} must be 1 to {max} characters of a-z, 0-9 and -"
        )))
    }
}

fn check_action(action: &str, resource: &str) -> Result<(), VerifierFailure> {
    let Some((service, name)) = action.split_once(':') else {
        return Err(VerifierFailure::invalid(
            "the action must be service:Action",
        ));
    };
    if service.is_empty() || name.is_empty() || action.len() > MAX_ACTION_LEN {
        return Err(VerifierFailure::invalid(
            "the action must be service:Action",
        ));
    }
    if resource.is_empty() || resource.len() > MAX_RESOURCE_LEN {
        return Err(VerifierFailure::invalid(format!(
            "the resource must be 1 to {MAX_RESOURCE_LEN} characters"
        )));
    }
    Ok(())
}

fn parse_ip(text: &str) -> Result<Option<IpAddr>, VerifierFailure> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| VerifierFailure::invalid("source_ip is not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_derived_from_the_credentials_are_reserved() {
        let reserved = [
            "aws:PrincipalArn",
            "aws:PrincipalTag/team",
            "AWS:userid",
            "aws:TokenIssueTime",
            "aws:MultiFactorAuthPresent",
            "aws:SourceIp",
            "aws:RequestedRegion",
            "sts:ExternalId",
            "saml:sub",
            "token.actions.githubusercontent.com:sub",
            "accounts.google.com:aud",
        ];
        for key in reserved {
            assert!(reserved_key(key), "{key}");
        }
        let free = [
            "aws:RequestTag/team",
            "aws:ResourceTag/team",
            "aws:TagKeys",
            "aws:SecureTransport",
            "widgets:Color",
        ];
        for key in free {
            assert!(!reserved_key(key), "{key}");
        }
    }

    #[test]
    fn names_and_actions_are_checked() {
        assert!(check_name("service", "widgets", 64).is_ok());
        assert!(check_name("service", "Widgets", 64).is_err());
        assert!(check_name("service", "", 64).is_err());
        assert!(check_name("region", &"a".repeat(33), 32).is_err());
        assert!(check_action("widgets:GetWidget", "*").is_ok());
        assert!(check_action("GetWidget", "*").is_err());
        assert!(check_action("widgets:", "*").is_err());
        assert!(check_action("widgets:GetWidget", "").is_err());
        assert_eq!(parse_ip("").ok(), Some(None));
        assert!(parse_ip("300.1.1.1").is_err());
        assert!(parse_ip("::1").is_ok());
    }
}
