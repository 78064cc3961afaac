//! `meridian-load`: command line, setup of the chosen system, one run, the
//! report.
//!
//! ```text
//! meridian-load --workload assume-role --cluster meridian-dev/cluster.json \
//!               --mode open --rate 5000 --warmup 2 --duration 10 --cluster-cpu --json out.json
//! meridian-load --workload bao-batch-token-create --bao-addr http://127.0.0.1:8200 \
//!               --bao-token-file root-token --mode closed --concurrency 32 --cpu-pid 4242
//! meridian-load --workload assume-role --moto http://127.0.0.1:5000 --cpu-pid 4343
//! meridian-load --workload grpc-authenticate --cluster meridian-dev/cluster.json \
//!               --mode closed --concurrency 32 --cluster-cpu
//! ```
//!
//! The human table goes to stdout, the progress line to stderr, the JSON
//! summary to `--json FILE` (`-` for stdout instead of the table). Exit
//! status 2 when the run produced no successful request. Every run is
//! bounded: warm-up + duration ≤ 1 hour, plus the drain (request timeout + 1 s).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use meridian_load::bao::{self, BaoWorkload};
use meridian_load::engine::{self, Mode, Pacing, RunConfig, Target, WindowEdge};
use meridian_load::meridian::{self, AwsWorkload, ClusterFile, SetupOptions};
use meridian_load::summary::{self, ServerCpu, Summary};
use meridian_load::sys::{self, CpuMeter};
use meridian_load::verifier::{self, VerifierWorkload};
use meridian_load::{clock, http, moto, scrape};

/// Workloads, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// STS AssumeRole by IAM users (Meridian or moto).
    AssumeRole,
    /// STS GetCallerIdentity with temporary credentials (Meridian or moto).
    GetCallerIdentity,
    /// IAM TagRole/UntagRole: replicated configuration writes (Meridian).
    IamWrite,
    /// OpenBao POST /v1/auth/token/create with type=batch.
    BaoBatchTokenCreate,
    /// OpenBao POST /v1/auth/token/lookup of batch tokens.
    BaoTokenLookup,
    /// Meridian gRPC Verifier Authenticate (role sessions, service `widgets`).
    GrpcAuthenticate,
    /// Meridian gRPC Verifier AuthenticateAndAuthorize (`widgets:GetWidget`).
    GrpcAuthenticateAndAuthorize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// Constant rate (--rate), latency from the intended start.
    Open,
    /// --concurrency workers, each waiting for its answer.
    Closed,
}

/// An open/closed-loop load generator for Meridian, OpenBao and moto.
#[derive(Debug, Parser)]
#[command(name = "meridian-load", version)]
struct Args {
    /// What to send.
    #[arg(long, value_enum)]
    workload: Workload,
    /// Meridian: the cluster.json written by `meridian dev`.
    #[arg(long, value_name = "FILE")]
    cluster: Option<PathBuf>,
    /// Meridian: drive only the first N nodes (default: all).
    #[arg(long, value_name = "N")]
    nodes: Option<usize>,
    /// Meridian: measure the CPU of the node processes listed in cluster.json.
    #[arg(long)]
    cluster_cpu: bool,
    /// moto: the moto_server URL.
    #[arg(long, value_name = "URL")]
    moto: Option<String>,
    /// OpenBao: an API address (repeatable; requests rotate over them).
    #[arg(long = "bao-addr", value_name = "URL")]
    bao_addr: Vec<String>,
    /// OpenBao: a file holding the root token (used for setup only).
    #[arg(long, value_name = "FILE")]
    bao_token_file: Option<PathBuf>,
    /// Open or closed loop.
    #[arg(long, value_enum, default_value_t = ModeArg::Closed)]
    mode: ModeArg,
    /// Open loop: requests per second.
    #[arg(long, value_name = "PER_SECOND")]
    rate: Option<f64>,
    /// Open loop: most requests in flight.
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// Closed loop: workers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of warm-up, excluded from the results.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Timeout of each request, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Distinct callers (Meridian: IAM users or sessions; OpenBao lookups:
    /// batch tokens).
    #[arg(long, default_value_t = 128)]
    callers: usize,
    /// A process whose CPU time to measure over the window (repeatable).
    #[arg(long = "cpu-pid", value_name = "PID")]
    cpu_pids: Vec<u32>,
    /// A counter to scrape from every target's /metrics before and after
    /// (repeatable; Meridian only).
    #[arg(long = "metric", value_name = "NAME")]
    metrics: Vec<String>,
    /// Write the JSON summary here (`-`: stdout, instead of the table).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Free text stored in the summary.
    #[arg(long)]
    label: Option<String>,
    /// No progress line.
    #[arg(long)]
    no_progress: bool,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// What a prepared run needs besides the target.
struct Prepared {
    system: &'static str,
    target: Arc<dyn Target>,
    targets: Vec<String>,
    callers: usize,
    cpu_pids: Vec<String>,
    metric_endpoints: Vec<(String, String)>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(2),
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "meridian-load: {error:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn seconds(value: f64, what: &str) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        value.is_finite() && (0.0..=3600.0).contains(&value),
        "--{what} must be between 0 and 3600 seconds"
    );
    Ok(Duration::from_secs_f64(value))
}

