"""Helpers of compare.sh: free ports, OpenBao's HTTP setup (init, unseal,
join, leader), bounded readiness waits, checking the load generator's JSON
summaries, and writing the comparison into BENCHMARKS.md.

Only the standard library, so it runs with any python3 (the venv's or the
system's). Every wait is bounded; every address is 127.0.0.1.

    python3 peers.py free-ports N
    python3 peers.py wait-http URL CODES TIMEOUT_S
    python3 peers.py bao-init ADDR DIR          (writes DIR/unseal-key, DIR/root-token, 0600)
    python3 peers.py bao-unseal ADDR KEYFILE
    python3 peers.py bao-join ADDR LEADER_ADDR
    python3 peers.py bao-wait-cluster ADDR TOKENFILE N TIMEOUT_S
    python3 peers.py bao-leader ADDR
    python3 peers.py check SUMMARY.json...      (each parses and has successful requests)
    python3 peers.py check-outbound SUMMARY.json...  (Meridian runs: issue/verify made no call
                                                to another node; some config write was forwarded)
    python3 peers.py field SUMMARY.json PATH    (prints a value, e.g. throughput_per_s)
    python3 peers.py report RESULTS_DIR BENCHMARKS.md  (writes the generated section)
"""

import glob
import json
import os
import socket
import statistics
import sys
import time
import urllib.error
import urllib.request

BEGIN = "<!-- benches/peers/compare.sh: begin generated figures -->"
END = "<!-- benches/peers/compare.sh: end generated figures -->"
SECTION = "## Load: Meridian vs OpenBao"


def die(message):
    sys.stderr.write(f"peers.py: {message}\n")
    sys.exit(1)


def local_only(url):
    if not url.startswith("http://127.0.0.1:"):
        die(f"refusing a non-loopback address: {url}")
    return url


def free_ports(count):
    ports, sockets = [], []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            port = s.getsockname()[1]
            if port < 20000:
                continue
            ports.append(port)
    finally:
        for s in sockets:
            s.close()
    print(" ".join(str(p) for p in ports))


