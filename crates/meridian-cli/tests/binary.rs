//! The `meridian` binary as a user runs it: exit codes of `serve` on bad
//! configuration, and a one-node `meridian dev` started, stopped with
//! SIGTERM and restarted from its data directory. Bounded in time; binds
//! 127.0.0.1 only; stops every process it starts.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

/// The binary, with none of the node's `MERIDIAN_*` overrides inherited
/// from the shell running the tests.
fn command() -> Command {
    let mut command = Command::new(BIN);
    for name in meridian_server::config::env::override_names() {
        command.env_remove(name);
    }
    command
}

fn meridian(args: &[&str]) -> std::process::Output {
    command()
        .args(args)
        .env("MERIDIAN_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("run meridian: {e}"))
}

#[test]
fn serve_exits_64_on_bad_configuration() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        (
            "unknown key",
            "version = 1\nnode_idd = 1\n",
            "unknown field",
        ),
        (
            "missing region",
            "version = 1\nnode_id = 1\n",
            "region: missing",
        ),
        (
            "missing kek file",
            "version = 1\nnode_id = 1\nregion = \"eu-west-1\"\ndata_dir = \"d\"\n\
             [http]\nlisten = \"127.0.0.1:1\"\n[grpc]\nlisten = \"127.0.0.1:2\"\n\
             [cluster.join]\nseeds = [\"http://127.0.0.1:3\"]\n[kek]\nfile = \"no-such-kek\"\n",
            "kek.file",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join("node.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let output = meridian(&["serve", "--config", path.to_str().unwrap_or_default()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        // Nothing was created for a refused configuration.
        assert!(std::fs::metadata(dir.path().join("d")).is_err(), "{name}");
    }
    let missing = meridian(&["serve", "--config", "/nonexistent/node.toml"]);
    assert_eq!(missing.status.code(), Some(64));
}

/// A base port whose HTTP and gRPC ports for one node are free now.
fn free_base_port() -> u16 {
    for base in (30_000u16..60_000)
        .step_by(200)
        .skip(usize::from(std::process::id() as u16 % 100))
    {
        let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free(base + 1) && free(base + 101) {
            return base;
        }
    }
    panic!("no free port range");
}

struct Dev {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Dev {
    fn start(data_dir: &Path, base_port: u16, logs: &Path, tag: &str) -> Dev {
        let stdout = logs.join(format!("{tag}.out"));
        let stderr = logs.join(format!("{tag}.err"));
        let child = command()
            .args([
                "dev",
                "--regions",
                "eu-west-1",
                "--data-dir",
                data_dir.to_str().unwrap_or_default(),
                "--base-port",
                &base_port.to_string(),
                "--ready-timeout",
                "60",
            ])
            .env("MERIDIAN_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap_or_else(|e| panic!("{e}")))
            .stderr(std::fs::File::create(&stderr).unwrap_or_else(|e| panic!("{e}")))
            .spawn()
            .unwrap_or_else(|e| panic!("start meridian dev: {e}"));
        Dev {
            child,
            stdout,
            stderr,
        }
    }

    fn read(path: &Path) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(path) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Waits for the summary; panics with the logs if it does not come.
    fn wait_summary(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            let out = Dev::read(&self.stdout);
            if out.contains("Ctrl-C stops every node") {
                return out;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "meridian dev exited ({status}) before ready:\n{}",
                    Dev::read(&self.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.signal(Signal::KILL);
        panic!("no summary within 90 s:\n{}", Dev::read(&self.stderr));
    }

    fn signal(&mut self, signal: Signal) {
        if let Some(pid) = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, signal);
        }
    }

    /// SIGTERM, then waits (bounded) for a clean exit; returns stderr.
    fn stop(mut self) -> String {
        self.signal(Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let stderr = Dev::read(&self.stderr);
                assert!(status.success(), "meridian dev exited {status}:\n{stderr}");
                return stderr;
            }
            if Instant::now() >= deadline {
                self.signal(Signal::KILL);
                let _ = self.child.wait();
                panic!("meridian dev did not stop within 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // A failed assertion must not leave the cluster running: SIGTERM
        // makes dev stop its node before it exits.
        if let Ok(None) = self.child.try_wait() {
            self.signal(Signal::TERM);
            let _ = self.child.wait();
        }
    }
}

#[test]
fn dev_writes_the_contract_files_stops_cleanly_and_restarts_from_its_data() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data_dir = dir.path().join("cluster");
    let base = free_base_port();

    let mut dev = Dev::start(&data_dir, base, dir.path(), "first");
    let summary = dev.wait_summary();
    assert!(summary.contains("new cluster"), "{summary}");
    assert!(
        summary.contains(&format!("source {}", data_dir.join("env.sh").display())),
        "{summary}"
    );
    let cluster: serde_json::Value =
        serde_json::from_str(&Dev::read(&data_dir.join("cluster.json")))
            .unwrap_or_else(|e| panic!("cluster.json: {e}"));
    let node = &cluster["regions"][0]["nodes"][0];
    assert_eq!(node["http"], format!("http://127.0.0.1:{}", base + 1));
    assert_eq!(node["grpc"], format!("http://127.0.0.1:{}", base + 101));
    assert!(node["pid"].as_u64().is_some_and(|pid| pid > 0));
    assert_eq!(
        node["config"],
        data_dir.join("node-1.toml").display().to_string()
    );
    let account = cluster["admin"]["account_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(account.len(), 12);
    // The bootstrap file was applied and removed; the KEK is private.
    assert!(std::fs::metadata(data_dir.join("node-1/bootstrap-admin.json")).is_err());
    let kek_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data_dir.join("node-1/kek"))
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions(),
    );
    assert_eq!(kek_mode & 0o777, 0o600);
    let stderr = dev.stop();
    assert!(
        stderr.contains("node 1: stopped (exit status: 0)"),
        "{stderr}"
    );

    // A second run on the same data dir restarts the same cluster.
    let mut dev = Dev::start(&data_dir, base, dir.path(), "second");
    let summary = dev.wait_summary();
    assert!(summary.contains("restarted from its data"), "{summary}");
    assert!(summary.contains(&account), "{summary}");
    let stderr = dev.stop();
    assert!(
        stderr.contains("node 1: stopped (exit status: 0)"),
        "{stderr}"
    );
}
