//! A small PDF typesetter for documents we hand out (invoices): lines of text, rules
//! and filled boxes on A4 pages, in either reading direction.
//!
//! Text is ordered by the Unicode bidirectional algorithm, then each run is shaped
//! with rustybuzz, so Arabic letters take their joining forms and ligatures and
//! marks sit where the font places them. The glyphs are drawn from DejaVu Sans,
//! embedded cut down to the glyphs the document uses, with a ToUnicode map so the
//! text can be searched, selected and read aloud.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use unicode_bidi::{BidiInfo, Level};

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;

static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

struct Face {
    data: &'static [u8],
    face: rustybuzz::Face<'static>,
    postscript_name: &'static str,
    stem_v: f32,
}

static FACES: LazyLock<[Face; 2]> = LazyLock::new(|| {
    let load = |data: &'static [u8], postscript_name, stem_v| Face {
        data,
        // The files are ours, compiled in; a failure here is a broken build.
        face: rustybuzz::Face::from_slice(data, 0).expect("embedded font parses"),
        postscript_name,
        stem_v,
    };
    [
        load(REGULAR, "DejaVuSans", 80.0),
        load(BOLD, "DejaVuSans-Bold", 140.0),
    ]
});

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    Regular = 0,
    Bold = 1,
}

#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub size: f32,
    pub weight: Weight,
    /// RGB, 0–1.
    pub color: [f32; 3],
}

/// Where a line sits in its box: at the reading direction's start or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Start,
    End,
}

/// A glyph of the font's own numbering, with HarfBuzz's placement in font units.
#[derive(Clone, Copy, Debug)]
struct Placed {
    glyph: u16,
    advance: i32,
    x_offset: i32,
    y_offset: i32,
}

/// A shaped line, glyphs in visual order (left to right).
struct Line {
    glyphs: Vec<Placed>,
    /// Width in font units.
    width: i32,
}

enum Op {
    Text {
        x: f32,
        y: f32,
        style: Style,
        glyphs: Vec<Placed>,
    },
    Rule {
        from: (f32, f32),
        to: (f32, f32),
        width: f32,
        color: [f32; 3],
    },
    Fill {
        rect: [f32; 4],
        color: [f32; 3],
    },
}

/// A document being laid out. Horizontal positions are given from the start edge
/// of the reading direction (the left in English, the right in Arabic), so one
/// layout serves both.
pub struct Document {
    rtl: bool,
    lang: String,
    title: String,
    pages: Vec<Vec<Op>>,
    /// Per face, each glyph used and the text it stands for.
    used: [BTreeMap<u16, String>; 2],
}

