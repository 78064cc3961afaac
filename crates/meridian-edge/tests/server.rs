//! `serve()` on a loopback listener: slowloris protection (header read
//! timeout), normal service alongside it, and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use meridian_edge::server::{ServeConfig, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

async fn start(
    config: ServeConfig,
) -> (
    std::net::SocketAddr,
    Arc<Notify>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    let stop = Arc::new(Notify::new());
    let stopped = Arc::clone(&stop);
    let task = tokio::spawn(serve(listener, app, config, async move {
        stopped.notified().await
    }));
    (addr, stop, task)
}

async fn get_health(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let written = stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert!(written.is_ok());
    let mut response = String::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response)).await;
    assert!(read.is_ok(), "response in time");
    response
}

/// A client that trickles its request head is disconnected after the header
/// read timeout, while well-formed clients keep being served.
#[tokio::test]
async fn slow_headers_are_cut_off_and_others_still_served() {
    let config = ServeConfig {
        header_read_timeout: Duration::from_millis(300),
        max_connections: 64,
        drain_timeout: Duration::from_secs(2),
    };
    let (addr, stop, task) = start(config).await;

    let mut slow = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert!(
        slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
            .await
            .is_ok()
    );
    assert!(get_health(addr).await.starts_with("HTTP/1.1 200"));

    let started = tokio::time::Instant::now();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buffer)).await;
    assert!(
        closed.is_ok(),
        "the slow connection was closed by the server"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    stop.notify_one();
    assert!(
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .is_ok(),
        "serve returns after shutdown"
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}
