//! The print catalog of SPEC §5 as data: the pack groups (`2x3`, `3x4`, `4x5`, `iso`,
//! `extras`) and the single-mode-only `square` group, each size with its physical
//! dimensions, its pixel size at a dpi (round(inches × dpi); ISO sizes from millimetres,
//! which gives exactly A4 = 2480x3508 at 300 dpi) and its output file name.

/// Which way round an output is. A landscape source gets landscape sizes; a square
/// source gets the portrait (catalog) orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Orientation {
    /// Width ≤ height.
    Portrait,
    /// Width > height: every size has its sides swapped.
    Landscape,
    /// Width = height: treated as portrait.
    Square,
}

/// The orientation of an image of this size.
pub fn orientation_of(width: u32, height: u32) -> Orientation {
    match width.cmp(&height) {
        std::cmp::Ordering::Less => Orientation::Portrait,
        std::cmp::Ordering::Equal => Orientation::Square,
        std::cmp::Ordering::Greater => Orientation::Landscape,
    }
}

/// Physical size of a print, short side first (portrait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimensions {
    /// In tenths of an inch (8.5 in = 85), so that pixels are exact integers.
    TenthsOfInch {
        /// Short side.
        short: u32,
        /// Long side.
        long: u32,
    },
    /// In millimetres (ISO 216).
    Millimetres {
        /// Short side.
        short: u32,
        /// Long side.
        long: u32,
    },
}

impl Dimensions {
    /// Pixels along each side (short, long) at `dpi`, rounded to nearest (half up).
    fn pixels(self, dpi: u32) -> (u32, u32) {
        let dpi = u64::from(dpi);
        let px = |num: u64, den: u64| ((num * dpi * 2 + den) / (den * 2)) as u32;
        match self {
            // round(tenths / 10 × dpi)
            Dimensions::TenthsOfInch { short, long } => (px(short.into(), 10), px(long.into(), 10)),
            // round(mm / 25.4 × dpi) = round(mm × 10 × dpi / 254)
            Dimensions::Millimetres { short, long } => (px(u64::from(short) * 10, 254), px(u64::from(long) * 10, 254)),
        }
    }

    /// Sides in inches (short, long).
    fn inches(self) -> (f64, f64) {
        match self {
            Dimensions::TenthsOfInch { short, long } => (f64::from(short) / 10.0, f64::from(long) / 10.0),
            Dimensions::Millimetres { short, long } => (f64::from(short) / 25.4, f64::from(long) / 25.4),
        }
    }
}

/// One print size of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintSize {
    /// The group it belongs to (`2x3`, `3x4`, `4x5`, `iso`, `extras`, `square`).
    pub group: &'static str,
    /// Its name, portrait: `8x10`, `8.5x11`, `A4`, `8x8`.
    pub label: &'static str,
    /// Its physical size.
    pub dimensions: Dimensions,
}

impl PrintSize {
    /// Output pixels (width, height) at `dpi`: portrait and square give width ≤ height,
    /// landscape swaps the sides.
    pub fn pixels(&self, dpi: u32, orientation: Orientation) -> (u32, u32) {
        let (short, long) = self.dimensions.pixels(dpi);
        match orientation {
            Orientation::Portrait | Orientation::Square => (short, long),
            Orientation::Landscape => (long, short),
        }
    }

    /// Physical size (width, height) in inches for an orientation.
    pub fn inches(&self, orientation: Orientation) -> (f64, f64) {
        let (short, long) = self.dimensions.inches();
        match orientation {
            Orientation::Portrait | Orientation::Square => (short, long),
            Orientation::Landscape => (long, short),
        }
    }

    /// The file name of an output of this size: `8x10_2400x3000.jpg`.
    pub fn file_name(&self, width: u32, height: u32) -> String {
        format!("{}_{width}x{height}.jpg", self.label)
    }
}

/// The name of the single-mode-only group.
pub const SQUARE: &str = "square";

/// The pack groups in catalog order (not `square`, which is single mode only).
pub fn groups() -> &'static [&'static str] {
    &["2x3", "3x4", "4x5", "iso", "extras"]
}

/// Every group in catalog order, `square` last.
pub fn all_groups() -> &'static [&'static str] {
    &["2x3", "3x4", "4x5", "iso", "extras", SQUARE]
}

