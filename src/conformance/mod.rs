//! Conformance against KubeVirt: runs cases in the golden format (`{"id", "vm", "instancetype",
//! "preference"}`, one JSON object per line) through the engine, writes one result line per case
//! (`{"id", "expanded", "error", "admission": {"applyCauses", "requirementsCause"}}`, the shapes of
//! KubeVirt's reference `expected.jsonl`) and, given the expected results, compares them by `id` with
//! the rules of [`compare`].
//!
//! Host-side only (reads and writes files through the caller's readers and writers); not part of the
//! wasm builds.

pub mod compare;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, BufRead, Write};
use std::panic::{self, AssertUnwindSafe};

use serde_json::{Map, Value};

use crate::engine::admission::vm_admission_checks;
use crate::engine::expand::expand;
use crate::engine::lookup::InMemorySource;
use crate::engine::options::ExpandOptions;

pub use compare::Difference;

/// Runs one case: builds the "cluster" from the case's `instancetype` and `preference` (`null` or
/// missing = absent; a namespaced object without a namespace lives in the VM's namespace), expands the
/// VM and runs the VM admission checks. Returns the result line
/// `{"id", "expanded", "error", "admission": {"applyCauses", "requirementsCause"}}` with `null` for
/// whatever is absent, or a text saying why the case itself cannot be run (not an object, no string
/// `id`, no VM object, an unusable instancetype/preference object, or the engine panicking).
pub fn run_case(case: &Value, options: &ExpandOptions) -> Result<Value, String> {
    let Some(fields) = case.as_object() else {
        return Err(format!("a case must be a JSON object, not {}", kind_of(case)));
    };
    let Some(id) = fields.get("id").and_then(Value::as_str) else {
        return Err("the case has no string \"id\"".to_owned());
    };
    let vm = match fields.get("vm") {
        Some(vm @ Value::Object(_)) => vm,
        Some(other) => {
            return Err(format!(
                "\"vm\" must be a VirtualMachine object, not {}",
                kind_of(other)
            ));
        }
        None => return Err("the case has no \"vm\"".to_owned()),
    };
    // The engine looks namespaced objects up in the VM's namespace (`""` when it has none).
    let namespace = vm
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();

    let mut source = InMemorySource::new();
    for key in ["instancetype", "preference"] {
        match fields.get(key) {
            None | Some(Value::Null) => {}
            Some(object) => source
                .insert(object.clone(), Some(namespace))
                .map_err(|error| format!("\"{key}\": {error}"))?,
        }
    }

    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let expanded = expand(vm, &source, options).map_err(|error| error.to_string());
        let checks = vm_admission_checks(vm, &source, options);
        (expanded, checks)
    }));
    let (expanded, checks) = outcome.map_err(|payload| format!("the engine panicked: {}", panic_message(&*payload)))?;

    let (expanded, error) = match expanded {
        Ok(vm) => (vm, Value::Null),
        Err(message) => (Value::Null, Value::String(message)),
    };
    let to_json = |what: &str, value: Result<Value, serde_json::Error>| {
        value.map_err(|error| format!("cannot write {what} as JSON: {error}"))
    };
    let mut admission = Map::new();
    admission.insert(
        "applyCauses".to_owned(),
        to_json("applyCauses", serde_json::to_value(&checks.apply_causes))?,
    );
    admission.insert(
        "requirementsCause".to_owned(),
        to_json("requirementsCause", serde_json::to_value(&checks.requirements_cause))?,
    );

    let mut result = Map::new();
    result.insert("id".to_owned(), Value::String(id.to_owned()));
    result.insert("expanded".to_owned(), expanded);
    result.insert("error".to_owned(), error);
    result.insert("admission".to_owned(), Value::Object(admission));
    Ok(Value::Object(result))
}

/// What went wrong with one case (or one expected line), see [`Failure`].
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The case line could not be run: not UTF-8, not JSON, not a case, a duplicate id, or the engine
    /// panicked. The text says which.
    Case(String),
    /// The expected side is unusable for this id: missing, not JSON, without an id, a duplicate, or an
    /// expected result with no case.
    Expected(String),
    /// The result differs from the expected one.
    Differences(Vec<Difference>),
}

/// One failed case (or expected line), as reported in a [`Summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The case's id, when one could be read.
    pub id: Option<String>,
    /// Which file `line` refers to: `"cases"` or `"expected"`.
    pub file: &'static str,
    /// The 1-based line of that file, when the failure comes from one line.
    pub line: Option<usize>,
    /// What went wrong.
    pub problem: Problem,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.id, self.line) {
            (Some(id), Some(line)) => write!(f, "{id} ({} line {line})", self.file)?,
            (Some(id), None) => write!(f, "{id}")?,
            (None, Some(line)) => write!(f, "{} line {line}", self.file)?,
            (None, None) => write!(f, "{}", self.file)?,
        }
        match &self.problem {
            Problem::Case(message) => write!(f, "\n  case not run: {message}"),
            Problem::Expected(message) => write!(f, "\n  {message}"),
            Problem::Differences(differences) => {
                write!(f, "\n  {} difference(s) from KubeVirt:", differences.len())?;
                differences
                    .iter()
                    .try_for_each(|difference| write!(f, "\n  {difference}"))
            }
        }
    }
}

