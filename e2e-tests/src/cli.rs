//! `kwrun`'s command line, modelled on `kwctl run` so the same fixtures and flags work with both.
//!
//! ```text
//! kwrun run -r request.json [--settings-json '{...}' | -s settings.yml] [--allow-context-aware]
//!           [--replay-host-capabilities-interactions session.yml] policy.wasm
//! ```
//!
//! Flags kwctl has and kwrun takes: `-r/--request-path` (required, `-` for stdin), `-s/--settings-path`
//! (YAML or JSON), `--settings-json`, `--allow-context-aware`, `--replay-host-capabilities-interactions`,
//! `-e/--execution-mode kubewarden` (the only mode), `--disable-wasmtime-cache` (accepted, no effect: kwrun
//! never caches). The policy is a local path or `file://` URI.
//!
//! kwrun's own flags: `-m/--metadata-path`, `--policy-timeout`, `--print-patch`, `--print-mutated-object`,
//! `--print-policy-logs`, `--fail-on-replay-error`, `--require-session-consumed`, `-q/--quiet`.
//!
//! stdout carries exactly what kwctl prints: the AdmissionResponse as one line of JSON. Everything else goes
//! to stderr. Exit codes: [`EXIT_OK`], [`EXIT_ERROR`], [`EXIT_USAGE`], [`EXIT_REPLAY_ERROR`],
//! [`EXIT_SESSION_NOT_CONSUMED`].

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Arg, ArgAction, ArgGroup, Command};
use serde_json::Value;

use crate::admission::settings_from_value;
use crate::error::HarnessError;
use crate::metadata::PolicyMetadata;
use crate::runner::{PreparedPolicy, RunConfig, RunOutcome};
use crate::session::Session;

/// The policy was evaluated (whatever the verdict), as kwctl.
pub const EXIT_OK: i32 = 0;
/// Bad input, a module that does not load, or settings the policy refused (kwctl exits non-zero too).
pub const EXIT_ERROR: i32 = 1;
/// Bad command line.
pub const EXIT_USAGE: i32 = 2;
/// `--fail-on-replay-error` and a host call did not match the session (or ran past its end).
pub const EXIT_REPLAY_ERROR: i32 = 3;
/// `--require-session-consumed` and exchanges were left over.
pub const EXIT_SESSION_NOT_CONSUMED: i32 = 4;

/// `kwrun run` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArgs {
    /// `-r/--request-path`; `-` reads stdin.
    pub request_path: String,
    /// `-s/--settings-path`.
    pub settings_path: Option<PathBuf>,
    /// `--settings-json`.
    pub settings_json: Option<String>,
    /// `--allow-context-aware`.
    pub allow_context_aware: bool,
    /// `--replay-host-capabilities-interactions`.
    pub replay_session: Option<PathBuf>,
    /// The policy path or `file://` URI.
    pub policy: String,
    /// `-m/--metadata-path` (kwrun).
    pub metadata_path: Option<PathBuf>,
    /// `--policy-timeout` in seconds (kwrun).
    pub timeout: Option<Duration>,
    /// `--print-patch` (kwrun).
    pub print_patch: bool,
    /// `--print-mutated-object` (kwrun).
    pub print_mutated_object: bool,
    /// `--print-policy-logs` (kwrun).
    pub print_policy_logs: bool,
    /// `--fail-on-replay-error` (kwrun).
    pub fail_on_replay_error: bool,
    /// `--require-session-consumed` (kwrun).
    pub require_session_consumed: bool,
    /// `-q/--quiet` (kwrun): no summary, notes or warnings on stderr.
    pub quiet: bool,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliCommand {
    /// `kwrun run ...`.
    Run(RunArgs),
}

