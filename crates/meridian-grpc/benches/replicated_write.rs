//! Replicated configuration write latency and throughput on a 3-node
//! cluster over real gRPC on loopback, with synced Raft log writes, next to
//! the two costs it is bounded by: one fsync on the same disk and one
//! loopback round trip.
//!
//! `cargo bench -p meridian-grpc --bench replicated_write` measures (1000
//! sequential writes per path, 3 s of 32 concurrent writers); in test mode
//! (`cargo test --all-targets`, no `--bench` argument) it runs a few writes.
//! Goal (DESIGN.md): p50 within 2× of one fsync plus one round trip.
#![allow(clippy::print_stdout)]

#[path = "support/etcd.rs"]
mod etcd;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use meridian_core::config::command::Command;
use meridian_core::config::model::Tags;
use meridian_core::ids::AccountId;
use meridian_grpc::timings::RaftTimings;
use meridian_test_support::cluster::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Accounts written into; roles are spread over them because an account
/// holds at most 1000 roles (the IAM quota).
const ACCOUNTS: u64 = 30;
const ROLES_PER_ACCOUNT: u64 = 900;

fn account(n: u64) -> AccountId {
    AccountId::from_u64(500_000_000_000 + n).expect("account id")
}

/// A role write of about the size of a real CreateRole (~600 bytes).
fn role(n: u64) -> Command {
    Command::CreateRole {
        account_id: account((n / ROLES_PER_ACCOUNT) % ACCOUNTS),
        role_name: format!("bench-role-{n}"),
        path: String::from("/bench/"),
        role_id: format!("AROA{n:016}"),
        trust_policy: meridian_store::testing::trust_policy(n),
        description: String::from("replicated write benchmark"),
        max_session_duration: None,
        permissions_boundary: None,
        tags: Tags::new(),
    }
}

/// A quantile of a histogram of nanoseconds, in milliseconds.
fn millis(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1_000_000.0
}

fn report(name: &str, histogram: &Histogram<u64>) {
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        histogram.len(),
        millis(histogram, 0.5),
        millis(histogram, 0.99),
        histogram.max() as f64 / 1_000_000.0
    );
}

/// p50 of `fdatasync` after a small append, on the same filesystem.
fn fsync_histogram(samples: u64) -> Histogram<u64> {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mut file = std::fs::File::create(dir.path().join("wal")).expect("create");
    let mut histogram = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..samples {
        let started = Instant::now();
        file.write_all(&[0x5a; 600]).expect("write");
        file.sync_data().expect("sync");
        let _ = histogram.record(started.elapsed().as_nanos() as u64);
    }
    histogram
}

