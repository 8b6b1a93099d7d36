//! Text templates with `{name}` placeholders, parsed once (at start, from configuration)
//! so that a mistake stops the service instead of showing up in its output. `{{` and `}}`
//! stand for literal braces. Each user decides which names exist and what they become.

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<P> {
    Text(String),
    Placeholder(P),
}

/// Splits `template` into text and placeholders; `placeholder` turns each name into what
/// the caller renders it from, or refuses it (an unknown name). An empty template, a lone
/// `}` or an unclosed `{` is an error.
pub fn parse<P>(
    template: &str,
    mut placeholder: impl FnMut(&str) -> Result<P, String>,
) -> Result<Vec<Part<P>>, String> {
    if template.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(format!(
                        "`{{{name}` is not closed (write `{{{{` for a literal brace)"
                    ));
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Placeholder(placeholder(&name)?));
            }
            '}' => return Err("a lone `}` (write `}}` for a literal brace)".into()),
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str) -> Result<String, String> {
        match name {
            "a" | "b.c" => Ok(name.to_owned()),
            other => Err(format!("unknown placeholder {{{other}}}")),
        }
    }

    #[test]
    fn splits_text_and_placeholders() {
        assert_eq!(
            parse("{a} and {b.c}{{x}}", known).unwrap(),
            [
                Part::Placeholder("a".to_owned()),
                Part::Text(" and ".into()),
                Part::Placeholder("b.c".to_owned()),
                Part::Text("{x}".into()),
            ]
        );
    }

    #[test]
    fn refuses_unknown_names_stray_braces_and_emptiness() {
        assert!(parse("Hi {name}", known).unwrap_err().contains("{name}"));
        assert!(parse("Hi }", known).is_err());
        assert!(parse("Hi {a", known).unwrap_err().contains("not closed"));
        assert!(parse("  ", known).is_err());
    }
}
