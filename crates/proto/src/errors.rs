//! Every fixed error text tumbler sends, worded to the byte as Redis 7.0.15 words it.
//!
//! Clients match on these (`NOSCRIPT `, `WRONGTYPE`, `ERR unknown command`), so they live in one
//! place and are checked by the differential tests. Texts with parameters are produced by the
//! functions at the end of this module or with `Reply::error_fmt` next to their only use.

/// `-ERR syntax error`.
pub const SYNTAX: &str = "ERR syntax error";
/// Operation on a key of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// An argument that must be a 64-bit integer is not.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// An argument that must be a double is not.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// RENAME and friends on a missing key.
pub const NO_SUCH_KEY: &str = "ERR no such key";
/// SELECT / MOVE / COPY DB with a bad index.
pub const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";
/// INCR family overflow.
pub const INCR_OVERFLOW: &str = "ERR increment or decrement would overflow";
/// INCRBYFLOAT producing NaN or infinity.
pub const INCR_NAN: &str = "ERR increment would produce NaN or Infinity";
/// A string would exceed `proto-max-bulk-len`.
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// SETRANGE / GETRANGE offsets.
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
/// An index argument out of range.
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
/// HELLO with an unsupported protocol version.
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
/// Memory limit reached for a command that would use more.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// EVALSHA of an unknown script.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
/// Unauthenticated command on a password-protected server.
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// Wrong credentials.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// SCAN with a cursor that is not a number.
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
/// CLIENT KILL that matched nobody.
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
/// DEBUG disabled by configuration.
pub const DEBUG_DISABLED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
/// Conflicting EXPIRE options.
pub const EXPIRE_NX_XX_GT_LT: &str = "ERR NX and XX, GT or LT options at the same time are not compatible";
/// Conflicting EXPIRE options.
pub const EXPIRE_GT_LT: &str = "ERR GT and LT options at the same time are not compatible";
/// A command that is not allowed inside a script or in the current context.
pub const CLIENT_NAME_SPACES: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// Protocol error: `*<n>` unusable.
pub const PROTO_INVALID_MULTIBULK: &str = "ERR Protocol error: invalid multibulk length";
/// Protocol error: `$<n>` unusable.
pub const PROTO_INVALID_BULK: &str = "ERR Protocol error: invalid bulk length";
/// Protocol error: inline request above 64 KB.
pub const PROTO_BIG_INLINE: &str = "ERR Protocol error: too big inline request";
/// Protocol error: multibulk count line above 64 KB.
pub const PROTO_BIG_MBULK: &str = "ERR Protocol error: too big mbulk count string";
/// Protocol error: bulk count line above 64 KB.
pub const PROTO_BIG_BULK_COUNT: &str = "ERR Protocol error: too big bulk count string";
/// Protocol error: unterminated quote in an inline request.
pub const PROTO_UNBALANCED: &str = "ERR Protocol error: unbalanced quotes in request";
/// Protocol error: too many arguments before authentication.
pub const PROTO_UNAUTH_MULTIBULK: &str = "ERR Protocol error: unauthenticated multibulk length";
/// Protocol error: bulk too large before authentication.
pub const PROTO_UNAUTH_BULK: &str = "ERR Protocol error: unauthenticated bulk length";

/// The prefix of `-ERR unknown command`, which clients (Redisson, go-redis) match to detect an
/// unsupported command.
pub const UNKNOWN_COMMAND_PREFIX: &str = "ERR unknown command";

/// Writes Redis' "unknown command" text for `name` and its arguments into `out`:
/// `ERR unknown command 'name', with args beginning with: 'a' 'b' `. As in Redis, each piece is a
/// C string (cut at a NUL byte) and the argument list stops once it reaches 128 bytes.
pub fn unknown_command<'a>(out: &mut Vec<u8>, name: &[u8], args: impl Iterator<Item = &'a [u8]>) {
    out.extend_from_slice(b"ERR unknown command '");
    out.extend_from_slice(&cstr(name)[..cstr(name).len().min(128)]);
    out.extend_from_slice(b"', with args beginning with: ");
    let start = out.len();
    for a in args {
        let used = out.len() - start;
        if used >= 128 {
            break;
        }
        let a = cstr(a);
        out.push(b'\'');
        out.extend_from_slice(&a[..a.len().min(128 - used)]);
        out.extend_from_slice(b"' ");
    }
}

/// Writes `ERR unknown subcommand 'sub'. Try CMD HELP.`.
pub fn unknown_subcommand(out: &mut Vec<u8>, command: &[u8], sub: &[u8]) {
    out.extend_from_slice(b"ERR unknown subcommand '");
    let sub = cstr(sub);
    out.extend_from_slice(&sub[..sub.len().min(128)]);
    out.extend_from_slice(b"'. Try ");
    out.extend(cstr(command).iter().map(u8::to_ascii_uppercase));
    out.extend_from_slice(b" HELP.");
}

/// Writes `ERR wrong number of arguments for 'name' command` (name is the lower-case full name,
/// `config|get` for a subcommand).
pub fn wrong_arity(out: &mut Vec<u8>, fullname: &str) {
    out.extend_from_slice(b"ERR wrong number of arguments for '");
    out.extend_from_slice(fullname.as_bytes());
    out.extend_from_slice(b"' command");
}

/// The part of `s` a C string function would see (up to the first NUL byte).
pub fn cstr(s: &[u8]) -> &[u8] {
    match memchr::memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_text() {
        let mut v = Vec::new();
        unknown_command(&mut v, b"foo", [&b"a"[..], b"b"].into_iter());
        assert_eq!(v, b"ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
        v.clear();
        unknown_command(&mut v, b"fo\0o", std::iter::empty());
        assert_eq!(v, b"ERR unknown command 'fo', with args beginning with: ");
    }

    #[test]
    fn unknown_command_caps_the_argument_list() {
        let long = [b'x'; 200];
        let mut v = Vec::new();
        unknown_command(&mut v, b"foo", [&long[..], b"b"].into_iter());
        let tail = &v[b"ERR unknown command 'foo', with args beginning with: ".len()..];
        assert_eq!(tail.len(), 128 + 3);
    }

    #[test]
    fn subcommand_text() {
        let mut v = Vec::new();
        unknown_subcommand(&mut v, b"config", b"foo");
        assert_eq!(v, b"ERR unknown subcommand 'foo'. Try CONFIG HELP.");
    }
}
