//! Sentence segmentation, reassembly and splitting of over-long sentences.

use relais_text::{reassemble, segment, split_long, Piece, Segment};

/// (input, expected sentences).
const CASES: &[(&str, &[&str])] = &[
    // several sentences, final punctuation
    (
        "Tom left. Mary stayed! Why?",
        &["Tom left.", "Mary stayed!", "Why?"],
    ),
    ("Really?! Yes!! Fine.", &["Really?!", "Yes!!", "Fine."]),
    ("Is it you?.. No.", &["Is it you?..", "No."]),
    // no final punctuation
    ("I am hungry", &["I am hungry"]),
    ("I am hungry. Let's eat", &["I am hungry.", "Let's eat"]),
    // abbreviations
    (
        "Mr. Smith met Dr. Jones on St. Patrick's Day.",
        &["Mr. Smith met Dr. Jones on St. Patrick's Day."],
    ),
    ("Mrs. Brown is here.", &["Mrs. Brown is here."]),
    (
        "Bring fruit, e.g. apples or pears, i.e. something sweet.",
        &["Bring fruit, e.g. apples or pears, i.e. something sweet."],
    ),
    (
        "I bought apples, pears, etc. Then I went home.",
        &["I bought apples, pears, etc.", "Then I went home."],
    ),
    (
        "Apples, pears, etc. are fruit.",
        &["Apples, pears, etc. are fruit."],
    ),
    ("It was France vs. Italy.", &["It was France vs. Italy."]),
    (
        "We met at 10 a.m. and left at 2 p.m. The day was long.",
        &["We met at 10 a.m. and left at 2 p.m.", "The day was long."],
    ),
    (
        "The U.S. Army arrived. He lives in the U.S. He likes it.",
        &[
            "The U.S. Army arrived.",
            "He lives in the U.S.",
            "He likes it.",
        ],
    ),
    (
        "J. R. R. Tolkien wrote it. Tom read it.",
        &["J. R. R. Tolkien wrote it.", "Tom read it."],
    ),
    (
        "She has a Ph.D. in physics.",
        &["She has a Ph.D. in physics."],
    ),
    (
        "He was born on Jan. 5, 1990. See p. 12 and No. 7.",
        &["He was born on Jan. 5, 1990.", "See p. 12 and No. 7."],
    ),
    ("I said no. Tom agreed.", &["I said no.", "Tom agreed."]),
    (
        "It weighs approx. five kilos.",
        &["It weighs approx. five kilos."],
    ),
    // decimals and numbers
    (
        "Pi is about 3.14. It costs $1,000.50 now.",
        &["Pi is about 3.14.", "It costs $1,000.50 now."],
    ),
    (
        "Install version 2.0.1 today. It is faster.",
        &["Install version 2.0.1 today.", "It is faster."],
    ),
    (
        "He was born in 1990. 25 years later he left.",
        &["He was born in 1990.", "25 years later he left."],
    ),
    (
        "1. Buy milk. 2. Call Tom.",
        &["1. Buy milk.", "2. Call Tom."],
    ),
    // ellipses
    ("Wait... what?", &["Wait... what?"]),
    ("Wait…what?", &["Wait…what?"]),
    (
        "I don't know... Maybe later.",
        &["I don't know...", "Maybe later."],
    ),
    ("Well… I tried.", &["Well…", "I tried."]),
    // quotes and brackets
    (
        "He said \"Stop.\" Then he left.",
        &["He said \"Stop.\"", "Then he left."],
    ),
    (
        "\u{201C}Where are you?\u{201D} he asked. Nobody answered.",
        &[
            "\u{201C}Where are you?\u{201D} he asked.",
            "Nobody answered.",
        ],
    ),
    (
        "She left (it was late.) We stayed.",
        &["She left (it was late.)", "We stayed."],
    ),
    (
        "He called it \"nonsense\". I agree.",
        &["He called it \"nonsense\".", "I agree."],
    ),
    (
        "She asked: 'Are you coming?' I nodded.",
        &["She asked: 'Are you coming?'", "I nodded."],
    ),
    // URLs and e-mail addresses
    (
        "Visit https://example.com/a.b?c=1. Then write to tom.smith@mail.example.org. Thanks!",
        &[
            "Visit https://example.com/a.b?c=1.",
            "Then write to tom.smith@mail.example.org.",
            "Thanks!",
        ],
    ),
    (
        "Go here. www.example.com is fast.",
        &["Go here.", "www.example.com is fast."],
    ),
    // line breaks
    ("First line\nSecond line", &["First line", "Second line"]),
    (
        "Dear Tom,\n\nThanks for the book. I loved it.\r\n\r\nBest,\nMary",
        &[
            "Dear Tom,",
            "Thanks for the book.",
            "I loved it.",
            "Best,",
            "Mary",
        ],
    ),
    ("Dr.\nSmith", &["Dr.", "Smith"]),
    // leading and trailing whitespace
    (
        "   Hello there.  How are you?\n",
        &["Hello there.", "How are you?"],
    ),
    ("\t\nHi.\n\n", &["Hi."]),
    // lower case after a period: an unknown abbreviation, no cut
    (
        "It is the 3rd ed. and final.",
        &["It is the 3rd ed. and final."],
    ),
];

