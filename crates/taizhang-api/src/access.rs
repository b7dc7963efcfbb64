//! Who may do what: the one role table of the API.
//!
//! Every guarded field declares, next to itself, the [`Permission`] it needs
//! (`#[graphql(guard = "Need(Permission::…)")]`). [`RULES`] says which roles hold each
//! permission and lists the fields that need it; the README's role matrix is generated
//! from it ([`role_table_markdown`]) and the matrix test checks every listed field,
//! under every role, against it. A clerk's permissions hold only for their own units:
//! writes are checked by the command side against the loaded records
//! ([`taizhang_app::CommandContext::scope`]), personal fields where they resolve.

use std::sync::Arc;

use async_graphql::{Context, Guard};
use taizhang_core::{Actor, Role, UnitId};
use uuid::Uuid;

use crate::error::{self, Code};

/// The caller of a request, as their token says.
#[derive(Clone, Debug)]
pub struct Principal {
    pub token: Uuid,
    pub role: Role,
    /// A clerk's units; empty for the other roles.
    pub units: Arc<[UnitId]>,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor { role: self.role, token: Some(self.token) }
    }

    /// The units the caller may write for, when limited.
    pub fn scope(&self) -> Option<Arc<[UnitId]>> {
        (self.role == Role::Clerk).then(|| self.units.clone())
    }

    /// True when `unit`'s records are within the caller's reach for `permission`.
    pub fn reaches(&self, permission: Permission, unit: UnitId) -> bool {
        match permission.grant(self.role) {
            Grant::Yes => true,
            Grant::OwnUnits => self.units.contains(&unit),
            Grant::No => false,
        }
    }
}

/// What a field or mutation needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Permission {
    ReadDirectory,
    ReadPublished,
    ReadReports,
    ReadRecords,
    ReadPersonal,
    ReadAudit,
    ManageUnits,
    WriteRecords,
    ErasePersonal,
    RecordOpinions,
    Review,
    Nominate,
    RevokeRecognitions,
    IssueCertificates,
    ManageTokens,
    BackUp,
}

/// Whether a role holds a permission.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Grant {
    No,
    Yes,
    /// Only for the units of the clerk's token (and their members and outings).
    OwnUnits,
}

/// One line of the role table.
pub struct Rule {
    pub permission: Permission,
    pub summary: &'static str,
    pub admin: Grant,
    pub clerk: Grant,
    pub reviewer: Grant,
    pub viewer: Grant,
    /// Every field that needs the permission, as `Type.field`.
    pub fields: &'static [&'static str],
}

use Grant::{No, OwnUnits, Yes};

