//! Measurements shared by the runtime's benchmarks.

use std::time::Instant;

/// This process's peak resident set size, in MiB.
pub fn peak_rss_mib() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
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
