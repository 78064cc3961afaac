//! Demonstrates Meridian's credential engine end to end, in one process and
//! without any server: what `bash scripts/dev.sh` runs until the `meridian`
//! binary exists.
//!
//! 1. A node master key (KEK) is generated, as `meridian dev` does.
//! 2. A data key is generated, envelope-encrypted under the KEK (the form the
//!    replicated store keeps), unwrapped again and put in a fresh key ring as
//!    the active signing key.
//! 3. A credential set is minted for an AssumeRole session, with session tags
//!    and a managed session policy, as an STS node would answer AssumeRole.
//! 4. The session token is opened again with nothing but the key ring — as
//!    any node in any region would — and the `GetCallerIdentity` triple is
//!    printed, along with the token's size.
//! 5. A tampered token, the token with another access key id, and the token
//!    after expiry are shown to be refused.
//! 6. A `GetCallerIdentity` request is signed with the credentials (SigV4,
//!    as botocore signs it) and verified as the edge will: parse the
//!    signature, open the session token named by `X-Amz-Security-Token`, and
//!    check the signature with the secret recovered from it.
//!
//! Secrets are never printed: only their lengths and redacted forms.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::time::Duration;

use meridian_core::arn::{Arn, Partition};
use meridian_core::ids::{AccessKeyId, AccessKeyKind, AccountId, UniqueId, UniqueIdKind};
use meridian_core::keyring::{DataKey, Kek, KeyRing, KeySchedule};
use meridian_core::principal::{AssumedRolePrincipal, Principal, SessionOrigin};
use meridian_core::rand::{BufferedRandom, SystemRng};
use meridian_core::sigv4::policy::VerifierPolicy;
use meridian_core::sigv4::request::{Payload, Request};
use meridian_core::sigv4::signer::{self, SigningOptions, SigningParams};
use meridian_core::sigv4::verifier::Verifier;
use meridian_core::time::Timestamp;
use meridian_core::token::{self, SessionPolicy, SessionSpec, SessionTag};

/// The one place this program reads the wall clock; meridian-core itself only
/// ever receives the time as an argument.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("credential demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = BufferedRandom::new(SystemRng::new());
    let now = wall_clock();
    let partition = Partition::aws();
    println!("Meridian credential engine demo (meridian-core, no server involved)\n");

    // 1–2. Master key, data key, envelope, key ring.
    let (kek, _kek_bytes) = Kek::generate(&mut rng)?;
    let mut ring = KeyRing::new();
    let key_id = ring.next_id();
    let data_key = DataKey::generate(key_id, &mut rng)?;
    let wrapped = kek.wrap(&data_key, &mut rng)?;
    drop(data_key);
    let unwrapped = kek.unwrap(&wrapped)?;
    ring.insert(unwrapped, KeySchedule::new(now, now))?;
    println!("key ring");
    println!("  master key (KEK) fingerprint  {}", kek.fingerprint());
    println!(
        "  data key {key_id}: wrapped under the KEK as {} bytes, unwrapped and active",
        wrapped.as_bytes().len()
    );

    // 3. AssumeRole: a session of role `deploy` in account 123456789012.
    let account = AccountId::parse("123456789012")?;
    let role_id = UniqueId::generate(UniqueIdKind::Role, &mut rng)?;
    let role = AssumedRolePrincipal::new(
        account,
        "/ci/",
        "deploy",
        role_id,
        "build-4711",
        SessionOrigin::AssumeRole,
    )?;
    let spec = SessionSpec {
        principal: Principal::AssumedRole(role),
        region: "eu-west-1".to_owned(),
        issued_at: now,
        expires_at: now.plus_seconds(3600),
        source_identity: Some("alice".to_owned()),
        tags: vec![
            SessionTag::new("Project", "Unicorn", true),
            SessionTag::new("Team", "A B", false),
        ],
        policy: SessionPolicy::new(
            None,
            vec![Arn::parse("arn:aws:iam::aws:policy/ReadOnlyAccess")?],
        )?,
        mfa_authenticated_at: None,
        role_chained: false,
        provider_claims: Vec::new(),
    };
    let minted = token::mint(&spec, &ring, &mut rng)?;
    let credentials = &minted.credentials;
    println!("\nAssumeRole credentials (minted in eu-west-1)");
    println!("  AccessKeyId      {}", credentials.access_key_id);
    println!(
        "  SecretAccessKey  {} ({} characters)",
        credentials.secret_access_key,
        credentials.secret_access_key.expose_secret().len()
    );
    println!(
        "  SessionToken     {} characters ({}…)",
        credentials.session_token.len(),
        &credentials.session_token.as_str()[..12]
    );
    println!("  Expiration       {}", credentials.expiration);
    println!("  PackedPolicySize {}", minted.packed_policy_percent);
    println!("  session id       {}", minted.session_id);
    if let Some(decoded) = credentials.access_key_id.account() {
        println!("  account decoded from the access key id alone: {decoded}");
    }

    // 4. Any node opens the token with its key ring alone.
    let leeway = Duration::from_secs(60);
    let claims = token::open(
        credentials.session_token.as_str(),
        &credentials.access_key_id,
        &ring,
        now.plus_seconds(5),
        leeway,
    )?;
    let identity = claims.spec.principal.caller_identity(&partition);
    let secret_matches = claims.secret_access_key == credentials.secret_access_key;
    println!("\nGetCallerIdentity, from the session token alone (no lookup, no network)");
    println!("  UserId   {}", identity.user_id);
    println!("  Arn      {}", identity.arn);
    println!("  Account  {}", identity.account);
    println!(
        "  recovered secret matches the issued one: {secret_matches}; region {}; {} tags; key {}",
        claims.spec.region,
        claims.spec.tags.len(),
        claims.key_id
    );

    // 5. What is refused.
    println!("\nrefused, as they must be");
    let text = credentials.session_token.as_str();
    let mut tampered = text.to_owned();
    let flipped = if &tampered[40..41] == "A" { "B" } else { "A" };
    tampered.replace_range(40..41, flipped);
    let other_key = AccessKeyId::generate(AccessKeyKind::Temporary, &account, &mut rng)?;
    let cases = [
        (
            "one character changed",
            token::open(&tampered, &credentials.access_key_id, &ring, now, leeway),
        ),
        (
            "another access key id",
            token::open(text, &other_key, &ring, now, leeway),
        ),
        (
            "two hours later",
            token::open(
                text,
                &credentials.access_key_id,
                &ring,
                now.plus_seconds(7200),
                leeway,
            ),
        ),
    ];
    for (case, outcome) in cases {
        match outcome {
            Ok(_) => return Err(format!("{case}: accepted").into()),
            Err(error) => println!("  {case:<22} -> {error}"),
        }
    }
    if !secret_matches {
        return Err("the recovered secret differs from the issued one".into());
    }

    // 6. A signed request, verified with the secret the token carries.
    verify_signed_request(credentials, &ring, now.plus_seconds(10), leeway)?;
    println!("\ndone: issue and verify need only the replicated key ring");
    Ok(())
}

