//! RESP on the wire, through the `redis-protocol` crate: commands are encoded as RESP2 arrays of
//! bulk strings (what every server reads, whatever the connection's protocol), replies are
//! decoded as RESP2 or RESP3 by the connection's protocol and turned into [`Reply`].

use redis_protocol::bytes::{Bytes, BytesMut};
use redis_protocol::resp2::types::BorrowedFrame;
use redis_protocol::{resp2, resp3};

use crate::NodeError;

/// A decoded reply, the same for RESP2 and RESP3.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Reply {
    /// `+OK` and other simple strings.
    Status(Bytes),
    /// `-ERR …`: the whole error line.
    Error(String),
    /// `:n`.
    Int(i64),
    /// `$n` bulk strings (and RESP3 verbatim strings).
    Bulk(Bytes),
    /// RESP2 null bulk / null array, RESP3 `_`.
    Nil,
    /// Arrays and RESP3 sets.
    Array(Vec<Reply>),
    /// RESP3 maps, in the order received.
    Map(Vec<(Reply, Reply)>),
    /// Anything else (RESP3 doubles, booleans, big numbers): nothing this crate asks for.
    Other,
}

impl Reply {
    /// True for `+OK`.
    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Reply::Status(s) if s.as_ref() == b"OK")
    }
}

