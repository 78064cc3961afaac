//! `meridian admin …`: cluster administration over the `meridian.v1.Admin`
//! gRPC API.
//!
//! The cluster is found with `--cluster PATH/cluster.json` (its first
//! node's gRPC URL), `--endpoint URL`, or `MERIDIAN_ENDPOINT`, in that order;
//! with none of them, `./meridian-dev/cluster.json` if it exists.
//! Credentials come from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! (and `AWS_SESSION_TOKEN`), or else — for a dev cluster — from the
//! administrator in `cluster.json`. Every call is SigV4-signed over gRPC
//! metadata (`meridian_grpc::admin::signing`) for the region of the node
//! called (`--region`, else the node's region in `cluster.json`, else
//! `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`).
//!
//! Output is a human table by default and JSON with `--output json`
//! (`account create --output json` prints exactly `{"account_id", "access_key_id",
//! "secret_access_key"}`, DESIGN.md). Refusals print the AWS-style code and
//! message the server put in the status details.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use meridian_grpc::admin::error::error_of;
use meridian_grpc::admin::signing::{AdminCredentials, sign};
use meridian_proto::pb;
use meridian_proto::pb::admin_client::AdminClient;
use serde_json::{Value, json};
use tonic::transport::{Channel, Endpoint};
use zeroize::Zeroizing;

use crate::dev::layout::ClusterFile;

/// Where the cluster is, and how to sign for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The gRPC URL to call.
    pub endpoint: String,
    /// The node's region, when `cluster.json` says it.
    pub region: Option<String>,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable tables.
    Table,
    /// JSON.
    Json,
}

/// `meridian admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// This node's view: role, leader, log positions, lag, staleness, keys, regions.
    Status,
    /// Cluster members.
    Members {
        #[command(subcommand)]
        command: MembersCommand,
    },
    /// Accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Regions.
    Regions {
        #[command(subcommand)]
        command: RegionsCommand,
    },
    /// The key ring and its rotation.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Revocation.
    Revoke {
        #[command(subcommand)]
        command: RevokeCommand,
    },
    /// Builds a Raft snapshot on the node called.
    Snapshot,
    /// Writes a backup of the replicated state to FILE (0600).
    Backup {
        /// Where to write it.
        file: PathBuf,
    },
    /// Restores a backup into a fresh cluster started with the backup's KEK
    /// (its configuration replaces the cluster's bootstrap account).
    Restore {
        /// A file `backup` wrote.
        file: PathBuf,
    },
}

/// `meridian admin members …`.
#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Lists members.
    List,
    /// Reserves a node id never used before.
    ReserveId,
    /// Adds a learner.
    AddLearner {
        /// Its node id (from `reserve-id`).
        id: u64,
        /// Its region.
        #[arg(long)]
        region: String,
        /// Its gRPC URL.
        #[arg(long)]
        grpc: String,
        /// Its HTTP URL.
        #[arg(long, default_value = "")]
        http: String,
    },
    /// Makes a learner a voter.
    Promote {
        /// The node id.
        id: u64,
    },
    /// Removes a member.
    Remove {
        /// The node id.
        id: u64,
    },
    /// Hands leadership to a voter.
    TransferLeadership {
        /// The node id.
        id: u64,
    },
}

/// `meridian admin account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Creates an account and its administrator (user `admin` with
    /// AdministratorAccess and an access key, printed once).
    Create {
        /// The account's name.
        name: String,
        /// The administrator's user name.
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Lists accounts.
    List,
}

