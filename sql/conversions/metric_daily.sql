-- marts.metric_daily with every amount in :currency, converted at its own day's ECB reference rate through the
-- euro: what a rollup reads in place of metric_daily when a currency is asked for (warehouse/serving.py
-- reads it as the rollup's metric_daily).
-- Grain and columns: metric_daily's. `value` is in :currency; `currency` stays the currency the amount was
-- reported in, so the rollups can say what they converted from. Counts (null currency) pass unchanged.
-- A day's rate is the one sql/marts/fx_rates.sql says applies to it (the last published on or before it). An
-- amount of a day without a rate for its currency or for :currency gets a null value; sql/rollups/fx_gaps.sql
-- lists such days, and the routes refuse to convert them.
with metric_days as (
    select * from metric_daily
),

rates as (
    select * from fx_rates
),

target_rates as (
    select * from rates where currency = cast(:currency as varchar)
),

final as (
    select
        metric_days.company_id,
        metric_days.metric_key,
        metric_days.date,
        case
            when metric_days.currency is null then metric_days.value
            else metric_days.value / source_rates.rate_per_eur * target_rates.rate_per_eur
        end as value,
        metric_days.currency
    from metric_days
    left join rates as source_rates
        on metric_days.currency = source_rates.currency
        and metric_days.date >= source_rates.valid_from
        and metric_days.date < source_rates.valid_until
    left join target_rates
        on metric_days.date >= target_rates.valid_from
        and metric_days.date < target_rates.valid_until
)

select * from final
