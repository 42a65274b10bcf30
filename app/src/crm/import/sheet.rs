//! CSV files as spreadsheets and other CRMs write them: UTF-8 with or without a byte
//! order mark (Excel's "CSV UTF-8"), UTF-16 with one (Excel's "Unicode text"), `,` or
//! `;` (Excel where the decimal mark is a comma) or tab or `|` between cells, quoted
//! cells that span lines, an optional `sep=;` first line, blank lines anywhere.
//! No database here: this module only turns bytes into rows and rows into bytes.

use std::borrow::Cow;

/// What is wrong with a file as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SheetError {
    /// No bytes, or only blank lines.
    Empty,
    /// A header line and nothing under it.
    NoRows,
    /// An Excel or OpenDocument workbook that could not be read (damaged, or
    /// protected with a password).
    Workbook,
    /// A workbook that would unpack to more than we read.
    TooBig,
    /// Binary content (NUL bytes): an image, a PDF, an archive.
    Binary,
    /// Text in no encoding we could make out.
    Encoding,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Put at the start of every file we write, so Excel reads it as UTF-8 and shows
/// Arabic as Arabic.
pub const BOM: &str = "\u{FEFF}";
/// Rows looked at to pick the separator.
const SNIFF_ROWS: usize = 30;
const SEPARATORS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The text of an uploaded file: a CSV in UTF-8, UTF-16 or a legacy encoding, or the
/// first sheet of a workbook.
pub fn decode(bytes: &[u8]) -> Result<String, SheetError> {
    // xlsx/ods are zip archives; xls is an OLE compound file.
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        let text = super::workbook::to_csv(bytes)?;
        return if text.trim().is_empty() {
            Err(SheetError::Empty)
        } else {
            Ok(text)
        };
    }
    let text = if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        utf16(rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        utf16(rest, u16::from_be_bytes)?
    } else {
        let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        if body.contains(&0) {
            return Err(SheetError::Binary);
        }
        match std::str::from_utf8(body) {
            Ok(text) => text.to_string(),
            Err(_) => legacy(body)?,
        }
    };
    if text.contains('\0') {
        return Err(SheetError::Binary);
    }
    if text.trim().is_empty() {
        return Err(SheetError::Empty);
    }
    Ok(text)
}

/// Text saved by Excel on a Windows set to Arabic (Windows-1256) or a Western
/// language (Windows-1252), or in an ISO-8859 charset: the encoding is guessed from
/// the bytes (chardetng, as Firefox does) and decoded with encoding_rs.
fn legacy(bytes: &[u8]) -> Result<String, SheetError> {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let encoding = detector.guess(None, true);
    let (text, _, malformed) = encoding.decode(bytes);
    if malformed {
        return Err(SheetError::Encoding);
    }
    Ok(text.into_owned())
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, SheetError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(SheetError::Encoding);
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| unit([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| SheetError::Encoding)
}

/// One data row: the line it starts on (1-based, counting the header) and its cells,
/// trimmed. Rows may be shorter or longer than the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
}

impl Row {
    /// The cell of column `i`, empty when the row is short.
    pub fn cell(&self, i: usize) -> &str {
        self.cells.get(i).map(String::as_str).unwrap_or("")
    }
}

/// A decoded file with its separator known.
#[derive(Clone, Copy, Debug)]
pub struct Sheet<'a> {
    body: &'a str,
    pub delimiter: u8,
    /// Lines before `body` (an Excel `sep=` line), so line numbers match the file.
    skipped_lines: u64,
}

