//! Decisions: for one viewer and one record, which entries may be shared,
//! and why each withheld entry was withheld.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::fasthash::FastSet;

use crate::json::{Map, Value};
use serde::Serialize;
use time::OffsetDateTime;

use crate::classify::{normalise_reference, Index};
use crate::consent::{CompiledConsent, ConsentVerdict, EntryKey};
use crate::error::RedactError;
use crate::policy::{Outcome, Policy};
use crate::segment::Placement;
use crate::viewer::{ActiveBreakGlass, TrainingState, Viewer};

/// Everything a decision depends on besides the policy and the record.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub viewer: &'a Viewer,
    pub consent: &'a CompiledConsent,
    pub now: OffsetDateTime,
    /// The setting of the origin system, used when an entry says nothing.
    pub default_setting: Option<&'a str>,
    /// The organisation whose system the record comes from, holding every
    /// entry that does not name its own holder (own-organisation
    /// pass-through). `None`: only entries that name one are anyone's own.
    pub holding_organisation: Option<&'a str>,
}

/// Why an entry was withheld (or, for `own_organisation`, allowed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    TierNotGranted,
    NoConsent,
    OptedOut,
    ExcludedCategory(String),
    TrainingExpired,
    TrainingMissing,
    PurposeNotPermitted,
    Unclassified,
    NotReferenced,
    AboutWithheld,
    MalformedEntry,
    SecurityLabel,
    DuplicateId,
    ContainedWithheld,
    EmptyAfterRedaction,
    /// A clinician marked the entry as not for online viewing and the
    /// profile reads the record online.
    NotForOnline,
    /// An own-record viewer asked for a record that is not the patient's
    /// they may see (or named no patient).
    NotOwnRecord,
    /// A proxy's granted scopes do not cover the entry's content line.
    ProxyScope,
    /// The framework has not placed this kind of entry yet (alerts and
    /// flags, "TBC"): only the person sees it.
    NotShared,
    /// The profile's tier reaches the placement, but the policy reserves it
    /// for an individual approval (7.2) and none is in force for this user
    /// and patient.
    ApprovalRequired,
}

impl Reason {
    /// The machine-readable form (`excluded_category:hiv_aids`).
    pub fn code(&self) -> String {
        match self {
            Reason::TierNotGranted => "tier_not_granted".into(),
            Reason::NoConsent => "no_consent".into(),
            Reason::OptedOut => "opted_out".into(),
            Reason::ExcludedCategory(c) => format!("excluded_category:{c}"),
            Reason::TrainingExpired => "training_expired".into(),
            Reason::TrainingMissing => "training_missing".into(),
            Reason::PurposeNotPermitted => "purpose_not_permitted".into(),
            Reason::Unclassified => "unclassified".into(),
            Reason::NotReferenced => "not_referenced".into(),
            Reason::AboutWithheld => "about_withheld".into(),
            Reason::MalformedEntry => "malformed_entry".into(),
            Reason::SecurityLabel => "security_label".into(),
            Reason::DuplicateId => "duplicate_id".into(),
            Reason::ContainedWithheld => "contained_withheld".into(),
            Reason::EmptyAfterRedaction => "empty_after_redaction".into(),
            Reason::NotForOnline => "not_for_online".into(),
            Reason::NotOwnRecord => "not_own_record".into(),
            Reason::ProxyScope => "proxy_scope".into(),
            Reason::NotShared => "not_shared".into(),
            Reason::ApprovalRequired => "approval_required".into(),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

/// Allow or withhold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Withhold,
}

/// Where an entry is placed, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlacementOut {
    pub segment: String,
    pub tier: u8,
    pub content: String,
}

/// The decision for one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryDecision {
    /// Position in the document (`Bundle.entry` index; 0 for a resource).
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The classification rule that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    pub placements: Vec<PlacementOut>,
    pub decision: Verdict,
    /// Empty when allowed.
    pub reasons: Vec<Reason>,
    /// `summary-2`, `own_organisation`, `referenced`, `about` or `contains_shared`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_by: Option<String>,
    /// The consent directive that allowed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<String>,
    /// Allowed only because of break glass.
    pub break_glass: bool,
    /// Local ids of contained resources removed from an allowed entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld_contained: Vec<String>,
    /// The individual approval (7.2) that opened its placement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Categories whose terms are masked out of this entry's free text.
    #[serde(skip)]
    pub(crate) mask: Vec<u16>,
}

/// The per-request summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Content hash of the policy that decided.
    pub policy: String,
    pub user_id: String,
    pub organisation: String,
    pub profile: String,
    pub entries: usize,
    pub allowed: usize,
    pub withheld: usize,
    /// Each withheld entry counts once under each distinct reason it has.
    pub withheld_by_reason: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<ActiveBreakGlass>,
    pub allowed_by_break_glass: usize,
    /// Whether this access must be investigated (break glass used).
    pub investigate: bool,
    /// Individual approvals (7.2) that opened an allowed entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<String>,
}

/// All decisions for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decisions {
    pub summary: Summary,
    pub entries: Vec<EntryDecision>,
}

impl Decisions {
    /// Whether entry `index` is allowed.
    pub fn allowed(&self, index: usize) -> bool {
        self.entries
            .get(index)
            .is_some_and(|d| d.decision == Verdict::Allow)
    }
}

/// One entry of a document as the decider sees it.
#[derive(Debug, Clone)]
pub(crate) struct EntryView<'a> {
    pub(crate) resource: Option<&'a Map<'a>>,
    pub(crate) full_url: Option<&'a str>,
    /// `Type/id`.
    pub(crate) reference: Option<String>,
}

