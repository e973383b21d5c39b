//! Tests of normalisation: examples of each step, and properties that the byte paths and the
//! character path agree.

use super::*;

fn norm(s: &str) -> Normalized {
    Normalizer::new().normalize(s)
}

#[test]
fn obfuscation_examples() {
    for (input, want) in [
        ("FR€E", "free"),
        ("ｆｒｅｅ", "free"),
        ("fr\u{200b}ee", "free"),
        ("P4yP@l", "paypal"),
        ("WINNNER", "winner"),
        ("winnner", "winner"),
    ] {
        let n = norm(input);
        assert_eq!(n.text, want, "{input:?}");
        assert!(n.obfuscation.score > 0.1, "{input:?}: {:?}", n.obfuscation);
    }
}

#[test]
fn plain_text_is_untouched() {
    for input in [
        "Your code is 482913. Do not share it.",
        "Flight BA117 to JFK delayed to 14:35, gate B22",
        "Only $5 today, 5pm to 7pm. Use SAVE15 at checkout.",
        "Email help@example.com or visit www.example.com",
    ] {
        let n = norm(input);
        assert_eq!(n.text, input.to_lowercase(), "{input:?}");
        assert_eq!(n.obfuscation.score, 0.0, "{input:?}: {:?}", n.obfuscation);
    }
}

#[test]
fn white_space_is_collapsed_and_trimmed() {
    for (input, want) in [
        ("ab ", "ab"),
        (" ab", "ab"),
        ("a  b", "a b"),
        ("a\t\nb\r\n", "a b"),
        ("a\u{b}b", "ab"),
    ] {
        assert_eq!(norm(input).text, want, "{input:?}");
    }
}

#[test]
fn one_to_l_or_i() {
    for (input, want) in [
        ("cla1m", "claim"),
        ("w1nner", "winner"),
        ("on1ine", "online"),
        ("paypa1", "paypal"),
        ("ca11", "call"),
        ("pr1ze", "prize"),
        ("he1p", "help"),
    ] {
        assert_eq!(norm(input).text, want, "{input:?}");
    }
}

#[test]
fn cyrillic_stays_in_cyrillic_text() {
    let n = norm("Ваш код 1234");
    assert_eq!(n.text, "ваш код 1234");
    assert_eq!(n.obfuscation.confusables, 0);
    // ... but not inside a Latin word.
    let n = norm("Your Р\u{430}yP\u{430}l account");
    assert_eq!(n.text, "your paypal account");
    assert_eq!(n.obfuscation.confusables, 3);
}

#[test]
fn emoji_joiners_are_not_obfuscation() {
    let n = norm("Family day \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} \u{2764}\u{FE0F}");
    assert_eq!(n.obfuscation.score, 0.0, "{:?}", n.obfuscation);
}

