//! Lock tokens and randomness.
//!
//! A token is 20 bytes read from the operating system's random source (`/dev/urandom`), stored
//! on the nodes as 40 lower-case hex digits, so two acquisitions never share one. Text rather
//! than raw bytes: `redis-cli GET` shows it, a shell script can pass it back, and error replies
//! that quote arguments stay readable. Retry jitter needs no such
//! quality: it comes from a SplitMix64 sequence seeded from the same source once per client.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::Error;

/// Bytes of randomness in a token (Redlock asks for at least 20).
pub const TOKEN_LEN: usize = 20;

/// The value a lock is stored under: only the holder of the token can release or extend the
/// lock. Any bytes; the ones [`Token::random`] makes are hex text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(Vec<u8>);

impl Token {
    /// A fresh token: [`TOKEN_LEN`] random bytes from the operating system, as hex text.
    pub fn random() -> Result<Token, Error> {
        let mut bytes = [0u8; TOKEN_LEN];
        os_random(&mut bytes)?;
        Ok(Token(Token::from_bytes(bytes.to_vec()).to_hex().into_bytes()))
    }

    /// A token with the given bytes, for releasing or extending a lock acquired elsewhere (by
    /// another process, or by the `tumbler acquire` command). Any length is accepted.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Token {
        Token(bytes.into())
    }

    /// Decodes lower- or upper-case hexadecimal into the bytes it spells.
    pub fn from_hex(hex: &str) -> Result<Token, Error> {
        let hex = hex.trim();
        if hex.is_empty() || !hex.len().is_multiple_of(2) {
            return Err(Error::Config(format!("a token is an even number of hex digits, not {hex:?}")));
        }
        let digit = |c: u8| -> Result<u8, Error> {
            match c {
                b'0'..=b'9' => Ok(c - b'0'),
                b'a'..=b'f' => Ok(c - b'a' + 10),
                b'A'..=b'F' => Ok(c - b'A' + 10),
                _ => Err(Error::Config(format!("{:?} is not a hex digit", c as char))),
            }
        };
        let bytes =
            hex.as_bytes().chunks(2).map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?)).collect::<Result<_, Error>>()?;
        Ok(Token(bytes))
    }

    /// The token's bytes as lower-case hexadecimal.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            s.push(DIGITS[(b >> 4) as usize] as char);
            s.push(DIGITS[(b & 15) as usize] as char);
        }
        s
    }

    /// The raw bytes, as stored on the nodes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({self})")
    }
}

impl fmt::Display for Token {
    /// Printable ASCII as it is (every token [`Token::random`] makes), anything else as `0x`
    /// and hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()) => f.write_str(s),
            _ => write!(f, "0x{}", self.to_hex()),
        }
    }
}

/// Fills `buf` from `/dev/urandom`, opened once per process and kept (reads on a shared `&File`
/// need no lock).
fn os_random(buf: &mut [u8]) -> Result<(), Error> {
    static URANDOM: OnceLock<Result<File, String>> = OnceLock::new();
    let file = URANDOM
        .get_or_init(|| File::open("/dev/urandom").map_err(|e| format!("cannot open /dev/urandom: {e}")))
        .as_ref()
        .map_err(|e| Error::Io(e.clone()))?;
    let mut reader: &File = file;
    reader.read_exact(buf).map_err(|e| Error::Io(format!("cannot read /dev/urandom: {e}")))
}

/// A small, lock-free source of jitter (SplitMix64). Not for tokens.
#[derive(Debug)]
pub(crate) struct Jitter(AtomicU64);

impl Jitter {
    /// Seeded from the operating system; falls back to the address of a stack value and the time
    /// if that fails (jitter only needs to differ between processes, not to be secret).
    pub(crate) fn new() -> Jitter {
        let mut seed = [0u8; 8];
        let seed = match os_random(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed),
            Err(_) => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                now.as_nanos() as u64 ^ (&seed as *const _ as u64)
            }
        };
        Jitter(AtomicU64::new(seed))
    }

    fn next(&self) -> u64 {
        let mut z = self.0.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration uniformly in `[0, max]`, at microsecond resolution.
    pub(crate) fn up_to(&self, max: Duration) -> Duration {
        let us = max.as_micros().min(u64::MAX as u128) as u64;
        if us == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.next() % (us + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long_enough() {
        let a = Token::random().unwrap();
        let b = Token::random().unwrap();
        assert_eq!(a.as_bytes().len(), 2 * TOKEN_LEN);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert_ne!(a, b);
        assert_eq!(a.to_string().as_bytes(), a.as_bytes());
        assert_eq!(Token::from_bytes(vec![0u8, 0xff]).to_string(), "0x00ff");
    }

    #[test]
    fn hex_round_trip() {
        let t = Token::from_bytes(vec![0u8, 1, 0xab, 0xff, b'\r', b'\n']);
        assert_eq!(t.to_hex(), "0001abff0d0a");
        assert_eq!(Token::from_hex("0001ABff0d0a").unwrap(), t);
        assert_eq!(Token::from_hex(" 0001abff0d0a\n").unwrap(), t);
        assert!(Token::from_hex("abc").is_err());
        assert!(Token::from_hex("zz").is_err());
        assert!(Token::from_hex("").is_err());
    }

    #[test]
    fn jitter_stays_in_range() {
        let j = Jitter::new();
        for _ in 0..1000 {
            assert!(j.up_to(Duration::from_millis(5)) <= Duration::from_millis(5));
        }
        assert_eq!(j.up_to(Duration::ZERO), Duration::ZERO);
    }
}
