//! The quantity parser and formatter, with properties: no panic; parse(format(q)) == q for both the
//! canonical form and `String()`; the canonical form is a fixed point; ordering, equality and hashing
//! agree with an independent exact-decimal oracle; `Value()`/`MilliValue()` are monotonic;
//! JSON round-trips; exact arithmetic.
#![no_main]

use std::cmp::Ordering;
use std::hash::{DefaultHasher, Hash, Hasher};

use arbitrary::{Arbitrary, Unstructured};
use kubevirt_instancetype::engine::quantity::{Format, Quantity};
use kubevirt_instancetype_fuzz::QuantityParts;
use libfuzzer_sys::fuzz_target;

/// An exact decimal: sign, digits (no leading zeros; empty = zero) and a power of ten.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl Decimal {
    fn normalized(negative: bool, mut digits: Vec<u8>, mut exp: i64) -> Decimal {
        while digits.first() == Some(&0) {
            digits.remove(0);
        }
        while digits.last() == Some(&0) {
            digits.pop();
            exp += 1;
        }
        if digits.is_empty() {
            return Decimal {
                negative: false,
                digits,
                exp: 0,
            };
        }
        Decimal { negative, digits, exp }
    }

    fn mul_small(&self, factor: u64) -> Decimal {
        let mut out = Vec::with_capacity(self.digits.len() + 20);
        let mut carry: u128 = 0;
        for d in self.digits.iter().rev() {
            let v = u128::from(*d) * u128::from(factor) + carry;
            out.push((v % 10) as u8);
            carry = v / 10;
        }
        while carry > 0 {
            out.push((carry % 10) as u8);
            carry /= 10;
        }
        out.reverse();
        Decimal::normalized(self.negative, out, self.exp)
    }

    /// Magnitude comparison.
    fn cmp_mag(&self, other: &Decimal) -> Ordering {
        match (self.digits.is_empty(), other.digits.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let top_a = self.exp + self.digits.len() as i64;
        let top_b = other.exp + other.digits.len() as i64;
        if top_a != top_b {
            return top_a.cmp(&top_b);
        }
        let n = self.digits.len().max(other.digits.len());
        for i in 0..n {
            let a = self.digits.get(i).copied().unwrap_or(0);
            let b = other.digits.get(i).copied().unwrap_or(0);
            if a != b {
                return a.cmp(&b);
            }
        }
        Ordering::Equal
    }

    fn cmp(&self, other: &Decimal) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_mag(other),
            (true, true) => other.cmp_mag(self),
        }
    }
}

