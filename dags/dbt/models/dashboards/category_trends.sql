-- Spending per category, month and currency on a full grid: every spending
-- category of the currency in every month the currency has data, 0 where
-- nothing was spent, so trend lines have no holes.  Adds the category's
-- share of the month, its 3-month average, how the month compares with the
-- category's previous 12 months, and its rank in the month.
with spend as (
    select
        month,
        currency,
        category,
        cast(sum(-amount) as decimal(14, 2)) as spend,
        count(*) as transactions
    from {{ ref('stg_transactions') }}
    where kind = 'spend'
    group by month, currency, category
),

months as (
    select distinct month, month_start, currency from {{ ref('stg_transactions') }}
),

categories as (
    select distinct currency, category from spend
),

grid as (
    select
        m.month,
        m.month_start,
        m.currency,
        c.category,
        coalesce(s.spend, 0) as spend,
        coalesce(s.transactions, 0) as transactions
    from months as m
    inner join categories as c on c.currency = m.currency
    left join spend as s on s.month = m.month and s.currency = m.currency and s.category = c.category
)

select
    month,
    month_start,
    currency,
    category,
    cast(spend as decimal(14, 2)) as spend,
    transactions,
    cast(round(100 * spend / nullif(sum(spend) over (partition by currency, month), 0), 1) as double)
        as share_of_month_pct,
    cast(avg(spend) over last_3 as decimal(14, 2)) as spend_3m_avg,
    cast(avg(spend) over prev_12 as decimal(14, 2)) as spend_prev_12m_avg,
    cast(round(100 * (spend - avg(spend) over prev_12) / nullif(avg(spend) over prev_12, 0), 1) as double)
        as spend_vs_prev_12m_pct,
    row_number() over (partition by currency, month order by spend desc, category) as rank_in_month
from grid
window
    last_3 as (
        partition by currency, category order by month_start
        range between interval 2 month preceding and current row
    ),
    prev_12 as (
        partition by currency, category order by month_start
        range between interval 12 month preceding and interval 1 month preceding
    )
order by currency, month, rank_in_month
