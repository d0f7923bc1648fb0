-- marts.campaign_daily with every amount (spend, conversion value, budgets) in :currency, converted at its own
-- day's ECB reference rate through the euro: what a rollup reads in place of campaign_daily when a currency is
-- asked for (warehouse/serving.py reads it as the rollup's campaign_daily).
-- Grain and columns: campaign_daily's. Amounts are in :currency; `currency` stays the account's currency, so
-- the rollups can say what they converted from. Counts pass unchanged.
-- A day's rate is the one sql/marts/fx_rates.sql says applies to it (the last published on or before it); a day
-- without a rate for the account's currency or for :currency gets null amounts (sql/rollups/fx_gaps.sql).
with campaign_days as (
    select * from campaign_daily
),

rates as (
    select * from fx_rates
),

target_rates as (
    select * from rates where currency = cast(:currency as varchar)
),

factors as (
    select
        campaign_days.*,
        target_rates.rate_per_eur / source_rates.rate_per_eur as factor
    from campaign_days
    left join rates as source_rates
        on campaign_days.currency = source_rates.currency
        and campaign_days.date >= source_rates.valid_from
        and campaign_days.date < source_rates.valid_until
    left join target_rates
        on campaign_days.date >= target_rates.valid_from
        and campaign_days.date < target_rates.valid_until
),

final as (
    select
        company_id,
        platform,
        account_id,
        campaign_id,
        date,
        campaign_name,
        campaign_status,
        campaign_objective,
        daily_budget * factor as daily_budget,
        lifetime_budget * factor as lifetime_budget,
        spend * factor as spend,
        impressions,
        clicks,
        conversions,
        conversion_value * factor as conversion_value,
        reach,
        currency,
        account_timezone
    from factors
)

select * from final
