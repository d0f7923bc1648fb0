-- The days of one load that it left exactly as they were: held rows before it, and every campaign's every
-- additive number equal after it. A load records a new materialization of its other days only (first loaded,
-- restated, or emptied), so a morning's re-pull of a lookback window stores one event per day that changed,
-- not one per day it read.
-- Parameters: :snapshot_id (one load's captures in revisions.day_values).
-- Grain: one row per unchanged local day. Unique key: date.
with captured as (
    select * from revisions.day_values
    where snapshot_id = :snapshot_id
),

replaced as (
    select * from captured where phase = 'before'
),

written as (
    select * from captured where phase = 'after'
),

pairs as (
    select
        coalesce(replaced.date, written.date) as date,
        replaced.date is not null
        and written.date is not null
        and replaced.value = written.value
        and coalesce(replaced.currency, '') = coalesce(written.currency, '') as is_same
    from replaced
    full outer join written
        on replaced.campaign_id = written.campaign_id
        and replaced.date = written.date
        and replaced.metric_key = written.metric_key
),

final as (
    select date
    from pairs
    group by date
    having bool_and(is_same)
)

select * from final
order by date
