//! `kwrun`: run a Kubewarden waPC policy module like `kwctl run`, offline. See `kwrun run --help`.

use kubevirt_instancetype_e2e::cli::{CliCommand, EXIT_USAGE, execute, parse_args};

fn main() {
    let command = match parse_args(std::env::args_os()) {
        Ok(command) => command,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match command {
        CliCommand::Run(args) => execute(
            &args,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        ),
    };
    std::process::exit(code);
}
