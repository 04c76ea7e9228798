//! Strings that hold references, typed: [`concat`], the map [`Item`], and [`this`] step's paths.
//!
//! In the spec format references sit in strings as `{{…}}`. Builder programs never write those:
//! they join text and [`Reference`]s with [`concat`], so a typo in a step or output name is a
//! compile-time or `build()` error rather than a string the engine rejects at run time.

use couler_ir::{Reference, Segment, Template, WorkflowField};

/// A piece of a [`concat`]enated string: text or a reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Part(Segment);

impl From<&str> for Part {
    fn from(s: &str) -> Self {
        Part(Segment::Text(s.to_string()))
    }
}

impl From<String> for Part {
    fn from(s: String) -> Self {
        Part(Segment::Text(s))
    }
}

impl From<Reference> for Part {
    fn from(r: Reference) -> Self {
        Part(Segment::Ref(r))
    }
}

impl From<&Reference> for Part {
    fn from(r: &Reference) -> Self {
        Part(Segment::Ref(r.clone()))
    }
}

impl From<Item> for Part {
    fn from(item: Item) -> Self {
        Part(Segment::Ref(item.into()))
    }
}

/// Joins text and references into one string value, e.g. the spec's `--lr={{params.lr}}`:
///
/// ```
/// use couler::{Template, WorkflowBuilder, concat};
///
/// let mut wf = WorkflowBuilder::new("demo");
/// let lr = wf.param("lr", 0.01);
/// let arg: Template = concat(["--lr=".into(), lr.into()]);
/// assert_eq!(arg.to_string(), "--lr={{params.lr}}");
/// ```
pub fn concat(parts: impl IntoIterator<Item = Part>) -> Template {
    Template::from_segments(parts.into_iter().map(|p| p.0))
}

/// The current element of a [`map`](crate::WorkflowBuilder::map): the whole item, or one field of
/// an object item with [`field`](Item::field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    _private: (),
}

impl Item {
    pub(crate) fn new() -> Self {
        Item { _private: () }
    }

    /// `item.KEY`: a field of the current item when the map's items are objects.
    pub fn field(&self, key: &str) -> Reference {
        Reference::Item(vec![key.to_string()])
    }
}

impl From<Item> for Reference {
    fn from(_: Item) -> Reference {
        Reference::Item(Vec::new())
    }
}

impl From<Item> for Template {
    fn from(item: Item) -> Template {
        Template::reference(item.into())
    }
}

/// References from a step to its own inputs and outputs, for use in its command, args or env.
///
/// The engine decides where files go; these stand for the paths it chose.
pub mod this {
    use couler_ir::Reference;

    /// The value of this step's input parameter `name`.
    pub fn input_parameter(name: &str) -> Reference {
        Reference::InputParameter(name.to_string())
    }

    /// Where this step finds its input artifact `name`.
    pub fn input_artifact_path(name: &str) -> Reference {
        Reference::InputArtifactPath(name.to_string())
    }

    /// Where this step must write its output artifact `name`.
    pub fn output_artifact_path(name: &str) -> Reference {
        Reference::OutputPath {
            artifact: true,
            name: name.to_string(),
        }
    }

    /// Where this step must write its output parameter `name` (declared with a path).
    pub fn output_parameter_path(name: &str) -> Reference {
        Reference::OutputPath {
            artifact: false,
            name: name.to_string(),
        }
    }
}

/// The running workflow's name.
pub fn workflow_name() -> Reference {
    Reference::Workflow(WorkflowField::Name)
}

/// An id unique to each run of the workflow.
pub fn run_id() -> Reference {
    Reference::Workflow(WorkflowField::RunId)
}

/// The workflow's final status (`Succeeded`, `Failed`, `Error`); only the
/// [`on_exit`](crate::WorkflowBuilder::on_exit) step may read it.
pub fn workflow_status() -> Reference {
    Reference::Workflow(WorkflowField::Status)
}