/// `meridian admin regions …`.
#[derive(Debug, Subcommand)]
pub enum RegionsCommand {
    /// Lists regions.
    List,
    /// Adds a region.
    Create {
        /// Its name.
        name: String,
        /// Start with issuance disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Enables issuance in a region.
    Enable {
        /// The region.
        name: String,
    },
    /// Disables issuance in a region (verification continues).
    Disable {
        /// The region.
        name: String,
    },
}

/// `meridian admin keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Lists keys (ids, states, times; never material) and the schedule.
    List,
    /// Stages a new key now (it activates once every member holds it).
    Rotate {
        /// Which keys: session-token, jwt-signing (RS256) or jwt-signing-es384.
        #[arg(long, default_value = "session-token")]
        purpose: String,
    },
    /// Shows the rotation schedule.
    Schedule,
    /// Changes the rotation schedule (unset fields keep their value).
    SetSchedule {
        /// Rotate once the active key is this many seconds old.
        #[arg(long)]
        rotate_after: Option<u64>,
        /// Turn automatic rotation off.
        #[arg(long, conflicts_with = "rotate_after")]
        no_automatic: bool,
        /// Minimum milliseconds between staging and activation.
        #[arg(long)]
        min_propagation_ms: Option<u64>,
        /// Seconds after which a staged key activates without every member's confirmation.
        #[arg(long)]
        propagation_grace: Option<u64>,
        /// Longest token lifetime in seconds: retention of retired keys (at least 129600, 36 h).
        #[arg(long)]
        max_token_lifetime: Option<u64>,
        /// Clock leeway in seconds.
        #[arg(long)]
        leeway: Option<u64>,
        /// Seconds after activation when a key stops signing.
        #[arg(long)]
        max_key_age: Option<u64>,
    },
}

/// `meridian admin revoke …`.
#[derive(Debug, Subcommand)]
pub enum RevokeCommand {
    /// Refuses every session of a role issued before now (or --before).
    RoleSessions {
        /// The role's account.
        #[arg(long)]
        account: String,
        /// The role's name.
        #[arg(long)]
        role: String,
        /// Unix milliseconds (default: now).
        #[arg(long)]
        before_ms: Option<i64>,
    },
    /// Refuses one session id until it expires.
    Session {
        /// The session id.
        id: String,
        /// The session's expiry in unix milliseconds (default: the longest lifetime from now).
        #[arg(long)]
        expires_at_ms: Option<i64>,
    },
    /// Disables a long-term access key.
    AccessKey {
        /// The access key id.
        id: String,
    },
}

/// Resolves the target from `--cluster`, then `--endpoint` (which clap also
/// fills from `MERIDIAN_ENDPOINT`).
pub fn resolve(cluster: Option<&Path>, endpoint: Option<&str>) -> anyhow::Result<Target> {
    if let Some(path) = cluster {
        let file = read_cluster(path)?;
        let first = file
            .regions
            .iter()
            .flat_map(|region| region.nodes.iter())
            .next()
            .with_context(|| format!("{} lists no node", path.display()))?;
        return Ok(Target {
            endpoint: first.grpc.clone(),
            region: Some(first.region.clone()),
        });
    }
    if let Some(endpoint) = endpoint {
        return Ok(Target {
            endpoint: endpoint.to_owned(),
            region: None,
        });
    }
    bail!("no cluster given: use --cluster PATH/cluster.json, --endpoint URL or MERIDIAN_ENDPOINT")
}

fn read_cluster(path: &Path) -> anyhow::Result<ClusterFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("failed to parse {}", path.display()))
}

/// The credentials: the environment's, else the dev administrator's.
pub fn credentials(
    env: &BTreeMap<String, String>,
    cluster: Option<&Path>,
) -> anyhow::Result<AdminCredentials> {
    let get = |name: &str| env.get(name).filter(|value| !value.is_empty()).cloned();
    if let (Some(id), Some(secret)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        return Ok(AdminCredentials {
            access_key_id: id,
            secret_access_key: Zeroizing::new(secret),
            session_token: get("AWS_SESSION_TOKEN").map(Zeroizing::new),
        });
    }
    if let Some(path) = cluster {
        let file = read_cluster(path)?;
        return Ok(AdminCredentials {
            access_key_id: file.admin.access_key_id.clone(),
            secret_access_key: Zeroizing::new(file.admin.secret_access_key.clone()),
            session_token: None,
        });
    }
    bail!(
        "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --cluster with a dev cluster's cluster.json"
    )
}

/// The default location of a dev cluster's file.
pub fn default_cluster_file() -> PathBuf {
    PathBuf::from("meridian-dev").join(crate::dev::layout::CLUSTER_FILE)
}

