//! Meridian: the cluster (`cluster.json` of `meridian dev`), the fixture a
//! run needs, and the STS/IAM workloads.
//!
//! Setup, through the first node with the administrator's credentials:
//!
//! ```text
//!   CreatePolicy mload-<run>   (sts:AssumeRole, iam:TagRole, iam:UntagRole on the role)
//!   CreateRole   mload-<run>   (trust: the account)
//!   N × CreateUser mload-<run>-i, AttachUserPolicy, CreateAccessKey   → N callers (AKIA)
//!   wait until the last caller's key answers GetCallerIdentity on every node (replication)
//!   [get-caller-identity] N × AssumeRole → N sessions (ASIA + token)
//! ```
//!
//! Why N callers rather than one: every node limits each access key to 200
//! requests/s (AWS's per-account STS quota, split; `RateLimit::RECOMMENDED`).
//! A benchmark with one key would measure the limiter. With N keys the
//! sustainable rate is N × 200/s before `Throttling` appears, and the limiter
//! still runs on every request, as in production. Names carry a per-run
//! suffix so that several runs can share one cluster.
//!
//! Request `seq` goes to node `seq mod nodes`, signed for that node's region
//! by caller `seq mod N`. Every workload signs each request when it is sent.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::aws::{self, Credentials, Endpoint};
use crate::clock;
use crate::engine::Outcome;
use crate::http::{self as client, HttpClient, HttpWorkload};

/// The parts of `cluster.json` this tool reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterFile {
    /// Regions and their nodes.
    pub regions: Vec<RegionEntry>,
    /// The bootstrapped administrator.
    pub admin: AdminEntry,
}

/// One region of `cluster.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct RegionEntry {
    /// Its name.
    pub name: String,
    /// Its nodes.
    pub nodes: Vec<NodeEntry>,
}

/// One node of `cluster.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeEntry {
    /// Node id.
    pub id: u64,
    /// Region.
    pub region: String,
    /// HTTP edge URL.
    pub http: String,
    /// gRPC URL.
    pub grpc: String,
    /// Process id (0 when unknown).
    #[serde(default)]
    pub pid: u32,
}

/// The administrator of `cluster.json`.
#[derive(Clone, Deserialize)]
pub struct AdminEntry {
    /// The account.
    pub account_id: String,
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
}

impl std::fmt::Debug for AdminEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminEntry")
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl ClusterFile {
    /// Reads `cluster.json`.
    pub fn read(path: &std::path::Path) -> anyhow::Result<ClusterFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Every node, in region order.
    pub fn nodes(&self) -> Vec<&NodeEntry> {
        self.regions.iter().flat_map(|r| r.nodes.iter()).collect()
    }

    /// The administrator's credentials.
    pub fn admin_credentials(&self) -> Credentials {
        Credentials {
            access_key_id: self.admin.access_key_id.clone(),
            secret_access_key: Zeroizing::new(self.admin.secret_access_key.clone()),
            session_token: None,
        }
    }
}

/// The STS/IAM workloads (also used against moto).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsWorkload {
    /// `AssumeRole` by IAM users with long-term keys.
    AssumeRole,
    /// `GetCallerIdentity` with temporary credentials.
    GetCallerIdentity,
    /// `TagRole` / `UntagRole` alternately: replicated configuration writes.
    IamWrite,
}

/// What a run against an STS/IAM endpoint needs.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The nodes, in the order requests rotate over them.
    pub endpoints: Vec<Endpoint>,
    /// The callers (long-term keys, or sessions for GetCallerIdentity).
    pub callers: Vec<Credentials>,
    /// The role assumed and tagged.
    pub role_arn: String,
    /// Its name.
    pub role_name: String,
}

/// A workload over a fixture.
#[derive(Debug)]
pub struct AwsTarget {
    workload: AwsWorkload,
    fixture: Fixture,
}

