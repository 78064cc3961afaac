//! Tests of `meridian dev`'s plan and file outputs, checked by parsing them:
//! `cluster.json` against the contract's shape, `env.sh` line by line, and
//! every `node-N.toml` through the server's own config validation.

use std::collections::BTreeMap;

use meridian_server::config::ClusterMode;
use meridian_server::config::env::Env;

use super::*;

fn regions(list: &str) -> Vec<String> {
    list.split(',').map(str::to_owned).collect()
}

fn admin() -> AdminCredentials {
    AdminCredentials {
        account_id: String::from("123456789012"),
        access_key_id: String::from("AKIAQAAAAAAAAAAAAAAA"),
        secret_access_key: String::from("abcdEFGH1234/+abcdEFGH1234/+abcdEFGH1234"),
    }
}

fn default_plan(root: &Path) -> ClusterPlan {
    plan_new(root, &regions(DEFAULT_REGIONS), 1, DEFAULT_BASE_PORT)
        .unwrap_or_else(|e| panic!("plan: {e:#}"))
}

#[test]
fn default_plan_matches_the_contract_ports() {
    let plan = default_plan(Path::new("/tmp/md"));
    let summary: Vec<(u64, &str, String, String)> = plan
        .nodes
        .iter()
        .map(|n| (n.id, n.region.as_str(), n.http_url(), n.grpc_url()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                1,
                "us-east-1",
                "http://127.0.0.1:7101".into(),
                "http://127.0.0.1:7201".into()
            ),
            (
                2,
                "eu-west-1",
                "http://127.0.0.1:7102".into(),
                "http://127.0.0.1:7202".into()
            ),
            (
                3,
                "ap-southeast-2",
                "http://127.0.0.1:7103".into(),
                "http://127.0.0.1:7203".into()
            ),
        ]
    );
    assert_eq!(plan.nodes[0].config, Path::new("/tmp/md/node-1.toml"));
    assert_eq!(plan.nodes[2].data_dir, Path::new("/tmp/md/node-3"));
}

#[test]
fn several_nodes_per_region_are_numbered_region_by_region() {
    let plan =
        plan_new(Path::new("/r"), &regions("a-1,b-2"), 2, 9000).unwrap_or_else(|e| panic!("{e:#}"));
    let ids: Vec<(u64, &str, u16, u16)> = plan
        .nodes
        .iter()
        .map(|n| (n.id, n.region.as_str(), n.http.port(), n.grpc.port()))
        .collect();
    assert_eq!(
        ids,
        [
            (1, "a-1", 9001, 9101),
            (2, "a-1", 9002, 9102),
            (3, "b-2", 9003, 9103),
            (4, "b-2", 9004, 9104)
        ]
    );
    let grouped: Vec<(String, usize)> = plan
        .regions()
        .into_iter()
        .map(|(name, nodes)| (name, nodes.len()))
        .collect();
    assert_eq!(
        grouped,
        [(String::from("a-1"), 2), (String::from("b-2"), 2)]
    );
}

#[test]
fn bad_plans_are_refused() {
    let root = Path::new("/r");
    for (list, per_region, base) in [
        ("", 1, 7100),
        ("us-east-1,us-east-1", 1, 7100),
        ("US", 1, 7100),
        ("us-east-1", 0, 7100),
        ("us-east-1", 100, 7100),
        ("us-east-1", 1, 65_500),
        ("us-east-1", 1, 80),
    ] {
        let regions: Vec<String> = if list.is_empty() {
            Vec::new()
        } else {
            regions(list)
        };
        assert!(
            plan_new(root, &regions, per_region, base).is_err(),
            "{list:?} × {per_region} at {base} should be refused"
        );
    }
}

