//! SigV4 over gRPC metadata: how an Admin call is signed (clients) and how
//! the canonical request is rebuilt from what arrived (the service).
//!
//! A gRPC call has no query string and a binary body, and it may be
//! forwarded from one node to the leader, so the signed request is a fixed
//! projection of the call rather than the HTTP/2 request itself:
//!
//! ```text
//! POST
//! /meridian.v1.Admin/<Method>           (the gRPC path)
//!                                       (no query)
//! host:meridian                         (fixed: the call is the same on every node)
//! x-amz-content-sha256:<hex SHA-256 of the request message's protobuf encoding>
//! x-amz-date:<YYYYMMDDTHHMMSSZ>
//! [x-amz-security-token:<session token>]
//! ```
//!
//! scoped `<date>/<region>/meridian/aws4_request`. The metadata carries
//! `authorization`, `x-amz-date`, `x-amz-content-sha256` and, for temporary
//! credentials, `x-amz-security-token`; nothing else is signed, so proxies
//! may add metadata freely. The message hash is over prost's encoding,
//! which is deterministic for a given message (fields in tag order, maps
//! ordered), so the service recomputes it from the decoded message and a
//! tampered body fails as `XAmzContentSHA256Mismatch`.

use std::fmt;

use aws_lc_rs::digest;
use meridian_core::sigv4::policy::UriEncoding;
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::signer::{
    self, PayloadSigning, SignError, SigningOptions, SigningParams, TokenPlacement,
};
use meridian_core::time::Timestamp;
use tonic::metadata::{MetadataMap, MetadataValue};
use zeroize::Zeroizing;

/// The service name in the credential scope.
pub const SIGNING_SERVICE: &str = "meridian";
/// The `host` value every Admin call signs.
pub const SIGNING_HOST: &str = "meridian";
/// The HTTP method of the canonical request.
pub const SIGNING_METHOD: &str = "POST";
/// The metadata keys that carry the signature.
pub const SIGNED_METADATA: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// Credentials to sign Admin calls with. `Debug` redacts the secret and token.
#[derive(Clone)]
pub struct AdminCredentials {
    /// `AKIA…` or `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The lower-case hex SHA-256 of a message's protobuf encoding.
pub fn message_sha256<M: prost::Message>(message: &M) -> String {
    hex::encode(digest::digest(&digest::SHA256, &message.encode_to_vec()))
}

/// The signing options of the scheme: double-encoded normalised path (the
/// default for every non-S3 service), signed token, hash sent as a header.
pub fn options() -> SigningOptions {
    SigningOptions {
        uri_encoding: UriEncoding::Double,
        normalize_path: true,
        token: TokenPlacement::Signed,
        payload: PayloadSigning::HashWithHeader,
    }
}

/// Signs a call to `path` (`/meridian.v1.Admin/GetStatus`) carrying
/// `message`, scoped to `region`, at `now`; puts the signature in `metadata`.
pub fn sign<M: prost::Message>(
    metadata: &mut MetadataMap,
    path: &str,
    message: &M,
    credentials: &AdminCredentials,
    region: &str,
    now: Timestamp,
) -> Result<(), SignError> {
    let hash = message_sha256(message);
    let headers: [(&str, &[u8]); 1] = [("host", SIGNING_HOST.as_bytes())];
    let request = Request {
        method: SIGNING_METHOD,
        path,
        query: "",
        headers: &headers,
        payload: Payload::Sha256Hex(&hash),
    };
    let params = SigningParams {
        access_key_id: &credentials.access_key_id,
        secret_access_key: credentials.secret_access_key.as_bytes(),
        session_token: credentials.session_token.as_ref().map(|t| t.as_str()),
        region,
        service: SIGNING_SERVICE,
        time: now,
        options: options(),
    };
    let signature = signer::sign_headers(&request, &params)?;
    let mut put = |key: &'static str, value: &str| {
        if let Ok(value) = MetadataValue::try_from(value) {
            metadata.insert(key, value);
        }
    };
    put("authorization", &signature.authorization);
    put("x-amz-date", &signature.x_amz_date);
    if let Some(hash) = &signature.x_amz_content_sha256 {
        put("x-amz-content-sha256", hash);
    }
    if let Some(token) = &signature.x_amz_security_token {
        put("x-amz-security-token", token);
    }
    Ok(())
}

/// The signed headers as the canonical request needs them: `host` first,
/// then whichever of [`SIGNED_METADATA`] arrived (ASCII values only; a
/// non-ASCII value is left out and the signature check then fails).
pub fn signed_headers(metadata: &MetadataMap) -> Vec<(&'static str, Vec<u8>)> {
    let mut headers = vec![("host", SIGNING_HOST.as_bytes().to_vec())];
    for key in SIGNED_METADATA {
        for value in metadata.get_all(key).iter() {
            headers.push((key, value.as_bytes().to_vec()));
        }
    }
    headers
}

