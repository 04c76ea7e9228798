//! The log of a model's exchanges (`couler generate`'s `FILE.generate.jsonl`, `couler tune
//! bench --record`): every prompt and answer, one JSON object a line, for audit and replay; and
//! [`Replay`], the model that answers from such a log.

use crate::{Message, Model, ModelError, Options};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One exchange with the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// What asked: a generation stage (`decompose`, `generate`, `calibrate`, `revise`), or
    /// `tune` for the `llm` tuning method.
    pub stage: String,
    /// The round within the stage (the sub-task's index for `generate`, the study's round for
    /// `tune`).
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

/// A model that answers from a log: each question gets the answer recorded for the same
/// messages (the same question asked several times gets its answers in the order recorded), and
/// a question the log did not record is refused (another description, options or version of
/// what asks). Order between different questions does not matter, so studies or stages that ran
/// concurrently when recorded replay in any order.
pub struct Replay {
    name: String,
    entries: Vec<Entry>,
    used: Mutex<Vec<bool>>,
}

impl Replay {
    /// The answers of the log at `path`.
    pub fn open(path: &Path) -> Result<Replay, String> {
        Ok(Replay::new(path.display().to_string(), read(path)?))
    }

    /// The answers of `entries`, named `name` in messages.
    pub fn new(name: String, entries: Vec<Entry>) -> Replay {
        let used = Mutex::new(vec![false; entries.len()]);
        Replay {
            name,
            entries,
            used,
        }
    }
}

impl Model for Replay {
    fn describe(&self) -> String {
        format!("the replay of {}", self.name)
    }

    fn chat(&self, messages: &[Message], _options: &Options) -> Result<String, ModelError> {
        let mut used = self.used.lock().expect("replay bookkeeping");
        let same = |e: &&Entry| e.messages == messages;
        let found = self
            .entries
            .iter()
            .enumerate()
            .find(|(i, e)| !used[*i] && same(e));
        match found {
            Some((i, entry)) => {
                used[i] = true;
                Ok(entry.answer.clone())
            }
            None => {
                let asked = self.entries.iter().filter(same).count();
                Err(ModelError(if asked > 0 {
                    format!(
                        "{}: the log answers this question {asked} times, and it is asked once more; replay with the options that wrote it",
                        self.name
                    )
                } else {
                    format!(
                        "{}: the log has no answer to this question ({} entries, none asked the same messages); replay with the description and options that wrote the log",
                        self.name,
                        self.entries.len()
                    )
                }))
            }
        }
    }
}

/// A model whose every exchange is appended to a log under one stage name (`couler tune bench
/// --record`); [`Replay`] answers from that log later. An exchange that cannot be logged is an
/// error, never an unrecorded answer.
pub struct Recorder {
    inner: Box<dyn Model + Send + Sync>,
    stage: String,
    log: Mutex<Log>,
}

impl Recorder {
    pub fn new(inner: Box<dyn Model + Send + Sync>, stage: &str, log: Log) -> Recorder {
        Recorder {
            inner,
            stage: stage.to_string(),
            log: Mutex::new(log),
        }
    }
}

impl Model for Recorder {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn chat(&self, messages: &[Message], options: &Options) -> Result<String, ModelError> {
        let start = std::time::Instant::now();
        let answer = self.inner.chat(messages, options)?;
        let entry = Entry {
            stage: self.stage.clone(),
            round: 0,
            messages: messages.to_vec(),
            answer: answer.clone(),
            millis: start.elapsed().as_millis() as u64,
        };
        self.log
            .lock()
            .expect("log")
            .append(&entry)
            .map_err(ModelError)?;
        Ok(answer)
    }
}
