//! An uploaded plan's file, checked before it is stored: the type is sniffed from the
//! bytes (never trusted from the name or header), raster sizes are read from the
//! header without decoding pixels, and SVG is rebuilt from an allow-list of elements
//! and attributes, so no script, event handler or external reference survives.

use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};

/// The largest plan accepted.
pub const MAX_PLAN_BYTES: usize = 10 * 1024 * 1024;
/// The largest side, in pixels, of a plan's coordinate space (the table's check).
pub const MAX_SIDE: u32 = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanKind {
    Png,
    Jpeg,
    Webp,
    Svg,
}

impl PlanKind {
    pub fn content_type(self) -> &'static str {
        match self {
            PlanKind::Png => "image/png",
            PlanKind::Jpeg => "image/jpeg",
            PlanKind::Webp => "image/webp",
            PlanKind::Svg => "image/svg+xml",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            PlanKind::Png => "png",
            PlanKind::Jpeg => "jpg",
            PlanKind::Webp => "webp",
            PlanKind::Svg => "svg",
        }
    }
}

/// Why a file is not taken as a plan; each is a message key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFileError {
    Empty,
    TooLarge,
    UnknownType,
    TooBig,
    BadSvg,
    NoSize,
}

impl PlanFileError {
    pub fn message_key(self) -> &'static str {
        match self {
            PlanFileError::Empty => "inventory.upload.empty",
            PlanFileError::TooLarge => "inventory.upload.too_large",
            PlanFileError::UnknownType => "inventory.upload.unknown_type",
            PlanFileError::TooBig => "inventory.upload.too_big",
            PlanFileError::BadSvg => "inventory.upload.bad_svg",
            PlanFileError::NoSize => "inventory.upload.no_size",
        }
    }
}

/// A plan ready to store: its bytes (SVG rebuilt), type, pixel size and, where the
/// file says so, its resolution.
#[derive(Debug)]
pub struct CheckedPlan {
    pub bytes: Vec<u8>,
    pub kind: PlanKind,
    pub width: u32,
    pub height: u32,
    pub dpi: Option<u32>,
}

pub fn check(bytes: &[u8]) -> Result<CheckedPlan, PlanFileError> {
    if bytes.is_empty() {
        return Err(PlanFileError::Empty);
    }
    if bytes.len() > MAX_PLAN_BYTES {
        return Err(PlanFileError::TooLarge);
    }
    let kind = match imagesize::image_type(bytes) {
        Ok(imagesize::ImageType::Png) => PlanKind::Png,
        Ok(imagesize::ImageType::Jpeg) => PlanKind::Jpeg,
        Ok(imagesize::ImageType::Webp) => PlanKind::Webp,
        _ if looks_like_xml(bytes) => PlanKind::Svg,
        _ => return Err(PlanFileError::UnknownType),
    };
    if kind == PlanKind::Svg {
        let (clean, width, height) = sanitize_svg(bytes)?;
        return Ok(CheckedPlan {
            bytes: clean,
            kind,
            width,
            height,
            dpi: None,
        });
    }
    let size = imagesize::blob_size(bytes).map_err(|_| PlanFileError::NoSize)?;
    let (width, height) = (
        u32::try_from(size.width).map_err(|_| PlanFileError::TooBig)?,
        u32::try_from(size.height).map_err(|_| PlanFileError::TooBig)?,
    );
    if width == 0 || height == 0 {
        return Err(PlanFileError::NoSize);
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(PlanFileError::TooBig);
    }
    Ok(CheckedPlan {
        bytes: bytes.to_vec(),
        kind,
        width,
        height,
        dpi: (kind == PlanKind::Png).then(|| png_dpi(bytes)).flatten(),
    })
}

fn looks_like_xml(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    start.is_some_and(|i| text[i] == b'<')
}

/// The resolution a PNG states in its `pHYs` chunk, when in pixels per metre.
fn png_dpi(bytes: &[u8]) -> Option<u32> {
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = bytes.get(at + 8..at + 8 + len)?;
        if kind == b"pHYs" && len == 9 && data[8] == 1 {
            let per_metre = u32::from_be_bytes(data[0..4].try_into().ok()?);
            return Some((f64::from(per_metre) * 0.0254).round() as u32).filter(|d| *d > 0);
        }
        if kind == b"IDAT" {
            return None;
        }
        at += 12 + len;
    }
    None
}

/// Elements a plan drawing may use; everything else is dropped with its content.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "title",
    "desc",
    "defs",
    "lineargradient",
    "radialgradient",
    "stop",
    "clippath",
    "mask",
    "pattern",
    "symbol",
    "use",
    "marker",
    "image",
    "style",
];

/// Whether a CSS text or attribute value can reach outside the file or run code.
fn unsafe_value(value: &str) -> bool {
    let folded: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\\')
        .flat_map(char::to_lowercase)
        .collect();
    folded.contains("javascript:")
        || folded.contains("@import")
        || folded.contains("expression(")
        || folded.match_indices("url(").any(|(i, _)| {
            !folded[i + 4..]
                .trim_start_matches(['"', '\''])
                .starts_with('#')
        })
}

