use super::{Ev, Lite};
use crate::spec::fast_yaml::{Source, plain_text, saphyr};
use std::path::Path;

/// Every event of `text` from the line scanner; `None` where it refuses.
fn lite(text: &str) -> Option<Vec<Ev<'_>>> {
    let mut lite = Lite::new(text);
    let mut events = Vec::new();
    while let Some(e) = lite.next().ok()? {
        events.push(e);
    }
    Some(events)
}

/// Every event of `text` from saphyr-parser, in the scanner's terms; `None` where it reports an
/// error or gives an event the scanner never gives.
fn saphyr_events(text: &str) -> Option<Vec<Ev<'_>>> {
    let mut source = saphyr(text)?;
    let Source::Saphyr(parser) = &mut source else {
        return None;
    };
    let mut events = Vec::new();
    loop {
        let (event, _) = parser.next_event()?.ok()?;
        use saphyr_parser::Event;
        events.push(match event {
            Event::Scalar(v, style, 0, None) => Ev::Scalar(v, style),
            Event::SequenceStart(0, None) => Ev::SeqStart,
            Event::SequenceEnd => Ev::SeqEnd,
            Event::MappingStart(0, None) => Ev::MapStart,
            Event::MappingEnd => Ev::MapEnd,
            Event::DocumentEnd => break,
            _ => return None,
        });
    }
    match parser.next_event()?.ok()?.0 {
        saphyr_parser::Event::StreamEnd => {}
        _ => return None,
    }
    parser.next_event().is_none().then_some(events)
}

/// Wherever the scanner takes a text, saphyr-parser reads it too, to the same events.
fn agree(text: &str) -> bool {
    if !plain_text(text) {
        return true;
    }
    match lite(text) {
        None => true,
        Some(events) => match saphyr_events(text) {
            Some(expected) => {
                assert_eq!(events, expected, "{text:?}");
                true
            }
            None => panic!("only the line scanner reads {text:?}: {events:?}"),
        },
    }
}

fn examples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut texts = Vec::new();
    for dir in [dir.clone(), dir.join("cluster")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                texts.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    assert!(texts.len() >= 9);
    texts
}

/// Shapes the scanner must take, each as saphyr-parser reads it.
const TAKEN: &[&str] = &[
    "a: 1\n",
    "a:\n",
    "a:\nb: x\n",
    "a:\n- 1\n- 2\nb: 3\n",
    "a:\n  - 1\n  -\n  - x: 1\n    y: [2, 'q''s', \"d\\\"q\", [], [[a]]]\n",
    "- a\n-\n- # c\n-   \n",
    "steps:\n  - name: s-0-0\n    dependsOn: [a, b]\n    container:\n      image: alpine:3.19\n      command: [echo, s-0-0]\n",
    "# comment\na: b # trailing\n\n  # indented comment\nc: 'x y' # c\n",
    "a: http://x/y?z=1\nb: -1\nc: :x\nd: a,b[c]{d}\n",
    "\"quoted key\": 1\n'k': 2\n",
    "a:\n  b:\n    c:\n  d: e\n",
    "- x: 1\n  y:\n  - 2\n- z\n",
];

/// `text` with each of these put in, and with each character taken out, at every `step`-th
/// place: all must agree.
fn mutations_agree(text: &str, step: usize) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for &(at, ch) in chars.iter().step_by(step) {
        for put in [
            " ", "-", ":", "#", "[", "]", "'", "\"", "\n", "x", ",", "- ", ": ",
        ] {
            agree(&format!("{}{put}{}", &text[..at], &text[at..]));
        }
        agree(&format!("{}{}", &text[..at], &text[at + ch.len_utf8()..]));
    }
}

#[test]
fn agrees_with_saphyr_parser() {
    for text in TAKEN {
        assert!(lite(text).is_some(), "refused {text:?}");
        mutations_agree(text, 1);
    }
    let mut taken = 0;
    for text in examples() {
        agree(&text);
        taken += usize::from(lite(&text).is_some());
        mutations_agree(&text, 29);
    }
    assert!(taken >= 3, "the scanner takes only {taken} examples");
}

#[test]
fn refuses_what_it_is_not_sure_of() {
    for text in [
        "a: |\n  x\n",
        "a: >\n  x\n",
        "a: {b: 1}\n",
        "a: b\n  c\n",
        "a: 'b\n  c'\n",
        "a: &x 1\n",
        "a: *x\n",
        "a: !t 1\n",
        "---\na: 1\n",
        "a: [b,\n  c]\n",
        "a: [b, ]\n",
        "a: [b:c]\n",
        "a b: 1\n",
        "a : 1\n",
        "? a\n: 1\n",
        "a: \"\\u00e9\"\n",
        "x\n",
        "- - a\n",
        "a: 1\nb\n",
        "",
        "# only a comment\n",
    ] {
        assert!(lite(text).is_none(), "{text:?}: {:?}", lite(text));
    }
}
