//! The built-in demo (`tiergate demo`, `make demo`): the framework's seven
//! scenarios, each shown through the eyes of the professionals in it.
//!
//! The records, viewers and consents are the synthetic files of
//! `tiergate-demo`, compiled into the binary and moved to the day the demo
//! decides at. For every viewer the report lists what the viewer receives,
//! grouped by segment and tier, and counts
//! what was withheld by reason. Labels come only from the redacted output,
//! so nothing withheld is ever named.

use std::collections::BTreeMap;

use serde_json::Value;
use tiergate_core::{
    ConsentDirective, ConsentSet, DirectiveKind, EntryDecision, Limits, Policy, Redacted, Request,
    Verdict, Viewer,
};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// One scenario of the framework and who looks at its patient.
struct Scenario {
    number: u8,
    title: &'static str,
    section: &'static str,
    story: &'static str,
    /// The patient's key in `tiergate-demo` (`data/KEY.json`).
    patient: &'static str,
    looks: &'static [Look],
}

/// One viewer looking at the scenario's patient, and why it is interesting.
struct Look {
    /// The viewer's key in `tiergate-demo` (`data/viewers/KEY.json`).
    file: &'static str,
    note: &'static str,
}

macro_rules! look {
    ($name:literal, $note:literal) => {
        Look {
            file: $name,
            note: $note,
        }
    };
}

/// One scenario's files, as they stand on the demo's day.
struct Files<'a> {
    file: String,
    record: &'a [u8],
    consent: &'a [u8],
    demo: &'a tiergate_demo::Demo,
}

impl<'a> Files<'a> {
    fn of(demo: &'a tiergate_demo::Demo, s: &Scenario) -> Result<Self, String> {
        let p = demo
            .patient(s.patient)
            .ok_or_else(|| format!("no demo patient `{}`", s.patient))?;
        Ok(Self {
            file: format!("{}.json", s.patient),
            record: p.record.as_bytes(),
            consent: p.consent.as_bytes(),
            demo,
        })
    }

    fn viewer(&self, look: &Look) -> Result<&'a [u8], String> {
        self.demo
            .viewer(look.file)
            .map(str::as_bytes)
            .ok_or_else(|| format!("no demo viewer `{}`", look.file))
    }
}

/// Invented organisation codes used by the demo data, with their names.
const ORGANISATIONS: &[(&str, &str)] = &[
    ("N99001", "Marine Drive Surgery"),
    ("N99002", "Walton Village Medical Centre"),
    ("N99003", "Allerton Road Surgery"),
    ("N99004", "Maghull Health Centre"),
    ("N99005", "County Road Neighbourhood Practice"),
    ("N99006", "Old Swan Health Centre"),
    ("R9A", "Southport and Ormskirk Hospital NHS Trust"),
    ("R9B", "Royal Liverpool and Aintree Hospitals"),
    ("R9C", "North Mersey Mental Health Care NHS Trust"),
    ("R9D", "North Mersey Community Health Services NHS Trust"),
    ("R9P", "North Mersey Pathology Network"),
    ("LA901", "Sefton Council Adult Social Care"),
    ("LA902", "Liverpool City Council Adult Social Care"),
];