fn texts(segments: &[Segment]) -> Vec<&str> {
    segments.iter().map(|s| s.text.as_str()).collect()
}

fn identity(segments: Vec<Segment>) -> Vec<(Segment, String)> {
    segments
        .into_iter()
        .map(|s| {
            let text = s.text.clone();
            (s, text)
        })
        .collect()
}

#[test]
fn segments_every_case_of_the_table() {
    assert!(CASES.len() >= 35);
    for (input, expected) in CASES {
        assert_eq!(texts(&segment(input)), *expected, "{input:?}");
    }
}

#[test]
fn segments_are_trimmed_and_separated_by_whitespace_only() {
    for (input, _) in CASES {
        let segments = segment(input);
        for (i, s) in segments.iter().enumerate() {
            assert!(!s.text.is_empty(), "{input:?}");
            assert_eq!(s.text.trim(), s.text, "{input:?}");
            assert!(s.separator_after.chars().all(char::is_whitespace));
            assert!(s.leading.chars().all(char::is_whitespace));
            assert!(i == 0 || s.leading.is_empty(), "only the first has leading");
            if i + 1 < segments.len() {
                assert!(!s.separator_after.is_empty(), "{input:?}");
            }
        }
    }
}

#[test]
fn identity_translation_reassembles_to_the_input() {
    for (input, _) in CASES {
        assert_eq!(reassemble(&identity(segment(input))), *input);
    }
}

#[test]
fn reassembly_keeps_the_original_spacing_around_translations() {
    let segments = segment("  Hello.  How are you?\n\nBye.\n");
    let fr = ["Bonjour.", " Comment vas-tu\u{202F}? ", "Salut."];
    let pairs: Vec<(Segment, &str)> = segments.into_iter().zip(fr).collect();
    assert_eq!(
        reassemble(&pairs),
        "  Bonjour.  Comment vas-tu\u{202F}?\n\nSalut.\n"
    );
}

#[test]
fn separators_are_recorded_exactly() {
    let segments = segment(" A b.\u{00A0} C d!\n\n  E\n");
    assert_eq!(
        segments,
        [
            Segment {
                leading: " ".into(),
                text: "A b.".into(),
                separator_after: "\u{00A0} ".into(),
            },
            Segment {
                leading: String::new(),
                text: "C d!".into(),
                separator_after: "\n\n  ".into(),
            },
            Segment {
                leading: String::new(),
                text: "E".into(),
                separator_after: "\n".into(),
            },
        ]
    );
}

#[test]
fn empty_or_blank_input_has_no_segments() {
    for blank in ["", " ", "\n\n", "\t \r\n "] {
        assert!(segment(blank).is_empty(), "{blank:?}");
    }
    assert_eq!(reassemble::<String>(&[]), "");
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn joined(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| format!("{}{}", p.text, p.separator_after))
        .collect()
}

fn without_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every piece within budget (or a flagged single word), counts right,
/// nothing lost.
fn check_pieces(sentence: &str, max: usize, count: impl Fn(&str) -> usize, pieces: &[Piece]) {
    assert_eq!(joined(pieces), sentence.trim(), "nothing lost");
    assert_eq!(
        without_whitespace(&pieces.iter().map(|p| p.text.as_str()).collect::<String>()),
        without_whitespace(sentence)
    );
    for piece in pieces {
        assert_eq!(piece.tokens, count(&piece.text));
        assert_eq!(piece.text.trim(), piece.text);
        assert!(!piece.text.is_empty());
        assert_eq!(piece.oversized, piece.tokens > max);
        if piece.oversized {
            assert_eq!(
                words(&piece.text),
                1,
                "only a single word may be over budget"
            );
        }
    }
    assert_eq!(pieces.last().map(|p| p.separator_after.as_str()), Some(""));
}

