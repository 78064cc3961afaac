//! The `meridian` binary: argument parsing, logging, exit codes.
//!
//! Everything else lives in the `meridian_cli` library (commands) and
//! `meridian-server` (the node). Logs go to stderr as text, filtered by
//! `MERIDIAN_LOG` (or `RUST_LOG`; default `info`); `--log-format json`,
//! `MERIDIAN_LOG_FORMAT=json` or the config's `[log] format = "json"` (in
//! that order) switch to JSON lines.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use meridian_cli::{admin, dev, exit};
use meridian_server::config::Config;
use meridian_server::config::env::Env;

/// mimalloc instead of glibc's allocator: a node allocates and frees many
/// small buffers per request on several threads, and the load profile of
/// AssumeRole put glibc's malloc/free/consolidation at ~17 % of its CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "meridian",
    version,
    about = "Meridian: a multi-region token service in the model of AWS STS"
)]
struct Cli {
    /// Log format: text or json (default: MERIDIAN_LOG_FORMAT, then the
    /// config's [log] format, then text).
    #[arg(long, value_enum, global = true, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs one node.
    Serve {
        /// The node's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Runs a local multi-region cluster (one process per node) in the foreground.
    ///
    /// Its nodes accept loopback OIDC issuers (`http://127.0.0.1:PORT`) for
    /// AssumeRoleWithWebIdentity (`[federation] allow_loopback_issuers`),
    /// which production configurations never set by default.
    Dev(DevArgs),
    /// Administers a cluster over its Admin gRPC API.
    Admin(AdminArgs),
    /// Audit trail tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Prints temporary credentials for a role in the AWS credential_process
    /// format (`credential_process = meridian credentials --role-arn …`).
    Credentials(CredentialsArgs),
    /// Makes a new cluster's secrets: its KEK and the administrator bootstrap
    /// file (both 0600, never overwritten), and prints the administrator's
    /// credentials as JSON.
    Init(InitArgs),
    /// Checks a node's HTTP health endpoint: exit 0 when it answers 2xx, 1
    /// otherwise (a container healthcheck without wget).
    Health(HealthArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The directory to write `kek` and `bootstrap-admin.json` into (created 0700).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// The first account's name.
    #[arg(long, value_name = "NAME", default_value = "main")]
    account_name: String,
    /// Its administrator's user name.
    #[arg(long, value_name = "NAME", default_value = "admin")]
    user_name: String,
    /// The first account's 12-digit id [default: random].
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
}

#[derive(Debug, Args)]
struct HealthArgs {
    /// The endpoint to check (`/readyz` for readiness, `/healthz` for liveness).
    #[arg(long, value_name = "URL", default_value = meridian_cli::health::DEFAULT_URL)]
    url: String,
    /// Seconds to wait for the answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    timeout: u64,
}

#[derive(Debug, Args)]
struct CredentialsArgs {
    /// The role to assume [default: $AWS_ROLE_ARN].
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,
    /// The session name [default: $AWS_ROLE_SESSION_NAME, else meridian-<time>].
    #[arg(long, value_name = "NAME")]
    session_name: Option<String>,
    /// Session length in seconds (DurationSeconds).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<u32>,
    /// The STS endpoint [default: --cluster's node, $MERIDIAN_ENDPOINT, $AWS_ENDPOINT_URL_STS, $AWS_ENDPOINT_URL].
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// A cluster.json (as `meridian dev` writes it) to pick the region's node from.
    #[arg(long, value_name = "PATH")]
    cluster: Option<PathBuf>,
    /// The region [default: $AWS_REGION, $AWS_DEFAULT_REGION].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Exchange this OIDC token file with AssumeRoleWithWebIdentity [default: $AWS_WEB_IDENTITY_TOKEN_FILE].
    #[arg(long, value_name = "FILE")]
    web_identity_token_file: Option<PathBuf>,
    /// Source credentials: a profile with static keys in the shared credentials file
    /// [default: $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY/$AWS_SESSION_TOKEN].
    #[arg(long, value_name = "PROFILE")]
    source_profile: Option<String>,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Checks the hash chain of audit files (oldest first); exit 1 at the
    /// first broken line.
    Verify {
        /// The files, e.g. node-1/audit/audit-*.jsonl.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Accept a trail whose earliest files are not given.
        #[arg(long)]
        partial: bool,
    },
}

#[derive(Debug, Args)]
struct DevArgs {
    /// Regions of a new cluster, comma-separated [default: us-east-1,eu-west-1,ap-southeast-2]
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    regions: Option<Vec<String>>,
    /// Nodes per region of a new cluster [default: 1]
    #[arg(long, value_name = "N")]
    nodes_per_region: Option<usize>,
    /// Where the cluster's files and data live; an existing cluster there is restarted.
    #[arg(long, value_name = "DIR", default_value = "meridian-dev")]
    data_dir: PathBuf,
    /// Node N of a new cluster serves HTTP on P+N and gRPC on P+100+N [default: 7100]
    #[arg(long, value_name = "P")]
    base_port: Option<u16>,
    /// Seconds to wait for every node to be ready.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    ready_timeout: u64,
}

#[derive(Debug, Args)]
struct AdminArgs {
    /// The cluster's cluster.json (as `meridian dev` writes it).
    #[arg(long, value_name = "PATH", global = true)]
    cluster: Option<PathBuf>,
    /// A node's gRPC URL.
    #[arg(long, value_name = "URL", env = "MERIDIAN_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// The region to sign for (default: the node's in cluster.json, else AWS_REGION).
    #[arg(long, value_name = "REGION", global = true)]
    region: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = admin::Output::Table, global = true)]
    output: admin::Output,
    #[command(subcommand)]
    command: admin::AdminCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` loads and validates its configuration before any runtime or
    // socket exists (STYLE.md 2.5); the other commands need nothing first.
    let prepared = match cli.command {
        Command::Serve { config } => match meridian_cli::serve::load(&config) {
            Ok((config, env)) => Prepared::Serve(Box::new(config), env),
            Err(error) => return fail(&error),
        },
        Command::Dev(args) => Prepared::Dev(args),
        Command::Admin(args) => Prepared::Admin(args),
        Command::Credentials(args) => Prepared::Credentials(args),
        Command::Health(args) => Prepared::Health(args),
        Command::Init(args) => {
            let options = meridian_cli::init::InitOptions {
                out: args.out,
                account_name: args.account_name,
                user_name: args.user_name,
                account_id: args.account_id,
            };
            return match meridian_cli::init::run(&options) {
                Ok(made) => {
                    let mut stdout = std::io::stdout().lock();
                    let printed = writeln!(stdout, "{}", made.credentials_json.as_str());
                    let mut stderr = std::io::stderr().lock();
                    let _ = writeln!(
                        stderr,
                        "meridian init: wrote {} and {}; every node needs the KEK, the cluster's lowest-id initial member the bootstrap file",
                        made.kek_file.display(),
                        made.admin_file.display()
                    );
                    match printed {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(error) => fail(
                            &anyhow::Error::new(error)
                                .context("failed to print the administrator's credentials"),
                        ),
                    }
                }
                Err(error) => fail(&error),
            };
        }
        Command::Audit(AuditCommand::Verify { files, partial }) => {
            return match meridian_cli::audit::verify(&files, partial) {
                Ok(report) => {
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(stdout, "{report}");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error),
            };
        }
    };
    let config_json = match &prepared {
        Prepared::Serve(config, _) => config.log_json,
        _ => false,
    };
    let _telemetry = init_tracing(cli.log_format, config_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(&anyhow::Error::new(error).context("failed to start the runtime"));
        }
    };
    match runtime.block_on(run(prepared)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// A command ready to run in the runtime.
enum Prepared {
    Serve(Box<Config>, Env),
    Dev(DevArgs),
    Admin(AdminArgs),
    Credentials(CredentialsArgs),
    Health(HealthArgs),
}

async fn run(prepared: Prepared) -> anyhow::Result<()> {
    match prepared {
        Prepared::Health(args) => {
            let report =
                meridian_cli::health::check(&args.url, Duration::from_secs(args.timeout.max(1)))
                    .await?;
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "meridian health: {report}");
            Ok(())
        }
        Prepared::Serve(config, env) => meridian_cli::serve::run(*config, env).await,
        Prepared::Dev(args) => {
            dev::run(dev::DevOptions {
                regions: args.regions,
                nodes_per_region: args.nodes_per_region,
                data_dir: args.data_dir,
                base_port: args.base_port,
                ready_timeout: Duration::from_secs(args.ready_timeout),
                stop_grace: Duration::from_secs(30),
            })
            .await
        }
        Prepared::Credentials(args) => {
            let options = meridian_cli::credentials::CredentialsOptions {
                role_arn: args.role_arn,
                session_name: args.session_name,
                duration: args.duration,
                endpoint: args.endpoint,
                cluster: args.cluster,
                region: args.region,
                web_identity_token_file: args.web_identity_token_file,
                source_profile: args.source_profile,
            };
            let env: meridian_cli::credentials::Environment = std::env::vars().collect();
            let json = meridian_cli::credentials::run(&options, &env).await?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{json}").context("failed to write the credentials")?;
            Ok(())
        }
        Prepared::Admin(args) => {
            let cluster = args.cluster.or_else(|| {
                // Default to a dev cluster in the current directory when no
                // endpoint is given either.
                let default = admin::default_cluster_file();
                (args.endpoint.is_none() && std::fs::metadata(&default).is_ok()).then_some(default)
            });
            let target = admin::resolve(cluster.as_deref(), args.endpoint.as_deref())?;
            let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
            let credentials = admin::credentials(&env, cluster.as_deref())?;
            let region = args
                .region
                .or_else(|| target.region.clone())
                .or_else(|| env.get("AWS_REGION").cloned())
                .or_else(|| env.get("AWS_DEFAULT_REGION").cloned())
                .unwrap_or_else(|| String::from("us-east-1"));
            let session = admin::Session::new(&target, credentials, region)?;
            admin::run(&session, args.command, args.output).await
        }
    }
}

/// Installs logging (and the OTLP span exporter when the `OTEL_*`
/// variables ask for it); the guard flushes spans when dropped.
fn init_tracing(
    flag: Option<LogFormat>,
    config_json: bool,
) -> Option<meridian_server::logging::TelemetryGuard> {
    let filter = std::env::var("MERIDIAN_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| String::from("info"));
    let json = match flag {
        Some(format) => format == LogFormat::Json,
        None => match std::env::var("MERIDIAN_LOG_FORMAT") {
            Ok(format) => format == "json",
            Err(_) => config_json,
        },
    };
    let settings = meridian_server::logging::LogSettings {
        filter,
        json,
        // Colours only on a terminal: node logs go to files.
        ansi: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    match meridian_server::logging::init(&settings, &|name| std::env::var(name).ok()) {
        Ok(guard) => Some(guard),
        Err(error) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "meridian: warning: logging setup failed: {error:#}");
            None
        }
    }
}

fn fail(error: &anyhow::Error) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "meridian: error: {error:#}");
    exit::exit_code(error)
}
