//! Tests of the cluster and administrator bootstrap against the real state
//! machine (`ConfigState::apply`) behind an in-memory writer: one entry,
//! never a second one, retries answered from the request log, racing
//! bootstrappers, clusters bootstrapped before the record existed.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use meridian_core::config::command::{ConfigRequest, Response};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::config::state::ConfigState;
use meridian_core::keyring::SealedSecret;
use meridian_core::rand::DeterministicRandom;
use meridian_core::time::Timestamp;
use meridian_edge::state::{BoxFuture, Clock, ConfigWriter, WriteError, WriteOutcome};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::*;

/// Applies requests to a `ConfigState` and publishes snapshots, as the store
/// does after an entry is committed and applied; can refuse writes as a
/// cluster without quorum does.
struct MemoryWriter {
    state: Mutex<(ConfigState, u64)>,
    published: watch::Sender<Arc<ConfigSnapshot>>,
    unavailable_first: Mutex<usize>,
    submitted: Mutex<Vec<String>>,
}

impl MemoryWriter {
    fn new() -> Arc<MemoryWriter> {
        let state = ConfigState::new();
        let (published, _) = watch::channel(state.snapshot());
        Arc::new(MemoryWriter {
            state: Mutex::new((state, 0)),
            published,
            unavailable_first: Mutex::new(0),
            submitted: Mutex::new(Vec::new()),
        })
    }

    fn apply(&self, request: &ConfigRequest) -> WriteOutcome {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (state, index) = &mut *guard;
        *index += 1;
        let outcome = state.apply(request);
        state.set_applied_index(*index);
        self.published.send_replace(state.snapshot());
        outcome
    }
}

impl ConfigWriter for MemoryWriter {
    fn submit(&self, request: ConfigRequest) -> BoxFuture<'_, Result<WriteOutcome, WriteError>> {
        Box::pin(async move {
            {
                let mut left = self
                    .unavailable_first
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if *left > 0 {
                    *left -= 1;
                    return Err(WriteError::Unavailable(String::from("no leader yet")));
                }
            }
            self.submitted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(request.command.name().to_owned());
            Ok(self.apply(&request))
        })
    }
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000)
    }
}

fn plan(admin: Option<AdminBootstrap>) -> BootstrapPlan {
    BootstrapPlan {
        node_id: 1,
        partition: Partition::aws(),
        regions: vec![
            String::from("us-east-1"),
            String::from("eu-west-1"),
            String::from("ap-southeast-2"),
        ],
        admin,
        member_ids: vec![1, 2, 3],
    }
}

fn admin(seed: u64) -> AdminBootstrap {
    AdminBootstrap::generate("dev", "admin", &mut DeterministicRandom::from_seed(seed))
        .unwrap_or_else(|e| panic!("generate: {e}"))
}

async fn run_once(
    writer: &Arc<MemoryWriter>,
    plan: &BootstrapPlan,
    kek: &Kek,
    seed: u64,
) -> BootstrapOutcome {
    let mut rng = DeterministicRandom::from_seed(seed);
    let ctx = BootstrapContext {
        writer: writer.as_ref(),
        snapshots: writer.published.subscribe(),
        kek,
        clock: &FixedClock,
        rng: &mut rng,
        cancel: CancellationToken::new(),
    };
    tokio::time::timeout(Duration::from_secs(10), run(plan, ctx))
        .await
        .unwrap_or_else(|_| panic!("bootstrap did not finish"))
        .unwrap_or_else(|e| panic!("bootstrap failed: {e}"))
}