/// Everything a command needs to call the cluster.
pub struct Session {
    client: AdminClient<Channel>,
    credentials: AdminCredentials,
    region: String,
    endpoint: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for `target` (the channel connects on first use).
    pub fn new(
        target: &Target,
        credentials: AdminCredentials,
        region: String,
    ) -> anyhow::Result<Session> {
        let channel = Endpoint::from_shared(target.endpoint.clone())
            .with_context(|| format!("invalid endpoint {}", target.endpoint))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .connect_lazy();
        Ok(Session {
            client: AdminClient::new(channel),
            credentials,
            region,
            endpoint: target.endpoint.clone(),
        })
    }

    fn signed<M: prost::Message>(
        &self,
        method: &str,
        message: M,
    ) -> anyhow::Result<tonic::Request<M>> {
        let path = format!("/meridian.v1.Admin/{method}");
        let mut metadata = tonic::metadata::MetadataMap::new();
        sign(
            &mut metadata,
            &path,
            &message,
            &self.credentials,
            &self.region,
            crate::clock::now(),
        )
        .map_err(|e| anyhow::anyhow!("cannot sign the request: {e}"))?;
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = metadata;
        Ok(request)
    }

    fn failed(&self, method: &str, status: &tonic::Status) -> anyhow::Error {
        match error_of(status) {
            Some(error) => anyhow::anyhow!(
                "{method} refused by {}: {}: {}",
                self.endpoint,
                error.code,
                error.message
            ),
            None => anyhow::anyhow!(
                "{method} failed at {}: {:?}: {}",
                self.endpoint,
                status.code(),
                status.message()
            ),
        }
    }
}

macro_rules! call {
    ($session:expr, $method:literal, $rpc:ident, $message:expr) => {{
        let request = $session.signed($method, $message)?;
        let mut client = $session.client.clone();
        client
            .$rpc(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| $session.failed($method, &status))
    }};
}