impl Document {
    pub fn new(rtl: bool, lang: &str, title: &str) -> Self {
        Document {
            rtl,
            lang: lang.to_string(),
            title: title.to_string(),
            pages: vec![Vec::new()],
            used: [BTreeMap::new(), BTreeMap::new()],
        }
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        // `new` starts with a page and pages are never removed.
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// The left edge of a box `width` wide whose start edge is `start` points from the
    /// page's start edge.
    fn left(&self, start: f32, width: f32) -> f32 {
        if self.rtl {
            PAGE_WIDTH - start - width
        } else {
            start
        }
    }

    /// The width `text` takes in `style`, in points.
    pub fn measure(&self, text: &str, style: Style) -> f32 {
        let face = &FACES[style.weight as usize];
        self.shape(text, style.weight).width as f32 * style.size / face_units(face)
    }

    /// Draws one line of `text` in the box `[start, start + width]`, baseline at `y`
    /// (from the page's bottom).
    pub fn text(&mut self, start: f32, width: f32, y: f32, text: &str, style: Style, align: Align) {
        if text.trim().is_empty() {
            return;
        }
        let line = self.shape(text, style.weight);
        self.remember(text, style.weight);
        let face = &FACES[style.weight as usize];
        let line_width = line.width as f32 * style.size / face_units(face);
        let left = self.left(start, width);
        let at_left = (align == Align::Start) != self.rtl;
        let x = if at_left {
            left
        } else {
            left + width - line_width
        };
        self.ops().push(Op::Text {
            x,
            y,
            style,
            glyphs: line.glyphs,
        });
    }

    /// `text` broken into lines at most `width` wide, at spaces and at the text's own
    /// line breaks; a word longer than a line stands alone on its line.
    pub fn wrap(&self, text: &str, style: Style, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if !line.is_empty() && self.measure(&candidate, style) > width {
                    lines.push(std::mem::replace(&mut line, word.to_string()));
                } else {
                    line = candidate;
                }
            }
            if !line.is_empty() {
                lines.push(line);
            }
        }
        lines
    }

    /// A line from `(start, y1)` to `(start + length, y2)`, in start-edge terms.
    pub fn rule(&mut self, start: f32, length: f32, y: f32, width: f32, color: [f32; 3]) {
        let left = self.left(start, length);
        self.ops().push(Op::Rule {
            from: (left, y),
            to: (left + length, y),
            width,
            color,
        });
    }

    pub fn fill(&mut self, start: f32, width: f32, bottom: f32, height: f32, color: [f32; 3]) {
        let left = self.left(start, width);
        self.ops().push(Op::Fill {
            rect: [left, bottom, width, height],
            color,
        });
    }

    /// Lays `text` out as the bidirectional algorithm orders it and shapes each run.
    fn shape(&self, text: &str, weight: Weight) -> Line {
        let mut glyphs = Vec::new();
        for (run, rtl) in visual_runs(text, self.rtl) {
            let shaped = shape_run(&FACES[weight as usize].face, run, rtl);
            glyphs.extend(shaped.into_iter().map(|(placed, _)| placed));
        }
        let width = glyphs.iter().map(|g| g.advance).sum();
        Line { glyphs, width }
    }

    /// Records which glyphs `text` uses and the characters each stands for, for the
    /// font subset and the ToUnicode map.
    fn remember(&mut self, text: &str, weight: Weight) {
        let used = &mut self.used[weight as usize];
        for (run, rtl) in visual_runs(text, self.rtl) {
            for (placed, source) in shape_run(&FACES[weight as usize].face, run, rtl) {
                let known = used.entry(placed.glyph).or_default();
                if known.is_empty() {
                    *known = source;
                }
            }
        }
    }

    /// The finished file.
    pub fn finish(self) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let mut next = Ref::new(1);
        let mut alloc = || next.bump();
        let catalog = alloc();
        let tree = alloc();
        let info = alloc();

        // Each face used gets a subset and its new glyph numbers.
        let mut remap: [Option<(subsetter::GlyphRemapper, Ref)>; 2] = [None, None];
        for (index, used) in self.used.iter().enumerate() {
            if used.is_empty() {
                continue;
            }
            let mut remapper = subsetter::GlyphRemapper::new();
            for glyph in used.keys() {
                remapper.remap(*glyph);
            }
            remap[index] = Some((remapper, alloc()));
        }

        let page_ids: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (alloc(), alloc())).collect();
        pdf.catalog(catalog).pages(tree).lang(TextStr(&self.lang));
        pdf.pages(tree)
            .kids(page_ids.iter().map(|(page, _)| *page))
            .count(page_ids.len() as i32);
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .creator(TextStr("Leadline"));

        for (ops, (page_id, content_id)) in self.pages.iter().zip(&page_ids) {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
                .parent(tree)
                .contents(*content_id);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            for (index, entry) in remap.iter().enumerate() {
                if let Some((_, font)) = entry {
                    fonts.pair(font_name(index), *font);
                }
            }
            fonts.finish();
            resources.finish();
            page.finish();
            let content = draw(ops, &remap);
            pdf.stream(*content_id, &deflate(&content))
                .filter(Filter::FlateDecode);
        }

        for (index, entry) in remap.iter().enumerate() {
            let Some((remapper, type0)) = entry else {
                continue;
            };
            let face = &FACES[index];
            write_font(
                &mut pdf,
                &mut alloc,
                *type0,
                face,
                remapper,
                &self.used[index],
            );
        }
        pdf.finish()
    }
}

fn face_units(face: &Face) -> f32 {
    face.face.units_per_em() as f32
}

fn font_name(index: usize) -> Name<'static> {
    Name(if index == 0 { b"F0" } else { b"F1" })
}

