//! Kubernetes `resource.Quantity`, re-implemented to match
//! `k8s.io/apimachinery/pkg/api/resource` (parsing, rounding, canonical string
//! form, comparison, JSON encoding).
//!
//! # Representation
//!
//! A [`Quantity`] is an exact, arbitrary precision decimal: a sign, a
//! normalized list of decimal digits (no leading or trailing zeros; empty for
//! zero) and a base-10 exponent (`value = digits × 10^exp`). Go falls back to
//! `inf.Dec` for values that do not fit an `int64` scaled amount; this single
//! representation covers both cases, so a 40-digit quantity parses and formats
//! exactly. Besides the number and its [`Format`], a quantity remembers the
//! original input string when Kubernetes would (see
//! [`Quantity::to_canonical_string`]).
//!
//! # Exponent cap
//!
//! Kubernetes accepts any `e`/`E` exponent that fits an `int64` and silently
//! truncates it to `int32`. Here an exponent whose absolute value exceeds
//! [`MAX_EXPONENT`] (10 000) is rejected with
//! [`QuantityError::ExponentOutOfRange`], so that no input (`1e1000000000`)
//! can make later arithmetic or formatting materialize gigabytes of digits.
//! So is a value whose own decimal exponent (trailing zeros of the digits
//! included) exceeds it (`154000e10000`), so that the canonical form of every
//! accepted quantity parses again.
//!
//! # Deliberate divergences from Go
//!
//! * [`Quantity::value`] / [`Quantity::scaled_value`] saturate at
//!   `i64::MIN`/`i64::MAX` where Go returns an implementation-defined value
//!   (0 for int64-backed amounts, a wrapped value for `inf.Dec` ones), and
//!   always round away from zero (Go's `inf.Dec` path rounds some negative
//!   fractions toward zero).
//! * Values whose canonical suffix does not exist (a DecimalSI value of
//!   10^21 or more, a BinarySI value divisible by 1024^7) are written in
//!   decimal-exponent form (`1e21`), as done by the upstream fix merged in
//!   kubernetes/kubernetes#140459; older Go releases drop the magnitude.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{AddAssign, MulAssign, Neg, SubAssign};
use std::str::FromStr;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest absolute value accepted for an `e`/`E` decimal exponent suffix.
pub const MAX_EXPONENT: i64 = 10_000;

/// Smallest representable decimal exponent after parsing (nano, `10^-9`).
const NANO: i64 = -9;

/// How a quantity is written out (k8s `resource.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Plain power-of-ten exponent, e.g. `12e6`.
    DecimalExponent,
    /// Binary SI suffixes, e.g. `12Mi` (12 × 2^20).
    BinarySI,
    /// Decimal SI suffixes, e.g. `12M` (12 × 10^6).
    DecimalSI,
}

impl Format {
    /// The Go name of the format (`"BinarySI"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::DecimalExponent => "DecimalExponent",
            Format::BinarySI => "BinarySI",
            Format::DecimalSI => "DecimalSI",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when a string is not a valid quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not have the shape of a quantity (k8s `ErrFormatWrong`).
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    /// The numeric part has no digits (k8s `ErrNumeric`).
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The suffix is not a known unit or exponent (k8s `ErrSuffix`).
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// The decimal exponent (of the suffix, or of the value) exceeds [`MAX_EXPONENT`] in magnitude
    /// (no k8s equivalent).
    #[error(
        "quantity exponent {exponent} is out of the supported range -{max}..={max}",
        max = MAX_EXPONENT
    )]
    ExponentOutOfRange {
        /// The exponent that was given.
        exponent: i64,
    },
}

// ---------------------------------------------------------------------------
// Unsigned exact decimal magnitude.
// ---------------------------------------------------------------------------

/// `digits × 10^exp`, digits most significant first, normalized: no leading or
/// trailing zeros; zero is `digits == []` with `exp == 0`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct Mag {
    digits: Vec<u8>,
    exp: i64,
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Mag {
    fn new(mut digits: Vec<u8>, exp: i64) -> Mag {
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        if lead == digits.len() {
            return Mag::default();
        }
        digits.drain(..lead);
        let trail = digits.iter().rev().take_while(|&&d| d == 0).count();
        digits.truncate(digits.len().saturating_sub(trail));
        Mag {
            digits,
            exp: exp.saturating_add(len_i64(trail)),
        }
    }

    fn from_u128(mut v: u128) -> Mag {
        if let Ok(v) = u64::try_from(v) {
            return Mag::from_u64(v, 0);
        }
        let mut lsb = Vec::new();
        while v > 0 {
            let (quotient, remainder) = div10(v);
            lsb.push(remainder);
            v = quotient;
        }
        lsb.reverse();
        Mag::new(lsb, 0)
    }

    /// `value × 10^exp`, normalized.
    fn from_u64(mut value: u64, mut exp: i64) -> Mag {
        if value == 0 {
            return Mag::default();
        }
        while value % 10 == 0 {
            value /= 10;
            exp = exp.saturating_add(1);
        }
        let mut digits = Vec::with_capacity(20);
        while value > 0 {
            digits.push(u8::try_from(value % 10).unwrap_or(0));
            value /= 10;
        }
        digits.reverse();
        Mag { digits, exp }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Exponent just above the most significant digit (meaningless for zero).
    fn order(&self) -> i64 {
        self.exp.saturating_add(len_i64(self.digits.len()))
    }

    fn cmp_mag(&self, other: &Mag) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self
                .order()
                .cmp(&other.order())
                .then_with(|| self.digits.cmp(&other.digits)),
        }
    }

    fn is_integer(&self) -> bool {
        self.exp >= 0
    }

    /// The value as a 64-bit integer, when it is an integer that fits.
    fn to_u64(&self) -> Option<u64> {
        if !self.is_integer() || self.order() > 20 {
            return None;
        }
        let value = self
            .digits
            .iter()
            .try_fold(0_u64, |value, &d| value.checked_mul(10)?.checked_add(u64::from(d)))?;
        (0..self.exp).try_fold(value, |value, _| value.checked_mul(10))
    }

    /// Multiplies by a small factor.
    fn mul_small(&self, m: u64) -> Mag {
        if self.is_zero() || m == 0 {
            return Mag::default();
        }
        let m = u128::from(m);
        let mut lsb = Vec::with_capacity(self.digits.len().saturating_add(20));
        let mut carry: u128 = 0;
        for &d in self.digits.iter().rev() {
            // carry < m, so this is < 10·m ≤ 10·2^64: no overflow.
            let (quotient, remainder) = div10(u128::from(d) * m + carry);
            lsb.push(remainder);
            carry = quotient;
        }
        while carry > 0 {
            let (quotient, remainder) = div10(carry);
            lsb.push(remainder);
            carry = quotient;
        }
        lsb.reverse();
        Mag::new(lsb, self.exp)
    }

    /// Rounds away from zero so that `exp >= min_exp`; returns whether exact (the value itself,
    /// not a copy, when nothing rounds).
    fn round_up(self, min_exp: i64) -> (Mag, bool) {
        if self.is_zero() || self.exp >= min_exp {
            return (self, true);
        }
        let drop = min_exp.saturating_sub(self.exp);
        let len = len_i64(self.digits.len());
        if drop >= len {
            return (
                Mag {
                    digits: vec![1],
                    exp: min_exp,
                },
                false,
            );
        }
        let keep = usize::try_from(len.saturating_sub(drop)).unwrap_or(0);
        let mut kept: Vec<u8> = self.digits.get(..keep).unwrap_or(&[]).to_vec();
        // The dropped digits end with a non-zero digit (normalized), so bump.
        let mut carry = true;
        for d in kept.iter_mut().rev() {
            if *d == 9 {
                *d = 0;
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            kept.insert(0, 1);
        }
        (Mag::new(kept, min_exp), false)
    }

    /// The integer value, if this is an integer below 2^128.
    fn to_u128(&self) -> Option<u128> {
        if !self.is_integer() {
            return None;
        }
        if self.is_zero() {
            return Some(0);
        }
        if self.order() > 39 {
            return None;
        }
        let mut v: u128 = 0;
        for &d in &self.digits {
            v = v.checked_mul(10)?.checked_add(u128::from(d))?;
        }
        for _ in 0..self.exp {
            v = v.checked_mul(10)?;
        }
        Some(v)
    }

    /// All digits of an integer magnitude (`exp >= 0`), most significant first.
    fn integer_digits(&self) -> Vec<u8> {
        let zeros = usize::try_from(self.exp).unwrap_or(0);
        let mut out = Vec::with_capacity(self.digits.len().saturating_add(zeros));
        out.extend_from_slice(&self.digits);
        out.resize(out.len().saturating_add(zeros), 0);
        out
    }

    /// Digits least significant first, aligned so that index 0 is `10^base_exp`
    /// (requires `base_exp <= self.exp`), padded with zeros to `width`.
    fn lsb_aligned(&self, base_exp: i64, width: usize) -> Vec<u8> {
        let shift = usize::try_from(self.exp.saturating_sub(base_exp)).unwrap_or(0);
        let mut out = vec![0u8; shift];
        out.extend(self.digits.iter().rev());
        out.resize(width.max(out.len()), 0);
        out
    }

    fn aligned_pair(&self, other: &Mag) -> (Vec<u8>, Vec<u8>, i64) {
        let base = self.exp.min(other.exp);
        let top = self.order().max(other.order());
        let width = usize::try_from(top.saturating_sub(base)).unwrap_or(0).saturating_add(1);
        (self.lsb_aligned(base, width), other.lsb_aligned(base, width), base)
    }

    fn add(&self, other: &Mag) -> Mag {
        if self.is_zero() {
            return other.clone();
        }
        if other.is_zero() {
            return self.clone();
        }
        let (a, b, base) = self.aligned_pair(other);
        let mut out = Vec::with_capacity(a.len().saturating_add(1));
        let mut carry = 0u8;
        for (i, &x) in a.iter().enumerate() {
            let s = x + b.get(i).copied().unwrap_or(0) + carry;
            out.push(s % 10);
            carry = s / 10;
        }
        if carry > 0 {
            out.push(carry);
        }
        out.reverse();
        Mag::new(out, base)
    }

    /// `self - other`, requires `self >= other`.
    fn sub(&self, other: &Mag) -> Mag {
        if other.is_zero() {
            return self.clone();
        }
        let (a, b, base) = self.aligned_pair(other);
        let mut out = Vec::with_capacity(a.len());
        let mut borrow = 0u8;
        for (i, &x) in a.iter().enumerate() {
            let y = b.get(i).copied().unwrap_or(0) + borrow;
            if x >= y {
                out.push(x - y);
                borrow = 0;
            } else {
                out.push(x + 10 - y);
                borrow = 1;
            }
        }
        out.reverse();
        Mag::new(out, base)
    }

    /// Canonical base-10 mantissa and exponent: the exponent is the largest
    /// multiple of three that keeps the mantissa an integer (k8s `AsCanonicalBytes`).
    fn canonical10(&self) -> (String, i64) {
        let k = self.exp.rem_euclid(3);
        let mut s = digits_to_string(&self.digits);
        for _ in 0..k {
            s.push('0');
        }
        (s, self.exp.saturating_sub(k))
    }
}