const SCENARIOS: &[Scenario] = &[
    Scenario {
        number: 1,
        title: "Joe: AED staff see Summary tier 2",
        section: "7.1",
        story: "Joe, 63, lives with his wife in Southport. He has diabetes and COPD, and his GP has been \
                treating a chest infection. He is admitted one evening with increased shortness of breath \
                and consents for AED staff at Southport and Ormskirk to see Summary tier 2. Once he \
                improves, the hospital's discharge team see his care plans and who else is involved.",
        patient: "joe",
        looks: &[
            look!("aed-doctor-6", "Allergies, medication and diagnoses by consent; the trust's own entries pass through."),
            look!("matron-2a", "After the discharge-team consent: care package, care plans and hospital letters."),
            look!("hospital-social-worker-3a", "Social care: the summary and hospitals to tier 2, never diagnostics."),
            look!("admin-clerk-5", "Admin/clerical reaches Summary tier 1 only."),
            look!("gp-1b", "Another organisation, not named in any consent: nothing."),
        ],
    },
    Scenario {
        number: 2,
        title: "Joan: the extended primary care team and the Virtual Ward",
        section: "7.2",
        story: "Joan, 52, lives alone and has several long-term conditions and frequent admissions. She \
                joins the Virtual Ward and agrees to share across the extended primary care team. Her \
                health trainer's goals, her appointments and key health status reach the wider \
                multidisciplinary team through her shared care plan.",
        patient: "joan",
        looks: &[
            look!("district-nurse-7", "Extended primary care team: community tier 3, diagnostics and hospitals to tier 2."),
            look!("community-matron-2a", "Specialist nurse: the same, without community tier 3."),
            look!("health-trainer-4", "Unregistered professional: the summary only."),
            look!("neighbourhood-social-worker-3b", "Consent names content, not tiers: the care plan, appointments and health status."),
            look!("expired-training-7", "Mandatory training has lapsed: nothing, not even the practice's own entries."),
        ],
    },
    Scenario {
        number: 3,
        title: "Brenda: the mental health team sees the GP's liver function test",
        section: "7.3",
        story: "Brenda, 44, is recovering from alcohol dependence and lives with schizophrenia. Her \
                community mental health team want to increase her medication, which needs a liver function \
                test. Through diagnostics tier 1 they see the test her GP arranged last week, so she need not \
                have it repeated. She has opted out of sharing anything about HIV.",
        patient: "brenda",
        looks: &[
            look!("cpn-2a", "Consent covers diagnostics tier 1: the LFT and FBC, not other tests."),
            look!("community-psychiatrist-1c", "A wider profile changes nothing: the consent sets the limit."),
            look!("ed-doctor-phil-6", "Urgent care has consent for everything; her HIV opt-out still holds at D3."),
        ],
    },
    Scenario {
        number: 4,
        title: "David: the hospital sees the summary; his social worker learns of the admission",
        section: "7.4",
        story: "David, 69, has motor neurone disease and a care package of three visits a day. He is \
                admitted with a pulmonary embolism. Hospital clinicians see Summary tiers 1-3; his social \
                worker is notified of the admission through Hospitals tier 1 and adjusts his care package.",
        patient: "david",
        looks: &[
            look!("hospital-specialist-1a", "Summary tiers 1-3 by consent, plus the trust's own admission."),
            look!("community-social-worker-3b", "Hospitals tier 1: the admission, expected discharge date and planned admission."),
        ],
    },
    Scenario {
        number: 5,
        title: "Phil: key preferences in urgent care",
        section: "7.5",
        story: "Phil is an emergency department doctor at the Royal and Aintree. For Margaret, 84, he can \
                see the preferences that matter most in urgent care: resuscitation, mental capacity and end \
                of life wishes. Margaret has opted out of sharing her community segment. When she is brought \
                unconscious to Southport, where she has given no consent, a doctor there breaks glass.",
        patient: "phil-ed-patient",
        looks: &[
            look!("ed-doctor-phil-6", "ReSPECT, capacity and palliative care plans (Summary tier 3); D3 lifts exclusions."),
            look!("aed-doctor-6", "Another trust, no consent: nothing."),
            look!("aed-doctor-break-glass-6", "Break glass: no consent needed, but opt-outs and exclusions still hold."),
        ],
    },
    Scenario {
        number: 6,
        title: "The neighbourhood team knows of a planned admission",
        section: "7.6.1",
        story: "Graham (social worker), Sarah (district nurse) and David (GP) work in a neighbourhood team. \
                Their patient Ronald, 78, has a planned hip replacement (TCI), so the team can adjust his \
                care package and plan his discharge. Ronald asked that one GP consultation note not be shared.",
        patient: "neighbourhood",
        looks: &[
            look!("neighbourhood-social-worker-3b", "Hospitals tier 1 includes the TCI."),
            look!("district-nurse-7", "Everything to tier 2 in diagnostics and hospitals, less the note Ronald withheld."),
            look!("gp-1b", "Ronald's own practice: its own note is outside the framework."),
        ],
    },
    Scenario {
        number: 7,
        title: "Susan: a Careline call and a coordinated response",
        section: "7.6.1, scenario 7",
        story: "Andrea, a Careline contact advisor, takes an anonymous call out of hours about Susan, 38. \
                She records a safeguarding alert and assigns it to the social work team leader, who sees who \
                else is involved in Susan's care and her shared care plans, and alerts her community \
                psychiatric nurse and GP.",
        patient: "susan",
        looks: &[
            look!("careline-advisor-5", "Admin/clerical: demographics, plus the council's own entries."),
            look!("social-work-team-leader-3b", "Who else is involved and the shared care plans."),
            look!("cpn-2a", "The mental health trust's view."),
            look!("gp-1b", "Susan's GP."),
        ],
    },
    Scenario {
        number: 8,
        title: "Lily: a parent in the patient portal",
        section: "6.7, issue 7",
        story: "Lily, 7, has asthma. Her mother Grace holds proxy access in the patient portal: for \
                appointments and booking, she sees Lily's booked immunisations, asthma review and action \
                plan (for reminders) and nothing else; with the whole-record grant she sees what Lily \
                would. Lily's practice and the health visiting service share under her consent.",
        patient: "lily",
        looks: &[
            look!("parent-proxy-lily", "Proxy grant `appointments` + `booking`: appointments and care plans only."),
            look!("patient-lily-record", "Proxy grant `record`: everything Lily's own view shows."),
            look!("district-nurse-7", "Community health services: consented for the summary and the coded record."),
            look!("admin-clerk-5", "A hospital clerk with no consent: nothing."),
        ],
    },
    Scenario {
        number: 9,
        title: "Maya: a parent and a teenager",
        section: "6.7, policy `proxies.ages`",
        story: "Maya, 14, is Lily's sister. Grace's grant for her was made when Maya was younger and                 names appointments, booking and the record. At 11 to 15 a parent keeps appointments and                 booking, and sees the record only with the young person's own recorded agreement; at 16                 grants made by others lapse unless Maya renews them.",
        patient: "maya",
        looks: &[
            look!("parent-proxy-maya", "Grace, before Maya agrees: appointments and care plans only."),
            look!("parent-proxy-maya-agreed", "Grace, after Maya agreed in her own portal: the record too."),
        ],
    },
];

