//! The steps of runs on remote clusters (argo, airflow) as their engine last reported them:
//! the follower reads them anyway, and `GET /runs/{id}` and the event streams then answer
//! without calling the engine.

use crate::events::{Bus, step_event};
use crate::store::RunRow;
use couler_run::state::StepRecord;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The steps of each remote run as last read.
#[derive(Default)]
pub struct Mirror(Mutex<HashMap<String, Vec<StepRecord>>>);

impl Mirror {
    /// The steps of run `id`, if it is a remote run this server has read.
    pub fn steps(&self, id: &str) -> Option<Vec<StepRecord>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    pub fn forget(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// Keeps `steps` as `row`'s, publishing each step whose status changed.
    pub fn record(&self, row: &RunRow, steps: Vec<StepRecord>, bus: &Bus) {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let before = all.get(&row.id);
        for s in &steps {
            let known = before.and_then(|b| b.iter().find(|k| k.node == s.node));
            if known.is_none_or(|k| k.status != s.status) {
                bus.publish(step_event(row, s));
            }
        }
        all.insert(row.id.clone(), steps);
    }
}
