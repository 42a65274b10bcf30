//! An invoice as a PDF: the same figures and words as the invoice page, in the
//! reader's language and direction, on A4 pages that carry the table on when it
//! runs long.

use super::model::InvoiceDetail;
use crate::crm::money;
use crate::i18n::{t, tf, Locale};
use crate::l10n::{self, Digits};
use crate::pdf::{Align, Document, Style, Weight, PAGE_HEIGHT, PAGE_WIDTH};

const MARGIN: f32 = 48.0;
const WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// The amount column, at the end edge.
const AMOUNT: f32 = 130.0;
const TOP: f32 = PAGE_HEIGHT - 56.0;
/// Below this the next row goes on a new page.
const BOTTOM: f32 = 64.0;

const INK: [f32; 3] = [0.09, 0.11, 0.15];
const MUTED: [f32; 3] = [0.38, 0.42, 0.48];
const LINE: [f32; 3] = [0.82, 0.84, 0.87];
const BAND: [f32; 3] = [0.95, 0.96, 0.97];

fn style(size: f32, weight: Weight, color: [f32; 3]) -> Style {
    Style {
        size,
        weight,
        color,
    }
}

/// The reader the file is drawn for: their language, time zone and, on Arabic
/// pages, the workspace's digits.
pub struct Reader<'a> {
    pub locale: Locale,
    pub timezone: &'a str,
    pub digits: Digits,
}

/// The file's name when downloaded: `invoice-12.pdf`.
pub fn file_name(number: i32) -> String {
    format!("invoice-{number}.pdf")
}

pub fn render(d: &InvoiceDetail, reader: &Reader) -> Vec<u8> {
    // `l10n` writes digits from the page's context; a file is drawn outside any page,
    // so it gets one of its own.
    let owner = leptos::prelude::Owner::new();
    owner.with(|| {
        leptos::prelude::provide_context(reader.digits);
        layout(d, reader).finish()
    })
}

