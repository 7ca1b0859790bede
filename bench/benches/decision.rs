//! Per-entry decision latency: core's decision for an entry whose
//! classification is known (content line, exclusion categories), with the
//! policy compiled once and the request context built once, against the
//! same profile-tier-consent-exclusion rules written as Cedar policies and
//! evaluated by `cedar_policy::Authorizer::is_authorized` (the peer).
//!
//! The Cedar policies are generated from the compiled default policy: one
//! `permit` per segment (tier within the viewer's grant, and consent, or no
//! consent needed, or break glass where consent is silent), one `forbid` for
//! an opt-out (the default policy's break glass does not override one), and
//! one `forbid` per
//! exclusion category unless a lift covers it (the default policy's one
//! lift: Diagnostics tier 3, with consent). Both engines see the same
//! cases; the run checks they agree on every one before timing.
//!
//! Writes `results/decision.md`. Plain harness (not criterion): each call
//! is timed on its own for p50/p99, and whole passes for the mean.

use std::fmt::Write as _;
use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request as CedarRequest,
};
use serde_json::json;
use tiergate_bench::consent;
use tiergate_core::{ConsentSet, Policy, Request, Verdict, Viewer};

const ROUNDS: usize = 2_000;

/// (consent, break glass): RVY's consent for everything, none, or an
/// opt-out of everything; with and without break glass.
const SCENARIOS: [(&str, bool); 5] = [
    ("permit", false),
    ("silent", false),
    ("deny", false),
    ("silent", true),
    ("deny", true),
];

struct Case {
    profile: &'static str,
    consent: &'static str,
    break_glass: bool,
    content: usize,
    categories: Vec<u16>,
    cedar_entities: Entities,
    cedar_request: CedarRequest,
}

fn cedar_policies(policy: &Policy) -> String {
    let mut text = String::new();
    for s in policy.segments() {
        let _ = writeln!(
            text,
            "permit(principal, action == Action::\"view\", resource) when {{ resource.segment == \"{0}\" && resource.tier <= principal.{0} && (context.consent == \"permit\" || !principal.consent_required || (context.consent == \"silent\" && context.break_glass)) }};",
            s.id
        );
    }
    // The default policy: break glass does not override an opt-out.
    text.push_str("forbid(principal, action, resource) when { context.consent == \"deny\" && principal.consent_required };\n");
    for c in policy.exclusion_categories() {
        let _ = writeln!(
            text,
            "@id(\"excluded_category:{c}\")\nforbid(principal, action, resource) when {{ principal.exclusions_apply && resource.categories.contains(\"{c}\") && !(resource.segment == \"diagnostics\" && principal.diagnostics >= 3 && (context.consent == \"permit\" || !principal.consent_required)) }};"
        );
    }
    text
}

