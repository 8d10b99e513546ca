//! Read models: the registers an auditor reads, folded from the log in position order.
//!
//! [`Registers`] holds one tenant's domain states (the very aggregates the command side folds,
//! so the two can never disagree on what an event means) plus record metadata. The response
//! shapes in [`views`] are produced from them at read time, which is also when derived facts
//! such as `overdue` are computed against the date being read.
#![forbid(unsafe_code)]

pub mod csv;
pub mod personal;
mod register;
mod registers;
pub mod reports;
pub mod views;

pub use register::{for_each_register, Register, RegisterVisitor};
pub use registers::{decode_event, Entry, ProjectionError, Registers};
