//! References, string templates and `when` expressions: the typed values that connect steps.
//!
//! Users write references as dotted paths (`steps.train.outputs.parameters.accuracy`), inside
//! strings as `{{…}}` placeholders, and conditions as small expressions
//! (`steps.flip.outputs.result == "heads" && params.deploy`). They are parsed once, here, into
//! typed values; backends render them into each engine's own syntax and never parse strings.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt::{self, Write as _};

mod lex;
use lex::{Token, tokenize};

/// Deepest nesting of parentheses and `!` an expression may have; bounds recursion on hostile input.
const MAX_EXPR_DEPTH: usize = 64;

/// Most operators (`&&`, `||`, `!`, comparisons) an expression may have. A chain of `&&` nests one
/// level per operator, and dropping, printing or comparing the tree recurses that deep.
pub const MAX_EXPR_OPERATORS: usize = 500;

/// What a step can produce that another can read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepOutput {
    /// `steps.S.outputs.parameters.NAME`
    Parameter(String),
    /// `steps.S.outputs.artifacts.NAME`
    Artifact(String),
    /// `steps.S.outputs.result`: the step's standard output, trimmed.
    Result,
    /// `steps.S.exitCode`
    ExitCode,
    /// `steps.S.status`: Succeeded, Failed, Error, Skipped, ...
    Status,
    /// `steps.S.ip`: the address of daemon step S while it runs.
    Ip,
}

/// A field of the running workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkflowField {
    /// `workflow.name`
    Name,
    /// `workflow.runId`: unique per run.
    RunId,
    /// `workflow.status`: the final status, visible to the exit handler.
    Status,
}

/// A typed reference to a value known only when the workflow runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// `params.NAME`: a workflow parameter.
    Param(String),
    /// `steps.STEP.…`: an output of another step; using one creates a dependency edge.
    Step {
        /// The step read from.
        step: String,
        /// Which of its outputs.
        output: StepOutput,
    },
    /// `inputs.parameters.NAME`: this step's own input parameter.
    InputParameter(String),
    /// `inputs.artifacts.NAME.path`: where this step finds its input artifact.
    InputArtifactPath(String),
    /// `outputs.parameters.NAME.path` / `outputs.artifacts.NAME.path`: where this step writes an output.
    OutputPath {
        /// An artifact's path (`true`) or a parameter's (`false`).
        artifact: bool,
        /// The output's name.
        name: String,
    },
    /// `item` or `item.KEY.…`: the current element of the step's `map`.
    Item(Vec<String>),
    /// `workflow.name`, `workflow.runId`, `workflow.status`.
    Workflow(WorkflowField),
}

/// The first words a reference can start with.
pub const REFERENCE_ROOTS: [&str; 6] = ["params", "steps", "inputs", "outputs", "item", "workflow"];

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Reference {
    /// A reference to `output` of step `step`.
    pub fn step(step: impl Into<String>, output: StepOutput) -> Self {
        Reference::Step {
            step: step.into(),
            output,
        }
    }

    /// The step this reference reads from, if it reads another step's output.
    pub fn step_name(&self) -> Option<&str> {
        match self {
            Reference::Step { step, .. } => Some(step),
            _ => None,
        }
    }

    /// Parses a reference without braces, e.g. `steps.train.outputs.parameters.loss`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        if let Some(bad) = parts.iter().find(|p| !is_token(p)) {
            return Err(if bad.is_empty() {
                format!("`{text}` has an empty part between dots")
            } else {
                format!(
                    "`{bad}` in `{text}` has characters a reference cannot hold (letters, digits, `_` and `-` only)"
                )
            });
        }
        let field = |s: &str| s.to_string();
        let r = match parts.as_slice() {
            ["params", name] => Reference::Param(field(name)),
            ["steps", step, "outputs", "parameters", name] => {
                Reference::step(*step, StepOutput::Parameter(field(name)))
            }
            ["steps", step, "outputs", "artifacts", name] => {
                Reference::step(*step, StepOutput::Artifact(field(name)))
            }
            ["steps", step, "outputs", "result"] => Reference::step(*step, StepOutput::Result),
            ["steps", step, "exitCode"] => Reference::step(*step, StepOutput::ExitCode),
            ["steps", step, "status"] => Reference::step(*step, StepOutput::Status),
            ["steps", step, "ip"] => Reference::step(*step, StepOutput::Ip),
            ["inputs", "parameters", name] => Reference::InputParameter(field(name)),
            ["inputs", "artifacts", name, "path"] => Reference::InputArtifactPath(field(name)),
            ["outputs", "parameters", name, "path"] => Reference::OutputPath {
                artifact: false,
                name: field(name),
            },
            ["outputs", "artifacts", name, "path"] => Reference::OutputPath {
                artifact: true,
                name: field(name),
            },
            ["item", keys @ ..] => Reference::Item(keys.iter().map(|k| field(k)).collect()),
            ["workflow", "name"] => Reference::Workflow(WorkflowField::Name),
            ["workflow", "runId"] => Reference::Workflow(WorkflowField::RunId),
            ["workflow", "status"] => Reference::Workflow(WorkflowField::Status),
            _ => return Err(reference_help(text, &parts)),
        };
        Ok(r)
    }
}

