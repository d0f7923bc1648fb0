-- Google Ads campaign metadata in our units.
-- Grain: one row per company, customer and campaign.
-- Unique key: (company_id, platform, account_id, campaign_id).
-- The campaign budget is in micros: per day when its period is DAILY, a total for CUSTOM_PERIOD.
-- The objective is the advertising channel type (SEARCH, PERFORMANCE_MAX, ...).
with campaigns as (
    select * from raw_google_ads.campaigns
),

final as (
    select
        company_id,
        cast('google_ads' as varchar) as platform,
        account_id,
        campaign_id,
        campaign_name as name,
        campaign_status as status,
        campaign_advertising_channel_type as objective,
        cast(
            case when campaign_budget_period = 'DAILY' then cast(campaign_budget_amount_micros as numeric(18, 0)) end
            * 0.000001 as numeric(18, 6)
        ) as daily_budget,
        cast(
            case
                when campaign_budget_period = 'CUSTOM_PERIOD'
                    then cast(campaign_budget_total_amount_micros as numeric(18, 0))
            end
            * 0.000001 as numeric(18, 6)
        ) as lifetime_budget,
        currency
    from campaigns
)

select * from final
