//! Tests of config parsing and validation: unknown keys, bad addresses,
//! cluster membership rules, environment precedence, defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::env::Env;
use crate::config::error::ConfigError;
use crate::config::raw::RawConfig;
use crate::config::{ClusterMode, Config, KekSource, RaftTimings};

const BASE: &str = r#"
version = 1
node_id = 1
region = "us-east-1"
data_dir = "node-1"

[http]
listen = "127.0.0.1:7101"

[grpc]
listen = "127.0.0.1:7201"

[cluster.bootstrap]
[[cluster.bootstrap.members]]
id = 1
region = "us-east-1"
grpc = "http://127.0.0.1:7201"

[kek]
file = "node-1/kek"
"#;

fn build(text: &str, env: &Env) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: PathBuf::from("test.toml"),
        message: e.to_string(),
    })?;
    Config::build(raw, Path::new("/etc/meridian"), env)
}

fn ok(text: &str, env: &Env) -> Config {
    build(text, env).unwrap_or_else(|e| panic!("config should be valid: {e}"))
}

fn err(text: &str, env: &Env) -> ConfigError {
    match build(text, env) {
        Ok(config) => panic!("config should be refused: {config:?}"),
        Err(e) => e,
    }
}

/// `BASE` with the first line starting with `prefix` replaced by `line`
/// (or removed when `line` is empty).
fn replace(prefix: &str, line: &str) -> String {
    let mut found = false;
    let out: Vec<&str> = BASE
        .lines()
        .filter_map(|l| {
            if !found && l.starts_with(prefix) {
                found = true;
                (!line.is_empty()).then_some(line)
            } else {
                Some(l)
            }
        })
        .collect();
    assert!(found, "no line starts with {prefix:?}");
    out.join("\n")
}

#[test]
fn base_config_is_valid_with_defaults() {
    let config = ok(BASE, &Env::new());
    assert_eq!(config.node_id, 1);
    assert_eq!(config.region, "us-east-1");
    assert_eq!(config.partition.as_str(), "aws");
    assert_eq!(config.data_dir, PathBuf::from("/etc/meridian/node-1"));
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:7101");
    assert_eq!(config.http.advertise, "http://127.0.0.1:7101");
    assert_eq!(config.grpc.advertise, "http://127.0.0.1:7201");
    assert_eq!(config.raft, RaftTimings::loopback());
    assert_eq!(config.raft.heartbeat, Duration::from_millis(100));
    assert_eq!(config.raft.write_timeout, Duration::from_secs(3));
    assert_eq!(config.max_config_staleness, Duration::from_secs(3600));
    assert_eq!(
        config.kek,
        KekSource::File(PathBuf::from("/etc/meridian/node-1/kek"))
    );
    match &config.cluster {
        ClusterMode::Bootstrap {
            members,
            admin_file,
        } => {
            assert_eq!(members.len(), 1);
            assert_eq!(members[0].grpc, "http://127.0.0.1:7201");
            assert_eq!(admin_file, &None);
        }
        other => panic!("expected bootstrap, got {other:?}"),
    }
    // Half the grace period for the HTTP drain, capped by the edge default.
    assert_eq!(config.serve.drain_timeout, Duration::from_secs(10));
}

#[test]
fn unknown_keys_are_refused_everywhere() {
    for (prefix, line) in [
        ("version", "version = 1\nnode_name = \"x\""),
        (
            "listen = \"127.0.0.1:7101\"",
            "listen = \"127.0.0.1:7101\"\nport = 1",
        ),
        ("file = ", "file = \"k\"\nkey = \"00\""),
        ("grpc = ", "grpc = \"http://127.0.0.1:7201\"\nvoter = true"),
    ] {
        let text = replace(prefix, line);
        match err(&text, &Env::new()) {
            ConfigError::Syntax { message, .. } => {
                assert!(message.contains("unknown field"), "{prefix}: {message}");
            }
            other => panic!("{prefix}: expected a syntax error, got {other}"),
        }
    }
}

