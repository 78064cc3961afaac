//! `meridian_request_outbound_calls_total{path}` on a live cluster of real
//! nodes (one per region, 127.0.0.1 only), read from a node's `/metrics`:
//! STS issuance and verification on a follower make no call to another node
//! (`issue` and `verify` stay 0), an IAM write on a follower is forwarded to
//! the leader and counted under `config`, and the same write on the leader
//! is proposed there and counts nothing.
//!
//! Its own test binary: the process has one metrics registry, and no other
//! test may write while this one compares counts.

#[allow(dead_code)]
#[path = "admin/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use meridian_edge::state::{Clock, SystemClock};
use meridian_grpc::node::Role;
use support::{Cluster, Keys, element, query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const COUNTER: &str = "meridian_request_outbound_calls_total";
const ROUNDS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_forwarded_configuration_writes_call_another_node() {
    let outcome = tokio::time::timeout(Duration::from_secs(180), async {
        let cluster = Cluster::start(&["us-east-1", "eu-west-1", "ap-southeast-2"]).await;
        let leader = (0..3)
            .find(|i| cluster.apps[*i].node().status().role == Role::Leader)
            .unwrap_or_else(|| panic!("no leader"));
        let follower = (leader + 1) % 3;
        let on = |i: usize| (cluster.apps[i].http_addr(), cluster.regions[i].clone());
        let account = cluster.admin.account_id;
        let admin = Keys {
            access_key_id: cluster.admin.access_key_id.as_str().to_owned(),
            secret_access_key: cluster.admin.secret_access_key.expose_secret().to_owned(),
            session_token: None,
        };

        let start = scrape(on(follower).0).await;
        for path in ["issue", "verify", "config"] {
            assert!(
                start.contains_key(&series(path)),
                "{COUNTER}{{path={path:?}}} not registered at start: {start:?}"
            );
        }
        assert_eq!(start[&series("issue")], 0.0);
        assert_eq!(start[&series("verify")], 0.0);

        // An IAM write on a follower: forwarded to the leader, counted.
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let (addr, region) = on(follower);
        let body = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=outbound&AssumeRolePolicyDocument={}",
            encode(&trust)
        );
        let (status, xml) = query(addr, &region, "iam", &body, &admin, SystemClock.now()).await;
        assert_eq!(status, 200, "CreateRole on the follower: {xml}");
        let created = scrape(addr).await;
        assert!(
            created[&series("config")] >= start[&series("config")] + 1.0,
            "the forwarded write was not counted: {start:?} -> {created:?}"
        );

        // Issuance and verification on the follower: no call anywhere.
        let role_arn = encode(&format!("arn:aws:iam::{account}:role/outbound"));
        for round in 0..ROUNDS {
            let body = format!(
                "Action=AssumeRole&Version=2011-06-15&RoleArn={role_arn}&RoleSessionName=s{round}"
            );
            // Right after start a node can be ready before it has confirmed
            // that its configuration is current, and refuses issuance with a
            // retryable ServiceUnavailable until it has: retried (bounded).
            let mut attempts = 0;
            let (status, xml) = loop {
                let answer = query(addr, &region, "sts", &body, &admin, SystemClock.now()).await;
                attempts += 1;
                if answer.0 == 503 && attempts < 100 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                break answer;
            };
            assert_eq!(status, 200, "AssumeRole on the follower: {xml}");
            let field = |name| {
                element(&xml, name)
                    .unwrap_or_else(|| panic!("no {name} in {xml}"))
                    .to_owned()
            };
            let session = Keys {
                access_key_id: field("AccessKeyId"),
                secret_access_key: field("SecretAccessKey"),
                session_token: Some(field("SessionToken")),
            };
            let (status, xml) = query(
                addr,
                &region,
                "sts",
                "Action=GetCallerIdentity&Version=2011-06-15",
                &session,
                SystemClock.now(),
            )
            .await;
            assert_eq!(status, 200, "GetCallerIdentity on the follower: {xml}");
        }
        let served = scrape(addr).await;
        assert_eq!(served[&series("issue")], 0.0, "{served:?}");
        assert_eq!(served[&series("verify")], 0.0, "{served:?}");
        assert_eq!(
            served[&series("config")],
            created[&series("config")],
            "STS calls were counted as configuration calls"
        );
        // The traffic was really served here.
        let requests = |action: &str| -> f64 {
            let action = format!("action=\"{action}\"");
            served
                .iter()
                .filter(|(name, _)| {
                    name.starts_with("meridian_edge_requests_total{")
                        && name.contains(&action)
                        && name.contains("outcome=\"ok\"")
                })
                .map(|(_, value)| value)
                .sum()
        };
        assert!(requests("AssumeRole") >= ROUNDS as f64, "{served:?}");
        assert!(requests("GetCallerIdentity") >= ROUNDS as f64, "{served:?}");

        // The same kind of write on the leader is proposed there: no call.
        let tag = "Action=TagRole&Version=2010-05-08&RoleName=outbound&Tags.member.1.Key=k&Tags.member.1.Value=v";
        let (leader_addr, leader_region) = on(leader);
        let (status, xml) =
            query(leader_addr, &leader_region, "iam", tag, &admin, SystemClock.now()).await;
        assert_eq!(status, 200, "TagRole on the leader: {xml}");
        let tagged = scrape(addr).await;
        assert_eq!(
            tagged[&series("config")],
            served[&series("config")],
            "a write on the leader was counted as a call to another node"
        );

        // And on the follower again: counted.
        let (status, xml) = query(addr, &region, "iam", tag, &admin, SystemClock.now()).await;
        assert_eq!(status, 200, "TagRole on the follower: {xml}");
        let last = scrape(addr).await;
        assert!(last[&series("config")] >= tagged[&series("config")] + 1.0, "{last:?}");
        assert_eq!(last[&series("issue")], 0.0);
        assert_eq!(last[&series("verify")], 0.0);

        cluster.shutdown().await;
    })
    .await;
    assert!(outcome.is_ok(), "test timed out");
}

fn series(path: &str) -> String {
    format!("{COUNTER}{{path=\"{path}\"}}")
}

/// `name{labels} value` of every sample on `addr`'s `/metrics`.
async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no body: {text}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Form encoding of `text` (everything but unreserved characters escaped).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