/// The runs of `text` in visual order, each with whether it reads right to left.
/// A line takes the direction of its first strong letter, as `dir="auto"` does, so
/// an English address stays in its order on an Arabic invoice; a line with no
/// letters takes the document's.
fn visual_runs(text: &str, rtl: bool) -> Vec<(&str, bool)> {
    let base = match unicode_bidi::get_base_direction(text) {
        unicode_bidi::Direction::Ltr => Level::ltr(),
        unicode_bidi::Direction::Rtl => Level::rtl(),
        unicode_bidi::Direction::Mixed if rtl => Level::rtl(),
        unicode_bidi::Direction::Mixed => Level::ltr(),
    };
    let info = BidiInfo::new(text, Some(base));
    let mut runs = Vec::new();
    for paragraph in &info.paragraphs {
        let (levels, ranges) = info.visual_runs(paragraph, paragraph.range.clone());
        for range in ranges {
            let rtl = levels[range.start].is_rtl();
            runs.push((&text[range], rtl));
        }
    }
    runs
}

/// One run shaped: glyphs in visual order, each with the characters it stands for.
/// A glyph per character maps one to one; a ligature takes its cluster's
/// characters on its first glyph (in reading order), the rest of the cluster none.
fn shape_run(face: &rustybuzz::Face, run: &str, rtl: bool) -> Vec<(Placed, String)> {
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(run);
    buffer.set_direction(if rtl {
        rustybuzz::Direction::RightToLeft
    } else {
        rustybuzz::Direction::LeftToRight
    });
    buffer.guess_segment_properties();
    let shaped = rustybuzz::shape(face, &[], buffer);
    let infos = shaped.glyph_infos();
    let mut clusters: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (index, info) in infos.iter().enumerate() {
        clusters
            .entry(info.cluster as usize)
            .or_default()
            .push(index);
    }
    let mut sources = vec![String::new(); infos.len()];
    let starts: Vec<usize> = clusters.keys().copied().collect();
    for (n, (start, glyphs)) in clusters.iter_mut().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(run.len());
        let text = run.get(*start..end).unwrap_or_default();
        // HarfBuzz gives a right-to-left run's glyphs reversed, clusters included.
        if rtl {
            glyphs.reverse();
        }
        if glyphs.len() == text.chars().count() {
            for (glyph, c) in glyphs.iter().zip(text.chars()) {
                sources[*glyph] = c.to_string();
            }
        } else if let Some(first) = glyphs.first() {
            sources[*first] = text.to_string();
        }
    }
    infos
        .iter()
        .zip(shaped.glyph_positions())
        .zip(sources)
        .map(|((info, pos), source)| {
            (
                Placed {
                    // Glyph ids of a TrueType font fit 16 bits.
                    glyph: info.glyph_id as u16,
                    advance: pos.x_advance,
                    x_offset: pos.x_offset,
                    y_offset: pos.y_offset,
                },
                source,
            )
        })
        .collect()
}

/// A page's content stream.
fn draw(ops: &[Op], remap: &[Option<(subsetter::GlyphRemapper, Ref)>; 2]) -> Vec<u8> {
    let mut content = Content::new();
    for op in ops {
        match op {
            Op::Fill { rect, color } => {
                content.set_fill_rgb(color[0], color[1], color[2]);
                content.rect(rect[0], rect[1], rect[2], rect[3]);
                content.fill_nonzero();
            }
            Op::Rule {
                from,
                to,
                width,
                color,
            } => {
                content.set_stroke_rgb(color[0], color[1], color[2]);
                content.set_line_width(*width);
                content.move_to(from.0, from.1);
                content.line_to(to.0, to.1);
                content.stroke();
            }
            Op::Text {
                x,
                y,
                style,
                glyphs,
            } => {
                let index = style.weight as usize;
                let Some((remapper, _)) = &remap[index] else {
                    continue;
                };
                let face = &FACES[index];
                let scale = style.size / face_units(face);
                content.begin_text();
                content.set_fill_rgb(style.color[0], style.color[1], style.color[2]);
                content.set_font(font_name(index), style.size);
                // Each glyph at HarfBuzz's position: the font's own advance would drop
                // kerning, and would move marks that HarfBuzz places over a letter.
                let mut pen = *x;
                for glyph in glyphs {
                    let Some(id) = remapper.get(glyph.glyph) else {
                        continue;
                    };
                    content.set_text_matrix([
                        1.0,
                        0.0,
                        0.0,
                        1.0,
                        pen + glyph.x_offset as f32 * scale,
                        y + glyph.y_offset as f32 * scale,
                    ]);
                    content.show(Str(&id.to_be_bytes()));
                    pen += glyph.advance as f32 * scale;
                }
                content.end_text();
            }
        }
    }
    content.finish().into_vec()
}