/// Runs one `meridian admin` command and prints its result.
pub async fn run(session: &Session, command: AdminCommand, output: Output) -> anyhow::Result<()> {
    let value = execute(session, command).await?;
    let text = match output {
        Output::Json => serde_json::to_string_pretty(&value.json)?,
        Output::Table => value.table,
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", text.trim_end()).context("failed to write the output")?;
    Ok(())
}

/// A command's result in both forms.
struct Rendered {
    json: Value,
    table: String,
}

async fn execute(session: &Session, command: AdminCommand) -> anyhow::Result<Rendered> {
    Ok(match command {
        AdminCommand::Status => {
            let status = call!(session, "GetStatus", get_status, pb::AdminStatusRequest {})?;
            render_status(&status)
        }
        AdminCommand::Members { command } => members(session, command).await?,
        AdminCommand::Account { command } => match command {
            AccountCommand::Create { name, user } => {
                let created = call!(
                    session,
                    "CreateAccount",
                    create_account,
                    pb::AdminCreateAccountRequest {
                        name,
                        admin_user_name: user,
                    }
                )?;
                Rendered {
                    json: json!({
                        "account_id": created.account_id,
                        "access_key_id": created.access_key_id,
                        "secret_access_key": created.secret_access_key,
                    }),
                    table: table(
                        &["ACCOUNT", "USER", "ACCESS KEY", "SECRET (shown once)"],
                        &[vec![
                            created.account_id.clone(),
                            created.user_arn.clone(),
                            created.access_key_id.clone(),
                            created.secret_access_key.clone(),
                        ]],
                    ),
                }
            }
            AccountCommand::List => {
                let listed = call!(
                    session,
                    "ListAccounts",
                    list_accounts,
                    pb::AdminListAccountsRequest {}
                )?;
                let rows: Vec<Vec<String>> = listed
                    .accounts
                    .iter()
                    .map(|a| {
                        vec![
                            a.account_id.clone(),
                            a.name.clone(),
                            a.user_count.to_string(),
                            a.role_count.to_string(),
                            if a.operator { "yes" } else { "" }.to_owned(),
                            time(a.created_at_ms),
                        ]
                    })
                    .collect();
                Rendered {
                    json: json!({"accounts": listed.accounts.iter().map(|a| json!({
                        "account_id": a.account_id, "name": a.name, "users": a.user_count,
                        "roles": a.role_count, "operator": a.operator, "created_at_ms": a.created_at_ms,
                    })).collect::<Vec<_>>()}),
                    table: table(
                        &["ACCOUNT", "NAME", "USERS", "ROLES", "OPERATOR", "CREATED"],
                        &rows,
                    ),
                }
            }
        },
        AdminCommand::Regions { command } => {
            let regions = match command {
                RegionsCommand::List => {
                    call!(
                        session,
                        "ListRegions",
                        list_regions,
                        pb::AdminListRegionsRequest {}
                    )?
                    .regions
                }
                RegionsCommand::Create { name, disabled } => vec![call!(
                    session,
                    "CreateRegion",
                    create_region,
                    pb::AdminCreateRegionRequest {
                        name,
                        issuance_enabled: !disabled,
                    }
                )?],
                RegionsCommand::Enable { name } => vec![call!(
                    session,
                    "SetRegionIssuance",
                    set_region_issuance,
                    pb::AdminSetRegionIssuanceRequest {
                        name,
                        enabled: true
                    }
                )?],
                RegionsCommand::Disable { name } => vec![call!(
                    session,
                    "SetRegionIssuance",
                    set_region_issuance,
                    pb::AdminSetRegionIssuanceRequest {
                        name,
                        enabled: false
                    }
                )?],
            };
            render_regions(&regions)
        }
        AdminCommand::Keys { command } => keys(session, command).await?,
        AdminCommand::Revoke { command } => {
            let answer = match command {
                RevokeCommand::RoleSessions {
                    account,
                    role,
                    before_ms,
                } => call!(
                    session,
                    "RevokeRoleSessions",
                    revoke_role_sessions,
                    pb::AdminRevokeRoleSessionsRequest {
                        account_id: account,
                        role_name: role,
                        issued_before_ms: before_ms.unwrap_or(0),
                    }
                )?,
                RevokeCommand::Session { id, expires_at_ms } => call!(
                    session,
                    "RevokeSession",
                    revoke_session,
                    pb::AdminRevokeSessionRequest {
                        session_id: id,
                        expires_at_ms: expires_at_ms.unwrap_or(0),
                    }
                )?,
                RevokeCommand::AccessKey { id } => call!(
                    session,
                    "DisableAccessKey",
                    disable_access_key,
                    pb::AdminDisableAccessKeyRequest { access_key_id: id }
                )?,
            };
            Rendered {
                json: json!({"applied_index": answer.applied_index, "effective_at_ms": answer.effective_at_ms}),
                table: format!(
                    "revoked at log index {} (effective {}); every node enforces it once it applies that index\n",
                    answer.applied_index,
                    time(answer.effective_at_ms)
                ),
            }
        }
        AdminCommand::Snapshot => {
            let answer = call!(
                session,
                "TriggerSnapshot",
                trigger_snapshot,
                pb::AdminTriggerSnapshotRequest {}
            )?;
            Rendered {
                json: json!({"last_snapshot_index": answer.last_snapshot_index}),
                table: format!(
                    "snapshot built; last snapshot index {}\n",
                    answer
                        .last_snapshot_index
                        .map_or_else(|| String::from("-"), |i| i.to_string())
                ),
            }
        }
        AdminCommand::Backup { file } => backup(session, &file).await?,
        AdminCommand::Restore { file } => restore(session, &file).await?,
    })
}

async fn members(session: &Session, command: MembersCommand) -> anyhow::Result<Rendered> {
    let answer = match command {
        MembersCommand::List => {
            let status = call!(session, "GetStatus", get_status, pb::AdminStatusRequest {})?;
            pb::AdminMembershipResponse {
                members: status.members,
                leader_id: status.leader_id,
            }
        }
        MembersCommand::ReserveId => {
            let reserved = call!(
                session,
                "ReserveNodeId",
                reserve_node_id,
                pb::AdminReserveNodeIdRequest {}
            )?;
            return Ok(Rendered {
                json: json!({"node_id": reserved.node_id}),
                table: format!("reserved node id {}\n", reserved.node_id),
            });
        }
        MembersCommand::AddLearner {
            id,
            region,
            grpc,
            http,
        } => call!(
            session,
            "AddLearner",
            add_learner,
            pb::AdminAddLearnerRequest {
                node_id: id,
                region,
                raft_addr: grpc,
                api_addr: http,
            }
        )?,
        MembersCommand::Promote { id } => call!(
            session,
            "PromoteMember",
            promote_member,
            pb::AdminMemberRequest { node_id: id }
        )?,
        MembersCommand::Remove { id } => call!(
            session,
            "RemoveMember",
            remove_member,
            pb::AdminMemberRequest { node_id: id }
        )?,
        MembersCommand::TransferLeadership { id } => call!(
            session,
            "TransferLeadership",
            transfer_leadership,
            pb::AdminMemberRequest { node_id: id }
        )?,
    };
    Ok(render_members(&answer.members, answer.leader_id))
}

async fn keys(session: &Session, command: KeysCommand) -> anyhow::Result<Rendered> {
    Ok(match command {
        KeysCommand::List => {
            let listed = call!(session, "ListKeys", list_keys, pb::AdminListKeysRequest {})?;
            let mut rendered = render_keys(&listed.keys);
            if let Some(schedule) = &listed.schedule {
                let schedule = render_schedule(schedule);
                rendered.json = json!({"keys": rendered.json, "schedule": schedule.json});
                rendered.table.push('\n');
                rendered.table.push_str(&schedule.table);
            }
            rendered
        }
        KeysCommand::Rotate { purpose } => {
            let rotated = call!(
                session,
                "RotateKeys",
                rotate_keys,
                pb::AdminRotateKeysRequest {
                    purpose: purpose.clone()
                }
            )?;
            let staged = rotated.staged.unwrap_or_default();
            if staged.purpose != purpose {
                // A server that predates purposes rotates session-token keys.
                bail!(
                    "the server staged a {} key, not {purpose}: it does not support --purpose",
                    staged.purpose
                );
            }
            let mut rendered = render_keys(std::slice::from_ref(&staged));
            rendered.json =
                json!({"staged": rendered.json[0], "already_pending": rotated.already_pending});
            rendered.table.insert_str(
                0,
                if rotated.already_pending {
                    "a rotation is already in progress:\n"
                } else {
                    "staged (pending; activates once every member holds it):\n"
                },
            );
            rendered
        }
        KeysCommand::Schedule => {
            let schedule = call!(
                session,
                "GetRotationSchedule",
                get_rotation_schedule,
                pb::AdminGetRotationScheduleRequest {}
            )?;
            render_schedule(&schedule)
        }
        KeysCommand::SetSchedule {
            rotate_after,
            no_automatic,
            min_propagation_ms,
            propagation_grace,
            max_token_lifetime,
            leeway,
            max_key_age,
        } => {
            let mut schedule = call!(
                session,
                "GetRotationSchedule",
                get_rotation_schedule,
                pb::AdminGetRotationScheduleRequest {}
            )?;
            if no_automatic {
                schedule.rotate_after_seconds = None;
            }
            if let Some(value) = rotate_after {
                schedule.rotate_after_seconds = Some(value);
            }
            let set = |field: &mut u64, value: Option<u64>| {
                if let Some(value) = value {
                    *field = value;
                }
            };
            set(&mut schedule.min_propagation_millis, min_propagation_ms);
            set(&mut schedule.propagation_grace_seconds, propagation_grace);
            set(&mut schedule.max_token_lifetime_seconds, max_token_lifetime);
            set(&mut schedule.leeway_seconds, leeway);
            set(&mut schedule.max_key_age_seconds, max_key_age);
            let applied = call!(
                session,
                "SetRotationSchedule",
                set_rotation_schedule,
                schedule
            )?;
            render_schedule(&applied)
        }
    })
}

async fn backup(session: &Session, file: &Path) -> anyhow::Result<Rendered> {
    use std::os::unix::fs::OpenOptionsExt;
    let request = session.signed("Backup", pb::AdminBackupRequest {})?;
    let mut client = session.client.clone();
    let mut stream = client
        .backup(request)
        .await
        .map_err(|status| session.failed("Backup", &status))?
        .into_inner();
    let mut header = None;
    let mut data = Vec::new();
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|status| session.failed("Backup", &status))?
    {
        match chunk.payload {
            Some(pb::admin_backup_chunk::Payload::Header(h)) => header = Some(h),
            Some(pb::admin_backup_chunk::Payload::Data(bytes)) => data.extend_from_slice(&bytes),
            None => {}
        }
    }
    let header = header.context("the backup stream had no header")?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
    if u64::try_from(data.len()).ok() != Some(header.size)
        || digest.as_ref() != header.sha256.as_slice()
    {
        bail!("the backup arrived damaged (size or SHA-256 mismatch); nothing written");
    }
    let encoded = pb::AdminBackupChunk {
        payload: Some(pb::admin_backup_chunk::Payload::Header(header.clone())),
    };
    let mut out = Vec::with_capacity(data.len() + 256);
    prost::Message::encode_length_delimited(&encoded, &mut out)?;
    out.extend_from_slice(&data);
    let mut handle = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("failed to create {}", file.display()))?;
    handle.write_all(&out)?;
    handle.sync_all()?;
    Ok(Rendered {
        json: json!({
            "file": file.display().to_string(), "applied_index": header.applied_index,
            "size": header.size, "kek_fingerprint": header.kek_fingerprint,
        }),
        table: format!(
            "backup of log index {} ({} bytes, KEK {}) written to {}\n",
            header.applied_index,
            header.size,
            header.kek_fingerprint,
            file.display()
        ),
    })
}

