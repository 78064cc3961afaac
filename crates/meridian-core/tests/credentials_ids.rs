//! Identifier tests: access key ids (the account layout of `STS-API.md` §2.5,
//! with its two worked examples), unique ids and secret access keys — table
//! tests for the fixed cases and property tests for the account round trip.

use meridian_core::ids::{
    AccessKeyId, AccessKeyIdError, AccessKeyKind, AccountId, SecretAccessKey, SecretAccessKeyError,
    UniqueId, UniqueIdError, UniqueIdKind,
};
use meridian_core::rand::DeterministicRandom;
use proptest::prelude::*;
use subtle::ConstantTimeEq;

#[test]
fn decodes_the_account_of_the_worked_examples() {
    for (key, account, kind) in [
        (
            "ASIAQAAAAAAAGMKEM7X5",
            "000000000000",
            AccessKeyKind::Temporary,
        ),
        (
            "AKIARZPUZDIKGB2VALC4",
            "123456789012",
            AccessKeyKind::LongTerm,
        ),
    ] {
        let id = AccessKeyId::parse(key).unwrap();
        assert_eq!(id.account().unwrap().as_str(), account, "{key}");
        assert_eq!(id.kind(), kind, "{key}");
        assert_eq!(id.to_string(), key);
    }
    // AWS's documentation key does not follow the account layout.
    assert_eq!(
        AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE")
            .unwrap()
            .account(),
        None
    );
}

#[test]
fn generated_access_key_ids_encode_their_account() {
    let mut rng = DeterministicRandom::from_seed(3);
    for (account, kind) in [
        ("123456789012", AccessKeyKind::LongTerm),
        ("000000000001", AccessKeyKind::Temporary),
        ("999999999999", AccessKeyKind::Temporary),
    ] {
        let account = AccountId::parse(account).unwrap();
        let id = AccessKeyId::generate(kind, &account, &mut rng).unwrap();
        assert!(id.as_str().starts_with(kind.prefix()));
        assert_eq!(id.kind(), kind);
        assert_eq!(id.account(), Some(account));
        assert_eq!(AccessKeyId::parse(id.as_str()), Ok(id));
        assert_eq!(AccessKeyId::from_suffix_bytes(kind, &id.suffix_bytes()), id);
    }
}

#[test]
fn rejects_malformed_access_key_ids() {
    for (text, error) in [
        ("", AccessKeyIdError::WrongLength),
        ("AKIARZPUZDIKGB2VALC", AccessKeyIdError::WrongLength),
        ("AKIARZPUZDIKGB2VALC4X", AccessKeyIdError::WrongLength),
        ("AROARZPUZDIKGB2VALC4", AccessKeyIdError::UnknownPrefix),
        ("akiaRZPUZDIKGB2VALC4", AccessKeyIdError::UnknownPrefix),
        ("AKIAI44QH8DHBEXAMPLE", AccessKeyIdError::InvalidCharacter),
        ("AKIARZPUZDIKGB2VALc4", AccessKeyIdError::InvalidCharacter),
        (
            "AKIARZPUZDIKGB2VAL\u{e9}",
            AccessKeyIdError::InvalidCharacter,
        ),
    ] {
        assert_eq!(AccessKeyId::parse(text), Err(error), "{text:?}");
    }
}

#[test]
fn unique_ids_generate_and_parse() {
    let mut rng = DeterministicRandom::from_seed(4);
    for kind in UniqueIdKind::ALL {
        let id = UniqueId::generate(kind, &mut rng).unwrap();
        assert_eq!(id.as_str().len(), UniqueId::GENERATED_LEN);
        assert!(id.as_str().starts_with(kind.prefix()));
        assert_eq!(id.kind(), kind);
        assert_eq!(UniqueId::parse(id.as_str()).unwrap(), id);
    }
    for (text, kind) in [
        ("AROAIDPPEZS35WEXAMPLE", UniqueIdKind::Role),
        ("AIDAJ45Q7YFFAREXAMPLE", UniqueIdKind::User),
        ("AROA123EXAMPLE123", UniqueIdKind::Role),
    ] {
        assert_eq!(UniqueId::parse(text).unwrap().kind(), kind, "{text}");
    }
    let too_long = format!("AROA{}", "A".repeat(125));
    for (text, error) in [
        ("AROA1234", UniqueIdError::WrongLength),
        (too_long.as_str(), UniqueIdError::WrongLength),
        ("XXXXIDPPEZS35WEXAMPLE", UniqueIdError::UnknownPrefix),
        ("AROAIDPPEZS35WEXAMPLe", UniqueIdError::InvalidCharacter),
        ("AROAIDPPEZS35WEXAMPL:", UniqueIdError::InvalidCharacter),
    ] {
        assert_eq!(UniqueId::parse(text), Err(error), "{text}");
    }
}