fn write_font(
    pdf: &mut Pdf,
    alloc: &mut impl FnMut() -> Ref,
    type0: Ref,
    face: &Face,
    remapper: &subsetter::GlyphRemapper,
    used: &BTreeMap<u16, String>,
) {
    let (cid, descriptor, file, cmap) = (alloc(), alloc(), alloc(), alloc());
    // A subset's name starts with a tag that differs when the glyph set does (ISO
    // 32000-1, 9.6.4), so readers never confuse two subsets of one font.
    let mut hash: u32 = 2_166_136_261;
    for glyph in used.keys() {
        hash = (hash ^ u32::from(*glyph)).wrapping_mul(16_777_619);
    }
    let tag: String = (0..6)
        .map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8))
        .collect();
    let base_font = format!("{tag}+{}", face.postscript_name);
    let units = face_units(face);
    let to_pdf = |v: f32| v * 1000.0 / units;

    pdf.type0_font(type0)
        .base_font(Name(base_font.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);

    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    // New glyph numbers count up from 0 in the order `remapped_gids` yields the old.
    let widths: Vec<f32> = remapper
        .remapped_gids()
        .map(|old| {
            let advance = face
                .face
                .glyph_hor_advance(rustybuzz::ttf_parser::GlyphId(old))
                .unwrap_or(0);
            to_pdf(f32::from(advance))
        })
        .collect();
    let mut font = pdf.cid_font(cid);
    font.subtype(CidFontType::Type2)
        .base_font(Name(base_font.as_bytes()))
        .system_info(system)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    font.widths().consecutive(0, widths);
    font.finish();

    let bbox = face.face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(Name(base_font.as_bytes()))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(
            to_pdf(f32::from(bbox.x_min)),
            to_pdf(f32::from(bbox.y_min)),
            to_pdf(f32::from(bbox.x_max)),
            to_pdf(f32::from(bbox.y_max)),
        ))
        .italic_angle(0.0)
        .ascent(to_pdf(f32::from(face.face.ascender())))
        .descent(to_pdf(f32::from(face.face.descender())))
        .cap_height(to_pdf(f32::from(
            face.face.capital_height().unwrap_or(face.face.ascender()),
        )))
        .stem_v(face.stem_v)
        .font_file2(file);

    // The subset is of our own embedded font; were it ever to fail, the whole font
    // still draws every glyph correctly, only larger.
    let program = subsetter::subset(face.data, 0, remapper).unwrap_or_else(|_| face.data.to_vec());
    pdf.stream(file, &deflate(&program))
        .filter(Filter::FlateDecode);

    let mut map = UnicodeCmap::new(Name(b"Custom"), system);
    for (glyph, text) in used {
        if let Some(new) = remapper.get(*glyph) {
            if !text.is_empty() {
                map.pair_with_multiple(new, text.chars());
            }
        }
    }
    pdf.cmap(cmap, &map.finish());
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: Style = Style {
        size: 10.0,
        weight: Weight::Regular,
        color: [0.0, 0.0, 0.0],
    };

    fn glyphs(text: &str, rtl: bool) -> Vec<u16> {
        Document::new(rtl, "ar", "")
            .shape(text, Weight::Regular)
            .glyphs
            .iter()
            .map(|g| g.glyph)
            .collect()
    }

    fn cmap_glyph(c: char) -> u16 {
        FACES[0].face.glyph_index(c).map_or(0, |g| g.0)
    }

    #[test]
    fn arabic_letters_take_their_joined_forms_and_read_right_to_left() {
        // "بيت": beh, yeh, teh. Shaped, each letter is a different glyph from its
        // isolated form (initial beh, medial yeh, final teh), and the first letter
        // is drawn rightmost.
        let shaped = glyphs("بيت", true);
        assert_eq!(shaped.len(), 3);
        let isolated = [cmap_glyph('ب'), cmap_glyph('ي'), cmap_glyph('ت')];
        for (g, iso) in shaped.iter().rev().zip(isolated) {
            assert_ne!(*g, iso, "a joined form, not the isolated letter");
            assert_ne!(*g, 0, "the font has the letter");
        }
        // Lam followed by alef is one ligature glyph.
        assert_eq!(glyphs("لا", true).len(), 1);
    }

    #[test]
    fn a_line_reads_in_the_direction_of_its_first_letter() {
        // An Arabic line keeps "INV 12" left to right inside it, drawn leftmost.
        let runs = |text| -> Vec<(String, bool)> {
            visual_runs(text, true)
                .into_iter()
                .map(|(t, r)| (t.to_string(), r))
                .collect()
        };
        let arabic = runs("فاتورة INV 12");
        assert_eq!(arabic[0], ("INV 12".to_string(), false));
        assert!(arabic[1].1, "the Arabic word is a right-to-left run");
        // An English address on an Arabic invoice stays in its own order, where a
        // right-to-left base would draw "Corniche St 12".
        assert_eq!(
            runs("12 Corniche St"),
            [("12 Corniche St".to_string(), false)]
        );
        // A line with no letters follows the document: the bullet after the number
        // is drawn to its left.
        assert_eq!(runs("١٢ ·")[0], (" ·".to_string(), true));
    }

    #[test]
    fn each_glyph_maps_back_to_the_letters_it_draws() {
        // "دُفعت" puts a damma on the dal: two glyphs in one cluster. Each must map
        // to its own character, or the bare dal of "ديسمبر" would lose its letter.
        let mut doc = Document::new(true, "ar", "");
        doc.remember("دُفعت ديسمبر", Weight::Regular);
        let texts: Vec<&str> = doc.used[0].values().map(String::as_str).collect();
        assert!(
            texts.contains(&"\u{64f}"),
            "the damma maps to itself: {texts:?}"
        );
        assert!(texts.iter().all(|t| !t.is_empty()), "{texts:?}");
        // The lam-alef ligature stands for both letters, in reading order.
        let mut doc = Document::new(true, "ar", "");
        doc.remember("لا", Weight::Regular);
        assert_eq!(doc.used[0].values().collect::<Vec<_>>(), ["لا"]);
    }

    #[test]
    fn a_document_embeds_a_subset_with_a_unicode_map() {
        let mut doc = Document::new(false, "en", "Invoice 7");
        doc.text(
            48.0,
            400.0,
            700.0,
            "Invoice 7 — total €12.50",
            BODY,
            Align::Start,
        );
        doc.text(
            48.0,
            400.0,
            680.0,
            "Bold",
            Style {
                weight: Weight::Bold,
                ..BODY
            },
            Align::End,
        );
        doc.rule(48.0, 400.0, 670.0, 0.5, [0.5, 0.5, 0.5]);
        doc.new_page();
        doc.text(48.0, 400.0, 700.0, "Page two", BODY, Align::Start);
        assert_eq!(doc.page_count(), 2);
        let bytes = doc.finish();
        assert!(bytes.starts_with(b"%PDF-1.7"));
        let text = String::from_utf8_lossy(&bytes);
        let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
        assert_eq!(pages, 2);
        assert!(text.contains("+DejaVuSans"), "a subset tag before the name");
        assert!(text.contains("+DejaVuSans-Bold"));
        assert!(text.contains("/Identity-H"));
        assert!(text.contains("/ToUnicode"));
        assert!(text.contains("/Lang (en)"));
        // The subset is far smaller than the 760 kB font.
        assert!(bytes.len() < 60_000, "{} bytes", bytes.len());
    }

    #[test]
    fn long_text_wraps_at_spaces_within_the_width() {
        let doc = Document::new(false, "en", "");
        let text = "Pro plan, monthly, prorated for the rest of the period\nsecond line";
        let lines = doc.wrap(text, BODY, 120.0);
        assert!(lines.len() >= 4, "{lines:?}");
        assert_eq!(lines.last().map(String::as_str), Some("second line"));
        for line in &lines {
            assert!(
                doc.measure(line, BODY) <= 120.0 || !line.contains(' '),
                "{line}"
            );
        }
        assert_eq!(lines.join(" "), text.replace('\n', " "));
    }
}
