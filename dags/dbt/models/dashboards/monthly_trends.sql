-- Income, spending and what was left per month and currency, with the
-- averages and changes a trend dashboard plots.  Computed from the
-- transactions, not copied from the marts: the singular test
-- savings_rate_matches_monthly_summary checks the two implementations agree.
-- Windows are ranges of calendar months, so a month without data is a gap,
-- never a shifted row.
with monthly as (
    select
        month,
        any_value(month_start) as month_start,
        currency,
        cast(sum(case when kind = 'income' then amount else 0 end) as decimal(14, 2)) as income,
        cast(sum(case when kind = 'spend' then -amount else 0 end) as decimal(14, 2)) as spend,
        count(*) as transactions
    from {{ ref('stg_transactions') }}
    group by month, currency
)

select
    m.month,
    m.month_start,
    m.currency,
    m.income,
    m.spend,
    cast(m.income - m.spend as decimal(14, 2)) as net,
    m.transactions,
    cast(avg(m.income) over last_3 as decimal(14, 2)) as income_3m_avg,
    cast(avg(m.spend) over last_3 as decimal(14, 2)) as spend_3m_avg,
    cast(round(100 * (m.spend - prev.spend) / nullif(prev.spend, 0), 1) as double) as spend_vs_prev_month_pct,
    cast(round(100 * (m.spend - year_ago.spend) / nullif(year_ago.spend, 0), 1) as double) as spend_vs_year_ago_pct
from monthly as m
left join monthly as prev
    on prev.currency = m.currency and prev.month_start = cast(m.month_start - interval 1 month as date)
left join monthly as year_ago
    on year_ago.currency = m.currency and year_ago.month_start = cast(m.month_start - interval 12 month as date)
window last_3 as (
    partition by m.currency order by m.month_start
    range between interval 2 month preceding and current row
)
order by m.currency, m.month
