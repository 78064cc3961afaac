//! A long-lived bidirectional stream to one node, shared by many tasks.
//!
//! Unary gRPC calls each cost a new HTTP/2 stream (HEADERS both ways,
//! trailers, a task on the server); a stream pays that once and then carries
//! one small message per call each way. [`StreamSession`] lets any number of
//! tasks issue calls concurrently over one stream: each call gets an id, is
//! queued to the writer, and its result is routed back by id by one reader
//! task.
//!
//! ```text
//!  task ─call(id)─► mpsc ─► request stream ══ HTTP/2 ══► node
//!  task ◄─oneshot── pending[id] ◄─ reader task ◄─ result stream
//! ```
//!
//! A session is bound to one node and is not retried: when the stream ends
//! or breaks, every pending and later call fails `Unavailable`, and the
//! caller opens a new session (`VerifierClient::open_stream`), which picks a
//! node again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use meridian_proto::pb;
use meridian_proto::pb::verifier_client::VerifierClient as RawClient;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::error::VerifyError;
use crate::{Authenticated, Authorization, ClientConfig, ContextEntry, SignedRequest};

/// Calls queued to the writer before `call` waits.
const QUEUE: usize = 1024;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<pb::VerifierResult>>>>;

/// A bidirectional stream to one node. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct StreamSession {
    outbound: mpsc::Sender<pb::VerifierCall>,
    pending: Pending,
    next_id: AtomicU64,
    closed: Arc<AtomicBool>,
    reader: JoinHandle<()>,
    config: ClientConfig,
}

impl Drop for StreamSession {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn closed_error() -> VerifyError {
    VerifyError::Unavailable {
        attempts: 1,
        last: String::from("the verifier stream is closed"),
    }
}

impl StreamSession {
    pub(crate) async fn open(
        mut client: RawClient<Channel>,
        config: ClientConfig,
    ) -> Result<StreamSession, tonic::Status> {
        let (outbound, receiver) = mpsc::channel(QUEUE);
        let response = client
            .stream(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await?;
        let mut inbound = response.into_inner();
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let reader = {
            let pending = Arc::clone(&pending);
            let closed = Arc::clone(&closed);
            tokio::spawn(async move {
                loop {
                    match inbound.message().await {
                        Ok(Some(result)) => {
                            let waiter = pending
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .remove(&result.id);
                            if let Some(waiter) = waiter {
                                let _ = waiter.send(result);
                            }
                        }
                        Ok(None) => break,
                        Err(status) => {
                            tracing::debug!(code = ?status.code(), "verifier stream broke");
                            break;
                        }
                    }
                }
                closed.store(true, Ordering::Release);
                // Dropping the senders fails every waiting call.
                pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
            })
        };
        Ok(StreamSession {
            outbound,
            pending,
            next_id: AtomicU64::new(1),
            closed,
            reader,
            config,
        })
    }

    /// Whether the stream has ended (every call now fails).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Sends one call (its `id` is replaced) and waits for its result, at
    /// most the client's deadline.
    pub async fn call(
        &self,
        call: pb::verifier_call::Call,
    ) -> Result<pb::verifier_result::Result, VerifyError> {
        if self.is_closed() {
            return Err(closed_error());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, sender);
        let message = pb::VerifierCall {
            id,
            call: Some(call),
        };
        let forget = || {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
        };
        if self.outbound.send(message).await.is_err() {
            forget();
            return Err(closed_error());
        }
        match tokio::time::timeout(self.config.deadline, receiver).await {
            Ok(Ok(result)) => result.result.ok_or_else(closed_error),
            Ok(Err(_)) => Err(closed_error()),
            Err(_) => {
                forget();
                Err(VerifyError::Unavailable {
                    attempts: 1,
                    last: String::from("deadline exceeded waiting on the verifier stream"),
                })
            }
        }
    }

    /// `AuthenticateAndAuthorize` over the stream.
    pub async fn authenticate_and_authorize(
        &self,
        request: &SignedRequest,
        action: &str,
        resource: &str,
        context: &[ContextEntry],
    ) -> Result<(Authenticated, Authorization), VerifyError> {
        let call = pb::verifier_call::Call::AuthenticateAndAuthorize(request.to_decision_message(
            &self.config.service,
            &self.config.region,
            action,
            resource,
            context,
        ));
        match self.call(call).await? {
            pb::verifier_result::Result::AuthenticateAndAuthorize(response) => {
                match (response.authentication, response.authorization) {
                    (Some(authentication), Some(authorization)) => Ok((
                        Authenticated::from_message(authentication),
                        Authorization::from_message(&authorization),
                    )),
                    _ => Err(closed_error()),
                }
            }
            other => Err(unexpected(other)),
        }
    }

    /// `Authenticate` over the stream.
    pub async fn authenticate(
        &self,
        request: &SignedRequest,
    ) -> Result<Authenticated, VerifyError> {
        let call = pb::verifier_call::Call::Authenticate(
            request.to_message(&self.config.service, &self.config.region),
        );
        match self.call(call).await? {
            pb::verifier_result::Result::Authenticate(response) => {
                Ok(Authenticated::from_message(response))
            }
            other => Err(unexpected(other)),
        }
    }
}

/// A result of the wrong kind: an error result becomes its rejection.
fn unexpected(result: pb::verifier_result::Result) -> VerifyError {
    match result {
        pb::verifier_result::Result::Error(error) => VerifyError::Rejected {
            grpc: tonic::Code::from_i32(error.grpc_code),
            code: error.code,
            message: error.message,
        },
        _ => VerifyError::Unavailable {
            attempts: 1,
            last: String::from("the verifier answered a different call"),
        },
    }
}