fn reference_help(text: &str, parts: &[&str]) -> String {
    let forms = match parts.first().copied() {
        Some("params") => "`params.NAME`",
        Some("steps") => {
            "`steps.STEP.outputs.parameters.NAME`, `steps.STEP.outputs.artifacts.NAME`, `steps.STEP.outputs.result`, `steps.STEP.exitCode` or `steps.STEP.status`"
        }
        Some("inputs") => "`inputs.parameters.NAME` or `inputs.artifacts.NAME.path`",
        Some("outputs") => "`outputs.parameters.NAME.path` or `outputs.artifacts.NAME.path`",
        Some("workflow") => "`workflow.name`, `workflow.runId` or `workflow.status`",
        _ => {
            "a path that starts with `params.`, `steps.`, `inputs.`, `outputs.`, `item` or `workflow.`"
        }
    };
    format!("`{text}` is not a valid reference; write {forms}")
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Param(n) => write!(f, "params.{n}"),
            Reference::Step { step, output } => match output {
                StepOutput::Parameter(n) => write!(f, "steps.{step}.outputs.parameters.{n}"),
                StepOutput::Artifact(n) => write!(f, "steps.{step}.outputs.artifacts.{n}"),
                StepOutput::Result => write!(f, "steps.{step}.outputs.result"),
                StepOutput::ExitCode => write!(f, "steps.{step}.exitCode"),
                StepOutput::Status => write!(f, "steps.{step}.status"),
                StepOutput::Ip => write!(f, "steps.{step}.ip"),
            },
            Reference::InputParameter(n) => write!(f, "inputs.parameters.{n}"),
            Reference::InputArtifactPath(n) => write!(f, "inputs.artifacts.{n}.path"),
            Reference::OutputPath { artifact, name } => {
                let kind = if *artifact { "artifacts" } else { "parameters" };
                write!(f, "outputs.{kind}.{name}.path")
            }
            Reference::Item(keys) => {
                f.write_str("item")?;
                keys.iter().try_for_each(|k| write!(f, ".{k}"))
            }
            Reference::Workflow(field) => f.write_str(match field {
                WorkflowField::Name => "workflow.name",
                WorkflowField::RunId => "workflow.runId",
                WorkflowField::Status => "workflow.status",
            }),
        }
    }
}