/// A reference is kept only within the file, or to an embedded raster image.
fn safe_href(element: &str, value: &str) -> bool {
    let v = value.trim();
    v.starts_with('#')
        || (element == "image"
            && ["data:image/png;", "data:image/jpeg;", "data:image/webp;"]
                .iter()
                .any(|p| v.to_ascii_lowercase().starts_with(p)))
}

fn local_lower(name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    let local = name.rsplit(':').next().unwrap_or(&name);
    local.to_ascii_lowercase()
}

/// The element with only its safe attributes.
fn clean_start(
    e: &BytesStart,
    element: &str,
    decoder: Decoder,
) -> Result<BytesStart<'static>, PlanFileError> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut out = BytesStart::new(name);
    for attr in e.attributes() {
        let attr = attr.map_err(|_| PlanFileError::BadSvg)?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr
            .decode_and_unescape_value(decoder)
            .map_err(|_| PlanFileError::BadSvg)?
            .into_owned();
        let lower = key.to_ascii_lowercase();
        let local = local_lower(key.as_bytes());
        let keep = if lower.starts_with("on") || lower == "xml:base" {
            false
        } else if local == "href" {
            safe_href(element, &value)
        } else {
            !unsafe_value(&value)
        };
        if keep {
            out.push_attribute((key.as_str(), value.as_str()));
        }
    }
    Ok(out)
}

/// A number with an optional `px` unit.
fn pixels(value: &str) -> Option<f64> {
    let v = value.trim();
    let v = v.strip_suffix("px").unwrap_or(v).trim();
    v.parse::<f64>().ok().filter(|n| n.is_finite() && *n > 0.0)
}

/// The drawing's size from its root: the `viewBox`, else `width` and `height`.
fn root_size(e: &BytesStart, decoder: Decoder) -> Option<(f64, f64)> {
    let mut view_box = None;
    let (mut width, mut height) = (None, None);
    for attr in e.attributes().flatten() {
        let value = attr.decode_and_unescape_value(decoder).ok()?.into_owned();
        match local_lower(attr.key.as_ref()).as_str() {
            "viewbox" => {
                let n: Vec<f64> = value
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| s.parse().ok())
                    .collect();
                if let [_, _, w, h] = n[..] {
                    view_box = Some((w, h)).filter(|(w, h)| *w > 0.0 && *h > 0.0);
                }
            }
            "width" => width = pixels(&value),
            "height" => height = pixels(&value),
            _ => {}
        }
    }
    view_box.or(width.zip(height))
}

/// The plan's coordinate space for a drawing of `w` × `h` user units: the same
/// proportions, with the longer side between 1,000 and 20,000 so shapes drawn on it
/// have sensible pixel precision.
fn plan_space(w: f64, h: f64) -> (u32, u32) {
    let long = w.max(h);
    let factor = if long < 1000.0 {
        1000.0 / long
    } else if long > f64::from(MAX_SIDE) {
        f64::from(MAX_SIDE) / long
    } else {
        1.0
    };
    let side = |v: f64| ((v * factor).round() as u32).clamp(1, MAX_SIDE);
    (side(w), side(h))
}

