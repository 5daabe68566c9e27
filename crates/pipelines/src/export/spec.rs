//! The submit side of `export`: the input (items naming uploads, library photos or URLs,
//! or one album), checked at submit time: at most `max_items`, each item one source, and
//! every upload, photo and album the submitting tenant's (another tenant's is refused
//! here, as not found, and makes no job).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tintype_catalog::UPLOAD_NOT_FOUND;
use tintype_kinds::{JobSpec, Lifetimes, Submit, SubmitError};
use tintype_library::{ALBUM_NOT_FOUND, PHOTO_NOT_FOUND};

use super::{KIND, STEPS, TOO_MANY_ITEMS};

/// The longest name a client may give an item or the ZIP, in characters.
const MAX_NAME: usize = 255;

/// One item of an export: exactly one source, and the name it gets in the ZIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// An upload of the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// A library photo of the tenant's (its original).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_id: Option<String>,
    /// An http(s) URL, fetched through the SSRF-guarded client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its name in the ZIP (sanitised and made unique; default: the upload's or photo's
    /// file name, or the URL's last path segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Where an item's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemSource<'a> {
    /// An upload id.
    Upload(&'a str),
    /// A photo id.
    Photo(&'a str),
    /// A URL.
    Url(&'a str),
}

impl Item {
    /// The one source the item names, or why not.
    pub fn source(&self) -> Result<ItemSource<'_>, String> {
        match (&self.upload_id, &self.photo_id, &self.url) {
            (Some(u), None, None) => Ok(ItemSource::Upload(u)),
            (None, Some(p), None) => Ok(ItemSource::Photo(p)),
            (None, None, Some(u)) => Ok(ItemSource::Url(u)),
            _ => Err("each item names exactly one of upload_id, photo_id or url".into()),
        }
    }

    /// How the report names it.
    pub fn describe(&self) -> String {
        match self.source() {
            Ok(ItemSource::Upload(u)) => format!("upload {u}"),
            Ok(ItemSource::Photo(p)) => format!("photo {p}"),
            Ok(ItemSource::Url(u)) => format!("url {u}"),
            Err(_) => "an item".into(),
        }
    }
}

/// The input document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    /// The items, in ZIP order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
    /// Or every photo of one of the tenant's albums (newest first, as the timeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album_id: Option<String>,
    /// The ZIP's file name (default `export.zip`; `.zip` is added when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ExportInput {
    /// Parses and checks the document's shape (not whether the sources exist).
    pub fn parse(doc: &serde_json::Value, max_items: usize) -> Result<ExportInput, SubmitError> {
        let input: ExportInput =
            serde_json::from_value(doc.clone()).map_err(|e| SubmitError::invalid(format!("export input: {e}")))?;
        match (&input.album_id, input.items.len()) {
            (Some(_), n) if n > 0 => return Err(SubmitError::invalid("give items or album_id, not both")),
            (None, 0) => return Err(SubmitError::invalid("give at least one item, or an album_id")),
            _ => {}
        }
        if input.items.len() > max_items {
            let message = format!("{} items; an export may have at most {max_items}", input.items.len());
            return Err(SubmitError::new(TOO_MANY_ITEMS, message));
        }
        let bad_name = |n: &str| n.is_empty() || n.chars().count() > MAX_NAME;
        if input.name.as_deref().is_some_and(bad_name) {
            return Err(SubmitError::invalid(format!("name: 1 to {MAX_NAME} characters")));
        }
        // The same source twice is a mistake the ZIP would carry as two copies: refused.
        let mut seen = std::collections::HashMap::with_capacity(input.items.len());
        for (i, item) in input.items.iter().enumerate() {
            let source = item.source().map_err(|e| SubmitError::invalid(format!("items[{i}]: {e}")))?;
            if let Some(first) = seen.insert(source.clone(), i) {
                return Err(SubmitError::invalid(format!("items[{i}] repeats items[{first}]")));
            }
            let id_ok = |id: &str| !id.is_empty() && id.len() <= 64;
            let ok = match source {
                ItemSource::Upload(id) | ItemSource::Photo(id) => id_ok(id),
                ItemSource::Url(u) => u.len() <= 4096 && (u.starts_with("https://") || u.starts_with("http://")),
            };
            if !ok {
                return Err(SubmitError::invalid(format!("items[{i}]: not a valid id or http(s) URL")));
            }
            if item.name.as_deref().is_some_and(bad_name) {
                return Err(SubmitError::invalid(format!("items[{i}].name: 1 to {MAX_NAME} characters")));
            }
        }
        Ok(input)
    }

    /// The ZIP's file name: the given one made safe, ending in `.zip`.
    pub fn zip_name(&self) -> String {
        let name = super::names::sanitise(self.name.as_deref().unwrap_or("export.zip"), "export.zip");
        if name.to_ascii_lowercase().ends_with(".zip") { name } else { format!("{name}.zip") }
    }
}