async fn restore(session: &Session, file: &Path) -> anyhow::Result<Rendered> {
    let bytes =
        std::fs::read(file).with_context(|| format!("failed to read {}", file.display()))?;
    let mut rest = bytes.as_slice();
    let first: pb::AdminBackupChunk = prost::Message::decode_length_delimited(&mut rest)
        .with_context(|| format!("{} is not a Meridian backup", file.display()))?;
    if !matches!(
        first.payload,
        Some(pb::admin_backup_chunk::Payload::Header(_))
    ) {
        bail!("{} is not a Meridian backup (no header)", file.display());
    }
    let signed = session.signed("Restore", first.clone())?;
    let mut chunks = vec![first];
    for piece in rest.chunks(1 << 20) {
        chunks.push(pb::AdminBackupChunk {
            payload: Some(pb::admin_backup_chunk::Payload::Data(piece.to_vec())),
        });
    }
    let mut request = tonic::Request::new(tonic::codegen::tokio_stream::iter(chunks));
    *request.metadata_mut() = signed.metadata().clone();
    let mut client = session.client.clone();
    let answer = client
        .restore(request)
        .await
        .map_err(|status| session.failed("Restore", &status))?
        .into_inner();
    Ok(Rendered {
        json: json!({
            "applied_index": answer.applied_index, "accounts": answer.account_count, "keys": answer.key_count,
        }),
        table: format!(
            "restored {} accounts and {} keys at log index {}; sign with the backup's credentials from now on\n",
            answer.account_count, answer.key_count, answer.applied_index
        ),
    })
}