/// The entries of a document: a Bundle's entries, or the resource itself.
pub(crate) fn entries_of<'a>(doc: &'a Map<'a>) -> Result<(bool, Vec<EntryView<'a>>), RedactError> {
    let rtype = doc
        .get("resourceType")
        .and_then(Value::as_str)
        .ok_or_else(|| RedactError::Structure {
            path: "/resourceType".into(),
            message: "missing or not a string".into(),
        })?;
    if rtype != "Bundle" {
        return Ok((false, vec![view(Some(doc), None)]));
    }
    let entries = match doc.get("entry") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|e| {
                let obj = e.as_object();
                let resource = obj
                    .and_then(|o| o.get("resource"))
                    .and_then(Value::as_object);
                let full_url = obj.and_then(|o| o.get("fullUrl")).and_then(Value::as_str);
                view(resource, full_url)
            })
            .collect(),
        Some(_) => {
            return Err(RedactError::Structure {
                path: "/entry".into(),
                message: "not an array".into(),
            })
        }
    };
    Ok((true, entries))
}

fn view<'a>(resource: Option<&'a Map<'a>>, full_url: Option<&'a str>) -> EntryView<'a> {
    let resource = resource.filter(|r| r.get("resourceType").and_then(Value::as_str).is_some());
    let reference = resource.and_then(|r| {
        let t = r.get("resourceType").and_then(Value::as_str)?;
        let id = r.get("id").and_then(Value::as_str)?;
        Some(format!("{t}/{id}"))
    });
    EntryView {
        resource,
        full_url,
        reference,
    }
}

struct Pending {
    decision: EntryDecision,
    categories: Vec<u16>,
    outcome: Option<Outcome>,
}

/// What stays the same for every entry of one request.
pub(crate) struct Ctx<'r> {
    request: &'r Request<'r>,
    profile: &'r crate::policy::Profile,
    break_glass: bool,
    pub(crate) blocked: Option<Reason>,
    default_setting: Option<usize>,
    /// Content line indices a proxy's scopes cover; `None` for no proxy.
    pub(crate) scope: Option<HashSet<usize>>,
    /// For a proxy to whom Appendix 1 applies: the categories the person
    /// granted them by name.
    proxy_categories: Option<Vec<u16>>,
    /// Whether consent is needed (policy and profile).
    consent_required: bool,
    /// Individual approvals in force for this record's patient.
    approved: Vec<(Placement, String)>,
}

/// Whether a viewer reaches a placement, and how.
pub(crate) enum Reach<'c> {
    Granted,
    /// Through this individual approval.
    Approved(&'c str),
    NeedsApproval,
    NotGranted,
}

impl Reach<'_> {
    pub(crate) fn open(&self) -> bool {
        matches!(self, Reach::Granted | Reach::Approved(_))
    }
}

impl Ctx<'_> {
    /// Whether the viewer's profile is an own-record view.
    pub(crate) fn profile_own_record(&self) -> bool {
        self.profile.properties.own_record
    }

    /// Keeps the content lines the proxy's scopes cover.
    pub(crate) fn in_scope(&self, content_ix: &[usize]) -> Vec<usize> {
        match &self.scope {
            None => content_ix.to_vec(),
            Some(scope) => content_ix
                .iter()
                .copied()
                .filter(|c| scope.contains(c))
                .collect(),
        }
    }
}

impl Policy {
    /// Decides every entry of a parsed FHIR document for one request.
    pub fn decide(
        &self,
        record: &serde_json::Value,
        request: &Request<'_>,
    ) -> Result<Decisions, RedactError> {
        let doc = record
            .as_object()
            .ok_or_else(crate::redact::not_an_object)?;
        let doc = Map::from_serde(doc);
        let (_, entries) = entries_of(&doc)?;
        self.decide_entries(&entries, request)
    }

    pub(crate) fn decide_entries(
        &self,
        entries: &[EntryView<'_>],
        request: &Request<'_>,
    ) -> Result<Decisions, RedactError> {
        let viewer = request.viewer;
        // A proxy's grant by the patient's age on the day, from the
        // record's own Patient.
        let birth = viewer
            .proxy_scopes
            .as_ref()
            .and_then(|_| birth_date_of(entries, viewer.patient.as_deref()));
        let (mut ctx, break_glass) = self.context(request, birth)?;
        if !viewer.approvals.is_empty() && !ctx.profile.properties.own_record {
            // An approval is for one patient: it opens nothing in a record
            // that is not wholly theirs.
            let patients: std::collections::BTreeSet<&str> = viewer
                .approvals
                .iter()
                .map(|a| a.patient.as_str())
                .collect();
            ctx.approved = patients
                .into_iter()
                .filter(|p| own_record_of(entries, Some(p)))
                .flat_map(|p| viewer.approvals_at(self, Some(p), request.now))
                .collect();
        }
        if ctx.profile.properties.own_record
            && ctx.blocked.is_none()
            && !own_record_of(entries, viewer.patient.as_deref())
        {
            ctx.blocked = Some(Reason::NotOwnRecord);
        }
        let index = Index::new(entries);
        // Entries that claim the same identity with different content.
        let mut first_seen: HashMap<&str, &Map> = HashMap::new();
        let mut conflicting: HashSet<&str> = HashSet::new();
        for e in entries {
            if let (Some(r), Some(res)) = (&e.reference, e.resource) {
                match first_seen.get(r.as_str()) {
                    Some(other) if *other != res => {
                        conflicting.insert(r.as_str());
                    }
                    Some(_) => {}
                    None => {
                        first_seen.insert(r.as_str(), res);
                    }
                }
            }
        }
        let mut pending: Vec<Pending> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let Some(res) = entry.resource else {
                let mut d = blank(i);
                d.reasons.push(Reason::MalformedEntry);
                pending.push(Pending {
                    decision: d,
                    categories: Vec::new(),
                    outcome: None,
                });
                continue;
            };
            let key = EntryRef {
                reference: entry.reference.as_deref(),
                full_url: entry.full_url,
            };
            let mut p = self.judge(i, res, res, key, &index, &ctx, None);
            if entry
                .reference
                .as_deref()
                .is_some_and(|r| conflicting.contains(r))
            {
                // Two different entries claim the same identity: a reference
                // to one could reveal the other. Neither is shared.
                p.decision.decision = Verdict::Withhold;
                p.decision.allowed_by = None;
                p.decision.consent = None;
                p.decision.break_glass = false;
                p.decision.approval = None;
                p.decision.reasons = vec![Reason::DuplicateId];
            }
            pending.push(p);
        }

        if ctx.blocked.is_none() {
            self.decide_supporting(&mut pending, entries, &index, &ctx);
        }

        let decisions: Vec<EntryDecision> = pending.into_iter().map(|p| p.decision).collect();
        Ok(self.summarise(decisions, viewer, break_glass))
    }

