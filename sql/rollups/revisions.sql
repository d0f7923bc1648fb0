-- The revision log of one company: GET /results/revisions.
-- Parameters: :company_id, :since (seen on or after this UTC day; null for all), :platform (null for all).
-- Grain: one row per revised campaign, day and metric per load that revised it, newest first.
-- Shopify's days have no campaign: campaign_id is null there.
with revisions as (
    select
        platform,
        nullif(campaign_id, '') as campaign_id,
        date,
        metric_key,
        cast(previous_value as double precision) as previous_value,
        cast(new_value as double precision) as new_value,
        cast(change as double precision) as change,
        currency,
        seen_at
    from revision_log
    where
        company_id = :company_id
        and (cast(:platform as varchar) is null or platform = cast(:platform as varchar))
        and (cast(:since as date) is null or seen_at >= cast(:since as timestamp))
)

select * from revisions
order by seen_at desc, date desc, platform, campaign_id, metric_key