fn digit(v: u128) -> u8 {
    u8::try_from(v % 10).unwrap_or(0)
}

/// `v / 10` and its last decimal digit, in 64-bit arithmetic when `v` fits: a 128-bit division is a
/// library call, many times slower, and the values here rarely need it.
fn div10(v: u128) -> (u128, u8) {
    match u64::try_from(v) {
        Ok(v) => (u128::from(v / 10), u8::try_from(v % 10).unwrap_or(0)),
        Err(_) => (v / 10, digit(v)),
    }
}

fn digits_to_string(digits: &[u8]) -> String {
    if digits.is_empty() {
        return "0".to_owned();
    }
    digits.iter().map(|&d| char::from(b'0' + d)).collect()
}

/// Divides an integer (digits most significant first) by `d`, returning the
/// quotient digits and the remainder. A 16-bit divisor keeps every step in 64 bits.
fn div_small(digits: &[u8], d: u16) -> (Vec<u8>, u64) {
    let d = u64::from(d.max(1));
    let mut q = Vec::with_capacity(digits.len());
    let mut rem = 0_u64;
    for &x in digits {
        let cur = rem * 10 + u64::from(x);
        q.push(u8::try_from(cur / d).unwrap_or(0));
        rem = cur % d;
    }
    let lead = q.iter().take_while(|&&x| x == 0).count();
    q.drain(..lead);
    (q, rem)
}

fn max_i64_mag() -> Mag {
    Mag::from_u128(u128::from(i64::MAX.unsigned_abs()))
}

// ---------------------------------------------------------------------------
// Scanner (mirrors k8s parseQuantityString byte for byte).
// ---------------------------------------------------------------------------

struct Scanned<'a> {
    positive: bool,
    /// The numeric part as written (sign included); only inspected for digits.
    value: &'a [u8],
    /// Integer digits without leading zeros ("0" when none).
    num: &'a [u8],
    /// Fraction digits.
    denom: &'a [u8],
    suffix: &'a [u8],
}

fn slice(s: &[u8], from: usize, to: usize) -> &[u8] {
    s.get(from..to).unwrap_or(&[])
}

fn is_digit(c: Option<&u8>) -> bool {
    c.is_some_and(u8::is_ascii_digit)
}

fn scan(s: &[u8]) -> Result<Scanned<'_>, QuantityError> {
    let end = s.len();
    let mut positive = true;
    let mut pos = 0usize;
    match s.first() {
        Some(b'-') => {
            positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }

    // Leading zeros; a string of only zeros is zero.
    loop {
        match s.get(pos) {
            None => {
                return Ok(Scanned {
                    positive,
                    value: b"0",
                    num: b"0",
                    denom: b"",
                    suffix: b"",
                });
            }
            Some(b'0') => pos += 1,
            Some(_) => break,
        }
    }

    // Integer part.
    let mut i = pos;
    while is_digit(s.get(i)) {
        i += 1;
    }
    if i >= end {
        return Ok(Scanned {
            positive,
            value: s,
            num: slice(s, pos, end),
            denom: b"",
            suffix: b"",
        });
    }
    let mut num = slice(s, pos, i);
    pos = i;
    if num.is_empty() {
        num = b"0";
    }

    // Fraction.
    let mut denom: &[u8] = b"";
    if s.get(pos) == Some(&b'.') {
        pos += 1;
        let mut j = pos;
        while is_digit(s.get(j)) {
            j += 1;
        }
        if j >= end {
            return Ok(Scanned {
                positive,
                value: s,
                num,
                denom: slice(s, pos, end),
                suffix: b"",
            });
        }
        denom = slice(s, pos, j);
        pos = j;
    }
    let value = slice(s, 0, pos);

    // Suffix: unit letters, then an optional signed integer.
    let suffix_start = pos;
    let done = |value, num, denom| Scanned {
        positive,
        value,
        num,
        denom,
        suffix: slice(s, suffix_start, end),
    };
    let mut j = pos;
    loop {
        match s.get(j) {
            None => return Ok(done(value, num, denom)),
            Some(c) if b"eEinumkKMGTP".contains(c) => j += 1,
            Some(_) => break,
        }
    }
    if matches!(s.get(j), Some(b'-' | b'+')) {
        j += 1;
    }
    loop {
        match s.get(j) {
            None => return Ok(done(value, num, denom)),
            Some(c) if c.is_ascii_digit() => j += 1,
            Some(_) => return Err(QuantityError::FormatWrong),
        }
    }
}

/// Interprets a suffix as `(base, exponent, format)` (k8s `suffixer.interpret`).
fn interpret(suffix: &[u8]) -> Result<(u32, i64, Format), QuantityError> {
    let decimal = |e| Ok((10, e, Format::DecimalSI));
    let binary = |e| Ok((2, e, Format::BinarySI));
    match suffix {
        b"" => decimal(0),
        b"n" => decimal(-9),
        b"u" => decimal(-6),
        b"m" => decimal(-3),
        b"k" => decimal(3),
        b"M" => decimal(6),
        b"G" => decimal(9),
        b"T" => decimal(12),
        b"P" => decimal(15),
        b"E" => decimal(18),
        b"Ki" => binary(10),
        b"Mi" => binary(20),
        b"Gi" => binary(30),
        b"Ti" => binary(40),
        b"Pi" => binary(50),
        b"Ei" => binary(60),
        [b'e' | b'E', rest @ ..] if !rest.is_empty() => {
            let text = std::str::from_utf8(rest).map_err(|_| QuantityError::Suffix)?;
            let exponent: i64 = text.parse().map_err(|_| QuantityError::Suffix)?;
            Ok((10, exponent, Format::DecimalExponent))
        }
        _ => Err(QuantityError::Suffix),
    }
}

