//! Identifiers formed as AWS forms them.
//!
//! Unique ids are a four-letter prefix naming the kind (AIDA user, AROA role, AGPA group,
//! ANPA managed policy, AIPA instance profile, AKIA access key, ASIA temporary access key)
//! followed by upper-case letters and digits: 21 characters for entity ids, 20 for access keys.

use rand::Rng;

const ALNUM_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_from(chars: &[u8], n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n).map(|_| chars[rng.gen_range(0..chars.len())] as char).collect()
}

/// Kinds of unique id, by their AWS prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `AIDA`: IAM user.
    User,
    /// `AROA`: IAM role.
    Role,
    /// `AGPA`: IAM group.
    Group,
    /// `ANPA`: customer managed policy.
    Policy,
    /// `AIPA`: instance profile.
    InstanceProfile,
}

/// A new unique id of `kind` (21 characters).
pub fn unique_id(kind: IdKind) -> String {
    let prefix = match kind {
        IdKind::User => "AIDA",
        IdKind::Role => "AROA",
        IdKind::Group => "AGPA",
        IdKind::Policy => "ANPA",
        IdKind::InstanceProfile => "AIPA",
    };
    format!("{prefix}{}", random_from(ALNUM_UPPER, 17))
}

/// A new long-term access key id (`AKIA` + 16).
pub fn access_key_id() -> String {
    format!("AKIA{}", random_from(ALNUM_UPPER, 16))
}

/// A new temporary access key id (`ASIA` + 16).
pub fn temporary_access_key_id() -> String {
    format!("ASIA{}", random_from(ALNUM_UPPER, 16))
}

/// A new 40-character secret access key.
pub fn secret_access_key() -> String {
    random_from(SECRET_CHARS, 40)
}

/// A new 12-digit account id (never starting with 0, so it survives numeric handling).
pub fn account_id() -> String {
    let mut rng = rand::rngs::OsRng;
    format!("{}{:011}", rng.gen_range(1..=9), rng.gen_range(0..100_000_000_000u64))
}

/// A new request id in AWS's UUID form.
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `n` random lower-case letters and digits (Organizations ids: `o-`, `r-`, `ou-`, `p-`).
pub fn lower_alnum(n: usize) -> String {
    random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(unique_id(IdKind::Role).starts_with("AROA"));
        assert_eq!(unique_id(IdKind::User).len(), 21);
        assert_eq!(access_key_id().len(), 20);
        assert_eq!(secret_access_key().len(), 40);
        let a = account_id();
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|c| c.is_ascii_digit()));
        assert_eq!(request_id().len(), 36);
    }
}