fn render_status(s: &pb::AdminStatus) -> Rendered {
    let opt = |v: Option<u64>| v.map_or_else(|| String::from("-"), |v| v.to_string());
    let mut table = String::new();
    let _ = writeln!(table, "node        {} ({})", s.node_id, s.region);
    let _ = writeln!(table, "role        {}", s.role);
    let _ = writeln!(table, "leader      {} {}", opt(s.leader_id), s.leader_addr);
    let _ = writeln!(table, "term        {}", s.term);
    let _ = writeln!(
        table,
        "log         last {} committed {} applied {}",
        opt(s.last_log_index),
        opt(s.committed_index),
        opt(s.applied_index)
    );
    let _ = writeln!(
        table,
        "staleness   {} ms (fails closed for issuance past {} ms)",
        opt(s.config_staleness_ms),
        s.max_config_staleness_ms
    );
    let _ = writeln!(table, "accounts    {}", s.account_count);
    if !s.followers.is_empty() {
        table.push('\n');
        let rows: Vec<Vec<String>> = s
            .followers
            .iter()
            .map(|f| {
                vec![
                    f.node_id.to_string(),
                    opt(f.matched_index),
                    f.lag.to_string(),
                ]
            })
            .collect();
        table.push_str(&self::table(&["FOLLOWER", "MATCHED", "LAG"], &rows));
    }
    table.push('\n');
    table.push_str(&render_members(&s.members, s.leader_id).table);
    table.push('\n');
    table.push_str(&render_regions(&s.regions).table);
    table.push('\n');
    table.push_str(&render_keys(&s.keys).table);
    let json = json!({
        "node_id": s.node_id, "region": s.region, "role": s.role, "leader_id": s.leader_id,
        "leader_addr": s.leader_addr, "term": s.term, "last_log_index": s.last_log_index,
        "committed_index": s.committed_index, "applied_index": s.applied_index,
        "followers": s.followers.iter().map(|f| json!({"node_id": f.node_id, "matched_index": f.matched_index, "lag": f.lag})).collect::<Vec<_>>(),
        "millis_since_quorum_ack": s.millis_since_quorum_ack,
        "config_confirmed_at_ms": s.config_confirmed_at_ms, "config_staleness_ms": s.config_staleness_ms,
        "max_config_staleness_ms": s.max_config_staleness_ms,
        "members": render_members(&s.members, s.leader_id).json,
        "regions": render_regions(&s.regions).json,
        "keys": render_keys(&s.keys).json,
        "now_ms": s.now_ms, "partition": s.partition, "account_count": s.account_count,
    });
    Rendered { json, table }
}

