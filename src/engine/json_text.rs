//! Reading a few members of a JSON text without building it, for
//! [`crate::engine::lookup::InMemorySource::insert_json`] and the policy's host answers.
//!
//! [`read_envelope`] finds an object's `apiVersion`, `kind`, `metadata.name`, `metadata.namespace`
//! and where its `spec` lies, and checks the rest of the text on the way. It vouches for a text only
//! when reading it into a `serde_json::Value` would certainly succeed and give the same members;
//! everything it cannot vouch for cheaply (an exponent, a `\ud` escape, an escaped member name at a
//! level whose members are read, a member named like `serde_json`'s raw-value marker, deep nesting,
//! a known member twice, any syntax error) is
//! [`Unsure`], and the caller parses the text instead, which decides. Strings are skipped sixteen
//! bytes at a time and nesting costs no call; nothing is allocated.
//!
//! Natively, the same scanner also reads a vouched-for text value by value ([`Scanner::reader`]),
//! for [`crate::engine::model::from_text`], which builds the typed specs straight from their text.

#[cfg(not(target_arch = "wasm32"))]
use serde_json::{Map, Value};
#[cfg(not(target_arch = "wasm32"))]
use std::borrow::Cow;
use std::ops::Range;

/// The scan cannot vouch for the text: it may be valid or not; parse it to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsure;

/// A scan's result.
pub(crate) type Scan<T> = Result<T, Unsure>;

/// Nesting deeper than this is [`Unsure`] (well below `serde_json`'s limit of 128 levels).
const DEPTH_LIMIT: usize = 100;

/// A number with more digits than this is [`Unsure`]: without an exponent, no number of 300 digits
/// or fewer is beyond `f64`'s range (about 1.8 × 10^308), the one way a well-formed number fails.
const DIGITS_LIMIT: usize = 300;

/// The member name by which `serde_json` (with its `raw_value` feature, which this crate enables) marks
/// an object that stands for the JSON value its string holds.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The high bit of every byte.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// The low bit of every byte.
const LOW_BITS: u64 = 0x0101_0101_0101_0101;

/// Marks (high bits) on bytes of `word` that end a run of plain string bytes: `"`, `\` and control
/// bytes (below 0x20). The lowest marked byte is always one of them; a borrow may also mark bytes
/// above a true one, which a caller looking for the first one never sees.
fn string_stops(word: u64) -> u64 {
    let quotes = word ^ (LOW_BITS * u64::from(b'"'));
    let backslashes = word ^ (LOW_BITS * u64::from(b'\\'));
    let below = |x: u64, bound: u64| x.wrapping_sub(LOW_BITS * bound) & !x;
    (below(word, 0x20) | below(quotes, 1) | below(backslashes, 1)) & HIGH_BITS
}

/// Where the run of plain string bytes from `at` ends: at the first `"`, `\\` or control byte, or
/// at the end of `bytes`. Sixteen bytes at a time (two words, one test), then byte by byte.
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn plain_run_end(bytes: &[u8], at: usize) -> usize {
    let mut rest = bytes.get(at..).unwrap_or_default();
    while let Some((pair, tail)) = rest.split_first_chunk::<16>() {
        let pair = u128::from_le_bytes(*pair);
        let low = string_stops(pair as u64);
        let high = string_stops((pair >> 64) as u64);
        if low | high != 0 {
            let plain = if low != 0 {
                low.trailing_zeros() / 8
            } else {
                8 + high.trailing_zeros() / 8
            };
            return bytes.len().saturating_sub(rest.len()).saturating_add(plain as usize);
        }
        rest = tail;
    }
    let plain = rest
        .iter()
        .position(|&byte| matches!(byte, b'"' | b'\\' | ..0x20))
        .unwrap_or(rest.len());
    bytes.len().saturating_sub(rest.len()).saturating_add(plain)
}

/// The members of an object that [`read_envelope`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `apiVersion`.
    pub api_version: &'a str,
    /// `kind`.
    pub kind: &'a str,
    /// `metadata.name`, when present.
    pub name: Option<&'a str>,
    /// `metadata.namespace`, when present.
    pub namespace: Option<&'a str>,
    /// Where the `spec` member's value lies in the text.
    pub spec_at: Range<usize>,
}

/// The envelope of `text`, a JSON object with string `apiVersion` and `kind`, an object `metadata`
/// (whose `name` and `namespace`, when present, are strings) and a `spec` of any kind; `Unsure`
/// for anything else, or for a text the scan cannot vouch for (see the module documentation).
pub fn read_envelope(text: &str) -> Scan<Envelope<'_>> {
    read_envelope_reading_spec(text, |_, _, _| None::<()>).map(|(envelope, _)| envelope)
}

