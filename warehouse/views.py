"""Derived views and macros of the catalog, defined over the base table views.

Pre-1998 values are in pre-redenomination rubles (RUR, 1000 RUR = 1 RUB): `unit_rate` stays
as published; `unit_rate_rub` restates it in today's rubles so long series are continuous.

No view calls DuckDB's `current_date` or `now()`: they follow the host's time zone, while
rates live on Moscow's calendar. Where a view needs "today" (how far to carry the latest rates
forward), it reads the variable `sco_today`, which sco-etl sets on every connection from its
one clock (`sco_etl.schemas.clock`); a plain DuckDB client sets it with the statement
`sco-etl catalog` prints. Unset, the latest rates are carried to the latest publication only.
"""

REDENOMINATION = "DATE '1998-01-01'"
# A currency still quoted within this many days of the latest publication is carried forward
# to today; a retired one (BYR after June 2016) stops at its last rate.
ACTIVE_WITHIN_DAYS = 45
TODAY_VARIABLE = "sco_today"
"""The DuckDB variable holding Moscow's date, set by `warehouse.lake.connect`."""

IN_FORCE_UNTIL = f"""
CREATE OR REPLACE MACRO in_force_until(rate_date, next_date, last_published) AS
-- The last day a publication is in force: the day before the next one of its currency ID;
-- for the latest one, Moscow's today while the currency is still quoted, else its own day.
coalesce(next_date - 1,
         CASE WHEN rate_date >= last_published - {ACTIVE_WITHIN_DAYS}
              THEN greatest(last_published, getvariable('{TODAY_VARIABLE}')::DATE)
              ELSE rate_date END)
"""

RATE_PERIODS = """
CREATE OR REPLACE VIEW rate_periods AS
WITH latest AS (SELECT max(rate_date) AS last_published FROM rates)
SELECT r.*,
       in_force_until(r.rate_date,
                      lead(r.rate_date) OVER (PARTITION BY r.cbr_id ORDER BY r.rate_date),
                      l.last_published) AS in_force_until
FROM rates r, latest l
"""

RATES_DAILY = f"""
CREATE OR REPLACE VIEW rates_daily AS
SELECT CAST(unnest(generate_series(p.rate_date, p.in_force_until, INTERVAL 1 DAY)) AS DATE)
           AS as_of_date,
       p.rate_date, p.cbr_id, p.char_code, p.num_code, p.nominal, p.value, p.unit_rate,
       CASE WHEN p.rate_date < {REDENOMINATION}
            THEN CAST(p.unit_rate / 1000 AS DECIMAL(38, 15))
            ELSE CAST(p.unit_rate AS DECIMAL(38, 15)) END AS unit_rate_rub,
       p.frequency,
       CAST(as_of_date - p.rate_date AS INTEGER) AS days_since_publication
FROM rate_periods p
"""

SCO_CURRENCIES = """
CREATE OR REPLACE VIEW sco_currencies AS
WITH codes AS (
    SELECT DISTINCT country, char_code FROM sco_countries
    UNION
    SELECT DISTINCT k.country, l.predecessor_code
    FROM sco_countries k JOIN currency_lineage l USING (char_code)
)
SELECT DISTINCT codes.country, c.cbr_id, c.char_code, c.name_en, c.name_ru, c.frequency
FROM codes JOIN currencies c USING (char_code)
"""

CURRENCY_BOARD = """
CREATE OR REPLACE VIEW currency_board AS
SELECT d.as_of_date, d.rate_date, s.country, s.status, d.char_code,
       sc.name_en AS currency, sc.name_ru AS currency_ru, d.nominal, d.value, d.unit_rate,
       d.cbr_id, d.days_since_publication
FROM rates_daily d
JOIN sco_currencies sc USING (cbr_id)
JOIN sco_countries s
  ON s.country = sc.country
 AND d.as_of_date BETWEEN s.valid_from AND coalesce(s.valid_to, DATE '9999-12-31')
QUALIFY row_number() OVER (
    PARTITION BY d.as_of_date, s.country ORDER BY d.rate_date DESC, d.cbr_id DESC) = 1
"""

