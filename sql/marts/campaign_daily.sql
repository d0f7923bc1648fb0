-- Daily delivery of every ad campaign of every platform, with the campaign's metadata.
-- Grain: one row per company, platform, ad account, campaign and account-local day.
-- Unique key: (company_id, platform, account_id, campaign_id, date).
-- Amounts are in the account's currency, major units; reach is null where the platform has none.
-- :company_id selects the one company a client's refresh writes; null builds every company.
with meta_ads as (
    select * from staging.stg_meta_ads__campaign_daily
),

google_ads as (
    select * from staging.stg_google_ads__campaign_daily
),

tiktok_ads as (
    select * from staging.stg_tiktok_ads__campaign_daily
),

meta_ads_campaigns as (
    select * from staging.stg_meta_ads__campaigns
),

google_ads_campaigns as (
    select * from staging.stg_google_ads__campaigns
),

tiktok_ads_campaigns as (
    select * from staging.stg_tiktok_ads__campaigns
),

campaign_days as (
    select * from (
        select * from meta_ads
        union all
        select * from google_ads
        union all
        select * from tiktok_ads
    ) as days
    where :company_id is null or company_id = :company_id
),

campaigns as (
    select * from (
        select * from meta_ads_campaigns
        union all
        select * from google_ads_campaigns
        union all
        select * from tiktok_ads_campaigns
    ) as campaigns
    where :company_id is null or company_id = :company_id
),

final as (
    select
        campaign_days.company_id,
        campaign_days.platform,
        campaign_days.account_id,
        campaign_days.campaign_id,
        campaign_days.date,
        coalesce(campaigns.name, campaign_days.campaign_name) as campaign_name,
        campaigns.status as campaign_status,
        campaigns.objective as campaign_objective,
        campaigns.daily_budget,
        campaigns.lifetime_budget,
        campaign_days.spend,
        campaign_days.impressions,
        campaign_days.clicks,
        campaign_days.conversions,
        campaign_days.conversion_value,
        campaign_days.reach,
        campaign_days.currency,
        campaign_days.account_timezone
    from campaign_days
    left join campaigns
        on campaign_days.company_id = campaigns.company_id
        and campaign_days.platform = campaigns.platform
        and campaign_days.account_id = campaigns.account_id
        and campaign_days.campaign_id = campaigns.campaign_id
)

select * from final
