"""Portfolio, customer, site and asset pages, and the queries behind them."""
