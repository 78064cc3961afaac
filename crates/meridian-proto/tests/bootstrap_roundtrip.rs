//! The `Bootstrap` command and the bootstrap record survive protobuf bytes
//! unchanged; a bootstrap nested in a bootstrap is refused by the decoder.

use meridian_core::config::cluster::bootstrap::BootstrapAdmin;
use meridian_core::config::command::{Command, ConfigRequest, RequestId};
use meridian_core::config::state::ConfigState;
use meridian_core::ids::AccountId;
use meridian_core::time::Timestamp;
use meridian_proto::pb;
use meridian_proto::pb_impl::impl_config_state::{state_from_pb, state_to_pb};
use prost::Message;

fn admin() -> BootstrapAdmin {
    BootstrapAdmin {
        account_id: AccountId::parse("123456789012").unwrap_or_else(|e| panic!("{e}")),
        user_name: String::from("admin"),
        access_key_id: String::from("AKIARZPUZDIKGB2VALC4"),
    }
}

fn request(command: Command) -> ConfigRequest {
    ConfigRequest {
        request_id: RequestId([9; 16]),
        issued_at: Timestamp::from_unix_seconds(1_800_000_000),
        command,
    }
}

fn round_trip(request: &ConfigRequest) -> Result<ConfigRequest, String> {
    let bytes = pb::ConfigRequest::from(request).encode_to_vec();
    let decoded = pb::ConfigRequest::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
    ConfigRequest::try_from(decoded).map_err(|e| e.to_string())
}

#[test]
fn bootstrap_commands_round_trip() {
    let cases = [
        Command::Bootstrap {
            node_id: 1,
            admin: Some(admin()),
            steps: vec![
                Command::CreateRegion {
                    name: String::from("eu-west-1"),
                    issuance_enabled: true,
                },
                Command::CreateAccount {
                    account_id: admin().account_id,
                    name: String::from("main"),
                },
            ],
        },
        Command::Bootstrap {
            node_id: 42,
            admin: None,
            steps: Vec::new(),
        },
    ];
    for command in cases {
        let request = request(command);
        assert_eq!(round_trip(&request), Ok(request.clone()));
    }
}

#[test]
fn a_nested_bootstrap_is_refused() {
    let inner = Command::Bootstrap {
        node_id: 2,
        admin: None,
        steps: Vec::new(),
    };
    let outer = request(Command::Bootstrap {
        node_id: 1,
        admin: None,
        steps: vec![inner],
    });
    let error = round_trip(&outer)
        .err()
        .unwrap_or_else(|| panic!("a nested bootstrap decoded"));
    assert!(error.contains("Bootstrap.steps"), "{error}");
}

#[test]
fn the_record_survives_a_snapshot() {
    let mut state = ConfigState::new();
    assert_eq!(
        state_to_pb(&state).bootstrap,
        None,
        "a fresh state has no record"
    );
    let applied = state.apply(&request(Command::Bootstrap {
        node_id: 3,
        admin: Some(admin()),
        steps: vec![Command::CreateAccount {
            account_id: admin().account_id,
            name: String::from("main"),
        }],
    }));
    assert!(applied.is_ok(), "{applied:?}");
    let bytes = state_to_pb(&state).encode_to_vec();
    let decoded = state_from_pb(
        pb::ConfigStateSnapshot::decode(bytes.as_slice()).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let record = decoded
        .view()
        .nodes()
        .bootstrap
        .clone()
        .unwrap_or_else(|| panic!("record lost"));
    assert_eq!(record.node_id, 3);
    assert_eq!(record.admin, Some(admin()));
    assert_eq!(
        record,
        state
            .view()
            .nodes()
            .bootstrap
            .clone()
            .unwrap_or_else(|| panic!())
    );
}
