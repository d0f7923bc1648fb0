-- TikTok Ads campaign metadata in our units.
-- Grain: one row per company, advertiser and campaign.
-- Unique key: (company_id, platform, account_id, campaign_id).
-- TikTok's budget is a number in major units whose meaning budget_mode gives: per day (BUDGET_MODE_DAY),
-- a total (BUDGET_MODE_TOTAL) or none (BUDGET_MODE_INFINITE).
with campaigns as (
    select * from raw_tiktok_ads.campaigns
),

final as (
    select
        company_id,
        cast('tiktok_ads' as varchar) as platform,
        account_id,
        campaign_id,
        campaign_name as name,
        operation_status as status,
        objective_type as objective,
        cast(case when budget_mode = 'BUDGET_MODE_DAY' then budget end as numeric(18, 6)) as daily_budget,
        cast(case when budget_mode = 'BUDGET_MODE_TOTAL' then budget end as numeric(18, 6)) as lifetime_budget,
        currency
    from campaigns
)

select * from final