fn render_members(members: &[pb::AdminMember], leader: Option<u64>) -> Rendered {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            vec![
                m.node_id.to_string(),
                m.region.clone(),
                if m.voter { "voter" } else { "learner" }.to_owned(),
                if Some(m.node_id) == leader {
                    "leader"
                } else {
                    ""
                }
                .to_owned(),
                m.raft_addr.clone(),
                m.api_addr.clone(),
            ]
        })
        .collect();
    Rendered {
        json: json!(
            members
                .iter()
                .map(|m| json!({
                    "node_id": m.node_id, "region": m.region, "voter": m.voter,
                    "leader": Some(m.node_id) == leader, "grpc": m.raft_addr, "http": m.api_addr,
                }))
                .collect::<Vec<_>>()
        ),
        table: table(&["NODE", "REGION", "KIND", "LEADER", "GRPC", "HTTP"], &rows),
    }
}

fn render_regions(regions: &[pb::AdminRegion]) -> Rendered {
    let rows: Vec<Vec<String>> = regions
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.status.clone(),
                if r.issuance_enabled {
                    "enabled"
                } else {
                    "disabled"
                }
                .to_owned(),
                r.node_count.to_string(),
            ]
        })
        .collect();
    Rendered {
        json: json!(
            regions
                .iter()
                .map(|r| json!({
                    "name": r.name, "status": r.status, "issuance_enabled": r.issuance_enabled,
                    "nodes": r.node_count, "created_at_ms": r.created_at_ms,
                }))
                .collect::<Vec<_>>()
        ),
        table: table(&["REGION", "STATUS", "ISSUANCE", "NODES"], &rows),
    }
}