/// [`read_envelope`], reading the `spec` member with `read_spec` instead of scanning it, when the
/// `apiVersion` and `kind` come before it (as Kubernetes writes objects). `read_spec` gets them and
/// the scanner at the spec's first byte; it reads the spec's value, checking it as the scan would
/// (as [`crate::engine::model::from_text`]'s readers do), and gives what it read, or `None` when it
/// does not read that spec. A spec it does not read, or one holding `null` anywhere (which the
/// readers' callers leave to `serde`), is scanned as any value instead, and the second part of the
/// answer is `None`. Only native code hands it a reader, as only it has those readers; elsewhere it is
/// [`read_envelope`].
pub(crate) fn read_envelope_reading_spec<'a, S>(
    text: &'a str,
    read_spec: impl FnOnce(&'a str, &'a str, &mut Scanner<'a>) -> Option<S>,
) -> Scan<(Envelope<'a>, Option<S>)> {
    let mut scan = Scanner::new(text);
    let (mut api_version, mut kind, mut metadata, mut spec_at) = (None, None, None, None);
    let mut read_spec = Some(read_spec);
    let mut spec = None;
    scan.whitespace();
    scan.object(|scan, key| match key {
        "apiVersion" => once(&mut api_version, scan.plain_string()?),
        "kind" => once(&mut kind, scan.plain_string()?),
        "metadata" => once(&mut metadata, scan.metadata()?),
        "spec" => {
            let (start, depth) = (scan.at, scan.depth);
            spec = match (api_version, kind, read_spec.take()) {
                (Some(api_version), Some(kind), Some(read)) => read(api_version, kind, scan)
                    .filter(|_| text.get(start..scan.at).is_some_and(|spec| !spec.contains("null"))),
                _ => None,
            };
            if spec.is_none() {
                // Not read (or not to be kept): scanned from its first byte, as any value.
                (scan.at, scan.depth) = (start, depth);
                scan.value()?;
            }
            once(&mut spec_at, start..scan.at)
        }
        _ => scan.value(),
    })?;
    scan.whitespace();
    if scan.at != scan.bytes.len() {
        return Err(Unsure);
    }
    let (name, namespace) = metadata.ok_or(Unsure)?;
    let envelope = Envelope {
        api_version: api_version.ok_or(Unsure)?,
        kind: kind.ok_or(Unsure)?,
        name,
        namespace,
        spec_at: spec_at.ok_or(Unsure)?,
    };
    Ok((envelope, spec))
}

/// Whether `text` is one JSON value that the scan vouches for (see the module documentation).
pub fn vouches_for(text: &str) -> bool {
    let mut scan = Scanner::new(text);
    scan.whitespace();
    scan.value().is_ok() && {
        scan.whitespace();
        scan.at == scan.bytes.len()
    }
}

/// Sets a member read once; a second time is [`Unsure`] (the parsed object keeps the last one).
pub(crate) fn once<T>(slot: &mut Option<T>, value: T) -> Scan<()> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(Unsure),
    }
}

