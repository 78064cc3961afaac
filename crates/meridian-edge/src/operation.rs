//! The operation framework: a dispatch table from (service, action) to
//! handlers, and what a handler is given.
//!
//! By the time a handler runs, the edge has routed the request, authenticated
//! the caller (for signed operations), applied the per-key rate limit and
//! decoded and validated the input against the model, so a handler deals only
//! with semantics: it reads the [`OperationRequest`] and returns the content
//! of `{Op}Result` ([`XmlResult`]) or an [`ApiError`]. Handlers are registered
//! by name and checked against the model at registration, so a typo cannot
//! silently leave an operation unserved.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use meridian_core::config::snapshot::ConfigSnapshot;
use meridian_core::time::Timestamp;

use crate::audit::AuditScope;
use crate::decode::Structure;
use crate::error::ApiError;
use crate::model::{self, OperationModel, Service};
use crate::state::{BoxFuture, Caller, EdgeState};
use crate::xml::XmlResult;

/// Everything a handler gets.
#[derive(Debug)]
pub struct OperationRequest {
    /// The edge's state (writer, clock, random source, region).
    pub state: EdgeState,
    /// The id echoed in `ResponseMetadata` and `x-amzn-RequestId`.
    pub request_id: String,
    /// The operation's model row.
    pub operation: &'static OperationModel,
    /// The decoded, validated input (an empty structure for operations
    /// without input).
    pub input: Option<Structure>,
    /// The authenticated caller (`None` for unsigned operations).
    pub caller: Option<Caller>,
    /// The snapshot the request was authenticated against; handlers read this
    /// one rather than a newer one so a request sees one consistent view.
    pub snapshot: Arc<ConfigSnapshot>,
    /// The time the request is evaluated at.
    pub now: Timestamp,
    /// Audit events the handler produced (issuance, configuration changes);
    /// the router makes them durable before answering (see [`crate::audit`]).
    pub audit: Arc<AuditScope>,
}

/// A handler's future.
pub type HandlerFuture = BoxFuture<'static, Result<XmlResult, ApiError>>;

/// A handler.
pub type Handler = Arc<dyn Fn(OperationRequest) -> HandlerFuture + Send + Sync>;

/// Registration named an operation the model does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service:?} has no operation {action} in the served model")]
pub struct UnknownOperation {
    /// The service.
    pub service: Service,
    /// The action name.
    pub action: String,
}

/// The dispatch table.
#[derive(Clone, Default)]
pub struct HandlerTable {
    handlers: HashMap<(Service, &'static str), Handler>,
}

impl HandlerTable {
    /// An empty table: every modeled operation answers `NotImplemented`.
    pub fn new() -> HandlerTable {
        HandlerTable::default()
    }

    /// Serves `action` of `service` with `handler`.
    pub fn register<F, Fut>(
        &mut self,
        service: Service,
        action: &str,
        handler: F,
    ) -> Result<&mut HandlerTable, UnknownOperation>
    where
        F: Fn(OperationRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<XmlResult, ApiError>> + Send + 'static,
    {
        let op = model::operation(service, action).ok_or_else(|| UnknownOperation {
            service,
            action: action.to_owned(),
        })?;
        let handler: Handler = Arc::new(move |request| Box::pin(handler(request)));
        self.handlers.insert((service, op.name), handler);
        Ok(self)
    }

    /// The handler of `operation`, if registered.
    pub fn get(&self, operation: &OperationModel) -> Option<&Handler> {
        self.handlers.get(&(operation.service, operation.name))
    }

    /// The operations served, as `(service, action)`.
    pub fn served(&self) -> impl Iterator<Item = (Service, &'static str)> + '_ {
        self.handlers.keys().copied()
    }
}

impl fmt::Debug for HandlerTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut served: Vec<_> = self.served().collect();
        served.sort_by_key(|(service, action)| (*service as u8, *action));
        f.debug_struct("HandlerTable")
            .field("served", &served)
            .finish()
    }
}