#[test]
fn version_is_required_and_checked() {
    let missing = err(&replace("version", ""), &Env::new());
    assert!(missing.concerns("version"), "{missing}");
    let newer = err(&replace("version", "version = 2"), &Env::new());
    assert!(newer.concerns("version"), "{newer}");
    assert!(
        newer.to_string().contains("unsupported version 2"),
        "{newer}"
    );
}

#[test]
fn bad_values_name_their_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "listen = \"127.0.0.1:7101\"",
            "listen = \"localhost\"",
            "http.listen",
        ),
        (
            "listen = \"127.0.0.1:7101\"",
            "listen = \"127.0.0.1:99999\"",
            "http.listen",
        ),
        (
            "listen = \"127.0.0.1:7201\"",
            "listen = \"0.0.0.0:7201\"",
            "grpc.advertise",
        ),
        (
            "listen = \"127.0.0.1:7201\"",
            "listen = \"127.0.0.1:7101\"",
            "grpc.listen",
        ),
        ("region = \"us-east-1\"", "region = \"US East\"", "region"),
        ("node_id = 1", "node_id = 0", "node_id"),
        ("node_id = 1", "", "node_id"),
        ("data_dir", "", "data_dir"),
        (
            "version = 1",
            "version = 1\npartition = \"AWS!\"",
            "partition",
        ),
        (
            "grpc = ",
            "grpc = \"127.0.0.1:7201\"",
            "cluster.bootstrap.members[0].grpc",
        ),
        (
            "grpc = ",
            "grpc = \"http://127.0.0.1:7201/raft\"",
            "cluster.bootstrap.members[0].grpc",
        ),
        (
            "grpc = ",
            "grpc = \"http://127.0.0.1\"",
            "cluster.bootstrap.members[0].grpc",
        ),
        (
            "grpc = ",
            "grpc = \"http://127.0.0.1:7202\"",
            "cluster.bootstrap.members",
        ),
        ("id = 1", "id = 2", "cluster.bootstrap.members"),
        ("file = ", "", "kek"),
        ("file = ", "env = \"meridian kek\"", "kek.env"),
        ("file = ", "file = \"k\"\nenv = \"MERIDIAN_KEK\"", "kek"),
        (
            "[cluster.bootstrap]",
            "[cluster.join]\nseeds = []\n[cluster.bootstrap]",
            "cluster",
        ),
        (
            "[kek]",
            "[raft]\nheartbeat_ms = 600\n[kek]",
            "raft.heartbeat_ms",
        ),
        (
            "[kek]",
            "[raft]\nelection_timeout_min_ms = 900\nelection_timeout_max_ms = 800\n[kek]",
            "raft.election_timeout_max_ms",
        ),
        (
            "[kek]",
            "[limits]\nmax_body_bytes = 10\n[kek]",
            "limits.max_body_bytes",
        ),
        (
            "[kek]",
            "[limits]\nmax_concurrent_requests = 0\n[kek]",
            "limits.max_concurrent_requests",
        ),
        (
            "version = 1",
            "version = 1\nmax_config_staleness_secs = 0",
            "max_config_staleness_secs",
        ),
    ];
    for (prefix, line, key) in cases {
        let error = err(&replace(prefix, line), &Env::new());
        assert!(
            error.concerns(key),
            "{line:?} should be refused for {key}, got: {error}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = replace("region = \"us-east-1\"", "region = \"Bad\"");
    let text = text.replace("listen = \"127.0.0.1:7101\"", "listen = \"nowhere\"");
    let error = err(&text, &Env::new());
    assert!(error.concerns("region"), "{error}");
    assert!(error.concerns("http.listen"), "{error}");
}

#[test]
fn join_mode_takes_seeds() {
    let text = BASE.replace(
        "[cluster.bootstrap]\n[[cluster.bootstrap.members]]\nid = 1\nregion = \"us-east-1\"\ngrpc = \"http://127.0.0.1:7201\"",
        "[cluster.join]\nseeds = [\"http://10.0.0.1:7201/\", \"https://peer.example:443\"]",
    );
    let config = ok(&text, &Env::new());
    assert_eq!(
        config.cluster,
        ClusterMode::Join {
            seeds: vec![
                String::from("http://10.0.0.1:7201"),
                String::from("https://peer.example:443")
            ]
        }
    );
}