/// Loopback TCP round trip of a small message.
async fn rtt_histogram(samples: u64) -> Histogram<u64> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        if let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let mut buffer = [0u8; 64];
            while let Ok(read) = stream.read(&mut buffer).await {
                if read == 0 || stream.write_all(&buffer[..read]).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut histogram = Histogram::<u64>::new(3).expect("histogram");
    let mut buffer = [0u8; 64];
    for _ in 0..samples {
        let started = Instant::now();
        stream.write_all(&[1u8; 64]).await.expect("write");
        stream.read_exact(&mut buffer).await.expect("read");
        let _ = histogram.record(started.elapsed().as_nanos() as u64);
    }
    histogram
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let sequential: u64 = if full { 1000 } else { 20 };
    let concurrent_for = if full {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(300)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let fsync = fsync_histogram(if full { 500 } else { 10 });
        report("fsync (600 B append + fdatasync)", &fsync);
        let rtt = rtt_histogram(if full { 2000 } else { 20 }).await;
        report("loopback TCP round trip", &rtt);

        let mut timings = RaftTimings::loopback();
        timings.snapshot_every = 100_000;
        let cluster = TestCluster::start(3, timings).await;
        let leader = cluster.leader(Duration::from_secs(10)).await.expect("leader");
        let follower = cluster.running().into_iter().find(|id| *id != leader).expect("follower");
        for a in 0..ACCOUNTS {
            cluster
                .node(leader)
                .write(cluster.request(Command::CreateAccount {
                    account_id: account(a),
                    name: format!("bench-{a}"),
                }))
                .await
                .expect("account");
        }
        let mut n = 0u64;
        for (label, via) in [("replicated write via leader", leader), ("replicated write via follower (forwarded)", follower)] {
            let node = cluster.node(via);
            for _ in 0..20 {
                n += 1;
                node.write(cluster.request(role(n))).await.expect("warm-up write");
            }
            let mut histogram = Histogram::<u64>::new(3).expect("histogram");
            for _ in 0..sequential {
                n += 1;
                let request = cluster.request(role(n));
                let started = Instant::now();
                node.write(request).await.expect("write");
                let _ = histogram.record(started.elapsed().as_nanos() as u64);
            }
            report(label, &histogram);
        }

        // Throughput: 32 writers on the leader for a fixed time.
        let node = cluster.node(leader);
        let cluster = Arc::new(cluster);
        let started = Instant::now();
        let mut writers = Vec::new();
        for w in 0..32u64 {
            let node = Arc::clone(&node);
            let cluster = Arc::clone(&cluster);
            writers.push(tokio::spawn(async move {
                let mut done = 0u64;
                let mut k = 0u64;
                while started.elapsed() < concurrent_for {
                    k += 1;
                    let id = 3_000 + w * 700 + k;
                    if node.write(cluster.request(role(id))).await.is_ok() {
                        done += 1;
                    }
                }
                done
            }));
        }
        let mut total = 0u64;
        for writer in writers {
            total += writer.await.expect("writer");
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "throughput, 32 concurrent writers on the leader: {total} writes in {elapsed:.2} s = {:.0} writes/s",
            total as f64 / elapsed
        );
        let goal = 2.0 * (millis(&fsync, 0.5) + millis(&rtt, 0.5));
        println!("goal: p50 <= 2 x (fsync p50 + RTT p50) = {goal:.2} ms");
        match Arc::try_unwrap(cluster) {
            Ok(mut cluster) => cluster.shutdown().await,
            Err(_) => println!("cluster still shared; dropping"),
        }

        if full && etcd::available() {
            compare_with_etcd(sequential, concurrent_for).await;
        } else {
            println!("etcd: skipped (test mode, or no etcd binary on PATH)");
        }
    });
}

/// The same workload against a 3-member etcd 3.4 cluster on loopback:
/// puts of the same size as the role writes above, through etcd's HTTP/JSON
/// gateway (which forwards to the leader like our followers do).
async fn compare_with_etcd(sequential: u64, concurrent_for: Duration) {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let etcd = Arc::new(etcd::Etcd::start(dir.path()).await);
    let value = meridian_store::testing::trust_policy(1).into_bytes();
    let value = [value.as_slice(), &[0x20; 200]].concat();
    let (leader, follower) = etcd.leader_and_follower().await;
    let mut n = 0u64;
    for (label, endpoint) in [
        ("etcd 3.4 put via leader", &leader),
        ("etcd 3.4 put via follower", &follower),
    ] {
        for _ in 0..20 {
            n += 1;
            etcd.put(endpoint, &format!("warm/{n}"), &value)
                .await
                .expect("etcd put");
        }
        let mut histogram = Histogram::<u64>::new(3).expect("histogram");
        for _ in 0..sequential {
            n += 1;
            let started = Instant::now();
            etcd.put(endpoint, &format!("key/{n}"), &value)
                .await
                .expect("etcd put");
            let _ = histogram.record(started.elapsed().as_nanos() as u64);
        }
        report(label, &histogram);
    }
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..32u64 {
        let etcd = Arc::clone(&etcd);
        let endpoint = leader.clone();
        let value = value.clone();
        writers.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut k = 0u64;
            while started.elapsed() < concurrent_for {
                k += 1;
                if etcd
                    .put(&endpoint, &format!("load/{w}/{k}"), &value)
                    .await
                    .is_ok()
                {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut total = 0u64;
    for writer in writers {
        total += writer.await.expect("writer");
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "etcd throughput, 32 concurrent writers on the leader: {total} puts in {elapsed:.2} s = {:.0} puts/s",
        total as f64 / elapsed
    );
}