fn run_command() -> Command {
    Command::new("run")
        .about("Runs a Kubewarden waPC policy module locally, like `kwctl run` (no network, no kwctl)")
        .arg(
            Arg::new("request-path")
                .long("request-path")
                .short('r')
                .value_name("PATH")
                .required(true)
                .help("File containing the Kubernetes admission request object in JSON format ('-' for stdin)"),
        )
        .arg(
            Arg::new("settings-path")
                .long("settings-path")
                .short('s')
                .value_name("PATH")
                .help("File containing the settings for this policy (YAML or JSON)"),
        )
        .arg(
            Arg::new("settings-json")
                .long("settings-json")
                .value_name("VALUE")
                .help("JSON string containing the settings for this policy"),
        )
        .group(ArgGroup::new("settings").args(["settings-path", "settings-json"]).multiple(false))
        .arg(
            Arg::new("allow-context-aware")
                .long("allow-context-aware")
                .action(ArgAction::SetTrue)
                .help("Grant access to the Kubernetes resources in the policy's `contextAwareResources` metadata"),
        )
        .arg(
            Arg::new("replay-host-capabilities-interactions")
                .long("replay-host-capabilities-interactions")
                .value_name("FILE")
                .help("Answer host capability calls from this kwctl session file, strictly in order"),
        )
        .arg(
            Arg::new("execution-mode")
                .long("execution-mode")
                .short('e')
                .value_name("MODE")
                .value_parser(["kubewarden"])
                .help("The runtime to use; kwrun only runs waPC ('kubewarden') policies"),
        )
        .arg(
            Arg::new("disable-wasmtime-cache")
                .long("disable-wasmtime-cache")
                .action(ArgAction::SetTrue)
                .help("Accepted for kwctl compatibility; kwrun never uses a cache"),
        )
        .arg(
            Arg::new("metadata-path")
                .long("metadata-path")
                .short('m')
                .value_name("PATH")
                .help("[kwrun] Policy metadata (policy-metadata.yml) to take contextAwareResources from, for modules not annotated by kwctl"),
        )
        .arg(
            Arg::new("policy-timeout")
                .long("policy-timeout")
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(u64).range(1..))
                .help("[kwrun] Interrupt a guest call after this many seconds (kwctl has no limit)"),
        )
        .arg(
            Arg::new("print-patch")
                .long("print-patch")
                .action(ArgAction::SetTrue)
                .help("[kwrun] Print the decoded JSON patch to stderr"),
        )
        .arg(
            Arg::new("print-mutated-object")
                .long("print-mutated-object")
                .action(ArgAction::SetTrue)
                .help("[kwrun] Print the request object with the patch applied to stderr"),
        )
        .arg(
            Arg::new("print-policy-logs")
                .long("print-policy-logs")
                .action(ArgAction::SetTrue)
                .help("[kwrun] Print kubewarden/tracing/log records to stderr"),
        )
        .arg(
            Arg::new("fail-on-replay-error")
                .long("fail-on-replay-error")
                .action(ArgAction::SetTrue)
                .help("[kwrun] Exit 3 if a host call did not match the session or ran past its end"),
        )
        .arg(
            Arg::new("require-session-consumed")
                .long("require-session-consumed")
                .action(ArgAction::SetTrue)
                .help("[kwrun] Exit 4 if recorded exchanges were not replayed (kwctl only warns)"),
        )
        .arg(
            Arg::new("quiet")
                .long("quiet")
                .short('q')
                .action(ArgAction::SetTrue)
                .help("[kwrun] No summary, notes or warnings on stderr"),
        )
        .arg(Arg::new("policy").value_name("POLICY").required(true).help("Policy module: a path or file:// URI"))
}

/// The whole `kwrun` command (for `--help` and parsing).
pub fn command() -> Command {
    Command::new("kwrun")
        .about("Runs Kubewarden waPC policy modules the way kwctl/policy-server do, answering host calls from kwctl replay sessions")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(run_command())
}

/// Parses a command line (the first item is the program name).
pub fn parse_args<I, T>(args: I) -> Result<CliCommand, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    let Some(("run", m)) = matches.subcommand() else {
        return Err(command().error(
            clap::error::ErrorKind::MissingSubcommand,
            "expected the `run` subcommand",
        ));
    };
    let string = |id: &str| m.get_one::<String>(id).cloned();
    let path = |id: &str| m.get_one::<String>(id).map(PathBuf::from);
    let flag = |id: &str| m.get_flag(id);
    Ok(CliCommand::Run(RunArgs {
        request_path: string("request-path").unwrap_or_default(),
        settings_path: path("settings-path"),
        settings_json: string("settings-json"),
        allow_context_aware: flag("allow-context-aware"),
        replay_session: path("replay-host-capabilities-interactions"),
        policy: string("policy").unwrap_or_default(),
        metadata_path: path("metadata-path"),
        timeout: m.get_one::<u64>("policy-timeout").map(|s| Duration::from_secs(*s)),
        print_patch: flag("print-patch"),
        print_mutated_object: flag("print-mutated-object"),
        print_policy_logs: flag("print-policy-logs"),
        fail_on_replay_error: flag("fail-on-replay-error"),
        require_session_consumed: flag("require-session-consumed"),
        quiet: flag("quiet"),
    }))
}