/// The sizes of a group (`square` included), in catalog order; `None` for an unknown group.
pub fn sizes(group: &str) -> Option<&'static [PrintSize]> {
    match group {
        "2x3" => Some(GROUP_2X3),
        "3x4" => Some(GROUP_3X4),
        "4x5" => Some(GROUP_4X5),
        "iso" => Some(GROUP_ISO),
        "extras" => Some(GROUP_EXTRAS),
        SQUARE => Some(GROUP_SQUARE),
        _ => None,
    }
}

/// A size by label in one group.
pub fn find_in(group: &str, label: &str) -> Option<&'static PrintSize> {
    sizes(group)?.iter().find(|s| s.label == label)
}

/// A size by label across all groups, in catalog order: where a label is in two groups
/// the earlier group wins (`16x20` is found in `4x5`, not `extras`). Use [`find_in`] to
/// pick the group.
pub fn find(label: &str) -> Option<&'static PrintSize> {
    all_groups().iter().find_map(|g| find_in(g, label))
}

const fn inch(group: &'static str, label: &'static str, short: u32, long: u32) -> PrintSize {
    PrintSize { group, label, dimensions: Dimensions::TenthsOfInch { short, long } }
}

const fn iso(label: &'static str, short: u32, long: u32) -> PrintSize {
    PrintSize { group: "iso", label, dimensions: Dimensions::Millimetres { short, long } }
}

static GROUP_2X3: &[PrintSize] = &[
    inch("2x3", "4x6", 40, 60),
    inch("2x3", "6x9", 60, 90),
    inch("2x3", "8x12", 80, 120),
    inch("2x3", "10x15", 100, 150),
    inch("2x3", "12x18", 120, 180),
    inch("2x3", "16x24", 160, 240),
    inch("2x3", "20x30", 200, 300),
    inch("2x3", "24x36", 240, 360),
];

static GROUP_3X4: &[PrintSize] = &[
    inch("3x4", "6x8", 60, 80),
    inch("3x4", "9x12", 90, 120),
    inch("3x4", "12x16", 120, 160),
    inch("3x4", "15x20", 150, 200),
    inch("3x4", "18x24", 180, 240),
];

static GROUP_4X5: &[PrintSize] = &[
    inch("4x5", "8x10", 80, 100),
    inch("4x5", "12x15", 120, 150),
    inch("4x5", "16x20", 160, 200),
    inch("4x5", "20x25", 200, 250),
];

static GROUP_ISO: &[PrintSize] =
    &[iso("A5", 148, 210), iso("A4", 210, 297), iso("A3", 297, 420), iso("A2", 420, 594), iso("A1", 594, 841)];

static GROUP_EXTRAS: &[PrintSize] = &[
    inch("extras", "5x7", 50, 70),
    inch("extras", "8.5x11", 85, 110),
    inch("extras", "11x14", 110, 140),
    inch("extras", "16x20", 160, 200),
    inch("extras", "20x24", 200, 240),
];

