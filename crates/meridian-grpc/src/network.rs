//! The client side of the Raft transport: openraft's `RaftNetworkV2` over
//! tonic.
//!
//! One lazily connected channel per peer address, shared by every
//! replication stream and by write forwarding ([`PeerPool`]): a node starts
//! before its peers are up, and a dead peer costs a refused connection, not a
//! hang. Every call has a deadline (the smaller of openraft's TTL and
//! [`RaftTimings::rpc_timeout`]), messages are capped at
//! [`MAX_MESSAGE_BYTES`], and snapshots travel in [`SNAPSHOT_CHUNK_BYTES`]
//! chunks after a header carrying their size and build-time SHA-256.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_core::config::cluster::NodeInfo;
use meridian_proto::pb;
use meridian_proto::pb::raft_service_client::RaftServiceClient;
use meridian_store::codec;
use meridian_store::snapshot_data::SnapshotData;
use meridian_store::state_machine::snapshot_meta_to_pb;
use meridian_store::type_config::{NodeId, Snapshot, TypeConfig, Vote};
use openraft::error::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use tonic::transport::{Channel, Endpoint};

use crate::timings::{MAX_MESSAGE_BYTES, RaftTimings, SNAPSHOT_CHUNK_BYTES};

/// Maps a peer's advertised Raft address to the address to dial. Production
/// dials the advertised address; tests route each directed link through its
/// own fault proxy.
pub type AddressResolver = Arc<dyn Fn(NodeId, &str) -> String + Send + Sync>;

/// Lazily connected channels to peers, by dialled address.
#[derive(Clone)]
pub struct PeerPool {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    resolver: Option<AddressResolver>,
    timings: RaftTimings,
}

impl fmt::Debug for PeerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerPool").finish_non_exhaustive()
    }
}

impl PeerPool {
    /// A pool dialling with these timings (and through `resolver`, if any).
    pub fn new(timings: RaftTimings, resolver: Option<AddressResolver>) -> PeerPool {
        PeerPool {
            channels: Arc::new(Mutex::new(HashMap::new())),
            resolver,
            timings,
        }
    }

    /// A client for peer `target` advertised at `addr`.
    pub fn client(
        &self,
        target: NodeId,
        addr: &str,
    ) -> Result<RaftServiceClient<Channel>, tonic::transport::Error> {
        let dial = match &self.resolver {
            Some(resolve) => resolve(target, addr),
            None => addr.to_owned(),
        };
        let channel = {
            let mut channels = self
                .channels
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match channels.get(&dial) {
                Some(channel) => channel.clone(),
                None => {
                    let channel = Endpoint::from_shared(dial.clone())?
                        .connect_timeout(self.timings.rpc_timeout)
                        .tcp_nodelay(true)
                        .http2_keep_alive_interval(Duration::from_secs(10))
                        .keep_alive_timeout(self.timings.rpc_timeout)
                        .connect_lazy();
                    channels.insert(dial, channel.clone());
                    channel
                }
            }
        };
        Ok(RaftServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// The pool's timings.
    pub fn timings(&self) -> &RaftTimings {
        &self.timings
    }
}

/// openraft's factory of peer connections.
#[derive(Debug, Clone)]
pub struct Network {
    id: NodeId,
    pool: PeerPool,
}

impl Network {
    /// The network of node `id`.
    pub fn new(id: NodeId, pool: PeerPool) -> Network {
        Network { id, pool }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> PeerConnection {
        PeerConnection {
            id: self.id,
            target,
            addr: node.raft_addr.clone(),
            pool: self.pool.clone(),
        }
    }
}

/// A connection to one peer.
#[derive(Debug)]
pub struct PeerConnection {
    id: NodeId,
    target: NodeId,
    addr: String,
    pool: PeerPool,
}

impl PeerConnection {
    fn client<E: std::error::Error>(
        &self,
    ) -> Result<RaftServiceClient<Channel>, RPCError<TypeConfig, E>> {
        self.pool
            .client(self.target, &self.addr)
            .map_err(|err| RPCError::Unreachable(Unreachable::new(&err)))
    }

    fn deadline(&self, option: &RPCOption) -> Duration {
        option.hard_ttl().min(self.pool.timings.rpc_timeout)
    }

    fn timeout(&self, action: RPCTypes, timeout: Duration) -> Timeout<TypeConfig> {
        Timeout {
            action,
            id: self.id,
            target: self.target,
            timeout,
        }
    }

    /// Runs one unary call under a deadline, mapping failures.
    async fn call<T, F>(
        &self,
        action: RPCTypes,
        deadline: Duration,
        call: F,
    ) -> Result<T, RPCError<TypeConfig>>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        match tokio::time::timeout(deadline, call).await {
            Err(_) => Err(RPCError::Timeout(self.timeout(action, deadline))),
            Ok(Err(status)) => Err(status_error(&status)),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }
}

fn request<T>(message: T, deadline: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    request
}

/// A failed RPC: transport failures and refusals by a not-yet-admitted peer
/// are "unreachable" (openraft backs off), the rest network errors.
fn status_error(status: &tonic::Status) -> RPCError<TypeConfig> {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled => {
            RPCError::Unreachable(Unreachable::new(status))
        }
        _ => RPCError::Network(NetworkError::new(status)),
    }
}

fn decode_error(err: &meridian_proto::error::DecodeError) -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(err))
}

