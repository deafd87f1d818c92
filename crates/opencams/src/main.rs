//! The `opencams` binary: clap subcommands wired to the library crates. Wiring only — every
//! rule an admin command applies is one the API applies too.

mod callbacks;
// The request path allocates many small strings and maps on every call; profiling the accept
// path showed glibc malloc/free at ~17% of server time. mimalloc's thread-local free lists cut it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;
mod config;
mod embedded_sim;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "opencams",
    version,
    about = "A self-hosted, CAMS-compatible WhatsApp messaging gateway"
)]
struct Cli {
    #[command(flatten)]
    storage: config::StorageArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server
    Serve(cmd::serve::ServeArgs),
    /// Manage accounts
    #[command(subcommand)]
    Account(cmd::account::AccountCmd),
    /// Manage spaces (CustSpaceId)
    #[command(subcommand)]
    Space(cmd::space::SpaceCmd),
    /// Manage the web console's users
    #[command(subcommand)]
    User(cmd::user::UserCmd),
    /// Manage access keys
    #[command(subcommand)]
    Key(cmd::key::KeyCmd),
    /// Manage sender numbers
    #[command(subcommand)]
    Number(cmd::number::NumberCmd),
    /// Send one message, or many from a CSV, through the API
    Send(cmd::send::SendArgs),
    /// Inspect stored messages
    #[command(subcommand)]
    Message(cmd::message::MessageCmd),
    /// Run the WhatsApp Cloud API simulator as a process of its own
    Simulator(cmd::simulator::SimulatorArgs),
    /// Simulate WhatsApp users (local development)
    #[command(subcommand)]
    Simulate(cmd::simulate::SimulateCmd),
    /// Manage fallback (SMS) policies
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Inspect templates; decide simulator reviews by hand
    #[command(subcommand)]
    Template(cmd::template::TemplateCmd),
    /// Callback endpoints: delivery status, re-enable, replay
    #[command(subcommand)]
    Webhook(cmd::webhook::WebhookCmd),
    /// Copy a SQLite install into an empty PostgreSQL database
    Copy(cmd::copy::CopyArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => cmd::serve::run(&cli.storage, args).await,
            Command::Account(c) => cmd::account::run(&cli.storage, c).await,
            Command::Space(c) => cmd::space::run(&cli.storage, c).await,
            Command::User(c) => cmd::user::run(&cli.storage, c).await,
            Command::Key(c) => cmd::key::run(&cli.storage, c).await,
            Command::Number(c) => cmd::number::run(&cli.storage, c).await,
            Command::Send(a) => cmd::send::run(a).await,
            Command::Message(c) => cmd::message::run(&cli.storage, c).await,
            Command::Simulator(a) => cmd::simulator::run(a).await,
            Command::Simulate(c) => cmd::simulate::run(&cli.storage, c).await,
            Command::Policy(c) => cmd::policy::run(&cli.storage, c).await,
            Command::Template(c) => cmd::template::run(&cli.storage, c).await,
            Command::Webhook(c) => cmd::webhook::run(&cli.storage, c).await,
            Command::Copy(a) => cmd::copy::run(&cli.storage, a).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