    pub(crate) fn summarise(
        &self,
        decisions: Vec<EntryDecision>,
        viewer: &Viewer,
        break_glass: Option<crate::viewer::ActiveBreakGlass>,
    ) -> Decisions {
        let rules = &self.document;
        let mut by_reason = BTreeMap::new();
        let mut allowed = 0;
        let mut allowed_bg = 0;
        for d in &decisions {
            match d.decision {
                Verdict::Allow => {
                    allowed += 1;
                    if d.break_glass {
                        allowed_bg += 1;
                    }
                }
                Verdict::Withhold => {
                    for r in &d.reasons {
                        *by_reason.entry(r.code()).or_insert(0) += 1;
                    }
                }
            }
        }
        let investigate = break_glass.is_some() && rules.break_glass.investigate;
        let mut approvals: Vec<String> = decisions
            .iter()
            .filter(|d| d.decision == Verdict::Allow)
            .filter_map(|d| d.approval.clone())
            .collect();
        approvals.sort();
        approvals.dedup();
        Decisions {
            summary: Summary {
                policy: self.hash.clone(),
                user_id: viewer.user_id.clone(),
                organisation: viewer.organisation.clone(),
                profile: viewer.profile.clone(),
                entries: decisions.len(),
                allowed,
                withheld: decisions.len() - allowed,
                withheld_by_reason: by_reason,
                break_glass,
                allowed_by_break_glass: allowed_bg,
                investigate,
                approvals,
            },
            entries: decisions,
        }
    }

    /// The placements of content lines, and the same by name for decisions.
    pub(crate) fn placements_of(
        &self,
        content_ix: &[usize],
    ) -> (Vec<Placement>, Vec<PlacementOut>) {
        content_ix
            .iter()
            .filter_map(|c| self.content.get(*c))
            .map(|c| {
                let named = PlacementOut {
                    segment: self
                        .segments
                        .get(usize::from(c.placement.segment))
                        .map(|s| s.id.clone())
                        .unwrap_or_default(),
                    tier: c.placement.tier,
                    content: c.id.clone(),
                };
                (c.placement, named)
            })
            .unzip()
    }

    /// The content lines a proxy's grant covers on the day of the request,
    /// for a patient born on `birth_date` (see [`Policy::proxy_scopes_at`]).
    fn proxy_content(
        &self,
        viewer: &Viewer,
        scopes: &[String],
        birth_date: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<HashSet<usize>, crate::error::ViewerError> {
        let agreed = viewer
            .proxy_agreed
            .as_deref()
            .and_then(|a| crate::fhirtime::parse(a, crate::fhirtime::Edge::Start));
        let in_force = self.proxy_scopes_at(scopes, agreed, birth_date, now);
        self.scope_content(&in_force).map_err(|scope| {
            crate::error::ViewerError::UnknownProxyScope {
                scope: scope.chars().take(64).filter(|c| !c.is_control()).collect(),
            }
        })
    }

    /// What stays the same for every entry of one request; `birth_date`
    /// is the patient's, for a proxy's age rules.
    pub(crate) fn context<'r>(
        &'r self,
        request: &'r Request<'r>,
        birth_date: Option<&str>,
    ) -> Result<(Ctx<'r>, Option<crate::viewer::ActiveBreakGlass>), RedactError> {
        let viewer = request.viewer;
        viewer.validate(self)?;
        let profile = self.profile(&viewer.profile).ok_or_else(|| {
            crate::error::ViewerError::UnknownProfile {
                profile: viewer.profile.clone(),
            }
        })?;
        let break_glass = viewer.break_glass_at(self, request.now)?;
        let default_setting = match request.default_setting {
            None => None,
            Some(s) => Some(
                self.setting_index(s)
                    .ok_or_else(|| RedactError::UnknownSetting {
                        setting: s.chars().take(64).collect(),
                    })?,
            ),
        };
        let rules = &self.document;
        let props = &profile.properties;
        let scope = match &viewer.proxy_scopes {
            None => None,
            Some(scopes) => Some(self.proxy_content(viewer, scopes, birth_date, request.now)?),
        };
        let proxy_categories = match &viewer.proxy_scopes {
            Some(_) if rules.proxies.exclusions_apply => Some(
                viewer
                    .proxy_categories
                    .iter()
                    .flatten()
                    .filter_map(|c| self.category_index(c))
                    .collect(),
            ),
            _ => None,
        };
        let blocked = if props.own_record
            && viewer
                .patient
                .as_deref()
                .is_none_or(|p| p.trim().is_empty())
        {
            Some(Reason::NotOwnRecord)
        } else if !rules.consent.purposes.iter().any(|p| p == &viewer.purpose) {
            Some(Reason::PurposeNotPermitted)
        } else if rules.training.required && props.training_required {
            match viewer.training_state(request.now) {
                TrainingState::Current => None,
                TrainingState::Missing => Some(Reason::TrainingMissing),
                TrainingState::Expired => Some(Reason::TrainingExpired),
            }
        } else {
            None
        };
        Ok((
            Ctx {
                request,
                profile,
                break_glass: break_glass.is_some(),
                blocked,
                default_setting,
                scope,
                proxy_categories,
                consent_required: rules.consent.required && props.consent_required,
                approved: Vec::new(),
            },
            break_glass,
        ))
    }

