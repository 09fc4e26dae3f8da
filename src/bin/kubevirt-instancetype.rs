//! `kubevirt-instancetype`: expands a VirtualMachine with its instancetype and preference the way
//! `virtctl expand` does, and runs conformance cases against KubeVirt's reference output.
//!
//! Run `kubevirt-instancetype --help` for the commands.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

/// The command line makes no sense on wasm targets (the library is what they ship).
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::fs::File;
    use std::io::{self, BufReader, Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use kubevirt_instancetype::conformance::{self, ConformanceError};
    use kubevirt_instancetype::engine::expand::expand;
    use kubevirt_instancetype::engine::lookup::InMemorySource;
    use kubevirt_instancetype::engine::options::ExpandOptions;
    use serde_json::Value;

    const NAME: &str = "kubevirt-instancetype";

    const HELP: &str = "\
kubevirt-instancetype: KubeVirt instancetype & preference expansion, without a cluster

Usage:
  kubevirt-instancetype expand --vm <vm.json> [--objects <file.json>...] [--namespace <ns>] [--no-defaults] [--no-infer]
                               [--allow-cross-namespace-inference]
  kubevirt-instancetype conformance --cases <cases.jsonl> --out <results.jsonl> [--expected <expected.jsonl>]
  kubevirt-instancetype help [<command>]

Commands:
  expand        Expand a VirtualMachine with its instancetype and preference (like `virtctl expand`)
                and print it as JSON.
  conformance   Run cases in KubeVirt's golden format through the engine and compare with the
                expected results.

Options:
  -h, --help     Print help (also after a command: `kubevirt-instancetype expand --help`)
  -V, --version  Print the version

Exit status: 0 success, 1 expansion error or failed cases, 2 usage or file error.
";

    const EXPAND_HELP: &str = "\
kubevirt-instancetype expand: expand a VirtualMachine the way `virtctl expand` does

Usage:
  kubevirt-instancetype expand --vm <vm.json> [--objects <file.json>...] [--namespace <ns>] [--no-defaults] [--no-infer]
                               [--allow-cross-namespace-inference]

Options:
  --vm <file>           The VirtualMachine, as JSON (`-` reads standard input).
  --objects <file>...   The \"cluster\": files each holding one object, a JSON array of objects or a
                        `List` (`items`): instancetypes, preferences, ControllerRevisions, PVCs,
                        DataVolumes, DataSources... Repeatable, and takes several files at once, e.g.
                        --objects data/common-instancetypes/common-clusterinstancetypes-bundle.json \\
                                  data/common-instancetypes/common-clusterpreferences-bundle.json
  --namespace <ns>      The VM's namespace when it has none (default: `default`), also given to
                        namespaced objects that have none. Must agree with the VM's own namespace.
  --no-defaults         Skip KubeVirt's VMI defaults (architecture, machine type, CPU topology,
                        default disks/interface...): only what the instancetype and preference own
                        is written.
  --no-infer            Do not infer `inferFromVolume` matchers from the volumes' labels (PVCs,
                        DataVolumes, DataSources among the objects) before expanding. Inferring is
                        what KubeVirt's VM webhook does when the VM is admitted; `virtctl expand`
                        itself (and `conformance`) never infers, and looks such a matcher up by its
                        empty name.
  --allow-cross-namespace-inference
                        Let inference follow a volume's references into other namespaces (a
                        DataVolume template's `sourceRef.namespace`, `source.pvc.namespace`...), as
                        KubeVirt does. Off, such a reference is an error.
  -h, --help            Print this help.