/// The `export` spec.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    max_items: usize,
    ttl: std::time::Duration,
}

impl ExportSpec {
    /// A spec taking at most `max_items`, whose ZIP and link live `ttl`.
    pub fn new(max_items: usize, ttl: std::time::Duration) -> Self {
        Self { max_items, ttl }
    }
}

#[async_trait]
impl JobSpec for ExportSpec {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn steps(&self) -> &'static [&'static str] {
        STEPS
    }

    fn input_schema(&self) -> serde_json::Value {
        let id = |d: &str| json!({ "type": "string", "description": d });
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "items": {
                    "type": "array",
                    "maxItems": self.max_items,
                    "items": {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "upload_id": id("an upload of your tenant"),
                            "photo_id": id("a library photo of your tenant (its original)"),
                            "url": id("an http(s) URL"),
                            "name": id("its name in the ZIP"),
                        }
                    }
                },
                "album_id": id("every photo of one of your albums, instead of items"),
                "name": id("the ZIP's file name (default export.zip)"),
            }
        })
    }

    async fn validate(&self, input: &mut serde_json::Value, submit: Submit<'_>) -> Result<(), SubmitError> {
        let parsed = ExportInput::parse(input, self.max_items)?;
        if let Some(album) = &parsed.album_id {
            let found = submit.library.get_album(submit.tenant, album).await.map_err(|e| SubmitError::coded(&e))?;
            let album = found.ok_or_else(|| SubmitError::new(ALBUM_NOT_FOUND, format!("no album {album}")))?;
            if album.photo_count == 0 {
                return Err(SubmitError::invalid(format!("album {} has no photos", album.id)));
            }
            if album.photo_count as usize > self.max_items {
                let message = format!(
                    "the album has {} photos; an export may have at most {}",
                    album.photo_count, self.max_items
                );
                return Err(SubmitError::new(TOO_MANY_ITEMS, message));
            }
        }
        for (i, item) in parsed.items.iter().enumerate() {
            match item.source().map_err(SubmitError::invalid)? {
                ItemSource::Upload(id) => {
                    let found =
                        submit.catalog.get_upload(submit.tenant, id).await.map_err(|e| SubmitError::coded(&e))?;
                    if found.is_none() {
                        return Err(SubmitError::new(UPLOAD_NOT_FOUND, format!("items[{i}]: no upload {id}")));
                    }
                }
                ItemSource::Photo(id) => {
                    let found =
                        submit.library.get_photo(submit.tenant, id).await.map_err(|e| SubmitError::coded(&e))?;
                    if found.is_none() {
                        return Err(SubmitError::new(PHOTO_NOT_FOUND, format!("items[{i}]: no photo {id}")));
                    }
                }
                ItemSource::Url(_) => {}
            }
        }
        Ok(())
    }

    fn lifetimes(&self) -> Lifetimes {
        Lifetimes { artifacts: Some(self.ttl), links: Some(self.ttl) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked() {
        let ok = json!({"items": [{"upload_id": "upl_1", "name": "a.jpg"}, {"photo_id": "pho_1"}, {"url": "https://example.com/x.jpg"}], "name": "gallery"});
        let input = ExportInput::parse(&ok, 10).unwrap();
        assert_eq!(input.zip_name(), "gallery.zip");
        assert_eq!(input.items[2].source().unwrap(), ItemSource::Url("https://example.com/x.jpg"));
        let bad = [
            json!({}),
            json!({"items": []}),
            json!({"items": [{"upload_id": "a", "photo_id": "b"}]}),
            json!({"items": [{}]}),
            json!({"items": [{"url": "file:///etc/passwd"}]}),
            json!({"items": [{"upload_id": ""}]}),
            json!({"items": [{"upload_id": "a"}], "album_id": "alb_1"}),
            json!({"items": [{"upload_id": "a", "colour": "red"}]}),
            json!({"items": [{"upload_id": "a"}], "name": ""}),
        ];
        for doc in bad {
            assert!(ExportInput::parse(&doc, 10).is_err(), "{doc}");
        }
        let many = json!({"items": vec![json!({"upload_id": "u"}); 11]});
        let err = ExportInput::parse(&many, 10).unwrap_err();
        assert_eq!(err.code, TOO_MANY_ITEMS);
        assert!(err.message.contains("at most 10"), "{}", err.message);
    }

    #[test]
    fn the_zip_name_is_safe() {
        let named = |n: &str| ExportInput { items: vec![], album_id: None, name: Some(n.into()) }.zip_name();
        assert_eq!(named("../../x.ZIP"), "x.ZIP");
        assert_eq!(named("CON"), "_CON.zip");
        assert_eq!(ExportInput { items: vec![], album_id: None, name: None }.zip_name(), "export.zip");
    }
}
