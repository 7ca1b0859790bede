//! Audit scan throughput (events/s) over a 1,000,000-event synthetic stream:
//! 5,000 users in 100 organisations over about a week, with break glass,
//! withheld entries, missing relationships, out-of-hours profiles, shared
//! surnames, opt-outs and one user's volume spike mixed in, scanned with the
//! default policy's seven rules.
//!
//! The stream is built in memory from a pool of 100,000 events that is
//! replayed ten times, each pass shifted a week later in place, so memory
//! stays bounded and only the scan is timed. A second benchmark includes
//! NDJSON parsing (as `tiergate audit scan` does it) on 100,000 lines.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tiergate_core::audit::{
    AuditEvent, BreakGlassUse, Relationship, RelationshipKind, RequestKind, Scanner,
};
use tiergate_core::Policy;
use time::{Duration, OffsetDateTime};

const POOL: usize = 100_000;
const PASSES: usize = 10;
/// Seconds between events: 100,000 events span about 6.9 days.
const STEP: i64 = 6;

/// A small deterministic generator (xorshift), so every run scans the same stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn pool() -> Vec<AuditEvent> {
    let start = time::macros::datetime!(2026-11-02 00:00 UTC);
    let profiles = ["1a", "1b", "1c", "2a", "2b", "3a", "3b", "4", "5", "6", "7"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(POOL);
    for i in 0..POOL {
        let step = i64::try_from(i).unwrap() * STEP;
        let time: OffsetDateTime = start + Duration::seconds(step);
        // One user in a thousand events is the one who spikes on day 5.
        let u = if (70_000..70_600).contains(&i) {
            42
        } else {
            rng.below(5000)
        };
        let withheld = if rng.below(20) == 0 {
            [("no_consent".to_owned(), 1 + rng.below(3))]
                .into_iter()
                .collect()
        } else {
            Default::default()
        };
        let relationships = if rng.below(50) == 0 {
            Some(Vec::new())
        } else {
            Some(vec![Relationship {
                kind: RelationshipKind::Encounter,
                time: start - Duration::days(30),
            }])
        };
        let kind = match rng.below(10) {
            0..=5 => RequestKind::Read,
            6..=7 => RequestKind::Search,
            8 => RequestKind::Everything,
            _ => RequestKind::FindPatient,
        };
        out.push(AuditEvent {
            id: format!("ev{i:07}"),
            time,
            user: format!("user{u}"),
            user_surname: Some(format!("S{}", u % 900)),
            user_address: None,
            organisation: format!("ORG{}", u % 100),
            profile: profiles[usize::try_from(u).unwrap() % profiles.len()].to_owned(),
            patient: Some(format!("pat{}", rng.below(200_000))),
            patient_surname: Some(format!("S{}", rng.below(50_000))),
            patient_address: None,
            purpose: "direct-care".into(),
            kind,
            segments: vec!["summary-2".into()],
            returned: rng.below(40),
            withheld,
            break_glass: (rng.below(1000) == 0).then(|| BreakGlassUse {
                reason: "unconscious".into(),
            }),
            policy: "sha256:bench".into(),
            relationships,
            opted_out: if rng.below(500) == 0 {
                vec!["summary".into()]
            } else {
                Vec::new()
            },
        });
    }
    out
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default_policy().unwrap();
    let rules = policy.audit_rules();
    let mut events = pool();
    let shift = Duration::seconds(i64::try_from(POOL).unwrap() * STEP);

    let mut group = c.benchmark_group("audit");
    group.sample_size(10);
    group.throughput(Throughput::Elements((POOL * PASSES) as u64));
    group.bench_function("scan 1M events", |b| {
        b.iter(|| {
            let mut scanner = Scanner::new(rules);
            let mut alerts = Vec::new();
            for pass in 0..PASSES {
                for e in events.iter_mut() {
                    if pass > 0 {
                        e.time += shift;
                    }
                    scanner.feed_into(e, &mut alerts).unwrap();
                }
            }
            // Put the pool back where it started for the next iteration.
            let back = shift * i32::try_from(PASSES - 1).unwrap();
            for e in events.iter_mut() {
                e.time -= back;
            }
            (alerts.len(), scanner.users_tracked())
        })
    });

    let lines: Vec<String> = events.iter().map(|e| e.to_ndjson_line().unwrap()).collect();
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("parse NDJSON and scan 100k events", |b| {
        b.iter(|| {
            let mut scanner = Scanner::new(rules);
            let mut alerts = Vec::new();
            for (n, l) in lines.iter().enumerate() {
                let e = AuditEvent::from_ndjson_line(l, n + 1).unwrap().unwrap();
                scanner.feed_into(&e, &mut alerts).unwrap();
            }
            alerts.len()
        })
    });
    group.finish();

    // What the stream raises, once, for the results file.
    let mut scanner = Scanner::new(rules);
    let mut alerts = Vec::new();
    let mut peak = 0;
    for pass in 0..PASSES {
        for e in events.iter_mut() {
            if pass > 0 {
                e.time += shift;
            }
            scanner.feed_into(e, &mut alerts).unwrap();
            peak = peak.max(scanner.users_tracked());
        }
    }
    let mut by_rule = std::collections::BTreeMap::new();
    for a in &alerts {
        *by_rule.entry(a.rule.clone()).or_insert(0usize) += 1;
    }
    eprintln!(
        "alerts over {} events: {by_rule:?}; peak users tracked {peak}",
        POOL * PASSES
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