macro_rules! string_serde {
    ($ty:ty, $parse:path, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        $parse(v).map_err(E::custom)
                    }
                    fn visit_bool<E: de::Error>(self, v: bool) -> Result<$ty, E> {
                        self.visit_str(if v { "true" } else { "false" })
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

string_serde!(
    Reference,
    Reference::parse,
    "a reference such as `steps.STEP.outputs.result`"
);

/// One piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Literal text.
    Text(String),
    /// A `{{reference}}` placeholder.
    Ref(Reference),
}

/// A JSON value as a placeholder renders it: a string as itself, anything else as compact
/// JSON. One rule for the local runtime and for the values backends precompute (map items).
pub fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A string with `{{reference}}` placeholders, e.g. `--lr={{params.lr}}`.
///
/// `{{…}}` whose first word is a reference root (`params`, `steps`, `inputs`, `outputs`, `item`,
/// `workflow`) is always a reference and must be a valid one; any other `{{…}}` is plain text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Builds a template, merging adjacent text so equal strings give equal templates.
    pub fn from_segments(segments: impl IntoIterator<Item = Segment>) -> Self {
        let segments = segments.into_iter();
        // No spare room: a large workflow holds hundreds of thousands of templates.
        let mut out: Vec<Segment> = Vec::with_capacity(segments.size_hint().0);
        for seg in segments {
            match (out.last_mut(), seg) {
                (_, Segment::Text(t)) if t.is_empty() => {}
                (Some(Segment::Text(prev)), Segment::Text(t)) => prev.push_str(&t),
                (_, seg) => out.push(seg),
            }
        }
        out.shrink_to_fit();
        Template { segments: out }
    }

    /// A template of plain text, no placeholder.
    pub fn text(text: impl Into<String>) -> Self {
        Self::from_segments([Segment::Text(text.into())])
    }

    /// A template that is one placeholder.
    pub fn reference(r: Reference) -> Self {
        Template {
            segments: vec![Segment::Ref(r)],
        }
    }

    /// The pieces, adjacent texts merged.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The references of the placeholders, left to right.
    pub fn refs(&self) -> impl Iterator<Item = &Reference> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Ref(r) => Some(r),
            Segment::Text(_) => None,
        })
    }

    /// The text, if the template holds no reference.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Ref(_) => return None,
            }
        }
        Some(out)
    }

    /// Renders the template, asking `resolve` for each reference's text.
    pub fn render<E>(
        &self,
        mut resolve: impl FnMut(&Reference) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Ref(r) => out.push_str(&resolve(r)?),
            }
        }
        Ok(out)
    }

    /// Whether printing and parsing gives this template back: IR built in code may hold literal
    /// text that would read back as a reference.
    pub fn reads_back(&self) -> bool {
        // Text without a brace prints and reads as itself; asked without printing it.
        let brace_free_text = self.segments.iter().all(|s| match s {
            Segment::Text(t) => !t.contains(['{', '}']),
            Segment::Ref(_) => false,
        });
        brace_free_text || Template::parse(&self.to_string()).ok().as_ref() == Some(self)
    }

    /// Parses `text`: every `{{…}}` that starts with a reference root is a reference.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(mut open) = rest.find("{{") {
            let Some(close) = rest[open + 2..].find("}}").map(|c| open + 2 + c) else {
                break;
            };
            // `{{ {{x}}`: the first braces are text; the placeholder opens at the last `{{` (found
            // left to right) before the `}}`. Searching only up to `close` keeps this linear.
            while let Some(k) = rest[open + 2..close].find("{{") {
                open += 2 + k;
            }
            let inner = &rest[open + 2..close];
            let body = inner.trim();
            let root = body.split('.').next().unwrap_or("");
            if REFERENCE_ROOTS.contains(&root) {
                let r = Reference::parse(body).map_err(|e| format!("in `{{{{{inner}}}}}`: {e}"))?;
                segments.push(Segment::Text(rest[..open].to_string()));
                segments.push(Segment::Ref(r));
            } else {
                segments.push(Segment::Text(rest[..close + 2].to_string()));
            }
            rest = &rest[close + 2..];
        }
        segments.push(Segment::Text(rest.to_string()));
        Ok(Self::from_segments(segments))
    }
}

impl From<&str> for Template {
    fn from(s: &str) -> Self {
        Template::text(s)
    }
}

impl From<String> for Template {
    fn from(s: String) -> Self {
        Template::text(s)
    }
}

impl From<Reference> for Template {
    fn from(r: Reference) -> Self {
        Template::reference(r)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.segments {
            match s {
                Segment::Text(t) => f.write_str(t)?,
                Segment::Ref(r) => write!(f, "{{{{{r}}}}}")?,
            }
        }
        Ok(())
    }
}