/// The outcome of [`run_file`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Non-blank lines of the cases file.
    pub cases: usize,
    /// Whether results were compared with expected ones.
    pub compared: bool,
    /// Cases that ran and, when compared, matched their expected result.
    pub passed: usize,
    /// Everything that failed, in the order found: cases, then expected results left without a case.
    pub failures: Vec<Failure>,
}

impl Summary {
    /// Number of failures.
    pub fn failed(&self) -> usize {
        self.failures.len()
    }

    /// The closing line: `N passed, M failed`.
    pub fn closing_line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed())
    }
}

/// An input or output error that stops a run (a bad line never does).
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// Reading the cases failed.
    #[error("cannot read the cases: {0}")]
    ReadCases(#[source] io::Error),
    /// Reading the expected results failed.
    #[error("cannot read the expected results: {0}")]
    ReadExpected(#[source] io::Error),
    /// Writing a result failed.
    #[error("cannot write the results: {0}")]
    Write(#[source] io::Error),
}

/// Runs every case of a JSONL stream with KubeVirt's default cluster settings, writing one result line
/// per case to `out`, and compares with `expected` when given. See [`run_file_with_options`].
pub fn run_file(
    cases: impl BufRead,
    out: impl Write,
    expected: Option<impl BufRead>,
) -> Result<Summary, ConformanceError> {
    run_file_with_options(cases, out, expected, &ExpandOptions::default())
}

/// Runs every case of a JSONL stream (blank lines skipped), writing one line per case to `out`: the
/// [`run_case`] result, or `{"id", "caseError"}` for a line that cannot be run. With `expected`, results
/// are matched by `id` (in any order; the files are read in step, so same-order files need no buffering)
/// and compared with [`compare::compare_results`]; ids missing on either side are failures. A bad line
/// never stops the run; only reading or writing does.
pub fn run_file_with_options(
    mut cases: impl BufRead,
    mut out: impl Write,
    expected: Option<impl BufRead>,
    options: &ExpandOptions,
) -> Result<Summary, ConformanceError> {
    let mut summary = Summary {
        compared: expected.is_some(),
        ..Summary::default()
    };
    let mut expected = expected.map(ExpectedReader::new);
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut buffer = Vec::new();
    let mut line_number = 0;

    while let Some(line) = next_line(&mut cases, &mut buffer).map_err(ConformanceError::ReadCases)? {
        line_number += 1;
        let Some(line) = line else {
            summary.cases += 1;
            write_case_error(&mut out, None, "the line is not valid UTF-8")?;
            summary.failures.push(case_failure(
                None,
                line_number,
                "the line is not valid UTF-8".to_owned(),
            ));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        summary.cases += 1;

        let case: Value = match serde_json::from_str(&line) {
            Ok(case) => case,
            Err(error) => {
                let message = format!("not valid JSON: {error}");
                write_case_error(&mut out, None, &message)?;
                summary.failures.push(case_failure(None, line_number, message));
                continue;
            }
        };
        let id = case.get("id").and_then(Value::as_str).map(str::to_owned);
        if let Some(id) = &id {
            if let Some(first) = seen_ids.get(id) {
                let message = format!("duplicate id (first on line {first})");
                write_case_error(&mut out, Some(id), &message)?;
                summary
                    .failures
                    .push(case_failure(Some(id.clone()), line_number, message));
                continue;
            }
            seen_ids.insert(id.clone(), line_number);
        }

        // Each id takes its expected result, even when the case itself cannot run.
        let expected_result = match (&mut expected, &id) {
            (Some(reader), Some(id)) => Some(reader.take(id)?),
            _ => None,
        };
        if let Some(reader) = &mut expected {
            summary.failures.append(&mut reader.problems);
        }

        let result = match run_case(&case, options) {
            Ok(result) => result,
            Err(message) => {
                write_case_error(&mut out, id.as_deref(), &message)?;
                summary.failures.push(case_failure(id, line_number, message));
                continue;
            }
        };
        write_line(&mut out, &result)?;

        match expected_result {
            None => summary.passed += 1,
            Some(None) => summary.failures.push(Failure {
                id,
                file: "cases",
                line: Some(line_number),
                problem: Problem::Expected("no expected result has this id".to_owned()),
            }),
            Some(Some(expected_value)) => {
                let differences = compare::compare_results(&expected_value, &result);
                if differences.is_empty() {
                    summary.passed += 1;
                } else {
                    summary.failures.push(Failure {
                        id,
                        file: "cases",
                        line: Some(line_number),
                        problem: Problem::Differences(differences),
                    });
                }
            }
        }
    }

    if let Some(reader) = expected {
        summary.failures.extend(reader.finish()?);
    }
    out.flush().map_err(ConformanceError::Write)?;
    Ok(summary)
}

/// The expected results, read in step with the cases: lines read ahead of their case wait in `pending`.
struct ExpectedReader<R> {
    reader: R,
    buffer: Vec<u8>,
    line_number: usize,
    /// Results read but not asked for yet, by id, with their line.
    pending: HashMap<String, (usize, Value)>,
    /// Ids already handed out.
    taken: HashSet<String>,
    /// Unusable lines found while reading, not yet reported.
    problems: Vec<Failure>,
}

impl<R: BufRead> ExpectedReader<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buffer: Vec::new(),
            line_number: 0,
            pending: HashMap::new(),
            taken: HashSet::new(),
            problems: Vec::new(),
        }
    }

    /// The expected result for `id`, reading ahead as far as needed; `None` when there is none.
    fn take(&mut self, id: &str) -> Result<Option<Value>, ConformanceError> {
        if let Some((_, value)) = self.pending.remove(id) {
            self.taken.insert(id.to_owned());
            return Ok(Some(value));
        }
        while let Some((line, value)) = self.next_result()? {
            let Some(found) = value.get("id").and_then(Value::as_str).map(str::to_owned) else {
                self.problem(None, line, "the expected result has no string \"id\"".to_owned());
                continue;
            };
            if found == id {
                self.taken.insert(found);
                return Ok(Some(value));
            }
            self.hold(found, line, value);
        }
        Ok(None)
    }

    /// Reads what is left; every result no case asked for is a failure.
    fn finish(mut self) -> Result<Vec<Failure>, ConformanceError> {
        while let Some((line, value)) = self.next_result()? {
            match value.get("id").and_then(Value::as_str).map(str::to_owned) {
                Some(found) => self.hold(found, line, value),
                None => self.problem(None, line, "the expected result has no string \"id\"".to_owned()),
            }
        }
        let mut leftovers: Vec<(String, usize)> = self.pending.drain().map(|(id, (line, _))| (id, line)).collect();
        leftovers.sort_by_key(|(_, line)| *line);
        for (id, line) in leftovers {
            self.problem(Some(id), line, "an expected result with no case of this id".to_owned());
        }
        Ok(self.problems)
    }

    /// Keeps a result read ahead of its case (a second one for the same id is a failure).
    fn hold(&mut self, id: String, line: usize, value: Value) {
        if self.taken.contains(&id) {
            self.problem(
                Some(id),
                line,
                "a duplicate expected result for an id already compared".to_owned(),
            );
        } else if let Some((first, _)) = self.pending.get(&id) {
            let message = format!("a duplicate expected result (first on line {first})");
            self.problem(Some(id), line, message);
        } else {
            self.pending.insert(id, (line, value));
        }
    }

    /// The next parsed non-blank line with its number; unreadable lines are recorded and skipped.
    fn next_result(&mut self) -> Result<Option<(usize, Value)>, ConformanceError> {
        while let Some(line) = next_line(&mut self.reader, &mut self.buffer).map_err(ConformanceError::ReadExpected)? {
            self.line_number += 1;
            let line_number = self.line_number;
            let Some(line) = line else {
                self.problem(None, line_number, "the line is not valid UTF-8".to_owned());
                continue;
            };
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(value) => return Ok(Some((line_number, value))),
                Err(error) => self.problem(None, line_number, format!("not valid JSON: {error}")),
            }
        }
        Ok(None)
    }

    fn problem(&mut self, id: Option<String>, line: usize, message: String) {
        self.problems.push(Failure {
            id,
            file: "expected",
            line: Some(line),
            problem: Problem::Expected(message),
        });
    }
}

