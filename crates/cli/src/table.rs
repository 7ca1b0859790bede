//! The `explain` table.

use tiergate_core::{Decisions, Policy, Verdict};

pub fn explain(policy: &Policy, decisions: &Decisions) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "#".into(),
        "entry".into(),
        "rule".into(),
        "placements".into(),
        "decision".into(),
        "reasons / allowed by".into(),
    ]];
    for d in &decisions.entries {
        let entry = match (&d.resource_type, &d.id) {
            (Some(t), Some(id)) => format!("{t}/{id}"),
            (Some(t), None) => t.clone(),
            _ => "(no resource)".into(),
        };
        let placements = if d.placements.is_empty() {
            "-".to_owned()
        } else {
            d.placements
                .iter()
                .map(|p| format!("{}-{}", p.segment, p.tier))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let why = match d.decision {
            Verdict::Allow => {
                let mut s = d.allowed_by.clone().unwrap_or_default();
                if let Some(c) = &d.consent {
                    s.push_str(&format!(" (consent {c})"));
                }
                if d.break_glass {
                    s.push_str(" (break glass)");
                }
                s
            }
            Verdict::Withhold => d
                .reasons
                .iter()
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(", "),
        };
        rows.push([
            d.index.to_string(),
            entry,
            d.rule.clone().unwrap_or_else(|| "-".into()),
            placements,
            match d.decision {
                Verdict::Allow => "allow".into(),
                Verdict::Withhold => "withhold".into(),
            },
            why,
        ]);
    }
    let mut out = render(&rows);
    let s = &decisions.summary;
    out.push_str(&format!(
        "\n{} entries: {} allowed, {} withheld; profile {} ({}); policy {}\n",
        s.entries,
        s.allowed,
        s.withheld,
        s.profile,
        policy
            .profile(&s.profile)
            .map(|p| p.name.as_str())
            .unwrap_or("?"),
        s.policy
    ));
    for (reason, n) in &s.withheld_by_reason {
        out.push_str(&format!("  withheld {reason}: {n}\n"));
    }
    if let Some(bg) = &s.break_glass {
        out.push_str(&format!(
            "  BREAK GLASS ({}), until {}: {} entries released without consent; this access will be investigated\n",
            bg.reason.as_deref().unwrap_or("no reason"),
            bg.expires,
            s.allowed_by_break_glass
        ));
    }
    out
}

/// Rows as left-aligned columns, two spaces apart, the last column unpadded.
pub fn render<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths.iter()).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