impl<'a> Sheet<'a> {
    /// Reads the separator from a `sep=` line when there is one, otherwise guesses it.
    pub fn new(text: &'a str) -> Sheet<'a> {
        let first = text.lines().next().unwrap_or("");
        if let Some(sep) = first.trim().strip_prefix("sep=") {
            if let [sep] = sep.as_bytes() {
                let rest = &text[first.len()..];
                let body = rest
                    .strip_prefix("\r\n")
                    .or_else(|| rest.strip_prefix('\n'))
                    .unwrap_or(rest);
                return Sheet {
                    body,
                    delimiter: *sep,
                    skipped_lines: 1,
                };
            }
        }
        Sheet {
            body: text,
            delimiter: sniff(text),
            skipped_lines: 0,
        }
    }

    /// The header row and an iterator over the data rows, blank rows left out.
    pub fn rows(&self) -> (Vec<String>, Rows<'a>) {
        let mut reader = reader(self.body, self.delimiter);
        let mut headers = Vec::new();
        let mut record = csv::StringRecord::new();
        // The header is the first row with any text in it.
        while reader.read_record(&mut record).unwrap_or(false) {
            if !is_blank(&record) {
                headers = record.iter().map(|h| h.trim().to_string()).collect();
                break;
            }
        }
        let rows = Rows {
            reader,
            record,
            body: self.body,
            counted_to: 0,
            line: 1 + self.skipped_lines,
        };
        (headers, rows)
    }

    /// The header, the number of data rows and the first `keep` of them; an error if
    /// there is no data row.
    pub fn survey(&self, keep: usize) -> Result<Survey, SheetError> {
        let (headers, rows) = self.rows();
        if headers.is_empty() {
            return Err(SheetError::Empty);
        }
        let mut first = Vec::new();
        let mut count: u64 = 0;
        for row in rows {
            if first.len() < keep {
                first.push(row);
            }
            count += 1;
        }
        if count == 0 {
            return Err(SheetError::NoRows);
        }
        Ok(Survey {
            headers,
            rows: count,
            first,
        })
    }
}

/// What [`Sheet::survey`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survey {
    pub headers: Vec<String>,
    pub rows: u64,
    pub first: Vec<Row>,
}

pub struct Rows<'a> {
    reader: csv::Reader<&'a [u8]>,
    record: csv::StringRecord,
    body: &'a str,
    /// Line numbers come from counting line feeds up to each record's first byte (csv
    /// counts records, not the newlines inside quoted cells).
    counted_to: usize,
    line: u64,
}

impl Iterator for Rows<'_> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        loop {
            // The input is a valid `&str` and the reader is flexible, so csv has no
            // error left to report (it reports only bad UTF-8 and ragged rows).
            if !self.reader.read_record(&mut self.record).ok()? {
                return None;
            }
            if is_blank(&self.record) {
                continue;
            }
            // The reader's position may sit on the line end of the previous record.
            let bytes = self.body.as_bytes();
            let mut start = self.record.position().map_or(0, |p| p.byte() as usize);
            while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
                start += 1;
            }
            if let Some(skipped) = bytes.get(self.counted_to..start) {
                self.line += skipped.iter().filter(|b| **b == b'\n').count() as u64;
                self.counted_to = start;
            }
            return Some(Row {
                line: self.line,
                cells: self.record.iter().map(|c| c.trim().to_string()).collect(),
            });
        }
    }
}

fn reader(text: &str, delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(|c| c.trim().is_empty())
}

/// The separator that splits the first rows into the same number of cells most often,
/// preferring more cells; `,` when nothing splits (a one-column file).
pub fn sniff(text: &str) -> u8 {
    let mut best = (b',', 0.0_f64, 1_usize);
    for sep in SEPARATORS {
        let widths: Vec<usize> = reader(text, sep)
            .records()
            .map_while(Result::ok)
            .filter(|r| !is_blank(r))
            .take(SNIFF_ROWS)
            .map(|r| r.len())
            .collect();
        let Some(&header) = widths.first() else {
            continue;
        };
        if header < 2 {
            continue;
        }
        let agreeing = widths.iter().filter(|w| **w == header).count();
        let consistency = agreeing as f64 / widths.len() as f64;
        if consistency > best.1 || (consistency == best.1 && header > best.2) {
            best = (sep, consistency, header);
        }
    }
    best.0
}

/// Writes CSV the way Excel opens it correctly: UTF-8 with a byte order mark (when
/// `bom`), CRLF line ends, quotes where needed.
pub struct CsvOut {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvOut {
    pub fn new(delimiter: u8, bom: bool) -> CsvOut {
        let start = if bom {
            BOM.as_bytes().to_vec()
        } else {
            Vec::new()
        };
        CsvOut {
            writer: csv::WriterBuilder::new()
                .delimiter(delimiter)
                .terminator(csv::Terminator::CRLF)
                .flexible(true)
                .from_writer(start),
        }
    }

    pub fn row<I, S>(&mut self, cells: I) -> Result<(), String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let guarded: Vec<String> = cells
            .into_iter()
            .map(|c| guard(c.as_ref()).into_owned())
            .collect();
        self.writer
            .write_record(&guarded)
            .map_err(|e| e.to_string())
    }

    pub fn finish(self) -> Result<Vec<u8>, String> {
        self.writer.into_inner().map_err(|e| e.to_string())
    }
}