impl AwsTarget {
    /// A target for `workload` (the fixture must have at least one
    /// endpoint and one caller).
    pub fn new(workload: AwsWorkload, fixture: Fixture) -> anyhow::Result<AwsTarget> {
        anyhow::ensure!(!fixture.endpoints.is_empty(), "no endpoint");
        anyhow::ensure!(!fixture.callers.is_empty(), "no caller");
        Ok(AwsTarget { workload, fixture })
    }

    fn pick(&self, seq: u64) -> (&Endpoint, &Credentials) {
        let endpoints = &self.fixture.endpoints;
        let callers = &self.fixture.callers;
        // Lengths are non-zero (checked in `new`).
        let endpoint = &endpoints[(seq % endpoints.len() as u64) as usize];
        let caller = &callers[(seq % callers.len() as u64) as usize];
        (endpoint, caller)
    }

    /// The form body of request `seq`, its service and its success marker.
    pub fn body(&self, seq: u64) -> (String, &'static str, &'static [u8]) {
        let (body, service) = self.form(seq);
        (body, service, self.body_marker(seq))
    }

    fn form(&self, seq: u64) -> (String, &'static str) {
        match self.workload {
            AwsWorkload::AssumeRole => (
                aws::form(&[
                    ("Action", "AssumeRole"),
                    ("Version", "2011-06-15"),
                    ("RoleArn", &self.fixture.role_arn),
                    ("RoleSessionName", &format!("load-{}", seq % 1000)),
                ]),
                "sts",
            ),
            AwsWorkload::GetCallerIdentity => (
                aws::form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]),
                "sts",
            ),
            AwsWorkload::IamWrite => {
                // Pairs: tag then untag the same key; 16 keys stay under
                // IAM's 50 tags per role whatever the interleaving.
                let key = format!("k{}", (seq / 2) % 16);
                if seq.is_multiple_of(2) {
                    (
                        aws::form(&[
                            ("Action", "TagRole"),
                            ("Version", "2010-05-08"),
                            ("RoleName", &self.fixture.role_name),
                            ("Tags.member.1.Key", &key),
                            ("Tags.member.1.Value", &format!("v{seq}")),
                        ]),
                        "iam",
                    )
                } else {
                    (
                        aws::form(&[
                            ("Action", "UntagRole"),
                            ("Version", "2010-05-08"),
                            ("RoleName", &self.fixture.role_name),
                            ("TagKeys.member.1", &key),
                        ]),
                        "iam",
                    )
                }
            }
        }
    }
}

impl HttpWorkload for AwsTarget {
    fn request(&self, seq: u64) -> anyhow::Result<Request<Full<Bytes>>> {
        let (endpoint, caller) = self.pick(seq);
        let (body, service) = self.form(seq);
        aws::signed_request(endpoint, service, caller, body, clock::now())
    }

    fn classify(&self, seq: u64, status: StatusCode, body: &[u8]) -> Outcome {
        let marker = self.body_marker(seq);
        aws::classify(status, body, marker)
    }
}

impl AwsTarget {
    /// The element a successful answer to request `seq` contains.
    pub fn body_marker(&self, seq: u64) -> &'static [u8] {
        match self.workload {
            AwsWorkload::AssumeRole => b"<AssumeRoleResult>",
            AwsWorkload::GetCallerIdentity => b"<GetCallerIdentityResult>",
            AwsWorkload::IamWrite if seq.is_multiple_of(2) => b"<TagRoleResponse",
            AwsWorkload::IamWrite => b"<UntagRoleResponse",
        }
    }
}