fn run(args: Args) -> anyhow::Result<bool> {
    let warmup = seconds(args.warmup, "warmup")?;
    let duration = seconds(args.duration, "duration")?;
    anyhow::ensure!(duration > Duration::ZERO, "--duration must be positive");
    anyhow::ensure!(
        warmup + duration <= Duration::from_secs(3600),
        "warm-up + duration must be ≤ 1 hour"
    );
    anyhow::ensure!(
        (1..=100_000).contains(&args.callers),
        "--callers must be 1..=100000"
    );
    anyhow::ensure!((1..=64).contains(&args.threads), "--threads must be 1..=64");
    let mode = match args.mode {
        ModeArg::Open => {
            let rate = args.rate.context("--mode open needs --rate")?;
            anyhow::ensure!(
                rate.is_finite() && rate > 0.0 && rate <= 1e6,
                "--rate must be in (0, 1e6]"
            );
            anyhow::ensure!(
                (1..=100_000).contains(&args.max_in_flight),
                "--max-in-flight must be 1..=100000"
            );
            Mode::Open {
                rate,
                max_in_flight: args.max_in_flight,
            }
        }
        ModeArg::Closed => {
            anyhow::ensure!(
                (1..=10_000).contains(&args.concurrency),
                "--concurrency must be 1..=10000"
            );
            Mode::Closed {
                concurrency: args.concurrency,
            }
        }
    };
    let request_timeout = Duration::from_millis(args.timeout_ms.clamp(1, 120_000));
    let config = RunConfig {
        mode,
        warmup,
        duration,
        request_timeout,
        drain: request_timeout + Duration::from_secs(1),
        progress: !args.no_progress,
        pacing: Pacing::Thread,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args, config))
}

/// Meridian's setup options for this run (names carry a per-run suffix).
fn setup_options(args: &Args) -> SetupOptions {
    let run_id = format!(
        "{:x}{:x}",
        clock::now().unix_millis() % 0x1_0000_0000,
        std::process::id() % 0x1_0000
    );
    SetupOptions {
        callers: args.callers,
        nodes: args.nodes,
        run_id,
    }
}

/// Every node's process: the nodes not driven still replicate writes and
/// send heartbeats, which is part of the cost.
fn cluster_pids(cluster: &ClusterFile) -> Vec<String> {
    cluster
        .nodes()
        .iter()
        .filter(|n| n.pid != 0)
        .map(|n| n.pid.to_string())
        .collect()
}

