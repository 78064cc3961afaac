//! A user-space L4 proxy with per-link faults, after etcd's
//! `pkg/proxy/server.go`.
//!
//! * blackhole: bytes in both directions are read and dropped, and the
//!   connections stay open: to the peers this looks like a network
//!   partition (calls time out), not like a refused connection;
//! * delay: every chunk is held for a fixed time before it is forwarded;
//! * reset: every open connection is cut at once (a broken TCP stream);
//!   dropping bytes inside a stream would corrupt HTTP/2 framing, so
//!   "connection broken" is the only loss this proxy models.
//!
//! It listens on 127.0.0.1 only and stops when dropped.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

#[derive(Debug, Default)]
struct Faults {
    blackhole: AtomicBool,
    delay_millis: AtomicU64,
    connections: Mutex<Vec<AbortHandle>>,
}

/// A proxy in front of one target address, with faults set at run time.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) forwarding to `target`.
    pub async fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(Faults::default());
        let accept_faults = Arc::clone(&faults);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                let faults = Arc::clone(&accept_faults);
                let connection = tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    let up = pump(in_read, out_write, Arc::clone(&faults));
                    let down = pump(out_read, in_write, faults);
                    tokio::join!(up, down);
                });
                let mut connections = accept_faults
                    .connections
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                connections.retain(|handle| !handle.is_finished());
                connections.push(connection.abort_handle());
            }
        });
        Ok(FaultProxy {
            addr,
            faults,
            accept,
        })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops (or stops dropping) everything on this link.
    pub fn set_blackhole(&self, on: bool) {
        self.faults.blackhole.store(on, Ordering::SeqCst);
    }

    /// Whether the link is blackholed.
    pub fn is_blackholed(&self) -> bool {
        self.faults.blackhole.load(Ordering::SeqCst)
    }

    /// Holds every chunk for `delay` before forwarding it.
    pub fn set_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.faults.delay_millis.store(millis, Ordering::SeqCst);
    }

    /// Cuts every open connection.
    pub fn reset(&self) {
        let mut connections = self
            .faults
            .connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for connection in connections.drain(..) {
            connection.abort();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.reset();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: Arc<Faults>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if faults.blackhole.load(Ordering::SeqCst) {
            continue;
        }
        let delay = faults.delay_millis.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while let Ok(read) = stream.read(&mut buffer).await {
                        if read == 0 || stream.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
        stream.write_all(b"ping").await.ok()?;
        let mut buffer = [0u8; 4];
        match tokio::time::timeout(within, stream.read_exact(&mut buffer)).await {
            Ok(Ok(_)) => Some(buffer.to_vec()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn forwards_blackholes_delays_and_resets() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(
            round_trip(&mut stream, Duration::from_secs(2)).await,
            Some(b"ping".to_vec())
        );

        proxy.set_blackhole(true);
        assert_eq!(
            round_trip(&mut stream, Duration::from_millis(200)).await,
            None
        );
        proxy.set_blackhole(false);

        proxy.set_delay(Duration::from_millis(150));
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(
            round_trip(&mut fresh, Duration::from_secs(2)).await,
            Some(b"ping".to_vec())
        );
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        proxy.set_delay(Duration::ZERO);

        proxy.reset();
        let mut buffer = [0u8; 4];
        let closed = tokio::time::timeout(Duration::from_secs(2), fresh.read(&mut buffer)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
    }
}
