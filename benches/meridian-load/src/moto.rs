//! moto's STS (`moto_server`): AssumeRole against the mock most Python
//! projects test with, signed and sent exactly as to Meridian.
//!
//! moto accepts any credentials and does not check signatures, so the
//! caller is a fixed example key; the role is created once through moto's
//! IAM (moto's AssumeRole would also accept a role that does not exist, but
//! then it would do less than a real service). Only `assume-role` and
//! `get-caller-identity` (with the example key) are meaningful here.

use zeroize::Zeroizing;

use crate::aws::{Credentials, Endpoint};
use crate::http::HttpClient;
use crate::meridian::{AwsWorkload, Fixture, setup_call};

/// The account moto puts every example key in.
pub const ACCOUNT: &str = "123456789012";

/// The role the workload assumes.
pub const ROLE_NAME: &str = "mload-moto";

/// The example caller.
pub fn caller() -> Credentials {
    Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
        session_token: None,
    }
}

/// Creates the role (if absent) and returns the fixture.
pub async fn prepare(
    http: &HttpClient,
    url: &str,
    workload: AwsWorkload,
) -> anyhow::Result<Fixture> {
    anyhow::ensure!(
        workload != AwsWorkload::IamWrite,
        "iam-write is not run against moto (its IAM is a dict, not a replicated store)"
    );
    let endpoint = Endpoint::new(url, "us-east-1")?;
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]
    })
    .to_string();
    match setup_call(
        http,
        &endpoint,
        "iam",
        &caller(),
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", ROLE_NAME),
            ("AssumeRolePolicyDocument", &trust),
        ],
    )
    .await
    {
        Ok(_) => {}
        Err(code) if code == "EntityAlreadyExists" => {}
        Err(code) => anyhow::bail!("moto CreateRole failed: {code}"),
    }
    Ok(Fixture {
        endpoints: vec![endpoint],
        callers: vec![caller()],
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"),
        role_name: ROLE_NAME.into(),
    })
}