// ---------------------------------------------------------------------------
// Quantity.
// ---------------------------------------------------------------------------

/// A Kubernetes resource quantity (`k8s.io/apimachinery/pkg/api/resource.Quantity`).
///
/// Equality, ordering and hashing consider only the numeric value (k8s `Cmp`):
/// `1Gi == 1024Mi` and `1G < 1Gi`, whatever the format.
#[derive(Clone)]
pub struct Quantity {
    negative: bool,
    mag: Mag,
    format: Format,
    /// The input string, kept where k8s keeps it (`Quantity.s`).
    cached: Option<Box<str>>,
}

/// The magnitude of a scanned quantity (`digits × base^exponent`), exactly.
fn exact_magnitude(sc: &Scanned<'_>, base: u32, exponent: i64) -> Mag {
    let denom_len = len_i64(sc.denom.len());
    let digits: Vec<u8> = sc.num.iter().chain(sc.denom).map(|c| c.saturating_sub(b'0')).collect();
    if base == 10 {
        Mag::new(digits, exponent.saturating_sub(denom_len))
    } else {
        let factor = u32::try_from(exponent)
            .ok()
            .and_then(|e| 1_u64.checked_shl(e))
            .unwrap_or(1);
        Mag::new(digits, denom_len.saturating_neg()).mul_small(factor)
    }
}

/// [`exact_magnitude`] for the common case of digits that fit in 64 bits and, with a binary suffix,
/// an integer value that does too (`4Gi`, `1.5Gi`, `512Mi`, `0.5`, `100M`): computed in one `u64`,
/// one allocation instead of three. `None` for anything else.
fn integer_magnitude(sc: &Scanned<'_>, base: u32, exponent: i64) -> Option<Mag> {
    if sc.num.len().saturating_add(sc.denom.len()) > 19 {
        return None;
    }
    let digits = sc.num.iter().chain(sc.denom).try_fold(0_u64, |v, &c| {
        v.checked_mul(10)?.checked_add(u64::from(c.checked_sub(b'0')?))
    })?;
    let denom_len = u32::try_from(sc.denom.len()).ok()?;
    match base {
        10 => Some(Mag::from_u64(digits, exponent.checked_sub(i64::from(denom_len))?)),
        _ => {
            let scaled = digits.checked_mul(1_u64.checked_shl(u32::try_from(exponent).ok()?)?)?;
            let divisor = 10_u64.checked_pow(denom_len)?;
            (scaled % divisor == 0).then(|| Mag::from_u64(scaled / divisor, 0))
        }
    }
}

impl Default for Quantity {
    /// Zero, in DecimalSI format.
    fn default() -> Self {
        Quantity::with_mag(false, Mag::default(), Format::DecimalSI)
    }
}

impl Quantity {
    fn with_mag(negative: bool, mag: Mag, format: Format) -> Quantity {
        Quantity {
            negative: negative && !mag.is_zero(),
            mag,
            format,
            cached: None,
        }
    }

    fn from_scaled(value: i64, exp: i64, format: Format) -> Quantity {
        let mag = Mag::from_u128(u128::from(value.unsigned_abs()));
        let mag = Mag::new(mag.digits, mag.exp.saturating_add(exp));
        Quantity::with_mag(value < 0, mag, format)
    }

    /// Parses a quantity string exactly like k8s `resource.ParseQuantity`.
    ///
    /// Values are rounded away from zero to nano precision (`0.1n` → `1n`),
    /// BinarySI values are capped at `2^63-1` in magnitude, and a BinarySI
    /// value strictly between -1 and 1 becomes DecimalSI. Leading or trailing
    /// whitespace is an error. Exponents beyond ±[`MAX_EXPONENT`] are rejected.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        if s == "0" {
            return Ok(Quantity {
                cached: Some(s.into()),
                ..Quantity::default()
            });
        }
        let sc = scan(s.as_bytes())?;
        let (base, exponent, format) = interpret(sc.suffix)?;
        if exponent.unsigned_abs() > MAX_EXPONENT.unsigned_abs() {
            return Err(QuantityError::ExponentOutOfRange { exponent });
        }
        let num_len = len_i64(sc.num.len());
        let denom_len = len_i64(sc.denom.len());

        // Go takes an int64 fast path for small values and keeps the input
        // string when it is already canonical; the slow (inf.Dec) path fails
        // when the numeric part holds no digit at all ("Ei", "e-10").
        let (fast, keep_input) = match format {
            Format::DecimalSI | Format::DecimalExponent => {
                let precision = 18_i64.saturating_sub(num_len.saturating_add(denom_len));
                let scale = exponent.saturating_sub(denom_len);
                if precision >= 0 && scale >= NANO {
                    // The digits of num and denom, read as one number.
                    let mut shifted = sc.num.iter().chain(sc.denom);
                    let ends_with_000 = shifted.clone().rev().take(3).filter(|&&d| d == b'0').count() == 3;
                    let canonical = scale % 3 == 0 && !ends_with_000 && shifted.next() != Some(&b'0');
                    (true, canonical)
                } else {
                    (false, false)
                }
            }
            Format::BinarySI => {
                let precision = if sc.denom.is_empty() {
                    15_i64
                        .saturating_sub(num_len)
                        .saturating_sub(exponent.saturating_mul(3) / 10)
                        .saturating_sub(1)
                } else {
                    -1
                };
                let value = std::str::from_utf8(sc.num).ok().and_then(|t| t.parse::<i64>().ok());
                match (precision >= 0, value) {
                    (true, Some(v)) => {
                        let fits = u32::try_from(exponent)
                            .ok()
                            .and_then(|e| 1_i64.checked_shl(e))
                            .and_then(|m| v.checked_mul(m))
                            .is_some();
                        (fits, fits && v & 7 != 0)
                    }
                    _ => (false, false),
                }
            }
        };
        if !fast && !sc.value.iter().any(u8::is_ascii_digit) {
            return Err(QuantityError::Numeric);
        }

        let mut mag = integer_magnitude(&sc, base, exponent)
            .unwrap_or_else(|| exact_magnitude(&sc, base, exponent))
            .round_up(NANO)
            .0;
        // The suffix's exponent is checked above; the value's own exponent can still exceed the cap
        // (`154000e10000` is 154 × 10^10003). Its canonical form would then carry an exponent that
        // `parse` refuses, so refuse it here: every accepted quantity formats to a parseable string.
        if mag.exp > MAX_EXPONENT {
            return Err(QuantityError::ExponentOutOfRange { exponent: mag.exp });
        }

        let mut format = format;
        if format == Format::BinarySI {
            // The int64 fast path has checked that the value fits; anything else is capped.
            if !fast && mag.to_u64().is_none_or(|v| i64::try_from(v).is_err()) {
                let max = max_i64_mag();
                if mag.cmp_mag(&max) == Ordering::Greater {
                    mag = max;
                }
            }
            // Below one: the most significant digit lies right of the point.
            if !mag.is_zero() && mag.order() <= 0 {
                format = Format::DecimalSI;
            }
        }
        let mut q = Quantity::with_mag(!sc.positive, mag, format);
        if keep_input {
            q.cached = Some(s.into());
        }
        Ok(q)
    }

    /// Zero, in DecimalSI format (same as [`Quantity::default`]).
    pub fn zero() -> Quantity {
        Quantity::default()
    }

    /// `value` in the given format (k8s `resource.NewQuantity`).
    pub fn from_i64(value: i64, format: Format) -> Quantity {
        Quantity::from_scaled(value, 0, format)
    }

    /// `value / 1000` in the given format (k8s `resource.NewMilliQuantity`).
    pub fn from_milli_i64(value: i64, format: Format) -> Quantity {
        Quantity::from_scaled(value, -3, format)
    }

    /// `value × 10^scale` in DecimalSI format (k8s `resource.NewScaledQuantity`).
    pub fn from_scaled_i64(value: i64, scale: i32) -> Quantity {
        Quantity::from_scaled(value, i64::from(scale), Format::DecimalSI)
    }

    /// The format remembered from the suffix (or given at construction).
    pub fn format(&self) -> Format {
        self.format
    }

    /// True when the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mag.is_zero()
    }

    /// True when the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// k8s `Value()`: the value rounded away from zero to an integer,
    /// saturating at `i64::MIN`/`i64::MAX` (e.g. `1500m` → 2, `-1500m` → -2).
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// k8s `MilliValue()`: `value × 1000` rounded away from zero, saturating.
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// k8s `ScaledValue(scale)`: `value / 10^scale` rounded away from zero,
    /// saturating at `i64::MIN`/`i64::MAX`.
    pub fn scaled_value(&self, scale: i32) -> i64 {
        if self.is_zero() {
            return 0;
        }
        let shifted = Mag {
            digits: self.mag.digits.clone(),
            exp: self.mag.exp.saturating_sub(i64::from(scale)),
        };
        let (rounded, _) = shifted.round_up(0);
        saturate(self.negative, rounded.to_u128())
    }

    /// The value as an `i64` when it is an integer that fits, else `None`.
    pub fn as_i64(&self) -> Option<i64> {
        let v = self.mag.to_u128()?;
        if self.negative {
            i64::try_from(v)
                .ok()
                .map(i64::wrapping_neg)
                .or_else(|| (v == u128::from(i64::MIN.unsigned_abs())).then_some(i64::MIN))
        } else {
            i64::try_from(v).ok()
        }
    }

    /// Compares the value with an integer (k8s `CmpInt64`).
    pub fn cmp_i64(&self, other: i64) -> Ordering {
        self.cmp(&Quantity::from_i64(other, Format::DecimalSI))
    }

    /// k8s `String()`: the canonical form, except that a string parsed in
    /// canonical-looking form is returned verbatim, as Go does (so `"+1"`,
    /// `"01"`, `"1.500k"` and `"1E3"` come back unchanged). Arithmetic
    /// clears the remembered string. This is what JSON serialization emits.
    pub fn to_canonical_string(&self) -> String {
        match &self.cached {
            Some(s) => s.to_string(),
            None => self.canonicalize(),
        }
    }

    /// k8s `CanonicalizeBytes`: the canonical form computed from the value
    /// and format, ignoring any remembered input string.
    ///
    /// BinarySI values in (-1024, 1024) or with a fraction are written as
    /// DecimalSI (`1.5Ki` → `1536`, `0.1Ki` → `102400m`).
    pub fn canonicalize(&self) -> String {
        if self.is_zero() {
            return "0".to_owned();
        }
        let sign = if self.negative { "-" } else { "" };
        let mut format = self.format;
        if format == Format::BinarySI && (!self.mag.is_integer() || self.mag.to_u64().is_some_and(|v| v < 1024)) {
            format = Format::DecimalSI;
        }
        match format {
            Format::DecimalSI | Format::DecimalExponent => {
                let (mantissa, exp) = self.mag.canonical10();
                let suffix = if format == Format::DecimalSI {
                    decimal_si_suffix(exp)
                        .map(str::to_owned)
                        .unwrap_or_else(|| exponent_suffix(exp))
                } else {
                    exponent_suffix(exp)
                };
                format!("{sign}{mantissa}{suffix}")
            }
            Format::BinarySI => {
                // The common case (a memory size) in 64-bit arithmetic; the same text.
                if let Some(mut value) = self.mag.to_u64() {
                    let mut times = 0_usize;
                    while value % 1024 == 0 && value >= 1024 {
                        value /= 1024;
                        times = times.saturating_add(1);
                    }
                    // 1024^6 is 2^60: a 64-bit value divides at most six times.
                    if let Some(suffix) = BINARY_SUFFIXES.get(times) {
                        return format!("{sign}{value}{suffix}");
                    }
                }
                let mut digits = self.mag.integer_digits();
                let mut times = 0usize;
                loop {
                    let (q, rem) = div_small(&digits, 1024);
                    if rem != 0 || q.is_empty() {
                        break;
                    }
                    digits = q;
                    times = times.saturating_add(1);
                }
                match BINARY_SUFFIXES.get(times) {
                    Some(suffix) => format!("{sign}{}{suffix}", digits_to_string(&digits)),
                    None => {
                        let (mantissa, exp) = self.mag.canonical10();
                        format!("{sign}{mantissa}{}", exponent_suffix(exp))
                    }
                }
            }
        }
    }
}

