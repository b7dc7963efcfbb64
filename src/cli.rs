//! The command line as clap reads it: the global options, the commands and their
//! arguments, each typed (value enums, dates, lifetimes, unit references).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use taizhang_api::Limits;
use taizhang_core::{Role, UnitId};
use taizhang_io::import::Encoding;
use taizhang_io::Kind;

/// taizhang (台账): an event-sourced volunteer service ledger.
#[derive(Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    /// Data directory (the embedded store and its key store).
    #[arg(
        long,
        env = "TAIZHANG_DATA",
        default_value = "./taizhang-data",
        global = true,
        help_heading = "Global options"
    )]
    pub(crate) data: PathBuf,
    /// The master key that wraps the personal-data keys [default:
    /// $XDG_CONFIG_HOME/taizhang/master.key, or ~/.config/taizhang/master.key].
    #[arg(long, env = "TAIZHANG_MASTER_KEY_FILE", global = true, help_heading = "Global options")]
    pub(crate) master_key_file: Option<PathBuf>,
    /// Directory of policy files (*.toml) beside the built-in policies.
    #[arg(long, env = "TAIZHANG_POLICY_DIR", global = true, help_heading = "Global options")]
    pub(crate) policy_dir: Option<PathBuf>,
    /// The log: `sled` (embedded, in the data directory) or a `postgres://` URL.
    #[arg(long, env = "TAIZHANG_STORE", default_value = "sled", global = true, help_heading = "Global options")]
    pub(crate) store: String,
    /// The PostgreSQL schema of this deployment (several may share a server).
    #[arg(
        long,
        env = "TAIZHANG_PG_SCHEMA",
        default_value = "taizhang",
        global = true,
        help_heading = "Global options"
    )]
    pub(crate) pg_schema: String,
    /// A running server to take the backup from (`export` of the log and `--keys`),
    /// e.g. http://127.0.0.1:8080, instead of the data directory it holds.
    #[arg(long, env = "TAIZHANG_SERVER", global = true, help_heading = "Global options")]
    pub(crate) server: Option<String>,
    /// The certificate signing key (a private Ed25519 Multikey, made on first use)
    /// [default: signing.key beside the master key].
    #[arg(long, env = "TAIZHANG_SIGNING_KEY_FILE", global = true, help_heading = "Global options")]
    pub(crate) signing_key_file: Option<PathBuf>,
    /// The address the public reaches this installation at, which certificates link to
    /// for their check (e.g. `https://taizhang.example.gov.cn`) [default for `serve`: the
    /// address it listens on].
    #[arg(long, env = "TAIZHANG_PUBLIC_URL", global = true, help_heading = "Global options")]
    pub(crate) public_url: Option<String>,
    /// An admin's API token, for --server.
    #[arg(long, env = "TAIZHANG_TOKEN", global = true, help_heading = "Global options", hide_env_values = true)]
    pub(crate) token: Option<String>,
    #[command(subcommand)]
    pub(crate) command: Commands,
}

