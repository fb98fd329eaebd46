//! A raw RESP client for tests: sends commands, returns each reply's exact bytes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Encodes a command as a RESP multibulk request.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        b.extend_from_slice(a);
        b.extend_from_slice(b"\r\n");
    }
    b
}

/// Why a read failed.
#[derive(Debug)]
pub enum ReadError {
    /// The server closed the connection.
    Closed,
    /// Something else (timeout, malformed reply).
    Other(String),
}

/// A connection that keeps replies as raw bytes.
pub struct RawConn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(addr: SocketAddr) -> std::io::Result<RawConn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(RawConn { s, buf: Vec::new() })
    }

    /// Waits until something is there to read, at most `limit`; true when it is.
    pub fn await_data(&mut self, limit: Duration) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        let _ = self.s.set_read_timeout(Some(limit.max(Duration::from_millis(1))));
        let r = self.s.peek(&mut [0u8; 1]);
        let _ = self.s.set_read_timeout(Some(Duration::from_secs(10)));
        matches!(r, Ok(n) if n > 0)
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        let mut tmp = [0u8; 65536];
        match self.s.read(&mut tmp) {
            Ok(0) => Err(ReadError::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Err(ReadError::Closed),
            Err(e) => Err(ReadError::Other(e.to_string())),
        }
    }

    fn line_end(&mut self, from: usize) -> Result<usize, ReadError> {
        loop {
            if let Some(i) = self.buf[from.min(self.buf.len())..].windows(2).position(|w| w == b"\r\n") {
                return Ok(from + i);
            }
            self.fill()?;
        }
    }

    /// End offset of the reply starting at `pos` (reading more as needed).
    fn frame_end(&mut self, pos: usize) -> Result<usize, ReadError> {
        while self.buf.len() <= pos {
            self.fill()?;
        }
        let tag = self.buf[pos];
        let le = self.line_end(pos)?;
        let head = String::from_utf8_lossy(&self.buf[pos + 1..le]).into_owned();
        match tag {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(le + 2),
            b'$' | b'=' | b'!' => {
                let n: i64 = head.parse().map_err(|_| ReadError::Other(format!("bad length {head}")))?;
                if n < 0 {
                    return Ok(le + 2);
                }
                let end = le + 2 + n as usize + 2;
                while self.buf.len() < end {
                    self.fill()?;
                }
                Ok(end)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = head.parse().map_err(|_| ReadError::Other(format!("bad length {head}")))?;
                if n < 0 {
                    return Ok(le + 2);
                }
                let n = if tag == b'%' || tag == b'|' { 2 * n } else { n };
                let mut p = le + 2;
                for _ in 0..n {
                    p = self.frame_end(p)?;
                }
                Ok(p)
            }
            other => Err(ReadError::Other(format!("unexpected reply byte {other:#x}"))),
        }
    }

    /// Reads one reply, as bytes.
    pub fn read_reply(&mut self) -> Result<Vec<u8>, ReadError> {
        let end = self.frame_end(0)?;
        Ok(self.buf.drain(..end).collect())
    }

    /// Sends a command and reads its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, ReadError> {
        self.s.write_all(&encode(args)).map_err(|e| ReadError::Other(e.to_string()))?;
        self.read_reply()
    }

    /// Sends a command given as strings and reads its reply.
    pub fn cmd_str(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.cmd(&a).unwrap_or_else(|e| panic!("{args:?}: {e:?}"))
    }

    /// Sends raw bytes and returns everything received until the server closes the connection
    /// or stays silent for `quiet`.
    pub fn raw(&mut self, data: &[u8], quiet: Duration) -> Vec<u8> {
        let _ = self.s.write_all(data);
        let mut out = std::mem::take(&mut self.buf);
        let _ = self.s.set_read_timeout(Some(quiet));
        let mut tmp = [0u8; 65536];
        loop {
            match self.s.read(&mut tmp) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&tmp[..n]),
                Err(_) => break,
            }
        }
        let _ = self.s.set_read_timeout(Some(Duration::from_secs(10)));
        out
    }

    /// Writes bytes without reading.
    pub fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.s.write_all(data)
    }

    /// True when the server has closed the connection (reads EOF within `wait`).
    pub fn is_closed(&mut self, wait: Duration) -> bool {
        let _ = self.s.set_read_timeout(Some(wait));
        let mut tmp = [0u8; 1];
        let r = matches!(self.s.read(&mut tmp), Ok(0))
            || matches!(self.s.read(&mut tmp), Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset);
        let _ = self.s.set_read_timeout(Some(Duration::from_secs(10)));
        r
    }
}

/// A decoded reply, for assertions that do not compare bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Double(String),
    Bool(bool),
    Verbatim(Vec<u8>),
    BigNum(String),
    Push(Vec<Value>),
}

/// Decodes one reply from raw bytes.
pub fn parse(data: &[u8]) -> (Value, usize) {
    let le = data.windows(2).position(|w| w == b"\r\n").unwrap();
    let head = String::from_utf8_lossy(&data[1..le]).into_owned();
    let p = le + 2;
    match data[0] {
        b'+' => (Value::Simple(head), p),
        b'-' => (Value::Error(head), p),
        b':' => (Value::Int(head.parse().unwrap()), p),
        b'_' => (Value::Null, p),
        b',' => (Value::Double(head), p),
        b'#' => (Value::Bool(head == "t"), p),
        b'(' => (Value::BigNum(head), p),
        b'$' | b'=' => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return (Value::Null, p);
            }
            let body = data[p..p + n as usize].to_vec();
            let v = if data[0] == b'=' { Value::Verbatim(body[4..].to_vec()) } else { Value::Bulk(body) };
            (v, p + n as usize + 2)
        }
        tag => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return (Value::Null, p);
            }
            let mut pos = p;
            let mut items = Vec::new();
            let count = if tag == b'%' { 2 * n } else { n };
            for _ in 0..count {
                let (v, used) = parse(&data[pos..]);
                items.push(v);
                pos += used;
            }
            let v = match tag {
                b'%' => Value::Map(items.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect()),
                b'~' => Value::Set(items),
                b'>' => Value::Push(items),
                _ => Value::Array(items),
            };
            (v, pos)
        }
    }
}

impl Value {
    /// The value as text, for bulk/simple/verbatim replies.
    pub fn text(&self) -> String {
        match self {
            Value::Simple(s) | Value::Error(s) | Value::Double(s) | Value::BigNum(s) => s.clone(),
            Value::Bulk(b) | Value::Verbatim(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Int(i) => i.to_string(),
            other => format!("{other:?}"),
        }
    }
}