    /// Whether the viewer reaches `p`: by the profile's tier, and where
    /// the policy reserves `p` for individual approvals, by one in force.
    /// The person's own record needs none.
    pub(crate) fn reach<'c>(&self, ctx: &'c Ctx<'_>, p: Placement) -> Reach<'c> {
        if !ctx.profile.reaches(p) {
            return Reach::NotGranted;
        }
        if ctx.profile.properties.own_record || !self.needs_approval(p) {
            return Reach::Granted;
        }
        match ctx
            .approved
            .iter()
            .find(|(a, _)| a.segment == p.segment && a.tier >= p.tier)
        {
            Some((_, id)) => Reach::Approved(id),
            None => Reach::NeedsApproval,
        }
    }

    /// Whether an opt-out in force for this viewer covers the entry in any
    /// of `placements` (and break glass does not override it).
    pub(crate) fn opted_out_of(
        &self,
        ctx: &Ctx<'_>,
        key: EntryKey<'_>,
        placements: &[Placement],
    ) -> bool {
        if !ctx.consent_required || (ctx.break_glass && self.document.break_glass.overrides_opt_out)
        {
            return false;
        }
        placements.iter().any(|p| {
            matches!(
                ctx.request
                    .consent
                    .verdict(ctx.request.viewer, ctx.request.now, key, Some(*p)),
                ConsentVerdict::Deny(_)
            )
        })
    }

    /// The categories that no lift covers for this viewer and entry.
    pub(crate) fn unlifted(
        &self,
        categories: &[u16],
        placements: &[Placement],
        key: EntryKey<'_>,
        ctx: &Ctx<'_>,
    ) -> Vec<u16> {
        // Explicit consent, not break glass, for the entry's placement and
        // for the lifting placement itself: consent to Diagnostics tier 2
        // does not reach what only tier 3 shows.
        let permitted = |p: Placement| {
            !ctx.consent_required
                || matches!(
                    ctx.request
                        .consent
                        .verdict(ctx.request.viewer, ctx.request.now, key, Some(p)),
                    ConsentVerdict::Permit(_)
                )
        };
        // Consent to the lifting placement: a permit of content lines
        // counts only if it names a line placed there (consent to "all
        // tests", tier 2, is not consent to tier 3's "no exclusions").
        let permitted_lift = |l: &crate::policy::Lift| {
            !ctx.consent_required
                || matches!(
                    ctx.request.consent.verdict(
                        ctx.request.viewer,
                        ctx.request.now,
                        EntryKey {
                            permit_content: Some(&l.grant_content),
                            ..key
                        },
                        Some(l.grant)
                    ),
                    ConsentVerdict::Permit(_)
                )
        };
        let lifted = |c: u16| {
            self.lifts.iter().any(|l| {
                l.covers(c)
                    && self.reach(ctx, l.grant).open()
                    && permitted_lift(l)
                    && placements.iter().any(|p| {
                        p.segment == l.grant.segment && self.reach(ctx, *p).open() && permitted(*p)
                    })
            })
        };
        categories.iter().copied().filter(|c| !lifted(*c)).collect()
    }