/// Normalises `s` as it is and with a zero-width space after it, which forces the full
/// character path: the text must be the same, and the counts but for that one zero-width.
fn same_as_the_full_path(s: &str) -> Result<(), proptest::test_runner::TestCaseError> {
    let mut nz = Normalizer::new();
    let fast = nz.normalize(s);
    let full = nz.normalize(&format!("{s} \u{200b}"));
    proptest::prop_assert_eq!(&fast.text, &full.text);
    let mut counts = full.obfuscation.clone();
    counts.zero_width -= 1;
    counts.score = fast.obfuscation.score;
    proptest::prop_assert_eq!(&fast.obfuscation, &counts);
    // The scores differ by that one zero-width character alone: by the documented formula
    // (`1 - exp(-load)`, 0.5 a zero-width), 1 - score grows by a factor of e^0.5 without it.
    let expected = 1.0 - (1.0 - full.obfuscation.score) * 0.5f64.exp();
    proptest::prop_assert!(
        (fast.obfuscation.score - expected).abs() < 1e-9,
        "score {} on the fast path, {} on the full one",
        fast.obfuscation.score,
        full.obfuscation.score
    );
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

    /// Text that skips steps 1-3 normalises as it would through them: forcing the full path
    /// with a zero-width space changes only the zero-width count.
    #[test]
    fn passing_through_equals_the_full_path(
        s in "([A-Za-z0-9 .,!?:@$/-]|£|€|•|→|™|😀){0,40}"
    ) {
        same_as_the_full_path(&s)?;
    }

    /// ASCII text takes the byte path; the same text with a zero-width space takes the
    /// character path. Leet, spacing, repeats and controls all agree.
    #[test]
    fn the_ascii_byte_path_equals_the_character_path(
        s in "([a-eA-E0123456789 .,!?:@$/_*\t\n\x0b-]{1,4}|  |www|wwww|aaaa|c l a i m|f[.]r[.]e[.]e|y0u|ca11|[$]ave|fr33){0,40}"
    ) {
        same_as_the_full_path(&s)?;
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

    /// Text whose non-ASCII characters are symbols takes the byte path with placeholders; the
    /// same text with a zero-width space takes the character path. Prices, leet `€`, quotes,
    /// dashes, white space and controls beyond ASCII, spacers and emoji all agree.
    #[test]
    fn the_placeholder_byte_path_equals_the_character_path(
        s in "([a-eA-E0134589 .,!?:@$/_*\t-]{1,4}|€|£|😀|→|’|“|—|\u{a0}|\u{85}|\u{92}|\u{2003}|•|·|é|\x01|\x02|  |www|aaaa|c l a i m|c•l•a•i•m|fr€€|fr€e|€5|5€|y0u|ca11|££|😀😀😀){0,40}"
    ) {
        same_as_the_full_path(&s)?;
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

    /// Any text normalises alike whichever path it takes: the ASCII byte path, the byte path
    /// with placeholders, the pass-through character path or the full one; a zero-width
    /// space forces the full path. ASCII runs, the symbols the byte path carries, spacers,
    /// imitating scripts, combining marks and any character at all.
    #[test]
    fn any_text_normalises_as_through_the_full_path(
        s in "([a-zA-Z0-9 .@$€£•·’*_-]{0,6}|[а-яΑ-Ω]|[\u{300}-\u{36f}]|.){0,30}"
    ) {
        same_as_the_full_path(&s)?;
    }
}

#[test]
fn symbols_take_the_byte_path_and_come_back() {
    let mut units = Vec::new();
    let mut others = String::new();
    assert!(transcode("FR€E £5 → ’ok’ 😀", &mut units, &mut others));
    assert_eq!(units, b"FR\x02E \x015 \x01 'ok' \x01");
    assert_eq!(others, "£→😀");
    for needs_characters in ["café", "•", "ｆ", "\u{200b}", "Ж", "\u{a0}", "™"] {
        assert!(
            !transcode(needs_characters, &mut units, &mut others),
            "{needs_characters:?}"
        );
    }
    assert_eq!(norm("FR€E £5 → ’OK’ 😀").text, "free £5 → 'ok' 😀");
    assert_eq!(
        norm("Pay €5, WINNNER  of a fr€e £££").text,
        "pay €5, winner of a free £££"
    );
}

#[test]
fn letters_symbols_and_marks_do_not_pass_through() {
    for c in [
        'é', 'ø', 'а', 'Ρ', 'ｆ', '²', 'ℹ', '\u{301}', '\u{200b}', '①', '™',
    ] {
        assert!(!passes_through(c), "{c:?}");
    }
    for c in ['£', '€', '•', '😀', '→', 'a', '7', ' '] {
        assert!(passes_through(c), "{c:?}");
    }
}

#[test]
fn buffers_are_reused() {
    let mut nz = Normalizer::new();
    let mut out = Normalized::default();
    nz.normalize_into("FIRST message", &mut out);
    nz.normalize_into("fr\u{200b}ee", &mut out);
    assert_eq!(out.text, "free");
    assert_eq!(out.obfuscation.zero_width, 1);
}