BOARD_MACRO = f"""
CREATE OR REPLACE MACRO board(d) AS TABLE
-- currency_board on one day, from the publications in force that day: a filter on the
-- day cannot reach into the calendar of every day that currency_board is built on.
WITH spans AS (SELECT cbr_id, max(rate_date) AS last_rate FROM rates GROUP BY cbr_id),
latest AS (SELECT max(last_rate) AS last_published FROM spans),
as_of AS (  -- each currency ID's latest publication on or before the day
    SELECT cbr_id, max(rate_date) AS rate_date,
           arg_max_null(char_code, rate_date) AS char_code,
           arg_max_null(nominal, rate_date) AS nominal,
           arg_max_null(value, rate_date) AS value,
           arg_max_null(unit_rate, rate_date) AS unit_rate
    FROM rates WHERE rate_date <= CAST(d AS DATE) GROUP BY cbr_id
),
in_force AS (  -- superseded only after the day, set on the day itself, or the latest rate
    SELECT a.* FROM as_of a JOIN spans s USING (cbr_id), latest l  -- of a currency still quoted
    WHERE a.rate_date < s.last_rate OR a.rate_date = CAST(d AS DATE)
       OR a.rate_date >= l.last_published - {ACTIVE_WITHIN_DAYS}
),
quoted AS (
    SELECT s.country, i.rate_date, i.char_code, sc.name_en AS currency, i.nominal, i.value,
           i.unit_rate
    FROM in_force i
    JOIN sco_currencies sc USING (cbr_id)
    JOIN sco_countries s
      ON s.country = sc.country
     AND CAST(d AS DATE) BETWEEN s.valid_from AND coalesce(s.valid_to, DATE '9999-12-31')
    QUALIFY row_number() OVER (PARTITION BY s.country ORDER BY i.rate_date DESC, i.cbr_id DESC) = 1
)
SELECT CAST(d AS DATE) AS as_of_date, b.rate_date, s.country, s.status,
       coalesce(b.char_code, s.char_code) AS char_code, b.currency, b.nominal, b.value,
       b.unit_rate
FROM sco_countries s
LEFT JOIN quoted b ON b.country = s.country
WHERE CAST(d AS DATE) BETWEEN s.valid_from AND coalesce(s.valid_to, DATE '9999-12-31')
  AND s.char_code <> 'RUB'
ORDER BY list_position(['member', 'observer', 'dialogue_partner', 'partner'], s.status),
         s.country
"""

UNIT_RATES_DAILY = f"""
CREATE OR REPLACE VIEW unit_rates_daily AS
SELECT as_of_date, char_code, unit_rate FROM rates_daily
QUALIFY row_number() OVER (
    PARTITION BY as_of_date, char_code ORDER BY rate_date DESC, cbr_id DESC) = 1
UNION ALL
SELECT DISTINCT as_of_date,
       CASE WHEN as_of_date < {REDENOMINATION} THEN 'RUR' ELSE 'RUB' END,
       CAST(1 AS DECIMAL(38, 12))
FROM rates_daily
"""

CROSS_RATES = """
CREATE OR REPLACE VIEW cross_rates AS
SELECT b.as_of_date, b.char_code AS base_code, q.char_code AS quote_code,
       -- units of the quote currency per one unit of the base, through the ruble
       CAST(b.unit_rate AS DOUBLE) / CAST(q.unit_rate AS DOUBLE) AS rate
FROM unit_rates_daily b JOIN unit_rates_daily q USING (as_of_date)
WHERE b.char_code <> q.char_code
"""