/// Sends one setup call, retrying throttling, 5xx and connection failures
/// (at most 8 attempts, backing off from 50 ms). Returns the answer body of a
/// 200, or the error code.
pub async fn setup_call(
    http: &HttpClient,
    endpoint: &Endpoint,
    service: &str,
    credentials: &Credentials,
    params: &[(&str, &str)],
) -> Result<Bytes, String> {
    let mut backoff = Duration::from_millis(50);
    let mut last = String::new();
    for _ in 0..8 {
        let body = aws::form(params);
        let request = aws::signed_request(endpoint, service, credentials, body, clock::now())
            .map_err(|e| format!("cannot sign: {e}"))?;
        match client::send(http, request).await {
            Ok((StatusCode::OK, answer)) => return Ok(answer),
            Ok((status, answer)) => {
                let code = aws::error_code(&answer)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("http-{}", status.as_u16()));
                let retry = status.is_server_error()
                    || matches!(code.as_str(), "Throttling" | "ServiceUnavailable");
                if !retry {
                    return Err(code);
                }
                last = code;
            }
            Err(error) => last = error.code().to_owned(),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    Err(last)
}

/// Options of the Meridian setup.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// Number of callers.
    pub callers: usize,
    /// Use only the first `nodes` nodes (all when `None`).
    pub nodes: Option<usize>,
    /// A suffix making this run's names unique.
    pub run_id: String,
}

/// Creates the fixture for `workload` on the cluster.
pub async fn prepare(
    http: &HttpClient,
    cluster: &ClusterFile,
    workload: AwsWorkload,
    options: &SetupOptions,
) -> anyhow::Result<Fixture> {
    let mut endpoints = cluster
        .nodes()
        .into_iter()
        .map(|node| Endpoint::new(&node.http, &node.region))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(limit) = options.nodes {
        endpoints.truncate(limit.max(1));
    }
    let first = endpoints
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("cluster.json lists no node"))?;
    let admin = cluster.admin_credentials();
    let account = &cluster.admin.account_id;
    let name = format!("mload-{}", options.run_id);
    let role_arn = format!("arn:aws:iam::{account}:role/{name}");
    let policy_arn = format!("arn:aws:iam::{account}:policy/{name}");

    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn},
            {"Effect": "Allow", "Action": ["iam:TagRole", "iam:UntagRole"], "Resource": role_arn}
        ]
    })
    .to_string();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string();
    let step = |what: &str, result: Result<Bytes, String>| {
        result.map_err(|code| anyhow::anyhow!("setup: {what} failed: {code}"))
    };
    step(
        "CreatePolicy",
        setup_call(
            http,
            &first,
            "iam",
            &admin,
            &[
                ("Action", "CreatePolicy"),
                ("Version", "2010-05-08"),
                ("PolicyName", &name),
                ("PolicyDocument", &policy),
            ],
        )
        .await,
    )?;
    step(
        "CreateRole",
        setup_call(
            http,
            &first,
            "iam",
            &admin,
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", &name),
                ("AssumeRolePolicyDocument", &trust),
            ],
        )
        .await,
    )?;

    // Users in parallel, 8 at a time (each is three replicated writes).
    let callers = options.callers.max(1);
    let mut users: Vec<Option<Credentials>> = vec![None; callers];
    let mut next = 0;
    while next < callers {
        let batch: Vec<usize> = (next..callers.min(next + 8)).collect();
        next += batch.len();
        let created = futures_join_all(batch.iter().map(|&i| {
            let user = format!("{name}-{i}");
            let (http, first, admin, policy_arn) = (
                http.clone(),
                first.clone(),
                admin.clone(),
                policy_arn.clone(),
            );
            async move { create_user(&http, &first, &admin, &user, &policy_arn).await }
        }))
        .await;
        for (i, credentials) in batch.into_iter().zip(created) {
            users[i] = Some(credentials?);
        }
    }
    let users: Vec<Credentials> = users.into_iter().flatten().collect();

    // Replication: every node must know the last caller before the run.
    let last = users
        .last()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no caller created"))?;
    for endpoint in &endpoints {
        wait_known(http, endpoint, &last).await?;
    }

    let callers = match workload {
        AwsWorkload::AssumeRole | AwsWorkload::IamWrite => users,
        AwsWorkload::GetCallerIdentity => {
            let mut sessions = Vec::with_capacity(users.len());
            for (i, user) in users.iter().enumerate() {
                let endpoint = &endpoints[i % endpoints.len()];
                let answer = step(
                    "AssumeRole",
                    setup_call(
                        http,
                        endpoint,
                        "sts",
                        user,
                        &[
                            ("Action", "AssumeRole"),
                            ("Version", "2011-06-15"),
                            ("RoleArn", &role_arn),
                            ("RoleSessionName", &format!("setup-{i}")),
                        ],
                    )
                    .await,
                )?;
                sessions.push(aws::credentials_in(&answer).ok_or_else(|| {
                    anyhow::anyhow!("setup: AssumeRole answer has no credentials")
                })?);
            }
            sessions
        }
    };
    Ok(Fixture {
        endpoints,
        callers,
        role_arn,
        role_name: name,
    })
}