/// How long before the decision time the demo's break glass began.
const BREAK_GLASS_MINUTES_AGO: i64 = 10;

/// Runs every scenario at `now`, over the demo data as they stand then,
/// and returns the report.
pub fn run(now: OffsetDateTime) -> Result<String, String> {
    let policy = Policy::default_policy().map_err(|e| format!("default policy: {e}"))?;
    let now = now.to_offset(UtcOffset::UTC);
    let demo = tiergate_demo::Demo::at(now);
    let mut out = String::new();
    header(&mut out, &policy, now, demo.days);
    for scenario in SCENARIOS {
        run_scenario(
            &mut out,
            &policy,
            &Files::of(&demo, scenario)?,
            scenario,
            now,
        )?;
    }
    out.push_str(&rule('━'));
    out.push_str(
        "Data: crates/demo/data (synthetic). Try `tiergate explain --viewer <viewer.json> \
         --consent <consent.json> <record.json>` to see every decision with its reasons.\n",
    );
    Ok(out)
}

const WIDTH: usize = 96;
/// Room for an entry's label in the listing.
const LABEL: usize = 62;
/// Marks an entry the viewer's own organisation wrote.
const OWN: &str = "◆";
/// Marks an entry released only because of break glass.
const GLASS: &str = "⚑";

fn rule(c: char) -> String {
    let mut s: String = std::iter::repeat_n(c, WIDTH).collect();
    s.push('\n');
    s
}

fn header(out: &mut String, policy: &Policy, now: OffsetDateTime, days: i64) {
    let meta = &policy.document().policy;
    out.push_str("tiergate demo: the iLINKS information sharing framework's seven scenarios\n\n");
    out.push_str(&format!("Policy     {} v{}\n", meta.title, meta.version));
    out.push_str(&format!("           {}\n", policy.hash()));
    out.push_str(&format!("Decided at {}\n", when(now)));
    out.push_str(&format!(
        "Dates      the demo data are written for {}; every date is moved {days} days on\n\n",
        tiergate_demo::ANCHOR.date()
    ));
    for line in wrap(
        "Every patient, professional and organisation here is synthetic, written for this project: \
         NHS numbers are in the 999 test range and organisation codes are invented. S, C, D and H are \
         the Summary, Community, Diagnostics and Hospitals segments (framework tables 1-4); a profile \
         (table 6) caps the tier a viewer may reach in each, consent decides what is shared within that, \
         and entries written by the viewer's own organisation pass through (section 5.1). Withheld \
         entries are only counted, never named.",
        WIDTH,
    ) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!(
        "\n  {OWN}  written by the viewer's own organisation (outside the framework)\n  \
         {GLASS}  released only because of break glass\n\n"
    ));
}

fn run_scenario(
    out: &mut String,
    policy: &Policy,
    files: &Files,
    s: &Scenario,
    now: OffsetDateTime,
) -> Result<(), String> {
    let consent = ConsentSet::from_json(files.consent, policy)
        .map_err(|e| format!("consents/{}: {e}", files.file))?;
    let compiled = consent
        .compile(policy)
        .map_err(|e| format!("consents/{}: {e}", files.file))?;

    out.push_str(&rule('━'));
    out.push_str(&format!(
        "Scenario {} · {}  (framework {})\n",
        s.number, s.title, s.section
    ));
    out.push_str(&rule('━'));
    for line in wrap(s.story, WIDTH) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&format!(
        "Patient   {}  ({})\n",
        patient_line(files.record),
        files.file
    ));
    out.push_str("Consent   ");
    if consent.directives.is_empty() {
        out.push_str("none recorded\n");
    }
    for (i, d) in consent.directives.iter().enumerate() {
        let (head, body) = directive_lines(d, now);
        if i > 0 {
            out.push_str("          ");
        }
        out.push_str(&head);
        out.push('\n');
        push_wrapped(out, "            ", "              ", &body);
    }

    for look in s.looks {
        let (block, _) = report_for(policy, files, &compiled, look, now)?;
        out.push('\n');
        out.push_str(&block);
    }
    out.push('\n');
    Ok(())
}

