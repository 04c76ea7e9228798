//! The Code Lake: what retrieval draws on. The example workflows (`examples/*.yaml`), the
//! sections of the spec reference (`docs/spec.md`), and the step zoo (`zoo/**/*.yaml`) when a
//! lake is read from a checkout. The built-in lake is compiled into the binary.

use std::path::Path;

/// One entry: where it comes from, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `examples/hello.yaml`, `docs/spec.md § 12. map: fan-out`, …
    pub id: String,
    pub text: String,
}

/// The most characters of one entry a generation prompt shows: the default three entries
/// (`--top-k 3`) then fit the local model's 8,192-token context with the rest of the prompt and
/// a 1,024-token answer (YAML runs about 3.5 characters a token).
pub const EXCERPT_CHARS: usize = 5_000;

impl Entry {
    /// The entry as a prompt shows it: whole when it has at most `max` characters, else cut at
    /// a line boundary, preferably before a list item (`- name:`, a step) or a blank line in
    /// its second half, with a last line saying how much was cut.
    pub fn excerpt(&self, max: usize) -> std::borrow::Cow<'_, str> {
        let text = self.text.as_str();
        if text.len() <= max {
            return text.into();
        }
        let (mut whole, mut boundary, mut at) = (0, 0, 0);
        for line in text.split_inclusive('\n') {
            if at + line.len() > max {
                break;
            }
            let t = line.trim_start();
            if t.starts_with("- name:") || t.is_empty() {
                boundary = at;
            }
            at += line.len();
            whole = at;
        }
        let end = if boundary > max / 2 { boundary } else { whole };
        let cut = text[end..].lines().count();
        format!("{}# … {cut} more lines cut\n", &text[..end]).into()
    }
}

/// The examples compiled in (a test keeps the list equal to `examples/*.yaml`).
const EXAMPLES: [(&str, &str); 10] = [
    (
        "examples/artifact-passing.yaml",
        include_str!("../../../examples/artifact-passing.yaml"),
    ),
    (
        "examples/automl.yaml",
        include_str!("../../../examples/automl.yaml"),
    ),
    (
        "examples/churn.yaml",
        include_str!("../../../examples/churn.yaml"),
    ),
    (
        "examples/coin-flip.yaml",
        include_str!("../../../examples/coin-flip.yaml"),
    ),
    (
        "examples/diamond.yaml",
        include_str!("../../../examples/diamond.yaml"),
    ),
    (
        "examples/flip-until-tails.yaml",
        include_str!("../../../examples/flip-until-tails.yaml"),
    ),
    (
        "examples/hello.yaml",
        include_str!("../../../examples/hello.yaml"),
    ),
    (
        "examples/ml-pipeline.yaml",
        include_str!("../../../examples/ml-pipeline.yaml"),
    ),
    (
        "examples/model-search.yaml",
        include_str!("../../../examples/model-search.yaml"),
    ),
    (
        "examples/tune-ml-pipeline.yaml",
        include_str!("../../../examples/tune-ml-pipeline.yaml"),
    ),
];

const SPEC: &str = include_str!("../../../docs/spec.md");

/// The lake compiled into the binary: the examples and the spec's sections.
pub fn builtin() -> Vec<Entry> {
    let mut lake: Vec<Entry> = EXAMPLES
        .iter()
        .map(|(id, text)| Entry {
            id: id.to_string(),
            text: text.to_string(),
        })
        .collect();
    lake.extend(sections("docs/spec.md", SPEC));
    lake
}

/// The lake of a checkout at `root`: `examples/*.yaml`, `docs/spec.md`'s sections and
/// `zoo/**/*.yaml`, in path order.
pub fn read(root: &Path) -> Result<Vec<Entry>, String> {
    let mut files = Vec::new();
    yaml_files(root, &root.join("examples"), false, &mut files)?;
    yaml_files(root, &root.join("zoo"), true, &mut files)?;
    files.sort();
    let mut lake = Vec::new();
    for id in files {
        let text = std::fs::read_to_string(root.join(&id))
            .map_err(|e| format!("cannot read {}: {e}", root.join(&id).display()))?;
        lake.push(Entry { id, text });
    }
    let spec = root.join("docs/spec.md");
    if spec.is_file() {
        let text = std::fs::read_to_string(&spec)
            .map_err(|e| format!("cannot read {}: {e}", spec.display()))?;
        lake.extend(sections("docs/spec.md", &text));
    }
    if lake.is_empty() {
        return Err(format!(
            "{}: no Code Lake here (examples/*.yaml, docs/spec.md, zoo/); give --lake the root of a Couler checkout",
            root.display()
        ));
    }
    Ok(lake)
}

