//! The audit writer on a real directory: group commit, the chain across
//! rotations and restarts, the verifier against edits, deletions and
//! reordering, a partial last line, and failing closed on an I/O error
//! (`/dev/full`) and on a stalled disk (a FIFO nobody reads).

use std::path::{Path, PathBuf};
use std::time::Duration;

use meridian_core::time::Timestamp;
use meridian_edge::audit::{
    Actor, AuditError, AuditEvent, AuditKind, ConfigChange, Decision, Issuance,
};

use super::verify::{VerifyError, verify_files};
use super::*;

fn issuance(n: u64) -> AuditEvent {
    AuditEvent {
        request_id: format!("req-{n}"),
        at: Timestamp::from_unix_seconds(1_800_000_000),
        kind: AuditKind::Issuance(Issuance {
            action: "AssumeRole",
            actor: Actor {
                arn: Some(String::from("arn:aws:iam::111111111111:user/alice")),
                access_key_id: Some(String::from("AKIAEXAMPLE")),
                account: Some(String::from("111111111111")),
                source_ip: None,
            },
            role_arn: Some(String::from("arn:aws:iam::111111111111:role/dev")),
            session_name: Some(format!("s{n}")),
            principal_arn: Some(format!("arn:aws:sts::111111111111:assumed-role/dev/s{n}")),
            provider_arn: None,
            source_identity: Some(String::from("alice")),
            tags: vec![(String::from("team"), String::from("blue"), true)],
            region: String::from("eu-west-1"),
            key_id: Some(3),
            access_key_id: Some(String::from("ASIAEXAMPLE")),
            session_id: Some(String::from("00ff")),
            expires_at: Some(Timestamp::from_unix_seconds(1_800_003_600)),
            decision: Decision::Allow,
        }),
    }
}

fn change(n: u64) -> AuditEvent {
    AuditEvent {
        request_id: format!("req-{n}"),
        at: Timestamp::from_unix_seconds(1_800_000_000),
        kind: AuditKind::ConfigChange(ConfigChange {
            action: "CreateUser",
            command: "CreateUser",
            actor: Actor::default(),
            target: vec![("UserName", format!("user{n}"))],
            outcome: "ok",
        }),
    }
}

fn origin() -> Origin {
    Origin {
        node_id: 1,
        region: String::from("eu-west-1"),
    }
}

fn config(dir: &Path) -> AuditConfig {
    AuditConfig {
        max_wait: Duration::from_secs(5),
        ..AuditConfig::new(dir.to_owned())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Appends `count` requests concurrently (two events each), then stops the
/// writer.
fn write_trail(config: &AuditConfig, count: u64) {
    let (log, writer) = open(config, origin()).unwrap_or_else(|e| panic!("{e}"));
    runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..count {
            let log = log.clone();
            tasks.spawn(async move { log.append_events(vec![issuance(n), change(n)]).await });
        }
        while let Some(result) = tasks.join_next().await {
            assert_eq!(result.unwrap_or_else(|e| panic!("{e}")), Ok(()));
        }
    });
    drop(log);
    writer.join();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    list_files(dir).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_trail_verifies_and_holds_the_fields() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = config(dir.path());
    write_trail(&config, 50);
    let files = files(dir.path());
    assert_eq!(files.len(), 1);
    let summary = verify_files(&files, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.records, 100);
    assert_eq!(summary.last_seq, Some(99));

    let first: serde_json::Value =
        serde_json::from_str(&lines(&files[0])[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first["seq"], 0);
    assert_eq!(first["prev"], GENESIS);
    let issued = lines(&files[0])
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap_or_default())
        .find(|record| record["type"] == "issuance")
        .unwrap_or_else(|| panic!("no issuance record"));
    assert_eq!(issued["action"], "AssumeRole");
    assert_eq!(issued["decision"], "allow");
    assert_eq!(
        issued["actor"]["arn"],
        "arn:aws:iam::111111111111:user/alice"
    );
    assert_eq!(issued["role_arn"], "arn:aws:iam::111111111111:role/dev");
    assert_eq!(issued["source_identity"], "alice");
    assert_eq!(issued["tags"][0]["key"], "team");
    assert_eq!(issued["issuing_region"], "eu-west-1");
    assert_eq!(issued["key_id"], 3);
    assert_eq!(issued["access_key_id"], "ASIAEXAMPLE");
    assert_eq!(issued["time"], "2027-01-15T08:00:00Z");
    let changed = lines(&files[0])
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap_or_default())
        .find(|record| record["type"] == "config_change")
        .unwrap_or_else(|| panic!("no config_change record"));
    assert_eq!(changed["outcome"], "ok");
    assert!(changed["target"]["UserName"].is_string());
}

#[test]
fn the_chain_runs_across_rotations_and_restarts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = AuditConfig {
        max_file_bytes: 2_000,
        ..config(dir.path())
    };
    // Each run's concurrent appends share one batch; the file rotates after
    // each batch, and every restart continues the chain.
    for _ in 0..4 {
        write_trail(&config, 10);
    }
    let files = files(dir.path());
    assert!(files.len() > 3, "{files:?}");
    let summary = verify_files(&files, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.records, 80);

    // Missing the first file: refused unless partial, then checked.
    assert!(verify_files(&files[1..], false).is_err());
    let partial = verify_files(&files[1..], true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(partial.last_seq, Some(79));
    // Missing a middle file, or files out of order: broken.
    let mut gap = files.clone();
    gap.remove(1);
    assert!(matches!(
        verify_files(&gap, false),
        Err(VerifyError::Broken { .. })
    ));
    let mut swapped = files.clone();
    swapped.swap(1, 2);
    assert!(matches!(
        verify_files(&swapped, false),
        Err(VerifyError::Broken { .. })
    ));
}

