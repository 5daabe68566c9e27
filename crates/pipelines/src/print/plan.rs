//! Fitting a group under the ZIP size limit (the Etsy 20 MB rule), as pure arithmetic:
//! estimate each file's size at a few qualities, pick the highest quality (80 at most, 60
//! at least) whose predicted total fits with a safety margin, and when even 60 does not
//! fit, split the files into as few parts as 60 needs, at the highest quality that still
//! fits that many parts (a seller gets the fewest files, each as good as the limit
//! allows). The pipeline encodes once at the chosen quality and verifies; a miss steps the
//! quality down and re-encodes.

/// Highest JPEG quality used for prints.
pub const MAX_QUALITY: u8 = 80;
/// Lowest JPEG quality used for prints.
pub const MIN_QUALITY: u8 = 60;
/// Qualities tried, best first.
pub const QUALITY_STEPS: [u8; 11] = [80, 78, 76, 74, 72, 70, 68, 66, 64, 62, 60];
/// Share of the limit the prediction may use (the rest absorbs estimation error).
pub const MARGIN: f64 = 0.94;

/// Bytes a ZIP spends on one stored entry besides its data (local header, data
/// descriptor and central directory record, each carrying the name; ZIP64 extras).
pub fn entry_overhead(name: &str) -> u64 {
    30 + 16 + 46 + 2 * name.len() as u64 + 2 * 20
}

/// Bytes of the end-of-central-directory records.
pub const ZIP_TRAILER: u64 = 22 + 56 + 20;

/// One file's measured sizes at sample qualities, extrapolated to other qualities.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeModel {
    /// `(quality, predicted bytes)`, any order, at least one point.
    pub points: Vec<(u8, f64)>,
}

impl SizeModel {
    /// Predicted bytes at `q`: linear in log(bytes) between the nearest sample qualities,
    /// extended flat-slope outside them.
    pub fn at(&self, q: u8) -> f64 {
        let mut pts = self.points.clone();
        pts.sort_by_key(|p| p.0);
        pts.dedup_by_key(|p| p.0);
        match pts.as_slice() {
            [] => 0.0,
            [one] => one.1,
            _ => {
                let i = pts.iter().position(|p| p.0 >= q).unwrap_or(pts.len() - 1).clamp(1, pts.len() - 1);
                let ((q0, b0), (q1, b1)) = (pts[i - 1], pts[i]);
                let t = (f64::from(q) - f64::from(q0)) / (f64::from(q1) - f64::from(q0));
                (b0.max(1.0).ln() + t * (b1.max(1.0).ln() - b0.max(1.0).ln())).exp()
            }
        }
    }
}

/// What the planner decided for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every file at this quality, in one ZIP.
    One {
        /// JPEG quality.
        quality: u8,
    },
    /// Every file at one quality, in parts (indexes into the files): as few parts as
    /// quality 60 needs, at the highest quality that fits in that many.
    Split {
        /// JPEG quality.
        quality: u8,
        /// Files of each part.
        parts: Vec<Vec<usize>>,
    },
}

/// Chooses the quality (and parts) for files with these names and size models.
pub fn plan(names: &[String], models: &[SizeModel], limit: u64) -> Plan {
    let budget = limit as f64 * MARGIN;
    let total = |q: u8| -> f64 {
        names.iter().zip(models).map(|(n, m)| m.at(q) + entry_overhead(n) as f64).sum::<f64>() + ZIP_TRAILER as f64
    };
    if let Some(q) = QUALITY_STEPS.iter().copied().find(|q| total(*q) <= budget) {
        return Plan::One { quality: q };
    }
    let capacity = (budget as u64).saturating_sub(ZIP_TRAILER);
    let parts_at = |q: u8| {
        let sizes: Vec<u64> =
            names.iter().zip(models).map(|(n, m)| m.at(q).ceil() as u64 + entry_overhead(n)).collect();
        split(&sizes, capacity)
    };
    let size_at = |i: usize, q: u8| models[i].at(q).ceil() as u64 + entry_overhead(&names[i]);
    // Files too big for a part even at 60 are left out later; every other file must fit.
    let fits_alone = |i: usize, q: u8| size_at(i, q) <= capacity || size_at(i, MIN_QUALITY) > capacity;
    let fewest = parts_at(MIN_QUALITY).len();
    QUALITY_STEPS
        .iter()
        .filter(|&&q| (0..names.len()).all(|i| fits_alone(i, q)))
        .map(|&q| (q, parts_at(q)))
        .find(|(_, parts)| parts.len() <= fewest)
        .map(|(quality, parts)| Plan::Split { quality, parts })
        .unwrap_or_else(|| Plan::Split { quality: MIN_QUALITY, parts: parts_at(MIN_QUALITY) })
}