const LONG: &str = "When the storm finally passed, the villagers came out of their houses; \
    they looked at the fallen trees, the flooded fields and the broken bridge: \
    nobody said a word — the old fisherman, who had seen many storms, \
    simply picked up his net and walked slowly towards the harbour.";

#[test]
fn a_sentence_within_budget_is_one_piece() {
    let pieces = split_long("  Tom is here.  ", 10, words);
    assert_eq!(
        pieces,
        [Piece {
            text: "Tom is here.".into(),
            separator_after: String::new(),
            tokens: 3,
            oversized: false,
        }]
    );
    assert!(split_long(" \n", 10, words).is_empty());
}

#[test]
fn cuts_at_clause_marks_first() {
    let pieces = split_long(LONG, 20, words);
    check_pieces(LONG, 20, words, &pieces);
    let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "When the storm finally passed, the villagers came out of their houses;",
            "they looked at the fallen trees, the flooded fields and the broken bridge:",
            "nobody said a word — the old fisherman, who had seen many storms,",
            "simply picked up his net and walked slowly towards the harbour.",
        ]
    );
}

#[test]
fn cuts_at_commas_and_dashes_when_a_clause_is_too_long() {
    let pieces = split_long(LONG, 8, words);
    check_pieces(LONG, 8, words, &pieces);
    let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "When the storm finally passed,",
            "the villagers came out of their houses;",
            "they looked at the fallen trees,",
            "the flooded fields and the broken bridge:",
            "nobody said a word — the old fisherman,",
            "who had seen many storms,",
            "simply picked up his net and walked slowly",
            "towards the harbour.",
        ]
    );
    let pieces = split_long(LONG, 6, words);
    check_pieces(LONG, 6, words, &pieces);
    assert!(
        pieces.iter().any(|p| p.text == "nobody said a word —"),
        "{pieces:?}"
    );
}

#[test]
fn cuts_between_words_as_a_last_resort() {
    let sentence = "one two three four five six seven eight nine ten eleven";
    let pieces = split_long(sentence, 4, words);
    check_pieces(sentence, 4, words, &pieces);
    let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "one two three four",
            "five six seven eight",
            "nine ten eleven"
        ]
    );
}

#[test]
fn budget_holds_for_every_size_and_counter() {
    let chars = |s: &str| s.chars().count();
    for max in 1..=40 {
        let pieces = split_long(LONG, max, words);
        check_pieces(LONG, max, words, &pieces);
        assert!(pieces.iter().all(|p| !p.oversized), "max {max}");
    }
    for max in [5, 12, 30, 80, 400] {
        let pieces = split_long(LONG, max, chars);
        check_pieces(LONG, max, chars, &pieces);
    }
}

#[test]
fn a_word_over_budget_is_kept_whole_and_flagged() {
    let sentence = "See Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch now.";
    let chars = |s: &str| s.chars().count();
    let pieces = split_long(sentence, 10, chars);
    check_pieces(sentence, 10, chars, &pieces);
    let flagged: Vec<&str> = pieces
        .iter()
        .filter(|p| p.oversized)
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(
        flagged,
        ["Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"]
    );
    let zero = split_long("a b", 0, words);
    assert_eq!(zero.len(), 2);
    assert!(zero.iter().all(|p| p.oversized));
}

#[test]
fn segments_then_pieces_round_trip() {
    let text = format!("Short one. {LONG}\n\nAnother short one.");
    let max = 10;
    let translated: Vec<(Segment, String)> = segment(&text)
        .into_iter()
        .map(|s| {
            let pieces = split_long(&s.text, max, words);
            assert!(pieces.iter().all(|p| p.tokens <= max));
            let back = joined(&pieces);
            (s, back)
        })
        .collect();
    assert_eq!(translated.len(), 3);
    assert_eq!(reassemble(&translated), text);
}
