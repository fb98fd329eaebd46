//! What the benchmark programs share: the compare-and-delete script and a request encoder.

/// The compare-and-delete release every Redlock-style client runs, in its most common form.
pub const CAD: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// `args` as one RESP multibulk request.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `--name VALUE` options of a benchmark program. `--help` prints `usage` and exits; an
/// option not in `known`, one without its value, or a number that is not one is refused with
/// `usage` and exit status 2, rather than ignored.
pub struct Opts {
    usage: &'static str,
    given: Vec<(String, String)>,
}

impl Opts {
    /// Reads the process' arguments.
    pub fn parse(usage: &'static str, known: &[&str]) -> Opts {
        let mut opts = Opts { usage, given: Vec::new() };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                print!("{usage}");
                std::process::exit(0);
            }
            if !known.contains(&flag.as_str()) {
                opts.refuse(&format!("unknown option {flag:?}"));
            }
            let Some(value) = args.next() else { opts.refuse(&format!("{flag} needs a value")) };
            opts.given.push((flag, value));
        }
        opts
    }

    /// The value of `name` (the last one given), if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.given.iter().rev().find(|(f, _)| f == name).map(|(_, v)| v.as_str())
    }

    /// The number given as `name`, else `default`; a number of at least 1.
    pub fn count(&self, name: &str, default: usize) -> usize {
        match self.text(name) {
            None => default,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => self.refuse(&format!("{name}: not a positive number: {v:?}")),
            },
        }
    }

    /// Says what is wrong with the arguments, then how to use the program, and exits with 2.
    pub fn refuse(&self, msg: &str) -> ! {
        eprint!("{msg}\n\n{}", self.usage);
        std::process::exit(2);
    }
}
