//! Nearest-hash search, shared by both drivers: multi-index hashing. A 64-bit hash is
//! stored with its four 16-bit quarters, each indexed per tenant. Two hashes within `d`
//! bits of each other differ in at most `d / 4` bits in at least one quarter
//! (pigeonhole), so a search looks up, in each quarter's index, every value within that
//! radius of the hash's own quarter, and checks the candidates' whole hashes here: exact
//! answers from a few hundred index probes instead of a scan of every hash. A search too
//! wide for that (a radius above the driver's limit, at most [`MAX_RADIUS`]) scans the
//! tenant's hashes instead.

use std::sync::OnceLock;

use crate::model::{Photo, Similar};

/// Quarters a hash is stored in.
pub(crate) const QUARTERS: usize = 4;
/// Largest radius per quarter a driver may look up: 697 values per quarter, which
/// serves every `max_distance` up to 15. Each driver picks its own limit up to this (the
/// radius where looking up stops beating its scan); wider searches scan.
pub(crate) const MAX_RADIUS: u32 = 3;

/// Hamming distance of two hashes.
pub(crate) fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// A stored hash (the u64's bits in a signed integer) as the hash.
pub(crate) fn from_bits(bits: i64) -> u64 {
    u64::from_ne_bytes(bits.to_ne_bytes())
}

/// The hash's four 16-bit quarters, lowest first, as stored.
pub(crate) fn quarters(phash: u64) -> [i64; QUARTERS] {
    std::array::from_fn(|i| i64::from((phash >> (16 * i)) as u16))
}

/// For each quarter, every value within the search's radius of the hash's own; `None`
/// when the search is too wide to look up with radius `up_to` (scan instead).
pub(crate) fn probes(phash: u64, max_distance: u32, up_to: u32) -> Option<[Vec<i64>; QUARTERS]> {
    let radius = max_distance / QUARTERS as u32;
    if radius > up_to.min(MAX_RADIUS) {
        return None;
    }
    let masks = masks(radius);
    Some(quarters(phash).map(|q| masks.iter().map(|m| q ^ m).collect()))
}

/// Every 16-bit value with at most `radius` bits set (computed once per radius).
fn masks(radius: u32) -> &'static [i64] {
    static MASKS: [OnceLock<Vec<i64>>; MAX_RADIUS as usize + 1] = [const { OnceLock::new() }; MAX_RADIUS as usize + 1];
    MASKS[radius as usize].get_or_init(|| (0..=u16::MAX).filter(|m| m.count_ones() <= radius).map(i64::from).collect())
}

/// The ids of the `limit` closest candidates (id and stored hash) within `max_distance`,
/// not `exclude`, closest first then by id.
pub(crate) fn best(
    candidates: Vec<(String, i64)>,
    phash: u64,
    max_distance: u32,
    exclude: Option<&str>,
    limit: usize,
) -> Vec<String> {
    let mut near: Vec<(u32, String)> = candidates
        .into_iter()
        .filter(|(id, _)| Some(id.as_str()) != exclude)
        .map(|(id, bits)| (distance(phash, from_bits(bits)), id))
        .filter(|(d, _)| *d <= max_distance)
        .collect();
    near.sort_unstable();
    near.dedup();
    near.truncate(limit);
    near.into_iter().map(|(_, id)| id).collect()
}

/// The rows read for [`best`]'s ids as answers, closest first then by id; a photo
/// deleted in between is simply missing.
pub(crate) fn answers(photos: Vec<Photo>, phash: u64, max_distance: u32) -> Vec<Similar> {
    let mut found: Vec<Similar> = photos
        .into_iter()
        .filter_map(|photo| {
            let distance = distance(phash, photo.phash?);
            (distance <= max_distance).then_some(Similar { photo, distance })
        })
        .collect();
    found.sort_by(|x, y| (x.distance, &x.photo.id).cmp(&(y.distance, &y.photo.id)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_split_the_bits_low_first() {
        assert_eq!(quarters(0x0123_4567_89ab_cdef), [0xcdef, 0x89ab, 0x4567, 0x0123]);
        assert_eq!(quarters(u64::MAX), [0xffff; 4]);
        assert_eq!(from_bits(-1), u64::MAX);
    }

    /// Every hash within the distance shares a probed value in some quarter, and the
    /// probe sets have the sizes the radius gives.
    #[test]
    fn probes_cover_every_hash_within_the_distance() {
        let hash = 0xF0F0_1234_8001_FFFFu64;
        for max_distance in [0, 3, 4, 7, 10, 15] {
            let probes = probes(hash, max_distance, MAX_RADIUS).expect("narrow enough");
            let expected = [1, 17, 137, 697][(max_distance / 4) as usize];
            assert!(probes.iter().all(|p| p.len() == expected), "d {max_distance}");
            // Spread the flipped bits as evenly over the quarters as they go.
            for start in 0..4 {
                let mut other = hash;
                for k in 0..max_distance {
                    let quarter = (start + k) % 4;
                    other ^= 1 << (16 * quarter + k / 4);
                }
                assert_eq!(distance(hash, other), max_distance);
                let q = quarters(other);
                assert!((0..QUARTERS).any(|i| probes[i].contains(&q[i])), "d {max_distance} from {start}");
            }
        }
        assert!(probes(hash, 16, MAX_RADIUS).is_none(), "too wide: scan");
        assert!(probes(hash, 12, 2).is_none() && probes(hash, 11, 2).is_some(), "the driver's limit");
    }

    #[test]
    fn best_orders_by_distance_then_id() {
        let candidates = vec![
            ("pho_c".to_owned(), 0b1),
            ("pho_a".to_owned(), 0b11),
            ("pho_b".to_owned(), 0b1),
            ("pho_b".to_owned(), 0b1),
            ("pho_x".to_owned(), 0),
            ("pho_far".to_owned(), -1),
        ];
        assert_eq!(best(candidates.clone(), 0, 2, Some("pho_x"), 10), ["pho_b", "pho_c", "pho_a"]);
        assert_eq!(best(candidates, 0, 1, None, 2), ["pho_x", "pho_b"]);
    }
}
