//! The run's slots (`--parallelism`): a counting semaphore whose waiters are served by
//! priority, highest first, and among equal priorities in the order they asked (FIFO). With
//! every priority equal it is a plain FIFO semaphore; critical-path-first dispatch
//! (`dispatch.rs`) gives each step its predicted remaining path as priority.
//!
//! A waiter dropped before it got a slot leaves the queue; one dropped after it was granted a
//! slot but before it saw it hands the slot on, so no slot and no wake-up is lost.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// A waiter's place: higher priority first, then earlier request first.
#[derive(Clone, Copy, Debug)]
struct Place {
    priority: f64,
    seq: u64,
}

impl Ord for Place {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .priority
            .total_cmp(&self.priority)
            .then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for Place {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Place {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Place {}

#[derive(Default)]
struct Inner {
    free: usize,
    next: u64,
    waiting: BTreeMap<Place, oneshot::Sender<()>>,
}

/// A priority-ordered counting semaphore.
pub struct SlotQueue {
    inner: Mutex<Inner>,
}

/// A slot, given back when dropped.
pub struct Slot {
    queue: Arc<SlotQueue>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.queue.release();
    }
}

impl SlotQueue {
    pub fn new(slots: usize) -> Arc<SlotQueue> {
        Arc::new(SlotQueue {
            inner: Mutex::new(Inner {
                free: slots,
                ..Inner::default()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; a poisoned lock's data is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot; among waiters, the highest `priority` gets the next free one, ties
    /// in the order they asked. Cancellation-safe: dropping the future gives up its place (or
    /// the slot it was just granted).
    pub async fn acquire(self: &Arc<Self>, priority: f64) -> Slot {
        let (place, granted) = {
            let mut inner = self.lock();
            if inner.free > 0 {
                inner.free -= 1;
                return Slot {
                    queue: Arc::clone(self),
                };
            }
            let place = Place {
                priority,
                seq: inner.next,
            };
            inner.next += 1;
            let (tx, rx) = oneshot::channel();
            inner.waiting.insert(place, tx);
            (place, rx)
        };
        let mut waiter = Waiter {
            queue: self,
            place,
            done: false,
        };
        // The sender lives in the queue until the slot is granted, so this cannot fail.
        let _ = granted.await;
        waiter.done = true;
        Slot {
            queue: Arc::clone(self),
        }
    }

    /// Gives a slot back: to the first waiter, else to the free count. Granting is removing
    /// the waiter from the queue (under the lock); its `Waiter` hands the slot on if it is
    /// dropped before it saw it.
    fn release(&self) {
        let mut inner = self.lock();
        match inner.waiting.pop_first() {
            Some((_, tx)) => {
                let _ = tx.send(());
            }
            None => inner.free += 1,
        }
    }

    /// Slots free now (tests).
    #[cfg(test)]
    fn free(&self) -> usize {
        self.lock().free
    }
}

/// A waiter's place in the queue while its future lives.
struct Waiter<'a> {
    queue: &'a SlotQueue,
    place: Place,
    done: bool,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let granted = self.queue.lock().waiting.remove(&self.place).is_none();
        if granted {
            self.queue.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Polls `f` once.
    fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        Pin::new(f).poll(&mut cx)
    }

    #[tokio::test]
    async fn the_highest_priority_goes_first_ties_in_order_of_asking() {
        let q = SlotQueue::new(1);
        let held = q.acquire(0.0).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [("low", 1.0), ("high-a", 9.0), ("mid", 5.0), ("high-b", 9.0)] {
            let (q, order) = (Arc::clone(&q), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _slot = q.acquire(priority).await;
                order.lock().unwrap().push(name);
            }));
            // Each waiter asks before the next.
            tokio::task::yield_now().await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["high-a", "high-b", "mid", "low"]);
        assert_eq!(q.free(), 1);
    }

    /// A one-slot queue whose slot is held, with two waiters (priorities 9 and 1), both
    /// polled once (queued); the first is dropped before (`early`) or after the slot's release.
    /// The slots free at the end.
    fn drop_a_waiter(early: bool) -> usize {
        let q = SlotQueue::new(1);
        let mut held = Box::pin(q.acquire(0.0));
        let Poll::Ready(held) = poll_once(&mut held) else {
            panic!("a free slot was not taken at once");
        };
        let mut first = Box::pin(q.acquire(9.0));
        assert!(poll_once(&mut first).is_pending());
        let mut next = Box::pin(q.acquire(1.0));
        assert!(poll_once(&mut next).is_pending());
        if early {
            drop(first);
            drop(held);
        } else {
            // The slot is granted to the first waiter, which is dropped before it sees it.
            drop(held);
            drop(first);
        }
        // Either way the slot goes to the waiter still there.
        let Poll::Ready(slot) = poll_once(&mut next) else {
            panic!("the waiter left did not get the slot");
        };
        assert_eq!(q.free(), 0);
        drop(slot);
        q.free()
    }

    #[test]
    fn a_dropped_waiter_leaves_the_queue() {
        assert_eq!(drop_a_waiter(true), 1);
    }

    #[test]
    fn a_waiter_dropped_after_its_grant_hands_the_slot_on() {
        // Nothing lost: the one slot is free again.
        assert_eq!(drop_a_waiter(false), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_wake_up_is_lost_under_contention() {
        let q = SlotQueue::new(3);
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let (q, running) = (Arc::clone(&q), Arc::clone(&running));
            tasks.spawn(async move {
                let _slot = q.acquire((i % 7) as f64).await;
                let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                assert!(now <= 3, "{now} slots taken of 3");
                tokio::task::yield_now().await;
                running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        assert_eq!(q.free(), 3);
    }
}