/// The 16-byte request id of a signed write: derived from the signature,
/// so that a replayed or retried call is answered from the state machine's
/// request log instead of being applied twice.
pub fn request_id_of(metadata: &MetadataMap, salt: &str) -> Option<[u8; 16]> {
    let authorization = metadata.get("authorization")?.as_bytes();
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"meridian-admin-request-v1\0");
    ctx.update(salt.as_bytes());
    ctx.update(b"\0");
    ctx.update(authorization);
    let mut id = [0u8; 16];
    id.copy_from_slice(&ctx.finish().as_ref()[..16]);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_core::sigv4::policy::{ServiceRule, VerifierPolicy};
    use meridian_core::sigv4::verifier::Verifier;
    use meridian_proto::pb;

    fn credentials() -> AdminCredentials {
        AdminCredentials {
            access_key_id: String::from("AKIAIOSFODNN7EXAMPLE"),
            secret_access_key: Zeroizing::new(String::from(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )),
            session_token: None,
        }
    }

    fn verify(
        metadata: &MetadataMap,
        path: &str,
        message_hash: &str,
        now: Timestamp,
    ) -> Result<(), String> {
        let verifier = Verifier::new(VerifierPolicy::new(vec![ServiceRule::new(
            SIGNING_SERVICE,
            &["eu-west-1"],
        )]));
        let owned = signed_headers(metadata);
        let headers: Vec<(&str, &[u8])> = owned.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let request = Request {
            method: SIGNING_METHOD,
            path,
            query: "",
            headers: &headers,
            payload: Payload::Sha256Hex(message_hash),
        };
        let parsed = verifier
            .parse(&request, SIGNING_SERVICE, now)
            .map_err(|e| e.code().to_owned())?;
        verifier
            .verify(
                parsed,
                &request,
                b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            )
            .map(|_| ())
            .map_err(|e| e.code().to_owned())
    }

    #[test]
    fn a_signed_call_verifies_and_every_change_is_caught() {
        let now = Timestamp::from_unix_seconds(1_750_000_000);
        let message = pb::AdminCreateAccountRequest {
            name: String::from("team"),
            admin_user_name: String::new(),
        };
        let path = "/meridian.v1.Admin/CreateAccount";
        let mut metadata = MetadataMap::new();
        sign(
            &mut metadata,
            path,
            &message,
            &credentials(),
            "eu-west-1",
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let hash = message_sha256(&message);
        assert_eq!(verify(&metadata, path, &hash, now), Ok(()));

        let other = pb::AdminCreateAccountRequest {
            name: String::from("teams"),
            admin_user_name: String::new(),
        };
        let cases = [
            (
                "another message",
                path,
                message_sha256(&other),
                now,
                "XAmzContentSHA256Mismatch",
            ),
            (
                "another method",
                "/meridian.v1.Admin/ListAccounts",
                hash.clone(),
                now,
                "SignatureDoesNotMatch",
            ),
            (
                "16 minutes later",
                path,
                hash.clone(),
                Timestamp::from_unix_seconds(1_750_000_000 + 16 * 60),
                "SignatureDoesNotMatch",
            ),
        ];
        for (name, path, hash, at, code) in cases {
            assert_eq!(
                verify(&metadata, path, &hash, at),
                Err(String::from(code)),
                "{name}"
            );
        }
        let mut tampered = metadata.clone();
        tampered.insert("x-amz-date", MetadataValue::from_static("20250615T000000Z"));
        assert!(verify(&tampered, path, &hash, now).is_err(), "date changed");
        assert!(
            verify(&MetadataMap::new(), path, &hash, now).is_err(),
            "unsigned"
        );
    }

    #[test]
    fn request_ids_follow_the_signature() {
        let now = Timestamp::from_unix_seconds(1_750_000_000);
        let message = pb::AdminListAccountsRequest {};
        let path = "/meridian.v1.Admin/ListAccounts";
        let mut first = MetadataMap::new();
        sign(&mut first, path, &message, &credentials(), "eu-west-1", now)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut again = MetadataMap::new();
        sign(&mut again, path, &message, &credentials(), "eu-west-1", now)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut later = MetadataMap::new();
        sign(
            &mut later,
            path,
            &message,
            &credentials(),
            "eu-west-1",
            now.plus_millis(1_000),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request_id_of(&first, "a"), request_id_of(&again, "a"));
        assert_ne!(request_id_of(&first, "a"), request_id_of(&later, "a"));
        assert_ne!(request_id_of(&first, "a"), request_id_of(&first, "b"));
        assert_eq!(request_id_of(&MetadataMap::new(), "a"), None);
        assert!(!format!("{:?}", credentials()).contains("wJalr"));
    }
}
