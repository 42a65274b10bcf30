//! Excel and OpenDocument workbooks (`.xlsx`, `.xls`, `.ods`): the first sheet becomes
//! the same CSV text an upload of a `.csv` gives, so everything after the upload is one
//! path. Read with calamine.

use super::sheet::SheetError;
use calamine::{open_workbook_auto_from_rs, Data, Reader};
use std::io::{Cursor, Read, Seek};

/// What a workbook may unpack to. An upload is at most 32 MB, but a zip can hold far
/// more than it weighs; past this it is refused before anything is inflated.
const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;

/// The first worksheet as comma-separated text, rows with no value left out.
pub fn to_csv(bytes: &[u8]) -> Result<String, SheetError> {
    if bytes.starts_with(b"PK\x03\x04") && unpacked_size(Cursor::new(bytes))? > MAX_UNPACKED_BYTES {
        return Err(SheetError::TooBig);
    }
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        tracing::info!(error = %e, "unreadable workbook");
        SheetError::Workbook
    })?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(SheetError::Empty)?
        .map_err(|e| {
            tracing::info!(error = %e, "unreadable worksheet");
            SheetError::Workbook
        })?;
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in range.rows() {
        let cells: Vec<String> = row.iter().map(cell_text).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        out.write_record(&cells).map_err(|_| SheetError::Workbook)?;
    }
    let bytes = out.into_inner().map_err(|_| SheetError::Workbook)?;
    String::from_utf8(bytes).map_err(|_| SheetError::Encoding)
}

/// The sum of the sizes the archive's directory declares for its entries.
fn unpacked_size(reader: impl Read + Seek) -> Result<u64, SheetError> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|_| SheetError::Workbook)?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| SheetError::Workbook)?;
        total = total.saturating_add(entry.size());
    }
    Ok(total)
}

/// A cell as a person typed it: whole numbers without `.0` (phone numbers are often
/// stored as numbers), dates as ISO dates, errors and blanks empty.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(true) => "TRUE".into(),
        Data::Bool(false) => "FALSE".into(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(at) if at.time() == chrono::NaiveTime::MIN => at.format("%Y-%m-%d").to_string(),
            Some(at) => at.format("%Y-%m-%d %H:%M").to_string(),
            None => d.to_string(),
        },
        Data::Error(_) | Data::Empty => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal `.xlsx` as Excel lays it out, with the given sheet XML.
    fn xlsx(sheet: &str) -> Vec<u8> {
        let files = [
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string(),
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string(),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string(),
            ),
            (
                "xl/worksheets/sheet1.xml",
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet}</sheetData></worksheet>"#
                ),
            ),
        ];
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, text) in files {
            zip.start_file(name, stored).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn text(cell: &str, value: &str) -> String {
        format!(r#"<c r="{cell}" t="inlineStr"><is><t>{value}</t></is></c>"#)
    }

    #[test]
    fn the_first_sheet_becomes_csv() {
        let sheet = format!(
            r#"<row r="1">{}{}{}</row><row r="2">{}<c r="B2"><v>201001234567</v></c><c r="C2"><v>1.5</v></c></row><row r="3"></row><row r="4">{}{}</row>"#,
            text("A1", "الاسم"),
            text("B1", "Phone"),
            text("C1", "Score"),
            text("A2", "محمد, علي"),
            text("A4", "Sara"),
            text("B4", "+20 100 000 0000"),
        );
        assert_eq!(
            to_csv(&xlsx(&sheet)).unwrap(),
            "الاسم,Phone,Score\r\n\"محمد, علي\",201001234567,1.5\r\nSara,+20 100 000 0000,\r\n"
        );
    }

    #[test]
    fn damaged_workbooks_are_refused() {
        let mut bytes = xlsx(&format!(r#"<row r="1">{}</row>"#, text("A1", "x")));
        bytes.truncate(bytes.len() / 2);
        assert_eq!(to_csv(&bytes).unwrap_err(), SheetError::Workbook);
    }
}
