//! What text may go into an SMS. A placeholder value is data, not message: it must not
//! start a new line (a fake second message), reorder what the phone shows (bidirectional
//! overrides and isolates, the "Trojan Source" trick), hide characters, or carry a link
//! the phone will make tappable.
//!
//! [`checked`] refuses such text where a caller supplies it (a customer's name);
//! [`sanitised`] makes any value safe when the message is rendered, for what was stored
//! before these rules or is not checked on the way in (an order's item).
use std::borrow::Cow;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::GeneralCategory;
use icu_properties::CodePointMapData;
use unicode_security::confusable_detection::skeleton;

/// Line breaks: LF, VT, FF, CR, NEL, and the Unicode line and paragraph separators.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Explicit bidirectional formatting: embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Controls, format characters (zero-width, bidi, soft hyphen...), private use,
/// surrogates and unassigned code points: nothing a name or an item needs.
fn is_hidden(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// What a phone, or a person reading the SMS, takes for the full stop, slash or colon of a
/// web address: the character itself, the full stops IDNA separates domain labels with
/// (UTS #46: a phone may link `pay。example` as well as `pay.example`), and every character
/// Unicode lists as confusable with one of them (the UTS #39 skeleton: `pay\u{2024}example`,
/// `pay\u{FE52}example`, `http:\u{2215}\u{2215}x`), except decimal digits, which are read
/// as digits. `None` for any other character.
fn address_punctuation(c: char) -> Option<char> {
    match c {
        '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}' => return Some('.'),
        '/' | ':' => return Some(c),
        _ if c.is_ascii() => return None,
        _ => {}
    }
    if CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::DecimalNumber {
        return None;
    }
    let mut utf8 = [0; 4];
    let mut skeleton = skeleton(c.encode_utf8(&mut utf8));
    match (skeleton.next(), skeleton.next()) {
        (Some(prototype @ ('.' | '/' | ':')), None) => Some(prototype),
        _ => None,
    }
}

/// Whether a word would be shown, or read, as a link: a scheme (`://`), `www.`, a dot
/// between a letter or digit and two or more letters (`pay.example`, `bit.ly`), or three
/// dots between digits (an IPv4 address); look-alikes of the dot, slash and colon count as
/// them. "J.R.R." and "2.5kg" are not.
fn looks_like_address(word: &str) -> bool {
    let chars: Vec<char> = word
        .chars()
        .map(|c| address_punctuation(c).unwrap_or(c))
        .collect();
    let folded: String = chars.iter().collect::<String>().to_lowercase();
    if folded.contains("://") || folded.starts_with("www.") {
        return true;
    }
    let mut inner_dots = 0;
    for (i, window) in chars.windows(3).enumerate() {
        let [before, dot, after] = *window else {
            continue;
        };
        if dot != '.' || !before.is_alphanumeric() || !after.is_alphanumeric() {
            continue;
        }
        inner_dots += 1;
        let letters = chars[i + 2..]
            .iter()
            .take_while(|c| c.is_alphabetic())
            .count();
        if letters >= 2 {
            return true;
        }
    }
    inner_dots >= 3
}

/// NFC, so one text has one form (and one fingerprint), and a character a combining
/// mark would hide cannot pass unseen.
fn nfc(raw: &str) -> Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfc().normalize(raw)
}

/// Whitespace runs (any kind) as one space, trimmed.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `raw` normalised (NFC, one space between words), or why it may not go into an SMS.
pub fn checked(raw: &str) -> Result<String, String> {
    let text = nfc(raw);
    if text.chars().any(is_line_break) {
        return Err("must be one line: no line or paragraph breaks".into());
    }
    if text.chars().any(is_bidi_control) {
        return Err("must not contain bidirectional formatting characters".into());
    }
    // Whitespace that is not a line break (tab, no-break and other spaces) is collapsed,
    // not refused.
    if text.chars().any(|c| is_hidden(c) && !c.is_whitespace()) {
        return Err(
            "must not contain control, invisible, private-use or unassigned characters".into(),
        );
    }
    let text = collapse_whitespace(&text);
    if text.split(' ').any(looks_like_address) {
        return Err("must not contain a web address or domain name".into());
    }
    Ok(text)
}

