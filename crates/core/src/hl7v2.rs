//! HL7 v2 messages (ADT, ORU, MDM): parsing and writing.
//!
//! Segments may end with `\r` (the standard), `\n` or `\r\n`, and a UTF-8
//! byte order mark is skipped. Output always uses `\r`. Field, component,
//! repetition, escape and subcomponent characters come from MSH-1 and
//! MSH-2; [`Message::unescape`] reads a field's escape sequences with them
//! before any scan.

use std::borrow::Cow;

/// A parsed message. Fields keep their raw (still escaped) text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub field_sep: char,
    pub component_sep: char,
    pub repetition_sep: char,
    /// The escape character (MSH-2.3), if the message has one.
    pub escape: Option<char>,
    /// The subcomponent separator (MSH-2.4), if the message has one.
    pub subcomponent_sep: Option<char>,
    pub segments: Vec<Segment>,
}

/// One segment: its name and fields. For MSH, `fields[0]` is MSH-2 (the
/// encoding characters); for every other segment `fields[0]` is field 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: String,
    pub fields: Vec<String>,
}

/// Why a message could not be parsed. Messages never quote content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hl7Error {
    #[error("hl7v2: the message does not start with an MSH segment")]
    NoHeader,
    #[error("hl7v2: segment {0} has a malformed name")]
    BadSegmentName(usize),
    #[error("hl7v2: MSH has no encoding characters")]
    BadEncoding,
    #[error("hl7v2: the message is not UTF-8")]
    NotUtf8,
}

/// A coded element (CE/CWE/CNE): the code and coding-system name of the
/// first and alternate triplets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coded<'a> {
    pub code: &'a str,
    pub text: &'a str,
    pub system: &'a str,
}

impl Message {
    /// Whether these bytes look like an HL7 v2 message.
    pub fn sniff(bytes: &[u8]) -> bool {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        body.starts_with(b"MSH")
    }

    /// Parses a message.
    pub fn parse(bytes: &[u8]) -> Result<Self, Hl7Error> {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = std::str::from_utf8(body).map_err(|_| Hl7Error::NotUtf8)?;
        let mut lines = text.split(['\r', '\n']).filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or(Hl7Error::NoHeader)?;
        if !header.starts_with("MSH") {
            return Err(Hl7Error::NoHeader);
        }
        let mut chars = header.chars().skip(3);
        let field_sep = chars.next().ok_or(Hl7Error::BadEncoding)?;
        let encoding: Vec<char> = chars.take_while(|c| *c != field_sep).collect();
        let component_sep = *encoding.first().ok_or(Hl7Error::BadEncoding)?;
        let repetition_sep = encoding.get(1).copied().unwrap_or('~');
        let escape = encoding.get(2).copied();
        let subcomponent_sep = encoding.get(3).copied();
        if field_sep.is_alphanumeric() || component_sep.is_alphanumeric() {
            return Err(Hl7Error::BadEncoding);
        }
        let mut segments = Vec::new();
        for (i, line) in std::iter::once(header).chain(lines).enumerate() {
            let mut parts = line.split(field_sep);
            let name = parts.next().unwrap_or_default();
            if name.len() != 3
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return Err(Hl7Error::BadSegmentName(i));
            }
            segments.push(Segment {
                name: name.to_owned(),
                fields: parts.map(str::to_owned).collect(),
            });
        }
        Ok(Self {
            field_sep,
            component_sep,
            repetition_sep,
            escape,
            subcomponent_sep,
            segments,
        })
    }

    /// Writes the message with `\r` after every segment.
    pub fn write(&self) -> Vec<u8> {
        let mut out = String::new();
        let sep = self.field_sep.to_string();
        for s in &self.segments {
            out.push_str(&s.name);
            for f in &s.fields {
                out.push_str(&sep);
                out.push_str(f);
            }
            out.push('\r');
        }
        out.into_bytes()
    }

    /// MSH-9 message code and trigger event (`ADT`, `A01`).
    pub fn message_type(&self) -> (&str, &str) {
        let msh9 = self
            .segments
            .first()
            .and_then(|s| s.field(9, true))
            .unwrap_or_default();
        let mut comps = msh9.split(self.component_sep);
        (
            comps.next().unwrap_or_default(),
            comps.next().unwrap_or_default(),
        )
    }

    /// The coded elements in a field: every repetition, every triplet of
    /// a CE or CWE (identifier, text and coding system at components 1-3,
    /// the alternate at 4-6 and the second alternate at 10-12).
    pub fn coded<'a>(&self, field: &'a str) -> Vec<Coded<'a>> {
        let mut out = Vec::new();
        for rep in field.split(self.repetition_sep) {
            let c: Vec<&str> = rep.split(self.component_sep).collect();
            for base in [0usize, 3, 9] {
                let code = c.get(base).copied().unwrap_or_default();
                if !code.is_empty() {
                    out.push(Coded {
                        code,
                        text: c.get(base + 1).copied().unwrap_or_default(),
                        system: c.get(base + 2).copied().unwrap_or_default(),
                    });
                }
            }
        }
        out
    }
}

