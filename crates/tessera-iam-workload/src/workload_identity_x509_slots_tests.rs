//! The slot rules of `workload_identity_x509_slots.rs`, on entries and a moving clock.

use super::*;

const H: i64 = 3600;
const T0: i64 = 1_800_000_000;

fn ca(id: &str, key_algorithm: &str) -> X509Signer {
    X509Signer {
        ca_id: id.into(),
        ca_account: "111122223333".into(),
        ca_region: "us-east-1".into(),
        key_algorithm: key_algorithm.into(),
        start: 0,
        end: None,
        discovery_expiration: None,
        cancelled: false,
    }
}

fn status<'a>(entries: &'a [X509Signer], id: &str, now: i64) -> &'a str {
    entries.iter().find(|e| e.ca_id == id).map(|e| e.status(now)).unwrap_or("GONE")
}

/// A slot whose CA `a` has signed since `T0`.
fn signing_slot() -> Vec<X509Signer> {
    vec![X509Signer { start: T0, ..ca("a", "EC_prime256v1") }]
}

#[test]
fn rotation_hands_over_without_gap_or_overlap() {
    let mut e = signing_slot();
    let now = T0 + H;
    let out = rotate(&mut e, &ca("b", "EC_prime256v1"), now, 24 * H);
    assert_eq!(out.map(|o| o.rotation), Ok(Rotation::Attached { added: true }));
    let handover = now + 24 * H;
    assert_eq!((status(&e, "a", now), status(&e, "b", now)), ("ACTIVE", "IN_TRANSITION"));
    assert_eq!(e[0].end, Some(handover));
    assert_eq!(e[1].start, handover);
    assert_eq!((status(&e, "a", handover - 1), status(&e, "b", handover - 1)), ("ACTIVE", "IN_TRANSITION"));
    assert_eq!((status(&e, "a", handover), status(&e, "b", handover)), ("VALIDATING", "ACTIVE"));
    assert_eq!(status(&e, "a", handover + 12 * H), "INACTIVE");
    assert_eq!(e[0].discovery_expiration, Some(handover + 12 * H));
}

#[test]
fn naming_the_signing_ca_cancels_a_pending_rotation_or_changes_nothing() {
    let mut e = signing_slot();
    let before = e.clone();
    let out = rotate(&mut e, &ca("a", "EC_prime256v1"), T0 + H, 5 * H);
    assert_eq!(out.map(|o| o.rotation), Ok(Rotation::Unchanged));
    assert_eq!(e, before);

    assert!(rotate(&mut e, &ca("b", "EC_prime256v1"), T0 + H, 5 * H).is_ok());
    let out = rotate(&mut e, &ca("a", "EC_prime256v1"), T0 + 2 * H, 5 * H);
    assert_eq!(out.map(|o| o.rotation), Ok(Rotation::Cancelled));
    let later = T0 + 100 * H;
    assert_eq!(status(&e, "a", later), "ACTIVE", "signing continues without interruption");
    assert_eq!((e[0].end, e[0].discovery_expiration), (None, None));
    assert_eq!(status(&e, "b", T0 + 2 * H), "VALIDATING");
    assert_eq!(status(&e, "b", T0 + 14 * H), "INACTIVE");
    assert!(e[1].cancelled);
}

#[test]
fn naming_the_incoming_ca_retimes_both_halves() {
    let mut e = signing_slot();
    assert!(rotate(&mut e, &ca("b", "EC_prime256v1"), T0, 24 * H).is_ok());
    let out = rotate(&mut e, &ca("b", "EC_prime256v1"), T0 + H, H);
    assert_eq!(out.map(|o| o.rotation), Ok(Rotation::Retimed));
    assert_eq!(e.len(), 2, "no entry added");
    assert_eq!((e[0].end, e[1].start), (Some(T0 + 2 * H), T0 + 2 * H));
    assert_eq!(status(&e, "b", T0 + 2 * H), "ACTIVE");
}

#[test]
fn a_stopped_entry_attaches_again_as_incoming() {
    let mut e = signing_slot();
    assert!(rotate(&mut e, &ca("b", "EC_prime256v1"), T0, H).is_ok());
    // b signs from T0+1h; a validates, then is inactive.
    let now = T0 + 20 * H;
    assert_eq!(status(&e, "a", now), "INACTIVE");
    let out = rotate(&mut e, &ca("a", "EC_prime256v1"), now, 2 * H);
    assert_eq!(out.map(|o| o.rotation), Ok(Rotation::Attached { added: false }));
    assert_eq!(e.len(), 2, "the stopped entry is reused");
    assert_eq!((status(&e, "a", now), status(&e, "b", now)), ("IN_TRANSITION", "ACTIVE"));
    assert_eq!((status(&e, "a", now + 2 * H), status(&e, "b", now + 2 * H)), ("ACTIVE", "VALIDATING"));
}

#[test]
fn a_new_rotation_replaces_a_pending_one() {
    let mut e = signing_slot();
    assert!(rotate(&mut e, &ca("b", "EC_prime256v1"), T0, 24 * H).is_ok());
    assert!(rotate(&mut e, &ca("c", "EC_prime256v1"), T0 + H, 2 * H).is_ok());
    assert!(e[1].cancelled);
    assert_eq!(status(&e, "b", T0 + H), "VALIDATING");
    assert_eq!(status(&e, "c", T0 + 3 * H), "ACTIVE");
    assert_eq!(status(&e, "a", T0 + 3 * H), "VALIDATING");
}

