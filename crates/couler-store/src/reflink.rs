//! Placing a local blob by reflink (`FICLONE`): the copy shares the blob's extents until either
//! is written, so a 20 MB input costs no space in the step's work directory, and a step that
//! writes to its input writes its own copy (copy-on-write), never the blob. Where the file
//! system cannot clone (ext4, tmpfs, or the two on different file systems), the caller copies.
//!
//! Hard links would save the space on every file system, but would let a step that writes to
//! its input in place (`>>`, `dd conv=notrunc`, an mmap) change the blob under every later
//! cache hit; making the blob read-only does not stop its owner (who may `chmod` it) or root.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `FICLONE` from linux/fs.h: `_IOW(0x94, 9, int)`.
const FICLONE: libc::c_ulong = 0x4004_9409;

/// Creates `dest` (which must not exist) as a reflink of `src` with `mode`. `Ok(false)`: the
/// file system cannot clone here, and nothing was left at `dest`.
pub(crate) fn clone_file(src: &Path, dest: &Path, mode: u32) -> std::io::Result<bool> {
    let from = File::open(src)?;
    let to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(dest)?;
    // SAFETY: FICLONE takes the source descriptor as its argument; both descriptors are open.
    let r = unsafe { libc::ioctl(to.as_raw_fd(), FICLONE as _, from.as_raw_fd()) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    drop(to);
    let _ = std::fs::remove_file(dest);
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP | libc::EXDEV | libc::EINVAL | libc::ENOTTY | libc::ENOSYS) => {
            Ok(false)
        }
        _ => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_clone_or_its_refusal_leaves_the_source_as_it_was() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (src, dest) = (d.path().join("blob"), d.path().join("input"));
        std::fs::write(&src, b"the blob").unwrap_or_else(|e| panic!("{e}"));
        let cloned = clone_file(&src, &dest, 0o644).unwrap_or_else(|e| panic!("{e}"));
        if cloned {
            // Writing the clone in place must not reach the blob (copy-on-write).
            let mut f = OpenOptions::new()
                .append(true)
                .open(&dest)
                .unwrap_or_else(|e| panic!("{e}"));
            f.write_all(b" changed").unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                std::fs::read(&dest).ok().as_deref(),
                Some(&b"the blob changed"[..])
            );
        } else {
            assert!(!dest.exists(), "a refused clone leaves nothing behind");
        }
        assert_eq!(std::fs::read(&src).ok().as_deref(), Some(&b"the blob"[..]));
    }
}