    /// Allows `d` through the first placement the profile reaches and the
    /// consent permits, or through break glass where consent is missing;
    /// otherwise records why not.
    pub(crate) fn grant(
        &self,
        d: &mut EntryDecision,
        placements: &[Placement],
        key: EntryKey<'_>,
        ctx: &Ctx<'_>,
    ) {
        let rules = &self.document;
        let mut by_break_glass: Option<(Placement, Option<&str>)> = None;
        for p in placements {
            let approval = match self.reach(ctx, *p) {
                Reach::NotGranted => {
                    push_unique(&mut d.reasons, Reason::TierNotGranted);
                    continue;
                }
                Reach::NeedsApproval => {
                    // Reach is judged before consent, as for the tier.
                    push_unique(&mut d.reasons, Reason::ApprovalRequired);
                    continue;
                }
                Reach::Approved(id) => Some(id),
                Reach::Granted => None,
            };
            d.approval = approval.map(str::to_owned);
            if !ctx.profile.properties.consent_required {
                // The person's own record: their consent choices are about
                // sharing it with others.
                d.decision = Verdict::Allow;
                d.allowed_by = Some(self.placement_label(*p));
                break;
            }
            match ctx
                .request
                .consent
                .verdict(ctx.request.viewer, ctx.request.now, key, Some(*p))
            {
                ConsentVerdict::Permit(id) => {
                    d.decision = Verdict::Allow;
                    d.allowed_by = Some(self.placement_label(*p));
                    d.consent = Some(id.to_owned());
                    break;
                }
                ConsentVerdict::Deny(_) => {
                    if ctx.break_glass && rules.break_glass.overrides_opt_out {
                        by_break_glass.get_or_insert((*p, approval));
                    } else {
                        push_unique(&mut d.reasons, Reason::OptedOut);
                    }
                }
                ConsentVerdict::Silent if !ctx.consent_required => {
                    d.decision = Verdict::Allow;
                    d.allowed_by = Some(self.placement_label(*p));
                    break;
                }
                ConsentVerdict::Silent => {
                    if ctx.break_glass {
                        by_break_glass.get_or_insert((*p, approval));
                    } else {
                        push_unique(&mut d.reasons, Reason::NoConsent);
                    }
                }
            }
        }
        if d.decision == Verdict::Withhold {
            if let Some((p, approval)) = by_break_glass {
                d.decision = Verdict::Allow;
                d.allowed_by = Some(self.placement_label(p));
                d.break_glass = true;
                d.approval = approval.map(str::to_owned);
            }
        }
        if d.decision == Verdict::Allow {
            d.reasons.clear();
        } else {
            d.approval = None;
        }
        d.reasons.sort();
    }

    /// Decides one resource. `holder` is the resource whose `contained`
    /// resolves `#id` references (the resource itself, or its parent).
    #[allow(clippy::too_many_arguments)]
    fn judge(
        &self,
        i: usize,
        res: &Map,
        holder: &Map,
        key: EntryRef<'_>,
        index: &Index<'_>,
        ctx: &Ctx<'_>,
        parent_setting: Option<usize>,
    ) -> Pending {
        let viewer = ctx.request.viewer;
        let rules = &self.document;
        let mut d = blank(i);
        d.resource_type = res
            .get("resourceType")
            .and_then(Value::as_str)
            .map(str::to_owned);
        d.id = res.get("id").and_then(Value::as_str).map(str::to_owned);
        let classified = self.classify(res, holder, index, parent_setting.or(ctx.default_setting));
        d.setting = classified
            .setting
            .and_then(|s| self.settings.get(s).cloned());
        let sensitivity = self.sensitivity(res);
        let mut categories = sensitivity.codes.clone();
        if !self.mask_free_text {
            categories.extend(sensitivity.text.iter().copied());
        }
        categories.extend(sensitivity.labels.iter().copied());
        // A contained resource the entry refers to is part of what it reveals.
        if let Some(contained) = res.get("contained").and_then(Value::as_array) {
            let mut local_refs = HashSet::new();
            collect_local_references(res, &mut local_refs);
            for child in contained.iter().filter_map(Value::as_object) {
                let id = child.get("id").and_then(Value::as_str).unwrap_or_default();
                if local_refs.contains(id) {
                    let cs = self.sensitivity(child);
                    categories.extend(cs.codes);
                    if !self.mask_free_text {
                        categories.extend(cs.text);
                    }
                    categories.extend(cs.labels);
                }
            }
        }
        categories.sort_unstable();
        categories.dedup();
        let Some(rule) = classified.rule else {
            d.reasons.push(Reason::Unclassified);
            return Pending {
                decision: d,
                categories,
                outcome: None,
            };
        };
        d.rule = self.rule_id(rule).map(str::to_owned);
        let outcome = self.outcome(rule).cloned();
        let all_content: Vec<usize> = match &outcome {
            Some(Outcome::Place(ix)) => ix.clone(),
            _ => Vec::new(),
        };
        let (all_placements, named) = self.placements_of(&all_content);
        d.placements = named;
        // A person's opt-out of a category covers every entry carrying its
        // codes; only the exclusion (7.3) is limited to some segments.
        let entry_categories = categories.clone();
        self.keep_applicable(&mut categories, &all_placements);
        let mut text_categories = sensitivity.text.clone();
        self.keep_applicable(&mut text_categories, &all_placements);
        // A proxy sees an entry only through the content lines its scopes
        // cover.
        let content_ix = ctx.in_scope(&all_content);
        let placements = self.placements_of(&content_ix).0;
        if let Some(reason) = &ctx.blocked {
            d.reasons.push(reason.clone());
            return Pending {
                decision: d,
                categories,
                outcome,
            };
        }
        if sensitivity.withhold_label {
            d.reasons.push(Reason::SecurityLabel);
            return Pending {
                decision: d,
                categories,
                outcome,
            };
        }
        if sensitivity.not_online && ctx.profile.properties.online {
            d.reasons.push(Reason::NotForOnline);
            return Pending {
                decision: d,
                categories,
                outcome,
            };
        }
        if content_ix.is_empty() && !all_content.is_empty() {
            d.reasons.push(Reason::ProxyScope);
            return Pending {
                decision: d,
                categories,
                outcome,
            };
        }
        if let Some(granted) = &ctx.proxy_categories {
            // A proxy is not the person: Appendix 1 applies, and only the
            // person's grant of a category by name lifts it.
            let not_granted = |cs: &[u16]| -> Vec<u16> {
                cs.iter()
                    .copied()
                    .filter(|c| !granted.contains(c))
                    .collect()
            };
            let withheld = not_granted(&categories);
            if self.mask_free_text {
                d.mask = not_granted(&text_categories);
            }
            if !withheld.is_empty() {
                d.reasons = self.exclusion_reasons(&withheld);
                return Pending {
                    decision: d,
                    categories,
                    outcome,
                };
            }
            categories.clear();
        } else if !ctx.profile.properties.exclusions_apply {
            // The person's own record: Appendix 1 is about sharing it.
            categories.clear();
        }
        let consent_key = EntryKey {
            reference: key.reference,
            full_url: key.full_url,
            content: &content_ix,
            categories: &entry_categories,
            permit_content: None,
        };
        let unlifted = self.unlifted(&categories, &placements, consent_key, ctx);
        if self.mask_free_text && ctx.profile.properties.exclusions_apply {
            d.mask = self.unlifted(&text_categories, &placements, consent_key, ctx);
        }
        if !unlifted.is_empty() {
            d.reasons = self.exclusion_reasons(&unlifted);
            return Pending {
                decision: d,
                categories,
                outcome,
            };
        }
        if matches!(outcome, Some(Outcome::Withhold)) {
            // Not placed by the framework: the person's own, and no one
            // else's (a proxy neither).
            if ctx.profile_own_record() && ctx.scope.is_none() {
                d.decision = Verdict::Allow;
                d.allowed_by = Some("own_record".into());
                self.judge_contained(&mut d, res, key, index, ctx, classified.setting);
            } else {
                d.reasons.push(Reason::NotShared);
            }
            return Pending {
                decision: d,
                categories,
                outcome,
            };
        }
        if !matches!(outcome, Some(Outcome::Place(_))) {
            // Dependent, about and container entries are decided later.
            return Pending {
                decision: d,
                categories,
                outcome,
            };
        }
        let holder = classified
            .holder
            .as_deref()
            .or(ctx.request.holding_organisation);
        let own = rules.own_organisation.pass_through
            && holder.is_some_and(|h| !h.trim().is_empty() && h == viewer.organisation);
        if own {
            d.decision = Verdict::Allow;
            d.allowed_by = Some("own_organisation".into());
        } else {
            self.grant(&mut d, &placements, consent_key, ctx);
        }
        if d.decision == Verdict::Allow {
            d.reasons.clear();
            self.judge_contained(&mut d, res, key, index, ctx, classified.setting);
        }
        d.reasons.sort();
        Pending {
            decision: d,
            categories,
            outcome,
        }
    }

