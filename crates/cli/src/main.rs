//! `tiergate`: redact and explain records, check policies, run the demo.

mod demo;
mod table;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tiergate_core::{ConsentSet, Decisions, Limits, Outcome, Policy, Request, Viewer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Parser, Debug)]
#[command(
    name = "tiergate",
    version,
    about = "Record-sharing decisions and redaction under an information sharing framework"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write what the viewer may see to stdout.
    Redact(RecordArgs),
    /// Print a table of every entry, its placements, decision and reasons.
    Explain(RecordArgs),
    /// Show or check a policy document.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Run the policy's audit rules over an audit stream.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the built-in demo: what each demo viewer sees of each demo patient.
    Demo {
        /// Decide at this instant (RFC 3339) instead of now.
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Print the policy (the embedded default unless --policy is given).
    Show {
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Validate a policy; print every problem with its JSON path (exit 1),
    /// or its content hash.
    Check { file: PathBuf },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Print the alerts the policy's audit rules raise over AUDIT.ndjson
    /// (events in time order, one per line; tiergate events or FHIR
    /// AuditEvents; `-` for stdin).
    Scan {
        /// NDJSON audit stream, or `-` for stdin.
        file: String,
        /// Policy document (default: the embedded framework policy).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// `table` for people, `ndjson` for machines (one alert per line).
        #[arg(long, value_enum, default_value_t = AlertFormat::Table)]
        format: AlertFormat,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum AlertFormat {
    Table,
    Ndjson,
}

#[derive(Args, Debug)]
struct RecordArgs {
    /// Viewer JSON file.
    #[arg(long)]
    viewer: PathBuf,
    /// Consent directives: compact JSON, a FHIR Consent or a Bundle of them.
    #[arg(long)]
    consent: Option<PathBuf>,
    /// Policy document (default: the embedded framework policy).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Decide at this instant (RFC 3339) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Write the decisions as JSON to this file.
    #[arg(long)]
    decisions: Option<PathBuf>,
    /// Care setting of the origin system, for entries that do not say.
    #[arg(long)]
    setting: Option<String>,
    /// The organisation (ODS code) whose system the record comes from: it
    /// holds every entry that does not name its holder.
    #[arg(long)]
    origin_organisation: Option<String>,
    /// Largest record accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_bytes)]
    max_bytes: usize,
    /// FHIR JSON record file, or `-` for stdin.
    record: String,
}

/// A failure reported as one line on stderr, with its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn input(message: impl std::fmt::Display) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tiergate: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Redact(args) => {
            let (_, out) = redact(&args)?;
            write_stdout(&out.body)
        }
        Command::Explain(args) => {
            let (policy, out) = redact(&args)?;
            let text = table::explain(&policy, &out.decisions);
            write_stdout(text.as_bytes())
        }
        Command::Policy {
            command: PolicyCommand::Show { policy },
        } => {
            // Print the document as written (so its hash is the one shown by
            // `policy check`), once it is known to compile.
            let bytes = match &policy {
                Some(path) => read_file(path)?,
                None => tiergate_core::DEFAULT_POLICY_JSON.as_bytes().to_vec(),
            };
            load_policy(policy.as_deref())?;
            write_stdout(&bytes)
        }
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => {
            let bytes = read_file(&file)?;
            match Policy::from_json(&bytes) {
                Ok(p) => write_stdout(format!("ok {}\n", p.hash()).as_bytes()),
                Err(e) => {
                    let mut text = String::new();
                    for p in &e.problems {
                        text.push_str(&format!("{}: {p}\n", file.display()));
                    }
                    text.push_str(&format!("{} problem(s)", e.problems.len()));
                    Err(Failure {
                        code: 1,
                        message: text,
                    })
                }
            }
        }
        Command::Audit {
            command:
                AuditCommand::Scan {
                    file,
                    policy,
                    format,
                },
        } => {
            let policy = load_policy(policy.as_deref())?;
            let text = audit_scan(&policy, &file, format)?;
            if text.is_empty() {
                // NDJSON with no alerts: no lines at all.
                return Ok(());
            }
            write_stdout(text.as_bytes())
        }
        Command::Demo { now } => {
            let now = parse_now(now.as_deref())?;
            let text = demo::run(now).map_err(Failure::input)?;
            write_stdout(text.as_bytes())
        }
    }
}