/// One viewer's block of the report, and the redaction it describes.
fn report_for(
    policy: &Policy,
    files: &Files,
    compiled: &tiergate_core::CompiledConsent,
    look: &Look,
    now: OffsetDateTime,
) -> Result<(String, Redacted), String> {
    let mut viewer = Viewer::from_json(files.viewer(look)?)
        .map_err(|e| format!("viewers/{}.json: {e}", look.file))?;
    let mut moved_glass = false;
    if let Some(bg) = viewer.break_glass.as_mut() {
        // The file's start time is on the data's day; the demo breaks glass
        // just before its decision time so that the override is in force.
        let started = now - time::Duration::minutes(BREAK_GLASS_MINUTES_AGO);
        bg.started = started
            .format(&Rfc3339)
            .map_err(|e| format!("break glass time: {e}"))?;
        moved_glass = true;
    }
    let request = Request {
        viewer: &viewer,
        consent: compiled,
        now,
        default_setting: None,
        holding_organisation: None,
    };
    let redacted = policy
        .redact(files.record, &request, Limits::default())
        .map_err(|e| format!("{} for {}: {e}", files.file, look.file))?;
    let mut block = String::new();
    viewer_report(
        &mut block,
        policy,
        &viewer,
        look,
        &redacted,
        now,
        moved_glass,
    );
    Ok((block, redacted))
}

fn viewer_report(
    out: &mut String,
    policy: &Policy,
    viewer: &Viewer,
    look: &Look,
    r: &Redacted,
    now: OffsetDateTime,
    moved_glass: bool,
) {
    let name = viewer.name.as_deref().unwrap_or(viewer.user_id.as_str());
    out.push_str(&format!("┌─ {name}\n"));
    let (profile_name, grants) = match policy.profile(&viewer.profile) {
        Some(p) => (p.name.clone(), grants_line(policy, &p.grants)),
        None => ("unknown profile".to_owned(), String::new()),
    };
    push_wrapped(
        out,
        "│  ",
        "│    ",
        &format!("Profile {} {} · {}", viewer.profile, profile_name, grants),
    );
    out.push_str(&format!(
        "│  {} ({})\n",
        organisation_name(&viewer.organisation),
        viewer.organisation
    ));
    match &viewer.training {
        Some(t) => {
            let current =
                tiergate_core::fhirtime::parse(&t.expires, tiergate_core::fhirtime::Edge::End)
                    .is_some_and(|end| now < end);
            let state = if current {
                "current until"
            } else {
                "EXPIRED on"
            };
            out.push_str(&format!("│  Training {state} {}\n", t.expires));
        }
        None => out.push_str("│  Training: no record\n"),
    }
    if let Some(bg) = &r.decisions.summary.break_glass {
        let text = format!(
            "BREAK GLASS: {} · in force until {}{} · flagged for investigation",
            bg.reason
                .as_deref()
                .map_or("no reason", |c| break_glass_reason(policy, c)),
            short_time(&bg.expires),
            if moved_glass {
                " (started 10 minutes before the demo clock)"
            } else {
                ""
            }
        );
        push_wrapped(out, "│  ", "│    ", &text);
    }
    push_wrapped(out, "│  ", "│  ", look.note);
    out.push_str("│\n");

    let s = &r.decisions.summary;
    out.push_str(&format!("│  Sees {} of {} entries\n", s.allowed, s.entries));
    for line in shown_lines(policy, r) {
        out.push_str(&format!("│  {line}\n"));
    }
    push_wrapped(out, "│  ", "│    ", &withheld_line(&r.decisions.entries));
    out.push_str("└─\n");
}

fn break_glass_reason<'a>(policy: &'a Policy, code: &'a str) -> &'a str {
    policy
        .document()
        .break_glass
        .reasons
        .iter()
        .find(|r| r.code == code)
        .map_or(code, |r| r.display.as_str())
}

/// Where a shown entry is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Placed { segment: usize, tier: u8 },
    Supporting,
    Provenance,
}

/// One shown entry: its resource type, label and markers.
struct Shown {
    rtype: String,
    text: String,
    marks: Vec<&'static str>,
}

