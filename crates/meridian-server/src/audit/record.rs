//! The audit record format: one JSON object per line, hash-chained.
//!
//! ```text
//! {"seq":41,"prev":"<hash of record 40>","time":"…","node_id":1,"region":"eu-west-1",
//!  "type":"issuance","request_id":"…","action":"AssumeRole","decision":"allow",…,
//!  "hash":"<SHA-256 hex of this line without its hash member>"}
//! ```
//!
//! `hash` is the SHA-256 of the record's bytes *as written* without the
//! trailing `,"hash":"…"` member (the line up to that member, closed with
//! `}`). The verifier therefore needs no canonical JSON: it cuts the member
//! off the bytes it read and hashes what is left. `prev` is the previous
//! record's `hash` (64 zeros for the first record of the trail) and `seq`
//! counts up from 0 without gaps, across file rotations: editing, deleting,
//! inserting or reordering records breaks the chain at that point.
//!
//! What the chain cannot show on its own is a trail cut short at its end (the
//! newest records deleted) or rewritten whole; the writer logs the head
//! (`seq`, `hash`) at every rotation and at shutdown so operators can anchor
//! it elsewhere.

use meridian_edge::audit::{Actor, AuditEvent, AuditKind, Decision};
use serde::Serialize;

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The member every line ends with.
pub(crate) const HASH_MEMBER: &str = ",\"hash\":\"";

/// Where a record sits in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The sequence number of the next record.
    pub next_seq: u64,
    /// The hash of the last record (or [`GENESIS`]).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty trail.
    pub fn genesis() -> ChainHead {
        ChainHead {
            next_seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// The node writing the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Its id.
    pub node_id: u64,
    /// Its region.
    pub region: String,
}

#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    prev: &'a str,
    time: String,
    node_id: u64,
    region: &'a str,
    request_id: &'a str,
    #[serde(flatten)]
    body: Body<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Body<'a> {
    Issuance {
        action: &'static str,
        decision: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<&'static str>,
        actor: ActorRecord<'a>,
        role_arn: Option<&'a str>,
        session_name: Option<&'a str>,
        principal_arn: Option<&'a str>,
        provider_arn: Option<&'a str>,
        source_identity: Option<&'a str>,
        tags: Vec<TagRecord<'a>>,
        issuing_region: &'a str,
        key_id: Option<u32>,
        access_key_id: Option<&'a str>,
        session_id: Option<&'a str>,
        expires_at: Option<String>,
    },
    ConfigChange {
        action: &'static str,
        command: &'static str,
        actor: ActorRecord<'a>,
        target: serde_json::Map<String, serde_json::Value>,
        outcome: &'static str,
    },
}

#[derive(Serialize)]
struct ActorRecord<'a> {
    arn: Option<&'a str>,
    access_key_id: Option<&'a str>,
    account: Option<&'a str>,
    source_ip: Option<&'a str>,
}

impl<'a> From<&'a Actor> for ActorRecord<'a> {
    fn from(actor: &'a Actor) -> ActorRecord<'a> {
        ActorRecord {
            arn: actor.arn.as_deref(),
            access_key_id: actor.access_key_id.as_deref(),
            account: actor.account.as_deref(),
            source_ip: actor.source_ip.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct TagRecord<'a> {
    key: &'a str,
    value: &'a str,
    transitive: bool,
}

/// Serializes `event` as the record at `head`, appends the line (with its
/// trailing newline) to `out`, and advances `head`.
pub fn append_line(
    out: &mut Vec<u8>,
    head: &mut ChainHead,
    origin: &Origin,
    event: &AuditEvent,
) -> Result<(), serde_json::Error> {
    let body = match &event.kind {
        AuditKind::Issuance(issuance) => {
            let (decision, error_code) = match &issuance.decision {
                Decision::Allow => ("allow", None),
                Decision::Deny(code) => ("deny", Some(*code)),
            };
            Body::Issuance {
                action: issuance.action,
                decision,
                error_code,
                actor: ActorRecord::from(&issuance.actor),
                role_arn: issuance.role_arn.as_deref(),
                session_name: issuance.session_name.as_deref(),
                principal_arn: issuance.principal_arn.as_deref(),
                provider_arn: issuance.provider_arn.as_deref(),
                source_identity: issuance.source_identity.as_deref(),
                tags: issuance
                    .tags
                    .iter()
                    .map(|(key, value, transitive)| TagRecord {
                        key,
                        value,
                        transitive: *transitive,
                    })
                    .collect(),
                issuing_region: &issuance.region,
                key_id: issuance.key_id,
                access_key_id: issuance.access_key_id.as_deref(),
                session_id: issuance.session_id.as_deref(),
                expires_at: issuance.expires_at.map(|at| at.to_iso8601_seconds()),
            }
        }
        AuditKind::ConfigChange(change) => Body::ConfigChange {
            action: change.action,
            command: change.command,
            actor: ActorRecord::from(&change.actor),
            target: change
                .target
                .iter()
                .map(|(name, value)| ((*name).to_owned(), serde_json::Value::from(value.as_str())))
                .collect(),
            outcome: change.outcome,
        },
    };
    let record = Record {
        seq: head.next_seq,
        prev: &head.hash,
        time: event.at.to_iso8601_seconds(),
        node_id: origin.node_id,
        region: &origin.region,
        request_id: &event.request_id,
        body,
    };
    let start = out.len();
    serde_json::to_writer(&mut *out, &record)?;
    let hash = digest_hex(&out[start..]);
    // `{…}` becomes `{…,"hash":"…"}`.
    out.pop();
    out.extend_from_slice(HASH_MEMBER.as_bytes());
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"\"}\n");
    head.next_seq += 1;
    head.hash = hash;
    Ok(())
}

/// SHA-256 of `bytes`, lower-case hex.
pub(crate) fn digest_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// A line taken apart: its `seq`, `prev` and `hash`, and whether `hash`
/// matches its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine {
    /// `seq`.
    pub seq: u64,
    /// `prev`.
    pub prev: String,
    /// `hash` as written.
    pub hash: String,
    /// Whether `hash` is the SHA-256 of the line without it.
    pub hash_matches: bool,
}

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not JSON, or not an object with `seq`, `prev` and `hash`.
    #[error("not an audit record: {0}")]
    Malformed(String),
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<ParsedLine, LineError> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| LineError::Malformed(e.to_string()))?;
    let field = |name: &str| value.get(name);
    let seq = field("seq")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| LineError::Malformed(String::from("no seq")))?;
    let prev = field("prev")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| LineError::Malformed(String::from("no prev")))?
        .to_owned();
    let hash = field("hash")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| LineError::Malformed(String::from("no hash")))?
        .to_owned();
    // The hash member must be the last one, exactly as the writer puts it.
    let suffix = format!("{HASH_MEMBER}{hash}\"}}");
    let hash_matches = match line.strip_suffix(suffix.as_bytes()) {
        Some(prefix) => {
            let mut body = prefix.to_vec();
            body.push(b'}');
            digest_hex(&body) == hash
        }
        None => false,
    };
    Ok(ParsedLine {
        seq,
        prev,
        hash,
        hash_matches,
    })
}