/// The role table. Fields not listed here need only a valid token.
pub const RULES: &[Rule] = &[
    Rule {
        permission: Permission::ReadDirectory,
        summary: "the unit directory, the award policies, the log head, who one is",
        admin: Yes,
        clerk: Yes,
        reviewer: Yes,
        viewer: Yes,
        fields: &["Query.unit", "Query.units", "Query.policies", "Query.head", "Query.me", "GET /export/units"],
    },
    Rule {
        permission: Permission::ReadPublished,
        summary: "what the notice board publishes (it shows the same without a token): public commitments and \
                  their findings, weekly summaries, look-back rounds and the opinions that count in them, \
                  half-year evaluations (what they rate, not their results), the \
                  members shown with their consent (name and post), published star boards (what they were computed \
                  from, how many reached each number of stars, and the units' places), nominations for awards with their public listing and decisions; a \
                  commitment kept within its unit, or an opinion held or declined, needs the next line",
        admin: Yes,
        clerk: Yes,
        reviewer: Yes,
        viewer: Yes,
        fields: &[
            "Query.commitment",
            "Query.commitments",
            "Query.commitmentCategories",
            "Query.weeklySummary",
            "Query.lookBackRound",
            "Query.lookBackRounds",
            "Query.opinion",
            "Query.opinions",
            "Query.publicMembers",
            "Query.evaluation",
            "Query.evaluations",
            "Query.publishedBoards",
            "Query.publishedBoard",
            "PublishedBoard.standings",
            "Query.recognitions",
            "Query.recognition",
            "Subscription.recognitionChanges",
            "GET /export/recognitions",
        ],
    },
    Rule {
        permission: Permission::ReadReports,
        summary: "summary reports (aggregates, no personal fields), evaluations' results",
        admin: Yes,
        clerk: Yes,
        reviewer: Yes,
        viewer: Yes,
        fields: &[
            "Query.report",
            "Query.roundReport",
            "Query.evaluationResults",
            "GET /export/reports",
            "GET /export/round",
        ],
    },
    Rule {
        permission: Permission::ReadRecords,
        summary: "members, outings, every commitment, ledgers, award eligibility, star boards and the ballots of \
                  evaluations with their comments",
        admin: Yes,
        clerk: Yes,
        reviewer: Yes,
        viewer: No,
        fields: &[
            "Query.member",
            "Query.members",
            "Query.outing",
            "Query.missingWeeklySummaries",
            "Query.certificate",
            "Query.certificates",
            "GET /export/certificates",
            "Query.checkIn",
            "Query.checkIns",
            "Query.correctionRequests",
            "Query.unitLedger",
            "Query.memberLedger",
            "Query.eligibility",
            "Query.awardList",
            "Query.starBoard",
            "Query.ballots",
            "GET /export/ballots",
            "PublishedBoard.reproduction",
            "Recognition.objections",
            "GET /export/board",
            "GET /export/ledger",
            "GET /export/eligibility",
            "GET /export/outings",
            "GET /export/commitments",
            "Unit.members",
            "Subscription.unitLedger",
        ],
    },
    Rule {
        permission: Permission::ReadPersonal,
        summary: "members' personal data (name, identity number, phone, birth date), their signed certificates, \
                  and the names and phones citizens leave with opinions",
        admin: Yes,
        clerk: OwnUnits,
        reviewer: Yes,
        viewer: No,
        fields: &[
            "Member.personal",
            "Opinion.citizen",
            "Certificate.document",
            "Certificate.checkCode",
            "GET /export/members",
            "GET /export/certificate",
        ],
    },
    Rule {
        permission: Permission::ReadAudit,
        summary: "the event log and chain verification",
        admin: Yes,
        clerk: No,
        reviewer: Yes,
        viewer: No,
        fields: &["Query.events", "Query.verifyChain", "Subscription.events"],
    },
    Rule {
        permission: Permission::ManageUnits,
        summary: "registering, renaming, moving and reclassifying units",
        admin: Yes,
        clerk: No,
        reviewer: No,
        viewer: No,
        fields: &[
            "Mutation.registerUnit",
            "Mutation.renameUnit",
            "Mutation.moveUnit",
            "Mutation.reclassifyUnit",
            "POST /import/units",
        ],
    },
    Rule {
        permission: Permission::WriteRecords,
        summary: "registering, correcting and transferring members, and showing them on the notice board with \
                  their consent; registering, amending and voiding outings; \
                  opening check-in and setting members' check-in PINs; members' correction requests; making, amending, renewing and withdrawing commitments; weekly summaries",
        admin: Yes,
        clerk: OwnUnits,
        reviewer: No,
        viewer: No,
        fields: &[
            "Mutation.makeCommitment",
            "Mutation.renewCommitment",
            "Mutation.amendCommitment",
            "Mutation.withdrawCommitment",
            "Mutation.registerMember",
            "Mutation.correctPersonalData",
            "Mutation.transferMember",
            "Mutation.registerOuting",
            "Mutation.amendOuting",
            "Mutation.amendParticipation",
            "Mutation.voidOuting",
            "Mutation.openCheckIn",
            "Mutation.setCheckInPin",
            "Mutation.setCheckInPins",
            "Mutation.setPublicCard",
            "Mutation.requestCorrection",
            "Mutation.answerCorrectionRequest",
            "GET /export/check-in",
            "POST /import/members",
            "POST /import/outings",
            "POST /import/commitments",
            "Mutation.submitWeeklySummary",
        ],
    },
    Rule {
        permission: Permission::ErasePersonal,
        summary: "erasing members' and citizens' personal data",
        admin: Yes,
        clerk: No,
        reviewer: No,
        viewer: No,
        fields: &["Mutation.eraseMember", "Mutation.eraseCitizen"],
    },
    Rule {
        permission: Permission::RecordOpinions,
        summary: "recording the public's opinions in look-back rounds, and reviewing those left on the notice board",
        admin: Yes,
        clerk: OwnUnits,
        reviewer: Yes,
        viewer: No,
        fields: &["Mutation.recordOpinion", "Mutation.reviewOpinion"],
    },
    Rule {
        permission: Permission::Review,
        summary: "verifying outings, look-back rounds, assessing commitments, commenting on weekly summaries, \
                  recording evaluations, half-year evaluations with their ballots and leaders' reviews, \
                  publishing star boards, and deciding recognitions on their evidence after answering objections",
        admin: Yes,
        clerk: No,
        reviewer: Yes,
        viewer: No,
        fields: &[
            "Mutation.verifyOuting",
            "Mutation.verifyOutings",
            "Mutation.recordEvaluation",
            "Mutation.assessCommitment",
            "Mutation.commentOnWeeklySummary",
            "Mutation.openLookBackRound",
            "Mutation.closeLookBackRound",
            "Mutation.openEvaluation",
            "Mutation.closeEvaluation",
            "Mutation.castBallot",
            "Mutation.reviewAsLeader",
            "POST /import/ballots",
            "Mutation.publishBoard",
            "Mutation.raiseObjection",
            "Mutation.answerObjection",
            "Mutation.decideRecognition",
            "POST /import/verifications",
            "GET /export/verifications",
        ],
    },
    Rule {
        permission: Permission::Nominate,
        summary: "nominating members and units for awards (a clerk for their own unit and its members)",
        admin: Yes,
        clerk: OwnUnits,
        reviewer: Yes,
        viewer: No,
        fields: &["Mutation.nominateRecognition"],
    },
    Rule {
        permission: Permission::RevokeRecognitions,
        summary: "revoking a recognition, with the reason",
        admin: Yes,
        clerk: No,
        reviewer: No,
        viewer: No,
        fields: &["Mutation.revokeRecognition"],
    },
    Rule {
        permission: Permission::IssueCertificates,
        summary: "issuing and revoking service certificates",
        admin: Yes,
        clerk: No,
        reviewer: Yes,
        viewer: No,
        fields: &["Mutation.issueCertificate", "Mutation.revokeCertificate"],
    },
    Rule {
        permission: Permission::ManageTokens,
        summary: "creating, listing and revoking API tokens",
        admin: Yes,
        clerk: No,
        reviewer: No,
        viewer: No,
        fields: &["Query.tokens", "Mutation.createToken", "Mutation.revokeToken"],
    },
    Rule {
        permission: Permission::BackUp,
        summary: "taking a backup of the log and the wrapped personal data keys while the server serves",
        admin: Yes,
        clerk: No,
        reviewer: No,
        viewer: No,
        fields: &["GET /backup", "GET /backup/keys"],
    },
];

