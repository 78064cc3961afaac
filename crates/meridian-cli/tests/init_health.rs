//! `meridian init` and `meridian health` as a user (or a container runtime)
//! runs them: files, modes, stdout, exit codes. Bounded in time; binds
//! 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

fn meridian(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("MERIDIAN_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("run meridian: {e}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn init_writes_private_files_prints_credentials_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("secrets");
    let out_arg = out.to_str().unwrap_or_default();
    let made = meridian(&[
        "init",
        "--out",
        out_arg,
        "--account-name",
        "team",
        "--account-id",
        "123456789012",
    ]);
    let stderr = String::from_utf8_lossy(&made.stderr);
    assert_eq!(made.status.code(), Some(0), "{stderr}");
    let printed: serde_json::Value =
        serde_json::from_slice(&made.stdout).unwrap_or_else(|e| panic!("stdout: {e}"));
    let mut keys: Vec<&str> = printed
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_key_id",
            "account_id",
            "secret_access_key",
            "user_name"
        ]
    );
    assert_eq!(printed["account_id"], "123456789012");
    assert_eq!(printed["user_name"], "admin");
    let secret = printed["secret_access_key"].as_str().unwrap_or_default();
    assert_eq!(secret.len(), 40);
    assert!(!stderr.contains(secret), "the secret went to stderr");
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&out.join("kek")), 0o600);
    assert_eq!(mode(&out.join("bootstrap-admin.json")), 0o600);
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("bootstrap-admin.json"))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file["account_name"], "team");
    assert_eq!(file["access_key_id"], printed["access_key_id"]);

    let kek = std::fs::read_to_string(out.join("kek")).unwrap_or_else(|e| panic!("{e}"));
    let again = meridian(&["init", "--out", out_arg]);
    assert_eq!(again.status.code(), Some(1));
    assert!(again.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(out.join("kek")).unwrap_or_else(|e| panic!("{e}")),
        kek
    );
    let bad = meridian(&["init", "--out", out_arg, "--account-id", "12"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn health_exits_0_when_ready_and_1_otherwise() {
    for (status, code) in [("200 OK", 0), ("503 Service Unavailable", 1)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let server = std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buffer = [0u8; 2048];
                let _ = stream.read(&mut buffer);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        let url = format!("http://{addr}/readyz");
        let checked = meridian(&["health", "--url", &url, "--timeout", "5"]);
        assert_eq!(
            checked.status.code(),
            Some(code),
            "{status}: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
        let _ = server.join();
    }
    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = meridian(&[
        "health",
        "--url",
        &format!("http://{closed}/healthz"),
        "--timeout",
        "2",
    ]);
    assert_eq!(refused.status.code(), Some(1));
}
