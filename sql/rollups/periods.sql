-- The calendar period that ends on :period_end and the prior period it is compared with.
-- Parameters: :period_type (week, month, quarter, year), :period_end (a date).
-- The period runs from the start of the calendar period containing :period_end (ISO weeks start on Monday) to
-- :period_end. The prior period starts one calendar period earlier and lasts the same number of days, clipped
-- to the day before the period starts: March 1-31 compares with February 1-28 (or 29).
-- period_days is the length of the whole calendar period, for pacing goals.
with params as (
    select
        cast(:period_type as varchar) as period_type,
        cast(:period_end as date) as period_end
),

steps as (
    select
        period_type,
        period_end,
        cast(date_trunc(period_type, cast(period_end as timestamp)) as date) as period_start,
        case period_type
            when 'week' then interval '7 days'
            when 'month' then interval '1 month'
            when 'quarter' then interval '3 months'
            when 'year' then interval '1 year'
        end as step
    from params
),

bounds as (
    select
        period_type,
        period_start,
        period_end,
        cast(cast(period_start as timestamp) - step as date) as prior_start,
        cast(cast(period_start as timestamp) + step as date) as next_start
    from steps
),

final as (
    select
        period_type,
        period_start,
        period_end,
        prior_start,
        least(prior_start + cast(period_end - period_start as integer), period_start - 1) as prior_end,
        cast(next_start - period_start as integer) as period_days
    from bounds
)

select * from final
