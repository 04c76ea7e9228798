//! Sparse files are refused, not densified. A blob is the file's whole content on every
//! backend (S3, GCS, OSS and HDFS keep no holes), and every consumer's working directory gets
//! that whole content again, so a `truncate -s 2G` file would cost 2 GiB in the store and 2 GiB
//! per consumer. Holes are found with `SEEK_DATA`/`SEEK_HOLE`, which report real holes only (a
//! compressing file system's small `st_blocks` is not a hole). Below [`HOLE_LIMIT`] of holes a
//! file is stored as it reads (zeros included): small holes cost little.

use crate::{StoreError, StoreErrorKind};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The most bytes of holes a stored file may have: 64 MiB.
pub const HOLE_LIMIT: u64 = 64 * 1024 * 1024;

/// Refuses the file at `path` when its holes add up to [`HOLE_LIMIT`] or more, saying why and
/// what to do instead.
pub(crate) fn refuse_sparse(path: &Path) -> Result<(), StoreError> {
    let holes = match std::fs::File::open(path) {
        Ok(f) => hole_bytes(&f),
        // Reading it will fail with its own message.
        Err(_) => return Ok(()),
    };
    if holes < HOLE_LIMIT {
        return Ok(());
    }
    Err(StoreError::new(
        StoreErrorKind::InvalidInput,
        format!(
            "cannot store {}: it is a sparse file with {} MiB of holes, which the store would keep as zeros (in the store and again in every consumer's working directory); compress it (`gzip`, `tar --sparse -czf`) or write it without holes",
            path.display(),
            holes / (1024 * 1024)
        ),
    ))
}

/// The bytes of `f` that are holes (0 where the file system does not report holes).
fn hole_bytes(f: &std::fs::File) -> u64 {
    let size = f.metadata().map_or(0, |m| m.len()) as libc::off_t;
    let fd = f.as_raw_fd();
    let (mut at, mut holes) = (0 as libc::off_t, 0u64);
    while at < size {
        // SAFETY: lseek on a descriptor we own, with integer arguments only.
        let data = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if data < 0 {
            // ENXIO: no data after `at`, the rest is a hole; any other error: no holes known.
            let no_more_data = std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO);
            if no_more_data {
                holes += (size - at) as u64;
            }
            break;
        }
        holes += (data - at) as u64;
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        if hole < 0 {
            break;
        }
        at = hole;
    }
    holes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_file_is_refused_and_a_dense_one_is_not() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sparse = d.path().join("sparse");
        let f = std::fs::File::create(&sparse).unwrap_or_else(|e| panic!("{e}"));
        f.set_len(2 << 30).unwrap_or_else(|e| panic!("{e}"));
        let holes = hole_bytes(&f);
        if holes == 0 {
            // This file system reports no holes: nothing is refused there.
            return;
        }
        assert_eq!(holes, 2 << 30);
        let m = refuse_sparse(&sparse).map_or_else(|e| e.to_string(), |()| String::new());
        assert!(
            m.contains("sparse file with 2048 MiB of holes") && m.contains("gzip"),
            "{m}"
        );
        let dense = d.path().join("dense");
        std::fs::write(&dense, vec![0u8; 1 << 20]).unwrap_or_else(|e| panic!("{e}"));
        assert!(refuse_sparse(&dense).is_ok());
    }
}
