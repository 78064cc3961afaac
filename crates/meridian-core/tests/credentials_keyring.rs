//! Key ring and KEK tests: the data-key lifecycle as a pure function of
//! `(ring, now)` (a pending key never signs; which key is active at several
//! instants; verify-only keys open but do not sign; destroyed keys refuse with
//! their own error), and the KEK envelope (round trips; a wrong KEK, a wrong
//! purpose or id, and any altered byte all fail; nothing secret in `Debug`).

use meridian_core::ids::{AccessKeyId, AccessKeyKind, AccountId, SecretAccessKey};
use meridian_core::keyring::{
    DataKey, Kek, KeyError, KeyId, KeyRing, KeySchedule, KeyState, RotationPlan, SealedSecret,
    SecretPurpose, WrappedKey,
};
use meridian_core::rand::DeterministicRandom;
use meridian_core::time::Timestamp;
use std::time::Duration;

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000 + seconds)
}

fn key(id: u32, rng: &mut DeterministicRandom) -> DataKey {
    DataKey::generate(KeyId::new(id), rng).unwrap()
}

/// Three keys of a rotation history:
/// * key 1 activated at t=0, superseded by key 2, destroyed at t=500;
/// * key 2 created at t=90, activates at t=100 (after a propagation delay);
/// * key 3 created at t=190, activates at t=200, retires at t=300 with no
///   successor (an operator stopped it), destroyed at t=900.
fn rotated_ring() -> KeyRing {
    let mut rng = DeterministicRandom::from_seed(11);
    let mut ring = KeyRing::new();
    let mut first = KeySchedule::new(t(0), t(0));
    first.destroy_at = Some(t(500));
    ring.insert(key(1, &mut rng), first).unwrap();
    ring.insert(key(2, &mut rng), KeySchedule::new(t(90), t(100)))
        .unwrap();
    let mut third = KeySchedule::new(t(190), t(200));
    third.retire_at = Some(t(300));
    third.destroy_at = Some(t(900));
    ring.insert(key(3, &mut rng), third).unwrap();
    ring
}

#[test]
fn the_signing_key_and_every_state_follow_the_schedule() {
    use KeyState::{Active, Destroyed, Pending, VerifyOnly};
    let ring = rotated_ring();
    // (instant, signing key, states of keys 1, 2, 3)
    let table: [(i64, Option<u32>, [KeyState; 3]); 9] = [
        (-1, None, [Pending, Pending, Pending]),
        (0, Some(1), [Active, Pending, Pending]),
        (99, Some(1), [Active, Pending, Pending]),
        (100, Some(2), [VerifyOnly, Active, Pending]),
        (199, Some(2), [VerifyOnly, Active, Pending]),
        (200, Some(3), [VerifyOnly, VerifyOnly, Active]),
        // Key 3 retires with no successor: the newest unretired key signs.
        (300, Some(2), [VerifyOnly, Active, VerifyOnly]),
        (500, Some(2), [Destroyed, Active, VerifyOnly]),
        (900, Some(2), [Destroyed, Active, Destroyed]),
    ];
    for (instant, signer, states) in table {
        let now = t(instant);
        let chosen = ring.signing_key(now).ok().map(|k| k.id().get());
        assert_eq!(chosen, signer, "signing key at t={instant}");
        for (index, expected) in states.iter().enumerate() {
            let id = KeyId::new(u32::try_from(index + 1).unwrap());
            assert_eq!(
                ring.state(id, now),
                Some(*expected),
                "key {id} at t={instant}"
            );
        }
    }
}

#[test]
fn a_pending_key_never_signs_but_verifies() {
    let mut rng = DeterministicRandom::from_seed(12);
    let mut ring = KeyRing::new();
    ring.insert(key(7, &mut rng), KeySchedule::new(t(0), t(60)))
        .unwrap();
    for instant in [-10, 0, 30, 59] {
        assert_eq!(
            ring.signing_key(t(instant)).unwrap_err(),
            KeyError::NoSigningKey
        );
        assert_eq!(
            ring.key(KeyId::new(7), t(instant)).unwrap().id(),
            KeyId::new(7)
        );
    }
    assert_eq!(ring.signing_key(t(60)).unwrap().id(), KeyId::new(7));
}