/// Packs items (sizes in bytes) into as few bins of `capacity` as first-fit decreasing
/// finds, then balances them (largest item into the emptiest bin) when that still fits,
/// so parts come out of similar size. An item larger than a bin gets a bin of its own.
/// Parts keep catalog order inside and are ordered by their first item.
pub fn split(sizes: &[u64], capacity: u64) -> Vec<Vec<usize>> {
    let packed = first_fit_decreasing(sizes, capacity);
    let balanced = balance(sizes, packed.len());
    let fits = |parts: &[Vec<usize>]| {
        parts.iter().all(|p| p.len() == 1 || p.iter().map(|i| sizes[*i]).sum::<u64>() <= capacity)
    };
    let mut parts = if fits(&balanced) { balanced } else { packed };
    for p in &mut parts {
        p.sort_unstable();
    }
    parts.retain(|p| !p.is_empty());
    parts.sort_by_key(|p| p[0]);
    parts
}

/// Largest first into the emptiest of `bins` bins.
fn balance(sizes: &[u64], bins: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|a, b| sizes[*b].cmp(&sizes[*a]).then(a.cmp(b)));
    let mut parts: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); bins];
    for i in order {
        if let Some((used, items)) = parts.iter_mut().min_by_key(|(used, _)| *used) {
            *used += sizes[i];
            items.push(i);
        }
    }
    parts.into_iter().map(|(_, items)| items).collect()
}

/// First-fit decreasing.
fn first_fit_decreasing(sizes: &[u64], capacity: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|a, b| sizes[*b].cmp(&sizes[*a]).then(a.cmp(b)));
    let mut bins: Vec<(u64, Vec<usize>)> = Vec::new();
    for i in order {
        match bins.iter_mut().find(|(used, _)| used + sizes[i] <= capacity) {
            Some((used, items)) => {
                *used += sizes[i];
                items.push(i);
            }
            None => bins.push((sizes[i], vec![i])),
        }
    }
    let mut parts: Vec<Vec<usize>> = bins
        .into_iter()
        .map(|(_, mut items)| {
            items.sort_unstable();
            items
        })
        .collect();
    parts.sort_by_key(|p| p[0]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(bytes: f64) -> SizeModel {
        // Halves from quality 80 to 60, like a typical photo.
        SizeModel { points: vec![(60, bytes / 2.0), (70, bytes / 1.4), (80, bytes)] }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("g/f{i}.jpg")).collect()
    }

    #[test]
    fn the_model_interpolates_and_extrapolates() {
        let m = flat(1000.0);
        assert_eq!(m.at(80).round(), 1000.0);
        assert_eq!(m.at(60).round(), 500.0);
        let mid = m.at(75);
        assert!(mid > 714.0 && mid < 1000.0, "{mid}");
        assert!(m.at(90) > 1000.0 && m.at(50) < 500.0);
        assert_eq!(SizeModel { points: vec![(70, 42.0)] }.at(80), 42.0);
    }

    #[test]
    fn picks_the_highest_quality_that_fits() {
        let cases = [
            // (file sizes at q80, limit, expected plan)
            (vec![1e6, 2e6], 20_000_000, Plan::One { quality: 80 }),
            // 2 x 9.35 MB at 78 fits 94% of 20 MB; 2 x 10 MB at 80 does not.
            (vec![10e6, 10e6], 20_000_000, Plan::One { quality: 78 }),
            (vec![18e6, 18e6], 20_000_000, Plan::One { quality: 60 }),
        ];
        for (sizes, limit, expected) in cases {
            let models: Vec<_> = sizes.iter().map(|b| flat(*b)).collect();
            assert_eq!(plan(&names(sizes.len()), &models, limit), expected, "{sizes:?}");
        }
    }

    #[test]
    fn splits_when_even_the_lowest_quality_is_too_big() {
        let models: Vec<_> = [30e6, 20e6, 10e6, 8e6].iter().map(|b| flat(*b)).collect();
        let Plan::Split { quality, parts } = plan(&names(4), &models, 20_000_000) else { panic!("expected a split") };
        // At 60 (15, 10, 5 and 4 MB) they need three parts of 18.8 MB; at 66 the largest
        // is 18.6 MB and three parts still do; at 68 it no longer fits a part.
        assert_eq!((quality, parts.len()), (66, 3), "{parts:?}");
        let mut all: Vec<usize> = parts.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3], "every file exactly once");
        for part in &parts {
            let bytes: f64 = part.iter().map(|i| models[*i].at(quality)).sum();
            assert!(bytes <= 20e6 * MARGIN, "{part:?} holds {bytes}");
        }
    }

    #[test]
    fn parts_are_few_and_balanced() {
        assert_eq!(split(&[5, 5, 5, 5], 10), vec![vec![0, 2], vec![1, 3]]);
        assert_eq!(split(&[9, 2, 8, 1], 10), vec![vec![0, 3], vec![1, 2]]);
        // First fit alone would make [8, 1, 1] and [2]; balanced: [8] and [2, 1, 1].
        assert_eq!(split(&[8, 2, 1, 1], 10), vec![vec![0], vec![1, 2, 3]]);
        assert_eq!(split(&[6, 6, 6], 12), vec![vec![0, 2], vec![1]]);
        assert_eq!(split(&[15, 1], 10), vec![vec![0], vec![1]], "an oversized item gets a part of its own");
        assert!(split(&[], 10).is_empty());
    }
}
