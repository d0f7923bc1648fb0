-- The columns and types of marts.campaign_daily, with no rows: what the serving layer reads for a company
-- that has nothing published yet, so the rollups run unchanged and answer with nothing.
select
    cast(null as varchar) as company_id,
    cast(null as varchar) as platform,
    cast(null as varchar) as account_id,
    cast(null as varchar) as campaign_id,
    cast(null as date) as date,
    cast(null as varchar) as campaign_name,
    cast(null as varchar) as campaign_status,
    cast(null as varchar) as campaign_objective,
    cast(null as numeric(18, 6)) as daily_budget,
    cast(null as numeric(18, 6)) as lifetime_budget,
    cast(null as numeric(18, 6)) as spend,
    cast(null as bigint) as impressions,
    cast(null as bigint) as clicks,
    cast(null as numeric(18, 6)) as conversions,
    cast(null as numeric(18, 6)) as conversion_value,
    cast(null as bigint) as reach,
    cast(null as varchar) as currency,
    cast(null as varchar) as account_timezone
where 1 = 0