/// Resolves the positional policy argument to a local path (`file://` stripped; remote URIs refused).
pub fn policy_path(policy: &str) -> Result<PathBuf, HarnessError> {
    if let Some(path) = policy.strip_prefix("file://") {
        return Ok(PathBuf::from(path));
    }
    if let Some((scheme, _)) = policy.split_once("://") {
        return Err(HarnessError::Unsupported(format!(
            "kwrun runs local policy files only; `{scheme}://` URIs need kwctl (got {policy})"
        )));
    }
    Ok(PathBuf::from(policy))
}

fn read_text(what: &'static str, path: &Path) -> Result<String, HarnessError> {
    std::fs::read_to_string(path).map_err(|source| HarnessError::ReadFile {
        what,
        path: path.to_path_buf(),
        source,
    })
}

impl RunArgs {
    /// Reads every input file except the module and builds the [`RunConfig`]; `stdin` is used for `-r -`.
    pub fn to_run_config(&self, stdin: &mut dyn Read) -> Result<RunConfig, HarnessError> {
        let (request_text, request_source) = if self.request_path == "-" {
            let mut buffer = String::new();
            stdin
                .read_to_string(&mut buffer)
                .map_err(|source| HarnessError::ReadFile {
                    what: "request from",
                    path: PathBuf::from("stdin"),
                    source,
                })?;
            (buffer, "<stdin>".to_owned())
        } else {
            let path = PathBuf::from(&self.request_path);
            (read_text("request file", &path)?, self.request_path.clone())
        };
        let request: Value = serde_json::from_str(&request_text).map_err(|e| HarnessError::InvalidRequest {
            source_name: request_source.clone(),
            message: format!("not valid JSON: {e}"),
        })?;

        let settings_value: Value = if let Some(path) = &self.settings_path {
            let text = read_text("settings file", path)?;
            serde_yaml::from_str(&text).map_err(|e| {
                HarnessError::InvalidSettings(format!("Cannot parse settings file {}: {e}", path.display()))
            })?
        } else if let Some(json) = &self.settings_json {
            serde_json::from_str(json)
                .map_err(|e| HarnessError::InvalidSettings(format!("Cannot parse settings JSON: {e}")))?
        } else {
            Value::Null
        };
        let settings = settings_from_value(settings_value).map_err(HarnessError::InvalidSettings)?;

        let metadata_override = match &self.metadata_path {
            Some(path) => Some(
                PolicyMetadata::from_yaml_or_json(&read_text("metadata file", path)?).map_err(|message| {
                    HarnessError::Metadata {
                        source_name: path.display().to_string(),
                        message,
                    }
                })?,
            ),
            None => None,
        };
        let session = self.replay_session.as_deref().map(Session::from_path).transpose()?;
        Ok(RunConfig {
            request,
            request_source,
            settings,
            allow_context_aware: self.allow_context_aware,
            metadata_override,
            session,
            timeout: self.timeout,
            echo_policy_logs: self.print_policy_logs,
        })
    }
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<cannot serialize: {e}>"))
}

