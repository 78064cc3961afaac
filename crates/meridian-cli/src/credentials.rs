//! `meridian credentials`: temporary credentials for a role, printed in the
//! AWS `credential_process` format, so that an AWS config profile like
//!
//! ```ini
//! [profile app]
//! credential_process = meridian credentials --role-arn arn:aws:iam::123456789012:role/app --endpoint http://127.0.0.1:7101
//! ```
//!
//! makes every SDK and the aws CLI use Meridian transparently.
//!
//! Two ways to get them, as the SDKs' own providers do:
//!
//! * **Web identity** (`--web-identity-token-file`, or the SDKs'
//!   `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` + `AWS_ROLE_SESSION_NAME`
//!   convention): the token file is read on every run (Kubernetes rotates
//!   it) and exchanged with the unsigned `AssumeRoleWithWebIdentity`;
//! * **Assume role** with source credentials: `--source-profile NAME` reads
//!   static keys from the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`,
//!   default `~/.aws/credentials`); otherwise `AWS_ACCESS_KEY_ID`,
//!   `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`. The call is SigV4-signed.
//!   (A profile must not name itself as its source: the SDK would run this
//!   command again to get the source.)
//!
//! Where: `--endpoint URL`, or a node of `--region` in `--cluster
//! cluster.json`, or `MERIDIAN_ENDPOINT`, `AWS_ENDPOINT_URL_STS`,
//! `AWS_ENDPOINT_URL`. Region: `--region`, `AWS_REGION`,
//! `AWS_DEFAULT_REGION`, the cluster's first region, `us-east-1`.
//!
//! Output (stdout, one JSON object): `Version` 1, `AccessKeyId`,
//! `SecretAccessKey`, `SessionToken`, `Expiration` (ISO 8601). Errors go to
//! stderr with AWS's code and message, and exit non-zero, so the SDK reports
//! them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use meridian_core::oidc::issuer::FetchUrl;
use meridian_core::sigv4::request::{Payload, Request as SigRequest};
use meridian_core::sigv4::signer::{self, SigningOptions, SigningParams};
use meridian_federation::http::{AddressPolicy, HttpClient};
use zeroize::Zeroizing;

/// What the command was asked.
#[derive(Debug, Clone, Default)]
pub struct CredentialsOptions {
    /// The role to assume (`AWS_ROLE_ARN` when absent).
    pub role_arn: Option<String>,
    /// The session name (`AWS_ROLE_SESSION_NAME`, then `meridian-<time>`).
    pub session_name: Option<String>,
    /// `DurationSeconds`.
    pub duration: Option<u32>,
    /// The STS endpoint.
    pub endpoint: Option<String>,
    /// A cluster.json to pick a node from.
    pub cluster: Option<PathBuf>,
    /// The region (signing scope, node choice).
    pub region: Option<String>,
    /// A web identity token file.
    pub web_identity_token_file: Option<PathBuf>,
    /// A profile of the shared credentials file with static source keys.
    pub source_profile: Option<String>,
}

/// The environment the command reads (injected for tests).
pub type Environment = HashMap<String, String>;

/// Source credentials.
struct Source {
    access_key_id: String,
    secret: Zeroizing<String>,
    token: Option<String>,
}

const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, FORM),
                percent_encoding::utf8_percent_encode(v, FORM)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn var<'a>(env: &'a Environment, name: &str) -> Option<&'a str> {
    env.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// Region and endpoint.
