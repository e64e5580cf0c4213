//! `nook-views`: `nook top` and `nook monitor`, which `nook` runs (exec) from next to itself.
//! A program of its own so that the views' code never adds to the text, and so to the resident
//! set, of the `nook` that create, start and exec run (see src/commands/views.rs). It reads
//! through the library what `nook events --stats` reads (`nook::container::stats`).

mod monitor;
mod top;
mod usage;

#[path = "../shared/helper.rs"]
mod helper;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "nook",
    bin_name = "nook",
    about = "nook's views of its containers",
    disable_version_flag = true
)]
struct Cli {
    #[command(flatten)]
    global: helper::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A live table of the containers' resource usage
    Top(TopArgs),
    /// Serve a read-only web page of the containers' usage and configs
    Monitor(MonitorArgs),
}

#[derive(Args, Debug)]
struct TopArgs {
    /// Time between readings, e.g. 1s, 500ms
    #[arg(long, default_value = "1s")]
    interval: String,
    /// Print one snapshot and exit (what happens anyway without a terminal)
    #[arg(long)]
    once: bool,
    /// Output format of a snapshot: table or json (json implies --once)
    #[arg(long, value_enum, default_value_t = TopFormat::Table)]
    format: TopFormat,
    /// Column to sort by (keys c, m, p, i, u, b, n switch it live; r reverses)
    #[arg(long, value_enum, default_value_t = SortKey::Cpu)]
    sort: SortKey,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum TopFormat {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Cpu,
    Mem,
    Pids,
    Id,
    Uptime,
    Block,
    Net,
}

#[derive(Args, Debug)]
struct MonitorArgs {
    /// Address to serve on; anything but loopback is warned about in the first log line
    #[arg(long, default_value = "127.0.0.1:7370")]
    listen: std::net::SocketAddr,
    /// Time between readings, e.g. 1s, 500ms
    #[arg(long, default_value = "1s")]
    interval: String,
    /// How far back the charts go, e.g. 10m
    #[arg(long, default_value = "10m")]
    history: String,
}

fn main() -> ExitCode {
    helper::run_main(
        |cli: &Cli| &cli.global,
        |cli| match &cli.command {
            Command::Top(args) => top::run(&cli.global.root, args),
            Command::Monitor(args) => monitor::run(&cli.global.root, args),
        },
    )
}

/// The library error with all its causes, as one line.
fn chain(err: nook::container::ContainerError) -> anyhow::Error {
    anyhow::anyhow!(nook::error_chain(&err))
}

/// `--interval`, `--history`.
fn interval(flag: &str, text: &str) -> Result<std::time::Duration> {
    nook::interval::parse(text).map_err(|e| anyhow::anyhow!("{flag} {e}"))
}
