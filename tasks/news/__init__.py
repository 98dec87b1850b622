"""SCO news: fetch, parse feeds and listings, normalise, join rows, mentions, search, load."""