#[test]
fn verify_only_keys_open_but_do_not_sign() {
    let ring = rotated_ring();
    let now = t(150);
    assert_eq!(ring.state(KeyId::new(1), now), Some(KeyState::VerifyOnly));
    assert_ne!(ring.signing_key(now).unwrap().id(), KeyId::new(1));
    assert_eq!(ring.key(KeyId::new(1), now).unwrap().id(), KeyId::new(1));
}

#[test]
fn destroyed_and_unknown_keys_refuse_with_distinct_errors() {
    let mut ring = rotated_ring();
    assert_eq!(
        ring.key(KeyId::new(1), t(500)).unwrap_err(),
        KeyError::KeyDestroyed(KeyId::new(1))
    );
    assert_eq!(
        ring.key(KeyId::new(9), t(0)).unwrap_err(),
        KeyError::UnknownKey(KeyId::new(9))
    );

    // Purging drops the material but keeps the tombstone.
    assert_eq!(ring.purge_destroyed(t(499)), 0);
    assert_eq!(ring.purge_destroyed(t(500)), 1);
    assert_eq!(ring.state(KeyId::new(1), t(0)), Some(KeyState::Destroyed));
    assert_eq!(
        ring.key(KeyId::new(1), t(0)).unwrap_err(),
        KeyError::KeyDestroyed(KeyId::new(1))
    );
    // A tombstone loaded from the store behaves the same.
    ring.insert_destroyed(KeyId::new(0), KeySchedule::new(t(-100), t(-100)))
        .unwrap();
    assert_eq!(
        ring.key(KeyId::new(0), t(-50)).unwrap_err(),
        KeyError::KeyDestroyed(KeyId::new(0))
    );
    // Removing forgets it entirely.
    assert!(ring.remove(KeyId::new(1)));
    assert!(!ring.remove(KeyId::new(1)));
    assert_eq!(
        ring.key(KeyId::new(1), t(0)).unwrap_err(),
        KeyError::UnknownKey(KeyId::new(1))
    );
}

