//! Environment overrides: `MERIDIAN_*` variables applied on top of the file.
//!
//! The variables come in as a map ([`Env`]) that the binary builds once from
//! the process environment; nothing below `main` reads `std::env`, so tests
//! pass their own map and run in parallel. Precedence is env, then file,
//! then default: an override replaces the file's value before validation, so
//! it is checked exactly like a value from the file, and a problem with it
//! names the variable.
//!
//! Only the names [`override_names`] lists are read; other `MERIDIAN_*` variables
//! (`MERIDIAN_ENDPOINT` for the admin CLI, `MERIDIAN_CACHE` for scripts) are
//! not the node's business. The map may also hold the variable that
//! `[kek] env` names, whose value is a secret: [`Env`]'s `Debug` prints
//! names only.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use zeroize::Zeroize;

use crate::config::error::Problem;
use crate::config::raw::RawConfig;

/// Environment variables, by name.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// The environment made of `vars` (the binary passes `std::env::vars()`).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Env {
        Env {
            vars: vars.into_iter().collect(),
        }
    }

    /// Adds or replaces one variable.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Env {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // The map may hold the key-encryption key (`[kek] env`).
        for value in self.vars.values_mut() {
            value.zeroize();
        }
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One override: the variable and how it sets the raw config.
struct Override {
    name: &'static str,
    key: &'static str,
    apply: fn(&mut RawConfig, &str) -> Result<(), String>,
}

/// Every variable the node reads, and the key each replaces.
const OVERRIDES: &[Override] = &[
    Override {
        name: "MERIDIAN_NODE_ID",
        key: "node_id",
        apply: |raw, value| set(&mut raw.node_id, value),
    },
    Override {
        name: "MERIDIAN_REGION",
        key: "region",
        apply: |raw, value| set_string(&mut raw.region, value),
    },
    Override {
        name: "MERIDIAN_PARTITION",
        key: "partition",
        apply: |raw, value| set_string(&mut raw.partition, value),
    },
    Override {
        name: "MERIDIAN_DATA_DIR",
        key: "data_dir",
        apply: |raw, value| set_path(&mut raw.data_dir, value),
    },
    Override {
        name: "MERIDIAN_MAX_CONFIG_STALENESS_SECS",
        key: "max_config_staleness_secs",
        apply: |raw, value| set(&mut raw.max_config_staleness_secs, value),
    },
    Override {
        name: "MERIDIAN_SHUTDOWN_GRACE_PERIOD_SECS",
        key: "shutdown_grace_period_secs",
        apply: |raw, value| set(&mut raw.shutdown_grace_period_secs, value),
    },
    Override {
        name: "MERIDIAN_HTTP_LISTEN",
        key: "http.listen",
        apply: |raw, value| set_string(&mut raw.http.listen, value),
    },
    Override {
        name: "MERIDIAN_HTTP_ADVERTISE",
        key: "http.advertise",
        apply: |raw, value| set_string(&mut raw.http.advertise, value),
    },
    Override {
        name: "MERIDIAN_GRPC_LISTEN",
        key: "grpc.listen",
        apply: |raw, value| set_string(&mut raw.grpc.listen, value),
    },
    Override {
        name: "MERIDIAN_GRPC_ADVERTISE",
        key: "grpc.advertise",
        apply: |raw, value| set_string(&mut raw.grpc.advertise, value),
    },
    Override {
        name: "MERIDIAN_RAFT_HEARTBEAT_MS",
        key: "raft.heartbeat_ms",
        apply: |raw, value| set(&mut raw.raft.heartbeat_ms, value),
    },
    Override {
        name: "MERIDIAN_RAFT_ELECTION_TIMEOUT_MIN_MS",
        key: "raft.election_timeout_min_ms",
        apply: |raw, value| set(&mut raw.raft.election_timeout_min_ms, value),
    },
    Override {
        name: "MERIDIAN_RAFT_ELECTION_TIMEOUT_MAX_MS",
        key: "raft.election_timeout_max_ms",
        apply: |raw, value| set(&mut raw.raft.election_timeout_max_ms, value),
    },
    Override {
        name: "MERIDIAN_RAFT_WRITE_TIMEOUT_MS",
        key: "raft.write_timeout_ms",
        apply: |raw, value| set(&mut raw.raft.write_timeout_ms, value),
    },
    Override {
        // Choosing a file replaces whatever source the file named.
        name: "MERIDIAN_KEK_FILE",
        key: "kek.file",
        apply: |raw, value| {
            raw.kek.env = None;
            set_path(&mut raw.kek.file, value)
        },
    },
    Override {
        name: "MERIDIAN_KEK_ENV",
        key: "kek.env",
        apply: |raw, value| {
            raw.kek.file = None;
            set_string(&mut raw.kek.env, value)
        },
    },
    Override {
        name: "MERIDIAN_LIMITS_MAX_BODY_BYTES",
        key: "limits.max_body_bytes",
        apply: |raw, value| set(&mut raw.limits.max_body_bytes, value),
    },
    Override {
        name: "MERIDIAN_LIMITS_MAX_CONCURRENT_REQUESTS",
        key: "limits.max_concurrent_requests",
        apply: |raw, value| set(&mut raw.limits.max_concurrent_requests, value),
    },
    Override {
        name: "MERIDIAN_LIMITS_MAX_CONNECTIONS",
        key: "limits.max_connections",
        apply: |raw, value| set(&mut raw.limits.max_connections, value),
    },
    Override {
        name: "MERIDIAN_LIMITS_REQUESTS_PER_SECOND_PER_KEY",
        key: "limits.requests_per_second_per_key",
        apply: |raw, value| set(&mut raw.limits.requests_per_second_per_key, value),
    },
    Override {
        name: "MERIDIAN_LIMITS_BURST_PER_KEY",
        key: "limits.burst_per_key",
        apply: |raw, value| set(&mut raw.limits.burst_per_key, value),
    },
    Override {
        name: "MERIDIAN_LIMITS_REQUEST_TIMEOUT_MS",
        key: "limits.request_timeout_ms",
        apply: |raw, value| set(&mut raw.limits.request_timeout_ms, value),
    },
    Override {
        name: "MERIDIAN_LIMITS_HEADER_READ_TIMEOUT_MS",
        key: "limits.header_read_timeout_ms",
        apply: |raw, value| set(&mut raw.limits.header_read_timeout_ms, value),
    },
    Override {
        name: "MERIDIAN_LIMITS_BODY_READ_TIMEOUT_MS",
        key: "limits.body_read_timeout_ms",
        apply: |raw, value| set(&mut raw.limits.body_read_timeout_ms, value),
    },
];

