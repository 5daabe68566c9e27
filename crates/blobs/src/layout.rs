//! Where everything lives in a store, defined once (SPEC §3). Every key is under its
//! tenant's root, `t/<tenant>/`, in one [`Area`]:
//!
//! | area | key | written by |
//! |---|---|---|
//! | uploads | `t/<tenant>/uploads/<sha256>` | the upload routes (deduplicated per tenant) |
//! | tmp | `t/<tenant>/tmp/<id>` | uploads in flight (renamed once hashed) |
//! | jobs | `t/<tenant>/jobs/<job>/<name>` | a job's artifacts (a re-run overwrites) |
//! | photos | `t/<tenant>/photos/<photo>/<size>.<ext>` | the photo library's renditions |
//!
//! A tenant id is one key segment (no `/`), so one tenant's prefix never contains
//! another's.

use crate::{BlobError, BlobKey};

/// A tenant-scoped part of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// Uploaded sources, content-addressed.
    Uploads,
    /// Uploads still being received.
    Tmp,
    /// Job artifacts, one folder per job.
    Jobs,
    /// Photo library renditions, one folder per photo.
    Photos,
}

impl Area {
    /// The key segment naming the area.
    pub fn segment(self) -> &'static str {
        match self {
            Area::Uploads => "uploads",
            Area::Tmp => "tmp",
            Area::Jobs => "jobs",
            Area::Photos => "photos",
        }
    }
}

fn invalid(why: String) -> BlobError {
    BlobError::InvalidKey(why)
}

/// `tenant` as a key segment: refused when it could reach another tenant's prefix.
fn tenant_segment(tenant: &str) -> Result<&str, BlobError> {
    if tenant.is_empty() || tenant.contains('/') {
        return Err(invalid(format!("tenant {tenant:?} is not one key segment")));
    }
    Ok(tenant)
}

/// `t/<tenant>/<area>/`: the prefix of one area of a tenant.
pub fn area_prefix(tenant: &str, area: Area) -> Result<String, BlobError> {
    Ok(format!("t/{}/{}/", tenant_segment(tenant)?, area.segment()))
}

/// `t/<tenant>/<area>/<rest>`, with `rest` (one or more segments) validated as a key.
pub fn in_area(tenant: &str, area: Area, rest: &str) -> Result<BlobKey, BlobError> {
    BlobKey::new(rest)?;
    BlobKey::new(format!("{}{rest}", area_prefix(tenant, area)?))
}

/// An upload's content: `t/<tenant>/uploads/<sha256>`.
pub fn upload(tenant: &str, sha256: &str) -> Result<BlobKey, BlobError> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!("{sha256:?} is not a hex SHA-256")));
    }
    in_area(tenant, Area::Uploads, sha256)
}

/// An upload being received: `t/<tenant>/tmp/<id>`.
pub fn upload_in_flight(tenant: &str, id: &str) -> Result<BlobKey, BlobError> {
    in_area(tenant, Area::Tmp, id)
}

/// `t/<tenant>/jobs/<job>/`: where a job's artifacts live.
pub fn job_prefix(tenant: &str, job: &str) -> Result<String, BlobError> {
    BlobKey::new(job)?;
    if job.contains('/') {
        return Err(invalid(format!("job id {job:?} is not one key segment")));
    }
    Ok(format!("{}{job}/", area_prefix(tenant, Area::Jobs)?))
}

/// One artifact of a job: `t/<tenant>/jobs/<job>/<name>`.
pub fn artifact(tenant: &str, job: &str, name: &str) -> Result<BlobKey, BlobError> {
    BlobKey::new(format!("{}{name}", job_prefix(tenant, job)?))
}

/// One rendition of a library photo: `t/<tenant>/photos/<photo>/<size>.<ext>`.
pub fn photo(tenant: &str, photo: &str, size: &str, ext: &str) -> Result<BlobKey, BlobError> {
    if photo.contains('/') || size.contains('/') || ext.contains('/') {
        return Err(invalid(format!("photo key parts must be single segments: {photo:?} {size:?} {ext:?}")));
    }
    in_area(tenant, Area::Photos, &format!("{photo}/{size}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_laid_out_per_tenant() {
        let sha = "ab".repeat(32);
        assert_eq!(upload("acme", &sha).unwrap().as_str(), format!("t/acme/uploads/{sha}"));
        assert_eq!(artifact("acme", "job_1", "a.zip").unwrap().as_str(), "t/acme/jobs/job_1/a.zip");
        assert_eq!(job_prefix("acme", "job_1").unwrap(), "t/acme/jobs/job_1/");
        assert_eq!(photo("acme", "ph_1", "256", "webp").unwrap().as_str(), "t/acme/photos/ph_1/256.webp");
        assert_eq!(upload_in_flight("acme", "x1").unwrap().as_str(), "t/acme/tmp/x1");
        assert_eq!(area_prefix("acme", Area::Photos).unwrap(), "t/acme/photos/");
    }

    #[test]
    fn nothing_reaches_another_tenant_or_leaves_the_root() {
        let sha = "ab".repeat(32);
        for bad in [
            upload("acme/uploads", &sha),
            upload("", &sha),
            upload("acme", "../../other"),
            artifact("acme", "job_1/../x", "a"),
            artifact("acme", "job_1", "../../../b/jobs/j/x"),
            artifact("acme", "job_1", ""),
            photo("acme", "ph/1", "256", "webp"),
            in_area("acme", Area::Jobs, "/abs"),
        ] {
            assert!(matches!(bad, Err(BlobError::InvalidKey(_))), "{bad:?}");
        }
    }
}
