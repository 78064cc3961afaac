"""The Kubernetes manifests: every kustomization renders with kustomize, every
object is valid against the Kubernetes JSON schemas, and the parts fit
together (names, selectors, ports, probes, security, node ids, the member
list against what each pod advertises).
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import kubernetes_validate
import pytest
import yaml

from conftest import GRPC_PORT, HTTP_PORT, K8S, NAMESPACE, REGIONS, only, workspace_version

# The oldest Kubernetes the manifests are written for (the pod-index label
# is 1.28; the PVC retention policy and unhealthyPodEvictionPolicy exist since
# 1.27 and are on by default from 1.31/1.32) and the newest schema shipped.
SCHEMA_VERSIONS = ["1.31.0", "1.37.0"]
KUSTOMIZATIONS = ["namespace", *REGIONS]


def statefulset(objects):
    return only(objects, "StatefulSet")


def by_name(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def container(pod_spec, name, init=False):
    found = [c for c in pod_spec["initContainers" if init else "containers"] if c["name"] == name]
    assert len(found) == 1
    return found[0]


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def voter_template():
    text = (K8S / "base" / "config" / "voter.toml").read_text().replace("@NODE_ID@", "0")
    return tomllib.loads(text)


def learner_template():
    text = (K8S / "base" / "config" / "learner.toml").read_text().replace("@NODE_ID@", "0")
    return tomllib.loads(text)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_schemas(rendered, name, version):
    objects = rendered(name)
    assert objects, f"{name} rendered nothing"
    for obj in objects:
        # Strict: an unknown or misspelt field is an error, not ignored.
        kubernetes_validate.validate(obj, version, strict=True)


def test_a_broken_object_is_caught_by_the_validator(rendered):
    # The check above can fail: a misspelt field and a wrong type are errors.
    sts = statefulset(rendered("us-east-1"))
    broken = {**sts, "spec": {**sts["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, SCHEMA_VERSIONS[-1], strict=True)
    wrong = {**sts, "spec": {**sts["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, SCHEMA_VERSIONS[-1], strict=True)


def test_the_namespace_stands_alone(rendered):
    objects = rendered("namespace")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [("Namespace", NAMESPACE)]
    labels = objects[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for region in REGIONS:
        assert all(o["kind"] != "Namespace" for o in rendered(region)), region


@pytest.mark.parametrize("region", REGIONS)
def test_each_region_has_its_named_parts(rendered, region):
    objects = rendered(region)
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    template = [name for kind, name in kinds if kind == "ConfigMap"]
    assert len(template) == 1 and template[0].startswith(f"meridian-template-{region}-")
    assert kinds == sorted(
        [
            ("ConfigMap", template[0]),
            ("NetworkPolicy", f"meridian-{region}"),
            ("PodDisruptionBudget", f"meridian-{region}"),
            ("Service", f"meridian-{region}"),
            ("Service", f"meridian-peer-{region}"),
            ("StatefulSet", f"meridian-{region}"),
        ]
    )
    for obj in objects:
        assert obj["metadata"]["namespace"] == NAMESPACE
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == f"meridian-{region}"


@pytest.mark.parametrize("region", REGIONS)
def test_selectors_pick_exactly_this_regions_pods(rendered, region):
    objects = rendered(region)
    sts = statefulset(objects)
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    selector = sts["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert selector["app.kubernetes.io/instance"] == f"meridian-{region}"
    services = by_name(objects, "Service")
    for service in services.values():
        assert service["spec"]["selector"] == selector
    assert only(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    assert only(objects, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"] == selector
    # Other regions' pods are not selected.
    for other in REGIONS:
        if other != region:
            assert statefulset(rendered(other))["spec"]["template"]["metadata"]["labels"] != pod_labels


@pytest.mark.parametrize("region", REGIONS)
def test_peer_dns_is_stable_and_published_before_readiness(rendered, region):
    objects = rendered(region)
    sts = statefulset(objects)
    peer = by_name(objects, "Service")[f"meridian-peer-{region}"]
    assert sts["spec"]["serviceName"] == f"meridian-peer-{region}"
    assert peer["spec"]["clusterIP"] == "None"
    assert peer["spec"]["publishNotReadyAddresses"] is True
    assert {p["name"]: p["port"] for p in peer["spec"]["ports"]} == {"grpc": GRPC_PORT, "http": HTTP_PORT}
    client = by_name(objects, "Service")[f"meridian-{region}"]
    assert client["spec"]["type"] == "ClusterIP"
    assert [(p["name"], p["targetPort"]) for p in client["spec"]["ports"]] == [("http", "http")]
    assert sts["spec"]["podManagementPolicy"] == "Parallel"


@pytest.mark.parametrize("region", REGIONS)
def test_each_pod_advertises_the_name_the_member_list_uses(rendered, region):
    sts = statefulset(rendered(region))
    pod = sts["spec"]["template"]["spec"]
    env = env_of(container(pod, "configure", init=True))
    domain = f"meridian-peer-{region}.{NAMESPACE}.svc.cluster.local"
    assert env["MERIDIAN_REGION"] == region
    assert env["MERIDIAN_DEPLOY_NODE_ID_BASE"] == str(REGIONS[region])
    assert env["MERIDIAN_DEPLOY_ADVERTISE_DOMAIN"] == domain
    # Ordinal 0's address, as meridian-configure builds it, is its member entry.
    voter_host = f"{sts['metadata']['name']}-0.{domain}"
    members = {m["id"]: m for m in voter_template()["cluster"]["bootstrap"]["members"]}
    me = members[REGIONS[region]]
    assert me["region"] == region
    assert me["grpc"] == f"http://{voter_host}:{GRPC_PORT}"
    assert me["http"] == f"http://{voter_host}:{HTTP_PORT}"
    # Learners join through every voter.
    assert learner_template()["cluster"]["join"]["seeds"] == [m["grpc"] for m in members.values()]


def test_node_ids_never_collide_across_regions(rendered):
    ranges = []
    for region, base in REGIONS.items():
        replicas = statefulset(rendered(region))["spec"]["replicas"]
        ranges.append(range(base, base + replicas))
    ids = [i for r in ranges for i in r]
    assert len(ids) == len(set(ids))
    # Room for 100 pods per region before the next region's ids.
    bases = sorted(REGIONS.values())
    assert all(b - a >= 100 for a, b in zip(bases, bases[1:]))
    # The member ids are exactly the regions' ordinal-0 ids, with node 1 (the
    # administrator file's holder) the lowest.
    ids = [m["id"] for m in voter_template()["cluster"]["bootstrap"]["members"]]
    assert sorted(ids) == sorted(REGIONS.values()) and min(ids) == 1


@pytest.mark.parametrize("region", REGIONS)
def test_probes_resources_and_security(rendered, region):
    sts = statefulset(rendered(region))
    pod = sts["spec"]["template"]["spec"]
    node = container(pod, "meridian")
    assert node["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert node["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert node["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {p["name"]: p["containerPort"] for p in node["ports"]} == {"http": HTTP_PORT, "grpc": GRPC_PORT}
    assert node["args"] == ["serve", "--config", "/etc/meridian/node.toml"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for c in [*pod["containers"], *pod["initContainers"]]:
        assert c["image"] == f"meridian:{workspace_version()}", c["name"]
        assert c["imagePullPolicy"] == "IfNotPresent"
        security = c["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= c["resources"][kind].keys(), (c["name"], kind)
    # Every writable path is a volume: the root file system is read-only.
    mounts = {m["mountPath"]: m for m in node["volumeMounts"]}
    assert set(mounts) == {"/etc/meridian", "/run/meridian", "/var/lib/meridian", "/tmp"}
    assert mounts["/etc/meridian"].get("readOnly") and mounts["/run/meridian"].get("readOnly")
    # shutdown_grace_period_secs (20) fits in the termination grace period.
    assert pod["terminationGracePeriodSeconds"] > voter_template()["shutdown_grace_period_secs"]


@pytest.mark.parametrize("region", REGIONS)
def test_secrets_and_templates_are_wired(rendered, region):
    objects = rendered(region)
    pod = statefulset(objects)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_map = only(objects, "ConfigMap")
    assert volumes["template"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert set(config_map["data"]) == {"voter.toml", "learner.toml"}
    assert volumes["kek"]["secret"]["secretName"] == "meridian-kek"
    assert volumes["kek"]["secret"].get("optional") is not True
    assert volumes["bootstrap-admin"]["secret"] == {
        "secretName": "meridian-bootstrap-admin",
        "defaultMode": 0o440,
        "optional": True,
    }
    assert volumes["run"]["emptyDir"]["medium"] == "Memory"
    configure = container(pod, "configure", init=True)
    env = env_of(configure)
    mounts = {m["name"]: m["mountPath"] for m in configure["volumeMounts"]}
    assert env["MERIDIAN_DEPLOY_KEK_SECRET"] == f"{mounts['kek']}/kek"
    assert env["MERIDIAN_DEPLOY_ADMIN_SECRET"] == f"{mounts['bootstrap-admin']}/bootstrap-admin.json"
    assert configure["command"] == ["/usr/local/bin/meridian-configure"]
    # The templates point the node at the paths the volumes provide.
    for template in (voter_template(), learner_template()):
        assert template["data_dir"] == "@DATA_DIR@"
        assert template["kek"] == {"file": "@KEK_FILE@"}
    claims = statefulset(objects)["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["data"]


@pytest.mark.parametrize("region", REGIONS)
def test_quorum_budget(rendered, region):
    pdb = only(rendered(region), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pdb["spec"]


@pytest.mark.parametrize("region", REGIONS)
def test_network_policy_admits_http_from_anyone_and_grpc_from_meridian_only(rendered, region):
    policy = only(rendered(region), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    http_rule, grpc_rule = policy["ingress"]
    assert "from" not in http_rule
    assert http_rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    (peer,) = grpc_rule["from"]
    # Every region's Meridian pods (no region label in the peer selector).
    assert set(peer) == {"podSelector"}
    assert "matchLabels" not in peer["podSelector"]
    expressions = {e["key"]: e["values"] for e in peer["podSelector"]["matchExpressions"]}
    assert expressions == {"app.kubernetes.io/name": ["meridian"], "app.kubernetes.io/component": ["node"]}
    grpc_out, dns_out = policy["egress"]
    assert grpc_out["ports"] == [{"port": GRPC_PORT, "protocol": "TCP"}]
    assert grpc_out["to"] == grpc_rule["from"]
    assert sorted(p["protocol"] for p in dns_out["ports"]) == ["TCP", "UDP"]
    assert all(p["port"] == 53 for p in dns_out["ports"])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl on this machine to compare with")
@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kubectl_renders_the_same(rendered, name):
    # Where a kubectl exists, its built-in kustomize agrees with pykustomize.
    path = K8S / "namespace" if name == "namespace" else K8S / "overlays" / name
    result = subprocess.run(
        ["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None] == rendered(name)