#[test]
fn slots_are_per_key_algorithm() {
    let mut e = signing_slot();
    let r = rotate(&mut e, &ca("r", "RSA_2048"), T0, H);
    assert_eq!(r.err().map(|e| e.code), Some("InvalidInput".to_string()));
    assert_eq!(e, signing_slot(), "nothing changed");
}

#[test]
fn a_full_slot_sheds_its_oldest_inactive_entries_or_refuses() {
    let mut e = signing_slot();
    let mut now = T0;
    for id in ["b", "c", "d", "e"] {
        assert!(rotate(&mut e, &ca(id, "EC_prime256v1"), now, H).is_ok());
        now += 20 * H;
    }
    // a, b, c INACTIVE (a oldest), d VALIDATING, e ACTIVE.
    assert_eq!(e.len(), ENTRIES_PER_SLOT);
    let out = rotate(&mut e, &ca("f", "EC_prime256v1"), now, H).unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(out.removed.iter().map(|r| r.ca_id.as_str()).collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(e.len(), ENTRIES_PER_SLOT);
    assert_eq!(status(&e, "a", now), "GONE");

    // Five entries, none INACTIVE: LimitExceeded, nothing changed.
    let mut busy = signing_slot();
    for (i, id) in ["b", "c", "d", "e"].iter().enumerate() {
        assert!(rotate(&mut busy, &ca(id, "EC_prime256v1"), T0 + i as i64, H).is_ok());
    }
    let before = busy.clone();
    let r = rotate(&mut busy, &ca("f", "EC_prime256v1"), T0 + 5, H);
    assert_eq!(r.err().map(|e| e.code), Some("LimitExceeded".to_string()));
    assert_eq!(busy, before);
    // Naming an entry already in the full slot needs no room.
    assert!(rotate(&mut busy, &ca("b", "EC_prime256v1"), T0 + 5, H).is_ok());
}

#[test]
fn disable_stops_everything_and_is_idempotent() {
    let mut e = signing_slot();
    e.push(X509Signer { start: T0, ..ca("r", "RSA_2048") });
    assert!(rotate(&mut e, &ca("b", "EC_prime256v1"), T0 + H, 24 * H).is_ok());
    let now = T0 + 2 * H;
    assert!(disable(&mut e, now));
    for id in ["a", "b", "r"] {
        assert_eq!(status(&e, id, now), "VALIDATING", "{id}");
        assert_eq!(status(&e, id, now + 12 * H), "INACTIVE", "{id}");
    }
    assert!(e.iter().all(|x| x.end == Some(now) && x.discovery_expiration == Some(now + 12 * H)));
    let before = e.clone();
    assert!(!disable(&mut e, now + H));
    assert_eq!(e, before);
}

#[test]
fn enable_resumes_the_most_recently_stopped_entry_of_each_slot() {
    let mut e = signing_slot();
    e.push(X509Signer { start: T0, ..ca("r", "RSA_2048") });
    // Rotation a -> b pending when disabled: both stop at once; b (incoming) resumes.
    assert!(rotate(&mut e, &ca("b", "EC_prime256v1"), T0 + H, 24 * H).is_ok());
    let now = T0 + 2 * H;
    disable(&mut e, now);
    let later = now + 30 * H; // everything INACTIVE: still resumable
    assert_eq!(status(&e, "r", later), "INACTIVE");
    let resumed = enable(&mut e, later, 3 * H);
    assert_eq!(resumed.len(), 2);
    assert_eq!((status(&e, "b", later), status(&e, "r", later)), ("IN_TRANSITION", "IN_TRANSITION"));
    assert_eq!(status(&e, "a", later), "INACTIVE", "other entries keep retiring");
    assert_eq!((e[2].end, e[2].discovery_expiration), (None, None));
    assert_eq!(status(&e, "b", later + 3 * H), "ACTIVE");
    // Idempotent: nothing idle to resume.
    let before = e.clone();
    assert!(enable(&mut e, later + H, H).is_empty());
    assert_eq!(e, before);
}

#[test]
fn enable_never_resumes_an_entry_a_cancelled_rotation_stopped() {
    let mut e = signing_slot();
    assert!(rotate(&mut e, &ca("b", "EC_prime256v1"), T0 + H, 24 * H).is_ok());
    assert!(rotate(&mut e, &ca("a", "EC_prime256v1"), T0 + 2 * H, 24 * H).is_ok()); // cancel b
    disable(&mut e, T0 + 3 * H);
    let resumed = enable(&mut e, T0 + 4 * H, H);
    assert_eq!(resumed, vec![0]);
    assert_eq!((status(&e, "a", T0 + 4 * H), status(&e, "b", T0 + 4 * H)), ("IN_TRANSITION", "VALIDATING"));
    // Disabled during IN_TRANSITION (a fresh attachment): resumed.
    let mut fresh = vec![X509Signer { start: T0 + H, ..ca("n", "EC_secp384r1") }];
    disable(&mut fresh, T0);
    assert_eq!(status(&fresh, "n", T0), "VALIDATING");
    assert_eq!(enable(&mut fresh, T0 + 1, H), vec![0]);
    assert_eq!(status(&fresh, "n", T0 + 1 + H), "ACTIVE");
}