fn shown_lines(policy: &Policy, r: &Redacted) -> Vec<String> {
    // The redacted body holds exactly the allowed entries, in order.
    let shown: Vec<Value> = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .map(|body| match body.get("entry").and_then(Value::as_array) {
            Some(entries) => entries
                .iter()
                .filter_map(|e| e.get("resource").cloned())
                .collect(),
            None if body.get("resourceType").and_then(Value::as_str)
                != Some("OperationOutcome") =>
            {
                vec![body]
            }
            None => Vec::new(),
        })
        .unwrap_or_default();
    let allowed: Vec<&EntryDecision> = r
        .decisions
        .entries
        .iter()
        .filter(|d| d.decision == Verdict::Allow)
        .collect();

    let mut groups: BTreeMap<Group, Vec<Shown>> = BTreeMap::new();
    for (d, res) in allowed.iter().zip(shown.iter()) {
        let rtype = res
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let mut marks = Vec::new();
        let group = match d.allowed_by.as_deref() {
            Some("referenced") => Group::Supporting,
            Some("about") => Group::Provenance,
            Some("own_organisation") => {
                marks.push(OWN);
                first_placement(policy, d)
            }
            Some(label) => {
                placement_group(policy, label).unwrap_or_else(|| first_placement(policy, d))
            }
            None => first_placement(policy, d),
        };
        if d.break_glass {
            marks.push(GLASS);
        }
        groups.entry(group).or_default().push(Shown {
            rtype,
            text: label(res),
            marks,
        });
    }

    let mut lines = Vec::new();
    for (group, items) in groups {
        let heading = match group {
            Group::Placed { segment, tier } => {
                let seg = policy
                    .segments()
                    .get(segment)
                    .map_or("?", |s| s.name.as_str());
                format!("{seg} · tier {tier}")
            }
            Group::Supporting => "Supporting resources (referred to by what is shown)".to_owned(),
            Group::Provenance => "Provenance (about what is shown)".to_owned(),
        };
        lines.push(format!("  {heading}"));
        for Shown { rtype, text, marks } in items {
            let mut line = format!("    {rtype:<20} {}", truncate(&text, LABEL));
            if !marks.is_empty() {
                let pad = LABEL.saturating_sub(text.chars().count().min(LABEL));
                line.push_str(&" ".repeat(pad));
                line.push_str(&format!("  {}", marks.join(" ")));
            }
            lines.push(line);
        }
    }
    lines
}

fn placement_group(policy: &Policy, label: &str) -> Option<Group> {
    let (segment, tier) = label.rsplit_once('-')?;
    Some(Group::Placed {
        segment: policy.segment_index(segment)?,
        tier: tier.parse().ok()?,
    })
}

fn first_placement(policy: &Policy, d: &EntryDecision) -> Group {
    d.placements
        .first()
        .and_then(|p| {
            Some(Group::Placed {
                segment: policy.segment_index(&p.segment)?,
                tier: p.tier,
            })
        })
        .unwrap_or(Group::Supporting)
}

/// A one-line count of withheld entries by reason. Exclusion categories are
/// counted together so that not even the category of a withheld entry shows.
fn withheld_line(entries: &[EntryDecision]) -> String {
    let mut counts: BTreeMap<(u8, &str), usize> = BTreeMap::new();
    let mut withheld = 0;
    for d in entries.iter().filter(|d| d.decision == Verdict::Withhold) {
        withheld += 1;
        let mut labels: Vec<(u8, &str)> =
            d.reasons.iter().map(|r| reason_label(&r.code())).collect();
        labels.sort_unstable();
        labels.dedup();
        for l in labels {
            *counts.entry(l).or_insert(0) += 1;
        }
    }
    if withheld == 0 {
        return "Withheld: nothing".to_owned();
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|((_, label), n)| format!("{label} {n}"))
        .collect();
    let mut line = format!("Withheld {withheld}: {}", parts.join(" · "));
    if counts.values().sum::<usize>() > withheld {
        line.push_str("  (some entries have more than one reason)");
    }
    line
}

fn reason_label(code: &str) -> (u8, &'static str) {
    if code.starts_with("excluded_category:") {
        return (4, "excluded (Appendix 1)");
    }
    match code {
        "training_expired" => (0, "training expired"),
        "training_missing" => (0, "no training record"),
        "purpose_not_permitted" => (0, "purpose not permitted"),
        "tier_not_granted" => (1, "beyond profile"),
        "approval_required" => (1, "needs an individual approval (7.2)"),
        "no_consent" => (2, "no consent"),
        "opted_out" => (3, "opted out"),
        "unclassified" => (5, "unclassified (fail closed)"),
        "not_referenced" => (6, "supporting, not referred to"),
        "about_withheld" => (7, "provenance of withheld entries"),
        "malformed_entry" => (8, "malformed"),
        "not_own_record" => (0, "not their own record"),
        "proxy_scope" => (2, "outside the proxy grant"),
        "not_for_online" => (3, "not for online viewing"),
        "not_shared" => (5, "not shared yet (framework TBC)"),
        _ => (9, "other"),
    }
}

