//! Reports computed from one tenant's registers at one read point. Each is a pure function of
//! [`Registers`] and the date it is read for, so a report as of any point is the same
//! function over the registers replayed to that point.

pub mod changes;
pub mod dashboard;
pub mod heat_map;
pub mod readiness;
pub mod review_inputs;
pub mod traceability;