/// The next line without its line ending: `Ok(None)` at the end, `Ok(Some(None))` for a line that is
/// not UTF-8.
fn next_line(reader: &mut impl BufRead, buffer: &mut Vec<u8>) -> io::Result<Option<Option<String>>> {
    buffer.clear();
    if reader.read_until(b'\n', buffer)? == 0 {
        return Ok(None);
    }
    while matches!(buffer.last(), Some(b'\n' | b'\r')) {
        buffer.pop();
    }
    Ok(Some(String::from_utf8(std::mem::take(buffer)).ok()))
}

fn case_failure(id: Option<String>, line: usize, message: String) -> Failure {
    Failure {
        id,
        file: "cases",
        line: Some(line),
        problem: Problem::Case(message),
    }
}

/// Writes `{"id", "caseError"}` for a case line that could not be run.
fn write_case_error(out: &mut impl Write, id: Option<&str>, message: &str) -> Result<(), ConformanceError> {
    let mut line = Map::new();
    line.insert(
        "id".to_owned(),
        id.map_or(Value::Null, |id| Value::String(id.to_owned())),
    );
    line.insert("caseError".to_owned(), Value::String(message.to_owned()));
    write_line(out, &Value::Object(line))
}

fn write_line(out: &mut impl Write, value: &Value) -> Result<(), ConformanceError> {
    serde_json::to_writer(&mut *out, value).map_err(|error| ConformanceError::Write(error.into()))?;
    out.write_all(b"\n").map_err(ConformanceError::Write)
}

/// The JSON type of a value, for messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}
