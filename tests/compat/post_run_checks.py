"""Checks run.sh makes after the cluster has stopped (node logs complete).

1. No secret the run created or sent (recorded by secret_capture.py), no
   administrator secret and no node's key-encryption key appears in any log,
   raw or percent-encoded (RELIABILITY.md b.3).
2. Every node's audit trail verifies with `meridian audit verify`, holds
   issuance and configuration-change records, and a copy with one record
   edited, one line deleted, or two lines swapped fails verification.

    python3 post_run_checks.py MERIDIAN_BIN WORK_DIR CLUSTER_DIR
"""

import json
import subprocess
import sys
import urllib.parse
from pathlib import Path


def fail(message):
    print(f"compat: post-run check failed: {message}", file=sys.stderr)
    sys.exit(1)


def secrets(work: Path, cluster: Path) -> set:
    found = set()
    recorded = work / "secrets.txt"
    if recorded.exists():
        for line in recorded.read_text().splitlines():
            if line.strip():
                found.add(json.loads(line))
    cluster_file = json.loads((cluster / "cluster.json").read_text())
    found.add(cluster_file["admin"]["secret_access_key"])
    for kek in cluster.glob("node-*/kek"):
        found.add(kek.read_text().strip())
    return {s for s in found if len(s) >= 16}


def check_logs(work: Path, cluster: Path):
    logs = sorted(cluster.glob("node-*.log")) + [work / "dev.err", work / "dev.out"]
    texts = {log: log.read_text(errors="replace") for log in logs if log.exists()}
    total = sum(len(text) for text in texts.values())
    every = secrets(work, cluster)
    if len(every) < 10:
        fail(f"only {len(every)} secrets were recorded; the capture is not working")
    leaks = []
    for secret in every:
        forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
        for log, text in texts.items():
            if any(form in text for form in forms):
                leaks.append(f"{secret[:6]}… in {log.name}")
    if leaks:
        fail("secrets found in logs: " + ", ".join(sorted(leaks)[:20]))
    print(
        f"compat: no secret in the logs ({len(every)} secrets checked against "
        f"{len(texts)} logs, {total} bytes)",
        file=sys.stderr,
    )


def verify(binary, files):
    return subprocess.run(
        [binary, "audit", "verify", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def check_audit(binary, work: Path, cluster: Path):
    node_dirs = sorted(p for p in cluster.glob("node-*") if p.is_dir())
    kinds = {}
    for node in node_dirs:
        files = sorted((node / "audit").glob("audit-*.jsonl"))
        if not files:
            fail(f"{node.name} has no audit trail")
        result = verify(binary, files)
        if result.returncode != 0:
            fail(f"{node.name}: audit verify failed: {result.stderr.strip()}")
        for file in files:
            for line in file.read_text().splitlines():
                record = json.loads(line)
                kinds[record["type"]] = kinds.get(record["type"], 0) + 1
    if not kinds.get("issuance") or not kinds.get("config_change"):
        fail(f"the audit trails lack issuance or configuration records: {kinds}")

    # Tampering with a real trail is detected.
    largest = max(
        (f for node in node_dirs for f in (node / "audit").glob("audit-*.jsonl")),
        key=lambda f: len(f.read_text().splitlines()),
    )
    lines = largest.read_text().splitlines()
    if len(lines) < 4:
        fail(f"{largest} has too few records ({len(lines)}) to tamper with")
    middle = len(lines) // 2
    record = json.loads(lines[middle])
    edited = list(lines)
    edited[middle] = lines[middle].replace(record["request_id"], record["request_id"][::-1], 1)
    deleted = lines[:middle] + lines[middle + 1:]
    swapped = list(lines)
    swapped[middle], swapped[middle + 1] = swapped[middle + 1], swapped[middle]
    for name, variant in (("edited", edited), ("deleted", deleted), ("reordered", swapped)):
        copy = work / f"audit-{name}.jsonl"
        copy.write_text("\n".join(variant) + "\n")
        result = verify(binary, [copy])
        if result.returncode == 0:
            fail(f"a {name} audit file verified: {result.stdout.strip()}")
    print(
        f"compat: audit trails of {len(node_dirs)} nodes verify ({kinds}); edited, deleted and "
        f"reordered copies are refused",
        file=sys.stderr,
    )


def main():
    binary, work, cluster = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    check_logs(work, cluster)
    check_audit(binary, work, cluster)


if __name__ == "__main__":
    main()