/// `raw` made safe to send: line breaks become spaces, hidden characters are dropped,
/// words that look like web addresses are left out, whitespace is collapsed.
pub fn sanitised(raw: &str) -> String {
    let text: String = nfc(raw)
        .chars()
        .filter_map(|c| {
            if is_line_break(c) || c.is_whitespace() {
                Some(' ')
            } else if is_hidden(c) {
                None
            } else {
                Some(c)
            }
        })
        .collect();
    text.split_whitespace()
        .filter(|word| !looks_like_address(word))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_names_pass_normalised() {
        for (raw, clean) in [
            ("  Jane   Wanjiku ", "Jane Wanjiku"),
            ("Zoe\u{0308}", "Zo\u{00EB}"),
            ("Amina\u{00A0}Hassan\tAli", "Amina Hassan Ali"),
            ("J.R.R. Tolkien", "J.R.R. Tolkien"),
            ("St. John", "St. John"),
            ("O'Neil-Smith", "O'Neil-Smith"),
            ("አበበ ቢቂላ", "አበበ ቢቂላ"),
            ("أحمد علي", "أحمد علي"),
            ("Bag of rice 2.5kg", "Bag of rice 2.5kg"),
            // An Arabic-Indic zero is a confusable of the dot, and a digit.
            ("أرز \u{0662}\u{0660}kg", "أرز \u{0662}\u{0660}kg"),
            ("ノブ 3/4", "ノブ 3/4"),
        ] {
            assert_eq!(checked(raw).as_deref(), Ok(clean), "{raw:?}");
            assert_eq!(sanitised(raw), clean, "{raw:?}");
        }
    }

    #[test]
    fn each_kind_of_hostile_text_is_refused_with_its_reason() {
        for (raw, reason) in [
            ("a\u{2028}b", "line"),
            ("a\u{2029}b", "line"),
            ("a\nb", "line"),
            ("a\u{85}b", "line"),
            ("a\u{202E}b", "bidirectional"),
            ("a\u{2067}b\u{2069}", "bidirectional"),
            ("a\u{200F}b", "bidirectional"),
            ("a\u{200B}b", "invisible"),
            ("a\u{00AD}b", "invisible"),
            ("a\u{0007}b", "invisible"),
            ("a\u{E000}", "invisible"),
            ("a\u{0378}", "invisible"),
            ("see http://x", "web address"),
            ("HTTPS://X", "web address"),
            ("www.pay.example", "web address"),
            ("pay.example", "web address"),
            ("bit.ly/abc", "web address"),
            ("pay\u{3002}example", "web address"),
            ("pay\u{2024}example", "web address"),
            ("pay\u{FE52}example", "web address"),
            ("pay\u{A4F8}example", "web address"),
            ("WWW\u{FF0E}x", "web address"),
            ("http:\u{2215}\u{2215}x", "web address"),
            ("http\u{A789}//x", "web address"),
            ("10.0.0.1", "web address"),
        ] {
            let error = checked(raw).unwrap_err();
            assert!(error.contains(reason), "{raw:?}: {error}");
        }
    }

    #[test]
    fn sanitising_keeps_the_words_and_drops_the_rest() {
        assert_eq!(
            sanitised("Jane \u{202E}Doe\u{2028}Pay at pay.example now"),
            "Jane Doe Pay at now"
        );
        assert_eq!(
            sanitised("Rice\u{2029}Call http://x.example/p"),
            "Rice Call"
        );
        assert_eq!(sanitised("\u{200B}"), "");
        for raw in ["Jane Doe", "KES", "56000.68", "CUS-000001"] {
            assert_eq!(sanitised(raw), raw, "server-made values pass unchanged");
        }
    }
}
