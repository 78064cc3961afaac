//! CPU cost of the state machine with a large configuration (10,000 roles in
//! 10 accounts, 100 keys): applying one command and publishing the snapshot
//! readers see, encoding a Raft snapshot, and decoding one.
//!
//! `cargo bench -p meridian-store --bench apply`; in test mode (`cargo test
//! --all-targets`) each bench runs once.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use meridian_core::config::command::Command;
use meridian_core::ids::AccountId;
use meridian_proto::pb;
use meridian_proto::pb_impl::impl_config_state::{state_from_pb, state_to_pb};
use meridian_store::testing::{create_role, large_state, request};
use prost::Message;

fn benches(c: &mut Criterion) {
    let state = large_state(10_000, 100);
    let account = AccountId::from_u64(100_000_000_000).expect("account id");

    // One state, changed in place as the state machine does: each
    // iteration creates a role and deletes it again (two applies with fresh
    // request ids, so the request log is exercised too) and publishes the
    // snapshot readers see. The account is one of the ten full ones.
    let mut live = state.clone();
    let mut n = 1_000_000u64;
    // Make room for one role in the first (full) account.
    let freed = live.apply(&request(
        n,
        Command::DeleteRole {
            account_id: account,
            role_name: String::from("service-role-0"),
        },
    ));
    assert!(freed.is_ok(), "{freed:?}");
    c.bench_function("create_and_delete_role_then_publish_10k_roles", |b| {
        b.iter(|| {
            n += 2;
            let created = live.apply(&request(n, create_role(account, n)));
            assert!(created.is_ok(), "{created:?}");
            let deleted = live.apply(&request(
                n + 1,
                Command::DeleteRole {
                    account_id: account,
                    role_name: format!("service-role-{n}"),
                },
            ));
            black_box(deleted.is_ok());
            black_box(live.snapshot())
        });
    });

    c.bench_function("apply_refused_command_10k_roles", |b| {
        b.iter(|| {
            n += 1;
            let command = Command::DeleteRole {
                account_id: account,
                role_name: String::from("no-such-role"),
            };
            black_box(live.apply(&request(n, command)))
        });
    });

    let encoded = state_to_pb(&state).encode_to_vec();
    let mut group = c.benchmark_group("snapshot_10k_roles");
    group.sample_size(10);
    group.bench_function("encode", |b| {
        b.iter(|| black_box(state_to_pb(&state).encode_to_vec()))
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            let message = pb::ConfigStateSnapshot::decode(encoded.as_slice()).expect("decode");
            black_box(state_from_pb(message).expect("valid state"))
        })
    });
    group.bench_function("sha256", |b| {
        b.iter(|| black_box(meridian_store::snapshot_data::sha256(&encoded)))
    });
    group.finish();
}

criterion_group!(apply, benches);
criterion_main!(apply);