/// The `.yaml` files under `dir` (recursively when `deep`), as paths relative to `root`.
fn yaml_files(root: &Path, dir: &Path, deep: bool, out: &mut Vec<String>) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if path.is_dir() && deep {
            yaml_files(root, &path, deep, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// A Markdown file's `##` and `###` sections, each an entry named by its heading.
pub fn sections(file: &str, text: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for line in text.lines() {
        let heading = line
            .strip_prefix("### ")
            .or_else(|| line.strip_prefix("## "));
        match (heading, out.last_mut()) {
            (Some(h), _) => out.push(Entry {
                id: format!("{file} § {h}"),
                text: format!("{line}\n"),
            }),
            (None, Some(section)) => {
                section.text.push_str(line);
                section.text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_entry_is_cut_before_a_step_and_says_how_much_is_cut() {
        let lake = builtin();
        let big = lake
            .iter()
            .find(|e| e.id == "examples/ml-pipeline.yaml")
            .unwrap();
        assert!(big.text.len() > EXCERPT_CHARS);
        let shown = big.excerpt(EXCERPT_CHARS);
        let (kept, last) = shown.trim_end().rsplit_once('\n').unwrap();
        assert!(kept.len() <= EXCERPT_CHARS && kept.len() > EXCERPT_CHARS / 2);
        assert!(big.text.starts_with(kept));
        // Cut before a step: what follows starts one.
        let rest = &big.text[kept.len() + 1..];
        assert!(
            rest.trim_start().starts_with("- name:") || rest.starts_with('\n'),
            "{rest:.80}"
        );
        let cut: usize = last
            .trim_start_matches("# … ")
            .trim_end_matches(" more lines cut")
            .parse()
            .unwrap();
        assert_eq!(cut, rest.lines().count());
        // A short entry is shown whole; every entry fits.
        let hello = lake.iter().find(|e| e.id == "examples/hello.yaml").unwrap();
        assert_eq!(hello.excerpt(EXCERPT_CHARS), hello.text.as_str());
        for e in &lake {
            assert!(
                e.excerpt(EXCERPT_CHARS).len() <= EXCERPT_CHARS + 40,
                "{}",
                e.id
            );
        }
    }

    #[test]
    fn the_builtin_lake_has_every_example_and_the_spec_sections() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let on_disk: Vec<Entry> = read(root)
            .unwrap()
            .into_iter()
            .filter(|e| e.id.starts_with("examples/"))
            .collect();
        let builtin = builtin();
        let compiled: Vec<&Entry> = builtin
            .iter()
            .filter(|e| e.id.starts_with("examples/"))
            .collect();
        assert_eq!(
            compiled,
            on_disk.iter().collect::<Vec<_>>(),
            "src/lake.rs's EXAMPLES must list examples/*.yaml"
        );
        let map = builtin
            .iter()
            .find(|e| e.id.contains("`map`: fan-out"))
            .expect("spec section 12");
        assert!(map.text.contains("map:"), "{}", map.text);
    }

    #[test]
    fn a_checkouts_lake_has_the_zoo_at_any_depth_and_the_spec_sections() {
        let dir = std::env::temp_dir().join(format!("couler-lake-zoo-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("zoo/train/torch")).unwrap();
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::write(dir.join("zoo/train/torch/ddp.yaml"), "name: ddp\n").unwrap();
        std::fs::write(dir.join("zoo/notes.txt"), "not an entry").unwrap();
        std::fs::write(
            dir.join("docs/spec.md"),
            "intro\n## 1. A\na\n### 1.1 B\nb\n",
        )
        .unwrap();
        let ids: Vec<String> = read(&dir).unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            [
                "zoo/train/torch/ddp.yaml",
                "docs/spec.md § 1. A",
                "docs/spec.md § 1.1 B"
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_without_a_lake_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("couler-lake-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = read(&dir).unwrap_err();
        assert!(
            err.contains("no Code Lake") && err.contains("--lake"),
            "{err}"
        );
    }
}
