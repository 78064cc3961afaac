//! In-process clusters of real nodes over real gRPC on 127.0.0.1, with
//! faults injected by per-link proxies (`meridian-test-support`). Each test
//! states its scenario in its doc comment and bounds its own time.

mod failover;
mod membership;
mod oracle;
mod partition;
mod replication;
mod snapshot_transfer;

use std::time::Duration;

use meridian_core::config::command::Command;
use meridian_core::config::model::Tags;
use meridian_core::ids::AccountId;

/// The account every scenario writes into.
pub(crate) fn account() -> AccountId {
    AccountId::parse("123456789012").expect("valid account id")
}

pub(crate) fn create_account() -> Command {
    Command::CreateAccount {
        account_id: account(),
        name: String::from("tenant"),
    }
}

/// Creates role `role-{n}` (unique id derived from `n`).
pub(crate) fn create_role(n: u64) -> Command {
    Command::CreateRole {
        account_id: account(),
        role_name: format!("role-{n}"),
        path: String::from("/"),
        role_id: format!("AROA{n:016}"),
        trust_policy: String::from(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#,
        ),
        description: String::new(),
        max_session_duration: None,
        permissions_boundary: None,
        tags: Tags::new(),
    }
}

/// Generous bound for an election plus a round trip on a loaded 2-core host.
pub(crate) const ELECTION: Duration = Duration::from_secs(5);