fn main() {
    let policy = Policy::default_policy().unwrap();
    let cedar = PolicySet::from_str(&cedar_policies(&policy)).unwrap();
    let authorizer = Authorizer::new();
    let now = time::macros::datetime!(2026-11-25 12:00 UTC);
    let full = consent(&policy);
    let none = ConsentSet::from_json(br#"{"directives":[]}"#, &policy)
        .unwrap()
        .compile(&policy)
        .unwrap();
    let deny = ConsentSet::from_json(
        br#"{"directives":[{"id":"d","kind":"deny","recorded":"2026-01-01","actors":{"organisations":["RVY"]}}]}"#,
        &policy,
    )
    .unwrap()
    .compile(&policy)
    .unwrap();
    let categories = policy.exclusion_categories().to_vec();

    let mut cases = Vec::new();
    for profile in ["1b", "5"] {
        let p = policy.profile(profile).unwrap();
        let mut attrs = serde_json::Map::new();
        for (i, s) in policy.segments().iter().enumerate() {
            attrs.insert(s.id.clone(), json!(p.grants.get(i).copied().unwrap_or(0)));
        }
        attrs.insert(
            "consent_required".into(),
            json!(p.properties.consent_required),
        );
        attrs.insert(
            "exclusions_apply".into(),
            json!(p.properties.exclusions_apply),
        );
        for (consent_kind, break_glass) in SCENARIOS {
            for (ci, c) in policy.content().iter().enumerate() {
                for cats in [vec![], vec![0u16], vec![2u16, 5u16]] {
                    let names: Vec<&str> = cats
                        .iter()
                        .map(|i| categories[*i as usize].as_str())
                        .collect();
                    let segment = &policy.segments()[c.placement.segment as usize].id;
                    let entities = Entities::from_json_value(
                        json!([
                            {"uid": {"type": "Viewer", "id": "u"}, "attrs": attrs, "parents": []},
                            {"uid": {"type": "Entry", "id": "e"}, "attrs": {
                                "segment": segment, "tier": c.placement.tier, "categories": names
                            }, "parents": []}
                        ]),
                        None,
                    )
                    .unwrap();
                    let context = Context::from_json_value(
                        json!({"consent": consent_kind, "break_glass": break_glass}),
                        None,
                    )
                    .unwrap();
                    let request = CedarRequest::new(
                        EntityUid::from_str(r#"Viewer::"u""#).unwrap(),
                        EntityUid::from_str(r#"Action::"view""#).unwrap(),
                        EntityUid::from_str(r#"Entry::"e""#).unwrap(),
                        context,
                        None,
                    )
                    .unwrap();
                    cases.push(Case {
                        profile,
                        consent: consent_kind,
                        break_glass,
                        content: ci,
                        categories: cats,
                        cedar_entities: entities,
                        cedar_request: request,
                    });
                }
            }
        }
    }

    // Agreement, and one decider per (profile, consent): built once, as a
    // request's context is.
    let viewers: Vec<_> = ["1b", "5"]
        .iter()
        .flat_map(|p| {
            [false, true].map(|bg| {
                let text = format!(
                    r#"{{"user_id":"bench","organisation":"RVY","profile":"{p}","purpose":"direct-care","training":{{"expires":"2099-01-01"}}{}}}"#,
                    if bg { r#","break_glass":{"reason":"unconscious","started":"2026-11-25T11:30:00Z"}"# } else { "" }
                );
                (*p, bg, Viewer::from_json(text.as_bytes()).unwrap())
            })
        })
        .collect();
    let mut requests: Vec<(&str, &str, bool, Request<'_>)> = Vec::new();
    for (p, bg, v) in &viewers {
        for (k, b) in SCENARIOS.iter().filter(|(_, b)| b == bg) {
            let consent = match *k {
                "permit" => &full,
                "deny" => &deny,
                _ => &none,
            };
            requests.push((
                *p,
                *k,
                *b,
                Request {
                    viewer: v,
                    consent,
                    now,
                    default_setting: None,
                    holding_organisation: None,
                },
            ));
        }
    }
    let deciders: Vec<_> = requests
        .iter()
        .map(|(p, k, b, r)| (*p, *k, *b, policy.entry_decider(r).unwrap()))
        .collect();
    let decider_of = |case: &Case| {
        &deciders
            .iter()
            .find(|(p, k, b, _)| *p == case.profile && *k == case.consent && *b == case.break_glass)
            .unwrap()
            .3
    };
    let mut allowed = 0;
    for case in &cases {
        let ours = decider_of(case)
            .decide(&[case.content], &case.categories, None)
            .decision
            == Verdict::Allow;
        let theirs = authorizer
            .is_authorized(&case.cedar_request, &cedar, &case.cedar_entities)
            .decision()
            == Decision::Allow;
        assert_eq!(
            ours,
            theirs,
            "disagree: profile {} consent {} break glass {} content {} categories {:?}",
            case.profile,
            case.consent,
            case.break_glass,
            policy.content()[case.content].id,
            case.categories
        );
        allowed += usize::from(ours);
    }

    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut ours_ns = Vec::with_capacity(ROUNDS * cases.len());
    let mut cedar_ns = Vec::with_capacity(ROUNDS * cases.len());
    let mut ours_pass = 0u128;
    let mut cedar_pass = 0u128;
    let bound: Vec<_> = cases.iter().map(|c| (decider_of(c), c)).collect();
    for round in 0..ROUNDS {
        // Alternate which engine goes first, so neither always runs warm.
        for which in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
            let pass = Instant::now();
            for (decider, case) in &bound {
                let t = Instant::now();
                if which == 0 {
                    black_box(decider.decide(
                        black_box(&[case.content]),
                        black_box(&case.categories),
                        None,
                    ));
                    ours_ns.push(t.elapsed().as_nanos() as u64);
                } else {
                    black_box(authorizer.is_authorized(
                        black_box(&case.cedar_request),
                        &cedar,
                        &case.cedar_entities,
                    ));
                    cedar_ns.push(t.elapsed().as_nanos() as u64);
                }
            }
            let e = pass.elapsed().as_nanos();
            if which == 0 {
                ours_pass += e
            } else {
                cedar_pass += e
            }
        }
    }
    let q = |v: &mut Vec<u64>, f: f64| {
        v.sort_unstable();
        v[((v.len() - 1) as f64 * f).round() as usize]
    };
    let n = (ROUNDS * cases.len()) as f64;
    let (o50, o99) = (q(&mut ours_ns, 0.5), q(&mut ours_ns, 0.99));
    let (c50, c99) = (q(&mut cedar_ns, 0.5), q(&mut cedar_ns, 0.99));
    let (om, cm) = (ours_pass as f64 / n, cedar_pass as f64 / n);

    let mut md = String::new();
    let _ = writeln!(md, "# Per-entry decision: tiergate vs Cedar (generated)\n");
    let _ = writeln!(md, "Written by `cargo bench --manifest-path bench/Cargo.toml --bench decision` (`make bench`); do not edit by hand.\n");
    md.push_str(&tiergate_bench::machine(&load_before));
    let _ = writeln!(
        md,
        "Cases: {} (profiles 1b and 5; RVY's consent to everything, none, or an opt-out of everything, each without break glass, and none or the opt-out with break glass; each of the default policy's {} content lines; no exclusion category, `hiv_aids`, or two others), {} allowed; both engines agree on every case (checked before timing). {ROUNDS} rounds over all cases, engines alternating first. p50/p99: each call timed on its own (includes about 20-30 ns of `Instant` overhead); mean: whole passes divided by calls. Cedar `cedar-policy 4.14`, `is_authorized` with the policy set parsed once and each request's entities and context built beforehand; tiergate: `Policy::entry_decider` (doc-hidden, bench-only) built once per viewer and consent, then `decide` per entry. The machine is shared with other work, so treat the figures as ±15%.\n",
        cases.len(),
        policy.content().len(),
        allowed,
    );
    let _ = writeln!(
        md,
        "| engine | p50 | p99 | mean |\n| --- | ---: | ---: | ---: |"
    );
    let _ = writeln!(
        md,
        "| tiergate (`EntryDecider::decide`) | {o50} ns | {o99} ns | {om:.0} ns |"
    );
    let _ = writeln!(
        md,
        "| Cedar (`Authorizer::is_authorized`) | {c50} ns | {c99} ns | {cm:.0} ns |"
    );
    let _ = writeln!(
        md,
        "| **ratio (Cedar ÷ tiergate)** | **{:.1}x** | **{:.1}x** | **{:.1}x** |\n",
        c50 as f64 / o50 as f64,
        c99 as f64 / o99 as f64,
        cm / om
    );
    let _ = writeln!(
        md,
        "The Cedar policies used:\n\n```cedar\n{}```",
        cedar_policies(&policy)
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/decision.md");
    std::fs::write(&path, &md).unwrap();
    print!("{md}");
    eprintln!("wrote {}", path.display());
}
