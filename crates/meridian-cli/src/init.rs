//! `meridian init`: a new cluster's secrets, made by whoever creates it.
//!
//! Writes into `--out DIR` (created 0700 if missing):
//!
//! * `kek`: the key-encryption key, 64 hex digits, mode 0600 — every node of
//!   the cluster must hold this same key;
//! * `bootstrap-admin.json`: the administrator bootstrap file (format of
//!   `meridian_server::bootstrap::AdminBootstrap`), mode 0600 — read once by
//!   the cluster's bootstrapping member (its lowest-id initial member);
//!
//! and prints the administrator's credentials as one JSON object on stdout,
//! `{"account_id", "user_name", "access_key_id", "secret_access_key"}` (no
//! API shows a secret key again, so this is the operator's copy). The same
//! generators as `meridian dev` make both files: the KEK from
//! `meridian_server::kek::generate_kek_hex`, the credentials from
//! `AdminBootstrap::generate` (an access key id that carries its account, as
//! AWS lays them out). Nothing is ever overwritten: if either file exists,
//! nothing is written and the command fails; if the second write fails, the
//! first file is removed again, so a directory holds both or neither.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use meridian_core::ids::AccountId;
use meridian_core::rand::SystemRng;
use meridian_server::bootstrap::AdminBootstrap;
use meridian_server::kek::{generate_kek_hex, write_key_file};
use serde::Serialize;
use zeroize::Zeroizing;

/// The KEK's file name in the output directory.
pub const KEK_FILE: &str = "kek";
/// The administrator bootstrap file's name in the output directory.
pub const ADMIN_FILE: &str = "bootstrap-admin.json";

/// What to make.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The output directory.
    pub out: PathBuf,
    /// The first account's name.
    pub account_name: String,
    /// Its administrator's user name.
    pub user_name: String,
    /// The first account's 12-digit id (default: random, no leading zero).
    pub account_id: Option<String>,
}

/// What `init` wrote.
#[derive(Debug)]
pub struct Initialised {
    /// The KEK file.
    pub kek_file: PathBuf,
    /// The administrator bootstrap file.
    pub admin_file: PathBuf,
    /// The administrator's credentials as JSON (holds the secret key).
    pub credentials_json: Zeroizing<String>,
}

/// The printed credentials, in this key order.
#[derive(Serialize)]
struct Credentials<'a> {
    account_id: &'a str,
    user_name: &'a str,
    access_key_id: &'a str,
    secret_access_key: &'a str,
}

/// Writes a new cluster's KEK and administrator bootstrap file.
pub fn run(options: &InitOptions) -> anyhow::Result<Initialised> {
    let mut rng = SystemRng::new();
    let admin = match &options.account_id {
        None => AdminBootstrap::generate(&options.account_name, &options.user_name, &mut rng),
        Some(id) => {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                bail!("--account-id must be 12 digits, got {id:?}");
            }
            let account = AccountId::parse(id).with_context(|| format!("bad --account-id {id}"))?;
            AdminBootstrap::generate_in(
                account,
                &options.account_name,
                &options.user_name,
                &mut rng,
            )
        }
    }
    .context("failed to generate the administrator's credentials")?;
    let kek = generate_kek_hex(&mut rng).context("failed to generate the KEK")?;

    create_private_dir(&options.out)?;
    let kek_file = options.out.join(KEK_FILE);
    let admin_file = options.out.join(ADMIN_FILE);
    for path in [&kek_file, &admin_file] {
        if std::fs::symlink_metadata(path).is_ok() {
            bail!(
                "{} already exists; meridian init never overwrites a cluster's secrets (use another --out)",
                path.display()
            );
        }
    }
    write_key_file(&kek_file, &kek)
        .with_context(|| format!("failed to write {}", kek_file.display()))?;
    if let Err(error) = admin.write_new(&admin_file) {
        // Both or neither: a KEK alone would invite a second, different
        // administrator file later.
        let _ = std::fs::remove_file(&kek_file);
        return Err(error).context("failed to write the administrator bootstrap file");
    }
    let credentials = Credentials {
        account_id: admin.account_id.as_str(),
        user_name: &admin.user_name,
        access_key_id: admin.access_key_id.as_str(),
        secret_access_key: admin.secret_access_key.expose_secret(),
    };
    let credentials_json = Zeroizing::new(
        serde_json::to_string(&credentials).context("failed to encode the credentials")?,
    );
    Ok(Initialised {
        kek_file,
        admin_file,
        credentials_json,
    })
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("failed to create {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use meridian_server::config::KekSource;
    use meridian_server::config::env::Env;
    use meridian_server::kek::load_kek;

    use super::*;

    fn options(out: &Path) -> InitOptions {
        InitOptions {
            out: out.to_owned(),
            account_name: String::from("main"),
            user_name: String::from("admin"),
            account_id: None,
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{e}"))
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn writes_what_a_node_reads_and_prints_the_credentials() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("secrets");
        let mut chosen = options(&out);
        chosen.account_id = Some(String::from("123456789012"));
        let made = run(&chosen).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(mode(&out), 0o700);
        assert_eq!(mode(&made.kek_file), 0o600);
        assert_eq!(mode(&made.admin_file), 0o600);
        // The node accepts both files as they are.
        load_kek(&KekSource::File(made.kek_file.clone()), &Env::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let admin = AdminBootstrap::read(&made.admin_file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(admin.account_id.as_str(), "123456789012");
        assert_eq!(admin.account_name, "main");
        let printed: serde_json::Value =
            serde_json::from_str(&made.credentials_json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            printed,
            serde_json::json!({
                "account_id": "123456789012",
                "user_name": "admin",
                "access_key_id": admin.access_key_id.as_str(),
                "secret_access_key": admin.secret_access_key.expose_secret(),
            })
        );
        assert_eq!(admin.access_key_id.account(), Some(admin.account_id));
    }

    #[test]
    fn never_overwrites_and_leaves_both_files_or_neither() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("secrets");
        let first = run(&options(&out)).unwrap_or_else(|e| panic!("{e:#}"));
        let kek = std::fs::read_to_string(&first.kek_file).unwrap_or_else(|e| panic!("{e}"));
        let again = run(&options(&out));
        assert!(
            matches!(&again, Err(e) if e.to_string().contains("already exists")),
            "{again:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&first.kek_file).unwrap_or_else(|e| panic!("{e}")),
            kek
        );

        // Only the administrator file present (a half-copied set): refused,
        // and no KEK appears beside it.
        std::fs::remove_file(&first.kek_file).unwrap_or_else(|e| panic!("{e}"));
        assert!(run(&options(&out)).is_err());
        assert!(std::fs::metadata(&first.kek_file).is_err());
    }

    #[test]
    fn bad_names_and_ids_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("secrets");
        let cases = [
            ("account id", None, None, Some("12345")),
            ("account id", None, None, Some("12345678901x")),
            ("account name", Some("no spaces"), None, None),
            ("user name", None, Some(&"x".repeat(65)[..]), None),
        ];
        for (what, account_name, user_name, account_id) in cases {
            let mut bad = options(&out);
            if let Some(name) = account_name {
                bad.account_name = name.to_owned();
            }
            if let Some(name) = user_name {
                bad.user_name = name.to_owned();
            }
            bad.account_id = account_id.map(str::to_owned);
            assert!(run(&bad).is_err(), "{what}");
            assert!(std::fs::metadata(&out).is_err(), "{what}: wrote something");
        }
    }
}
