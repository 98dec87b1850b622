"""CBR official rates: client, parsers, planning, calendar, extract (read), load (write)."""
