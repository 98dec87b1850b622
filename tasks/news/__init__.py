"""SCO news: RSS/Atom feeds and headline listing pages, with their article pages.

The package reads the way a flow runs it:

- `client`: the HTTP seam — sources fetched with conditional GET (`feed_state`), article
  pages fetched and read (tasks `read_feed_state`, `fetch_sources`, `fetch_articles`);
- `documents`, `articles`: the pure parsers — a feed or listing, an article page — each
  document read one way; `fields` and `normalise` turn what they give into candidate rows;
- `plan`: what changed and what to fetch next (tasks `read_sources`, `plan_articles`);
- `rows`: the join with the stored rows and the pages (task `join_rows`); `mentions`: the
  countries an item names;
- `load`: schema checks, one write transaction, the search index (tasks `validate_news`,
  `write_news`, `refresh_search_index`);
- `summary`: what the run did, per source and in all (task `publish_summary`);
- `settings`: the constants.
"""