impl Message {
    /// A field's text with its escape sequences read (HL7 v2 section
    /// 2.7): `\F\ \S\ \T\ \R\ \E\ \P\` are the delimiters they stand
    /// for, `\Xhh..\` the bytes in hexadecimal (UTF-8, or else Latin-1),
    /// `\.br\`, `\.sp\` and `\.ce\` line breaks, `\.in\`, `\.ti\` and
    /// `\.sk\` spaces, and highlighting, character-set, fill and local
    /// escapes (`\H\ \N\ \C..\ \M..\ \.fi\ \.nf\ \Z..\`) nothing, as
    /// they show. A sequence without its closing escape stays as written.
    pub fn unescape<'a>(&self, field: &'a str) -> Cow<'a, str> {
        let Some(esc) = self.escape.filter(|e| field.contains(*e)) else {
            return Cow::Borrowed(field);
        };
        let mut out = String::with_capacity(field.len());
        let mut rest = field;
        while let Some(i) = rest.find(esc) {
            let (before, at) = rest.split_at(i);
            out.push_str(before);
            let body_and_rest = at.get(esc.len_utf8()..).unwrap_or_default();
            let Some(end) = body_and_rest.find(esc) else {
                out.push_str(at);
                rest = "";
                break;
            };
            let body = body_and_rest.get(..end).unwrap_or_default();
            out.push_str(&self.escape_value(body));
            rest = body_and_rest
                .get(end + esc.len_utf8()..)
                .unwrap_or_default();
        }
        out.push_str(rest);
        Cow::Owned(out)
    }

    fn escape_value(&self, body: &str) -> String {
        let delimiter = |c: Option<char>| c.map(String::from).unwrap_or_default();
        match body {
            "F" => self.field_sep.to_string(),
            "S" => self.component_sep.to_string(),
            "T" => delimiter(self.subcomponent_sep),
            "R" => self.repetition_sep.to_string(),
            "E" => delimiter(self.escape),
            "P" => "#".to_owned(),
            _ if body.starts_with('X') => hex_text(body.get(1..).unwrap_or_default()),
            _ if [".br", ".sp", ".ce"].iter().any(|p| body.starts_with(p)) => "\n".to_owned(),
            _ if [".in", ".ti", ".sk"].iter().any(|p| body.starts_with(p)) => " ".to_owned(),
            _ => String::new(),
        }
    }
}

/// The text of a `\Xhh..\` escape: UTF-8 if the bytes are, else Latin-1.
fn hex_text(hex: &str) -> String {
    let bytes: Vec<u8> = hex
        .as_bytes()
        .chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect();
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().into_iter().map(char::from).collect(),
    }
}

impl Segment {
    /// Field `n` (1-based, as HL7 numbers them).
    pub fn field(&self, n: usize, is_msh: bool) -> Option<&str> {
        // MSH-1 is the separator itself, so MSH-n is fields[n-2].
        let index = if is_msh {
            n.checked_sub(2)?
        } else {
            n.checked_sub(1)?
        };
        self.fields.get(index).map(String::as_str)
    }

