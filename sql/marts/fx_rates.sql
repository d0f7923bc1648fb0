-- Each currency's euro reference rate and the days it applies to: what a conversion of the results joins on.
-- Grain: one row per currency and ECB publication day, the euro included at 1. Unique key: (currency, valid_from).
-- A rate applies from its publication day up to, not including, the next publication day (valid_until), so the
-- last published rate carries over weekends and TARGET holidays; the latest publication's rates apply to every
-- later day (valid_until 9999-12-31) until the next one is loaded. A currency the ECB stops quoting has no rate
-- after its last publication day's span. Rates are units of the currency per euro: an amount converts from
-- currency a into b as amount / rate of a * rate of b.
-- Shared by every company: it has no company_id, and is rebuilt whole after each load of the rates.
with reference_rates as (
    select * from staging.stg_fx__reference_rates
),

publication_days as (
    select distinct date from reference_rates
),

spans as (
    select
        date,
        coalesce(lead(date) over (order by date), cast('9999-12-31' as date)) as valid_until
    from publication_days
),

quoted as (
    select date, currency, rate_per_eur from reference_rates where currency <> 'EUR'
    union all
    select date, 'EUR', cast(1 as numeric(18, 6)) from publication_days
),

final as (
    select
        cast(quoted.currency as varchar) as currency,
        cast(quoted.rate_per_eur as numeric(18, 6)) as rate_per_eur,
        quoted.date as valid_from,
        spans.valid_until
    from quoted
    inner join spans on quoted.date = spans.date
)

select * from final