fn render_keys(keys: &[pb::AdminKey]) -> Rendered {
    let opt = |v: Option<i64>| v.map_or_else(|| String::from("-"), time);
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.purpose.clone(),
                k.term.to_string(),
                k.key_id.clone(),
                k.state.clone(),
                time(k.created_at_ms),
                opt(k.activated_at_ms),
                opt(k.verify_until_ms),
            ]
        })
        .collect();
    Rendered {
        json: json!(keys.iter().map(|k| json!({
            "purpose": k.purpose, "term": k.term, "key_id": k.key_id, "algorithm": k.algorithm,
            "state": k.state, "created_at_ms": k.created_at_ms, "activate_after_ms": k.activate_after_ms,
            "activated_at_ms": k.activated_at_ms, "verify_until_ms": k.verify_until_ms,
        })).collect::<Vec<_>>()),
        table: table(
            &["PURPOSE", "TERM", "KEY ID", "STATE", "CREATED", "ACTIVATED", "VERIFIES UNTIL"],
            &rows,
        ),
    }
}

fn render_schedule(s: &pb::AdminRotationSchedule) -> Rendered {
    let rows = vec![
        vec![
            String::from("rotate after"),
            s.rotate_after_seconds
                .map_or_else(|| String::from("off"), |v| format!("{v} s")),
        ],
        vec![
            String::from("min propagation"),
            format!("{} ms", s.min_propagation_millis),
        ],
        vec![
            String::from("propagation grace"),
            format!("{} s", s.propagation_grace_seconds),
        ],
        vec![
            String::from("max token lifetime"),
            format!("{} s", s.max_token_lifetime_seconds),
        ],
        vec![String::from("leeway"), format!("{} s", s.leeway_seconds)],
        vec![
            String::from("max key age"),
            format!("{} s", s.max_key_age_seconds),
        ],
    ];
    Rendered {
        json: json!({
            "rotate_after_seconds": s.rotate_after_seconds, "min_propagation_millis": s.min_propagation_millis,
            "propagation_grace_seconds": s.propagation_grace_seconds,
            "max_token_lifetime_seconds": s.max_token_lifetime_seconds,
            "leeway_seconds": s.leeway_seconds, "max_key_age_seconds": s.max_key_age_seconds,
        }),
        table: table(&["SCHEDULE", "VALUE"], &rows),
    }
}

/// RFC 3339 in UTC, seconds precision.
fn time(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| millis.to_string())
}

/// A left-aligned text table.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            let _ = write!(text, "{cell:<width$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::layout::{AdminCredentials as DevAdmin, cluster_json, plan_new};

    #[test]
    fn cluster_file_wins_over_endpoint_and_names_the_region_and_credentials() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let plan = plan_new(dir.path(), &[String::from("eu-west-1")], 1, 7300)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let admin = DevAdmin {
            account_id: String::from("123456789012"),
            access_key_id: String::from("AKIAQAAAAAAAAAAAAAAA"),
            secret_access_key: String::from("x"),
        };
        let path = dir.path().join("cluster.json");
        let text =
            cluster_json(&plan, &BTreeMap::new(), &admin).unwrap_or_else(|e| panic!("{e:#}"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let target =
            resolve(Some(&path), Some("http://other:1")).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(target.endpoint, "http://127.0.0.1:7401");
        assert_eq!(target.region.as_deref(), Some("eu-west-1"));
        let target = resolve(None, Some("http://other:1")).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(target.endpoint, "http://other:1");
        assert!(resolve(None, None).is_err());

        let mut env = BTreeMap::new();
        let from_file = credentials(&env, Some(&path)).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(from_file.access_key_id, "AKIAQAAAAAAAAAAAAAAA");
        env.insert(
            String::from("AWS_ACCESS_KEY_ID"),
            String::from("AKIAENVENVENVENVENVE"),
        );
        env.insert(
            String::from("AWS_SECRET_ACCESS_KEY"),
            String::from("secret"),
        );
        env.insert(String::from("AWS_SESSION_TOKEN"), String::from("token"));
        let from_env = credentials(&env, Some(&path)).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(from_env.access_key_id, "AKIAENVENVENVENVENVE");
        assert_eq!(
            from_env.session_token.as_deref().map(String::as_str),
            Some("token")
        );
        assert!(credentials(&BTreeMap::new(), None).is_err());
    }

    #[test]
    fn tables_align_columns() {
        let text = table(
            &["A", "LONGER"],
            &[vec![String::from("wide cell"), String::from("x")]],
        );
        assert_eq!(text, "A          LONGER\nwide cell  x\n");
    }
}
