//! A minimal, allocation-light XML writer for AWS response documents.

/// Escape text for use inside an XML element or attribute.
pub fn escape_into(out: &mut String, text: &str) {
    // Every character replaced is ASCII, so each one found is a char boundary: the runs
    // between them are copied whole (a session token is hundreds of plain characters).
    let mut run_start = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            b'\r' => "&#13;",
            _ => continue,
        };
        out.push_str(&text[run_start..i]);
        out.push_str(entity);
        run_start = i + 1;
    }
    out.push_str(&text[run_start..]);
}

/// Builds an XML document element by element.
#[derive(Debug, Default)]
pub struct XmlWriter {
    buf: String,
    stack: Vec<&'static str>,
}

impl XmlWriter {
    /// A writer with the XML declaration already written.
    pub fn new() -> Self {
        let mut buf = String::with_capacity(512);
        buf.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        XmlWriter { buf, stack: Vec::new() }
    }

    /// A writer for a fragment: no XML declaration.
    pub fn fragment() -> Self {
        XmlWriter { buf: String::with_capacity(256), stack: Vec::new() }
    }

    /// Open `<name>`; with `xmlns`, `<name xmlns="...">`.
    pub fn open(&mut self, name: &'static str, xmlns: Option<&str>) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        if let Some(ns) = xmlns {
            self.buf.push_str(" xmlns=\"");
            escape_into(&mut self.buf, ns);
            self.buf.push('"');
        }
        self.buf.push('>');
        self.stack.push(name);
        self
    }

    /// Close the innermost open element.
    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.stack.pop() {
            self.buf.push_str("</");
            self.buf.push_str(name);
            self.buf.push('>');
        }
        self
    }

    /// `<name>text</name>`.
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        escape_into(&mut self.buf, text);
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// `<name>text</name>` when `text` is present.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(name, t);
        }
        self
    }

    /// Append already-formed XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }

    /// Close every open element and return the document.
    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_nests() {
        let mut w = XmlWriter::new();
        w.open("A", Some("urn:x")).elem("B", "1 < 2 & \"q\"").open("C", None);
        let doc = w.finish();
        assert!(doc.ends_with("<A xmlns=\"urn:x\"><B>1 &lt; 2 &amp; &quot;q&quot;</B><C></C></A>"));
    }

    /// The escaping of every string of up to four pieces from a set with each special character,
    /// multi-byte characters and plain runs equals a character-by-character reference.
    #[test]
    fn escaping_matches_a_per_character_reference() {
        fn reference(text: &str) -> String {
            text.chars()
                .map(|c| match c {
                    '&' => "&amp;".to_string(),
                    '<' => "&lt;".to_string(),
                    '>' => "&gt;".to_string(),
                    '"' => "&quot;".to_string(),
                    '\'' => "&apos;".to_string(),
                    '\r' => "&#13;".to_string(),
                    c => c.to_string(),
                })
                .collect()
        }
        let pieces = ["", "a", "plain text", "&", "<", ">", "\"", "'", "\r", "\n", "é", "€", "😀", "&amp;"];
        let mut checked = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let text = format!("{a}{b}{c}{d}");
                        let mut out = String::from("prefix:");
                        escape_into(&mut out, &text);
                        assert_eq!(out, format!("prefix:{}", reference(&text)), "escaping {text:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, pieces.len().pow(4));
    }
}
