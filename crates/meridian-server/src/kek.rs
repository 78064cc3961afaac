//! Loading the key-encryption key (KEK), and writing one for `meridian dev`.
//!
//! The KEK seals every secret the replicated state holds (data keys,
//! long-term secret access keys, MFA seeds, JWT signing keys). Those sealed
//! blobs are replicated, so every node of a cluster must hold the *same* KEK:
//! it is a cluster secret distributed to nodes out of band (a Kubernetes
//! Secret, a file provisioned with the node), never part of the replicated
//! state or of the config file.
//!
//! Format: 64 hexadecimal digits (32 bytes), surrounding whitespace ignored,
//! either in a file or in an environment variable named by the config. Who
//! may read the file is [`crate::key_file`]'s rule: owner-only (`0600`), or a
//! group-readable file root provisioned for this process's group (a
//! Kubernetes Secret volume under `fsGroup`, `0440`); anything else is
//! refused, as ssh refuses such private keys.
//!
//! Problems are reported as [`ConfigError`]s on the `kek` keys, so the binary
//! exits with the bad-config code: a missing or malformed key is a
//! provisioning mistake, not a runtime failure.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use meridian_core::keyring::Kek;
use meridian_core::rand::RandomSource;
use zeroize::Zeroizing;

use crate::config::KekSource;
use crate::config::env::Env;
use crate::config::error::{ConfigError, Problem};

/// Reads and checks the KEK from its configured source.
pub fn load_kek(source: &KekSource, env: &Env) -> Result<Kek, ConfigError> {
    let (key, text) = match source {
        KekSource::File(path) => ("kek.file", read_key_file(path)?),
        KekSource::Env(name) => match env.get(name) {
            Some(value) => ("kek.env", Zeroizing::new(value.to_owned())),
            None => {
                return Err(invalid(
                    "kek.env",
                    format!("environment variable {name} is not set"),
                ));
            }
        },
    };
    parse_kek(&text).map_err(|reason| invalid(key, reason))
}

/// Parses 64 hex digits into a KEK.
pub fn parse_kek(text: &str) -> Result<Kek, String> {
    let trimmed = text.trim();
    if trimmed.len() != 2 * Kek::LEN {
        return Err(format!(
            "the key must be {} hexadecimal digits, found {} characters",
            2 * Kek::LEN,
            trimmed.len()
        ));
    }
    let mut bytes = Zeroizing::new([0u8; Kek::LEN]);
    hex::decode_to_slice(trimmed, bytes.as_mut())
        .map_err(|_| String::from("the key must be hexadecimal digits only"))?;
    Kek::from_bytes(bytes.as_ref()).map_err(|e| format!("the key is unusable: {e}"))
}

fn read_key_file(path: &Path) -> Result<Zeroizing<String>, ConfigError> {
    crate::key_file::check_path(path).map_err(|reason| invalid("kek.file", reason))?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid("kek.file", format!("cannot read {}: {e}", path.display())))?;
    Ok(Zeroizing::new(text))
}

/// Generates a fresh KEK as 64 hex digits, so that `meridian dev` can write
/// the same key for every node of its cluster with [`write_key_file`].
pub fn generate_kek_hex<R: RandomSource + ?Sized>(
    rng: &mut R,
) -> Result<Zeroizing<String>, std::io::Error> {
    let (_, bytes) = Kek::generate(rng).map_err(std::io::Error::other)?;
    Ok(Zeroizing::new(hex::encode(bytes.as_ref())))
}

/// Writes `hex` as a new key file, created with mode 0600; an existing file
/// is never overwritten.
pub fn write_key_file(path: &Path, hex: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(hex.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        problems: vec![Problem::new(key, reason)],
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use meridian_core::rand::DeterministicRandom;

    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn parses_hex_with_whitespace_and_refuses_other_text() {
        let expected = parse_kek(HEX)
            .unwrap_or_else(|e| panic!("{e}"))
            .fingerprint();
        let padded = parse_kek(&format!("  {HEX}\n")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(padded.fingerprint(), expected);
        for bad in [
            "",
            "00",
            &HEX[..62],
            &format!("{HEX}00"),
            &HEX.replace('0', "g"),
        ] {
            assert!(parse_kek(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn key_files_must_be_private_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("kek");
        let hex = generate_kek_hex(&mut DeterministicRandom::from_seed(7))
            .unwrap_or_else(|e| panic!("{e}"));
        write_key_file(&path, &hex).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let source = KekSource::File(path.clone());
        let loaded = load_kek(&source, &Env::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            loaded.fingerprint(),
            parse_kek(&hex)
                .unwrap_or_else(|e| panic!("{e}"))
                .fingerprint()
        );
        assert!(write_key_file(&path, &hex).is_err(), "overwrote a key file");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = load_kek(&source, &Env::new());
        assert!(
            matches!(&refused, Err(e) if e.concerns("kek.file")),
            "{refused:?}"
        );
    }

    #[test]
    fn env_source_reads_the_named_variable() {
        let source = KekSource::Env(String::from("NODE_KEK"));
        let missing = load_kek(&source, &Env::new());
        assert!(matches!(&missing, Err(e) if e.concerns("kek.env")));
        let loaded = load_kek(&source, &Env::new().with("NODE_KEK", HEX));
        assert!(loaded.is_ok(), "{loaded:?}");
        let bad = load_kek(&source, &Env::new().with("NODE_KEK", "secret"));
        let printed = format!("{bad:?}");
        assert!(matches!(&bad, Err(e) if e.concerns("kek.env")));
        assert!(!printed.contains("secret"), "{printed}");
    }
}
