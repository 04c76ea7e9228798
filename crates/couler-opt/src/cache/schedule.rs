//! A deterministic list schedule with `M` slots: when a slot is free, the ready task with the
//! smallest priority starts (priority = trace order, or a seeded shuffle of it). Finishing at
//! the same instant is ordered by task index, so the same input, slots and seed always give
//! the same schedule.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// One step of the replay, in schedule order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The task starts: it reads its inputs now.
    Start(usize),
    /// The task finishes: its outputs exist now.
    Finish(usize),
}

/// Start and finish times of every task and the order events happened in.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub start: Vec<f64>,
    pub finish: Vec<f64>,
    pub makespan: f64,
    pub events: Vec<Event>,
}

/// Per-task priorities: the trace order for seed 0, else a seeded shuffle (SplitMix64), so a
/// seed picks one of many equally valid scheduler tie-breaks.
pub fn priorities(n: usize, seed: u64) -> Vec<u64> {
    if seed == 0 {
        return (0..n as u64).collect();
    }
    (0..n as u64)
        .map(|i| {
            let mut z = seed
                .wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

#[derive(PartialEq)]
struct Running(f64, usize);
impl Eq for Running {}
impl PartialOrd for Running {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Running {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Schedules `durations[t]` seconds per task on `slots` slots (at least 1).
pub fn list_schedule(
    parents: &[Vec<usize>],
    children: &[Vec<usize>],
    durations: &[f64],
    slots: usize,
    priority: &[u64],
) -> Schedule {
    let n = durations.len();
    let slots = slots.max(1);
    let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Reverse<(u64, usize)>> = (0..n)
        .filter(|&t| waiting[t] == 0)
        .map(|t| Reverse((priority[t], t)))
        .collect();
    let mut running: BinaryHeap<Reverse<Running>> = BinaryHeap::new();
    let mut start = vec![0.0; n];
    let mut finish = vec![0.0; n];
    let mut events = Vec::with_capacity(2 * n);
    let mut now = 0.0f64;
    loop {
        while running.len() < slots {
            let Some(Reverse((_, t))) = ready.pop() else {
                break;
            };
            start[t] = now;
            finish[t] = now + durations[t];
            events.push(Event::Start(t));
            running.push(Reverse(Running(finish[t], t)));
        }
        let Some(Reverse(Running(at, t))) = running.pop() else {
            break;
        };
        now = at;
        events.push(Event::Finish(t));
        for &c in &children[t] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(Reverse((priority[c], c)));
            }
        }
    }
    Schedule {
        makespan: finish.iter().copied().fold(0.0, f64::max),
        start,
        finish,
        events,
    }
}
