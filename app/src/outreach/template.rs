//! Message templates: variables (`{{first_name}}`, with a fallback `{{first_name|there}}`)
//! and nested spintax (`{Hi|Hello|Hey}`). The same code runs on the server (sending) and
//! in the browser (the editor's live preview). Rendering is deterministic for a seed
//! (lead and step), so a retry renders the same text.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A problem in a template, with the character position (0-based) it was found at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplateError {
    /// `{` or `{{` without its closing brace.
    Unclosed { at: usize },
    /// `}` with nothing open.
    UnexpectedClose { at: usize },
    /// `{{}}` or a name with characters other than letters, digits and `_`.
    BadVariable { at: usize },
    /// A variable the sender does not know.
    UnknownVariable { at: usize, name: String },
    /// A variable without a fallback whose value is missing for this recipient.
    MissingValue { at: usize, name: String },
}

impl TemplateError {
    /// The locale key of the message and its arguments (`at` counts from 1 for people).
    pub fn describe(&self) -> (&'static str, Vec<(&'static str, String)>) {
        match self {
            TemplateError::Unclosed { at } => {
                ("template.unclosed", vec![("at", (at + 1).to_string())])
            }
            TemplateError::UnexpectedClose { at } => (
                "template.unexpected_close",
                vec![("at", (at + 1).to_string())],
            ),
            TemplateError::BadVariable { at } => {
                ("template.bad_variable", vec![("at", (at + 1).to_string())])
            }
            TemplateError::UnknownVariable { at, name } => (
                "template.unknown_variable",
                vec![("at", (at + 1).to_string()), ("name", name.clone())],
            ),
            TemplateError::MissingValue { at, name } => (
                "template.missing_value",
                vec![("at", (at + 1).to_string()), ("name", name.clone())],
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Text(String),
    Var {
        at: usize,
        name: String,
        fallback: Option<String>,
    },
    /// One of the options, each a sequence of nodes.
    Spin(Vec<Vec<Node>>),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    nodes: Vec<Node>,
}

/// Deeper nesting than this is refused rather than recursed into.
const MAX_DEPTH: usize = 16;

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let chars: Vec<char> = source.chars().collect();
        let mut pos = 0;
        let nodes = parse_seq(&chars, &mut pos, 0)?;
        if pos < chars.len() {
            return Err(TemplateError::UnexpectedClose { at: pos });
        }
        Ok(Template { nodes })
    }

    /// The variables the template uses, each once, in order of first use.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_vars(&self.nodes, &mut out);
        out
    }

    /// Checks every variable against those the sender knows (on save) and, given a
    /// recipient's values, that each one without a fallback has a value (on enrol).
    pub fn check(
        &self,
        known: &[&str],
        values: Option<&HashMap<String, String>>,
    ) -> Result<(), TemplateError> {
        check_nodes(&self.nodes, known, values)
    }

    /// The text for one recipient. `seed` picks the spintax options; the same seed
    /// always gives the same text. Missing values render their fallback, or nothing.
    pub fn render(&self, values: &HashMap<String, String>, seed: u64) -> String {
        let mut out = String::new();
        let mut counter = 0_u64;
        render_nodes(&self.nodes, values, seed, &mut counter, &mut out);
        out
    }
}

fn parse_seq(chars: &[char], pos: &mut usize, depth: usize) -> Result<Vec<Node>, TemplateError> {
    // Top level: read until the end. Inside a spin: stop at `|` or `}` (the caller
    // consumes them).
    let mut nodes = Vec::new();
    let mut text = String::new();
    while *pos < chars.len() {
        let c = chars[*pos];
        match c {
            '{' if chars.get(*pos + 1) == Some(&'{') => {
                flush(&mut text, &mut nodes);
                nodes.push(parse_var(chars, pos)?);
            }
            '{' => {
                if depth >= MAX_DEPTH {
                    return Err(TemplateError::Unclosed { at: *pos });
                }
                flush(&mut text, &mut nodes);
                nodes.push(parse_spin(chars, pos, depth + 1)?);
            }
            '|' | '}' if depth > 0 => break,
            '}' => return Err(TemplateError::UnexpectedClose { at: *pos }),
            _ => {
                text.push(c);
                *pos += 1;
            }
        }
    }
    flush(&mut text, &mut nodes);
    Ok(nodes)
}

fn flush(text: &mut String, nodes: &mut Vec<Node>) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    }
}

fn parse_spin(chars: &[char], pos: &mut usize, depth: usize) -> Result<Node, TemplateError> {
    let open = *pos;
    *pos += 1;
    let mut options = Vec::new();
    loop {
        options.push(parse_seq(chars, pos, depth)?);
        match chars.get(*pos) {
            Some('|') => *pos += 1,
            Some('}') => {
                *pos += 1;
                return Ok(Node::Spin(options));
            }
            _ => return Err(TemplateError::Unclosed { at: open }),
        }
    }
}

fn parse_var(chars: &[char], pos: &mut usize) -> Result<Node, TemplateError> {
    let open = *pos;
    *pos += 2;
    let mut inner = String::new();
    loop {
        match (chars.get(*pos), chars.get(*pos + 1)) {
            (Some('}'), Some('}')) => {
                *pos += 2;
                break;
            }
            (Some('{'), _) | (None, _) => return Err(TemplateError::Unclosed { at: open }),
            (Some(c), _) => {
                inner.push(*c);
                *pos += 1;
            }
        }
    }
    let (name, fallback) = match inner.split_once('|') {
        Some((n, f)) => (n.trim().to_string(), Some(f.to_string())),
        None => (inner.trim().to_string(), None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(TemplateError::BadVariable { at: open });
    }
    Ok(Node::Var {
        at: open,
        name,
        fallback,
    })
}

fn collect_vars(nodes: &[Node], out: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::Var { name, .. } if !out.contains(name) => out.push(name.clone()),
            Node::Spin(options) => options.iter().for_each(|o| collect_vars(o, out)),
            _ => {}
        }
    }
}

