//! `meridian serve --config FILE`: one node, in the foreground until SIGTERM
//! or SIGINT.
//!
//! The process environment is read here, once, into the map the server's
//! config takes (`MERIDIAN_*` overrides, and the variable `[kek] env` may
//! name); nothing deeper reads `std::env`. Variables whose name or value is
//! not UTF-8 cannot be meant for Meridian and are skipped.

use std::path::Path;

use anyhow::Context;
use meridian_server::config::Config;
use meridian_server::config::env::Env;

/// Loads the config (bad config: exit 64), then runs the node.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    let env =
        Env::from_vars(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }));
    let config = Config::load(config_path, &env)
        .with_context(|| format!("failed to load {}", config_path.display()))?;
    meridian_server::app::run(config, &env).await
}