#[test]
fn ring_rejects_duplicates_and_disordered_schedules() {
    let mut rng = DeterministicRandom::from_seed(13);
    let mut ring = rotated_ring();
    assert_eq!(ring.next_id(), KeyId::new(4));
    assert_eq!(
        ring.insert(key(2, &mut rng), KeySchedule::new(t(0), t(0))),
        Err(KeyError::DuplicateKeyId(KeyId::new(2)))
    );
    let mut bad = [KeySchedule::new(t(10), t(0)); 3];
    bad[1] = KeySchedule::new(t(0), t(10));
    bad[1].retire_at = Some(t(5));
    bad[2] = KeySchedule::new(t(0), t(10));
    bad[2].retire_at = Some(t(20));
    bad[2].destroy_at = Some(t(15));
    for schedule in bad {
        assert!(!schedule.is_valid(), "{schedule:?}");
        assert_eq!(
            ring.insert(key(20, &mut rng), schedule),
            Err(KeyError::InvalidSchedule)
        );
        assert_eq!(
            ring.set_schedule(KeyId::new(2), schedule),
            Err(KeyError::InvalidSchedule)
        );
    }
    // A rotation schedules the old key's destruction afterwards.
    let mut second = *ring.schedule(KeyId::new(2)).unwrap();
    second.destroy_at = Some(t(10_000));
    ring.set_schedule(KeyId::new(2), second).unwrap();
    assert_eq!(
        ring.state(KeyId::new(2), t(10_000)),
        Some(KeyState::Destroyed)
    );
    assert_eq!(
        ring.signing_key(t(10_000)).unwrap_err(),
        KeyError::NoSigningKey
    );
    assert_eq!(
        ring.set_schedule(KeyId::new(42), second),
        Err(KeyError::UnknownKey(KeyId::new(42)))
    );
    assert_eq!(ring.len(), 3);
    assert_eq!(
        ring.ids().map(KeyId::get).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(KeyRing::new().is_empty());
    assert_eq!(KeyRing::new().next_id(), KeyId::new(1));
}

#[test]
fn equal_activation_instants_pick_the_highest_id() {
    let mut rng = DeterministicRandom::from_seed(14);
    let mut ring = KeyRing::new();
    ring.insert(key(5, &mut rng), KeySchedule::new(t(0), t(10)))
        .unwrap();
    ring.insert(key(4, &mut rng), KeySchedule::new(t(0), t(10)))
        .unwrap();
    assert_eq!(ring.signing_key(t(10)).unwrap().id(), KeyId::new(5));
    assert_eq!(ring.state(KeyId::new(4), t(10)), Some(KeyState::VerifyOnly));
}

fn make_kek(seed: u64) -> Kek {
    Kek::generate(&mut DeterministicRandom::from_seed(seed))
        .unwrap()
        .0
}

#[test]
fn kek_wraps_and_unwraps_data_keys() {
    let mut rng = DeterministicRandom::from_seed(20);
    let kek = make_kek(1);
    let data_key = key(3, &mut rng);
    let wrapped = kek.wrap(&data_key, &mut rng).unwrap();
    assert_eq!(wrapped.key_id(), KeyId::new(3));
    assert_eq!(wrapped.as_bytes().len(), WrappedKey::LEN);
    // Through the byte form the store persists.
    let stored = WrappedKey::from_bytes(wrapped.as_bytes().to_vec()).unwrap();
    let unwrapped = kek.unwrap(&stored).unwrap();
    assert_eq!(unwrapped.id(), KeyId::new(3));

    // The unwrapped key seals what the original opens: both rings agree.
    let wrap_again = kek.wrap(&unwrapped, &mut rng).unwrap();
    assert_ne!(wrap_again, wrapped, "fresh nonce per wrap");
    let fingerprint = kek.fingerprint();
    assert_eq!(make_kek(1).fingerprint(), fingerprint);
    assert_ne!(make_kek(2).fingerprint(), fingerprint);
}

#[test]
fn kek_envelope_rejects_wrong_kek_purpose_id_and_tampering() {
    let mut rng = DeterministicRandom::from_seed(21);
    let kek = make_kek(1);
    let secret = b"JBSWY3DPEHPK3PXP-mfa-seed";
    let sealed = kek
        .seal_secret(
            SecretPurpose::MfaSeed,
            b"arn:aws:iam::123456789012:mfa/bob",
            secret,
            &mut rng,
        )
        .unwrap();
    let opened = kek
        .open_secret(
            SecretPurpose::MfaSeed,
            b"arn:aws:iam::123456789012:mfa/bob",
            &sealed,
        )
        .unwrap();
    assert_eq!(opened.as_slice(), secret);

    let other = make_kek(2);
    assert_eq!(
        other.open_secret(
            SecretPurpose::MfaSeed,
            b"arn:aws:iam::123456789012:mfa/bob",
            &sealed
        ),
        Err(KeyError::WrongKek {
            found: kek.fingerprint()
        })
    );
    assert_eq!(
        kek.open_secret(
            SecretPurpose::JwtSigningKey,
            b"arn:aws:iam::123456789012:mfa/bob",
            &sealed
        ),
        Err(KeyError::EnvelopeAuthentication)
    );
    assert_eq!(
        kek.open_secret(
            SecretPurpose::MfaSeed,
            b"arn:aws:iam::123456789012:mfa/eve",
            &sealed
        ),
        Err(KeyError::EnvelopeAuthentication)
    );
    // Every single-byte change is caught, by the version check, the
    // fingerprint check or the tag.
    let bytes = sealed.as_bytes().to_vec();
    for at in 0..bytes.len() {
        let mut altered = bytes.clone();
        altered[at] ^= 0x01;
        let result = SealedSecret::from_bytes(altered).and_then(|s| {
            kek.open_secret(
                SecretPurpose::MfaSeed,
                b"arn:aws:iam::123456789012:mfa/bob",
                &s,
            )
        });
        assert!(result.is_err(), "byte {at} altered but opened");
    }
    assert_eq!(
        SealedSecret::from_bytes(bytes[..20].to_vec()),
        Err(KeyError::MalformedEnvelope)
    );
    let mut future = bytes.clone();
    future[0] = 9;
    assert_eq!(
        SealedSecret::from_bytes(future),
        Err(KeyError::UnsupportedEnvelopeVersion(9))
    );
}

#[test]
fn wrapped_keys_are_bound_to_their_id() {
    let mut rng = DeterministicRandom::from_seed(22);
    let kek = make_kek(1);
    let wrapped = kek.wrap(&key(3, &mut rng), &mut rng).unwrap();
    // Relabel the clear id: the envelope's additional data no longer matches.
    let mut relabelled = wrapped.as_bytes().to_vec();
    relabelled[3] = 4;
    let relabelled = WrappedKey::from_bytes(relabelled).unwrap();
    assert_eq!(relabelled.key_id(), KeyId::new(4));
    assert_eq!(
        kek.unwrap(&relabelled).unwrap_err(),
        KeyError::EnvelopeAuthentication
    );
    // A data-key blob cannot be opened as another kind of secret.
    let sealed = SealedSecret::from_bytes(wrapped.as_bytes()[4..].to_vec()).unwrap();
    assert_eq!(
        kek.open_secret(SecretPurpose::AccessKeySecret, &3u32.to_be_bytes(), &sealed),
        Err(KeyError::EnvelopeAuthentication)
    );
    assert!(
        kek.open_secret(SecretPurpose::DataKey, &3u32.to_be_bytes(), &sealed)
            .is_ok()
    );
    assert_eq!(kek.unwrap(&wrapped).unwrap().id(), KeyId::new(3));
    for len in [0, WrappedKey::LEN - 1, WrappedKey::LEN + 1] {
        assert_eq!(
            WrappedKey::from_bytes(vec![1; len]),
            Err(KeyError::MalformedEnvelope)
        );
    }
}

#[test]
fn kek_requires_exactly_32_bytes() {
    for len in [0, 16, 31, 33, 64] {
        assert_eq!(
            Kek::from_bytes(&vec![7; len]).unwrap_err(),
            KeyError::InvalidKekLength { len }
        );
    }
    assert!(Kek::from_bytes(&[7; 32]).is_ok());
}

#[test]
fn debug_output_never_shows_key_material() {
    let mut rng = DeterministicRandom::from_seed(23);
    let (kek, kek_bytes) = Kek::generate(&mut rng).unwrap();
    let data_key = key(1, &mut rng);
    let wrapped = kek.wrap(&data_key, &mut rng).unwrap();
    let material = kek.unwrap(&wrapped).unwrap();
    let secret_hex = [
        hex::encode(kek_bytes.as_ref()),
        // The data key's material, recovered through the envelope.
        hex::encode(
            kek.open_secret(
                SecretPurpose::DataKey,
                &1u32.to_be_bytes(),
                &SealedSecret::from_bytes(wrapped.as_bytes()[4..].to_vec()).unwrap(),
            )
            .unwrap()
            .as_slice(),
        ),
    ];
    let mut ring = KeyRing::new();
    ring.insert(material, KeySchedule::new(t(0), t(0))).unwrap();
    let outputs = [
        format!("{kek:?}"),
        format!("{data_key:?}"),
        format!("{ring:?}"),
        format!("{wrapped:?}"),
        format!("{:?}", ring.signing_key(t(0)).unwrap()),
    ];
    for output in &outputs {
        for secret in &secret_hex {
            assert!(!output.contains(secret.as_str()), "{output}");
            // Nor any 8-byte window of it, in hex.
            for start in (0..secret.len() - 16).step_by(2) {
                assert!(!output.contains(&secret[start..start + 16]), "{output}");
            }
        }
    }
    assert!(outputs[0].contains("redacted") && outputs[1].contains("redacted"));
    assert!(outputs[0].contains(&kek.fingerprint().to_string()));
}

#[test]
fn long_term_secrets_are_sealed_per_access_key() {
    let mut rng = DeterministicRandom::from_seed(24);
    let kek = make_kek(1);
    let account = AccountId::parse("123456789012").unwrap();
    let key_id = AccessKeyId::generate(AccessKeyKind::LongTerm, &account, &mut rng).unwrap();
    let other_id = AccessKeyId::generate(AccessKeyKind::LongTerm, &account, &mut rng).unwrap();
    let secret = SecretAccessKey::generate(&mut rng).unwrap();
    let sealed = kek
        .seal_access_key_secret(&key_id, &secret, &mut rng)
        .unwrap();
    assert!(
        !sealed.as_bytes().windows(8).any(|w| secret
            .expose_secret()
            .as_bytes()
            .windows(8)
            .any(|s| s == w)),
        "secret text visible in the sealed bytes"
    );
    assert_eq!(
        kek.open_access_key_secret(&key_id, &sealed).unwrap(),
        secret
    );
    assert_eq!(
        kek.open_access_key_secret(&other_id, &sealed).unwrap_err(),
        KeyError::EnvelopeAuthentication
    );
    // Another purpose's blob under the same id is refused.
    let seed = kek
        .seal_secret(
            SecretPurpose::MfaSeed,
            key_id.as_str().as_bytes(),
            b"seed",
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        kek.open_access_key_secret(&key_id, &seed).unwrap_err(),
        KeyError::EnvelopeAuthentication
    );
}

#[test]
fn a_planned_rotation_keeps_every_sealed_token_verifiable() {
    let mut rng = DeterministicRandom::from_seed(25);
    let delay = Duration::from_secs(120);
    let lifetime = Duration::from_secs(36 * 3600);
    let leeway = Duration::from_secs(300);

    // The first key of a cluster: nothing to retire.
    let mut ring = KeyRing::new();
    let first = ring.plan_rotation(t(0), delay, lifetime, leeway);
    assert_eq!(
        first,
        RotationPlan {
            expected_active: None,
            new_id: KeyId::new(1),
            new_schedule: KeySchedule::new(t(0), t(120)),
            previous: None,
        }
    );
    ring.insert(key(1, &mut rng), first.new_schedule).unwrap();

    // Rotating at t=1000: key 2 activates at t=1120; key 1 lives until its
    // last possible token (sealed just before t=1120) has expired.
    let plan = ring.plan_rotation(t(1000), delay, lifetime, leeway);
    assert_eq!(plan.expected_active, Some(KeyId::new(1)));
    assert_eq!(plan.new_id, KeyId::new(2));
    assert_eq!(plan.new_schedule, KeySchedule::new(t(1000), t(1120)));
    let (previous_id, previous) = plan.previous.unwrap();
    assert_eq!(previous_id, KeyId::new(1));
    assert_eq!(previous.destroy_at, Some(t(1120 + 36 * 3600 + 300)));
    ring.set_schedule(previous_id, previous).unwrap();
    ring.insert(key(2, &mut rng), plan.new_schedule).unwrap();

    assert_eq!(ring.signing_key(t(1119)).unwrap().id(), KeyId::new(1));
    assert_eq!(ring.signing_key(t(1120)).unwrap().id(), KeyId::new(2));
    // A token key 1 sealed at t=1119 for the longest lifetime expires at
    // t=1119+36h and is checked with up to `leeway` of skew: still opens.
    let last_check = t(1119 + 36 * 3600 + 299);
    assert_eq!(
        ring.state(KeyId::new(1), last_check),
        Some(KeyState::VerifyOnly)
    );
    assert!(ring.key(KeyId::new(1), last_check).is_ok());

    // The next rotation retires key 2 the same way ...
    let again = ring.plan_rotation(t(1200), delay, lifetime, leeway);
    assert_eq!(again.expected_active, Some(KeyId::new(2)));
    assert_eq!(again.new_id, KeyId::new(3));
    assert_eq!(
        again.previous.unwrap().1.destroy_at,
        Some(t(1320 + 36 * 3600 + 300))
    );
    // ... but never postpones a destruction an operator already scheduled.
    let mut second = *ring.schedule(KeyId::new(2)).unwrap();
    second.destroy_at = Some(t(5000));
    ring.set_schedule(KeyId::new(2), second).unwrap();
    let early = ring.plan_rotation(t(1200), delay, lifetime, leeway);
    assert_eq!(early.previous.unwrap().1.destroy_at, Some(t(5000)));
}

#[test]
fn derived_mac_keys_depend_on_the_kek_and_the_label_only() {
    let tag = |kek: &Kek, label: &[u8]| {
        aws_lc_rs::hmac::sign(&kek.derive_mac_key(label), b"message")
            .as_ref()
            .to_vec()
    };
    let first = make_kek(1);
    let same = make_kek(1);
    let other = make_kek(2);
    assert_eq!(tag(&first, b"a"), tag(&same, b"a"));
    assert_ne!(tag(&first, b"a"), tag(&first, b"b"));
    assert_ne!(tag(&first, b"a"), tag(&other, b"a"));
}
