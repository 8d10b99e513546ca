//! CSV (RFC 4180) for reports that auditors open in a spreadsheet: the one writer of the
//! codebase, used by the HTTP exports and by the evidence pack, so both give the same bytes.
//!
//! UTF-8 without a byte-order mark, a header row, CRLF between records, and a field quoted when
//! it holds a comma, a double quote, CR or LF (quotes doubled inside). A list inside one cell is
//! written one item per line. A text cell that a spreadsheet would evaluate as a formula (it
//! starts with `=`, `+`, `-`, `@`, a tab or CR and is not a number) gets a leading `'`, so an
//! export cannot run code in the auditor's spreadsheet (CSV injection).

use chrono::{DateTime, SecondsFormat, Utc};

use crate::reports::traceability::{Link, TraceabilityMatrix};
use crate::views::soa::SoaEntryRecord;

pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Joins the items of a list into one cell, one per line.
pub fn cell_list<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

fn neutralized(field: &str) -> std::borrow::Cow<'_, str> {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && !field.parse::<f64>().is_ok_and(f64::is_finite) {
        std::borrow::Cow::Owned(format!("'{field}"))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

fn push_field(out: &mut String, field: &str) {
    let field = neutralized(field);
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&field);
    }
}

fn push_record<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field.as_ref());
    }
    out.push_str("\r\n");
}

/// The CSV text: the header row, then one record per row.
pub fn write_csv<H: AsRef<str>>(header: &[H], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = String::new();
    push_record(&mut out, header);
    for row in rows {
        push_record(&mut out, &row);
    }
    out
}

/// How a read point's instant is written in a CSV cell (empty for the empty log).
fn as_of_cell(as_of: Option<DateTime<Utc>>) -> String {
    as_of.map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true)).unwrap_or_default()
}

/// The CSV columns of the Statement of Applicability export, in order.
pub const SOA_CSV_HEADER: &[&str] = &[
    "control_id",
    "title",
    "theme",
    "applicable",
    "justification",
    "status",
    "owner",
    "evidence_refs",
    "linked_risk_ids",
    "version",
    "as_of",
    "position",
];

/// The Statement of Applicability as CSV, one row per control, the read point on every row.
pub fn soa_csv(items: Vec<SoaEntryRecord>, version: u64, as_of: Option<DateTime<Utc>>, position: u64) -> String {
    let version = version.to_string();
    let as_of = as_of_cell(as_of);
    let position = position.to_string();
    let rows = items.into_iter().map(|item| {
        let (applicable, justification) = match item.decision {
            Some(d) => (d.applicable.to_string(), d.justification),
            None => (String::new(), String::new()),
        };
        vec![
            item.control_id,
            item.title,
            item.theme.as_str().to_owned(),
            applicable,
            justification,
            item.status.as_str().to_owned(),
            item.owner.unwrap_or_default(),
            cell_list(&item.evidence_refs),
            cell_list(&item.linked_risk_ids),
            version.clone(),
            as_of.clone(),
            position.clone(),
        ]
    });
    write_csv(SOA_CSV_HEADER, rows)
}

/// The CSV columns of the traceability matrix export, in order.
pub const TRACEABILITY_CSV_HEADER: &[&str] = &[
    "context_issue_4_1",
    "context_category",
    "interested_party_4_2",
    "need_4_2",
    "risk_or_opportunity_6_1_1",
    "objective_6_2",
    "plan_6_2",
    "operational_control_8_1",
    "monitoring_item_9_1",
    "evaluation_9_1",
    "breaks",
    "context_issue_id",
    "interested_party_id",
    "need_id",
    "risk_id",
    "objective_id",
    "operational_control_id",
    "monitoring_item_id",
    "as_of",
    "position",
];

/// The traceability matrix as CSV, one row per chain, the read point on every row.
pub fn traceability_csv(matrix: &TraceabilityMatrix, as_of: Option<DateTime<Utc>>, position: u64) -> String {
    let as_of = as_of_cell(as_of);
    let position = position.to_string();
    let label = |link: &Option<Link>| link.as_ref().map(|l| l.label.clone()).unwrap_or_default();
    let id = |link: &Option<Link>| link.as_ref().map(|l| l.id.to_string()).unwrap_or_default();
    let rows = matrix.rows.iter().map(|row| {
        let evaluation = row.evaluation.as_ref().map_or_else(String::new, |e| {
            format!("{} ({}): {}", if e.met { "met" } else { "not met" }, e.evaluated_on, e.conclusion)
        });
        vec![
            label(&row.context_issue),
            row.context_category.clone().unwrap_or_default(),
            label(&row.interested_party),
            label(&row.need),
            label(&row.risk),
            label(&row.objective),
            row.plan.clone().unwrap_or_default(),
            label(&row.operational_control),
            label(&row.monitoring_item),
            evaluation,
            row.breaks.join(" "),
            id(&row.context_issue),
            id(&row.interested_party),
            id(&row.need),
            id(&row.risk),
            id(&row.objective),
            id(&row.operational_control),
            id(&row.monitoring_item),
            as_of.clone(),
            position.clone(),
        ]
    });
    write_csv(TRACEABILITY_CSV_HEADER, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[&str]) -> Vec<String> {
        fields.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn fields_with_separators_quotes_or_line_breaks_are_quoted() {
        let text = write_csv(&["a", "b", "c", "d"], [row(&["plain", "x,y", "say \"hi\"", "one\ntwo\r\nthree"])]);
        assert_eq!(text, "a,b,c,d\r\nplain,\"x,y\",\"say \"\"hi\"\"\",\"one\ntwo\r\nthree\"\r\n");
    }

    #[test]
    fn empty_fields_and_unicode_pass_through_without_a_bom() {
        let text = write_csv(&["id", "title"], [row(&["", "暗号の利用"])]);
        assert_eq!(text, "id,title\r\n,暗号の利用\r\n");
        assert!(!text.starts_with('\u{feff}'));
    }

    #[test]
    fn formulas_are_neutralized_but_numbers_are_not() {
        let text =
            write_csv(&["a", "b", "c", "d", "e"], [row(&["=HYPERLINK(\"x\")", "@SUM(A1)", "-3", "+1.5", "-inf"])]);
        assert_eq!(text, "a,b,c,d,e\r\n\"'=HYPERLINK(\"\"x\"\")\",'@SUM(A1),-3,+1.5,'-inf\r\n");
    }

    #[test]
    fn lists_are_one_item_per_line() {
        assert_eq!(cell_list(&["POL-07", "TKT-12"]), "POL-07\nTKT-12");
        assert_eq!(cell_list::<String>(&[]), "");
    }
}
