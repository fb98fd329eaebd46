//! Password hashing (SHA-256, lower-case hex, as Redis stores them), constant-time comparison
//! and ACL GENPASS.

use sha2::{Digest, Sha256};

/// A password as Redis stores it: the SHA-256 of the clear text, 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordHash([u8; 64]);

const HEX: &[u8; 16] = b"0123456789abcdef";

impl PasswordHash {
    /// Hashes a clear-text password (`>pass`, AUTH).
    pub fn of(password: &[u8]) -> PasswordHash {
        let digest = Sha256::digest(password);
        let mut hex = [0u8; 64];
        for (i, b) in digest.iter().enumerate() {
            hex[2 * i] = HEX[usize::from(b >> 4)];
            hex[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        PasswordHash(hex)
    }

    /// Accepts exactly 64 lower-case hex digits (`#hash`, `!hash`); anything else is refused
    /// as Redis refuses it.
    pub fn from_hex(hex: &[u8]) -> Option<PasswordHash> {
        let arr: [u8; 64] = hex.try_into().ok()?;
        arr.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')).then_some(PasswordHash(arr))
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII hex digits.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Compares in time independent of where the hashes differ.
    pub fn ct_eq(&self, other: &PasswordHash) -> bool {
        let mut diff = 0u8;
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            diff |= a ^ b;
        }
        // black_box keeps the optimiser from turning the loop into an early-exit compare.
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasswordHash({})", self.as_str())
    }
}

/// Largest ACL GENPASS size.
pub const GENPASS_MAX_BITS: i64 = 4096;

/// ACL GENPASS: `bits` of OS randomness as `(bits + 3) / 4` lower-case hex digits. `None` when
/// `bits` is outside 1..=4096 (reply [`crate::error::GENPASS_RANGE`]) or the OS has no
/// randomness to give.
pub fn genpass(bits: i64) -> Option<String> {
    if !(1..=GENPASS_MAX_BITS).contains(&bits) {
        return None;
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut raw = vec![0u8; chars.div_ceil(2)];
    getrandom::fill(&mut raw).ok()?;
    let mut s = String::with_capacity(chars);
    for b in raw {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s.truncate(chars);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_redis() {
        // `ACL SETUSER h >p2` on redis-server 7.0.15 then ACL GETUSER h → passwords.
        assert_eq!(
            PasswordHash::of(b"p2").as_str(),
            "3946ca64ff78d93ca61090a437cbb6b3d2ca0d488f5f9ccf3059608368b27693"
        );
        let h = PasswordHash::of(b"secret");
        assert!(h.ct_eq(&PasswordHash::from_hex(h.as_str().as_bytes()).unwrap()));
        assert!(!h.ct_eq(&PasswordHash::of(b"Secret")));
        assert!(PasswordHash::from_hex(b"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789").is_none());
        assert!(PasswordHash::from_hex(b"abc").is_none());
    }

    #[test]
    fn genpass_sizes() {
        assert_eq!(genpass(256).unwrap().len(), 64);
        assert_eq!(genpass(5).unwrap().len(), 2);
        assert_eq!(genpass(1).unwrap().len(), 1);
        assert_eq!(genpass(4096).unwrap().len(), 1024);
        assert!(genpass(0).is_none());
        assert!(genpass(4097).is_none());
        assert_ne!(genpass(128), genpass(128));
        assert!(genpass(64).unwrap().bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
