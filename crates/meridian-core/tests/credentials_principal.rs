//! Principal tests: the `GetCallerIdentity` triple and ARN forms for every
//! principal kind and partition (`STS-API.md` §2.6–2.7), and the IAM limits
//! the constructors enforce.

use meridian_core::arn::{Arn, Partition};
use meridian_core::ids::{AccountId, UniqueId};
use meridian_core::principal::{
    AssumedRolePrincipal, FederatedUserPrincipal, Principal, PrincipalError, PrincipalKind,
    SessionOrigin, UserPrincipal,
};

fn account() -> AccountId {
    AccountId::parse("123456789012").unwrap()
}

fn user() -> UserPrincipal {
    let id = UniqueId::parse("AIDAJ45Q7YFFAREXAMPLE").unwrap();
    UserPrincipal::new(account(), "/division_abc/subdivision_xyz/", "Bob", id).unwrap()
}

fn role_session(origin: SessionOrigin) -> AssumedRolePrincipal {
    let id = UniqueId::parse("AROAIDPPEZS35WEXAMPLE").unwrap();
    AssumedRolePrincipal::new(account(), "/team/", "demo", id, "John", origin).unwrap()
}

fn provider(text: &str) -> Arn {
    Arn::parse(text).unwrap()
}

#[test]
fn caller_identity_for_every_kind() {
    let aws = Partition::aws();
    let china = Partition::new("aws-cn").unwrap();
    let web = SessionOrigin::web_identity(provider(
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
    ))
    .unwrap();
    let saml =
        SessionOrigin::saml(provider("arn:aws:iam::123456789012:saml-provider/okta")).unwrap();
    let cases: Vec<(Principal, &Partition, &str, &str, PrincipalKind)> = vec![
        (
            Principal::Root(account()),
            &aws,
            "123456789012",
            "arn:aws:iam::123456789012:root",
            PrincipalKind::Root,
        ),
        (
            Principal::User(user()),
            &aws,
            "AIDAJ45Q7YFFAREXAMPLE",
            "arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/Bob",
            PrincipalKind::User,
        ),
        (
            Principal::AssumedRole(role_session(SessionOrigin::AssumeRole)),
            &aws,
            "AROAIDPPEZS35WEXAMPLE:John",
            "arn:aws:sts::123456789012:assumed-role/demo/John",
            PrincipalKind::AssumedRole,
        ),
        (
            Principal::AssumedRole(role_session(web)),
            &china,
            "AROAIDPPEZS35WEXAMPLE:John",
            "arn:aws-cn:sts::123456789012:assumed-role/demo/John",
            PrincipalKind::AssumedRole,
        ),
        (
            Principal::AssumedRole(role_session(saml)),
            &aws,
            "AROAIDPPEZS35WEXAMPLE:John",
            "arn:aws:sts::123456789012:assumed-role/demo/John",
            PrincipalKind::AssumedRole,
        ),
        (
            Principal::FederatedUser(
                FederatedUserPrincipal::new(account(), "Bob-federated", Some(user())).unwrap(),
            ),
            &aws,
            "123456789012:Bob-federated",
            "arn:aws:sts::123456789012:federated-user/Bob-federated",
            PrincipalKind::FederatedUser,
        ),
        (
            Principal::FederatedUser(
                FederatedUserPrincipal::new(account(), "rooted", None).unwrap(),
            ),
            &china,
            "123456789012:rooted",
            "arn:aws-cn:sts::123456789012:federated-user/rooted",
            PrincipalKind::FederatedUser,
        ),
    ];
    for (principal, partition, user_id, arn, kind) in cases {
        let identity = principal.caller_identity(partition);
        assert_eq!(identity.user_id, user_id);
        assert_eq!(identity.arn.to_string(), arn);
        assert_eq!(principal.arn_text(partition), arn);
        assert_eq!(identity.account, account());
        assert_eq!(principal.kind(), kind);
        // Every rendered ARN parses back to itself.
        assert_eq!(Arn::parse(arn).unwrap(), identity.arn);
    }
}

#[test]
fn role_arn_keeps_the_path_that_the_session_arn_drops() {
    let session = role_session(SessionOrigin::AssumeRole);
    let aws = Partition::aws();
    assert_eq!(
        session.role_arn(&aws).to_string(),
        "arn:aws:iam::123456789012:role/team/demo"
    );
    assert!(!session.arn(&aws).to_string().contains("team"));
    let china = Partition::new("aws-cn").unwrap();
    assert_eq!(
        session.role_arn_text(&china),
        "arn:aws-cn:iam::123456789012:role/team/demo"
    );
    assert_eq!(
        session.role_arn_text(&aws),
        session.role_arn(&aws).to_string()
    );
}

#[test]
fn constructors_enforce_iam_limits() {
    let uid = || UniqueId::parse("AIDAJ45Q7YFFAREXAMPLE").unwrap();
    let rid = || UniqueId::parse("AROAIDPPEZS35WEXAMPLE").unwrap();
    let long_path = format!("/{}/", "p".repeat(511));
    for (path, name, error) in [
        ("", "Bob", PrincipalError::InvalidPath),
        ("team/", "Bob", PrincipalError::InvalidPath),
        ("/team", "Bob", PrincipalError::InvalidPath),
        ("/te am/", "Bob", PrincipalError::InvalidPath),
        (long_path.as_str(), "Bob", PrincipalError::InvalidPath),
        ("/", "", PrincipalError::InvalidName),
        ("/", "Bob/x", PrincipalError::InvalidName),
        ("/", &"b".repeat(65), PrincipalError::InvalidName),
    ] {
        assert_eq!(
            UserPrincipal::new(account(), path, name, uid()),
            Err(error),
            "{path:?} {name:?}"
        );
    }
    assert_eq!(
        UserPrincipal::new(account(), "/", "Bob", rid()),
        Err(PrincipalError::WrongIdKind)
    );
    let max_path = format!("/{}/", "p".repeat(510));
    assert!(UserPrincipal::new(account(), &max_path, &"b".repeat(64), uid()).is_ok());

    for (session, error) in [
        ("J", PrincipalError::InvalidSessionName),
        ("John Smith", PrincipalError::InvalidSessionName),
        (&*"s".repeat(65), PrincipalError::InvalidSessionName),
    ] {
        assert_eq!(
            AssumedRolePrincipal::new(
                account(),
                "/",
                "r",
                rid(),
                session,
                SessionOrigin::AssumeRole
            ),
            Err(error),
            "{session}"
        );
    }
    assert!(
        AssumedRolePrincipal::new(
            account(),
            "/",
            "r",
            rid(),
            "a@b.c=d,e+f_g-h",
            SessionOrigin::AssumeRole
        )
        .is_ok()
    );
    assert_eq!(
        FederatedUserPrincipal::new(account(), &"f".repeat(33), None),
        Err(PrincipalError::InvalidFederatedName)
    );
    let elsewhere =
        UserPrincipal::new(AccountId::parse("210987654321").unwrap(), "/", "Bob", uid()).unwrap();
    assert_eq!(
        FederatedUserPrincipal::new(account(), "fed", Some(elsewhere)),
        Err(PrincipalError::AccountMismatch)
    );
    assert_eq!(
        SessionOrigin::web_identity(provider("arn:aws:iam::123456789012:saml-provider/okta")),
        Err(PrincipalError::InvalidProvider)
    );
    assert_eq!(
        SessionOrigin::saml(provider("arn:aws:s3:::saml-provider/okta")),
        Err(PrincipalError::InvalidProvider)
    );
}