/// A cursor over the text's bytes.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            at: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn advance(&mut self, bytes: usize) {
        self.at = self.at.saturating_add(bytes);
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.advance(1);
        }
    }

    fn expect(&mut self, byte: u8) -> Scan<()> {
        if self.peek() == Some(byte) {
            self.advance(1);
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    /// Any JSON value, starting at its first byte. One loop over its tokens, whatever the nesting:
    /// the containers open inside it are the low bits of `objects` (1 for an object, 0 for an
    /// array; [`DEPTH_LIMIT`] keeps them under 128), so a level costs no call. Member names are
    /// checked like any string and not read: escaped ones are fine here.
    pub(crate) fn value(&mut self) -> Scan<()> {
        let mut objects = 0_u128;
        let mut open = 0_usize;
        loop {
            // A value is due, at its first byte.
            match self.peek() {
                Some(b'"') => {
                    self.string()?;
                }
                Some(bracket @ (b'{' | b'[')) => {
                    self.nest()?;
                    self.advance(1);
                    self.whitespace();
                    let is_object = bracket == b'{';
                    if self.peek() == Some(if is_object { b'}' } else { b']' }) {
                        self.advance(1);
                        self.depth = self.depth.saturating_sub(1);
                    } else {
                        open = open.saturating_add(1);
                        objects = objects << 1 | u128::from(is_object);
                        if is_object {
                            self.member_name()?;
                        }
                        continue;
                    }
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(Unsure),
            }
            // A value is complete: what follows closes containers, until a comma asks for the next
            // value or the outermost one is closed.
            loop {
                if open == 0 {
                    return Ok(());
                }
                self.whitespace();
                let in_object = objects & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.advance(1);
                        self.whitespace();
                        if in_object {
                            self.member_name()?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ => return Err(Unsure),
                }
                self.advance(1);
                open = open.saturating_sub(1);
                objects >>= 1;
                self.depth = self.depth.saturating_sub(1);
            }
        }
    }

    /// A member's name and its colon, leaving the scan at the value's first byte: where the name's
    /// contents lie, and whether they hold an escape. Inlined natively, as [`Scanner::string`] is.
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn member_name(&mut self) -> Scan<(Range<usize>, bool)> {
        let (name, escaped) = self.string()?;
        self.raw_value_token_checked(name.clone(), escaped)?;
        self.whitespace();
        self.expect(b':')?;
        self.whitespace();
        Ok((name, escaped))
    }

    /// [`Unsure`] of a member named [`RAW_VALUE_TOKEN`], or escaped and long enough to spell it:
    /// `serde_json` reads an object whose first member has that name as the value its string holds
    /// (and refuses it when that is not a string), so the parsed value is not what the text shows.
    /// A length comparison for nearly every name.
    fn raw_value_token_checked(&self, name: Range<usize>, escaped: bool) -> Scan<()> {
        let length = name.len();
        let suspect = if escaped {
            length >= RAW_VALUE_TOKEN.len()
        } else {
            length == RAW_VALUE_TOKEN.len() && self.bytes.get(name) == Some(RAW_VALUE_TOKEN.as_bytes())
        };
        if suspect { Err(Unsure) } else { Ok(()) }
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        if self.bytes.get(self.at..self.at.saturating_add(word.len())) == Some(word) {
            self.advance(word.len());
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    /// One more level of nesting, [`Unsure`] past [`DEPTH_LIMIT`].
    fn nest(&mut self) -> Scan<()> {
        self.depth = self.depth.saturating_add(1);
        if self.depth > DEPTH_LIMIT { Err(Unsure) } else { Ok(()) }
    }

    /// An object whose member values are read by `member`, given the member's name (unescaped names
    /// only: an escaped name might spell a member the caller reads). For the levels whose members
    /// are read; [`Scanner::value`] skips any other.
    pub(crate) fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Scan<()>) -> Scan<()> {
        self.items(b'{', b'}', |scan| {
            let (name, escaped) = scan.member_name()?;
            if escaped {
                return Err(Unsure);
            }
            let text = scan.text;
            member(scan, text.get(name).ok_or(Unsure)?)
        })
    }

    /// A container from its `open` bracket to its `close` one, one more level of nesting, whose
    /// comma-separated items are read by `item` (an object's members: name, colon and value).
    fn items(&mut self, open: u8, close: u8, mut item: impl FnMut(&mut Self) -> Scan<()>) -> Scan<()> {
        self.nest()?;
        self.expect(open)?;
        self.whitespace();
        if self.peek() == Some(close) {
            self.advance(1);
        } else {
            loop {
                self.whitespace();
                item(self)?;
                self.whitespace();
                match self.peek() {
                    Some(b',') => self.advance(1),
                    Some(byte) if byte == close => {
                        self.advance(1);
                        break;
                    }
                    _ => return Err(Unsure),
                }
            }
        }
        self.depth = self.depth.saturating_sub(1);
        Ok(())
    }

    /// A string: where its contents lie, and whether they hold an escape. Inlined natively: it is
    /// most of the scan, and its callers' loops keep its constants at hand (in the npm module,
    /// where size counts, the compiler decides).
    #[cfg_attr(not(target_arch = "wasm32"), inline(always))]
    fn string(&mut self) -> Scan<(Range<usize>, bool)> {
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at = plain_run_end(self.bytes, self.at);
            match self.peek() {
                Some(b'"') => {
                    let end = self.at;
                    self.advance(1);
                    return Ok((start..end, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                // A control byte, or the end of the text.
                _ => return Err(Unsure),
            }
        }
    }

    /// An escape, at its backslash. `\u` escapes of surrogates (`\ud800` to `\udfff`) are
    /// [`Unsure`]: a lone one fails the parse.
    fn escape(&mut self) -> Scan<()> {
        self.advance(1);
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.advance(1);
                Ok(())
            }
            Some(b'u') => {
                let digits = self.bytes.get(self.at.saturating_add(1)..self.at.saturating_add(5));
                match digits {
                    Some(&[first, ref rest @ ..])
                        if first.is_ascii_hexdigit()
                            && !matches!(first, b'd' | b'D')
                            && rest.iter().all(u8::is_ascii_hexdigit) =>
                    {
                        self.advance(5);
                        Ok(())
                    }
                    _ => Err(Unsure),
                }
            }
            _ => Err(Unsure),
        }
    }

    /// A string without escapes, as `&str`.
    fn plain_string(&mut self) -> Scan<&'a str> {
        match self.string()? {
            (range, false) => self.text.get(range).ok_or(Unsure),
            _ => Err(Unsure),
        }
    }

    /// `metadata`: its `name` and `namespace`, each a string without escapes when present.
    fn metadata(&mut self) -> Scan<(Option<&'a str>, Option<&'a str>)> {
        let (mut name, mut namespace) = (None, None);
        self.object(|scan, key| match key {
            "name" => once(&mut name, scan.plain_string()?),
            "namespace" => once(&mut namespace, scan.plain_string()?),
            _ => scan.value(),
        })?;
        Ok((name, namespace))
    }

    /// A number: JSON's grammar, without an exponent and with at most [`DIGITS_LIMIT`] digits.
    fn number(&mut self) -> Scan<()> {
        if self.peek() == Some(b'-') {
            self.advance(1);
        }
        let mut digits = match self.peek() {
            Some(b'0') => {
                self.advance(1);
                1
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Unsure),
        };
        if self.peek() == Some(b'.') {
            self.advance(1);
            match self.digits() {
                0 => return Err(Unsure),
                fraction => digits = digits.saturating_add(fraction),
            }
        }
        // A leading zero followed by digits, an exponent, or too many digits.
        if matches!(self.peek(), Some(b'0'..=b'9' | b'e' | b'E')) || digits > DIGITS_LIMIT {
            return Err(Unsure);
        }
        Ok(())
    }

    /// A run of digits; how many.
    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.advance(1);
        }
        self.at.saturating_sub(start)
    }
}

