//! Reading a step's log files in bounded memory, whatever their size: the end of a log (for
//! `result`, a failure's message and the run's display), and the whole of it as a stream
//! (`couler logs`, the launcher's echo to the engine's log). Nothing here reads a whole log into
//! memory; a log that does not exist reads as empty (a stream that printed nothing has none).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// How much of a log's end the line-based readers look at.
const LINE_WINDOW: u64 = 64 * 1024;
/// The most of one line a message or the display keeps (its end).
const LINE_LIMIT: usize = 300;

/// The end of a log file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// Its last bytes (at most what was asked for).
    pub bytes: Vec<u8>,
    /// The file's whole size.
    pub size: u64,
}

impl Tail {
    /// Whether the file holds more than [`Tail::bytes`].
    pub fn cut(&self) -> bool {
        (self.bytes.len() as u64) < self.size
    }
}

fn open(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The last `max` bytes of the file at `path`, read from its end.
pub fn tail(path: &Path, max: u64) -> io::Result<Tail> {
    let Some(mut f) = open(path)? else {
        return Ok(Tail::default());
    };
    let size = f.metadata()?.len();
    let from = size.saturating_sub(max);
    f.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::with_capacity((size - from) as usize);
    f.take(max).read_to_end(&mut bytes)?;
    Ok(Tail { bytes, size })
}

/// The last `n` lines of the file at `path` (each at most [`LINE_LIMIT`] bytes: its end), and
/// whether the file holds text before them. Only the file's last 64 KiB are read.
pub fn last_lines(path: &Path, n: usize) -> io::Result<(Vec<String>, bool)> {
    let t = tail(path, LINE_WINDOW)?;
    let text = String::from_utf8_lossy(&t.bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    // A window that starts mid-file starts mid-line: that line is not shown whole.
    if t.cut() && lines.len() > 1 {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(n);
    let earlier = skip > 0 || t.cut();
    let kept = lines[skip..].iter().map(|l| line_end(l)).collect();
    Ok((kept, earlier))
}

/// `line`, or its last [`LINE_LIMIT`] bytes after `…` (from a character boundary).
fn line_end(line: &str) -> String {
    if line.len() <= LINE_LIMIT {
        return line.to_string();
    }
    let mut cut = line.len() - LINE_LIMIT;
    while !line.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &line[cut..])
}

/// Copies the file at `path` from byte `from` to its current end into `out`; returns the
/// offset reached (`from` when the file does not exist).
pub fn copy_from(path: &Path, from: u64, out: &mut impl Write) -> io::Result<u64> {
    let Some(mut f) = open(path)? else {
        return Ok(from);
    };
    f.seek(SeekFrom::Start(from))?;
    let n = io::copy(&mut f, out)?;
    Ok(from + n)
}

/// Writes the file at `path` as one JSON string (invalid UTF-8 as U+FFFD, as
/// `String::from_utf8_lossy` reads it), or `null` when it does not exist, chunk by chunk.
pub fn write_json_string(path: &Path, out: &mut impl Write) -> io::Result<()> {
    let Some(mut f) = open(path)? else {
        return out.write_all(b"null");
    };
    out.write_all(b"\"")?;
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes of a character that the previous chunk cut.
    let mut carry = 0;
    loop {
        let n = f.read(&mut buf[carry..])?;
        let end = carry + n;
        let at_eof = n == 0;
        let mut rest = &buf[..end];
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    write_escaped(s, out)?;
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // `good` is valid UTF-8 up to `valid_up_to`.
                    write_escaped(std::str::from_utf8(good).unwrap_or_default(), out)?;
                    match e.error_len() {
                        Some(len) => {
                            write_escaped("\u{FFFD}", out)?;
                            rest = &bad[len..];
                        }
                        // An incomplete character at the end: whole with the next chunk, or
                        // one U+FFFD at the end of the file.
                        None if at_eof => {
                            write_escaped("\u{FFFD}", out)?;
                            rest = &[];
                            break;
                        }
                        None => {
                            rest = bad;
                            break;
                        }
                    }
                }
            }
        }
        if at_eof {
            break;
        }
        carry = rest.len();
        let start = end - carry;
        buf.copy_within(start..end, 0);
    }
    out.write_all(b"\"")
}

/// `s` escaped as the inside of a JSON string.
fn write_escaped(s: &str, out: &mut impl Write) -> io::Result<()> {
    if s.is_empty() {
        return Ok(());
    }
    let quoted = serde_json::to_string(s).map_err(io::Error::other)?;
    out.write_all(&quoted.as_bytes()[1..quoted.len() - 1])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A log file holding `bytes`, in a fresh directory.
    pub(crate) fn file(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = d.path().join("x.stdout.log");
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
        (d, p)
    }

    #[test]
    fn a_tail_is_the_end_and_a_missing_file_is_empty() {
        let (d, p) = file(b"0123456789");
        let t = tail(&p, 4).unwrap_or_default();
        assert_eq!(
            (t.bytes.as_slice(), t.size, t.cut()),
            (&b"6789"[..], 10, true)
        );
        let t = tail(&p, 100).unwrap_or_default();
        assert_eq!((t.bytes.len(), t.cut()), (10, false));
        let missing = tail(&d.path().join("none"), 4).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(missing, Tail::default());
    }

    #[test]
    fn last_lines_read_only_the_end_and_shorten_long_lines() {
        let mut text = String::new();
        for i in 0..100_000 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str(&"y".repeat(1000));
        let (_d, p) = file(text.as_bytes());
        let (lines, earlier) = last_lines(&p, 3).unwrap_or_default();
        assert!(earlier);
        assert_eq!(lines[..2], ["line 99998", "line 99999"]);
        assert_eq!(lines[2], format!("…{}", "y".repeat(LINE_LIMIT)));
        let (_d, p) = file(b"a\nb\n");
        assert_eq!(
            last_lines(&p, 40).unwrap_or_default(),
            (vec!["a".to_string(), "b".to_string()], false)
        );
    }

    #[test]
    fn copy_from_resumes_where_it_stopped() {
        let (d, p) = file(b"hello world");
        let mut out = Vec::new();
        assert_eq!(copy_from(&p, 6, &mut out).unwrap_or_default(), 11);
        assert_eq!(out, b"world");
        let gone = copy_from(&d.path().join("none"), 3, &mut out).unwrap_or_default();
        assert_eq!(gone, 3);
    }

    #[test]
    fn a_streamed_json_string_equals_the_lossy_whole() {
        // Characters cut by every chunk boundary, invalid bytes, escapes, and a cut last one.
        let mut bytes = Vec::new();
        for i in 0..40_000 {
            bytes.extend_from_slice("é\"\\\n€😀".as_bytes());
            if i % 997 == 0 {
                bytes.push(0xff);
            }
        }
        bytes.extend_from_slice(&"😀".as_bytes()[..2]);
        let (d, p) = file(&bytes);
        let mut out = Vec::new();
        write_json_string(&p, &mut out).unwrap_or_else(|e| panic!("{e}"));
        let got: String = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, String::from_utf8_lossy(&bytes));
        let mut out = Vec::new();
        write_json_string(&d.path().join("none"), &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, b"null");
    }
}
