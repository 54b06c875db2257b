//! Aligned text tables and key/value listings for humans (scripts use `--json`).

use std::fmt::Write as _;

/// A table with a title, a header row and aligned columns.
pub struct Table {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table titled `title` with these column names.
    pub fn new(title: impl Into<String>, header: &[&str]) -> Table {
        Table {
            title: title.into(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text: title, header, a rule, then the rows, columns padded to align.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.title);
        line(&mut out, &self.header, &widths);
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        line(&mut out, &rule, &widths);
        for row in &self.rows {
            line(&mut out, row, &widths);
        }
        out
    }
}

fn line(out: &mut String, cells: &[String], widths: &[usize]) {
    let mut text = String::new();
    for (cell, width) in cells.iter().zip(widths) {
        let _ = write!(text, "{cell:<width$}  ");
    }
    let _ = writeln!(out, "{}", text.trim_end());
}

/// `label: value` lines with the labels right-aligned, like `nats stream info`.
pub fn fields(title: &str, fields: &[(&str, String)]) -> String {
    let width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut out = format!("{title}\n\n");
    for (label, value) in fields {
        let _ = writeln!(out, "{label:>width$}: {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let mut table = Table::new("Streams", &["Name", "Messages"]);
        table.row(vec!["ORDERS".into(), "3".into()]);
        table.row(vec!["A".into(), "12345".into()]);
        assert_eq!(
            table.render(),
            "Streams\n\nName    Messages\n──────  ────────\nORDERS  3\nA       12345\n"
        );
    }

    #[test]
    fn labels_align_right() {
        assert_eq!(
            fields("Info", &[("Name", "A".into()), ("Subjects", "a.>".into())]),
            "Info\n\n    Name: A\nSubjects: a.>\n"
        );
    }
}
