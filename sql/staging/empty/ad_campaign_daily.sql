-- The columns and types of every stg_<ad platform>__campaign_daily model, with no rows: stands in for the
-- staging model of a platform whose raw table has not been loaded yet.
select
    cast(null as varchar) as company_id,
    cast(null as varchar) as platform,
    cast(null as varchar) as account_id,
    cast(null as varchar) as campaign_id,
    cast(null as date) as date,
    cast(null as varchar) as campaign_name,
    cast(null as numeric(18, 6)) as spend,
    cast(null as bigint) as impressions,
    cast(null as bigint) as clicks,
    cast(null as numeric(18, 6)) as conversions,
    cast(null as numeric(18, 6)) as conversion_value,
    cast(null as bigint) as reach,
    cast(null as varchar) as currency,
    cast(null as varchar) as account_timezone
where 1 = 0
