-- How much of the income was kept, per month and currency: the month's rate,
-- the trailing 12-month rate (sums over the window, not an average of
-- rates), the running total saved and a band for colouring.  The rate is
-- NULL for a month without income.
with rates as (
    select
        month,
        month_start,
        currency,
        income,
        spend,
        net as saved,
        cast(round(100 * net / nullif(income, 0), 1) as double) as savings_rate_pct,
        cast(round(100 * sum(net) over last_12 / nullif(sum(income) over last_12, 0), 1) as double)
            as savings_rate_12m_pct,
        count(*) over last_12 as months_in_12m,
        cast(sum(net) over (partition by currency order by month_start rows unbounded preceding) as decimal(14, 2))
            as cumulative_saved
    from {{ ref('monthly_trends') }}
    window last_12 as (
        partition by currency order by month_start
        range between interval 11 month preceding and current row
    )
)

select
    *,
    case
        when savings_rate_pct is null then 'no_income'
        when savings_rate_pct < 0 then 'negative'
        when savings_rate_pct < 10 then 'low'
        when savings_rate_pct < 20 then 'moderate'
        else 'high'
    end as savings_band
from rates
order by currency, month
