//! Tests of the cluster and administrator bootstrap against the real state
//! machine (`ConfigState::apply`) behind an in-memory writer.

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
) -> BootstrapReport {
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

fn kek() -> Kek {
    Kek::generate(&mut DeterministicRandom::from_seed(99))
        .unwrap_or_else(|e| panic!("kek: {e}"))
        .0
}

#[tokio::test]
async fn bootstraps_cluster_and_administrator_then_nothing_more() {
    let writer = MemoryWriter::new();
    let kek = kek();
    let admin = admin(5);
    let plan = plan(Some(admin.clone()));

    let report = run_once(&writer, &plan, &kek, 1).await;
    assert_eq!(
        report.proposed,
        [
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
    );

    let snapshot = writer.published.borrow().clone();
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

    // A second run (a restart after the file was not yet deleted) proposes nothing.
    let before = writer.submitted.lock().map(|s| s.len()).unwrap_or(0);
    let again = run_once(&writer, &plan, &kek, 2).await;
    assert!(again.proposed.is_empty(), "{:?}", again.proposed);
    assert_eq!(
        writer.submitted.lock().map(|s| s.len()).unwrap_or(0),
        before
    );
}

#[tokio::test]
async fn waits_for_a_quorum_and_retries_with_the_same_request_ids() {
    let writer = MemoryWriter::new();
    *writer
        .unavailable_first
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = 3;
    let kek = kek();
    let report = run_once(&writer, &plan(None), &kek, 3).await;
    assert!(report.proposed.contains(&String::from("data-key/activate")));
    // Without an administrator file, no account is created.
    assert_eq!(writer.published.borrow().accounts().count(), 0);

    // The request id of a step is stable across runs and processes.
    let seed = cluster_seed(&[3, 1, 2]);
    assert_eq!(
        request_id(&seed, "data-key/stage"),
        request_id(&cluster_seed(&[1, 2, 3]), "data-key/stage")
    );
    assert_ne!(
        request_id(&seed, "data-key/stage"),
        request_id(&seed, "data-key/activate")
    );
}

#[tokio::test]
async fn a_retried_request_is_answered_from_the_request_log() {
    // Simulates an unknown outcome: the step applied, but the answer was
    // lost, and the retry carries different random content.
    let writer = MemoryWriter::new();
    let kek = kek();
    let plan = plan(None);
    let seed = cluster_seed(&plan.member_ids);
    let first = ConfigRequest {
        request_id: request_id(&seed, "region/us-east-1"),
        issued_at: FixedClock.now(),
        command: Command::CreateRegion {
            name: String::from("us-east-1"),
            issuance_enabled: true,
        },
    };
    assert_eq!(writer.apply(&first), Ok(Response::Done));
    assert_eq!(writer.apply(&first), Ok(Response::Done));
    let report = run_once(&writer, &plan, &kek, 4).await;
    assert!(!report.proposed.contains(&String::from("region/us-east-1")));
}

#[tokio::test]
async fn two_racing_bootstrappers_leave_one_first_key() {
    let writer = MemoryWriter::new();
    let kek = kek();
    let plan = plan(None);
    let (a, b) = tokio::join!(
        run_once(&writer, &plan, &kek, 10),
        run_once(&writer, &plan, &kek, 11)
    );
    assert!(a.proposed.len() + b.proposed.len() >= 5);
    let snapshot = writer.published.borrow().clone();
    assert_eq!(
        snapshot.key_ring().latest_term(KeyPurpose::SessionToken),
        Some(1)
    );
    assert!(
        snapshot
            .key_ring()
            .active(KeyPurpose::SessionToken)
            .is_some()
    );
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
}