CROSS_RATE_MACRO = f"""
CREATE OR REPLACE MACRO cross_rate(base, quote) AS TABLE
-- cross_rates for one pair, computed from the two currencies' publications only.
WITH latest AS (SELECT max(rate_date) AS last_published FROM rates),
wanted AS (SELECT DISTINCT cbr_id FROM rates WHERE char_code IN (upper(base), upper(quote))),
periods AS (
    SELECT r.rate_date, r.cbr_id, r.char_code, r.unit_rate,
           in_force_until(r.rate_date,
                          lead(r.rate_date) OVER (PARTITION BY r.cbr_id ORDER BY r.rate_date),
                          l.last_published) AS until
    FROM rates r, latest l
    WHERE r.cbr_id IN (SELECT cbr_id FROM wanted)
),
daily AS (
    SELECT CAST(unnest(generate_series(rate_date, until, INTERVAL 1 DAY)) AS DATE) AS as_of_date,
           rate_date, cbr_id, char_code, unit_rate
    FROM periods
),
unit AS (
    SELECT as_of_date, char_code, unit_rate FROM daily
    QUALIFY row_number() OVER (
        PARTITION BY as_of_date, char_code ORDER BY rate_date DESC, cbr_id DESC) = 1
    UNION ALL
    -- the ruble, on the days the other currency has a rate (as unit_rates_daily has it)
    SELECT DISTINCT as_of_date,
           CASE WHEN as_of_date < {REDENOMINATION} THEN 'RUR' ELSE 'RUB' END,
           CAST(1 AS DECIMAL(38, 12))
    FROM daily
)
SELECT b.as_of_date, b.char_code AS base_code, q.char_code AS quote_code,
       CAST(b.unit_rate AS DOUBLE) / CAST(q.unit_rate AS DOUBLE) AS rate
FROM unit b JOIN unit q USING (as_of_date)
WHERE b.char_code = upper(base) AND q.char_code = upper(quote) AND b.char_code <> q.char_code
ORDER BY as_of_date
"""

NEWS_FEED = """
CREATE OR REPLACE VIEW news_feed AS
-- The seed page's headline list: newest first, Moscow wall-clock time, each story once.
-- `link` is the address as published (what to show and follow); `url`, the canonical one
-- (https, no www.), identifies the story.
SELECT strftime(timezone('Europe/Moscow', published_at), '%d.%m.%Y %H:%M') AS published_msk,
       title, link, url, source, language, published_at, published_at_source, item_id
FROM news
WHERE duplicate_of IS NULL
ORDER BY published_at DESC, item_id
"""

COUNTRY_NEWS = """
CREATE OR REPLACE VIEW country_news AS
-- News joined to the SCO countries it names (news_mentions), one row per story and country,
-- with the country's SCO status on the story's Moscow day; join rates on char_code.
SELECT m.country, s.status, k.char_code,
       CAST(timezone('Europe/Moscow', n.published_at) AS DATE) AS published_date,
       strftime(timezone('Europe/Moscow', n.published_at), '%d.%m.%Y %H:%M') AS published_msk,
       n.title, n.url, n.source, n.language, n.published_at, n.item_id,
       list(m.term ORDER BY m.term) AS terms
FROM news_mentions m
JOIN news n USING (item_id)
JOIN (SELECT DISTINCT country, char_code FROM sco_countries) k USING (country)
LEFT JOIN sco_countries s
  ON s.country = m.country
 AND CAST(timezone('Europe/Moscow', n.published_at) AS DATE)
     BETWEEN s.valid_from AND coalesce(s.valid_to, DATE '9999-12-31')
WHERE n.duplicate_of IS NULL
GROUP BY ALL
ORDER BY n.published_at DESC, m.country
"""

DERIVED_VIEWS = [
    IN_FORCE_UNTIL,
    RATE_PERIODS,
    RATES_DAILY,
    SCO_CURRENCIES,
    CURRENCY_BOARD,
    BOARD_MACRO,
    UNIT_RATES_DAILY,
    CROSS_RATES,
    CROSS_RATE_MACRO,
    NEWS_FEED,
    COUNTRY_NEWS,
]
