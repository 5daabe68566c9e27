//! Names inside an export: sanitised so that no reader writes outside the folder it
//! extracts to, and so that every desktop can hold them (no control characters, no
//! reserved Windows names, no trailing dots or spaces), with the extension the content
//! really has, and unique ignoring case (`a.jpg`, `A.JPG` → `A (1).JPG`: macOS and
//! Windows folders are case-insensitive, and a collision silently loses a photo there).

use std::collections::HashSet;

/// The longest name kept, in characters (before the extension and a ` (n)` suffix).
const MAX_STEM: usize = 180;

/// Windows' reserved device names (with any extension: `CON.jpg` too).
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2",
    "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The usual extension of a content type, when the name should follow it.
pub fn extension_for(content_type: &str) -> Option<&'static str> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    Some(match ct.as_str() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/avif" => "avif",
        "image/heic" | "image/heif" => "heic",
        "image/tiff" => "tif",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        _ => return None,
    })
}

/// Extensions that say the same content (a `.jpeg` is a fine JPEG name).
fn same_type(ext: &str, wanted: &str) -> bool {
    let ext = ext.to_ascii_lowercase();
    ext == wanted
        || matches!(
            (ext.as_str(), wanted),
            ("jpeg" | "jpe", "jpg") | ("tiff", "tif") | ("heif", "heic") | ("qt", "mov")
        )
}

/// One path component made safe: the last component of whatever path was given (no
/// folders: `../../etc/passwd` is `passwd`), control and path characters replaced,
/// leading dots and trailing dots and spaces removed, reserved names prefixed, and
/// never empty (`fallback`).
pub fn sanitise(name: &str, fallback: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out: String = last
        .chars()
        .map(|c| if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') { '_' } else { c })
        .collect();
    out = out.trim_start_matches(['.', ' ']).trim_end_matches(['.', ' ']).to_owned();
    if out.is_empty() {
        out = fallback.to_owned();
    }
    let stem = out.split('.').next().unwrap_or("").trim_end().to_ascii_uppercase();
    if RESERVED.contains(&stem.as_str()) {
        out = format!("_{out}");
    }
    out
}

/// Splits `name` into stem and extension (`"a.b.jpg"` → `("a.b", Some("jpg"))`).
fn split(name: &str) -> (&str, Option<&str>) {
    match name.rfind('.') {
        Some(i) if i > 0 && i + 1 < name.len() => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    }
}

/// Hands out unique names, ignoring case.
#[derive(Debug, Default)]
pub struct UniqueNames {
    taken: HashSet<String>,
}

impl UniqueNames {
    /// No names yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves a name exactly (the report's); later names avoid it.
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_lowercase());
    }

    /// The safe, unique name for an item: `wanted` sanitised (or `fallback`), its
    /// extension made to follow `content_type` when that type has a known one (a
    /// `photo.png` holding a JPEG is `photo.jpg`; a missing extension is added), then
    /// ` (1)`, ` (2)`, ... before the extension until no name taken so far equals it
    /// ignoring case.
    pub fn name(&mut self, wanted: &str, fallback: &str, content_type: &str) -> String {
        let clean = sanitise(wanted, fallback);
        let (stem, ext) = split(&clean);
        let stem: String = stem.chars().take(MAX_STEM).collect();
        let ext = match (ext, extension_for(content_type)) {
            (Some(e), Some(want)) if same_type(e, want) => Some(e.to_owned()),
            (_, Some(want)) => Some(want.to_owned()),
            (e, None) => e.map(str::to_owned),
        };
        let join = |stem: &str| match &ext {
            Some(e) => format!("{stem}.{e}"),
            None => stem.to_owned(),
        };
        let mut candidate = join(&stem);
        let mut n = 1;
        while !self.taken.insert(candidate.to_lowercase()) {
            candidate = join(&format!("{stem} ({n})"));
            n += 1;
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_made_safe() {
        let cases = [
            ("../../etc/passwd", "passwd"),
            ("/abs/olute.jpg", "olute.jpg"),
            ("C:\\Windows\\evil.jpg", "evil.jpg"),
            ("..", "item-7"),
            ("", "item-7"),
            ("...hidden.jpg", "hidden.jpg"),
            ("trailing.jpg. . ", "trailing.jpg"),
            ("tab\there\nnew.jpg", "tab_here_new.jpg"),
            ("a<b>c:d\"e|f?g*h.jpg", "a_b_c_d_e_f_g_h.jpg"),
            ("CON", "_CON"),
            ("con.jpg", "_con.jpg"),
            ("Lpt9.tar.gz", "_Lpt9.tar.gz"),
            ("CONSOLE.jpg", "CONSOLE.jpg"),
            ("Ünïcødé 日本.jpg", "Ünïcødé 日本.jpg"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitise(input, "item-7"), want, "{input:?}");
        }
    }

    #[test]
    fn names_are_unique_ignoring_case_and_follow_the_content() {
        let mut u = UniqueNames::new();
        u.reserve("export_report.txt");
        let got: Vec<String> = [
            ("a.jpg", "image/jpeg"),
            ("A.JPG", "image/jpeg"),
            ("a.jpg", "image/jpeg"),
            ("photo.jpeg", "image/jpeg"),
            ("photo.png", "image/jpeg"),
            ("IMG_0001.HEIC", "image/heic"),
            ("noext", "image/webp"),
            ("notes", "application/x-unknown"),
            ("Export_Report.TXT", "text/plain"),
            ("a (1).jpg", "image/jpeg"),
        ]
        .iter()
        .map(|(n, ct)| u.name(n, "item", ct))
        .collect();
        assert_eq!(
            got,
            [
                "a.jpg",
                "A (1).JPG",
                "a (2).jpg",
                "photo.jpeg",
                "photo.jpg",
                "IMG_0001.HEIC",
                "noext.webp",
                "notes",
                "Export_Report (1).TXT",
                "a (1) (1).jpg",
            ]
        );
    }

    #[test]
    fn long_names_are_cut_on_characters() {
        let mut u = UniqueNames::new();
        let long = format!("{}.jpg", "é".repeat(400));
        let name = u.name(&long, "item", "image/jpeg");
        assert_eq!(name.chars().count(), MAX_STEM + 4);
    }
}