async fn create_user(
    http: &HttpClient,
    endpoint: &Endpoint,
    admin: &Credentials,
    user: &str,
    policy_arn: &str,
) -> anyhow::Result<Credentials> {
    let fail = |what: &str, code: String| anyhow::anyhow!("setup: {what} {user} failed: {code}");
    setup_call(
        http,
        endpoint,
        "iam",
        admin,
        &[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", user),
        ],
    )
    .await
    .map_err(|c| fail("CreateUser", c))?;
    setup_call(
        http,
        endpoint,
        "iam",
        admin,
        &[
            ("Action", "AttachUserPolicy"),
            ("Version", "2010-05-08"),
            ("UserName", user),
            ("PolicyArn", policy_arn),
        ],
    )
    .await
    .map_err(|c| fail("AttachUserPolicy", c))?;
    let answer = setup_call(
        http,
        endpoint,
        "iam",
        admin,
        &[
            ("Action", "CreateAccessKey"),
            ("Version", "2010-05-08"),
            ("UserName", user),
        ],
    )
    .await
    .map_err(|c| fail("CreateAccessKey", c))?;
    Ok(Credentials {
        access_key_id: aws::xml_text(&answer, "AccessKeyId")
            .ok_or_else(|| anyhow::anyhow!("setup: CreateAccessKey answer has no key id"))?,
        secret_access_key: Zeroizing::new(
            aws::xml_text(&answer, "SecretAccessKey")
                .ok_or_else(|| anyhow::anyhow!("setup: CreateAccessKey answer has no secret"))?,
        ),
        session_token: None,
    })
}