fn verify_signed_request(
    credentials: &token::TemporaryCredentials,
    ring: &KeyRing,
    now: Timestamp,
    leeway: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let base_headers: [(&str, &[u8]); 2] = [
        ("host", b"sts.eu-west-1.example.internal"),
        (
            "content-type",
            b"application/x-www-form-urlencoded; charset=utf-8",
        ),
    ];
    let unsigned = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &base_headers,
        payload: Payload::Body(body),
    };
    let signature = signer::sign_headers(
        &unsigned,
        &SigningParams {
            access_key_id: credentials.access_key_id.as_str(),
            secret_access_key: credentials.secret_access_key.expose_secret().as_bytes(),
            session_token: Some(credentials.session_token.as_str()),
            region: "eu-west-1",
            service: "sts",
            time: now,
            options: SigningOptions::standard(),
        },
    )?;
    let added = signature.headers();
    let mut headers: Vec<(&str, &[u8])> = base_headers.to_vec();
    headers.extend(added.iter().map(|(name, value)| (*name, value.as_bytes())));
    let request = Request {
        headers: &headers,
        ..unsigned
    };

    // What the edge does with a request it received.
    let verifier = Verifier::new(VerifierPolicy::for_node("eu-west-1"));
    let parsed = verifier.parse(&request, "sts", now)?;
    let access_key_id = AccessKeyId::parse(parsed.access_key_id())?;
    let token_text = parsed
        .session_token()
        .and_then(|token| token.as_str())
        .ok_or("a temporary key needs X-Amz-Security-Token")?;
    let claims = token::open(token_text, &access_key_id, ring, now, leeway)?;
    let secret = claims.secret_access_key.expose_secret().as_bytes();
    let authenticated = verifier.verify(parsed, &request, secret)?;
    println!("\nSigV4: a signed GetCallerIdentity request, verified with the token's secret");
    println!("  signed as   {}", authenticated.access_key_id());
    println!("  scope       {}", authenticated.scope());
    println!(
        "  caller      {}",
        claims.spec.principal.arn(&Partition::aws())
    );

    // The same request with one byte of the body changed no longer verifies.
    let altered_body = b"Action=GetCallerIdentity&Version=2011-06-16";
    let altered = Request {
        payload: Payload::Body(altered_body),
        ..request
    };
    let parsed = verifier.parse(&altered, "sts", now)?;
    match verifier.verify(parsed, &altered, secret) {
        Ok(_) => Err("an altered request verified".into()),
        Err(error) => {
            println!("  altered body -> {error}");
            Ok(())
        }
    }
}
