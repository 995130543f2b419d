-- Spend transactions far above what their category usually costs.  Amounts
-- are compared on a log scale (a EUR 900 flight and a EUR 9 coffee are both
-- ordinary; spending is right-skewed, and on a linear scale every large
-- purchase would be "unusual"): the score is the modified z-score of
-- ln(amount), (ln(amount) - median) / (1.4826 x median absolute
-- deviation), robust to the outliers it looks for.  The scale is at least
-- 0.1 (about 10 %), so in a category whose amounts are all alike (rent) a
-- cent's difference is not flagged but a rent half as high again is.
-- Medians are over the whole period of the currency's data; thresholds are
-- vars (dbt_project.yml): unusual_min_score, unusual_min_history.
with spend as (
    select
        txn_id,
        txn_date,
        month,
        account_id,
        account_name,
        merchant,
        category,
        currency,
        -amount as spend,
        ln(cast(-amount as double)) as log_spend
    from {{ ref('stg_transactions') }}
    where kind = 'spend' and amount < 0
),

stats as (
    select
        currency,
        category,
        count(*) as category_transactions,
        median(spend) as category_median,
        median(log_spend) as log_median,
        greatest(1.4826 * mad(log_spend), 0.1) as log_scale
    from spend
    group by currency, category
),

scored as (
    select
        s.*,
        st.category_transactions,
        st.category_median,
        (s.log_spend - st.log_median) / st.log_scale as score
    from spend as s
    inner join stats as st on st.currency = s.currency and st.category = s.category
    where st.category_transactions >= {{ var('unusual_min_history') }}
)

select
    txn_id,
    txn_date,
    month,
    account_id,
    account_name,
    merchant,
    category,
    currency,
    cast(spend as decimal(14, 2)) as spend,
    cast(category_median as decimal(14, 2)) as category_median,
    category_transactions,
    round(score, 1) as score,
    case when score >= 2 * {{ var('unusual_min_score') }} then 'extreme' else 'high' end as severity
from scored
where score >= {{ var('unusual_min_score') }}
order by currency, txn_date, txn_id
