"""SCO news: RSS/Atom feeds and headline listing pages, with their article pages; the
README's layout names each module's part, in the order a flow runs them."""