string_serde!(Template, Template::parse, "a string");

/// A literal in an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A quoted string.
    String(String),
    /// A number.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
}

impl Literal {
    /// The text an engine compares against (numbers print without a trailing `.0`).
    pub fn as_text(&self) -> String {
        match self {
            Literal::String(s) => s.clone(),
            Literal::Number(n) => n.to_string(),
            Literal::Bool(b) => b.to_string(),
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Every operator, in the order above.
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];
    /// The operator as written in a condition.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A condition: the AST of `when` and of a loop's `while`.
///
/// Comparison semantics, on every engine: when both sides read as numbers they compare as
/// numbers, otherwise as strings; a bare operand is true when its text is `true`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal operand.
    Literal(Literal),
    /// A reference operand, read as its text when the condition is evaluated.
    Ref(Reference),
    /// `left op right`.
    Compare {
        /// The operator.
        op: CmpOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// `a && b`.
    And(Box<Expr>, Box<Expr>),
    /// `a || b`.
    Or(Box<Expr>, Box<Expr>),
    /// `!a`.
    Not(Box<Expr>),
}

impl Expr {
    /// `left op right`.
    pub fn compare(op: CmpOp, left: impl Into<Expr>, right: impl Into<Expr>) -> Expr {
        Expr::Compare {
            op,
            left: Box::new(left.into()),
            right: Box::new(right.into()),
        }
    }
    /// `self && other`.
    pub fn and(self, other: Expr) -> Expr {
        Expr::And(Box::new(self), Box::new(other))
    }
    /// `self || other`.
    pub fn or(self, other: Expr) -> Expr {
        Expr::Or(Box::new(self), Box::new(other))
    }
    /// `!self`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    /// Every reference in the expression, left to right.
    pub fn refs(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::Literal(_) => {}
                Expr::Ref(r) => out.push(r),
                Expr::Compare { left, right, .. }
                | Expr::And(left, right)
                | Expr::Or(left, right) => {
                    stack.push(right);
                    stack.push(left);
                }
                Expr::Not(inner) => stack.push(inner),
            }
        }
        out
    }

    /// Parses a condition such as `steps.a.outputs.result == "ok" && !params.skip`.
    pub fn parse(text: &str) -> Result<Expr, String> {
        let tokens = tokenize(text)?;
        let operators = tokens
            .iter()
            .filter(|(t, _)| matches!(t, Token::And | Token::Or | Token::Not | Token::Cmp(_)))
            .count();
        if operators > MAX_EXPR_OPERATORS {
            return Err(format!(
                "the condition has {operators} operators, more than the {MAX_EXPR_OPERATORS} allowed; simplify it, or compute the value in a step and compare its output"
            ));
        }
        let mut p = ExprParser {
            tokens,
            pos: 0,
            depth: 0,
            text,
        };
        let e = p.or()?;
        match p.tokens.get(p.pos) {
            None => Ok(e),
            Some((tok, at)) => Err(format!(
                "unexpected {} at column {} of `{text}`; join conditions with `&&` or `||`",
                tok.describe(),
                at + 1
            )),
        }
    }

    fn is_atom(&self) -> bool {
        matches!(self, Expr::Literal(_) | Expr::Ref(_))
    }
}

impl From<Reference> for Expr {
    fn from(r: Reference) -> Self {
        Expr::Ref(r)
    }
}
impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::Literal(Literal::String(s.to_string()))
    }
}
impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::Literal(Literal::String(s))
    }
}
impl From<f64> for Expr {
    fn from(n: f64) -> Self {
        Expr::Literal(Literal::Number(n))
    }
}
impl From<i64> for Expr {
    fn from(n: i64) -> Self {
        Expr::Literal(Literal::Number(n as f64))
    }
}
impl From<bool> for Expr {
    fn from(b: bool) -> Self {
        Expr::Literal(Literal::Bool(b))
    }
}

