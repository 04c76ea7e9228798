//! The generation log (`FILE.generate.jsonl`): every prompt and answer, one JSON object a line,
//! for audit and replay; and [`Replay`], the model that answers from such a log.

use crate::model::{Message, Model, ModelError, Options};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One exchange with the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The pipeline's stage: `decompose`, `generate`, `calibrate`, `revise`.
    pub stage: String,
    /// The round within the stage (the sub-task's index for `generate`).
    pub round: u32,
    /// What the model was asked.
    pub messages: Vec<Message>,
    /// What it answered.
    pub answer: String,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// Where entries go: a file appended line by line (flushed each time), memory (the server
/// answers with them), or nowhere.
pub enum Log {
    None,
    File(PathBuf, std::fs::File),
    Memory(Vec<Entry>),
}

impl Log {
    /// No log.
    pub fn none() -> Log {
        Log::None
    }

    /// A log kept in memory ([`Log::entries`]).
    pub fn memory() -> Log {
        Log::Memory(Vec::new())
    }

    /// A new log at `path` (truncated).
    pub fn create(path: &Path) -> Result<Log, String> {
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot create the log {}: {e}", path.display()))?;
        Ok(Log::File(path.to_path_buf(), file))
    }

    /// Appends `entry`.
    pub fn append(&mut self, entry: &Entry) -> Result<(), String> {
        match self {
            Log::None => Ok(()),
            Log::Memory(entries) => {
                entries.push(entry.clone());
                Ok(())
            }
            Log::File(path, file) => {
                let mut line = serde_json::to_string(entry).expect("an entry serialises");
                line.push('\n');
                file.write_all(line.as_bytes())
                    .and_then(|()| file.flush())
                    .map_err(|e| format!("cannot write the log {}: {e}", path.display()))
            }
        }
    }

    /// The entries a memory log kept (none for the others).
    pub fn entries(self) -> Vec<Entry> {
        match self {
            Log::Memory(entries) => entries,
            Log::None | Log::File(..) => Vec::new(),
        }
    }
}

/// Reads a log; an error names the file and line.
pub fn read(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the log {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                format!(
                    "{}:{}: not a generation log entry ({e}); give a FILE.generate.jsonl that `couler generate` wrote",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// A model that gives a log's answers in order, and refuses a question the log did not record
/// (another description, options or version of the pipeline).
pub struct Replay {
    name: String,
    entries: Vec<Entry>,
    next: Mutex<usize>,
}

impl Replay {
    /// The answers of the log at `path`.
    pub fn open(path: &Path) -> Result<Replay, String> {
        Ok(Replay {
            name: path.display().to_string(),
            entries: read(path)?,
            next: Mutex::new(0),
        })
    }
}

impl Model for Replay {
    fn describe(&self) -> String {
        format!("the replay of {}", self.name)
    }

    fn chat(&self, messages: &[Message], _options: &Options) -> Result<String, ModelError> {
        let mut next = self.next.lock().expect("replay cursor");
        let n = *next + 1;
        let Some(entry) = self.entries.get(*next) else {
            return Err(ModelError(format!(
                "{}: the log ends after {} answers, the pipeline asks for more; replay with the options that wrote it",
                self.name,
                self.entries.len()
            )));
        };
        if entry.messages != messages {
            return Err(ModelError(format!(
                "{}: entry {n} ({} round {}) was asked another question than the pipeline asks now; replay with the description and options that wrote the log",
                self.name, entry.stage, entry.round
            )));
        }
        *next += 1;
        Ok(entry.answer.clone())
    }
}