fn submitted(writer: &MemoryWriter) -> Vec<String> {
    writer
        .submitted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

fn kek() -> Kek {
    Kek::generate(&mut DeterministicRandom::from_seed(99))
        .unwrap_or_else(|e| panic!("kek: {e}"))
        .0
}

#[tokio::test]
async fn bootstraps_cluster_and_administrator_in_one_entry_then_nothing_more() {
    let writer = MemoryWriter::new();
    let kek = kek();
    let admin = admin(5);
    let plan = plan(Some(admin.clone()));

    let outcome = run_once(&writer, &plan, &kek, 1).await;
    assert_eq!(
        outcome,
        BootstrapOutcome::Applied {
            steps: [
                "region/us-east-1",
                "region/eu-west-1",
                "region/ap-southeast-2",
                "data-key/stage",
                "data-key/activate",
                "account",
                "admin/user",
                "admin/attach-aws-managed",
                "admin/access-key",
            ]
            .map(String::from)
            .to_vec()
        }
    );
    assert_eq!(submitted(&writer), ["Bootstrap"]);

    let snapshot = writer.published.borrow().clone();
    let record = snapshot
        .nodes()
        .bootstrap
        .clone()
        .unwrap_or_else(|| panic!("no bootstrap record"));
    assert_eq!(record.node_id, 1);
    assert!(record_names(&record, &admin));
    assert!(!record_names(&record, &self::admin(6)));
    assert_eq!(snapshot.regions().len(), 3);
    let active = snapshot
        .key_ring()
        .active(KeyPurpose::SessionToken)
        .unwrap_or_else(|| panic!("no active key"));
    assert_eq!(active.term, 1);
    let account = snapshot
        .account(&admin.account_id)
        .unwrap_or_else(|| panic!("no account"));
    // No customer managed copy: the AWS managed policy, allowing everything.
    assert!(account.policy(ADMIN_POLICY_NAME).is_none());
    let user = account.user("admin").unwrap_or_else(|| panic!("no user"));
    let attached = "arn:aws:iam::aws:policy/AdministratorAccess";
    assert_eq!(
        user.attached_policies.iter().collect::<Vec<_>>(),
        [attached],
        "{:?}",
        user.attached_policies
    );
    let policy = snapshot
        .managed_policy(attached)
        .unwrap_or_else(|| panic!("no AWS managed policy"));
    let document = &policy.versions[&policy.default_version].document;
    assert_eq!(
        document.as_str(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
    );
    // The replicated secret opens, under the KEK, to the file's secret.
    let entry = snapshot
        .access_key(admin.access_key_id.as_str())
        .unwrap_or_else(|| panic!("no access key"));
    let sealed = SealedSecret::from_bytes(entry.key.sealed_secret.0.clone())
        .unwrap_or_else(|e| panic!("sealed: {e}"));
    let opened = kek
        .open_access_key_secret(&admin.access_key_id, &sealed)
        .unwrap_or_else(|e| panic!("open: {e}"));
    assert_eq!(
        opened.expose_secret(),
        admin.secret_access_key.expose_secret()
    );
    // The data key unwraps under the KEK as key 1.
    let wrapped = meridian_core::keyring::WrappedKey::from_bytes(active.sealed_key.0.clone())
        .unwrap_or_else(|e| panic!("wrapped: {e}"));
    let key = kek
        .unwrap(&wrapped)
        .unwrap_or_else(|e| panic!("unwrap: {e}"));
    assert_eq!(key.id(), KeyId::new(1));

    // A second run (a restart before the file was deleted) proposes nothing.
    let again = run_once(&writer, &plan, &kek, 2).await;
    assert_eq!(again, BootstrapOutcome::AlreadyBootstrapped(record));
    assert_eq!(submitted(&writer), ["Bootstrap"]);
}

#[tokio::test]
async fn a_leftover_file_never_recreates_a_deleted_key() {
    let writer = MemoryWriter::new();
    let kek = kek();
    let admin = admin(5);
    let plan = plan(Some(admin.clone()));
    run_once(&writer, &plan, &kek, 1).await;
    let deleted = writer.apply(&ConfigRequest {
        request_id: RequestId([1; 16]),
        issued_at: FixedClock.now(),
        command: Command::DeleteAccessKey {
            account_id: admin.account_id,
            user_name: Some(String::from("admin")),
            access_key_id: admin.access_key_id.as_str().to_owned(),
        },
    });
    assert_eq!(deleted, Ok(Response::Done));

    // The same file again, and another one: nothing proposed, nothing made.
    for (seed, file) in [(2, admin.clone()), (3, self::admin(6))] {
        let outcome = run_once(&writer, &self::plan(Some(file.clone())), &kek, seed).await;
        let record = outcome
            .existing_record()
            .cloned()
            .unwrap_or_else(|| panic!("bootstrapped again: {outcome:?}"));
        assert_eq!(
            record_names(&record, &file),
            file.account_id == admin.account_id
        );
        let snapshot = writer.published.borrow().clone();
        assert!(snapshot.access_key(admin.access_key_id.as_str()).is_none());
        assert!(snapshot.account(&self::admin(6).account_id).is_none());
    }
    assert_eq!(submitted(&writer), ["Bootstrap"]);
}

#[tokio::test]
async fn waits_for_a_quorum_and_retries_with_the_same_request_id() {
    let writer = MemoryWriter::new();
    *writer
        .unavailable_first
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = 3;
    let kek = kek();
    let outcome = run_once(&writer, &plan(None), &kek, 3).await;
    assert!(
        matches!(&outcome, BootstrapOutcome::Applied { steps } if steps.contains(&String::from("data-key/activate"))),
        "{outcome:?}"
    );
    // Without an administrator file, no account is created, and the record
    // says so.
    let snapshot = writer.published.borrow().clone();
    assert_eq!(snapshot.accounts().count(), 0);
    assert_eq!(
        snapshot.nodes().bootstrap.as_ref().map(|r| r.admin.clone()),
        Some(None)
    );

    // The request id is stable across runs and processes for one plan.
    let seed = cluster_seed(&[3, 1, 2]);
    assert_eq!(
        request_id(&seed, "bootstrap/0/partition"),
        request_id(&cluster_seed(&[1, 2, 3]), "bootstrap/0/partition")
    );
    assert_ne!(
        request_id(&seed, "bootstrap/0/partition"),
        request_id(&seed, "bootstrap/1/partition")
    );
}

#[tokio::test]
async fn a_lost_answer_is_answered_from_the_request_log() {
    // Simulates an unknown outcome: the entry applied, but the answer was
    // lost; the retry (another process, other random content) carries the
    // same request id and gets the first outcome, and the state machine's
    // record says the cluster is bootstrapped.
    let writer = MemoryWriter::new();
    let kek = kek();
    let plan = plan(None);
    let first = run_once(&writer, &plan, &kek, 4).await;
    assert!(
        matches!(first, BootstrapOutcome::Applied { .. }),
        "{first:?}"
    );
    let fresh = MemoryWriter::new();
    let mut rng = DeterministicRandom::from_seed(5);
    let mut ctx = BootstrapContext {
        writer: fresh.as_ref(),
        snapshots: fresh.published.subscribe(),
        kek: &kek,
        clock: &FixedClock,
        rng: &mut rng,
        cancel: CancellationToken::new(),
    };
    let (labels, steps) = plan_steps(&plan, &fresh.published.borrow().clone(), &mut ctx)
        .unwrap_or_else(|e| panic!("{e}"));
    let retry = ConfigRequest {
        request_id: request_id(
            &cluster_seed(&plan.member_ids),
            &format!("bootstrap/0/{}", labels.join(",")),
        ),
        issued_at: FixedClock.now(),
        command: Command::Bootstrap {
            node_id: 1,
            admin: None,
            steps,
        },
    };
    assert_eq!(writer.apply(&retry), Ok(Response::Done));
    assert_eq!(submitted(&writer), ["Bootstrap"]);
}

#[tokio::test]
async fn two_racing_bootstrappers_leave_one_bootstrap() {
    let writer = MemoryWriter::new();
    let kek = kek();
    let (first, second) = (plan(Some(admin(10))), plan(Some(admin(11))));
    let (a, b) = tokio::join!(
        run_once(&writer, &first, &kek, 10),
        run_once(&writer, &second, &kek, 11)
    );
    let applied = [&a, &b]
        .iter()
        .filter(|o| matches!(o, BootstrapOutcome::Applied { .. }))
        .count();
    assert_eq!(applied, 1, "{a:?} {b:?}");
    let snapshot = writer.published.borrow().clone();
    assert_eq!(snapshot.accounts().count(), 1);
    assert_eq!(
        snapshot.key_ring().latest_term(KeyPurpose::SessionToken),
        Some(1)
    );
    assert!(snapshot.nodes().bootstrap.is_some());
}

#[tokio::test]
async fn a_cluster_bootstrapped_before_records_existed_is_adopted() {
    // What an earlier release left: every step applied one by one, no record.
    let writer = MemoryWriter::new();
    let kek = kek();
    let admin = admin(5);
    let mut rng = DeterministicRandom::from_seed(1);
    let mut ctx = BootstrapContext {
        writer: writer.as_ref(),
        snapshots: writer.published.subscribe(),
        kek: &kek,
        clock: &FixedClock,
        rng: &mut rng,
        cancel: CancellationToken::new(),
    };
    let plan = plan(Some(admin.clone()));
    let (_, steps) = plan_steps(&plan, &writer.published.borrow().clone(), &mut ctx)
        .unwrap_or_else(|e| panic!("{e}"));
    for (i, step) in steps.into_iter().enumerate() {
        let applied = writer.apply(&ConfigRequest {
            request_id: RequestId([i as u8 + 100; 16]),
            issued_at: FixedClock.now(),
            command: step,
        });
        assert!(applied.is_ok(), "{applied:?}");
    }
    assert_eq!(writer.published.borrow().nodes().bootstrap, None);

    // A file for another account is not applied, and the record it leaves
    // names no administrator.
    let other = self::admin(6);
    let outcome = run_once(&writer, &self::plan(Some(other.clone())), &kek, 2).await;
    let BootstrapOutcome::Adopted(record) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(record.admin, None);
    assert!(!record_names(record, &other));
    assert!(
        writer
            .published
            .borrow()
            .account(&other.account_id)
            .is_none()
    );
    assert_eq!(submitted(&writer), ["Bootstrap"]);

    // On a second such cluster, the file that bootstrapped it is recognised.
    let second = MemoryWriter::new();
    let mut rng = DeterministicRandom::from_seed(1);
    let mut ctx = BootstrapContext {
        writer: second.as_ref(),
        snapshots: second.published.subscribe(),
        kek: &kek,
        clock: &FixedClock,
        rng: &mut rng,
        cancel: CancellationToken::new(),
    };
    let (_, steps) = plan_steps(&plan, &second.published.borrow().clone(), &mut ctx)
        .unwrap_or_else(|e| panic!("{e}"));
    for (i, step) in steps.into_iter().enumerate() {
        let applied = second.apply(&ConfigRequest {
            request_id: RequestId([i as u8 + 100; 16]),
            issued_at: FixedClock.now(),
            command: step,
        });
        assert!(applied.is_ok(), "{applied:?}");
    }
    let outcome = run_once(&second, &plan, &kek, 3).await;
    let BootstrapOutcome::Adopted(record) = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(record_names(record, &admin));
}

#[test]
fn files_round_trip_and_are_checked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("bootstrap-admin.json");
    let admin = admin(7);
    admin.write_new(&path).unwrap_or_else(|e| panic!("{e}"));
    let mode = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let read = AdminBootstrap::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.account_id, admin.account_id);
    assert_eq!(read.access_key_id, admin.access_key_id);
    assert_eq!(
        read.secret_access_key.expose_secret(),
        admin.secret_access_key.expose_secret()
    );
    assert!(admin.write_new(&path).is_err(), "overwrote the file");
    assert!(
        !format!("{read:?}").contains(admin.secret_access_key.expose_secret()),
        "Debug printed the secret"
    );

    // A key of another account, and a world-readable file, are refused.
    let other = self::admin(8);
    let mismatched = admin
        .to_json()
        .replace(admin.access_key_id.as_str(), other.access_key_id.as_str());
    let error = AdminBootstrap::from_json(&mismatched, "x")
        .err()
        .unwrap_or_else(|| panic!("accepted a foreign key"));
    assert!(error.to_string().contains("access_key_id"), "{error}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(AdminBootstrap::read(&path).is_err());

    consume_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(std::fs::metadata(&path).is_err());
    consume_file(&path).unwrap_or_else(|e| panic!("consuming twice: {e}"));

    // A refused file is set aside under a name no config points at.
    admin.write_new(&path).unwrap_or_else(|e| panic!("{e}"));
    let aside = set_aside(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(aside, dir.path().join("bootstrap-admin.json.refused"));
    assert!(std::fs::metadata(&path).is_err());
    assert!(std::fs::metadata(&aside).is_ok());
}

#[test]
fn generated_credentials_belong_to_the_chosen_account_and_names_are_checked() {
    let account = AccountId::parse("123456789012").unwrap_or_else(|e| panic!("{e}"));
    let mut rng = DeterministicRandom::from_seed(3);
    let admin = AdminBootstrap::generate_in(account, "main", "admin", &mut rng)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(admin.access_key_id.account(), Some(account));
    // What the file reader accepts, the generator accepts, and no more.
    let parsed = AdminBootstrap::from_json(&admin.to_json(), "x").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.access_key_id, admin.access_key_id);
    for bad in ["", "no spaces", &"x".repeat(65)] {
        assert!(!valid_name(bad), "{bad:?}");
        assert!(AdminBootstrap::generate_in(account, bad, "admin", &mut rng).is_err());
        assert!(AdminBootstrap::generate_in(account, "main", bad, &mut rng).is_err());
    }
}
