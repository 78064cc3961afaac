//! The batch and stream forms answer exactly what the unary calls answer,
//! call by call, errors included (an error in one call of a batch is that
//! call's result, not the batch's).

use futures::StreamExt;
use meridian_proto::pb;
use meridian_proto::pb::verifier_call::Call;
use meridian_proto::pb::verifier_result::Result as Outcome;

use crate::support::*;

/// The parts of a result that must not differ between forms: encoded
/// messages are sealed with a fresh nonce each time (only their presence is
/// compared).
fn normalize(mut outcome: Outcome) -> Outcome {
    fn authorization(response: &mut pb::AuthorizeResponse) {
        if !response.encoded_message.is_empty() {
            response.encoded_message = String::from("<sealed>");
        }
    }
    match &mut outcome {
        Outcome::Authorize(response) => authorization(response),
        Outcome::AuthenticateAndAuthorize(response) => {
            if let Some(response) = response.authorization.as_mut() {
                authorization(response);
            }
        }
        Outcome::Authenticate(_) | Outcome::Error(_) => {}
    }
    outcome
}

#[tokio::test]
async fn batch_and_stream_answer_as_unary() {
    bounded(async {
        let mut world = World::new();
        let read = world.create_policy(
            ACCOUNT_A,
            "ReadWidget1",
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read1","Effect":"Allow","Action":"widgets:GetWidget","Resource":"arn:aws:widgets:eu-west-1:111111111111:widget/1"}]}"#,
        );
        let role = world.create_role(ACCOUNT_A, "reader", &[&read], None, &[]);
        let session = world.mint_role_session(&role, &SessionOptions::default());
        world.create_user(ACCOUNT_A, "bob", &[]);
        let bob = world.add_key(ACCOUNT_A, "bob");
        let mut served = Served::start(&world, at(10)).await;

        let handle = served
            .client
            .authenticate(authenticate_input(sign_request(
                &session,
                &Unsigned::get("/"),
                at(0),
            )))
            .await
            .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
            .into_inner()
            .context_handle;
        let widget = |id: u32| format!("arn:aws:widgets:eu-west-1:111111111111:widget/{id}");
        let both = |creds: &Creds, id: u32| pb::AuthenticateAndAuthorizeRequest {
            authenticate: Some(authenticate_input(sign_request(
                creds,
                &Unsigned::get(&format!("/widgets/{id}")),
                at(0),
            ))),
            action: "widgets:GetWidget".into(),
            resource: widget(id),
            context: vec![pb::ContextEntry {
                key: "widgets:Color".into(),
                value: Some(pb::context_entry::Value::StringValue("blue".into())),
            }],
        };
        let by_handle = |id: u32| pb::AuthorizeRequest {
            subject: Some(pb::authorize_request::Subject::ContextHandle(handle.clone())),
            action: "widgets:GetWidget".into(),
            resource: widget(id),
            context: Vec::new(),
        };
        let mut tampered = sign_request(&session, &Unsigned::get("/widgets/1"), at(0));
        tampered.path = "/widgets/2".into();
        let calls = vec![
            Call::AuthenticateAndAuthorize(both(&session, 1)),
            Call::AuthenticateAndAuthorize(both(&session, 2)),
            Call::AuthenticateAndAuthorize(both(&bob, 1)),
            Call::Authorize(by_handle(1)),
            Call::Authorize(by_handle(3)),
            Call::Authenticate(authenticate_input(sign_request(
                &bob,
                &Unsigned::get("/"),
                at(0),
            ))),
            Call::Authenticate(authenticate_input(tampered)),
            Call::Authorize(pb::AuthorizeRequest {
                subject: None,
                action: "widgets:GetWidget".into(),
                resource: "*".into(),
                context: Vec::new(),
            }),
        ];

        tracing::info!("--- unary");
        let mut unary = Vec::new();
        for call in &calls {
            let outcome = match call.clone() {
                Call::Authenticate(request) => served
                    .client
                    .authenticate(request)
                    .await
                    .map(|r| Outcome::Authenticate(r.into_inner())),
                Call::Authorize(request) => served
                    .client
                    .authorize(request)
                    .await
                    .map(|r| Outcome::Authorize(r.into_inner())),
                Call::AuthenticateAndAuthorize(request) => served
                    .client
                    .authenticate_and_authorize(request)
                    .await
                    .map(|r| Outcome::AuthenticateAndAuthorize(r.into_inner())),
            };
            unary.push(normalize(
                outcome.unwrap_or_else(|status| Outcome::Error(pb_error(&status))),
            ));
        }
        // The table itself: allow, deny, deny, allow, deny, ok, refused, invalid.
        let decisions: Vec<String> = unary
            .iter()
            .map(|outcome| match outcome {
                Outcome::AuthenticateAndAuthorize(r) => format!(
                    "{}",
                    r.authorization.as_ref().map_or(0, |a| a.decision)
                ),
                Outcome::Authorize(r) => format!("{}", r.decision),
                Outcome::Authenticate(_) => String::from("authenticated"),
                Outcome::Error(e) => e.code.clone(),
            })
            .collect();
        assert_eq!(
            decisions,
            [
                "1",
                "2",
                "2",
                "1",
                "2",
                "authenticated",
                "SignatureDoesNotMatch",
                "InvalidRequest"
            ]
        );

        tracing::info!("--- batch");
        let batch = served
            .client
            .batch(pb::VerifierBatchRequest {
                calls: calls
                    .iter()
                    .enumerate()
                    .map(|(id, call)| pb::VerifierCall {
                        id: id as u64,
                        call: Some(call.clone()),
                    })
                    .collect(),
            })
            .await
            .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
            .into_inner();
        assert_eq!(batch.results.len(), calls.len());
        for (index, result) in batch.results.into_iter().enumerate() {
            assert_eq!(result.id, index as u64);
            let outcome = normalize(result.result.unwrap_or_else(|| panic!("empty result")));
            assert_eq!(outcome, unary[index], "batch call {index}");
        }

        tracing::info!("--- stream");
        let outbound = futures::stream::iter(
            calls
                .iter()
                .enumerate()
                .map(|(id, call)| pb::VerifierCall {
                    id: 100 + id as u64,
                    call: Some(call.clone()),
                })
                .collect::<Vec<_>>(),
        );
        let mut inbound = served
            .client
            .stream(outbound)
            .await
            .unwrap_or_else(|status| panic!("{:?}", pb_error(&status)))
            .into_inner();
        let mut seen = 0;
        while let Some(result) = inbound.next().await {
            let result = result.unwrap_or_else(|status| panic!("{status:?}"));
            let index = usize::try_from(result.id - 100).unwrap_or(usize::MAX);
            let outcome = normalize(result.result.unwrap_or_else(|| panic!("empty result")));
            assert_eq!(outcome, unary[index], "stream call {index}");
            seen += 1;
        }
        assert_eq!(seen, calls.len());
        served.stop().await;
    })
    .await;
}