def request(method, url, body=None, token=None, timeout=5):
    local_only(url)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("X-Vault-Token", token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, parse_json(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, parse_json(error.read())


def parse_json(text):
    """The JSON document in `text`, or None (empty, or an HTML page)."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def wait_http(url, codes, timeout):
    wanted = {int(c) for c in codes.split(",")}
    deadline = time.monotonic() + float(timeout)
    last = None
    while time.monotonic() < deadline:
        try:
            status, _ = request("GET", url, timeout=2)
            if status in wanted:
                return
            last = status
        except (OSError, ValueError) as error:
            last = error
        time.sleep(0.2)
    die(f"{url} did not answer {codes} within {timeout} s (last: {last})")


def write_secret(path, value):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def read_secret(path):
    with open(path) as f:
        return f.read().strip()


def bao_init(addr, directory):
    status, answer = request("PUT", f"{addr}/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1}, timeout=60)
    if status != 200 or not answer:
        die(f"init failed: {status} {answer}")
    write_secret(os.path.join(directory, "unseal-key"), answer["keys_base64"][0])
    write_secret(os.path.join(directory, "root-token"), answer["root_token"])


def bao_unseal(addr, keyfile):
    status, answer = request("PUT", f"{addr}/v1/sys/unseal", {"key": read_secret(keyfile)}, timeout=60)
    if status != 200:
        die(f"unseal of {addr} failed: {status} {answer}")


def bao_join(addr, leader):
    deadline = time.monotonic() + 60
    while True:
        status, answer = request("POST", f"{addr}/v1/sys/storage/raft/join", {"leader_api_addr": local_only(leader)}, timeout=30)
        if status == 200 and answer and answer.get("joined"):
            return
        if time.monotonic() > deadline:
            die(f"{addr} could not join {leader}: {status} {answer}")
        time.sleep(0.5)


def bao_wait_cluster(addr, tokenfile, count, timeout):
    """Waits until the leader lists `count` voters and every node is unsealed."""
    token = read_secret(tokenfile)
    deadline = time.monotonic() + float(timeout)
    last = None
    while time.monotonic() < deadline:
        status, answer = request("GET", f"{addr}/v1/sys/storage/raft/configuration", token=token)
        if status == 200 and answer:
            servers = answer.get("data", {}).get("config", {}).get("servers", [])
            voters = [s for s in servers if s.get("voter")]
            if len(voters) >= int(count):
                return
            last = servers
        else:
            last = (status, answer)
        time.sleep(0.5)
    die(f"OpenBao cluster did not reach {count} voters within {timeout} s: {last}")


def bao_leader(addr):
    status, answer = request("GET", f"{addr}/v1/sys/leader")
    if status != 200 or not answer or not answer.get("leader_address"):
        die(f"no leader: {status} {answer}")
    print(local_only(answer["leader_address"].rstrip("/")))


def load(path):
    with open(path) as f:
        return json.load(f)


def check(paths):
    for path in paths:
        summary = load(path)
        ok = summary["requests"]["ok"]
        if ok <= 0:
            die(f"{path}: no successful request ({summary['requests']})")
        p = summary["latency_us"]
        sys.stderr.write(
            f"  {os.path.basename(path)}: {ok} ok, {summary['throughput_per_s']:.0f}/s, "
            f"p50 {p['p50_us']} µs, p99 {p['p99_us']} µs, errors {summary['requests']['errors']}\n"
        )


OUTBOUND = "meridian_request_outbound_calls_total"


def outbound_deltas(summary):
    """{path: delta} of the outbound-call counter in a Meridian summary, or
    None when the run did not scrape it."""
    metrics = summary.get("metrics")
    if not metrics:
        return None
    deltas = {}
    for series, delta in metrics.items():
        if series.startswith(OUTBOUND + "{"):
            labels = series[len(OUTBOUND) + 1:-1]
            for part in labels.split(","):
                name, _, value = part.partition("=")
                if name == "path":
                    deltas[value.strip('"')] = deltas.get(value.strip('"'), 0.0) + delta
    return deltas


def check_outbound(paths):
    """Every Meridian run scraped the counter with its issue and verify
    series, both unchanged; if a run wrote configuration on a follower, the
    config series moved (the counter is live)."""
    config = 0.0
    writes = False
    for path in paths:
        summary = load(path)
        if summary["system"] != "meridian":
            continue
        deltas = outbound_deltas(summary)
        if deltas is None or "issue" not in deltas or "verify" not in deltas:
            die(f"{path}: no {OUTBOUND} issue/verify series scraped ({summary.get('metrics')})")
        if deltas["issue"] != 0 or deltas["verify"] != 0:
            die(f"{path}: calls to other nodes on the issue/verify paths: {deltas}")
        config += deltas.get("config", 0.0)
        writes = writes or (summary["workload"] == "iam-write" and len(summary["targets"]) > 1)
    if writes and config <= 0:
        die(f"IAM writes on followers ran but {OUTBOUND}{{path=\"config\"}} did not move")
    sys.stderr.write(f"  outbound calls: issue +0, verify +0, config +{config:.0f}\n")


def field(path, dotted):
    value = load(path)
    for part in dotted.split("."):
        value = value[part]
    print(value)


# --- the report --------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=0):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def ms(us):
    return "—" if us is None else f"{us / 1000:.2f}"


def report(results_dir, benchmarks):
    with open(os.path.join(results_dir, "meta.json")) as f:
        meta = json.load(f)
    runs = [load(p) for p in sorted(glob.glob(os.path.join(results_dir, "run-*.json")))]

    def select(system, workload, shape):
        return [r for r in runs if r["system"] == system and r["workload"] == workload and r["label"] == shape]

    def med(system, workload, shape, getter):
        return median([getter(r) for r in select(system, workload, shape)])

    tput = lambda r: r["throughput_per_s"]
    cpu10k = lambda r: (r.get("server_cpu") or {}).get("seconds_per_10k")
    cpuus = lambda r: (r.get("server_cpu") or {}).get("us_per_request")
    lg = lambda r: r["loadgen_cpu_s"] / max(r["requests"]["measured"], 1) * 1e6
    p = lambda key: (lambda r: r["latency_us"][key])
    load1 = lambda r: (r.get("loadavg_start") or [None])[0]

    lines = [BEGIN, ""]
    lines.append(
        f"Generated by `bash benches/peers/compare.sh` on {meta['date']} (commit {meta['commit']}, "
        f"{meta['profile']} build{meta.get('priority', '')}). Machine: {meta['machine']}. Versions: {meta['versions']}. "
        f"Each figure is the median of {meta['rounds']} rounds; within a round the systems run "
        f"alternately, {meta['warmup']} s warm-up then {meta['duration']} s measured per run. "
        f"Load average (1 min) at the start of the runs: {meta['load_min']:.2f}–{meta['load_max']:.2f}."
    )
    lines.append("")
    lines.append("Peak throughput (closed loop, "
                 f"{meta['concurrency']} connections) and server CPU:")
    lines.append("")
    lines.append("| Workload | System | Throughput (ok/s) | Server CPU s / 10k req | Server CPU µs / req | Load-gen CPU µs / req | Load avg |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    peak_rows = [
        ("AssumeRole (HTTP, SigV4, 3 regions)", "meridian", "assume-role"),
        ("OpenBao batch-token create (active node)", "openbao", "bao-batch-token-create"),
        ("moto STS AssumeRole", "moto", "assume-role"),
        ("GetCallerIdentity (temporary credentials)", "meridian", "get-caller-identity"),
        ("OpenBao token lookup (batch tokens)", "openbao", "bao-token-lookup"),
        ("IAM TagRole/UntagRole (replicated writes)", "meridian", "iam-write"),
        ("gRPC Authenticate", "meridian", "grpc-authenticate"),
        ("gRPC AuthenticateAndAuthorize", "meridian", "grpc-authenticate-and-authorize"),
    ]
    for name, system, workload in peak_rows:
        if not select(system, workload, "peak"):
            continue
        lines.append(
            f"| {name} | {system} | {fmt(med(system, workload, 'peak', tput))} | "
            f"{fmt(med(system, workload, 'peak', cpu10k), 3)} | {fmt(med(system, workload, 'peak', cpuus), 1)} | "
            f"{fmt(med(system, workload, 'peak', lg), 1)} | {fmt(med(system, workload, 'peak', load1), 1)} |"
        )
    lines.append("")
    lines.append("Latency at fixed rates (open loop, corrected for coordinated omission; ms):")
    lines.append("")
    lines.append("| Workload | System | Rate (req/s) | p50 | p90 | p99 | p99.9 | max | Errors | Load avg |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    shapes = sorted({r["label"] for r in runs if r["label"].startswith("rate-")}, key=lambda s: (s.split("-")[1], s))
    for name, system, workload in peak_rows:
        for shape in shapes:
            chosen = select(system, workload, shape)
            if not chosen:
                continue
            rate = median([r["rate_per_s"] for r in chosen])
            errors = median([sum(r["requests"]["errors"].values()) for r in chosen])
            what = "" if shape[5:].isdigit() else " (half of its peak)"
            load_avg = median([(r.get("loadavg_start") or [None])[0] for r in chosen])
            lines.append(
                f"| {name} | {system} | {fmt(rate)}{what} | "
                f"{ms(med(system, workload, shape, p('p50_us')))} | {ms(med(system, workload, shape, p('p90_us')))} | "
                f"{ms(med(system, workload, shape, p('p99_us')))} | {ms(med(system, workload, shape, p('p999_us')))} | "
                f"{ms(med(system, workload, shape, p('max_us')))} | {fmt(errors)} | {fmt(load_avg, 1)} |"
            )
    lines.append("")

    # Calls to other nodes, from the nodes' own counter (summed over every
    # node, over each run's window), by request class and by workload.
    outbound = {}
    by_workload = {}
    for r in runs:
        if r["system"] != "meridian":
            continue
        deltas = outbound_deltas(r)
        if deltas is None:
            continue
        for path, delta in deltas.items():
            outbound[path] = outbound.get(path, 0.0) + delta
            key = (r["workload"], path)
            by_workload[key] = by_workload.get(key, 0.0) + delta
    if outbound:
        text = ", ".join(f'`path="{k}"` +{v:.0f}' for k, v in sorted(outbound.items()))
        served = sorted({w for w, _ in by_workload})
        detail = "; ".join(
            f"{w}: " + ", ".join(f"{p} +{by_workload[(w, p)]:.0f}" for p in sorted(outbound) if (w, p) in by_workload)
            for w in served
        )
        lines.append(
            f"Calls to other nodes (`{OUTBOUND}`, counted by the nodes where a call leaves "
            f"for another node, summed over every node and every Meridian run): {text} ({detail})."
        )
    else:
        lines.append(f"Calls to other nodes: the nodes exposed no `{OUTBOUND}` series.")
    lines.append("")

    # Goals.
    def ratio(a, b):
        return None if a is None or not b else a / b

    ar = med("meridian", "assume-role", "peak", tput)
    bc = med("openbao", "bao-batch-token-create", "peak", tput)
    gci = med("meridian", "get-caller-identity", "peak", tput)
    bl = med("openbao", "bao-token-lookup", "peak", tput)
    ar_cpu = med("meridian", "assume-role", "peak", cpuus)
    bc_cpu = med("openbao", "bao-batch-token-create", "peak", cpuus)
    gci_cpu = med("meridian", "get-caller-identity", "peak", cpuus)
    bl_cpu = med("openbao", "bao-token-lookup", "peak", cpuus)
    half = [s for s in shapes if s.endswith("half-peak")]
    p99_half = med("meridian", "assume-role", half[0], p("p99_us")) if half else None
    p99_half_gci = med("meridian", "get-caller-identity", half[0], p("p99_us")) if half else None

    def verdict(value, goal, higher_is_better=True):
        if value is None:
            return "not measured"
        met = value >= goal if higher_is_better else value <= goal
        return "met" if met else "**missed**"

    lines.append("| Goal | Measured | Verdict |")
    lines.append("| --- | --- | --- |")
    r1 = ratio(ar, bc)
    lines.append(f"| AssumeRole ≥ 10× OpenBao batch create | {fmt(r1, 1)}× ({fmt(ar)} vs {fmt(bc)} ok/s) | {verdict(r1, 10)} |")
    r2 = ratio(gci, bl)
    lines.append(f"| GetCallerIdentity ≥ 10× OpenBao lookup | {fmt(r2, 1)}× ({fmt(gci)} vs {fmt(bl)} ok/s) | {verdict(r2, 10)} |")
    r3 = ratio(bc_cpu, ar_cpu)
    lines.append(f"| Server CPU per AssumeRole ≤ 1/20 of a batch create | 1/{fmt(r3, 1)} ({fmt(ar_cpu, 1)} vs {fmt(bc_cpu, 1)} µs) | {verdict(r3, 20)} |")
    r4 = ratio(bl_cpu, gci_cpu)
    lines.append(f"| Server CPU per GetCallerIdentity ≤ 1/20 of a lookup | 1/{fmt(r4, 1)} ({fmt(gci_cpu, 1)} vs {fmt(bl_cpu, 1)} µs) | {verdict(r4, 20)} |")
    lines.append(f"| AssumeRole p99 ≤ 2 ms at half of Meridian's peak | {ms(p99_half)} ms | {verdict(p99_half, 2000, False)} |")
    lines.append(f"| GetCallerIdentity p99 ≤ 2 ms at half of its peak | {ms(p99_half_gci)} ms | {verdict(p99_half_gci, 2000, False)} |")
    issue_verify = (outbound.get("issue", 0.0) + outbound.get("verify", 0.0)) if outbound else None
    ga = med("meridian", "grpc-authenticate", "peak", tput)
    gaa = med("meridian", "grpc-authenticate-and-authorize", "peak", tput)
    r5 = ratio(ga, bl)
    lines.append(f"| gRPC Authenticate ≥ 10× OpenBao lookup | {fmt(r5, 1)}× ({fmt(ga)} vs {fmt(bl)} ok/s) | {verdict(r5, 10)} |")
    r6 = ratio(gaa, bl)
    lines.append(f"| gRPC AuthenticateAndAuthorize ≥ 10× OpenBao lookup (not a stated goal; for reference) | {fmt(r6, 1)}× ({fmt(gaa)} vs {fmt(bl)} ok/s) | {verdict(r6, 10)} |")
    p99_half_grpc = med("meridian", "grpc-authenticate", half[0], p("p99_us")) if half else None
    lines.append(f"| gRPC Authenticate p99 ≤ 2 ms at half of its peak | {ms(p99_half_grpc)} ms | {verdict(p99_half_grpc, 2000, False)} |")
    lines.append(f"| Zero cross-region calls on issue/verify (metrics) | {fmt(issue_verify)} | {verdict(issue_verify, 0, False)} |")
    lines.append("")
    lines.append(END)
    generated = "\n".join(lines) + "\n"

    with open(benchmarks) as f:
        text = f.read()
    if BEGIN in text and END in text:
        before = text[: text.index(BEGIN)]
        after = text[text.index(END) + len(END):].lstrip("\n")
        text = before + generated + ("\n" + after if after else "")
    else:
        if SECTION not in text:
            text = text.rstrip("\n") + f"\n\n{SECTION}\n\n"
        text = text.rstrip("\n") + "\n\n" + generated
    with open(benchmarks, "w") as f:
        f.write(text)


def main(argv):
    if len(argv) < 2:
        die(__doc__)
    command, args = argv[1], argv[2:]
    commands = {
        "free-ports": lambda: free_ports(int(args[0])),
        "wait-http": lambda: wait_http(local_only(args[0]), args[1], args[2]),
        "bao-init": lambda: bao_init(local_only(args[0]), args[1]),
        "bao-unseal": lambda: bao_unseal(local_only(args[0]), args[1]),
        "bao-join": lambda: bao_join(local_only(args[0]), args[1]),
        "bao-wait-cluster": lambda: bao_wait_cluster(local_only(args[0]), args[1], args[2], args[3]),
        "bao-leader": lambda: bao_leader(local_only(args[0])),
        "check": lambda: check(args),
        "check-outbound": lambda: check_outbound(args),
        "field": lambda: field(args[0], args[1]),
        "report": lambda: report(args[0], args[1]),
    }
    if command not in commands:
        die(f"unknown command {command}\n{__doc__}")
    commands[command]()


if __name__ == "__main__":
    main(sys.argv)
