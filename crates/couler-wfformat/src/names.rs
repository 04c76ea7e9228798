//! Turning trace strings (task names, file ids) into names the IR and the shell accept.
//!
//! Everything here is total: any input string gives a valid name, so a hostile trace can only
//! produce odd-looking names, never invalid ones or shell syntax.

use couler_ir::validate::{MAX_NAME_LEN, to_dns1123};
use std::collections::HashSet;

/// Longest file name the replay scripts use; far below the usual 255-byte limit of a path part.
pub(crate) const MAX_FILE_NAME_LEN: usize = 200;

/// Keeps the last `max` characters of an ASCII string: the tail of a file id (its base name and
/// extension) tells files apart better than a shared directory prefix does.
fn keep_tail(s: &mut String, max: usize) {
    if s.len() > max {
        // Only ASCII reaches here, so every byte offset is a character boundary.
        s.drain(..s.len() - max);
    }
}

/// An artifact name for a file id: letters, digits, `_` and `-`, starting with a letter or `_`,
/// at most 63 characters (what `couler_ir::validate::identifier_problem` accepts).
///
/// Only the last `/`-separated part of the id is used: ids that are paths (Nextflow traces:
/// `/3d/7a64…04/sample.R1.fastq.gz`) are told apart by their base name within one step, and
/// the hash directories would push it past 63 characters. The caller deduplicates.
pub(crate) fn artifact_name(file_id: &str) -> String {
    let base = file_id
        .rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or(file_id);
    let mut s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        s.insert_str(0, "f_");
    }
    if s.len() > MAX_NAME_LEN {
        keep_tail(&mut s, MAX_NAME_LEN - 1);
        s.insert(0, '_');
    }
    s
}

/// A file name for a file id: only `[A-Za-z0-9._-]`, so it needs no escaping inside single
/// quotes and cannot name the directory or its parent (an all-dots name starts with `_`).
pub(crate) fn file_name(file_id: &str) -> String {
    let mut s: String = file_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    keep_tail(&mut s, MAX_FILE_NAME_LEN);
    if s.is_empty() {
        s.push_str("file");
    } else if s.bytes().all(|b| b == b'.') {
        // `.` and `..` would be the directory itself or its parent.
        s.replace_range(..1, "_");
    }
    s
}

/// The first of `base{sep}2`, `base{sep}3`, … that `taken` does not reject, with `base`
/// shortened so the result stays within `max` characters. `base` must be ASCII.
pub(crate) fn suffixed(base: &str, max: usize, sep: char, taken: impl Fn(&str) -> bool) -> String {
    let mut n = 1usize;
    loop {
        n += 1;
        let suffix = format!("{sep}{n}");
        let keep = max.saturating_sub(suffix.len()).min(base.len());
        // A DNS label must not end in `-` before the suffix is added either.
        let stem = base[..keep].trim_end_matches('-');
        let candidate = format!("{stem}{suffix}");
        if !taken(&candidate) {
            return candidate;
        }
    }
}

/// Unique DNS-1123 step names, one per task, in task order.
///
/// A name that only one task has is kept as is; among tasks sharing a name the first keeps it
/// and the others get `-2`, `-3`, … (skipping any name another task has on its own), so adding
/// a duplicate never renames an unrelated step.
pub(crate) fn step_names<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let bases: Vec<String> = labels.map(to_dns1123).collect();
    // Every base name is reserved up front so that no suffixed name can take one.
    let mut used: HashSet<String> = HashSet::with_capacity(bases.len());
    let mut shared: HashSet<&str> = HashSet::new();
    for b in &bases {
        if !used.insert(b.clone()) {
            shared.insert(b.as_str());
        }
    }
    let mut first_taken: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(bases.len());
    for b in &bases {
        if !shared.contains(b.as_str()) || first_taken.insert(b.as_str()) {
            out.push(b.clone());
        } else {
            let name = suffixed(b, MAX_NAME_LEN, '-', |c| used.contains(c));
            used.insert(name.clone());
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_ir::validate::{dns1123_problem, identifier_problem};

    #[test]
    fn artifact_names_are_identifiers() {
        for id in [
            "",
            "ALL.chr21.100000.vcf",
            "080603_ILMN.map",
            "/b6/e95c72d7ef9da13b7641118999df15/ERR044595_1_fastqc.html",
            "x'; rm -rf / #",
            "ünïcödé",
            &"9".repeat(500),
            &format!("{}tail", "/dir".repeat(40)),
        ] {
            let name = artifact_name(id);
            assert_eq!(identifier_problem(&name), None, "{id:?} -> {name:?}");
        }
        assert_eq!(artifact_name("ALL.chr21.vcf"), "ALL_chr21_vcf");
        assert_eq!(
            artifact_name("/3d/7a64449bc37c576aba41bbd65e7f04/ERR044595_trm-cmb.R1.fastq.gz"),
            "ERR044595_trm-cmb_R1_fastq_gz"
        );
        assert_eq!(artifact_name("dir/"), "dir");
        assert_eq!(artifact_name("/"), "_");
        assert_eq!(artifact_name("0x"), "f_0x");
        // Long ids keep their distinctive tail.
        assert!(artifact_name(&format!("{}end.txt", "a".repeat(100))).ends_with("end_txt"));
        assert_eq!(
            artifact_name(&format!("{}end.txt", "a".repeat(100))).len(),
            63
        );
    }

    #[test]
    fn file_names_are_inert() {
        assert_eq!(file_name("ALL.chr21.vcf"), "ALL.chr21.vcf");
        assert_eq!(file_name("/nf-core/x y.gz"), "_nf-core_x_y.gz");
        assert_eq!(file_name(""), "file");
        assert_eq!(file_name("."), "_");
        assert_eq!(file_name(".."), "_.");
        assert_eq!(file_name("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(file_name(&".".repeat(300)).len(), MAX_FILE_NAME_LEN);
        assert!(file_name(&".".repeat(300)).starts_with('_'));
        for id in ["a'b", "$(reboot)", "`id`", "a\nb", "a\\b", "*"] {
            let f = file_name(id);
            assert!(
                f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{f:?}"
            );
        }
    }

    #[test]
    fn suffixed_keeps_length_and_validity() {
        let long = "a".repeat(63);
        let second = suffixed(&long, 63, '-', |_| false);
        assert_eq!(second.len(), 63);
        assert!(second.ends_with("-2"));
        assert_eq!(dns1123_problem(&second), None);
        // Taken candidates are skipped.
        assert_eq!(suffixed("x", 63, '_', |c| c == "x_2" || c == "x_3"), "x_4");
        // A stem that would end in `-` before the suffix is trimmed.
        let dashy = format!("{}-b", "a".repeat(60));
        let next = suffixed(&dashy, 63, '-', |_| false);
        assert_eq!(dns1123_problem(&next), None, "{next}");
        assert_eq!(next, format!("{}-2", "a".repeat(60)));
    }

    #[test]
    fn step_names_dedup_without_displacing_unique_names() {
        let names = step_names(["a", "A", "a-2", "b_c", "b.c", "a"].into_iter());
        assert_eq!(names, ["a", "a-3", "a-2", "b-c", "b-c-2", "a-4"]);
        let set: HashSet<&String> = names.iter().collect();
        assert_eq!(set.len(), names.len());
    }
}
