//! The tonic implementation of `meridian.v1.Admin`.
//!
//! Every method starts with [`AdminService::begin`]: authenticate the signed
//! metadata against the node's applied snapshot, authorize
//! `meridian:<Method>` on the call's scope, and hand back the snapshot, the
//! caller and the time the call is decided at. Writes go through
//! [`Node::write`] (forwarded to the leader by the node) with request ids
//! derived from the signature, so a replayed or retried signed call is
//! answered from the request log rather than applied twice. Membership
//! changes must run on the leader: a follower forwards the call, signature
//! and all, to the leader's Admin service (the signed host is fixed, so the
//! signature holds there) and relays the answer.
//!
//! The service is built before the node exists (the node's gRPC server is
//! started with it mounted) and bound to the node afterwards; calls that
//! arrive in between answer `UNAVAILABLE`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use futures::Stream;
use meridian_core::access::caller::Caller;
use meridian_core::access::keys::KeyMaterial;
use meridian_core::config::cluster::{KeyPurpose, KeyRotationSettings, NodeInfo};
use meridian_core::config::command::{
    Command, ConfigRequest, PolicyHolder, RequestId, Response as CommandResponse,
};
use meridian_core::config::model::{AccessKeyStatus, SealedBytes};
use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::config::state::{ConfigState, ConfigStateParts};
use meridian_core::ids::{
    AccessKeyId, AccessKeyKind, AccountId, SecretAccessKey, UniqueId, UniqueIdKind,
};
use meridian_core::rand::{RandomError, RandomSource};
use meridian_core::time::Timestamp;
use meridian_proto::pb;
use meridian_proto::pb::admin_client::AdminClient;
use meridian_proto::pb::admin_server::{Admin, AdminServer};
use meridian_proto::pb_impl::impl_config_state::state_to_pb;
use openraft::async_runtime::WatchReceiver as _;
use prost::Message as _;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use crate::admin::auth::{AdminAuth, Scope, operator_account};
use crate::admin::convert;
use crate::admin::error::{admin_status, cluster_failed, invalid, write_failed};
use crate::admin::signing::{SIGNED_METADATA, message_sha256, request_id_of};
use crate::node::{Node, Role};
use crate::rotation::{Entropy, RotationDriver, RotationError};

/// The gRPC service path prefix.
pub const SERVICE_PATH: &str = "/meridian.v1.Admin/";
/// Metadata marking a call one node forwarded to the leader (never forwarded again).
pub const FORWARDED_HEADER: &str = "x-meridian-forwarded";
/// The largest Admin request or response message.
pub const MAX_ADMIN_MESSAGE_BYTES: usize = 4 << 20;
/// Backup data chunk size.
const BACKUP_CHUNK: usize = 1 << 20;
/// The backup file's magic and layout version.
pub const BACKUP_MAGIC: &str = "meridian-backup";
/// The backup layout version.
pub const BACKUP_FORMAT_VERSION: u32 = 1;
/// The largest backup a restore accepts: it travels as one Raft entry.
pub const MAX_RESTORE_BYTES: usize = 16 << 20;
/// The AWS managed policy a new account's administrator gets.
pub const ADMIN_POLICY_NAME: &str = "AdministratorAccess";

/// The current time (the server's clock, a test's fake one).
pub type ClockFn = Arc<dyn Fn() -> Timestamp + Send + Sync>;
/// When the node last knew its applied configuration was current.
pub type FreshnessFn = Arc<dyn Fn() -> Option<Timestamp> + Send + Sync>;

/// What the server hands the service.
pub struct AdminParts {
    /// This node's region.
    pub region: String,
    /// The KEK-backed key material (shared with the edge).
    pub keys: Arc<KeyMaterial>,
    /// Time.
    pub clock: ClockFn,
    /// Randomness (account ids, secrets, request ids).
    pub entropy: Entropy,
    /// Configuration freshness.
    pub freshness: FreshnessFn,
    /// The staleness beyond which issuance fails closed (status only).
    pub max_config_staleness: Duration,
}

impl std::fmt::Debug for AdminParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminParts")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The Admin service of one node. Cheap to clone.
#[derive(Clone)]
pub struct AdminService {
    inner: Arc<Inner>,
}

struct Inner {
    parts: AdminParts,
    auth: AdminAuth,
    bound: OnceLock<(Arc<Node>, Arc<RotationDriver>)>,
    leaders: Mutex<HashMap<String, Channel>>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminService")
            .field("region", &self.inner.parts.region)
            .field("bound", &self.inner.bound.get().is_some())
            .finish_non_exhaustive()
    }
}