/// Writes `s` as a double-quoted expression string literal.
pub fn quote_expr_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parenthesise exactly where the parser's precedence (or < and < not < compare) needs it.
        fn wrap(f: &mut fmt::Formatter<'_>, e: &Expr, parens: bool) -> fmt::Result {
            if parens {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        match self {
            Expr::Literal(Literal::String(s)) => {
                let mut out = String::new();
                quote_expr_string(s, &mut out);
                f.write_str(&out)
            }
            Expr::Literal(Literal::Number(n)) => write!(f, "{n}"),
            Expr::Literal(Literal::Bool(b)) => write!(f, "{b}"),
            Expr::Ref(r) => write!(f, "{r}"),
            Expr::Compare { op, left, right } => {
                wrap(f, left, !left.is_atom())?;
                write!(f, " {} ", op.symbol())?;
                wrap(f, right, !right.is_atom())
            }
            Expr::And(l, r) => {
                wrap(f, l, matches!(**l, Expr::Or(..)))?;
                f.write_str(" && ")?;
                wrap(f, r, matches!(**r, Expr::Or(..) | Expr::And(..)))
            }
            Expr::Or(l, r) => {
                wrap(f, l, false)?;
                f.write_str(" || ")?;
                wrap(f, r, matches!(**r, Expr::Or(..)))
            }
            Expr::Not(inner) => {
                f.write_str("!")?;
                wrap(f, inner, !inner.is_atom())
            }
        }
    }
}

string_serde!(
    Expr,
    Expr::parse,
    "a condition such as `steps.flip.outputs.result == \"heads\"`"
);

struct ExprParser<'a> {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    depth: usize,
    text: &'a str,
}

