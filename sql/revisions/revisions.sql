-- The revisions one load made: what it replaced against what it wrote, for the days the warehouse already held.
-- Parameters: :snapshot_id (one load's captures in revisions.day_values), :seen_at (when the load ran, UTC).
-- Grain: one row per campaign, day and metric whose value changed. Unique key: (snapshot_id's company,
-- platform, campaign_id, date, metric_key, seen_at).
-- Only days that had rows before the load count: a first load (or a new day) revises nothing. A campaign-day
-- the platform no longer returns was restated to nothing: its new value is 0. A re-pull that changes nothing
-- gives no row.
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

reloaded_days as (
    select distinct date from replaced
),

pairs as (
    select
        coalesce(replaced.company_id, written.company_id) as company_id,
        coalesce(replaced.platform, written.platform) as platform,
        coalesce(replaced.campaign_id, written.campaign_id) as campaign_id,
        coalesce(replaced.date, written.date) as date,
        coalesce(replaced.metric_key, written.metric_key) as metric_key,
        coalesce(replaced.value, 0) as previous_value,
        coalesce(written.value, 0) as new_value,
        coalesce(written.currency, replaced.currency) as currency
    from replaced
    full outer join written
        on replaced.campaign_id = written.campaign_id
        and replaced.date = written.date
        and replaced.metric_key = written.metric_key
),

final as (
    select
        pairs.company_id,
        pairs.platform,
        pairs.campaign_id,
        pairs.date,
        pairs.metric_key,
        cast(pairs.previous_value as numeric(18, 6)) as previous_value,
        cast(pairs.new_value as numeric(18, 6)) as new_value,
        cast(pairs.new_value - pairs.previous_value as numeric(18, 6)) as change,
        pairs.currency,
        cast(:seen_at as timestamp) as seen_at
    from pairs
    inner join reloaded_days on pairs.date = reloaded_days.date
    where pairs.new_value <> pairs.previous_value
)

select * from final