/// Writes `lines` as the single file of a copy of the trail.
fn rewrite(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn tampering_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_trail(&config(dir.path()), 10);
    let path = files(dir.path()).remove(0);
    let original = lines(&path);
    let check = |lines: &[String]| {
        let copy = dir.path().join("copy.jsonl");
        rewrite(&copy, lines);
        verify_files(&[copy], false)
    };
    assert!(check(&original).is_ok());

    // An edited value.
    let mut edited = original.clone();
    edited[4] = edited[4].replacen("eu-west-1", "us-east-1", 1);
    assert_ne!(edited[4], original[4]);
    let error = check(&edited)
        .err()
        .unwrap_or_else(|| panic!("edit not detected"));
    assert!(error.to_string().contains(":5:"), "{error}");
    // An edited record whose hash was recomputed still breaks the next link.
    let mut rehashed = original.clone();
    let body = rehashed[4]
        .rsplit_once(",\"hash\":")
        .map(|(body, _)| format!("{}}}", body.replacen("alice", "mallory", 1)))
        .unwrap_or_default();
    rehashed[4] = format!(
        "{},\"hash\":\"{}\"}}",
        &body[..body.len() - 1],
        record::digest_hex(body.as_bytes())
    );
    let error = check(&rehashed)
        .err()
        .unwrap_or_else(|| panic!("rehash not detected"));
    assert!(error.to_string().contains(":6:"), "{error}");
    // A deleted line.
    let mut deleted = original.clone();
    deleted.remove(3);
    assert!(check(&deleted).is_err());
    // Reordered lines.
    let mut reordered = original.clone();
    reordered.swap(2, 3);
    assert!(check(&reordered).is_err());
    // The first line deleted: the trail no longer starts at 0.
    assert!(check(&original[1..]).is_err());
    // A duplicated line.
    let mut duplicated = original.clone();
    duplicated.insert(5, original[4].clone());
    assert!(check(&duplicated).is_err());
}

#[test]
fn a_partial_last_line_is_cut_off_on_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = config(dir.path());
    write_trail(&config, 3);
    let path = files(dir.path()).remove(0);
    let mut text = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    text.extend_from_slice(b"{\"seq\":6,\"prev\":\"abc");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(verify_files(std::slice::from_ref(&path), false).is_err());
    write_trail(&config, 3);
    let summary = verify_files(&files(dir.path()), false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.records, 12);
}

#[test]
fn an_io_error_fails_the_batch_and_the_writer_recovers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = AuditConfig {
        max_file_bytes: 1,
        ..config(dir.path())
    };
    let (log, writer) = open(&config, origin()).unwrap_or_else(|e| panic!("{e}"));
    // The file the writer rotates to after the first record is /dev/full:
    // every write there fails with ENOSPC.
    std::os::unix::fs::symlink("/dev/full", dir.path().join(Segment::file_name(1)))
        .unwrap_or_else(|e| panic!("{e}"));
    runtime().block_on(async {
        assert_eq!(log.append_events(vec![issuance(0)]).await, Ok(()));
        let failed = log.append_events(vec![issuance(1)]).await;
        assert!(matches!(failed, Err(AuditError::Io(_))), "{failed:?}");
    });
    drop(log);
    writer.join();
    // What was acknowledged is intact.
    let real: Vec<PathBuf> = files(dir.path())
        .into_iter()
        .filter(|path| !path.is_symlink())
        .collect();
    let summary = verify_files(&real, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.records, 1);
}

#[test]
fn a_stalled_disk_fails_appends_within_the_bound() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = AuditConfig {
        max_file_bytes: 1,
        buffer_requests: 1,
        max_wait: Duration::from_millis(300),
        ..config(dir.path())
    };
    let (log, writer) = open(&config, origin()).unwrap_or_else(|e| panic!("{e}"));
    // The next file is a FIFO nobody reads: opening it for writing blocks,
    // as a hung disk would.
    let fifo = dir.path().join(Segment::file_name(1));
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(made.success());
    runtime().block_on(async {
        // Record 0 is synced, then the writer blocks opening the FIFO.
        assert_eq!(log.append_events(vec![issuance(0)]).await, Ok(()));
        let started = std::time::Instant::now();
        let waits = futures_join(&log).await;
        let elapsed = started.elapsed();
        assert!(
            waits
                .iter()
                .all(|r| matches!(r, Err(AuditError::Timeout | AuditError::Full))),
            "{waits:?}"
        );
        assert!(
            waits.iter().any(|r| matches!(r, Err(AuditError::Full))),
            "{waits:?}"
        );
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    });
    // Unblock the writer: a reader on the FIFO lets its open complete.
    let reader = std::thread::spawn(move || {
        let mut sink = Vec::new();
        if let Ok(mut file) = std::fs::File::open(&fifo) {
            let _ = std::io::Read::read_to_end(&mut file, &mut sink);
        }
    });
    drop(log);
    writer.join();
    let _ = reader.join();
}

/// Several appends at once against a stalled writer.
async fn futures_join(log: &AuditLog) -> Vec<Result<(), AuditError>> {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 1..5 {
        let log = log.clone();
        tasks.spawn(async move { log.append_events(vec![issuance(n)]).await });
    }
    let mut results = Vec::new();
    while let Some(result) = tasks.join_next().await {
        results.push(result.unwrap_or_else(|e| panic!("{e}")));
    }
    results
}