/// Waits (at most 30 s) until `credentials` answer GetCallerIdentity on
/// `endpoint`.
async fn wait_known(
    http: &HttpClient,
    endpoint: &Endpoint,
    credentials: &Credentials,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let result = setup_call(
            http,
            endpoint,
            "sts",
            credentials,
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        )
        .await;
        match result {
            Ok(_) => return Ok(()),
            Err(code) if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!(
                    "setup: a new caller is not known on {} after 30 s ({code})",
                    endpoint.base
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Runs futures concurrently and collects their outputs in order (a small
/// stand-in for `futures::future::join_all` over spawned tasks).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(output) => outputs.push(output),
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
    outputs
}

/// The target over HTTP.
pub fn target(
    http: HttpClient,
    workload: AwsWorkload,
    fixture: Fixture,
) -> anyhow::Result<Arc<dyn crate::engine::Target>> {
    Ok(Arc::new(client::HttpTarget::new(
        http,
        AwsTarget::new(workload, fixture)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Fixture {
        Fixture {
            endpoints: vec![
                Endpoint::new("http://127.0.0.1:7101", "us-east-1")
                    .unwrap_or_else(|e| panic!("{e}")),
                Endpoint::new("http://127.0.0.1:7102", "eu-west-1")
                    .unwrap_or_else(|e| panic!("{e}")),
            ],
            callers: (0..3)
                .map(|i| Credentials {
                    access_key_id: format!("AKIAQAAAAAAAAEXAMPL{i}"),
                    secret_access_key: Zeroizing::new("secret".into()),
                    session_token: None,
                })
                .collect(),
            role_arn: "arn:aws:iam::123456789012:role/mload-x".into(),
            role_name: "mload-x".into(),
        }
    }

    #[test]
    fn requests_rotate_over_nodes_and_callers_and_sign_for_the_nodes_region() {
        let target =
            AwsTarget::new(AwsWorkload::AssumeRole, fixture()).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = std::collections::BTreeSet::new();
        for seq in 0..6 {
            let request = target.request(seq).unwrap_or_else(|e| panic!("{e}"));
            let authorization = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let region = if seq.is_multiple_of(2) {
                "us-east-1"
            } else {
                "eu-west-1"
            };
            assert!(
                authorization.contains(&format!("/{region}/sts/aws4_request")),
                "{authorization}"
            );
            assert_eq!(
                request.uri().port_u16(),
                Some(if seq.is_multiple_of(2) { 7101 } else { 7102 })
            );
            seen.insert((seq % 2, authorization.split('/').next().map(str::to_owned)));
        }
        // Two nodes × three callers: all six pairs appear in six requests.
        assert_eq!(seen.len(), 6);
    }

    #[test]
    fn iam_writes_alternate_tag_and_untag_of_a_bounded_key_set() {
        let target =
            AwsTarget::new(AwsWorkload::IamWrite, fixture()).unwrap_or_else(|e| panic!("{e}"));
        let mut keys = std::collections::BTreeSet::new();
        for seq in 0..200 {
            let (body, service, marker) = target.body(seq);
            assert_eq!(service, "iam");
            let params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let action = &params[0].1;
            if seq.is_multiple_of(2) {
                assert_eq!(action, "TagRole");
                assert_eq!(marker, b"<TagRoleResponse");
            } else {
                assert_eq!(action, "UntagRole");
                assert_eq!(marker, b"<UntagRoleResponse");
            }
            let key = params
                .iter()
                .find(|(n, _)| n == "Tags.member.1.Key" || n == "TagKeys.member.1")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            keys.insert(key);
        }
        assert_eq!(keys.len(), 16);
        assert_eq!(
            target.classify(1, StatusCode::OK, b"<UntagRoleResponse xmlns=\"x\"/>"),
            Outcome::Ok
        );
        assert_eq!(
            target.classify(0, StatusCode::OK, b"<UntagRoleResponse/>"),
            Outcome::error("unexpected-answer")
        );
    }

    #[test]
    fn cluster_json_of_meridian_dev_parses() {
        let text = r#"{"partition": "aws",
          "regions": [{"name": "us-east-1", "nodes": [{"id": 1, "region": "us-east-1",
            "http": "http://127.0.0.1:7101", "grpc": "http://127.0.0.1:7201", "pid": 4242,
            "config": "/x/node-1.toml", "data_dir": "/x/node-1", "log": "/x/node-1.log"}]},
            {"name": "eu-west-1", "nodes": [{"id": 2, "region": "eu-west-1",
            "http": "http://127.0.0.1:7102", "grpc": "http://127.0.0.1:7202", "pid": 4243,
            "config": "/x/node-2.toml", "data_dir": "/x/node-2", "log": "/x/node-2.log"}]}],
          "admin": {"account_id": "123456789012", "access_key_id": "AKIAQAAAAAAAAEXAMPLE",
                    "secret_access_key": "s3cr3t"},
          "data_dir": "/x", "env": "/x/env.sh"}"#;
        let cluster: ClusterFile = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let nodes = cluster.nodes();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[1].pid, 4243);
        assert_eq!(nodes[1].grpc, "http://127.0.0.1:7202");
        assert_eq!(
            cluster.admin_credentials().secret_access_key.as_str(),
            "s3cr3t"
        );
        assert!(!format!("{:?}", cluster.admin).contains("s3cr3t"));
    }
}