/// Writes the stderr report (summary, notes, replay problems, optional patch/object).
pub fn write_report(args: &RunArgs, outcome: &RunOutcome, err: &mut dyn Write) -> std::io::Result<()> {
    if args.print_patch {
        match &outcome.patch {
            Some(patch) => writeln!(err, "--- JSON patch (decoded) ---\n{}", pretty(patch))?,
            None => writeln!(err, "--- JSON patch: none ---")?,
        }
    }
    if args.print_mutated_object {
        match &outcome.patched_object {
            Some(object) => writeln!(
                err,
                "--- mutated object (request object + patch) ---\n{}",
                pretty(object)
            )?,
            None => writeln!(err, "--- mutated object: none (no patch) ---")?,
        }
    }
    if args.quiet {
        return Ok(());
    }
    for note in &outcome.notes {
        writeln!(err, "kwrun: note: {note}")?;
    }
    let protocol = match &outcome.protocol_version {
        Ok(v) => v.clone(),
        Err(e) => format!("unknown ({e})"),
    };
    let capability_calls = outcome.capability_calls().count();
    let mut summary = format!(
        "kwrun: protocol {protocol}; {} host call(s), {capability_calls} capability call(s)",
        outcome.host_call_count()
    );
    if let Some(replay) = &outcome.replay {
        summary.push_str(&format!(
            "; session {}: {} of {} exchange(s) consumed{}",
            replay.source,
            replay.consumed,
            replay.total,
            if replay.fully_consumed() {
                " (fully consumed)"
            } else {
                ""
            }
        ));
        for error in replay.errors() {
            writeln!(err, "kwrun: replay error: {error}")?;
        }
        if let Some(first) = replay.leftovers.first() {
            writeln!(
                err,
                "kwrun: warning: {} recorded exchange(s) have not been replayed, the first (exchange #{}): {:?}",
                replay.leftovers.len(),
                replay.consumed + 1,
                first.request
            )?;
        }
    }
    for call in outcome.capability_calls() {
        if let Err(e) = &call.result
            && call.replay.is_none()
        {
            writeln!(err, "kwrun: host call {} failed: {e}", call.path())?;
        }
    }
    writeln!(err, "{summary}")
}