/// Reading a text value by value, for decoders that build typed values straight from the text
/// ([`crate::engine::model::from_text`]): a text the scan has vouched for ([`vouches_for`], or the
/// `spec` of a [`read_envelope`]), or the `spec` [`read_envelope_reading_spec`] hands over unscanned.
/// Each read takes one value, checks it as the scan would (what the scan is unsure of, it is unsure
/// of) and leaves the scanner at what follows it; a read finding another kind of value than it reads
/// is [`Unsure`], and the caller then decodes the text the general way (which names the error, if
/// there is one). Native only, as that module is.
#[cfg(not(target_arch = "wasm32"))]
impl<'a> Scanner<'a> {
    /// A scanner at the first value of `text`.
    pub(crate) fn reader(text: &'a str) -> Self {
        let mut scan = Scanner::new(text);
        scan.whitespace();
        scan
    }

    /// Whether the whole text has been read (only whitespace is left).
    pub(crate) fn at_end(&mut self) -> bool {
        self.whitespace();
        self.at == self.bytes.len()
    }

    /// A string, unescaped when it holds an escape.
    pub(crate) fn read_string(&mut self) -> Scan<Cow<'a, str>> {
        let start = self.at;
        match self.string()? {
            (range, false) => self.text.get(range).map(Cow::Borrowed).ok_or(Unsure),
            (_, true) => {
                let quoted = self.text.get(start..self.at).ok_or(Unsure)?;
                serde_json::from_str::<String>(quoted)
                    .map(Cow::Owned)
                    .map_err(|_| Unsure)
            }
        }
    }

    /// `true` or `false`.
    pub(crate) fn read_bool(&mut self) -> Scan<bool> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(Unsure),
        }
    }

    /// An integer without sign, fraction or exponent, up to `u64::MAX`.
    pub(crate) fn read_unsigned(&mut self) -> Scan<u64> {
        let start = self.at;
        let mut value = 0_u64;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit - b'0')))
                .ok_or(Unsure)?;
            self.advance(1);
        }
        // No digit, or a fraction or exponent: a float, which an integer field refuses. A leading
        // zero before more digits is not JSON (a text the scan has vouched for has none, but
        // [`read_envelope_reading_spec`] reads a spec it has not scanned).
        let leading_zero = self.bytes.get(start) == Some(&b'0') && self.at.saturating_sub(start) > 1;
        if self.at == start || leading_zero || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(Unsure);
        }
        Ok(value)
    }

    /// An integer without fraction or exponent, in `i64`'s range.
    pub(crate) fn read_signed(&mut self) -> Scan<i64> {
        if self.peek() == Some(b'-') {
            self.advance(1);
            // `-0` is a float to serde_json, which an integer field refuses.
            match self.read_unsigned()? {
                0 => Err(Unsure),
                magnitude => 0_i64.checked_sub_unsigned(magnitude).ok_or(Unsure),
            }
        } else {
            i64::try_from(self.read_unsigned()?).map_err(|_| Unsure)
        }
    }

    /// Any value without `null`, as `serde_json` builds it (a member named twice keeps its first
    /// place and its last value; an integer is a `u64`, or an `i64` when negative; other numbers are
    /// read by `serde_json`), built as it is read.
    pub(crate) fn read_json(&mut self) -> Scan<Value> {
        match self.peek() {
            Some(b'{') => self.read_json_object().map(Value::Object),
            Some(b'[') => self.read_json_array().map(Value::Array),
            Some(b'"') => self.read_string().map(|text| Value::String(text.into_owned())),
            Some(b't' | b'f') => self.read_bool().map(Value::Bool),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                self.number()?;
                let token = self.text.get(start..self.at).ok_or(Unsure)?;
                let number = match token.strip_prefix('-') {
                    // `-0` is a float to serde_json.
                    Some(magnitude) if magnitude != "0" => magnitude
                        .parse::<u64>()
                        .ok()
                        .and_then(|m| 0_i64.checked_sub_unsigned(m))
                        .map(serde_json::Number::from),
                    Some(_) => None,
                    None => token.parse::<u64>().ok().map(serde_json::Number::from),
                };
                match number {
                    Some(number) => Ok(Value::Number(number)),
                    None => serde_json::from_str(token).map_err(|_| Unsure),
                }
            }
            _ => Err(Unsure),
        }
    }

    /// An object of values without `null`, as [`Scanner::read_json`] reads them.
    pub(crate) fn read_json_object(&mut self) -> Scan<Map<String, Value>> {
        let mut map = Map::new();
        self.object(|scan, name| {
            let value = scan.read_json()?;
            map.insert(name.to_owned(), value);
            Ok(())
        })?;
        Ok(map)
    }

    /// An array of values without `null`, as [`Scanner::read_json`] reads them.
    pub(crate) fn read_json_array(&mut self) -> Scan<Vec<Value>> {
        let mut items = Vec::new();
        self.items(b'[', b']', |scan| {
            items.push(scan.read_json()?);
            Ok(())
        })?;
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan vouches only for what `serde_json` parses.
    fn agrees(text: &str) {
        if vouches_for(text) {
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_ok(),
                "vouched for a text serde_json refuses: {text:?}"
            );
        }
    }

    #[test]
    fn vouches_for_plain_json() {
        for text in [
            "{}",
            " [ ] ",
            r#"{"a": [1, -2, 0, 0.5, -0.25, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"], "b": {}}"#,
            "\"0123456789abcdefghij\"",
            // Escaped member names below the levels read, and containers closing in turn.
            r#"{"a":{"b\u0041":[{"c\n":[]},[{}],{"d":{"e":[1,{"f":null}]}}]}}"#,
            &format!("{}1{}", "[".repeat(DEPTH_LIMIT), "]".repeat(DEPTH_LIMIT)),
            &"9".repeat(DIGITS_LIMIT),
        ] {
            assert!(vouches_for(text), "{text}");
            agrees(text);
        }
    }

    #[test]
    fn unsure_of_what_may_fail() {
        for text in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "01",
            "1.",
            "-",
            ".5",
            "1e5",
            "1E400",
            "tru",
            "nul",
            "\"\\ud800\"",
            "\"\\uD83D\\uDE00\"",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a\u{1}b\"",
            "\"unterminated",
            "{} {}",
            "[{\"a\":1]}",
            "{\"a\":[1}]",
            "[[1]]]",
            "{\"a\":{}}}",
            "[{\"a\" 1}]",
            "[{\"a\":}]",
            "[{1:2}]",
            "\u{a0}{}",
            &format!("{}1{}", "[".repeat(DEPTH_LIMIT + 1), "]".repeat(DEPTH_LIMIT + 1)),
            &"9".repeat(DIGITS_LIMIT + 1),
        ] {
            assert!(!vouches_for(text), "{text:?}");
        }
    }

    /// Numbers of every length around the digit bound at every alignment, exponents, surrogate escapes
    /// and nesting around the depth bound: unsure of everything `serde_json` refuses, sure of the rest
    /// within the bounds.
    #[test]
    fn numbers_surrogates_and_nesting_at_the_bounds() {
        let refused = |text: &str| serde_json::from_str::<serde_json::Value>(text).is_err();
        for pad in 0..8 {
            for digits in (1..250).chain(290..420) {
                for (fraction, fraction_digits) in [("", 0), (".5", 1)] {
                    let text = format!(
                        r#"{{"p":"{}","n":1{}{fraction}}}"#,
                        "x".repeat(pad),
                        "0".repeat(digits - 1)
                    );
                    let vouched = vouches_for(&text);
                    if refused(&text) {
                        assert!(!vouched, "{digits} digits, pad {pad}: vouched");
                    }
                    assert_eq!(
                        vouched,
                        digits + fraction_digits <= DIGITS_LIMIT,
                        "{digits} digits, pad {pad}"
                    );
                }
            }
        }
        for (text, vouched) in [
            (r#"{"n":1e400}"#, false),
            (r#"{"n":-1E+400}"#, false),
            (r#"{"n":1.5e-7}"#, false),
            (r#"{"n":2.5e5}"#, false),
            (r#"{"n":[1,2,3],"s":"e1000e","t":"Gi","u":"3e"}"#, true),
            (r#"{"bus":"virtio","model":"e1000e","n":-12.5}"#, true),
            (r#"{"a":"\ud800"}"#, false),
            (r#"{"a":"\uDC00x"}"#, false),
            (r#"{"a":"\ud83d\ude00"}"#, false), // a valid pair: read fine, unsure all the same
            (r#"{"a":"\u00f1\n\"\\"}"#, true),
            (r#"{"a":"\\ud800"}"#, true), // an escaped backslash, then plain text
        ] {
            assert_eq!(vouches_for(text), vouched, "{text}");
            agrees(text);
        }
        for pad in 0..8 {
            for depth in [1, 30, DEPTH_LIMIT - 1, DEPTH_LIMIT, DEPTH_LIMIT + 1, 128, 129, 300] {
                for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
                    let text = format!("{}{}1{}", " ".repeat(pad), open.repeat(depth), close.repeat(depth));
                    assert_eq!(vouches_for(&text), depth <= DEPTH_LIMIT, "depth {depth}, pad {pad}");
                    agrees(&text);
                }
            }
        }
        // Brackets that close as they open never add up.
        assert!(vouches_for(&format!("[{}1]", "[1],{\"a\":[]},".repeat(100))));
    }

    #[test]
    fn strings_stop_at_every_quote_backslash_and_control_byte() {
        // Each special byte at every offset of a pair of words, after plain and multi-byte text.
        for prefix in ["", "é", "abcdefg", "abcdefgh", "ünïcødé ☃ text"] {
            for special in ["\\\"", "\\n", "\u{1}", "\u{1f}"] {
                for pad in 0..17 {
                    let text = format!("\"{prefix}{}{special}x\"", "y".repeat(pad));
                    let vouched = vouches_for(&text);
                    assert_eq!(vouched, special.starts_with('\\'), "{text:?}");
                    agrees(&text);
                }
            }
            let text = format!("\"{prefix}\u{7f}\"");
            assert!(vouches_for(&text), "{text:?}");
        }
    }

    /// Random texts near JSON (token soup, and real objects with one byte changed): whatever the
    /// scan vouches for, `serde_json` parses, and an envelope read is the parsed object's.
    #[test]
    fn vouches_only_for_what_parses_on_random_texts() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let tokens = [
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\n",
            "\"",
            "\"a\"",
            "\"\\u00e9\"",
            "\"\\ud800\"",
            "\\",
            "1",
            "-",
            "0",
            ".",
            "5",
            "e",
            "E",
            "+",
            "true",
            "false",
            "null",
            "nul",
            "\u{1}",
            "é",
            "\"name\"",
            "\"spec\"",
        ];
        let mut vouched = 0;
        for _ in 0..100_000 {
            let len = next() % 12;
            let text: String = (0..len)
                .map(|_| tokens[(next() % tokens.len() as u64) as usize])
                .collect();
            vouched += usize::from(vouches_for(&text));
            agrees(&text);
        }
        assert!(vouched > 1000, "the soup should hold some valid JSON ({vouched})");

        let objects: Vec<serde_json::Value> = [
            "common-clusterinstancetypes-bundle.json",
            "common-clusterpreferences-bundle.json",
        ]
        .iter()
        .flat_map(|file| {
            let path = format!("{}/data/common-instancetypes/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(path).unwrap();
            serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap()
        })
        .collect();
        let replacements = b" \"\\{}[],:0123456789eE.-+tfnu\x01x";
        for object in &objects {
            let text = serde_json::to_string(object).unwrap();
            let envelope = read_envelope(&text).unwrap();
            assert_eq!(
                &text[envelope.spec_at.clone()],
                serde_json::to_string(&object["spec"]).unwrap()
            );
            for _ in 0..300 {
                let mut bytes = text.clone().into_bytes();
                let at = (next() % bytes.len() as u64) as usize;
                let byte = replacements[(next() % replacements.len() as u64) as usize];
                match next() % 3 {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
                let Ok(changed) = String::from_utf8(bytes) else {
                    continue;
                };
                agrees(&changed);
                if let Ok(envelope) = read_envelope(&changed) {
                    let parsed: serde_json::Value = serde_json::from_str(&changed).unwrap();
                    assert_eq!(parsed["apiVersion"].as_str(), Some(envelope.api_version), "{changed}");
                    assert_eq!(parsed["kind"].as_str(), Some(envelope.kind), "{changed}");
                    assert_eq!(parsed["metadata"]["name"].as_str(), envelope.name, "{changed}");
                    assert_eq!(
                        parsed["metadata"]["namespace"].as_str(),
                        envelope.namespace,
                        "{changed}"
                    );
                    let spec: serde_json::Value = serde_json::from_str(&changed[envelope.spec_at]).unwrap();
                    assert_eq!(parsed["spec"], spec, "{changed}");
                }
            }
        }
    }

    /// `serde_json` reads an object whose first member is its raw-value marker as the value that
    /// member's string holds, and refuses it when that member is not a string: the scan is unsure of
    /// the marker at any depth, spelled plainly or with escapes.
    #[test]
    fn unsure_of_the_raw_value_marker() {
        // (text, whether the marker opens its object: only then does serde_json read it specially;
        // elsewhere unsure is caution, not need).
        let marked = [
            (r#"{"$serde_json::private::RawValue":"7"}"#, true),
            (r#"{"$serde_json::private::RawValue":1}"#, true),
            (r#"{"a":[{"$serde_json::private::RawValue":"{}"}]}"#, true),
            (r#"{"a":{"\u0024serde_json::private::RawValue":"true"}}"#, true),
            (r#"{"a":{"b":1,"$serde_json::private::RawValue":"2"}}"#, false),
        ];
        for (text, opens) in marked {
            if opens {
                // Parsed, the object does not keep the marker as a member (or the parse fails).
                let parsed = serde_json::from_str::<serde_json::Value>(text);
                assert!(parsed.map_or(true, |v| !v.to_string().contains("RawValue")), "{text}");
            }
            assert!(!vouches_for(text), "{text}");
            let object = format!(r#"{{"apiVersion":"v","kind":"k","metadata":{{"name":"n"}},"spec":{text}}}"#);
            assert_eq!(read_envelope(&object), Err(Unsure), "{object}");
        }
        let metadata = r#"{"apiVersion":"v","kind":"k","metadata":{"$serde_json::private::RawValue":"{\"name\":\"x\"}"},"spec":{}}"#;
        // Parsed, this metadata has the name the scan would not have seen.
        let parsed: serde_json::Value = serde_json::from_str(metadata).unwrap();
        assert_eq!(parsed["metadata"]["name"], "x");
        assert_eq!(read_envelope(metadata), Err(Unsure));
        // Names of the marker's length that are not the marker are read as usual.
        assert!(vouches_for(
            r#"{"$serde_json::private::RawValuf":1,"a":{"012345678901234567890123456789":2}}"#
        ));
    }

    #[test]
    fn reads_the_envelope() {
        let text = r#" {"kind":"VirtualMachineClusterPreference","metadata":{"labels":{"a":"b"},"name":"fedora",
            "namespace":"ns"},"spec": {"cpu":{"preferredCPUTopology":"spread"}} ,"apiVersion":"instancetype.kubevirt.io/v1beta1"} "#;
        let envelope = read_envelope(text).expect("envelope");
        assert_eq!(envelope.api_version, "instancetype.kubevirt.io/v1beta1");
        assert_eq!(envelope.kind, "VirtualMachineClusterPreference");
        assert_eq!(envelope.name, Some("fedora"));
        assert_eq!(envelope.namespace, Some("ns"));
        assert_eq!(&text[envelope.spec_at], r#"{"cpu":{"preferredCPUTopology":"spread"}}"#);
    }

    #[test]
    fn unsure_of_envelopes_the_parse_would_read_otherwise() {
        let base =
            |extra: &str| format!(r#"{{"apiVersion":"v","kind":"k","metadata":{{"name":"n"{extra}}},"spec":{{}}}}"#);
        assert!(read_envelope(&base("")).is_ok());
        for text in [
            base(r#","name":"m""#),
            base(r#","namespace":1"#),
            base(r#","na\u006de":"m""#),
            r#"{"apiVersion":"v","kind":"k","metadata":{},"spec":{},"spec":{}}"#.to_owned(),
            r#"{"apiVersion":"v","kind":"k","metadata":{},"sp\u0065c":{}}"#.to_owned(),
            r#"{"apiVersion":"v\u0031","kind":"k","metadata":{},"spec":{}}"#.to_owned(),
            r#"{"apiVersion":null,"kind":"k","metadata":{},"spec":{}}"#.to_owned(),
            r#"{"apiVersion":"v","kind":"k","metadata":[],"spec":{}}"#.to_owned(),
            r#"{"apiVersion":"v","kind":"k","spec":{}}"#.to_owned(),
            r#"{"apiVersion":"v","kind":"k","metadata":{}}"#.to_owned(),
            r#"["v","k",{},{}]"#.to_owned(),
        ] {
            assert_eq!(read_envelope(&text), Err(Unsure), "{text}");
        }
        // Without a name or namespace: read, for the caller to refuse.
        let envelope = read_envelope(r#"{"apiVersion":"v","kind":"k","metadata":{},"spec":1}"#).expect("envelope");
        assert_eq!((envelope.name, envelope.namespace), (None, None));
    }

    /// A spec reader for the tests: reads the spec as a JSON value (checking it as the scan would),
    /// noting the version and kind it was handed.
    fn read_as_json<'a>(
        seen: &'a std::cell::RefCell<Vec<String>>,
    ) -> impl FnOnce(&str, &str, &mut Scanner<'_>) -> Option<Value> + 'a {
        move |api_version, kind, scan| {
            seen.borrow_mut().push(format!("{api_version} {kind}"));
            scan.read_json().ok()
        }
    }

    #[test]
    fn reads_the_spec_in_the_envelope_when_the_kind_comes_first() {
        let seen = std::cell::RefCell::new(Vec::new());
        let text =
            r#"{"apiVersion":"v","kind":"k","metadata":{"name":"n"},"spec":{"a":[1,"x",{"b":true}]},"status":{}}"#;
        let (envelope, spec) = read_envelope_reading_spec(text, read_as_json(&seen)).expect("envelope");
        assert_eq!(envelope, read_envelope(text).expect("envelope"));
        assert_eq!(spec, Some(serde_json::json!({"a": [1, "x", {"b": true}]})));
        assert_eq!(*seen.borrow(), ["v k"]);

        // The kind after the spec: the spec is only scanned, the reader never called.
        let seen = std::cell::RefCell::new(Vec::new());
        let text = r#"{"apiVersion":"v","spec":{"a":1},"kind":"k","metadata":{"name":"n"}}"#;
        let (envelope, spec) = read_envelope_reading_spec(text, read_as_json(&seen)).expect("envelope");
        assert_eq!(envelope, read_envelope(text).expect("envelope"));
        assert_eq!(spec, None);
        assert!(seen.borrow().is_empty());
    }

    #[test]
    fn a_spec_not_read_is_scanned_from_its_first_byte() {
        // Readers that stop part of the way (unsure), or read a spec holding `null`: the spec is then
        // scanned as any value, and the envelope is the one `read_envelope` gives.
        let texts = [
            r#"{"apiVersion":"v","kind":"k","metadata":{},"spec":{"a":[1,2,{"b":"c"}],"d":null}}"#,
            r#"{"apiVersion":"v","kind":"k","metadata":{},"spec":{"a":[1,2,{"b":"c"}],"d":"null"}}"#,
            r#"{"apiVersion":"v","kind":"k","metadata":{},"spec":{"a":{"b":{"\u0063":1}}}}"#,
        ];
        for text in texts {
            let seen = std::cell::RefCell::new(Vec::new());
            let (envelope, spec) = read_envelope_reading_spec(text, read_as_json(&seen)).expect(text);
            assert_eq!(envelope, read_envelope(text).expect(text), "{text}");
            assert_eq!(spec, None, "{text}");
            assert_eq!(seen.borrow().len(), 1, "{text}");
        }
        // A reader that only takes the first bytes and gives up: the depth it left is restored too.
        let text = r#"{"apiVersion":"v","kind":"k","metadata":{},"spec":[[[[{"a":1}]]]],"status":1}"#;
        let partial = |_: &str, _: &str, scan: &mut Scanner<'_>| {
            for _ in 0..4 {
                scan.nest().ok()?;
                scan.expect(b'[').ok()?;
            }
            None::<()>
        };
        let (envelope, spec) = read_envelope_reading_spec(text, partial).expect("envelope");
        assert_eq!(envelope, read_envelope(text).expect("envelope"));
        assert_eq!(spec, None);
    }

    #[test]
    fn bad_specs_fail_the_envelope_whoever_reads_them() {
        // What the scan is unsure of, reading the spec is unsure of: the whole envelope is.
        for spec in [
            r#"{"a":01}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":1,}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":tru}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1}}"#,
        ] {
            let text = format!(r#"{{"apiVersion":"v","kind":"k","metadata":{{}},"spec":{spec}}}"#);
            let seen = std::cell::RefCell::new(Vec::new());
            assert_eq!(read_envelope(&text), Err(Unsure), "{text}");
            assert_eq!(
                read_envelope_reading_spec(&text, read_as_json(&seen)).map(|(_, spec)| spec),
                Err(Unsure),
                "{text}"
            );
        }
    }

    #[test]
    fn integers_with_a_leading_zero_are_unsure() {
        let read = |text: &str| Scanner::reader(text).read_unsigned();
        assert_eq!(read("0"), Ok(0));
        assert_eq!(read("10"), Ok(10));
        assert_eq!(read("0,"), Ok(0));
        assert_eq!(read("01"), Err(Unsure));
        assert_eq!(read("00"), Err(Unsure));
        assert_eq!(Scanner::reader("-01").read_signed(), Err(Unsure));
        assert_eq!(Scanner::reader("-10").read_signed(), Ok(-10));
    }
}
