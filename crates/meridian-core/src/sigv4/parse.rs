//! Step 1: everything that can be checked without the secret.
//!
//! [`parse`] recognises header authentication (`Authorization:
//! AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`) and presigned
//! query authentication (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
//! `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`,
//! `X-Amz-Security-Token`), and applies the cheap rules in AWS's order:
//!
//! 1. input bounds ([`crate::sigv4::limits::Limits`]);
//! 2. well-formed `%` escapes in the query (`MalformedQueryString`) and path;
//! 3. exactly one authentication form (`MissingAuthenticationToken`, or
//!    `SignatureDoesNotMatch` for both);
//! 4. the form's syntax and required parts (`IncompleteSignature`);
//! 5. `host` signed; the date header signed when the date is a header;
//! 6. the date format, then the clock window (header: ±window; presigned:
//!    not before date − window, not after date + `X-Amz-Expires`);
//! 7. five credential elements, then the scope: region, service, terminator
//!    and date, all reported together (`SignatureDoesNotMatch`);
//! 8. `X-Amz-Content-SHA256` syntax.
//!
//! Decisions that go beyond AWS's documented behaviour:
//!
//! * `X-Amz-Security-Token` as a header is accepted whether or not it is in
//!   `SignedHeaders` (STS-API.md §3.3: some clients add it after signing);
//!   when it is listed, the signature covers it like any signed header.
//!   Substituting an unsigned token gains nothing: the caller takes the secret
//!   from the token and checks that the token belongs to the access key id.
//! * `Authorization`, `X-Amz-Date`, `Date`, `X-Amz-Security-Token`,
//!   `X-Amz-Content-SHA256` and `Host` must not be repeated, and a token may
//!   not be given both as a header and as a query parameter: AWS takes the
//!   first, but a proxy in front of us might take the last, and the two would
//!   then authenticate different things.
//! * Within the `Authorization` header the last `Credential`, `SignedHeaders`
//!   or `Signature` wins and in the query the first `X-Amz-*` value wins, as
//!   at AWS; every repeated value is covered by the signature either way.

use std::borrow::Cow;
use std::fmt;

use crate::sigv4::amz_date;
use crate::sigv4::canonical::QueryExclusions;
use crate::sigv4::encoding;
use crate::sigv4::error::{
    AuthorizationPart, InvalidPath, LimitKind, QueryAuthPart, ScopeFaults, SigV4Error,
};
use crate::sigv4::policy::{PresignedToken, UriEncoding, VerifierPolicy};
use crate::sigv4::request::Request;
use crate::sigv4::{ALGORITHM, TERMINATOR, UNSIGNED_PAYLOAD};
use crate::time::Timestamp;

/// Which authentication form the request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthForm {
    /// `Authorization` header.
    Header,
    /// Presigned query string.
    Presigned,
}

/// Where the session token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The `X-Amz-Security-Token` header, listed in `SignedHeaders`.
    SignedHeader,
    /// The `X-Amz-Security-Token` header, not listed in `SignedHeaders`.
    UnsignedHeader,
    /// The `X-Amz-Security-Token` query parameter (signed unless the service
    /// uses [`PresignedToken::Unsigned`]).
    Query,
}

/// The credential scope: `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    date: String,
    region: String,
    service: String,
}

impl CredentialScope {
    /// `YYYYMMDD`.
    pub fn date(&self) -> &str {
        &self.date
    }

    /// The region the client signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service the client signed for.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl fmt::Display for CredentialScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// The session token as received. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    value: Vec<u8>,
    source: TokenSource,
}

impl SessionToken {
    /// The token bytes (query tokens are percent-decoded).
    pub fn as_bytes(&self) -> &[u8] {
        &self.value
    }

    /// The token as text, if it is UTF-8 (every SDK's tokens are ASCII).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }

    /// Where it came from, and whether the signature covers it.
    pub fn source(&self) -> TokenSource {
        self.source
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SessionToken(<{} bytes>, {:?})",
            self.value.len(),
            self.source
        )
    }
}

