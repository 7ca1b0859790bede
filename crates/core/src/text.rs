//! People's own words (plans, explanations, names, reasons): characters
//! that are refused or removed wherever free text is accepted.

/// Unicode format characters that change how text displays without being
/// seen: bidirectional overrides and isolates, marks, zero-width
/// characters, the soft hyphen and the byte order mark. In someone's free
/// text they can make a reader see something other than was written.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_invisible_format() {
        for c in ['\u{202E}', '\u{2066}', '\u{200B}', '\u{FEFF}', '\u{00AD}'] {
            assert!(is_invisible_format(c), "{:04X}", u32::from(c));
        }
        for c in ['a', 'é', '→', ' ', '\n', 'ß', '中'] {
            assert!(!is_invisible_format(c), "{c}");
        }
    }
}