    /// Contained resources are judged on their own. One that is withheld is
    /// removed; if the parent refers to it, the parent is withheld too.
    fn judge_contained(
        &self,
        d: &mut EntryDecision,
        res: &Map,
        key: EntryRef<'_>,
        index: &Index<'_>,
        ctx: &Ctx<'_>,
        parent_setting: Option<usize>,
    ) {
        let Some(contained) = res.get("contained").and_then(Value::as_array) else {
            return;
        };
        let mut local_refs = HashSet::new();
        collect_local_references(res, &mut local_refs);
        for c in contained {
            let local_id = c.get("id").and_then(Value::as_str).unwrap_or_default();
            let (allowed, child_reasons) = match c.as_object() {
                None => (false, vec![Reason::MalformedEntry]),
                Some(child) => {
                    let p = self.judge(d.index, child, res, key, index, ctx, parent_setting);
                    let allowed = match p.outcome {
                        Some(Outcome::Place(_)) => p.decision.decision == Verdict::Allow,
                        // A supporting resource inside an allowed parent is
                        // shared with it, unless it carries an exclusion.
                        Some(_) => p.decision.reasons.is_empty() && p.categories.is_empty(),
                        None => false,
                    };
                    (allowed, p.decision.reasons)
                }
            };
            if !allowed {
                if local_refs.contains(local_id) {
                    d.decision = Verdict::Withhold;
                    d.allowed_by = None;
                    d.consent = None;
                    d.break_glass = false;
                    d.approval = None;
                    d.reasons = vec![Reason::ContainedWithheld];
                    d.reasons.extend(child_reasons);
                    d.reasons.sort();
                    d.reasons.dedup();
                    d.withheld_contained.clear();
                    return;
                }
                d.withheld_contained.push(local_id.to_owned());
            }
        }
    }

    pub(crate) fn exclusion_reasons(&self, categories: &[u16]) -> Vec<Reason> {
        let mut reasons: Vec<Reason> = categories
            .iter()
            .filter_map(|c| self.categories.get(usize::from(*c)))
            .map(|c| Reason::ExcludedCategory(c.clone()))
            .collect();
        reasons.sort();
        reasons.dedup();
        reasons
    }