/// The result of step 1: everything the caller needs to resolve the secret,
/// and everything step 2 needs to finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    pub(crate) form: AuthForm,
    pub(crate) access_key_id: String,
    pub(crate) scope: CredentialScope,
    pub(crate) signed_headers: String,
    pub(crate) signature: String,
    pub(crate) request_time: Timestamp,
    pub(crate) amz_date: String,
    pub(crate) presigned_expires_at: Option<Timestamp>,
    pub(crate) session_token: Option<SessionToken>,
    pub(crate) content_sha256: Option<String>,
    pub(crate) query_exclusions: QueryExclusions,
    pub(crate) uri_encoding: UriEncoding,
    pub(crate) normalize_path: bool,
}

impl ParsedAuth {
    /// Header or presigned.
    pub fn form(&self) -> AuthForm {
        self.form
    }

    /// The access key id from the credential (`AKIA…`/`ASIA…`; not validated).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The credential scope (already checked against the policy).
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// The signed header names, as the client listed them.
    pub fn signed_headers(&self) -> impl Iterator<Item = &str> {
        self.signed_headers.split(';')
    }

    /// The signature the client sent (not validated until step 2).
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The request timestamp (`X-Amz-Date`, or `Date`).
    pub fn request_time(&self) -> Timestamp {
        self.request_time
    }

    /// For presigned requests with `X-Amz-Expires`: the instant after which
    /// the request is rejected.
    pub fn presigned_expires_at(&self) -> Option<Timestamp> {
        self.presigned_expires_at
    }

    /// The session token, from the header or the query.
    pub fn session_token(&self) -> Option<&SessionToken> {
        self.session_token.as_ref()
    }
}

fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn single_header<'a>(request: &Request<'a>, name: &str) -> Result<Option<&'a [u8]>, SigV4Error> {
    let mut values = request.header_values(name);
    let first = values.next();
    if first.is_some() && values.next().is_some() {
        return Err(SigV4Error::RepeatedHeader {
            name: name.to_ascii_lowercase(),
        });
    }
    Ok(first)
}

fn check_limits(request: &Request<'_>, policy: &VerifierPolicy) -> Result<(), SigV4Error> {
    let limits = &policy.limits;
    if request.headers.len() > limits.max_headers {
        return Err(SigV4Error::HeadersTooLarge(LimitKind::HeaderCount));
    }
    let mut total = 0usize;
    for (name, value) in request.headers {
        if name.len() > limits.max_header_length || value.len() > limits.max_header_length {
            return Err(SigV4Error::HeadersTooLarge(LimitKind::HeaderLength));
        }
        if name.eq_ignore_ascii_case("authorization")
            && value.len() > limits.max_authorization_length
        {
            return Err(SigV4Error::HeadersTooLarge(LimitKind::Authorization));
        }
        total = total.saturating_add(name.len()).saturating_add(value.len());
    }
    if total > limits.max_header_section {
        return Err(SigV4Error::HeadersTooLarge(LimitKind::HeaderSection));
    }
    if request.path.len() > limits.max_path_length || request.query.len() > limits.max_query_length
    {
        return Err(SigV4Error::UriTooLong);
    }
    if encoding::raw_query_pairs(request.query).count() > limits.max_query_parameters {
        return Err(SigV4Error::UriTooLong);
    }
    Ok(())
}

/// The first value of each `X-Amz-*` authentication parameter, decoded.
#[derive(Default)]
struct QueryAuth {
    algorithm: Option<Vec<u8>>,
    credential: Option<Vec<u8>>,
    date: Option<Vec<u8>>,
    expires: Option<Vec<u8>>,
    signed_headers: Option<Vec<u8>>,
    signature: Option<Vec<u8>>,
    security_token: Option<Vec<u8>>,
    content_sha256: Option<Vec<u8>>,
}

