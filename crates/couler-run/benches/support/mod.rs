//! Measurements shared by the runtime's benchmarks.

// Each bench uses a subset of these.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use couler_run::RunOptions;

/// Options for a bench run on the host runner with the cache on. Keep the returned sender alive
/// until the run ends: it is the run's stop channel.
pub fn host_options(
    state_dir: &Path,
    parallelism: Option<usize>,
) -> (tokio::sync::watch::Sender<bool>, RunOptions) {
    let (tx, stop) = tokio::sync::watch::channel(false);
    let mut opts = RunOptions::new(state_dir.to_path_buf(), stop);
    opts.parallelism = parallelism;
    (tx, opts)
}

/// This process's peak resident set size since the last [`reset_peak_rss`], in MiB (Linux's
/// `VmHWM`; elsewhere the whole life's peak from `getrusage`).
pub fn peak_rss_mib() -> f64 {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
    {
        return kb / 1024.0;
    }
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
}

/// Starts a new peak-RSS window (Linux: `5` to `/proc/self/clear_refs` resets `VmHWM` to the
/// current RSS), so each measured shape reports its own peak rather than the process's. Where
/// that is not possible the peaks are cumulative, and the bench says so.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// This process's current resident set size, in MiB (0 where `/proc` is absent).
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Seconds per spawn+wait of `true`, n times in a row (the cost no runtime can avoid).
pub fn raw_spawn(n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        let ok = std::process::Command::new("true")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "`true` failed to run");
    }
    t.elapsed().as_secs_f64() / n as f64
}

/// A fresh temporary directory (removed when dropped), or exit with the reason.
pub fn temp_dir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("no temp dir: {e}");
            std::process::exit(1);
        }
    }
}

/// A multi-threaded tokio runtime, or exit with the reason.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1);
        }
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// CPU seconds (user + system) this process has used, its waited-for children excluded: the
/// runtime's own work, which the machine's other load disturbs much less than wall time.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// The system allocator, counting live heap bytes and their peak: a bench that installs it
/// (`#[global_allocator]`) can tell memory a run holds from memory it leaks, which RSS cannot
/// (the allocator keeps freed pages).
pub struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

/// Live heap bytes now (0 unless [`CountingAlloc`] is the global allocator).
pub fn heap_live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts a new heap-peak window at the current live size.
pub fn reset_heap_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// The largest live heap since the last [`reset_heap_peak`], in bytes.
pub fn heap_peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}