/// The BinarySI suffixes, by how many times the value divides by 1024.
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

fn decimal_si_suffix(exp: i64) -> Option<&'static str> {
    Some(match exp {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

fn exponent_suffix(exp: i64) -> String {
    if exp == 0 { String::new() } else { format!("e{exp}") }
}

fn saturate(negative: bool, magnitude: Option<u128>) -> i64 {
    let limit = u128::from(i64::MIN.unsigned_abs());
    match (negative, magnitude) {
        (false, Some(v)) => i64::try_from(v).unwrap_or(i64::MAX),
        (false, None) => i64::MAX,
        (true, Some(v)) if v < limit => i64::try_from(v).map_or(i64::MIN, |x| -x),
        (true, _) => i64::MIN,
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl fmt::Display for Quantity {
    /// Same as [`Quantity::to_canonical_string`] (k8s `String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cached {
            Some(s) => f.write_str(s),
            None => f.write_str(&self.canonicalize()),
        }
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quantity")
            .field("value", &self.to_canonical_string())
            .field("format", &self.format)
            .finish()
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.mag.cmp_mag(&other.mag),
            (true, true) => other.mag.cmp_mag(&self.mag),
        }
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.negative.hash(state);
        self.mag.hash(state);
    }
}

impl AddAssign<&Quantity> for Quantity {
    /// k8s `Add`: a zero receiver takes the format of `rhs`.
    fn add_assign(&mut self, rhs: &Quantity) {
        if self.is_zero() {
            self.format = rhs.format;
        }
        self.cached = None;
        if self.negative == rhs.negative {
            self.mag = self.mag.add(&rhs.mag);
        } else if self.mag.cmp_mag(&rhs.mag) == Ordering::Less {
            self.mag = rhs.mag.sub(&self.mag);
            self.negative = rhs.negative;
        } else {
            self.mag = self.mag.sub(&rhs.mag);
        }
        if self.mag.is_zero() {
            self.negative = false;
        }
    }
}

impl SubAssign<&Quantity> for Quantity {
    /// k8s `Sub`: a zero receiver takes the format of `rhs`.
    fn sub_assign(&mut self, rhs: &Quantity) {
        let negated = -rhs.clone();
        *self += &negated;
    }
}

impl Neg for Quantity {
    type Output = Quantity;

    /// k8s `Neg` (the format is kept).
    fn neg(mut self) -> Quantity {
        self.cached = None;
        self.negative = !self.negative && !self.mag.is_zero();
        self
    }
}

impl MulAssign<i64> for Quantity {
    /// k8s `Mul` by an integer (exact; the format is kept).
    fn mul_assign(&mut self, rhs: i64) {
        self.cached = None;
        self.mag = self.mag.mul_small(rhs.unsigned_abs());
        self.negative = (self.negative != (rhs < 0)) && !self.mag.is_zero();
    }
}

impl Serialize for Quantity {
    /// Serializes as the k8s `String()` form.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_canonical_string())
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts a string or a number, like k8s `UnmarshalJSON`: surrounding
    /// whitespace is trimmed, a number is parsed from its decimal text
    /// (floats via their shortest round-trip text), and `null` yields zero.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

struct QuantityVisitor;

impl QuantityVisitor {
    fn parse_text<E: de::Error>(text: &str) -> Result<Quantity, E> {
        Quantity::parse(text.trim()).map_err(|err| E::custom(format_args!("invalid quantity {text:?}: {err}")))
    }
}

impl<'de> Visitor<'de> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes quantity: a string such as \"1Gi\" or \"500m\", or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        Self::parse_text(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        Self::parse_text(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        Self::parse_text(&v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Quantity, E> {
        Self::parse_text(&v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Quantity, E> {
        Self::parse_text(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
        if !v.is_finite() {
            return Err(E::invalid_value(Unexpected::Float(v), &self));
        }
        Self::parse_text(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::default())
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo
    )]

    use super::*;

    /// The 64-bit path gives the exact path's magnitude wherever it answers, and answers for the
    /// quantities instancetypes and preferences hold.
    #[test]
    fn the_integer_magnitude_is_the_exact_one() {
        let suffixes = [
            "", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "n", "e3", "E-2", "e18",
        ];
        let mut texts: Vec<String> = [
            "0",
            "00",
            "1",
            "10",
            "1000",
            "18446744073709551615",
            "18446744073709551616",
        ]
        .iter()
        .map(|n| n.to_string())
        .collect();
        let mut seed = 7_u64;
        for _ in 0..3000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 1 + (seed >> 59) as usize;
            let digits: String = (0..len)
                .map(|i| char::from(b'0' + ((seed >> (i * 3 % 60)) % 10) as u8))
                .collect();
            let point = (seed >> 20) as usize % (len + 3);
            if point < len {
                texts.push(format!("{}.{}", &digits[..point], &digits[point..]));
            }
            texts.push(digits);
        }
        let mut answered = 0;
        for number in &texts {
            for suffix in suffixes {
                for sign in ["", "-", "+"] {
                    let text = format!("{sign}{number}{suffix}");
                    let Ok(sc) = scan(text.as_bytes()) else { continue };
                    let Ok((base, exponent, _)) = interpret(sc.suffix) else {
                        continue;
                    };
                    if let Some(mag) = integer_magnitude(&sc, base, exponent) {
                        assert_eq!(mag, exact_magnitude(&sc, base, exponent), "{text}");
                        answered += 1;
                    }
                }
            }
        }
        assert!(answered > texts.len() * 10, "only {answered} answered");
        for text in [
            "4Gi", "2Gi", "1.5Gi", "512Mi", "16Gi", "100M", "1", "3600", "0.5", "250m",
        ] {
            let sc = scan(text.as_bytes()).unwrap();
            let (base, exponent, _) = interpret(sc.suffix).unwrap();
            assert!(integer_magnitude(&sc, base, exponent).is_some(), "{text}");
        }
    }

    /// The 64-bit canonical form of a BinarySI integer is the digit-by-digit one, around every
    /// power of 1024 and the 64-bit bound.
    #[test]
    fn binary_canonical_shortcut_agrees_with_the_digits() {
        let slow = |q: &Quantity| {
            let mut digits = q.mag.integer_digits();
            let mut times = 0;
            while let (quotient, 0) = div_small(&digits, 1024) {
                if quotient.is_empty() {
                    break;
                }
                digits = quotient;
                times += 1;
            }
            let suffix = BINARY_SUFFIXES[times];
            format!(
                "{}{}{suffix}",
                if q.negative { "-" } else { "" },
                digits_to_string(&digits)
            )
        };
        let mut values: Vec<u128> = vec![1024, 1025, 2047, 2048, 1 << 20, 3 << 30, 16 << 30, 1 << 60, 5 << 60];
        values.extend([u128::from(u64::MAX), u128::from(u64::MAX) + 1, 1 << 70, 7 << 70]);
        for shift in 10..64 {
            values.extend([
                1_u128 << shift,
                (1_u128 << shift) + 1,
                (3_u128 << shift) - 1,
                1000 << shift,
            ]);
        }
        for v in values {
            for negative in [false, true] {
                let q = Quantity::with_mag(negative, Mag::from_u128(v), Format::BinarySI);
                let canonical = q.canonicalize();
                if v <= u128::from(u64::MAX) || v % 1024 != 0 {
                    assert_eq!(canonical, slow(&q), "{v}");
                }
                // Parsing caps BinarySI at 2^63 - 1.
                if v <= u128::from(i64::MAX.unsigned_abs()) {
                    assert_eq!(Quantity::parse(&canonical).unwrap(), q, "{canonical}");
                }
            }
        }
        assert_eq!(Quantity::parse("16Gi").unwrap().to_canonical_string(), "16Gi");
        assert_eq!(Quantity::parse("1024Mi").unwrap().to_canonical_string(), "1Gi");
        assert_eq!(Quantity::parse("1536Mi").unwrap().to_canonical_string(), "1536Mi");
        assert_eq!(Quantity::parse("1000Ki").unwrap().to_canonical_string(), "1000Ki");
        assert_eq!(Quantity::parse("1Ki").unwrap().to_canonical_string(), "1Ki");
    }

    /// The 64-bit shortcuts of the digit arithmetic give what plain 128-bit arithmetic gives, on
    /// both sides of every bound they switch at.
    #[test]
    fn digit_arithmetic_shortcuts_agree_with_wide_arithmetic() {
        let mut values: Vec<u128> = vec![0, 1, 9, 10, 11, 1023, 1024, 1025, u128::from(u64::MAX), u128::MAX];
        values.extend([u64::MAX - 1, u64::MAX / 16, u64::MAX / 16 + 1, u64::MAX / 10].map(u128::from));
        values.extend([1_u128 << 64, (1_u128 << 64) + 1, (1_u128 << 64) - 1, 17_179_869_184]);
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            values.push(u128::from(seed) >> (seed % 64));
            values.push((u128::from(seed) << 64 | u128::from(seed.rotate_left(7))) >> (seed % 128));
        }
        for &v in &values {
            assert_eq!(div10(v), (v / 10, u8::try_from(v % 10).unwrap()), "{v}");
            let digits: Vec<u8> = v.to_string().bytes().map(|b| b - b'0').collect();
            assert_eq!(Mag::from_u128(v).digits, Mag::new(digits.clone(), 0).digits, "{v}");
            for d in [1_u16, 7, 10, 1024, u16::MAX] {
                let (q, rem) = div_small(&digits, d);
                let expected_q = if v / u128::from(d) == 0 {
                    String::new()
                } else {
                    (v / u128::from(d)).to_string()
                };
                let q: String = q.iter().map(|&x| char::from(b'0' + x)).collect();
                assert_eq!((q, u128::from(rem)), (expected_q, v % u128::from(d)), "{v} / {d}");
            }
            if v < 1 << 60 {
                for m in [2_u64, 1024, 1 << 30, u64::MAX] {
                    let product = Mag::new(digits.clone(), 0).mul_small(m);
                    assert_eq!(product.digits, Mag::from_u128(v * u128::from(m)).digits, "{v} * {m}");
                }
            }
        }
    }

    fn p(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("parse {s:?}: {e}"))
    }

    fn dq(value: i64, exp: i64, format: Format) -> Quantity {
        Quantity::from_scaled(value, exp, format)
    }

    /// Checks canonical form, round trip, and the negated / `+` variants.
    fn check_canonical(input: &str, expect: &str, format: Format) {
        let q = p(input);
        assert_eq!(q.canonicalize(), expect, "canonical of {input:?}");
        assert_eq!(q.format(), format, "format of {input:?}");
        let back = p(&q.to_canonical_string());
        assert_eq!(back, q, "round trip of {input:?}");
        let back = p(&q.canonicalize());
        assert_eq!(back, q, "canonical round trip of {input:?}");

        let neg = p(&format!("-{input}"));
        assert_eq!(neg.format(), format, "format of -{input:?}");
        if q.is_zero() {
            assert_eq!(neg.canonicalize(), "0");
        } else {
            assert_eq!(neg.canonicalize(), format!("-{expect}"), "canonical of -{input:?}");
            assert_eq!(neg, -q.clone());
            assert!(neg < q);
        }
        let plus = p(&format!("+{input}"));
        assert_eq!(plus, q);
        assert_eq!(plus.canonicalize(), expect);
    }

    // Expectations below are derived from the tables in k8s.io/apimachinery
    // pkg/api/resource/quantity_test.go (TestQuantityParse, TestQuantityString,
    // TestQuantityParseEmit, TestParseQuantity, TestNewSet, TestMilliNewSet,
    // TestJSONWhitespace), written out here as input → canonical string.
    #[test]
    fn parse_table() {
        use Format::*;
        let table: &[(&str, &str, Format)] = &[
            ("0", "0", DecimalSI),
            ("0n", "0", DecimalSI),
            ("0u", "0", DecimalSI),
            ("0m", "0", DecimalSI),
            ("0Ki", "0", BinarySI),
            ("0k", "0", DecimalSI),
            ("0Mi", "0", BinarySI),
            ("0M", "0", DecimalSI),
            ("0Gi", "0", BinarySI),
            ("0G", "0", DecimalSI),
            ("0Ti", "0", BinarySI),
            ("0T", "0", DecimalSI),
            ("1", "1", DecimalSI),
            ("1Ki", "1Ki", BinarySI),
            ("8Ki", "8Ki", BinarySI),
            ("7Mi", "7Mi", BinarySI),
            ("6Gi", "6Gi", BinarySI),
            ("5Ti", "5Ti", BinarySI),
            ("4Pi", "4Pi", BinarySI),
            ("3Ei", "3Ei", BinarySI),
            ("10Ti", "10Ti", BinarySI),
            ("100Ti", "100Ti", BinarySI),
            ("5n", "5n", DecimalSI),
            ("4u", "4u", DecimalSI),
            ("3m", "3m", DecimalSI),
            ("9", "9", DecimalSI),
            ("8k", "8k", DecimalSI),
            ("50k", "50k", DecimalSI),
            ("7M", "7M", DecimalSI),
            ("6G", "6G", DecimalSI),
            ("5T", "5T", DecimalSI),
            ("40T", "40T", DecimalSI),
            ("300T", "300T", DecimalSI),
            ("2P", "2P", DecimalSI),
            ("1E", "1E", DecimalSI),
            ("1E-3", "1e-3", DecimalExponent),
            ("1e3", "1e3", DecimalExponent),
            ("1E6", "1e6", DecimalExponent),
            ("1e9", "1e9", DecimalExponent),
            ("1E12", "1e12", DecimalExponent),
            ("1e15", "1e15", DecimalExponent),
            ("1E18", "1e18", DecimalExponent),
            ("1e14", "100e12", DecimalExponent),
            ("1e13", "10e12", DecimalExponent),
            ("100.035k", "100035", DecimalSI),
            ("0.001", "1m", DecimalSI),
            ("0.0005k", "500m", DecimalSI),
            ("0.005", "5m", DecimalSI),
            ("0.05", "50m", DecimalSI),
            ("0.5", "500m", DecimalSI),
            ("0.00050k", "500m", DecimalSI),
            ("0.00500", "5m", DecimalSI),
            ("0.05000", "50m", DecimalSI),
            ("0.50000", "500m", DecimalSI),
            ("0.5e0", "500e-3", DecimalExponent),
            ("0.5e-1", "50e-3", DecimalExponent),
            ("0.5e-2", "5e-3", DecimalExponent),
            ("10.035M", "10035k", DecimalSI),
            ("1.2e3", "1200", DecimalExponent),
            ("1.3E+6", "1300e3", DecimalExponent),
            ("1.40e9", "1400e6", DecimalExponent),
            ("1.53E12", "1530e9", DecimalExponent),
            ("1.6e15", "1600e12", DecimalExponent),
            ("1.7E18", "1700e15", DecimalExponent),
            ("9.01", "9010m", DecimalSI),
            ("8.1k", "8100", DecimalSI),
            ("7.123456M", "7123456", DecimalSI),
            ("6.987654321G", "6987654321", DecimalSI),
            ("5.444T", "5444G", DecimalSI),
            ("40.1T", "40100G", DecimalSI),
            ("300.2T", "300200G", DecimalSI),
            ("2.5P", "2500T", DecimalSI),
            ("1.01E", "1010P", DecimalSI),
            // Rounded up to nano precision.
            ("3.001n", "4n", DecimalSI),
            ("1.1E-9", "2e-9", DecimalExponent),
            ("0.0000000001", "1n", DecimalSI),
            ("0.0000000005", "1n", DecimalSI),
            ("0.00000000050", "1n", DecimalSI),
            ("0.5e-9", "1e-9", DecimalExponent),
            ("0.9n", "1n", DecimalSI),
            ("0.00000012345", "124n", DecimalSI),
            ("0.00000012354", "124n", DecimalSI),
            // BinarySI is capped at 2^63-1.
            ("9Ei", "9223372036854775807", BinarySI),
            ("9223372036854775807Ki", "9223372036854775807", BinarySI),
            ("12E", "12E", DecimalSI),
            // Fractional binary.
            ("100.035Ki", "102435840m", BinarySI),
            ("0.5Mi", "512Ki", BinarySI),
            ("0.05Gi", "53687091200m", BinarySI),
            ("0.025Ti", "27487790694400m", BinarySI),
            // Odd but accepted.
            ("0.000000000001Ki", "2n", DecimalSI),
            (".001", "1m", DecimalSI),
            (".0001k", "100m", DecimalSI),
            ("1.", "1", DecimalSI),
            ("1.G", "1G", DecimalSI),
            // TestQuantityParseEmit.
            ("1Mi", "1Mi", BinarySI),
            ("1Gi", "1Gi", BinarySI),
            ("1024Mi", "1Gi", BinarySI),
            ("1000M", "1G", DecimalSI),
            (".001Ki", "1024m", BinarySI),
            (".000001Ki", "1024u", DecimalSI),
            (".000000001Ki", "1024n", DecimalSI),
            (".000000000001Ki", "2n", DecimalSI),
            // Brief examples.
            ("1.5Gi", "1536Mi", BinarySI),
            ("0.5Gi", "512Mi", BinarySI),
            ("1.5Ki", "1536", BinarySI),
            ("0.1Ki", "102400m", BinarySI),
            ("1.5", "1500m", DecimalSI),
            ("12e6", "12e6", DecimalExponent),
            ("1023", "1023", DecimalSI),
            ("2Gi", "2Gi", BinarySI),
            (".5", "500m", DecimalSI),
            ("5.", "5", DecimalSI),
        ];
        for (input, expect, format) in table {
            check_canonical(input, expect, *format);
        }
    }

    // From TestParseQuantity (values around the int64 boundaries).
    #[test]
    fn parse_large_table() {
        let table: &[(&str, &str)] = &[
            ("-999999999999999999", "-999999999999999999"),
            ("999999999999999999", "999999999999999999"),
            ("-999999999999999999.0", "-999999999999999999"),
            ("999999999999999999.1", "999999999999999999100m"),
            ("-9999999999999999999", "-9999999999999999999"),
            ("9999999999999999999", "9999999999999999999"),
            ("-1E", "-1E"),
            ("1000000000000000000", "1E"),
            ("-1000000000000000000", "-1E"),
            ("9999999999999999999.0", "9999999999999999999"),
            ("1.0E", "1E"),
            ("-1000000000000000000.0", "-1E"),
            ("9999999999999999999000m", "9999999999999999999"),
            ("-9999999999999999999.1", "-9999999999999999999100m"),
            ("1.0000000000000000001E", "1000000000000000000100m"),
            ("-1000000000000000000.1", "-1000000000000000000100m"),
            ("1.000000000000000001E", "1000000000000000001"),
            ("-1000000000000000001", "-1000000000000000001"),
            ("10E", "10E"),
            ("-10000000000000000000", "-10E"),
            ("10.0E", "10E"),
            ("10000000000000000000000m", "10E"),
            ("10.0000000000000000001E", "10000000000000000000100m"),
            ("-10.000000000000000001E", "-10000000000000000001"),
            ("-9223372036854775809", "-9223372036854775809"),
            ("9223372036854775806.0", "9223372036854775806"),
            ("-9223372036854775809000m", "-9223372036854775809"),
            ("9223372036854775806.1", "9223372036854775806100m"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("9223372036854775807", "9223372036854775807"),
            ("9223372036854775807000m", "9223372036854775807"),
            ("-9223372036854775808.1", "-9223372036854775808100m"),
            ("9223372036854775808", "9223372036854775808"),
            ("9223372036854775808.1", "9223372036854775808100m"),
        ];
        for (input, expect) in table {
            let q = p(input);
            assert_eq!(q.to_canonical_string(), *expect, "{input}");
            assert_eq!(q.to_string(), *expect, "{input}");
            assert_eq!(p(expect), q, "{input}");
        }
    }

    // TestQuantityString: constructed values, their canonical string, and an
    // alternate spelling that must canonicalize to the same string.
    #[test]
    fn string_table() {
        use Format::*;
        let gi = 1024 * 1024 * 1024;
        let table: &[(Quantity, &str, &str)] = &[
            (dq(gi, 0, BinarySI), "1Gi", "1024Mi"),
            (dq(300 * 1024 * 1024, 0, BinarySI), "300Mi", "307200Ki"),
            (dq(6 * 1024, 0, BinarySI), "6Ki", ""),
            (dq(1001 * gi, 0, BinarySI), "1001Gi", "1025024Mi"),
            (dq(1024 * gi, 0, BinarySI), "1Ti", "1024Gi"),
            (dq(5, 0, BinarySI), "5", "5000m"),
            (dq(500, -3, BinarySI), "500m", "0.5"),
            (dq(1, 9, DecimalSI), "1G", "1000M"),
            (dq(1000, 6, DecimalSI), "1G", "0.001T"),
            (dq(1_000_000, 3, DecimalSI), "1G", ""),
            (dq(1_000_000_000, 0, DecimalSI), "1G", ""),
            (dq(1, -3, DecimalSI), "1m", "1000u"),
            (dq(80, -3, DecimalSI), "80m", ""),
            (dq(1080, -3, DecimalSI), "1080m", "1.08"),
            (dq(108, -2, DecimalSI), "1080m", "1080000000n"),
            (dq(10800, -4, DecimalSI), "1080m", ""),
            (dq(300, 6, DecimalSI), "300M", ""),
            (dq(1, 12, DecimalSI), "1T", ""),
            (dq(1_234_567, 6, DecimalSI), "1234567M", ""),
            (dq(1_234_567, -3, BinarySI), "1234567m", ""),
            (dq(3, 3, DecimalSI), "3k", ""),
            (dq(1025, 0, BinarySI), "1025", ""),
            (dq(0, 0, DecimalSI), "0", ""),
            (dq(0, 0, BinarySI), "0", ""),
            (dq(1, 9, DecimalExponent), "1e9", ".001e12"),
            (dq(1, -3, DecimalExponent), "1e-3", "0.001e0"),
            (dq(1, -9, DecimalExponent), "1e-9", "1000e-12"),
            (dq(80, -3, DecimalExponent), "80e-3", ""),
            (dq(300, 6, DecimalExponent), "300e6", ""),
            (dq(1, 12, DecimalExponent), "1e12", ""),
            (dq(1, 3, DecimalExponent), "1e3", ""),
            (dq(3, 3, DecimalExponent), "3e3", ""),
            (dq(0, 0, DecimalExponent), "0", "00"),
            (dq(1, -9, DecimalSI), "1n", ""),
            (dq(80, -9, DecimalSI), "80n", ""),
            (dq(1080, -9, DecimalSI), "1080n", ""),
            (dq(108, -8, DecimalSI), "1080n", ""),
            (dq(10800, -10, DecimalSI), "1080n", ""),
            (dq(1, -6, DecimalSI), "1u", ""),
            (dq(80, -6, DecimalSI), "80u", ""),
            (dq(1080, -6, DecimalSI), "1080u", ""),
        ];
        for (q, expect, alternate) in table {
            assert_eq!(q.to_string(), *expect, "{q:?}");
            // Parsing the canonical form keeps the input string (k8s caches it).
            let parsed = p(expect);
            assert_eq!(parsed.cached.as_deref(), Some(*expect));
            assert_eq!(&parsed, q);
            if !alternate.is_empty() {
                let alt = p(alternate);
                assert!(alt.cached.is_none(), "{alternate} should not be cached");
                assert_eq!(alt.to_string(), *expect, "alternate {alternate}");
            }
            if !q.is_zero() {
                let neg = -q.clone();
                assert_eq!(neg.to_string(), format!("-{expect}"));
            }
        }
    }

    // Go returns a canonical-looking input string verbatim from String().
    #[test]
    fn remembered_input_string() {
        let table: &[(&str, &str, &str)] = &[
            // input, String(), CanonicalizeBytes()
            ("+1", "+1", "1"),
            ("01", "01", "1"),
            ("1.500k", "1.500k", "1500"),
            ("1.001", "1.001", "1001m"),
            ("1E3", "1E3", "1e3"),
            ("1e0", "1e0", "1"),
            ("1.G", "1.G", "1G"),
            ("+1Ki", "+1Ki", "1Ki"),
            ("-1Gi", "-1Gi", "-1Gi"),
            ("1000", "1k", "1k"),
            ("1024Ki", "1Mi", "1Mi"),
            ("0", "0", "0"),
            ("1.5Gi", "1536Mi", "1536Mi"),
        ];
        for (input, string, canonical) in table {
            let q = p(input);
            assert_eq!(q.to_canonical_string(), *string, "{input}");
            assert_eq!(q.to_string(), *string, "{input}");
            assert_eq!(q.canonicalize(), *canonical, "{input}");
            assert_eq!(serde_json::to_string(&q).unwrap(), format!("\"{string}\""));
        }
        // Arithmetic clears it.
        let mut q = p("+1");
        q += &Quantity::default();
        assert_eq!(q.to_string(), "1");
    }

    #[test]
    fn from_i64_cases() {
        use Format::*;
        assert_eq!(Quantity::from_i64(966_367_641, BinarySI).to_string(), "966367641");
        assert_eq!(Quantity::from_i64(1_800_000_000, DecimalSI).to_string(), "1800M");
        let v = (3_221_225_472_f64 * 0.75) as i64;
        assert_eq!(Quantity::from_i64(v, BinarySI).to_string(), "2304Mi");
        // 4Gi with a 1% memory overcommit, computed in float32 as KubeVirt does.
        let v = (4_294_967_296_f32 * (1.0 - 1.0 / 100.0)) as i64;
        assert_eq!(Quantity::from_i64(v, BinarySI).to_string(), "4152361Ki");
        // TestNewSet
        for (value, format, expect) in [
            (1, DecimalSI, "1"),
            (1000, DecimalSI, "1k"),
            (1_234_000, DecimalSI, "1234k"),
            (1024, BinarySI, "1Ki"),
            (1_000_000, DecimalExponent, "1e6"),
            (1024 * 1024, BinarySI, "1Mi"),
            (-1024, BinarySI, "-1Ki"),
            (-1023, BinarySI, "-1023"),
            (0, BinarySI, "0"),
            (i64::MAX, BinarySI, "9223372036854775807"),
            (i64::MIN, DecimalSI, "-9223372036854775808"),
        ] {
            let q = Quantity::from_i64(value, format);
            assert_eq!(q.to_string(), expect);
            assert_eq!(q.format(), format);
            assert_eq!(p(expect).value(), value);
            assert_eq!(q.as_i64(), Some(value));
        }
        // BinarySI parsing caps the magnitude at 2^63-1 (k8s maxAllowed).
        let min = Quantity::from_i64(i64::MIN, BinarySI);
        assert_eq!(min.to_string(), "-8Ei");
        assert_eq!(p("-8Ei").value(), -i64::MAX);
        assert_eq!(p("-8Ei").to_string(), "-9223372036854775807");
        // TestMilliNewSet
        for (value, format, expect) in [
            (1, DecimalSI, "1m"),
            (1000, DecimalSI, "1"),
            (1_234_000, DecimalSI, "1234"),
            (1024, BinarySI, "1024m"),
            (1_000_000, DecimalExponent, "1e3"),
            (1024 * 1024, BinarySI, "1048576m"),
        ] {
            let q = Quantity::from_milli_i64(value, format);
            assert_eq!(q.to_string(), expect);
            assert_eq!(p(expect).milli_value(), value);
        }
        // TestNewScaledSet
        for (value, scale, expect) in [
            (1, -9, "1n"),
            (1000, -9, "1u"),
            (1, -6, "1u"),
            (1000, -6, "1m"),
            (1, -3, "1m"),
            (1000, -3, "1"),
            (1, 0, "1"),
            (0, -9, "0"),
        ] {
            let q = Quantity::from_scaled_i64(value, scale);
            assert_eq!(q.to_string(), expect);
            assert_eq!(p(expect).scaled_value(scale), value);
        }
    }

    #[test]
    fn value_rounding() {
        assert_eq!(p("1500m").value(), 2);
        assert_eq!(p("-1500m").value(), -2);
        assert_eq!(p("1n").value(), 1);
        assert_eq!(p("-1n").value(), -1);
        assert_eq!(p("2").value(), 2);
        assert_eq!(p("0").value(), 0);
        assert_eq!(p("1Gi").value(), 1_073_741_824);
        assert_eq!(p("9Ei").value(), i64::MAX);
        assert_eq!(p("10E").value(), i64::MAX);
        assert_eq!(p("-10E").value(), i64::MIN);
        assert_eq!(p("-9223372036854775808").value(), i64::MIN);
        assert_eq!(p("1e10000").value(), i64::MAX);
        assert_eq!(p("1.5").milli_value(), 1500);
        assert_eq!(p("1n").milli_value(), 1);
        assert_eq!(p("1Ki").milli_value(), 1_024_000);
        assert_eq!(p("-0.1m").milli_value(), -1);
        // ScaledValue table (TestScaledValue), via NewScaledQuantity(1, from).
        for (from, to, expect) in [
            (-9, -9, 1),
            (-9, -6, 1),
            (-9, -3, 1),
            (-9, 0, 1),
            (-6, -9, 1000),
            (-3, -9, 1_000_000),
            (0, -9, 1_000_000_000),
            (0, -3, 1000),
            (2, -2, 10_000),
        ] {
            assert_eq!(Quantity::from_scaled_i64(1, from).scaled_value(to), expect);
        }
        // k8s issue apimachinery#99: 2Gi scaled to Giga rounds up.
        assert_eq!(p("2Gi").scaled_value(9), 3);
        assert_eq!(p("2Gi").scaled_value(6), 2148);
        assert_eq!(p("1500m").as_i64(), None);
        assert_eq!(p("3k").as_i64(), Some(3000));
        assert_eq!(p("10E").as_i64(), None);
    }

    #[test]
    fn ordering() {
        assert_eq!(p("1Gi"), p("1024Mi"));
        assert!(p("1G") < p("1Gi"));
        assert_eq!(p("0"), p("0Ki"));
        assert_eq!(p("0"), p("-0"));
        assert!(p("100m") > p("50m"));
        assert!(p("50m") < p("100m"));
        assert!(p("10000T") > p("100Gi"));
        assert!(p("-1") < p("0"));
        assert!(p("-2") < p("-1"));
        assert!(p("-1Gi") < p("-1G"));
        assert_eq!(p("1.5"), p("1500m"));
        assert_eq!(p("1e3"), p("1k"));
        assert!(p("0.12") < p("0.125"));
        assert!(p("0.13") > p("0.125"));
        assert!(p("1e10000") > p("9Ei"));
        assert_eq!(p("1500m").cmp_i64(1), Ordering::Greater);
        assert_eq!(p("1Ki").cmp_i64(1024), Ordering::Equal);
        let mut v = [p("1Gi"), p("-1"), p("1G"), p("500m"), p("0")];
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["-1", "0", "500m", "1G", "1Gi"]);
        // Hash agrees with Eq.
        let set: std::collections::HashSet<Quantity> = [p("1Gi"), p("1024Mi"), p("1073741824")].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn malformed() {
        let wrong = "quantities must match the regular expression \
                     '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
        let suffix = "unable to parse quantity's suffix";
        let numeric = "unable to parse numeric part of quantity";
        let table: &[(&str, &str)] = &[
            ("", wrong),
            ("1.1.M", wrong),
            ("1+1.0M", wrong),
            ("0.1mi", suffix),
            ("0.1am", wrong),
            ("aoeu", wrong),
            (".5i", suffix),
            ("1i", suffix),
            ("-3.01i", suffix),
            ("-3.01e-", suffix),
            (" 1", wrong),
            ("1 ", wrong),
            ("1e", suffix),
            ("1ee3", suffix),
            ("1e3m", wrong),
            ("1Ki3", suffix),
            ("1e99999999999999999999", suffix),
            ("Non-Numeric", wrong),
            ("1µ", wrong),
            // No digits on Go's inf.Dec path.
            ("Ei", numeric),
            ("-Pi", numeric),
            ("e-10", numeric),
        ];
        for (input, msg) in table {
            let err = Quantity::parse(input).expect_err(input);
            assert_eq!(err.to_string(), *msg, "{input:?}");
        }
        assert_eq!(Quantity::parse(""), Err(QuantityError::FormatWrong));
    }

    #[test]
    fn odd_inputs() {
        // Go's scanner accepts these as zero.
        for input in ["-", "+", ".", "-.", "00", "Ki", "e3", "m", "-0.000"] {
            let q = p(input);
            assert!(q.is_zero(), "{input}");
            assert_eq!(q.to_string(), "0", "{input}");
        }
        assert_eq!(p("Ki").format(), Format::BinarySI);
        assert_eq!(p("e3").format(), Format::DecimalExponent);

        let forty = "1234567890123456789012345678901234567890";
        let q = p(forty);
        assert_eq!(q.to_string(), forty);
        assert_eq!(p(&format!("-{forty}")).to_string(), format!("-{forty}"));
        assert_eq!(p(&format!("{forty}.5")).to_string(), format!("{forty}500m"));
        assert_eq!(q.value(), i64::MAX);
        assert!(q > p("9223372036854775807"));
        let mut sum = q.clone();
        sum += &p("1n");
        assert_eq!(sum.to_string(), format!("{forty}000000001n"));

        // Past the largest SI suffix: exponent form (kubernetes#140459).
        assert_eq!(p("1000E").to_string(), "1e21");
        assert_eq!(p(&format!("1{}", "0".repeat(39))).to_string(), "1e39");
        let mut big = p("1Ei");
        big *= 1024;
        assert_eq!(big.to_string(), "1180591620717411303424");
        assert_eq!(p(&big.to_string()), big);
        assert_eq!(dq(1, 70, Format::BinarySI).to_string(), "10e69");

        // Exponent cap.
        assert_eq!(
            Quantity::parse("1e1000000000"),
            Err(QuantityError::ExponentOutOfRange {
                exponent: 1_000_000_000
            })
        );
        assert!(matches!(
            Quantity::parse("1e-10001"),
            Err(QuantityError::ExponentOutOfRange { exponent: -10_001 })
        ));
        assert_eq!(p("1e10000").to_string(), "10e9999");
        assert_eq!(p("1e-10000").to_string(), "1e-9");
        assert_eq!(p("1e10000").canonicalize(), "10e9999");
        let tiny = format!("0.{}1", "0".repeat(100_000));
        assert_eq!(p(&tiny).to_string(), "1n");
    }

    #[test]
    fn arithmetic() {
        let mut q = Quantity::default();
        q += &p("1Gi");
        assert_eq!(q.to_string(), "1Gi");
        q -= &p("512Mi");
        assert_eq!(q.to_string(), "512Mi");
        q -= &p("1Gi");
        assert_eq!(q.to_string(), "-512Mi");
        q *= -2;
        assert_eq!(q.to_string(), "1Gi");
        let mut z = Quantity::default();
        z -= &p("100m");
        assert_eq!(z.to_string(), "-100m");
        let mut c = p("1.5");
        c += &p("-1.5");
        assert!(c.is_zero());
        assert!(!c.is_negative());
        assert_eq!(c.to_string(), "0");
        assert_eq!((-p("0")).to_string(), "0");
    }

    #[test]
    fn serde_json_roundtrip() {
        let q: Quantity = serde_json::from_str("\"1Gi\"").unwrap();
        assert_eq!(q.to_string(), "1Gi");
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"1Gi\"");
        let n: Quantity = serde_json::from_str("2147483648").unwrap();
        assert_eq!(n, p("2147483648"));
        assert_eq!(n.to_string(), "2147483648");
        // TestJSONWhitespace
        for (json, expect) in [
            ("\" 1\"", "1"),
            ("\"1 \"", "1"),
            ("1", "1"),
            (" 1", "1"),
            ("1 ", "1"),
            ("10", "10"),
            ("-1", "-1"),
            (" -1", "-1"),
            ("1.5", "1500m"),
            ("0.1", "100m"),
            ("18446744073709551615", "18446744073709551615"),
            ("null", "0"),
        ] {
            let q: Quantity = serde_json::from_str(json).unwrap();
            assert_eq!(q.to_string(), expect, "{json}");
        }
        let err = serde_json::from_str::<Quantity>("\"abc\"").unwrap_err();
        assert!(err.to_string().contains("invalid quantity \"abc\""), "{err}");
        let err = serde_json::from_str::<Quantity>("true").unwrap_err();
        assert!(err.to_string().contains("a Kubernetes quantity"), "{err}");
        let err = serde_json::from_str::<Quantity>("[1]").unwrap_err();
        assert!(err.to_string().contains("a Kubernetes quantity"), "{err}");

        #[derive(serde::Deserialize, serde::Serialize)]
        struct R {
            memory: Quantity,
            cpu: Option<Quantity>,
        }
        let r: R = serde_json::from_str(r#"{"memory":"1.5Gi","cpu":"1500m"}"#).unwrap();
        assert_eq!(r.cpu.as_ref().map(Quantity::value), Some(2));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"memory":"1536Mi","cpu":"1500m"}"#
        );
    }
}