fn query_auth(query: &str) -> Result<QueryAuth, SigV4Error> {
    let mut auth = QueryAuth::default();
    if !query.contains("X-Amz-") && !query.contains('%') {
        return Ok(auth);
    }
    for (raw_name, raw_value) in encoding::raw_query_pairs(query) {
        let name = encoding::decode(raw_name.as_bytes(), true)
            .map_err(SigV4Error::MalformedQueryString)?;
        let slot = match name.as_ref() {
            b"X-Amz-Algorithm" => &mut auth.algorithm,
            b"X-Amz-Credential" => &mut auth.credential,
            b"X-Amz-Date" => &mut auth.date,
            b"X-Amz-Expires" => &mut auth.expires,
            b"X-Amz-SignedHeaders" => &mut auth.signed_headers,
            b"X-Amz-Signature" => &mut auth.signature,
            b"X-Amz-Security-Token" => &mut auth.security_token,
            b"X-Amz-Content-Sha256" | b"X-Amz-Content-SHA256" => &mut auth.content_sha256,
            _ => continue,
        };
        if slot.is_none() {
            let value = encoding::decode(raw_value.unwrap_or("").as_bytes(), true)
                .map_err(SigV4Error::MalformedQueryString)?;
            *slot = Some(value.into_owned());
        }
    }
    Ok(auth)
}

/// What the header or query form yielded, before the common checks.
struct Claimed {
    form: AuthForm,
    credential: String,
    signed_headers: String,
    signature: String,
    date_text: String,
    /// The header the date came from (header form only).
    date_header: Option<&'static str>,
    expires: Option<String>,
    session_token: Option<SessionToken>,
    content_sha256: Option<String>,
}

fn header_form(request: &Request<'_>, authorization: &[u8]) -> Result<Claimed, SigV4Error> {
    let header = text(authorization);
    let header = header.trim_matches(|c: char| c.is_ascii_whitespace());
    let (algorithm, rest) = match header.find(|c: char| c.is_ascii_whitespace()) {
        Some(at) => (&header[..at], &header[at..]),
        None => (header, ""),
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm {
            algorithm: algorithm.to_owned(),
        });
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for element in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|element| !element.is_empty())
    {
        let Some((key, value)) = element.split_once('=') else {
            return Err(SigV4Error::MalformedAuthorizationElement {
                element: element.to_owned(),
                header: header.to_owned(),
            });
        };
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let amz_date = single_header(request, "x-amz-date")?;
    let date = single_header(request, "date")?;
    let (date_text, date_header) = match (amz_date, date) {
        (Some(value), _) => (Some(text(value).into_owned()), Some("X-Amz-Date")),
        (None, Some(value)) => (Some(text(value).into_owned()), Some("Date")),
        (None, None) => (None, None),
    };
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push(AuthorizationPart::Credential);
    }
    if signature.is_none() {
        missing.push(AuthorizationPart::Signature);
    }
    if signed_headers.is_none() {
        missing.push(AuthorizationPart::SignedHeaders);
    }
    if date_text.is_none() {
        missing.push(AuthorizationPart::Date);
    }
    let (Some(credential), Some(signature), Some(signed_headers), Some(date_text)) =
        (credential, signature, signed_headers, date_text)
    else {
        return Err(SigV4Error::IncompleteAuthorization {
            missing,
            header: header.to_owned(),
        });
    };
    let session_token = single_header(request, "x-amz-security-token")?.map(|value| {
        let signed = signed_headers
            .split(';')
            .any(|name| name.eq_ignore_ascii_case("x-amz-security-token"));
        SessionToken {
            value: value.to_vec(),
            source: if signed {
                TokenSource::SignedHeader
            } else {
                TokenSource::UnsignedHeader
            },
        }
    });
    Ok(Claimed {
        form: AuthForm::Header,
        credential: credential.to_owned(),
        signed_headers: signed_headers.to_owned(),
        signature: signature.to_owned(),
        date_text,
        date_header,
        expires: None,
        session_token,
        content_sha256: single_header(request, "x-amz-content-sha256")?
            .map(|value| text(value).into_owned()),
    })
}