#[derive(Subcommand)]
pub(crate) enum Commands {
    /// Serve the GraphQL API (POST/GET /graphql, GraphiQL, /graphql/ws, /healthz, /metrics).
    Serve {
        /// Address to listen on; port 0 picks a free port (the address is printed).
        #[arg(long, env = "TAIZHANG_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Load the sample campaign first when the log is empty (see `demo`).
        #[arg(long)]
        demo: bool,
        /// Connections held open at most; past it new ones are closed at once.
        #[arg(long, env = "TAIZHANG_MAX_CONNECTIONS", default_value_t = taizhang_api::connections::MAX_CONNECTIONS)]
        max_connections: usize,
        /// Seconds a connection may stay silent before it is closed.
        #[arg(long, env = "TAIZHANG_IDLE_TIMEOUT", default_value_t = Limits::default().idle.as_secs())]
        idle_timeout: u64,
        /// Seconds one query or mutation may run before it is dropped.
        #[arg(long, env = "TAIZHANG_REQUEST_DEADLINE", default_value_t = Limits::default().deadline.as_secs())]
        deadline: u64,
        /// Mutations running or waiting at once; past it the next is refused with 503,
        /// Retry-After and UNAVAILABLE (the client sends it again with its commandId).
        #[arg(long, env = "TAIZHANG_MAX_MUTATIONS_IN_FLIGHT", default_value_t = Limits::default().mutations_in_flight)]
        max_mutations_in_flight: usize,
    },
    /// Load the sample campaign (Shiyan, June 2011 service month) through the command
    /// path; loading it again writes nothing.
    Demo {
        /// 1.0 is the whole city (5,800 units); 0.01 is 58 units.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 2011)]
        seed: u64,
    },
    /// Print the GraphQL schema (SDL), as checked in at schema/schema.graphql.
    Schema {
        /// Instead, write the JSON Schema of every event payload into this directory
        /// (schema/events).
        #[arg(long, conflicts_with = "roles")]
        events: Option<PathBuf>,
        /// Instead, print the role table (Markdown), as the README holds it.
        #[arg(long, conflicts_with = "layouts")]
        roles: bool,
        /// Instead, print the CSV layouts of `import` (Markdown), as the README holds them.
        #[arg(long)]
        layouts: bool,
    },
    /// Walk the hash chain from the first event and name the first bad position; with
    /// --recognitions, check every decided recognition's evidence instead.
    Verify {
        /// Compute every decided recognition's board again at its position (the evidence
        /// must be given again exactly) and as the log stands now, and list those whose
        /// evidence later corrections weakened.
        #[arg(long)]
        recognitions: bool,
    },
    /// Write the log as JSON Lines (a backup `restore` reads back, chain intact), or
    /// records, reports or a ledger for spreadsheets.
    Export {
        /// log (the default), units, members, outings, commitments, ballots (CSV in the import's
        /// layout; commitments of --unit as XLSX: its public list, 承诺事项公示表),
        /// verifications (the outings awaiting one: a worksheet `import` reads back),
        /// reports (CSV of one grouping, or an XLSX workbook of all), round (a look-back
        /// round's report, likewise), ledger (of --unit), eligibility (the award list
        /// under --policy: a row per member, CSV).
        #[arg(default_value = "log")]
        what: Exported,
        /// Output file [default: standard output].
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Also write the member keys (still wrapped by the master key) to this file.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// csv or xlsx (reports and ledger).
        #[arg(long, default_value = "csv")]
        format: SheetFormat,
        /// The reports' first day (YYYY-MM-DD) [default: the first of this month].
        #[arg(long, value_parser = parse_day)]
        from: Option<time::Date>,
        /// The reports' last day [default: today].
        #[arg(long, value_parser = parse_day)]
        to: Option<time::Date>,
        /// Only this unit (reports), or the unit whose ledger to write: its code or id.
        #[arg(long)]
        unit: Option<UnitArg>,
        /// Only this region (reports).
        #[arg(long, conflicts_with = "unit")]
        region: Option<String>,
        /// The grouping of a CSV report: unit, region, industry or (reports) weekly.
        #[arg(long, default_value = "unit")]
        by: String,
        /// The policy of an award list (`taizhang policies` lists them).
        #[arg(long)]
        policy: Option<String>,
        /// The look-back round whose report to write (its id) [default: the one opened
        /// last].
        #[arg(long)]
        round: Option<taizhang_core::RoundId>,
    },
    /// Import units, members, outings, verifications or commitments from a CSV file (layouts in the README). Every
    /// row is checked first; with any problem nothing is written.
    Import {
        /// units, members, outings, verifications, commitments or ballots.
        kind: Kind,
        file: PathBuf,
        /// utf-8 (with or without BOM) or gbk.
        #[arg(long, default_value = "utf-8")]
        encoding: Encoding,
        /// Write the rows without problems and leave out the others.
        #[arg(long)]
        skip_invalid: bool,
        /// Read a changed row of a record already in the log as its corrections, each
        /// recorded with this reason; shows what would change and writes nothing
        /// without --yes.
        #[arg(long, value_name = "REASON")]
        amend: Option<String>,
        /// Write the corrections --amend shows.
        #[arg(long, requires = "amend")]
        yes: bool,
    },
    /// Recompute every projection from the log beside the checkpointed one, report both
    /// digests, and keep the rebuilt one.
    Rebuild,
    /// Load and check the policies (built-in and from the policy directory) and list them.
    Policies,
    /// API tokens: create one (its secret is printed once), list them, revoke one.
    /// Works against the data directory (stop `serve` first on the embedded store) or
    /// the PostgreSQL store; admins can do the same over GraphQL.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Service certificates: issue, show, revoke and list them; verify one offline; show
    /// or rotate the signing key.
    Certificate {
        #[command(subcommand)]
        action: CertificateAction,
    },
    /// Rebuild an empty data directory from a JSON Lines backup.
    Restore {
        /// The backup written by `export`.
        file: PathBuf,
        /// Member keys written by `export --keys`.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Exported {
    Log,
    Units,
    Members,
    Outings,
    Verifications,
    Commitments,
    Ballots,
    Reports,
    Round,
    Ledger,
    Eligibility,
}

impl Exported {
    /// The kind of records exported in the import's layout, for those exports.
    pub(crate) fn records_kind(self) -> Option<Kind> {
        match self {
            Exported::Units => Some(Kind::Units),
            Exported::Members => Some(Kind::Members),
            Exported::Outings => Some(Kind::Outings),
            Exported::Verifications => Some(Kind::Verifications),
            Exported::Commitments => Some(Kind::Commitments),
            Exported::Ballots => Some(Kind::Ballots),
            Exported::Log | Exported::Reports | Exported::Round | Exported::Ledger | Exported::Eligibility => None,
        }
    }
}

pub(crate) const RECORDS_AS_CSV: &str =
    "units, members, outings, verifications, commitments and ballots are exported as CSV, \
     the layout `import` reads (a unit's public commitment list as XLSX: export commitments --unit CODE --format xlsx)";

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SheetFormat {
    Csv,
    Xlsx,
}

pub(crate) fn parse_day(text: &str) -> Result<time::Date, String> {
    taizhang_core::parse_date("date", text).map_err(|e| e.to_string())
}

#[derive(Subcommand)]
pub(crate) enum CertificateAction {
    /// Issue a certificate for a member's verified service recorded by a unit in a
    /// period; prints its number and check code, writes the signed credential.
    Issue {
        /// The member: code or id.
        #[arg(long)]
        member: String,
        /// The unit that recorded the service and issues the certificate: code or id.
        #[arg(long)]
        unit: String,
        /// The first service day covered (YYYY-MM-DD).
        #[arg(long, value_parser = parse_day)]
        from: time::Date,
        /// The last service day covered.
        #[arg(long, value_parser = parse_day)]
        to: time::Date,
        /// The unit's person in charge (负责人), printed on it.
        #[arg(long)]
        person_in_charge: String,
        /// The unit's contact telephone, printed on it.
        #[arg(long)]
        contact: String,
        /// Write the signed credential (JSON) here [default: standard output].
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write a certificate: its signed credential (json) or its printable page (html).
    Show {
        /// Its number (YYYY-NNNNNN).
        number: String,
        #[arg(long, value_enum, default_value = "json")]
        format: CertificateFormat,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Revoke a certificate, with the reason.
    Revoke {
        number: String,
        #[arg(long)]
        reason: String,
    },
    /// List a member's certificates, or a unit's, with their status (CSV or XLSX).
    List {
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        unit: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: SheetFormat,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check a certificate file offline: its signature, and that it was signed by the
    /// key given (exit 0 when it verifies, 1 with the reason when it does not).
    Verify {
        file: PathBuf,
        /// The issuer's public key (z6Mk… or did:key:…) to require.
        #[arg(long)]
        key: Option<String>,
    },
    /// Print the public signing key; with --rotate, replace it first (certificates
    /// signed with the old key still verify; it signs nothing more).
    Key {
        #[arg(long)]
        rotate: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum CertificateFormat {
    Json,
    Html,
}

#[derive(Subcommand)]
pub(crate) enum TokenAction {
    /// Create a token and print it on standard output, once; only its hash is kept.
    Create {
        /// admin, clerk, reviewer or viewer.
        #[arg(long)]
        role: Role,
        /// A unit a clerk may write for (repeat for several; clerks only).
        #[arg(long = "unit")]
        units: Vec<UnitId>,
        /// Lifetime, as 90d, 12h, 30m or 45s [default: never expires].
        #[arg(long, value_parser = parse_lifetime)]
        expires: Option<time::Duration>,
        /// What the token is for, to recognise it in `token list`.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List every token (never their secrets).
    List,
    /// Revoke a token; the next request that carries it is refused.
    Revoke { id: uuid::Uuid },
}

/// `90d`, `12h`, `30m`, `45s`.
pub(crate) fn parse_lifetime(text: &str) -> Result<time::Duration, String> {
    let bad = || format!("{text:?} is not a lifetime such as 90d, 12h, 30m or 45s");
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds_each = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    let lifetime = n.checked_mul(seconds_each).map(time::Duration::seconds).ok_or_else(bad)?;
    if lifetime.is_zero() {
        return Err(format!("{text:?}: a token must live longer than that"));
    }
    Ok(lifetime)
}

/// A unit as the command line names it: by its code or its id, kept as written so that
/// a message names it the same way.
#[derive(Clone, Debug)]
pub(crate) struct UnitArg {
    pub(crate) written: String,
    pub(crate) id: UnitId,
}

impl std::str::FromStr for UnitArg {
    type Err = taizhang_core::NotAReference;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self { written: s.trim().to_owned(), id: s.parse()? })
    }
}
