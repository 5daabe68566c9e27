//! The job listing both drivers run: one keyset page of a filter, newest first, built
//! once with sqlx's `QueryBuilder` (which writes each backend's placeholders) and paged
//! the same way.

use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::model::{Job, JobFilter, JobPage};

/// Default and largest page of `list`.
const PAGE_DEFAULT: u32 = 50;
const PAGE_MAX: u32 = 500;

/// The page size a filter asks for, within bounds.
pub(crate) fn page_size(filter: &JobFilter) -> u32 {
    match filter.limit {
        0 => PAGE_DEFAULT,
        n => n.min(PAGE_MAX),
    }
}

/// `SELECT * FROM jobs WHERE …filter… ORDER BY id DESC LIMIT size`.
pub(crate) fn query<'a, DB>(filter: &'a JobFilter, size: u32) -> QueryBuilder<DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::<DB>::new("SELECT * FROM jobs WHERE 1 = 1");
    if let Some(tenant) = &filter.tenant {
        query.push(" AND tenant = ").push_bind(tenant.as_str());
    }
    if let Some(state) = filter.state {
        query.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(kind) = &filter.kind {
        query.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(queue) = &filter.queue {
        query.push(" AND queue = ").push_bind(queue.as_str());
    }
    if let Some(cursor) = &filter.cursor {
        query.push(" AND id < ").push_bind(cursor.as_str());
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(size));
    query
}

/// The page: the jobs, and the cursor of the next page when this one is full.
pub(crate) fn page(jobs: Vec<Job>, size: u32) -> JobPage {
    let next_cursor = match jobs.last() {
        Some(last) if jobs.len() == size as usize => Some(last.id.clone()),
        _ => None,
    };
    JobPage { jobs, next_cursor }
}
