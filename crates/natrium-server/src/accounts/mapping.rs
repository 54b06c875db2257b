//! Subject mappings of imports: a stream import's `prefix`/`to` and a service import's `to`,
//! with nats-server's rules and error texts for the destination's wildcards.
//!
//! A destination may use `*` (the next wildcard of the source, in order), `>` (the source's
//! `>`), `$N` or `{{wildcard(N)}}` (the source's N-th wildcard token).

/// One token of a mapping's destination.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dest {
    Literal(Box<[u8]>),
    /// The N-th (0-based) `*` token of the source.
    Wildcard(usize),
    /// Everything the source's `>` matched.
    Rest,
}

/// Rewrites subjects matching `source` into `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubjectMap {
    /// Source token positions holding `*`, in order.
    wildcards: Vec<usize>,
    /// Position of the source's `>`, if any.
    rest: Option<usize>,
    dest: Vec<Dest>,
    /// Source and destination are the same: the subject passes unchanged.
    identity: bool,
}

impl SubjectMap {
    /// The mapping from `source` to `destination`, or nats-server's reason why it is
    /// invalid (the text after `invalid mapping destination: `, or `invalid subject`).
    pub(crate) fn new(source: &str, destination: &str) -> Result<SubjectMap, String> {
        let src: Vec<&str> = source.split('.').collect();
        let wildcards: Vec<usize> = (0..src.len()).filter(|&i| src[i] == "*").collect();
        let rest = src.iter().position(|&t| t == ">");
        let mut dest = Vec::new();
        let mut next_star = 0;
        let mut used = vec![false; wildcards.len()];
        for token in destination.split('.') {
            let d = match token {
                "*" => {
                    next_star += 1;
                    Dest::Wildcard(wildcard_index(
                        next_star,
                        &format!("${next_star}"),
                        &wildcards,
                    )?)
                }
                ">" => {
                    if rest.is_none() {
                        return Err("invalid subject".into());
                    }
                    Dest::Rest
                }
                t => match reference(t) {
                    Some(n) => Dest::Wildcard(wildcard_index(n, t, &wildcards)?),
                    None => Dest::Literal(t.as_bytes().into()),
                },
            };
            if let Dest::Wildcard(i) = d {
                used[i] = true;
            }
            dest.push(d);
        }
        if rest.is_some() && !dest.contains(&Dest::Rest) {
            return Err("invalid subject".into());
        }
        if used.iter().any(|u| !u) {
            return Err(format!(
                "invalid mapping destination: not using all of the token wildcard(s) in {destination}"
            ));
        }
        Ok(SubjectMap {
            wildcards,
            rest,
            dest,
            identity: source == destination,
        })
    }

    /// Writes the mapped form of `subject` (which matches the source) into `out`.
    pub(crate) fn apply(&self, subject: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if self.identity {
            out.extend_from_slice(subject);
            return;
        }
        let tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
        for (i, d) in self.dest.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match d {
                Dest::Literal(t) => out.extend_from_slice(t),
                Dest::Wildcard(n) => {
                    out.extend_from_slice(tokens.get(self.wildcards[*n]).copied().unwrap_or(b""))
                }
                Dest::Rest => {
                    let from = self.rest.unwrap_or(tokens.len()).min(tokens.len());
                    out.extend_from_slice(&tokens[from..].join(&b'.'));
                }
            }
        }
    }
}

/// `$N` or `{{wildcard(N)}}` (nats-server's two spellings), as N.
fn reference(token: &str) -> Option<usize> {
    let n = token.strip_prefix('$').or_else(|| {
        token
            .strip_prefix("{{")?
            .strip_suffix("}}")?
            .trim()
            .strip_prefix("wildcard(")?
            .strip_suffix(')')
    })?;
    n.trim().parse().ok()
}

/// The 0-based index of the source's `n`-th (1-based) `*`, or nats-server's error.
fn wildcard_index(n: usize, written: &str, wildcards: &[usize]) -> Result<usize, String> {
    if n == 0 || n > wildcards.len() {
        return Err(format!(
            "invalid mapping destination: wildcard index out of range in {written}: [{n}]"
        ));
    }
    Ok(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(src: &str, dst: &str, subject: &str) -> String {
        let m = SubjectMap::new(src, dst).unwrap();
        let mut out = Vec::new();
        m.apply(subject.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn maps_literals_wildcards_and_the_rest() {
        assert_eq!(map("foo", "bar", "foo"), "bar");
        assert_eq!(map("foo.*", "bar.*", "foo.x"), "bar.x");
        assert_eq!(map("foo.*.*", "bar.$2.$1", "foo.a.b"), "bar.b.a");
        assert_eq!(map("foo.*", "{{wildcard(1)}}.bar", "foo.a"), "a.bar");
        assert_eq!(map("foo.>", "bar.>", "foo.a.b.c"), "bar.a.b.c");
        assert_eq!(map("foo.>", "foo.>", "foo.a"), "foo.a");
        let m = SubjectMap::new("orders.>", "p.orders.>").unwrap();
        let mut out = Vec::new();
        m.apply(b"orders.1.2", &mut out);
        assert_eq!(out, b"p.orders.1.2");
    }

    #[test]
    fn refuses_what_nats_server_refuses_with_its_texts() {
        assert_eq!(
            SubjectMap::new("foo.*", "bar").unwrap_err(),
            "invalid mapping destination: not using all of the token wildcard(s) in bar"
        );
        assert_eq!(
            SubjectMap::new("foo.*", "bar.*.*").unwrap_err(),
            "invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        assert_eq!(
            SubjectMap::new("bar.*", "foo.>").unwrap_err(),
            "invalid subject"
        );
    }
}
