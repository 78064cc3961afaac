//! AWS query-protocol requests (STS `2011-06-15`, IAM `2010-05-08`) signed
//! with SigV4 by `meridian_core::sigv4::signer`, and reading their answers.
//!
//! Requests look like botocore's: `POST /` with a form body, `Content-Type:
//! application/x-www-form-urlencoded; charset=utf-8`, the signature in an
//! `Authorization` header, the body's SHA-256 signed but not sent as a header
//! (`SigningOptions::standard`), a session token signed when present. Every
//! request is signed when it is built, with the current time, exactly as an
//! SDK does — the signing cost is part of a real client's work, and the
//! tool's own CPU time is reported beside the server's.
//!
//! Answers are classified without a full XML parse on the hot path: a
//! success is HTTP 200 with the operation's result element, an error is
//! AWS's `<Code>` (or `http-<status>` without one). The setup steps, which
//! need values out of answers (credentials), use quick-xml.

use std::fmt;

use bytes::Bytes;
use http::Request;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use http_body_util::Full;
use meridian_core::sigv4::request::{Payload, Request as SigRequest};
use meridian_core::sigv4::signer::{SigningOptions, SigningParams, sign_headers};
use meridian_core::time::Timestamp;
use quick_xml::events::Event;
use zeroize::Zeroizing;

use crate::engine::Outcome;

/// The form content type botocore sends.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The `User-Agent` of every request (not signed, as botocore).
pub const USER_AGENT_VALUE: &str = "meridian-load/0.1";

/// AWS credentials; `Debug` shows only the access key id.
#[derive(Clone)]
pub struct Credentials {
    /// `AKIA…` or `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token of temporary credentials.
    pub session_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// An HTTP endpoint and the region its scope uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://127.0.0.1:7101` (no trailing slash).
    pub base: String,
    /// The `Host` header value: `127.0.0.1:7101`.
    pub host: String,
    /// The signing region.
    pub region: String,
}

impl Endpoint {
    /// Parses `http://host:port` (a trailing `/` is ignored).
    pub fn new(url: &str, region: &str) -> anyhow::Result<Endpoint> {
        let base = url.trim_end_matches('/');
        let uri: http::Uri = base.parse()?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "only http:// endpoints are supported: {url}"
        );
        let host = uri
            .authority()
            .ok_or_else(|| anyhow::anyhow!("no host in {url}"))?
            .to_string();
        Ok(Endpoint {
            base: base.to_owned(),
            host,
            region: region.to_owned(),
        })
    }
}

/// Encodes query-protocol parameters as a form body.
pub fn form(params: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// Builds a signed `POST /` for `service` (`sts` or `iam`) with `body`.
pub fn signed_request(
    endpoint: &Endpoint,
    service: &str,
    credentials: &Credentials,
    body: String,
    now: Timestamp,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let headers: [(&str, &[u8]); 2] = [
        ("host", endpoint.host.as_bytes()),
        ("content-type", FORM_CONTENT_TYPE.as_bytes()),
    ];
    let to_sign = SigRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload: Payload::Body(body.as_bytes()),
    };
    let params = SigningParams {
        access_key_id: &credentials.access_key_id,
        secret_access_key: credentials.secret_access_key.as_bytes(),
        session_token: credentials.session_token.as_ref().map(|t| t.as_str()),
        region: &endpoint.region,
        service,
        time: now,
        options: SigningOptions::standard(),
    };
    let signature = sign_headers(&to_sign, &params)?;
    let mut builder = Request::post(format!("{}/", endpoint.base))
        .header(HOST, &endpoint.host)
        .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header("X-Amz-Date", signature.x_amz_date);
    if let Some(token) = signature.x_amz_security_token {
        builder = builder.header("X-Amz-Security-Token", token);
    }
    Ok(builder
        .header(AUTHORIZATION, signature.authorization)
        .body(Full::new(Bytes::from(body)))?)
}

/// AWS's error code in an error document (`<Code>…</Code>`).
pub fn error_code(body: &[u8]) -> Option<&str> {
    let start = find(body, b"<Code>")? + b"<Code>".len();
    let length = find(body.get(start..)?, b"</Code>")?;
    let code = std::str::from_utf8(body.get(start..start + length)?).ok()?;
    (!code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
    .then_some(code)
}

/// Classifies a query-protocol answer: 200 with `marker` (the result
/// element, e.g. `<AssumeRoleResult>`) is a success.
pub fn classify(status: http::StatusCode, body: &[u8], marker: &[u8]) -> Outcome {
    if status == http::StatusCode::OK {
        if find(body, marker).is_some() {
            Outcome::Ok
        } else {
            Outcome::error("unexpected-answer")
        }
    } else {
        match error_code(body) {
            Some(code) => Outcome::error(code),
            None => Outcome::error(format!("http-{}", status.as_u16())),
        }
    }
}

/// The text of the first element named `name` (setup only), entity and
/// character references resolved.
pub fn xml_text(body: &[u8], name: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut collected: Option<String> = None;
    let mut buffer = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buffer).ok()?;
        match (&mut collected, event) {
            (None, Event::Start(start)) if start.local_name().as_ref() == name.as_bytes() => {
                collected = Some(String::new());
            }
            (Some(text), Event::Text(part)) => text.push_str(&part.xml_content().ok()?),
            (Some(text), Event::GeneralRef(reference)) => {
                if let Some(ch) = reference.resolve_char_ref().ok()? {
                    text.push(ch);
                } else {
                    let entity = reference.decode().ok()?;
                    text.push_str(quick_xml::escape::resolve_predefined_entity(&entity)?);
                }
            }
            (Some(text), Event::End(_)) => return Some(std::mem::take(text)),
            (_, Event::Eof) => return None,
            _ => {}
        }
        buffer.clear();
    }
}

/// The temporary credentials in an STS answer.
pub fn credentials_in(body: &[u8]) -> Option<Credentials> {
    Some(Credentials {
        access_key_id: xml_text(body, "AccessKeyId")?,
        secret_access_key: Zeroizing::new(xml_text(body, "SecretAccessKey")?),
        session_token: Some(Zeroizing::new(xml_text(body, "SessionToken")?)),
    })
}

/// Position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
#[path = "aws_test.rs"]
mod tests;
