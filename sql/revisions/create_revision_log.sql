-- The revision log: every change a re-pull made to a day's numbers, kept as loads find them and published with
-- each company's marts. Grain: one row per company, platform, campaign, local day, metric and load (seen_at).
create table if not exists marts.revision_log (
    company_id varchar not null,
    platform varchar not null,
    campaign_id varchar not null,
    date date not null,
    metric_key varchar not null,
    previous_value numeric(18, 6) not null,
    new_value numeric(18, 6) not null,
    change numeric(18, 6) not null,
    currency varchar,
    seen_at timestamp not null
)
