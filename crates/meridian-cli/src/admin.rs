//! `meridian admin …`: cluster administration over the Admin gRPC API.
//!
//! The cluster is found with `--cluster PATH/cluster.json` (the first node's
//! gRPC URL), `--endpoint URL`, or `MERIDIAN_ENDPOINT`, in that order.
//!
//! **Not available yet.** Account creation needs the authenticated
//! `meridian.v1.Admin` service (SigV4-signed gRPC metadata, authorized by
//! policy), which is a later piece of work; the IAM query API has no account
//! operation, and an unauthenticated shortcut is exactly what must not exist.
//! Until then `admin account create` resolves its endpoint and stops with an
//! explicit error rather than pretending.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::dev::layout::ClusterFile;

/// Where the cluster is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The gRPC URL to call.
    pub endpoint: String,
}

/// Resolves the target from `--cluster`, then `--endpoint` (which clap also
/// fills from `MERIDIAN_ENDPOINT`).
pub fn resolve(cluster: Option<&Path>, endpoint: Option<&str>) -> anyhow::Result<Target> {
    if let Some(path) = cluster {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let file: ClusterFile = serde_json::from_str(&text)
            .with_context(|| format!("failed to parse {}", path.display()))?;
        let first = file
            .regions
            .iter()
            .flat_map(|region| region.nodes.iter())
            .next()
            .with_context(|| format!("{} lists no node", path.display()))?;
        return Ok(Target {
            endpoint: first.grpc.clone(),
        });
    }
    if let Some(endpoint) = endpoint {
        return Ok(Target {
            endpoint: endpoint.to_owned(),
        });
    }
    bail!("no cluster given: use --cluster PATH/cluster.json, --endpoint URL or MERIDIAN_ENDPOINT")
}

/// `meridian admin account create NAME`.
pub fn account_create(target: &Target, name: &str) -> anyhow::Result<()> {
    bail!(
        "cannot create account {name:?} at {}: the authenticated Admin gRPC API is not part of this build yet",
        target.endpoint
    )
}

/// The default location of a dev cluster's file.
pub fn default_cluster_file() -> PathBuf {
    PathBuf::from("meridian-dev").join(crate::dev::layout::CLUSTER_FILE)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::dev::layout::{AdminCredentials, cluster_json, plan_new};

    #[test]
    fn cluster_file_wins_over_endpoint() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let plan = plan_new(dir.path(), &[String::from("eu-west-1")], 1, 7300)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let admin = AdminCredentials {
            account_id: String::from("123456789012"),
            access_key_id: String::from("AKIAQAAAAAAAAAAAAAAA"),
            secret_access_key: String::from("x"),
        };
        let path = dir.path().join("cluster.json");
        let text =
            cluster_json(&plan, &BTreeMap::new(), &admin).unwrap_or_else(|e| panic!("{e:#}"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let target =
            resolve(Some(&path), Some("http://other:1")).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(target.endpoint, "http://127.0.0.1:7401");
        let target = resolve(None, Some("http://other:1")).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(target.endpoint, "http://other:1");
        assert!(resolve(None, None).is_err());
        // Not available yet, and says so.
        let error = account_create(&target, "team")
            .err()
            .unwrap_or_else(|| panic!("account creation cannot succeed yet"));
        assert!(error.to_string().contains("Admin gRPC API"), "{error}");
    }
}
