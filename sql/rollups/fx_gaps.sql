-- The days of one company's amounts that cannot be converted into :currency: no reference rate that day for the
-- amount's currency or for :currency (days before the first rate loaded, or a currency the ECB does not quote).
-- Parameters: :company_id, :currency, :period_start, :period_end, :prior_start, :prior_end.
-- Read through sql/conversions/metric_daily.sql (a currency is asked for), where such an amount has a null value.
-- Grain: one row per currency of the company's amounts with such days, with the first and last of them and how
-- many; no row when every amount of the period and its prior period converts.
with amounts as (
    select
        currency,
        date,
        value
    from metric_daily
    where
        company_id = :company_id
        and currency is not null
        and (date between :period_start and :period_end or date between :prior_start and :prior_end)
),

final as (
    select
        currency,
        min(date) as first_day,
        max(date) as last_day,
        count(distinct date) as days
    from amounts
    where value is null
    group by currency
)

select * from final
order by currency