static GROUP_SQUARE: &[PrintSize] = &[
    inch(SQUARE, "8x8", 80, 80),
    inch(SQUARE, "10x10", 100, 100),
    inch(SQUARE, "12x12", 120, 120),
    inch(SQUARE, "16x16", 160, 160),
    inch(SQUARE, "20x20", 200, 200),
    inch(SQUARE, "24x24", 240, 240),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every catalog entry: (group, label, portrait pixels at 300 dpi).
    const AT_300: &[(&str, &str, (u32, u32))] = &[
        ("2x3", "4x6", (1200, 1800)),
        ("2x3", "6x9", (1800, 2700)),
        ("2x3", "8x12", (2400, 3600)),
        ("2x3", "10x15", (3000, 4500)),
        ("2x3", "12x18", (3600, 5400)),
        ("2x3", "16x24", (4800, 7200)),
        ("2x3", "20x30", (6000, 9000)),
        ("2x3", "24x36", (7200, 10800)),
        ("3x4", "6x8", (1800, 2400)),
        ("3x4", "9x12", (2700, 3600)),
        ("3x4", "12x16", (3600, 4800)),
        ("3x4", "15x20", (4500, 6000)),
        ("3x4", "18x24", (5400, 7200)),
        ("4x5", "8x10", (2400, 3000)),
        ("4x5", "12x15", (3600, 4500)),
        ("4x5", "16x20", (4800, 6000)),
        ("4x5", "20x25", (6000, 7500)),
        ("iso", "A5", (1748, 2480)),
        ("iso", "A4", (2480, 3508)),
        ("iso", "A3", (3508, 4961)),
        ("iso", "A2", (4961, 7016)),
        ("iso", "A1", (7016, 9933)),
        ("extras", "5x7", (1500, 2100)),
        ("extras", "8.5x11", (2550, 3300)),
        ("extras", "11x14", (3300, 4200)),
        ("extras", "16x20", (4800, 6000)),
        ("extras", "20x24", (6000, 7200)),
        ("square", "8x8", (2400, 2400)),
        ("square", "10x10", (3000, 3000)),
        ("square", "12x12", (3600, 3600)),
        ("square", "16x16", (4800, 4800)),
        ("square", "20x20", (6000, 6000)),
        ("square", "24x24", (7200, 7200)),
    ];

    fn check(group: &str, label: &str, dpi: u32, orientation: Orientation, expected: (u32, u32)) {
        let size = find_in(group, label).unwrap_or_else(|| panic!("{group}/{label} missing"));
        assert_eq!(size.group, group);
        assert_eq!(size.pixels(dpi, orientation), expected, "{group}/{label} at {dpi} {orientation:?}");
    }

    #[test]
    fn every_entry_at_300_dpi_both_ways() {
        for &(group, label, (w, h)) in AT_300 {
            check(group, label, 300, Orientation::Portrait, (w, h));
            check(group, label, 300, Orientation::Square, (w, h));
            check(group, label, 300, Orientation::Landscape, (h, w));
        }
        // The table is the whole catalog: nothing missing, nothing extra.
        let total: usize = all_groups().iter().map(|g| sizes(g).unwrap().len()).sum();
        assert_eq!(total, AT_300.len());
    }

    #[test]
    fn other_dpis() {
        let cases = [
            ("4x5", "8x10", 150, Orientation::Portrait, (1200, 1500)),
            ("extras", "8.5x11", 72, Orientation::Landscape, (792, 612)),
            ("extras", "8.5x11", 301, Orientation::Portrait, (2559, 3311)), // 2558.5 rounds up
            ("iso", "A4", 72, Orientation::Portrait, (595, 842)),
            ("iso", "A4", 150, Orientation::Portrait, (1240, 1754)),
            ("iso", "A1", 600, Orientation::Landscape, (19866, 14031)),
        ];
        for (group, label, dpi, orientation, expected) in cases {
            check(group, label, dpi, orientation, expected);
        }
    }

    #[test]
    fn orientation_and_lookup() {
        assert_eq!(orientation_of(4000, 6000), Orientation::Portrait);
        assert_eq!(orientation_of(6000, 4000), Orientation::Landscape);
        assert_eq!(orientation_of(500, 500), Orientation::Square);
        assert_eq!(groups(), &["2x3", "3x4", "4x5", "iso", "extras"]);
        assert_eq!(find("16x20").map(|s| s.group), Some("4x5"));
        assert_eq!(find_in("extras", "16x20").map(|s| s.group), Some("extras"));
        assert_eq!(find("12x12").map(|s| s.group), Some(SQUARE));
        assert_eq!(find("7x9"), None);
        assert_eq!(sizes("nope"), None);
        let a4 = find("A4").unwrap();
        let (w, h) = a4.inches(Orientation::Landscape);
        assert!((w - 297.0 / 25.4).abs() < 1e-9 && (h - 210.0 / 25.4).abs() < 1e-9);
    }

    #[test]
    fn file_names() {
        let cases = [
            ("8x10", Orientation::Portrait, "8x10_2400x3000.jpg"),
            ("A4", Orientation::Portrait, "A4_2480x3508.jpg"),
            ("A4", Orientation::Landscape, "A4_3508x2480.jpg"),
            ("8.5x11", Orientation::Portrait, "8.5x11_2550x3300.jpg"),
            ("24x24", Orientation::Square, "24x24_7200x7200.jpg"),
        ];
        for (label, orientation, expected) in cases {
            let size = find(label).unwrap();
            let (w, h) = size.pixels(300, orientation);
            assert_eq!(size.file_name(w, h), expected);
        }
    }
}
