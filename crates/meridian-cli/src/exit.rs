//! Mapping errors to exit codes.

use std::process::ExitCode;

use meridian_server::config::error::ConfigError;

/// Bad configuration (`EX_USAGE`, as linkerd exits on a bad config).
pub const BAD_CONFIG: u8 = 64;
/// Any other failure.
pub const FAILURE: u8 = 1;

/// The exit code for `error`: [`BAD_CONFIG`] when a [`ConfigError`] is in its
/// chain, [`FAILURE`] otherwise.
pub fn code_for(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<ConfigError>()) {
        BAD_CONFIG
    } else {
        FAILURE
    }
}

/// [`code_for`] as an [`ExitCode`].
pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    ExitCode::from(code_for(error))
}

#[cfg(test)]
mod tests {
    use anyhow::Context;
    use meridian_server::config::error::Problem;

    use super::*;

    #[test]
    fn config_errors_anywhere_in_the_chain_exit_64() {
        let config = ConfigError::Invalid {
            problems: vec![Problem::new("region", "missing")],
        };
        let wrapped = Err::<(), _>(config)
            .context("failed to load node.toml")
            .context("failed to start")
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(code_for(&wrapped), BAD_CONFIG);
        let other = anyhow::anyhow!("address in use");
        assert_eq!(code_for(&other), FAILURE);
        let io = Err::<(), _>(std::io::Error::other("disk"))
            .context("failed to open the store")
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(code_for(&io), FAILURE);
    }
}
