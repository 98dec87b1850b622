"""Derived views and macros of the catalog, defined over the base table views.

Pre-1998 values are in pre-redenomination rubles (RUR, 1000 RUR = 1 RUB): `unit_rate` stays
as published; `unit_rate_rub` restates it in today's rubles so long series are continuous.
"""

REDENOMINATION = "DATE '1998-01-01'"
# A currency still quoted within this many days of the latest publication is carried forward
# to today; a retired one (BYR after June 2016) stops at its last rate.
ACTIVE_WITHIN_DAYS = 45

RATES_DAILY = f"""
CREATE OR REPLACE VIEW rates_daily AS
WITH latest AS (SELECT max(rate_date) AS last_published FROM rates),
spans AS (
    SELECT cbr_id, min(rate_date) AS first_date,
           CASE WHEN max(rate_date) >= any_value(l.last_published) - {ACTIVE_WITHIN_DAYS}
                THEN greatest(any_value(l.last_published), current_date)
                ELSE max(rate_date) END AS last_date
    FROM rates, latest l GROUP BY cbr_id
),
calendar AS (
    SELECT cbr_id,
           CAST(unnest(generate_series(first_date, last_date, INTERVAL 1 DAY)) AS DATE)
               AS as_of_date
    FROM spans
)
SELECT c.as_of_date, r.rate_date, r.cbr_id, r.char_code, r.num_code, r.nominal, r.value,
       r.unit_rate,
       CASE WHEN r.rate_date < {REDENOMINATION}
            THEN CAST(r.unit_rate / 1000 AS DECIMAL(38, 15))
            ELSE CAST(r.unit_rate AS DECIMAL(38, 15)) END AS unit_rate_rub,
       r.frequency,
       CAST(c.as_of_date - r.rate_date AS INTEGER) AS days_since_publication
FROM calendar c ASOF JOIN rates r ON c.cbr_id = r.cbr_id AND c.as_of_date >= r.rate_date
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

BOARD_MACRO = """
CREATE OR REPLACE MACRO board(d) AS TABLE
SELECT CAST(d AS DATE) AS as_of_date, b.rate_date, s.country, s.status,
       coalesce(b.char_code, s.char_code) AS char_code, b.currency, b.nominal, b.value,
       b.unit_rate
FROM sco_countries s
LEFT JOIN currency_board b ON b.country = s.country AND b.as_of_date = CAST(d AS DATE)
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

CROSS_RATE_MACRO = """
CREATE OR REPLACE MACRO cross_rate(base, quote) AS TABLE
SELECT as_of_date, base_code, quote_code, rate FROM cross_rates
WHERE base_code = upper(base) AND quote_code = upper(quote)
ORDER BY as_of_date
"""

DERIVED_VIEWS = [
    RATES_DAILY,
    SCO_CURRENCIES,
    CURRENCY_BOARD,
    BOARD_MACRO,
    UNIT_RATES_DAILY,
    CROSS_RATES,
    CROSS_RATE_MACRO,
]