#[test]
fn secret_access_keys_are_redacted_and_round_trip() {
    let mut rng = DeterministicRandom::from_seed(5);
    let secret = SecretAccessKey::generate(&mut rng).unwrap();
    let text = secret.expose_secret().to_owned();
    assert_eq!(text.len(), SecretAccessKey::LEN);
    assert!(!format!("{secret:?}").contains(&text));
    assert!(!format!("{secret}").contains(&text));
    assert!(format!("{secret:?}").contains("redacted"));
    assert_eq!(SecretAccessKey::parse(&text).unwrap(), secret);
    assert_eq!(SecretAccessKey::from_raw(&secret.to_raw()), secret);
    let other = SecretAccessKey::generate(&mut rng).unwrap();
    assert_ne!(other, secret);
    assert!(bool::from(secret.ct_eq(&secret.clone())));

    let example = SecretAccessKey::parse("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").unwrap();
    assert_eq!(
        example.expose_secret(),
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    );
    for bad in [
        "",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY=",
        "wJalrXUtnFEMI/K7MDENG-bPxRfiCYEXAMPLEKEY",
    ] {
        assert_eq!(
            SecretAccessKey::parse(bad),
            Err(SecretAccessKeyError::Malformed),
            "{bad}"
        );
    }
}

proptest! {
    /// Every account round-trips through a generated key id of either kind,
    /// whatever the random bits, and the text form parses back to the same id.
    #[test]
    fn access_key_ids_round_trip_their_account(
        account in 0u64..=999_999_999_999,
        entropy in any::<[u8; 5]>(),
        temporary in any::<bool>(),
    ) {
        let account = AccountId::from_u64(account).unwrap();
        let kind = if temporary { AccessKeyKind::Temporary } else { AccessKeyKind::LongTerm };
        let id = AccessKeyId::from_entropy(kind, &account, entropy);
        prop_assert_eq!(id.account(), Some(account));
        prop_assert_eq!(id.kind(), kind);
        prop_assert_eq!(AccessKeyId::parse(id.as_str()), Ok(id));
        prop_assert_eq!(AccessKeyId::from_suffix_bytes(kind, &id.suffix_bytes()), id);
    }

    /// Distinct random bits give distinct ids for the same account: 39 of the
    /// 40 entropy bits reach the id.
    #[test]
    fn access_key_ids_carry_the_entropy(a in any::<[u8; 5]>(), b in any::<[u8; 5]>()) {
        let account = AccountId::parse("123456789012").unwrap();
        let first = AccessKeyId::from_entropy(AccessKeyKind::Temporary, &account, a);
        let second = AccessKeyId::from_entropy(AccessKeyKind::Temporary, &account, b);
        let significant = |e: [u8; 5]| e.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)) & ((1 << 39) - 1);
        prop_assert_eq!(first == second, significant(a) == significant(b));
    }

    /// Parsing arbitrary text never panics, and whatever parses prints back
    /// unchanged.
    #[test]
    fn parsing_arbitrary_text_is_total(text in "\\PC{0,24}") {
        if let Ok(id) = AccessKeyId::parse(&text) {
            prop_assert_eq!(id.as_str(), text.as_str());
        }
        if let Ok(id) = UniqueId::parse(&text) {
            prop_assert_eq!(id.as_str(), text.as_str());
        }
        let _ = SecretAccessKey::parse(&text);
    }

    /// Secrets round-trip through their raw 30-byte form.
    #[test]
    fn secret_access_keys_round_trip_raw(raw in any::<[u8; 30]>()) {
        let secret = SecretAccessKey::from_raw(&raw);
        prop_assert_eq!(*secret.to_raw(), raw);
        prop_assert_eq!(SecretAccessKey::parse(secret.expose_secret()).unwrap(), secret);
    }
}