fn check_nodes(
    nodes: &[Node],
    known: &[&str],
    values: Option<&HashMap<String, String>>,
) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Var { at, name, fallback } => {
                if !known.contains(&name.as_str()) {
                    return Err(TemplateError::UnknownVariable {
                        at: *at,
                        name: name.clone(),
                    });
                }
                if let Some(values) = values {
                    let missing = values.get(name).is_none_or(|v| v.trim().is_empty());
                    if missing && fallback.is_none() {
                        return Err(TemplateError::MissingValue {
                            at: *at,
                            name: name.clone(),
                        });
                    }
                }
            }
            Node::Spin(options) => {
                for option in options {
                    check_nodes(option, known, values)?;
                }
            }
            Node::Text(_) => {}
        }
    }
    Ok(())
}

/// SplitMix64: a fixed, well-mixed function of its input, the same on every platform.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn render_nodes(
    nodes: &[Node],
    values: &HashMap<String, String>,
    seed: u64,
    counter: &mut u64,
    out: &mut String,
) {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Var { name, fallback, .. } => {
                match values.get(name).filter(|v| !v.trim().is_empty()) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(fallback.as_deref().unwrap_or("")),
                }
            }
            Node::Spin(options) => {
                // Each spin in document order draws its own number, so editing one spin
                // does not reshuffle the others.
                *counter += 1;
                let pick = (mix(seed ^ mix(*counter)) % options.len() as u64) as usize;
                render_nodes(&options[pick], values, seed, counter, out);
            }
        }
    }
}

/// A stable seed for one recipient and one step, so retries render the same text.
pub fn seed_for(recipient: &[u8], step: u32) -> u64 {
    // FNV-1a over the bytes, then mixed with the step.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in recipient {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h ^ u64::from(step))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_and_fallbacks() {
        let t = Template::parse("Hi {{first_name|there}}, about {{project}}.").unwrap();
        assert_eq!(t.variables(), ["first_name", "project"]);
        assert_eq!(
            t.render(
                &values(&[("first_name", "Mona"), ("project", "Nile Towers")]),
                1
            ),
            "Hi Mona, about Nile Towers."
        );
        assert_eq!(
            t.render(&values(&[("project", "X")]), 1),
            "Hi there, about X."
        );
        assert_eq!(
            t.check(&["first_name"], None),
            Err(TemplateError::UnknownVariable {
                at: 31,
                name: "project".into()
            })
        );
        assert_eq!(
            t.check(
                &["first_name", "project"],
                Some(&values(&[("first_name", "M")]))
            ),
            Err(TemplateError::MissingValue {
                at: 31,
                name: "project".into()
            })
        );
        assert_eq!(
            t.check(
                &["first_name", "project"],
                Some(&values(&[("project", "P")]))
            ),
            Ok(())
        );
    }

    #[test]
    fn nested_spintax_is_deterministic_per_seed_and_varies_across_seeds() {
        let t = Template::parse("{Hi|Hello|{Hey|Yo}} {{name}}{!|.}").unwrap();
        let v = values(&[("name", "Omar")]);
        let seed = seed_for(b"lead-1", 2);
        let first = t.render(&v, seed);
        for _ in 0..10 {
            assert_eq!(t.render(&v, seed), first);
        }
        let seen: std::collections::HashSet<String> = (0..200)
            .map(|i| t.render(&v, seed_for(format!("lead-{i}").as_bytes(), 1)))
            .collect();
        assert!(seen.len() >= 6, "{seen:?}");
        assert!(seen.iter().all(|s| s.contains("Omar")));
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(
            Template::parse("Hi {there"),
            Err(TemplateError::Unclosed { at: 3 })
        );
        assert_eq!(
            Template::parse("Hi there}"),
            Err(TemplateError::UnexpectedClose { at: 8 })
        );
        assert_eq!(
            Template::parse("Hi {{ }}"),
            Err(TemplateError::BadVariable { at: 3 })
        );
        assert_eq!(
            Template::parse("Hi {{name"),
            Err(TemplateError::Unclosed { at: 3 })
        );
        assert_eq!(
            Template::parse("{a|{b|c}"),
            Err(TemplateError::Unclosed { at: 0 })
        );
        assert!(Template::parse("مرحبا {{first_name|صديقي}} {أهلا|مرحبا}").is_ok());
    }

    /// Property: on any input, parsing and rendering return (no panic, no endless
    /// loop), and whatever parses renders with every seed.
    #[test]
    fn any_input_parses_or_errors_and_renders() {
        let alphabet: Vec<char> = "{}|ab {{}}_x\u{64a}\u{1F600}".chars().collect();
        let mut state = 0x1234_5678_9abc_def0_u64;
        let mut next = || {
            state = mix(state);
            state
        };
        let v = values(&[("x", "X"), ("ab", "AB")]);
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if let Ok(t) = Template::parse(&text) {
                let _ = t.check(&["x", "ab"], Some(&v));
                let out = t.render(&v, next());
                assert!(
                    out.chars().count() <= text.chars().count() * 2 + 4,
                    "{text:?} -> {out:?}"
                );
            }
        }
        // Deep nesting is refused, not recursed into.
        let deep = "{".repeat(10_000) + &"}".repeat(10_000);
        assert!(Template::parse(&deep).is_err());
    }
}
