//! Context handles: what `Authenticate` hands a resource service so that a
//! later `Authorize` can trust the caller it names without the signed
//! request.
//!
//! A handle is not secret — the resource service already holds everything in
//! it (the access key id and session token came in the request it received;
//! the region and client address are its own) — so it is authenticated, not
//! encrypted, with an HMAC key derived from the cluster KEK
//! (`KeyMaterial::context_tag`): any node accepts a handle any other node
//! made, and no nonce budget limits how many are made. What the MAC adds is
//! the proof that a node verified a signature by these credentials: a
//! captured session token alone cannot be turned into a handle.
//!
//! ```text
//! version (1) | expires_at_ms (i64 BE) | region (u8 len) | source_ip (u8 len)
//!   | access_key_id (u8 len) | session token (rest) | HMAC-SHA256 tag (32)
//! ```
//!
//! `Authorize` re-opens the session token (expiry, destroyed keys) and
//! re-checks denied sessions and disabled keys, so a handle never outlives a
//! revocation; it is also refused after `expires_at` (15 minutes after
//! authentication — the SigV4 window — and never past the session's end).

use std::net::IpAddr;

use meridian_core::access::keys::{CONTEXT_TAG_LEN, KeyMaterial};
use meridian_core::time::Timestamp;

/// The only handle format.
const VERSION: u8 = 1;

/// Largest handle accepted (a session token is at most a few KiB).
pub const MAX_HANDLE_LEN: usize = 16 * 1024;

/// How long a handle is accepted after authentication.
pub const HANDLE_LIFETIME_MS: i64 = 15 * 60 * 1000;

/// A decoded, authenticated handle.
#[derive(Clone, PartialEq, Eq)]
pub struct ContextHandle {
    /// When it stops being accepted.
    pub expires_at: Timestamp,
    /// The region it was authenticated in (`aws:RequestedRegion`).
    pub region: String,
    /// The client address the resource service reported.
    pub source_ip: Option<IpAddr>,
    /// The access key id that signed.
    pub access_key_id: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for ContextHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextHandle")
            .field("expires_at", &self.expires_at)
            .field("region", &self.region)
            .field("source_ip", &self.source_ip)
            .field("access_key_id", &self.access_key_id)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Why a handle was refused (all answered `InvalidContextHandle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// Too long, too short, unknown version or fields that do not parse.
    #[error("malformed context handle")]
    Malformed,
    /// The tag does not verify: not made by this cluster, or altered.
    #[error("context handle failed authentication")]
    Forged,
    /// Past its expiry.
    #[error("context handle expired")]
    Expired,
}

impl ContextHandle {
    /// Encodes and tags the handle.
    pub fn seal(&self, keys: &KeyMaterial) -> Vec<u8> {
        let token = self.session_token.as_deref().unwrap_or("");
        let ip = self.source_ip.map(|ip| ip.to_string()).unwrap_or_default();
        let mut out = Vec::with_capacity(
            1 + 8
                + 3
                + self.region.len()
                + ip.len()
                + self.access_key_id.len()
                + token.len()
                + CONTEXT_TAG_LEN,
        );
        out.push(VERSION);
        out.extend_from_slice(&self.expires_at.unix_millis().to_be_bytes());
        for field in [
            self.region.as_bytes(),
            ip.as_bytes(),
            self.access_key_id.as_bytes(),
        ] {
            // Fields are validated short (region ≤ 32, ip ≤ 45, key id 20).
            out.push(u8::try_from(field.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(field.get(..usize::from(u8::MAX)).unwrap_or(field));
        }
        out.extend_from_slice(token.as_bytes());
        let tag = keys.context_tag(&out);
        out.extend_from_slice(&tag);
        out
    }

    /// Checks the tag and the expiry, then decodes.
    pub fn open(
        bytes: &[u8],
        keys: &KeyMaterial,
        now: Timestamp,
    ) -> Result<ContextHandle, HandleError> {
        if bytes.len() > MAX_HANDLE_LEN || bytes.len() < 1 + 8 + 3 + CONTEXT_TAG_LEN {
            return Err(HandleError::Malformed);
        }
        let (body, tag) = bytes.split_at(bytes.len() - CONTEXT_TAG_LEN);
        if !keys.verify_context_tag(body, tag) {
            return Err(HandleError::Forged);
        }
        let mut reader = Reader(body);
        if reader.take(1)? != [VERSION] {
            return Err(HandleError::Malformed);
        }
        let mut millis = [0u8; 8];
        millis.copy_from_slice(reader.take(8)?);
        let expires_at = Timestamp::from_unix_millis(i64::from_be_bytes(millis));
        if now >= expires_at {
            return Err(HandleError::Expired);
        }
        let region = reader.text()?;
        let ip = reader.text()?;
        let access_key_id = reader.text()?;
        let token = std::str::from_utf8(reader.0).map_err(|_| HandleError::Malformed)?;
        let source_ip = if ip.is_empty() {
            None
        } else {
            Some(ip.parse().map_err(|_| HandleError::Malformed)?)
        };
        Ok(ContextHandle {
            expires_at,
            region: region.to_owned(),
            source_ip,
            access_key_id: access_key_id.to_owned(),
            session_token: (!token.is_empty()).then(|| token.to_owned()),
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HandleError> {
        if self.0.len() < n {
            return Err(HandleError::Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn text(&mut self) -> Result<&'a str, HandleError> {
        let len = usize::from(*self.take(1)?.first().ok_or(HandleError::Malformed)?);
        std::str::from_utf8(self.take(len)?).map_err(|_| HandleError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_core::keyring::Kek;

    fn keys(byte: u8) -> KeyMaterial {
        KeyMaterial::new(Kek::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}")))
    }

    fn handle() -> ContextHandle {
        ContextHandle {
            expires_at: Timestamp::from_unix_seconds(1_000),
            region: "eu-west-1".into(),
            source_ip: Some("192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}"))),
            access_key_id: "ASIAEXAMPLEEXAMPLE22".into(),
            session_token: Some("token-bytes".into()),
        }
    }

    #[test]
    fn round_trips_on_any_node_with_the_kek() {
        let sealed = handle().seal(&keys(1));
        let now = Timestamp::from_unix_seconds(999);
        assert_eq!(ContextHandle::open(&sealed, &keys(1), now), Ok(handle()));
        let long_term = ContextHandle {
            source_ip: None,
            session_token: None,
            ..handle()
        };
        assert_eq!(
            ContextHandle::open(&long_term.seal(&keys(1)), &keys(1), now),
            Ok(long_term)
        );
    }

    #[test]
    fn every_single_byte_change_and_truncation_is_refused() {
        let sealed = handle().seal(&keys(1));
        let now = Timestamp::from_unix_seconds(10);
        for index in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[index] ^= 0x01;
            assert!(
                ContextHandle::open(&altered, &keys(1), now).is_err(),
                "byte {index}"
            );
        }
        for len in 0..sealed.len() {
            assert!(
                ContextHandle::open(&sealed[..len], &keys(1), now).is_err(),
                "len {len}"
            );
        }
        assert_eq!(
            ContextHandle::open(&sealed, &keys(2), now),
            Err(HandleError::Forged)
        );
    }

    #[test]
    fn expired_handles_are_refused() {
        let sealed = handle().seal(&keys(1));
        assert_eq!(
            ContextHandle::open(&sealed, &keys(1), Timestamp::from_unix_seconds(1_000)),
            Err(HandleError::Expired)
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let text = format!("{:?}", handle());
        assert!(!text.contains("token-bytes"), "{text}");
    }
}