impl ExprParser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = left.or(self.and()?);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = left.and(self.unary()?);
        }
        Ok(left)
    }

    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(format!(
                "`{}` nests deeper than {MAX_EXPR_DEPTH} levels; simplify the condition",
                self.text
            ));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(inner.not());
        }
        let left = self.atom()?;
        if let Some(Token::Cmp(op)) = self.peek() {
            let op = *op;
            self.pos += 1;
            let right = self.atom()?;
            if let Some(Token::Cmp(_)) = self.peek() {
                return Err(format!(
                    "comparisons do not chain in `{}`; join them with `&&`",
                    self.text
                ));
            }
            return Ok(Expr::compare(op, left, right));
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let Some((tok, at)) = self.tokens.get(self.pos).cloned() else {
            return Err(format!("`{}` ends where a value was expected", self.text));
        };
        self.pos += 1;
        Ok(match tok {
            Token::LParen => {
                self.deeper()?;
                let e = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::RParen) {
                    return Err(format!(
                        "the `(` at column {} of `{}` is not closed",
                        at + 1,
                        self.text
                    ));
                }
                self.pos += 1;
                e
            }
            Token::Str(s) => Expr::Literal(Literal::String(s)),
            Token::Num(n) => Expr::Literal(Literal::Number(n)),
            Token::Bool(b) => Expr::Literal(Literal::Bool(b)),
            Token::Ref(r) => Expr::Ref(r),
            other => {
                return Err(format!(
                    "expected a value at column {} of `{}`, found {}",
                    at + 1,
                    self.text,
                    other.describe()
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_keep_no_spare_room_and_know_when_they_read_back() {
        // A large workflow holds hundreds of thousands: a Vec grown by push kept room for 4.
        for text in ["echo", "a {{params.x}} b", "{{params.x}}{{params.y}}", ""] {
            let t = Template::parse(text).unwrap();
            assert_eq!(t.segments.capacity(), t.segments.len(), "{text}");
            assert!(t.reads_back(), "{text}");
        }
        // Literal text that would read back as a reference (IR built in code).
        let t = Template::from_segments([Segment::Text("{{params.x}}".into())]);
        assert!(!t.reads_back());
        let t = Template::from_segments([
            Segment::Text("{".into()),
            Segment::Text("{params.x}}".into()),
        ]);
        assert!(!t.reads_back());
    }

    #[test]
    fn references_round_trip() {
        for text in [
            "params.lr",
            "steps.train.outputs.parameters.acc",
            "steps.prep.outputs.artifacts.data",
            "steps.flip.outputs.result",
            "steps.flip.exitCode",
            "steps.flip.status",
            "inputs.parameters.x",
            "inputs.artifacts.data.path",
            "outputs.artifacts.model.path",
            "outputs.parameters.acc.path",
            "item",
            "item.batch_size",
            "workflow.status",
        ] {
            let r = Reference::parse(text).unwrap();
            assert_eq!(r.to_string(), text);
        }
        assert!(
            Reference::parse("steps.x.outputs")
                .unwrap_err()
                .contains("steps.STEP.outputs.result")
        );
        assert!(Reference::parse("steps..x").is_err());
        assert!(Reference::parse("nope.x").is_err());
    }

    #[test]
    fn templates_split_references_from_text() {
        let t = Template::parse(
            "--lr={{ params.lr }} --data {{inputs.artifacts.d.path}} {{not-a-ref}}",
        )
        .unwrap();
        assert_eq!(t.refs().count(), 2);
        assert_eq!(
            t.to_string(),
            "--lr={{params.lr}} --data {{inputs.artifacts.d.path}} {{not-a-ref}}"
        );
        assert!(Template::parse("{{steps.a.bogus}}").is_err());
        let odd = Template::parse("{{ {{params.x}}").unwrap();
        assert_eq!(odd.to_string(), "{{ {{params.x}}");
        assert_eq!(odd.refs().count(), 1);
        assert_eq!(
            Template::parse("no refs {{").unwrap().as_literal().unwrap(),
            "no refs {{"
        );
    }

    #[test]
    fn expressions_parse_with_precedence() {
        let e =
            Expr::parse("steps.a.outputs.result == \"x\" || !params.b && steps.c.exitCode != 0")
                .unwrap();
        match &e {
            Expr::Or(_, right) => assert!(matches!(**right, Expr::And(..))),
            other => panic!("expected or at the top, got {other:?}"),
        }
        assert_eq!(
            e.to_string(),
            "steps.a.outputs.result == \"x\" || !params.b && steps.c.exitCode != 0"
        );
        let words = Expr::parse("not (params.a == 'b' or params.c > -1.5)").unwrap();
        assert_eq!(words.to_string(), "!(params.a == \"b\" || params.c > -1.5)");
        assert_eq!(Expr::parse(&words.to_string()).unwrap(), words);
    }

    #[test]
    fn expression_errors_say_where() {
        let err = Expr::parse("steps.a.outputs.result == heads").unwrap_err();
        assert!(err.contains("column 27"), "{err}");
        assert!(err.contains("\"heads\""), "{err}");
        assert!(
            Expr::parse("(params.a == 1")
                .unwrap_err()
                .contains("not closed")
        );
        assert!(
            Expr::parse("params.a == 1 == 2")
                .unwrap_err()
                .contains("do not chain")
        );
        assert!(
            Expr::parse("{{params.a}} == 1")
                .unwrap_err()
                .contains("without braces")
        );
        assert!(Expr::parse("").is_err());
        let deep = format!("{}params.a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(Expr::parse(&deep).unwrap_err().contains("nests deeper"));
        let nots = format!("{}params.a", "!".repeat(10_000));
        assert!(Expr::parse(&nots).is_err());
    }

    #[test]
    fn string_escapes_round_trip() {
        let e = Expr::compare(CmpOp::Eq, Reference::Param("p".into()), "a\"b\\c\nd\u{1}é");
        let printed = e.to_string();
        assert_eq!(Expr::parse(&printed).unwrap(), e);
    }

    #[test]
    fn an_unknown_escape_is_refused_not_read_as_its_letter() {
        // JSON's `\u00e9` is not an escape here: read as `u00e9`, it compared other text.
        let err = Expr::parse(r#"params.p == "caf\u00e9""#).unwrap_err();
        assert!(err.contains("unknown escape `\\u` at column 17"), "{err}");
        assert!(err.contains("\\u{HEX}"), "{err}");
        let ok = Expr::parse(r#"params.p == "caf\u{e9} \" \' \\""#).unwrap();
        assert_eq!(
            ok,
            Expr::compare(CmpOp::Eq, Reference::Param("p".into()), "café \" ' \\")
        );
    }
}