/// The oracle: the exact value of a *canonical* quantity string (`[-]digits[.digits]` with a
/// decimal SI suffix, a binary suffix or `e<exp>`).
fn oracle(text: &str) -> Decimal {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(end);
    let (integer, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits: Vec<u8> = integer.bytes().chain(fraction.bytes()).map(|b| b - b'0').collect();
    let base = Decimal::normalized(negative, digits, -(fraction.len() as i64));
    let decimal = |e: i64| Decimal {
        exp: base.exp + e,
        ..base.clone()
    };
    let binary = |times: u32| (0..times).fold(base.clone(), |d, _| d.mul_small(1024));
    let value = match suffix {
        "" => base.clone(),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        exponent => {
            let e: i64 = exponent
                .strip_prefix('e')
                .unwrap_or_else(|| panic!("canonical form {text:?} has suffix {exponent:?}"))
                .parse()
                .unwrap_or_else(|_| panic!("canonical form {text:?} has a bad exponent"));
            decimal(e)
        }
    };
    Decimal::normalized(value.negative, value.digits, value.exp)
}

fn hash(q: &Quantity) -> u64 {
    let mut hasher = DefaultHasher::new();
    q.hash(&mut hasher);
    hasher.finish()
}

/// Every property of one parsed quantity; returns its oracle value.
fn check_one(text: &str, q: &Quantity) -> Decimal {
    let canonical = q.canonicalize();
    let reparsed =
        Quantity::parse(&canonical).unwrap_or_else(|e| panic!("{text:?} → {canonical:?} does not parse: {e}"));
    assert_eq!(
        &reparsed, q,
        "{text:?}: parse(canonicalize) changed the value ({canonical:?})"
    );
    // The canonical form is a fixed point, except that a BinarySI value that is not a multiple of a
    // power of 1024 is written without a suffix and so reads back as DecimalSI (as in Kubernetes:
    // `562.5Ki` → `576000` → `576k`); one more round is then stable.
    let second = reparsed.canonicalize();
    if q.format() != Format::BinarySI || reparsed.format() == Format::BinarySI {
        assert_eq!(second, canonical, "{text:?}: canonical form is not a fixed point");
    } else {
        let third = Quantity::parse(&second).expect("reparses").canonicalize();
        assert_eq!(third, second, "{text:?}: canonical form is not stable");
    }
    let shown = q.to_canonical_string();
    let reparsed_shown = Quantity::parse(&shown).unwrap_or_else(|e| panic!("{text:?} → {shown:?} does not parse: {e}"));
    assert_eq!(
        &reparsed_shown, q,
        "{text:?}: parse(String()) changed the value ({shown:?})"
    );
    assert_eq!(q.to_string(), shown);
    // JSON: a string, reparsed to the same value.
    let json = serde_json::to_string(q).expect("serializes");
    let back: Quantity = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{text:?}: {json} → {e}"));
    assert_eq!(&back, q);
    // Sign and zero agree with the canonical text.
    assert_eq!(q.is_zero(), canonical == "0", "{text:?}");
    assert_eq!(q.is_negative(), canonical.starts_with('-'), "{text:?}");
    assert_eq!(q.cmp(q), Ordering::Equal);
    let value = oracle(&canonical);
    // Integer views: as_i64 exact when the oracle value is a fitting integer.
    if let Some(n) = q.as_i64() {
        assert_eq!(q.cmp_i64(n), Ordering::Equal, "{text:?}: as_i64 {n}");
        assert_eq!(q.value(), n, "{text:?}");
    }
    value
}

fn check_pair(a: &Quantity, av: &Decimal, b: &Quantity, bv: &Decimal) {
    let expected = av.cmp(bv);
    assert_eq!(a.cmp(b), expected, "{a:?} vs {b:?}");
    assert_eq!(b.cmp(a), expected.reverse(), "{b:?} vs {a:?}");
    assert_eq!(a == b, expected == Ordering::Equal);
    if a == b {
        assert_eq!(hash(a), hash(b), "equal quantities hash differently: {a:?} {b:?}");
    }
    if expected != Ordering::Greater {
        assert!(a.value() <= b.value(), "Value() not monotonic: {a:?} {b:?}");
        assert!(
            a.milli_value() <= b.milli_value(),
            "MilliValue() not monotonic: {a:?} {b:?}"
        );
    }
    // Exact arithmetic: (a + b) - b == a, and a + b is ordered against a by the sign of b.
    let mut sum = a.clone();
    sum += b;
    let mut back = sum.clone();
    back -= b;
    assert_eq!(&back, a, "({a:?} + {b:?}) - {b:?}");
    let zero = Quantity::zero();
    assert_eq!(sum.cmp(a), b.cmp(&zero), "{a:?} + {b:?} vs {a:?}");
    let negated = -b.clone();
    assert_eq!(negated.cmp(&zero), zero.cmp(b));
}

#[derive(Debug, Arbitrary)]
enum Text {
    Raw(String),
    Parts(QuantityParts),
}

impl Text {
    fn text(&self) -> String {
        match self {
            Text::Raw(s) => s.clone(),
            Text::Parts(parts) => parts.to_text(),
        }
    }
}

/// Text mode: `T<a>\n<b>\n<factor>` (readable seeds, byte-level mutation of the parser's input);
/// otherwise two quantities from [`Text`] and a factor, decoded with `arbitrary`.
fn inputs(data: &[u8]) -> Option<(String, Option<String>, i64)> {
    if let Some(text) = data.strip_prefix(b"T") {
        let text = std::str::from_utf8(text).ok()?;
        let mut lines = text.split('\n');
        let a = lines.next()?.to_owned();
        let b = lines.next().map(str::to_owned);
        let factor = lines.next().and_then(|f| f.parse().ok()).unwrap_or(1);
        return Some((a, b, factor));
    }
    let mut u = Unstructured::new(data);
    let first = Text::arbitrary(&mut u).ok()?;
    let second = Text::arbitrary(&mut u).ok();
    let factor: i64 = u.arbitrary().unwrap_or(1);
    Some((first.text(), second.map(|s| s.text()), factor))
}

fuzz_target!(|data: &[u8]| {
    let Some((a_text, b_text, factor)) = inputs(data) else {
        return;
    };
    let Ok(a) = Quantity::parse(&a_text) else {
        // Errors are fine; a JSON number of the same text must not panic either.
        let _ = serde_json::from_str::<Quantity>(&a_text);
        return;
    };
    let av = check_one(&a_text, &a);
    // Multiplication by an integer is exact.
    let mut product = a.clone();
    product *= factor;
    let pv = oracle(&product.canonicalize());
    let expected = av.mul_small(factor.unsigned_abs());
    let expected = Decimal::normalized(av.negative != (factor < 0), expected.digits, expected.exp);
    assert_eq!(pv, expected, "{a:?} × {factor}");
    if let Some(b_text) = b_text {
        if let Ok(b) = Quantity::parse(&b_text) {
            let bv = check_one(&b_text, &b);
            check_pair(&a, &av, &b, &bv);
        }
    }
});