fn query_form(request: &Request<'_>, auth: QueryAuth) -> Result<Claimed, SigV4Error> {
    if auth.algorithm.as_deref() != Some(ALGORITHM.as_bytes()) {
        return Err(SigV4Error::UnsupportedQueryAlgorithm);
    }
    let mut missing = Vec::new();
    if auth.credential.is_none() {
        missing.push(QueryAuthPart::Credential);
    }
    if auth.signature.is_none() {
        missing.push(QueryAuthPart::Signature);
    }
    if auth.signed_headers.is_none() {
        missing.push(QueryAuthPart::SignedHeaders);
    }
    if auth.date.is_none() {
        missing.push(QueryAuthPart::Date);
    }
    let (Some(credential), Some(signature), Some(signed_headers), Some(date)) = (
        auth.credential,
        auth.signature,
        auth.signed_headers,
        auth.date,
    ) else {
        return Err(SigV4Error::IncompleteQueryAuthentication { missing });
    };
    let header_token = single_header(request, "x-amz-security-token")?;
    let signed_headers = text(&signed_headers).into_owned();
    let session_token = match (auth.security_token, header_token) {
        (Some(_), Some(_)) => {
            return Err(SigV4Error::RepeatedHeader {
                name: String::from("x-amz-security-token"),
            });
        }
        (Some(value), None) => Some(SessionToken {
            value,
            source: TokenSource::Query,
        }),
        (None, Some(value)) => {
            let signed = signed_headers
                .split(';')
                .any(|name| name.eq_ignore_ascii_case("x-amz-security-token"));
            Some(SessionToken {
                value: value.to_vec(),
                source: if signed {
                    TokenSource::SignedHeader
                } else {
                    TokenSource::UnsignedHeader
                },
            })
        }
        (None, None) => None,
    };
    let content_sha256 = match (
        auth.content_sha256,
        single_header(request, "x-amz-content-sha256")?,
    ) {
        (Some(value), _) => Some(text(&value).into_owned()),
        (None, Some(value)) => Some(text(value).into_owned()),
        (None, None) => None,
    };
    Ok(Claimed {
        form: AuthForm::Presigned,
        credential: text(&credential).into_owned(),
        signed_headers,
        signature: text(&signature).into_owned(),
        date_text: text(&date).into_owned(),
        date_header: None,
        expires: auth.expires.map(|value| text(&value).into_owned()),
        session_token,
        content_sha256,
    })
}

fn check_time(
    claimed: &Claimed,
    request_time: Timestamp,
    now: Timestamp,
    policy: &VerifierPolicy,
) -> Result<Option<Timestamp>, SigV4Error> {
    let window_minutes = policy.clock_window_minutes;
    let window_millis = i64::from(window_minutes) * 60_000;
    if request_time.millis_since(now) > window_millis {
        return Err(SigV4Error::SignatureNotYetCurrent {
            request_time,
            now,
            window_minutes,
        });
    }
    let expires_at = match &claimed.expires {
        Some(expires) => {
            let seconds: u32 = if !expires.is_empty() && expires.bytes().all(|b| b.is_ascii_digit())
            {
                // All digits: the only failure left is overflow, which is "too large".
                expires.parse().unwrap_or(u32::MAX)
            } else {
                return Err(SigV4Error::InvalidExpires {
                    value: expires.clone(),
                });
            };
            if seconds > policy.max_presigned_expires_seconds {
                return Err(SigV4Error::ExpiresTooLarge {
                    max_seconds: policy.max_presigned_expires_seconds,
                });
            }
            Some(request_time.plus_seconds(i64::from(seconds)))
        }
        None => None,
    };
    match expires_at {
        Some(expires_at) => {
            if now > expires_at {
                return Err(SigV4Error::PresignedRequestExpired {
                    expired_at: expires_at,
                    now,
                });
            }
        }
        None => {
            if now.millis_since(request_time) > window_millis {
                return Err(SigV4Error::SignatureExpired {
                    request_time,
                    now,
                    window_minutes,
                });
            }
        }
    }
    Ok(expires_at)
}

