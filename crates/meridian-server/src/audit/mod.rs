//! The audit trail: append-only, hash-chained JSON lines on local disk,
//! written in group-committed batches that are fsynced before any request
//! they belong to is answered.
//!
//! ```text
//!  request tasks ── AuditLog::append(events) ──► bounded queue (buffer_requests)
//!       ▲  waits ≤ max_wait for space + sync              │
//!       │                                                  ▼
//!       └──── Ok / AuditError ◄── one writer thread: take everything queued
//!                                 (≤ MAX_BATCH), serialize with the chain,
//!                                 write, fdatasync, answer them all, rotate
//!                                 when the file is over max_file_bytes
//! ```
//!
//! **Where it lives.** In the server, behind `meridian_edge::audit::AuditSink`:
//! the edge decides what is audited and awaits the sink; it has no I/O of its
//! own beyond HTTP. The Admin API and anything else in the server that
//! changes configuration can hold the same [`AuditLog`].
//!
//! **Durability and fail-closed.** One OS thread does all file I/O (blocking
//! `write` + `fdatasync` never run on the async workers). Requests queue on a
//! bounded channel; a request that cannot enqueue, or whose batch is not
//! synced, within `max_wait` gets [`AuditError::Full`] / [`AuditError::Timeout`]
//! (the edge then withholds issued credentials: `ServiceUnavailable`). An
//! I/O error fails the whole batch; the file is cut back to its last synced
//! length so the next batch continues a valid chain. A record whose request
//! timed out may still reach the disk later: the trail may hold a record of
//! credentials that were never handed out, never the reverse.
//!
//! **Files.** `<dir>/audit-<seq of first record, 20 digits>.jsonl`; the one
//! with the highest number is current. A new file starts when the current
//! one exceeds `max_file_bytes`; the chain (`seq`, `prev`) runs on across
//! files. On start the writer reads the current file's last record to
//! continue the chain; a partial last line (a crash mid-write, never
//! acknowledged) is cut off. Old files are never deleted here: shipping and
//! retention are the operator's.

pub mod record;
pub mod verify;

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meridian_edge::audit::{AuditError, AuditEvent, AuditKind, AuditSink};
use meridian_edge::state::BoxFuture;
use tokio::sync::{mpsc, oneshot};

pub use self::record::{ChainHead, GENESIS, Origin};

/// Records per write at most (a batch is everything queued, up to this).
const MAX_BATCH: usize = 4096;

/// Metric names of the audit trail.
pub mod names {
    /// Requests waiting for the writer.
    pub const QUEUE_DEPTH: &str = "meridian_audit_queue_depth";
    /// Records made durable, by `type` (`issuance`, `config_change`).
    pub const RECORDS_TOTAL: &str = "meridian_audit_records_total";
    /// Batches written and synced.
    pub const BATCHES_TOTAL: &str = "meridian_audit_batches_total";
    /// Time to write and sync one batch.
    pub const SYNC_DURATION_SECONDS: &str = "meridian_audit_sync_duration_seconds";
    /// Appends that failed, by `reason` (`io`, `full`, `timeout`, `closed`).
    pub const FAILURES_TOTAL: &str = "meridian_audit_failures_total";
    /// 1 while the last batch was synced, 0 after a failed one.
    pub const HEALTHY: &str = "meridian_audit_healthy";
    /// Files started (rotations).
    pub const ROTATIONS_TOTAL: &str = "meridian_audit_rotations_total";
}

/// Settings of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The directory of the trail's files.
    pub dir: PathBuf,
    /// A new file starts once the current one is larger than this.
    pub max_file_bytes: u64,
    /// Requests that may wait for the writer at once.
    pub buffer_requests: usize,
    /// How long a request may wait for its records to be durable.
    pub max_wait: Duration,
}

impl AuditConfig {
    /// Defaults: 64 MiB files, 8192 waiting requests, 2 s.
    pub fn new(dir: PathBuf) -> AuditConfig {
        AuditConfig {
            dir,
            max_file_bytes: 64 * 1024 * 1024,
            buffer_requests: 8192,
            max_wait: Duration::from_secs(2),
        }
    }
}

/// Why the trail could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A file or directory operation failed.
    #[error("audit trail {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The current file's last record is not a valid record.
    #[error(
        "audit trail {path}: the last record cannot be read ({reason}); move the file aside to start a new chain"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