fn target(options: &CredentialsOptions, env: &Environment) -> anyhow::Result<(String, String)> {
    let cluster: Option<serde_json::Value> = match &options.cluster {
        Some(path) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("failed to read {}", path.display()))?,
            )
            .with_context(|| format!("{} is not a cluster.json", path.display()))?,
        ),
        None => None,
    };
    let cluster_regions: Vec<&serde_json::Value> = cluster
        .as_ref()
        .and_then(|c| c["regions"].as_array())
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let region = options
        .region
        .clone()
        .or_else(|| var(env, "AWS_REGION").map(str::to_owned))
        .or_else(|| var(env, "AWS_DEFAULT_REGION").map(str::to_owned))
        .or_else(|| {
            cluster_regions
                .first()
                .and_then(|r| r["name"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from("us-east-1"));
    let from_cluster = || {
        let node_of = |r: &&serde_json::Value| {
            r["nodes"]
                .as_array()
                .and_then(|nodes| nodes.first())
                .and_then(|node| node["http"].as_str())
                .map(str::to_owned)
        };
        cluster_regions
            .iter()
            .find(|r| r["name"].as_str() == Some(region.as_str()))
            .and_then(node_of)
            .or_else(|| cluster_regions.first().and_then(node_of))
    };
    let endpoint = options
        .endpoint
        .clone()
        .or_else(from_cluster)
        .or_else(|| var(env, "MERIDIAN_ENDPOINT").map(str::to_owned))
        .or_else(|| var(env, "AWS_ENDPOINT_URL_STS").map(str::to_owned))
        .or_else(|| var(env, "AWS_ENDPOINT_URL").map(str::to_owned))
        .ok_or_else(|| {
            anyhow!("no STS endpoint: pass --endpoint or --cluster, or set AWS_ENDPOINT_URL_STS")
        })?;
    Ok((region, endpoint))
}

/// Static keys of `profile` in the shared credentials file.
fn profile_credentials(env: &Environment, profile: &str) -> anyhow::Result<Source> {
    let path = var(env, "AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| var(env, "HOME").map(|home| Path::new(home).join(".aws/credentials")))
        .ok_or_else(|| anyhow!("no shared credentials file (set AWS_SHARED_CREDENTIALS_FILE)"))?;
    let text = Zeroizing::new(
        std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?,
    );
    let mut section = String::new();
    let mut values: HashMap<String, String> = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().trim_start_matches("profile ").to_owned();
            continue;
        }
        if section == profile
            && let Some((key, value)) = line.split_once('=')
        {
            values.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let access_key_id = values.remove("aws_access_key_id").ok_or_else(|| {
        anyhow!(
            "profile {profile} has no aws_access_key_id in {}",
            path.display()
        )
    })?;
    let secret = values
        .remove("aws_secret_access_key")
        .ok_or_else(|| anyhow!("profile {profile} has no aws_secret_access_key"))?;
    Ok(Source {
        access_key_id,
        secret: Zeroizing::new(secret),
        token: values.remove("aws_session_token"),
    })
}

fn environment_credentials(env: &Environment) -> anyhow::Result<Source> {
    match (
        var(env, "AWS_ACCESS_KEY_ID"),
        var(env, "AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => Ok(Source {
            access_key_id: id.to_owned(),
            secret: Zeroizing::new(secret.to_owned()),
            token: var(env, "AWS_SESSION_TOKEN").map(str::to_owned),
        }),
        _ => bail!(
            "no source credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass \
             --source-profile, or use a web identity token file"
        ),
    }
}

/// The text of `<name>…</name>` in an XML document, unescaped.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Runs the command; the JSON to print.
pub async fn run(options: &CredentialsOptions, env: &Environment) -> anyhow::Result<String> {
    let (region, endpoint) = target(options, env)?;
    let url = FetchUrl::parse(&endpoint)
        .map_err(|_| anyhow!("the endpoint {endpoint} is not an http(s) URL"))?;
    let role_arn = options
        .role_arn
        .clone()
        .or_else(|| var(env, "AWS_ROLE_ARN").map(str::to_owned))
        .ok_or_else(|| anyhow!("no role: pass --role-arn or set AWS_ROLE_ARN"))?;
    let now = crate::clock::now();
    let session_name = options
        .session_name
        .clone()
        .or_else(|| var(env, "AWS_ROLE_SESSION_NAME").map(str::to_owned))
        .unwrap_or_else(|| format!("meridian-{}", now.unix_seconds()));
    let duration = options.duration.map(|d| d.to_string());
    let token_file = options.web_identity_token_file.clone().or_else(|| {
        // The SDKs' convention applies only when no explicit source is asked.
        options
            .source_profile
            .is_none()
            .then(|| var(env, "AWS_WEB_IDENTITY_TOKEN_FILE").map(PathBuf::from))
            .flatten()
    });

    let mut headers = vec![(
        String::from("content-type"),
        String::from("application/x-www-form-urlencoded; charset=utf-8"),
    )];
    let (action, body) = match &token_file {
        Some(path) => {
            let token = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("failed to read {}", path.display()))?,
            );
            let mut params = vec![
                ("Action", "AssumeRoleWithWebIdentity"),
                ("Version", "2011-06-15"),
                ("RoleArn", role_arn.as_str()),
                ("RoleSessionName", session_name.as_str()),
                ("WebIdentityToken", token.trim()),
            ];
            if let Some(duration) = &duration {
                params.push(("DurationSeconds", duration));
            }
            ("AssumeRoleWithWebIdentity", Zeroizing::new(form(&params)))
        }
        None => {
            let source = match &options.source_profile {
                Some(profile) => profile_credentials(env, profile)?,
                None => environment_credentials(env)?,
            };
            let mut params = vec![
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", role_arn.as_str()),
                ("RoleSessionName", session_name.as_str()),
            ];
            if let Some(duration) = &duration {
                params.push(("DurationSeconds", duration));
            }
            let body = Zeroizing::new(form(&params));
            let authority = url.authority();
            let signed_headers: [(&str, &[u8]); 2] = [
                ("host", authority.as_bytes()),
                (
                    "content-type",
                    b"application/x-www-form-urlencoded; charset=utf-8",
                ),
            ];
            let request = SigRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &signed_headers,
                payload: Payload::Body(body.as_bytes()),
            };
            let signature = signer::sign_headers(
                &request,
                &SigningParams {
                    access_key_id: &source.access_key_id,
                    secret_access_key: source.secret.as_bytes(),
                    session_token: source.token.as_deref(),
                    region: &region,
                    service: "sts",
                    time: now,
                    options: SigningOptions::standard(),
                },
            )
            .map_err(|e| anyhow!("failed to sign the request: {e}"))?;
            for (name, value) in signature.headers() {
                headers.push((name.to_string(), value.to_string()));
            }
            ("AssumeRole", body)
        }
    };

    // The user's own endpoint: loopback and private addresses are fine here.
    let client = HttpClient::new(
        AddressPolicy {
            allow_loopback: true,
            allow_private: true,
        },
        Duration::from_secs(5),
        256 * 1024,
        &[],
    )
    .map_err(|e| anyhow!("TLS setup failed: {e}"))?;
    let url = FetchUrl {
        path: String::from("/"),
        ..url
    };
    let (status, response) = tokio::time::timeout(
        Duration::from_secs(30),
        client.post(&url, &headers, Bytes::from(body.as_bytes().to_vec())),
    )
    .await
    .map_err(|_| anyhow!("{endpoint} did not answer within 30 s"))?
    .map_err(|e| anyhow!("calling {endpoint}: {e}"))?;
    let xml = String::from_utf8_lossy(&response);
    if status != 200 {
        let code = element(&xml, "Code").unwrap_or_else(|| format!("HTTP {status}"));
        let message = element(&xml, "Message").unwrap_or_default();
        bail!("{action} failed: {code}: {message}");
    }
    let field =
        |name: &str| element(&xml, name).ok_or_else(|| anyhow!("{action} answered without {name}"));
    let output = serde_json::json!({
        "Version": 1,
        "AccessKeyId": field("AccessKeyId")?,
        "SecretAccessKey": field("SecretAccessKey")?,
        "SessionToken": field("SessionToken")?,
        "Expiration": field("Expiration")?,
    });
    Ok(output.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn endpoint_and_region_precedence() {
        let options = CredentialsOptions::default();
        assert!(target(&options, &env(&[])).is_err());
        let (region, endpoint) = target(
            &options,
            &env(&[
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "http://b"),
                ("AWS_ENDPOINT_URL_STS", "http://a"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (region.as_str(), endpoint.as_str()),
            ("eu-west-1", "http://a")
        );
        let options = CredentialsOptions {
            endpoint: Some("http://explicit".into()),
            region: Some("ap-southeast-2".into()),
            ..CredentialsOptions::default()
        };
        let (region, endpoint) = target(&options, &env(&[("AWS_ENDPOINT_URL_STS", "http://a")]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (region.as_str(), endpoint.as_str()),
            ("ap-southeast-2", "http://explicit")
        );
    }

    #[test]
    fn cluster_json_picks_the_region_node() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("cluster.json");
        std::fs::write(
            &path,
            r#"{"regions":[{"name":"us-east-1","nodes":[{"http":"http://127.0.0.1:7101"}]},
                          {"name":"eu-west-1","nodes":[{"http":"http://127.0.0.1:7102"}]}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut options = CredentialsOptions {
            cluster: Some(path),
            ..CredentialsOptions::default()
        };
        let (region, endpoint) = target(&options, &env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (region.as_str(), endpoint.as_str()),
            ("us-east-1", "http://127.0.0.1:7101")
        );
        options.region = Some("eu-west-1".into());
        let (_, endpoint) = target(&options, &env(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(endpoint, "http://127.0.0.1:7102");
    }

    #[test]
    fn shared_credentials_profiles() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n\
             [src]\n# comment\naws_access_key_id=AKIASRC\naws_secret_access_key = s/x+y\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let env = env(&[("AWS_SHARED_CREDENTIALS_FILE", path.to_str().unwrap_or(""))]);
        let source = profile_credentials(&env, "src").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(source.access_key_id, "AKIASRC");
        assert_eq!(source.secret.as_str(), "s/x+y");
        assert!(source.token.is_none());
        assert!(profile_credentials(&env, "missing").is_err());
    }

    #[test]
    fn xml_elements_are_unescaped() {
        let xml = "<R><Code>AccessDenied</Code><Message>a &amp; b &lt;c&gt;</Message></R>";
        assert_eq!(element(xml, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(element(xml, "Message").as_deref(), Some("a & b <c>"));
        assert_eq!(element(xml, "Missing"), None);
    }
}
