//! `meridian serve --config FILE`: one node, in the foreground until SIGTERM
//! or SIGINT.
//!
//! The process environment is read here, once, into the map the server's
//! config takes (`MERIDIAN_*` overrides, and the variable `[kek] env` may
//! name); nothing deeper reads `std::env`. Variables whose name or value is
//! not UTF-8 cannot be meant for Meridian and are skipped. The config is
//! loaded and validated before the async runtime even starts (STYLE.md 2.5).

use std::path::Path;

use anyhow::Context;
use meridian_server::config::Config;
use meridian_server::config::env::Env;

/// Reads the environment and loads the config (bad config: exit 64).
pub fn load(config_path: &Path) -> anyhow::Result<(Config, Env)> {
    let env =
        Env::from_vars(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }));
    let config = Config::load(config_path, &env)
        .with_context(|| format!("failed to load {}", config_path.display()))?;
    Ok((config, env))
}

/// Runs the node until a stop signal.
pub async fn run(config: Config, env: Env) -> anyhow::Result<()> {
    meridian_server::app::run(config, &env).await
}