struct Pending {
    events: Vec<AuditEvent>,
    done: oneshot::Sender<Result<(), AuditError>>,
}

/// The handle requests append through (cheap to clone).
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Pending>,
    max_wait: Duration,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

/// The writer thread, to wait for at shutdown.
#[derive(Debug)]
pub struct AuditWriter {
    thread: std::thread::JoinHandle<()>,
}

impl AuditWriter {
    /// Waits (blocking) until the writer has synced everything queued and
    /// stopped, which it does once every [`AuditLog`] handle is dropped.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the audit writer thread panicked");
        }
    }
}

/// Opens the trail (continuing its chain) and starts the writer thread.
pub fn open(config: &AuditConfig, origin: Origin) -> Result<(AuditLog, AuditWriter), OpenError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| OpenError::Io { path, source }
    };
    create_private_dir(&config.dir).map_err(io_error(&config.dir))?;
    let files = list_files(&config.dir).map_err(io_error(&config.dir))?;
    let (head, current) = recover(&files)?;
    let segment = match current {
        Some(path) => Segment::open_existing(&path).map_err(io_error(&path))?,
        None => Segment::create(&config.dir, head.next_seq).map_err(io_error(&config.dir))?,
    };
    tracing::info!(
        dir = %config.dir.display(),
        file = %segment.path.display(),
        next_seq = head.next_seq,
        head = %head.hash,
        "audit trail opened"
    );
    let (queue, receiver) = mpsc::channel(config.buffer_requests.max(1));
    let writer = Writer {
        dir: config.dir.clone(),
        max_file_bytes: config.max_file_bytes,
        origin,
        head,
        segment,
        broken: false,
    };
    let thread = std::thread::Builder::new()
        .name(String::from("audit-writer"))
        .spawn(move || writer.run(receiver))
        .map_err(io_error(&config.dir))?;
    metrics::gauge!(names::HEALTHY).set(1.0);
    Ok((
        AuditLog {
            queue,
            max_wait: config.max_wait,
        },
        AuditWriter { thread },
    ))
}

impl AuditLog {
    /// Appends `events` and waits until they are durable, for at most the
    /// configured wait.
    pub async fn append_events(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        let deadline = tokio::time::Instant::now() + self.max_wait;
        let (done, answer) = oneshot::channel();
        let result = match tokio::time::timeout_at(
            deadline,
            self.queue.send(Pending { events, done }),
        )
        .await
        {
            Err(_) => Err(AuditError::Full),
            Ok(Err(_)) => Err(AuditError::Closed),
            Ok(Ok(())) => match tokio::time::timeout_at(deadline, answer).await {
                Err(_) => Err(AuditError::Timeout),
                Ok(Err(_)) => Err(AuditError::Closed),
                Ok(Ok(result)) => result,
            },
        };
        if let Err(error) = &result {
            let reason = match error {
                AuditError::Full => "full",
                AuditError::Timeout => "timeout",
                AuditError::Io(_) => "io",
                AuditError::Closed => "closed",
            };
            metrics::counter!(names::FAILURES_TOTAL, "reason" => reason).increment(1);
        }
        metrics::gauge!(names::QUEUE_DEPTH)
            .set((self.queue.max_capacity() - self.queue.capacity()) as f64);
        result
    }
}

impl AuditSink for AuditLog {
    fn append(&self, events: Vec<AuditEvent>) -> BoxFuture<'_, Result<(), AuditError>> {
        Box::pin(self.append_events(events))
    }
}

/// Describes the audit metrics and registers their zero values.
pub fn describe() {
    metrics::describe_gauge!(names::QUEUE_DEPTH, "Audit appends waiting for the writer");
    metrics::describe_counter!(names::RECORDS_TOTAL, "Audit records made durable, by type");
    metrics::describe_counter!(names::BATCHES_TOTAL, "Audit batches written and fsynced");
    metrics::describe_histogram!(
        names::SYNC_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time to write and fsync one audit batch"
    );
    metrics::describe_counter!(
        names::FAILURES_TOTAL,
        "Audit appends that were not made durable in time, by reason"
    );
    metrics::describe_gauge!(
        names::HEALTHY,
        "1 while the last audit batch was synced, 0 after a failure"
    );
    metrics::describe_counter!(names::ROTATIONS_TOTAL, "Audit files started");
    for reason in ["io", "full", "timeout", "closed"] {
        metrics::counter!(names::FAILURES_TOTAL, "reason" => reason).absolute(0);
    }
    for kind in ["issuance", "config_change"] {
        metrics::counter!(names::RECORDS_TOTAL, "type" => kind).absolute(0);
    }
    metrics::gauge!(names::QUEUE_DEPTH).set(0.0);
}

