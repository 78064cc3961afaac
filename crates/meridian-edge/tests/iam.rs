//! Router tests of the IAM-compatible API (`Version=2010-05-08`): requests
//! signed with SigV4, authenticated by the edge's real authenticator,
//! authorized by the policy evaluator, and written through an in-memory
//! `ConfigWriter` that runs the real state machine (`iam/support.rs`).
//!
//! One binary with a module per entity group, as the workspace's
//! integration tests are laid out.

#[path = "iam/support.rs"]
mod support;

#[path = "iam/users.rs"]
mod users;

#[path = "iam/roles.rs"]
mod roles;

#[path = "iam/managed.rs"]
mod managed;

#[path = "iam/providers.rs"]
mod providers;

#[path = "iam/aws_managed.rs"]
mod aws_managed;

#[path = "iam/outbound.rs"]
mod outbound;
