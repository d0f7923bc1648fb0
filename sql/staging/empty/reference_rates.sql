-- The columns and types of stg_fx__reference_rates, with no rows: stands in until the ECB's rates are loaded.
select
    cast(null as date) as date,
    cast(null as varchar) as currency,
    cast(null as numeric(18, 6)) as rate_per_eur
where 1 = 0
