"""/metrics on every node after real traffic: the expected series are there
and non-zero, labels carry no caller identifiers, issuance and verification
made no call to another node, and every metric the Grafana dashboard and the
Prometheus alert rules (deploy/) use is one the nodes register."""

import json
import re
import urllib.request
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError

from conftest import REQUEST_TIMEOUT, eventually, trust_policy, unique

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(node) -> dict:
    """{name: [(labels, value)]} from the node's /metrics."""
    with urllib.request.urlopen(f"{node['http']}/metrics", timeout=REQUEST_TIMEOUT) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    families = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"unparsable line: {line!r}"
        name, _, labels, value = match.groups()
        families.setdefault(name, []).append((dict(LABEL.findall(labels or "")), float(value)))
    return families


def value(families, name, **labels) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        v for got, v in families.get(name, []) if all(got.get(k) == w for k, w in labels.items())
    )


@pytest.fixture(scope="module")
def traffic(nodes, admin_iam, iam_client, sts_client, account_id):
    """Verification in every region, a role written on one node and assumed in
    every region, a refused signature and a refused AssumeRole, and a write
    made on a follower (forwarded to the leader: one call to another node)."""
    for node in nodes:
        sts_client(node).get_caller_identity()
    role = unique("metrics-role")
    admin_iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=trust_policy(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
             "Action": "sts:AssumeRole"}
        ),
    )
    arn = f"arn:aws:iam::{account_id}:role/{role}"
    for node in nodes:
        eventually(lambda: sts_client(node).assume_role(RoleArn=arn, RoleSessionName="metrics"))
        with pytest.raises(ClientError):
            sts_client(node).assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/{unique('absent')}",
                RoleSessionName="metrics",
            )
        with pytest.raises(ClientError):
            sts_client(node, secret_access_key="x" * 40).get_caller_identity()
    follower = next(
        n for n in nodes if value(scrape(n), "meridian_raft_is_leader") == 0
    )
    iam_client(follower).tag_role(RoleName=role, Tags=[{"Key": "written-on", "Value": "follower"}])
    yield {node["id"]: scrape(node) for node in nodes}
    admin_iam.delete_role(RoleName=role)


def test_request_and_issuance_series_are_counted(traffic, nodes):
    for node in nodes:
        families = traffic[node["id"]]
        assert value(families, "meridian_edge_requests_total", action="GetCallerIdentity", outcome="ok") >= 1
        assert value(families, "meridian_edge_requests_total", action="AssumeRole", outcome="ok") >= 1
        assert value(families, "meridian_edge_requests_total", action="AssumeRole", outcome="AccessDenied") >= 1
        assert value(families, "meridian_edge_request_duration_seconds_count", action="AssumeRole") >= 2
        assert value(families, "meridian_edge_request_duration_seconds_sum", action="AssumeRole") > 0
        assert value(
            families, "meridian_edge_credentials_issued_total",
            region=node["region"], principal_kind="assumed-role",
        ) >= 1
        assert value(families, "meridian_verification_failures_total", reason="SignatureDoesNotMatch") >= 1


def test_raft_keyring_staleness_and_process_series(traffic, nodes):
    leaders = 0
    for node in nodes:
        families = traffic[node["id"]]
        assert value(families, "meridian_raft_term") >= 1
        assert value(families, "meridian_raft_has_leader") == 1
        assert value(families, "meridian_raft_applied_index") > 0
        assert value(families, "meridian_raft_commit_index") > 0
        leaders += value(families, "meridian_raft_is_leader")
        assert value(families, "meridian_keyring_keys", purpose="session_token", state="active") == 1
        assert "meridian_keyring_active_key_age_seconds" in families
        assert value(families, "meridian_keyring_max_key_age_seconds") > 0
        staleness = value(families, "meridian_config_staleness_seconds")
        assert 0 <= staleness < value(families, "meridian_config_max_staleness_seconds")
        assert value(families, "meridian_node_ready") == 1
        assert value(families, "process_cpu_seconds_total") > 0
        assert value(families, "process_resident_memory_bytes") > 0
        assert value(families, "meridian_build_info") == 1
    assert leaders == 1
    leader = next(n for n in nodes if value(traffic[n["id"]], "meridian_raft_is_leader") == 1)
    lags = traffic[leader["id"]].get("meridian_raft_replication_lag_entries", [])
    followers = {labels["follower"] for labels, _ in lags}
    assert followers == {str(n["id"]) for n in nodes if n is not leader}, lags


def test_audit_series(traffic, nodes):
    for node in nodes:
        families = traffic[node["id"]]
        assert value(families, "meridian_audit_records_total", type="issuance") >= 2
        assert value(families, "meridian_audit_batches_total") >= 1
        assert value(families, "meridian_audit_healthy") == 1
        assert value(families, "meridian_audit_failures_total") == 0
        assert "meridian_audit_queue_depth" in families
        assert value(families, "meridian_audit_sync_duration_seconds_count") >= 1


def test_issuance_and_verification_make_no_call_to_another_node(traffic, nodes):
    writes = 0
    for node in nodes:
        families = traffic[node["id"]]
        assert "meridian_request_outbound_calls_total" in families
        assert value(families, "meridian_request_outbound_calls_total", path="issue") == 0
        assert value(families, "meridian_request_outbound_calls_total", path="verify") == 0
        writes += value(families, "meridian_request_outbound_calls_total", path="config")
    # The counter is live: the write made on a follower was forwarded to the
    # leader and counted there (a write made on the leader is no such call).
    assert writes >= 1


def test_labels_carry_no_caller_identifiers(traffic, admin, account_id):
    identifiers = re.compile(r"(AKIA|ASIA)[A-Z0-9]{12,}|arn:|\b\d{12}\b")
    for families in traffic.values():
        for name, samples in families.items():
            for labels, _ in samples:
                for key, text in labels.items():
                    assert not identifiers.search(text), f"{name}{{{key}={text!r}}}"
                    assert admin["access_key_id"] not in text and account_id not in text


def metric_names(expression: str) -> set:
    """Metric names an expression uses (histogram series mapped to their family)."""
    names = set(re.findall(r"\b((?:meridian|process)_[a-z0-9_]+)\b", expression))
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}


def deploy_expressions() -> list:
    dashboard = json.loads((ROOT / "deploy/grafana/meridian.json").read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    expressions += [v.get("query", "") for v in dashboard["templating"]["list"]]
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"MeridianNoLeader", "MeridianConfigStalenessOverBound", "MeridianAuditFailing",
            "MeridianKeyRotationOverdue"} <= {rule["alert"] for rule in alerts}
    expressions += [rule["expr"] for rule in alerts]
    assert all(expressions)
    return expressions


def source_text() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "crates").glob("*/src/**/*.rs"))


def test_dashboard_and_alerts_use_registered_metrics(traffic):
    source = source_text()
    scraped = set()
    for families in traffic.values():
        scraped |= {re.sub(r"_(bucket|sum|count)$", "", name) for name in families}
    used = set()
    for expression in deploy_expressions():
        used |= metric_names(expression)
    assert len(used) >= 25, used
    for name in sorted(used):
        assert f'"{name}"' in source, f"{name} is not registered anywhere in crates/"
    # Snapshot metrics appear once a snapshot was built; everything else is
    # on every node from its start.
    rare = {"meridian_raft_snapshot_size_bytes", "meridian_raft_snapshot_duration_seconds",
            "meridian_raft_forwarded_writes_received_total"}
    missing = sorted(used - scraped - rare)
    assert not missing, f"used by deploy/ but not on /metrics: {missing}"