#[test]
fn env_overrides_file_which_overrides_defaults() {
    let text = replace(
        "version = 1",
        "version = 1\nmax_config_staleness_secs = 120",
    );
    // File over default.
    let config = ok(&text, &Env::new());
    assert_eq!(config.max_config_staleness, Duration::from_secs(120));
    // Env over file, and over a default the file does not set.
    let env = Env::new()
        .with("MERIDIAN_MAX_CONFIG_STALENESS_SECS", "60")
        .with("MERIDIAN_RAFT_HEARTBEAT_MS", "200")
        .with("MERIDIAN_DATA_DIR", "/var/lib/meridian")
        .with("MERIDIAN_KEK_ENV", "NODE_KEK")
        .with("MERIDIAN_UNRELATED", "ignored");
    let config = ok(&text, &env);
    assert_eq!(config.max_config_staleness, Duration::from_secs(60));
    assert_eq!(config.raft.heartbeat, Duration::from_millis(200));
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/meridian"));
    // Choosing a key source by env replaces the file's choice.
    assert_eq!(config.kek, KekSource::Env(String::from("NODE_KEK")));
}

#[test]
fn env_values_are_validated_and_named() {
    for (name, value) in [
        ("MERIDIAN_NODE_ID", "one"),
        ("MERIDIAN_NODE_ID", "0"),
        ("MERIDIAN_HTTP_LISTEN", "127.0.0.1"),
        ("MERIDIAN_REGION", "Mars"),
    ] {
        let error = err(BASE, &Env::new().with(name, value));
        // Whether the value fails to parse or fails validation, the
        // problem names the variable it came from.
        assert!(error.concerns(name), "{name}={value}: {error}");
    }
    let both = err(
        BASE,
        &Env::new()
            .with("MERIDIAN_KEK_FILE", "/k")
            .with("MERIDIAN_KEK_ENV", "K"),
    );
    assert!(both.concerns("MERIDIAN_KEK_FILE"), "{both}");
}

#[test]
fn env_debug_never_prints_values() {
    let env = Env::new().with("NODE_KEK", "00112233445566778899aabbccddeeff");
    let printed = format!("{env:?}");
    assert!(printed.contains("NODE_KEK"), "{printed}");
    assert!(!printed.contains("0011223344"), "{printed}");
}

#[test]
fn load_reports_missing_file_and_syntax_errors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let missing = Config::load(&dir.path().join("nope.toml"), &Env::new());
    assert!(matches!(missing, Err(ConfigError::Read { .. })));
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "version = \n").unwrap_or_else(|e| panic!("write: {e}"));
    assert!(matches!(
        Config::load(&path, &Env::new()),
        Err(ConfigError::Syntax { .. })
    ));
    let good = dir.path().join("good.toml");
    std::fs::write(&good, BASE).unwrap_or_else(|e| panic!("write: {e}"));
    let config = Config::load(&good, &Env::new()).unwrap_or_else(|e| panic!("load: {e}"));
    // Relative paths resolve against the file's directory.
    assert_eq!(config.data_dir, dir.path().join("node-1"));
}

#[test]
fn saml_endpoint_defaults_to_aws_and_is_checked() {
    assert_eq!(ok(BASE, &Env::new()).saml.endpoint, None);
    for endpoint in ["https://sts.example.com/saml", "urn:meridian:sp"] {
        let text = format!("{BASE}\n[saml]\nendpoint = \"{endpoint}\"\n");
        assert_eq!(
            ok(&text, &Env::new()).saml.endpoint.as_deref(),
            Some(endpoint)
        );
    }
    for endpoint in ["http://sts.example.com/saml", "https://a b", ""] {
        let text = format!("{BASE}\n[saml]\nendpoint = \"{endpoint}\"\n");
        let refused = err(&text, &Env::new()).to_string();
        assert!(refused.contains("saml.endpoint"), "{refused}");
    }
    let typo = format!("{BASE}\n[saml]\nendpiont = \"urn:x\"\n");
    assert!(build(&typo, &Env::new()).is_err());
}