/// Scans the stream; prints nothing unless every line was read.
fn audit_scan(policy: &Policy, file: &str, format: AlertFormat) -> Result<String, Failure> {
    use std::io::BufRead;
    use tiergate_core::audit::{AuditEvent, Scanner};

    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| Failure::input(format!("cannot read `{file}`: {}", e.kind())))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut scanner = Scanner::new(policy.audit_rules());
    let mut alerts = Vec::new();
    let mut events = 0usize;
    for (i, line) in input.split(b'\n').enumerate() {
        let n = i.saturating_add(1);
        let bytes =
            line.map_err(|e| Failure::input(format!("line {n}: cannot read: {}", e.kind())))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Failure::input(format!("line {n}: not UTF-8")))?;
        let Some(event) = AuditEvent::from_ndjson_line(text, n).map_err(Failure::input)? else {
            continue;
        };
        events = events.saturating_add(1);
        scanner
            .feed_into(&event, &mut alerts)
            .map_err(|e| Failure::input(format!("line {n}: {e}")))?;
    }
    let mut out = String::new();
    match format {
        AlertFormat::Ndjson => {
            for a in &alerts {
                out.push_str(&a.to_ndjson_line().map_err(Failure::input)?);
                out.push('\n');
            }
        }
        AlertFormat::Table => {
            out.push_str(&alert_table(&alerts));
            out.push_str(&format!(
                "{} alert(s) from {events} event(s)\n",
                alerts.len()
            ));
        }
    }
    Ok(out)
}

fn alert_table(alerts: &[tiergate_core::audit::Alert]) -> String {
    let mut rows: Vec<[String; 8]> = vec![[
        "time",
        "severity",
        "rule",
        "user",
        "organisation",
        "patient",
        "events",
        "message",
    ]
    .map(String::from)];
    for a in alerts {
        let events = match a.events.as_slice() {
            [one] => one.clone(),
            [first, .., last] => format!("{first}..{last} ({})", a.events.len()),
            [] => "-".into(),
        };
        rows.push([
            a.time.format(&Rfc3339).unwrap_or_default(),
            a.severity.to_string(),
            a.rule.clone(),
            a.user.clone(),
            a.organisation.clone(),
            a.patient.clone().unwrap_or_else(|| "-".into()),
            events,
            a.message.clone(),
        ]);
    }
    if alerts.is_empty() {
        return String::new();
    }
    table::render(&rows)
}

fn redact(args: &RecordArgs) -> Result<(Policy, tiergate_core::Redacted), Failure> {
    let policy = load_policy(args.policy.as_deref())?;
    let viewer = Viewer::from_json(&read_file(&args.viewer)?).map_err(Failure::input)?;
    viewer.validate(&policy).map_err(Failure::input)?;
    let consent = match &args.consent {
        Some(path) => ConsentSet::from_json(&read_file(path)?, &policy).map_err(Failure::input)?,
        None => ConsentSet::default(),
    };
    let compiled = consent.compile(&policy).map_err(Failure::input)?;
    let now = parse_now(args.now.as_deref())?;
    let record = if args.record == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(
                u64::try_from(args.max_bytes)
                    .unwrap_or(u64::MAX)
                    .saturating_add(1),
            )
            .read_to_end(&mut buf)
            .map_err(|e| Failure::input(format!("cannot read stdin: {}", e.kind())))?;
        buf
    } else {
        read_file(Path::new(&args.record))?
    };
    let request = Request {
        viewer: &viewer,
        consent: &compiled,
        now,
        default_setting: args.setting.as_deref(),
        holding_organisation: args.origin_organisation.as_deref(),
    };
    let out = policy
        .redact(
            &record,
            &request,
            Limits {
                max_bytes: args.max_bytes,
            },
        )
        .map_err(Failure::input)?;
    if let Some(path) = &args.decisions {
        write_decisions(path, &out.decisions)?;
    }
    if out.outcome == Outcome::NotFound {
        // Same answer as for a resource that does not exist.
        eprintln!("tiergate: not found");
    }
    Ok((policy, out))
}

fn write_decisions(path: &Path, decisions: &Decisions) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(decisions)
        .map_err(|e| Failure::input(format!("cannot write decisions: {e}")))?;
    text.push('\n');
    std::fs::write(path, text)
        .map_err(|e| Failure::input(format!("cannot write `{}`: {}", path.display(), e.kind())))
}

fn load_policy(path: Option<&Path>) -> Result<Policy, Failure> {
    match path {
        None => Policy::default_policy().map_err(Failure::input),
        Some(p) => Policy::from_json(&read_file(p)?)
            .map_err(|e| Failure::input(format!("`{}`: {e}", p.display()))),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::input(format!("cannot read `{}`: {}", path.display(), e.kind())))
}

fn parse_now(now: Option<&str>) -> Result<OffsetDateTime, Failure> {
    match now {
        None => Ok(OffsetDateTime::now_utc()),
        Some(s) => OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| Failure::input("`--now` is not an RFC 3339 date-time")),
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| {
            if bytes.last() == Some(&b'\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush())
        .map_err(|e| Failure::input(format!("cannot write output: {}", e.kind())))
}
