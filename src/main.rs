#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    cdb_rollback_exporter::cli::main()
}