/// Everything a method needs once the call is authorized.
struct Call {
    node: Arc<Node>,
    rotation: Arc<RotationDriver>,
    snapshot: Arc<ConfigSnapshot>,
    now: Timestamp,
    caller: Caller,
    metadata: tonic::metadata::MetadataMap,
}

/// Core's randomness seam over the service's entropy.
struct Draw<'a>(&'a Entropy);

impl RandomSource for Draw<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        (self.0)(dest);
        Ok(())
    }
}

impl AdminService {
    /// A service not yet bound to its node.
    pub fn new(parts: AdminParts) -> AdminService {
        let auth = AdminAuth::new(&parts.region, Arc::clone(&parts.keys));
        AdminService {
            inner: Arc::new(Inner {
                parts,
                auth,
                bound: OnceLock::new(),
                leaders: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Binds the service to the node it serves (once).
    pub fn bind(&self, node: Arc<Node>, rotation: Arc<RotationDriver>) {
        let _ = self.inner.bound.set((node, rotation));
    }

    /// The tonic server, with message-size limits.
    pub fn server(&self) -> AdminServer<AdminService> {
        AdminServer::new(self.clone())
            .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
    }

    /// The service as routes to mount on the node's gRPC port (the
    /// server adds other services to them).
    pub fn routes(&self) -> tonic::service::Routes {
        tonic::service::Routes::new(self.server())
    }

    /// Authenticates and authorizes a call to `method` on `scope`.
    fn begin<M: prost::Message>(
        &self,
        request: &Request<M>,
        method: &str,
        scope: impl FnOnce(&ConfigSnapshot) -> Result<Scope, Status>,
    ) -> Result<Call, Status> {
        self.begin_signed(
            request.metadata(),
            &message_sha256(request.get_ref()),
            method,
            scope,
        )
    }

    /// [`AdminService::begin`] for a call whose signed message hashes to
    /// `hash` (a client stream signs its first message).
    fn begin_signed(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        hash: &str,
        method: &str,
        scope: impl FnOnce(&ConfigSnapshot) -> Result<Scope, Status>,
    ) -> Result<Call, Status> {
        let (node, rotation) = self.inner.bound.get().cloned().ok_or_else(|| {
            admin_status(
                tonic::Code::Unavailable,
                "ServiceUnavailable",
                "the node is starting",
            )
        })?;
        let snapshot = node.snapshot().borrow().clone();
        let now = (self.inner.parts.clock)();
        let path = format!("{SERVICE_PATH}{method}");
        let caller = self
            .inner
            .auth
            .authenticate(metadata, &path, hash, &snapshot, now)?;
        let scope = scope(&snapshot)?;
        self.inner.auth.authorize(
            &caller,
            method,
            &scope,
            &snapshot,
            now,
            &mut Draw(&self.inner.parts.entropy),
        )?;
        tracing::info!(
            method,
            caller = %caller.principal.arn(snapshot.partition()),
            access_key_id = %caller.access_key_id,
            "admin call authorized"
        );
        Ok(Call {
            node,
            rotation,
            snapshot,
            now,
            caller,
            metadata: metadata.clone(),
        })
    }

    /// Proposes `command` with a request id derived from the call's
    /// signature and `step`.
    async fn write(
        &self,
        call: &Call,
        step: &str,
        command: Command,
    ) -> Result<CommandResponse, Status> {
        let id = request_id_of(&call.metadata, step).unwrap_or_else(|| {
            let mut id = [0u8; 16];
            (self.inner.parts.entropy)(&mut id);
            id
        });
        let request = ConfigRequest {
            request_id: RequestId(id),
            issued_at: call.now,
            command,
        };
        call.node.write(request).await.map_err(|e| write_failed(&e))
    }

    /// Forwards a membership call to the leader, or answers `None` to run it here.
    async fn forward_to_leader<M, R, F, Fut>(
        &self,
        call: &Call,
        message: &M,
        send: F,
    ) -> Result<Option<R>, Status>
    where
        M: Clone,
        F: FnOnce(AdminClient<Channel>, Request<M>) -> Fut,
        Fut: std::future::Future<Output = Result<Response<R>, Status>>,
    {
        let status = call.node.status();
        if status.role == Role::Leader {
            return Ok(None);
        }
        if call.metadata.get(FORWARDED_HEADER).is_some() {
            return Err(admin_status(
                tonic::Code::FailedPrecondition,
                "NotLeader",
                "this node is not the leader (forwarded call not forwarded again)",
            ));
        }
        let leader = status
            .leader
            .and_then(|id| {
                call.snapshot
                    .nodes()
                    .members
                    .get(&id)
                    .map(|m| m.info.raft_addr.clone())
            })
            .ok_or_else(|| {
                admin_status(
                    tonic::Code::Unavailable,
                    "ServiceUnavailable",
                    "no leader known; retry",
                )
            })?;
        let channel = self.leader_channel(&leader)?;
        let mut forwarded = Request::new(message.clone());
        for key in SIGNED_METADATA {
            if let Some(value) = call.metadata.get(key) {
                forwarded.metadata_mut().insert(key, value.clone());
            }
        }
        forwarded
            .metadata_mut()
            .insert(FORWARDED_HEADER, MetadataValue::from_static("1"));
        let timeout = call.node.peers().timings().write_timeout;
        forwarded.set_timeout(timeout);
        let client = AdminClient::new(channel)
            .max_decoding_message_size(MAX_ADMIN_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_ADMIN_MESSAGE_BYTES);
        // A call to another node while serving an Admin (configuration) call.
        crate::outbound::record(crate::outbound::RequestPath::Config);
        match tokio::time::timeout(timeout, send(client, forwarded)).await {
            Ok(answer) => answer.map(|response| Some(response.into_inner())),
            Err(_) => Err(admin_status(
                tonic::Code::Unavailable,
                "ServiceUnavailable",
                "the leader did not answer in time",
            )),
        }
    }

    fn leader_channel(&self, addr: &str) -> Result<Channel, Status> {
        let mut channels = self
            .inner
            .leaders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let channel = Endpoint::from_shared(addr.to_owned())
            .map_err(|_| {
                admin_status(
                    tonic::Code::Internal,
                    "InternalFailure",
                    "bad leader address",
                )
            })?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .connect_lazy();
        channels.insert(addr.to_owned(), channel.clone());
        Ok(channel)
    }

    fn membership(node: &Node, snapshot: &ConfigSnapshot) -> pb::AdminMembershipResponse {
        pb::AdminMembershipResponse {
            members: convert::members(snapshot),
            leader_id: node.status().leader,
        }
    }

    /// Waits (briefly) until this node's snapshot reflects the membership
    /// change it just made, so the answer shows it.
    async fn settled_snapshot(node: &Node) -> Arc<ConfigSnapshot> {
        let mut snapshots = node.snapshot();
        let target = node.status().last_log_index.unwrap_or(0);
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            snapshots.wait_for(|view| view.applied_index() >= target),
        )
        .await;
        snapshots.borrow().clone()
    }
}

type BackupStream = Pin<Box<dyn Stream<Item = Result<pb::AdminBackupChunk, Status>> + Send>>;

fn cluster(_: &ConfigSnapshot) -> Result<Scope, Status> {
    Ok(Scope::Cluster)
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn get_status(
        &self,
        request: Request<pb::AdminStatusRequest>,
    ) -> Result<Response<pb::AdminStatus>, Status> {
        let call = self.begin(&request, "GetStatus", cluster)?;
        let parts = &self.inner.parts;
        let confirmed = (parts.freshness)();
        Ok(Response::new(convert::status(
            &call.node.status(),
            &call.snapshot,
            &parts.region,
            call.now,
            confirmed,
            parts.max_config_staleness,
        )))
    }

    async fn reserve_node_id(
        &self,
        request: Request<pb::AdminReserveNodeIdRequest>,
    ) -> Result<Response<pb::AdminReserveNodeIdResponse>, Status> {
        let call = self.begin(&request, "ReserveNodeId", cluster)?;
        match self.write(&call, "reserve", Command::ReserveNodeId).await? {
            CommandResponse::NodeIdReserved { node_id } => {
                Ok(Response::new(pb::AdminReserveNodeIdResponse { node_id }))
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn add_learner(
        &self,
        request: Request<pb::AdminAddLearnerRequest>,
    ) -> Result<Response<pb::AdminMembershipResponse>, Status> {
        let call = self.begin(&request, "AddLearner", cluster)?;
        let message = request.into_inner();
        if message.raft_addr.is_empty() || message.region.is_empty() || message.node_id == 0 {
            return Err(invalid("node_id, region and raft_addr are required"));
        }
        if let Some(answer) = self
            .forward_to_leader(&call, &message, |mut client, request| async move {
                client.add_learner(request).await
            })
            .await?
        {
            return Ok(Response::new(answer));
        }
        let info = NodeInfo {
            region: message.region,
            raft_addr: message.raft_addr,
            api_addr: message.api_addr,
        };
        call.node
            .add_learner(message.node_id, info)
            .await
            .map_err(|e| cluster_failed(&e))?;
        let snapshot = Self::settled_snapshot(&call.node).await;
        Ok(Response::new(Self::membership(&call.node, &snapshot)))
    }

    async fn promote_member(
        &self,
        request: Request<pb::AdminMemberRequest>,
    ) -> Result<Response<pb::AdminMembershipResponse>, Status> {
        let call = self.begin(&request, "PromoteMember", cluster)?;
        let message = request.into_inner();
        if let Some(answer) = self
            .forward_to_leader(&call, &message, |mut client, request| async move {
                client.promote_member(request).await
            })
            .await?
        {
            return Ok(Response::new(answer));
        }
        call.node
            .promote(message.node_id)
            .await
            .map_err(|e| cluster_failed(&e))?;
        let snapshot = Self::settled_snapshot(&call.node).await;
        Ok(Response::new(Self::membership(&call.node, &snapshot)))
    }

    async fn remove_member(
        &self,
        request: Request<pb::AdminMemberRequest>,
    ) -> Result<Response<pb::AdminMembershipResponse>, Status> {
        let call = self.begin(&request, "RemoveMember", cluster)?;
        let message = request.into_inner();
        if let Some(answer) = self
            .forward_to_leader(&call, &message, |mut client, request| async move {
                client.remove_member(request).await
            })
            .await?
        {
            return Ok(Response::new(answer));
        }
        call.node
            .remove(message.node_id)
            .await
            .map_err(|e| cluster_failed(&e))?;
        let snapshot = Self::settled_snapshot(&call.node).await;
        Ok(Response::new(Self::membership(&call.node, &snapshot)))
    }

    async fn transfer_leadership(
        &self,
        request: Request<pb::AdminMemberRequest>,
    ) -> Result<Response<pb::AdminMembershipResponse>, Status> {
        let call = self.begin(&request, "TransferLeadership", cluster)?;
        let message = request.into_inner();
        if let Some(answer) = self
            .forward_to_leader(&call, &message, |mut client, request| async move {
                client.transfer_leadership(request).await
            })
            .await?
        {
            return Ok(Response::new(answer));
        }
        call.node
            .transfer_leadership(message.node_id)
            .await
            .map_err(|e| cluster_failed(&e))?;
        Ok(Response::new(Self::membership(&call.node, &call.snapshot)))
    }

    async fn create_account(
        &self,
        request: Request<pb::AdminCreateAccountRequest>,
    ) -> Result<Response<pb::AdminCreateAccountResponse>, Status> {
        let call = self.begin(&request, "CreateAccount", cluster)?;
        let message = request.into_inner();
        check_name("name", &message.name)?;
        let user_name = if message.admin_user_name.is_empty() {
            String::from("admin")
        } else {
            message.admin_user_name
        };
        check_name("admin_user_name", &user_name)?;
        let mut rng = Draw(&self.inner.parts.entropy);
        let random =
            |e: RandomError| admin_status(tonic::Code::Internal, "InternalFailure", e.to_string());
        let account_id = new_account_id(&call.snapshot, &mut rng)?;
        let partition = call.snapshot.partition().clone();
        // 1. The account. A replay of this signed call is answered from the
        //    request log with the first call's account: refuse it rather
        //    than create half an account or hand out a secret twice.
        let created = self
            .write(
                &call,
                "account",
                Command::CreateAccount {
                    account_id,
                    name: message.name.clone(),
                },
            )
            .await?;
        if !matches!(&created, CommandResponse::Created { id, .. } if id == account_id.as_str()) {
            return Err(admin_status(
                tonic::Code::FailedPrecondition,
                "ReplayedRequest",
                "this signed request was already carried out; sign a new request (list accounts to see the result)",
            ));
        }
        // 2. The user with the AWS managed policy AdministratorAccess
        //    (core's built-in catalogue: allow every action on everything
        //    in its own account; the Admin API additionally requires the
        //    operator account, so this grants no cluster administration).
        let user_id = UniqueId::generate(UniqueIdKind::User, &mut rng).map_err(random)?;
        self.write(
            &call,
            "admin/user",
            Command::CreateUser {
                account_id,
                user_name: user_name.clone(),
                path: String::from("/"),
                user_id: user_id.to_string(),
                permissions_boundary: None,
                tags: Default::default(),
            },
        )
        .await?;
        self.write(
            &call,
            "admin/attach",
            Command::AttachPolicy {
                account_id,
                holder: PolicyHolder::User(user_name.clone()),
                policy_arn: meridian_core::config::aws_managed::by_name(ADMIN_POLICY_NAME)
                    .map(|policy| meridian_core::config::aws_managed::arn(&partition, policy))
                    .ok_or_else(|| {
                        admin_status(
                            tonic::Code::Internal,
                            "InternalFailure",
                            "AdministratorAccess is missing from the managed-policy catalogue",
                        )
                    })?,
            },
        )
        .await?;
        // 3. The access key: the secret is sealed under the KEK before it
        //    enters the log and returned to this caller only.
        let access_key_id = AccessKeyId::generate(AccessKeyKind::LongTerm, &account_id, &mut rng)
            .map_err(random)?;
        let secret = SecretAccessKey::generate(&mut rng).map_err(random)?;
        let sealed: SealedBytes = self
            .inner
            .auth
            .keys()
            .seal_access_key_secret(access_key_id.as_str(), &secret, &mut rng)
            .map_err(|e| admin_status(tonic::Code::Internal, "InternalFailure", e.to_string()))?;
        self.write(
            &call,
            "admin/key",
            Command::CreateAccessKey {
                account_id,
                user_name: user_name.clone(),
                access_key_id: access_key_id.as_str().to_owned(),
                sealed_secret: sealed,
            },
        )
        .await?;
        tracing::info!(
            account_id = %account_id,
            user = %user_name,
            access_key_id = %access_key_id,
            by = %call.caller.principal.arn(&partition),
            "account created"
        );
        Ok(Response::new(pb::AdminCreateAccountResponse {
            account_id: account_id.as_str().to_owned(),
            user_arn: format!("arn:{partition}:iam::{account_id}:user/{user_name}"),
            user_name,
            access_key_id: access_key_id.as_str().to_owned(),
            secret_access_key: secret.expose_secret().to_owned(),
        }))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::AdminListAccountsRequest>,
    ) -> Result<Response<pb::AdminListAccountsResponse>, Status> {
        let call = self.begin(&request, "ListAccounts", cluster)?;
        let operator = operator_account(&call.snapshot);
        Ok(Response::new(pb::AdminListAccountsResponse {
            accounts: call
                .snapshot
                .accounts()
                .map(|account| pb::AdminAccount {
                    account_id: account.account.id.as_str().to_owned(),
                    name: account.account.name.clone(),
                    created_at_ms: account.account.created_at.unix_millis(),
                    user_count: u32::try_from(account.users.len()).unwrap_or(u32::MAX),
                    role_count: u32::try_from(account.roles.len()).unwrap_or(u32::MAX),
                    operator: Some(account.account.id) == operator,
                })
                .collect(),
        }))
    }

    async fn list_regions(
        &self,
        request: Request<pb::AdminListRegionsRequest>,
    ) -> Result<Response<pb::AdminListRegionsResponse>, Status> {
        let call = self.begin(&request, "ListRegions", cluster)?;
        Ok(Response::new(pb::AdminListRegionsResponse {
            regions: convert::regions(&call.snapshot),
        }))
    }

    async fn create_region(
        &self,
        request: Request<pb::AdminCreateRegionRequest>,
    ) -> Result<Response<pb::AdminRegion>, Status> {
        let call = self.begin(&request, "CreateRegion", cluster)?;
        let message = request.into_inner();
        self.write(
            &call,
            "region",
            Command::CreateRegion {
                name: message.name.clone(),
                issuance_enabled: message.issuance_enabled,
            },
        )
        .await?;
        region_answer(&call.node, &message.name)
    }

    async fn set_region_issuance(
        &self,
        request: Request<pb::AdminSetRegionIssuanceRequest>,
    ) -> Result<Response<pb::AdminRegion>, Status> {
        let call = self.begin(&request, "SetRegionIssuance", cluster)?;
        let message = request.into_inner();
        self.write(
            &call,
            "region-issuance",
            Command::SetRegionIssuance {
                name: message.name.clone(),
                enabled: message.enabled,
            },
        )
        .await?;
        region_answer(&call.node, &message.name)
    }

    async fn list_keys(
        &self,
        request: Request<pb::AdminListKeysRequest>,
    ) -> Result<Response<pb::AdminListKeysResponse>, Status> {
        let call = self.begin(&request, "ListKeys", cluster)?;
        Ok(Response::new(pb::AdminListKeysResponse {
            keys: convert::keys(&call.snapshot),
            schedule: Some(convert::schedule(&call.snapshot.key_ring().rotation)),
        }))
    }

    async fn rotate_keys(
        &self,
        request: Request<pb::AdminRotateKeysRequest>,
    ) -> Result<Response<pb::AdminRotateKeysResponse>, Status> {
        let call = self.begin(&request, "RotateKeys", cluster)?;
        let name = request.into_inner().purpose;
        let purpose = if name.is_empty() {
            KeyPurpose::SessionToken
        } else {
            convert::purpose_named(&name).ok_or_else(|| {
                invalid("purpose must be session-token, jwt-signing or jwt-signing-es384")
            })?
        };
        let (key, already_pending) =
            call.rotation
                .rotate_now(purpose, call.now)
                .await
                .map_err(|error| match error {
                    RotationError::Write(error) => write_failed(&error),
                    RotationError::Refused(error) => crate::admin::error::refused(&error),
                    error @ RotationError::NoKey(_) => admin_status(
                        tonic::Code::FailedPrecondition,
                        "PreconditionFailed",
                        error.to_string(),
                    ),
                    other => admin_status(
                        tonic::Code::Unavailable,
                        "ServiceUnavailable",
                        other.to_string(),
                    ),
                })?;
        Ok(Response::new(pb::AdminRotateKeysResponse {
            staged: Some(convert::key(&key)),
            already_pending,
        }))
    }

    async fn get_rotation_schedule(
        &self,
        request: Request<pb::AdminGetRotationScheduleRequest>,
    ) -> Result<Response<pb::AdminRotationSchedule>, Status> {
        let call = self.begin(&request, "GetRotationSchedule", cluster)?;
        Ok(Response::new(convert::schedule(
            &call.snapshot.key_ring().rotation,
        )))
    }

    async fn set_rotation_schedule(
        &self,
        request: Request<pb::AdminRotationSchedule>,
    ) -> Result<Response<pb::AdminRotationSchedule>, Status> {
        let call = self.begin(&request, "SetRotationSchedule", cluster)?;
        let settings = convert::settings(&request.into_inner());
        settings.check_new().map_err(invalid)?;
        self.write(&call, "rotation", Command::SetKeyRotation { settings })
            .await?;
        let applied: KeyRotationSettings = call.node.snapshot().borrow().key_ring().rotation;
        Ok(Response::new(convert::schedule(&applied)))
    }

    async fn revoke_role_sessions(
        &self,
        request: Request<pb::AdminRevokeRoleSessionsRequest>,
    ) -> Result<Response<pb::AdminRevocationResponse>, Status> {
        let message = request.get_ref().clone();
        let account_id = AccountId::parse(&message.account_id)
            .map_err(|e| invalid(format!("account_id: {e}")))?;
        let call = self.begin(&request, "RevokeRoleSessions", |snapshot| {
            let role = snapshot
                .role(&account_id, &message.role_name)
                .ok_or_else(|| {
                    admin_status(
                        tonic::Code::NotFound,
                        "NoSuchEntity",
                        format!("the role with name {} cannot be found", message.role_name),
                    )
                })?;
            Ok(Scope::Account {
                account: account_id,
                arn: role.arn(snapshot.partition(), &account_id),
            })
        })?;
        let issued_before = if message.issued_before_ms == 0 {
            call.now
        } else {
            Timestamp::from_unix_millis(message.issued_before_ms)
        };
        self.write(
            &call,
            "revoke-role",
            Command::RevokeRoleSessions {
                account_id,
                role_name: message.role_name,
                issued_before,
            },
        )
        .await?;
        Ok(Response::new(revocation_answer(&call.node, issued_before)))
    }

    async fn revoke_session(
        &self,
        request: Request<pb::AdminRevokeSessionRequest>,
    ) -> Result<Response<pb::AdminRevocationResponse>, Status> {
        let call = self.begin(&request, "RevokeSession", cluster)?;
        let message = request.into_inner();
        if message.session_id.is_empty() || message.session_id.len() > 128 {
            return Err(invalid("session_id must be 1 to 128 characters"));
        }
        let expires_at = if message.expires_at_ms == 0 {
            let lifetime = call.snapshot.key_ring().rotation.max_token_lifetime_ms;
            call.now
                .plus_millis(i64::try_from(lifetime).unwrap_or(i64::MAX))
        } else {
            Timestamp::from_unix_millis(message.expires_at_ms)
        };
        self.write(
            &call,
            "revoke-session",
            Command::DenySession {
                session_id: message.session_id,
                expires_at,
            },
        )
        .await?;
        Ok(Response::new(revocation_answer(&call.node, call.now)))
    }

    async fn disable_access_key(
        &self,
        request: Request<pb::AdminDisableAccessKeyRequest>,
    ) -> Result<Response<pb::AdminRevocationResponse>, Status> {
        let key_id = request.get_ref().access_key_id.clone();
        let mut owner = None;
        let call = self.begin(&request, "DisableAccessKey", |snapshot| {
            let entry = snapshot.access_key(&key_id).ok_or_else(|| {
                admin_status(
                    tonic::Code::NotFound,
                    "NoSuchEntity",
                    format!("the access key {key_id} cannot be found"),
                )
            })?;
            let account = entry.account.account.id;
            owner = Some((account, entry.user.name.clone()));
            Ok(Scope::Account {
                account,
                arn: entry.user.arn(snapshot.partition(), &account),
            })
        })?;
        let Some((account_id, user_name)) = owner else {
            return Err(admin_status(
                tonic::Code::NotFound,
                "NoSuchEntity",
                "no such access key",
            ));
        };
        self.write(
            &call,
            "disable-key",
            Command::UpdateAccessKey {
                account_id,
                user_name: Some(user_name),
                access_key_id: key_id,
                status: AccessKeyStatus::Inactive,
            },
        )
        .await?;
        Ok(Response::new(revocation_answer(&call.node, call.now)))
    }

    async fn trigger_snapshot(
        &self,
        request: Request<pb::AdminTriggerSnapshotRequest>,
    ) -> Result<Response<pb::AdminTriggerSnapshotResponse>, Status> {
        let call = self.begin(&request, "TriggerSnapshot", cluster)?;
        let raft = call.node.raft();
        raft.trigger().snapshot().await.map_err(|e| {
            admin_status(
                tonic::Code::Unavailable,
                "ServiceUnavailable",
                e.to_string(),
            )
        })?;
        let applied = call.snapshot.applied_index();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let last = loop {
            let last = raft.metrics().borrow_watched().snapshot.map(|s| s.index);
            if last.is_some_and(|index| index >= applied) || tokio::time::Instant::now() >= deadline
            {
                break last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Ok(Response::new(pb::AdminTriggerSnapshotResponse {
            last_snapshot_index: last,
        }))
    }

    type BackupStream = BackupStream;

    async fn backup(
        &self,
        request: Request<pb::AdminBackupRequest>,
    ) -> Result<Response<BackupStream>, Status> {
        let call = self.begin(&request, "Backup", cluster)?;
        let data = backup_bytes(&call.snapshot)?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
        let header = pb::AdminBackupHeader {
            magic: String::from(BACKUP_MAGIC),
            format_version: BACKUP_FORMAT_VERSION,
            applied_index: call.snapshot.applied_index(),
            taken_at_ms: call.now.unix_millis(),
            kek_fingerprint: self.inner.auth.keys().kek().fingerprint().to_string(),
            size: u64::try_from(data.len()).unwrap_or(u64::MAX),
            sha256: digest.as_ref().to_vec(),
            source_node_id: call.node.id(),
        };
        let mut chunks = vec![Ok(pb::AdminBackupChunk {
            payload: Some(pb::admin_backup_chunk::Payload::Header(header)),
        })];
        for piece in data.chunks(BACKUP_CHUNK) {
            chunks.push(Ok(pb::AdminBackupChunk {
                payload: Some(pb::admin_backup_chunk::Payload::Data(piece.to_vec())),
            }));
        }
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }

    async fn restore(
        &self,
        request: Request<tonic::Streaming<pb::AdminBackupChunk>>,
    ) -> Result<Response<pb::AdminRestoreResponse>, Status> {
        let (metadata, _, mut stream) = request.into_parts();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| invalid("the restore stream is empty"))?;
        let call = self.begin_signed(&metadata, &message_sha256(&first), "Restore", cluster)?;
        let Some(pb::admin_backup_chunk::Payload::Header(header)) = first.payload else {
            return Err(invalid(
                "the restore stream must start with the backup header",
            ));
        };
        if header.magic != BACKUP_MAGIC || header.format_version != BACKUP_FORMAT_VERSION {
            return Err(invalid("not a Meridian backup of a known format"));
        }
        let own = self.inner.auth.keys().kek().fingerprint().to_string();
        if header.kek_fingerprint != own {
            return Err(admin_status(
                tonic::Code::FailedPrecondition,
                "PreconditionFailed",
                format!(
                    "the backup's secrets are sealed under KEK {}, this cluster's is {own}: start the cluster with the backup's KEK",
                    header.kek_fingerprint
                ),
            ));
        }
        let size = usize::try_from(header.size).unwrap_or(usize::MAX);
        if size > MAX_RESTORE_BYTES {
            return Err(invalid(format!(
                "backups larger than {MAX_RESTORE_BYTES} bytes cannot be restored"
            )));
        }
        let mut data = Vec::with_capacity(size);
        while let Some(chunk) = stream.message().await? {
            match chunk.payload {
                Some(pb::admin_backup_chunk::Payload::Data(bytes))
                    if data.len() + bytes.len() <= size =>
                {
                    data.extend_from_slice(&bytes);
                }
                _ => {
                    return Err(invalid(
                        "unexpected chunk or more data than the header declares",
                    ));
                }
            }
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
        if data.len() != size || digest.as_ref() != header.sha256.as_slice() {
            return Err(invalid(
                "the backup data does not match its header (size or SHA-256)",
            ));
        }
        let encoded = pb::ConfigStateSnapshot::decode(data.as_slice())
            .map_err(|e| invalid(format!("the backup does not decode: {e}")))?;
        let state = meridian_proto::pb_impl::impl_config_state::state_from_pb(encoded)
            .map_err(|e| invalid(format!("the backup is not a valid state: {e}")))?;
        let account_count = u32::try_from(state.view().accounts().count()).unwrap_or(u32::MAX);
        let key_count = u32::try_from(state.view().key_ring().keys.len()).unwrap_or(u32::MAX);
        self.write(
            &call,
            "restore",
            Command::RestoreState {
                state: Box::new(state),
            },
        )
        .await?;
        tracing::warn!(
            applied_index = header.applied_index,
            source_node = header.source_node_id,
            by = %call.caller.principal.arn(call.snapshot.partition()),
            "configuration restored from a backup"
        );
        Ok(Response::new(pb::AdminRestoreResponse {
            applied_index: call.node.snapshot().borrow().applied_index(),
            account_count,
            key_count,
        }))
    }
}

/// The encoded replicated state of `snapshot` (without the request log,
/// which only deduplicates retries within a cluster).
pub fn backup_bytes(snapshot: &ConfigSnapshot) -> Result<Vec<u8>, Status> {
    let parts = ConfigStateParts {
        partition: snapshot.partition().clone(),
        clock: snapshot.clock(),
        applied_index: snapshot.applied_index(),
        accounts: snapshot.accounts().cloned().collect(),
        key_ring: snapshot.key_ring().clone(),
        regions: snapshot.regions().clone(),
        revocations: snapshot.revocations().clone(),
        nodes: snapshot.nodes().clone(),
        requests: Vec::new(),
    };
    let state = ConfigState::from_parts(parts)
        .map_err(|e| admin_status(tonic::Code::Internal, "InternalFailure", e.to_string()))?;
    Ok(state_to_pb(&state).encode_to_vec())
}

fn region_answer(node: &Node, name: &str) -> Result<Response<pb::AdminRegion>, Status> {
    let snapshot = node.snapshot().borrow().clone();
    convert::regions(&snapshot)
        .into_iter()
        .find(|region| region.name == name)
        .map(Response::new)
        .ok_or_else(|| {
            admin_status(
                tonic::Code::NotFound,
                "NoSuchEntity",
                format!("no region {name}"),
            )
        })
}

fn revocation_answer(node: &Node, effective_at: Timestamp) -> pb::AdminRevocationResponse {
    pb::AdminRevocationResponse {
        applied_index: node.snapshot().borrow().applied_index(),
        effective_at_ms: effective_at.unix_millis(),
    }
}

fn unexpected(response: &CommandResponse) -> Status {
    tracing::error!(?response, "unexpected command response");
    admin_status(
        tonic::Code::Internal,
        "InternalFailure",
        "unexpected response",
    )
}

/// IAM-style names: 1 to 64 characters of `A-Za-z0-9+=,.@_-`.
fn check_name(field: &str, name: &str) -> Result<(), Status> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be 1 to 64 characters of A-Z, a-z, 0-9 and +=,.@_-"
        )))
    }
}

/// A fresh 12-digit account id (no leading zero) not in use.
fn new_account_id(
    snapshot: &ConfigSnapshot,
    rng: &mut dyn RandomSource,
) -> Result<AccountId, Status> {
    for _ in 0..16 {
        let mut draw = [0u8; 8];
        rng.fill(&mut draw)
            .map_err(|e| admin_status(tonic::Code::Internal, "InternalFailure", e.to_string()))?;
        let number = 100_000_000_000 + u64::from_be_bytes(draw) % 900_000_000_000;
        let id = AccountId::from_u64(number)
            .map_err(|e| admin_status(tonic::Code::Internal, "InternalFailure", e.to_string()))?;
        if snapshot.account(&id).is_none() {
            return Ok(id);
        }
    }
    Err(admin_status(
        tonic::Code::Internal,
        "InternalFailure",
        "no free account id",
    ))
}
