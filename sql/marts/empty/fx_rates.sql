-- The columns and types of marts.fx_rates, with no rows: what the serving layer reads while no rates are
-- published, so a conversion finds no rate rather than failing.
select
    cast(null as varchar) as currency,
    cast(null as numeric(18, 6)) as rate_per_eur,
    cast(null as date) as valid_from,
    cast(null as date) as valid_until
where 1 = 0
