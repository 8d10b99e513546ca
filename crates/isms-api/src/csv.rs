//! CSV exports (RFC 4180) for reports that auditors open in a spreadsheet.
//!
//! UTF-8 without a byte-order mark, a header row, CRLF between records, and a field quoted when
//! it holds a comma, a double quote, CR or LF (quotes doubled inside). A list inside one cell is
//! written one item per line. A text cell that a spreadsheet would evaluate as a formula (it
//! starts with `=`, `+`, `-`, `@`, a tab or CR and is not a number) gets a leading `'`, so an
//! export cannot run code in the auditor's spreadsheet (CSV injection).

use actix_web::http::header;
use actix_web::HttpResponse;

pub(crate) const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Joins the items of a list into one cell, one per line.
pub(crate) fn cell_list<T: ToString>(items: &[T]) -> String {
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
pub(crate) fn write_csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = String::new();
    push_record(&mut out, header);
    for row in rows {
        push_record(&mut out, &row);
    }
    out
}

/// A 200 answer with the CSV as an attachment named `filename`.
pub(crate) fn csv_response(
    filename: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CSV_CONTENT_TYPE)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .body(write_csv(header, rows))
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