    /// Second pass: entries shared only alongside others, to a fixed point so
    /// that chains (condition -> practitioner -> organisation, list -> list
    /// -> item) are followed. Each round allows at least one more entry or
    /// stops, so it ends after at most one round per entry.
    fn decide_supporting(
        &self,
        pending: &mut [Pending],
        entries: &[EntryView<'_>],
        index: &Index<'_>,
        ctx: &Ctx<'_>,
    ) {
        // Allowing a supporting entry still judges what it contains.
        let admit = |i: usize, d: &mut EntryDecision, by: &str| {
            d.decision = Verdict::Allow;
            d.allowed_by = Some(by.into());
            if let Some(entry) = entries.get(i) {
                if let Some(res) = entry.resource {
                    let key = EntryRef {
                        reference: entry.reference.as_deref(),
                        full_url: entry.full_url,
                    };
                    self.judge_contained(d, res, key, index, ctx, None);
                }
            }
            d.decision == Verdict::Allow
        };
        let mut referenced: FastSet<usize> = FastSet::default();
        let mut scanned = vec![false; pending.len()];
        let container_items: Vec<Vec<usize>> = entries
            .iter()
            .map(|e| e.resource.map(|r| list_items(r, index)).unwrap_or_default())
            .collect();
        loop {
            for (i, p) in pending.iter().enumerate() {
                if p.decision.decision == Verdict::Allow && !scanned.get(i).copied().unwrap_or(true)
                {
                    if let Some(res) = entries.get(i).and_then(|e| e.resource) {
                        collect_targets(res, index, &mut referenced);
                    }
                    if let Some(s) = scanned.get_mut(i) {
                        *s = true;
                    }
                }
            }
            let allowed: Vec<bool> = pending
                .iter()
                .map(|p| p.decision.decision == Verdict::Allow)
                .collect();
            let mut changed = false;
            for (i, p) in pending.iter_mut().enumerate() {
                if p.decision.decision == Verdict::Allow || !p.decision.reasons.is_empty() {
                    continue;
                }
                let allow_as = match p.outcome {
                    Some(Outcome::Dependent) if referenced.contains(&i) => Some("referenced"),
                    Some(Outcome::Container)
                        if container_items.get(i).is_some_and(|items| {
                            items
                                .iter()
                                .any(|t| allowed.get(*t).copied().unwrap_or(false))
                        }) =>
                    {
                        Some("contains_shared")
                    }
                    _ => None,
                };
                if let Some(by) = allow_as {
                    changed |= admit(i, &mut p.decision, by);
                }
            }
            if !changed {
                break;
            }
        }
        let allowed: Vec<bool> = pending
            .iter()
            .map(|p| p.decision.decision == Verdict::Allow)
            .collect();
        let any_clinical = pending.iter().any(|p| {
            p.decision.decision == Verdict::Allow && matches!(p.outcome, Some(Outcome::Place(_)))
        });
        for (i, p) in pending.iter_mut().enumerate() {
            if p.decision.decision == Verdict::Allow || !p.decision.reasons.is_empty() {
                continue;
            }
            match p.outcome {
                Some(Outcome::About) => {
                    let targets = entries
                        .get(i)
                        .and_then(|e| e.resource)
                        .map(|r| about_targets(r, index))
                        .unwrap_or_default();
                    let all_allowed = !targets.is_empty()
                        && targets
                            .iter()
                            .all(|t| t.is_some_and(|t| allowed.get(t).copied().unwrap_or(false)));
                    if all_allowed {
                        admit(i, &mut p.decision, "about");
                    } else {
                        p.decision.reasons.push(Reason::AboutWithheld);
                    }
                }
                Some(Outcome::Container) => {
                    // A list with nothing in this document (empty, or only
                    // pointing elsewhere) reveals nothing; one whose items
                    // here were all withheld is withheld with them.
                    let has_local_items = container_items
                        .get(i)
                        .is_some_and(|items| !items.is_empty());
                    if !has_local_items && any_clinical {
                        admit(i, &mut p.decision, "contains_shared");
                    } else {
                        p.decision.reasons.push(Reason::EmptyAfterRedaction);
                    }
                }
                _ => p.decision.reasons.push(Reason::NotReferenced),
            }
        }
    }
}

/// The birth date of Patient `patient` as the document gives it.
fn birth_date_of<'a>(entries: &[EntryView<'a>], patient: Option<&str>) -> Option<&'a str> {
    let patient = patient?;
    entries.iter().filter_map(|e| e.resource).find_map(|res| {
        (res.get("resourceType").and_then(Value::as_str) == Some("Patient")
            && res.get("id").and_then(Value::as_str) == Some(patient))
        .then(|| res.get("birthDate").and_then(Value::as_str))
        .flatten()
    })
}

/// Whether every patient a document is about is `patient`: each Patient
/// resource (entries and contained) has that id, each reference to a Patient
/// points at it, and there is at least one. Fail closed: a document that
/// names no patient, or two, is nobody's own record.
fn own_record_of(entries: &[EntryView<'_>], patient: Option<&str>) -> bool {
    let Some(patient) = patient.map(str::trim).filter(|p| !p.is_empty()) else {
        return false;
    };
    let wanted = format!("Patient/{patient}");
    let mut seen = false;
    let mut stack: Vec<&Value> = Vec::new();
    for e in entries {
        let Some(res) = e.resource else {
            continue;
        };
        stack.clear();
        stack.extend(res.values());
        if res.get("resourceType").and_then(Value::as_str) == Some("Patient") {
            if res.get("id").and_then(Value::as_str) != Some(patient) {
                return false;
            }
            seen = true;
        }
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    if m.get("resourceType").and_then(Value::as_str) == Some("Patient") {
                        if m.get("id").and_then(Value::as_str) != Some(patient) {
                            return false;
                        }
                        seen = true;
                    }
                    if let Some(r) = m.get("reference").and_then(Value::as_str) {
                        let r = normalise_reference(r).unwrap_or(r);
                        if r.starts_with("Patient/")
                            || r.starts_with("Patient?")
                            || r.contains("/Patient/")
                        {
                            if r != wanted {
                                return false;
                            }
                            seen = true;
                        }
                    }
                    stack.extend(m.values());
                }
                Value::Array(items) => stack.extend(items.iter()),
                _ => {}
            }
        }
    }
    seen
}

/// An entry's identity in the document.
#[derive(Debug, Clone, Copy)]
struct EntryRef<'a> {
    reference: Option<&'a str>,
    full_url: Option<&'a str>,
}

