//! The IAM policy language: parser, validator, compiler and evaluator.
//!
//! Every decision Meridian makes — may this caller assume that role, may this
//! session call `iam:CreateRole`, may this request reach that resource — is
//! an evaluation here. It is our own code rather than a crate (`iam-rs`
//! evaluates identity policies but returns "not applicable" for role trust
//! policies, and STS needs trust policies, boundaries, session policies and
//! AWS's exact error behaviour; `DEPENDENCIES.md` §1.3).
//!
//! # Using it
//!
//! ```
//! use std::sync::Arc;
//! use meridian_core::policy::compile::Policy;
//! use meridian_core::policy::context::{Caller, RequestContext};
//! use meridian_core::policy::evaluate::{authorize_assume_role, PermissionSet};
//! use meridian_core::policy::kind::PolicyKind;
//! use meridian_core::time::Timestamp;
//!
//! let trust = Policy::parse(PolicyKind::Trust, r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
//!                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
//!                    "Condition": {"StringEquals": {"sts:ExternalId": "Unique"}}}]
//! }"#).unwrap();
//! let identity = vec![Arc::new(Policy::parse(PolicyKind::Managed, r#"{
//!     "Version": "2012-10-17",
//!     "Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}
//! }"#).unwrap())];
//!
//! let mut ctx = RequestContext::new("sts:AssumeRole", Timestamp::from_unix_seconds(1_700_000_000))
//!     .with_resource("arn:aws:iam::444455556666:role/Partner")
//!     .with_caller(Caller::User {
//!         account: "111122223333",
//!         arn: "arn:aws:iam::111122223333:user/alice",
//!         user_id: None,
//!     });
//! ctx.insert("sts:ExternalId", meridian_core::policy::context::Value::String("Unique"));
//!
//! let decision = authorize_assume_role(&trust, Some(&PermissionSet::identity(&identity)), &ctx);
//! assert!(decision.is_allowed());
//! assert!(decision.cross_account);
//! ```
//!
//! Parse once ([`compile::Policy::parse`], which picks the grammar and size
//! limit from the [`kind::PolicyKind`]), keep the `Arc<Policy>` in the
//! configuration snapshot, and build a [`context::RequestContext`] per
//! request. [`evaluate::authorize`] answers identity-based questions,
//! [`evaluate::authorize_assume_role`] trust-policy questions and
//! [`evaluate::authorize_resource_access`] other resource-policy questions.
//! Whether a request is cross-account is decided from the caller's account
//! and the resource's: the ARN's account part, or
//! [`context::RequestContext::with_resource_account`] for ARNs that have
//! none (S3). A deny is a [`evaluate::Decision`] naming the statement (policy
//! index, statement index, `Sid`) and the [`evaluate::Reason`], for audit
//! logs and `DecodeAuthorizationMessage`; only a rejected document is an
//! error ([`errors::PolicyError`], with AWS's code and wording).
//!
//! # Grammar accepted
//!
//! ```text
//! document   = { "Version"?: "2012-10-17" | "2008-10-17",   (absent = 2008-10-17)
//!                "Id"?: string,
//!                "Statement": statement | [statement, …] }  (non-empty)
//! statement  = { "Sid"?: string,                             ([0-9A-Za-z]*, unique; any text in Resource kind)
//!                "Effect": "Allow" | "Deny",                 (exact case)
//!                ("Principal" | "NotPrincipal")?: principal, (resource-based kinds only)
//!                "Action" | "NotAction": strings,            (required, non-empty)
//!                ("Resource" | "NotResource")?: strings,     (required except in trust policies, where forbidden)
//!                "Condition"?: { operator: { key: value | [value, …] } } }
//! strings    = string | [string, …]
//! principal  = "*" | { ("AWS" | "Federated" | "Service" | "CanonicalUser"): strings }
//! action     = "*" | vendor ":" name-pattern                 (vendor [A-Za-z0-9.-]+ or *)
//! resource   = "*" | "arn:" partition ":" service ":" region ":" account ":" resource
//! operator   = ["ForAnyValue:" | "ForAllValues:"] base ["IfExists"]
//! value      = string | number | boolean
//! ```
//!
//! Trust policies must name a `Principal`, may not have `Resource`,
//! `NotResource` or `NotPrincipal`, and may only name STS actions. Identity
//! policies (managed, inline, boundary, session) may not name principals and
//! must have resources. Unknown elements, wrong JSON types, unknown
//! operators, duplicate JSON keys, invalid principals, malformed ARNs and
//! values that do not fit their operator are `MalformedPolicyDocument`.
//! Sizes are checked before parsing: managed and boundary 6,144, role inline
//! 10,240, group inline 5,120, user inline 2,048, trust 2,048 (raisable),
//! counted as IAM counts them (characters, whitespace outside strings not
//! counted); session policies 2,048 raw characters (the STS parameter
//! limit); nesting deeper than 16 levels is refused without recursing.
//!
//! # Evaluation
//!
//! ```text
//!              RequestContext (action, resource, caller, keys)
//!                               │
//!        ┌──────────────────────┼───────────────────────────┐
//!        ▼                      ▼                           ▼
//!   trust/resource policy   identity policies          boundary, session
//!   (Principal must name    (any Allow, any Deny)      (any Allow, any Deny)
//!    the caller)                 │                           │
//!        │                       └────────── ∩ ──────────────┘
//!        ▼                                   ▼
//!   explicit Deny anywhere ─────────────► Deny
//!   combine by account and by how Principal named the caller
//!   (see `evaluate.rs`) ─────────────────► Allow | implicit Deny
//! ```
//!
//! A statement applies when its action matches (`Action`: any pattern
//! matches; `NotAction`: none does), its resource matches (likewise), its
//! principal names the caller (resource-based policies) and every condition
//! holds. Action matching ignores case; resource and ARN matching is
//! case-sensitive and part by part. Wildcards are `*` and `?` (`wildcard.rs`:
//! linear-time, no backtracking).
//!
//! # Operators
//!
//! `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
//! `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`,
//! `NumericEquals`, `NumericNotEquals`, `NumericLessThan`,
//! `NumericLessThanEquals`, `NumericGreaterThan`, `NumericGreaterThanEquals`,
//! `DateEquals`, `DateNotEquals`, `DateLessThan`, `DateLessThanEquals`,
//! `DateGreaterThan`, `DateGreaterThanEquals`, `Bool`, `BinaryEquals`,
//! `IpAddress`, `NotIpAddress` (IPv4 and IPv6 CIDR), `ArnEquals`, `ArnLike`,
//! `ArnNotEquals`, `ArnNotLike`, `Null`; every one but `Null` with
//! `IfExists`; `ForAnyValue:` and `ForAllValues:` on all. Semantics in
//! `conditions.rs`.
//!
//! # Keys
//!
//! Any key name is accepted (`vendor:name`, case-insensitive). Interned for
//! speed ([`keys::KnownKey`]): `aws:CurrentTime`, `aws:EpochTime`,
//! `aws:SourceIp`, `aws:SecureTransport`, `aws:UserAgent`, `aws:Referer`,
//! `aws:RequestedRegion`, `aws:PrincipalArn`, `aws:PrincipalAccount`,
//! `aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `aws:PrincipalType`,
//! `aws:PrincipalIsAWSService`, `aws:PrincipalServiceName`,
//! `aws:PrincipalServiceNamesList`, `aws:userid`, `aws:username`,
//! `aws:TokenIssueTime`, `aws:MultiFactorAuthPresent`,
//! `aws:MultiFactorAuthAge`, `aws:SourceIdentity`, `aws:FederatedProvider`,
//! `aws:ViaAWSService`, `aws:CalledVia`, `aws:CalledViaFirst`,
//! `aws:CalledViaLast`, `aws:SourceArn`, `aws:SourceAccount`,
//! `aws:SourceOrgID`, `aws:SourceOrgPaths`, `aws:SourceVpc`,
//! `aws:SourceVpce`, `aws:VpcSourceIp`, `aws:TagKeys`, `aws:ResourceAccount`,
//! `aws:ResourceOrgID`, `aws:ResourceOrgPaths`, `sts:ExternalId`,
//! `sts:RoleSessionName`, `sts:SourceIdentity`, `sts:TransitiveTagKeys`,
//! `sts:DurationSeconds`, `sts:AWSServiceName`, `sts:IdentityTokenScope`,
//! `sts:SubjectMode`; the tag families `aws:PrincipalTag/…`,
//! `aws:RequestTag/…`, `aws:ResourceTag/…`. Provider claim keys
//! (`accounts.google.com:sub`, `oidc.eks…/id/X:aud`, `saml:sub`,
//! `saml:edupersonaffiliation`, …) are ordinary keys. Policy variables
//! (`${aws:username}`, `${aws:PrincipalTag/team, 'default'}`, `${*}`, `${?}`,
//! `${$}`) work in `Resource`/`NotResource` and in `String*`, `Arn*` and
//! `Bool` values of 2012-10-17 documents.
//!
//! # Known deviations from AWS
//!
//! * Duplicate JSON keys are rejected (`Duplicate key … in policy`); AWS
//!   silently keeps one of them, which can drop a `Deny` condition.
//! * Unknown condition operators are rejected even with an empty body; AWS
//!   accepts them when the body is empty. `NullIfExists` is rejected.
//! * Malformed numbers, booleans, CIDRs and base64 in conditions are rejected
//!   when the policy is saved (AWS documents only dates being checked then;
//!   such values could never match anyway).
//! * Principal values are checked for form only; checking that a named user
//!   or role exists, and storing it as its unique id, is the store's job
//!   ([`compile::Policy::principals`] lists them). Unique ids (`AIDA…`,
//!   `AROA…`) in `Principal` are matched against the caller's ids.
//! * `"Principal": {"AWS": "*"}` matches AWS principals and anonymous
//!   callers (for which AWS documents it as equal to `"*"`), but not
//!   web-identity, SAML or service callers, which only `"*"` or their own
//!   `Federated`/`Service` entry match; AWS does not document that case, and
//!   this is the stricter reading.
//! * `NotPrincipal` (allowed in the generic resource kind only) leaves a
//!   caller out only when every level of its identity is listed (account and
//!   user; account, role and session), which is how AWS tells authors to
//!   write it; AWS does not specify the partial cases, and treating them as
//!   covered is the safe reading for `Deny`.
//! * SCPs and RCPs (AWS Organizations) are not modelled.
//! * Several session policies (inline plus managed ARNs) form one layer: any
//!   of them allowing is enough, as for identity policies.
//! * Unicode case folding in `StringEqualsIgnoreCase` uses Rust's lowercase
//!   mapping; tag and key names ignore ASCII case only.

pub mod compile;
pub mod conditions;
pub mod context;
mod document;
pub mod errors;
pub mod evaluate;
mod json;
pub mod keys;
pub mod kind;
mod matchers;
pub mod principals;
mod validate;
mod values;
mod variables;
pub mod wildcard;
