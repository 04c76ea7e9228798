//! A step's peak resident set size, without the executor's own memory.
//!
//! `wait4`'s `ru_maxrss` is a high-water mark that survives `exec`: the kernel folds the old
//! address space's peak into it when the child execs, and the child's old address space is the
//! executor's (shared with `vfork`/`posix_spawn`, copied with `fork`). So a `true` step reported
//! the executor's 15 MiB. Two facts separate the step from the executor:
//!
//! - when `ru_maxrss` is above the executor's own peak (`getrusage(RUSAGE_SELF)`), it cannot
//!   come from the executor: it is the step's (its own or a waited-for child's), exactly;
//! - otherwise the step's peak is at most the executor's and is read from the step itself:
//!   `VmHWM` (the peak of its own address space, which starts at `exec`) in
//!   `/proc/PID/status`, read as soon as it is spawned (spawning returns after its `exec`) and
//!   every [`SAMPLE_EVERY`] while it runs. Growth after the last read is not seen, nor are
//!   children it did not wait for: such a peak is a lower bound (docs/runtime.md).
//!
//! cgroup v2's `memory.peak` would be exact in both cases but needs a cgroup per step, which a
//! hybrid (v1 memory controller) host such as this project's CI does not offer unprivileged.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How often a running step's `VmHWM` is read.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Watches one step process's peak RSS while it runs.
pub(crate) struct PeakRss {
    sampled: Arc<AtomicI64>,
    sampler: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    /// Starts watching `pid`, which has just been spawned (and so has exec'd).
    pub(crate) fn watch(pid: i32) -> PeakRss {
        let sampled = Arc::new(AtomicI64::new(vm_hwm_kb(pid).unwrap_or(0)));
        let max = Arc::clone(&sampled);
        let sampler = tokio::spawn(async move {
            loop {
                tokio::time::sleep(SAMPLE_EVERY).await;
                match vm_hwm_kb(pid) {
                    Some(kb) => {
                        max.fetch_max(kb, Ordering::Relaxed);
                    }
                    // Exited (a zombie has no address space) or reaped.
                    None => return,
                }
            }
        });
        PeakRss { sampled, sampler }
    }

    /// The step's peak RSS in KiB, given the `ru_maxrss` its `wait4` reported.
    pub(crate) fn step_peak_kb(&self, wait4_kb: i64) -> i64 {
        self.sampler.abort();
        if wait4_kb > own_peak_kb() {
            wait4_kb
        } else {
            self.sampled.load(Ordering::Relaxed).min(wait4_kb)
        }
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.sampler.abort();
    }
}

/// The executor's own peak RSS in KiB.
fn own_peak_kb() -> i64 {
    // SAFETY: an all-zero rusage is a valid value for this plain C struct, and getrusage only
    // writes into it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru points to a live, writable local.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return i64::MAX;
    }
    ru.ru_maxrss
}

/// `VmHWM` of a live process, in KiB; `None` once it has exited.
fn vm_hwm_kb(pid: i32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_peak() {
        let me = i32::try_from(std::process::id()).unwrap_or_else(|e| panic!("{e}"));
        let hwm = vm_hwm_kb(me).unwrap_or_else(|| panic!("no VmHWM for this process"));
        assert!(
            hwm > 0 && hwm <= own_peak_kb(),
            "{hwm} vs {}",
            own_peak_kb()
        );
        assert_eq!(vm_hwm_kb(i32::MAX), None);
    }
}
