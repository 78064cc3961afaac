//! Serving the router on a listener: the connection-level protections that
//! tower layers cannot give.
//!
//! * **Header read timeout** (hyper's `header_read_timeout`): a client that
//!   trickles its request head (slowloris, RELIABILITY.md b.3) is
//!   disconnected instead of holding a connection forever.
//! * **Connection cap**: at most `max_connections` open at once; the accept
//!   loop waits for a free slot, so a flood of idle sockets cannot exhaust
//!   file descriptors or memory.
//! * **Graceful shutdown**: when `shutdown` resolves, the loop stops
//!   accepting, in-flight requests finish (bounded by `drain_timeout`), and
//!   keep-alive connections are closed after their current response.
//!
//! HTTP/1.1 only: the AWS SDKs and the CLI speak HTTP/1.1 to STS and IAM.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Connection-level settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeConfig {
    /// Time allowed for a request head to arrive completely.
    pub header_read_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Time allowed for in-flight requests after shutdown begins.
    pub drain_timeout: Duration,
}

impl ServeConfig {
    /// Defaults for a 2-core node: 5 s for headers (SDKs send them in one
    /// write), 4,096 connections, 10 s drain.
    pub const RECOMMENDED: ServeConfig = ServeConfig {
        header_read_timeout: Duration::from_secs(5),
        max_connections: 4096,
        drain_timeout: Duration::from_secs(10),
    };
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors and the like: back off briefly
                    // rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(config.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timed out; closing remaining connections");
    }
}

/// The peer address type inserted into request extensions.
pub type PeerAddr = ConnectInfo<SocketAddr>;

// `service_fn` needs the error type spelled out somewhere for inference in
// some toolchains; keep the router's infallibility explicit.
const _: fn() = || {
    fn assert_infallible<S: tower::Service<axum::extract::Request, Error = Infallible>>() {}
    assert_infallible::<Router>();
};
