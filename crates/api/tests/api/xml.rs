//! A strict little XML reader for the shapes the server emits (a declaration, then elements,
//! text and the five predefined entities): enough to check that bodies are well formed and to
//! read their fields, without a dependency.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Child element names, each once, in first-appearance order.
    pub fn child_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for c in &self.children {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
        names
    }
}

/// Parses a whole document: `<?xml ...?>` then exactly one root element.
pub fn parse(doc: &str) -> Result<Element, String> {
    let rest = doc
        .strip_prefix("<?xml")
        .ok_or("no XML declaration at the start")?;
    let end = rest.find("?>").ok_or("unterminated declaration")?;
    let mut reader = Reader {
        s: &rest.as_bytes()[end + 2..],
        i: 0,
    };
    let root = reader.element()?;
    if reader.i != reader.s.len() {
        return Err(format!(
            "trailing content after the root element at byte {}",
            reader.i
        ));
    }
    Ok(root)
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || matches!(self.s[self.i], b'_' | b'-'))
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected an element name at byte {start}"));
        }
        Ok(String::from_utf8(self.s[start..self.i].to_vec()).unwrap())
    }

    fn expect(&mut self, what: &[u8]) -> Result<(), String> {
        if self.s[self.i..].starts_with(what) {
            self.i += what.len();
            Ok(())
        } else {
            Err(format!(
                "expected {:?} at byte {}",
                String::from_utf8_lossy(what),
                self.i
            ))
        }
    }

    fn element(&mut self) -> Result<Element, String> {
        self.expect(b"<")?;
        let name = self.name()?;
        if self.s[self.i..].starts_with(b"/>") {
            self.i += 2;
            return Ok(Element {
                name,
                children: vec![],
                text: String::new(),
            });
        }
        self.expect(b">")?;
        let mut children = Vec::new();
        let mut raw_text = Vec::new();
        loop {
            if self.i >= self.s.len() {
                return Err(format!("unterminated element <{name}>"));
            }
            if self.s[self.i..].starts_with(b"</") {
                self.i += 2;
                let close = self.name()?;
                if close != name {
                    return Err(format!("<{name}> closed by </{close}>"));
                }
                self.expect(b">")?;
                break;
            }
            if self.s[self.i] == b'<' {
                children.push(self.element()?);
            } else {
                raw_text.push(self.s[self.i]);
                self.i += 1;
            }
        }
        let raw = String::from_utf8(raw_text).map_err(|_| format!("<{name}>: text not UTF-8"))?;
        if !children.is_empty() && !raw.trim().is_empty() {
            return Err(format!("<{name}> mixes text and elements"));
        }
        Ok(Element {
            name,
            children,
            text: unescape(&raw)?,
        })
    }
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<', '>']) {
        out.push_str(&rest[..i]);
        if !rest[i..].starts_with('&') {
            return Err(format!("unescaped markup character in text {raw:?}"));
        }
        let end = rest[i..]
            .find(';')
            .ok_or_else(|| format!("unterminated entity in {raw:?}"))?;
        out.push(match &rest[i + 1..i + end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            other => return Err(format!("unknown entity &{other};")),
        });
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[test]
fn the_reader_accepts_well_formed_and_refuses_broken_documents() {
    let doc = parse(
        "<?xml version='1.0' encoding='UTF-8'?><R><A>x &amp; y</A><B/><C><d>1</d><d>2</d></C></R>",
    )
    .unwrap();
    assert_eq!(doc.child_names(), ["A", "B", "C"]);
    assert_eq!(doc.child("A").unwrap().text, "x & y");
    assert_eq!(doc.child("C").unwrap().children.len(), 2);
    for bad in [
        "<R/>",
        "<?xml?><R><A></R>",
        "<?xml?><R>a < b</R>",
        "<?xml?><R/><S/>",
        "<?xml?><R>&bogus;</R>",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}