impl RaftNetworkV2<TypeConfig> for PeerConnection {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let deadline = self.deadline(&option);
        let mut client = self.client()?;
        let message = codec::append_request_to_pb(&rpc);
        let response = self
            .call(
                RPCTypes::AppendEntries,
                deadline,
                client.append_entries(request(message, deadline)),
            )
            .await?;
        codec::append_response_from_pb(&response).map_err(|err| decode_error(&err))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let deadline = self.deadline(&option);
        let mut client = self.client()?;
        let message = codec::vote_request_to_pb(&rpc);
        let response = self
            .call(
                RPCTypes::Vote,
                deadline,
                client.vote(request(message, deadline)),
            )
            .await?;
        codec::vote_response_from_pb(&response).map_err(|err| decode_error(&err))
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let deadline = self.deadline(&option);
        let mut client = self.client()?;
        let message = codec::vote_request_to_pb(&rpc);
        let response = self
            .call(
                RPCTypes::Vote,
                deadline,
                client.pre_vote(request(message, deadline)),
            )
            .await?;
        codec::vote_response_from_pb(&response).map_err(|err| decode_error(&err))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let deadline = self.pool.timings.snapshot_timeout;
        let mut client = self
            .pool
            .client(self.target, &self.addr)
            .map_err(|err| StreamingError::Unreachable(Unreachable::new(&err)))?;
        let mut meta = snapshot_meta_to_pb(&snapshot.meta, &snapshot.snapshot);
        meta.vote = Some(codec::vote_to_pb(&vote));
        let mut chunks = vec![pb::SnapshotChunk {
            payload: Some(pb::snapshot_chunk::Payload::Meta(meta)),
        }];
        chunks.extend(
            snapshot
                .snapshot
                .bytes
                .chunks(SNAPSHOT_CHUNK_BYTES)
                .map(|chunk| pb::SnapshotChunk {
                    payload: Some(pb::snapshot_chunk::Payload::Data(chunk.to_vec())),
                }),
        );
        tracing::info!(
            target_node = self.target,
            bytes = snapshot.snapshot.bytes.len(),
            "sending snapshot"
        );
        let send = client.install_snapshot(request(futures::stream::iter(chunks), deadline));
        let response = tokio::select! {
            closed = cancel => return Err(StreamingError::Closed(closed)),
            result = tokio::time::timeout(deadline, send) => result,
        };
        match response {
            Err(_) => Err(StreamingError::Timeout(
                self.timeout(RPCTypes::InstallSnapshot, deadline),
            )),
            Ok(Err(status)) => match status.code() {
                tonic::Code::Unavailable => {
                    Err(StreamingError::Unreachable(Unreachable::new(&status)))
                }
                _ => Err(StreamingError::Network(NetworkError::new(&status))),
            },
            Ok(Ok(response)) => {
                let vote =
                    codec::required_vote("SnapshotResponse.vote", response.get_ref().vote.as_ref())
                        .map_err(|err| StreamingError::Network(NetworkError::new(&err)))?;
                Ok(SnapshotResponse::new(vote))
            }
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        let deadline = self.deadline(&option);
        let mut client = self.client()?;
        let message = pb::TransferLeaderRequest {
            from_leader: Some(codec::vote_to_pb(req.from_leader())),
            to_node_id: *req.to_node_id(),
            last_log_id: codec::opt_log_id_to_pb(req.last_log_id()),
        };
        self.call(
            RPCTypes::TransferLeader,
            deadline,
            client.transfer_leader(request(message, deadline)),
        )
        .await?;
        Ok(Ok(()))
    }
}
