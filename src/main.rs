#![forbid(unsafe_code)]

/// jemalloc, not glibc's malloc: see Cargo.toml.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cdb_rollback_exporter::cli::main()
}
