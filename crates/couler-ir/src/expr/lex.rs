//! The tokenizer of `when` conditions: one method per token class.

use super::{CmpOp, REFERENCE_ROOTS, Reference};

/// One token of a condition.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Cmp(CmpOp),
    Str(String),
    Num(f64),
    Bool(bool),
    Ref(Reference),
}

impl Token {
    /// How an error message names this token.
    pub(super) fn describe(&self) -> String {
        match self {
            Token::LParen => "`(`".into(),
            Token::RParen => "`)`".into(),
            Token::And => "`&&`".into(),
            Token::Or => "`||`".into(),
            Token::Not => "`!`".into(),
            Token::Cmp(op) => format!("`{}`", op.symbol()),
            Token::Str(s) => format!("string {s:?}"),
            Token::Num(n) => format!("number {n}"),
            Token::Bool(b) => format!("`{b}`"),
            Token::Ref(r) => format!("`{r}`"),
        }
    }
}

/// Splits `text` into tokens, each with the 0-based character index where it starts.
pub(super) fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, String> {
    let mut lexer = Lexer {
        text,
        chars: text.chars().collect(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    while let Some(c) = lexer.peek(0) {
        let start = lexer.pos;
        if c.is_whitespace() {
            lexer.pos += 1;
            continue;
        }
        tokens.push((lexer.token(c)?, start));
    }
    Ok(tokens)
}

/// A cursor over the characters of one condition.
struct Lexer<'a> {
    text: &'a str,
    chars: Vec<char>,
    /// Index (in characters) of the next character to read.
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        Some(c)
    }

    /// The text from character `start` up to the cursor.
    fn since(&self, start: usize) -> String {
        self.chars[start..self.pos].iter().collect()
    }

    /// The 1-based column of character `index`, as error messages name it.
    fn column(index: usize) -> usize {
        index + 1
    }

    /// Reads the token that starts with `c`, the character under the cursor.
    fn token(&mut self, c: char) -> Result<Token, String> {
        let next = self.peek(1);
        if let Some((token, len)) = operator(c, next) {
            self.pos += len;
            return Ok(token);
        }
        match c {
            '"' | '\'' => self.string(c),
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|n| n.is_ascii_digit())) => {
                self.number()
            }
            c if c.is_ascii_alphabetic() || c == '_' => self.word(),
            '{' if next == Some('{') => Err(format!(
                "conditions take references without braces: write `steps.STEP.outputs.result`, not `{{{{…}}}}` (column {} of `{}`)",
                Self::column(self.pos),
                self.text
            )),
            other => Err(format!(
                "unexpected `{other}` at column {} of `{}`",
                Self::column(self.pos),
                self.text
            )),
        }
    }

    /// A quoted string (either quote), with `\n`, `\t`, `\r`, `\u{…}` and `\x` escapes.
    fn string(&mut self, quote: char) -> Result<Token, String> {
        let start = self.pos;
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(ch) = self.bump() else {
                return Err(format!(
                    "the string that starts at column {} of `{}` has no closing {quote}",
                    Self::column(start),
                    self.text
                ));
            };
            match ch {
                ch if ch == quote => return Ok(Token::Str(s)),
                '\\' => s.extend(self.escape()?),
                ch => s.push(ch),
            }
        }
    }

    /// The character an escape after `\` stands for; none when the text ends there.
    fn escape(&mut self) -> Result<Option<char>, String> {
        let Some(esc) = self.bump() else {
            return Ok(None);
        };
        Ok(Some(match esc {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '"' | '\'' | '\\' => esc,
            'u' if self.peek(0) == Some('{') => self.unicode_escape()?,
            other => {
                // Taking `\x` as `x` would read `\u00e9` (JSON's escape) as `u00e9`: other text.
                return Err(format!(
                    "unknown escape `\\{other}` at column {} of `{}`: the escapes are \\\" \\' \\\\ \\n \\t \\r and \\u{{HEX}}",
                    Self::column(self.pos - 2),
                    self.text
                ));
            }
        }))
    }

    /// `{hex}` after `\u`, the cursor on the `{`.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let open = self.pos;
        let close = self.chars[open..].iter().position(|&c| c == '}');
        let code = close.and_then(|end| {
            let hex: String = self.chars[open + 1..open + end].iter().collect();
            u32::from_str_radix(&hex, 16)
                .ok()
                .and_then(char::from_u32)
                .map(|ch| (ch, end))
        });
        let Some((ch, end)) = code else {
            return Err(format!(
                "bad `\\u{{…}}` escape at column {} of `{}`",
                Self::column(open),
                self.text
            ));
        };
        self.pos += end + 1;
        Ok(ch)
    }

    /// A finite number, optionally negative, with fraction and exponent.
    fn number(&mut self) -> Result<Token, String> {
        let start = self.pos;
        self.pos += 1;
        while let Some(ch) = self.peek(0) {
            let exp_sign = matches!(ch, '+' | '-') && matches!(self.chars[self.pos - 1], 'e' | 'E');
            if ch.is_ascii_digit() || matches!(ch, '.' | 'e' | 'E') || exp_sign {
                self.pos += 1;
            } else {
                break;
            }
        }
        let word = self.since(start);
        match word.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Token::Num(n)),
            _ => Err(format!(
                "`{word}` at column {} of `{}` is not a number",
                Self::column(start),
                self.text
            )),
        }
    }

    /// A keyword (`true`, `false`, `and`, `or`, `not`) or a dotted reference.
    fn word(&mut self) -> Result<Token, String> {
        let start = self.pos;
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            self.pos += 1;
        }
        let word = self.since(start);
        Ok(match word.as_str() {
            "true" => Token::Bool(true),
            "false" => Token::Bool(false),
            "and" => Token::And,
            "or" => Token::Or,
            "not" => Token::Not,
            _ => {
                let root = word.split('.').next().unwrap_or("");
                if !REFERENCE_ROOTS.contains(&root) {
                    return Err(format!(
                        "`{word}` at column {} of `{}` is neither a reference nor a literal; quote text as \"{word}\", or write a reference such as `steps.STEP.outputs.result`",
                        Self::column(start),
                        self.text
                    ));
                }
                Token::Ref(Reference::parse(&word)?)
            }
        })
    }
}

/// The operator or parenthesis that starts with `c` (then `next`), with its length in characters.
fn operator(c: char, next: Option<char>) -> Option<(Token, usize)> {
    Some(match (c, next) {
        ('(', _) => (Token::LParen, 1),
        (')', _) => (Token::RParen, 1),
        ('&', Some('&')) => (Token::And, 2),
        ('|', Some('|')) => (Token::Or, 2),
        ('=', Some('=')) => (Token::Cmp(CmpOp::Eq), 2),
        ('!', Some('=')) => (Token::Cmp(CmpOp::Ne), 2),
        ('!', _) => (Token::Not, 1),
        ('<', Some('=')) => (Token::Cmp(CmpOp::Le), 2),
        ('<', _) => (Token::Cmp(CmpOp::Lt), 1),
        ('>', Some('=')) => (Token::Cmp(CmpOp::Ge), 2),
        ('>', _) => (Token::Cmp(CmpOp::Gt), 1),
        _ => return None,
    })
}