fn grants_line(policy: &Policy, grants: &[u8]) -> String {
    policy
        .segments()
        .iter()
        .zip(grants.iter())
        .map(|(s, g)| {
            if *g == 0 {
                format!("{}X", s.letter)
            } else {
                format!("{}{g}", s.letter)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn organisation_name(code: &str) -> &str {
    ORGANISATIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Unknown organisation", |(_, n)| n)
}

/// A directive as a heading (id, kind, date, period) and a body (who and what).
fn directive_lines(d: &ConsentDirective, now: OffsetDateTime) -> (String, String) {
    let kind = match d.kind {
        DirectiveKind::Permit => "permit",
        DirectiveKind::Deny => "deny (opt-out)",
        DirectiveKind::Withdraw => "withdrawal of an opt-out",
    };
    let recorded = d.recorded.get(..10).unwrap_or(&d.recorded);
    let mut who = Vec::new();
    if !d.actors.organisations.is_empty() {
        who.push(d.actors.organisations.join(", "));
    }
    if !d.actors.profiles.is_empty() {
        let label = if d.actors.profiles.len() == 1 {
            "profile"
        } else {
            "profiles"
        };
        who.push(format!("{label} {}", d.actors.profiles.join(" ")));
    }
    if !d.actors.users.is_empty() {
        who.push(format!("users {}", d.actors.users.join(", ")));
    }
    let who = if who.is_empty() {
        "everyone".to_owned()
    } else {
        who.join("; ")
    };

    let mut what = Vec::new();
    for s in &d.scope.segments {
        what.push(match (s.tier, d.kind) {
            (None, _) => s.segment.clone(),
            (Some(t), DirectiveKind::Permit) => format!("{} to tier {t}", s.segment),
            (Some(t), DirectiveKind::Deny | DirectiveKind::Withdraw) => {
                format!("{} from tier {t}", s.segment)
            }
        });
    }
    if !d.scope.content.is_empty() {
        what.push(d.scope.content.join(", ").replace('_', " "));
    }
    if !d.scope.categories.is_empty() {
        what.push(format!("category {}", d.scope.categories.join(", ")));
    }
    if !d.scope.entries.is_empty() {
        let n = d.scope.entries.len();
        what.push(format!(
            "{n} single {}",
            if n == 1 { "entry" } else { "entries" }
        ));
    }
    let what = if what.is_empty() {
        "whole record".to_owned()
    } else {
        what.join("; ")
    };

    let mut line = format!("{}: {kind}, recorded {recorded}", d.id);
    if let Some(p) = &d.period {
        let end = p
            .end
            .as_deref()
            .and_then(|e| tiergate_core::fhirtime::parse(e, tiergate_core::fhirtime::Edge::End));
        let start = p
            .start
            .as_deref()
            .and_then(|s| tiergate_core::fhirtime::parse(s, tiergate_core::fhirtime::Edge::Start));
        let state = if end.is_some_and(|e| now >= e) {
            " (ended)"
        } else if start.is_some_and(|s| now < s) {
            " (not yet in force)"
        } else {
            ""
        };
        line.push_str(&format!(
            "  [{} to {}{state}]",
            p.start.as_deref().unwrap_or("…"),
            p.end.as_deref().unwrap_or("…")
        ));
    }
    (line, format!("{who} → {what}"))
}

fn patient_line(record: &[u8]) -> String {
    let Ok(doc) = serde_json::from_slice::<Value>(record) else {
        return "(record does not parse)".to_owned();
    };
    let patient = doc
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"));
    let Some(p) = patient else {
        return "(no Patient resource)".to_owned();
    };
    let nhs = p
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|i| {
            i.get("system").and_then(Value::as_str) == Some("https://fhir.nhs.uk/Id/nhs-number")
        })
        .and_then(|i| i.get("value").and_then(Value::as_str))
        .map(spaced_nhs_number)
        .unwrap_or_else(|| "no NHS number".to_owned());
    let born = p.get("birthDate").and_then(Value::as_str).unwrap_or("?");
    format!("{} · NHS {nhs} · born {born}", human_name(p.get("name")))
}

fn spaced_nhs_number(n: &str) -> String {
    match (n.get(..3), n.get(3..6), n.get(6..)) {
        (Some(a), Some(b), Some(c)) if n.len() == 10 => format!("{a} {b} {c}"),
        _ => n.to_owned(),
    }
}

/// The official (else first) HumanName as "Prefix Given Family".
fn human_name(names: Option<&Value>) -> String {
    let Some(list) = names.and_then(Value::as_array) else {
        return String::new();
    };
    let name = list
        .iter()
        .find(|n| n.get("use").and_then(Value::as_str) == Some("official"))
        .or_else(|| list.first());
    let Some(name) = name else {
        return String::new();
    };
    if let Some(text) = name.get("text").and_then(Value::as_str) {
        return text.to_owned();
    }
    let mut parts: Vec<&str> = Vec::new();
    for key in ["prefix", "given"] {
        parts.extend(
            name.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
    }
    if let Some(family) = name.get("family").and_then(Value::as_str) {
        parts.push(family);
    }
    parts.join(" ")
}

/// A short human label for a shown resource.
fn label(res: &Value) -> String {
    let rtype = res
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let text = match rtype {
        "Patient" | "Practitioner" => human_name(res.get("name")),
        "RelatedPerson" => {
            let rel = res
                .get("relationship")
                .and_then(Value::as_array)
                .and_then(|r| r.first())
                .and_then(concept_text);
            match rel {
                Some(rel) => format!("{} ({rel})", human_name(res.get("name"))),
                None => human_name(res.get("name")),
            }
        }
        "Provenance" => {
            let target = res
                .get("target")
                .and_then(Value::as_array)
                .and_then(|t| t.first())
                .and_then(|t| t.get("reference"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!("about {target}")
        }
        "Encounter" => {
            let kind = res
                .get("type")
                .and_then(Value::as_array)
                .and_then(|t| t.first())
                .and_then(concept_text)
                .unwrap_or_else(|| "Encounter".to_owned());
            let start = res
                .pointer("/period/start")
                .and_then(Value::as_str)
                .and_then(|s| s.get(..10))
                .unwrap_or("");
            let status = match res.get("status").and_then(Value::as_str) {
                Some("planned") => "planned ",
                Some("in-progress") => "since ",
                _ => "",
            };
            let edd = res
                .get("extension")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|e| {
                    e.get("url").and_then(Value::as_str)
                        == Some("https://fhir.tiergate.example/StructureDefinition/expected-discharge-date")
                })
                .and_then(|e| e.get("valueDate").and_then(Value::as_str))
                .map(|d| format!(", EDD {d}"))
                .unwrap_or_default();
            format!("{kind} ({status}{start}{edd})")
        }
        "Appointment" => {
            let what = res
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| "Appointment".to_owned());
            let start = res
                .get("start")
                .and_then(Value::as_str)
                .and_then(|s| s.get(..10));
            match start {
                Some(d) => format!("{what} ({d})"),
                None => what,
            }
        }
        _ => generic_label(res).unwrap_or_else(|| "(no label)".to_owned()),
    };
    if text.is_empty() {
        "(no label)".to_owned()
    } else {
        text
    }
}

fn generic_label(res: &Value) -> Option<String> {
    for key in ["code", "medicationCodeableConcept", "vaccineCode"] {
        if let Some(t) = res.get(key).and_then(concept_text) {
            return Some(t);
        }
    }
    for key in ["title", "name"] {
        if let Some(t) = res.get(key).and_then(Value::as_str) {
            return Some(t.to_owned());
        }
    }
    match res.get("description") {
        Some(Value::String(s)) => return Some(s.clone()),
        Some(v) => {
            if let Some(t) = concept_text(v) {
                return Some(t);
            }
        }
        None => {}
    }
    match res.get("type") {
        Some(Value::Array(items)) => items.first().and_then(concept_text),
        Some(v) => concept_text(v),
        None => None,
    }
}

/// `CodeableConcept.text`, else the first coding's display.
fn concept_text(v: &Value) -> Option<String> {
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return Some(t.to_owned());
    }
    v.get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|c| c.get("display").and_then(Value::as_str))
        .map(str::to_owned)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// Appends `text` wrapped to the report width: the first line after
/// `first`, the rest after `rest`.
fn push_wrapped(out: &mut String, first: &str, rest: &str, text: &str) {
    let width = WIDTH.saturating_sub(rest.chars().count()).max(20);
    let first_width = WIDTH.saturating_sub(first.chars().count()).max(20);
    let mut lines = wrap(text, first_width).into_iter();
    if let Some(head) = lines.next() {
        out.push_str(first);
        out.push_str(&head);
        out.push('\n');
        let remainder: Vec<String> = lines.collect();
        for line in wrap(&remainder.join(" "), width) {
            out.push_str(rest);
            out.push_str(&line);
            out.push('\n');
        }
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn when(now: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", now.date(), now.hour(), now.minute())
}

fn short_time(rfc3339: &str) -> String {
    match OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => when(t.to_offset(UtcOffset::UTC)),
        Err(_) => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn demo_runs_and_covers_every_scenario() {
        let text = run(datetime!(2026-11-25 12:00 UTC)).unwrap();
        for scenario in SCENARIOS {
            assert!(text.contains(&format!("Scenario {} ·", scenario.number)));
        }
        assert!(text.contains("Liver function tests"));
        assert!(text.contains("BREAK GLASS"));
        assert!(text.contains("training expired"));
    }

    /// Withheld entries are counted, never named: no viewer's block holds
    /// the label of an entry withheld from that viewer (unless an entry the
    /// viewer does see has the same label).
    #[test]
    fn no_block_names_a_withheld_entry() {
        let policy = Policy::default_policy().unwrap();
        let now = datetime!(2026-11-25 12:00 UTC);
        let demo = tiergate_demo::Demo::at(now);
        let mut checked = 0;
        for s in SCENARIOS {
            let files = Files::of(&demo, s).unwrap();
            let consent = ConsentSet::from_json(files.consent, &policy).unwrap();
            let compiled = consent.compile(&policy).unwrap();
            let record: Value = serde_json::from_slice(files.record).unwrap();
            let resources: Vec<&Value> = record["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["resource"])
                .collect();
            for look in s.looks {
                let (whole, r) = report_for(&policy, &files, &compiled, look, now).unwrap();
                // The header names the viewer and their organisation; what
                // follows "Sees" is about the record.
                let block = whole.split_once("│  Sees ").unwrap().1;
                let shown: Vec<String> = r
                    .decisions
                    .entries
                    .iter()
                    .filter(|d| d.decision == Verdict::Allow)
                    .map(|d| label(resources[d.index]))
                    .collect();
                for d in r
                    .decisions
                    .entries
                    .iter()
                    .filter(|d| d.decision == Verdict::Withhold)
                {
                    let res = resources[d.index];
                    let hidden = label(res);
                    if shown.contains(&hidden) || hidden == "(no label)" {
                        continue;
                    }
                    // Never as a listed entry...
                    let rendered = format!(
                        "{:<20} {}",
                        res["resourceType"].as_str().unwrap(),
                        truncate(&hidden, LABEL)
                    );
                    assert!(
                        !block.lines().any(|l| {
                            let l = l.trim_start_matches(['│', ' ']).trim_end();
                            l == rendered || l.starts_with(&format!("{rendered}  ("))
                        }),
                        "{} / {}: lists withheld `{hidden}`\n{block}",
                        files.file,
                        look.file
                    );
                    // ...nor anywhere, unless a shown label contains it.
                    if !shown.iter().any(|l| l.contains(&hidden)) {
                        assert!(
                            !block.contains(&truncate(&hidden, LABEL)),
                            "{} / {}: names withheld `{hidden}`\n{block}",
                            files.file,
                            look.file
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 200, "only {checked} withheld labels checked");
    }

    #[test]
    fn demo_break_glass_works_at_any_time() {
        let text = run(datetime!(2031-06-01 09:00 UTC)).unwrap();
        assert!(text.contains("BREAK GLASS"));
    }

    /// What each viewer receives, by entry id, for every scenario.
    fn received(now: OffsetDateTime) -> Vec<(String, Vec<String>, Vec<String>)> {
        let policy = Policy::default_policy().unwrap();
        let demo = tiergate_demo::Demo::at(now);
        let mut out = Vec::new();
        for s in SCENARIOS {
            let files = Files::of(&demo, s).unwrap();
            let consent = ConsentSet::from_json(files.consent, &policy).unwrap();
            let compiled = consent.compile(&policy).unwrap();
            for look in s.looks {
                let (_, r) = report_for(&policy, &files, &compiled, look, now).unwrap();
                let ids = |v: Verdict| {
                    r.decisions
                        .entries
                        .iter()
                        .filter(|d| d.decision == v)
                        .map(|d| format!("{:?} {:?}", d.id, d.reasons))
                        .collect::<Vec<_>>()
                };
                out.push((
                    format!("{} / {}", files.file, look.file),
                    ids(Verdict::Allow),
                    ids(Verdict::Withhold),
                ));
            }
        }
        out
    }

    /// The demo does not age: a year and five years on (at another time of
    /// day), every viewer receives and is refused exactly what they were at
    /// the data's own instant, for the same reasons.
    #[test]
    fn the_demo_decides_the_same_on_any_day() {
        let at_anchor = received(tiergate_demo::ANCHOR);
        assert!(at_anchor.iter().filter(|(_, a, _)| !a.is_empty()).count() > 20);
        for later in [
            datetime!(2027-12-07 08:15 UTC),
            datetime!(2031-12-07 23:50 UTC),
        ] {
            let now = received(later);
            for (a, b) in at_anchor.iter().zip(&now) {
                assert_eq!(a, b, "{} differs at {later}", a.0);
            }
        }
    }

    #[test]
    fn wrap_respects_width() {
        let lines = wrap("aaa bbb ccc ddd", 7);
        assert_eq!(lines, vec!["aaa bbb", "ccc ddd"]);
    }
}
