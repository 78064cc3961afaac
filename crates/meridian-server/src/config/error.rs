//! Why a node configuration was refused.
//!
//! Every problem found is reported at once (an operator fixing a file should
//! not have to restart once per mistake), each with the key it concerns: a
//! dotted TOML path (`grpc.advertise`) or the environment variable that
//! supplied the value (`MERIDIAN_GRPC_LISTEN`). The binary maps this type to
//! exit code 64, and nothing else to it.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// One invalid setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the value came from: a dotted TOML key or an environment variable.
    pub key: String,
    /// What is wrong with it, lowercase, no trailing period.
    pub reason: String,
}

impl Problem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// A node configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not valid TOML, names a key this version does not know, or
    /// gives a value of the wrong type (the message names line and column).
    #[error("invalid config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The TOML parser's description, with its location.
        message: String,
    },
    /// The file parsed, but settings are missing or invalid.
    #[error("invalid configuration: {}", list(.problems))]
    Invalid {
        /// Every problem found, in the order checked.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems, when the error is [`ConfigError::Invalid`].
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems } => problems,
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => &[],
        }
    }

    /// Whether any problem concerns `key`.
    pub fn concerns(&self, key: &str) -> bool {
        self.problems().iter().any(|problem| problem.key == key)
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