fn layout(d: &InvoiceDetail, reader: &Reader) -> Document {
    let l = reader.locale;
    // A number, not a quantity: no group separators, in the page's digits.
    let number = l10n::shape(l10n::digits(l), &d.invoice.number.to_string(), false);
    let title = tf(l, "billing.invoice_no", &[("n", number)]);
    let mut doc = Document::new(l.dir() == "rtl", l.code(), &title);
    let date = |at: chrono::DateTime<chrono::Utc>| {
        l10n::date(l, l10n::to_local(reader.timezone, at).date())
    };
    let amount = |minor: i64| money::format(l, minor, &d.invoice.currency);

    // Heading: who bills, what this is, its state.
    doc.text(
        MARGIN,
        WIDTH,
        TOP,
        "Leadline",
        style(18.0, Weight::Bold, INK),
        Align::Start,
    );
    doc.text(
        MARGIN,
        WIDTH,
        TOP,
        &title,
        style(16.0, Weight::Bold, INK),
        Align::End,
    );
    let status = t(
        l,
        &format!(
            "billing.invoice_status.{}",
            d.invoice.status.code().to_lowercase()
        ),
    );
    doc.text(
        MARGIN,
        WIDTH,
        TOP - 18.0,
        &status,
        style(10.0, Weight::Regular, MUTED),
        Align::End,
    );
    doc.rule(MARGIN, WIDTH, TOP - 30.0, 0.75, LINE);

    // Who it is for, and when.
    let mut y = TOP - 52.0;
    let half = WIDTH / 2.0 - 12.0;
    doc.text(
        MARGIN,
        half,
        y,
        &t(l, "billing.bill_to"),
        style(9.0, Weight::Regular, MUTED),
        Align::Start,
    );
    let mut dates = vec![tf(
        l,
        "billing.issued",
        &[("at", date(d.invoice.issued_at))],
    )];
    if let Some(at) = d.invoice.paid_at {
        dates.push(tf(l, "billing.paid_on", &[("at", date(at))]));
    }
    for (i, line) in dates.iter().enumerate() {
        let at = y - 14.0 * i as f32;
        doc.text(
            MARGIN,
            WIDTH,
            at,
            line,
            style(10.0, Weight::Regular, INK),
            Align::End,
        );
    }
    y -= 16.0;
    let name = if d.bill_to.company_name.trim().is_empty() {
        d.workspace.clone()
    } else {
        d.bill_to.company_name.clone()
    };
    let body = style(10.0, Weight::Regular, INK);
    for line in doc.wrap(&name, style(11.0, Weight::Bold, INK), half) {
        doc.text(
            MARGIN,
            half,
            y,
            &line,
            style(11.0, Weight::Bold, INK),
            Align::Start,
        );
        y -= 15.0;
    }
    let country_line = [d.bill_to.country.trim(), d.bill_to.tax_id.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    let details = [
        d.bill_to.address.as_str(),
        &country_line,
        d.bill_to.email.as_str(),
    ];
    let wrapped: Vec<String> = details
        .iter()
        .flat_map(|text| doc.wrap(text, body, half))
        .collect();
    for line in wrapped {
        doc.text(MARGIN, half, y, &line, body, Align::Start);
        y -= 13.0;
    }

    // The lines.
    y = y.min(TOP - 52.0 - 14.0 * dates.len() as f32) - 24.0;
    let header = |doc: &mut Document, y: f32| {
        doc.fill(MARGIN, WIDTH, y - 7.0, 22.0, BAND);
        let head = style(9.0, Weight::Bold, MUTED);
        doc.text(
            MARGIN + 8.0,
            WIDTH - AMOUNT,
            y,
            &t(l, "billing.description"),
            head,
            Align::Start,
        );
        doc.text(
            MARGIN,
            WIDTH - 8.0,
            y,
            &t(l, "billing.amount"),
            head,
            Align::End,
        );
    };
    header(&mut doc, y);
    y -= 26.0;
    let description_width = WIDTH - AMOUNT - 16.0;
    for line in &d.lines {
        let wrapped = doc.wrap(&line.description, body, description_width);
        let height = 14.0 * wrapped.len().max(1) as f32;
        if y - height < BOTTOM {
            doc.new_page();
            y = TOP;
            header(&mut doc, y);
            y -= 26.0;
        }
        doc.text(
            MARGIN,
            WIDTH - 8.0,
            y,
            &amount(line.amount_minor),
            body,
            Align::End,
        );
        for text in &wrapped {
            doc.text(MARGIN + 8.0, description_width, y, text, body, Align::Start);
            y -= 14.0;
        }
        doc.rule(MARGIN, WIDTH, y + 5.0, 0.5, LINE);
        y -= 8.0;
    }

    // The sums.
    if y - 60.0 < BOTTOM {
        doc.new_page();
        y = TOP;
    }
    let tax = d.tax_note.clone().unwrap_or_else(|| t(l, "billing.no_tax"));
    let sums = [
        (t(l, "billing.subtotal"), d.subtotal_minor, body),
        (tax, d.tax_minor, body),
        (
            t(l, "billing.total"),
            d.invoice.total_minor,
            style(12.0, Weight::Bold, INK),
        ),
    ];
    let label_start = MARGIN + WIDTH / 3.0;
    let label_width = WIDTH * 2.0 / 3.0 - AMOUNT - 8.0;
    for (label, minor, look) in sums {
        doc.text(MARGIN, WIDTH - 8.0, y, &amount(minor), look, Align::End);
        for text in doc.wrap(&label, look, label_width) {
            doc.text(label_start, label_width, y, &text, look, Align::Start);
            y -= 16.0;
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::model::{BillingProfile, InvoiceLine, InvoiceRow};
    use chrono::TimeZone;

    fn invoice(lines: usize) -> InvoiceDetail {
        InvoiceDetail {
            invoice: InvoiceRow {
                id: uuid::Uuid::nil(),
                number: 12,
                status: crate::billing::model::InvoiceStatus::Paid,
                currency: "SAR".into(),
                total_minor: 115_000,
                issued_at: chrono::Utc.with_ymd_and_hms(2026, 12, 1, 21, 30, 0).unwrap(),
                paid_at: Some(chrono::Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap()),
            },
            lines: (0..lines)
                .map(|i| InvoiceLine {
                    description: if i == 1 { "خطة برو، شهرية، من ١ ديسمبر إلى ٣١ ديسمبر — Pro plan prorated for the remaining 29 days of the period".into() } else { format!("Pro plan, monthly, line {i}") },
                    amount_minor: 100_000,
                })
                .collect(),
            subtotal_minor: 100_000,
            tax_rate_bp: 1500,
            tax_note: Some("VAT 15%".into()),
            tax_minor: 15_000,
            bill_to: BillingProfile {
                company_name: "شركة النيل العقارية".into(),
                address: "12 Corniche St\nJeddah".into(),
                country: "SA".into(),
                tax_id: "300000000000003".into(),
                email: "billing@nile.test".into(),
            },
            workspace: "Nile Realty".into(),
            attempts: Vec::new(),
            can_pay: false,
        }
    }

    fn reader(locale: Locale) -> Reader<'static> {
        Reader {
            locale,
            timezone: "Asia/Riyadh",
            digits: Digits::Latin,
        }
    }

    #[test]
    fn every_language_draws_the_invoice_in_its_direction() {
        let d = invoice(2);
        for locale in [Locale::En, Locale::Ar, Locale::Pt, Locale::Ro] {
            let bytes = render(&d, &reader(locale));
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.contains(&format!("/Lang ({})", locale.code())));
            assert!(
                text.contains("/Title (") || text.contains("/Title <"),
                "{locale:?}"
            );
            assert!(bytes.len() < 80_000, "{locale:?}: {} bytes", bytes.len());
        }
    }

    #[test]
    fn a_long_invoice_carries_its_table_onto_more_pages() {
        assert_eq!(layout(&invoice(3), &reader(Locale::En)).page_count(), 1);
        assert!(layout(&invoice(80), &reader(Locale::En)).page_count() >= 2);
    }

    #[test]
    fn the_file_is_named_by_its_number() {
        assert_eq!(file_name(12), "invoice-12.pdf");
    }
}
