//! Making outside text safe for chat: no mass mentions, no links or mentions smuggled in through
//! Slack's `<...>` syntax or markdown links, no control characters.

/// Returns text that renders as written and pings no one.
pub fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            // Slack's <!here>, <@U123>, <https://x|y> all need angle brackets.
            '<' => out.push('‹'),
            '>' => out.push('›'),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    // @here, @channel, @everyone, @all: a zero-width space after the @ stops the mention.
    for word in ["here", "channel", "everyone", "all"] {
        let mut fixed = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(pos) = find_ignore_case(rest, &format!("@{word}")) {
            fixed.push_str(&rest[..pos + 1]);
            fixed.push('\u{200B}');
            rest = &rest[pos + 1..];
        }
        fixed.push_str(rest);
        out = fixed;
    }
    // [text](url): break the markdown link so it shows as text.
    out.replace("](", "] (")
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_and_links_are_defused() {
        let s = neutralise("@here <!channel> <@U123> [click](https://evil.example) <https://evil.example|ok> @Channel");
        assert!(!s.contains("@here"), "{s}");
        assert!(!s.to_lowercase().contains("@channel"), "{s}");
        assert!(!s.contains('<') && !s.contains('>'), "{s}");
        assert!(!s.contains("]("), "{s}");
        assert!(s.contains("click"), "the text itself stays readable: {s}");
    }

    #[test]
    fn plain_text_is_unchanged() {
        let s = "Essential container in task exited (exit code 137)";
        assert_eq!(neutralise(s), s);
        assert_eq!(neutralise("a\u{7}b\nc"), "ab\nc");
    }
}