fn is_lower_hex_sha256(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Step 1 of verification for a request addressed to `service`, at `now`.
///
/// On success the caller resolves the secret for
/// [`ParsedAuth::access_key_id`] (and [`ParsedAuth::session_token`]) and
/// calls [`crate::sigv4::verifier::Verifier::verify`].
pub fn parse(
    policy: &VerifierPolicy,
    request: &Request<'_>,
    service: &str,
    now: Timestamp,
) -> Result<ParsedAuth, SigV4Error> {
    check_limits(request, policy)?;
    encoding::validate_escapes(request.query.as_bytes())
        .map_err(SigV4Error::MalformedQueryString)?;
    encoding::validate_escapes(request.path.as_bytes())
        .map_err(|escape| SigV4Error::InvalidUriPath(InvalidPath::Escape(escape)))?;
    if !request.path.is_empty() && !request.path.starts_with('/') {
        return Err(SigV4Error::InvalidUriPath(InvalidPath::NotAbsolute(
            request.path.to_owned(),
        )));
    }

    let authorization = single_header(request, "authorization")?;
    let query = query_auth(request.query)?;
    let claimed = match (authorization, query.algorithm.is_some()) {
        (Some(_), true) => return Err(SigV4Error::BothAuthForms),
        (None, false) => return Err(SigV4Error::MissingAuthentication),
        (Some(value), false) => header_form(request, value)?,
        (None, true) => query_form(request, query)?,
    };
    single_header(request, "host")?;

    let signed: Vec<&str> = claimed.signed_headers.split(';').collect();
    if signed.len() > policy.limits.max_signed_headers {
        return Err(SigV4Error::HeadersTooLarge(LimitKind::SignedHeaderCount));
    }
    let is_signed = |name: &str| {
        signed
            .iter()
            .any(|listed| listed.eq_ignore_ascii_case(name))
    };
    if !is_signed("host") && !is_signed(":authority") {
        return Err(SigV4Error::HostNotSigned);
    }
    if let Some(header) = claimed.date_header
        && !is_signed(header)
    {
        return Err(SigV4Error::DateNotSigned { header });
    }

    let Some(request_time) = amz_date::parse(&claimed.date_text) else {
        return Err(SigV4Error::InvalidDate {
            value: claimed.date_text,
        });
    };
    let presigned_expires_at = check_time(&claimed, request_time, now, policy)?;

    let parts: Vec<&str> = claimed.credential.split('/').collect();
    let [access_key_id, scope_date, region, scope_service, terminator] = parts.as_slice() else {
        return Err(SigV4Error::MalformedCredential {
            credential: claimed.credential.clone(),
        });
    };
    let amz_date = request_time.to_amz_date();
    let request_date = amz_date.get(..8).unwrap_or_default();
    let rule = policy.rule(service);
    let mut faults = ScopeFaults::default();
    if !rule.is_some_and(|rule| rule.accepts_region(region)) {
        faults.region = Some((*region).to_owned());
    }
    if *scope_service != service {
        faults.expected_service = Some(service.to_owned());
    }
    if *terminator != TERMINATOR {
        faults.terminator = Some((*terminator).to_owned());
    }
    if *scope_date != request_date {
        faults.date = Some((
            (*scope_date).to_owned(),
            request_date.to_owned(),
            amz_date.clone(),
        ));
    }
    let Some(rule) = rule else {
        return Err(SigV4Error::InvalidCredentialScope(Box::new(faults)));
    };
    if faults != ScopeFaults::default() {
        return Err(SigV4Error::InvalidCredentialScope(Box::new(faults)));
    }

    if let Some(content_sha256) = &claimed.content_sha256 {
        if content_sha256 == UNSIGNED_PAYLOAD {
            if !rule.allow_unsigned_payload {
                return Err(SigV4Error::UnsignedPayloadNotAllowed);
            }
        } else if !is_lower_hex_sha256(content_sha256) {
            return Err(SigV4Error::InvalidContentSha256);
        }
    }

    let query_exclusions = match (claimed.form, rule.presigned_token) {
        (AuthForm::Header, _) => QueryExclusions::None,
        (AuthForm::Presigned, PresignedToken::Signed) => QueryExclusions::Signature,
        (AuthForm::Presigned, PresignedToken::Unsigned) => QueryExclusions::SignatureAndToken,
    };
    Ok(ParsedAuth {
        form: claimed.form,
        access_key_id: (*access_key_id).to_owned(),
        scope: CredentialScope {
            date: (*scope_date).to_owned(),
            region: (*region).to_owned(),
            service: (*scope_service).to_owned(),
        },
        signed_headers: claimed.signed_headers,
        signature: claimed.signature,
        request_time,
        amz_date,
        presigned_expires_at,
        session_token: claimed.session_token,
        content_sha256: claimed.content_sha256,
        query_exclusions,
        uri_encoding: rule.uri_encoding,
        normalize_path: rule.normalize_path,
    })
}
