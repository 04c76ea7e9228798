use super::*;
use proptest::prelude::*;
use serde_json::{Map, json};

/// serde_norway's text of the ordered document: what `print` must equal byte for byte.
fn reference(doc: &Value, first: &[&str]) -> String {
    serde_norway::to_string(&Ordered { value: doc, first }).unwrap()
}

/// The direct printer's text, `None` where it hands the whole document to serde_norway.
fn direct(doc: &Value, first: &[&str]) -> Option<String> {
    let mut p = Printer {
        out: String::new(),
        first,
        splices: &[],
    };
    p.root(doc).ok().map(|()| p.out)
}

#[test]
fn keys_in_the_given_order_then_alphabetically() {
    let doc = json!({"b": 1, "spec": {"z": [{"y": 1, "name": "n"}]}, "a": null, "kind": "K"});
    let text = print(&doc, &["kind", "spec", "name"], "the document").unwrap();
    assert_eq!(
        text,
        "kind: K\nspec:\n  z:\n  - name: n\n    y: 1\na: null\nb: 1\n"
    );
}

/// Every layout and scalar style: literal blocks (kept, stripped and clipped, with an
/// indentation indicator) in mappings and nested sequences, quoted look-alikes of numbers,
/// booleans and null, empty collections, floats, and sequences in sequences.
#[test]
fn each_layout_and_style_is_serde_norways() {
    let doc = json!({
        "k": "a\nb\n", "strip": "a\nb", "keep": "a\n\n", "lead": " a\nb", "first": "\na",
        "l": ["a\nb", {"m": "x\n\ny\n", "n": [["q\nr", "s"], []]}, "true", "0777", "1e5"],
        "e": [], "o": {}, "f": 1.5, "g": 1e20, "h": -0.0, "i": -3, "u": u64::MAX,
        "q": ["{{x}}", "echo {{x}}", "a: b", "a:b", "a #b", "-a", "- a", "x,y", "é", "a'b", "~", ""],
        "tab": "a\tb\nc", "space": "a \nb", "": "empty key", "true": "key", "{{k}}": 1,
    });
    let first = ["l", "k"];
    assert_eq!(
        direct(&doc, &first).as_deref(),
        Some(reference(&doc, &first).as_str())
    );
    let seq = json!([{"a": 1}, [1, [2]], [], "x\ny"]);
    assert_eq!(
        direct(&seq, &[]).as_deref(),
        Some(reference(&seq, &[]).as_str())
    );
    for scalar in [json!("a\nb"), json!(null), json!(2.5), json!("true")] {
        assert_eq!(direct(&scalar, &[]), Some(reference(&scalar, &[])));
    }
}

/// A key libyaml writes as a complex key (`? key`) goes to serde_norway whole, and `print`
/// still gives its text.
#[test]
fn a_key_that_is_no_simple_key_prints_through_serde_norway() {
    for key in ["k".repeat(129), "two\nlines".to_string()] {
        let mut m = Map::new();
        m.insert(key, json!(1));
        let doc = Value::Object(m);
        assert_eq!(direct(&doc, &[]), None);
        assert_eq!(
            print(&doc, &[], "the document").unwrap(),
            reference(&doc, &[])
        );
    }
}

/// Strings from the characters that decide a YAML scalar's style; with `breaks`, also the line
/// breaks other than `\n` (which send the whole document to serde_norway).
fn tricky(breaks: bool) -> impl Strategy<Value = String> {
    let mut pieces = vec![
        "a", "Z", "_", "/", "0", "7", "-", "+", ".", ":", ": ", "#", " #", " ", "  ", "'", "\"",
        "\n", "\n\n", "\t", "{", "}", "[", "]", ",", "?", "!", "&", "*", "|", ">", "%", "@", "`",
        "~", "é", "\u{feff}", "\u{7f}", "\u{1}", "true", "null", "0x1F", "1e3", ".inf", "---",
        "...", "{{x}}", "\\",
    ];
    if breaks {
        pieces.extend(["\r", "\u{85}", "\u{2028}", "\u{2029}"]);
    }
    prop::collection::vec(prop::sample::select(pieces), 0..6).prop_map(|v| v.concat())
}

/// Documents of tricky strings (keys of printable ASCII unless `breaks`), numbers, booleans
/// and nulls, nested four deep.
fn tree(breaks: bool) -> impl Strategy<Value = Value> {
    let key = tricky(breaks)
        .prop_filter("printable ASCII", move |k| {
            breaks || k.bytes().all(|c| (0x20..0x7f).contains(&c))
        })
        .boxed();
    let leaf = prop_oneof![
        tricky(breaks).prop_map(Value::String),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 40, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Without other line breaks and with ASCII keys, the direct printer prints every document,
    /// serde_norway's bytes.
    #[test]
    fn prints_what_serde_norway_prints(doc in tree(false)) {
        let want = reference(&doc, &["a", "_"]);
        prop_assert_eq!(direct(&doc, &["a", "_"]), Some(want));
    }

    /// With any string, `print` gives serde_norway's bytes.
    #[test]
    fn any_document_prints_as_serde_norway_prints(doc in tree(true)) {
        let want = reference(&doc, &["a", "_"]);
        prop_assert_eq!(print(&doc, &["a", "_"], "the document").unwrap(), want);
    }
}