/// Appends one command to `out`.
pub(crate) fn encode(out: &mut BytesMut, args: &[&[u8]]) -> Result<(), NodeError> {
    // Commands have at most 8 arguments here; a small stack array avoids an allocation.
    let mut frames: [BorrowedFrame<'_>; 8] = std::array::from_fn(|_| BorrowedFrame::Null);
    if args.len() > frames.len() {
        return Err(NodeError::Protocol(format!("command of {} arguments", args.len())));
    }
    for (f, a) in frames.iter_mut().zip(args) {
        *f = BorrowedFrame::BulkString(a);
    }
    let frame = BorrowedFrame::Array(&frames[..args.len()]);
    resp2::encode::extend_encode_borrowed(out, &frame, false)
        .map(|_| ())
        .map_err(|e| NodeError::Protocol(format!("encoding: {e}")))
}

/// Decodes the first complete reply in `buf`, splitting it off; `Ok(None)` when `buf` holds less
/// than a whole reply. RESP3 pushes come back as `Some(None)` (out of band: no request waits).
pub(crate) fn decode(buf: &mut BytesMut, resp3: bool) -> Result<Option<Option<Reply>>, NodeError> {
    let err = |e: redis_protocol::error::RedisProtocolError| NodeError::Protocol(format!("decoding: {e}"));
    // A top-level error line is read here, not by redis-protocol, which rejects one that is not
    // UTF-8; Redis' `ERR unknown command '…', with args beginning with: …` quotes the
    // arguments, binary keys and tokens included, and must still be recognised.
    if buf.first() == Some(&b'-') {
        let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let line = buf.split_to(end + 2);
        return Ok(Some(Some(Reply::Error(String::from_utf8_lossy(&line[1..end]).into_owned()))));
    }
    if resp3 {
        match resp3::decode::complete::decode_bytes_mut(buf).map_err(err)? {
            None => Ok(None),
            Some((resp3::types::BytesFrame::Push { .. }, _, _)) => Ok(Some(None)),
            Some((frame, _, _)) => Ok(Some(Some(from_resp3(frame)))),
        }
    } else {
        match resp2::decode::decode_bytes_mut(buf).map_err(err)? {
            None => Ok(None),
            Some((frame, _, _)) => Ok(Some(Some(from_resp2(frame)))),
        }
    }
}

fn from_resp2(f: resp2::types::BytesFrame) -> Reply {
    use resp2::types::BytesFrame as F;
    match f {
        F::SimpleString(s) => Reply::Status(s),
        F::Error(e) => Reply::Error(e.to_string()),
        F::Integer(i) => Reply::Int(i),
        F::BulkString(b) => Reply::Bulk(b),
        F::Array(a) => Reply::Array(a.into_iter().map(from_resp2).collect()),
        F::Null => Reply::Nil,
    }
}

fn from_resp3(f: resp3::types::BytesFrame) -> Reply {
    use resp3::types::BytesFrame as F;
    match f {
        F::SimpleString { data, .. } => Reply::Status(data),
        F::SimpleError { data, .. } => Reply::Error(data.to_string()),
        F::BlobError { data, .. } => Reply::Error(String::from_utf8_lossy(&data).into_owned()),
        F::Number { data, .. } => Reply::Int(data),
        F::BlobString { data, .. } | F::VerbatimString { data, .. } => Reply::Bulk(data),
        F::Null => Reply::Nil,
        F::Array { data, .. } | F::Push { data, .. } => Reply::Array(data.into_iter().map(from_resp3).collect()),
        F::Set { data, .. } => Reply::Array(data.into_iter().map(from_resp3).collect()),
        F::Map { data, .. } => Reply::Map(data.into_iter().map(|(k, v)| (from_resp3(k), from_resp3(v))).collect()),
        _ => Reply::Other,
    }
}

/// Formats a number into `buf` and returns the digits (no allocation on the lock path).
pub(crate) fn itoa(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_binary_safe_arrays() {
        let mut out = BytesMut::new();
        encode(&mut out, &[b"SET", b"k", b"a\r\n\0b"]).unwrap();
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\n\0b\r\n");
        assert!(encode(&mut out, &[b"x".as_slice(); 9]).is_err());
    }

    #[test]
    fn decodes_resp2_in_pieces() {
        let mut buf = BytesMut::from(&b"+OK\r\n$-1\r\n:12\r\n-ERR no\r\n*2\r\n$1\r\na\r\n$"[..]);
        assert_eq!(decode(&mut buf, false).unwrap(), Some(Some(Reply::Status(Bytes::from_static(b"OK")))));
        assert_eq!(decode(&mut buf, false).unwrap(), Some(Some(Reply::Nil)));
        assert_eq!(decode(&mut buf, false).unwrap(), Some(Some(Reply::Int(12))));
        assert_eq!(decode(&mut buf, false).unwrap(), Some(Some(Reply::Error("ERR no".into()))));
        assert_eq!(decode(&mut buf, false).unwrap(), None);
        buf.extend_from_slice(b"1\r\nb\r\n");
        let r = decode(&mut buf, false).unwrap();
        assert_eq!(
            r,
            Some(Some(Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(b"a")),
                Reply::Bulk(Bytes::from_static(b"b"))
            ])))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn decodes_binary_error_lines() {
        let mut buf =
            BytesMut::from(&b"-ERR unknown command 'X', with args beginning with: '\xff\x00' \r\n:1\r\n-ERR"[..]);
        match decode(&mut buf, false).unwrap() {
            Some(Some(Reply::Error(e))) => assert!(e.starts_with("ERR unknown command 'X'")),
            r => panic!("{r:?}"),
        }
        assert_eq!(decode(&mut buf, true).unwrap(), Some(Some(Reply::Int(1))));
        assert_eq!(decode(&mut buf, true).unwrap(), None);
    }

    #[test]
    fn decodes_resp3() {
        let mut buf = BytesMut::from(&b"_\r\n%1\r\n+proto\r\n:3\r\n>2\r\n+message\r\n+x\r\n_\r\n"[..]);
        assert_eq!(decode(&mut buf, true).unwrap(), Some(Some(Reply::Nil)));
        assert_eq!(
            decode(&mut buf, true).unwrap(),
            Some(Some(Reply::Map(vec![(Reply::Status(Bytes::from_static(b"proto")), Reply::Int(3))])))
        );
        assert_eq!(decode(&mut buf, true).unwrap(), Some(None));
        assert_eq!(decode(&mut buf, true).unwrap(), Some(Some(Reply::Nil)));
    }

    #[test]
    fn numbers() {
        let mut b = [0u8; 20];
        assert_eq!(itoa(0, &mut b), b"0");
        assert_eq!(itoa(30000, &mut b), b"30000");
        assert_eq!(itoa(u64::MAX, &mut b), b"18446744073709551615");
    }
}