/// The names of every variable the node reads, for documentation and help.
pub fn override_names() -> impl Iterator<Item = &'static str> {
    OVERRIDES.iter().map(|o| o.name)
}

/// Applies the overrides present in `env` to `raw`, recording a problem for
/// each value that does not parse (the file's value then stays). Returns the
/// TOML keys that were overridden and by which variable, so that a problem
/// found later in validation names the variable the value came from.
pub(crate) fn apply_overrides(
    raw: &mut RawConfig,
    env: &Env,
    problems: &mut Vec<Problem>,
) -> BTreeMap<&'static str, &'static str> {
    let mut overridden = BTreeMap::new();
    if env.get("MERIDIAN_KEK_FILE").is_some() && env.get("MERIDIAN_KEK_ENV").is_some() {
        problems.push(Problem::new(
            "MERIDIAN_KEK_FILE",
            "set at most one of MERIDIAN_KEK_FILE and MERIDIAN_KEK_ENV",
        ));
        return overridden;
    }
    for entry in OVERRIDES {
        if let Some(value) = env.get(entry.name) {
            match (entry.apply)(raw, value) {
                Ok(()) => {
                    overridden.insert(entry.key, entry.name);
                }
                Err(reason) => problems.push(Problem::new(entry.name, reason)),
            }
        }
    }
    overridden
}

fn set<T: FromStr>(slot: &mut Option<T>, value: &str) -> Result<(), String> {
    let parsed = value
        .trim()
        .parse::<T>()
        .map_err(|_| format!("{value:?} is not a valid number"))?;
    *slot = Some(parsed);
    Ok(())
}

fn set_string(slot: &mut Option<String>, value: &str) -> Result<(), String> {
    *slot = Some(value.to_owned());
    Ok(())
}

fn set_path(slot: &mut Option<PathBuf>, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(String::from("must not be empty"));
    }
    *slot = Some(PathBuf::from(value));
    Ok(())
}