/// Every node's `/metrics`: a write forwarded to the leader is counted where
/// it was received, but the sum must cover all.
fn metric_endpoints(cluster: &ClusterFile) -> Vec<(String, String)> {
    cluster
        .nodes()
        .iter()
        .filter_map(|n| {
            let e = meridian_load::aws::Endpoint::new(&n.http, &n.region).ok()?;
            Some((e.base, e.host))
        })
        .collect()
}

async fn prepare(args: &Args, client: &http::HttpClient) -> anyhow::Result<Prepared> {
    let mut cpu_pids: Vec<String> = args.cpu_pids.iter().map(u32::to_string).collect();
    let aws_workload = match args.workload {
        Workload::AssumeRole => Some(AwsWorkload::AssumeRole),
        Workload::GetCallerIdentity => Some(AwsWorkload::GetCallerIdentity),
        Workload::IamWrite => Some(AwsWorkload::IamWrite),
        Workload::BaoBatchTokenCreate
        | Workload::BaoTokenLookup
        | Workload::GrpcAuthenticate
        | Workload::GrpcAuthenticateAndAuthorize => None,
    };
    let verifier_workload = match args.workload {
        Workload::GrpcAuthenticate => Some(VerifierWorkload::Authenticate),
        Workload::GrpcAuthenticateAndAuthorize => Some(VerifierWorkload::AuthenticateAndAuthorize),
        _ => None,
    };
    if let Some(workload) = verifier_workload {
        let path = args
            .cluster
            .as_ref()
            .context("the gRPC workloads need --cluster (Meridian)")?;
        let cluster = ClusterFile::read(path)?;
        let target = verifier::prepare(
            client,
            &cluster,
            workload,
            &setup_options(args),
            Duration::from_millis(args.timeout_ms.clamp(1, 120_000)),
        )
        .await?;
        if args.cluster_cpu {
            cpu_pids.extend(cluster_pids(&cluster));
        }
        return Ok(Prepared {
            system: "meridian",
            targets: target.urls(),
            callers: target.callers(),
            metric_endpoints: metric_endpoints(&cluster),
            target: Arc::new(target),
            cpu_pids,
        });
    }
    if let Some(workload) = aws_workload {
        if let Some(url) = &args.moto {
            let fixture = moto::prepare(client, url, workload).await?;
            return Ok(Prepared {
                system: "moto",
                targets: vec![url.clone()],
                callers: fixture.callers.len(),
                target: meridian::target(client.clone(), workload, fixture)?,
                cpu_pids,
                metric_endpoints: Vec::new(),
            });
        }
        let path = args
            .cluster
            .as_ref()
            .context("this workload needs --cluster (Meridian) or --moto")?;
        let cluster = ClusterFile::read(path)?;
        let fixture = meridian::prepare(client, &cluster, workload, &setup_options(args)).await?;
        if args.cluster_cpu {
            cpu_pids.extend(cluster_pids(&cluster));
        }
        return Ok(Prepared {
            system: "meridian",
            targets: fixture.endpoints.iter().map(|e| e.base.clone()).collect(),
            callers: fixture.callers.len(),
            metric_endpoints: metric_endpoints(&cluster),
            target: meridian::target(client.clone(), workload, fixture)?,
            cpu_pids,
        });
    }
    anyhow::ensure!(
        !args.bao_addr.is_empty(),
        "OpenBao workloads need --bao-addr"
    );
    let token_file = args
        .bao_token_file
        .as_ref()
        .context("OpenBao workloads need --bao-token-file")?;
    let root = zeroize::Zeroizing::new(
        std::fs::read_to_string(token_file)
            .with_context(|| format!("cannot read {}", token_file.display()))?
            .trim()
            .to_owned(),
    );
    let workload = if args.workload == Workload::BaoTokenLookup {
        BaoWorkload::TokenLookup
    } else {
        BaoWorkload::BatchTokenCreate
    };
    let target = bao::prepare(client, &args.bao_addr, &root, workload, args.callers).await?;
    Ok(Prepared {
        system: "openbao",
        target,
        targets: args.bao_addr.clone(),
        callers: if workload == BaoWorkload::TokenLookup {
            args.callers
        } else {
            1
        },
        cpu_pids,
        metric_endpoints: Vec::new(),
    })
}