/// A cell that a spreadsheet would run as a formula (`=HYPERLINK(...)`, `@SUM`,
/// `-2+3`) gets a leading apostrophe, so opening an export cannot execute what
/// someone typed into a record. Phone numbers like `+20 100 ...` stay as they are.
pub fn guard(cell: &str) -> Cow<'_, str> {
    // Spreadsheets skip blanks before a formula, and some read the full-width signs
    // (U+FF1D and friends, common in CJK input) as their ASCII twins.
    let rest = cell.trim_start_matches([' ', '\n', '\t', '\r']);
    let risky = cell.starts_with(['\t', '\r'])
        || match rest.chars().next() {
            Some('=' | '@' | '\u{FF1D}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF20}') => true,
            Some('+' | '-') => !rest[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '(' | ')' | '-' | '.')),
            _ => false,
        };
    if risky {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey(bytes: &[u8]) -> Result<(u8, Survey), SheetError> {
        let text = decode(bytes)?;
        let sheet = Sheet::new(&text);
        let survey = sheet.survey(10)?;
        Ok((sheet.delimiter, survey))
    }

    #[test]
    fn utf8_with_bom_and_semicolons() {
        let (sep, s) =
            survey(b"\xEF\xBB\xBFname;email\nAda;ada@example.com\nBob;bob@example.com\n").unwrap();
        assert_eq!(sep, b';');
        assert_eq!(
            s.headers,
            vec!["name", "email"],
            "the BOM is not part of the first header"
        );
        assert_eq!(s.rows, 2);
        assert_eq!(s.first[1].cells, vec!["Bob", "bob@example.com"]);
        assert_eq!(s.first[1].line, 3);
    }

    #[test]
    fn commas_with_semicolons_inside_cells() {
        let (sep, s) = survey(
            b"name,notes,phone\nAda,\"a; b; c\",+1 415 555 2671\nBob,x;y,+20 100 123 4567\n",
        )
        .unwrap();
        assert_eq!(sep, b',');
        assert_eq!(s.first[0].cells[1], "a; b; c");
    }

    #[test]
    fn semicolons_with_decimal_commas() {
        let (sep, s) = survey(b"name;score;city\nAda;1,5;Cairo\nBob;2,5;Giza\n").unwrap();
        assert_eq!(sep, b';');
        assert_eq!(s.first[0].cells, vec!["Ada", "1,5", "Cairo"]);
    }

    #[test]
    fn tabs_and_pipes() {
        assert_eq!(survey(b"a\tb\n1\t2\n").unwrap().0, b'\t');
        assert_eq!(survey(b"a|b|c\n1|2|3\n").unwrap().0, b'|');
    }

    #[test]
    fn quoted_newlines_stay_in_their_cell() {
        let (_, s) = survey(b"name,address,email\r\n\"Ada\",\"12 Nile St\r\nFloor 3\",ada@example.com\r\nBob,Giza,bob@example.com\r\n").unwrap();
        assert_eq!(s.rows, 2);
        assert_eq!(s.first[0].cells[1], "12 Nile St\r\nFloor 3");
        // Bob starts on line 4: the quoted newline took a line.
        assert_eq!(s.first[1].line, 4);
    }

    #[test]
    fn arabic_text_survives() {
        let text = "الاسم,البريد الإلكتروني\nمحمد علي,m@example.com\n\"سارة، أحمد\",s@example.com\n";
        let (sep, s) = survey(text.as_bytes()).unwrap();
        assert_eq!(sep, b',');
        assert_eq!(s.headers[1], "البريد الإلكتروني");
        assert_eq!(s.first[0].cells[0], "محمد علي");
        // The Arabic comma is not a separator.
        assert_eq!(s.first[1].cells[0], "سارة، أحمد");
    }

    #[test]
    fn utf16_from_excel_unicode_text() {
        let text = "name\temail\nليلى\tl@example.com\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let (sep, s) = survey(&bytes).unwrap();
        assert_eq!(sep, b'\t');
        assert_eq!(s.first[0].cells[0], "ليلى");
    }

    #[test]
    fn excel_sep_line() {
        let (sep, s) = survey(b"sep=;\nname;email\nAda;a@example.com\n").unwrap();
        assert_eq!(sep, b';');
        assert_eq!(s.headers, vec!["name", "email"]);
        assert_eq!(s.first[0].line, 3);
    }

    #[test]
    fn blank_rows_are_ignored_and_short_rows_kept() {
        let (_, s) = survey(b"\n\nname,email,phone\n\nAda\n,,\nBob,b@example.com\n").unwrap();
        assert_eq!(s.headers, vec!["name", "email", "phone"]);
        assert_eq!(s.rows, 2);
        assert_eq!(s.first[0].cell(0), "Ada");
        assert_eq!(s.first[0].cell(2), "");
        assert_eq!(s.first[1].line, 7);
    }

    #[test]
    fn a_one_column_file_is_fine() {
        let (sep, s) = survey(b"name\nAda\nBob\n").unwrap();
        assert_eq!(sep, b',');
        assert_eq!(s.rows, 2);
    }

    #[test]
    fn what_is_not_a_csv() {
        assert_eq!(survey(b"").unwrap_err(), SheetError::Empty);
        assert_eq!(
            survey(b"\xEF\xBB\xBF \r\n\r\n").unwrap_err(),
            SheetError::Empty
        );
        assert_eq!(survey(b"name,email\n").unwrap_err(), SheetError::NoRows);
        assert_eq!(
            survey(b"PK\x03\x04\x14\x00").unwrap_err(),
            SheetError::Workbook
        );
        assert_eq!(
            survey(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1").unwrap_err(),
            SheetError::Workbook
        );
        assert_eq!(
            survey(b"\x89PNG\r\n\x1a\n\x00\x00").unwrap_err(),
            SheetError::Binary
        );
    }

    #[test]
    fn legacy_encodings_are_recognised() {
        // Excel on an Arabic Windows: "الاسم,المدينة" / "محمد علي,القاهرة" in Windows-1256.
        let (text, _, _) = encoding_rs::WINDOWS_1256
            .encode("الاسم,المدينة\r\nمحمد علي,القاهرة\r\nسارة أحمد,الإسكندرية\r\n");
        assert_eq!(
            decode(&text).unwrap(),
            "الاسم,المدينة\r\nمحمد علي,القاهرة\r\nسارة أحمد,الإسكندرية\r\n"
        );
        // And on a Western one: Windows-1252.
        let (text, _, _) = encoding_rs::WINDOWS_1252
            .encode("Name,City\r\nJosé Müller,Zürich\r\nFrançoise,Besançon\r\n");
        assert_eq!(
            decode(&text).unwrap(),
            "Name,City\r\nJosé Müller,Zürich\r\nFrançoise,Besançon\r\n"
        );
    }

    #[test]
    fn written_files_open_in_excel_and_round_trip() {
        let mut out = CsvOut::new(b';', true);
        out.row(["name", "notes"]).unwrap();
        out.row(["محمد", "line one\nline two; with a semicolon"])
            .unwrap();
        out.row(["=HYPERLINK(\"http://evil\")", "+20 100 123 4567"])
            .unwrap();
        let bytes = out.finish().unwrap();
        assert!(bytes.starts_with(UTF8_BOM));
        let (sep, s) = survey(&bytes).unwrap();
        assert_eq!(sep, b';');
        assert_eq!(
            s.first[0].cells,
            vec!["محمد", "line one\nline two; with a semicolon"]
        );
        assert_eq!(s.first[1].cells[0], "'=HYPERLINK(\"http://evil\")");
        assert_eq!(s.first[1].cells[1], "+20 100 123 4567");
    }

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(guard("=1+2"), "'=1+2");
        assert_eq!(guard("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(guard("-2+3"), "'-2+3");
        assert_eq!(guard("+1 (415) 555-2671"), "+1 (415) 555-2671");
        assert_eq!(guard("-5"), "-5");
        assert_eq!(guard("Ada"), "Ada");
        assert_eq!(guard(""), "");
    }

    #[test]
    fn blanks_before_a_formula_do_not_hide_it() {
        assert_eq!(guard(" =1+2"), "' =1+2");
        assert_eq!(guard("  @SUM(A1)"), "'  @SUM(A1)");
        assert_eq!(guard("\n=HYPERLINK(\"x\")"), "'\n=HYPERLINK(\"x\")");
        assert_eq!(guard("\t=1"), "'\t=1");
        assert_eq!(guard("\r\n-2+3"), "'\r\n-2+3");
        assert_eq!(guard(" \n +cmd"), "' \n +cmd");
        // Blanks before a phone number or ordinary text are harmless.
        assert_eq!(guard(" +20 100 123 4567"), " +20 100 123 4567");
        assert_eq!(guard(" Ada"), " Ada");
        assert_eq!(guard("Ada =1"), "Ada =1");
    }

    #[test]
    fn full_width_formula_signs_are_guarded() {
        for sign in ['\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}'] {
            let cell = format!("{sign}1+2");
            assert_eq!(guard(&cell), format!("'{cell}"));
            let blank = format!(" {sign}SUM(A1)");
            assert_eq!(guard(&blank), format!("'{blank}"));
        }
        assert_eq!(guard("\u{FF0B}20 100"), "'\u{FF0B}20 100");
        assert_eq!(guard("Ａda"), "Ａda");
    }
}
