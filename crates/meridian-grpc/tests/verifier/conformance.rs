//! Authenticate conformance: requests signed by botocore (committed fixtures
//! from `fixtures/gen_botocore.py`) and by the `aws-sigv4` crate for the
//! made-up service `widgets` are authenticated with the right session
//! context; every single-byte mutation of a signed component is refused;
//! expired, denied, revoked and disabled credentials are refused, through
//! context handles too.

use aws_sigv4::http_request::SignatureLocation;
use meridian_core::config::model::AccessKeyStatus;
use meridian_proto::pb;
use serde_json::Value as Json;
use tonic::Code;

use crate::support::*;

fn fixture_request(request: &Json) -> pb::SignedHttpRequest {
    let text = |field: &str| request[field].as_str().unwrap_or_default().to_owned();
    let headers = request["headers"]
        .as_array()
        .map(|headers| {
            headers
                .iter()
                .map(|pair| pb::HttpHeader {
                    name: pair[0].as_str().unwrap_or_default().to_owned(),
                    value: pair[1].as_str().unwrap_or_default().as_bytes().to_vec(),
                })
                .collect()
        })
        .unwrap_or_default();
    pb::SignedHttpRequest {
        method: text("method"),
        path: text("path"),
        query: text("query"),
        headers,
        payload: Some(pb::signed_http_request::Payload::Body(
            text("body").into_bytes(),
        )),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

/// Requests signed by botocore 1.44.8 (the compatibility suite's pin) for
/// `widgets` authenticate, with the body inline or as its hash; scoped to
/// another service or region they are refused.
#[tokio::test]
async fn botocore_signed_requests_authenticate() {
    bounded(async {
        let fixture: Json = serde_json::from_str(include_str!("fixtures/botocore_widgets.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fixture["now_unix"].as_i64(), Some(T0));
        let mut world = World::new();
        world.create_user(ACCOUNT_A, "widget-reader", &[]);
        world.import_key(
            ACCOUNT_A,
            "widget-reader",
            fixture["access_key_id"].as_str().unwrap_or_default(),
            fixture["secret_access_key"].as_str().unwrap_or_default(),
        );
        let mut served = Served::start(&world, at(30)).await;
        let requests = fixture["requests"].as_array().cloned().unwrap_or_default();
        assert!(
            requests.len() >= 7,
            "fixture has {} requests",
            requests.len()
        );
        for request in &requests {
            let name = request["name"].as_str().unwrap_or_default();
            let signed = fixture_request(request);
            tracing::info!("--- {name}");
            let answer = served
                .client
                .authenticate(authenticate_input(signed.clone()))
                .await
                .unwrap_or_else(|status| panic!("{name}: {:?}", pb_error(&status)))
                .into_inner();
            let context = answer.context.unwrap_or_default();
            assert_eq!(
                context.arn, "arn:aws:iam::111111111111:user/widget-reader",
                "{name}"
            );
            assert_eq!(context.principal_type, pb::PrincipalType::User as i32);
            assert_eq!(context.account_id, ACCOUNT_A);
            assert!(!context.temporary);
            assert!(!answer.context_handle.is_empty());

            // The body as its hash authenticates the same.
            let mut hashed = signed.clone();
            let body = request["body"].as_str().unwrap_or_default().as_bytes();
            hashed.payload = Some(pb::signed_http_request::Payload::BodySha256(sha256_hex(
                body,
            )));
            let by_hash = served.client.authenticate(authenticate_input(hashed)).await;
            assert_eq!(error_code(&by_hash), "", "{name} by hash");

            // Another signing name or region than the one signed for.
            for (service, region) in [("gadgets", REGION), (SERVICE, "us-east-1")] {
                let mut input = authenticate_input(signed.clone());
                input.service = service.into();
                input.region = region.into();
                let refused = served.client.authenticate(input).await;
                assert_eq!(
                    refused.as_ref().err().map(tonic::Status::code),
                    Some(Code::Unauthenticated),
                    "{name} as {service}/{region}"
                );
            }
        }
        served.stop().await;
    })
    .await;
}

/// Requests signed with the `aws-sigv4` crate — header and presigned forms,
/// several methods, bodies and queries — by a user and by a role session
/// authenticate, and the session context carries what the token asserts.
#[tokio::test]
async fn aws_sigv4_signed_requests_authenticate_with_their_session_context() {
    bounded(async {
        let mut world = World::new();
        world.create_user(ACCOUNT_A, "alice", &[]);
        let alice = world.add_key(ACCOUNT_A, "alice");
        let role = world.create_role(ACCOUNT_A, "reader", &[], None, &[]);
        let session = world.mint_role_session(
            &role,
            &SessionOptions {
                session_name: "build-42".into(),
                tags: vec![("team".into(), "blue".into())],
                source_identity: Some("alice@example.com".into()),
                mfa: true,
                inline_policy: Some(ALLOW_ALL.into()),
                ..SessionOptions::default()
            },
        );
        let mut served = Served::start(&world, at(60)).await;
        let requests = [
            Unsigned::get("/widgets/7").with_query("color=blue&size=3"),
            Unsigned::get("/widgets/a%20b/%3D").with_query("tag=y&tag=x&empty="),
            Unsigned::get("/").with_header("x-widget-trace", "  a   b "),
            Unsigned::get("/widgets")
                .with_method("POST")
                .with_header("content-type", "application/json")
                .with_body(br#"{"name":"sprocket"}"#),
            Unsigned::get("/widgets/11").with_method("DELETE"),
        ];
        for creds in [&alice, &session] {
            for request in &requests {
                for location in [SignatureLocation::Headers, SignatureLocation::QueryParams] {
                    let signed = sign_with(creds, request, SERVICE, REGION, at(0), location);
                    let answer = served
                        .client
                        .authenticate(authenticate_input(signed))
                        .await
                        .unwrap_or_else(|status| {
                            panic!("{request:?} {location:?}: {:?}", pb_error(&status))
                        })
                        .into_inner();
                    assert_eq!(
                        answer.context.map(|c| c.access_key_id),
                        Some(creds.access_key_id.clone())
                    );
                }
            }
        }

        let signed = sign_request(&session, &requests[0], at(0));
        let mut input = authenticate_input(signed);
        input.source_ip = "192.0.2.10".into();
        let answer = served
            .client
            .authenticate(input)
            .await
            .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
            .into_inner();
        let context = answer.context.unwrap_or_default();
        assert_eq!(
            context.arn,
            "arn:aws:sts::111111111111:assumed-role/reader/build-42"
        );
        assert_eq!(
            context.principal_type,
            pb::PrincipalType::AssumedRole as i32
        );
        assert_eq!(context.role_arn, role.arn);
        assert_eq!(context.session_name, "build-42");
        assert_eq!(context.user_id, format!("{}:build-42", role.role_id));
        assert!(context.temporary);
        assert_eq!(Some(context.session_id.clone()), session.session_id);
        assert_eq!(context.source_identity, "alice@example.com");
        assert_eq!(
            context.tags,
            vec![pb::SessionTag {
                key: "team".into(),
                value: "blue".into(),
                transitive: false
            }]
        );
        assert!(context.mfa_authenticated);
        assert_eq!(context.mfa_authenticated_at_ms, at(0).unix_millis());
        assert_eq!(context.issued_at_ms, at(0).unix_millis());
        assert_eq!(context.expires_at_ms, at(3_600).unix_millis());
        assert_eq!(context.issuing_region, REGION);
        assert_eq!(context.key_id, 1);
        assert!(context.has_session_policy);
        // The handle lasts 15 minutes from authentication.
        assert_eq!(
            answer.context_handle_expires_at_ms,
            at(60 + 900).unix_millis()
        );
        served.stop().await;
    })
    .await;
}

/// Every component SigV4 covers, each byte changed in turn (XOR 1), is
/// refused: method, path, query, every signed header's value (the
/// Authorization header, the date, the session token and host included),
/// and the body. Nothing is accepted and nothing errors other than
/// UNAUTHENTICATED.
#[tokio::test]
async fn every_single_byte_mutation_of_a_signed_component_is_refused() {
    bounded(async {
        let mut world = World::new();
        let role = world.create_role(ACCOUNT_A, "writer", &[], None, &[]);
        let session = world.mint_role_session(&role, &SessionOptions::default());
        let mut served = Served::start(&world, at(10)).await;
        let request = Unsigned::get("/widgets/7")
            .with_method("PUT")
            .with_query("color=blue&size=3")
            .with_header("x-widget-trace", "abc")
            .with_body(b"{\"size\":4}");
        let signed = sign_request(&session, &request, at(0));
        // The original authenticates.
        let original = served
            .client
            .authenticate(authenticate_input(signed.clone()))
            .await;
        assert_eq!(error_code(&original), "");

        let signed_names: Vec<String> = {
            let authorization = signed
                .headers
                .iter()
                .find(|h| h.name == "authorization")
                .map(|h| String::from_utf8_lossy(&h.value).into_owned())
                .unwrap_or_default();
            let list = authorization
                .split("SignedHeaders=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap_or_default()
                .to_owned();
            let mut names: Vec<String> = list.split(';').map(str::to_owned).collect();
            names.push("authorization".into());
            names
        };
        assert!(signed_names.contains(&"x-amz-security-token".to_owned()));
        assert!(signed_names.contains(&"host".to_owned()));

        let mut mutants: Vec<(String, pb::SignedHttpRequest)> = Vec::new();
        let flip = |text: &str, index: usize| {
            let mut bytes = text.as_bytes().to_vec();
            bytes[index] ^= 1;
            String::from_utf8_lossy(&bytes).into_owned()
        };
        for index in 0..signed.method.len() {
            let mut m = signed.clone();
            m.method = flip(&signed.method, index);
            mutants.push((format!("method[{index}]"), m));
        }
        for index in 0..signed.path.len() {
            let mut m = signed.clone();
            m.path = flip(&signed.path, index);
            mutants.push((format!("path[{index}]"), m));
        }
        for index in 0..signed.query.len() {
            let mut m = signed.clone();
            m.query = flip(&signed.query, index);
            mutants.push((format!("query[{index}]"), m));
        }
        for (position, header) in signed.headers.iter().enumerate() {
            if !signed_names.contains(&header.name) {
                continue;
            }
            for index in 0..header.value.len() {
                let mut m = signed.clone();
                m.headers[position].value[index] ^= 1;
                mutants.push((format!("{}[{index}]", header.name), m));
            }
        }
        let body = b"{\"size\":4}";
        for index in 0..body.len() {
            let mut m = signed.clone();
            let mut changed = body.to_vec();
            changed[index] ^= 1;
            m.payload = Some(pb::signed_http_request::Payload::Body(changed));
            mutants.push((format!("body[{index}]"), m));
        }
        // Every component was mutated: the method, path, query, body and each
        // signed header (the Authorization header included).
        let mut components: Vec<String> = vec![
            "method".into(),
            "path".into(),
            "query".into(),
            "body".into(),
        ];
        components.extend(signed_names.iter().cloned());
        for component in &components {
            let prefix = format!("{component}[");
            assert!(
                mutants.iter().any(|(name, _)| name.starts_with(&prefix)),
                "no mutant of {component}"
            );
        }
        assert!(mutants.len() > 400, "only {} mutants", mutants.len());

        let mut accepted = Vec::new();
        for (name, mutant) in &mutants {
            let result = served
                .client
                .authenticate(authenticate_input(mutant.clone()))
                .await;
            match result {
                Ok(_) => accepted.push(name.clone()),
                Err(status) => assert!(
                    matches!(status.code(), Code::Unauthenticated | Code::InvalidArgument),
                    "{name}: {status:?}"
                ),
            }
        }
        assert!(accepted.is_empty(), "mutants accepted: {accepted:?}");
        served.stop().await;
    })
    .await;
}

/// Expired sessions are `ExpiredToken`; a denied session id and a disabled
/// long-term key are `InvalidClientTokenId` at once — by request and by an
/// earlier context handle; a session under a destroyed data key is
/// `InvalidClientTokenId`; a role's sessions revoked before T still
/// authenticate and are denied by Authorize as an explicit deny.
#[tokio::test]
async fn expired_revoked_and_disabled_credentials_are_refused() {
    bounded(async {
        let mut world = World::new();
        let admin = World::policy_arn(ACCOUNT_A, "AdminAccess");
        world.create_user(ACCOUNT_A, "alice", &[&admin]);
        let alice = world.add_key(ACCOUNT_A, "alice");
        let role = world.create_role(ACCOUNT_A, "reader", &[&admin], None, &[]);
        let denied = world.mint_role_session(&role, &SessionOptions::default());
        let older = world.mint_role_session(&role, &SessionOptions::default());
        let mut served = Served::start(&world, at(10)).await;
        let request = Unsigned::get("/widgets/1");
        let authorize = |handle: Vec<u8>| pb::AuthorizeRequest {
            subject: Some(pb::authorize_request::Subject::ContextHandle(handle)),
            action: "widgets:GetWidget".into(),
            resource: "*".into(),
            context: Vec::new(),
        };

        tracing::info!("--- handles taken before the revocations");
        let mut handles = Vec::new();
        for creds in [&alice, &denied, &older] {
            let answer = served
                .client
                .authenticate(authenticate_input(sign_request(creds, &request, at(0))))
                .await
                .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
                .into_inner();
            let allowed = served
                .client
                .authorize(authorize(answer.context_handle.clone()))
                .await
                .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
                .into_inner();
            assert_eq!(allowed.decision, pb::Decision::Allow as i32);
            handles.push(answer.context_handle);
        }

        tracing::info!("--- deny one session, disable alice's key, revoke older sessions");
        world.deny_session(&denied);
        world.set_key_status(ACCOUNT_A, &alice.access_key_id, AccessKeyStatus::Inactive);
        world.revoke_role_sessions(&role, at(5));
        served.publish(&world);
        for (creds, handle) in [(&alice, &handles[0]), (&denied, &handles[1])] {
            let by_request = served
                .client
                .authenticate(authenticate_input(sign_request(creds, &request, at(0))))
                .await;
            assert_eq!(error_code(&by_request), "InvalidClientTokenId");
            let by_handle = served.client.authorize(authorize(handle.clone())).await;
            assert_eq!(error_code(&by_handle), "InvalidClientTokenId");
        }
        let revoked = served
            .client
            .authenticate_and_authorize(pb::AuthenticateAndAuthorizeRequest {
                authenticate: Some(authenticate_input(sign_request(&older, &request, at(0)))),
                action: "widgets:GetWidget".into(),
                resource: "*".into(),
                context: Vec::new(),
            })
            .await
            .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
            .into_inner();
        let decision = revoked.authorization.unwrap_or_default();
        assert_eq!(decision.decision, pb::Decision::Deny as i32);
        assert_eq!(decision.deny_kind, pb::DenyKind::Revoked as i32);
        assert!(
            decision
                .message
                .ends_with("with an explicit deny in an identity-based policy"),
            "{}",
            decision.message
        );
        let by_handle = served
            .client
            .authorize(authorize(handles[2].clone()))
            .await
            .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
            .into_inner();
        assert_eq!(by_handle.deny_kind, pb::DenyKind::Revoked as i32);

        tracing::info!("--- expiry: past the session end and the leeway");
        let fresh = world.mint_role_session(
            &role,
            &SessionOptions {
                issued_at: 10,
                lifetime: 900,
                ..SessionOptions::default()
            },
        );
        served.publish(&world);
        let late = at(10 + 900 + 31);
        served.clock.set(late);
        let expired = served
            .client
            .authenticate(authenticate_input(sign_request(&fresh, &request, late)))
            .await;
        assert_eq!(error_code(&expired), "ExpiredToken");

        tracing::info!("--- a destroyed data key");
        served.clock.set(at(30));
        world.set_config_clock(at(20));
        world.rotate(2, at(20));
        world.destroy(1);
        served.publish(&world);
        let destroyed = served
            .client
            .authenticate(authenticate_input(sign_request(&fresh, &request, at(30))))
            .await;
        assert_eq!(error_code(&destroyed), "InvalidClientTokenId");
        served.stop().await;
    })
    .await;
}

/// Context handles: altered or foreign handles and expired ones are
/// `InvalidContextHandle`; a handle names the caller it was made for.
#[tokio::test]
async fn context_handles_are_authenticated_and_expire() {
    bounded(async {
        let mut world = World::new();
        let admin = World::policy_arn(ACCOUNT_A, "AdminAccess");
        let role = world.create_role(ACCOUNT_A, "reader", &[&admin], None, &[]);
        let session = world.mint_role_session(
            &role,
            &SessionOptions {
                lifetime: 7_200,
                ..SessionOptions::default()
            },
        );
        let mut served = Served::start(&world, at(10)).await;
        let answer = served
            .client
            .authenticate(authenticate_input(sign_request(
                &session,
                &Unsigned::get("/"),
                at(0),
            )))
            .await
            .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
            .into_inner();
        let handle = answer.context_handle;
        let authorize = |handle: Vec<u8>| pb::AuthorizeRequest {
            subject: Some(pb::authorize_request::Subject::ContextHandle(handle)),
            action: "widgets:GetWidget".into(),
            resource: "*".into(),
            context: Vec::new(),
        };
        let ok = served.client.authorize(authorize(handle.clone())).await;
        assert_eq!(error_code(&ok), "");
        for index in [0, 1, 9, handle.len() / 2, handle.len() - 1] {
            let mut altered = handle.clone();
            altered[index] ^= 0x20;
            let refused = served.client.authorize(authorize(altered)).await;
            assert_eq!(error_code(&refused), "InvalidContextHandle", "byte {index}");
        }
        let empty = served.client.authorize(authorize(Vec::new())).await;
        assert_eq!(error_code(&empty), "InvalidContextHandle");
        served.clock.set(at(10 + 900));
        let expired = served.client.authorize(authorize(handle)).await;
        assert_eq!(error_code(&expired), "InvalidContextHandle");
        served.stop().await;
    })
    .await;
}

/// Calls the Verifier refuses before any cryptography: Meridian's own
/// signing names, malformed names and addresses, reserved context keys,
/// missing subjects; and a node that is not ready answers UNAVAILABLE.
#[tokio::test]
async fn malformed_calls_are_invalid_arguments() {
    bounded(async {
        let mut world = World::new();
        world.create_user(ACCOUNT_A, "alice", &[]);
        let alice = world.add_key(ACCOUNT_A, "alice");
        let mut served = Served::start(&world, at(10)).await;
        let signed = sign_request(&alice, &Unsigned::get("/"), at(0));
        for (service, region, ip) in [
            ("sts", REGION, ""),
            ("iam", REGION, ""),
            ("meridian", REGION, ""),
            ("Widgets", REGION, ""),
            (SERVICE, "", ""),
            (SERVICE, REGION, "not-an-ip"),
        ] {
            let mut input = authenticate_input(signed.clone());
            input.service = service.into();
            input.region = region.into();
            input.source_ip = ip.into();
            let refused = served.client.authenticate(input).await;
            assert_eq!(
                refused.as_ref().err().map(tonic::Status::code),
                Some(Code::InvalidArgument),
                "{service}/{region}/{ip}"
            );
            assert_eq!(error_code(&refused), "InvalidRequest");
        }
        for key in [
            "aws:PrincipalArn",
            "aws:SourceIp",
            "aws:userid",
            "saml:sub",
            "nokey",
        ] {
            let refused = served
                .client
                .authenticate_and_authorize(pb::AuthenticateAndAuthorizeRequest {
                    authenticate: Some(authenticate_input(signed.clone())),
                    action: "widgets:GetWidget".into(),
                    resource: "*".into(),
                    context: vec![pb::ContextEntry {
                        key: key.into(),
                        value: Some(pb::context_entry::Value::StringValue("x".into())),
                    }],
                })
                .await;
            assert_eq!(error_code(&refused), "InvalidRequest", "{key}");
        }
        let no_subject = served
            .client
            .authorize(pb::AuthorizeRequest {
                subject: None,
                action: "widgets:GetWidget".into(),
                resource: "*".into(),
                context: Vec::new(),
            })
            .await;
        assert_eq!(error_code(&no_subject), "InvalidRequest");

        // Outside the clock window: AWS's "Signature expired" answer.
        served.clock.set(at(16 * 60));
        let stale = served
            .client
            .authenticate(authenticate_input(signed.clone()))
            .await;
        assert_eq!(error_code(&stale), "SignatureDoesNotMatch");
        served.clock.set(at(10));

        served
            .ready
            .0
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let unready = served.client.authenticate(authenticate_input(signed)).await;
        assert_eq!(
            unready.as_ref().err().map(tonic::Status::code),
            Some(Code::Unavailable)
        );
        assert_eq!(error_code(&unready), "ServiceUnavailable");
        served.stop().await;
    })
    .await;
}