#[test]
fn cluster_json_has_the_contract_shape() {
    let plan = default_plan(Path::new("/abs/meridian-dev"));
    let pids = BTreeMap::from([(1, 4242), (2, 4243), (3, 4244)]);
    let text = cluster_json(&plan, &pids, &admin()).unwrap_or_else(|e| panic!("{e:#}"));
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(value["partition"], "aws");
    let regions = value["regions"]
        .as_array()
        .unwrap_or_else(|| panic!("regions is not an array"));
    assert_eq!(regions.len(), 3);
    assert_eq!(regions[0]["name"], "us-east-1");
    let node = &regions[0]["nodes"][0];
    assert_eq!(node["id"], 1);
    assert_eq!(node["region"], "us-east-1");
    assert_eq!(node["http"], "http://127.0.0.1:7101");
    assert_eq!(node["grpc"], "http://127.0.0.1:7201");
    assert_eq!(node["pid"], 4242);
    assert_eq!(node["config"], "/abs/meridian-dev/node-1.toml");
    assert_eq!(node["data_dir"], "/abs/meridian-dev/node-1");
    assert!(node["pid"].is_u64() && node["id"].is_u64());
    assert_eq!(regions[2]["nodes"][0]["pid"], 4244);
    assert_eq!(regions[2]["nodes"][0]["region"], "ap-southeast-2");
    let admin = &value["admin"];
    assert_eq!(admin["account_id"], "123456789012");
    assert_eq!(admin["access_key_id"], "AKIAQAAAAAAAAAAAAAAA");
    assert_eq!(
        admin["secret_access_key"],
        "abcdEFGH1234/+abcdEFGH1234/+abcdEFGH1234"
    );
    // The contract's keys are all there, and only additions beyond them.
    let keys: Vec<&str> = node
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for key in ["id", "region", "http", "grpc", "pid", "config", "data_dir"] {
        assert!(keys.contains(&key), "node lacks {key}: {keys:?}");
    }
}

#[test]
fn cluster_json_round_trips_the_admin_credentials() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let plan = default_plan(dir.path());
    let path = dir.path().join(CLUSTER_FILE);
    let text = cluster_json(&plan, &BTreeMap::new(), &admin()).unwrap_or_else(|e| panic!("{e:#}"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        read_admin(&path).unwrap_or_else(|e| panic!("{e:#}")),
        admin()
    );
}

#[test]
fn env_sh_has_the_six_exports() {
    let plan = default_plan(Path::new("/abs/meridian-dev"));
    let text = env_sh(&plan, &admin()).unwrap_or_else(|e| panic!("{e:#}"));
    let exports: BTreeMap<&str, &str> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let rest = line
                .strip_prefix("export ")
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            let (name, value) = rest
                .split_once('=')
                .unwrap_or_else(|| panic!("no '=' in {line}"));
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or_else(|| panic!("value not quoted in {line}"));
            (name, value)
        })
        .collect();
    assert_eq!(
        exports,
        BTreeMap::from([
            ("AWS_ACCESS_KEY_ID", "AKIAQAAAAAAAAAAAAAAA"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "abcdEFGH1234/+abcdEFGH1234/+abcdEFGH1234"
            ),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:7101"),
            ("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:7101"),
        ])
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("export ")).count(), 6);
}

#[test]
fn node_configs_validate_and_restart_plans_match() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let plan = plan_new(dir.path(), &regions("us-east-1,eu-west-1"), 2, 7400)
        .unwrap_or_else(|e| panic!("{e:#}"));
    for node in &plan.nodes {
        let admin_file = (node.id == 1).then(|| node.data_dir.join(ADMIN_FILE));
        let raw = node_config(&plan, node, admin_file.as_deref());
        let text = node_config_toml(&raw).unwrap_or_else(|e| panic!("{e:#}"));
        std::fs::write(&node.config, text).unwrap_or_else(|e| panic!("{e}"));
        let config = Config::load(&node.config, &Env::new())
            .unwrap_or_else(|e| panic!("node-{}.toml is invalid: {e}", node.id));
        assert_eq!(config.node_id, node.id);
        assert_eq!(config.region, node.region);
        assert_eq!(config.http.listen, node.http);
        assert_eq!(config.grpc.advertise, node.grpc_url());
        match &config.cluster {
            ClusterMode::Bootstrap {
                members,
                admin_file: file,
            } => {
                assert_eq!(members.len(), 4);
                assert_eq!(file, &admin_file);
            }
            other => panic!("expected bootstrap, got {other:?}"),
        }
    }
    // A second `meridian dev` rebuilds the same plan from the files.
    let configs = existing_configs(dir.path()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(configs.len(), 4);
    let again = plan_from_configs(dir.path(), &configs).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(again, plan);
    assert!(
        existing_configs(&dir.path().join("missing"))
            .unwrap_or_else(|e| panic!("{e:#}"))
            .is_empty()
    );
}