async fn run_async(args: Args, config: RunConfig) -> anyhow::Result<bool> {
    let pool = match config.mode {
        Mode::Open { max_in_flight, .. } => max_in_flight,
        Mode::Closed { concurrency } => concurrency,
    };
    let client = http::client(pool.min(8192));
    let prepared = prepare(&args, &client).await?;
    let metrics_before = if args.metrics.is_empty() || prepared.metric_endpoints.is_empty() {
        None
    } else {
        scrape::scrape(&client, &prepared.metric_endpoints, &args.metrics).await
    };

    let self_pid = vec!["self".to_owned()];
    let mut server_meter = None;
    let mut self_meter = None;
    let mut server_used = None;
    let mut self_used = None;
    let mut loadavg_start = None;
    let mut loadavg_end = None;
    let results = engine::run(Arc::clone(&prepared.target), config, |edge| match edge {
        WindowEdge::Start => {
            server_meter = Some(CpuMeter::start(&prepared.cpu_pids));
            self_meter = Some(CpuMeter::start(&self_pid));
            loadavg_start = sys::load_average();
        }
        WindowEdge::End => {
            server_used = server_meter.as_ref().map(CpuMeter::stop);
            self_used = self_meter.as_ref().map(CpuMeter::stop);
            loadavg_end = sys::load_average();
        }
    })
    .await;

    let metrics = match metrics_before {
        Some(before) => scrape::scrape(&client, &prepared.metric_endpoints, &args.metrics)
            .await
            .map(|after| scrape::delta(&before, &after)),
        None => None,
    };
    let requests = summary::requests(&results);
    let server_cpu = server_used
        .filter(|_| !prepared.cpu_pids.is_empty())
        .map(|used| ServerCpu::new(used.pids, used.seconds, requests.measured));
    let (rate_per_s, max_in_flight, concurrency) = match config.mode {
        Mode::Open {
            rate,
            max_in_flight,
        } => (Some(rate), Some(max_in_flight), None),
        Mode::Closed { concurrency } => (None, None, Some(concurrency)),
    };
    let summary = Summary {
        tool: format!("meridian-load {}", env!("CARGO_PKG_VERSION")),
        label: args.label.clone(),
        system: prepared.system.to_owned(),
        workload: args
            .workload
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default(),
        mode: match args.mode {
            ModeArg::Open => "open".into(),
            ModeArg::Closed => "closed".into(),
        },
        rate_per_s,
        max_in_flight,
        concurrency,
        targets: prepared.targets.clone(),
        callers: prepared.callers,
        warmup_s: config.warmup.as_secs_f64(),
        duration_s: config.duration.as_secs_f64(),
        throughput_per_s: results.throughput(),
        latency_us: results.latency.percentiles(),
        service_latency_us: results.service.percentiles(),
        requests,
        server_cpu,
        loadgen_cpu_s: self_used.map(|u| u.seconds).unwrap_or_default(),
        loadavg_start,
        loadavg_end,
        metrics,
    };
    let json = serde_json::to_string_pretty(&summary)?;
    let mut stdout = std::io::stdout().lock();
    match &args.json {
        Some(path) if path.as_os_str() == "-" => writeln!(stdout, "{json}")?,
        Some(path) => {
            std::fs::write(path, format!("{json}\n"))
                .with_context(|| format!("cannot write {}", path.display()))?;
            write!(stdout, "{}", summary::table(&summary))?;
        }
        None => write!(stdout, "{}", summary::table(&summary))?,
    }
    Ok(summary.requests.ok > 0)
}
