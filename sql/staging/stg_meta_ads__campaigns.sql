-- Meta Ads campaign metadata in our units.
-- Grain: one row per company, ad account and campaign.
-- Unique key: (company_id, platform, account_id, campaign_id).
-- Budgets arrive as strings in the currency's minor units ("5000" is 50.00 USD); currencies without minor
-- units (JPY, KRW, ...) are counted in whole units. Null when the budget lives on the ad sets.
with campaigns as (
    select * from raw_meta_ads.campaigns
),

minor_unit as (
    select
        *,
        case
            when currency in ('CLP', 'COP', 'CRC', 'HUF', 'ISK', 'IDR', 'JPY', 'KRW', 'PYG', 'TWD', 'VND') then 1
            else 0.01
        end as major_per_minor
    from campaigns
),

final as (
    select
        company_id,
        cast('meta_ads' as varchar) as platform,
        account_id,
        campaign_id,
        name,
        status,
        objective,
        cast(cast(daily_budget as numeric(18, 0)) * major_per_minor as numeric(18, 6)) as daily_budget,
        cast(cast(lifetime_budget as numeric(18, 0)) * major_per_minor as numeric(18, 6)) as lifetime_budget,
        currency
    from minor_unit
)

select * from final
