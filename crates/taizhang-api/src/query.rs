//! Queries, one object per area (units, members, outings, reports, audit, tokens), merged
//! into `Query`. Every read takes `asOf` (the read side's two timelines) and
//! `minPosition` (read-your-writes: wait until the model has applied that position).

use async_graphql::MergedObject;

use crate::audit::AuditQueries;
use crate::members::MemberQueries;
use crate::outings::OutingQueries;
use crate::reports::ReportQueries;
use crate::tokens::TokenQueries;
use crate::units::UnitQueries;

#[derive(MergedObject, Default)]
pub struct Query(UnitQueries, MemberQueries, OutingQueries, ReportQueries, AuditQueries, TokenQueries);
