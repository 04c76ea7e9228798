//! Reading a model's answer: the text of its first fenced code block (```yaml, ```json, ```),
//! or the whole answer when it has none. Nothing a model says is ever executed.

/// The first fenced block's content, else the trimmed answer.
pub fn block(answer: &str) -> &str {
    let Some(start) = answer.find("```") else {
        return answer.trim();
    };
    let after = &answer[start + 3..];
    // The info string (`yaml`) ends at the first newline.
    let Some(newline) = after.find('\n') else {
        return answer.trim();
    };
    let body = &after[newline + 1..];
    match body.find("```") {
        Some(end) => &body[..end],
        None => body,
    }
}

#[cfg(test)]
mod tests {
    use super::block;

    #[test]
    fn the_first_fenced_block_or_the_whole_answer() {
        assert_eq!(
            block("Here:\n```yaml\na: 1\n```\nand ```x\nb\n```"),
            "a: 1\n"
        );
        assert_eq!(block("```\n[1]\n```"), "[1]\n");
        assert_eq!(block("  [\"a\"]\n"), "[\"a\"]");
        // An unterminated block runs to the end.
        assert_eq!(block("```yaml\na: 1\n"), "a: 1\n");
    }
}
