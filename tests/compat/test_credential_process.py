"""`credential_process = meridian credentials …` in an AWS config profile:
the aws CLI (and so every SDK) gets role credentials from Meridian without
any key in the profile — assumed with a source profile's static keys, or
with a web identity token file (the SDKs' AWS_WEB_IDENTITY_TOKEN_FILE
convention)."""

import json
import os
import shlex
import subprocess
import uuid

import pytest

from test_web_identity import CLIENT, Issuer


@pytest.fixture(scope="module")
def meridian_bin():
    path = os.environ.get("MERIDIAN_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.exit("MERIDIAN_BIN is not set: run the suite with tests/compat/run.sh", 2)
    return path


def run_aws(args, config, credentials, home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
        HOME=str(home),
    )
    return subprocess.run(
        ["aws", *args], env=env, capture_output=True, text=True, timeout=60
    )


def role(iam, trust):
    name = f"cp-{uuid.uuid4().hex[:10]}"
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]


def test_profile_with_source_credentials(tmp_path, meridian_bin, iam_client, nodes, admin):
    iam = iam_client(nodes[0])
    target = role(
        iam,
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{admin['account_id']}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
    )
    node = nodes[-1]
    command = " ".join(
        shlex.quote(part)
        for part in [
            meridian_bin,
            "credentials",
            "--role-arn",
            target["Arn"],
            "--session-name",
            "cp-session",
            "--endpoint",
            node["http"],
            "--region",
            node["region"],
            "--source-profile",
            "meridian-source",
        ]
    )
    config = tmp_path / "config"
    config.write_text(
        f"[profile app]\ncredential_process = {command}\nregion = {node['region']}\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[meridian-source]\n"
        f"aws_access_key_id = {admin['access_key_id']}\n"
        f"aws_secret_access_key = {admin['secret_access_key']}\n"
    )
    # The command itself prints the credential_process document.
    direct = subprocess.run(
        shlex.split(command),
        env={"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert direct.returncode == 0, direct.stderr
    document = json.loads(direct.stdout)
    assert document["Version"] == 1
    assert document["AccessKeyId"].startswith("ASIA")
    assert {"SecretAccessKey", "SessionToken", "Expiration"} <= document.keys()

    def identity(other):
        result = run_aws(
            [
                "sts",
                "get-caller-identity",
                "--profile",
                "app",
                "--endpoint-url",
                other["http"],
                "--region",
                other["region"],
            ],
            config,
            credentials,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    # Credentials from one region work in every region.
    for other in nodes:
        who = eventually_identity(lambda: identity(other))
        assert who["Arn"] == (
            f"arn:aws:sts::{admin['account_id']}:assumed-role/{target['RoleName']}/cp-session"
        )


def eventually_identity(call, attempts=30):
    import time

    for attempt in range(attempts):
        try:
            return call()
        except AssertionError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.3)


def test_profile_with_a_web_identity_token_file(tmp_path, meridian_bin, aws_cli, iam_client, nodes, admin):
    issuer = Issuer()
    try:
        created = aws_cli(
            "iam", "create-open-id-connect-provider", "--url", issuer.url, "--client-id-list", CLIENT
        )
        assert created.returncode == 0, created.stderr
        provider = json.loads(created.stdout)["OpenIDConnectProviderArn"]
        iam = iam_client(nodes[0])
        target = role(
            iam,
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": provider},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {"StringEquals": {f"{issuer.resource}:sub": "user-42"}},
                    }
                ],
            },
        )
        token_file = tmp_path / "token"
        token_file.write_text(issuer.token())
        node = nodes[0]
        command = " ".join(
            shlex.quote(part)
            for part in [
                meridian_bin,
                "credentials",
                "--role-arn",
                target["Arn"],
                "--session-name",
                "pod-1",
                "--web-identity-token-file",
                str(token_file),
                "--endpoint",
                node["http"],
            ]
        )
        config = tmp_path / "config"
        config.write_text(f"[profile pod]\ncredential_process = {command}\nregion = {node['region']}\n")
        credentials = tmp_path / "credentials"
        credentials.write_text("")
        result = eventually_identity(
            lambda: _ok(
                run_aws(
                    ["sts", "get-caller-identity", "--profile", "pod", "--endpoint-url", node["http"]],
                    config,
                    credentials,
                    tmp_path,
                )
            )
        )
        assert result["Arn"].endswith(f":assumed-role/{target['RoleName']}/pod-1")
        # A token for another subject is refused, and the error reaches the CLI.
        token_file.write_text(issuer.token(sub="someone-else"))
        refused = run_aws(
            ["sts", "get-caller-identity", "--profile", "pod", "--endpoint-url", node["http"]],
            config,
            credentials,
            tmp_path,
        )
        assert refused.returncode != 0
        assert "AccessDenied" in refused.stderr
    finally:
        issuer.stop()


def _ok(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
