-- The columns and types of every stg_<ad platform>__campaigns model, with no rows: stands in for the staging
-- model of a platform whose raw table has not been loaded yet.
select
    cast(null as varchar) as company_id,
    cast(null as varchar) as platform,
    cast(null as varchar) as account_id,
    cast(null as varchar) as campaign_id,
    cast(null as varchar) as name,
    cast(null as varchar) as status,
    cast(null as varchar) as objective,
    cast(null as numeric(18, 6)) as daily_budget,
    cast(null as numeric(18, 6)) as lifetime_budget,
    cast(null as varchar) as currency
where 1 = 0
