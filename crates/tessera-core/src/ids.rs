//! Identifiers formed as AWS forms them.
//!
//! Unique ids are a four-letter prefix naming the kind (AIDA user, AROA role, AGPA group,
//! ANPA managed policy, AIPA instance profile, AKIA access key, ASIA temporary access key)
//! followed by upper-case letters and digits: 21 characters for entity ids, 20 for access keys.

use rand::Rng;

/// The alphabet of access key ids and unique ids (base 32: `A`-`Z`, `2`-`7`).
pub(crate) const ALNUM_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `n` characters drawn uniformly from `chars` (ASCII, 1 to 256 of them), from the thread's
/// cryptographically secure generator (`rand`'s ChaCha12, seeded and reseeded from the operating
/// system's). Its bytes are taken 64 at a time (a draw per character showed in AssumeRole's
/// profile); a byte is used only below the largest multiple of the alphabet's size, so that every
/// character is equally likely.
fn random_from(chars: &[u8], n: usize) -> String {
    let size = chars.len().clamp(1, 256);
    let limit = 256 - 256 % size;
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    let mut next = buf.len();
    while out.len() < n {
        if next == buf.len() {
            rand::thread_rng().fill(&mut buf);
            next = 0;
        }
        let b = usize::from(buf[next]);
        next += 1;
        if b < limit {
            out.push(char::from(chars.get(b % size).copied().unwrap_or(b'A')));
        }
    }
    out
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

/// `n` random characters of the alphabet of access key ids (`A`-`Z`, `2`-`7`).
pub fn key_characters(n: usize) -> String {
    random_from(ALNUM_UPPER, n)
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

/// A new request id in AWS's UUID form (version 4).
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid().hyphenated().to_string()
}

/// `n` random lower-case hexadecimal digits (EC2 ids: `i-`, `ami-`, ...).
pub fn lower_hex(n: usize) -> String {
    random_from(b"0123456789abcdef", n)
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
        let id = request_id();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(id.bytes().all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{id}");
        assert_eq!(&id[14..15], "4", "version 4: {id}");
        assert!("89ab".contains(&id[19..20]), "RFC 4122 variant: {id}");
    }

    /// Every character of each alphabet turns up, only those, at about the same rate.
    #[test]
    fn random_characters_are_uniform_over_their_alphabet() {
        for alphabet in [ALNUM_UPPER, SECRET_CHARS, b"abcdefghijklmnopqrstuvwxyz0123456789".as_slice()] {
            let text = random_from(alphabet, 64 * 4000);
            assert_eq!(text.len(), 64 * 4000);
            let mut counts = std::collections::HashMap::new();
            for c in text.bytes() {
                assert!(alphabet.contains(&c), "{c} is not in the alphabet");
                *counts.entry(c).or_insert(0u32) += 1;
            }
            assert_eq!(counts.len(), alphabet.len(), "every character appears");
            let expected = 64.0 * 4000.0 / alphabet.len() as f64;
            for (c, n) in counts {
                // Six standard deviations off is a biased draw, not chance (a plain `byte % 36` would put
                // its first four characters at 8/7 of the others: about 10 deviations).
                assert!((f64::from(n) - expected).abs() < 6.0 * expected.sqrt(), "{} drawn {n} times", c as char);
            }
        }
    }
}
