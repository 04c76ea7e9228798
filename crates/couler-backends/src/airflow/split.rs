//! Airflow lowering of a split workflow (`couler split --target airflow`): one DAG file per
//! part, and a parent DAG whose tasks trigger each part's DAG and wait for it to finish
//! (`TriggerDagRunOperator`, `wait_for_completion`), in dependency order. This is how the
//! backend lowers any sub-workflow step, so the parent is just the IR parent compiled.
//!
//! Artifacts that cross a cut travel through a directory exchange: every task runs the
//! launcher, which writes a `storage: local` output there and reads the next part's input from
//! it, so the workers must share that directory (one machine, or a shared mount).

use super::{Airflow, dag_file};
use crate::{Backend, CompileError, ExchangeKinds, Options, SplitLowering};
use couler_ir::Workflow;
use std::collections::BTreeMap;

/// The default budget of one DAG file. Airflow has no object size limit, but its DAG processor
/// parses every file again and again (and gives up on one after `dagbag_import_timeout`, 30 s
/// by default), the scheduler walks every task of a run, and the serialized DAG is one database
/// row sent to the API server. 1 MiB is about 1,350 small tasks, which import in about 0.4 s
/// (`scripts/bench-airflow-import`; docs/splitting.md, "Why 1 MiB of DAG file").
pub const DAG_FILE_LIMIT: u64 = 1024 * 1024;

impl SplitLowering for Airflow {
    fn default_max_bytes(&self) -> Option<u64> {
        Some(DAG_FILE_LIMIT)
    }

    /// The launcher reads artifacts that cross a cut from a directory.
    fn exchange_kinds(&self) -> ExchangeKinds {
        ExchangeKinds::Directory
    }

    /// Each step's share of the DAG file as [`dag_file`] writes it; the rest is fixed.
    fn measure_steps(
        &self,
        wf: &Workflow,
        options: &Options,
    ) -> Result<(Vec<u64>, u64), CompileError> {
        super::check_details(self, wf)?;
        let (text, shares) = dag_file(wf, options, &mut Vec::new())?;
        let fixed = (text.len() as u64).saturating_sub(shares.iter().sum());
        Ok((shares, fixed))
    }

    /// `NAME-part-K.yaml` is written as the DAG file `NAME-part-K.py` (DAG id `NAME-part-K`).
    fn child_file(&self, reference: &str) -> String {
        format!("{}.py", crate::sub_workflow_name(reference))
    }

    /// One DAG file per child and the parent's.
    fn lower_split(
        &self,
        parent: &Workflow,
        children: &[(String, Workflow)],
        options: &Options,
    ) -> Result<BTreeMap<String, String>, CompileError> {
        let mut files = BTreeMap::new();
        for (reference, child) in children {
            let out = self.lower(child, options)?;
            let text = out.files.into_values().next().unwrap_or_default();
            files.insert(self.child_file(reference), text);
        }
        files.extend(self.lower(parent, options)?.files);
        Ok(files)
    }
}