/// Runs `kwrun run` and returns the exit code. stdout gets the AdmissionResponse line; stderr the rest.
pub fn execute(args: &RunArgs, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let outcome = match args.to_run_config(stdin).and_then(|config| {
        let policy = PreparedPolicy::from_path(&policy_path(&args.policy)?)?;
        policy.run(config)
    }) {
        Ok(outcome) => outcome,
        Err(e) => {
            let _ = writeln!(err, "Error: {e}");
            return EXIT_ERROR;
        }
    };
    let _ = write_report(args, &outcome, err);
    let Some(response) = &outcome.response else {
        let _ = writeln!(err, "Error: {}", outcome.settings_error().unwrap_or_default());
        return EXIT_ERROR;
    };
    match serde_json::to_string(response) {
        Ok(line) => {
            if writeln!(out, "{line}").is_err() {
                return EXIT_ERROR;
            }
        }
        Err(e) => {
            let _ = writeln!(err, "Error: cannot serialize the AdmissionResponse: {e}");
            return EXIT_ERROR;
        }
    }
    if args.fail_on_replay_error && outcome.replay.as_ref().is_some_and(|r| !r.errors().is_empty()) {
        return EXIT_REPLAY_ERROR;
    }
    if args.require_session_consumed && !outcome.session_fully_consumed() {
        return EXIT_SESSION_NOT_CONSUMED;
    }
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        parse_args(std::iter::once("kwrun").chain(args.iter().copied())).map(|CliCommand::Run(a)| a)
    }

    #[test]
    fn the_kwctl_run_convention_parses() {
        let a = parse(&[
            "run",
            "-r",
            "request.json",
            "--settings-json",
            r#"{"mode":"expand"}"#,
            "--allow-context-aware",
            "--replay-host-capabilities-interactions",
            "session.yml",
            "policy.wasm",
        ])
        .expect("parses");
        assert_eq!(
            a,
            RunArgs {
                request_path: "request.json".to_owned(),
                settings_path: None,
                settings_json: Some(r#"{"mode":"expand"}"#.to_owned()),
                allow_context_aware: true,
                replay_session: Some(PathBuf::from("session.yml")),
                policy: "policy.wasm".to_owned(),
                metadata_path: None,
                timeout: None,
                print_patch: false,
                print_mutated_object: false,
                print_policy_logs: false,
                fail_on_replay_error: false,
                require_session_consumed: false,
                quiet: false,
            }
        );
    }

    #[test]
    fn long_forms_equals_signs_and_kwrun_flags() {
        let a = parse(&[
            "run",
            "--request-path=req.json",
            "-s",
            "settings.yml",
            "-e",
            "kubewarden",
            "--disable-wasmtime-cache",
            "-m",
            "policy-metadata.yml",
            "--policy-timeout",
            "3",
            "--print-patch",
            "--print-mutated-object",
            "--print-policy-logs",
            "--fail-on-replay-error",
            "--require-session-consumed",
            "-q",
            "file:///tmp/policy.wasm",
        ])
        .expect("parses");
        assert_eq!(a.request_path, "req.json");
        assert_eq!(a.settings_path, Some(PathBuf::from("settings.yml")));
        assert_eq!(a.metadata_path, Some(PathBuf::from("policy-metadata.yml")));
        assert_eq!(a.timeout, Some(Duration::from_secs(3)));
        assert!(a.print_patch && a.print_mutated_object && a.print_policy_logs);
        assert!(a.fail_on_replay_error && a.require_session_consumed && a.quiet);
        assert!(!a.allow_context_aware);
        assert_eq!(
            policy_path(&a.policy).expect("local"),
            PathBuf::from("/tmp/policy.wasm")
        );
    }

    #[test]
    fn bad_command_lines_are_refused() {
        use clap::error::ErrorKind;
        let kind = |args: &[&str]| parse(args).expect_err("refused").kind();
        assert_eq!(kind(&["run", "policy.wasm"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["run", "-r", "req.json"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            kind(&["run", "-r", "r.json", "-s", "s.yml", "--settings-json", "{}", "p.wasm"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            kind(&["run", "-r", "r.json", "-e", "opa", "p.wasm"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            kind(&["run", "-r", "r.json", "--policy-timeout", "0", "p.wasm"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["run", "-r", "r.json", "--raw", "p.wasm"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(kind(&["annotate"]), ErrorKind::InvalidSubcommand);
        assert_eq!(kind(&[]), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
    }

    #[test]
    fn remote_policies_are_refused() {
        let e = policy_path("registry://ghcr.io/kubewarden/policies/x:v1").expect_err("remote");
        assert_eq!(
            e.to_string(),
            "kwrun runs local policy files only; `registry://` URIs need kwctl (got registry://ghcr.io/kubewarden/policies/x:v1)"
        );
        assert_eq!(policy_path("policy.wasm").expect("local"), PathBuf::from("policy.wasm"));
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kwrun-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn inputs_are_read_with_clear_errors() {
        let dir = temp_dir("inputs");
        let settings = dir.join("settings.yml");
        std::fs::write(&settings, "mode: validate\nrequireInstancetype: true\n").expect("write");
        std::fs::write(dir.join("policy.wasm"), "(module)").expect("write");
        let policy = dir.join("policy.wasm").display().to_string();
        let mut args = parse(&["run", "-r", "-", "-s", settings.to_str().expect("utf8"), &policy]).expect("parses");

        let mut stdin = br#"{"kind":"AdmissionReview","request":{}}"#.as_slice();
        let config = args.to_run_config(&mut stdin).expect("reads");
        assert_eq!(config.request_source, "<stdin>");
        assert_eq!(config.settings.get("mode"), Some(&Value::from("validate")));
        assert_eq!(config.settings.get("requireInstancetype"), Some(&Value::from(true)));

        let e = args
            .to_run_config(&mut b"{nope".as_slice())
            .expect_err("bad json")
            .to_string();
        assert!(e.starts_with("invalid request <stdin>: not valid JSON: "), "{e}");

        std::fs::write(&settings, "- a\n- b\n").expect("write");
        let e = args
            .to_run_config(&mut b"{}".as_slice())
            .expect_err("not a map")
            .to_string();
        assert_eq!(e, "invalid settings: Invalid settings in CRD, not an object");

        args.settings_path = None;
        args.settings_json = Some("{bad".to_owned());
        let e = args
            .to_run_config(&mut b"{}".as_slice())
            .expect_err("bad json")
            .to_string();
        assert!(e.starts_with("invalid settings: Cannot parse settings JSON: "), "{e}");

        args.settings_json = None;
        args.request_path = dir.join("missing.json").display().to_string();
        let e = args
            .to_run_config(&mut b"".as_slice())
            .expect_err("missing")
            .to_string();
        assert!(
            e.starts_with("cannot read request file ") && e.contains("missing.json"),
            "{e}"
        );

        args.request_path = "-".to_owned();
        args.replay_session = Some(dir.join("session.yml"));
        std::fs::write(dir.join("session.yml"), "- type: Exchange\n").expect("write");
        let e = args
            .to_run_config(&mut b"{}".as_slice())
            .expect_err("bad session")
            .to_string();
        assert!(e.contains("session.yml: exchange #1: missing field `request`"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