pub(crate) fn blank(index: usize) -> EntryDecision {
    EntryDecision {
        index,
        resource_type: None,
        id: None,
        rule: None,
        setting: None,
        placements: Vec::new(),
        decision: Verdict::Withhold,
        reasons: Vec::new(),
        allowed_by: None,
        consent: None,
        break_glass: false,
        withheld_contained: Vec::new(),
        approval: None,
        mask: Vec::new(),
    }
}

/// `#id` references anywhere in a resource outside its `contained` list.
fn collect_local_references(res: &Map, out: &mut HashSet<String>) {
    let mut stack: Vec<&Value> = res
        .iter()
        .filter(|(k, _)| *k != "contained")
        .map(|(_, v)| v)
        .collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if let Some(local) = m
                    .get("reference")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix('#'))
                {
                    out.insert(local.to_owned());
                }
                stack.extend(m.values());
            }
            Value::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
}

/// The document entries a List names in `entry[].item`.
fn list_items(res: &Map, index: &Index<'_>) -> Vec<usize> {
    res.get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            e.get("item")
                .and_then(|i| i.get("reference"))
                .and_then(Value::as_str)
        })
        .filter_map(|r| index.position(r))
        .collect()
}

fn push_unique(reasons: &mut Vec<Reason>, r: Reason) {
    if !reasons.contains(&r) {
        reasons.push(r);
    }
}

/// Every entry a resource refers to.
fn collect_targets(res: &Map, index: &Index<'_>, out: &mut FastSet<usize>) {
    let mut stack: Vec<&Value> = res.values().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("reference").and_then(Value::as_str) {
                    if let Some(i) = index.position(r) {
                        out.insert(i);
                    }
                }
                stack.extend(m.values());
            }
            Value::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
}

/// What a Provenance or AuditEvent is about: `target`, `entity[].what`.
/// `None` for a target outside the document (unknown: withheld).
fn about_targets(res: &Map, index: &Index<'_>) -> Vec<Option<usize>> {
    let mut refs = Vec::new();
    for t in res
        .get("target")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        refs.push(t.get("reference").and_then(Value::as_str));
    }
    for e in res
        .get("entity")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        refs.push(
            e.get("what")
                .and_then(|w| w.get("reference"))
                .and_then(Value::as_str),
        );
    }
    refs.into_iter()
        .map(|r| {
            r.and_then(|r| {
                index
                    .position(r)
                    .or_else(|| normalise_reference(r).and_then(|n| index.position(n)))
            })
        })
        .collect()
}

/// How one entry is classified, before anything about a viewer is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The classification rule that matched; none means withheld from all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    pub placements: Vec<PlacementOut>,
    /// `placed`, `dependent`, `about`, `container`, or `unclassified`.
    pub disposition: &'static str,
    /// Exclusion categories named by codes, terms or security labels.
    pub exclusion_categories: Vec<String>,
    /// Whether a security label withholds it from everyone.
    pub security_withheld: bool,
}

impl Policy {
    /// Classifies every entry of a parsed FHIR document: rule, setting,
    /// placements and exclusion categories. Used to label what is shown and
    /// by tooling; decisions need [`Policy::decide`].
    pub fn classify_document(
        &self,
        record: &serde_json::Value,
        default_setting: Option<&str>,
    ) -> Result<Vec<Classification>, RedactError> {
        let doc = record
            .as_object()
            .ok_or_else(crate::redact::not_an_object)?;
        let doc = &Map::from_serde(doc);
        let default_setting = match default_setting {
            None => None,
            Some(s) => Some(
                self.setting_index(s)
                    .ok_or_else(|| RedactError::UnknownSetting {
                        setting: s.chars().take(64).collect(),
                    })?,
            ),
        };
        let (_, entries) = entries_of(doc)?;
        let index = Index::new(&entries);
        Ok(entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let Some(res) = e.resource else {
                    return Classification {
                        index: i,
                        resource_type: None,
                        id: None,
                        rule: None,
                        setting: None,
                        placements: Vec::new(),
                        disposition: "unclassified",
                        exclusion_categories: Vec::new(),
                        security_withheld: false,
                    };
                };
                let c = self.classify(res, res, &index, default_setting);
                let s = self.sensitivity(res);
                let mut cats: Vec<u16> = s
                    .codes
                    .iter()
                    .chain(&s.text)
                    .chain(&s.labels)
                    .copied()
                    .collect();
                cats.sort_unstable();
                cats.dedup();
                let outcome = c.rule.and_then(|r| self.outcome(r));
                let content_ix: Vec<usize> = match outcome {
                    Some(Outcome::Place(ix)) => ix.clone(),
                    _ => Vec::new(),
                };
                Classification {
                    index: i,
                    resource_type: res
                        .get("resourceType")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    id: res.get("id").and_then(Value::as_str).map(str::to_owned),
                    rule: c.rule.and_then(|r| self.rule_id(r)).map(str::to_owned),
                    setting: c.setting.and_then(|s| self.settings.get(s).cloned()),
                    placements: self.placements_of(&content_ix).1,
                    disposition: match outcome {
                        Some(Outcome::Place(_)) => "placed",
                        Some(Outcome::Dependent) => "dependent",
                        Some(Outcome::About) => "about",
                        Some(Outcome::Container) => "container",
                        Some(Outcome::Withhold) => "withheld",
                        None => "unclassified",
                    },
                    exclusion_categories: cats
                        .iter()
                        .filter_map(|c| self.categories.get(usize::from(*c)).cloned())
                        .collect(),
                    security_withheld: s.withhold_label,
                }
            })
            .collect())
    }
}