    /// Sets field `n` of a non-MSH segment, if present.
    pub fn set_field(&mut self, n: usize, value: String) {
        if let Some(f) = n.checked_sub(1).and_then(|i| self.fields.get_mut(i)) {
            *f = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_line_ending_and_bom() {
        let lf = "\u{feff}MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\nPID|1||123\nDG1|1||A788.^AIDS^READ\n";
        let m = Message::parse(lf.as_bytes()).unwrap();
        assert_eq!(m.segments.len(), 3);
        assert_eq!(m.message_type(), ("ADT", "A01"));
        let dg1 = &m.segments[2];
        let coded = m.coded(dg1.field(3, false).unwrap());
        assert_eq!(
            coded[0],
            Coded {
                code: "A788.",
                text: "AIDS",
                system: "READ"
            }
        );
        let cr = Message::parse(lf.replace('\n', "\r").as_bytes()).unwrap();
        assert_eq!(cr, m);
        assert_eq!(Message::parse(&m.write()).unwrap(), m);
        assert!(m.write().ends_with(b"\r"));
    }

    #[test]
    fn rejects_non_messages() {
        assert_eq!(Message::parse(b"PID|1"), Err(Hl7Error::NoHeader));
        assert_eq!(Message::parse(b""), Err(Hl7Error::NoHeader));
        assert_eq!(Message::parse(b"MSH"), Err(Hl7Error::BadEncoding));
        assert!(Message::parse(b"MSH|^~\\&|\rpid|1").is_err());
        assert_eq!(Message::parse(b"MSH|^~\\&|\xff"), Err(Hl7Error::NotUtf8));
    }
}

/// HL7 v2 redaction.
mod redact {
    use std::borrow::Cow;

    use super::Message;
    use crate::consent::EntryKey;
    use crate::decide::{blank, Reason, Request, Verdict};
    use crate::error::RedactError;
    use crate::policy::Policy;
    use crate::redact::{not_found_body, Outcome, Redacted};

    impl Policy {
        /// Redacts an HL7 v2 message. The message type places the whole
        /// message (ADT in Hospitals tier 1, ORU in Diagnostics, ...); the
        /// viewer needs that placement and consent for it. Segments whose
        /// codes or text name an excluded category no lift covers are
        /// removed, with the notes that follow them (an OBR takes its
        /// results too); unknown segments are removed; set IDs are
        /// renumbered so that gaps do not show.
        pub fn redact_hl7v2(
            &self,
            bytes: &[u8],
            request: &Request<'_>,
        ) -> Result<Redacted, RedactError> {
            let message = Message::parse(bytes).map_err(|e| RedactError::Structure {
                path: "hl7v2".into(),
                message: e.to_string().trim_start_matches("hl7v2: ").to_owned(),
            })?;
            let (mut ctx, break_glass) = self.context(request, None)?;
            let viewer = request.viewer;
            // A message is not matched to an own-record viewer's patient:
            // fail closed.
            if ctx.profile_own_record() && ctx.blocked.is_none() {
                ctx.blocked = Some(Reason::NotOwnRecord);
            }
            let (code, event) = message.message_type();
            let control_id = message
                .segments
                .first()
                .and_then(|s| s.field(10, true))
                .map(str::to_owned);
            let mut head = blank(0);
            head.resource_type = Some(format!("HL7v2 {code}^{event}"));
            head.id = control_id;
            let content = self.hl7_content(&message, code, event);
            let Some(content) = content else {
                head.reasons.push(Reason::Unclassified);
                return Ok(Redacted {
                    outcome: Outcome::NotFound,
                    body: not_found_body(),
                    decisions: self.summarise(vec![head], viewer, break_glass),
                });
            };
            let content_ix = [content];
            let (placements, named) = self.placements_of(&content_ix);
            head.rule = Some(format!("hl7v2.{code}"));
            head.placements = named;
            let key = EntryKey {
                reference: None,
                full_url: None,
                content: &content_ix,
                categories: &[],
                permit_content: None,
            };
            if let Some(reason) = &ctx.blocked {
                head.reasons.push(reason.clone());
            } else if ctx.in_scope(&content_ix).is_empty() {
                head.reasons.push(Reason::ProxyScope);
            } else {
                self.grant(&mut head, &placements, key, &ctx);
            }
            if head.decision != Verdict::Allow {
                return Ok(Redacted {
                    outcome: Outcome::NotFound,
                    body: not_found_body(),
                    decisions: self.summarise(vec![head], viewer, break_glass),
                });
            }

            let mut decisions = vec![head];
            let mut kept = Vec::with_capacity(message.segments.len());
            let mut removed_names = std::collections::HashSet::new();
            // Set while skipping the rest of a removed OBR group, or the notes after a removed segment.
            let mut skipping_group = false;
            let mut skipping_notes = false;
            for (i, seg) in message.segments.iter().enumerate() {
                let name = seg.name.as_str();
                if skipping_group && !matches!(name, "OBR" | "ORC") {
                    removed_names.insert(name.to_owned());
                    continue;
                }
                skipping_group = false;
                if skipping_notes && name == "NTE" {
                    removed_names.insert(name.to_owned());
                    continue;
                }
                skipping_notes = false;
                if i > 0 && !self.hl7.known.contains(name) {
                    removed_names.insert(name.to_owned());
                    continue;
                }
                let mut categories = self.hl7_categories(&message, seg);
                // The person's category opt-out covers the segment wherever
                // the message is placed (only the exclusion is limited).
                let named = categories.clone();
                let opted_out = !named.is_empty()
                    && self.opted_out_of(
                        &ctx,
                        EntryKey {
                            categories: &named,
                            ..key
                        },
                        &placements,
                    );
                self.keep_applicable(&mut categories, &placements);
                if categories.is_empty() && !opted_out {
                    kept.push(seg.clone());
                    continue;
                }
                let mut d = blank(decisions.len());
                d.resource_type = Some(format!("HL7v2 {name}"));
                d.id = seg.fields.first().filter(|f| !f.is_empty()).cloned();
                let cats: Vec<u16> = categories;
                let seg_key = EntryKey {
                    categories: &named,
                    ..key
                };
                let unlifted = self.unlifted(&cats, &placements, seg_key, &ctx);
                if opted_out {
                    if i == 0 {
                        let mut head = decisions.swap_remove(0);
                        head.decision = Verdict::Withhold;
                        head.allowed_by = None;
                        head.reasons = vec![Reason::OptedOut];
                        return Ok(Redacted {
                            outcome: Outcome::NotFound,
                            body: not_found_body(),
                            decisions: self.summarise(vec![head], viewer, break_glass),
                        });
                    }
                    d.reasons = vec![Reason::OptedOut];
                    removed_names.insert(name.to_owned());
                    skipping_group = name == "OBR";
                    skipping_notes = true;
                    decisions.push(d);
                    continue;
                }
                if i == 0 && !unlifted.is_empty() {
                    // The header names an excluded category: the message
                    // cannot go without it, so none of it goes.
                    let mut head = decisions.swap_remove(0);
                    head.decision = Verdict::Withhold;
                    head.allowed_by = None;
                    head.reasons = self.exclusion_reasons(&unlifted);
                    return Ok(Redacted {
                        outcome: Outcome::NotFound,
                        body: not_found_body(),
                        decisions: self.summarise(vec![head], viewer, break_glass),
                    });
                }
                if unlifted.is_empty() {
                    d.decision = Verdict::Allow;
                    d.allowed_by = decisions.first().and_then(|h| h.allowed_by.clone());
                    kept.push(seg.clone());
                } else {
                    d.reasons = self.exclusion_reasons(&unlifted);
                    removed_names.insert(name.to_owned());
                    skipping_group = name == "OBR";
                    skipping_notes = true;
                }
                decisions.push(d);
            }
            renumber(&mut kept, &self.hl7.renumber, &removed_names);
            let out = Message {
                segments: kept,
                ..message
            };
            Ok(Redacted {
                outcome: Outcome::Document,
                body: out.write(),
                decisions: self.summarise(decisions, viewer, break_glass),
            })
        }

        fn hl7_content(&self, message: &Message, code: &str, event: &str) -> Option<usize> {
            let (_, _, content, routine) = self.hl7.types.iter().find(|(c, events, _, _)| {
                c == code && (events.is_empty() || events.iter().any(|e| e == event))
            })?;
            if let Some((set, then)) = routine {
                let set = self.code_sets.get(*set)?;
                let orders: Vec<_> = message
                    .segments
                    .iter()
                    .filter(|s| s.name == "OBR")
                    .flat_map(|s| message.coded(s.field(4, false).unwrap_or_default()))
                    .collect();
                if !orders.is_empty()
                    && orders.iter().all(|c| {
                        set.contains(self.hl7.systems.get(c.system).map(String::as_str), c.code)
                    })
                {
                    return Some(*then);
                }
            }
            Some(*content)
        }

        /// The exclusion categories a segment names: codes in its coded
        /// fields (every repetition and triplet), and terms in the text of
        /// every field (every repetition, component and subcomponent, as
        /// written and with its escapes read), with the decoded text of
        /// base64 encapsulated data (OBX-5 of type ED).
        fn hl7_categories(&self, message: &Message, seg: &super::Segment) -> Vec<u16> {
            let mut out = Vec::new();
            let is_msh = seg.name == "MSH";
            for n in self.hl7.coded.get(&seg.name).into_iter().flatten() {
                let field = seg.field(*n, is_msh).unwrap_or_default();
                for c in message.coded(field) {
                    // An unknown system name is checked as if it had none.
                    let system = Some(c.system)
                        .filter(|s| !s.is_empty())
                        .and_then(|s| self.hl7.systems.get(s))
                        .map(String::as_str);
                    self.match_exclusion(system, c.code, &mut out);
                    if let Cow::Owned(code) = message.unescape(c.code) {
                        self.match_exclusion(system, &code, &mut out);
                    }
                }
            }
            for (i, field) in seg.fields.iter().enumerate() {
                if is_msh && i == 0 {
                    // MSH-2: the encoding characters.
                    continue;
                }
                self.terms.find_into(field, &mut out);
                if let Cow::Owned(text) = message.unescape(field) {
                    self.terms.find_into(&text, &mut out);
                }
            }
            if seg.name == "OBX" && seg.field(2, false) == Some("ED") {
                let value = seg.field(5, false).unwrap_or_default();
                for rep in value.split(message.repetition_sep) {
                    let parts: Vec<&str> = rep.split(message.component_sep).collect();
                    let encoding = parts.get(3).copied().unwrap_or_default();
                    if encoding.eq_ignore_ascii_case("base64") {
                        let data = message.unescape(parts.get(4).copied().unwrap_or_default());
                        if let Some(bytes) = crate::classify::decode_base64(&data) {
                            self.terms
                                .find_into(&String::from_utf8_lossy(&bytes), &mut out);
                        }
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }

    /// Renumbers field 1 (set ID) of the named segments where one of that
    /// kind was removed. OBX and NTE numbering restarts under each OBR, NTE
    /// numbering after each non-NTE segment.
    fn renumber(
        segments: &mut [super::Segment],
        names: &std::collections::HashSet<String>,
        removed: &std::collections::HashSet<String>,
    ) {
        let mut counters: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        for seg in segments.iter_mut() {
            match seg.name.as_str() {
                "OBR" => {
                    counters.remove("OBX");
                    counters.remove("NTE");
                }
                "NTE" => {}
                _ => {
                    counters.remove("NTE");
                }
            }
            if !names.contains(&seg.name) || !removed.contains(&seg.name) {
                continue;
            }
            let n = counters.entry(seg.name.clone()).or_insert(0);
            *n += 1;
            if seg.fields.first().is_some_and(|f| !f.is_empty()) {
                seg.set_field(1, n.to_string());
            }
        }
    }
}