impl Rule {
    /// Whether `role` holds this rule's permission (the command line's operator role
    /// holds none: it never reaches the API).
    pub fn grant(&self, role: Role) -> Grant {
        match role {
            Role::Admin => self.admin,
            Role::Clerk => self.clerk,
            Role::Reviewer => self.reviewer,
            Role::Viewer => self.viewer,
            // The command line never reaches the API; volunteers and the public hold no
            // token.
            Role::Operator | Role::Volunteer | Role::Public => No,
        }
    }
}

impl Permission {
    pub fn rule(self) -> &'static Rule {
        RULES.iter().find(|r| r.permission == self).expect("every permission has a rule")
    }

    pub fn grant(self, role: Role) -> Grant {
        self.rule().grant(role)
    }

    /// The roles that hold it, for error messages.
    fn holders(self) -> String {
        let roles: Vec<&str> = Role::API.into_iter().filter(|r| self.grant(*r) != No).map(Role::as_str).collect();
        roles.join(", ")
    }
}

/// Whether the caller reads every record, or only what the campaign publishes (a
/// viewer sees public commitments and counted opinions only, as the notice board does).
pub fn reads_every_record(ctx: &Context<'_>) -> async_graphql::Result<bool> {
    Ok(Permission::ReadRecords.grant(principal(ctx)?.role) != Grant::No)
}

/// The caller of the request; `UNAUTHENTICATED` when there is none (the HTTP layer
/// refuses such requests before they run; this covers other ways in).
pub fn principal<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data_opt::<Principal>().ok_or_else(|| error::coded(Code::Unauthenticated, "send Authorization: Bearer <token>"))
}

/// The guard of a field: the caller's role must hold the permission (for a clerk, the
/// unit check follows where the unit is known).
pub struct Need(pub Permission);

impl Guard for Need {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = principal(ctx)?;
        match self.0.grant(principal.role) {
            No => Err(forbidden(principal.role, self.0)),
            Yes | OwnUnits => Ok(()),
        }
    }
}

pub fn forbidden(role: Role, permission: Permission) -> async_graphql::Error {
    let message =
        format!("a {role} token has no access to {} (roles: {})", permission.rule().summary, permission.holders());
    error::with(error::coded(Code::Forbidden, message), "role", role.as_str())
}

/// The README's role matrix, generated from [`RULES`].
pub fn role_table_markdown() -> String {
    let cell = |g: Grant| match g {
        Yes => "yes",
        OwnUnits => "own units",
        No => "—",
    };
    let mut out = String::from("| permission | admin | clerk | reviewer | viewer | fields |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for rule in RULES {
        let fields: Vec<String> = rule.fields.iter().map(|f| format!("`{f}`")).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            rule.summary,
            cell(rule.admin),
            cell(rule.clerk),
            cell(rule.reviewer),
            cell(rule.viewer),
            fields.join(", ")
        ));
    }
    out
}