Files are JSON only (convert YAML first, e.g. `yq -o=json vm.yaml > vm.json`). The expanded VM goes
to standard output; an expansion error (KubeVirt's message) to standard error with exit status 1.
";

    const CONFORMANCE_HELP: &str = "\
kubevirt-instancetype conformance: run golden cases through the engine

Usage:
  kubevirt-instancetype conformance --cases <cases.jsonl> --out <results.jsonl> [--expected <expected.jsonl>]

Options:
  --cases <file>      One case per line: {\"id\", \"vm\", \"instancetype\", \"preference\"}.
  --out <file>        Where to write one result per case:
                      {\"id\", \"expanded\", \"error\", \"admission\": {\"applyCauses\", \"requirementsCause\"}}
                      (or {\"id\", \"caseError\"} for a line that cannot be run).
  --expected <file>   KubeVirt's results for the same ids (any order): compare, print a diff per
                      failing case and close with `N passed, M failed`.
  -h, --help          Print this help.

Comparison follows the rules of the golden data's README (parsed JSON, Go `omitempty` zero values,
always-present empty structs). Exit status: 0 all passed, 1 any failed, 2 usage or file error.
";

    /// Why the command line could not be carried out.
    enum Failure {
        /// Bad arguments: message, and the help to point at.
        Usage(String, &'static str),
        /// A file could not be read or written, or holds something unusable.
        Input(String),
    }

    pub fn main() -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match run(&args) {
            Ok(code) => code,
            Err(Failure::Usage(message, command)) => {
                let hint = if command.is_empty() {
                    format!("{NAME} --help")
                } else {
                    format!("{NAME} {command} --help")
                };
                print_err(&format!("error: {message}\n\nRun `{hint}` for usage."));
                ExitCode::from(2)
            }
            Err(Failure::Input(message)) => {
                print_err(&format!("error: {message}"));
                ExitCode::from(2)
            }
        }
    }

    fn run(args: &[String]) -> Result<ExitCode, Failure> {
        let Some((command, rest)) = args.split_first() else {
            print_err(HELP);
            return Err(Failure::Usage("no command given".to_owned(), ""));
        };
        match command.as_str() {
            "-h" | "--help" => help(HELP),
            "-V" | "--version" => {
                print_out(&format!("{NAME} {}", env!("CARGO_PKG_VERSION")));
                Ok(ExitCode::SUCCESS)
            }
            "help" => match rest.first().map(String::as_str) {
                None => help(HELP),
                Some("expand") => help(EXPAND_HELP),
                Some("conformance") => help(CONFORMANCE_HELP),
                Some(other) => Err(Failure::Usage(format!("no command `{other}`"), "")),
            },
            "expand" => run_expand(rest),
            "conformance" => run_conformance(rest),
            other if other.starts_with('-') => Err(Failure::Usage(format!("expected a command before `{other}`"), "")),
            other => Err(Failure::Usage(
                format!("unknown command `{other}` (commands: expand, conformance)"),
                "",
            )),
        }
    }

    fn help(text: &str) -> Result<ExitCode, Failure> {
        print_out(text.trim_end());
        Ok(ExitCode::SUCCESS)
    }

    /// The options of one command, as parsed.
    #[derive(Default)]
    struct Parsed {
        values: Vec<(String, String)>,
        switches: Vec<String>,
        help: bool,
    }

    impl Parsed {
        /// The last value of `--name`, if given.
        fn value(&self, name: &str) -> Option<&str> {
            self.values
                .iter()
                .rev()
                .find(|(flag, _)| flag == name)
                .map(|(_, value)| value.as_str())
        }

        /// Every value of `--name`, in order.
        fn values(&self, name: &str) -> Vec<&str> {
            self.values
                .iter()
                .filter(|(flag, _)| flag == name)
                .map(|(_, value)| value.as_str())
                .collect()
        }

        fn switch(&self, name: &str) -> bool {
            self.switches.iter().any(|flag| flag == name)
        }
    }

    /// Parses `--flag value`, `--flag=value`, switches, and flags in `multi` that take every following
    /// argument up to the next `--flag`.
    fn parse(
        args: &[String],
        command: &'static str,
        with_value: &[&str],
        multi: &[&str],
        switches: &[&str],
    ) -> Result<Parsed, Failure> {
        let usage = |message: String| Failure::Usage(message, command);
        let mut parsed = Parsed::default();
        let mut index = 0;
        while let Some(arg) = args.get(index) {
            index += 1;
            if arg == "-h" || arg == "--help" {
                parsed.help = true;
                continue;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            if !flag.starts_with('-') || flag == "-" {
                return Err(usage(format!("unexpected argument `{arg}`")));
            }
            if switches.contains(&flag) {
                if inline.is_some() {
                    return Err(usage(format!("`{flag}` takes no value")));
                }
                parsed.switches.push(flag.to_owned());
            } else if with_value.contains(&flag) {
                let value = match inline {
                    Some(value) => value,
                    None => match args.get(index).filter(|next| !next.starts_with("--")) {
                        Some(next) => {
                            index += 1;
                            next.clone()
                        }
                        None => return Err(usage(format!("`{flag}` needs a value"))),
                    },
                };
                parsed.values.push((flag.to_owned(), value));
            } else if multi.contains(&flag) {
                let mut taken = 0;
                if let Some(value) = inline {
                    parsed.values.push((flag.to_owned(), value));
                    taken += 1;
                }
                while let Some(next) = args.get(index).filter(|next| !next.starts_with('-') || *next == "-") {
                    parsed.values.push((flag.to_owned(), next.clone()));
                    taken += 1;
                    index += 1;
                }
                if taken == 0 {
                    return Err(usage(format!("`{flag}` needs at least one value")));
                }
            } else {
                let known: Vec<&str> = with_value.iter().chain(multi).chain(switches).copied().collect();
                return Err(usage(format!(
                    "unknown option `{flag}` (options: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(parsed)
    }

    fn run_expand(args: &[String]) -> Result<ExitCode, Failure> {
        let parsed = parse(
            args,
            "expand",
            &["--vm", "--namespace"],
            &["--objects"],
            &["--no-defaults", "--no-infer", "--allow-cross-namespace-inference"],
        )?;
        if parsed.help {
            return help(EXPAND_HELP);
        }
        let Some(vm_path) = parsed.value("--vm") else {
            return Err(Failure::Usage("`--vm <vm.json>` is required".to_owned(), "expand"));
        };
        let mut vm = read_json(vm_path)?;
        if !vm.is_object() {
            return Err(Failure::Input(format!(
                "{vm_path}: the VirtualMachine must be a JSON object"
            )));
        }

        let namespace = vm_namespace(&mut vm, vm_path, parsed.value("--namespace"))?;
        let mut source = InMemorySource::new();
        for path in parsed.values("--objects") {
            load_objects(&mut source, path, &namespace)?;
        }

        let options = ExpandOptions {
            vmi_defaults: !parsed.switch("--no-defaults"),
            infer_from_volumes: !parsed.switch("--no-infer"),
            allow_cross_namespace_inference: parsed.switch("--allow-cross-namespace-inference"),
            ..ExpandOptions::default()
        };
        match expand(&vm, &source, &options) {
            Ok(expanded) => match serde_json::to_string_pretty(&expanded) {
                Ok(text) => {
                    print_out(&text);
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Err(Failure::Input(format!("cannot write the expanded VM: {error}"))),
            },
            Err(error) => {
                print_err(&format!("error: {error}"));
                Ok(ExitCode::FAILURE)
            }
        }
    }

    /// The VM's namespace: its own, else `--namespace`, else `default` (written into the VM, as the API
    /// server would); `--namespace` must agree with a namespace the VM has.
    fn vm_namespace(vm: &mut Value, vm_path: &str, requested: Option<&str>) -> Result<String, Failure> {
        let own = vm
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty());
        match (own, requested) {
            (Some(own), Some(requested)) if own != requested => Err(Failure::Input(format!(
                "{vm_path}: the VirtualMachine's namespace `{own}` does not match --namespace `{requested}`"
            ))),
            (Some(own), _) => Ok(own.to_owned()),
            (None, requested) => {
                let namespace = requested.unwrap_or("default").to_owned();
                let Some(fields) = vm.as_object_mut() else {
                    return Err(Failure::Input(format!(
                        "{vm_path}: the VirtualMachine must be a JSON object"
                    )));
                };
                let metadata = fields
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                match metadata {
                    Value::Object(metadata) => {
                        metadata.insert("namespace".to_owned(), Value::String(namespace.clone()));
                    }
                    Value::Null => {
                        *metadata = serde_json::json!({ "namespace": namespace });
                    }
                    _ => return Err(Failure::Input(format!("{vm_path}: `metadata` must be an object"))),
                }
                Ok(namespace)
            }
        }
    }

    /// Adds every object of one file: a single object, a JSON array of objects, or a `List`.
    fn load_objects(source: &mut InMemorySource, path: &str, namespace: &str) -> Result<(), Failure> {
        let document = read_json(path)?;
        let objects = match document {
            Value::Array(items) => items,
            Value::Object(ref fields)
                if fields
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|kind| kind.ends_with("List")) =>
            {
                match fields.get("items") {
                    Some(Value::Array(items)) => items.clone(),
                    _ => return Err(Failure::Input(format!("{path}: a List without an `items` array"))),
                }
            }
            object @ Value::Object(_) => vec![object],
            _ => {
                return Err(Failure::Input(format!(
                    "{path}: expected an object, a JSON array of objects or a List"
                )));
            }
        };
        for (index, object) in objects.into_iter().enumerate() {
            source
                .insert(object, Some(namespace))
                .map_err(|error| Failure::Input(format!("{path}: object #{} of the file: {error}", index + 1)))?;
        }
        Ok(())
    }

    /// Reads and parses one JSON file (`-`: standard input); errors name the file.
    fn read_json(path: &str) -> Result<Value, Failure> {
        let mut text = String::new();
        let read = if path == "-" {
            io::stdin().read_to_string(&mut text)
        } else {
            File::open(path).and_then(|mut file| file.read_to_string(&mut text))
        };
        let name = if path == "-" { "standard input" } else { path };
        read.map_err(|error| Failure::Input(format!("{name}: cannot read: {error}")))?;
        serde_json::from_str(&text).map_err(|error| {
            let first = text.trim_start().chars().next();
            let hint = if matches!(first, Some('{' | '[') | None) {
                ""
            } else {
                " (only JSON is read: convert YAML first, e.g. `yq -o=json file.yaml`)"
            };
            Failure::Input(format!("{name}: not valid JSON: {error}{hint}"))
        })
    }

    fn run_conformance(args: &[String]) -> Result<ExitCode, Failure> {
        let parsed = parse(args, "conformance", &["--cases", "--out", "--expected"], &[], &[])?;
        if parsed.help {
            return help(CONFORMANCE_HELP);
        }
        let (Some(cases_path), Some(out_path)) = (parsed.value("--cases"), parsed.value("--out")) else {
            return Err(Failure::Usage(
                "`--cases <file>` and `--out <file>` are required".to_owned(),
                "conformance",
            ));
        };
        let expected_path = parsed.value("--expected");

        let open = |path: &str| {
            File::open(path)
                .map(BufReader::new)
                .map_err(|error| Failure::Input(format!("{path}: cannot open: {error}")))
        };
        let cases = open(cases_path)?;
        let expected = expected_path.map(open).transpose()?;
        let out_file = Path::new(out_path);
        if let Some(parent) = out_file.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|error| Failure::Input(format!("{}: cannot create: {error}", parent.display())))?;
        }
        let out = File::create(PathBuf::from(out_path))
            .map(io::BufWriter::new)
            .map_err(|error| Failure::Input(format!("{out_path}: cannot create: {error}")))?;

        let summary = conformance::run_file(cases, out, expected).map_err(|error| {
            Failure::Input(match error {
                ConformanceError::ReadCases(error) => format!("{cases_path}: cannot read: {error}"),
                ConformanceError::ReadExpected(error) => {
                    format!("{}: cannot read: {error}", expected_path.unwrap_or("expected results"))
                }
                ConformanceError::Write(error) => format!("{out_path}: cannot write: {error}"),
            })
        })?;

        let mut report = String::new();
        for failure in &summary.failures {
            report.push_str(&format!("FAIL {failure}\n\n"));
        }
        if !summary.compared {
            report.push_str(&format!(
                "{} result(s) written to {out_path}; no --expected given, nothing compared\n",
                summary.cases
            ));
        }
        report.push_str(&summary.closing_line());
        print_out(&report);
        Ok(if summary.failed() == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    /// Prints a line to standard output; a closed pipe is not worth a panic.
    fn print_out(text: &str) {
        let _ = writeln!(io::stdout().lock(), "{text}");
    }

    /// Prints a line to standard error.
    fn print_err(text: &str) {
        let _ = writeln!(io::stderr().lock(), "{text}");
    }
}
