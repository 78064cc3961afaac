//! The HTTP client: hyper-util's pooled client over plain TCP, HTTP/1.1 with
//! keep-alive, Nagle off.
//!
//! One client is shared by every request of a run. The pool keeps up to
//! `max_idle_per_host` idle connections per endpoint, so a closed loop of N
//! workers settles on N connections and an open loop on as many as it has
//! requests in flight; connections are reused, never opened per request
//! (which would measure the TCP handshake and the server's accept path
//! instead of the operation). HTTP/1.1 rather than HTTP/2 because that is
//! what the AWS SDKs and the OpenBao client use against these endpoints.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::engine::{CallFuture, Outcome, Target};

/// The shared client type.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Answers larger than this are cut off and reported as `body-too-large`.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Builds the client; `max_idle_per_host` should be at least the run's
/// concurrency.
pub fn client(max_idle_per_host: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    connector.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(max_idle_per_host)
        .build(connector)
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No connection could be made.
    Connect,
    /// The connection failed or the answer could not be read.
    Io,
    /// The answer exceeded [`MAX_ANSWER_BYTES`].
    TooLarge,
}

impl SendError {
    /// The error code a summary counts this under.
    pub fn code(&self) -> &'static str {
        match self {
            SendError::Connect => "connect",
            SendError::Io => "io",
            SendError::TooLarge => "body-too-large",
        }
    }
}

/// Sends `request` and reads the whole answer.
pub async fn send(
    client: &HttpClient,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), SendError> {
    let response = client.request(request).await.map_err(|error| {
        if error.is_connect() {
            SendError::Connect
        } else {
            SendError::Io
        }
    })?;
    let status = response.status();
    let limited = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok((status, collected.to_bytes())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(SendError::TooLarge),
        Err(_) => Err(SendError::Io),
    }
}

/// A workload spoken over HTTP: how to build request `seq` and how to read
/// its answer.
pub trait HttpWorkload: Send + Sync + 'static {
    /// Builds (and signs, if it must) request `seq`.
    fn request(&self, seq: u64) -> anyhow::Result<Request<Full<Bytes>>>;
    /// Classifies the answer to request `seq`.
    fn classify(&self, seq: u64, status: StatusCode, body: &[u8]) -> Outcome;
}

/// An [`HttpWorkload`] sent with the shared client.
#[derive(Debug)]
pub struct HttpTarget<W> {
    client: HttpClient,
    workload: Arc<W>,
}

impl<W: HttpWorkload> HttpTarget<W> {
    /// The target.
    pub fn new(client: HttpClient, workload: W) -> HttpTarget<W> {
        HttpTarget {
            client,
            workload: Arc::new(workload),
        }
    }
}

impl<W: HttpWorkload> Target for HttpTarget<W> {
    fn call(&self, seq: u64) -> CallFuture {
        let client = self.client.clone();
        let workload = Arc::clone(&self.workload);
        Box::pin(async move {
            // Built (and signed) here, when the request is sent, as an SDK does.
            let request = match workload.request(seq) {
                Ok(request) => request,
                Err(_) => return Outcome::error("cannot-build-request"),
            };
            match send(&client, request).await {
                Ok((status, body)) => workload.classify(seq, status, &body),
                Err(error) => Outcome::error(error.code()),
            }
        })
    }
}