/// The file being appended to.
struct Segment {
    path: PathBuf,
    file: File,
    /// Length up to the last synced batch.
    synced_len: u64,
}

impl Segment {
    fn file_name(first_seq: u64) -> String {
        format!("audit-{first_seq:020}.jsonl")
    }

    fn create(dir: &Path, first_seq: u64) -> io::Result<Segment> {
        let path = dir.join(Segment::file_name(first_seq));
        let file = open_append(&path)?;
        let synced_len = file.metadata()?.len();
        // The new name must survive a crash as well as its records.
        File::open(dir)?.sync_all()?;
        Ok(Segment {
            path,
            file,
            synced_len,
        })
    }

    fn open_existing(path: &Path) -> io::Result<Segment> {
        let file = open_append(path)?;
        let synced_len = file.metadata()?.len();
        Ok(Segment {
            path: path.to_owned(),
            file,
            synced_len,
        })
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

struct Writer {
    dir: PathBuf,
    max_file_bytes: u64,
    origin: Origin,
    head: ChainHead,
    segment: Segment,
    /// The last batch failed; the file must be cut back before the next.
    broken: bool,
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<Pending>) {
        let mut batch: Vec<Pending> = Vec::new();
        let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
        while let Some(first) = receiver.blocking_recv() {
            batch.push(first);
            let mut records = batch[0].events.len();
            while records < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(next) => {
                        records += next.events.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            metrics::gauge!(names::QUEUE_DEPTH).set(receiver.len() as f64);
            let started = Instant::now();
            let result = self.write_batch(&batch, &mut buffer);
            metrics::histogram!(names::SYNC_DURATION_SECONDS)
                .record(started.elapsed().as_secs_f64());
            let answer = match result {
                Ok(()) => {
                    metrics::gauge!(names::HEALTHY).set(1.0);
                    metrics::counter!(names::BATCHES_TOTAL).increment(1);
                    Ok(())
                }
                Err(error) => {
                    metrics::gauge!(names::HEALTHY).set(0.0);
                    tracing::error!(
                        file = %self.segment.path.display(),
                        %error,
                        records,
                        "audit batch not durable; its requests are refused"
                    );
                    Err(AuditError::Io(error.kind().to_string()))
                }
            };
            for pending in batch.drain(..) {
                let _ = pending.done.send(answer.clone());
            }
            // After answering: starting a file never delays a request.
            if self.segment.synced_len > self.max_file_bytes {
                self.rotate();
            }
        }
        tracing::info!(
            next_seq = self.head.next_seq,
            head = %self.head.hash,
            file = %self.segment.path.display(),
            "audit trail closed"
        );
    }

    fn write_batch(&mut self, batch: &[Pending], buffer: &mut Vec<u8>) -> io::Result<()> {
        if self.broken {
            self.repair()?;
        }
        buffer.clear();
        let mut head = self.head.clone();
        let mut counts = [0u64; 2];
        for event in batch.iter().flat_map(|pending| pending.events.iter()) {
            record::append_line(buffer, &mut head, &self.origin, event)
                .map_err(io::Error::other)?;
            match event.kind {
                AuditKind::Issuance(_) => counts[0] += 1,
                AuditKind::ConfigChange(_) => counts[1] += 1,
            }
        }
        let written = self
            .segment
            .file
            .write_all(buffer)
            .and_then(|()| self.segment.file.sync_data());
        if let Err(error) = written {
            self.broken = true;
            return Err(error);
        }
        self.segment.synced_len += buffer.len() as u64;
        self.head = head;
        metrics::counter!(names::RECORDS_TOTAL, "type" => "issuance").increment(counts[0]);
        metrics::counter!(names::RECORDS_TOTAL, "type" => "config_change").increment(counts[1]);
        Ok(())
    }

    /// Cuts the current file back to its last synced length (a failed batch
    /// may have left part of itself behind).
    fn repair(&mut self) -> io::Result<()> {
        let file = open_append(&self.segment.path)?;
        file.set_len(self.segment.synced_len)?;
        file.sync_all()?;
        self.segment.file = file;
        self.broken = false;
        tracing::warn!(file = %self.segment.path.display(), "audit file cut back to its last synced record");
        Ok(())
    }

    /// Starts the next file. A failure keeps the current one (the next
    /// batch tries again).
    fn rotate(&mut self) {
        match Segment::create(&self.dir, self.head.next_seq) {
            Ok(segment) => {
                tracing::info!(
                    closed = %self.segment.path.display(),
                    file = %segment.path.display(),
                    next_seq = self.head.next_seq,
                    head = %self.head.hash,
                    "audit file rotated"
                );
                self.segment = segment;
                metrics::counter!(names::ROTATIONS_TOTAL).increment(1);
            }
            Err(error) => {
                tracing::error!(%error, dir = %self.dir.display(), "audit file rotation failed");
            }
        }
    }
}

/// The trail's files, oldest first (by the sequence number in the name).
pub fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(seq) = name
            .strip_prefix("audit-")
            .and_then(|rest| rest.strip_suffix(".jsonl"))
            .and_then(|digits| digits.parse::<u64>().ok())
        else {
            continue;
        };
        files.push((seq, entry.path()));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// The chain head after the newest record of `files`, and the file to go on
/// appending to (the newest, after cutting off a partial last line).
fn recover(files: &[PathBuf]) -> Result<(ChainHead, Option<PathBuf>), OpenError> {
    let Some(current) = files.last() else {
        return Ok((ChainHead::genesis(), None));
    };
    for path in files.iter().rev() {
        if let Some(line) = last_complete_line(path)? {
            let parsed = record::parse_line(&line).map_err(|e| OpenError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if !parsed.hash_matches {
                return Err(OpenError::Corrupt {
                    path: path.clone(),
                    reason: String::from("its hash does not match its content"),
                });
            }
            let head = ChainHead {
                next_seq: parsed.seq + 1,
                hash: parsed.hash,
            };
            return Ok((head, Some(current.clone())));
        }
    }
    // Files exist but hold no record: the chain starts over in the newest.
    Ok((ChainHead::genesis(), Some(current.clone())))
}

/// The last newline-terminated line of `path`; a trailing partial line is
/// cut off the file first.
fn last_complete_line(path: &Path) -> Result<Option<Vec<u8>>, OpenError> {
    let io_error = |source| OpenError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    // Read backwards in blocks until two newlines (or the start) are seen.
    let mut tail: Vec<u8> = Vec::new();
    let mut pos = len;
    let block = 64 * 1024u64;
    loop {
        let start = pos.saturating_sub(block);
        let mut chunk = vec![0u8; usize::try_from(pos - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start)).map_err(io_error)?;
        file.read_exact(&mut chunk).map_err(io_error)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        pos = start;
        let newlines = tail.iter().filter(|b| **b == b'\n').count();
        if newlines >= 2 || pos == 0 {
            break;
        }
    }
    // `tail` holds the file from `pos` on.
    let Some(last_newline) = tail.iter().rposition(|b| *b == b'\n') else {
        if !tail.is_empty() && pos == 0 {
            tracing::warn!(file = %path.display(), "audit file holds only a partial record; cut off");
            file.set_len(0).map_err(io_error)?;
            file.sync_all().map_err(io_error)?;
        }
        return Ok(None);
    };
    if last_newline + 1 < tail.len() {
        let keep = pos + last_newline as u64 + 1;
        tracing::warn!(
            file = %path.display(),
            bytes = len - keep,
            "audit file ends with a partial record (never acknowledged); cut off"
        );
        file.set_len(keep).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
    }
    let body = &tail[..last_newline];
    let line_start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    Ok(Some(body[line_start..].to_vec()))
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// The trail as a shared sink, for the edge.
pub fn sink(log: &AuditLog) -> Arc<dyn AuditSink> {
    Arc::new(log.clone())
}

#[cfg(test)]
#[path = "audit_test.rs"]
mod audit_test;