/// Rebuilds an SVG from its allowed parts; its plan size in pixels.
pub fn sanitize_svg(bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), PlanFileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PlanFileError::BadSvg)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut writer = Writer::new(Vec::with_capacity(bytes.len()));
    // Depth inside a dropped element (its whole subtree goes), and the open elements.
    let mut skipping = 0usize;
    let mut open: Vec<String> = Vec::new();
    let mut size = None;
    let mut saw_root = false;
    loop {
        let event = reader.read_event().map_err(|_| PlanFileError::BadSvg)?;
        if skipping > 0 {
            match event {
                Event::Start(_) => skipping += 1,
                Event::End(_) => skipping -= 1,
                Event::Eof => return Err(PlanFileError::BadSvg),
                _ => {}
            }
            continue;
        }
        let write = |writer: &mut Writer<Vec<u8>>, e: Event| {
            writer.write_event(e).map_err(|_| PlanFileError::BadSvg)
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let element = local_lower(e.name().as_ref());
                if !saw_root {
                    if element != "svg" {
                        return Err(PlanFileError::BadSvg);
                    }
                    saw_root = true;
                    size = root_size(e, reader.decoder());
                }
                if !ELEMENTS.contains(&element.as_str()) {
                    if matches!(event, Event::Start(_)) {
                        skipping = 1;
                    }
                    continue;
                }
                let clean = clean_start(e, &element, reader.decoder())?;
                if matches!(event, Event::Start(_)) {
                    open.push(element);
                    write(&mut writer, Event::Start(clean))?;
                } else {
                    write(&mut writer, Event::Empty(clean))?;
                }
            }
            Event::End(e) => {
                open.pop();
                write(&mut writer, Event::End(e))?;
            }
            Event::Text(t) => {
                let inside_style = open.last().is_some_and(|e| e == "style");
                let content = t.decode().map_err(|_| PlanFileError::BadSvg)?;
                if !(inside_style && unsafe_value(&content)) {
                    write(&mut writer, Event::Text(t))?;
                }
            }
            Event::CData(c) => {
                let inside_style = open.last().is_some_and(|e| e == "style");
                let content = String::from_utf8_lossy(&c).into_owned();
                if inside_style && !unsafe_value(&content) {
                    write(&mut writer, Event::CData(c))?;
                }
            }
            // Character references and the five predefined entities; any other entity
            // would come from a DOCTYPE, which is dropped.
            Event::GeneralRef(r) => {
                let predefined = matches!(&*r, b"lt" | b"gt" | b"amp" | b"apos" | b"quot");
                if r.is_char_ref() || predefined {
                    write(&mut writer, Event::GeneralRef(r))?;
                }
            }
            Event::Decl(d) => write(&mut writer, Event::Decl(d))?,
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !saw_root || !open.is_empty() {
        return Err(PlanFileError::BadSvg);
    }
    let (w, h) = size.ok_or(PlanFileError::NoSize)?;
    let (width, height) = plan_space(w, h);
    Ok((writer.into_inner(), width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(svg: &str) -> String {
        String::from_utf8(sanitize_svg(svg.as_bytes()).unwrap().0).unwrap()
    }

    #[test]
    fn scripts_handlers_and_outside_references_are_removed() {
        let out = clean(
            r##"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>
            <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 1200 800" onload="alert(1)">
              <script>alert(2)</script>
              <rect x="1" y="2" width="30" height="40" fill="url(#g)" onclick="steal()"/>
              <image xlink:href="https://evil.example/track.png" width="5" height="5"/>
              <a href="javascript:alert(3)"><text>link</text></a>
              <use href="#room"/>
              <foreignObject><div>html</div></foreignObject>
              <style>@import url(https://evil.example/x.css); rect { fill: red }</style>
              <text>&x; B-1204 &amp; co</text>
              <path d="M0 0L10 10" style="fill:url(https://evil.example/p)"/>
            </svg>"##,
        );
        for gone in [
            "script",
            "alert",
            "onload",
            "onclick",
            "evil",
            "foreignObject",
            "javascript",
            "DOCTYPE",
            "ENTITY",
            "&x;",
            "@import",
        ] {
            assert!(!out.contains(gone), "{gone} survived: {out}");
        }
        for kept in [
            "<rect x=\"1\" y=\"2\" width=\"30\" height=\"40\" fill=\"url(#g)\"/>",
            "<use href=\"#room\"/>",
            "B-1204 &amp; co",
            "<path d=\"M0 0L10 10\"/>",
            "viewBox=\"0 0 1200 800\"",
        ] {
            assert!(out.contains(kept), "{kept} missing: {out}");
        }
    }

    #[test]
    fn an_svg_plan_takes_its_size_from_the_view_box_scaled_into_range() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1200 800"/>"#;
        assert_eq!(sanitize_svg(svg.as_bytes()).unwrap().1, 1200);
        let small = r#"<svg xmlns="http://www.w3.org/2000/svg" width="200px" height="100"/>"#;
        let (_, w, h) = sanitize_svg(small.as_bytes()).unwrap();
        assert_eq!((w, h), (1000, 500));
        let none = r#"<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>"#;
        assert_eq!(
            sanitize_svg(none.as_bytes()).unwrap_err(),
            PlanFileError::NoSize
        );
    }

    #[test]
    fn files_that_are_not_plans_are_refused() {
        assert_eq!(check(b"").unwrap_err(), PlanFileError::Empty);
        assert_eq!(
            check(b"GIF89a....").unwrap_err(),
            PlanFileError::UnknownType
        );
        assert_eq!(
            check(b"<html><script>x</script></html>").unwrap_err(),
            PlanFileError::BadSvg
        );
        assert_eq!(
            check(b"<svg viewBox='0 0 10 10'><g>").unwrap_err(),
            PlanFileError::BadSvg
        );
        let huge = vec![b' '; MAX_PLAN_BYTES + 1];
        assert_eq!(check(&huge).unwrap_err(), PlanFileError::TooLarge);
    }

    /// A 3 × 2 PNG at 2835 pixels per metre (72 dpi), built by hand.
    pub fn tiny_png() -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let chunk = |png: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
            png.extend((data.len() as u32).to_be_bytes());
            png.extend(kind);
            png.extend(data);
            png.extend([0, 0, 0, 0]);
        };
        let mut ihdr = Vec::new();
        ihdr.extend(3u32.to_be_bytes());
        ihdr.extend(2u32.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        chunk(&mut png, b"IHDR", &ihdr);
        let mut phys = Vec::new();
        phys.extend(2835u32.to_be_bytes());
        phys.extend(2835u32.to_be_bytes());
        phys.push(1);
        chunk(&mut png, b"pHYs", &phys);
        chunk(&mut png, b"IEND", &[]);
        png
    }

    #[test]
    fn a_png_is_sniffed_and_measured_without_decoding() {
        let plan = check(&tiny_png()).unwrap();
        assert_eq!(plan.kind, PlanKind::Png);
        assert_eq!((plan.width, plan.height, plan.dpi), (3, 2, Some(72)));
    }
}
